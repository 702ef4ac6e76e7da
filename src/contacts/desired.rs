//! The desired set: the union of many ContactLists, deduplicated by canonical phone.
//!
//! **Conflict rule.** When several entries give the same phone, the entry of the list whose
//! name sorts first (byte order) wins; within one list, the first entry wins. Entries that give
//! the same phone *different content* are reported as conflicts (count and a bounded sample);
//! same-content repeats are merged silently across lists and counted as `duplicates` within a
//! list. The rule depends only on list names and positions inside a list, so the result — and
//! its digest — is the same whatever order the lists arrive in.
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::csv::CsvData;
use super::parsed_list::ParsedList;
use super::{ContentDigest, NormalizedContact, Phone};
use crate::api::{Contact, InvalidEntry};

/// Most invalid entries kept per list (the ContactList status schema allows 20).
pub const INVALID_SAMPLE: usize = 20;
/// Most conflicts kept as a sample.
pub const CONFLICT_SAMPLE: usize = 20;

/// The contacts of one ContactList.
#[derive(Clone, Copy, Debug)]
pub enum ListContacts<'a> {
    /// `spec.contacts`; the index of an entry is its position.
    Inline(&'a [Contact]),
    /// A parsed CSV source; the index of an entry is its line.
    Csv(&'a CsvData),
}

/// One ContactList as the desired-set builder sees it.
#[derive(Clone, Copy, Debug)]
pub struct ListInput<'a> {
    /// The ContactList's name: decides conflicts.
    pub name: &'a str,
    /// `spec.defaultRegion`.
    pub default_region: Option<&'a str>,
    /// Its contacts.
    pub contacts: ListContacts<'a>,
}

/// Per-list figures for ContactList status.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ListStats {
    /// List name.
    pub name: String,
    /// Valid contacts with a phone not seen earlier in this list.
    pub count: u64,
    /// Entries that are not valid phone numbers (or unreadable CSV rows).
    pub invalid: u64,
    /// Up to [`INVALID_SAMPLE`] invalid entries, phones masked.
    pub invalid_sample: Vec<InvalidEntry>,
    /// Valid entries whose phone appears earlier in this list.
    pub duplicates: u64,
    /// Digest of this list's valid contacts, independent of their order.
    pub digest: String,
}

/// Two entries gave one phone different content; `winner`'s content is used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conflict {
    /// The phone (Display is masked).
    pub phone: Phone,
    /// List whose entry wins.
    pub winner: String,
    /// List whose entry loses (may equal `winner` for a repeat inside one list).
    pub loser: String,
}

/// What the planner needs of a desired contact: 16 bytes.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct DesiredKey {
    /// Canonical phone.
    pub phone: Phone,
    /// Content digest.
    pub digest: ContentDigest,
}

/// The deduplicated desired contacts, sorted by phone. Contents stay in the parsed lists the
/// set was merged from (shared, not copied): the set itself holds 24 bytes a contact.
#[derive(Clone, Debug, Default)]
pub struct DesiredSet {
    keys: Vec<DesiredKey>,
    /// The parsed lists, sorted by name.
    parts: Vec<Arc<ParsedList>>,
    /// Per key: the index into `parts` of the list it came from, and its index in that list's
    /// keys.
    at: Vec<(u32, u32)>,
    /// Per-list stats, sorted by list name.
    pub lists: Vec<ListStats>,
    /// Number of conflicts.
    pub conflict_count: u64,
    /// Up to [`CONFLICT_SAMPLE`] conflicts, first by phone.
    pub conflicts: Vec<Conflict>,
    /// Digest of the whole set (phones and contents), independent of list order.
    pub digest: String,
}

impl DesiredSet {
    /// Builds the desired set from lists in any order: each list parsed
    /// ([`ParsedList::build`]), then merged.
    pub fn build(inputs: &[ListInput<'_>]) -> DesiredSet {
        let parts: Vec<Arc<ParsedList>> = inputs
            .iter()
            .map(|input| Arc::new(ParsedList::build(input)))
            .collect();
        Self::merge(parts)
    }

    /// Merges parsed lists, in any order, into the desired set: the same set, digest, stats and
    /// conflicts as parsing them together. Lists are taken in name order (a stable sort, so
    /// equal names keep the order given); for each phone, the first list holding it wins.
    pub fn merge(mut parts: Vec<Arc<ParsedList>>) -> DesiredSet {
        parts.sort_by(|a, b| a.name().cmp(b.name()));
        let total: usize = parts.iter().map(|p| p.keys().len()).sum();
        let mut out = DesiredSet {
            keys: Vec::with_capacity(total),
            at: Vec::with_capacity(total),
            lists: parts.iter().map(|p| p.stats.clone()).collect(),
            ..DesiredSet::default()
        };
        let mut set_hash = Sha256::new();
        // A k-way merge by (phone, list index): the heap pops each phone's lists in name order.
        let mut next_key = vec![0usize; parts.len()];
        let mut next_repeat = vec![0usize; parts.len()];
        let mut heap: BinaryHeap<Reverse<(u64, u32)>> = parts
            .iter()
            .enumerate()
            .filter_map(|(li, p)| Some(Reverse((p.keys().first()?.phone.as_u64(), li as u32))))
            .collect();
        while let Some(Reverse((phone, winner_list))) = heap.pop() {
            let winner = parts[winner_list as usize].keys()[next_key[winner_list as usize]];
            out.keys.push(winner);
            out.at
                .push((winner_list, next_key[winner_list as usize] as u32));
            feed(&mut set_hash, winner.phone, winner.digest);
            let mut list = winner_list;
            loop {
                // Every entry of this list for the phone, in list order: its first, then its
                // repeats. One whose content differs from the winner's is a conflict.
                let part = &parts[list as usize];
                let li = list as usize;
                let first = part.keys()[next_key[li]];
                out.note_conflict(first.digest, winner, &parts, winner_list, list);
                while let Some(r) = part.repeats().get(next_repeat[li])
                    && r.phone.as_u64() == phone
                {
                    out.note_conflict(r.digest, winner, &parts, winner_list, list);
                    next_repeat[li] += 1;
                }
                next_key[li] += 1;
                if let Some(k) = part.keys().get(next_key[li]) {
                    heap.push(Reverse((k.phone.as_u64(), list)));
                }
                match heap.peek() {
                    Some(Reverse((p, l))) if *p == phone => {
                        list = *l;
                        heap.pop();
                    }
                    _ => break,
                }
            }
        }
        out.digest = hex::encode(&set_hash.finalize()[..16]);
        out.parts = parts;
        out
    }

    /// Counts an entry of `loser` for `winner`'s phone as a conflict when its content differs.
    fn note_conflict(
        &mut self,
        digest: ContentDigest,
        winner: DesiredKey,
        parts: &[Arc<ParsedList>],
        winner_list: u32,
        loser: u32,
    ) {
        if digest == winner.digest {
            return;
        }
        self.conflict_count += 1;
        if self.conflicts.len() < CONFLICT_SAMPLE {
            self.conflicts.push(Conflict {
                phone: winner.phone,
                winner: parts[winner_list as usize].name().to_string(),
                loser: parts[loser as usize].name().to_string(),
            });
        }
    }

    /// Planner input: phones and content digests, sorted by phone.
    pub fn keys(&self) -> &[DesiredKey] {
        &self.keys
    }

    /// The contact at `index` of [`DesiredSet::keys`], unpacked from its list.
    pub fn contact(&self, index: usize) -> Option<NormalizedContact> {
        let &(list, at) = self.at.get(index)?;
        self.parts.get(list as usize)?.contact(at as usize)
    }

    /// The contacts, in the order of [`DesiredSet::keys`], unpacked one at a time.
    pub fn contacts(&self) -> impl Iterator<Item = NormalizedContact> + '_ {
        self.at.iter().filter_map(|&(list, at)| {
            self.parts
                .get(list as usize)
                .and_then(|p| p.contact(at as usize))
        })
    }

    /// Number of desired contacts.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// True when no contact is desired.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The contact for `phone`, if desired.
    pub fn get(&self, phone: Phone) -> Option<NormalizedContact> {
        let i = self.keys.binary_search_by_key(&phone, |k| k.phone).ok()?;
        self.contact(i)
    }

    /// Name of the list the contact at `index` (of [`DesiredSet::keys`]) came from.
    pub fn source_list(&self, index: usize) -> Option<&str> {
        let (li, _) = *self.at.get(index)?;
        self.lists.get(li as usize).map(|l| l.name.as_str())
    }

    /// Total invalid entries over all lists.
    pub fn invalid_count(&self) -> u64 {
        self.lists.iter().map(|l| l.invalid).sum()
    }
}

pub(super) fn feed(h: &mut Sha256, phone: Phone, digest: ContentDigest) {
    h.update(phone.as_u64().to_le_bytes());
    h.update(digest.0.to_le_bytes());
}

pub(super) fn record_invalid(stats: &mut ListStats, index: u64, masked: String, reason: String) {
    stats.invalid += 1;
    if stats.invalid_sample.len() < INVALID_SAMPLE {
        stats.invalid_sample.push(InvalidEntry {
            index: i64::try_from(index).unwrap_or(i64::MAX),
            phone: masked,
            reason,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(phone: &str, name: &str) -> Contact {
        Contact {
            phone: phone.into(),
            name: Some(name.into()),
            company: None,
            email: None,
            variables: Default::default(),
            extra: None,
        }
    }

    #[test]
    fn dedupes_resolves_conflicts_and_ignores_order() {
        let a = vec![
            c("13012121211", "A"),
            c("+8613012121211", "A"),
            c("bogus", "x"),
        ];
        let b = vec![c("+8613012121211", "B"), c("+8613012121212", "B")];
        let la = ListInput {
            name: "a",
            default_region: Some("CN"),
            contacts: ListContacts::Inline(&a),
        };
        let lb = ListInput {
            name: "b",
            default_region: None,
            contacts: ListContacts::Inline(&b),
        };
        let s1 = DesiredSet::build(&[la, lb]);
        let s2 = DesiredSet::build(&[lb, la]);
        assert_eq!(s1.len(), 2);
        assert_eq!(s1.digest, s2.digest);
        assert_eq!(s1.conflict_count, 1);
        assert_eq!(s1.conflicts[0].winner, "a");
        let phone = Phone::parse("+8613012121211", None).expect("test input");
        assert_eq!(
            s1.get(phone).expect("test input").name.as_deref(),
            Some("A")
        );
        let stats_a = &s1.lists[0];
        assert_eq!(
            (stats_a.count, stats_a.duplicates, stats_a.invalid),
            (1, 1, 1)
        );
        assert_eq!(stats_a.invalid_sample[0].index, 2);
        assert_eq!(stats_a.invalid_sample[0].phone, "(no digits)");
        assert_eq!(s1.source_list(0), Some("a"));
    }
}

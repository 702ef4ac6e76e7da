//! The desired set: the union of many ContactLists, deduplicated by canonical phone.
//!
//! **Conflict rule.** When several entries give the same phone, the entry of the list whose
//! name sorts first (byte order) wins; within one list, the first entry wins. Entries that give
//! the same phone *different content* are reported as conflicts (count and a bounded sample);
//! same-content repeats are merged silently across lists and counted as `duplicates` within a
//! list. The rule depends only on list names and positions inside a list, so the result — and
//! its digest — is the same whatever order the lists arrive in.
use sha2::{Digest, Sha256};

use super::csv::CsvData;
use super::{ContentDigest, NormalizedContact, Phone, mask_phone};
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
#[derive(Clone, Debug, PartialEq, Eq)]
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
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DesiredKey {
    /// Canonical phone.
    pub phone: Phone,
    /// Content digest.
    pub digest: ContentDigest,
}

/// The deduplicated desired contacts, sorted by phone.
#[derive(Clone, Debug, Default)]
pub struct DesiredSet {
    keys: Vec<DesiredKey>,
    contacts: Vec<NormalizedContact>,
    /// Index into `lists` of the list each winning contact came from.
    sources: Vec<u32>,
    /// Per-list stats, sorted by list name.
    pub lists: Vec<ListStats>,
    /// Number of conflicts.
    pub conflict_count: u64,
    /// Up to [`CONFLICT_SAMPLE`] conflicts, first by phone.
    pub conflicts: Vec<Conflict>,
    /// Digest of the whole set (phones and contents), independent of list order.
    pub digest: String,
}

/// One valid entry during building.
struct Candidate {
    phone: u64,
    /// Push order: lists by name, entries by index, so lower = wins.
    seq: u32,
    list: u32,
}

impl DesiredSet {
    /// Builds the desired set from lists in any order.
    pub fn build(inputs: &[ListInput<'_>]) -> DesiredSet {
        let mut order: Vec<&ListInput<'_>> = inputs.iter().collect();
        order.sort_by(|a, b| a.name.cmp(b.name));
        let mut lists = Vec::with_capacity(order.len());
        // Reserve once: growing by doubling would briefly hold two copies of a million contacts.
        let total: usize = order
            .iter()
            .map(|l| match l.contacts {
                ListContacts::Inline(cs) => cs.len(),
                ListContacts::Csv(d) => d.rows.len(),
            })
            .sum();
        let mut cands = Vec::with_capacity(total);
        let mut contacts = Vec::with_capacity(total);
        for (li, input) in order.iter().enumerate() {
            let mut stats = ListStats {
                name: input.name.to_string(),
                count: 0,
                invalid: 0,
                invalid_sample: Vec::new(),
                duplicates: 0,
                digest: String::new(),
            };
            let mut push =
                |index: u64, c: &Contact| match Phone::parse(&c.phone, input.default_region) {
                    Ok(phone) => {
                        cands.push(Candidate {
                            phone: phone.as_u64(),
                            seq: u32::try_from(contacts.len()).unwrap_or(u32::MAX),
                            list: li as u32,
                        });
                        contacts.push(Some(NormalizedContact::new(phone, c)));
                    }
                    Err(e) => {
                        record_invalid(&mut stats, index, mask_phone(&c.phone), e.to_string())
                    }
                };
            match input.contacts {
                ListContacts::Inline(cs) => {
                    for (i, c) in cs.iter().enumerate() {
                        push(i as u64, c);
                    }
                }
                ListContacts::Csv(data) => {
                    for row in &data.rows {
                        push(row.line, &row.contact);
                    }
                    for err in &data.errors {
                        record_invalid(&mut stats, err.line, String::new(), err.reason());
                    }
                }
            }
            stats.invalid_sample.sort_by_key(|e| e.index);
            lists.push(stats);
        }
        // Sort by phone, then push order: the first of each run is the winner.
        cands.sort_unstable_by_key(|c| (c.phone, c.seq));
        Self::merge(cands, contacts, lists)
    }

    fn merge(
        cands: Vec<Candidate>,
        mut contacts: Vec<Option<NormalizedContact>>,
        mut lists: Vec<ListStats>,
    ) -> DesiredSet {
        let mut list_hash: Vec<Sha256> = lists.iter().map(|_| Sha256::new()).collect();
        let mut set_hash = Sha256::new();
        let mut out = DesiredSet::default();
        out.keys.reserve(cands.len());
        out.contacts.reserve(cands.len());
        out.sources.reserve(cands.len());
        let mut i = 0;
        while i < cands.len() {
            let first = &cands[i];
            let Some(winner) = contacts[first.seq as usize].take() else {
                i += 1;
                continue;
            };
            let mut j = i;
            let mut seen_lists: Vec<u32> = Vec::new();
            while j < cands.len() && cands[j].phone == first.phone {
                let c = &cands[j];
                let digest = contacts[c.seq as usize]
                    .as_ref()
                    .map_or(winner.digest, |n| n.digest);
                if seen_lists.contains(&c.list) {
                    lists[c.list as usize].duplicates += 1;
                } else {
                    seen_lists.push(c.list);
                    lists[c.list as usize].count += 1;
                    feed(&mut list_hash[c.list as usize], winner.phone, digest);
                }
                if digest != winner.digest {
                    out.conflict_count += 1;
                    if out.conflicts.len() < CONFLICT_SAMPLE {
                        out.conflicts.push(Conflict {
                            phone: winner.phone,
                            winner: lists[first.list as usize].name.clone(),
                            loser: lists[c.list as usize].name.clone(),
                        });
                    }
                }
                j += 1;
            }
            feed(&mut set_hash, winner.phone, winner.digest);
            out.keys.push(DesiredKey {
                phone: winner.phone,
                digest: winner.digest,
            });
            out.sources.push(first.list);
            out.contacts.push(winner);
            i = j;
        }
        for (stats, h) in lists.iter_mut().zip(list_hash) {
            stats.digest = hex::encode(&h.finalize()[..16]);
        }
        out.digest = hex::encode(&set_hash.finalize()[..16]);
        out.lists = lists;
        out
    }

    /// Planner input: phones and content digests, sorted by phone.
    pub fn keys(&self) -> &[DesiredKey] {
        &self.keys
    }

    /// The contacts, in the order of [`DesiredSet::keys`].
    pub fn contacts(&self) -> &[NormalizedContact] {
        &self.contacts
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
    pub fn get(&self, phone: Phone) -> Option<&NormalizedContact> {
        let i = self.keys.binary_search_by_key(&phone, |k| k.phone).ok()?;
        self.contacts.get(i)
    }

    /// Name of the list the contact at `index` (of [`DesiredSet::keys`]) came from.
    pub fn source_list(&self, index: usize) -> Option<&str> {
        let li = *self.sources.get(index)?;
        self.lists.get(li as usize).map(|l| l.name.as_str())
    }

    /// Total invalid entries over all lists.
    pub fn invalid_count(&self) -> u64 {
        self.lists.iter().map(|l| l.invalid).sum()
    }
}

fn feed(h: &mut Sha256, phone: Phone, digest: ContentDigest) {
    h.update(phone.as_u64().to_le_bytes());
    h.update(digest.0.to_le_bytes());
}

fn record_invalid(stats: &mut ListStats, index: u64, masked: String, reason: String) {
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

//! The desired set as it was built before per-list parsing: every list parsed in one pass,
//! one sort of all entries, one merge. Kept as the oracle that `tests` and the benchmarks
//! compare [`super::DesiredSet::build`] with (same keys, contents, digests, stats and
//! conflicts); nothing else calls it.
use sha2::{Digest, Sha256};

use super::desired::{
    CONFLICT_SAMPLE, Conflict, DesiredKey, INVALID_SAMPLE, ListContacts, ListInput, ListStats,
};
use super::{ContentDigest, NormalizedContact, Phone, mask_phone};
use crate::api::{Contact, InvalidEntry};

/// What the old builder returned: the fields of the desired set as it was, contacts owned.
#[derive(Clone, Debug, Default)]
pub struct ReferenceSet {
    /// Phones and content digests, sorted by phone.
    pub keys: Vec<DesiredKey>,
    /// The winning contacts, in the order of `keys`.
    pub contacts: Vec<NormalizedContact>,
    /// Index into `lists` of the list each winning contact came from.
    pub sources: Vec<u32>,
    /// Per-list stats, sorted by list name.
    pub lists: Vec<ListStats>,
    /// Number of conflicts.
    pub conflict_count: u64,
    /// Up to [`CONFLICT_SAMPLE`] conflicts, first by phone.
    pub conflicts: Vec<Conflict>,
    /// Digest of the whole set.
    pub digest: String,
}

/// One valid entry during building.
struct Candidate {
    phone: u64,
    /// Push order: lists by name, entries by index, so lower = wins.
    seq: u32,
    list: u32,
}

impl ReferenceSet {
    /// Builds the set from lists in any order, the old way.
    pub fn build(inputs: &[ListInput<'_>]) -> ReferenceSet {
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
            let mut push = |index: u64, c: &Contact| match Phone::parse_libphonenumber(
                &c.phone,
                input.default_region,
            ) {
                Ok(phone) => {
                    cands.push(Candidate {
                        phone: phone.as_u64(),
                        seq: u32::try_from(contacts.len()).unwrap_or(u32::MAX),
                        list: li as u32,
                    });
                    contacts.push(Some(NormalizedContact::new(phone, c)));
                }
                Err(e) => record_invalid(&mut stats, index, mask_phone(&c.phone), e.to_string()),
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
    ) -> ReferenceSet {
        let mut list_hash: Vec<Sha256> = lists.iter().map(|_| Sha256::new()).collect();
        let mut set_hash = Sha256::new();
        let mut out = ReferenceSet::default();
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

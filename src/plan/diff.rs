//! The diff: one merge pass over the sorted desired keys and the sorted remote contacts.
use std::collections::{btree_map, btree_set};
use std::iter::Peekable;

use super::radix::{self, Proj};
use super::{
    AddItem, AddReason, ContentAction, ContentChange, Identity, NotRemovable, NotRemovableReason,
    ObservedContact, PlanCounts, PlanPolicy, RemoveItem, RemoveReason,
};
use crate::api::ContentChangePolicy;
use crate::contacts::{ContentDigest, DesiredKey, Phone, RemoteId};
use crate::ledger::{EntryState, Ledger, LedgerEntry};

/// A removal and an add of the same phone that only make sense together.
pub(crate) struct Pair {
    pub remove: RemoveItem,
    pub add: AddItem,
    /// Set when the pair replaces changed content (reported as a content change).
    pub content_change: Option<Phone>,
}

/// Everything the diff found, before management policy and the guard.
pub(crate) struct Diff {
    pub adds: Vec<AddItem>,
    pub removes: Vec<RemoveItem>,
    pub pairs: Vec<Pair>,
    pub not_removable: Vec<NotRemovable>,
    pub content_ignored_or_blocked: Vec<ContentChange>,
    pub counts: PlanCounts,
}

/// One contact at the provider, from the listing (with its ledger entry) or from the ledger.
#[derive(Clone, Copy)]
struct Remote<'a> {
    phone: Phone,
    /// The listed contact (looked up only when its id is needed: few are).
    listed: Option<&'a ObservedContact>,
    entry: Option<&'a LedgerEntry>,
    removable: bool,
    digest: Option<ContentDigest>,
    /// In-flight state; only meaningful when the ledger is the record.
    state: EntryState,
}

impl Remote<'_> {
    /// The id to remove this contact by. The ledger's id is callsync's own (Callbot `orderID`,
    /// NXLink `contactId`); a provider that identifies contacts by phone never saw it, so only
    /// an id from its own listing (a suffixed copy's raw value) is passed on there. A foreign
    /// entry's ledger id was never the contact's id (the provider held the phone already), so
    /// it is never used.
    fn remote_id(&self, identity: Identity, task_uid: &str) -> Option<String> {
        match (self.observed_id(), identity) {
            (Some(id), _) => Some(id.to_string()),
            (None, Identity::RemoteId) => self
                .entry
                .filter(|e| !e.foreign)
                .map(|e| e.remote_id(task_uid).to_string()),
            (None, Identity::Phone) => None,
        }
    }

    /// A foreign ledger entry with no listed id: callsync does not know how to address it.
    fn foreign_unaddressed(&self) -> bool {
        self.observed_id().is_none() && self.entry.is_some_and(|e| e.foreign)
    }

    fn observed_id(&self) -> Option<&RemoteId> {
        self.listed.and_then(|o| o.remote_id.as_ref())
    }

    /// Order inside a run of one phone: the copy to keep comes first. Keep one that cannot be
    /// removed anyway, then callsync's own, then the smallest id — content, not input order.
    fn keep_order(&self) -> (bool, bool, Option<&RemoteId>, Option<ContentDigest>) {
        (
            self.removable,
            self.entry.is_none(),
            self.observed_id(),
            self.digest,
        )
    }
}

/// Yields remote contacts in phone order.
enum Stream<'a> {
    Listing {
        obs: &'a [ObservedContact],
        /// The listing projected and sorted by phone.
        sorted: Vec<Proj>,
        pos: usize,
        ledger: Peekable<btree_map::Values<'a, Phone, LedgerEntry>>,
    },
    /// The ledger's entries, and the console phones its last listing showed (contacts callsync
    /// did not put there: present, without an entry or an id).
    Ledger {
        entries: Peekable<btree_map::Values<'a, Phone, LedgerEntry>>,
        console: Peekable<btree_set::Iter<'a, Phone>>,
    },
}

impl<'a> Stream<'a> {
    fn new(observed: Option<&'a [ObservedContact]>, ledger: &'a Ledger) -> Self {
        match observed {
            None => Stream::Ledger {
                entries: ledger.iter().peekable(),
                console: ledger.console().iter().peekable(),
            },
            Some(obs) => {
                // One sequential pass copies what the merge needs; sorting the copy avoids a
                // cache miss a contact from reading the listing in phone order.
                let mut sorted: Vec<Proj> = obs
                    .iter()
                    .enumerate()
                    .map(|(i, o)| Proj {
                        phone: o.phone.as_u64(),
                        idx: i as u32,
                        removable: o.removable,
                        has_digest: o.content_digest.is_some(),
                    })
                    .collect();
                if !sorted.windows(2).all(|w| w[0].phone <= w[1].phone) {
                    radix::sort_by_phone(&mut sorted);
                }
                Stream::Listing {
                    obs,
                    sorted,
                    pos: 0,
                    ledger: ledger.iter().peekable(),
                }
            }
        }
    }
}

impl<'a> Iterator for Stream<'a> {
    type Item = Remote<'a>;

    fn next(&mut self) -> Option<Remote<'a>> {
        match self {
            Stream::Ledger { entries, console } => {
                let next_entry = entries.peek().map(|e| e.phone);
                // A phone with an entry is the entry's (callsync added it since the listing).
                while console.next_if(|p| Some(**p) == next_entry).is_some() {}
                match (next_entry, console.peek()) {
                    (None, None) => None,
                    (Some(e), Some(&&c)) if c < e => Some(console_contact(console.next()?)),
                    (None, Some(_)) => Some(console_contact(console.next()?)),
                    _ => entries.next().map(|e| Remote {
                        phone: e.phone,
                        listed: None,
                        entry: Some(e),
                        removable: e.removable,
                        digest: Some(e.content_digest),
                        state: e.state,
                    }),
                }
            }
            Stream::Listing {
                obs,
                sorted,
                pos,
                ledger,
            } => {
                let p = *sorted.get(*pos)?;
                *pos += 1;
                let phone = Phone::from_u64_unchecked(p.phone);
                while ledger.next_if(|e| e.phone < phone).is_some() {}
                let entry = ledger.peek().copied().filter(|e| e.phone == phone);
                let listed = obs.get(p.idx as usize);
                let digest = if p.has_digest {
                    listed.and_then(|o| o.content_digest)
                } else {
                    entry.map(|e| e.content_digest)
                };
                Some(Remote {
                    phone,
                    listed,
                    entry,
                    removable: p.removable,
                    digest,
                    // The listing is the truth: a listed contact is present.
                    state: EntryState::Present,
                })
            }
        }
    }
}

/// A console phone of the ledger: present, not callsync's, addressed by phone only.
fn console_contact(phone: &Phone) -> Remote<'_> {
    Remote {
        phone: *phone,
        listed: None,
        entry: None,
        removable: true,
        digest: None,
        state: EntryState::Present,
    }
}

struct Builder {
    identity: Identity,
    /// The ledger's identity, from which its entries' remote ids are derived.
    task_uid: String,
    content_change: ContentChangePolicy,
    out: Diff,
}

impl Builder {
    /// A desired phone the provider does not have. Its add is sent, unless an earlier add of
    /// it is in a batch the provider accepted and has not finished ([`Ledger::adds_may_land`]):
    /// that one may still land, and a second copy queued behind it could land after a removal.
    fn missing(&mut self, key: &DesiredKey, index: usize, awaited: bool, reason: AddReason) {
        self.out.counts.missing += 1;
        if awaited {
            self.out.counts.awaiting += 1;
            return;
        }
        let add = self.add(key, index, reason);
        self.out.adds.push(add);
    }

    fn add(&mut self, key: &DesiredKey, index: usize, reason: AddReason) -> AddItem {
        AddItem {
            phone: key.phone,
            desired_index: index as u32,
            digest: key.digest,
            reason,
        }
    }

    /// A removal item for `r`, or `None` (recorded as not removable) when it cannot be removed.
    fn removal(&mut self, r: &Remote<'_>, reason: RemoveReason) -> Option<RemoveItem> {
        let remote_id = r.remote_id(self.identity, &self.task_uid);
        let why = if !r.removable {
            Some(NotRemovableReason::AlreadyCalled)
        } else if self.identity == Identity::RemoteId && r.foreign_unaddressed() {
            Some(NotRemovableReason::ForeignContact)
        } else if self.identity == Identity::RemoteId && remote_id.is_none() {
            Some(NotRemovableReason::NoRemoteId)
        } else {
            None
        };
        if let Some(reason) = why {
            self.out.not_removable.push(NotRemovable {
                phone: r.phone,
                reason,
            });
            return None;
        }
        self.out.counts.unwanted += 1;
        Some(RemoveItem {
            phone: r.phone,
            remote_id,
            reason,
        })
    }

    fn remove(&mut self, r: &Remote<'_>, reason: RemoveReason) {
        if let Some(item) = self.removal(r, reason) {
            self.out.removes.push(item);
        }
    }

    /// A desired phone that the provider has (possibly several copies).
    fn both(&mut self, key: &DesiredKey, index: usize, group: &mut [Remote<'_>], may_land: bool) {
        if group.len() > 1 {
            group.sort_unstable_by(|a, b| a.keep_order().cmp(&b.keep_order()));
            self.out.counts.remote_duplicates += group.len() as u64 - 1;
        }
        let keep = group[0];
        for extra in &group[1..] {
            // By phone, "remove the extra copy" is "remove this phone": only a copy the
            // provider listed with an id of its own (a suffixed raw value) can go alone.
            if self.identity == Identity::Phone && extra.observed_id().is_none() {
                self.out.not_removable.push(NotRemovable {
                    phone: extra.phone,
                    reason: NotRemovableReason::SharedPhone,
                });
                continue;
            }
            self.remove(extra, RemoveReason::Duplicate);
        }
        match keep.state {
            EntryState::Adding => self.missing(key, index, may_land, AddReason::Retry),
            EntryState::Removing => {
                // The removal may or may not have happened: finish it, then add again.
                self.out.counts.missing += 1;
                let add = self.add(key, index, AddReason::Replace);
                let remove = self.removal(&keep, RemoveReason::Retry);
                match remove {
                    Some(remove) => self.out.pairs.push(Pair {
                        remove,
                        add,
                        content_change: None,
                    }),
                    None => self.out.adds.push(add),
                }
            }
            EntryState::Present => match keep.digest {
                Some(d) if d != key.digest => self.changed(key, index, &keep),
                _ => self.out.counts.in_sync += 1,
            },
        }
    }

    fn changed(&mut self, key: &DesiredKey, index: usize, keep: &Remote<'_>) {
        self.out.counts.content_changed += 1;
        let blocked = |b: &mut Self, action| {
            b.out.content_ignored_or_blocked.push(ContentChange {
                phone: key.phone,
                action,
            });
        };
        if self.content_change == ContentChangePolicy::Ignore {
            return blocked(self, ContentAction::Ignored);
        }
        let unwanted_before = self.out.counts.unwanted;
        let not_removable_before = self.out.not_removable.len();
        match self.removal(keep, RemoveReason::Replace) {
            Some(remove) => {
                // A replaced contact is not unwanted: undo the count `removal` made.
                self.out.counts.unwanted = unwanted_before;
                let add = self.add(key, index, AddReason::Replace);
                self.out.pairs.push(Pair {
                    remove,
                    add,
                    content_change: Some(key.phone),
                });
            }
            None => {
                // Desired and present: not an unwanted contact either.
                self.out.not_removable.truncate(not_removable_before);
                blocked(self, ContentAction::Blocked);
            }
        }
    }
}

/// Diffs desired (sorted, unique) against the listing, or the ledger when there is none.
pub(crate) fn diff(
    desired: &[DesiredKey],
    observed: Option<&[ObservedContact]>,
    ledger: &Ledger,
    policy: &PlanPolicy,
    identity: Identity,
) -> Diff {
    let remote = observed.map_or(ledger.len() + ledger.console().len(), <[_]>::len) as u64;
    let mut b = Builder {
        identity,
        task_uid: ledger.task_uid().to_owned(),
        content_change: policy.content_change,
        out: Diff {
            adds: Vec::new(),
            removes: Vec::new(),
            pairs: Vec::new(),
            not_removable: Vec::new(),
            content_ignored_or_blocked: Vec::new(),
            counts: PlanCounts {
                desired: desired.len() as u64,
                remote,
                ..PlanCounts::default()
            },
        },
    };
    let mut stream = Stream::new(observed, ledger).peekable();
    let mut group: Vec<Remote<'_>> = Vec::new();
    let may_land = ledger.adds_may_land();
    // Not listed, but added in a batch still open at the provider.
    let awaited = |phone: Phone| {
        may_land
            && ledger
                .get(phone)
                .is_some_and(|e| e.state == EntryState::Adding)
    };
    let mut di = 0;
    loop {
        let key = desired.get(di);
        let next_remote = stream.peek().map(|r| r.phone);
        match (key, next_remote) {
            (None, None) => break,
            (Some(k), None) => {
                b.missing(k, di, awaited(k.phone), AddReason::Missing);
                di += 1;
            }
            (Some(k), Some(p)) if k.phone < p => {
                b.missing(k, di, awaited(k.phone), AddReason::Missing);
                di += 1;
            }
            (k, Some(p)) => {
                group.clear();
                while let Some(r) = stream.next_if(|r| r.phone == p) {
                    group.push(r);
                }
                match k {
                    Some(k) if k.phone == p => {
                        b.both(k, di, &mut group, may_land);
                        di += 1;
                    }
                    _ => {
                        if group.len() > 1 {
                            group.sort_unstable_by(|a, b| a.keep_order().cmp(&b.keep_order()));
                        }
                        for r in &group {
                            let reason = match r.state {
                                EntryState::Removing => RemoveReason::Retry,
                                _ => RemoveReason::NotDesired,
                            };
                            b.remove(r, reason);
                        }
                    }
                }
            }
        }
    }
    b.out
}

#[cfg(test)]
mod tests {
    use crate::contacts::{ContentDigest, Phone, RemoteId};
    use crate::ledger::{ItemOutcome, Ledger};
    use crate::plan::{Capabilities, Identity, ObservedContact, PlanPolicy, plan};

    fn removal_id(identity: Identity, observed_id: Option<&str>) -> Option<String> {
        let phone = Phone::parse("+8613012121211", None).expect("valid");
        let mut ledger = Ledger::new("uid");
        ledger.record_add_intent(&[(phone, ContentDigest(1))]);
        ledger.record_add_outcome(phone, ItemOutcome::Accepted);
        let observed = Some(vec![ObservedContact {
            phone,
            remote_id: observed_id.map(RemoteId::new),
            removable: true,
            content_digest: None,
        }]);
        let policy = PlanPolicy {
            max_delete_percent: 100,
            ..PlanPolicy::default()
        };
        let caps = Capabilities {
            max_add: 100,
            max_remove: 100,
            can_list: true,
            identity,
        };
        let planned = plan(&[], &observed, &ledger, &policy, &caps);
        planned.removes[0].items[0].remote_id.clone()
    }

    /// longlonglong listing a desired phone twice (written two ways, or a repeated row added
    /// by hand): the extra copy used to be removed by phone, which removed the contact.
    #[test]
    fn an_extra_copy_without_its_own_id_is_not_removed_by_phone() {
        let phone = Phone::parse("+8613012121211", None).expect("valid");
        let copy = |id: Option<&str>| ObservedContact {
            phone,
            remote_id: id.map(RemoteId::new),
            removable: true,
            content_digest: None,
        };
        let policy = PlanPolicy {
            max_delete_percent: 100,
            ..PlanPolicy::default()
        };
        let caps = |identity| Capabilities {
            max_add: 100,
            max_remove: 100,
            can_list: true,
            identity,
        };
        let desired = [crate::contacts::DesiredKey {
            phone,
            digest: ContentDigest(1),
        }];
        let ledger = Ledger::new("uid");
        let twice = Some(vec![copy(None), copy(None)]);
        let p = plan(&desired, &twice, &ledger, &policy, &caps(Identity::Phone));
        assert!(p.is_empty(), "{:?}", p.removes);
        assert_eq!(p.counts.remote_duplicates, 1);
        assert_eq!(p.not_removable.len(), 1);
        assert_eq!(
            p.not_removable[0].reason,
            crate::plan::NotRemovableReason::SharedPhone
        );
        // A suffixed copy has its own id: it goes alone, the plain copy stays.
        let suffixed = Some(vec![copy(None), copy(Some("13012121211_x7k2"))]);
        let p = plan(
            &desired,
            &suffixed,
            &ledger,
            &policy,
            &caps(Identity::Phone),
        );
        let removed: Vec<_> = p.removes.iter().flat_map(|b| &b.items).collect();
        assert_eq!(removed.len(), 1);
        assert_eq!(removed[0].remote_id.as_deref(), Some("13012121211_x7k2"));
    }

    /// A phone the provider already held (console contact) and that callsync cannot list: never
    /// removed by callsync's own id, reported as a foreign contact instead.
    #[test]
    fn a_foreign_entry_is_not_removable_without_the_providers_id() {
        use crate::ledger::Rejection;
        use crate::plan::NotRemovableReason;
        let phone = Phone::parse("+8613012121211", None).expect("valid");
        let mut ledger = Ledger::new("uid");
        ledger.record_add_intent(&[(phone, ContentDigest(1))]);
        ledger.record_add_outcome(phone, ItemOutcome::Rejected(Rejection::Duplicate));
        let policy = PlanPolicy {
            max_delete_percent: 100,
            ..PlanPolicy::default()
        };
        let caps = Capabilities {
            max_add: 100,
            max_remove: 1,
            can_list: false,
            identity: Identity::RemoteId,
        };
        let kept = plan(&[], &None, &ledger, &policy, &caps);
        assert!(kept.removes.is_empty(), "{kept:?}");
        assert_eq!(kept.not_removable.len(), 1);
        assert_eq!(
            kept.not_removable[0].reason,
            NotRemovableReason::ForeignContact
        );
        // Desired: it is in the task, so nothing is added again.
        let desired = [crate::contacts::DesiredKey {
            phone,
            digest: ContentDigest(1),
        }];
        let wanted = plan(&desired, &None, &ledger, &policy, &caps);
        assert!(wanted.is_empty(), "{wanted:?}");
        // With a listing that names the provider's id, that id is used.
        let observed = Some(vec![ObservedContact {
            phone,
            remote_id: Some("console-7".into()),
            removable: true,
            content_digest: None,
        }]);
        let listed = plan(&[], &observed, &ledger, &policy, &caps);
        assert_eq!(
            listed.removes[0].items[0].remote_id.as_deref(),
            Some("console-7")
        );
    }

    #[test]
    fn phone_identity_never_gets_callsyncs_own_ids() {
        assert_eq!(removal_id(Identity::Phone, None), None);
        assert_eq!(
            removal_id(Identity::Phone, Some("13012121211_x7k2")).as_deref(),
            Some("13012121211_x7k2")
        );
        let own = removal_id(Identity::RemoteId, None).expect("ledger id");
        assert_eq!(own.len(), 36, "a UUID: {own}");
    }
}

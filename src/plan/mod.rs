//! The planner: what must be added and removed, in which batches, for the remote task to
//! equal the desired set.
//!
//! [`plan`] is pure: desired keys, what the provider has (its listing, or the ledger when it
//! cannot list), the ledger, the policy and the provider's capabilities in; a [`Plan`] out.
//! Execute a plan's removals before its adds: a content replacement is a removal and an add of
//! the same phone, and the ledger keeps one entry a phone.
//!
//! Representation decides speed at a million contacts: both sides are sorted `u64` keys and
//! the diff is one merge pass, with no hashing and no per-contact allocation except for items
//! that change.
mod batch;
mod diff;
mod guard;
mod policy;
mod radix;

pub use batch::{Batch, split};
pub use guard::{GuardDecision, check as guard_check, limit as guard_limit};
pub use policy::PlanPolicy;

use crate::contacts::{ContentDigest, DesiredKey, Phone};
use crate::ledger::Ledger;

/// How a provider identifies a contact when removing it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Identity {
    /// By phone number (longlonglong).
    Phone,
    /// By an id callsync chose when adding (Callbot `orderID`, NXLink `contactId`).
    RemoteId,
}

/// What a provider client can do, as plain data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Capabilities {
    /// Most contacts one add request may carry.
    pub max_add: usize,
    /// Most contacts one remove request may carry.
    pub max_remove: usize,
    /// Whether the provider can list a task's contacts. When not, the ledger is the record.
    pub can_list: bool,
    /// How contacts are addressed for removal.
    pub identity: Identity,
}

pub use crate::contacts::ObservedContact;

/// A provider's listing; `None` when it cannot list (then the ledger is the record).
pub type Observed = Option<Vec<ObservedContact>>;

/// Why a contact is added.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddReason {
    /// Desired and not at the provider.
    Missing,
    /// An add whose outcome is unknown, sent again with the same remote id.
    Retry,
    /// Second half of a replacement (content change, or a removal in flight of a desired
    /// contact); follows the removal of the same phone.
    Replace,
}

/// One contact to add.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AddItem {
    /// Phone.
    pub phone: Phone,
    /// Index into the desired keys as sorted by phone (for a [`crate::contacts::DesiredSet`]
    /// that is `keys()`, which are sorted, and `contacts()`).
    pub desired_index: u32,
    /// Digest of the content to send.
    pub digest: ContentDigest,
    /// Why.
    pub reason: AddReason,
}

/// Why a contact is removed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RemoveReason {
    /// Not desired.
    NotDesired,
    /// A second copy of a desired phone at the provider.
    Duplicate,
    /// First half of a content replacement.
    Replace,
    /// A removal whose outcome is unknown, sent again.
    Retry,
}

/// One contact to remove.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoveItem {
    /// Phone.
    pub phone: Phone,
    /// Remote id (from the listing, else the ledger); always set for [`Identity::RemoteId`].
    pub remote_id: Option<String>,
    /// Why.
    pub reason: RemoveReason,
}

/// Why an unwanted contact stays.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotRemovableReason {
    /// The provider no longer allows it (already called).
    AlreadyCalled,
    /// The provider removes by id and neither the listing nor the ledger has one.
    NoRemoteId,
    /// An extra copy of a desired phone at a provider that removes by phone (longlonglong),
    /// without an id of its own: removing it would remove the copy that is kept, and with it
    /// the contact.
    SharedPhone,
    /// The provider already held this phone as a contact callsync did not make (added in its
    /// console or by another tool), and cannot say under which id: callsync cannot remove it.
    /// Delete it in the provider's console.
    ForeignContact,
}

impl NotRemovableReason {
    /// Whether the provider may still call the contact kept: every reason but `AlreadyCalled`
    /// (and `SharedPhone`, a second copy of a phone that is desired anyway). A sync that leaves
    /// such a contact is not in sync (`ContactsNotRemovable`): a person must delete it.
    pub fn keeps_a_callable_contact(self) -> bool {
        matches!(self, Self::ForeignContact | Self::NoRemoteId)
    }

    /// A stable word for status, Events and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AlreadyCalled => "AlreadyCalled",
            Self::NoRemoteId => "NoRemoteId",
            Self::SharedPhone => "SharedPhone",
            Self::ForeignContact => "ForeignContact",
        }
    }
}

/// An unwanted contact that cannot be removed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NotRemovable {
    /// Phone.
    pub phone: Phone,
    /// Why.
    pub reason: NotRemovableReason,
}

/// What happens to a present contact whose content changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContentAction {
    /// Policy Ignore: the provider keeps the old content.
    Ignored,
    /// Policy Replace: removed and added again in this plan.
    Replaced,
    /// Policy Replace, but removing is not possible now (already called, no remote id,
    /// AddOnly/ObserveOnly, or the deletion guard tripped).
    Blocked,
}

/// A present contact whose content differs from the desired content.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ContentChange {
    /// Phone.
    pub phone: Phone,
    /// What the plan does about it.
    pub action: ContentAction,
}

/// Figures of a plan, for status and metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PlanCounts {
    /// Desired contacts.
    pub desired: u64,
    /// Contacts at the provider (listing, or ledger entries).
    pub remote: u64,
    /// Desired contacts present with the desired content (or unknown content).
    pub in_sync: u64,
    /// Desired contacts not at the provider (or with an add in flight).
    pub missing: u64,
    /// Of `missing`: contacts whose add is in a batch the provider accepted and has not
    /// finished (the ledger's open batches). Not sent again; in doubt until it finishes.
    pub awaiting: u64,
    /// Contacts at the provider that are not desired (or extra copies) and can be removed.
    pub unwanted: u64,
    /// Extra copies of one phone at the provider.
    pub remote_duplicates: u64,
    /// Present contacts whose content differs.
    pub content_changed: u64,
    /// Contacts in add batches.
    pub planned_adds: u64,
    /// Contacts in remove batches.
    pub planned_removes: u64,
}

/// What a sync must do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// Add batches, each at most `max_add`, in phone order.
    pub adds: Vec<Batch<AddItem>>,
    /// Remove batches, each at most `max_remove`, in phone order. Run these first.
    pub removes: Vec<Batch<RemoveItem>>,
    /// Unwanted contacts that cannot be removed.
    pub not_removable: Vec<NotRemovable>,
    /// Present contacts whose content changed, and what the plan does about each.
    pub content_changes: Vec<ContentChange>,
    /// The deletion guard's decision.
    pub guard: GuardDecision,
    /// Figures.
    pub counts: PlanCounts,
    /// Made against a full listing (else against the ledger alone). An add answered "already
    /// in the task" means something else after a listing that did not show the phone (a race,
    /// or a late batch: in doubt) than after a plan from a ledger with nothing in flight (a
    /// contact callsync did not make: foreign).
    pub listed: bool,
}

impl Plan {
    /// Write requests the plan makes: `ceil(adds / max_add) + ceil(removes / max_remove)`.
    pub fn write_calls(&self) -> usize {
        self.adds.len() + self.removes.len()
    }

    /// True when the plan writes nothing.
    pub fn is_empty(&self) -> bool {
        self.write_calls() == 0
    }

    /// Whether a contact the plan must remove could not be addressed: no id in the ledger
    /// (a foreign contact, an entry without one). A listing gives the provider's ids.
    pub fn lacks_remote_ids(&self) -> bool {
        self.not_removable.iter().any(|n| {
            matches!(
                n.reason,
                NotRemovableReason::ForeignContact | NotRemovableReason::NoRemoteId
            )
        })
    }
}

/// Plans a sync. `desired` should be sorted by phone without repeats (as
/// [`crate::contacts::DesiredSet::keys`] is); other input is sorted here first. `observed`
/// order does not matter. With a listing, the ledger should be reconciled against it first
/// ([`Ledger::reconcile`]); it then supplies remote ids and content digests the listing lacks.
pub fn plan(
    desired: &[DesiredKey],
    observed: &Observed,
    ledger: &Ledger,
    policy: &PlanPolicy,
    caps: &Capabilities,
) -> Plan {
    let sorted;
    let desired = if desired.windows(2).all(|w| w[0].phone < w[1].phone) {
        desired
    } else {
        let mut v = desired.to_vec();
        v.sort_unstable();
        v.dedup_by_key(|k| k.phone);
        sorted = v;
        &sorted[..]
    };
    let d = diff::diff(desired, observed.as_deref(), ledger, policy, caps.identity);

    let mut content_changes = d.content_ignored_or_blocked;
    let mut counts = d.counts;
    let removal_wanted = (d.removes.len() + d.pairs.len()) as u64;
    let guard = if policy.may_remove() {
        guard::check(removal_wanted, counts.remote, policy.max_delete_percent)
    } else {
        guard::check(0, counts.remote, policy.max_delete_percent)
    };
    let removing = policy.may_remove() && guard.allows_removals();
    let mut adds = Vec::new();
    let mut removes = Vec::new();
    if policy.may_add() {
        adds = d.adds;
    }
    if removing {
        removes = d.removes;
    }
    let mut replaced = false;
    for pair in d.pairs {
        if let Some(phone) = pair.content_change {
            let action = if removing && policy.may_add() {
                ContentAction::Replaced
            } else {
                ContentAction::Blocked
            };
            content_changes.push(ContentChange { phone, action });
        }
        if removing && policy.may_add() {
            removes.push(pair.remove);
            adds.push(pair.add);
            replaced = true;
        }
    }
    if replaced {
        // Pairs were appended after the phone-ordered lists; restore phone order.
        adds.sort_by_key(|a| a.phone);
        removes.sort_by_key(|r| r.phone);
    }
    content_changes.sort_by_key(|c| c.phone);
    counts.planned_adds = adds.len() as u64;
    counts.planned_removes = removes.len() as u64;
    Plan {
        adds: split(adds, caps.max_add),
        removes: split(removes, caps.max_remove),
        not_removable: d.not_removable,
        content_changes,
        guard,
        counts,
        listed: observed.is_some(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{ContentChangePolicy, ManagementPolicy};

    fn key(n: u64, d: u64) -> DesiredKey {
        DesiredKey {
            phone: Phone::from_u64_unchecked(8_613_000_000_000 + n),
            digest: ContentDigest(d),
        }
    }

    fn listed(n: u64, d: Option<u64>, removable: bool) -> ObservedContact {
        ObservedContact {
            phone: Phone::from_u64_unchecked(8_613_000_000_000 + n),
            remote_id: Some(format!("id{n}").into()),
            removable,
            content_digest: d.map(ContentDigest),
        }
    }

    const CAPS: Capabilities = Capabilities {
        max_add: 2,
        max_remove: 2,
        can_list: true,
        identity: Identity::RemoteId,
    };

    #[test]
    fn tripped_guard_blocks_removals_and_replacements_but_not_adds() {
        let desired = [key(1, 1), key(2, 9), key(5, 1)];
        let observed = Some(vec![
            listed(1, Some(1), true),
            listed(2, Some(2), true), // content changed
            listed(3, None, true),    // unwanted
            listed(4, None, false),   // unwanted, already called
        ]);
        let policy = PlanPolicy {
            management: ManagementPolicy::Full,
            max_delete_percent: 25, // limit floor(4 * 25 / 100) = 1 < 2 wanted
            content_change: ContentChangePolicy::Replace,
        };
        let p = plan(&desired, &observed, &Ledger::new("uid"), &policy, &CAPS);
        assert_eq!(
            p.guard,
            GuardDecision::Tripped {
                removes: 2,
                limit: 1,
                remote: 4
            }
        );
        assert!(p.removes.is_empty());
        let adds: Vec<_> = p
            .adds
            .iter()
            .flat_map(|b| &b.items)
            .map(|a| a.phone)
            .collect();
        assert_eq!(adds, [desired[2].phone]);
        assert_eq!(p.content_changes[0].action, ContentAction::Blocked);
        assert_eq!(p.not_removable[0].reason, NotRemovableReason::AlreadyCalled);

        let open = PlanPolicy {
            max_delete_percent: 100,
            ..policy
        };
        let p = plan(&desired, &observed, &Ledger::new("uid"), &open, &CAPS);
        let removes: Vec<_> = p
            .removes
            .iter()
            .flat_map(|b| &b.items)
            .map(|r| r.reason)
            .collect();
        assert_eq!(removes, [RemoveReason::Replace, RemoveReason::NotDesired]);
        assert_eq!(p.content_changes[0].action, ContentAction::Replaced);
        assert_eq!(p.write_calls(), 2); // 2 adds (5, and 2 again) + 2 removals, 2 a batch
    }

    #[test]
    fn observe_only_reports_without_writing() {
        let desired = [key(1, 1)];
        let observed = Some(vec![listed(2, None, true)]);
        let policy = PlanPolicy {
            management: ManagementPolicy::ObserveOnly,
            ..PlanPolicy::default()
        };
        let p = plan(&desired, &observed, &Ledger::new("uid"), &policy, &CAPS);
        assert!(p.is_empty());
        assert_eq!((p.counts.missing, p.counts.unwanted), (1, 1));
    }
}

//! Ledger-first planning: when a sync lists the provider's whole task, and when it plans
//! against the ledger alone.
//!
//! A full listing costs reads proportional to the task (10,000 pages at a million Callbot
//! contacts), so a ContactList edit that changes a hundred contacts must not pay it. Between
//! listings the ledger is the record: it holds every contact callsync put at the provider and
//! every outcome the provider confirmed item by item. What it cannot know is what changed at
//! the provider behind callsync's back (a console edit, a provider purge); that drift is found
//! by the next listing, which runs when:
//!
//! - it is asked for (`callsync.io/requestedAt`, `callsync apply --full-listing`, a change of the
//!   CallTask's own spec, ObserveOnly management — whose whole job is to look);
//! - the ledger was never settled against a listing (a new task, a lost ledger);
//! - an answer hinted drift (an add refused as "already exists", a removal "not found");
//! - the provider's count of the task, read in one request before a sync plans against the
//!   ledger where the provider has one (`Provider::count`), is not the count the ledger
//!   expects (`Ledger::expected_count`: the last listing's, moved by callsync's own confirmed
//!   changes since) — someone added or removed contacts in the provider's console;
//! - anything is in flight (an outcome not known, a provider batch open): only a read settles
//!   it, and nothing in doubt is ever counted done;
//! - `resyncInterval` has passed since the last one;
//! - the plan made against the ledger must remove a contact it cannot address (one added in the
//!   provider's console, whose id only a listing gives), or adds at a provider that tells
//!   contacts apart by phone only (longlonglong: an add of a phone someone else put there looks
//!   like callsync's own): the sync lists and plans again ([`replan_reason`]).
//!
//! Pure: the caller passes the time; the controller and the CLI both decide here.
use std::time::Duration;

use crate::api::{CallTask, ManagementPolicy};
use crate::ledger::Ledger;
use crate::plan::{Identity, Plan};

/// What the caller knows that the ledger does not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListingSchedule {
    /// The longest a sync plans against the ledger after a listing (`spec.resyncInterval`).
    pub interval: Duration,
    /// A listing was asked for (see the module documentation).
    pub requested: bool,
    /// Now, in seconds since the Unix epoch.
    pub now: u64,
    /// A listing the caller recorded elsewhere and the ledger may not hold (the controller's
    /// `status.lastListing`: it does not save the ledger for a listing alone).
    pub known_listing: Option<u64>,
}

impl ListingSchedule {
    /// The schedule of a sync of `task` at `now`: its `resyncInterval`, and a listing requested
    /// when the caller was `asked` for one or the task's management is ObserveOnly (whose whole
    /// job is to look).
    pub fn for_task(task: &CallTask, asked: bool, now: u64) -> Self {
        Self {
            interval: task.resync_interval(),
            requested: asked || task.spec.policy.management == ManagementPolicy::ObserveOnly,
            now,
            known_listing: None,
        }
    }

    /// Every sync lists: what `callsync` did before ledger-first planning, for tests and callers
    /// that want the provider's word every time.
    pub fn always(now: u64) -> Self {
        Self {
            interval: Duration::ZERO,
            requested: true,
            now,
            known_listing: None,
        }
    }
}

/// Why a sync lists the provider's task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListingReason {
    /// Asked for.
    Requested,
    /// The ledger was never settled against a listing.
    NeverListed,
    /// An answer since the last listing hinted drift.
    DriftHinted,
    /// The provider's count of the task is not the one the ledger expects.
    CountDrift,
    /// An outcome is not known or a provider batch is open.
    InFlight,
    /// `resyncInterval` passed since the last listing.
    Due,
    /// The plan made against the ledger must remove a contact only the provider's id
    /// addresses (a contact added in its console): listed for the ids, and planned again.
    RemoteIds,
    /// The plan made against the ledger adds contacts at a provider that tells contacts apart
    /// by phone only (longlonglong): its answer to an add of a phone someone else already put
    /// there cannot be told from callsync's own add, so a listing shows those phones first.
    AddsByPhone,
}

impl ListingReason {
    /// A short word for logs, metrics and the status.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Requested => "requested",
            Self::NeverListed => "never-listed",
            Self::DriftHinted => "drift-hinted",
            Self::CountDrift => "count-drift",
            Self::InFlight => "in-flight",
            Self::Due => "due",
            Self::RemoteIds => "remote-ids",
            Self::AddsByPhone => "adds-by-phone",
        }
    }
}

/// Why this sync must list the task, or `None`: plan against the ledger.
pub fn listing_reason(ledger: &Ledger, schedule: &ListingSchedule) -> Option<ListingReason> {
    let marks = ledger.listing();
    if schedule.requested {
        return Some(ListingReason::Requested);
    }
    // A ledger that never listed (new, or lost and started again) lists, whatever the caller
    // recorded: a listing the status remembers was of another ledger's contacts.
    let Some(ledger_last) = marks.last else {
        return Some(ListingReason::NeverListed);
    };
    let last = ledger_last.max(schedule.known_listing.unwrap_or(0));
    if marks.drift_hint {
        return Some(ListingReason::DriftHinted);
    }
    if ledger.adds_may_land() || ledger.has_in_flight() {
        return Some(ListingReason::InFlight);
    }
    // A listing "in the future" (a clock set back, a forged ledger) is treated as old.
    let age = schedule.now.checked_sub(last);
    // The resync timer starts when the last sync ended and the listing was made at its start,
    // so a timed resync finds the listing at least one interval old; the second of slack
    // absorbs the rounding of both to whole seconds.
    if age.is_none_or(|age| age + 1 >= schedule.interval.as_secs()) {
        return Some(ListingReason::Due);
    }
    None
}

/// Why a plan made against the ledger must be made again from a listing, or `None`.
pub fn replan_reason(plan: &Plan, identity: Identity) -> Option<ListingReason> {
    if plan.listed {
        None
    } else if plan.lacks_remote_ids() {
        Some(ListingReason::RemoteIds)
    } else if identity == Identity::Phone && !plan.adds.is_empty() {
        Some(ListingReason::AddsByPhone)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contacts::{ContentDigest, Phone};
    use crate::ledger::{ItemOutcome, Rejection};

    const NOW: u64 = 1_796_000_000;

    fn ph(n: u64) -> Phone {
        Phone::from_u64_unchecked(8613000000000 + n)
    }

    fn schedule(interval_secs: u64) -> ListingSchedule {
        ListingSchedule {
            interval: Duration::from_secs(interval_secs),
            requested: false,
            now: NOW,
            known_listing: None,
        }
    }

    /// The desired key of test phone `n`.
    fn key(n: u64) -> crate::contacts::DesiredKey {
        crate::contacts::DesiredKey {
            phone: ph(n),
            digest: ContentDigest(n),
        }
    }

    /// A plan under Full management, no guard, batches of 10, at a provider that lists.
    fn full_plan(
        desired: &[crate::contacts::DesiredKey],
        observed: &crate::plan::Observed,
        ledger: &Ledger,
        identity: Identity,
    ) -> Plan {
        use crate::api::{ContentChangePolicy, ManagementPolicy};
        use crate::plan::{Capabilities, PlanPolicy};
        let policy = PlanPolicy {
            management: ManagementPolicy::Full,
            max_delete_percent: 100,
            content_change: ContentChangePolicy::Ignore,
        };
        let caps = Capabilities {
            max_add: 10,
            max_remove: 10,
            can_list: true,
            identity,
        };
        crate::plan::plan(desired, observed, ledger, &policy, &caps)
    }

    /// A ledger settled against a listing 60 s ago, one contact present.
    fn listed_ledger() -> Ledger {
        let mut l = Ledger::new("uid");
        l.record_add_intent(&[(ph(1), ContentDigest(1))]);
        l.record_add_outcome(ph(1), ItemOutcome::Accepted);
        l.mark_listed(NOW - 60, 0);
        l
    }

    #[test]
    fn a_settled_ledger_inside_the_interval_is_planned_against() {
        assert_eq!(listing_reason(&listed_ledger(), &schedule(600)), None);
    }

    #[test]
    fn a_request_always_lists() {
        let mut s = schedule(600);
        s.requested = true;
        assert_eq!(
            listing_reason(&listed_ledger(), &s),
            Some(ListingReason::Requested)
        );
        assert_eq!(
            listing_reason(&listed_ledger(), &ListingSchedule::always(NOW)),
            Some(ListingReason::Requested)
        );
    }

    #[test]
    fn a_ledger_never_listed_lists() {
        let mut l = Ledger::new("uid");
        l.record_add_intent(&[(ph(1), ContentDigest(1))]);
        l.record_add_outcome(ph(1), ItemOutcome::Accepted);
        assert_eq!(
            listing_reason(&l, &schedule(600)),
            Some(ListingReason::NeverListed)
        );
        let mut recorded = schedule(600);
        recorded.known_listing = Some(NOW - 10);
        assert_eq!(
            listing_reason(&l, &recorded),
            Some(ListingReason::NeverListed),
            "a lost ledger lists although the status recorded a listing"
        );
        let mut listed = listed_ledger();
        listed.mark_listed(NOW - 700, 0);
        assert_eq!(
            listing_reason(&listed, &recorded),
            None,
            "the later of the two"
        );
    }

    #[test]
    fn the_interval_is_measured_from_the_last_listing_with_a_second_of_slack() {
        let l = listed_ledger();
        assert_eq!(listing_reason(&l, &schedule(62)), None);
        assert_eq!(listing_reason(&l, &schedule(61)), Some(ListingReason::Due));
        assert_eq!(listing_reason(&l, &schedule(60)), Some(ListingReason::Due));
        let mut future = l.clone();
        future.mark_listed(NOW + 3600, 0);
        assert_eq!(
            listing_reason(&future, &schedule(600)),
            Some(ListingReason::Due),
            "a listing dated after now is not trusted"
        );
    }

    #[test]
    fn an_outcome_not_known_lists_until_a_read_settles_it() {
        let mut l = listed_ledger();
        l.record_add_intent(&[(ph(2), ContentDigest(2))]);
        l.record_add_outcome(ph(2), ItemOutcome::Unknown);
        assert_eq!(
            listing_reason(&l, &schedule(600)),
            Some(ListingReason::InFlight)
        );
        let mut removing = listed_ledger();
        removing.record_remove_intent(&[ph(1)]);
        assert_eq!(
            listing_reason(&removing, &schedule(600)),
            Some(ListingReason::InFlight),
            "an intent saved before a crash is in flight"
        );
    }

    #[test]
    fn drift_answers_list_and_a_listing_clears_them() {
        let mut l = listed_ledger();
        l.record_add_intent(&[(ph(3), ContentDigest(3))]);
        l.record_add_outcome(ph(3), ItemOutcome::Rejected(Rejection::Duplicate));
        assert_eq!(
            listing_reason(&l, &schedule(600)),
            Some(ListingReason::DriftHinted)
        );
        let mut gone = listed_ledger();
        gone.record_remove_intent(&[ph(1)]);
        gone.record_remove_outcome(ph(1), ItemOutcome::Rejected(Rejection::NotFound));
        assert_eq!(
            listing_reason(&gone, &schedule(600)),
            Some(ListingReason::DriftHinted)
        );
        gone.mark_listed(NOW, 0);
        assert_eq!(listing_reason(&gone, &schedule(600)), None);
    }

    #[test]
    fn a_plain_refusal_hints_nothing() {
        let mut l = listed_ledger();
        l.record_add_intent(&[(ph(4), ContentDigest(4))]);
        l.record_add_outcome(ph(4), ItemOutcome::Rejected(Rejection::Other));
        l.record_remove_intent(&[ph(1)]);
        l.record_remove_outcome(ph(1), ItemOutcome::Rejected(Rejection::NotRemovable));
        assert_eq!(listing_reason(&l, &schedule(600)), None);
    }

    /// A plan from the ledger is made again from a listing when it must remove a contact it
    /// has no id for, or adds at a provider that knows contacts by phone only; otherwise (and
    /// for a plan from a listing) it stands.
    #[test]
    fn a_ledger_plan_is_made_again_from_a_listing_only_when_it_cannot_stand() {
        let mut ledger = listed_ledger();
        let adds = full_plan(&[key(1), key(2)], &None, &ledger, Identity::RemoteId);
        assert_eq!(adds.counts.planned_adds, 1);
        assert_eq!(replan_reason(&adds, Identity::RemoteId), None);
        assert_eq!(
            replan_reason(&adds, Identity::Phone),
            Some(ListingReason::AddsByPhone)
        );

        // A console contact recorded as foreign, no longer desired: only a listing has its id.
        ledger.record_add_intent(&[(ph(3), ContentDigest(3))]);
        ledger.record_add_outcome(ph(3), ItemOutcome::Rejected(Rejection::Duplicate));
        let foreign = full_plan(&[key(1)], &None, &ledger, Identity::RemoteId);
        assert_eq!(
            replan_reason(&foreign, Identity::RemoteId),
            Some(ListingReason::RemoteIds)
        );
        let listed = full_plan(&[key(1)], &Some(vec![]), &ledger, Identity::RemoteId);
        assert_eq!(replan_reason(&listed, Identity::Phone), None);
    }

    /// A console contact a listing showed is known to the plans made between listings: desired,
    /// it is in sync (not added again); no longer desired, it is removed by phone where the
    /// provider removes by phone, and listed for its id where it removes by id. Cleanup forgets
    /// it: only what callsync added is removed then.
    #[test]
    fn console_contacts_seen_by_a_listing_are_planned_between_listings() {
        use crate::contacts::ObservedContact;
        let mut ledger = listed_ledger();
        let listed = |n, id: &str| ObservedContact {
            phone: ph(n),
            remote_id: Some(id.into()),
            removable: true,
            content_digest: None,
        };
        let own = ledger
            .get(ph(1))
            .expect("entry")
            .remote_id(ledger.task_uid())
            .to_string();
        ledger.reconcile(&[listed(1, &own), listed(9, "console-0001")]);
        assert_eq!(
            ledger.console().iter().copied().collect::<Vec<_>>(),
            [ph(9)]
        );

        let wanted = full_plan(&[key(1), key(9)], &None, &ledger, Identity::Phone);
        assert_eq!((wanted.counts.in_sync, wanted.counts.planned_adds), (2, 0));
        let by_phone = full_plan(&[key(1)], &None, &ledger, Identity::Phone);
        assert_eq!(by_phone.removes[0].items[0].phone, ph(9));
        assert_eq!(replan_reason(&by_phone, Identity::Phone), None);
        let by_id = full_plan(&[key(1)], &None, &ledger, Identity::RemoteId);
        assert!(by_id.removes.is_empty());
        assert_eq!(
            replan_reason(&by_id, Identity::RemoteId),
            Some(ListingReason::RemoteIds)
        );

        let mut cleanup = ledger.clone();
        cleanup.forget_console();
        let all = full_plan(&[], &None, &cleanup, Identity::Phone);
        assert_eq!(all.counts.planned_removes, 1, "only callsync's own contact");
        ledger.record_remove_intent(&[ph(9)]);
        ledger.record_remove_outcome(ph(9), ItemOutcome::Accepted);
        assert!(
            ledger.console().is_empty(),
            "a confirmed removal forgets it"
        );
    }
}

//! The figures a CallTask's status reports for a sync: its contact counts while the plan runs
//! and once it is done, its failures and the last sync. Pure: the clock is passed in.
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::report::{Outcome, Phase, compute_status};
use crate::api::{CallTask, CallTaskStatus, ContactCounts, ContactFailure, LastSync, reasons};
use crate::contacts::DesiredSet;
use crate::ledger::{EntryState, Ledger};
use crate::plan::Plan;
use crate::sync::{Planned, SyncReport};

fn count(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Contact counts: what the plan found (`listed`: from a listing, else from the ledger), minus
/// what execution did (`added`, `removed`).
fn counts(
    plan: &Plan,
    listed: bool,
    ledger: &Ledger,
    desired: u64,
    added: u64,
    removed: u64,
) -> ContactCounts {
    let present = match listed {
        true => (plan.counts.remote + added).saturating_sub(removed),
        false => ledger
            .iter()
            .filter(|e| e.state == EntryState::Present)
            .count() as u64,
    };
    let pending_add = plan.counts.missing.saturating_sub(added);
    let pending_remove = plan.counts.unwanted.saturating_sub(removed);
    ContactCounts {
        desired: count(desired),
        present: count(present),
        pending: count(pending_add + pending_remove),
        pending_add: count(pending_add),
        pending_remove: count(pending_remove),
        failed: 0,
        not_removable: count(plan.not_removable.len() as u64),
    }
}

/// When the ledger was last settled against a full listing, as the status writes it.
fn last_listing(ledger: &Ledger) -> Option<DateTime<Utc>> {
    let at = i64::try_from(ledger.listing().last?).ok()?;
    DateTime::from_timestamp(at, 0)
}

/// The status published while a plan executes: Reconciling with the plan's counts; failures,
/// the last sync and the digest stay those of the last finished sync. Progress written while
/// the sync runs must not keep saying Ready=True from the last sync: a reader (kubectl wait,
/// Argo CD, a test) would take the new counts for a finished sync.
pub fn progress_status(
    task: &CallTask,
    planned: &Planned,
    ledger: &Ledger,
    desired: &DesiredSet,
    now: DateTime<Utc>,
) -> CallTaskStatus {
    let listed = planned.observation.observed.is_some();
    let counts = counts(&planned.plan, listed, ledger, desired.len() as u64, 0, 0);
    let phase = Phase::Progressing {
        reason: reasons::PROGRESSING,
        message: format!(
            "adding {} and removing {} contacts (progress in status.contacts)",
            counts.pending_add, counts.pending_remove
        ),
    };
    let outcome = Outcome {
        counts: Some(counts),
        failures: task
            .status
            .as_ref()
            .map(|s| s.failures.clone())
            .unwrap_or_default(),
        last_listing: last_listing(ledger),
        ..Outcome::default()
    };
    compute_status(task, &phase, outcome, now)
}

/// What a finished sync reports: counts after it, its failures (masked phones), and a new
/// `lastSync` when it changed something or is the task's first.
pub fn finished(
    task: &CallTask,
    report: &SyncReport,
    ledger: &Ledger,
    desired: &DesiredSet,
    took: Duration,
    now: DateTime<Utc>,
) -> Outcome {
    let executed = &report.executed;
    let counts = counts(
        &report.plan,
        report.observation.observed.is_some(),
        ledger,
        desired.len() as u64,
        executed.added + executed.already_present,
        executed.removed,
    );
    let first = task
        .status
        .as_ref()
        .and_then(|s| s.last_sync.as_ref())
        .is_none();
    Outcome {
        counts: Some(ContactCounts {
            failed: count(executed.failed + desired.invalid_count()),
            ..counts
        }),
        failures: executed
            .failures
            .iter()
            .map(|f| ContactFailure {
                phone: f.phone.clone(),
                reason: f.reason.clone(),
            })
            .collect(),
        last_sync: (report.changed() || first).then(|| LastSync {
            time: now,
            added: count(executed.added),
            removed: count(executed.removed),
            api_calls: count(report.requests()),
            duration_ms: i64::try_from(took.as_millis()).unwrap_or(i64::MAX),
        }),
        desired_digest: Some(desired.digest.clone()),
        last_listing: last_listing(ledger),
        // What the store holds is the sink's to say (`SecretSink::held_ledger`).
        ledger: None,
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::api::{CallTaskSpec, Contact, ContentChangePolicy, ManagementPolicy};
    use crate::contacts::{ListContacts, ListInput, ObservedContact, Phone};
    use crate::plan::{Capabilities, Identity, PlanPolicy};
    use crate::sync::{ExecuteReport, Observation};

    fn at(seconds: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(seconds, 0).single().expect("time")
    }

    fn phone(n: u32) -> String {
        format!("+86139000{n:05}")
    }

    /// Three desired contacts; the listing holds the first and one no longer wanted.
    fn planned() -> (DesiredSet, Planned, Ledger) {
        let contacts: Vec<Contact> = (1..=3)
            .map(|n| {
                serde_json::from_value(serde_json::json!({"phone": phone(n)})).expect("contact")
            })
            .collect();
        let desired = DesiredSet::build(&[ListInput {
            name: "l",
            default_region: None,
            contacts: ListContacts::Inline(&contacts),
        }]);
        let listed = |n| ObservedContact {
            phone: Phone::parse(&phone(n), None).expect("valid"),
            remote_id: Some(format!("id-{n}").into()),
            removable: true,
            content_digest: None,
        };
        let observation = Observation {
            observed: Some(vec![listed(1), listed(9)]),
            requests: 1,
            ..Observation::default()
        };
        let ledger = Ledger::fresh(Some("uid"));
        let policy = PlanPolicy {
            management: ManagementPolicy::Full,
            max_delete_percent: 100,
            content_change: ContentChangePolicy::Ignore,
        };
        let caps = Capabilities {
            max_add: 10,
            max_remove: 10,
            can_list: true,
            identity: Identity::RemoteId,
        };
        let plan = crate::plan::plan(
            desired.keys(),
            &observation.observed,
            &ledger,
            &policy,
            &caps,
        );
        (desired, Planned { observation, plan }, ledger)
    }

    fn task(last_sync: Option<LastSync>) -> CallTask {
        let spec: CallTaskSpec = serde_json::from_value(serde_json::json!({
            "providerRef": {"name": "p"}, "taskId": "t", "contactLists": {}
        }))
        .expect("spec");
        let mut task = CallTask::new("t", spec);
        task.status = Some(CallTaskStatus {
            last_sync,
            ..CallTaskStatus::default()
        });
        task
    }

    /// While the plan runs the status is Reconciling with what is left to do, never Ready.
    #[test]
    fn progress_shows_the_plan_as_pending_and_is_not_ready() {
        let (desired, planned, ledger) = planned();
        let status = progress_status(&task(None), &planned, &ledger, &desired, at(10));
        let counts = status.contacts.expect("counts");
        assert_eq!((counts.desired, counts.present), (3, 2));
        assert_eq!((counts.pending_add, counts.pending_remove), (2, 1));
        let ready = status
            .conditions
            .iter()
            .find(|c| c.type_ == crate::api::ConditionType::Ready)
            .expect("Ready");
        assert_eq!(ready.status, crate::api::ConditionStatus::False);
        assert_eq!(
            ready.message,
            "adding 2 and removing 1 contacts (progress in status.contacts)"
        );
    }

    /// After the sync the counts take what the provider confirmed off the plan; `lastSync`
    /// is written when something changed (or on the first sync), not by a sync that changed
    /// nothing.
    #[test]
    fn a_finished_sync_counts_what_was_confirmed_and_dates_only_changes() {
        let (desired, planned, ledger) = planned();
        let report = SyncReport {
            observation: planned.observation,
            plan: planned.plan,
            executed: ExecuteReport {
                added: 1,
                removed: 1,
                unknown: 1,
                requests: 2,
                ..ExecuteReport::default()
            },
        };
        let earlier = LastSync {
            time: at(1),
            added: 0,
            removed: 0,
            api_calls: 0,
            duration_ms: 0,
        };
        let took = Duration::from_millis(1500);
        let outcome = finished(
            &task(Some(earlier.clone())),
            &report,
            &ledger,
            &desired,
            took,
            at(20),
        );
        let counts = outcome.counts.expect("counts");
        assert_eq!(
            (counts.present, counts.pending_add, counts.pending_remove),
            (2, 1, 0)
        );
        let last = outcome.last_sync.expect("changed: dated");
        assert_eq!(
            (last.added, last.removed, last.api_calls, last.duration_ms),
            (1, 1, 3, 1500)
        );
        assert_eq!(last.time, at(20));

        let unchanged = SyncReport {
            executed: ExecuteReport::default(),
            ..report
        };
        let outcome = finished(
            &task(Some(earlier)),
            &unchanged,
            &ledger,
            &desired,
            took,
            at(30),
        );
        assert_eq!(
            outcome.last_sync, None,
            "nothing changed, not the first sync"
        );
        let first = finished(&task(None), &unchanged, &ledger, &desired, took, at(30));
        assert!(first.last_sync.is_some(), "the first sync is dated");
    }
}

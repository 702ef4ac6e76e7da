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
    }
}

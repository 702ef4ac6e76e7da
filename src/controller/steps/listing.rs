//! What makes the controller list a task in full rather than plan against its ledger
//! (`sync::listing` holds the rule; this step only reads the CallTask).
use crate::api::CallTask;
use crate::sync::ListingSchedule;

/// The listing schedule of a reconcile of `task` at `now` (seconds since the Unix epoch).
pub fn schedule(task: &CallTask, now: u64) -> ListingSchedule {
    // The controller does not rewrite the ledger for a listing alone (`SecretSink`): the
    // status holds its time.
    let known_listing = task
        .status
        .as_ref()
        .and_then(|s| s.last_listing)
        .and_then(|at| u64::try_from(at.timestamp()).ok());
    ListingSchedule {
        known_listing,
        ..ListingSchedule::for_task(task, asked(task), now)
    }
}

/// A listing is asked for by a sync request not handled yet (`callsync sync`, or
/// `callsync.io/requestedAt` set by hand: "look now") and by a change of the CallTask's own
/// spec not synced yet (another provider task, a resume after suspend, a new policy: what the
/// ledger knew may not hold).
fn asked(task: &CallTask) -> bool {
    let status = task.status.as_ref();
    let spec_changed = task.metadata.generation != status.and_then(|s| s.observed_generation);
    unhandled_sync_request(task) || spec_changed
}

/// Whether the CallTask carries a sync request (`callsync.io/requestedAt`) no reconcile has
/// handled yet.
pub fn unhandled_sync_request(task: &CallTask) -> bool {
    let handled = task
        .status
        .as_ref()
        .and_then(|s| s.last_handled_sync_request.as_deref());
    task.sync_request().is_some() && task.sync_request() != handled
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{CallTaskStatus, ManagementPolicy, SYNC_REQUEST_ANNOTATION};

    /// A task at generation 3 whose status has seen generation 3 and the request "r1".
    fn synced_task() -> CallTask {
        let mut task = CallTask::new(
            "t",
            serde_json::from_value(serde_json::json!({
                "providerRef": {"name": "p"}, "taskId": "x",
                "contactLists": {"names": ["a"]}, "resyncInterval": "90s"
            }))
            .expect("spec"),
        );
        task.metadata.generation = Some(3);
        task.metadata.annotations =
            Some([(SYNC_REQUEST_ANNOTATION.to_owned(), "r1".to_owned())].into());
        task.status = Some(CallTaskStatus {
            observed_generation: Some(3),
            last_handled_sync_request: Some("r1".into()),
            ..Default::default()
        });
        task
    }

    #[test]
    fn a_synced_task_plans_against_its_ledger_within_resync_interval() {
        let s = schedule(&synced_task(), 42);
        assert_eq!(s.interval.as_secs(), 90);
        assert_eq!(s.now, 42);
        assert!(!s.requested);
    }

    #[test]
    fn a_new_request_a_spec_change_and_observe_only_ask_for_a_listing() {
        let mut request = synced_task();
        request.metadata.annotations =
            Some([(SYNC_REQUEST_ANNOTATION.to_owned(), "r2".to_owned())].into());
        assert!(schedule(&request, 0).requested, "a new sync request");

        let mut edited = synced_task();
        edited.metadata.generation = Some(4);
        assert!(
            schedule(&edited, 0).requested,
            "the CallTask's spec changed"
        );

        let mut fresh = synced_task();
        fresh.status = None;
        assert!(schedule(&fresh, 0).requested, "never reconciled");

        let mut observe = synced_task();
        observe.spec.policy.management = ManagementPolicy::ObserveOnly;
        assert!(schedule(&observe, 0).requested, "ObserveOnly");
    }
}

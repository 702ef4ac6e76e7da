//! The per-CallTask series: set from the status each reconcile reports, removed when the
//! CallTask is deleted (no stale series of a task that no longer exists), and the phase a
//! reconcile ended in, for `callsync_reconcile_duration_seconds`.
use chrono::Utc;

use super::{ConditionLabels, ContactLabels, Metrics, ReconcileLabels, TaskLabels};
use crate::api::{CallTask, CallTaskStatus, ConditionStatus, ConditionType, find_condition};
use crate::controller::steps::report::Phase;

/// What the metrics remember of one CallTask between reconciles.
#[derive(Debug, Default)]
pub(super) struct TaskState {
    /// The condition series exported for the task (one per condition type).
    conditions: Vec<ConditionLabels>,
    /// The phase the running reconcile reported, taken when it ends.
    phase: Option<(&'static str, &'static str)>,
}

/// The label value of a phase.
fn phase_name(phase: &Phase) -> &'static str {
    match phase {
        Phase::InSync { .. } => "InSync",
        Phase::Progressing { .. } => "Progressing",
        Phase::Stalled { .. } => "Stalled",
        Phase::Suspended | Phase::ProviderSuspended { .. } => "Suspended",
    }
}

fn unix_seconds(time: chrono::DateTime<Utc>) -> i64 {
    time.timestamp()
}

impl Metrics {
    fn with_tasks<T>(
        &self,
        f: impl FnOnce(&mut std::collections::HashMap<TaskLabels, TaskState>) -> T,
    ) -> T {
        let mut tasks = self
            .tasks
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&mut tasks)
    }

    /// Sets the task's series from the status a reconcile reports (`status`, computed from
    /// `phase`) and remembers the phase for [`Metrics::reconcile_finished`].
    pub fn observe_task(&self, task: &CallTask, phase: &Phase, status: &CallTaskStatus) {
        let resync_interval = task.resync_interval();
        let labels = TaskLabels::of(task);
        let conditions: Vec<ConditionLabels> = status
            .conditions
            .iter()
            .map(|c| ConditionLabels {
                namespace: labels.namespace.clone(),
                calltask: labels.calltask.clone(),
                r#type: format!("{:?}", c.type_),
                status: match c.status {
                    ConditionStatus::True => "True",
                    ConditionStatus::False => "False",
                    ConditionStatus::Unknown => "Unknown",
                }
                .into(),
                reason: c.reason.clone(),
            })
            .collect();
        let first_seen = self.with_tasks(|tasks| {
            let first_seen = !tasks.contains_key(&labels);
            let state = tasks.entry(labels.clone()).or_default();
            for old in state.conditions.drain(..) {
                if !conditions.contains(&old) {
                    self.task_condition.remove(&old);
                }
            }
            for condition in &conditions {
                self.task_condition.get_or_create(condition).set(1);
            }
            state.conditions = conditions;
            state.phase = Some((phase_name(phase), phase.reason()));
            first_seen
        });
        if let Some(counts) = &status.contacts {
            for (state, value) in [
                ("desired", counts.desired),
                ("present", counts.present),
                ("pending", counts.pending),
                ("pending_add", counts.pending_add),
                ("pending_remove", counts.pending_remove),
                ("failed", counts.failed),
                ("not_removable", counts.not_removable),
            ] {
                self.contacts
                    .get_or_create(&ContactLabels {
                        namespace: labels.namespace.clone(),
                        calltask: labels.calltask.clone(),
                        state: state.into(),
                    })
                    .set(value);
            }
        }
        self.resync_interval
            .get_or_create(&labels)
            .set(i64::try_from(resync_interval.as_secs()).unwrap_or(i64::MAX));
        let last_success = self.last_successful_sync.get_or_create(&labels);
        if matches!(phase, Phase::InSync { .. }) {
            last_success.set(unix_seconds(Utc::now()));
        } else if first_seen {
            // First sight of the task in this process, and it is not in sync: the best record
            // of its last success is the status the previous process left. Ready=True then
            // means in sync until now; Ready=False since its transition time means no success
            // since; no condition at all means none since the task was created.
            let old = task.status.as_ref();
            let since = match old.and_then(|s| find_condition(&s.conditions, ConditionType::Ready))
            {
                Some(ready) if ready.status == ConditionStatus::True => Utc::now(),
                Some(ready) => ready.last_transition_time,
                None => task
                    .metadata
                    .creation_timestamp
                    .as_ref()
                    .and_then(|t| chrono::DateTime::<Utc>::from_timestamp(t.0.as_second(), 0))
                    .unwrap_or_else(Utc::now),
            };
            last_success.set(unix_seconds(since));
        }
    }

    /// Records one finished reconcile of `task`: the phase it reported, else `Deleted` (its
    /// cleanup finished: every series of the task is removed), `Error` with the error's reason,
    /// or `Requeued`.
    pub fn reconcile_finished(
        &self,
        task: &TaskLabels,
        deleting: bool,
        error: Option<&'static str>,
        seconds: f64,
    ) {
        let phase = self.with_tasks(|tasks| tasks.get_mut(task).and_then(|s| s.phase.take()));
        let (outcome, reason) = match (phase, error) {
            (Some(phase), _) => phase,
            (None, Some(reason)) => ("Error", reason),
            (None, None) if deleting => ("Deleted", "Deleted"),
            (None, None) => ("Requeued", "Requeued"),
        };
        self.reconcile_duration
            .get_or_create(&ReconcileLabels {
                namespace: task.namespace.clone(),
                outcome: outcome.into(),
                reason: reason.into(),
            })
            .observe(seconds);
        if deleting && error.is_none() {
            self.forget_task(task);
        }
    }

    /// Removes every series of a deleted CallTask.
    pub fn forget_task(&self, task: &TaskLabels) {
        if let Some(state) = self.with_tasks(|tasks| tasks.remove(task)) {
            for condition in &state.conditions {
                self.task_condition.remove(condition);
            }
        }
        for state in [
            "desired",
            "present",
            "pending",
            "pending_add",
            "pending_remove",
            "failed",
            "not_removable",
        ] {
            self.contacts.remove(&ContactLabels {
                namespace: task.namespace.clone(),
                calltask: task.calltask.clone(),
                state: state.into(),
            });
        }
        for family in [
            &self.contacts_added,
            &self.contacts_removed,
            &self.drift_found,
            &self.listings,
            &self.ledger_saves,
            &self.ledger_journal_saves,
            &self.ledger_seals,
            &self.ledger_written_bytes,
            &self.desired_builds,
            &self.desired_list_parses,
        ] {
            family.remove(task);
        }
        for family in [
            &self.ledger_bytes,
            &self.last_successful_sync,
            &self.resync_interval,
        ] {
            family.remove(task);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::steps::report::{Outcome, compute_status};

    fn task() -> CallTask {
        let mut task = CallTask::new(
            "renewals",
            serde_json::from_value(serde_json::json!({
                "providerRef": {"name": "acct"}, "taskId": "x",
                "contactLists": {"names": ["a"]}, "resyncInterval": "90s"
            }))
            .expect("spec"),
        );
        task.metadata.namespace = Some("campaigns".into());
        task
    }

    fn series(metrics: &Metrics, name: &str) -> Vec<String> {
        let text = metrics.encode().expect("encode");
        text.lines()
            .filter(|l| l.starts_with(name))
            .map(str::to_string)
            .collect()
    }

    /// Reports `phase` as report() does and returns the task carrying the new status.
    fn report(metrics: &Metrics, task: &CallTask, phase: &Phase) -> CallTask {
        let status = compute_status(task, phase, Outcome::default(), Utc::now());
        metrics.observe_task(task, phase, &status);
        let mut next = task.clone();
        next.status = Some(status);
        next
    }

    #[test]
    fn a_stalled_reconcile_is_labelled_with_its_phase_and_its_series_follow_the_status() {
        let metrics = Metrics::default();
        let labels = TaskLabels {
            namespace: "campaigns".into(),
            calltask: "renewals".into(),
        };
        let guard = Phase::Stalled {
            reason: "DeletionGuard",
            message: "too many".into(),
        };
        let task = report(&metrics, &task(), &guard);
        metrics.reconcile_finished(&labels, false, None, 0.01);
        let conditions = series(&metrics, "callsync_calltask_status_condition{");
        assert!(
            conditions.contains(&r#"callsync_calltask_status_condition{namespace="campaigns",calltask="renewals",type="Stalled",status="True",reason="DeletionGuard"} 1"#.to_string()),
            "{conditions:?}"
        );
        assert_eq!(
            conditions.len(),
            3,
            "one series per condition type: {conditions:?}"
        );
        assert_eq!(
            series(&metrics, "callsync_reconcile_duration_seconds_count"),
            vec![
                r#"callsync_reconcile_duration_seconds_count{namespace="campaigns",outcome="Stalled",reason="DeletionGuard"} 1"#
            ]
        );
        assert_eq!(
            series(&metrics, "callsync_calltask_resync_interval_seconds{"),
            vec![
                r#"callsync_calltask_resync_interval_seconds{namespace="campaigns",calltask="renewals"} 90"#
            ]
        );
        // Never in sync in this process and no Ready condition before: since creation (unset
        // here, so now), not absent, so "no successful sync" can fire.
        assert_eq!(
            series(&metrics, "callsync_calltask_last_successful_sync").len(),
            1
        );

        // In sync: the Stalled=True series is gone, not left beside Stalled=False.
        let in_sync = Phase::InSync {
            reason: "InSync",
            message: "ok".into(),
        };
        let before = Utc::now().timestamp();
        report(&metrics, &task, &in_sync);
        metrics.reconcile_finished(&labels, false, None, 0.01);
        let conditions = series(&metrics, "callsync_calltask_status_condition{");
        assert_eq!(conditions.len(), 3, "{conditions:?}");
        assert!(
            conditions
                .iter()
                .all(|c| !c.contains(r#"status="True",reason="DeletionGuard""#)),
            "{conditions:?}"
        );
        let last = &series(&metrics, "callsync_calltask_last_successful_sync")[0];
        let value: i64 = last
            .rsplit(' ')
            .next()
            .and_then(|v| v.parse().ok())
            .expect("value");
        assert!(value >= before, "{last}");

        // A failed reconcile that reported nothing is an Error with its reason.
        metrics.reconcile_finished(&labels, false, Some("KubernetesError"), 0.01);
        assert!(
            series(&metrics, "callsync_reconcile_duration_seconds_count")
                .contains(&r#"callsync_reconcile_duration_seconds_count{namespace="campaigns",outcome="Error",reason="KubernetesError"} 1"#.to_string())
        );

        // Deleted: no series of the task remains.
        metrics.contacts_added.get_or_create(&labels).inc();
        metrics.reconcile_finished(&labels, true, None, 0.01);
        let text = metrics.encode().expect("encode");
        assert!(!text.contains(r#"calltask="renewals""#), "{text}");
    }

    #[test]
    fn the_last_success_after_a_restart_comes_from_the_ready_condition() {
        let metrics = Metrics::default();
        let mut task = task();
        let stalled_since = Utc::now() - chrono::Duration::hours(3);
        task.status = Some(compute_status(
            &task,
            &Phase::Stalled {
                reason: "CredentialsRejected",
                message: "no".into(),
            },
            Outcome::default(),
            stalled_since,
        ));
        report(
            &metrics,
            &task,
            &Phase::Stalled {
                reason: "CredentialsRejected",
                message: "no".into(),
            },
        );
        assert_eq!(
            series(&metrics, "callsync_calltask_last_successful_sync"),
            vec![format!(
                r#"callsync_calltask_last_successful_sync_timestamp_seconds{{namespace="campaigns",calltask="renewals"}} {}"#,
                stalled_since.timestamp()
            )]
        );
    }
}

//! Report: the CallTask's status (server-side apply, one field manager, only when it changed),
//! Events on transitions, metrics. Status is computed by pure functions from what the sync did.
use chrono::{DateTime, Utc};
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::events::{Event, EventType};
use kube::{Resource, ResourceExt};
use serde_json::json;

use crate::api::{
    CallTask, CallTaskStatus, Condition, ConditionStatus, ConditionType, ContactCounts,
    ContactFailure, FIELD_MANAGER, LastSync, find_condition, set_condition,
};
use crate::controller::context::Context;

/// Where a CallTask stands, in kstatus terms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Everything desired and possible is done: Ready=True.
    InSync {
        reason: &'static str,
        message: String,
    },
    /// Work remains or a retryable problem: Reconciling=True, Ready=False.
    Progressing {
        reason: &'static str,
        message: String,
    },
    /// A person must act: Stalled=True, Ready=False.
    Stalled {
        reason: &'static str,
        message: String,
    },
    /// `spec.suspend`: nothing happens, Ready=False, neither Reconciling nor Stalled.
    Suspended,
}

impl Phase {
    pub fn reason(&self) -> &'static str {
        match self {
            Self::InSync { reason, .. }
            | Self::Progressing { reason, .. }
            | Self::Stalled { reason, .. } => reason,
            Self::Suspended => "Suspended",
        }
    }

    fn message(&self) -> String {
        match self {
            Self::InSync { message, .. }
            | Self::Progressing { message, .. }
            | Self::Stalled { message, .. } => message.clone(),
            Self::Suspended => "spec.suspend is true: no provider calls".into(),
        }
    }
}

/// What a reconcile found and did, for the status.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    pub counts: Option<ContactCounts>,
    pub failures: Vec<ContactFailure>,
    /// Set when the sync changed something (or on the first sync).
    pub last_sync: Option<LastSync>,
    pub desired_digest: Option<String>,
}

/// The new status. Pure: `now` is passed in; conditions keep their transition time when their
/// status did not flip; fields the outcome does not know keep their old values.
pub fn compute_status(
    task: &CallTask,
    phase: &Phase,
    outcome: Outcome,
    now: DateTime<Utc>,
) -> CallTaskStatus {
    let old = task.status.clone().unwrap_or_default();
    let generation = task.metadata.generation;
    let mut conditions = old.conditions.clone();
    let (ready, reconciling, stalled) = match phase {
        Phase::InSync { .. } => (true, false, false),
        Phase::Progressing { .. } => (false, true, false),
        Phase::Stalled { .. } => (false, false, true),
        Phase::Suspended => (false, false, false),
    };
    let message = phase.message();
    let reason = phase.reason();
    let mut set = |type_, value: bool, reason: &str, message: &str| {
        set_condition(
            &mut conditions,
            Condition {
                type_,
                status: ConditionStatus::from_bool(value),
                reason: reason.into(),
                message: message.into(),
                last_transition_time: now,
                observed_generation: generation,
            },
        )
    };
    set(ConditionType::Ready, ready, reason, &message);
    if reconciling {
        set(ConditionType::Reconciling, true, reason, &message);
    } else {
        set(ConditionType::Reconciling, false, reason, "");
    }
    if stalled {
        set(ConditionType::Stalled, true, reason, &message);
    } else {
        set(ConditionType::Stalled, false, reason, "");
    }
    CallTaskStatus {
        observed_generation: generation,
        conditions,
        contacts: outcome.counts.or(old.contacts),
        failures: outcome.failures,
        last_sync: outcome.last_sync.or(old.last_sync),
        desired_digest: outcome.desired_digest.or(old.desired_digest),
    }
}

/// Applies `status` to the CallTask's status subresource.
pub async fn apply_status(
    api: &Api<CallTask>,
    name: &str,
    status: &CallTaskStatus,
) -> Result<(), kube::Error> {
    let patch = json!({
        "apiVersion": "callsync.io/v1alpha1",
        "kind": "CallTask",
        "status": status,
    });
    api.patch_status(
        name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await
    .map(|_| ())
}

/// Writes the status when it differs from the task's current one; publishes an Event when the
/// Ready reason changed. Returns whether the status was written.
pub async fn report(
    task: &CallTask,
    ctx: &Context,
    phase: &Phase,
    outcome: Outcome,
) -> Result<bool, kube::Error> {
    let status = compute_status(task, phase, outcome, Utc::now());
    if task.status.as_ref() == Some(&status) {
        return Ok(false);
    }
    let api: Api<CallTask> =
        Api::namespaced(ctx.client.clone(), &task.namespace().unwrap_or_default());
    apply_status(&api, &task.name_any(), &status).await?;

    let old_reason = task
        .status
        .as_ref()
        .and_then(|s| find_condition(&s.conditions, ConditionType::Ready))
        .map(|c| c.reason.clone());
    if old_reason.as_deref() != Some(phase.reason()) {
        let type_ = match phase {
            Phase::Stalled { .. } => EventType::Warning,
            Phase::Progressing { reason, .. } if *reason != "Progressing" => EventType::Warning,
            _ => EventType::Normal,
        };
        publish(
            ctx,
            task,
            type_,
            phase.reason(),
            "Sync",
            Some(phase.message()),
        )
        .await;
    }
    Ok(true)
}

/// Publishes an Event about `task`. Failures to publish are logged, never fatal. `note` must
/// hold masked phones only.
pub async fn publish(
    ctx: &Context,
    task: &CallTask,
    type_: EventType,
    reason: &str,
    action: &str,
    note: Option<String>,
) {
    let event = Event {
        type_,
        reason: reason.into(),
        note,
        action: action.into(),
        secondary: None,
    };
    if let Err(error) = ctx.recorder.publish(&event, &task.object_ref(&())).await {
        tracing::warn!(%error, calltask = %task.name_any(), "cannot publish Event");
    }
}

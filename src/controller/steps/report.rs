//! Report: the CallTask's status (server-side apply, one field manager, only when it changed),
//! Events on transitions, metrics. Status is computed by pure functions from what the sync did.
use chrono::{DateTime, Utc};
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::events::{Event, EventType};
use kube::{Resource, ResourceExt};
use serde_json::json;

use crate::api::reasons;
use crate::api::{
    CallTask, CallTaskStatus, Condition, ConditionStatus, ConditionType, ContactCounts,
    ContactFailure, FIELD_MANAGER, LastSync, find_condition, set_condition,
};
use crate::contacts::DesiredSet;
use crate::controller::context::Context;
use crate::controller::steps::desired::conflict_note;
use crate::plan::GuardDecision;
use crate::providers::{ErrorClass, ProviderError};
use crate::sync::SyncReport;

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
    /// The CallProvider (named) has `spec.suspend`: like `Suspended`, for every task of the
    /// account at once.
    ProviderSuspended { provider: String },
}

impl Phase {
    pub fn reason(&self) -> &'static str {
        match self {
            Self::InSync { reason, .. }
            | Self::Progressing { reason, .. }
            | Self::Stalled { reason, .. } => reason,
            Self::Suspended => reasons::SUSPENDED,
            Self::ProviderSuspended { .. } => reasons::PROVIDER_SUSPENDED,
        }
    }

    fn message(&self) -> String {
        match self {
            Self::InSync { message, .. }
            | Self::Progressing { message, .. }
            | Self::Stalled { message, .. } => message.clone(),
            Self::Suspended => "spec.suspend is true: no provider calls".into(),
            Self::ProviderSuspended { provider } => format!(
                "CallProvider {provider} has spec.suspend true: no provider calls for this task until it is false"
            ),
        }
    }
}

/// What a sync that ran to its end (not stopped by the provider, not blocked by the guard,
/// nothing in doubt) may claim. Every figure is what the provider confirmed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncClaims {
    /// Desired (valid, deduplicated) contacts.
    pub desired: u64,
    /// Of those, confirmed at the provider ([`crate::sync::ExecuteReport::confirmed_desired`]).
    pub confirmed: u64,
    /// Entries of the ContactLists that are not valid numbers (never part of the desired set).
    pub invalid_in_files: u64,
    /// Desired contacts the account's phone format cannot carry (never sent; invalid for it).
    pub not_sendable: u64,
    /// Contacts the provider refused in this sync.
    pub refused: u64,
    /// Contacts no longer desired that the provider still holds and may still call, which
    /// callsync cannot remove ([`crate::plan::NotRemovableReason::keeps_a_callable_contact`]:
    /// a console contact, `ForeignContact`, or one listed without an id, `NoRemoteId`).
    /// Contacts kept because they were already called are not counted: they will not be called
    /// again.
    pub not_removable: u64,
    /// The task is ObserveOnly: nothing was written.
    pub observe_only: bool,
    /// Appended to the message (ContactLists that disagree, for instance).
    pub note: String,
}

/// The phase of a finished sync: `InSync` only when every desired contact the account can
/// carry is confirmed at the provider, the provider refused none and holds no contact callsync
/// should have removed but cannot; refusals and contacts a person must delete are `Stalled`,
/// contacts not confirmed yet `Progressing`.
pub fn finished_phase(claims: &SyncClaims) -> Phase {
    let SyncClaims {
        desired,
        confirmed,
        invalid_in_files,
        not_sendable,
        refused,
        not_removable,
        observe_only,
        note,
    } = claims;
    if *not_removable > 0 {
        // The provider differs from the desired set and may call these people; only a person
        // can delete them (the ForeignContacts Warning Event says the same).
        return Phase::Stalled {
            reason: reasons::CONTACTS_NOT_REMOVABLE,
            message: format!(
                "{not_removable} contacts no longer wanted are still in the provider's task and callsync cannot remove them (added outside callsync, under ids it does not know; see status.contacts.notRemovable); delete them in the provider's console. {confirmed} of {desired} desired contacts are at the provider{note}"
            ),
        };
    }
    if *refused > 0 {
        return Phase::Stalled {
            reason: reasons::CONTACTS_REFUSED,
            message: format!(
                "{refused} contacts were refused by the provider (see status.failures); {confirmed} of {desired} desired contacts are at the provider. Fix or remove them in the ContactLists{note}"
            ),
        };
    }
    if confirmed + not_sendable < *desired {
        if *observe_only {
            return Phase::Stalled {
                reason: reasons::OBSERVE_ONLY,
                message: format!(
                    "{confirmed} of {desired} desired contacts are at the provider; nothing is written (policy.management ObserveOnly){note}"
                ),
            };
        }
        return Phase::Progressing {
            reason: reasons::UNCONFIRMED,
            message: format!(
                "{confirmed} of {desired} desired contacts are confirmed at the provider; observing again{note}"
            ),
        };
    }
    let left_out = invalid_in_files + not_sendable;
    if left_out > 0 {
        return Phase::InSync {
            reason: reasons::INVALID_CONTACTS,
            message: format!(
                "{confirmed} contacts in sync; {left_out} invalid or refused contacts are left out (see status.failures and the ContactLists' status){note}"
            ),
        };
    }
    Phase::InSync {
        reason: reasons::IN_SYNC,
        message: format!("{confirmed} contacts in sync{note}"),
    }
}

/// The phase a provider error leaves a task in: retryable errors are Progressing (retried
/// with back-off), the others Stalled until a person acts.
pub fn provider_phase(error: &ProviderError) -> Phase {
    let message = error.to_string();
    let reason = provider_ready_reason(error);
    match error.class() {
        ErrorClass::Retryable => Phase::Progressing { reason, message },
        ErrorClass::Terminal => Phase::Stalled { reason, message },
    }
}

/// The Ready reason of a provider error: coarser than [`ProviderError::reason`] (the metrics'
/// and Events' word), because what a person does is the same for a timeout as for a refused
/// connection, and for a wrong signature as for a wrong token. Exhaustive, so a new error must
/// choose one of [`reasons::CALL_TASK`].
fn provider_ready_reason(error: &ProviderError) -> &'static str {
    match error {
        ProviderError::Unreachable { .. }
        | ProviderError::Timeout { .. }
        | ProviderError::ServerError { .. } => reasons::PROVIDER_UNREACHABLE,
        ProviderError::RateLimited { .. } => reasons::RATE_LIMITED,
        ProviderError::Busy { .. } => reasons::PROVIDER_BUSY,
        ProviderError::ImportRunning { .. } => reasons::IMPORT_RUNNING,
        ProviderError::InvalidResponse { .. } => reasons::INVALID_RESPONSE,
        ProviderError::CredentialsUnavailable { .. } => reasons::CREDENTIALS_UNAVAILABLE,
        ProviderError::CredentialsRejected { .. }
        | ProviderError::SignatureRejected { .. }
        | ProviderError::CredentialsMissing { .. } => reasons::CREDENTIALS_REJECTED,
        ProviderError::ClockSkew { .. } => reasons::CLOCK_SKEW,
        ProviderError::BatchTooLarge { .. } => reasons::BATCH_TOO_LARGE,
        ProviderError::Rejected { .. } => reasons::REQUEST_REJECTED,
        ProviderError::TaskRunning { .. } => reasons::TASK_RUNNING,
        ProviderError::ResumeFailed { .. } => reasons::TASK_LEFT_PAUSED,
        ProviderError::TaskNotFound { .. } => reasons::TASK_NOT_FOUND,
        ProviderError::SecretNotOptedIn(_) => reasons::SECRET_NOT_OPTED_IN,
        ProviderError::Config(_) => reasons::INVALID_PROVIDER_CONFIG,
    }
}

/// The phase after a sync: the provider's error when one stopped it, the deletion guard when it
/// tripped, Progressing while contacts are in doubt, a Warning the provider gave, else what a
/// finished sync may claim ([`finished_phase`]). Pure.
pub fn phase_after(report: &SyncReport, desired: &DesiredSet, observe_only: bool) -> Phase {
    let executed = &report.executed;
    let in_doubt = report.in_doubt();
    if let Some(error) = &executed.stopped_by {
        provider_phase(error)
    } else if let GuardDecision::Tripped { removes, limit, .. } = report.plan.guard {
        Phase::Stalled {
            reason: reasons::DELETION_GUARD,
            message: format!(
                "the sync would remove {removes} contacts, more than maxDeletePercent allows ({limit}); removals are blocked, adds continue. Raise spec.policy.maxDeletePercent or change the ContactLists"
            ),
        }
    } else if in_doubt > 0 {
        Phase::Progressing {
            reason: reasons::PROGRESSING,
            message: format!("{in_doubt} contacts await confirmation from the provider"),
        }
    } else if let Some(alert) = &executed.alert {
        Phase::Stalled {
            reason: provider_ready_reason(alert),
            message: alert.to_string(),
        }
    } else {
        finished_phase(&SyncClaims {
            desired: desired.len() as u64,
            confirmed: report.confirmed_desired(),
            invalid_in_files: desired.invalid_count(),
            not_sendable: executed.not_sendable,
            refused: executed.failed - executed.not_sendable,
            not_removable: report.callable_not_removable(),
            observe_only,
            note: conflict_note(desired),
        })
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
    /// When the ledger was last settled against a full listing.
    pub last_listing: Option<DateTime<Utc>>,
    /// After a sync, the ledger Secret the store then holds (`Some(None)`: none was saved);
    /// `None` keeps what the status says (`status.ledger`).
    pub ledger: Option<Option<String>>,
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
        Phase::Suspended | Phase::ProviderSuspended { .. } => (false, false, false),
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
        last_handled_sync_request: old.last_handled_sync_request,
        // The later: a ledger loaded from its Secret may predate a listing only the status
        // recorded.
        last_listing: outcome.last_listing.max(old.last_listing),
        ledger: outcome.ledger.unwrap_or(old.ledger),
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
    let mut status = compute_status(task, phase, outcome, Utc::now());
    // Every reconcile that gets here has finished its sync (or found why it cannot run): the
    // request it started from is handled, whatever the phase (`callsync sync --wait`).
    if let Some(request) = task.sync_request() {
        status.last_handled_sync_request = Some(request.to_owned());
    }
    ctx.metrics.observe_task(task, phase, &status);
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
            Phase::Progressing { reason, .. } if *reason != reasons::PROGRESSING => {
                EventType::Warning
            }
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

/// The Events of a finished sync: the provider's Warning when it gave one, `Synced` when the
/// provider's task changed, and `ForeignContacts` when contacts no longer wanted stay there
/// because callsync cannot remove them (pending at the provider, maybe still called).
pub async fn publish_sync_events(ctx: &Context, task: &CallTask, report: &SyncReport) {
    let executed = &report.executed;
    if let Some(alert) = &executed.alert {
        let note = Some(alert.to_string());
        publish(ctx, task, EventType::Warning, alert.reason(), "Sync", note).await;
    }
    if report.changed() {
        tracing::info!(
            calltask = %task.name_any(),
            namespace = %task.namespace().unwrap_or_default(),
            added = executed.added,
            removed = executed.removed,
            "synced"
        );
        let already = match executed.already_present {
            0 => String::new(),
            n => format!(", {n} already at the provider (not added by callsync)"),
        };
        let note = format!(
            "added {}, removed {}{already}",
            executed.added, executed.removed
        );
        publish(ctx, task, EventType::Normal, "Synced", "Sync", Some(note)).await;
    }
    let foreign = report.foreign();
    if foreign > 0 {
        let note = format!(
            "{foreign} contacts no longer wanted are still in the provider's task: they were there before callsync added them (under ids callsync does not know), so callsync cannot remove them (notRemovable, ForeignContact); delete them in the provider's console"
        );
        publish(
            ctx,
            task,
            EventType::Warning,
            "ForeignContacts",
            "Sync",
            Some(note),
        )
        .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A report of a sync of `desired` contacts, all in sync, and nothing executed.
    fn quiet_report(desired: &DesiredSet) -> SyncReport {
        let caps = crate::plan::Capabilities {
            max_add: 10,
            max_remove: 10,
            can_list: false,
            identity: crate::plan::Identity::RemoteId,
        };
        let policy = crate::plan::PlanPolicy::from(&crate::api::SyncPolicy::default());
        let ledger = crate::ledger::Ledger::fresh(Some("uid"));
        SyncReport {
            plan: crate::plan::plan(desired.keys(), &None, &ledger, &policy, &caps),
            observation: crate::sync::Observation::default(),
            executed: crate::sync::ExecuteReport::default(),
        }
    }

    /// What stops or holds a sync comes before what it may claim: the provider's error, the
    /// deletion guard, then contacts still in doubt; only then the finished sync's claims.
    #[test]
    fn phase_after_puts_errors_the_guard_and_doubt_before_claims() {
        let desired = DesiredSet::default();
        let quiet = quiet_report(&desired);
        assert_eq!(
            phase_after(&quiet, &desired, false).reason(),
            reasons::IN_SYNC
        );

        let mut doubt = quiet_report(&desired);
        doubt.executed.unknown = 2;
        assert_eq!(
            phase_after(&doubt, &desired, false),
            Phase::Progressing {
                reason: reasons::PROGRESSING,
                message: "2 contacts await confirmation from the provider".into(),
            }
        );
        let mut awaited = quiet_report(&desired);
        awaited.observation.settled.adds_awaited = 1;
        assert_eq!(
            phase_after(&awaited, &desired, false).reason(),
            reasons::PROGRESSING
        );

        let mut guarded = quiet_report(&desired);
        guarded.executed.unknown = 2;
        guarded.plan.guard = GuardDecision::Tripped {
            removes: 9,
            limit: 5,
            remote: 10,
        };
        assert_eq!(
            phase_after(&guarded, &desired, false).reason(),
            reasons::DELETION_GUARD
        );

        let mut stopped = guarded;
        stopped.executed.stopped_by = Some(ProviderError::RateLimited { retry_after: None });
        assert_eq!(
            phase_after(&stopped, &desired, false).reason(),
            reasons::RATE_LIMITED
        );
    }

    fn claims(desired: u64, confirmed: u64) -> SyncClaims {
        SyncClaims {
            desired,
            confirmed,
            ..SyncClaims::default()
        }
    }

    #[test]
    fn in_sync_names_the_confirmed_count() {
        let phase = finished_phase(&claims(3, 3));
        assert_eq!(
            phase,
            Phase::InSync {
                reason: "InSync",
                message: "3 contacts in sync".into()
            }
        );
    }

    /// "Provider truth": refused contacts were reported InSync (reason InvalidContacts).
    #[test]
    fn refused_contacts_are_never_in_sync() {
        let phase = finished_phase(&SyncClaims {
            refused: 1,
            ..claims(3, 2)
        });
        assert!(
            matches!(phase, Phase::Stalled { reason: "ContactsRefused", ref message } if message.starts_with("1 contacts were refused by the provider (see status.failures); 2 of 3")),
            "{phase:?}"
        );
    }

    /// ObserveOnly wrote nothing and claimed every desired contact in sync.
    #[test]
    fn unconfirmed_contacts_are_never_in_sync() {
        let observe = finished_phase(&SyncClaims {
            observe_only: true,
            ..claims(3, 1)
        });
        assert_eq!(observe.reason(), "ObserveOnly");
        assert!(matches!(observe, Phase::Stalled { .. }), "{observe:?}");
        let full = finished_phase(&claims(3, 1));
        assert!(
            matches!(
                full,
                Phase::Progressing {
                    reason: "Unconfirmed",
                    ..
                }
            ),
            "{full:?}"
        );
    }

    /// "Provider truth": a contact no longer wanted that callsync cannot remove (a console
    /// contact at NXLink) was reported InSync next to the ForeignContacts Warning Event.
    #[test]
    fn contacts_callsync_cannot_remove_are_never_in_sync() {
        let phase = finished_phase(&SyncClaims {
            not_removable: 1,
            ..claims(3, 3)
        });
        assert!(
            matches!(phase, Phase::Stalled { reason: "ContactsNotRemovable", ref message } if message.starts_with("1 contacts no longer wanted are still in the provider's task and callsync cannot remove them")),
            "{phase:?}"
        );
        // Before refusals: deleting them is the more urgent act (they may be called).
        let both = finished_phase(&SyncClaims {
            not_removable: 1,
            refused: 1,
            ..claims(3, 2)
        });
        assert_eq!(both.reason(), "ContactsNotRemovable");
    }

    /// Invalid entries and numbers the account cannot carry are left out, as before; the count
    /// in sync is the confirmed one.
    #[test]
    fn invalid_entries_and_numbers_the_account_cannot_carry_are_left_out() {
        let phase = finished_phase(&SyncClaims {
            invalid_in_files: 1,
            not_sendable: 1,
            ..claims(3, 2)
        });
        assert_eq!(
            phase,
            Phase::InSync {
                reason: "InvalidContacts",
                message: "2 contacts in sync; 2 invalid or refused contacts are left out (see status.failures and the ContactLists' status)".into()
            }
        );
    }
}

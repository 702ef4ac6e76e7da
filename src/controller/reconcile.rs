//! One CallTask's reconcile: the finalizer, then the pipeline steps in order. This module only
//! sequences and decides what happens next (requeue, backoff, wait for a change).
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::runtime::finalizer::{Event as Finalizer, finalizer};
use kube::runtime::reflector::ObjectRef;

use super::context::Context;
use super::metrics::{RequestLabels, TaskLabels};
use super::pause_journal::{self, AnnotationPauseJournal};
use super::steps::report::{
    Outcome, Phase, SyncClaims, compute_status, finished_phase, publish, report,
};
use super::steps::sink::SecretSink;
use super::steps::{desired, load};
use crate::api::{
    CLEANUP_FINALIZER, CallTask, ContactCounts, ContactFailure, ContentChangePolicy,
    DeletionPolicy, LastSync, ManagementPolicy,
};
use crate::api::{parse_duration, reasons};
use crate::contacts::DesiredSet;
use crate::ledger::EntryState;
use crate::plan::{self, Plan, PlanPolicy};
use crate::providers::factory::build_provider_with;
use crate::providers::{
    AccountKey, AnyProvider, ErrorClass, Provider, ProviderError, SecretCredentials, TaskRef,
};
use crate::sync::{self, SyncSink, WireFormat};

/// How soon a task whose only doubt is a provider batch still processing (longlonglong's
/// async add, `sync::observe`) is looked at again.
const AWAITED_BATCH_RECHECK: Duration = Duration::from_secs(30);

/// Why a reconcile failed; failures are retried with per-object backoff.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    #[error("finalizer: {0}")]
    Finalizer(String),
    #[error("{message}")]
    Transient {
        reason: &'static str,
        message: String,
    },
}

impl From<load::LoadError> for ReconcileError {
    fn from(e: load::LoadError) -> Self {
        Self::Transient {
            reason: e.reason(),
            message: e.to_string(),
        }
    }
}

impl From<crate::controller::ledger_store::LedgerStoreError> for ReconcileError {
    fn from(e: crate::controller::ledger_store::LedgerStoreError) -> Self {
        Self::Transient {
            reason: e.reason(),
            message: e.to_string(),
        }
    }
}

impl From<sync::SinkError> for ReconcileError {
    fn from(e: sync::SinkError) -> Self {
        Self::Transient {
            reason: e.reason,
            message: e.message,
        }
    }
}

impl ReconcileError {
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Kube(_) => reasons::KUBERNETES_ERROR,
            Self::Finalizer(_) => "FinalizerError",
            Self::Transient { reason, .. } => reason,
        }
    }
}

/// Entry point for kube's Controller.
pub async fn reconcile(task: Arc<CallTask>, ctx: Arc<Context>) -> Result<Action, ReconcileError> {
    let started = Instant::now();
    let namespace = task.namespace().unwrap_or_default();
    let api: Api<CallTask> = Api::namespaced(ctx.client.clone(), &namespace);
    let result = finalizer(&api, CLEANUP_FINALIZER, task.clone(), |event| async {
        match event {
            Finalizer::Apply(task) => apply(&task, &ctx).await,
            Finalizer::Cleanup(task) => cleanup(&task, &ctx).await,
        }
    })
    .await
    .map_err(|e| match e {
        kube::runtime::finalizer::Error::ApplyFailed(e)
        | kube::runtime::finalizer::Error::CleanupFailed(e) => e,
        other => ReconcileError::Finalizer(other.to_string()),
    });
    // Labelled with the phase the reconcile reported (report() tells the metrics), so a Stalled
    // task is not counted like an InSync one.
    ctx.metrics.reconcile_finished(
        &task_labels(&task),
        task.metadata.deletion_timestamp.is_some(),
        result.as_ref().err().map(ReconcileError::reason),
        started.elapsed().as_secs_f64(),
    );
    let key = ObjectRef::from_obj(task.as_ref());
    if result.is_ok() {
        ctx.failures.reset(&key);
    }
    result
}

/// After a failed reconcile: exponential backoff per object, capped.
pub fn error_policy(task: Arc<CallTask>, error: &ReconcileError, ctx: Arc<Context>) -> Action {
    let failures = ctx
        .failures
        .record_failure(&ObjectRef::from_obj(task.as_ref()));
    let delay = ctx.settings.backoff.delay(failures, rand::random::<f64>());
    tracing::warn!(calltask = %task.name_any(), namespace = %task.namespace().unwrap_or_default(), %error, failures, ?delay, "reconcile failed");
    Action::requeue(delay)
}

/// The longest resync interval honoured. Longer values (the schema's pattern allows any number
/// of digits) are clamped: a week without drift detection is already more than anyone means.
pub const MAX_RESYNC_INTERVAL: Duration = Duration::from_secs(7 * 24 * 3600);

pub(crate) fn resync_interval(task: &CallTask) -> Duration {
    parse_duration(&task.spec.resync_interval)
        .unwrap_or(Duration::from_secs(600))
        .min(MAX_RESYNC_INTERVAL)
}

fn count(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn task_labels(task: &CallTask) -> TaskLabels {
    TaskLabels {
        namespace: task.namespace().unwrap_or_default(),
        calltask: task.name_any(),
    }
}

/// Builds the provider client of a task's account. Credentials are read from the Secret at
/// call time, so a rotated Secret takes effect without a restart.
fn provider_for(
    task: &CallTask,
    provider: &crate::api::CallProvider,
    ctx: &Context,
) -> Result<AnyProvider, ProviderError> {
    let namespace = provider.namespace().unwrap_or_default();
    let account = AccountKey::new(
        namespace.clone(),
        provider.name_any(),
        provider.uid().unwrap_or_default(),
    );
    let credentials =
        SecretCredentials::for_provider(ctx.client.clone(), &namespace, &provider.spec)?;
    let settings = crate::providers::ClientSettings {
        pause_journal: Some(Arc::new(AnnotationPauseJournal::new(
            ctx.client.clone(),
            task,
        ))),
        ..ctx.settings.clients.clone()
    };
    build_provider_with(
        &account,
        &provider.spec,
        task.spec.longlonglong.as_ref(),
        Arc::new(credentials),
        &ctx.limiters,
        &settings,
    )
}

fn provider_phase(error: &ProviderError) -> Phase {
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

/// Reports a phase and decides the next action: retryable problems back off, terminal ones wait
/// for a change (with a slow recheck, since a fix at the provider sends no watch event).
async fn settle(
    task: &CallTask,
    ctx: &Context,
    phase: Phase,
    outcome: Outcome,
) -> Result<Action, ReconcileError> {
    report(task, ctx, &phase, outcome).await?;
    match phase {
        Phase::Progressing { reason, message } => {
            Err(ReconcileError::Transient { reason, message })
        }
        Phase::Stalled { .. } => Ok(Action::requeue(
            resync_interval(task).max(Duration::from_secs(300)),
        )),
        // A change of the CallProvider wakes its tasks (`tasks_for_provider`).
        Phase::Suspended | Phase::ProviderSuspended { .. } => Ok(Action::await_change()),
        Phase::InSync { .. } => Ok(Action::requeue(resync_interval(task))),
    }
}

async fn apply(task: &CallTask, ctx: &Context) -> Result<Action, ReconcileError> {
    if task.spec.suspend {
        return settle(task, ctx, Phase::Suspended, Outcome::default()).await;
    }
    let started = Instant::now();
    let loaded = match load::load(task, ctx).await {
        Ok(loaded) => loaded,
        Err(error) if error.is_transient() => {
            let phase = Phase::Progressing {
                reason: error.reason(),
                message: error.to_string(),
            };
            return settle(task, ctx, phase, Outcome::default()).await;
        }
        Err(error) => {
            let phase = Phase::Stalled {
                reason: error.reason(),
                message: error.to_string(),
            };
            return settle(task, ctx, phase, Outcome::default()).await;
        }
    };
    if loaded.provider.spec.suspend {
        let phase = Phase::ProviderSuspended {
            provider: loaded.provider.name_any(),
        };
        return settle(task, ctx, phase, Outcome::default()).await;
    }
    // Acting on a lagging ContactList cache (lists applied a moment before the task, as GitOps
    // does) would remove contacts still desired, the one way to lose data, or sync part of the
    // set and then list the whole provider task again when the rest arrives. One metadata-only
    // read of the API server, before any provider call, confirms the cache.
    if !load::lists_are_current(task, &loaded.lists, ctx).await? {
        tracing::debug!(calltask = %task.name_any(), "ContactList cache lags the API server; waiting");
        return Ok(Action::requeue(Duration::from_millis(500)));
    }
    let desired_set =
        ctx.desired
            .get_or_build(&task.uid().unwrap_or_default(), &loaded.lists, |lists| {
                ctx.metrics
                    .desired_builds
                    .get_or_create(&task_labels(task))
                    .inc();
                // Seconds of CPU at 1M contacts: off the async workers (see `offload`).
                crate::controller::offload::cpu_heavy(|| desired::build(lists))
            });
    let desired: &DesiredSet = &desired_set;
    desired::report_lists(&ctx.client, &loaded.lists, desired).await?;
    report_conflicts(task, ctx, desired).await;

    let provider = match provider_for(task, &loaded.provider, ctx) {
        Ok(provider) => provider,
        Err(error) => return settle(task, ctx, provider_phase(&error), Outcome::default()).await,
    };
    let wire = WireFormat::of(&loaded.provider.spec);
    let task_ref = TaskRef::of_task(&task.spec);
    // A pause a killed process never undid: the task is started again before anything else.
    if pause_journal::recorded(task)
        && let Err(error) = provider.resume_left_paused(&task_ref).await
    {
        return settle(task, ctx, provider_phase(&error), Outcome::default()).await;
    }
    let mut ledger = loaded.ledger;

    let policy = PlanPolicy::from(&task.spec.policy);
    let (observation, plan) =
        match sync::observe_and_plan(&provider, &task_ref, &wire, desired, &mut ledger, &policy)
            .await
        {
            Ok(observed_and_planned) => observed_and_planned,
            Err(error) => {
                record_requests(ctx, provider.kind(), "list", 1, Some(&error));
                return settle(task, ctx, provider_phase(&error), Outcome::default()).await;
            }
        };
    // Created at 0 by the first observation, like the added and removed counters, so
    // dashboards show "no drift" rather than no data.
    ctx.metrics
        .drift_found
        .get_or_create(&task_labels(task))
        .inc_by(observation.settled.drift_removed);

    // Progress written while the sync runs must not keep saying Ready=True from the last sync:
    // a reader (kubectl wait, Argo CD, a test) would take the new counts for a finished sync.
    let progress_status = progress_status(task, &plan, &ledger, &observation, desired);
    let mut sink = SecretSink::new(
        &loaded.ledger_store,
        loaded.ledger_version,
        task,
        progress_status,
        ctx.settings.progress_interval,
    );
    // Settled in-flight entries must reach the Secret even when the plan is empty.
    if observation.settled.changed_ledger() {
        sink.save_ledger(&ledger).await?;
    }
    let executed = sync::execute(
        &provider,
        &task_ref,
        &wire,
        desired,
        &plan,
        &mut ledger,
        &mut sink,
    )
    .await?;

    // The final status starts from what the API server holds: the progress status when one was
    // written, so Ready's transition time says when this sync finished.
    let with_progress;
    let task = if sink.progress_written {
        let mut current = task.clone();
        current.status = Some(sink.status.clone());
        with_progress = current;
        &with_progress
    } else {
        task
    };
    let labels = task_labels(task);
    ctx.metrics
        .contacts_added
        .get_or_create(&labels)
        .inc_by(executed.added);
    ctx.metrics
        .contacts_removed
        .get_or_create(&labels)
        .inc_by(executed.removed);
    if sink.saves > 0 {
        ctx.metrics
            .ledger_saves
            .get_or_create(&labels)
            .inc_by(sink.saves);
        ctx.metrics
            .ledger_bytes
            .get_or_create(&labels)
            .set(i64::try_from(sink.ledger_bytes).unwrap_or(i64::MAX));
    }

    let contact_counts = counts(
        &plan,
        &ledger,
        &observation,
        desired.len() as u64,
        executed.added + executed.already_present,
        executed.removed,
    );
    let changed = executed.added + executed.removed > 0;
    let first = task
        .status
        .as_ref()
        .and_then(|s| s.last_sync.as_ref())
        .is_none();
    let outcome = Outcome {
        counts: Some(ContactCounts {
            failed: count(executed.failed + desired.invalid_count()),
            ..contact_counts
        }),
        failures: executed
            .failures
            .iter()
            .map(|f| ContactFailure {
                phone: f.phone.clone(),
                reason: f.reason.clone(),
            })
            .collect(),
        last_sync: (changed || first).then(|| LastSync {
            time: Utc::now(),
            added: count(executed.added),
            removed: count(executed.removed),
            api_calls: count(observation.requests + executed.requests),
            duration_ms: i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX),
        }),
        desired_digest: Some(desired.digest.clone()),
    };
    if let Some(alert) = &executed.alert {
        publish(
            ctx,
            task,
            EventType::Warning,
            alert.reason(),
            "Sync",
            Some(alert.to_string()),
        )
        .await;
    }
    if changed {
        tracing::info!(
            calltask = %task.name_any(),
            namespace = %task.namespace().unwrap_or_default(),
            added = executed.added,
            removed = executed.removed,
            "synced"
        );
        publish(
            ctx,
            task,
            EventType::Normal,
            "Synced",
            "Sync",
            Some(format!(
                "added {}, removed {}{}",
                executed.added,
                executed.removed,
                match executed.already_present {
                    0 => String::new(),
                    n => format!(", {n} already at the provider (not added by callsync)"),
                }
            )),
        )
        .await;
    }

    let foreign = plan
        .not_removable
        .iter()
        .filter(|n| n.reason == plan::NotRemovableReason::ForeignContact)
        .count();
    if foreign > 0 {
        // Pending at the provider, maybe still called, and callsync cannot remove them.
        publish(
            ctx,
            task,
            EventType::Warning,
            "ForeignContacts",
            "Sync",
            Some(format!(
                "{foreign} contacts no longer wanted are still in the provider's task: they were there before callsync added them (under ids callsync does not know), so callsync cannot remove them (notRemovable, ForeignContact); delete them in the provider's console"
            )),
        )
        .await;
    }

    // Answers lost or unclear in this sync, and adds in a batch the provider has not finished
    // (not listed yet, not sent again): either may still change the provider's task.
    let in_doubt = executed.unknown + observation.settled.adds_awaited;
    let phase = if let Some(error) = &executed.stopped_by {
        provider_phase(error)
    } else if let plan::GuardDecision::Tripped { removes, limit, .. } = plan.guard {
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
            confirmed: executed.confirmed_desired(&plan),
            invalid_in_files: desired.invalid_count(),
            not_sendable: executed.not_sendable,
            refused: executed.failed - executed.not_sendable,
            not_removable: plan
                .not_removable
                .iter()
                .filter(|n| n.reason.keeps_a_callable_contact())
                .count() as u64,
            observe_only: task.spec.policy.management == ManagementPolicy::ObserveOnly,
            note: conflict_note(desired),
        })
    };
    if in_doubt > 0 && matches!(phase, Phase::Progressing { .. }) {
        report(task, ctx, &phase, outcome).await?;
        // A provider batch still processing may take minutes (or, on a server that never
        // finishes it, for ever): each look lists the whole task, so it is not every 5 s.
        let again = if executed.unknown == 0 {
            ctx.settings.settle_delay.max(AWAITED_BATCH_RECHECK)
        } else {
            ctx.settings.settle_delay
        };
        return Ok(Action::requeue(again));
    }
    settle(task, ctx, phase, outcome).await
}

/// The sentence a Ready message gets when ContactLists disagree about some contacts.
fn conflict_note(desired: &crate::contacts::DesiredSet) -> String {
    match desired.conflict_count {
        0 => String::new(),
        n => format!(
            "; {n} phones are given with different content by several entries (the ContactList whose name sorts first wins, see the ConflictingContacts Event)"
        ),
    }
}

/// A Warning Event naming (masked) the phones that ContactLists give with different content
/// and which list won, once per desired set: only when the set differs from the one the last
/// status recorded, so a resync does not repeat it.
async fn report_conflicts(task: &CallTask, ctx: &Context, desired: &crate::contacts::DesiredSet) {
    let recorded = task
        .status
        .as_ref()
        .and_then(|s| s.desired_digest.as_deref());
    if desired.conflict_count == 0 || recorded == Some(desired.digest.as_str()) {
        return;
    }
    let sample: Vec<String> = desired
        .conflicts
        .iter()
        .take(5)
        .map(|c| {
            if c.winner == c.loser {
                format!(
                    "{} twice in ContactList {} (first entry wins)",
                    c.phone, c.winner
                )
            } else {
                format!(
                    "{} in {} and {} ({} wins)",
                    c.phone, c.winner, c.loser, c.winner
                )
            }
        })
        .collect();
    publish(
        ctx,
        task,
        EventType::Warning,
        "ConflictingContacts",
        "Sync",
        Some(format!(
            "{} phones are given with different content: {}",
            desired.conflict_count,
            sample.join("; ")
        )),
    )
    .await;
}

/// Counts provider requests for `callsync_provider_requests_total`: `count` requests of
/// `operation`, successful unless `error` says how it failed.
fn record_requests(
    ctx: &Context,
    provider: &str,
    operation: &str,
    count: u64,
    error: Option<&ProviderError>,
) {
    if count == 0 {
        return;
    }
    let outcome = match error.map(ProviderError::class) {
        None => "ok",
        Some(ErrorClass::Retryable) => "retryable",
        Some(ErrorClass::Terminal) => "terminal",
    };
    ctx.metrics
        .provider_requests
        .get_or_create(&RequestLabels {
            provider: provider.into(),
            operation: operation.into(),
            outcome: outcome.into(),
        })
        .inc_by(count);
}

/// The status published while a plan executes: Reconciling with the plan's counts; failures,
/// the last sync and the digest stay those of the last finished sync.
fn progress_status(
    task: &CallTask,
    plan: &Plan,
    ledger: &crate::ledger::Ledger,
    observation: &sync::Observation,
    desired: &DesiredSet,
) -> crate::api::CallTaskStatus {
    let counts = counts(plan, ledger, observation, desired.len() as u64, 0, 0);
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
    compute_status(task, &phase, outcome, Utc::now())
}

/// Contact counts after a sync: what the plan found, minus what execution did.
fn counts(
    plan: &Plan,
    ledger: &crate::ledger::Ledger,
    observation: &sync::Observation,
    desired: u64,
    added: u64,
    removed: u64,
) -> ContactCounts {
    let remote = plan.counts.remote;
    let present = match &observation.observed {
        Some(_) => (remote + added).saturating_sub(removed),
        None => ledger
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

/// Lets a deleted CallTask go although its contacts could not all be removed, and says so:
/// a Warning Event, the Ready condition (reason `CleanupIncomplete`; Events cannot be created in
/// a namespace being deleted, a status can still be written) and the log. `message` names what
/// was lost and what remains at the provider.
async fn give_up(
    ctx: &Context,
    task: &CallTask,
    store: &crate::controller::ledger_store::LedgerStore,
    message: String,
) -> Result<Action, ReconcileError> {
    tracing::warn!(calltask = %task.name_any(), namespace = %task.namespace().unwrap_or_default(), %message, "cleanup incomplete; releasing the CallTask");
    let phase = Phase::Stalled {
        reason: reasons::CLEANUP_INCOMPLETE,
        message: message.clone(),
    };
    if let Err(error) = report(task, ctx, &phase, Outcome::default()).await {
        tracing::warn!(%error, calltask = %task.name_any(), "cannot write the CleanupIncomplete condition");
    }
    publish(
        ctx,
        task,
        EventType::Warning,
        "CleanupIncomplete",
        "Cleanup",
        Some(message),
    )
    .await;
    // Not ignored: a ledger Secret left with its finalizer would keep the namespace
    // Terminating. A failure is retried like any API error.
    store.delete().await?;
    Ok(Action::await_change())
}

/// What remains at the provider when cleanup cannot use its ledger: the last counts the
/// CallTask reported, since the ledger itself is lost.
fn remaining_per_status(task: &CallTask) -> String {
    let present = task
        .status
        .as_ref()
        .and_then(|s| s.contacts.as_ref())
        .map_or(0, |c| c.present);
    format!(
        "the {present} contacts its last status counted at the provider remain in remote task {} \
         of CallProvider {}",
        task.spec.task_id, task.spec.provider_ref.name
    )
}

/// How many contacts the ledger records at the provider, and where.
fn remaining_per_ledger(task: &CallTask, ledger: &crate::ledger::Ledger) -> String {
    format!(
        "{} contacts callsync added remain in remote task {} of CallProvider {}",
        ledger.len(),
        task.spec.task_id,
        task.spec.provider_ref.name
    )
}

/// `deletion: Orphan` releases; `deletion: Delete` removes every removable contact of the ledger
/// first. It never hangs: a provider that keeps failing is reported and let go after the
/// cleanup deadline, a missing CallProvider at once.
async fn cleanup(task: &CallTask, ctx: &Context) -> Result<Action, ReconcileError> {
    // A deleted CallTask needs no desired set; tasks that vanished without a cleanup (no
    // finalizer yet) are dropped too.
    ctx.desired.forget(&task.uid().unwrap_or_default());
    let live: std::collections::HashSet<String> =
        ctx.tasks.state().iter().filter_map(|t| t.uid()).collect();
    ctx.desired.retain(|uid| live.contains(uid));
    let store = load::ledger_store(task, ctx);
    if task.spec.policy.deletion == DeletionPolicy::Orphan {
        store.delete().await?;
        publish(
            ctx,
            task,
            EventType::Normal,
            "Orphaned",
            "Cleanup",
            Some("remote contacts left in place (deletion: Orphan)".into()),
        )
        .await;
        return Ok(Action::await_change());
    }
    let deadline_passed = task.metadata.deletion_timestamp.as_ref().is_some_and(|t| {
        let deleted_for = Utc::now().timestamp() - t.0.as_second();
        u64::try_from(deleted_for).unwrap_or(0) > ctx.settings.cleanup_deadline.as_secs()
    });
    load::stores_ready(ctx).await?;
    // The ledger first: it is the record of what to remove, and of what remains if cleanup
    // cannot remove it. A damaged one is a terminal error (bounded like the others): waiting
    // does not repair it, and without it nothing is proven callsync's.
    let (mut ledger, version) = match load::load_ledger(task, &store).await {
        Ok(loaded) => loaded,
        Err(e) if e.is_transient() && !deadline_passed => return Err(e.into()),
        Err(e) => {
            let message = format!(
                "{e}; cleanup cannot tell which contacts callsync added, so it removed none: {}",
                remaining_per_status(task)
            );
            return give_up(ctx, task, &store, message).await;
        }
    };
    // No ledger, yet the last status counted contacts at the provider: the record was lost
    // (deleted by hand, or by a cascade before ledgers carried their finalizer). Never report
    // "removed 0" for that.
    let recorded = task
        .status
        .as_ref()
        .and_then(|s| s.contacts.as_ref())
        .is_some_and(|c| c.present > 0);
    if version.is_none() && recorded {
        let message = format!(
            "the ledger Secret {} is gone, so cleanup removed nothing: {}",
            store.head_name(),
            remaining_per_status(task)
        );
        return give_up(ctx, task, &store, message).await;
    }
    let provider_obj = match load::provider_of(task, ctx) {
        Ok(p) => p,
        Err(e) => {
            let message = format!("{e}; {}", remaining_per_ledger(task, &ledger));
            return give_up(ctx, task, &store, message).await;
        }
    };
    // A frozen account gets no removal either: the deletion waits for the CallProvider to be
    // resumed, at most until the cleanup deadline, then lets the CallTask go and says what
    // remains.
    if provider_obj.spec.suspend {
        let message = format!(
            "CallProvider {} has spec.suspend true, so cleanup removes nothing",
            provider_obj.name_any()
        );
        if deadline_passed {
            let message = format!("{message}; {}", remaining_per_ledger(task, &ledger));
            return give_up(ctx, task, &store, message).await;
        }
        return Err(ReconcileError::Transient {
            reason: reasons::PROVIDER_SUSPENDED,
            message,
        });
    }
    let provider = match provider_for(task, &provider_obj, ctx) {
        Ok(p) => p,
        Err(e) => {
            let message = format!("{e}; {}", remaining_per_ledger(task, &ledger));
            return give_up(ctx, task, &store, message).await;
        }
    };
    // A pause a killed process never undid is undone before the task is let go; a failure is
    // logged loudly (`TaskLeftPaused`) and cleanup goes on, the annotation going with the task.
    if pause_journal::recorded(task)
        && let Err(error) = provider
            .resume_left_paused(&TaskRef::of_task(&task.spec))
            .await
    {
        tracing::error!(task = %task.name_any(), reason = error.reason(), %error, "the remote task callsync paused could not be started again before the CallTask is deleted");
    }
    // Every removable contact of the ledger, planned like any removal (the ledger is the record,
    // nothing is desired, no guard), so the identity rules of the planner apply here too.
    let policy = PlanPolicy {
        management: ManagementPolicy::Full,
        max_delete_percent: 100,
        content_change: ContentChangePolicy::Ignore,
    };
    let caps = sync::plan_capabilities(&provider.capabilities());
    let plan = plan::plan(&[], &None, &ledger, &policy, &caps);
    let not_removable = plan.not_removable.len();
    let mut sink = SecretSink::new(
        &store,
        version,
        task,
        task.status.clone().unwrap_or_default(),
        ctx.settings.progress_interval,
    );
    let wire = WireFormat::of(&provider_obj.spec);
    let executed = sync::execute(
        &provider,
        &TaskRef::of_task(&task.spec),
        &wire,
        &Default::default(),
        &plan,
        &mut ledger,
        &mut sink,
    )
    .await?;
    if let Some(error) = executed.stopped_by {
        if error.class() == ErrorClass::Terminal || deadline_passed {
            return give_up(
                ctx,
                task,
                &store,
                format!(
                    "removing contacts failed: {error}; {} contacts may remain at the provider",
                    ledger.len()
                ),
            )
            .await;
        }
        return Err(ReconcileError::Transient {
            reason: error.reason(),
            message: error.to_string(),
        });
    }
    let left = not_removable + executed.failed as usize;
    publish(
        ctx,
        task,
        if left > 0 {
            EventType::Warning
        } else {
            EventType::Normal
        },
        "Cleaned",
        "Cleanup",
        Some(format!(
            "removed {} contacts; {left} could not be removed (already called)",
            executed.removed
        )),
    )
    .await;
    store.delete().await?;
    Ok(Action::await_change())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_durations_neither_panic_nor_exceed_the_cap() {
        let digits = "9".repeat(400);
        assert_eq!(parse_duration(&format!("{digits}h")), Some(Duration::MAX));
        assert_eq!(parse_duration("99999999999999999999h"), Some(Duration::MAX));
        let mut task = CallTask::new(
            "t",
            serde_json::from_value(serde_json::json!({
                "providerRef": {"name": "p"}, "taskId": "x",
                "contactLists": {"names": ["a"]}, "resyncInterval": "99999999999999999999h"
            }))
            .expect("spec"),
        );
        assert_eq!(resync_interval(&task), MAX_RESYNC_INTERVAL);
        task.spec.resync_interval = "0s".into();
        assert_eq!(resync_interval(&task), Duration::from_secs(600));
    }
}

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
use super::metrics::TaskLabels;
use super::pause_journal;
use super::steps::report::{
    Outcome, Phase, phase_after, provider_phase, publish, publish_sync_events,
    report as report_status,
};
use super::steps::sink::SecretSink;
use super::steps::{client, desired, listing, load, outcome};
use crate::api::reasons;
use crate::api::{
    CLEANUP_FINALIZER, CallTask, ContentChangePolicy, DeletionPolicy, ManagementPolicy,
};
use crate::plan::{self, PlanPolicy};
use crate::providers::{ErrorClass, Provider, TaskRef};
use crate::sync::{self, SyncReport, TaskSync, WireFormat};

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
        &TaskLabels::of(&task),
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

/// Reports a phase and decides the next action: retryable problems back off, terminal ones wait
/// for a change (with a slow recheck, since a fix at the provider sends no watch event).
async fn settle(
    task: &CallTask,
    ctx: &Context,
    phase: Phase,
    outcome: Outcome,
) -> Result<Action, ReconcileError> {
    report_status(task, ctx, &phase, outcome).await?;
    match phase {
        Phase::Progressing { reason, message } => {
            Err(ReconcileError::Transient { reason, message })
        }
        Phase::Stalled { .. } => Ok(Action::requeue(
            task.resync_interval().max(Duration::from_secs(300)),
        )),
        // A change of the CallProvider wakes its tasks (`tasks_for_provider`).
        Phase::Suspended | Phase::ProviderSuspended { .. } => Ok(Action::await_change()),
        Phase::InSync { .. } => Ok(Action::requeue(task.resync_interval())),
    }
}

async fn apply(task: &CallTask, ctx: &Context) -> Result<Action, ReconcileError> {
    if task.spec.suspend {
        return settle(task, ctx, Phase::Suspended, Outcome::default()).await;
    }
    let started = Instant::now();
    let loaded = match load::load(task, ctx).await {
        Ok(loaded) => loaded,
        Err(error)
            if error.reason() == reasons::LEDGER_CORRUPT && load::rebuild_requested(task) =>
        {
            rebuild_ledger(task, ctx, &error).await?;
            match load::load(task, ctx).await {
                Ok(loaded) => loaded,
                Err(error) => return settle(task, ctx, error.phase(), Outcome::default()).await,
            }
        }
        Err(error) => return settle(task, ctx, error.phase(), Outcome::default()).await,
    };
    if loaded.provider.spec.suspend {
        let phase = Phase::ProviderSuspended {
            provider: loaded.provider.name_any(),
        };
        return settle(task, ctx, phase, Outcome::default()).await;
    }
    // Before any provider call: a lagging ContactList cache could remove contacts still desired.
    if !load::lists_are_current(task, &loaded.lists, ctx).await? {
        tracing::debug!(calltask = %task.name_any(), "ContactList cache lags the API server; waiting");
        return Ok(Action::requeue(Duration::from_millis(500)));
    }
    let desired = desired::cached(task, ctx, &loaded.lists);
    desired::report(task, ctx, &loaded.lists, &desired).await?;

    let task_ref = TaskRef::of_task(&task.spec);
    let provider = match client::ready(task, &task_ref, &loaded.provider, ctx).await {
        Ok(provider) => provider,
        Err(error) => return settle(task, ctx, provider_phase(&error), Outcome::default()).await,
    };
    let (wire, policy) = (
        WireFormat::of(&loaded.provider.spec),
        PlanPolicy::from(&task.spec.policy),
    );
    let run = TaskSync {
        provider: &provider,
        task: &task_ref,
        wire: &wire,
        desired: &desired,
        policy: &policy,
        listing: listing::schedule(task, sync::now_unix()),
    };
    let mut ledger = loaded.ledger;
    let loaded_changes = ledger.changes();
    let planned = match run.observe_and_plan(&mut ledger).await {
        Ok(planned) => planned,
        Err(error) => {
            ctx.metrics
                .record_requests(provider.kind(), "list", 1, Some(&error));
            return settle(task, ctx, provider_phase(&error), Outcome::default()).await;
        }
    };
    let labels = TaskLabels::of(task);
    ctx.metrics
        .record_observation(&labels, &planned.observation);
    let progress = outcome::progress_status(task, &planned, &ledger, &desired, Utc::now());
    let mut sink = SecretSink::new(
        &loaded.ledger_store,
        loaded.ledger_version,
        task,
        progress,
        ctx.settings.progress_interval,
    );
    let report = run
        .settle_then_execute(planned, &mut ledger, &mut sink)
        .await?;
    ctx.metrics.record_sync(&labels, &report, sink.saved());

    let task = &*sink.latest(task);
    publish_sync_events(ctx, task, &report).await;
    let observe_only = task.spec.policy.management == ManagementPolicy::ObserveOnly;
    let phase = phase_after(&report, &desired, observe_only);
    let took = started.elapsed();
    let outcome = Outcome {
        ledger: Some(sink.held_ledger()),
        ..outcome::finished(task, &report, &ledger, &desired, took, Utc::now())
    };
    // Kept for the next reconcile only when it is what the store holds (see `ledger_cache`).
    let drift_hinted = ledger.listing().drift_hint;
    if let Some(version) = sink.durable(&ledger, loaded_changes) {
        ctx.ledgers
            .keep(&task.uid().unwrap_or_default(), ledger, version);
    }
    if report.in_doubt() > 0 && matches!(phase, Phase::Progressing { .. }) {
        report_status(task, ctx, &phase, outcome).await?;
        return Ok(Action::requeue(recheck_after(&report, ctx)));
    }
    if drift_hinted && matches!(phase, Phase::InSync { .. }) {
        // An answer hinted that the provider's task changed behind callsync's back: the next
        // sync lists it (`sync::listing`), soon rather than at resyncInterval.
        report_status(task, ctx, &phase, outcome).await?;
        return Ok(Action::requeue(ctx.settings.settle_delay));
    }
    settle(task, ctx, phase, outcome).await
}

/// Deletes a damaged ledger a person asked to rebuild (`load::rebuild_requested`); the load
/// after it starts a new one, whose first sync lists the remote task. Said in a Warning Event.
async fn rebuild_ledger(
    task: &CallTask,
    ctx: &Context,
    error: &load::LoadError,
) -> Result<(), ReconcileError> {
    tracing::warn!(calltask = %task.name_any(), %error, "rebuilding a damaged ledger, as requested");
    // Nothing to drop from `ctx.ledgers`: the failed load took the task's kept ledger out.
    load::ledger_store(task, ctx).discard().await?;
    let note = format!(
        "the damaged ledger was deleted as requested ({error}); a new one is built from a full \
         listing of the remote task"
    );
    publish(
        ctx,
        task,
        EventType::Warning,
        "LedgerRebuilt",
        "Sync",
        Some(note),
    )
    .await;
    Ok(())
}

/// When a sync that left contacts in doubt looks again. A provider batch still processing may
/// take minutes (or, on a server that never finishes it, for ever): each look lists the whole
/// task, so that is not every few seconds; a lost answer is looked at after the settle delay.
fn recheck_after(report: &SyncReport, ctx: &Context) -> Duration {
    if report.executed.unknown == 0 {
        ctx.settings.settle_delay.max(AWAITED_BATCH_RECHECK)
    } else {
        ctx.settings.settle_delay
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
    if let Err(error) = report_status(task, ctx, &phase, Outcome::default()).await {
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
    ctx.ledgers.forget(&task.uid().unwrap_or_default());
    let live: std::collections::HashSet<String> =
        ctx.tasks.state().iter().filter_map(|t| t.uid()).collect();
    ctx.desired.retain(|uid| live.contains(uid));
    ctx.ledgers.retain(|uid| live.contains(uid));
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
    let (mut ledger, version) = match load::load_ledger(task, &store, None).await {
        Ok(loaded) => loaded,
        // Said below, with what the last status counted.
        Err(load::LoadError::LedgerMissing { .. }) => (crate::ledger::Ledger::fresh(None), None),
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
        .is_some_and(|c| c.present > 0)
        || load::ledger_recorded(task);
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
    let provider = match client::provider_for(task, &provider_obj, ctx) {
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
    // Only what callsync added: the console contacts the last listing showed are not its own.
    ledger.forget_console();
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

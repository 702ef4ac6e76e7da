//! The local home of a sync, for `callsync plan|apply -f DIR`: the ledger in a state folder
//! instead of Secrets, a progress bar instead of status writes, and outcome lines. The sync
//! itself — desired set, client, observe → plan → settle then execute — is [`crate::sync`]'s,
//! the same the controller runs; `apply` repeats it while contacts are in doubt, observing
//! again to settle them. `plan` stops after planning and sends nothing.
pub mod journal_file;
pub mod outcome;
pub mod pause_file;
pub mod sink;
pub mod state;
pub mod summary;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use kube::ResourceExt;

use super::files::ResolvedTask;
use crate::api::ManagementPolicy;
use crate::contacts::DesiredSet;
use crate::ledger::Ledger;
use crate::plan::{GuardDecision, Plan, PlanPolicy};
use crate::providers::{AnyProvider, ClientSettings, ProviderError, RateLimiters, TaskRef};
use crate::sync::{self, ListingSchedule, Planned, TaskSync, WireFormat};
pub use outcome::outcome_line;
use sink::{FileSink, Progress};
use state::{StateError, StateStore};
pub use summary::TaskSummary;

/// How long to wait before observing again when outcomes were lost (the controller requeues
/// after its settle delay), and how often at most.
const SETTLE_DELAY: Duration = Duration::from_secs(2);
const SETTLE_ROUNDS: u32 = 5;

/// Why a task could not be synced. One line, naming the task.
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    #[error("{task}: CallProvider {provider:?}: {error}")]
    Provider {
        task: String,
        provider: String,
        error: ProviderError,
    },
    #[error("{task}: {error}")]
    State { task: String, error: StateError },
    #[error("{task}: {error}")]
    Sink {
        task: String,
        error: crate::sync::SinkError,
    },
}

/// The desired set of a resolved task: its lists' parsed forms merged (the sync's rule,
/// [`crate::sync::desired_set`]). Pure.
pub fn desired_set(resolved: &ResolvedTask) -> DesiredSet {
    DesiredSet::merge(resolved.lists.iter().map(|l| l.parsed.clone()).collect())
}

/// The task's provider client (the sync's rule, [`crate::sync::client_for`]), with the
/// credentials from the files.
pub fn build_client(
    resolved: &ResolvedTask,
    limiters: &RateLimiters,
    settings: &ClientSettings,
) -> Result<AnyProvider, TaskError> {
    let credentials = sync::fixed_credentials(resolved.credentials.clone());
    sync::client_for(
        &resolved.task,
        &resolved.provider,
        credentials,
        limiters,
        settings,
    )
    .map_err(|error| TaskError::Provider {
        task: resolved.key(),
        provider: resolved.provider.name_any(),
        error,
    })
}

/// Everything a sync of one task holds.
pub struct TaskRun<'a> {
    pub resolved: &'a ResolvedTask,
    pub provider: AnyProvider,
    pub wire: WireFormat,
    pub task_ref: TaskRef,
    pub desired: DesiredSet,
    pub policy: PlanPolicy,
    pub ledger: Ledger,
    /// An earlier apply paused the remote task and was killed before starting it again (its
    /// pause file is still there): `apply` starts it first.
    pub pause_left: bool,
    /// `--full-listing`: list the provider's task even when the ledger could be planned
    /// against (`sync::listing`).
    pub full_listing: bool,
}

impl<'a> TaskRun<'a> {
    /// Builds the client (through the factory, as the controller does, with the credentials
    /// from the files) and loads the ledger.
    pub fn prepare(
        resolved: &'a ResolvedTask,
        store: &StateStore,
        limiters: &RateLimiters,
        settings: &ClientSettings,
    ) -> Result<Self, TaskError> {
        let provider_obj = &resolved.provider;
        let task_namespace = resolved.task.namespace().unwrap_or_default();
        let pause_file = store.pause_file(&task_namespace, &resolved.task.name_any());
        let pause_left = pause_file
            .as_ref()
            .is_some_and(pause_file::PauseFile::recorded);
        let settings = ClientSettings {
            pause_journal: pause_file
                .map(|file| Arc::new(file) as crate::providers::SharedPauseJournal),
            ..settings.clone()
        };
        let provider = build_client(resolved, limiters, &settings)?;
        let ledger = store
            .load(&task_namespace, &resolved.task.name_any())
            .map_err(|error| TaskError::State {
                task: resolved.key(),
                error,
            })?
            // A fresh ledger gets a fresh identity (the controller's rule, `ledger::identity`):
            // remote ids derive from it, and providers refuse an id used before, even after
            // its contact was removed.
            .unwrap_or_else(|| Ledger::fresh(resolved.task.uid().as_deref()));
        Ok(Self {
            resolved,
            wire: WireFormat::of(&provider_obj.spec),
            task_ref: TaskRef::of_task(&resolved.task.spec),
            desired: desired_set(resolved),
            policy: PlanPolicy::from(&resolved.task.spec.policy),
            provider,
            ledger,
            pause_left,
            full_listing: false,
        })
    }

    /// The sync of this task, as the controller runs it, and the ledger it works on.
    fn sync(&mut self) -> (TaskSync<'_, AnyProvider>, &mut Ledger) {
        let sync = TaskSync {
            provider: &self.provider,
            task: &self.task_ref,
            wire: &self.wire,
            desired: &self.desired,
            policy: &self.policy,
            listing: self.listing_schedule(),
        };
        (sync, &mut self.ledger)
    }

    /// The controller's rule (`sync::listing`); a listing is asked for by `--full-listing`.
    fn listing_schedule(&self) -> ListingSchedule {
        ListingSchedule::for_task(&self.resolved.task, self.full_listing, sync::now_unix())
    }

    fn provider_error(&self, error: ProviderError) -> TaskError {
        TaskError::Provider {
            task: self.resolved.key(),
            provider: self.resolved.provider.name_any(),
            error,
        }
    }

    /// Observe and plan; no write call, nothing saved.
    pub async fn plan(&mut self) -> Result<(TaskSummary, Plan), TaskError> {
        let (sync, ledger) = self.sync();
        let planned = sync.observe_and_plan(ledger).await;
        let Planned { observation, plan } = planned.map_err(|e| self.provider_error(e))?;
        let summary = TaskSummary::new(self, &plan, &observation);
        Ok((summary, plan))
    }
}

/// What an apply of one task did. Every count is what the provider confirmed, item by item
/// (or, for the contacts already in sync, what its listing or the ledger showed).
#[derive(Debug, Default)]
pub struct Applied {
    /// Adds the provider accepted.
    pub added: u64,
    /// Removals the provider accepted.
    pub removed: u64,
    /// Adds the provider refused because it already had the phone (not put there by callsync).
    pub already_present: u64,
    /// Contacts the provider refused in the last round (refusals of earlier rounds were sent
    /// again, or are counted in `not_removable`).
    pub failed: u64,
    /// Of `failed`, contacts never sent because the account's phone format cannot carry them.
    pub not_sendable: u64,
    pub failures: Vec<sync::Failure>,
    /// Contacts still waiting for the provider to confirm.
    pub unknown: u64,
    /// Desired contacts confirmed at the provider at the end: in sync when the last plan was
    /// made (listing or ledger), plus those the last round's adds confirmed.
    pub confirmed: u64,
    /// Write requests sent (0: nothing was sent, the provider was already as desired).
    pub write_requests: u64,
    /// Set when Ctrl-C stopped it: contacts not sent yet.
    pub interrupted: Option<u64>,
    /// The deletion guard's decision of the last plan.
    pub guard: Option<GuardDecision>,
    pub not_removable: u64,
    /// Of `not_removable`: contacts the provider may still call
    /// ([`crate::plan::NotRemovableReason::keeps_a_callable_contact`]); any of them makes the
    /// apply no success, as the controller's `ContactsNotRemovable`.
    pub callable_not_removable: u64,
    /// Of `callable_not_removable`: contacts the provider held before callsync (added in its console,
    /// under ids callsync does not know), which callsync cannot remove.
    pub foreign: u64,
    pub requests: u64,
    pub elapsed: Duration,
    /// The summary of the first plan (what `apply` showed before it started).
    pub first_plan: Option<TaskSummary>,
}

/// Carries out the sync: rounds of observe → plan → execute until nothing is in doubt.
pub async fn apply(
    run: &mut TaskRun<'_>,
    store: &StateStore,
    stop: &Arc<AtomicBool>,
    show_plan: &mut dyn FnMut(&TaskSummary),
) -> Result<Applied, TaskError> {
    let started = Instant::now();
    let mut applied = Applied::default();
    let namespace = run.resolved.task.namespace().unwrap_or_default();
    let name = run.resolved.task.name_any();
    let task_key = run.resolved.key();
    let sink_error = |error| TaskError::Sink {
        task: task_key.clone(),
        error,
    };
    // A pause a killed apply never undid: the task is started again before anything else.
    if run.pause_left {
        run.provider
            .resume_left_paused(&run.task_ref)
            .await
            .map_err(|e| run.provider_error(e))?;
        run.pause_left = false;
    }
    for round in 0..SETTLE_ROUNDS {
        let (sync, ledger) = run.sync();
        let planned = sync.observe_and_plan(ledger).await;
        let planned = planned.map_err(|e| run.provider_error(e))?;
        let (observation, plan) = (&planned.observation, &planned.plan);
        applied.requests += observation.requests;
        if round > 0 {
            // This apply's own adds and removals left in doubt, now confirmed by the listing:
            // not listed (or still listed) at round 0, so the change happened during this apply.
            applied.added += observation.settled.adds_confirmed;
            applied.removed += observation.settled.removes_confirmed;
        }
        if round == 0 {
            let summary = TaskSummary::new(run, plan, observation);
            show_plan(&summary);
            applied.first_plan = Some(summary);
        }
        let total = plan.counts.planned_adds + plan.counts.planned_removes;
        let mut sink = FileSink {
            store,
            namespace: namespace.clone(),
            task: name.clone(),
            progress: (!plan.is_empty()).then(|| Progress::new(&run.resolved.key(), total)),
            total,
            stop: stop.clone(),
        };
        let (sync, ledger) = run.sync();
        let report = sync.settle_then_execute(planned, ledger, &mut sink).await;
        sink.finish();
        let mut report = report.map_err(sink_error)?;
        // The last round's refusals, kept by value: the report is not used after this round.
        applied.failures = std::mem::take(&mut report.executed.failures);
        let executed = &report.executed;
        applied.guard = Some(report.plan.guard);
        applied.not_removable = report.plan.not_removable.len() as u64;
        applied.callable_not_removable = report.callable_not_removable();
        applied.foreign = report.foreign();
        // Refusals are the last round's: an earlier round's refused adds are in this plan
        // again, and its refused removals are in `not_removable` or this plan.
        applied.confirmed = report.confirmed_desired();
        applied.failed = executed.failed;
        applied.not_sendable = executed.not_sendable;
        applied.added += executed.added;
        applied.removed += executed.removed;
        applied.already_present += executed.already_present;
        applied.requests += executed.requests;
        applied.write_requests += executed.requests;
        // Adds in a batch the provider has not finished are not sent again: in doubt until it
        // is done (a listing then shows them), so the next rounds look again.
        applied.unknown = report.in_doubt();
        if executed.interrupted {
            applied.interrupted = Some(executed.pending + executed.unknown);
            break;
        }
        if let Some(error) = report.executed.stopped_by {
            return Err(run.provider_error(error));
        }
        let nothing_sent = report.plan.is_empty();
        // An answer that hinted drift (an add "already exists", a removal "not found") after a
        // plan made against the ledger: one more round lists the task and plans again.
        let drift_to_list = run.ledger.listing().drift_hint && report.observation.listed.is_none();
        if (applied.unknown == 0 && !drift_to_list)
            || (!nothing_sent && run.policy.management == ManagementPolicy::ObserveOnly)
            || round + 1 == SETTLE_ROUNDS
        {
            break;
        }
        if applied.unknown > 0 {
            tokio::time::sleep(SETTLE_DELAY).await;
        }
    }
    applied.elapsed = started.elapsed();
    Ok(applied)
}

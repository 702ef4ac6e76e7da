//! One sync of one task end to end, the same for the controller and `callsync apply`:
//! observe and plan, then — after the caller has shown or recorded the plan — save what the
//! observation settled and execute, ending in a [`SyncReport`].
use super::listing::{ListingSchedule, replan_reason};
use super::observe::list_and_settle;
use super::{ExecuteReport, Observation, SinkError, SyncSink, WireFormat, execute, observe};
use crate::contacts::DesiredSet;
use crate::ledger::Ledger;
use crate::plan::{self, NotRemovableReason, Plan, PlanPolicy};
use crate::providers::{Provider, ProviderError, TaskRef};

/// What one sync of one task works with.
pub struct TaskSync<'a, P> {
    pub provider: &'a P,
    pub task: &'a TaskRef,
    pub wire: &'a WireFormat,
    pub desired: &'a DesiredSet,
    pub policy: &'a PlanPolicy,
    /// When to list the task in full rather than plan against the ledger.
    pub listing: ListingSchedule,
}

/// What the provider has (the ledger settled against it) and what the sync must do.
pub struct Planned {
    pub observation: Observation,
    pub plan: Plan,
}

impl<P: Provider> TaskSync<'_, P> {
    /// Observe (list the task, or take the ledger as the record: `sync::listing`), then plan.
    /// Sends no write call and saves nothing: `callsync plan` stops here.
    pub async fn observe_and_plan(&self, ledger: &mut Ledger) -> Result<Planned, ProviderError> {
        let observation =
            observe(self.provider, self.task, self.wire, ledger, &self.listing).await?;
        let plan = self.plan(&observation, ledger);
        let caps = self.provider.capabilities();
        let replan = replan_reason(&plan, caps.identity).filter(|_| caps.can_list);
        let Some(reason) = replan else {
            return Ok(Planned { observation, plan });
        };
        let mut listed = list_and_settle(
            self.provider,
            self.task,
            self.wire,
            ledger,
            self.listing.now,
            reason,
        )
        .await?;
        listed.requests += observation.requests;
        let plan = self.plan(&listed, ledger);
        Ok(Planned {
            observation: listed,
            plan,
        })
    }

    fn plan(&self, observation: &Observation, ledger: &Ledger) -> Plan {
        let caps = super::plan_capabilities(&self.provider.capabilities());
        plan::plan(
            self.desired.keys(),
            &observation.observed,
            ledger,
            self.policy,
            &caps,
        )
    }

    /// Saves the entries the observation settled, and the time of its listing where the sink
    /// keeps it in the ledger (they must be durable even when the plan is empty: a confirmed
    /// removal left recorded as in doubt would be settled again by every sync, and a listing
    /// not recorded would be made again by the next), then carries out the plan — an intent saved before each window of batches, the
    /// outcomes after.
    pub async fn settle_then_execute<S: SyncSink>(
        &self,
        planned: Planned,
        ledger: &mut Ledger,
        sink: &mut S,
    ) -> Result<SyncReport, SinkError> {
        let Planned { observation, plan } = planned;
        let mark_listing = observation.listed.is_some() && sink.saves_listing_marks();
        if observation.settled.changed_ledger() || observation.marks_changed || mark_listing {
            sink.save_ledger(ledger).await?;
        }
        let executed = if plan.is_empty() {
            ExecuteReport::default()
        } else {
            execute(
                self.provider,
                self.task,
                self.wire,
                self.desired,
                &plan,
                ledger,
                sink,
            )
            .await?
        };
        Ok(SyncReport {
            observation,
            plan,
            executed,
        })
    }
}

/// What one sync found and did. Every count of a change is what the provider confirmed.
pub struct SyncReport {
    pub observation: Observation,
    pub plan: Plan,
    pub executed: ExecuteReport,
}

impl SyncReport {
    /// Contacts that may still change at the provider: answers lost or unclear in this sync,
    /// and adds in a batch the provider has not finished (not listed yet, not sent again).
    pub fn in_doubt(&self) -> u64 {
        self.executed.unknown + self.observation.settled.adds_awaited
    }

    /// Desired contacts confirmed at the provider now (see [`ExecuteReport::confirmed_desired`]).
    pub fn confirmed_desired(&self) -> u64 {
        self.executed.confirmed_desired(&self.plan)
    }

    /// Contacts no longer wanted that callsync cannot remove and the provider may still call.
    pub fn callable_not_removable(&self) -> u64 {
        self.not_removable_where(NotRemovableReason::keeps_a_callable_contact)
    }

    /// Of those: contacts the provider held before callsync (added in its console under ids
    /// callsync does not know).
    pub fn foreign(&self) -> u64 {
        self.not_removable_where(|r| r == NotRemovableReason::ForeignContact)
    }

    /// Provider requests made, reads and writes.
    pub fn requests(&self) -> u64 {
        self.observation.requests + self.executed.requests
    }

    /// Whether the provider's task changed: something was added or removed.
    pub fn changed(&self) -> bool {
        self.executed.added + self.executed.removed > 0
    }

    fn not_removable_where(&self, keep: impl Fn(NotRemovableReason) -> bool) -> u64 {
        self.plan
            .not_removable
            .iter()
            .filter(|n| keep(n.reason))
            .count() as u64
    }
}

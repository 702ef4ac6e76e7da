//! One sync of one task, generic over where the ledger lives: observe → plan → execute. The
//! controller stores the ledger in Secrets; `callsync apply` in a file. Both call this.
//!
//! ```text
//! observe (provider list or ledger) ─▶ plan (pure core) ─▶ execute (windows of batches; one
//!                                                   ledger save of intents before each window)
//! ```
#[cfg(test)]
mod crash_tests;
mod execute;
mod observe;
#[cfg(test)]
mod open_batch_tests;
mod wire;

pub use execute::{ExecuteReport, Failure, WINDOW_SHARE, execute, window_len};
pub use observe::{Observation, observe};
pub use wire::{WireFormat, WireRefusal};

use std::future::Future;

use crate::ledger::Ledger;
use crate::plan;
use crate::providers;

/// What the planner needs of a provider's capabilities.
pub fn plan_capabilities(caps: &providers::Capabilities) -> plan::Capabilities {
    plan::Capabilities {
        max_add: caps.max_add,
        max_remove: caps.max_remove,
        can_list: caps.can_list,
        identity: caps.identity,
    }
}

/// Observe, then plan: what the provider has (the ledger settled against it), and what a sync
/// must do. The controller and `callsync plan|apply` both start a sync with this.
pub async fn observe_and_plan<P: providers::Provider>(
    provider: &P,
    task: &providers::TaskRef,
    wire: &WireFormat,
    desired: &crate::contacts::DesiredSet,
    ledger: &mut Ledger,
    policy: &plan::PlanPolicy,
) -> Result<(Observation, plan::Plan), providers::ProviderError> {
    let observation = observe(provider, task, wire, ledger).await?;
    let caps = plan_capabilities(&provider.capabilities());
    let plan = plan::plan(desired.keys(), &observation.observed, ledger, policy, &caps);
    Ok((observation, plan))
}

/// Where a sync persists its ledger and reports progress. Every save must be durable before it
/// returns: a batch is only sent after its intent is saved.
pub trait SyncSink: Send {
    /// Persists the ledger.
    fn save_ledger(
        &mut self,
        ledger: &Ledger,
    ) -> impl Future<Output = Result<(), SinkError>> + Send;

    /// Pending work left, after each batch (implementations throttle what they write).
    fn progress(
        &mut self,
        pending_add: u64,
        pending_remove: u64,
    ) -> impl Future<Output = ()> + Send;

    /// Whether execution should stop before its next batch (`callsync apply` on Ctrl-C). The
    /// batch in flight always finishes and its outcome is saved first, so stopping here leaves
    /// nothing in doubt. The controller never stops between batches.
    fn stop_requested(&self) -> bool {
        false
    }
}

/// The ledger could not be saved. The sync stops before sending anything more.
#[derive(Debug, thiserror::Error)]
#[error("cannot save the ledger: {message}")]
pub struct SinkError {
    /// What went wrong, without phones or secrets.
    pub message: String,
    /// A CamelCase reason for conditions and metrics.
    pub reason: &'static str,
}

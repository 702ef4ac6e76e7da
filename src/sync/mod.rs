//! The sync of one task end to end, generic over where the ledger lives. The controller
//! stores the ledger in Secrets, `callsync apply` in a file; both build the desired set
//! ([`desired_set`]) and the client ([`client_for`]) here and run [`TaskSync`] with their sink.
//!
//! ```text
//! desired set ─┐
//! observe (a full listing when due — `listing` — else the ledger; open batches and doubts
//!          settled) ─▶ plan (pure core)
//!   ─▶ save what was settled ─▶ execute (windows of batches; the intents of a window saved
//!      before it is sent, outcomes after) ─▶ SyncReport
//! ```
mod client;
#[cfg(test)]
mod crash_tests;
mod desired;
mod execute;
mod listing;
mod observe;
#[cfg(test)]
mod open_batch_tests;
mod run;
mod wire;

pub use client::{account_of, client_for, fixed_credentials};
pub use desired::{SelectedList, desired_set, list_input, parsed_list};
pub use execute::{ExecuteReport, Failure, WINDOW_SHARE, execute, window_len};
pub use listing::{ListingReason, ListingSchedule, listing_reason, replan_reason};
pub use observe::{Observation, decode_listing, now_unix, observe};
pub use run::{Planned, SyncReport, TaskSync};
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

/// Where a sync persists its ledger and reports progress. Every save must be durable before it
/// returns: a batch is only sent after its intent is saved.
pub trait SyncSink: Send {
    /// Persists the ledger. A sink that journals (`ledger::journal`) writes what changed since
    /// its last snapshot and, after writing a snapshot, marks the ledger
    /// ([`Ledger::snapshot_taken`]).
    fn save_ledger(
        &mut self,
        ledger: &mut Ledger,
    ) -> impl Future<Output = Result<(), SinkError>> + Send;

    /// The most items one window of batches holds, with `ledger_len` entries in the ledger:
    /// the intents of a window are saved together before its first batch, so a crash leaves up
    /// to a window in doubt. A sink that writes the whole ledger each time spreads that cost
    /// over a quarter of the ledger ([`WINDOW_SHARE`]); one that journals, whose saves cost
    /// what changed, saves before every batch (0: one batch a window).
    fn window_items(&self, ledger_len: usize) -> usize {
        ledger_len / WINDOW_SHARE
    }

    /// Pending work left, after each batch (implementations throttle what they write).
    fn progress(
        &mut self,
        pending_add: u64,
        pending_remove: u64,
    ) -> impl Future<Output = ()> + Send;

    /// Whether a listing that changed nothing else is worth a ledger save, to record its time
    /// (`sync::listing`). The CLI's ledger is a small local file: yes. The controller keeps the
    /// time in `status.lastListing` and does not rewrite a million-contact ledger for it.
    fn saves_listing_marks(&self) -> bool {
        true
    }

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

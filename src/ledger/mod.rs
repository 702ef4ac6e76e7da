//! The ledger: callsync's own record of what it put at a provider, per CallTask.
//!
//! Intent is recorded before a batch is sent and the outcome after, so that a crash at any
//! point leaves a record from which the next sync neither duplicates nor loses contacts. This
//! module is the pure part (model, transitions, codec); storing it in Secrets is IO elsewhere.
pub mod codec;
pub mod identity;
pub mod journal;
pub mod model;

pub use model::{
    EntryState, ItemOutcome, Ledger, LedgerEntry, ListingMarks, OpenBatch, ReconcileReport,
    Rejection, Slot, remote_id,
};

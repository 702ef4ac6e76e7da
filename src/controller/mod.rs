//! `callsync controller`: the reconcile loop and its IO edges.
//!
//! Built so far: the ledger's Secret store, the watch mapping (which CallTasks an event
//! concerns), per-object backoff, metrics and the health server. The reconcile pipeline itself is
//! not built yet.
pub mod backoff;
pub mod leader;
pub mod ledger_store;
pub mod mapping;
pub mod metrics;
pub mod server;

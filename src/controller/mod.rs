//! `callsync controller`: the reconcile loop and its IO edges.
//!
//! `run` wires the watches, stores, leader election and the health/metrics server around
//! `reconcile`, which sequences the pipeline steps in `steps` (load → desired → observe → plan →
//! execute → report; observe/plan/execute live in `crate::sync`, shared with the CLI).
pub mod backoff;
pub mod context;
pub mod desired_cache;
pub mod leader;
pub mod ledger_cache;
pub mod ledger_store;
pub mod loaded_list;
pub mod metrics;
pub mod offload;
pub mod ownership;
pub mod pause_journal;
pub mod provider_status;
pub mod reconcile;
pub mod run;
pub mod server;
pub mod shard;
pub mod spec_changes;
pub mod steps;
pub mod store_ready;

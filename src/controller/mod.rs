//! `callsync controller`: the reconcile loop and its IO edges.
//!
//! Built so far: the ledger's Secret store. The reconcile pipeline itself is not built yet.
pub mod ledger_store;

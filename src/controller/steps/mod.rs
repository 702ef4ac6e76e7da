//! The reconcile pipeline of one CallTask, one module a step:
//!
//! ```text
//! load ─▶ desired ─▶ listing schedule ─▶ (crate::sync: observe ─▶ plan ─▶ settle then execute)
//!   ─▶ outcome ─▶ report
//! ```
//!
//! Each step has its own error type; `reconcile` only sequences them.
pub mod client;
pub mod desired;
pub mod listing;
pub mod load;
pub mod outcome;
pub mod report;
pub mod sink;

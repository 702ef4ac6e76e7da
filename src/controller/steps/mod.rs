//! The reconcile pipeline of one CallTask, one module a step:
//!
//! ```text
//! load ─▶ desired ─▶ (sync: observe ─▶ plan ─▶ execute) ─▶ report
//! ```
//!
//! Each step has its own error type; `reconcile` only sequences them.
pub mod desired;
pub mod load;
pub mod report;
pub mod sink;

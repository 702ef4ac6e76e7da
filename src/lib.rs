//! callsync keeps the contacts (phone numbers) of AI outbound-calling tasks at external providers
//! equal to what is declared in Kubernetes.
//!
//! The reconcile pipeline, one module a step (see `docs/DESIGN.md`):
//!
//! ```text
//! load ─▶ validate+normalize ─▶ desired set ─▶ observe ─▶ plan ─▶ execute ─▶ report
//! ```
//!
//! - [`api`]: the three custom resources and their conditions.
//! - [`cli`]: the `callsync` command line.
//! - [`providers`]: the provider trait and its longlonglong, Callbot and NXLink clients.
//! - [`signing`]: Callbot and NXLink request signatures.
//! - [`simulator`]: `callsync simulate`, the three providers' APIs on loopback.
pub mod api;
pub mod cli;
pub mod providers;
pub mod signing;
pub mod simulator;

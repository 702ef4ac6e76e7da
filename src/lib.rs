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
//! - [`build_info`]: the version, commit and build date embedded by `build.rs`.
//! - [`cli`]: the `callsync` command line.
//! - [`doctor`]: read-only checks of provider accounts and tasks (`callsync doctor`, CallProvider
//!   status).
//! - [`controller`]: the operator's IO edges (ledger Secrets, watches, metrics, leader election).
//! - [`contacts`]: phone normalization, the contact model, CSV sources, the desired set.
//! - [`plan`]: the pure planner (diff, policy, deletion guard, batching).
//! - [`ledger`]: the ledger model, its transitions and its stored form.
//! - [`providers`]: the provider trait and its longlonglong, Callbot and NXLink clients.
//! - [`signing`]: Callbot and NXLink request signatures.
//! - [`simulator`]: `callsync simulate`, the three providers' APIs on loopback.
pub mod api;
pub mod build_info;
pub mod cli;
pub mod contacts;
pub mod controller;
pub mod doctor;
pub mod ledger;
pub mod plan;
pub mod providers;
pub mod signing;
pub mod simulator;
pub mod sync;
pub mod telemetry;

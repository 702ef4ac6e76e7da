//! The three custom resources of `callsync.io/v1alpha1` and their shared condition type.
//!
//! Every field carries a doc comment: kube-derive turns it into the CRD's OpenAPI description, which
//! is what `kubectl explain` prints.
mod call_provider;
mod call_task;
mod conditions;
mod contact_list;
mod crds;
mod duration;
pub mod reasons;
mod refs;
mod secret_optin;
pub mod selection;

pub use call_provider::*;
pub use call_task::*;
pub use conditions::*;
pub use contact_list::*;
pub use crds::{all_crds, crd_files, crds_yaml};
pub use duration::parse_duration;
pub use refs::*;
pub use secret_optin::*;

/// The API group of every callsync resource.
pub const GROUP: &str = "callsync.io";
/// The only served version.
pub const VERSION: &str = "v1alpha1";
/// Finalizer that carries out `spec.policy.deletion` before a CallTask goes away.
pub const CLEANUP_FINALIZER: &str = "callsync.io/cleanup";
/// Field manager for every server-side apply callsync makes.
pub const FIELD_MANAGER: &str = "callsync";

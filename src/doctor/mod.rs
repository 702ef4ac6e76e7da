//! Read-only checks of a provider account and its remote tasks: whether callsync's reading of
//! the provider holds. `callsync doctor` runs all of them from files; the controller runs the
//! account checks (credentials, clock) for each CallProvider's status. One copy of each check,
//! below both.
pub mod answers;
pub mod checks;
pub mod listed;
pub mod recorder;
pub mod unread;

pub use checks::{ABSENT_TASK, Check, Verdict, account_checks, max_skew, task_checks};
pub use listed::{ListedPhones, Observers};
pub use recorder::{RecordedAnswer, Recorder};

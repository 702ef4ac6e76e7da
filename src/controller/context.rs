//! What every reconcile shares: the client, the reflector stores, the provider rate limiters,
//! metrics, the Event recorder and the backoff state.
use std::sync::Arc;
use std::time::Duration;

use kube::Client;
use kube::runtime::events::Recorder;
use kube::runtime::reflector::{ObjectRef, Store};

use super::backoff::{BackoffPolicy, FailureCounts};
use super::desired_cache::DesiredCache;
use super::metrics::Metrics;
use crate::api::{CallProvider, CallTask, ContactList};
use crate::providers::{ClientSettings, RateLimiters};

/// Tunables of the controller.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Backoff after failed reconciles.
    pub backoff: BackoffPolicy,
    /// Least time between two progress updates of a CallTask's status during a long sync.
    pub progress_interval: Duration,
    /// Requeue delay when a sync left items whose outcome is unknown.
    pub settle_delay: Duration,
    /// How long cleanup of a deleted CallTask with `deletion: Delete` keeps retrying a failing
    /// provider before it gives up, reports, and lets the CallTask go.
    pub cleanup_deadline: Duration,
    /// Provider client settings (retries, async confirmation).
    pub clients: ClientSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            backoff: BackoffPolicy::default(),
            progress_interval: Duration::from_secs(3),
            settle_delay: Duration::from_secs(5),
            cleanup_deadline: Duration::from_secs(600),
            clients: ClientSettings::default(),
        }
    }
}

/// Shared by every reconcile.
pub struct Context {
    pub client: Client,
    pub tasks: Store<CallTask>,
    pub lists: Store<ContactList>,
    pub providers: Store<CallProvider>,
    pub limiters: RateLimiters,
    pub metrics: Arc<Metrics>,
    pub recorder: Recorder,
    pub failures: FailureCounts<ObjectRef<CallTask>>,
    pub settings: Settings,
    /// The last desired set of each CallTask, so a reconcile of unchanged lists parses nothing.
    pub desired: DesiredCache,
    /// The ledger of each CallTask as its last reconcile left it, so a reconcile of a large
    /// task decodes nothing when no one else wrote the ledger since.
    pub ledgers: super::ledger_cache::LedgerCache,
    /// The CallTask and CallProvider stores of every watched namespace (remote task ownership
    /// is checked across namespaces).
    pub watched: super::ownership::WatchedStores,
}

//! Prometheus metrics of the controller (prometheus-client), named and labelled in the style of
//! kube-state-metrics and cert-manager: `callsync_calltask_*` per CallTask (namespace, calltask),
//! `callsync_provider_*` per CallProvider (namespace, callprovider), `callsync_build_info`, and
//! the standard `process_*` figures. Labels are fixed words (condition types and reasons, client
//! endpoint names, error reasons) or object names — never an error's text, never a phone.
//! docs/operations.md lists every metric and the alerts built on them.
mod process;
mod sync_records;
mod task_state;

pub use sync_records::LedgerSaves;

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::providers::AccountKey;
use crate::providers::http::RequestMetrics;

/// Labels of reconcile metrics.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReconcileLabels {
    /// The CallTask's namespace.
    pub namespace: String,
    /// The phase the reconcile left the CallTask in (`InSync`, `Progressing`, `Stalled`,
    /// `Suspended`), `Deleted` when its cleanup finished, `Error` when it failed before a phase
    /// was decided, `Requeued` when it only waits (a lagging ContactList cache).
    pub outcome: String,
    /// The Ready condition's reason (`InSync`, `DeletionGuard`, `CredentialsRejected`…), or the
    /// error's reason.
    pub reason: String,
}

/// Labels of provider request metrics.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// `longlonglong`, `callbot` or `nxlink`.
    pub provider: String,
    /// `list`, `add`, `remove`, `pause`, `resume`, `check`.
    pub operation: String,
    /// `ok`, `retryable`, `terminal`, `rejected`.
    pub outcome: String,
}

/// Labels of per-task metrics.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TaskLabels {
    pub namespace: String,
    pub calltask: String,
}

impl TaskLabels {
    /// The labels of `task`'s series.
    pub fn of(task: &crate::api::CallTask) -> Self {
        use kube::ResourceExt;
        TaskLabels {
            namespace: task.namespace().unwrap_or_default(),
            calltask: task.name_any(),
        }
    }
}

/// Labels of per-task contact gauges.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ContactLabels {
    pub namespace: String,
    pub calltask: String,
    /// `desired`, `present`, `pending`, `pending_add`, `pending_remove`, `failed`,
    /// `not_removable` (the fields of `status.contacts`).
    pub state: String,
}

/// Labels of `callsync_calltask_status_condition`: one series per condition type, with the
/// condition's current status and reason (like kube-state-metrics' `*_status_condition`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ConditionLabels {
    pub namespace: String,
    pub calltask: String,
    /// `Ready`, `Reconciling` or `Stalled`.
    pub r#type: String,
    /// `True` or `False`.
    pub status: String,
    pub reason: String,
}

/// Labels of per-CallProvider metrics.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ProviderLabels {
    pub namespace: String,
    pub callprovider: String,
}

/// Labels of `callsync_provider_request_duration_seconds`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ProviderRequestLabels {
    pub namespace: String,
    pub callprovider: String,
    /// The client's name for the endpoint (`number`, `listOrder`, `task/list`…), never a path
    /// with ids.
    pub endpoint: String,
    /// `ok`, or the error's reason (`ProviderUnreachable`, `CredentialsRejected`,
    /// `RateLimited`…).
    pub outcome: String,
}

/// Labels of `callsync_build_info`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BuildLabels {
    pub version: String,
    /// The git commit built ([`crate::build_info::GIT_COMMIT`], as `callsync version` prints
    /// it), or `unknown`.
    pub revision: String,
}

/// Every metric the controller exports, registered in one registry.
pub struct Metrics {
    pub registry: Registry,
    pub reconcile_duration: Family<ReconcileLabels, Histogram>,
    pub provider_requests: Family<RequestLabels, Counter>,
    pub contacts_added: Family<TaskLabels, Counter>,
    pub contacts_removed: Family<TaskLabels, Counter>,
    pub drift_found: Family<TaskLabels, Counter>,
    /// Full listings of a CallTask's provider task (between them syncs plan against the ledger).
    pub listings: Family<TaskLabels, Counter>,
    pub contacts: Family<ContactLabels, Gauge>,
    pub ledger_bytes: Family<TaskLabels, Gauge>,
    /// Ledger saves made by syncs: snapshots and journals.
    pub ledger_saves: Family<TaskLabels, Counter>,
    /// Of the ledger saves, journals (what changed since the snapshot).
    pub ledger_journal_saves: Family<TaskLabels, Counter>,
    /// Of the journal saves, seals (a journal written once as a Secret of its own).
    pub ledger_seals: Family<TaskLabels, Counter>,
    /// Bytes written to ledger Secrets by syncs.
    pub ledger_written_bytes: Family<TaskLabels, Counter>,
    /// Desired sets built (merged from parsed lists) rather than reused from the cache.
    pub desired_builds: Family<TaskLabels, Counter>,
    /// ContactLists parsed for a task's desired set rather than reused from the cache.
    pub desired_list_parses: Family<TaskLabels, Counter>,
    /// 1 for each condition of each CallTask, labelled with its status and reason.
    pub task_condition: Family<ConditionLabels, Gauge>,
    /// Unix time of the last sync that ended InSync.
    pub last_successful_sync: Family<TaskLabels, Gauge>,
    /// The CallTask's effective resync interval, for "no sync for 2 × resyncInterval".
    pub resync_interval: Family<TaskLabels, Gauge>,
    /// Each HTTP attempt to a provider, by endpoint and outcome.
    pub provider_request_duration: Family<ProviderRequestLabels, Histogram>,
    /// Time each attempt waited for the account's rate limiter (and its back-off).
    pub ratelimit_wait: Family<ProviderLabels, Histogram>,
    pub build_info: Family<BuildLabels, Gauge>,
    /// Per-task bookkeeping: which condition series exist, the phase of the running reconcile.
    tasks: Mutex<HashMap<TaskLabels, task_state::TaskState>>,
    /// The request series of each CallProvider, removed with it.
    providers: Mutex<HashMap<ProviderLabels, HashSet<ProviderRequestLabels>>>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut root = Registry::default();
        // The standard process figures carry no prefix (Prometheus' client libraries' names).
        root.register_collector(Box::new(process::ProcessCollector));
        let registry = root.sub_registry_with_prefix("callsync");
        let reconcile_duration = Family::<ReconcileLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.005, 2.0, 16))
        });
        registry.register(
            "reconcile_duration_seconds",
            "Duration of one CallTask reconcile, by the phase it ended in and its reason",
            reconcile_duration.clone(),
        );
        let provider_requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "provider_requests",
            "HTTP requests to providers, by provider, operation and outcome",
            provider_requests.clone(),
        );
        let contacts_added = Family::<TaskLabels, Counter>::default();
        registry.register(
            "contacts_added",
            "Contacts added at the provider",
            contacts_added.clone(),
        );
        let contacts_removed = Family::<TaskLabels, Counter>::default();
        registry.register(
            "contacts_removed",
            "Contacts removed at the provider",
            contacts_removed.clone(),
        );
        let drift_found = Family::<TaskLabels, Counter>::default();
        registry.register(
            "drift_found",
            "Contacts found changed at the provider behind callsync's back",
            drift_found.clone(),
        );
        let listings = Family::<TaskLabels, Counter>::default();
        registry.register(
            "listings",
            "Full listings of the provider's task (between them a sync plans against the ledger)",
            listings.clone(),
        );
        let contacts = Family::<ContactLabels, Gauge>::default();
        registry.register(
            "contacts",
            "Contacts of a CallTask by state (its status.contacts)",
            contacts.clone(),
        );
        let ledger_bytes = Family::<TaskLabels, Gauge>::default();
        registry.register(
            "ledger_bytes",
            "Compressed size of a CallTask's ledger",
            ledger_bytes.clone(),
        );
        let ledger_saves = Family::<TaskLabels, Counter>::default();
        registry.register(
            "ledger_saves",
            "Ledger saves made by syncs: snapshots of the whole ledger and journals of what changed since",
            ledger_saves.clone(),
        );
        let ledger_journal_saves = Family::<TaskLabels, Counter>::default();
        registry.register(
            "ledger_journal_saves",
            "Of the ledger saves, journals: what changed since the last snapshot, written into the head Secret",
            ledger_journal_saves.clone(),
        );
        let ledger_seals = Family::<TaskLabels, Counter>::default();
        registry.register(
            "ledger_seals",
            "Of the journal saves, seals: a journal grown to a seal's size written once as a Secret of its own, after which the head's journal starts empty",
            ledger_seals.clone(),
        );
        let ledger_written_bytes = Family::<TaskLabels, Counter>::default();
        registry.register_with_unit(
            "ledger_written",
            "Compressed bytes syncs wrote to a CallTask's ledger Secrets (snapshots and journals)",
            prometheus_client::registry::Unit::Bytes,
            ledger_written_bytes.clone(),
        );
        let desired_builds = Family::<TaskLabels, Counter>::default();
        registry.register(
            "desired_builds",
            "Desired sets built from the ContactLists (not reused from the cache); since lists are parsed one by one, see desired_list_parses for the parsing",
            desired_builds.clone(),
        );
        let desired_list_parses = Family::<TaskLabels, Counter>::default();
        registry.register(
            "desired_list_parses",
            "ContactLists parsed for a desired set (a list kept at its generation and source version is not parsed again)",
            desired_list_parses.clone(),
        );
        let task_condition = Family::<ConditionLabels, Gauge>::default();
        registry.register(
            "calltask_status_condition",
            "1 for each condition of a CallTask, with its status and reason",
            task_condition.clone(),
        );
        let last_successful_sync = Family::<TaskLabels, Gauge>::default();
        registry.register(
            "calltask_last_successful_sync_timestamp_seconds",
            "Unix time a sync of the CallTask last ended InSync",
            last_successful_sync.clone(),
        );
        let resync_interval = Family::<TaskLabels, Gauge>::default();
        registry.register(
            "calltask_resync_interval_seconds",
            "The CallTask's effective spec.resyncInterval",
            resync_interval.clone(),
        );
        let provider_request_duration =
            Family::<ProviderRequestLabels, Histogram>::new_with_constructor(|| {
                Histogram::new(exponential_buckets(0.005, 2.0, 14))
            });
        registry.register(
            "provider_request_duration_seconds",
            "Duration of one HTTP attempt to a CallProvider's API, by endpoint and outcome",
            provider_request_duration.clone(),
        );
        let ratelimit_wait = Family::<ProviderLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.001, 4.0, 9))
        });
        registry.register(
            "provider_ratelimit_wait_seconds",
            "Time an HTTP attempt waited for its CallProvider's rate limiter",
            ratelimit_wait.clone(),
        );
        let build_info = Family::<BuildLabels, Gauge>::default();
        registry.register(
            "build_info",
            "1, labelled with the controller's version and revision",
            build_info.clone(),
        );
        build_info
            .get_or_create(&BuildLabels {
                version: crate::build_info::VERSION.into(),
                revision: crate::build_info::GIT_COMMIT.into(),
            })
            .set(1);
        Self {
            registry: root,
            reconcile_duration,
            provider_requests,
            contacts_added,
            contacts_removed,
            drift_found,
            listings,
            contacts,
            ledger_bytes,
            ledger_saves,
            ledger_journal_saves,
            ledger_seals,
            ledger_written_bytes,
            desired_builds,
            desired_list_parses,
            task_condition,
            last_successful_sync,
            resync_interval,
            provider_request_duration,
            ratelimit_wait,
            build_info,
            tasks: Mutex::new(HashMap::new()),
            providers: Mutex::new(HashMap::new()),
        }
    }
}

impl Metrics {
    /// The registry in the Prometheus text format.
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

impl RequestMetrics for Metrics {
    fn limiter_wait(&self, account: &AccountKey, waited: Duration) {
        self.ratelimit_wait
            .get_or_create(&ProviderLabels {
                namespace: account.namespace.clone(),
                callprovider: account.name.clone(),
            })
            .observe(waited.as_secs_f64());
    }

    fn attempt(
        &self,
        account: &AccountKey,
        endpoint: &'static str,
        outcome: &'static str,
        took: Duration,
    ) {
        let labels = ProviderRequestLabels {
            namespace: account.namespace.clone(),
            callprovider: account.name.clone(),
            endpoint: endpoint.into(),
            outcome: outcome.into(),
        };
        self.provider_request_duration
            .get_or_create(&labels)
            .observe(took.as_secs_f64());
        self.providers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .entry(ProviderLabels {
                namespace: account.namespace.clone(),
                callprovider: account.name.clone(),
            })
            .or_default()
            .insert(labels);
    }
}

impl Metrics {
    /// Removes every series of a deleted CallProvider.
    pub fn forget_provider(&self, namespace: &str, name: &str) {
        let provider = ProviderLabels {
            namespace: namespace.into(),
            callprovider: name.into(),
        };
        let requests = self
            .providers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(&provider)
            .unwrap_or_default();
        for labels in &requests {
            self.provider_request_duration.remove(labels);
        }
        self.ratelimit_wait.remove(&provider);
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exports_in_text_format_with_prefix() {
        let metrics = Metrics::default();
        metrics
            .provider_requests
            .get_or_create(&RequestLabels {
                provider: "callbot".into(),
                operation: "add".into(),
                outcome: "ok".into(),
            })
            .inc_by(3);
        metrics
            .reconcile_duration
            .get_or_create(&ReconcileLabels {
                namespace: "ns".into(),
                outcome: "InSync".into(),
                reason: "InSync".into(),
            })
            .observe(0.02);
        let account = AccountKey::new("ns", "acct", "uid");
        metrics.attempt(
            &account,
            "number",
            "CredentialsRejected",
            Duration::from_millis(30),
        );
        metrics.limiter_wait(&account, Duration::from_millis(2));
        let other = AccountKey::new("ns", "other", "uid-2");
        metrics.attempt(&other, "number", "ok", Duration::from_millis(30));
        metrics.limiter_wait(&other, Duration::from_millis(2));
        metrics.forget_provider("ns", "other");
        let text = metrics.encode().expect("encode");
        assert!(
            !text.contains(r#"callprovider="other""#),
            "a deleted CallProvider's series: {text}"
        );
        for wanted in [
            r#"callsync_provider_requests_total{provider="callbot",operation="add",outcome="ok"} 3"#,
            "callsync_reconcile_duration_seconds_count{namespace=\"ns\",outcome=\"InSync\",reason=\"InSync\"} 1",
            r#"callsync_provider_request_duration_seconds_count{namespace="ns",callprovider="acct",endpoint="number",outcome="CredentialsRejected"} 1"#,
            r#"callsync_provider_ratelimit_wait_seconds_count{namespace="ns",callprovider="acct"} 1"#,
            &format!(
                r#"callsync_build_info{{version="{}",revision="{}"}} 1"#,
                crate::build_info::VERSION,
                crate::build_info::GIT_COMMIT
            ),
            "process_resident_memory_bytes ",
            "process_cpu_seconds_total ",
            "process_open_fds ",
            "process_max_fds ",
            "process_start_time_seconds ",
        ] {
            assert!(text.contains(wanted), "no {wanted} in {text}");
        }
    }
}

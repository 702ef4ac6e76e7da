//! Prometheus metrics of the controller (prometheus-client). Labels are fixed words (operation,
//! outcome, reason categories) or object names — never an error's Debug text, never a phone.
use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Outcome of one reconcile.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
pub enum Outcome {
    Success,
    Error,
}

/// Labels of reconcile metrics.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReconcileLabels {
    pub outcome: Outcome,
    /// A condition reason such as `InSync` or `ProviderUnreachable`.
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

/// Labels of per-task contact gauges.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ContactLabels {
    pub namespace: String,
    pub calltask: String,
    /// `desired`, `present`, `pending_add`, `pending_remove`, `failed`, `not_removable`.
    pub state: String,
}

/// Every metric the controller exports, registered in one registry.
pub struct Metrics {
    pub registry: Registry,
    pub reconcile_duration: Family<ReconcileLabels, Histogram>,
    pub provider_requests: Family<RequestLabels, Counter>,
    pub contacts_added: Family<TaskLabels, Counter>,
    pub contacts_removed: Family<TaskLabels, Counter>,
    pub drift_found: Family<TaskLabels, Counter>,
    pub contacts: Family<ContactLabels, Gauge>,
    pub ledger_bytes: Family<TaskLabels, Gauge>,
    /// Ledger saves (whole-ledger Secret writes) made by syncs.
    pub ledger_saves: Family<TaskLabels, Counter>,
    /// Desired sets built (parsed) rather than reused from the cache.
    pub desired_builds: Family<TaskLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("callsync");
        let reconcile_duration = Family::<ReconcileLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.005, 2.0, 16))
        });
        registry.register(
            "reconcile_duration_seconds",
            "Duration of one CallTask reconcile, by outcome and reason",
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
        let contacts = Family::<ContactLabels, Gauge>::default();
        registry.register(
            "contacts",
            "Contacts of a CallTask by state",
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
            "Ledger saves (each writes the whole ledger) made by syncs",
            ledger_saves.clone(),
        );
        let desired_builds = Family::<TaskLabels, Counter>::default();
        registry.register(
            "desired_builds",
            "Desired sets parsed from the ContactLists (not reused from the cache)",
            desired_builds.clone(),
        );
        Self {
            registry,
            reconcile_duration,
            provider_requests,
            contacts_added,
            contacts_removed,
            drift_found,
            contacts,
            ledger_bytes,
            ledger_saves,
            desired_builds,
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
                outcome: Outcome::Success,
                reason: "InSync".into(),
            })
            .observe(0.02);
        let text = metrics.encode().expect("encode");
        assert!(
            text.contains(
                r#"callsync_provider_requests_total{provider="callbot",operation="add",outcome="ok"} 3"#
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "callsync_reconcile_duration_seconds_count{outcome=\"Success\",reason=\"InSync\"} 1"
            ),
            "{text}"
        );
    }
}

//! What one sync adds to the metrics: provider requests, drift found by the observation,
//! contacts added and removed, ledger saves and size.
use super::{Metrics, RequestLabels, TaskLabels};
use crate::providers::{ErrorClass, ProviderError};
use crate::sync::{Observation, SyncReport};

/// Ledger saves one sync made, and the size of the last.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LedgerSaves {
    /// Saves of either kind.
    pub saves: u64,
    /// Of them, journals (`ledger::journal`): what changed since the snapshot.
    pub journals: u64,
    /// Of the journals, sealed ones: written once as Secrets of their own.
    pub seals: u64,
    /// Compressed size of the last snapshot written (0: none in this sync).
    pub last_bytes: usize,
    /// Bytes written to the ledger Secrets' data, snapshots and journals.
    pub written_bytes: u64,
}

impl Metrics {
    /// Counts provider requests for `callsync_provider_requests_total`: `count` requests of
    /// `operation`, successful unless `error` says how they failed.
    pub fn record_requests(
        &self,
        provider: &str,
        operation: &str,
        count: u64,
        error: Option<&ProviderError>,
    ) {
        if count == 0 {
            return;
        }
        let outcome = match error.map(ProviderError::class) {
            None => "ok",
            Some(ErrorClass::Retryable) => "retryable",
            Some(ErrorClass::Terminal) => "terminal",
        };
        self.provider_requests
            .get_or_create(&RequestLabels {
                provider: provider.into(),
                operation: operation.into(),
                outcome: outcome.into(),
            })
            .inc_by(count);
    }

    /// Drift an observation found. Created at 0 by the first observation, like the added and
    /// removed counters, so dashboards show "no drift" rather than no data.
    pub fn record_observation(&self, task: &TaskLabels, observation: &Observation) {
        self.drift_found
            .get_or_create(task)
            .inc_by(observation.settled.drift_removed);
        if let Some(reason) = observation.listed {
            self.listings.get_or_create(task).inc();
            tracing::info!(namespace = %task.namespace, calltask = %task.calltask, reason = reason.as_str(), "listed the provider's task in full");
        }
    }

    /// What a sync changed at the provider, and what it wrote to the ledger.
    pub fn record_sync(&self, task: &TaskLabels, report: &SyncReport, ledger: LedgerSaves) {
        self.contacts_added
            .get_or_create(task)
            .inc_by(report.executed.added);
        self.contacts_removed
            .get_or_create(task)
            .inc_by(report.executed.removed);
        if ledger.saves > 0 {
            self.ledger_saves.get_or_create(task).inc_by(ledger.saves);
            self.ledger_journal_saves
                .get_or_create(task)
                .inc_by(ledger.journals);
            self.ledger_seals.get_or_create(task).inc_by(ledger.seals);
            self.ledger_written_bytes
                .get_or_create(task)
                .inc_by(ledger.written_bytes);
        }
        if ledger.last_bytes > 0 {
            self.ledger_bytes
                .get_or_create(task)
                .set(i64::try_from(ledger.last_bytes).unwrap_or(i64::MAX));
        }
    }
}

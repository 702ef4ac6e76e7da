//! Append-only log of every attempted change to provider state, for tests that check "no
//! duplicates, nothing lost, nothing wrongly removed". Phones are stored in full: this is test
//! data, served only on loopback through `/_sim/audit`.
//!
//! Bounded: a long-running `callsync simulate` (a demo, a soak) would otherwise grow without
//! end. The newest [`DEFAULT_CAPACITY`] rows are kept; sequence numbers go on, and the counts by
//! operation and outcome (`/_sim/audit/counts`) stay exact over everything ever logged.
use std::collections::{BTreeMap, VecDeque};

use serde::Serialize;

use super::config::ProviderKind;

/// Rows kept by default (a row is a few hundred bytes).
pub const DEFAULT_CAPACITY: usize = 200_000;

/// What was attempted.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum AuditOp {
    /// A contact added (any add endpoint, or an import's new batch).
    Add,
    /// A contact deleted on request.
    Remove,
    /// A pending Callbot order deleted because a new `importBatchCall` batch replaced it.
    ImportReplace,
    /// A Callbot order stopped but kept (it was already dialled, or `delCall` was 0).
    Stop,
    /// The admin API changed a contact's state (called / finished).
    Mark,
    /// A task changed state (pause, start, complete).
    TaskStatus,
}

/// What came of it.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum AuditOutcome {
    /// The state changed.
    Applied,
    /// Refused; nothing changed (see `detail`).
    Rejected,
    /// A delete that left the contact in place (not deletable in its state, see `detail`).
    Kept,
}

/// One row.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    pub seq: u64,
    pub at_ms: i64,
    pub provider: ProviderKind,
    pub account: String,
    pub task: String,
    pub operation: AuditOp,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote_id: Option<String>,
    pub outcome: AuditOutcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// Exact figures over every row ever logged, also those no longer kept.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct AuditCounts {
    /// Rows logged (the last sequence number).
    pub total: u64,
    /// Rows dropped to keep the log bounded (the oldest).
    pub dropped: u64,
    /// Rows by operation and outcome, as `operation/outcome` (`add/applied`).
    pub by_operation: BTreeMap<String, u64>,
}

/// The log. Sequence numbers start at 1 and never repeat.
#[derive(Debug)]
pub struct AuditLog {
    entries: VecDeque<AuditEntry>,
    capacity: usize,
    total: u64,
    by_operation: BTreeMap<(AuditOp, AuditOutcome), u64>,
}

impl Default for AuditLog {
    fn default() -> Self {
        Self::with_capacity(DEFAULT_CAPACITY)
    }
}

impl AuditLog {
    /// A log that keeps the newest `capacity` rows (at least one).
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            entries: VecDeque::new(),
            capacity: capacity.max(1),
            total: 0,
            by_operation: BTreeMap::new(),
        }
    }

    pub fn push(&mut self, mut entry: AuditEntry) {
        self.total += 1;
        entry.seq = self.total;
        *self
            .by_operation
            .entry((entry.operation, entry.outcome))
            .or_default() += 1;
        if self.entries.len() == self.capacity {
            self.entries.pop_front();
        }
        self.entries.push_back(entry);
    }

    /// The sequence number of the newest row (0 before the first).
    pub fn last_seq(&self) -> u64 {
        self.total
    }

    /// Kept entries with `seq > since`, oldest first.
    pub fn entries_since(&self, since: u64) -> impl Iterator<Item = &AuditEntry> {
        let first = self.total - self.entries.len() as u64; // seq before the oldest kept
        let skip = usize::try_from(since.saturating_sub(first)).unwrap_or(usize::MAX);
        self.entries.iter().skip(skip)
    }

    /// Exact counts over everything logged.
    pub fn counts(&self) -> AuditCounts {
        AuditCounts {
            total: self.total,
            dropped: self.total - self.entries.len() as u64,
            by_operation: self
                .by_operation
                .iter()
                .map(|((op, outcome), n)| (format!("{}/{}", name(op), name(outcome)), *n))
                .collect(),
        }
    }

    /// Rows kept.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// The serialised name of a unit enum variant (`import-replace`, `applied`).
fn name<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(name)) => name,
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(operation: AuditOp, outcome: AuditOutcome) -> AuditEntry {
        AuditEntry {
            seq: 0,
            at_ms: 0,
            provider: ProviderKind::Nxlink,
            account: "a".into(),
            task: "t".into(),
            operation,
            phone: None,
            remote_id: None,
            outcome,
            detail: None,
        }
    }

    /// The log used to grow without bound in a long-running simulator.
    #[test]
    fn the_log_keeps_the_newest_rows_and_exact_counts() {
        let mut log = AuditLog::with_capacity(3);
        for _ in 0..4 {
            log.push(row(AuditOp::Add, AuditOutcome::Applied));
        }
        log.push(row(AuditOp::Remove, AuditOutcome::Kept));
        assert_eq!(log.len(), 3);
        let seqs: Vec<u64> = log.entries_since(0).map(|e| e.seq).collect();
        assert_eq!(seqs, [3, 4, 5]);
        let seqs: Vec<u64> = log.entries_since(4).map(|e| e.seq).collect();
        assert_eq!(seqs, [5]);
        assert_eq!(log.entries_since(5).count(), 0);
        let counts = log.counts();
        assert_eq!((counts.total, counts.dropped), (5, 2));
        assert_eq!(counts.by_operation["add/applied"], 4);
        assert_eq!(counts.by_operation["remove/kept"], 1);
    }
}

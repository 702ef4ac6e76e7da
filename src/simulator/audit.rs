//! Append-only log of every attempted change to provider state, for tests that check "no
//! duplicates, nothing lost, nothing wrongly removed". Phones are stored in full: this is test
//! data, served only on loopback through `/_sim/audit`.
use serde::Serialize;

use super::config::ProviderKind;

/// What was attempted.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
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
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
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

/// The log. Sequence numbers start at 1 and never repeat.
#[derive(Debug, Default)]
pub struct AuditLog {
    entries: Vec<AuditEntry>,
}

impl AuditLog {
    pub fn push(&mut self, mut entry: AuditEntry) {
        entry.seq = self.entries.len() as u64 + 1;
        self.entries.push(entry);
    }

    /// Entries with `seq > since`.
    pub fn entries_since(&self, since: u64) -> &[AuditEntry] {
        let start = usize::try_from(since)
            .unwrap_or(usize::MAX)
            .min(self.entries.len());
        &self.entries[start..]
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

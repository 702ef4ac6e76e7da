//! The controller's [`SyncSink`]: the ledger goes to the CallTask's Secrets (conditional on the
//! version it was loaded at), progress goes to its status at most every few seconds.
use std::borrow::Cow;
use std::time::{Duration, Instant};

use kube::api::Api;

use super::report::apply_status;
use crate::api::{CallTask, CallTaskStatus};
use crate::controller::ledger_store::{
    INLINE_ENTRIES_MAX, LedgerStore, LedgerStoreError, LedgerVersion,
};
use crate::controller::metrics::LedgerSaves;
use crate::ledger::journal::{self, JournalLimits, Save, StoreRoom};
use crate::ledger::{Ledger, codec};
use crate::sync::{SinkError, SyncSink};

/// Persists one CallTask's ledger and progress.
pub struct SecretSink<'a> {
    store: &'a LedgerStore,
    version: Option<LedgerVersion>,
    api: Api<CallTask>,
    name: String,
    /// The status to publish progress in (counts are updated in place).
    status: CallTaskStatus,
    interval: Duration,
    last_progress: Instant,
    /// Ledger saves made and the size of the last, for the metrics.
    saved: LedgerSaves,
    /// Whether a progress status reached the API server: the final report then starts from it.
    progress_written: bool,
    /// The ledger's change count at its last save (`Ledger::changes`).
    saved_at: Option<u64>,
}

impl<'a> SecretSink<'a> {
    /// A sink for `task`'s ledger (loaded at `version`), publishing progress in `status`.
    pub fn new(
        store: &'a LedgerStore,
        version: Option<LedgerVersion>,
        task: &CallTask,
        status: CallTaskStatus,
        interval: Duration,
    ) -> Self {
        use kube::ResourceExt;
        Self {
            store,
            version,
            api: Api::namespaced(store.client(), &task.namespace().unwrap_or_default()),
            name: task.name_any(),
            status,
            interval,
            last_progress: Instant::now(),
            saved: LedgerSaves::default(),
            progress_written: false,
            saved_at: None,
        }
    }

    /// The version the store holds `ledger` at, when that is exactly `ledger`: nothing changed
    /// it since its last save, or, with no save in this sync, since it was loaded (at
    /// `loaded_changes`).
    pub fn durable(&self, ledger: &Ledger, loaded_changes: u64) -> Option<LedgerVersion> {
        let unchanged = ledger.changes() == self.saved_at.unwrap_or(loaded_changes);
        unchanged.then(|| self.version.clone()).flatten()
    }

    /// The ledger's head Secret, when the store holds a ledger of this task (loaded from it, or
    /// saved by this sync): what `status.ledger` records.
    pub fn held_ledger(&self) -> Option<String> {
        self.version.as_ref().map(|_| self.store.head_name())
    }

    /// Ledger saves made so far.
    pub fn saved(&self) -> LedgerSaves {
        self.saved
    }

    /// `task` as the API server now holds it: with the last progress status when one was
    /// written, so that the final report's Ready transition time says when this sync finished.
    pub fn latest<'t>(&self, task: &'t CallTask) -> Cow<'t, CallTask> {
        if !self.progress_written {
            return Cow::Borrowed(task);
        }
        let mut current = task.clone();
        current.status = Some(self.status.clone());
        Cow::Owned(current)
    }
}

impl SyncSink for SecretSink<'_> {
    /// `status.lastListing` records a listing (`steps::listing` reads it back): a listing that
    /// changed nothing does not rewrite the ledger Secrets.
    fn saves_listing_marks(&self) -> bool {
        false
    }

    /// One batch a window, whatever the sync's size: a save is a live journal of at most a
    /// seal's worth of phones (`JournalLimits::seal_after`; sealed once it holds that many),
    /// or a rewrite of at most `INLINE_SNAPSHOT_MAX` bytes before the snapshot is detached, or
    /// now and then a compaction. So saving before every batch costs little, and a crash
    /// leaves at most one batch in doubt (on NXLink, which cannot list, one batch of lookups to
    /// settle).
    fn window_items(&self, _ledger_len: usize) -> usize {
        0
    }

    async fn save_ledger(&mut self, ledger: &mut Ledger) -> Result<(), SinkError> {
        let encode_err = |e: codec::CodecError| SinkError {
            message: e.to_string(),
            reason: "LedgerEncode",
        };
        let store_err = |e: LedgerStoreError| SinkError {
            message: e.to_string(),
            reason: e.reason(),
        };
        let detached = self.version.as_ref().filter(|v| v.detached);
        let room = StoreRoom {
            journals: detached.is_some(),
            sealed: detached.map_or(0, LedgerVersion::sealed),
        };
        // Seconds of CPU for a large snapshot: off the async workers (see `offload`).
        let save = crate::controller::offload::cpu_heavy(|| {
            journal::next_save(ledger, room, &JournalLimits::DEFAULT)
        })
        .map_err(encode_err)?;
        let no_journals = || {
            encode_err(codec::CodecError::Corrupt(
                "a journal was encoded for a ledger without a detached snapshot",
            ))
        };
        let (version, bytes) = match save {
            Save::Journal(bytes) => {
                // `next_save` journals only when told the snapshot is detached.
                let detached = detached.ok_or_else(no_journals)?;
                let version = self.store.save_journal(&bytes, detached).await;
                let version = version.map_err(store_err)?;
                self.saved.journals += 1;
                (version, bytes.len())
            }
            Save::Seal(bytes) => {
                let detached = detached.ok_or_else(no_journals)?;
                let version = self.store.save_seal(&bytes, detached).await;
                let version = version.map_err(store_err)?;
                ledger.journal_sealed();
                self.saved.journals += 1;
                self.saved.seals += 1;
                (version, bytes.len())
            }
            Save::Snapshot(bytes) => {
                let detach = ledger.len() > INLINE_ENTRIES_MAX;
                let version = self
                    .store
                    .save_snapshot(&bytes, self.version.as_ref(), detach)
                    .await;
                let version = version.map_err(store_err)?;
                ledger.snapshot_taken();
                self.saved.last_bytes = bytes.len();
                (version, bytes.len())
            }
        };
        self.version = Some(version);
        // The next progress status records it: a crash before the final report must not leave
        // a saved ledger unrecorded, whose loss would then go unnoticed.
        self.status.ledger = self.held_ledger();
        self.saved_at = Some(ledger.changes());
        self.saved.saves += 1;
        self.saved.written_bytes += bytes as u64;
        Ok(())
    }

    async fn progress(&mut self, pending_add: u64, pending_remove: u64) {
        if self.last_progress.elapsed() < self.interval {
            return;
        }
        self.last_progress = Instant::now();
        let contacts = self.status.contacts.get_or_insert_default();
        let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        contacts.pending_add = count(pending_add);
        contacts.pending_remove = count(pending_remove);
        contacts.pending = contacts.pending_add + contacts.pending_remove;
        // Progress is best effort: the final report writes the status that counts.
        match apply_status(&self.api, &self.name, &self.status).await {
            Ok(()) => self.progress_written = true,
            Err(error) => {
                tracing::debug!(%error, calltask = %self.name, "progress status not written")
            }
        }
    }
}

//! Ledgers kept between reconciles. Decoding a million-entry snapshot takes most of a second of
//! CPU and reads a dozen Secrets; a ContactList edit or a resync of a large task would pay that
//! every time although nothing but this controller wrote the ledger since.
//!
//! A kept ledger is used only when it is exactly what the store holds: it is kept with the
//! version of its last save (or load) and only when nothing changed it since
//! ([`crate::ledger::Ledger::changes`]), and the next load checks the head Secret's
//! resourceVersion (`LedgerStore::load_since`) — a write by anyone else, a damaged or deleted
//! ledger, all change it, and the ledger is then read from the Secrets as before. A reconcile
//! takes its task's ledger out of the cache: a reconcile that fails midway leaves nothing behind.
//!
//! Bounded by entries across tasks ([`DEFAULT_MAX_ENTRIES`]): keeping a ledger that would pass
//! the bound first drops others; one that passes it alone is not kept.
use std::collections::HashMap;
use std::sync::Mutex;

use super::ledger_store::LedgerVersion;
use crate::ledger::Ledger;

/// Entries kept across every task: about 200 MB of decoded ledgers, two tasks of a million.
pub const DEFAULT_MAX_ENTRIES: usize = 2_000_000;

/// The cache (see the module docs).
pub struct LedgerCache {
    kept: Mutex<HashMap<String, (Ledger, LedgerVersion)>>,
    max_entries: usize,
}

impl Default for LedgerCache {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_ENTRIES)
    }
}

impl LedgerCache {
    /// A cache of at most `max_entries` entries across tasks.
    pub fn new(max_entries: usize) -> Self {
        Self {
            kept: Mutex::default(),
            max_entries,
        }
    }

    /// Takes the ledger kept for the CallTask with UID `task_uid`, with the version it is at.
    pub fn take(&self, task_uid: &str) -> Option<(Ledger, LedgerVersion)> {
        self.lock().remove(task_uid)
    }

    /// Keeps `ledger`, which is what the store holds at `version`.
    pub fn keep(&self, task_uid: &str, ledger: Ledger, version: LedgerVersion) {
        if task_uid.is_empty() || ledger.len() > self.max_entries {
            return;
        }
        let mut kept = self.lock();
        kept.remove(task_uid);
        let mut total: usize = kept.values().map(|(l, _)| l.len()).sum();
        while total + ledger.len() > self.max_entries {
            let Some(largest) = kept
                .iter()
                .max_by_key(|(_, (l, _))| l.len())
                .map(|(uid, _)| uid.clone())
            else {
                break;
            };
            total -= kept.remove(&largest).map_or(0, |(l, _)| l.len());
        }
        kept.insert(task_uid.to_string(), (ledger, version));
    }

    /// Drops the ledger of a task (deleted, or cleaned up).
    pub fn forget(&self, task_uid: &str) {
        self.lock().remove(task_uid);
    }

    /// Keeps only the ledgers of tasks `live` says still exist.
    pub fn retain(&self, live: impl Fn(&str) -> bool) {
        self.lock().retain(|uid, _| live(uid));
    }

    /// Entries kept across tasks.
    pub fn entries(&self) -> usize {
        self.lock().values().map(|(l, _)| l.len()).sum()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Ledger, LedgerVersion)>> {
        // A panic while holding the lock leaves a map of whole values: still usable.
        self.kept
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contacts::{ContentDigest, Phone};

    fn ledger(n: u64) -> Ledger {
        let mut l = Ledger::new("0b8f6a8e-6f0e-4a57-9d55-3c1f4f1f2a10");
        let items: Vec<_> = (0..n)
            .map(|i| {
                (
                    Phone::from_u64_unchecked(8613000000000 + i),
                    ContentDigest(i),
                )
            })
            .collect();
        l.record_add_intent(&items);
        l
    }

    #[test]
    fn a_kept_ledger_is_taken_once_and_the_bound_drops_the_largest_others() {
        let cache = LedgerCache::new(100);
        let version = LedgerVersion::for_tests(3);
        cache.keep("a", ledger(60), version.clone());
        cache.keep("b", ledger(30), version.clone());
        assert_eq!(cache.entries(), 90);
        // 60 + 30 + 20 > 100: the largest other ledger goes.
        cache.keep("c", ledger(20), version.clone());
        assert!(cache.take("a").is_none());
        assert_eq!(cache.entries(), 50);
        let (taken, at) = cache.take("b").expect("kept");
        assert_eq!((taken.len(), at), (30, version.clone()));
        assert!(cache.take("b").is_none(), "taken out");
        // Past the bound alone: not kept.
        cache.keep("d", ledger(101), version);
        assert!(cache.take("d").is_none());
        cache.retain(|uid| uid != "c");
        assert_eq!(cache.entries(), 0);
    }
}

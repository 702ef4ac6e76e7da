//! Desired sets kept between reconciles, and the parsed lists they are merged from. Parsing
//! a million phone numbers takes seconds and most reconciles (resyncs, status changes,
//! provider events) see the same lists; most edits touch one list of many.
//!
//! Two levels:
//! - **Parsed lists** ([`ParsedList`]) by (list UID, generation, CSV source resourceVersion):
//!   a list is parsed once per version, whichever CallTasks select it. A one-list edit parses
//!   that list only; the set is then merged again from the kept parsed lists (a k-way merge of
//!   sorted keys: no phone is parsed).
//! - **Desired sets** by CallTask UID, with the key of every list they were merged from: a
//!   reconcile whose lists are the same objects at the same generation (spec changes; the
//!   controller's own status writes do not count) with the same CSV source resourceVersions
//!   reuses the set and merges nothing.
//!
//! The load step parses (`steps/load.rs::load_list`): it asks [`DesiredCache::parsed`] first,
//! and hands what it loaded to [`DesiredCache::keep_loaded`], so that a reconcile that stops
//! before merging (the store lags the API server) does not parse the same lists again.
//!
//! Bounded: one set per CallTask that still exists, and one parsed list per list version that
//! some kept set was merged from or a CallTask's last load (until its merge) used — after any
//! set or load is replaced or dropped, parsed lists nothing refers to are dropped (an edited
//! list's old version, a list no task selects any more). Contents live once, in the parsed
//! lists; a set holds 24 bytes a contact and references. A CallTask's stale set is dropped
//! before its replacement is merged. Two reconciles that miss on the same new list version at
//! the same time may both parse it (the cache is not locked while parsing); the first kept
//! stays.
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

use super::loaded_list::{ListKey, LoadedList};
use crate::contacts::{DesiredSet, ParsedList};

/// A key with a UID or generation missing can't tell two states apart: never kept.
fn list_key_is_cacheable((uid, generation, _): &ListKey) -> bool {
    !uid.is_empty() && generation.is_some()
}

/// What a desired set was built from: each selected list's key, in the order the lists were
/// loaded (by name).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DesiredKey(Vec<ListKey>);

impl DesiredKey {
    /// The key of `lists` as loaded.
    pub fn of(lists: &[LoadedList]) -> Self {
        DesiredKey(lists.iter().map(LoadedList::key).collect())
    }

    fn is_cacheable(&self) -> bool {
        self.0.iter().all(list_key_is_cacheable)
    }
}

/// Counters of the cache, for tests and metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Reconciles that reused a kept desired set.
    pub hits: u64,
    /// Desired sets merged (not reused).
    pub sets_built: u64,
    /// ContactLists parsed (not reused).
    pub lists_parsed: u64,
}

#[derive(Default)]
struct Kept {
    /// Desired sets by CallTask UID.
    sets: HashMap<String, (DesiredKey, Arc<DesiredSet>)>,
    /// The lists each CallTask's last load used, by CallTask UID: kept until its set is
    /// merged, so that a reconcile that stops before the merge (the store lags the API
    /// server, a source cannot be read) does not parse them again the next time.
    loaded: HashMap<String, DesiredKey>,
    /// Parsed lists referred to by some key in `sets` or `loaded`.
    lists: HashMap<ListKey, Arc<ParsedList>>,
}

impl Kept {
    /// Drops the parsed lists no kept set or last load refers to.
    fn prune_lists(&mut self) {
        let referred: HashSet<&ListKey> = self
            .sets
            .values()
            .map(|(k, _)| k)
            .chain(self.loaded.values())
            .flat_map(|k| &k.0)
            .collect();
        self.lists.retain(|k, _| referred.contains(k));
    }

    /// Keeps the parsed forms of `lists`, which `key` names (where it can be kept).
    fn keep_lists(&mut self, key: &DesiredKey, lists: &[LoadedList]) {
        for (k, list) in key.0.iter().zip(lists) {
            if list_key_is_cacheable(k) {
                self.lists
                    .entry(k.clone())
                    .or_insert_with(|| list.parsed.clone());
            }
        }
    }
}

/// Desired sets by CallTask UID, and the parsed lists they came from.
#[derive(Default)]
pub struct DesiredCache {
    kept: Mutex<Kept>,
    hits: AtomicU64,
    sets_built: AtomicU64,
    lists_parsed: AtomicU64,
}

impl DesiredCache {
    fn kept(&self) -> std::sync::MutexGuard<'_, Kept> {
        self.kept.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The parsed form of a list at `key`, when kept.
    pub fn parsed(&self, key: &ListKey) -> Option<Arc<ParsedList>> {
        self.kept().lists.get(key).cloned()
    }

    /// Counts a list parsed because no parsed form of it was kept.
    pub fn note_parsed(&self) {
        self.lists_parsed.fetch_add(1, Relaxed);
    }

    /// The desired set of `task_uid` for `lists` (each parsed, or taken from [`Self::parsed`]):
    /// the kept one when merged from the same lists at the same versions, else `merge` of
    /// their parsed forms, which are kept with it.
    pub fn get_or_build(
        &self,
        task_uid: &str,
        lists: &[LoadedList],
        merge: impl FnOnce(Vec<Arc<ParsedList>>) -> DesiredSet,
    ) -> Arc<DesiredSet> {
        let key = DesiredKey::of(lists);
        {
            let mut kept = self.kept();
            // The load's lists are `lists` now: they need no keeping of their own any more.
            kept.loaded.remove(task_uid);
            match kept.sets.get(task_uid) {
                Some((k, set)) if *k == key => {
                    self.hits.fetch_add(1, Relaxed);
                    return set.clone();
                }
                // Drop the stale set before merging its replacement.
                Some(_) => {
                    kept.sets.remove(task_uid);
                }
                None => {}
            }
        }
        let parts: Vec<Arc<ParsedList>> = lists.iter().map(|l| l.parsed.clone()).collect();
        self.sets_built.fetch_add(1, Relaxed);
        let set = Arc::new(merge(parts));
        let mut kept = self.kept();
        if key.is_cacheable() && !task_uid.is_empty() {
            kept.keep_lists(&key, lists);
            kept.sets.insert(task_uid.to_string(), (key, set.clone()));
        }
        kept.prune_lists();
        set
    }

    /// Keeps the parsed forms of the lists a load of `task_uid` produced, until its set is
    /// merged ([`Self::get_or_build`]) or it is forgotten; replaces its previous load's.
    pub fn keep_loaded(&self, task_uid: &str, lists: &[LoadedList]) {
        if task_uid.is_empty() {
            return;
        }
        let key = DesiredKey::of(lists);
        let mut kept = self.kept();
        kept.keep_lists(&key, lists);
        kept.loaded.insert(task_uid.to_string(), key);
        kept.prune_lists();
    }

    /// Forgets the sets of CallTasks for which `live` is false (deleted ones), and the parsed
    /// lists only they used.
    pub fn retain(&self, live: impl Fn(&str) -> bool) {
        let mut kept = self.kept();
        kept.sets.retain(|uid, _| live(uid));
        kept.loaded.retain(|uid, _| live(uid));
        kept.prune_lists();
    }

    /// Forgets one CallTask's set, and the parsed lists only it used.
    pub fn forget(&self, task_uid: &str) {
        let mut kept = self.kept();
        kept.sets.remove(task_uid);
        kept.loaded.remove(task_uid);
        kept.prune_lists();
    }

    /// The counters so far.
    pub fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.hits.load(Relaxed),
            sets_built: self.sets_built.load(Relaxed),
            lists_parsed: self.lists_parsed.load(Relaxed),
        }
    }

    /// CallTasks with a kept set.
    pub fn len(&self) -> usize {
        self.kept().sets.len()
    }

    /// Parsed lists kept.
    pub fn lists_kept(&self) -> usize {
        self.kept().lists.len()
    }

    /// True when nothing is kept.
    pub fn is_empty(&self) -> bool {
        let kept = self.kept();
        kept.sets.is_empty() && kept.loaded.is_empty() && kept.lists.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{Contact, ContactList, ContactListSpec};
    use crate::controller::loaded_list::{desired_set_of, list_key};

    fn list(name: &str, generation: i64, phones: &[&str]) -> ContactList {
        let mut list = ContactList::new(
            name,
            ContactListSpec {
                default_region: Some("CN".into()),
                contacts: phones
                    .iter()
                    .map(|p| serde_json::from_value::<Contact>(serde_json::json!({"phone": p})))
                    .collect::<Result<_, _>>()
                    .expect("contact"),
                source: None,
            },
        );
        list.metadata.uid = Some(format!("uid-{name}"));
        list.metadata.generation = Some(generation);
        list
    }

    /// What the load step does: a list's kept parsed form, else the list parsed.
    fn load(cache: &DesiredCache, lists: &[ContactList]) -> Vec<LoadedList> {
        lists
            .iter()
            .map(|l| match cache.parsed(&list_key(l, None)) {
                Some(parsed) => LoadedList::with_parsed(l.clone(), parsed, None),
                None => {
                    cache.note_parsed();
                    LoadedList::parse(l.clone(), None, None)
                }
            })
            .collect()
    }

    fn get(cache: &DesiredCache, task: &str, lists: &[ContactList]) -> Arc<DesiredSet> {
        cache.get_or_build(task, &load(cache, lists), DesiredSet::merge)
    }

    fn stats(hits: u64, sets_built: u64, lists_parsed: u64) -> CacheStats {
        CacheStats {
            hits,
            sets_built,
            lists_parsed,
        }
    }

    #[test]
    fn same_versions_reuse_the_set_and_a_new_version_rebuilds() {
        let cache = DesiredCache::default();
        let a = [list("a", 1, &["13012121211"])];
        let first = get(&cache, "t", &a);
        let again = get(&cache, "t", &a);
        assert!(Arc::ptr_eq(&first, &again));
        assert_eq!(cache.stats(), stats(1, 1, 1));

        // A status write changes the resourceVersion, not the generation: still a hit.
        let mut status_written = list("a", 1, &["13012121211"]);
        status_written.metadata.resource_version = Some("99".into());
        let same = get(&cache, "t", &[status_written]);
        assert!(Arc::ptr_eq(&first, &same));
        assert_eq!(cache.stats(), stats(2, 1, 1));

        let changed = [list("a", 2, &["13012121211", "13012121212"])];
        let rebuilt = get(&cache, "t", &changed);
        assert_eq!(rebuilt.len(), 2);
        assert_eq!(cache.stats(), stats(2, 2, 2));

        // A new list is parsed; the unchanged one is not.
        let added = [list("a", 2, &["13012121211"]), list("b", 1, &[])];
        get(&cache, "t", &added);
        assert_eq!(cache.stats(), stats(2, 3, 3));
        assert_eq!(cache.len(), 1);
        assert_eq!(cache.lists_kept(), 2);
    }

    /// The point of keeping parsed lists: of 20 lists, an edit of one parses that one, and the
    /// merged set equals a build from scratch.
    #[test]
    fn a_one_list_edit_parses_only_that_list() {
        let cache = DesiredCache::default();
        let phone = |l: usize, i: usize| format!("1301212{:02}{:02}", l, i);
        let lists_at = |edited_generation: i64| -> Vec<ContactList> {
            (0..20)
                .map(|l| {
                    let phones: Vec<String> = (0..10).map(|i| phone(l, i)).collect();
                    let mut phones: Vec<&str> = phones.iter().map(String::as_str).collect();
                    let generation = if l == 7 { edited_generation } else { 1 };
                    let extra = phone(99, 1);
                    if generation > 1 {
                        phones.push(&extra);
                    }
                    list(&format!("list-{l:02}"), generation, &phones)
                })
                .collect()
        };
        let before = lists_at(1);
        assert_eq!(get(&cache, "t", &before).len(), 200);
        assert_eq!(cache.stats(), stats(0, 1, 20));

        let after = lists_at(2);
        let edited = get(&cache, "t", &after);
        assert_eq!(cache.stats(), stats(0, 2, 21), "one list parsed again");
        assert_eq!(edited.len(), 201);
        let scratch = desired_set_of(
            &after
                .iter()
                .map(|l| LoadedList::parse(l.clone(), None, None))
                .collect::<Vec<_>>(),
        );
        assert_eq!(edited.keys(), scratch.keys());
        assert_eq!(edited.digest, scratch.digest);
        assert_eq!(edited.lists, scratch.lists);
        // The edited list's old version is no longer kept.
        assert_eq!(cache.lists_kept(), 20);

        // A second task selecting the same lists parses nothing.
        get(&cache, "t2", &after);
        assert_eq!(cache.stats(), stats(0, 3, 21));
    }

    /// A reconcile that loads lists but stops before merging (the store lagged) keeps what it
    /// parsed: the next one parses nothing. Its load is dropped with the task.
    #[test]
    fn lists_loaded_but_not_merged_are_not_parsed_again() {
        let cache = DesiredCache::default();
        let lists = [list("a", 1, &["13012121211"]), list("b", 1, &[])];
        let loaded = load(&cache, &lists);
        cache.keep_loaded("t", &loaded);
        // Another task's merge prunes: the loaded lists stay.
        get(&cache, "other", &[list("c", 1, &[])]);
        assert_eq!(cache.lists_kept(), 3);
        get(&cache, "t", &lists);
        assert_eq!(cache.stats(), stats(0, 2, 3), "a and b parsed once");
        cache.forget("t");
        cache.forget("other");
        assert!(cache.is_empty());
    }

    #[test]
    fn sets_of_deleted_tasks_are_dropped_with_their_lists() {
        let cache = DesiredCache::default();
        get(&cache, "t1", &[list("a", 1, &[]), list("only-t1", 1, &[])]);
        get(&cache, "t2", &[list("a", 1, &[])]);
        assert_eq!(cache.lists_kept(), 2);
        cache.retain(|uid| uid == "t2");
        assert_eq!(cache.len(), 1);
        assert_eq!(cache.lists_kept(), 1, "only-t1 is selected by no kept set");
        cache.forget("t2");
        assert!(cache.is_empty());
    }

    #[test]
    fn lists_without_generation_are_never_kept() {
        let cache = DesiredCache::default();
        let mut unversioned = list("a", 1, &[]);
        unversioned.metadata.generation = None;
        let lists = [unversioned, list("b", 1, &[])];
        get(&cache, "t", &lists);
        assert!(cache.is_empty());
        get(&cache, "t", &lists);
        assert_eq!(cache.stats(), stats(0, 2, 4));
    }
}

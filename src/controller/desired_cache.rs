//! The last desired set of each CallTask, kept between reconciles: parsing a million phone
//! numbers takes 10–16 s and most reconciles (resyncs, status changes, provider events) see the
//! same lists. Valid while the selected ContactLists are the same objects at the same
//! generation (spec changes; the controller's own status writes do not count), with the same
//! CSV source resourceVersions; anything else rebuilds.
//!
//! Bounded: one set per CallTask that still exists. A set is dropped before its replacement is
//! built, so a rebuild never holds two.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use kube::ResourceExt;

use super::loaded_list::LoadedList;
use crate::contacts::DesiredSet;

/// What a desired set was built from: each selected list's UID, generation and the
/// resourceVersion of its CSV source, in the order the lists were loaded (by name).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DesiredKey(Vec<(String, Option<i64>, Option<String>)>);

impl DesiredKey {
    /// The key of `lists` as loaded.
    pub fn of(lists: &[LoadedList]) -> Self {
        DesiredKey(
            lists
                .iter()
                .map(|l| {
                    (
                        l.list.uid().unwrap_or_default(),
                        l.list.metadata.generation,
                        l.source_version.clone(),
                    )
                })
                .collect(),
        )
    }

    /// A key with a generation missing can't tell two states apart: never cached.
    fn is_cacheable(&self) -> bool {
        self.0
            .iter()
            .all(|(uid, version, _)| !uid.is_empty() && version.is_some())
    }
}

/// Desired sets by CallTask UID.
#[derive(Default)]
pub struct DesiredCache {
    sets: Mutex<HashMap<String, (DesiredKey, Arc<DesiredSet>)>>,
    /// Builds avoided (a hit) and builds made, for tests and metrics.
    hits: std::sync::atomic::AtomicU64,
    builds: std::sync::atomic::AtomicU64,
}

impl DesiredCache {
    /// The desired set of `task_uid` for `lists`: the kept one when built from the same lists at
    /// the same versions, else `build()`'s (then kept).
    pub fn get_or_build(
        &self,
        task_uid: &str,
        lists: &[LoadedList],
        build: impl FnOnce(&[LoadedList]) -> DesiredSet,
    ) -> Arc<DesiredSet> {
        use std::sync::atomic::Ordering::Relaxed;
        let key = DesiredKey::of(lists);
        {
            let mut sets = self.sets.lock().unwrap_or_else(|e| e.into_inner());
            match sets.get(task_uid) {
                Some((kept, set)) if *kept == key => {
                    self.hits.fetch_add(1, Relaxed);
                    return set.clone();
                }
                // Drop the stale set before building its replacement.
                Some(_) => {
                    sets.remove(task_uid);
                }
                None => {}
            }
        }
        self.builds.fetch_add(1, Relaxed);
        let set = Arc::new(build(lists));
        if key.is_cacheable() && !task_uid.is_empty() {
            self.sets
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(task_uid.to_string(), (key, set.clone()));
        }
        set
    }

    /// Forgets the sets of CallTasks for which `live` is false (deleted ones).
    pub fn retain(&self, live: impl Fn(&str) -> bool) {
        self.sets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|uid, _| live(uid));
    }

    /// Forgets one CallTask's set.
    pub fn forget(&self, task_uid: &str) {
        self.sets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(task_uid);
    }

    /// (hits, builds) so far.
    pub fn stats(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        (self.hits.load(Relaxed), self.builds.load(Relaxed))
    }

    /// CallTasks with a kept set.
    pub fn len(&self) -> usize {
        self.sets.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// True when nothing is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{Contact, ContactList, ContactListSpec};

    fn list(name: &str, generation: i64, phones: &[&str]) -> LoadedList {
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
        LoadedList {
            list: Arc::new(list),
            csv: None,
            source_version: None,
        }
    }

    #[test]
    fn same_versions_reuse_the_set_and_a_new_version_rebuilds() {
        let cache = DesiredCache::default();
        let build = super::super::loaded_list::desired_set_of;
        let a = [list("a", 1, &["13012121211"])];
        let first = cache.get_or_build("t", &a, build);
        let again = cache.get_or_build("t", &a, build);
        assert!(Arc::ptr_eq(&first, &again));
        assert_eq!(cache.stats(), (1, 1));

        // A status write changes the resourceVersion, not the generation: still a hit.
        let mut status_written = list("a", 1, &["13012121211"]);
        Arc::get_mut(&mut status_written.list)
            .expect("sole owner")
            .metadata
            .resource_version = Some("99".into());
        let same = cache.get_or_build("t", &[status_written], build);
        assert!(Arc::ptr_eq(&first, &same));
        assert_eq!(cache.stats(), (2, 1));

        let changed = [list("a", 2, &["13012121211", "13012121212"])];
        let rebuilt = cache.get_or_build("t", &changed, build);
        assert_eq!(rebuilt.len(), 2);
        assert_eq!(cache.stats(), (2, 2));

        let added = [list("a", 2, &["13012121211"]), list("b", 1, &[])];
        cache.get_or_build("t", &added, build);
        assert_eq!(cache.stats(), (2, 3));
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn sets_of_deleted_tasks_are_dropped() {
        let cache = DesiredCache::default();
        let build = super::super::loaded_list::desired_set_of;
        cache.get_or_build("t1", &[list("a", 1, &[])], build);
        cache.get_or_build("t2", &[list("a", 1, &[])], build);
        cache.retain(|uid| uid == "t2");
        assert_eq!(cache.len(), 1);
        cache.forget("t2");
        assert!(cache.is_empty());
    }

    #[test]
    fn lists_without_generation_are_never_kept() {
        let cache = DesiredCache::default();
        let mut unversioned = list("a", 1, &[]);
        Arc::get_mut(&mut unversioned.list)
            .expect("sole owner")
            .metadata
            .generation = None;
        let lists = [unversioned];
        cache.get_or_build("t", &lists, super::super::loaded_list::desired_set_of);
        assert!(cache.is_empty());
    }
}

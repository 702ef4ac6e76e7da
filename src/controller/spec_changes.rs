//! Which watch events of an object should wake the CallTasks that read it.
//!
//! The controller writes the status of ContactLists (and of CallTasks) on every sync that
//! changes figures. Waking every reader on those writes made each sync trigger another one,
//! which listed the whole provider task again: at a provider's rate limit that doubled the time
//! to converge. Only a change to what a reader uses matters: the spec (`metadata.generation`),
//! the labels (selectors), or the object's disappearance.
//!
//! kube's `predicate_filter` cannot be used for this: it sees objects, not events, so a deleted
//! object (same generation as before) would be filtered out. This filter keeps, per object uid,
//! a fingerprint and a small copy carrying only the metadata the mapping needs, so that objects
//! that vanished while the watch was re-listing (no Delete event then) are reported too.
use std::collections::{HashMap, HashSet};
use std::hash::{DefaultHasher, Hash, Hasher};

use kube::Resource;
use kube::runtime::watcher::Event;

/// Fingerprints of the objects seen, and the re-list in progress.
pub struct SpecChanges<K> {
    seen: HashMap<String, (u64, K)>,
    /// Uids listed since the last `Init`, while a re-list is in progress.
    relisted: Option<HashSet<String>>,
    /// Keeps what the mapping needs of an object (name, namespace, labels) and drops the rest.
    trim: fn(&K) -> K,
}

fn fingerprint<K: Resource>(object: &K) -> u64 {
    let meta = object.meta();
    let mut hasher = DefaultHasher::new();
    meta.generation.hash(&mut hasher);
    meta.labels.hash(&mut hasher);
    hasher.finish()
}

impl<K: Resource + Clone> SpecChanges<K> {
    pub fn new(trim: fn(&K) -> K) -> Self {
        Self {
            seen: HashMap::new(),
            relisted: None,
            trim,
        }
    }

    /// Remembers `object`; true when it is new or its spec or labels changed.
    fn applied(&mut self, object: &K) -> bool {
        let Some(uid) = object.meta().uid.clone() else {
            return true;
        };
        let print = fingerprint(object);
        if let Some(relisted) = &mut self.relisted {
            relisted.insert(uid.clone());
        }
        match self.seen.get(&uid) {
            Some((old, _)) if *old == print => false,
            _ => {
                self.seen.insert(uid, (print, (self.trim)(object)));
                true
            }
        }
    }

    /// The objects whose readers must be woken by `event`.
    pub fn wake(&mut self, event: Event<K>) -> Vec<K> {
        match event {
            Event::Apply(object) | Event::InitApply(object) => {
                if self.applied(&object) {
                    vec![object]
                } else {
                    Vec::new()
                }
            }
            Event::Delete(object) => {
                if let Some(uid) = &object.meta().uid {
                    self.seen.remove(uid);
                }
                vec![object]
            }
            Event::Init => {
                self.relisted = Some(HashSet::new());
                Vec::new()
            }
            Event::InitDone => {
                let Some(relisted) = self.relisted.take() else {
                    return Vec::new();
                };
                let gone: Vec<String> = self
                    .seen
                    .keys()
                    .filter(|uid| !relisted.contains(*uid))
                    .cloned()
                    .collect();
                gone.iter()
                    .filter_map(|uid| self.seen.remove(uid))
                    .map(|(_, object)| object)
                    .collect()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ContactList;
    use std::collections::BTreeMap;

    fn list(uid: &str, generation: i64, labels: &[(&str, &str)]) -> ContactList {
        let mut list: ContactList = serde_json::from_value(serde_json::json!({
            "apiVersion": "callsync.io/v1alpha1", "kind": "ContactList",
            "metadata": {"name": format!("list-{uid}"), "namespace": "ns", "uid": uid,
                         "generation": generation},
            "spec": {"contacts": [{"phone": "+8613012121211"}]}
        }))
        .expect("list");
        list.metadata.labels = Some(
            labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
        );
        list
    }

    fn trim(list: &ContactList) -> ContactList {
        let mut trimmed = list.clone();
        trimmed.spec.contacts.clear();
        trimmed
    }

    fn names(objects: Vec<ContactList>) -> Vec<String> {
        objects
            .into_iter()
            .map(|l| l.metadata.name.unwrap_or_default())
            .collect()
    }

    #[test]
    fn status_writes_wake_nobody_spec_and_label_changes_do() {
        let mut changes = SpecChanges::new(trim);
        assert_eq!(
            names(changes.wake(Event::Apply(list("a", 1, &[])))),
            ["list-a"]
        );
        // A status write: same generation and labels.
        let mut with_status = list("a", 1, &[]);
        with_status.status = Some(Default::default());
        assert!(changes.wake(Event::Apply(with_status)).is_empty());
        assert_eq!(changes.wake(Event::Apply(list("a", 2, &[]))).len(), 1);
        assert_eq!(
            changes
                .wake(Event::Apply(list("a", 2, &[("team", "x")])))
                .len(),
            1
        );
        assert!(
            changes
                .wake(Event::Apply(list("a", 2, &[("team", "x")])))
                .is_empty()
        );
    }

    #[test]
    fn deletes_always_wake_even_with_an_unchanged_generation() {
        let mut changes = SpecChanges::new(trim);
        changes.wake(Event::Apply(list("a", 1, &[])));
        assert_eq!(
            names(changes.wake(Event::Delete(list("a", 1, &[])))),
            ["list-a"]
        );
        // Recreated under the same name: a new uid, so new.
        assert_eq!(changes.wake(Event::Apply(list("b", 1, &[]))).len(), 1);
    }

    #[test]
    fn a_relist_reports_objects_that_vanished_meanwhile_and_nothing_else() {
        let mut changes = SpecChanges::new(trim);
        for uid in ["a", "b", "c"] {
            changes.wake(Event::Apply(list(uid, 1, &[])));
        }
        assert!(changes.wake(Event::Init).is_empty());
        assert!(changes.wake(Event::InitApply(list("a", 1, &[]))).is_empty());
        assert_eq!(
            changes.wake(Event::InitApply(list("c", 3, &[]))).len(),
            1,
            "changed while the watch was down"
        );
        let gone = changes.wake(Event::InitDone);
        assert_eq!(names(gone.clone()), ["list-b"]);
        assert!(gone[0].spec.contacts.is_empty(), "only a trimmed copy kept");
        // b is forgotten: a later re-list does not report it again.
        changes.wake(Event::Init);
        changes.wake(Event::InitApply(list("a", 1, &[])));
        changes.wake(Event::InitApply(list("c", 3, &[])));
        assert!(changes.wake(Event::InitDone).is_empty());
    }
}

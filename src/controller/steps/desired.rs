//! Desired: the deduplicated contacts of the selected ContactLists (pure core), and the
//! ContactList statuses that report each list's counts, invalid entries and digest.
use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;

use super::load::LoadedList;
use crate::api::{ContactList, ContactListStatus, FIELD_MANAGER};
use crate::contacts::{DesiredSet, ListContacts, ListInput, ListStats};

/// Builds the desired set. Pure.
pub fn build(lists: &[LoadedList]) -> DesiredSet {
    let inputs: Vec<ListInput<'_>> = lists
        .iter()
        .map(|loaded| ListInput {
            name: loaded.list.metadata.name.as_deref().unwrap_or_default(),
            default_region: loaded.list.spec.default_region.as_deref(),
            contacts: match &loaded.csv {
                Some(csv) => ListContacts::Csv(csv),
                None => ListContacts::Inline(&loaded.list.spec.contacts),
            },
        })
        .collect();
    DesiredSet::build(&inputs)
}

/// The status a list's figures give. Pure.
pub fn list_status(list: &ContactList, stats: &ListStats) -> ContactListStatus {
    let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    ContactListStatus {
        observed_generation: list.metadata.generation,
        count: count(stats.count),
        invalid: count(stats.invalid),
        invalid_sample: stats.invalid_sample.clone(),
        duplicates: count(stats.duplicates),
        digest: Some(stats.digest.clone()),
        conditions: list
            .status
            .as_ref()
            .map(|s| s.conditions.clone())
            .unwrap_or_default(),
    }
}

/// Writes the status of each list whose figures changed (server-side apply, one field manager).
pub async fn report_lists(
    client: &kube::Client,
    lists: &[LoadedList],
    desired: &DesiredSet,
) -> Result<u32, kube::Error> {
    let mut writes = 0;
    for loaded in lists {
        let list = &loaded.list;
        let name = list.name_any();
        let Some(stats) = desired.lists.iter().find(|s| s.name == name) else {
            continue;
        };
        let status = list_status(list, stats);
        if list.status.as_ref() == Some(&status) {
            continue;
        }
        let api: Api<ContactList> =
            Api::namespaced(client.clone(), &list.namespace().unwrap_or_default());
        let patch = json!({
            "apiVersion": "callsync.io/v1alpha1",
            "kind": "ContactList",
            "status": status,
        });
        api.patch_status(
            &name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&patch),
        )
        .await?;
        writes += 1;
    }
    Ok(writes)
}

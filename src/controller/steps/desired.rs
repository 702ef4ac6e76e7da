//! Desired: the deduplicated contacts of the selected ContactLists (the sync's pure rule, kept
//! per task while the lists are unchanged), the ContactList statuses that report each list's
//! counts, invalid entries and digest, and the Event about lists that disagree.
use chrono::{DateTime, Utc};
use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;

use std::sync::Arc;

use kube::runtime::events::EventType;

use super::load::LoadedList;
use super::report::publish;
use crate::api::{
    CallTask, Condition, ConditionStatus, ConditionType, ContactList, ContactListStatus,
    FIELD_MANAGER, reasons, set_condition,
};
use crate::contacts::{DesiredSet, ListStats};
use crate::controller::context::Context;
use crate::controller::metrics::TaskLabels;
use crate::controller::offload;

/// The task's desired set: the cached one while its lists are unchanged, else merged from the
/// lists' parsed forms (the load step parsed only lists not kept at their version) — off the
/// async workers, since a merge over a million contacts takes a fraction of a second of CPU
/// (see `offload`).
pub fn cached(task: &CallTask, ctx: &Context, lists: &[LoadedList]) -> Arc<DesiredSet> {
    let labels = TaskLabels::of(task);
    ctx.desired
        .get_or_build(&task.uid().unwrap_or_default(), lists, |parts| {
            ctx.metrics.desired_builds.get_or_create(&labels).inc();
            offload::cpu_heavy(|| DesiredSet::merge(parts))
        })
}

/// Reports what the desired set says about its lists: each list's status, and a Warning Event
/// when lists give phones with different content.
pub async fn report(
    task: &CallTask,
    ctx: &Context,
    lists: &[LoadedList],
    desired: &DesiredSet,
) -> Result<(), kube::Error> {
    report_lists(&ctx.client, lists, desired).await?;
    report_conflicts(task, ctx, desired).await;
    Ok(())
}

/// The sentence a Ready message gets when ContactLists disagree about some contacts.
pub fn conflict_note(desired: &DesiredSet) -> String {
    match desired.conflict_count {
        0 => String::new(),
        n => format!(
            "; {n} phones are given with different content by several entries (the ContactList whose name sorts first wins, see the ConflictingContacts Event)"
        ),
    }
}

/// A Warning Event naming (masked) the phones that ContactLists give with different content
/// and which list won, once per desired set: only when the set differs from the one the last
/// status recorded, so a resync does not repeat it.
async fn report_conflicts(task: &CallTask, ctx: &Context, desired: &DesiredSet) {
    let recorded = task
        .status
        .as_ref()
        .and_then(|s| s.desired_digest.as_deref());
    if desired.conflict_count == 0 || recorded == Some(desired.digest.as_str()) {
        return;
    }
    let sample: Vec<String> = desired
        .conflicts
        .iter()
        .take(5)
        .map(|c| {
            if c.winner == c.loser {
                format!(
                    "{} twice in ContactList {} (first entry wins)",
                    c.phone, c.winner
                )
            } else {
                format!(
                    "{} in {} and {} ({} wins)",
                    c.phone, c.winner, c.loser, c.winner
                )
            }
        })
        .collect();
    publish(
        ctx,
        task,
        EventType::Warning,
        "ConflictingContacts",
        "Sync",
        Some(format!(
            "{} phones are given with different content: {}",
            desired.conflict_count,
            sample.join("; ")
        )),
    )
    .await;
}

/// Ready=True once the list's contacts were read (inline, or a readable source). The message
/// holds only counts, so it changes only when they do.
fn ready_condition(list: &ContactList, stats: &ListStats, now: DateTime<Utc>) -> Vec<Condition> {
    let mut conditions = list
        .status
        .as_ref()
        .map(|s| s.conditions.clone())
        .unwrap_or_default();
    set_condition(
        &mut conditions,
        Condition {
            type_: ConditionType::Ready,
            status: ConditionStatus::True,
            reason: reasons::contact_list::CONTACTS_READ.into(),
            message: format!(
                "{} valid contacts, {} invalid entries, {} duplicates",
                stats.count, stats.invalid, stats.duplicates
            ),
            last_transition_time: now,
            observed_generation: list.metadata.generation,
        },
    );
    conditions
}

/// The status a list's figures give. Pure: `now` is the clock reading for a condition that flips.
pub fn list_status(list: &ContactList, stats: &ListStats, now: DateTime<Utc>) -> ContactListStatus {
    let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    ContactListStatus {
        observed_generation: list.metadata.generation,
        count: count(stats.count),
        invalid: count(stats.invalid),
        invalid_sample: stats.invalid_sample.clone(),
        duplicates: count(stats.duplicates),
        digest: Some(stats.digest.clone()),
        conditions: ready_condition(list, stats, now),
    }
}

/// The status of a list whose source cannot be read: Ready=False with the reason (which names
/// the Secret or ConfigMap and key, never its content); the old figures stay. Pure.
pub fn unreadable_status(
    list: &ContactList,
    message: &str,
    now: DateTime<Utc>,
) -> ContactListStatus {
    let mut status = list.status.clone().unwrap_or_default();
    status.observed_generation = list.metadata.generation;
    set_condition(
        &mut status.conditions,
        Condition {
            type_: ConditionType::Ready,
            status: ConditionStatus::False,
            reason: reasons::contact_list::SOURCE_UNREADABLE.into(),
            message: message.into(),
            last_transition_time: now,
            observed_generation: list.metadata.generation,
        },
    );
    status
}

/// Writes `status` when it differs from the list's current one.
async fn apply_list_status(
    client: &kube::Client,
    list: &ContactList,
    status: ContactListStatus,
) -> Result<bool, kube::Error> {
    if list.status.as_ref() == Some(&status) {
        return Ok(false);
    }
    let api: Api<ContactList> =
        Api::namespaced(client.clone(), &list.namespace().unwrap_or_default());
    let patch = json!({
        "apiVersion": "callsync.io/v1alpha1",
        "kind": "ContactList",
        "status": status,
    });
    api.patch_status(
        &list.name_any(),
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await?;
    Ok(true)
}

/// Marks a list whose source cannot be read (Ready=False, reason SourceUnreadable).
pub async fn report_unreadable(
    client: &kube::Client,
    list: &ContactList,
    message: &str,
) -> Result<bool, kube::Error> {
    apply_list_status(client, list, unreadable_status(list, message, Utc::now())).await
}

/// Writes the status of each list whose figures changed (server-side apply, one field manager).
async fn report_lists(
    client: &kube::Client,
    lists: &[LoadedList],
    desired: &DesiredSet,
) -> Result<u32, kube::Error> {
    let mut writes = 0;
    let now = Utc::now();
    for loaded in lists {
        let list = &loaded.list;
        let name = list.name_any();
        let Some(stats) = desired.lists.iter().find(|s| s.name == name) else {
            continue;
        };
        if apply_list_status(client, list, list_status(list, stats, now)).await? {
            writes += 1;
        }
    }
    Ok(writes)
}

#[cfg(test)]
mod tests {

    use chrono::TimeZone;
    use serde_json::json;

    use super::*;
    use crate::contacts::Phone;
    use crate::controller::loaded_list::desired_set_of;

    fn list(name: &str, spec: serde_json::Value, generation: i64) -> LoadedList {
        let mut list = ContactList::new(name, serde_json::from_value(spec).expect("spec"));
        list.metadata.generation = Some(generation);
        LoadedList::parse(list, None, None)
    }

    fn at(seconds: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(seconds, 0).single().expect("time")
    }

    /// Lists are merged whatever their order; a phone in two lists is one contact, the list
    /// first by name wins; invalid entries are counted per list, never desired.
    #[test]
    fn the_desired_set_merges_lists_by_name_and_counts_per_list() {
        let b = list(
            "b-list",
            json!({"defaultRegion": "CN", "contacts": [
                {"phone": "13012121211", "name": "from b"}, {"phone": "not a phone"}]}),
            1,
        );
        let a = list(
            "a-list",
            json!({"contacts": [{"phone": "+8613012121211", "name": "from a"},
                                {"phone": "+8613012121212"}]}),
            1,
        );
        let one = desired_set_of(&[b, a]);
        let phone = Phone::parse("+8613012121211", None).expect("valid");
        assert_eq!(one.len(), 2);
        assert_eq!(
            one.get(phone).and_then(|c| c.name),
            Some("from a".to_string())
        );
        assert_eq!(one.conflict_count, 1);
        let stats: Vec<(&str, u64, u64)> = one
            .lists
            .iter()
            .map(|s| (s.name.as_str(), s.count, s.invalid))
            .collect();
        assert_eq!(stats, vec![("a-list", 2, 0), ("b-list", 1, 1)]);
    }

    /// A list's status holds its figures and a Ready condition whose transition time moves only
    /// when its status flips; an unreadable source keeps the old figures and says why.
    #[test]
    fn list_statuses_follow_the_figures_and_keep_them_when_the_source_is_unreadable() {
        let loaded = list("l", json!({"contacts": [{"phone": "+8613012121211"}]}), 3);
        let set = desired_set_of(std::slice::from_ref(&loaded));
        let stats = &set.lists[0];
        let status = list_status(&loaded.list, stats, at(100));
        assert_eq!((status.count, status.invalid, status.duplicates), (1, 0, 0));
        assert_eq!(status.observed_generation, Some(3));
        let ready = &status.conditions[0];
        assert_eq!(
            (ready.status, ready.reason.as_str()),
            (ConditionStatus::True, "ContactsRead")
        );
        assert_eq!(
            ready.message,
            "1 valid contacts, 0 invalid entries, 0 duplicates"
        );

        let mut with_status = (*loaded.list).clone();
        with_status.status = Some(status.clone());
        let again = list_status(&with_status, stats, at(200));
        assert_eq!(
            again.conditions[0].last_transition_time,
            at(100),
            "Ready stayed True: no transition"
        );

        let broken = unreadable_status(&with_status, "Secret s has no key k", at(300));
        assert_eq!(broken.count, 1, "the last figures stay");
        let ready = &broken.conditions[0];
        assert_eq!(
            (ready.status, ready.reason.as_str(), ready.message.as_str()),
            (
                ConditionStatus::False,
                "SourceUnreadable",
                "Secret s has no key k"
            )
        );
        assert_eq!(ready.last_transition_time, at(300));
    }
}

//! `CallTask`: one provider task whose contacts callsync keeps equal to the selected ContactLists.
use chrono::{DateTime, Utc};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Condition, LocalObjectRef};

/// One task at a provider whose contacts callsync manages: which account, which remote task,
/// which ContactLists make up the desired contacts, and how far callsync may go.
#[allow(
    clippy::duplicated_attributes,
    reason = "kube's printcolumn(...) repeats type_ = ... by design"
)]
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "callsync.io",
    version = "v1alpha1",
    kind = "CallTask",
    plural = "calltasks",
    shortname = "ct",
    category = "callsync",
    namespaced,
    status = "CallTaskStatus",
    doc = "A provider calling task whose contacts callsync keeps equal to the selected ContactLists.",
    printcolumn(
        name = "Provider",
        type_ = "string",
        json_path = ".spec.providerRef.name"
    ),
    printcolumn(
        name = "Desired",
        type_ = "integer",
        json_path = ".status.contacts.desired"
    ),
    printcolumn(
        name = "Present",
        type_ = "integer",
        json_path = ".status.contacts.present"
    ),
    printcolumn(
        name = "Pending",
        type_ = "integer",
        json_path = ".status.contacts.pending"
    ),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(
        name = "Reason",
        type_ = "string",
        priority = 1,
        json_path = ".status.conditions[?(@.type==\"Ready\")].reason"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct CallTaskSpec {
    /// The CallProvider (account) in this namespace that owns the remote task. Immutable: the
    /// ledger records what callsync put at *this* account; carried over to another account it
    /// would describe contacts that are not there.
    #[x_kube(validation = Rule::new("self == oldSelf").message("providerRef is immutable; create a new CallTask for another account"))]
    pub provider_ref: LocalObjectRef,
    /// The task at the provider: longlonglong `task_id`, Callbot `userTaskID`, NXLink `taskId`.
    #[x_kube(validation = Rule::new("self == oldSelf").message("taskId is immutable; create a new CallTask for another task"))]
    #[schemars(length(min = 1, max = 128))]
    pub task_id: String,
    /// Which ContactLists in this namespace make up the desired contacts: the union of those
    /// matching `selector` and those named in `names`, deduplicated by phone number.
    pub contact_lists: ContactListSelection,
    /// How far callsync may go in changing the remote task.
    #[serde(default)]
    pub policy: SyncPolicy,
    /// Stop all provider calls for this task while true. Nothing is added or removed.
    #[serde(default)]
    pub suspend: bool,
    /// How often to compare with the provider when nothing changed in Kubernetes (drift
    /// detection), as a Go-style duration such as `10m` or `1h30m`.
    /// Between 1s and 168h (7 days).
    #[serde(default = "default_resync_interval")]
    #[schemars(regex(pattern = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"), length(max = 32))]
    #[x_kube(validation = Rule::new("duration(self) >= duration('1s') && duration(self) <= duration('168h')")
        .message("resyncInterval must be between 1s and 168h (7 days)"))]
    pub resync_interval: String,
    /// Options that only longlonglong tasks understand.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub longlonglong: Option<LonglonglongTaskOptions>,
    /// Options that only NXLink tasks understand.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nxlink: Option<NxlinkTaskOptions>,
}

fn default_resync_interval() -> String {
    "10m".into()
}

/// Selects ContactLists in the CallTask's namespace.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[x_kube(validation = Rule::new("has(self.selector) || (has(self.names) && size(self.names) > 0)")
    .message("set selector, names, or both"))]
#[serde(rename_all = "camelCase")]
pub struct ContactListSelection {
    /// ContactLists whose labels match this selector.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<LabelSelector>,
    /// ContactLists with these names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1000))]
    pub names: Option<Vec<String>>,
}

/// What callsync may do to the remote task.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SyncPolicy {
    /// Full: add and remove until the remote task equals the desired contacts. AddOnly: add,
    /// never remove. ObserveOnly: adopt and report, never write.
    #[serde(default)]
    pub management: ManagementPolicy,
    /// What deleting the CallTask does to the remote contacts. Orphan leaves them; Delete removes
    /// every contact callsync added that the provider still allows removing.
    #[serde(default)]
    pub deletion: DeletionPolicy,
    /// Deletion guard: one sync never removes more than this percentage of the remote contacts.
    /// When a plan would, removals are blocked (adds continue) and the task is Stalled with reason
    /// DeletionGuard until the spec changes or the guard is raised. 100 disables the guard.
    #[serde(default = "default_max_delete_percent")]
    #[schemars(range(min = 0, max = 100))]
    pub max_delete_percent: i32,
    /// Providers have no update call. Ignore: a contact whose name or variables changed keeps its
    /// old content at the provider. Replace: it is removed and added again while still removable.
    #[serde(default)]
    pub content_change: ContentChangePolicy,
}

impl Default for SyncPolicy {
    fn default() -> Self {
        Self {
            management: ManagementPolicy::default(),
            deletion: DeletionPolicy::default(),
            max_delete_percent: default_max_delete_percent(),
            content_change: ContentChangePolicy::default(),
        }
    }
}

fn default_max_delete_percent() -> i32 {
    50
}

/// Management policy.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, JsonSchema)]
pub enum ManagementPolicy {
    /// Add and remove.
    #[default]
    Full,
    /// Add only; contacts no longer desired stay at the provider.
    AddOnly,
    /// Never write; report the difference.
    ObserveOnly,
}

/// Deletion policy.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, JsonSchema)]
pub enum DeletionPolicy {
    /// Leave the remote contacts as they are.
    #[default]
    Orphan,
    /// Remove every removable contact callsync added.
    Delete,
}

/// Content change policy.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, JsonSchema)]
pub enum ContentChangePolicy {
    /// Keep the content the provider has.
    #[default]
    Ignore,
    /// Remove and add again while the contact is still removable.
    Replace,
}

/// NXLink task options.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NxlinkTaskOptions {
    /// The task's caller-defined `userTaskId` at NXLink. When set, contacts are deleted by
    /// `userTaskId`, the identifier the `order/delete` docs recommend. `call/append` documents
    /// only `taskId`, so `spec.taskId` is still needed and must be the same task: callsync checks
    /// that in `task/list` before its first delete and refuses to delete otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 128))]
    pub user_task_id: Option<String>,
}

/// longlonglong task options.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LonglonglongTaskOptions {
    /// Keep added numbers out of the account's CRM pool (`ignore_crm`).
    #[serde(default = "default_true")]
    pub ignore_crm: bool,
    /// How numbers are added. Async (default): the documented `async_number` endpoint (≤200
    /// rows per request). Sync: the `number` endpoint (≤100 rows per request), inferred, not in
    /// the provider's docs. Either way a number counts as added only when the task's number
    /// listing shows it.
    #[serde(default)]
    pub add_mode: AddMode,
    /// A running 2.0 task refuses changes (code 6007). When true, callsync pauses the task,
    /// changes its numbers and resumes it; it never leaves paused a task that was running.
    #[serde(default)]
    pub pause_task_during_sync: bool,
}

fn default_true() -> bool {
    true
}

/// longlonglong add endpoint.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, JsonSchema)]
pub enum AddMode {
    /// `POST …/number`: inferred, not in the provider's docs (≤100 rows per request).
    Sync,
    /// `POST …/async_number`: documented (≤200 rows per request); the default.
    #[default]
    Async,
}

/// Observed state of a CallTask. Holds counts and samples, never the full contact list.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CallTaskStatus {
    /// The `metadata.generation` this status was computed from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Ready, Reconciling and Stalled. Ready is True (reason `InSync` or `InvalidContacts`) only
    /// when every desired contact is confirmed at the provider, nothing is in doubt, and the
    /// provider holds no contact no longer wanted that callsync cannot remove (that is Stalled,
    /// reason `ContactsNotRemovable`). Every reason: docs/operations.md, "Conditions".
    #[serde(default)]
    pub conditions: Vec<Condition>,
    /// Contact counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contacts: Option<ContactCounts>,
    /// A sample of contacts that failed, phones masked.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 20))]
    pub failures: Vec<ContactFailure>,
    /// What the last completed sync did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_sync: Option<LastSync>,
    /// Digest of the desired contact set the last sync worked from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desired_digest: Option<String>,
    /// The value of the `callsync.io/requestedAt` annotation that the last finished reconcile
    /// saw: a sync asked for with that value (`callsync sync`, or `kubectl annotate`) has run
    /// when this equals it, and the conditions tell how it ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handled_sync_request: Option<String>,
    /// When callsync last listed the provider's task in full. Between listings a sync plans
    /// against callsync's ledger (what it put at the provider, confirmed item by item), so a
    /// change made in the provider's console is seen at the next listing: after
    /// `resyncInterval`, on a sync request (`callsync sync`), after an answer that hints drift,
    /// when the provider's count of the task (one read before each sync, where the provider has
    /// one) is not the count callsync expects, or while any outcome is in doubt. Absent at a
    /// provider that cannot list (NXLink).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_listing: Option<DateTime<Utc>>,
    /// The Secret holding callsync's ledger of this task (`<task>-ledger`): the record of
    /// which contacts at the provider callsync added. Set once the ledger is saved there.
    /// Should that Secret go missing (deleted by hand, a partial restore), the task stops
    /// (reason `LedgerMissing`) rather than start a new ledger that knows nothing of what it
    /// added: contacts removed from the lists would stay at an NXLink task (it cannot be
    /// listed), cleanup on deletion would no longer remove them, and adds still in flight could
    /// be sent again. A sync requested after that (`callsync sync`) starts a new ledger from a
    /// full listing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ledger: Option<String>,
}

/// Set (to any new value, by convention the time) to ask the controller for a sync now, before
/// `resyncInterval`; the value is echoed in `status.lastHandledSyncRequest` once that sync
/// finished. The shape of Flux's `reconcile.fluxcd.io/requestedAt`.
pub const SYNC_REQUEST_ANNOTATION: &str = "callsync.io/requestedAt";

/// The longest resync interval honoured. Longer values (the schema's pattern allows any number
/// of digits) are clamped: a week without drift detection is already more than anyone means.
pub const MAX_RESYNC_INTERVAL: std::time::Duration = std::time::Duration::from_secs(7 * 24 * 3600);

impl CallTask {
    /// The effective `spec.resyncInterval`: how often the controller syncs unasked, and the
    /// longest a sync plans against the ledger without listing the task (`sync::listing`).
    pub fn resync_interval(&self) -> std::time::Duration {
        super::parse_duration(&self.spec.resync_interval)
            .unwrap_or(std::time::Duration::from_secs(600))
            .min(MAX_RESYNC_INTERVAL)
    }

    /// The sync request this object carries (`callsync.io/requestedAt`), if any.
    pub fn sync_request(&self) -> Option<&str> {
        self.metadata
            .annotations
            .as_ref()?
            .get(SYNC_REQUEST_ANNOTATION)
            .map(String::as_str)
    }
}

/// Contact counts of a CallTask.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContactCounts {
    /// Valid, deduplicated contacts selected by the ContactLists.
    pub desired: i64,
    /// Contacts at the provider that callsync knows of.
    pub present: i64,
    /// pendingAdd + pendingRemove.
    pub pending: i64,
    /// Desired contacts not yet at the provider.
    pub pending_add: i64,
    /// Contacts at the provider still to be removed.
    pub pending_remove: i64,
    /// Contacts the provider rejected.
    pub failed: i64,
    /// Contacts no longer desired that callsync cannot remove: already called (the provider
    /// keeps them), or held by the provider under an id callsync does not know (added in its
    /// console: `ContactsNotRemovable`, delete them there).
    pub not_removable: i64,
}

/// One failed contact.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContactFailure {
    /// The phone number, masked (`+86130****1211`).
    pub phone: String,
    /// Why it failed.
    pub reason: String,
}

/// Summary of the last completed sync.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LastSync {
    /// When it finished.
    pub time: DateTime<Utc>,
    /// Contacts added.
    pub added: i64,
    /// Contacts removed.
    pub removed: i64,
    /// Provider requests made.
    pub api_calls: i64,
    /// How long it took, in milliseconds.
    pub duration_ms: i64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::parse_duration;
    use std::time::Duration;

    #[test]
    fn huge_durations_neither_panic_nor_exceed_the_cap() {
        let digits = "9".repeat(400);
        assert_eq!(parse_duration(&format!("{digits}h")), Some(Duration::MAX));
        assert_eq!(parse_duration("99999999999999999999h"), Some(Duration::MAX));
        let mut task = CallTask::new(
            "t",
            serde_json::from_value(serde_json::json!({
                "providerRef": {"name": "p"}, "taskId": "x",
                "contactLists": {"names": ["a"]}, "resyncInterval": "99999999999999999999h"
            }))
            .expect("spec"),
        );
        assert_eq!(task.resync_interval(), MAX_RESYNC_INTERVAL);
        task.spec.resync_interval = "0s".into();
        assert_eq!(task.resync_interval(), Duration::from_secs(600));
    }
}

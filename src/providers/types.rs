//! The data the provider trait speaks: wire-format phones, caller-chosen remote ids, per-item
//! outcomes.
use std::collections::BTreeMap;

use super::ProviderError;

/// The remote task a call is about: longlonglong `task_id`, Callbot `userTaskID`, NXLink `taskId`
/// (the CallTask's `spec.taskId`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TaskRef {
    pub id: String,
}

impl TaskRef {
    pub fn new(id: impl Into<String>) -> Self {
        Self { id: id.into() }
    }
}

/// How the provider identifies a contact: the planner's type, so capabilities pass through
/// unchanged.
pub use crate::plan::Identity;

/// What a provider can do, after `spec.maxBatchSize` overrides are applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capabilities {
    /// Most contacts per add request. Bigger batches are split by the client.
    pub max_add: usize,
    /// Most contacts per remove request (1 when the provider deletes one at a time).
    pub max_remove: usize,
    /// The provider can enumerate a task's contacts (`list` returns `Some`).
    pub can_list: bool,
    /// Adds are applied later; `add` may answer [`ItemResult::Unknown`] for items not yet
    /// confirmed.
    pub async_add: bool,
    /// States in which the provider lets a contact be removed.
    pub removable_states: &'static [RemoteState],
    /// Phone or remote id.
    pub identity: Identity,
    /// Remove requests sent in parallel (providers that delete one contact per request).
    pub remove_concurrency: usize,
}

/// A contact to add. The phone is in the provider's wire format (the controller converts).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContactToAdd {
    /// Wire format, as the CallProvider's `phoneFormat` says.
    pub phone: String,
    /// Deterministic id chosen by the caller: Callbot `orderID`, NXLink `contactId`. Ignored by
    /// longlonglong. Sent exactly as given; a retry sends the same id.
    pub remote_id: String,
    pub name: Option<String>,
    pub company: Option<String>,
    pub email: Option<String>,
    /// Script variables (Callbot / NXLink `params`).
    pub variables: BTreeMap<String, String>,
    /// Passthrough (longlonglong `extra`, Callbot / NXLink `other`).
    pub extra: Option<String>,
}

/// A contact to remove.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContactToRemove {
    /// Wire format (longlonglong deletes by phone).
    pub phone: String,
    /// Callbot `orderID` / NXLink `contactId` (required by those two).
    pub remote_id: Option<String>,
}

/// Where a remote contact is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RemoteState {
    /// Not dialled yet.
    Pending,
    /// Being dialled, or dialled with attempts left.
    InProgress,
    /// All attempts done.
    Finished,
    /// The provider did not say (or said something this client does not know).
    Unknown,
}

/// A contact as the provider shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteContact {
    /// Wire format, as the provider wrote it.
    pub phone: String,
    /// Callbot `orderID`; none for longlonglong.
    pub remote_id: Option<String>,
    pub state: RemoteState,
    /// The provider would let callsync remove it now.
    pub removable: bool,
}

/// Why the provider refused one item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RejectReason {
    /// Not a number the provider accepts.
    InvalidNumber,
    /// Already in the task (phone), or the id is already used.
    Duplicate,
    /// The contact is being called or was called; the provider keeps it.
    NotDeletable,
    /// Anything else; the provider's message, phones masked.
    Other(String),
}

impl RejectReason {
    /// A stable word for status and metrics.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::InvalidNumber => "InvalidNumber",
            Self::Duplicate => "Duplicate",
            Self::NotDeletable => "NotDeletable",
            Self::Other(_) => "Rejected",
        }
    }
}

/// What came of one item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemResult {
    /// Applied (for a remove: the contact is gone, also when it was gone already).
    Accepted,
    /// Refused; retrying the same item will not help.
    Rejected { reason: RejectReason },
    /// Not known yet: an async add not confirmed in time, or the request that carried it
    /// failed after an earlier part of the batch went through (see [`BatchOutcome::interrupted`]).
    /// Observe again later.
    Unknown,
}

/// The outcome of one item: `index` is its position in the slice given to `add` / `remove`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemOutcome {
    pub index: usize,
    pub result: ItemResult,
}

/// Per-item outcomes of an `add` or `remove`, one per input item, in input order.
#[derive(Debug, Default)]
pub struct BatchOutcome {
    pub items: Vec<ItemOutcome>,
    /// Requests sent (including retries) — for `lastSync.apiCalls`.
    pub requests: u32,
    /// When the input was split into several requests and a later one failed, the error that
    /// stopped it; its items and those after it are [`ItemResult::Unknown`]. (When the first
    /// request fails, `add` / `remove` return `Err` instead.)
    pub interrupted: Option<ProviderError>,
    /// Set when the items went through but something needs a person now, to be shown loudly in
    /// status and Events: longlonglong's task was paused for the change and could not be
    /// started again ([`ProviderError::ResumeFailed`], reason `TaskLeftPaused`).
    pub alert: Option<ProviderError>,
}

impl BatchOutcome {
    /// Number of accepted items.
    pub fn accepted(&self) -> usize {
        self.items
            .iter()
            .filter(|i| i.result == ItemResult::Accepted)
            .count()
    }

    /// Number of rejected items.
    pub fn rejected(&self) -> usize {
        self.items
            .iter()
            .filter(|i| matches!(i.result, ItemResult::Rejected { .. }))
            .count()
    }

    /// Number of items with an unknown result.
    pub fn unknown(&self) -> usize {
        self.items
            .iter()
            .filter(|i| i.result == ItemResult::Unknown)
            .count()
    }

    /// The result of the item at `index`.
    pub fn result(&self, index: usize) -> Option<&ItemResult> {
        self.items
            .iter()
            .find(|i| i.index == index)
            .map(|i| &i.result)
    }

    pub(crate) fn push(&mut self, index: usize, result: ItemResult) {
        self.items.push(ItemOutcome { index, result });
    }

    /// Appends the outcome of one chunk whose items start at `offset` in the caller's slice.
    pub(crate) fn extend_chunk(&mut self, offset: usize, chunk: BatchOutcome) {
        self.requests += chunk.requests;
        self.items
            .extend(chunk.items.into_iter().map(|i| ItemOutcome {
                index: i.index + offset,
                result: i.result,
            }));
    }

    /// Sorts items by index (chunks done in parallel finish in any order).
    pub(crate) fn sort(&mut self) {
        self.items.sort_by_key(|i| i.index);
    }
}

/// A provider-side count to compare with the ledger when the provider cannot list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DriftHint {
    /// NXLink `statInfo.totalOrderCount` ("counted at import"; whether a delete decrements it
    /// is not documented).
    pub total_order_count: u64,
}

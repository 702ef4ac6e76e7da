//! The data the provider trait speaks: wire-format phones, caller-chosen remote ids, per-item
//! outcomes.
//!
//! # The fail-closed outcome rule
//!
//! Written once here; every client reports by it and `sync::execute` / the ledger act on it
//! (docs/DESIGN.md, "The fail-closed outcome rule"). A false "removed" means a person who opted
//! out keeps being called, so:
//!
//! 1. An item is [`ItemResult::Accepted`] only when the provider's answer says so *for that
//!    item*, or the endpoint is documented (or, where the docs are silent, read) as
//!    all-or-nothing and the answer is a success.
//! 2. "Already there" and "not found" are facts about an *id* or a *phone*, not about callsync's
//!    contact. They count as done only when the contact is proven callsync's own — the answer
//!    names an id callsync chose (its ids are UUIDv5 of the CallTask UID, phone and attempt, so
//!    nobody else makes them) — or a read confirms it:
//!    - add, "this id is already used" (our id): our earlier add landed → `Accepted`;
//!    - add, "this phone is already in the task" → [`RejectReason::Duplicate`]: maybe someone
//!      else's contact, never counted as added. A provider that can list settles it at the next
//!      listing (which gives the provider's own id); one that cannot records the phone as a
//!      foreign contact that callsync does not remove (plan `NotRemovable`, `ForeignContact`);
//!    - remove, "no contact with this id" → [`RejectReason::NotFound`]: counts as removed only
//!      when the id is callsync's own and its add had been confirmed (see `sync::execute`).
//! 3. Anything else — a message the client does not recognise, an answer it cannot fully read —
//!    is [`ItemResult::Unknown`], with the provider's message (phones masked) in
//!    [`BatchOutcome::notes`]: settled by a later read, or reported. Never counted as present or
//!    removed.
use std::collections::BTreeMap;

use super::ProviderError;

/// The remote task a call is about: longlonglong `task_id`, Callbot `userTaskID`, NXLink `taskId`
/// (the CallTask's `spec.taskId`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TaskRef {
    pub id: String,
    /// NXLink: the caller-defined `userTaskId` of the same task (CallTask
    /// `spec.nxlink.userTaskId`), the identifier the `order/delete` docs prefer. Ignored by the
    /// other providers.
    pub user_task_id: Option<String>,
}

impl TaskRef {
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            user_task_id: None,
        }
    }

    /// The remote task of a CallTask: `spec.taskId`, and NXLink's `spec.nxlink.userTaskId`.
    pub fn of_task(spec: &crate::api::CallTaskSpec) -> Self {
        Self::new(spec.task_id.clone()).with_user_task_id(
            spec.nxlink
                .as_ref()
                .and_then(|options| options.user_task_id.clone()),
        )
    }

    /// With NXLink's `userTaskId` (empty = none).
    pub fn with_user_task_id(mut self, user_task_id: Option<String>) -> Self {
        self.user_task_id = user_task_id.filter(|id| !id.is_empty());
        self
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
    /// Add: the *phone* is already in the task, as a contact callsync cannot prove is its own
    /// (added in the provider's console, by another tool, under an id callsync did not choose).
    /// Never counted as added (the fail-closed rule, module docs). "The id callsync chose is
    /// already used" is not this: that proves callsync's own add landed and is `Accepted`.
    Duplicate,
    /// Remove: the provider knows no contact by the id sent. Whether that means "removed"
    /// depends on whose id it is, which only the caller knows (the fail-closed rule).
    NotFound,
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
            Self::NotFound => "NotFound",
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
    /// Not known yet: an async add not confirmed in time, the request that carried it failed
    /// after an earlier part of the batch went through (see [`BatchOutcome::interrupted`]), or
    /// the provider answered something the client does not understand (its message is in
    /// [`BatchOutcome::notes`]). Observe again later; never counted as done.
    Unknown,
}

/// The provider's own words about one item left [`ItemResult::Unknown`] (phones masked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemNote {
    pub index: usize,
    pub message: String,
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
    /// For items left [`ItemResult::Unknown`] by an answer the client did not understand: the
    /// provider's message, phones masked, to be reported with the item.
    pub notes: Vec<ItemNote>,
    /// Batches the provider accepted and had not finished when the client stopped waiting
    /// (longlonglong `async_number`, by `unique_id`): their Unknown items may still land. The
    /// sync keeps them in the ledger, and until the provider says they finished it sends none
    /// of their items again: a second queued copy would land later and bring back a contact
    /// removed meanwhile.
    pub open_batches: Vec<String>,
}

/// What the provider says of a batch it accepted earlier ([`BatchOutcome::open_batches`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchState {
    /// Queued or being applied: its items may still land.
    Processing,
    /// Done as a whole: a listing shows what it did.
    Finished,
    /// The answer does not say (the lookup failed or is not served): treated as processing
    /// until the sync's grace period for such batches passes.
    Unknown,
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

    /// Leaves the item at `index` in doubt with the provider's message (masked here).
    pub(crate) fn push_unclear(&mut self, index: usize, message: &str) {
        self.push(index, ItemResult::Unknown);
        self.notes.push(ItemNote {
            index,
            message: super::sanitize(message),
        });
    }

    /// The provider's message about the item at `index`, when it was left in doubt by one.
    pub fn note(&self, index: usize) -> Option<&str> {
        self.notes
            .iter()
            .find(|n| n.index == index)
            .map(|n| n.message.as_str())
    }

    /// Appends the outcome of one chunk whose items start at `offset` in the caller's slice.
    pub(crate) fn extend_chunk(&mut self, offset: usize, chunk: BatchOutcome) {
        self.requests += chunk.requests;
        self.notes.extend(chunk.notes.into_iter().map(|n| ItemNote {
            index: n.index + offset,
            message: n.message,
        }));
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

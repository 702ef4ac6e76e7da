//! The provider layer: one trait, three implementations (longlonglong, NXtele Callbot v3, NXLink
//! AI Agent), and what they share (HTTP with retries, a rate limiter per account, credentials
//! read at call time).
//!
//! The layer speaks **wire-format phone strings**: the controller converts canonical phones with
//! the CallProvider's `phoneFormat` before calling and back after `list`. Remote ids (Callbot
//! `orderID`, NXLink `contactId`) are chosen by the caller, deterministically; clients send exactly
//! the ids they are given, so a retried request is recognised by the provider, not doubled.
//!
//! ```text
//! factory::build_provider ─▶ AnyProvider ─▶ {longlonglong, callbot, nxlink} ─▶ settings
//!                                              │  credentials: CredentialSource (Secret, per call)
//!                                              └─ http::Transport ─ ratelimit::Limiter (per account)
//! ```
//!
//! **Dispatch**: the trait uses `async fn`-style methods returning `impl Future + Send` (Rust 2024,
//! no `async_trait`), and [`AnyProvider`] is an enum over the three clients. The set is closed
//! (three documented APIs), an enum costs no allocation per call, its futures are `Send` so the
//! controller can spawn them, and the compiler checks every match when a fourth appears. Tests
//! and the controller can still be generic over `P: Provider` to use a fake.
mod batching;
pub mod callbot;
pub mod credentials;
pub mod error;
pub mod factory;
pub mod http;
pub mod longlonglong;
pub mod nxlink;
pub mod pause_journal;
pub mod ratelimit;
pub mod remote_task;
pub mod settings;
pub mod types;
mod wire;

use std::future::Future;

pub use callbot::CallbotClient;
pub use credentials::{
    CredentialSource, Credentials, SecretCredentials, SecretString, SharedCredentials,
    StaticCredentials,
};
pub use error::{ErrorClass, ProviderError, sanitize};
pub use factory::build_provider;
pub use http::RetryPolicy;
pub use longlonglong::LonglonglongClient;
pub use nxlink::NxlinkClient;
pub use pause_journal::{MemoryPauseJournal, PauseJournal, SharedPauseJournal};
pub use ratelimit::{AccountKey, Limiter, RateLimiters};
pub use settings::ClientSettings;
pub use types::{
    BatchOutcome, BatchState, Capabilities, ContactToAdd, ContactToRemove, DriftHint, Identity,
    ItemNote, ItemOutcome, ItemResult, RejectReason, RemoteContact, RemoteState, TaskRef,
};

/// One provider account, as the controller uses it.
///
/// `add` and `remove` take any number of items and split them into requests of at most
/// `capabilities().max_add` / `max_remove`; the outcome has one [`ItemOutcome`] per input item.
/// They return `Err` only when nothing was applied as far as the client knows (the first request
/// failed); a failure after a first request went through is reported in
/// [`BatchOutcome::interrupted`].
pub trait Provider: Send + Sync {
    /// `longlonglong`, `callbot` or `nxlink`.
    fn kind(&self) -> &'static str;

    /// Batch limits and what the provider can do.
    fn capabilities(&self) -> Capabilities;

    /// Every contact of the task, or `None` when the provider cannot list (NXLink: the ledger is
    /// the record).
    fn list(
        &self,
        task: &TaskRef,
    ) -> impl Future<Output = Result<Option<Vec<RemoteContact>>, ProviderError>> + Send;

    /// [`list`](Self::list), each contact handed to `each` as it is read, so that a caller
    /// keeping its own form of the listing never holds the provider's form of all of it too;
    /// `Ok(false)` when the provider cannot list. On `Err` what was handed over is no listing.
    /// By default the listing is read whole and then handed over; a client that pages hands
    /// over page by page.
    fn list_each(
        &self,
        task: &TaskRef,
        each: &mut (dyn FnMut(RemoteContact) + Send),
    ) -> impl Future<Output = Result<bool, ProviderError>> + Send {
        async move { Ok(hand_over(self.list(task).await?, each)) }
    }

    /// How many contacts a listing of the task would show now, read in one request, where
    /// the provider can tell without a listing (Callbot `listOrder`'s `totalCount` on a page of
    /// one; longlonglong's `meta.total` when its answer carries one); `Ok(None)` elsewhere.
    /// Between listings the sync holds it against the ledger's expected count
    /// (`sync::listing`).
    fn count(
        &self,
        task: &TaskRef,
    ) -> impl Future<Output = Result<Option<u64>, ProviderError>> + Send {
        let _ = task;
        async { Ok(None) }
    }

    /// Adds contacts.
    fn add(
        &self,
        task: &TaskRef,
        batch: &[ContactToAdd],
    ) -> impl Future<Output = Result<BatchOutcome, ProviderError>> + Send;

    /// Removes contacts.
    fn remove(
        &self,
        task: &TaskRef,
        batch: &[ContactToRemove],
    ) -> impl Future<Output = Result<BatchOutcome, ProviderError>> + Send;

    /// A provider-side count to compare with the ledger, where the provider has one and cannot
    /// list (NXLink `statInfo.totalOrderCount`); `None` elsewhere.
    fn drift_hint(
        &self,
        task: &TaskRef,
    ) -> impl Future<Output = Result<Option<DriftHint>, ProviderError>> + Send;

    /// One cheap authenticated request, for the CallProvider's `Ready` condition.
    fn check_credentials(&self) -> impl Future<Output = Result<(), ProviderError>> + Send;

    /// The state of batches the provider accepted earlier and had not finished
    /// ([`BatchOutcome::open_batches`]), oldest first, one per id in order up to and including
    /// the first that is not Finished: the ones behind it are not asked (while one batch is
    /// open the sync waits anyway, and a provider works through its queue in order), so a task
    /// waiting for its first batch costs one lookup a sync, not one per batch. A lookup that
    /// fails is [`BatchState::Unknown`], never Finished. Only longlonglong's async add leaves
    /// any.
    fn batch_states(
        &self,
        task: &TaskRef,
        ids: &[String],
    ) -> impl Future<Output = Vec<BatchState>> + Send;
}

/// Hands a whole listing over one contact at a time; false when there is none.
fn hand_over(
    listing: Option<Vec<RemoteContact>>,
    each: &mut (dyn FnMut(RemoteContact) + Send),
) -> bool {
    listing
        .map(|contacts| contacts.into_iter().for_each(each))
        .is_some()
}

impl AnyProvider {
    /// Starts again a task that callsync paused and never resumed (a record left in the pause
    /// journal by a killed process). Only longlonglong pauses tasks; the others have nothing
    /// to undo.
    pub async fn resume_left_paused(&self, task: &TaskRef) -> Result<(), ProviderError> {
        match self {
            AnyProvider::Longlonglong(client) => client.resume_left_paused(task).await,
            AnyProvider::Callbot(_) | AnyProvider::Nxlink(_) => Ok(()),
        }
    }
}

/// The three clients behind one type (see the module doc for why an enum).
#[derive(Clone)]
pub enum AnyProvider {
    Longlonglong(LonglonglongClient),
    Callbot(CallbotClient),
    Nxlink(NxlinkClient),
}

impl std::fmt::Debug for AnyProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("AnyProvider").field(&self.kind()).finish()
    }
}

macro_rules! dispatch {
    ($self:ident, $client:ident => $body:expr) => {
        match $self {
            AnyProvider::Longlonglong($client) => $body,
            AnyProvider::Callbot($client) => $body,
            AnyProvider::Nxlink($client) => $body,
        }
    };
}

impl Provider for AnyProvider {
    fn kind(&self) -> &'static str {
        dispatch!(self, c => c.kind())
    }

    fn capabilities(&self) -> Capabilities {
        dispatch!(self, c => c.capabilities())
    }

    async fn list(&self, task: &TaskRef) -> Result<Option<Vec<RemoteContact>>, ProviderError> {
        dispatch!(self, c => c.list(task).await)
    }

    async fn list_each(
        &self,
        task: &TaskRef,
        each: &mut (dyn FnMut(RemoteContact) + Send),
    ) -> Result<bool, ProviderError> {
        match self {
            AnyProvider::Callbot(client) => client.list_each(task, each).await,
            AnyProvider::Longlonglong(_) | AnyProvider::Nxlink(_) => {
                Ok(hand_over(self.list(task).await?, each))
            }
        }
    }

    async fn count(&self, task: &TaskRef) -> Result<Option<u64>, ProviderError> {
        match self {
            AnyProvider::Callbot(client) => client.count(task).await,
            AnyProvider::Longlonglong(client) => client.count(task).await,
            AnyProvider::Nxlink(_) => Ok(None),
        }
    }

    async fn add(
        &self,
        task: &TaskRef,
        batch: &[ContactToAdd],
    ) -> Result<BatchOutcome, ProviderError> {
        dispatch!(self, c => c.add(task, batch).await)
    }

    async fn remove(
        &self,
        task: &TaskRef,
        batch: &[ContactToRemove],
    ) -> Result<BatchOutcome, ProviderError> {
        dispatch!(self, c => c.remove(task, batch).await)
    }

    async fn drift_hint(&self, task: &TaskRef) -> Result<Option<DriftHint>, ProviderError> {
        dispatch!(self, c => c.drift_hint(task).await)
    }

    async fn check_credentials(&self) -> Result<(), ProviderError> {
        dispatch!(self, c => c.check_credentials().await)
    }

    async fn batch_states(&self, task: &TaskRef, ids: &[String]) -> Vec<BatchState> {
        match self {
            AnyProvider::Longlonglong(client) => client.batch_states(task, ids).await,
            // Their adds answer for every item at once: they never leave a batch open.
            AnyProvider::Callbot(_) | AnyProvider::Nxlink(_) => {
                vec![BatchState::Finished; ids.len()]
            }
        }
    }
}

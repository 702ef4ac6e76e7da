//! Observe: what the provider has, as canonical phones, and the ledger settled against it —
//! or, between full listings (`sync::listing`), the ledger alone.
//!
//! Batches the provider accepted earlier and had not finished (the ledger's open batches) are
//! asked about first, then the task is listed: a batch that finishes between the two is seen
//! by the listing, never taken for lost. One still processing keeps its unlisted adds in
//! doubt (`adds_awaited`), and the planner does not send them again.
use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::contacts::RemoteId;
use crate::ledger::{Ledger, ReconcileReport};
use crate::plan::{Observed, ObservedContact};
use crate::providers::{BatchState, Provider, ProviderError, RemoteContact, TaskRef};

use super::WireFormat;
use super::listing::{ListingReason, ListingSchedule, listing_reason};

/// How long a batch whose state the provider does not tell (its result lookup fails, or is not
/// served: it is inferred) is taken to be still processing. Past it, its adds count as lost and
/// are sent again. The documented `async_number` promises only a callback, so this is a guess:
/// long enough for a queue that is slow, short enough that a contact is not missing for hours.
pub const UNKNOWN_BATCH_GRACE: Duration = Duration::from_secs(30 * 60);

/// Seconds since the Unix epoch, for the ledger's open batches and listing marks.
pub fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// What observation found.
#[derive(Debug, Default)]
pub struct Observation {
    /// The listing as the planner takes it; `None` when the provider cannot list.
    pub observed: Observed,
    /// Listed contacts whose phone could not be read (left alone, reported).
    pub unreadable: u64,
    /// How the ledger changed when settled against the listing.
    pub settled: ReconcileReport,
    /// Provider requests made.
    pub requests: u64,
    /// Why the task was listed in full; `None`: the plan is made against the ledger (between
    /// listings, or at a provider that cannot list).
    pub listed: Option<ListingReason>,
    /// The listing changed the ledger's listing marks in a way that must be saved even when
    /// nothing else changed: it answered a drift hint, or moved the count offset.
    pub marks_changed: bool,
}

/// Lists the task when `schedule` and the ledger say a listing is due (and the provider can),
/// settling the ledger's in-flight entries and drift against it; otherwise leaves the ledger
/// as the record.
pub async fn observe<P: Provider>(
    provider: &P,
    task: &TaskRef,
    wire: &WireFormat,
    ledger: &mut Ledger,
    schedule: &ListingSchedule,
) -> Result<Observation, ProviderError> {
    let mut requests = settle_open_batches(provider, task, ledger, schedule.now).await;
    if !provider.capabilities().can_list {
        return Ok(Observation {
            requests,
            ..Default::default()
        });
    }
    let mut reason = listing_reason(ledger, schedule);
    if reason.is_none() {
        let (drift, asked) = count_drift(provider, task, ledger).await;
        requests += asked;
        reason = drift;
    }
    let Some(reason) = reason else {
        return Ok(Observation {
            requests,
            ..Default::default()
        });
    };
    let mut observation =
        list_and_settle(provider, task, wire, ledger, schedule.now, reason).await?;
    observation.requests += requests;
    Ok(observation)
}

/// Between listings, the provider's count of the task held against the count the ledger
/// expects ([`Ledger::expected_count`]): a different one means contacts were added or removed
/// behind callsync's back, and the task is listed ([`ListingReason::CountDrift`]). Returns the
/// reason, if any, and the requests made. A count that cannot be read lists nothing: the ledger
/// stays the record until the next listing is due, as where the provider has no count.
async fn count_drift<P: Provider>(
    provider: &P,
    task: &TaskRef,
    ledger: &Ledger,
) -> (Option<ListingReason>, u64) {
    let Some(expected) = ledger.expected_count() else {
        return (None, 0);
    };
    match provider.count(task).await {
        Ok(Some(count)) if count != expected => {
            tracing::info!(
                count,
                expected,
                "the provider's count of the task is not the ledger's: listing it"
            );
            (Some(ListingReason::CountDrift), 1)
        }
        Ok(Some(_)) => (None, 1),
        Ok(None) => (None, 0),
        Err(error) => {
            tracing::warn!(%error, "the provider's count of the task could not be read; planning against the ledger");
            (None, 1)
        }
    }
}

/// Lists the task in full (for `reason`) and settles the ledger against the listing: the
/// ledger's in-flight entries and drift, and its listing marks (`now`).
pub(super) async fn list_and_settle<P: Provider>(
    provider: &P,
    task: &TaskRef,
    wire: &WireFormat,
    ledger: &mut Ledger,
    now: u64,
    reason: ListingReason,
) -> Result<Observation, ProviderError> {
    let mut decoder = ListingDecoder::new(wire);
    if !provider
        .list_each(task, &mut |remote| decoder.push(remote))
        .await?
    {
        return Ok(Observation {
            requests: 1,
            ..Default::default()
        });
    }
    let (observed, unreadable) = decoder.finish();
    let settled = ledger.reconcile(&observed);
    let marks_changed = ledger.mark_listed(now, observed.len() as u64 + unreadable);
    Ok(Observation {
        observed: Some(observed),
        unreadable,
        settled,
        requests: 1,
        listed: Some(reason),
        marks_changed,
    })
}

/// A listing as the planner takes it: canonical phones, and how many listed phones could not
/// be read (left alone and reported, never taken for another number).
pub fn decode_listing(
    wire: &WireFormat,
    listing: Vec<RemoteContact>,
) -> (Vec<ObservedContact>, u64) {
    let mut decoder = ListingDecoder::new(wire);
    listing.into_iter().for_each(|remote| decoder.push(remote));
    decoder.finish()
}

/// [`decode_listing`] one contact at a time, as a provider hands its listing over: only the
/// decoded form (a packed phone and a compact id) is kept.
pub struct ListingDecoder<'a> {
    wire: &'a WireFormat,
    observed: Vec<ObservedContact>,
    unreadable: u64,
}

impl<'a> ListingDecoder<'a> {
    pub fn new(wire: &'a WireFormat) -> Self {
        Self {
            wire,
            observed: Vec::new(),
            unreadable: 0,
        }
    }

    /// Decodes one listed contact.
    pub fn push(&mut self, remote: RemoteContact) {
        match self.wire.decode(&remote.phone) {
            Ok(phone) => self.observed.push(ObservedContact {
                phone,
                remote_id: remote.remote_id.map(RemoteId::from),
                removable: remote.removable,
                content_digest: None,
            }),
            Err(_) => self.unreadable += 1,
        }
    }

    /// The decoded listing, and how many phones could not be read.
    pub fn finish(mut self) -> (Vec<ObservedContact>, u64) {
        // Settling and planning hold it for the rest of the sync: no growth slack.
        self.observed.shrink_to_fit();
        (self.observed, self.unreadable)
    }
}

/// Drops from the ledger the open batches the provider says are done, and those unknown for
/// longer than [`UNKNOWN_BATCH_GRACE`]; returns the lookups made.
async fn settle_open_batches<P: Provider>(
    provider: &P,
    task: &TaskRef,
    ledger: &mut Ledger,
    now: u64,
) -> u64 {
    // Nothing in flight: nothing can be waiting in a batch.
    ledger.retain_open_batches(|_| true);
    if !ledger.adds_may_land() {
        return 0;
    }
    let ids: Vec<String> = ledger.open_batches().iter().map(|b| b.id.clone()).collect();
    let states = provider.batch_states(task, &ids).await;
    let asked = states.len() as u64;
    let states: HashMap<&str, BatchState> = ids.iter().map(String::as_str).zip(states).collect();
    ledger.retain_open_batches(|batch| match states.get(batch.id.as_str()) {
        // Not asked (behind one still open): still open.
        None | Some(BatchState::Processing) => true,
        Some(BatchState::Finished) => false,
        Some(BatchState::Unknown) => {
            now.saturating_sub(batch.accepted_at) < UNKNOWN_BATCH_GRACE.as_secs()
        }
    });
    if ledger.adds_may_land() {
        tracing::info!(
            batches = ledger.open_batches().len(),
            "add batches accepted earlier are not done at the provider; their contacts are awaited, not sent again"
        );
    }
    asked
}

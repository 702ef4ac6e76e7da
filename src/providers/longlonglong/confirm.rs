//! Settling added rows by a read: an added row is Accepted only when the number listing shows
//! its phone.
//!
//! The documented add (`async_number`) answers only "queued, see the callback"; the sync
//! `number` add (inferred) says which rows it refused but not reliably which it took. So every
//! row stays [`ItemResult::Unknown`] until the listing shows it. For async batches the inferred
//! `identification/{unique_id}` lookup is polled first, only to know when to read (the batch is
//! finished) and which rows it refused. The read looks for the rows' phones page by page and
//! stops when all are seen ([`LonglonglongClient::find`]), so confirming a batch costs a few
//! pages, not the whole listing. A refused row is Rejected only when a complete listing does
//! not show it; a row the listing shows is Accepted whatever the answer said (its own earlier
//! attempt, a duplicate: the number is in the task). Rows not settled when
//! `async_confirm_timeout` passes stay Unknown, and the batches not finished by then are
//! handed back ([`BatchOutcome::open_batches`]): the sync keeps their ids and asks
//! [`LonglonglongClient::batch_states`] before it trusts a listing that does not show their
//! rows, so that it never queues a second copy of a batch still waiting at the provider.
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use super::answers::{batch_finished, refused_rows};
use super::{LonglonglongClient, Req};
use crate::providers::http::Sent;
use crate::providers::wire::seg;
use crate::providers::{
    BatchOutcome, BatchState, ContactToAdd, ContactToRemove, ItemResult, ProviderError,
    RejectReason, RemoteState, SecretString, TaskRef,
};
use reqwest::Method;

/// What the add requests left to settle.
#[derive(Default)]
pub(super) struct Pending {
    /// Rows the add's answer refused, by index in the caller's batch (applied only when the
    /// listing does not show the phone).
    pub(super) refused: HashMap<usize, RejectReason>,
    /// Async batches: `unique_id` and the offset of its first row in the caller's batch.
    pub(super) batches: Vec<(String, usize)>,
}

impl LonglonglongClient {
    /// Settles the `Unknown` items of `outcome` (an add of `batch`).
    pub(super) async fn confirm(
        &self,
        task: &TaskRef,
        batch: &[ContactToAdd],
        outcome: &mut BatchOutcome,
        pending: &mut Pending,
        token: &SecretString,
    ) {
        if unknown_phones(batch, outcome).is_empty() {
            return;
        }
        let deadline = Instant::now() + self.inner.async_confirm_timeout;
        let waits = !pending.batches.is_empty();
        let mut lookup_works = true;
        let mut wait = self.inner.async_poll_interval;
        loop {
            if waits {
                sleep_until_at_most(wait, deadline).await;
                wait = (wait * 2).min(Duration::from_secs(2));
            }
            if waits && lookup_works {
                lookup_works = self.poll_batches(batch, pending, outcome, token).await;
                if lookup_works && !pending.batches.is_empty() && Instant::now() < deadline {
                    continue;
                }
            }
            // Sync adds and finished batches are read once; otherwise until the deadline.
            let last_round = !waits
                || (lookup_works && pending.batches.is_empty())
                || Instant::now() >= deadline;
            let wanted = unknown_phones(batch, outcome);
            match self.find(task, token, &wanted).await {
                Ok((seen, requests)) => {
                    outcome.requests += requests;
                    accept_shown(batch, outcome, seen);
                }
                Err(err) => {
                    tracing::info!(reason = err.reason(), error = %err, "the number listing cannot confirm the added rows; they stay unknown");
                    return;
                }
            }
            let refused_unseen = outcome
                .items
                .iter()
                .any(|i| i.result == ItemResult::Unknown && pending.refused.contains_key(&i.index));
            if last_round && refused_unseen {
                // A refused row is Rejected only when a complete listing does not show it.
                match self.list_all(task, token).await {
                    Ok(listing) => {
                        outcome.requests += listing.requests;
                        let shown = listing.contacts.into_iter().map(|c| c.phone).collect();
                        accept_shown(batch, outcome, shown);
                        for item in &mut outcome.items {
                            if item.result == ItemResult::Unknown
                                && let Some(reason) = pending.refused.remove(&item.index)
                            {
                                item.result = ItemResult::Rejected { reason };
                            }
                        }
                    }
                    Err(err) => {
                        tracing::info!(reason = err.reason(), error = %err, "the number listing cannot settle the refused rows; they stay unknown");
                        return;
                    }
                }
            }
            let left = unknown_phones(batch, outcome).len();
            if left == 0 || last_round {
                if left > 0 {
                    tracing::info!(
                        numbers = left,
                        "added numbers not shown by the number listing; they stay unknown until the next observation"
                    );
                }
                return;
            }
        }
    }

    /// Settles the `Unknown` rows of a delete by one complete listing: a number no longer
    /// listed is removed (Accepted), one listed as calling or called is kept by the provider
    /// (Rejected `NotDeletable`), one still listed as not called stays Unknown. A listing that
    /// cannot be read proves nothing gone: every row stays Unknown.
    pub(super) async fn confirm_removals(
        &self,
        task: &TaskRef,
        batch: &[ContactToRemove],
        outcome: &mut BatchOutcome,
        token: &SecretString,
    ) {
        if !outcome
            .items
            .iter()
            .any(|i| i.result == ItemResult::Unknown)
        {
            return;
        }
        let listing = match self.list_all(task, token).await {
            Ok(listing) => listing,
            Err(err) => {
                tracing::info!(reason = err.reason(), error = %err, "the number listing cannot confirm the deletions; they stay unknown");
                return;
            }
        };
        outcome.requests += listing.requests;
        // A suffixed copy is listed (and deleted) under its raw value.
        let listed: HashMap<String, RemoteState> = listing
            .contacts
            .into_iter()
            .map(|c| (c.remote_id.unwrap_or(c.phone), c.state))
            .collect();
        for item in &mut outcome.items {
            if item.result != ItemResult::Unknown {
                continue;
            }
            let target = &batch[item.index];
            let key = target.remote_id.as_deref().unwrap_or(&target.phone);
            item.result = match listed.get(key) {
                None => ItemResult::Accepted,
                Some(RemoteState::InProgress | RemoteState::Finished) => ItemResult::Rejected {
                    reason: RejectReason::NotDeletable,
                },
                Some(RemoteState::Pending | RemoteState::Unknown) => ItemResult::Unknown,
            };
        }
    }

    /// Polls the result of every open async batch once; finished batches leave `pending`, their
    /// refused rows join `pending.refused`. Returns false when the lookup cannot be used (it
    /// is inferred: a server without it answers 404), so that only the listing is read.
    async fn poll_batches(
        &self,
        batch: &[ContactToAdd],
        pending: &mut Pending,
        outcome: &mut BatchOutcome,
        token: &SecretString,
    ) -> bool {
        let mut open = Vec::new();
        let mut batches = std::mem::take(&mut pending.batches).into_iter();
        while let Some((unique_id, offset)) = batches.next() {
            match self.lookup_batch(&unique_id, token).await {
                Ok(Sent {
                    value: envelope,
                    attempts,
                    ..
                }) => {
                    outcome.requests += attempts;
                    if batch_finished(&envelope.data) {
                        let rows = &batch[offset..batch.len().min(offset + self.inner.max_add)];
                        for (index, reason) in refused_rows(rows, &envelope.data) {
                            pending.refused.insert(offset + index, reason);
                        }
                    } else {
                        open.push((unique_id, offset));
                    }
                }
                Err(err) if !err.is_retryable() => {
                    tracing::debug!(reason = err.reason(), error = %err, "async add result lookup unusable; reading the number listing only");
                    // Not known to be done: every batch not seen finished stays open.
                    open.push((unique_id, offset));
                    open.extend(batches);
                    pending.batches = open;
                    return false;
                }
                Err(err) => {
                    tracing::debug!(reason = err.reason(), error = %err, "async add result lookup failed");
                    open.push((unique_id, offset));
                }
            }
        }
        pending.batches = open;
        true
    }

    /// The inferred `GET …/identification/{unique_id}` lookup of an async batch's result.
    async fn lookup_batch(
        &self,
        unique_id: &str,
        token: &SecretString,
    ) -> Result<Sent<super::answers::Envelope>, ProviderError> {
        let mut query = Vec::new();
        if let Some(sub) = self.sub_user() {
            query.push(("sub_user_id", sub.to_owned()));
        }
        let path = self.user_path(&format!("/identification/{}", seg(unique_id)));
        self.call(
            Req::new("identification", Method::GET, path).query(query),
            token,
            None,
        )
        .await
    }

    /// Whether the async batches a sync left open ([`BatchOutcome::open_batches`]) are done,
    /// asked in order up to the first that is not ([`crate::providers::Provider::batch_states`]).
    /// Only an answer that says so is [`BatchState::Finished`]; a lookup that fails, or that
    /// this server does not serve, is [`BatchState::Unknown`].
    pub async fn batch_states(&self, _task: &TaskRef, ids: &[String]) -> Vec<BatchState> {
        let token = match self.token().await {
            Ok(token) => token,
            Err(err) => {
                tracing::info!(reason = err.reason(), error = %err, "cannot ask whether earlier async batches are done");
                return vec![BatchState::Unknown; ids.len()];
            }
        };
        let mut states = Vec::with_capacity(ids.len());
        for id in ids {
            let state = match self.lookup_batch(id, &token).await {
                Ok(sent) if batch_finished(&sent.value.data) => BatchState::Finished,
                Ok(_) => BatchState::Processing,
                Err(err) => {
                    tracing::info!(reason = err.reason(), error = %err, "async batch lookup failed; the batch counts as not done");
                    BatchState::Unknown
                }
            };
            states.push(state);
            if state != BatchState::Finished {
                break;
            }
        }
        states
    }
}

/// Phones of the rows still Unknown, less those another row of the batch already settled.
fn unknown_phones(batch: &[ContactToAdd], outcome: &BatchOutcome) -> HashSet<String> {
    let settled: HashSet<&str> = outcome
        .items
        .iter()
        .filter(|i| i.result == ItemResult::Accepted)
        .map(|i| batch[i.index].phone.as_str())
        .collect();
    outcome
        .items
        .iter()
        .filter(|i| i.result == ItemResult::Unknown)
        .map(|i| batch[i.index].phone.as_str())
        .filter(|p| !settled.contains(p))
        .map(str::to_owned)
        .collect()
}

/// Accepts the Unknown rows whose phone is `shown`: one row per phone (a phone given twice is
/// in the task once), none for a phone another row already took.
fn accept_shown(batch: &[ContactToAdd], outcome: &mut BatchOutcome, mut shown: HashSet<String>) {
    for item in &outcome.items {
        if item.result == ItemResult::Accepted {
            shown.remove(&batch[item.index].phone);
        }
    }
    for item in &mut outcome.items {
        if item.result == ItemResult::Unknown && shown.remove(&batch[item.index].phone) {
            item.result = ItemResult::Accepted;
        }
    }
}

async fn sleep_until_at_most(wait: Duration, deadline: Instant) {
    tokio::time::sleep(wait.min(deadline.saturating_duration_since(Instant::now()))).await;
}

//! Execute: remove batches first (they free capacity and settle replacements), then add
//! batches. Each batch: intent into the ledger and saved, the request, outcomes into the ledger
//! and saved. A crash between any two steps leaves a ledger the next sync can settle.
use crate::contacts::{DesiredSet, Phone};
use crate::ledger::{ItemOutcome as LedgerOutcome, Ledger, Rejection};
use crate::plan::{AddItem, Plan, RemoveItem};
use crate::providers::{
    BatchOutcome, ContactToAdd, ContactToRemove, ItemResult, Provider, ProviderError, RejectReason,
    TaskRef,
};

use super::{SinkError, SyncSink, WireFormat};

/// Most failures kept as a sample (the CallTask status schema allows 20).
const FAILURE_SAMPLE: usize = 20;

/// One contact the provider refused, phone masked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub phone: String,
    pub reason: String,
}

/// What execution did.
#[derive(Debug, Default)]
pub struct ExecuteReport {
    pub added: u64,
    pub removed: u64,
    /// Items whose outcome was lost (timeout, dropped connection): settled next sync.
    pub unknown: u64,
    /// Contacts refused (invalid number, not deletable, …).
    pub failed: u64,
    /// Up to 20 refusals, phones masked.
    pub failures: Vec<Failure>,
    /// Provider requests made.
    pub requests: u64,
    /// Of those, by remove batches.
    pub remove_requests: u64,
    /// The provider error that stopped execution early, if any.
    pub stopped_by: Option<ProviderError>,
    /// `"add"` or `"remove"`: which operation failed when `stopped_by` is set.
    pub stopped_in: Option<&'static str>,
    /// A problem that did not stop execution but needs a person (longlonglong left a task
    /// paused).
    pub alert: Option<ProviderError>,
    /// The sink asked to stop ([`SyncSink::stop_requested`]); contacts of the batches not sent
    /// are still pending.
    pub interrupted: bool,
    /// Contacts of batches not sent (non-zero only when execution stopped early).
    pub pending: u64,
}

impl ExecuteReport {
    fn fail(&mut self, phone: Phone, reason: String) {
        self.failed += 1;
        if self.failures.len() < FAILURE_SAMPLE {
            self.failures.push(Failure {
                phone: phone.masked(),
                reason,
            });
        }
    }

    fn absorb(&mut self, outcome: &mut BatchOutcome) {
        self.requests += u64::from(outcome.requests);
        if let Some(alert) = outcome.alert.take() {
            self.alert = Some(alert);
        }
    }
}

fn ledger_outcome(result: Option<&ItemResult>) -> LedgerOutcome {
    match result {
        Some(ItemResult::Accepted) => LedgerOutcome::Accepted,
        Some(ItemResult::Rejected { reason }) => LedgerOutcome::Rejected(match reason {
            RejectReason::Duplicate => Rejection::Duplicate,
            RejectReason::NotDeletable => Rejection::NotRemovable,
            RejectReason::InvalidNumber | RejectReason::Other(_) => Rejection::Other,
        }),
        Some(ItemResult::Unknown) | None => LedgerOutcome::Unknown,
    }
}

fn reject_text(reason: &RejectReason) -> String {
    match reason {
        RejectReason::InvalidNumber => "provider refused the number as invalid".into(),
        RejectReason::Duplicate => "already at the provider".into(),
        RejectReason::NotDeletable => {
            "already called; the provider does not allow removing it".into()
        }
        RejectReason::Other(text) => crate::providers::sanitize(text),
    }
}

/// Carries out `plan`. Stops at the first batch the provider fails as a whole; what was done
/// until then is in the ledger and the report.
pub async fn execute<P: Provider, S: SyncSink>(
    provider: &P,
    task: &TaskRef,
    wire: &WireFormat,
    desired: &DesiredSet,
    plan: &Plan,
    ledger: &mut Ledger,
    sink: &mut S,
) -> Result<ExecuteReport, SinkError> {
    let mut report = ExecuteReport::default();
    let mut pending_remove: u64 = plan.removes.iter().map(|b| b.items.len() as u64).sum();
    let mut pending_add: u64 = plan.adds.iter().map(|b| b.items.len() as u64).sum();

    for batch in &plan.removes {
        if sink.stop_requested() {
            report.interrupted = true;
            report.pending = pending_add + pending_remove;
            return Ok(report);
        }
        let stop = remove_batch(
            provider,
            task,
            wire,
            &batch.items,
            ledger,
            sink,
            &mut report,
        )
        .await?;
        pending_remove -= batch.items.len() as u64;
        sink.progress(pending_add, pending_remove).await;
        if stop {
            report.pending = pending_add + pending_remove;
            return Ok(report);
        }
    }
    for batch in &plan.adds {
        if sink.stop_requested() {
            report.interrupted = true;
            report.pending = pending_add + pending_remove;
            return Ok(report);
        }
        let stop = add_batch(
            provider,
            task,
            wire,
            desired,
            &batch.items,
            ledger,
            sink,
            &mut report,
        )
        .await?;
        pending_add -= batch.items.len() as u64;
        sink.progress(pending_add, pending_remove).await;
        if stop {
            report.pending = pending_add + pending_remove;
            return Ok(report);
        }
    }
    Ok(report)
}

/// Returns true when execution must stop.
async fn remove_batch<P: Provider, S: SyncSink>(
    provider: &P,
    task: &TaskRef,
    wire: &WireFormat,
    items: &[RemoveItem],
    ledger: &mut Ledger,
    sink: &mut S,
    report: &mut ExecuteReport,
) -> Result<bool, SinkError> {
    let phones: Vec<Phone> = items.iter().map(|i| i.phone).collect();
    ledger.record_remove_intent(&phones);
    sink.save_ledger(ledger).await?;
    let requests: Vec<ContactToRemove> = items
        .iter()
        .map(|item| ContactToRemove {
            // Removal targets come from the provider's listing or the ledger, so they encode.
            phone: wire
                .encode(item.phone)
                .unwrap_or_else(|_| item.phone.to_wire(wire.format)),
            remote_id: item.remote_id.clone(),
        })
        .collect();
    let before = report.requests;
    let mut outcome = match provider.remove(task, &requests).await {
        Ok(outcome) => outcome,
        Err(error) => {
            // Nothing applied as far as the client knows; the entries stay Removing and the
            // next sync settles them.
            report.requests += 1;
            report.remove_requests += 1;
            report.stopped_by = Some(error);
            report.stopped_in = Some("remove");
            return Ok(true);
        }
    };
    report.absorb(&mut outcome);
    report.remove_requests += report.requests - before;
    for (index, item) in items.iter().enumerate() {
        let result = outcome.result(index);
        match result {
            Some(ItemResult::Accepted) => report.removed += 1,
            Some(ItemResult::Rejected { reason }) => report.fail(item.phone, reject_text(reason)),
            Some(ItemResult::Unknown) | None => report.unknown += 1,
        }
        ledger.record_remove_outcome(item.phone, ledger_outcome(result));
    }
    sink.save_ledger(ledger).await?;
    if let Some(error) = outcome.interrupted.take() {
        report.stopped_by = Some(error);
        report.stopped_in = Some("remove");
        return Ok(true);
    }
    Ok(false)
}

/// Returns true when execution must stop.
#[allow(
    clippy::too_many_arguments,
    reason = "one batch needs all of the sync's parts"
)]
async fn add_batch<P: Provider, S: SyncSink>(
    provider: &P,
    task: &TaskRef,
    wire: &WireFormat,
    desired: &DesiredSet,
    items: &[AddItem],
    ledger: &mut Ledger,
    sink: &mut S,
    report: &mut ExecuteReport,
) -> Result<bool, SinkError> {
    // Contacts the account cannot carry are failures, never sent.
    let mut sendable = Vec::with_capacity(items.len());
    for item in items {
        match wire.encode(item.phone) {
            Ok(phone) => sendable.push((item, phone)),
            Err(refusal) => report.fail(item.phone, refusal.to_string()),
        }
    }
    if sendable.is_empty() {
        return Ok(false);
    }
    let intents: Vec<(Phone, crate::contacts::ContentDigest)> =
        sendable.iter().map(|(i, _)| (i.phone, i.digest)).collect();
    let remote_ids = ledger.record_add_intent(&intents);
    sink.save_ledger(ledger).await?;

    let requests: Vec<ContactToAdd> = sendable
        .iter()
        .zip(&remote_ids)
        .map(|((item, phone), remote_id)| {
            let contact = desired.contacts().get(item.desired_index as usize);
            ContactToAdd {
                phone: phone.clone(),
                remote_id: remote_id.to_string(),
                name: contact.and_then(|c| c.name.clone()),
                company: contact.and_then(|c| c.company.clone()),
                email: contact.and_then(|c| c.email.clone()),
                variables: contact.map(|c| c.variables.clone()).unwrap_or_default(),
                extra: contact.and_then(|c| c.extra.clone()),
            }
        })
        .collect();
    let mut outcome = match provider.add(task, &requests).await {
        Ok(outcome) => outcome,
        Err(error) => {
            // The entries stay Adding with their remote ids: the next sync sends the same ids.
            report.requests += 1;
            report.stopped_by = Some(error);
            report.stopped_in = Some("add");
            return Ok(true);
        }
    };
    report.absorb(&mut outcome);
    for (index, (item, _)) in sendable.iter().enumerate() {
        let result = outcome.result(index);
        match result {
            Some(ItemResult::Accepted)
            | Some(ItemResult::Rejected {
                reason: RejectReason::Duplicate,
            }) => report.added += 1,
            Some(ItemResult::Rejected { reason }) => report.fail(item.phone, reject_text(reason)),
            Some(ItemResult::Unknown) | None => report.unknown += 1,
        }
        ledger.record_add_outcome(item.phone, ledger_outcome(result));
    }
    sink.save_ledger(ledger).await?;
    if let Some(error) = outcome.interrupted.take() {
        report.stopped_by = Some(error);
        report.stopped_in = Some("add");
        return Ok(true);
    }
    Ok(false)
}

//! Execute: remove batches first (they free capacity and settle replacements), then add
//! batches, in windows of consecutive batches. Each window: the intents of all its batches into
//! the ledger and one save (which also carries the previous window's outcomes), then its
//! requests, each outcome into the ledger. A crash between any two steps leaves a ledger the
//! next sync can settle: a batch never sent looks exactly like one whose answer was lost.
//!
//! A save writes the whole ledger, so one save per batch made a sync cost O(n²) bytes (hours
//! and gigabytes of etcd writes at a million contacts). A window holds at least one batch and
//! up to a quarter of the ledger's size in items, so the ledger grows by a constant factor
//! per save: about 4·ln(n / batch) saves per first sync, and the bytes written stay a small
//! multiple of the final ledger.
use uuid::Uuid;

use crate::contacts::{DesiredSet, Phone};
use crate::ledger::{EntryState, ItemOutcome as LedgerOutcome, Ledger, Rejection};
use crate::plan::{AddItem, AddReason, ContentAction, Plan, RemoveItem, RemoveReason};
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
    /// Adds the provider accepted (never one it refused, as a duplicate or otherwise).
    pub added: u64,
    /// Adds the provider refused because it already has the phone: at the provider (its answer
    /// for that item says so), but not put there by this sync, so counted neither as added nor
    /// as failed.
    pub already_present: u64,
    /// Removals the provider accepted (or confirmed already gone).
    pub removed: u64,
    /// Items whose outcome was lost (timeout, dropped connection): settled next sync.
    pub unknown: u64,
    /// Contacts refused (invalid number, not deletable, …), by the provider or, for numbers the
    /// account's phone format cannot carry, before sending.
    pub failed: u64,
    /// Of `already_present`: phones the provider already held as a contact callsync did not
    /// make, at a provider that cannot list, so callsync cannot address them (recorded as
    /// foreign; once no longer wanted the planner reports them `ForeignContact`).
    pub foreign: u64,
    /// Of `failed`, contacts never sent because the account's phone format cannot carry them:
    /// invalid for this account, like an invalid entry of a ContactList.
    pub not_sendable: u64,
    /// Up to 20 refusals, and items left in doubt with the provider's message, phones masked.
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
    /// Replacements (content change, or a removal in flight of a desired contact) whose add was
    /// not sent because the removal of the old contact was not confirmed in this sync.
    pub replacements_not_applied: u64,
}

impl ExecuteReport {
    /// Desired contacts confirmed at the provider once `plan` (the plan this report executed)
    /// is done: those the plan found in sync (or present with content it leaves as it is), and
    /// those whose add the provider confirmed, by accepting it or by already having the phone.
    pub fn confirmed_desired(&self, plan: &Plan) -> u64 {
        let kept_with_other_content = plan
            .content_changes
            .iter()
            .filter(|c| c.action != ContentAction::Replaced)
            .count() as u64;
        plan.counts.in_sync + kept_with_other_content + self.added + self.already_present
    }

    fn fail(&mut self, phone: Phone, reason: String) {
        self.failed += 1;
        if self.failures.len() < FAILURE_SAMPLE {
            self.failures.push(Failure {
                phone: phone.masked(),
                reason,
            });
        }
    }

    /// An item left in doubt: counted as unknown, and the provider's message (when there is
    /// one) kept in the sample so that a person sees what the provider said.
    fn doubt(&mut self, phone: Phone, note: Option<&str>) {
        self.unknown += 1;
        if let Some(note) = note
            && self.failures.len() < FAILURE_SAMPLE
        {
            self.failures.push(Failure {
                phone: phone.masked(),
                reason: format!("in doubt: {note}"),
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

/// An add's result, by the fail-closed outcome rule (`providers::types`): what the ledger
/// records and how the report counts it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum AddVerdict {
    /// The provider confirmed this item (also: "the id callsync chose is already used").
    Added,
    /// The phone is already in the task as a contact callsync cannot prove is its own, and the
    /// plan was made without a listing (the provider cannot list, or the ledger was the
    /// record): recorded as foreign, counted as already at the provider (the
    /// provider's answer for this item says the phone is in the task: the desired state), never
    /// as added, nor as refused.
    Foreign,
    /// In doubt: settled by the next observation (a listing) or the next sync.
    Unknown,
    /// Refused for this reason.
    Refused(RejectReason),
}

/// `listed`: the plan was made against a full listing that did not show the phone.
fn add_verdict(result: Option<&ItemResult>, listed: bool) -> AddVerdict {
    match result {
        Some(ItemResult::Accepted) => AddVerdict::Added,
        // The listing just made did not show the phone: it arrived since (a race, or a batch
        // of ours landing late). A listing shows it with the provider's id next sync: the entry
        // stays Adding and `Ledger::reconcile` settles it. After a plan from the ledger alone
        // (nothing of callsync's in flight, `sync::listing`) the phone is someone else's:
        // foreign, and the next listing (the answer hints drift) gives the provider's id.
        Some(ItemResult::Rejected {
            reason: RejectReason::Duplicate,
        }) if listed => AddVerdict::Unknown,
        Some(ItemResult::Rejected {
            reason: RejectReason::Duplicate,
        }) => AddVerdict::Foreign,
        Some(ItemResult::Rejected { reason }) => AddVerdict::Refused(reason.clone()),
        Some(ItemResult::Unknown) | None => AddVerdict::Unknown,
    }
}

impl AddVerdict {
    fn ledger(&self) -> LedgerOutcome {
        match self {
            Self::Added => LedgerOutcome::Accepted,
            Self::Foreign => LedgerOutcome::Rejected(Rejection::Duplicate),
            Self::Unknown => LedgerOutcome::Unknown,
            Self::Refused(_) => LedgerOutcome::Rejected(Rejection::Other),
        }
    }
}

/// What a removal's result means for the ledger, by the fail-closed outcome rule.
///
/// "Not found" (the provider knows no contact by the id sent) counts as removed only when the
/// id is callsync's own and its add had been confirmed:
/// - callsync's ids are UUIDv5 of the CallTask UID, phone and attempt: no one else makes them,
///   so "not found" cannot hide another contact under that id, and whoever deleted it (an
///   earlier attempt of ours whose answer was lost, or a person in the console), it is gone;
/// - its add was confirmed (`before` Present), so no add of ours carrying that id can still be
///   on its way to land after this delete. An entry that was still Adding (its add answer was
///   lost) stays in doubt once; at the next sync (`before` Removing) no request of ours about
///   that id is in flight any more, and a second "not found" is taken as gone;
/// - a foreign entry's id, or an id that is not the ledger's (from a listing), proves nothing:
///   the contact may be there under another id. In doubt, with the provider's message.
fn remove_outcome(
    result: Option<&ItemResult>,
    own_id: bool,
    before: Option<EntryState>,
) -> LedgerOutcome {
    match result {
        Some(ItemResult::Accepted) => LedgerOutcome::Accepted,
        Some(ItemResult::Rejected {
            reason: RejectReason::NotFound,
        }) if own_id && matches!(before, Some(EntryState::Present | EntryState::Removing)) => {
            LedgerOutcome::Rejected(Rejection::NotFound)
        }
        Some(ItemResult::Rejected {
            reason: RejectReason::NotFound,
        }) => LedgerOutcome::Unknown,
        Some(ItemResult::Rejected {
            reason: RejectReason::NotDeletable,
        }) => LedgerOutcome::Rejected(Rejection::NotRemovable),
        Some(ItemResult::Rejected { .. }) => LedgerOutcome::Rejected(Rejection::Other),
        Some(ItemResult::Unknown) | None => LedgerOutcome::Unknown,
    }
}

fn reject_text(reason: &RejectReason) -> String {
    match reason {
        RejectReason::InvalidNumber => "provider refused the number as invalid".into(),
        RejectReason::Duplicate => "already in the task as a contact callsync did not add (under an id callsync does not know): not counted as added, and callsync cannot remove it".into(),
        RejectReason::NotFound => "the provider knows no contact by this id".into(),
        RejectReason::NotDeletable => {
            "already called; the provider does not allow removing it".into()
        }
        RejectReason::Other(text) => crate::providers::sanitize(text),
    }
}

/// A window takes items up to the ledger's size divided by this (and always one batch).
pub const WINDOW_SHARE: usize = 4;

/// How many of the next batches (their sizes in order) one window takes: at least one, and
/// more while the window holds fewer than `target` items (`SyncSink::window_items`).
pub fn window_len(sizes: impl IntoIterator<Item = usize>, target: usize) -> usize {
    let mut held = 0;
    let mut taken = 0;
    for size in sizes {
        if taken > 0 && held + size > target {
            break;
        }
        held += size;
        taken += 1;
    }
    taken
}

/// Carries out `plan`. Stops at the first batch the provider fails as a whole; what was done
/// until then is in the ledger and the report. Intents of batches in the stopped window that
/// were never sent are taken back before the last save.
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
    let mut pending = Pending {
        remove: plan.removes.iter().map(|b| b.items.len() as u64).sum(),
        add: plan.adds.iter().map(|b| b.items.len() as u64).sum(),
    };
    // Outcomes recorded in the ledger since its last save.
    let mut unsaved = false;
    // Phones whose removal the provider confirmed in this sync: a replacement's add follows
    // only those (see `PreparedAdd::record`).
    let mut removed = std::collections::HashSet::new();

    let mut next = 0;
    while next < plan.removes.len() {
        let sizes = plan.removes[next..].iter().map(|b| b.items.len());
        let window = &plan.removes[next..next + window_len(sizes, sink.window_items(ledger.len()))];
        next += window.len();
        let prepared: Vec<PreparedRemove> = window
            .iter()
            .map(|batch| PreparedRemove::record(&batch.items, wire, ledger))
            .collect();
        sink.save_ledger(ledger).await?;
        unsaved = false;
        for (sent, batch) in prepared.iter().enumerate() {
            if sink.stop_requested() {
                // Ctrl-C of `callsync apply`: the batch in flight has finished and is recorded.
                stop_in_window(&prepared[sent..], ledger, sink, &mut report, &pending).await?;
                report.interrupted = true;
                return Ok(report);
            }
            let stop = send_removes(provider, task, batch, ledger, &mut report, &mut removed).await;
            unsaved = true;
            pending.remove -= batch.items.len() as u64;
            sink.progress(pending.add, pending.remove).await;
            if stop {
                stop_in_window(&prepared[sent + 1..], ledger, sink, &mut report, &pending).await?;
                return Ok(report);
            }
        }
    }

    let mut next = 0;
    while next < plan.adds.len() {
        let sizes = plan.adds[next..].iter().map(|b| b.items.len());
        let window = &plan.adds[next..next + window_len(sizes, sink.window_items(ledger.len()))];
        next += window.len();
        let prepared: Vec<PreparedAdd> = window
            .iter()
            .map(|batch| PreparedAdd::record(&batch.items, wire, ledger, &mut report, &removed))
            .collect();
        if prepared.iter().any(|batch| !batch.items.is_empty()) {
            sink.save_ledger(ledger).await?;
            unsaved = false;
        }
        for (sent, batch) in prepared.iter().enumerate() {
            if sink.stop_requested() {
                // Ctrl-C of `callsync apply`: the batch in flight has finished and is recorded.
                stop_in_window(&prepared[sent..], ledger, sink, &mut report, &pending).await?;
                report.interrupted = true;
                return Ok(report);
            }
            let stop = if batch.items.is_empty() {
                false
            } else {
                unsaved = true;
                send_adds(
                    provider,
                    task,
                    desired,
                    batch,
                    plan.listed,
                    ledger,
                    &mut report,
                )
                .await
            };
            pending.add -= batch.planned as u64;
            sink.progress(pending.add, pending.remove).await;
            if stop {
                stop_in_window(&prepared[sent + 1..], ledger, sink, &mut report, &pending).await?;
                return Ok(report);
            }
        }
    }
    if unsaved {
        sink.save_ledger(ledger).await?;
    }
    Ok(report)
}

/// Ends execution inside a window: the intents of its batches not sent are taken back (a batch
/// never sent must not stay in doubt), and the ledger is saved.
async fn stop_in_window<S: SyncSink>(
    unsent: &[impl TakeBack],
    ledger: &mut Ledger,
    sink: &mut S,
    report: &mut ExecuteReport,
    pending: &Pending,
) -> Result<(), SinkError> {
    for batch in unsent {
        batch.take_back(ledger);
    }
    sink.save_ledger(ledger).await?;
    report.pending = pending.add + pending.remove;
    Ok(())
}

/// A batch whose intent is in the ledger and that can be taken back if it is never sent.
trait TakeBack {
    fn take_back(&self, ledger: &mut Ledger);
}

/// Contacts not yet done, for progress.
struct Pending {
    add: u64,
    remove: u64,
}

/// A remove batch whose intent is in the ledger.
struct PreparedRemove {
    items: Vec<PreparedRemoveItem>,
}

struct PreparedRemoveItem {
    phone: Phone,
    /// First half of a replacement: its add waits for this removal.
    replaced: bool,
    request: ContactToRemove,
    /// The entry's state before the intent, to take it back if the batch is never sent.
    before: Option<EntryState>,
    /// The request addresses the contact by callsync's own id (the ledger's, not foreign).
    own_id: bool,
}

impl PreparedRemove {
    fn record(items: &[RemoveItem], wire: &WireFormat, ledger: &mut Ledger) -> Self {
        let items: Vec<PreparedRemoveItem> = items
            .iter()
            .map(|item| PreparedRemoveItem {
                phone: item.phone,
                replaced: item.reason == RemoveReason::Replace,
                request: ContactToRemove {
                    // Removal targets come from the provider's listing or the ledger, so they
                    // encode.
                    phone: wire
                        .encode(item.phone)
                        .unwrap_or_else(|_| item.phone.to_wire(wire.format)),
                    remote_id: item.remote_id.clone(),
                },
                before: ledger.get(item.phone).map(|e| e.state),
                own_id: ledger.get(item.phone).is_some_and(|e| {
                    !e.foreign
                        && item.remote_id.as_deref()
                            == Some(e.remote_id(ledger.task_uid()).to_string().as_str())
                }),
            })
            .collect();
        let phones: Vec<Phone> = items.iter().map(|i| i.phone).collect();
        ledger.record_remove_intent(&phones);
        PreparedRemove { items }
    }
}

impl TakeBack for PreparedRemove {
    /// The batch was never sent: entries that were Present are Present again (an entry that
    /// was already in flight stays in flight, as it was).
    fn take_back(&self, ledger: &mut Ledger) {
        for item in &self.items {
            if item.before == Some(EntryState::Present) {
                ledger.record_remove_outcome(item.phone, LedgerOutcome::Rejected(Rejection::Other));
            }
        }
    }
}

/// Sends one remove batch and records its outcomes. Returns true when execution must stop.
async fn send_removes<P: Provider>(
    provider: &P,
    task: &TaskRef,
    batch: &PreparedRemove,
    ledger: &mut Ledger,
    report: &mut ExecuteReport,
    removed: &mut std::collections::HashSet<Phone>,
) -> bool {
    let requests: Vec<ContactToRemove> = batch.items.iter().map(|i| i.request.clone()).collect();
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
            return true;
        }
    };
    report.absorb(&mut outcome);
    report.remove_requests += report.requests - before;
    for (index, item) in batch.items.iter().enumerate() {
        let result = outcome.result(index);
        let recorded = remove_outcome(result, item.own_id, item.before);
        match (&recorded, result) {
            (LedgerOutcome::Accepted | LedgerOutcome::Rejected(Rejection::NotFound), _) => {
                report.removed += 1;
                removed.insert(item.phone);
            }
            (LedgerOutcome::Rejected(_), Some(ItemResult::Rejected { reason }))
                if item.replaced =>
            {
                let text = reject_text(reason);
                report.fail(
                    item.phone,
                    format!("{text}; the replacement is not applied, the old contact stays"),
                )
            }
            (LedgerOutcome::Rejected(_), Some(ItemResult::Rejected { reason })) => {
                report.fail(item.phone, reject_text(reason));
            }
            (_, Some(ItemResult::Rejected { reason })) => {
                report.doubt(item.phone, Some(&reject_text(reason)));
            }
            _ => report.doubt(item.phone, outcome.note(index)),
        }
        ledger.record_remove_outcome(item.phone, recorded);
    }
    if let Some(error) = outcome.interrupted.take() {
        report.stopped_by = Some(error);
        report.stopped_in = Some("remove");
        return true;
    }
    false
}

/// An add batch whose intent is in the ledger (only the items the account can carry).
struct PreparedAdd<'a> {
    items: Vec<PreparedAddItem<'a>>,
    /// Items the plan put in this batch, sendable or not, for progress.
    planned: usize,
}

struct PreparedAddItem<'a> {
    item: &'a AddItem,
    phone: String,
    remote_id: Uuid,
    /// The intent created the entry, so taking it back removes it.
    created: bool,
}

impl<'a> PreparedAdd<'a> {
    fn record(
        items: &'a [AddItem],
        wire: &WireFormat,
        ledger: &mut Ledger,
        report: &mut ExecuteReport,
        removed: &std::collections::HashSet<Phone>,
    ) -> Self {
        // Contacts the account cannot carry are failures, never sent.
        let mut sendable = Vec::with_capacity(items.len());
        for item in items {
            // A replacement adds only after its removal was confirmed: when the provider
            // refused it (already called) or its answer was lost, the old contact is still
            // there, and a second copy would call the person twice.
            if item.reason == AddReason::Replace && !removed.contains(&item.phone) {
                report.replacements_not_applied += 1;
                continue;
            }
            match wire.encode(item.phone) {
                Ok(phone) => sendable.push((item, phone)),
                Err(refusal) => {
                    report.not_sendable += 1;
                    report.fail(item.phone, refusal.to_string());
                }
            }
        }
        if sendable.is_empty() {
            return PreparedAdd {
                items: Vec::new(),
                planned: items.len(),
            };
        }
        let created: Vec<bool> = sendable
            .iter()
            .map(|(item, _)| ledger.get(item.phone).is_none())
            .collect();
        let intents: Vec<(Phone, crate::contacts::ContentDigest)> =
            sendable.iter().map(|(i, _)| (i.phone, i.digest)).collect();
        let remote_ids = ledger.record_add_intent(&intents);
        PreparedAdd {
            items: sendable
                .into_iter()
                .zip(remote_ids)
                .zip(created)
                .map(|(((item, phone), remote_id), created)| PreparedAddItem {
                    item,
                    phone,
                    remote_id,
                    created,
                })
                .collect(),
            planned: items.len(),
        }
    }
}

impl TakeBack for PreparedAdd<'_> {
    /// The batch was never sent: entries it created go (as a rejected add does); entries that
    /// existed stay Adding, which only means "in doubt" and is settled like a lost answer.
    fn take_back(&self, ledger: &mut Ledger) {
        for item in self.items.iter().filter(|i| i.created) {
            ledger.record_add_outcome(item.item.phone, LedgerOutcome::Rejected(Rejection::Other));
        }
    }
}

/// Sends one add batch and records its outcomes. Returns true when execution must stop.
async fn send_adds<P: Provider>(
    provider: &P,
    task: &TaskRef,
    desired: &DesiredSet,
    batch: &PreparedAdd<'_>,
    listed: bool,
    ledger: &mut Ledger,
    report: &mut ExecuteReport,
) -> bool {
    let requests: Vec<ContactToAdd> = batch
        .items
        .iter()
        .map(|prepared| {
            let (name, company, email, variables, extra) =
                match desired.contact(prepared.item.desired_index as usize) {
                    Some(c) => (c.name, c.company, c.email, c.variables, c.extra),
                    None => Default::default(),
                };
            ContactToAdd {
                phone: prepared.phone.clone(),
                remote_id: prepared.remote_id.to_string(),
                name,
                company,
                email,
                variables,
                extra,
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
            return true;
        }
    };
    report.absorb(&mut outcome);
    // Saved with these outcomes (the next save): the next sync waits for these batches
    // instead of sending their contacts again. A crash before that save loses only the
    // knowledge that they are open: the contacts are then sent again, as before the ids were
    // kept.
    ledger.record_open_batches(
        std::mem::take(&mut outcome.open_batches),
        super::observe::now_unix(),
    );
    for (index, prepared) in batch.items.iter().enumerate() {
        let phone = prepared.item.phone;
        let result = outcome.result(index);
        let verdict = add_verdict(result, listed);
        match &verdict {
            AddVerdict::Added => report.added += 1,
            AddVerdict::Foreign => {
                // A refusal here made the first sync Stalled ("refused … not at the provider")
                // next to status.contacts.present counting it, and the next sync, with no
                // change at the provider, Ready: the provider's word is that it has the phone.
                report.foreign += 1;
                report.already_present += 1;
            }
            AddVerdict::Refused(reason) => report.fail(phone, reject_text(reason)),
            AddVerdict::Unknown => report.doubt(phone, outcome.note(index)),
        }
        ledger.record_add_outcome(phone, verdict.ledger());
    }
    if let Some(error) = outcome.interrupted.take() {
        report.stopped_by = Some(error);
        report.stopped_in = Some("add");
        return true;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rejected(reason: RejectReason) -> ItemResult {
        ItemResult::Rejected { reason }
    }

    /// The fail-closed rule for adds: only a confirmed item is added; a phone already in the
    /// task is foreign without a listing and in doubt with one; never counted as added.
    #[test]
    fn a_phone_duplicate_is_never_counted_as_added() {
        let dup = rejected(RejectReason::Duplicate);
        assert_eq!(add_verdict(Some(&dup), false), AddVerdict::Foreign);
        assert_eq!(add_verdict(Some(&dup), true), AddVerdict::Unknown);
        assert_eq!(
            add_verdict(Some(&ItemResult::Accepted), false),
            AddVerdict::Added
        );
        assert_eq!(add_verdict(None, false), AddVerdict::Unknown);
        assert_eq!(
            AddVerdict::Foreign.ledger(),
            LedgerOutcome::Rejected(Rejection::Duplicate)
        );
    }

    /// The fail-closed rule for removals: "not found" is removed only for callsync's own id
    /// whose add was confirmed (or after a sync in doubt); otherwise in doubt.
    #[test]
    fn not_found_counts_as_removed_only_for_our_confirmed_id() {
        let nf = rejected(RejectReason::NotFound);
        let gone = LedgerOutcome::Rejected(Rejection::NotFound);
        assert_eq!(
            remove_outcome(Some(&nf), true, Some(EntryState::Present)),
            gone
        );
        assert_eq!(
            remove_outcome(Some(&nf), true, Some(EntryState::Removing)),
            gone
        );
        assert_eq!(
            remove_outcome(Some(&nf), true, Some(EntryState::Adding)),
            LedgerOutcome::Unknown
        );
        assert_eq!(
            remove_outcome(Some(&nf), false, Some(EntryState::Present)),
            LedgerOutcome::Unknown
        );
        assert_eq!(
            remove_outcome(Some(&nf), true, None),
            LedgerOutcome::Unknown
        );
        assert_eq!(
            remove_outcome(Some(&rejected(RejectReason::Other("x".into()))), true, None),
            LedgerOutcome::Rejected(Rejection::Other)
        );
    }

    #[test]
    fn a_window_takes_one_batch_at_least_and_its_target_at_most() {
        assert_eq!(window_len([500, 500, 500], 0), 1);
        assert_eq!(window_len([500, 500, 500], 1999 / WINDOW_SHARE), 1);
        assert_eq!(window_len([500, 500, 500], 4000 / WINDOW_SHARE), 2);
        assert_eq!(window_len([500, 500, 500], 1_000_000 / WINDOW_SHARE), 3);
        assert_eq!(window_len([], 1_000_000), 0);
    }

    /// Saves (and bytes written, in entries) of a first sync of a million contacts in batches
    /// of 500: the windows keep both far below one save per batch.
    #[test]
    fn a_million_contact_first_sync_needs_few_saves() {
        let mut ledger_len = 0usize;
        let mut remaining = 2000usize;
        let (mut saves, mut written) = (0usize, 0usize);
        while remaining > 0 {
            let take = window_len(
                std::iter::repeat_n(500, remaining),
                ledger_len / WINDOW_SHARE,
            );
            remaining -= take;
            ledger_len += take * 500;
            saves += 1;
            written += ledger_len;
        }
        // The last window's outcomes: one more save of the whole ledger.
        saves += 1;
        written += ledger_len;
        assert!(saves <= 40, "{saves} saves");
        assert!(written <= 8 * ledger_len, "{written} entries written");
    }
}

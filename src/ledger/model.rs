//! Ledger entries, their states and transitions.
//!
//! ```text
//!            add intent                add outcome: accepted (our id)
//!   (none) ─────────────▶ Adding ──────────────────────────────────────▶ Present
//!                           │  phone already there (duplicate) ─▶ Present, foreign
//!                           │  outcome rejected ─▶ (dropped)              │ remove intent
//!                           │  outcome unknown  ─▶ stays Adding           ▼
//!                           │  (retried with the same attempt, so     Removing
//!                           │   the same remote id)                      │ accepted / not found ─▶ (dropped)
//!                                                                        │ not removable ─▶ Present (removable = false)
//!                                                                        │ other rejection ─▶ Present
//!                                                                        │ unknown ─▶ stays Removing
//! ```
//! `reconcile` settles in-flight entries against what a provider that can list reports.
//!
//! *Open batches* are adds the provider accepted and had not finished when the client stopped
//! waiting (longlonglong's async add, by the provider's batch id). While one is open, an
//! Adding entry the listing does not show is not lost: it may still land, so `reconcile` keeps
//! it Adding and the planner does not send it again (a second queued copy would land later and
//! bring back a contact removed meanwhile). The sync drops a batch from the list when the
//! provider says it finished, or when it has been unknown for longer than a grace period.
//!
//! A *foreign* entry is a phone the provider already held under a contact callsync did not
//! make (the fail-closed outcome rule, `providers::types`): recorded so that callsync neither
//! adds it again nor counts it as its own. Without a listing callsync cannot learn the
//! provider's id for it, so the planner reports it as not removable (`ForeignContact`) instead
//! of sending a removal by callsync's own id, which the provider would answer "not found".
use std::collections::{BTreeMap, BTreeSet, HashSet};

use uuid::Uuid;

use crate::contacts::ObservedContact;
use crate::contacts::{ContentDigest, Phone, RemoteId};

/// Namespace of every remote id callsync derives (UUIDv5). Fixed forever: changing it would
/// make every in-flight retry look like a new contact.
pub const REMOTE_ID_NAMESPACE: Uuid = Uuid::from_u128(0x6361_6c6c_7379_6e63_8000_0000_0000_0001);

/// The remote id (Callbot `orderID`, NXLink `contactId`) of `phone`'s `attempt` in a CallTask.
/// Deterministic, so a retried batch carries the same ids and the provider recognises it.
pub fn remote_id(task_uid: &str, phone: Phone, attempt: u32) -> Uuid {
    let name = format!("{task_uid}|{}|{attempt}", phone.as_u64());
    Uuid::new_v5(&REMOTE_ID_NAMESPACE, name.as_bytes())
}

/// Where a contact is in its life at the provider.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EntryState {
    /// An add was sent; its outcome is not known yet.
    Adding,
    /// The provider has it.
    Present,
    /// A removal was sent; its outcome is not known yet.
    Removing,
}

/// What callsync knows of one contact it put at the provider.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LedgerEntry {
    /// Canonical phone.
    pub phone: Phone,
    /// Digest of the content that was sent.
    pub content_digest: ContentDigest,
    /// State.
    pub state: EntryState,
    /// Attempt number: the ledger's batch counter when the add was first sent, so a phone added
    /// again after removal gets a fresh remote id (providers want them globally unique).
    pub attempt: u32,
    /// False once the provider refused to remove it (already called).
    pub removable: bool,
    /// The provider already had this phone as a contact callsync did not make (its id is not
    /// `remote_id`, and callsync does not know it): callsync must not remove it by `remote_id`.
    pub foreign: bool,
}

impl LedgerEntry {
    /// Remote id of this attempt in the ledger whose identity is `task_uid`
    /// ([`Ledger::task_uid`]). Derived when needed, not stored: a stored id cost 16 bytes an
    /// entry and a SHA-1 per entry at every load of the ledger (a fifth of a 1M-contact CLI
    /// edit's CPU).
    pub fn remote_id(&self, task_uid: &str) -> Uuid {
        remote_id(task_uid, self.phone, self.attempt)
    }
}

/// Why a provider refused one item.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rejection {
    /// Add: the phone is already in the task as a contact callsync cannot prove is its own
    /// (not the id callsync chose). Recorded as a foreign entry, never as callsync's contact.
    Duplicate,
    /// Remove: the provider knows no contact by callsync's own id, whose add was confirmed
    /// (the executor decides that; see `sync::execute`): counts as removed.
    NotFound,
    /// Remove: not allowed any more (already called).
    NotRemovable,
    /// Invalid number or other refusal of this item.
    Other,
}

/// Outcome of one item of a batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ItemOutcome {
    /// Done.
    Accepted,
    /// Refused, for this reason.
    Rejected(Rejection),
    /// The response was lost (timeout, commit-then-drop): the next sync settles it.
    Unknown,
}

/// What `reconcile` changed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReconcileReport {
    /// In-flight adds the provider shows: now Present.
    pub adds_confirmed: u64,
    /// In-flight adds the provider does not show: dropped (the planner adds them again).
    pub adds_lost: u64,
    /// In-flight removals the provider no longer shows: dropped.
    pub removes_confirmed: u64,
    /// In-flight removals the provider still shows: back to Present.
    pub removes_undone: u64,
    /// Present entries the provider no longer shows (removed by hand): dropped.
    pub drift_removed: u64,
    /// In-flight adds the provider does not show yet while a batch of the ledger is still open
    /// at the provider: kept Adding, in doubt, not sent again.
    pub adds_awaited: u64,
    /// In-flight adds whose phone the provider lists only under ids that are not callsync's:
    /// recorded foreign (the phone is in the task, but not as callsync's contact), never
    /// counted as added.
    pub adds_foreign: u64,
    /// The console phones (listed, not callsync's) differ from the last listing's.
    pub console_changed: bool,
}

impl ReconcileReport {
    /// Whether settling changed the ledger (and it must be saved). Adds still awaited change
    /// nothing: a task waiting for a provider batch does not rewrite its ledger every sync.
    pub fn changed_ledger(&self) -> bool {
        self.console_changed
            || self.adds_confirmed
                + self.adds_foreign
                + self.adds_lost
                + self.removes_confirmed
                + self.removes_undone
                + self.drift_removed
                > 0
    }
}

/// An add the provider accepted and had not finished when the client stopped waiting
/// (longlonglong `async_number`'s `unique_id`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenBatch {
    /// The provider's id for the batch.
    pub id: String,
    /// When the provider accepted it, in seconds since the Unix epoch (given by the caller:
    /// the ledger reads no clock).
    pub accepted_at: u64,
}

/// What the ledger knows of the provider's full listings (`sync::listing` decides from it when
/// the next sync lists the task and when it plans against the ledger alone).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ListingMarks {
    /// When the ledger was last settled against a full listing, in seconds since the Unix
    /// epoch (given by the caller: the ledger reads no clock). `None`: never.
    pub last: Option<u64>,
    /// An answer since that listing said the provider's task is not what the ledger says: an
    /// add refused as "already exists" or a removal answered "not found" (someone changed the
    /// task in the provider's console). Cleared by the next full listing.
    pub drift_hint: bool,
    /// How many more contacts the last listing showed than [`Ledger::count_basis`] was after
    /// settling against it (duplicates and unreadable rows the ledger does not hold): a count
    /// of the task read between listings that is not `count_basis + count_offset` means the
    /// task changed behind callsync's back (`sync::listing`). `None` until a listing recorded it.
    pub count_offset: Option<i64>,
}

/// The ledger of one CallTask.
///
/// Equality compares content only, not [`Ledger::touched`]: what a ledger still has to
/// journal is the store's bookkeeping.
#[derive(Clone, Debug, Default)]
pub struct Ledger {
    task_uid: String,
    /// Attempt number the next add batch gets.
    next_attempt: u32,
    entries: BTreeMap<Phone, LedgerEntry>,
    /// Batches still open at the provider, oldest first.
    open_batches: Vec<OpenBatch>,
    listing: ListingMarks,
    /// Phones the last listing showed that callsync did not put there (console contacts):
    /// not callsync's, never removed by cleanup, but known to a plan made between listings, so
    /// that it neither adds them again nor forgets to remove one no longer desired.
    console: BTreeSet<Phone>,
    /// Phones whose entry or console membership changed since the last snapshot or sealed
    /// journal ([`Self::snapshot_taken`], [`Self::journal_sealed`]): what the next journal
    /// (`ledger::journal`) holds, so a save costs what changed rather than the whole ledger.
    touched: HashSet<Phone>,
    /// Records in the journals sealed since the last snapshot (a phone touched again after a
    /// seal counts again): with `touched`, what a replay reads, which decides compaction.
    sealed_records: usize,
    /// Counts the calls that may have changed the content ([`Self::changes`]).
    changes: u64,
}

impl PartialEq for Ledger {
    fn eq(&self, other: &Self) -> bool {
        self.task_uid == other.task_uid
            && self.next_attempt == other.next_attempt
            && self.entries == other.entries
            && self.open_batches == other.open_batches
            && self.listing == other.listing
            && self.console == other.console
    }
}

impl Eq for Ledger {}

/// Where a phone stands in a ledger: what a journal records of each phone it holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Slot {
    /// No entry and not a console phone.
    Absent,
    /// A console phone (listed, not callsync's).
    Console,
    /// callsync's entry.
    Entry(LedgerEntry),
}

impl Ledger {
    /// An empty ledger for the CallTask with this UID.
    pub fn new(task_uid: impl Into<String>) -> Self {
        Ledger {
            task_uid: task_uid.into(),
            next_attempt: 0,
            entries: BTreeMap::new(),
            open_batches: Vec::new(),
            listing: ListingMarks::default(),
            console: BTreeSet::new(),
            touched: HashSet::new(),
            sealed_records: 0,
            changes: 0,
        }
    }

    /// Rebuilds a ledger from its parts (codec).
    pub(crate) fn from_parts(
        task_uid: String,
        next_attempt: u32,
        entries: BTreeMap<Phone, LedgerEntry>,
        open_batches: Vec<OpenBatch>,
        listing: ListingMarks,
        console: BTreeSet<Phone>,
    ) -> Self {
        Ledger {
            task_uid,
            next_attempt,
            entries,
            open_batches,
            listing,
            console,
            touched: HashSet::new(),
            sealed_records: 0,
            changes: 0,
        }
    }

    /// A count of the calls that may have changed the content since the ledger was made or
    /// decoded: equal at two moments means unchanged between them (the controller keeps a
    /// ledger between reconciles only when it is what was last saved, `ledger_cache`).
    pub fn changes(&self) -> u64 {
        self.changes
    }

    /// Phones changed since the last snapshot or sealed journal (see the field), in no order.
    pub fn touched(&self) -> &HashSet<Phone> {
        &self.touched
    }

    /// Journal records a replay of the stored ledger reads on top of its snapshot: those of
    /// the sealed journals and those the next journal holds (`ledger::journal::compact_after`).
    pub fn journaled(&self) -> usize {
        self.sealed_records + self.touched.len()
    }

    /// Records that the whole ledger was just saved: nothing is left to journal. Also packs
    /// the entries' tree again: entries recorded in phone order (a first sync's batches) leave
    /// its nodes about half full, and a tree built from a sorted sequence fills them — at a
    /// million entries some 40 MB less, for a pass as long as the save's own.
    pub fn snapshot_taken(&mut self) {
        self.touched = HashSet::new();
        self.sealed_records = 0;
        self.entries = std::mem::take(&mut self.entries).into_iter().collect();
    }

    /// Records that the changes since the last seal were just saved as a sealed journal (one
    /// written once, which later saves leave alone): the next journal starts empty.
    pub fn journal_sealed(&mut self) {
        self.sealed_records += self.touched.len();
        self.touched = HashSet::new();
    }

    /// Where `phone` stands (what a journal records of it).
    pub fn slot(&self, phone: Phone) -> Slot {
        match self.entries.get(&phone) {
            Some(entry) => Slot::Entry(entry.clone()),
            None if self.console.contains(&phone) => Slot::Console,
            None => Slot::Absent,
        }
    }

    /// Puts `phone` where a journal says it stands (`ledger::journal`), and counts it as
    /// touched: the next journal holds it again (a journal holds every change since the
    /// snapshot). A journaled entry's remote id is derived again, as the codec does.
    pub(crate) fn set_slot(&mut self, phone: Phone, slot: Slot) {
        self.changes += 1;
        self.touched.insert(phone);
        match slot {
            Slot::Absent => {
                self.entries.remove(&phone);
                self.console.remove(&phone);
            }
            Slot::Console => {
                self.entries.remove(&phone);
                self.console.insert(phone);
            }
            Slot::Entry(mut entry) => {
                self.console.remove(&phone);
                entry.phone = phone;
                self.entries.insert(phone, entry);
            }
        }
    }

    /// Sets what a journal keeps whole: the attempt counter, open batches and listing marks.
    pub(crate) fn set_journal_header(
        &mut self,
        next_attempt: u32,
        open_batches: Vec<OpenBatch>,
        listing: ListingMarks,
    ) {
        self.changes += 1;
        self.next_attempt = next_attempt;
        self.open_batches = open_batches;
        self.listing = listing;
    }

    /// Phones the last listing showed that callsync did not put there (see the field).
    pub fn console(&self) -> &BTreeSet<Phone> {
        &self.console
    }

    /// Forgets the console phones: cleanup removes only what callsync added.
    pub fn forget_console(&mut self) {
        self.changes += 1;
        self.touched.extend(self.console.iter().copied());
        self.console.clear();
    }

    /// When the ledger was last settled against a full listing, and whether drift was hinted
    /// since.
    pub fn listing(&self) -> ListingMarks {
        self.listing
    }

    /// Records that the ledger was just settled against a full listing made at `at` (seconds
    /// since the Unix epoch) that showed `listed` contacts (unreadable ones too); clears the
    /// drift hint the listing answered. Returns whether the marks changed in a way that must
    /// be saved even when nothing else did: a stored hint left set would make every later sync
    /// list, and so would a stale count offset.
    pub fn mark_listed(&mut self, at: u64, listed: u64) -> bool {
        self.changes += 1;
        let before = self.listing;
        let basis = i128::from(self.count_basis());
        let offset = i64::try_from(i128::from(listed) - basis).ok();
        self.listing = ListingMarks {
            last: Some(at),
            drift_hint: false,
            count_offset: offset,
        };
        before.drift_hint || before.count_offset != offset
    }

    /// The contacts the ledger accounts for at the provider: its entries and the console
    /// phones. Between listings it moves only with callsync's own confirmed changes (an add
    /// makes an entry, a removal drops one), as the provider's count does.
    pub fn count_basis(&self) -> u64 {
        (self.entries.len() + self.console.len()) as u64
    }

    /// The count of the task a listing would show now, if nothing changed behind callsync's
    /// back since the last one; `None` when no listing recorded an offset.
    pub fn expected_count(&self) -> Option<u64> {
        let offset = self.listing.count_offset?;
        u64::try_from(i128::from(self.count_basis()) + i128::from(offset)).ok()
    }

    /// Whether an entry waits for an outcome (Adding or Removing): only a read settles it.
    pub fn has_in_flight(&self) -> bool {
        self.entries
            .values()
            .any(|e| e.state != EntryState::Present)
    }

    /// The CallTask UID remote ids derive from.
    pub fn task_uid(&self) -> &str {
        &self.task_uid
    }

    /// Attempt number of the next add batch.
    pub fn next_attempt(&self) -> u32 {
        self.next_attempt
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entry of `phone`.
    pub fn get(&self, phone: Phone) -> Option<&LedgerEntry> {
        self.entries.get(&phone)
    }

    /// Batches still open at the provider, oldest first.
    pub fn open_batches(&self) -> &[OpenBatch] {
        &self.open_batches
    }

    /// Whether an add the provider accepted may still land: an entry still Adding is then in
    /// doubt rather than lost, and is not sent again.
    pub fn adds_may_land(&self) -> bool {
        !self.open_batches.is_empty()
    }

    /// Records batches the provider accepted and had not finished, at `accepted_at`.
    pub fn record_open_batches(&mut self, ids: impl IntoIterator<Item = String>, accepted_at: u64) {
        self.changes += 1;
        for id in ids {
            if !self.open_batches.iter().any(|b| b.id == id) {
                self.open_batches.push(OpenBatch { id, accepted_at });
            }
        }
    }

    /// Keeps the open batches `keep` says are still open. Without an entry Adding, nothing the
    /// ledger tracks can be waiting in one, and every batch is dropped.
    pub fn retain_open_batches(&mut self, keep: impl FnMut(&OpenBatch) -> bool) {
        // Called by every sync: a change only when a batch goes (a kept ledger stays kept).
        let before = self.open_batches.len();
        if before == 0 {
            return;
        }
        if !self.entries.values().any(|e| e.state == EntryState::Adding) {
            self.open_batches.clear();
        } else {
            self.open_batches.retain(keep);
        }
        if self.open_batches.len() != before {
            self.changes += 1;
        }
    }

    /// Entries sorted by phone.
    pub fn iter(&self) -> std::collections::btree_map::Values<'_, Phone, LedgerEntry> {
        self.entries.values()
    }

    /// Records the intent to add a batch, before it is sent. Returns the remote id to send
    /// for each item. An item still `Adding` with the same content is a retry and keeps its
    /// attempt (same remote id); anything else gets this batch's new attempt number.
    pub fn record_add_intent(&mut self, items: &[(Phone, ContentDigest)]) -> Vec<Uuid> {
        self.changes += 1;
        let attempt = self.next_attempt;
        self.next_attempt = self.next_attempt.wrapping_add(1);
        let uid = &self.task_uid;
        let console = &mut self.console;
        let touched = &mut self.touched;
        items
            .iter()
            .map(|&(phone, digest)| {
                touched.insert(phone);
                // Its entry is the record now.
                console.remove(&phone);
                let e = self.entries.entry(phone).or_insert_with(|| LedgerEntry {
                    phone,
                    content_digest: digest,
                    state: EntryState::Adding,
                    attempt,
                    removable: true,
                    foreign: false,
                });
                let retry = e.state == EntryState::Adding && e.content_digest == digest;
                if !retry {
                    e.attempt = attempt;
                    e.content_digest = digest;
                    e.state = EntryState::Adding;
                    e.removable = true;
                    e.foreign = false;
                }
                e.remote_id(uid)
            })
            .collect()
    }

    /// Records the intent to remove, before the batch is sent. Phones callsync never added
    /// (adopted or hand-added) have no entry and stay without one.
    pub fn record_remove_intent(&mut self, phones: &[Phone]) {
        self.changes += 1;
        for p in phones {
            if let Some(e) = self.entries.get_mut(p) {
                e.state = EntryState::Removing;
                self.touched.insert(*p);
            }
        }
    }

    /// Records the outcome of one add. A phone already in the task under a contact callsync
    /// did not make ([`Rejection::Duplicate`]) becomes a foreign entry: present, not callsync's.
    pub fn record_add_outcome(&mut self, phone: Phone, outcome: ItemOutcome) {
        self.changes += 1;
        if outcome != ItemOutcome::Unknown {
            self.touched.insert(phone);
        }
        match outcome {
            ItemOutcome::Accepted => {
                if let Some(e) = self.entries.get_mut(&phone) {
                    e.state = EntryState::Present;
                    e.foreign = false;
                }
            }
            ItemOutcome::Rejected(Rejection::Duplicate) => {
                if let Some(e) = self.entries.get_mut(&phone) {
                    e.state = EntryState::Present;
                    e.foreign = true;
                }
                self.listing.drift_hint = true;
            }
            ItemOutcome::Rejected(_) => {
                self.entries.remove(&phone);
            }
            ItemOutcome::Unknown => {}
        }
    }

    /// Records the outcome of one removal.
    pub fn record_remove_outcome(&mut self, phone: Phone, outcome: ItemOutcome) {
        self.changes += 1;
        if outcome != ItemOutcome::Unknown {
            self.touched.insert(phone);
        }
        match outcome {
            ItemOutcome::Accepted => {
                self.entries.remove(&phone);
                self.console.remove(&phone);
            }
            ItemOutcome::Rejected(Rejection::NotFound) => {
                self.entries.remove(&phone);
                self.listing.drift_hint = true;
            }
            ItemOutcome::Rejected(r) => {
                if let Some(e) = self.entries.get_mut(&phone) {
                    e.state = EntryState::Present;
                    e.removable &= r != Rejection::NotRemovable;
                }
            }
            ItemOutcome::Unknown => {}
        }
    }

    /// Settles the ledger against a provider's full listing (only for providers that can
    /// list). Observed contacts without an entry are not adopted: the ledger records only what
    /// callsync added, which is what `deletion: Delete` may remove.
    ///
    /// While a batch is open ([`Self::adds_may_land`]), an Adding entry not listed stays
    /// Adding (`adds_awaited`): its add may still land.
    pub fn reconcile(&mut self, observed: &[ObservedContact]) -> ReconcileReport {
        self.changes += 1;
        let mut seen: Vec<(Phone, bool, u32)> = observed
            .iter()
            .enumerate()
            .map(|(i, o)| (o.phone, o.removable, i as u32))
            .collect();
        seen.sort_unstable();
        let mut report = ReconcileReport::default();
        let may_land = self.adds_may_land();
        // Listed rows whose phone has an entry; the others are console phones. Marked here, where
        // each entry already finds its rows, rather than by a second lookup per listed row.
        let mut has_entry = vec![false; seen.len()];
        let touched = &mut self.touched;
        self.entries.retain(|phone, e| {
            let before = (e.state, e.foreign, e.removable);
            let i = seen.partition_point(|(p, _, _)| p < phone);
            let found = seen.get(i).filter(|(p, _, _)| p == phone);
            // A found phone keeps its entry (only entries not listed are dropped).
            for (j, _) in seen[i..]
                .iter()
                .enumerate()
                .take_while(|(_, (p, _, _))| p == phone)
            {
                has_entry[i + j] = true;
            }
            match (e.state, found) {
                (EntryState::Adding, Some(_)) => {
                    let copies = seen[i..].iter().take_while(|(p, _, _)| p == phone);
                    let ids = copies.map(|&(_, _, at)| observed[at as usize].remote_id.as_ref());
                    if held_under_other_ids(ids, e.remote_id(&self.task_uid)) {
                        // The provider has the phone, not the contact callsync sent: someone
                        // else's (a console add between listing and add), never counted as ours.
                        report.adds_foreign += 1;
                        e.foreign = true;
                    } else {
                        report.adds_confirmed += 1;
                    }
                    e.state = EntryState::Present;
                }
                (EntryState::Adding, None) if may_land => {
                    report.adds_awaited += 1;
                    if before != (e.state, e.foreign, e.removable) {
                        touched.insert(*phone);
                    }
                    return true;
                }
                (EntryState::Adding, None) => report.adds_lost += 1,
                (EntryState::Removing, Some(_)) => {
                    report.removes_undone += 1;
                    e.state = EntryState::Present;
                }
                (EntryState::Removing, None) => report.removes_confirmed += 1,
                (EntryState::Present, Some(_)) => {}
                (EntryState::Present, None) => report.drift_removed += 1,
            }
            if let Some(&(_, removable, _)) = found {
                // Any one listed copy that cannot be removed makes the phone not removable.
                e.removable = removable
                    && seen[i..]
                        .iter()
                        .take_while(|(p, _, _)| p == phone)
                        .all(|(_, r, _)| *r);
            }
            if found.is_none() || before != (e.state, e.foreign, e.removable) {
                touched.insert(*phone);
            }
            found.is_some()
        });
        let console: BTreeSet<Phone> = seen
            .iter()
            .zip(&has_entry)
            .filter(|(_, has)| !**has)
            .map(|(&(p, _, _), _)| p)
            .collect();
        report.console_changed = console != self.console;
        if report.console_changed {
            touched.extend(console.symmetric_difference(&self.console).copied());
        }
        self.console = console;
        report
    }
}

/// Whether a listing shows a phone only under ids that are not `own`: every listed copy has an
/// id (a provider that identifies contacts by id) and none is callsync's. A provider that lists
/// no ids (longlonglong, by phone) proves nothing either way. Ids are compared as UUIDs when
/// they parse as one (a server may write them upper-case or without hyphens), else as text.
fn held_under_other_ids<'a>(
    mut ids: impl Iterator<Item = Option<&'a RemoteId>>,
    own: Uuid,
) -> bool {
    ids.all(|id| {
        id.is_some_and(|id| match id.as_uuid() {
            Some(listed) => listed != own,
            // Another writing of a UUID (upper case, braces, no hyphens) is still that UUID.
            None => id.with_str(|text| match Uuid::try_parse(text) {
                Ok(listed) => listed != own,
                Err(_) => !text.eq_ignore_ascii_case(&own.to_string()),
            }),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ph(n: u64) -> Phone {
        Phone::from_u64_unchecked(8613000000000 + n)
    }

    #[test]
    fn remote_ids_are_deterministic_and_attempt_specific() {
        assert_eq!(remote_id("uid", ph(1), 0), remote_id("uid", ph(1), 0));
        assert_ne!(remote_id("uid", ph(1), 0), remote_id("uid", ph(1), 1));
        assert_ne!(remote_id("uid", ph(1), 0), remote_id("uid2", ph(1), 0));
        assert_eq!(remote_id("uid", ph(1), 0).get_version_num(), 5);
    }

    #[test]
    fn unknown_add_is_retried_with_the_same_id() {
        let mut l = Ledger::new("uid");
        let d = ContentDigest(7);
        let first = l.record_add_intent(&[(ph(1), d)]);
        l.record_add_outcome(ph(1), ItemOutcome::Unknown);
        let retry = l.record_add_intent(&[(ph(1), d)]);
        assert_eq!(first, retry);
        l.record_add_outcome(ph(1), ItemOutcome::Accepted);
        let e = l.get(ph(1)).expect("test input");
        assert_eq!((e.state, e.foreign), (EntryState::Present, false));
    }

    /// The console-contact case: the phone was already in the task under an id callsync did not
    /// choose. It is recorded as foreign, so the planner never removes it by callsync's id; an
    /// add of the same phone later (after it left the task) makes it callsync's own again.
    #[test]
    fn a_phone_already_in_the_task_is_recorded_as_foreign_not_as_ours() {
        let mut l = Ledger::new("uid");
        let d = ContentDigest(7);
        l.record_add_intent(&[(ph(1), d)]);
        l.record_add_outcome(ph(1), ItemOutcome::Rejected(Rejection::Duplicate));
        let e = l.get(ph(1)).expect("kept: the phone is in the task");
        assert_eq!((e.state, e.foreign), (EntryState::Present, true));
        l.record_add_intent(&[(ph(1), ContentDigest(8))]);
        l.record_add_outcome(ph(1), ItemOutcome::Accepted);
        assert!(!l.get(ph(1)).expect("entry").foreign);
    }

    #[test]
    fn re_add_after_removal_gets_a_new_id() {
        let mut l = Ledger::new("uid");
        let d = ContentDigest(7);
        let first = l.record_add_intent(&[(ph(1), d)]);
        l.record_add_outcome(ph(1), ItemOutcome::Accepted);
        l.record_remove_intent(&[ph(1)]);
        l.record_remove_outcome(ph(1), ItemOutcome::Accepted);
        assert!(l.is_empty());
        let again = l.record_add_intent(&[(ph(1), d)]);
        assert_ne!(first, again);
    }

    #[test]
    fn not_removable_rejection_sticks() {
        let mut l = Ledger::new("uid");
        l.record_add_intent(&[(ph(1), ContentDigest(1))]);
        l.record_add_outcome(ph(1), ItemOutcome::Accepted);
        l.record_remove_intent(&[ph(1)]);
        l.record_remove_outcome(ph(1), ItemOutcome::Rejected(Rejection::NotRemovable));
        let e = l.get(ph(1)).expect("test input");
        assert_eq!((e.state, e.removable), (EntryState::Present, false));
    }

    /// A batch still open at the provider: an Adding entry the listing does not show waits
    /// (it may land) instead of being dropped and sent again; once the batch is done, the
    /// same listing settles it as lost.
    #[test]
    fn an_add_in_an_open_batch_is_awaited_not_lost() {
        let mut l = Ledger::new("uid");
        l.record_add_intent(&[(ph(1), ContentDigest(1)), (ph(2), ContentDigest(1))]);
        l.record_open_batches(["b1".to_owned(), "b1".to_owned()], 100);
        assert_eq!(l.open_batches().len(), 1, "one record a batch");
        let listed = [ObservedContact {
            phone: ph(1),
            remote_id: None,
            removable: true,
            content_digest: None,
        }];
        let r = l.reconcile(&listed);
        assert_eq!((r.adds_confirmed, r.adds_awaited, r.adds_lost), (1, 1, 0));
        assert!(r.changed_ledger());
        let r = l.reconcile(&listed);
        assert_eq!(r.adds_awaited, 1);
        assert!(!r.changed_ledger(), "waiting alone changes nothing to save");
        assert_eq!(l.get(ph(2)).map(|e| e.state), Some(EntryState::Adding));
        l.retain_open_batches(|_| false);
        let r = l.reconcile(&listed);
        assert_eq!((r.adds_awaited, r.adds_lost), (0, 1));
        assert!(l.get(ph(2)).is_none());
    }

    #[test]
    fn open_batches_go_when_nothing_is_in_flight() {
        let mut l = Ledger::new("uid");
        l.record_add_intent(&[(ph(1), ContentDigest(1))]);
        l.record_open_batches(["b1".to_owned()], 100);
        l.retain_open_batches(|_| true);
        assert!(l.adds_may_land());
        l.record_add_outcome(ph(1), ItemOutcome::Accepted);
        l.retain_open_batches(|_| true);
        assert!(!l.adds_may_land());
    }

    #[test]
    fn reconcile_settles_in_flight_entries() {
        let mut l = Ledger::new("uid");
        l.record_add_intent(&[(ph(1), ContentDigest(1)), (ph(2), ContentDigest(1))]);
        l.record_add_intent(&[(ph(3), ContentDigest(1)), (ph(4), ContentDigest(1))]);
        l.record_add_outcome(ph(3), ItemOutcome::Accepted);
        l.record_add_outcome(ph(4), ItemOutcome::Accepted);
        l.record_remove_intent(&[ph(4)]);
        let obs = |n| ObservedContact {
            phone: ph(n),
            remote_id: None,
            removable: true,
            content_digest: None,
        };
        let r = l.reconcile(&[obs(1), obs(4)]);
        assert_eq!(
            r,
            ReconcileReport {
                adds_confirmed: 1,
                adds_lost: 1,
                removes_confirmed: 0,
                removes_undone: 1,
                drift_removed: 1,
                adds_awaited: 0,
                adds_foreign: 0,
                console_changed: false,
            }
        );
        assert_eq!(l.len(), 2);
    }

    /// An add whose answer was lost, at a provider that lists ids: the listing shows the phone
    /// under callsync's id (in any case or hyphenation) → confirmed; only under another id (a
    /// console contact that arrived between the listing and the add) → foreign, never ours.
    #[test]
    fn a_listed_phone_is_callsyncs_only_under_callsyncs_id() {
        let mut l = Ledger::new("uid");
        let ids = l.record_add_intent(&[(ph(1), ContentDigest(1)), (ph(2), ContentDigest(1))]);
        let listed = |n, id: &str| ObservedContact {
            phone: ph(n),
            remote_id: Some(id.into()),
            removable: true,
            content_digest: None,
        };
        let own = ids[0].simple().to_string().to_uppercase();
        let r = l.reconcile(&[listed(1, &own), listed(2, "console-0001")]);
        assert_eq!((r.adds_confirmed, r.adds_foreign), (1, 1));
        assert!(!l.get(ph(1)).expect("kept").foreign);
        let other = l.get(ph(2)).expect("kept: the phone is in the task");
        assert_eq!((other.state, other.foreign), (EntryState::Present, true));
    }

    /// What a listing changes that a controller, which does not save the ledger for a listing
    /// alone, must still save: new console phones, and a drift hint answered (left stored, it
    /// would make every later sync list).
    #[test]
    fn a_listing_reports_console_changes_and_an_answered_drift_hint() {
        let mut l = Ledger::new("uid");
        let listed = |n| ObservedContact {
            phone: ph(n),
            remote_id: None,
            removable: true,
            content_digest: None,
        };
        assert!(
            l.reconcile(&[listed(9)]).changed_ledger(),
            "a new console phone"
        );
        assert!(
            !l.reconcile(&[listed(9)]).changed_ledger(),
            "the same listing again"
        );
        assert!(
            l.reconcile(&[]).changed_ledger(),
            "the console phone is gone"
        );
        assert!(l.mark_listed(1, 0), "the first count offset");
        assert!(!l.mark_listed(1, 0), "the same listing again");
        l.record_add_intent(&[(ph(1), ContentDigest(1))]);
        l.record_add_outcome(ph(1), ItemOutcome::Rejected(Rejection::Duplicate));
        assert!(l.mark_listed(2, 1), "the hint was answered");
        assert!(!l.listing().drift_hint);
        assert!(l.mark_listed(3, 2), "the count offset moved");
    }

    /// The count a listing would show moves with callsync's own confirmed changes from the
    /// last listing's, offset by what the ledger does not hold (duplicates, unreadable rows).
    #[test]
    fn the_expected_count_follows_confirmed_changes_from_the_last_listing() {
        let mut l = Ledger::fresh(Some("uid"));
        assert_eq!(l.expected_count(), None, "never listed: no expectation");
        l.record_add_intent(&[(ph(1), ContentDigest(1)), (ph(2), ContentDigest(2))]);
        l.record_add_outcome(ph(1), ItemOutcome::Accepted);
        l.record_add_outcome(ph(2), ItemOutcome::Accepted);
        // The listing showed one row more than the ledger holds (a console duplicate).
        l.mark_listed(1, 3);
        assert_eq!(l.listing().count_offset, Some(1));
        assert_eq!(l.expected_count(), Some(3));
        l.record_add_intent(&[(ph(3), ContentDigest(3))]);
        l.record_add_outcome(ph(3), ItemOutcome::Accepted);
        assert_eq!(l.expected_count(), Some(4), "an add confirmed");
        l.record_remove_intent(&[ph(1)]);
        l.record_remove_outcome(ph(1), ItemOutcome::Accepted);
        assert_eq!(l.expected_count(), Some(3), "a removal confirmed");
        l.record_add_intent(&[(ph(4), ContentDigest(4))]);
        l.record_add_outcome(ph(4), ItemOutcome::Rejected(Rejection::Other));
        assert_eq!(l.expected_count(), Some(3), "a refused add changes nothing");
    }
}

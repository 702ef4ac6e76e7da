//! The crash-safety protocol of a sync, proven fast: a scripted in-memory provider, a sink that
//! keeps the last durable ledger as the controller's store does — a snapshot, sealed journals
//! and a live journal of the changes since (through the real codec and journal rule, with a
//! seal every few phones and every third save a snapshot, so crashes land on every kind) — and
//! a crash injected at every step
//! of a sync — right after each durable save (before its batches are sent) and right after each
//! provider call took effect (before its outcome is saved, also in the middle of a window).
//! The next run starts from the durable ledger alone, as a restarted controller or a new
//! `callsync apply` does, and must: never send an add for a phone the provider already holds
//! under another id (a second call to the person), never remove a desired contact, and
//! converge. For a provider that lists (longlonglong by phone, Callbot by id) and for one that
//! cannot (NXLink: the ledger is the only record).
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use super::{ListingSchedule, SinkError, SyncSink, TaskSync, WireFormat};
use crate::api::{Contact, ContentChangePolicy, ManagementPolicy, PhoneFormat};
use crate::contacts::{DesiredSet, ListContacts, ListInput};
use crate::ledger::Ledger;
use crate::ledger::journal::{self, JournalLimits, Save, StoreRoom};
use crate::plan::{GuardDecision, Identity, Plan, PlanPolicy};
use crate::providers::{
    BatchOutcome, BatchState, Capabilities, ContactToAdd, ContactToRemove, DriftHint, ItemOutcome,
    ItemResult, Provider, ProviderError, RejectReason, RemoteContact, RemoteState, TaskRef,
};

const MAX_BATCH: usize = 2;

/// Counts the steps of a run (saves and provider calls) and crashes at one of them.
#[derive(Default)]
struct Crash {
    /// The step to crash at (1-based); `None` = never.
    at: Option<usize>,
    step: Mutex<usize>,
    crashed: Notify,
}

impl Crash {
    fn at(step: Option<usize>) -> Arc<Self> {
        Arc::new(Self {
            at: step,
            ..Self::default()
        })
    }

    /// Called after a step took effect: when it is the crash step, the process "dies" here —
    /// the caller's future never goes on, and whoever waits on `crashed` drops it.
    async fn after_step(&self) {
        let now = {
            let mut step = self.step.lock().expect("lock");
            *step += 1;
            *step
        };
        if Some(now) == self.at {
            self.crashed.notify_one();
            std::future::pending::<()>().await;
        }
    }

    fn steps(&self) -> usize {
        *self.step.lock().expect("lock")
    }
}

/// What the provider holds and every violation it saw.
#[derive(Default)]
struct Remote {
    /// Wire phone → remote id (longlonglong: the phone itself).
    contacts: BTreeMap<String, String>,
    /// Adds that reached the provider for a phone it already held under another id.
    second_adds: Vec<String>,
    /// Phones removed, in order.
    removed: Vec<String>,
}

/// A provider in memory, answering per item as the real clients do after the fail-closed rule:
/// its own id again → accepted ("id already used"), the phone under another id → duplicate,
/// a removal of an unknown id → not found.
struct FakeProvider {
    remote: Arc<Mutex<Remote>>,
    crash: Arc<Crash>,
    can_list: bool,
    identity: Identity,
}

impl FakeProvider {
    fn id_of(&self, phone: &str, remote_id: &str) -> String {
        match self.identity {
            Identity::Phone => phone.to_owned(),
            Identity::RemoteId => remote_id.to_owned(),
        }
    }
}

impl Provider for FakeProvider {
    fn kind(&self) -> &'static str {
        "fake"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            max_add: MAX_BATCH,
            max_remove: MAX_BATCH,
            can_list: self.can_list,
            async_add: false,
            removable_states: &[RemoteState::Pending],
            identity: self.identity,
            remove_concurrency: 1,
        }
    }

    async fn list(&self, _task: &TaskRef) -> Result<Option<Vec<RemoteContact>>, ProviderError> {
        if !self.can_list {
            return Ok(None);
        }
        let remote = self.remote.lock().expect("lock");
        Ok(Some(
            remote
                .contacts
                .iter()
                .map(|(phone, id)| RemoteContact {
                    phone: phone.clone(),
                    remote_id: (self.identity == Identity::RemoteId).then(|| id.clone()),
                    state: RemoteState::Pending,
                    removable: true,
                })
                .collect(),
        ))
    }

    async fn add(
        &self,
        _task: &TaskRef,
        batch: &[ContactToAdd],
    ) -> Result<BatchOutcome, ProviderError> {
        let items = {
            let mut remote = self.remote.lock().expect("lock");
            batch
                .iter()
                .enumerate()
                .map(|(index, item)| {
                    let id = self.id_of(&item.phone, &item.remote_id);
                    let result = match remote.contacts.get(&item.phone) {
                        Some(held) if *held == id && self.identity == Identity::RemoteId => {
                            ItemResult::Accepted
                        }
                        Some(_) => {
                            remote.second_adds.push(item.phone.clone());
                            ItemResult::Rejected {
                                reason: RejectReason::Duplicate,
                            }
                        }
                        None => {
                            remote.contacts.insert(item.phone.clone(), id);
                            ItemResult::Accepted
                        }
                    };
                    ItemOutcome { index, result }
                })
                .collect()
        };
        self.crash.after_step().await;
        Ok(BatchOutcome {
            items,
            requests: 1,
            ..BatchOutcome::default()
        })
    }

    async fn remove(
        &self,
        _task: &TaskRef,
        batch: &[ContactToRemove],
    ) -> Result<BatchOutcome, ProviderError> {
        let items = {
            let mut remote = self.remote.lock().expect("lock");
            batch
                .iter()
                .enumerate()
                .map(|(index, item)| {
                    let found = match self.identity {
                        Identity::Phone => remote.contacts.contains_key(&item.phone),
                        Identity::RemoteId => item.remote_id.as_ref().is_some_and(|id| {
                            remote.contacts.get(&item.phone) == Some(id)
                                || remote.contacts.values().any(|held| held == id)
                        }),
                    };
                    let result = if found {
                        let phone = match self.identity {
                            Identity::Phone => item.phone.clone(),
                            Identity::RemoteId => remote
                                .contacts
                                .iter()
                                .find(|(_, held)| Some(*held) == item.remote_id.as_ref())
                                .map(|(phone, _)| phone.clone())
                                .unwrap_or_else(|| item.phone.clone()),
                        };
                        remote.contacts.remove(&phone);
                        remote.removed.push(phone);
                        ItemResult::Accepted
                    } else {
                        ItemResult::Rejected {
                            reason: RejectReason::NotFound,
                        }
                    };
                    ItemOutcome { index, result }
                })
                .collect()
        };
        self.crash.after_step().await;
        Ok(BatchOutcome {
            items,
            requests: 1,
            ..BatchOutcome::default()
        })
    }

    async fn drift_hint(&self, _task: &TaskRef) -> Result<Option<DriftHint>, ProviderError> {
        Ok(None)
    }

    /// A provider that lists can count: every run between listings holds the count against
    /// the ledger's, so every crash point also proves the count protocol.
    async fn count(&self, _task: &TaskRef) -> Result<Option<u64>, ProviderError> {
        let remote = self.remote.lock().expect("lock");
        Ok(self.can_list.then(|| remote.contacts.len() as u64))
    }

    async fn check_credentials(&self) -> Result<(), ProviderError> {
        Ok(())
    }

    async fn batch_states(&self, _task: &TaskRef, ids: &[String]) -> Vec<BatchState> {
        vec![BatchState::Finished; ids.len()]
    }
}

/// The durable ledger: a snapshot, the journals sealed since and the live journal, as the
/// controller's store keeps them.
#[derive(Clone, Default)]
struct Durable {
    snapshot: Option<Vec<u8>>,
    sealed: Vec<Vec<u8>>,
    journal: Option<Vec<u8>>,
    saves: usize,
    /// Saves made of each kind: snapshots, live journals, seals.
    kinds: [usize; 3],
}

/// The journal rule with small seals: a seal every three phones, at most two before a save
/// must compact, so the crash points of these short syncs fall on all three kinds of save.
const CRASH_TEST_JOURNALS: JournalLimits = JournalLimits {
    seal_after: 3,
    max_sealed: 2,
    max_journal_bytes: usize::MAX,
    max_sealed_bytes: usize::MAX,
};

impl Durable {
    /// The ledger a restarted sync reads: the snapshot with the journals replayed.
    fn ledger(&self) -> Option<Ledger> {
        Some(
            journal::decode_stored(
                self.snapshot.as_ref()?,
                &self.sealed,
                self.journal.as_deref(),
            )
            .expect("the stored ledger decodes"),
        )
    }

    /// Saves `ledger` by the journal rule; the first save and every third one are snapshots.
    fn save(&mut self, ledger: &mut Ledger) -> Result<(), SinkError> {
        self.saves += 1;
        let room = StoreRoom {
            journals: self.snapshot.is_some() && !self.saves.is_multiple_of(3),
            sealed: self.sealed.len(),
        };
        let save =
            journal::next_save(ledger, room, &CRASH_TEST_JOURNALS).map_err(|e| SinkError {
                message: e.to_string(),
                reason: "LedgerEncode",
            })?;
        match save {
            Save::Journal(bytes) => {
                self.kinds[1] += 1;
                self.journal = Some(bytes);
            }
            Save::Seal(bytes) => {
                self.kinds[2] += 1;
                self.sealed.push(bytes);
                self.journal = None;
                ledger.journal_sealed();
            }
            Save::Snapshot(bytes) => {
                self.kinds[0] += 1;
                self.snapshot = Some(bytes);
                self.sealed.clear();
                self.journal = None;
                ledger.snapshot_taken();
            }
        }
        Ok(())
    }
}

/// Keeps the last durable ledger (see [`Durable`]).
struct MemorySink {
    durable: Arc<Mutex<Durable>>,
    crash: Arc<Crash>,
}

impl SyncSink for MemorySink {
    async fn save_ledger(&mut self, ledger: &mut Ledger) -> Result<(), SinkError> {
        self.durable.lock().expect("lock").save(ledger)?;
        self.crash.after_step().await;
        Ok(())
    }

    /// One batch a window, as the controller's sink once it journals.
    fn window_items(&self, _ledger_len: usize) -> usize {
        0
    }

    async fn progress(&mut self, _pending_add: u64, _pending_remove: u64) {}
}

/// One provider account and the durable ledger of one task, across runs.
struct World {
    remote: Arc<Mutex<Remote>>,
    durable: Arc<Mutex<Durable>>,
    can_list: bool,
    identity: Identity,
    policy: PlanPolicy,
}

pub(super) fn phone(i: usize) -> String {
    format!("+86139{i:08}")
}

pub(super) fn desired(indexes: &[usize]) -> DesiredSet {
    let contacts: Vec<Contact> = indexes
        .iter()
        .map(|&i| Contact {
            phone: phone(i),
            name: None,
            company: None,
            email: None,
            variables: Default::default(),
            extra: None,
        })
        .collect();
    DesiredSet::build(&[ListInput {
        name: "list",
        default_region: None,
        contacts: ListContacts::Inline(&contacts),
    }])
}

pub(super) fn wire() -> WireFormat {
    WireFormat {
        format: PhoneFormat::InternationalDigits,
        region: None,
    }
}

pub(super) fn wire_phones(indexes: &[usize]) -> BTreeSet<String> {
    indexes
        .iter()
        .map(|&i| phone(i).trim_start_matches('+').to_owned())
        .collect()
}

/// Ledger-first, as a controller runs between resyncs: a sync lists only when the ledger asks
/// for it (never listed, something in flight, drift hinted), so every crash point also proves
/// that a restarted sync lists before it trusts the ledger.
pub(super) fn between_listings() -> ListingSchedule {
    ListingSchedule {
        interval: std::time::Duration::from_secs(3600),
        requested: false,
        now: super::now_unix(),
        known_listing: None,
    }
}

pub(super) fn policy() -> PlanPolicy {
    PlanPolicy {
        management: ManagementPolicy::Full,
        max_delete_percent: 100,
        content_change: ContentChangePolicy::Ignore,
    }
}

impl World {
    fn new(can_list: bool, identity: Identity) -> Self {
        Self {
            remote: Arc::default(),
            durable: Arc::default(),
            can_list,
            identity,
            policy: policy(),
        }
    }

    /// One run (observe → plan → execute) from the durable ledger, crashing at `crash_at`.
    /// `Some(plan)` when the run finished, `None` when it crashed; and the steps it took.
    async fn run(&self, wanted: &DesiredSet, crash_at: Option<usize>) -> (Option<Plan>, usize) {
        let crash = Crash::at(crash_at);
        let provider = FakeProvider {
            remote: self.remote.clone(),
            crash: crash.clone(),
            can_list: self.can_list,
            identity: self.identity,
        };
        let mut sink = MemorySink {
            durable: self.durable.clone(),
            crash: crash.clone(),
        };
        let durable = self.durable.lock().expect("lock").ledger();
        let mut ledger = durable.unwrap_or_else(|| Ledger::fresh(Some("task-uid")));
        let task = TaskRef::new("task");
        let wire = wire();
        let sync = async {
            let run = TaskSync {
                provider: &provider,
                task: &task,
                wire: &wire,
                desired: wanted,
                policy: &self.policy,
                listing: between_listings(),
            };
            let planned = run.observe_and_plan(&mut ledger).await.expect("observe");
            let report = run
                .settle_then_execute(planned, &mut ledger, &mut sink)
                .await
                .expect("execute");
            assert!(
                report.executed.stopped_by.is_none(),
                "{:?}",
                report.executed.stopped_by
            );
            report.plan
        };
        let finished = tokio::select! {
            plan = sync => Some(plan),
            () = crash.crashed.notified() => None,
        };
        (finished, crash.steps())
    }

    /// Runs until a plan has nothing to do (at most `rounds` runs).
    async fn settle(&self, wanted: &DesiredSet, rounds: usize) {
        for _ in 0..rounds {
            let (plan, _) = self.run(wanted, None).await;
            let plan = plan.expect("no crash asked");
            assert!(plan.guard.allows_removals(), "{:?}", plan.guard);
            if plan.is_empty() {
                return;
            }
        }
        panic!("not settled within {rounds} runs");
    }

    fn held(&self) -> BTreeSet<String> {
        self.remote
            .lock()
            .expect("lock")
            .contacts
            .keys()
            .cloned()
            .collect()
    }
}

/// Every crash point of every step of create → churn → shrink, for one kind of provider.
async fn every_crash_point_converges(can_list: bool, identity: Identity) {
    let steps: [Vec<usize>; 3] = [
        (0..7).collect(),
        (3..10).collect(),
        (8..10).chain(20..21).collect(),
    ];
    let mut crash_points = 0;
    let mut kinds = [0; 3];
    for (s, step) in steps.iter().enumerate() {
        let mut at = 1;
        loop {
            let world = World::new(can_list, identity);
            for before in &steps[..s] {
                world.settle(&desired(before), 4).await;
            }
            let wanted = desired(step);
            let (finished, _) = world.run(&wanted, Some(at)).await;
            if finished.is_some() {
                // `at` is past the last step of this sync: every crash point was tried.
                break;
            }
            crash_points += 1;
            world.settle(&wanted, 4).await;
            let remote = world.remote.lock().expect("lock");
            let context = format!("step {s}, crash at step {at} (list {can_list}, {identity:?})");
            assert!(
                remote.second_adds.is_empty(),
                "{context}: adds sent for phones already held: {:?}",
                remote.second_adds
            );
            let wanted_wire = wire_phones(step);
            let wrongly_removed: Vec<&String> = remote
                .removed
                .iter()
                .filter(|p| wanted_wire.contains(*p))
                .collect();
            assert!(
                wrongly_removed.is_empty(),
                "{context}: desired contacts removed: {wrongly_removed:?}"
            );
            drop(remote);
            assert_eq!(world.held(), wanted_wire, "{context}: converged");
            let durable = world.durable.lock().expect("lock");
            for (total, n) in kinds.iter_mut().zip(durable.kinds) {
                *total += n;
            }
            at += 1;
        }
    }
    // Each step has several saves and batches: the enumeration must have tried them, over
    // snapshots, live journals and seals.
    assert!(crash_points >= 12, "only {crash_points} crash points tried");
    assert!(
        kinds.iter().all(|&n| n > 0),
        "saves (snapshots, journals, seals): {kinds:?}"
    );
}

#[tokio::test]
async fn a_crash_at_any_step_of_a_listing_provider_by_phone_loses_nothing() {
    every_crash_point_converges(true, Identity::Phone).await;
}

#[tokio::test]
async fn a_crash_at_any_step_of_a_listing_provider_by_id_loses_nothing() {
    every_crash_point_converges(true, Identity::RemoteId).await;
}

#[tokio::test]
async fn a_crash_at_any_step_of_a_provider_that_cannot_list_loses_nothing() {
    every_crash_point_converges(false, Identity::RemoteId).await;
}

/// Between listings, the provider's count finds a contact removed or added behind callsync's
/// back (in the provider's console): the run lists and puts the task right. While the count
/// agrees with the ledger, runs plan against the ledger and list nothing.
#[tokio::test]
async fn a_count_that_disagrees_with_the_ledger_lists_the_task() {
    for identity in [Identity::Phone, Identity::RemoteId] {
        let world = World::new(true, identity);
        let wanted = desired(&[0, 1, 2]);
        world.settle(&wanted, 4).await;
        let (plan, _) = world.run(&wanted, None).await;
        assert!(!plan.expect("ran").listed, "{identity:?}: the count agrees");

        let gone = phone(1).trim_start_matches('+').to_owned();
        world.remote.lock().expect("lock").contacts.remove(&gone);
        let (plan, _) = world.run(&wanted, None).await;
        let plan = plan.expect("ran");
        assert!(
            plan.listed,
            "{identity:?}: a removal in the console is counted"
        );
        let adds: usize = plan.adds.iter().map(|b| b.items.len()).sum();
        assert_eq!(adds, 1, "{identity:?}: the removed contact is added again");
        assert_eq!(world.held(), wire_phones(&[0, 1, 2]));

        let stranger = phone(7).trim_start_matches('+').to_owned();
        world
            .remote
            .lock()
            .expect("lock")
            .contacts
            .insert(stranger.clone(), stranger);
        let (plan, _) = world.run(&wanted, None).await;
        assert!(
            plan.expect("ran").listed,
            "{identity:?}: an add in the console is counted"
        );
        world.settle(&wanted, 4).await;
        let (plan, _) = world.run(&wanted, None).await;
        assert!(
            !plan.expect("ran").listed,
            "{identity:?}: once listed, the count agrees again"
        );
    }
}

/// No batch is sent before its intent is durable: at every provider call, the durable ledger
/// already names every phone of the batch.
#[tokio::test]
async fn no_batch_is_sent_before_its_intent_is_saved() {
    for (can_list, identity) in KINDS {
        let mut at = 1;
        // Crash at each step of a churn; after a crash at a provider call, every phone the
        // provider added or removed in this run must be in the durable ledger.
        loop {
            let world_now = World::new(can_list, identity);
            world_now.settle(&desired(&[0, 1, 2, 3, 4]), 4).await;
            let before = world_now.held();
            let (finished, _) = world_now.run(&desired(&[3, 4, 5, 6, 7]), Some(at)).await;
            if finished.is_some() {
                break;
            }
            let ledger = world_now
                .durable
                .lock()
                .expect("lock")
                .ledger()
                .expect("a ledger was saved");
            let recorded: BTreeSet<String> = ledger
                .iter()
                .map(|e| e.phone.to_wire(PhoneFormat::InternationalDigits))
                .collect();
            let after = world_now.held();
            for touched in before.symmetric_difference(&after) {
                if after.contains(touched) {
                    assert!(
                        recorded.contains(touched),
                        "crash at {at}: {touched} was added before its intent was saved"
                    );
                }
            }
            at += 1;
        }
    }
}

const KINDS: [(bool, Identity); 3] = [
    (true, Identity::Phone),
    (true, Identity::RemoteId),
    (false, Identity::RemoteId),
];

/// The deletion guard blocks every removal when too many are wanted, and adds go on; AddOnly
/// adds and never removes; ObserveOnly sends nothing.
#[tokio::test]
async fn the_guard_and_the_management_policies_decide_what_is_sent() {
    for (can_list, identity) in KINDS {
        let before: Vec<usize> = (0..10).collect();
        let context = format!("list {can_list}, {identity:?}");

        let mut guarded = World::new(can_list, identity);
        guarded.settle(&desired(&before), 4).await;
        guarded.policy.max_delete_percent = 20;
        let wanted: Vec<usize> = (0..2).chain(10..12).collect();
        let (plan, _) = guarded.run(&desired(&wanted), None).await;
        let plan = plan.expect("finished");
        assert!(
            matches!(
                plan.guard,
                GuardDecision::Tripped {
                    removes: 8,
                    limit: 2,
                    ..
                }
            ),
            "{context}: {:?}",
            plan.guard
        );
        let all: Vec<usize> = (0..12).collect();
        assert_eq!(guarded.held(), wire_phones(&all), "{context}: adds go on");
        assert!(guarded.remote.lock().expect("lock").removed.is_empty());

        let mut add_only = World::new(can_list, identity);
        add_only.settle(&desired(&before), 4).await;
        add_only.policy.management = ManagementPolicy::AddOnly;
        let shifted: Vec<usize> = (5..15).collect();
        add_only.settle(&desired(&shifted), 4).await;
        let union: Vec<usize> = (0..15).collect();
        assert_eq!(add_only.held(), wire_phones(&union), "{context}: AddOnly");
        assert!(add_only.remote.lock().expect("lock").removed.is_empty());

        let mut observe_only = World::new(can_list, identity);
        observe_only.settle(&desired(&before), 4).await;
        observe_only.policy.management = ManagementPolicy::ObserveOnly;
        let (plan, steps) = observe_only.run(&desired(&shifted), None).await;
        assert!(
            plan.expect("finished").is_empty(),
            "{context}: ObserveOnly plans nothing"
        );
        assert_eq!(steps, 0, "{context}: ObserveOnly sends and saves nothing");
        assert_eq!(observe_only.held(), wire_phones(&before));
    }
}

//! A provider that queues adds (longlonglong's `async_number`): the answer only says "accepted",
//! the rows land later. When a sync stops waiting before they land, the next one must not send
//! them again while the provider still processes the first batch — the second copy would land
//! after a removal and bring the contact back — and must settle them once the batch is done.
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use super::crash_tests::{desired, policy, wire, wire_phones};
use super::observe::UNKNOWN_BATCH_GRACE;
use super::{SinkError, SyncSink, TaskSync};
use crate::contacts::DesiredSet;
use crate::ledger::{Ledger, codec};
use crate::plan::{Identity, Plan};
use crate::providers::{
    BatchOutcome, BatchState, Capabilities, ContactToAdd, ContactToRemove, DriftHint, ItemOutcome,
    ItemResult, Provider, ProviderError, RemoteContact, RemoteState, TaskRef,
};

/// The provider's side: what it holds, the batches it has queued, and every add row it got.
#[derive(Default)]
struct Queue {
    held: BTreeSet<String>,
    /// Batch id → rows, not applied yet.
    queued: Vec<(String, Vec<String>)>,
    applied: Vec<String>,
    rows_received: Vec<String>,
    /// What `batch_states` answers for a batch still queued.
    lookup: Option<BatchState>,
}

impl Queue {
    /// The provider works through its queue.
    fn land(&mut self) {
        for (id, rows) in std::mem::take(&mut self.queued) {
            self.held.extend(rows);
            self.applied.push(id);
        }
    }
}

struct QueueingProvider {
    queue: Arc<Mutex<Queue>>,
}

impl Provider for QueueingProvider {
    fn kind(&self) -> &'static str {
        "queueing"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            max_add: 100,
            max_remove: 100,
            can_list: true,
            async_add: true,
            removable_states: &[RemoteState::Pending],
            identity: Identity::Phone,
            remove_concurrency: 1,
        }
    }

    async fn list(&self, _task: &TaskRef) -> Result<Option<Vec<RemoteContact>>, ProviderError> {
        let queue = self.queue.lock().expect("lock");
        Ok(Some(
            queue
                .held
                .iter()
                .map(|phone| RemoteContact {
                    phone: phone.clone(),
                    remote_id: None,
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
        let mut queue = self.queue.lock().expect("lock");
        let id = format!("batch-{}", queue.queued.len() + queue.applied.len());
        let rows: Vec<String> = batch.iter().map(|c| c.phone.clone()).collect();
        queue.rows_received.extend(rows.iter().cloned());
        queue.queued.push((id.clone(), rows));
        Ok(BatchOutcome {
            items: (0..batch.len())
                .map(|index| ItemOutcome {
                    index,
                    result: ItemResult::Unknown,
                })
                .collect(),
            requests: 1,
            open_batches: vec![id],
            ..BatchOutcome::default()
        })
    }

    async fn remove(
        &self,
        _task: &TaskRef,
        batch: &[ContactToRemove],
    ) -> Result<BatchOutcome, ProviderError> {
        let mut queue = self.queue.lock().expect("lock");
        let items = batch
            .iter()
            .enumerate()
            .map(|(index, item)| {
                queue.held.remove(&item.phone);
                ItemOutcome {
                    index,
                    result: ItemResult::Accepted,
                }
            })
            .collect();
        Ok(BatchOutcome {
            items,
            requests: 1,
            ..BatchOutcome::default()
        })
    }

    async fn drift_hint(&self, _task: &TaskRef) -> Result<Option<DriftHint>, ProviderError> {
        Ok(None)
    }

    async fn check_credentials(&self) -> Result<(), ProviderError> {
        Ok(())
    }

    async fn batch_states(&self, _task: &TaskRef, ids: &[String]) -> Vec<BatchState> {
        // As the trait asks: in order, up to the first that is not finished.
        let queue = self.queue.lock().expect("lock");
        let mut states = Vec::new();
        for id in ids {
            let state = if queue.applied.contains(id) {
                BatchState::Finished
            } else {
                queue.lookup.unwrap_or(BatchState::Processing)
            };
            states.push(state);
            if state != BatchState::Finished {
                break;
            }
        }
        states
    }
}

/// The durable ledger, through the real codec.
#[derive(Default)]
struct Durable(Option<Vec<u8>>);

impl SyncSink for Durable {
    async fn save_ledger(&mut self, ledger: &mut Ledger) -> Result<(), SinkError> {
        self.0 = Some(codec::encode(ledger).expect("encodes"));
        Ok(())
    }

    async fn progress(&mut self, _pending_add: u64, _pending_remove: u64) {}
}

struct World {
    queue: Arc<Mutex<Queue>>,
    durable: Durable,
}

impl World {
    fn new() -> Self {
        Self {
            queue: Arc::default(),
            durable: Durable::default(),
        }
    }

    /// One sync from the durable ledger: its plan and the contacts it left in doubt.
    async fn sync(&mut self, wanted: &DesiredSet) -> (Plan, u64) {
        let provider = QueueingProvider {
            queue: self.queue.clone(),
        };
        let mut ledger = match &self.durable.0 {
            Some(bytes) => codec::decode(bytes).expect("decodes"),
            None => Ledger::fresh(Some("task-uid")),
        };
        let task = TaskRef::new("task");
        let (wire, policy) = (wire(), policy());
        let run = TaskSync {
            provider: &provider,
            task: &task,
            wire: &wire,
            desired: wanted,
            policy: &policy,
            listing: super::crash_tests::between_listings(),
        };
        let planned = run.observe_and_plan(&mut ledger).await.expect("observe");
        let report = run
            .settle_then_execute(planned, &mut ledger, &mut self.durable)
            .await
            .expect("execute");
        let in_doubt = report.in_doubt();
        (report.plan, in_doubt)
    }

    fn ledger(&self) -> Ledger {
        codec::decode(self.durable.0.as_ref().expect("saved")).expect("decodes")
    }
}

#[tokio::test]
async fn a_batch_still_processing_is_awaited_not_sent_again_and_a_removal_meanwhile_holds() {
    let mut world = World::new();
    // The first sync sends both; the provider queues them and the answer settles nothing.
    let (plan, in_doubt) = world.sync(&desired(&[1, 2])).await;
    assert_eq!((plan.counts.planned_adds, in_doubt), (2, 2));
    assert_eq!(world.ledger().open_batches().len(), 1);

    // Contact 2 opts out while the batch is still queued: nothing is sent again, nothing is
    // removed (it is not there yet), and both stay in doubt, never in sync.
    let (plan, in_doubt) = world.sync(&desired(&[1])).await;
    assert_eq!(
        (plan.counts.planned_adds, plan.counts.awaiting, in_doubt),
        (0, 1, 2)
    );
    assert_eq!(world.queue.lock().expect("lock").rows_received.len(), 2);

    // The batch lands, bringing contact 2 with it: the next sync sees the batch finished,
    // confirms contact 1 and removes contact 2. No second copy was ever queued.
    world.queue.lock().expect("lock").land();
    let (plan, in_doubt) = world.sync(&desired(&[1])).await;
    assert_eq!(
        (
            plan.counts.planned_adds,
            plan.counts.planned_removes,
            in_doubt
        ),
        (0, 1, 0)
    );
    let (plan, in_doubt) = world.sync(&desired(&[1])).await;
    assert!(plan.is_empty() && in_doubt == 0);
    let queue = world.queue.lock().expect("lock");
    assert_eq!(queue.held, wire_phones(&[1]));
    assert_eq!(queue.rows_received.len(), 2, "each contact queued once");
    assert!(world.ledger().open_batches().is_empty());
}

/// A batch the provider says nothing about (its result lookup fails) is awaited for the grace
/// period; past it, its contacts count as lost and are sent again.
#[tokio::test]
async fn a_batch_of_unknown_state_is_awaited_for_the_grace_period_only() {
    let mut world = World::new();
    world.queue.lock().expect("lock").lookup = Some(BatchState::Unknown);
    world.sync(&desired(&[1])).await;
    let (plan, in_doubt) = world.sync(&desired(&[1])).await;
    assert_eq!((plan.counts.planned_adds, in_doubt), (0, 1));

    // Age the batch past the grace period, as a clock would.
    let mut ledger = world.ledger();
    let accepted_at = ledger.open_batches()[0].accepted_at;
    let old = accepted_at - UNKNOWN_BATCH_GRACE.as_secs() - 1;
    ledger.retain_open_batches(|_| false);
    ledger.record_open_batches(["batch-0".to_owned()], old);
    world.durable.0 = Some(codec::encode(&ledger).expect("encodes"));
    let (plan, _) = world.sync(&desired(&[1])).await;
    assert_eq!(
        plan.counts.planned_adds, 1,
        "sent again after the grace period"
    );
}

//! The naive way, as a script would do it: keep no state but what it uploaded, and on every
//! change re-upload the whole list — delete every contact, then add every contact of the new
//! list — through the same provider clients callsync uses (`src/providers`), against its own
//! simulator so its calls are counted apart from callsync's.
use std::collections::BTreeSet;
use std::time::Instant;

use callsync::providers::{
    AnyProvider, ContactToAdd, ContactToRemove, Provider, RateLimiters, TaskRef,
};
use callsync::simulator::{
    ProviderKind, RateLimitConfig, RunningSimulator, Simulator, SimulatorConfig,
};

use super::env::Counters;
use crate::support::provider::ProviderFixture;
use crate::support::sim;

/// Items handed to the client per call of `add` / `remove` (the client splits them into
/// requests of the provider's batch limit; this only bounds the memory of one outcome).
const SCRIPT_CHUNK: usize = 1000;

pub const NAIVE_TASK: &str = "naive-1";

/// What one naive re-upload did.
#[derive(Clone, Debug, Default)]
pub struct NaiveFigures {
    /// Add and remove requests.
    pub writes: u64,
    /// Every provider request (reads included).
    pub total: u64,
    pub seconds: f64,
}

/// The naive script against its own simulator.
pub struct Naive {
    pub kind: ProviderKind,
    pub simulator: RunningSimulator,
    client: AnyProvider,
    task: TaskRef,
    /// What it uploaded last: (wire phone, remote id). Needed where the provider cannot list.
    uploaded: Vec<(String, String)>,
    generation: u32,
}

impl Naive {
    /// The script with its own simulator, sending at most `rate` requests/s.
    pub async fn start(kind: ProviderKind, rate: u32) -> Naive {
        let (id, secret) = (kind.account(), kind.secret());
        let mut account = callsync::simulator::AccountConfig::new(kind, id, secret);
        account.tasks = vec![callsync::simulator::TaskConfig {
            id: NAIVE_TASK.into(),
            ..Default::default()
        }];
        account.rate_limit = None::<RateLimitConfig>;
        let simulator = Simulator::start(SimulatorConfig {
            seed: 7,
            async_delay_ms: 100,
            accounts: vec![account],
            ..SimulatorConfig::default()
        })
        .await
        .unwrap_or_else(|e| panic!("simulator must start: {e}"));
        // The same limit (`rate` requests/s, burst `rate`) as callsync's CallProvider.
        let (mut spec, credentials) = match kind {
            ProviderKind::Longlonglong => {
                (sim::lll_spec(&simulator), sim::lll_creds(sim::LLL_TOKEN))
            }
            ProviderKind::Callbot => (
                sim::callbot_spec(&simulator, callsync::api::SignatureAlgorithm::Md5, false),
                sim::cb_creds(sim::CB_UUID, sim::CB_SECRET),
            ),
            ProviderKind::Nxlink => (
                sim::nxlink_spec(&simulator),
                sim::nx_creds(sim::NX_KEY, sim::NX_SECRET),
            ),
        };
        let rate = i32::try_from(rate).expect("a rate the schema allows");
        spec.rate_limit = Some(callsync::api::RateLimit {
            requests_per_second: rate,
            burst: rate,
        });
        let limiters = RateLimiters::default();
        let client = sim::build_with(
            &spec,
            None,
            credentials,
            &limiters,
            &sim::key("naive"),
            &sim::settings(),
        );
        Naive {
            kind,
            simulator,
            client,
            task: TaskRef::new(NAIVE_TASK),
            uploaded: Vec::new(),
            generation: 0,
        }
    }

    pub fn counters(&self) -> Counters {
        let state = self.simulator.state().lock();
        Counters(
            state
                .counters
                .iter()
                .map(|(k, v)| (k.clone(), (v.calls, v.rate_limited)))
                .collect(),
        )
    }

    /// Uploads `phones` (national) the naive way: whatever is there goes, then all of them.
    pub async fn upload(&mut self, phones: &[String]) -> NaiveFigures {
        let before = self.counters();
        let started = Instant::now();
        // What is there: the provider's listing where it has one, else the script's memory.
        let existing: Vec<ContactToRemove> = match self.client.list(&self.task).await {
            Ok(Some(listing)) => listing
                .into_iter()
                .map(|c| ContactToRemove {
                    phone: c.phone,
                    remote_id: c.remote_id,
                })
                .collect(),
            Ok(None) => self
                .uploaded
                .iter()
                .map(|(phone, id)| ContactToRemove {
                    phone: phone.clone(),
                    remote_id: Some(id.clone()),
                })
                .collect(),
            Err(e) => panic!("naive list: {e}"),
        };
        for chunk in existing.chunks(SCRIPT_CHUNK) {
            let outcome = self
                .client
                .remove(&self.task, chunk)
                .await
                .unwrap_or_else(|e| panic!("naive remove: {e}"));
            assert_eq!(outcome.accepted(), chunk.len(), "naive removes all");
        }
        // Fresh ids: Callbot orderIDs and NXLink contactIds may never be reused.
        self.generation += 1;
        let generation = self.generation;
        let contacts: Vec<ContactToAdd> = phones
            .iter()
            .enumerate()
            .map(|(i, p)| ContactToAdd {
                phone: self.kind.wire(p),
                remote_id: format!("naive-{generation}-{i}"),
                name: Some(format!("客户{}", &p[p.len() - 4..])),
                ..ContactToAdd::default()
            })
            .collect();
        for chunk in contacts.chunks(SCRIPT_CHUNK) {
            let outcome = self
                .client
                .add(&self.task, chunk)
                .await
                .unwrap_or_else(|e| panic!("naive add: {e}"));
            assert_eq!(outcome.accepted(), chunk.len(), "naive adds all");
        }
        self.uploaded = contacts
            .into_iter()
            .map(|c| (c.phone, c.remote_id))
            .collect();
        let seconds = started.elapsed().as_secs_f64();
        let used = self.counters().since(&before);
        NaiveFigures {
            writes: used.writes(self.kind),
            total: used.total(),
            seconds,
        }
    }

    /// The phones its simulator holds.
    pub fn held(&self) -> BTreeSet<String> {
        let account = self.kind.account();
        self.simulator
            .contacts(self.kind, account, NAIVE_TASK)
            .into_iter()
            .map(|c| c.phone)
            .collect()
    }
}

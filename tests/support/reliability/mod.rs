//! Shared by the reliability tests (`tests/chaos.rs`, `tests/crash.rs`,
//! `tests/apiserver_restart.rs`): three CallTasks — one per provider — over ContactLists of at
//! most 5,000 contacts, a seeded in-process simulator, the controller as a subprocess, and the
//! checks every run ends with: the provider holds exactly the desired set, and the simulator's
//! audit log shows no phone added twice, no desired phone removed, no desired phone missing.
//!
//! Each test crate includes it with `#[path]`, beside `mod support` (the apiserver fixture, the
//! simulator helpers `support::sim`, the providers' fixtures `support::provider`), which it uses
//! through `crate::support`.
#![allow(dead_code, reason = "each test binary uses a different part")]

pub mod private_cp;
pub mod report;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use callsync::api::{CallTask, ConditionType, find_condition};
use callsync::simulator::{
    AccountConfig, FaultConfig, ProviderKind, RunningSimulator, Simulator, SimulatorConfig,
    TaskConfig,
};
use kube::Client;
use kube::api::Api;
use serde_json::{Value, json};

use crate::support::process::ControllerProcess;
use crate::support::provider::{ALL_PROVIDERS, ProviderFixture};
use crate::support::sim;
use crate::support::{BIN, ControlPlane};

pub use report::{AuditCheck, FaultCounts};

/// The provider task id of every CallTask (one account per provider, so no clash).
pub const TASK: &str = "task-1";
/// Contacts per ContactList at most (the figure).
pub const LIST_SIZE: usize = 5000;

/// How the CallProviders call the simulator.
#[derive(Debug, Clone, Copy)]
pub struct ProviderSettings {
    /// Requests per second (and burst) of each account.
    pub requests_per_second: u32,
    /// Per-request timeout (`timeoutSeconds`).
    pub timeout_seconds: u32,
    /// `maxBatchSize.add`; `None` = the provider's documented maximum.
    pub max_add: Option<u32>,
}

/// The injected faults of the chaos runs: 10 % 5xx, 5 % timeouts (held past the client's 1 s
/// timeout), 5 % commit-then-drop, 0–100 ms random latency.
pub fn chaos_faults() -> FaultConfig {
    FaultConfig {
        latency_ms: 0,
        latency_jitter_ms: 100,
        error_rate: 0.10,
        timeout_rate: 0.05,
        timeout_hold_ms: 1500,
        drop_after_commit_rate: 0.05,
        oversized_answer: None,
    }
}

/// One namespace with three CallTasks, their ContactLists, and a simulator.
pub struct Fleet {
    pub client: Client,
    pub ns: String,
    pub kubeconfig: PathBuf,
    pub log_dir: PathBuf,
    pub simulator: RunningSimulator,
    pub admin: sim::Admin,
    /// Per provider: the phones (national) of each ContactList, in list order.
    lists: BTreeMap<ProviderKind, Vec<Vec<String>>>,
    /// Per provider: the next unused phone index.
    next_index: BTreeMap<ProviderKind, usize>,
    /// Per provider: phones taken out of the lists (removals the controller must make).
    pub removed: BTreeMap<ProviderKind, BTreeSet<String>>,
    /// Times a CallTask said InSync, with the counts the lists declare, while the provider
    /// held another set of phones (a false InSync; must stay 0).
    false_in_sync: std::sync::atomic::AtomicU64,
}

impl Fleet {
    /// A fresh namespace on `cp`, a simulator with `seed` and `faults` (simulator-wide), the
    /// Secrets and CallProviders. No ContactLists or CallTasks yet.
    pub async fn start(
        cp: &ControlPlane,
        prefix: &str,
        seed: u64,
        faults: FaultConfig,
        settings: ProviderSettings,
    ) -> Fleet {
        let (client, ns) = cp.test_namespace(prefix).await;
        let accounts = ALL_PROVIDERS
            .iter()
            .map(|k| {
                AccountConfig::new(*k, k.account(), k.secret()).with_task(TaskConfig::new(TASK))
            })
            .collect();
        let config = SimulatorConfig {
            seed,
            async_delay_ms: 100,
            faults,
            accounts,
            ..SimulatorConfig::default()
        };
        let simulator = match Simulator::start(config).await {
            Ok(sim) => sim,
            Err(err) => panic!("simulator must start: {err}"),
        };
        let admin = sim::Admin::new(&simulator);
        let fleet = Fleet {
            client,
            ns,
            kubeconfig: cp.kubeconfig.clone(),
            // The control plane's folder goes with the test binary; keep logs elsewhere on demand.
            log_dir: crate::support::logs::log_dir().unwrap_or_else(|| cp.dir.clone()),
            simulator,
            admin,
            lists: BTreeMap::new(),
            next_index: BTreeMap::new(),
            removed: BTreeMap::new(),
            false_in_sync: Default::default(),
        };
        let endpoint = fleet.simulator.base_url();
        for kind in ALL_PROVIDERS {
            fleet
                .apply(json!({"apiVersion": "v1", "kind": "Secret",
                    "metadata": {"name": format!("creds-{}", kind.as_str()), "labels": {"callsync.io/credentials": "true"}},
                    "stringData": kind.secret_data()}))
                .await;
            let mut spec = kind.provider_spec(&endpoint, &format!("creds-{}", kind.as_str()));
            spec["rateLimit"] = json!({"requestsPerSecond": settings.requests_per_second,
                                       "burst": settings.requests_per_second});
            spec["timeoutSeconds"] = json!(settings.timeout_seconds);
            if let Some(add) = settings.max_add {
                spec["maxBatchSize"] = json!({"add": add});
            }
            fleet
                .apply(
                    json!({"apiVersion": "callsync.io/v1alpha1", "kind": "CallProvider",
                    "metadata": {"name": kind.as_str()}, "spec": spec}),
                )
                .await;
        }
        fleet
    }

    /// Server-side apply of any object of the namespace.
    pub async fn apply(&self, object: Value) {
        crate::support::apply(&self.client, &self.ns, object).await;
    }

    pub fn tasks(&self) -> Api<CallTask> {
        Api::namespaced(self.client.clone(), &self.ns)
    }

    /// Declares `total` contacts split evenly over the three providers, in ContactLists of at
    /// most [`LIST_SIZE`], and one CallTask per provider selecting its lists by label.
    pub async fn declare(&mut self, total: usize) {
        for (i, kind) in ALL_PROVIDERS.iter().enumerate() {
            let share = total / 3 + usize::from(i < total % 3);
            let phones: Vec<String> = (0..share).map(|n| kind.phone(n)).collect();
            let lists: Vec<Vec<String>> = phones.chunks(LIST_SIZE).map(<[_]>::to_vec).collect();
            self.next_index.insert(*kind, share);
            self.lists.insert(*kind, lists);
            for l in 0..self.lists[kind].len() {
                self.apply_list(*kind, l).await;
            }
            self.apply(
                json!({"apiVersion": "callsync.io/v1alpha1", "kind": "CallTask",
                "metadata": {"name": kind.as_str()},
                "spec": {"providerRef": {"name": kind.as_str()}, "taskId": TASK,
                         "contactLists": {"selector": {"matchLabels": {"task": kind.as_str()}}},
                         "policy": {"maxDeletePercent": 50}, "resyncInterval": "10m"}}),
            )
            .await;
        }
    }

    async fn apply_list(&self, kind: ProviderKind, index: usize) {
        let contacts: Vec<Value> = self.lists[&kind][index]
            .iter()
            .map(|p| json!({"phone": p, "name": format!("客户{}", &p[p.len() - 4..])}))
            .collect();
        self.apply(
            json!({"apiVersion": "callsync.io/v1alpha1", "kind": "ContactList",
            "metadata": {"name": format!("{}-{index}", kind.as_str()),
                         "labels": {"task": kind.as_str()}},
            "spec": {"defaultRegion": "CN", "contacts": contacts}}),
        )
        .await;
    }

    /// Churn: per provider, drops `remove` contacts from the front of its first list and adds
    /// `add` new ones to its last list (a new list when that one is full).
    pub async fn churn(&mut self, remove: usize, add: usize) {
        for kind in ALL_PROVIDERS {
            let lists = self.lists.get_mut(&kind).expect("declared");
            let cut = remove.min(lists[0].len());
            let gone: Vec<String> = lists[0].drain(..cut).collect();
            self.removed.entry(kind).or_default().extend(gone);
            let next = self.next_index.get_mut(&kind).expect("declared");
            let mut touched = BTreeSet::from([0]);
            for _ in 0..add {
                if lists.last().is_none_or(|l| l.len() >= LIST_SIZE) {
                    lists.push(Vec::new());
                }
                let last = lists.len() - 1;
                lists[last].push(kind.phone(*next));
                *next += 1;
                touched.insert(last);
            }
            for l in touched {
                self.apply_list(kind, l).await;
            }
        }
    }

    /// The phones (national) the lists of `kind` declare now.
    pub fn desired(&self, kind: ProviderKind) -> BTreeSet<String> {
        self.lists[&kind].iter().flatten().cloned().collect()
    }

    pub fn desired_total(&self) -> usize {
        ALL_PROVIDERS.iter().map(|k| self.desired(*k).len()).sum()
    }

    /// Contacts the simulator holds for `kind` (cheap: the task's counts).
    pub async fn held_count(&self, kind: ProviderKind) -> u64 {
        let task = self.admin.task(kind.as_str(), kind.account(), TASK).await;
        let c = &task["contacts"];
        ["pending", "calling", "finished"]
            .iter()
            .map(|f| c[f].as_u64().unwrap_or(0))
            .sum()
    }

    pub async fn held_total(&self) -> u64 {
        let mut total = 0;
        for kind in ALL_PROVIDERS {
            total += self.held_count(kind).await;
        }
        total
    }

    /// A controller process watching this namespace; its log goes beside the control plane's.
    /// `CALLSYNC_TEST_RUST_LOG` overrides its log filter (for investigating a failure).
    pub fn controller(&self, name: &str) -> ControllerProcess {
        let log = self.log_dir.join(format!("{}-{name}.log", self.ns));
        let filter = std::env::var("CALLSYNC_TEST_RUST_LOG").unwrap_or_else(|_| "info".into());
        ControllerProcess::spawn(
            BIN,
            &self.kubeconfig,
            log,
            &[
                "--watch-namespaces",
                &self.ns,
                "--listen-addr",
                "127.0.0.1:0",
                "--progress-seconds",
                "1",
            ],
            &[("RUST_LOG", &filter)],
        )
    }

    /// Whether every CallTask reports InSync for its generation with counts equal to what the
    /// lists declare, and every provider holds exactly that many contacts.
    async fn looks_converged(&self) -> bool {
        for kind in ALL_PROVIDERS {
            let Ok(task) = self.tasks().get(kind.as_str()).await else {
                return false;
            };
            let want = i64::try_from(self.desired(kind).len()).unwrap_or(i64::MAX);
            let status = task.status.as_ref();
            let in_sync = status.and_then(|s| s.observed_generation) == task.metadata.generation
                && status
                    .and_then(|s| find_condition(&s.conditions, ConditionType::Ready))
                    .is_some_and(|c| c.reason == "InSync");
            let counts = status.and_then(|s| s.contacts.clone());
            let counted = counts
                .is_some_and(|c| (c.desired, c.present, c.pending, c.failed) == (want, want, 0, 0));
            let held = self.held_count(kind).await;
            if !(in_sync && counted && i64::try_from(held).ok() == Some(want)) {
                return false;
            }
            // Counts can agree while the phones differ: InSync must mean exactly these phones.
            let desired: BTreeSet<String> =
                self.desired(kind).iter().map(|p| kind.wire(p)).collect();
            let phones = self.admin.phones(kind.as_str(), kind.account(), TASK).await;
            if phones.into_iter().collect::<BTreeSet<_>>() != desired {
                self.false_in_sync
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                eprintln!(
                    "false InSync: {} reports InSync, the provider differs",
                    kind.as_str()
                );
                return false;
            }
        }
        true
    }

    /// Waits until [`Self::looks_converged`]; panics with the statuses and the log tails after
    /// `within`.
    pub async fn wait_converged(&self, within: Duration, logs: &[&ControllerProcess]) {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if self.looks_converged().await {
                let false_in_sync = self
                    .false_in_sync
                    .load(std::sync::atomic::Ordering::Relaxed);
                assert_eq!(
                    false_in_sync, 0,
                    "InSync reported while the provider differed"
                );
                return;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        panic!(
            "not converged within {within:?}:\n{}",
            self.diagnose(logs).await
        );
    }

    /// Per provider what is desired, held and reported, and the last lines of the logs: for
    /// failure messages (the control plane's folder, with the logs, goes when the test ends).
    pub async fn diagnose(&self, logs: &[&ControllerProcess]) -> String {
        let mut states = Vec::new();
        for kind in ALL_PROVIDERS {
            let status = self
                .tasks()
                .get(kind.as_str())
                .await
                .ok()
                .and_then(|t| t.status);
            let held = self.held_count(kind).await;
            states.push(format!(
                "{}: desired {} held {held} status {status:?}",
                kind.as_str(),
                self.desired(kind).len()
            ));
        }
        let tails: Vec<String> = logs.iter().map(|p| p.log_tail(40)).collect();
        format!(
            "{}\nlog tails:\n{}",
            states.join("\n"),
            tails.join("\n---\n")
        )
    }

    /// Waits until the providers hold at least `at` contacts in all and more than `since`;
    /// panics with [`Self::diagnose`] after `within`.
    pub async fn wait_held(
        &self,
        at: u64,
        since: u64,
        within: Duration,
        logs: &[&ControllerProcess],
    ) {
        let deadline = Instant::now() + within;
        loop {
            let held = self.held_total().await;
            if held >= at && held > since {
                return;
            }
            if Instant::now() > deadline {
                panic!(
                    "the providers hold {held}, not {at} (and more than {since}), after {within:?}:\n{}",
                    self.diagnose(logs).await
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The final checks of a run, per provider, from the simulator's contents and audit log.
    pub async fn audit_check(&self) -> AuditCheck {
        let audit = self.admin.audit().await;
        let mut check = AuditCheck::default();
        for kind in ALL_PROVIDERS {
            let desired: BTreeSet<String> =
                self.desired(kind).iter().map(|p| kind.wire(p)).collect();
            let removed: BTreeSet<String> = self
                .removed
                .get(&kind)
                .into_iter()
                .flatten()
                .map(|p| kind.wire(p))
                .collect();
            let held = self.admin.phones(kind.as_str(), kind.account(), TASK).await;
            let entries = audit
                .iter()
                .filter(|e| e["provider"].as_str() == Some(kind.as_str()));
            check.add(kind, &desired, &removed, &held, entries);
        }
        check
    }

    /// Injected faults and calls, from the simulator's counters.
    pub async fn fault_counts(&self) -> FaultCounts {
        FaultCounts::from_counters(&self.admin.counters().await)
    }
}

/// A comma-separated list of numbers from the environment, or `default`.
pub fn env_seeds(name: &str, default: &[u64]) -> Vec<u64> {
    match std::env::var(name) {
        Ok(text) => text
            .split(',')
            .map(|s| {
                s.trim()
                    .parse()
                    .unwrap_or_else(|_| panic!("{name}: {s:?} is not a number"))
            })
            .collect(),
        Err(_) => default.to_vec(),
    }
}

/// A number from the environment, or `default`.
pub fn env_number(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(text) => text
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}: {text:?} is not a number")),
        Err(_) => default,
    }
}

/// Entries of the CallTask's ledger as a killed process left them: (present, adding, removing).
/// Adding/Removing are batches in doubt: marked before the call, outcome not yet recorded.
pub async fn ledger_states(fleet: &Fleet, kind: ProviderKind) -> (usize, usize, usize) {
    let mut states = (0, 0, 0);
    for (_, state) in ledger_entries(fleet, kind).await {
        match state {
            callsync::ledger::EntryState::Present => states.0 += 1,
            callsync::ledger::EntryState::Adding => states.1 += 1,
            callsync::ledger::EntryState::Removing => states.2 += 1,
        }
    }
    states
}

/// The phones of the ledger of the task at `kind` that are in doubt (Adding or Removing).
pub async fn ledger_in_doubt(
    fleet: &Fleet,
    kind: ProviderKind,
) -> std::collections::BTreeSet<callsync::contacts::Phone> {
    use callsync::ledger::EntryState;
    ledger_entries(fleet, kind)
        .await
        .into_iter()
        .filter(|(_, state)| *state != EntryState::Present)
        .map(|(phone, _)| phone)
        .collect()
}

/// Each entry of the ledger of the task at `kind`, as stored (none without a ledger).
async fn ledger_entries(
    fleet: &Fleet,
    kind: ProviderKind,
) -> Vec<(callsync::contacts::Phone, callsync::ledger::EntryState)> {
    use callsync::controller::ledger_store::LedgerStore;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
    let task = fleet.tasks().get(kind.as_str()).await.expect("task");
    let owner = OwnerReference {
        api_version: "callsync.io/v1alpha1".into(),
        kind: "CallTask".into(),
        name: kind.as_str().into(),
        uid: task.metadata.uid.clone().expect("uid"),
        ..Default::default()
    };
    let store = LedgerStore::new(fleet.client.clone(), &fleet.ns, owner);
    let Some(stored) = store.load().await.expect("load ledger") else {
        return Vec::new();
    };
    let ledger = stored.decode().expect("decode ledger");
    ledger
        .iter()
        .map(|entry| (entry.phone, entry.state))
        .collect()
}

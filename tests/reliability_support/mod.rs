//! Shared by the reliability tests (`tests/chaos.rs`, `tests/crash.rs`,
//! `tests/apiserver_restart.rs`): three CallTasks — one per provider — over ContactLists of at
//! most 5,000 contacts, a seeded in-process simulator, the controller as a subprocess, and the
//! checks every run ends with: the provider holds exactly the desired set, and the simulator's
//! audit log shows no phone added twice, no desired phone removed, no desired phone missing.
//!
//! Each test crate includes it with `#[path]`, beside `mod sim` (providers_support) and
//! `mod support` (the apiserver fixture), which it uses through `crate::`.
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
use k8s_openapi::api::core::v1::Secret;
use kube::Client;
use kube::api::{Api, Patch, PatchParams};
use serde_json::{Value, json};

use crate::sim;
use crate::support::ControlPlane;
use crate::support::process::ControllerProcess;

pub use report::{AuditCheck, FaultCounts};

pub const BIN: &str = env!("CARGO_BIN_EXE_callsync");
/// The provider task id of every CallTask (one account per provider, so no clash).
pub const TASK: &str = "task-1";
/// Contacts per ContactList at most (the figure).
pub const LIST_SIZE: usize = 5000;

/// The three providers, one CallTask each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Longlonglong,
    Callbot,
    Nxlink,
}

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::Longlonglong, Kind::Callbot, Kind::Nxlink];

    /// The simulator's provider name; also the CallTask, CallProvider and label value.
    pub fn name(self) -> &'static str {
        self.provider().as_str()
    }

    pub fn provider(self) -> ProviderKind {
        match self {
            Kind::Longlonglong => ProviderKind::Longlonglong,
            Kind::Callbot => ProviderKind::Callbot,
            Kind::Nxlink => ProviderKind::Nxlink,
        }
    }

    pub fn account(self) -> &'static str {
        match self {
            Kind::Longlonglong => sim::LLL_USER,
            Kind::Callbot => sim::CB_UUID,
            Kind::Nxlink => sim::NX_KEY,
        }
    }

    fn secret(self) -> &'static str {
        match self {
            Kind::Longlonglong => sim::LLL_TOKEN,
            Kind::Callbot => sim::CB_SECRET,
            Kind::Nxlink => sim::NX_SECRET,
        }
    }

    fn secret_data(self) -> Value {
        match self {
            Kind::Longlonglong => json!({"token": sim::LLL_TOKEN}),
            Kind::Callbot => json!({"uuid": sim::CB_UUID, "secretKey": sim::CB_SECRET}),
            Kind::Nxlink => json!({"accessKey": sim::NX_KEY, "accessSecret": sim::NX_SECRET}),
        }
    }

    /// The account part of the CallProvider spec.
    fn account_spec(self, endpoint: &str) -> Value {
        let secret = format!("creds-{}", self.name());
        match self {
            Kind::Longlonglong => json!({"insecure": true, "longlonglong": {"endpoint": endpoint,
                "userId": sim::LLL_USER, "tokenSecretRef": {"name": secret, "key": "token"}}}),
            Kind::Callbot => json!({"insecure": true, "callbot": {"endpoint": endpoint,
                "credentialsSecretRef": {"name": secret},
                "orderCallbackUrl": "https://hooks.example.com/order",
                "callCallbackUrl": "https://hooks.example.com/call"}}),
            Kind::Nxlink => json!({"insecure": true, "nxlink": {"endpoint": endpoint,
                "credentialsSecretRef": {"name": secret}}}),
        }
    }

    /// CN mobiles of this provider: `13{5,6,7}` and an 8-digit index, so the three never clash.
    pub fn phone(self, index: usize) -> String {
        let digit = match self {
            Kind::Longlonglong => 5,
            Kind::Callbot => 6,
            Kind::Nxlink => 7,
        };
        format!("13{digit}{index:08}")
    }

    /// How the simulator stores a national CN mobile.
    pub fn wire(self, national: &str) -> String {
        match self {
            Kind::Longlonglong => national.to_string(),
            Kind::Callbot | Kind::Nxlink => format!("86{national}"),
        }
    }

    /// The counter keys (`METHOD /path`) of this provider's endpoints start with this.
    pub fn route_prefix(self) -> &'static str {
        match self {
            Kind::Longlonglong => "/agent-api/",
            Kind::Callbot => "/callcentre/",
            Kind::Nxlink => "/openapi/aiagent/",
        }
    }
}

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
    lists: BTreeMap<Kind, Vec<Vec<String>>>,
    /// Per provider: the next unused phone index.
    next_index: BTreeMap<Kind, usize>,
    /// Per provider: phones taken out of the lists (removals the controller must make).
    pub removed: BTreeMap<Kind, BTreeSet<String>>,
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
        let accounts = Kind::ALL
            .iter()
            .map(|k| {
                AccountConfig::new(k.provider(), k.account(), k.secret())
                    .with_task(TaskConfig::new(TASK))
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
        };
        let endpoint = fleet.simulator.base_url();
        for kind in Kind::ALL {
            fleet
                .apply(json!({"apiVersion": "v1", "kind": "Secret",
                    "metadata": {"name": format!("creds-{}", kind.name()), "labels": {"callsync.io/credentials": "true"}},
                    "stringData": kind.secret_data()}))
                .await;
            let mut spec = kind.account_spec(&endpoint);
            spec["rateLimit"] = json!({"requestsPerSecond": settings.requests_per_second,
                                       "burst": settings.requests_per_second});
            spec["timeoutSeconds"] = json!(settings.timeout_seconds);
            if let Some(add) = settings.max_add {
                spec["maxBatchSize"] = json!({"add": add});
            }
            fleet
                .apply(
                    json!({"apiVersion": "callsync.io/v1alpha1", "kind": "CallProvider",
                    "metadata": {"name": kind.name()}, "spec": spec}),
                )
                .await;
        }
        fleet
    }

    /// Server-side apply of any object of the namespace.
    pub async fn apply(&self, object: Value) {
        let kind = object["kind"].as_str().expect("kind").to_string();
        let name = object["metadata"]["name"]
            .as_str()
            .expect("name")
            .to_string();
        let params = PatchParams::apply("callsync-reliability").force();
        let patch = Patch::Apply(&object);
        let ns = self.ns.as_str();
        let client = self.client.clone();
        let result = match kind.as_str() {
            "Secret" => Api::<Secret>::namespaced(client, ns)
                .patch(&name, &params, &patch)
                .await
                .map(|_| ()),
            "CallProvider" => Api::<callsync::api::CallProvider>::namespaced(client, ns)
                .patch(&name, &params, &patch)
                .await
                .map(|_| ()),
            "CallTask" => self.tasks().patch(&name, &params, &patch).await.map(|_| ()),
            "ContactList" => Api::<callsync::api::ContactList>::namespaced(client, ns)
                .patch(&name, &params, &patch)
                .await
                .map(|_| ()),
            other => panic!("unexpected kind {other}"),
        };
        result.unwrap_or_else(|e| panic!("apply {kind} {name}: {e}"));
    }

    pub fn tasks(&self) -> Api<CallTask> {
        Api::namespaced(self.client.clone(), &self.ns)
    }

    /// Declares `total` contacts split evenly over the three providers, in ContactLists of at
    /// most [`LIST_SIZE`], and one CallTask per provider selecting its lists by label.
    pub async fn declare(&mut self, total: usize) {
        for (i, kind) in Kind::ALL.iter().enumerate() {
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
                "metadata": {"name": kind.name()},
                "spec": {"providerRef": {"name": kind.name()}, "taskId": TASK,
                         "contactLists": {"selector": {"matchLabels": {"task": kind.name()}}},
                         "policy": {"maxDeletePercent": 50}, "resyncInterval": "10m"}}),
            )
            .await;
        }
    }

    async fn apply_list(&self, kind: Kind, index: usize) {
        let contacts: Vec<Value> = self.lists[&kind][index]
            .iter()
            .map(|p| json!({"phone": p, "name": format!("客户{}", &p[p.len() - 4..])}))
            .collect();
        self.apply(
            json!({"apiVersion": "callsync.io/v1alpha1", "kind": "ContactList",
            "metadata": {"name": format!("{}-{index}", kind.name()),
                         "labels": {"task": kind.name()}},
            "spec": {"defaultRegion": "CN", "contacts": contacts}}),
        )
        .await;
    }

    /// Churn: per provider, drops `remove` contacts from the front of its first list and adds
    /// `add` new ones to its last list (a new list when that one is full).
    pub async fn churn(&mut self, remove: usize, add: usize) {
        for kind in Kind::ALL {
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
    pub fn desired(&self, kind: Kind) -> BTreeSet<String> {
        self.lists[&kind].iter().flatten().cloned().collect()
    }

    pub fn desired_total(&self) -> usize {
        Kind::ALL.iter().map(|k| self.desired(*k).len()).sum()
    }

    /// Contacts the simulator holds for `kind` (cheap: the task's counts).
    pub async fn held_count(&self, kind: Kind) -> u64 {
        let task = self.admin.task(kind.name(), kind.account(), TASK).await;
        let c = &task["contacts"];
        ["pending", "calling", "finished"]
            .iter()
            .map(|f| c[f].as_u64().unwrap_or(0))
            .sum()
    }

    pub async fn held_total(&self) -> u64 {
        let mut total = 0;
        for kind in Kind::ALL {
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
        for kind in Kind::ALL {
            let Ok(task) = self.tasks().get(kind.name()).await else {
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
        }
        true
    }

    /// Waits until [`Self::looks_converged`]; panics with the statuses and the log tails after
    /// `within`.
    pub async fn wait_converged(&self, within: Duration, logs: &[&ControllerProcess]) {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if self.looks_converged().await {
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
        for kind in Kind::ALL {
            let status = self
                .tasks()
                .get(kind.name())
                .await
                .ok()
                .and_then(|t| t.status);
            let held = self.held_count(kind).await;
            states.push(format!(
                "{}: desired {} held {held} status {status:?}",
                kind.name(),
                self.desired(kind).len()
            ));
        }
        let tails: Vec<String> = logs
            .iter()
            .map(|p| {
                let text = p.log_text();
                let lines: Vec<&str> = text.lines().collect();
                lines[lines.len().saturating_sub(40)..].join("\n")
            })
            .collect();
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
        for kind in Kind::ALL {
            let desired: BTreeSet<String> =
                self.desired(kind).iter().map(|p| kind.wire(p)).collect();
            let removed: BTreeSet<String> = self
                .removed
                .get(&kind)
                .into_iter()
                .flatten()
                .map(|p| kind.wire(p))
                .collect();
            let held = self.admin.phones(kind.name(), kind.account(), TASK).await;
            let entries = audit
                .iter()
                .filter(|e| e["provider"].as_str() == Some(kind.name()));
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
pub async fn ledger_states(fleet: &Fleet, kind: Kind) -> (usize, usize, usize) {
    use callsync::controller::ledger_store::LedgerStore;
    use callsync::ledger::EntryState;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
    let task = fleet.tasks().get(kind.name()).await.expect("task");
    let owner = OwnerReference {
        api_version: "callsync.io/v1alpha1".into(),
        kind: "CallTask".into(),
        name: kind.name().into(),
        uid: task.metadata.uid.clone().expect("uid"),
        ..Default::default()
    };
    let store = LedgerStore::new(fleet.client.clone(), &fleet.ns, owner);
    let Some(stored) = store.load().await.expect("load ledger") else {
        return (0, 0, 0);
    };
    let ledger = callsync::ledger::codec::decode(&stored.bytes).expect("decode ledger");
    let mut states = (0, 0, 0);
    for entry in ledger.iter() {
        match entry.state {
            EntryState::Present => states.0 += 1,
            EntryState::Adding => states.1 += 1,
            EntryState::Removing => states.2 += 1,
        }
    }
    states
}

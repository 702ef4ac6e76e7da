//! The benchmark environment: a real kube-apiserver namespace, the simulator in process (real
//! HTTP, real signatures) and the controller in process, as `tests/controller_e2e.rs` runs them,
//! plus what the benchmarks read: the simulator's per-endpoint counters and contacts, and every
//! CallTask status write seen through a watch.
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use callsync::api::{CallProvider, CallTask, ConditionType, ContactList, find_condition};
use callsync::controller::backoff::BackoffPolicy;
use callsync::controller::context::Settings;
use callsync::controller::run::{RunConfig, run};
use callsync::simulator::{
    AccountConfig, ProviderKind, RateLimitConfig, RunningSimulator, Simulator, SimulatorConfig,
    TaskConfig,
};
use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::watcher;
use kube::{Client, ResourceExt};
use serde_json::{Value, json};

use crate::sim;
use crate::support;

/// Most contacts in one ContactList (the schema allows about 5,000).
pub const LIST_SIZE: usize = 5000;

/// One provider under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Longlonglong,
    Callbot,
    Nxlink,
}

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::Longlonglong, Kind::Callbot, Kind::Nxlink];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Longlonglong => "longlonglong",
            Kind::Callbot => "callbot",
            Kind::Nxlink => "nxlink",
        }
    }

    pub fn provider(self) -> ProviderKind {
        match self {
            Kind::Longlonglong => ProviderKind::Longlonglong,
            Kind::Callbot => ProviderKind::Callbot,
            Kind::Nxlink => ProviderKind::Nxlink,
        }
    }

    /// The simulator account id and secret the fixtures use.
    pub fn account(self) -> (&'static str, &'static str) {
        match self {
            Kind::Longlonglong => (sim::LLL_USER, sim::LLL_TOKEN),
            Kind::Callbot => (sim::CB_UUID, sim::CB_SECRET),
            Kind::Nxlink => (sim::NX_KEY, sim::NX_SECRET),
        }
    }

    /// Secret data and the CallProvider spec (without rate limit).
    fn objects(self, endpoint: &str) -> (Value, Value) {
        match self {
            Kind::Longlonglong => (
                json!({"token": sim::LLL_TOKEN}),
                json!({"insecure": true, "longlonglong": {"endpoint": endpoint, "userId": sim::LLL_USER,
                        "tokenSecretRef": {"name": "creds", "key": "token"}}}),
            ),
            Kind::Callbot => (
                json!({"uuid": sim::CB_UUID, "secretKey": sim::CB_SECRET}),
                json!({"insecure": true, "callbot": {"endpoint": endpoint, "credentialsSecretRef": {"name": "creds"},
                        "orderCallbackUrl": "https://hooks.example.com/order",
                        "callCallbackUrl": "https://hooks.example.com/call"}}),
            ),
            Kind::Nxlink => (
                json!({"accessKey": sim::NX_KEY, "accessSecret": sim::NX_SECRET}),
                json!({"insecure": true, "nxlink": {"endpoint": endpoint, "credentialsSecretRef": {"name": "creds"}}}),
            ),
        }
    }

    /// The simulator's counter keys of the write endpoints callsync uses.
    pub fn add_route(self) -> &'static str {
        match self {
            // the documented async add, callsync's default
            Kind::Longlonglong => "POST /agent-api/user/{user_id}/task/{task_id}/async_number",
            Kind::Callbot => "POST /callcentre/api/v3/addBatchCall",
            Kind::Nxlink => "POST /openapi/aiagent/call/append",
        }
    }

    pub fn remove_route(self) -> &'static str {
        match self {
            Kind::Longlonglong => {
                "DELETE /agent-api/user/{user_id}/task/{task_id}/number-batch-delete"
            }
            Kind::Callbot => "POST /callcentre/api/v3/stopOrder",
            Kind::Nxlink => "POST /openapi/aiagent/order/delete",
        }
    }

    /// Batch limits of the endpoints above (longlonglong `async_number`: 200, documented).
    pub fn max_add(self) -> u64 {
        match self {
            Kind::Longlonglong => 200,
            Kind::Nxlink => 100,
            Kind::Callbot => 500,
        }
    }

    pub fn max_remove(self) -> u64 {
        match self {
            Kind::Longlonglong => 200,
            Kind::Callbot => 500,
            Kind::Nxlink => 1,
        }
    }

    /// How the simulator stores a CN mobile written nationally.
    pub fn wire(self, national: &str) -> String {
        match self {
            Kind::Longlonglong => national.to_string(),
            _ => format!("86{national}"),
        }
    }
}

/// `ceil(adds / maxAdd) + ceil(removes / maxRemove)`.
pub fn write_bound(kind: Kind, adds: u64, removes: u64) -> u64 {
    adds.div_ceil(kind.max_add()) + removes.div_ceil(kind.max_remove())
}

/// `count` CN mobiles `138xxxxxxxx` starting at `from`.
pub fn phones(from: usize, count: usize) -> Vec<String> {
    (from..from + count).map(|i| format!("138{i:08}")).collect()
}

/// One CallTask status as a watch delivered it.
#[derive(Clone, Debug)]
pub struct StatusSample {
    /// Milliseconds since the log started.
    pub at_ms: u64,
    pub name: String,
    pub resource_version: String,
    pub pending_add: i64,
    pub present: i64,
    /// The Ready condition is True.
    pub ready: bool,
}

/// Every CallTask object version seen by a watch of the namespace (each status write is one).
#[derive(Clone)]
pub struct StatusLog {
    pub started: Instant,
    samples: Arc<Mutex<Vec<StatusSample>>>,
    handle: Arc<tokio::task::JoinHandle<()>>,
}

impl StatusLog {
    fn start(api: Api<CallTask>) -> Self {
        let started = Instant::now();
        let samples: Arc<Mutex<Vec<StatusSample>>> = Arc::default();
        let sink = samples.clone();
        let handle = tokio::spawn(async move {
            let mut events = watcher(api, watcher::Config::default()).boxed();
            while let Some(event) = events.next().await {
                let task = match event {
                    Ok(watcher::Event::Apply(task) | watcher::Event::InitApply(task)) => task,
                    _ => continue,
                };
                let contacts = task.status.as_ref().and_then(|s| s.contacts.clone());
                let sample = StatusSample {
                    at_ms: started.elapsed().as_millis() as u64,
                    name: task.name_any(),
                    resource_version: task.resource_version().unwrap_or_default(),
                    pending_add: contacts.as_ref().map_or(0, |c| c.pending_add),
                    present: contacts.as_ref().map_or(0, |c| c.present),
                    ready: task.status.as_ref().is_some_and(|s| {
                        s.conditions.iter().any(|c| {
                            c.type_ == callsync::api::ConditionType::Ready
                                && c.status == callsync::api::ConditionStatus::True
                        })
                    }),
                };
                sink.lock().expect("status log").push(sample);
            }
        });
        Self {
            started,
            samples,
            handle: Arc::new(handle),
        }
    }

    pub fn samples(&self) -> Vec<StatusSample> {
        self.samples.lock().expect("status log").clone()
    }

    /// Distinct object versions of `name` seen so far (a relist repeats versions: deduplicated).
    pub fn versions(&self, name: &str) -> BTreeSet<String> {
        self.samples()
            .into_iter()
            .filter(|s| s.name == name)
            .map(|s| s.resource_version)
            .collect()
    }
}

impl Drop for StatusLog {
    fn drop(&mut self) {
        if Arc::strong_count(&self.handle) == 1 {
            self.handle.abort();
        }
    }
}

/// Controller settings of the benchmarks: the e2e test's, with status progress every 0.5 s
/// (the samples of the pending-contacts plot).
fn settings() -> Settings {
    Settings {
        backoff: BackoffPolicy {
            base: Duration::from_millis(200),
            cap: Duration::from_secs(3),
        },
        progress_interval: Duration::from_millis(500),
        settle_delay: Duration::from_millis(300),
        cleanup_deadline: Duration::from_secs(30),
        clients: sim::settings(),
    }
}

/// A namespace, a simulator and a controller.
pub struct Bench {
    pub kind: Kind,
    pub client: Client,
    pub ns: String,
    pub simulator: RunningSimulator,
    pub status: StatusLog,
    /// Where the controller serves `/metrics`.
    pub metrics_addr: std::net::SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    controller: Option<tokio::task::JoinHandle<()>>,
}

impl Bench {
    /// Starts everything for `kind` with simulator tasks `task_ids`; `sim_limit` is the
    /// simulator's own limit of the account (it refuses what goes over it and counts it).
    pub async fn start(
        kind: Kind,
        prefix: &str,
        task_ids: &[String],
        sim_limit: Option<RateLimitConfig>,
    ) -> Bench {
        let (client, ns) = support::control_plane().test_namespace(prefix).await;
        let simulator = start_simulator(kind, task_ids, sim_limit).await;
        let status = StatusLog::start(Api::namespaced(client.clone(), &ns));
        let mut bench = Bench {
            kind,
            client,
            ns,
            simulator,
            status,
            metrics_addr: free_port(),
            stop: None,
            controller: None,
        };
        bench.start_controller();
        bench
    }

    fn start_controller(&mut self) {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let config = RunConfig {
            namespaces: vec![self.ns.clone()],
            // the CLI's default
            concurrency: 4,
            metrics_addr: self.metrics_addr,
            leader: None,
            instance: "bench".into(),
            settings: settings(),
        };
        let client = self.client.clone();
        self.controller = Some(tokio::spawn(async move {
            run(client, config, async move {
                let _ = stopped.await;
            })
            .await
            .expect("controller runs");
        }));
        self.stop = Some(stop);
    }

    /// Waits until the controller's caches hold their first listing (`/readyz`). Objects made
    /// before then reach the controller as its initial listing, which wakes every CallTask that
    /// exists by then; a benchmark that creates its CallTasks after this measures steady state,
    /// not a start-up race.
    pub async fn wait_ready(&self) {
        let addr = self.metrics_addr.to_string();
        assert!(
            support::process::wait_ready(&addr, Duration::from_secs(60)).await,
            "controller not ready in 60 s"
        );
    }

    /// Asks the controller to stop; a reconcile still running (after InSync a follow-up
    /// reconcile may be listing 100,000 contacts at 10 requests/s) is aborted after 10 s: the
    /// figures are taken, and graceful shutdown is tested elsewhere.
    pub async fn stop_controller(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(mut handle) = self.controller.take() {
            match tokio::time::timeout(Duration::from_secs(10), &mut handle).await {
                Ok(joined) => joined.expect("no panic"),
                Err(_) => handle.abort(),
            }
        }
    }

    pub async fn apply(&self, object: Value) {
        let kind = object["kind"].as_str().expect("kind").to_string();
        let name = object["metadata"]["name"]
            .as_str()
            .expect("name")
            .to_string();
        let params = PatchParams::apply("bench").force();
        let client = self.client.clone();
        let ns = self.ns.as_str();
        let result = match kind.as_str() {
            "Secret" => Api::<Secret>::namespaced(client, ns)
                .patch(&name, &params, &Patch::Apply(&object))
                .await
                .map(|_| ()),
            "CallProvider" => Api::<CallProvider>::namespaced(client, ns)
                .patch(&name, &params, &Patch::Apply(&object))
                .await
                .map(|_| ()),
            "CallTask" => Api::<CallTask>::namespaced(client, ns)
                .patch(&name, &params, &Patch::Apply(&object))
                .await
                .map(|_| ()),
            "ContactList" => Api::<ContactList>::namespaced(client, ns)
                .patch(&name, &params, &Patch::Apply(&object))
                .await
                .map(|_| ()),
            other => panic!("unexpected kind {other}"),
        };
        result.unwrap_or_else(|e| panic!("apply {kind} {name}: {e}"));
    }

    /// The Secret and the CallProvider `acct` with this rate limit.
    pub async fn provider(&self, requests_per_second: u32, burst: u32) {
        let (data, mut spec) = self.kind.objects(&self.simulator.base_url());
        spec["rateLimit"] = json!({"requestsPerSecond": requests_per_second, "burst": burst});
        self.apply(json!({"apiVersion": "v1", "kind": "Secret",
                          "metadata": {"name": "creds", "labels": {"callsync.io/credentials": "true"}},
                          "stringData": data}))
            .await;
        self.apply(
            json!({"apiVersion": "callsync.io/v1alpha1", "kind": "CallProvider",
                          "metadata": {"name": "acct"}, "spec": spec}),
        )
        .await;
    }

    /// One ContactList labelled `campaign: <label>`.
    pub async fn list(&self, name: &str, label: &str, phones: &[String]) {
        let contacts: Vec<Value> = phones
            .iter()
            .map(|p| json!({"phone": p, "name": format!("客户{}", &p[p.len() - 4..])}))
            .collect();
        self.apply(
            json!({"apiVersion": "callsync.io/v1alpha1", "kind": "ContactList",
                          "metadata": {"name": name, "labels": {"campaign": label}},
                          "spec": {"defaultRegion": "CN", "contacts": contacts}}),
        )
        .await;
    }

    /// `phones` as ContactLists `<label>-<i>` of at most [`LIST_SIZE`]; returns the shards.
    pub async fn lists(&self, label: &str, phones: &[String]) -> Vec<Vec<String>> {
        let shards: Vec<Vec<String>> = phones.chunks(LIST_SIZE).map(<[_]>::to_vec).collect();
        for (i, shard) in shards.iter().enumerate() {
            self.list(&format!("{label}-{i}"), label, shard).await;
        }
        shards
    }

    /// A CallTask on simulator task `task_id` selecting the lists labelled `label`.
    pub async fn task(&self, name: &str, task_id: &str, label: &str, resync: &str) {
        self.apply(json!({"apiVersion": "callsync.io/v1alpha1", "kind": "CallTask",
                          "metadata": {"name": name},
                          "spec": {"providerRef": {"name": "acct"}, "taskId": task_id,
                                   "contactLists": {"selector": {"matchLabels": {"campaign": label}}},
                                   "policy": {"maxDeletePercent": 50},
                                   "resyncInterval": resync}}))
            .await;
    }

    pub fn tasks(&self) -> Api<CallTask> {
        Api::namespaced(self.client.clone(), &self.ns)
    }

    /// Polls (every 100 ms) until `done` holds for the CallTask `name`; panics with its status
    /// after `within`.
    pub async fn wait_task(
        &self,
        name: &str,
        within: Duration,
        done: impl Fn(&CallTask) -> bool,
    ) -> CallTask {
        let deadline = Instant::now() + within;
        loop {
            let task = self.tasks().get_opt(name).await.expect("get CallTask");
            if let Some(task) = task {
                if done(&task) {
                    return task;
                }
                assert!(
                    Instant::now() < deadline,
                    "CallTask {name} not done within {within:?}; status: {:#?}",
                    task.status
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until `name` is Ready (InSync) for its generation with `present` contacts.
    pub async fn wait_in_sync(&self, name: &str, present: i64, within: Duration) -> CallTask {
        self.wait_task(name, within, |t| in_sync(t, present)).await
    }

    /// Successful reconciles so far, from the controller's own metric
    /// (`callsync_reconcile_duration_seconds_count{outcome="InSync"}`).
    pub async fn reconciles(&self) -> u64 {
        let text = reqwest::get(format!("http://{}/metrics", self.metrics_addr))
            .await
            .expect("scrape /metrics")
            .text()
            .await
            .expect("metrics text");
        text.lines()
            .filter(|l| {
                l.starts_with("callsync_reconcile_duration_seconds_count")
                    && l.contains("outcome=\"InSync\"")
            })
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>() as u64
    }

    /// Per-endpoint counters of the simulator.
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

    /// The phones the simulator holds for `task_id`.
    pub fn held(&self, task_id: &str) -> BTreeSet<String> {
        let (account, _) = self.kind.account();
        self.simulator
            .contacts(self.kind.provider(), account, task_id)
            .into_iter()
            .map(|c| c.phone)
            .collect()
    }
}

/// A loopback port free a moment ago (the controller binds it right after).
fn free_port() -> std::net::SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local addr")
}

/// Ready=True with reason InSync for the current generation, holding `present` contacts.
pub fn in_sync(task: &CallTask, present: i64) -> bool {
    let Some(status) = task.status.as_ref() else {
        return false;
    };
    status.observed_generation == task.metadata.generation
        && find_condition(&status.conditions, ConditionType::Ready)
            .is_some_and(|c| c.reason == "InSync")
        && status
            .contacts
            .as_ref()
            .is_some_and(|c| c.present == present && c.pending == 0)
}

async fn start_simulator(
    kind: Kind,
    task_ids: &[String],
    limit: Option<RateLimitConfig>,
) -> RunningSimulator {
    let (id, secret) = kind.account();
    let tasks = task_ids
        .iter()
        .map(|t| TaskConfig {
            id: t.clone(),
            ..Default::default()
        })
        .collect();
    let mut account = AccountConfig::new(kind.provider(), id, secret);
    account.tasks = tasks;
    account.rate_limit = limit;
    let config = SimulatorConfig {
        seed: 7,
        async_delay_ms: 100,
        accounts: vec![account],
        ..SimulatorConfig::default()
    };
    Simulator::start(config)
        .await
        .unwrap_or_else(|e| panic!("simulator must start: {e}"))
}

/// A snapshot of the simulator's counters: route → (calls, rate limited).
#[derive(Clone, Debug, Default)]
pub struct Counters(pub BTreeMap<String, (u64, u64)>);

impl Counters {
    pub fn calls(&self, route: &str) -> u64 {
        self.0.get(route).map_or(0, |c| c.0)
    }

    pub fn total(&self) -> u64 {
        self.0.values().map(|c| c.0).sum()
    }

    pub fn rate_limited(&self) -> u64 {
        self.0.values().map(|c| c.1).sum()
    }

    /// Add and remove calls of `kind`.
    pub fn writes(&self, kind: Kind) -> u64 {
        self.calls(kind.add_route()) + self.calls(kind.remove_route())
    }

    /// What happened between `earlier` and `self`.
    pub fn since(&self, earlier: &Counters) -> Counters {
        Counters(
            self.0
                .iter()
                .map(|(k, (calls, limited))| {
                    let (c0, l0) = earlier.0.get(k).copied().unwrap_or_default();
                    (k.clone(), (calls - c0, limited - l0))
                })
                .collect(),
        )
    }
}

/// Where full-size runs write their raw data (`bench-results/`, committed for the plots).
pub fn results_dir() -> std::path::PathBuf {
    let dir = support::repo_root().join("bench-results");
    std::fs::create_dir_all(&dir).expect("create bench-results/");
    dir
}

/// Writes `text` to `bench-results/<file>` and says where.
pub fn write_result(file: &str, text: &str) {
    let path = results_dir().join(file);
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    println!("wrote {}", path.display());
}

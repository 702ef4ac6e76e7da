//! The benchmark environment: a real kube-apiserver namespace, the simulator in process (real
//! HTTP, real signatures) and the controller in process, as `tests/controller_e2e.rs` runs them,
//! plus what the benchmarks read: the simulator's per-endpoint counters and contacts, and every
//! CallTask status write seen through a watch.
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use callsync::api::{CallProvider, CallTask, ConditionType, find_condition};
use callsync::simulator::{AccountConfig, ProviderKind, RateLimitConfig, TaskConfig};
use futures::StreamExt;
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::wait::await_condition;
use kube::runtime::watcher;
use serde_json::{Value, json};

use crate::support;
use crate::support::provider::ProviderFixture;

/// Most contacts in one ContactList (the schema allows about 5,000).
pub const LIST_SIZE: usize = 5000;

/// `ceil(adds / maxAdd) + ceil(removes / maxRemove)`.
pub fn write_bound(kind: ProviderKind, adds: u64, removes: u64) -> u64 {
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

/// A namespace, a simulator and a controller.
pub struct Bench {
    pub kind: ProviderKind,
    pub base: support::env::Env,
    pub status: StatusLog,
    /// Where the controller serves `/metrics`.
    pub metrics_addr: std::net::SocketAddr,
}

impl std::ops::Deref for Bench {
    type Target = support::env::Env;
    fn deref(&self) -> &Self::Target {
        &self.base
    }
}

impl std::ops::DerefMut for Bench {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.base
    }
}

impl Bench {
    /// Starts everything for `kind` with simulator tasks `task_ids`; `sim_limit` is the
    /// simulator's own limit of the account (it refuses what goes over it and counts it).
    pub async fn start(
        kind: ProviderKind,
        prefix: &str,
        task_ids: &[String],
        sim_limit: Option<RateLimitConfig>,
    ) -> Bench {
        let mut account = AccountConfig::new(kind, kind.account(), kind.secret());
        account.tasks = task_ids.iter().map(TaskConfig::new).collect();
        account.rate_limit = sim_limit;
        let base = support::env::Env::builder(prefix)
            .account(account)
            .start()
            .await;
        let status = StatusLog::start(base.tasks());
        let mut bench = Bench {
            kind,
            base,
            status,
            metrics_addr: free_port(),
        };
        bench.start_controller();
        bench
    }

    /// The controller in process, its metrics on [`Self::metrics_addr`] (the benchmarks read
    /// them).
    fn start_controller(&mut self) {
        let mut config = self.run_config("bench");
        config.metrics_addr = self.metrics_addr;
        self.base.start_controller(config);
    }

    /// Waits until the controller's caches hold their first listing (`/readyz`). Objects made
    /// before then reach the controller as its initial listing, which wakes every CallTask that
    /// exists by then; a benchmark that creates its CallTasks after this measures steady state,
    /// not a start-up race.
    ///
    /// It also waits for the CallProvider `acct` (if one was made) to carry its first account
    /// check: that check is a provider read of its own (Callbot's `ping`, longlonglong's
    /// `token`), and on a slow machine it could otherwise land after a benchmark's counters
    /// were read and count as one of the sync's reads.
    pub async fn wait_ready(&self) {
        let addr = self.metrics_addr.to_string();
        assert!(
            support::process::wait_ready(&addr, Duration::from_secs(60)).await,
            "controller not ready in 60 s"
        );
        let providers: Api<CallProvider> = Api::namespaced(self.client.clone(), &self.ns);
        if providers
            .get_opt("acct")
            .await
            .expect("get CallProvider")
            .is_none()
        {
            return;
        }
        tokio::time::timeout(
            Duration::from_secs(60),
            await_condition(providers, "acct", |p: Option<&CallProvider>| {
                p.and_then(|p| p.status.as_ref())
                    .is_some_and(|s| s.last_checked.is_some())
            }),
        )
        .await
        .expect("the CallProvider's account checked within 60 s")
        .expect("watch CallProvider");
        // A second check may follow at once (its Secret's watch event can arrive after the
        // CallProvider's): wait until the simulator has been quiet for half a second.
        let quiet_by = Instant::now() + Duration::from_secs(10);
        let mut seen = self.counters();
        while Instant::now() < quiet_by {
            tokio::time::sleep(Duration::from_millis(500)).await;
            let now = self.counters();
            if now.total() == seen.total() {
                break;
            }
            seen = now;
        }
    }

    /// Asks the controller to stop; a reconcile still running (after InSync a follow-up
    /// reconcile may be listing 100,000 contacts at 10 requests/s) is aborted after 10 s: the
    /// figures are taken, and graceful shutdown is tested elsewhere.
    pub async fn stop_controller(&mut self) {
        self.base
            .stop_or_abort_controller(Duration::from_secs(10))
            .await;
    }

    /// The Secret and the CallProvider `acct` with this rate limit.
    pub async fn provider(&self, requests_per_second: u32, burst: u32) {
        let rate = json!({"rateLimit": {"requestsPerSecond": requests_per_second, "burst": burst}});
        self.base.provider(self.kind, "acct", "creds", rate).await;
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
        self.metric_sum(|l| {
            l.starts_with("callsync_reconcile_duration_seconds_count")
                && l.contains("outcome=\"InSync\"")
        })
        .await
    }

    /// Full listings of the provider's task so far (`callsync_listings_total`).
    pub async fn listings(&self) -> u64 {
        self.metric_sum(|l| l.starts_with("callsync_listings_total"))
            .await
    }

    async fn metric_sum(&self, line: impl Fn(&str) -> bool) -> u64 {
        let text = reqwest::get(format!("http://{}/metrics", self.metrics_addr))
            .await
            .expect("scrape /metrics")
            .text()
            .await
            .expect("metrics text");
        text.lines()
            .filter(|l| line(l))
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
        let account = self.kind.account();
        self.simulator
            .contacts(self.kind, account, task_id)
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
    pub fn writes(&self, kind: ProviderKind) -> u64 {
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

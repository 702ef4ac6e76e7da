//! Scale: one CallTask fed by many ContactLists of 5,000 inline contacts, synced to Callbot (the
//! largest add batch, 500) by `callsync controller` as a separate process against the real
//! kube-apiserver and the simulator. Checks exact convergence, then a no-op resync: no write
//! call, no ledger save, no desired-set parse, no listing; then a one-list edit (half a list
//! replaced, at 10 requests/s): that list alone parsed again, write calls = the lower bound,
//! reads ≤ 2 × writes + 1, no listing; then a requested sync: a full listing that changes nothing. Prints the figures
//! BENCHMARKS.md records.
//!
//! - `small_scale_converges_and_a_resync_writes_nothing` (normal suite): 20,000 contacts in 10
//!   lists of 2,000; also bounds the ledger saves of the first sync (counts, not times).
//! - `scale_benchmark` (ignored): `SCALE_CONTACTS` contacts (default 1,000,000) in lists of 5,000:
//!   `cargo test --release --test scale -- --ignored --nocapture`
mod support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};
use support::sim;

use callsync::api::{CallTask, ConditionType, find_condition};
use callsync::controller::ledger_store::INLINE_SNAPSHOT_MAX;
use callsync::simulator::ProviderKind;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::runtime::wait::await_condition;
use serde_json::{Value, json};
use support::measure::{cpu_seconds, etcd_wal_bytes, metric_sum, national, phase_peak_mib};
use support::process::ControllerProcess;

const TASK: &str = "task-1";
/// Contacts a ContactList of the benchmark holds (the CRD's maximum).
const PER_LIST: usize = 5_000;
/// Callbot's documented add batch.
const BATCH: usize = 500;

struct Env {
    base: support::env::Env,
    metrics_port: u16,
}

impl std::ops::Deref for Env {
    type Target = support::env::Env;
    fn deref(&self) -> &Self::Target {
        &self.base
    }
}

impl std::ops::DerefMut for Env {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.base
    }
}

impl Env {
    async fn start(prefix: &str) -> Env {
        let base = support::env::Env::builder(prefix)
            .provider(ProviderKind::Callbot, &[TASK])
            .start()
            .await;
        let metrics_port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        Env { base, metrics_port }
    }

    fn controller(&self) -> ControllerProcess {
        let listen = format!("127.0.0.1:{}", self.metrics_port);
        let log = self.log_path("controller");
        ControllerProcess::spawn(
            support::BIN,
            &self.cp.kubeconfig,
            log,
            &[
                "--watch-namespaces",
                &self.ns,
                "--listen-addr",
                &listen,
                "--progress-seconds",
                "5",
            ],
            &[("RUST_LOG", "info")],
        )
    }

    async fn setup(&self, lists: usize, per_list: usize) {
        // A limit far above what the controller reaches: this measures the controller.
        self.provider(
            ProviderKind::Callbot,
            "acct",
            "creds",
            json!({"rateLimit": {"requestsPerSecond": 5000, "burst": 5000}}),
        )
        .await;
        for l in 0..lists {
            self.apply(list_object(l, per_list, 0)).await;
        }
    }

    async fn create_task(&self) {
        self.apply(
            json!({"apiVersion": "callsync.io/v1alpha1", "kind": "CallTask",
            "metadata": {"name": "campaign"},
            "spec": {"providerRef": {"name": "acct"}, "taskId": TASK,
                     "contactLists": {"selector": {"matchLabels": {"campaign": "scale"}}},
                     "resyncInterval": "1h"}}),
        )
        .await;
    }

    async fn wait_in_sync(&self, within: Duration, process: &ControllerProcess) -> CallTask {
        self.wait_in_sync_from(within, process, None).await
    }

    /// Waits for InSync with a desired set other than `old_digest`'s (a ContactList edit leaves
    /// the CallTask's generation as it was).
    async fn wait_in_sync_from(
        &self,
        within: Duration,
        process: &ControllerProcess,
        old_digest: Option<String>,
    ) -> CallTask {
        let cond = move |task: Option<&CallTask>| {
            task.is_some_and(|t| {
                let status = t.status.as_ref();
                (old_digest.is_none()
                    || status.and_then(|s| s.desired_digest.clone()) != old_digest)
                    && status.and_then(|s| s.observed_generation) == t.metadata.generation
                    && status
                        .and_then(|s| find_condition(&s.conditions, ConditionType::Ready))
                        .is_some_and(|c| c.reason == "InSync")
            })
        };
        match tokio::time::timeout(within, await_condition(self.tasks(), "campaign", cond)).await {
            Ok(Ok(Some(task))) => task,
            other => panic!(
                "CallTask not InSync within {within:?} ({:?}); log tail:\n{}",
                other.map(|r| r.map(|_| ())),
                process.log_tail(30)
            ),
        }
    }

    /// Sum of one metric family (all label sets) at the controller's /metrics.
    async fn metric(&self, name: &str) -> f64 {
        let text = reqwest::get(format!("http://127.0.0.1:{}/metrics", self.metrics_port))
            .await
            .expect("metrics request")
            .text()
            .await
            .expect("metrics body");
        metric_sum(&text, name)
    }

    /// The ledger Secrets: (count, bytes of ledger data).
    async fn ledger_secrets(&self) -> (usize, usize) {
        let secrets = Api::<Secret>::namespaced(self.client.clone(), &self.ns)
            .list(&ListParams::default().labels("callsync.io/ledger-of"))
            .await
            .expect("list ledger Secrets");
        let bytes = secrets
            .items
            .iter()
            .filter_map(|s| s.data.as_ref()?.get("ledger").map(|b| b.0.len()))
            .sum();
        (secrets.items.len(), bytes)
    }

    /// Whether the ledger's snapshot is detached from its head Secret (saves are journals),
    /// with or without sealed journals.
    async fn ledger_detached(&self) -> bool {
        let head = Api::<Secret>::namespaced(self.client.clone(), &self.ns)
            .get("campaign-ledger")
            .await
            .expect("ledger head");
        matches!(
            head.metadata
                .annotations
                .and_then(|a| a.get("callsync.io/ledger-layout").cloned())
                .as_deref(),
            Some("detached" | "detached-sealed")
        )
    }

    /// Write calls (adds and removals) the simulator answered.
    async fn write_calls(&self) -> u64 {
        self.admin.calls("addBatchCall").await + self.admin.calls("stopOrder").await
    }

    /// Every call the simulator answered, reads and writes.
    async fn all_calls(&self) -> u64 {
        self.admin.counter_sum("calls").await
    }

    /// Sets the CallProvider's rate limit and waits for the reconcile the change wakes.
    async fn rate_limit(&self, per_second: u32, burst: u32) {
        let reconciles = self.reconciles().await;
        self.provider(
            ProviderKind::Callbot,
            "acct",
            "creds",
            json!({"rateLimit": {"requestsPerSecond": per_second, "burst": burst}}),
        )
        .await;
        self.wait_reconciles_past(reconciles).await;
    }

    async fn reconciles(&self) -> f64 {
        self.metric("callsync_reconcile_duration_seconds_count")
            .await
    }

    async fn wait_reconciles_past(&self, count: f64) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.reconciles().await <= count {
            assert!(Instant::now() < deadline, "no reconcile within 60 s");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Asks for a sync (`callsync.io/requestedAt`: a full listing) and waits for its echo.
    async fn request_sync(&self, value: &str, within: Duration) {
        self.tasks()
            .patch(
                "campaign",
                &PatchParams::apply("scale-test-request").force(),
                &Patch::Apply(json!({"apiVersion": "callsync.io/v1alpha1", "kind": "CallTask",
                    "metadata": {"name": "campaign", "annotations": {"callsync.io/requestedAt": value}}})),
            )
            .await
            .expect("request a sync");
        let handled = |task: Option<&CallTask>| {
            task.and_then(|t| t.status.as_ref()?.last_handled_sync_request.as_deref())
                == Some(value)
        };
        tokio::time::timeout(within, await_condition(self.tasks(), "campaign", handled))
            .await
            .expect("the requested sync finishes in time")
            .expect("watch");
    }
}

/// Figures of one run.
struct Figures {
    contacts: usize,
    lists: usize,
    to_ready: Duration,
    sync_cpu: f64,
    /// Peak RSS of each phase: the first sync, the no-op resyncs, the edit, the full listing.
    peak_sync_mib: f64,
    write_calls: u64,
    list_calls: u64,
    ledger_saves: f64,
    /// Of the first sync's saves, journals (live and sealed) and seals.
    ledger_journal_saves: f64,
    ledger_seals: f64,
    /// Compressed bytes the first sync wrote to the ledger Secrets.
    ledger_written_bytes: f64,
    desired_builds: f64,
    ledger_secrets: usize,
    ledger_bytes: usize,
    etcd_wal_mib: Option<f64>,
    noop_cpu: Vec<f64>,
    noop_list_calls: u64,
    peak_resyncs_mib: f64,
    peak_edit_mib: f64,
    edit: Edit,
    /// A requested sync (a full listing, nothing to change): controller CPU and `listOrder`
    /// calls.
    listing_cpu: f64,
    listing_calls: u64,
    peak_listing_mib: f64,
}

/// A one-list edit: half of one ContactList replaced, at 10 requests/s.
struct Edit {
    out: usize,
    write_calls: u64,
    /// The lower bound: `ceil(adds / 500) + ceil(removes / 500)`.
    write_bound: u64,
    reads: u64,
    wall: Duration,
    cpu: f64,
    /// Ledger saves of the edit, of them journals, and the bytes they wrote.
    saves: f64,
    journal_saves: f64,
    written_bytes: f64,
}

impl Figures {
    /// One line per figure, as BENCHMARKS.md records them.
    fn report(&self) -> String {
        let noop: Vec<String> = self.noop_cpu.iter().map(|c| format!("{c:.2}")).collect();
        [
            format!("contacts {} in {} ContactLists", self.contacts, self.lists),
            format!("time to Ready {:.1} s", self.to_ready.as_secs_f64()),
            format!(
                "controller CPU for the sync (user+system) {:.2} s",
                self.sync_cpu
            ),
            format!(
                "controller peak RSS (VmHWM) during the first sync {:.0} MiB",
                self.peak_sync_mib
            ),
            format!(
                "provider write calls {}, listOrder calls {}",
                self.write_calls, self.list_calls
            ),
            format!(
                "ledger saves {} ({} journals, {} of them seals; {:.1} MiB written), desired-set builds {}",
                self.ledger_saves,
                self.ledger_journal_saves,
                self.ledger_seals,
                self.ledger_written_bytes / 1048576.0,
                self.desired_builds
            ),
            format!(
                "ledger Secrets {}, ledger bytes {}",
                self.ledger_secrets, self.ledger_bytes
            ),
            format!(
                "etcd WAL written during the sync {:.1} MiB",
                self.etcd_wal_mib.unwrap_or(f64::NAN)
            ),
            format!("no-op resync CPU (user+system) [{}] s", noop.join(", ")),
            format!("listOrder calls per no-op resync {}", self.noop_list_calls),
            format!(
                "controller peak RSS during the no-op resyncs {:.0} MiB",
                self.peak_resyncs_mib
            ),
            format!(
                "one-list edit ({} out, {} in) at 10 requests/s: write calls {} (lower bound {}), reads {}, wall {:.2} s (write bound {:.1} s), controller CPU {:.2} s",
                self.edit.out,
                self.edit.out,
                self.edit.write_calls,
                self.edit.write_bound,
                self.edit.reads,
                self.edit.wall.as_secs_f64(),
                self.edit.write_bound as f64 / 10.0,
                self.edit.cpu
            ),
            format!(
                "one-list edit: ledger saves {} ({} journals), {:.0} bytes written to the ledger",
                self.edit.saves, self.edit.journal_saves, self.edit.written_bytes
            ),
            format!(
                "requested full listing: controller CPU {:.2} s ({:.2} µs a contact), listOrder calls {}",
                self.listing_cpu,
                self.listing_cpu * 1e6 / self.contacts as f64,
                self.listing_calls
            ),
            format!(
                "controller peak RSS during the edit {:.0} MiB, during the full listing {:.0} MiB; the run's {:.0} MiB",
                self.peak_edit_mib,
                self.peak_listing_mib,
                [
                    self.peak_sync_mib,
                    self.peak_resyncs_mib,
                    self.peak_edit_mib,
                    self.peak_listing_mib
                ]
                .into_iter()
                .fold(0.0, f64::max)
            ),
        ]
        .join("\n")
    }
}

/// ContactList `l` of the scenario: `per_list` contacts from index `first` (an edit shifts the
/// window: the first ones out, as many new ones in).
fn list_object(l: usize, per_list: usize, first: usize) -> Value {
    let contacts: Vec<Value> = (first..first + per_list)
        .map(|i| json!({"phone": national(l, i), "name": format!("客户{i:04}")}))
        .collect();
    json!({"apiVersion": "callsync.io/v1alpha1", "kind": "ContactList",
    "metadata": {"name": format!("list-{l:03}"), "labels": {"campaign": "scale"}},
    "spec": {"defaultRegion": "CN", "contacts": contacts}})
}

/// Runs the whole scenario and asserts what must hold at any size.
async fn run(prefix: &str, lists: usize, per_list: usize, noop_resyncs: usize) -> Figures {
    let contacts = lists * per_list;
    let env = Env::start(prefix).await;
    let setup = Instant::now();
    env.setup(lists, per_list).await;
    eprintln!(
        "scale: {lists} ContactLists applied in {:.1}s",
        setup.elapsed().as_secs_f64()
    );

    let process = env.controller();
    let pid = process.pid().expect("controller pid");
    // Ready to serve before the task exists, so the CPU figure is the sync's.
    let addr = format!("127.0.0.1:{}", env.metrics_port);
    assert!(
        support::process::wait_ready(&addr, Duration::from_secs(60)).await,
        "controller never became ready:\n{}",
        process.log_text()
    );
    let wal_before = etcd_wal_bytes().await;
    let cpu_before = cpu_seconds(pid);
    let started = Instant::now();
    env.create_task().await;
    let within = Duration::from_secs(120 + (contacts / 200) as u64);
    let task = env.wait_in_sync(within, &process).await;
    let to_ready = started.elapsed();
    let sync_cpu = cpu_seconds(pid) - cpu_before;
    let peak_sync_mib = phase_peak_mib(pid);
    let wal_after = etcd_wal_bytes().await;

    // Exactly the desired set, once each.
    let held = env
        .simulator
        .contacts(ProviderKind::Callbot, sim::CB_UUID, TASK);
    assert_eq!(held.len(), contacts, "no duplicate and no missing contact");
    let held_phones: BTreeSet<&str> = held.iter().map(|c| c.phone.as_str()).collect();
    assert_eq!(held_phones.len(), contacts, "no phone twice");
    let expected: BTreeSet<String> = (0..lists)
        .flat_map(|l| (0..per_list).map(move |i| format!("86{}", national(l, i))))
        .collect();
    assert!(
        held_phones.iter().all(|p| expected.contains(*p)),
        "the provider holds exactly the desired set"
    );
    let counts = task
        .status
        .as_ref()
        .and_then(|s| s.contacts.clone())
        .expect("counts");
    assert_eq!(
        (
            counts.desired,
            counts.present,
            counts.pending,
            counts.failed
        ),
        (contacts as i64, contacts as i64, 0, 0),
        "{counts:?}"
    );

    let write_calls = env.write_calls().await;
    let adds = env.admin.calls("addBatchCall").await;
    assert_eq!(
        adds,
        contacts.div_ceil(BATCH) as u64,
        "one add call per batch of {BATCH}"
    );
    let list_calls = env.admin.calls("listOrder").await;
    let (ledger_saves, ledger_journal_saves, ledger_written_bytes) = ledger_save_counts(&env).await;
    let ledger_seals = env.metric("callsync_ledger_seals_total").await;
    let desired_builds = env.metric("callsync_desired_builds_total").await;
    let (ledger_secrets, ledger_bytes) = env.ledger_secrets().await;

    // No-op resyncs: touch an annotation (a watch event, same generation), wait for the
    // reconcile to be counted, and check nothing was written.
    let mut noop_cpu = Vec::new();
    let list_before = env.admin.calls("listOrder").await;
    let listings_before = env.metric("callsync_listings_total").await;
    let status_before = task.status.clone();
    for round in 0..noop_resyncs {
        let reconciles = env
            .metric("callsync_reconcile_duration_seconds_count")
            .await;
        let cpu = cpu_seconds(pid);
        env.tasks()
            .patch(
                "campaign",
                &PatchParams::apply("scale-test-touch").force(),
                &Patch::Apply(json!({"apiVersion": "callsync.io/v1alpha1", "kind": "CallTask",
                    "metadata": {"name": "campaign", "annotations": {"scale.test/touch": round.to_string()}}})),
            )
            .await
            .expect("touch CallTask");
        let deadline = Instant::now() + within;
        while env
            .metric("callsync_reconcile_duration_seconds_count")
            .await
            <= reconciles
        {
            assert!(Instant::now() < deadline, "no reconcile after the touch");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        noop_cpu.push(cpu_seconds(pid) - cpu);
    }
    if noop_resyncs > 0 {
        assert_eq!(
            env.write_calls().await,
            write_calls,
            "a no-op resync makes no write call"
        );
        assert_eq!(
            env.metric("callsync_ledger_saves_total").await,
            ledger_saves,
            "a no-op resync saves no ledger"
        );
        assert_eq!(
            env.metric("callsync_desired_builds_total").await,
            desired_builds,
            "a no-op resync reuses the desired set"
        );
        let after = env.tasks().get("campaign").await.expect("task");
        assert_eq!(
            after.status, status_before,
            "a no-op resync writes no status"
        );
    }
    let noop_list_calls =
        (env.admin.calls("listOrder").await - list_before) / noop_resyncs.max(1) as u64;
    let peak_resyncs_mib = phase_peak_mib(pid);
    assert_eq!(
        env.metric("callsync_listings_total").await,
        listings_before,
        "a no-op resync plans against the ledger"
    );
    // What a no-op resync reads of `listOrder` is the count check: one page of one order.
    assert!(
        noop_list_calls <= 1,
        "{noop_list_calls} listOrder calls per no-op resync"
    );

    // A one-list edit at 10 requests/s (burst 1): half of list-000 out, as many new ones in.
    // It costs its write calls and no listing (the ledger is the record between listings).
    env.rate_limit(10, 1).await;
    // Each list was parsed once for the first sync, however many reconciles it took.
    let parses = env.metric("callsync_desired_list_parses_total").await;
    assert_eq!(parses, lists as f64, "each list parsed once");
    let out = per_list / 2;
    let (calls_before, writes_before) = (env.all_calls().await, env.write_calls().await);
    let saves_before = ledger_save_counts(&env).await;
    let detached = env.ledger_detached().await;
    let cpu = cpu_seconds(pid);
    let started = Instant::now();
    env.apply(list_object(0, per_list, out)).await;
    let old_digest = task.status.as_ref().and_then(|s| s.desired_digest.clone());
    let edited = env.wait_in_sync_from(within, &process, old_digest).await;
    let edit_wall = started.elapsed();
    let edit_cpu = cpu_seconds(pid) - cpu;
    let peak_edit_mib = phase_peak_mib(pid);
    let edit_writes = env.write_calls().await - writes_before;
    let saves_after = ledger_save_counts(&env).await;
    assert_eq!(
        env.metric("callsync_desired_list_parses_total").await,
        parses + 1.0,
        "only the edited list is parsed again"
    );
    let edit = Edit {
        out,
        write_calls: edit_writes,
        write_bound: (out.div_ceil(BATCH) * 2) as u64,
        reads: env.all_calls().await - calls_before - edit_writes,
        wall: edit_wall,
        cpu: edit_cpu,
        saves: saves_after.0 - saves_before.0,
        journal_saves: saves_after.1 - saves_before.1,
        written_bytes: saves_after.2 - saves_before.2,
    };
    // Past one inline snapshot the edit's saves are journals of what it changed, never a
    // rewrite of the whole ledger; below, each rewrites the small inline snapshot.
    // The edit changes fewer than 10,000 phones: its intents are saved before every batch,
    // so a kill leaves at most one batch in doubt.
    assert!(
        edit.saves > edit.write_calls as f64,
        "{} saves for {} batches: one before every batch and one after the last",
        edit.saves,
        edit.write_calls
    );
    if detached {
        assert_eq!(
            edit.journal_saves, edit.saves,
            "every save of the edit is a journal"
        );
    } else {
        assert_eq!(
            edit.journal_saves, 0.0,
            "no journal beside an inline snapshot"
        );
        assert!(edit.written_bytes <= edit.saves * INLINE_SNAPSHOT_MAX as f64);
    }
    let held: BTreeSet<String> = env
        .simulator
        .contacts(ProviderKind::Callbot, sim::CB_UUID, TASK)
        .into_iter()
        .map(|c| c.phone)
        .collect();
    let wanted: BTreeSet<String> = (0..lists)
        .flat_map(|l| {
            let first = if l == 0 { out } else { 0 };
            (first..per_list + first).map(move |i| format!("86{}", national(l, i)))
        })
        .collect();
    assert!(
        held == wanted,
        "the edit converged to exactly the new desired set"
    );
    assert_eq!(
        edited.status.as_ref().and_then(|s| s.last_listing),
        after_sync_listing(&task),
        "the edit listed nothing"
    );
    assert_eq!(
        edit.write_calls, edit.write_bound,
        "write calls = lower bound"
    );
    assert!(
        edit.reads <= 2 * edit.write_calls + 1,
        "reads {} > 2 × writes + 1",
        edit.reads
    );

    // A requested sync lists the whole task (drift detection) and changes nothing.
    env.rate_limit(5000, 5000).await;
    let (list_before, writes_before) =
        (env.admin.calls("listOrder").await, env.write_calls().await);
    let cpu = cpu_seconds(pid);
    env.request_sync("2026-12-02T00:00:00Z", within).await;
    let listing_cpu = cpu_seconds(pid) - cpu;
    let peak_listing_mib = phase_peak_mib(pid);
    let listing_calls = env.admin.calls("listOrder").await - list_before;
    assert!(
        listing_calls >= contacts.div_ceil(100) as u64,
        "a full listing"
    );
    assert_eq!(env.write_calls().await, writes_before, "nothing to change");
    let listed = env.tasks().get("campaign").await.expect("task");
    assert!(
        listed.status.as_ref().and_then(|s| s.last_listing) > after_sync_listing(&task),
        "status.lastListing moved"
    );
    Figures {
        contacts,
        lists,
        to_ready,
        sync_cpu,
        peak_sync_mib,
        write_calls,
        list_calls,
        ledger_saves,
        ledger_journal_saves,
        ledger_seals,
        ledger_written_bytes,
        desired_builds,
        ledger_secrets,
        ledger_bytes,
        etcd_wal_mib: wal_before.zip(wal_after).map(|(b, a)| (a - b) / 1048576.0),
        noop_cpu,
        noop_list_calls,
        peak_resyncs_mib,
        peak_edit_mib,
        edit,
        listing_cpu,
        listing_calls,
        peak_listing_mib,
    }
}

/// Ledger saves, journal saves and bytes written to the ledger Secrets so far.
async fn ledger_save_counts(env: &Env) -> (f64, f64, f64) {
    (
        env.metric("callsync_ledger_saves_total").await,
        env.metric("callsync_ledger_journal_saves_total").await,
        env.metric("callsync_ledger_written_bytes_total").await,
    )
}

/// `status.lastListing` of the task as the first sync left it (it listed: the ledger was new).
fn after_sync_listing(task: &CallTask) -> Option<chrono::DateTime<chrono::Utc>> {
    let at = task.status.as_ref().and_then(|s| s.last_listing);
    assert!(at.is_some(), "the first sync listed the task");
    at
}

#[tokio::test]
async fn small_scale_converges_and_a_resync_writes_nothing() {
    let (lists, per_list) = (10, 2_000);
    let contacts = lists * per_list;
    let figures = run("scale-small", lists, per_list, 2).await;
    eprintln!("scale small:\n{}", figures.report());
    // The controller saves before every batch (a journal once the snapshot is detached, a
    // small inline snapshot before): one save per batch plus the last outcomes; a reconcile
    // that settles in-flight entries may add a few. Saves before every batch also past 10,000
    // changes: the journal is sealed at 4,000 phones (the ledger detaches at 14,000 entries,
    // so the last 6,000 adds journal and seal once).
    let batches = contacts.div_ceil(BATCH);
    assert!(
        figures.ledger_saves >= batches as f64 && figures.ledger_saves <= (batches + 3) as f64,
        "{} ledger saves, {batches} batches",
        figures.ledger_saves
    );
    assert!(
        figures.ledger_seals >= 1.0,
        "{} seals in {} journal saves",
        figures.ledger_seals,
        figures.ledger_journal_saves
    );
    assert!(figures.desired_builds >= 1.0);
}

#[tokio::test]
#[ignore = "the 1M-contact benchmark: `cargo test --release --test scale -- --ignored --nocapture`"]
async fn scale_benchmark() {
    let contacts: usize = std::env::var("SCALE_CONTACTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let resyncs: usize = std::env::var("SCALE_RESYNCS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    assert_eq!(
        contacts % PER_LIST,
        0,
        "contacts come in lists of {PER_LIST}"
    );
    let figures = run("scale", contacts / PER_LIST, PER_LIST, resyncs).await;
    eprintln!("scale benchmark:\n{}", figures.report());
}

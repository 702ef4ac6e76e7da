//! Convergence under a rate limit.
//!
//! - One CallTask, `n` contacts, longlonglong (async adds of 200, each confirmed by a read) at
//!   `rate` requests/s: time from
//!   creating the CallTask to InSync against the bound `calls / rate`, and pending contacts over
//!   time from every status write a watch sees (progress every 0.5 s).
//! - `tasks` CallTasks × `per_task` contacts on one Callbot account: all converge exactly, and
//!   the account's limit is never exceeded — checked twice: the simulator enforces the same
//!   limit on the account (with 2 requests' burst slack for network jitter) and refuses
//!   nothing, and the write requests' timestamps from its audit log pass the token-bucket
//!   sliding-window bound.
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use callsync::simulator::{ProviderKind, RateLimitConfig};
use futures::StreamExt;

use super::env::{Bench, in_sync, phones, write_bound};
use crate::support::provider::ProviderFixture;
use crate::support::sim;

/// Slack of the simulator's bucket and the window check: a request the client's bucket let go
/// at t reaches the simulator a little later, so two may arrive closer than they left.
const JITTER_SLACK: u32 = 2;

#[derive(Clone, Debug)]
pub struct ConvergenceRun {
    pub contacts: usize,
    pub rate: u32,
    pub burst: u32,
    pub calls: u64,
    pub writes: u64,
    pub write_bound: u64,
    pub seconds: f64,
    pub bound_seconds: f64,
    pub rate_limited: u64,
    /// (seconds since the CallTask was created, pending adds, present).
    pub pending: Vec<(f64, i64, i64)>,
}

impl ConvergenceRun {
    pub fn over_bound_percent(&self) -> f64 {
        (self.seconds / self.bound_seconds - 1.0) * 100.0
    }
}

/// One CallTask with `n` contacts on longlonglong at `rate` requests/s.
pub async fn single(n: usize, rate: u32, burst: u32, within: Duration) -> ConvergenceRun {
    let kind = ProviderKind::Longlonglong;
    let limit = RateLimitConfig {
        requests_per_second: f64::from(rate),
        burst: burst + JITTER_SLACK,
    };
    let mut bench = Bench::start(kind, "bench-rate", &["task-1".to_string()], Some(limit)).await;
    bench.provider(rate, burst).await;
    let all = phones(0, n);
    bench.lists("rate", &all).await;
    bench.wait_ready().await;

    let before = bench.counters();
    let t0 = bench.status.started.elapsed();
    let started = Instant::now();
    bench.task("campaign", "task-1", "rate", "1h").await;
    bench.wait_in_sync("campaign", n as i64, within).await;
    let seconds = started.elapsed().as_secs_f64();
    // Time for a reconcile the sync's own status writes would wake, had they woken one.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let used = bench.counters().since(&before);
    let held = bench.held("task-1");
    assert_eq!(held.len(), n, "every contact arrived");
    assert_eq!(used.rate_limited(), 0, "the simulator refused nothing");
    let writes = used.writes(kind);
    let bound = write_bound(kind, n as u64, 0);
    assert_eq!(writes, bound, "add calls equal the lower bound");
    // Besides the writes: one listing of the empty task (neither a lagging ContactList cache
    // nor the sync's own status writes make the controller list the task again), and the reads
    // that confirm each add: `identification` polls until the batch is done, and a few listing
    // pages (page 1, then the last pages, where the new numbers are).
    let listing = used.calls("GET /agent-api/user/{user_id}/task/{task_id}/number");
    let polls = used.calls("GET /agent-api/user/{user_id}/identification/{unique_id}");
    assert_eq!(
        used.total() - writes,
        listing + polls,
        "only reads besides the writes"
    );
    assert!(
        listing <= 1 + 3 * writes,
        "one listing, and at most 3 pages per add to confirm it: {listing} listing pages for {writes} adds"
    );
    assert!(polls >= writes, "every batch's result is polled");

    let t0_ms = t0.as_millis() as u64;
    let samples: Vec<_> = bench
        .status
        .samples()
        .into_iter()
        .filter(|s| s.name == "campaign" && s.at_ms >= t0_ms)
        .collect();
    let ready_while_pending = samples.iter().filter(|s| s.ready && s.pending_add > 0);
    assert_eq!(
        ready_while_pending.count(),
        0,
        "a progress status never says Ready=True while adds are pending"
    );
    let pending = samples
        .into_iter()
        .map(|s| ((s.at_ms - t0_ms) as f64 / 1000.0, s.pending_add, s.present))
        .collect();
    bench.stop_controller().await;
    ConvergenceRun {
        contacts: n,
        rate,
        burst,
        calls: used.total(),
        writes,
        write_bound: bound,
        seconds,
        bound_seconds: used.total() as f64 / f64::from(rate),
        rate_limited: used.rate_limited(),
        pending,
    }
}

#[derive(Clone, Debug)]
pub struct ManyRun {
    pub tasks: usize,
    pub per_task: usize,
    pub rate: u32,
    pub burst: u32,
    pub calls: u64,
    pub writes: u64,
    pub write_bound: u64,
    pub rate_limited: u64,
    pub write_requests: usize,
    /// Most write requests seen in any 1 s window.
    pub busiest_second: usize,
    pub seconds: f64,
    pub bound_seconds: f64,
}

/// `tasks` CallTasks × `per_task` contacts (one shared ContactList) on one Callbot account.
pub async fn many(
    tasks: usize,
    per_task: usize,
    rate: u32,
    burst: u32,
    within: Duration,
) -> ManyRun {
    let kind = ProviderKind::Callbot;
    let ids: Vec<String> = (0..tasks).map(|i| format!("task-{i}")).collect();
    let limit = RateLimitConfig {
        requests_per_second: f64::from(rate),
        burst: burst + JITTER_SLACK,
    };
    let mut bench = Bench::start(kind, "bench-many", &ids, Some(limit)).await;
    bench.provider(rate, burst).await;
    let contacts = phones(0, per_task);
    bench.lists("shared", &contacts).await;
    bench.wait_ready().await;

    let before = bench.counters();
    let started = Instant::now();
    // Applied a few at a time: the apiserver, not the benchmark, would be measured otherwise.
    futures::stream::iter(ids.iter().enumerate())
        .for_each_concurrent(8, |(i, id)| {
            let bench = &bench;
            async move {
                bench
                    .task(&format!("campaign-{i}"), id, "shared", "1h")
                    .await;
            }
        })
        .await;
    let deadline = Instant::now() + within;
    loop {
        let list = bench
            .tasks()
            .list(&Default::default())
            .await
            .expect("list CallTasks");
        let done = list
            .items
            .iter()
            .filter(|t| in_sync(t, per_task as i64))
            .count();
        if done == tasks {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{done} of {tasks} CallTasks InSync within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let seconds = started.elapsed().as_secs_f64();
    // Time for a reconcile the sync's own status writes would wake, had they woken one.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let used = bench.counters().since(&before);
    let want: BTreeSet<String> = contacts.iter().map(|p| kind.wire(p)).collect();
    for id in &ids {
        assert_eq!(bench.held(id), want, "{id} holds exactly the list");
    }
    assert_eq!(used.rate_limited(), 0, "the simulator refused nothing");
    let writes = used.writes(kind);
    let bound = tasks as u64 * write_bound(kind, per_task as u64, 0);
    assert_eq!(writes, bound, "add calls equal the lower bound");
    assert_eq!(
        used.total() - writes,
        tasks as u64,
        "one listing per task (each of an empty task): no reconcile woken by status writes; {used:?}"
    );

    let times = write_request_times(&bench);
    assert_eq!(
        times.len() as u64,
        writes,
        "one audit timestamp per request"
    );
    sim::assert_rate_bound(
        &times,
        f64::from(rate),
        f64::from(burst),
        f64::from(JITTER_SLACK),
    );
    let busiest_second = busiest_window(&times, 1000);
    bench.stop_controller().await;
    ManyRun {
        tasks,
        per_task,
        rate,
        burst,
        calls: used.total(),
        writes,
        write_bound: bound,
        rate_limited: used.rate_limited(),
        write_requests: times.len(),
        busiest_second,
        seconds,
        bound_seconds: used.total() as f64 / f64::from(rate),
    }
}

/// One timestamp per add request, from the simulator's audit log: a task's adds are
/// sequential and every batch but the last is full, so request i of a task is its applied add
/// rows `[i × maxAdd, (i + 1) × maxAdd)` in log order; its time is the first row's.
fn write_request_times(bench: &Bench) -> Vec<i64> {
    use callsync::simulator::audit::{AuditOp, AuditOutcome};
    let state = bench.simulator.state().lock();
    let mut by_task: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
    for entry in state.audit.entries_since(0) {
        if entry.operation == AuditOp::Add && entry.outcome == AuditOutcome::Applied {
            by_task.entry(&entry.task).or_default().push(entry.at_ms);
        }
    }
    let per_request = bench.kind.max_add() as usize;
    by_task
        .values()
        .flat_map(|rows| rows.chunks(per_request).map(|request| request[0]))
        .collect()
}

/// Most timestamps within any window of `window_ms`.
fn busiest_window(times: &[i64], window_ms: i64) -> usize {
    let mut sorted = times.to_vec();
    sorted.sort_unstable();
    let mut best = 0;
    let mut start = 0;
    for end in 0..sorted.len() {
        while sorted[end] - sorted[start] >= window_ms {
            start += 1;
        }
        best = best.max(end - start + 1);
    }
    best
}

/// Pending contacts over time as CSV.
pub fn pending_csv(run: &ConvergenceRun) -> String {
    let mut out = String::from("seconds,pending_add,present\n");
    for (t, pending, present) in &run.pending {
        out.push_str(&format!("{t:.3},{pending},{present}\n"));
    }
    out
}

//! Benchmarks of provider API use, against the real kube-apiserver (tests/support), the
//! simulator over real HTTP and the controller in process (issue 9, Performance):
//!
//! - API efficiency per provider: write calls vs the lower bound on a first sync and a 1 %
//!   churn sync; a no-change resync writes nothing (provider, status, ledger);
//! - naive re-upload vs callsync for the same churn, in the same run;
//! - convergence under a rate limit: one CallTask, and many CallTasks on one account.
//!
//! The small versions run in the normal suite and assert counts only (never times). The
//! full-size ones are ignored; they print Markdown tables and write raw data to
//! `bench-results/` (see BENCHMARKS.md):
//!
//! ```sh
//! cargo test --release --test bench_api -- --ignored --nocapture --test-threads 1
//! ```
#[path = "bench/convergence.rs"]
mod convergence;
#[path = "bench/efficiency.rs"]
mod efficiency;
#[path = "bench/env.rs"]
mod env;
#[path = "bench/naive.rs"]
mod naive;
mod support;

use std::time::Duration;

use callsync::simulator::ProviderKind;
use env::write_result;
use support::provider::{ALL_PROVIDERS, ProviderFixture};

const SMALL_BOUND: Duration = Duration::from_secs(120);
const FULL_BOUND: Duration = Duration::from_secs(1800);

async fn efficiency_small(kind: ProviderKind) {
    let run = efficiency::run(kind, 2000, 1000, true, SMALL_BOUND).await;
    println!("{}", efficiency::table(std::slice::from_ref(&run)));
    println!(
        "{}",
        efficiency::comparison_table(std::slice::from_ref(&run))
    );
    // The naive way re-sends everything: more writes than callsync's bound, whatever the sizes.
    assert!(run.naive_churn.writes > run.churn.writes);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn longlonglong_writes_equal_the_lower_bound() {
    efficiency_small(ProviderKind::Longlonglong).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callbot_writes_equal_the_lower_bound() {
    efficiency_small(ProviderKind::Callbot).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nxlink_writes_equal_the_lower_bound() {
    efficiency_small(ProviderKind::Nxlink).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_task_converges_under_the_rate_limit() {
    let run = convergence::single(2000, 10, 10, SMALL_BOUND).await;
    assert!(!run.pending.is_empty(), "status writes were seen");
    println!(
        "{} contacts at {}/s: {} calls, {:.1} s (bound {:.1} s)",
        run.contacts, run.rate, run.calls, run.seconds, run.bound_seconds
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_tasks_share_the_account_limit() {
    let run = convergence::many(20, 100, 20, 5, SMALL_BOUND).await;
    println!(
        "{} tasks × {}: {} calls, {} write requests, busiest second {} writes, {:.1} s",
        run.tasks, run.per_task, run.calls, run.write_requests, run.busiest_second, run.seconds
    );
}

/// 100,000 contacts per provider: API efficiency and naive vs callsync.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "full size: minutes; run with --release --ignored"]
async fn full_api_efficiency_and_naive() {
    let mut runs = Vec::new();
    for kind in ALL_PROVIDERS {
        let run = efficiency::run(kind, 100_000, 1000, true, FULL_BOUND).await;
        println!("{}", efficiency::table(std::slice::from_ref(&run)));
        runs.push(run);
    }
    let table = efficiency::table(&runs);
    let comparison = efficiency::comparison_table(&runs);
    println!("## API efficiency\n\n{table}\n## Naive vs callsync\n\n{comparison}");
    write_result("api_efficiency.md", &format!("{table}\n{comparison}"));
    write_result(
        "api_efficiency.json",
        &serde_json::to_string_pretty(&efficiency::json(&runs)).expect("json"),
    );
}

/// Naive vs callsync at a provider-like limit of 20 requests/s, 100,000 contacts, on the two
/// providers that can list (NXLink's naive churn alone would take 101,000 calls / 20 = 84 min).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "full size: minutes; run with --release --ignored"]
async fn full_naive_vs_callsync_at_20_per_second() {
    let mut runs = Vec::new();
    for kind in [ProviderKind::Longlonglong, ProviderKind::Callbot] {
        runs.push(efficiency::run(kind, 100_000, 20, false, FULL_BOUND).await);
    }
    let comparison = efficiency::comparison_table(&runs);
    println!("## Naive vs callsync at 20 requests/s\n\n{comparison}");
    write_result("naive_at_20_per_second.md", &comparison);
    write_result(
        "naive_at_20_per_second.json",
        &serde_json::to_string_pretty(&efficiency::json(&runs)).expect("json"),
    );
}

/// 100,000 contacts at 10 requests/s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "full size: minutes; run with --release --ignored"]
async fn full_convergence_at_10_per_second() {
    let run = convergence::single(100_000, 10, 10, FULL_BOUND).await;
    let summary = format!(
        "| contacts | rate | burst | all calls | add calls | lower bound | seconds to InSync | bound calls/rate | over bound | floor (calls − burst)/rate | refused by the simulator |\n\
         |---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n\
         | {} | {}/s | {} | {} | {} | {} | {:.1} | {:.1} | {:+.1}% | {:.1} | {} |\n",
        run.contacts,
        run.rate,
        run.burst,
        run.calls,
        run.writes,
        run.write_bound,
        run.seconds,
        run.bound_seconds,
        run.over_bound_percent(),
        (run.calls as f64 - f64::from(run.burst)) / f64::from(run.rate),
        run.rate_limited
    );
    println!("{summary}");
    write_result("convergence_100k.md", &summary);
    write_result(
        "convergence_100k_pending.csv",
        &convergence::pending_csv(&run),
    );
    write_result(
        "convergence_100k.json",
        &serde_json::to_string_pretty(&serde_json::json!({
            "contacts": run.contacts, "rate": run.rate, "burst": run.burst, "calls": run.calls,
            "writes": run.writes, "writeBound": run.write_bound, "seconds": run.seconds,
            "boundSeconds": run.bound_seconds, "rateLimited": run.rate_limited,
            "maxAdd": ProviderKind::Longlonglong.max_add(),
        }))
        .expect("json"),
    );
}

/// 200 CallTasks × 5,000 contacts on one account.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "full size: minutes; run with --release --ignored"]
async fn full_200_tasks_on_one_account() {
    let run = convergence::many(200, 5000, 100, 20, FULL_BOUND).await;
    let summary = format!(
        "| CallTasks | contacts each | rate | burst | all calls | add calls | lower bound | most writes in 1 s | refused by the simulator | seconds to all InSync | bound calls/rate |\n\
         |---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n\
         | {} | {} | {}/s | {} | {} | {} | {} | {} | {} | {:.1} | {:.1} |\n",
        run.tasks,
        run.per_task,
        run.rate,
        run.burst,
        run.calls,
        run.writes,
        run.write_bound,
        run.busiest_second,
        run.rate_limited,
        run.seconds,
        run.bound_seconds
    );
    println!("{summary}");
    write_result("many_tasks.md", &summary);
}

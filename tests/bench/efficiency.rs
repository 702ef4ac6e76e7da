//! API efficiency of one provider, and the naive way beside it, in one run:
//!
//! 1. first sync of `n` contacts (ContactLists of 5,000) → add calls vs `ceil(n / maxAdd)`;
//! 2. 1 % churn: the first ContactList loses `n / 200` contacts and gains `n / 200` new ones
//!    (0.5 % removed + 0.5 % added) → write calls vs `ceil(adds / maxAdd) + ceil(removes /
//!    maxRemove)`;
//! 3. no-change resyncs (resyncInterval 2 s, three successful reconciles by the controller's
//!    metric) → write calls, CallTask status writes (object versions seen by a
//!    watch) and ledger Secret writes (its resourceVersion), all expected 0;
//! 4. the naive script (`naive.rs`) makes the same first upload and the same churn against its
//!    own simulator.
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use callsync::simulator::ProviderKind;
use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::api::Api;
use serde_json::json;

use super::env::{Bench, Counters, in_sync, phones, write_bound};
use super::naive::{Naive, NaiveFigures};
use crate::support::provider::ProviderFixture;

const TASK_ID: &str = "task-1";
const NAME: &str = "campaign";

/// One sync as the simulator saw it.
#[derive(Clone, Debug, Default)]
pub struct SyncFigures {
    pub adds: u64,
    pub removes: u64,
    pub writes: u64,
    pub bound: u64,
    /// Every provider request, reads included.
    pub total: u64,
    /// From the change (CallTask or ContactList applied) to the CallTask InSync.
    pub seconds: f64,
    /// Successful reconciles in that time (the controller's metric).
    pub reconciles: u64,
}

/// The no-change window.
#[derive(Clone, Debug, Default)]
pub struct ResyncFigures {
    /// Successful reconciles in the window (the controller's metric).
    pub reconciles: u64,
    pub reads: u64,
    pub writes: u64,
    pub status_writes: u64,
    pub ledger_writes: u64,
    /// Full listings in the window: each moves `status.lastListing` (its one status write).
    pub listings: u64,
}

#[derive(Clone, Debug)]
pub struct EfficiencyRun {
    pub kind: ProviderKind,
    pub contacts: usize,
    /// The account's limit, requests/s (callsync's CallProvider and the naive script alike).
    pub rate: u32,
    pub first: SyncFigures,
    pub churn: SyncFigures,
    pub resync: ResyncFigures,
    pub naive_first: NaiveFigures,
    pub naive_churn: NaiveFigures,
}

fn wire_set(kind: ProviderKind, phones: &[String]) -> BTreeSet<String> {
    phones.iter().map(|p| kind.wire(p)).collect()
}

async fn ledger_version(bench: &Bench) -> String {
    Api::<Secret>::namespaced(bench.client.clone(), &bench.ns)
        .get(&format!("{NAME}-ledger"))
        .await
        .expect("the ledger Secret exists")
        .resource_version()
        .unwrap_or_default()
}

/// Runs steps 1–4 for `kind` with `n` contacts at `rate` requests/s (step 3 only when
/// `resyncs`: at a low rate each resync lists the whole task); asserts the counts (never
/// times).
pub async fn run(
    kind: ProviderKind,
    n: usize,
    rate: u32,
    resyncs: bool,
    within: Duration,
) -> EfficiencyRun {
    let mut bench = Bench::start(
        kind,
        &format!("bench-eff-{}-{rate}", kind.as_str()),
        &[TASK_ID.to_string()],
        None,
    )
    .await;
    bench.provider(rate, rate).await;
    let all = phones(0, n);
    let shards = bench.lists("bench", &all).await;
    bench.wait_ready().await;

    // 1. First sync.
    let before = bench.counters();
    let reconciles = bench.reconciles().await;
    let started = Instant::now();
    bench.task(NAME, TASK_ID, "bench", "1h").await;
    bench.wait_in_sync(NAME, n as i64, within).await;
    let first_seconds = started.elapsed().as_secs_f64();
    let used = bench.counters().since(&before);
    assert_eq!(
        bench.held(TASK_ID),
        wire_set(kind, &all),
        "first sync exact"
    );
    let first = SyncFigures {
        adds: n as u64,
        removes: 0,
        writes: used.writes(kind),
        bound: write_bound(kind, n as u64, 0),
        total: used.total(),
        seconds: first_seconds,
        reconciles: bench.reconciles().await - reconciles,
    };
    assert_eq!(first.writes, first.bound, "{}: first sync", kind.as_str());

    // 2. 1 % churn in the first list.
    let churn = n / 200;
    let mut shard = shards[0][churn..].to_vec();
    shard.extend(phones(n, churn));
    let mut wanted: Vec<String> = shard.clone();
    for other in &shards[1..] {
        wanted.extend(other.iter().cloned());
    }
    let before = bench.counters();
    let reconciles = bench.reconciles().await;
    let started = Instant::now();
    bench.list("bench-0", "bench", &shard).await;
    let churned = bench
        .wait_task(NAME, within, |t| {
            in_sync(t, n as i64)
                && t.status
                    .as_ref()
                    .and_then(|s| s.last_sync.as_ref())
                    .is_some_and(|l| l.added == churn as i64 && l.removed == churn as i64)
        })
        .await;
    let churn_seconds = started.elapsed().as_secs_f64();
    let used = bench.counters().since(&before);
    assert_eq!(bench.held(TASK_ID), wire_set(kind, &wanted), "churn exact");
    let churn_figures = SyncFigures {
        adds: churn as u64,
        removes: churn as u64,
        writes: used.writes(kind),
        bound: write_bound(kind, churn as u64, churn as u64),
        total: used.total(),
        seconds: churn_seconds,
        reconciles: bench.reconciles().await - reconciles,
    };
    assert_eq!(
        churn_figures.writes,
        churn_figures.bound,
        "{}: churn sync; lastSync {:?}",
        kind.as_str(),
        churned.status.and_then(|s| s.last_sync)
    );

    // 3. No-change resyncs every 2 s: the spec change itself is written first.
    let mut resync = ResyncFigures::default();
    if resyncs {
        bench.task(NAME, TASK_ID, "bench", "2s").await;
        bench.wait_in_sync(NAME, n as i64, within).await;
        resync = no_change_window(&bench, kind, n, within).await;
        assert_eq!(
            resync.writes,
            0,
            "{}: no-change resync writes",
            kind.as_str()
        );
        // Every resync here lists (the interval has passed): status.lastListing moves, and
        // nothing else of the status.
        assert!(
            resync.status_writes <= resync.listings,
            "{}: {} status writes for {} listings",
            kind.as_str(),
            resync.status_writes,
            resync.listings
        );
        assert_eq!(resync.ledger_writes, 0, "{}: ledger writes", kind.as_str());
    }
    bench.stop_controller().await;

    // 4. The naive way, same lists, same limit.
    let mut naive = Naive::start(kind, rate).await;
    let naive_first = naive.upload(&all).await;
    let naive_churn = naive.upload(&wanted).await;
    assert_eq!(naive.held(), wire_set(kind, &wanted), "naive churn exact");

    EfficiencyRun {
        kind,
        contacts: n,
        rate,
        first,
        churn: churn_figures,
        resync,
        naive_first,
        naive_churn,
    }
}

/// Waits until the controller has completed at least three more successful reconciles
/// (its own metric; resyncs every 2 s) and counts what was written meanwhile.
async fn no_change_window(
    bench: &Bench,
    kind: ProviderKind,
    n: usize,
    within: Duration,
) -> ResyncFigures {
    // Let the status write of the spec change reach the watch first.
    let settled = bench.wait_in_sync(NAME, n as i64, within).await;
    let status_version = settled.resource_version().unwrap_or_default();
    let status_before = bench.status.versions(NAME);
    let ledger_before = ledger_version(bench).await;
    let before: Counters = bench.counters();
    let reconciles_before = bench.reconciles().await;
    let listings_before = bench.listings().await;
    let deadline = Instant::now() + within;
    let reconciles = loop {
        let done = bench.reconciles().await - reconciles_before;
        if done >= 3 {
            break done;
        }
        assert!(Instant::now() < deadline, "no resync within {within:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let used = bench.counters().since(&before);
    let after = bench
        .tasks()
        .get(NAME)
        .await
        .expect("get CallTask")
        .resource_version()
        .unwrap_or_default();
    let seen_by_watch = bench
        .status
        .versions(NAME)
        .difference(&status_before)
        .count() as u64;
    ResyncFigures {
        reconciles,
        reads: used.total() - used.writes(kind),
        writes: used.writes(kind),
        // The object's version from the API and the versions a watch saw: both must stay.
        status_writes: seen_by_watch.max(u64::from(after != status_version)),
        ledger_writes: u64::from(ledger_version(bench).await != ledger_before),
        listings: bench.listings().await - listings_before,
    }
}

/// The results table (Markdown) of several runs.
pub fn table(runs: &[EfficiencyRun]) -> String {
    let mut out = String::from(
        "| provider | contacts | sync | adds | removes | write calls | lower bound | all calls | reconciles | seconds |\n\
         |---|---:|---|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in runs {
        for (label, s) in [("first sync", &r.first), ("1% churn", &r.churn)] {
            out.push_str(&format!(
                "| {} | {} | {label} | {} | {} | {} | {} | {} | {} | {:.1} |\n",
                r.kind.as_str(),
                r.contacts,
                s.adds,
                s.removes,
                s.writes,
                s.bound,
                s.total,
                s.reconciles,
                s.seconds
            ));
        }
        out.push_str(&format!(
            "| {} | {} | no-change resync | 0 | 0 | {} | 0 | {} | {} | — |\n",
            r.kind.as_str(),
            r.contacts,
            r.resync.writes,
            r.resync.reads,
            r.resync.reconciles
        ));
    }
    out.push_str("\nNo-change resyncs: status writes and ledger Secret writes\n\n");
    for r in runs {
        out.push_str(&format!(
            "- {}: {} status writes (status.lastListing), {} ledger writes in {} reconciles, {} full listings\n",
            r.kind.as_str(),
            r.resync.status_writes,
            r.resync.ledger_writes,
            r.resync.reconciles,
            r.resync.listings
        ));
    }
    out
}

/// Naive vs callsync for the churn sync (Markdown).
pub fn comparison_table(runs: &[EfficiencyRun]) -> String {
    let mut out = String::from(
        "| provider | contacts | limit | way | write calls | all calls | seconds |\n\
         |---|---:|---:|---|---:|---:|---:|\n",
    );
    for r in runs {
        out.push_str(&format!(
            "| {} | {} | {}/s | naive (delete all, add all) | {} | {} | {:.1} |\n\
             | {} | {} | {}/s | callsync | {} | {} | {:.1} |\n",
            r.kind.as_str(),
            r.contacts,
            r.rate,
            r.naive_churn.writes,
            r.naive_churn.total,
            r.naive_churn.seconds,
            r.kind.as_str(),
            r.contacts,
            r.rate,
            r.churn.writes,
            r.churn.total,
            r.churn.seconds,
        ));
    }
    out
}

/// Raw figures as JSON, for the plots.
pub fn json(runs: &[EfficiencyRun]) -> serde_json::Value {
    let sync = |s: &SyncFigures| {
        json!({"adds": s.adds, "removes": s.removes, "writes": s.writes, "bound": s.bound,
               "total": s.total, "seconds": s.seconds, "reconciles": s.reconciles})
    };
    let naive =
        |s: &NaiveFigures| json!({"writes": s.writes, "total": s.total, "seconds": s.seconds});
    json!(
        runs.iter()
            .map(|r| json!({
                "provider": r.kind.as_str(),
                "contacts": r.contacts,
                "rate": r.rate,
                "callsync": {"first": sync(&r.first), "churn": sync(&r.churn),
                             "resync": {"reconciles": r.resync.reconciles, "reads": r.resync.reads,
                                        "writes": r.resync.writes,
                                        "statusWrites": r.resync.status_writes,
                                        "ledgerWrites": r.resync.ledger_writes}},
                "naive": {"first": naive(&r.naive_first), "churn": naive(&r.naive_churn)},
            }))
            .collect::<Vec<_>>()
    )
}

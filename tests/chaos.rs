//! Chaos (issue 9, Reliability): three CallTasks — longlonglong, Callbot, NXLink — over
//! ContactLists of at most 5,000 contacts, synced by the controller (a subprocess, real
//! kube-apiserver) against a simulator that injects 10 % 5xx, 5 % timeouts, 5 % commit-then-drop
//! and 0–100 ms random latency, seeded. Each run converges exactly, then a churn (some contacts
//! out, some in) converges too, with removals under the same faults; the audit log shows no
//! phone added twice, no desired phone removed, none missing.
//!
//! The normal suite runs one seed with 1,500 contacts (at 15 % commit-then-drop, so that some
//! drop in a run that small). The full run (docs/reliability.md):
//!
//! ```text
//! CALLSYNC_CHAOS_SEEDS=1,2,3,4,5 CALLSYNC_CHAOS_CONTACTS=50000 \
//!   cargo test --release --test chaos -- --ignored --nocapture
//! ```
#[path = "support/reliability/mod.rs"]
mod reliability;
mod support;

use std::time::{Duration, Instant};

use callsync::simulator::FaultConfig;
use reliability::report::RunRecord;
use reliability::{Fleet, ProviderSettings, chaos_faults, env_number, env_seeds};
use serde_json::json;
use support::provider::ALL_PROVIDERS;

/// One seed: first sync, then churn, both under faults; asserts and records the run.
/// `max_add` below the providers' maxima makes a small run send enough writes for every kind of
/// fault to fire.
async fn chaos_run(seed: u64, contacts: usize, max_add: Option<u32>, faults: FaultConfig) {
    let settings = ProviderSettings {
        requests_per_second: 50,
        timeout_seconds: 1,
        max_add,
    };
    let cp = support::control_plane();
    let mut fleet = Fleet::start(cp, "chaos", seed, faults, settings).await;
    fleet.declare(contacts).await;
    // Generous bounds: the point is convergence, not speed (figures go to docs/reliability.md).
    let bound = Duration::from_secs(90 + contacts as u64 / 20);
    let started = Instant::now();
    let mut controller = fleet.controller(&format!("chaos-{seed}"));
    fleet.wait_converged(bound, &[&controller]).await;
    let first_sync = started.elapsed();

    // Churn: per provider 2 % out (at least 5), 1 % in (at least 5).
    let per_provider = contacts / 3;
    let (remove, add) = ((per_provider / 50).max(5), (per_provider / 100).max(5));
    fleet.churn(remove, add).await;
    let churned = Instant::now();
    fleet.wait_converged(bound, &[&controller]).await;
    let churn_sync = churned.elapsed();
    assert!(
        controller.running(),
        "the controller died under faults:\n{}",
        controller.log_text()
    );
    controller.kill();

    let audit = fleet.audit_check().await;
    let faults = fleet.fault_counts().await;
    RunRecord {
        test: "chaos",
        run: format!("seed {seed}"),
        contacts,
        seconds: started.elapsed().as_secs_f64(),
        kills: 0,
        faults: &faults,
        audit: &audit,
        extra: json!({"firstSyncSeconds": first_sync.as_secs_f64(),
                      "churnSyncSeconds": churn_sync.as_secs_f64(),
                      "churnRemovedPerProvider": remove, "churnAddedPerProvider": add,
                      "desiredAtEnd": fleet.desired_total()}),
    }
    .emit();
    audit.assert_clean(remove * ALL_PROVIDERS.len());
    // The faults did fire, of every kind: a run without them proves nothing.
    assert!(
        faults.errors > 0 && faults.timeouts > 0 && faults.dropped_after_commit > 0,
        "{faults:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_small_converges_exactly_under_faults() {
    // At the full run's 5 % commit-then-drop, four runs of this size saw 0, 3, 4 and 5 drops
    // (2026-12-03; the 0 failed a fresh-clone CI): the concurrent requests take the seeded
    // draws in no fixed order, and with about three expected a run without any (which the
    // last assertion refuses: it proves nothing of that fault) comes about once in twenty or
    // thirty. At 15 % two runs saw 15 and 17, and a run without any is about one in a million.
    let faults = FaultConfig {
        drop_after_commit_rate: 0.15,
        ..chaos_faults()
    };
    chaos_run(1, 1500, Some(20), faults).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "full size: minutes per seed; see docs/reliability.md"]
async fn chaos_full_converges_exactly_under_faults_for_every_seed() {
    let contacts = env_number("CALLSYNC_CHAOS_CONTACTS", 50_000);
    for seed in env_seeds("CALLSYNC_CHAOS_SEEDS", &[1, 2, 3, 4, 5]) {
        chaos_run(seed, contacts, None, chaos_faults()).await;
    }
}

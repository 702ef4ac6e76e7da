//! apiserver restart (issue 9, Reliability): kube-apiserver of a private control plane is
//! stopped and started again (same port, same etcd) in the middle of a sync of three CallTasks —
//! longlonglong, Callbot, NXLink. The controller (a subprocess) rides it out without a restart
//! of its own — the same process, still running — and converges exactly, with a clean audit log.
//!
//! The normal suite runs 1,500 contacts. The full run (docs/reliability.md):
//!
//! ```text
//! CALLSYNC_RESTART_CONTACTS=50000 \
//!   cargo test --release --test apiserver_restart -- --ignored --nocapture
//! ```
#[path = "support/reliability/mod.rs"]
mod reliability;
mod support;

use std::time::{Duration, Instant};

use callsync::simulator::FaultConfig;
use reliability::report::RunRecord;
use reliability::{Fleet, ProviderSettings, env_number, private_cp};
use serde_json::json;

/// `rate` calls/s per account and `max_add` per add call make the sync long enough for the
/// outage to land in its middle.
async fn restart_run(contacts: usize, rate: u32, max_add: u32) {
    let cp = private_cp::start();
    let settings = ProviderSettings {
        requests_per_second: rate,
        timeout_seconds: 5,
        max_add: Some(max_add),
    };
    let faults = FaultConfig {
        latency_jitter_ms: 50,
        ..FaultConfig::default()
    };
    let mut fleet = Fleet::start(&cp, "restart", 1, faults, settings).await;
    fleet.declare(contacts).await;
    let started = Instant::now();
    let mut controller = fleet.controller("restart");
    let pid = controller.pid();

    let at = (contacts as u64) * 3 / 10;
    let within = Duration::from_secs(120 + contacts as u64 / 50);
    fleet.wait_held(at, 0, within, &[&controller]).await;
    let held_before = fleet.held_total().await;
    let outage_started = started.elapsed();
    // Blocking: the apiserver is down for its whole duration (a few seconds).
    tokio::task::block_in_place(|| private_cp::restart_apiserver(&cp));
    let outage = started.elapsed() - outage_started;
    let held_after = fleet.held_total().await;
    assert!(
        held_after < contacts as u64,
        "the sync finished during the outage: slow it down (rate, batch size)"
    );
    assert!(
        controller.running(),
        "the controller exited when the apiserver went away:\n{}",
        controller.log_text()
    );

    let bound = Duration::from_secs(180 + contacts as u64 / 20);
    fleet.wait_converged(bound, &[&controller]).await;
    assert!(
        controller.running() && controller.pid() == pid,
        "the controller converged in the same process"
    );
    let log = controller.log_text();
    controller.kill();
    let failed_reconciles = log.matches("reconcile failed").count();
    assert!(
        failed_reconciles > 0,
        "the outage never reached the controller: the test proves nothing"
    );

    let audit = fleet.audit_check().await;
    let faults = fleet.fault_counts().await;
    RunRecord {
        test: "apiserver-restart",
        run: "seed 1".into(),
        contacts,
        seconds: started.elapsed().as_secs_f64(),
        kills: 0,
        faults: &faults,
        audit: &audit,
        extra: json!({"outageAtSeconds": outage_started.as_secs_f64(),
                      "outageSeconds": outage.as_secs_f64(),
                      "heldBeforeOutage": held_before, "heldAfterOutage": held_after,
                      "failedReconciles": failed_reconciles,
                      "controllerRestarts": 0}),
    }
    .emit();
    audit.assert_clean(0);
    private_cp::stop(&cp);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apiserver_restart_mid_sync_controller_recovers_without_restart() {
    restart_run(1500, 2, 20).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "full size: minutes; see docs/reliability.md"]
async fn apiserver_restart_full_mid_sync_controller_recovers_without_restart() {
    let contacts = env_number("CALLSYNC_RESTART_CONTACTS", 50_000);
    let rate = env_number("CALLSYNC_RESTART_RATE", 10) as u32;
    restart_run(contacts, rate, 100).await;
}

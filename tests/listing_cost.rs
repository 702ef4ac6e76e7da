//! The controller's CPU per listed contact when it lists a large Callbot task (BENCHMARKS.md,
//! "Listing cost"): the in-process simulator serves `listOrder` over real loopback HTTP from its
//! own thread and runtime, the client lists on this thread alone (a current-thread runtime), and
//! this thread's CPU time (`/proc/thread-self/schedstat`) is the client's figure — the
//! simulator's CPU, on its threads, is reported apart and not counted. Stages as a no-op resync
//! runs them (`sync::observe`, `sync::run`): the client's `list` (HTTP, signing, JSON, rows,
//! phone checks), `WireFormat::decode`, `Ledger::reconcile`, `plan`.
//!
//! `cargo test --release --test listing_cost -- --ignored --nocapture`
//! (`LISTING_CONTACTS`, default 200000; `LISTING_ROUNDS`, default 3).
mod support;

use std::time::{Duration, Instant};

use callsync::api::{PhoneFormat, RateLimit, SignatureAlgorithm};
use callsync::contacts::{ContentDigest, DesiredKey, Phone};
use callsync::ledger::{ItemOutcome, Ledger};
use callsync::plan::{Capabilities, Identity, PlanPolicy, plan};
use callsync::providers::{ContactToAdd, Provider, RateLimiters, TaskRef};
use callsync::simulator::{ProviderKind, RunningSimulator, TaskConfig};
use callsync::sync::WireFormat;
use support::sim;

const TASK: &str = "cb-listing";

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// CPU time of the calling thread (scheduler's own count, nanoseconds).
fn thread_cpu() -> Duration {
    cpu_of("/proc/thread-self/schedstat")
}

/// CPU time of the whole process (every thread, the simulator's too).
fn process_cpu() -> Duration {
    cpu_of("/proc/self/schedstat").max(process_cpu_stat())
}

fn cpu_of(path: &str) -> Duration {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let ns = text
        .split_whitespace()
        .next()
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or(0);
    Duration::from_nanos(ns)
}

/// utime + stime of every thread of the process (`/proc/self/stat`, clock ticks of 10 ms).
fn process_cpu_stat() -> Duration {
    let text = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    let after = &text[text.rfind(')').expect("comm") + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 =
        fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime");
    Duration::from_millis(ticks * 10)
}

/// The simulator on its own thread and runtime, so its CPU is not this thread's.
fn start_simulator() -> (
    RunningSimulator,
    std::thread::JoinHandle<()>,
    tokio::sync::oneshot::Sender<()>,
) {
    let (tx, rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let handle = std::thread::Builder::new()
        .name("simulator".into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("simulator-rt")
                .enable_all()
                .build()
                .expect("simulator runtime");
            runtime.block_on(async move {
                // Paused (the default): nothing dials, so every order stays listed as pending.
                let task = TaskConfig::new(TASK);
                let sim = sim::start(vec![sim::account(
                    ProviderKind::Callbot,
                    sim::CB_UUID,
                    sim::CB_SECRET,
                    vec![task],
                )])
                .await;
                tx.send(sim).expect("hand the simulator over");
                let _ = stop_rx.await;
            });
        })
        .expect("simulator thread");
    (rx.recv().expect("simulator started"), handle, stop_tx)
}

#[test]
#[ignore = "a benchmark: run in release with --ignored --nocapture"]
fn listing_cost_per_contact() {
    let n = env_usize("LISTING_CONTACTS", 200_000);
    let rounds = env_usize("LISTING_ROUNDS", 3).max(1);
    let (simulator, sim_thread, stop) = start_simulator();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("client runtime");
    runtime.block_on(async {
        let mut spec = sim::callbot_spec(&simulator, SignatureAlgorithm::Md5, false);
        // The limiter would pace the pages; the CPU they cost is what is measured.
        spec.rate_limit = Some(RateLimit {
            requests_per_second: 100_000,
            burst: 100_000,
        });
        let client = sim::build(
            &spec,
            None,
            sim::cb_creds(sim::CB_UUID, sim::CB_SECRET),
            &RateLimiters::default(),
            &sim::key("listing"),
        );
        let task = TaskRef::new(TASK);
        let wire = WireFormat::of(&spec);
        assert_eq!(wire.format, PhoneFormat::InternationalDigits);

        // The ledger holds what callsync added; the task holds exactly that.
        let phones: Vec<Phone> = (0..n as u64)
            .map(|i| Phone::from_u64_unchecked(8_613_000_000_000 + i * 7))
            .collect();
        let digest = |p: Phone| ContentDigest(p.as_u64().wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let mut ledger = Ledger::new("uid-listing");
        let items: Vec<(Phone, ContentDigest)> = phones.iter().map(|&p| (p, digest(p))).collect();
        let ids = ledger.record_add_intent(&items);
        let adds: Vec<ContactToAdd> = phones
            .iter()
            .zip(&ids)
            .map(|(p, id)| ContactToAdd {
                phone: p.to_wire(PhoneFormat::InternationalDigits),
                remote_id: id.to_string(),
                ..ContactToAdd::default()
            })
            .collect();
        let setup = Instant::now();
        for chunk in adds.chunks(5_000) {
            let outcome = client.add(&task, chunk).await.expect("add");
            assert_eq!(outcome.accepted(), chunk.len(), "every add accepted");
        }
        for &p in &phones {
            ledger.record_add_outcome(p, ItemOutcome::Accepted);
        }
        drop(adds);
        println!("setup: {n} orders added in {:.1?}", setup.elapsed());
        let desired: Vec<DesiredKey> = phones
            .iter()
            .map(|&p| DesiredKey {
                phone: p,
                digest: digest(p),
            })
            .collect();
        let caps = Capabilities {
            max_add: 500,
            max_remove: 500,
            can_list: true,
            identity: Identity::RemoteId,
        };
        let policy = PlanPolicy::default();

        let per = |d: Duration| d.as_nanos() as f64 / 1000.0 / n as f64;
        // The process's first listing (connections, allocator and what the phone reading
        // remembers all cold), as after a controller restart; the rounds are the resyncs after.
        let t0 = thread_cpu();
        let first = client.list(&task).await.expect("list").expect("listing");
        let first_cpu = thread_cpu() - t0;
        assert_eq!(first.len(), n);
        let observed: Vec<Phone> = first
            .iter()
            .filter_map(|remote| wire.decode(&remote.phone).ok())
            .collect();
        assert_eq!(observed.len(), n);
        println!(
            "first listing of the process: {:.2} µs client CPU per contact (list and decode)",
            per(thread_cpu() - t0)
        );
        println!("  of which list {:.2}", per(first_cpu));
        drop((first, observed));

        for round in 1..=rounds {
            let (wall, process0) = (Instant::now(), process_cpu());
            let t0 = thread_cpu();
            let listing = client.list(&task).await.expect("list").expect("listing");
            let t1 = thread_cpu();
            let process1 = process_cpu();
            let (observed, unreadable) = callsync::sync::decode_listing(&wire, listing);
            let t2 = thread_cpu();
            let report = ledger.reconcile(&observed);
            let t3 = thread_cpu();
            let planned = plan(&desired, &Some(observed), &ledger, &policy, &caps);
            let t4 = thread_cpu();
            assert_eq!(unreadable, 0);
            assert_eq!(report.drift_removed + report.adds_lost, 0, "{report:?}");
            assert!(planned.is_empty(), "a no-op resync plans nothing");
            let client_cpu = t4 - t0;
            // Everything else the process did while the client listed: the simulator.
            let simulator_cpu = (process1 - process0).saturating_sub(t1 - t0);
            println!(
                "round {round}: {n} contacts, {:.2} µs client CPU per contact \
                 (list {:.2}, decode {:.2}, reconcile {:.2}, plan {:.2}); \
                 client {:.3} s CPU, simulator {:.3} s CPU (not counted), wall {:.2?}",
                per(client_cpu),
                per(t1 - t0),
                per(t2 - t1),
                per(t3 - t2),
                per(t4 - t3),
                client_cpu.as_secs_f64(),
                simulator_cpu.as_secs_f64(),
                wall.elapsed(),
            );
        }
    });
    drop(runtime);
    let _ = stop.send(());
    sim_thread.join().expect("simulator thread");
}

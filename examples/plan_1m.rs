//! One 1M-contact plan, for peak-memory measurement:
//! `/usr/bin/time -v target/release/examples/plan_1m [listing|sorted|ledger|inputs-only|ledger-inputs-only] [repeat]`.
//! `inputs-only` (or `ledger-inputs-only`) builds the same inputs without planning, so the plan's own share of the peak
//! is the difference.
use std::time::Instant;

use callsync::ledger::Ledger;
use callsync::plan::{Capabilities, Identity, PlanPolicy, plan};

#[path = "../benches/support/mod.rs"]
mod support;

fn main() {
    let mode = std::env::args().nth(1).unwrap_or_else(|| "listing".into());
    let n = 1_000_000;
    let s = support::scenario(n);
    let caps = Capabilities {
        max_add: 200,
        max_remove: 100,
        can_list: mode != "ledger",
        identity: Identity::RemoteId,
    };
    let (observed, ledger) = match mode.as_str() {
        "ledger" | "ledger-inputs-only" => (None, support::remote_ledger(&s)),
        "sorted" => (Some(support::listing(&s, true)), Ledger::new("uid")),
        _ => (Some(support::listing(&s, false)), Ledger::new("uid")),
    };
    if mode.ends_with("inputs-only") {
        println!("inputs built; no plan");
        return;
    }
    let t = Instant::now();
    let p = plan(
        &s.desired,
        &observed,
        &ledger,
        &PlanPolicy::default(),
        &caps,
    );
    let took = t.elapsed();
    println!(
        "mode {mode}: {n} desired, {} remote: {} adds in {} batches, {} removes in {} batches, guard {:?}, {:?}",
        p.counts.remote,
        p.counts.planned_adds,
        p.adds.len(),
        p.counts.planned_removes,
        p.removes.len(),
        p.guard,
        took
    );
}

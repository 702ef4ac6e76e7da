//! Planner benchmarks: desired vs remote with 1% churn, at 10k, 100k and 1M contacts.
//! `cargo bench --bench plan`; results in BENCHMARKS.md.
use std::hint::black_box;

use callsync::ledger::Ledger;
use callsync::plan::{Capabilities, Identity, PlanPolicy, plan};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};

mod support;

fn caps(can_list: bool) -> Capabilities {
    Capabilities {
        max_add: 200,
        max_remove: 100,
        can_list,
        identity: Identity::RemoteId,
    }
}

fn bench_plan(c: &mut Criterion) {
    let mut g = c.benchmark_group("plan");
    let policy = PlanPolicy::default();
    for n in [10_000usize, 100_000, 1_000_000] {
        if n >= 1_000_000 {
            g.sample_size(10);
        } else {
            g.sample_size(20);
        }
        let s = support::scenario(n);
        let empty = Ledger::new("uid");
        // The provider lists its contacts, in its own order.
        let listing = Some(support::listing(&s, false));
        g.bench_with_input(BenchmarkId::new("listing_unsorted", n), &n, |b, _| {
            b.iter(|| black_box(plan(&s.desired, &listing, &empty, &policy, &caps(true))))
        });
        drop(listing);
        // The same listing already sorted by phone.
        let sorted = Some(support::listing(&s, true));
        g.bench_with_input(BenchmarkId::new("listing_sorted", n), &n, |b, _| {
            b.iter(|| black_box(plan(&s.desired, &sorted, &empty, &policy, &caps(true))))
        });
        drop(sorted);
        // The provider cannot list: the ledger (every remote contact) is the record.
        let ledger = support::remote_ledger(&s);
        g.bench_with_input(BenchmarkId::new("ledger", n), &n, |b, _| {
            b.iter(|| black_box(plan(&s.desired, &None, &ledger, &policy, &caps(false))))
        });
    }
    g.finish();
}

criterion_group!(benches, bench_plan);
criterion_main!(benches);

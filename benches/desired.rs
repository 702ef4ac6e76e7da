//! Desired-set building: 200 ContactLists of 5,000 inline contacts (1M entries, phones in
//! mixed formats, 1% invalid, 1% repeated across lists), and 20 lists (100k) for scale.
//! `cargo bench --bench desired`; results in BENCHMARKS.md. `merge` and `parse_one_list` are
//! the two halves of a one-list edit in the controller (one list parsed again, all merged).
use std::hint::black_box;
use std::sync::Arc;

use callsync::contacts::{DesiredSet, ListContacts, ListInput, ParsedList};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};

mod support;

fn bench_desired(c: &mut Criterion) {
    let mut g = c.benchmark_group("desired_set");
    g.sample_size(10);
    for lists in [20usize, 200] {
        let data = support::contact_lists(lists, 5_000);
        let inputs: Vec<ListInput<'_>> = data
            .iter()
            .map(|(name, contacts)| ListInput {
                name,
                default_region: Some("CN"),
                contacts: ListContacts::Inline(contacts),
            })
            .collect();
        g.bench_with_input(
            BenchmarkId::new("build", format!("{lists}x5000")),
            &inputs,
            |b, inputs| b.iter(|| black_box(DesiredSet::build(inputs))),
        );
        let parts: Vec<Arc<ParsedList>> = inputs
            .iter()
            .map(|i| Arc::new(ParsedList::build(i)))
            .collect();
        g.bench_with_input(
            BenchmarkId::new("merge", format!("{lists}x5000")),
            &parts,
            |b, parts| b.iter(|| black_box(DesiredSet::merge(parts.clone()))),
        );
        g.bench_with_input(
            BenchmarkId::new("parse_one_list", "5000"),
            &inputs[0],
            |b, input| b.iter(|| black_box(ParsedList::build(input))),
        );
    }
    g.finish();
}

criterion_group!(benches, bench_desired);
criterion_main!(benches);

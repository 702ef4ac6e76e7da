//! One desired-set build from `lists` ContactLists of 5,000 contacts, for profiling and peak
//! memory: `/usr/bin/time -v target/release/examples/desired_1m [lists] [inputs-only]` (default 200;
//! `inputs-only` stops after building the inputs, so the build's share of the peak is the
//! difference).
use std::time::Instant;

use callsync::contacts::{DesiredSet, ListContacts, ListInput};

#[path = "../benches/support/mod.rs"]
mod support;

fn main() {
    let lists: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200);
    let data = support::contact_lists(lists, 5_000);
    let inputs: Vec<ListInput<'_>> = data
        .iter()
        .map(|(name, contacts)| ListInput {
            name,
            default_region: Some("CN"),
            contacts: ListContacts::Inline(contacts),
        })
        .collect();
    if std::env::args().nth(2).as_deref() == Some("inputs-only") {
        println!("{lists} lists x 5000 built; no desired set");
        return;
    }
    let t = Instant::now();
    let set = DesiredSet::build(&inputs);
    println!(
        "{} lists x 5000: {} desired, {} invalid, {} conflicts, digest {} in {:?}",
        lists,
        set.len(),
        set.invalid_count(),
        set.conflict_count,
        set.digest,
        t.elapsed()
    );
}

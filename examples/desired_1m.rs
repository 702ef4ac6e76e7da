//! Desired-set building from `lists` ContactLists of 5,000 contacts, for profiling, peak memory
//! and before/after figures in one run:
//!
//! - `/usr/bin/time -v target/release/examples/desired_1m [lists]` (default 200): one build.
//! - `... desired_1m [lists] inputs-only`: stops after building the inputs, so the build's
//!   share of the peak is the difference.
//! - `... desired_1m [lists] compare`: the old whole-set build with the crate-only phone path
//!   (`contacts::desired_reference`, `Phone::parse_libphonenumber`) and the new one (parsed
//!   lists + merge, fast phone path) on the same data, checked equal; then a one-list edit
//!   (that list parsed again, merged with the 199 kept) and the per-number validation cost of
//!   both phone paths. Results in BENCHMARKS.md.
use std::sync::Arc;
use std::time::{Duration, Instant};

use callsync::contacts::desired_reference::ReferenceSet;
use callsync::contacts::{DesiredSet, ListContacts, ListInput, ParsedList, Phone};

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
    match std::env::args().nth(2).as_deref() {
        Some("inputs-only") => println!("{lists} lists x 5000 built; no desired set"),
        Some("compare") => compare(&data, &inputs),
        _ => {
            let t = Instant::now();
            let set = DesiredSet::build(&inputs);
            report("build", &set, t.elapsed());
        }
    }
}

fn report(what: &str, set: &DesiredSet, took: Duration) {
    println!(
        "{what}: {} desired, {} invalid, {} conflicts, digest {} in {took:.3?}",
        set.len(),
        set.invalid_count(),
        set.conflict_count,
        set.digest,
    );
}

fn compare(data: &[(String, Vec<callsync::api::Contact>)], inputs: &[ListInput<'_>]) {
    let t = Instant::now();
    let old = ReferenceSet::build(inputs);
    let old_took = t.elapsed();
    println!(
        "before (whole-set build, crate-only phones): {} desired, digest {} in {old_took:.3?}",
        old.keys.len(),
        old.digest
    );

    let t = Instant::now();
    let parts: Vec<Arc<ParsedList>> = inputs
        .iter()
        .map(|i| Arc::new(ParsedList::build(i)))
        .collect();
    let parsed = t.elapsed();
    let t = Instant::now();
    let set = DesiredSet::merge(parts.clone());
    let merged = t.elapsed();
    report(
        "after, first build (parse every list + merge)",
        &set,
        parsed + merged,
    );
    println!("  of which parsing {parsed:.3?}, merge {merged:.3?}");
    assert_eq!(set.keys(), &old.keys[..], "same keys");
    assert_eq!(set.digest, old.digest, "same digest");
    assert_eq!(set.lists, old.lists, "same list stats");
    assert_eq!(set.conflicts, old.conflicts, "same conflicts");
    drop(set);

    // A one-list edit: list 100 gets a contact renamed and one phone replaced; the other 199
    // parsed lists are reused, as the controller's cache does.
    let edited_at = inputs.len() / 2;
    let mut edited = data[edited_at].1.clone();
    edited[0].name = Some("Renamed".into());
    edited[1].phone = "+8613912345678".into();
    let edited_input = ListInput {
        contacts: ListContacts::Inline(&edited),
        ..inputs[edited_at]
    };
    let t = Instant::now();
    let mut after_edit = parts;
    after_edit[edited_at] = Arc::new(ParsedList::build(&edited_input));
    let reparsed = t.elapsed();
    let t = Instant::now();
    let set = DesiredSet::merge(after_edit);
    let merged = t.elapsed();
    report(
        "after, one-list edit (parse 1 list + merge)",
        &set,
        reparsed + merged,
    );
    println!("  of which parsing {reparsed:.3?}, merge {merged:.3?}");
    let mut edited_inputs = inputs.to_vec();
    edited_inputs[edited_at] = edited_input;
    assert_eq!(set.digest, ReferenceSet::build(&edited_inputs).digest);

    // Per-number validation, both paths over the same 200,000 phones as written.
    let phones: Vec<&str> = data
        .iter()
        .flat_map(|(_, cs)| cs.iter().map(|c| c.phone.as_str()))
        .step_by(5)
        .collect();
    for (name, parse) in [
        (
            "crate only (before)",
            Phone::parse_libphonenumber as fn(&str, Option<&str>) -> _,
        ),
        ("fast path + fallback (after)", Phone::parse),
    ] {
        let t = Instant::now();
        let valid = phones
            .iter()
            .filter(|p| parse(p, Some("CN")).is_ok())
            .count();
        let took = t.elapsed();
        println!(
            "validation, {name}: {} phones ({valid} valid) in {took:.3?} = {:.3} µs a number",
            phones.len(),
            took.as_secs_f64() * 1e6 / phones.len() as f64
        );
    }
}

//! The desired set merged from per-list parts (`ParsedList` + `DesiredSet::merge`) equals the
//! whole-set build it replaced (`contacts::desired_reference`): same keys, contents, source
//! lists, per-list stats, conflicts and digest — with duplicates, conflicts inside and across
//! lists, invalid entries, CSV line errors, and the lists in any order.
use std::sync::Arc;

use callsync::api::Contact;
use callsync::contacts::csv::{CsvData, parse_csv};
use callsync::contacts::desired_reference::ReferenceSet;
use callsync::contacts::{DesiredSet, ListContacts, ListInput, ParsedList};
use proptest::prelude::*;

/// The same few numbers written several ways (so lists repeat each other), and invalid ones.
const PHONES: &[&str] = &[
    "13012121211",
    "+8613012121211",
    "130-1212-1211",
    "13012121212",
    "+86 130 1212 1212",
    "13012121213",
    "18361201206",
    "010-12345678",
    "+861012345678",
    "1301212121",
    "bogus",
    "",
    "+999123456789",
    "1.30121E10",
];
const NAMES: &[&str] = &["Li", "Wang", "Zhang", ""];
const LIST_NAMES: &[&str] = &["a", "b", "c", "d", "e", "b"];

fn contact(phone: &str, name: &str) -> Contact {
    serde_json::from_value(serde_json::json!({"phone": phone, "name": name})).expect("contact")
}

/// Entries as (phone index, name index); a list is inline or a CSV source.
#[derive(Clone, Debug)]
struct ListSpec {
    name: &'static str,
    region: Option<&'static str>,
    entries: Vec<(usize, usize)>,
    csv: bool,
}

fn list_spec() -> impl Strategy<Value = ListSpec> {
    (
        prop::sample::select(LIST_NAMES),
        prop::option::of(Just("CN")),
        prop::collection::vec((0..PHONES.len(), 0..NAMES.len()), 0..25),
        any::<bool>(),
    )
        .prop_map(|(name, region, entries, csv)| ListSpec {
            name,
            region,
            entries,
            csv,
        })
}

/// The owned contacts of a spec: inline contacts, or a parsed CSV with a short row (a line
/// error) after every fifth entry.
enum Owned {
    Inline(Vec<Contact>),
    Csv(CsvData),
}

fn owned(spec: &ListSpec) -> Owned {
    if !spec.csv {
        return Owned::Inline(
            spec.entries
                .iter()
                .map(|&(p, n)| contact(PHONES[p], NAMES[n]))
                .collect(),
        );
    }
    let mut text = String::from("phone,name\n");
    for (i, &(p, n)) in spec.entries.iter().enumerate() {
        text.push_str(&format!("\"{}\",{}\n", PHONES[p], NAMES[n]));
        if i % 5 == 4 {
            text.push_str("13012121299\n");
        }
    }
    Owned::Csv(parse_csv(&text).expect("csv"))
}

fn inputs<'a>(specs: &'a [ListSpec], owned: &'a [Owned]) -> Vec<ListInput<'a>> {
    specs
        .iter()
        .zip(owned)
        .map(|(s, o)| ListInput {
            name: s.name,
            default_region: s.region,
            contacts: match o {
                Owned::Inline(cs) => ListContacts::Inline(cs),
                Owned::Csv(d) => ListContacts::Csv(d),
            },
        })
        .collect()
}

fn assert_same(merged: &DesiredSet, reference: &ReferenceSet) {
    assert_eq!(merged.keys(), &reference.keys[..]);
    assert!(merged.contacts().eq(reference.contacts.iter().cloned()));
    for (i, &src) in reference.sources.iter().enumerate() {
        assert_eq!(
            merged.source_list(i),
            Some(reference.lists[src as usize].name.as_str())
        );
    }
    assert_eq!(merged.lists, reference.lists);
    assert_eq!(merged.conflict_count, reference.conflict_count);
    assert_eq!(merged.conflicts, reference.conflicts);
    assert_eq!(merged.digest, reference.digest);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn merged_parts_equal_the_whole_set_build(
        specs in prop::collection::vec(list_spec(), 0..6),
        shuffle in any::<prop::sample::Index>(),
    ) {
        let owned: Vec<Owned> = specs.iter().map(owned).collect();
        let inputs = inputs(&specs, &owned);
        let reference = ReferenceSet::build(&inputs);
        assert_same(&DesiredSet::build(&inputs), &reference);

        // Parts built alone and merged in another order: the same set (equal list names keep
        // their given order in both builders, so only distinct names are moved).
        let mut parts: Vec<Arc<ParsedList>> =
            inputs.iter().map(|i| Arc::new(ParsedList::build(i))).collect();
        if !parts.is_empty() {
            let k = shuffle.index(parts.len());
            parts.rotate_left(k);
            let mut rotated = inputs.clone();
            rotated.rotate_left(k);
            assert_same(&DesiredSet::merge(parts), &ReferenceSet::build(&rotated));
        }
    }
}

/// Order independence, the documented rule: with distinct names, every rotation of the lists
/// gives the reference's set for the original order.
#[test]
fn merge_ignores_list_order_with_distinct_names() {
    let specs: Vec<ListSpec> = ["c", "a", "b"]
        .iter()
        .enumerate()
        .map(|(i, name)| ListSpec {
            name,
            region: Some("CN"),
            entries: (0..PHONES.len())
                .map(|p| (p, (p + i) % NAMES.len()))
                .collect(),
            csv: i == 1,
        })
        .collect();
    let owned: Vec<Owned> = specs.iter().map(owned).collect();
    let inputs = inputs(&specs, &owned);
    let reference = ReferenceSet::build(&inputs);
    assert!(reference.conflict_count > 0, "the data has conflicts");
    for k in 0..inputs.len() {
        let mut rotated = inputs.clone();
        rotated.rotate_left(k);
        assert_same(&DesiredSet::build(&rotated), &reference);
    }
}

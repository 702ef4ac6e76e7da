//! The desired set of one task: the deduplicated contacts of its selected ContactLists, each
//! given inline or as a parsed CSV source. The controller (lists from its cache) and
//! `callsync plan|apply` (lists from files) both build it here. Pure.
use crate::api::ContactList;
use crate::contacts::csv::CsvData;
use crate::contacts::{DesiredSet, ListContacts, ListInput};

/// One selected ContactList and, when it has a `source`, that source parsed.
pub type SelectedList<'a> = (&'a ContactList, Option<&'a CsvData>);

/// Builds the desired set. Conflicts are decided by list name (the first name wins), whatever
/// order the lists come in.
pub fn desired_set<'a>(lists: impl IntoIterator<Item = SelectedList<'a>>) -> DesiredSet {
    let inputs: Vec<ListInput<'_>> = lists
        .into_iter()
        .map(|(list, csv)| ListInput {
            name: list.metadata.name.as_deref().unwrap_or_default(),
            default_region: list.spec.default_region.as_deref(),
            contacts: match csv {
                Some(csv) => ListContacts::Csv(csv),
                None => ListContacts::Inline(&list.spec.contacts),
            },
        })
        .collect();
    DesiredSet::build(&inputs)
}

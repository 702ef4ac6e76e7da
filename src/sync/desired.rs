//! The desired set of one task: the deduplicated contacts of its selected ContactLists, each
//! given inline or as a parsed CSV source. The controller (`controller::loaded_list`) and
//! `callsync plan|apply` (`cli::files::resolve`) both parse each list here and merge the parsed
//! lists with [`DesiredSet::merge`]; each keeps a list's parsed form, not its contacts. Pure.
use crate::api::ContactList;
use crate::contacts::csv::CsvData;
use std::sync::Arc;

use crate::contacts::{DesiredSet, ListContacts, ListInput, ParsedList};

/// One selected ContactList and, when it has a `source`, that source parsed.
pub type SelectedList<'a> = (&'a ContactList, Option<&'a CsvData>);

/// Builds the desired set: each list parsed, then merged. Conflicts are decided by list name
/// (the first name wins), whatever order the lists come in. The controller keeps parsed lists
/// between reconciles (`controller::desired_cache`).
pub fn desired_set<'a>(lists: impl IntoIterator<Item = SelectedList<'a>>) -> DesiredSet {
    DesiredSet::merge(
        lists
            .into_iter()
            .map(|l| Arc::new(parsed_list(l)))
            .collect(),
    )
}

/// Parses one selected list: the per-list step of [`desired_set`].
pub fn parsed_list((list, csv): SelectedList<'_>) -> ParsedList {
    ParsedList::build(&list_input(list, csv))
}

/// What the parser reads of a list: its name, region, and its inline contacts or `csv`.
pub fn list_input<'a>(list: &'a ContactList, csv: Option<&'a CsvData>) -> ListInput<'a> {
    ListInput {
        name: list.metadata.name.as_deref().unwrap_or_default(),
        default_region: list.spec.default_region.as_deref(),
        contacts: match csv {
            Some(csv) => ListContacts::Csv(csv),
            None => ListContacts::Inline(&list.spec.contacts),
        },
    }
}

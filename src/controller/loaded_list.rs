//! A selected ContactList as the controller loaded it. Below both the load step and the
//! desired-set cache, which keys its sets by what each list was loaded at.
use std::sync::Arc;

use crate::api::ContactList;
use crate::contacts::csv::CsvData;
use crate::contacts::{DesiredSet, ParsedList};

/// One selected ContactList with its contacts ready for the desired-set builder.
pub struct LoadedList {
    pub list: Arc<ContactList>,
    /// Parsed CSV when the list has a `source`.
    pub csv: Option<CsvData>,
    /// resourceVersion of the Secret or ConfigMap the CSV came from.
    pub source_version: Option<String>,
}

/// The desired set of lists as loaded (the sync's rule, [`crate::sync::desired_set`]). Pure.
pub fn desired_set_of(lists: &[LoadedList]) -> DesiredSet {
    crate::sync::desired_set(lists.iter().map(|l| (&*l.list, l.csv.as_ref())))
}

/// One list as loaded, parsed: the per-list step of [`desired_set_of`]. Pure.
pub fn parsed_list_of(l: &LoadedList) -> ParsedList {
    crate::sync::parsed_list((&l.list, l.csv.as_ref()))
}

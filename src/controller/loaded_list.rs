//! A selected ContactList as the controller loaded it: its metadata and status, and its
//! contacts parsed. Below both the load step and the desired-set cache, which keys parsed lists
//! by what each list was loaded at.
//!
//! The contacts themselves are not kept: the ContactList store holds lists without them (the
//! list watch in `controller::run` drops them), a list whose parsed form is not kept is read
//! whole from the API server, parsed, and its contacts dropped. At a million contacts the contacts as Rust values
//! take more memory than everything else the controller keeps together.
use std::sync::Arc;

use kube::ResourceExt;

use crate::api::ContactList;
use crate::contacts::csv::CsvData;
use crate::contacts::{DesiredSet, ParsedList};

/// What a parsed list was built from: the list's UID, generation and the resourceVersion of
/// its CSV source.
pub type ListKey = (String, Option<i64>, Option<String>);

/// The key of `list` (contacts or not) with its CSV source at `source_version`.
pub fn list_key(list: &ContactList, source_version: Option<&str>) -> ListKey {
    (
        list.uid().unwrap_or_default(),
        list.metadata.generation,
        source_version.map(str::to_string),
    )
}

/// One selected ContactList with its contacts parsed for the desired set.
#[derive(Clone)]
pub struct LoadedList {
    /// The list without its contacts: metadata, `spec.source`, `spec.defaultRegion`, status.
    pub list: Arc<ContactList>,
    /// resourceVersion of the Secret or ConfigMap the CSV came from.
    pub source_version: Option<String>,
    /// Its contacts, parsed.
    pub parsed: Arc<ParsedList>,
}

impl LoadedList {
    /// Parses `list` (its inline contacts, or `csv` when it has a source) and keeps it without
    /// its contacts. Pure.
    pub fn parse(
        list: ContactList,
        csv: Option<&CsvData>,
        source_version: Option<String>,
    ) -> LoadedList {
        let parsed = Arc::new(crate::sync::parsed_list((&list, csv)));
        LoadedList::with_parsed(list, parsed, source_version)
    }

    /// `list`, whose contacts are already parsed as `parsed`, kept without them.
    pub fn with_parsed(
        mut list: ContactList,
        parsed: Arc<ParsedList>,
        source_version: Option<String>,
    ) -> LoadedList {
        list.spec.contacts = Vec::new();
        LoadedList {
            list: Arc::new(list),
            source_version,
            parsed,
        }
    }

    /// What its parsed form was built from.
    pub fn key(&self) -> ListKey {
        list_key(&self.list, self.source_version.as_deref())
    }
}

/// The desired set of lists as loaded (the sync's rule, [`DesiredSet::merge`] of the parsed
/// lists). Pure.
pub fn desired_set_of(lists: &[LoadedList]) -> DesiredSet {
    DesiredSet::merge(lists.iter().map(|l| l.parsed.clone()).collect())
}

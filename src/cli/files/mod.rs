//! The objects `callsync plan|apply|validate` work from, read from YAML files instead of a
//! cluster: CallProvider, CallTask and ContactList (`callsync.io/v1alpha1`), and the `v1`
//! Secrets and ConfigMaps they reference.
//!
//! ```text
//! read (files → documents) ─▶ parse (schema checks, typed objects) ─▶ resolve (references,
//!                                                                      credentials, CSV sources)
//! ```
//! Every finding names the file, the document and the field path ([`Diagnostic`]).
pub mod cache;
mod diagnostic;
mod read;
pub mod resolve;
pub mod schema;

use std::collections::BTreeMap;
use std::path::PathBuf;

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::api::{CallProvider, CallTask, ContactList};
use crate::contacts::ParsedList;

pub use diagnostic::{Diagnostic, Diagnostics, Origin, Severity};
pub use resolve::{InlineContacts, ResolvedList, ResolvedTask, resolve};

/// Namespace of objects whose metadata names none, as `kubectl apply` would place them.
pub const DEFAULT_NAMESPACE: &str = "default";

/// One object and where it was read.
#[derive(Clone, Debug)]
pub struct Loaded<T> {
    pub origin: Origin,
    pub object: T,
}

/// Everything the files hold that callsync uses.
#[derive(Clone, Debug, Default)]
pub struct Bundle {
    pub providers: Vec<Loaded<CallProvider>>,
    pub tasks: Vec<Loaded<CallTask>>,
    /// ContactLists. Those without a `source` hold no contacts here: they were parsed as their
    /// file was read, into `inline`.
    pub lists: Vec<Loaded<ContactList>>,
    /// The inline contacts of the lists without a `source`, parsed, by (namespace, name).
    pub inline: BTreeMap<(String, String), InlineContacts>,
    pub secrets: Vec<Loaded<Secret>>,
    pub config_maps: Vec<Loaded<ConfigMap>>,
    /// `(kind, namespace, name)` of objects left out because of errors, so that references
    /// to them say "has errors" rather than "not found".
    pub rejected: Vec<(String, String, String)>,
}

impl Bundle {
    /// Whether an object of this kind and name was found but has errors.
    pub fn is_rejected(&self, kind: &str, namespace: &str, name: &str) -> bool {
        self.rejected
            .iter()
            .any(|(k, ns, n)| k == kind && ns == namespace && n == name)
    }
}

/// Reads and parses every document of the `-f` paths. Objects with errors are left out of the
/// bundle; the errors are in `diagnostics`.
pub fn load(paths: &[PathBuf], diagnostics: &mut Diagnostics) -> Bundle {
    load_cached(paths, None, diagnostics)
}

/// [`load`], taking the ContactList files unchanged since an earlier run from `cache` (and
/// keeping there those it reads). The bundle and the findings are the same either way.
pub fn load_cached(
    paths: &[PathBuf],
    mut cache: Option<&mut cache::ParseCache>,
    diagnostics: &mut Diagnostics,
) -> Bundle {
    let mut bundle = Bundle::default();
    let mut seen = Seen::default();
    for path in read::discover(paths, diagnostics) {
        let Some(text) = read::text(&path, diagnostics) else {
            continue;
        };
        let file = path.display().to_string();
        let key = cache.as_deref().map(|c| c.key(text.as_bytes()));
        if let (Some(cache), Some(key)) = (cache.as_deref_mut(), &key)
            && let Some(lists) = cache.get(key)
            && let Some(restored) = restore(&file, lists)
        {
            for (origin, list, inline) in restored {
                add_list(origin, list, inline, &mut bundle, &mut seen, diagnostics);
            }
            continue;
        }
        let before = Marks::of(&bundle, diagnostics);
        let documents = read::documents_of(&file, &text, diagnostics);
        let count = documents.len();
        for document in documents {
            parse(document, &mut bundle, &mut seen, diagnostics);
        }
        if let (Some(cache), Some(key)) = (cache.as_deref_mut(), &key)
            && let Some(lists) = cacheable(&bundle, &before, count, diagnostics)
        {
            cache.put(key, &lists);
        }
    }
    bundle
}

/// The objects defined so far: (kind, namespace, name) and where.
#[derive(Default)]
struct Seen(Vec<(String, String, String, Origin)>);

impl Seen {
    /// Records the object unless it is defined already, which is an error naming the first.
    fn first_definition(
        &mut self,
        kind: &str,
        namespace: &str,
        name: &str,
        origin: &Origin,
        diagnostics: &mut Diagnostics,
    ) -> bool {
        if let Some((_, _, _, first)) = self
            .0
            .iter()
            .find(|(k, ns, n, _)| k == kind && ns == namespace && n == name)
        {
            diagnostics.error(
                origin,
                "metadata.name",
                format!(
                    "{kind} {namespace}/{name} is defined twice; the first is in {}: document {}",
                    first.file, first.document
                ),
            );
            return false;
        }
        self.0.push((
            kind.to_owned(),
            namespace.to_owned(),
            name.to_owned(),
            origin.clone(),
        ));
        true
    }
}

/// The bundle's and the findings' sizes before a file is parsed.
struct Marks {
    findings: usize,
    lists: usize,
    others: usize,
}

impl Marks {
    fn of(bundle: &Bundle, diagnostics: &Diagnostics) -> Marks {
        Marks {
            findings: diagnostics.items.len(),
            lists: bundle.lists.len(),
            others: bundle.providers.len()
                + bundle.tasks.len()
                + bundle.secrets.len()
                + bundle.config_maps.len()
                + bundle.rejected.len(),
        }
    }
}

/// What the cache keeps of the file just parsed: its lists, when every document of it was a
/// ContactList without `source` that gave no finding; otherwise nothing (it is read each time).
fn cacheable(
    bundle: &Bundle,
    before: &Marks,
    documents: usize,
    diagnostics: &Diagnostics,
) -> Option<Vec<cache::CachedList>> {
    let after = Marks::of(bundle, diagnostics);
    if documents == 0
        || after.findings != before.findings
        || after.others != before.others
        || after.lists - before.lists != documents
    {
        return None;
    }
    bundle.lists[before.lists..]
        .iter()
        .map(|loaded| {
            let list = &loaded.object;
            if list.spec.source.is_some() {
                return None;
            }
            let namespace = list.metadata.namespace.clone().unwrap_or_default();
            let name = list.metadata.name.clone().unwrap_or_default();
            let inline = bundle.inline.get(&(namespace.clone(), name.clone()))?;
            Some(cache::CachedList {
                document: loaded.origin.document,
                namespace,
                name,
                list_json: serde_json::to_vec(list).ok()?,
                parsed: ParsedList::clone(&inline.parsed),
                problems: inline.problems.clone(),
            })
        })
        .collect()
}

/// The loaded lists of a cache entry, or `None` when one does not read back (the file is then
/// read as if there were no entry).
fn restore(
    file: &str,
    lists: Vec<cache::CachedList>,
) -> Option<Vec<(Origin, ContactList, InlineContacts)>> {
    lists
        .into_iter()
        .map(|cached| {
            let list: ContactList = serde_json::from_slice(&cached.list_json).ok()?;
            let origin = Origin {
                file: file.to_owned(),
                document: cached.document,
                object: Some(format!("ContactList {:?}", cached.name)),
            };
            Some((origin, list, cached.into_inline()))
        })
        .collect()
}

/// Adds a ContactList read from the cache, as [`parse`] adds one read from its file.
fn add_list(
    origin: Origin,
    list: ContactList,
    inline: InlineContacts,
    bundle: &mut Bundle,
    seen: &mut Seen,
    diagnostics: &mut Diagnostics,
) {
    let namespace = list.metadata.namespace.clone().unwrap_or_default();
    let name = list.metadata.name.clone().unwrap_or_default();
    if !seen.first_definition("ContactList", &namespace, &name, &origin, diagnostics) {
        return;
    }
    bundle.inline.insert((namespace, name), inline);
    bundle.lists.push(Loaded {
        origin,
        object: list,
    });
}

const CALLSYNC_API_VERSION: &str = "callsync.io/v1alpha1";

fn parse(
    document: read::Document,
    bundle: &mut Bundle,
    seen: &mut Seen,
    diagnostics: &mut Diagnostics,
) {
    let read::Document {
        mut origin,
        mut value,
    } = document;
    let text = |field: &str| value.get(field).and_then(Value::as_str).map(str::to_owned);
    let (Some(api_version), Some(kind)) = (text("apiVersion"), text("kind")) else {
        diagnostics.error(
            &origin,
            "",
            "not a Kubernetes object: apiVersion and kind are required",
        );
        return;
    };
    let name = value
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .map(str::to_owned);
    origin.object = Some(match &name {
        Some(name) => format!("{kind} {name:?}"),
        None => kind.clone(),
    });
    let callsync_kind = matches!(kind.as_str(), "CallProvider" | "CallTask" | "ContactList");
    let core_kind = matches!(kind.as_str(), "Secret" | "ConfigMap");
    if callsync_kind && api_version != CALLSYNC_API_VERSION {
        diagnostics.error(
            &origin,
            "apiVersion",
            format!("{api_version} is not served; use {CALLSYNC_API_VERSION}"),
        );
        return;
    }
    if !(callsync_kind || core_kind && api_version == "v1") {
        diagnostics.warning(
            &origin,
            "",
            format!("{api_version} {kind} is not used by callsync; skipped"),
        );
        return;
    }
    let Some(name) = name else {
        diagnostics.error(&origin, "metadata.name", "required field is missing");
        return;
    };
    let errors_before = diagnostics.error_count();
    if let Some(problem) = dns_subdomain_problem(&name) {
        diagnostics.error(&origin, "metadata.name", format!("{name:?} {problem}"));
    }
    let namespace = match value.pointer("/metadata/namespace") {
        None | Some(Value::Null) => DEFAULT_NAMESPACE.to_owned(),
        Some(Value::String(ns)) => {
            if let Some(problem) = dns_label_problem(ns) {
                diagnostics.error(&origin, "metadata.namespace", format!("{ns:?} {problem}"));
            }
            ns.clone()
        }
        Some(other) => {
            diagnostics.error(
                &origin,
                "metadata.namespace",
                format!("wrong type: expected string, found {other}"),
            );
            return;
        }
    };
    if let Some(metadata) = value.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata.insert("namespace".into(), Value::String(namespace.clone()));
    }
    if callsync_kind {
        for violation in schema::check(&kind, &value) {
            diagnostics.error(&origin, violation.path, violation.message);
        }
    }
    if diagnostics.error_count() > errors_before {
        bundle.rejected.push((kind, namespace, name));
        return;
    }
    if !seen.first_definition(&kind, &namespace, &name, &origin, diagnostics) {
        return;
    }
    let parsed = match kind.as_str() {
        "CallProvider" => typed(value, origin, &mut bundle.providers, diagnostics),
        "CallTask" => typed(value, origin, &mut bundle.tasks, diagnostics),
        "ContactList" => {
            let typed = typed(value, origin, &mut bundle.lists, diagnostics);
            // Parsed now and kept without their contacts: a million contacts as Rust values
            // would be most of the CLI's memory.
            if let Some(list) = bundle.lists.last_mut().filter(|_| typed)
                && list.object.spec.source.is_none()
            {
                let inline = resolve::take_inline(&mut list.object);
                bundle
                    .inline
                    .insert((namespace.clone(), name.clone()), inline);
            }
            typed
        }
        "Secret" => typed(value, origin, &mut bundle.secrets, diagnostics),
        _ => typed(value, origin, &mut bundle.config_maps, diagnostics),
    };
    if !parsed {
        bundle.rejected.push((kind, namespace, name));
    }
}

/// The typed object, or an error with the path of the value that does not fit.
fn typed<T: DeserializeOwned>(
    value: Value,
    origin: Origin,
    out: &mut Vec<Loaded<T>>,
    diagnostics: &mut Diagnostics,
) -> bool {
    match serde_path_to_error::deserialize::<_, T>(value) {
        Ok(object) => {
            out.push(Loaded { origin, object });
            true
        }
        Err(e) => {
            let path = e.path().to_string();
            let path = if path == "." { String::new() } else { path };
            diagnostics.error(&origin, path, e.into_inner().to_string());
            false
        }
    }
}

/// Kubernetes object names (RFC 1123 subdomain): at most 253 characters, lowercase letters,
/// digits, `-` and `.`, starting and ending with a letter or digit.
fn dns_subdomain_problem(name: &str) -> Option<&'static str> {
    let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    if name.is_empty() || name.len() > 253 {
        return Some("must be 1 to 253 characters");
    }
    if !name.chars().all(|c| alnum(c) || c == '-' || c == '.')
        || !name.starts_with(alnum)
        || !name.ends_with(alnum)
    {
        return Some(
            "is not a valid name: lowercase letters, digits, '-' and '.', starting and ending with a letter or digit",
        );
    }
    None
}

/// Namespaces (RFC 1123 label): at most 63 characters, no dots.
fn dns_label_problem(name: &str) -> Option<&'static str> {
    if name.len() > 63 || name.contains('.') {
        return Some("is not a valid namespace: at most 63 characters, no '.'");
    }
    dns_subdomain_problem(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A ContactList's inline contacts are parsed as its file is read, and the bundle keeps
    /// the list without them: the parsed form, and where each invalid entry was.
    #[test]
    fn inline_contacts_are_parsed_as_read_and_not_kept() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("list.yaml");
        std::fs::write(
            &file,
            "apiVersion: callsync.io/v1alpha1\nkind: ContactList\n\
             metadata: {name: vip}\nspec:\n  defaultRegion: CN\n  contacts:\n\
             \x20   - {phone: '13012121211', name: 'Li'}\n\
             \x20   - {phone: 'not a phone'}\n\
             \x20   - {phone: '+8613012121212'}\n",
        )
        .expect("write");
        let mut diagnostics = Diagnostics::default();
        let bundle = load(&[file], &mut diagnostics);
        assert_eq!(diagnostics.error_count(), 0);
        assert!(bundle.lists[0].object.spec.contacts.is_empty());
        let inline = &bundle.inline[&("default".to_string(), "vip".to_string())];
        assert_eq!(inline.parsed.keys().len(), 2);
        assert_eq!(
            inline.parsed.contact(0).and_then(|c| c.name),
            Some("Li".into())
        );
        assert_eq!(inline.problems.len(), 1);
        assert_eq!(inline.problems[0].0, 1, "the second entry");
    }

    /// What a load gives, comparable: the lists (origin, object as JSON), the parsed inline
    /// contacts, the other objects' names and every finding.
    fn outcome(bundle: &Bundle, diagnostics: &Diagnostics) -> String {
        let lists: Vec<_> = bundle
            .lists
            .iter()
            .map(|l| {
                (
                    l.origin.clone(),
                    serde_json::to_value(&l.object).expect("json"),
                )
            })
            .collect();
        let inline: Vec<_> = bundle
            .inline
            .iter()
            .map(|(k, v)| (k, &*v.parsed, &v.problems))
            .collect();
        let tasks: Vec<_> = bundle.tasks.iter().map(|t| &t.origin).collect();
        format!(
            "{lists:?}\n{inline:?}\n{tasks:?}\n{:?}\n{:?}",
            bundle.rejected, diagnostics.items
        )
    }

    fn load_with(dir: &std::path::Path, state: &std::path::Path) -> String {
        let mut diagnostics = Diagnostics::default();
        let mut cache = cache::ParseCache::open(state, true);
        let bundle = load_cached(&[dir.to_path_buf()], Some(&mut cache), &mut diagnostics);
        cache.finish();
        outcome(&bundle, &diagnostics)
    }

    fn entries(state: &std::path::Path) -> Vec<PathBuf> {
        let mut out: Vec<PathBuf> = std::fs::read_dir(state.join(cache::FOLDER))
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        out.sort();
        out
    }

    /// A load from the parse cache gives the same bundle and findings as reading the files;
    /// only ContactList files without findings are kept; an edited file, or a damaged entry,
    /// is read again; a list defined twice is found whether its file came from the cache or not.
    #[test]
    fn the_parse_cache_gives_what_reading_the_files_gives() {
        let dir = tempfile::tempdir().expect("temp dir");
        let state = tempfile::tempdir().expect("state dir");
        let write =
            |name: &str, text: &str| std::fs::write(dir.path().join(name), text).expect("write");
        let list = |name: &str, phones: &[&str]| {
            let contacts: Vec<String> =
                phones.iter().map(|p| format!("{{phone: '{p}'}}")).collect();
            format!(
                "apiVersion: callsync.io/v1alpha1\nkind: ContactList\nmetadata: {{name: {name}, \
                 labels: {{campaign: spring}}}}\nspec:\n  defaultRegion: CN\n  contacts: [{}]\n",
                contacts.join(", ")
            )
        };
        write(
            "b-lists.yaml",
            &format!(
                "{}---\n{}",
                list("vip", &["13012121211", "not a phone"]),
                list("new", &["+8613012121212"])
            ),
        );
        write(
            "c-task.yaml",
            "apiVersion: callsync.io/v1alpha1\nkind: CallTask\nmetadata: {name: t}\n\
             spec: {providerRef: {name: acct}, remoteTaskId: '1', \
             contactListSelector: {matchLabels: {campaign: spring}}}\n",
        );
        write(
            "d-skipped.yaml",
            &format!(
                "{}---\napiVersion: v1\nkind: Pod\nmetadata: {{name: p}}\n",
                list("other", &["13012121213"])
            ),
        );
        let fresh = || {
            let mut diagnostics = Diagnostics::default();
            let bundle = load(&[dir.path().to_path_buf()], &mut diagnostics);
            outcome(&bundle, &diagnostics)
        };

        let expected = fresh();
        assert_eq!(
            load_with(dir.path(), state.path()),
            expected,
            "first run fills the cache"
        );
        assert_eq!(
            entries(state.path()).len(),
            1,
            "only the file of ContactLists without findings"
        );
        assert_eq!(
            load_with(dir.path(), state.path()),
            expected,
            "from the cache"
        );
        // The entry is what a hit reads: one rewritten to hold only the first list shows.
        let lists_file = dir.path().join("b-lists.yaml");
        let mut cache = cache::ParseCache::open(state.path(), true);
        let key = cache.key(&std::fs::read(&lists_file).expect("read"));
        let mut held = cache.get(&key).expect("the entry of b-lists.yaml");
        assert_eq!(held.len(), 2);
        held.truncate(1);
        cache.put(&key, &held);
        cache.finish();
        let from_entry = load_with(dir.path(), state.path());
        assert!(
            from_entry.contains("vip") && !from_entry.contains("\"new\""),
            "{from_entry}"
        );
        std::fs::remove_dir_all(state.path().join(cache::FOLDER)).expect("clear");
        assert_eq!(load_with(dir.path(), state.path()), expected, "refilled");

        write("b-lists.yaml", &list("vip", &["13012121219"]));
        let edited = fresh();
        assert_ne!(edited, expected);
        assert_eq!(
            load_with(dir.path(), state.path()),
            edited,
            "an edited file is read again"
        );
        let kept = entries(state.path());
        assert_eq!(kept.len(), 1, "the old entry went: {kept:?}");

        let mut damaged = std::fs::read(&kept[0]).expect("entry");
        let last = damaged.len() - 1;
        damaged[last] ^= 0x55;
        std::fs::write(&kept[0], damaged).expect("damage");
        assert_eq!(
            load_with(dir.path(), state.path()),
            edited,
            "a damaged entry is read again"
        );

        write("a-first.yaml", &list("vip", &["13012121218"]));
        let twice = fresh();
        assert!(twice.contains("is defined twice"), "{twice}");
        assert_eq!(
            load_with(dir.path(), state.path()),
            twice,
            "the cached file's list is the second"
        );
    }

    #[test]
    fn names_follow_kubernetes_rules() {
        assert_eq!(dns_subdomain_problem("spring-campaign.v2"), None);
        assert!(dns_subdomain_problem("Spring").is_some());
        assert!(dns_subdomain_problem("-a").is_some());
        assert!(dns_label_problem("a.b").is_some());
        assert_eq!(dns_label_problem("campaigns"), None);
    }
}

//! The objects `callsync plan|apply|validate` work from, read from YAML files instead of a
//! cluster: CallProvider, CallTask and ContactList (`callsync.io/v1alpha1`), and the `v1`
//! Secrets and ConfigMaps they reference.
//!
//! ```text
//! read (files → documents) ─▶ parse (schema checks, typed objects) ─▶ resolve (references,
//!                                                                      credentials, CSV sources)
//! ```
//! Every finding names the file, the document and the field path ([`Diagnostic`]).
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
    let mut bundle = Bundle::default();
    let mut seen: Vec<(String, String, String, Origin)> = Vec::new();
    for file in read::discover(paths, diagnostics) {
        for document in read::documents(&file, diagnostics) {
            parse(document, &mut bundle, &mut seen, diagnostics);
        }
    }
    bundle
}

const CALLSYNC_API_VERSION: &str = "callsync.io/v1alpha1";

fn parse(
    document: read::Document,
    bundle: &mut Bundle,
    seen: &mut Vec<(String, String, String, Origin)>,
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
    if let Some((_, _, _, first)) = seen
        .iter()
        .find(|(k, ns, n, _)| *k == kind && *ns == namespace && *n == name)
    {
        diagnostics.error(
            &origin,
            "metadata.name",
            format!(
                "{kind} {namespace}/{name} is defined twice; the first is in {}: document {}",
                first.file, first.document
            ),
        );
        return;
    }
    seen.push((
        kind.clone(),
        namespace.clone(),
        name.clone(),
        origin.clone(),
    ));
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

    #[test]
    fn names_follow_kubernetes_rules() {
        assert_eq!(dns_subdomain_problem("spring-campaign.v2"), None);
        assert!(dns_subdomain_problem("Spring").is_some());
        assert!(dns_subdomain_problem("-a").is_some());
        assert!(dns_label_problem("a.b").is_some());
        assert_eq!(dns_label_problem("campaigns"), None);
    }
}

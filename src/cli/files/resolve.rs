//! Resolution, as the controller's load step does it: a CallTask's CallProvider (same
//! namespace only), its ContactLists (names and/or label selector), the credentials from the
//! provider's Secret, and the CSV sources from Secrets and ConfigMaps. Secrets are used only
//! when labelled for the use, as in the controller (`crate::api::SecretUse`). Nothing here
//! touches the network.
use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::ResourceExt;

use super::{Bundle, Diagnostics, Loaded, Origin};
use crate::api::selection::{list_selector, missing_named_lists, task_selects_list};
use crate::api::{CallProvider, CallTask, ContactList, SecretUse};
use crate::contacts::csv::{CsvData, parse_csv, parse_csv_bytes};
use crate::contacts::source_limit::check_csv_source_size;
use crate::contacts::{ParsedList, mask_phone};
use crate::providers::remote_task::{RemoteTaskKey, remote_task_key};
use crate::providers::{Credentials, SecretString};

/// A ContactList with its contacts (inline, or from its CSV source) parsed.
#[derive(Clone, Debug)]
pub struct ResolvedList {
    /// The list without its contacts.
    pub list: ContactList,
    /// Its contacts, parsed.
    pub parsed: Arc<ParsedList>,
}

/// A list's inline contacts, parsed as its file was read: the parsed form, and the problem of
/// each invalid entry (its position in `spec.contacts`, the message).
#[derive(Clone, Debug)]
pub struct InlineContacts {
    pub parsed: Arc<ParsedList>,
    pub problems: Vec<(usize, String)>,
}

/// Parses the inline contacts of `list` (each phone once) and takes them out of it.
pub(super) fn take_inline(list: &mut ContactList) -> InlineContacts {
    let mut problems = Vec::new();
    let parsed = ParsedList::build_reporting(&crate::sync::list_input(list, None), |i, raw, e| {
        problems.push((i as usize, phone_problem(raw, e)));
    });
    list.spec.contacts = Vec::new();
    InlineContacts {
        parsed: Arc::new(parsed),
        problems,
    }
}

/// A CallTask with everything a sync needs.
#[derive(Clone, Debug)]
pub struct ResolvedTask {
    pub origin: Origin,
    pub task: CallTask,
    pub provider: CallProvider,
    pub credentials: Credentials,
    /// The selected lists, sorted by name (the desired set's conflict rule relies on it).
    pub lists: Vec<ResolvedList>,
}

impl ResolvedTask {
    /// `namespace/name`.
    pub fn key(&self) -> String {
        format!(
            "{}/{}",
            self.task.namespace().unwrap_or_default(),
            self.task.name_any()
        )
    }
}

type Key = (String, String);

fn key_of<T: kube::Resource>(object: &T) -> Key {
    (object.namespace().unwrap_or_default(), object.name_any())
}

fn find<'a, T: kube::Resource>(items: &'a [Loaded<T>], key: &Key) -> Option<&'a Loaded<T>> {
    items.iter().find(|l| key_of(&l.object) == *key)
}

/// `Kind "name" not found in namespace "ns"`, or `… has errors (see above)` when the files
/// define it with errors, with a hint when it exists in another namespace.
fn missing<T: kube::Resource>(
    bundle: &Bundle,
    items: &[Loaded<T>],
    kind: &str,
    namespace: &str,
    name: &str,
) -> String {
    if bundle.is_rejected(kind, namespace, name) {
        return format!("{kind} {name:?} has errors (see above)");
    }
    let article = if kind.starts_with(['A', 'E', 'I', 'O', 'U']) {
        "an"
    } else {
        "a"
    };
    format!(
        "{kind} {name:?} not found in namespace {namespace:?}{}",
        elsewhere(items, name, &format!("{article} {kind}"))
    )
}

/// "…; a Secret of that name is in namespace X" when one is, else "".
fn elsewhere<T: kube::Resource>(items: &[Loaded<T>], name: &str, what: &str) -> String {
    let namespaces: Vec<String> = items
        .iter()
        .filter(|l| l.object.name_any() == name)
        .map(|l| l.object.namespace().unwrap_or_default())
        .collect();
    if namespaces.is_empty() {
        String::new()
    } else {
        format!(
            " ({what} {name:?} exists in namespace {}; references never cross namespaces)",
            namespaces.join(", ")
        )
    }
}

/// One key of a Secret: `stringData` over `data`, as the API server merges them; trimmed;
/// empty = missing. Errors name the Secret and the key, never a value.
fn secret_value(secret: &Secret, key: &str) -> Result<String, String> {
    let name = secret.name_any();
    let value = match secret.string_data.as_ref().and_then(|d| d.get(key)) {
        Some(text) => text.clone(),
        None => match secret.data.as_ref().and_then(|d| d.get(key)) {
            Some(bytes) => String::from_utf8(bytes.0.clone())
                .map_err(|_| format!("Secret {name:?} key {key:?} is not UTF-8 text"))?,
            None => return Err(format!("Secret {name:?} has no key {key:?}")),
        },
    };
    let value = value.trim().to_owned();
    if value.is_empty() {
        return Err(format!("Secret {name:?} key {key:?} is empty"));
    }
    Ok(value)
}

/// The credentials of a CallProvider, or errors at the reference's path.
fn credentials(
    bundle: &Bundle,
    provider: &Loaded<CallProvider>,
    diagnostics: &mut Diagnostics,
) -> Option<Credentials> {
    let spec = &provider.object.spec;
    let namespace = provider.object.namespace().unwrap_or_default();
    let (path, secret_name, keys): (&str, &str, Vec<&str>) =
        match (&spec.longlonglong, &spec.callbot, &spec.nxlink) {
            (Some(a), None, None) => (
                "spec.longlonglong.tokenSecretRef",
                &a.token_secret_ref.name,
                vec![a.token_secret_ref.key.as_str()],
            ),
            (None, Some(a), None) => (
                "spec.callbot.credentialsSecretRef",
                &a.credentials_secret_ref.name,
                vec!["uuid", "secretKey"],
            ),
            (None, None, Some(a)) => (
                "spec.nxlink.credentialsSecretRef",
                &a.credentials_secret_ref.name,
                vec!["accessKey", "accessSecret"],
            ),
            // The schema check has reported it already.
            _ => return None,
        };
    let Some(secret) = find(
        &bundle.secrets,
        &(namespace.clone(), secret_name.to_owned()),
    ) else {
        diagnostics.error(
            &provider.origin,
            format!("{path}.name"),
            missing(bundle, &bundle.secrets, "Secret", &namespace, secret_name),
        );
        return None;
    };
    // The controller's rule: only a Secret labelled for credentials is sent anywhere.
    if let Err(refused) = SecretUse::Credentials.check(
        &namespace,
        secret_name,
        secret.object.metadata.labels.as_ref(),
    ) {
        diagnostics.error(
            &provider.origin,
            format!("{path}.name"),
            refused.to_string(),
        );
        return None;
    }
    let mut values = Vec::new();
    for key in keys {
        match secret_value(&secret.object, key) {
            Ok(value) => values.push(value),
            Err(message) => diagnostics.error(&provider.origin, path, message),
        }
    }
    let mut values = values.into_iter();
    match (
        &spec.longlonglong,
        &spec.callbot,
        values.next(),
        values.next(),
    ) {
        (Some(_), _, Some(token), None) => Some(Credentials::Longlonglong {
            token: SecretString::new(token),
        }),
        (None, Some(_), Some(uuid), Some(secret)) => Some(Credentials::Callbot {
            uuid,
            secret_key: SecretString::new(secret),
        }),
        (None, None, Some(access_key), Some(secret)) => Some(Credentials::Nxlink {
            access_key,
            access_secret: SecretString::new(secret),
        }),
        _ => None,
    }
}

/// A plain `http://` endpoint without `insecure: true`, reported before any network call with
/// the message the provider factory would give (one rule for the controller and the CLI).
fn check_endpoint(provider: &Loaded<CallProvider>, diagnostics: &mut Diagnostics) {
    let spec = &provider.object.spec;
    let endpoints = [
        (
            "spec.longlonglong.endpoint",
            spec.longlonglong.as_ref().map(|a| &a.endpoint),
        ),
        (
            "spec.callbot.endpoint",
            spec.callbot.as_ref().map(|a| &a.endpoint),
        ),
        (
            "spec.nxlink.endpoint",
            spec.nxlink.as_ref().and_then(|a| a.endpoint.as_ref()),
        ),
    ];
    for (path, endpoint) in endpoints {
        if let Some(Err(refused)) =
            endpoint.map(|e| crate::providers::factory::refuse_plain_http(e, spec.insecure))
        {
            diagnostics.error(&provider.origin, path, refused.to_string());
        }
    }
}

/// `phone 138****5678 is not a valid number for CN`: the reason with the masked input once.
fn phone_problem(raw: &str, error: &crate::contacts::PhoneError) -> String {
    let masked = mask_phone(raw);
    let reason = error.to_string();
    if reason.contains(&masked) {
        format!("phone {reason}")
    } else {
        format!("phone {masked}: {reason}")
    }
}

/// A CSV source as stored: text (a Secret's `stringData`, a ConfigMap's `data`) or bytes (a
/// Secret's `data`, a ConfigMap's `binaryData`, where `kubectl create configmap --from-file`
/// puts a file that is not UTF-8). Bytes are decoded as `callsync import` decodes them; nothing
/// is trimmed, so line numbers are the file's.
enum Stored {
    Text(String),
    Bytes(Vec<u8>),
}

impl Stored {
    fn len(&self) -> usize {
        match self {
            Stored::Text(t) => t.len(),
            Stored::Bytes(b) => b.len(),
        }
    }

    fn parse(&self) -> Result<CsvData, crate::contacts::csv::CsvError> {
        match self {
            Stored::Text(t) => parse_csv(t),
            Stored::Bytes(b) => parse_csv_bytes(b),
        }
    }
}

/// The source key of a Secret: `stringData` over `data`, as the API server merges them.
fn secret_source(secret: &Secret, key: &str) -> Result<Stored, String> {
    if let Some(text) = secret.string_data.as_ref().and_then(|d| d.get(key)) {
        return Ok(Stored::Text(text.clone()));
    }
    match secret.data.as_ref().and_then(|d| d.get(key)) {
        Some(bytes) => Ok(Stored::Bytes(bytes.0.clone())),
        None => Err(format!("Secret {:?} has no key {key:?}", secret.name_any())),
    }
}

/// The source key of a ConfigMap: `data`, else `binaryData`.
fn config_map_source(map: &ConfigMap, key: &str) -> Result<Stored, String> {
    if let Some(text) = map.data.as_ref().and_then(|d| d.get(key)) {
        return Ok(Stored::Text(text.clone()));
    }
    match map.binary_data.as_ref().and_then(|d| d.get(key)) {
        Some(bytes) => Ok(Stored::Bytes(bytes.0.clone())),
        None => Err(format!("ConfigMap {:?} has no key {key:?}", map.name_any())),
    }
}

/// Reads a list's CSV source, or reports why it cannot be read (an error: the controller
/// stops syncing rather than sync without the list).
fn source(
    bundle: &Bundle,
    list: &Loaded<ContactList>,
    diagnostics: &mut Diagnostics,
) -> Result<Option<CsvData>, ()> {
    let Some(source) = &list.object.spec.source else {
        return Ok(None);
    };
    let namespace = list.object.namespace().unwrap_or_default();
    let (path, what, stored) = if let Some(r) = &source.secret_ref {
        let key = (namespace.clone(), r.name.clone());
        let stored = match find(&bundle.secrets, &key) {
            None => Err(missing(
                bundle,
                &bundle.secrets,
                "Secret",
                &namespace,
                &r.name,
            )),
            // The controller's rule: only a Secret labelled for contacts is read as a source.
            Some(secret) => SecretUse::Contacts
                .check(&namespace, &r.name, secret.object.metadata.labels.as_ref())
                .map_err(|refused| refused.to_string())
                .and_then(|()| secret_source(&secret.object, &r.key)),
        };
        (
            "spec.source.secretRef",
            format!("Secret {:?} key {:?}", r.name, r.key),
            stored,
        )
    } else if let Some(r) = &source.config_map_ref {
        let key = (namespace.clone(), r.name.clone());
        let stored = match find(&bundle.config_maps, &key) {
            None => Err(missing(
                bundle,
                &bundle.config_maps,
                "ConfigMap",
                &namespace,
                &r.name,
            )),
            Some(map) => config_map_source(&map.object, &r.key),
        };
        (
            "spec.source.configMapRef",
            format!("ConfigMap {:?} key {:?}", r.name, r.key),
            stored,
        )
    } else {
        return Err(());
    };
    let stored = stored
        .and_then(|stored| check_csv_source_size(&what, stored.len()).map(|()| stored))
        .map_err(|message| diagnostics.error(&list.origin, path, message))?;
    match stored.parse() {
        Ok(data) => Ok(Some(data)),
        Err(e) => {
            diagnostics.error(
                &list.origin,
                path,
                format!("{what} is not readable CSV: {e}"),
            );
            Err(())
        }
    }
}

/// The parsed contacts of `list` — parsed as its file was read (`inline`), or from its CSV
/// source now — with a warning for each invalid entry: the controller skips them and syncs the
/// rest. Each phone is parsed once, for both.
fn parsed_contacts(
    list: &Loaded<ContactList>,
    inline: Option<&InlineContacts>,
    csv: Option<CsvData>,
    diagnostics: &mut Diagnostics,
) -> Arc<ParsedList> {
    let Some(data) = csv else {
        let Some(inline) = inline else {
            // Only `load` makes bundles, and it parses every list without a source.
            return Arc::new(crate::sync::parsed_list((&list.object, None)));
        };
        for (i, problem) in &inline.problems {
            diagnostics.warning(&list.origin, format!("spec.contacts[{i}]"), problem.clone());
        }
        return inline.parsed.clone();
    };
    let input = crate::sync::list_input(&list.object, Some(&data));
    let parsed = ParsedList::build_reporting(&input, |line, raw, e| {
        diagnostics.warning(
            &list.origin,
            "spec.source",
            format!("CSV line {line}: {}", phone_problem(raw, e)),
        );
    });
    for error in &data.errors {
        diagnostics.warning(
            &list.origin,
            "spec.source",
            format!("CSV line {}: {}", error.line, error.reason()),
        );
    }
    Arc::new(parsed)
}

/// Resolves every CallTask of the bundle. Tasks with errors are left out; the errors are in
/// `diagnostics`, together with warnings about contacts.
pub fn resolve(bundle: &Bundle, diagnostics: &mut Diagnostics) -> Vec<ResolvedTask> {
    // Each list parsed once, whichever tasks select it: inline ones were as their file was read.
    let mut sources: BTreeMap<Key, Result<Arc<ParsedList>, ()>> = BTreeMap::new();
    for list in &bundle.lists {
        let key = key_of(&list.object);
        let inline = bundle.inline.get(&key);
        let parsed = source(bundle, list, diagnostics)
            .map(|csv| parsed_contacts(list, inline, csv, diagnostics));
        sources.insert(key, parsed);
    }
    let mut credentials_of: BTreeMap<Key, Option<Credentials>> = BTreeMap::new();
    for provider in &bundle.providers {
        check_endpoint(provider, diagnostics);
        let found = credentials(bundle, provider, diagnostics);
        credentials_of.insert(key_of(&provider.object), found);
    }

    let mut resolved = Vec::new();
    // (claimed remote task, namespace, CallTask, CallProvider) of the tasks seen so far.
    let mut owners: Vec<(Option<RemoteTaskKey>, String, String, String)> = Vec::new();
    for task in &bundle.tasks {
        let errors_before = diagnostics.error_count();
        let namespace = task.object.namespace().unwrap_or_default();
        let provider_name = &task.object.spec.provider_ref.name;
        let provider = find(
            &bundle.providers,
            &(namespace.clone(), provider_name.clone()),
        );
        if provider.is_none() {
            diagnostics.error(
                &task.origin,
                "spec.providerRef.name",
                missing(
                    bundle,
                    &bundle.providers,
                    "CallProvider",
                    &namespace,
                    provider_name,
                ),
            );
        }
        let task_id = &task.object.spec.task_id;
        // The controller's rule: a remote task is claimed at the account the CallProvider
        // reaches, not by the CallProvider's name (`controller::ownership`).
        let claim = provider.and_then(|p| {
            let creds = credentials_of.get(&key_of(&p.object)).cloned().flatten();
            remote_task_key(&p.object.spec, creds.as_ref(), task_id)
        });
        if let Some((owner_ns, owner, owner_provider)) =
            owners.iter().find_map(|(key, ns, name, via)| {
                (claim.is_some() && key == &claim).then_some((ns, name, via))
            })
        {
            let owner = if *owner_ns == namespace {
                owner.clone()
            } else {
                format!("{owner_ns}/{owner}")
            };
            let through = if owner_provider == provider_name {
                String::new()
            } else {
                format!(" through CallProvider {owner_provider:?}")
            };
            diagnostics.error(
                &task.origin,
                "spec.taskId",
                format!(
                    "remote task {task_id:?} of CallProvider {provider_name:?} is already managed by CallTask {owner:?}{through}"
                ),
            );
        }
        owners.push((
            claim,
            namespace.clone(),
            task.object.name_any(),
            provider_name.clone(),
        ));
        if let Err(e) = list_selector(&task.object) {
            diagnostics.error(&task.origin, "spec.contactLists.selector", e.to_string());
        }
        // The controller's rule (a named list that does not exist stops the sync).
        let listed = bundle.lists.iter().map(|l| &l.object);
        for name in missing_named_lists(&task.object, listed) {
            diagnostics.error(
                &task.origin,
                "spec.contactLists.names",
                format!(
                    "{}; a sync without it would remove its contacts",
                    missing(bundle, &bundle.lists, "ContactList", &namespace, &name)
                ),
            );
        }
        let mut selected: Vec<&Loaded<ContactList>> = bundle
            .lists
            .iter()
            .filter(|l| task_selects_list(&task.object, &l.object))
            .collect();
        selected.sort_by_key(|l| l.object.name_any());
        if selected.is_empty() {
            diagnostics.warning(
                &task.origin,
                "spec.contactLists",
                "selects no ContactList: a sync would remove every contact it added",
            );
        }
        let mut lists = Vec::with_capacity(selected.len());
        for list in selected {
            match sources.get(&key_of(&list.object)) {
                Some(Ok(parsed)) => lists.push(ResolvedList {
                    list: list.object.clone(),
                    parsed: parsed.clone(),
                }),
                _ => diagnostics.error(
                    &task.origin,
                    "spec.contactLists",
                    format!(
                        "selects ContactList {:?}, whose source cannot be read (see above)",
                        list.object.name_any()
                    ),
                ),
            }
        }
        let creds =
            provider.and_then(|p| credentials_of.get(&key_of(&p.object)).cloned().flatten());
        match (provider, creds) {
            (Some(provider), Some(credentials)) if diagnostics.error_count() == errors_before => {
                resolved.push(ResolvedTask {
                    origin: task.origin.clone(),
                    task: task.object.clone(),
                    provider: provider.object.clone(),
                    credentials,
                    lists,
                })
            }
            (Some(_), None) if diagnostics.error_count() == errors_before => diagnostics.error(
                &task.origin,
                "spec.providerRef.name",
                format!("CallProvider {provider_name:?} has no usable credentials (see above)"),
            ),
            _ => {}
        }
    }
    resolved
}

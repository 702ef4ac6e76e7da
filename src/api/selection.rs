//! Which ContactLists a CallTask selects (label selectors checked as the API server would,
//! `names` that must exist), and which CallTasks an event concerns: pure functions over the
//! objects, shared by the controller (its watches, `steps/load`) and the CLI (`cli::files`).
use kube::ResourceExt;
use kube::core::{Selector, SelectorExt};

use crate::api::{CallProvider, CallTask, ContactList};

/// A CallTask's ContactList selector that Kubernetes accepted but kube cannot parse.
#[derive(Debug, thiserror::Error)]
#[error("spec.contactLists.selector is not a valid label selector: {0}")]
pub struct InvalidSelector(String);

/// The parsed label selector of a CallTask, if it has one. Checked first by the rules the API
/// server applies to built-in selectors (a CRD's schema does not): kube would otherwise read
/// `Exists` with values as `Exists` and `In` without values as "nothing", silently.
pub fn list_selector(task: &CallTask) -> Result<Option<Selector>, InvalidSelector> {
    let Some(selector) = task.spec.contact_lists.selector.clone() else {
        return Ok(None);
    };
    check_selector(&selector).map_err(InvalidSelector)?;
    Selector::try_from(selector)
        .map(Some)
        .map_err(|e| InvalidSelector(e.to_string()))
}

fn check_selector(
    selector: &k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector,
) -> Result<(), String> {
    for (key, value) in selector.match_labels.iter().flatten() {
        check_label_key(key)?;
        check_label_value(key, value)?;
    }
    for expr in selector.match_expressions.iter().flatten() {
        check_label_key(&expr.key)?;
        let values = expr.values.as_deref().unwrap_or_default();
        match expr.operator.as_str() {
            "In" | "NotIn" if values.is_empty() => {
                return Err(format!(
                    "operator {} on key {:?} needs at least one value",
                    expr.operator, expr.key
                ));
            }
            "Exists" | "DoesNotExist" if !values.is_empty() => {
                return Err(format!(
                    "operator {} on key {:?} takes no values",
                    expr.operator, expr.key
                ));
            }
            "In" | "NotIn" | "Exists" | "DoesNotExist" => {}
            other => {
                return Err(format!(
                    "unknown operator {other:?} on key {:?} (In, NotIn, Exists or DoesNotExist)",
                    expr.key
                ));
            }
        }
        for value in values {
            check_label_value(&expr.key, value)?;
        }
    }
    Ok(())
}

/// A label name part: at most 63 characters, alphanumeric at both ends, `-_.` inside.
fn label_name_ok(name: &str) -> bool {
    let alnum = |c: char| c.is_ascii_alphanumeric();
    name.len() <= 63
        && name.starts_with(alnum)
        && name.ends_with(alnum)
        && name
            .chars()
            .all(|c| alnum(c) || matches!(c, '-' | '_' | '.'))
}

/// `[prefix/]name`: the prefix a DNS subdomain (lowercase), the name as [`label_name_ok`].
fn check_label_key(key: &str) -> Result<(), String> {
    let (prefix, name) = match key.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    let dns_label = |part: &str| {
        !part.is_empty()
            && part.len() <= 63
            && part.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
            && part.ends_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
            && part
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    };
    let prefix_ok = prefix.is_none_or(|p| p.len() <= 253 && p.split('.').all(dns_label));
    if !prefix_ok || name.is_empty() || !label_name_ok(name) {
        return Err(format!("{key:?} is not a valid label key"));
    }
    Ok(())
}

fn check_label_value(key: &str, value: &str) -> Result<(), String> {
    if value.is_empty() || label_name_ok(value) {
        Ok(())
    } else {
        Err(format!("{value:?} is not a valid value for label {key:?}"))
    }
}

/// Whether `task` selects `list`: same namespace, and named in `names` or matched by `selector`.
/// A task with an unparsable selector selects only what it names.
pub fn task_selects_list(task: &CallTask, list: &ContactList) -> bool {
    if task.namespace() != list.namespace() {
        return false;
    }
    let name = list.name_any();
    let named = task
        .spec
        .contact_lists
        .names
        .as_ref()
        .is_some_and(|names| names.contains(&name));
    named || matches!(list_selector(task), Ok(Some(selector)) if selector.matches(list.labels()))
}

/// The names in `spec.contactLists.names` that no ContactList in the task's namespace has, in
/// the order written. A named list that does not exist is not an empty list: a sync without it
/// would remove every contact it held (a deleted or renamed list, a typo). The controller and
/// `callsync plan|apply` both refuse to sync a task while this is not empty.
pub fn missing_named_lists<'a>(
    task: &CallTask,
    lists: impl IntoIterator<Item = &'a ContactList>,
) -> Vec<String> {
    let Some(names) = task.spec.contact_lists.names.as_ref() else {
        return Vec::new();
    };
    let present: std::collections::BTreeSet<String> = lists
        .into_iter()
        .filter(|list| list.namespace() == task.namespace())
        .map(|list| list.name_any())
        .collect();
    let mut missing: Vec<String> = Vec::new();
    for name in names {
        if !present.contains(name) && !missing.contains(name) {
            missing.push(name.clone());
        }
    }
    missing
}

/// The ContactLists `task` selects, sorted by name (the desired-set conflict rule relies on a
/// stable order).
pub fn selected_lists<'a>(
    task: &CallTask,
    lists: impl IntoIterator<Item = &'a ContactList>,
) -> Vec<&'a ContactList> {
    let mut selected: Vec<&ContactList> = lists
        .into_iter()
        .filter(|list| task_selects_list(task, list))
        .collect();
    selected.sort_by_key(|list| list.name_any());
    selected
}

/// CallTasks that select `list`.
pub fn tasks_for_list<'a>(
    tasks: impl IntoIterator<Item = &'a CallTask>,
    list: &ContactList,
) -> Vec<&'a CallTask> {
    tasks
        .into_iter()
        .filter(|task| task_selects_list(task, list))
        .collect()
}

/// CallTasks that use `provider`.
pub fn tasks_for_provider<'a>(
    tasks: impl IntoIterator<Item = &'a CallTask>,
    provider: &CallProvider,
) -> Vec<&'a CallTask> {
    tasks
        .into_iter()
        .filter(|task| {
            task.namespace() == provider.namespace()
                && task.spec.provider_ref.name == provider.name_any()
        })
        .collect()
}

/// Names of the Secrets a CallProvider reads its credentials from.
pub fn provider_secret_names(provider: &CallProvider) -> Vec<&str> {
    let spec = &provider.spec;
    let mut names = Vec::new();
    if let Some(account) = &spec.longlonglong {
        names.push(account.token_secret_ref.name.as_str());
    }
    if let Some(account) = &spec.callbot {
        names.push(account.credentials_secret_ref.name.as_str());
    }
    if let Some(account) = &spec.nxlink {
        names.push(account.credentials_secret_ref.name.as_str());
    }
    names
}

/// CallProviders that read the Secret `namespace/name`.
pub fn providers_for_secret<'a>(
    providers: impl IntoIterator<Item = &'a CallProvider>,
    namespace: &str,
    name: &str,
) -> Vec<&'a CallProvider> {
    providers
        .into_iter()
        .filter(|p| p.namespace().as_deref() == Some(namespace))
        .filter(|p| provider_secret_names(p).contains(&name))
        .collect()
}

/// ContactLists whose `source` reads the Secret or ConfigMap `namespace/name`.
pub fn lists_for_source<'a>(
    lists: impl IntoIterator<Item = &'a ContactList>,
    namespace: &str,
    name: &str,
) -> Vec<&'a ContactList> {
    lists
        .into_iter()
        .filter(|l| l.namespace().as_deref() == Some(namespace))
        .filter(|l| {
            l.spec.source.as_ref().is_some_and(|source| {
                source.secret_ref.as_ref().is_some_and(|r| r.name == name)
                    || source
                        .config_map_ref
                        .as_ref()
                        .is_some_and(|r| r.name == name)
            })
        })
        .collect()
}

#[cfg(test)]
mod selector_tests {
    use super::*;

    #[test]
    fn label_keys_and_values() {
        for key in ["case", "callsync.io/campaign", "a.b-c_d", "x"] {
            assert!(check_label_key(key).is_ok(), "{key}");
        }
        for key in [
            "bad key!",
            "",
            "-a",
            "a/",
            "/a",
            "Exa mple.com/a",
            &"k".repeat(64),
        ] {
            assert!(check_label_key(key).is_err(), "{key}");
        }
        assert!(check_label_value("k", "").is_ok());
        assert!(check_label_value("k", "v1.2_3").is_ok());
        assert!(check_label_value("k", "no spaces").is_err());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn task(ns: &str, contact_lists: serde_json::Value) -> CallTask {
        serde_json::from_value(json!({
            "apiVersion": "callsync.io/v1alpha1", "kind": "CallTask",
            "metadata": {"name": "t", "namespace": ns},
            "spec": {"providerRef": {"name": "acct"}, "taskId": "1", "contactLists": contact_lists}
        }))
        .expect("task")
    }

    fn list(ns: &str, name: &str, labels: serde_json::Value) -> ContactList {
        serde_json::from_value(json!({
            "apiVersion": "callsync.io/v1alpha1", "kind": "ContactList",
            "metadata": {"name": name, "namespace": ns, "labels": labels},
            "spec": {"contacts": []}
        }))
        .expect("list")
    }

    #[test]
    fn selects_by_label_and_by_name_within_the_namespace_only() {
        let t = task(
            "a",
            json!({"selector": {"matchLabels": {"campaign": "x"}}, "names": ["extra"]}),
        );
        assert!(task_selects_list(
            &t,
            &list("a", "l1", json!({"campaign": "x"}))
        ));
        assert!(task_selects_list(&t, &list("a", "extra", json!({}))));
        assert!(!task_selects_list(
            &t,
            &list("a", "l2", json!({"campaign": "y"}))
        ));
        assert!(!task_selects_list(
            &t,
            &list("b", "l1", json!({"campaign": "x"}))
        ));
        assert!(!task_selects_list(&t, &list("b", "extra", json!({}))));
    }

    #[test]
    fn match_expressions_work() {
        let t = task(
            "a",
            json!({"selector": {"matchExpressions": [
                {"key": "campaign", "operator": "In", "values": ["x", "y"]},
                {"key": "paused", "operator": "DoesNotExist"}
            ]}}),
        );
        assert!(task_selects_list(
            &t,
            &list("a", "l", json!({"campaign": "y"}))
        ));
        assert!(!task_selects_list(
            &t,
            &list("a", "l", json!({"campaign": "y", "paused": "true"}))
        ));
    }

    #[test]
    fn named_lists_must_exist_in_the_task_namespace() {
        let t = task(
            "a",
            json!({"names": ["x", "y", "x", "z"], "selector": {"matchLabels": {"c": "1"}}}),
        );
        let lists = [list("a", "y", json!({})), list("b", "x", json!({}))];
        assert_eq!(missing_named_lists(&t, &lists), ["x", "z"]);
        let by_selector = task("a", json!({"selector": {"matchLabels": {"c": "1"}}}));
        assert!(missing_named_lists(&by_selector, &lists).is_empty());
    }

    #[test]
    fn selected_lists_are_sorted_by_name() {
        let t = task("a", json!({"names": ["b", "a", "c"]}));
        let lists = [
            list("a", "c", json!({})),
            list("a", "a", json!({})),
            list("a", "b", json!({})),
        ];
        let names: Vec<String> = selected_lists(&t, &lists)
            .iter()
            .map(|l| l.name_any())
            .collect();
        assert_eq!(names, ["a", "b", "c"]);
    }

    #[test]
    fn secrets_map_to_their_providers() {
        let provider: CallProvider = serde_json::from_value(json!({
            "apiVersion": "callsync.io/v1alpha1", "kind": "CallProvider",
            "metadata": {"name": "acct", "namespace": "a"},
            "spec": {"callbot": {"credentialsSecretRef": {"name": "cb"},
                     "orderCallbackUrl": "https://h/o", "callCallbackUrl": "https://h/c"}}
        }))
        .expect("provider");
        let providers = [provider];
        assert_eq!(providers_for_secret(&providers, "a", "cb").len(), 1);
        assert!(providers_for_secret(&providers, "b", "cb").is_empty());
        assert!(providers_for_secret(&providers, "a", "other").is_empty());
        let tasks = [
            task("a", json!({"names": ["x"]})),
            task("b", json!({"names": ["x"]})),
        ];
        assert_eq!(tasks_for_provider(&tasks, &providers[0]).len(), 1);
    }
}

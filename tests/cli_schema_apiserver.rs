//! `callsync validate` checks the CRD schemas offline (`cli::files::schema`). This test holds it
//! to the real kube-apiserver: for every callsync object in the examples and the broken
//! fixtures, the offline verdict (accept or refuse) equals the server's, with strict field
//! validation as `kubectl apply` uses.
mod support;

use callsync::cli::files::schema;
use kube::Api;
use kube::api::{DynamicObject, GroupVersionKind, Patch, PatchParams};
use kube::discovery::pinned_kind;
use serde::Deserialize;

fn yaml_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            yaml_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "yaml") {
            out.push(path);
        }
    }
}

/// Every callsync.io/v1alpha1 document of the examples and fixtures, as JSON.
fn documents() -> Vec<(String, serde_json::Value)> {
    let root = support::repo_root();
    let mut paths = Vec::new();
    yaml_files(&root.join("examples"), &mut paths);
    yaml_files(&root.join("tests/fixtures/broken"), &mut paths);
    paths.sort();
    let mut docs = Vec::new();
    for path in paths {
        let text = std::fs::read_to_string(&path).expect("read");
        for (i, doc) in serde_yaml::Deserializer::from_str(&text).enumerate() {
            // The invalid-YAML fixture stops here, as it does for the CLI.
            let Ok(value) = serde_yaml::Value::deserialize(doc) else {
                break;
            };
            let Ok(json) = serde_json::to_value(&value) else {
                continue;
            };
            if json["apiVersion"] == "callsync.io/v1alpha1" {
                docs.push((format!("{}#{}", path.display(), i + 1), json));
            }
        }
    }
    docs
}

#[tokio::test]
async fn offline_schema_checks_agree_with_the_api_server() {
    let (client, ns) = support::control_plane().test_namespace("cli-schema").await;
    let mut params = PatchParams::apply("callsync-cli-tests").validation_strict();
    params.dry_run = true;
    let mut refused = 0;
    let mut accepted = 0;
    let mut disagreements = Vec::new();
    for (origin, mut json) in documents() {
        let kind = json["kind"].as_str().expect("kind").to_owned();
        json["metadata"]["namespace"] = serde_json::Value::String(ns.clone());
        let offline = schema::check(&kind, &json);
        let object: DynamicObject = serde_json::from_value(json).expect("object");
        let name = object.metadata.name.clone().expect("name");
        let gvk = GroupVersionKind::gvk("callsync.io", "v1alpha1", &kind);
        let (resource, _) = pinned_kind(&client, &gvk).await.expect("kind is served");
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), &ns, &resource);
        let server = api.patch(&name, &params, &Patch::Apply(&object)).await;
        match (&server, offline.is_empty()) {
            (Ok(_), true) => accepted += 1,
            (Err(_), false) => refused += 1,
            (Ok(_), false) => disagreements.push(format!(
                "{origin}: the server accepts, callsync refuses: {offline:?}"
            )),
            (Err(e), true) => disagreements.push(format!(
                "{origin}: the server refuses ({e}), callsync accepts"
            )),
        }
    }
    assert!(disagreements.is_empty(), "{disagreements:#?}");
    // Both verdicts were exercised: the examples and the valid fixtures, and the schema-level
    // broken fixtures (two provider blocks, none, unknown field, wrong type, bad enum, out of
    // range, too many contacts, no taskId, no list selection, contacts and source).
    assert!(accepted >= 30, "accepted {accepted}");
    assert!(refused >= 10, "refused {refused}");
}

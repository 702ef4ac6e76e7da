//! One source of truth for the CRDs: the code generates them; `crds/` and the chart's
//! `files/crds/` hold exactly that output, and the chart's `templates/crds.yaml` renders those
//! files unchanged apart from the chart's labels and, with `crds.keep`, Helm's keep policy.
mod support;

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;
use support::tools::{helm_template, yaml_documents};

fn generated() -> BTreeMap<String, String> {
    callsync::api::crd_files()
        .expect("render CRDs")
        .into_iter()
        .collect()
}

fn yaml_files(dir: &Path) -> BTreeMap<String, String> {
    let mut files = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("read {dir:?}: {e}")) {
        let path = entry.expect("dir entry").path();
        if path.extension().is_some_and(|e| e == "yaml") {
            let name = path
                .file_name()
                .expect("file name")
                .to_string_lossy()
                .into_owned();
            files.insert(name, std::fs::read_to_string(&path).expect("read CRD file"));
        }
    }
    files
}

fn assert_same_files(folder: &str) {
    let generated = generated();
    let on_disk = yaml_files(&support::repo_root().join(folder));
    let stale: Vec<&String> = generated
        .keys()
        .chain(on_disk.keys())
        .filter(|name| generated.get(*name) != on_disk.get(*name))
        .collect();
    assert!(
        stale.is_empty(),
        "{folder}/ differs from the CRDs the code generates ({stale:?}); \
         regenerate with `make crds` and commit the result"
    );
}

#[test]
fn crds_folder_matches_generated_crds() {
    assert_same_files("crds");
}

#[test]
fn chart_crd_files_match_generated_crds() {
    assert_same_files("charts/callsync/files/crds");
    // Helm would install a crds/ folder on first install and never upgrade it; the CRDs are
    // templates now, and two copies would fight.
    assert!(
        !support::repo_root().join("charts/callsync/crds").exists(),
        "charts/callsync/crds/ is back; the CRDs belong in files/crds/ (templates/crds.yaml)"
    );
}

/// Numbers as f64: the generated YAML writes schema bounds as `1000.0` (they are float64 in the
/// CRD API too), `toYaml` writes `1000`; the apiserver reads both as the same number.
fn numbers_as_floats(value: Value) -> Value {
    match value {
        Value::Number(n) => serde_json::json!(n.as_f64().expect("finite number")),
        Value::Array(items) => Value::Array(items.into_iter().map(numbers_as_floats).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k, numbers_as_floats(v)))
                .collect(),
        ),
        other => other,
    }
}

/// The CRDs `helm template` renders, by name.
fn rendered_crds(args: &[&str]) -> BTreeMap<String, Value> {
    yaml_documents(&helm_template("callsync", "callsync-system", args).expect("render"))
        .into_iter()
        .filter(|doc| doc["kind"] == "CustomResourceDefinition")
        .map(|doc| {
            let name = doc["metadata"]["name"].as_str().expect("name").to_owned();
            (name, doc)
        })
        .collect()
}

#[test]
fn chart_renders_the_generated_crds_with_labels_and_the_keep_policy() {
    let rendered = rendered_crds(&[]);
    let generated: Vec<Value> = generated()
        .values()
        .flat_map(|text| yaml_documents(text))
        .collect();
    assert_eq!(rendered.len(), generated.len(), "{:?}", rendered.keys());
    for crd in generated {
        let name = crd["metadata"]["name"].as_str().expect("name").to_owned();
        let mut doc = rendered
            .get(&name)
            .unwrap_or_else(|| panic!("{name} is not rendered"))
            .clone();
        let metadata = doc["metadata"].as_object_mut().expect("metadata");
        assert_eq!(
            metadata.remove("annotations"),
            Some(serde_json::json!({"helm.sh/resource-policy": "keep"})),
            "{name}: crds.keep defaults to true"
        );
        let labels = metadata.remove("labels").expect("labels");
        assert_eq!(labels["app.kubernetes.io/part-of"], "callsync", "{name}");
        assert_eq!(labels["app.kubernetes.io/managed-by"], "Helm", "{name}");
        // Everything else is the generated CRD, value for value (the template goes through
        // fromYaml/toYaml: no number, string or key may change on the way).
        assert_eq!(
            numbers_as_floats(doc),
            numbers_as_floats(crd),
            "{name}: the rendered CRD differs from the generated one"
        );
    }

    let without_keep = rendered_crds(&["--set", "crds.keep=false"]);
    assert_eq!(without_keep.len(), 3);
    for (name, doc) in &without_keep {
        assert!(
            doc["metadata"].get("annotations").is_none(),
            "{name}: crds.keep=false must not keep the CRD on uninstall"
        );
    }
    assert!(
        rendered_crds(&["--set", "crds.enabled=false"]).is_empty(),
        "crds.enabled=false renders no CRD"
    );
}

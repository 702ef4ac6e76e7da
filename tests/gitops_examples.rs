//! examples/gitops/: the Flux and Argo CD manifests that install the chart and the quick start.
//! Every YAML file there parses, and what the manifests point at is what the repository holds:
//! the paths exist, the chart path and name match charts/callsync/Chart.yaml, the repository URL
//! is the chart's home, every value set exists in the chart's values.yaml, the watched namespace
//! is the quick start's, and the Flux health checks are the ones docs/gitops.md documents (which
//! tests/gitops.rs evaluates). No Flux or Argo CD runs here: this checks references, not a sync.
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_yaml::Value;

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read_dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            yaml_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(path);
        }
    }
}

/// Every document of a multi-document YAML file, empty ones left out.
fn documents(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).expect("read");
    serde_yaml::Deserializer::from_str(&text)
        .map(|doc| Value::deserialize(doc).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .filter(|v| !v.is_null())
        .collect()
}

fn str_at<'a>(value: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut at = value;
    for key in path {
        at = at.get(*key)?;
    }
    at.as_str()
}

fn must<'a>(value: &'a Value, path: &[&str]) -> &'a str {
    str_at(value, path).unwrap_or_else(|| panic!("no {} in {value:?}", path.join(".")))
}

/// Every document under examples/gitops with the file it came from.
fn manifests() -> Vec<(PathBuf, Value)> {
    let mut files = Vec::new();
    yaml_files(&repo_root().join("examples/gitops"), &mut files);
    files.sort();
    assert!(!files.is_empty(), "examples/gitops holds no YAML");
    files
        .into_iter()
        .flat_map(|f| documents(&f).into_iter().map(move |d| (f.clone(), d)))
        .collect()
}

fn of_kind<'a>(all: &'a [(PathBuf, Value)], kind: &str) -> Vec<&'a Value> {
    all.iter()
        .filter(|(_, d)| str_at(d, &["kind"]) == Some(kind))
        .map(|(_, d)| d)
        .collect()
}

fn chart() -> Value {
    documents(&repo_root().join("charts/callsync/Chart.yaml")).remove(0)
}

/// A repository path as Flux (`./x`) or Argo CD (`x`) writes it, checked to exist.
fn existing(path: &str) -> PathBuf {
    let full = repo_root().join(path.trim_start_matches("./"));
    assert!(full.exists(), "{path} does not exist in the repository");
    full
}

/// The key paths `values` sets, each checked to exist in the chart's values.yaml. A list or a
/// scalar is a leaf: its key must exist, its content is the schema's business (tests/chart.rs).
fn assert_values_exist(values: &Value, defaults: &Value, at: &str) {
    let Some(map) = values.as_mapping() else {
        return;
    };
    for (key, value) in map {
        let key = key.as_str().expect("string keys");
        let path = format!("{at}{key}");
        let default = defaults
            .get(key)
            .unwrap_or_else(|| panic!("{path} is not a key of charts/callsync/values.yaml"));
        if default.is_mapping() {
            assert_values_exist(value, default, &format!("{path}."));
        }
    }
}

/// The namespaces of the quick start's manifests.
fn quickstart_namespaces() -> BTreeSet<String> {
    let mut files = Vec::new();
    yaml_files(&repo_root().join("examples/quickstart"), &mut files);
    files
        .iter()
        .flat_map(|f| documents(f))
        .map(|d| must(&d, &["metadata", "namespace"]).to_owned())
        .collect()
}

#[test]
fn every_manifest_parses_and_names_its_kind() {
    let all = manifests();
    for (file, doc) in &all {
        for field in [&["apiVersion"][..], &["kind"], &["metadata", "name"]] {
            assert!(
                str_at(doc, field).is_some(),
                "{}: a document without {}",
                file.display(),
                field.join(".")
            );
        }
    }
    for kind in [
        "GitRepository",
        "HelmRelease",
        "Kustomization",
        "Application",
    ] {
        assert!(
            !of_kind(&all, kind).is_empty(),
            "no {kind} in examples/gitops"
        );
    }
}

#[test]
fn flux_points_at_the_chart_and_the_quick_start_in_this_repository() {
    let all = manifests();
    let chart = chart();
    let home = must(&chart, &["home"]);
    let defaults = documents(&repo_root().join("charts/callsync/values.yaml")).remove(0);

    let sources: Vec<(String, String)> = of_kind(&all, "GitRepository")
        .into_iter()
        .map(|g| {
            assert_eq!(must(g, &["spec", "url"]), home, "the chart's home");
            (
                must(g, &["metadata", "namespace"]).to_owned(),
                must(g, &["metadata", "name"]).to_owned(),
            )
        })
        .collect();
    let source_of = |doc: &Value, at: &[&str], default_namespace: &str| {
        let source = doc
            .get("spec")
            .and_then(|s| at.iter().try_fold(s, |v, k| v.get(*k)))
            .expect("sourceRef");
        assert_eq!(must(source, &["kind"]), "GitRepository");
        let key = (
            str_at(source, &["namespace"])
                .unwrap_or(default_namespace)
                .to_owned(),
            must(source, &["name"]).to_owned(),
        );
        assert!(sources.contains(&key), "no GitRepository {key:?}");
    };

    let kustomizations = of_kind(&all, "Kustomization");
    let names: BTreeSet<&str> = kustomizations
        .iter()
        .map(|k| must(k, &["metadata", "name"]))
        .collect();
    let mut applied = BTreeSet::new();
    for k in &kustomizations {
        let path = must(k, &["spec", "path"]);
        applied.insert(existing(path));
        source_of(k, &["sourceRef"], must(k, &["metadata", "namespace"]));
        for dependency in k["spec"]
            .get("dependsOn")
            .and_then(Value::as_sequence)
            .into_iter()
            .flatten()
        {
            let name = must(dependency, &["name"]);
            assert!(
                names.contains(name),
                "dependsOn {name}: no such Kustomization"
            );
        }
    }
    assert!(
        applied.contains(&repo_root().join("examples/quickstart")),
        "no Kustomization applies examples/quickstart: {applied:?}"
    );

    let releases = of_kind(&all, "HelmRelease");
    assert_eq!(releases.len(), 1);
    let release = releases[0];
    let chart_dir = existing(must(release, &["spec", "chart", "spec", "chart"]));
    assert_eq!(chart_dir, repo_root().join("charts/callsync"));
    assert_eq!(must(&chart, &["name"]), "callsync");
    source_of(
        release,
        &["chart", "spec", "sourceRef"],
        must(release, &["metadata", "namespace"]),
    );
    // A Kustomization applies the folder holding the HelmRelease.
    let (release_file, _) = all
        .iter()
        .find(|(_, d)| std::ptr::eq(d, release))
        .expect("the release's file");
    assert!(
        applied.iter().any(|dir| release_file.starts_with(dir)),
        "no Kustomization applies {}",
        release_file.display()
    );
    let values = &release["spec"]["values"];
    assert_values_exist(values, &defaults, "");
    assert_watches_the_quick_start(values);
}

fn assert_watches_the_quick_start(values: &Value) {
    let watched: BTreeSet<String> = values["watchNamespaces"]
        .as_sequence()
        .expect("watchNamespaces")
        .iter()
        .map(|n| n.as_str().expect("a name").to_owned())
        .collect();
    let needed = quickstart_namespaces();
    assert!(
        needed.is_subset(&watched),
        "the quick start lives in {needed:?}, the release watches {watched:?}"
    );
}

#[test]
fn argo_cd_points_at_the_chart_and_the_quick_start_in_this_repository() {
    let all = manifests();
    let chart = chart();
    let defaults = documents(&repo_root().join("charts/callsync/values.yaml")).remove(0);
    let applications = of_kind(&all, "Application");
    let mut paths = BTreeSet::new();
    for app in &applications {
        assert_eq!(
            must(app, &["spec", "source", "repoURL"]),
            must(&chart, &["home"])
        );
        let path = must(app, &["spec", "source", "path"]);
        existing(path);
        paths.insert(path.to_owned());
        let namespace = must(app, &["spec", "destination", "namespace"]);
        if path == "charts/callsync" {
            let chart_file = documents(&existing("charts/callsync/Chart.yaml")).remove(0);
            assert_eq!(must(&chart_file, &["name"]), "callsync");
            let values = &app["spec"]["source"]["helm"]["valuesObject"];
            assert_values_exist(values, &defaults, "");
            assert_watches_the_quick_start(values);
        } else {
            assert_eq!(path, "examples/quickstart");
            assert_eq!(
                quickstart_namespaces(),
                BTreeSet::from([namespace.to_owned()]),
                "the quick start's Application deploys to its namespace"
            );
        }
    }
    assert_eq!(
        paths,
        BTreeSet::from([
            "charts/callsync".to_owned(),
            "examples/quickstart".to_owned()
        ])
    );
}

#[test]
fn the_flux_health_checks_are_the_documented_ones() {
    let guide = std::fs::read_to_string(repo_root().join("docs/gitops.md")).expect("gitops.md");
    let marker = "<!-- test: flux-kustomization -->\n```yaml\n";
    let start = guide.find(marker).expect("the documented Kustomization") + marker.len();
    let end = start + guide[start..].find("```").expect("end of the block");
    let documented: Value = serde_yaml::from_str(&guide[start..end]).expect("documented YAML");
    let all = manifests();
    let with_checks: Vec<&Value> = of_kind(&all, "Kustomization")
        .into_iter()
        .filter(|k| k["spec"].get("healthCheckExprs").is_some())
        .collect();
    assert_eq!(with_checks.len(), 1, "the quick start's Kustomization");
    assert_eq!(
        with_checks[0]["spec"]["healthCheckExprs"],
        documented["spec"]["healthCheckExprs"]
    );
}

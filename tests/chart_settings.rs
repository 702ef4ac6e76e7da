//! The chart's operator settings: the controller's concurrency and extraArgs (real flags of
//! `callsync controller`, parsed by its own parser), extra volumes and mounts (the CA bundle
//! example of `examples/chart/`), the proxy environment, overridable pod and container security
//! contexts (the OpenShift example), each rendered, accepted by the real kube-apiserver
//! (`--dry-run=server --validate=strict`) and, for the pod, admitted under the restricted Pod
//! Security Standard; malformed values refused by `values.schema.json` naming the field; and the
//! sizing table of docs/install.md held to BENCHMARKS.md and to the chart's default resources.
mod support;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use clap::Parser;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::Api;
use kube::api::PostParams;
use serde_json::{Value, json};
use support::tools::{helm_template, run, yaml_documents};

fn example(name: &str) -> String {
    support::repo_root()
        .join("examples/chart")
        .join(name)
        .to_str()
        .expect("utf-8 path")
        .to_owned()
}

/// A values file under target/ (test output belongs there).
fn values_file(name: &str, text: &str) -> String {
    let dir = support::repo_root()
        .join("target/chart-settings")
        .join(std::process::id().to_string());
    std::fs::create_dir_all(&dir).expect("values folder");
    let path: PathBuf = dir.join(name);
    std::fs::write(&path, text).expect("write values file");
    path.to_str().expect("utf-8 path").to_owned()
}

/// Every setting at once: the three examples plus concurrency and extraArgs.
fn all_settings() -> Vec<String> {
    let own = values_file(
        "settings.yaml",
        "concurrency: 8\nextraArgs: [\"--progress-seconds=10\"]\n",
    );
    [
        "provider-ca-values.yaml",
        "proxy-values.yaml",
        "openshift-values.yaml",
    ]
    .into_iter()
    .flat_map(|file| ["-f".to_owned(), example(file)])
    .chain(["-f".to_owned(), own])
    .collect()
}

fn deployment(namespace: &str, args: &[String]) -> Value {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut args = args;
    args.extend(["--show-only", "templates/deployment.yaml"]);
    yaml_documents(&helm_template("callsync", namespace, &args).expect("render"))
        .into_iter()
        .next()
        .expect("the Deployment")
}

fn env_of(container: &Value) -> BTreeMap<String, String> {
    container["env"]
        .as_array()
        .expect("env")
        .iter()
        .filter_map(|e| {
            Some((
                e["name"].as_str()?.to_owned(),
                e["value"].as_str()?.to_owned(),
            ))
        })
        .collect()
}

/// The container's args, as `callsync` itself parses them.
fn parsed_controller_args(container: &Value) -> callsync::cli::controller::ControllerArgs {
    let args: Vec<&str> = container["args"]
        .as_array()
        .expect("args")
        .iter()
        .map(|a| a.as_str().expect("string arg"))
        .collect();
    let cli = callsync::cli::Cli::try_parse_from(std::iter::once("callsync").chain(args.clone()))
        .unwrap_or_else(|e| panic!("`callsync {}` does not parse: {e}", args.join(" ")));
    match cli.command {
        callsync::cli::Command::Controller(args) => args,
        other => panic!("the chart runs {other:?}, not the controller"),
    }
}

#[test]
fn defaults_pass_concurrency_and_leave_the_optional_settings_out() {
    let deployment = deployment("callsync-system", &[]);
    let pod = &deployment["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    assert_eq!(parsed_controller_args(container).concurrency, 4);
    let env = env_of(container);
    for name in ["HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "SSL_CERT_DIR"] {
        assert!(!env.contains_key(name), "{name} set by default: {env:?}");
    }
    assert!(pod.get("volumes").is_none(), "{pod}");
    assert!(container.get("volumeMounts").is_none(), "{container}");
    // The image's user, fixed by default (the Dockerfile's USER 65532:65532).
    assert_eq!(pod["securityContext"]["runAsUser"], 65532);
    assert_eq!(pod["securityContext"]["runAsGroup"], 65532);
    assert_eq!(
        container["securityContext"],
        json!({
            "allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true,
            "runAsNonRoot": true, "privileged": false, "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"}
        })
    );
}

#[test]
fn operator_settings_render_into_the_controller_pod() {
    let rendered = deployment("callsync-system", &all_settings());
    let pod = &rendered["spec"]["template"]["spec"];
    let container = &pod["containers"][0];

    // concurrency and extraArgs are flags `callsync controller` knows.
    let args = parsed_controller_args(container);
    assert_eq!(args.concurrency, 8);
    assert_eq!(args.progress_seconds, 10, "extraArgs reach the controller");

    // The CA bundle: the ConfigMap volume, its mount, and the TLS roots pointing at both.
    assert_eq!(
        pod["volumes"],
        json!([{"name": "provider-ca", "configMap": {"name": "provider-ca"}}])
    );
    assert_eq!(
        container["volumeMounts"],
        json!([{"name": "provider-ca", "mountPath": "/etc/callsync/provider-ca", "readOnly": true}])
    );
    let env = env_of(container);
    assert_eq!(env["SSL_CERT_DIR"], "/etc/callsync/provider-ca");
    assert_eq!(env["SSL_CERT_FILE"], "/etc/ssl/certs/ca-certificates.crt");

    // The proxy.
    assert_eq!(env["HTTPS_PROXY"], "http://proxy.internal.example:3128");
    assert_eq!(env["NO_PROXY"], "10.0.0.0/8,.svc,.cluster.local");
    assert!(!env.contains_key("HTTP_PROXY"), "empty values set nothing");

    // OpenShift: the UID and GID are left to the platform, the rest of the profile stays.
    let pod_sc = &pod["securityContext"];
    assert!(pod_sc.get("runAsUser").is_none(), "{pod_sc}");
    assert!(pod_sc.get("runAsGroup").is_none(), "{pod_sc}");
    assert_eq!(pod_sc["runAsNonRoot"], true);
    assert_eq!(pod_sc["seccompProfile"]["type"], "RuntimeDefault");
    assert_eq!(
        container["securityContext"]["allowPrivilegeEscalation"],
        false
    );

    // A container security context is replaced key by key, like any Helm map.
    let writable = deployment(
        "callsync-system",
        &[
            "--set".to_owned(),
            "containerSecurityContext.readOnlyRootFilesystem=false".to_owned(),
        ],
    );
    let sc = &writable["spec"]["template"]["spec"]["containers"][0]["securityContext"];
    assert_eq!(sc["readOnlyRootFilesystem"], false);
    assert_eq!(sc["capabilities"]["drop"], json!(["ALL"]));
}

/// A values file with mistakes: each is refused by values.schema.json, and helm names the field.
#[test]
fn malformed_values_file_is_refused_naming_each_field() {
    let bad = values_file(
        "malformed.yaml",
        "\
concurrency: eight
extraArgs: --progress-seconds=10
extraVolumeMounts:
  - name: provider-ca
proxy:
  https: proxy.internal.example:3128
  httpsProxy: http://proxy.internal.example:3128
podSecurityContext:
  runAsUser: \"1000\"
containerSecurityContext:
  readOnlyRootFileSystem: true
crds:
  keep: \"yes\"
",
    );
    let err = helm_template("callsync", "callsync-system", &["-f", &bad])
        .expect_err("a malformed values file must be refused");
    for named in [
        "at '/concurrency': got string, want integer",
        "at '/extraArgs': got string, want array",
        "at '/extraVolumeMounts/0': missing property 'mountPath'",
        "at '/proxy/https'",
        "additional properties 'httpsProxy' not allowed",
        "at '/podSecurityContext/runAsUser'",
        "additional properties 'readOnlyRootFileSystem' not allowed",
        "at '/crds/keep': got string, want boolean",
    ] {
        assert!(err.contains(named), "helm does not say {named:?}:\n{err}");
    }
    // Values out of range, one at a time.
    for (set, named) in [
        ("concurrency=0", "/concurrency"),
        ("extraArgs={progress-seconds=10}", "/extraArgs/0"),
        (
            "crds.enable=true",
            "additional properties 'enable' not allowed",
        ),
    ] {
        let err = helm_template("callsync", "callsync-system", &["--set", set])
            .expect_err("out of range");
        assert!(err.contains(named), "--set {set}: {err}");
    }
}

fn kubectl(args: &[&str], stdin: &str) -> String {
    let cp = support::control_plane();
    let output = run(
        Command::new(
            cp.kubectl()
                .expect("kubectl is built by scripts/build-controlplane.sh"),
        )
        .arg("--kubeconfig")
        .arg(&cp.kubeconfig)
        .args(args),
        stdin.as_bytes(),
    );
    assert!(
        output.status.success(),
        "kubectl {args:?}:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// With every setting on, the apiserver accepts the whole chart (strict validation: a misplaced
/// field would be an error), and the pod — with the UID left to the platform — is admitted in a
/// namespace enforcing the restricted Pod Security Standard.
#[tokio::test]
async fn operator_settings_pass_the_apiserver_and_the_restricted_standard() {
    let (client, ns) = support::control_plane().test_namespace("settings").await;
    let restricted = format!("{ns}-restricted");
    Api::<Namespace>::all(client.clone())
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "metadata": {"name": restricted, "labels": {
                    "pod-security.kubernetes.io/enforce": "restricted",
                    "pod-security.kubernetes.io/enforce-version": "latest"
                }}
            }))
            .expect("namespace"),
        )
        .await
        .expect("create restricted namespace");

    let settings = all_settings();
    let mut args: Vec<&str> = settings.iter().map(String::as_str).collect();
    // The CRDs are the test fixture's (support::install_crds); the rest is the whole chart.
    args.extend(["--set", "crds.enabled=false"]);
    let rendered = helm_template("callsync", &restricted, &args).expect("render");
    let out = kubectl(
        &["apply", "--dry-run=server", "--validate=strict", "-f", "-"],
        &rendered,
    );
    let accepted = out
        .lines()
        .filter(|l| l.ends_with("(server dry run)"))
        .count();
    assert_eq!(accepted, yaml_documents(&rendered).len(), "{out}");

    let template = &deployment(&restricted, &settings)["spec"]["template"];
    let pod: Pod = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "callsync-settings", "labels": template["metadata"]["labels"]},
        "spec": template["spec"],
    }))
    .expect("pod");
    Api::<Pod>::namespaced(client, &restricted)
        .create(
            &PostParams {
                dry_run: true,
                ..Default::default()
            },
            &pod,
        )
        .await
        .unwrap_or_else(|e| {
            panic!("the pod with every setting violates the restricted standard: {e}")
        });
}

/// One row of the sizing table: contacts, expected peak (MiB), request, limit (MiB), and whether
/// the peak was measured.
struct SizingRow {
    contacts: u64,
    peak_mib: u64,
    measured: bool,
    request_mib: u64,
    limit_mib: u64,
    default: bool,
}

fn mebibytes(quantity: &str) -> u64 {
    let quantity = quantity.trim().trim_matches('*').trim_matches('`');
    if let Some(gi) = quantity.strip_suffix("Gi") {
        gi.parse::<u64>().expect("Gi") * 1024
    } else {
        quantity
            .strip_suffix("Mi")
            .unwrap_or_else(|| panic!("not Mi or Gi: {quantity}"))
            .parse()
            .expect("Mi")
    }
}

fn sizing_table() -> Vec<SizingRow> {
    let text = std::fs::read_to_string(support::repo_root().join("docs/install.md"))
        .expect("read docs/install.md");
    let section = text
        .split("\n## Sizing\n")
        .nth(1)
        .expect("docs/install.md has a Sizing section");
    let digits = |s: &str| -> u64 {
        s.chars()
            .take_while(|c| !c.is_alphabetic() && *c != '(')
            .filter(char::is_ascii_digit)
            .collect::<String>()
            .parse()
            .unwrap_or_else(|_| panic!("no number in {s:?}"))
    };
    section
        .lines()
        .skip_while(|l| !l.starts_with("| contacts"))
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .map(|line| {
            let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
            assert_eq!(cells.len(), 4, "{line}");
            SizingRow {
                contacts: digits(cells[0]),
                peak_mib: digits(cells[1]),
                measured: cells[1].contains("(measured)"),
                request_mib: mebibytes(cells[2]),
                limit_mib: mebibytes(cells[3]),
                default: cells[0].contains("(default)"),
            }
        })
        .collect()
}

/// docs/install.md "Sizing": the measured rows are BENCHMARKS.md's figures, every request covers
/// its expected peak with a limit above it, more contacts never get less memory, and the row
/// marked default is what values.yaml sets.
#[test]
fn sizing_table_follows_the_benchmarks_and_the_chart_defaults() {
    let rows = sizing_table();
    assert!(rows.len() >= 4, "the sizing table has too few rows");
    let benchmarks =
        std::fs::read_to_string(support::repo_root().join("BENCHMARKS.md")).expect("read");
    for row in rows.iter().filter(|r| r.measured) {
        assert!(
            benchmarks.contains(&format!("{} MiB", row.peak_mib)),
            "the measured peak {} MiB at {} contacts is not in BENCHMARKS.md",
            row.peak_mib,
            row.contacts
        );
    }
    assert!(rows.iter().filter(|r| r.measured).count() >= 2);
    for pair in rows.windows(2) {
        assert!(pair[0].contacts < pair[1].contacts);
        assert!(pair[0].request_mib <= pair[1].request_mib);
        assert!(pair[0].limit_mib <= pair[1].limit_mib);
    }
    for row in &rows {
        assert!(
            row.request_mib >= row.peak_mib && row.limit_mib > row.request_mib,
            "{} contacts: request {} Mi / limit {} Mi against a peak of {} MiB",
            row.contacts,
            row.request_mib,
            row.limit_mib,
            row.peak_mib
        );
    }
    let default = rows
        .iter()
        .find(|r| r.default)
        .expect("a row marked (default)");
    let deployment = deployment("callsync-system", &[]);
    let resources = &deployment["spec"]["template"]["spec"]["containers"][0]["resources"];
    assert_eq!(
        mebibytes(resources["requests"]["memory"].as_str().expect("request")),
        default.request_mib
    );
    assert_eq!(
        mebibytes(resources["limits"]["memory"].as_str().expect("limit")),
        default.limit_mib
    );
}

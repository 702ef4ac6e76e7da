//! The chart's sharding values (`sharding.shards`): one release renders the main Deployment as
//! the default shard and one Deployment per shard key, each with its own scope flag (parsed by
//! `callsync controller`'s own parser), leader Lease (allowed by the one leader-election Role),
//! PodDisruptionBudget and selector, no selector matching another Deployment's pods; the shards'
//! pods behind their own metrics Service and ServiceMonitor. Bad keys and duplicates are refused
//! by values.schema.json, and the whole render passes the real kube-apiserver
//! (`--dry-run=server --validate=strict`). Without shards the chart renders as before
//! (`tests/chart.rs`, the golden files).
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use callsync::controller::shard::TaskScope;
use clap::Parser;
use serde_json::{Value, json};
use support::tools::{helm_template, run, tool, yaml_documents};

const SHARDS: &[&str] = &["--set", "sharding.shards={eu-1,us.2}"];

fn render(namespace: &str, extra: &[&str]) -> Vec<Value> {
    let mut args = SHARDS.to_vec();
    args.extend(extra);
    yaml_documents(&helm_template("callsync", namespace, &args).expect("render"))
}

fn of_kind<'a>(docs: &'a [Value], kind: &str) -> Vec<&'a Value> {
    docs.iter().filter(|d| d["kind"] == kind).collect()
}

fn labels(v: &Value) -> BTreeMap<String, String> {
    v.as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().expect("label value").to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

/// Whether `selector` (matchLabels) selects a pod labelled `pod`.
fn selects(selector: &BTreeMap<String, String>, pod: &BTreeMap<String, String>) -> bool {
    selector.iter().all(|(k, v)| pod.get(k) == Some(v))
}

/// The controller's arguments as `callsync` parses them, and its env values.
fn controller_of(
    deployment: &Value,
) -> (
    callsync::cli::controller::ControllerArgs,
    BTreeMap<String, String>,
) {
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    let args: Vec<&str> = container["args"]
        .as_array()
        .expect("args")
        .iter()
        .map(|a| a.as_str().expect("string arg"))
        .collect();
    let cli = callsync::cli::Cli::try_parse_from(std::iter::once("callsync").chain(args.clone()))
        .unwrap_or_else(|e| panic!("`callsync {}` does not parse: {e}", args.join(" ")));
    let callsync::cli::Command::Controller(parsed) = cli.command else {
        panic!("the chart runs {args:?}, not the controller");
    };
    let env = container["env"]
        .as_array()
        .expect("env")
        .iter()
        .filter_map(|e| {
            Some((
                e["name"].as_str()?.to_owned(),
                e["value"].as_str()?.to_owned(),
            ))
        })
        .collect();
    (parsed, env)
}

#[test]
fn two_shards_render_three_deployments_with_their_own_scope_lease_and_selector() {
    let docs = render("callsync-system", &[]);
    let deployments = of_kind(&docs, "Deployment");
    let names: Vec<&str> = deployments
        .iter()
        .map(|d| d["metadata"]["name"].as_str().expect("name"))
        .collect();
    assert_eq!(
        names,
        ["callsync", "callsync-shard-eu-1", "callsync-shard-us.2"]
    );

    // Each one's scope, as the controller computes it, and the Lease it elects its leader on.
    let mut leases = BTreeSet::new();
    for (deployment, expected) in deployments.iter().zip([
        "!callsync.io/shard",
        "callsync.io/shard=eu-1",
        "callsync.io/shard=us.2",
    ]) {
        let (args, env) = controller_of(deployment);
        let scope = match (&args.shard, args.default_shard) {
            (Some(key), _) => TaskScope::Shard(key.clone()),
            (None, true) => TaskScope::Unlabelled,
            (None, false) => TaskScope::All,
        };
        assert_eq!(scope.label_selector().as_deref(), Some(expected));
        assert_eq!(
            args.concurrency, 4,
            "the shared settings apply to every shard"
        );
        leases.insert(scope.lease_name(&env["CALLSYNC_LEASE_NAME"]));
    }
    let expected_leases: BTreeSet<String> =
        ["callsync", "callsync-shard-eu-1", "callsync-shard-us.2"]
            .map(String::from)
            .into();
    assert_eq!(leases, expected_leases);
    // The one leader-election Role allows exactly those Leases.
    let role = of_kind(&docs, "Role")
        .into_iter()
        .find(|r| r["metadata"]["name"] == "callsync-leader-election")
        .expect("leader-election Role");
    let allowed: BTreeSet<String> = role["rules"][1]["resourceNames"]
        .as_array()
        .expect("resourceNames")
        .iter()
        .map(|n| n.as_str().expect("name").to_owned())
        .collect();
    assert_eq!(allowed, expected_leases);

    // No Deployment's selector matches another's pods; each matches its own.
    let pods: Vec<_> = deployments
        .iter()
        .map(|d| labels(&d["spec"]["template"]["metadata"]["labels"]))
        .collect();
    for (i, d) in deployments.iter().enumerate() {
        let selector = labels(&d["spec"]["selector"]["matchLabels"]);
        for (j, pod) in pods.iter().enumerate() {
            assert_eq!(
                selects(&selector, pod),
                i == j,
                "{names:?}: {i} selects pods of {j}"
            );
        }
        // Anti-affinity spreads a Deployment's own replicas.
        let term = &d["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
            [0]["podAffinityTerm"];
        assert_eq!(labels(&term["labelSelector"]["matchLabels"]), selector);
        // One ServiceAccount for all.
        assert_eq!(
            d["spec"]["template"]["spec"]["serviceAccountName"],
            "callsync"
        );
    }

    // A PodDisruptionBudget per Deployment, over its pods alone.
    let pdbs = of_kind(&docs, "PodDisruptionBudget");
    assert_eq!(pdbs.len(), 3);
    for (pdb, name) in pdbs.iter().zip(&names) {
        assert_eq!(pdb["metadata"]["name"], *name);
        let selector = labels(&pdb["spec"]["selector"]["matchLabels"]);
        let matched: Vec<_> = pods.iter().map(|p| selects(&selector, p)).collect();
        assert_eq!(
            matched.iter().filter(|m| **m).count(),
            1,
            "{name}: {matched:?}"
        );
    }

    // Metrics: the main Service has the main pods, the shards' Service every shard's.
    let services = of_kind(&docs, "Service");
    let service_pods = |name: &str| -> Vec<bool> {
        let s = services
            .iter()
            .find(|s| s["metadata"]["name"] == name)
            .unwrap_or_else(|| panic!("Service {name}"));
        let selector = labels(&s["spec"]["selector"]);
        pods.iter().map(|p| selects(&selector, p)).collect()
    };
    assert_eq!(service_pods("callsync-metrics"), [true, false, false]);
    assert_eq!(service_pods("callsync-shards-metrics"), [false, true, true]);
    assert_eq!(of_kind(&docs, "ServiceAccount").len(), 1);
}

#[test]
fn service_monitors_and_network_policies_cover_the_shards_pods() {
    let docs = render(
        "callsync-system",
        &[
            "--set",
            "serviceMonitor.enabled=true",
            "--set",
            "networkPolicy.enabled=true",
        ],
    );
    let services: BTreeMap<&str, BTreeMap<String, String>> = of_kind(&docs, "Service")
        .into_iter()
        .map(|s| {
            (
                s["metadata"]["name"].as_str().expect("name"),
                labels(&s["metadata"]["labels"]),
            )
        })
        .collect();
    let monitors = of_kind(&docs, "ServiceMonitor");
    assert_eq!(monitors.len(), 2);
    for (monitor, service) in monitors
        .iter()
        .zip(["callsync-metrics", "callsync-shards-metrics"])
    {
        // Each ServiceMonitor selects one Service, so no pod is scraped twice.
        let selector = labels(&monitor["spec"]["selector"]["matchLabels"]);
        let selected: Vec<&str> = services
            .iter()
            .filter(|(_, l)| selects(&selector, l))
            .map(|(n, _)| *n)
            .collect();
        assert_eq!(selected, [service], "{}", monitor["metadata"]["name"]);
    }
    assert_eq!(
        monitors[1]["spec"]["podTargetLabels"],
        json!(["callsync.io/shard"])
    );

    let pods: Vec<_> = of_kind(&docs, "Deployment")
        .iter()
        .map(|d| labels(&d["spec"]["template"]["metadata"]["labels"]))
        .collect();
    let covered: Vec<usize> = pods
        .iter()
        .map(|pod| {
            of_kind(&docs, "NetworkPolicy")
                .iter()
                .filter(|np| selects(&labels(&np["spec"]["podSelector"]["matchLabels"]), pod))
                .count()
        })
        .collect();
    assert_eq!(
        covered,
        [1, 1, 1],
        "every controller pod has one NetworkPolicy"
    );
}

/// A shard key must be a label value that can also end a Deployment's and a Lease's name, and
/// appear once; helm names the value.
#[test]
fn values_schema_refuses_bad_and_duplicate_shard_keys() {
    for (set, named) in [
        (
            "sharding.shards={team_a}",
            "at '/sharding/shards/0': 'team_a' does not match pattern",
        ),
        (
            "sharding.shards={Eu}",
            "at '/sharding/shards/0': 'Eu' does not match pattern",
        ),
        (
            "sharding.shards={a-}",
            "at '/sharding/shards/0': 'a-' does not match pattern",
        ),
        (
            "sharding.shards={a,b,a}",
            "at '/sharding/shards': items at 0 and 2 are equal",
        ),
        (
            "sharding.shard={a}",
            "additional properties 'shard' not allowed",
        ),
    ] {
        let err =
            helm_template("callsync", "callsync-system", &["--set", set]).expect_err("refused");
        assert!(err.contains(named), "--set {set}: {err}");
    }
    let long = format!("sharding.shards={{{}}}", "x".repeat(41));
    let err = helm_template("callsync", "callsync-system", &["--set", &long]).expect_err("long");
    assert!(err.contains("at '/sharding/shards/0'"), "{err}");
    // The longest key the controller accepts renders.
    let longest = format!("sharding.shards={{{}}}", "x".repeat(40));
    helm_template("callsync", "callsync-system", &["--set", &longest]).expect("40 characters");
}

#[test]
fn helm_lint_strict_passes_with_shards() {
    let output = Command::new(tool("helm"))
        .args(["lint", "--strict", "--kube-version", "1.36.3"])
        .arg(support::repo_root().join("charts/callsync"))
        .args(SHARDS)
        .output()
        .expect("run helm lint");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("0 chart(s) failed"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        !stdout.contains("[WARNING]") && !stdout.contains("[ERROR]"),
        "{stdout}"
    );
}

fn kubectl(args: &[&str], stdin: &str) -> std::process::Output {
    let cp = support::control_plane();
    run(
        Command::new(
            cp.kubectl()
                .expect("kubectl is built by scripts/build-controlplane.sh"),
        )
        .arg("--kubeconfig")
        .arg(&cp.kubeconfig)
        .args(args),
        stdin.as_bytes(),
    )
}

/// Every object of a sharded release with the optional features on is accepted by the real
/// kube-apiserver, and so are the shards' Leases; a key with '_' (a label value `--shard`
/// accepts) could not name its Lease, which is why the chart refuses it.
#[tokio::test]
async fn sharded_release_passes_the_real_apiserver() {
    let cp = support::control_plane();
    let (_client, ns) = cp.test_namespace("chart-shards").await;
    for fixture in ["servicemonitor-crd.yaml", "prometheusrule-crd.yaml"] {
        let crd =
            std::fs::read_to_string(support::repo_root().join("tests/fixtures").join(fixture))
                .expect("read fixture");
        let out = kubectl(
            &["apply", "--server-side", "--force-conflicts", "-f", "-"],
            &crd,
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = kubectl(
        &[
            "wait",
            "--for=condition=Established",
            "crd/servicemonitors.monitoring.coreos.com",
            "--timeout=30s",
        ],
        "",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let mut args = SHARDS.to_vec();
    args.extend([
        "--set",
        "crds.enabled=false",
        "--set",
        "serviceMonitor.enabled=true",
        "--set",
        "networkPolicy.enabled=true",
        "--set",
        "prometheusRule.enabled=true",
    ]);
    let rendered = helm_template("callsync", &ns, &args).expect("render");
    let out = kubectl(
        &["apply", "--dry-run=server", "--validate=strict", "-f", "-"],
        &rendered,
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let accepted = stdout
        .lines()
        .filter(|l| l.ends_with("(server dry run)"))
        .count();
    assert_eq!(accepted, yaml_documents(&rendered).len(), "{stdout}");

    let lease = |name: &str| {
        format!(
            "apiVersion: coordination.k8s.io/v1\nkind: Lease\nmetadata:\n  name: {name}\n  namespace: {ns}\n"
        )
    };
    for name in ["callsync-shard-eu-1", "callsync-shard-us.2"] {
        let out = kubectl(&["apply", "--dry-run=server", "-f", "-"], &lease(name));
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = kubectl(
        &["apply", "--dry-run=server", "-f", "-"],
        &lease("callsync-shard-team_a"),
    );
    assert!(!out.status.success(), "a Lease name with '_' was accepted");
}

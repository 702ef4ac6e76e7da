//! The Helm chart (`charts/callsync`): `helm lint --strict`, `helm template` with the defaults and
//! with every optional feature on, every rendered object accepted by the real kube-apiserver
//! (`kubectl apply --dry-run=server`), the pod template admitted under the restricted Pod
//! Security Standard, `values.schema.json` refusing misspelled keys, the Grafana dashboard
//! querying metrics the controller exports, and the operator settings (concurrency, extraArgs,
//! extra volumes for a CA bundle, proxy, overridable security contexts, the sizing table).
//! The chart's CRDs against the generated ones: `tests/crds_drift.rs`; their upgrade through
//! Helm on the real apiserver: `tests/chart_crds_upgrade.rs`.
//!
//! The RBAC proof (a ServiceAccount token can make every call the controller makes, and nothing
//! outside the watched namespaces in namespaced mode) is in `tests/chart_rbac.rs`.
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::Api;
use kube::api::{ObjectMeta, PostParams};
use serde_json::{Value, json};
use support::tools::{helm_template, run, tool, yaml_documents};

const CHART: &str = "charts/callsync";

/// Values that turn every optional feature on (namespaced mode is added per test, because the
/// watched namespaces must exist on the apiserver).
const ALL_ON: &[&str] = &[
    "--set",
    "serviceMonitor.enabled=true",
    "--set",
    "serviceMonitor.labels.release=prometheus",
    "--set",
    "networkPolicy.enabled=true",
    "--set",
    "networkPolicy.apiServer.cidrs={10.0.0.1/32}",
    "--set-json",
    r#"networkPolicy.metricsFrom=[{"namespaceSelector":{"matchLabels":{"kubernetes.io/metadata.name":"monitoring"}}}]"#,
    "--set-json",
    r#"networkPolicy.providers=[{"cidr":"0.0.0.0/0","except":["10.0.0.0/8"],"ports":[443]}]"#,
    "--set",
    "grafanaDashboard.enabled=true",
    "--set",
    "prometheusRule.enabled=true",
    "--set",
    "podAntiAffinity=hard",
    "--set",
    "providerEndpoints={https://ai.api.longlonglong.cn,https://api-hk.nxlink.ai}",
    "--set",
    "image.digest=sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
];

fn kinds(docs: &[Value]) -> BTreeMap<String, usize> {
    let mut kinds = BTreeMap::new();
    for doc in docs {
        *kinds
            .entry(doc["kind"].as_str().expect("kind").to_string())
            .or_insert(0) += 1;
    }
    kinds
}

fn helm_lint(args: &[&str]) -> std::process::Output {
    Command::new(tool("helm"))
        .args(["lint", "--strict", "--kube-version", "1.36.3"])
        .arg(support::repo_root().join(CHART))
        .args(args)
        .output()
        .expect("run helm lint")
}

#[test]
fn helm_lint_strict_passes_with_defaults_and_with_every_feature_on() {
    for (what, args) in [
        ("defaults", vec![]),
        ("every feature on", {
            let mut a = ALL_ON.to_vec();
            a.extend(["--set", "watchNamespaces={team-a,team-b}"]);
            a
        }),
    ] {
        let output = helm_lint(&args);
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success() && stdout.contains("0 chart(s) failed"),
            "helm lint --strict ({what}) failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(
            !stdout.contains("[WARNING]") && !stdout.contains("[ERROR]"),
            "{stdout}"
        );
    }
}

/// Least privilege by default: the controller's access is a Role in the release namespace
/// only; the ClusterRoles are the two aggregated to the built-in roles, bound by nobody here.
#[test]
fn default_render_is_a_two_replica_restricted_deployment_with_namespaced_rbac() {
    let docs = yaml_documents(&helm_template("callsync", "callsync-system", &[]).expect("render"));
    let expected: BTreeMap<String, usize> = [
        ("ClusterRole", 2),
        ("CustomResourceDefinition", 3),
        ("Deployment", 1),
        ("PodDisruptionBudget", 1),
        ("Role", 2),
        ("RoleBinding", 2),
        ("Service", 1),
        ("ServiceAccount", 1),
    ]
    .into_iter()
    .map(|(k, n)| (k.to_string(), n))
    .collect();
    assert_eq!(kinds(&docs), expected);

    let deployment = docs
        .iter()
        .find(|d| d["kind"] == "Deployment")
        .expect("Deployment");
    assert_eq!(deployment["spec"]["replicas"], 2);
    let pod = &deployment["spec"]["template"]["spec"];
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(
        pod["securityContext"]["seccompProfile"]["type"],
        "RuntimeDefault"
    );
    let container = &pod["containers"][0];
    assert_eq!(container["args"], json!(["controller", "--concurrency=4"]));
    assert_eq!(
        container["image"], "ghcr.io/callsync/callsync:0.1.0",
        "the tag defaults to the chart's appVersion"
    );
    let sc = &container["securityContext"];
    assert_eq!(sc["allowPrivilegeEscalation"], false);
    assert_eq!(sc["readOnlyRootFilesystem"], true);
    assert_eq!(sc["capabilities"]["drop"], json!(["ALL"]));
    assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert!(container["resources"]["requests"]["cpu"].is_string());
    let env: BTreeMap<&str, &Value> = container["env"]
        .as_array()
        .expect("env")
        .iter()
        .map(|e| (e["name"].as_str().expect("name"), e))
        .collect();
    assert_eq!(env["CALLSYNC_LEADER_ELECTION"]["value"], "true");
    assert_eq!(
        env["CALLSYNC_WATCH_NAMESPACES"]["value"], "callsync-system",
        "the release namespace only"
    );
    let controller_role = docs
        .iter()
        .find(|d| d["kind"] == "Role" && d["metadata"]["name"] == "callsync")
        .expect("controller Role");
    assert_eq!(controller_role["metadata"]["namespace"], "callsync-system");
    assert_eq!(
        env["CALLSYNC_POD_NAMESPACE"]["valueFrom"]["fieldRef"]["fieldPath"],
        "metadata.namespace"
    );

    // Leases: only in the release namespace, and get/update/patch only of the chart's own Lease.
    let role = docs
        .iter()
        .find(|d| d["kind"] == "Role" && d["metadata"]["name"] == "callsync-leader-election")
        .expect("leader-election Role");
    assert_eq!(role["metadata"]["namespace"], "callsync-system");
    assert_eq!(
        role["rules"],
        json!([
            {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create"]},
            {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
             "resourceNames": ["callsync"], "verbs": ["get", "update", "patch"]}
        ])
    );
}

/// Cluster mode is opt-in (`clusterWide`), and excludes a namespace list.
#[test]
fn cluster_wide_is_opt_in_and_binds_the_cluster_role() {
    let docs = yaml_documents(
        &helm_template(
            "callsync",
            "callsync-system",
            &["--set", "clusterWide=true"],
        )
        .expect("render"),
    );
    let binding = docs
        .iter()
        .find(|d| d["kind"] == "ClusterRoleBinding")
        .expect("ClusterRoleBinding");
    assert_eq!(binding["roleRef"]["name"], "callsync");
    assert!(
        !docs
            .iter()
            .any(|d| d["kind"] == "Role" && d["metadata"]["name"] == "callsync"),
        "cluster mode has no per-namespace Role"
    );
    let env = docs
        .iter()
        .find(|d| d["kind"] == "Deployment")
        .expect("Deployment")["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_array()
        .expect("env")
        .iter()
        .find(|e| e["name"] == "CALLSYNC_WATCH_NAMESPACES")
        .expect("CALLSYNC_WATCH_NAMESPACES")["value"]
        .clone();
    assert_eq!(env, json!(""), "every namespace");
    let err = helm_template(
        "callsync",
        "callsync-system",
        &["--set", "clusterWide=true", "--set", "watchNamespaces={a}"],
    )
    .expect_err("clusterWide with a namespace list");
    assert!(err.contains("watchNamespaces"), "{err}");
}

/// ContactLists hold full phone numbers: the role aggregated to the built-in `view` (read-only,
/// often granted widely) does not read them; edit and admin, which may write them, do.
#[test]
fn contact_lists_are_not_aggregated_to_view() {
    let docs = yaml_documents(&helm_template("callsync", "callsync-system", &[]).expect("render"));
    let aggregated = |label: &str| -> Vec<(String, String)> {
        docs.iter()
            .filter(|d| {
                d["kind"] == "ClusterRole"
                    && d["metadata"]["labels"][format!("rbac.authorization.k8s.io/{label}")]
                        == "true"
            })
            .flat_map(|d| d["rules"].as_array().cloned().unwrap_or_default())
            .flat_map(|rule| {
                let verbs = rule["verbs"].as_array().cloned().unwrap_or_default();
                let resources = rule["resources"].as_array().cloned().unwrap_or_default();
                resources.into_iter().flat_map(move |r| {
                    verbs.clone().into_iter().map(move |v| {
                        (
                            r.as_str().unwrap_or_default().to_owned(),
                            v.as_str().unwrap_or_default().to_owned(),
                        )
                    })
                })
            })
            .collect()
    };
    let view = aggregated("aggregate-to-view");
    assert!(
        view.contains(&("calltasks".into(), "get".into())),
        "{view:?}"
    );
    assert!(
        !view.iter().any(|(r, _)| r == "contactlists"),
        "view reads ContactLists: {view:?}"
    );
    let edit = aggregated("aggregate-to-edit");
    for verb in ["get", "list", "watch", "create", "update", "delete"] {
        assert!(
            edit.contains(&("contactlists".into(), verb.into())),
            "edit lacks {verb} on contactlists: {edit:?}"
        );
    }
}

#[test]
fn values_schema_rejects_misspelled_keys() {
    for (set, wrong) in [
        ("replicaCont=3", "replicaCont"),
        ("image.tags=v1", "tags"),
        ("networkPolicy.enable=true", "enable"),
        ("serviceMonitor.intervall=1m", "intervall"),
        ("leaderElection.leaseDuration=15", "leaseDuration"),
    ] {
        let err = helm_template("callsync", "callsync-system", &["--set", set])
            .expect_err("a misspelled key must fail");
        assert!(
            err.contains(&format!("additional properties '{wrong}' not allowed")),
            "--set {set}: {err}"
        );
    }
    // Wrong types and values are refused too.
    for set in [
        "replicaCount=two",
        "logging.format=xml",
        "podAntiAffinity=sometimes",
        "image.pullPolicy=Sometimes",
        "watchNamespaces={Not_A_Namespace}",
    ] {
        assert!(
            helm_template("callsync", "callsync-system", &["--set", set]).is_err(),
            "--set {set} was accepted"
        );
    }
    // Two replicas without leader election would be two writers.
    let err = helm_template(
        "callsync",
        "callsync-system",
        &["--set", "leaderElection.enabled=false"],
    )
    .expect_err("two replicas without leader election");
    assert!(err.contains("leaderElection/enabled"), "{err}");
    helm_template(
        "callsync",
        "callsync-system",
        &[
            "--set",
            "leaderElection.enabled=false",
            "--set",
            "replicaCount=1",
        ],
    )
    .expect("one replica may run without leader election");

    // helm lint reads the same schema: a values file with a typo fails lint.
    let dir = tempfile::tempdir().expect("temp dir");
    let values = dir.path().join("typo.yaml");
    std::fs::write(
        &values,
        "serviceAccount:\n  create: true\n  annotation: {}\n",
    )
    .expect("write");
    let output = helm_lint(&["-f", values.to_str().expect("utf-8 path")]);
    assert!(!output.status.success(), "helm lint accepted a typo");
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("additional properties 'annotation'"),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
}

/// Every object schema in values.schema.json closes its properties, so the refusal above holds
/// for every key, not only the ones tried.
#[test]
fn every_object_in_the_values_schema_forbids_unknown_keys() {
    fn walk(path: &str, schema: &Value, open: &mut Vec<String>) {
        if let Some(props) = schema.get("properties").and_then(Value::as_object) {
            if schema.get("additionalProperties") != Some(&Value::Bool(false)) {
                open.push(path.to_string());
            }
            for (key, child) in props {
                walk(&format!("{path}.{key}"), child, open);
            }
        }
        if let Some(items) = schema.get("items") {
            walk(&format!("{path}[]"), items, open);
        }
    }
    let text = std::fs::read_to_string(support::repo_root().join(CHART).join("values.schema.json"))
        .expect("read values.schema.json");
    let schema: Value = serde_json::from_str(&text).expect("schema is JSON");
    let mut open = Vec::new();
    walk("", &schema, &mut open);
    assert!(
        open.is_empty(),
        "objects that accept unknown keys: {open:?}"
    );

    // And every key of values.yaml is in the schema (the defaults pass it: helm lint checks that).
    let values: Value = serde_yaml::from_str(
        &std::fs::read_to_string(support::repo_root().join(CHART).join("values.yaml"))
            .expect("read"),
    )
    .expect("values.yaml");
    let top: BTreeSet<&String> = values.as_object().expect("map").keys().collect();
    let known: BTreeSet<&String> = schema["properties"]
        .as_object()
        .expect("map")
        .keys()
        .collect();
    assert!(
        top.is_subset(&known),
        "{:?}",
        top.difference(&known).collect::<Vec<_>>()
    );
}

#[test]
fn grafana_dashboard_queries_metrics_the_controller_exports() {
    let text = std::fs::read_to_string(
        support::repo_root()
            .join(CHART)
            .join("dashboards/callsync.json"),
    )
    .expect("read dashboard");
    let dashboard: Value = serde_json::from_str(&text).expect("dashboard is JSON");
    // One sample in every family, so the text format lists every series name with its labels.
    use callsync::controller::metrics::{
        ConditionLabels, ContactLabels, Metrics, ReconcileLabels, RequestLabels, TaskLabels,
    };
    let metrics = Metrics::default();
    let task = TaskLabels {
        namespace: "ns".into(),
        calltask: "t".into(),
    };
    metrics
        .reconcile_duration
        .get_or_create(&ReconcileLabels {
            namespace: "ns".into(),
            outcome: "InSync".into(),
            reason: "InSync".into(),
        })
        .observe(0.1);
    metrics
        .provider_requests
        .get_or_create(&RequestLabels {
            provider: "callbot".into(),
            operation: "add".into(),
            outcome: "ok".into(),
        })
        .inc();
    metrics.contacts_added.get_or_create(&task).inc();
    metrics.contacts_removed.get_or_create(&task).inc();
    metrics.drift_found.get_or_create(&task).inc();
    metrics.listings.get_or_create(&task).inc();
    metrics.ledger_bytes.get_or_create(&task).set(1);
    metrics
        .contacts
        .get_or_create(&ContactLabels {
            namespace: "ns".into(),
            calltask: "t".into(),
            state: "present".into(),
        })
        .set(1);
    metrics
        .task_condition
        .get_or_create(&ConditionLabels {
            namespace: "ns".into(),
            calltask: "t".into(),
            r#type: "Stalled".into(),
            status: "True".into(),
            reason: "DeletionGuard".into(),
        })
        .set(1);
    metrics.last_successful_sync.get_or_create(&task).set(1);
    metrics.resync_interval.get_or_create(&task).set(600);
    {
        use callsync::providers::http::RequestMetrics;
        let account = callsync::providers::AccountKey::new("ns", "acct", "uid");
        metrics.attempt(
            &account,
            "number",
            "ok",
            std::time::Duration::from_millis(5),
        );
        metrics.limiter_wait(&account, std::time::Duration::from_millis(1));
    }
    let exported = metrics.encode().expect("encode metrics");
    // Series name -> its label names.
    let mut series: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in exported.lines().filter(|l| !l.starts_with('#')) {
        let name: String = line
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        let labels = line[name.len()..]
            .strip_prefix('{')
            .and_then(|rest| rest.split_once('}'))
            .map(|(inside, _)| {
                inside
                    .split(',')
                    .filter_map(|kv| kv.split_once('='))
                    .map(|(k, _)| k.to_string())
                    .collect()
            })
            .unwrap_or_default();
        series
            .entry(name)
            .or_default()
            .extend::<BTreeSet<String>>(labels);
    }

    let mut exprs: Vec<String> = Vec::new();
    for panel in dashboard["panels"].as_array().expect("panels") {
        for target in panel["targets"].as_array().expect("targets") {
            exprs.push(target["expr"].as_str().expect("expr").to_string());
        }
    }
    for var in dashboard["templating"]["list"]
        .as_array()
        .expect("variables")
    {
        if let Some(q) = var["query"]["query"].as_str() {
            exprs.push(q.to_string());
        }
    }
    let mut used = BTreeSet::new();
    for expr in &exprs {
        let mut rest = expr.as_str();
        while let Some(i) = rest.find("callsync_") {
            let name: String = rest[i..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            rest = &rest[i + name.len()..];
            used.insert(name);
        }
    }
    assert!(used.len() >= 5, "{used:?}");
    for name in &used {
        assert!(
            series.contains_key(name),
            "the dashboard queries {name}, which the controller does not export ({:?})",
            series.keys().collect::<Vec<_>>()
        );
    }
    // The labels the dashboard groups and filters by exist on the series it uses.
    for (name, label) in [
        ("callsync_contacts", "state"),
        ("callsync_contacts", "calltask"),
        ("callsync_contacts", "namespace"),
        ("callsync_calltask_status_condition", "type"),
        ("callsync_calltask_status_condition", "reason"),
        (
            "callsync_provider_request_duration_seconds_count",
            "namespace",
        ),
        (
            "callsync_provider_request_duration_seconds_count",
            "callprovider",
        ),
        (
            "callsync_provider_request_duration_seconds_count",
            "endpoint",
        ),
        (
            "callsync_provider_request_duration_seconds_count",
            "outcome",
        ),
        ("callsync_reconcile_duration_seconds_bucket", "le"),
        ("callsync_reconcile_duration_seconds_count", "namespace"),
        ("callsync_reconcile_duration_seconds_count", "reason"),
    ] {
        assert!(
            series[name].contains(label),
            "{name} has no label {label}: {:?}",
            series[name]
        );
    }
    // The panels the issue asks for.
    let titles: Vec<&str> = dashboard["panels"]
        .as_array()
        .expect("panels")
        .iter()
        .map(|p| p["title"].as_str().expect("title"))
        .collect();
    for wanted in [
        "Contacts pending per task",
        "Contacts present per task",
        "Provider requests",
        "Provider errors",
        "Reconcile latency",
    ] {
        assert!(titles.contains(&wanted), "no panel {wanted}: {titles:?}");
    }

    // The ConfigMap carries the file unchanged, with the sidecar's label.
    let docs = yaml_documents(
        &helm_template(
            "callsync",
            "callsync-system",
            &["--set", "grafanaDashboard.enabled=true"],
        )
        .expect("render"),
    );
    let cm = docs
        .iter()
        .find(|d| d["kind"] == "ConfigMap")
        .expect("dashboard ConfigMap");
    assert_eq!(cm["metadata"]["labels"]["grafana_dashboard"], "1");
    let embedded: Value =
        serde_json::from_str(cm["data"]["callsync.json"].as_str().expect("data")).expect("JSON");
    assert_eq!(embedded, dashboard);
}

/// Applies `text` with the admin kubeconfig and `extra` kubectl arguments; returns stdout.
fn kubectl_apply(extra: &[&str], text: &str) -> String {
    let cp = support::control_plane();
    let kubectl = cp
        .kubectl()
        .expect("kubectl is built by scripts/build-controlplane.sh");
    let output = run(
        Command::new(kubectl)
            .arg("--kubeconfig")
            .arg(&cp.kubeconfig)
            .args(["apply", "-f", "-"])
            .args(extra),
        text.as_bytes(),
    );
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "kubectl apply {extra:?} refused the rendered chart:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

async fn create_namespace(client: &kube::Client, name: &str, labels: &[(&str, &str)]) {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let ns = Namespace {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            labels: Some(
                labels
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
            ..Default::default()
        },
        ..Default::default()
    };
    namespaces
        .create(&PostParams::default(), &ns)
        .await
        .expect("create namespace");
}

#[tokio::test]
async fn every_rendered_object_is_accepted_by_the_real_apiserver() {
    let cp = support::control_plane();
    let (client, ns) = cp.test_namespace("chart").await;
    let (team_a, team_b) = (format!("{ns}-a"), format!("{ns}-b"));
    create_namespace(&client, &team_a, &[]).await;
    create_namespace(&client, &team_b, &[]).await;
    // The ServiceMonitor and PrometheusRule kinds come from the Prometheus Operator; minimal
    // CRDs stand in.
    for fixture in ["servicemonitor-crd.yaml", "prometheusrule-crd.yaml"] {
        let crd =
            std::fs::read_to_string(support::repo_root().join("tests/fixtures").join(fixture))
                .expect("read fixture");
        kubectl_apply(&["--server-side", "--force-conflicts"], &crd);
    }
    let cp_kubectl = cp.kubectl().expect("kubectl");
    let wait = Command::new(cp_kubectl)
        .arg("--kubeconfig")
        .arg(&cp.kubeconfig)
        .args([
            "wait",
            "--for=condition=Established",
            "crd/servicemonitors.monitoring.coreos.com",
            "crd/prometheusrules.monitoring.coreos.com",
            "--timeout=30s",
        ])
        .output()
        .expect("kubectl wait");
    assert!(
        wait.status.success(),
        "{}",
        String::from_utf8_lossy(&wait.stderr)
    );

    let watch = format!("watchNamespaces={{{team_a},{team_b}}}");
    let mut all_on = ALL_ON.to_vec();
    all_on.extend(["--set", watch.as_str()]);
    for (what, args, expected_kinds) in [
        ("defaults", vec![], 8),
        ("cluster-wide", vec!["--set", "clusterWide=true"], 9),
        ("every feature on", all_on, 12),
    ] {
        let rendered = helm_template("callsync", &ns, &args).expect("render");
        let docs = yaml_documents(&rendered);
        assert_eq!(
            kinds(&docs).len(),
            expected_kinds,
            "{what}: {:?}",
            kinds(&docs)
        );
        // --validate=strict: an unknown field is an error, not a silent drop.
        let out = kubectl_apply(&["--dry-run=server", "--validate=strict"], &rendered);
        let accepted = out
            .lines()
            .filter(|l| l.ends_with("(server dry run)"))
            .count();
        assert_eq!(
            accepted,
            docs.len(),
            "{what}: not every object was accepted:\n{out}"
        );
    }

    // In namespaced mode there is no ClusterRole for the controller: one Role per namespace.
    let docs = yaml_documents(
        &helm_template("callsync", &ns, &["--set", watch.as_str()]).expect("render"),
    );
    let roles: Vec<&str> = docs
        .iter()
        .filter(|d| d["kind"] == "Role" && d["metadata"]["name"] == "callsync")
        .map(|d| d["metadata"]["namespace"].as_str().expect("namespace"))
        .collect();
    assert_eq!(roles, vec![team_a.as_str(), team_b.as_str()]);
    assert!(
        !docs.iter().any(|d| d["kind"] == "ClusterRoleBinding"),
        "namespaced mode must not bind a ClusterRole"
    );
    let deployment = docs
        .iter()
        .find(|d| d["kind"] == "Deployment")
        .expect("Deployment");
    let watched = deployment["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_array()
        .expect("env")
        .iter()
        .find(|e| e["name"] == "CALLSYNC_WATCH_NAMESPACES")
        .expect("CALLSYNC_WATCH_NAMESPACES")["value"]
        .clone();
    assert_eq!(watched, json!(format!("{team_a},{team_b}")));
}

/// The pod the Deployment would create is admitted in a namespace that enforces the restricted
/// Pod Security Standard (the apiserver's PodSecurity admission), and a pod without the chart's
/// security context is refused there (so the check is live).
#[tokio::test]
async fn pod_template_meets_the_restricted_pod_security_standard() {
    let (client, ns) = support::control_plane().test_namespace("pss").await;
    let restricted = format!("{ns}-restricted");
    create_namespace(
        &client,
        &restricted,
        &[
            ("pod-security.kubernetes.io/enforce", "restricted"),
            ("pod-security.kubernetes.io/enforce-version", "latest"),
        ],
    )
    .await;
    let docs = yaml_documents(&helm_template("callsync", &restricted, &[]).expect("render"));
    let deployment = docs
        .iter()
        .find(|d| d["kind"] == "Deployment")
        .expect("Deployment");
    let template = &deployment["spec"]["template"];
    let pod = |spec: &Value| -> Pod {
        serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "callsync-pss", "labels": template["metadata"]["labels"]},
            "spec": spec,
        }))
        .expect("pod")
    };
    let pods: Api<Pod> = Api::namespaced(client, &restricted);
    let dry_run = PostParams {
        dry_run: true,
        ..Default::default()
    };
    pods.create(&dry_run, &pod(&template["spec"]))
        .await
        .unwrap_or_else(|e| panic!("the chart's pod violates the restricted standard: {e}"));

    let mut loose = template["spec"].clone();
    loose["securityContext"] = json!({});
    loose["containers"][0]["securityContext"] = json!({});
    let err = pods
        .create(&dry_run, &pod(&loose))
        .await
        .expect_err("a pod without a security context must be refused");
    assert!(err.to_string().contains("violates PodSecurity"), "{err}");
}

/// The rendered chart is committed (`tests/golden/`), so a change to a template shows up in review
/// as a change to the objects it renders. Regenerate with
/// `CALLSYNC_UPDATE_GOLDEN=1 cargo test --test chart rendered_chart_matches_the_golden_files`.
#[test]
fn rendered_chart_matches_the_golden_files() {
    let mut all_on = ALL_ON.to_vec();
    all_on.extend(["--set", "watchNamespaces={team-a,team-b}"]);
    let update = std::env::var_os("CALLSYNC_UPDATE_GOLDEN").is_some();
    let mut stale = Vec::new();
    for (file, args) in [
        ("chart-default.yaml", vec![]),
        ("chart-all-on.yaml", all_on),
        (
            "chart-shards.yaml",
            vec![
                "--set",
                "sharding.shards={eu-1,us.2}",
                "--set",
                "serviceMonitor.enabled=true",
            ],
        ),
    ] {
        // Without the CRDs: tests/crds_drift.rs holds them to the generated ones.
        let mut args = args;
        args.extend(["--set", "crds.enabled=false"]);
        let rendered = helm_template("callsync", "callsync-system", &args).expect("render");
        let path = support::repo_root().join("tests/golden").join(file);
        if update {
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(&path, &rendered).expect("write golden file");
        } else if std::fs::read_to_string(&path).ok().as_deref() != Some(rendered.as_str()) {
            stale.push(file);
        }
    }
    assert!(
        stale.is_empty(),
        "tests/golden/{stale:?} differ from what the chart renders; review the change and run \
         `CALLSYNC_UPDATE_GOLDEN=1 cargo test --test chart rendered_chart_matches_the_golden_files`"
    );
}

/// The image's user is the one the chart's security context runs as.
#[test]
fn dockerfile_runs_as_the_user_the_chart_expects() {
    let dockerfile =
        std::fs::read_to_string(support::repo_root().join("Dockerfile")).expect("read Dockerfile");
    let last_from = dockerfile
        .lines()
        .rfind(|l| l.starts_with("FROM "))
        .expect("FROM");
    assert_eq!(
        last_from.trim(),
        "FROM scratch",
        "the final stage is empty: the static binary brings everything (tests/image.rs)"
    );
    let user = dockerfile
        .lines()
        .rfind(|l| l.starts_with("USER "))
        .expect("USER")
        .trim_start_matches("USER ")
        .trim()
        .to_string();
    let docs = yaml_documents(&helm_template("callsync", "callsync-system", &[]).expect("render"));
    let deployment = docs
        .iter()
        .find(|d| d["kind"] == "Deployment")
        .expect("Deployment");
    let sc = &deployment["spec"]["template"]["spec"]["securityContext"];
    assert_eq!(user, format!("{}:{}", sc["runAsUser"], sc["runAsGroup"]));
}

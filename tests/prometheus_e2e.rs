//! Monitoring end to end: a real Prometheus (scripts/build-prometheus.sh) scrapes the controller
//! (in process) while it runs against a real kube-apiserver and `callsync simulate`, with the
//! scrape settings of the chart's ServiceMonitor (honorLabels, and the namespace target label
//! the Prometheus Operator adds: the controller's namespace) and the chart's alerts loaded. One
//! CallTask trips the deletion guard, another's CallProvider has a wrong secret. Every query of
//! the Grafana dashboard must return series, each with the right namespace label: the CallTask's
//! for task, provider and reconcile panels, the controller's for process panels. The alerts for
//! both problems must be active, and a deleted CallTask must leave no series behind.
mod support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};
use support::sim;

use callsync::api::{CallProvider, CallTask, ConditionType, ContactList, find_condition};
use callsync::simulator::{ProviderKind, TaskConfig};
use kube::Client;
use kube::api::{Api, DeleteParams};
use serde_json::{Value, json};
use support::apply;
use support::env::InProcessController;
use support::prometheus::{Prometheus, free_port};
use support::tools::{helm_template, yaml_documents};

/// The namespace label the Prometheus Operator gives the controller's target.
const CONTROLLER_NAMESPACE: &str = "callsync-system";

fn phones(from: u32, count: u32) -> Vec<Value> {
    (from..from + count)
        .map(|i| json!({"phone": format!("138{i:08}"), "name": format!("客户{i}")}))
        .collect()
}

fn list(name: &str, campaign: &str, contacts: Vec<Value>) -> Value {
    json!({"apiVersion": "callsync.io/v1alpha1", "kind": "ContactList",
           "metadata": {"name": name, "labels": {"campaign": campaign}},
           "spec": {"defaultRegion": "CN", "contacts": contacts}})
}

fn task(name: &str, provider: &str, remote: &str, campaign: &str) -> Value {
    json!({"apiVersion": "callsync.io/v1alpha1", "kind": "CallTask",
           "metadata": {"name": name},
           "spec": {"providerRef": {"name": provider}, "taskId": remote,
                    "contactLists": {"selector": {"matchLabels": {"campaign": campaign}}},
                    "policy": {"maxDeletePercent": 20}, "resyncInterval": "30s"}})
}

/// Waits until the CallTask's Ready condition has `reason`.
async fn wait_reason(client: &Client, ns: &str, name: &str, reason: &str) {
    let api: Api<CallTask> = Api::namespaced(client.clone(), ns);
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let current = api.get_opt(name).await.ok().flatten();
        let ready = current
            .as_ref()
            .and_then(|t| t.status.as_ref())
            .and_then(|s| find_condition(&s.conditions, ConditionType::Ready))
            .map(|c| c.reason.clone());
        if ready.as_deref() == Some(reason) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "CallTask {name} not {reason}: {:?}",
            current.and_then(|t| t.status)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The controller's /metrics text.
async fn scrape(target: &str) -> String {
    reqwest::get(format!("http://{target}/metrics"))
        .await
        .expect("scrape")
        .text()
        .await
        .expect("metrics text")
}

async fn wait_gone(tasks: &Api<CallTask>, name: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while tasks.get_opt(name).await.expect("get").is_some() {
        assert!(Instant::now() < deadline, "CallTask {name} not deleted");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The scrape job the chart's ServiceMonitor becomes, with its honorLabels.
fn scrape_config(target: &str, rules: &str) -> String {
    let rendered = helm_template(
        "callsync",
        CONTROLLER_NAMESPACE,
        &["--set", "serviceMonitor.enabled=true"],
    )
    .expect("render the chart");
    let monitor = yaml_documents(&rendered)
        .into_iter()
        .find(|d| d["kind"] == "ServiceMonitor")
        .expect("a ServiceMonitor");
    let endpoint = &monitor["spec"]["endpoints"][0];
    let honor_labels = endpoint["honorLabels"].as_bool().unwrap_or(false);
    let path = endpoint["path"].as_str().expect("path");
    format!(
        r#"global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: ["{rules}"]
scrape_configs:
  - job_name: callsync
    honor_labels: {honor_labels}
    metrics_path: {path}
    static_configs:
      - targets: ["{target}"]
        labels: {{namespace: "{CONTROLLER_NAMESPACE}", pod: "callsync-0"}}
"#
    )
}

/// Every PromQL query of the dashboard with its variables filled in for this test, and the
/// `label_values(selector, label)` queries of its variables.
fn dashboard_queries(ns: &str) -> (Vec<String>, Vec<(String, String, String)>) {
    let text = std::fs::read_to_string(
        support::repo_root().join("charts/callsync/dashboards/callsync.json"),
    )
    .expect("read dashboard");
    let dashboard: Value = serde_json::from_str(&text).expect("dashboard JSON");
    let fill = |expr: &str| {
        expr.replace("$namespace", ns)
            .replace("$calltask", ".*")
            .replace("$callprovider", ".*")
            .replace("$__rate_interval", "30s")
    };
    let mut panels = Vec::new();
    for panel in dashboard["panels"].as_array().expect("panels") {
        for target in panel["targets"].as_array().expect("targets") {
            panels.push(fill(target["expr"].as_str().expect("expr")));
        }
    }
    let mut variables = Vec::new();
    for var in dashboard["templating"]["list"]
        .as_array()
        .expect("variables")
    {
        if let Some(q) = var["query"]["query"].as_str() {
            let inner = q
                .strip_prefix("label_values(")
                .and_then(|q| q.strip_suffix(')'))
                .expect("label_values(selector, label)");
            let (selector, label) = inner.rsplit_once(',').expect("selector, label");
            variables.push((
                var["name"].as_str().expect("name").to_string(),
                fill(selector.trim()),
                label.trim().to_string(),
            ));
        }
    }
    (panels, variables)
}

/// Queries `expr` until it returns series (scrapes and rate windows fill up), or panics.
async fn series(prometheus: &Prometheus, expr: &str, within: Duration) -> Vec<Value> {
    let deadline = Instant::now() + within;
    loop {
        let result = prometheus.query(expr).await;
        match &result {
            Ok(series) if !series.is_empty() => return series.clone(),
            _ => {}
        }
        assert!(
            Instant::now() < deadline,
            "no series for {expr}: {result:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn label<'a>(series: &'a Value, name: &str) -> &'a str {
    series["metric"][name].as_str().unwrap_or("")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_scrapes_the_controller_and_every_dashboard_query_and_alert_works() {
    let (client, ns) = support::control_plane().test_namespace("prom").await;
    let simulator = sim::start(vec![sim::account(
        ProviderKind::Callbot,
        sim::CB_UUID,
        sim::CB_SECRET,
        ["task-1", "task-2", "task-3"]
            .map(|id| TaskConfig {
                id: id.into(),
                ..Default::default()
            })
            .into(),
    )])
    .await;

    // The controller, its metrics on a free loopback port.
    let port = free_port();
    let target = format!("127.0.0.1:{port}");
    let mut config = support::env::run_config(vec![ns.clone()], "prometheus-e2e");
    config.metrics_addr = target.parse().expect("addr");
    let controller = InProcessController::start(&client, config);

    let rules = support::repo_root().join("charts/callsync/alerts/callsync.rules.yaml");
    let prometheus = Prometheus::start(
        "controller-e2e",
        &scrape_config(&target, &rules.display().to_string()),
    );
    prometheus.wait_ready(Duration::from_secs(60)).await;

    // Two CallProviders on the simulator's account: one with the right secret, one without.
    let endpoint = simulator.base_url();
    for (secret, provider, key) in [
        ("creds", "acct", sim::CB_SECRET),
        ("bad-creds", "badacct", "wrong-secret"),
    ] {
        apply(
            &client,
            &ns,
            json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": secret, "labels": {"callsync.io/credentials": "true"}},
            "stringData": {"uuid": sim::CB_UUID, "secretKey": key}}),
        )
        .await;
        apply(
            &client,
            &ns,
            json!({"apiVersion": "callsync.io/v1alpha1", "kind": "CallProvider",
            "metadata": {"name": provider},
            "spec": {"insecure": true, "rateLimit": {"requestsPerSecond": 1000, "burst": 1000},
                     "callbot": {"endpoint": endpoint, "credentialsSecretRef": {"name": secret},
                                 "orderCallbackUrl": "https://hooks.example.com/order",
                                 "callCallbackUrl": "https://hooks.example.com/call"}}}),
        )
        .await;
    }
    apply(&client, &ns, list("list-big", "guarded", phones(0, 60))).await;
    apply(&client, &ns, list("list-small", "guarded", phones(100, 40))).await;
    apply(&client, &ns, list("list-locked", "locked", phones(200, 5))).await;
    apply(&client, &ns, list("list-gone", "gone", phones(300, 3))).await;
    apply(&client, &ns, task("guarded", "acct", "task-1", "guarded")).await;
    apply(&client, &ns, task("locked", "badacct", "task-2", "locked")).await;
    apply(&client, &ns, task("gone", "acct", "task-3", "gone")).await;
    wait_reason(&client, &ns, "guarded", "InSync").await;
    wait_reason(&client, &ns, "gone", "InSync").await;
    wait_reason(&client, &ns, "locked", "CredentialsRejected").await;
    // The guard trips: 60 of 100 contacts would go, 20 % is the limit.
    Api::<ContactList>::namespaced(client.clone(), &ns)
        .delete("list-big", &DeleteParams::default())
        .await
        .expect("delete list-big");
    wait_reason(&client, &ns, "guarded", "DeletionGuard").await;

    // A deleted CallTask leaves no series: not in the controller's answer, and so none in
    // Prometheus after its next scrape.
    let tasks: Api<CallTask> = Api::namespaced(client.clone(), &ns);
    tasks
        .delete("gone", &DeleteParams::default())
        .await
        .expect("delete task gone");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let text = scrape(&target).await;
        let gone = tasks.get_opt("gone").await.expect("get").is_none();
        if gone && !text.contains(r#"calltask="gone""#) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "series of the deleted CallTask remain:\n{}",
            text.lines()
                .filter(|l| l.contains(r#"calltask="gone""#))
                .collect::<Vec<_>>()
                .join("\n")
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    // The stuck tasks, as the metrics say it: conditions and reconcile outcomes with the
    // real reason (a Stalled reconcile was once recorded like an InSync one).
    for (calltask, reason) in [
        ("guarded", "DeletionGuard"),
        ("locked", "CredentialsRejected"),
    ] {
        let stalled = series(
            &prometheus,
            &format!(r#"callsync_calltask_status_condition{{namespace="{ns}", calltask="{calltask}", type="Stalled", status="True"}}"#),
            Duration::from_secs(30),
        )
        .await;
        assert_eq!(label(&stalled[0], "reason"), reason, "{stalled:?}");
        series(
            &prometheus,
            &format!(r#"callsync_reconcile_duration_seconds_count{{namespace="{ns}", outcome="Stalled", reason="{reason}"}}"#),
            Duration::from_secs(30),
        )
        .await;
    }
    let rejected = series(
        &prometheus,
        &format!(r#"callsync_provider_request_duration_seconds_count{{namespace="{ns}", callprovider="badacct", outcome!="ok"}}"#),
        Duration::from_secs(30),
    )
    .await;
    assert!(
        rejected
            .iter()
            .all(|s| label(s, "outcome") == "CredentialsRejected"
                || label(s, "outcome") == "SignatureRejected"),
        "{rejected:?}"
    );

    // Every dashboard query: series, each with the right namespace label.
    let (panels, variables) = dashboard_queries(&ns);
    assert!(panels.len() >= 20, "{panels:?}");
    for expr in &panels {
        let controller_level = expr.contains("process_") || expr.contains("callsync_build_info");
        let wanted = if controller_level {
            CONTROLLER_NAMESPACE
        } else {
            ns.as_str()
        };
        let found = series(&prometheus, expr, Duration::from_secs(60)).await;
        for s in &found {
            assert_eq!(
                label(s, "namespace"),
                wanted,
                "{expr}: a series without the right namespace label: {s}"
            );
            assert!(
                s["metric"].get("exported_namespace").is_none(),
                "{expr}: {s}"
            );
        }
    }
    // The variables offer this namespace, its CallTasks and CallProviders.
    let mut offered = BTreeSet::new();
    for (name, selector, label_name) in &variables {
        for s in series(
            &prometheus,
            &format!("count by ({label_name}) ({selector})"),
            Duration::from_secs(30),
        )
        .await
        {
            offered.insert(format!("{name}={}", label(&s, label_name)));
        }
    }
    for wanted in [
        format!("namespace={ns}"),
        "calltask=guarded".into(),
        "calltask=locked".into(),
        "callprovider=acct".into(),
        "callprovider=badacct".into(),
    ] {
        assert!(
            offered.contains(&wanted),
            "{wanted} not offered: {offered:?}"
        );
    }
    assert!(
        !offered.contains("calltask=gone"),
        "a deleted CallTask is still offered: {offered:?}"
    );

    // The chart's alerts on the real metrics: the guard trip fires at once, rejected credentials
    // wait their 5 minutes (pending).
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let alerts = prometheus.api("alerts", &[]).await.expect("alerts");
        let active: BTreeSet<(String, String, String, String)> = alerts["alerts"]
            .as_array()
            .expect("alerts")
            .iter()
            .map(|a| {
                let l = &a["labels"];
                (
                    l["alertname"].as_str().unwrap_or("").to_string(),
                    l["namespace"].as_str().unwrap_or("").to_string(),
                    l["calltask"].as_str().unwrap_or("").to_string(),
                    a["state"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect();
        let guard = (
            "CallsyncDeletionGuardTripped".into(),
            ns.clone(),
            "guarded".into(),
            "firing".into(),
        );
        // Pending for its 5 minutes; firing only on a machine slow enough to take that long.
        let creds = ["pending", "firing"].map(|state| {
            (
                "CallsyncCredentialsRejected".to_string(),
                ns.clone(),
                "locked".to_string(),
                state.to_string(),
            )
        });
        if active.contains(&guard) && creds.iter().any(|c| active.contains(c)) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "alerts not active: {active:?}\n{}",
            prometheus.log_text()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // A deleted CallProvider's request and rate-limiter series go too (its CallTask first).
    tasks
        .delete("locked", &DeleteParams::default())
        .await
        .expect("delete task locked");
    wait_gone(&tasks, "locked").await;
    Api::<CallProvider>::namespaced(client.clone(), &ns)
        .delete("badacct", &DeleteParams::default())
        .await
        .expect("delete CallProvider badacct");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let text = scrape(&target).await;
        if !text.contains(r#"callprovider="badacct""#) && !text.contains(r#"calltask="locked""#) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "series of the deleted CallProvider remain:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    controller.stop().await;
    drop(prometheus);
}

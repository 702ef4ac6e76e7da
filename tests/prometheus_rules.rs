//! The chart's alerts (charts/callsync/alerts/callsync.rules.yaml): valid for promtool, every
//! alert covered by `promtool test rules` (tests/prometheus/alerts_test.yaml) with a case where
//! it fires, and carried unchanged by the chart's PrometheusRule; the ServiceMonitor keeps the
//! metrics' own namespace label (honorLabels).
mod support;

use std::collections::BTreeSet;
use std::process::Command;

use serde_json::Value;
use support::prometheus::promtool;
use support::repo_root;
use support::tools::{helm_template, yaml_documents};

const RULES: &str = "charts/callsync/alerts/callsync.rules.yaml";
const RULE_TESTS: &str = "tests/prometheus/alerts_test.yaml";

fn yaml_file(path: &str) -> Value {
    let text = std::fs::read_to_string(repo_root().join(path)).expect("read");
    yaml_documents(&text)
        .into_iter()
        .next()
        .expect("one document")
}

fn alert_names(rules: &Value) -> BTreeSet<String> {
    rules["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .flat_map(|g| g["rules"].as_array().expect("rules").iter())
        .filter_map(|r| r["alert"].as_str().map(str::to_string))
        .collect()
}

fn promtool_ok(args: &[&str]) -> String {
    let output = Command::new(promtool())
        .args(args)
        .current_dir(repo_root())
        .output()
        .expect("run promtool");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "promtool {args:?} failed:\n{text}");
    text
}

#[test]
fn promtool_checks_and_tests_every_alert() {
    let checked = promtool_ok(&["check", "rules", RULES]);
    assert!(checked.contains("SUCCESS"), "{checked}");
    let tested = promtool_ok(&["test", "rules", RULE_TESTS]);
    assert!(tested.contains("SUCCESS"), "{tested}");

    let alerts = alert_names(&yaml_file(RULES));
    let wanted: BTreeSet<String> = [
        "CallsyncTaskStalled",
        "CallsyncTaskLeftPaused",
        "CallsyncDeletionGuardTripped",
        "CallsyncCredentialsRejected",
        "CallsyncNoSuccessfulSync",
    ]
    .map(String::from)
    .into();
    assert_eq!(alerts, wanted);
    // Every alert has a test case in which it fires (and so a case proving its labels and
    // annotations), not only cases where it stays silent.
    let tests = yaml_file(RULE_TESTS);
    let firing: BTreeSet<String> = tests["tests"]
        .as_array()
        .expect("tests")
        .iter()
        .flat_map(|t| {
            t["alert_rule_test"]
                .as_array()
                .expect("alert_rule_test")
                .iter()
        })
        .filter(|c| c["exp_alerts"].as_array().is_some_and(|a| !a.is_empty()))
        .filter_map(|c| c["alertname"].as_str().map(str::to_string))
        .collect();
    assert_eq!(firing, alerts, "alerts without a firing test case");
}

#[test]
fn chart_prometheus_rule_carries_the_rules_and_the_service_monitor_honours_labels() {
    let rendered = helm_template(
        "callsync",
        "callsync-system",
        &[
            "--set",
            "prometheusRule.enabled=true",
            "--set",
            "prometheusRule.labels.release=prometheus",
            "--set",
            "serviceMonitor.enabled=true",
        ],
    )
    .expect("render");
    let docs = yaml_documents(&rendered);
    let rule = docs
        .iter()
        .find(|d| d["kind"] == "PrometheusRule")
        .expect("a PrometheusRule");
    assert_eq!(rule["metadata"]["namespace"], "callsync-system");
    assert_eq!(rule["metadata"]["labels"]["release"], "prometheus");
    assert_eq!(rule["spec"], yaml_file(RULES), "the rule file, unchanged");
    let monitor = docs
        .iter()
        .find(|d| d["kind"] == "ServiceMonitor")
        .expect("a ServiceMonitor");
    for endpoint in monitor["spec"]["endpoints"].as_array().expect("endpoints") {
        assert_eq!(endpoint["honorLabels"], true, "{endpoint}");
    }

    // Off by default.
    let plain = yaml_documents(&helm_template("callsync", "callsync-system", &[]).expect("render"));
    assert!(plain.iter().all(|d| d["kind"] != "PrometheusRule"));
}

//! Issue 7's proof: `callsync controller` runs out of cluster with only a token of the chart's
//! ServiceAccount (namespaced mode, leader election on) and passes create → converge → delete
//! against the simulator. A missing permission would show as a CallTask that never gets Ready,
//! a finalizer never released, or the controller's log naming a Forbidden call.
mod support;

use std::collections::BTreeSet;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use support::sim;

use callsync::api::{CallTask, ConditionType, find_condition};
use callsync::simulator::{ProviderKind, TaskConfig};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DeleteParams, ObjectMeta, PostParams};
use kube::runtime::wait::await_condition;
use serde_json::json;

/// Ends the controller process (by its pid) however the test ends.
struct Controller(Child);

impl Drop for Controller {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn controller_with_only_the_chart_token_creates_converges_and_deletes() {
    let cp = support::control_plane();
    let (admin, watched) = cp.test_namespace("rbac-e2e").await;
    let release = format!("{watched}-rel");
    Api::<Namespace>::all(admin.clone())
        .create(
            &PostParams::default(),
            &Namespace {
                metadata: ObjectMeta {
                    name: Some(release.clone()),
                    ..Default::default()
                },
                ..Default::default()
            },
        )
        .await
        .expect("release namespace");
    let watch_set = format!("watchNamespaces={{{watched}}}");
    let sa =
        support::chart::install_rbac_and_mint_token(&admin, &release, &["--set", &watch_set]).await;

    let task = TaskConfig {
        id: "task-1".into(),
        ..Default::default()
    };
    let simulator = sim::start(vec![sim::account(
        ProviderKind::Callbot,
        sim::CB_UUID,
        sim::CB_SECRET,
        vec![task],
    )])
    .await;
    let admin_api = sim::Admin::new(&simulator);

    let log_path = cp.dir.join(format!("controller-{watched}.log"));
    let log = std::fs::File::create(&log_path).expect("log file");
    let child = Command::new(env!("CARGO_BIN_EXE_callsync"))
        .args([
            "controller",
            "--watch-namespaces",
            &watched,
            "--leader-election",
        ])
        .args([
            "--lease-namespace",
            &release,
            // The chart names the Lease after the release and grants only that one.
            "--lease-name",
            &sa.name,
            "--identity",
            "rbac-e2e",
        ])
        .args(["--listen-addr", "127.0.0.1:0", "--progress-seconds", "1"])
        .arg("--kubeconfig")
        .arg(&sa.kubeconfig)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start callsync controller");
    let _controller = Controller(child);

    let apply = |object: serde_json::Value| {
        let admin = admin.clone();
        let watched = watched.clone();
        async move {
            support::apply(&admin, &watched, object).await;
        }
    };
    apply(json!({"apiVersion": "v1", "kind": "Secret",
                 "metadata": {"name": "creds", "labels": {"callsync.io/credentials": "true"}},
                 "stringData": {"uuid": sim::CB_UUID, "secretKey": sim::CB_SECRET}}))
    .await;
    apply(json!({"apiVersion": "callsync.io/v1alpha1", "kind": "CallProvider", "metadata": {"name": "acct"},
                 "spec": {"insecure": true, "callbot": {"endpoint": simulator.base_url(), "credentialsSecretRef": {"name": "creds"},
                          "orderCallbackUrl": "https://hooks.example.com/o", "callCallbackUrl": "https://hooks.example.com/c"},
                          "rateLimit": {"requestsPerSecond": 1000, "burst": 1000}}})).await;
    let phones: Vec<String> = (0..250).map(|i| format!("139{i:08}")).collect();
    let contacts: Vec<_> = phones
        .iter()
        .map(|p| json!({"phone": p, "name": "张伟"}))
        .collect();
    apply(json!({"apiVersion": "callsync.io/v1alpha1", "kind": "ContactList", "metadata": {"name": "list"},
                 "spec": {"defaultRegion": "CN", "contacts": contacts}})).await;
    apply(json!({"apiVersion": "callsync.io/v1alpha1", "kind": "CallTask", "metadata": {"name": "campaign"},
                 "spec": {"providerRef": {"name": "acct"}, "taskId": "task-1", "contactLists": {"names": ["list"]},
                          "policy": {"deletion": "Delete"}}})).await;

    let tasks: Api<CallTask> = Api::namespaced(admin.clone(), &watched);
    let in_sync = await_condition(tasks.clone(), "campaign", |t: Option<&CallTask>| {
        t.and_then(|t| t.status.as_ref())
            .and_then(|s| find_condition(&s.conditions, ConditionType::Ready))
            .is_some_and(|c| c.reason == "InSync")
    });
    if tokio::time::timeout(Duration::from_secs(90), in_sync)
        .await
        .is_err()
    {
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        let status = tasks.get("campaign").await.ok().and_then(|t| t.status);
        panic!("not InSync with the chart's token; status {status:#?}\ncontroller log:\n{log}");
    }
    let held: BTreeSet<String> = admin_api
        .phones("callbot", sim::CB_UUID, "task-1")
        .await
        .into_iter()
        .collect();
    let want: BTreeSet<String> = phones.iter().map(|p| format!("86{p}")).collect();
    assert_eq!(held, want);

    tasks
        .delete("campaign", &DeleteParams::default())
        .await
        .expect("delete");
    let gone = await_condition(tasks.clone(), "campaign", |t: Option<&CallTask>| {
        t.is_none()
    });
    tokio::time::timeout(Duration::from_secs(60), gone)
        .await
        .unwrap_or_else(|_| {
            panic!(
                "finalizer not released; log:\n{}",
                std::fs::read_to_string(&log_path).unwrap_or_default()
            )
        })
        .expect("watch");
    assert!(
        admin_api
            .phones("callbot", sim::CB_UUID, "task-1")
            .await
            .is_empty(),
        "deletion: Delete removed every contact"
    );
    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
    assert!(
        !log.contains("Forbidden") && !log.contains("forbidden"),
        "a call was forbidden:\n{log}"
    );
}

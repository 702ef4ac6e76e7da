//! `callsync sync|suspend|resume CALLTASK [--wait]` on a real kube-apiserver with the controller
//! (in process) and the simulator: the binary finds the cluster through a kubeconfig as kubectl
//! does, `--wait` waits for the very sync it asked for, and bad input (a CallTask that does not
//! exist, a timeout) is one line naming what and where, exit 1.
mod support;

use std::collections::BTreeSet;
use std::time::Duration;
use support::sim;

use callsync::api::{ConditionType, find_condition};
use callsync::simulator::ProviderKind;
use serde_json::{Value, json};

const TASK: &str = "task-1";

struct Env {
    base: support::env::Env,
}

impl std::ops::Deref for Env {
    type Target = support::env::Env;
    fn deref(&self) -> &Self::Target {
        &self.base
    }
}

impl std::ops::DerefMut for Env {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.base
    }
}

impl Env {
    /// A namespace with a longlonglong account, one ContactList of `phones` and a CallTask
    /// `campaign` whose resyncInterval is a week: any sync within a test was asked for.
    async fn start(prefix: &str, phones: &[String], with_controller: bool) -> Env {
        let base = support::env::Env::builder(prefix)
            .provider(ProviderKind::Longlonglong, &[TASK])
            .start()
            .await;
        let mut env = Env { base };
        if with_controller {
            env.start_controller();
        }
        env.provider(
            ProviderKind::Longlonglong,
            "acct",
            "creds",
            json!({"rateLimit": {"requestsPerSecond": 1000, "burst": 1000}}),
        )
        .await;
        let contacts: Vec<Value> = phones.iter().map(|p| json!({"phone": p})).collect();
        env.apply(
            json!({"apiVersion": "callsync.io/v1alpha1", "kind": "ContactList",
            "metadata": {"name": "list-a", "labels": {"campaign": "cli"}},
            "spec": {"defaultRegion": "CN", "contacts": contacts}}),
        )
        .await;
        env.apply(
            json!({"apiVersion": "callsync.io/v1alpha1", "kind": "CallTask",
            "metadata": {"name": "campaign"},
            "spec": {"providerRef": {"name": "acct"}, "taskId": TASK,
                     "contactLists": {"selector": {"matchLabels": {"campaign": "cli"}}},
                     "resyncInterval": "168h"}}),
        )
        .await;
        env
    }

    /// The controller in process, with 2 workers.
    fn start_controller(&mut self) {
        let mut config = self.run_config("cli-cluster");
        config.concurrency = 2;
        self.base.start_controller(config);
    }

    async fn sim_phones(&self) -> BTreeSet<String> {
        self.admin
            .phones("longlonglong", sim::LLL_USER, TASK)
            .await
            .into_iter()
            .collect()
    }

    /// Runs `callsync ARGS --kubeconfig … -n NS` to its end, off the async workers (the
    /// controller runs on them meanwhile).
    async fn callsync(&self, args: &[&str]) -> support::cli::Output {
        let mut args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let kubeconfig = support::control_plane().kubeconfig.display().to_string();
        args.extend([
            "--kubeconfig".into(),
            kubeconfig,
            "-n".into(),
            self.ns.clone(),
        ]);
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            support::cli::run(support::repo_root(), &args)
        })
        .await
        .expect("callsync ran")
    }

    /// Removes a number from the provider task through the provider's own API, as a person
    /// in its console would: drift no watch sees, which only a sync repairs.
    async fn remove_by_hand(&self, phone: &str) {
        let url = format!(
            "{}/agent-api/user/{}/task/{TASK}/number-batch-delete",
            self.simulator.base_url(),
            sim::LLL_USER
        );
        let removed = reqwest::Client::new()
            .delete(url)
            .bearer_auth(sim::LLL_TOKEN)
            .json(&json!({"customer_info_list": [{"phone": phone}]}))
            .send()
            .await
            .expect("delete by hand");
        assert!(removed.status().is_success());
    }

    /// Waits until the CallTask's Ready condition has `reason`.
    async fn wait_reason(&self, reason: &str) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let task = self.tasks().get("campaign").await.expect("get");
            let current = task
                .status
                .as_ref()
                .and_then(|s| find_condition(&s.conditions, ConditionType::Ready))
                .map(|c| c.reason.clone());
            if current.as_deref() == Some(reason) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "CallTask not {reason}: {current:?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

fn phones(count: u32) -> Vec<String> {
    (0..count).map(|i| format!("138{i:08}")).collect()
}

fn one_error_line(out: &support::cli::Output) -> &str {
    assert_eq!(out.code, Some(1), "{}", out.all());
    let lines: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert_eq!(lines.len(), 1, "one line: {}", out.all());
    assert!(lines[0].starts_with("error: "), "{}", out.all());
    lines[0]
}

/// `sync --wait` runs a sync a week before resyncInterval would, and returns only once that
/// sync finished (the drift is repaired when it exits); the request is the one echoed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_wait_runs_the_sync_it_asked_for_and_waits_for_it() {
    let contacts = phones(8);
    let mut env = Env::start("cli-sync", &contacts, true).await;
    env.wait_reason("InSync").await;
    let desired: BTreeSet<String> = contacts.iter().cloned().collect();
    assert_eq!(env.sim_phones().await, desired);
    env.remove_by_hand(&contacts[2]).await;
    assert_eq!(env.sim_phones().await.len(), contacts.len() - 1);

    let out = env
        .callsync(&["sync", "campaign", "--wait", "--timeout", "60s"])
        .await;
    assert_eq!(out.code, Some(0), "{}", out.all());
    assert!(
        out.stdout
            .contains(&format!("✔ CallTask {}/campaign: InSync", env.ns)),
        "{}",
        out.all()
    );
    assert_eq!(
        env.sim_phones().await,
        desired,
        "repaired before --wait returned"
    );
    let task = env.tasks().get("campaign").await.expect("get");
    let requested = task
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get("callsync.io/requestedAt"))
        .cloned()
        .expect("the request annotation");
    assert!(out.stdout.contains(&requested), "{}", out.all());
    assert_eq!(
        task.status.and_then(|s| s.last_handled_sync_request),
        Some(requested)
    );

    // The ContactList's Ready column, as kubectl prints it.
    let kubectl = support::control_plane()
        .kubectl()
        .expect("kubectl is built by scripts/build-controlplane.sh");
    let listed = std::process::Command::new(kubectl)
        .arg("--kubeconfig")
        .arg(&support::control_plane().kubeconfig)
        .args(["get", "contactlists", "-n", &env.ns])
        .output()
        .expect("run kubectl");
    let table = String::from_utf8_lossy(&listed.stdout);
    let header: Vec<&str> = table
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let row: Vec<&str> = table
        .lines()
        .nth(1)
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ready = header
        .iter()
        .position(|c| *c == "READY")
        .expect("READY column");
    assert_eq!(row.get(ready), Some(&"True"), "{table}");

    // A CallTask that does not exist: one line naming it, the namespace and the cluster.
    let missing = env
        .callsync(&["sync", "nope", "--wait", "--timeout", "10s"])
        .await;
    let line = one_error_line(&missing);
    assert!(
        line.contains(&format!(
            "CallTask \"nope\" not found in namespace \"{}\" at https://127.0.0.1:",
            env.ns
        )),
        "{line}"
    );
    env.stop_controller().await;
}

/// `suspend --wait` returns once the controller reports Suspended; a suspended task refuses
/// `sync`; `resume --wait` syncs at once and returns when Ready.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suspend_and_resume_wait_for_the_controller() {
    let contacts = phones(6);
    let mut env = Env::start("cli-suspend", &contacts, true).await;
    env.wait_reason("InSync").await;

    let out = env
        .callsync(&["suspend", "campaign", "--wait", "--timeout", "60s"])
        .await;
    assert_eq!(out.code, Some(0), "{}", out.all());
    assert!(out.stdout.contains("Suspended"), "{}", out.all());
    let task = env.tasks().get("campaign").await.expect("get");
    assert!(task.spec.suspend);

    let refused = env.callsync(&["sync", "campaign"]).await;
    let line = one_error_line(&refused);
    assert!(line.contains("is suspended (spec.suspend)"), "{line}");
    assert!(line.contains("callsync resume campaign"), "{line}");

    env.remove_by_hand(&contacts[0]).await;
    let out = env
        .callsync(&["resume", "campaign", "--wait", "--timeout", "60s"])
        .await;
    assert_eq!(out.code, Some(0), "{}", out.all());
    assert!(out.stdout.contains("InSync"), "{}", out.all());
    assert!(!env.tasks().get("campaign").await.expect("get").spec.suspend);
    assert_eq!(
        env.sim_phones().await,
        contacts.iter().cloned().collect::<BTreeSet<_>>(),
        "resume synced before --wait returned"
    );
    env.stop_controller().await;
}

/// No controller answers: `--wait` gives up after `--timeout` with one line naming the
/// CallTask, namespace and cluster, exit 1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_wait_times_out_in_one_line() {
    let env = Env::start("cli-timeout", &phones(2), false).await;
    let started = std::time::Instant::now();
    let out = env
        .callsync(&["sync", "campaign", "--wait", "--timeout", "2s"])
        .await;
    let line = one_error_line(&out);
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "bounded by --timeout"
    );
    assert!(line.contains("timed out after 2s"), "{line}");
    assert!(
        line.contains(&format!(
            "CallTask {}/campaign at https://127.0.0.1:",
            env.ns
        )),
        "{line}"
    );
    assert!(line.contains("it last handled no request"), "{line}");

    // A duration that is not one: one line naming the flag.
    let bad = env
        .callsync(&["sync", "campaign", "--wait", "--timeout", "soon"])
        .await;
    let line = one_error_line(&bad);
    assert!(line.contains("'--timeout <TIMEOUT>'"), "{line}");
}

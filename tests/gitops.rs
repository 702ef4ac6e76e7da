//! GitOps health on real objects: CallTasks and ContactLists are put in each phase on a real
//! kube-apiserver (status written by server-side apply on the status subresource, as callsync
//! writes it), then read back and judged by
//! - upstream kstatus (`sigs.k8s.io/cli-utils/pkg/kstatus`, in `tools/kstatus`),
//! - the Flux `healthCheckExprs` of `docs/gitops.md` (CEL, evaluated as Flux does, same tool),
//! - the Argo CD Lua health checks of `docs/gitops.md` (gopher-lua as Argo CD runs it, in
//!   `tools/argolua`),
//! - `kubectl wait --for=condition=Ready`.
//!
//! The snippets are extracted from `docs/gitops.md` itself, so the page cannot drift from what
//! is tested.
mod support;

use std::collections::BTreeMap;
use std::process::Command;

use callsync::api::{CLEANUP_FINALIZER, FIELD_MANAGER};
use kube::api::{DeleteParams, DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams};
use kube::discovery::pinned_kind;
use kube::{Api, Client};
use serde_json::{Value, json};
use support::tools::{run, tool, yaml_documents};

/// The YAML block that follows `<!-- test: NAME -->` in docs/gitops.md.
fn doc_block(name: &str) -> Value {
    let text = std::fs::read_to_string(support::repo_root().join("docs/gitops.md"))
        .expect("read docs/gitops.md");
    let marker = format!("<!-- test: {name} -->");
    let after = text
        .split_once(&marker)
        .unwrap_or_else(|| panic!("no {marker} in docs/gitops.md"))
        .1;
    let block = after
        .split_once("```yaml\n")
        .and_then(|(_, rest)| rest.split_once("\n```"))
        .unwrap_or_else(|| panic!("no yaml block after {marker}"))
        .0;
    let mut docs = yaml_documents(block);
    assert_eq!(docs.len(), 1, "one document after {marker}");
    docs.remove(0)
}

fn condition(type_: &str, status: &str, reason: &str, message: &str, generation: i64) -> Value {
    json!({"type": type_, "status": status, "reason": reason, "message": message,
           "lastTransitionTime": "2026-11-25T10:00:00Z", "observedGeneration": generation})
}

async fn api(client: &Client, ns: &str, kind: &str) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk("callsync.io", "v1alpha1", kind);
    let (resource, _) = pinned_kind(client, &gvk).await.expect("kind is served");
    Api::namespaced_with(client.clone(), ns, &resource)
}

/// Creates `name` of `kind` with `spec` (and `finalizers`), then writes `status` (if any) by
/// server-side apply on the status subresource.
async fn object(
    client: &Client,
    ns: &str,
    kind: &str,
    name: &str,
    spec: Value,
    finalizers: &[&str],
    status: Option<Value>,
) -> Api<DynamicObject> {
    let api = api(client, ns, kind).await;
    let obj: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "callsync.io/v1alpha1", "kind": kind,
        "metadata": {"name": name, "finalizers": finalizers},
        "spec": spec,
    }))
    .expect("object");
    api.create(&PostParams::default(), &obj)
        .await
        .unwrap_or_else(|e| panic!("create {kind} {name}: {e}"));
    if let Some(status) = status {
        let patch = json!({"apiVersion": "callsync.io/v1alpha1", "kind": kind, "status": status});
        api.patch_status(
            name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&patch),
        )
        .await
        .unwrap_or_else(|e| panic!("status of {kind} {name}: {e}"));
    }
    api
}

fn task_spec(suspend: bool) -> Value {
    json!({"providerRef": {"name": "callbot"}, "taskId": "t-1",
           "contactLists": {"names": ["customers"]}, "suspend": suspend})
}

/// The CallTasks of each phase; their names are the phases.
async fn call_tasks(client: &Client, ns: &str) {
    let c = |t, s, r, m| condition(t, s, r, m, 1);
    let counts = json!({"desired": 5, "present": 3, "pending": 2, "pendingAdd": 2,
                        "pendingRemove": 0, "failed": 0, "notRemovable": 0});
    // Created, no status written yet.
    object(client, ns, "CallTask", "new", task_spec(false), &[], None).await;
    object(
        client,
        ns,
        "CallTask",
        "syncing",
        task_spec(false),
        &[],
        Some(json!({
        "observedGeneration": 1, "contacts": counts,
        "conditions": [c("Ready", "False", "Progressing", "2 of 5 contacts to add"),
                       c("Reconciling", "True", "Progressing", "2 of 5 contacts to add"),
                       c("Stalled", "False", "Progressing", "")]})),
    )
    .await;
    object(
        client,
        ns,
        "CallTask",
        "in-sync",
        task_spec(false),
        &[],
        Some(json!({
        "observedGeneration": 1,
        "conditions": [c("Ready", "True", "InSync", "5 contacts in sync"),
                       c("Reconciling", "False", "InSync", ""),
                       c("Stalled", "False", "InSync", "")]})),
    )
    .await;
    object(client, ns, "CallTask", "stalled", task_spec(false), &[], Some(json!({
        "observedGeneration": 1,
        "conditions": [c("Ready", "False", "DeletionGuard", "a sync would remove 60% of the remote contacts; the limit is 50%"),
                       c("Reconciling", "False", "DeletionGuard", ""),
                       c("Stalled", "True", "DeletionGuard", "a sync would remove 60% of the remote contacts; the limit is 50%")]}))).await;
    // In sync for generation 1, then the spec changed: generation 2 not yet observed.
    let stale = object(
        client,
        ns,
        "CallTask",
        "stale",
        task_spec(false),
        &[],
        Some(json!({
        "observedGeneration": 1,
        "conditions": [c("Ready", "True", "InSync", "5 contacts in sync"),
                       c("Reconciling", "False", "InSync", ""),
                       c("Stalled", "False", "InSync", "")]})),
    )
    .await;
    stale
        .patch(
            "stale",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"resyncInterval": "1h"}})),
        )
        .await
        .expect("edit the spec");
    object(
        client,
        ns,
        "CallTask",
        "suspended",
        task_spec(true),
        &[],
        Some(json!({
        "observedGeneration": 1,
        "conditions": [c("Ready", "True", "Suspended", "spec.suspend is true"),
                       c("Reconciling", "False", "Suspended", ""),
                       c("Stalled", "False", "Suspended", "")]})),
    )
    .await;
    // Deleted while the cleanup finalizer is set: it stays, with a deletionTimestamp.
    let deleting = object(
        client,
        ns,
        "CallTask",
        "deleting",
        task_spec(false),
        &[CLEANUP_FINALIZER],
        Some(json!({
        "observedGeneration": 1,
        "conditions": [c("Ready", "True", "InSync", "5 contacts in sync"),
                       c("Reconciling", "False", "InSync", ""),
                       c("Stalled", "False", "InSync", "")]})),
    )
    .await;
    deleting
        .delete("deleting", &DeleteParams::default())
        .await
        .expect("delete");
}

async fn contact_lists(client: &Client, ns: &str) {
    let spec = json!({"defaultRegion": "CN", "contacts": [{"phone": "13012121211"}]});
    object(
        client,
        ns,
        "ContactList",
        "unobserved",
        spec.clone(),
        &[],
        None,
    )
    .await;
    object(
        client,
        ns,
        "ContactList",
        "valid",
        spec.clone(),
        &[],
        Some(json!({
        "observedGeneration": 1, "count": 1, "invalid": 0, "duplicates": 0,
        "conditions": [condition("Ready", "True", "Valid", "1 contact", 1)]})),
    )
    .await;
    let source = json!({"source": {"configMapRef": {"name": "missing", "key": "contacts.csv"}}});
    object(client, ns, "ContactList", "unreadable", source, &[], Some(json!({
        "observedGeneration": 1, "count": 0, "invalid": 0, "duplicates": 0,
        "conditions": [condition("Ready", "False", "SourceNotFound", "ConfigMap missing not found", 1),
                       condition("Stalled", "True", "SourceNotFound", "ConfigMap missing not found", 1)]}))).await;
}

/// `kubectl get <plural> -n ns -o json`: the List a user sees.
fn kubectl_list(plural: &str, ns: &str) -> Vec<u8> {
    let cp = support::control_plane();
    let output = Command::new(
        cp.kubectl()
            .expect("kubectl is built by scripts/build-controlplane.sh"),
    )
    .arg("--kubeconfig")
    .arg(&cp.kubeconfig)
    .args(["get", plural, "-n", ns, "-o", "json"])
    .output()
    .expect("kubectl get");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

/// Runs a tool on a List and returns its JSON lines by object name.
fn judge(command: &mut Command, list: &[u8]) -> BTreeMap<String, Value> {
    let output = run(command, list);
    assert!(
        output.status.success(),
        "{command:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("JSON line"))
        .map(|v| (v["name"].as_str().expect("name").to_string(), v))
        .collect()
}

/// The Flux expressions for `kind` from docs/gitops.md, written to a file for tools/kstatus.
fn flux_exprs(kind: &str, dir: &std::path::Path) -> std::path::PathBuf {
    let kustomization = doc_block("flux-kustomization");
    let exprs = kustomization["spec"]["healthCheckExprs"]
        .as_array()
        .expect("healthCheckExprs")
        .iter()
        .find(|e| e["kind"] == kind && e["apiVersion"] == "callsync.io/v1alpha1")
        .unwrap_or_else(|| panic!("no healthCheckExprs for {kind}"))
        .clone();
    let path = dir.join(format!("{kind}.flux.json"));
    std::fs::write(&path, exprs.to_string()).expect("write");
    path
}

/// The Argo CD script for `kind` from docs/gitops.md.
fn argo_script(kind: &str, dir: &std::path::Path) -> std::path::PathBuf {
    let cm = doc_block("argocd-cm");
    let key = format!("resource.customizations.health.callsync.io_{kind}");
    let script = cm["data"][&key]
        .as_str()
        .unwrap_or_else(|| panic!("no {key} in the argocd-cm block"));
    let path = dir.join(format!("{kind}.lua"));
    std::fs::write(&path, script).expect("write");
    path
}

/// Checks every tool's verdict on every object of `kind` against `expected`:
/// name -> (kstatus, flux, argo).
fn check(kind: &str, plural: &str, ns: &str, expected: &[(&str, &str, &str, &str)]) {
    let dir = tempfile::tempdir().expect("temp dir");
    let list = kubectl_list(plural, ns);
    let kstatus = judge(
        Command::new(tool("kstatus"))
            .arg("-flux")
            .arg(flux_exprs(kind, dir.path())),
        &list,
    );
    let argo = judge(
        Command::new(tool("argolua")).arg(argo_script(kind, dir.path())),
        &list,
    );
    assert_eq!(kstatus.len(), expected.len(), "{kstatus:?}");
    let mut mismatches = Vec::new();
    for (name, want_kstatus, want_flux, want_argo) in expected {
        let k = &kstatus[*name];
        let a = &argo[*name];
        let flux = k["flux"].as_str().expect("flux");
        let flux_ok = if let Some(prefix) = want_flux.strip_suffix('*') {
            flux.starts_with(prefix)
        } else {
            flux == *want_flux
        };
        if k["kstatus"] != *want_kstatus || !flux_ok || a["status"] != *want_argo {
            mismatches.push(format!(
                "{kind} {name}: kstatus {} (want {want_kstatus}), flux {flux} (want {want_flux}), \
                 argo {} (want {want_argo}) - {}",
                k["kstatus"], a["status"], a["message"]
            ));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

#[tokio::test]
async fn kstatus_flux_and_argo_cd_read_each_phase_of_a_call_task() {
    let (client, ns) = support::control_plane()
        .test_namespace("gitops-tasks")
        .await;
    call_tasks(&client, &ns).await;
    check(
        "CallTask",
        "calltasks",
        &ns,
        &[
            // kstatus has no callsync-specific rule: no status at all reads as Current (the gap
            // docs/gitops.md describes); Flux's expressions cannot evaluate yet and Flux waits.
            ("new", "Current", "Error: no such attribute*", "Progressing"),
            ("syncing", "InProgress", "InProgress", "Progressing"),
            ("in-sync", "Current", "Current", "Healthy"),
            ("stalled", "Failed", "Failed", "Degraded"),
            ("stale", "InProgress", "InProgress", "Progressing"),
            ("suspended", "Current", "Current", "Suspended"),
            ("deleting", "Terminating", "InProgress", "Progressing"),
        ],
    );
}

#[tokio::test]
async fn kstatus_flux_and_argo_cd_read_each_phase_of_a_contact_list() {
    let (client, ns) = support::control_plane()
        .test_namespace("gitops-lists")
        .await;
    contact_lists(&client, &ns).await;
    check(
        "ContactList",
        "contactlists",
        &ns,
        &[
            (
                "unobserved",
                "Current",
                "Error: no such attribute*",
                "Progressing",
            ),
            ("valid", "Current", "Current", "Healthy"),
            ("unreadable", "Failed", "Failed", "Degraded"),
        ],
    );
}

#[tokio::test]
async fn argo_cd_messages_carry_the_condition_reason_and_message() {
    let (client, ns) = support::control_plane().test_namespace("gitops-msg").await;
    call_tasks(&client, &ns).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let argo = judge(
        Command::new(tool("argolua")).arg(argo_script("CallTask", dir.path())),
        &kubectl_list("calltasks", &ns),
    );
    assert_eq!(
        argo["stalled"]["message"],
        "DeletionGuard: a sync would remove 60% of the remote contacts; the limit is 50%"
    );
    assert_eq!(argo["in-sync"]["message"], "InSync: 5 contacts in sync");
    assert_eq!(
        argo["stale"]["message"],
        "Waiting for callsync to observe generation 2"
    );
}

#[tokio::test]
async fn kubectl_wait_for_ready_waits_for_the_ready_condition() {
    let cp = support::control_plane();
    let (client, ns) = cp.test_namespace("gitops-wait").await;
    call_tasks(&client, &ns).await;
    let kubectl = cp
        .kubectl()
        .expect("kubectl is built by scripts/build-controlplane.sh");
    let wait = |name: &str, timeout: &str| {
        Command::new(&kubectl)
            .arg("--kubeconfig")
            .arg(&cp.kubeconfig)
            .args(["wait", &format!("calltask/{name}"), "-n", &ns])
            .args(["--for=condition=Ready", &format!("--timeout={timeout}")])
            .output()
            .expect("kubectl wait")
    };
    let ready = wait("in-sync", "10s");
    assert!(
        ready.status.success(),
        "{}",
        String::from_utf8_lossy(&ready.stderr)
    );
    assert!(String::from_utf8_lossy(&ready.stdout).contains("condition met"));
    // The docs' recipe for noticing a Stalled task from a script.
    let stalled = Command::new(&kubectl)
        .arg("--kubeconfig")
        .arg(&cp.kubeconfig)
        .args(["wait", "calltask/stalled", "-n", &ns, "--timeout=10s"])
        .arg(r#"--for=jsonpath={.status.conditions[?(@.type=="Stalled")].status}=True"#)
        .output()
        .expect("kubectl wait");
    assert!(
        stalled.status.success(),
        "{}",
        String::from_utf8_lossy(&stalled.stderr)
    );
    for name in ["syncing", "stalled", "new"] {
        let output = wait(name, "1s");
        assert!(
            !output.status.success(),
            "kubectl wait said {name} is Ready"
        );
        assert!(
            String::from_utf8_lossy(&output.stderr).contains("timed out"),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

//! The CRDs are chart templates (`crds.enabled`, `crds.keep`, as cert-manager does), so Helm
//! upgrades them: on the real kube-apiserver, a release installed from an older chart whose
//! CallTask CRD lacks `spec.suspend` refuses that field; `helm upgrade` to the repository's chart
//! makes the apiserver serve it; `helm uninstall` (crds.keep, the default) leaves the three CRDs
//! and the users' CallTasks in place. And the way from a chart that still had a `crds/` folder
//! (CRDs without Helm's ownership metadata): the upgrade stops until the CRDs are adopted with
//! the commands of docs/install.md, then serves the new field.
//!
//! Its own test binary: it owns the CRDs of its control plane through Helm, which the other
//! binaries install with server-side apply (`support::install_crds`); the two would conflict.
//! No kubelet runs, so no pod starts: nothing waits for the Deployment.
mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{ApiResource, DynamicObject, ObjectMeta, Patch, PatchParams, PostParams};
use kube::runtime::wait::{await_condition, conditions};
use kube::{Api, Client};
use serde_json::json;
use support::tools::tool;

const RELEASE: &str = "callsync";
const ADOPTED_RELEASE: &str = "callsync-adopted";
const CRD_NAMES: [&str; 3] = [
    "callproviders.callsync.io",
    "calltasks.callsync.io",
    "contactlists.callsync.io",
];

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create chart copy folder");
    for entry in std::fs::read_dir(from).expect("read chart folder") {
        let entry = entry.expect("dir entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy chart file");
        }
    }
}

/// The "previous release" of the chart, made here rather than kept in the repository: a copy of
/// the chart in target/ whose CallTask CRD has no `spec.suspend`, as a chart published before
/// that field existed would have. Everything else is the current chart, so the upgrade below
/// changes exactly one thing the apiserver can be asked about. With `crds_folder`, the copy is
/// laid out as the chart was before its CRDs became templates: the files in `crds/`, which Helm
/// installs once without its ownership metadata, and no `templates/crds.yaml`.
fn older_chart(work: &Path, crds_folder: bool) -> PathBuf {
    let chart = work.join(if crds_folder {
        "callsync-crds-folder"
    } else {
        "callsync-older"
    });
    let _ = std::fs::remove_dir_all(&chart);
    copy_dir(&support::repo_root().join("charts/callsync"), &chart);
    let mut crd_dir = chart.join("files/crds");
    if crds_folder {
        std::fs::rename(&crd_dir, chart.join("crds")).expect("move the CRDs to crds/");
        std::fs::remove_file(chart.join("templates/crds.yaml")).expect("remove the template");
        crd_dir = chart.join("crds");
    }
    let path = crd_dir.join("calltasks.yaml");
    let mut crd: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(&path).expect("read CRD")).expect("CRD");
    let spec_properties = &mut crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]
        ["spec"]["properties"];
    let removed = spec_properties
        .as_mapping_mut()
        .expect("spec properties")
        .remove("suspend");
    assert!(
        removed.is_some(),
        "the current CallTask CRD has spec.suspend"
    );
    std::fs::write(
        &path,
        format!("---\n{}", serde_yaml::to_string(&crd).expect("YAML")),
    )
    .expect("write the older CRD");
    chart
}

/// Runs helm against the test control plane, with its own config and cache folders under
/// `work` (nothing of the user's helm setup is read or written).
fn helm_output(work: &Path, args: &[&str]) -> std::process::Output {
    let cp = support::control_plane();
    Command::new(tool("helm"))
        .args(args)
        .arg("--kubeconfig")
        .arg(&cp.kubeconfig)
        .env("HELM_CONFIG_HOME", work.join("helm-config"))
        .env("HELM_CACHE_HOME", work.join("helm-cache"))
        .env("HELM_DATA_HOME", work.join("helm-data"))
        .output()
        .expect("run helm")
}

/// [`helm_output`] that must succeed; returns stdout.
fn helm(work: &Path, args: &[&str]) -> String {
    let output = helm_output(work, args);
    assert!(
        output.status.success(),
        "helm {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

async fn wait_established(client: &Client) {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    for name in CRD_NAMES {
        tokio::time::timeout(
            Duration::from_secs(30),
            await_condition(crds.clone(), name, conditions::is_crd_established()),
        )
        .await
        .unwrap_or_else(|_| panic!("CRD {name} not Established within 30 s"))
        .unwrap_or_else(|e| panic!("watch CRD {name}: {e}"));
    }
}

fn call_task(name: &str, suspend: bool) -> serde_json::Value {
    json!({
        "apiVersion": "callsync.io/v1alpha1",
        "kind": "CallTask",
        "metadata": {"name": name},
        "spec": {
            "providerRef": {"name": "callbot-main"},
            "taskId": "task-1",
            "contactLists": {"names": ["customers"]},
            "suspend": suspend,
        }
    })
}

/// Server-side apply with strict field validation: a field the served schema lacks is an error
/// naming it, not a silent prune.
async fn apply_strict(
    tasks: &Api<DynamicObject>,
    name: &str,
    body: &serde_json::Value,
) -> Result<DynamicObject, kube::Error> {
    tasks
        .patch(
            name,
            &PatchParams::apply("callsync-crd-upgrade-test").validation_strict(),
            &Patch::Apply(body),
        )
        .await
}

/// The CRDs are cluster-wide: the two tests of this binary take turns, each starting from none.
static CLUSTER_CRDS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Deletes callsync's CRDs (and so every object of their kinds) and waits until they are gone.
async fn remove_crds(client: &Client) {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    for name in CRD_NAMES {
        let _ = crds.delete(name, &Default::default()).await;
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    for name in CRD_NAMES {
        while crds.get_opt(name).await.expect("get CRD").is_some() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "CRD {name} not deleted within 60 s"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

/// A work folder under target/ and a fresh namespace.
async fn setup(client: &Client, name: &str) -> (PathBuf, String) {
    let work = support::repo_root()
        .join("target/chart-crd-upgrade")
        .join(format!("{name}-{}", std::process::id()));
    std::fs::create_dir_all(&work).expect("work folder");
    let ns = format!("{name}-{}", std::process::id());
    Api::<Namespace>::all(client.clone())
        .create(
            &PostParams::default(),
            &Namespace {
                metadata: ObjectMeta {
                    name: Some(ns.clone()),
                    ..Default::default()
                },
                ..Default::default()
            },
        )
        .await
        .expect("create namespace");
    (work, ns)
}

/// Under the older chart: spec.suspend is refused by name, and a CallTask without it is
/// written (it must survive everything after).
async fn older_crd_refuses_suspend(tasks: &Api<DynamicObject>) {
    let err = apply_strict(tasks, "survey", &call_task("survey", true))
        .await
        .expect_err("the older CRD must not serve spec.suspend");
    assert!(
        err.to_string().contains("suspend"),
        "the refusal names the field: {err}"
    );
    let mut without_suspend = call_task("survey", false);
    without_suspend["spec"]
        .as_object_mut()
        .expect("spec")
        .remove("suspend");
    apply_strict(tasks, "survey", &without_suspend)
        .await
        .expect("a CallTask valid under the older CRD");
}

/// After the upgrade: spec.suspend is served (stored as sent).
async fn suspend_is_served(client: &Client, tasks: &Api<DynamicObject>) {
    wait_established(client).await;
    // The apiserver swaps in the new schema shortly after the update, not atomically with it.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let served = loop {
        match apply_strict(tasks, "survey", &call_task("survey", true)).await {
            Ok(task) => break task,
            Err(e) if tokio::time::Instant::now() < deadline => {
                tracing::debug!("spec.suspend not served yet: {e}");
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(e) => panic!("spec.suspend is not served after helm upgrade: {e}"),
        }
    };
    assert_eq!(served.data["spec"]["suspend"], true, "stored as sent");
}

fn repo_chart() -> String {
    support::repo_root()
        .join("charts/callsync")
        .to_str()
        .expect("utf-8")
        .to_owned()
}

#[tokio::test]
async fn helm_upgrade_serves_the_new_crd_field_and_uninstall_keeps_crds_and_objects() {
    let _turn = CLUSTER_CRDS.lock().await;
    let client = support::control_plane().client().await;
    remove_crds(&client).await;
    let (work, ns) = setup(&client, "crd-upgrade").await;

    // 1. Install the older chart: its CallTask CRD has no spec.suspend.
    let older = older_chart(&work, false);
    helm(
        &work,
        &[
            "install",
            RELEASE,
            older.to_str().expect("utf-8"),
            "-n",
            &ns,
        ],
    );
    wait_established(&client).await;
    let resource = ApiResource::erase::<callsync::api::CallTask>(&());
    let tasks: Api<DynamicObject> = Api::namespaced_with(client.clone(), &ns, &resource);
    older_crd_refuses_suspend(&tasks).await;

    // 2. helm upgrade to the repository's chart upgrades the CRD: the field is served.
    let notes = helm(&work, &["upgrade", RELEASE, &repo_chart(), "-n", &ns]);
    assert!(
        notes.contains("helm upgrade upgrades them, and helm uninstall leaves them"),
        "the release notes tell what happens to the CRDs: {notes}"
    );
    suspend_is_served(&client, &tasks).await;
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let upgraded = crds.get("calltasks.callsync.io").await.expect("CRD");
    assert_eq!(
        upgraded
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get("helm.sh/resource-policy"))
            .map(String::as_str),
        Some("keep"),
        "crds.keep defaults to true"
    );

    // 3. helm uninstall leaves the CRDs (crds.keep) and so the users' objects.
    let out = helm(&work, &["uninstall", RELEASE, "-n", &ns]);
    assert!(
        out.contains("kept due to the resource policy"),
        "helm reports the kept CRDs: {out}"
    );
    for name in CRD_NAMES {
        let crd = crds
            .get_opt(name)
            .await
            .expect("get CRD")
            .unwrap_or_else(|| panic!("{name} was deleted by helm uninstall"));
        assert!(
            crd.metadata.deletion_timestamp.is_none(),
            "{name} is being deleted"
        );
    }
    let kept = tasks
        .get("survey")
        .await
        .expect("the CallTask outlives helm uninstall");
    assert_eq!(kept.data["spec"]["suspend"], true);
    assert!(
        helm(&work, &["list", "-n", &ns, "-q"]).trim().is_empty(),
        "the release is gone"
    );
}

/// An installation made with the chart's former `crds/` folder: Helm created those CRDs without
/// its ownership metadata, so the first upgrade to the templated CRDs stops (nothing changed)
/// until they are adopted with the label and annotations of docs/install.md, "Upgrading the
/// CRDs"; then the upgrade serves the new field and the CallTask is still there.
#[tokio::test]
async fn upgrade_from_a_crds_folder_chart_needs_the_documented_adoption() {
    let _turn = CLUSTER_CRDS.lock().await;
    // Another release name: the other test's cluster-scoped ClusterRoles may still be there.
    let client = support::control_plane().client().await;
    remove_crds(&client).await;
    let (work, ns) = setup(&client, "crd-adopt").await;

    let older = older_chart(&work, true);
    helm(
        &work,
        &[
            "install",
            ADOPTED_RELEASE,
            older.to_str().expect("utf-8"),
            "-n",
            &ns,
        ],
    );
    wait_established(&client).await;
    let resource = ApiResource::erase::<callsync::api::CallTask>(&());
    let tasks: Api<DynamicObject> = Api::namespaced_with(client.clone(), &ns, &resource);
    older_crd_refuses_suspend(&tasks).await;

    let refused = helm_output(
        &work,
        &["upgrade", ADOPTED_RELEASE, &repo_chart(), "-n", &ns],
    );
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success() && stderr.contains("invalid ownership metadata"),
        "the upgrade must stop on the unowned CRDs: {stderr}"
    );
    apply_strict(&tasks, "survey", &call_task("survey", true))
        .await
        .expect_err("the stopped upgrade changed no CRD");

    // The adoption of docs/install.md, with this test's release and namespace.
    let cp = support::control_plane();
    let kubectl = cp.kubectl().expect("kubectl");
    for crd in ["calltasks", "contactlists", "callproviders"] {
        let name = format!("{crd}.callsync.io");
        let release = format!("meta.helm.sh/release-name={ADOPTED_RELEASE}");
        let namespace = format!("meta.helm.sh/release-namespace={ns}");
        for args in [
            vec![
                "label",
                "crd",
                &name,
                "app.kubernetes.io/managed-by=Helm",
                "--overwrite",
            ],
            vec![
                "annotate",
                "crd",
                &name,
                "--overwrite",
                &release,
                &namespace,
            ],
        ] {
            let output = Command::new(&kubectl)
                .arg("--kubeconfig")
                .arg(&cp.kubeconfig)
                .args(&args)
                .output()
                .expect("run kubectl");
            assert!(
                output.status.success(),
                "kubectl {args:?}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
    }
    helm(
        &work,
        &["upgrade", ADOPTED_RELEASE, &repo_chart(), "-n", &ns],
    );
    suspend_is_served(&client, &tasks).await;
    let kept = tasks.get("survey").await.expect("the CallTask");
    assert_eq!(kept.data["spec"]["taskId"], "task-1");
}

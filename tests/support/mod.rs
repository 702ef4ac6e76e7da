//! Test fixture: one real etcd + kube-apiserver per test binary (started lazily, shared), one
//! fresh namespace per test. `scripts/controlplane.sh` starts the servers on 127.0.0.1 free
//! ports with a watchdog that ends them, by pid, as soon as this test process exits.
#![allow(
    dead_code,
    reason = "each test binary uses a different part of the fixture"
)]

pub mod chart;
pub mod cli;
pub mod env;
pub mod leaks;
pub mod logs;
pub mod measure;
pub mod objects;
pub mod process;
pub mod prometheus;
pub mod provider;
pub mod secrets;
pub mod sim;
pub mod tools;

pub use objects::{apply, apply_params};

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{ObjectMeta, Patch, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::wait::{await_condition, conditions};
use kube::{Api, Client, Config};

/// The callsync binary of this build (the CLI tests run it; controller processes too).
pub const BIN: &str = env!("CARGO_BIN_EXE_callsync");

/// The repository root.
pub fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A running control plane.
pub struct ControlPlane {
    pub dir: PathBuf,
    pub kubeconfig: PathBuf,
}

static CONTROL_PLANE: OnceLock<Result<ControlPlane, String>> = OnceLock::new();
static CONTROL_PLANE_WITH_GC: OnceLock<Result<ControlPlane, String>> = OnceLock::new();
static NAMESPACE_COUNTER: AtomicU32 = AtomicU32::new(0);

/// The control plane of this test binary, started on first use. Panics (failing the test) with
/// the command that builds the binaries when they are missing: a test that needs a real
/// apiserver never passes without one.
pub fn control_plane() -> &'static ControlPlane {
    started(CONTROL_PLANE.get_or_init(|| start(false)))
}

/// Like [`control_plane`], plus kube-controller-manager's garbage collector and namespace
/// controller: owner-reference cascades, foreground deletion and namespace deletion behave as on
/// a real cluster. Separate from the plain one (a test binary uses one or the other), because
/// the garbage collector removes objects whose owners do not exist, which other tests make.
pub fn control_plane_with_gc() -> &'static ControlPlane {
    started(CONTROL_PLANE_WITH_GC.get_or_init(|| start(true)))
}

fn started(result: &'static Result<ControlPlane, String>) -> &'static ControlPlane {
    match result {
        Ok(cp) => cp,
        Err(message) => panic!("{message}"),
    }
}

fn start(gc: bool) -> Result<ControlPlane, String> {
    logs::init_in_process_tracing();
    let suffix = if gc { "-gc" } else { "" };
    let dir = std::env::temp_dir().join(format!("callsync-cp-{}{suffix}", std::process::id()));
    let mut command = Command::new(repo_root().join("scripts/controlplane.sh"));
    command
        .arg("start")
        .arg(&dir)
        .arg(std::process::id().to_string())
        // The script writes the audit log into the resolved folder, never a relative one.
        .env_remove(logs::LOG_DIR_ENV)
        .envs(logs::log_dir().map(|dir| (logs::LOG_DIR_ENV, dir)))
        .env_remove("CALLSYNC_CONTROLPLANE_GC");
    if gc {
        command.env("CALLSYNC_CONTROLPLANE_GC", "1");
    }
    let output = command
        .output()
        .map_err(|e| format!("cannot run scripts/controlplane.sh: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "the test control plane did not start (exit {:?}):\n{}\n\
             Build the binaries with `scripts/build-controlplane.sh` (or `make controlplane`).",
            output.status.code(),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let kubeconfig = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    Ok(ControlPlane { dir, kubeconfig })
}

impl ControlPlane {
    /// A client with the admin token. Each test gets its own (clients belong to a runtime).
    pub async fn client(&self) -> Client {
        let kubeconfig = Kubeconfig::read_from(&self.kubeconfig).expect("read kubeconfig");
        let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
            .await
            .expect("kubeconfig is valid");
        Client::try_from(config).expect("build client")
    }

    /// A client and a fresh namespace, with callsync's CRDs installed and Established.
    pub async fn test_namespace(&self, prefix: &str) -> (Client, String) {
        let client = self.client().await;
        install_crds(&client).await;
        let name = format!(
            "{prefix}-{}-{}",
            std::process::id(),
            NAMESPACE_COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        let namespaces: Api<Namespace> = Api::all(client.clone());
        let ns = Namespace {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                ..Default::default()
            },
            ..Default::default()
        };
        namespaces
            .create(&PostParams::default(), &ns)
            .await
            .expect("create test namespace");
        (client, name)
    }

    /// The kubectl built beside the servers, when it is there.
    pub fn kubectl(&self) -> Option<PathBuf> {
        let bin = std::fs::read_to_string(self.dir.join("bin")).ok();
        bin.map(|b| PathBuf::from(b.trim()).join("kubectl"))
            .filter(|p| p.exists())
    }
}

/// Applies the CRDs generated by the code (server-side apply, idempotent) and waits until each
/// is Established.
pub async fn install_crds(client: &Client) {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let params = apply_params();
    for crd in callsync::api::all_crds() {
        let name = crd.metadata.name.clone().expect("CRD has a name");
        crds.patch(&name, &params, &Patch::Apply(&crd))
            .await
            .unwrap_or_else(|e| panic!("apply CRD {name}: {e}"));
        tokio::time::timeout(
            std::time::Duration::from_secs(30),
            await_condition(crds.clone(), &name, conditions::is_crd_established()),
        )
        .await
        .unwrap_or_else(|_| panic!("CRD {name} not Established within 30 s"))
        .unwrap_or_else(|e| panic!("watch CRD {name}: {e}"));
    }
}

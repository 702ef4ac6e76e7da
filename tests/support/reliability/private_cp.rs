//! A control plane of one test alone (`scripts/controlplane.sh start`), for tests that stop and
//! restart kube-apiserver: the shared one of the test binary must not go down under other tests.
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::support::{ControlPlane, repo_root};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Starts etcd + kube-apiserver in a fresh folder; the script's watchdog ends them when this
/// test process exits.
pub fn start() -> ControlPlane {
    let dir = std::env::temp_dir().join(format!(
        "callsync-cp-private-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    ));
    let output = Command::new(repo_root().join("scripts/controlplane.sh"))
        .arg("start")
        .arg(&dir)
        .arg(std::process::id().to_string())
        .output()
        .expect("run scripts/controlplane.sh");
    assert!(
        output.status.success(),
        "the private control plane did not start: {}\nBuild the binaries with \
         `scripts/build-controlplane.sh` (or `make controlplane`).",
        String::from_utf8_lossy(&output.stderr)
    );
    let kubeconfig = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    ControlPlane { dir, kubeconfig }
}

/// Stops kube-apiserver and starts it again on the same port with the same etcd, certificates
/// and tokens; returns once it answers /readyz.
pub fn restart_apiserver(cp: &ControlPlane) {
    let output = Command::new(repo_root().join("scripts/controlplane.sh"))
        .arg("restart-apiserver")
        .arg(&cp.dir)
        .output()
        .expect("run scripts/controlplane.sh restart-apiserver");
    assert!(
        output.status.success(),
        "kube-apiserver did not come back: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Ends the servers now and removes their folder (the watchdog, which `stop` ends too, would do
/// both at process exit).
pub fn stop(cp: &ControlPlane) {
    let _ = Command::new(repo_root().join("scripts/controlplane.sh"))
        .arg("stop")
        .arg(&cp.dir)
        .output();
    let _ = std::fs::remove_dir_all(&cp.dir);
}

//! The chart and GitOps tools built by `scripts/build-tools.sh` (helm, kstatus, argolua) and
//! the kubectl built with the control plane: found, or the test fails with the build command.
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use super::repo_root;

/// The path of a tool from `scripts/build-tools.sh`. Panics with the command that builds it when
/// it is missing: a test that needs a tool never passes without it.
pub fn tool(name: &str) -> PathBuf {
    let output = Command::new(repo_root().join("scripts/build-tools.sh"))
        .arg("--path")
        .arg(name)
        .output()
        .expect("run scripts/build-tools.sh --path");
    let path = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    assert!(
        output.status.success() && path.is_file(),
        "{name} is not built: {} (the command is `scripts/build-tools.sh {name}`, or `make tools`)",
        String::from_utf8_lossy(&output.stderr).trim()
    );
    path
}

/// Runs `command` with `stdin` piped in and returns its output.
pub fn run(command: &mut Command, stdin: &[u8]) -> Output {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(stdin)
        .expect("write stdin");
    child.wait_with_output().expect("wait for the command")
}

/// `helm template` of the chart in the repository, as release `release` in `namespace`, for the
/// Kubernetes version of the test control plane. `Err` holds helm's stderr.
pub fn helm_template(release: &str, namespace: &str, args: &[&str]) -> Result<String, String> {
    let output = Command::new(tool("helm"))
        .args(["template", release])
        .arg(repo_root().join("charts/callsync"))
        .args(["--namespace", namespace, "--kube-version", "1.36.3"])
        .args(args)
        .output()
        .expect("run helm template");
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    }
}

/// The documents of a multi-document YAML stream, without empty ones.
pub fn yaml_documents(text: &str) -> Vec<serde_json::Value> {
    use serde::Deserialize;
    serde_yaml::Deserializer::from_str(text)
        .map(|doc| serde_json::Value::deserialize(doc).expect("valid YAML"))
        .filter(|doc| !doc.is_null())
        .collect()
}

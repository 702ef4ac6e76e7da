//! The chart's ServiceAccount on the test control plane: its RBAC installed from `helm template`
//! and a TokenRequest token minted for it, as a client and as a kubeconfig file that holds only
//! that token. `tests/chart_rbac.rs` uses it; the end-to-end test that runs `callsync controller`
//! out of cluster with the chart's permissions (once the controller exists) can pass
//! `kubeconfig` to the binary (`KUBECONFIG=...`).
use std::path::PathBuf;

use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::ServiceAccount;
use kube::api::{ObjectMeta, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config};
use serde_json::json;

use super::control_plane;
use super::tools::{helm_template, run};

/// The chart's ServiceAccount, authenticated by a TokenRequest token.
pub struct ChartServiceAccount {
    /// A client holding only the token.
    pub client: Client,
    /// A kubeconfig file (the control plane's server and CA, the token as the only credential).
    pub kubeconfig: PathBuf,
    /// `<release>-callsync`, in namespace `<release>`.
    pub name: String,
}

/// Installs the chart's ServiceAccount and RBAC as release `release` in namespace `release` (which
/// must exist), with extra `helm template` arguments `values`, applied with the admin
/// kubeconfig, and mints a one-hour token for the ServiceAccount.
pub async fn install_rbac_and_mint_token(
    admin: &Client,
    release: &str,
    values: &[&str],
) -> ChartServiceAccount {
    let cp = control_plane();
    let mut args = vec![
        "--show-only",
        "templates/serviceaccount.yaml",
        "--show-only",
        "templates/rbac.yaml",
    ];
    args.extend(values);
    let rendered = helm_template(release, release, &args).expect("render RBAC");
    let kubectl = cp
        .kubectl()
        .expect("kubectl is built by scripts/build-controlplane.sh");
    let output = run(
        std::process::Command::new(kubectl)
            .arg("--kubeconfig")
            .arg(&cp.kubeconfig)
            .args(["apply", "-f", "-"]),
        rendered.as_bytes(),
    );
    assert!(
        output.status.success(),
        "install the chart's RBAC: {}",
        String::from_utf8_lossy(&output.stderr)
    );

    let name = format!("{release}-callsync");
    let token = Api::<ServiceAccount>::namespaced(admin.clone(), release)
        .create_token_request(
            &name,
            &PostParams::default(),
            &TokenRequest {
                metadata: ObjectMeta::default(),
                spec: Some(TokenRequestSpec {
                    expiration_seconds: Some(3600),
                    ..Default::default()
                }),
                status: None,
            },
        )
        .await
        .expect("TokenRequest for the chart's ServiceAccount")
        .status
        .expect("token in status")
        .token;

    // The admin kubeconfig (server, CA) with the user's credentials replaced by the token.
    let mut yaml: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(&cp.kubeconfig).expect("read kubeconfig"))
            .expect("kubeconfig YAML");
    yaml["users"][0]["name"] = serde_yaml::Value::String(name.clone());
    yaml["users"][0]["user"] = serde_yaml::to_value(json!({ "token": token })).expect("user");
    yaml["contexts"][0]["context"]["user"] = serde_yaml::Value::String(name.clone());
    let text = serde_yaml::to_string(&yaml).expect("yaml");
    let kubeconfig = cp.dir.join(format!("kubeconfig-{name}"));
    std::fs::write(&kubeconfig, &text).expect("write the ServiceAccount's kubeconfig");
    let config = Config::from_custom_kubeconfig(
        Kubeconfig::from_yaml(&text).expect("kubeconfig"),
        &KubeConfigOptions::default(),
    )
    .await
    .expect("config");
    ChartServiceAccount {
        client: Client::try_from(config).expect("client"),
        kubeconfig,
        name,
    }
}

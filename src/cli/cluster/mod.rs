//! The cluster commands `callsync sync|suspend|resume CALLTASK`: they change a CallTask through
//! the Kubernetes API, as `flux reconcile|suspend|resume` do, and with `--wait` wait until the
//! controller reports that it handled the change. The controller does the work; these only ask.
use std::time::Duration;

use chrono::Utc;
use kube::api::{Api, Patch, PatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use serde_json::json;

use crate::api::{CallTask, SYNC_REQUEST_ANNOTATION};

pub mod resume;
pub mod suspend;
pub mod sync;
pub mod wait;

/// Where the CallTask is: the cluster (kubeconfig and context, found as kubectl finds them) and
/// the namespace.
#[derive(clap::Args, Debug, Clone)]
pub struct Target {
    /// The CallTask's name.
    #[arg(value_name = "CALLTASK")]
    pub name: String,
    /// Namespace of the CallTask [default: the kubeconfig context's namespace, else `default`].
    #[arg(short = 'n', long)]
    pub namespace: Option<String>,
    /// Kubeconfig context to use [default: the current context].
    #[arg(long)]
    pub context: Option<String>,
    /// Path of a kubeconfig [default: $KUBECONFIG, then ~/.kube/config, then in-cluster].
    #[arg(long, value_name = "PATH")]
    pub kubeconfig: Option<std::path::PathBuf>,
}

/// `--wait` and `--timeout`, shared by the three commands.
#[derive(clap::Args, Debug, Clone)]
pub struct Waiting {
    /// Wait until the controller has handled the request, and fail unless the CallTask ends
    /// Ready (for `suspend`: until it reports Suspended).
    #[arg(long)]
    pub wait: bool,
    /// How long `--wait` waits, as a Go-style duration (`30s`, `5m`, `1h30m`).
    #[arg(long, default_value = "5m", value_parser = parse_timeout)]
    pub timeout: Duration,
}

fn parse_timeout(text: &str) -> Result<Duration, String> {
    crate::api::parse_duration(text)
        .ok_or_else(|| format!("{text:?} is not a duration such as 30s, 5m or 1h30m"))
}

/// Why a cluster command failed. One line each: what, and where (namespace and cluster).
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("cannot read the kubeconfig{}: {detail}", at_path(.path))]
    Kubeconfig {
        path: Option<String>,
        detail: String,
    },
    #[error("CallTask {name:?} not found in namespace {namespace:?} at {cluster}")]
    NotFound {
        name: String,
        namespace: String,
        cluster: String,
    },
    #[error("cannot {action} CallTask {namespace}/{name} at {cluster}: {detail}")]
    Api {
        action: &'static str,
        name: String,
        namespace: String,
        cluster: String,
        detail: String,
    },
    #[error(
        "CallTask {namespace}/{name} is suspended (spec.suspend); run `callsync resume {name} -n {namespace}` to sync it"
    )]
    Suspended { name: String, namespace: String },
    #[error(
        "timed out after {timeout} waiting for the controller to handle the request {request} of {task} (it last handled {handled}); is the controller running and watching this namespace?"
    )]
    Timeout {
        timeout: String,
        request: String,
        /// `CallTask namespace/name at https://cluster`.
        task: String,
        handled: String,
    },
    #[error("CallTask {namespace}/{name} was deleted while waiting")]
    Deleted { name: String, namespace: String },
    #[error(
        "CallTask {namespace}/{name} is not {expected} after the controller handled the request: {reason}: {message}"
    )]
    NotReady {
        expected: &'static str,
        name: String,
        namespace: String,
        reason: String,
        message: String,
    },
}

fn at_path(path: &Option<String>) -> String {
    path.as_ref().map(|p| format!(" {p}")).unwrap_or_default()
}

/// A client for the target's cluster, the namespace to use and the cluster's URL (for errors).
pub struct Cluster {
    pub api: Api<CallTask>,
    pub namespace: String,
    pub url: String,
}

impl Cluster {
    pub async fn connect(target: &Target) -> Result<Self, ClusterError> {
        let options = KubeConfigOptions {
            context: target.context.clone(),
            ..Default::default()
        };
        let unreadable = |detail: String| ClusterError::Kubeconfig {
            path: target.kubeconfig.as_ref().map(|p| p.display().to_string()),
            detail,
        };
        let config = match (&target.kubeconfig, &target.context) {
            (Some(path), _) => {
                let kubeconfig =
                    Kubeconfig::read_from(path).map_err(|e| unreadable(e.to_string()))?;
                kube::Config::from_custom_kubeconfig(kubeconfig, &options)
                    .await
                    .map_err(|e| unreadable(e.to_string()))?
            }
            (None, Some(_)) => kube::Config::from_kubeconfig(&options)
                .await
                .map_err(|e| unreadable(e.to_string()))?,
            (None, None) => kube::Config::infer()
                .await
                .map_err(|e| unreadable(e.to_string()))?,
        };
        let namespace = target
            .namespace
            .clone()
            .unwrap_or_else(|| config.default_namespace.clone());
        let url = config.cluster_url.to_string();
        let client = kube::Client::try_from(config).map_err(|e| unreadable(e.to_string()))?;
        Ok(Self {
            api: Api::namespaced(client, &namespace),
            namespace,
            url,
        })
    }

    fn api_error(&self, action: &'static str, name: &str, error: kube::Error) -> ClusterError {
        if let kube::Error::Api(response) = &error
            && response.code == 404
        {
            return self.not_found(name);
        }
        ClusterError::Api {
            action,
            name: name.to_owned(),
            namespace: self.namespace.clone(),
            cluster: self.url.clone(),
            detail: error.to_string(),
        }
    }

    pub fn not_found(&self, name: &str) -> ClusterError {
        ClusterError::NotFound {
            name: name.to_owned(),
            namespace: self.namespace.clone(),
            cluster: self.url.clone(),
        }
    }

    /// The CallTask, or a one-line error naming namespace and cluster.
    pub async fn get(&self, name: &str) -> Result<CallTask, ClusterError> {
        self.api
            .get(name)
            .await
            .map_err(|e| self.api_error("read", name, e))
    }

    /// Asks for a sync now (a new `callsync.io/requestedAt`), optionally setting `spec.suspend`
    /// in the same write. Returns the request's value, which the controller echoes in
    /// `status.lastHandledSyncRequest` once it has handled it.
    pub async fn request(&self, name: &str, suspend: Option<bool>) -> Result<String, ClusterError> {
        // Nanoseconds: two requests in the same second are still two requests.
        let requested = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
        let mut patch = json!({"metadata": {"annotations": {SYNC_REQUEST_ANNOTATION: requested}}});
        if let Some(suspend) = suspend {
            patch["spec"] = json!({"suspend": suspend});
        }
        self.api
            .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map_err(|e| self.api_error("patch", name, e))?;
        Ok(requested)
    }
}

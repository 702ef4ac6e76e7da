//! `callsync controller`: flags, the Kubernetes client, signals, then `controller::run`.
use std::net::SocketAddr;
use std::time::Duration;

use clap::Args;

use crate::controller::context::Settings;
use crate::controller::leader::LeaseTiming;
use crate::controller::run::{LeaderSettings, RunConfig, RunError, run};
use crate::controller::shard::{ShardKey, TaskScope};
use crate::telemetry::{self, LogFormat};

/// Flags of `callsync controller`. Each has an environment variable, for the Helm chart.
#[derive(Args, Debug)]
pub struct ControllerArgs {
    /// Watch only these namespaces, comma-separated (default: all namespaces).
    #[arg(
        long = "watch-namespaces",
        alias = "namespace",
        env = "CALLSYNC_WATCH_NAMESPACES",
        value_delimiter = ','
    )]
    pub watch_namespaces: Vec<String>,
    /// CallTasks reconciled at the same time.
    #[arg(long, env = "CALLSYNC_CONCURRENCY", default_value_t = 4)]
    pub concurrency: u16,
    /// Address of /healthz, /readyz and /metrics.
    #[arg(
        long = "listen-addr",
        alias = "metrics-addr",
        env = "CALLSYNC_LISTEN_ADDR",
        default_value = "127.0.0.1:8080"
    )]
    pub metrics_addr: SocketAddr,
    /// Take part in leader election (run two replicas or more with this on).
    #[arg(long, env = "CALLSYNC_LEADER_ELECTION", default_value_t = false)]
    pub leader_election: bool,
    /// Namespace of the leader Lease (the controller's own; the chart passes the pod's).
    #[arg(long, env = "CALLSYNC_POD_NAMESPACE", default_value = "default")]
    pub lease_namespace: String,
    /// Name of the leader Lease.
    #[arg(
        long,
        env = "CALLSYNC_LEASE_NAME",
        default_value = "callsync-controller"
    )]
    pub lease_name: String,
    /// Seconds a leader lease stays valid without renewal.
    #[arg(long, env = "CALLSYNC_LEASE_DURATION_SECONDS", default_value_t = 15)]
    pub lease_seconds: u64,
    /// Seconds before expiry at which the leader renews its lease.
    #[arg(long, env = "CALLSYNC_LEASE_GRACE_SECONDS", default_value_t = 5)]
    pub lease_grace_seconds: u64,
    /// This replica's identity in the election and in Events (default: the host name, which is
    /// the pod name in Kubernetes).
    #[arg(long, env = "CALLSYNC_POD_NAME")]
    pub identity: Option<String>,
    /// Least seconds between progress updates of a CallTask's status during a long sync.
    #[arg(long, env = "CALLSYNC_PROGRESS_SECONDS", default_value_t = 3)]
    pub progress_seconds: u64,
    /// Provider endpoints CallProviders may use, comma-separated (scheme, host, port and a path
    /// prefix; default: any). A CallProvider naming another endpoint is refused before its
    /// credentials are read.
    #[arg(
        long = "allowed-endpoints",
        env = "CALLSYNC_ALLOWED_ENDPOINTS",
        value_delimiter = ','
    )]
    pub allowed_endpoints: Vec<String>,
    /// Reconcile only the CallTasks labelled `callsync.io/shard: KEY` (one controller
    /// Deployment per shard; its leader Lease is `<lease-name>-shard-KEY`). CallProvider status
    /// is left to the default shard.
    #[arg(long, env = "CALLSYNC_SHARD", value_parser = ShardKey::parse, conflicts_with = "default_shard")]
    pub shard: Option<ShardKey>,
    /// Reconcile only the CallTasks without a `callsync.io/shard` label: the default shard,
    /// beside controllers started with `--shard`.
    #[arg(long, env = "CALLSYNC_DEFAULT_SHARD", default_value_t = false)]
    pub default_shard: bool,
    /// Log line format.
    #[arg(long, env = "CALLSYNC_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Path of a kubeconfig (default: in-cluster config, then $KUBECONFIG, then ~/.kube/config).
    #[arg(long, env = "KUBECONFIG")]
    pub kubeconfig: Option<std::path::PathBuf>,
}

/// Why the controller could not run.
#[derive(Debug, thiserror::Error)]
pub enum ControllerError {
    #[error("cannot read the kubeconfig {path}: {detail}")]
    Kubeconfig { path: String, detail: String },
    #[error("cannot configure the Kubernetes client: {0}")]
    Client(String),
    #[error(transparent)]
    Run(#[from] RunError),
}

async fn client(args: &ControllerArgs) -> Result<kube::Client, ControllerError> {
    let config = match &args.kubeconfig {
        Some(path) => {
            let kubeconfig = kube::config::Kubeconfig::read_from(path).map_err(|e| {
                ControllerError::Kubeconfig {
                    path: path.display().to_string(),
                    detail: e.to_string(),
                }
            })?;
            kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
                .await
                .map_err(|e| ControllerError::Kubeconfig {
                    path: path.display().to_string(),
                    detail: e.to_string(),
                })?
        }
        None => kube::Config::infer()
            .await
            .map_err(|e| ControllerError::Client(e.to_string()))?,
    };
    kube::Client::try_from(config).map_err(|e| ControllerError::Client(e.to_string()))
}

/// Resolves on SIGTERM or Ctrl-C.
async fn terminated() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

/// Runs the controller until SIGTERM.
pub async fn execute(
    args: ControllerArgs,
    log_level: Option<telemetry::LogLevel>,
) -> Result<(), ControllerError> {
    telemetry::init_with_level(
        args.log_format,
        log_level,
        "info,kube_runtime=warn,kube_client=warn",
    );
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = client(&args).await?;
    let identity = args
        .identity
        .clone()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| format!("callsync-{}", std::process::id()));
    let mut settings = Settings {
        progress_interval: Duration::from_secs(args.progress_seconds.max(1)),
        ..Settings::default()
    };
    settings.clients.allowed_endpoints = args
        .allowed_endpoints
        .iter()
        .map(|e| e.trim().to_owned())
        .filter(|e| !e.is_empty())
        .collect();
    let tasks = match (&args.shard, args.default_shard) {
        (Some(key), _) => TaskScope::Shard(key.clone()),
        (None, true) => TaskScope::Unlabelled,
        (None, false) => TaskScope::All,
    };
    let config = RunConfig {
        namespaces: args
            .watch_namespaces
            .iter()
            .map(|n| n.trim().to_string())
            .filter(|n| !n.is_empty())
            .collect(),
        concurrency: args.concurrency.max(1),
        metrics_addr: args.metrics_addr,
        leader: args.leader_election.then(|| LeaderSettings {
            namespace: args.lease_namespace.clone(),
            lease_name: tasks.lease_name(&args.lease_name),
            identity: identity.clone(),
            timing: LeaseTiming {
                duration_seconds: args.lease_seconds.max(2),
                grace_seconds: args
                    .lease_grace_seconds
                    .clamp(1, args.lease_seconds.max(2) - 1),
            },
        }),
        instance: identity,
        settings,
        tasks,
    };
    tracing::info!(namespaces = ?config.namespaces, leader_election = args.leader_election, tasks = ?config.tasks.label_selector(), "starting callsync controller");
    run(client, config, terminated()).await?;
    tracing::info!("callsync controller stopped");
    Ok(())
}

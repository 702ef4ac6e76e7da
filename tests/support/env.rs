//! The environment of a test against the apiserver: a fresh namespace on the binary's shared
//! control plane, the simulator (in process) with the test's accounts and its admin API, and the
//! controller, in process ([`Env::start_controller`]) or as a process
//! ([`Env::controller_process`]). Built with [`Env::builder`]; a test file's own `Env` wraps one
//! and adds what only that file needs.
use std::borrow::Borrow;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use callsync::api::CallTask;
use callsync::controller::backoff::BackoffPolicy;
use callsync::controller::context::Settings;
use callsync::controller::run::{RunConfig, run};
use callsync::simulator::{AccountConfig, ProviderKind, RunningSimulator, TaskConfig};
use kube::Client;
use kube::api::{Api, DynamicObject};
use serde_json::{Value, json};

use super::process::ControllerProcess;
use super::provider::ProviderFixture;
use super::{BIN, ControlPlane, control_plane, control_plane_with_gc, sim};

/// Builds an [`Env`].
pub struct EnvBuilder {
    prefix: String,
    gc: bool,
    accounts: Vec<AccountConfig>,
}

impl EnvBuilder {
    /// On the control plane with kube-controller-manager's garbage collector
    /// ([`control_plane_with_gc`]) instead of the plain one.
    pub fn with_gc(mut self) -> Self {
        self.gc = true;
        self
    }

    /// A simulator account.
    pub fn account(mut self, account: AccountConfig) -> Self {
        self.accounts.push(account);
        self
    }

    /// The tests' account of `kind` ([`ProviderFixture::account`]) holding `tasks`.
    pub fn provider(self, kind: ProviderKind, tasks: &[&str]) -> Self {
        let tasks = tasks.iter().map(|id| TaskConfig::new(*id)).collect();
        self.account(sim::account(kind, kind.account(), kind.secret(), tasks))
    }

    /// The namespace and the simulator ([`sim::start`]); no controller yet.
    pub async fn start(self) -> Env {
        let cp = if self.gc {
            control_plane_with_gc()
        } else {
            control_plane()
        };
        let (client, ns) = cp.test_namespace(&self.prefix).await;
        let simulator = sim::start(self.accounts).await;
        let admin = sim::Admin::new(&simulator);
        Env {
            cp,
            client,
            ns,
            simulator,
            admin,
            controller: None,
        }
    }
}

/// A test's namespace, simulator and controller.
pub struct Env {
    pub cp: &'static ControlPlane,
    pub client: Client,
    pub ns: String,
    pub simulator: RunningSimulator,
    pub admin: sim::Admin,
    controller: Option<InProcessController>,
}

impl Env {
    /// An environment whose namespace is named after `prefix`.
    pub fn builder(prefix: &str) -> EnvBuilder {
        EnvBuilder {
            prefix: prefix.to_owned(),
            gc: false,
            accounts: Vec::new(),
        }
    }

    /// Server-side apply of `object` in the namespace ([`super::apply`]).
    pub async fn apply(&self, object: impl Borrow<Value>) -> DynamicObject {
        super::apply(&self.client, &self.ns, object).await
    }

    /// The CallTasks of the namespace.
    pub fn tasks(&self) -> Api<CallTask> {
        Api::namespaced(self.client.clone(), &self.ns)
    }

    /// The credentials Secret `secret` (opted in) and the CallProvider `name` reaching the
    /// simulator account of `kind`; `extra` fields (rate limit, batch sizes…) are merged into
    /// the spec.
    pub async fn provider(&self, kind: ProviderKind, name: &str, secret: &str, extra: Value) {
        self.apply(json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": secret, "labels": {"callsync.io/credentials": "true"}},
            "stringData": kind.secret_data()}))
            .await;
        let mut spec = kind.provider_spec(&self.simulator.base_url(), secret);
        if let (Some(spec), Value::Object(extra)) = (spec.as_object_mut(), extra) {
            spec.extend(extra);
        }
        self.apply(
            json!({"apiVersion": "callsync.io/v1alpha1", "kind": "CallProvider",
            "metadata": {"name": name}, "spec": spec}),
        )
        .await;
    }

    /// The controller configuration of the in-process tests, watching this namespace
    /// ([`run_config`]).
    pub fn run_config(&self, instance: &str) -> RunConfig {
        run_config(vec![self.ns.clone()], instance)
    }

    /// Starts the controller in process with `config` (see [`Self::run_config`]).
    pub fn start_controller(&mut self, config: RunConfig) {
        assert!(self.controller.is_none(), "one controller at a time");
        self.controller = Some(InProcessController::start(&self.client, config));
    }

    /// Stops the controller started by [`Self::start_controller`], if any: it must stop within
    /// 30 s and not panic.
    pub async fn stop_controller(&mut self) {
        if let Some(controller) = self.controller.take() {
            controller.stop().await;
        }
    }

    /// Stops the controller started by [`Self::start_controller`], if any, aborting it after
    /// `grace` ([`InProcessController::stop_or_abort`]).
    pub async fn stop_or_abort_controller(&mut self, grace: Duration) {
        if let Some(controller) = self.controller.take() {
            controller.stop_or_abort(grace).await;
        }
    }

    /// Where a controller process named `name` logs: beside the control plane.
    pub fn log_path(&self, name: &str) -> PathBuf {
        self.cp.dir.join(format!("{}-{name}.log", self.ns))
    }

    /// `callsync controller` as a process watching this namespace (`--listen-addr
    /// 127.0.0.1:0 --progress-seconds 1`, `RUST_LOG=info`, then `extra` and `envs`), logging
    /// to [`Self::log_path`].
    pub fn controller_process(
        &self,
        name: &str,
        extra: &[&str],
        envs: &[(&str, &str)],
    ) -> ControllerProcess {
        let mut args = vec![
            "--watch-namespaces",
            &self.ns,
            "--listen-addr",
            "127.0.0.1:0",
            "--progress-seconds",
            "1",
        ];
        args.extend_from_slice(extra);
        let mut all_envs = vec![("RUST_LOG", "info")];
        all_envs.extend_from_slice(envs);
        ControllerProcess::spawn(
            BIN,
            &self.cp.kubeconfig,
            self.log_path(name),
            &args,
            &all_envs,
        )
    }
}

/// The controller settings of the in-process tests: retries from 200 ms up to 3 s, progress
/// every 0.5 s, a 300 ms settle delay, 30 s for cleanup, the simulator clients' short retries
/// ([`sim::settings`]).
pub fn controller_settings() -> Settings {
    Settings {
        backoff: BackoffPolicy {
            base: Duration::from_millis(200),
            cap: Duration::from_secs(3),
        },
        progress_interval: Duration::from_millis(500),
        settle_delay: Duration::from_millis(300),
        cleanup_deadline: Duration::from_secs(30),
        clients: sim::settings(),
    }
}

/// The controller configuration of the in-process tests: `namespaces`, 4 workers (the CLI's
/// default), metrics on a free loopback port, no leader election, [`controller_settings`].
pub fn run_config(namespaces: Vec<String>, instance: &str) -> RunConfig {
    RunConfig {
        namespaces,
        concurrency: 4,
        metrics_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        leader: None,
        instance: instance.into(),
        settings: controller_settings(),
        tasks: Default::default(),
    }
}

/// The controller run in process (`callsync::controller::run`) until stopped.
pub struct InProcessController {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<()>>,
}

impl InProcessController {
    pub fn start(client: &Client, config: RunConfig) -> Self {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let client = client.clone();
        let handle = tokio::spawn(async move {
            run(client, config, async move {
                let _ = stopped.await;
            })
            .await
            .expect("controller runs");
        });
        Self {
            stop: Some(stop),
            handle: Some(handle),
        }
    }

    /// Asks it to stop; it must within 30 s, without panicking.
    pub async fn stop(mut self) {
        self.signal();
        if let Some(handle) = self.handle.take() {
            tokio::time::timeout(Duration::from_secs(30), handle)
                .await
                .expect("controller stops")
                .expect("no panic");
        }
    }

    /// Asks it to stop and gives it `grace`; a reconcile still running then is aborted (the
    /// benchmarks' figures are taken by then; graceful shutdown is tested elsewhere).
    pub async fn stop_or_abort(mut self, grace: Duration) {
        self.signal();
        if let Some(mut handle) = self.handle.take() {
            match tokio::time::timeout(grace, &mut handle).await {
                Ok(joined) => joined.expect("no panic"),
                Err(_) => handle.abort(),
            }
        }
    }

    fn signal(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

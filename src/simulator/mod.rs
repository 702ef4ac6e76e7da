//! `callsync simulate`: a loopback HTTP server that behaves as the three providers' public docs
//! say (see `docs/simulator.md`), so that a client that works against it works against the real
//! services. Tests, benchmarks, demos and users' dry runs embed it with [`Simulator::start`].
//!
//! - [`config`]: YAML + flags.          - [`state`]: accounts, tasks, contacts (in memory).
//! - [`longlonglong`], [`callbot`], [`nxlink`]: one handler module per provider.
//! - [`auth`]: tokens and signatures.   - [`gate`]: counters, rate limit and faults per request.
//! - [`faults`], [`ratelimit`], [`audit`], [`admin`] (`/_sim/`), [`phones`], [`cli`].
pub mod admin;
pub mod audit;
pub mod auth;
pub mod callbot;
pub mod cli;
pub mod config;
pub mod faults;
pub mod gate;
pub mod longlonglong;
pub mod nxlink;
pub mod phones;
pub mod ratelimit;
pub mod state;
pub mod variants;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};
use tower::ServiceExt;

pub use config::{
    AccountConfig, FaultConfig, OversizedAnswer, ProviderKind, RateLimitConfig, SimulatorConfig,
    TaskConfig, TaskGeneration, TaskState,
};
pub use state::SimState;
pub use variants::Variant;

/// Why the simulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum SimulatorError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("invalid simulator configuration: {0}")]
    Config(#[from] state::StateError),
}

/// Entry point.
pub struct Simulator;

impl Simulator {
    /// Builds the state from `config`, binds `config.listen` (loopback, port 0 = any free
    /// port) and serves until the returned handle is shut down or dropped.
    pub async fn start(config: SimulatorConfig) -> Result<RunningSimulator, SimulatorError> {
        let state = Arc::new(SimState::new(&config)?);
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| SimulatorError::Bind {
                    addr: config.listen,
                    source,
                })?;
        let addr = listener
            .local_addr()
            .map_err(|source| SimulatorError::Bind {
                addr: config.listen,
                source,
            })?;
        let router = router(state.clone());
        let (shutdown, shutdown_rx) = watch::channel(false);
        let task = tokio::spawn(serve(listener, router, shutdown_rx));
        tracing::info!(%addr, "provider simulator listening");
        Ok(RunningSimulator {
            addr,
            state,
            shutdown,
            task: Some(task),
        })
    }
}

/// The whole HTTP surface: the three providers (behind the gate) and `/_sim/`.
pub fn router(state: Arc<SimState>) -> Router {
    let providers = Router::new()
        .merge(longlonglong::routes(state.clone()))
        .merge(callbot::routes())
        .merge(nxlink::routes())
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            gate::gate,
        ));
    let admin = admin::routes().route_layer(axum::middleware::from_fn_with_state(
        state.clone(),
        admin::require_token,
    ));
    providers
        .nest("/_sim", admin.merge(admin::open_routes()))
        .with_state(state)
}

/// A running simulator. Dropping it stops the server.
pub struct RunningSimulator {
    addr: SocketAddr,
    state: Arc<SimState>,
    shutdown: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl RunningSimulator {
    /// The bound address (with the real port when port 0 was asked for).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:<port>`: the endpoint of every provider.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The token the admin API (`/_sim/`) requires as `Authorization: Bearer …`.
    pub fn admin_token(&self) -> &str {
        &self.state.admin_token
    }

    /// The in-memory state, for in-process inspection.
    pub fn state(&self) -> &Arc<SimState> {
        &self.state
    }

    /// A task's contacts in insertion order (empty when the account or task does not exist).
    pub fn contacts(
        &self,
        provider: ProviderKind,
        account: &str,
        task: &str,
    ) -> Vec<state::Contact> {
        let inner = self.state.lock();
        inner
            .account(&(provider, account.to_owned()))
            .and_then(|a| a.task(task))
            .map(|t| t.contacts.values().cloned().collect())
            .unwrap_or_default()
    }

    /// The audit log (every attempted change), oldest first.
    pub fn audit(&self) -> Vec<audit::AuditEntry> {
        self.state.lock().audit.entries_since(0).cloned().collect()
    }

    /// Marks contacts of a task (by phone) as calling / finished / pending; returns how many.
    pub fn mark(
        &self,
        provider: ProviderKind,
        account: &str,
        task: &str,
        phones: &[&str],
        new_state: state::ContactState,
    ) -> usize {
        let key = (provider, account.to_owned());
        let mut inner = self.state.lock();
        let Some(t) = inner.task_mut(&key, task) else {
            return 0;
        };
        let mut marked = Vec::new();
        for phone in phones {
            if let Some(contact) = t
                .by_phone
                .get(*phone)
                .copied()
                .and_then(|seq| t.contacts.get_mut(&seq))
            {
                contact.state = new_state;
                marked.push((contact.phone.clone(), contact.remote_id.clone()));
            }
        }
        let detail = format!("{new_state:?}").to_lowercase();
        for (phone, remote_id) in &marked {
            inner.audit_item(
                &key,
                task,
                audit::AuditOp::Mark,
                phone,
                remote_id.as_deref(),
                audit::AuditOutcome::Applied,
                Some(&detail),
            );
        }
        marked.len()
    }

    /// Stops accepting, closes open connections and waits for the server task.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    /// Serves until the server task ends (it does only on shutdown); for the CLI, which
    /// selects this against Ctrl-C.
    pub async fn wait(&mut self) {
        if let Some(task) = self.task.as_mut() {
            let _ = task.await;
        }
        self.task = None;
    }
}

impl Drop for RunningSimulator {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

async fn serve(listener: TcpListener, router: Router, mut shutdown: watch::Receiver<bool>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    connections.spawn(serve_connection(stream, router.clone()));
                }
                Err(err) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %err, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    connections.abort_all();
    while connections.join_next().await.is_some() {}
}

/// The service error that makes hyper close a connection without writing a response.
#[derive(Debug, thiserror::Error)]
#[error("connection dropped by fault injection")]
struct Dropped;

async fn serve_connection(stream: TcpStream, router: Router) {
    let _ = stream.set_nodelay(true);
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let router = router.clone();
        async move {
            let response = match router.oneshot(request).await {
                Ok(response) => response,
                Err(never) => match never {},
            };
            if response
                .extensions()
                .get::<faults::DropConnection>()
                .is_some()
            {
                Err(Dropped)
            } else {
                Ok::<_, Dropped>(response)
            }
        }
    });
    let _: Result<(), hyper::Error> = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(stream), service)
        .await;
}

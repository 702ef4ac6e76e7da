//! The running controller: reflector stores, watches mapped to the CallTasks they concern,
//! leader election, the health/metrics server and graceful shutdown.
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures::{FutureExt, StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::Api;
use kube::core::PartialObjectMeta;
use kube::runtime::controller::{Config as ControllerConfig, Controller};
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{Predicate, PredicateConfig, WatchStreamExt, predicates, watcher};
use kube::{Client, Resource, ResourceExt};

use super::context::{Context, Settings};
use super::leader::{Leadership, LeaseTiming};
use super::metrics::Metrics;
use super::ownership::WatchedStores;
use super::provider_status::{self, ProviderContext};
use super::reconcile::{error_policy, reconcile};
use super::server::{ServerState, serve};
use super::shard::TaskScope;
use super::spec_changes::SpecChanges;
use super::store_ready::store_ready;
use crate::api::selection::{
    lists_for_source, providers_for_secret, tasks_for_list, tasks_for_provider,
};
use crate::api::{CallProvider, CallTask, ContactList};
use crate::providers::RateLimiters;

/// Leader election settings.
#[derive(Clone, Debug)]
pub struct LeaderSettings {
    /// Namespace of the Lease (the controller's own).
    pub namespace: String,
    /// Name of the Lease.
    pub lease_name: String,
    /// This replica's identity (the pod name).
    pub identity: String,
    pub timing: LeaseTiming,
}

/// How to run the controller.
#[derive(Clone, Debug)]
pub struct RunConfig {
    /// Watch only these namespaces (empty: all namespaces).
    pub namespaces: Vec<String>,
    /// CallTasks reconciled at once.
    pub concurrency: u16,
    /// Where `/healthz`, `/readyz` and `/metrics` listen.
    pub metrics_addr: SocketAddr,
    /// `None`: no election, this process reconciles (one replica, or tests).
    pub leader: Option<LeaderSettings>,
    /// Name in Events' `reportingInstance`.
    pub instance: String,
    pub settings: Settings,
    /// Which CallTasks this controller reconciles (a shard of them, or all).
    pub tasks: TaskScope,
}

/// Why the controller stopped.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Leader(#[from] super::leader::LeaderElectionError),
    #[error("cannot serve metrics on {addr}: {source}")]
    Server {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("lost the leader lease; exiting so that a fresh process rejoins the election")]
    LostLeadership,
}

fn api<K>(client: &Client, namespace: Option<&str>) -> Api<K>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope>,
    K::DynamicType: Default,
{
    match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

/// Metadata-only access: Secrets are watched for changes, never held in memory with their data.
fn metadata_api<K>(client: &Client, namespace: Option<&str>) -> Api<PartialObjectMeta<K>>
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

/// ContactLists per page of the watch's initial listing. A ContactList is at most about
/// 1.5 MB (etcd's limit), some 25,000 contacts: a page holds at most a few hundred thousand
/// contacts, parsed into Rust values only until their contacts are dropped.
const LIST_PAGE_SIZE: u32 = 10;

/// What the CallTask mapping needs of a ContactList that is gone: its identity and labels.
fn trim_list(list: &ContactList) -> ContactList {
    let meta = &list.metadata;
    let mut trimmed = ContactList::new(&list.name_any(), Default::default());
    trimmed.metadata.namespace = meta.namespace.clone();
    trimmed.metadata.uid = meta.uid.clone();
    trimmed.metadata.labels = meta.labels.clone();
    trimmed
}

fn refs<'a>(tasks: impl IntoIterator<Item = &'a CallTask>) -> Vec<ObjectRef<CallTask>> {
    tasks.into_iter().map(ObjectRef::from_obj).collect()
}

/// Tasks whose CallProvider credentials or ContactList sources live in this Secret/ConfigMap.
fn tasks_for_object(
    namespace: &str,
    name: &str,
    tasks: &Store<CallTask>,
    providers: &Store<CallProvider>,
    lists: &Store<ContactList>,
) -> Vec<ObjectRef<CallTask>> {
    let tasks = tasks.state();
    let providers = providers.state();
    let lists = lists.state();
    let mut out = Vec::new();
    for provider in providers_for_secret(providers.iter().map(|p| p.as_ref()), namespace, name) {
        out.extend(refs(tasks_for_provider(
            tasks.iter().map(|t| t.as_ref()),
            provider,
        )));
    }
    for list in lists_for_source(lists.iter().map(|l| l.as_ref()), namespace, name) {
        out.extend(refs(tasks_for_list(tasks.iter().map(|t| t.as_ref()), list)));
    }
    out
}

/// What the controllers of all watched namespaces share: one rate limiter per account, one
/// metrics registry, one Event recorder.
struct Shared {
    client: Client,
    limiters: RateLimiters,
    metrics: Arc<Metrics>,
    recorder: Recorder,
    settings: Settings,
    concurrency: u16,
    /// Every scope's CallTask and CallProvider stores, for the ownership check.
    watched: WatchedStores,
    tasks: TaskScope,
}

/// The controller of one scope (a namespace, or all) and a future that tells when its stores
/// are synced.
fn controller_for(
    namespace: Option<&str>,
    shared: &Shared,
    stop: impl Future<Output = ()> + Send + Sync + 'static,
) -> (
    futures::future::BoxFuture<'static, ()>,
    futures::future::BoxFuture<'static, bool>,
) {
    let client = &shared.client;
    let stop = stop.shared();
    let watch_config = watcher::Config::default().any_semantic();
    let (lists, lists_writer) = reflector::store();
    // Only spec, label and existence changes wake CallTasks: see spec_changes.
    let mut list_changes = SpecChanges::new(trim_list);
    // The store keeps lists without their contacts (the load step reads a list whole only when
    // its parsed form is not kept), and the initial listing comes in small pages: a page of
    // 500 lists of 5,000 contacts is a million contacts in memory at once. Pages need the
    // most-recent semantic: a list served from the watch cache (resourceVersion 0) may ignore
    // the limit.
    let list_watch = watcher::Config::default().page_size(LIST_PAGE_SIZE);
    let lists_stream = reflector::reflector(
        lists_writer,
        watcher(api::<ContactList>(client, namespace), list_watch)
            .map_ok(|event| event.modify(|list| list.spec.contacts = Vec::new())),
    )
    .default_backoff()
    .flat_map(move |event| {
        futures::stream::iter(match event {
            Ok(event) => list_changes.wake(event).into_iter().map(Ok).collect(),
            Err(error) => vec![Err(error)],
        })
    });
    let (providers, providers_writer) = reflector::store();
    let providers_stream = reflector::reflector(
        providers_writer,
        watcher(api::<CallProvider>(client, namespace), watch_config.clone()),
    )
    .default_backoff()
    .touched_objects();
    let secrets_stream = watcher(
        metadata_api::<Secret>(client, namespace),
        watch_config.clone(),
    )
    .default_backoff()
    .touched_objects();
    let config_maps_stream = watcher(
        metadata_api::<ConfigMap>(client, namespace),
        watch_config.clone(),
    )
    .default_backoff()
    .touched_objects();

    // A CallTask is reconciled when its spec changes (deletion bumps the generation too), its
    // finalizers do (kube's finalizer helper waits for its own write) or its annotations do
    // (`kubectl annotate` asks for a sync now), not on the status writes of its own reconciles;
    // resyncs come from the requeue each reconcile returns.
    let (tasks, tasks_writer) = reflector::store();
    let task_watch = match shared.tasks.label_selector() {
        Some(selector) => watch_config.labels(&selector),
        None => watch_config,
    };
    let task_changes = watcher(api::<CallTask>(client, namespace), task_watch)
        .default_backoff()
        .reflect(tasks_writer)
        .applied_objects()
        .predicate_filter(
            predicates::generation
                .combine(predicates::finalizers)
                .combine(predicates::annotations),
            PredicateConfig::default(),
        );
    shared.watched.register(tasks.clone(), providers.clone());
    let controller = Controller::for_stream(task_changes, tasks.clone())
        .with_config(ControllerConfig::default().concurrency(shared.concurrency));
    let ctx = Arc::new(Context {
        client: client.clone(),
        tasks: tasks.clone(),
        lists: lists.clone(),
        providers: providers.clone(),
        limiters: shared.limiters.clone(),
        metrics: shared.metrics.clone(),
        recorder: shared.recorder.clone(),
        failures: Default::default(),
        settings: shared.settings.clone(),
        desired: Default::default(),
        ledgers: Default::default(),
        watched: shared.watched.clone(),
    });

    let (t1, t2, t3) = (tasks.clone(), tasks.clone(), tasks.clone());
    let (p1, p2, l1, l2) = (
        providers.clone(),
        providers.clone(),
        lists.clone(),
        lists.clone(),
    );
    let controller = controller
        .watches_stream(lists_stream, move |list: ContactList| {
            refs(tasks_for_list(t1.state().iter().map(|t| t.as_ref()), &list))
        })
        .watches_stream(providers_stream, move |provider: CallProvider| {
            refs(tasks_for_provider(
                t2.state().iter().map(|t| t.as_ref()),
                &provider,
            ))
        })
        .watches_stream(secrets_stream, {
            let (tasks, providers, lists) = (t3.clone(), p1, l1);
            move |secret: PartialObjectMeta<Secret>| {
                tasks_for_object(
                    &secret.namespace().unwrap_or_default(),
                    &secret.name_any(),
                    &tasks,
                    &providers,
                    &lists,
                )
            }
        })
        .watches_stream(
            config_maps_stream,
            move |map: PartialObjectMeta<ConfigMap>| {
                tasks_for_object(
                    &map.namespace().unwrap_or_default(),
                    &map.name_any(),
                    &t3,
                    &p2,
                    &l2,
                )
            },
        );

    let synced = async move {
        // kube's Controller waits on the CallTask store too: see store_ready.
        store_ready(&tasks).await.is_ok()
            && store_ready(&lists).await.is_ok()
            && store_ready(&providers).await.is_ok()
    };
    let running = controller
        .graceful_shutdown_on(stop.clone())
        .run(reconcile, error_policy, ctx)
        .for_each(|result| async move {
            if let Err(error) = result {
                tracing::debug!(%error, "reconcile error");
            }
        });
    if !shared.tasks.keeps_provider_status() {
        return (running.boxed(), synced.boxed());
    }
    let provider_status = provider_status_controller(namespace, shared, stop);
    let running = futures::future::join(running, provider_status).map(|_| ());
    (running.boxed(), synced.boxed())
}

/// Keeps each CallProvider's status (`provider_status`): woken by spec changes and by changes
/// of the Secrets it names, never by its own status writes; rechecks come from requeues.
fn provider_status_controller(
    namespace: Option<&str>,
    shared: &Shared,
    stop: impl Future<Output = ()> + Send + Sync + 'static,
) -> impl Future<Output = ()> + Send + 'static {
    let client = &shared.client;
    let watch_config = watcher::Config::default().any_semantic();
    let (providers, writer) = reflector::store();
    let metrics = shared.metrics.clone();
    let spec_changes = watcher(api::<CallProvider>(client, namespace), watch_config.clone())
        .default_backoff()
        .reflect(writer)
        // A deleted CallProvider's request and rate-limiter series go with it.
        .inspect(move |event| {
            if let Ok(watcher::Event::Delete(provider)) = event {
                metrics.forget_provider(
                    &provider.namespace().unwrap_or_default(),
                    &provider.name_any(),
                );
            }
        })
        .applied_objects()
        .predicate_filter(predicates::generation, PredicateConfig::default());
    let secrets = watcher(metadata_api::<Secret>(client, namespace), watch_config)
        .default_backoff()
        .touched_objects();
    let ctx = Arc::new(ProviderContext {
        client: client.clone(),
        limiters: shared.limiters.clone(),
        clients: shared.settings.clients.clone(),
    });
    let store = providers.clone();
    Controller::for_stream(spec_changes, providers)
        .watches_stream(secrets, move |secret: PartialObjectMeta<Secret>| {
            let state = store.state();
            let namespace = secret.namespace().unwrap_or_default();
            providers_for_secret(
                state.iter().map(|p| p.as_ref()),
                &namespace,
                &secret.name_any(),
            )
            .into_iter()
            .map(ObjectRef::from_obj)
            .collect::<Vec<_>>()
        })
        .graceful_shutdown_on(stop)
        .run(
            provider_status::reconcile,
            provider_status::error_policy,
            ctx,
        )
        .for_each(|result| async move {
            if let Err(error) = result {
                tracing::debug!(%error, "CallProvider status error");
            }
        })
}

/// Runs until `shutdown` resolves (then finishes the reconciles in flight) or the lease is lost.
pub async fn run(
    client: Client,
    config: RunConfig,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) -> Result<(), RunError> {
    let metrics = Arc::new(Metrics::default());
    let ready = Arc::new(AtomicBool::new(false));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let shutdown = shutdown.shared();
    let server_state = ServerState {
        metrics: metrics.clone(),
        ready: ready.clone(),
    };
    let listener = tokio::net::TcpListener::bind(config.metrics_addr)
        .await
        .map_err(|source| RunError::Server {
            addr: config.metrics_addr,
            source,
        })?;
    let addr = config.metrics_addr;
    let mut server_stop = stop_rx.clone();
    tokio::spawn(async move {
        let stopped = async move {
            let _ = server_stop.wait_for(|s| *s).await;
        };
        if let Err(error) = serve(listener, server_state, stopped).await {
            tracing::error!(%error, %addr, "metrics server failed");
        }
    });

    let mut leadership = match &config.leader {
        Some(leader) => {
            let mut leadership = Leadership::join(
                client.clone(),
                &leader.namespace,
                &leader.lease_name,
                &leader.identity,
                leader.timing,
            )
            .await?;
            // A standby is ready: it can take over at once.
            ready.store(true, Ordering::Relaxed);
            tracing::info!(identity = %leader.identity, "waiting for the leader lease");
            tokio::select! {
                _ = leadership.acquired() => tracing::info!("acquired the leader lease"),
                _ = shutdown.clone() => {
                    leadership.release().await;
                    let _ = stop_tx.send(true);
                    return Ok(());
                }
            }
            Some(leadership)
        }
        None => None,
    };
    ready.store(false, Ordering::Relaxed);

    // Provider clients count their requests and rate-limiter waits in the metrics.
    let mut settings = config.settings.clone();
    settings.clients.metrics = Some(metrics.clone());
    let shared = Shared {
        client: client.clone(),
        limiters: RateLimiters::new(),
        metrics,
        recorder: Recorder::new(
            client.clone(),
            Reporter {
                controller: "callsync".into(),
                instance: Some(config.instance.clone()),
            },
        ),
        settings,
        concurrency: config.concurrency,
        watched: WatchedStores::default(),
        tasks: config.tasks.clone(),
    };
    let scopes: Vec<Option<String>> = if config.namespaces.is_empty() {
        vec![None]
    } else {
        config.namespaces.iter().cloned().map(Some).collect()
    };
    let (lost_tx, lost_rx) = tokio::sync::watch::channel(false);
    let mut controllers = Vec::new();
    let mut readiness = Vec::new();
    for scope in &scopes {
        let mut lost_rx = lost_rx.clone();
        let shutdown = shutdown.clone();
        let stop = async move {
            tokio::select! {
                _ = shutdown => {}
                _ = lost_rx.wait_for(|lost| *lost) => {}
            }
        };
        let (running, synced) = controller_for(scope.as_deref(), &shared, stop);
        controllers.push(running);
        readiness.push(synced);
    }
    // Ready once every store of every scope has its first full listing.
    {
        let ready = ready.clone();
        tokio::spawn(async move {
            if futures::future::join_all(readiness)
                .await
                .into_iter()
                .all(|ok| ok)
            {
                ready.store(true, Ordering::Relaxed);
            }
        });
    }
    let running = futures::future::join_all(controllers);

    let lost = async {
        match leadership.as_mut() {
            Some(leadership) => leadership.lost().await,
            None => std::future::pending().await,
        }
    };
    let mut lost_leadership = false;
    tokio::pin!(running);
    tokio::select! {
        _ = &mut running => {}
        _ = lost => {
            lost_leadership = true;
            let _ = lost_tx.send(true);
            running.await;
        }
    }
    let _ = stop_tx.send(true);
    if let Some(leadership) = leadership {
        leadership.release().await;
    }
    if lost_leadership {
        return Err(RunError::LostLeadership);
    }
    Ok(())
}

//! Cleanup under the cascades of a real cluster: a control plane with kube-controller-manager's
//! garbage collector and namespace controller (`support::control_plane_with_gc`), the controller
//! in process, `callsync simulate` over real HTTP.
//!
//! Foreground deletion and namespace deletion make the garbage collector and the namespace
//! controller delete the ledger Secrets next to the CallTask. The controller is stopped while
//! they act, so the cascade always wins the race with cleanup (as when the controller is
//! restarting or busy): cleanup must still find its ledger, or say plainly what it lost.
mod support;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::sim;

use callsync::api::{CallProvider, CallTask, ConditionType, find_condition};
use callsync::controller::ledger_store::{LEDGER_FINALIZER, LEDGER_OWNER_LABEL, LedgerStore};
use callsync::simulator::ProviderKind;
use futures::StreamExt;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::wait::await_condition;
use kube::runtime::{WatchStreamExt, watcher};
use serde_json::{Value, json};

const TASK: &str = "task-1";
const CONTACTS: u32 = 40;

struct Env {
    base: support::env::Env,
}

impl std::ops::Deref for Env {
    type Target = support::env::Env;
    fn deref(&self) -> &Self::Target {
        &self.base
    }
}

impl std::ops::DerefMut for Env {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.base
    }
}

impl Env {
    /// A namespace with a CallProvider, 40 contacts and a CallTask (`deletion: Delete`), in sync.
    async fn in_sync(prefix: &str) -> Env {
        let base = support::env::Env::builder(prefix)
            .with_gc()
            .provider(ProviderKind::Nxlink, &[TASK])
            .start()
            .await;
        let mut env = Env { base };
        env.start_controller();
        env.provider(
            ProviderKind::Nxlink,
            "acct",
            "creds",
            json!({"rateLimit": {"requestsPerSecond": 1000, "burst": 1000}}),
        )
        .await;
        let contacts: Vec<Value> = (0..CONTACTS)
            .map(|i| json!({"phone": format!("138{i:08}"), "name": format!("客户{i}")}))
            .collect();
        env.apply(json!({"apiVersion": "callsync.io/v1alpha1",
            "kind": "ContactList", "metadata": {"name": "list-a", "labels": {"campaign": "gc"}},
            "spec": {"defaultRegion": "CN", "contacts": contacts}}))
            .await;
        env.apply(
            json!({"apiVersion": "callsync.io/v1alpha1", "kind": "CallTask",
            "metadata": {"name": "campaign"},
            "spec": {"providerRef": {"name": "acct"}, "taskId": TASK,
                     "contactLists": {"selector": {"matchLabels": {"campaign": "gc"}}},
                     "policy": {"deletion": "Delete"}, "resyncInterval": "30s"}}),
        )
        .await;
        env.wait_in_sync().await;
        assert_eq!(env.sim_phones().await.len(), CONTACTS as usize);
        env
    }

    /// The controller in process, with a 2 s retry cap and 20 s for cleanup.
    fn start_controller(&mut self) {
        let mut config = self.run_config("cleanup-cascade");
        config.settings.backoff.cap = Duration::from_secs(2);
        config.settings.cleanup_deadline = Duration::from_secs(20);
        self.base.start_controller(config);
    }

    fn secrets(&self) -> Api<Secret> {
        Api::namespaced(self.client.clone(), &self.ns)
    }

    async fn wait_in_sync(&self) {
        let in_sync = |task: Option<&CallTask>| {
            task.and_then(|t| t.status.as_ref())
                .and_then(|s| find_condition(&s.conditions, ConditionType::Ready))
                .is_some_and(|c| c.reason == "InSync")
        };
        tokio::time::timeout(
            Duration::from_secs(60),
            await_condition(self.tasks(), "campaign", in_sync),
        )
        .await
        .expect("CallTask InSync within 60 s")
        .expect("watch");
    }

    async fn wait_task_gone(&self, within: Duration) {
        let gone = await_condition(self.tasks(), "campaign", |t: Option<&CallTask>| t.is_none());
        tokio::time::timeout(within, gone)
            .await
            .unwrap_or_else(|_| panic!("the CallTask is still there after {within:?}"))
            .expect("watch");
    }

    /// Waits until the cascade has reached the ledger head Secret: gone, or marked deleted.
    async fn wait_ledger_deleted(&self) {
        let deleted =
            |s: Option<&Secret>| s.is_none_or(|s| s.metadata.deletion_timestamp.is_some());
        // The garbage collector learns of CRDs by rediscovery, every 30 s.
        tokio::time::timeout(
            Duration::from_secs(90),
            await_condition(self.secrets(), "campaign-ledger", deleted),
        )
        .await
        .expect("the cascade deletes the ledger Secret within 90 s")
        .expect("watch");
    }

    async fn ledger_secrets(&self) -> Vec<String> {
        self.secrets()
            .list_metadata(&ListParams::default().labels(LEDGER_OWNER_LABEL))
            .await
            .expect("list ledger Secrets")
            .items
            .into_iter()
            .map(|s| s.name_any())
            .collect()
    }

    async fn sim_phones(&self) -> BTreeSet<String> {
        self.admin
            .phones("nxlink", sim::NX_KEY, TASK)
            .await
            .into_iter()
            .collect()
    }

    /// Events in the namespace: (type, reason, note).
    async fn events(&self) -> Vec<(String, String, String)> {
        Api::<k8s_openapi::api::events::v1::Event>::namespaced(self.client.clone(), &self.ns)
            .list(&Default::default())
            .await
            .expect("list events")
            .items
            .into_iter()
            .map(|e| {
                (
                    e.type_.unwrap_or_default(),
                    e.reason.unwrap_or_default(),
                    e.note.unwrap_or_default(),
                )
            })
            .collect()
    }

    /// Records every Ready condition (reason, message) the CallTask shows from now on, so a
    /// test can see what it said before it disappeared.
    fn record_conditions(&self) -> Arc<Mutex<Vec<(String, String)>>> {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        let stream = watcher(self.tasks(), watcher::Config::default()).applied_objects();
        tokio::spawn(async move {
            let mut stream = std::pin::pin!(stream);
            while let Some(Ok(task)) = stream.next().await {
                if let Some(c) = task
                    .status
                    .as_ref()
                    .and_then(|s| find_condition(&s.conditions, ConditionType::Ready))
                {
                    sink.lock()
                        .expect("lock")
                        .push((c.reason.clone(), c.message.clone()));
                }
            }
        });
        seen
    }
}

/// Foreground deletion (kubectl --cascade=foreground, Argo CD's prune default): the garbage
/// collector deletes the ledger Secrets first. Before the ledger finalizer, cleanup then found
/// no ledger and reported "removed 0 contacts" while all 40 stayed at the provider.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreground_deletion_still_removes_the_contacts() {
    let mut env = Env::in_sync("gc-foreground").await;
    env.stop_controller().await;
    env.tasks()
        .delete("campaign", &DeleteParams::foreground())
        .await
        .expect("delete in the foreground");
    env.wait_ledger_deleted().await;

    env.start_controller();
    env.wait_task_gone(Duration::from_secs(90)).await;
    // Counts, not the phones: test output holds no phone number.
    assert_eq!(
        env.sim_phones().await.len(),
        0,
        "cleanup removes every contact it added; events: {:?}",
        env.events().await
    );
    assert!(
        env.events()
            .await
            .iter()
            .any(|(_, reason, note)| reason == "Cleaned" && note.contains("removed 40")),
        "{:?}",
        env.events().await
    );
    assert_eq!(env.ledger_secrets().await, Vec::<String>::new());
    env.stop_controller().await;
}

/// Namespace deletion: the namespace controller deletes the CallProvider, its credentials and the
/// ledger Secrets along with the CallTask. Cleanup cannot reach the provider without its
/// CallProvider; it must say so with what remains (Events cannot be created in a namespace
/// being deleted, so the condition carries it), and the namespace must finish terminating.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespace_deletion_finishes_and_reports_what_remains() {
    let mut env = Env::in_sync("gc-namespace").await;
    let conditions = env.record_conditions();
    env.stop_controller().await;
    let namespaces: Api<Namespace> = Api::all(env.client.clone());
    namespaces
        .delete(&env.ns, &DeleteParams::default())
        .await
        .expect("delete the namespace");
    let providers: Api<CallProvider> = Api::namespaced(env.client.clone(), &env.ns);
    tokio::time::timeout(
        Duration::from_secs(60),
        await_condition(providers, "acct", |p: Option<&CallProvider>| p.is_none()),
    )
    .await
    .expect("the namespace controller deletes the CallProvider within 60 s")
    .expect("watch");
    env.wait_ledger_deleted().await;

    env.start_controller();
    let ns = env.ns.clone();
    tokio::time::timeout(
        Duration::from_secs(150),
        await_condition(namespaces, &ns, |n: Option<&Namespace>| n.is_none()),
    )
    .await
    .expect("the namespace finishes terminating within 150 s")
    .expect("watch");

    // The CallProvider was gone before cleanup ran: nothing could be removed, and the CallTask
    // must have said how much remains, and where.
    let remaining = env.sim_phones().await;
    assert_eq!(remaining.len(), CONTACTS as usize);
    let said = conditions.lock().expect("lock").clone();
    let expected = format!("{CONTACTS} contacts callsync added remain in remote task {TASK}");
    assert!(
        said.iter()
            .any(|(reason, message)| reason == "CleanupIncomplete" && message.contains(&expected)),
        "{CONTACTS} contacts remain at the provider and the CallTask never said so: {said:?}"
    );
    env.stop_controller().await;
}

/// A damaged ledger: cleanup cannot tell what callsync added. Before, `load_ledger(...)?` retried
/// forever and the CallTask kept its finalizer; now it is a terminal error: a Warning Event
/// naming what was lost and what remains, and the CallTask (and its ledger Secrets) go.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_ledger_releases_the_task_with_a_warning() {
    let mut env = Env::in_sync("gc-damaged").await;
    let mut head = env.secrets().get("campaign-ledger").await.expect("ledger");
    head.data
        .get_or_insert_default()
        .insert("ledger".into(), ByteString(b"not a ledger".to_vec()));
    env.secrets()
        .replace("campaign-ledger", &PostParams::default(), &head)
        .await
        .expect("damage the ledger");
    env.tasks()
        .delete("campaign", &DeleteParams::default())
        .await
        .expect("delete the task");
    env.wait_task_gone(Duration::from_secs(60)).await;

    let events = env.events().await;
    let expected = format!("the {CONTACTS} contacts its last status counted at the provider");
    assert!(
        events.iter().any(|(type_, reason, note)| type_ == "Warning"
            && reason == "CleanupIncomplete"
            && note.contains("damaged")
            && note.contains(&expected)),
        "{events:?}"
    );
    assert_eq!(
        env.sim_phones().await.len(),
        CONTACTS as usize,
        "nothing is removed without a record of what callsync added"
    );
    assert_eq!(env.ledger_secrets().await, Vec::<String>::new());
    env.stop_controller().await;
}

/// The ledger removed by hand (finalizer and all) while the controller was away: before, cleanup
/// found no ledger and reported "removed 0 contacts"; now it says the record is gone and how
/// many contacts the last status counted at the provider.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_ledger_is_reported_never_removed_zero() {
    let mut env = Env::in_sync("gc-lost").await;
    env.stop_controller().await;
    for name in env.ledger_secrets().await {
        env.secrets()
            .patch(
                &name,
                &PatchParams::default(),
                &Patch::Merge(json!({"metadata": {"finalizers": null}})),
            )
            .await
            .expect("drop the finalizer");
        env.secrets()
            .delete(&name, &DeleteParams::default())
            .await
            .expect("delete the ledger by hand");
    }
    env.tasks()
        .delete("campaign", &DeleteParams::default())
        .await
        .expect("delete the task");
    env.start_controller();
    env.wait_task_gone(Duration::from_secs(60)).await;

    let events = env.events().await;
    let expected = format!(
        "campaign-ledger is gone, so cleanup removed nothing: the {CONTACTS} contacts its last \
         status counted at the provider remain in remote task {TASK}"
    );
    assert!(
        events.iter().any(|(type_, reason, note)| type_ == "Warning"
            && reason == "CleanupIncomplete"
            && note.contains(&expected)),
        "{events:?}"
    );
    assert!(
        !events.iter().any(|(_, reason, _)| reason == "Cleaned"),
        "{events:?}"
    );
    assert_eq!(env.sim_phones().await.len(), CONTACTS as usize);
    env.stop_controller().await;
}

/// Ledgers written before the finalizer existed get it on their next load, head and shards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_old_ledger_gains_the_finalizer_on_load() {
    let (client, ns) = support::control_plane_with_gc()
        .test_namespace("gc-old-ledger")
        .await;
    // A real owner: the garbage collector removes Secrets whose owner does not exist.
    let owner = Api::<ConfigMap>::namespaced(client.clone(), &ns)
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "owner"}})).expect("cm"),
        )
        .await
        .expect("owner");
    let owner_ref = OwnerReference {
        api_version: "v1".into(),
        kind: "ConfigMap".into(),
        name: "owner".into(),
        uid: owner.uid().expect("uid"),
        ..Default::default()
    };
    let store = LedgerStore::new(client.clone(), &ns, owner_ref).with_max_shard_bytes(100);
    let bytes: Vec<u8> = (0..350u32).map(|i| (i * 7 % 251) as u8).collect();
    store.save(&bytes, None).await.expect("save");
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
    let names = |list: Vec<Secret>| -> Vec<String> { list.iter().map(|s| s.name_any()).collect() };
    let all = secrets
        .list(&ListParams::default().labels(LEDGER_OWNER_LABEL))
        .await
        .expect("list")
        .items;
    assert_eq!(all.len(), 4, "{:?}", names(all.clone()));
    for mut secret in all {
        assert_eq!(
            secret.finalizers(),
            [LEDGER_FINALIZER.to_string()],
            "{}",
            secret.name_any()
        );
        // As written before callsync set the finalizer.
        secret.metadata.finalizers = None;
        secrets
            .replace(&secret.name_any(), &PostParams::default(), &secret)
            .await
            .expect("strip finalizer");
    }
    let loaded = store.load().await.expect("load").expect("ledger");
    assert_eq!(loaded.bytes, bytes);
    for secret in secrets
        .list(&ListParams::default().labels(LEDGER_OWNER_LABEL))
        .await
        .expect("list")
        .items
    {
        assert_eq!(
            secret.finalizers(),
            [LEDGER_FINALIZER.to_string()],
            "{}",
            secret.name_any()
        );
    }
    // The version returned by the load is current: a save from it succeeds.
    store
        .save(b"next", Some(&loaded.version))
        .await
        .expect("save after the migration");
    store.delete().await.expect("delete");
    assert!(
        secrets
            .list(&ListParams::default().labels(LEDGER_OWNER_LABEL))
            .await
            .expect("list")
            .items
            .is_empty(),
        "delete lets the finalizer go"
    );
}

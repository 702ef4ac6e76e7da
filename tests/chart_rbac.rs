//! The chart's RBAC on a real kube-apiserver: its ServiceAccount and roles are installed from
//! `helm template`, a token is minted for the ServiceAccount with the TokenRequest API, and a
//! client holding only that token makes every API call the controller makes — through the
//! controller's own code where it exists (leader election, the ledger's Secret store, kube's
//! finalizer helper and event recorder) and as plain calls otherwise. Calls the controller never
//! needs are refused, and in namespaced mode everything outside the watched namespaces is refused.
//!
//! Running `callsync controller` itself with the token through create → converge → delete is
//! proved in `tests/controller_rbac_e2e.rs`.
mod support;

use std::sync::Arc;
use std::time::Duration;

use callsync::api::{CLEANUP_FINALIZER, CallProvider, CallTask, ContactList, FIELD_MANAGER};
use callsync::controller::leader::{Leadership, LeaseTiming};
use callsync::controller::ledger_store::{LEDGER_SECRET_TYPE, LedgerStore};
use callsync::providers::{CredentialSource, SecretCredentials};
use futures::StreamExt;
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod, Secret};
use kube::api::{
    DeleteParams, ListParams, ObjectMeta, Patch, PatchParams, PostParams, WatchParams,
};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::finalizer::{Event as FinalizerEvent, finalizer};
use kube::{Api, Client, Resource};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;

/// Panics unless the call succeeded, naming the call.
fn allowed<T>(what: &str, result: Result<T, kube::Error>) -> T {
    result.unwrap_or_else(|e| panic!("the chart's ServiceAccount may not {what}: {e}"))
}

/// Panics unless the call was refused by authorization (403), naming the call.
fn refused<T>(what: &str, result: Result<T, kube::Error>) {
    match result {
        Err(kube::Error::Api(status)) if status.code == 403 => {}
        Err(other) => panic!("{what}: expected 403 Forbidden, got {other}"),
        Ok(_) => panic!("the chart's ServiceAccount may {what}, which it must not"),
    }
}

/// Opens a watch and reads its first event: a refused watch fails at once.
async fn watch<K>(api: &Api<K>) -> Result<(), kube::Error>
where
    K: Clone + DeserializeOwned + std::fmt::Debug,
{
    let stream = api.watch(&WatchParams::default().timeout(1), "0").await?;
    let mut stream = stream.boxed();
    match tokio::time::timeout(Duration::from_secs(5), stream.next()).await {
        Ok(Some(Err(e))) => Err(e),
        _ => Ok(()),
    }
}

/// The chart's RBAC installed and a client holding only a token of its ServiceAccount
/// (`support::chart`), checked to really be that ServiceAccount.
async fn service_account_client(admin: &Client, release: &str, values: &[&str]) -> Client {
    let sa = support::chart::install_rbac_and_mint_token(admin, release, values).await;
    let review = Api::<SelfSubjectAccessReview>::all(sa.client.clone())
        .create(
            &PostParams::default(),
            &access_review("get", "", "pods", "", release),
        )
        .await
        .expect("SelfSubjectAccessReview");
    assert_eq!(review.status.map(|s| s.allowed), Some(false));
    // The kubeconfig file authenticates as the ServiceAccount too (what `callsync controller`
    // will be given).
    let cp = support::control_plane();
    let whoami = std::process::Command::new(cp.kubectl().expect("kubectl"))
        .arg("--kubeconfig")
        .arg(&sa.kubeconfig)
        .args([
            "auth",
            "whoami",
            "-o",
            "jsonpath={.status.userInfo.username}",
        ])
        .output()
        .expect("kubectl auth whoami");
    assert_eq!(
        String::from_utf8_lossy(&whoami.stdout),
        format!("system:serviceaccount:{release}:{}", sa.name),
        "{}",
        String::from_utf8_lossy(&whoami.stderr)
    );
    sa.client
}

fn access_review(
    verb: &str,
    group: &str,
    resource: &str,
    subresource: &str,
    namespace: &str,
) -> SelfSubjectAccessReview {
    SelfSubjectAccessReview {
        metadata: ObjectMeta::default(),
        spec: SelfSubjectAccessReviewSpec {
            resource_attributes: Some(ResourceAttributes {
                verb: Some(verb.into()),
                group: Some(group.into()),
                resource: Some(resource.into()),
                subresource: (!subresource.is_empty()).then(|| subresource.into()),
                namespace: Some(namespace.into()),
                ..Default::default()
            }),
            ..Default::default()
        },
        status: None,
    }
}

async fn can(client: &Client, verb: &str, resource: &str, sub: &str, ns: &str) -> bool {
    Api::<SelfSubjectAccessReview>::all(client.clone())
        .create(
            &PostParams::default(),
            &access_review(verb, "callsync.io", resource, sub, ns),
        )
        .await
        .expect("SelfSubjectAccessReview")
        .status
        .is_some_and(|s| s.allowed)
}

async fn create_namespace(admin: &Client, name: &str) {
    Api::<Namespace>::all(admin.clone())
        .create(
            &PostParams::default(),
            &Namespace {
                metadata: ObjectMeta {
                    name: Some(name.into()),
                    ..Default::default()
                },
                ..Default::default()
            },
        )
        .await
        .expect("create namespace");
}

fn parse<K: DeserializeOwned>(value: serde_json::Value) -> K {
    serde_json::from_value(value).expect("object")
}

/// A CallProvider, a ContactList reading a ConfigMap, a CallTask, the provider's Secret and the
/// ConfigMap in `ns`, created by the admin (people or GitOps create them, never the controller).
async fn user_objects(admin: &Client, ns: &str) -> CallTask {
    let pp = PostParams::default();
    Api::<Secret>::namespaced(admin.clone(), ns)
        .create(
            &pp,
            &parse(json!({"metadata": {"name": "callbot-credentials",
                    "labels": {"callsync.io/credentials": "true"}},
                "stringData": {"uuid": "u", "secretKey": "k"}})),
        )
        .await
        .expect("secret");
    Api::<ConfigMap>::namespaced(admin.clone(), ns)
        .create(
            &pp,
            &parse(json!({"metadata": {"name": "contacts"},
                "data": {"contacts.csv": "phone\n+8613012121211\n"}})),
        )
        .await
        .expect("configmap");
    Api::<CallProvider>::namespaced(admin.clone(), ns)
        .create(
            &pp,
            &parse(json!({
                "apiVersion": "callsync.io/v1alpha1", "kind": "CallProvider",
                "metadata": {"name": "callbot"},
                "spec": {"callbot": {"credentialsSecretRef": {"name": "callbot-credentials"},
                    "algorithm": "MD5", "orderCallbackUrl": "https://hooks.example.com/o",
                    "callCallbackUrl": "https://hooks.example.com/c"}}
            })),
        )
        .await
        .expect("provider");
    Api::<ContactList>::namespaced(admin.clone(), ns)
        .create(
            &pp,
            &parse(json!({
                "apiVersion": "callsync.io/v1alpha1", "kind": "ContactList",
                "metadata": {"name": "customers"},
                "spec": {"source": {"configMapRef": {"name": "contacts", "key": "contacts.csv"}}}
            })),
        )
        .await
        .expect("contact list");
    Api::<CallTask>::namespaced(admin.clone(), ns)
        .create(
            &pp,
            &parse(json!({
                "apiVersion": "callsync.io/v1alpha1", "kind": "CallTask",
                "metadata": {"name": "survey"},
                "spec": {"providerRef": {"name": "callbot"}, "taskId": "t-1",
                    "contactLists": {"names": ["customers"]}}
            })),
        )
        .await
        .expect("task")
}

fn condition(reason: &str) -> serde_json::Value {
    json!([{"type": "Ready", "status": "True", "reason": reason, "message": "",
            "lastTransitionTime": "2026-11-25T10:00:00Z", "observedGeneration": 1}])
}

/// Reads (get, list, watch) of callsync's three kinds in `ns`.
async fn reads_own_kinds(sa: &Client, ns: &str) {
    async fn one<K>(sa: &Client, ns: &str, name: &str)
    where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope>
            + Clone
            + DeserializeOwned
            + Serialize
            + std::fmt::Debug,
        K::DynamicType: Default,
    {
        let kind = K::kind(&Default::default()).into_owned();
        let api: Api<K> = Api::namespaced(sa.clone(), ns);
        allowed(&format!("get {kind}"), api.get(name).await);
        allowed(
            &format!("list {kind}"),
            api.list(&ListParams::default()).await,
        );
        allowed(&format!("watch {kind}"), watch(&api).await);
    }
    one::<CallTask>(sa, ns, "survey").await;
    one::<ContactList>(sa, ns, "customers").await;
    one::<CallProvider>(sa, ns, "callbot").await;
}

/// Everything the controller does in a watched namespace, with the ServiceAccount token.
async fn controller_calls_in_watched_namespace(admin: &Client, sa: &Client, ns: &str) {
    let task = user_objects(admin, ns).await;
    reads_own_kinds(sa, ns).await;

    // Status of the three kinds: server-side apply on the status subresource, one field manager.
    let ssa = PatchParams::apply(FIELD_MANAGER).force();
    let tasks: Api<CallTask> = Api::namespaced(sa.clone(), ns);
    allowed(
        "server-side apply calltasks/status",
        tasks
            .patch_status(
                "survey",
                &ssa,
                &Patch::Apply(
                    json!({"apiVersion": "callsync.io/v1alpha1", "kind": "CallTask",
                    "status": {"observedGeneration": 1, "conditions": condition("InSync")}}),
                ),
            )
            .await,
    );
    allowed(
        "server-side apply contactlists/status",
        Api::<ContactList>::namespaced(sa.clone(), ns)
            .patch_status(
                "customers",
                &ssa,
                &Patch::Apply(
                    json!({"apiVersion": "callsync.io/v1alpha1", "kind": "ContactList",
                    "status": {"observedGeneration": 1, "count": 1, "invalid": 0, "duplicates": 0,
                               "conditions": condition("Valid")}}),
                ),
            )
            .await,
    );
    allowed(
        "server-side apply callproviders/status",
        Api::<CallProvider>::namespaced(sa.clone(), ns)
            .patch_status(
                "callbot",
                &ssa,
                &Patch::Apply(
                    json!({"apiVersion": "callsync.io/v1alpha1", "kind": "CallProvider",
                    "status": {"observedGeneration": 1, "providerType": "callbot",
                               "conditions": condition("CredentialsValid")}}),
                ),
            )
            .await,
    );

    // The cleanup finalizer through kube's finalizer helper, as the reconciler will use it: the
    // first call adds it (a JSON patch of the CallTask)...
    let current = Arc::new(allowed("get CallTask", tasks.get("survey").await));
    allowed(
        "add the cleanup finalizer",
        finalizer(&tasks, CLEANUP_FINALIZER, current, |_| async {
            Ok::<_, std::io::Error>(Action::await_change())
        })
        .await
        .map_err(|e| kube::Error::Service(e.into())),
    );
    let with_finalizer = allowed("get CallTask", tasks.get("survey").await);
    assert_eq!(
        with_finalizer.metadata.finalizers,
        Some(vec![CLEANUP_FINALIZER.to_string()])
    );
    // Ledger Secrets carry a controller ownerReference to the CallTask; clusters with
    // OwnerReferencesPermissionEnforcement need update on the owner's finalizers for that. The
    // test apiserver does not run that admission plugin, so this one is an access review.
    assert!(
        can(sa, "update", "calltasks", "finalizers", ns).await,
        "update calltasks/finalizers refused"
    );

    // The ledger: the controller's own Secret store (create, get, list, replace, delete,
    // deletecollection of Secrets of type callsync.io/ledger).
    let owner = task.controller_owner_ref(&()).expect("owner reference");
    let store = LedgerStore::new(sa.clone(), ns, owner).with_max_shard_bytes(64);
    let bytes: Vec<u8> = (0..=255u8).cycle().take(300).collect();
    let v1 = allowed(
        "save a ledger (create Secrets)",
        store
            .save(&bytes, None)
            .await
            .map_err(|e| kube::Error::Service(e.into())),
    );
    allowed(
        "save a ledger again (replace and delete Secrets)",
        store
            .save(&bytes[..100], Some(&v1))
            .await
            .map_err(|e| kube::Error::Service(e.into())),
    );
    let loaded = allowed(
        "load a ledger (get Secrets)",
        store
            .load()
            .await
            .map_err(|e| kube::Error::Service(e.into())),
    );
    assert_eq!(loaded.expect("ledger").bytes, &bytes[..100]);
    let secrets: Api<Secret> = Api::namespaced(sa.clone(), ns);
    let ledger_secrets = allowed("list Secrets", secrets.list(&ListParams::default()).await);
    assert!(
        ledger_secrets
            .items
            .iter()
            .any(|s| s.type_.as_deref() == Some(LEDGER_SECRET_TYPE))
    );
    allowed(
        "delete a ledger (deletecollection of Secrets)",
        store
            .delete()
            .await
            .map_err(|e| kube::Error::Service(e.into())),
    );
    // Provider credentials, read by the provider layer's own code, and watched.
    let provider = allowed(
        "get CallProvider",
        Api::<CallProvider>::namespaced(sa.clone(), ns)
            .get("callbot")
            .await,
    );
    let credentials = SecretCredentials::for_provider(sa.clone(), ns, &provider.spec)
        .expect("credentials source");
    allowed(
        "read provider credentials",
        credentials
            .get()
            .await
            .map_err(|e| kube::Error::Service(e.to_string().into())),
    );
    allowed(
        "get a credentials Secret",
        secrets.get("callbot-credentials").await,
    );
    allowed("watch Secrets", watch(&secrets).await);

    // ContactList sources.
    let config_maps: Api<ConfigMap> = Api::namespaced(sa.clone(), ns);
    allowed("get a ConfigMap", config_maps.get("contacts").await);
    allowed(
        "list ConfigMaps",
        config_maps.list(&ListParams::default()).await,
    );
    allowed("watch ConfigMaps", watch(&config_maps).await);

    // Events through kube's recorder: the first publish creates an events.k8s.io Event, the same
    // event again patches its series.
    let recorder = Recorder::new(
        sa.clone(),
        Reporter {
            controller: "callsync".into(),
            instance: Some("callsync-0".into()),
        },
    );
    let event = Event {
        type_: EventType::Warning,
        reason: "DeletionGuard".into(),
        note: Some("a sync would remove 60% of the remote contacts; the limit is 50%".into()),
        action: "Sync".into(),
        secondary: None,
    };
    let reference = task.object_ref(&());
    allowed(
        "create an Event",
        recorder.publish(&event, &reference).await,
    );
    allowed("patch an Event", recorder.publish(&event, &reference).await);

    // Deleting: the cleanup runs, then the helper removes the finalizer (another JSON patch).
    Api::<CallTask>::namespaced(admin.clone(), ns)
        .delete("survey", &DeleteParams::default())
        .await
        .expect("delete the CallTask");
    let deleting = Arc::new(allowed("get CallTask", tasks.get("survey").await));
    assert!(deleting.metadata.deletion_timestamp.is_some());
    allowed(
        "remove the cleanup finalizer",
        finalizer(&tasks, CLEANUP_FINALIZER, deleting, |event| async move {
            assert!(
                matches!(event, FinalizerEvent::Cleanup(_)),
                "cleanup expected"
            );
            Ok::<_, std::io::Error>(Action::await_change())
        })
        .await
        .map_err(|e| kube::Error::Service(e.into())),
    );
    refused_or_gone(tasks.get("survey").await);

    // Least privilege: what people and GitOps do is not the controller's to do.
    let task_object: CallTask = parse(json!({
        "apiVersion": "callsync.io/v1alpha1", "kind": "CallTask",
        "metadata": {"name": "created-by-controller"},
        "spec": {"providerRef": {"name": "callbot"}, "taskId": "t-2",
                 "contactLists": {"names": ["customers"]}}
    }));
    refused(
        "create CallTasks",
        tasks.create(&PostParams::default(), &task_object).await,
    );
    refused(
        "delete ContactLists",
        Api::<ContactList>::namespaced(sa.clone(), ns)
            .delete("customers", &DeleteParams::default())
            .await,
    );
    refused(
        "create ConfigMaps",
        config_maps
            .create(
                &PostParams::default(),
                &parse(json!({"metadata": {"name": "x"}})),
            )
            .await,
    );
    refused(
        "list Pods",
        Api::<Pod>::namespaced(sa.clone(), ns)
            .list(&ListParams::default())
            .await,
    );
}

/// After the finalizer is removed the CallTask is gone (NotFound), never still there.
fn refused_or_gone(result: Result<CallTask, kube::Error>) {
    match result {
        Err(kube::Error::Api(status)) if status.code == 404 => {}
        Ok(task) => panic!(
            "the CallTask is still there after its finalizer was removed: {:?}",
            task.metadata.finalizers
        ),
        Err(other) => panic!("unexpected error: {other}"),
    }
}

/// Leader election in the release namespace with the controller's own code (get, create and
/// patch of its Lease), plus an update; no other Lease and no Lease elsewhere.
async fn leader_election_in_release_namespace(sa: &Client, release: &str, elsewhere: &str) {
    let lease_name = format!("{release}-callsync");
    let timing = LeaseTiming {
        duration_seconds: 4,
        grace_seconds: 1,
    };
    let mut leadership = allowed(
        "join the leader election",
        Leadership::join(sa.clone(), release, &lease_name, "callsync-0", timing)
            .await
            .map_err(|e| kube::Error::Service(e.into())),
    );
    tokio::time::timeout(Duration::from_secs(20), leadership.acquired())
        .await
        .expect("the ServiceAccount acquires the Lease");
    leadership.release().await;

    let leases: Api<Lease> = Api::namespaced(sa.clone(), release);
    let mut lease = allowed("get its Lease", leases.get(&lease_name).await);
    lease.spec.get_or_insert_default().holder_identity = Some("callsync-1".into());
    allowed(
        "update its Lease",
        leases
            .replace(&lease_name, &PostParams::default(), &lease)
            .await,
    );
    refused("get another Lease", leases.get("kube-scheduler").await);
    refused(
        "create a Lease outside the release namespace",
        Api::<Lease>::namespaced(sa.clone(), elsewhere)
            .create(
                &PostParams::default(),
                &parse(json!({"metadata": {"name": lease_name}, "spec": {}})),
            )
            .await,
    );
}

#[tokio::test]
async fn cluster_mode_token_allows_every_call_the_controller_makes() {
    let cp = support::control_plane();
    let (admin, watched) = cp.test_namespace("rbac-watched").await;
    let release = format!("{watched}-rel");
    create_namespace(&admin, &release).await;
    let sa = service_account_client(&admin, &release, &["--set", "clusterWide=true"]).await;

    controller_calls_in_watched_namespace(&admin, &sa, &watched).await;
    leader_election_in_release_namespace(&sa, &release, &watched).await;

    // Cluster mode: the informers list and watch across namespaces.
    let all_tasks: Api<CallTask> = Api::all(sa.clone());
    allowed(
        "list CallTasks in all namespaces",
        all_tasks.list(&ListParams::default()).await,
    );
    allowed("watch CallTasks in all namespaces", watch(&all_tasks).await);
    allowed(
        "watch Secrets in all namespaces",
        watch(&Api::<Secret>::all(sa.clone())).await,
    );
}

#[tokio::test]
async fn namespaced_mode_token_is_refused_other_namespaces() {
    let cp = support::control_plane();
    let (admin, watched) = cp.test_namespace("rbac-ns").await;
    let other = format!("{watched}-other");
    let release = format!("{watched}-rel");
    create_namespace(&admin, &other).await;
    create_namespace(&admin, &release).await;
    let watch_set = format!("watchNamespaces={{{watched}}}");
    let sa = service_account_client(&admin, &release, &["--set", &watch_set]).await;

    controller_calls_in_watched_namespace(&admin, &sa, &watched).await;
    leader_election_in_release_namespace(&sa, &release, &watched).await;

    // The other namespace holds the same kinds of objects, and a Secret.
    user_objects(&admin, &other).await;
    let secrets: Api<Secret> = Api::namespaced(sa.clone(), &other);
    refused(
        "get a Secret of another namespace",
        secrets.get("callbot-credentials").await,
    );
    let other_provider = Api::<CallProvider>::namespaced(admin.clone(), &other)
        .get("callbot")
        .await
        .expect("provider");
    let other_credentials =
        SecretCredentials::for_provider(sa.clone(), &other, &other_provider.spec)
            .expect("credentials source");
    assert!(
        other_credentials.get().await.is_err(),
        "provider credentials of another namespace were readable"
    );
    refused(
        "list Secrets of another namespace",
        secrets.list(&ListParams::default()).await,
    );
    refused("watch Secrets of another namespace", watch(&secrets).await);
    refused(
        "create a Secret in another namespace",
        secrets
            .create(
                &PostParams::default(),
                &parse(json!({"metadata": {"name": "ledger"}, "type": LEDGER_SECRET_TYPE})),
            )
            .await,
    );
    refused(
        "delete a Secret of another namespace",
        secrets
            .delete("callbot-credentials", &DeleteParams::default())
            .await,
    );
    refused(
        "get Secrets in the release namespace",
        Api::<Secret>::namespaced(sa.clone(), &release)
            .list(&ListParams::default())
            .await,
    );
    refused(
        "list CallTasks of another namespace",
        Api::<CallTask>::namespaced(sa.clone(), &other)
            .list(&ListParams::default())
            .await,
    );
    refused(
        "patch CallTask status in another namespace",
        Api::<CallTask>::namespaced(sa.clone(), &other)
            .patch_status(
                "survey",
                &PatchParams::apply(FIELD_MANAGER).force(),
                &Patch::Apply(
                    json!({"apiVersion": "callsync.io/v1alpha1", "kind": "CallTask",
                    "status": {"conditions": condition("InSync")}}),
                ),
            )
            .await,
    );
    refused(
        "get ConfigMaps of another namespace",
        Api::<ConfigMap>::namespaced(sa.clone(), &other)
            .get("contacts")
            .await,
    );
    refused(
        "list CallTasks in all namespaces",
        Api::<CallTask>::all(sa.clone())
            .list(&ListParams::default())
            .await,
    );
    refused(
        "list Secrets in all namespaces",
        Api::<Secret>::all(sa.clone())
            .list(&ListParams::default())
            .await,
    );
    assert!(!can(&sa, "update", "calltasks", "finalizers", &other).await);
}

/// Least privilege by default: without `watchNamespaces` or `clusterWide` the chart grants the
/// controller its release namespace only, so no Secret elsewhere is readable with its token.
#[tokio::test]
async fn default_install_reaches_the_release_namespace_only() {
    let cp = support::control_plane();
    let (admin, other) = cp.test_namespace("rbac-default").await;
    let release = format!("{other}-rel");
    create_namespace(&admin, &release).await;
    let sa = service_account_client(&admin, &release, &[]).await;

    controller_calls_in_watched_namespace(&admin, &sa, &release).await;

    user_objects(&admin, &other).await;
    let secrets: Api<Secret> = Api::namespaced(sa.clone(), &other);
    refused(
        "get a Secret of another namespace",
        secrets.get("callbot-credentials").await,
    );
    refused(
        "list Secrets of another namespace",
        secrets.list(&ListParams::default()).await,
    );
    refused(
        "list Secrets in all namespaces",
        Api::<Secret>::all(sa.clone())
            .list(&ListParams::default())
            .await,
    );
    refused(
        "list CallTasks in all namespaces",
        Api::<CallTask>::all(sa.clone())
            .list(&ListParams::default())
            .await,
    );
}

//! Security (issue 9): the ledger lives only in Secrets. After a sync, the ledger Secrets have
//! type `callsync.io/ledger` and an owner reference to their CallTask and hold the ledger; no
//! ConfigMap, status, annotation, label or Event of the namespace holds ledger data (its bytes
//! or the remote ids it assigned) or a phone number.
//!
//! Real kube-apiserver (tests/support), the controller in process, the simulator (Callbot: the
//! remote ids are the ledger's own UUIDs).
mod support;

use std::time::Duration;
use support::sim;

use callsync::api::{CallTask, ConditionType, find_condition};
use callsync::controller::ledger_store::{LEDGER_OWNER_LABEL, LEDGER_SECRET_TYPE, LedgerStore};
use callsync::simulator::{ProviderKind, TaskConfig};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::ResourceExt;
use kube::api::{Api, ListParams};
use kube::core::{DynamicObject, ObjectMeta};
use kube::discovery::ApiResource;
use serde_json::{Value, json};
use support::apply;
use support::env::InProcessController;

const TASK: &str = "task-1";

fn metadata_text(meta: &ObjectMeta) -> String {
    serde_json::to_string(&json!({"labels": meta.labels, "annotations": meta.annotations}))
        .expect("json")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ledger_lives_only_in_owned_secrets_of_its_type() {
    let (client, ns) = support::control_plane()
        .test_namespace("ledger-secrecy")
        .await;
    let account = sim::account(
        ProviderKind::Callbot,
        sim::CB_UUID,
        sim::CB_SECRET,
        vec![TaskConfig::new(TASK)],
    );
    let simulator = sim::start(vec![account]).await;
    let phones: Vec<String> = (0..600).map(|i| format!("135{i:08}")).collect();
    apply(
        &client,
        &ns,
        json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "creds", "labels": {"callsync.io/credentials": "true"}},
        "stringData": {"uuid": sim::CB_UUID, "secretKey": sim::CB_SECRET}}),
    )
    .await;
    apply(&client, &ns, json!({"apiVersion": "callsync.io/v1alpha1", "kind": "CallProvider",
        "metadata": {"name": "acct"},
        "spec": {"insecure": true, "callbot": {"endpoint": simulator.base_url(), "credentialsSecretRef": {"name": "creds"},
                             "orderCallbackUrl": "https://hooks.example.com/order",
                             "callCallbackUrl": "https://hooks.example.com/call"},
                 "rateLimit": {"requestsPerSecond": 1000, "burst": 1000}}})).await;
    for (l, chunk) in phones.chunks(300).enumerate() {
        let contacts: Vec<Value> = chunk
            .iter()
            .map(|p| json!({"phone": p, "name": "王芳", "variables": {"city": "广州"}}))
            .collect();
        apply(
            &client,
            &ns,
            json!({"apiVersion": "callsync.io/v1alpha1", "kind": "ContactList",
            "metadata": {"name": format!("list-{l}"), "labels": {"campaign": "secrecy"}},
            "spec": {"defaultRegion": "CN", "contacts": contacts}}),
        )
        .await;
    }
    apply(
        &client,
        &ns,
        json!({"apiVersion": "callsync.io/v1alpha1", "kind": "CallTask",
        "metadata": {"name": "campaign"},
        "spec": {"providerRef": {"name": "acct"}, "taskId": TASK,
                 "contactLists": {"selector": {"matchLabels": {"campaign": "secrecy"}}}}}),
    )
    .await;

    let mut config = support::env::run_config(vec![ns.clone()], "ledger-secrecy");
    config.concurrency = 2;
    let controller = InProcessController::start(&client, config);

    let tasks: Api<CallTask> = Api::namespaced(client.clone(), &ns);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let task = loop {
        let task = tasks.get("campaign").await.expect("task");
        let in_sync = task.status.as_ref().is_some_and(|s| {
            s.observed_generation == task.metadata.generation
                && find_condition(&s.conditions, ConditionType::Ready)
                    .is_some_and(|c| c.reason == "InSync")
        });
        if in_sync {
            break task;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not InSync: {:?}",
            task.status
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    // The Synced Event follows the status write.
    let events_api: Api<Event> = Api::namespaced(client.clone(), &ns);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while !events_api
        .list(&ListParams::default())
        .await
        .expect("events")
        .items
        .iter()
        .any(|e| e.reason.as_deref() == Some("Synced"))
    {
        assert!(tokio::time::Instant::now() < deadline, "no Synced Event");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    controller.stop().await;

    // The ledger Secrets: type, owner, label; together they hold the whole ledger.
    let uid = task.uid().expect("uid");
    let secrets: Vec<Secret> = Api::<Secret>::namespaced(client.clone(), &ns)
        .list(&ListParams::default())
        .await
        .expect("secrets")
        .items;
    let ledger_secrets: Vec<&Secret> = secrets
        .iter()
        .filter(|s| s.name_any().starts_with("campaign-ledger"))
        .collect();
    assert!(!ledger_secrets.is_empty(), "no ledger Secret");
    for secret in &ledger_secrets {
        let name = secret.name_any();
        assert_eq!(secret.type_.as_deref(), Some(LEDGER_SECRET_TYPE), "{name}");
        let owners = secret.metadata.owner_references.clone().unwrap_or_default();
        assert!(
            owners.iter().any(|o| o.uid == uid
                && o.kind == "CallTask"
                && o.api_version == "callsync.io/v1alpha1"
                && o.name == "campaign"),
            "{name} is not owned by its CallTask: {owners:?}"
        );
        assert_eq!(
            secret.labels().get(LEDGER_OWNER_LABEL),
            Some(&uid),
            "{name} labels"
        );
    }
    let owner = OwnerReference {
        api_version: "callsync.io/v1alpha1".into(),
        kind: "CallTask".into(),
        name: "campaign".into(),
        uid: uid.clone(),
        ..Default::default()
    };
    let stored = LedgerStore::new(client.clone(), &ns, owner)
        .load()
        .await
        .expect("load")
        .expect("a ledger");
    let ledger = stored.decode().expect("decode");
    assert_eq!(
        ledger.len(),
        phones.len(),
        "the ledger records every contact"
    );
    let remote_ids: Vec<String> = ledger
        .iter()
        .map(|e| e.remote_id(ledger.task_uid()).to_string())
        .collect();
    let simple_ids: Vec<String> = ledger
        .iter()
        .map(|e| e.remote_id(ledger.task_uid()).simple().to_string())
        .collect();
    use base64::Engine;
    let ledger_b64 = base64::engine::general_purpose::STANDARD
        .encode(&stored.bytes[..48.min(stored.bytes.len())]);

    // Everything else a person or a tool could read in the namespace.
    let mut places: Vec<(String, String)> = Vec::new();
    for secret in &secrets {
        places.push((
            format!("Secret {} metadata", secret.name_any()),
            metadata_text(&secret.metadata),
        ));
        if !ledger_secrets
            .iter()
            .any(|l| l.name_any() == secret.name_any())
        {
            places.push((
                format!("Secret {} data", secret.name_any()),
                serde_json::to_string(&secret.data).expect("json"),
            ));
        }
    }
    for map in Api::<ConfigMap>::namespaced(client.clone(), &ns)
        .list(&ListParams::default())
        .await
        .expect("configmaps")
        .items
    {
        places.push((
            format!("ConfigMap {}", map.name_any()),
            serde_json::to_string(&map).expect("json"),
        ));
    }
    for kind in ["CallTask", "ContactList", "CallProvider"] {
        let resource = ApiResource {
            group: "callsync.io".into(),
            version: "v1alpha1".into(),
            api_version: "callsync.io/v1alpha1".into(),
            kind: kind.into(),
            plural: format!("{}s", kind.to_lowercase()),
        };
        let api = Api::<DynamicObject>::namespaced_with(client.clone(), &ns, &resource);
        for object in api.list(&ListParams::default()).await.expect("list").items {
            let name = object.name_any();
            places.push((
                format!("{kind} {name} metadata"),
                metadata_text(&object.metadata),
            ));
            places.push((
                format!("{kind} {name} status"),
                serde_json::to_string(&object.data["status"]).expect("json"),
            ));
        }
    }
    let events = events_api
        .list(&ListParams::default())
        .await
        .expect("events")
        .items;
    for event in &events {
        places.push((
            format!("Event {:?}", event.reason),
            serde_json::to_string(event).expect("json"),
        ));
    }
    let mut found = Vec::new();
    for (place, text) in &places {
        if phones.iter().any(|p| text.contains(p.as_str())) {
            found.push(format!("{place}: a phone number"));
        }
        if remote_ids
            .iter()
            .chain(&simple_ids)
            .any(|id| text.contains(id.as_str()))
        {
            found.push(format!("{place}: a remote id from the ledger"));
        }
        if text.contains(&ledger_b64) {
            found.push(format!("{place}: ledger bytes"));
        }
    }
    eprintln!(
        "ledger secrecy: {} ledger Secrets, {} ledger entries, {} places checked ({} Events)",
        ledger_secrets.len(),
        ledger.len(),
        places.len(),
        events.len()
    );
    assert!(
        found.is_empty(),
        "ledger data outside its Secrets:\n{}",
        found.join("\n")
    );
    // The check can see what it looks for: the ledger Secret itself holds the ledger bytes.
    let head = ledger_secrets
        .iter()
        .find(|s| s.name_any() == "campaign-ledger")
        .expect("head Secret");
    let head_data = serde_json::to_string(&head.data).expect("json");
    assert!(
        head_data.contains(&ledger_b64[..40]),
        "the probe finds the ledger bytes where they are"
    );
}

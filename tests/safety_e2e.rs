//! Safety under mishap and misuse, end to end: the controller (in process) against a real
//! kube-apiserver (tests/support) and the simulator (in process, real HTTP).
//!
//! - a named ContactList deleted, and a CSV source with a stray quote: no removal, a condition
//!   naming the cause;
//! - a ledger that starts over on a remote task that had one: no remote id repeats;
//! - two CallTasks on one remote task through two CallProviders of one account, in two
//!   namespaces: the second is refused, naming the first.
mod support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};
use support::sim;

use callsync::api::{CallTask, ConditionStatus, ConditionType, ContactList, find_condition};
use callsync::controller::ledger_store::LEDGER_OWNER_LABEL;
use callsync::simulator::{ProviderKind, RunningSimulator, TaskConfig, TaskGeneration, TaskState};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DeleteParams, ListParams};
use kube::{Client, ResourceExt};
use serde_json::{Value, json};
use support::apply;
use support::env::InProcessController;
use support::provider::ProviderFixture;

const TASK: &str = "task-1";

/// The controller of one test, in process, watching `namespaces` (retries capped at 2 s).
fn start_controller(client: &Client, namespaces: Vec<String>) -> InProcessController {
    let mut config = support::env::run_config(namespaces, "safety");
    config.settings.backoff.cap = Duration::from_secs(2);
    InProcessController::start(client, config)
}

/// A Secret `<name>-creds` and a CallProvider `name` reaching the simulator account of `kind`.
async fn provider(client: &Client, ns: &str, name: &str, kind: ProviderKind, endpoint: &str) {
    let secret = format!("{name}-creds");
    let mut spec = kind.provider_spec(endpoint, &secret);
    spec["rateLimit"] = json!({"requestsPerSecond": 1000, "burst": 1000});
    apply(
        client,
        ns,
        json!({"apiVersion": "v1", "kind": "Secret",
               "metadata": {"name": secret,
                            "labels": {"callsync.io/credentials": "true"}},
               "stringData": kind.secret_data()}),
    )
    .await;
    apply(
        client,
        ns,
        json!({"apiVersion": "callsync.io/v1alpha1", "kind": "CallProvider",
               "metadata": {"name": name}, "spec": spec}),
    )
    .await;
}

async fn inline_list(client: &Client, ns: &str, name: &str, phones: &[String]) {
    let contacts: Vec<Value> = phones
        .iter()
        .map(|p| json!({"phone": p, "name": "客户"}))
        .collect();
    apply(
        client,
        ns,
        json!({"apiVersion": "callsync.io/v1alpha1", "kind": "ContactList",
               "metadata": {"name": name},
               "spec": {"defaultRegion": "CN", "contacts": contacts}}),
    )
    .await;
}

async fn task(client: &Client, ns: &str, name: &str, provider: &str, lists: &[&str]) {
    apply(
        client,
        ns,
        json!({"apiVersion": "callsync.io/v1alpha1", "kind": "CallTask",
               "metadata": {"name": name},
               "spec": {"providerRef": {"name": provider}, "taskId": TASK,
                        "contactLists": {"names": lists},
                        "policy": {"maxDeletePercent": 100}, "resyncInterval": "30s"}}),
    )
    .await;
}

/// Waits until the CallTask's Ready condition has `reason` for its current generation and
/// `check` holds for the task.
async fn wait_for(
    client: &Client,
    ns: &str,
    name: &str,
    reason: &str,
    check: impl Fn(&CallTask) -> bool,
) -> CallTask {
    let api: Api<CallTask> = Api::namespaced(client.clone(), ns);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let current = api.get_opt(name).await.expect("get task");
        if let Some(t) = &current {
            let status = t.status.as_ref();
            let ready = status.and_then(|s| find_condition(&s.conditions, ConditionType::Ready));
            if status.and_then(|s| s.observed_generation) == t.metadata.generation
                && ready.is_some_and(|c| c.reason == reason)
                && check(t)
            {
                return t.clone();
            }
        }
        if Instant::now() > deadline {
            panic!(
                "CallTask {ns}/{name} not {reason} within 60s; status: {:#?}",
                current.and_then(|t| t.status)
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn desired_count(task: &CallTask) -> Option<i64> {
    task.status
        .as_ref()
        .and_then(|s| s.contacts.as_ref())
        .map(|c| c.desired)
}

fn ready_message(task: &CallTask) -> (ConditionStatus, String) {
    let c = task
        .status
        .as_ref()
        .and_then(|s| find_condition(&s.conditions, ConditionType::Ready))
        .expect("Ready condition");
    (c.status, c.message.clone())
}

/// `count` CN mobiles `137xxxxxxxx` from `from`.
fn phones(from: u32, count: u32) -> Vec<String> {
    (from..from + count).map(|i| format!("137{i:08}")).collect()
}

async fn held(admin: &sim::Admin, provider: &str, account: &str) -> BTreeSet<String> {
    admin
        .phones(provider, account, TASK)
        .await
        .into_iter()
        .collect()
}

async fn start_sim(kind: ProviderKind) -> (RunningSimulator, sim::Admin) {
    let (id, secret) = match kind {
        ProviderKind::Longlonglong => (sim::LLL_USER, sim::LLL_TOKEN),
        ProviderKind::Callbot => (sim::CB_UUID, sim::CB_SECRET),
        ProviderKind::Nxlink => (sim::NX_KEY, sim::NX_SECRET),
    };
    let simulator = sim::start(vec![sim::account(
        kind,
        id,
        secret,
        vec![TaskConfig::new(TASK)],
    )])
    .await;
    let admin = sim::Admin::new(&simulator);
    (simulator, admin)
}

/// Item 1: deleting a ContactList that `names` lists used to read as "that list is empty":
/// its contacts were removed and the task stayed Ready "in sync".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_named_list_stops_the_sync_and_removes_nothing() {
    let (client, ns) = support::control_plane().test_namespace("safe-named").await;
    let (simulator, admin) = start_sim(ProviderKind::Longlonglong).await;
    provider(
        &client,
        &ns,
        "acct",
        ProviderKind::Longlonglong,
        &simulator.base_url(),
    )
    .await;
    let (a, b) = (phones(0, 5), phones(5, 5));
    inline_list(&client, &ns, "list-a", &a).await;
    inline_list(&client, &ns, "list-b", &b).await;
    task(&client, &ns, "campaign", "acct", &["list-a", "list-b"]).await;
    let controller = start_controller(&client, vec![ns.clone()]);
    wait_for(&client, &ns, "campaign", "InSync", |t| {
        desired_count(t) == Some(10)
    })
    .await;
    let all: BTreeSet<String> = [a.clone(), b.clone()].concat().into_iter().collect();
    assert_eq!(held(&admin, "longlonglong", sim::LLL_USER).await, all);

    Api::<ContactList>::namespaced(client.clone(), &ns)
        .delete("list-b", &DeleteParams::default())
        .await
        .expect("delete list-b");
    let stalled = wait_for(&client, &ns, "campaign", "ContactListNotFound", |_| true).await;
    let (status, message) = ready_message(&stalled);
    assert_eq!(status, ConditionStatus::False, "{message}");
    assert!(message.contains("ContactList list-b"), "{message}");
    // A resync or two later, still nothing removed.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(held(&admin, "longlonglong", sim::LLL_USER).await, all);
    assert_eq!(admin.calls("number-batch-delete").await, 0);
    controller.stop().await;
}

fn csv(rows: &[String]) -> String {
    let mut text = String::from("phone,name\n");
    for (i, phone) in rows.iter().enumerate() {
        text.push_str(&format!("{phone},客户{i}\n"));
    }
    text
}

/// Item 1 (CSV): one stray `"` used to swallow the rest of the file as one invalid line, and
/// the sync removed those contacts (up to the deletion guard).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_csv_source_with_a_stray_quote_is_refused_and_removes_nothing() {
    let (client, ns) = support::control_plane().test_namespace("safe-csv").await;
    let (simulator, admin) = start_sim(ProviderKind::Longlonglong).await;
    provider(
        &client,
        &ns,
        "acct",
        ProviderKind::Longlonglong,
        &simulator.base_url(),
    )
    .await;
    let rows = phones(100, 1000);
    let source = |text: String| {
        json!({"apiVersion": "v1", "kind": "Secret",
               "metadata": {"name": "contacts", "labels": {"callsync.io/contacts": "true"}},
               "stringData": {"contacts.csv": text}})
    };
    apply(&client, &ns, source(csv(&rows))).await;
    apply(
        &client,
        &ns,
        json!({"apiVersion": "callsync.io/v1alpha1", "kind": "ContactList",
               "metadata": {"name": "from-csv"},
               "spec": {"defaultRegion": "CN",
                        "source": {"secretRef": {"name": "contacts", "key": "contacts.csv"}}}}),
    )
    .await;
    task(&client, &ns, "campaign", "acct", &["from-csv"]).await;
    let controller = start_controller(&client, vec![ns.clone()]);
    wait_for(&client, &ns, "campaign", "InSync", |t| {
        desired_count(t) == Some(1000)
    })
    .await;
    let all: BTreeSet<String> = rows.iter().cloned().collect();
    assert_eq!(held(&admin, "longlonglong", sim::LLL_USER).await, all);

    // Row 2 gets a stray quote in its name; the last row has a quoted name.
    let mut broken = csv(&rows);
    broken = broken.replacen(",客户1\n", ",\"客户1\n", 1);
    broken.push_str("13700009999,\"Zhang, San\"\n");
    apply(&client, &ns, source(broken)).await;
    let stalled = wait_for(&client, &ns, "campaign", "ContactListUnreadable", |_| true).await;
    let (status, message) = ready_message(&stalled);
    assert_eq!(status, ConditionStatus::False, "{message}");
    assert!(message.contains("CSV line 3, column 13"), "{message}");
    let list = Api::<ContactList>::namespaced(client.clone(), &ns)
        .get("from-csv")
        .await
        .expect("list");
    let list_ready = list
        .status
        .as_ref()
        .and_then(|s| find_condition(&s.conditions, ConditionType::Ready))
        .expect("list Ready");
    assert_eq!(list_ready.reason, "SourceUnreadable");
    assert!(
        list_ready
            .message
            .contains("CSV line 3, column 13: the quoted field opened here ends on line 1002"),
        "{}",
        list_ready.message
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(held(&admin, "longlonglong", sim::LLL_USER).await, all);
    assert_eq!(admin.calls("number-batch-delete").await, 0);
    controller.stop().await;
}

/// Item 3: a ledger that starts over (here: its Secret lost) began again at attempt 0 with
/// the CallTask UID, so its remote ids repeated the old ones; NXLink answered "id already used",
/// read as accepted: a contact added again after its removal never reached the provider and
/// was reported present.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_ledger_never_repeats_remote_ids() {
    let (client, ns) = support::control_plane().test_namespace("safe-ledger").await;
    let (simulator, admin) = start_sim(ProviderKind::Nxlink).await;
    provider(
        &client,
        &ns,
        "acct",
        ProviderKind::Nxlink,
        &simulator.base_url(),
    )
    .await;
    let (kept, readded) = (phones(200, 1), phones(201, 1));
    let wire = |p: &[String]| -> BTreeSet<String> { p.iter().map(|p| format!("86{p}")).collect() };
    inline_list(
        &client,
        &ns,
        "list-a",
        &[kept.clone(), readded.clone()].concat(),
    )
    .await;
    task(&client, &ns, "campaign", "acct", &["list-a"]).await;
    let controller = start_controller(&client, vec![ns.clone()]);
    wait_for(&client, &ns, "campaign", "InSync", |t| {
        desired_count(t) == Some(2)
    })
    .await;
    assert_eq!(
        held(&admin, "nxlink", sim::NX_KEY).await,
        wire(&[kept.clone(), readded.clone()].concat())
    );

    // The contact leaves the list and is removed at the provider.
    inline_list(&client, &ns, "list-a", &kept).await;
    wait_for(&client, &ns, "campaign", "InSync", |t| {
        desired_count(t) == Some(1)
    })
    .await;
    assert_eq!(held(&admin, "nxlink", sim::NX_KEY).await, wire(&kept));

    // The ledger is lost; the contact comes back to the list.
    controller.stop().await;
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
    let uid = Api::<CallTask>::namespaced(client.clone(), &ns)
        .get("campaign")
        .await
        .expect("task")
        .uid()
        .expect("uid");
    let ledgers = secrets
        .list(&ListParams::default().labels(&format!("{LEDGER_OWNER_LABEL}={uid}")))
        .await
        .expect("ledger secrets");
    assert!(!ledgers.items.is_empty(), "the task has a ledger Secret");
    for ledger in ledgers.items {
        secrets
            .delete(&ledger.name_any(), &DeleteParams::default())
            .await
            .expect("delete ledger");
    }
    inline_list(
        &client,
        &ns,
        "list-a",
        &[kept.clone(), readded.clone()].concat(),
    )
    .await;
    let controller = start_controller(&client, vec![ns.clone()]);
    wait_for(&client, &ns, "campaign", "InSync", |t| {
        desired_count(t) == Some(2)
    })
    .await;
    let now = held(&admin, "nxlink", sim::NX_KEY).await;
    assert!(
        now.contains(&format!("86{}", readded[0])),
        "the contact added again must be at the provider (it is reported in sync): {now:?}"
    );
    controller.stop().await;
}

/// Item 4: two CallTasks on one remote task through two CallProviders of one account, in two
/// namespaces, were not detected (the check compared CallProvider names in one namespace):
/// each removed what the other added.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_claimant_of_a_remote_task_is_refused_across_namespaces() {
    let cp = support::control_plane();
    let (client, first_ns) = cp.test_namespace("safe-own-a").await;
    let (_, second_ns) = cp.test_namespace("safe-own-b").await;
    let (simulator, admin) = start_sim(ProviderKind::Nxlink).await;
    let endpoint = simulator.base_url();
    provider(&client, &first_ns, "acct", ProviderKind::Nxlink, &endpoint).await;
    // The same account under another name, with a trailing slash on the endpoint.
    provider(
        &client,
        &second_ns,
        "same-account",
        ProviderKind::Nxlink,
        &format!("{endpoint}/"),
    )
    .await;
    let first = phones(300, 3);
    let second = phones(400, 3);
    inline_list(&client, &first_ns, "list-a", &first).await;
    inline_list(&client, &second_ns, "list-b", &second).await;
    task(&client, &first_ns, "owner", "acct", &["list-a"]).await;
    let controller = start_controller(&client, vec![first_ns.clone(), second_ns.clone()]);
    wait_for(&client, &first_ns, "owner", "InSync", |t| {
        desired_count(t) == Some(3)
    })
    .await;
    // Created after the owner: the second claimant.
    task(&client, &second_ns, "intruder", "same-account", &["list-b"]).await;
    let refused = wait_for(&client, &second_ns, "intruder", "DuplicateTask", |_| true).await;
    let (status, message) = ready_message(&refused);
    assert_eq!(status, ConditionStatus::False, "{message}");
    assert!(
        message.contains(&format!("CallTask {first_ns}/owner")),
        "the condition names the first claimant: {message}"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    let want: BTreeSet<String> = first.iter().map(|p| format!("86{p}")).collect();
    assert_eq!(held(&admin, "nxlink", sim::NX_KEY).await, want);
    // The owner is untouched by the refused one.
    wait_for(&client, &first_ns, "owner", "InSync", |t| {
        desired_count(t) == Some(3)
    })
    .await;
    controller.stop().await;
}

/// Item 6: a controller killed between pausing a longlonglong task and starting it again left
/// the task paused for good — the pause was recorded nowhere, and the next sync neither resumed
/// it nor said anything. The pause is now written to the CallTask first (annotation
/// `callsync.io/remote-task-paused-at`, removed after the resume). Here the remote task is
/// paused and the annotation is there, as a killed controller leaves them: the next controller
/// starts the task again before syncing, and removes the annotation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pause_left_by_a_killed_controller_is_undone_by_the_next_one() {
    use callsync::controller::pause_journal::PAUSED_ANNOTATION;
    let (client, ns) = support::control_plane().test_namespace("safe-pause").await;
    // A 2.0 task (only those answer 6007 and are paused), paused as the killed one left it.
    let simulator = sim::start(vec![sim::account(
        ProviderKind::Longlonglong,
        sim::LLL_USER,
        sim::LLL_TOKEN,
        vec![
            TaskConfig::new(TASK)
                .with_generation(TaskGeneration::V2)
                .with_state(TaskState::Paused),
        ],
    )])
    .await;
    let admin = sim::Admin::new(&simulator);
    provider(
        &client,
        &ns,
        "acct",
        ProviderKind::Longlonglong,
        &simulator.base_url(),
    )
    .await;
    let wanted = phones(300, 3);
    inline_list(&client, &ns, "list-a", &wanted).await;
    apply(
        &client,
        &ns,
        json!({"apiVersion": "callsync.io/v1alpha1", "kind": "CallTask",
               "metadata": {"name": "campaign",
                            "annotations": {PAUSED_ANNOTATION: "2026-12-01T10:00:00Z"}},
               "spec": {"providerRef": {"name": "acct"}, "taskId": TASK,
                        "contactLists": {"names": ["list-a"]},
                        "longlonglong": {"pauseTaskDuringSync": true},
                        "policy": {"maxDeletePercent": 100}, "resyncInterval": "30s"}}),
    )
    .await;
    let controller = start_controller(&client, vec![ns.clone()]);
    let synced = wait_for(&client, &ns, "campaign", "InSync", |t| {
        desired_count(t) == Some(3) && !t.annotations().contains_key(PAUSED_ANNOTATION)
    })
    .await;
    assert!(!synced.annotations().contains_key(PAUSED_ANNOTATION));
    assert_eq!(
        admin.task("longlonglong", sim::LLL_USER, TASK).await["state"],
        "running",
        "the task callsync left paused is started again"
    );
    // Once for the pause left behind, once after this sync's own pause → add → resume (the
    // running 2.0 task answered 6007), whose record came and went the same way.
    assert_eq!(admin.calls("/task_start/{task_id}").await, 2);
    assert_eq!(admin.calls("/task_stop/{task_id}").await, 1);
    assert_eq!(
        held(&admin, "longlonglong", sim::LLL_USER).await,
        wanted.into_iter().collect::<BTreeSet<_>>()
    );
    controller.stop().await;
}

/// Scale (issue 16), bad input: a damaged ledger stops the task `LedgerCorrupt`, naming the
/// Secret and what a person can do; a sync requested after that rebuilds the ledger from a full
/// listing — nothing added again, nothing removed — and the task is in sync again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_ledger_stalls_and_a_requested_sync_rebuilds_it_from_a_listing() {
    use callsync::api::SYNC_REQUEST_ANNOTATION;
    use k8s_openapi::ByteString;
    use kube::api::{Patch, PatchParams, PostParams};

    let (client, ns) = support::control_plane()
        .test_namespace("safe-rebuild")
        .await;
    let (simulator, admin) = start_sim(ProviderKind::Callbot).await;
    provider(
        &client,
        &ns,
        "acct",
        ProviderKind::Callbot,
        &simulator.base_url(),
    )
    .await;
    inline_list(&client, &ns, "list-a", &phones(300, 3)).await;
    task(&client, &ns, "campaign", "acct", &["list-a"]).await;
    let controller = start_controller(&client, vec![ns.clone()]);
    wait_for(&client, &ns, "campaign", "InSync", |t| {
        desired_count(t) == Some(3)
    })
    .await;
    let before = held(&admin, "callbot", sim::CB_UUID).await;
    assert_eq!(before.len(), 3);
    let adds = admin.calls("addBatchCall").await;

    // The head Secret's data no longer matches its digest.
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
    let mut head = secrets.get("campaign-ledger").await.expect("ledger head");
    head.data
        .get_or_insert_default()
        .insert("ledger".into(), ByteString(b"damaged by hand".to_vec()));
    secrets
        .replace("campaign-ledger", &PostParams::default(), &head)
        .await
        .expect("damage the ledger");
    let tasks: Api<CallTask> = Api::namespaced(client.clone(), &ns);
    let request = |id: &str| {
        Patch::Merge(json!({"metadata": {"annotations": {SYNC_REQUEST_ANNOTATION: id}}}))
    };
    let handled = |id: &'static str| {
        move |t: &CallTask| {
            t.status
                .as_ref()
                .and_then(|s| s.last_handled_sync_request.as_deref())
                == Some(id)
        }
    };
    // A sync requested while the task was in sync finds the damage and stops: no rebuild
    // before a person has seen why.
    tasks
        .patch("campaign", &PatchParams::default(), &request("r1"))
        .await
        .expect("request a sync");
    let stalled = wait_for(&client, &ns, "campaign", "LedgerCorrupt", handled("r1")).await;
    let (status, message) = ready_message(&stalled);
    assert_eq!(status, ConditionStatus::False);
    assert!(
        message.contains("Secret campaign-ledger") && message.contains("request a sync"),
        "{message}"
    );

    // The person requests a sync: the ledger is rebuilt from a listing.
    tasks
        .patch("campaign", &PatchParams::default(), &request("r2"))
        .await
        .expect("request a sync");
    wait_for(&client, &ns, "campaign", "InSync", handled("r2")).await;
    assert_eq!(held(&admin, "callbot", sim::CB_UUID).await, before);
    assert_eq!(
        admin.calls("addBatchCall").await,
        adds,
        "nothing added again"
    );
    assert_eq!(admin.calls("stopOrder").await, 0, "nothing removed");
    let head = secrets.get("campaign-ledger").await.expect("a new ledger");
    assert_ne!(
        head.data.and_then(|d| d.get("ledger").cloned()),
        Some(ByteString(b"damaged by hand".to_vec()))
    );
    controller.stop().await;
}

/// Scale (issue 16), bad input: a ledger Secret that goes missing after the status recorded it
/// (`status.ledger`) stops the task `LedgerMissing`, naming the Secret, instead of starting a
/// new ledger that knows nothing of what callsync added; a list edited meanwhile changes
/// nothing at the provider. A sync requested after that starts a new ledger from a full
/// listing: nothing added again, and the task converges on the edited list.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_ledger_stalls_and_a_requested_sync_starts_a_new_one_from_a_listing() {
    use callsync::api::SYNC_REQUEST_ANNOTATION;
    use kube::api::{Patch, PatchParams};

    let (client, ns) = support::control_plane()
        .test_namespace("safe-missing")
        .await;
    let (simulator, admin) = start_sim(ProviderKind::Callbot).await;
    provider(
        &client,
        &ns,
        "acct",
        ProviderKind::Callbot,
        &simulator.base_url(),
    )
    .await;
    let wanted = phones(400, 3);
    inline_list(&client, &ns, "list-a", &wanted).await;
    task(&client, &ns, "campaign", "acct", &["list-a"]).await;
    let controller = start_controller(&client, vec![ns.clone()]);
    let synced = wait_for(&client, &ns, "campaign", "InSync", |t| {
        desired_count(t) == Some(3)
    })
    .await;
    assert_eq!(
        synced.status.and_then(|s| s.ledger).as_deref(),
        Some("campaign-ledger"),
        "status.ledger records the saved ledger"
    );
    let before = held(&admin, "callbot", sim::CB_UUID).await;
    assert_eq!(before.len(), 3);
    let adds = admin.calls("addBatchCall").await;

    // The head Secret is deleted by hand, its finalizer removed first.
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
    secrets
        .patch(
            "campaign-ledger",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"finalizers": null}})),
        )
        .await
        .expect("drop the ledger's finalizer");
    secrets
        .delete("campaign-ledger", &DeleteParams::default())
        .await
        .expect("delete the ledger");
    // Meanwhile a person is taken off the list: nothing may happen at the provider until the
    // person who lost the ledger has looked.
    inline_list(&client, &ns, "list-a", &wanted[..2]).await;
    let stalled = wait_for(&client, &ns, "campaign", "LedgerMissing", |_| true).await;
    let (status, message) = ready_message(&stalled);
    assert_eq!(status, ConditionStatus::False);
    assert!(
        message.contains("Secret campaign-ledger") && message.contains("request a sync"),
        "{message}"
    );
    let stalled_condition = stalled
        .status
        .as_ref()
        .and_then(|s| find_condition(&s.conditions, ConditionType::Stalled))
        .expect("Stalled condition");
    assert_eq!(stalled_condition.status, ConditionStatus::True);
    assert_eq!(held(&admin, "callbot", sim::CB_UUID).await, before);
    assert_eq!(admin.calls("addBatchCall").await, adds);
    assert_eq!(
        admin.calls("stopOrder").await,
        0,
        "nothing removed while stalled"
    );
    assert!(
        secrets
            .get_opt("campaign-ledger")
            .await
            .expect("get")
            .is_none(),
        "no new ledger started unasked"
    );

    // The person requests a sync: a new ledger from a full listing.
    let tasks: Api<CallTask> = Api::namespaced(client.clone(), &ns);
    tasks
        .patch(
            "campaign",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"annotations": {SYNC_REQUEST_ANNOTATION: "r1"}}})),
        )
        .await
        .expect("request a sync");
    let rebuilt = wait_for(&client, &ns, "campaign", "InSync", |t| {
        t.status
            .as_ref()
            .and_then(|s| s.last_handled_sync_request.as_deref())
            == Some("r1")
    })
    .await;
    assert_eq!(
        held(&admin, "callbot", sim::CB_UUID).await,
        before
            .iter()
            .filter(|p| !p.ends_with(&wanted[2][3..]))
            .cloned()
            .collect::<BTreeSet<_>>(),
        "the phone taken off the list is removed once the new ledger listed the task"
    );
    assert_eq!(
        admin.calls("addBatchCall").await,
        adds,
        "nothing added again"
    );
    assert!(
        secrets
            .get_opt("campaign-ledger")
            .await
            .expect("get")
            .is_some()
    );
    assert_eq!(
        rebuilt.status.and_then(|s| s.ledger).as_deref(),
        Some("campaign-ledger")
    );
    controller.stop().await;
}

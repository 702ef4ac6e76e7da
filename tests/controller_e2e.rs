//! End to end: the controller (in process) against a real kube-apiserver and `callsync
//! simulate` (in process, real HTTP, real signatures). Create → converge, edit → converge with
//! only the needed calls, the deletion guard, suspend, deletion policies, bad credentials.
mod support;

use std::collections::BTreeSet;
use std::time::Duration;
use support::provider::ProviderFixture;
use support::sim;

use callsync::api::{
    CallProvider, CallTask, ConditionStatus, ConditionType, ContactList, find_condition,
};
use callsync::simulator::ProviderKind;
use callsync::simulator::state::NewContact;
use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use kube::runtime::wait::await_condition;
use serde_json::{Value, json};

const TASK: &str = "task-1";

/// The environment of one provider under test, the controller in process.
struct Env {
    kind: ProviderKind,
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
    async fn start(kind: ProviderKind, prefix: &str) -> Env {
        let base = support::env::Env::builder(prefix)
            .provider(kind, &[TASK])
            .start()
            .await;
        let mut env = Env { kind, base };
        env.start_controller();
        env
    }

    fn start_controller(&mut self) {
        let config = self.run_config("e2e");
        self.base.start_controller(config);
    }

    async fn setup_provider(&self, secret_data: Option<Value>) {
        let data = self.kind.secret_data();
        let mut spec = self.kind.provider_spec(&self.simulator.base_url(), "creds");
        spec["rateLimit"] = json!({"requestsPerSecond": 1000, "burst": 1000});
        self.apply(json!({"apiVersion": "v1", "kind": "Secret",
                   "metadata": {"name": "creds", "labels": {"callsync.io/credentials": "true"}},
                   "stringData": secret_data.unwrap_or(data)}))
            .await;
        self.apply(
            json!({"apiVersion": "callsync.io/v1alpha1", "kind": "CallProvider",
                          "metadata": {"name": "acct"}, "spec": spec}),
        )
        .await;
    }

    async fn list(&self, name: &str, phones: &[String]) {
        let contacts: Vec<Value> = phones
            .iter()
            .map(|p| json!({"phone": p, "name": format!("客户{}", &p[p.len()-4..])}))
            .collect();
        self.apply(
            json!({"apiVersion": "callsync.io/v1alpha1", "kind": "ContactList",
                          "metadata": {"name": name, "labels": {"campaign": "e2e"}},
                          "spec": {"defaultRegion": "CN", "contacts": contacts}}),
        )
        .await;
    }

    async fn task(&self, policy: Value, suspend: bool) {
        self.task_with(policy, suspend, "30s").await;
    }

    async fn task_with(&self, policy: Value, suspend: bool, resync: &str) {
        self.apply(json!({"apiVersion": "callsync.io/v1alpha1", "kind": "CallTask",
                          "metadata": {"name": "campaign"},
                          "spec": {"providerRef": {"name": "acct"}, "taskId": TASK,
                                   "contactLists": {"selector": {"matchLabels": {"campaign": "e2e"}}},
                                   "policy": policy, "suspend": suspend, "resyncInterval": resync}})).await;
    }

    /// A ContactList whose contacts get `name_of(phone)` as name.
    async fn list_named(&self, name: &str, phones: &[String], name_of: impl Fn(&str) -> String) {
        let contacts: Vec<Value> = phones
            .iter()
            .map(|p| json!({"phone": p, "name": name_of(p)}))
            .collect();
        self.apply(
            json!({"apiVersion": "callsync.io/v1alpha1", "kind": "ContactList",
                          "metadata": {"name": name, "labels": {"campaign": "e2e"}},
                          "spec": {"defaultRegion": "CN", "contacts": contacts}}),
        )
        .await;
    }

    /// Events about the CallTask: (reason, note).
    async fn events(&self) -> Vec<(String, String)> {
        let events: Api<k8s_openapi::api::events::v1::Event> =
            Api::namespaced(self.client.clone(), &self.ns);
        events
            .list(&Default::default())
            .await
            .expect("list events")
            .items
            .into_iter()
            .map(|e| (e.reason.unwrap_or_default(), e.note.unwrap_or_default()))
            .collect()
    }

    /// Waits until the CallTask's Ready condition has `reason` for its current generation.
    async fn wait_reason(&self, reason: &str, within: Duration) -> CallTask {
        let wanted = reason.to_string();
        let cond = move |task: Option<&CallTask>| {
            task.is_some_and(|t| {
                let status = t.status.as_ref();
                status.and_then(|s| s.observed_generation) == t.metadata.generation
                    && status
                        .and_then(|s| find_condition(&s.conditions, ConditionType::Ready))
                        .is_some_and(|c| c.reason == wanted)
            })
        };
        match tokio::time::timeout(within, await_condition(self.tasks(), "campaign", cond)).await {
            Ok(Ok(Some(task))) => task,
            other => {
                let current = self
                    .tasks()
                    .get_opt("campaign")
                    .await
                    .ok()
                    .flatten()
                    .and_then(|t| t.status);
                panic!(
                    "CallTask not {reason} within {within:?} ({:?}); status: {current:#?}",
                    other.map(|r| r.map(|_| ()))
                );
            }
        }
    }

    async fn sim_phones(&self) -> BTreeSet<String> {
        self.admin
            .phones(self.kind.as_str(), self.kind.account(), TASK)
            .await
            .into_iter()
            .collect()
    }

    /// Waits until the simulated task holds exactly `want`; after `within`, fails naming `what`
    /// and how many phones it held.
    async fn wait_phones(&self, want: &BTreeSet<String>, within: Duration, what: &str) {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let held = self.sim_phones().await;
            if held == *want {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{what}: {} phones held, {} wanted",
                held.len(),
                want.len()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn calls(&self, route: &str) -> u64 {
        let counters = self.admin.counters().await;
        counters[route]["calls"].as_u64().unwrap_or(0)
    }
}

/// `count` CN mobiles `138xxxxxxxx` starting at `from`.
fn phones(from: u32, count: u32) -> Vec<String> {
    (from..from + count).map(|i| format!("138{i:08}")).collect()
}

fn wire_set(kind: ProviderKind, phones: &[String]) -> BTreeSet<String> {
    phones.iter().map(|p| kind.wire(p)).collect()
}

async fn create_then_edit(kind: ProviderKind, prefix: &str) {
    let mut env = Env::start(kind, prefix).await;
    env.setup_provider(None).await;
    let (a, b, c) = (phones(0, 4000), phones(4000, 3000), phones(7000, 3000));
    env.list("list-a", &a).await;
    env.list("list-b", &b).await;
    env.list("list-c", &c).await;
    env.task(json!({"maxDeletePercent": 20}), false).await;

    // What a person or a pipeline would run.
    let cp = support::control_plane();
    let kubectl = cp
        .kubectl()
        .expect("kubectl is built by scripts/build-controlplane.sh");
    let (kubeconfig, ns) = (cp.kubeconfig.clone(), env.ns.clone());
    let waited = tokio::task::spawn_blocking(move || {
        std::process::Command::new(kubectl)
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .args([
                "-n",
                &ns,
                "wait",
                "--for=condition=Ready",
                "calltask/campaign",
                "--timeout=180s",
            ])
            .output()
            .expect("run kubectl wait")
    })
    .await
    .expect("kubectl wait");
    assert!(
        waited.status.success(),
        "kubectl wait: {}",
        String::from_utf8_lossy(&waited.stderr)
    );

    // Ready can come first from a ContactList cache that has not seen list-c yet (the lists
    // were created a moment before the task): the controller adds what it sees, and the watch
    // event of the late list triggers the next reconcile. Wait for the status to count all.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let task = loop {
        let task = env.wait_reason("InSync", Duration::from_secs(30)).await;
        let desired = task
            .status
            .as_ref()
            .and_then(|s| s.contacts.as_ref())
            .map(|c| c.desired);
        if desired == Some(10_000) || std::time::Instant::now() > deadline {
            break task;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let all: Vec<String> = [a.clone(), b.clone(), c.clone()].concat();
    let held = env.sim_phones().await;
    let want = wire_set(kind, &all);
    if held != want {
        let missing = want.difference(&held).count();
        let extra = held.difference(&want).count();
        let audit = env.admin.audit().await;
        let rejected: Vec<_> = audit
            .iter()
            .filter(|e| e["outcome"] != "applied")
            .take(5)
            .collect();
        panic!(
            "the provider does not hold exactly the desired contacts: {missing} missing, {extra} extra; \
             status {:?}; first non-applied audit rows: {rejected:?}; counters {}",
            task.status,
            env.admin.counters().await
        );
    }
    let counts = task
        .status
        .as_ref()
        .and_then(|s| s.contacts.clone())
        .expect("counts");
    assert_eq!(
        (
            counts.desired,
            counts.present,
            counts.pending,
            counts.failed
        ),
        (10_000, 10_000, 0, 0),
        "{counts:?}"
    );
    let ready = find_condition(
        &task.status.as_ref().expect("status").conditions,
        ConditionType::Ready,
    )
    .expect("Ready");
    assert_eq!(ready.status, ConditionStatus::True);
    // The lower bound ceil(adds / maxAdd): longlonglong async adds take 200 (each then
    // confirmed by reads, which are not writes), Callbot 500, NXLink appends 100.
    let max_add = match kind {
        ProviderKind::Longlonglong => 200,
        ProviderKind::Nxlink => 100,
        ProviderKind::Callbot => 500,
    };
    let adds = env.calls(kind.add_route()).await;
    assert_eq!(
        adds,
        10_000u64.div_ceil(max_add),
        "write calls equal the lower bound"
    );
    assert_eq!(env.calls(kind.remove_route()).await, 0);

    // Edit: list-a gains 50, list-b loses 30, list-c changes the names of 5 (policy Ignore:
    // providers have no update call, so that costs nothing).
    let a2: Vec<String> = [a.clone(), phones(20_000, 50)].concat();
    let b2: Vec<String> = b[30..].to_vec();
    let renamed: BTreeSet<String> = c[..5].iter().cloned().collect();
    env.list("list-a", &a2).await;
    env.list("list-b", &b2).await;
    env.list_named("list-c", &c, |p| {
        if renamed.contains(p) {
            "新名字".into()
        } else {
            format!("客户{}", &p[p.len() - 4..])
        }
    })
    .await;
    let expected: Vec<String> = [a2, b2, c].concat();
    let want = wire_set(kind, &expected);
    env.wait_phones(&want, Duration::from_secs(60), "edit did not converge")
        .await;
    // The provider can hold the edited set before the sync that made it has written its status
    // (a longlonglong deletion is confirmed by a listing first): wait for the status that counts
    // the edit, as for the creation above.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let task = loop {
        let task = env.wait_reason("InSync", Duration::from_secs(30)).await;
        let desired = task
            .status
            .as_ref()
            .and_then(|s| s.contacts.as_ref())
            .map(|c| c.desired);
        if desired == Some(10_020) || std::time::Instant::now() > deadline {
            break task;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let counts = task
        .status
        .as_ref()
        .and_then(|s| s.contacts.clone())
        .expect("counts");
    assert_eq!(
        (counts.desired, counts.present, counts.pending),
        (10_020, 10_020, 0),
        "{counts:?}"
    );
    assert_eq!(
        env.calls(kind.add_route()).await - adds,
        1,
        "50 adds fit one batch"
    );
    let removes = env.calls(kind.remove_route()).await;
    match kind {
        ProviderKind::Nxlink => assert_eq!(removes, 30, "NXLink deletes one contact per call"),
        _ => assert_eq!(removes, 1, "30 removals fit one batch"),
    }
    env.stop_controller().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn longlonglong_create_and_edit_converge() {
    create_then_edit(ProviderKind::Longlonglong, "e2e-lll").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callbot_create_and_edit_converge() {
    create_then_edit(ProviderKind::Callbot, "e2e-cb").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nxlink_create_and_edit_converge() {
    create_then_edit(ProviderKind::Nxlink, "e2e-nx").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletion_guard_blocks_removals_until_raised() {
    let mut env = Env::start(ProviderKind::Callbot, "e2e-guard").await;
    env.setup_provider(None).await;
    let (big, small) = (phones(0, 600), phones(600, 400));
    env.list("list-big", &big).await;
    env.list("list-small", &small).await;
    env.task(json!({"maxDeletePercent": 20}), false).await;
    env.wait_reason("InSync", Duration::from_secs(60)).await;

    Api::<ContactList>::namespaced(env.client.clone(), &env.ns)
        .delete("list-big", &DeleteParams::default())
        .await
        .expect("delete list");
    let extra = phones(2000, 10);
    env.list("list-extra", &extra).await;
    let task = env
        .wait_reason("DeletionGuard", Duration::from_secs(60))
        .await;
    let stalled = find_condition(
        &task.status.as_ref().expect("status").conditions,
        ConditionType::Stalled,
    )
    .expect("Stalled");
    assert_eq!(stalled.status, ConditionStatus::True);
    // The Event follows the status write: poll for it.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let events = env.events().await;
        if events.iter().any(|(reason, _)| reason == "DeletionGuard") {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "a DeletionGuard Event: {events:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The guard may first trip at a reconcile that saw the deletion but not yet list-extra:
    // its adds come with a later one, while the guard still holds the removals.
    let held = wire_set(
        ProviderKind::Callbot,
        &[big.clone(), small.clone(), extra.clone()].concat(),
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let mut phones = env.sim_phones().await;
    while phones != held && tokio::time::Instant::now() < deadline {
        assert!(
            phones.is_superset(&wire_set(ProviderKind::Callbot, &big)),
            "nothing removed"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
        phones = env.sim_phones().await;
    }
    assert_eq!(phones, held, "nothing removed, adds continue");

    env.task(json!({"maxDeletePercent": 100}), false).await;
    env.wait_reason("InSync", Duration::from_secs(60)).await;
    let kept: Vec<String> = [small, extra].concat();
    assert_eq!(
        env.sim_phones().await,
        wire_set(ProviderKind::Callbot, &kept)
    );
    env.stop_controller().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suspend_stops_provider_calls() {
    let mut env = Env::start(ProviderKind::Longlonglong, "e2e-suspend").await;
    env.setup_provider(None).await;
    let contacts = phones(0, 20);
    env.list("list-a", &contacts).await;
    env.task(json!({}), true).await;
    env.wait_reason("Suspended", Duration::from_secs(30)).await;
    let counters = env.admin.counters().await;
    // The CallProvider's own credential check (account level, read only) is not the task's.
    let account_checks = ["/agent-api/token", "/ping", "/task/list"];
    let calls: u64 = counters
        .as_object()
        .map(|m| {
            m.iter()
                .filter(|(route, _)| !account_checks.iter().any(|c| route.ends_with(c)))
                .map(|(_, v)| v["calls"].as_u64().unwrap_or(0))
                .sum()
        })
        .unwrap_or(0);
    assert_eq!(
        calls, 0,
        "a suspended CallTask makes no provider call: {counters}"
    );
    env.task(json!({}), false).await;
    env.wait_reason("InSync", Duration::from_secs(30)).await;
    assert_eq!(
        env.sim_phones().await,
        wire_set(ProviderKind::Longlonglong, &contacts)
    );
    env.stop_controller().await;
}

async fn delete_then_orphan(kind: ProviderKind, prefix: &str) {
    let (provider, account) = (kind.as_str(), kind.account());
    let mut env = Env::start(kind, prefix).await;
    env.setup_provider(None).await;
    let contacts = phones(0, 40);
    env.list("list-a", &contacts).await;
    env.task(json!({"deletion": "Delete"}), false).await;
    env.wait_reason("InSync", Duration::from_secs(30)).await;
    // Five contacts were called meanwhile: the provider refuses to delete them.
    let called: Vec<String> = contacts[..5].iter().map(|p| kind.wire(p)).collect();
    env.admin
        .mark(
            provider,
            account,
            TASK,
            json!({"phones": called, "state": "finished"}),
        )
        .await;
    env.tasks()
        .delete("campaign", &DeleteParams::default())
        .await
        .expect("delete task");
    let gone = await_condition(env.tasks(), "campaign", |t: Option<&CallTask>| t.is_none());
    tokio::time::timeout(Duration::from_secs(60), gone)
        .await
        .expect("finalizer released")
        .expect("watch");
    assert_eq!(
        env.sim_phones().await,
        called.iter().cloned().collect::<BTreeSet<_>>(),
        "only the called contacts remain"
    );
    let ledger = Api::<Secret>::namespaced(env.client.clone(), &env.ns)
        .get_opt("campaign-ledger")
        .await
        .expect("get");
    assert!(
        ledger.is_none(),
        "the ledger Secret is removed with the CallTask"
    );

    // Orphan: a new task on the same remote task leaves everything in place. The five called
    // contacts are still there; the new task (a fresh ledger) wants them: the provider has them,
    // which is in sync, not a refusal. NXLink cannot list: it answers their adds "already in the
    // task", counted already at the provider (not added by callsync), never as added.
    env.task(json!({"deletion": "Orphan"}), false).await;
    let task = env.wait_reason("InSync", Duration::from_secs(30)).await;
    let status = task.status.as_ref().expect("status");
    let ready = find_condition(&status.conditions, ConditionType::Ready).expect("Ready");
    assert!(
        ready.message.starts_with("40 contacts in sync"),
        "{}",
        ready.message
    );
    assert!(status.failures.is_empty(), "{:?}", status.failures);
    let last = status.last_sync.as_ref().expect("lastSync");
    assert_eq!(
        last.added, 35,
        "only the adds the provider took are counted"
    );
    let before = env.sim_phones().await;
    env.tasks()
        .delete("campaign", &DeleteParams::default())
        .await
        .expect("delete task");
    let gone = await_condition(env.tasks(), "campaign", |t: Option<&CallTask>| t.is_none());
    tokio::time::timeout(Duration::from_secs(60), gone)
        .await
        .expect("finalizer released")
        .expect("watch");
    assert_eq!(env.sim_phones().await, before);
    env.stop_controller().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletion_policy_delete_removes_what_it_can_and_orphan_leaves_all() {
    delete_then_orphan(ProviderKind::Nxlink, "e2e-delete-nx").await;
}

/// "Provider truth": a contact added in the NXLink console, wanted, then no longer wanted.
/// NXLink cannot list, so callsync never learns its id and cannot remove it; the provider may
/// still call it. The controller said Ready/InSync next to the ForeignContacts Warning Event;
/// it must say Ready=False, Stalled `ContactsNotRemovable`, and leave the contact alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_nxlink_console_contact_no_longer_wanted_is_never_ready() {
    let mut env = Env::start(ProviderKind::Nxlink, "e2e-console-nx").await;
    env.setup_provider(None).await;
    let console = "13800009000".to_string();
    env.simulator
        .state()
        .lock()
        .add_contact(
            &(ProviderKind::Nxlink, sim::NX_KEY.to_owned()),
            TASK,
            NewContact {
                phone: ProviderKind::Nxlink.wire(&console),
                remote_id: Some("console-0001".into()),
                name: "added in the console".into(),
                extra: String::new(),
            },
        )
        .expect("console add");
    let ours = phones(0, 10);
    env.list("list-a", &[ours.clone(), vec![console.clone()]].concat())
        .await;
    env.task(json!({}), false).await;
    // Wanted: the provider has it ("already in the task"), which is in sync.
    let task = env.wait_reason("InSync", Duration::from_secs(30)).await;
    let ready = find_condition(
        &task.status.as_ref().expect("status").conditions,
        ConditionType::Ready,
    )
    .expect("Ready");
    assert!(
        ready.message.starts_with("11 contacts in sync"),
        "{}",
        ready.message
    );

    env.list("list-a", &ours).await;
    let task = env
        .wait_reason("ContactsNotRemovable", Duration::from_secs(30))
        .await;
    let conditions = &task.status.as_ref().expect("status").conditions;
    let stalled = find_condition(conditions, ConditionType::Stalled).expect("Stalled");
    assert_eq!(stalled.status, ConditionStatus::True);
    assert!(
        stalled
            .message
            .starts_with("1 contacts no longer wanted are still in the provider's task"),
        "{}",
        stalled.message
    );
    assert!(
        !stalled.message.contains("13800009000"),
        "masked: {}",
        stalled.message
    );
    assert_eq!(
        find_condition(conditions, ConditionType::Ready)
            .expect("Ready")
            .status,
        ConditionStatus::False
    );
    assert!(
        env.sim_phones()
            .await
            .contains(&ProviderKind::Nxlink.wire(&console)),
        "callsync cannot remove it, and sends nothing that claims it did"
    );
    let events = env.events().await;
    assert!(
        events.iter().any(|(reason, _)| reason == "ForeignContacts"),
        "{events:?}"
    );
    env.stop_controller().await;
}

/// longlonglong removes by phone: cleanup must not send callsync's own ids.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletion_policy_on_a_phone_identity_provider() {
    delete_then_orphan(ProviderKind::Longlonglong, "e2e-delete-lll").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_credentials_stall_without_a_hot_loop_and_a_fixed_secret_converges() {
    let mut env = Env::start(ProviderKind::Callbot, "e2e-creds").await;
    env.setup_provider(Some(
        json!({"uuid": sim::CB_UUID, "secretKey": "wrong-secret"}),
    ))
    .await;
    let contacts = phones(0, 10);
    env.list("list-a", &contacts).await;
    env.task(json!({}), false).await;
    let task = env
        .wait_reason("CredentialsRejected", Duration::from_secs(30))
        .await;
    let message = &find_condition(
        &task.status.as_ref().expect("status").conditions,
        ConditionType::Stalled,
    )
    .expect("Stalled")
    .message;
    assert!(
        !message.contains("wrong-secret"),
        "no secret in status: {message}"
    );
    // Watch events of the setup (the Secret and the CallProvider just applied, the
    // CallProvider's status) each wake the task once more within a moment, each reconcile one
    // rejected call (seen in a loaded CI run): the window starts after them, so it counts
    // retries, not those.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let first = env.admin.counter_sum("calls").await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let later = env.admin.counter_sum("calls").await;
    assert!(
        later - first <= 2,
        "a terminal error must not retry in a loop: {} calls in 3 s",
        later - first
    );

    // Fix the Secret: the Secret watch requeues the task, no restart needed.
    env.setup_provider(None).await;
    env.wait_reason("InSync", Duration::from_secs(30)).await;
    assert_eq!(
        env.sim_phones().await,
        wire_set(ProviderKind::Callbot, &contacts)
    );
    let _ = env.simulator.base_url();
    env.stop_controller().await;
    let _ = env.tasks().get("campaign").await.map(|t| t.name_any());
}

/// Someone who may edit CallProviders but not read Secrets must not get a Secret sent: a Secret
/// without `callsync.io/credentials: "true"` stalls the task, names the label, and no request
/// reaches the provider; once someone who may write Secrets labels it, the Secret watch requeues
/// the task and it converges without a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unlabelled_secret_is_never_sent_and_labelling_it_converges() {
    let mut env = Env::start(ProviderKind::Longlonglong, "e2e-optin").await;
    env.setup_provider(None).await;
    let data = ProviderKind::Longlonglong.secret_data();
    // The same field manager applies the Secret without the label: the label goes.
    env.apply(json!({"apiVersion": "v1", "kind": "Secret",
                     "metadata": {"name": "creds"}, "stringData": data}))
        .await;
    let contacts = phones(0, 10);
    env.list("list-a", &contacts).await;
    env.task(json!({}), false).await;
    let task = env
        .wait_reason("SecretNotOptedIn", Duration::from_secs(30))
        .await;
    let message = &find_condition(
        &task.status.as_ref().expect("status").conditions,
        ConditionType::Stalled,
    )
    .expect("Stalled")
    .message;
    assert!(
        message.contains("creds") && message.contains("callsync.io/credentials=true"),
        "{message}"
    );
    assert!(
        !message.contains(sim::LLL_TOKEN),
        "no secret in status: {message}"
    );
    // The CallProvider's account check ran while the Secret was still labelled (setup above).
    let token_checks = env.calls("GET /agent-api/token").await;
    assert_eq!(
        env.admin.counter_sum("calls").await - token_checks,
        0,
        "a request reached the provider"
    );

    env.setup_provider(None).await;
    env.wait_reason("InSync", Duration::from_secs(30)).await;
    assert_eq!(
        env.sim_phones().await,
        wire_set(ProviderKind::Longlonglong, &contacts)
    );
    env.stop_controller().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_outage_backs_off_then_converges() {
    let mut env = Env::start(ProviderKind::Callbot, "e2e-outage").await;
    env.setup_provider(None).await;
    env.admin
        .set_faults("callbot", sim::CB_UUID, json!({"errorRate": 1.0}))
        .await;
    let contacts = phones(0, 300);
    env.list("list-a", &contacts).await;
    env.task(json!({}), false).await;
    let task = env
        .wait_reason("ProviderUnreachable", Duration::from_secs(30))
        .await;
    let conditions = &task.status.as_ref().expect("status").conditions;
    let reconciling = find_condition(conditions, ConditionType::Reconciling).expect("Reconciling");
    assert_eq!(
        reconciling.status,
        ConditionStatus::True,
        "an outage is worth waiting for, not Stalled"
    );
    // Backoff: the failing reconciles slow down instead of hammering the provider.
    let first = env.admin.counter_sum("calls").await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    let during = env.admin.counter_sum("calls").await - first;
    assert!(during < 150, "{during} calls in 4 s of outage");

    env.admin
        .set_faults("callbot", sim::CB_UUID, json!(null))
        .await;
    env.wait_reason("InSync", Duration::from_secs(60)).await;
    assert_eq!(
        env.sim_phones().await,
        wire_set(ProviderKind::Callbot, &contacts)
    );
    env.stop_controller().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_made_in_the_provider_console_is_repaired_on_resync() {
    let mut env = Env::start(ProviderKind::Longlonglong, "e2e-drift").await;
    env.setup_provider(None).await;
    let contacts = phones(0, 200);
    env.list("list-a", &contacts).await;
    env.task_with(json!({"maxDeletePercent": 50}), false, "2s")
        .await;
    env.wait_reason("InSync", Duration::from_secs(30)).await;

    // By hand, through the provider's own API with the account's token: one desired number
    // removed, one unknown number added.
    let http = reqwest::Client::new();
    let base = format!(
        "{}/agent-api/user/{}/task/{TASK}",
        env.simulator.base_url(),
        sim::LLL_USER
    );
    let removed = http
        .delete(format!("{base}/number-batch-delete"))
        .bearer_auth(sim::LLL_TOKEN)
        .json(&json!({"customer_info_list": [{"phone": contacts[7]}]}))
        .send()
        .await
        .expect("delete by hand");
    assert!(removed.status().is_success());
    let stranger = "13912345678";
    let added = http
        .post(format!("{base}/number"))
        .bearer_auth(sim::LLL_TOKEN)
        .json(&json!({"data": [{"phone": stranger, "name": "手工"}], "ignore_crm": true}))
        .send()
        .await
        .expect("add by hand");
    assert!(added.status().is_success());
    let mut drifted = wire_set(ProviderKind::Longlonglong, &contacts);
    drifted.remove(&contacts[7]);
    drifted.insert(stranger.to_string());
    assert_eq!(
        env.sim_phones().await,
        drifted,
        "the console changes happened"
    );

    let want = wire_set(ProviderKind::Longlonglong, &contacts);
    env.wait_phones(
        &want,
        Duration::from_secs(30),
        "drift not repaired by the periodic resync",
    )
    .await;
    env.stop_controller().await;
}

/// Between listings (`resyncInterval` 1h) a contact removed in the provider's console is found
/// by the provider's count at the next sync — here the one a ContactList edit starts — which
/// lists the task and adds the contact again along with the edit, instead of an hour later.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_console_removal_is_counted_and_repaired_by_the_next_edit() {
    let mut env = Env::start(ProviderKind::Callbot, "e2e-count-drift").await;
    env.setup_provider(None).await;
    let contacts = phones(0, 50);
    env.list("list-a", &contacts).await;
    env.task_with(json!({}), false, "1h").await;
    env.wait_reason("InSync", Duration::from_secs(30)).await;

    remove_in_console(&env, &ProviderKind::Callbot.wire(&contacts[7]));
    let mut drifted = wire_set(ProviderKind::Callbot, &contacts);
    drifted.remove(&ProviderKind::Callbot.wire(&contacts[7]));
    assert_eq!(env.sim_phones().await, drifted, "removed in the console");

    let edited = phones(0, 51);
    env.list("list-a", &edited).await;
    let want = wire_set(ProviderKind::Callbot, &edited);
    env.wait_phones(
        &want,
        Duration::from_secs(30),
        "the console removal was not repaired with the edit",
    )
    .await;
    env.stop_controller().await;
}

/// Removes a contact straight from the simulator's state, as a person in the provider's console
/// would: no callsync request and no watch sees it.
fn remove_in_console(env: &Env, wire_phone: &str) {
    let key = (env.kind, env.kind.account().to_owned());
    let mut inner = env.simulator.state().lock();
    let task = inner.task_mut(&key, TASK).expect("the task");
    let seq = *task.by_phone.get(wire_phone).expect("the phone is held");
    task.remove(seq).expect("removed");
}

/// The CallProvider's status says whether its account works, with read calls only: Ready with
/// CredentialsAccepted for a good Secret, Ready=False with the provider's refusal when the
/// Secret goes wrong (the Secret watch wakes it at once), and back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_provider_status_reports_the_credential_check() {
    let mut env = Env::start(ProviderKind::Nxlink, "e2e-provider-status").await;
    let audit_before = env.admin.audit().await.len();
    env.setup_provider(None).await;
    let providers: Api<CallProvider> = Api::namespaced(env.client.clone(), &env.ns);
    let ready_with = |reason: &'static str, status: ConditionStatus| {
        let providers = providers.clone();
        async move {
            tokio::time::timeout(
                Duration::from_secs(30),
                await_condition(providers, "acct", move |p: Option<&CallProvider>| {
                    p.and_then(|p| p.status.as_ref())
                        .and_then(|s| find_condition(&s.conditions, ConditionType::Ready))
                        .is_some_and(|c| c.reason == reason && c.status == status)
                }),
            )
            .await
            .unwrap_or_else(|_| panic!("CallProvider Ready={status:?} {reason} within 30 s"))
            .expect("watch")
            .expect("object")
        }
    };
    let provider = ready_with("CredentialsAccepted", ConditionStatus::True).await;
    let status = provider.status.expect("status");
    assert_eq!(status.provider_type.as_deref(), Some("nxlink"));
    assert!(status.last_checked.is_some());
    assert!(
        status.clock_skew_seconds.is_some_and(|s| s.abs() <= 2),
        "{status:?}"
    );

    env.setup_provider(Some(
        json!({"accessKey": sim::NX_KEY, "accessSecret": "wrong-secret"}),
    ))
    .await;
    let provider = ready_with("SignatureRejected", ConditionStatus::False).await;
    let ready = find_condition(
        &provider.status.as_ref().expect("status").conditions,
        ConditionType::Ready,
    )
    .expect("Ready")
    .clone();
    assert!(!ready.message.contains("wrong-secret"), "{}", ready.message);

    env.setup_provider(None).await;
    ready_with("CredentialsAccepted", ConditionStatus::True).await;
    // Checks only read: nothing was applied at the provider.
    assert_eq!(env.admin.audit().await.len(), audit_before);
    env.stop_controller().await;
}

/// Removes a number from the longlonglong task through the provider's own API, as a person in
/// its console would: drift that no watch sees.
async fn remove_by_hand(env: &Env, phone: &str) {
    let url = format!(
        "{}/agent-api/user/{}/task/{TASK}/number-batch-delete",
        env.simulator.base_url(),
        sim::LLL_USER
    );
    let removed = reqwest::Client::new()
        .delete(url)
        .bearer_auth(sim::LLL_TOKEN)
        .json(&json!({"customer_info_list": [{"phone": phone}]}))
        .send()
        .await
        .expect("delete by hand");
    assert!(removed.status().is_success());
}

/// Asks for a sync through the `callsync.io/requestedAt` annotation and waits until the
/// CallTask's status echoes it: a reconcile that started after the request has finished.
async fn request_sync_and_wait(env: &Env, value: &str) -> CallTask {
    let patch =
        json!({"metadata": {"annotations": {callsync::api::SYNC_REQUEST_ANNOTATION: value}}});
    env.tasks()
        .patch("campaign", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .expect("annotate");
    let wanted = value.to_string();
    let handled = move |task: Option<&CallTask>| {
        task.and_then(|t| t.status.as_ref())
            .and_then(|s| s.last_handled_sync_request.as_deref())
            == Some(wanted.as_str())
    };
    tokio::time::timeout(
        Duration::from_secs(30),
        await_condition(env.tasks(), "campaign", handled),
    )
    .await
    .expect("the controller echoes the sync request in status.lastHandledSyncRequest")
    .expect("watch")
    .expect("CallTask exists")
}

/// A sync request (`callsync.io/requestedAt`) runs a sync at once, although resyncInterval is a
/// week away, and is echoed in status.lastHandledSyncRequest only when that sync finished.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_request_runs_before_the_resync_interval_and_is_echoed_when_done() {
    let mut env = Env::start(ProviderKind::Longlonglong, "e2e-sync-request").await;
    env.setup_provider(None).await;
    let contacts = phones(0, 10);
    env.list("list-a", &contacts).await;
    env.task_with(json!({}), false, "168h").await;
    env.wait_reason("InSync", Duration::from_secs(30)).await;
    // Drift by hand at the provider, which no watch sees: only a sync repairs it.
    remove_by_hand(&env, &contacts[3]).await;
    assert_eq!(env.sim_phones().await.len(), contacts.len() - 1);
    let task = request_sync_and_wait(&env, "2026-12-01T10:00:00Z").await;
    assert_eq!(
        env.sim_phones().await,
        wire_set(ProviderKind::Longlonglong, &contacts),
        "the echoed sync repaired the drift before it was echoed"
    );
    let ready = find_condition(
        &task.status.as_ref().expect("status").conditions,
        ConditionType::Ready,
    )
    .expect("Ready");
    assert_eq!(ready.reason, "InSync");
    env.stop_controller().await;
}

/// CallProvider spec.suspend freezes the account: its CallTasks make no provider call (Ready
/// False, reason ProviderSuspended) while ContactLists change, and converge once it is lifted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_suspended_call_provider_stops_every_write_of_its_tasks() {
    let kind = ProviderKind::Longlonglong;
    let mut env = Env::start(kind, "e2e-provider-suspend").await;
    env.setup_provider(None).await;
    let first = phones(0, 10);
    env.list("list-a", &first).await;
    env.task(json!({}), false).await;
    env.wait_reason("InSync", Duration::from_secs(30)).await;
    let adds = env.calls(kind.add_route()).await;
    let removes = env.calls(kind.remove_route()).await;

    let providers: Api<CallProvider> = Api::namespaced(env.client.clone(), &env.ns);
    let freeze = |suspend: bool| json!({"spec": {"suspend": suspend}});
    providers
        .patch(
            "acct",
            &PatchParams::default(),
            &Patch::Merge(&freeze(true)),
        )
        .await
        .expect("suspend the CallProvider");
    let task = env
        .wait_reason("ProviderSuspended", Duration::from_secs(30))
        .await;
    let ready = find_condition(
        &task.status.as_ref().expect("status").conditions,
        ConditionType::Ready,
    )
    .expect("Ready");
    assert_eq!(ready.status, ConditionStatus::False);
    assert!(ready.message.contains("CallProvider acct"), "{ready:?}");

    // What would add 5 and remove 5, then a sync asked for and handled: still nothing sent.
    let second = phones(5, 10);
    env.list("list-a", &second).await;
    request_sync_and_wait(&env, "frozen-1").await;
    assert_eq!(
        env.calls(kind.add_route()).await,
        adds,
        "no add while frozen"
    );
    assert_eq!(
        env.calls(kind.remove_route()).await,
        removes,
        "no removal while frozen"
    );
    assert_eq!(env.sim_phones().await, wire_set(kind, &first));

    providers
        .patch(
            "acct",
            &PatchParams::default(),
            &Patch::Merge(&freeze(false)),
        )
        .await
        .expect("resume the CallProvider");
    env.wait_reason("InSync", Duration::from_secs(30)).await;
    assert_eq!(env.sim_phones().await, wire_set(kind, &second));
    env.stop_controller().await;
}

/// A CallTask deleted with `deletion: Delete` while its CallProvider is suspended removes
/// nothing and keeps its finalizer; once the account is resumed the cleanup runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cleanup_waits_for_a_suspended_call_provider() {
    let kind = ProviderKind::Longlonglong;
    let mut env = Env::start(kind, "e2e-provider-suspend-cleanup").await;
    env.setup_provider(None).await;
    let contacts = phones(0, 10);
    env.list("list-a", &contacts).await;
    env.task(json!({"deletion": "Delete"}), false).await;
    env.wait_reason("InSync", Duration::from_secs(30)).await;
    let providers: Api<CallProvider> = Api::namespaced(env.client.clone(), &env.ns);
    let freeze = |suspend: bool| json!({"spec": {"suspend": suspend}});
    providers
        .patch(
            "acct",
            &PatchParams::default(),
            &Patch::Merge(&freeze(true)),
        )
        .await
        .expect("suspend the CallProvider");
    env.wait_reason("ProviderSuspended", Duration::from_secs(30))
        .await;

    env.tasks()
        .delete("campaign", &DeleteParams::default())
        .await
        .expect("delete task");
    // Several backoff rounds (200 ms base) of the cleanup.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        env.tasks()
            .get_opt("campaign")
            .await
            .expect("get")
            .is_some(),
        "the finalizer holds the CallTask while the account is frozen"
    );
    assert_eq!(
        env.calls(kind.remove_route()).await,
        0,
        "no removal while frozen"
    );
    assert_eq!(env.sim_phones().await, wire_set(kind, &contacts));

    providers
        .patch(
            "acct",
            &PatchParams::default(),
            &Patch::Merge(&freeze(false)),
        )
        .await
        .expect("resume the CallProvider");
    let gone = await_condition(env.tasks(), "campaign", |t: Option<&CallTask>| t.is_none());
    tokio::time::timeout(Duration::from_secs(60), gone)
        .await
        .expect("cleanup ran once the account was resumed")
        .expect("watch");
    assert!(
        env.sim_phones().await.is_empty(),
        "every contact callsync added is removed"
    );
    env.stop_controller().await;
}

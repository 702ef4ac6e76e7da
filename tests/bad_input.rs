//! The bad input corpus (issue 9): malformed phones, duplicated and conflicting contacts,
//! oversized lists, wrong types, unknown fields, missing Secrets and keys, references across
//! namespaces, CSVs in wrong encodings, truncated files, bad provider blocks, limits, durations,
//! policies and label selectors; forged ledger Secrets and provider answers past the byte
//! limit (safety item 7). Each case is a row of a table with the outcome a person must
//! get: the API server's refusal (`bad_input/refusals.rs`), or the CallTask's condition, the
//! ContactList's status and Events (`bad_input/cases.rs`), with the valid contacts of a mixed
//! input at the provider anyway and the controller process still running.
//!
//! Against the real kube-apiserver (tests/support), `callsync controller` as a process and the
//! simulator (in process, real HTTP). The whole corpus shares one controller and one namespace.
//!
//! Misuse (the "Safety" issue's items): 1 — `named-list-missing`, `named-list-other-namespace`,
//! `csv-stray-quote`; 7 — `ledger-forged`, `provider-answer-bomb`; 8 — `credentials-not-opted-in`,
//! `contacts-not-opted-in` and the `insecure`/endpoint refusals in `refusals.rs`; 3 and 9 —
//! `callsync apply`'s local state (`bad_input/local_state.rs`: a ledger deleted by hand, a
//! permissive umask). Scale (issue 16), a ledger snapshot or journal from another task or
//! damaged: `ledger-foreign`, `journal-damaged`, `journal-foreign`, `sealed-foreign`, `sealed-missing`.
mod support;

#[path = "bad_input/cases.rs"]
mod cases;
#[path = "bad_input/local_state.rs"]
mod local_state;
#[path = "bad_input/refusals.rs"]
mod refusals;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};
use support::sim;

use callsync::api::{CallTask, ConditionType, ContactList, find_condition};
use callsync::simulator::{ProviderKind, TaskConfig};
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, ListParams, ValidationDirective};
use kube::{Client, ResourceExt};
use serde_json::{Value, json};
use support::process::ControllerProcess;

/// A wrong longlonglong token; the suite's leak scan looks for it too (named like a secret).
pub const WRONG_TOKEN: &str = "Wr0ng-lll-T0k3n-93xq";
/// The account whose every answer is a gzip bomb (`oversizedAnswer`), and its token.
pub const BOMB_USER: &str = "bomb-user";
pub const BOMB_TOKEN: &str = "B0mb-lll-T0k3n-51kz";
/// The CSV source in the other namespace.
const OTHER_CSV_SECRET: &str = "phone\n13900000468\n";

/// Server-side apply of any object the corpus uses, under `validation`.
async fn apply(
    client: &Client,
    ns: &str,
    object: &Value,
    validation: ValidationDirective,
) -> Result<(), kube::Error> {
    let params = support::apply_params().validation(validation);
    support::objects::try_apply_with(client, ns, object, &params)
        .await
        .map(|_| ())
}

async fn must_apply(client: &Client, ns: &str, object: &Value) {
    if let Err(e) = apply(client, ns, object, ValidationDirective::Strict).await {
        panic!(
            "apply {} {}: {e}",
            object["kind"], object["metadata"]["name"]
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_server_refuses_bad_objects_with_a_clear_message() {
    let (client, ns) = support::control_plane().test_namespace("bad-api").await;
    let table = refusals::refusals();
    let mut wrong = Vec::new();
    for case in &table {
        if let Some(before) = &case.before {
            must_apply(&client, &ns, before).await;
        }
        match apply(&client, &ns, &case.object, ValidationDirective::Strict).await {
            Ok(()) => wrong.push(format!("{}: accepted", case.name)),
            Err(kube::Error::Api(status)) if status.message.contains(case.message) => {}
            Err(e) => wrong.push(format!(
                "{}: refused, but the message lacks {:?}: {e}",
                case.name, case.message
            )),
        }
    }
    // A CSV source far bigger than an object may be: Secrets and ConfigMaps stop at 1 MiB.
    let big: String = (0..90_000).map(|i| format!("139{i:08},\n")).collect();
    assert!(big.len() > 1 << 20);
    for kind in ["Secret", "ConfigMap"] {
        let field = if kind == "Secret" {
            "stringData"
        } else {
            "data"
        };
        let object = json!({"apiVersion": "v1", "kind": kind, "metadata": {"name": "huge-csv"},
                            field: {"contacts.csv": format!("phone,name\n{big}")}});
        match apply(&client, &ns, &object, ValidationDirective::Strict).await {
            Err(kube::Error::Api(s))
                if s.message
                    .contains("Too long: may not be more than 1048576 bytes") => {}
            other => wrong.push(format!("{kind} of 1.1 MiB: {other:?}")),
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} refusal cases went wrong:\n{}",
        wrong.len(),
        table.len() + 2,
        wrong.join("\n")
    );

    // Without Strict the CRD prunes what it does not know: a `namespace` on a reference cannot
    // reach the controller, so a reference across namespaces is impossible to express.
    let sloppy = refusals::call_task(
        "pruned",
        json!({"providerRef": {"name": "acct", "namespace": "other"}, "taskId": "t-9",
               "contactLists": {"names": ["l"]}, "priority": "high"}),
    );
    create_unvalidated::<CallTask>(&client, &ns, &sloppy).await;
    let stored = Api::<CallTask>::namespaced(client.clone(), &ns)
        .get("pruned")
        .await
        .expect("get");
    let spec = serde_json::to_value(&stored.spec).expect("json");
    assert_eq!(spec["providerRef"], json!({"name": "acct"}), "{spec}");
    let raw = Api::<kube::core::DynamicObject>::namespaced_with(
        client.clone(),
        &ns,
        &kube::discovery::ApiResource::erase::<CallTask>(&()),
    )
    .get("pruned")
    .await
    .expect("get raw");
    assert!(raw.data["spec"].get("priority").is_none(), "{:?}", raw.data);
    let list = refusals::contact_list(
        "pruned",
        json!({"defaultRegion": "CN", "contacts": [{"phone": "13900000001", "mobile": "x"}]}),
    );
    create_unvalidated::<ContactList>(&client, &ns, &list).await;
    let raw = Api::<kube::core::DynamicObject>::namespaced_with(
        client.clone(),
        &ns,
        &kube::discovery::ApiResource::erase::<ContactList>(&()),
    )
    .get("pruned")
    .await
    .expect("get raw");
    assert_eq!(
        raw.data["spec"]["contacts"][0],
        json!({"phone": "13900000001"}),
        "the unknown contact field is pruned"
    );
    eprintln!(
        "bad input: {} API server refusals checked, 3 prunings",
        table.len() + 2
    );
}

/// A plain create (POST) without `fieldValidation`, as an old client or `kubectl create
/// --validate=false` sends it: the API server prunes unknown fields instead of refusing.
async fn create_unvalidated<K>(client: &Client, ns: &str, object: &Value)
where
    K: kube::Resource<DynamicType = ()>,
{
    let resource = kube::discovery::ApiResource::erase::<K>(&());
    let api = Api::<kube::core::DynamicObject>::namespaced_with(client.clone(), ns, &resource);
    let object: kube::core::DynamicObject =
        serde_json::from_value(object.clone()).expect("dynamic object");
    api.create(&kube::api::PostParams::default(), &object)
        .await
        .expect("unknown fields are pruned, not refused, without Strict");
}

fn fixture(name: &str) -> Vec<u8> {
    let path = support::repo_root()
        .join("tests/fixtures/bad_input")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

async fn create_source(client: &Client, ns: &str, source: &cases::Source) {
    let bytes = fixture(source.fixture);
    let object = match source.store {
        cases::Store::Secret => json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": source.name, "labels": {"callsync.io/contacts": "true"}},
            "data": {source.key: b64(&bytes)}}),
        cases::Store::ConfigMap => json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": source.name},
            "data": {source.key: String::from_utf8(bytes).expect("a ConfigMap's data is UTF-8")}}),
        cases::Store::ConfigMapBinary => json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": source.name}, "binaryData": {source.key: b64(&bytes)}}),
    };
    must_apply(client, ns, &object).await;
}

/// The Ready condition of a task as (reason, message), when computed for its generation.
fn ready(task: &CallTask) -> Option<(String, String)> {
    let status = task.status.as_ref()?;
    if status.observed_generation != task.metadata.generation {
        return None;
    }
    find_condition(&status.conditions, ConditionType::Ready)
        .map(|c| (c.reason.clone(), c.message.clone()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_controller_reports_bad_input_clearly_and_syncs_the_valid_contacts() {
    let cp = support::control_plane();
    let (client, ns) = cp.test_namespace("bad-ctl").await;
    let (_, other) = cp.test_namespace("bad-other").await;
    let table_names: Vec<String> = cases::cases("http://x")
        .iter()
        .map(|c| c.task_id.clone())
        .collect();
    let tasks: Vec<TaskConfig> = table_names
        .iter()
        .filter(|t| *t != "no-such-remote-task")
        .map(TaskConfig::new)
        .collect();
    let simulator = sim::start(vec![
        sim::account(
            ProviderKind::Longlonglong,
            sim::LLL_USER,
            sim::LLL_TOKEN,
            tasks,
        ),
        sim::account(
            ProviderKind::Longlonglong,
            BOMB_USER,
            BOMB_TOKEN,
            vec![TaskConfig::new("t-provider-answer-bomb")],
        ),
    ])
    .await;
    let admin = sim::Admin::new(&simulator);
    admin
        .set_faults(
            "longlonglong",
            BOMB_USER,
            json!({"oversizedAnswer": {"bytes": 16u64 << 20, "gzip": true}}),
        )
        .await;
    let endpoint_holder = simulator.base_url();
    let endpoint = endpoint_holder.as_str();
    let table = cases::cases(endpoint);
    assert!(table.len() >= 30, "{} controller cases", table.len());

    // The good account, and what the other namespace holds.
    let good = |name: &str, secret: &str| {
        json!({"apiVersion": "callsync.io/v1alpha1", "kind": "CallProvider",
               "metadata": {"name": name},
               "spec": {"insecure": true, "longlonglong": {"endpoint": endpoint, "userId": sim::LLL_USER,
                                         "tokenSecretRef": {"name": secret, "key": "token"}},
                        "rateLimit": {"requestsPerSecond": 1000, "burst": 1000}}})
    };
    let creds = |name: &str| {
        json!({"apiVersion": "v1", "kind": "Secret", "stringData": {"token": sim::LLL_TOKEN},
               "metadata": {"name": name, "labels": {"callsync.io/credentials": "true"}}})
    };
    must_apply(&client, &ns, &creds("creds")).await;
    must_apply(&client, &ns, &good("acct", "creds")).await;
    must_apply(&client, &other, &creds("creds-other")).await;
    must_apply(&client, &other, &good("acct-other", "creds-other")).await;
    must_apply(
        &client,
        &other,
        &json!({"apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": "csv-other", "labels": {"callsync.io/contacts": "true"}},
                "stringData": {"contacts.csv": OTHER_CSV_SECRET}}),
    )
    .await;
    must_apply(
        &client,
        &other,
        &json!({"apiVersion": "callsync.io/v1alpha1", "kind": "ContactList",
                "metadata": {"name": "shared-other", "labels": {"shared": "yes"}},
                "spec": {"defaultRegion": "CN", "contacts": [{"phone": "13900000469"}]}}),
    )
    .await;
    // A list of the name a task in the test namespace names: names never cross namespaces.
    must_apply(
        &client,
        &other,
        &json!({"apiVersion": "callsync.io/v1alpha1", "kind": "ContactList",
                "metadata": {"name": "named-list-other-namespace"},
                "spec": {"defaultRegion": "CN", "contacts": [{"phone": "13900000467"}]}}),
    )
    .await;

    for case in &table {
        for object in &case.objects {
            must_apply(&client, &ns, object).await;
        }
        for source in &case.sources {
            create_source(&client, &ns, source).await;
        }
        for (name, spec) in &case.lists {
            let mut labels = json!({"case": case.name});
            if case.name == "lists-other-namespace" {
                labels["shared"] = json!("yes");
            }
            must_apply(
                &client,
                &ns,
                &json!({"apiVersion": "callsync.io/v1alpha1", "kind": "ContactList",
                        "metadata": {"name": name, "labels": labels}, "spec": spec}),
            )
            .await;
        }
        let selector = case
            .selector
            .clone()
            .unwrap_or_else(|| json!({"matchLabels": {"case": case.name}}));
        let mut contact_lists = json!({"selector": selector});
        if let Some(names) = &case.names {
            contact_lists["names"] = names.clone();
        }
        must_apply(
            &client,
            &ns,
            &json!({"apiVersion": "callsync.io/v1alpha1", "kind": "CallTask",
                    "metadata": {"name": case.name},
                    "spec": {"providerRef": {"name": case.provider}, "taskId": case.task_id,
                             "contactLists": contact_lists,
                             "policy": {"maxDeletePercent": 100}, "resyncInterval": "10m"}}),
        )
        .await;
    }

    let log = cp.dir.join(format!("{ns}-bad-input.log"));
    let watch = format!("{ns},{other}");
    let mut process = ControllerProcess::spawn(
        support::BIN,
        &cp.kubeconfig,
        log,
        &[
            "--watch-namespaces",
            &watch,
            "--listen-addr",
            "127.0.0.1:0",
            "--concurrency",
            "8",
        ],
        &[("RUST_LOG", "info,callsync=debug")],
    );

    // Every task reaches its expected Ready reason.
    let tasks_api: Api<CallTask> = Api::namespaced(client.clone(), &ns);
    let started = Instant::now();
    let mut last: Vec<(String, Option<(String, String)>)>;
    loop {
        let all = tasks_api.list(&ListParams::default()).await.expect("tasks");
        last = table
            .iter()
            .map(|c| {
                let task = all.items.iter().find(|t| t.name_any() == c.name);
                (c.name.to_string(), task.and_then(ready))
            })
            .collect();
        let pending: Vec<_> = table
            .iter()
            .zip(&last)
            .filter(|(c, (_, r))| r.as_ref().map(|(reason, _)| reason.as_str()) != Some(c.reason))
            .collect();
        if pending.is_empty() {
            break;
        }
        if started.elapsed() > Duration::from_secs(120) || !process.running() {
            let lines: Vec<String> = pending
                .iter()
                .map(|(c, (_, r))| format!("{}: want {}, have {r:?}", c.name, c.reason))
                .collect();
            let text = process.log_text();
            let tail: Vec<&str> = text.lines().rev().take(30).collect();
            panic!(
                "{} cases did not reach their reason (controller running: {}):\n{}\nlog tail:\n{}",
                lines.len(),
                process.running(),
                lines.join("\n"),
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    eprintln!(
        "bad input: {} controller cases settled in {:.1}s",
        table.len(),
        started.elapsed().as_secs_f64()
    );

    let lists_api: Api<ContactList> = Api::namespaced(client.clone(), &ns);
    let events_api: Api<Event> = Api::namespaced(client.clone(), &ns);
    let mut wrong = Vec::new();
    for (case, (_, got)) in table.iter().zip(&last) {
        let (_, message) = got.clone().expect("settled");
        for part in &case.message {
            if !message.contains(part) {
                wrong.push(format!(
                    "{}: Ready message {message:?} lacks {part:?}",
                    case.name
                ));
            }
        }
        for expect in &case.lists_expect {
            let list = lists_api.get(&expect.list).await.expect("list");
            let Some(status) = list.status else {
                wrong.push(format!("{}: no status", expect.list));
                continue;
            };
            if (status.invalid, status.duplicates) != (expect.invalid, expect.duplicates) {
                wrong.push(format!(
                    "{}: invalid/duplicates {}/{}, want {}/{}",
                    expect.list,
                    status.invalid,
                    status.duplicates,
                    expect.invalid,
                    expect.duplicates
                ));
            }
            for (index, reason) in &expect.sample {
                let entry = status.invalid_sample.iter().find(|e| e.index == *index);
                if !entry.is_some_and(|e| e.reason.contains(reason)) {
                    wrong.push(format!(
                        "{}: invalid entry {index} should say {reason:?}: {entry:?}",
                        expect.list
                    ));
                }
            }
            let cond = find_condition(&status.conditions, ConditionType::Ready);
            let (want_status, want_reason, want_message) = expect.ready;
            let ok = cond.is_some_and(|c| {
                format!("{:?}", c.status) == want_status
                    && c.reason == want_reason
                    && c.message.contains(want_message)
            });
            if !ok {
                wrong.push(format!(
                    "{}: Ready should be {want_status}/{want_reason}/{want_message:?}: {cond:?}",
                    expect.list
                ));
            }
        }
        if !case.failures.is_empty() {
            let task = tasks_api.get(case.name).await.expect("task");
            let failures = task.status.map(|s| s.failures).unwrap_or_default();
            for reason in &case.failures {
                if !failures.iter().any(|f| f.reason.contains(reason)) {
                    wrong.push(format!(
                        "{}: no failure {reason:?}: {failures:?}",
                        case.name
                    ));
                }
            }
        }
        if let Some(want) = &case.synced {
            let held: BTreeSet<String> = admin
                .phones("longlonglong", sim::LLL_USER, &case.task_id)
                .await
                .into_iter()
                .collect();
            let want: BTreeSet<String> = want.iter().map(|p| p.to_string()).collect();
            if held != want {
                wrong.push(format!(
                    "{}: the provider holds {} contacts, want {} (missing {}, extra {})",
                    case.name,
                    held.len(),
                    want.len(),
                    want.difference(&held).count(),
                    held.difference(&want).count()
                ));
            }
        }
        if let Some((reason, note)) = case.event {
            let deadline = Instant::now() + Duration::from_secs(15);
            loop {
                let events = events_api
                    .list(&ListParams::default())
                    .await
                    .expect("events");
                let found = events.items.iter().any(|e| {
                    e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(case.name)
                        && e.reason.as_deref() == Some(reason)
                        && e.note.as_deref().is_some_and(|n| n.contains(note))
                });
                if found {
                    break;
                }
                if Instant::now() > deadline {
                    let notes: Vec<_> = events
                        .items
                        .iter()
                        .filter(|e| e.reason.as_deref() == Some(reason))
                        .map(|e| e.note.clone())
                        .collect();
                    wrong.push(format!(
                        "{}: no {reason} Event with {note:?}: {notes:?}",
                        case.name
                    ));
                    break;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
    // Nothing of the other namespace reached this namespace's tasks, and no task wrote there.
    let everything: BTreeSet<String> = {
        let mut all = BTreeSet::new();
        for t in table_names.iter().filter(|t| *t != "no-such-remote-task") {
            all.extend(admin.phones("longlonglong", sim::LLL_USER, t).await);
        }
        all
    };
    for phone in ["13900000469", "13900000468", "13900000467"] {
        if everything.contains(phone) {
            wrong.push(format!(
                "a contact of the other namespace ({}) reached the provider",
                &phone[..3]
            ));
        }
    }
    assert!(
        process.running(),
        "the controller process ended:\n{}",
        process.log_text()
    );
    let text = process.log_text();
    assert!(
        !text.contains("panicked"),
        "the controller panicked:\n{text}"
    );
    assert!(
        wrong.is_empty(),
        "{} checks of {} controller cases went wrong:\n{}",
        wrong.len(),
        table.len(),
        wrong.join("\n")
    );
    eprintln!("bad input: {} controller cases checked", table.len());
}

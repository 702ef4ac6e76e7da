//! Scale across tasks: `SCALE_TASKS` CallTasks (default 10) of `SCALE_TASK_CONTACTS` contacts
//! each (default 1,000,000) synced to Callbot by `callsync controller` processes against the
//! real kube-apiserver and the simulator — first by one controller, then, onto fresh provider
//! tasks, by two shards (`--shard a`, `--shard b`, the tasks labelled alternately). Each round
//! checks that every provider task holds exactly its task's contacts once, and prints time to
//! InSync, controller CPU and peak RSS, which BENCHMARKS.md records.
//!
//! The lists are CSV in ConfigMaps, 50,000 contacts each (`SCALE_TASK_SOURCE=configmap`, the
//! default), or inline, 5,000 each (`SCALE_TASK_SOURCE=inline`): 10M contacts held inline in
//! 2,000 ContactLists outgrew a 24 GiB machine in kube-apiserver alone (BENCHMARKS.md, "Many
//! CallTasks"). Ignored, for its size:
//!
//! `SCALE_TASKS=10 SCALE_TASK_CONTACTS=1000000 cargo test --release --locked --all-features --test scale_tasks -- --ignored --nocapture`
mod support;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use callsync::api::{CallTask, ConditionType, find_condition};
use callsync::simulator::ProviderKind;
use futures::StreamExt;
use kube::api::ListParams;
use serde_json::{Value, json};
use support::env::Env;
use support::measure::{cpu_seconds, national, phase_peak_mib};
use support::process::ControllerProcess;

/// The CRD's maximum contacts inline in a ContactList.
const PER_INLINE_LIST: usize = 5_000;

/// Contacts of a CSV ConfigMap: 12 bytes a line, 600 KB, under the 1 MiB a source may hold.
const PER_CSV_LIST: usize = 50_000;

/// Where a ContactList's contacts are.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Source {
    Inline,
    ConfigMap,
}

impl Source {
    fn from_env() -> Self {
        match std::env::var("SCALE_TASK_SOURCE").as_deref() {
            Err(_) | Ok("configmap") => Self::ConfigMap,
            Ok("inline") => Self::Inline,
            Ok(other) => panic!("SCALE_TASK_SOURCE={other}: expected configmap or inline"),
        }
    }

    fn per_list(self) -> usize {
        match self {
            Self::Inline => PER_INLINE_LIST,
            Self::ConfigMap => PER_CSV_LIST,
        }
    }
}

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// ContactList `l` of task `t`, selected by the label `campaign: t<t>` (the tasks share their
/// numbers: each is its own provider task), after the ConfigMap it reads if any.
fn list_objects(t: usize, l: usize, contacts: usize, source: Source) -> Vec<Value> {
    let name = format!("t{t}-list-{l:03}");
    let metadata = json!({"name": name, "labels": {"campaign": format!("t{t}")}});
    let list = |spec: Value| {
        json!({"apiVersion": "callsync.io/v1alpha1", "kind": "ContactList",
               "metadata": metadata, "spec": spec})
    };
    match source {
        Source::Inline => {
            let contacts: Vec<Value> = (0..contacts)
                .map(|i| json!({"phone": national(l, i)}))
                .collect();
            vec![list(json!({"defaultRegion": "CN", "contacts": contacts}))]
        }
        Source::ConfigMap => {
            let mut csv = String::with_capacity(6 + contacts * 12);
            csv.push_str("phone\n");
            for i in 0..contacts {
                csv.push_str(&national(l, i));
                csv.push('\n');
            }
            vec![
                json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name},
                       "data": {"contacts.csv": csv}}),
                list(json!({"defaultRegion": "CN",
                            "source": {"configMapRef": {"name": name, "key": "contacts.csv"}}})),
            ]
        }
    }
}

/// CallTask `id` on the provider task of the same id, fed by task `t`'s lists, in `shard` if
/// given.
fn task_object(id: &str, t: usize, shard: Option<&str>) -> Value {
    let labels = shard.map_or(json!({}), |key| json!({"callsync.io/shard": key}));
    json!({"apiVersion": "callsync.io/v1alpha1", "kind": "CallTask",
        "metadata": {"name": id, "labels": labels},
        "spec": {"providerRef": {"name": "acct"}, "taskId": id,
                 "contactLists": {"selector": {"matchLabels": {"campaign": format!("t{t}")}}},
                 "resyncInterval": "1h"}})
}

/// A controller process with `extra` arguments on a free metrics port, once it is ready (so that
/// a round's time and CPU are its sync's).
async fn controller(env: &Env, name: &str, extra: &[&str]) -> ControllerProcess {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let listen = format!("127.0.0.1:{port}");
    let mut args = vec![
        "--watch-namespaces",
        &env.ns,
        "--listen-addr",
        &listen,
        "--progress-seconds",
        "30",
    ];
    args.extend_from_slice(extra);
    let process = ControllerProcess::spawn(
        support::BIN,
        &env.cp.kubeconfig,
        env.log_path(name),
        &args,
        &[("RUST_LOG", "info")],
    );
    assert!(
        support::process::wait_ready(&listen, Duration::from_secs(60)).await,
        "controller {name} never became ready:\n{}",
        process.log_text()
    );
    process
}

fn in_sync(task: &CallTask) -> bool {
    let status = task.status.as_ref();
    status.and_then(|s| s.observed_generation) == task.metadata.generation
        && status
            .and_then(|s| find_condition(&s.conditions, ConditionType::Ready))
            .is_some_and(|c| c.reason == "InSync")
}

/// Waits until every CallTask named in `names` is InSync; panics with the controllers' log
/// tails after `within`.
async fn wait_all_in_sync(
    env: &Env,
    names: &[String],
    within: Duration,
    controllers: &[&ControllerProcess],
) {
    let deadline = Instant::now() + within;
    loop {
        let tasks = env
            .tasks()
            .list(&ListParams::default())
            .await
            .expect("list CallTasks");
        let done = tasks
            .items
            .iter()
            .filter(|t| names.contains(t.metadata.name.as_ref().expect("name")) && in_sync(t))
            .count();
        if done == names.len() {
            return;
        }
        if Instant::now() > deadline {
            let tails: Vec<String> = controllers.iter().map(|c| c.log_tail(20)).collect();
            panic!(
                "{done} of {} CallTasks InSync within {within:?}; log tails:\n{}",
                names.len(),
                tails.join("\n---\n")
            );
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Each provider task holds exactly its task's contacts, once each.
fn assert_held(env: &Env, task_ids: &[String], lists: usize, per_list: usize) {
    for id in task_ids {
        let held = env
            .simulator
            .contacts(ProviderKind::Callbot, support::sim::CB_UUID, id);
        assert_eq!(
            held.len(),
            lists * per_list,
            "{id}: no duplicate, none missing"
        );
        let phones: HashSet<&str> = held.iter().map(|c| c.phone.as_str()).collect();
        assert_eq!(phones.len(), held.len(), "{id}: each phone once");
        // As many distinct phones as desired, each of them desired: exactly the desired set.
        for phone in phones {
            let desired = phone
                .strip_prefix("8613")
                .filter(|rest| rest.len() == 9)
                .and_then(|rest| Some((rest[..3].parse().ok()?, rest[3..].parse().ok()?)))
                .is_some_and(|(l, i): (usize, usize)| l < lists && i < per_list);
            assert!(desired, "{id}: a phone no list holds");
        }
    }
}

/// Empties the simulator's copy of the first round's provider tasks, which nothing looks at
/// again: at 10M it would sit in this process beside the second round's.
fn forget_provider_tasks(env: &Env, task_ids: &[String]) {
    let key = (ProviderKind::Callbot, support::sim::CB_UUID.to_owned());
    let mut inner = env.simulator.state().lock();
    for id in task_ids {
        let task = inner.task_mut(&key, id).expect("a first-round task");
        task.contacts = Default::default();
        task.by_phone = Default::default();
        task.by_remote_id = Default::default();
    }
}

/// One round's figures, per controller process: CPU and peak RSS.
fn report(round: &str, elapsed: Duration, processes: &[(&str, &ControllerProcess)]) -> String {
    let mut lines = vec![format!(
        "{round}: all tasks InSync after {:.1} s",
        elapsed.as_secs_f64()
    )];
    for (name, process) in processes {
        let pid = process.pid().expect("controller running");
        lines.push(format!(
            "{round}: controller {name}: CPU (user+system) {:.1} s, peak RSS {:.0} MiB",
            cpu_seconds(pid),
            phase_peak_mib(pid)
        ));
    }
    lines.join("\n")
}

#[tokio::test]
#[ignore = "many tasks at scale: SCALE_TASKS=10 SCALE_TASK_CONTACTS=1000000 cargo test --release --test scale_tasks -- --ignored --nocapture"]
async fn many_tasks_on_one_controller_and_on_two_shards() {
    let tasks = setting("SCALE_TASKS", 10);
    let per_task = setting("SCALE_TASK_CONTACTS", 1_000_000);
    let source = Source::from_env();
    let per_list = per_task.min(source.per_list());
    assert!(
        tasks >= 2 && per_task.is_multiple_of(per_list),
        "at least 2 tasks; contacts come in lists of {}",
        source.per_list()
    );
    let lists = per_task / per_list;
    // Provider task ids, each also the name of the CallTask that syncs it.
    let one_ids: Vec<String> = (0..tasks).map(|t| format!("one-{t}")).collect();
    let shard_ids: Vec<String> = (0..tasks).map(|t| format!("shard-{t}")).collect();
    let all_ids: Vec<&str> = one_ids
        .iter()
        .chain(&shard_ids)
        .map(String::as_str)
        .collect();
    let env = Env::builder("scale-tasks")
        .provider(ProviderKind::Callbot, &all_ids)
        .start()
        .await;
    // A limit far above what the controllers reach: this measures the controllers.
    env.provider(
        ProviderKind::Callbot,
        "acct",
        "creds",
        json!({"rateLimit": {"requestsPerSecond": 5000, "burst": 5000}}),
    )
    .await;
    let started = Instant::now();
    // Four applies at a time; the returned objects are dropped at once (10M contacts of
    // them would be gigabytes in this process).
    let objects = (0..tasks).flat_map(|t| (0..lists).map(move |l| (t, l)));
    futures::stream::iter(objects)
        .for_each_concurrent(4, |(t, l)| {
            let env = &env;
            async move {
                for object in list_objects(t, l, per_list, source) {
                    env.apply(object).await;
                }
            }
        })
        .await;
    eprintln!(
        "scale tasks: {tasks} tasks × {per_task} contacts ({lists} lists each) applied in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    let within = Duration::from_secs(300 + (tasks * per_task / 100) as u64);

    // One controller for every task.
    let one = controller(&env, "controller-one", &[]).await;
    let started = Instant::now();
    for (t, id) in one_ids.iter().enumerate() {
        env.apply(task_object(id, t, None)).await;
    }
    wait_all_in_sync(&env, &one_ids, within, &[&one]).await;
    let figures = report("one controller", started.elapsed(), &[("one", &one)]);
    eprintln!("{figures}");
    assert_held(&env, &one_ids, lists, per_list);
    drop(one);
    forget_provider_tasks(&env, &one_ids);

    // Two shards, half the tasks each, onto fresh provider tasks. The first round's CallTasks
    // have no shard label: neither shard takes them.
    let a = controller(&env, "controller-shard-a", &["--shard", "a"]).await;
    let b = controller(&env, "controller-shard-b", &["--shard", "b"]).await;
    let started = Instant::now();
    for (t, id) in shard_ids.iter().enumerate() {
        let key = if t % 2 == 0 { "a" } else { "b" };
        env.apply(task_object(id, t, Some(key))).await;
    }
    wait_all_in_sync(&env, &shard_ids, within, &[&a, &b]).await;
    let figures = report("two shards", started.elapsed(), &[("a", &a), ("b", &b)]);
    eprintln!("{figures}");
    assert_held(&env, &shard_ids, lists, per_list);
    for id in &one_ids {
        let task = env.tasks().get(id).await.expect("first round's task");
        assert!(in_sync(&task), "{id}: left as the first round left it");
    }
}

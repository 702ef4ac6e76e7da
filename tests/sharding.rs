//! Sharding on a real kube-apiserver: two controllers in process, one for the CallTasks
//! labelled `callsync.io/shard: a`, one (the default shard) for the unlabelled ones. Each acts
//! only on its own tasks (the Events of a task name the controller that wrote them), and a
//! task relabelled to the other shard is taken over: its next change is synced by the new
//! shard, once — the provider holds every phone once.
mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use callsync::api::{CallTask, ConditionType, find_condition};
use callsync::controller::shard::{ShardKey, TaskScope};
use callsync::simulator::ProviderKind;
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;
use support::env::{Env, InProcessController};
use support::provider::ProviderFixture;

const KIND: ProviderKind = ProviderKind::Callbot;

fn phones(from: u32, count: u32) -> Vec<String> {
    (from..from + count).map(|i| format!("138{i:08}")).collect()
}

async fn list(env: &Env, name: &str, campaign: &str, phones: &[String]) {
    let contacts: Vec<_> = phones.iter().map(|p| json!({"phone": p})).collect();
    env.apply(
        json!({"apiVersion": "callsync.io/v1alpha1", "kind": "ContactList",
        "metadata": {"name": name, "labels": {"campaign": campaign}},
        "spec": {"defaultRegion": "CN", "contacts": contacts}}),
    )
    .await;
}

async fn task(env: &Env, name: &str, shard: Option<&str>) {
    let labels = match shard {
        Some(key) => json!({"callsync.io/shard": key}),
        None => json!({}),
    };
    env.apply(
        json!({"apiVersion": "callsync.io/v1alpha1", "kind": "CallTask",
        "metadata": {"name": name, "labels": labels},
        "spec": {"providerRef": {"name": "acct"}, "taskId": name,
                 "contactLists": {"selector": {"matchLabels": {"campaign": name}}},
                 "resyncInterval": "1h"}}),
    )
    .await;
}

/// Waits until `name` is InSync for its generation and the provider's task holds `want`.
async fn wait_synced(env: &Env, name: &str, want: &[String]) {
    let wanted: BTreeSet<String> = want.iter().map(|p| KIND.wire(p)).collect();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let task = env.tasks().get(name).await.expect("get CallTask");
        let in_sync = task.status.as_ref().is_some_and(|s| {
            s.observed_generation == task.metadata.generation
                && find_condition(&s.conditions, ConditionType::Ready)
                    .is_some_and(|c| c.reason == "InSync")
        });
        let held = env.admin.phones(KIND.as_str(), KIND.account(), name).await;
        let held_set: BTreeSet<String> = held.iter().cloned().collect();
        assert_eq!(
            held.len(),
            held_set.len(),
            "a phone added twice to {name}: {held:?}"
        );
        if in_sync && held_set == wanted {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{name} not in sync within 60 s: holds {held_set:?}, status {:#?}",
            task.status
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The controllers (`reportingInstance`) that published `reason` Events about `task`.
async fn reporters(env: &Env, task: &str, reason: &str) -> Vec<String> {
    let events: Api<Event> = Api::namespaced(env.client.clone(), &env.ns);
    let mut found: Vec<String> = events
        .list(&Default::default())
        .await
        .expect("list Events")
        .items
        .into_iter()
        .filter(|e| e.reason.as_deref() == Some(reason))
        .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(task))
        .map(|e| e.reporting_instance.unwrap_or_default())
        .collect();
    found.sort();
    found.dedup();
    found
}

fn controller(env: &Env, instance: &str, tasks: TaskScope) -> InProcessController {
    let mut config = env.run_config(instance);
    config.tasks = tasks;
    InProcessController::start(&env.client, config)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_shards_act_only_on_their_own_tasks_and_a_relabelled_task_is_handed_over() {
    let env = Env::builder("shard")
        .provider(KIND, &["task-a", "task-d"])
        .start()
        .await;
    env.provider(
        KIND,
        "acct",
        "creds",
        json!({"rateLimit": {"requestsPerSecond": 1000, "burst": 1000}}),
    )
    .await;
    let (for_a, for_d) = (phones(1, 3), phones(100, 3));
    list(&env, "list-a", "task-a", &for_a).await;
    list(&env, "list-d", "task-d", &for_d).await;
    task(&env, "task-a", Some("a")).await;
    task(&env, "task-d", None).await;

    // Shard a alone: its task syncs, the unlabelled one is not touched.
    let key = ShardKey::parse("a").expect("shard key");
    let shard_a = controller(&env, "shard-a", TaskScope::Shard(key));
    wait_synced(&env, "task-a", &for_a).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let untouched = env.tasks().get("task-d").await.expect("task-d");
    assert!(
        untouched.status.is_none(),
        "shard a reconciled an unlabelled task"
    );
    assert!(
        env.admin
            .phones(KIND.as_str(), KIND.account(), "task-d")
            .await
            .is_empty()
    );

    let default = controller(&env, "shard-default", TaskScope::Unlabelled);
    wait_synced(&env, "task-d", &for_d).await;
    assert_eq!(reporters(&env, "task-a", "Synced").await, ["shard-a"]);
    assert_eq!(reporters(&env, "task-d", "Synced").await, ["shard-default"]);

    // Relabel task-d to shard a, then change its list: shard a syncs the change.
    let tasks: Api<CallTask> = env.tasks();
    tasks
        .patch(
            "task-d",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"callsync.io/shard": "a"}}})),
        )
        .await
        .expect("relabel");
    let events: Api<Event> = Api::namespaced(env.client.clone(), &env.ns);
    let before = events
        .list(&Default::default())
        .await
        .expect("Events")
        .items
        .len();
    let mut more = for_d.clone();
    more.extend(phones(200, 2));
    list(&env, "list-d", "task-d", &more).await;
    wait_synced(&env, "task-d", &more).await;
    let after: Vec<Event> = events
        .list(&Default::default())
        .await
        .expect("Events")
        .items;
    assert!(after.len() > before, "the change was synced and reported");
    let synced_after: Vec<String> = after
        .iter()
        .filter(|e| e.reason.as_deref() == Some("Synced"))
        .filter(|e| e.note.as_deref() == Some("added 2, removed 0"))
        .map(|e| e.reporting_instance.clone().unwrap_or_default())
        .collect();
    assert_eq!(
        synced_after,
        ["shard-a"],
        "the new shard synced the change, once"
    );
    // The provider holds each phone of both tasks once (checked by every wait above), and
    // task-a never moved.
    wait_synced(&env, "task-a", &for_a).await;

    // The default shard let the task go: with shard a stopped, a change waits for it.
    shard_a.stop().await;
    list(&env, "list-d", "task-d", &for_d).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let held: BTreeSet<String> = env
        .admin
        .phones(KIND.as_str(), KIND.account(), "task-d")
        .await
        .into_iter()
        .collect();
    let before_change: BTreeSet<String> = more.iter().map(|p| KIND.wire(p)).collect();
    assert_eq!(
        held, before_change,
        "the default shard acted on a task of shard a"
    );
    let shard_a = controller(
        &env,
        "shard-a-again",
        TaskScope::Shard(ShardKey::parse("a").expect("key")),
    );
    wait_synced(&env, "task-d", &for_d).await;

    shard_a.stop().await;
    default.stop().await;
}

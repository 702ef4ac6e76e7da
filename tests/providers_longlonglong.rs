//! The longlonglong client against the in-process simulator, over real HTTP.
mod providers_support;

use std::sync::Arc;

use callsync::api::{AddMode, LonglonglongTaskOptions};
use callsync::providers::{
    ContactToAdd, ContactToRemove, ErrorClass, ItemResult, Provider, ProviderError, RateLimiters,
    RejectReason, RemoteState, TaskRef,
};
use callsync::simulator::{ProviderKind, TaskConfig, TaskGeneration, TaskState};
use providers_support::*;
use serde_json::json;

fn tasks() -> Vec<TaskConfig> {
    vec![
        TaskConfig {
            id: "t1".into(),
            state: TaskState::Running,
            ..TaskConfig::default()
        },
        TaskConfig {
            id: "t2".into(),
            generation: TaskGeneration::V2,
            state: TaskState::Running,
            ..TaskConfig::default()
        },
        TaskConfig {
            id: "t3".into(),
            generation: TaskGeneration::V2,
            state: TaskState::Paused,
            ..TaskConfig::default()
        },
    ]
}

async fn sim() -> callsync::simulator::RunningSimulator {
    start(vec![account(
        ProviderKind::Longlonglong,
        LLL_USER,
        LLL_TOKEN,
        tasks(),
    )])
    .await
}

fn options(mode: AddMode, pause: bool) -> LonglonglongTaskOptions {
    LonglonglongTaskOptions {
        ignore_crm: true,
        add_mode: mode,
        pause_task_during_sync: pause,
    }
}

/// National mobile numbers 130xxxxxxxx.
fn numbers(start: usize, n: usize) -> Vec<ContactToAdd> {
    contacts("130", 8, start, n, "unused")
}

fn removals(batch: &[ContactToAdd]) -> Vec<ContactToRemove> {
    batch
        .iter()
        .map(|c| ContactToRemove {
            phone: c.phone.clone(),
            remote_id: None,
        })
        .collect()
}

#[tokio::test]
async fn sync_add_list_remove_round_trip_with_batch_splitting() {
    bounded(async {
        let sim = sim().await;
        let admin = Admin::new(&sim);
        let spec = with_batch(lll_spec(&sim), None, Some(50));
        let client = build(
            &spec,
            Some(&options(AddMode::Sync, false)),
            lll_creds(LLL_TOKEN),
            &RateLimiters::new(),
            &key("lll"),
        );
        let caps = client.capabilities();
        assert_eq!(
            (caps.max_add, caps.max_remove, caps.can_list),
            (100, 50, true)
        );
        let task = TaskRef::new("t1");

        let batch = numbers(0, 250);
        let outcome = client.add(&task, &batch).await.expect("add");
        assert_eq!(outcome.accepted(), 250, "{outcome:?}");
        assert_eq!(outcome.items.len(), 250);
        // 100 + 100 + 50: the lower bound of requests
        assert_eq!(admin.calls("/task/{task_id}/number").await, 3);

        let listed = client.list(&task).await.expect("list").expect("can list");
        assert_eq!(listed.len(), 250);
        assert!(
            listed
                .iter()
                .all(|c| c.state == RemoteState::Pending && c.removable)
        );
        // 100 per page: 3 pages, plus the 3 adds on the same route key
        assert_eq!(admin.calls("/task/{task_id}/number").await, 6);

        let outcome = client
            .remove(&task, &removals(&batch[..120]))
            .await
            .expect("remove");
        assert_eq!(outcome.accepted(), 120);
        assert_eq!(admin.calls("/number-batch-delete").await, 3);
        let phones = admin.phones("longlonglong", LLL_USER, "t1").await;
        assert_eq!(phones.len(), 130);
        assert!(!phones.contains(&batch[0].phone));
        assert!(phones.contains(&batch[249].phone));
    })
    .await;
}

#[tokio::test]
async fn per_item_rejections_invalid_and_duplicate() {
    bounded(async {
        let sim = sim().await;
        let client = build(
            &lll_spec(&sim),
            Some(&options(AddMode::Sync, false)),
            lll_creds(LLL_TOKEN),
            &RateLimiters::new(),
            &key("lll"),
        );
        let task = TaskRef::new("t1");
        let first = numbers(0, 1);
        client.add(&task, &first).await.expect("add");
        let mut batch = numbers(1, 2);
        batch.push(ContactToAdd {
            phone: "8613012121211".into(), // international digits: not national
            ..ContactToAdd::default()
        });
        batch.push(first[0].clone()); // already in the task
        batch.push(batch[0].clone()); // twice in this batch
        let outcome = client.add(&task, &batch).await.expect("add");
        let rejected = |reason| ItemResult::Rejected { reason };
        assert_eq!(outcome.result(0), Some(&ItemResult::Accepted));
        assert_eq!(outcome.result(1), Some(&ItemResult::Accepted));
        assert_eq!(
            outcome.result(2),
            Some(&rejected(RejectReason::InvalidNumber))
        );
        assert_eq!(outcome.result(3), Some(&rejected(RejectReason::Duplicate)));
        assert_eq!(outcome.result(4), Some(&rejected(RejectReason::Duplicate)));
        let admin = Admin::new(&sim);
        assert_eq!(admin.phones("longlonglong", LLL_USER, "t1").await.len(), 3);
    })
    .await;
}

#[tokio::test]
async fn async_add_is_confirmed_through_identification() {
    bounded(async {
        let sim = sim().await;
        let admin = Admin::new(&sim);
        let client = build(
            &lll_spec(&sim),
            Some(&options(AddMode::Async, false)),
            lll_creds(LLL_TOKEN),
            &RateLimiters::new(),
            &key("lll"),
        );
        let caps = client.capabilities();
        assert!(caps.async_add);
        assert_eq!(caps.max_add, 200);
        let task = TaskRef::new("t1");
        let mut batch = numbers(0, 250);
        batch[7].phone = "12".into();
        let outcome = client.add(&task, &batch).await.expect("add");
        assert_eq!(outcome.accepted(), 249, "{outcome:?}");
        assert_eq!(
            outcome.result(7),
            Some(&ItemResult::Rejected {
                reason: RejectReason::InvalidNumber
            })
        );
        assert_eq!(admin.calls("/async_number").await, 2);
        assert!(admin.calls("/identification/{unique_id}").await >= 2);
        assert_eq!(
            admin.phones("longlonglong", LLL_USER, "t1").await.len(),
            249
        );
    })
    .await;
}

#[tokio::test]
async fn error_classes() {
    bounded(async {
        let sim = sim().await;
        let limiters = RateLimiters::new();
        let task = TaskRef::new("t1");
        let bad = build(
            &lll_spec(&sim),
            None,
            lll_creds("wrong"),
            &limiters,
            &key("lll"),
        );
        let err = bad.add(&task, &numbers(0, 1)).await.expect_err("bad token");
        assert!(
            matches!(err, ProviderError::CredentialsRejected { .. }),
            "{err}"
        );
        assert_eq!(err.class(), ErrorClass::Terminal);
        assert_eq!(err.reason(), "CredentialsRejected");
        assert!(bad.check_credentials().await.is_err());

        let good = build(
            &lll_spec(&sim),
            None,
            lll_creds(LLL_TOKEN),
            &limiters,
            &key("lll"),
        );
        good.check_credentials().await.expect("valid token");
        let err = good
            .list(&TaskRef::new("no-such-task"))
            .await
            .expect_err("unknown task");
        assert_eq!(err.reason(), "TaskNotFound");
        assert_eq!(err.class(), ErrorClass::Terminal);

        // the simulator is unreachable once shut down: retryable
        let endpoint_gone = lll_spec(&sim);
        sim.shutdown().await;
        let client = build(
            &endpoint_gone,
            None,
            lll_creds(LLL_TOKEN),
            &limiters,
            &key("lll"),
        );
        let err = client.list(&task).await.expect_err("no server");
        assert_eq!(err.class(), ErrorClass::Retryable, "{err}");
        assert_eq!(err.reason(), "ProviderUnreachable");
    })
    .await;
}

#[tokio::test]
async fn running_2_0_task_without_pause_is_task_running() {
    bounded(async {
        let sim = sim().await;
        let admin = Admin::new(&sim);
        let client = build(
            &lll_spec(&sim),
            Some(&options(AddMode::Sync, false)),
            lll_creds(LLL_TOKEN),
            &RateLimiters::new(),
            &key("lll"),
        );
        let task = TaskRef::new("t2");
        let err = client.add(&task, &numbers(0, 3)).await.expect_err("6007");
        assert!(matches!(err, ProviderError::TaskRunning { .. }), "{err}");
        assert_eq!(err.reason(), "TaskRunning");
        assert_eq!(err.class(), ErrorClass::Terminal);
        let text = err.to_string();
        assert!(text.contains("pause it or set"), "{text}");
        assert!(text.contains("pauseTaskDuringSync"), "{text}");
        assert!(
            admin
                .phones("longlonglong", LLL_USER, "t2")
                .await
                .is_empty()
        );
        assert_eq!(
            admin.task("longlonglong", LLL_USER, "t2").await["state"],
            "running"
        );
        // a paused 2.0 task takes changes without any pause
        let paused = TaskRef::new("t3");
        let outcome = client
            .add(&paused, &numbers(0, 3))
            .await
            .expect("paused task");
        assert_eq!(outcome.accepted(), 3);
        assert_eq!(admin.calls("/task_stop/{task_id}").await, 0);
    })
    .await;
}

#[tokio::test]
async fn running_2_0_task_with_pause_is_paused_changed_and_resumed() {
    bounded(async {
        let sim = sim().await;
        let admin = Admin::new(&sim);
        let client = build(
            &lll_spec(&sim),
            Some(&options(AddMode::Sync, true)),
            lll_creds(LLL_TOKEN),
            &RateLimiters::new(),
            &key("lll"),
        );
        let task = TaskRef::new("t2");
        let batch = numbers(0, 5);
        let outcome = client.add(&task, &batch).await.expect("add with pause");
        assert_eq!(outcome.accepted(), 5);
        assert!(outcome.alert.is_none());
        assert_eq!(
            admin.task("longlonglong", LLL_USER, "t2").await["state"],
            "running"
        );
        let outcome = client
            .remove(&task, &removals(&batch[..2]))
            .await
            .expect("remove with pause");
        assert_eq!(outcome.accepted(), 2);
        assert_eq!(
            admin.task("longlonglong", LLL_USER, "t2").await["state"],
            "running"
        );
        assert_eq!(admin.phones("longlonglong", LLL_USER, "t2").await.len(), 3);
        // order in the audit log: paused, 5 adds, running, paused, 2 removes, running
        let ops: Vec<String> = admin
            .audit()
            .await
            .iter()
            .filter(|e| e["task"] == "t2" && e["outcome"] == "applied")
            .map(|e| match e["operation"].as_str() {
                Some("task-status") => e["detail"].as_str().unwrap_or_default().to_owned(),
                other => other.unwrap_or_default().to_owned(),
            })
            .collect();
        assert_eq!(
            ops,
            [
                "paused", "add", "add", "add", "add", "add", "running", "paused", "remove",
                "remove", "running"
            ]
        );
    })
    .await;
}

#[tokio::test]
async fn pause_resume_survives_dropped_answers() {
    bounded(async {
        let sim = sim().await;
        let admin = Admin::new(&sim);
        admin
            .set_faults(
                "longlonglong",
                LLL_USER,
                json!({"dropAfterCommitRate": 0.5, "errorRate": 0.2}),
            )
            .await;
        let client = build(
            &lll_spec(&sim),
            Some(&options(AddMode::Sync, true)),
            lll_creds(LLL_TOKEN),
            &RateLimiters::new(),
            &key("lll"),
        );
        let task = TaskRef::new("t2");
        for round in 0..3 {
            let batch = numbers(round * 10, 10);
            let outcome = client.add(&task, &batch).await.expect("add");
            assert_eq!(outcome.accepted(), 10, "round {round}: {outcome:?}");
            assert_eq!(
                admin.task("longlonglong", LLL_USER, "t2").await["state"],
                "running"
            );
        }
        let phones = admin.phones("longlonglong", LLL_USER, "t2").await;
        assert_eq!(phones.len(), 30);
        assert!(no_duplicates(&phones));
    })
    .await;
}

#[tokio::test]
async fn retries_after_5xx_and_commit_then_drop_create_no_duplicates() {
    bounded(async {
        let sim = sim().await;
        let admin = Admin::new(&sim);
        admin
            .set_faults(
                "longlonglong",
                LLL_USER,
                json!({"errorRate": 0.3, "dropAfterCommitRate": 0.4}),
            )
            .await;
        let spec = with_batch(lll_spec(&sim), Some(10), Some(10));
        for mode in [AddMode::Sync, AddMode::Async] {
            let client = build(
                &spec,
                Some(&options(mode, false)),
                lll_creds(LLL_TOKEN),
                &RateLimiters::new(),
                &key("lll"),
            );
            let task = TaskRef::new(if mode == AddMode::Sync { "t1" } else { "t3" });
            let batch = numbers(0, 60);
            let outcome = client.add(&task, &batch).await.expect("add");
            assert_eq!(outcome.accepted(), 60, "{mode:?}: {outcome:?}");
            assert!(outcome.interrupted.is_none());
            let phones = admin.phones("longlonglong", LLL_USER, &task.id).await;
            assert_eq!(phones.len(), 60, "{mode:?}");
            assert!(no_duplicates(&phones));
            let outcome = client
                .remove(&task, &removals(&batch[..30]))
                .await
                .expect("remove");
            assert_eq!(outcome.accepted(), 30);
            assert_eq!(
                admin.phones("longlonglong", LLL_USER, &task.id).await.len(),
                30
            );
        }
        assert!(admin.counter_sum("injectedErrors").await > 0);
        assert!(admin.counter_sum("droppedAfterCommit").await > 0);
    })
    .await;
}

#[tokio::test]
async fn a_called_number_stays_and_lists_as_not_removable() {
    bounded(async {
        let sim = sim().await;
        let admin = Admin::new(&sim);
        let client = build(
            &lll_spec(&sim),
            None,
            lll_creds(LLL_TOKEN),
            &RateLimiters::new(),
            &key("lll"),
        );
        let task = TaskRef::new("t1");
        let batch = numbers(0, 3);
        client.add(&task, &batch).await.expect("add");
        admin
            .mark(
                "longlonglong",
                LLL_USER,
                "t1",
                json!({"phones": [batch[0].phone], "state": "finished"}),
            )
            .await;
        let listed = client.list(&task).await.expect("list").expect("some");
        let called = listed
            .iter()
            .find(|c| c.phone == batch[0].phone)
            .expect("listed");
        assert_eq!(called.state, RemoteState::Finished);
        assert!(!called.removable);
        client
            .remove(&task, &removals(&batch))
            .await
            .expect("remove");
        // longlonglong reports no per-number delete result; the list shows what stayed
        let after = client.list(&task).await.expect("list").expect("some");
        assert_eq!(after.len(), 1);
        assert_eq!(after[0].phone, batch[0].phone);
    })
    .await;
}

#[tokio::test]
async fn shared_rate_limit_is_never_exceeded() {
    bounded(async {
        let sim = sim().await;
        let admin = Admin::new(&sim);
        // the simulator enforces the same limit (two tokens of slack for arrival jitter on a
        // busy machine)
        admin
            .set_rate_limit(
                "longlonglong",
                LLL_USER,
                json!({"requestsPerSecond": 5.0, "burst": 4}),
            )
            .await;
        let mut spec = lll_spec(&sim);
        spec.rate_limit = Some(callsync::api::RateLimit {
            requests_per_second: 5,
            burst: 2,
        });
        let limiters = RateLimiters::new();
        let account = key("lll-limited");
        // six CallTasks on one account: six clients, one limiter
        let clients: Vec<_> = (0..6)
            .map(|_| {
                build(
                    &spec,
                    Some(&options(AddMode::Sync, false)),
                    lll_creds(LLL_TOKEN),
                    &limiters,
                    &account,
                )
            })
            .collect();
        assert_eq!(limiters.len(), 1);
        let task = Arc::new(TaskRef::new("t1"));
        let mut handles = Vec::new();
        for (n, client) in clients.into_iter().enumerate() {
            let task = task.clone();
            handles.push(tokio::spawn(async move {
                for i in 0..3 {
                    // one number per request: one audit row per request
                    let one = numbers(n * 10 + i, 1);
                    let outcome = client.add(&task, &one).await.expect("add");
                    assert_eq!(outcome.accepted(), 1);
                }
            }));
        }
        for handle in handles {
            handle.await.expect("task");
        }
        let times: Vec<i64> = admin
            .audit()
            .await
            .iter()
            .filter(|e| e["operation"] == "add" && e["outcome"] == "applied")
            .filter_map(|e| e["atMs"].as_i64())
            .collect();
        assert_eq!(times.len(), 18);
        // 18 requests at 5/s with burst 2: at least (18 - 2) / 5 = 3.2 s
        let span = times.iter().max().unwrap_or(&0) - times.iter().min().unwrap_or(&0);
        assert!(span >= 3000, "18 requests in {span} ms");
        assert_rate_bound(&times, 5.0, 2.0, 2.0);
        assert_eq!(admin.counter_sum("rateLimited").await, 0);
    })
    .await;
}

#[tokio::test]
async fn a_failed_resume_is_reported_loudly() {
    bounded(async {
        let sim = sim().await;
        let admin = Admin::new(&sim);
        // the provider lets exactly three requests through: the refused add (6007), the pause
        // and the add; the resume is rate limited for good
        admin
            .set_rate_limit(
                "longlonglong",
                LLL_USER,
                json!({"requestsPerSecond": 0.001, "burst": 3}),
            )
            .await;
        let mut settings = settings();
        settings.retry.max_attempts = 2;
        let client = build_with(
            &lll_spec(&sim),
            Some(&options(AddMode::Sync, true)),
            lll_creds(LLL_TOKEN),
            &RateLimiters::new(),
            &key("lll"),
            &settings,
        );
        let outcome = client
            .add(&TaskRef::new("t2"), &numbers(0, 2))
            .await
            .expect("add");
        assert_eq!(outcome.accepted(), 2, "the change went through");
        let alert = outcome.alert.expect("resume failure reported");
        assert!(
            matches!(alert, ProviderError::ResumeFailed { .. }),
            "{alert}"
        );
        assert_eq!(alert.reason(), "TaskLeftPaused");
        assert!(
            alert.to_string().contains("could NOT be resumed"),
            "{alert}"
        );
        assert_eq!(
            admin.task("longlonglong", LLL_USER, "t2").await["state"],
            "paused"
        );
    })
    .await;
}

#[tokio::test]
async fn a_change_cancelled_while_paused_still_resumes_the_task() {
    bounded(async {
        let sim = sim().await;
        let admin = Admin::new(&sim);
        admin
            .set_faults("longlonglong", LLL_USER, json!({"latencyMs": 300}))
            .await;
        let client = build(
            &lll_spec(&sim),
            Some(&options(AddMode::Sync, true)),
            lll_creds(LLL_TOKEN),
            &RateLimiters::new(),
            &key("lll"),
        );
        let task = TaskRef::new("t2");
        let batch = numbers(0, 2);
        // every provider answer takes 300 ms: cancel the change as soon as the task is paused,
        // while the add is still in flight
        {
            let change = client.add(&task, &batch);
            tokio::pin!(change);
            let paused = async {
                loop {
                    if admin.task("longlonglong", LLL_USER, "t2").await["state"] == "paused" {
                        break;
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                }
            };
            tokio::select! {
                result = &mut change => panic!("the change ended before it was cancelled: {result:?}"),
                () = paused => {}
            }
        } // the change is dropped here: cancelled
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let state = admin.task("longlonglong", LLL_USER, "t2").await["state"].clone();
            if state == "running" {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "task left {state}");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        // it was paused by the change and resumed by the guard
        let states: Vec<String> = admin
            .audit()
            .await
            .iter()
            .filter(|e| e["task"] == "t2" && e["operation"] == "task-status")
            .map(|e| e["detail"].as_str().unwrap_or_default().to_owned())
            .collect();
        assert_eq!(states, ["paused", "running"]);
    })
    .await;
}

#[tokio::test]
async fn requests_that_time_out_are_retried() {
    bounded(async {
        let sim = sim().await;
        let admin = Admin::new(&sim);
        admin
            .set_faults(
                "longlonglong",
                LLL_USER,
                json!({"timeoutRate": 0.4, "timeoutHoldMs": 3000}),
            )
            .await;
        let mut spec = with_batch(lll_spec(&sim), Some(5), None);
        spec.timeout_seconds = 1;
        let client = build(
            &spec,
            Some(&options(AddMode::Sync, false)),
            lll_creds(LLL_TOKEN),
            &RateLimiters::new(),
            &key("lll"),
        );
        let task = TaskRef::new("t1");
        let outcome = client.add(&task, &numbers(0, 15)).await.expect("add");
        assert_eq!(outcome.accepted(), 15, "{outcome:?}");
        assert!(admin.counter_sum("injectedTimeouts").await > 0);
        assert_eq!(admin.phones("longlonglong", LLL_USER, "t1").await.len(), 15);
    })
    .await;
}

#[tokio::test]
async fn sub_user_id_is_sent_on_every_request() {
    bounded(async {
        let sim = sim().await;
        // the simulator has no sub-accounts: a request that carries sub_user_id is refused (403),
        // which proves the client sends it (query for reads, body for writes)
        let mut spec = lll_spec(&sim);
        if let Some(account) = spec.longlonglong.as_mut() {
            account.sub_user_id = Some("sub-7".into());
        }
        let client = build(
            &spec,
            None,
            lll_creds(LLL_TOKEN),
            &RateLimiters::new(),
            &key("lll"),
        );
        let task = TaskRef::new("t1");
        let read = client.list(&task).await.expect_err("list with sub_user_id");
        let write = client
            .add(&task, &numbers(0, 1))
            .await
            .expect_err("add with sub_user_id");
        let delete = client
            .remove(&task, &removals(&numbers(0, 1)))
            .await
            .expect_err("remove with sub_user_id");
        for err in [read, write, delete] {
            assert!(
                matches!(err, ProviderError::CredentialsRejected { code: 403, .. }),
                "{err}"
            );
        }
    })
    .await;
}

//! The longlonglong client against the in-process simulator, over real HTTP.
mod support;

use std::sync::Arc;

use callsync::api::{AddMode, LonglonglongTaskOptions};
use callsync::providers::{
    BatchState, ContactToAdd, ContactToRemove, ErrorClass, ItemResult, MemoryPauseJournal,
    Provider, ProviderError, RateLimiters, RejectReason, RemoteState, TaskRef,
};
use callsync::simulator::{ProviderKind, TaskConfig, TaskGeneration, TaskState, Variant};
use serde_json::json;
use support::sim::*;

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
    sim_with(&[]).await
}

/// The simulator with the account answering the `variants`' way.
async fn sim_with(variants: &[Variant]) -> callsync::simulator::RunningSimulator {
    let mut account = account(ProviderKind::Longlonglong, LLL_USER, LLL_TOKEN, tasks());
    account.variants = variants.iter().copied().collect();
    start(vec![account]).await
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
        // 100 + 100 + 50: the lower bound of add requests; then one listing (3 pages of 100)
        // confirms them, on the same route key
        assert_eq!(admin.calls("/task/{task_id}/number").await, 6);
        assert_eq!(outcome.requests, 6);

        let listed = client.list(&task).await.expect("list").expect("can list");
        assert_eq!(listed.len(), 250);
        assert!(
            listed
                .iter()
                .all(|c| c.state == RemoteState::Pending && c.removable)
        );
        assert_eq!(admin.calls("/task/{task_id}/number").await, 9);

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
        // refused as a duplicate, but the listing shows the number in the task: it is there
        assert_eq!(outcome.result(3), Some(&ItemResult::Accepted));
        // the same phone twice in one batch: the task holds it once, the second row is refused
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
        let outcome = client
            .remove(&task, &removals(&batch))
            .await
            .expect("remove");
        // longlonglong reports no per-number delete result ("批量删除号码成功" for all three);
        // the listing shows the called number stayed: it is not counted removed
        assert_eq!(
            outcome.result(0),
            Some(&ItemResult::Rejected {
                reason: RejectReason::NotDeletable
            }),
            "{outcome:?}"
        );
        assert_eq!(outcome.accepted(), 2, "{outcome:?}");
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
        // the change went through, but the listing that would confirm it is rate limited too:
        // the rows stay in doubt rather than counted
        assert_eq!(admin.phones("longlonglong", LLL_USER, "t2").await.len(), 2);
        assert_eq!(outcome.unknown(), 2, "{outcome:?}");
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

/// Safety item 6: a process killed between the pause and the resume runs neither the resume
/// nor the guard. What it leaves is a paused task and the pause journal's record, which was
/// written before the pause; here a resume that keeps failing leaves the same. The next sync's
/// client (a new process: a new client, the same journal) starts the task again and clears the
/// record. Before, the pause was recorded nowhere and the task stayed paused for good.
#[tokio::test]
async fn a_pause_left_by_a_killed_process_is_undone_by_the_next_sync() {
    bounded(async {
        let sim = sim().await;
        let admin = Admin::new(&sim);
        admin
            .set_rate_limit(
                "longlonglong",
                LLL_USER,
                json!({"requestsPerSecond": 0.001, "burst": 3}),
            )
            .await;
        let journal = Arc::new(MemoryPauseJournal::default());
        let mut settings = settings();
        settings.retry.max_attempts = 2;
        settings.pause_journal = Some(journal.clone());
        let first = build_with(
            &lll_spec(&sim),
            Some(&options(AddMode::Sync, true)),
            lll_creds(LLL_TOKEN),
            &RateLimiters::new(),
            &key("lll"),
            &settings,
        );
        let outcome = first
            .add(&TaskRef::new("t2"), &numbers(0, 2))
            .await
            .expect("add");
        assert!(outcome.alert.is_some(), "the resume failed: {outcome:?}");
        assert_eq!(
            admin.task("longlonglong", LLL_USER, "t2").await["state"],
            "paused"
        );
        assert!(journal.is_recorded(), "the pause is on record");

        admin
            .set_rate_limit(
                "longlonglong",
                LLL_USER,
                json!({"requestsPerSecond": 1000, "burst": 1000}),
            )
            .await;
        let next = build_with(
            &lll_spec(&sim),
            Some(&options(AddMode::Sync, true)),
            lll_creds(LLL_TOKEN),
            &RateLimiters::new(),
            &key("lll-next"),
            &settings,
        );
        next.resume_left_paused(&TaskRef::new("t2"))
            .await
            .expect("the task is started again");
        assert_eq!(
            admin.task("longlonglong", LLL_USER, "t2").await["state"],
            "running"
        );
        assert!(!journal.is_recorded(), "the record is cleared");
    })
    .await;
}

/// Safety item 6: a pause that cannot be recorded first is not made (a crash after it would
/// leave the task paused with no one to know): the change stays refused (6007), the task runs.
#[tokio::test]
async fn no_pause_is_made_when_it_cannot_be_recorded_first() {
    bounded(async {
        let sim = sim().await;
        let admin = Admin::new(&sim);
        let mut settings = settings();
        settings.pause_journal = Some(Arc::new(MemoryPauseJournal::failing()));
        let client = build_with(
            &lll_spec(&sim),
            Some(&options(AddMode::Sync, true)),
            lll_creds(LLL_TOKEN),
            &RateLimiters::new(),
            &key("lll"),
            &settings,
        );
        let err = client
            .add(&TaskRef::new("t2"), &numbers(0, 2))
            .await
            .expect_err("the running task refuses the change");
        assert_eq!(err.reason(), "TaskRunning", "{err}");
        assert_eq!(
            admin.task("longlonglong", LLL_USER, "t2").await["state"],
            "running"
        );
        assert_eq!(
            admin.calls("/task_stop/{task_id}").await,
            0,
            "no pause was sent"
        );
        assert!(
            admin
                .phones("longlonglong", LLL_USER, "t2")
                .await
                .is_empty()
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

// ---- sub-accounts ----------------------------------------------------------------------------

/// The account with task `sub-t` owned by sub-account `sub-7`, answering the `variants`' way.
async fn sub_account_sim(variants: &[Variant]) -> callsync::simulator::RunningSimulator {
    let mut account = account(
        ProviderKind::Longlonglong,
        LLL_USER,
        LLL_TOKEN,
        vec![TaskConfig::new("sub-t").with_sub_user_id("sub-7")],
    );
    account.variants = variants.iter().copied().collect();
    start(vec![account]).await
}

fn sub_spec(
    sim: &callsync::simulator::RunningSimulator,
    sub: Option<&str>,
) -> callsync::api::CallProviderSpec {
    let mut spec = lll_spec(sim);
    if let Some(account) = spec.longlonglong.as_mut() {
        account.sub_user_id = sub.map(str::to_owned);
    }
    spec
}

#[tokio::test]
async fn a_sub_account_task_is_reached_whichever_place_the_server_reads_sub_user_id_from() {
    bounded(async {
        // the docs' table puts sub_user_id on each row, their example at the top level; the
        // client sends both, so each reading finds the sub-account's task
        for variants in [
            vec![],
            vec![Variant::LllSubUserIdPerRow],
            vec![Variant::LllSubUserIdTopLevel],
        ] {
            let sim = sub_account_sim(&variants).await;
            let admin = Admin::new(&sim);
            let task = TaskRef::new("sub-t");
            for mode in [AddMode::Async, AddMode::Sync] {
                let client = build(
                    &sub_spec(&sim, Some("sub-7")),
                    Some(&options(mode, false)),
                    lll_creds(LLL_TOKEN),
                    &RateLimiters::new(),
                    &key("lll"),
                );
                let start = if mode == AddMode::Async { 0 } else { 10 };
                let batch = numbers(start, 3);
                let outcome = client.add(&task, &batch).await.expect("add");
                assert_eq!(outcome.accepted(), 3, "{variants:?} {mode:?}: {outcome:?}");
                let listed = client.list(&task).await.expect("list").expect("some");
                assert!(listed.iter().any(|c| c.phone == batch[0].phone));
                let outcome = client
                    .remove(&task, &removals(&batch[..1]))
                    .await
                    .expect("remove");
                assert_eq!(outcome.accepted(), 1);
            }
            assert_eq!(
                admin.phones("longlonglong", LLL_USER, "sub-t").await.len(),
                4,
                "{variants:?}"
            );
        }
    })
    .await;
}

#[tokio::test]
async fn without_the_sub_account_its_task_is_not_found_and_nothing_is_counted() {
    bounded(async {
        let sim = sub_account_sim(&[]).await;
        let admin = Admin::new(&sim);
        let task = TaskRef::new("sub-t");
        let main = build(
            &sub_spec(&sim, None),
            None,
            lll_creds(LLL_TOKEN),
            &RateLimiters::new(),
            &key("lll"),
        );
        let err = main
            .add(&task, &numbers(0, 2))
            .await
            .expect_err("not the main account's");
        assert_eq!(err.reason(), "TaskNotFound", "{err}");
        let err = main.list(&task).await.expect_err("not the main account's");
        assert_eq!(err.reason(), "TaskNotFound", "{err}");
        let other = build(
            &sub_spec(&sim, Some("sub-8")),
            None,
            lll_creds(LLL_TOKEN),
            &RateLimiters::new(),
            &key("lll"),
        );
        let err = other.list(&task).await.expect_err("unknown sub-account");
        assert!(
            matches!(err, ProviderError::CredentialsRejected { code: 403, .. }),
            "{err}"
        );
        assert!(
            admin
                .phones("longlonglong", LLL_USER, "sub-t")
                .await
                .is_empty()
        );
    })
    .await;
}

// ---- what is sent --------------------------------------------------------------------------

#[tokio::test]
async fn async_add_sends_documented_fields_only_with_components() {
    bounded(async {
        // a fake agent-api that records the async add and then lists nothing
        let seen = Arc::new(std::sync::Mutex::new(Vec::<serde_json::Value>::new()));
        let record = seen.clone();
        let app = axum::Router::new()
            .route(
                "/agent-api/user/{user}/task/{task}/async_number",
                axum::routing::post(move |body: axum::body::Bytes| {
                    let record = record.clone();
                    async move {
                        if let Ok(value) = serde_json::from_slice(&body) {
                            record.lock().expect("lock").push(value);
                        }
                        axum::Json(json!({"code": 200, "status": "success",
                            "message": "号码导入任务信息请在回调中查收", "data": {"unique_id": "u-1"}}))
                    }
                }),
            )
            .route(
                "/agent-api/user/{user}/task/{task}/number",
                axum::routing::get(|| async {
                    axum::Json(json!({"code": 200, "data": [], "meta": {"total": 0, "last_page": 1}}))
                }),
            );
        let (base, _server) = serve(app).await;
        let mut spec = lll_spec_at(&base);
        if let Some(account) = spec.longlonglong.as_mut() {
            account.sub_user_id = Some("sub-7".into());
        }
        let client = build(&spec, None, lll_creds(LLL_TOKEN), &RateLimiters::new(), &key("fake"));
        let mut contact = numbers(0, 1).remove(0);
        contact
            .variables
            .insert("2a87347c-6dd5-4e22-97fe-9b8001dbcd17".into(), "小牛".into());
        let outcome = client
            .add(&TaskRef::new("t"), &[contact.clone()])
            .await
            .expect("add");
        // answered "queued", never listed: in doubt, not added
        assert_eq!(outcome.unknown(), 1, "{outcome:?}");
        let bodies = seen.lock().expect("lock").clone();
        assert_eq!(bodies.len(), 1);
        let body = &bodies[0];
        assert!(body.get("skip_error").is_none(), "{body}");
        assert_eq!(body["sub_user_id"], "sub-7");
        assert_eq!(body["number_add_suffix"], false);
        let row = &body["data"][0];
        assert_eq!(row["phone"], contact.phone.as_str());
        assert_eq!(row["sort"], 0);
        assert_eq!(row["sub_user_id"], "sub-7");
        assert_eq!(
            row["components"],
            json!([{"id": "2a87347c-6dd5-4e22-97fe-9b8001dbcd17", "value": "小牛"}])
        );
    })
    .await;
}

#[tokio::test]
async fn adds_go_through_the_documented_async_endpoint_by_default() {
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
        assert_eq!(client.capabilities().max_add, 200);
        let outcome = client
            .add(&TaskRef::new("t1"), &numbers(0, 450))
            .await
            .expect("add");
        assert_eq!(outcome.accepted(), 450, "{outcome:?}");
        // ceil(450 / 200) adds, and no sync add at all
        assert_eq!(admin.calls("/async_number").await, 3);
        assert_eq!(
            admin
                .calls("POST /agent-api/user/{user_id}/task/{task_id}/number")
                .await,
            0
        );
    })
    .await;
}

#[tokio::test]
async fn sync_add_rows_the_answer_does_not_name_stay_unknown_until_listed() {
    bounded(async {
        // the sync answer gives counts only: a refused row is not named
        let sim = sim_with(&[Variant::LllSyncAddCountsOnly]).await;
        let client = build(
            &lll_spec(&sim),
            Some(&options(AddMode::Sync, false)),
            lll_creds(LLL_TOKEN),
            &RateLimiters::new(),
            &key("lll"),
        );
        let mut batch = numbers(0, 3);
        batch[1].phone = "12".into();
        let outcome = client.add(&TaskRef::new("t1"), &batch).await.expect("add");
        assert_eq!(outcome.result(0), Some(&ItemResult::Accepted));
        assert_eq!(outcome.result(1), Some(&ItemResult::Unknown), "{outcome:?}");
        assert_eq!(outcome.result(2), Some(&ItemResult::Accepted));
    })
    .await;
}

// ---- listing -------------------------------------------------------------------------------

#[tokio::test]
async fn listing_pages_on_when_pages_are_capped_or_meta_is_missing() {
    bounded(async {
        for variants in [
            vec![Variant::LllPageSizeCapped],
            vec![Variant::LllNoPageMeta],
            vec![Variant::LllPageSizeCapped, Variant::LllNoPageMeta],
        ] {
            let sim = sim_with(&variants).await;
            let admin = Admin::new(&sim);
            let client = build(
                &lll_spec(&sim),
                None,
                lll_creds(LLL_TOKEN),
                &RateLimiters::new(),
                &key("lll"),
            );
            let task = TaskRef::new("t1");
            let batch = numbers(0, 250);
            let outcome = client.add(&task, &batch).await.expect("add");
            assert_eq!(outcome.accepted(), 250, "{variants:?}: {outcome:?}");
            let listed = client.list(&task).await.expect("list").expect("some");
            assert_eq!(listed.len(), 250, "{variants:?}");
            // remove all but one: the next listing must show exactly that one
            client
                .remove(&task, &removals(&batch[1..]))
                .await
                .expect("remove");
            let listed = client.list(&task).await.expect("list").expect("some");
            assert_eq!(listed.len(), 1, "{variants:?}");
            assert_eq!(admin.phones("longlonglong", LLL_USER, "t1").await.len(), 1);
            // The count between listings is `meta.total`; without the meta there is none.
            let count = client.count(&task).await.expect("count");
            let want = (!variants.contains(&Variant::LllNoPageMeta)).then_some(1);
            assert_eq!(count, want, "{variants:?}");
        }
    })
    .await;
}

#[tokio::test]
async fn listed_phones_with_a_country_code_are_read_as_the_wire_format() {
    bounded(async {
        let sim = sim_with(&[Variant::LllListPhoneCountryCode]).await;
        let client = build(
            &lll_spec(&sim),
            None,
            lll_creds(LLL_TOKEN),
            &RateLimiters::new(),
            &key("lll"),
        );
        let task = TaskRef::new("t1");
        let batch = numbers(0, 5);
        let outcome = client.add(&task, &batch).await.expect("add");
        assert_eq!(outcome.accepted(), 5, "{outcome:?}");
        let mut listed: Vec<String> = client
            .list(&task)
            .await
            .expect("list")
            .expect("some")
            .into_iter()
            .map(|c| c.phone)
            .collect();
        listed.sort();
        let mut wanted: Vec<String> = batch.iter().map(|c| c.phone.clone()).collect();
        wanted.sort();
        assert_eq!(listed, wanted);
    })
    .await;
}

#[tokio::test]
async fn masked_listed_phones_confirm_nothing_and_make_the_listing_an_error() {
    bounded(async {
        let sim = sim_with(&[Variant::LllListPhoneMasked]).await;
        let admin = Admin::new(&sim);
        let mut settings = settings();
        settings.async_confirm_timeout = std::time::Duration::from_secs(1);
        let client = build_with(
            &lll_spec(&sim),
            None,
            lll_creds(LLL_TOKEN),
            &RateLimiters::new(),
            &key("lll"),
            &settings,
        );
        let task = TaskRef::new("t1");
        let batch = numbers(0, 3);
        let outcome = client.add(&task, &batch).await.expect("add");
        assert_eq!(outcome.accepted(), 0, "{outcome:?}");
        assert_eq!(outcome.unknown(), 3);
        assert_eq!(admin.phones("longlonglong", LLL_USER, "t1").await.len(), 3);
        // deletions cannot be confirmed by such a listing: nothing is counted removed
        let outcome = client
            .remove(&task, &removals(&batch[..2]))
            .await
            .expect("remove");
        assert_eq!(outcome.unknown(), 2, "{outcome:?}");
        let err = client.list(&task).await.expect_err("masked listing");
        let text = err.to_string();
        assert_eq!(err.reason(), "InvalidResponse", "{text}");
        assert!(
            text.contains("number-list") && text.contains("masked"),
            "{text}"
        );
        assert!(!text.contains(&batch[0].phone), "{text}");
    })
    .await;
}

// ---- async results -------------------------------------------------------------------------

#[tokio::test]
async fn async_results_late_or_never_leave_rows_unknown() {
    bounded(async {
        for variant in [Variant::LllAsyncLate, Variant::LllAsyncNever] {
            let sim = sim_with(&[variant]).await;
            let admin = Admin::new(&sim);
            let mut settings = settings();
            settings.async_confirm_timeout = std::time::Duration::from_millis(800);
            let client = build_with(
                &lll_spec(&sim),
                None,
                lll_creds(LLL_TOKEN),
                &RateLimiters::new(),
                &key("lll"),
                &settings,
            );
            let task = TaskRef::new("t1");
            let batch = numbers(0, 4);
            let outcome = client.add(&task, &batch).await.expect("add");
            assert_eq!(outcome.unknown(), 4, "{variant:?}: {outcome:?}");
            assert!(admin.calls("/identification/{unique_id}").await >= 1);
            // The batch is handed back open: the sync waits for it instead of sending it again.
            assert_eq!(outcome.open_batches.len(), 1, "{variant:?}: {outcome:?}");
            assert_eq!(
                client.batch_states(&task, &outcome.open_batches).await,
                [BatchState::Processing],
                "{variant:?}"
            );
            // A batch the provider does not know is never taken for done.
            assert_eq!(
                client
                    .batch_states(&task, &["not-a-batch".to_owned()])
                    .await,
                [BatchState::Unknown]
            );
            if variant == Variant::LllAsyncLate {
                // applied 20 × 100 ms after the add: the next observation settles them
                tokio::time::sleep(std::time::Duration::from_millis(2000)).await;
                assert_eq!(
                    client.batch_states(&task, &outcome.open_batches).await,
                    [BatchState::Finished]
                );
                let listed = client.list(&task).await.expect("list").expect("some");
                assert_eq!(listed.len(), 4);
            } else {
                assert!(
                    admin
                        .phones("longlonglong", LLL_USER, "t1")
                        .await
                        .is_empty()
                );
            }
        }
    })
    .await;
}

// ---- messages and extra fields -------------------------------------------------------------

#[tokio::test]
async fn english_messages_and_unknown_fields_read_the_same() {
    bounded(async {
        for variants in [
            vec![Variant::LllEnglishMessages],
            vec![Variant::UnknownFields],
        ] {
            let sim = sim_with(&variants).await;
            for mode in [AddMode::Async, AddMode::Sync] {
                let client = build(
                    &lll_spec(&sim),
                    Some(&options(mode, false)),
                    lll_creds(LLL_TOKEN),
                    &RateLimiters::new(),
                    &key("lll"),
                );
                let task = TaskRef::new("t1");
                let start = if mode == AddMode::Async { 0 } else { 10 };
                let mut batch = numbers(start, 3);
                batch[2].phone = "12".into();
                let outcome = client.add(&task, &batch).await.expect("add");
                assert_eq!(outcome.accepted(), 2, "{variants:?} {mode:?}: {outcome:?}");
                assert_eq!(
                    outcome.result(2),
                    Some(&ItemResult::Rejected {
                        reason: RejectReason::InvalidNumber
                    }),
                    "{variants:?} {mode:?}"
                );
                let err = client
                    .add(&TaskRef::new("t2"), &numbers(50, 1))
                    .await
                    .expect_err("6007");
                assert_eq!(err.reason(), "TaskRunning", "{err}");
                let err = client
                    .list(&TaskRef::new("nope"))
                    .await
                    .expect_err("no task");
                assert_eq!(err.reason(), "TaskNotFound", "{err}");
            }
            let client = build(
                &lll_spec(&sim),
                None,
                lll_creds(LLL_TOKEN),
                &RateLimiters::new(),
                &key("lll"),
            );
            let listed = client
                .list(&TaskRef::new("t1"))
                .await
                .expect("list")
                .expect("some");
            assert_eq!(listed.len(), 4, "{variants:?}");
        }
    })
    .await;
}

// ---- bad answers ---------------------------------------------------------------------------

/// Serves `app` on 127.0.0.1; the server stops when the handle is dropped.
async fn serve(app: axum::Router) -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let handle = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}"), handle)
}

fn lll_spec_at(base: &str) -> callsync::api::CallProviderSpec {
    let mut spec = lll_spec_placeholder();
    if let Some(account) = spec.longlonglong.as_mut() {
        account.endpoint = base.to_owned();
    }
    spec
}

fn lll_spec_placeholder() -> callsync::api::CallProviderSpec {
    callsync::api::CallProviderSpec {
        longlonglong: Some(callsync::api::LonglonglongAccount {
            endpoint: String::new(),
            user_id: LLL_USER.into(),
            sub_user_id: None,
            token_secret_ref: callsync::api::SecretKeyRef {
                name: "lll".into(),
                key: "token".into(),
            },
            phone_format: callsync::api::PhoneFormat::National,
            region: "CN".into(),
        }),
        callbot: None,
        nxlink: None,
        rate_limit: fast_limit(),
        max_batch_size: None,
        timeout_seconds: 5,
        insecure: true,
        suspend: false,
    }
}

#[tokio::test]
async fn bad_listing_answers_are_errors_naming_the_endpoint_and_nothing_is_counted() {
    bounded(async {
        let cases: Vec<(&str, &'static str, &str)> = vec![
            ("not JSON", "<html>13012121211 oops</html>", "not JSON"),
            ("cut short", r#"{"code": 200, "data": [{"phone": "1301212"#, "cut short"),
            ("data of the wrong type", r#"{"code": 200, "data": "13012121211"}"#, "a string"),
            ("a row without phone", r#"{"code": 200, "data": [{"name": "x"}]}"#, "no phone"),
            (
                "total of the wrong type",
                r#"{"code": 200, "data": [], "meta": {"total": "1"}}"#,
                "wrong type",
            ),
            (
                "total disagreeing with the rows",
                r#"{"code": 200, "data": [{"phone": "13012121211", "status": 0}], "meta": {"total": 5, "last_page": 1}}"#,
                "meta.total",
            ),
        ];
        for (name, body, what) in cases {
            let app = axum::Router::new()
                .route(
                    "/agent-api/user/{user}/task/{task}/number",
                    axum::routing::get(move |q: axum::extract::RawQuery| async move {
                        // page 1 answers `body`, later pages are empty
                        let first = !q.0.unwrap_or_default().contains("page=2");
                        let text = if first { body } else { r#"{"code": 200, "data": []}"# };
                        ([("content-type", "application/json")], text.to_owned())
                    }),
                )
                .route(
                    "/agent-api/user/{user}/task/{task}/async_number",
                    axum::routing::post(move || async move {
                        ([("content-type", "application/json")], body.to_owned())
                    }),
                );
            let (base, _server) = serve(app).await;
            let mut settings = settings();
            settings.retry.max_attempts = 1;
            let client = build_with(
                &lll_spec_at(&base),
                None,
                lll_creds(LLL_TOKEN),
                &RateLimiters::new(),
                &key("bad"),
                &settings,
            );
            let err = client.list(&TaskRef::new("t")).await.expect_err(name);
            let text = err.to_string();
            assert_eq!(err.reason(), "InvalidResponse", "{name}: {text}");
            assert!(text.contains("number-list"), "{name}: {text}");
            assert!(text.contains(what), "{name}: {text}");
            assert!(!text.contains("13012121211"), "{name}: {text}");
            // an add answered like that, or confirmed by such a listing, counts nothing
            match client.add(&TaskRef::new("t"), &numbers(0, 2)).await {
                Ok(outcome) => assert_eq!(outcome.accepted(), 0, "{name}: {outcome:?}"),
                Err(err) => assert!(!err.to_string().contains("13012121211"), "{name}: {err}"),
            }
        }
    })
    .await;
}

#[tokio::test]
async fn confirming_an_add_reads_a_few_pages_not_the_whole_task() {
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
        let outcome = client.add(&task, &numbers(0, 1000)).await.expect("add");
        assert_eq!(outcome.accepted(), 1000, "{outcome:?}");
        let list_route = "GET /agent-api/user/{user_id}/task/{task_id}/number";
        let before = admin.calls(list_route).await;
        let outcome = client.add(&task, &numbers(1000, 10)).await.expect("add");
        assert_eq!(outcome.accepted(), 10, "{outcome:?}");
        // page 1, then the last page, where the simulator lists new numbers
        assert_eq!(admin.calls(list_route).await - before, 2);
    })
    .await;
}

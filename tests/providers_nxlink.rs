//! The NXLink client against the in-process simulator, over real HTTP and real signatures.
mod support;

use std::sync::Arc;

use callsync::api::NxlinkRegion;
use callsync::providers::{
    ContactToAdd, ContactToRemove, DriftHint, ErrorClass, ItemResult, Provider, ProviderError,
    RateLimiters, RejectReason, TaskRef,
};
use callsync::simulator::{ProviderKind, RunningSimulator, TaskConfig, TaskState, Variant};
use serde_json::json;
use support::sim::*;

async fn sim() -> RunningSimulator {
    sim_with(&[]).await
}

/// The simulator with one NXLink account answering in `variants`' ways.
async fn sim_with(variants: &[Variant]) -> RunningSimulator {
    let mut account = account(
        ProviderKind::Nxlink,
        NX_KEY,
        NX_SECRET,
        vec![TaskConfig {
            id: "task-1".into(),
            user_task_id: Some("EXT-1".into()),
            state: TaskState::Running,
            ..TaskConfig::default()
        }],
    );
    account.variants.extend(variants.iter().copied());
    start(vec![account]).await
}

/// International digits 86132xxxxxxxx, contactIds `prefix-i`.
fn people(start: usize, n: usize, id_prefix: &str) -> Vec<ContactToAdd> {
    contacts("86132", 8, start, n, id_prefix)
}

fn removals(batch: &[ContactToAdd]) -> Vec<ContactToRemove> {
    batch
        .iter()
        .map(|c| ContactToRemove {
            phone: c.phone.clone(),
            remote_id: Some(c.remote_id.clone()),
        })
        .collect()
}

#[tokio::test]
async fn append_delete_round_trip_with_drift_hint() {
    bounded(async {
        let sim = sim().await;
        let admin = Admin::new(&sim);
        let spec = with_batch(nxlink_spec(&sim), Some(10), None);
        let client = build(
            &spec,
            None,
            nx_creds(NX_KEY, NX_SECRET),
            &RateLimiters::new(),
            &key("nx"),
        );
        let caps = client.capabilities();
        assert_eq!(
            (caps.max_add, caps.max_remove, caps.can_list),
            (10, 1, false)
        );
        assert!(caps.remove_concurrency > 1);
        let task = TaskRef::new("task-1");
        assert!(client.list(&task).await.expect("list").is_none());

        let batch = people(0, 25, "c");
        let outcome = client.add(&task, &batch).await.expect("add");
        assert_eq!(outcome.accepted(), 25, "{outcome:?}");
        assert_eq!(admin.calls("/call/append").await, 3); // 10+10+5
        let contacts = admin.contacts("nxlink", NX_KEY, "task-1").await;
        assert_eq!(contacts.len(), 25);
        assert_eq!(contacts[3]["remoteId"], "c-3");
        assert_eq!(contacts[3]["name"], "Person 3");

        let outcome = client
            .remove(&task, &removals(&batch[..9]))
            .await
            .expect("remove");
        assert_eq!(outcome.accepted(), 9, "{outcome:?}");
        assert_eq!(
            outcome.items.iter().map(|i| i.index).collect::<Vec<_>>(),
            (0..9).collect::<Vec<_>>()
        );
        assert_eq!(admin.calls("/order/delete").await, 9); // one contact per request
        assert_eq!(admin.contacts("nxlink", NX_KEY, "task-1").await.len(), 16);

        // statInfo.totalOrderCount counts imports (the simulator does not decrement on delete)
        let hint = client.drift_hint(&task).await.expect("hint");
        assert_eq!(
            hint,
            Some(DriftHint {
                total_order_count: 25
            })
        );
        let by_user_task_id = client
            .drift_hint(&TaskRef::new("EXT-1"))
            .await
            .expect("hint");
        assert_eq!(by_user_task_id, hint);
        let err = client
            .drift_hint(&TaskRef::new("nope"))
            .await
            .expect_err("unknown");
        assert_eq!(err.reason(), "TaskNotFound");
        client.check_credentials().await.expect("credentials");
    })
    .await;
}

#[tokio::test]
async fn a_refused_contact_is_isolated_and_the_others_go_in() {
    bounded(async {
        let sim = sim().await;
        let admin = Admin::new(&sim);
        let client = build(
            &nxlink_spec(&sim),
            None,
            nx_creds(NX_KEY, NX_SECRET),
            &RateLimiters::new(),
            &key("nx"),
        );
        let task = TaskRef::new("task-1");
        let first = people(0, 1, "a");
        client.add(&task, &first).await.expect("add");
        let mut batch = people(1, 6, "b");
        batch[1].phone = "+8613200000002".into(); // `+` is not allowed
        batch[3].phone = first[0].phone.clone(); // already in the task
        batch[3].remote_id = "b-dup".into();
        batch[5] = first[0].clone(); // our own earlier contact, same id: already there
        let outcome = client.add(&task, &batch).await.expect("add");
        assert_eq!(outcome.result(0), Some(&ItemResult::Accepted));
        assert_eq!(
            outcome.result(1),
            Some(&ItemResult::Rejected {
                reason: RejectReason::InvalidNumber
            })
        );
        assert_eq!(outcome.result(2), Some(&ItemResult::Accepted));
        assert_eq!(
            outcome.result(3),
            Some(&ItemResult::Rejected {
                reason: RejectReason::Duplicate
            })
        );
        assert_eq!(outcome.result(4), Some(&ItemResult::Accepted));
        assert_eq!(outcome.result(5), Some(&ItemResult::Accepted));
        let phones = admin.phones("nxlink", NX_KEY, "task-1").await;
        assert_eq!(phones.len(), 4);
        assert!(no_duplicates(&phones));
        // a refusal of the whole request (unknown task) is an error, not item rejections
        let err = client
            .add(&TaskRef::new("no-such-task"), &people(50, 3, "z"))
            .await
            .expect_err("task");
        assert_eq!(err.reason(), "TaskNotFound", "{err}");
    })
    .await;
}

#[tokio::test]
async fn removal_results_not_deletable_gone_and_no_id() {
    bounded(async {
        let sim = sim().await;
        let admin = Admin::new(&sim);
        let client = build(
            &nxlink_spec(&sim),
            None,
            nx_creds(NX_KEY, NX_SECRET),
            &RateLimiters::new(),
            &key("nx"),
        );
        let task = TaskRef::new("task-1");
        let batch = people(0, 3, "c");
        client.add(&task, &batch).await.expect("add");
        admin
            .mark(
                "nxlink",
                NX_KEY,
                "task-1",
                json!({"remoteIds": ["c-1"], "state": "finished"}),
            )
            .await;
        let mut removals = removals(&batch);
        removals.push(ContactToRemove {
            phone: "8613200009999".into(),
            remote_id: Some("never-added".into()),
        });
        removals.push(ContactToRemove {
            phone: "8613200009998".into(),
            remote_id: None,
        });
        let outcome = client.remove(&task, &removals).await.expect("remove");
        assert_eq!(outcome.result(0), Some(&ItemResult::Accepted));
        assert_eq!(
            outcome.result(1),
            Some(&ItemResult::Rejected {
                reason: RejectReason::NotDeletable
            })
        );
        assert_eq!(outcome.result(2), Some(&ItemResult::Accepted));
        // Not "removed": NXLink knows no contact by that id, which proves nothing about whose
        // contact it was; the executor decides (the fail-closed rule).
        assert_eq!(
            outcome.result(3),
            Some(&ItemResult::Rejected {
                reason: RejectReason::NotFound
            })
        );
        assert!(matches!(
            outcome.result(4),
            Some(ItemResult::Rejected {
                reason: RejectReason::Other(_)
            })
        ));
        assert_eq!(admin.contacts("nxlink", NX_KEY, "task-1").await.len(), 1);
    })
    .await;
}

#[tokio::test]
async fn error_classes() {
    bounded(async {
        let sim = sim().await;
        let limiters = RateLimiters::new();
        let task = TaskRef::new("task-1");
        let spec = nxlink_spec(&sim);
        let bad_secret = build(
            &spec,
            None,
            nx_creds(NX_KEY, "wrong"),
            &limiters,
            &key("nx"),
        );
        let err = bad_secret
            .add(&task, &people(0, 1, "x"))
            .await
            .expect_err("bad secret");
        assert!(
            matches!(err, ProviderError::SignatureRejected { code: 1003, .. }),
            "{err}"
        );
        assert_eq!(err.class(), ErrorClass::Terminal);
        let bad_key = build(
            &spec,
            None,
            nx_creds("AK-nobody", NX_SECRET),
            &limiters,
            &key("nx"),
        );
        let err = bad_key.check_credentials().await.expect_err("unknown key");
        assert!(
            matches!(err, ProviderError::CredentialsRejected { code: 1005, .. }),
            "{err}"
        );
        let mut wrong_biz = nxlink_spec(&sim);
        if let Some(account) = wrong_biz.nxlink.as_mut() {
            account.biz_type = "8".into();
        }
        let client = build(
            &wrong_biz,
            None,
            nx_creds(NX_KEY, NX_SECRET),
            &limiters,
            &key("nx"),
        );
        let err = client.check_credentials().await.expect_err("bizType 8");
        assert!(
            matches!(err, ProviderError::Rejected { code: 1002, .. }),
            "{err}"
        );
        // region endpoints: the documented gateways
        assert_eq!(NxlinkRegion::Hk.endpoint(), "https://api-hk.nxlink.ai");
        let mut by_region = nxlink_spec(&sim);
        if let Some(account) = by_region.nxlink.as_mut() {
            account.endpoint = None;
            account.region = Some(NxlinkRegion::Idn);
        }
        let _ = build(
            &by_region,
            None,
            nx_creds(NX_KEY, NX_SECRET),
            &limiters,
            &key("nx"),
        );
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
                "nxlink",
                NX_KEY,
                json!({"errorRate": 0.2, "dropAfterCommitRate": 0.5}),
            )
            .await;
        admin
            .set_rate_limit(
                "nxlink",
                NX_KEY,
                json!({"requestsPerSecond": 30.0, "burst": 3}),
            )
            .await;
        let spec = with_batch(nxlink_spec(&sim), Some(10), None);
        let client = build(
            &spec,
            None,
            nx_creds(NX_KEY, NX_SECRET),
            &RateLimiters::new(),
            &key("nx"),
        );
        let task = TaskRef::new("task-1");
        let batch = people(0, 60, "c");
        let outcome = client.add(&task, &batch).await.expect("add");
        assert_eq!(outcome.accepted(), 60, "{outcome:?}");
        let contacts = admin.contacts("nxlink", NX_KEY, "task-1").await;
        let ids: Vec<String> = contacts
            .iter()
            .map(|c| c["remoteId"].as_str().unwrap_or_default().to_owned())
            .collect();
        assert_eq!(ids.len(), 60);
        assert!(no_duplicates(&ids));
        let outcome = client
            .remove(&task, &removals(&batch[..30]))
            .await
            .expect("remove");
        // A delete whose answer was dropped is retried and then answered "not found" for our
        // own id: reported as such, for the executor to count as removed.
        let gone = outcome
            .items
            .iter()
            .filter(|i| {
                i.result == ItemResult::Accepted
                    || i.result
                        == ItemResult::Rejected {
                            reason: RejectReason::NotFound,
                        }
            })
            .count();
        assert_eq!(gone, 30, "{outcome:?}");
        assert_eq!(admin.contacts("nxlink", NX_KEY, "task-1").await.len(), 30);
        assert!(admin.counter_sum("injectedErrors").await > 0);
        assert!(admin.counter_sum("droppedAfterCommit").await > 0);
        assert!(
            admin.counter_sum("rateLimited").await > 0,
            "\"too many requests\" answers were retried"
        );
    })
    .await;
}

#[tokio::test]
async fn concurrent_deletes_of_many_tasks_share_the_account_limit() {
    bounded(async {
        let sim = sim().await;
        let admin = Admin::new(&sim);
        let setup = build(
            &nxlink_spec(&sim),
            None,
            nx_creds(NX_KEY, NX_SECRET),
            &RateLimiters::new(),
            &key("setup"),
        );
        let task = TaskRef::new("task-1");
        let batch = people(0, 24, "c");
        setup.add(&task, &batch).await.expect("add");
        admin
            .set_rate_limit(
                "nxlink",
                NX_KEY,
                json!({"requestsPerSecond": 8.0, "burst": 5}),
            )
            .await;

        let mut spec = nxlink_spec(&sim);
        spec.rate_limit = Some(callsync::api::RateLimit {
            requests_per_second: 8,
            burst: 3,
        });
        let limiters = RateLimiters::new();
        let account = key("nx-limited");
        let task = Arc::new(task);
        let mut handles = Vec::new();
        // three CallTasks' clients, each deleting 8 contacts 4 at a time, on one account
        for (n, chunk) in batch.chunks(8).enumerate() {
            let client = build(
                &spec,
                None,
                nx_creds(NX_KEY, NX_SECRET),
                &limiters,
                &account,
            );
            let removals = removals(chunk);
            let task = task.clone();
            handles.push(tokio::spawn(async move {
                let outcome = client.remove(&task, &removals).await.expect("remove");
                assert_eq!(outcome.accepted(), 8, "client {n}: {outcome:?}");
            }));
        }
        for handle in handles {
            handle.await.expect("task");
        }
        let times: Vec<i64> = admin
            .audit()
            .await
            .iter()
            .filter(|e| e["operation"] == "remove" && e["outcome"] == "applied")
            .filter_map(|e| e["atMs"].as_i64())
            .collect();
        assert_eq!(times.len(), 24);
        let span = times.iter().max().unwrap_or(&0) - times.iter().min().unwrap_or(&0);
        assert!(
            span >= 2_500,
            "24 deletes at 8/s burst 3 took only {span} ms"
        );
        assert_rate_bound(&times, 8.0, 3.0, 2.0);
        assert_eq!(admin.counter_sum("rateLimited").await, 0);
    })
    .await;
}

#[tokio::test]
async fn a_refusal_of_the_whole_request_is_an_error_without_isolation() {
    bounded(async {
        let sim = sim().await;
        let admin = Admin::new(&sim);
        admin
            .set_state("nxlink", NX_KEY, "task-1", "completed")
            .await;
        let client = build(
            &nxlink_spec(&sim),
            None,
            nx_creds(NX_KEY, NX_SECRET),
            &RateLimiters::new(),
            &key("nx"),
        );
        let err = client
            .add(&TaskRef::new("task-1"), &people(0, 8, "c"))
            .await
            .expect_err("completed task");
        assert_eq!(err.reason(), "RequestRejected", "{err}");
        assert_eq!(err.class(), ErrorClass::Terminal);
        assert_eq!(
            admin.calls("/call/append").await,
            1,
            "no isolation requests"
        );
    })
    .await;
}

fn client_of(sim: &RunningSimulator) -> callsync::providers::AnyProvider {
    build(
        &nxlink_spec(sim),
        None,
        nx_creds(NX_KEY, NX_SECRET),
        &RateLimiters::new(),
        &key("nx"),
    )
}

fn not_found() -> ItemResult {
    ItemResult::Rejected {
        reason: RejectReason::NotFound,
    }
}

/// Under every NXLink variant and the default: an add of a phone made in the console (another
/// contactId) is a phone `Duplicate` (never accepted), our own id again is accepted, a delete of
/// an unknown id is never `Accepted`, and a not-pending contact is not deletable.
async fn console_contact_is_never_taken_as_ours(variants: &[Variant]) {
    let sim = sim_with(variants).await;
    let admin = Admin::new(&sim);
    let client = client_of(&sim);
    let task = TaskRef::new("task-1");
    let console = people(0, 1, "console");
    client.add(&task, &console).await.expect("console add");
    let ours = people(0, 3, "ours");
    let outcome = client.add(&task, &ours).await.expect("add");
    assert_eq!(
        outcome.result(0),
        Some(&ItemResult::Rejected {
            reason: RejectReason::Duplicate
        }),
        "{variants:?}: {outcome:?}"
    );
    assert_eq!(
        outcome.result(1),
        Some(&ItemResult::Accepted),
        "{variants:?}"
    );
    assert_eq!(
        outcome.result(2),
        Some(&ItemResult::Accepted),
        "{variants:?}"
    );
    // Our own ids again (an earlier attempt whose answer was lost): accepted, nothing doubled.
    let again = client.add(&task, &ours[1..]).await.expect("again");
    assert_eq!(again.accepted(), 2, "{variants:?}: {again:?}");
    assert_eq!(admin.phones("nxlink", NX_KEY, "task-1").await.len(), 3);

    admin
        .mark(
            "nxlink",
            NX_KEY,
            "task-1",
            json!({"remoteIds": ["ours-2"], "state": "finished"}),
        )
        .await;
    // The console contact by callsync's id: unknown to NXLink. One request a contact, so the
    // others are answered on their own.
    let removals = removals(&ours);
    let outcome = client.remove(&task, &removals).await;
    let outcome = match outcome {
        Ok(outcome) => outcome,
        // HTTP 404 is not read as "contact not found" (it could be a wrong path): the whole
        // remove fails closed, nothing counted done.
        Err(err) => {
            assert!(
                variants.contains(&Variant::NxlinkNotFoundAsHttp404),
                "{err}"
            );
            return;
        }
    };
    assert_ne!(
        outcome.result(0),
        Some(&ItemResult::Accepted),
        "{variants:?}"
    );
    if variants.contains(&Variant::NxlinkNotFoundAsHttp404) {
        assert_eq!(outcome.result(0), Some(&ItemResult::Unknown), "{outcome:?}");
        assert!(outcome.interrupted.is_some(), "{outcome:?}");
    } else {
        assert_eq!(outcome.result(0), Some(&not_found()), "{variants:?}");
        assert_eq!(
            outcome.result(1),
            Some(&ItemResult::Accepted),
            "{variants:?}"
        );
        assert_eq!(
            outcome.result(2),
            Some(&ItemResult::Rejected {
                reason: RejectReason::NotDeletable
            }),
            "{variants:?}"
        );
    }
    // The console contact is still there, whatever was answered.
    let remote_ids: Vec<String> = admin
        .contacts("nxlink", NX_KEY, "task-1")
        .await
        .iter()
        .map(|c| c["remoteId"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert!(
        remote_ids.contains(&"console-0".to_owned()),
        "{remote_ids:?}"
    );
}

#[tokio::test]
async fn default_answers_keep_console_contacts() {
    bounded(console_contact_is_never_taken_as_ours(&[])).await;
}

#[tokio::test]
async fn chinese_messages_are_read_and_fail_closed() {
    bounded(async {
        console_contact_is_never_taken_as_ours(&[Variant::NxlinkChineseMessages]).await;
        // 任务不存在 is the task, not an item.
        let sim = sim_with(&[Variant::NxlinkChineseMessages]).await;
        let client = client_of(&sim);
        let err = client
            .add(&TaskRef::new("no-such-task"), &people(50, 2, "z"))
            .await
            .expect_err("task");
        assert_eq!(err.reason(), "TaskNotFound", "{err}");
        let err = client
            .remove(
                &TaskRef::new("no-such-task"),
                &removals(&people(50, 1, "z")),
            )
            .await
            .expect_err("task");
        assert_eq!(err.reason(), "TaskNotFound", "{err}");
    })
    .await;
}

#[tokio::test]
async fn not_found_as_http_404_is_never_removed() {
    bounded(async {
        console_contact_is_never_taken_as_ours(&[Variant::NxlinkNotFoundAsHttp404]).await;
        let sim = sim_with(&[Variant::NxlinkNotFoundAsHttp404]).await;
        let client = client_of(&sim);
        let err = client
            .remove(&TaskRef::new("task-1"), &removals(&people(60, 1, "never")))
            .await
            .expect_err("a 404 is not a removal");
        assert_ne!(err.reason(), "TaskNotFound", "{err}");
    })
    .await;
}

#[tokio::test]
async fn append_with_per_item_results_is_read_per_item() {
    bounded(async {
        console_contact_is_never_taken_as_ours(&[Variant::NxlinkAppendItemResults]).await;
        let sim = sim_with(&[Variant::NxlinkAppendItemResults]).await;
        let admin = Admin::new(&sim);
        let client = client_of(&sim);
        let task = TaskRef::new("task-1");
        let mut batch = people(0, 4, "c");
        batch[1].phone = "+8613200000001".into(); // `+` is not allowed
        let outcome = client.add(&task, &batch).await.expect("add");
        assert_eq!(outcome.result(0), Some(&ItemResult::Accepted));
        assert_eq!(
            outcome.result(1),
            Some(&ItemResult::Rejected {
                reason: RejectReason::InvalidNumber
            })
        );
        assert_eq!(outcome.accepted(), 3, "{outcome:?}");
        // One request: the answer said which item failed, nothing to isolate.
        assert_eq!(admin.calls("/call/append").await, 1);
        assert_eq!(admin.phones("nxlink", NX_KEY, "task-1").await.len(), 3);
    })
    .await;
}

#[tokio::test]
async fn unknown_fields_in_answers_change_nothing() {
    bounded(async {
        console_contact_is_never_taken_as_ours(&[Variant::UnknownFields]).await;
        let sim = sim_with(&[Variant::UnknownFields]).await;
        let client = client_of(&sim);
        let task = TaskRef::new("task-1");
        let batch = people(0, 5, "c");
        assert_eq!(client.add(&task, &batch).await.expect("add").accepted(), 5);
        let hint = client.drift_hint(&task).await.expect("hint");
        assert_eq!(
            hint,
            Some(DriftHint {
                total_order_count: 5
            })
        );
        let outcome = client
            .remove(&task, &removals(&batch))
            .await
            .expect("remove");
        assert_eq!(outcome.accepted(), 5, "{outcome:?}");
    })
    .await;
}

/// `userTaskId`, the identifier the delete docs prefer: sent alone when the CallTask gives it,
/// after `task/list` showed it to be the same task as `taskId` (append's); a mismatch deletes
/// nothing.
#[tokio::test]
async fn deletes_by_user_task_id_after_checking_it_is_the_same_task() {
    bounded(async {
        let sim = sim().await;
        let admin = Admin::new(&sim);
        let client = client_of(&sim);
        let plain = TaskRef::new("task-1");
        let batch = people(0, 3, "c");
        client.add(&plain, &batch).await.expect("add");

        let wrong = TaskRef::new("task-1").with_user_task_id(Some("EXT-2".into()));
        let err = client
            .remove(&wrong, &removals(&batch))
            .await
            .expect_err("not one task");
        assert_eq!(err.reason(), "InvalidProviderConfig", "{err}");
        assert_eq!(admin.calls("/order/delete").await, 0);

        let by_user = TaskRef::new("task-1").with_user_task_id(Some("EXT-1".into()));
        let outcome = client
            .remove(&by_user, &removals(&batch))
            .await
            .expect("remove");
        assert_eq!(outcome.accepted(), 3, "{outcome:?}");
        assert_eq!(admin.contacts("nxlink", NX_KEY, "task-1").await.len(), 0);
    })
    .await;
}

/// A server on 127.0.0.1 that answers every request with `body` (HTTP 200, JSON content type).
async fn answering(body: &'static str) -> String {
    let app = axum::Router::new().fallback(move || async move {
        (
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            body,
        )
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{address}")
}

#[tokio::test]
async fn bad_answers_are_errors_naming_the_endpoint_and_the_field() {
    bounded(async {
        let sim = sim().await;
        let task = TaskRef::new("task-1");
        let batch = people(0, 1, "c");
        let phone = batch[0].phone.clone();
        let other_phone = "8613200000077";
        let cases: [(&str, &'static str, &str); 16] = [
            ("call/append", "this is not json 8613200000077", "not JSON"),
            (
                "call/append",
                r#"{"code":0,"data":{"failList":[{"index":0,"phoneNumber":"86132000"#,
                "cut short",
            ),
            ("call/append", "[8613200000077]", "not an object"),
            (
                "call/append",
                r#"{"code":{"value":0},"data":{}}"#,
                "code is an object",
            ),
            (
                "call/append",
                r#"{"code":0,"data":"8613200000077"}"#,
                "data is text",
            ),
            (
                "call/append",
                r#"{"code":0,"data":{"failList":{"index":0,"phoneNumber":"8613200000077"}}}"#,
                "data.failList is an object",
            ),
            (
                "call/append",
                r#"{"code":0,"data":{"successCount":"all","failCount":0}}"#,
                "data.successCount is text",
            ),
            (
                "call/append",
                r#"{"code":20000,"message":["8613200000077 duplicate"]}"#,
                "message is a list",
            ),
            ("order/delete", "<html>8613200000077</html>", "not JSON"),
            ("order/delete", r#"{"code":0,"mess"#, "cut short"),
            ("order/delete", r#"{"code":"zero","data":{}}"#, "code is text"),
            ("order/delete", r#""8613200000077""#, "not an object"),
            ("task/list", r#"{"code":0,"data":[]}"#, "data is a list"),
            (
                "task/list",
                r#"{"code":0,"data":{"list":{"taskId":"task-1"}}}"#,
                "data.list is an object",
            ),
            ("task/list", r#"{"code":0,"data":{"list":[7]}}"#, "data.list[0] is a number"),
            (
                "task/list",
                r#"{"code":0,"data":{"list":[{"taskId":"task-1","statInfo":{"totalOrderCount":{"n":1}}}]}}"#,
                "statInfo.totalOrderCount is an object",
            ),
        ];
        for (op, body, what) in cases {
            let mut spec = nxlink_spec(&sim);
            if let Some(account) = spec.nxlink.as_mut() {
                account.endpoint = Some(answering(body).await);
            }
            let mut settings = settings();
            // One attempt: each answer is the same, retries would only slow the test.
            settings.retry.max_attempts = 1;
            let client = build_with(
                &spec,
                None,
                nx_creds(NX_KEY, NX_SECRET),
                &RateLimiters::new(),
                &key("nx"),
                &settings,
            );
            // An error, never an outcome: nothing is counted added or removed.
            let err = match op {
                "call/append" => client.add(&task, &batch).await.map(|o| o.accepted()),
                "order/delete" => client
                    .remove(&task, &removals(&batch))
                    .await
                    .map(|o| o.accepted()),
                _ => client.drift_hint(&task).await.map(|_| 0),
            }
            .expect_err(body);
            let text = err.to_string();
            assert_eq!(err.reason(), "InvalidResponse", "{body}: {text}");
            assert!(text.contains(op), "names the endpoint ({op}): {text}");
            assert!(text.contains(what), "says what was wrong ({what}): {text}");
            assert!(
                !text.contains(&phone) && !text.contains(other_phone),
                "a full phone in: {text}"
            );
        }
    })
    .await;
}

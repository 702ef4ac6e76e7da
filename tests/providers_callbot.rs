//! The Callbot v3 client against the in-process simulator, over real HTTP and real signatures.
mod providers_support;

use std::collections::BTreeMap;

use callsync::api::SignatureAlgorithm;
use callsync::providers::{
    ContactToAdd, ContactToRemove, ErrorClass, Identity, ItemResult, Provider, ProviderError,
    RateLimiters, RejectReason, RemoteState, TaskRef,
};
use callsync::simulator::{ProviderKind, RunningSimulator, TaskConfig, TaskState};
use providers_support::*;
use serde_json::json;

async fn sim() -> RunningSimulator {
    start(vec![account(
        ProviderKind::Callbot,
        CB_UUID,
        CB_SECRET,
        vec![TaskConfig {
            id: "ut-1".into(),
            state: TaskState::Running,
            variables: vec!["name".into()],
            ..TaskConfig::default()
        }],
    )])
    .await
}

/// International digits 86131xxxxxxxx with the script variable `name`.
fn orders(start: usize, n: usize, id_prefix: &str) -> Vec<ContactToAdd> {
    contacts("86131", 8, start, n, id_prefix)
        .into_iter()
        .map(|mut c| {
            c.variables = BTreeMap::from([("name".to_owned(), "Ann".to_owned())]);
            c.extra = Some("owner=callsync".into());
            c
        })
        .collect()
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
async fn add_list_remove_round_trip_md5_and_sha256_gzip() {
    bounded(async {
        for (algorithm, gzip) in [
            (SignatureAlgorithm::Md5, false),
            (SignatureAlgorithm::Sha256, true),
        ] {
            let sim = sim().await;
            let admin = Admin::new(&sim);
            let spec = with_batch(callbot_spec(&sim, algorithm, gzip), Some(8), Some(5));
            let client = build(
                &spec,
                None,
                cb_creds(CB_UUID, CB_SECRET),
                &RateLimiters::new(),
                &key("cb"),
            );
            let caps = client.capabilities();
            assert_eq!((caps.max_add, caps.max_remove), (8, 5));
            assert_eq!(caps.identity, Identity::RemoteId);
            let task = TaskRef::new("ut-1");
            let batch = orders(0, 30, "o");
            let outcome = client.add(&task, &batch).await.expect("add");
            assert_eq!(outcome.accepted(), 30, "{algorithm:?}: {outcome:?}");
            assert_eq!(admin.calls("/addBatchCall").await, 4); // 8+8+8+6

            let listed = client.list(&task).await.expect("list").expect("can list");
            assert_eq!(listed.len(), 30);
            assert!(
                listed
                    .iter()
                    .all(|c| c.state == RemoteState::Pending && c.removable)
            );
            let ids: Vec<_> = listed.iter().filter_map(|c| c.remote_id.clone()).collect();
            assert!(ids.contains(&"o-0".to_owned()) && ids.contains(&"o-29".to_owned()));
            let contacts = admin.contacts("callbot", CB_UUID, "ut-1").await;
            assert_eq!(contacts[0]["extra"], "owner=callsync");
            assert_eq!(contacts[0]["name"], "Person 0");

            let outcome = client
                .remove(&task, &removals(&batch[..12]))
                .await
                .expect("remove");
            assert_eq!(outcome.accepted(), 12, "{outcome:?}");
            assert_eq!(admin.calls("/stopOrder").await, 3); // 5+5+2
            let left = client.list(&task).await.expect("list").expect("can list");
            assert_eq!(left.len(), 18);
            client.check_credentials().await.expect("ping");
            let exported = match &client {
                callsync::providers::AnyProvider::Callbot(c) => {
                    c.export_batch(&task).await.expect("export")
                }
                _ => unreachable!("callbot spec"),
            };
            assert_eq!(exported.len(), 18);
        }
    })
    .await;
}

#[tokio::test]
async fn per_item_rejections_from_err_list() {
    bounded(async {
        let sim = sim().await;
        let client = build(
            &callbot_spec(&sim, SignatureAlgorithm::Md5, false),
            None,
            cb_creds(CB_UUID, CB_SECRET),
            &RateLimiters::new(),
            &key("cb"),
        );
        let task = TaskRef::new("ut-1");
        let first = orders(0, 1, "a");
        client.add(&task, &first).await.expect("add");
        let mut batch = orders(1, 1, "b");
        let mut invalid = orders(2, 1, "b").remove(0);
        invalid.phone = "013000000000".into(); // leading 0: not country code + number
        batch.push(invalid);
        let mut same_phone = first[0].clone(); // phone already in the task, new orderID
        same_phone.remote_id = "b-dup".into();
        batch.push(same_phone);
        let mut no_variable = orders(3, 1, "b").remove(0);
        no_variable.variables.clear(); // the script needs `name`
        batch.push(no_variable);
        let outcome = client.add(&task, &batch).await.expect("add");
        assert_eq!(outcome.result(0), Some(&ItemResult::Accepted));
        assert_eq!(
            outcome.result(1),
            Some(&ItemResult::Rejected {
                reason: RejectReason::InvalidNumber
            })
        );
        assert_eq!(
            outcome.result(2),
            Some(&ItemResult::Rejected {
                reason: RejectReason::Duplicate
            })
        );
        assert!(
            matches!(
                outcome.result(3),
                Some(ItemResult::Rejected {
                    reason: RejectReason::Other(_)
                })
            ),
            "{outcome:?}"
        );

        // an orderID used by a deleted order stays used: a duplicate, not an accept
        client
            .remove(&task, &removals(&first))
            .await
            .expect("remove");
        let again = client.add(&task, &first).await.expect("add");
        assert_eq!(
            again.result(0),
            Some(&ItemResult::Rejected {
                reason: RejectReason::Duplicate
            })
        );
        // sending the same order again (same id, same phone) is idempotent: accepted
        let repeat = client.add(&task, &batch[..1]).await.expect("add");
        assert_eq!(repeat.result(0), Some(&ItemResult::Accepted));
        let admin = Admin::new(&sim);
        assert_eq!(admin.contacts("callbot", CB_UUID, "ut-1").await.len(), 1);
    })
    .await;
}

#[tokio::test]
async fn removal_results_not_deletable_gone_and_unknown_id() {
    bounded(async {
        let sim = sim().await;
        let admin = Admin::new(&sim);
        let client = build(
            &callbot_spec(&sim, SignatureAlgorithm::Md5, false),
            None,
            cb_creds(CB_UUID, CB_SECRET),
            &RateLimiters::new(),
            &key("cb"),
        );
        let task = TaskRef::new("ut-1");
        let batch = orders(0, 3, "o");
        client.add(&task, &batch).await.expect("add");
        admin
            .mark(
                "callbot",
                CB_UUID,
                "ut-1",
                json!({"remoteIds": ["o-0"], "state": "calling"}),
            )
            .await;
        let listed = client.list(&task).await.expect("list").expect("some");
        let dialling = listed
            .iter()
            .find(|c| c.remote_id.as_deref() == Some("o-0"))
            .expect("o-0");
        assert_eq!(dialling.state, RemoteState::InProgress);
        assert!(!dialling.removable);
        let mut removals = removals(&batch);
        removals.push(ContactToRemove {
            phone: "8613100009999".into(),
            remote_id: Some("never-added".into()),
        });
        removals.push(ContactToRemove {
            phone: "8613100009998".into(),
            remote_id: None,
        });
        let outcome = client.remove(&task, &removals).await.expect("remove");
        assert_eq!(
            outcome.result(0),
            Some(&ItemResult::Rejected {
                reason: RejectReason::NotDeletable
            })
        );
        assert_eq!(outcome.result(1), Some(&ItemResult::Accepted));
        assert_eq!(outcome.result(2), Some(&ItemResult::Accepted));
        assert_eq!(outcome.result(3), Some(&ItemResult::Accepted)); // not there: already gone
        assert!(matches!(
            outcome.result(4),
            Some(ItemResult::Rejected {
                reason: RejectReason::Other(_)
            })
        ));
        let left = admin.contacts("callbot", CB_UUID, "ut-1").await;
        assert_eq!(left.len(), 1);
        assert_eq!(left[0]["stopped"], true);
    })
    .await;
}

#[tokio::test]
async fn error_classes() {
    bounded(async {
        let sim = sim().await;
        let limiters = RateLimiters::new();
        let task = TaskRef::new("ut-1");
        let spec = callbot_spec(&sim, SignatureAlgorithm::Md5, false);
        let bad_secret = build(
            &spec,
            None,
            cb_creds(CB_UUID, "wrong"),
            &limiters,
            &key("cb"),
        );
        let err = bad_secret
            .add(&task, &orders(0, 1, "x"))
            .await
            .expect_err("bad secret");
        assert!(
            matches!(err, ProviderError::SignatureRejected { code: 6, .. }),
            "{err}"
        );
        assert_eq!(err.class(), ErrorClass::Terminal);
        let bad_uuid = build(
            &spec,
            None,
            cb_creds("nobody", CB_SECRET),
            &limiters,
            &key("cb"),
        );
        let err = bad_uuid
            .check_credentials()
            .await
            .expect_err("unknown uuid");
        assert!(
            matches!(err, ProviderError::CredentialsRejected { code: 6002, .. }),
            "{err}"
        );
        // SHA-256 signatures verify too (the `algorithm` header says which)
        let sha = build(
            &callbot_spec(&sim, SignatureAlgorithm::Sha256, false),
            None,
            cb_creds(CB_UUID, CB_SECRET),
            &limiters,
            &key("cb"),
        );
        sha.check_credentials().await.expect("sha256 ping");
        let err = sha
            .list(&TaskRef::new("no-such-task"))
            .await
            .expect_err("unknown task");
        assert_eq!(err.reason(), "TaskNotFound", "{err}");
        // more ids than the provider takes (500, else 4001): the client splits them
        let mut big = callbot_spec(&sim, SignatureAlgorithm::Md5, false);
        big.max_batch_size = None;
        let client = build(
            &big,
            None,
            cb_creds(CB_UUID, CB_SECRET),
            &limiters,
            &key("cb"),
        );
        let err = client.remove(&task, &removals(&orders(0, 501, "z"))).await;
        assert!(err.is_ok(), "{err:?}");
        let admin = Admin::new(&sim);
        assert_eq!(admin.calls("/stopOrder").await, 2);
    })
    .await;
}

#[tokio::test]
async fn retries_after_5xx_busy_and_commit_then_drop_create_no_duplicates() {
    bounded(async {
        let sim = sim().await;
        let admin = Admin::new(&sim);
        admin
            .set_faults(
                "callbot",
                CB_UUID,
                json!({"errorRate": 0.2, "dropAfterCommitRate": 0.5}),
            )
            .await;
        // the provider's own limit is tighter than the client's: it answers 7 (busy), retried
        admin
            .set_rate_limit(
                "callbot",
                CB_UUID,
                json!({"requestsPerSecond": 20.0, "burst": 3}),
            )
            .await;
        let spec = with_batch(
            callbot_spec(&sim, SignatureAlgorithm::Md5, false),
            Some(10),
            Some(10),
        );
        let client = build(
            &spec,
            None,
            cb_creds(CB_UUID, CB_SECRET),
            &RateLimiters::new(),
            &key("cb"),
        );
        let task = TaskRef::new("ut-1");
        let batch = orders(0, 60, "o");
        let outcome = client.add(&task, &batch).await.expect("add");
        assert_eq!(outcome.accepted(), 60, "{outcome:?}");
        let contacts = admin.contacts("callbot", CB_UUID, "ut-1").await;
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
        assert_eq!(outcome.accepted(), 30, "{outcome:?}");
        assert_eq!(admin.contacts("callbot", CB_UUID, "ut-1").await.len(), 30);
        assert!(admin.counter_sum("injectedErrors").await > 0);
        assert!(admin.counter_sum("droppedAfterCommit").await > 0);
        assert!(admin.counter_sum("rateLimited").await > 0);
    })
    .await;
}

//! The Callbot v3 client against the in-process simulator, over real HTTP and real signatures.
mod support;

use std::collections::BTreeMap;

use callsync::api::SignatureAlgorithm;
use callsync::providers::{
    ContactToAdd, ContactToRemove, ErrorClass, Identity, ItemResult, Provider, ProviderError,
    RateLimiters, RejectReason, RemoteState, TaskRef,
};
use callsync::simulator::{ProviderKind, RunningSimulator, TaskConfig, TaskState};
use serde_json::json;
use support::sim::*;

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

// ---- provider truth: the answers the docs leave open ----------------------------------------

use callsync::api::{CallbotAddEndpoint, PhoneFormat};
use callsync::providers::AnyProvider;
use callsync::simulator::Variant;

/// A simulator whose Callbot account answers the `variants`' way.
async fn sim_with(variants: &[Variant]) -> RunningSimulator {
    let mut account = account(
        ProviderKind::Callbot,
        CB_UUID,
        CB_SECRET,
        vec![TaskConfig {
            id: "ut-1".into(),
            state: TaskState::Running,
            variables: vec!["name".into()],
            ..TaskConfig::default()
        }],
    );
    account.variants = variants.iter().copied().collect();
    start(vec![account]).await
}

fn client_for(sim: &RunningSimulator, endpoint: CallbotAddEndpoint) -> AnyProvider {
    let mut spec = callbot_spec(sim, SignatureAlgorithm::Md5, false);
    if let Some(account) = spec.callbot.as_mut() {
        account.add_endpoint = endpoint;
    }
    build(
        &spec,
        None,
        cb_creds(CB_UUID, CB_SECRET),
        &RateLimiters::new(),
        &key("cb"),
    )
}

/// Two orders the simulator takes, and two it refuses after `first` is in the task: the same
/// phone again under a new orderID (duplicate phone) and an order without the script variable.
async fn mixed_batch(client: &AnyProvider, task: &TaskRef) -> Vec<ContactToAdd> {
    let first = orders(0, 1, "a");
    let outcome = client.add(task, &first).await.expect("first add");
    assert_eq!(
        outcome.result(0),
        Some(&ItemResult::Accepted),
        "{outcome:?}"
    );
    let mut batch = orders(1, 2, "b");
    let mut same_phone = first[0].clone();
    same_phone.remote_id = "b-dup".into();
    batch.push(same_phone);
    let mut no_variable = orders(3, 1, "b").remove(0);
    no_variable.variables.clear();
    batch.push(no_variable);
    batch
}

/// The refused items of [`mixed_batch`] are never Accepted; the good ones are, once proven.
fn assert_refusals_not_accepted(outcome: &callsync::providers::BatchOutcome) {
    assert_eq!(
        outcome.result(0),
        Some(&ItemResult::Accepted),
        "{outcome:?}"
    );
    assert_eq!(
        outcome.result(1),
        Some(&ItemResult::Accepted),
        "{outcome:?}"
    );
    for index in [2, 3] {
        assert_ne!(
            outcome.result(index),
            Some(&ItemResult::Accepted),
            "item {index} was refused by the provider: {outcome:?}"
        );
    }
}

#[tokio::test]
async fn err_list_omitted_or_counts_only_leave_refused_orders_in_doubt() {
    bounded(async {
        for variant in [Variant::CallbotErrListOmitted, Variant::CallbotCountsOnly] {
            let sim = sim_with(&[variant]).await;
            let client = client_for(&sim, CallbotAddEndpoint::AddBatchCall);
            let task = TaskRef::new("ut-1");
            let batch = mixed_batch(&client, &task).await;
            let outcome = client.add(&task, &batch).await.expect("add");
            assert_refusals_not_accepted(&outcome);
            // the counts say 2 of 4 failed, errList does not say which: in doubt
            assert_eq!(outcome.result(2), Some(&ItemResult::Unknown), "{variant:?}");
            assert_eq!(outcome.result(3), Some(&ItemResult::Unknown), "{variant:?}");
            // the settling read was a filtered listOrder
            assert!(Admin::new(&sim).calls("/listOrder").await >= 1);
        }
    })
    .await;
}

#[tokio::test]
async fn phones_echoed_in_another_format_are_matched_or_left_in_doubt() {
    bounded(async {
        for variant in [
            Variant::CallbotPhonePlus,
            Variant::CallbotPhoneNational,
            Variant::CallbotPhoneMasked,
        ] {
            let sim = sim_with(&[variant]).await;
            let client = client_for(&sim, CallbotAddEndpoint::AddBatchCall);
            let task = TaskRef::new("ut-1");
            let batch = mixed_batch(&client, &task).await;
            let outcome = client.add(&task, &batch).await.expect("add");
            assert_refusals_not_accepted(&outcome);
            // each echoed phone names exactly one sent phone: read as the refusal it is
            assert_eq!(
                outcome.result(2),
                Some(&ItemResult::Rejected {
                    reason: RejectReason::Duplicate
                }),
                "{variant:?}: {outcome:?}"
            );
            assert!(
                matches!(
                    outcome.result(3),
                    Some(ItemResult::Rejected {
                        reason: RejectReason::Other(_)
                    })
                ),
                "{variant:?}: {outcome:?}"
            );
        }
    })
    .await;
}

#[tokio::test]
async fn a_masked_phone_that_fits_two_sent_phones_leaves_them_in_doubt() {
    bounded(async {
        let sim = sim_with(&[Variant::CallbotPhoneMasked]).await;
        let client = client_for(&sim, CallbotAddEndpoint::AddBatchCall);
        let task = TaskRef::new("ut-1");
        // two phones that differ only where the mask hides digits, both without the variable
        let mut batch = orders(0, 1, "m");
        for (id, phone) in [("m-x", "8613100000001"), ("m-y", "8613155550001")] {
            let mut c = orders(9, 1, "m").remove(0);
            c.remote_id = id.into();
            c.phone = phone.into();
            c.variables.clear();
            batch.push(c);
        }
        let outcome = client.add(&task, &batch).await.expect("add");
        assert_eq!(
            outcome.result(0),
            Some(&ItemResult::Accepted),
            "{outcome:?}"
        );
        assert_eq!(outcome.result(1), Some(&ItemResult::Unknown), "{outcome:?}");
        assert_eq!(outcome.result(2), Some(&ItemResult::Unknown), "{outcome:?}");
    })
    .await;
}

#[tokio::test]
async fn listings_with_unreadable_phones_are_errors_not_listings() {
    bounded(async {
        for (variant, readable) in [
            (Variant::CallbotPhonePlus, true),
            (Variant::CallbotPhoneNational, false),
            (Variant::CallbotPhoneMasked, false),
        ] {
            let sim = sim_with(&[variant]).await;
            let client = client_for(&sim, CallbotAddEndpoint::AddBatchCall);
            let task = TaskRef::new("ut-1");
            let batch = orders(0, 3, "o");
            client.add(&task, &batch).await.expect("add");
            let listed = client.list(&task).await;
            if readable {
                let listed = listed.expect("list").expect("can list");
                let mut phones: Vec<String> = listed.into_iter().map(|c| c.phone).collect();
                phones.sort();
                let sent: Vec<String> = batch.iter().map(|c| c.phone.clone()).collect();
                assert_eq!(phones, sent, "{variant:?}: `+` dropped");
            } else {
                let err = listed.expect_err("a listing callsync cannot read");
                let text = err.to_string();
                assert_eq!(err.reason(), "InvalidResponse", "{variant:?}: {text}");
                assert!(text.contains("listOrder"), "{text}");
                assert!(!text.contains(&batch[0].phone[2..]), "phone masked: {text}");
            }
        }
    })
    .await;
}

#[tokio::test]
async fn listing_pages_on_by_totals_when_pages_are_capped() {
    bounded(async {
        let sim = sim_with(&[Variant::CallbotPageSizeCapped]).await;
        let client = client_for(&sim, CallbotAddEndpoint::AddBatchCall);
        let task = TaskRef::new("ut-1");
        client.add(&task, &orders(0, 130, "o")).await.expect("add");
        let listed = client.list(&task).await.expect("list").expect("can list");
        assert_eq!(listed.len(), 130);
        let ids: std::collections::HashSet<_> =
            listed.iter().filter_map(|c| c.remote_id.clone()).collect();
        assert_eq!(ids.len(), 130, "every order once");
    })
    .await;
}

#[tokio::test]
async fn listing_without_total_count_is_an_error() {
    bounded(async {
        let sim = sim_with(&[Variant::CallbotTotalCountMissing]).await;
        let client = client_for(&sim, CallbotAddEndpoint::AddBatchCall);
        let task = TaskRef::new("ut-1");
        let outcome = client.add(&task, &orders(0, 3, "o")).await.expect("add");
        // no totalCount: the answer proves nothing, and the settling read cannot either
        assert_eq!(outcome.unknown(), 3, "{outcome:?}");
        let err = client.list(&task).await.expect_err("incomplete listing");
        assert_eq!(err.reason(), "InvalidResponse", "{err}");
        assert!(err.to_string().contains("listOrder") && err.to_string().contains("totalCount"));
    })
    .await;
}

/// The count the sync reads between listings is the listing's `totalCount` from a page of one,
/// also when the server caps its pages; a server that refuses a page of one, or answers
/// without a total, gives an error, never a count.
#[tokio::test]
async fn the_count_is_the_listings_total_or_an_error() {
    bounded(async {
        for variants in [vec![], vec![Variant::CallbotPageSizeCapped]] {
            let sim = sim_with(&variants).await;
            let client = client_for(&sim, CallbotAddEndpoint::AddBatchCall);
            let task = TaskRef::new("ut-1");
            assert_eq!(client.count(&task).await.expect("count"), Some(0));
            client.add(&task, &orders(0, 30, "o")).await.expect("add");
            assert_eq!(
                client.count(&task).await.expect("count"),
                Some(30),
                "{variants:?}"
            );
        }
        for variant in [
            Variant::CallbotPageSizeMinimum,
            Variant::CallbotTotalCountMissing,
        ] {
            let sim = sim_with(&[variant]).await;
            let client = client_for(&sim, CallbotAddEndpoint::AddBatchCall);
            let answer = client.count(&TaskRef::new("ut-1")).await;
            assert!(answer.is_err(), "{variant:?}: {answer:?}");
        }
    })
    .await;
}

#[tokio::test]
async fn too_many_array_elements_splits_the_batch_and_keeps_the_smaller_size() {
    bounded(async {
        let sim = sim_with(&[Variant::CallbotBatchLimit100]).await;
        let admin = Admin::new(&sim);
        let client = client_for(&sim, CallbotAddEndpoint::AddBatchCall);
        let task = TaskRef::new("ut-1");
        let batch = orders(0, 250, "o");
        let outcome = client.add(&task, &batch).await.expect("add");
        assert_eq!(outcome.accepted(), 250, "{outcome:?}");
        // 250 refused, 125 refused, then 63 + 63 + 63 + 61
        assert_eq!(admin.calls("/addBatchCall").await, 6);
        assert_eq!(client.capabilities().max_add, 63);
        assert_eq!(admin.contacts("callbot", CB_UUID, "ut-1").await.len(), 250);
        let outcome = client
            .remove(&task, &removals(&batch))
            .await
            .expect("remove");
        assert_eq!(outcome.accepted(), 250, "{outcome:?}");
        assert!(client.capabilities().max_remove <= 100);
        assert!(admin.contacts("callbot", CB_UUID, "ut-1").await.is_empty());
    })
    .await;
}

#[tokio::test]
async fn import_batch_call_fills_only_a_task_without_undialled_orders() {
    bounded(async {
        // the same outcome whether a new batch replaces the undialled orders or is added to them
        for variants in [vec![], vec![Variant::CallbotImportAppends]] {
            let sim = sim_with(&variants).await;
            let admin = Admin::new(&sim);
            let client = client_for(&sim, CallbotAddEndpoint::ImportBatchCall);
            let task = TaskRef::new("ut-1");
            let first = orders(0, 30, "o");
            let outcome = client.add(&task, &first).await.expect("import");
            assert_eq!(outcome.accepted(), 30, "{variants:?}: {outcome:?}");
            assert_eq!(admin.calls("/importBatchCall").await, 1, "never split");
            // 30 undialled orders: a second import would replace them or be added to them
            let err = client
                .add(&task, &orders(30, 5, "o"))
                .await
                .expect_err("refused");
            assert!(err.to_string().contains("addBatchCall"), "{err}");
            assert_eq!(admin.calls("/importBatchCall").await, 1, "nothing sent");
            assert_eq!(admin.contacts("callbot", CB_UUID, "ut-1").await.len(), 30);
            // once every order is dialled, both readings agree again
            let ids: Vec<String> = first.iter().map(|c| c.remote_id.clone()).collect();
            admin
                .mark(
                    "callbot",
                    CB_UUID,
                    "ut-1",
                    json!({"remoteIds": ids, "state": "calling"}),
                )
                .await;
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            let outcome = client
                .add(&task, &orders(30, 5, "o"))
                .await
                .expect("second import");
            assert_eq!(outcome.accepted(), 5, "{variants:?}: {outcome:?}");
            assert_eq!(admin.contacts("callbot", CB_UUID, "ut-1").await.len(), 35);
        }
    })
    .await;
}

#[tokio::test]
async fn messages_in_english_or_chinese_are_read_alike() {
    bounded(async {
        for variant in [
            Variant::CallbotEnglishMessages,
            Variant::CallbotChineseMessages,
        ] {
            let sim = sim_with(&[variant]).await;
            let client = client_for(&sim, CallbotAddEndpoint::AddBatchCall);
            let task = TaskRef::new("ut-1");
            let batch = mixed_batch(&client, &task).await;
            let outcome = client.add(&task, &batch).await.expect("add");
            assert_refusals_not_accepted(&outcome);
            assert_eq!(
                outcome.result(2),
                Some(&ItemResult::Rejected {
                    reason: RejectReason::Duplicate
                }),
                "{variant:?}"
            );
            // the same orders again: "orderID in use" for our own orders is read as landed
            let again = client.add(&task, &batch[..2]).await.expect("again");
            assert_eq!(again.accepted(), 2, "{variant:?}: {again:?}");
            // an order not there is already gone; an unknown task is TaskNotFound
            let gone = client
                .remove(
                    &task,
                    &[ContactToRemove {
                        phone: "8613100009999".into(),
                        remote_id: Some("never-added".into()),
                    }],
                )
                .await
                .expect("remove");
            assert_eq!(gone.result(0), Some(&ItemResult::Accepted), "{variant:?}");
            let err = client
                .list(&TaskRef::new("no-such-task"))
                .await
                .expect_err("unknown task");
            assert_eq!(err.reason(), "TaskNotFound", "{variant:?}: {err}");
        }
    })
    .await;
}

#[tokio::test]
async fn unknown_fields_in_answers_change_nothing() {
    bounded(async {
        let sim = sim_with(&[Variant::UnknownFields]).await;
        let client = client_for(&sim, CallbotAddEndpoint::AddBatchCall);
        let task = TaskRef::new("ut-1");
        let batch = mixed_batch(&client, &task).await;
        let outcome = client.add(&task, &batch).await.expect("add");
        assert_refusals_not_accepted(&outcome);
        assert_eq!(outcome.unknown(), 0, "{outcome:?}");
        let listed = client.list(&task).await.expect("list").expect("can list");
        assert_eq!(listed.len(), 3);
        let outcome = client
            .remove(&task, &removals(&batch[..2]))
            .await
            .expect("remove");
        assert_eq!(outcome.accepted(), 2);
    })
    .await;
}

#[tokio::test]
async fn e164_phone_format_is_refused_with_a_clear_message() {
    let sim = sim().await;
    let mut spec = callbot_spec(&sim, SignatureAlgorithm::Md5, false);
    if let Some(account) = spec.callbot.as_mut() {
        account.phone_format = PhoneFormat::E164;
    }
    let err = callsync::providers::factory::build_provider_with(
        &key("cb"),
        &spec,
        None,
        std::sync::Arc::new(callsync::providers::StaticCredentials(cb_creds(
            CB_UUID, CB_SECRET,
        ))),
        &RateLimiters::new(),
        &settings(),
    )
    .expect_err("E164 refused");
    assert_eq!(err.reason(), "InvalidProviderConfig");
    assert!(err.to_string().contains("InternationalDigits"), "{err}");
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
        let task = TaskRef::new("ut-1");
        let batch = orders(0, 1, "o");
        let phone = batch[0].phone.clone();
        let cases: [(&str, &'static str, &str); 8] = [
            ("addBatchCall", "this is not json", "not JSON"),
            ("addBatchCall", r#"{"retCode":0,"totalCount":1,"success"#, "not JSON"),
            ("addBatchCall", "[1,2]", "not an object"),
            (
                "addBatchCall",
                r#"{"retCode":0,"totalCount":"1","successCount":1,"errList":[]}"#,
                "totalCount is text",
            ),
            (
                "addBatchCall",
                r#"{"retCode":0,"totalCount":1,"successCount":0,"errList":[{"phone":{"n":8613100000000},"errMsg":"x"}]}"#,
                "errList[0].phone is an object",
            ),
            (
                "addBatchCall",
                r#"{"retCode":0,"totalCount":1,"successCount":0,"errList":{"phone":"8613100000000"}}"#,
                "errList is an object",
            ),
            (
                "listOrder",
                r#"{"retCode":0,"totalCount":1,"orderList":[5]}"#,
                "a row is a number",
            ),
            (
                "listOrder",
                r#"{"retCode":0,"totalCount":"many","orderList":[]}"#,
                "totalCount is text",
            ),
        ];
        for (op, body, what) in cases {
            let mut spec = callbot_spec(&sim, SignatureAlgorithm::Md5, false);
            if let Some(account) = spec.callbot.as_mut() {
                account.endpoint = answering(body).await;
            }
            let client = build(
                &spec,
                None,
                cb_creds(CB_UUID, CB_SECRET),
                &RateLimiters::new(),
                &key("cb"),
            );
            let err = if op == "listOrder" {
                client.list(&task).await.map(|_| ()).expect_err(body)
            } else {
                client.add(&task, &batch).await.map(|_| ()).expect_err(body)
            };
            let text = err.to_string();
            assert_eq!(err.reason(), "InvalidResponse", "{body}: {text}");
            assert!(text.contains(op), "names the endpoint: {text}");
            assert!(text.contains(what), "says what was wrong ({what}): {text}");
            assert!(!text.contains(&phone) && !text.contains("8613100000000"), "{text}");
        }
    })
    .await;
}

#[tokio::test]
async fn a_removal_whose_check_cannot_be_read_stays_in_doubt() {
    bounded(async {
        let sim = sim().await;
        let mut spec = callbot_spec(&sim, SignatureAlgorithm::Md5, false);
        // stopOrder succeeds, and listOrderDetail answers the same: no orderDetailList, which
        // must not read as "none of the orders is there any more"
        if let Some(account) = spec.callbot.as_mut() {
            account.endpoint =
                answering(r#"{"retCode":0,"totalCount":1,"successCount":1,"errList":[]}"#).await;
        }
        let client = build(
            &spec,
            None,
            cb_creds(CB_UUID, CB_SECRET),
            &RateLimiters::new(),
            &key("cb"),
        );
        let outcome = client
            .remove(&TaskRef::new("ut-1"), &removals(&orders(0, 1, "o")))
            .await
            .expect("remove");
        assert_eq!(outcome.result(0), Some(&ItemResult::Unknown), "{outcome:?}");
    })
    .await;
}

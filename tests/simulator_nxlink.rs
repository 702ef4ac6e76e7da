//! NXLink AI Agent open API against the simulator, over real HTTP.
mod support;

use serde_json::{Value, json};
use support::sim::wire::*;
use support::sim::*;

fn contact(id: &str, phone: &str) -> Value {
    json!({"contactId": id, "name": phone, "phoneNumber": phone})
}

async fn signed_post(
    api: &Api,
    body: &str,
    headers: Vec<(&'static str, String)>,
    content_type: &str,
) -> Value {
    let mut request = api
        .http
        .post(format!("{}/openapi/aiagent/task/list", api.base))
        .header("content-type", content_type)
        .body(body.to_owned());
    for (k, v) in headers {
        request = request.header(k, v);
    }
    json_of(request.send().await.expect("send")).await.1
}

#[tokio::test]
async fn auth_errors_1001_to_1005() {
    let sim = start_config(config()).await;
    let api = Api::new(&sim);
    let body = r#"{"pageNumber":1,"pageSize":10}"#;
    let ts = now_ms().to_string();
    let sign = |ts: &str, secret: &str| {
        callsync::signing::nxlink_sign(DOCS_NX_KEY, "nxai", "100", ts, body.as_bytes(), secret)
    };
    let headers = |ts: &str, sign: String| {
        vec![
            ("accessKey", DOCS_NX_KEY.to_owned()),
            ("ts", ts.to_owned()),
            ("bizType", "100".to_owned()),
            ("action", "nxai".to_owned()),
            ("sign", sign),
        ]
    };
    let ok = signed_post(
        &api,
        body,
        headers(&ts, sign(&ts, DOCS_NX_SECRET)),
        "application/json",
    )
    .await;
    assert_eq!(ok["code"], 0, "{ok}");
    assert_eq!(ok["message"], "success");
    assert!(ok["traceId"].is_string());

    let mut missing = headers(&ts, sign(&ts, DOCS_NX_SECRET));
    missing.pop();
    assert_eq!(
        signed_post(&api, body, missing, "application/json").await["code"],
        1001
    );
    let mut biz = headers(&ts, sign(&ts, DOCS_NX_SECRET));
    biz[2].1 = "8".into();
    assert_eq!(
        signed_post(&api, body, biz, "application/json").await["code"],
        1002
    );
    assert_eq!(
        signed_post(
            &api,
            body,
            headers(&ts, sign(&ts, "wrong")),
            "application/json"
        )
        .await["code"],
        1003
    );
    assert_eq!(
        signed_post(
            &api,
            body,
            headers(&ts, sign(&ts, DOCS_NX_SECRET)),
            "text/plain"
        )
        .await["code"],
        1003,
        "wrong Content-Type"
    );
    let stale = (now_ms() - 61_000).to_string();
    assert_eq!(
        signed_post(
            &api,
            body,
            headers(&stale, sign(&stale, DOCS_NX_SECRET)),
            "application/json"
        )
        .await["code"],
        1004
    );
    let secs = (now_ms() / 1000).to_string();
    assert_eq!(
        signed_post(
            &api,
            body,
            headers(&secs, sign(&secs, DOCS_NX_SECRET)),
            "application/json"
        )
        .await["code"],
        1004,
        "seconds are not milliseconds"
    );
    let hostile = i64::MIN.to_string();
    assert_eq!(
        signed_post(
            &api,
            body,
            headers(&hostile, sign(&hostile, DOCS_NX_SECRET)),
            "application/json"
        )
        .await["code"],
        1004
    );
    let mut other_key = headers(&ts, sign(&ts, DOCS_NX_SECRET));
    other_key[0].1 = "AK-unknown".into();
    assert_eq!(
        signed_post(&api, body, other_key, "application/json").await["code"],
        1005
    );
}

#[tokio::test]
async fn append_is_all_or_nothing_with_globally_unique_contact_ids() {
    let sim = start_config(config()).await;
    let api = Api::new(&sim);
    let (_, body) = api
        .nx("call/append", json!({"taskId": "task-1", "list": [contact("c1", "8613000000001"), contact("c2", "8613000000002")]}))
        .await;
    assert_eq!(body["code"], 0, "{body}");
    assert_eq!(
        api.phones("nxlink", DOCS_NX_KEY, "task-1").await,
        vec!["8613000000001", "8613000000002"]
    );

    for (list, why) in [
        (
            vec![
                contact("c3", "8613000000003"),
                contact("c1", "8613000000004"),
            ],
            "contactId reused",
        ),
        (
            vec![
                contact("c3", "8613000000003"),
                contact("c4", "8613000000001"),
            ],
            "phone already in the task",
        ),
        (
            vec![
                contact("c3", "8613000000003"),
                contact("c3", "8613000000004"),
            ],
            "contactId twice in one call",
        ),
        (vec![contact("c3", "+8613000000003")], "invalid phone"),
        (
            vec![json!({"contactId": "c3", "phoneNumber": "8613000000003"})],
            "name missing",
        ),
    ] {
        let (_, body) = api
            .nx("call/append", json!({"taskId": "task-1", "list": list}))
            .await;
        assert_eq!(body["code"], 20000, "{why}: {body}");
    }
    assert_eq!(
        api.phones("nxlink", DOCS_NX_KEY, "task-1").await.len(),
        2,
        "nothing applied"
    );

    let hundred_one: Vec<Value> = (0..101)
        .map(|i| contact(&format!("m{i}"), &format!("86131{:08}", i)))
        .collect();
    let (_, body) = api
        .nx(
            "call/append",
            json!({"taskId": "task-1", "list": hundred_one}),
        )
        .await;
    assert_eq!(body["code"], 20000);
    let (_, body) = api
        .nx(
            "call/append",
            json!({"taskId": "nope", "list": [contact("z", "8613000000009")]}),
        )
        .await;
    assert_eq!(body["code"], 20000);
    let (_, body) = api
        .nx(
            "call/append",
            json!({"list": [contact("z", "8613000000009")]}),
        )
        .await;
    assert_eq!(body["code"], 20000);
    let (_, body) = api
        .nx("call/append", json!({"taskId": "task-1", "countryCode": "62", "list": [contact("z", "8613000000009")]}))
        .await;
    assert_eq!(
        body["code"], 20000,
        "phone must carry the given country code"
    );
}

#[tokio::test]
async fn delete_one_pending_contact_per_call() {
    let sim = start_config(config()).await;
    let api = Api::new(&sim);
    api.nx("call/append", json!({"taskId": "task-1", "list": [contact("c1", "8613000000001"), contact("c2", "8613000000002"), contact("c3", "8613000000003")]}))
        .await;
    api.mark(
        "nxlink",
        DOCS_NX_KEY,
        "task-1",
        json!({"remoteIds": ["c2"], "state": "calling"}),
    )
    .await;

    let (_, body) = api
        .nx(
            "order/delete",
            json!({"userTaskId": "EXT-1", "contactId": "c1"}),
        )
        .await;
    assert_eq!(body["code"], 0, "{body}");
    assert_eq!(body["data"], Value::Null);
    let (_, body) = api
        .nx(
            "order/delete",
            json!({"taskId": "task-1", "contactId": "c2"}),
        )
        .await;
    assert_eq!(body["code"], 20000, "not pending: {body}");
    let (_, body) = api
        .nx(
            "order/delete",
            json!({"taskId": "task-1", "contactId": "c1"}),
        )
        .await;
    assert_eq!(body["code"], 20000, "already gone");
    let (_, body) = api.nx("order/delete", json!({"contactId": "c3"})).await;
    assert_eq!(body["code"], 20000, "no task given");
    // userTaskId wins over taskId
    let (_, body) = api
        .nx(
            "order/delete",
            json!({"taskId": "wrong", "userTaskId": "EXT-1", "contactId": "c3"}),
        )
        .await;
    assert_eq!(body["code"], 0, "{body}");
    assert_eq!(
        api.phones("nxlink", DOCS_NX_KEY, "task-1").await,
        vec!["8613000000002"]
    );
    // a deleted contactId cannot come back
    let (_, body) = api
        .nx(
            "call/append",
            json!({"taskId": "task-1", "list": [contact("c1", "8613000000001")]}),
        )
        .await;
    assert_eq!(body["code"], 20000);
}

#[tokio::test]
async fn task_list_counts_imported_orders_and_call_list_shows_dialled() {
    let sim = start_config(config()).await;
    let api = Api::new(&sim);
    api.nx("call/append", json!({"taskId": "task-1", "list": [contact("c1", "8613000000001"), contact("c2", "8613000000002")]}))
        .await;
    api.nx(
        "order/delete",
        json!({"taskId": "task-1", "contactId": "c1"}),
    )
    .await;
    api.mark(
        "nxlink",
        DOCS_NX_KEY,
        "task-1",
        json!({"remoteIds": ["c2"], "state": "finished"}),
    )
    .await;
    let (_, body) = api
        .nx("task/list", json!({"pageNumber": 1, "pageSize": 10}))
        .await;
    assert_eq!(body["code"], 0, "{body}");
    let task = &body["data"]["list"][0];
    assert_eq!(task["taskId"], "task-1");
    assert_eq!(task["userTaskId"], "EXT-1");
    assert_eq!(task["taskStatus"], 2);
    assert_eq!(
        task["statInfo"]["totalOrderCount"], 2,
        "counted at import, not decremented"
    );
    assert_eq!(task["statInfo"]["finishOrderCount"], 1);
    assert_eq!(body["data"]["total"], 1);
    let (_, body) = api.nx("task/list", json!({"pageNumber": 1})).await;
    assert_eq!(body["code"], 20000);
    let (_, calls) = api
        .nx(
            "call/list",
            json!({"taskId": "task-1", "pageNumber": 1, "pageSize": 10}),
        )
        .await;
    assert_eq!(calls["data"]["total"], 1);
    assert_eq!(calls["data"]["list"][0]["contactId"], "c2");
    let (_, calls) = api
        .nx(
            "call/list",
            json!({"taskId": "task-1", "pageNumber": 1, "pageSize": 5}),
        )
        .await;
    assert_eq!(calls["code"], 20000, "pageSize is 10..=1000");
}

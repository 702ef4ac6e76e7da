//! Admin API, rate limits, fault injection (including commit-then-drop), counters and the audit
//! log, over real HTTP.
mod support;

use std::time::Duration;

use callsync::simulator::{FaultConfig, RateLimitConfig};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::sim::wire::*;
use support::sim::*;

fn lll_rows(phones: &[&str]) -> Value {
    json!({"data": phones.iter().map(|p| json!({"phone": p})).collect::<Vec<_>>()})
}

#[tokio::test]
async fn admin_creates_accounts_and_tasks_and_marks_contacts() {
    let sim = start_config(callsync::simulator::SimulatorConfig::default()).await;
    let api = Api::new(&sim);
    let (status, body) = api
        .admin(
            Method::POST,
            "accounts",
            json!({"provider": "longlonglong", "id": LLL_USER, "secret": LLL_TOKEN,
                   "tasks": [{"id": "t9", "generation": "2.0", "state": "paused"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["tasks"][0]["generation"], "2.0");
    let (status, _) = api
        .admin(
            Method::POST,
            "accounts",
            json!({"provider": "longlonglong", "id": LLL_USER, "secret": "x"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, body) = api
        .admin(
            Method::POST,
            &format!("accounts/longlonglong/{LLL_USER}/tasks"),
            json!({"id": "t10", "state": "running"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["generation"], "1.0");

    let (_, added) = api
        .lll(
            Method::POST,
            "task/t9/number",
            Some(lll_rows(&["13012121211", "13012121212"])),
        )
        .await;
    assert_eq!(added["code"], 200, "{added}");
    let marked = api
        .mark(
            "longlonglong",
            LLL_USER,
            "t9",
            json!({"phones": ["13012121211", "13099999999"], "state": "calling"}),
        )
        .await;
    assert_eq!(marked, json!({"marked": 1, "missing": ["13099999999"]}));
    let task = api
        .admin_get(&format!("accounts/longlonglong/{LLL_USER}/tasks/t9"))
        .await;
    assert_eq!(
        task["task"]["contacts"],
        json!({"pending": 1, "calling": 1, "finished": 0})
    );
    assert_eq!(task["contacts"][0]["state"], "calling");

    let (_, state) = api
        .admin(
            Method::PUT,
            &format!("accounts/longlonglong/{LLL_USER}/tasks/t9/state"),
            json!({"state": "running"}),
        )
        .await;
    assert_eq!(state["state"], "running");
    let (_, refused) = api
        .lll(
            Method::POST,
            "task/t9/number",
            Some(lll_rows(&["13012121213"])),
        )
        .await;
    assert_eq!(refused["code"], 6007);

    let accounts = api.admin_get("accounts").await;
    assert_eq!(accounts[0]["secret"], LLL_TOKEN);
    let counters = api.admin_get("counters").await;
    assert_eq!(
        counters["POST /agent-api/user/{user_id}/task/{task_id}/number"]["calls"],
        2
    );
    let audit = api.admin_get("audit").await;
    let ops: Vec<(&str, &str)> = audit
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| {
                    (
                        e["operation"].as_str().unwrap_or(""),
                        e["outcome"].as_str().unwrap_or(""),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(
        ops,
        vec![
            ("add", "applied"),
            ("add", "applied"),
            ("mark", "applied"),
            ("task-status", "applied")
        ]
    );
    let since = api.admin_get("audit?since=3").await;
    assert_eq!(since.as_array().map(Vec::len), Some(1));
    assert_eq!(since[0]["seq"], 4);
}

#[tokio::test]
async fn rate_limit_per_account_with_each_providers_reply() {
    let mut config = config();
    config.rate_limit = Some(RateLimitConfig {
        requests_per_second: 0.001,
        burst: 2,
    });
    let sim = start_config(config).await;
    let api = Api::new(&sim);
    for _ in 0..2 {
        let (status, _) = api.lll(Method::GET, "task/t1/number", None).await;
        assert_eq!(status, StatusCode::OK);
    }
    let (status, body) = api.lll(Method::GET, "task/t1/number", None).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(body["code"], 429);

    let list = json!({"productID": "callbot", "page": 1, "size": 10});
    api.cb("listTask", list.clone()).await;
    api.cb("listTask", list.clone()).await;
    let (status, body) = api.cb("listTask", list).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["retCode"], 7);

    let tasks = json!({"pageNumber": 1, "pageSize": 10});
    api.nx("task/list", tasks.clone()).await;
    api.nx("task/list", tasks.clone()).await;
    let (_, body) = api.nx("task/list", tasks.clone()).await;
    assert_eq!(body["code"], 20000);
    assert_eq!(body["message"], "too many requests");

    // changed at run time, per account
    let (status, _) = api
        .admin(
            Method::PUT,
            &format!("accounts/nxlink/{DOCS_NX_KEY}/rate-limit"),
            json!({"requestsPerSecond": 1000, "burst": 1000}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, body) = api.nx("task/list", tasks.clone()).await;
    assert_eq!(body["code"], 0);
    let (status, _) = api.lll(Method::GET, "task/t1/number", None).await;
    assert_eq!(
        status,
        StatusCode::TOO_MANY_REQUESTS,
        "other accounts keep theirs"
    );
    let counters = api.admin_get("counters").await;
    assert_eq!(
        counters["POST /openapi/aiagent/task/list"]["rateLimited"],
        1
    );
}

#[tokio::test]
async fn commit_then_drop_changes_state_but_the_client_sees_a_connection_error() {
    let sim = start_config(config()).await;
    let api = Api::new(&sim);
    let (status, _) = api
        .admin(Method::PUT, "faults", json!({"dropAfterCommitRate": 1.0}))
        .await;
    assert_eq!(status, StatusCode::OK);

    // NXLink append: applied, no answer
    let body = json!({"taskId": "task-1", "list": [{"contactId": "d1", "name": "a", "phoneNumber": "8613000000001"}]}).to_string();
    let ts = now_ms().to_string();
    let sign = callsync::signing::nxlink_sign(
        DOCS_NX_KEY,
        "nxai",
        "100",
        &ts,
        body.as_bytes(),
        DOCS_NX_SECRET,
    );
    let result = api
        .http
        .post(format!("{}/openapi/aiagent/call/append", api.base))
        .header("content-type", "application/json")
        .header("accessKey", DOCS_NX_KEY)
        .header("ts", &ts)
        .header("bizType", "100")
        .header("action", "nxai")
        .header("sign", sign)
        .body(body)
        .send()
        .await;
    let err = result.expect_err("the connection must be dropped");
    assert!(!err.is_timeout(), "{err:?}");
    assert_eq!(
        api.phones("nxlink", DOCS_NX_KEY, "task-1").await,
        vec!["8613000000001"]
    );

    // longlonglong sync add, same story
    let result = api
        .http
        .post(api.lll_url("task/t1/number"))
        .bearer_auth(LLL_TOKEN)
        .json(&lll_rows(&["13012121211"]))
        .send()
        .await;
    assert!(result.is_err());
    assert_eq!(
        api.phones("longlonglong", LLL_USER, "t1").await,
        vec!["13012121211"]
    );

    // reads and refused writes are answered normally
    let (_, body) = api
        .nx("task/list", json!({"pageNumber": 1, "pageSize": 10}))
        .await;
    assert_eq!(body["code"], 0);
    let (_, body) = api
        .nx("call/append", json!({"taskId": "task-1", "list": [{"contactId": "d1", "name": "a", "phoneNumber": "8613000000001"}]}))
        .await;
    assert_eq!(
        body["code"], 20000,
        "a naive retry finds the id used: {body}"
    );

    let counters = api.admin_get("counters").await;
    assert_eq!(
        counters["POST /openapi/aiagent/call/append"]["droppedAfterCommit"],
        1
    );
    let audit = api.admin_get("audit").await;
    let applied = audit
        .as_array()
        .map(|a| a.iter().filter(|e| e["outcome"] == "applied").count());
    assert_eq!(applied, Some(2));
}

#[tokio::test]
async fn injected_errors_and_timeouts_leave_state_untouched() {
    let sim = start_config(config()).await;
    let api = Api::new(&sim);
    api.admin(
        Method::PUT,
        &format!("accounts/longlonglong/{LLL_USER}/faults"),
        json!({"errorRate": 1.0}),
    )
    .await;
    let (status, body) = api
        .lll(
            Method::POST,
            "task/t1/number",
            Some(lll_rows(&["13012121211"])),
        )
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["code"], 503);
    assert!(api.phones("longlonglong", LLL_USER, "t1").await.is_empty());

    // Callbot: HTTP 500, retCode 5001; other accounts are unaffected by the longlonglong fault
    let (status, _) = api
        .cb(
            "listTask",
            json!({"productID": "callbot", "page": 1, "size": 10}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    api.admin(Method::PUT, "faults", json!({"errorRate": 1.0}))
        .await;
    let (status, body) = api
        .cb(
            "listTask",
            json!({"productID": "callbot", "page": 1, "size": 10}),
        )
        .await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(body["retCode"], 5001);

    // timeouts: the request is held, then closed without answer
    api.admin(
        Method::PUT,
        "faults",
        json!({"timeoutRate": 1.0, "timeoutHoldMs": 200}),
    )
    .await;
    let started = std::time::Instant::now();
    let result = api
        .http
        .post(format!("{}/openapi/aiagent/task/list", api.base))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await;
    assert!(result.is_err());
    assert!(started.elapsed() >= Duration::from_millis(190));
    // a client with a shorter timeout sees a timeout
    let result = api
        .http
        .post(format!("{}/openapi/aiagent/task/list", api.base))
        .timeout(Duration::from_millis(50))
        .body("{}")
        .send()
        .await;
    assert!(result.is_err_and(|e| e.is_timeout()));

    // latency
    api.admin(Method::PUT, "faults", json!({"latencyMs": 150}))
        .await;
    let started = std::time::Instant::now();
    api.nx("task/list", json!({"pageNumber": 1, "pageSize": 10}))
        .await;
    assert!(started.elapsed() >= Duration::from_millis(150));
    let faults = api.admin_get("faults").await;
    assert_eq!(faults["latencyMs"], 150);
    let (status, _) = api
        .admin(Method::PUT, "faults", json!({"errorRate": 2.0}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let _ = FaultConfig::default();
}

#[tokio::test]
async fn seeded_chaos_loses_nothing_and_duplicates_nothing() {
    // A client that retries appends after errors, recognising "id already used" as success,
    // converges; the audit log shows each contact added exactly once.
    let mut config = config();
    config.seed = 42;
    config.faults = FaultConfig {
        error_rate: 0.2,
        timeout_rate: 0.1,
        timeout_hold_ms: 50,
        drop_after_commit_rate: 0.3,
        ..FaultConfig::default()
    };
    let sim = start_config(config).await;
    let api = Api::new(&sim);
    let phones: Vec<String> = (0..30).map(|i| format!("86130{:08}", i)).collect();
    for (i, phone) in phones.iter().enumerate() {
        let body = json!({"taskId": "task-1", "list": [{"contactId": format!("k{i}"), "name": "n", "phoneNumber": phone}]});
        let mut done = false;
        for _attempt in 0..50 {
            let body = body.to_string();
            let ts = now_ms().to_string();
            let sign = callsync::signing::nxlink_sign(
                DOCS_NX_KEY,
                "nxai",
                "100",
                &ts,
                body.as_bytes(),
                DOCS_NX_SECRET,
            );
            let sent = api
                .http
                .post(format!("{}/openapi/aiagent/call/append", api.base))
                .header("content-type", "application/json")
                .header("accessKey", DOCS_NX_KEY)
                .header("ts", &ts)
                .header("bizType", "100")
                .header("action", "nxai")
                .header("sign", sign)
                .body(body)
                .send()
                .await;
            let Ok(response) = sent else { continue };
            let (status, reply) = json_of(response).await;
            if status != StatusCode::OK {
                continue;
            }
            if reply["code"] == 0
                || reply["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("id already used"))
            {
                done = true;
                break;
            }
        }
        assert!(done, "contact {i} never confirmed");
    }
    assert_eq!(api.phones("nxlink", DOCS_NX_KEY, "task-1").await, phones);
    let audit = api.admin_get("audit").await;
    let added: Vec<&str> = audit
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|e| e["operation"] == "add" && e["outcome"] == "applied")
                .filter_map(|e| e["phone"].as_str())
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(added.len(), 30);
    let counters = api.admin_get("counters").await;
    let c = &counters["POST /openapi/aiagent/call/append"];
    assert!(c["droppedAfterCommit"].as_u64() > Some(0), "{c}");
    assert!(c["injectedErrors"].as_u64() > Some(0), "{c}");
}

//! NXtele Callbot v3 against the simulator, over real HTTP.
mod support;

use std::io::Write;

use callsync::api::SignatureAlgorithm;
use serde_json::{Value, json};
use support::sim::wire::*;
use support::sim::*;

fn order(id: &str, phone: &str) -> Value {
    json!({"orderID": id, "userPhone": phone, "other": "o", "userName": "", "customerName": "",
           "params": [{"name": "name", "value": "x"}]})
}

fn add_body(orders: Vec<Value>) -> Value {
    json!({"productID": "callbot", "userTaskID": "ut-1",
           "callInfoList": {"orderCallbackUrl": "http://cb/o", "callCallbackUrl": "http://cb/c", "callList": orders}})
}

#[tokio::test]
async fn add_reports_per_phone_errors() {
    let sim = start_config(config()).await;
    let api = Api::new(&sim);
    let (_, body) = api
        .cb(
            "addBatchCall",
            add_body(vec![
                order("o1", "8613012121211"),
                order("o2", "8613012121212"),
            ]),
        )
        .await;
    assert_eq!(body["retCode"], 0, "{body}");
    assert_eq!(body["totalCount"], 2);
    assert_eq!(body["successCount"], 2);
    assert!(body["responseID"].is_string());

    let mut missing_var = order("o6", "8613012121216");
    missing_var["params"] = json!([]);
    let (_, body) = api
        .cb(
            "addBatchCall",
            add_body(vec![
                order("o1", "8613012121213"),  // orderID reused
                order("o3", "8613012121211"),  // phone already in the task
                order("o4", "+8613012121214"), // invalid phone
                order("o5", "8613012121215"),  // fine
                missing_var,                   // script variable missing
            ]),
        )
        .await;
    assert_eq!(body["retCode"], 0, "{body}");
    assert_eq!(body["totalCount"], 5);
    assert_eq!(body["successCount"], 1);
    let errs = body["errList"].as_array().cloned().unwrap_or_default();
    let phones: Vec<&str> = errs.iter().filter_map(|e| e["phone"].as_str()).collect();
    assert_eq!(
        phones,
        vec![
            "8613012121213",
            "8613012121211",
            "+8613012121214",
            "8613012121216"
        ]
    );
    assert!(errs.iter().all(|e| e["errMsg"].is_string()));

    let too_many: Vec<Value> = (0..501)
        .map(|i| order(&format!("x{i}"), &format!("86130{:08}", i)))
        .collect();
    let (_, body) = api.cb("addBatchCall", add_body(too_many)).await;
    assert_eq!(body["retCode"], 4001);

    let (_, body) = api
        .cb(
            "addBatchCall",
            json!({"productID": "callbot", "userTaskID": "ut-1"}),
        )
        .await;
    assert_eq!(body["retCode"], 2, "missing callInfoList: {body}");
    let (_, body) = api.cb("addBatchCall", json!({"productID": "callbot", "userTaskID": 5, "callInfoList": {"orderCallbackUrl": "a", "callCallbackUrl": "b", "callList": []}})).await;
    assert_eq!(body["retCode"], 3, "{body}");
    let mut wrong_product = add_body(vec![order("o9", "8613012121219")]);
    wrong_product["productID"] = json!("other");
    let (_, body) = api.cb("addBatchCall", wrong_product).await;
    assert_eq!(body["retCode"], 4);
    let mut unknown_task = add_body(vec![order("o9", "8613012121219")]);
    unknown_task["userTaskID"] = json!("nope");
    let (_, body) = api.cb("addBatchCall", unknown_task).await;
    assert_eq!(body["retCode"], 4);
}

#[tokio::test]
async fn responses_are_signed_and_sha256_and_gzip_requests_work() {
    let sim = start_config(config()).await;
    let api = Api::new(&sim);
    let body = add_body(vec![order("g1", "8613012121211")])
        .to_string()
        .into_bytes();
    let response = api
        .cb_send("addBatchCall", body, SignatureAlgorithm::Sha256)
        .await;
    let headers = response.headers().clone();
    let text = response.text().await.expect("body");
    let sign = callsync::signing::callbot_sign(
        SignatureAlgorithm::Sha256,
        DOCS_CB_SECRET,
        text.as_bytes(),
        headers["createTs"].to_str().unwrap_or_default(),
        headers["requestID"].to_str().unwrap_or_default(),
        DOCS_CB_UUID,
    );
    assert_eq!(headers["sign"].to_str().ok(), Some(sign.as_str()));
    assert_eq!(headers["algorithm"].to_str().ok(), Some("SHA256"));
    assert!(text.contains("\"retCode\":0"), "{text}");

    // gzip: the signature covers the uncompressed JSON
    let json_body = add_body(vec![order("g2", "8613012121212")]).to_string();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(json_body.as_bytes()).expect("gzip");
    let compressed = gz.finish().expect("gzip");
    let ts = now_secs().to_string();
    let sign = callsync::signing::callbot_sign(
        SignatureAlgorithm::Md5,
        DOCS_CB_SECRET,
        json_body.as_bytes(),
        &ts,
        "req-gz",
        DOCS_CB_UUID,
    );
    let response = api
        .http
        .post(format!("{}/callcentre/api/v3/importBatchCall", api.base))
        .header("content-type", "application/json")
        .header("content-encoding", "gzip")
        .header("requestID", "req-gz")
        .header("uuid", DOCS_CB_UUID)
        .header("createTs", ts)
        .header("sign", sign)
        .body(compressed)
        .send()
        .await
        .expect("request");
    let (_, body) = json_of(response).await;
    assert_eq!(body["retCode"], 0, "{body}");
    assert_eq!(body["successCount"], 1);
}

#[tokio::test]
async fn signature_failures_get_6_6001_6002() {
    let sim = start_config(config()).await;
    let api = Api::new(&sim);
    let url = format!("{}/callcentre/api/v3/ping", api.base);
    let body = r#"{"data":"ping"}"#;
    let send = |headers: Vec<(&'static str, String)>| {
        let mut request = api
            .http
            .post(&url)
            .header("content-type", "application/json")
            .body(body);
        for (k, v) in headers {
            request = request.header(k, v);
        }
        request.send()
    };
    let ts = now_secs().to_string();
    let good = callsync::signing::callbot_sign(
        SignatureAlgorithm::Md5,
        DOCS_CB_SECRET,
        body.as_bytes(),
        &ts,
        "r1",
        DOCS_CB_UUID,
    );

    let (_, ok) = json_of(
        send(vec![
            ("requestID", "r1".into()),
            ("uuid", DOCS_CB_UUID.into()),
            ("createTs", ts.clone()),
            ("sign", good.clone()),
        ])
        .await
        .expect("send"),
    )
    .await;
    assert_eq!(ok["code"], 0, "{ok}");
    assert_eq!(ok["data"], "ping");
    assert_eq!(ok["reqId"], "r1");

    let (_, missing) = json_of(
        send(vec![
            ("requestID", "r1".into()),
            ("uuid", DOCS_CB_UUID.into()),
            ("createTs", ts.clone()),
        ])
        .await
        .expect("send"),
    )
    .await;
    assert_eq!(missing["retCode"], 6001);
    let (_, unknown) = json_of(
        send(vec![
            ("requestID", "r1".into()),
            ("uuid", "nobody".into()),
            ("createTs", ts.clone()),
            ("sign", good.clone()),
        ])
        .await
        .expect("send"),
    )
    .await;
    assert_eq!(unknown["retCode"], 6002);
    let (_, bad) = json_of(
        send(vec![
            ("requestID", "r2".into()),
            ("uuid", DOCS_CB_UUID.into()),
            ("createTs", ts.clone()),
            ("sign", good.clone()),
        ])
        .await
        .expect("send"),
    )
    .await;
    assert_eq!(bad["retCode"], 6);
    let lower = good.to_lowercase();
    let (_, lowercase) = json_of(
        send(vec![
            ("requestID", "r1".into()),
            ("uuid", DOCS_CB_UUID.into()),
            ("createTs", ts.clone()),
            ("sign", lower),
        ])
        .await
        .expect("send"),
    )
    .await;
    assert_eq!(lowercase["retCode"], 6, "the docs say uppercase hex");
    let stale_ts = (now_secs() - 3600).to_string();
    let stale = callsync::signing::callbot_sign(
        SignatureAlgorithm::Md5,
        DOCS_CB_SECRET,
        body.as_bytes(),
        &stale_ts,
        "r1",
        DOCS_CB_UUID,
    );
    let (_, old) = json_of(
        send(vec![
            ("requestID", "r1".into()),
            ("uuid", DOCS_CB_UUID.into()),
            ("createTs", stale_ts),
            ("sign", stale),
        ])
        .await
        .expect("send"),
    )
    .await;
    assert_eq!(old["retCode"], 6);
    // SHA256 signature sent without the algorithm header is checked as MD5 and refused
    let sha = callsync::signing::callbot_sign(
        SignatureAlgorithm::Sha256,
        DOCS_CB_SECRET,
        body.as_bytes(),
        &ts,
        "r1",
        DOCS_CB_UUID,
    );
    let (_, wrong_alg) = json_of(
        send(vec![
            ("requestID", "r1".into()),
            ("uuid", DOCS_CB_UUID.into()),
            ("createTs", ts.clone()),
            ("sign", sha),
        ])
        .await
        .expect("send"),
    )
    .await;
    assert_eq!(wrong_alg["retCode"], 6);
    // the first, accepted request sent again: requestID must be unique per request
    let (_, replay) = json_of(
        send(vec![
            ("requestID", "r1".into()),
            ("uuid", DOCS_CB_UUID.into()),
            ("createTs", ts.clone()),
            ("sign", good.clone()),
        ])
        .await
        .expect("send"),
    )
    .await;
    assert_eq!(replay["retCode"], 4, "{replay}");
}

#[tokio::test]
async fn import_replaces_undialled_orders_and_blocks_while_running() {
    let mut config = config();
    config.callbot_import_ms = 300;
    let sim = start_config(config).await;
    let api = Api::new(&sim);
    let (_, body) = api
        .cb(
            "importBatchCall",
            add_body(vec![
                order("a1", "8613000000001"),
                order("a2", "8613000000002"),
                order("a3", "8613000000003"),
            ]),
        )
        .await;
    assert_eq!(body["retCode"], 0, "{body}");
    assert_eq!(body["successCount"], 3);
    let (_, busy) = api
        .cb(
            "importBatchCall",
            add_body(vec![order("b1", "8613000000004")]),
        )
        .await;
    assert_eq!(busy["retCode"], 1001);
    let (_, busy) = api
        .cb(
            "exportBatchCall",
            json!({"productID": "callbot", "userTaskID": "ut-1"}),
        )
        .await;
    assert_eq!(busy["retCode"], 1001);
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;

    api.mark(
        "callbot",
        DOCS_CB_UUID,
        "ut-1",
        json!({"remoteIds": ["a1"], "state": "finished"}),
    )
    .await;
    // new batch: a1 (dialled) stays, a2 and a3 (undialled) go; a3's phone comes back with a new id
    let (_, body) = api
        .cb(
            "importBatchCall",
            add_body(vec![
                order("b3", "8613000000003"),
                order("b4", "8613000000004"),
                order("a2", "8613000000009"),
            ]),
        )
        .await;
    assert_eq!(body["retCode"], 0, "{body}");
    assert_eq!(body["successCount"], 2);
    assert_eq!(
        body["errList"][0]["phone"], "8613000000009",
        "orderIDs stay used: {body}"
    );
    assert_eq!(
        api.phones("callbot", DOCS_CB_UUID, "ut-1").await,
        vec!["8613000000001", "8613000000003", "8613000000004"]
    );
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let (_, export) = api
        .cb(
            "exportBatchCall",
            json!({"productID": "callbot", "userTaskID": "ut-1"}),
        )
        .await;
    assert_eq!(export["retCode"], 0, "{export}");
    assert_eq!(export["totalCount"], 2, "only the latest batch: {export}");
    assert_eq!(export["callList"][0]["orderID"], "b3");
    assert_eq!(export["batchID"], "3");

    // exportBatchCall answers gzip when asked (the signature covers the uncompressed JSON)
    let body = json!({"productID": "callbot", "userTaskID": "ut-1"}).to_string();
    let ts = now_secs().to_string();
    let sign = callsync::signing::callbot_sign(
        SignatureAlgorithm::Md5,
        DOCS_CB_SECRET,
        body.as_bytes(),
        &ts,
        "req-export",
        DOCS_CB_UUID,
    );
    let raw_client = reqwest::Client::builder()
        .no_gzip()
        .build()
        .expect("client");
    let response = raw_client
        .post(format!("{}/callcentre/api/v3/exportBatchCall", api.base))
        .header("content-type", "application/json")
        .header("accept-encoding", "gzip")
        .header("requestID", "req-export")
        .header("uuid", DOCS_CB_UUID)
        .header("createTs", ts)
        .header("sign", sign)
        .body(body)
        .send()
        .await
        .expect("request");
    assert_eq!(response.headers()["content-encoding"], "gzip");
    let headers = response.headers().clone();
    let compressed = response.bytes().await.expect("body");
    let mut text = String::new();
    std::io::Read::read_to_string(
        &mut flate2::read::GzDecoder::new(&compressed[..]),
        &mut text,
    )
    .expect("gunzip");
    assert!(text.contains("\"batchID\":\"3\""), "{text}");
    let expected = callsync::signing::callbot_sign(
        SignatureAlgorithm::Md5,
        DOCS_CB_SECRET,
        text.as_bytes(),
        headers["createTs"].to_str().unwrap_or_default(),
        "req-export",
        DOCS_CB_UUID,
    );
    assert_eq!(headers["sign"].to_str().ok(), Some(expected.as_str()));

    let audit = api.admin_get("audit").await;
    let replaced: Vec<&str> = audit
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|e| e["operation"] == "import-replace")
                .filter_map(|e| e["remoteId"].as_str())
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(replaced, vec!["a2", "a3"]);
}

#[tokio::test]
async fn stop_order_deletes_only_undialled_with_del_call() {
    let sim = start_config(config()).await;
    let api = Api::new(&sim);
    api.cb(
        "addBatchCall",
        add_body(vec![
            order("s1", "8613000000001"),
            order("s2", "8613000000002"),
            order("s3", "8613000000003"),
        ]),
    )
    .await;
    api.mark(
        "callbot",
        DOCS_CB_UUID,
        "ut-1",
        json!({"remoteIds": ["s2"], "state": "calling"}),
    )
    .await;
    let (_, body) = api
        .cb("stopOrder", json!({"productID": "callbot", "userTaskID": "ut-1", "orderIDs": ["s1", "s2", "nope"], "delCall": 1}))
        .await;
    assert_eq!(body["retCode"], 0, "{body}");
    assert_eq!(body["totalCount"], 3);
    assert_eq!(body["successCount"], 2);
    assert_eq!(
        body["errList"],
        json!([{"orderID": "nope", "errMsg": "订单不存在"}])
    );
    assert_eq!(
        api.phones("callbot", DOCS_CB_UUID, "ut-1").await,
        vec!["8613000000002", "8613000000003"]
    );

    let (_, body) = api
        .cb(
            "stopOrder",
            json!({"productID": "callbot", "userTaskID": "ut-1", "orderIDs": ["s3"], "delCall": 0}),
        )
        .await;
    assert_eq!(body["successCount"], 1);
    assert_eq!(
        api.phones("callbot", DOCS_CB_UUID, "ut-1").await.len(),
        2,
        "delCall 0 stops but keeps"
    );

    let many: Vec<String> = (0..501).map(|i| format!("x{i}")).collect();
    let (_, body) = api
        .cb(
            "stopOrder",
            json!({"productID": "callbot", "userTaskID": "ut-1", "orderIDs": many, "delCall": 1}),
        )
        .await;
    assert_eq!(body["retCode"], 4001);

    // listOrder / listOrderDetail see the states
    let (_, list) = api
        .cb("listOrder", json!({"productID": "callbot", "userTaskID": "ut-1", "options": {"orderID": null, "finish": null}, "page": 1, "size": 100}))
        .await;
    assert_eq!(list["retCode"], 0, "{list}");
    assert_eq!(list["totalCount"], 2);
    assert_eq!(list["orderList"][0]["orderID"], "s2");
    assert_eq!(list["orderList"][0]["callStatus"], 1);
    assert_eq!(list["orderList"][1]["finish"], true, "stopped");
    let (_, missing_options) = api
        .cb(
            "listOrder",
            json!({"productID": "callbot", "userTaskID": "ut-1", "page": 1, "size": 10}),
        )
        .await;
    assert_eq!(missing_options["retCode"], 2);
    let (_, detail) = api
        .cb(
            "listOrderDetail",
            json!({"productID": "callbot", "userTaskID": "ut-1", "orderList": ["s2", "s1"]}),
        )
        .await;
    assert_eq!(detail["orderDetailList"].as_array().map(Vec::len), Some(1));
    let ids: Vec<String> = (0..501).map(|i| format!("x{i}")).collect();
    let (_, detail) = api
        .cb(
            "listOrderDetail",
            json!({"productID": "callbot", "userTaskID": "ut-1", "orderList": ids}),
        )
        .await;
    assert_eq!(detail["retCode"], 4001);
}

#[tokio::test]
async fn list_order_pages_and_mgr_task_status() {
    let sim = start_config(config()).await;
    let api = Api::new(&sim);
    let orders: Vec<Value> = (0..25)
        .map(|i| order(&format!("p{i}"), &format!("86130{:08}", i)))
        .collect();
    api.cb("addBatchCall", add_body(orders)).await;
    let mut ids = Vec::new();
    for page in 1..=3 {
        let (_, list) = api
            .cb("listOrder", json!({"productID": "callbot", "userTaskID": "ut-1", "options": {}, "page": page, "size": 10}))
            .await;
        assert_eq!(list["totalCount"], 25);
        for row in list["orderList"].as_array().cloned().unwrap_or_default() {
            ids.push(row["orderID"].as_str().unwrap_or_default().to_owned());
        }
    }
    assert_eq!(ids, (0..25).map(|i| format!("p{i}")).collect::<Vec<_>>());
    let (_, big) = api.cb("listOrder", json!({"productID": "callbot", "userTaskID": "ut-1", "options": {}, "page": 1, "size": 101})).await;
    assert_eq!(big["retCode"], 4);

    let (_, paused) = api
        .cb(
            "mgrTaskStatus",
            json!({"productID": "callbot", "userTaskID": "ut-1", "taskOperate": 2}),
        )
        .await;
    assert_eq!(paused["retCode"], 0, "{paused}");
    assert_eq!(paused["taskStatus"], 5);
    let (_, tasks) = api.cb("listTask", json!({"productID": "callbot", "page": 1, "size": 10, "queryConditions": {"taskStatus": [5]}})).await;
    assert_eq!(tasks["taskData"][0]["userTaskID"], "ut-1");
    let (_, done) = api
        .cb(
            "mgrTaskStatus",
            json!({"productID": "callbot", "userTaskID": "ut-1", "taskOperate": 3, "delCall": 1}),
        )
        .await;
    assert_eq!(done["taskStatus"], 3);
    assert!(
        api.phones("callbot", DOCS_CB_UUID, "ut-1").await.is_empty(),
        "delCall 1 deleted the undialled orders"
    );
    let (_, restart) = api
        .cb(
            "mgrTaskStatus",
            json!({"productID": "callbot", "userTaskID": "ut-1", "taskOperate": 1}),
        )
        .await;
    assert_eq!(restart["retCode"], 4);
    let (_, add) = api
        .cb(
            "addBatchCall",
            add_body(vec![order("late", "8613012121211")]),
        )
        .await;
    assert_eq!(add["retCode"], 4, "a completed task takes no orders");
}

// ---- variants: the other readings of what the docs leave open --------------------------------

use callsync::simulator::{ProviderKind, Variant};

/// The usual configuration with the Callbot account answering the `variants`' way.
async fn start_with(variants: &[Variant]) -> callsync::simulator::RunningSimulator {
    let mut config = config();
    for account in &mut config.accounts {
        if account.provider == ProviderKind::Callbot {
            account.variants = variants.iter().copied().collect();
        }
    }
    start_config(config).await
}

/// One order the simulator takes and one it refuses (phone already in the task).
async fn add_one_good_one_refused(api: &Api) -> Value {
    let (_, body) = api
        .cb("addBatchCall", add_body(vec![order("v1", "8613100000001")]))
        .await;
    assert_eq!(body["retCode"], 0, "{body}");
    let (_, body) = api
        .cb(
            "addBatchCall",
            add_body(vec![
                order("v2", "8613100000002"),
                order("v3", "8613100000001"),
            ]),
        )
        .await;
    assert_eq!(body["retCode"], 0, "{body}");
    body
}

fn list_body(page: u64, size: u64) -> Value {
    json!({"productID": "callbot", "userTaskID": "ut-1", "options": {"orderID": null, "finish": null},
           "page": page, "size": size})
}

#[tokio::test]
async fn variant_err_list_omitted_and_counts_only() {
    let sim = start_with(&[Variant::CallbotErrListOmitted]).await;
    let body = add_one_good_one_refused(&Api::new(&sim)).await;
    assert_eq!(
        (body["totalCount"].clone(), body["successCount"].clone()),
        (json!(2), json!(1))
    );
    assert!(body.get("errList").is_none(), "{body}");

    let sim = start_with(&[Variant::CallbotCountsOnly]).await;
    let body = add_one_good_one_refused(&Api::new(&sim)).await;
    assert_eq!(body["successCount"], 1);
    assert_eq!(body["errList"], json!([]), "{body}");
}

#[tokio::test]
async fn variant_phones_echoed_in_another_format() {
    for (variant, echoed) in [
        (Variant::CallbotPhonePlus, "+8613100000001"),
        (Variant::CallbotPhoneNational, "13100000001"),
        (Variant::CallbotPhoneMasked, "86131****0001"),
    ] {
        let sim = start_with(&[variant]).await;
        let api = Api::new(&sim);
        let body = add_one_good_one_refused(&api).await;
        assert_eq!(body["errList"][0]["phone"], echoed, "{variant:?}: {body}");
        let (_, listed) = api.cb("listOrder", list_body(1, 100)).await;
        let phones: Vec<&str> = listed["orderList"]
            .as_array()
            .map(|rows| {
                rows.iter()
                    .filter_map(|r| r["userPhone"].as_str())
                    .collect()
            })
            .unwrap_or_default();
        assert!(phones.contains(&echoed), "{variant:?}: {listed}");
    }
}

#[tokio::test]
async fn variant_page_size_capped_and_total_count_missing() {
    let sim = start_with(&[Variant::CallbotPageSizeCapped]).await;
    let api = Api::new(&sim);
    let orders: Vec<Value> = (0..45)
        .map(|i| order(&format!("p{i}"), &format!("86131000000{i:02}")))
        .collect();
    let (_, body) = api.cb("addBatchCall", add_body(orders)).await;
    assert_eq!(body["successCount"], 45, "{body}");
    let (_, page) = api.cb("listOrder", list_body(1, 100)).await;
    assert_eq!(page["totalCount"], 45);
    assert_eq!(page["orderList"].as_array().map(Vec::len), Some(20));
    let (_, page3) = api.cb("listOrder", list_body(3, 100)).await;
    assert_eq!(
        page3["orderList"].as_array().map(Vec::len),
        Some(5),
        "pages by 20"
    );

    let sim = start_with(&[Variant::CallbotTotalCountMissing]).await;
    let api = Api::new(&sim);
    let body = add_one_good_one_refused(&api).await;
    assert!(body.get("totalCount").is_none(), "{body}");
    let (_, listed) = api.cb("listOrder", list_body(1, 100)).await;
    assert!(listed.get("totalCount").is_none(), "{listed}");
    assert_eq!(listed["orderList"].as_array().map(Vec::len), Some(2));
}

#[tokio::test]
async fn variant_import_appends_keeps_undialled_orders() {
    for (variants, kept) in [(vec![], 1), (vec![Variant::CallbotImportAppends], 2)] {
        let sim = start_with(&variants).await;
        let api = Api::new(&sim);
        let (_, body) = api
            .cb(
                "importBatchCall",
                add_body(vec![order("i1", "8613100000001")]),
            )
            .await;
        assert_eq!(body["retCode"], 0, "{body}");
        // the import stays "running" (1001) for a moment; retry until it is done
        let mut body = json!({});
        for _ in 0..50 {
            let (_, b) = api
                .cb(
                    "importBatchCall",
                    add_body(vec![order("i2", "8613100000002")]),
                )
                .await;
            body = b;
            if body["retCode"] != 1001 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert_eq!(body["retCode"], 0, "{body}");
        let phones = api.phones("callbot", DOCS_CB_UUID, "ut-1").await;
        assert_eq!(phones.len(), kept, "{variants:?}: {phones:?}");
    }
}

#[tokio::test]
async fn variant_batch_limit_and_messages() {
    let sim = start_with(&[Variant::CallbotBatchLimit100]).await;
    let api = Api::new(&sim);
    let orders: Vec<Value> = (0..101)
        .map(|i| order(&format!("b{i}"), &format!("8613100000{i:03}")))
        .collect();
    let (_, body) = api.cb("addBatchCall", add_body(orders)).await;
    assert_eq!(body["retCode"], 4001, "{body}");

    let sim = start_with(&[Variant::CallbotEnglishMessages]).await;
    let api = Api::new(&sim);
    let (_, body) = api
        .cb(
            "addBatchCall",
            add_body(vec![order("e1", "+8613100000001")]),
        )
        .await;
    assert_eq!(
        body["errList"][0]["errMsg"],
        "invalid phone number format: country code + number, digits only"
    );

    let sim = start_with(&[Variant::CallbotChineseMessages]).await;
    let api = Api::new(&sim);
    let body = add_one_good_one_refused(&api).await;
    assert_eq!(
        body["errList"][0]["errMsg"], "号码重复,已在任务中",
        "{body}"
    );
    let (_, body) = api
        .cb("addBatchCall", add_body(vec![order("v1", "8613100000009")]))
        .await;
    assert_eq!(body["errList"][0]["errMsg"], "订单ID已存在", "{body}");
}

#[tokio::test]
async fn variant_unknown_fields_in_callbot_answers() {
    let sim = start_with(&[Variant::UnknownFields]).await;
    let api = Api::new(&sim);
    let body = add_one_good_one_refused(&api).await;
    assert!(body["traceInfo"].is_object(), "{body}");
    assert!(body["errList"][0]["extInfo"].is_object(), "{body}");
    let (_, listed) = api.cb("listOrder", list_body(1, 100)).await;
    assert!(listed["orderList"][0]["extInfo"].is_object(), "{listed}");
}

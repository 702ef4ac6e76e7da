//! longlonglong agent-api against the simulator, over real HTTP.
mod support;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::sim::wire::*;
use support::sim::*;

fn rows(phones: &[&str]) -> Value {
    json!(
        phones
            .iter()
            .map(|p| json!({"phone": p, "name": "n", "sort": 0}))
            .collect::<Vec<_>>()
    )
}

fn phones_from(start: u64, n: u64) -> Vec<String> {
    (0..n)
        .map(|i| format!("{}", 13_000_000_000 + start + i))
        .collect()
}

#[tokio::test]
async fn auth_is_a_bearer_token_of_the_path_user() {
    let sim = start_config(config()).await;
    let api = Api::new(&sim);
    let url = api.lll_url("task/t1/number");
    let (status, body) = api.lll_as("wrong", Method::GET, &url, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["code"], 401);
    let response = api.http.get(&url).send().await.expect("request");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let other_user = format!("{}/agent-api/user/someone-else/task/t1/number", api.base);
    let (status, body) = api.lll_as(LLL_TOKEN, Method::GET, &other_user, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["code"], 403);
    let (status, body) = api
        .lll_as(
            LLL_TOKEN,
            Method::GET,
            &format!("{}/agent-api/token", api.base),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["code"], 200);
}

#[tokio::test]
async fn sync_add_limits_duplicates_and_skip_error() {
    let sim = start_config(config()).await;
    let api = Api::new(&sim);
    let (_, body) = api
        .lll(
            Method::POST,
            "task/t1/number",
            Some(json!({"ignore_crm": true, "data": rows(&["13012121211", "13012121212"])})),
        )
        .await;
    assert_eq!(body["code"], 200, "{body}");
    assert_eq!(body["status"], "success");
    assert_eq!(body["data"]["success_count"], 2);

    // 101 rows: over the documented 100
    let many = phones_from(100, 101);
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    let (status, body) = api
        .lll(
            Method::POST,
            "task/t1/number",
            Some(json!({"data": rows(&many)})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["code"], 422);
    assert_eq!(body["status"], "error");

    // a duplicate without skip_error aborts the whole call
    let (_, body) = api
        .lll(
            Method::POST,
            "task/t1/number",
            Some(json!({"data": rows(&["13012121211", "13012121213"])})),
        )
        .await;
    assert_eq!(body["code"], 422, "{body}");
    assert_eq!(
        api.phones("longlonglong", LLL_USER, "t1").await,
        vec!["13012121211", "13012121212"]
    );

    // with skip_error the valid rows go in and the others are reported
    let (_, body) = api
        .lll(
            Method::POST,
            "task/t1/number",
            Some(json!({"skip_error": true, "data": rows(&["13012121211", "13012121213", "8613012121214", "13012121213"])})),
        )
        .await;
    assert_eq!(body["code"], 200, "{body}");
    assert_eq!(body["data"]["success_count"], 1);
    assert_eq!(body["data"]["fail_count"], 3);
    assert_eq!(
        api.phones("longlonglong", LLL_USER, "t1").await,
        vec!["13012121211", "13012121212", "13012121213"]
    );

    // number_add_suffix lets a duplicate in as phone_xxxxxx
    let (_, body) = api
        .lll(
            Method::POST,
            "task/t1/number",
            Some(json!({"number_add_suffix": true, "data": rows(&["13012121211"])})),
        )
        .await;
    assert_eq!(body["code"], 200, "{body}");
    let phones = api.phones("longlonglong", LLL_USER, "t1").await;
    assert_eq!(phones.len(), 4);
    assert!(
        phones[3].starts_with("13012121211_") && phones[3].len() == 18,
        "{phones:?}"
    );
}

#[tokio::test]
async fn async_add_applies_after_the_delay_and_reports_through_identification() {
    let sim = start_config(config()).await;
    let api = Api::new(&sim);
    let many = phones_from(0, 201);
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    let (_, body) = api
        .lll(
            Method::POST,
            "task/t1/async_number",
            Some(json!({"data": rows(&many)})),
        )
        .await;
    assert_eq!(body["code"], 422, "201 rows are over the documented 200");

    api.lll(
        Method::POST,
        "task/t1/number",
        Some(json!({"data": rows(&["13012121211"])})),
    )
    .await;
    let (_, body) = api
        .lll(
            Method::POST,
            "task/t1/async_number",
            Some(json!({"ignore_crm": true, "data": rows(&many[..200]).as_array().cloned().unwrap_or_default().into_iter().chain(rows(&["13012121211"]).as_array().cloned().unwrap_or_default()).take(200).collect::<Vec<_>>()})),
        )
        .await;
    assert_eq!(body["code"], 200, "{body}");
    assert_eq!(body["message"], "号码导入任务信息请在回调中查收");
    let unique_id = body["data"]["unique_id"]
        .as_str()
        .expect("unique_id")
        .to_owned();

    let (_, result) = api
        .lll(Method::GET, &format!("identification/{unique_id}"), None)
        .await;
    assert_eq!(result["data"]["status"], "processing");
    assert_eq!(api.phones("longlonglong", LLL_USER, "t1").await.len(), 1);

    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let (_, result) = api
        .lll(Method::GET, &format!("identification/{unique_id}"), None)
        .await;
    assert_eq!(result["data"]["status"], "finished", "{result}");
    assert_eq!(result["data"]["success_count"], 200);
    assert_eq!(api.phones("longlonglong", LLL_USER, "t1").await.len(), 201);

    // a duplicate in a later batch is refused in the result
    let (_, body) = api
        .lll(
            Method::POST,
            "task/t1/async_number",
            Some(json!({"data": rows(&["13012121211"])})),
        )
        .await;
    let unique_id = body["data"]["unique_id"]
        .as_str()
        .expect("unique_id")
        .to_owned();
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let (_, result) = api
        .lll(Method::GET, &format!("identification/{unique_id}"), None)
        .await;
    assert_eq!(result["data"]["success_count"], 0);
    assert_eq!(result["data"]["fail"][0]["phone"], "13012121211");

    let (_, missing) = api.lll(Method::GET, "identification/nope", None).await;
    assert_eq!(missing["code"], 404);
}

#[tokio::test]
async fn list_pages_with_meta_and_status_filter() {
    let sim = start_config(config()).await;
    let api = Api::new(&sim);
    let phones = phones_from(0, 40);
    let refs: Vec<&str> = phones.iter().map(String::as_str).collect();
    api.lll(
        Method::POST,
        "task/t1/number",
        Some(json!({"data": rows(&refs)})),
    )
    .await;
    let (_, page1) = api
        .lll(Method::GET, "task/t1/number?page=1&per_page=15", None)
        .await;
    assert_eq!(
        page1["meta"],
        json!({"has_pages": true, "total": 40, "last_page": 3, "current_page": 1, "per_page": 15})
    );
    assert_eq!(page1["data"].as_array().map(Vec::len), Some(15));
    let (_, page3) = api
        .lll(Method::GET, "task/t1/number?page=3&per_page=15", None)
        .await;
    assert_eq!(page3["data"].as_array().map(Vec::len), Some(10));
    assert_eq!(page3["data"][9]["phone"], phones[39]);
    let mut seen = Vec::new();
    for page in 1..=3 {
        let (_, body) = api
            .lll(
                Method::GET,
                &format!("task/t1/number?page={page}&per_page=15"),
                None,
            )
            .await;
        for row in body["data"].as_array().cloned().unwrap_or_default() {
            seen.push(row["phone"].as_str().unwrap_or_default().to_owned());
        }
    }
    assert_eq!(seen, phones, "pages are stable and complete");
    let (_, too_big) = api
        .lll(Method::GET, "task/t1/number?per_page=101", None)
        .await;
    assert_eq!(too_big["code"], 422);

    api.mark(
        "longlonglong",
        LLL_USER,
        "t1",
        json!({"phones": [phones[0], phones[1]], "state": "finished"}),
    )
    .await;
    let (_, called) = api
        .lll(Method::GET, "task/t1/number?status[]=2", None)
        .await;
    assert_eq!(called["meta"]["total"], 2);
    assert_eq!(called["data"][0]["status"], 2);
    let (_, pending) = api
        .lll(Method::GET, "task/t1/number?status=0&per_page=100", None)
        .await;
    assert_eq!(pending["meta"]["total"], 38);

    let (_, detail) = api
        .lll(
            Method::GET,
            &format!("task/t1/number/detail/{}", phones[5]),
            None,
        )
        .await;
    assert_eq!(detail["data"]["phone"], phones[5]);
    let (_, missing) = api
        .lll(Method::GET, "task/t1/number/detail/13999999999", None)
        .await;
    assert_eq!(missing["code"], 404);
    let (_, no_task) = api.lll(Method::GET, "task/nope/number", None).await;
    assert_eq!(no_task["code"], 404);
}

#[tokio::test]
async fn delete_removes_pending_numbers_only() {
    let sim = start_config(config()).await;
    let api = Api::new(&sim);
    api.lll(
        Method::POST,
        "task/t1/number",
        Some(json!({"data": rows(&["13012121211", "13012121212", "13012121213"])})),
    )
    .await;
    api.mark(
        "longlonglong",
        LLL_USER,
        "t1",
        json!({"phones": ["13012121212"], "state": "finished"}),
    )
    .await;
    let (_, body) = api
        .lll(
            Method::DELETE,
            "task/t1/number-batch-delete",
            Some(json!({"customer_info_list": [{"phone": "13012121211"}, {"phone": "13012121212"}, {"phone": "13099999999"}]})),
        )
        .await;
    assert_eq!(
        body,
        json!({"code": 200, "status": "success", "message": "批量删除号码成功"})
    );
    assert_eq!(
        api.phones("longlonglong", LLL_USER, "t1").await,
        vec!["13012121212", "13012121213"]
    );

    let too_many: Vec<Value> = phones_from(0, 201)
        .iter()
        .map(|p| json!({"phone": p}))
        .collect();
    let (_, body) = api
        .lll(
            Method::DELETE,
            "task/t1/number-batch-delete",
            Some(json!({"customer_info_list": too_many})),
        )
        .await;
    assert_eq!(body["code"], 422);

    let audit = api.admin_get("audit").await;
    let kept: Vec<&Value> = audit
        .as_array()
        .map(|a| a.iter().filter(|e| e["outcome"] == "kept").collect())
        .unwrap_or_default();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0]["phone"], "13012121212");
}

#[tokio::test]
async fn running_2_0_task_refuses_changes_with_6007_until_paused() {
    let sim = start_config(config()).await;
    let api = Api::new(&sim);
    let add = json!({"data": rows(&["13012121211"])});
    for endpoint in ["task/t2/number", "task/t2/async_number"] {
        let (status, body) = api.lll(Method::POST, endpoint, Some(add.clone())).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            body,
            json!({"code": 6007, "status": "error", "message": "2.0任务启动中,请先停止任务", "data": []})
        );
    }
    let del = json!({"customer_info_list": [{"phone": "13012121211"}]});
    let (_, body) = api
        .lll(
            Method::DELETE,
            "task/t2/number-batch-delete",
            Some(del.clone()),
        )
        .await;
    assert_eq!(body["code"], 6007);

    // the 1.0 pause endpoint does not serve 2.0 tasks
    let (_, body) = api.lll(Method::GET, "task_stop/t2", None).await;
    assert_eq!(body["code"], 404);
    let url = format!("{}/agent-api/new/user/{LLL_USER}/task_stop/t2", api.base);
    let (_, body) = api
        .lll_as(LLL_TOKEN, Method::PUT, &url, Some(json!({})))
        .await;
    assert_eq!(body["code"], 200, "{body}");
    let (_, body) = api.lll(Method::POST, "task/t2/number", Some(add)).await;
    assert_eq!(body["code"], 200, "{body}");
    let (_, body) = api
        .lll(Method::DELETE, "task/t2/number-batch-delete", Some(del))
        .await;
    assert_eq!(body["code"], 200);

    // 1.0 tasks take changes while running; the 2.0 list shows enable/call_status
    let (_, body) = api
        .lll(
            Method::POST,
            "task/t1/number",
            Some(json!({"data": rows(&["13012121211"])})),
        )
        .await;
    assert_eq!(body["code"], 200);
    let url = format!("{}/agent-api/new/user/{LLL_USER}/task", api.base);
    let (_, list) = api.lll_as(LLL_TOKEN, Method::GET, &url, None).await;
    assert_eq!(list["data"][0]["enable"], false);
    let url = format!("{}/agent-api/new/user/{LLL_USER}/task_start/t2", api.base);
    let (_, body) = api
        .lll_as(LLL_TOKEN, Method::PUT, &url, Some(json!({})))
        .await;
    assert_eq!(body["code"], 200);
    let (_, list) = api.lll(Method::GET, "task?status=2", None).await;
    assert_eq!(list["data"][0]["uuid"], "t1");
    assert_eq!(list["data"][0]["status"], 2);
}

// ---- sub-accounts and variants ---------------------------------------------------------------

use callsync::simulator::{TaskConfig, Variant};

/// `config()` plus task `st` of sub-account `sub-1`, the longlonglong account answering the
/// `variants`' way.
async fn start_with(variants: &[Variant]) -> callsync::simulator::RunningSimulator {
    let mut config = config();
    let account = &mut config.accounts[0];
    account.variants = variants.iter().copied().collect();
    account
        .tasks
        .push(TaskConfig::new("st").with_sub_user_id("sub-1"));
    start_config(config).await
}

fn sub_rows(phones: &[&str], sub: &str) -> Value {
    json!(
        phones
            .iter()
            .map(|p| json!({"phone": p, "sort": 0, "sub_user_id": sub}))
            .collect::<Vec<_>>()
    )
}

#[tokio::test]
async fn sub_accounts_own_tasks_and_read_sub_user_id_at_the_top_or_per_row() {
    let sim = start_with(&[]).await;
    let api = Api::new(&sim);
    // top level (the docs' example) or per row (the docs' table) both reach the sub-account
    let (_, body) = api
        .lll(
            Method::POST,
            "task/st/number",
            Some(json!({"sub_user_id": "sub-1", "data": rows(&["13012121211"])})),
        )
        .await;
    assert_eq!(body["code"], 200, "{body}");
    let (_, body) = api
        .lll(
            Method::POST,
            "task/st/number",
            Some(json!({"data": sub_rows(&["13012121212"], "sub-1")})),
        )
        .await;
    assert_eq!(body["code"], 200, "{body}");
    // the two places disagreeing is refused
    let (_, body) = api
        .lll(
            Method::POST,
            "task/st/async_number",
            Some(json!({"sub_user_id": "sub-2", "data": sub_rows(&["13012121213"], "sub-1")})),
        )
        .await;
    assert_eq!(body["code"], 422, "{body}");
    // the main account does not see the sub-account's task; an unknown sub-account is refused
    let (_, body) = api.lll(Method::GET, "task/st/number", None).await;
    assert_eq!(body["code"], 404, "{body}");
    let (_, body) = api
        .lll(Method::GET, "task/st/number?sub_user_id=nobody", None)
        .await;
    assert_eq!(body["code"], 403, "{body}");
    let (_, body) = api
        .lll(Method::GET, "task/st/number?sub_user_id=sub-1", None)
        .await;
    assert_eq!(body["meta"]["total"], 2, "{body}");
    // an async batch's result is the sub-account's
    let (_, body) = api
        .lll(
            Method::POST,
            "task/st/async_number",
            Some(json!({"sub_user_id": "sub-1", "data": rows(&["13012121214"])})),
        )
        .await;
    let unique_id = body["data"]["unique_id"]
        .as_str()
        .expect("unique_id")
        .to_owned();
    let (_, main) = api
        .lll(Method::GET, &format!("identification/{unique_id}"), None)
        .await;
    assert_eq!(main["code"], 404, "{main}");
    let (_, sub) = api
        .lll(
            Method::GET,
            &format!("identification/{unique_id}?sub_user_id=sub-1"),
            None,
        )
        .await;
    assert_eq!(sub["code"], 200, "{sub}");
    let (_, body) = api
        .lll(
            Method::DELETE,
            "task/st/number-batch-delete",
            Some(json!({"sub_user_id": "sub-1", "customer_info_list": [{"phone": "13012121211"}]})),
        )
        .await;
    assert_eq!(body["code"], 200, "{body}");
    assert_eq!(
        api.phones("longlonglong", LLL_USER, "st").await,
        vec!["13012121212"]
    );
}

#[tokio::test]
async fn placement_variants_ignore_sub_user_id_in_the_other_place() {
    for (variant, ignored) in [
        (
            Variant::LllSubUserIdPerRow,
            json!({"sub_user_id": "sub-1", "data": rows(&["13012121211"])}),
        ),
        (
            Variant::LllSubUserIdTopLevel,
            json!({"data": sub_rows(&["13012121211"], "sub-1")}),
        ),
    ] {
        let sim = start_with(&[variant]).await;
        let api = Api::new(&sim);
        // the ignored place leaves the request on the main account, which has no task `st`
        let (_, body) = api.lll(Method::POST, "task/st/number", Some(ignored)).await;
        assert_eq!(body["code"], 404, "{variant:?}: {body}");
        let both = json!({"sub_user_id": "sub-1", "data": sub_rows(&["13012121211"], "sub-1")});
        let (_, body) = api.lll(Method::POST, "task/st/number", Some(both)).await;
        assert_eq!(body["code"], 200, "{variant:?}: {body}");
    }
}

#[tokio::test]
async fn async_add_requires_sort_as_documented() {
    let sim = start_config(config()).await;
    let api = Api::new(&sim);
    let (_, body) = api
        .lll(
            Method::POST,
            "task/t1/async_number",
            Some(json!({"data": [{"phone": "13012121211"}]})),
        )
        .await;
    assert_eq!(body["code"], 422, "{body}");
}

async fn add_phones(api: &Api, n: u64) -> Vec<String> {
    let phones = phones_from(0, n);
    for chunk in phones.chunks(100) {
        let refs: Vec<&str> = chunk.iter().map(String::as_str).collect();
        let (_, body) = api
            .lll(
                Method::POST,
                "task/t1/number",
                Some(json!({"data": rows(&refs)})),
            )
            .await;
        assert_eq!(body["code"], 200, "{body}");
    }
    phones
}

#[tokio::test]
async fn listing_variants_cap_pages_drop_meta_and_echo_phones_differently() {
    let sim = start_with(&[Variant::LllPageSizeCapped]).await;
    let api = Api::new(&sim);
    add_phones(&api, 45).await;
    let (_, page) = api
        .lll(Method::GET, "task/t1/number?page=1&per_page=100", None)
        .await;
    assert_eq!(page["data"].as_array().map(Vec::len), Some(20));
    assert_eq!(page["meta"]["per_page"], 20);
    assert_eq!(page["meta"]["last_page"], 3);

    let sim = start_with(&[Variant::LllNoPageMeta]).await;
    let api = Api::new(&sim);
    add_phones(&api, 5).await;
    let (_, page) = api.lll(Method::GET, "task/t1/number", None).await;
    assert!(page.get("meta").is_none(), "{page}");
    assert_eq!(page["data"].as_array().map(Vec::len), Some(5));

    let sim = start_with(&[Variant::LllListPhoneCountryCode]).await;
    let api = Api::new(&sim);
    let phones = add_phones(&api, 1).await;
    let (_, page) = api.lll(Method::GET, "task/t1/number", None).await;
    assert_eq!(page["data"][0]["phone"], format!("86{}", phones[0]));

    let sim = start_with(&[Variant::LllListPhoneMasked]).await;
    let api = Api::new(&sim);
    let phones = add_phones(&api, 1).await;
    let (_, page) = api.lll(Method::GET, "task/t1/number", None).await;
    let shown = page["data"][0]["phone"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_eq!(shown, format!("{}****{}", &phones[0][..3], &phones[0][7..]));
}

#[tokio::test]
async fn english_messages_unknown_fields_and_count_only_answers() {
    let sim = start_with(&[
        Variant::LllEnglishMessages,
        Variant::UnknownFields,
        Variant::LllSyncAddCountsOnly,
    ])
    .await;
    let api = Api::new(&sim);
    let (_, body) = api
        .lll(
            Method::POST,
            "task/t1/number",
            Some(json!({"skip_error": true, "data": rows(&["13012121211", "12"])})),
        )
        .await;
    assert_eq!(body["code"], 200, "{body}");
    assert_eq!(body["message"], "Imported");
    assert!(body["data"].get("fail").is_none(), "{body}");
    assert_eq!(body["data"]["fail_count"], 1);
    assert!(
        body.get("request_id").is_some() && body["data"].get("trace").is_some(),
        "{body}"
    );
    let (_, body) = api
        .lll(
            Method::POST,
            "task/t2/number",
            Some(json!({"data": rows(&["13012121212"])})),
        )
        .await;
    assert_eq!(body["code"], 6007);
    assert_eq!(
        body["message"],
        "The 2.0 task is running, please stop the task first"
    );
    let (_, body) = api
        .lll(
            Method::POST,
            "task/t1/async_number",
            Some(json!({"data": rows(&["12"])})),
        )
        .await;
    let unique_id = body["data"]["unique_id"]
        .as_str()
        .expect("unique_id")
        .to_owned();
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let (_, result) = api
        .lll(Method::GET, &format!("identification/{unique_id}"), None)
        .await;
    assert_eq!(
        result["data"]["fail"][0]["reason"],
        "Invalid phone number format"
    );
    let (_, page) = api.lll(Method::GET, "task/t1/number", None).await;
    assert_eq!(page["data"][0]["tags"], json!(["vip"]), "{page}");
    assert!(page["meta"].get("links").is_some(), "{page}");
}

#[tokio::test]
async fn async_batches_late_or_never() {
    let sim = start_with(&[Variant::LllAsyncNever]).await;
    let api = Api::new(&sim);
    let (_, body) = api
        .lll(
            Method::POST,
            "task/t1/async_number",
            Some(json!({"data": rows(&["13012121211"])})),
        )
        .await;
    assert_eq!(body["code"], 200);
    let unique_id = body["data"]["unique_id"]
        .as_str()
        .expect("unique_id")
        .to_owned();
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let (_, result) = api
        .lll(Method::GET, &format!("identification/{unique_id}"), None)
        .await;
    assert_eq!(result["data"]["status"], "processing");
    assert!(api.phones("longlonglong", LLL_USER, "t1").await.is_empty());

    let sim = start_with(&[Variant::LllAsyncLate]).await;
    let api = Api::new(&sim);
    api.lll(
        Method::POST,
        "task/t1/async_number",
        Some(json!({"data": rows(&["13012121211"])})),
    )
    .await;
    // 20 × 100 ms: not yet after 400 ms, done after 2.5 s
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    assert!(api.phones("longlonglong", LLL_USER, "t1").await.is_empty());
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    assert_eq!(api.phones("longlonglong", LLL_USER, "t1").await.len(), 1);
}

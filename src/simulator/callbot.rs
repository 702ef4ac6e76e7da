//! NXtele Callbot v3 (`/callcentre/api/v3/...`): signed headers, `{retCode,retMsg,responseID}`
//! envelope, signed responses, orders added, imported (replace), stopped, listed and exported.
use std::collections::BTreeSet;
use std::io::Write;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::{ACCEPT_ENCODING, CONTENT_ENCODING, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use super::audit::{AuditOp, AuditOutcome};
use super::auth::{CallbotCaller, callbot_verify};
use super::config::TaskState;
use super::faults::Committed;
use super::phones::international_valid;
use super::state::{AccountKey, Contact, ContactState, Inner, NewContact, SimState, now_ms};
use super::variants::Variant;
use crate::api::PhoneFormat;
use crate::contacts::Phone;
use crate::signing::callbot_sign;

/// Not documented (4001 exists for "too many array elements"); the strict reading mirrors the
/// documented `listOrderDetail` limit.
pub const MAX_ORDERS: usize = 500;
/// `listOrderDetail`: documented.
pub const MAX_DETAIL_IDS: usize = 500;
/// `listOrder` / `listTask` page size: not documented; the docs' example is 100.
pub const MAX_PAGE_SIZE: u64 = 100;
/// Orders per request under [`Variant::CallbotBatchLimit100`].
pub const SMALL_BATCH_LIMIT: usize = 100;
/// `listOrder` rows per page under [`Variant::CallbotPageSizeCapped`].
pub const CAPPED_PAGE_SIZE: u64 = 20;
/// The smallest `listOrder` page under [`Variant::CallbotPageSizeMinimum`].
pub const MIN_PAGE_SIZE: u64 = 10;

type Sim = State<Arc<SimState>>;

pub fn routes() -> Router<Arc<SimState>> {
    Router::new()
        .route("/callcentre/api/v3/ping", post(ping))
        .route("/callcentre/api/v3/addBatchCall", post(add_batch_call))
        .route(
            "/callcentre/api/v3/importBatchCall",
            post(import_batch_call),
        )
        .route("/callcentre/api/v3/stopOrder", post(stop_order))
        .route("/callcentre/api/v3/listOrder", post(list_order))
        .route(
            "/callcentre/api/v3/listOrderDetail",
            post(list_order_detail),
        )
        .route(
            "/callcentre/api/v3/exportBatchCall",
            post(export_batch_call),
        )
        .route("/callcentre/api/v3/mgrTaskStatus", post(mgr_task_status))
        .route("/callcentre/api/v3/listTask", post(list_task))
}

// ---- replies -------------------------------------------------------------------------------

/// What an operation answers: `retCode`, `retMsg` and the other fields.
struct Reply {
    ret_code: i64,
    ret_msg: String,
    fields: Map<String, Value>,
    committed: bool,
    /// Send the body gzip-compressed when the client accepts it.
    gzip_ok: bool,
    /// An add / import answer (`totalCount`, `successCount`, `errList` of phones).
    add_answer: bool,
}

impl Reply {
    fn ok(fields: Value) -> Self {
        Self {
            ret_code: 0,
            ret_msg: "success".to_owned(),
            fields: match fields {
                Value::Object(map) => map,
                _ => Map::new(),
            },
            committed: false,
            gzip_ok: false,
            add_answer: false,
        }
    }

    fn error(ret_code: i64, ret_msg: impl Into<String>) -> Self {
        Self {
            ret_code,
            ret_msg: ret_msg.into(),
            fields: Map::new(),
            committed: false,
            gzip_ok: false,
            add_answer: false,
        }
    }

    fn committed(mut self, yes: bool) -> Self {
        self.committed = yes;
        self
    }
}

fn response_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

fn envelope(ret_code: i64, ret_msg: &str, fields: Map<String, Value>) -> Vec<u8> {
    let mut body = Map::new();
    body.insert("retCode".into(), json!(ret_code));
    body.insert("retMsg".into(), json!(ret_msg));
    body.insert("responseID".into(), json!(response_id()));
    body.extend(fields);
    serde_json::to_vec(&Value::Object(body)).unwrap_or_default()
}

fn json_response(status: StatusCode, body: Vec<u8>) -> Response {
    let mut response = (status, body).into_response();
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// An unsigned error (authentication failed, so there is no secret to sign with).
fn unsigned_error(ret_code: i64, ret_msg: &str, request_id: Option<&str>) -> Response {
    let mut response = json_response(StatusCode::OK, envelope(ret_code, ret_msg, Map::new()));
    if let Some(id) = request_id.and_then(|id| HeaderValue::from_str(id).ok()) {
        response.headers_mut().insert("requestID", id);
    }
    response
}

pub fn rate_limited() -> Response {
    unsigned_error(7, "系统正忙", None)
}

pub fn server_error() -> Response {
    json_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        envelope(5001, "服务器内部错误", Map::new()),
    )
}

/// Signs the response body with the caller's secret and algorithm, as the docs describe for
/// responses (`requestID`, `uuid`, `createTs`, `sign`, `algorithm` headers).
fn signed(caller: &CallbotCaller, body: Vec<u8>, gzip: bool) -> Response {
    let create_ts = (now_ms() / 1000).to_string();
    let sign = callbot_sign(
        caller.algorithm,
        &caller.secret,
        &body,
        &create_ts,
        &caller.request_id,
        &caller.key.1,
    );
    let compressed = gzip.then(|| {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder
            .write_all(&body)
            .and_then(|()| encoder.finish())
            .ok()
    });
    let (payload, gzipped) = match compressed.flatten() {
        Some(bytes) => (bytes, true),
        None => (body, false),
    };
    let mut response = json_response(StatusCode::OK, payload);
    let headers = response.headers_mut();
    if gzipped {
        headers.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    for (name, value) in [
        ("requestID", caller.request_id.as_str()),
        ("uuid", caller.key.1.as_str()),
        ("createTs", create_ts.as_str()),
        ("sign", sign.as_str()),
        (
            "algorithm",
            match caller.algorithm {
                crate::api::SignatureAlgorithm::Md5 => "MD5",
                crate::api::SignatureAlgorithm::Sha256 => "SHA256",
            },
        ),
    ] {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(name, value);
        }
    }
    response
}

/// Authenticates, parses the body into `T`, runs `op` and answers signed.
fn handle<T: DeserializeOwned>(
    sim: &SimState,
    headers: &HeaderMap,
    body: Bytes,
    op: impl FnOnce(&SimState, &AccountKey, T) -> Reply,
) -> Response {
    let caller = match callbot_verify(sim, headers, body) {
        Ok(caller) => caller,
        Err(err) => {
            return unsigned_error(err.ret_code, &err.ret_msg, err.request_id.as_deref());
        }
    };
    let mut reply = match serde_json::from_slice::<T>(&caller.body) {
        Ok(request) => op(sim, &caller.key, request),
        Err(err) if err.to_string().starts_with("missing field") => {
            Reply::error(2, format!("参数丢失: {err}"))
        }
        Err(err) => Reply::error(3, format!("参数格式错误: {err}")),
    };
    let variants = sim
        .lock()
        .account(&caller.key)
        .map(|a| a.variants.clone())
        .unwrap_or_default();
    shape(&mut reply, &variants);
    let accepts_gzip = headers
        .get(ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("gzip"));
    let body = envelope(reply.ret_code, &reply.ret_msg, reply.fields);
    let mut response = signed(&caller, body, reply.gzip_ok && accepts_gzip);
    if reply.committed {
        response.extensions_mut().insert(Committed);
    }
    response
}

// ---- variants --------------------------------------------------------------------------------

/// Answers the way the account's variants say, where the docs leave the answer open.
fn shape(reply: &mut Reply, variants: &BTreeSet<Variant>) {
    let has = |v: Variant| variants.contains(&v);
    if reply.add_answer {
        if has(Variant::CallbotErrListOmitted) {
            reply.fields.remove("errList");
        } else if has(Variant::CallbotCountsOnly) {
            reply.fields.insert("errList".into(), json!([]));
        }
    }
    if has(Variant::CallbotTotalCountMissing)
        && (reply.add_answer || reply.fields.contains_key("orderList"))
    {
        reply.fields.remove("totalCount");
    }
    let echo = |phone: &str| -> String {
        if has(Variant::CallbotPhoneMasked) {
            super::phones::provider_masked(phone)
        } else if has(Variant::CallbotPhoneNational) {
            Phone::from_wire(phone, PhoneFormat::InternationalDigits, None)
                .map_or_else(|_| phone.to_owned(), Phone::national_number)
        } else if has(Variant::CallbotPhonePlus) {
            format!("+{phone}")
        } else {
            phone.to_owned()
        }
    };
    let translate = |message: &str| -> String {
        if has(Variant::CallbotEnglishMessages) {
            english(message)
        } else if has(Variant::CallbotChineseMessages) {
            chinese(message)
        } else {
            message.to_owned()
        }
    };
    reply.ret_msg = translate(&reply.ret_msg);
    for (list, phone_field) in [("errList", "phone"), ("orderList", "userPhone")] {
        let Some(Value::Array(items)) = reply.fields.get_mut(list) else {
            continue;
        };
        for item in items.iter_mut().filter_map(Value::as_object_mut) {
            if let Some(Value::String(phone)) = item.get_mut(phone_field) {
                *phone = echo(phone);
            }
            if let Some(Value::String(message)) = item.get_mut("errMsg") {
                *message = translate(message);
            }
        }
    }
    if has(Variant::UnknownFields) {
        reply.fields.insert(
            "traceInfo".into(),
            json!({"region": "sim", "apiVersion": "3.1"}),
        );
        for list in [
            "errList",
            "orderList",
            "orderDetailList",
            "callList",
            "taskData",
        ] {
            if let Some(Value::Array(items)) = reply.fields.get_mut(list) {
                for item in items.iter_mut().filter_map(Value::as_object_mut) {
                    item.insert("extInfo".into(), json!({"tag": "sim", "level": 1}));
                }
            }
        }
    }
}

/// The simulator's messages in English.
fn english(message: &str) -> String {
    [
        ("参数内容容量错误(数组元素过多)", "too many array elements"),
        (
            "批次导入进行中,不可导入导出",
            "batch import in progress, cannot import or export",
        ),
        ("参数丢失", "missing parameter"),
        ("参数格式错误", "parameter format error"),
        ("参数值错误", "invalid parameter value"),
        ("号码格式错误", "invalid phone number format"),
        ("订单不存在", "order does not exist"),
        ("话术变量", "script variable"),
        ("服务器内部错误", "internal server error"),
        ("系统正忙", "system busy"),
    ]
    .iter()
    .fold(message.to_owned(), |m, (zh, en)| m.replace(zh, en))
}

/// The simulator's messages in Chinese, the per-order ones too.
fn chinese(message: &str) -> String {
    [
        (
            "duplicate phone: already in the task",
            "号码重复,已在任务中",
        ),
        ("id already used (ids are globally unique)", "订单ID已存在"),
        ("userTaskID does not exist", "userTaskID 不存在"),
        ("country code + number, digits only", "需带区号,只能是数字"),
        ("callList is empty", "callList 为空"),
        ("task is completed", "任务已完结"),
        ("success", "成功"),
    ]
    .iter()
    .fold(message.to_owned(), |m, (en, zh)| m.replace(en, zh))
}

/// Most orders per add / import / stop request for this account.
fn batch_limit(sim: &SimState, key: &AccountKey) -> usize {
    let small = sim
        .lock()
        .account(key)
        .is_some_and(|a| a.has(Variant::CallbotBatchLimit100));
    if small { SMALL_BATCH_LIMIT } else { MAX_ORDERS }
}

fn check_product(product_id: &str) -> Result<(), Reply> {
    if product_id == "callbot" {
        Ok(())
    } else {
        Err(Reply::error(4, "参数值错误: productID must be \"callbot\""))
    }
}

fn task_state(inner: &Inner, key: &AccountKey, user_task_id: &str) -> Result<TaskState, Reply> {
    inner
        .account(key)
        .and_then(|a| a.task(user_task_id))
        .map(|t| t.state)
        .ok_or_else(|| Reply::error(4, "参数值错误: userTaskID does not exist"))
}

/// Callbot task status numbers: 1 pending, 2 running, 3 completed, 5 paused.
fn task_status_code(state: TaskState) -> i64 {
    match state {
        TaskState::Waiting => 1,
        TaskState::Running => 2,
        TaskState::Completed => 3,
        TaskState::Paused => 5,
    }
}

/// Order `callStatus`: 0 not dialled, 1 dialling, 2 dialled.
fn call_status(state: ContactState) -> i64 {
    match state {
        ContactState::Pending => 0,
        ContactState::Calling => 1,
        ContactState::Finished => 2,
    }
}

fn finished(contact: &Contact) -> bool {
    contact.state == ContactState::Finished || contact.stopped
}

// ---- ping ------------------------------------------------------------------------------------

#[derive(Deserialize)]
struct PingReq {
    data: String,
}

async fn ping(State(sim): Sim, headers: HeaderMap, body: Bytes) -> Response {
    let caller = match callbot_verify(&sim, &headers, body) {
        Ok(caller) => caller,
        Err(err) => return unsigned_error(err.ret_code, &err.ret_msg, err.request_id.as_deref()),
    };
    let data = serde_json::from_slice::<PingReq>(&caller.body)
        .map(|p| p.data)
        .unwrap_or_default();
    let body = serde_json::to_vec(&json!({
        "data": data, "timestamp": now_ms() / 1000, "code": 0, "msg": "success",
        "reqId": caller.request_id,
    }))
    .unwrap_or_default();
    signed(&caller, body, false)
}

// ---- add / import ----------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AddReq {
    #[serde(rename = "productID")]
    product_id: String,
    #[serde(rename = "userTaskID")]
    user_task_id: String,
    call_info_list: CallInfoList,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CallInfoList {
    #[allow(dead_code)] // required by the docs; the simulator makes no callbacks
    order_callback_url: String,
    #[allow(dead_code)]
    call_callback_url: String,
    call_list: Vec<CallItem>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CallItem {
    #[serde(rename = "orderID")]
    order_id: Option<String>,
    user_phone: Option<String>,
    other: Option<String>,
    user_name: Option<String>,
    customer_name: Option<String>,
    params: Option<Vec<Param>>,
}

#[derive(Deserialize)]
struct Param {
    name: String,
    #[allow(dead_code)]
    value: Option<Value>,
}

async fn add_batch_call(State(sim): Sim, headers: HeaderMap, body: Bytes) -> Response {
    handle(&sim, &headers, body, |sim, key, req: AddReq| {
        add_orders(sim, key, req, false)
    })
}

async fn import_batch_call(State(sim): Sim, headers: HeaderMap, body: Bytes) -> Response {
    handle(&sim, &headers, body, |sim, key, req: AddReq| {
        add_orders(sim, key, req, true)
    })
}

fn add_orders(sim: &SimState, key: &AccountKey, req: AddReq, import: bool) -> Reply {
    if let Err(reply) = check_product(&req.product_id) {
        return reply;
    }
    let list = req.call_info_list.call_list;
    if list.is_empty() {
        return Reply::error(4, "参数值错误: callList is empty");
    }
    if list.len() > batch_limit(sim, key) {
        return Reply::error(4001, "参数内容容量错误(数组元素过多)");
    }
    let task_id = req.user_task_id;
    let mut inner = sim.lock();
    match task_state(&inner, key, &task_id) {
        Err(reply) => return reply,
        Ok(TaskState::Completed) => return Reply::error(4, "参数值错误: task is completed"),
        Ok(_) => {}
    }
    let variables = inner
        .account(key)
        .and_then(|a| a.task(&task_id))
        .map(|t| t.variables.clone())
        .unwrap_or_default();
    let now = Instant::now();
    let mut changed = false;
    if import {
        let running = inner
            .account(key)
            .and_then(|a| a.task(&task_id))
            .and_then(|t| t.import_until)
            .is_some_and(|until| until > now);
        if running {
            return Reply::error(1001, "批次导入进行中,不可导入导出");
        }
        // A new batch: undialled orders are deleted, dialled ones kept (unless the account
        // appends batches).
        let appends = inner
            .account(key)
            .is_some_and(|a| a.has(Variant::CallbotImportAppends));
        let pending: Vec<u64> = inner
            .account(key)
            .and_then(|a| a.task(&task_id))
            .filter(|_| !appends)
            .map(|t| {
                t.contacts
                    .values()
                    .filter(|c| c.state == ContactState::Pending)
                    .map(|c| c.seq)
                    .collect()
            })
            .unwrap_or_default();
        for seq in pending {
            inner.remove_contact(key, &task_id, seq, AuditOp::ImportReplace);
        }
        if let Some(task) = inner.task_mut(key, &task_id) {
            task.batch += 1;
            task.import_until = Some(now + sim.timing.callbot_import);
        }
        changed = true;
    }
    let total = list.len();
    let mut errors = Vec::new();
    let mut success = 0usize;
    for item in list {
        let phone = item.user_phone.clone().unwrap_or_default();
        let problem = if item.order_id.as_deref().is_none_or(str::is_empty) {
            Some("参数丢失: orderID".to_owned())
        } else if item.user_phone.is_none() {
            Some("参数丢失: userPhone".to_owned())
        } else if item.other.is_none()
            || item.user_name.is_none()
            || item.customer_name.is_none()
            || item.params.is_none()
        {
            Some("参数丢失: other, userName, customerName and params are required".to_owned())
        } else if !international_valid(&phone) {
            Some("号码格式错误: country code + number, digits only".to_owned())
        } else {
            let given: Vec<&str> = item
                .params
                .iter()
                .flatten()
                .map(|p| p.name.as_str())
                .collect();
            variables
                .iter()
                .find(|v| !given.contains(&v.as_str()))
                .map(|v| format!("参数丢失: 话术变量 {v}"))
        };
        if let Some(problem) = problem {
            inner.audit_item(
                key,
                &task_id,
                AuditOp::Add,
                &phone,
                item.order_id.as_deref(),
                AuditOutcome::Rejected,
                Some(&problem),
            );
            errors.push(json!({"phone": phone, "errMsg": problem}));
            continue;
        }
        let contact = NewContact {
            phone: phone.clone(),
            remote_id: item.order_id,
            name: item.user_name.unwrap_or_default(),
            extra: item.other.unwrap_or_default(),
        };
        match inner.add_contact(key, &task_id, contact) {
            Ok(()) => {
                success += 1;
                changed = true;
            }
            Err(reject) => errors.push(json!({"phone": phone, "errMsg": reject.message()})),
        }
    }
    let mut reply =
        Reply::ok(json!({"totalCount": total, "successCount": success, "errList": errors}))
            .committed(changed);
    reply.add_answer = true;
    reply
}

// ---- stop ------------------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StopReq {
    #[serde(rename = "productID")]
    product_id: String,
    #[serde(rename = "userTaskID")]
    user_task_id: String,
    #[serde(rename = "orderIDs")]
    order_ids: Vec<String>,
    #[serde(default)]
    del_call: i64,
}

async fn stop_order(State(sim): Sim, headers: HeaderMap, body: Bytes) -> Response {
    handle(&sim, &headers, body, |sim, key, req: StopReq| {
        if let Err(reply) = check_product(&req.product_id) {
            return reply;
        }
        if req.order_ids.is_empty() {
            return Reply::error(4, "参数值错误: orderIDs is empty");
        }
        if req.order_ids.len() > batch_limit(sim, key) {
            return Reply::error(4001, "参数内容容量错误(数组元素过多)");
        }
        if !matches!(req.del_call, 0 | 1) {
            return Reply::error(4, "参数值错误: delCall must be 0 or 1");
        }
        let mut inner = sim.lock();
        if let Err(reply) = task_state(&inner, key, &req.user_task_id) {
            return reply;
        }
        let task_id = req.user_task_id;
        let mut errors = Vec::new();
        let mut success = 0usize;
        let mut changed = false;
        for order_id in &req.order_ids {
            let found = inner
                .account(key)
                .and_then(|a| a.task(&task_id))
                .and_then(|t| t.contact_by_remote_id(order_id))
                .map(|c| (c.seq, c.state, c.stopped, c.phone.clone()));
            let Some((seq, state, stopped, phone)) = found else {
                errors.push(json!({"orderID": order_id, "errMsg": "订单不存在"}));
                inner.audit_item(
                    key,
                    &task_id,
                    if req.del_call == 1 {
                        AuditOp::Remove
                    } else {
                        AuditOp::Stop
                    },
                    "",
                    Some(order_id),
                    AuditOutcome::Rejected,
                    Some("order not found"),
                );
                continue;
            };
            success += 1;
            if req.del_call == 1 && state == ContactState::Pending {
                inner.remove_contact(key, &task_id, seq, AuditOp::Remove);
                changed = true;
                continue;
            }
            if req.del_call == 1 {
                inner.audit_item(
                    key,
                    &task_id,
                    AuditOp::Remove,
                    &phone,
                    Some(order_id),
                    AuditOutcome::Kept,
                    Some("already dialled: stopped, not deleted"),
                );
            }
            if !stopped {
                if let Some(contact) = inner
                    .task_mut(key, &task_id)
                    .and_then(|t| t.contacts.get_mut(&seq))
                {
                    contact.stopped = true;
                }
                inner.audit_item(
                    key,
                    &task_id,
                    AuditOp::Stop,
                    &phone,
                    Some(order_id),
                    AuditOutcome::Applied,
                    None,
                );
                changed = true;
            }
        }
        Reply::ok(
            json!({"totalCount": req.order_ids.len(), "successCount": success, "errList": errors}),
        )
        .committed(changed)
    })
}

// ---- observe ---------------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListOrderReq {
    #[serde(rename = "productID")]
    product_id: String,
    #[serde(rename = "userTaskID")]
    user_task_id: String,
    options: ListOptions,
    page: u64,
    size: u64,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct ListOptions {
    #[serde(rename = "orderID", default)]
    order_id: Option<Vec<String>>,
    #[serde(default)]
    finish: Option<i64>,
    #[serde(default)]
    call_status: Option<Vec<i64>>,
}

fn order_row(contact: &Contact, user_task_id: &str, task_id: &str) -> Value {
    json!({
        "orderID": contact.remote_id, "userPhone": contact.phone, "userName": contact.name,
        "other": contact.extra, "userTaskID": user_task_id, "taskID": task_id,
        "finish": finished(contact), "callStatus": call_status(contact.state),
        "batchID": contact.batch.to_string(),
    })
}

async fn list_order(State(sim): Sim, headers: HeaderMap, body: Bytes) -> Response {
    handle(&sim, &headers, body, |sim, key, req: ListOrderReq| {
        if let Err(reply) = check_product(&req.product_id) {
            return reply;
        }
        if req.page == 0 || req.size == 0 || req.size > MAX_PAGE_SIZE {
            return Reply::error(
                4,
                format!("参数值错误: page >= 1, size 1..={MAX_PAGE_SIZE}"),
            );
        }
        let inner = sim.lock();
        if req.size < MIN_PAGE_SIZE
            && inner
                .account(key)
                .is_some_and(|a| a.has(Variant::CallbotPageSizeMinimum))
        {
            return Reply::error(
                4,
                format!("参数值错误: size {MIN_PAGE_SIZE}..={MAX_PAGE_SIZE}"),
            );
        }
        let Some(task) = inner.account(key).and_then(|a| a.task(&req.user_task_id)) else {
            return Reply::error(4, "参数值错误: userTaskID does not exist");
        };
        // A server that serves smaller pages than asked pages by its own size.
        let page_size = if inner
            .account(key)
            .is_some_and(|a| a.has(Variant::CallbotPageSizeCapped))
        {
            req.size.min(CAPPED_PAGE_SIZE)
        } else {
            req.size
        };
        let options = req.options;
        let unfiltered = options.order_id.is_none()
            && options.finish.is_none()
            && options.call_status.as_ref().is_none_or(|s| s.is_empty());
        let matches = |c: &&Contact| {
            options
                .order_id
                .as_ref()
                .is_none_or(|ids| c.remote_id.as_ref().is_some_and(|id| ids.contains(id)))
                && options.finish.is_none_or(|f| (f == 1) == finished(c))
                && options
                    .call_status
                    .as_ref()
                    .is_none_or(|s| s.is_empty() || s.contains(&call_status(c.state)))
        };
        // Without filters the count is the task's size: paging through a million contacts
        // must not collect them all for every page.
        let total = if unfiltered {
            task.contacts.len()
        } else {
            task.contacts.values().filter(matches).count()
        };
        let skip = usize::try_from((req.page - 1).saturating_mul(page_size)).unwrap_or(usize::MAX);
        let size = usize::try_from(page_size).unwrap_or(usize::MAX);
        let row = |c: &Contact| order_row(c, &task.id, &task.provider_task_id);
        // Sequence numbers without gaps (nothing removed yet) locate a page directly; skipping
        // through a B-tree made listing a million contacts take minutes.
        let first = task.contacts.keys().next().copied().unwrap_or(0);
        let last = task.contacts.keys().next_back().copied().unwrap_or(0);
        let dense = last.checked_sub(first).map(|span| span + 1) == Some(total as u64);
        let rows: Vec<Value> = if unfiltered && dense {
            task.contacts
                .range(first.saturating_add(skip as u64)..)
                .take(size)
                .map(|(_, c)| row(c))
                .collect()
        } else {
            task.contacts
                .values()
                .filter(matches)
                .skip(skip)
                .take(size)
                .map(row)
                .collect()
        };
        Reply::ok(
            json!({"totalCount": total, "page": req.page, "size": page_size, "orderList": rows}),
        )
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DetailReq {
    #[serde(rename = "productID")]
    product_id: String,
    #[serde(rename = "userTaskID")]
    user_task_id: String,
    order_list: Vec<String>,
}

async fn list_order_detail(State(sim): Sim, headers: HeaderMap, body: Bytes) -> Response {
    handle(&sim, &headers, body, |sim, key, req: DetailReq| {
        if let Err(reply) = check_product(&req.product_id) {
            return reply;
        }
        if req.order_list.len() > MAX_DETAIL_IDS {
            return Reply::error(4001, "参数内容容量错误(数组元素过多)");
        }
        let inner = sim.lock();
        let Some(task) = inner.account(key).and_then(|a| a.task(&req.user_task_id)) else {
            return Reply::error(4, "参数值错误: userTaskID does not exist");
        };
        let rows: Vec<Value> = req
            .order_list
            .iter()
            .filter_map(|id| task.contact_by_remote_id(id))
            .map(|c| {
                let calls = if c.state == ContactState::Pending {
                    vec![]
                } else {
                    vec![json!({"callID": format!("call-{}", c.seq), "callStatus": call_status(c.state),
                                "callStartTs": c.created_at_ms / 1000})]
                };
                json!({"orderID": c.remote_id, "userPhone": c.phone, "userName": c.name, "sceneID": "",
                       "userTaskID": task.id, "taskID": task.provider_task_id, "finish": finished(c),
                       "other": c.extra, "callInfoDetailList": calls})
            })
            .collect();
        Reply::ok(json!({"orderDetailList": rows}))
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ExportReq {
    #[serde(rename = "productID")]
    product_id: String,
    #[serde(rename = "userTaskID")]
    user_task_id: String,
}

async fn export_batch_call(State(sim): Sim, headers: HeaderMap, body: Bytes) -> Response {
    handle(&sim, &headers, body, |sim, key, req: ExportReq| {
        if let Err(reply) = check_product(&req.product_id) {
            return reply;
        }
        let inner = sim.lock();
        let Some(task) = inner.account(key).and_then(|a| a.task(&req.user_task_id)) else {
            return Reply::error(4, "参数值错误: userTaskID does not exist");
        };
        if task
            .import_until
            .is_some_and(|until| until > Instant::now())
        {
            return Reply::error(1001, "批次导入进行中,不可导入导出");
        }
        let rows: Vec<Value> = task
            .contacts
            .values()
            .filter(|c| c.batch == task.batch)
            .map(|c| {
                json!({"orderID": c.remote_id, "userPhone": c.phone, "other": c.extra,
                       "callID": if c.state == ContactState::Pending { String::new() } else { format!("call-{}", c.seq) },
                       "callStatus": call_status(c.state), "callStartTs": 0, "intents": []})
            })
            .collect();
        let mut reply = Reply::ok(
            json!({"totalCount": rows.len(), "batchID": task.batch.to_string(), "callList": rows}),
        );
        reply.gzip_ok = true;
        reply
    })
}

// ---- tasks -----------------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MgrReq {
    #[serde(rename = "productID")]
    product_id: String,
    #[serde(rename = "userTaskID")]
    user_task_id: String,
    task_operate: i64,
    #[serde(default)]
    del_call: i64,
}

async fn mgr_task_status(State(sim): Sim, headers: HeaderMap, body: Bytes) -> Response {
    handle(&sim, &headers, body, |sim, key, req: MgrReq| {
        if let Err(reply) = check_product(&req.product_id) {
            return reply;
        }
        let target = match req.task_operate {
            1 => TaskState::Running,
            2 => TaskState::Paused,
            3 => TaskState::Completed,
            _ => return Reply::error(4, "参数值错误: taskOperate must be 1, 2 or 3"),
        };
        if !matches!(req.del_call, 0 | 1) {
            return Reply::error(4, "参数值错误: delCall must be 0 or 1");
        }
        let mut inner = sim.lock();
        let current = match task_state(&inner, key, &req.user_task_id) {
            Ok(state) => state,
            Err(reply) => return reply,
        };
        if current == TaskState::Completed && target != TaskState::Completed {
            return Reply::error(4, "参数值错误: task is completed");
        }
        let task_id = req.user_task_id;
        let mut changed = false;
        if current != target {
            if let Some(task) = inner.task_mut(key, &task_id) {
                task.state = target;
            }
            let detail = format!("{target:?}").to_lowercase();
            inner.audit_item(
                key,
                &task_id,
                AuditOp::TaskStatus,
                "",
                None,
                AuditOutcome::Applied,
                Some(&detail),
            );
            changed = true;
        }
        if req.del_call == 1 {
            let pending: Vec<u64> = inner
                .account(key)
                .and_then(|a| a.task(&task_id))
                .map(|t| {
                    t.contacts
                        .values()
                        .filter(|c| c.state == ContactState::Pending)
                        .map(|c| c.seq)
                        .collect()
                })
                .unwrap_or_default();
            for seq in pending {
                inner.remove_contact(key, &task_id, seq, AuditOp::Remove);
                changed = true;
            }
        }
        let provider_task_id = inner
            .account(key)
            .and_then(|a| a.task(&task_id))
            .map(|t| t.provider_task_id.clone())
            .unwrap_or_default();
        Reply::ok(json!({"taskID": provider_task_id, "taskStatus": task_status_code(target)}))
            .committed(changed)
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListTaskReq {
    #[serde(rename = "productID")]
    product_id: String,
    page: u64,
    size: u64,
    #[serde(default)]
    query_conditions: QueryConditions,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct QueryConditions {
    #[serde(default)]
    task_status: Option<Vec<i64>>,
    #[serde(rename = "userTaskID", default)]
    user_task_id: Option<Vec<String>>,
}

async fn list_task(State(sim): Sim, headers: HeaderMap, body: Bytes) -> Response {
    handle(&sim, &headers, body, |sim, key, req: ListTaskReq| {
        if let Err(reply) = check_product(&req.product_id) {
            return reply;
        }
        if req.page == 0 || req.size == 0 || req.size > MAX_PAGE_SIZE {
            return Reply::error(
                4,
                format!("参数值错误: page >= 1, size 1..={MAX_PAGE_SIZE}"),
            );
        }
        let inner = sim.lock();
        let Some(account) = inner.account(key) else {
            return Reply::error(6002, "账号不存在");
        };
        let q = req.query_conditions;
        let rows: Vec<Value> = account
            .tasks
            .values()
            .filter(|t| q.task_status.as_ref().is_none_or(|s| s.is_empty() || s.contains(&task_status_code(t.state))))
            .filter(|t| q.user_task_id.as_ref().is_none_or(|s| s.is_empty() || s.contains(&t.id)))
            .map(|t| {
                let s = t.summary();
                json!({"userTaskID": t.id, "taskID": t.provider_task_id, "taskName": t.name,
                       "sceneID": "", "taskStatus": task_status_code(t.state),
                       "taskStat": {"totalOrderCount": s.contacts.pending + s.contacts.calling + s.contacts.finished,
                                    "finishOrderCount": s.contacts.finished}})
            })
            .collect();
        let total = rows.len();
        let skip = usize::try_from((req.page - 1).saturating_mul(req.size)).unwrap_or(usize::MAX);
        let page: Vec<Value> = rows
            .into_iter()
            .skip(skip)
            .take(usize::try_from(req.size).unwrap_or(usize::MAX))
            .collect();
        Reply::ok(json!({"totalCount": total, "taskData": page}))
    })
}

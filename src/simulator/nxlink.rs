//! NXLink AI Agent open API (`/openapi/aiagent/...`): signed headers, `{code,message,traceId,data}`
//! envelope, contacts appended with caller-chosen `contactId`s and deleted one at a time while
//! pending, tasks listed with `statInfo.totalOrderCount`.
use std::collections::HashSet;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::audit::{AuditOp, AuditOutcome};
use super::auth::nxlink_verify;
use super::config::TaskState;
use super::faults::Committed;
use super::phones::international_valid;
use super::state::{AccountKey, ContactState, NewContact, SimState};
use super::variants::Variant;

/// Not documented; the strict reading.
pub const MAX_APPEND: usize = 100;
/// `task/list` page size: not documented; the flow and route lists allow 1000.
pub const MAX_TASK_PAGE: u64 = 1000;
/// `call/list` page size: documented 10 to 1000.
pub const CALL_PAGE: std::ops::RangeInclusive<u64> = 10..=1000;

type Sim = State<Arc<SimState>>;

pub fn routes() -> Router<Arc<SimState>> {
    Router::new()
        .route("/openapi/aiagent/call/append", post(append))
        .route("/openapi/aiagent/order/delete", post(delete_order))
        .route("/openapi/aiagent/task/list", post(task_list))
        .route("/openapi/aiagent/call/list", post(call_list))
}

// ---- replies -------------------------------------------------------------------------------

struct Reply {
    code: i64,
    message: String,
    data: Value,
    committed: bool,
    /// A "not found" (task or contact): HTTP 404 under [`Variant::NxlinkNotFoundAsHttp404`].
    not_found: bool,
}

impl Reply {
    fn ok(data: Value) -> Self {
        Self {
            code: 0,
            message: "success".into(),
            data,
            committed: false,
            not_found: false,
        }
    }

    /// Business error: code 20000, the reason in `message`.
    fn business(message: impl Into<String>) -> Self {
        Self {
            code: 20000,
            message: message.into(),
            data: Value::Null,
            committed: false,
            not_found: false,
        }
    }

    /// A business error saying that the task or contact does not exist.
    fn not_found(message: impl Into<String>) -> Self {
        Self {
            not_found: true,
            ..Self::business(message)
        }
    }
}

/// English business messages of this simulator and their Chinese wording
/// ([`Variant::NxlinkChineseMessages`]); the first match of a message is replaced.
const CHINESE: &[(&str, &str)] = &[
    ("task does not exist", "任务不存在"),
    ("contact does not exist", "联系人不存在"),
    (
        "only contacts in the Pending / Not Started state can be deleted",
        "只能删除待开始类型的通话",
    ),
    (
        "duplicate phone: already in the task",
        "号码重复: 该号码已在任务中",
    ),
    (
        "id already used (ids are globally unique)",
        "contactId 已存在",
    ),
    (
        "phoneNumber must be country code + number, digits only",
        "号码格式错误: 国家码 + 号码, 仅数字",
    ),
    ("task is completed", "任务已完成"),
    ("contactId repeated in the request", "contactId 重复"),
    ("phoneNumber repeated in the request", "号码在请求中重复"),
];

fn in_chinese(message: &str) -> String {
    CHINESE
        .iter()
        .find(|(english, _)| message.contains(english))
        .map_or_else(
            || message.to_owned(),
            |(english, chinese)| message.replace(english, chinese),
        )
}

/// Fields a newer API version might add ([`Variant::UnknownFields`]): in the envelope, in an
/// object `data`, and in every row of a `data.list`.
fn with_unknown_fields(body: &mut Value) {
    if let Some(envelope) = body.as_object_mut() {
        envelope.insert("requestTime".into(), json!(1_764_547_200_000_i64));
        envelope.insert("apiVersion".into(), json!("2.1"));
    }
    if let Some(data) = body.get_mut("data").and_then(Value::as_object_mut) {
        data.insert("batchNo".into(), json!("B-20261201-0001"));
        data.insert("extension".into(), json!({"region": "HK", "quota": 100}));
        if let Some(rows) = data.get_mut("list").and_then(Value::as_array_mut) {
            for row in rows.iter_mut().filter_map(Value::as_object_mut) {
                row.insert("tags".into(), json!(["vip"]));
                row.insert("source".into(), json!({"channel": "api"}));
            }
        }
    }
}

fn envelope(status: StatusCode, code: i64, message: &str, data: Value) -> Response {
    let trace_id = uuid::Uuid::new_v4().simple().to_string();
    (
        status,
        axum::Json(json!({"code": code, "message": message, "traceId": trace_id, "data": data})),
    )
        .into_response()
}

pub fn rate_limited() -> Response {
    envelope(StatusCode::OK, 20000, "too many requests", Value::Null)
}

pub fn server_error() -> Response {
    envelope(
        StatusCode::SERVICE_UNAVAILABLE,
        503,
        "Service Unavailable",
        Value::Null,
    )
}

fn handle<T: DeserializeOwned>(
    sim: &SimState,
    headers: &HeaderMap,
    body: &Bytes,
    op: impl FnOnce(&SimState, &AccountKey, T) -> Reply,
) -> Response {
    let key = match nxlink_verify(sim, headers, body) {
        Ok(key) => key,
        Err(err) => return envelope(StatusCode::OK, err.code, err.message, Value::Null),
    };
    let reply = match serde_json::from_slice::<T>(body) {
        Ok(request) => op(sim, &key, request),
        Err(err) => Reply {
            code: 1002,
            message: format!("Authentication failed (parameter error: body: {err})"),
            data: Value::Null,
            committed: false,
            not_found: false,
        },
    };
    let (chinese, http_404, unknown_fields) = {
        let inner = sim.lock();
        let has = |variant| inner.account(&key).is_some_and(|a| a.has(variant));
        (
            has(Variant::NxlinkChineseMessages),
            has(Variant::NxlinkNotFoundAsHttp404),
            has(Variant::UnknownFields),
        )
    };
    let message = if chinese {
        in_chinese(&reply.message)
    } else {
        reply.message
    };
    let (status, code) = if reply.not_found && http_404 {
        (StatusCode::NOT_FOUND, 404)
    } else {
        (StatusCode::OK, reply.code)
    };
    let trace_id = uuid::Uuid::new_v4().simple().to_string();
    let mut body =
        json!({"code": code, "message": message, "traceId": trace_id, "data": reply.data});
    if unknown_fields {
        with_unknown_fields(&mut body);
    }
    let mut response = (status, axum::Json(body)).into_response();
    if reply.committed {
        response.extensions_mut().insert(Committed);
    }
    response
}

/// NXLink task status: 1 ready, 2 in progress, 3 completed, 5 paused.
fn task_status(state: TaskState) -> i64 {
    match state {
        TaskState::Waiting => 1,
        TaskState::Running => 2,
        TaskState::Completed => 3,
        TaskState::Paused => 5,
    }
}

/// Accepts a JSON string or number as an id.
fn id_string(value: &Option<Value>) -> Option<String> {
    match value {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

// ---- append ----------------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AppendReq {
    task_id: Option<Value>,
    country_code: Option<String>,
    list: Option<Vec<AppendItem>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AppendItem {
    contact_id: Option<String>,
    name: Option<String>,
    phone_number: Option<String>,
    #[serde(default)]
    other: Option<String>,
}

async fn append(State(sim): Sim, headers: HeaderMap, body: Bytes) -> Response {
    handle(&sim, &headers, &body, |sim, key, req: AppendReq| {
        let Some(task_id) = id_string(&req.task_id) else {
            return Reply::business("taskId is required");
        };
        let Some(list) = req.list.filter(|l| !l.is_empty()) else {
            return Reply::business("list is required and must not be empty");
        };
        if list.len() > MAX_APPEND {
            return Reply::business(format!("list holds more than {MAX_APPEND} contacts"));
        }
        if let Some(cc) = &req.country_code
            && (cc.is_empty() || cc.len() > 3 || !cc.bytes().all(|b| b.is_ascii_digit()))
        {
            return Reply::business("countryCode must be 1 to 3 digits");
        }
        let mut inner = sim.lock();
        let Some(task) = inner.account(key).and_then(|a| a.task(&task_id)) else {
            return Reply::not_found("task does not exist");
        };
        if task.state == TaskState::Completed {
            return Reply::business("task is completed");
        }
        // All or nothing: the docs report no per-contact result. Under
        // `NxlinkAppendItemResults` the valid contacts go in and the others are reported.
        let per_item = inner
            .account(key)
            .is_some_and(|a| a.has(Variant::NxlinkAppendItemResults));
        let sent = list.len();
        let mut fail_list = Vec::new();
        let mut contacts = Vec::with_capacity(list.len());
        let mut ids = HashSet::new();
        let mut phones = HashSet::new();
        for (index, item) in list.into_iter().enumerate() {
            let phone = item.phone_number.clone().unwrap_or_default();
            let problem = match (&item.contact_id, &item.name, &item.phone_number) {
                (Some(id), Some(_), Some(_)) if !id.is_empty() => {
                    if !international_valid(&phone) {
                        Some("phoneNumber must be country code + number, digits only".to_owned())
                    } else if req
                        .country_code
                        .as_ref()
                        .is_some_and(|cc| !phone.starts_with(cc))
                    {
                        Some("phoneNumber does not start with countryCode".to_owned())
                    } else if !ids.insert(id.clone()) {
                        Some("contactId repeated in the request".to_owned())
                    } else if !phones.insert(phone.clone()) {
                        Some("phoneNumber repeated in the request".to_owned())
                    } else {
                        let contact = NewContact {
                            phone: phone.clone(),
                            remote_id: Some(id.clone()),
                            name: item.name.clone().unwrap_or_default(),
                            extra: item.other.clone().unwrap_or_default(),
                        };
                        match inner.check_add(key, &task_id, &contact) {
                            Ok(()) => {
                                contacts.push(contact);
                                None
                            }
                            Err(reject) => Some(reject.message().to_owned()),
                        }
                    }
                }
                _ => Some("contactId, name and phoneNumber are required".to_owned()),
            };
            if let Some(problem) = problem {
                inner.audit_item(
                    key,
                    &task_id,
                    AuditOp::Add,
                    &phone,
                    item.contact_id.as_deref(),
                    AuditOutcome::Rejected,
                    Some(&problem),
                );
                if !per_item {
                    return Reply::business(format!("list[{index}]: {problem}"));
                }
                fail_list.push(json!({
                    "index": index, "contactId": item.contact_id,
                    "phoneNumber": item.phone_number, "message": problem,
                }));
            }
        }
        let added = contacts.len();
        for contact in contacts {
            // Checked above under the same lock, so this cannot be refused.
            let _ = inner.add_contact(key, &task_id, contact);
        }
        let data = if per_item {
            json!({"successCount": added, "failCount": sent - added, "failList": fail_list})
        } else {
            json!({})
        };
        let mut reply = Reply::ok(data);
        reply.committed = added > 0;
        reply
    })
}

// ---- delete ----------------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DeleteReq {
    task_id: Option<Value>,
    user_task_id: Option<String>,
    contact_id: Option<String>,
}

async fn delete_order(State(sim): Sim, headers: HeaderMap, body: Bytes) -> Response {
    handle(&sim, &headers, &body, |sim, key, req: DeleteReq| {
        let task_id = id_string(&req.task_id);
        let user_task_id = req.user_task_id.filter(|s| !s.is_empty());
        if task_id.is_none() && user_task_id.is_none() {
            return Reply::business("taskId or userTaskId is required");
        }
        let Some(contact_id) = req.contact_id.filter(|s| !s.is_empty()) else {
            return Reply::business("contactId is required");
        };
        let mut inner = sim.lock();
        let Some(task_id) = inner
            .account(key)
            .and_then(|a| a.nxlink_task_id(task_id.as_deref(), user_task_id.as_deref()))
        else {
            return Reply::not_found("task does not exist");
        };
        let found = inner
            .account(key)
            .and_then(|a| a.task(&task_id))
            .and_then(|t| t.contact_by_remote_id(&contact_id))
            .map(|c| (c.seq, c.state, c.phone.clone()));
        match found {
            None => {
                inner.audit_item(
                    key,
                    &task_id,
                    AuditOp::Remove,
                    "",
                    Some(&contact_id),
                    AuditOutcome::Rejected,
                    Some("contact not found"),
                );
                Reply::not_found("contact does not exist")
            }
            Some((seq, ContactState::Pending, _)) => {
                inner.remove_contact(key, &task_id, seq, AuditOp::Remove);
                let mut reply = Reply::ok(Value::Null);
                reply.committed = true;
                reply
            }
            Some((_, _, phone)) => {
                inner.audit_item(
                    key,
                    &task_id,
                    AuditOp::Remove,
                    &phone,
                    Some(&contact_id),
                    AuditOutcome::Kept,
                    Some("not pending"),
                );
                Reply::business("only contacts in the Pending / Not Started state can be deleted")
            }
        }
    })
}

// ---- observe ---------------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TaskListReq {
    page_number: Option<u64>,
    page_size: Option<u64>,
    task_name: Option<String>,
    task_status: Option<i64>,
}

async fn task_list(State(sim): Sim, headers: HeaderMap, body: Bytes) -> Response {
    handle(&sim, &headers, &body, |sim, key, req: TaskListReq| {
        let (Some(page), Some(size)) = (req.page_number, req.page_size) else {
            return Reply::business("pageNumber and pageSize are required");
        };
        if page == 0 || size == 0 || size > MAX_TASK_PAGE {
            return Reply::business(format!("pageNumber >= 1 and pageSize 1..={MAX_TASK_PAGE}"));
        }
        let inner = sim.lock();
        let Some(account) = inner.account(key) else {
            return Reply::business("account does not exist");
        };
        let rows: Vec<Value> = account
            .tasks
            .values()
            .filter(|t| {
                req.task_name
                    .as_ref()
                    .is_none_or(|n| t.name.contains(n.as_str()))
            })
            .filter(|t| req.task_status.is_none_or(|s| s == task_status(t.state)))
            .map(|t| {
                let counts = t.summary().contacts;
                let dialed = counts.calling + counts.finished;
                json!({
                    "taskId": t.id, "userTaskId": t.user_task_id, "taskName": t.name,
                    "taskStatus": task_status(t.state), "pauseReason": null,
                    "startupType": 1, "taskKeep": 1,
                    "statInfo": {
                        "totalOrderCount": t.imported_total,
                        "dialedOrderCount": dialed,
                        "finishOrderCount": counts.finished,
                        "answerOrderCount": counts.finished,
                        "totalCallCount": dialed,
                        "answerCallCount": counts.finished,
                    },
                })
            })
            .collect();
        let total = rows.len();
        let skip = usize::try_from((page - 1).saturating_mul(size)).unwrap_or(usize::MAX);
        let list: Vec<Value> = rows
            .into_iter()
            .skip(skip)
            .take(usize::try_from(size).unwrap_or(usize::MAX))
            .collect();
        Reply::ok(json!({"list": list, "total": total, "pageNumber": page, "pageSize": size}))
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CallListReq {
    task_id: Option<Value>,
    phone: Option<String>,
    page_number: Option<u64>,
    page_size: Option<u64>,
}

async fn call_list(State(sim): Sim, headers: HeaderMap, body: Bytes) -> Response {
    handle(&sim, &headers, &body, |sim, key, req: CallListReq| {
        let Some(task_id) = id_string(&req.task_id) else {
            return Reply::business("taskId is required");
        };
        let (Some(page), Some(size)) = (req.page_number, req.page_size) else {
            return Reply::business("pageNumber and pageSize are required");
        };
        if page == 0 || !CALL_PAGE.contains(&size) {
            return Reply::business("pageNumber >= 1 and pageSize 10..=1000");
        }
        let inner = sim.lock();
        let Some(task) = inner.account(key).and_then(|a| a.task(&task_id)) else {
            return Reply::not_found("task does not exist");
        };
        // Call records exist only for contacts that were dialled.
        let rows: Vec<Value> = task
            .contacts
            .values()
            .filter(|c| c.state != ContactState::Pending)
            .filter(|c| req.phone.as_ref().is_none_or(|p| &c.phone == p))
            .map(|c| {
                json!({
                    "contactId": c.remote_id, "calleePhone": c.phone, "realPhone": c.phone,
                    "callId": c.seq, "callStatus": if c.state == ContactState::Finished { 2 } else { 1 },
                    "callResult": if c.state == ContactState::Finished { 1 } else { 0 },
                    "orderHead": 1, "orderTail": i64::from(c.state == ContactState::Finished),
                    "createTs": c.created_at_ms / 1000, "taskId": task.id,
                })
            })
            .collect();
        let total = rows.len();
        let skip = usize::try_from((page - 1).saturating_mul(size)).unwrap_or(usize::MAX);
        let list: Vec<Value> = rows
            .into_iter()
            .skip(skip)
            .take(usize::try_from(size).unwrap_or(usize::MAX))
            .collect();
        Reply::ok(json!({"list": list, "total": total, "pageNumber": page, "pageSize": size}))
    })
}

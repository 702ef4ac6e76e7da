//! longlonglong agent-api (`/agent-api/...`): Bearer token, `{code,status,message,data}`
//! envelope, number add (async ≤200 / sync ≤100), batch delete, paged list, task pause,
//! sub-accounts (`sub_user_id`). Variants that only reshape answers live in [`shape`].
#![allow(
    clippy::result_large_err,
    reason = "handlers exit early with a ready HTTP response; one per request, boxing buys nothing"
)]
mod shape;

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use rand::Rng;
use serde::Deserialize;
use serde_json::{Value, json};

use super::audit::{AuditOp, AuditOutcome};
use super::auth::{LllAuthError, lll_verify};
use super::config::{TaskGeneration, TaskState};
use super::faults::Committed;
use super::phones::lll_valid;
use super::state::{AccountKey, AsyncJob, ContactState, NewContact, RowFailure, SimState, Task};
use super::variants::Variant;

/// Documented limits.
pub const MAX_ASYNC_ROWS: usize = 200;
pub const MAX_SYNC_ROWS: usize = 100;
/// Not documented; the strict reading mirrors the async add.
pub const MAX_DELETE_ROWS: usize = 200;
/// Not documented; the docs' example uses 15.
pub const MAX_PER_PAGE: usize = 100;
pub const DEFAULT_PER_PAGE: usize = 15;

type Sim = State<Arc<SimState>>;

pub use shape::CAPPED_PER_PAGE;

pub fn routes(state: Arc<SimState>) -> Router<Arc<SimState>> {
    Router::new()
        .route("/agent-api/token", get(token))
        .route(
            "/agent-api/user/{user_id}/task/{task_id}/async_number",
            post(async_number),
        )
        .route(
            "/agent-api/user/{user_id}/task/{task_id}/number",
            post(sync_number).get(list_numbers),
        )
        .route(
            "/agent-api/user/{user_id}/task/{task_id}/number/detail/{phone}",
            get(number_detail),
        )
        .route(
            "/agent-api/user/{user_id}/task/{task_id}/number-batch-delete",
            delete(batch_delete),
        )
        .route(
            "/agent-api/user/{user_id}/identification/{unique_id}",
            get(identification),
        )
        .route("/agent-api/user/{user_id}/task", get(list_tasks_v1))
        .route("/agent-api/new/user/{user_id}/task", get(list_tasks_v2))
        .route(
            "/agent-api/user/{user_id}/task_stop/{task_id}",
            get(stop_v1),
        )
        .route(
            "/agent-api/new/user/{user_id}/task_stop/{task_id}",
            put(stop_v2),
        )
        .route(
            "/agent-api/user/{user_id}/task_start/{task_id}",
            get(start_v1),
        )
        .route(
            "/agent-api/new/user/{user_id}/task_start/{task_id}",
            put(start_v2),
        )
        .layer(axum::middleware::from_fn_with_state(state, shape::shape))
}

// ---- replies -------------------------------------------------------------------------------

fn reply(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

fn ok(message: &str, data: Value) -> Response {
    reply(
        StatusCode::OK,
        json!({"code": 200, "status": "success", "message": message, "data": data}),
    )
}

/// Business and validation errors: HTTP 200 with `code != 200` (the docs do not say which HTTP
/// status errors carry; a client must read `code`).
fn error(code: i64, message: &str) -> Response {
    reply(
        StatusCode::OK,
        json!({"code": code, "status": "error", "message": message, "data": []}),
    )
}

fn committed(mut response: Response) -> Response {
    response.extensions_mut().insert(Committed);
    response
}

fn auth_error(err: LllAuthError) -> Response {
    match err {
        LllAuthError::Unauthenticated => reply(
            StatusCode::UNAUTHORIZED,
            json!({"code": 401, "status": "error", "message": "Unauthenticated.", "data": []}),
        ),
        LllAuthError::Forbidden => reply(
            StatusCode::FORBIDDEN,
            json!({"code": 403, "status": "error", "message": "无权限操作该用户", "data": []}),
        ),
    }
}

pub fn rate_limited() -> Response {
    reply(
        StatusCode::TOO_MANY_REQUESTS,
        json!({"code": 429, "status": "error", "message": "Too Many Attempts.", "data": []}),
    )
}

pub fn server_error() -> Response {
    reply(
        StatusCode::SERVICE_UNAVAILABLE,
        json!({"code": 503, "status": "error", "message": "Service Unavailable", "data": []}),
    )
}

const TASK_STARTED: &str = "2.0任务启动中,请先停止任务";

fn task_not_found() -> Response {
    error(404, "任务不存在")
}

/// Authenticates and checks that the sub-account, if one is named, exists.
fn authenticate(
    sim: &SimState,
    headers: &HeaderMap,
    user_id: &str,
    sub_user_id: Option<&str>,
) -> Result<AccountKey, Response> {
    let key = lll_verify(sim, headers, Some(user_id)).map_err(auth_error)?;
    known_sub_account(sim, &key, sub_user_id)?;
    Ok(key)
}

/// The simulator's sub-accounts are the owners named by tasks (`TaskConfig::sub_user_id`); any
/// other non-empty `sub_user_id` is refused.
fn known_sub_account(
    sim: &SimState,
    key: &AccountKey,
    sub_user_id: Option<&str>,
) -> Result<(), Response> {
    let Some(sub) = sub_user_id.filter(|s| !s.is_empty()) else {
        return Ok(());
    };
    let inner = sim.lock();
    let known = inner.account(key).is_some_and(|a| {
        a.tasks
            .values()
            .any(|t| t.sub_user_id.as_deref() == Some(sub))
    });
    if known {
        Ok(())
    } else {
        Err(error(403, "子账号不存在"))
    }
}

/// A task as the (sub-)account `sub_user_id` sees it: a sub-account's task is invisible to the
/// main account and to other sub-accounts.
fn visible<'a>(task: Option<&'a Task>, sub_user_id: Option<&str>) -> Option<&'a Task> {
    let sub = sub_user_id.filter(|s| !s.is_empty());
    task.filter(|t| t.sub_user_id.as_deref() == sub)
}

fn has(sim: &SimState, key: &AccountKey, variant: Variant) -> bool {
    sim.lock().account(key).is_some_and(|a| a.has(variant))
}

fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

fn query_one<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Number state as the API shows it: 0 not called, 1 calling, 2 called.
fn status_code(state: ContactState) -> i64 {
    match state {
        ContactState::Pending => 0,
        ContactState::Calling => 1,
        ContactState::Finished => 2,
    }
}

fn status_str(state: ContactState) -> &'static str {
    match state {
        ContactState::Pending => "未呼叫",
        ContactState::Calling => "呼叫中",
        ContactState::Finished => "已呼叫",
    }
}

/// A 2.0 task that is started (running or waiting) refuses number changes.
fn refuses_changes(generation: TaskGeneration, state: TaskState) -> bool {
    generation == TaskGeneration::V2 && matches!(state, TaskState::Running | TaskState::Waiting)
}

// ---- token -----------------------------------------------------------------------------------

async fn token(State(sim): Sim, headers: HeaderMap) -> Response {
    match lll_verify(&sim, &headers, None) {
        Ok(_) => ok(
            "success",
            json!({"expire_at": "2099-12-31 23:59:59", "valid": true}),
        ),
        Err(err) => auth_error(err),
    }
}

// ---- add -------------------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
struct AddBody {
    #[serde(default)]
    skip_error: bool,
    #[serde(default)]
    number_add_suffix: bool,
    #[serde(default)]
    sub_user_id: Option<String>,
    data: Vec<Row>,
}

#[derive(Debug, Deserialize)]
struct Row {
    phone: Value,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    extra: Option<String>,
    /// Required by the async add's docs ("sort … 是").
    #[serde(default)]
    sort: Option<i64>,
    /// The docs' table: `data.*.sub_user_id`.
    #[serde(default)]
    sub_user_id: Option<String>,
    /// `[{id, value}]`: component values (the docs' `data.*.components`).
    #[serde(default)]
    components: Option<Vec<Component>>,
}

#[derive(Debug, Deserialize)]
struct Component {
    id: String,
    value: Value,
}

impl Row {
    fn phone(&self) -> String {
        match &self.phone {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        }
    }
}

fn parse_add(body: &[u8], max: usize) -> Result<AddBody, Response> {
    let parsed: AddBody =
        serde_json::from_slice(body).map_err(|e| error(422, &format!("参数错误: {e}")))?;
    if parsed.data.is_empty() {
        return Err(error(422, "data 不能为空"));
    }
    if parsed.data.len() > max {
        return Err(error(422, &format!("data 最多 {max} 条")));
    }
    if parsed
        .data
        .iter()
        .flat_map(|r| r.components.iter().flatten())
        .any(|c| c.id.is_empty() || !(c.value.is_string() || c.value.is_number()))
    {
        return Err(error(422, "参数错误: components 必须是 [{id, value}]"));
    }
    Ok(parsed)
}

/// The sub-account an add acts for, read where the account's variant says: by default at the
/// top level or per row (both places must then agree), or only in one of them.
fn add_sub_user(
    sim: &SimState,
    key: &AccountKey,
    add: &AddBody,
) -> Result<Option<String>, Response> {
    let non_empty = |s: &Option<String>| s.clone().filter(|s| !s.is_empty());
    let top = non_empty(&add.sub_user_id);
    let rows: std::collections::BTreeSet<Option<String>> =
        add.data.iter().map(|r| non_empty(&r.sub_user_id)).collect();
    let per_row = match rows.len() {
        1 => rows.into_iter().next().flatten(),
        _ => return Err(error(422, "data.*.sub_user_id 不一致")),
    };
    if has(sim, key, Variant::LllSubUserIdPerRow) {
        return Ok(per_row);
    }
    if has(sim, key, Variant::LllSubUserIdTopLevel) {
        return Ok(top);
    }
    match (top, per_row) {
        (Some(top), Some(row)) if top != row => Err(error(422, "sub_user_id 不一致")),
        (top, row) => Ok(top.or(row)),
    }
}

fn suffixed(phone: &str) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    let suffix: String = (0..6)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect();
    format!("{phone}_{suffix}")
}

/// Applies rows to a task; returns (imported phones, failures). With `all_or_nothing`, a single
/// failing row leaves the task untouched.
fn apply_rows(
    sim: &SimState,
    key: &AccountKey,
    task_id: &str,
    rows: &[Row],
    add_suffix: bool,
    all_or_nothing: bool,
) -> (Vec<String>, Vec<RowFailure>) {
    let mut inner = sim.lock();
    let mut planned: Vec<NewContact> = Vec::new();
    let mut failures = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for row in rows {
        let phone = row.phone();
        let reason = if !lll_valid(&phone) {
            Some("号码格式错误")
        } else if !seen.insert(phone.clone()) && !add_suffix {
            Some("重复号码")
        } else {
            None
        };
        if let Some(reason) = reason {
            failures.push(RowFailure {
                phone,
                reason: reason.to_owned(),
            });
            continue;
        }
        let mut contact = NewContact {
            phone: phone.clone(),
            remote_id: None,
            name: row.name.clone().unwrap_or_default(),
            extra: row.extra.clone().unwrap_or_default(),
        };
        if inner.check_add(key, task_id, &contact).is_err()
            || planned.iter().any(|p| p.phone == contact.phone)
        {
            if add_suffix {
                contact.phone = suffixed(&phone);
            } else {
                failures.push(RowFailure {
                    phone,
                    reason: "重复号码".to_owned(),
                });
                continue;
            }
        }
        planned.push(contact);
    }
    if all_or_nothing && !failures.is_empty() {
        for failure in &failures {
            inner.audit_item(
                key,
                task_id,
                AuditOp::Add,
                &failure.phone,
                None,
                AuditOutcome::Rejected,
                Some(&failure.reason),
            );
        }
        return (Vec::new(), failures);
    }
    let mut imported = Vec::new();
    for failure in &failures {
        inner.audit_item(
            key,
            task_id,
            AuditOp::Add,
            &failure.phone,
            None,
            AuditOutcome::Rejected,
            Some(&failure.reason),
        );
    }
    for contact in planned {
        let phone = contact.phone.clone();
        if inner.add_contact(key, task_id, contact).is_ok() {
            imported.push(phone);
        }
    }
    (imported, failures)
}

/// Looks up the task as the (sub-)account sees it and applies the 2.0 rule.
fn writable_task(
    sim: &SimState,
    key: &AccountKey,
    task_id: &str,
    sub_user_id: Option<&str>,
) -> Result<(), Response> {
    known_sub_account(sim, key, sub_user_id)?;
    let inner = sim.lock();
    let task = visible(
        inner.account(key).and_then(|a| a.task(task_id)),
        sub_user_id,
    )
    .ok_or_else(task_not_found)?;
    if refuses_changes(task.generation, task.state) {
        return Err(error(6007, TASK_STARTED));
    }
    Ok(())
}

async fn sync_number(
    State(sim): Sim,
    Path((user_id, task_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let key = match lll_verify(&sim, &headers, Some(&user_id)) {
        Ok(key) => key,
        Err(err) => return auth_error(err),
    };
    let add = match parse_add(&body, MAX_SYNC_ROWS) {
        Ok(add) => add,
        Err(response) => return response,
    };
    if let Err(response) = add_sub_user(&sim, &key, &add)
        .and_then(|sub| writable_task(&sim, &key, &task_id, sub.as_deref()))
    {
        return response;
    }
    let (imported, failures) = apply_rows(
        &sim,
        &key,
        &task_id,
        &add.data,
        add.number_add_suffix,
        !add.skip_error,
    );
    if !add.skip_error && !failures.is_empty() {
        let first = &failures[0];
        return reply(
            StatusCode::OK,
            json!({"code": 422, "status": "error",
                   "message": format!("号码 {} 导入失败: {}", first.phone, first.reason),
                   "data": {"fail": failures}}),
        );
    }
    let data = if has(&sim, &key, Variant::LllSyncAddCountsOnly) {
        json!({"success_count": imported.len(), "fail_count": failures.len()})
    } else {
        json!({"success_count": imported.len(), "fail_count": failures.len(), "fail": failures})
    };
    let response = ok("导入成功", data);
    if imported.is_empty() {
        response
    } else {
        committed(response)
    }
}

async fn async_number(
    State(sim): Sim,
    Path((user_id, task_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let key = match lll_verify(&sim, &headers, Some(&user_id)) {
        Ok(key) => key,
        Err(err) => return auth_error(err),
    };
    let add = match parse_add(&body, MAX_ASYNC_ROWS) {
        Ok(add) => add,
        Err(response) => return response,
    };
    if add.data.iter().any(|r| r.sort.is_none()) {
        return error(422, "data.*.sort 不能为空");
    }
    let sub = match add_sub_user(&sim, &key, &add) {
        Ok(sub) => sub,
        Err(response) => return response,
    };
    if let Err(response) = writable_task(&sim, &key, &task_id, sub.as_deref()) {
        return response;
    }
    let unique_id = uuid::Uuid::new_v4().simple().to_string();
    let mut inner = sim.lock();
    let accepted_after_seq = inner.audit.last_seq();
    inner.async_jobs.insert(
        unique_id.clone(),
        AsyncJob {
            unique_id: unique_id.clone(),
            user_id: user_id.clone(),
            task_id: task_id.clone(),
            sub_user_id: sub,
            status: "processing",
            total: add.data.len(),
            success_count: 0,
            fail_count: 0,
            numbers: Vec::new(),
            fail: Vec::new(),
            rows: add.data.iter().map(Row::phone).collect(),
            accepted_after_seq,
        },
    );
    drop(inner);
    let job_sim = sim.clone();
    let job_id = unique_id.clone();
    let delay = if has(&sim, &key, Variant::LllAsyncLate) {
        sim.timing.async_delay * 20
    } else {
        sim.timing.async_delay
    };
    let never = has(&sim, &key, Variant::LllAsyncNever);
    tokio::spawn(async move {
        if never {
            return;
        }
        tokio::time::sleep(delay).await;
        let (imported, failures) = apply_rows(
            &job_sim,
            &key,
            &task_id,
            &add.data,
            add.number_add_suffix,
            false,
        );
        let mut inner = job_sim.lock();
        if let Some(job) = inner.async_jobs.get_mut(&job_id) {
            job.status = "finished";
            job.success_count = imported.len();
            job.fail_count = failures.len();
            job.numbers = imported;
            job.fail = failures;
        }
    });
    // The batch is accepted (it will be applied): for commit-then-drop this is the commit.
    committed(ok(
        "号码导入任务信息请在回调中查收",
        json!({"unique_id": unique_id}),
    ))
}

async fn identification(
    State(sim): Sim,
    Path((user_id, unique_id)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let pairs = query_pairs(query.as_deref());
    let sub = query_one(&pairs, "sub_user_id").filter(|s| !s.is_empty());
    if let Err(response) = authenticate(&sim, &headers, &user_id, sub) {
        return response;
    }
    let inner = sim.lock();
    match inner.async_jobs.get(&unique_id) {
        Some(job) if job.user_id == user_id && job.sub_user_id.as_deref() == sub => {
            ok("success", json!(job))
        }
        _ => error(404, "回调数据不存在"),
    }
}

// ---- delete ----------------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
struct DeleteBody {
    customer_info_list: Vec<Row>,
    #[serde(default)]
    sub_user_id: Option<String>,
}

async fn batch_delete(
    State(sim): Sim,
    Path((user_id, task_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let key = match lll_verify(&sim, &headers, Some(&user_id)) {
        Ok(key) => key,
        Err(err) => return auth_error(err),
    };
    let parsed: DeleteBody = match serde_json::from_slice(&body) {
        Ok(parsed) => parsed,
        Err(e) => return error(422, &format!("参数错误: {e}")),
    };
    if parsed.customer_info_list.is_empty() {
        return error(422, "customer_info_list 不能为空");
    }
    if parsed.customer_info_list.len() > MAX_DELETE_ROWS {
        return error(
            422,
            &format!("customer_info_list 最多 {MAX_DELETE_ROWS} 条"),
        );
    }
    // The delete's docs put `sub_user_id` at the top level only.
    if let Err(response) = writable_task(&sim, &key, &task_id, parsed.sub_user_id.as_deref()) {
        return response;
    }
    let mut inner = sim.lock();
    let mut removed = 0usize;
    for row in &parsed.customer_info_list {
        let phone = row.phone();
        let found = inner
            .account(&key)
            .and_then(|a| a.task(&task_id))
            .and_then(|t| t.contact_by_phone(&phone))
            .map(|c| (c.seq, c.state));
        match found {
            Some((seq, ContactState::Pending)) => {
                inner.remove_contact(&key, &task_id, seq, AuditOp::Remove);
                removed += 1;
            }
            Some((_, _)) => inner.audit_item(
                &key,
                &task_id,
                AuditOp::Remove,
                &phone,
                None,
                AuditOutcome::Kept,
                Some("already called: not deletable"),
            ),
            None => inner.audit_item(
                &key,
                &task_id,
                AuditOp::Remove,
                &phone,
                None,
                AuditOutcome::Rejected,
                Some("not in the task"),
            ),
        }
    }
    drop(inner);
    let response = reply(
        StatusCode::OK,
        json!({"code": 200, "status": "success", "message": "批量删除号码成功"}),
    );
    if removed > 0 {
        committed(response)
    } else {
        response
    }
}

// ---- observe ---------------------------------------------------------------------------------

fn contact_row(contact: &super::state::Contact) -> Value {
    json!({
        "phone": contact.phone,
        "name": contact.name,
        "extra": contact.extra,
        "status": status_code(contact.state),
        "status_str": status_str(contact.state),
        "created_at": chrono::DateTime::from_timestamp_millis(contact.created_at_ms)
            .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string()),
    })
}

fn meta(total: usize, page: usize, per_page: usize) -> Value {
    let last_page = total.div_ceil(per_page).max(1);
    json!({"has_pages": last_page > 1, "total": total, "last_page": last_page,
           "current_page": page, "per_page": per_page})
}

fn paging(pairs: &[(String, String)]) -> Result<(usize, usize), Response> {
    let page = match query_one(pairs, "page") {
        None => 1,
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|p| *p >= 1)
            .ok_or_else(|| error(422, "page 必须是正整数"))?,
    };
    let per_page = match query_one(pairs, "per_page") {
        None => DEFAULT_PER_PAGE,
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|p| (1..=MAX_PER_PAGE).contains(p))
            .ok_or_else(|| error(422, &format!("per_page 必须在 1 到 {MAX_PER_PAGE} 之间")))?,
    };
    Ok((page, per_page))
}

async fn list_numbers(
    State(sim): Sim,
    Path((user_id, task_id)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let pairs = query_pairs(query.as_deref());
    let sub = query_one(&pairs, "sub_user_id");
    let key = match authenticate(&sim, &headers, &user_id, sub) {
        Ok(key) => key,
        Err(response) => return response,
    };
    let (page, per_page) = match paging(&pairs) {
        Ok(p) => p,
        Err(response) => return response,
    };
    // `status` filter: `status=2`, `status[]=2` or `status[0]=2`, repeatable.
    let mut statuses = Vec::new();
    for (k, v) in &pairs {
        if k == "status" || k.starts_with("status[") {
            match v.parse::<i64>() {
                Ok(s) => statuses.push(s),
                Err(_) => return error(422, "status 必须是整数"),
            }
        }
    }
    let inner = sim.lock();
    let Some(task) = visible(inner.account(&key).and_then(|a| a.task(&task_id)), sub) else {
        return task_not_found();
    };
    let matching: Vec<_> = task
        .contacts
        .values()
        .filter(|c| statuses.is_empty() || statuses.contains(&status_code(c.state)))
        .collect();
    let rows: Vec<Value> = matching
        .iter()
        .skip((page - 1).saturating_mul(per_page))
        .take(per_page)
        .map(|c| contact_row(c))
        .collect();
    reply(
        StatusCode::OK,
        json!({"code": 200, "status": "success", "message": "success", "data": rows,
               "meta": meta(matching.len(), page, per_page)}),
    )
}

async fn number_detail(
    State(sim): Sim,
    Path((user_id, task_id, phone)): Path<(String, String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let pairs = query_pairs(query.as_deref());
    let sub = query_one(&pairs, "sub_user_id");
    let key = match authenticate(&sim, &headers, &user_id, sub) {
        Ok(key) => key,
        Err(response) => return response,
    };
    let inner = sim.lock();
    let Some(task) = visible(inner.account(&key).and_then(|a| a.task(&task_id)), sub) else {
        return task_not_found();
    };
    match task.contact_by_phone(&phone) {
        Some(contact) => ok("success", contact_row(contact)),
        None => error(404, "号码不存在"),
    }
}

// ---- tasks -----------------------------------------------------------------------------------

fn v1_status(state: TaskState) -> i64 {
    match state {
        TaskState::Paused | TaskState::Completed => 1,
        TaskState::Running => 2,
        TaskState::Waiting => 3,
    }
}

fn list_tasks(
    sim: &SimState,
    headers: &HeaderMap,
    user_id: &str,
    query: Option<&str>,
    generation: TaskGeneration,
) -> Response {
    let pairs = query_pairs(query);
    let sub = query_one(&pairs, "sub_user_id").filter(|s| !s.is_empty());
    let key = match authenticate(sim, headers, user_id, sub) {
        Ok(key) => key,
        Err(response) => return response,
    };
    let (page, per_page) = match paging(&pairs) {
        Ok(p) => p,
        Err(response) => return response,
    };
    let inner = sim.lock();
    let Some(account) = inner.account(&key) else {
        return auth_error(LllAuthError::Unauthenticated);
    };
    let tasks: Vec<Value> = account
        .tasks
        .values()
        .filter(|t| t.generation == generation && t.sub_user_id.as_deref() == sub)
        .map(|t| match generation {
            TaskGeneration::V1 => json!({
                "uuid": t.id, "name": t.name, "status": v1_status(t.state),
                "status_str": match t.state { TaskState::Running => "执行中", TaskState::Waiting => "等待执行", _ => "暂停中" },
            }),
            TaskGeneration::V2 => json!({
                "uuid": t.id, "name": t.name, "task_type": 6,
                "enable": matches!(t.state, TaskState::Running | TaskState::Waiting),
                "new_task_extra": {"call_status": t.state == TaskState::Running},
            }),
        })
        .collect();
    let total = tasks.len();
    let rows: Vec<Value> = tasks
        .into_iter()
        .skip((page - 1).saturating_mul(per_page))
        .take(per_page)
        .collect();
    reply(
        StatusCode::OK,
        json!({"code": 200, "status": "success", "message": "success", "data": rows,
               "meta": meta(total, page, per_page)}),
    )
}

async fn list_tasks_v1(
    State(sim): Sim,
    Path(user_id): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Response {
    list_tasks(&sim, &headers, &user_id, q.as_deref(), TaskGeneration::V1)
}

async fn list_tasks_v2(
    State(sim): Sim,
    Path(user_id): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Response {
    list_tasks(&sim, &headers, &user_id, q.as_deref(), TaskGeneration::V2)
}

/// Pause or start; the 1.0 endpoints serve only 1.0 tasks and the 2.0 ones only 2.0 tasks.
fn set_state(
    sim: &SimState,
    headers: &HeaderMap,
    user_id: &str,
    task_id: &str,
    sub_user_id: Option<&str>,
    generation: TaskGeneration,
    target: TaskState,
) -> Response {
    let key = match authenticate(sim, headers, user_id, sub_user_id) {
        Ok(key) => key,
        Err(response) => return response,
    };
    let mut inner = sim.lock();
    let Some(task) = inner.task_mut(&key, task_id) else {
        return task_not_found();
    };
    if task.generation != generation
        || task.sub_user_id.as_deref() != sub_user_id.filter(|s| !s.is_empty())
    {
        return task_not_found();
    }
    let changed = task.state != target;
    task.state = target;
    if changed {
        let detail = format!("{target:?}").to_lowercase();
        inner.audit_item(
            &key,
            task_id,
            AuditOp::TaskStatus,
            "",
            None,
            AuditOutcome::Applied,
            Some(&detail),
        );
    }
    drop(inner);
    let message = if target == TaskState::Paused {
        "任务暂停成功"
    } else {
        "任务启动成功"
    };
    let response = ok(message, json!([]));
    if changed {
        committed(response)
    } else {
        response
    }
}

fn sub_user(query: Option<&str>, body: &[u8]) -> Option<String> {
    let pairs = query_pairs(query);
    query_one(&pairs, "sub_user_id")
        .map(str::to_owned)
        .or_else(|| {
            serde_json::from_slice::<Value>(body)
                .ok()?
                .get("sub_user_id")?
                .as_str()
                .map(str::to_owned)
        })
}

async fn stop_v1(
    State(sim): Sim,
    Path((user_id, task_id)): Path<(String, String)>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Response {
    let sub = sub_user(q.as_deref(), b"");
    set_state(
        &sim,
        &headers,
        &user_id,
        &task_id,
        sub.as_deref(),
        TaskGeneration::V1,
        TaskState::Paused,
    )
}

async fn start_v1(
    State(sim): Sim,
    Path((user_id, task_id)): Path<(String, String)>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Response {
    let sub = sub_user(q.as_deref(), b"");
    set_state(
        &sim,
        &headers,
        &user_id,
        &task_id,
        sub.as_deref(),
        TaskGeneration::V1,
        TaskState::Running,
    )
}

async fn stop_v2(
    State(sim): Sim,
    Path((user_id, task_id)): Path<(String, String)>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let sub = sub_user(q.as_deref(), &body);
    set_state(
        &sim,
        &headers,
        &user_id,
        &task_id,
        sub.as_deref(),
        TaskGeneration::V2,
        TaskState::Paused,
    )
}

async fn start_v2(
    State(sim): Sim,
    Path((user_id, task_id)): Path<(String, String)>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let sub = sub_user(q.as_deref(), &body);
    set_state(
        &sim,
        &headers,
        &user_id,
        &task_id,
        sub.as_deref(),
        TaskGeneration::V2,
        TaskState::Running,
    )
}

//! longlonglong agent-api client (`/agent-api/...`, Bearer token).
//!
//! - add: sync `POST …/number` (≤100, `skip_error=true` so one bad row does not sink the batch)
//!   or async `POST …/async_number` (≤200, confirmed through `GET …/identification/{unique_id}`,
//!   else through the number list), chosen by the CallTask's `addMode`;
//!   `number_add_suffix` is never set (it would break phone identity and let duplicates in).
//! - remove: `DELETE …/number-batch-delete` by phone (JSON body on DELETE).
//! - list: `GET …/number`, paged by `meta.last_page`.
//! - 6007 (a started 2.0 task refuses changes) is [`ProviderError::TaskRunning`]; with
//!   `pauseTaskDuringSync` the change runs inside [`pause::with_pause`].
//! - Envelope `{code,status,message,data}`: `code != 200` is a failure whatever the HTTP status.
mod pause;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use reqwest::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::batching::in_chunks;
use super::factory::{ClientSettings, limit};
use super::http::{Response, Sent, Transport};
use super::wire::{KeyIndex, seg, to_json, value_string};
use super::{
    BatchOutcome, Capabilities, ContactToAdd, ContactToRemove, Credentials, DriftHint, Identity,
    ItemResult, ProviderError, RejectReason, RemoteContact, RemoteState, SecretString,
    SharedCredentials, TaskRef, sanitize,
};
use crate::api::{AddMode, LonglonglongAccount, LonglonglongTaskOptions};

/// Documented: `async_number` takes at most 200 rows.
pub const MAX_ASYNC_ADD: usize = 200;
/// Documented: `number` takes at most 100 rows.
pub const MAX_SYNC_ADD: usize = 100;
/// Not documented; mirrors the async add.
pub const MAX_REMOVE: usize = 200;
/// Rows per list page (the docs' example uses 15; maximum not documented).
pub const LIST_PAGE_SIZE: usize = 100;

const REMOVABLE: &[RemoteState] = &[RemoteState::Pending];

/// A longlonglong client for one CallTask (options) on one account (limiter, credentials).
#[derive(Clone)]
pub struct LonglonglongClient {
    inner: Arc<Inner>,
}

struct Inner {
    transport: Transport,
    credentials: SharedCredentials,
    user_id: String,
    sub_user_id: Option<String>,
    options: LonglonglongTaskOptions,
    max_add: usize,
    max_remove: usize,
    async_confirm_timeout: Duration,
    async_poll_interval: Duration,
    resume_rounds: u32,
}

/// `{code, status, message, data, meta}`.
#[derive(Debug, Deserialize)]
struct Envelope {
    code: i64,
    #[serde(default)]
    message: String,
    #[serde(default)]
    data: Value,
    #[serde(default)]
    meta: Option<Meta>,
}

#[derive(Debug, Deserialize)]
struct Meta {
    #[serde(default)]
    last_page: Option<u64>,
}

#[derive(Serialize)]
struct AddBody<'a> {
    ignore_crm: bool,
    skip_error: bool,
    number_add_suffix: bool,
    encryption: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    sub_user_id: Option<&'a str>,
    data: Vec<AddRow<'a>>,
}

#[derive(Serialize)]
struct AddRow<'a> {
    phone: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    company: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    extra: Option<&'a str>,
    sort: i64,
}

#[derive(Serialize)]
struct DeleteBody<'a> {
    customer_info_list: Vec<PhoneRow<'a>>,
    encryption: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    sub_user_id: Option<&'a str>,
}

#[derive(Serialize)]
struct PhoneRow<'a> {
    phone: &'a str,
}

#[derive(Serialize)]
struct SubUserBody<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    sub_user_id: Option<&'a str>,
}

/// One request: endpoint name (for logs), method, path, query and JSON body.
struct Req {
    op: &'static str,
    method: Method,
    path: String,
    query: Vec<(&'static str, String)>,
    body: Option<Vec<u8>>,
}

impl Req {
    fn get(op: &'static str, path: String) -> Self {
        Self {
            op,
            method: Method::GET,
            path,
            query: Vec::new(),
            body: None,
        }
    }

    fn send(op: &'static str, method: Method, path: String, body: Vec<u8>) -> Self {
        Self {
            op,
            method,
            path,
            query: Vec::new(),
            body: Some(body),
        }
    }

    fn query(mut self, query: Vec<(&'static str, String)>) -> Self {
        self.query = query;
        self
    }
}

/// One refused row, as the sync add and the async result report them.
#[derive(Debug, Deserialize)]
struct RowFailure {
    #[serde(default)]
    phone: Value,
    #[serde(default, alias = "message", alias = "msg", alias = "errMsg")]
    reason: String,
}

impl LonglonglongClient {
    pub(crate) fn new(
        transport: Transport,
        credentials: SharedCredentials,
        account: &LonglonglongAccount,
        options: Option<LonglonglongTaskOptions>,
        add_override: Option<usize>,
        remove_override: Option<usize>,
        settings: &ClientSettings,
    ) -> Self {
        let options = options.unwrap_or(LonglonglongTaskOptions {
            ignore_crm: true,
            add_mode: AddMode::Sync,
            pause_task_during_sync: false,
        });
        let documented_add = match options.add_mode {
            AddMode::Sync => MAX_SYNC_ADD,
            AddMode::Async => MAX_ASYNC_ADD,
        };
        Self {
            inner: Arc::new(Inner {
                transport,
                credentials,
                user_id: account.user_id.clone(),
                sub_user_id: account.sub_user_id.clone().filter(|s| !s.is_empty()),
                max_add: limit(documented_add, add_override),
                max_remove: limit(MAX_REMOVE, remove_override),
                options,
                async_confirm_timeout: settings.async_confirm_timeout,
                async_poll_interval: settings.async_poll_interval,
                resume_rounds: settings.resume_rounds.max(1),
            }),
        }
    }

    pub fn kind(&self) -> &'static str {
        "longlonglong"
    }

    pub fn capabilities(&self) -> Capabilities {
        Capabilities {
            max_add: self.inner.max_add,
            max_remove: self.inner.max_remove,
            can_list: true,
            async_add: self.inner.options.add_mode == AddMode::Async,
            removable_states: REMOVABLE,
            identity: Identity::Phone,
            remove_concurrency: 1,
        }
    }

    async fn token(&self) -> Result<SecretString, ProviderError> {
        match self.inner.credentials.get().await? {
            Credentials::Longlonglong { token } => Ok(token),
            other => Err(ProviderError::Config(format!(
                "longlonglong needs a token, got {} credentials",
                other.kind()
            ))),
        }
    }

    fn user_path(&self, rest: &str) -> String {
        format!("/agent-api/user/{}{rest}", seg(&self.inner.user_id))
    }

    fn task_path(&self, task: &TaskRef, rest: &str) -> String {
        self.user_path(&format!("/task/{}{rest}", seg(&task.id)))
    }

    fn sub_user(&self) -> Option<&str> {
        self.inner.sub_user_id.as_deref()
    }

    /// One request with the envelope checked; returns the envelope and the attempts it took.
    async fn call(
        &self,
        req: Req,
        token: &SecretString,
        task: Option<&TaskRef>,
    ) -> Result<Sent<Envelope>, ProviderError> {
        let Req {
            op,
            method,
            path,
            query,
            body,
        } = req;
        let mut url = reqwest::Url::parse(&self.inner.transport.url(&path))
            .map_err(|e| ProviderError::Config(format!("bad request URL: {e}")))?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query.iter());
        }
        let endpoint = self.inner.transport.endpoint().to_owned();
        let sent = self
            .inner
            .transport
            .execute(
                op,
                |client| {
                    let mut request = client
                        .request(method.clone(), url.clone())
                        .header(AUTHORIZATION, format!("Bearer {}", token.expose()))
                        .header(ACCEPT, "application/json");
                    if let Some(body) = &body {
                        request = request
                            .header(CONTENT_TYPE, "application/json")
                            .body(body.clone());
                    }
                    Ok(request)
                },
                |response| parse_envelope(&endpoint, response, task),
            )
            .await?;
        Ok(sent)
    }

    pub async fn check_credentials(&self) -> Result<(), ProviderError> {
        let token = self.token().await?;
        self.call(Req::get("token", "/agent-api/token".into()), &token, None)
            .await
            .map(|_| ())
    }

    pub async fn drift_hint(&self, _task: &TaskRef) -> Result<Option<DriftHint>, ProviderError> {
        Ok(None)
    }

    // ---- list --------------------------------------------------------------------------------

    pub async fn list(&self, task: &TaskRef) -> Result<Option<Vec<RemoteContact>>, ProviderError> {
        let token = self.token().await?;
        self.list_with(task, &token).await.map(Some)
    }

    async fn list_with(
        &self,
        task: &TaskRef,
        token: &SecretString,
    ) -> Result<Vec<RemoteContact>, ProviderError> {
        let path = self.task_path(task, "/number");
        let mut contacts = Vec::new();
        let mut page: u64 = 1;
        loop {
            let mut query = vec![
                ("page", page.to_string()),
                ("per_page", LIST_PAGE_SIZE.to_string()),
            ];
            if let Some(sub) = self.sub_user() {
                query.push(("sub_user_id", sub.to_owned()));
            }
            let Sent {
                value: envelope, ..
            } = self
                .call(
                    Req::get("number-list", path.clone()).query(query),
                    token,
                    Some(task),
                )
                .await?;
            let rows = match &envelope.data {
                Value::Array(rows) => rows.as_slice(),
                Value::Object(map) => map
                    .get("data")
                    .or_else(|| map.get("list"))
                    .and_then(Value::as_array)
                    .map_or(&[][..], Vec::as_slice),
                _ => &[],
            };
            contacts.extend(rows.iter().filter_map(remote_contact));
            let last_page = envelope
                .meta
                .as_ref()
                .and_then(|m| m.last_page)
                .unwrap_or(page);
            if rows.is_empty() || page >= last_page {
                break;
            }
            page += 1;
        }
        Ok(contacts)
    }

    // ---- add ---------------------------------------------------------------------------------

    pub async fn add(
        &self,
        task: &TaskRef,
        batch: &[ContactToAdd],
    ) -> Result<BatchOutcome, ProviderError> {
        if batch.is_empty() {
            return Ok(BatchOutcome::default());
        }
        let token = self.token().await?;
        pause::with_pause(self, task, &token, || {
            in_chunks(batch, self.inner.max_add, |chunk| {
                self.add_chunk(task, chunk, &token)
            })
        })
        .await
    }

    async fn add_chunk(
        &self,
        task: &TaskRef,
        chunk: &[ContactToAdd],
        token: &SecretString,
    ) -> Result<BatchOutcome, ProviderError> {
        let async_mode = self.inner.options.add_mode == AddMode::Async;
        let body = AddBody {
            ignore_crm: self.inner.options.ignore_crm,
            skip_error: true,
            number_add_suffix: false,
            encryption: false,
            sub_user_id: self.sub_user(),
            data: chunk
                .iter()
                .map(|c| AddRow {
                    phone: &c.phone,
                    name: c.name.as_deref(),
                    company: c.company.as_deref(),
                    email: c.email.as_deref(),
                    extra: c.extra.as_deref(),
                    sort: 0,
                })
                .collect(),
        };
        let bytes = to_json(&body)?;
        let (op, path) = if async_mode {
            ("async_number", self.task_path(task, "/async_number"))
        } else {
            ("number", self.task_path(task, "/number"))
        };
        let Sent {
            value: envelope,
            attempts,
            in_doubt,
        } = self
            .call(Req::send(op, Method::POST, path, bytes), token, Some(task))
            .await?;
        // An earlier attempt may have been applied although its answer was lost: its rows then
        // come back as duplicates of themselves.
        let retried = in_doubt;
        let mut outcome = if async_mode {
            let unique_id = envelope
                .data
                .get("unique_id")
                .and_then(Value::as_str)
                .map(str::to_owned);
            match unique_id {
                Some(id) => self.confirm_async(task, chunk, &id, token, retried).await,
                None => self.confirm_by_list(task, chunk, token).await,
            }
        } else {
            rows_outcome(chunk, &envelope.data, retried, None)
        };
        outcome.requests += attempts;
        Ok(outcome)
    }

    /// Polls `identification/{unique_id}` until the batch is finished or the confirm timeout
    /// passes; falls back to the number list when the lookup cannot be read.
    async fn confirm_async(
        &self,
        task: &TaskRef,
        chunk: &[ContactToAdd],
        unique_id: &str,
        token: &SecretString,
        retried: bool,
    ) -> BatchOutcome {
        let deadline = Instant::now() + self.inner.async_confirm_timeout;
        let path = self.user_path(&format!("/identification/{}", seg(unique_id)));
        let mut query = Vec::new();
        if let Some(sub) = self.sub_user() {
            query.push(("sub_user_id", sub.to_owned()));
        }
        let mut wait = self.inner.async_poll_interval;
        let mut requests = 0;
        loop {
            tokio::time::sleep(wait.min(deadline.saturating_duration_since(Instant::now()))).await;
            let result = self
                .call(
                    Req::get("identification", path.clone()).query(query.clone()),
                    token,
                    None,
                )
                .await;
            match result {
                Ok(Sent {
                    value: envelope,
                    attempts,
                    ..
                }) => {
                    requests += attempts;
                    let status = envelope.data.get("status").and_then(Value::as_str);
                    let finished = match status {
                        Some(s) => matches!(s, "finished" | "done" | "success" | "completed"),
                        // A result without a status but with the imported numbers is final.
                        None => envelope.data.get("numbers").is_some(),
                    };
                    if finished {
                        let imported: HashSet<String> = envelope
                            .data
                            .get("numbers")
                            .and_then(Value::as_array)
                            .map(|n| n.iter().map(value_string).collect())
                            .unwrap_or_default();
                        let mut outcome =
                            rows_outcome(chunk, &envelope.data, retried, Some(&imported));
                        outcome.requests += requests;
                        return outcome;
                    }
                }
                Err(err) if !err.is_retryable() => {
                    tracing::debug!(reason = err.reason(), error = %err, "async add result lookup failed; checking the number list");
                    let mut outcome = self.confirm_by_list(task, chunk, token).await;
                    outcome.requests += requests;
                    return outcome;
                }
                Err(err) => {
                    tracing::debug!(reason = err.reason(), error = %err, "async add result lookup failed");
                }
            }
            if Instant::now() >= deadline {
                tracing::info!(
                    items = chunk.len(),
                    "async add not confirmed in time; its items are Unknown until the next observation"
                );
                let mut outcome = unknown_outcome(chunk.len());
                outcome.requests += requests;
                return outcome;
            }
            wait = (wait * 2).min(Duration::from_secs(2));
        }
    }

    /// Marks the rows found in the task's number list as accepted, the others unknown.
    async fn confirm_by_list(
        &self,
        task: &TaskRef,
        chunk: &[ContactToAdd],
        token: &SecretString,
    ) -> BatchOutcome {
        match self.list_with(task, token).await {
            Ok(present) => {
                let phones: HashSet<&str> = present.iter().map(|c| c.phone.as_str()).collect();
                let mut outcome = BatchOutcome::default();
                for (index, contact) in chunk.iter().enumerate() {
                    let result = if phones.contains(contact.phone.as_str()) {
                        ItemResult::Accepted
                    } else {
                        ItemResult::Unknown
                    };
                    outcome.push(index, result);
                }
                outcome
            }
            Err(_) => unknown_outcome(chunk.len()),
        }
    }

    // ---- remove ------------------------------------------------------------------------------

    pub async fn remove(
        &self,
        task: &TaskRef,
        batch: &[ContactToRemove],
    ) -> Result<BatchOutcome, ProviderError> {
        if batch.is_empty() {
            return Ok(BatchOutcome::default());
        }
        let token = self.token().await?;
        pause::with_pause(self, task, &token, || {
            in_chunks(batch, self.inner.max_remove, |chunk| {
                self.remove_chunk(task, chunk, &token)
            })
        })
        .await
    }

    async fn remove_chunk(
        &self,
        task: &TaskRef,
        chunk: &[ContactToRemove],
        token: &SecretString,
    ) -> Result<BatchOutcome, ProviderError> {
        let body = DeleteBody {
            // A suffixed copy (`phone_xxxx`, listed with its raw value as remote id) is deleted by
            // its raw value.
            customer_info_list: chunk
                .iter()
                .map(|c| PhoneRow {
                    phone: c.remote_id.as_deref().unwrap_or(&c.phone),
                })
                .collect(),
            encryption: false,
            sub_user_id: self.sub_user(),
        };
        let path = self.task_path(task, "/number-batch-delete");
        let Sent { attempts, .. } = self
            .call(
                Req::send("number-batch-delete", Method::DELETE, path, to_json(&body)?),
                token,
                Some(task),
            )
            .await?;
        // The API reports no per-number result: a number already called stays in the task and
        // shows up (not removable) at the next observation.
        let mut outcome = BatchOutcome::default();
        for index in 0..chunk.len() {
            outcome.push(index, ItemResult::Accepted);
        }
        outcome.requests = attempts;
        Ok(outcome)
    }

    // ---- task state (used by pause) ----------------------------------------------------------

    async fn set_task_running(
        &self,
        task: &TaskRef,
        token: &SecretString,
        running: bool,
    ) -> Result<(), ProviderError> {
        let (op, action) = if running {
            ("task_start", "task_start")
        } else {
            ("task_stop", "task_stop")
        };
        let path = format!(
            "/agent-api/new/user/{}/{action}/{}",
            seg(&self.inner.user_id),
            seg(&task.id)
        );
        let body = to_json(&SubUserBody {
            sub_user_id: self.sub_user(),
        })?;
        self.call(Req::send(op, Method::PUT, path, body), token, Some(task))
            .await
            .map(|_| ())
    }
}

/// Per-row outcome from a `{fail: [{phone, reason}]}` report. With `imported` (async result),
/// rows neither imported nor refused are `Unknown`; without it, unreported rows are accepted.
fn rows_outcome(
    chunk: &[ContactToAdd],
    data: &Value,
    retried: bool,
    imported: Option<&HashSet<String>>,
) -> BatchOutcome {
    let failures: Vec<RowFailure> = data
        .get("fail")
        .or_else(|| data.get("fail_list"))
        .cloned()
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default();
    let mut results: Vec<Option<ItemResult>> = vec![None; chunk.len()];
    // A phone given twice is refused once per report, latest rows first.
    let mut by_phone = KeyIndex::new(chunk.iter().map(|c| c.phone.as_str()));
    for failure in &failures {
        let phone = value_string(&failure.phone);
        let Some((index, only)) = by_phone.take(&phone) else {
            continue;
        };
        let reason = classify_row_reason(&failure.reason);
        // A retried add whose first attempt was applied sees its own rows as duplicates.
        let result = if retried && reason == RejectReason::Duplicate && only {
            ItemResult::Accepted
        } else {
            ItemResult::Rejected { reason }
        };
        if let Some(slot) = results.get_mut(index) {
            *slot = Some(result);
        }
    }
    let mut outcome = BatchOutcome::default();
    for (index, result) in results.into_iter().enumerate() {
        let result = result.unwrap_or_else(|| match imported {
            Some(imported) if !imported.contains(&chunk[index].phone) => ItemResult::Unknown,
            _ => ItemResult::Accepted,
        });
        outcome.push(index, result);
    }
    outcome
}

fn unknown_outcome(len: usize) -> BatchOutcome {
    let mut outcome = BatchOutcome::default();
    for index in 0..len {
        outcome.push(index, ItemResult::Unknown);
    }
    outcome
}

/// Maps a row failure message to a reason.
fn classify_row_reason(reason: &str) -> RejectReason {
    let lower = reason.to_lowercase();
    if reason.contains("重复") || lower.contains("duplicate") || lower.contains("exist") {
        RejectReason::Duplicate
    } else if reason.contains("格式")
        || reason.contains("号码错误")
        || reason.contains("无效")
        || lower.contains("invalid")
        || lower.contains("format")
    {
        RejectReason::InvalidNumber
    } else {
        RejectReason::Other(sanitize(reason))
    }
}

/// A listed row: `phone` and the number `status` (0 not called, 1 calling, 2 called — the
/// simulator's reading; the real enum is not documented, so other values are `Unknown`).
fn remote_contact(row: &Value) -> Option<RemoteContact> {
    let raw = row
        .get("phone")
        .or_else(|| row.get("number"))
        .map(value_string)
        .filter(|p| !p.is_empty())?;
    let state = match row.get("status").and_then(Value::as_i64) {
        Some(0) => RemoteState::Pending,
        Some(1) => RemoteState::InProgress,
        Some(2) => RemoteState::Finished,
        _ => RemoteState::Unknown,
    };
    // `13012121211_x7k2` is a copy made by `number_add_suffix`: report it under its phone, with
    // the raw value as remote id so that a removal targets exactly that copy.
    let (phone, remote_id) = match split_suffix(&raw) {
        Some(base) => (base.to_owned(), Some(raw.clone())),
        None => (raw, None),
    };
    Some(RemoteContact {
        phone,
        remote_id,
        state,
        removable: state == RemoteState::Pending,
    })
}

/// `^(\d+)_[a-z0-9]+$` → the digits.
fn split_suffix(raw: &str) -> Option<&str> {
    let (base, suffix) = raw.split_once('_')?;
    let base_ok = !base.is_empty() && base.bytes().all(|b| b.is_ascii_digit());
    let suffix_ok = !suffix.is_empty()
        && suffix
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    (base_ok && suffix_ok).then_some(base)
}

/// Reads the envelope: HTTP 401/403 and `code` 401/403 are rejected credentials, 6007 is a
/// running task, 404 with a task is an unknown task, 429 and 5xx-like codes are retryable, any
/// other `code != 200` is a terminal refusal.
fn parse_envelope(
    endpoint: &str,
    response: Response,
    task: Option<&TaskRef>,
) -> Result<Envelope, ProviderError> {
    let parsed: Result<Envelope, _> = serde_json::from_slice(&response.body);
    let (code, message) = match &parsed {
        Ok(envelope) => (envelope.code, sanitize(&envelope.message)),
        Err(_) => (
            i64::from(response.status.as_u16()),
            sanitize(&String::from_utf8_lossy(&response.body)),
        ),
    };
    if matches!(
        response.status,
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN
    ) || matches!(code, 401 | 403)
    {
        return Err(ProviderError::CredentialsRejected { code, message });
    }
    let envelope = match parsed {
        Ok(envelope) => envelope,
        Err(err) if response.status.is_success() => {
            return Err(ProviderError::InvalidResponse {
                endpoint: endpoint.to_owned(),
                detail: format!("not the documented envelope: {err}"),
            });
        }
        Err(_) => return Err(ProviderError::Rejected { code, message }),
    };
    match envelope.code {
        200 => Ok(envelope),
        6007 => Err(ProviderError::TaskRunning {
            task: task.map_or_else(String::new, |t| t.id.clone()),
        }),
        429 => Err(ProviderError::RateLimited { retry_after: None }),
        500..=599 => Err(ProviderError::Busy { code, message }),
        404 if task.is_some() => Err(ProviderError::TaskNotFound {
            task: task.map_or_else(String::new, |t| t.id.clone()),
            message,
        }),
        _ if message.contains("繁忙") || message.to_lowercase().contains("busy") => {
            Err(ProviderError::Busy { code, message })
        }
        _ => Err(ProviderError::Rejected { code, message }),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn contact(phone: &str) -> ContactToAdd {
        ContactToAdd {
            phone: phone.into(),
            ..ContactToAdd::default()
        }
    }

    #[test]
    fn maps_row_failures_by_phone() {
        let chunk = [
            contact("13000000001"),
            contact("bad"),
            contact("13000000001"),
        ];
        let data = json!({"fail": [
            {"phone": "bad", "reason": "号码格式错误"},
            {"phone": "13000000001", "reason": "重复号码"},
        ]});
        let outcome = rows_outcome(&chunk, &data, false, None);
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
        // after a retry, a lone duplicate is the row's own earlier attempt
        let retried = rows_outcome(
            &[contact("13000000001")],
            &json!({"fail": [{"phone": "13000000001", "reason": "重复号码"}]}),
            true,
            None,
        );
        assert_eq!(retried.result(0), Some(&ItemResult::Accepted));
    }

    fn envelope(status: u16, body: Value) -> Result<Envelope, ProviderError> {
        let response = Response {
            status: StatusCode::from_u16(status).expect("status"),
            headers: reqwest::header::HeaderMap::new(),
            body: serde_json::to_vec(&body).expect("json"),
        };
        parse_envelope("http://x", response, Some(&TaskRef::new("t")))
    }

    #[test]
    fn codes_map_to_classes() {
        use crate::providers::ErrorClass::{Retryable, Terminal};
        let cases = [
            (
                401,
                json!({"code": 401, "message": "Unauthenticated."}),
                "CredentialsRejected",
                Terminal,
            ),
            (
                200,
                json!({"code": 403, "message": "no"}),
                "CredentialsRejected",
                Terminal,
            ),
            (
                200,
                json!({"code": 6007, "message": "2.0任务启动中,请先停止任务"}),
                "TaskRunning",
                Terminal,
            ),
            (
                200,
                json!({"code": 404, "message": "任务不存在"}),
                "TaskNotFound",
                Terminal,
            ),
            (
                200,
                json!({"code": 422, "message": "data 最多 100 条"}),
                "RequestRejected",
                Terminal,
            ),
            (
                200,
                json!({"code": 429, "message": "Too Many Attempts."}),
                "RateLimited",
                Retryable,
            ),
            (
                200,
                json!({"code": 503, "message": "x"}),
                "ProviderBusy",
                Retryable,
            ),
            (
                200,
                json!({"code": 1, "message": "系统繁忙"}),
                "ProviderBusy",
                Retryable,
            ),
        ];
        for (status, body, reason, class) in cases {
            let err = envelope(status, body.clone()).expect_err("error");
            assert_eq!((err.reason(), err.class()), (reason, class), "{body}");
        }
        assert!(envelope(200, json!({"code": 200, "data": []})).is_ok());
        let err = envelope(200, json!("not an envelope")).expect_err("garbage");
        assert_eq!(err.reason(), "InvalidResponse");
    }

    #[test]
    fn reads_suffixed_copies() {
        assert_eq!(split_suffix("13012121211_x7k2"), Some("13012121211"));
        assert_eq!(split_suffix("13012121211"), None);
        assert_eq!(split_suffix("1301_X"), None);
        let row = remote_contact(&json!({"phone": "13012121211_ab1", "status": 0}));
        assert_eq!(
            row.map(|r| (r.phone, r.remote_id)),
            Some(("13012121211".into(), Some("13012121211_ab1".into())))
        );
    }
}

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
mod answers;
mod pause;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::Method;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use serde::Serialize;
use serde_json::Value;

use self::answers::{Envelope, parse_envelope, remote_contact, rows_outcome, unknown_outcome};
use super::batching::in_chunks;
use super::factory::{ClientSettings, limit};
use super::http::{Sent, Transport};
use super::wire::{seg, to_json, value_string};
use super::{
    BatchOutcome, Capabilities, ContactToAdd, ContactToRemove, Credentials, DriftHint, Identity,
    ItemResult, ProviderError, RemoteContact, RemoteState, SecretString, SharedCredentials,
    TaskRef,
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

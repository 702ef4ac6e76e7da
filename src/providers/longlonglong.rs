//! longlonglong agent-api client (`/agent-api/...`, Bearer token).
//!
//! - add: the documented `POST …/async_number` (≤200 rows) by default, or the inferred sync
//!   `POST …/number` (≤100, `skip_error=true`) with the CallTask's `addMode: Sync`. Either way a
//!   row is Accepted only when the number listing shows it ([`confirm`]); the answer can only
//!   refuse rows. `number_add_suffix` is never set (it would break phone identity and let
//!   duplicates in). `sub_user_id` goes both at the top level (the docs' example) and on every
//!   row (the docs' table), which are the two readings of the docs.
//! - remove: `DELETE …/number-batch-delete` by phone (JSON body on DELETE).
//! - list: `GET …/number`, read to the end ([`list`]).
//! - 6007 (a started 2.0 task refuses changes) is [`ProviderError::TaskRunning`]; with
//!   `pauseTaskDuringSync` the change runs inside [`pause::with_pause`].
//! - Envelope `{code,status,message,data}`: `code != 200` is a failure whatever the HTTP status.
mod answers;
mod confirm;
mod list;
mod pause;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::Method;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use serde::Serialize;
use serde_json::Value;

use self::answers::{Echo, Envelope, parse_envelope, refused_rows};
use self::confirm::Pending;
pub use self::list::LIST_PAGE_SIZE;
use super::batching::in_chunks;
use super::http::{Sent, Transport};
use super::settings::{ClientSettings, limit};
use super::wire::{seg, to_json};
use super::{
    BatchOutcome, Capabilities, ContactToAdd, ContactToRemove, Credentials, DriftHint, Identity,
    ItemResult, ProviderError, RemoteContact, RemoteState, SecretString, SharedCredentials,
    TaskRef,
};
use crate::api::{AddMode, LonglonglongAccount, LonglonglongTaskOptions};

/// Documented: `async_number` takes at most 200 rows ("每次最多导入200条数据").
pub const MAX_ASYNC_ADD: usize = 200;
/// Inferred (the sync `number` add is not in the docs we have): at most 100 rows.
pub const MAX_SYNC_ADD: usize = 100;
/// Not documented; mirrors the async add.
pub const MAX_REMOVE: usize = 200;

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
    /// How listed phones are read back.
    echo: Echo,
    max_add: usize,
    max_remove: usize,
    async_confirm_timeout: Duration,
    async_poll_interval: Duration,
    resume_rounds: u32,
    pause_journal: Option<crate::providers::SharedPauseJournal>,
}

#[derive(Serialize)]
struct AddBody<'a> {
    ignore_crm: bool,
    /// Only for the sync `number` add (inferred); `async_number` documents no such field.
    #[serde(skip_serializing_if = "Option::is_none")]
    skip_error: Option<bool>,
    number_add_suffix: bool,
    encryption: bool,
    /// Top level, as in the docs' example.
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
    /// Required by the docs ("排序，暂无用处，都传0").
    sort: i64,
    /// Per row, as in the docs' table (`data.*.sub_user_id`).
    #[serde(skip_serializing_if = "Option::is_none")]
    sub_user_id: Option<&'a str>,
    /// The contact's variables as `data.*.components` `[{id, value}]`: the variable name is
    /// the component id.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    components: Vec<Component<'a>>,
}

#[derive(Serialize)]
struct Component<'a> {
    id: &'a str,
    value: &'a str,
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
    fn new(op: &'static str, method: Method, path: String) -> Self {
        Self {
            op,
            method,
            path,
            query: Vec::new(),
            body: None,
        }
    }

    fn send(op: &'static str, method: Method, path: String, body: Vec<u8>) -> Self {
        Self {
            body: Some(body),
            ..Self::new(op, method, path)
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
            add_mode: AddMode::default(),
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
                echo: Echo {
                    format: account.phone_format,
                    region: account.region.clone(),
                },
                max_add: limit(documented_add, add_override),
                max_remove: limit(MAX_REMOVE, remove_override),
                options,
                async_confirm_timeout: settings.async_confirm_timeout,
                async_poll_interval: settings.async_poll_interval,
                resume_rounds: settings.resume_rounds.max(1),
                pause_journal: settings.pause_journal.clone(),
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
        // Named in errors: the operation and the path (ids only, never a phone or a secret).
        let endpoint = format!("{op} ({method} {path})");
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
        self.call(
            Req::new("token", Method::GET, "/agent-api/token".into()),
            &token,
            None,
        )
        .await
        .map(|_| ())
    }

    pub async fn drift_hint(&self, _task: &TaskRef) -> Result<Option<DriftHint>, ProviderError> {
        Ok(None)
    }

    /// Starts the task again when the journal says callsync paused it and never resumed it
    /// (see [`pause`]); the caller knows the journal's record.
    pub async fn resume_left_paused(&self, task: &TaskRef) -> Result<(), ProviderError> {
        let token = self.token().await?;
        pause::resume_left_paused(self, task, &token).await
    }

    // ---- list ------------------------------------------------------------------------------

    pub async fn list(&self, task: &TaskRef) -> Result<Option<Vec<RemoteContact>>, ProviderError> {
        let token = self.token().await?;
        let listing = self.list_all(task, &token).await?;
        Ok(Some(listing.contacts))
    }

    /// The task's count as a listing's `meta.total` gives it, from one page of one row;
    /// `None` when the answer carries no total.
    pub async fn count(&self, task: &TaskRef) -> Result<Option<u64>, ProviderError> {
        let token = self.token().await?;
        self.listed_total(task, &token).await
    }

    // ---- add ---------------------------------------------------------------------------------

    /// Sends the batch in chunks, then settles every row not refused by a read ([`confirm`]).
    pub async fn add(
        &self,
        task: &TaskRef,
        batch: &[ContactToAdd],
    ) -> Result<BatchOutcome, ProviderError> {
        if batch.is_empty() {
            return Ok(BatchOutcome::default());
        }
        let token = self.token().await?;
        let pending = Mutex::new(Pending::default());
        let (token_ref, pending_ref) = (&token, &pending);
        let mut outcome = pause::with_pause(self, task, &token, || {
            // where the next chunk starts in `batch`
            let mut offset = 0;
            in_chunks(batch, self.inner.max_add, move |chunk| {
                let at = offset;
                offset += chunk.len();
                self.add_chunk(task, chunk, at, token_ref, pending_ref)
            })
        })
        .await?;
        let mut pending = pending.into_inner().unwrap_or_else(|p| p.into_inner());
        self.confirm(task, batch, &mut outcome, &mut pending, &token)
            .await;
        if outcome.unknown() > 0 {
            // Still queued at the provider (or not known to be done): the sync waits for them.
            outcome.open_batches = pending.batches.into_iter().map(|(id, _)| id).collect();
        }
        Ok(outcome)
    }

    /// Sends one chunk; every row comes back Unknown, and what the answer says (refused rows,
    /// the async batch's `unique_id`) goes to `pending` for [`Self::confirm`].
    async fn add_chunk(
        &self,
        task: &TaskRef,
        chunk: &[ContactToAdd],
        offset: usize,
        token: &SecretString,
        pending: &Mutex<Pending>,
    ) -> Result<BatchOutcome, ProviderError> {
        let async_mode = self.inner.options.add_mode == AddMode::Async;
        let sub_user_id = self.sub_user();
        let body = AddBody {
            ignore_crm: self.inner.options.ignore_crm,
            skip_error: (!async_mode).then_some(true),
            number_add_suffix: false,
            encryption: false,
            sub_user_id,
            data: chunk
                .iter()
                .map(|c| AddRow {
                    phone: &c.phone,
                    name: c.name.as_deref(),
                    company: c.company.as_deref(),
                    email: c.email.as_deref(),
                    extra: c.extra.as_deref(),
                    sort: 0,
                    sub_user_id,
                    components: c
                        .variables
                        .iter()
                        .map(|(id, value)| Component { id, value })
                        .collect(),
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
            ..
        } = self
            .call(Req::send(op, Method::POST, path, bytes), token, Some(task))
            .await?;
        {
            let mut pending = pending.lock().unwrap_or_else(|p| p.into_inner());
            for (index, reason) in refused_rows(chunk, &envelope.data) {
                pending.refused.insert(offset + index, reason);
            }
            if async_mode
                && let Some(unique_id) = envelope.data.get("unique_id").and_then(Value::as_str)
            {
                pending.batches.push((unique_id.to_owned(), offset));
            }
        }
        let mut outcome = BatchOutcome::default();
        for index in 0..chunk.len() {
            outcome.push(index, ItemResult::Unknown);
        }
        outcome.requests = attempts;
        Ok(outcome)
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
        let mut outcome = pause::with_pause(self, task, &token, || {
            in_chunks(batch, self.inner.max_remove, |chunk| {
                self.remove_chunk(task, chunk, &token)
            })
        })
        .await?;
        self.confirm_removals(task, batch, &mut outcome, &token)
            .await;
        Ok(outcome)
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
        // The API reports no per-number result (a number already called stays in the task and
        // the answer is still "批量删除号码成功"): a complete listing settles each row.
        let mut outcome = BatchOutcome::default();
        for index in 0..chunk.len() {
            outcome.push(index, ItemResult::Unknown);
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

//! NXLink AI Agent client (`/openapi/aiagent/*`, signed requests, millisecond timestamps).
//!
//! - Every request is `POST` JSON with headers `accessKey`, `ts` (milliseconds), `bizType`,
//!   `action` and `sign` = lowercase hex MD5 of
//!   `accessKey=…&action=…&bizType=…&ts=…&body=<exact body>&accessSecret=…`. The body is
//!   serialised once; those bytes are signed and sent.
//! - add: `call/append` with the caller's `contactId`s. The docs give no per-contact result (the
//!   answer is `data: {}`), so a success is read as all-or-nothing; a refusal (code 20000) is of
//!   the request as a whole: the client then isolates the refused contact (the `list[i]` the
//!   message names, else by halving) and sends the others again, so one bad number does not
//!   block its batch. Should a success carry per-contact results in `data` (a fail list, or
//!   counts), they are read per item, and counts that do not add up leave the items in doubt.
//!   A `contactId` already used is the caller's own contact from an earlier attempt (ids are
//!   deterministic): accepted. A *phone* already in the task is `Duplicate`: maybe a contact
//!   made in the console, never taken as callsync's (the fail-closed rule, `types`).
//! - remove: `order/delete`, one contact per request, `remove_concurrency` in parallel; the task
//!   by `userTaskId` (the docs' preferred identifier) when the CallTask gives one, else `taskId`.
//!   "contact does not exist" (English or Chinese) = `NotFound`, which the executor counts as
//!   removed only for callsync's own, confirmed id; "only Pending / Not Started" = not
//!   deletable; any other message = in doubt, with the message.
//! - list: none (the ledger is the record); `task/list` `statInfo.totalOrderCount` is the drift
//!   hint.
//! - code: 0 (or 200) ok; 1001/1003 signature, 1002 refused, 1004 clock, 1005 credentials
//!   (terminal); 20000 business error (per item, or "too many requests" = rate limited).
use std::collections::VecDeque;
use std::sync::Arc;

use futures::StreamExt;
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use serde::Serialize;
use serde_json::Value;

mod answers;
mod messages;

use answers::{count, data_object, kind, list, not_json, text};
use messages::{DeleteRefusal, delete_refusal, is_task_not_found};

use super::batching::in_chunks;
use super::callbot::Param;
use super::http::{Response, Transport};
use super::settings::limit;
use super::wire::{ItemMessage, classify_item_message, to_json, value_string};
use super::{
    BatchOutcome, Capabilities, ContactToAdd, ContactToRemove, Credentials, DriftHint, Identity,
    ItemResult, ProviderError, RejectReason, RemoteContact, RemoteState, SecretString,
    SharedCredentials, TaskRef, sanitize,
};
use crate::api::NxlinkAccount;
use crate::signing::nxlink_sign;

/// Not documented; the third-party tool sends one per request, the spec's reading is ≤100.
pub const MAX_ADD: usize = 100;
/// `order/delete` takes one contact.
pub const MAX_REMOVE: usize = 1;
/// Deletes in flight at once (each still takes a token from the account's limiter).
pub const REMOVE_CONCURRENCY: usize = 4;
/// `task/list` page size while looking for the task.
pub const TASK_PAGE_SIZE: u64 = 100;

const REMOVABLE: &[RemoteState] = &[RemoteState::Pending];

/// One removal: the item's index and its result with the attempts it took.
type Removal = (usize, Result<Removed, ProviderError>);

/// What one `order/delete` came to.
struct Removed {
    result: ItemResult,
    attempts: u32,
    /// The provider's message when it left the item in doubt.
    note: Option<String>,
}

/// An NXLink client for one account.
#[derive(Clone)]
pub struct NxlinkClient {
    inner: Arc<Inner>,
}

struct Inner {
    transport: Transport,
    credentials: SharedCredentials,
    biz_type: String,
    action: String,
    max_add: usize,
    /// `(taskId, userTaskId)` once `task/list` showed them to be one task.
    checked_user_task: std::sync::Mutex<Option<(String, String)>>,
}

struct Keys {
    access_key: String,
    access_secret: SecretString,
}

/// A checked answer: success, or a business refusal (20000) to be read per item.
#[derive(Debug)]
enum Answer {
    Ok(Value),
    Refused(String),
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AppendReq<'a> {
    task_id: &'a str,
    list: Vec<AppendItem<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AppendItem<'a> {
    contact_id: &'a str,
    name: &'a str,
    phone_number: &'a str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    params: Vec<Param<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    other: Option<&'a str>,
}

/// `userTaskId` wins when both are given (the docs), so only one is sent: there is then no
/// way for the two to name different tasks.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DeleteReq<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    task_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_task_id: Option<&'a str>,
    contact_id: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CallListReq<'a> {
    task_id: &'a str,
    page_number: u64,
    page_size: u64,
}

/// `call/list`'s smallest page (10..=1000 per the OpenAPI file).
const CALL_PAGE_SIZE: u64 = 10;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TaskListReq {
    page_number: u64,
    page_size: u64,
}

impl NxlinkClient {
    pub(crate) fn new(
        transport: Transport,
        credentials: SharedCredentials,
        account: &NxlinkAccount,
        add_override: Option<usize>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                transport,
                credentials,
                biz_type: account.biz_type.clone(),
                action: account.action.clone(),
                max_add: limit(MAX_ADD, add_override),
                checked_user_task: std::sync::Mutex::new(None),
            }),
        }
    }

    pub fn kind(&self) -> &'static str {
        "nxlink"
    }

    pub fn capabilities(&self) -> Capabilities {
        Capabilities {
            max_add: self.inner.max_add,
            max_remove: MAX_REMOVE,
            can_list: false,
            async_add: false,
            removable_states: REMOVABLE,
            identity: Identity::RemoteId,
            remove_concurrency: REMOVE_CONCURRENCY,
        }
    }

    async fn keys(&self) -> Result<Keys, ProviderError> {
        match self.inner.credentials.get().await? {
            Credentials::Nxlink {
                access_key,
                access_secret,
            } => Ok(Keys {
                access_key,
                access_secret,
            }),
            other => Err(ProviderError::Config(format!(
                "nxlink needs accessKey and accessSecret, got {} credentials",
                other.kind()
            ))),
        }
    }

    /// One signed request; returns the answer and the attempts it took.
    async fn call(
        &self,
        op: &'static str,
        path: &str,
        body: Vec<u8>,
        keys: &Keys,
        task: Option<&TaskRef>,
    ) -> Result<(Answer, u32), ProviderError> {
        let url = self.inner.transport.url(path);
        // Named in errors: the operation and where it was sent.
        let endpoint = format!("{op} (POST {url})");
        let sent = self
            .inner
            .transport
            .execute(
                op,
                |client| {
                    let ts = chrono::Utc::now().timestamp_millis().to_string();
                    let sign = nxlink_sign(
                        &keys.access_key,
                        &self.inner.action,
                        &self.inner.biz_type,
                        &ts,
                        &body,
                        keys.access_secret.expose(),
                    );
                    Ok(client
                        .post(&url)
                        .header(CONTENT_TYPE, "application/json")
                        .header(ACCEPT, "application/json")
                        .header("accessKey", &keys.access_key)
                        .header("ts", ts)
                        .header("bizType", &self.inner.biz_type)
                        .header("action", &self.inner.action)
                        .header("sign", sign)
                        .body(body.clone()))
                },
                |response| parse_answer(&endpoint, response, task),
            )
            .await?;
        Ok((sent.value, sent.attempts))
    }

    pub async fn check_credentials(&self) -> Result<(), ProviderError> {
        let keys = self.keys().await?;
        let body = to_json(&TaskListReq {
            page_number: 1,
            page_size: 1,
        })?;
        match self
            .call("task/list", "/openapi/aiagent/task/list", body, &keys, None)
            .await?
        {
            (Answer::Ok(_), _) => Ok(()),
            (Answer::Refused(message), _) => Err(ProviderError::Rejected {
                code: 20000,
                message,
            }),
        }
    }

    pub async fn list(&self, _task: &TaskRef) -> Result<Option<Vec<RemoteContact>>, ProviderError> {
        Ok(None)
    }

    /// One page of `call/list` (documented; call records, which exist only once a call was
    /// placed) for the task: `callsync doctor`'s read of a task that does not exist, the only
    /// documented read that takes a task id. Read-only; the records are not used.
    pub async fn read_calls(&self, task: &TaskRef) -> Result<(), ProviderError> {
        let keys = self.keys().await?;
        let body = to_json(&CallListReq {
            task_id: &task.id,
            page_number: 1,
            page_size: CALL_PAGE_SIZE,
        })?;
        match self
            .call(
                "call/list",
                "/openapi/aiagent/call/list",
                body,
                &keys,
                Some(task),
            )
            .await?
        {
            (Answer::Ok(_), _) => Ok(()),
            (Answer::Refused(message), _) => Err(ProviderError::Rejected {
                code: 20000,
                message: sanitize(&message),
            }),
        }
    }

    /// `statInfo.totalOrderCount` of the task (found by `taskId` or `userTaskId` in `task/list`).
    pub async fn drift_hint(&self, task: &TaskRef) -> Result<Option<DriftHint>, ProviderError> {
        let keys = self.keys().await?;
        let row = self.task_row(task, &keys).await?;
        let stat = match row.get("statInfo") {
            None | Some(Value::Null) => return Ok(None),
            Some(stat @ Value::Object(_)) => stat,
            Some(other) => {
                return Err(self.invalid_task_list(format!(
                    "the task's statInfo is {}, not an object",
                    kind(other)
                )));
            }
        };
        let total = count(stat, "totalOrderCount", "statInfo.totalOrderCount")
            .map_err(|detail| self.invalid_task_list(detail))?;
        Ok(total.map(|total_order_count| DriftHint { total_order_count }))
    }

    fn invalid_task_list(&self, detail: String) -> ProviderError {
        ProviderError::InvalidResponse {
            endpoint: format!(
                "task/list (POST {})",
                self.inner.transport.url("/openapi/aiagent/task/list")
            ),
            detail,
        }
    }

    /// The task's row in `task/list`, found by `taskId` or `userTaskId`.
    async fn task_row(&self, task: &TaskRef, keys: &Keys) -> Result<Value, ProviderError> {
        let mut page = 1;
        loop {
            let body = to_json(&TaskListReq {
                page_number: page,
                page_size: TASK_PAGE_SIZE,
            })?;
            let data = match self
                .call("task/list", "/openapi/aiagent/task/list", body, keys, None)
                .await?
            {
                (Answer::Ok(data), _) => data,
                (Answer::Refused(message), _) => {
                    return Err(ProviderError::Rejected {
                        code: 20000,
                        message,
                    });
                }
            };
            let (rows, total) =
                task_list_page(&data).map_err(|detail| self.invalid_task_list(detail))?;
            let found = rows.iter().find(|row| {
                row.get("taskId").map(value_string).as_deref() == Some(task.id.as_str())
                    || row.get("userTaskId").map(value_string).as_deref() == Some(task.id.as_str())
            });
            if let Some(row) = found {
                return Ok(row.clone());
            }
            let seen = (page - 1) * TASK_PAGE_SIZE + u64::try_from(rows.len()).unwrap_or(0);
            if rows.is_empty() || total.is_some_and(|t| seen >= t) {
                return Err(ProviderError::TaskNotFound {
                    task: task.id.clone(),
                    message: "not in task/list".into(),
                });
            }
            page += 1;
        }
    }

    /// Before deleting by `userTaskId`: `call/append` went to `taskId`, so the two must name
    /// the same task, or a delete would look for callsync's contacts in another task and its
    /// "not found" would read as "removed". Checked once per client (one CallTask).
    async fn check_user_task_id(&self, task: &TaskRef, keys: &Keys) -> Result<(), ProviderError> {
        let Some(user_task_id) = task.user_task_id.as_deref() else {
            return Ok(());
        };
        let checked = (task.id.clone(), user_task_id.to_owned());
        if self
            .inner
            .checked_user_task
            .lock()
            .map_err(|_| ProviderError::Config("nxlink: a lock was poisoned".into()))?
            .as_ref()
            == Some(&checked)
        {
            return Ok(());
        }
        let row = self.task_row(task, keys).await?;
        let listed_task = row.get("taskId").map(value_string).unwrap_or_default();
        let listed_user = row.get("userTaskId").map(value_string).unwrap_or_default();
        if listed_task != task.id || listed_user != user_task_id {
            return Err(ProviderError::Config(format!(
                "nxlink: spec.taskId {:?} and spec.nxlink.userTaskId {:?} are not one task (task/list has taskId {:?} with userTaskId {:?}); nothing is deleted",
                task.id, user_task_id, listed_task, listed_user
            )));
        }
        if let Ok(mut slot) = self.inner.checked_user_task.lock() {
            *slot = Some(checked);
        }
        Ok(())
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
        let keys = self.keys().await?;
        in_chunks(batch, self.inner.max_add, |chunk| {
            self.add_chunk(task, chunk, &keys)
        })
        .await
    }

    /// Appends a chunk, isolating refused contacts: a queue of index groups, each sent as one
    /// request; a refusal that names `list[i]` rejects that item and requeues the others, an
    /// unnamed refusal splits the group in halves, a refused single item is rejected.
    async fn add_chunk(
        &self,
        task: &TaskRef,
        chunk: &[ContactToAdd],
        keys: &Keys,
    ) -> Result<BatchOutcome, ProviderError> {
        let mut results: Vec<Option<ItemResult>> = vec![None; chunk.len()];
        // Provider messages of items left in doubt: (index in chunk, masked message).
        let mut notes: Vec<(usize, String)> = Vec::new();
        let mut queue: VecDeque<Vec<usize>> = VecDeque::from([(0..chunk.len()).collect()]);
        let mut requests = 0;
        let mut first = true;
        while let Some(group) = queue.pop_front() {
            let request = AppendReq {
                task_id: &task.id,
                list: group
                    .iter()
                    .map(|i| {
                        let c = &chunk[*i];
                        AppendItem {
                            contact_id: &c.remote_id,
                            // Required; the phone stands in when there is no name, as the
                            // providers' own tool does.
                            name: c
                                .name
                                .as_deref()
                                .filter(|n| !n.is_empty())
                                .unwrap_or(&c.phone),
                            phone_number: &c.phone,
                            params: c
                                .variables
                                .iter()
                                .map(|(name, value)| Param { name, value })
                                .collect(),
                            other: c.extra.as_deref(),
                        }
                    })
                    .collect(),
            };
            let sent = self
                .call(
                    "call/append",
                    "/openapi/aiagent/call/append",
                    to_json(&request)?,
                    keys,
                    Some(task),
                )
                .await;
            let (answer, attempts) = match sent {
                Ok(sent) => sent,
                Err(err) if first => return Err(err),
                Err(err) => {
                    // Items already settled keep their result; the rest are unknown.
                    let mut outcome = finish(results, notes);
                    outcome.requests = requests;
                    outcome.interrupted = Some(err);
                    return Ok(outcome);
                }
            };
            first = false;
            requests += attempts;
            let message = match answer {
                Answer::Ok(data) => {
                    let read = match append_results(&data, group.len()) {
                        Ok(read) => read,
                        Err(detail) => {
                            let err = ProviderError::InvalidResponse {
                                endpoint: format!(
                                    "call/append (POST {})",
                                    self.inner.transport.url("/openapi/aiagent/call/append")
                                ),
                                detail,
                            };
                            // What this request did is unknown: its items stay in doubt.
                            if results.iter().all(Option::is_none) {
                                return Err(err);
                            }
                            let mut outcome = finish(results, notes);
                            outcome.requests = requests;
                            outcome.interrupted = Some(err);
                            return Ok(outcome);
                        }
                    };
                    for (position, item) in read.into_iter().enumerate() {
                        let i = group[position];
                        match item {
                            AppendItemResult::Accepted => results[i] = Some(ItemResult::Accepted),
                            AppendItemResult::Refused(text) => {
                                results[i] =
                                    Some(item_result(&classify_item_message(&text), &text));
                            }
                            AppendItemResult::InDoubt(text) => {
                                results[i] = Some(ItemResult::Unknown);
                                notes.push((i, sanitize(&text)));
                            }
                        }
                    }
                    continue;
                }
                Answer::Refused(message) => message,
            };
            let named = item_index(&message).filter(|n| *n < group.len());
            let kind = classify_item_message(&message);
            // No shortcut after a lost answer: "list[0]: id already used" on a retry may mean
            // that the lost attempt was applied (all of it), or only that item 0 was there
            // before. NXLink cannot be asked, so the others are sent again; each one already
            // there comes back as its own "id already used" (accepted). Correct, at the cost
            // of one request per item after a lost answer.
            if named.is_none() && is_request_level(&message) {
                // About the request, not an item: isolating items cannot help.
                let err = ProviderError::Rejected {
                    code: 20000,
                    message: sanitize(&message),
                };
                if results.iter().all(Option::is_none) {
                    return Err(err);
                }
                let mut outcome = finish(results, notes);
                outcome.requests = requests;
                outcome.interrupted = Some(err);
                return Ok(outcome);
            }
            match named {
                Some(position) => {
                    let item = group[position];
                    results[item] = Some(item_result(&kind, &message));
                    let rest: Vec<usize> = group.iter().copied().filter(|i| *i != item).collect();
                    if !rest.is_empty() {
                        queue.push_front(rest);
                    }
                }
                None if group.len() > 1 => {
                    let (left, right) = group.split_at(group.len() / 2);
                    queue.push_front(right.to_vec());
                    queue.push_front(left.to_vec());
                }
                None => {
                    results[group[0]] = Some(item_result(&kind, &message));
                }
            }
        }
        let mut outcome = finish(results, notes);
        outcome.requests = requests;
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
        let keys = self.keys().await?;
        self.check_user_task_id(task, &keys).await?;
        // Futures made up front (a closure inside the stream trips the compiler's
        // higher-ranked lifetime check for `Send` futures).
        let pending: Vec<_> = batch
            .iter()
            .enumerate()
            .map(|(index, contact)| self.remove_indexed(task, index, contact, &keys))
            .collect();
        let results: Vec<Removal> = futures::stream::iter(pending)
            .buffer_unordered(REMOVE_CONCURRENCY)
            .collect()
            .await;
        let mut outcome = BatchOutcome::default();
        let mut first_error = None;
        for (index, result) in results {
            match result {
                Ok(removed) => {
                    outcome.requests += removed.attempts;
                    match removed.note {
                        Some(note) => outcome.push_unclear(index, &note),
                        None => outcome.push(index, removed.result),
                    }
                }
                Err(err) => {
                    outcome.push(index, ItemResult::Unknown);
                    if first_error.is_none() {
                        first_error = Some(err);
                    }
                }
            }
        }
        outcome.sort();
        if let Some(err) = first_error {
            if outcome.unknown() == batch.len() {
                return Err(err);
            }
            outcome.interrupted = Some(err);
        }
        Ok(outcome)
    }

    async fn remove_indexed(
        &self,
        task: &TaskRef,
        index: usize,
        contact: &ContactToRemove,
        keys: &Keys,
    ) -> Removal {
        (index, self.remove_one(task, contact, keys).await)
    }

    async fn remove_one(
        &self,
        task: &TaskRef,
        contact: &ContactToRemove,
        keys: &Keys,
    ) -> Result<Removed, ProviderError> {
        let Some(contact_id) = contact.remote_id.as_deref().filter(|id| !id.is_empty()) else {
            return Ok(Removed {
                result: ItemResult::Rejected {
                    reason: RejectReason::Other(
                        "NXLink removes by contactId and none is known".into(),
                    ),
                },
                attempts: 0,
                note: None,
            });
        };
        let user_task_id = task.user_task_id.as_deref().filter(|id| !id.is_empty());
        let body = to_json(&DeleteReq {
            task_id: user_task_id.is_none().then_some(task.id.as_str()),
            user_task_id,
            contact_id,
        })?;
        let (answer, attempts) = self
            .call(
                "order/delete",
                "/openapi/aiagent/order/delete",
                body,
                keys,
                Some(task),
            )
            .await?;
        let (result, note) = match answer {
            // One contact a request: a success is about this contact.
            Answer::Ok(_) => (ItemResult::Accepted, None),
            Answer::Refused(message) => match delete_refusal(&message) {
                // Not "removed": the provider says it knows no contact by this id. Whether that
                // means gone depends on whose id it is (callsync's own, confirmed: gone; anyone
                // else's: proves nothing), which the executor knows and this client does not.
                DeleteRefusal::ContactNotFound => (
                    ItemResult::Rejected {
                        reason: RejectReason::NotFound,
                    },
                    None,
                ),
                DeleteRefusal::NotDeletable => (
                    ItemResult::Rejected {
                        reason: RejectReason::NotDeletable,
                    },
                    None,
                ),
                DeleteRefusal::Unrecognised => (ItemResult::Unknown, Some(message)),
            },
        };
        Ok(Removed {
            result,
            attempts,
            note,
        })
    }
}

fn finish(results: Vec<Option<ItemResult>>, notes: Vec<(usize, String)>) -> BatchOutcome {
    let mut outcome = BatchOutcome::default();
    for (index, result) in results.into_iter().enumerate() {
        match notes.iter().find(|(i, _)| *i == index) {
            Some((_, note)) => outcome.push_unclear(index, note),
            None => outcome.push(index, result.unwrap_or(ItemResult::Unknown)),
        }
    }
    outcome
}

/// One item of a successful `call/append`, as its `data` tells.
#[derive(Debug, Clone, PartialEq, Eq)]
enum AppendItemResult {
    Accepted,
    /// Refused with this message.
    Refused(String),
    /// The answer does not say (counts that do not add up, a list that names no item).
    InDoubt(String),
}

/// Reads `data` of a successful `call/append` for `sent` items. The docs show `data: {}` (no
/// per-contact result): success is then all-or-nothing, every item accepted. Should `data`
/// carry a fail list (`failList`, `failedList`, `errList`, `fail`; entries naming `index` or
/// the position in the request, with `message`/`msg`/`errMsg`/`reason`), its items are refused
/// and the others accepted; if it carries counts (`successCount`, `failCount`) that say some
/// failed and the list does not say which, every unnamed item is in doubt. Fields the client
/// does not know are ignored; a field it reads with another type (`data` not an object, a fail
/// list that is no list, a count that is no count) is an error: nothing is counted done.
fn append_results(data: &Value, sent: usize) -> Result<Vec<AppendItemResult>, String> {
    let mut out = vec![AppendItemResult::Accepted; sent];
    if data_object(data)?.is_none() {
        return Ok(out);
    }
    let mut list_found = None;
    for key in ["failList", "failedList", "errList", "fail", "failures"] {
        if let Some(items) = list(data, key, &format!("data.{key}"))? {
            list_found.get_or_insert((key, items));
        }
    }
    let counted = |key: &str| count(data, key, &format!("data.{key}"));
    let (fail_count, success_count) = (counted("failCount")?, counted("successCount")?);
    let mut named = 0;
    let entries = list_found
        .into_iter()
        .flat_map(|(key, items)| items.iter().enumerate().map(move |(n, e)| (key, n, e)));
    for (key, n, entry) in entries {
        if !entry.is_object() {
            return Err(format!("data.{key}[{n}] is {}, not an object", kind(entry)));
        }
        let mut message = None;
        for field in ["message", "msg", "errMsg", "reason"] {
            let found = text(entry, field).map_err(|e| format!("data.{key}[{n}].{e}"))?;
            message = message.or(found);
        }
        let text = message.unwrap_or("refused without a message").to_owned();
        let index = match entry.get("index") {
            None | Some(Value::Null) => None,
            Some(Value::Number(i)) => i.as_u64().and_then(|i| usize::try_from(i).ok()),
            Some(other) => {
                return Err(format!(
                    "data.{key}[{n}].index is {}, not a number",
                    kind(other)
                ));
            }
        }
        .or_else(|| item_index(&text));
        match index.filter(|i| *i < sent) {
            Some(i) => {
                out[i] = AppendItemResult::Refused(text);
                named += 1;
            }
            None => {
                // A failure the client cannot place: no item of the request can be trusted.
                return Ok(vec![
                    AppendItemResult::InDoubt(format!(
                        "call/append succeeded with a failure that names no item: {text}"
                    ));
                    sent
                ]);
            }
        }
    }
    let failed = fail_count.or_else(|| success_count.map(|ok| (sent as u64).saturating_sub(ok)));
    if failed.is_some_and(|f| f != named as u64) {
        let detail = format!(
            "call/append succeeded but reports {} failed of {sent}, {named} of them named",
            failed.unwrap_or_default()
        );
        for item in &mut out {
            if *item == AppendItemResult::Accepted {
                *item = AppendItemResult::InDoubt(detail.clone());
            }
        }
    }
    Ok(out)
}

/// The rows of one `task/list` page (`data.list`, or `data.records`) and `data.total`.
fn task_list_page(data: &Value) -> Result<(Vec<Value>, Option<u64>), String> {
    if data_object(data)?.is_none() {
        return Ok((Vec::new(), None));
    }
    let rows = match list(data, "list", "data.list")? {
        Some(rows) => Some(rows),
        None => list(data, "records", "data.records")?,
    };
    let rows = rows.cloned().unwrap_or_default();
    if let Some((n, row)) = rows.iter().enumerate().find(|(_, r)| !r.is_object()) {
        return Err(format!("data.list[{n}] is {}, not an object", kind(row)));
    }
    let total = count(data, "total", "data.total")?;
    Ok((rows, total))
}

fn item_result(kind: &ItemMessage, message: &str) -> ItemResult {
    match kind {
        // The id is ours (deterministic) and in use: our contact is there.
        ItemMessage::IdInUse => ItemResult::Accepted,
        ItemMessage::Rejected(reason) => ItemResult::Rejected {
            reason: reason.clone(),
        },
        _ => ItemResult::Rejected {
            reason: RejectReason::Other(sanitize(message)),
        },
    }
}

/// `list[3]: …` → 3.
fn item_index(message: &str) -> Option<usize> {
    let start = message.find("list[")? + "list[".len();
    let end = message[start..].find(']')? + start;
    message[start..end].parse().ok()
}

/// A refusal about the request, not an item: no use isolating items.
fn is_request_level(message: &str) -> bool {
    let lower = message.to_lowercase();
    lower.contains("taskid")
        || lower.contains("task is")
        || lower.contains("list is required")
        || lower.contains("more than")
        || lower.contains("countrycode")
}

/// Checks `code`: 0/200 ok; 20000 is read per item unless it is about the task or the rate.
fn parse_answer(
    endpoint: &str,
    response: Response,
    task: Option<&TaskRef>,
) -> Result<Answer, ProviderError> {
    let invalid = |detail: String| ProviderError::InvalidResponse {
        endpoint: endpoint.to_owned(),
        detail,
    };
    let body: Value = serde_json::from_slice(&response.body).map_err(|e| {
        if response.status.is_success() {
            invalid(not_json(&e))
        } else {
            ProviderError::Rejected {
                code: i64::from(response.status.as_u16()),
                message: format!("HTTP {}", response.status),
            }
        }
    })?;
    if !body.is_object() {
        return Err(invalid(format!(
            "the answer is {}, not an object",
            kind(&body)
        )));
    }
    let code: i64 = match body.get("code") {
        None | Some(Value::Null) => return Err(invalid("no code".into())),
        Some(Value::Number(n)) => n
            .as_i64()
            .ok_or_else(|| invalid("code is a number that is not whole".into()))?,
        Some(Value::String(s)) => s
            .trim()
            .parse()
            .map_err(|_| invalid("code is text that is not a number".into()))?,
        Some(other) => return Err(invalid(format!("code is {}, not a number", kind(other)))),
    };
    let raw_message = match (text(&body, "message"), text(&body, "msg")) {
        (Ok(Some(m)), _) | (Ok(None), Ok(Some(m))) => m.to_owned(),
        (Ok(None), Ok(None)) => String::new(),
        (Err(e), _) | (_, Err(e)) => return Err(invalid(e)),
    };
    let message = sanitize(&raw_message);
    let lower = raw_message.to_lowercase();
    match code {
        0 | 200 => Ok(Answer::Ok(body.get("data").cloned().unwrap_or(Value::Null))),
        1001 | 1003 => Err(ProviderError::SignatureRejected { code, message }),
        1004 => Err(ProviderError::ClockSkew { code, message }),
        1005 => Err(ProviderError::CredentialsRejected { code, message }),
        1002 => Err(ProviderError::Rejected { code, message }),
        20000
            if lower.contains("too many")
                || lower.contains("rate limit")
                || raw_message.contains("频繁") =>
        {
            Err(ProviderError::RateLimited { retry_after: None })
        }
        20000 if lower.contains("busy") || raw_message.contains("繁忙") => {
            Err(ProviderError::Busy { code, message })
        }
        20000 if task.is_some() && is_task_not_found(&raw_message) => {
            Err(ProviderError::TaskNotFound {
                task: task.map_or_else(String::new, |t| t.id.clone()),
                message,
            })
        }
        20000 => Ok(Answer::Refused(raw_message)),
        500..=599 => Err(ProviderError::Busy { code, message }),
        _ => Err(ProviderError::Rejected { code, message }),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn answer(body: Value) -> Result<Answer, ProviderError> {
        let response = Response {
            status: reqwest::StatusCode::OK,
            headers: reqwest::header::HeaderMap::new(),
            body: serde_json::to_vec(&body).expect("json"),
        };
        parse_answer("http://x", response, Some(&TaskRef::new("t")))
    }

    #[test]
    fn codes_map_to_the_documented_classes() {
        use crate::providers::ErrorClass::{Retryable, Terminal};
        let cases = [
            (1001, "m", "SignatureRejected", Terminal),
            (1002, "m", "RequestRejected", Terminal),
            (1003, "m", "SignatureRejected", Terminal),
            (1004, "m", "ClockSkew", Terminal),
            (1005, "m", "CredentialsRejected", Terminal),
            (20000, "too many requests", "RateLimited", Retryable),
            (20000, "task does not exist", "TaskNotFound", Terminal),
        ];
        for (code, message, reason, class) in cases {
            let err = answer(json!({"code": code, "message": message})).expect_err("error");
            assert_eq!((err.reason(), err.class()), (reason, class), "code {code}");
        }
        assert!(matches!(
            answer(json!({"code": 20000, "message": "list[1]: bad"})),
            Ok(Answer::Refused(_))
        ));
        assert!(matches!(
            answer(json!({"code": 200, "data": {}})),
            Ok(Answer::Ok(_))
        ));
    }

    #[test]
    fn task_not_found_in_chinese_is_the_task_not_an_item() {
        let err = answer(json!({"code": 20000, "message": "任务不存在"})).expect_err("task");
        assert_eq!(err.reason(), "TaskNotFound");
        assert!(matches!(
            answer(json!({"code": 20000, "message": "联系人不存在"})),
            Ok(Answer::Refused(_))
        ));
        let http_404 = Response {
            status: reqwest::StatusCode::NOT_FOUND,
            headers: reqwest::header::HeaderMap::new(),
            body: br#"{"code":404,"message":"contact not found"}"#.to_vec(),
        };
        let err = parse_answer("http://x", http_404, Some(&TaskRef::new("t"))).expect_err("404");
        assert_eq!(err.reason(), "RequestRejected");
    }

    #[test]
    fn append_data_is_read_per_item_and_in_doubt_when_it_does_not_add_up() {
        use AppendItemResult::*;
        let read = |data: Value, sent| append_results(&data, sent).expect("readable");
        // The documented answer, and unknown fields: all or nothing.
        assert_eq!(read(json!({}), 2), vec![Accepted, Accepted]);
        assert_eq!(read(Value::Null, 1), vec![Accepted]);
        assert_eq!(
            read(json!({"batchNo": "B-1", "extension": {}}), 1),
            vec![Accepted]
        );
        // A fail list naming items by index or by `list[i]`.
        let data = json!({"successCount": 1, "failCount": 2, "failList": [
            {"index": 0, "message": "duplicate phone"},
            {"errMsg": "list[2]: invalid"}]});
        assert_eq!(
            read(data, 3),
            vec![
                Refused("duplicate phone".into()),
                Accepted,
                Refused("list[2]: invalid".into())
            ]
        );
        // Counts that say more failed than are named: nobody unnamed is trusted.
        let short = read(json!({"successCount": 1}), 2);
        assert!(short.iter().all(|r| matches!(r, InDoubt(_))), "{short:?}");
        // A failure that names no item.
        let unnamed = read(json!({"failList": [{"message": "x"}]}), 2);
        assert!(
            unnamed.iter().all(|r| matches!(r, InDoubt(_))),
            "{unnamed:?}"
        );
        // Fields it reads with another type: an error, never "accepted".
        for (data, what) in [
            (json!("8613200000000"), "data is text"),
            (
                json!({"failList": {"index": 0}}),
                "data.failList is an object",
            ),
            (json!({"failCount": [1]}), "data.failCount is a list"),
            (
                json!({"failList": ["8613200000000"]}),
                "data.failList[0] is text",
            ),
            (
                json!({"failList": [{"index": "0"}]}),
                "data.failList[0].index is text",
            ),
        ] {
            let err = append_results(&data, 1).expect_err(what);
            assert!(err.contains(what), "{what}: {err}");
            assert!(!err.contains("8613200000000"), "{err}");
        }
    }

    #[test]
    fn reads_item_index() {
        assert_eq!(item_index("list[3]: id already used"), Some(3));
        assert_eq!(item_index("list[x]: y"), None);
        assert_eq!(item_index("no index"), None);
    }
}

//! NXtele Callbot v3 client (`/callcentre/api/v3/*`, signed requests).
//!
//! - Every request is `POST` JSON with headers `requestID` (fresh per attempt), `uuid`,
//!   `createTs` (seconds), `sign` (MD5 or SHA-256 of `secret&body=…&createTs=…&requestID=…&uuid=…`,
//!   uppercase hex) and `algorithm`. The body is serialised once; those bytes are signed and
//!   sent (gzip-compressed with `Content-Encoding: gzip` when the CallProvider says `gzip`; the
//!   signature covers the uncompressed JSON, which is what the server checks after gunzipping).
//! - add: `addBatchCall` (default; inferred) or `importBatchCall` (documented; only on a task
//!   with no undialled orders, see `import`) with the caller's `orderID`s and the CallProvider's
//!   callback URLs. An item is accepted only when the answer proves it: `totalCount` is what was
//!   sent, `successCount + len(errList) == totalCount`, and every `errList` phone is placed on
//!   exactly one sent item (phones may come back written differently, see `echo`). Otherwise the
//!   items not named in `errList` are in doubt and a `listOrder` read by `orderID` settles them.
//!   An item refused because its `orderID` is already used is checked with `listOrderDetail`: if
//!   the order exists with that phone, an earlier attempt created it and the item is accepted.
//!   4001 (too many array elements) splits the request in halves and keeps the smaller size.
//! - remove: `stopOrder` with `delCall=1`; an order not found is already gone (accepted); an
//!   order still present afterwards (`listOrderDetail`) was dialled: stopped, not deletable.
//! - list: `listOrder`, paged on until `totalCount` orders are read (see `listing`); a listing
//!   that does not add up is an error, never a partial "complete" listing.
//!   `exportBatchCall` for the latest batch.
//! - retCode (see `answers`): 0 ok; 5/5001/7 busy and 1001 import running (retryable); 6/6001 signature,
//!   6002/6003 credentials, 4001 batch too large, 1/2/3/4 refused (terminal).
mod answers;
mod echo;
mod import;
mod listing;
mod page;

use std::collections::HashSet;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use reqwest::header::{ACCEPT, CONTENT_ENCODING, CONTENT_TYPE};
use serde::Serialize;
use serde_json::Value;

use self::answers::{AddAnswer, Answer, err_list, order_contact, parse_answer};
use super::http::{Response, Transport};
use super::settings::limit;
use super::wire::{ItemMessage, KeyIndex, classify_item_message, to_json, value_string};
use super::{
    BatchOutcome, Capabilities, ContactToAdd, ContactToRemove, Credentials, DriftHint, Identity,
    ItemResult, ProviderError, RejectReason, RemoteContact, RemoteState, SecretString,
    SharedCredentials, TaskRef, sanitize,
};
use crate::api::{CallbotAccount, CallbotAddEndpoint, SignatureAlgorithm};
use crate::signing::callbot_sign;

/// Not documented (4001 exists); mirrors `listOrderDetail`'s documented 500. A 4001 answer
/// halves it for the rest of the client's life.
pub const MAX_ADD: usize = 500;
/// `importBatchCall`: one request carries the whole fill (a second import could replace the
/// first one's undialled orders), so the planner is told it may send this many at once. Not
/// documented; 4001 is reported, never split.
pub const MAX_IMPORT: usize = 10_000;
/// Not documented; same reading.
pub const MAX_REMOVE: usize = 500;
/// `listOrderDetail`: documented maximum of order ids.
pub const MAX_DETAIL_IDS: usize = 500;
pub use self::listing::LIST_PAGE_SIZE;

const PRODUCT_ID: &str = "callbot";
const REMOVABLE: &[RemoteState] = &[RemoteState::Pending];

/// A Callbot client for one account.
#[derive(Clone)]
pub struct CallbotClient {
    inner: Arc<Inner>,
}

struct Inner {
    transport: Transport,
    credentials: SharedCredentials,
    algorithm: SignatureAlgorithm,
    order_callback_url: String,
    call_callback_url: String,
    gzip: bool,
    add_endpoint: CallbotAddEndpoint,
    /// Current add size: `min(MAX_ADD, override)`, halved on every 4001.
    max_add: AtomicUsize,
    /// Current remove size, halved on every 4001.
    max_remove: AtomicUsize,
}

struct Keys {
    uuid: String,
    secret: SecretString,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AddReq<'a> {
    #[serde(rename = "productID")]
    product_id: &'a str,
    #[serde(rename = "userTaskID")]
    user_task_id: &'a str,
    call_info_list: CallInfoList<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CallInfoList<'a> {
    order_callback_url: &'a str,
    call_callback_url: &'a str,
    call_list: Vec<CallItem<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CallItem<'a> {
    #[serde(rename = "orderID")]
    order_id: &'a str,
    user_phone: &'a str,
    other: &'a str,
    user_name: &'a str,
    customer_name: &'a str,
    params: Vec<Param<'a>>,
}

#[derive(Serialize)]
pub(crate) struct Param<'a> {
    pub(crate) name: &'a str,
    pub(crate) value: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StopReq<'a> {
    #[serde(rename = "productID")]
    product_id: &'a str,
    #[serde(rename = "userTaskID")]
    user_task_id: &'a str,
    #[serde(rename = "orderIDs")]
    order_ids: Vec<&'a str>,
    del_call: i64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DetailReq<'a> {
    #[serde(rename = "productID")]
    product_id: &'a str,
    #[serde(rename = "userTaskID")]
    user_task_id: &'a str,
    order_list: Vec<&'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ExportReq<'a> {
    #[serde(rename = "productID")]
    product_id: &'a str,
    #[serde(rename = "userTaskID")]
    user_task_id: &'a str,
}

impl CallbotClient {
    pub(crate) fn new(
        transport: Transport,
        credentials: SharedCredentials,
        account: &CallbotAccount,
        add_override: Option<usize>,
        remove_override: Option<usize>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                transport,
                credentials,
                algorithm: account.algorithm,
                order_callback_url: account.order_callback_url.clone(),
                call_callback_url: account.call_callback_url.clone(),
                gzip: account.gzip,
                add_endpoint: account.add_endpoint,
                max_add: AtomicUsize::new(match account.add_endpoint {
                    CallbotAddEndpoint::AddBatchCall => limit(MAX_ADD, add_override),
                    CallbotAddEndpoint::ImportBatchCall => MAX_IMPORT,
                }),
                max_remove: AtomicUsize::new(limit(MAX_REMOVE, remove_override)),
            }),
        }
    }

    pub fn kind(&self) -> &'static str {
        "callbot"
    }

    pub fn capabilities(&self) -> Capabilities {
        Capabilities {
            max_add: self.inner.max_add.load(Ordering::Relaxed),
            max_remove: self.inner.max_remove.load(Ordering::Relaxed),
            can_list: true,
            async_add: false,
            removable_states: REMOVABLE,
            identity: Identity::RemoteId,
            remove_concurrency: 1,
        }
    }

    async fn keys(&self) -> Result<Keys, ProviderError> {
        match self.inner.credentials.get().await? {
            Credentials::Callbot { uuid, secret_key } => Ok(Keys {
                uuid,
                secret: secret_key,
            }),
            other => Err(ProviderError::Config(format!(
                "callbot needs uuid and secretKey, got {} credentials",
                other.kind()
            ))),
        }
    }

    /// One signed request; returns the checked answer and the attempts it took.
    async fn call(
        &self,
        op: &'static str,
        body: Vec<u8>,
        keys: &Keys,
        task: Option<&TaskRef>,
    ) -> Result<(Answer, u32), ProviderError> {
        self.call_with(op, body, keys, task, parse_answer).await
    }

    /// [`Self::call`] with the answer read by `parse` (`listOrder` reads its pages typed).
    async fn call_with<T>(
        &self,
        op: &'static str,
        body: Vec<u8>,
        keys: &Keys,
        task: Option<&TaskRef>,
        parse: fn(&str, Response, Option<&TaskRef>) -> Result<T, ProviderError>,
    ) -> Result<(T, u32), ProviderError> {
        let url = self
            .inner
            .transport
            .url(&format!("/callcentre/api/v3/{op}"));
        let endpoint = url.clone();
        let algorithm = self.inner.algorithm;
        let algorithm_name = match algorithm {
            SignatureAlgorithm::Md5 => "MD5",
            SignatureAlgorithm::Sha256 => "SHA256",
        };
        // Compress once; every attempt sends the same bytes.
        let wire_body = if self.inner.gzip {
            Some(gzip(&body)?)
        } else {
            None
        };
        let sent = self
            .inner
            .transport
            .execute(
                op,
                |client| {
                    let request_id = uuid::Uuid::new_v4().simple().to_string();
                    let create_ts = chrono::Utc::now().timestamp().to_string();
                    let sign = callbot_sign(
                        algorithm,
                        keys.secret.expose(),
                        &body,
                        &create_ts,
                        &request_id,
                        &keys.uuid,
                    );
                    let mut request = client
                        .post(&url)
                        .header(CONTENT_TYPE, "application/json")
                        .header(ACCEPT, "application/json")
                        .header("requestID", request_id)
                        .header("uuid", &keys.uuid)
                        .header("createTs", create_ts)
                        .header("sign", sign)
                        .header("algorithm", algorithm_name);
                    request = match &wire_body {
                        Some(compressed) => request
                            .header(CONTENT_ENCODING, "gzip")
                            .body(compressed.clone()),
                        None => request.body(body.clone()),
                    };
                    Ok(request)
                },
                |response| parse(&endpoint, response, task),
            )
            .await?;
        Ok((sent.value, sent.attempts))
    }

    pub async fn check_credentials(&self) -> Result<(), ProviderError> {
        let keys = self.keys().await?;
        let body = to_json(&serde_json::json!({"data": "callsync"}))?;
        self.call("ping", body, &keys, None).await.map(|_| ())
    }

    pub async fn drift_hint(&self, _task: &TaskRef) -> Result<Option<DriftHint>, ProviderError> {
        Ok(None)
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
        match self.inner.add_endpoint {
            CallbotAddEndpoint::AddBatchCall => {
                send_fitting(batch, &self.inner.max_add, |chunk| {
                    self.add_chunk(task, chunk, &keys)
                })
                .await
            }
            CallbotAddEndpoint::ImportBatchCall => self.import(task, batch, &keys).await,
        }
    }

    /// The request body of an add or import.
    fn add_body(&self, task: &TaskRef, chunk: &[ContactToAdd]) -> Result<Vec<u8>, ProviderError> {
        to_json(&AddReq {
            product_id: PRODUCT_ID,
            user_task_id: &task.id,
            call_info_list: CallInfoList {
                order_callback_url: &self.inner.order_callback_url,
                call_callback_url: &self.inner.call_callback_url,
                call_list: chunk
                    .iter()
                    .map(|c| CallItem {
                        order_id: &c.remote_id,
                        user_phone: &c.phone,
                        other: c.extra.as_deref().unwrap_or(""),
                        user_name: c.name.as_deref().unwrap_or(""),
                        customer_name: c.company.as_deref().unwrap_or(""),
                        params: params(&c.variables),
                    })
                    .collect(),
            },
        })
    }

    async fn add_chunk(
        &self,
        task: &TaskRef,
        chunk: &[ContactToAdd],
        keys: &Keys,
    ) -> Result<BatchOutcome, ProviderError> {
        const OP: &str = "addBatchCall";
        let (answer, attempts) = self
            .call(OP, self.add_body(task, chunk)?, keys, Some(task))
            .await?;
        let (mut results, id_in_use) = self.read_add_answer(OP, &answer, chunk)?;
        let mut requests = attempts;
        if !id_in_use.is_empty() {
            // Our orderIDs are deterministic: an id in use with our phone is our own order from
            // an earlier attempt whose answer was lost.
            let ids: Vec<&str> = id_in_use
                .iter()
                .map(|i| chunk[*i].remote_id.as_str())
                .collect();
            match self.order_details(task, &ids, keys).await {
                Ok((present, n)) => {
                    requests += n;
                    for index in id_in_use {
                        let contact = &chunk[index];
                        if present
                            .iter()
                            .any(|(id, phone)| *id == contact.remote_id && *phone == contact.phone)
                        {
                            results[index] = ItemResult::Accepted;
                        }
                    }
                }
                Err(err) => {
                    tracing::debug!(reason = err.reason(), error = %err, "cannot check orders whose id is in use; keeping them as duplicates");
                }
            }
        }
        requests += self.settle(task, chunk, &mut results, keys).await;
        let mut outcome = BatchOutcome::default();
        for (index, result) in results.into_iter().enumerate() {
            outcome.push(index, result);
        }
        outcome.requests = requests;
        Ok(outcome)
    }

    /// Per-item results of an add answer, and the items refused because their `orderID` is in
    /// use. Items named in `errList` are rejected; the others are accepted only when the answer
    /// proves it (counts add up, every entry placed), else they are `Unknown`.
    fn read_add_answer(
        &self,
        op: &str,
        answer: &Answer,
        chunk: &[ContactToAdd],
    ) -> Result<(Vec<ItemResult>, Vec<usize>), ProviderError> {
        let endpoint = self.endpoint(op);
        let read = AddAnswer::read(&endpoint, &answer.body)?;
        let entries = read.errors.as_deref().unwrap_or_default();
        let sent: Vec<&str> = chunk.iter().map(|c| c.phone.as_str()).collect();
        let echoed: Vec<&str> = entries.iter().map(|e| e.phone.as_str()).collect();
        let placement = echo::place(&sent, &echoed);
        let proven = read.adds_up(chunk.len()) && placement.unplaced == 0;
        if !proven {
            tracing::warn!(
                endpoint = %endpoint,
                counts = %read.describe(chunk.len()),
                unplaced = placement.unplaced,
                "the answer does not prove which orders were accepted; they stay in doubt until a listOrder read"
            );
        }
        let unproven = if proven {
            ItemResult::Accepted
        } else {
            ItemResult::Unknown
        };
        let mut results = vec![unproven; chunk.len()];
        let mut id_in_use = Vec::new();
        for (index, entry) in placement.placed {
            let message = &entries[entry].message;
            results[index] = match classify(message) {
                ItemMessage::IdInUse => {
                    id_in_use.push(index);
                    ItemResult::Rejected {
                        reason: RejectReason::Duplicate,
                    }
                }
                ItemMessage::Rejected(reason) => ItemResult::Rejected { reason },
                _ => ItemResult::Rejected {
                    reason: RejectReason::Other(sanitize(message)),
                },
            };
        }
        Ok((results, id_in_use))
    }

    /// Settles the `Unknown` items of an add with a `listOrder` read by their `orderID`s: an
    /// order listed with our id and a phone that fits ours is accepted; the others stay in
    /// doubt (the next sync's listing settles them). Returns the requests made.
    async fn settle(
        &self,
        task: &TaskRef,
        chunk: &[ContactToAdd],
        results: &mut [ItemResult],
        keys: &Keys,
    ) -> u32 {
        let unknown: Vec<usize> = (0..chunk.len())
            .filter(|i| results[*i] == ItemResult::Unknown)
            .collect();
        if unknown.is_empty() {
            return 0;
        }
        let ids: Vec<String> = unknown
            .iter()
            .map(|i| chunk[*i].remote_id.clone())
            .collect();
        match self.list_orders(task, keys, Some(ids)).await {
            Ok((rows, requests)) => {
                for index in unknown {
                    let contact = &chunk[index];
                    let listed = rows.iter().any(|row| {
                        row.order_id.as_deref() == Some(contact.remote_id.as_str())
                            && echo::fit(&row.phone, &contact.phone).is_some()
                    });
                    if listed {
                        results[index] = ItemResult::Accepted;
                    }
                }
                requests
            }
            Err(err) => {
                tracing::warn!(reason = err.reason(), error = %err, "cannot settle orders in doubt; the next listing will");
                1
            }
        }
    }

    /// The full URL of an operation, for errors.
    fn endpoint(&self, op: &str) -> String {
        self.inner
            .transport
            .url(&format!("/callcentre/api/v3/{op}"))
    }

    /// `(orderID, userPhone)` of the given orders that exist, in requests of at most 500 ids.
    async fn order_details(
        &self,
        task: &TaskRef,
        ids: &[&str],
        keys: &Keys,
    ) -> Result<(Vec<(String, String)>, u32), ProviderError> {
        let mut present = Vec::new();
        let mut requests = 0;
        for chunk in ids.chunks(MAX_DETAIL_IDS) {
            let request = DetailReq {
                product_id: PRODUCT_ID,
                user_task_id: &task.id,
                order_list: chunk.to_vec(),
            };
            let (answer, attempts) = self
                .call("listOrderDetail", to_json(&request)?, keys, Some(task))
                .await?;
            requests += attempts;
            // "None of them exists" is what confirms a removal: an answer without the list
            // must not read as that.
            let rows = match answer.body.get("orderDetailList") {
                Some(Value::Array(rows)) => rows.clone(),
                other => {
                    return Err(ProviderError::InvalidResponse {
                        endpoint: self.endpoint("listOrderDetail"),
                        detail: format!(
                            "orderDetailList is {}, not a list",
                            other.map_or("missing", answers::kind)
                        ),
                    });
                }
            };
            present.extend(rows.iter().map(|row| {
                (
                    row.get("orderID").map(value_string).unwrap_or_default(),
                    row.get("userPhone").map(value_string).unwrap_or_default(),
                )
            }));
        }
        Ok((present, requests))
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
        send_fitting(batch, &self.inner.max_remove, |chunk| {
            self.remove_chunk(task, chunk, &keys)
        })
        .await
    }

    async fn remove_chunk(
        &self,
        task: &TaskRef,
        chunk: &[ContactToRemove],
        keys: &Keys,
    ) -> Result<BatchOutcome, ProviderError> {
        let mut results: Vec<Option<ItemResult>> = vec![None; chunk.len()];
        let mut with_id = Vec::new();
        for (index, contact) in chunk.iter().enumerate() {
            match contact.remote_id.as_deref().filter(|id| !id.is_empty()) {
                Some(id) => with_id.push((index, id)),
                None => {
                    results[index] = Some(ItemResult::Rejected {
                        reason: RejectReason::Other(
                            "Callbot removes by orderID and none is known".into(),
                        ),
                    });
                }
            }
        }
        let mut requests = 0;
        if !with_id.is_empty() {
            let request = StopReq {
                product_id: PRODUCT_ID,
                user_task_id: &task.id,
                order_ids: with_id.iter().map(|(_, id)| *id).collect(),
                del_call: 1,
            };
            let (answer, attempts) = self
                .call("stopOrder", to_json(&request)?, keys, Some(task))
                .await?;
            requests += attempts;
            let mut by_id = KeyIndex::new(with_id.iter().map(|(_, id)| *id));
            let mut reported = HashSet::new();
            for error in err_list(&answer.body) {
                let id = value_string(&error.order_id);
                let Some((pos, _)) = by_id.take(&id) else {
                    continue;
                };
                let index = with_id[pos].0;
                reported.insert(index);
                results[index] = Some(match classify_item_message(&error.err_msg) {
                    // Not there (also: deleted by an earlier attempt whose answer was lost).
                    ItemMessage::NotFound => ItemResult::Accepted,
                    ItemMessage::NotDeletable => ItemResult::Rejected {
                        reason: RejectReason::NotDeletable,
                    },
                    ItemMessage::Rejected(reason) => ItemResult::Rejected { reason },
                    ItemMessage::IdInUse => ItemResult::Rejected {
                        reason: RejectReason::Other(sanitize(&error.err_msg)),
                    },
                });
            }
            // stopOrder counts a dialled order as a success (stopped, kept): the orders still
            // there afterwards were not deleted.
            let stopped: Vec<&str> = with_id
                .iter()
                .filter(|(index, _)| !reported.contains(index))
                .map(|(_, id)| *id)
                .collect();
            // `None`: the check failed, so whether the stopped orders are gone is not known.
            let still_there: Option<HashSet<String>> = if stopped.is_empty() {
                Some(HashSet::new())
            } else {
                match self.order_details(task, &stopped, keys).await {
                    Ok((present, n)) => {
                        requests += n;
                        Some(present.into_iter().map(|(id, _)| id).collect())
                    }
                    Err(err) => {
                        tracing::warn!(reason = err.reason(), error = %err, "cannot check stopped orders; their removal stays in doubt");
                        None
                    }
                }
            };
            for (index, id) in &with_id {
                if results[*index].is_none() {
                    let Some(still_there) = &still_there else {
                        results[*index] = Some(ItemResult::Unknown);
                        continue;
                    };
                    results[*index] = Some(if still_there.contains(*id) {
                        ItemResult::Rejected {
                            reason: RejectReason::NotDeletable,
                        }
                    } else {
                        ItemResult::Accepted
                    });
                }
            }
        }
        let mut outcome = BatchOutcome::default();
        for (index, result) in results.into_iter().enumerate() {
            outcome.push(index, result.unwrap_or(ItemResult::Unknown));
        }
        outcome.requests = requests;
        Ok(outcome)
    }

    // ---- observe -----------------------------------------------------------------------------

    /// The orders of the task's latest batch (`exportBatchCall`): the observation for tasks fed by
    /// `importBatchCall`. Answers 1001 (retried) while an import runs.
    pub async fn export_batch(&self, task: &TaskRef) -> Result<Vec<RemoteContact>, ProviderError> {
        let keys = self.keys().await?;
        let request = ExportReq {
            product_id: PRODUCT_ID,
            user_task_id: &task.id,
        };
        let (answer, _) = self
            .call("exportBatchCall", to_json(&request)?, &keys, Some(task))
            .await?;
        Ok(answer
            .body
            .get("callList")
            .and_then(Value::as_array)
            .map(|rows| rows.iter().filter_map(order_contact).collect())
            .unwrap_or_default())
    }
}

/// Sends `items` in requests of at most `size` items, one after the other. A request refused
/// with 4001 (too many array elements; nothing applied) is sent again as halves, and the smaller
/// size is kept in `size` for the rest of the client's life. A failure of the first request is
/// `Err` (nothing applied); a later one stops the loop, marks the remaining items `Unknown` and
/// is kept in `interrupted`.
async fn send_fitting<'a, T, F, Fut>(
    items: &'a [T],
    size: &AtomicUsize,
    mut send: F,
) -> Result<BatchOutcome, ProviderError>
where
    F: FnMut(&'a [T]) -> Fut,
    Fut: std::future::Future<Output = Result<BatchOutcome, ProviderError>>,
{
    let mut outcome = BatchOutcome::default();
    let mut offset = 0;
    while offset < items.len() {
        let end = (offset + size.load(Ordering::Relaxed).max(1)).min(items.len());
        let failure = match send(&items[offset..end]).await {
            Ok(mut part) => {
                let interrupted = part.interrupted.take();
                outcome.extend_chunk(offset, part);
                offset = end;
                match interrupted {
                    None => continue,
                    Some(err) => err,
                }
            }
            Err(ProviderError::BatchTooLarge { code, message }) if end - offset > 1 => {
                let half = (end - offset).div_ceil(2);
                size.fetch_min(half, Ordering::Relaxed);
                tracing::warn!(code, message = %message, size = half, "the provider refused the batch as too large; sending halves from now on");
                continue;
            }
            Err(err) if offset == 0 => return Err(err),
            Err(err) => err,
        };
        for index in offset..items.len() {
            outcome.push(index, ItemResult::Unknown);
        }
        outcome.interrupted = Some(failure);
        break;
    }
    outcome.sort();
    Ok(outcome)
}

/// Reads a per-order add message: the shared reading, plus the Chinese wordings of "this
/// orderID is already used" (`订单ID已存在`), which do not spell the id the way the shared
/// reader looks for it.
fn classify(message: &str) -> ItemMessage {
    let names_order = message.contains("订单") || message.to_lowercase().contains("orderid");
    let in_use = ["已存在", "已使用", "已被使用"]
        .iter()
        .any(|w| message.contains(w));
    if names_order && in_use {
        return ItemMessage::IdInUse;
    }
    classify_item_message(message)
}

/// Script variables as `params`.
fn params(variables: &std::collections::BTreeMap<String, String>) -> Vec<Param<'_>> {
    variables
        .iter()
        .map(|(name, value)| Param { name, value })
        .collect()
}

fn gzip(body: &[u8]) -> Result<Vec<u8>, ProviderError> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder
        .write_all(body)
        .and_then(|()| encoder.finish())
        .map_err(|e| ProviderError::Config(format!("cannot gzip a request body: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_round_trips() {
        use std::io::Read;
        let body = br#"{"data":"ping"}"#;
        let compressed = gzip(body).expect("gzip");
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(compressed.as_slice())
            .read_to_end(&mut out)
            .expect("gunzip");
        assert_eq!(out, body);
    }
}

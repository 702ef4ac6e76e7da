//! NXtele Callbot v3 client (`/callcentre/api/v3/*`, signed requests).
//!
//! - Every request is `POST` JSON with headers `requestID` (fresh per attempt), `uuid`,
//!   `createTs` (seconds), `sign` (MD5 or SHA-256 of `secret&body=…&createTs=…&requestID=…&uuid=…`,
//!   uppercase hex) and `algorithm`. The body is serialised once; those bytes are signed and
//!   sent (gzip-compressed with `Content-Encoding: gzip` when the CallProvider says `gzip`; the
//!   signature covers the uncompressed JSON, which is what the server checks after gunzipping).
//! - add: `addBatchCall` with the caller's `orderID`s and the CallProvider's callback URLs;
//!   `errList` (keyed by phone) gives per-item results. An item refused because its `orderID` is
//!   already used is checked with `listOrderDetail`: if the order exists with that phone, an
//!   earlier attempt created it and the item is accepted (idempotent retry after a lost answer).
//! - remove: `stopOrder` with `delCall=1`; an order not found is already gone (accepted); an
//!   order still present afterwards (`listOrderDetail`) was dialled: stopped, not deletable.
//! - list: `listOrder`, paged; `exportBatchCall` for the latest batch.
//! - retCode (see `answers`): 0 ok; 5/5001/7 busy and 1001 import running (retryable); 6/6001 signature,
//!   6002/6003 credentials, 4001 batch too large, 1/2/3/4 refused (terminal).
mod answers;

use std::collections::HashSet;
use std::io::Write;
use std::sync::Arc;

use reqwest::header::{ACCEPT, CONTENT_ENCODING, CONTENT_TYPE};
use serde::Serialize;
use serde_json::Value;

use self::answers::{Answer, err_list, order_contact, parse_answer};
use super::batching::in_chunks;
use super::factory::limit;
use super::http::Transport;
use super::wire::{ItemMessage, KeyIndex, classify_item_message, to_json, value_string};
use super::{
    BatchOutcome, Capabilities, ContactToAdd, ContactToRemove, Credentials, DriftHint, Identity,
    ItemResult, ProviderError, RejectReason, RemoteContact, RemoteState, SecretString,
    SharedCredentials, TaskRef, sanitize,
};
use crate::api::{CallbotAccount, SignatureAlgorithm};
use crate::signing::callbot_sign;

/// Not documented (4001 exists); mirrors `listOrderDetail`'s documented 500.
pub const MAX_ADD: usize = 500;
/// Not documented; same reading.
pub const MAX_REMOVE: usize = 500;
/// `listOrderDetail`: documented maximum of order ids.
pub const MAX_DETAIL_IDS: usize = 500;
/// `listOrder` page size (the docs' example).
pub const LIST_PAGE_SIZE: u64 = 100;

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
    max_add: usize,
    max_remove: usize,
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
struct ListReq<'a> {
    #[serde(rename = "productID")]
    product_id: &'a str,
    #[serde(rename = "userTaskID")]
    user_task_id: &'a str,
    options: ListOptions,
    page: u64,
    size: u64,
}

/// All filters off.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ListOptions {
    #[serde(rename = "orderID")]
    order_id: Option<Vec<String>>,
    finish: Option<i64>,
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
                max_add: limit(MAX_ADD, add_override),
                max_remove: limit(MAX_REMOVE, remove_override),
            }),
        }
    }

    pub fn kind(&self) -> &'static str {
        "callbot"
    }

    pub fn capabilities(&self) -> Capabilities {
        Capabilities {
            max_add: self.inner.max_add,
            max_remove: self.inner.max_remove,
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
        let url = self
            .inner
            .transport
            .url(&format!("/callcentre/api/v3/{op}"));
        let endpoint = self.inner.transport.endpoint().to_owned();
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
                |response| parse_answer(&endpoint, response, task),
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
        in_chunks(batch, self.inner.max_add, |chunk| {
            self.add_chunk(task, chunk, &keys)
        })
        .await
    }

    async fn add_chunk(
        &self,
        task: &TaskRef,
        chunk: &[ContactToAdd],
        keys: &Keys,
    ) -> Result<BatchOutcome, ProviderError> {
        let request = AddReq {
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
        };
        let (answer, attempts) = self
            .call("addBatchCall", to_json(&request)?, keys, Some(task))
            .await?;
        let errors = err_list(&answer.body);
        let mut results: Vec<ItemResult> = vec![ItemResult::Accepted; chunk.len()];
        let mut by_phone = KeyIndex::new(chunk.iter().map(|c| c.phone.as_str()));
        let mut id_in_use = Vec::new();
        for error in &errors {
            let phone = value_string(&error.phone);
            let Some((index, _)) = by_phone.take(&phone) else {
                continue;
            };
            results[index] = match classify_item_message(&error.err_msg) {
                ItemMessage::IdInUse => {
                    id_in_use.push(index);
                    ItemResult::Rejected {
                        reason: RejectReason::Duplicate,
                    }
                }
                ItemMessage::Rejected(reason) => ItemResult::Rejected { reason },
                _ => ItemResult::Rejected {
                    reason: RejectReason::Other(sanitize(&error.err_msg)),
                },
            };
        }
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
        let mut outcome = BatchOutcome::default();
        for (index, result) in results.into_iter().enumerate() {
            outcome.push(index, result);
        }
        outcome.requests = requests;
        Ok(outcome)
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
            let rows = answer
                .body
                .get("orderDetailList")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
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
        in_chunks(batch, self.inner.max_remove, |chunk| {
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
            let still_there: HashSet<String> = if stopped.is_empty() {
                HashSet::new()
            } else {
                match self.order_details(task, &stopped, keys).await {
                    Ok((present, n)) => {
                        requests += n;
                        present.into_iter().map(|(id, _)| id).collect()
                    }
                    Err(err) => {
                        tracing::debug!(reason = err.reason(), error = %err, "cannot check stopped orders");
                        HashSet::new()
                    }
                }
            };
            for (index, id) in &with_id {
                if results[*index].is_none() {
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

    pub async fn list(&self, task: &TaskRef) -> Result<Option<Vec<RemoteContact>>, ProviderError> {
        let keys = self.keys().await?;
        let mut contacts = Vec::new();
        let mut page = 1;
        loop {
            let request = ListReq {
                product_id: PRODUCT_ID,
                user_task_id: &task.id,
                options: ListOptions {
                    order_id: None,
                    finish: None,
                },
                page,
                size: LIST_PAGE_SIZE,
            };
            let (answer, _) = self
                .call("listOrder", to_json(&request)?, &keys, Some(task))
                .await?;
            let rows = ["orderList", "list", "data"]
                .iter()
                .find_map(|k| answer.body.get(*k).and_then(Value::as_array))
                .cloned()
                .unwrap_or_default();
            let total = answer.body.get("totalCount").and_then(Value::as_u64);
            contacts.extend(rows.iter().filter_map(order_contact));
            let done = u64::try_from(rows.len()).unwrap_or(0) < LIST_PAGE_SIZE
                || total.is_some_and(|t| u64::try_from(contacts.len()).unwrap_or(0) >= t);
            if done {
                break;
            }
            page += 1;
        }
        Ok(Some(contacts))
    }

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

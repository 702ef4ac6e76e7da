//! Reading Callbot's answers: `retCode` and its classes, `errList`, order rows.
use serde::Deserialize;
use serde_json::Value;

use crate::providers::http::Response;
use crate::providers::{ProviderError, RemoteContact, RemoteState, TaskRef, sanitize};

/// `{retCode, retMsg, responseID, …}`; the rest is read per endpoint.
#[derive(Debug)]
pub(super) struct Answer {
    pub(super) body: Value,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ErrItem {
    #[serde(rename = "orderID", default)]
    pub(super) order_id: Value,
    #[serde(default)]
    pub(super) err_msg: String,
}

pub(super) fn err_list(body: &Value) -> Vec<ErrItem> {
    body.get("errList")
        .cloned()
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default()
}

/// What an add answer (`addBatchCall`, `importBatchCall`) says, its types checked.
#[derive(Debug)]
pub(super) struct AddAnswer {
    /// `totalCount`: "导入总数".
    pub(super) total: Option<u64>,
    /// `successCount`: "导入成功数".
    pub(super) success: Option<u64>,
    /// `errList` (`None` when left out: the docs mark it optional).
    pub(super) errors: Option<Vec<ErrEntry>>,
}

/// One `errList` entry of an add answer.
#[derive(Debug)]
pub(super) struct ErrEntry {
    /// As the provider wrote it (maybe not as it was sent).
    pub(super) phone: String,
    pub(super) message: String,
}

impl AddAnswer {
    /// Reads the counts and `errList` of `op`'s answer; wrong types are an error naming the
    /// endpoint and the field (no phone is quoted).
    pub(super) fn read(op: &str, body: &Value) -> Result<Self, ProviderError> {
        let bad = |detail: String| ProviderError::InvalidResponse {
            endpoint: op.to_owned(),
            detail,
        };
        let count = |name: &str| -> Result<Option<u64>, ProviderError> {
            match body.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(v) => v
                    .as_u64()
                    .map(Some)
                    .ok_or_else(|| bad(format!("{name} is {}, not a count", kind(v)))),
            }
        };
        let total = count("totalCount")?;
        let success = count("successCount")?;
        let errors = match body.get("errList") {
            None | Some(Value::Null) => None,
            Some(Value::Array(entries)) => Some(
                entries
                    .iter()
                    .enumerate()
                    .map(|(i, entry)| {
                        let phone = match entry.get("phone") {
                            Some(Value::String(s)) => s.clone(),
                            Some(Value::Number(n)) => n.to_string(),
                            Some(other) => {
                                return Err(bad(format!(
                                    "errList[{i}].phone is {}, not a phone",
                                    kind(other)
                                )));
                            }
                            None => return Err(bad(format!("errList[{i}] has no phone"))),
                        };
                        let message = match entry.get("errMsg") {
                            Some(Value::String(s)) => s.clone(),
                            None | Some(Value::Null) => String::new(),
                            Some(other) => {
                                return Err(bad(format!(
                                    "errList[{i}].errMsg is {}, not text",
                                    kind(other)
                                )));
                            }
                        };
                        Ok(ErrEntry { phone, message })
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            ),
            Some(other) => return Err(bad(format!("errList is {}, not a list", kind(other)))),
        };
        Ok(Self {
            total,
            success,
            errors,
        })
    }

    /// Whether the counts prove that every item of `sent` not named in `errList` was accepted:
    /// `totalCount` is what was sent and `successCount + len(errList) == totalCount` (an
    /// `errList` left out counts as empty, so it proves only when everything succeeded).
    pub(super) fn adds_up(&self, sent: usize) -> bool {
        let failed = self.errors.as_ref().map_or(0, Vec::len) as u64;
        match (self.total, self.success) {
            (Some(total), Some(success)) => {
                total == sent as u64 && success.checked_add(failed) == Some(total)
            }
            _ => false,
        }
    }

    /// A short account of the counts for logs and errors (no phones).
    pub(super) fn describe(&self, sent: usize) -> String {
        let show = |n: Option<u64>| n.map_or_else(|| "missing".to_owned(), |n| n.to_string());
        format!(
            "sent {sent}, totalCount {}, successCount {}, errList {}",
            show(self.total),
            show(self.success),
            self.errors
                .as_ref()
                .map_or_else(|| "missing".to_owned(), |e| format!("{} entries", e.len()))
        )
    }
}

/// The JSON type of a value, for error messages (never the value: it may be a phone).
pub(super) fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// One `listOrder` / `exportBatchCall` row, phone as the provider wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct OrderRow {
    pub(super) order_id: Option<String>,
    pub(super) phone: String,
    pub(super) state: RemoteState,
}

/// Reads an order row: `finish` true = finished; `callStatus` 0 not dialled, 1 dialling, 2
/// dialled (the simulator's reading; the real enum is not documented). A row that is not an
/// object or has no phone is an error (`Err` holds what was wrong, no phone).
pub(super) fn order_row(row: &Value) -> Result<OrderRow, String> {
    if !row.is_object() {
        return Err(format!("a row is {}, not an order", kind(row)));
    }
    let phone = match row.get("userPhone") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(other) if !other.is_string() => {
            return Err(format!("userPhone is {}, not a phone", kind(other)));
        }
        _ => return Err("a row has no userPhone".into()),
    };
    let order_id = match row.get("orderID") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()).filter(|id| !id.is_empty()),
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(other) => return Err(format!("orderID is {}, not an id", kind(other))),
    };
    let finish = row
        .get("finish")
        .and_then(|f| f.as_bool().or_else(|| f.as_i64().map(|n| n == 1)));
    let state = row_state(finish, row.get("callStatus").and_then(Value::as_i64));
    Ok(OrderRow {
        order_id,
        phone,
        state,
    })
}

/// An order's state from `finish` and `callStatus` (as read by [`order_row`]).
pub(super) fn row_state(finish: Option<bool>, call_status: Option<i64>) -> RemoteState {
    match (finish, call_status) {
        (Some(true), _) => RemoteState::Finished,
        (_, Some(0)) => RemoteState::Pending,
        (_, Some(1 | 2)) => RemoteState::InProgress,
        _ => RemoteState::Unknown,
    }
}

/// An order row as a remote contact, phone as written (for `exportBatchCall`).
pub(super) fn order_contact(row: &Value) -> Option<RemoteContact> {
    let row = order_row(row).ok()?;
    Some(RemoteContact {
        phone: row.phone,
        remote_id: row.order_id,
        state: row.state,
        removable: row.state == RemoteState::Pending,
    })
}

/// An answer that is not JSON: invalid when the HTTP status said success, else the HTTP
/// status is the refusal.
pub(super) fn not_json(
    endpoint: &str,
    response: &Response,
    error: &serde_json::Error,
) -> ProviderError {
    if response.status.is_success() {
        ProviderError::InvalidResponse {
            endpoint: endpoint.to_owned(),
            detail: format!("not JSON: {error}"),
        }
    } else {
        ProviderError::Rejected {
            code: i64::from(response.status.as_u16()),
            message: format!("HTTP {}", response.status),
        }
    }
}

/// Checks `retCode` (or `code` for `ping`).
pub(super) fn parse_answer(
    endpoint: &str,
    response: Response,
    task: Option<&TaskRef>,
) -> Result<Answer, ProviderError> {
    let body: Value =
        serde_json::from_slice(&response.body).map_err(|e| not_json(endpoint, &response, &e))?;
    if !body.is_object() {
        return Err(ProviderError::InvalidResponse {
            endpoint: endpoint.to_owned(),
            detail: format!("the answer is {}, not an object", kind(&body)),
        });
    }
    let code = body
        .get("retCode")
        .or_else(|| body.get("code"))
        .and_then(|c| {
            c.as_i64()
                .or_else(|| c.as_str().and_then(|s| s.parse().ok()))
        });
    let message = sanitize(
        body.get("retMsg")
            .or_else(|| body.get("msg"))
            .and_then(Value::as_str)
            .unwrap_or_default(),
    );
    ret_code_error(endpoint, code, message, task)?;
    Ok(Answer { body })
}

/// The error a `retCode` (or `code`) stands for; `Ok` for 0. `message` is `retMsg`, sanitized.
pub(super) fn ret_code_error(
    endpoint: &str,
    code: Option<i64>,
    message: String,
    task: Option<&TaskRef>,
) -> Result<(), ProviderError> {
    let Some(code) = code else {
        return Err(ProviderError::InvalidResponse {
            endpoint: endpoint.to_owned(),
            detail: "no retCode (or not a number)".into(),
        });
    };
    match code {
        0 => Ok(()),
        5 | 5001 | 7 => Err(ProviderError::Busy { code, message }),
        1001 => Err(ProviderError::ImportRunning { code, message }),
        6 | 6001 => Err(ProviderError::SignatureRejected { code, message }),
        6002 | 6003 => Err(ProviderError::CredentialsRejected { code, message }),
        4001 => Err(ProviderError::BatchTooLarge { code, message }),
        4 if task.is_some()
            && message.contains("userTaskID")
            && (message.contains("not exist") || message.contains("不存在")) =>
        {
            Err(ProviderError::TaskNotFound {
                task: task.map_or_else(String::new, |t| t.id.clone()),
                message,
            })
        }
        _ => Err(ProviderError::Rejected { code, message }),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn reads_order_rows() {
        let row = json!({"orderID": "o1", "userPhone": "8613012121211", "finish": false, "callStatus": 0});
        let contact = order_contact(&row).expect("a row");
        assert_eq!(contact.state, RemoteState::Pending);
        assert!(contact.removable);
        let done = order_contact(&json!({"orderID": "o2", "userPhone": "86130", "finish": true}))
            .expect("a row");
        assert_eq!(done.state, RemoteState::Finished);
        assert!(order_contact(&json!({"orderID": "o3"})).is_none());
    }

    fn answer(body: serde_json::Value) -> Result<Answer, ProviderError> {
        let response = Response {
            status: reqwest::StatusCode::OK,
            headers: reqwest::header::HeaderMap::new(),
            body: serde_json::to_vec(&body).expect("json"),
        };
        parse_answer("http://x", response, Some(&TaskRef::new("t")))
    }

    #[test]
    fn ret_codes_map_to_the_documented_classes() {
        use crate::providers::ErrorClass::{Retryable, Terminal};
        let cases = [
            (5, "ProviderBusy", Retryable),
            (5001, "ProviderBusy", Retryable),
            (7, "ProviderBusy", Retryable),
            (1001, "ImportRunning", Retryable),
            (6, "SignatureRejected", Terminal),
            (6001, "SignatureRejected", Terminal),
            (6002, "CredentialsRejected", Terminal),
            (6003, "CredentialsRejected", Terminal),
            (4001, "BatchTooLarge", Terminal),
            (1, "RequestRejected", Terminal),
            (2, "RequestRejected", Terminal),
            (3, "RequestRejected", Terminal),
            (4, "RequestRejected", Terminal),
        ];
        for (code, reason, class) in cases {
            let err = answer(json!({"retCode": code, "retMsg": "m"})).expect_err("error");
            assert_eq!(
                (err.reason(), err.class()),
                (reason, class),
                "retCode {code}"
            );
        }
        assert!(answer(json!({"retCode": 0, "errList": []})).is_ok());
        assert!(answer(json!({"code": 0, "data": "ping"})).is_ok());
        let err = answer(json!({"retCode": 4, "retMsg": "参数值错误: userTaskID does not exist"}))
            .expect_err("unknown task");
        assert_eq!(err.reason(), "TaskNotFound");
    }
}

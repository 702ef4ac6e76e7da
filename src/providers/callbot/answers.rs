//! Reading Callbot's answers: `retCode` and its classes, `errList`, order rows.
use serde::Deserialize;
use serde_json::Value;

use crate::providers::http::Response;
use crate::providers::wire::value_string;
use crate::providers::{ProviderError, RemoteContact, RemoteState, TaskRef, sanitize};

/// `{retCode, retMsg, responseID, …}`; the rest is read per endpoint.
#[derive(Debug)]
pub(super) struct Answer {
    pub(super) body: Value,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ErrItem {
    #[serde(default)]
    pub(super) phone: Value,
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

/// An order row: `finish` true = finished; `callStatus` 0 not dialled, 1 dialling, 2 dialled
/// (the simulator's reading; the real enum is not documented).
pub(super) fn order_contact(row: &Value) -> Option<RemoteContact> {
    let phone = row
        .get("userPhone")
        .map(value_string)
        .filter(|p| !p.is_empty())?;
    let remote_id = row
        .get("orderID")
        .map(value_string)
        .filter(|id| !id.is_empty());
    let finish = row
        .get("finish")
        .and_then(|f| f.as_bool().or_else(|| f.as_i64().map(|n| n == 1)));
    let state = match (finish, row.get("callStatus").and_then(Value::as_i64)) {
        (Some(true), _) => RemoteState::Finished,
        (_, Some(0)) => RemoteState::Pending,
        (_, Some(1 | 2)) => RemoteState::InProgress,
        _ => RemoteState::Unknown,
    };
    Some(RemoteContact {
        phone,
        remote_id,
        state,
        removable: state == RemoteState::Pending,
    })
}

/// Checks `retCode` (or `code` for `ping`).
pub(super) fn parse_answer(
    endpoint: &str,
    response: Response,
    task: Option<&TaskRef>,
) -> Result<Answer, ProviderError> {
    let body: Value = serde_json::from_slice(&response.body).map_err(|e| {
        if response.status.is_success() {
            ProviderError::InvalidResponse {
                endpoint: endpoint.to_owned(),
                detail: format!("not JSON: {e}"),
            }
        } else {
            ProviderError::Rejected {
                code: i64::from(response.status.as_u16()),
                message: format!("HTTP {}", response.status),
            }
        }
    })?;
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
    let Some(code) = code else {
        return Err(ProviderError::InvalidResponse {
            endpoint: endpoint.to_owned(),
            detail: "no retCode".into(),
        });
    };
    match code {
        0 => Ok(Answer { body }),
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

//! Reading longlonglong's answers: the `{code,status,message,data,meta}` envelope and its codes,
//! per-row results of adds, and listed rows.
use std::collections::HashSet;

use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::Value;

use crate::providers::http::Response;
use crate::providers::wire::{KeyIndex, value_string};
use crate::providers::{
    BatchOutcome, ContactToAdd, ItemResult, ProviderError, RejectReason, RemoteContact,
    RemoteState, TaskRef, sanitize,
};

/// `{code, status, message, data, meta}`.
#[derive(Debug, Deserialize)]
pub(super) struct Envelope {
    pub(super) code: i64,
    #[serde(default)]
    pub(super) message: String,
    #[serde(default)]
    pub(super) data: Value,
    #[serde(default)]
    pub(super) meta: Option<Meta>,
}

#[derive(Debug, Deserialize)]
pub(super) struct Meta {
    #[serde(default)]
    pub(super) last_page: Option<u64>,
}

/// One refused row, as the sync add and the async result report them.
#[derive(Debug, Deserialize)]
pub(super) struct RowFailure {
    #[serde(default)]
    phone: Value,
    #[serde(default, alias = "message", alias = "msg", alias = "errMsg")]
    reason: String,
}

/// Per-row outcome from a `{fail: [{phone, reason}]}` report. With `imported` (async result),
/// rows neither imported nor refused are `Unknown`; without it, unreported rows are accepted.
pub(super) fn rows_outcome(
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

pub(super) fn unknown_outcome(len: usize) -> BatchOutcome {
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
pub(super) fn remote_contact(row: &Value) -> Option<RemoteContact> {
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
pub(super) fn parse_envelope(
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

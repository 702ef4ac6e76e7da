//! Reading longlonglong's answers: the `{code,status,message,data,meta}` envelope and its codes,
//! per-row refusals of adds, and listed rows.
//!
//! Nothing here makes an item Accepted: an add's answer can only refuse rows (or say nothing);
//! acceptance comes from a listing that shows the number (`super::confirm`).
use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::Value;

use crate::api::PhoneFormat;
use crate::contacts::Phone;
use crate::providers::http::Response;
use crate::providers::wire::{KeyIndex, value_string};
use crate::providers::{
    ContactToAdd, ProviderError, RejectReason, RemoteContact, RemoteState, TaskRef, sanitize,
};

/// `{code, status, message, data, meta}`. Field types are checked: a `code` that is not a
/// number or a `meta.total` that is not a count makes the whole answer unreadable.
#[derive(Debug, Deserialize)]
pub(super) struct Envelope {
    pub(super) code: i64,
    #[serde(default)]
    message: Value,
    #[serde(default)]
    pub(super) data: Value,
    #[serde(default)]
    pub(super) meta: Option<Meta>,
}

impl Envelope {
    /// The message, phones masked (`null` and non-strings read as text).
    pub(super) fn message(&self) -> String {
        sanitize(&value_string(&self.message))
    }
}

/// Paging metadata (`meta`, or the fields of a paginator object in `data`).
#[derive(Debug, Default, Deserialize)]
pub(super) struct Meta {
    #[serde(default)]
    pub(super) last_page: Option<u64>,
    #[serde(default)]
    pub(super) total: Option<u64>,
}

/// One refused row, as the sync add and the async result report them.
#[derive(Debug, Deserialize)]
struct RowFailure {
    #[serde(default)]
    phone: Value,
    #[serde(default, alias = "message", alias = "msg", alias = "errMsg")]
    reason: String,
}

/// The rows a `{fail: [{phone, reason}]}` report refuses, as (index in `chunk`, reason). A
/// phone given twice is refused once per report, latest rows first; reports about phones not
/// in the chunk, and a report that cannot be read, refuse nothing.
pub(super) fn refused_rows(chunk: &[ContactToAdd], data: &Value) -> Vec<(usize, RejectReason)> {
    let failures: Vec<RowFailure> = data
        .get("fail")
        .or_else(|| data.get("fail_list"))
        .cloned()
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default();
    let mut by_phone = KeyIndex::new(chunk.iter().map(|c| c.phone.as_str()));
    failures
        .iter()
        .filter_map(|failure| {
            let (index, _) = by_phone.take(&value_string(&failure.phone))?;
            Some((index, classify_row_reason(&failure.reason)))
        })
        .collect()
}

/// Whether an `identification/{unique_id}` result says the batch is done.
pub(super) fn batch_finished(data: &Value) -> bool {
    match data.get("status").and_then(Value::as_str) {
        Some(s) => matches!(s, "finished" | "done" | "success" | "completed"),
        // A result without a status but with the imported numbers is final.
        None => data.get("numbers").is_some(),
    }
}

/// Maps a row failure message (Chinese or English) to a reason.
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

/// How listed phones are read back: the account's wire format and region.
#[derive(Debug, Clone)]
pub(super) struct Echo {
    pub(super) format: PhoneFormat,
    pub(super) region: String,
}

impl Echo {
    /// A listed phone in the account's wire format, whatever format the listing used
    /// (`8613012121211`, `+86 130…` for a national account). A phone that cannot be read is
    /// kept as written; a masked one (`130****1211`) is an error: it names no number.
    fn normalize(&self, raw: &str) -> Result<String, String> {
        if raw.contains('*') || raw.contains('＊') {
            return Err(
                "listed phones are masked (like 130****1211): the listing cannot show which \
                 numbers are in the task"
                    .to_owned(),
            );
        }
        let region = Some(self.region.as_str());
        let parsed = Phone::from_wire(raw, self.format, region)
            .or_else(|_| Phone::parse(raw, region))
            .map(|p| p.to_wire(self.format));
        Ok(parsed.unwrap_or_else(|_| raw.to_owned()))
    }
}

/// The rows of one listing page: `data` as an array, or a paginator object's `data` / `list`.
/// Anything else is an error (an empty page would read as "the task is empty").
pub(super) fn listed_rows(data: &Value) -> Result<(&[Value], Meta), String> {
    match data {
        Value::Array(rows) => Ok((rows.as_slice(), Meta::default())),
        Value::Object(map) => {
            let rows = map
                .get("data")
                .or_else(|| map.get("list"))
                .and_then(Value::as_array)
                .ok_or("`data` is an object without a `data` or `list` array of rows")?;
            let meta = serde_json::from_value(data.clone())
                .map_err(|e| format!("paging fields of `data` unreadable: {e}"))?;
            Ok((rows.as_slice(), meta))
        }
        other => Err(format!(
            "`data` is {} where a list of rows was expected",
            kind(other)
        )),
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A listed row: `phone` and the number `status` (0 not called, 1 calling, 2 called — the
/// simulator's reading; the real enum is not documented, so other values are `Unknown`). A row
/// without a readable phone is an error: skipping it would report its number gone.
pub(super) fn remote_contact(row: &Value, echo: &Echo) -> Result<RemoteContact, String> {
    let raw = match row.get("phone").or_else(|| row.get("number")) {
        Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_owned(),
        Some(Value::Number(n)) => n.to_string(),
        Some(other) => return Err(format!("a row's phone is {}", kind(other))),
        None if row.is_object() => return Err("a row has no phone".to_owned()),
        None => return Err(format!("a row is {}", kind(row))),
    };
    let state = match row.get("status").and_then(Value::as_i64) {
        Some(0) => RemoteState::Pending,
        Some(1) => RemoteState::InProgress,
        Some(2) => RemoteState::Finished,
        _ => RemoteState::Unknown,
    };
    // `13012121211_x7k2` is a copy made by `number_add_suffix`: report it under its phone, with
    // the raw value as remote id so that a removal targets exactly that copy.
    let (phone, remote_id) = match split_suffix(&raw) {
        Some(base) => (echo.normalize(base)?, Some(raw.clone())),
        None => (echo.normalize(&raw)?, None),
    };
    Ok(RemoteContact {
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

/// Reads the envelope of `endpoint`'s answer: HTTP 401/403 and `code` 401/403 are rejected
/// credentials, 6007 is a running task, 404 with a task is an unknown task, 429 and 5xx-like
/// codes are retryable, any other `code != 200` is a terminal refusal. A 2xx answer that is not
/// the envelope (not JSON, cut short, fields of the wrong type) is
/// [`ProviderError::InvalidResponse`] naming the endpoint and what was wrong.
pub(super) fn parse_envelope(
    endpoint: &str,
    response: Response,
    task: Option<&TaskRef>,
) -> Result<Envelope, ProviderError> {
    let parsed: Result<Envelope, _> = serde_json::from_slice(&response.body);
    let (code, message) = match &parsed {
        Ok(envelope) => (envelope.code, envelope.message()),
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
                detail: format!("not the documented envelope: {}", what_is_wrong(&err)),
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

/// serde's description of a bad answer: what kind of fault, where, and the field and type.
/// serde may quote a wrong-typed value, so phones in it are masked.
fn what_is_wrong(err: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let what = match err.classify() {
        Category::Eof => "the answer is cut short",
        Category::Syntax => "the answer is not JSON",
        Category::Data => "a field has the wrong type or is missing",
        Category::Io => "the answer could not be read",
    };
    format!("{what} ({})", sanitize(&err.to_string()))
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

    fn cn() -> Echo {
        Echo {
            format: PhoneFormat::National,
            region: "CN".into(),
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
            {"phone": "13000000001", "reason": "Duplicate number"},
            {"phone": "13999999999", "reason": "重复号码"},
        ]});
        let mut refused = refused_rows(&chunk, &data);
        refused.sort_by_key(|(i, _)| *i);
        assert_eq!(
            refused,
            vec![
                (1, RejectReason::InvalidNumber),
                (2, RejectReason::Duplicate)
            ]
        );
        // an unreadable report refuses nothing (the rows stay in doubt)
        assert!(refused_rows(&chunk, &json!({"fail": "oops"})).is_empty());
        assert_eq!(
            classify_row_reason("Invalid phone number format"),
            RejectReason::InvalidNumber
        );
    }

    fn envelope(status: u16, body: &[u8]) -> Result<Envelope, ProviderError> {
        let response = Response {
            status: StatusCode::from_u16(status).expect("status"),
            headers: reqwest::header::HeaderMap::new(),
            body: body.to_vec(),
        };
        parse_envelope("number-list (GET /x)", response, Some(&TaskRef::new("t")))
    }

    fn json_envelope(status: u16, body: Value) -> Result<Envelope, ProviderError> {
        envelope(status, &serde_json::to_vec(&body).expect("json"))
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
            let err = json_envelope(status, body.clone()).expect_err("error");
            assert_eq!((err.reason(), err.class()), (reason, class), "{body}");
        }
        assert!(json_envelope(200, json!({"code": 200, "data": [], "message": null})).is_ok());
    }

    #[test]
    fn bad_answers_name_the_endpoint_and_the_fault_without_phones() {
        let cases: [(&[u8], &str); 4] = [
            (b"<html>13012121211</html>", "not JSON"),
            (
                br#"{"code": 200, "data": [{"phone": "13012121211"#,
                "cut short",
            ),
            (br#"{"code": "200", "data": []}"#, "wrong type"),
            (
                br#"{"code": 200, "data": [], "meta": {"total": "many"}}"#,
                "wrong type",
            ),
        ];
        for (body, what) in cases {
            let err = envelope(200, body).expect_err("unreadable");
            let text = err.to_string();
            assert_eq!(err.reason(), "InvalidResponse", "{text}");
            assert!(text.contains("number-list (GET /x)"), "{text}");
            assert!(text.contains(what), "{text}");
            assert!(!text.contains("13012121211"), "{text}");
        }
    }

    #[test]
    fn listed_rows_must_be_rows() {
        assert!(listed_rows(&json!(null)).is_err());
        assert!(listed_rows(&json!("")).is_err());
        assert!(listed_rows(&json!({"items": []})).is_err());
        let paginator = json!({"data": [{"phone": "13012121211"}], "total": 1, "last_page": 1});
        let (rows, meta) = listed_rows(&paginator).expect("paginator");
        assert_eq!((rows.len(), meta.total), (1, Some(1)));
        assert!(remote_contact(&json!({"name": "x"}), &cn()).is_err());
        assert!(remote_contact(&json!({"phone": {"n": 1}}), &cn()).is_err());
        assert!(remote_contact(&json!("13012121211"), &cn()).is_err());
    }

    #[test]
    fn listed_phones_are_read_in_the_wire_format_and_masks_refused() {
        for written in ["13012121211", "8613012121211", "+86 130 1212 1211"] {
            let row =
                remote_contact(&json!({"phone": written, "status": 0}), &cn()).expect("readable");
            assert_eq!(row.phone, "13012121211", "{written}");
        }
        let err = remote_contact(&json!({"phone": "130****1211"}), &cn()).expect_err("masked");
        assert!(err.contains("masked"), "{err}");
    }

    #[test]
    fn reads_suffixed_copies() {
        assert_eq!(split_suffix("13012121211_x7k2"), Some("13012121211"));
        assert_eq!(split_suffix("13012121211"), None);
        assert_eq!(split_suffix("1301_X"), None);
        let row = remote_contact(&json!({"phone": "13012121211_ab1", "status": 0}), &cn());
        assert_eq!(
            row.map(|r| (r.phone, r.remote_id)),
            Ok(("13012121211".into(), Some("13012121211_ab1".into())))
        );
    }
}

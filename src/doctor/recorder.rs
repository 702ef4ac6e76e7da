//! What `callsync doctor` saw: every provider answer, masked as it arrives (a phone or a secret
//! is never kept in memory past this point), with the provider's clock from its `Date` header.
//! With `--record DIR` the answers are written out for a contract fixture (`tests/doctor.rs`
//! replays them).
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use reqwest::header::{CONTENT_TYPE, DATE};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::providers::http::{AnswerObserver, ObservedAnswer};
use crate::providers::sanitize;

/// One answer as recorded: phones and secrets masked.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RecordedAnswer {
    /// The client's name for the endpoint.
    pub op: String,
    /// The URL path that answered.
    pub path: String,
    pub status: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// The body: JSON with every phone-like value and every secret masked, or masked text when
    /// the body was not JSON.
    pub body: Value,
    /// Provider clock minus ours when the answer arrived, in seconds (from `Date`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skew_secs: Option<i64>,
}

/// Collects the answers of one doctor run.
#[derive(Debug, Default)]
pub struct Recorder {
    /// Values that must never be recorded (the accounts' secrets and ids of credentials).
    secrets: Vec<String>,
    /// Identifiers from the files (task ids, account ids) kept as they are where a value is
    /// exactly one of them: a replay must find its task again, and they are not personal data.
    identifiers: Vec<String>,
    answers: Mutex<Vec<RecordedAnswer>>,
}

impl Recorder {
    pub fn new(secrets: Vec<String>, identifiers: Vec<String>) -> Self {
        Self {
            // Short values would mask ordinary words; credentials are never that short.
            secrets: secrets.into_iter().filter(|s| s.len() >= 6).collect(),
            identifiers,
            answers: Mutex::new(Vec::new()),
        }
    }

    /// The answers so far, in arrival order.
    pub fn answers(&self) -> Vec<RecordedAnswer> {
        self.lock().clone()
    }

    /// Number of answers so far (a mark to take the answers of one check).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The answers from `mark` on.
    pub fn since(&self, mark: usize) -> Vec<RecordedAnswer> {
        self.lock()
            .get(mark..)
            .map(<[_]>::to_vec)
            .unwrap_or_default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<RecordedAnswer>> {
        self.answers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn mask_text(&self, text: &str) -> String {
        if self.identifiers.iter().any(|id| id == text) && !self.secrets.iter().any(|s| s == text) {
            return text.to_owned();
        }
        let mut masked = text.to_owned();
        for secret in &self.secrets {
            masked = masked.replace(secret.as_str(), "<secret>");
        }
        sanitize(&masked)
    }

    /// Masks every string and every long number of a JSON value. A number of 7 or more digits
    /// may be a phone: it becomes a masked string (its type changes; a replay that needs the
    /// number fails closed, which is what a contract fixture should show).
    fn mask_json(&self, value: Value) -> Value {
        match value {
            Value::String(s) => Value::String(self.mask_text(&s)),
            Value::Number(n) => {
                let text = n.to_string();
                if text.chars().filter(char::is_ascii_digit).count() >= 7 {
                    Value::String(self.mask_text(&text))
                } else {
                    Value::Number(n)
                }
            }
            Value::Array(items) => {
                Value::Array(items.into_iter().map(|v| self.mask_json(v)).collect())
            }
            Value::Object(map) => Value::Object(
                map.into_iter()
                    .map(|(k, v)| (self.mask_text(&k), self.mask_json(v)))
                    .collect(),
            ),
            other => other,
        }
    }
}

impl AnswerObserver for Recorder {
    fn answer(&self, answer: &ObservedAnswer<'_>) {
        let body = match serde_json::from_slice::<Value>(answer.body) {
            Ok(json) => self.mask_json(json),
            Err(_) => Value::String(self.mask_text(&String::from_utf8_lossy(answer.body))),
        };
        let header = |name| {
            answer
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let skew_secs = header(DATE)
            .and_then(|date| DateTime::parse_from_rfc2822(&date).ok())
            .map(|date| (date.with_timezone(&Utc) - Utc::now()).num_seconds());
        let recorded = RecordedAnswer {
            op: answer.op.to_owned(),
            path: self.mask_text(answer.path),
            status: answer.status.as_u16(),
            content_type: header(CONTENT_TYPE),
            body,
            skew_secs,
        };
        self.lock().push(recorded);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_and_secrets_never_reach_a_recording() {
        let recorder = Recorder::new(
            vec!["s3cret-token-value".into(), "ab".into()],
            vec!["EXT-TASK-202612010001".into()],
        );
        let body = serde_json::json!({
            "taskId": "EXT-TASK-202612010001",
            "data": [{"number": "13012121211", "name": "ab"}, {"phone": 8613012121211u64}],
            "note": "token s3cret-token-value refused",
            "total": 2,
        });
        let masked = recorder.mask_json(body);
        let text = masked.to_string();
        assert!(!text.contains("13012121211"), "{text}");
        assert!(!text.contains("s3cret-token-value"), "{text}");
        assert_eq!(masked["total"], 2, "small numbers stay numbers");
        assert_eq!(
            masked["data"][0]["name"], "ab",
            "short values are not secrets"
        );
        assert_eq!(masked["data"][0]["number"], "130****1211");
        assert_eq!(
            masked["taskId"], "EXT-TASK-202612010001",
            "the files' task ids stay"
        );
    }
}

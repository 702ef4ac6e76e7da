//! Provider errors and their two classes.
//!
//! Every failure of a provider request is either **retryable** (the same request may succeed
//! later: timeouts, connection errors, 5xx, 429, "system busy") or **terminal** (nothing changes
//! until a person changes something: credentials, signatures, a running task, a malformed
//! request). Per-item rejections (invalid number, duplicate, not deletable) are not errors at all:
//! they are [`ItemResult::Rejected`](super::ItemResult) in a [`BatchOutcome`](super::BatchOutcome).
//!
//! Messages never contain a secret or a full phone number: provider messages are passed through
//! [`sanitize`] before they are stored.
use std::time::Duration;

use crate::contacts::mask_phone;

/// Whether retrying the same request can help.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Transient: retry with backoff.
    Retryable,
    /// Needs a change (credentials, configuration, task state): do not retry the same request.
    Terminal,
}

/// A provider request that failed as a whole.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// Connection refused, reset or closed without an answer (also after a commit).
    #[error("cannot reach {endpoint}: {detail}")]
    Unreachable { endpoint: String, detail: String },
    /// No answer within the per-request timeout.
    #[error("no answer from {endpoint} within {timeout:?}")]
    Timeout { endpoint: String, timeout: Duration },
    /// HTTP 5xx.
    #[error("{endpoint} answered HTTP {status}")]
    ServerError { endpoint: String, status: u16 },
    /// HTTP 429 (or a provider's own "too many requests").
    #[error("rate limited by the provider (retry after {retry_after:?})")]
    RateLimited { retry_after: Option<Duration> },
    /// The provider says it is busy or in maintenance (Callbot 5/5001/7, longlonglong busy).
    #[error("provider busy (code {code}): {message}")]
    Busy { code: i64, message: String },
    /// Callbot 1001: a batch import is running on the task; imports and exports wait.
    #[error("a batch import is still running on the task (code {code}): {message}")]
    ImportRunning { code: i64, message: String },
    /// The provider refused the credentials (HTTP 401/403, Callbot 6002/6003, NXLink 1005).
    #[error("credentials rejected (code {code}): {message}")]
    CredentialsRejected { code: i64, message: String },
    /// The provider refused the request signature (Callbot 6/6001, NXLink 1001/1003).
    #[error("request signature rejected (code {code}): {message}")]
    SignatureRejected { code: i64, message: String },
    /// NXLink 1004: the timestamp is outside the accepted window; the node clock is off.
    #[error("request timestamp rejected, check the node clock (code {code}): {message}")]
    ClockSkew { code: i64, message: String },
    /// Callbot 4001: too many items in one request; lower `maxBatchSize`.
    #[error("batch too large for the provider (code {code}): {message}; lower spec.maxBatchSize")]
    BatchTooLarge { code: i64, message: String },
    /// The provider refused the request as malformed or invalid (Callbot 1/2/3/4, NXLink 1002,
    /// any other documented or unknown error code).
    #[error("request refused by the provider (code {code}): {message}")]
    Rejected { code: i64, message: String },
    /// longlonglong 6007: a started 2.0 task refuses number changes.
    #[error(
        "task {task} is running; pause it or set spec.longlonglong.pauseTaskDuringSync (code 6007)"
    )]
    TaskRunning { task: String },
    /// The task was paused for a change and could not be started again. Loud on purpose: a
    /// campaign is not dialling because of callsync.
    #[error(
        "task {task} was paused by callsync for a change and could NOT be resumed: {detail}; \
         start it in the provider console"
    )]
    ResumeFailed { task: String, detail: String },
    /// The provider does not know the task.
    #[error("task {task} not found at the provider: {message}")]
    TaskNotFound { task: String, message: String },
    /// The Secret or one of its keys is missing or empty.
    #[error("Secret {secret} has no usable key {key}")]
    CredentialsMissing { secret: String, key: String },
    /// The Secret exists but is not labelled for use as credentials (see
    /// [`crate::api::SecretUse`]): nothing is sent until someone who may write Secrets labels it.
    #[error(transparent)]
    SecretNotOptedIn(Box<crate::api::SecretNotOptedIn>),
    /// The Secret could not be read right now (API server unreachable, …).
    #[error("cannot read Secret {secret}: {detail}")]
    CredentialsUnavailable { secret: String, detail: String },
    /// The provider answered something this client cannot read.
    #[error("unexpected answer from {endpoint}: {detail}")]
    InvalidResponse { endpoint: String, detail: String },
    /// The CallProvider or its credentials do not fit the provider (wrong kind, bad URL).
    #[error("invalid provider configuration: {0}")]
    Config(String),
}

impl ProviderError {
    /// Retryable or terminal.
    pub fn class(&self) -> ErrorClass {
        match self {
            Self::Unreachable { .. }
            | Self::Timeout { .. }
            | Self::ServerError { .. }
            | Self::RateLimited { .. }
            | Self::Busy { .. }
            | Self::ImportRunning { .. }
            | Self::CredentialsUnavailable { .. }
            | Self::InvalidResponse { .. } => ErrorClass::Retryable,
            Self::CredentialsRejected { .. }
            | Self::SignatureRejected { .. }
            | Self::ClockSkew { .. }
            | Self::BatchTooLarge { .. }
            | Self::Rejected { .. }
            | Self::TaskRunning { .. }
            | Self::ResumeFailed { .. }
            | Self::TaskNotFound { .. }
            | Self::CredentialsMissing { .. }
            | Self::SecretNotOptedIn(_)
            | Self::Config(_) => ErrorClass::Terminal,
        }
    }

    /// True for [`ErrorClass::Retryable`].
    pub fn is_retryable(&self) -> bool {
        self.class() == ErrorClass::Retryable
    }

    /// A stable CamelCase word for metric labels, condition reasons and Event reasons.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Unreachable { .. } => "ProviderUnreachable",
            Self::Timeout { .. } => "ProviderTimeout",
            Self::ServerError { .. } => "ProviderServerError",
            Self::RateLimited { .. } => "RateLimited",
            Self::Busy { .. } => "ProviderBusy",
            Self::ImportRunning { .. } => "ImportRunning",
            Self::CredentialsRejected { .. } => "CredentialsRejected",
            Self::SignatureRejected { .. } => "SignatureRejected",
            Self::ClockSkew { .. } => "ClockSkew",
            Self::BatchTooLarge { .. } => "BatchTooLarge",
            Self::Rejected { .. } => "RequestRejected",
            Self::TaskRunning { .. } => "TaskRunning",
            Self::ResumeFailed { .. } => "TaskLeftPaused",
            Self::TaskNotFound { .. } => "TaskNotFound",
            Self::CredentialsMissing { .. } => "CredentialsMissing",
            Self::SecretNotOptedIn(_) => "SecretNotOptedIn",
            Self::CredentialsUnavailable { .. } => "CredentialsUnavailable",
            Self::InvalidResponse { .. } => "InvalidResponse",
            Self::Config(_) => "InvalidProviderConfig",
        }
    }

    /// How long the provider asked to wait before the next request, if it said.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after } => *retry_after,
            _ => None,
        }
    }
}

/// An ASCII or full-width decimal digit, as its ASCII form.
fn digit(c: char) -> Option<char> {
    match c {
        '0'..='9' => Some(c),
        '０'..='９' => char::from_u32(u32::from(b'0') + (c as u32 - '０' as u32)),
        _ => None,
    }
}

/// Characters people and systems write inside a phone number: spaces, dashes, dots, slashes
/// and parentheses, in their ASCII and full-width forms.
fn phone_separator(c: char) -> bool {
    matches!(
        c,
        ' ' | '\u{a0}'
            | '\u{3000}'
            | '-'
            | '－'
            | '‐'
            | '–'
            | '.'
            | '．'
            | '/'
            | '('
            | ')'
            | '（'
            | '）'
    )
}

/// Most separator characters in a row inside one number (`") "` in `(130) 1212`).
const MAX_SEPARATOR_RUN: usize = 2;

/// Makes a provider message safe to store: every phone number in it is masked by the one rule,
/// [`mask_phone`], whichever way it is written — a run of 7 or more digits, ASCII or full-width
/// (`１３０…`), with spaces, dashes, dots or parentheses between them (`130 1212 1211`,
/// `+86 (130) 1212-1211`) — and the message is cut to 300 characters.
pub fn sanitize(message: &str) -> String {
    let chars: Vec<char> = message.chars().collect();
    let mut out = String::with_capacity(message.len());
    let mut i = 0;
    while i < chars.len() {
        let plus = matches!(chars[i], '+' | '＋');
        let first = if plus { i + 1 } else { i };
        if chars.get(first).and_then(|&c| digit(c)).is_none() {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        // The run: digits, and short runs of separators that are followed by a digit.
        let mut digits = String::new();
        let mut end = first;
        let mut j = first;
        while j < chars.len() {
            if let Some(d) = digit(chars[j]) {
                digits.push(d);
                j += 1;
                end = j;
                continue;
            }
            let gap = chars[j..]
                .iter()
                .take_while(|&&c| phone_separator(c))
                .count();
            if gap == 0 || gap > MAX_SEPARATOR_RUN {
                break;
            }
            if chars.get(j + gap).and_then(|&c| digit(c)).is_none() {
                break;
            }
            j += gap;
        }
        if digits.len() >= 7 {
            let number = if plus { format!("+{digits}") } else { digits };
            out.push_str(&mask_phone(&number));
        } else {
            out.extend(&chars[i..end]);
        }
        i = end;
    }
    if out.chars().count() > 300 {
        out = out.chars().take(300).collect::<String>() + "…";
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitizes_messages() {
        assert_eq!(
            sanitize("phone 8613012121211 is invalid, code 4001"),
            "phone 861******1211 is invalid, code 4001"
        );
        assert_eq!(sanitize("号码13012121211重复"), "号码130****1211重复");
        assert_eq!(sanitize("x+8613012121211"), "x+861******1211");
    }

    /// Numbers written with separators or in full-width digits used to reach status and Events
    /// whole: only runs of 7+ ASCII digits were masked.
    #[test]
    fn sanitizes_phones_written_with_separators_or_full_width_digits() {
        for (message, want) in [
            ("number 130 1212 1211 refused", "number 130****1211 refused"),
            ("bad +86 (130) 1212-1211.", "bad +861******1211."),
            ("号码１３０１２１２１２１１重复", "号码130****1211重复"),
            ("号码１３０ １２１２ １２１１", "号码130****1211"),
            ("130.1212.1211", "130****1211"),
        ] {
            let got = sanitize(message);
            assert_eq!(got, want, "{message}");
            assert!(!got.contains("1212"), "{got}");
        }
        // Short numbers and numbers apart stay readable.
        assert_eq!(sanitize("code 4001, 20 items"), "code 4001, 20 items");
        assert_eq!(sanitize("list[3]: id 12"), "list[3]: id 12");
    }

    #[test]
    fn classes_and_reasons() {
        let running = ProviderError::TaskRunning { task: "t".into() };
        assert_eq!(running.class(), ErrorClass::Terminal);
        assert_eq!(running.reason(), "TaskRunning");
        assert!(running.to_string().contains("pauseTaskDuringSync"));
        let busy = ProviderError::Busy {
            code: 7,
            message: "busy".into(),
        };
        assert!(busy.is_retryable());
    }
}

//! What a provider client is built with besides its CallProvider spec: [`ClientSettings`] and the
//! batch-size [`limit`]. The clients take these from here rather than from the factory, which
//! builds the clients: so the dependency runs one way, factory → clients → settings.
use std::time::Duration;

use super::SharedPauseJournal;
use super::http::{RetryPolicy, SharedObserver, SharedRequestMetrics};

/// Knobs that are not in the CallProvider spec. The defaults are for production; tests shorten
/// them.
#[derive(Debug, Clone)]
pub struct ClientSettings {
    /// Retries of retryable failures.
    pub retry: RetryPolicy,
    /// longlonglong async adds: how long to wait for the batch result before answering
    /// `Unknown` for its items.
    pub async_confirm_timeout: Duration,
    /// longlonglong async adds: first wait between result lookups (doubles, up to 2 s).
    pub async_poll_interval: Duration,
    /// longlonglong pause → change → resume: resume rounds (each with the transport's retries)
    /// before the task is reported as left paused.
    pub resume_rounds: u32,
    /// HTTP client; `None` = the process-wide shared one.
    pub http: Option<reqwest::Client>,
    /// Endpoints a CallProvider may use (`https://api-hk.nxlink.ai`, `https://gw.example.com/v2`):
    /// an endpoint must have the scheme, host and port of one of them and a path under its
    /// path. Empty = any endpoint. The chart's `providerEndpoints`.
    pub allowed_endpoints: Vec<String>,
    /// Sees every answer (`callsync doctor`); `None` in production.
    pub observer: Option<SharedObserver>,
    /// Where a longlonglong pause is recorded before it is made (`pause_journal`); `None`: no
    /// durable record, pauses are made anyway (a run whose provider state is not kept).
    pub pause_journal: Option<SharedPauseJournal>,
    /// Counts each HTTP attempt and rate-limiter wait (the controller's metrics); `None` in the
    /// CLI.
    pub metrics: Option<SharedRequestMetrics>,
}

impl Default for ClientSettings {
    fn default() -> Self {
        Self {
            retry: RetryPolicy::default(),
            async_confirm_timeout: Duration::from_secs(20),
            async_poll_interval: Duration::from_millis(250),
            resume_rounds: 3,
            http: None,
            allowed_endpoints: Vec::new(),
            observer: None,
            pause_journal: None,
            metrics: None,
        }
    }
}

/// `min(documented, override)`.
pub(crate) fn limit(documented: usize, override_: Option<usize>) -> usize {
    override_.map_or(documented, |o| o.min(documented)).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_is_the_documented_one_or_a_smaller_override_and_never_zero() {
        assert_eq!(limit(500, None), 500);
        assert_eq!(limit(500, Some(100)), 100);
        assert_eq!(limit(500, Some(1000)), 500);
        assert_eq!(limit(500, Some(0)), 1);
        assert_eq!(limit(0, None), 1);
    }
}

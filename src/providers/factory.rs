//! Building a provider client from a CallProvider spec.
use std::time::Duration;

use super::callbot::CallbotClient;
use super::http::{RetryPolicy, SharedObserver, Transport, shared_client};
use super::longlonglong::LonglonglongClient;
use super::nxlink::NxlinkClient;
use super::ratelimit::{AccountKey, RateLimiters};
use super::{AnyProvider, ProviderError, SharedCredentials};
use crate::api::{CallProviderSpec, LonglonglongTaskOptions};

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
    /// Sees every answer (`callsync doctor`); `None` in production.
    pub observer: Option<SharedObserver>,
}

impl Default for ClientSettings {
    fn default() -> Self {
        Self {
            retry: RetryPolicy::default(),
            async_confirm_timeout: Duration::from_secs(20),
            async_poll_interval: Duration::from_millis(250),
            resume_rounds: 3,
            http: None,
            observer: None,
        }
    }
}

/// The client for one CallTask on one CallProvider account. Every client of `account` gets the
/// same rate limiter from `limiters`; credentials are read from `credentials` at every operation.
/// `task_options` are the CallTask's longlonglong options (ignored by the other providers).
pub fn build_provider(
    account: &AccountKey,
    spec: &CallProviderSpec,
    task_options: Option<&LonglonglongTaskOptions>,
    credentials: SharedCredentials,
    limiters: &RateLimiters,
) -> Result<AnyProvider, ProviderError> {
    build_provider_with(
        account,
        spec,
        task_options,
        credentials,
        limiters,
        &ClientSettings::default(),
    )
}

/// [`build_provider`] with explicit [`ClientSettings`].
pub fn build_provider_with(
    account: &AccountKey,
    spec: &CallProviderSpec,
    task_options: Option<&LonglonglongTaskOptions>,
    credentials: SharedCredentials,
    limiters: &RateLimiters,
    settings: &ClientSettings,
) -> Result<AnyProvider, ProviderError> {
    let http = match &settings.http {
        Some(client) => client.clone(),
        None => shared_client()?,
    };
    let limiter = limiters.get(account, spec.rate_limit.as_ref());
    let timeout =
        Duration::from_secs(u64::try_from(spec.timeout_seconds.clamp(1, 300)).unwrap_or(30));
    let transport = |endpoint: &str| {
        Transport::new(
            http.clone(),
            endpoint,
            limiter.clone(),
            timeout,
            settings.retry.clone(),
        )
        .map(|t| t.with_observer(settings.observer.clone()))
    };
    let overrides = spec.max_batch_size.as_ref();
    let add_override = overrides.and_then(|o| o.add).and_then(positive);
    let remove_override = overrides.and_then(|o| o.remove).and_then(positive);
    match (&spec.longlonglong, &spec.callbot, &spec.nxlink) {
        (Some(account), None, None) => Ok(AnyProvider::Longlonglong(LonglonglongClient::new(
            transport(&account.endpoint)?,
            credentials,
            account,
            task_options.cloned(),
            add_override,
            remove_override,
            settings,
        ))),
        (None, Some(account), None) => Ok(AnyProvider::Callbot(CallbotClient::new(
            transport(&account.endpoint)?,
            credentials,
            account,
            add_override,
            remove_override,
        ))),
        (None, None, Some(account)) => {
            let endpoint = match (&account.endpoint, account.region) {
                (Some(endpoint), _) => endpoint.clone(),
                (None, Some(region)) => region.endpoint().to_owned(),
                (None, None) => {
                    return Err(ProviderError::Config(
                        "nxlink: set region (HK, AMER or IDN) or endpoint".into(),
                    ));
                }
            };
            Ok(AnyProvider::Nxlink(NxlinkClient::new(
                transport(&endpoint)?,
                credentials,
                account,
                add_override,
            )))
        }
        _ => Err(ProviderError::Config(
            "exactly one of longlonglong, callbot or nxlink must be set".into(),
        )),
    }
}

fn positive(n: i32) -> Option<usize> {
    usize::try_from(n).ok().filter(|n| *n > 0)
}

/// `min(documented, override)`.
pub(crate) fn limit(documented: usize, override_: Option<usize>) -> usize {
    override_.map_or(documented, |o| o.min(documented)).max(1)
}

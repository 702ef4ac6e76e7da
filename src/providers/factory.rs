//! Building a provider client from a CallProvider spec. The factory knows the three clients;
//! what the clients take besides the spec (their settings, the batch-size limit) lives in
//! [`super::settings`], so no client depends on the factory. `ClientSettings` is re-exported
//! here for paths written before it moved.
use std::time::Duration;

use super::callbot::CallbotClient;
use super::http::{Transport, shared_client};
use super::longlonglong::LonglonglongClient;
use super::nxlink::NxlinkClient;
use super::ratelimit::{AccountKey, RateLimiters};
pub use super::settings::ClientSettings;
use super::{AnyProvider, ProviderError, SharedCredentials};
use crate::api::{CallProviderSpec, LonglonglongTaskOptions};

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
        refuse_plain_http(endpoint, spec.insecure)?;
        refuse_unlisted(endpoint, &settings.allowed_endpoints)?;
        Transport::new(
            http.clone(),
            endpoint,
            limiter.clone(),
            timeout,
            settings.retry.clone(),
        )
        .map(|t| {
            t.with_observer(settings.observer.clone())
                .with_metrics(settings.metrics.clone(), account)
        })
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
        (None, Some(account), None) => {
            // Objects created before the CRD refused other formats reach here.
            if let Some(problem) = account.phone_format_problem() {
                return Err(ProviderError::Config(problem.into()));
            }
            Ok(AnyProvider::Callbot(CallbotClient::new(
                transport(&account.endpoint)?,
                credentials,
                account,
                add_override,
                remove_override,
            )))
        }
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

/// Over plain http the token (or the signing headers) and the phone numbers travel in clear
/// and anyone on the path can read or redirect them: refused unless the CallProvider says
/// `insecure: true` (the simulator on loopback). A URL that does not parse is left to
/// [`Transport::new`], which names the problem.
pub fn refuse_plain_http(endpoint: &str, insecure: bool) -> Result<(), ProviderError> {
    let plain = reqwest::Url::parse(endpoint).is_ok_and(|url| url.scheme() == "http");
    if plain && !insecure {
        return Err(ProviderError::Config(format!(
            "endpoint {endpoint} is plain http: credentials and phone numbers would cross the \
             network unencrypted; use https, or set spec.insecure: true on the CallProvider \
             (for a simulator or test endpoint only)"
        )));
    }
    Ok(())
}

/// Whether `endpoint` is `allowed` or below it: same scheme, host and port, and a path equal to
/// the allowed one or under it at a `/` (so `https://api.example.com` does not admit
/// `https://api.example.com.evil.net`, nor `/v2` admit `/v2-other`).
fn endpoint_within(endpoint: &reqwest::Url, allowed: &str) -> bool {
    let Ok(allowed) = reqwest::Url::parse(allowed) else {
        return false;
    };
    let path = endpoint.path().trim_end_matches('/');
    let base = allowed.path().trim_end_matches('/');
    endpoint.scheme() == allowed.scheme()
        && endpoint.host_str() == allowed.host_str()
        && endpoint.port_or_known_default() == allowed.port_or_known_default()
        && endpoint.username().is_empty()
        && (path == base || path.starts_with(&format!("{base}/")))
}

/// With an allow-list (the chart's `providerEndpoints`), an endpoint outside it is refused
/// before credentials are read: a CallProvider cannot send them to a host the operator of the
/// controller did not list.
fn refuse_unlisted(endpoint: &str, allowed: &[String]) -> Result<(), ProviderError> {
    if allowed.is_empty() {
        return Ok(());
    }
    let Ok(url) = reqwest::Url::parse(endpoint) else {
        // Transport::new names the problem.
        return Ok(());
    };
    if allowed.iter().any(|a| endpoint_within(&url, a)) {
        return Ok(());
    }
    Err(ProviderError::Config(format!(
        "endpoint {endpoint} is not among the endpoints this controller allows ({}); ask its \
         operator to add it to the chart's providerEndpoints",
        allowed.join(", ")
    )))
}

fn positive(n: i32) -> Option<usize> {
    usize::try_from(n).ok().filter(|n| *n > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_needs_insecure_and_https_never_does() {
        let err = refuse_plain_http("http://127.0.0.1:8089", false).expect_err("plain http");
        let message = err.to_string();
        assert!(message.contains("insecure: true"), "{message}");
        assert!(message.contains("http://127.0.0.1:8089"), "{message}");
        refuse_plain_http("http://127.0.0.1:8089", true).expect("opted in");
        refuse_plain_http("https://ai.api.longlonglong.cn", false).expect("https");
        // Left to Transport::new, which says what is wrong with it.
        refuse_plain_http("not a url", false).expect("not judged here");
    }

    #[test]
    fn an_allow_list_admits_its_endpoints_and_paths_below_them_only() {
        let allowed = vec![
            "https://api-hk.nxlink.ai".to_owned(),
            "https://gw.example.com/v2/".to_owned(),
        ];
        for ok in [
            "https://api-hk.nxlink.ai",
            "https://api-hk.nxlink.ai/",
            "https://api-hk.nxlink.ai:443/x",
            "https://gw.example.com/v2",
            "https://gw.example.com/v2/agent",
        ] {
            refuse_unlisted(ok, &allowed).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        for refused in [
            "https://api-hk.nxlink.ai.evil.net",
            "http://api-hk.nxlink.ai",
            "https://api-hk.nxlink.ai:8443",
            "https://user@api-hk.nxlink.ai",
            "https://gw.example.com/v2-other",
            "https://gw.example.com/",
            "https://evil.net/https://api-hk.nxlink.ai",
        ] {
            let err = refuse_unlisted(refused, &allowed).expect_err(refused);
            assert!(err.to_string().contains("providerEndpoints"), "{err}");
        }
        refuse_unlisted("https://anything.example", &[]).expect("no list: any endpoint");
    }
}

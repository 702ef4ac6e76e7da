//! The one way provider clients talk HTTP: a shared connection pool, a per-request timeout, the
//! account's rate limiter before every attempt, and retries with exponential backoff and
//! jitter for retryable errors only, honouring `Retry-After`.
//!
//! Requests are rebuilt for every attempt (signatures carry a timestamp and a request id), from
//! the same body bytes: the body that is signed is the body that is sent, and a retry sends the
//! same caller-chosen ids, so a retry after a lost answer is recognised by the provider.
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use rand::Rng;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{RequestBuilder, StatusCode};

use super::ProviderError;
use super::ratelimit::{AccountKey, Limiter};

/// When and how often a retryable failure is retried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in total, the first one included, for failures (timeouts, connection errors,
    /// 5xx); answers that only say "too many requests" / "busy" may take three times as many.
    pub max_attempts: u32,
    /// Backoff ceiling of the first retry; doubles with every retry.
    pub initial_backoff: Duration,
    /// Backoff ceiling.
    pub max_backoff: Duration,
    /// The longest `Retry-After` honoured; a longer one is cut to this.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(8),
            max_retry_after: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// The wait before retry number `retry` (1-based): "equal jitter" over
    /// `exp = min(max_backoff, initial × 2^(retry-1))`, i.e. `exp/2 + random(0..=exp/2)` (never
    /// near zero, so a busy provider is not hammered, yet spread out), and never less than the
    /// provider's `Retry-After` (capped at `max_retry_after`).
    pub fn delay(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        let exp = self
            .initial_backoff
            .saturating_mul(2u32.saturating_pow(retry.saturating_sub(1)))
            .min(self.max_backoff);
        let half = u64::try_from(exp.as_millis() / 2).unwrap_or(u64::MAX / 2);
        let jittered = Duration::from_millis(half + rand::rng().random_range(0..=half));
        match retry_after {
            Some(after) => jittered.max(after.min(self.max_retry_after)),
            None => jittered,
        }
    }
}

/// An answer that passed the transport checks (not 429, not 5xx).
#[derive(Debug)]
pub struct Response {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

/// A parsed answer, the attempts it took, and whether an earlier attempt may have been applied
/// by the provider although its answer was lost.
#[derive(Debug)]
pub struct Sent<T> {
    pub value: T,
    pub attempts: u32,
    /// An earlier attempt was sent and got no answer (timeout, connection closed): the provider
    /// may have applied it. Errors answered by the provider (5xx, 429, busy) and connections
    /// never made do not count.
    pub in_doubt: bool,
}

/// The most bytes an answer of a provider endpoint may have, counted after decompression.
/// Pages are 100 rows of well under 1 KiB each; 8 MiB leaves room for providers that send
/// more and still bounds what a broken or hostile endpoint can make the controller hold.
pub const DEFAULT_MAX_ANSWER_BYTES: usize = 8 * 1024 * 1024;

/// Per-account HTTP: base URL, timeout, limiter, retry policy, answer size limit.
#[derive(Debug, Clone)]
pub struct Transport {
    client: reqwest::Client,
    base: String,
    limiter: Arc<Limiter>,
    timeout: Duration,
    retry: RetryPolicy,
    max_answer_bytes: usize,
    observer: Option<SharedObserver>,
    /// Where each attempt's duration and rate-limiter wait are counted, for this account.
    metrics: Option<(SharedRequestMetrics, AccountKey)>,
}

/// One answer as the provider sent it, before any client parsed it: what `callsync doctor`
/// inspects and records.
#[derive(Debug)]
pub struct ObservedAnswer<'a> {
    /// The client's name for the endpoint (`number`, `listOrder`, `task/list`…).
    pub op: &'static str,
    /// The URL path that answered (account and task ids, never phones or secrets).
    pub path: &'a str,
    pub status: StatusCode,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
}

/// Sees every answer a [`Transport`] receives (the 5xx and 429 it retries included).
pub trait AnswerObserver: Send + Sync + std::fmt::Debug {
    fn answer(&self, answer: &ObservedAnswer<'_>);
}

/// An observer shared by the clients of one run.
pub type SharedObserver = Arc<dyn AnswerObserver>;

/// Counts what a [`Transport`] does for one account: the controller's Prometheus metrics
/// (`callsync_provider_request_duration_seconds`, `callsync_provider_ratelimit_wait_seconds`).
pub trait RequestMetrics: Send + Sync + std::fmt::Debug {
    /// One attempt waited `waited` for the account's rate limiter (and its back-off).
    fn limiter_wait(&self, account: &AccountKey, waited: Duration);
    /// One attempt at `endpoint` (the client's name for it) took `took` and ended in `outcome`
    /// (`ok` or the error's reason).
    fn attempt(
        &self,
        account: &AccountKey,
        endpoint: &'static str,
        outcome: &'static str,
        took: Duration,
    );
}

/// Request metrics shared by the clients of one run.
pub type SharedRequestMetrics = Arc<dyn RequestMetrics>;

static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();

/// The process-wide HTTP client: one connection pool for every provider client (reqwest keys
/// its pool by host, so accounts on one host reuse connections).
pub fn shared_client() -> Result<reqwest::Client, ProviderError> {
    if let Some(client) = CLIENT.get() {
        return Ok(client.clone());
    }
    // kube and reqwest both use rustls with ring; install it once (an error = already installed).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .user_agent(concat!("callsync/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(10))
        .pool_idle_timeout(Duration::from_secs(60))
        // Never follow a redirect: a 307/308 would resend the signing headers and the body
        // (phone numbers) to wherever the endpoint points, defeating the endpoint checks. A
        // redirect answer is an unexpected status, reported with the endpoint.
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| ProviderError::Config(format!("cannot build the HTTP client: {e}")))?;
    Ok(CLIENT.get_or_init(|| client).clone())
}

impl Transport {
    pub fn new(
        client: reqwest::Client,
        base: &str,
        limiter: Arc<Limiter>,
        timeout: Duration,
        retry: RetryPolicy,
    ) -> Result<Self, ProviderError> {
        let parsed = reqwest::Url::parse(base)
            .map_err(|e| ProviderError::Config(format!("endpoint {base:?} is not a URL: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(ProviderError::Config(format!(
                "endpoint {base:?} must be http or https"
            )));
        }
        Ok(Self {
            client,
            base: base.trim_end_matches('/').to_owned(),
            limiter,
            timeout,
            retry,
            max_answer_bytes: DEFAULT_MAX_ANSWER_BYTES,
            observer: None,
            metrics: None,
        })
    }

    /// Counts every attempt of this account's client in `metrics` (the controller's).
    pub fn with_metrics(
        mut self,
        metrics: Option<SharedRequestMetrics>,
        account: &AccountKey,
    ) -> Self {
        self.metrics = metrics.map(|m| (m, account.clone()));
        self
    }

    /// Shows every answer to `observer` (`callsync doctor`); production clients have none.
    pub fn with_observer(mut self, observer: Option<SharedObserver>) -> Self {
        self.observer = observer;
        self
    }

    /// Another limit on the answers of this endpoint (see [`DEFAULT_MAX_ANSWER_BYTES`]).
    pub fn with_max_answer_bytes(mut self, max_answer_bytes: usize) -> Self {
        self.max_answer_bytes = max_answer_bytes;
        self
    }

    /// `base + path` (`path` starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn endpoint(&self) -> &str {
        &self.base
    }

    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.retry
    }

    /// Sends a request built by `build` (called once per attempt), retrying retryable failures;
    /// `parse` turns an answer into a value or an error, and a retryable error from `parse` is
    /// retried too. `op` names the endpoint in logs.
    pub async fn execute<T>(
        &self,
        op: &'static str,
        mut build: impl FnMut(&reqwest::Client) -> Result<RequestBuilder, ProviderError>,
        mut parse: impl FnMut(Response) -> Result<T, ProviderError>,
    ) -> Result<Sent<T>, ProviderError> {
        let mut attempt = 0;
        // Answers that only say "too fast" (429, busy) have a budget of their own: the
        // provider asks to wait, which is no sign that the request is bad.
        let mut failures = 0;
        let mut throttled = 0;
        let mut in_doubt = false;
        loop {
            attempt += 1;
            let waiting = std::time::Instant::now();
            self.limiter.acquire().await;
            let sent = std::time::Instant::now();
            if let Some((metrics, account)) = &self.metrics {
                metrics.limiter_wait(account, sent - waiting);
            }
            let request = build(&self.client)?.timeout(self.timeout);
            let result = match self.send(op, request).await {
                Ok(response) => parse(response),
                Err((err, doubt)) => {
                    in_doubt |= doubt;
                    Err(err)
                }
            };
            if let Some((metrics, account)) = &self.metrics {
                let outcome = result.as_ref().map_or_else(ProviderError::reason, |_| "ok");
                metrics.attempt(account, op, outcome, sent.elapsed());
            }
            let err = match result {
                Ok(value) => {
                    return Ok(Sent {
                        value,
                        attempts: attempt,
                        in_doubt,
                    });
                }
                Err(err) => err,
            };
            let overloaded = matches!(
                err,
                ProviderError::RateLimited { .. } | ProviderError::Busy { .. }
            );
            if overloaded {
                throttled += 1;
            } else {
                failures += 1;
            }
            let budget_left = if overloaded {
                throttled < self.retry.max_attempts.saturating_mul(3)
            } else {
                failures < self.retry.max_attempts
            };
            if !err.is_retryable() || !budget_left {
                tracing::debug!(op, attempt, reason = err.reason(), error = %err, "provider request failed");
                return Err(err);
            }
            let retry = if overloaded { throttled } else { failures };
            let delay = self.retry.delay(retry, err.retry_after());
            if overloaded {
                // The provider is overloaded: the whole account waits, not only this request.
                self.limiter.back_off(delay);
            }
            tracing::debug!(
                op,
                attempt,
                reason = err.reason(),
                delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                error = %err,
                "provider request failed; retrying"
            );
            tokio::time::sleep(delay).await;
        }
    }

    /// Sends one attempt. A transport error comes with "in doubt": the request may have
    /// reached the provider (anything but a failed connect).
    async fn send(
        &self,
        op: &'static str,
        request: RequestBuilder,
    ) -> Result<Response, (ProviderError, bool)> {
        let mut response = request.send().await.map_err(|e| {
            let doubt = !e.is_connect();
            (self.transport_error(e), doubt)
        })?;
        let status = response.status();
        let headers = response.headers().clone();
        let path = response.url().path().to_owned();
        // Status first: a 429 or 5xx is judged without reading (or holding) its body.
        if status == StatusCode::TOO_MANY_REQUESTS {
            let err = ProviderError::RateLimited {
                retry_after: retry_after(&headers),
            };
            return Err((err, false));
        }
        if status.is_server_error() {
            let err = ProviderError::ServerError {
                endpoint: self.base.clone(),
                status: status.as_u16(),
            };
            return Err((err, false));
        }
        let body = self.read_body(op, &mut response).await?;
        if let Some(observer) = &self.observer {
            observer.answer(&ObservedAnswer {
                op,
                path: &path,
                status,
                headers: &headers,
                body: &body,
            });
        }
        Ok(Response {
            status,
            headers,
            body,
        })
    }

    /// Reads an answer's body chunk by chunk, counting the bytes as they arrive — after gzip
    /// decompression, so a small gzip that inflates to gigabytes is cut off at the limit too.
    /// Never holds more than the limit and one chunk. An answer past the limit is lost: the
    /// request may have been applied, so it is in doubt.
    async fn read_body(
        &self,
        op: &'static str,
        response: &mut reqwest::Response,
    ) -> Result<Vec<u8>, (ProviderError, bool)> {
        let limit = self.max_answer_bytes;
        let announced = response.content_length().unwrap_or(0);
        if announced > limit as u64 {
            return Err((self.too_large(op, Some(announced)), true));
        }
        let mut body = Vec::with_capacity(usize::try_from(announced).unwrap_or(0));
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| (self.transport_error(e), true))?
        {
            if body.len() + chunk.len() > limit {
                return Err((self.too_large(op, None), true));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    fn too_large(&self, op: &'static str, announced: Option<u64>) -> ProviderError {
        let size = announced.map_or_else(
            || "more than".to_owned(),
            |n| format!("{n} bytes, more than"),
        );
        ProviderError::InvalidResponse {
            endpoint: self.base.clone(),
            detail: format!(
                "the answer to {op} is {size} the {} bytes allowed (after decompression); \
                 not read",
                self.max_answer_bytes
            ),
        }
    }

    fn transport_error(&self, err: reqwest::Error) -> ProviderError {
        if err.is_timeout() {
            return ProviderError::Timeout {
                endpoint: self.base.clone(),
                timeout: self.timeout,
            };
        }
        // The URL is left out: paths hold account and task ids, which belong in no message.
        // reqwest's Display shows only the top level ("error sending request"): add the causes.
        let err = err.without_url();
        let mut detail = err.to_string();
        let mut source = std::error::Error::source(&err);
        while let Some(inner) = source {
            detail.push_str(": ");
            detail.push_str(&inner.to_string());
            source = inner.source();
        }
        ProviderError::Unreachable {
            endpoint: self.base.clone(),
            detail,
        }
    }
}

/// `Retry-After` as seconds or an HTTP date.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    if let Ok(secs) = value.parse::<f64>()
        && secs.is_finite()
        && secs >= 0.0
    {
        return Some(Duration::from_secs_f64(secs));
    }
    let date = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let wait = date.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(wait.to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use axum::http::StatusCode as AxumStatus;
    use axum::response::IntoResponse;
    use reqwest::header::HeaderValue;

    use super::*;

    /// A server that answers 429 with `Retry-After: 1` once, then 200.
    async fn throttling_server() -> (String, Arc<AtomicU32>) {
        let hits = Arc::new(AtomicU32::new(0));
        let counter = hits.clone();
        let app = axum::Router::new().route(
            "/x",
            axum::routing::get(move || {
                let counter = counter.clone();
                async move {
                    if counter.fetch_add(1, Ordering::SeqCst) == 0 {
                        (
                            AxumStatus::TOO_MANY_REQUESTS,
                            [("retry-after", "1")],
                            "slow down",
                        )
                            .into_response()
                    } else {
                        (AxumStatus::OK, "ok").into_response()
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        (format!("http://{addr}"), hits)
    }

    #[tokio::test]
    async fn honours_retry_after_and_retries_only_retryable_errors() {
        let (base, hits) = throttling_server().await;
        let limiter = Arc::new(Limiter::new(100, 100));
        let policy = RetryPolicy {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(20),
            max_retry_after: Duration::from_secs(5),
        };
        let client = shared_client().expect("client");
        let transport = Transport::new(client, &base, limiter, Duration::from_secs(5), policy)
            .expect("transport");
        let url = transport.url("/x");
        let start = std::time::Instant::now();
        let sent = transport
            .execute("x", |c| Ok(c.get(&url)), |r| Ok(r.status))
            .await
            .expect("second attempt succeeds");
        assert_eq!(sent.attempts, 2);
        assert!(
            start.elapsed() >= Duration::from_secs(1),
            "waited Retry-After"
        );
        assert_eq!(hits.load(Ordering::SeqCst), 2);

        // a terminal error from `parse` is not retried
        let err = transport
            .execute(
                "x",
                |c| Ok(c.get(&url)),
                |_| -> Result<(), ProviderError> {
                    Err(ProviderError::CredentialsRejected {
                        code: 401,
                        message: "no".into(),
                    })
                },
            )
            .await
            .expect_err("terminal");
        assert_eq!(err.reason(), "CredentialsRejected");
        assert_eq!(hits.load(Ordering::SeqCst), 3);
    }

    /// What a transport reported to its [`RequestMetrics`].
    #[derive(Debug, Default)]
    struct Recorded {
        waits: std::sync::Mutex<Vec<(String, Duration)>>,
        attempts: std::sync::Mutex<Vec<(String, &'static str, &'static str)>>,
    }

    impl RequestMetrics for Recorded {
        fn limiter_wait(&self, account: &AccountKey, waited: Duration) {
            self.waits
                .lock()
                .expect("lock")
                .push((account.name.clone(), waited));
        }
        fn attempt(
            &self,
            account: &AccountKey,
            endpoint: &'static str,
            outcome: &'static str,
            _took: Duration,
        ) {
            self.attempts
                .lock()
                .expect("lock")
                .push((account.name.clone(), endpoint, outcome));
        }
    }

    #[tokio::test]
    async fn every_attempt_and_limiter_wait_is_counted_for_its_account() {
        let (base, _) = throttling_server().await;
        let recorded = Arc::new(Recorded::default());
        let policy = RetryPolicy {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(20),
            max_retry_after: Duration::from_secs(5),
        };
        let transport = Transport::new(
            shared_client().expect("client"),
            &base,
            Arc::new(Limiter::new(100, 100)),
            Duration::from_secs(5),
            policy,
        )
        .expect("transport")
        .with_metrics(
            Some(recorded.clone()),
            &AccountKey::new("ns", "acct", "uid"),
        );
        let url = transport.url("/x");
        transport
            .execute("listOrder", |c| Ok(c.get(&url)), |r| Ok(r.status))
            .await
            .expect("second attempt succeeds");
        assert_eq!(
            *recorded.attempts.lock().expect("lock"),
            vec![
                ("acct".to_string(), "listOrder", "RateLimited"),
                ("acct".to_string(), "listOrder", "ok"),
            ]
        );
        let waits = recorded.waits.lock().expect("lock");
        assert_eq!(waits.len(), 2, "one limiter wait per attempt: {waits:?}");
        assert!(waits.iter().all(|(name, _)| name == "acct"));
    }

    /// A misbehaving endpoint: `/small` answers 1 KiB, `/huge` streams 32 MiB without a
    /// length, `/announced` says 32 MiB in Content-Length, `/bomb` sends a 16 KiB gzip that
    /// inflates to 16 MiB.
    async fn oversized_server() -> String {
        use axum::body::Body;
        use std::io::Write;

        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let spaces = vec![b' '; 1 << 20];
        for _ in 0..16 {
            gz.write_all(&spaces).expect("gzip");
        }
        let bomb = gz.finish().expect("gzip");
        assert!(bomb.len() < 64 << 10, "{}", bomb.len());
        let chunks = || {
            futures::stream::iter(
                (0..32)
                    .map(|_| Ok::<_, std::io::Error>(axum::body::Bytes::from(vec![b' '; 1 << 20]))),
            )
        };
        let app = axum::Router::new()
            .route("/small", axum::routing::get(|| async { "x".repeat(1024) }))
            .route(
                "/huge",
                axum::routing::get(move || async move { Body::from_stream(chunks()) }),
            )
            .route(
                "/announced",
                axum::routing::get(|| async { vec![b' '; 32 << 20] }),
            )
            .route(
                "/bomb",
                axum::routing::get(move || {
                    let bomb = bomb.clone();
                    async move { ([("content-encoding", "gzip")], bomb) }
                }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        format!("http://{addr}")
    }

    /// The 1 MB gzip answer took the controller to 3.1 GB: an answer is now cut off at
    /// the endpoint's limit while it is read, after decompression, with an error naming the
    /// endpoint and the operation.
    #[tokio::test]
    async fn answers_past_the_byte_limit_are_refused_while_read() {
        let base = oversized_server().await;
        let policy = RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        };
        let transport = Transport::new(
            shared_client().expect("client"),
            &base,
            Arc::new(Limiter::new(100, 100)),
            Duration::from_secs(10),
            policy,
        )
        .expect("transport")
        .with_max_answer_bytes(1 << 20);
        let get = |path: &str| {
            let url = transport.url(path);
            let transport = &transport;
            async move {
                transport
                    .execute("listOrder", |c| Ok(c.get(&url)), |r| Ok(r.body.len()))
                    .await
            }
        };
        assert_eq!(get("/small").await.expect("small answer").value, 1024);
        for path in ["/huge", "/announced", "/bomb"] {
            let err = get(path).await.expect_err(path);
            let text = err.to_string();
            assert_eq!(err.reason(), "InvalidResponse", "{path}: {text}");
            assert!(text.contains(&base), "{path}: names the endpoint: {text}");
            assert!(
                text.contains("the answer to listOrder is")
                    && text.contains("the 1048576 bytes allowed"),
                "{path}: {text}"
            );
        }
        assert!(
            get("/announced")
                .await
                .expect_err("announced")
                .to_string()
                .contains("33554432 bytes"),
            "a Content-Length past the limit is refused before reading"
        );
    }

    #[test]
    fn backoff_grows_and_honours_retry_after() {
        let policy = RetryPolicy {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(400),
            max_retry_after: Duration::from_secs(2),
        };
        for _ in 0..50 {
            let first = policy.delay(1, None);
            assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100));
            let fifth = policy.delay(5, None);
            assert!(fifth >= Duration::from_millis(200) && fifth <= Duration::from_millis(400));
            let d = policy.delay(1, Some(Duration::from_secs(1)));
            assert!(d >= Duration::from_secs(1));
            let capped = policy.delay(1, Some(Duration::from_secs(60)));
            assert_eq!(capped, Duration::from_secs(2));
        }
    }

    #[test]
    fn parses_retry_after() {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static("3"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(3)));
        headers.insert(RETRY_AFTER, HeaderValue::from_static("0.5"));
        assert_eq!(retry_after(&headers), Some(Duration::from_millis(500)));
        headers.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&headers), Some(Duration::ZERO));
        headers.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&headers), None);
    }
}

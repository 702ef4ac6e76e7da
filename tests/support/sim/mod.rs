//! The simulator of the tests (`callsync::simulator`, in process on 127.0.0.1:0): the accounts'
//! credentials, starting it, provider clients built the way the controller builds them
//! (`build_provider_with`, shared `RateLimiters`), and its admin API (`/_sim/`) to look at what
//! the clients did. [`wire`] talks to it over raw HTTP, signing requests itself.
pub mod wire;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use callsync::api::{
    BatchSizeOverrides, CallProviderSpec, CallbotAccount, LocalObjectRef, LonglonglongAccount,
    LonglonglongTaskOptions, NxlinkAccount, PhoneFormat, RateLimit, SecretKeyRef,
    SignatureAlgorithm,
};
use callsync::providers::factory::build_provider_with;
use callsync::providers::{
    AccountKey, AnyProvider, ClientSettings, ContactToAdd, Credentials, RateLimiters, RetryPolicy,
    SecretString, StaticCredentials,
};
use callsync::simulator::{
    AccountConfig, ProviderKind, RunningSimulator, Simulator, SimulatorConfig, TaskConfig,
};
use serde_json::{Value, json};

/// The longlonglong account (user id and token) of every test.
pub const LLL_USER: &str = "user-1";
pub const LLL_TOKEN: &str = "token-1";
/// The Callbot and NXLink accounts of the controller, CLI and provider-client tests.
pub const CB_UUID: &str = "cb-uuid-1";
pub const CB_SECRET: &str = "cb-secret-1";
pub const NX_KEY: &str = "AK-1";
pub const NX_SECRET: &str = "nx-secret-1";
/// The Callbot and NXLink credentials of the providers' docs (their worked signing examples,
/// `docs/simulator.example.yaml`): the accounts of [`wire::config`].
pub const DOCS_CB_UUID: &str = "Vh71ym3yQwWSYZFpqkFwTskGXUbSxDtR";
pub const DOCS_CB_SECRET: &str = "u7Mf3zUNOkg4lMV9a0E6cHSgIkK22GSr";
pub const DOCS_NX_KEY: &str = "AK-6230339248928541113-2133";
pub const DOCS_NX_SECRET: &str = "EXAMPLESECRET";

/// Every test body runs under this bound.
pub const TEST_BOUND: Duration = Duration::from_secs(60);

pub async fn bounded<F: Future<Output = ()>>(body: F) {
    if tokio::time::timeout(TEST_BOUND, body).await.is_err() {
        panic!("test exceeded {TEST_BOUND:?}");
    }
}

pub fn account(
    provider: ProviderKind,
    id: &str,
    secret: &str,
    tasks: Vec<TaskConfig>,
) -> AccountConfig {
    AccountConfig {
        provider,
        id: id.into(),
        secret: secret.into(),
        rate_limit: None,
        faults: None,
        variants: Default::default(),
        tasks,
    }
}

/// A simulator with `accounts`, seed 7 and async batches confirmed after 100 ms.
pub async fn start(accounts: Vec<AccountConfig>) -> RunningSimulator {
    start_config(SimulatorConfig {
        seed: 7,
        async_delay_ms: 100,
        accounts,
        ..SimulatorConfig::default()
    })
    .await
}

/// A simulator with `config`.
pub async fn start_config(config: SimulatorConfig) -> RunningSimulator {
    match Simulator::start(config).await {
        Ok(sim) => sim,
        Err(err) => panic!("simulator must start: {err}"),
    }
}

/// Short retries so fault tests stay fast; enough attempts that a 50 % fault rate passes.
pub fn settings() -> ClientSettings {
    ClientSettings {
        retry: RetryPolicy {
            max_attempts: 10,
            initial_backoff: Duration::from_millis(20),
            max_backoff: Duration::from_millis(200),
            max_retry_after: Duration::from_secs(1),
        },
        async_confirm_timeout: Duration::from_secs(5),
        async_poll_interval: Duration::from_millis(50),
        resume_rounds: 2,
        http: None,
        allowed_endpoints: Vec::new(),
        observer: None,
        pause_journal: None,
        metrics: None,
    }
}

pub fn fast_limit() -> Option<RateLimit> {
    Some(RateLimit {
        requests_per_second: 1000,
        burst: 1000,
    })
}

pub fn lll_spec(sim: &RunningSimulator) -> CallProviderSpec {
    CallProviderSpec {
        longlonglong: Some(LonglonglongAccount {
            endpoint: sim.base_url(),
            user_id: LLL_USER.into(),
            sub_user_id: None,
            token_secret_ref: SecretKeyRef {
                name: "lll".into(),
                key: "token".into(),
            },
            phone_format: PhoneFormat::National,
            region: "CN".into(),
        }),
        callbot: None,
        nxlink: None,
        rate_limit: fast_limit(),
        max_batch_size: None,
        timeout_seconds: 5,
        // The simulator serves plain http on loopback.
        insecure: true,
        suspend: false,
    }
}

pub fn callbot_spec(
    sim: &RunningSimulator,
    algorithm: SignatureAlgorithm,
    gzip: bool,
) -> CallProviderSpec {
    CallProviderSpec {
        longlonglong: None,
        callbot: Some(CallbotAccount {
            endpoint: sim.base_url(),
            credentials_secret_ref: LocalObjectRef { name: "cb".into() },
            algorithm,
            order_callback_url: "https://hooks.example.com/order".into(),
            call_callback_url: "https://hooks.example.com/call".into(),
            gzip,
            phone_format: PhoneFormat::InternationalDigits,
            add_endpoint: Default::default(),
        }),
        nxlink: None,
        rate_limit: fast_limit(),
        max_batch_size: None,
        timeout_seconds: 5,
        // The simulator serves plain http on loopback.
        insecure: true,
        suspend: false,
    }
}

pub fn nxlink_spec(sim: &RunningSimulator) -> CallProviderSpec {
    CallProviderSpec {
        longlonglong: None,
        callbot: None,
        nxlink: Some(NxlinkAccount {
            region: None,
            endpoint: Some(sim.base_url()),
            credentials_secret_ref: LocalObjectRef { name: "nx".into() },
            biz_type: "100".into(),
            action: "nxai".into(),
            phone_format: PhoneFormat::InternationalDigits,
        }),
        rate_limit: fast_limit(),
        max_batch_size: None,
        timeout_seconds: 5,
        // The simulator serves plain http on loopback.
        insecure: true,
        suspend: false,
    }
}

pub fn with_batch(
    mut spec: CallProviderSpec,
    add: Option<i32>,
    remove: Option<i32>,
) -> CallProviderSpec {
    spec.max_batch_size = Some(BatchSizeOverrides { add, remove });
    spec
}

pub fn lll_creds(token: &str) -> Credentials {
    Credentials::Longlonglong {
        token: SecretString::new(token),
    }
}

pub fn cb_creds(uuid: &str, secret: &str) -> Credentials {
    Credentials::Callbot {
        uuid: uuid.into(),
        secret_key: SecretString::new(secret),
    }
}

pub fn nx_creds(key: &str, secret: &str) -> Credentials {
    Credentials::Nxlink {
        access_key: key.into(),
        access_secret: SecretString::new(secret),
    }
}

pub fn key(name: &str) -> AccountKey {
    AccountKey::new("default", name, format!("uid-{name}"))
}

/// A client as the controller builds one.
pub fn build(
    spec: &CallProviderSpec,
    options: Option<&LonglonglongTaskOptions>,
    credentials: Credentials,
    limiters: &RateLimiters,
    account: &AccountKey,
) -> AnyProvider {
    build_with(spec, options, credentials, limiters, account, &settings())
}

pub fn build_with(
    spec: &CallProviderSpec,
    options: Option<&LonglonglongTaskOptions>,
    credentials: Credentials,
    limiters: &RateLimiters,
    account: &AccountKey,
    settings: &ClientSettings,
) -> AnyProvider {
    match build_provider_with(
        account,
        spec,
        options,
        Arc::new(StaticCredentials(credentials)),
        limiters,
        settings,
    ) {
        Ok(provider) => provider,
        Err(err) => panic!("provider must build: {err}"),
    }
}

/// `n` contacts with phones `prefix + i` (zero-padded to `width` digits) and ids `id_prefix-i`.
pub fn contacts(
    prefix: &str,
    width: usize,
    start: usize,
    n: usize,
    id_prefix: &str,
) -> Vec<ContactToAdd> {
    (start..start + n)
        .map(|i| ContactToAdd {
            phone: format!("{prefix}{i:0width$}"),
            remote_id: format!("{id_prefix}-{i}"),
            name: Some(format!("Person {i}")),
            ..ContactToAdd::default()
        })
        .collect()
}

/// The simulator's admin API.
pub struct Admin {
    base: String,
    http: reqwest::Client,
    /// The run's admin token (`/_sim/` refuses requests without it).
    token: String,
}

impl Admin {
    pub fn new(sim: &RunningSimulator) -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        Self {
            base: format!("{}/_sim", sim.base_url()),
            token: sim.admin_token().to_owned(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .expect("http client"),
        }
    }

    async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("admin request");
        let status = response.status();
        let value: Value = response.json().await.expect("admin JSON");
        assert!(status.is_success(), "admin {path}: {status} {value}");
        value
    }

    /// Contacts of a task: `{seq, phone, remoteId?, name, extra, state, stopped, batch, createdAtMs}`.
    pub async fn contacts(&self, provider: &str, account: &str, task: &str) -> Vec<Value> {
        let value = self
            .send(
                reqwest::Method::GET,
                &format!("/accounts/{provider}/{account}/tasks/{task}/contacts"),
                None,
            )
            .await;
        value.as_array().cloned().unwrap_or_default()
    }

    pub async fn phones(&self, provider: &str, account: &str, task: &str) -> Vec<String> {
        self.contacts(provider, account, task)
            .await
            .iter()
            .map(|c| c["phone"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    pub async fn task(&self, provider: &str, account: &str, task: &str) -> Value {
        self.send(
            reqwest::Method::GET,
            &format!("/accounts/{provider}/{account}/tasks/{task}"),
            None,
        )
        .await["task"]
            .clone()
    }

    pub async fn set_state(&self, provider: &str, account: &str, task: &str, state: &str) {
        self.send(
            reqwest::Method::PUT,
            &format!("/accounts/{provider}/{account}/tasks/{task}/state"),
            Some(json!({ "state": state })),
        )
        .await;
    }

    pub async fn mark(&self, provider: &str, account: &str, task: &str, body: Value) -> Value {
        self.send(
            reqwest::Method::POST,
            &format!("/accounts/{provider}/{account}/tasks/{task}/contacts/mark"),
            Some(body),
        )
        .await
    }

    pub async fn set_faults(&self, provider: &str, account: &str, faults: Value) {
        self.send(
            reqwest::Method::PUT,
            &format!("/accounts/{provider}/{account}/faults"),
            Some(faults),
        )
        .await;
    }

    pub async fn set_rate_limit(&self, provider: &str, account: &str, limit: Value) {
        self.send(
            reqwest::Method::PUT,
            &format!("/accounts/{provider}/{account}/rate-limit"),
            Some(limit),
        )
        .await;
    }

    pub async fn counters(&self) -> Value {
        self.send(reqwest::Method::GET, "/counters", None).await
    }

    /// Calls of one endpoint (`"POST /agent-api/…/{task_id}/number"` style keys; matched by
    /// suffix so tests need not spell the whole route).
    pub async fn calls(&self, route_suffix: &str) -> u64 {
        let counters = self.counters().await;
        counters
            .as_object()
            .map(|map| {
                map.iter()
                    .filter(|(k, _)| k.ends_with(route_suffix))
                    .map(|(_, v)| v["calls"].as_u64().unwrap_or(0))
                    .sum()
            })
            .unwrap_or(0)
    }

    pub async fn counter_sum(&self, field: &str) -> u64 {
        let counters = self.counters().await;
        counters
            .as_object()
            .map(|map| map.values().map(|v| v[field].as_u64().unwrap_or(0)).sum())
            .unwrap_or(0)
    }

    pub async fn audit(&self) -> Vec<Value> {
        self.send(reqwest::Method::GET, "/audit?since=0", None)
            .await
            .as_array()
            .cloned()
            .unwrap_or_default()
    }
}

/// Asserts that no window of the sorted timestamps (ms) holds more than
/// `burst + rate × window + slack` events: the token-bucket bound.
pub fn assert_rate_bound(times_ms: &[i64], rate: f64, burst: f64, slack: f64) {
    let mut times = times_ms.to_vec();
    times.sort_unstable();
    for i in 0..times.len() {
        for j in i..times.len() {
            let count = (j - i + 1) as f64;
            let window = (times[j] - times[i]) as f64 / 1000.0;
            let bound = burst + rate * window + slack;
            assert!(
                count <= bound,
                "{count} requests in {window:.3}s exceed burst {burst} + {rate}/s × window (+{slack})"
            );
        }
    }
}

pub fn no_duplicates(values: &[String]) -> bool {
    let mut sorted = values.to_vec();
    sorted.sort();
    sorted.windows(2).all(|w| w[0] != w[1])
}

pub fn json_state(state: &str) -> Value {
    json!({ "state": state })
}

//! The simulator tests' side: talk to the simulator over real HTTP as a provider's customer
//! would, with the docs' example credentials. Signing here uses `callsync::signing`;
//! `simulator_signatures.rs` checks the simulator against an independent implementation.

use std::time::{SystemTime, UNIX_EPOCH};

use callsync::api::SignatureAlgorithm;
use callsync::simulator::{
    AccountConfig, ProviderKind, RunningSimulator, SimulatorConfig, TaskConfig, TaskGeneration,
    TaskState,
};
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{DOCS_CB_SECRET, DOCS_CB_UUID, DOCS_NX_KEY, DOCS_NX_SECRET, LLL_TOKEN, LLL_USER};

/// One account per provider; tasks: longlonglong `t1` (1.0 running) and `t2` (2.0 running),
/// Callbot `ut-1` (running, script variable `name`), NXLink `task-1` / `EXT-1` (running).
pub fn config() -> SimulatorConfig {
    SimulatorConfig {
        async_delay_ms: 100,
        accounts: vec![
            AccountConfig {
                provider: ProviderKind::Longlonglong,
                id: LLL_USER.into(),
                secret: LLL_TOKEN.into(),
                rate_limit: None,
                faults: None,
                variants: Default::default(),
                tasks: vec![
                    TaskConfig {
                        id: "t1".into(),
                        state: TaskState::Running,
                        ..TaskConfig::default()
                    },
                    TaskConfig {
                        id: "t2".into(),
                        generation: TaskGeneration::V2,
                        state: TaskState::Running,
                        ..TaskConfig::default()
                    },
                ],
            },
            AccountConfig {
                provider: ProviderKind::Callbot,
                id: DOCS_CB_UUID.into(),
                secret: DOCS_CB_SECRET.into(),
                rate_limit: None,
                faults: None,
                variants: Default::default(),
                tasks: vec![TaskConfig {
                    id: "ut-1".into(),
                    state: TaskState::Running,
                    variables: vec!["name".into()],
                    ..TaskConfig::default()
                }],
            },
            AccountConfig {
                provider: ProviderKind::Nxlink,
                id: DOCS_NX_KEY.into(),
                secret: DOCS_NX_SECRET.into(),
                rate_limit: None,
                faults: None,
                variants: Default::default(),
                tasks: vec![TaskConfig {
                    id: "task-1".into(),
                    user_task_id: Some("EXT-1".into()),
                    state: TaskState::Running,
                    ..TaskConfig::default()
                }],
            },
        ],
        ..SimulatorConfig::default()
    }
}

pub fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .expect("http client")
}

pub fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

pub async fn json_of(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let text = response.text().await.expect("body");
    let value = serde_json::from_str(&text).unwrap_or_else(|_| json!({"raw": text}));
    (status, value)
}

/// Talks to the simulator: one helper per provider plus the admin API.
#[derive(Clone)]
pub struct Api {
    pub base: String,
    pub http: reqwest::Client,
    /// The run's admin token (`/_sim/` refuses requests without it).
    pub admin_token: String,
}

impl Api {
    pub fn new(sim: &RunningSimulator) -> Self {
        Self {
            base: sim.base_url(),
            http: client(),
            admin_token: sim.admin_token().to_owned(),
        }
    }

    // longlonglong
    pub fn lll_url(&self, rest: &str) -> String {
        format!("{}/agent-api/user/{LLL_USER}/{rest}", self.base)
    }

    pub async fn lll(
        &self,
        method: reqwest::Method,
        rest: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        self.lll_as(LLL_TOKEN, method, &self.lll_url(rest), body)
            .await
    }

    pub async fn lll_as(
        &self,
        token: &str,
        method: reqwest::Method,
        url: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self.http.request(method, url).bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        json_of(request.send().await.expect("request")).await
    }

    // Callbot
    pub async fn cb(&self, endpoint: &str, body: Value) -> (StatusCode, Value) {
        let response = self
            .cb_send(
                endpoint,
                body.to_string().into_bytes(),
                SignatureAlgorithm::Md5,
            )
            .await;
        json_of(response).await
    }

    pub async fn cb_send(
        &self,
        endpoint: &str,
        body: Vec<u8>,
        algorithm: SignatureAlgorithm,
    ) -> reqwest::Response {
        let ts = now_secs().to_string();
        let request_id = uuid::Uuid::new_v4().simple().to_string();
        let sign = callsync::signing::callbot_sign(
            algorithm,
            DOCS_CB_SECRET,
            &body,
            &ts,
            &request_id,
            DOCS_CB_UUID,
        );
        let algorithm = match algorithm {
            SignatureAlgorithm::Md5 => "MD5",
            SignatureAlgorithm::Sha256 => "SHA256",
        };
        self.http
            .post(format!("{}/callcentre/api/v3/{endpoint}", self.base))
            .header("content-type", "application/json")
            .header("requestID", request_id)
            .header("uuid", DOCS_CB_UUID)
            .header("createTs", ts)
            .header("sign", sign)
            .header("algorithm", algorithm)
            .body(body)
            .send()
            .await
            .expect("request")
    }

    // NXLink
    pub async fn nx(&self, endpoint: &str, body: Value) -> (StatusCode, Value) {
        let body = body.to_string();
        let ts = now_ms().to_string();
        let sign = callsync::signing::nxlink_sign(
            DOCS_NX_KEY,
            "nxai",
            "100",
            &ts,
            body.as_bytes(),
            DOCS_NX_SECRET,
        );
        let response = self
            .http
            .post(format!("{}/openapi/aiagent/{endpoint}", self.base))
            .header("content-type", "application/json")
            .header("accessKey", DOCS_NX_KEY)
            .header("ts", ts)
            .header("bizType", "100")
            .header("action", "nxai")
            .header("sign", sign)
            .body(body)
            .send()
            .await
            .expect("request");
        json_of(response).await
    }

    // admin
    pub async fn admin_get(&self, path: &str) -> Value {
        let response = self
            .http
            .get(format!("{}/_sim/{path}", self.base))
            .bearer_auth(&self.admin_token)
            .send()
            .await
            .expect("request");
        json_of(response).await.1
    }

    pub async fn admin(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Value,
    ) -> (StatusCode, Value) {
        let response = self
            .http
            .request(method, format!("{}/_sim/{path}", self.base))
            .bearer_auth(&self.admin_token)
            .json(&body)
            .send()
            .await
            .expect("request");
        json_of(response).await
    }

    /// Phones of a task's contacts, in order.
    pub async fn phones(&self, provider: &str, account: &str, task: &str) -> Vec<String> {
        let contacts = self
            .admin_get(&format!(
                "accounts/{provider}/{account}/tasks/{task}/contacts"
            ))
            .await;
        contacts
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|c| c["phone"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    pub async fn mark(&self, provider: &str, account: &str, task: &str, body: Value) -> Value {
        self.admin(
            reqwest::Method::POST,
            &format!("accounts/{provider}/{account}/tasks/{task}/contacts/mark"),
            body,
        )
        .await
        .1
    }
}

//! Simulator configuration: a YAML file, overridden by command-line flags, or built in code by
//! tests that embed the simulator. Every field has a default, so `{}` is a valid file.
use std::net::SocketAddr;
use std::path::Path;

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::variants::Variant;

/// Everything `Simulator::start` needs.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct SimulatorConfig {
    /// Address to listen on. Loopback by default; port 0 picks a free port.
    pub listen: SocketAddr,
    /// Seed of the fault-injection random generator: the same seed and the same request order
    /// give the same faults.
    pub seed: u64,
    /// How long a longlonglong `async_number` batch takes before it is applied and its result is
    /// visible through `identification/{unique_id}`.
    pub async_delay_ms: u64,
    /// How long a Callbot `importBatchCall` stays "running" (answering 1001 to other imports and
    /// to exports) after it was accepted.
    pub callbot_import_ms: u64,
    /// Allowed distance between a Callbot `createTs` (seconds) and the simulator's clock.
    pub callbot_ts_window_secs: i64,
    /// Allowed distance between an NXLink `ts` (milliseconds) and the simulator's clock.
    pub nxlink_ts_window_ms: i64,
    /// Rate limit of accounts that set none of their own. `None` = unlimited.
    pub rate_limit: Option<RateLimitConfig>,
    /// Faults of accounts that set none of their own.
    pub faults: FaultConfig,
    /// Accounts (credentials and tasks) present from the start.
    pub accounts: Vec<AccountConfig>,
    /// Bearer token the admin API (`/_sim/`, which serves credentials and full phone numbers)
    /// requires. Unset: a random one per run, printed by `callsync simulate` and handed to
    /// embedders by `RunningSimulator::admin_token`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin_token: Option<String>,
}

impl Default for SimulatorConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            seed: 0,
            async_delay_ms: 500,
            callbot_import_ms: 0,
            callbot_ts_window_secs: 60,
            nxlink_ts_window_ms: 60_000,
            rate_limit: None,
            faults: FaultConfig::default(),
            accounts: Vec::new(),
            admin_token: None,
        }
    }
}

impl SimulatorConfig {
    /// Reads a YAML configuration file.
    pub fn from_yaml_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_yaml_str(&text).map_err(|source| ConfigError::Parse {
            path: path.to_path_buf(),
            source,
        })
    }

    /// Parses a YAML configuration.
    pub fn from_yaml_str(text: &str) -> Result<Self, serde_yaml::Error> {
        if text.trim().is_empty() {
            return Ok(Self::default());
        }
        serde_yaml::from_str(text)
    }

    /// A ready-made demo: one account per provider with a paused 2.0 longlonglong task, a
    /// running Callbot task and a running NXLink task. Credentials are fixed, so a demo script
    /// can hard-code them.
    pub fn demo() -> Self {
        Self {
            accounts: vec![
                AccountConfig {
                    provider: ProviderKind::Longlonglong,
                    id: "demo-lll-user".into(),
                    secret: "demo-lll-token".into(),
                    rate_limit: None,
                    faults: None,
                    variants: BTreeSet::new(),
                    tasks: vec![
                        TaskConfig {
                            id: "demo-lll-task".into(),
                            generation: TaskGeneration::V2,
                            state: TaskState::Paused,
                            ..TaskConfig::default()
                        },
                        TaskConfig {
                            id: "demo-lll-task-v1".into(),
                            generation: TaskGeneration::V1,
                            state: TaskState::Running,
                            ..TaskConfig::default()
                        },
                    ],
                },
                AccountConfig {
                    provider: ProviderKind::Callbot,
                    id: "demo-callbot-uuid".into(),
                    secret: "demo-callbot-secret".into(),
                    rate_limit: None,
                    faults: None,
                    variants: BTreeSet::new(),
                    tasks: vec![TaskConfig {
                        id: "demo-callbot-task".into(),
                        state: TaskState::Running,
                        ..TaskConfig::default()
                    }],
                },
                AccountConfig {
                    provider: ProviderKind::Nxlink,
                    id: "AK-demo-nxlink".into(),
                    secret: "demo-nxlink-secret".into(),
                    rate_limit: None,
                    faults: None,
                    variants: BTreeSet::new(),
                    tasks: vec![TaskConfig {
                        id: "demo-nxlink-task".into(),
                        user_task_id: Some("demo-nxlink-user-task".into()),
                        state: TaskState::Running,
                        ..TaskConfig::default()
                    }],
                },
            ],
            ..Self::default()
        }
    }
}

/// A configuration file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read simulator config {path}: {source}")]
    Read {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("invalid simulator config {path}: {source}")]
    Parse {
        path: std::path::PathBuf,
        source: serde_yaml::Error,
    },
}

/// The three simulated providers.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    Longlonglong,
    Callbot,
    Nxlink,
}

impl ProviderKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Longlonglong => "longlonglong",
            Self::Callbot => "callbot",
            Self::Nxlink => "nxlink",
        }
    }
}

impl std::fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for ProviderKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "longlonglong" => Ok(Self::Longlonglong),
            "callbot" => Ok(Self::Callbot),
            "nxlink" => Ok(Self::Nxlink),
            other => Err(format!("unknown provider {other:?}")),
        }
    }
}

/// One account at one provider.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AccountConfig {
    pub provider: ProviderKind,
    /// longlonglong `user_id` (path), Callbot `uuid` (header), NXLink `accessKey` (header).
    pub id: String,
    /// longlonglong Bearer token, Callbot `secretKey`, NXLink `accessSecret`.
    pub secret: String,
    /// This account's rate limit; `None` = the simulator-wide one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimitConfig>,
    /// This account's faults; `None` = the simulator-wide ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub faults: Option<FaultConfig>,
    #[serde(default)]
    pub tasks: Vec<TaskConfig>,
    /// Undocumented behaviours this account answers another way than by default
    /// (`super::variants`); each must concern the account's provider.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub variants: BTreeSet<Variant>,
}

impl AccountConfig {
    /// An account with no tasks, no own rate limit and no own faults.
    pub fn new(provider: ProviderKind, id: impl Into<String>, secret: impl Into<String>) -> Self {
        Self {
            provider,
            id: id.into(),
            secret: secret.into(),
            rate_limit: None,
            faults: None,
            tasks: Vec::new(),
            variants: BTreeSet::new(),
        }
    }

    pub fn with_variant(mut self, variant: Variant) -> Self {
        self.variants.insert(variant);
        self
    }

    pub fn with_task(mut self, task: TaskConfig) -> Self {
        self.tasks.push(task);
        self
    }

    pub fn with_rate_limit(mut self, limit: RateLimitConfig) -> Self {
        self.rate_limit = Some(limit);
        self
    }

    pub fn with_faults(mut self, faults: FaultConfig) -> Self {
        self.faults = Some(faults);
        self
    }
}

/// A provider task.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct TaskConfig {
    /// longlonglong `task_id`, Callbot `userTaskID`, NXLink `taskId`.
    pub id: String,
    /// NXLink only: the caller-defined `userTaskId` (also accepted by `order/delete`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_task_id: Option<String>,
    /// longlonglong only: 1.0 or 2.0 task (2.0 tasks refuse number changes while started).
    pub generation: TaskGeneration,
    /// longlonglong only: the sub-account that owns the task. Requests reach it only with this
    /// `sub_user_id`; without it they act on the main account, which does not see the task.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub_user_id: Option<String>,
    pub state: TaskState,
    /// Callbot only: the script template's variables; every order must give all of them in
    /// `params`.
    pub variables: Vec<String>,
    /// Display name.
    pub name: String,
}

impl TaskConfig {
    /// A paused 1.0 task named after its id.
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            ..Self::default()
        }
    }

    pub fn with_state(mut self, state: TaskState) -> Self {
        self.state = state;
        self
    }

    pub fn with_generation(mut self, generation: TaskGeneration) -> Self {
        self.generation = generation;
        self
    }

    pub fn with_user_task_id(mut self, user_task_id: impl Into<String>) -> Self {
        self.user_task_id = Some(user_task_id.into());
        self
    }

    pub fn with_sub_user_id(mut self, sub_user_id: impl Into<String>) -> Self {
        self.sub_user_id = Some(sub_user_id.into());
        self
    }

    pub fn with_variables(mut self, variables: &[&str]) -> Self {
        self.variables = variables.iter().map(|v| (*v).to_owned()).collect();
        self
    }
}

/// longlonglong task generation.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
pub enum TaskGeneration {
    #[default]
    #[serde(rename = "1.0")]
    V1,
    #[serde(rename = "2.0")]
    V2,
}

/// Task state, mapped to each provider's status numbers.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum TaskState {
    /// Not started yet (longlonglong 3 "waiting", Callbot 1, NXLink 1).
    Waiting,
    /// Dialling (longlonglong 2, Callbot 2, NXLink 2).
    Running,
    /// Paused (longlonglong 1, Callbot 5, NXLink 5).
    #[default]
    Paused,
    /// Completed (Callbot 3, NXLink 3); accepts no new contacts.
    Completed,
}

/// Token bucket: `requestsPerSecond` sustained, `burst` at once.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RateLimitConfig {
    pub requests_per_second: f64,
    pub burst: u32,
}

/// Faults injected into provider requests (never into `/_sim/`). Rates are probabilities in
/// `[0, 1]`, drawn in this order: error, timeout, then (after a successful mutation)
/// commit-then-drop.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct FaultConfig {
    /// Added to every request.
    pub latency_ms: u64,
    /// Extra latency drawn uniformly from `0..=latency_jitter_ms`.
    pub latency_jitter_ms: u64,
    /// Answer HTTP 503 (longlonglong, NXLink) or HTTP 500 with retCode 5001 (Callbot) without
    /// touching state.
    pub error_rate: f64,
    /// Hold the request for `timeoutHoldMs`, then close the connection without an answer,
    /// without touching state.
    pub timeout_rate: f64,
    pub timeout_hold_ms: u64,
    /// Apply a successful mutation, then close the connection without an answer.
    pub drop_after_commit_rate: f64,
    /// Not drawn: when set, every answer is replaced by an oversized one after the handler ran
    /// (state changed as usual), to prove the clients bound what they read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oversized_answer: Option<OversizedAnswer>,
}

/// An answer far bigger than any real one (`super::faults::oversized_answer`).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OversizedAnswer {
    /// Bytes of the body as the client reads it (after decompression).
    pub bytes: u64,
    /// Send it gzip-compressed (`Content-Encoding: gzip`): a small answer that inflates to
    /// `bytes` — a gzip bomb.
    #[serde(default)]
    pub gzip: bool,
}

impl Default for FaultConfig {
    fn default() -> Self {
        Self {
            latency_ms: 0,
            latency_jitter_ms: 0,
            error_rate: 0.0,
            timeout_rate: 0.0,
            timeout_hold_ms: 30_000,
            drop_after_commit_rate: 0.0,
            oversized_answer: None,
        }
    }
}

impl FaultConfig {
    /// True when no drawn fault can fire (the fast path); [`Self::oversized_answer`] is not
    /// drawn and is checked on its own.
    pub fn is_quiet(&self) -> bool {
        self.latency_ms == 0
            && self.latency_jitter_ms == 0
            && self.error_rate <= 0.0
            && self.timeout_rate <= 0.0
            && self.drop_after_commit_rate <= 0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulator::state::SimState;

    #[test]
    fn empty_file_is_default() {
        assert_eq!(
            SimulatorConfig::from_yaml_str("").ok(),
            Some(SimulatorConfig::default())
        );
    }

    #[test]
    fn full_file_parses() {
        let yaml = r#"
listen: 127.0.0.1:8089
seed: 7
asyncDelayMs: 100
rateLimit: {requestsPerSecond: 20, burst: 40}
faults: {latencyMs: 5, errorRate: 0.1, dropAfterCommitRate: 0.05}
accounts:
  - provider: longlonglong
    id: user-1
    secret: token-1
    tasks:
      - {id: t1, generation: "2.0", state: running}
  - provider: callbot
    id: cb-uuid
    secret: cb-secret
    rateLimit: {requestsPerSecond: 5, burst: 5}
    tasks: [{id: ut-1, variables: [name]}]
  - provider: nxlink
    id: AK-1
    secret: s
    faults: {timeoutRate: 0.5, timeoutHoldMs: 100}
    tasks: [{id: "1001", userTaskId: EXT-1, state: running}]
"#;
        let config = SimulatorConfig::from_yaml_str(yaml);
        assert!(config.is_ok(), "{config:?}");
        let config = config.unwrap_or_default();
        assert_eq!(config.accounts.len(), 3);
        assert_eq!(config.accounts[0].tasks[0].generation, TaskGeneration::V2);
        assert_eq!(config.faults.timeout_hold_ms, 30_000);
        assert_eq!(config.async_delay_ms, 100);
    }

    #[test]
    fn documented_example_parses() {
        let config =
            SimulatorConfig::from_yaml_str(include_str!("../../docs/simulator.example.yaml"));
        assert!(config.is_ok(), "{config:?}");
        let config = config.unwrap_or_default();
        assert_eq!(config.accounts.len(), 3);
        assert!(SimState::new(&config).is_ok());
    }

    #[test]
    fn builders() {
        let account = AccountConfig::new(ProviderKind::Nxlink, "AK", "s").with_task(
            TaskConfig::new("t")
                .with_user_task_id("EXT")
                .with_state(TaskState::Running),
        );
        assert_eq!(account.tasks[0].user_task_id.as_deref(), Some("EXT"));
        assert_eq!(account.tasks[0].state, TaskState::Running);
        assert_eq!(account.tasks[0].generation, TaskGeneration::V1);
    }

    #[test]
    fn unknown_fields_are_refused() {
        assert!(SimulatorConfig::from_yaml_str("seeed: 1").is_err());
    }
}

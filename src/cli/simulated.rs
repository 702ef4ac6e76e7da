//! `--simulate`: an embedded simulator on 127.0.0.1, seeded from the files — one account per
//! CallProvider, one task per CallTask — and every provider's endpoint pointed at it. Nothing
//! leaves the machine.
//!
//! The files' real credentials never reach the simulator: every account gets credentials made
//! up for the run, and the tasks use those. The simulator's admin API (which serves credentials
//! and full phone numbers to whoever asks on the port) needs a per-run token that is never
//! printed, so while `--simulate` runs it is closed to everyone.
use std::collections::BTreeMap;

use crate::providers::{Credentials, SecretString};
use crate::simulator::{
    AccountConfig, ProviderKind, RunningSimulator, Simulator, SimulatorConfig, TaskConfig,
};

use super::files::ResolvedTask;
use super::workspace::FilesError;

fn account_of(credentials: &Credentials) -> (ProviderKind, String, String) {
    match credentials {
        Credentials::Longlonglong { token } => (
            ProviderKind::Longlonglong,
            String::new(),
            token.expose().to_owned(),
        ),
        Credentials::Callbot { uuid, secret_key } => (
            ProviderKind::Callbot,
            uuid.clone(),
            secret_key.expose().to_owned(),
        ),
        Credentials::Nxlink {
            access_key,
            access_secret,
        } => (
            ProviderKind::Nxlink,
            access_key.clone(),
            access_secret.expose().to_owned(),
        ),
    }
}

/// The simulator configuration the tasks need, with the tasks' credentials as they are:
/// accounts merged by provider and account id. [`start`] makes up credentials first.
pub fn config_for(tasks: &[ResolvedTask]) -> SimulatorConfig {
    let mut accounts: BTreeMap<(ProviderKind, String), AccountConfig> = BTreeMap::new();
    for task in tasks {
        let (kind, mut id, secret) = account_of(&task.credentials);
        if let Some(account) = &task.provider.spec.longlonglong {
            id = account.user_id.clone();
        }
        let account = accounts
            .entry((kind, id.clone()))
            .or_insert_with(|| AccountConfig::new(kind, id, secret));
        let task_id = &task.task.spec.task_id;
        if !account.tasks.iter().any(|t| t.id == *task_id) {
            account.tasks.push(TaskConfig::new(task_id.clone()));
        }
    }
    SimulatorConfig {
        accounts: accounts.into_values().collect(),
        ..SimulatorConfig::default()
    }
}

/// A random value for a made-up credential.
fn random(prefix: &str) -> String {
    use rand::Rng;
    format!("{prefix}{:032x}", rand::rng().random::<u128>())
}

/// Replaces every task's credentials with ones made up for this run, the same for tasks of the
/// same account, so that the real ones never reach the simulator.
fn replace_credentials(tasks: &mut [ResolvedTask]) {
    let mut made: BTreeMap<(ProviderKind, String), Credentials> = BTreeMap::new();
    for task in tasks.iter_mut() {
        let (kind, mut id, _) = account_of(&task.credentials);
        if let Some(account) = &task.provider.spec.longlonglong {
            id = account.user_id.clone();
        }
        let fresh = made.entry((kind, id)).or_insert_with(|| match kind {
            ProviderKind::Longlonglong => Credentials::Longlonglong {
                token: SecretString::new(random("sim-token-")),
            },
            ProviderKind::Callbot => Credentials::Callbot {
                uuid: random("sim-uuid-"),
                secret_key: SecretString::new(random("sim-secret-")),
            },
            ProviderKind::Nxlink => Credentials::Nxlink {
                access_key: random("sim-key-"),
                access_secret: SecretString::new(random("sim-secret-")),
            },
        });
        task.credentials = fresh.clone();
    }
}

/// Starts the simulator with made-up credentials and points every task's CallProvider at it.
pub async fn start(tasks: &mut [ResolvedTask]) -> Result<RunningSimulator, FilesError> {
    replace_credentials(tasks);
    let simulator = Simulator::start(config_for(tasks)).await?;
    let endpoint = simulator.base_url();
    for task in tasks.iter_mut() {
        let spec = &mut task.provider.spec;
        // The embedded simulator serves plain http on loopback.
        spec.insecure = true;
        if let Some(account) = spec.longlonglong.as_mut() {
            account.endpoint = endpoint.clone();
        }
        if let Some(account) = spec.callbot.as_mut() {
            account.endpoint = endpoint.clone();
        }
        if let Some(account) = spec.nxlink.as_mut() {
            account.endpoint = Some(endpoint.clone());
        }
    }
    eprintln!(
        "simulate: providers served by the embedded simulator at {endpoint} (nothing leaves this machine)"
    );
    Ok(simulator)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::files::{Diagnostics, load, resolve};

    /// The example's real token must not end up in the simulator (whose admin API serves
    /// accounts with their secrets), nor be what the tasks send.
    #[tokio::test]
    async fn the_embedded_simulator_never_holds_the_files_credentials() {
        let dir = tempfile::tempdir().expect("tempdir");
        let text = include_str!("../../examples/callbot.yaml");
        std::fs::write(dir.path().join("callbot.yaml"), text).expect("write");
        let mut diagnostics = Diagnostics::default();
        let bundle = load(&[dir.path().to_path_buf()], &mut diagnostics);
        let mut tasks = resolve(&bundle, &mut diagnostics);
        assert!(!tasks.is_empty(), "{:?}", diagnostics.items);
        let real: Vec<Credentials> = tasks.iter().map(|t| t.credentials.clone()).collect();
        let simulator = start(&mut tasks).await.expect("start");
        let (_, real_uuid, real_secret) = account_of(&real[0]);
        let inner = simulator.state().lock();
        for account in inner.accounts.values() {
            assert_ne!(account.secret, real_secret);
            assert_ne!(account.id, real_uuid);
        }
        for (task, real) in tasks.iter().zip(&real) {
            assert_ne!(task.credentials, *real);
            assert!(task.provider.spec.insecure);
        }
        // Tasks of one account share the made-up account.
        let ids: std::collections::BTreeSet<String> =
            tasks.iter().map(|t| account_of(&t.credentials).1).collect();
        assert_eq!(ids.len(), inner.accounts.len());
        assert!(!simulator.admin_token().is_empty());
    }
}

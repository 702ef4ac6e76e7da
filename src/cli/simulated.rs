//! `--simulate`: an embedded simulator on 127.0.0.1, seeded from the files — one account per
//! CallProvider with the credentials of its Secret, one task per CallTask — and every
//! provider's endpoint pointed at it. Nothing leaves the machine.
use std::collections::BTreeMap;

use crate::providers::Credentials;
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

/// The simulator configuration the tasks need: accounts merged by provider and account id.
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

/// Starts the simulator and points every task's CallProvider at it.
pub async fn start(tasks: &mut [ResolvedTask]) -> Result<RunningSimulator, FilesError> {
    let simulator = Simulator::start(config_for(tasks)).await?;
    let endpoint = simulator.base_url();
    for task in tasks.iter_mut() {
        let spec = &mut task.provider.spec;
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

//! `--record DIR`: the answers a doctor run saw, phones and secrets masked, as a contract
//! fixture. The folder holds
//! - `answers/NNN-<op>.json`: each answer in arrival order ([`RecordedAnswer`]);
//! - `input.yaml`: the CallProviders and CallTasks examined, with the endpoint set to
//!   `http://replay.invalid`, credentials replaced by placeholders and no ContactList (they
//!   hold phones);
//! - `report.json`: the doctor's report of the run.
//!
//! `tests/doctor.rs` serves the answers again and runs doctor over them: a recording from a
//! real account becomes a regression test of callsync's reading of that provider.
use std::collections::BTreeMap;
use std::path::Path;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::api::ObjectMeta;

use super::DoctorReport;
use crate::api::{CallProvider, CallTask, ContactListSelection};
use crate::cli::files::ResolvedTask;
use crate::cli::workspace::FilesError;
use crate::doctor::RecordedAnswer;

/// The endpoint written into a recording's CallProviders; the replay sets its own.
pub const REPLAY_ENDPOINT: &str = "http://replay.invalid";

pub fn write(
    dir: &Path,
    tasks: &[ResolvedTask],
    answers: &[RecordedAnswer],
    report: &DoctorReport,
) -> Result<(), FilesError> {
    let fail = |path: &Path, source: std::io::Error| FilesError::Write {
        path: path.to_path_buf(),
        source,
    };
    let answers_dir = dir.join("answers");
    private_dir(&answers_dir).map_err(|e| fail(&answers_dir, e))?;
    for (index, answer) in answers.iter().enumerate() {
        let name = format!(
            "{:03}-{}.json",
            index + 1,
            answer.op.replace(|c: char| !c.is_ascii_alphanumeric(), "-")
        );
        let path = answers_dir.join(name);
        let text = serde_json::to_string_pretty(answer)?;
        private_file(&path, &text).map_err(|e| fail(&path, e))?;
    }
    let path = dir.join("input.yaml");
    private_file(&path, &input_yaml(tasks)?).map_err(|e| fail(&path, e))?;
    let path = dir.join("report.json");
    let text = serde_json::to_string_pretty(report)?;
    private_file(&path, &text).map_err(|e| fail(&path, e))?;
    Ok(())
}

/// The examined objects, safe to share: no endpoint, no credential, no contact.
fn input_yaml(tasks: &[ResolvedTask]) -> Result<String, FilesError> {
    let mut providers: BTreeMap<String, (CallProvider, Secret)> = BTreeMap::new();
    let mut documents = Vec::new();
    for resolved in tasks {
        let provider = scrubbed_provider(&resolved.provider);
        let secret = placeholder_secret(&provider);
        providers.insert(provider.name_any(), (provider, secret));
        let mut task = CallTask::new(&resolved.task.name_any(), resolved.task.spec.clone());
        task.metadata.namespace = resolved.task.namespace();
        // A selector that matches nothing: doctor reads no ContactList.
        task.spec.contact_lists = ContactListSelection {
            selector: Some(
                k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector {
                    match_labels: Some(BTreeMap::from([(
                        "callsync.io/doctor-replay".to_owned(),
                        "none".to_owned(),
                    )])),
                    ..Default::default()
                },
            ),
            names: None,
        };
        documents.push(yaml(&task)?);
    }
    let mut out = String::new();
    for (provider, secret) in providers.values() {
        out.push_str(&yaml(provider)?);
        out.push_str("---\n");
        out.push_str(&yaml(secret)?);
        out.push_str("---\n");
    }
    out.push_str(&documents.join("---\n"));
    Ok(out)
}

fn yaml<T: serde::Serialize>(value: &T) -> Result<String, FilesError> {
    serde_yaml::to_string(value).map_err(|e| FilesError::Json(serde::ser::Error::custom(e)))
}

fn scrubbed_provider(original: &CallProvider) -> CallProvider {
    let mut spec = original.spec.clone();
    if let Some(account) = &mut spec.longlonglong {
        account.endpoint = REPLAY_ENDPOINT.into();
    }
    if let Some(account) = &mut spec.callbot {
        account.endpoint = REPLAY_ENDPOINT.into();
        account.order_callback_url = "https://callbacks.invalid/order".into();
        account.call_callback_url = "https://callbacks.invalid/call".into();
    }
    if let Some(account) = &mut spec.nxlink {
        account.endpoint = Some(REPLAY_ENDPOINT.into());
        account.region = None;
    }
    // The replay serves plain http on loopback.
    spec.insecure = true;
    let mut provider = CallProvider::new(&original.name_any(), spec);
    provider.metadata.namespace = original.namespace();
    provider
}

/// A Secret with the keys the CallProvider reads, holding placeholders.
fn placeholder_secret(provider: &CallProvider) -> Secret {
    let spec = &provider.spec;
    let (name, keys): (String, Vec<String>) =
        match (&spec.longlonglong, &spec.callbot, &spec.nxlink) {
            (Some(a), _, _) => (
                a.token_secret_ref.name.clone(),
                vec![a.token_secret_ref.key.clone()],
            ),
            (_, Some(a), _) => (
                a.credentials_secret_ref.name.clone(),
                vec!["uuid".into(), "secretKey".into()],
            ),
            (_, _, Some(a)) => (
                a.credentials_secret_ref.name.clone(),
                vec!["accessKey".into(), "accessSecret".into()],
            ),
            _ => (String::new(), Vec::new()),
        };
    Secret {
        metadata: ObjectMeta {
            name: Some(name),
            namespace: provider.namespace(),
            labels: Some(BTreeMap::from([(
                "callsync.io/credentials".to_owned(),
                "true".to_owned(),
            )])),
            ..ObjectMeta::default()
        },
        data: Some(
            keys.into_iter()
                .map(|k| {
                    let value = format!("replayed-{k}");
                    (k, ByteString(value.into_bytes()))
                })
                .collect(),
        ),
        ..Secret::default()
    }
}

#[cfg(unix)]
fn private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
}

#[cfg(not(unix))]
fn private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}

/// Masked, but still account data: only the user may read it.
#[cfg(unix)]
fn private_file(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(text.as_bytes())
}

#[cfg(not(unix))]
fn private_file(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, text)
}

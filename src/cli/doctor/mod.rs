//! `callsync doctor -f DIR`: before the first real sync, ask each provider account and remote
//! task, with read calls only, whether callsync's reading of the provider holds: credentials and
//! signature accepted, clocks close enough, each CallTask's remote task there, the listing
//! readable and paged as assumed, and which inferred behaviour the answers confirm or
//! contradict. It never writes to a provider (`tests/doctor.rs` proves it with the simulator's
//! audit log and call counters). `--record DIR` keeps the answers it saw, phones and secrets
//! masked, as a contract fixture anyone with a real account can contribute.
mod record;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use kube::ResourceExt;
use serde::Serialize;

use crate::doctor::{Check, ListedPhones, Observers, Recorder, Verdict};

use super::files::ResolvedTask;
use super::local::build_client;
use super::plan::OutputFormat;
use super::workspace::{FilesError, InputArgs, Workspace};
use crate::providers::{ClientSettings, Credentials, RateLimiters, TaskRef};
use crate::sync::WireFormat;

/// Check provider accounts and remote tasks with read calls only, before the first sync.
#[derive(clap::Args, Debug, Clone)]
pub struct DoctorArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Keep every answer seen in this folder, phones and secrets masked (a contract fixture:
    /// see docs/providers/README.md, "Before the first real sync").
    #[arg(long, value_name = "DIR")]
    pub record: Option<PathBuf>,
    /// `text` for people, `json` for programs.
    #[arg(long, short = 'o', value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
}

/// The checks of one CallTask (account checks included).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskReport {
    /// `namespace/name` of the CallTask.
    pub task: String,
    /// The CallProvider's name.
    pub provider: String,
    /// `longlonglong`, `callbot` or `nxlink`.
    pub kind: String,
    pub checks: Vec<Check>,
}

/// `-o json`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DoctorReport {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub tasks: Vec<TaskReport>,
    /// Checks that failed or contradict callsync's reading.
    pub problems: usize,
}

pub async fn run(args: DoctorArgs) -> Result<(), FilesError> {
    let workspace = Workspace::load(&args.input);
    workspace.gate(20)?;
    let recorder = Arc::new(Recorder::new(
        secrets_of(&workspace.tasks),
        identifiers_of(&workspace.tasks),
    ));
    let reports = examine(&workspace.tasks, &ClientSettings::default(), &recorder).await?;
    let problems = reports
        .iter()
        .flat_map(|r| &r.checks)
        .filter(|c| c.verdict.is_problem())
        .count();
    let report = DoctorReport {
        api_version: "callsync.io/v1alpha1",
        kind: "DoctorReport",
        tasks: reports,
        problems,
    };
    if let Some(dir) = &args.record {
        record::write(dir, &workspace.tasks, &recorder.answers(), &report)?;
    }
    match args.output {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        OutputFormat::Text => print!("{}", render(&report)),
    }
    if problems > 0 {
        return Err(FilesError::DoctorProblems { problems });
    }
    Ok(())
}

/// Runs the checks of every task; each account's credential and clock checks run once and are
/// shown with each of its tasks. Every answer reaches `recorder`, and each task's listing
/// answers a [`ListedPhones`] of its phone format.
pub async fn examine(
    tasks: &[ResolvedTask],
    settings: &ClientSettings,
    recorder: &Arc<Recorder>,
) -> Result<Vec<TaskReport>, FilesError> {
    let limiters = RateLimiters::new();
    let mut accounts: BTreeMap<String, Vec<Check>> = BTreeMap::new();
    let mut reports = Vec::new();
    for resolved in tasks {
        let wire = WireFormat::of(&resolved.provider.spec);
        let listed = Arc::new(ListedPhones::new(wire));
        let mut observers: Vec<crate::providers::http::SharedObserver> =
            vec![recorder.clone(), listed.clone()];
        observers.extend(settings.observer.clone());
        let settings = ClientSettings {
            observer: Some(Arc::new(Observers(observers))),
            ..settings.clone()
        };
        let client = build_client(resolved, &limiters, &settings)?;
        let provider_key = format!(
            "{}/{}",
            resolved.provider.namespace().unwrap_or_default(),
            resolved.provider.name_any()
        );
        let mut checks = match accounts.get(&provider_key) {
            Some(checks) => checks.clone(),
            None => {
                let checks = crate::doctor::account_checks(&client, recorder).await;
                accounts.insert(provider_key, checks.clone());
                checks
            }
        };
        let credentials_ok = checks
            .iter()
            .all(|c| c.name != "credentials" || c.verdict == Verdict::Ok);
        if credentials_ok {
            let task = TaskRef::new(resolved.task.spec.task_id.clone());
            checks.extend(crate::doctor::task_checks(&client, &task, recorder, &listed).await);
        }
        reports.push(TaskReport {
            task: resolved.key(),
            provider: resolved.provider.name_any(),
            kind: resolved.credentials.kind().to_owned(),
            checks,
        });
    }
    Ok(reports)
}

/// Every credential value of the files: never recorded, whatever the provider echoes.
fn secrets_of(tasks: &[ResolvedTask]) -> Vec<String> {
    tasks
        .iter()
        .flat_map(|t| match &t.credentials {
            Credentials::Longlonglong { token } => vec![token.expose().to_owned()],
            Credentials::Callbot { uuid, secret_key } => {
                vec![uuid.clone(), secret_key.expose().to_owned()]
            }
            Credentials::Nxlink {
                access_key,
                access_secret,
            } => vec![access_key.clone(), access_secret.expose().to_owned()],
        })
        .collect()
}

/// The task ids of the files (kept in a recording so that a replay finds its tasks).
fn identifiers_of(tasks: &[ResolvedTask]) -> Vec<String> {
    tasks.iter().map(|t| t.task.spec.task_id.clone()).collect()
}

/// The report for people: one block per CallTask, one line per check.
pub fn render(report: &DoctorReport) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    for task in &report.tasks {
        let _ = writeln!(
            out,
            "{} → {} (CallProvider {})",
            task.task, task.kind, task.provider
        );
        for check in &task.checks {
            let mark = match check.verdict {
                Verdict::Ok | Verdict::Confirmed => "✓",
                Verdict::Failed | Verdict::Contradicted => "✗",
                Verdict::Unchecked => "?",
            };
            let _ = writeln!(
                out,
                "  {mark} {:<12} {:<13} {}",
                check.name,
                format!("{:?}", check.verdict).to_lowercase(),
                check.detail
            );
        }
        out.push('\n');
    }
    if report.problems == 0 {
        out.push_str("No problem found. Unchecked lines need a write or a callback to confirm.\n");
    } else {
        let _ = writeln!(
            out,
            "{} problem{} found: fix them before the first sync.",
            report.problems,
            if report.problems == 1 { "" } else { "s" }
        );
    }
    out
}

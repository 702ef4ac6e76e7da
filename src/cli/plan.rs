//! `callsync plan -f DIR`: what a sync would change, per CallTask, without changing anything.
//! Providers that can list are asked for their contacts (read calls only); no write call is
//! made and the state is not written.
use std::path::PathBuf;

use kube::ResourceExt;
use serde::Serialize;

use super::files::ResolvedTask;
use super::files::cache::ParseCache;
use super::local::state::StateStore;
use super::local::{TaskRun, TaskSummary};
use super::workspace::{FilesError, InputArgs, Workspace, default_state_dir};
use crate::providers::{ClientSettings, RateLimiters};

/// Output format.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OutputFormat {
    #[default]
    Text,
    Json,
}

/// Show what a sync would change, from YAML files, without a cluster.
#[derive(clap::Args, Debug, Clone)]
pub struct PlanArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// State folder holding the ledgers of earlier applies [default: .callsync-state in the
    /// first -f folder, or next to the first -f file; with --simulate, none].
    #[arg(long, value_name = "DIR")]
    pub state: Option<PathBuf>,
    /// Run against an embedded simulator seeded from the files instead of the real providers.
    #[arg(long)]
    pub simulate: bool,
    /// List the provider's whole task even if it was listed within the CallTask's
    /// resyncInterval. Without it a task listed recently is planned against the ledger (what
    /// callsync put there, confirmed item by item), and a change made in the provider's console
    /// since is seen at the next listing.
    #[arg(long)]
    pub full_listing: bool,
    /// `text` for people, `json` for programs (schema in docs/cli.md).
    #[arg(long, short = 'o', value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
    /// Exit 0 when no write is planned, 2 when writes are planned, 1 on any error
    /// (Terraform's rule), so a script or CI step can tell the three apart.
    #[arg(long)]
    pub detailed_exitcode: bool,
}

/// `--output json`: the stable document.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PlanDocument {
    api_version: &'static str,
    kind: &'static str,
    tasks: Vec<TaskSummary>,
    /// Tasks that could not be planned: `{task, error}`.
    errors: Vec<TaskFailure>,
    totals: Totals,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TaskFailure {
    task: String,
    error: String,
}

#[derive(Serialize, Default)]
#[serde(rename_all = "camelCase")]
struct Totals {
    tasks: usize,
    to_add: u64,
    to_remove: u64,
    /// Desired contacts not at the providers, and removable contacts there that are not
    /// desired, whatever the plans do about them (ObserveOnly, AddOnly, the deletion guard).
    missing: u64,
    unwanted: u64,
    blocked_by_guard: u64,
    invalid: u64,
    write_calls: u64,
}

/// The state folder plan and apply share: `--state`, none under --simulate (the state is
/// in memory), else the default folder.
fn state_dir(state: Option<&PathBuf>, simulate: bool, input: &InputArgs) -> Option<PathBuf> {
    match (state, simulate) {
        (Some(dir), _) => Some(dir.clone()),
        (None, true) => None,
        (None, false) => Some(default_state_dir(&input.files)),
    }
}

/// Opens the state in [`state_dir`].
pub fn open_state(
    state: Option<&PathBuf>,
    simulate: bool,
    input: &InputArgs,
    exclusive: bool,
) -> Result<StateStore, FilesError> {
    let Some(dir) = state_dir(state, simulate, input) else {
        return Ok(StateStore::Memory);
    };
    // A plan writes nothing, not even an empty state folder.
    if !exclusive && !dir.exists() {
        return Ok(StateStore::Memory);
    }
    // Simulated ledgers are marked, so that they and real ones never mix (`state`).
    Ok(StateStore::open(&dir, exclusive)?.simulated(simulate))
}

/// The parse cache in [`state_dir`], if there is a state folder. `writable` for apply; a
/// plan only reads it.
pub fn parse_cache(
    state: Option<&PathBuf>,
    simulate: bool,
    input: &InputArgs,
    writable: bool,
) -> Option<ParseCache> {
    state_dir(state, simulate, input).map(|dir| ParseCache::open(&dir, writable))
}

/// Why a task sends nothing: its own `spec.suspend`, or its CallProvider's (a frozen account).
pub fn suspension(task: &ResolvedTask) -> Option<String> {
    if task.task.spec.suspend {
        Some("suspended".into())
    } else if task.provider.spec.suspend {
        Some(format!(
            "CallProvider {} is suspended",
            task.provider.name_any()
        ))
    } else {
        None
    }
}

/// The closing line of a plan that writes nothing: "No changes" only when the providers
/// match the files; otherwise what differs and why nothing is planned.
fn no_writes_line(totals: &Totals) -> String {
    if totals.missing + totals.unwanted == 0 {
        return "No changes: the providers match the files.".to_owned();
    }
    format!(
        "No writes planned, but the providers differ from the files: {} desired contacts missing, {} not desired (ObserveOnly, AddOnly or the deletion guard keeps them).",
        super::local::summary::thousands(totals.missing),
        super::local::summary::thousands(totals.unwanted)
    )
}

/// Plans every task; `Ok(true)` when some write is planned (for `--detailed-exitcode`).
pub async fn run(args: PlanArgs) -> Result<bool, FilesError> {
    let mut cache = parse_cache(args.state.as_ref(), args.simulate, &args.input, false);
    let mut workspace = Workspace::load_cached(&args.input, cache.as_mut());
    workspace.gate(20)?;
    let _simulator = if args.simulate {
        Some(super::simulated::start(&mut workspace.tasks).await?)
    } else {
        None
    };
    let store = open_state(args.state.as_ref(), args.simulate, &args.input, false)?;
    let limiters = RateLimiters::new();
    let settings = ClientSettings::default();
    let mut summaries = Vec::new();
    let mut failures = Vec::new();
    for task in &workspace.tasks {
        if let Some(why) = suspension(task) {
            if args.output == OutputFormat::Text {
                println!("{}: {why}; a sync would send nothing\n", task.key());
            }
            continue;
        }
        let planned = match TaskRun::prepare(task, &store, &limiters, &settings) {
            Ok(run) => {
                let mut run = TaskRun {
                    // The embedded simulator is new every run: what the ledger says of it does not hold.
                    full_listing: args.full_listing || args.simulate,
                    ..run
                };
                run.plan().await.map(|(summary, _)| summary)
            }
            Err(e) => Err(e),
        };
        match planned {
            Ok(summary) => {
                if args.output == OutputFormat::Text {
                    println!("{}", summary.render());
                }
                summaries.push(summary);
            }
            Err(e) => {
                if args.output == OutputFormat::Text {
                    eprintln!("error: {e}");
                }
                failures.push(TaskFailure {
                    task: task.key(),
                    error: e.to_string(),
                });
            }
        }
    }
    let totals = Totals {
        tasks: summaries.len(),
        to_add: summaries.iter().map(|s| s.to_add).sum(),
        to_remove: summaries.iter().map(|s| s.to_remove).sum(),
        missing: summaries.iter().map(|s| s.missing).sum(),
        unwanted: summaries.iter().map(|s| s.unwanted).sum(),
        blocked_by_guard: summaries.iter().map(|s| s.blocked_by_guard).sum(),
        invalid: summaries.iter().map(|s| s.invalid).sum(),
        write_calls: summaries.iter().map(|s| s.write_calls).sum(),
    };
    match args.output {
        OutputFormat::Json => {
            let document = PlanDocument {
                api_version: "callsync.io/v1alpha1",
                kind: "Plan",
                tasks: summaries,
                errors: failures,
                totals,
            };
            println!("{}", serde_json::to_string_pretty(&document)?);
            if !document.errors.is_empty() {
                return Err(FilesError::TasksFailed {
                    failed: document.errors.len(),
                    total: workspace.tasks.len(),
                });
            }
            return Ok(document.totals.to_add + document.totals.to_remove > 0);
        }
        OutputFormat::Text => {
            if totals.to_add + totals.to_remove == 0 && failures.is_empty() {
                println!("{}", no_writes_line(&totals));
            } else {
                println!(
                    "Plan: {} to add, {} to remove in {} CallTask{} ({} write calls).",
                    super::local::summary::thousands(totals.to_add),
                    super::local::summary::thousands(totals.to_remove),
                    totals.tasks,
                    if totals.tasks == 1 { "" } else { "s" },
                    totals.write_calls
                );
            }
        }
    }
    if failures.is_empty() {
        Ok(totals.to_add + totals.to_remove > 0)
    } else {
        Err(FilesError::TasksFailed {
            failed: failures.len(),
            total: workspace.tasks.len(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An ObserveOnly (or AddOnly, or guarded) plan writes nothing, and said the providers match.
    #[test]
    fn no_changes_only_when_the_providers_match() {
        assert_eq!(
            no_writes_line(&Totals::default()),
            "No changes: the providers match the files."
        );
        let differs = Totals {
            missing: 2,
            unwanted: 1,
            ..Totals::default()
        };
        assert!(
            no_writes_line(&differs).starts_with(
                "No writes planned, but the providers differ from the files: 2 desired contacts missing, 1 not desired"
            ),
            "{}",
            no_writes_line(&differs)
        );
    }
}

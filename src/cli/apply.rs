//! `callsync apply -f DIR`: the controller's sync without a cluster. Shows the plan, applies it
//! with progress, and ends with one line per CallTask. Ctrl-C lets the batch in flight finish
//! and records its outcome, then stops; the next apply carries on from the state.
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::apply_report::ApplyReport;
use super::local::summary::thousands;
use super::local::{self, TaskRun, outcome_line};
use super::plan::{OutputFormat, open_state, parse_cache, suspension};
use super::workspace::{FilesError, InputArgs, Workspace};
use crate::providers::{ClientSettings, RateLimiters};

/// Carry out a sync from YAML files, without a cluster.
#[derive(clap::Args, Debug, Clone)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// State folder for the ledgers (what callsync added where) [default: .callsync-state in
    /// the first -f folder, or next to the first -f file; with --simulate, in memory only].
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
    /// `text` for people, `json` for programs: one document at the end (schema in docs/cli.md).
    #[arg(long, short = 'o', value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
}

/// The first Ctrl-C asks for a stop after the batch in flight; a second one ends the process
/// at once (every batch's intent is saved before it is sent, so the next apply settles it).
fn watch_interrupts(stop: Arc<AtomicBool>) {
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_err() {
            return;
        }
        stop.store(true, Ordering::SeqCst);
        eprintln!(
            "\ninterrupt: finishing the batch in flight and recording it (Ctrl-C again stops at once)"
        );
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("interrupt: stopping now; run apply again to settle the last batch");
            std::process::exit(130);
        }
    });
}

pub async fn run(args: ApplyArgs) -> Result<(), FilesError> {
    let mut cache = parse_cache(args.state.as_ref(), args.simulate, &args.input, true);
    let mut workspace = Workspace::load_cached(&args.input, cache.as_mut());
    workspace.gate(20)?;
    let _simulator = if args.simulate {
        Some(super::simulated::start(&mut workspace.tasks).await?)
    } else {
        None
    };
    let store = open_state(args.state.as_ref(), args.simulate, &args.input, true)?;
    if let Some(cache) = cache {
        cache.finish();
    }
    let stop = Arc::new(AtomicBool::new(false));
    watch_interrupts(stop.clone());
    let limiters = RateLimiters::new();
    let settings = ClientSettings::default();
    let total = workspace.tasks.len();
    let mut failed = 0;
    let mut pending = 0;
    let mut interrupted = false;
    let mut report = ApplyReport::new(args.output);
    for task in &workspace.tasks {
        if stop.load(Ordering::SeqCst) {
            interrupted = true;
            break;
        }
        if let Some(why) = suspension(task) {
            report.suspended(task.key(), format!("- {}: {why}; nothing sent", task.key()));
            continue;
        }
        let mut run = match TaskRun::prepare(task, &store, &limiters, &settings) {
            Ok(run) => TaskRun {
                // The embedded simulator is new every run: what the ledger says of it does not hold.
                full_listing: args.full_listing || args.simulate,
                ..run
            },
            Err(e) => {
                report.failed(task.key(), e.to_string());
                failed += 1;
                continue;
            }
        };
        let desired = run.desired.len() as u64;
        let invalid = run.desired.invalid_count();
        let text = report.is_text();
        let mut show = |summary: &local::TaskSummary| {
            if text {
                println!("{}", summary.render())
            }
        };
        match local::apply(&mut run, &store, &stop, &mut show).await {
            Ok(applied) => {
                if let Some(left) = applied.interrupted {
                    pending += left;
                    interrupted = true;
                    let line = format!(
                        "■ {}: stopped after the batch in flight (added {}, removed {})",
                        task.key(),
                        thousands(applied.added),
                        thousands(applied.removed)
                    );
                    report.interrupted(task.key(), &applied, line);
                    break;
                }
                let line = outcome_line(&task.key(), desired, invalid, &applied);
                if line.is_err() {
                    failed += 1;
                }
                report.finished(task.key(), &applied, line);
            }
            Err(e) => {
                report.failed(task.key(), e.to_string());
                failed += 1;
            }
        }
    }
    report.finish()?;
    if interrupted {
        return Err(FilesError::Interrupted { pending });
    }
    if failed > 0 {
        return Err(FilesError::TasksFailed { failed, total });
    }
    Ok(())
}

//! The `callsync` command line: one binary, one subcommand per job.
use clap::{Parser, Subcommand};

mod apply;
mod apply_report;
pub mod cluster;
pub mod completion;
pub mod controller;
pub mod doctor;
pub mod files;
pub mod import;
pub mod local;
mod plan;
pub mod private_files;
pub mod simulated;
pub mod usage;
mod validate;
pub mod version;
pub mod workspace;

/// Keeps the contacts of AI outbound-calling tasks at external providers equal to what is
/// declared in Kubernetes.
#[derive(Parser, Debug)]
#[command(name = "callsync", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Least severe log lines written to stderr (overrides RUST_LOG) [default: the
    /// controller logs info; the other commands log nothing].
    #[arg(
        long,
        global = true,
        value_enum,
        env = "CALLSYNC_LOG_LEVEL",
        value_name = "LEVEL"
    )]
    pub log_level: Option<crate::telemetry::LogLevel>,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the operator: watch CallTasks and drive provider tasks to their ContactLists.
    Controller(controller::ControllerArgs),
    /// Print the CustomResourceDefinitions (the content of `crds/`) as YAML.
    Crds {
        /// Write one file per CRD (`<plural>.yaml`) into this folder instead of printing them.
        #[arg(long, value_name = "DIR")]
        dir: Option<std::path::PathBuf>,
    },
    /// Serve a simulator of the three providers' documented APIs on loopback.
    Simulate(crate::simulator::cli::SimulateArgs),
    /// Show what a sync would change, from YAML files, without a cluster.
    Plan(plan::PlanArgs),
    /// Carry out a sync from YAML files, without a cluster.
    Apply(apply::ApplyArgs),
    /// Turn a CSV file of contacts into ContactList YAML shards.
    Import(import::ImportArgs),
    /// Check CallProvider, CallTask and ContactList YAML files before they are applied.
    Validate(validate::ValidateArgs),
    /// Ask each provider account and remote task, with read calls only, whether callsync's
    /// reading of the provider holds (run it before the first real sync).
    Doctor(doctor::DoctorArgs),
    /// Ask the controller to sync a CallTask now (before its resyncInterval); with --wait,
    /// wait for that sync and fail unless the CallTask ends Ready.
    Sync(cluster::sync::SyncArgs),
    /// Stop all provider calls of a CallTask (sets spec.suspend: true).
    Suspend(cluster::suspend::SuspendArgs),
    /// Resume a suspended CallTask (sets spec.suspend: false) and sync it now.
    Resume(cluster::resume::ResumeArgs),
    /// Print a shell completion script (bash, zsh or fish).
    Completion(completion::CompletionArgs),
    /// Print the version, the git commit and the build date (`-o json` for programs).
    Version(version::VersionArgs),
}

/// An error for people: one line saying what and where. The binary prints it and exits 1.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("cannot render the CRDs: {0}")]
    Crds(#[from] serde_yaml::Error),
    #[error("cannot write {path}: {source}")]
    Write {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write to standard output: {0}")]
    Stdout(#[from] std::io::Error),
    #[error("cannot render JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error(transparent)]
    Controller(#[from] controller::ControllerError),
    #[error(transparent)]
    Simulate(#[from] crate::simulator::cli::SimulateError),
    #[error(transparent)]
    Files(#[from] workspace::FilesError),
    #[error(transparent)]
    Import(#[from] import::ImportError),
    #[error(transparent)]
    Cluster(#[from] cluster::ClusterError),
    /// Not a failure: `plan --detailed-exitcode` found writes to make. The binary prints
    /// nothing more and exits 2.
    #[error("changes planned")]
    ChangesPlanned,
}

impl CliError {
    /// The process exit code: 2 for planned changes (`plan --detailed-exitcode`), else 1.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::ChangesPlanned => 2,
            _ => 1,
        }
    }
}

/// Runs one parsed command line.
pub async fn run(cli: Cli) -> Result<(), CliError> {
    // The controller installs its own logging (it has a format flag); the other commands log
    // only when asked to.
    if let Some(level) = cli.log_level
        && !matches!(cli.command, Command::Controller(_))
    {
        crate::telemetry::init_with_level(crate::telemetry::LogFormat::Text, Some(level), "");
    }
    match cli.command {
        Command::Crds { dir: None } => {
            use std::io::Write;
            let yaml = crate::api::crds_yaml()?;
            std::io::stdout().write_all(yaml.as_bytes())?;
            Ok(())
        }
        Command::Crds { dir: Some(dir) } => {
            for (file_name, yaml) in crate::api::crd_files()? {
                let path = dir.join(file_name);
                std::fs::write(&path, yaml).map_err(|source| CliError::Write { path, source })?;
            }
            Ok(())
        }
        Command::Controller(args) => Ok(controller::execute(args, cli.log_level).await?),
        Command::Simulate(args) => Ok(crate::simulator::cli::run(args).await?),
        Command::Plan(args) => {
            let detailed = args.detailed_exitcode;
            match plan::run(args).await? {
                true if detailed => Err(CliError::ChangesPlanned),
                _ => Ok(()),
            }
        }
        Command::Apply(args) => Ok(apply::run(args).await?),
        Command::Import(args) => Ok(import::execute(&args)?),
        Command::Validate(args) => Ok(validate::run(args)?),
        Command::Doctor(args) => Ok(doctor::run(args).await?),
        Command::Sync(args) => Ok(cluster::sync::run(args).await?),
        Command::Suspend(args) => Ok(cluster::suspend::run(args).await?),
        Command::Resume(args) => Ok(cluster::resume::run(args).await?),
        Command::Completion(args) => {
            use std::io::Write;
            std::io::stdout().write_all(&completion::script(&args))?;
            Ok(())
        }
        Command::Version(args) => {
            use std::io::Write;
            let text = version::render(&crate::build_info::CURRENT, args.output)?;
            std::io::stdout().write_all(text.as_bytes())?;
            Ok(())
        }
    }
}

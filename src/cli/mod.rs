//! The `callsync` command line: one binary, one subcommand per job.
use clap::{Parser, Subcommand};

mod apply;
pub mod controller;
pub mod doctor;
pub mod files;
pub mod import;
mod plan;
pub mod private_files;
pub mod simulated;
pub mod sync;
mod validate;
pub mod workspace;

/// Keeps the contacts of AI outbound-calling tasks at external providers equal to what is
/// declared in Kubernetes.
#[derive(Parser, Debug)]
#[command(name = "callsync", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
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
    #[error(transparent)]
    Controller(#[from] controller::ControllerError),
    #[error(transparent)]
    Simulate(#[from] crate::simulator::cli::SimulateError),
    #[error(transparent)]
    Files(#[from] workspace::FilesError),
    #[error(transparent)]
    Import(#[from] import::ImportError),
}

/// Runs one parsed command line.
pub async fn run(cli: Cli) -> Result<(), CliError> {
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
        Command::Controller(args) => Ok(controller::execute(args).await?),
        Command::Simulate(args) => Ok(crate::simulator::cli::run(args).await?),
        Command::Plan(args) => Ok(plan::run(args).await?),
        Command::Apply(args) => Ok(apply::run(args).await?),
        Command::Import(args) => Ok(import::execute(&args)?),
        Command::Validate(args) => Ok(validate::run(args)?),
        Command::Doctor(args) => Ok(doctor::run(args).await?),
    }
}

//! `callsync validate -f DIR`: the API server's schema checks, the references a sync needs
//! (CallProvider, ContactLists, Secrets, ConfigMaps, CSV sources) and every contact's phone
//! number — offline, for CI before merge. Lists every finding, not just the first.
use serde::Serialize;

use super::files::{Diagnostic, Severity};
use super::plan::OutputFormat;
use super::workspace::{FilesError, InputArgs, Workspace, print_diagnostics};

/// Check CallProvider, CallTask and ContactList YAML files before they are applied.
#[derive(clap::Args, Debug, Clone)]
pub struct ValidateArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Fail on warnings too (invalid phone numbers, which a sync skips; kinds callsync does
    /// not use; CallTasks that select nothing).
    #[arg(long)]
    pub strict: bool,
    /// `text` for people, `json` for programs: one document on stdout (schema in docs/cli.md).
    #[arg(long, short = 'o', value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
}

/// `--output json`: the stable document.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ValidationDocument {
    api_version: &'static str,
    kind: &'static str,
    /// No error (with `--strict`, no warning either).
    valid: bool,
    objects: ObjectCounts,
    errors: Vec<Finding>,
    warnings: Vec<Finding>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ObjectCounts {
    call_providers: usize,
    call_tasks: usize,
    contact_lists: usize,
    secrets: usize,
    config_maps: usize,
}

/// One finding: where (file, 1-based YAML document or 0 for the whole file, object, field
/// path) and what. Phones are masked as in the text lines.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Finding {
    file: String,
    document: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    object: Option<String>,
    path: String,
    message: String,
}

impl From<&Diagnostic> for Finding {
    fn from(d: &Diagnostic) -> Self {
        Self {
            file: d.origin.file.clone(),
            document: d.origin.document,
            object: d.origin.object.clone(),
            path: d.path.clone(),
            message: d.message.clone(),
        }
    }
}

pub fn run(args: ValidateArgs) -> Result<(), FilesError> {
    let mut workspace = Workspace::load(&args.input);
    if args.strict {
        workspace.diagnostics.make_warnings_errors();
    }
    let bundle = &workspace.bundle;
    let errors = workspace.diagnostics.error_count();
    let warnings = workspace.diagnostics.warning_count();
    match args.output {
        OutputFormat::Text => {
            print_diagnostics(&workspace.diagnostics, usize::MAX);
            println!(
                "{} CallProvider(s), {} CallTask(s), {} ContactList(s), {} Secret(s), {} ConfigMap(s): {errors} error(s), {warnings} warning(s)",
                bundle.providers.len(),
                bundle.tasks.len(),
                bundle.lists.len(),
                bundle.secrets.len(),
                bundle.config_maps.len(),
            );
        }
        OutputFormat::Json => {
            let findings = |severity: Severity| {
                workspace
                    .diagnostics
                    .items
                    .iter()
                    .filter(|d| d.severity == severity)
                    .map(Finding::from)
                    .collect::<Vec<_>>()
            };
            let document = ValidationDocument {
                api_version: "callsync.io/v1alpha1",
                kind: "Validation",
                valid: errors == 0,
                objects: ObjectCounts {
                    call_providers: bundle.providers.len(),
                    call_tasks: bundle.tasks.len(),
                    contact_lists: bundle.lists.len(),
                    secrets: bundle.secrets.len(),
                    config_maps: bundle.config_maps.len(),
                },
                errors: findings(Severity::Error),
                warnings: findings(Severity::Warning),
            };
            println!("{}", serde_json::to_string_pretty(&document)?);
        }
    }
    if errors > 0 {
        return Err(FilesError::ValidationFailed { errors, warnings });
    }
    Ok(())
}

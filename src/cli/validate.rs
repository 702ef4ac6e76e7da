//! `callsync validate -f DIR`: the API server's schema checks, the references a sync needs
//! (CallProvider, ContactLists, Secrets, ConfigMaps, CSV sources) and every contact's phone
//! number — offline, for CI before merge. Lists every finding, not just the first.
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
}

pub fn run(args: ValidateArgs) -> Result<(), FilesError> {
    let mut workspace = Workspace::load(&args.input);
    if args.strict {
        workspace.diagnostics.make_warnings_errors();
    }
    print_diagnostics(&workspace.diagnostics, usize::MAX);
    let bundle = &workspace.bundle;
    let errors = workspace.diagnostics.error_count();
    let warnings = workspace.diagnostics.warning_count();
    println!(
        "{} CallProvider(s), {} CallTask(s), {} ContactList(s), {} Secret(s), {} ConfigMap(s): {errors} error(s), {warnings} warning(s)",
        bundle.providers.len(),
        bundle.tasks.len(),
        bundle.lists.len(),
        bundle.secrets.len(),
        bundle.config_maps.len(),
    );
    if errors > 0 {
        return Err(FilesError::ValidationFailed { errors, warnings });
    }
    Ok(())
}

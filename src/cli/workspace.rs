//! What `plan`, `apply` and `validate` share: the `-f` arguments, loading and resolving the
//! files, printing findings, where the state lives, and their errors.
use std::path::{Path, PathBuf};

use super::files::cache::ParseCache;
use super::files::{self, Bundle, Diagnostics, ResolvedTask};
use super::local::TaskError;
use super::local::state::StateError;

/// The input files.
#[derive(clap::Args, Debug, Clone)]
pub struct InputArgs {
    /// A YAML file, or a folder read recursively (`*.yaml`, `*.yml`, hidden entries skipped).
    /// Repeat to read several.
    #[arg(short = 'f', long = "filename", value_name = "PATH", required = true)]
    pub files: Vec<PathBuf>,
}

/// Why `plan`, `apply` or `validate` failed. One line each; details were printed before.
#[derive(Debug, thiserror::Error)]
pub enum FilesError {
    #[error("{errors} {} in the files; nothing was sent to any provider", plural(*errors, "error", "errors"))]
    Invalid { errors: usize },
    #[error("validation failed: {errors} {}, {warnings} {}", plural(*errors, "error", "errors"), plural(*warnings, "warning", "warnings"))]
    ValidationFailed { errors: usize, warnings: usize },
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Task(#[from] TaskError),
    #[error("{failed} of {total} CallTasks did not reach their desired state (see above)")]
    TasksFailed { failed: usize, total: usize },
    #[error("interrupted; {pending} contacts pending, run apply again")]
    Interrupted { pending: u64 },
    #[error("cannot start the embedded simulator: {0}")]
    Simulator(#[from] crate::simulator::SimulatorError),
    #[error("cannot write JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("doctor found {problems} {} (see above)", plural(*problems, "problem", "problems"))]
    DoctorProblems { problems: usize },
}

fn plural(n: usize, one: &'static str, many: &'static str) -> &'static str {
    if n == 1 { one } else { many }
}

/// The files, loaded and resolved.
pub struct Workspace {
    pub bundle: Bundle,
    pub tasks: Vec<ResolvedTask>,
    pub diagnostics: Diagnostics,
}

impl Workspace {
    pub fn load(input: &InputArgs) -> Self {
        Self::load_cached(input, None)
    }

    /// [`Self::load`], reusing the parse of the ContactList files `cache` holds.
    pub fn load_cached(input: &InputArgs, cache: Option<&mut ParseCache>) -> Self {
        let mut diagnostics = Diagnostics::default();
        let bundle = files::load_cached(&input.files, cache, &mut diagnostics);
        let tasks = files::resolve(&bundle, &mut diagnostics);
        Self {
            bundle,
            tasks,
            diagnostics,
        }
    }

    /// Prints findings to stderr (at most `limit` warnings; every error) and refuses to go on
    /// when there is any error.
    pub fn gate(&self, warning_limit: usize) -> Result<(), FilesError> {
        print_diagnostics(&self.diagnostics, warning_limit);
        match self.diagnostics.error_count() {
            0 => Ok(()),
            errors => Err(FilesError::Invalid { errors }),
        }
    }
}

/// Prints errors, then up to `warning_limit` warnings, to stderr.
pub fn print_diagnostics(diagnostics: &Diagnostics, warning_limit: usize) {
    for d in diagnostics.errors() {
        eprintln!("error: {d}");
    }
    for (shown, d) in diagnostics.warnings().enumerate() {
        if shown == warning_limit {
            eprintln!(
                "warning: … and {} more (`callsync validate` lists them all)",
                diagnostics.warning_count() - shown
            );
            break;
        }
        eprintln!("warning: {d}");
    }
}

/// The state folder when `--state` is not given: `.callsync-state` inside the first `-f`
/// folder (or next to the first `-f` file), so the state stays with the files it describes
/// whatever the working directory. The loader skips hidden entries, so it is never read as input.
pub fn default_state_dir(files: &[PathBuf]) -> PathBuf {
    let first = files
        .first()
        .map(PathBuf::as_path)
        .unwrap_or(Path::new("."));
    let base = if first.is_dir() {
        first.to_path_buf()
    } else {
        first
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."))
    };
    base.join(".callsync-state")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_lives_with_the_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("a.yaml");
        std::fs::write(&file, "").expect("write");
        assert_eq!(
            default_state_dir(&[dir.path().to_path_buf()]),
            dir.path().join(".callsync-state")
        );
        assert_eq!(
            default_state_dir(&[file]),
            dir.path().join(".callsync-state")
        );
        assert_eq!(
            default_state_dir(&[PathBuf::from("x.yaml")]),
            PathBuf::from("./.callsync-state")
        );
    }
}

//! `callsync apply`'s pause journal (`providers::pause_journal`): a file beside the task's
//! ledger, `<task>.paused`, written (and synced) before a longlonglong task is paused and
//! removed after it is started again. A file left behind by a killed apply makes the next apply
//! start the task again first.
use std::io::Write;
use std::path::{Path, PathBuf};

use futures::future::BoxFuture;

use crate::cli::private_files::{WhenExposed, create_private_file, private_dir};
use crate::providers::PauseJournal;

#[derive(Debug)]
pub struct PauseFile {
    path: PathBuf,
}

impl PauseFile {
    pub fn new(path: PathBuf) -> Self {
        Self { path }
    }

    /// Whether an earlier run left a pause it did not undo.
    pub fn recorded(&self) -> bool {
        self.path.exists()
    }

    fn folder(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }

    fn write(&self) -> std::io::Result<()> {
        private_dir(self.folder(), WhenExposed::Tighten).map_err(std::io::Error::other)?;
        let mut file = create_private_file(&self.path)?;
        file.write_all(
            chrono::Utc::now()
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                .as_bytes(),
        )?;
        file.sync_all()?;
        std::fs::File::open(self.folder())?.sync_all()
    }

    fn remove(&self) -> std::io::Result<()> {
        match std::fs::remove_file(&self.path) {
            Ok(()) => std::fs::File::open(self.folder())?.sync_all(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }
}

impl PauseJournal for PauseFile {
    fn record(&self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            self.write()
                .map_err(|e| format!("{}: {e}", self.path.display()))
        })
    }

    fn clear(&self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            self.remove()
                .map_err(|e| format!("{}: {e}", self.path.display()))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[tokio::test]
    async fn a_pause_is_a_private_file_until_cleared() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = PauseFile::new(dir.path().join("ns").join("task.paused"));
        assert!(!file.recorded());
        file.record().await.expect("record");
        assert!(file.recorded());
        let mode = std::fs::metadata(&file.path)
            .expect("stat")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        file.clear().await.expect("clear");
        assert!(!file.recorded());
        file.clear().await.expect("clearing twice is fine");
    }
}

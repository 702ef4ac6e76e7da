//! Local files that hold phone numbers (the `apply` state, `import --out`): readable by their
//! owner only. Folders callsync creates are 0700 and files 0600, whatever the umask.
//!
//! A folder that already exists and that other users can read or enter (group or other bits
//! set) is a choice someone made: callsync tightens it only when it is callsync's own (see the
//! callers), and otherwise refuses with the `chmod` that fixes it — never a silent `chmod` of a
//! folder such as `/tmp` or a home directory. docs/cli.md "Local files" says the same.
use std::fs::{DirBuilder, File, OpenOptions, Permissions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Mode of folders with personal data.
pub const DIR_MODE: u32 = 0o700;
/// Mode of files with personal data.
pub const FILE_MODE: u32 = 0o600;

/// An existing folder that other users can read or enter.
#[derive(Debug, thiserror::Error)]
#[error(
    "{} can be read by other users (mode {mode:04o}) and would hold phone numbers; run `chmod 700 {}` or choose another folder",
    path.display(),
    path.display()
)]
pub struct ExposedFolder {
    pub path: PathBuf,
    pub mode: u32,
}

/// Why a private folder cannot be had.
#[derive(Debug, thiserror::Error)]
pub enum PrivateDirError {
    #[error(transparent)]
    Exposed(#[from] ExposedFolder),
    #[error("cannot create or tighten {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// What to do with an existing folder that others can access.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WhenExposed {
    /// It is callsync's own (made by an earlier version, which used the umask): chmod 0700.
    Tighten,
    /// It is the user's: refuse with [`ExposedFolder`].
    Refuse,
}

/// Makes sure `dir` exists and only its owner can access it. Missing folders (and missing
/// parents) are created 0700; an existing one is handled as `exposed` says. Returns whether an
/// existing folder was tightened.
pub fn private_dir(dir: &Path, exposed: WhenExposed) -> Result<bool, PrivateDirError> {
    let io = |source| PrivateDirError::Io {
        path: dir.to_path_buf(),
        source,
    };
    if !dir.exists() {
        DirBuilder::new()
            .recursive(true)
            .mode(DIR_MODE)
            .create(dir)
            .map_err(io)?;
        return Ok(false);
    }
    let mode = std::fs::metadata(dir).map_err(io)?.permissions().mode() & 0o7777;
    if mode & 0o077 == 0 {
        return Ok(false);
    }
    match exposed {
        WhenExposed::Tighten => {
            std::fs::set_permissions(dir, Permissions::from_mode(DIR_MODE)).map_err(io)?;
            Ok(true)
        }
        WhenExposed::Refuse => Err(ExposedFolder {
            path: dir.to_path_buf(),
            mode,
        }
        .into()),
    }
}

/// Opens `path` for writing, created 0600, truncated; an existing file (which keeps its mode
/// on open) is set to 0600 before anything is written to it.
pub fn create_private_file(path: &Path) -> std::io::Result<File> {
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(FILE_MODE)
        .open(path)?;
    file.set_permissions(Permissions::from_mode(FILE_MODE))?;
    Ok(file)
}

/// Writes `bytes` to a private file at `path`.
pub fn write_private_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    create_private_file(path)?.write_all(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).expect("stat").permissions().mode() & 0o7777
    }

    #[test]
    fn creates_owner_only_folders_and_files_and_handles_exposed_folders() {
        let root = tempfile::tempdir().expect("tempdir");
        let nested = root.path().join("a/b");
        assert!(!private_dir(&nested, WhenExposed::Refuse).expect("create"));
        assert_eq!(mode(&root.path().join("a")), 0o700);
        assert_eq!(mode(&nested), 0o700);

        let file = nested.join("f");
        std::fs::write(&file, "old").expect("write");
        std::fs::set_permissions(&file, Permissions::from_mode(0o644)).expect("chmod");
        write_private_file(&file, b"new").expect("write");
        assert_eq!(mode(&file), 0o600);
        assert_eq!(std::fs::read(&file).expect("read"), b"new");

        std::fs::set_permissions(&nested, Permissions::from_mode(0o755)).expect("chmod");
        let err = private_dir(&nested, WhenExposed::Refuse).expect_err("exposed");
        let text = err.to_string();
        assert!(
            text.contains("mode 0755") && text.contains(&format!("chmod 700 {}", nested.display())),
            "{text}"
        );
        assert_eq!(mode(&nested), 0o755, "refusing changes nothing");
        assert!(private_dir(&nested, WhenExposed::Tighten).expect("tighten"));
        assert_eq!(mode(&nested), 0o700);
    }
}

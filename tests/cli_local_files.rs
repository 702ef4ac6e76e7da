//! Local files of the CLI (safety items 7 and 9): what `apply` and `import --out` write holds
//! phone numbers and is owner-only (folders 0700, files 0600) — before, 0755 and 0644, readable
//! by every local user; an existing folder others can read is refused (or, the state's own,
//! tightened); and a `-f` YAML file past the size limit is refused by name, not parsed.
mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use support::cli::{Output, run};
use support::repo_root;

fn workdir() -> tempfile::TempDir {
    tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("tempdir under target/")
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read_dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            out.extend(files_under(&path));
        }
        out.push(path);
    }
    out
}

fn assert_failed_with(out: &Output, what: &str, expected: &str) {
    assert_eq!(out.code, Some(1), "{what}: exit code\n{}", out.all());
    assert!(
        out.stderr.contains(expected),
        "{what}: want {expected:?} in\n{}",
        out.all()
    );
    assert!(!out.all().contains("panicked"), "{}", out.all());
}

#[test]
fn import_out_writes_owner_only_files_and_refuses_a_folder_others_can_read() {
    let work = workdir();
    let csv = work.path().join("people.csv");
    let rows: String = (0..20).map(|i| format!("130{i:08},客户{i}\n")).collect();
    std::fs::write(&csv, format!("phone,name\n{rows}")).expect("csv");
    let out_dir = work.path().join("lists/q3");
    let csv_arg = csv.display().to_string();
    let out_arg = out_dir.display().to_string();
    let out = run(work.path(), &["import", &csv_arg, "--out", &out_arg]);
    assert!(out.success(), "{}", out.all());
    assert_eq!(
        mode(&work.path().join("lists")),
        0o700,
        "a created parent too"
    );
    assert_eq!(mode(&out_dir), 0o700);
    let written = files_under(&out_dir);
    assert!(!written.is_empty());
    for file in &written {
        assert_eq!(mode(file), 0o600, "{}", file.display());
    }

    // A re-import over a file someone made world-readable makes it owner-only again.
    chmod(&written[0], 0o644);
    let out = run(work.path(), &["import", &csv_arg, "--out", &out_arg]);
    assert!(out.success(), "{}", out.all());
    assert_eq!(mode(&written[0]), 0o600);

    // The user's folder, readable by others: refused, nothing written, the mode left alone.
    let shared = work.path().join("shared");
    std::fs::create_dir(&shared).expect("mkdir");
    chmod(&shared, 0o755);
    let shared_arg = shared.display().to_string();
    let out = run(work.path(), &["import", &csv_arg, "--out", &shared_arg]);
    assert_failed_with(
        &out,
        "import into a shared folder",
        &format!(
            "can be read by other users (mode 0755) and would hold phone numbers; run `chmod 700 {shared_arg}`"
        ),
    );
    assert!(files_under(&shared).is_empty());
    assert_eq!(mode(&shared), 0o755);
}

#[test]
fn apply_keeps_its_state_owner_only() {
    let work = workdir();
    let files = repo_root()
        .join("examples/quickstart")
        .display()
        .to_string();
    let state = work.path().join("state");
    let state_arg = state.display().to_string();
    let out = run(
        work.path(),
        &["apply", "-f", &files, "--simulate", "--state", &state_arg],
    );
    assert!(out.success(), "{}", out.all());
    assert_eq!(mode(&state), 0o700);
    let written = files_under(&state);
    assert!(
        written
            .iter()
            // `--simulate --state` marks its ledgers `<task>.ledger~simulated`.
            .any(|p| p.to_string_lossy().contains(".ledger")),
        "{written:?}"
    );
    assert!(
        written
            .iter()
            .any(|p| p.parent().is_some_and(|d| d.ends_with("_parsed"))),
        "the parse cache's entries, each ContactList file's: {written:?}"
    );
    for path in &written {
        let want = if path.is_dir() { 0o700 } else { 0o600 };
        assert_eq!(mode(path), want, "{}", path.display());
    }

    // A state folder of an earlier callsync (0755, ledgers 0644, with its lock file) is
    // tightened on the next apply.
    chmod(&state, 0o755);
    for path in &written {
        chmod(path, if path.is_dir() { 0o755 } else { 0o644 });
    }
    let out = run(
        work.path(),
        &["apply", "-f", &files, "--simulate", "--state", &state_arg],
    );
    assert!(out.success(), "{}", out.all());
    assert_eq!(mode(&state), 0o700);
    for path in files_under(&state) {
        if path.is_dir() || path.extension().is_some_and(|e| e == "ledger") {
            let want = if path.is_dir() { 0o700 } else { 0o600 };
            assert_eq!(mode(&path), want, "{}", path.display());
        }
    }

    // Any other folder that others can read is refused, not changed.
    let shared = work.path().join("shared");
    std::fs::create_dir(&shared).expect("mkdir");
    chmod(&shared, 0o755);
    let shared_arg = shared.display().to_string();
    let out = run(
        work.path(),
        &["apply", "-f", &files, "--simulate", "--state", &shared_arg],
    );
    assert_failed_with(
        &out,
        "apply with a shared state folder",
        &format!("run `chmod 700 {shared_arg}`"),
    );
    assert_eq!(mode(&shared), 0o755);
}

#[test]
fn a_yaml_file_past_the_size_limit_is_refused_by_name() {
    let work = workdir();
    let dir = work.path().join("files");
    std::fs::create_dir(&dir).expect("mkdir");
    for entry in std::fs::read_dir(repo_root().join("examples/quickstart")).expect("quickstart") {
        let path = entry.expect("entry").path();
        std::fs::copy(&path, dir.join(path.file_name().expect("name"))).expect("copy");
    }
    // 33 MiB of comments: valid YAML, and past the 32 MiB a file may have.
    let big = dir.join("zz-huge.yaml");
    let line = format!("# {}\n", "x".repeat(1021));
    std::fs::write(&big, line.repeat(33 * 1024)).expect("write");
    let dir_arg = dir.display().to_string();
    for command in ["validate", "plan"] {
        let out = run(work.path(), &[command, "-f", &dir_arg]);
        assert_failed_with(
            &out,
            command,
            &format!(
                "{}: file is larger than 32 MiB, the limit for one file; split it into several files",
                big.display()
            ),
        );
    }
    // Just under the limit it is read (and, being comments, holds nothing).
    std::fs::write(&big, line.repeat(31 * 1024)).expect("write");
    let out = run(work.path(), &["validate", "-f", &dir_arg]);
    assert!(out.success(), "{}", out.all());
}

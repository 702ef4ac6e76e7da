//! The suite's log folder for the leak scan (`tests/log_scan.rs`): when `CALLSYNC_TEST_LOG_DIR`
//! is set (`make test` sets it to `target/test-logs`), every test binary that uses the control
//! plane writes its in-process tracing output there, controller processes leave a copy of their
//! log there when they end, and the test kube-apiserver writes its audit log (Events and status
//! writes) there. Without the variable nothing is recorded and nothing changes.
use std::path::PathBuf;
use std::sync::Mutex;

/// The variable that names the folder.
pub const LOG_DIR_ENV: &str = "CALLSYNC_TEST_LOG_DIR";

/// The folder, created, when the variable is set. Test output never lands in the package root:
/// an empty value means `target/test-logs`, a relative one is taken under `target/`.
pub fn log_dir() -> Option<PathBuf> {
    let dir = resolve_log_dir(&std::env::var_os(LOG_DIR_ENV)?);
    std::fs::create_dir_all(&dir).ok()?;
    Some(dir)
}

/// Where a value of the variable points: absolute paths as given, anything else under the
/// package's `target/` folder.
pub fn resolve_log_dir(value: &std::ffi::OsStr) -> PathBuf {
    let target = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target");
    let given = PathBuf::from(value);
    if value.is_empty() {
        target.join("test-logs")
    } else if given.is_absolute() {
        given
    } else {
        target.join(given)
    }
}

/// The test binary's name without cargo's hash suffix (`controller_e2e`).
pub fn binary_name() -> String {
    let exe = std::env::current_exe().unwrap_or_default();
    let stem = exe
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "test".into());
    match stem.rsplit_once('-') {
        Some((name, hash)) if hash.chars().all(|c| c.is_ascii_hexdigit()) => name.to_string(),
        _ => stem,
    }
}

/// Installs a global tracing subscriber writing callsync's debug output (the simulator, which
/// plays the provider and is not callsync's output, excepted) and kube's info lines to
/// `<dir>/inprocess-<binary>-<pid>.log`. Does nothing without the variable or when a
/// subscriber is already installed.
pub fn init_in_process_tracing() {
    let Some(dir) = log_dir() else {
        return;
    };
    let path = dir.join(format!(
        "inprocess-{}-{}.log",
        binary_name(),
        std::process::id()
    ));
    let Ok(file) = std::fs::File::create(&path) else {
        return;
    };
    let filter = tracing_subscriber::EnvFilter::new("info,callsync=debug,callsync::simulator=off");
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(Mutex::new(file))
        .try_init();
}

/// Copies a controller process's log into the folder, under the name it had.
pub fn keep_process_log(log: &std::path::Path) {
    let (Some(dir), Some(name)) = (log_dir(), log.file_name()) else {
        return;
    };
    let processes = dir.join("processes");
    if std::fs::create_dir_all(&processes).is_ok() {
        let _ = std::fs::copy(log, processes.join(name));
    }
}

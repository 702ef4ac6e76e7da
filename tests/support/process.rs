//! `callsync controller` as a separate process: started with a kubeconfig, its log (stderr and
//! stdout) in a file, killed by pid (SIGKILL) on demand and on drop, however the test ends.
use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// One controller process.
pub struct ControllerProcess {
    child: Option<Child>,
    pub log: PathBuf,
}

impl ControllerProcess {
    /// Starts `binary controller <args> --kubeconfig <kubeconfig>` with `envs` added to the
    /// environment; stdout and stderr go to `log` (truncated).
    pub fn spawn(
        binary: &str,
        kubeconfig: &Path,
        log: PathBuf,
        args: &[&str],
        envs: &[(&str, &str)],
    ) -> Self {
        let file = std::fs::File::create(&log).expect("log file");
        let out = file.try_clone().expect("log file handle");
        let child = Command::new(binary)
            .arg("controller")
            .args(args)
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .envs(envs.iter().copied())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(file))
            .spawn()
            .expect("start callsync controller");
        Self {
            child: Some(child),
            log,
        }
    }

    /// SIGKILL (no chance to clean up: no lease release, no final status) and reap.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The process id, while it runs (for /proc figures: peak memory, CPU time).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Whether the process still runs.
    pub fn running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The last `lines` lines of the log, for a failure message.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = self.log_text();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// Polls the log until it holds `needle`.
    pub async fn wait_log(&self, needle: &str, within: Duration) {
        let what = format!("log {} to contain {needle:?}", self.log.display());
        poll(&what, within, || async { self.log_text().contains(needle) }).await;
    }
}

impl Drop for ControllerProcess {
    fn drop(&mut self) {
        self.kill();
        // For the suite's leak scan (tests/log_scan.rs); the control plane folder the log
        // usually sits in is removed when the test binary exits.
        super::logs::keep_process_log(&self.log);
    }
}

/// Polls `check` every 100 ms until it holds; panics after `within`.
pub async fn poll<F, Fut>(what: &str, within: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    loop {
        if check().await {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {within:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Polls a controller's `/readyz` at `addr` (`host:port`) until it answers 200 (its caches
/// hold their first listing) or `within` passes; true when it became ready.
pub async fn wait_ready(addr: &str, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    let url = format!("http://{addr}/readyz");
    loop {
        if let Ok(answer) = reqwest::get(&url).await
            && answer.status().is_success()
        {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

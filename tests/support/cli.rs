//! Running the real `callsync` binary in tests: bounded, output captured, killed by pid when
//! it overruns or when the test ends.
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub use super::BIN;

/// What a finished run printed.
#[derive(Debug)]
pub struct Output {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    /// Both streams, for messages.
    pub fn all(&self) -> String {
        format!("--- stdout\n{}--- stderr\n{}", self.stdout, self.stderr)
    }
}

/// A child process killed (by its pid) when dropped.
pub struct Running {
    pub child: Child,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Running {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits up to `bound` for the process to end and collects its output.
    pub fn finish(mut self, bound: Duration) -> Output {
        let started = Instant::now();
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => {
                    let mut stdout = String::new();
                    let mut stderr = String::new();
                    if let Some(mut s) = self.child.stdout.take() {
                        let _ = s.read_to_string(&mut stdout);
                    }
                    if let Some(mut s) = self.child.stderr.take() {
                        let _ = s.read_to_string(&mut stderr);
                    }
                    return Output {
                        code: status.code(),
                        stdout,
                        stderr,
                    };
                }
                Ok(None) if started.elapsed() < bound => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                _ => panic!("callsync did not finish within {bound:?}"),
            }
        }
    }
}

/// Starts `callsync ARGS` in `dir` with stdout and stderr captured.
pub fn spawn(dir: &Path, args: &[&str]) -> Running {
    let child = Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start callsync");
    Running { child }
}

/// Runs `callsync ARGS` in `dir` to the end (at most two minutes).
pub fn run(dir: &Path, args: &[&str]) -> Output {
    spawn(dir, args).finish(Duration::from_secs(120))
}

/// `callsync simulate -c CONFIG` on a free loopback port; returns the process and its base URL.
pub fn simulator(config: &Path) -> (Running, String) {
    let mut child = Command::new(BIN)
        .args(["simulate", "-c"])
        .arg(config)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start callsync simulate");
    let stdout = child.stdout.take().expect("stdout");
    let running = Running { child };
    let mut reader = BufReader::new(stdout);
    let mut line = String::new();
    reader
        .read_line(&mut line)
        .expect("simulator prints its address");
    // Read the admin line too: the simulator prints nothing more to stdout, so closing the
    // pipe afterwards cannot fail one of its writes.
    let mut admin = String::new();
    reader.read_line(&mut admin).expect("admin line");
    let url = line.trim().rsplit(' ').next().expect("address").to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "{line}");
    (running, url)
}

/// A GET of the simulator's admin API with its per-run token, as JSON.
pub fn admin_get(url: &str, token: &str) -> serde_json::Value {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let _ = rustls::crypto::ring::default_provider().install_default();
        reqwest::Client::new()
            .get(url)
            .bearer_auth(token)
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .expect("admin request")
            .json::<serde_json::Value>()
            .await
            .expect("admin JSON")
    })
}

//! A real Prometheus and its promtool, installed by `scripts/build-prometheus.sh` (Debian's
//! package, cached): started on a free 127.0.0.1 port with a data folder under `target/`, killed
//! by pid on drop, queried over its HTTP API.
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::repo_root;

/// The folder holding `prometheus` and `promtool`. Panics with the install command when they
/// are missing: a test that needs them never passes without them.
pub fn prometheus_dir() -> PathBuf {
    let output = Command::new(repo_root().join("scripts/build-prometheus.sh"))
        .arg("--path")
        .output()
        .expect("run scripts/build-prometheus.sh --path");
    let dir = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    assert!(
        output.status.success() && dir.join("prometheus").is_file(),
        "prometheus is not installed: {} (the command is `scripts/build-prometheus.sh`, or `make tools`)",
        String::from_utf8_lossy(&output.stderr).trim()
    );
    dir
}

pub fn promtool() -> PathBuf {
    prometheus_dir().join("promtool")
}

/// One Prometheus server.
pub struct Prometheus {
    child: Option<Child>,
    pub url: String,
    pub dir: PathBuf,
}

impl Prometheus {
    /// Starts Prometheus with `config` (prometheus.yml text) and the rule files it names, in a
    /// fresh folder `target/prometheus/<name>` (config, data and log).
    pub fn start(name: &str, config: &str) -> Self {
        let dir = repo_root().join("target/prometheus").join(name);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("prometheus folder");
        std::fs::write(dir.join("prometheus.yml"), config).expect("write prometheus.yml");
        let port = free_port();
        let log = std::fs::File::create(dir.join("prometheus.log")).expect("log file");
        let child = Command::new(prometheus_dir().join("prometheus"))
            .arg(format!(
                "--config.file={}",
                dir.join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::from(log.try_clone().expect("log handle")))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("start prometheus");
        Self {
            child: Some(child),
            url: format!("http://127.0.0.1:{port}"),
            dir,
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(self.dir.join("prometheus.log")).unwrap_or_default()
    }

    /// `GET /api/v1/<path>` with `query`; the `data` of a successful answer.
    pub async fn api(&self, path: &str, query: &[(&str, &str)]) -> Result<Value, String> {
        let url = reqwest::Url::parse_with_params(&format!("{}/api/v1/{path}", self.url), query)
            .map_err(|e| e.to_string())?;
        let answer = reqwest::Client::new()
            .get(url)
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let body: Value = answer.json().await.map_err(|e| e.to_string())?;
        if body["status"] != "success" {
            return Err(body.to_string());
        }
        Ok(body["data"].clone())
    }

    /// An instant query's result vector (`[{metric: {...}, value: [t, "v"]}]`).
    pub async fn query(&self, expr: &str) -> Result<Vec<Value>, String> {
        let data = self.api("query", &[("query", expr)]).await?;
        Ok(data["result"].as_array().cloned().unwrap_or_default())
    }

    /// Waits until Prometheus answers its readiness endpoint.
    pub async fn wait_ready(&self, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            if let Ok(answer) = reqwest::get(format!("{}/-/ready", self.url)).await
                && answer.status().is_success()
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "prometheus not ready within {within:?}: {}",
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A port free on 127.0.0.1 a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

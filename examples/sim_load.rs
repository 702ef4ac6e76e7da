//! Load generator for `callsync simulate`: starts a simulator in-process on 127.0.0.1:0 and
//! sends a bounded number of requests with bounded concurrency, then prints requests per second.
//!
//! ```text
//! cargo run --release --example sim_load -- [REQUESTS] [CONCURRENCY] [MAX_SECONDS]
//! ```
//! Defaults: 20000 requests, 32 in flight, stop after 60 s whatever is left. With `SIM_URL` set
//! (e.g. `SIM_URL=http://127.0.0.1:8089` against `callsync simulate --demo`) it loads that
//! simulator instead of starting one; it uses the `--demo` credentials. The mix is one third each: longlonglong `GET …/number` (Bearer), Callbot `addBatchCall` with one order
//! (signed, a write), NXLink `task/list` (signed).
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use callsync::api::SignatureAlgorithm;
use callsync::simulator::{Simulator, SimulatorConfig};
use tokio::sync::Semaphore;

fn arg(n: usize, default: u64) -> u64 {
    std::env::args()
        .nth(n)
        .and_then(|a| a.parse().ok())
        .unwrap_or(default)
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let total = arg(1, 20_000);
    let concurrency = arg(2, 32) as usize;
    let max = Duration::from_secs(arg(3, 60));
    let _ = rustls::crypto::ring::default_provider().install_default();

    let sim = match std::env::var("SIM_URL") {
        Ok(_) => None,
        Err(_) => Some(Simulator::start(SimulatorConfig::demo()).await?),
    };
    let base = match &sim {
        Some(sim) => sim.base_url(),
        None => std::env::var("SIM_URL")?,
    };
    let run = now_ms();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .timeout(Duration::from_secs(10))
        .build()?;
    let permits = Arc::new(Semaphore::new(concurrency));
    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    let mut sent = 0u64;
    while sent < total && started.elapsed() < max {
        let permit = permits.clone().acquire_owned().await?;
        let (http, base, ok, failed) = (http.clone(), base.clone(), ok.clone(), failed.clone());
        let n = sent;
        tasks.spawn(async move {
            let result = match n % 3 {
                0 => {
                    http.get(format!("{base}/agent-api/user/demo-lll-user/task/demo-lll-task/number?page=1&per_page=15"))
                        .bearer_auth("demo-lll-token")
                        .send()
                        .await
                }
                1 => {
                    let body = format!(
                        r#"{{"productID":"callbot","userTaskID":"demo-callbot-task","callInfoList":{{"orderCallbackUrl":"http://x","callCallbackUrl":"http://x","callList":[{{"orderID":"o{run}-{n}","userPhone":"86{}","other":"","userName":"","customerName":"","params":[]}}]}}}}"#,
                        13_000_000_000u64 + n
                    );
                    let ts = (now_ms() / 1000).to_string();
                    let rid = format!("r{run}-{n}");
                    let sign = callsync::signing::callbot_sign(
                        SignatureAlgorithm::Md5,
                        "demo-callbot-secret",
                        body.as_bytes(),
                        &ts,
                        &rid,
                        "demo-callbot-uuid",
                    );
                    http.post(format!("{base}/callcentre/api/v3/addBatchCall"))
                        .header("content-type", "application/json")
                        .header("requestID", rid)
                        .header("uuid", "demo-callbot-uuid")
                        .header("createTs", ts)
                        .header("sign", sign)
                        .body(body)
                        .send()
                        .await
                }
                _ => {
                    let body = r#"{"pageNumber":1,"pageSize":10}"#;
                    let ts = now_ms().to_string();
                    let sign = callsync::signing::nxlink_sign(
                        "AK-demo-nxlink",
                        "nxai",
                        "100",
                        &ts,
                        body.as_bytes(),
                        "demo-nxlink-secret",
                    );
                    http.post(format!("{base}/openapi/aiagent/task/list"))
                        .header("content-type", "application/json")
                        .header("accessKey", "AK-demo-nxlink")
                        .header("ts", ts)
                        .header("bizType", "100")
                        .header("action", "nxai")
                        .header("sign", sign)
                        .body(body)
                        .send()
                        .await
                }
            };
            let good = match result {
                Ok(response) => {
                    response.status().is_success()
                        && response
                            .text()
                            .await
                            .is_ok_and(|t| t.contains(r#""code":200"#) || t.contains(r#""retCode":0"#) || t.contains(r#""code":0"#))
                }
                Err(_) => false,
            };
            if good {
                ok.fetch_add(1, Ordering::Relaxed);
            } else {
                failed.fetch_add(1, Ordering::Relaxed);
            }
            drop(permit);
        });
        sent += 1;
        while tasks.try_join_next().is_some() {}
    }
    while tasks.join_next().await.is_some() {}
    let elapsed = started.elapsed().as_secs_f64();
    let ok = ok.load(Ordering::Relaxed);
    let failed = failed.load(Ordering::Relaxed);
    println!(
        "requests={sent} ok={ok} failed={failed} concurrency={concurrency} seconds={elapsed:.2} rate={:.0} req/s",
        ok as f64 / elapsed
    );
    if let Some(sim) = sim {
        sim.shutdown().await;
    }
    if failed > 0 {
        return Err(format!("{failed} requests failed").into());
    }
    Ok(())
}

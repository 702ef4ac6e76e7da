//! Provider answers past the byte limit (safety item 7): the simulator's `oversizedAnswer`
//! fault replaces every answer of an account by 256 MiB of spaces, or by a gzip of 64 MiB
//! (a gzip bomb of about 64 KiB on the wire). Each of the three clients, over real HTTP, must
//! refuse it with an error naming the endpoint and the operation, count nothing done, and stay
//! within the 8 MiB limit: the test process's peak memory grows by far less than one answer.
//! Before the limit, `bytes()` buffered and copied the whole body (3.1 GB for a 1 MB gzip).
mod support;

use std::time::Duration;

use callsync::api::SignatureAlgorithm;
use callsync::providers::{
    AnyProvider, ClientSettings, Provider, ProviderError, RateLimiters, RetryPolicy, TaskRef,
};
use callsync::simulator::{ProviderKind, TaskConfig, TaskState};
use serde_json::json;
use support::sim::*;

/// Peak resident memory of this process so far (VmHWM), in bytes.
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM");
    kib * 1024
}

fn running(id: &str) -> Vec<TaskConfig> {
    vec![TaskConfig {
        id: id.into(),
        state: TaskState::Running,
        ..TaskConfig::default()
    }]
}

/// Two attempts: the retry of an oversized answer is bounded the same way.
fn two_attempts() -> ClientSettings {
    ClientSettings {
        retry: RetryPolicy {
            max_attempts: 2,
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(20),
            max_retry_after: Duration::from_secs(1),
        },
        ..settings()
    }
}

fn assert_refused(what: &str, endpoint: &str, result: Result<(), ProviderError>) {
    let err = match result {
        Err(err) => err,
        Ok(()) => panic!("{what}: an oversized answer was accepted"),
    };
    let text = err.to_string();
    assert_eq!(err.reason(), "InvalidResponse", "{what}: {text}");
    assert!(
        text.contains(endpoint) && text.contains("bytes allowed (after decompression)"),
        "{what}: the error names the endpoint and the limit: {text}"
    );
}

async fn exercise(client: &AnyProvider, task: &TaskRef, endpoint: &str, label: &str) {
    let batch = contacts("130", 8, 0, 3, "limit");
    let added = client
        .add(task, &batch)
        .await
        .map(|outcome| panic!("{label}: add counted {} accepted", outcome.accepted()));
    assert_refused(&format!("{label} add"), endpoint, added);
    if client.capabilities().can_list {
        let listed = client.list(task).await.map(|_| ());
        assert_refused(&format!("{label} list"), endpoint, listed);
    }
    assert_refused(
        &format!("{label} credentials check"),
        endpoint,
        client.check_credentials().await,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_and_gzip_bomb_answers_are_refused_within_the_limit() {
    bounded(async {
        let sim = start(vec![
            account(
                ProviderKind::Longlonglong,
                LLL_USER,
                LLL_TOKEN,
                running("t1"),
            ),
            account(ProviderKind::Callbot, CB_UUID, CB_SECRET, running("c1")),
            account(ProviderKind::Nxlink, NX_KEY, NX_SECRET, running("n1")),
        ])
        .await;
        let admin = Admin::new(&sim);
        let endpoint = sim.base_url();
        let limiters = RateLimiters::new();
        let clients = [
            (
                "longlonglong",
                LLL_USER,
                "t1",
                build_with(
                    &lll_spec(&sim),
                    None,
                    lll_creds(LLL_TOKEN),
                    &limiters,
                    &key("lll"),
                    &two_attempts(),
                ),
            ),
            (
                "callbot",
                CB_UUID,
                "c1",
                build_with(
                    &callbot_spec(&sim, SignatureAlgorithm::Md5, true),
                    None,
                    cb_creds(CB_UUID, CB_SECRET),
                    &limiters,
                    &key("cb"),
                    &two_attempts(),
                ),
            ),
            (
                "nxlink",
                NX_KEY,
                "n1",
                build_with(
                    &nxlink_spec(&sim),
                    None,
                    nx_creds(NX_KEY, NX_SECRET),
                    &limiters,
                    &key("nx"),
                    &two_attempts(),
                ),
            ),
        ];
        let before = peak_rss();
        for answer in [
            json!({"bytes": 256u64 << 20}),
            json!({"bytes": 64u64 << 20, "gzip": true}),
        ] {
            for (provider, account, task, client) in &clients {
                admin
                    .set_faults(provider, account, json!({"oversizedAnswer": answer}))
                    .await;
                let label = format!("{provider} {answer}");
                exercise(client, &TaskRef::new(*task), &endpoint, &label).await;
                admin.set_faults(provider, account, json!(null)).await;
            }
        }
        let grown = peak_rss().saturating_sub(before);
        assert!(
            grown < 96 << 20,
            "peak memory grew by {} MiB reading answers of 64 and 256 MiB",
            grown >> 20
        );
        // Without the fault the same clients work: the limit refuses size, nothing else.
        let (_, _, task, client) = &clients[0];
        client
            .list(&TaskRef::new(*task))
            .await
            .expect("an ordinary answer is read");
    })
    .await;
}

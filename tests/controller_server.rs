//! The health and metrics endpoints over real HTTP on loopback.
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use callsync::controller::metrics::{Metrics, TaskLabels};
use callsync::controller::server::{ServerState, router};

#[tokio::test]
async fn health_readiness_and_metrics() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let metrics = Arc::new(Metrics::default());
    metrics
        .contacts_added
        .get_or_create(&TaskLabels {
            namespace: "campaigns".into(),
            calltask: "renewals".into(),
        })
        .inc_by(42);
    let ready = Arc::new(AtomicBool::new(false));
    let state = ServerState {
        metrics,
        ready: ready.clone(),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = tokio::spawn(async move { axum::serve(listener, router(state)).await });
    let http = reqwest::Client::new();
    let get = |path: &'static str| {
        let http = http.clone();
        async move {
            let response = http
                .get(format!("http://{addr}{path}"))
                .send()
                .await
                .expect("request");
            let status = response.status().as_u16();
            (status, response.text().await.expect("body"))
        }
    };

    assert_eq!(get("/healthz").await, (200, "ok".to_string()));
    assert_eq!(get("/readyz").await.0, 503, "not ready before caches sync");
    ready.store(true, Ordering::Relaxed);
    assert_eq!(get("/readyz").await, (200, "ok".to_string()));
    let (status, text) = get("/metrics").await;
    assert_eq!(status, 200);
    assert!(
        text.contains(
            r#"callsync_contacts_added_total{namespace="campaigns",calltask="renewals"} 42"#
        ),
        "{text}"
    );
    assert!(text.contains("# EOF"), "OpenMetrics text ends with # EOF");
    server.abort();
}

//! Leader election on the real apiserver: one holder at a time; release hands over.
mod support;

use std::time::Duration;

use callsync::controller::leader::{Leadership, LeaseTiming};

#[tokio::test]
async fn one_leader_at_a_time_and_release_hands_over() {
    let (client, ns) = support::control_plane().test_namespace("leader").await;
    let timing = LeaseTiming {
        duration_seconds: 4,
        grace_seconds: 1,
    };
    let mut first = Leadership::join(client.clone(), &ns, "callsync", "replica-a", timing)
        .await
        .expect("join a");
    tokio::time::timeout(Duration::from_secs(20), first.acquired())
        .await
        .expect("a becomes leader");

    let mut second = Leadership::join(client.clone(), &ns, "callsync", "replica-b", timing)
        .await
        .expect("join b");
    // While a renews, b must not become leader: wait two lease durations.
    let b_took_over = tokio::time::timeout(Duration::from_secs(8), second.acquired()).await;
    assert!(
        b_took_over.is_err(),
        "b became leader while a held the lease"
    );
    assert!(first.is_leader());

    first.release().await;
    tokio::time::timeout(Duration::from_secs(20), second.acquired())
        .await
        .expect("b takes over after a releases");
    assert!(second.is_leader());
}

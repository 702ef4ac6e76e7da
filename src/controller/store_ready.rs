//! Waiting for a reflector store's first full listing, safely with many waiters.
//!
//! kube-runtime's `Store::wait_until_ready` polls a one-shot channel that keeps only the waker of
//! its latest poller: of several tasks waiting at once, only the last one is woken when the
//! store becomes ready, and the others wait forever. Reconciles of several CallTasks start
//! together when the controller starts, often before the ContactList store is ready (large
//! lists take longest to list), so all but one CallTask would never sync until the process
//! restarts. Re-polling every wait on a short timer makes a lost wake-up cost at most that long.
use std::hash::Hash;
use std::time::Duration;

use kube::Resource;
use kube::runtime::reflector::Store;
use kube::runtime::reflector::store::WriterDropped;

/// How long one wait lasts before it is polled again.
const REPOLL: Duration = Duration::from_millis(100);

/// Waits until `store` holds its first full listing; `Err` when its writer is gone.
pub async fn store_ready<K>(store: &Store<K>) -> Result<(), WriterDropped>
where
    K: Resource + Clone + 'static,
    K::DynamicType: Eq + Hash + Clone,
{
    loop {
        if let Ok(result) = tokio::time::timeout(REPOLL, store.wait_until_ready()).await {
            return result;
        }
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::runtime::reflector;
    use kube::runtime::watcher::Event;

    use super::*;

    /// Regression: with `wait_until_ready` alone, two of three concurrent waiters never finish.
    #[tokio::test]
    async fn every_concurrent_waiter_is_released() {
        let (store, mut writer) = reflector::store::<ConfigMap>();
        let waiters: Vec<_> = (0..3)
            .map(|_| {
                let store = store.clone();
                tokio::spawn(async move { store_ready(&store).await.is_ok() })
            })
            .collect();
        // Let every waiter poll (and register its waker) before the store becomes ready.
        tokio::time::sleep(Duration::from_millis(50)).await;
        writer.apply_watcher_event(&Event::Init);
        writer.apply_watcher_event(&Event::InitDone);
        for waiter in waiters {
            let done = tokio::time::timeout(Duration::from_secs(5), waiter).await;
            assert!(
                matches!(done, Ok(Ok(true))),
                "a waiter was not released: {done:?}"
            );
        }
    }
}

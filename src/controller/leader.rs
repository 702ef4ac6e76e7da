//! Leader election on a `coordination.k8s.io` Lease (kube-lease-manager): one replica reconciles,
//! the others wait ready to take over when its lease lapses.
use kube::Client;
use kube_lease_manager::{LeaseManager, LeaseManagerBuilder};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Lease timing.
#[derive(Clone, Copy, Debug)]
pub struct LeaseTiming {
    /// How long a lease stays valid after its last renewal.
    pub duration_seconds: u64,
    /// How long before expiry the holder renews.
    pub grace_seconds: u64,
}

impl Default for LeaseTiming {
    fn default() -> Self {
        Self {
            duration_seconds: 15,
            grace_seconds: 5,
        }
    }
}

/// Leader election could not start.
#[derive(Debug, thiserror::Error)]
#[error("leader election on Lease {namespace}/{name} failed: {source}")]
pub struct LeaderElectionError {
    namespace: String,
    name: String,
    #[source]
    source: kube_lease_manager::LeaseManagerError,
}

/// This replica's part in the election.
pub struct Leadership {
    state: watch::Receiver<bool>,
    task: JoinHandle<kube_lease_manager::Result<LeaseManager>>,
}

impl Leadership {
    /// Joins the election for Lease `namespace/name` as `identity` (the pod name, usually).
    pub async fn join(
        client: Client,
        namespace: &str,
        name: &str,
        identity: &str,
        timing: LeaseTiming,
    ) -> Result<Self, LeaderElectionError> {
        let manager = LeaseManagerBuilder::new(client, name)
            .with_namespace(namespace)
            .with_identity(identity)
            .with_duration(timing.duration_seconds)
            .with_grace(timing.grace_seconds)
            .with_field_manager(crate::api::FIELD_MANAGER)
            .build()
            .await
            .map_err(|source| LeaderElectionError {
                namespace: namespace.to_string(),
                name: name.to_string(),
                source,
            })?;
        let (state, task) = manager.watch().await;
        Ok(Self { state, task })
    }

    /// Whether this replica holds the lease now.
    pub fn is_leader(&self) -> bool {
        *self.state.borrow()
    }

    /// Resolves once this replica holds the lease.
    pub async fn acquired(&mut self) {
        // A closed channel means the election task ended; never resolve then.
        if self.state.wait_for(|leader| *leader).await.is_err() {
            std::future::pending::<()>().await;
        }
    }

    /// Resolves once this replica no longer holds the lease (or the election task ended).
    pub async fn lost(&mut self) {
        let _ = self.state.wait_for(|leader| !*leader).await;
    }

    /// Gives the lease up at once, so another replica takes over without waiting for expiry.
    pub async fn release(self) {
        drop(self.state);
        if let Ok(Ok(manager)) = self.task.await
            && let Err(error) = manager.release().await
        {
            tracing::warn!(%error, "could not release the leader lease; it will expire");
        }
    }
}

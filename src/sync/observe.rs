//! Observe: what the provider has, as canonical phones, and the ledger settled against it.
use crate::ledger::{Ledger, ReconcileReport};
use crate::plan::{Observed, ObservedContact};
use crate::providers::{Provider, ProviderError, TaskRef};

use super::WireFormat;

/// What observation found.
#[derive(Debug, Default)]
pub struct Observation {
    /// The listing as the planner takes it; `None` when the provider cannot list.
    pub observed: Observed,
    /// Listed contacts whose phone could not be read (left alone, reported).
    pub unreadable: u64,
    /// How the ledger changed when settled against the listing.
    pub settled: ReconcileReport,
    /// Provider requests made.
    pub requests: u64,
}

/// Lists the task (where the provider can) and settles the ledger's in-flight entries and
/// drift against the listing.
pub async fn observe<P: Provider>(
    provider: &P,
    task: &TaskRef,
    wire: &WireFormat,
    ledger: &mut Ledger,
) -> Result<Observation, ProviderError> {
    let Some(listing) = provider.list(task).await? else {
        return Ok(Observation {
            requests: 1,
            ..Default::default()
        });
    };
    let mut unreadable = 0;
    let observed: Vec<ObservedContact> = listing
        .into_iter()
        .filter_map(|remote| match wire.decode(&remote.phone) {
            Ok(phone) => Some(ObservedContact {
                phone,
                remote_id: remote.remote_id,
                removable: remote.removable,
                content_digest: None,
            }),
            Err(_) => {
                unreadable += 1;
                None
            }
        })
        .collect();
    let settled = ledger.reconcile(&observed);
    Ok(Observation {
        observed: Some(observed),
        unreadable,
        settled,
        requests: 1,
    })
}

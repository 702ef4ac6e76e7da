//! Who owns a remote task. A CallTask claims the remote task it names at the *account* its
//! CallProvider reaches — (provider type, endpoint, account id, task id) — not at the
//! CallProvider object: two CallProviders (same or other namespace) can reach one account, and
//! two CallTasks writing one remote task undo each other's work (each removes what the other
//! adds). The first claimant (oldest creationTimestamp, then namespace/name) keeps it; any
//! other is refused with a condition naming it. The key is `providers::remote_task`'s, which
//! the CLI applies to the files too.
use std::sync::{Arc, RwLock};

use kube::ResourceExt;
use kube::runtime::reflector::{ObjectRef, Store};

use super::store_ready::store_ready;
use crate::api::{CallProvider, CallTask};

/// The CallTask and CallProvider stores of every namespace the controller watches (one pair a
/// watched namespace, or one for all), so that a claim is checked across all of them: each
/// namespace's reconciles otherwise see only their own namespace's stores.
#[derive(Clone, Default)]
pub struct WatchedStores(Arc<RwLock<Vec<ScopeStores>>>);

/// The CallTask and CallProvider stores of one watched scope.
type ScopeStores = (Store<CallTask>, Store<CallProvider>);

impl WatchedStores {
    /// Adds the stores of one watched scope.
    pub fn register(&self, tasks: Store<CallTask>, providers: Store<CallProvider>) {
        self.0
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push((tasks, providers));
    }

    fn scopes(&self) -> Vec<ScopeStores> {
        self.0
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Waits until every registered store holds its first listing (a namespace listed later
    /// would hide an older claimant); `false` when one of them stopped.
    pub async fn ready(&self) -> bool {
        for (tasks, providers) in self.scopes() {
            if store_ready(&tasks).await.is_err() || store_ready(&providers).await.is_err() {
                return false;
            }
        }
        true
    }

    /// Every CallTask of every watched namespace with its CallProvider, when it has one.
    pub fn tasks_with_providers(&self) -> Vec<(Arc<CallTask>, Option<Arc<CallProvider>>)> {
        let scopes = self.scopes();
        let mut out = Vec::new();
        for (tasks, _) in &scopes {
            for task in tasks.state() {
                let namespace = task.namespace().unwrap_or_default();
                let key = ObjectRef::new(&task.spec.provider_ref.name).within(&namespace);
                let provider = scopes.iter().find_map(|(_, providers)| providers.get(&key));
                out.push((task, provider));
            }
        }
        out
    }
}

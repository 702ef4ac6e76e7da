//! The controller's pause journal (`providers::pause_journal`): an annotation on the CallTask,
//! written before a longlonglong task is paused and removed after it is started again. It lives
//! with the object it concerns — visible in `kubectl get -o yaml`, gone with the CallTask — and
//! needs no write of the ledger in the middle of a batch.
use chrono::{SecondsFormat, Utc};
use futures::future::BoxFuture;
use kube::api::{Api, Patch, PatchParams};
use kube::{Client, ResourceExt};
use serde_json::json;

use crate::api::CallTask;
use crate::providers::PauseJournal;

/// Set (to the time of the pause) while callsync holds the task's remote task paused.
pub const PAUSED_ANNOTATION: &str = "callsync.io/remote-task-paused-at";

/// Whether the CallTask records a pause callsync never undid.
pub fn recorded(task: &CallTask) -> bool {
    task.annotations().contains_key(PAUSED_ANNOTATION)
}

/// The journal of one CallTask.
#[derive(Debug)]
pub struct AnnotationPauseJournal {
    api: Api<CallTask>,
    name: String,
}

impl AnnotationPauseJournal {
    pub fn new(client: Client, task: &CallTask) -> Self {
        Self {
            api: Api::namespaced(client, &task.namespace().unwrap_or_default()),
            name: task.name_any(),
        }
    }

    async fn set(&self, value: serde_json::Value) -> Result<(), String> {
        let patch = json!({"metadata": {"annotations": {PAUSED_ANNOTATION: value}}});
        self.api
            .patch(&self.name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map(|_| ())
            .map_err(|e| {
                format!(
                    "annotation {PAUSED_ANNOTATION} on CallTask {}: {e}",
                    self.name
                )
            })
    }
}

impl PauseJournal for AnnotationPauseJournal {
    fn record(&self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(self.set(json!(Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true))))
    }

    fn clear(&self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(self.set(serde_json::Value::Null))
    }
}

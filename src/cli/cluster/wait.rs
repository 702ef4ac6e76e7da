//! `--wait`: until `status.lastHandledSyncRequest` echoes the request this command made (so an
//! older sync, or one another person asked for, never counts), then the Ready condition says
//! how that sync ended.
use std::time::Duration;

use kube::runtime::wait::await_condition;

use super::{Cluster, ClusterError};
use crate::api::{CallTask, ConditionStatus, ConditionType, find_condition};

/// What the handled request should have led to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    /// A sync that ended Ready=True.
    Ready,
    /// The controller reports the task Suspended.
    Suspended,
}

fn handled_request(task: &CallTask) -> Option<&str> {
    task.status.as_ref()?.last_handled_sync_request.as_deref()
}

/// Waits until the controller handled `request`; the CallTask as it was then.
pub async fn handled(
    cluster: &Cluster,
    name: &str,
    request: &str,
    timeout: Duration,
) -> Result<CallTask, ClusterError> {
    let wanted = request.to_owned();
    let condition =
        move |task: Option<&CallTask>| task.is_none_or(|t| handled_request(t) == Some(&wanted));
    let waited = tokio::time::timeout(
        timeout,
        await_condition(cluster.api.clone(), name, condition),
    )
    .await;
    match waited {
        Ok(Ok(Some(task))) => Ok(task),
        Ok(Ok(None)) => Err(ClusterError::Deleted {
            name: name.to_owned(),
            namespace: cluster.namespace.clone(),
        }),
        Ok(Err(error)) => Err(ClusterError::Api {
            action: "watch",
            name: name.to_owned(),
            namespace: cluster.namespace.clone(),
            cluster: cluster.url.clone(),
            detail: error.to_string(),
        }),
        Err(_) => {
            let last = cluster.api.get_opt(name).await.ok().flatten();
            Err(ClusterError::Timeout {
                timeout: humanize(timeout),
                request: request.to_owned(),
                task: format!("CallTask {}/{name} at {}", cluster.namespace, cluster.url),
                handled: last
                    .as_ref()
                    .and_then(handled_request)
                    .map_or_else(|| "no request".to_owned(), |r| format!("request {r}")),
            })
        }
    }
}

fn humanize(timeout: Duration) -> String {
    format!("{}s", timeout.as_secs_f64())
}

/// The line to print for a handled request, or why it did not end as expected.
pub fn verdict(cluster: &Cluster, task: &CallTask, expect: Expect) -> Result<String, ClusterError> {
    let name = task.metadata.name.clone().unwrap_or_default();
    let ready = task
        .status
        .as_ref()
        .and_then(|s| find_condition(&s.conditions, ConditionType::Ready));
    let (status, reason, message) = match ready {
        Some(c) => (c.status, c.reason.clone(), c.message.clone()),
        None => (
            ConditionStatus::Unknown,
            "NoCondition".into(),
            String::new(),
        ),
    };
    let done = match expect {
        Expect::Ready => status == ConditionStatus::True,
        Expect::Suspended => reason == "Suspended",
    };
    if !done {
        return Err(ClusterError::NotReady {
            expected: match expect {
                Expect::Ready => "Ready",
                Expect::Suspended => "Suspended",
            },
            name,
            namespace: cluster.namespace.clone(),
            reason,
            message,
        });
    }
    Ok(format!(
        "✔ CallTask {}/{name}: {reason}: {message}",
        cluster.namespace
    ))
}

//! Pause → change → resume for started 2.0 tasks (code 6007), which must never leave paused a
//! task that was running.
//!
//! The change is tried first: a paused task or a 1.0 task needs no pause, and a 6007 answer is
//! the proof that the task was started. Only then, and only with `pauseTaskDuringSync`, the task
//! is paused (`PUT /agent-api/new/user/{user_id}/task_stop/{task_id}`), the change is made, and
//! the task is started again (`PUT …/task_start/{task_id}`: inferred by symmetry, not documented)
//! whatever the change's outcome. A resume that fails after its retries is
//! [`ProviderError::ResumeFailed`] (reason `TaskLeftPaused`): as the error when the change
//! failed too, else in [`BatchOutcome::alert`] next to the change's outcome. If the operation is
//! cancelled while the task is paused (shutdown), a guard starts the task from a detached task.
//! A process killed while the task is paused runs neither: the pause is written to the
//! client's [`PauseJournal`](crate::providers::PauseJournal) before it is made (no record, no
//! pause) and cleared after the resume, and [`resume_left_paused`] starts the task again on the
//! next sync.
use std::future::Future;

use super::LonglonglongClient;
use crate::providers::{BatchOutcome, ProviderError, SecretString, TaskRef};

/// Runs `change`; on 6007 with `pauseTaskDuringSync`, runs it again inside pause/resume.
pub(super) async fn with_pause<F, Fut>(
    client: &LonglonglongClient,
    task: &TaskRef,
    token: &SecretString,
    mut change: F,
) -> Result<BatchOutcome, ProviderError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<BatchOutcome, ProviderError>>,
{
    let first = change().await;
    let running = match &first {
        Err(ProviderError::TaskRunning { .. }) => true,
        Ok(outcome) => matches!(outcome.interrupted, Some(ProviderError::TaskRunning { .. })),
        Err(_) => false,
    };
    if !running || !client.inner.options.pause_task_during_sync {
        return first;
    }
    // A later chunk met 6007 (the task was started meanwhile): keep what went through and let
    // the next sync pause for the rest.
    if first.is_ok() {
        return first;
    }
    if let Some(journal) = &client.inner.pause_journal
        && let Err(detail) = journal.record().await
    {
        // Without a durable record a crash would leave the task paused with no one to know:
        // no pause, the change stays refused (6007) and the next sync tries again.
        tracing::error!(task = %task.id, %detail, "not pausing the running task: the pause could not be recorded first");
        return first;
    }
    tracing::info!(task = %task.id, "task is running; pausing it for the change (pauseTaskDuringSync)");
    client.set_task_running(task, token, false).await?;
    let guard = ResumeGuard {
        client: client.clone(),
        task: task.clone(),
        token: token.clone(),
        armed: true,
    };
    let result = change().await;
    let resumed = resume(client, task, token).await;
    guard.disarm();
    match (result, resumed) {
        (result, Ok(())) => {
            tracing::info!(task = %task.id, "task resumed after the change");
            clear_record(client, task).await;
            result
        }
        (Ok(mut outcome), Err(err)) => {
            outcome.alert = Some(err);
            Ok(outcome)
        }
        (Err(change_err), Err(err)) => {
            tracing::error!(task = %task.id, change_error = %change_err, "the change failed as well");
            Err(err)
        }
    }
}

/// Starts again a task whose pause is still recorded in the journal (the process that paused it
/// was killed before its resume), and clears the record. `Err(ResumeFailed)`: still paused.
pub(super) async fn resume_left_paused(
    client: &LonglonglongClient,
    task: &TaskRef,
    token: &SecretString,
) -> Result<(), ProviderError> {
    tracing::warn!(task = %task.id, "callsync paused this task and did not start it again (the process ended in between); starting it now");
    resume(client, task, token).await?;
    clear_record(client, task).await;
    Ok(())
}

/// Removes the journal's record after a resume. A record that stays makes the next sync start
/// a running task again (harmless) rather than forget a paused one.
async fn clear_record(client: &LonglonglongClient, task: &TaskRef) {
    if let Some(journal) = &client.inner.pause_journal
        && let Err(detail) = journal.clear().await
    {
        tracing::warn!(task = %task.id, %detail, "the task was resumed but its pause record could not be cleared");
    }
}

/// Starts the task again, in rounds of the transport's retries.
async fn resume(
    client: &LonglonglongClient,
    task: &TaskRef,
    token: &SecretString,
) -> Result<(), ProviderError> {
    let rounds = client.inner.resume_rounds;
    let mut last = None;
    for round in 1..=rounds {
        match client.set_task_running(task, token, true).await {
            Ok(()) => return Ok(()),
            Err(err) => {
                tracing::warn!(task = %task.id, round, reason = err.reason(), error = %err, "resuming the task failed");
                let retryable = err.is_retryable();
                last = Some(err);
                if !retryable {
                    break;
                }
                if round < rounds {
                    tokio::time::sleep(client.inner.transport.retry_policy().max_backoff).await;
                }
            }
        }
    }
    let detail = last.map_or_else(|| "unknown error".to_owned(), |e| e.to_string());
    tracing::error!(task = %task.id, %detail, "TASK LEFT PAUSED: callsync paused it for a change and could not start it again");
    Err(ProviderError::ResumeFailed {
        task: task.id.clone(),
        detail,
    })
}

/// Starts the task from a detached task if the operation is dropped while the task is paused.
struct ResumeGuard {
    client: LonglonglongClient,
    task: TaskRef,
    token: SecretString,
    armed: bool,
}

impl ResumeGuard {
    fn disarm(mut self) {
        self.armed = false;
    }
}

impl Drop for ResumeGuard {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::error!(task = %self.task.id, "TASK LEFT PAUSED: cancelled while paused and no runtime to resume it");
            return;
        };
        let client = self.client.clone();
        let task = self.task.clone();
        let token = self.token.clone();
        tracing::warn!(task = %task.id, "change cancelled while the task was paused; resuming it in the background");
        runtime.spawn(async move {
            let _ = resume(&client, &task, &token).await;
        });
    }
}

//! Client: the task's provider client, ready to sync — built by the sync's rule
//! ([`crate::sync::client_for`]) with the controller's credentials and pause journal, and with a
//! pause a killed process left behind undone first.
use std::sync::Arc;

use kube::ResourceExt;

use crate::api::{CallProvider, CallTask};
use crate::controller::context::Context;
use crate::controller::pause_journal::{self, AnnotationPauseJournal};
use crate::providers::{AnyProvider, ClientSettings, ProviderError, SecretCredentials, TaskRef};

/// The client of `task`'s account, after starting the remote task again if an earlier
/// process paused it and was killed before it could (the CallTask's pause annotation says so).
pub async fn ready(
    task: &CallTask,
    task_ref: &TaskRef,
    provider: &CallProvider,
    ctx: &Context,
) -> Result<AnyProvider, ProviderError> {
    let client = provider_for(task, provider, ctx)?;
    if pause_journal::recorded(task) {
        client.resume_left_paused(task_ref).await?;
    }
    Ok(client)
}

/// Builds the provider client of a task's account. Credentials are read from the Secret at
/// call time, so a rotated Secret takes effect without a restart.
pub fn provider_for(
    task: &CallTask,
    provider: &CallProvider,
    ctx: &Context,
) -> Result<AnyProvider, ProviderError> {
    let namespace = provider.namespace().unwrap_or_default();
    let credentials =
        SecretCredentials::for_provider(ctx.client.clone(), &namespace, &provider.spec)?;
    let settings = ClientSettings {
        pause_journal: Some(Arc::new(AnnotationPauseJournal::new(
            ctx.client.clone(),
            task,
        ))),
        ..ctx.settings.clients.clone()
    };
    crate::sync::client_for(
        task,
        provider,
        Arc::new(credentials),
        &ctx.limiters,
        &settings,
    )
}

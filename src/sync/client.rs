//! The provider client of one task: its CallProvider's account, endpoint and limits, the
//! task's provider options, and credentials from wherever the caller keeps them (a Secret read
//! at call time in the controller, files for the CLI). Both build it here, through the factory.
use std::sync::Arc;

use kube::ResourceExt;

use crate::api::{CallProvider, CallTask};
use crate::providers::factory::build_provider_with;
use crate::providers::{
    AccountKey, AnyProvider, ClientSettings, Credentials, ProviderError, RateLimiters,
    SharedCredentials,
};

/// The rate-limit account of a CallProvider: its uid, or for an object from files that has
/// none, a key of its namespace and name (stable across runs of the CLI).
pub fn account_of(provider: &CallProvider) -> AccountKey {
    let namespace = provider.namespace().unwrap_or_default();
    let uid = provider
        .uid()
        .unwrap_or_else(|| format!("files:{namespace}/{}", provider.name_any()));
    AccountKey::new(namespace, provider.name_any(), uid)
}

/// Builds `task`'s client for `provider`'s account.
pub fn client_for(
    task: &CallTask,
    provider: &CallProvider,
    credentials: SharedCredentials,
    limiters: &RateLimiters,
    settings: &ClientSettings,
) -> Result<AnyProvider, ProviderError> {
    build_provider_with(
        &account_of(provider),
        &provider.spec,
        task.spec.longlonglong.as_ref(),
        credentials,
        limiters,
        settings,
    )
}

/// Credentials known up front (the CLI's files), for [`client_for`].
pub fn fixed_credentials(credentials: Credentials) -> SharedCredentials {
    Arc::new(crate::providers::StaticCredentials(credentials))
}

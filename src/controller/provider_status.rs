//! The CallProvider's status: each account is checked with read calls only — credentials and
//! signature accepted, the provider's clock inside its documented window — by the same checks
//! as the first lines of `callsync doctor` (`crate::doctor`). Rechecked every
//! [`RECHECK_INTERVAL`], sooner after a failure, and whenever the spec or its Secret changes.
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::{Client, ResourceExt};
use serde_json::json;

use crate::api::{
    CallProvider, CallProviderStatus, Condition, ConditionStatus, ConditionType, FIELD_MANAGER,
    set_condition,
};
use crate::doctor::{Check, Recorder, Verdict, account_checks, max_skew};
use crate::providers::factory::build_provider_with;
use crate::providers::{AccountKey, ClientSettings, RateLimiters, SecretCredentials};

/// How often a working account is checked again (one cheap read each time).
pub const RECHECK_INTERVAL: Duration = Duration::from_secs(600);
/// How soon a failing account is checked again (a fixed Secret also wakes it at once).
pub const RETRY_INTERVAL: Duration = Duration::from_secs(60);

/// What the CallProvider controller shares.
pub struct ProviderContext {
    pub client: Client,
    /// The same limiters as the CallTasks': a check takes a token of the account's budget.
    pub limiters: RateLimiters,
    pub clients: ClientSettings,
}

/// Checks one account and writes its status when it changed.
pub async fn reconcile(
    provider: Arc<CallProvider>,
    ctx: Arc<ProviderContext>,
) -> Result<Action, kube::Error> {
    let (checks, skew) = check(&provider, &ctx).await;
    let status = status_after(&provider, &checks, skew, Utc::now());
    let ready = status
        .conditions
        .iter()
        .any(|c| c.type_ == ConditionType::Ready && c.status == ConditionStatus::True);
    if provider.status.as_ref() != Some(&status) {
        let api: Api<CallProvider> = Api::namespaced(
            ctx.client.clone(),
            &provider.namespace().unwrap_or_default(),
        );
        let patch = json!({
            "apiVersion": "callsync.io/v1alpha1",
            "kind": "CallProvider",
            "status": status,
        });
        api.patch_status(
            &provider.name_any(),
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&patch),
        )
        .await?;
    }
    Ok(Action::requeue(if ready {
        RECHECK_INTERVAL
    } else {
        RETRY_INTERVAL
    }))
}

/// A failed status write is retried after a short wait.
pub fn error_policy(
    _provider: Arc<CallProvider>,
    error: &kube::Error,
    _ctx: Arc<ProviderContext>,
) -> Action {
    tracing::debug!(%error, "CallProvider status write failed");
    Action::requeue(Duration::from_secs(15))
}

async fn check(provider: &CallProvider, ctx: &ProviderContext) -> (Vec<Check>, Option<i64>) {
    let namespace = provider.namespace().unwrap_or_default();
    let account = AccountKey::new(
        namespace.clone(),
        provider.name_any(),
        provider.uid().unwrap_or_default(),
    );
    let recorder = Arc::new(Recorder::new(Vec::new(), Vec::new()));
    let settings = ClientSettings {
        observer: Some(recorder.clone()),
        ..ctx.clients.clone()
    };
    let client = SecretCredentials::for_provider(ctx.client.clone(), &namespace, &provider.spec)
        .and_then(|credentials| {
            build_provider_with(
                &account,
                &provider.spec,
                None,
                Arc::new(credentials),
                &ctx.limiters,
                &settings,
            )
        });
    match client {
        Ok(client) => {
            let checks = account_checks(&client, &recorder).await;
            (checks, max_skew(&recorder.answers()))
        }
        Err(e) => (
            vec![Check {
                name: "credentials",
                verdict: Verdict::Failed,
                reason: e.reason(),
                detail: e.to_string(),
            }],
            None,
        ),
    }
}

/// The status a set of checks gives. Pure: the caller passes the clock reading.
pub fn status_after(
    provider: &CallProvider,
    checks: &[Check],
    clock_skew_seconds: Option<i64>,
    now: DateTime<Utc>,
) -> CallProviderStatus {
    let mut conditions = provider
        .status
        .as_ref()
        .map(|s| s.conditions.clone())
        .unwrap_or_default();
    let failed = checks.iter().find(|c| c.verdict == Verdict::Failed);
    let (status, reason, message) = match failed {
        Some(check) => (ConditionStatus::False, check.reason, check.detail.clone()),
        None => (
            ConditionStatus::True,
            "CredentialsAccepted",
            checks
                .iter()
                .map(|c| format!("{}: {}", c.name, c.detail))
                .collect::<Vec<_>>()
                .join("; "),
        ),
    };
    set_condition(
        &mut conditions,
        Condition {
            type_: ConditionType::Ready,
            status,
            reason: reason.to_owned(),
            message,
            last_transition_time: now,
            observed_generation: provider.metadata.generation,
        },
    );
    CallProviderStatus {
        observed_generation: provider.metadata.generation,
        provider_type: provider.spec.provider_type().map(str::to_owned),
        conditions,
        last_checked: Some(now),
        clock_skew_seconds,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn provider() -> CallProvider {
        let spec = serde_json::from_value(json!({
            "nxlink": {"region": "HK", "credentialsSecretRef": {"name": "creds"}}
        }))
        .expect("spec");
        let mut provider = CallProvider::new("acct", spec);
        provider.metadata.generation = Some(3);
        provider
    }

    fn check(verdict: Verdict, reason: &'static str, detail: &str) -> Check {
        Check {
            name: "credentials",
            verdict,
            reason,
            detail: detail.into(),
        }
    }

    #[test]
    fn accepted_credentials_make_the_account_ready_and_a_refusal_names_its_reason() {
        let t0 = Utc
            .with_ymd_and_hms(2026, 12, 1, 8, 0, 0)
            .single()
            .expect("time");
        let mut provider = provider();
        let ok = status_after(
            &provider,
            &[check(Verdict::Ok, "CredentialsAccepted", "accepted")],
            Some(1),
            t0,
        );
        let ready = &ok.conditions[0];
        assert_eq!(
            (ready.status, ready.reason.as_str()),
            (ConditionStatus::True, "CredentialsAccepted")
        );
        assert_eq!(ok.observed_generation, Some(3));
        assert_eq!(ok.provider_type.as_deref(), Some("nxlink"));
        assert_eq!(ok.clock_skew_seconds, Some(1));

        provider.status = Some(ok);
        let t1 = t0 + chrono::Duration::minutes(10);
        let refused = status_after(
            &provider,
            &[check(
                Verdict::Failed,
                "CredentialsRejected",
                "the provider refused the credentials",
            )],
            None,
            t1,
        );
        let ready = &refused.conditions[0];
        assert_eq!(
            (ready.status, ready.reason.as_str()),
            (ConditionStatus::False, "CredentialsRejected")
        );
        assert_eq!(ready.last_transition_time, t1, "the status flipped");
        assert_eq!(refused.last_checked, Some(t1));
    }

    #[test]
    fn a_clock_outside_the_window_is_not_ready() {
        let now = Utc
            .with_ymd_and_hms(2026, 12, 1, 8, 0, 0)
            .single()
            .expect("time");
        let status = status_after(
            &provider(),
            &[
                check(Verdict::Ok, "CredentialsAccepted", "accepted"),
                Check {
                    name: "clock",
                    verdict: Verdict::Failed,
                    reason: "ClockSkew",
                    detail: "provider clock +75 s from ours".into(),
                },
            ],
            Some(75),
            now,
        );
        let ready = &status.conditions[0];
        assert_eq!(
            (ready.status, ready.reason.as_str()),
            (ConditionStatus::False, "ClockSkew")
        );
    }
}

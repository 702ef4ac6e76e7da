//! The remote task a CallTask claims: (provider type, normalised endpoint, account id, task id).
//! One rule for the controller (`controller::ownership`, which refuses a second claimant) and
//! the CLI (`cli::files`), so it lives below both.
use reqwest::Url;

use crate::api::CallProviderSpec;
use crate::providers::Credentials;

/// The account a CallProvider reaches, as far as its spec tells: provider type, normalised
/// endpoint, and the account id when the spec holds it (longlonglong `userId`). Callbot and
/// NXLink keep the account id (`uuid`, `accessKey`) in the credentials Secret.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct AccountScope {
    pub kind: &'static str,
    pub endpoint: String,
    /// The account id from the spec, if the spec has one.
    pub spec_account: Option<String>,
}

/// The remote task a CallTask claims.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct RemoteTaskKey {
    pub scope: AccountScope,
    pub account: String,
    pub task_id: String,
}

/// Scheme, host, port and path, lowercased where case does not matter and without trailing
/// slashes, so that `https://API.example.com/` and `https://api.example.com` compare equal.
fn normalise_endpoint(endpoint: &str) -> String {
    match Url::parse(endpoint.trim()) {
        Ok(url) => {
            let port = url.port_or_known_default().map(|p| format!(":{p}"));
            format!(
                "{}://{}{}{}",
                url.scheme(),
                url.host_str().unwrap_or_default().to_ascii_lowercase(),
                port.unwrap_or_default(),
                url.path().trim_end_matches('/')
            )
        }
        Err(_) => endpoint.trim().trim_end_matches('/').to_ascii_lowercase(),
    }
}

/// The account scope of a CallProvider spec; `None` when no provider block (or several) is set.
pub fn account_scope(spec: &CallProviderSpec) -> Option<AccountScope> {
    let (kind, endpoint, spec_account) = match (&spec.longlonglong, &spec.callbot, &spec.nxlink) {
        (Some(a), None, None) => ("longlonglong", a.endpoint.clone(), Some(a.user_id.clone())),
        (None, Some(a), None) => ("callbot", a.endpoint.clone(), None),
        (None, None, Some(a)) => {
            let endpoint = match (&a.endpoint, a.region) {
                (Some(endpoint), _) => endpoint.clone(),
                (None, Some(region)) => region.endpoint().to_owned(),
                (None, None) => return None,
            };
            ("nxlink", endpoint, None)
        }
        _ => return None,
    };
    Some(AccountScope {
        kind,
        endpoint: normalise_endpoint(&endpoint),
        spec_account: spec_account.map(|a| a.trim().to_owned()),
    })
}

/// Whether a scope needs the credentials to name its account.
pub fn needs_credentials(scope: &AccountScope) -> bool {
    scope.spec_account.is_none()
}

/// The account id: from the spec, else from the credentials (Callbot `uuid`, NXLink
/// `accessKey`). `None` when the credentials are needed and not at hand.
pub fn account_id(scope: &AccountScope, credentials: Option<&Credentials>) -> Option<String> {
    if let Some(account) = &scope.spec_account {
        return Some(account.clone());
    }
    match credentials? {
        Credentials::Callbot { uuid, .. } => Some(uuid.trim().to_owned()),
        Credentials::Nxlink { access_key, .. } => Some(access_key.trim().to_owned()),
        Credentials::Longlonglong { .. } => None,
    }
}

/// The remote task a CallTask with `task_id` claims through a CallProvider with `spec`.
pub fn remote_task_key(
    spec: &CallProviderSpec,
    credentials: Option<&Credentials>,
    task_id: &str,
) -> Option<RemoteTaskKey> {
    let scope = account_scope(spec)?;
    let account = account_id(&scope, credentials)?;
    Some(RemoteTaskKey {
        scope,
        account,
        task_id: task_id.trim().to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::SecretString;
    use serde_json::json;

    fn spec(value: serde_json::Value) -> CallProviderSpec {
        serde_json::from_value(value).expect("spec")
    }

    #[test]
    fn two_providers_of_one_account_claim_the_same_remote_task() {
        let a = spec(
            json!({"longlonglong": {"endpoint": "https://AI.example.com/", "userId": "u-1",
                             "tokenSecretRef": {"name": "a", "key": "token"}}}),
        );
        let b = spec(
            json!({"longlonglong": {"endpoint": "https://ai.example.com", "userId": "u-1",
                             "tokenSecretRef": {"name": "other", "key": "t"}},
                            "timeoutSeconds": 5}),
        );
        assert_eq!(
            remote_task_key(&a, None, "42"),
            remote_task_key(&b, None, "42")
        );
        assert_ne!(
            remote_task_key(&a, None, "42"),
            remote_task_key(&a, None, "43")
        );
        let c = spec(
            json!({"longlonglong": {"endpoint": "https://ai.example.com", "userId": "u-2",
                             "tokenSecretRef": {"name": "a", "key": "token"}}}),
        );
        assert_ne!(
            remote_task_key(&a, None, "42"),
            remote_task_key(&c, None, "42")
        );
    }

    #[test]
    fn callbot_and_nxlink_accounts_come_from_the_credentials() {
        let nx = spec(json!({"nxlink": {"region": "HK", "credentialsSecretRef": {"name": "x"}}}));
        let nx_endpoint = spec(json!({"nxlink": {"endpoint": "https://api-hk.nxlink.ai/",
                                                  "credentialsSecretRef": {"name": "y"}}}));
        let creds = |key: &str| Credentials::Nxlink {
            access_key: key.into(),
            access_secret: SecretString::new("s"),
        };
        assert!(needs_credentials(&account_scope(&nx).expect("scope")));
        assert_eq!(remote_task_key(&nx, None, "7"), None);
        assert_eq!(
            remote_task_key(&nx, Some(&creds("AK")), "7"),
            remote_task_key(&nx_endpoint, Some(&creds("AK")), "7")
        );
        assert_ne!(
            remote_task_key(&nx, Some(&creds("AK")), "7"),
            remote_task_key(&nx, Some(&creds("AK2")), "7")
        );
    }
}

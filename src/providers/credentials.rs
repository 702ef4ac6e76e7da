//! Provider credentials, read at call time so that a rotated Secret takes effect at the next
//! request without a restart.
//!
//! Secrets are held in [`SecretString`], whose `Debug` and `Display` print `***`; nothing in this
//! module logs a value.
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use k8s_openapi::api::core::v1::Secret;
use kube::Api;

use super::ProviderError;
use crate::api::{CallProviderSpec, SecretUse};

/// A secret value. Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretString(String);

impl SecretString {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value, for signing and headers only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// The credentials of one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    /// longlonglong partner token (`Authorization: Bearer …`).
    Longlonglong { token: SecretString },
    /// Callbot `uuid` (sent as a header, not secret but kept together) and `secretKey`.
    Callbot {
        uuid: String,
        secret_key: SecretString,
    },
    /// NXLink `accessKey` (sent as a header) and `accessSecret` (never sent).
    Nxlink {
        access_key: String,
        access_secret: SecretString,
    },
}

impl Credentials {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Longlonglong { .. } => "longlonglong",
            Self::Callbot { .. } => "callbot",
            Self::Nxlink { .. } => "nxlink",
        }
    }
}

/// A boxed future, so that sources can be used as `dyn CredentialSource`.
pub type CredentialFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Credentials, ProviderError>> + Send + 'a>>;

/// Where a client gets its credentials, once per provider operation.
pub trait CredentialSource: Send + Sync {
    fn get(&self) -> CredentialFuture<'_>;
}

/// Fixed credentials, for tests and the CLI.
#[derive(Debug, Clone)]
pub struct StaticCredentials(pub Credentials);

impl CredentialSource for StaticCredentials {
    fn get(&self) -> CredentialFuture<'_> {
        let creds = self.0.clone();
        Box::pin(async move { Ok(creds) })
    }
}

/// Which Secret keys hold which credential.
#[derive(Debug, Clone, PartialEq, Eq)]
enum SecretLayout {
    Longlonglong { token_key: String },
    Callbot,
    Nxlink,
}

/// Reads a Kubernetes Secret of the CallProvider's namespace on every `get` — only one labelled
/// `callsync.io/credentials: "true"`, else a terminal error naming the label — with the keys the
/// docs name: longlonglong `tokenSecretRef.key`; Callbot `uuid` and `secretKey`; NXLink
/// `accessKey` and `accessSecret`. A missing Secret or key is a terminal error that names the
/// Secret and the key (never a value); an unreachable API server is retryable.
#[derive(Clone)]
pub struct SecretCredentials {
    api: Api<Secret>,
    namespace: String,
    secret: String,
    layout: SecretLayout,
}

impl SecretCredentials {
    /// The source for a CallProvider in `namespace`.
    pub fn for_provider(
        client: kube::Client,
        namespace: &str,
        spec: &CallProviderSpec,
    ) -> Result<Self, ProviderError> {
        let (secret, layout) = match (&spec.longlonglong, &spec.callbot, &spec.nxlink) {
            (Some(l), None, None) => (
                l.token_secret_ref.name.clone(),
                SecretLayout::Longlonglong {
                    token_key: l.token_secret_ref.key.clone(),
                },
            ),
            (None, Some(c), None) => (c.credentials_secret_ref.name.clone(), SecretLayout::Callbot),
            (None, None, Some(n)) => (n.credentials_secret_ref.name.clone(), SecretLayout::Nxlink),
            _ => {
                return Err(ProviderError::Config(
                    "exactly one of longlonglong, callbot or nxlink must be set".into(),
                ));
            }
        };
        Ok(Self {
            api: Api::namespaced(client, namespace),
            namespace: namespace.to_owned(),
            secret,
            layout,
        })
    }

    /// `namespace/name` of the Secret, for messages.
    pub fn secret_name(&self) -> String {
        format!("{}/{}", self.namespace, self.secret)
    }

    async fn read(&self) -> Result<Credentials, ProviderError> {
        let secret = match self.api.get_opt(&self.secret).await {
            Ok(Some(secret)) => secret,
            Ok(None) => {
                return Err(ProviderError::CredentialsMissing {
                    secret: self.secret_name(),
                    key: "(the Secret does not exist)".into(),
                });
            }
            Err(err) => {
                return Err(ProviderError::CredentialsUnavailable {
                    secret: self.secret_name(),
                    detail: err.to_string(),
                });
            }
        };
        // Only a Secret labelled for it is ever sent anywhere (see `crate::api::SecretUse`).
        SecretUse::Credentials
            .check(
                &self.namespace,
                &self.secret,
                secret.metadata.labels.as_ref(),
            )
            .map_err(|refused| ProviderError::SecretNotOptedIn(Box::new(refused)))?;
        let key = |name: &str| secret_key(&secret, name, &self.secret_name());
        Ok(match &self.layout {
            SecretLayout::Longlonglong { token_key } => Credentials::Longlonglong {
                token: SecretString::new(key(token_key)?),
            },
            SecretLayout::Callbot => Credentials::Callbot {
                uuid: key("uuid")?,
                secret_key: SecretString::new(key("secretKey")?),
            },
            SecretLayout::Nxlink => Credentials::Nxlink {
                access_key: key("accessKey")?,
                access_secret: SecretString::new(key("accessSecret")?),
            },
        })
    }
}

impl CredentialSource for SecretCredentials {
    fn get(&self) -> CredentialFuture<'_> {
        Box::pin(self.read())
    }
}

/// One key of a Secret, from `data` (or `stringData` on objects not yet stored), trimmed of
/// surrounding whitespace (a trailing newline from `echo` is a classic); empty = missing.
fn secret_key(secret: &Secret, key: &str, secret_name: &str) -> Result<String, ProviderError> {
    let missing = || ProviderError::CredentialsMissing {
        secret: secret_name.to_owned(),
        key: key.to_owned(),
    };
    let value = secret
        .data
        .as_ref()
        .and_then(|d| d.get(key))
        .map(|bytes| String::from_utf8(bytes.0.clone()).map_err(|_| missing()))
        .or_else(|| {
            secret
                .string_data
                .as_ref()
                .and_then(|d| d.get(key))
                .map(|s| Ok(s.clone()))
        })
        .ok_or_else(missing)??;
    let value = value.trim().to_owned();
    if value.is_empty() {
        return Err(missing());
    }
    Ok(value)
}

/// Shared handle to a credential source.
pub type SharedCredentials = Arc<dyn CredentialSource>;

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use k8s_openapi::ByteString;

    use super::*;

    #[test]
    fn secrets_never_print() {
        let creds = Credentials::Callbot {
            uuid: "u".into(),
            secret_key: SecretString::new("s3cr3t"),
        };
        let printed = format!("{creds:?}");
        assert!(!printed.contains("s3cr3t"), "{printed}");
    }

    #[test]
    fn reads_and_trims_keys() {
        let secret = Secret {
            data: Some(BTreeMap::from([
                ("token".to_owned(), ByteString(b"abc\n".to_vec())),
                ("empty".to_owned(), ByteString(Vec::new())),
            ])),
            ..Secret::default()
        };
        assert_eq!(
            secret_key(&secret, "token", "ns/s").ok(),
            Some("abc".into())
        );
        let missing = secret_key(&secret, "nope", "ns/s");
        assert!(matches!(
            missing,
            Err(ProviderError::CredentialsMissing { ref key, .. }) if key == "nope"
        ));
        assert!(secret_key(&secret, "empty", "ns/s").is_err());
    }
}

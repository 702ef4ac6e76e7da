//! Which Secrets callsync may read for a user: only those that opt in with a label.
//!
//! A CallProvider's credentials are sent to the endpoint the CallProvider names; a ContactList's
//! `source.secretRef` is parsed as CSV and its numbers are sent to a provider. Without a rule,
//! anyone allowed to edit callsync objects in a namespace — but not to read its Secrets — could
//! point callsync at any Secret of the namespace and have its value sent to a server of their
//! choosing. callsync's ServiceAccount reads Secrets; the person editing the CallProvider may not.
//!
//! So a Secret is used only when whoever may write Secrets has labelled it for that use:
//! `callsync.io/credentials: "true"` for a CallProvider's credentials, `callsync.io/contacts:
//! "true"` for a ContactList source. Two labels, not one: a credentials Secret is never read as
//! contacts (and so sent to a provider as phone numbers) and a contacts Secret is never sent as a
//! token. A Secret may carry both when it really serves both.
//!
//! The controller (credentials at call time, ContactList sources at load) and the CLI
//! (`plan/apply/validate -f`, reading Secrets from files) both ask [`SecretUse::check`].
use std::collections::BTreeMap;

/// Label that lets a Secret be used as a CallProvider's credentials.
pub const CREDENTIALS_LABEL: &str = "callsync.io/credentials";
/// Label that lets a Secret be used as a ContactList's CSV source.
pub const CONTACTS_LABEL: &str = "callsync.io/contacts";
/// The one label value that opts in.
pub const OPT_IN_VALUE: &str = "true";

/// What callsync wants a Secret for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecretUse {
    /// A CallProvider's credentials (sent to the provider endpoint).
    Credentials,
    /// A ContactList's `source.secretRef` (read as CSV; its numbers go to a provider).
    Contacts,
}

impl SecretUse {
    /// The label a Secret needs for this use.
    pub fn label(self) -> &'static str {
        match self {
            Self::Credentials => CREDENTIALS_LABEL,
            Self::Contacts => CONTACTS_LABEL,
        }
    }

    fn purpose(self) -> &'static str {
        match self {
            Self::Credentials => "CallProvider credentials",
            Self::Contacts => "a ContactList source",
        }
    }

    /// Whether a Secret with these labels opted in to this use.
    pub fn allows(self, labels: Option<&BTreeMap<String, String>>) -> bool {
        labels
            .and_then(|l| l.get(self.label()))
            .is_some_and(|v| v == OPT_IN_VALUE)
    }

    /// `Ok` when the Secret `namespace/name` with `labels` may be used this way; otherwise an
    /// error naming the Secret and the label to add (never a value of the Secret).
    pub fn check(
        self,
        namespace: &str,
        name: &str,
        labels: Option<&BTreeMap<String, String>>,
    ) -> Result<(), SecretNotOptedIn> {
        if self.allows(labels) {
            return Ok(());
        }
        Err(SecretNotOptedIn {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            label: self.label(),
            purpose: self.purpose(),
        })
    }
}

/// A Secret was named for a use it did not opt in to.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "Secret {namespace}/{name} is not labelled {label}=\"{OPT_IN_VALUE}\", so callsync does not \
     use it as {purpose}; if it is meant to be, label it: \
     kubectl label secret -n {namespace} {name} {label}={OPT_IN_VALUE}"
)]
pub struct SecretNotOptedIn {
    pub namespace: String,
    pub name: String,
    pub label: &'static str,
    purpose: &'static str,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn only_the_label_of_the_use_with_value_true_opts_in() {
        let credentials = labels(&[(CREDENTIALS_LABEL, "true")]);
        let contacts = labels(&[(CONTACTS_LABEL, "true")]);
        assert!(SecretUse::Credentials.allows(Some(&credentials)));
        assert!(SecretUse::Contacts.allows(Some(&contacts)));
        // One use does not open the other.
        assert!(!SecretUse::Credentials.allows(Some(&contacts)));
        assert!(!SecretUse::Contacts.allows(Some(&credentials)));
        assert!(!SecretUse::Credentials.allows(None));
        for value in ["false", "True", "yes", "1", ""] {
            let other = labels(&[(CREDENTIALS_LABEL, value)]);
            assert!(!SecretUse::Credentials.allows(Some(&other)), "{value:?}");
        }
    }

    #[test]
    fn refusal_names_the_secret_and_the_label_to_add() {
        let err = SecretUse::Contacts
            .check("team-a", "people", None)
            .expect_err("unlabelled");
        let message = err.to_string();
        assert!(message.contains("team-a/people"), "{message}");
        assert!(
            message.contains("kubectl label secret -n team-a people callsync.io/contacts=true"),
            "{message}"
        );
    }
}

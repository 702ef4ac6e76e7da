//! Every reason callsync writes into a `Ready` condition, in one place. The controller sets
//! reasons only through these constants (or exhaustive matches returning them), so
//! [`CALL_TASK`] and [`CONTACT_LIST`] are the complete lists; `tests/condition_reasons.rs`
//! checks that docs/operations.md's Conditions table explains each of them and names no other,
//! and that docs/gitops.md names none outside them. The same reason sits on `Reconciling` or
//! `Stalled` when that one is True.
//!
//! Not covered: CallProvider conditions, whose reasons are the read-only checks' verdicts
//! (`callsync doctor`, docs/providers/README.md).

macro_rules! reasons {
    ($list:ident: $( $(#[$doc:meta])* $name:ident = $value:literal, )*) => {
        $( $(#[$doc])* pub const $name: &str = $value; )*
        /// Every constant above, in order.
        pub const $list: &[&str] = &[$($name),*];
    };
}

reasons! {
    CALL_TASK:
    // Ready=True.
    /// The provider holds exactly the desired contacts.
    IN_SYNC = "InSync",
    /// In sync, with entries left out that are not valid or not writable phones.
    INVALID_CONTACTS = "InvalidContacts",
    // Reconciling=True: waiting may fix it.
    /// Batches remain, or the provider has not confirmed some writes yet.
    PROGRESSING = "Progressing",
    /// The sync ended with desired contacts the provider has not confirmed.
    UNCONFIRMED = "Unconfirmed",
    /// Timeouts, connection errors, 5xx.
    PROVIDER_UNREACHABLE = "ProviderUnreachable",
    /// The provider answered 429.
    RATE_LIMITED = "RateLimited",
    /// The provider said it is busy.
    PROVIDER_BUSY = "ProviderBusy",
    /// An earlier import still runs at the provider.
    IMPORT_RUNNING = "ImportRunning",
    /// An answer callsync could not read.
    INVALID_RESPONSE = "InvalidResponse",
    /// The API server could not be asked for the credential Secret.
    CREDENTIALS_UNAVAILABLE = "CredentialsUnavailable",
    /// The ContactList cache has not started (the controller is starting or stopping).
    CACHES_NOT_READY = "CachesNotReady",
    /// Two writers saved the ledger at once.
    LEDGER_CONFLICT = "LedgerConflict",
    /// The API server failed a ledger read or write.
    KUBERNETES_ERROR = "KubernetesError",
    // Stalled=True: a person must act.
    /// Desired contacts refused by the provider.
    CONTACTS_REFUSED = "ContactsRefused",
    /// Contacts no longer wanted that callsync cannot remove.
    CONTACTS_NOT_REMOVABLE = "ContactsNotRemovable",
    /// `policy.management: ObserveOnly` and the provider lacks desired contacts.
    OBSERVE_ONLY = "ObserveOnly",
    /// Wrong token or signature secret, or a missing Secret or key.
    CREDENTIALS_REJECTED = "CredentialsRejected",
    /// The provider's clock is outside its documented window (NXLink).
    CLOCK_SKEW = "ClockSkew",
    /// The provider refused even the smallest batch as too large.
    BATCH_TOO_LARGE = "BatchTooLarge",
    /// The provider refused a request (its code and message are in the condition's message).
    REQUEST_REJECTED = "RequestRejected",
    /// The CallProvider's Secret lacks the opt-in label.
    SECRET_NOT_OPTED_IN = "SecretNotOptedIn",
    /// A CallProvider spec callsync refuses (a plain http endpoint, not a URL).
    INVALID_PROVIDER_CONFIG = "InvalidProviderConfig",
    /// A running longlonglong task refuses changes.
    TASK_RUNNING = "TaskRunning",
    /// callsync paused a task and could not start it again.
    TASK_LEFT_PAUSED = "TaskLeftPaused",
    /// The provider does not know `spec.taskId`.
    TASK_NOT_FOUND = "TaskNotFound",
    /// A sync would remove more than `policy.maxDeletePercent`.
    DELETION_GUARD = "DeletionGuard",
    /// `spec.providerRef` names no CallProvider.
    PROVIDER_NOT_FOUND = "ProviderNotFound",
    /// The CallProvider named is not valid.
    PROVIDER_INVALID = "ProviderInvalid",
    /// An older CallTask manages the same remote task.
    DUPLICATE_TASK = "DuplicateTask",
    /// A ContactList named in `spec.contactLists.names` does not exist.
    CONTACT_LIST_NOT_FOUND = "ContactListNotFound",
    /// A selected ContactList's CSV source cannot be read.
    CONTACT_LIST_UNREADABLE = "ContactListUnreadable",
    /// `spec.contactLists.selector` is not a valid selector.
    INVALID_SELECTOR = "InvalidSelector",
    /// The ledger cannot be decoded.
    LEDGER_CORRUPT = "LedgerCorrupt",
    /// The ledger Secret that `status.ledger` records is gone.
    LEDGER_MISSING = "LedgerMissing",
    /// The ledger outgrew what its Secrets may hold.
    LEDGER_TOO_LARGE = "LedgerTooLarge",
    /// A deleted CallTask was released with contacts possibly left at the provider.
    CLEANUP_INCOMPLETE = "CleanupIncomplete",
    // Neither Reconciling nor Stalled.
    /// `spec.suspend: true`.
    SUSPENDED = "Suspended",
    /// The CallProvider has `spec.suspend: true`.
    PROVIDER_SUSPENDED = "ProviderSuspended",
}

/// The reasons of a ContactList's `Ready` condition.
pub mod contact_list {
    reasons! {
        CONTACT_LIST:
        /// The contacts were read (the message holds the counts).
        CONTACTS_READ = "ContactsRead",
        /// The CSV source cannot be read.
        SOURCE_UNREADABLE = "SourceUnreadable",
    }
}
pub use contact_list::CONTACT_LIST;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_distinct_camel_case_words() {
        let mut all: Vec<&str> = CALL_TASK.iter().chain(CONTACT_LIST).copied().collect();
        for reason in &all {
            assert!(
                reason
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_uppercase())
                    && reason.chars().all(|c| c.is_ascii_alphanumeric()),
                "{reason}"
            );
        }
        let count = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), count, "a reason is listed twice");
    }
}

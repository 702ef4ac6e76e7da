//! A new ledger's identity: the string every remote id of its contacts derives from (UUIDv5 of
//! identity, phone and attempt — `remote_id`).
//!
//! A ledger that starts over for a remote task that had one before — the ledger Secret or state
//! file lost, the CallTask deleted and created again on the same remote task (a GitOps rename,
//! a reinstall, a restore), a DuplicateTask handover while the old owner still cleans up —
//! starts again at attempt 0. Derived from the CallTask UID alone (or a UID a restore keeps),
//! its ids would repeat ids the provider has seen; NXLink answers "id already used", which
//! reads as the caller's own earlier add: a desired contact never added and reported present.
//! So every new ledger, in the controller and in `callsync apply`, gets a random salt next to
//! the UID, stored in the ledger (the codec keeps the whole string) and therefore stable for
//! that ledger's life. Ledgers written before keep their plain UID and their ids.
use uuid::Uuid;

use super::Ledger;

/// Separates the CallTask UID from the salt. Not in a UID (hex and dashes), so the UID part
/// can be read back for messages.
const SALT_SEPARATOR: char = '+';

/// A fresh identity: the CallTask UID (when there is one) and a random salt.
pub fn fresh_identity(task_uid: Option<&str>) -> String {
    let salt = Uuid::new_v4().simple().to_string();
    match task_uid.filter(|uid| !uid.is_empty()) {
        Some(uid) => format!("{uid}{SALT_SEPARATOR}{salt}"),
        None => salt,
    }
}

/// The CallTask UID an identity names: the part before the salt, when it has the shape of a
/// Kubernetes UID (`None` for an identity made without one, as `callsync apply` makes them).
pub fn owner_uid(identity: &str) -> Option<&str> {
    let uid = identity.split(SALT_SEPARATOR).next()?;
    // Hyphenated only: a salt alone is 32 hex digits, which would parse as a UUID too.
    (uid.len() == 36 && Uuid::try_parse(uid).is_ok()).then_some(uid)
}

impl Ledger {
    /// An empty ledger with a fresh identity (see the module docs): what the controller and
    /// the CLI start with when a task has no ledger.
    pub fn fresh(task_uid: Option<&str>) -> Ledger {
        Ledger::new(fresh_identity(task_uid))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contacts::{ContentDigest, Phone};
    use crate::ledger::codec;

    /// The lost-ledger case: a second ledger for the same CallTask must not hand out the ids of
    /// the first (before, both started from the bare UID at attempt 0).
    #[test]
    fn a_new_ledger_for_the_same_task_gets_new_remote_ids() {
        let phone = Phone::parse("+8613012121211", None).expect("valid");
        let uid = "0b8f6a8e-6f0e-4a57-9d55-3c1f4f1f2a10";
        let mut first = Ledger::fresh(Some(uid));
        let mut second = Ledger::fresh(Some(uid));
        let a = first.record_add_intent(&[(phone, ContentDigest(1))]);
        let b = second.record_add_intent(&[(phone, ContentDigest(1))]);
        assert_ne!(a, b);
        assert!(first.task_uid().starts_with(uid), "{}", first.task_uid());
        // Stable for the ledger's life: stored and read back, the same ids.
        let back = codec::decode(&codec::encode(&first).expect("encode")).expect("decode");
        assert_eq!(back.task_uid(), first.task_uid());
        assert_eq!(
            back.get(phone).map(|e| e.remote_id(back.task_uid())),
            Some(a[0])
        );
    }

    #[test]
    fn the_owner_is_read_back_from_salted_and_plain_identities() {
        let uid = "0b8f6a8e-6f0e-4a57-9d55-3c1f4f1f2a10";
        assert_eq!(owner_uid(&fresh_identity(Some(uid))), Some(uid));
        assert_eq!(owner_uid(uid), Some(uid));
        assert_eq!(owner_uid(&fresh_identity(None)), None);
        assert_eq!(owner_uid("task-uid"), None);
    }

    #[test]
    fn without_a_uid_the_identity_is_the_salt() {
        let id = fresh_identity(None);
        assert_eq!(id.len(), 32);
        assert_ne!(id, fresh_identity(Some("")));
    }
}

//! The closing line of `callsync apply` for one task: its claim. Every number in it is one the
//! provider confirmed (accepted adds and removals, refusals, contacts its listing or the ledger
//! shows), and `✓` (exit 0) only when every desired contact is confirmed at the provider,
//! nothing is in doubt, refused or blocked, and no contact no longer wanted is left that
//! callsync cannot remove and the provider may still call (the controller's
//! `ContactsNotRemovable`); anything else is a `!` line naming the cause.
//! Contacts the account's phone format cannot carry are never sent and count like invalid
//! entries, as the controller's `InvalidContacts` does.
use super::Applied;
use super::summary::thousands;
use crate::plan::GuardDecision;

/// What the provider confirmed this apply changed: `added A, removed R[, N already there]`,
/// or `no changes` when no write request was sent at all.
fn changes(applied: &Applied) -> String {
    if applied.write_requests == 0 {
        return "no changes".to_owned();
    }
    let mut text = format!(
        "added {}, removed {}",
        thousands(applied.added),
        thousands(applied.removed)
    );
    if applied.already_present > 0 {
        text.push_str(&format!(
            ", {} already at the provider (not added by callsync)",
            thousands(applied.already_present)
        ));
    }
    text
}

/// Up to five refusals, one a line, phones masked.
fn refusal_sample(applied: &Applied) -> String {
    applied
        .failures
        .iter()
        .take(5)
        .map(|f| format!("\n    {}: {}", f.phone, f.reason))
        .collect()
}

/// The closing line of one task: `Ok` for `✓` (the task reached its desired state, exit 0),
/// `Err` for a `!` line (a person must look; exit 1).
pub fn outcome_line(
    key: &str,
    desired: u64,
    invalid: u64,
    applied: &Applied,
) -> Result<String, String> {
    let seconds = applied.elapsed.as_secs_f64();
    let plan = applied.first_plan.as_ref();
    if plan.is_some_and(|p| p.management == "ObserveOnly") {
        // An ObserveOnly plan has nothing to add or remove: its differences are these.
        let (missing, unwanted) = plan.map_or((0, 0), |p| (p.missing, p.unwanted));
        if missing + unwanted > 0 {
            return Err(format!(
                "! {key}: ObserveOnly, nothing written; the provider differs from the files ({} desired contacts missing, {} not desired)",
                thousands(missing),
                thousands(unwanted)
            ));
        }
        return Ok(format!(
            "✓ {key}: ObserveOnly, nothing written; {} contacts in sync in {seconds:.1} s",
            thousands(applied.confirmed)
        ));
    }
    let changes = changes(applied);
    if let Some(GuardDecision::Tripped { removes, limit, .. }) = applied.guard {
        return Err(format!(
            "! {key}: removals blocked by the deletion guard: the sync would remove {} contacts, more than maxDeletePercent allows ({}); {changes}. Raise spec.policy.maxDeletePercent or change the ContactLists",
            thousands(removes),
            thousands(limit)
        ));
    }
    if applied.foreign > 0 {
        // Not in sync: these are pending at the provider and may be called, and callsync cannot
        // remove them (it never knew their ids). Never a "✓".
        return Err(format!(
            "! {key}: {} contacts no longer wanted are still in the provider's task: they were there before callsync added them (under ids callsync does not know), so callsync cannot remove them (notRemovable, ForeignContact); delete them in the provider's console ({changes})",
            thousands(applied.foreign)
        ));
    }
    if applied.callable_not_removable > 0 {
        // The same rule as the controller's `ContactsNotRemovable`: the provider may call them.
        return Err(format!(
            "! {key}: {} contacts no longer wanted are still in the provider's task and callsync cannot remove them: its listing gives them no id (notRemovable, NoRemoteId); delete them in the provider's console ({changes})",
            thousands(applied.callable_not_removable)
        ));
    }
    if applied.unknown > 0 {
        let mut line = format!(
            "! {key}: {} contacts await confirmation from the provider ({changes}); run apply again",
            thousands(applied.unknown)
        );
        // What the provider said about items it left in doubt (phones masked).
        for failure in applied
            .failures
            .iter()
            .filter(|f| f.reason.starts_with("in doubt"))
            .take(5)
        {
            line.push_str(&format!("\n    {}: {}", failure.phone, failure.reason));
        }
        return Err(line);
    }
    let refused = applied.failed - applied.not_sendable;
    if refused > 0 {
        return Err(format!(
            "! {key}: {} contacts refused by the provider ({changes}); fix or remove them in the ContactLists{}",
            thousands(refused),
            refusal_sample(applied)
        ));
    }
    if applied.confirmed + applied.not_sendable < desired {
        return Err(format!(
            "! {key}: {} of {} desired contacts confirmed at the provider ({changes}); run apply again",
            thousands(applied.confirmed),
            thousands(desired)
        ));
    }
    let mut line = format!(
        "✓ {key}: {} contacts in sync ({changes}) in {seconds:.1} s",
        thousands(applied.confirmed)
    );
    if invalid > 0 {
        line.push_str(&format!("; {} invalid skipped", thousands(invalid)));
    }
    if applied.not_sendable > 0 {
        line.push_str(&format!(
            "; {} not valid for this account, not sent{}",
            thousands(applied.not_sendable),
            refusal_sample(applied)
        ));
    }
    if applied.not_removable > 0 {
        // Only kinds the provider will not call again reach here (see above).
        line.push_str(&format!(
            "; {} no longer wanted but not removable (already called, or a second copy of a desired phone)",
            thousands(applied.not_removable)
        ));
    }
    Ok(line)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::Failure;

    fn applied() -> Applied {
        Applied {
            write_requests: 1,
            ..Applied::default()
        }
    }

    /// The bug of the "Provider truth" issue: adds the provider refused as duplicates were
    /// counted as added.
    #[test]
    fn adds_refused_as_duplicates_are_not_claimed_as_added() {
        let applied = Applied {
            added: 2,
            already_present: 1,
            confirmed: 3,
            ..applied()
        };
        let line = outcome_line("ns/t", 3, 0, &applied).expect("in sync");
        assert!(
            line.starts_with(
                "✓ ns/t: 3 contacts in sync (added 2, removed 0, 1 already at the provider (not added by callsync))"
            ),
            "{line}"
        );
    }

    /// The other bug: re-sending contacts the provider refused before printed "(no changes)"
    /// under a ✓.
    #[test]
    fn refused_contacts_are_no_success_and_no_claim_of_no_changes() {
        let applied = Applied {
            failed: 2,
            failures: vec![Failure {
                phone: "86139****0001".into(),
                reason: "provider refused the number as invalid".into(),
            }],
            confirmed: 1,
            ..applied()
        };
        let line = outcome_line("ns/t", 3, 0, &applied).expect_err("refusals need a person");
        assert!(
            line.starts_with("! ns/t: 2 contacts refused by the provider (added 0, removed 0)"),
            "{line}"
        );
        assert!(line.contains("86139****0001"), "{line}");
        assert!(!line.contains("no changes"), "{line}");
    }

    #[test]
    fn no_success_while_desired_contacts_are_unconfirmed() {
        let applied = Applied {
            confirmed: 2,
            ..applied()
        };
        let line = outcome_line("ns/t", 3, 0, &applied).expect_err("one unconfirmed");
        assert!(
            line.starts_with("! ns/t: 2 of 3 desired contacts confirmed"),
            "{line}"
        );
    }

    /// A contact no longer wanted that the provider lists without an id (callsync cannot
    /// remove it, the provider may call it) was a `✓` "already called (not removable)", while
    /// the controller reports `ContactsNotRemovable` for it.
    #[test]
    fn a_contact_callsync_cannot_remove_and_the_provider_may_call_is_no_success() {
        let applied = Applied {
            confirmed: 3,
            not_removable: 2,
            callable_not_removable: 1,
            ..applied()
        };
        let line = outcome_line("ns/t", 3, 0, &applied).expect_err("the provider may call it");
        assert!(
            line.starts_with("! ns/t: 1 contacts no longer wanted are still in the provider's task and callsync cannot remove them"),
            "{line}"
        );
        let called = Applied {
            callable_not_removable: 0,
            ..applied
        };
        let line = outcome_line("ns/t", 3, 0, &called).expect("already called: in sync");
        assert!(
            line.contains("; 2 no longer wanted but not removable (already called"),
            "{line}"
        );
    }

    #[test]
    fn no_changes_only_when_nothing_was_sent() {
        let applied = Applied {
            confirmed: 3,
            ..Applied::default()
        };
        let line = outcome_line("ns/t", 3, 0, &applied).expect("in sync");
        assert!(
            line.starts_with("✓ ns/t: 3 contacts in sync (no changes)"),
            "{line}"
        );
    }
}

//! The deletion guard: one sync never removes more than `maxDeletePercent` of the remote
//! contacts.
//!
//! **Rule.** With `remote` contacts at the provider (the listing, or the ledger for providers
//! that cannot list) and `removes` planned removals, removals are allowed iff
//! `removes <= floor(remote * maxDeletePercent / 100)`. Consequences: `100` disables the guard;
//! `0` blocks every removal; an empty remote has nothing to remove, so the guard never trips;
//! with fewer than `100 / maxDeletePercent` contacts any removal trips it. When it trips, *all*
//! removals of the sync are blocked (not a partial share: which ones to keep would be arbitrary)
//! and adds continue.

/// What the guard decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GuardDecision {
    /// `maxDeletePercent` is 100 (or more): removals are not limited.
    Disabled,
    /// Removals are within the limit (or there are none).
    Allowed {
        /// Removals planned.
        removes: u64,
        /// The most removals allowed.
        limit: u64,
    },
    /// Removals exceed the limit and are all blocked.
    Tripped {
        /// Removals that were wanted.
        removes: u64,
        /// The most removals allowed.
        limit: u64,
        /// Remote contacts the limit was computed from.
        remote: u64,
    },
}

impl GuardDecision {
    /// True when removals may go ahead.
    pub fn allows_removals(self) -> bool {
        !matches!(self, GuardDecision::Tripped { .. })
    }
}

/// The most removals allowed out of `remote` contacts.
pub fn limit(remote: u64, max_delete_percent: u32) -> u64 {
    // u128: remote * percent cannot overflow.
    (u128::from(remote) * u128::from(max_delete_percent) / 100) as u64
}

/// Applies the rule above.
pub fn check(removes: u64, remote: u64, max_delete_percent: u32) -> GuardDecision {
    if max_delete_percent >= 100 {
        return GuardDecision::Disabled;
    }
    let limit = limit(remote, max_delete_percent);
    if removes <= limit {
        GuardDecision::Allowed { removes, limit }
    } else {
        GuardDecision::Tripped {
            removes,
            limit,
            remote,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rule() {
        assert_eq!(
            check(5, 10, 50),
            GuardDecision::Allowed {
                removes: 5,
                limit: 5
            }
        );
        assert!(!check(6, 10, 50).allows_removals());
        assert!(!check(1, 1, 50).allows_removals());
        assert!(check(0, 0, 0).allows_removals());
        assert!(!check(1, 1000, 0).allows_removals());
        assert_eq!(check(1000, 1000, 100), GuardDecision::Disabled);
        assert_eq!(
            limit(u64::MAX, 99),
            (u128::from(u64::MAX) * 99 / 100) as u64
        );
    }
}

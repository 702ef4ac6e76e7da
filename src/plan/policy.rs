//! The sync policy as the planner sees it.
use crate::api::{ContentChangePolicy, ManagementPolicy, SyncPolicy};

/// The parts of `spec.policy` that shape a plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlanPolicy {
    /// Full, AddOnly or ObserveOnly.
    pub management: ManagementPolicy,
    /// Deletion guard percentage (100 disables it).
    pub max_delete_percent: u32,
    /// What to do when a present contact's content changed.
    pub content_change: ContentChangePolicy,
}

impl From<&SyncPolicy> for PlanPolicy {
    fn from(p: &SyncPolicy) -> Self {
        PlanPolicy {
            management: p.management,
            // The schema bounds it to 0..=100; clamp anyway for objects built in code.
            max_delete_percent: p.max_delete_percent.clamp(0, 100) as u32,
            content_change: p.content_change,
        }
    }
}

impl Default for PlanPolicy {
    fn default() -> Self {
        PlanPolicy::from(&SyncPolicy::default())
    }
}

impl PlanPolicy {
    /// May the plan add at all?
    pub fn may_add(&self) -> bool {
        self.management != ManagementPolicy::ObserveOnly
    }

    /// May the plan remove at all (before the guard)?
    pub fn may_remove(&self) -> bool {
        self.management == ManagementPolicy::Full
    }
}

//! What a plan means for one task, for people (text) and programs (`--output json`). The JSON
//! field names are a stable interface, documented in docs/cli.md.
use std::fmt::Write;

use kube::ResourceExt;
use serde::Serialize;

use super::TaskRun;
use crate::plan::{ContentAction, GuardDecision, Plan};
use crate::providers::Provider;
use crate::sync::{ListingReason, Observation};

/// One invalid entry of a ContactList, phone masked.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct InvalidContact {
    pub contact_list: String,
    /// Position in `spec.contacts`, or the CSV line for a source.
    pub index: i64,
    pub phone: String,
    pub reason: String,
}

/// The deletion guard's decision.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Guard {
    /// `disabled`, `allowed` or `tripped`.
    pub decision: &'static str,
    /// Removals wanted.
    pub removes: u64,
    /// The most removals allowed (absent when disabled).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
}

/// One task's plan.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct TaskSummary {
    pub namespace: String,
    pub name: String,
    pub call_provider: String,
    /// `longlonglong`, `callbot` or `nxlink`.
    pub provider_type: &'static str,
    pub task_id: String,
    /// `Full`, `AddOnly` or `ObserveOnly`.
    pub management: String,
    /// The ContactLists selected, by name.
    pub contact_lists: Vec<String>,
    /// Valid, deduplicated desired contacts.
    pub desired: u64,
    /// Entries that are not valid phone numbers (skipped).
    pub invalid: u64,
    /// Phones given twice with different content (the first list by name wins).
    pub conflicts: u64,
    /// Contacts at the provider: its listing, or the ledger between listings and when it
    /// cannot list.
    pub remote: u64,
    /// Whether the provider can list its contacts (NXLink cannot: the ledger is the record).
    pub can_list: bool,
    /// Why this plan listed the provider's task in full (`requested`, `never-listed`,
    /// `drift-hinted`, `count-drift`, `in-flight`, `due`, …); absent: planned against the ledger.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listing: Option<&'static str>,
    /// When the ledger was last settled against a full listing (RFC 3339), if ever.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_listing: Option<String>,
    /// Desired contacts already at the provider.
    pub unchanged: u64,
    /// Desired contacts not at the provider, whether or not the policy lets this plan add them
    /// (ObserveOnly adds none).
    pub missing: u64,
    /// Removable contacts at the provider that are not desired, whether or not the policy and
    /// the deletion guard let this plan remove them.
    pub unwanted: u64,
    /// Contacts the plan adds.
    pub to_add: u64,
    /// Contacts the plan removes.
    pub to_remove: u64,
    /// Removals the deletion guard blocks.
    pub blocked_by_guard: u64,
    pub guard: Guard,
    /// Unwanted contacts the provider does not let go (already called).
    pub not_removable: u64,
    /// Present contacts whose content changed.
    pub content_changed: u64,
    /// Of those, replaced (removed and added again) by this plan.
    pub content_replaced: u64,
    /// Write requests the plan makes.
    pub write_calls: u64,
    /// Up to 20 invalid entries per list.
    pub invalid_sample: Vec<InvalidContact>,
}

impl TaskSummary {
    pub fn new(run: &TaskRun<'_>, plan: &Plan, observation: &Observation) -> Self {
        let task = &run.resolved.task;
        let (guard, blocked) = match plan.guard {
            GuardDecision::Disabled => (
                Guard {
                    decision: "disabled",
                    removes: plan.counts.planned_removes,
                    limit: None,
                },
                0,
            ),
            GuardDecision::Allowed { removes, limit } => (
                Guard {
                    decision: "allowed",
                    removes,
                    limit: Some(limit),
                },
                0,
            ),
            GuardDecision::Tripped { removes, limit, .. } => (
                Guard {
                    decision: "tripped",
                    removes,
                    limit: Some(limit),
                },
                removes,
            ),
        };
        let invalid_sample = run
            .desired
            .lists
            .iter()
            .flat_map(|list| {
                list.invalid_sample.iter().map(|e| InvalidContact {
                    contact_list: list.name.clone(),
                    index: e.index,
                    phone: e.phone.clone(),
                    reason: e.reason.clone(),
                })
            })
            .collect();
        Self {
            namespace: task.namespace().unwrap_or_default(),
            name: task.name_any(),
            call_provider: run.resolved.provider.name_any(),
            provider_type: run.provider.kind(),
            task_id: task.spec.task_id.clone(),
            management: format!("{:?}", task.spec.policy.management),
            contact_lists: run.desired.lists.iter().map(|l| l.name.clone()).collect(),
            desired: run.desired.len() as u64,
            invalid: run.desired.invalid_count(),
            conflicts: run.desired.conflict_count,
            remote: plan.counts.remote,
            can_list: run.provider.capabilities().can_list,
            listing: observation.listed.map(ListingReason::as_str),
            last_listing: run
                .ledger
                .listing()
                .last
                .and_then(|at| chrono::DateTime::from_timestamp(i64::try_from(at).ok()?, 0))
                .map(|at| at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
            unchanged: plan.counts.in_sync,
            missing: plan.counts.missing,
            unwanted: plan.counts.unwanted,
            to_add: plan.counts.planned_adds,
            to_remove: plan.counts.planned_removes,
            blocked_by_guard: blocked,
            guard,
            not_removable: plan.not_removable.len() as u64,
            content_changed: plan.counts.content_changed,
            content_replaced: plan
                .content_changes
                .iter()
                .filter(|c| c.action == ContentAction::Replaced)
                .count() as u64,
            write_calls: plan.write_calls() as u64,
            invalid_sample,
        }
    }

    /// `namespace/name`.
    pub fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    /// The plan for people, a few lines.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{} → {} task {:?} (CallProvider {}, {})",
            self.key(),
            self.provider_type,
            self.task_id,
            self.call_provider,
            self.management
        );
        let _ = writeln!(
            out,
            "  desired    {} contacts from {} ContactList{} ({})",
            thousands(self.desired),
            self.contact_lists.len(),
            if self.contact_lists.len() == 1 {
                ""
            } else {
                "s"
            },
            self.contact_lists.join(", ")
        );
        let remote_source = match (self.can_list, self.listing, &self.last_listing) {
            (false, _, _) => "from the ledger; the provider cannot list".to_owned(),
            (true, Some(why), _) => format!("listed by the provider: {why}"),
            (true, None, Some(at)) => {
                format!("from the ledger; last full listing {at}, --full-listing to list now")
            }
            (true, None, None) => "from the ledger".to_owned(),
        };
        let _ = writeln!(
            out,
            "  remote     {} contacts ({remote_source})",
            thousands(self.remote)
        );
        let _ = writeln!(out, "  + add      {}", thousands(self.to_add));
        let _ = writeln!(out, "  - remove   {}", thousands(self.to_remove));
        let _ = writeln!(out, "  = unchanged {}", thousands(self.unchanged));
        if self.blocked_by_guard > 0 {
            let _ = writeln!(
                out,
                "  ! blocked by the deletion guard: {} removals, more than maxDeletePercent allows ({})",
                thousands(self.blocked_by_guard),
                thousands(self.guard.limit.unwrap_or(0))
            );
        }
        if self.not_removable > 0 {
            let _ = writeln!(
                out,
                "  ! not removable (already called): {}",
                thousands(self.not_removable)
            );
        }
        if self.content_changed > 0 {
            let _ = writeln!(
                out,
                "  ~ content changed: {} ({} replaced)",
                thousands(self.content_changed),
                thousands(self.content_replaced)
            );
        }
        if self.invalid > 0 {
            let _ = writeln!(out, "  ! invalid, skipped: {}", thousands(self.invalid));
            for entry in self.invalid_sample.iter().take(5) {
                let _ = writeln!(
                    out,
                    "      {}[{}]: {}",
                    entry.contact_list, entry.index, entry.reason
                );
            }
        }
        if self.conflicts > 0 {
            let _ = writeln!(
                out,
                "  ! same phone with different content in several entries: {} (the first list by name wins)",
                thousands(self.conflicts)
            );
        }
        let _ = writeln!(out, "  write calls {}", thousands(self.write_calls));
        out
    }
}

/// `1234567` → `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_thousands() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1234), "1,234");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }
}

//! What a reliability run measured: the audit checks, the injected faults, and one result line
//! per run (printed, and appended as JSON to `$CALLSYNC_RELIABILITY_RESULTS` when set, so the
//! figures of docs/reliability.md come from the runs themselves).
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;

use serde_json::{Value, json};

use callsync::simulator::ProviderKind;

use crate::support::provider::{ALL_PROVIDERS, ProviderFixture};

/// The audit checks of one provider.
#[derive(Debug, Default, Clone)]
pub struct ProviderCheck {
    /// Applied adds (audit rows).
    pub adds_applied: u64,
    /// Phones whose add was applied more than once.
    pub duplicate_adds: u64,
    /// Applied removals (audit rows).
    pub removes_applied: u64,
    /// Applied removals of phones that are desired.
    pub wrongful_removals: u64,
    /// Applied removals of phones the test never took out of a list (desired or not).
    pub unexpected_removals: u64,
    /// Desired phones the provider does not hold.
    pub lost: u64,
    /// Phones the provider holds that are not desired.
    pub extra: u64,
    /// Rows of the provider's contacts that repeat a phone.
    pub duplicate_rows: u64,
}

/// The audit checks of a run, per provider.
#[derive(Debug, Default, Clone)]
pub struct AuditCheck {
    pub providers: BTreeMap<ProviderKind, ProviderCheck>,
}

impl AuditCheck {
    /// Checks one provider: `desired` and `removed` in wire form, `held` the provider's phones,
    /// `entries` its audit rows.
    pub fn add<'a>(
        &mut self,
        kind: ProviderKind,
        desired: &BTreeSet<String>,
        removed: &BTreeSet<String>,
        held: &[String],
        entries: impl Iterator<Item = &'a Value>,
    ) {
        let mut check = ProviderCheck::default();
        let mut adds: BTreeMap<&str, u32> = BTreeMap::new();
        for entry in entries {
            let phone = entry["phone"].as_str().unwrap_or_default();
            match (entry["operation"].as_str(), entry["outcome"].as_str()) {
                (Some("add"), Some("applied")) => {
                    check.adds_applied += 1;
                    *adds.entry(phone).or_default() += 1;
                }
                (Some("remove" | "import-replace"), Some("applied")) => {
                    check.removes_applied += 1;
                    if desired.contains(phone) {
                        check.wrongful_removals += 1;
                    }
                    if !removed.contains(phone) {
                        check.unexpected_removals += 1;
                    }
                }
                _ => {}
            }
        }
        check.duplicate_adds = adds.values().filter(|n| **n > 1).count() as u64;
        let held_set: BTreeSet<&String> = held.iter().collect();
        check.duplicate_rows = (held.len() - held_set.len()) as u64;
        check.lost = desired.iter().filter(|p| !held_set.contains(p)).count() as u64;
        check.extra = held_set.iter().filter(|p| !desired.contains(**p)).count() as u64;
        self.providers.insert(kind, check);
    }

    fn sum(&self, field: impl Fn(&ProviderCheck) -> u64) -> u64 {
        self.providers.values().map(field).sum()
    }

    pub fn duplicate_adds(&self) -> u64 {
        self.sum(|c| c.duplicate_adds)
    }
    pub fn wrongful_removals(&self) -> u64 {
        self.sum(|c| c.wrongful_removals)
    }
    pub fn lost(&self) -> u64 {
        self.sum(|c| c.lost)
    }
    pub fn removes_applied(&self) -> u64 {
        self.sum(|c| c.removes_applied)
    }

    /// Exact convergence and a clean audit log: the assertions of every reliability run.
    pub fn assert_clean(&self, removed_total: usize) {
        for (kind, c) in &self.providers {
            let name = kind.as_str();
            assert_eq!(c.duplicate_adds, 0, "{name}: phones added twice: {c:?}");
            assert_eq!(
                c.wrongful_removals, 0,
                "{name}: desired phones removed: {c:?}"
            );
            assert_eq!(c.unexpected_removals, 0, "{name}: unasked removals: {c:?}");
            assert_eq!(c.lost, 0, "{name}: desired phones missing: {c:?}");
            assert_eq!(c.extra, 0, "{name}: undesired phones held: {c:?}");
            assert_eq!(c.duplicate_rows, 0, "{name}: duplicate rows held: {c:?}");
        }
        assert_eq!(
            self.removes_applied(),
            removed_total as u64,
            "each phone taken out of a list removed exactly once: {self:?}"
        );
    }
}

/// Calls and injected faults, summed over the provider endpoints.
#[derive(Debug, Default, Clone)]
pub struct FaultCounts {
    pub calls: u64,
    pub calls_by_provider: BTreeMap<ProviderKind, u64>,
    pub errors: u64,
    pub timeouts: u64,
    pub dropped_after_commit: u64,
    pub rate_limited: u64,
}

impl FaultCounts {
    pub fn from_counters(counters: &Value) -> Self {
        let mut out = FaultCounts::default();
        let Some(map) = counters.as_object() else {
            return out;
        };
        for (key, c) in map {
            let n = |f: &str| c[f].as_u64().unwrap_or(0);
            let Some(kind) = ALL_PROVIDERS
                .into_iter()
                .find(|k| key.contains(k.route_prefix()))
            else {
                continue;
            };
            out.calls += n("calls");
            *out.calls_by_provider.entry(kind).or_default() += n("calls");
            out.errors += n("injectedErrors");
            out.timeouts += n("injectedTimeouts");
            out.dropped_after_commit += n("droppedAfterCommit");
            out.rate_limited += n("rateLimited");
        }
        out
    }
}

/// One run's result line.
pub struct RunRecord<'a> {
    pub test: &'a str,
    pub run: String,
    pub contacts: usize,
    pub seconds: f64,
    pub kills: usize,
    pub faults: &'a FaultCounts,
    pub audit: &'a AuditCheck,
    /// Anything else worth a column (churn, kills in doubt, apiserver outage…).
    pub extra: Value,
}

impl RunRecord<'_> {
    pub fn emit(&self) {
        let calls: BTreeMap<&str, u64> = self
            .faults
            .calls_by_provider
            .iter()
            .map(|(k, v)| (k.as_str(), *v))
            .collect();
        let record = json!({
            "test": self.test, "run": self.run, "contacts": self.contacts,
            "seconds": (self.seconds * 10.0).round() / 10.0, "kills": self.kills,
            "providerCalls": self.faults.calls, "callsByProvider": calls,
            "injected": {"5xx": self.faults.errors, "timeouts": self.faults.timeouts,
                         "commitThenDrop": self.faults.dropped_after_commit},
            "rateLimited": self.faults.rate_limited,
            "duplicateAdds": self.audit.duplicate_adds(),
            "wrongfulRemovals": self.audit.wrongful_removals(),
            "lost": self.audit.lost(),
            "removesApplied": self.audit.removes_applied(),
            "extra": self.extra,
        });
        eprintln!("RELIABILITY {record}");
        if let Ok(path) = std::env::var("CALLSYNC_RELIABILITY_RESULTS") {
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .unwrap_or_else(|e| panic!("open {path}: {e}"));
            writeln!(file, "{record}").unwrap_or_else(|e| panic!("write {path}: {e}"));
        }
    }
}

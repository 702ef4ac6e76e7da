//! Sharding across controllers, Kubernetes itself as the engine (as Flux does it): a CallTask
//! labelled `callsync.io/shard: KEY` is reconciled only by the controller started with
//! `--shard KEY`; with shards in use, the controller started with `--default-shard` takes every
//! CallTask without the label. Each shard is its own Deployment with its own leader Lease, and
//! its CallTask watch carries the label selector, so the API server sends it nothing else.
//!
//! Handing a task over (relabelling it) is safe without coordination: the old shard's watch
//! drops the task (it starts no new reconcile of it), and a reconcile of it still running there
//! and the new shard's first one save the ledger conditionally on the version each loaded, so
//! only one of them can record an intent — and a batch is only sent after its intent is saved.
use std::fmt;

/// The label that assigns a CallTask to a shard.
pub const SHARD_LABEL: &str = "callsync.io/shard";

/// Which CallTasks a controller reconciles.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum TaskScope {
    /// Every CallTask (no sharding).
    #[default]
    All,
    /// Those labelled with this shard key.
    Shard(ShardKey),
    /// Those without a shard label (the default shard beside the others).
    Unlabelled,
}

impl TaskScope {
    /// The label selector of the CallTask watch (`None`: all).
    pub fn label_selector(&self) -> Option<String> {
        match self {
            TaskScope::All => None,
            TaskScope::Shard(key) => Some(format!("{SHARD_LABEL}={key}")),
            TaskScope::Unlabelled => Some(format!("!{SHARD_LABEL}")),
        }
    }

    /// Whether this controller keeps CallProvider status. CallProviders are shared by the
    /// tasks of every shard; one controller checks each account, not one per shard.
    pub fn keeps_provider_status(&self) -> bool {
        !matches!(self, TaskScope::Shard(_))
    }

    /// The leader Lease of this scope: a shard's own beside the default one, so that the
    /// shards elect their leaders independently.
    pub fn lease_name(&self, base: &str) -> String {
        match self {
            TaskScope::Shard(key) => format!("{base}-shard-{key}"),
            TaskScope::All | TaskScope::Unlabelled => base.to_owned(),
        }
    }
}

/// A shard key: a valid label value, not empty.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShardKey(String);

impl ShardKey {
    /// Checks `key` as a label value and as a part of a Lease (and the chart's Deployment)
    /// name: lower-case letters, digits, `-` and `.`, starting and ending with a letter or
    /// digit, at most 40 characters. A label value may hold `_`, a Lease name may not: the
    /// apiserver would refuse the shard's Lease, and the shard never lead.
    pub fn parse(key: &str) -> Result<ShardKey, String> {
        let ok_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || "-.".contains(c);
        let ends_ok =
            |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        if key.is_empty() || key.len() > 40 {
            return Err(format!("shard key {key:?} must be 1 to 40 characters"));
        }
        if !key.chars().all(ok_char) || !ends_ok(key.chars().next()) || !ends_ok(key.chars().last())
        {
            return Err(format!(
                "shard key {key:?} must be lower-case letters, digits, '-' or '.' (it names a Lease), starting and ending with a letter or digit"
            ));
        }
        Ok(ShardKey(key.to_owned()))
    }
}

impl fmt::Display for ShardKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_select_by_the_shard_label() {
        let key = ShardKey::parse("eu-1").expect("valid");
        assert_eq!(TaskScope::All.label_selector(), None);
        assert_eq!(
            TaskScope::Shard(key.clone()).label_selector().as_deref(),
            Some("callsync.io/shard=eu-1")
        );
        assert_eq!(
            TaskScope::Unlabelled.label_selector().as_deref(),
            Some("!callsync.io/shard")
        );
        assert_eq!(
            TaskScope::Shard(key.clone()).lease_name("cs"),
            "cs-shard-eu-1"
        );
        assert_eq!(TaskScope::Unlabelled.lease_name("cs"), "cs");
        assert!(!TaskScope::Shard(key).keeps_provider_status());
        assert!(TaskScope::Unlabelled.keeps_provider_status());
    }

    #[test]
    fn shard_keys_are_label_values_a_lease_name_can_hold() {
        for bad in ["", "-a", "a-", "A", "a b", "a/b", "team_a", &"x".repeat(41)] {
            let error = ShardKey::parse(bad).expect_err(bad);
            assert!(error.starts_with("shard key"), "{error}");
        }
        for good in ["a", "eu-1", "team-a.2"] {
            ShardKey::parse(good).expect(good);
        }
    }
}

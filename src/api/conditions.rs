//! Typed status conditions with kstatus polarity: `Ready` is "normal-true", `Reconciling` and
//! `Stalled` are "abnormal-true", so `kubectl wait --for=condition=Ready`, Flux and Argo CD read
//! them without custom code.
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The condition types callsync sets.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
pub enum ConditionType {
    /// The object is in its desired state.
    Ready,
    /// callsync is working towards the desired state.
    Reconciling,
    /// callsync cannot make progress without a change by a person.
    Stalled,
}

/// The status of a condition, as Kubernetes spells it.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum ConditionStatus {
    True,
    False,
    Unknown,
}

impl ConditionStatus {
    pub fn from_bool(value: bool) -> Self {
        if value { Self::True } else { Self::False }
    }
}

/// One observation of the object's state.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// Which aspect this condition describes.
    #[serde(rename = "type")]
    pub type_: ConditionType,
    /// True, False or Unknown.
    pub status: ConditionStatus,
    /// A CamelCase word a program can switch on (for example `InSync` or `DeletionGuard`).
    pub reason: String,
    /// A sentence for people. Never holds a full phone number or a secret.
    #[serde(default)]
    pub message: String,
    /// When `status` last changed.
    pub last_transition_time: DateTime<Utc>,
    /// The `metadata.generation` this condition was computed from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

/// Sets `wanted` in `conditions`, keeping `lastTransitionTime` when the status did not flip.
/// Pure: the caller passes the clock reading.
pub fn set_condition(conditions: &mut Vec<Condition>, mut wanted: Condition) {
    match conditions.iter_mut().find(|c| c.type_ == wanted.type_) {
        Some(existing) => {
            if existing.status == wanted.status {
                wanted.last_transition_time = existing.last_transition_time;
            }
            *existing = wanted;
        }
        None => conditions.push(wanted),
    }
}

/// Finds the condition of one type.
pub fn find_condition(conditions: &[Condition], type_: ConditionType) -> Option<&Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn cond(status: ConditionStatus, reason: &str, secs: i64) -> Condition {
        Condition {
            type_: ConditionType::Ready,
            status,
            reason: reason.into(),
            message: String::new(),
            last_transition_time: Utc.timestamp_opt(secs, 0).single().expect("valid time"),
            observed_generation: Some(1),
        }
    }

    #[test]
    fn transition_time_changes_only_when_status_flips() {
        let mut conditions = vec![cond(ConditionStatus::False, "Syncing", 100)];
        set_condition(
            &mut conditions,
            cond(ConditionStatus::False, "Syncing", 200),
        );
        assert_eq!(conditions[0].last_transition_time.timestamp(), 100);
        set_condition(&mut conditions, cond(ConditionStatus::True, "InSync", 300));
        assert_eq!(conditions[0].last_transition_time.timestamp(), 300);
        assert_eq!(conditions[0].reason, "InSync");
        assert_eq!(conditions.len(), 1);
    }

    #[test]
    fn serialises_with_kubernetes_field_names() {
        let json = serde_json::to_value(cond(ConditionStatus::True, "InSync", 0)).expect("json");
        assert_eq!(json["type"], "Ready");
        assert_eq!(json["status"], "True");
        assert_eq!(json["lastTransitionTime"], "1970-01-01T00:00:00Z");
        assert_eq!(json["observedGeneration"], 1);
    }
}

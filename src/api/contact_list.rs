//! `ContactList`: one shard of desired contacts.
use std::collections::BTreeMap;

use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Condition, ConfigMapKeyRef, SecretKeyRef};

/// The most contacts one ContactList may hold inline. Keeps one object far below etcd's 1.5 MiB
/// limit even with long names and variables; bigger lists are many ContactLists sharing a label.
pub const MAX_INLINE_CONTACTS: usize = 5000;

/// A shard of desired contacts: inline, or CSV from a Secret or ConfigMap. CallTasks select
/// ContactLists by label or name.
#[allow(
    clippy::duplicated_attributes,
    reason = "kube's printcolumn(...) repeats type_ = ... by design"
)]
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[kube(
    group = "callsync.io",
    version = "v1alpha1",
    kind = "ContactList",
    plural = "contactlists",
    shortname = "cl",
    category = "callsync",
    namespaced,
    status = "ContactListStatus",
    doc = "A shard of desired contacts (phone numbers) for CallTasks that select it.",
    printcolumn(name = "Count", type_ = "integer", json_path = ".status.count"),
    printcolumn(name = "Invalid", type_ = "integer", json_path = ".status.invalid"),
    printcolumn(
        name = "Duplicates",
        type_ = "integer",
        json_path = ".status.duplicates"
    ),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(
        name = "Reason",
        type_ = "string",
        priority = 1,
        json_path = ".status.conditions[?(@.type==\"Ready\")].reason"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[x_kube(validation = Rule::new("!(has(self.contacts) && size(self.contacts) > 0 && has(self.source))")
    .message("set contacts or source, not both"))]
#[serde(rename_all = "camelCase")]
pub struct ContactListSpec {
    /// ISO 3166 region (for example `CN`) for numbers written without a country code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[A-Z]{2}$"))]
    pub default_region: Option<String>,
    /// The contacts, inline.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 5000))]
    pub contacts: Vec<Contact>,
    /// The contacts as CSV in a Secret or ConfigMap of this namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<ContactSource>,
}

/// One contact.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Contact {
    /// Phone number: E.164 (`+8613012121211`), or national digits interpreted in `defaultRegion`.
    #[schemars(length(min = 1, max = 64))]
    pub phone: String,
    /// Name of the person called.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 256))]
    pub name: Option<String>,
    /// Company of the person called.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 256))]
    pub company: Option<String>,
    /// E-mail address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 256))]
    pub email: Option<String>,
    /// Script variables passed to the provider (Callbot and NXLink `params`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub variables: BTreeMap<String, String>,
    /// Free-form passthrough (longlonglong `extra`, Callbot `other`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1024))]
    pub extra: Option<String>,
}

/// CSV contacts stored in a Secret (for personal data) or a ConfigMap.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[x_kube(validation = Rule::new("has(self.secretRef) != has(self.configMapRef)")
    .message("set exactly one of secretRef or configMapRef"))]
#[serde(rename_all = "camelCase")]
pub struct ContactSource {
    /// Key of a Secret in this namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<SecretKeyRef>,
    /// Key of a ConfigMap in this namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map_ref: Option<ConfigMapKeyRef>,
    /// Format of the data, read as `callsync import` reads a file. The first non-blank CSV
    /// row is a header; a phone column (`phone`, `手机号`, `mobile`, …) is required, `name`,
    /// `company`, `email`, `extra` (and their usual Chinese and English names) are known,
    /// other columns become variables.
    #[serde(default)]
    pub format: SourceFormat,
}

/// Data format of a contact source.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, JsonSchema)]
pub enum SourceFormat {
    /// Values separated by commas, semicolons or tabs (detected from the header row, or a
    /// `sep=` first line), with a header row; quoted fields may span lines; UTF-8 (a
    /// byte-order mark is skipped).
    #[default]
    #[serde(rename = "csv")]
    Csv,
}

/// Observed state of a ContactList.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContactListStatus {
    /// The `metadata.generation` this status was computed from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Valid, deduplicated contacts.
    #[serde(default)]
    pub count: i64,
    /// Entries that are not valid phone numbers.
    #[serde(default)]
    pub invalid: i64,
    /// A sample of invalid entries, phones masked.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 20))]
    pub invalid_sample: Vec<InvalidEntry>,
    /// Entries whose phone number appears earlier in the list.
    #[serde(default)]
    pub duplicates: i64,
    /// Digest of the valid contacts, independent of their order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// Ready is False when the source cannot be read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}

/// One invalid entry.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InvalidEntry {
    /// Position in `contacts` (or CSV line number for a source).
    pub index: i64,
    /// The phone as written, masked.
    pub phone: String,
    /// Why it is invalid.
    pub reason: String,
}

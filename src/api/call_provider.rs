//! `CallProvider`: one account at one provider, shared by every CallTask that names it.
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Condition, LocalObjectRef, SecretKeyRef};

/// One account at one outbound-calling provider: where its API is, which Secret holds its
/// credentials, and the limits every CallTask using it shares. Exactly one provider block is set.
#[allow(
    clippy::duplicated_attributes,
    reason = "kube's printcolumn(...) repeats type_ = ... by design"
)]
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "callsync.io",
    version = "v1alpha1",
    kind = "CallProvider",
    plural = "callproviders",
    shortname = "cp",
    category = "callsync",
    namespaced,
    status = "CallProviderStatus",
    doc = "An account at an outbound-calling provider (longlonglong, NXtele Callbot or NXLink).",
    printcolumn(name = "Type", type_ = "string", json_path = ".status.providerType"),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(name = "Suspended", type_ = "boolean", json_path = ".spec.suspend"),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[x_kube(validation = Rule::new(
    "[has(self.longlonglong), has(self.callbot), has(self.nxlink)].filter(x, x).size() == 1"
).message("exactly one of longlonglong, callbot or nxlink must be set"))]
#[serde(rename_all = "camelCase")]
pub struct CallProviderSpec {
    /// An account at longlonglong's agent-api (Bearer token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub longlonglong: Option<LonglonglongAccount>,
    /// An account at NXtele's Callbot API v3 (MD5/SHA256 request signatures).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callbot: Option<CallbotAccount>,
    /// An account at NXLink's AI Agent open API (MD5 request signatures, millisecond timestamps).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nxlink: Option<NxlinkAccount>,
    /// Request rate shared by every CallTask using this account. Providers publish no limits, so
    /// the default is conservative.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimit>,
    /// Smaller batch sizes than the provider's documented maximum, for accounts with tighter limits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_batch_size: Option<BatchSizeOverrides>,
    /// Timeout of one HTTP request to the provider, in seconds.
    #[serde(default = "default_timeout_seconds")]
    #[schemars(range(min = 1, max = 300))]
    pub timeout_seconds: i32,
    /// Allow a plain `http://` endpoint. Over http the credentials (token or signing headers)
    /// and the phone numbers cross the network unencrypted, so callsync refuses an `http://`
    /// endpoint unless this is true. Meant for the simulator on loopback, never for a real
    /// provider. Redirects are never followed, with or without it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub insecure: bool,
    /// Freeze the account, for an incident: while true, no CallTask using this CallProvider
    /// calls the provider (nothing is added or removed, no task paused or resumed; a deleted
    /// CallTask with `deletion: Delete` waits, at most its cleanup deadline). Each such CallTask
    /// reports Ready=False with reason `ProviderSuspended` and carries on when this is false
    /// again. The account check of `status.conditions` (read calls only) goes on.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub suspend: bool,
}

fn default_timeout_seconds() -> i32 {
    30
}

/// longlonglong agent-api account.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LonglonglongAccount {
    /// Base URL of the agent-api. The platform is white-labelled, so other hosts serve the same paths.
    #[serde(default = "default_longlonglong_endpoint")]
    #[schemars(url)]
    pub endpoint: String,
    /// The main account's user id (a UUID), used in every request path.
    #[schemars(length(min = 1, max = 128))]
    pub user_id: String,
    /// Operate on this sub-account instead of the main account. Sent as `sub_user_id` on every
    /// request; on adds both at the top level and on every row, because the provider's docs
    /// show both places (the example and the field table).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_user_id: Option<String>,
    /// Secret key that holds the partner Bearer token.
    pub token_secret_ref: SecretKeyRef,
    /// How phone numbers are written on the wire. longlonglong's examples use national digits.
    #[serde(default = "PhoneFormat::national")]
    pub phone_format: PhoneFormat,
    /// The region whose numbers the account calls (ISO 3166, default `CN`). With the National
    /// phone format the wire carries no country code: numbers are read back in this region, and
    /// desired numbers of other countries are refused for this account.
    #[serde(default = "default_longlonglong_region")]
    #[schemars(regex(pattern = r"^[A-Z]{2}$"))]
    pub region: String,
}

fn default_longlonglong_region() -> String {
    "CN".into()
}

fn default_longlonglong_endpoint() -> String {
    "https://ai.api.longlonglong.cn".into()
}

/// NXtele Callbot v3 account.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[x_kube(validation = Rule::new("!has(self.phoneFormat) || self.phoneFormat == 'InternationalDigits'")
    .message(CALLBOT_PHONE_FORMAT_MESSAGE))]
#[serde(rename_all = "camelCase")]
pub struct CallbotAccount {
    /// Base URL of the Callbot API.
    #[serde(default = "default_callbot_endpoint")]
    #[schemars(url)]
    pub endpoint: String,
    /// Secret with the keys `uuid` (account id) and `secretKey` (signing secret).
    pub credentials_secret_ref: LocalObjectRef,
    /// Signature algorithm configured for the account in the Callbot console.
    #[serde(default)]
    pub algorithm: SignatureAlgorithm,
    /// URL the provider posts order results to (required by the API on every add).
    #[schemars(url)]
    pub order_callback_url: String,
    /// URL the provider posts call records to (required by the API on every add).
    #[schemars(url)]
    pub call_callback_url: String,
    /// Send request bodies gzip-compressed (`Content-Encoding: gzip`).
    #[serde(default)]
    pub gzip: bool,
    /// How phone numbers are written on the wire. Callbot wants country code + number without
    /// a sign ("带有用户手机区号,不带符号"): only `InternationalDigits` is accepted.
    #[serde(default = "PhoneFormat::international_digits")]
    pub phone_format: PhoneFormat,
    /// Which endpoint adds orders: `addBatchCall` (the default; inferred, not in the provider's
    /// docs) or `importBatchCall` (documented; only fills a task that has no undialled orders,
    /// see docs/providers/callbot.md).
    #[serde(default)]
    pub add_endpoint: CallbotAddEndpoint,
}

/// The validation message for a Callbot phone format other than `InternationalDigits`.
pub const CALLBOT_PHONE_FORMAT_MESSAGE: &str = "callbot.phoneFormat must be InternationalDigits: \
    Callbot wants country code + number without a sign (\"带有用户手机区号,不带符号\", e.g. 86156xxxxxxxx); \
    E164 (with +) and National are not accepted";

impl CallbotAccount {
    /// Why the account's phone format cannot be used (objects created before the CRD refused
    /// it), or `None`.
    pub fn phone_format_problem(&self) -> Option<&'static str> {
        (self.phone_format != PhoneFormat::InternationalDigits)
            .then_some(CALLBOT_PHONE_FORMAT_MESSAGE)
    }
}

/// Which Callbot endpoint adds orders.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, JsonSchema)]
pub enum CallbotAddEndpoint {
    /// `addBatchCall`: adds orders to the task; per-phone failures in `errList`. Inferred, not in
    /// the provider's docs (only its name is in the docs' sidebar, "批量添加拨打名单"; callsync
    /// assumes the body and answer of `importBatchCall`). The default, because it is the only
    /// one that can add to a task that still has undialled orders.
    #[default]
    #[serde(rename = "addBatchCall")]
    AddBatchCall,
    /// `importBatchCall` ("导入最新批次的号码", documented). The docs leave open whether a new
    /// batch replaces the undialled orders or is added to them; callsync uses it only where both
    /// readings agree: on a task with no undialled order, all contacts in one request, each
    /// order confirmed by a `listOrder` read afterwards. A task with undialled orders is refused.
    #[serde(rename = "importBatchCall")]
    ImportBatchCall,
}

fn default_callbot_endpoint() -> String {
    "https://nxbot.nxcloud.com".into()
}

/// NXLink AI Agent account.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[x_kube(validation = Rule::new("has(self.region) || has(self.endpoint)")
    .message("set region (HK, AMER or IDN) or endpoint"))]
#[serde(rename_all = "camelCase")]
pub struct NxlinkAccount {
    /// The region whose documented API gateway to use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<NxlinkRegion>,
    /// Base URL of the API gateway; overrides `region`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(url)]
    pub endpoint: Option<String>,
    /// Secret with the keys `accessKey` and `accessSecret`.
    pub credentials_secret_ref: LocalObjectRef,
    /// The `bizType` header. The AI Agent docs fix it to "100".
    #[serde(default = "default_nxlink_biz_type")]
    pub biz_type: String,
    /// The `action` header. The AI Agent docs fix it to "nxai".
    #[serde(default = "default_nxlink_action")]
    pub action: String,
    /// How phone numbers are written on the wire. NXLink wants country code + number, no `+`.
    #[serde(default = "PhoneFormat::international_digits")]
    pub phone_format: PhoneFormat,
}

fn default_nxlink_biz_type() -> String {
    "100".into()
}

fn default_nxlink_action() -> String {
    "nxai".into()
}

/// NXLink's documented regions.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum NxlinkRegion {
    /// Hong Kong: `https://api-hk.nxlink.ai`.
    #[serde(rename = "HK")]
    Hk,
    /// Americas: `https://chl-api.nxlink.ai`.
    #[serde(rename = "AMER")]
    Amer,
    /// Indonesia: `https://api-idn.nxlink.ai`.
    #[serde(rename = "IDN")]
    Idn,
}

impl NxlinkRegion {
    /// The documented API gateway of the region.
    pub fn endpoint(self) -> &'static str {
        match self {
            Self::Hk => "https://api-hk.nxlink.ai",
            Self::Amer => "https://chl-api.nxlink.ai",
            Self::Idn => "https://api-idn.nxlink.ai",
        }
    }
}

/// Callbot signature algorithm.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, JsonSchema)]
pub enum SignatureAlgorithm {
    /// Uppercase hex MD5 (the provider's default).
    #[default]
    #[serde(rename = "MD5")]
    Md5,
    /// Uppercase hex SHA-256.
    #[serde(rename = "SHA256")]
    Sha256,
}

/// How a phone number is written in requests to the provider and read back from it.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum PhoneFormat {
    /// National significant number, no country code (`13012121211`).
    National,
    /// Country code and number, digits only (`8613012121211`).
    InternationalDigits,
    /// E.164 with a plus sign (`+8613012121211`).
    E164,
}

impl PhoneFormat {
    fn national() -> Self {
        Self::National
    }
    fn international_digits() -> Self {
        Self::InternationalDigits
    }
}

/// Token-bucket limit shared by every CallTask using the account.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RateLimit {
    /// Sustained requests per second.
    #[schemars(range(min = 1, max = 10000))]
    pub requests_per_second: i32,
    /// Requests that may be sent at once after a quiet period.
    #[serde(default = "default_burst")]
    #[schemars(range(min = 1, max = 10000))]
    pub burst: i32,
}

fn default_burst() -> i32 {
    1
}

/// Batch sizes below the provider's documented maximum.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BatchSizeOverrides {
    /// Contacts per add request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 1000))]
    pub add: Option<i32>,
    /// Contacts per remove request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 1000))]
    pub remove: Option<i32>,
}

/// Observed state of a CallProvider.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CallProviderStatus {
    /// The `metadata.generation` this status was computed from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `longlonglong`, `callbot` or `nxlink`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_type: Option<String>,
    /// `Ready` reflects the last check of the account, with read calls only: credentials and
    /// signature accepted (reason `CredentialsAccepted`, or the refusal's reason such as
    /// `CredentialsRejected`), and the provider's clock inside its documented window (reason
    /// `ClockSkew` when not). The same checks as the first lines of `callsync doctor`.
    #[serde(default)]
    pub conditions: Vec<Condition>,
    /// When the account was last checked (every 10 minutes, and when the spec or its Secret
    /// changes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_checked: Option<chrono::DateTime<chrono::Utc>>,
    /// The provider's clock minus the controller's, in seconds, from its last answer's `Date`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock_skew_seconds: Option<i64>,
}

impl CallProviderSpec {
    /// The name of the one provider block that is set, or `None` when the spec is invalid.
    pub fn provider_type(&self) -> Option<&'static str> {
        match (&self.longlonglong, &self.callbot, &self.nxlink) {
            (Some(_), None, None) => Some("longlonglong"),
            (None, Some(_), None) => Some("callbot"),
            (None, None, Some(_)) => Some("nxlink"),
            _ => None,
        }
    }
}

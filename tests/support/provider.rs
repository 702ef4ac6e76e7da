//! The provider under test is a [`ProviderKind`] (`callsync::simulator`); [`ProviderFixture`]
//! adds what the tests know of each: its simulator account, the Secret and CallProvider that
//! reach that account, the simulator's counter keys of its write endpoints, their batch limits,
//! and how it stores a CN mobile.
use callsync::simulator::ProviderKind;
use serde_json::{Value, json};

use super::sim;

/// The three providers, in the order the tests go through them.
pub const ALL_PROVIDERS: [ProviderKind; 3] = [
    ProviderKind::Longlonglong,
    ProviderKind::Callbot,
    ProviderKind::Nxlink,
];

/// What the tests know of a provider. Its name (the simulator's, also the CallProvider field)
/// is [`ProviderKind::as_str`].
pub trait ProviderFixture: Copy {
    /// The simulator account id of the tests ([`sim::LLL_USER`], [`sim::CB_UUID`],
    /// [`sim::NX_KEY`]).
    fn account(self) -> &'static str;

    /// That account's secret (token or signing secret).
    fn secret(self) -> &'static str;

    /// The `stringData` of the credentials Secret of that account.
    fn secret_data(self) -> Value;

    /// The account part of a CallProvider spec reaching the simulator at `endpoint` with the
    /// credentials Secret `secret_name` (plain http: `insecure`). No rate limit.
    fn provider_spec(self, endpoint: &str, secret_name: &str) -> Value;

    /// The simulator's counter key of the add endpoint callsync uses.
    fn add_route(self) -> &'static str;

    /// The simulator's counter key of the remove endpoint callsync uses.
    fn remove_route(self) -> &'static str;

    /// The counter keys (`METHOD /path`) of this provider's endpoints contain this.
    fn route_prefix(self) -> &'static str;

    /// Most contacts in one call of [`Self::add_route`] (longlonglong `async_number`: 200,
    /// documented).
    fn max_add(self) -> u64;

    /// Most contacts in one call of [`Self::remove_route`].
    fn max_remove(self) -> u64;

    /// How the simulator stores a CN mobile written nationally (`138xxxxxxxx`).
    fn wire(self, national: &str) -> String;

    /// CN mobiles of this provider: `13{5,6,7}` and an 8-digit index, so the three never clash.
    fn phone(self, index: usize) -> String;
}

impl ProviderFixture for ProviderKind {
    fn account(self) -> &'static str {
        match self {
            ProviderKind::Longlonglong => sim::LLL_USER,
            ProviderKind::Callbot => sim::CB_UUID,
            ProviderKind::Nxlink => sim::NX_KEY,
        }
    }

    fn secret(self) -> &'static str {
        match self {
            ProviderKind::Longlonglong => sim::LLL_TOKEN,
            ProviderKind::Callbot => sim::CB_SECRET,
            ProviderKind::Nxlink => sim::NX_SECRET,
        }
    }

    fn secret_data(self) -> Value {
        match self {
            ProviderKind::Longlonglong => json!({"token": sim::LLL_TOKEN}),
            ProviderKind::Callbot => json!({"uuid": sim::CB_UUID, "secretKey": sim::CB_SECRET}),
            ProviderKind::Nxlink => {
                json!({"accessKey": sim::NX_KEY, "accessSecret": sim::NX_SECRET})
            }
        }
    }

    fn provider_spec(self, endpoint: &str, secret_name: &str) -> Value {
        match self {
            ProviderKind::Longlonglong => json!({"insecure": true, "longlonglong": {
                "endpoint": endpoint, "userId": sim::LLL_USER,
                "tokenSecretRef": {"name": secret_name, "key": "token"}}}),
            ProviderKind::Callbot => json!({"insecure": true, "callbot": {
                "endpoint": endpoint, "credentialsSecretRef": {"name": secret_name},
                "orderCallbackUrl": "https://hooks.example.com/order",
                "callCallbackUrl": "https://hooks.example.com/call"}}),
            ProviderKind::Nxlink => json!({"insecure": true, "nxlink": {
                "endpoint": endpoint, "credentialsSecretRef": {"name": secret_name}}}),
        }
    }

    fn add_route(self) -> &'static str {
        match self {
            // the documented async add, callsync's default
            ProviderKind::Longlonglong => {
                "POST /agent-api/user/{user_id}/task/{task_id}/async_number"
            }
            ProviderKind::Callbot => "POST /callcentre/api/v3/addBatchCall",
            ProviderKind::Nxlink => "POST /openapi/aiagent/call/append",
        }
    }

    fn remove_route(self) -> &'static str {
        match self {
            ProviderKind::Longlonglong => {
                "DELETE /agent-api/user/{user_id}/task/{task_id}/number-batch-delete"
            }
            ProviderKind::Callbot => "POST /callcentre/api/v3/stopOrder",
            ProviderKind::Nxlink => "POST /openapi/aiagent/order/delete",
        }
    }

    fn route_prefix(self) -> &'static str {
        match self {
            ProviderKind::Longlonglong => "/agent-api/",
            ProviderKind::Callbot => "/callcentre/",
            ProviderKind::Nxlink => "/openapi/aiagent/",
        }
    }

    fn max_add(self) -> u64 {
        match self {
            ProviderKind::Longlonglong => 200,
            ProviderKind::Callbot => 500,
            ProviderKind::Nxlink => 100,
        }
    }

    fn max_remove(self) -> u64 {
        match self {
            ProviderKind::Longlonglong => 200,
            ProviderKind::Callbot => 500,
            ProviderKind::Nxlink => 1,
        }
    }

    fn wire(self, national: &str) -> String {
        match self {
            ProviderKind::Longlonglong => national.to_string(),
            ProviderKind::Callbot | ProviderKind::Nxlink => format!("86{national}"),
        }
    }

    fn phone(self, index: usize) -> String {
        let digit = match self {
            ProviderKind::Longlonglong => 5,
            ProviderKind::Callbot => 6,
            ProviderKind::Nxlink => 7,
        };
        format!("13{digit}{index:08}")
    }
}

//! Bad input the API server refuses: each case is one object (a valid base with one thing
//! wrong), applied with server-side apply and `fieldValidation=Strict`, and a substring of the
//! refusal the person gets. Plus what the CRD prunes when validation is not strict.
use serde_json::{Value, json};

/// One object the API server must refuse.
pub struct Refusal {
    pub name: &'static str,
    pub object: Value,
    /// Applied first (for immutability checks), then `object`.
    pub before: Option<Value>,
    pub message: &'static str,
}

pub fn contact_list(name: &str, spec: Value) -> Value {
    json!({"apiVersion": "callsync.io/v1alpha1", "kind": "ContactList",
           "metadata": {"name": name}, "spec": spec})
}

fn good_task_spec() -> Value {
    json!({"providerRef": {"name": "acct"}, "taskId": "t-1",
           "contactLists": {"names": ["l"]}})
}

pub fn call_task(name: &str, spec: Value) -> Value {
    json!({"apiVersion": "callsync.io/v1alpha1", "kind": "CallTask",
           "metadata": {"name": name}, "spec": spec})
}

fn lll() -> Value {
    json!({"endpoint": "http://127.0.0.1:1", "userId": "u-1",
           "tokenSecretRef": {"name": "creds", "key": "token"}})
}

fn callbot() -> Value {
    json!({"endpoint": "http://127.0.0.1:1", "credentialsSecretRef": {"name": "creds"},
           "orderCallbackUrl": "https://hooks.example.com/o",
           "callCallbackUrl": "https://hooks.example.com/c"})
}

pub fn call_provider(name: &str, spec: Value) -> Value {
    json!({"apiVersion": "callsync.io/v1alpha1", "kind": "CallProvider",
           "metadata": {"name": name}, "spec": spec})
}

/// `base` with the JSON value at `pointer` (`/a/b`) replaced or added.
pub fn with(mut base: Value, pointer: &str, value: Value) -> Value {
    let (parent, key) = pointer.rsplit_once('/').expect("pointer");
    let target = base.pointer_mut(parent).expect("parent exists");
    match target {
        Value::Object(map) => {
            map.insert(key.to_string(), value);
        }
        Value::Array(items) => items[key.parse::<usize>().expect("index")] = value,
        _ => panic!("{pointer}: parent is not a container"),
    }
    base
}

/// `base` without the value at `pointer`.
fn without(mut base: Value, pointer: &str) -> Value {
    let (parent, key) = pointer.rsplit_once('/').expect("pointer");
    base.pointer_mut(parent)
        .and_then(Value::as_object_mut)
        .expect("parent object")
        .remove(key);
    base
}

fn one(phone: Value) -> Value {
    json!({"defaultRegion": "CN", "contacts": [{"phone": phone}]})
}

fn r(name: &'static str, object: Value, message: &'static str) -> Refusal {
    Refusal {
        name,
        object,
        before: None,
        message,
    }
}

/// The table.
pub fn refusals() -> Vec<Refusal> {
    let cl = |spec: Value| contact_list("cl", spec);
    let contact = |extra: Value| {
        let mut c = json!({"phone": "13900000001"});
        for (k, v) in extra.as_object().expect("object") {
            c[k] = v.clone();
        }
        cl(json!({"defaultRegion": "CN", "contacts": [c]}))
    };
    let oversized: Vec<Value> = (0..5001)
        .map(|i| json!({"phone": format!("139{i:08}")}))
        .collect();
    let task =
        |pointer: &str, value: Value| call_task("ct", with(good_task_spec(), pointer, value));
    let lll_provider = |pointer: &str, value: Value| {
        call_provider("cp", with(json!({"longlonglong": lll()}), pointer, value))
    };
    let cb_provider = |pointer: &str, value: Value| {
        call_provider("cp", with(json!({"callbot": callbot()}), pointer, value))
    };
    let source = |src: Value| cl(json!({"source": src}));
    vec![
        // ContactList: sizes and types.
        r(
            "5,001 inline contacts",
            cl(json!({"defaultRegion": "CN", "contacts": oversized})),
            "must have at most 5000 items",
        ),
        r(
            "phone as a number",
            cl(one(json!(13900000001u64))),
            ".spec.contacts[0].phone: expected string",
        ),
        r(
            "contacts as a map",
            cl(json!({"contacts": {"a": {"phone": "13900000001"}}})),
            ".spec.contacts: expected list",
        ),
        r(
            "empty phone",
            cl(one(json!(""))),
            "spec.contacts[0].phone: Invalid value: \"\"",
        ),
        r(
            "phone of 65 characters",
            cl(one(json!("1".repeat(65)))),
            "spec.contacts[0].phone: Too long",
        ),
        r(
            "phone null",
            cl(one(Value::Null)),
            "spec.contacts[0].phone in body must be of type string: \"null\"",
        ),
        r(
            "contact without phone",
            contact(json!({"phone": Value::Null, "name": "x"})),
            "spec.contacts[0].phone in body must be of type string: \"null\"",
        ),
        r(
            "name of 257 characters",
            contact(json!({"name": "n".repeat(257)})),
            "spec.contacts[0].name: Too long",
        ),
        r(
            "extra of 1,025 characters",
            contact(json!({"extra": "e".repeat(1025)})),
            "spec.contacts[0].extra: Too long",
        ),
        r(
            "variables as a list",
            contact(json!({"variables": ["a"]})),
            ".spec.contacts[0].variables: expected map",
        ),
        r(
            "variable value a number",
            contact(json!({"variables": {"age": 30}})),
            ".spec.contacts[0].variables.age: expected string",
        ),
        r(
            "defaultRegion lowercase",
            cl(json!({"defaultRegion": "cn"})),
            "spec.defaultRegion: Invalid value: \"cn\"",
        ),
        r(
            "defaultRegion three letters",
            cl(json!({"defaultRegion": "CHN"})),
            "spec.defaultRegion: Invalid value: \"CHN\"",
        ),
        // Unknown fields: refused under Strict.
        r(
            "unknown contact field",
            contact(json!({"mobile": "13900000002"})),
            ".spec.contacts[0].mobile: field not declared in schema",
        ),
        r(
            "unknown spec field",
            cl(json!({"contactz": []})),
            ".spec.contactz: field not declared in schema",
        ),
        // Sources.
        r(
            "contacts and source together",
            cl(json!({"contacts": [{"phone": "13900000001"}],
                      "source": {"secretRef": {"name": "s", "key": "k"}}})),
            "set contacts or source, not both",
        ),
        r(
            "source with secretRef and configMapRef",
            source(
                json!({"secretRef": {"name": "s", "key": "k"}, "configMapRef": {"name": "m", "key": "k"}}),
            ),
            "set exactly one of secretRef or configMapRef",
        ),
        r(
            "source with no reference",
            source(json!({"format": "csv"})),
            "set exactly one of secretRef or configMapRef",
        ),
        r(
            "source format xlsx",
            source(json!({"secretRef": {"name": "s", "key": "k"}, "format": "xlsx"})),
            "spec.source.format: Unsupported value: \"xlsx\"",
        ),
        r(
            "secretRef without key",
            source(json!({"secretRef": {"name": "s"}})),
            "spec.source.secretRef.key: Required value",
        ),
        r(
            "secretRef with empty name",
            source(json!({"secretRef": {"name": "", "key": "k"}})),
            "spec.source.secretRef.name: Invalid value: \"\"",
        ),
        r(
            "source Secret in another namespace",
            source(json!({"secretRef": {"name": "s", "key": "k", "namespace": "other"}})),
            ".spec.source.secretRef.namespace: field not declared in schema",
        ),
        r(
            "source ConfigMap in another namespace",
            source(json!({"configMapRef": {"name": "m", "key": "k", "namespace": "other"}})),
            ".spec.source.configMapRef.namespace: field not declared in schema",
        ),
        // CallTask.
        r(
            "CallProvider in another namespace",
            task(
                "/providerRef",
                json!({"name": "acct", "namespace": "other"}),
            ),
            ".spec.providerRef.namespace: field not declared in schema",
        ),
        r(
            "ContactLists of another namespace",
            task(
                "/contactLists",
                json!({"names": ["l"], "namespace": "other"}),
            ),
            ".spec.contactLists.namespace: field not declared in schema",
        ),
        r(
            "no providerRef",
            call_task("ct", without(good_task_spec(), "/providerRef")),
            "spec.providerRef: Required value",
        ),
        r(
            "empty taskId",
            task("/taskId", json!("")),
            "spec.taskId: Invalid value: \"\"",
        ),
        r(
            "taskId a number",
            task("/taskId", json!(42)),
            ".spec.taskId: expected string",
        ),
        r(
            "contactLists empty",
            task("/contactLists", json!({})),
            "set selector, names, or both",
        ),
        r(
            "contactLists names empty",
            task("/contactLists", json!({"names": []})),
            "set selector, names, or both",
        ),
        r(
            "names as a string",
            task("/contactLists", json!({"names": "l"})),
            ".spec.contactLists.names: expected list",
        ),
        r(
            "resyncInterval in words",
            task("/resyncInterval", json!("10 minutes")),
            "spec.resyncInterval: Invalid value: \"10 minutes\"",
        ),
        r(
            "resyncInterval in days",
            task("/resyncInterval", json!("1d")),
            "spec.resyncInterval: Invalid value: \"1d\"",
        ),
        r(
            "resyncInterval without unit",
            task("/resyncInterval", json!("600")),
            "spec.resyncInterval: Invalid value: \"600\"",
        ),
        r(
            "resyncInterval zero",
            task("/resyncInterval", json!("0s")),
            "resyncInterval must be between 1s and 168h",
        ),
        r(
            "resyncInterval negative",
            task("/resyncInterval", json!("-5m")),
            "spec.resyncInterval: Invalid value: \"-5m\"",
        ),
        r(
            "resyncInterval of a year",
            task("/resyncInterval", json!("8760h")),
            "resyncInterval must be between 1s and 168h",
        ),
        r(
            "resyncInterval that overflows",
            task("/resyncInterval", json!("99999999999999999999h")),
            "spec.resyncInterval",
        ),
        r(
            "management Sometimes",
            task("/policy", json!({"management": "Sometimes"})),
            "spec.policy.management: Unsupported value: \"Sometimes\"",
        ),
        r(
            "deletion Always",
            task("/policy", json!({"deletion": "Always"})),
            "spec.policy.deletion: Unsupported value: \"Always\"",
        ),
        r(
            "maxDeletePercent 101",
            task("/policy", json!({"maxDeletePercent": 101})),
            "spec.policy.maxDeletePercent: Invalid value: 101",
        ),
        r(
            "maxDeletePercent -1",
            task("/policy", json!({"maxDeletePercent": -1})),
            "spec.policy.maxDeletePercent: Invalid value: -1",
        ),
        r(
            "maxDeletePercent as text",
            task("/policy", json!({"maxDeletePercent": "50%"})),
            ".spec.policy.maxDeletePercent: expected numeric",
        ),
        r(
            "contentChange Update",
            task("/policy", json!({"contentChange": "Update"})),
            "spec.policy.contentChange: Unsupported value: \"Update\"",
        ),
        r(
            "suspend as text",
            task("/suspend", json!("yes")),
            ".spec.suspend: expected boolean",
        ),
        r(
            "addMode Batch",
            task("/longlonglong", json!({"addMode": "Batch"})),
            "spec.longlonglong.addMode: Unsupported value: \"Batch\"",
        ),
        r(
            "unknown policy field",
            task("/policy", json!({"maxDeletePercnt": 10})),
            ".spec.policy.maxDeletePercnt: field not declared in schema",
        ),
        Refusal {
            name: "taskId changed",
            before: Some(task("/taskId", json!("t-1"))),
            object: task("/taskId", json!("t-2")),
            message: "taskId is immutable",
        },
        Refusal {
            name: "providerRef changed",
            before: Some(task("/providerRef", json!({"name": "acct"}))),
            object: task("/providerRef", json!({"name": "acct-2"})),
            message: "providerRef is immutable",
        },
        // CallProvider.
        r(
            "no provider block",
            call_provider("cp", json!({"timeoutSeconds": 10})),
            "exactly one of longlonglong, callbot or nxlink must be set",
        ),
        r(
            "two provider blocks",
            call_provider("cp", json!({"longlonglong": lll(), "callbot": callbot()})),
            "exactly one of longlonglong, callbot or nxlink must be set",
        ),
        r(
            "unknown provider block",
            call_provider("cp", json!({"twilio": {"sid": "x"}})),
            ".spec.twilio: field not declared in schema",
        ),
        r(
            "rateLimit 0 per second",
            lll_provider("/rateLimit", json!({"requestsPerSecond": 0})),
            "spec.rateLimit.requestsPerSecond: Invalid value: 0",
        ),
        r(
            "rateLimit 10,001 per second",
            lll_provider("/rateLimit", json!({"requestsPerSecond": 10001})),
            "spec.rateLimit.requestsPerSecond: Invalid value: 10001",
        ),
        r(
            "rateLimit as text",
            lll_provider("/rateLimit", json!({"requestsPerSecond": "fast"})),
            ".spec.rateLimit.requestsPerSecond: expected numeric",
        ),
        r(
            "rateLimit burst 0",
            lll_provider("/rateLimit", json!({"requestsPerSecond": 5, "burst": 0})),
            "spec.rateLimit.burst: Invalid value: 0",
        ),
        r(
            "rateLimit without rate",
            lll_provider("/rateLimit", json!({"burst": 5})),
            "spec.rateLimit.requestsPerSecond: Required value",
        ),
        r(
            "maxBatchSize add 0",
            lll_provider("/maxBatchSize", json!({"add": 0})),
            "spec.maxBatchSize.add: Invalid value: 0",
        ),
        r(
            "maxBatchSize remove 5,000",
            lll_provider("/maxBatchSize", json!({"remove": 5000})),
            "spec.maxBatchSize.remove: Invalid value: 5000",
        ),
        r(
            "timeoutSeconds 0",
            lll_provider("/timeoutSeconds", json!(0)),
            "spec.timeoutSeconds: Invalid value: 0",
        ),
        r(
            "timeoutSeconds 301",
            lll_provider("/timeoutSeconds", json!(301)),
            "spec.timeoutSeconds: Invalid value: 301",
        ),
        r(
            "timeoutSeconds as duration",
            lll_provider("/timeoutSeconds", json!("30s")),
            ".spec.timeoutSeconds: expected numeric",
        ),
        r(
            "longlonglong without userId",
            call_provider("cp", json!({"longlonglong": without(lll(), "/userId")})),
            "spec.longlonglong.userId: Required value",
        ),
        r(
            "longlonglong region lowercase",
            lll_provider("/longlonglong/region", json!("china")),
            "spec.longlonglong.region: Invalid value: \"china\"",
        ),
        r(
            "phoneFormat Local",
            lll_provider("/longlonglong/phoneFormat", json!("Local")),
            "spec.longlonglong.phoneFormat: Unsupported value: \"Local\"",
        ),
        r(
            "endpoint not a URL",
            lll_provider("/longlonglong/endpoint", json!("not a url")),
            "spec.longlonglong.endpoint",
        ),
        r(
            "token Secret in another namespace",
            lll_provider(
                "/longlonglong/tokenSecretRef",
                json!({"name": "creds", "key": "token", "namespace": "other"}),
            ),
            ".spec.longlonglong.tokenSecretRef.namespace: field not declared in schema",
        ),
        r(
            "callbot algorithm SHA1",
            cb_provider("/callbot/algorithm", json!("SHA1")),
            "spec.callbot.algorithm: Unsupported value: \"SHA1\"",
        ),
        r(
            "callbot phone format E164",
            cb_provider("/callbot/phoneFormat", json!("E164")),
            "callbot.phoneFormat must be InternationalDigits",
        ),
        r(
            "callbot without callback URL",
            call_provider(
                "cp",
                json!({"callbot": without(callbot(), "/orderCallbackUrl")}),
            ),
            "spec.callbot.orderCallbackUrl: Required value",
        ),
        r(
            "callbot credentials in another namespace",
            cb_provider(
                "/callbot/credentialsSecretRef",
                json!({"name": "creds", "namespace": "other"}),
            ),
            ".spec.callbot.credentialsSecretRef.namespace: field not declared in schema",
        ),
        r(
            "nxlink without region or endpoint",
            call_provider(
                "cp",
                json!({"nxlink": {"credentialsSecretRef": {"name": "creds"}}}),
            ),
            "set region (HK, AMER or IDN) or endpoint",
        ),
        r(
            "nxlink region EU",
            call_provider(
                "cp",
                json!({"nxlink": {"region": "EU", "credentialsSecretRef": {"name": "creds"}}}),
            ),
            "spec.nxlink.region: Unsupported value: \"EU\"",
        ),
    ]
}

//! Server-side apply of the objects the tests declare, by the `kind` of their JSON: one helper
//! for every test binary, under one field manager.
use std::borrow::Borrow;

use callsync::api::{CallProvider, CallTask, ContactList};
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams};
use kube::{Client, Resource};
use serde_json::Value;

/// The field manager of every object the tests apply (the CRDs too).
pub const TEST_FIELD_MANAGER: &str = "callsync-tests";

/// Forced server-side apply as [`TEST_FIELD_MANAGER`]: the tests own what they declare.
pub fn apply_params() -> PatchParams {
    PatchParams::apply(TEST_FIELD_MANAGER).force()
}

/// The resource of a namespaced `K`, e.g. `resource::<CallTask>()`.
pub fn resource<K>() -> ApiResource
where
    K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>,
{
    ApiResource::erase::<K>(&())
}

/// The resource of an object the tests apply, by its `kind`.
pub fn resource_of_kind(kind: &str) -> ApiResource {
    match kind {
        "Secret" => resource::<Secret>(),
        "ConfigMap" => resource::<ConfigMap>(),
        "CallProvider" => resource::<CallProvider>(),
        "CallTask" => resource::<CallTask>(),
        "ContactList" => resource::<ContactList>(),
        other => panic!("the test harness applies no {other}"),
    }
}

fn kind_and_name(object: &Value) -> (&str, &str) {
    let kind = object["kind"].as_str().expect("the object has a kind");
    let name = object["metadata"]["name"]
        .as_str()
        .expect("the object has a metadata.name");
    (kind, name)
}

/// Server-side apply of `object` (JSON with `apiVersion`, `kind` and `metadata.name`) in `ns`
/// with `params`; the caller judges the answer.
pub async fn try_apply_with(
    client: &Client,
    ns: &str,
    object: &Value,
    params: &PatchParams,
) -> Result<DynamicObject, kube::Error> {
    let (kind, name) = kind_and_name(object);
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, &resource_of_kind(kind));
    api.patch(name, params, &Patch::Apply(object)).await
}

/// Server-side apply of `object` in `ns` with [`apply_params`]; panics (failing the test) with
/// the kind, name and error when the server refuses.
pub async fn apply(client: &Client, ns: &str, object: impl Borrow<Value>) -> DynamicObject {
    let object = object.borrow();
    try_apply_with(client, ns, object, &apply_params())
        .await
        .unwrap_or_else(|e| {
            let (kind, name) = kind_and_name(object);
            panic!("apply {kind} {name}: {e}")
        })
}

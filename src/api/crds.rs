//! The CRDs as the code defines them: `callsync crds` prints them, `crds/` holds them, and a
//! test fails when the two drift apart.
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceDefinition, JSONSchemaProps, JSONSchemaPropsOrArray, JSONSchemaPropsOrBool,
};
use kube::CustomResourceExt;

use super::{CallProvider, CallTask, ContactList};

/// The three CRDs, in a stable order.
pub fn all_crds() -> Vec<CustomResourceDefinition> {
    let mut crds = vec![CallProvider::crd(), CallTask::crd(), ContactList::crd()];
    for crd in &mut crds {
        for version in &mut crd.spec.versions {
            if let Some(schema) = version
                .schema
                .as_mut()
                .and_then(|s| s.open_api_v3_schema.as_mut())
            {
                unwrap_descriptions(schema);
            }
        }
    }
    crds
}

/// Doc comments are hard-wrapped at 100 columns; `kubectl explain` wraps again, so single line
/// breaks become spaces. Blank lines (paragraphs) stay.
fn unwrap_descriptions(schema: &mut JSONSchemaProps) {
    if let Some(description) = schema.description.as_mut() {
        *description = description
            .split("\n\n")
            .map(|paragraph| paragraph.split('\n').collect::<Vec<_>>().join(" "))
            .collect::<Vec<_>>()
            .join("\n\n");
    }
    for child in schema.properties.iter_mut().flat_map(|p| p.values_mut()) {
        unwrap_descriptions(child);
    }
    if let Some(JSONSchemaPropsOrArray::Schema(items)) = schema.items.as_mut() {
        unwrap_descriptions(items);
    }
    if let Some(JSONSchemaPropsOrBool::Schema(extra)) = schema.additional_properties.as_mut() {
        unwrap_descriptions(extra);
    }
}

/// One `(file name, YAML document)` per CRD, as `crds/` holds them: `<plural>.yaml`, each
/// starting with `---`, so that `cat crds/*.yaml` equals [`crds_yaml`].
pub fn crd_files() -> Result<Vec<(String, String)>, serde_yaml::Error> {
    all_crds()
        .into_iter()
        .map(|crd| {
            let yaml = format!("---\n{}", serde_yaml::to_string(&crd)?);
            Ok((format!("{}.yaml", crd.spec.names.plural), yaml))
        })
        .collect()
}

/// The CRDs as one multi-document YAML stream, the form `callsync crds` prints.
pub fn crds_yaml() -> Result<String, serde_yaml::Error> {
    Ok(crd_files()?.into_iter().map(|(_, yaml)| yaml).collect())
}

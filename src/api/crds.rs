//! The CRDs as the code defines them: `callsync crds` prints them, `crds/` holds them, and a
//! test fails when the two drift apart.
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

use super::{CallProvider, CallTask, ContactList};

/// The three CRDs, in a stable order.
pub fn all_crds() -> Vec<CustomResourceDefinition> {
    vec![CallProvider::crd(), CallTask::crd(), ContactList::crd()]
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

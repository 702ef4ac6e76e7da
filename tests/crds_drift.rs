//! `crds/` must hold exactly what the code generates.
use std::collections::BTreeMap;

#[test]
fn crds_folder_matches_generated_crds() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let generated: BTreeMap<String, String> = callsync::api::crd_files()
        .expect("render CRDs")
        .into_iter()
        .collect();
    let mut on_disk = BTreeMap::new();
    for entry in std::fs::read_dir(root.join("crds")).expect("read crds/") {
        let path = entry.expect("dir entry").path();
        if path.extension().is_some_and(|e| e == "yaml") {
            let name = path
                .file_name()
                .expect("file name")
                .to_string_lossy()
                .into_owned();
            on_disk.insert(name, std::fs::read_to_string(&path).expect("read CRD file"));
        }
    }
    let stale: Vec<&String> = generated
        .keys()
        .chain(on_disk.keys())
        .filter(|name| generated.get(*name) != on_disk.get(*name))
        .collect();
    assert!(
        stale.is_empty(),
        "crds/ differs from the CRDs the code generates ({stale:?}); \
         regenerate with `cargo run -- crds --dir crds` and commit the result"
    );
}

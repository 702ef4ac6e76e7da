//! How big a CSV source — one key of a ConfigMap or Secret that a ContactList's `source`
//! names — may be. Whoever may write ConfigMaps in a namespace shapes it, and parsed contacts
//! take many times the CSV's size in memory, so it is measured before it is parsed: by the
//! controller after reading the object, by the CLI on the objects in its files (which no API
//! server has checked).
/// 1 MiB: what the API server accepts for all the data of one ConfigMap or Secret, so a
/// source the cluster would take is never refused here.
pub const MAX_CSV_SOURCE_BYTES: usize = 1024 * 1024;

/// Refuses a source past [`MAX_CSV_SOURCE_BYTES`]; `what` names it ("ConfigMap x key y").
pub fn check_csv_source_size(what: &str, len: usize) -> Result<(), String> {
    if len > MAX_CSV_SOURCE_BYTES {
        return Err(format!(
            "{what} holds {len} bytes, more than the {MAX_CSV_SOURCE_BYTES} a CSV source may \
             have (what the API server takes for a ConfigMap or Secret); split it into several \
             ContactLists (`callsync import --out DIR`)"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_source_past_the_limit_is_refused_with_its_name() {
        assert!(check_csv_source_size("ConfigMap \"c\" key \"k\"", MAX_CSV_SOURCE_BYTES).is_ok());
        let err = check_csv_source_size("ConfigMap \"c\" key \"k\"", MAX_CSV_SOURCE_BYTES + 1)
            .expect_err("too big");
        assert!(
            err.starts_with("ConfigMap \"c\" key \"k\" holds 1048577 bytes, more than the 1048576"),
            "{err}"
        );
    }
}

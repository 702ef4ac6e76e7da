//! The condition reasons people read about are the ones the code sets. `src/api/reasons.rs` is
//! the one list: the controller sets Ready reasons only from its constants (exhaustive matches
//! over the error enums return them). Here:
//! - docs/operations.md's Conditions table explains every CallTask reason and names no other, and
//!   the section names both ContactList reasons;
//! - docs/gitops.md, and the status fixtures tests/gitops.rs feeds to kstatus and Argo CD's
//!   Lua, use no reason outside the list;
//! - no controller code passes a string literal as a reason (which would bypass the list).
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use callsync::api::reasons;
use regex::Regex;

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &str) -> String {
    std::fs::read_to_string(repo_root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn known() -> BTreeSet<&'static str> {
    reasons::CALL_TASK
        .iter()
        .chain(reasons::CONTACT_LIST)
        .copied()
        .collect()
}

/// The text of the `## Conditions` section of docs/operations.md.
fn conditions_section() -> String {
    let doc = read("docs/operations.md");
    let start = doc.find("\n## Conditions\n").expect("a Conditions section");
    let rest = &doc[start + 1..];
    let end = rest[3..].find("\n## ").map_or(rest.len(), |i| i + 3);
    rest[..end].to_owned()
}

#[test]
fn the_operations_conditions_table_lists_exactly_the_call_task_reasons() {
    let section = conditions_section();
    let word = Regex::new(r"`([A-Za-z]+)`").expect("regex");
    let mut documented = BTreeSet::new();
    for row in section.lines().filter(|l| l.starts_with("| `")) {
        let first_cell = row.split('|').nth(1).expect("a first cell");
        documented.extend(word.captures_iter(first_cell).map(|c| c[1].to_owned()));
    }
    let listed: BTreeSet<String> = reasons::CALL_TASK.iter().map(|r| r.to_string()).collect();
    let undocumented: Vec<_> = listed.difference(&documented).collect();
    assert!(
        undocumented.is_empty(),
        "reasons the code can set that docs/operations.md's Conditions table does not explain: \
         {undocumented:?}"
    );
    let stale: Vec<_> = documented.difference(&listed).collect();
    assert!(
        stale.is_empty(),
        "docs/operations.md's Conditions table explains reasons the code never sets: {stale:?}"
    );
    for reason in reasons::CONTACT_LIST {
        assert!(
            section.contains(&format!("`{reason}`")),
            "the Conditions section does not name the ContactList reason {reason}"
        );
    }
}

#[test]
fn the_gitops_guide_and_its_fixtures_name_only_reasons_the_code_sets() {
    let known = known();
    let named = Regex::new(r"reason\s+`([A-Za-z]+)`").expect("regex");
    let guide = read("docs/gitops.md");
    let found: Vec<String> = named
        .captures_iter(&guide)
        .map(|c| c[1].to_owned())
        .collect();
    assert!(
        !found.is_empty(),
        "docs/gitops.md names no reason: the pattern is stale"
    );
    for reason in &found {
        assert!(
            known.contains(reason.as_str()),
            "docs/gitops.md names reason {reason}, which the code never sets"
        );
    }
    let fixture = Regex::new(
        r#"c\("(?:Ready|Reconciling|Stalled)",\s*"(?:True|False|Unknown)",\s*"([A-Za-z]+)""#,
    )
    .expect("regex");
    let fixtures = read("tests/gitops.rs");
    let used: Vec<String> = fixture
        .captures_iter(&fixtures)
        .map(|c| c[1].to_owned())
        .collect();
    assert!(!used.is_empty(), "tests/gitops.rs: the pattern is stale");
    for reason in &used {
        assert!(
            known.contains(reason.as_str()),
            "tests/gitops.rs gives a condition reason {reason} the code never sets"
        );
    }
}

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read_dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn controller_code_sets_no_reason_from_a_string_literal() {
    // Reasons of errors that never become a condition (they fail the reconcile, which is
    // retried): the sink's, as metric labels.
    let allowed = ["LedgerEncode"];
    let literal = Regex::new(r#"reason:\s*"([A-Za-z]+)""#).expect("regex");
    let mut files = Vec::new();
    rust_files(&repo_root().join("src/controller"), &mut files);
    let mut offenders = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("read");
        // Unit tests may build phases from literals.
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        for capture in literal.captures_iter(code) {
            if !allowed.contains(&&capture[1]) {
                offenders.push(format!(
                    "{}: reason \"{}\"",
                    file.strip_prefix(repo_root()).unwrap_or(&file).display(),
                    &capture[1]
                ));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "set reasons from src/api/reasons.rs, not literals: {offenders:?}"
    );
}

//! Security proof for the whole suite: no full phone number and no secret value in anything a
//! person could read that the suite's runs produced — controller logs (processes and
//! in-process), Events and status writes (the test apiserver's audit log).
//!
//! `make test` runs the suite with `CALLSYNC_TEST_LOG_DIR=target/test-logs`, then this scan:
//! `cargo test --test log_scan -- --ignored`. The scanner's own checks run with the suite.
mod support;

use std::path::{Path, PathBuf};

use support::leaks::{is_phone, phone_runs, scan_dir, scan_text, secret_values};
use support::logs::LOG_DIR_ENV;

fn tests_dir() -> PathBuf {
    support::repo_root().join("tests")
}

#[test]
fn finds_full_phones_in_every_written_form() {
    for line in [
        "phone=+8613812345678 added",
        r#"{"phone":"8613812345678"}"#,
        "national 13812345678, then",
        "tel:+85291234567",
        "us +12025550123.",
    ] {
        assert_eq!(phone_runs(line).len(), 1, "{line}");
    }
}

#[test]
fn ignores_masks_timestamps_uuids_digests_and_fractions() {
    for line in [
        "phone +86138****5678 and 138****5678",
        r#""time":"2026-11-25T21:39:54.123456789Z" ts=1764107000 ms=1764107000123"#,
        "uid 123e4567-e89b-12d3-a456-426614174000 and 00000000-0000-0000-0000-138123456789",
        "digest a13812345678b sha 3812345678abcdef",
        "took 0.13812345678s, rv=1234567",
        "ledger-g1-13812345678x",
    ] {
        assert!(
            phone_runs(line).is_empty(),
            "{line}: {:?}",
            phone_runs(line)
        );
    }
    assert!(!is_phone("1764107000"));
    assert!(!is_phone("1764107000123"));
    assert!(is_phone("13812345678"));
}

#[test]
fn collects_the_secrets_of_the_test_fixtures() {
    let secrets = secret_values(&tests_dir());
    for known in [
        "cb-secret-1",
        "nx-secret-1",
        "S3cr3t-cb-Zq81x",
        "wrong-secret",
    ] {
        assert!(secrets.iter().any(|s| s == known), "{known} not collected");
    }
    assert!(
        !secrets.iter().any(|s| s == "callsync.io/ledger"),
        "type names are not secrets"
    );
}

#[test]
fn reports_file_line_and_masks_what_it_found() {
    let secrets = vec!["S3cr3t-cb-Zq81x".to_string()];
    let text = "fine\nadded 13812345678 with S3cr3t-cb-Zq81x\n";
    let hits = scan_text(Path::new("x.log"), text, &secrets);
    assert_eq!(hits.len(), 1);
    let shown = hits[0].to_string();
    assert!(
        shown.starts_with("x.log:2: phone number and secret"),
        "{shown}"
    );
    assert!(
        !shown.contains("13812345678") && !shown.contains("S3cr3t"),
        "{shown}"
    );
    assert!(
        shown.contains("138****5678") && shown.contains("<secret>"),
        "{shown}"
    );
}

/// Run by `make test` after the suite (it needs the suite's logs).
#[test]
#[ignore = "scans the logs of a whole suite run; `make test` runs it after `cargo test`"]
fn no_phone_number_and_no_secret_in_the_suites_logs_events_and_statuses() {
    let dir = support::logs::log_dir()
        .unwrap_or_else(|| panic!("{LOG_DIR_ENV} must name the suite's log folder"));
    let secrets = secret_values(&tests_dir());
    let (hits, files, lines) = scan_dir(&dir, &secrets);
    // What the scan must have seen, or it proves nothing: the apiserver audit logs with Events
    // and status writes, controller process logs, in-process controller logs.
    let names: Vec<String> = std::fs::read_dir(&dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    let audit: String = names
        .iter()
        .filter(|n| n.starts_with("audit-"))
        .filter_map(|n| std::fs::read_to_string(dir.join(n)).ok())
        .collect();
    assert!(
        audit.contains("\"resource\":\"events\""),
        "no Event in the audit logs of {}",
        dir.display()
    );
    assert!(
        audit.contains("\"subresource\":\"status\""),
        "no status write in the audit logs"
    );
    assert!(
        audit.contains("****"),
        "no masked phone in the audit logs: the statuses with contacts were not recorded"
    );
    assert!(
        names
            .iter()
            .any(|n| n.starts_with("inprocess-controller_e2e")),
        "no in-process controller log: {names:?}"
    );
    assert!(
        std::fs::read_dir(dir.join("processes")).is_ok_and(|mut d| d.next().is_some()),
        "no controller process log"
    );
    eprintln!(
        "leak scan of {}: {files} files, {lines} lines, {} secrets looked for, {} hits",
        dir.display(),
        secrets.len(),
        hits.len()
    );
    assert!(
        hits.is_empty(),
        "{} lines hold a full phone number or a secret (shown masked):\n{}",
        hits.len(),
        hits.iter()
            .take(40)
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// Test output goes under `target/` whatever the variable says: an empty or relative value never
/// makes a test write into the package root (it once left logs committed there).
#[test]
fn the_log_folder_is_always_under_target_unless_absolute() {
    use std::ffi::OsStr;
    use support::logs::resolve_log_dir;
    let target = support::repo_root().join("target");
    assert_eq!(resolve_log_dir(OsStr::new("")), target.join("test-logs"));
    assert_eq!(resolve_log_dir(OsStr::new(".")), target.join("."));
    assert_eq!(resolve_log_dir(OsStr::new("logs")), target.join("logs"));
    assert_eq!(
        resolve_log_dir(OsStr::new("/tmp/x-logs")),
        std::path::PathBuf::from("/tmp/x-logs")
    );
}

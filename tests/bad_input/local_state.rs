//! Misuse of `callsync apply`'s local state (safety items 3 and 9), with the real binary and
//! `callsync simulate` as processes: a ledger file deleted by hand must not make remote ids
//! repeat, nor any contact be claimed that the provider did not confirm; and under a permissive
//! umask the state still holds phone numbers for its owner only.
use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::support::cli::{self, BIN, Output, Running};

const ADMIN_TOKEN: &str = "bad-input-local-admin-token";
const ACCOUNT: &str = "AK-local";
const SECRET: &str = "local-secret";

/// `callsync ARGS` in `dir` under umask 000, so every mode the files get is callsync's own.
fn run_permissive(dir: &Path, args: &[&str]) -> Output {
    let child = Command::new("sh")
        .arg("-c")
        .arg("umask 000 && exec \"$0\" \"$@\"")
        .arg(BIN)
        .args(args)
        .current_dir(dir)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start callsync");
    Running { child }.finish(Duration::from_secs(120))
}

fn files(dir: &Path, base: &str, phones: &[&str]) {
    let list: String = phones
        .iter()
        .map(|p| format!("      - phone: \"{p}\"\n"))
        .collect();
    let text = format!(
        r#"apiVersion: v1
kind: Secret
metadata:
  name: nx
  labels:
    callsync.io/credentials: "true"
stringData:
  accessKey: {ACCOUNT}
  accessSecret: {SECRET}
---
apiVersion: callsync.io/v1alpha1
kind: CallProvider
metadata:
  name: nx
spec:
  insecure: true
  nxlink:
    endpoint: {base}
    credentialsSecretRef:
      name: nx
---
apiVersion: callsync.io/v1alpha1
kind: CallTask
metadata:
  name: campaign
spec:
  providerRef:
    name: nx
  taskId: T-1
  policy:
    maxDeletePercent: 100
  contactLists:
    names: [people]
---
apiVersion: callsync.io/v1alpha1
kind: ContactList
metadata:
  name: people
spec:
  contacts:
{list}"#
    );
    std::fs::write(dir.join("all.yaml"), text).expect("write files");
}

fn admin(base: &str, path: &str) -> Value {
    cli::admin_get(&format!("{base}{path}"), ADMIN_TOKEN)
}

/// (operation, remote id, outcome) of every audited call so far.
fn audit(base: &str) -> Vec<(String, String, String)> {
    admin(base, "/_sim/audit?since=0")
        .as_array()
        .expect("audit rows")
        .iter()
        .map(|row| {
            let field = |k: &str| row[k].as_str().unwrap_or_default().to_owned();
            (field("operation"), field("remoteId"), field("outcome"))
        })
        .collect()
}

fn held(base: &str) -> BTreeSet<String> {
    admin(
        base,
        &format!("/_sim/accounts/nxlink/{ACCOUNT}/tasks/T-1/contacts"),
    )
    .as_array()
    .expect("contacts")
    .iter()
    .map(|c| c["phone"].as_str().expect("phone").to_owned())
    .collect()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}

/// Item 3 through the CLI: the ledger file of a task is deleted by hand after a contact was
/// added and removed; the contact comes back to the list. The new ledger must add it under a
/// remote id never used before (NXLink would answer "id already used" to an old one, which
/// reads as the earlier add: the person never called and reported present), must not claim
/// the contact still at the provider as added, and must remove nothing. Item 9: all of it under
/// umask 000, and the state folder and ledger stay owner-only.
#[test]
fn a_ledger_deleted_by_hand_never_repeats_remote_ids_and_the_state_stays_owner_only() {
    let work = tempfile::tempdir().expect("tempdir");
    let config = work.path().join("sim.yaml");
    std::fs::write(
        &config,
        format!(
            "adminToken: {ADMIN_TOKEN}\naccounts:\n  - provider: nxlink\n    id: {ACCOUNT}\n    secret: {SECRET}\n    tasks: [{{id: T-1}}]\n"
        ),
    )
    .expect("write config");
    let (_sim, base) = cli::simulator(&config);
    let dir = work.path().join("files");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let files_arg = dir.display().to_string();
    let state_dir = work.path().join("state");
    let state = state_dir.display().to_string();
    let apply = |phones: &[&str]| {
        files(&dir, &base, phones);
        let out = run_permissive(work.path(), &["apply", "-f", &files_arg, "--state", &state]);
        assert!(!out.all().contains("panicked"), "{}", out.all());
        assert!(
            !out.all().contains("13900000301") && !out.all().contains("13900000302"),
            "phones are masked\n{}",
            out.all()
        );
        out
    };
    let (kept, readded) = ("+8613900000301", "+8613900000302");

    let out = apply(&[kept, readded]);
    assert!(
        out.success() && out.stdout.contains("added 2"),
        "{}",
        out.all()
    );
    let out = apply(&[kept]);
    assert!(
        out.success() && out.stdout.contains("removed 1"),
        "{}",
        out.all()
    );
    assert_eq!(held(&base), BTreeSet::from(["8613900000301".to_owned()]));
    let used_before: BTreeSet<String> = audit(&base)
        .into_iter()
        .filter(|(op, _, _)| op == "add")
        .map(|(_, id, _)| id)
        .collect();
    let calls_before = audit(&base).len();

    // The misuse: the task's ledger removed by hand (or lost with the folder it lived in).
    let ledgers: Vec<_> = walk(&state_dir)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "ledger"))
        .collect();
    assert_eq!(ledgers.len(), 1, "one ledger file: {ledgers:?}");
    std::fs::remove_file(&ledgers[0]).expect("remove ledger");

    let out = apply(&[kept, readded]);
    let since: Vec<_> = audit(&base).split_off(calls_before);
    let adds: Vec<&(String, String, String)> =
        since.iter().filter(|(op, _, _)| op == "add").collect();
    assert!(
        !adds.is_empty(),
        "the contact that came back is sent: {since:?}"
    );
    for (_, id, _) in &adds {
        assert!(
            !used_before.contains(id),
            "remote id {id} was used by the lost ledger: it must never be sent again ({since:?})"
        );
    }
    assert!(
        since.iter().all(|(op, _, _)| op != "remove"),
        "a lost ledger removes nothing: {since:?}"
    );
    assert!(
        !out.stdout.contains("added 2"),
        "the contact still at the provider was not added by this run\n{}",
        out.all()
    );
    assert_eq!(
        held(&base),
        BTreeSet::from(["8613900000301".to_owned(), "8613900000302".to_owned()]),
        "both wanted contacts are at the provider\n{}",
        out.all()
    );

    // Item 9: under umask 000 the folders are 0700 and the files 0600.
    for path in walk(&state_dir) {
        let expected = if path.is_dir() { 0o700 } else { 0o600 };
        assert_eq!(mode(&path), expected, "{}", path.display());
    }
}

/// The state folder and everything under it.
fn walk(root: &Path) -> Vec<std::path::PathBuf> {
    let mut found = vec![root.to_path_buf()];
    let mut i = 0;
    while i < found.len() {
        if found[i].is_dir() {
            for entry in std::fs::read_dir(&found[i]).expect("read_dir") {
                found.push(entry.expect("entry").path());
            }
        }
        i += 1;
    }
    found
}

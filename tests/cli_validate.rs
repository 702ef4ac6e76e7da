//! `callsync validate`, `plan` and `apply` on broken inputs: every fixture under
//! `tests/fixtures/broken/` gives its one clear message (file, document, path), a non-zero
//! exit, and never a panic or a debug dump; and the examples validate.
mod support;

use support::cli::run;
use support::repo_root;

/// (fixture, command, expected message).
const BROKEN: &[(&str, &str, &str)] = &[
    (
        "missing-secret",
        "validate",
        "document 1 (CallProvider \"lll\"): spec.longlonglong.tokenSecretRef.name: Secret \"lll-token\" not found in namespace \"default\"",
    ),
    (
        "missing-secret-key",
        "validate",
        "spec.longlonglong.tokenSecretRef: Secret \"lll-token\" has no key \"token\"",
    ),
    (
        "two-provider-blocks",
        "validate",
        "document 2 (CallProvider \"lll\"): spec: exactly one of longlonglong, callbot or nxlink must be set",
    ),
    (
        "no-provider-block",
        "validate",
        "document 2 (CallProvider \"lll\"): spec: exactly one of longlonglong, callbot or nxlink must be set",
    ),
    (
        "unknown-field",
        "validate",
        "spec.colour: unknown field \"colour\"",
    ),
    (
        "wrong-type",
        "validate",
        "spec.timeoutSeconds: wrong type: expected integer, found string \"thirty\"",
    ),
    (
        "bad-enum",
        "validate",
        "spec.policy.management: \"Everything\" is not allowed; use one of \"Full\", \"AddOnly\", \"ObserveOnly\"",
    ),
    (
        "out-of-range",
        "validate",
        "spec.policy.maxDeletePercent: 150 is more than the maximum 100",
    ),
    (
        "resync-out-of-range",
        "validate",
        "spec.resyncInterval: resyncInterval must be between 1s and 168h (7 days)",
    ),
    (
        "too-many-contacts",
        "validate",
        "(ContactList \"people\"): spec.contacts: 5001 items, more than the maximum 5000",
    ),
    (
        "missing-provider",
        "validate",
        "spec.providerRef.name: CallProvider \"nope\" not found in namespace \"default\"",
    ),
    (
        "cross-namespace",
        "validate",
        "CallProvider \"lll\" not found in namespace \"default\" (a CallProvider \"lll\" exists in namespace team-b; references never cross namespaces)",
    ),
    (
        "unreadable-csv",
        "validate",
        "spec.source.configMapRef: ConfigMap \"people-csv\" key \"contacts.csv\" is not readable CSV: no phone column among the headers (名字, 地址)",
    ),
    (
        "missing-csv-source",
        "validate",
        "spec.source.secretRef: Secret \"people-csv\" not found in namespace \"default\"",
    ),
    (
        "invalid-yaml",
        "validate",
        "objects.yaml: document 2: invalid YAML: did not find expected ',' or '}'",
    ),
    (
        "duplicate-names",
        "validate",
        "document 5 (ContactList \"people\"): metadata.name: ContactList default/people is defined twice; the first is in",
    ),
    (
        "task-id-missing",
        "validate",
        "(CallTask \"campaign\"): spec.taskId: required field is missing",
    ),
    (
        "no-list-selection",
        "validate",
        "spec.contactLists: set selector, names, or both",
    ),
    (
        "contacts-and-source",
        "validate",
        "(ContactList \"people\"): spec: set contacts or source, not both",
    ),
    (
        "wrong-api-version",
        "validate",
        "apiVersion: callsync.io/v1 is not served; use callsync.io/v1alpha1",
    ),
    (
        "missing-list",
        "validate",
        "spec.contactLists.names: ContactList \"vip\" not found in namespace \"default\"; a sync without it would remove its contacts",
    ),
    (
        "duplicate-task-id",
        "validate",
        "(CallTask \"campaign-copy\"): spec.taskId: remote task \"42\" of CallProvider \"lll\" is already managed by CallTask \"campaign\"",
    ),
    (
        "bad-phone",
        "validate --strict",
        "document 4 (ContactList \"people\"): spec.contacts[1]: phone 138****567 too short for CN",
    ),
    (
        "unreachable-endpoint",
        "apply",
        "default/campaign: CallProvider \"lll\": cannot reach http://127.0.0.1:9",
    ),
    (
        "plain-http-endpoint",
        "validate",
        "(CallProvider \"lll\"): spec.longlonglong.endpoint: invalid provider configuration: endpoint http://127.0.0.1:9 is plain http",
    ),
    // plan and apply refuse broken files before any network call, with the same messages.
    (
        "missing-secret-key",
        "plan",
        "Secret \"lll-token\" has no key \"token\"",
    ),
    // Secrets are used only when labelled for the use (src/api/secret_optin.rs).
    (
        "credentials-not-opted-in",
        "plan",
        "spec.longlonglong.tokenSecretRef.name: Secret default/lll-token is not labelled callsync.io/credentials=\"true\"",
    ),
    (
        "contacts-not-opted-in",
        "validate",
        "spec.source.secretRef: Secret default/lll-token is not labelled callsync.io/contacts=\"true\"",
    ),
    (
        "two-provider-blocks",
        "apply",
        "exactly one of longlonglong, callbot or nxlink must be set",
    ),
];

fn no_debug_dump(text: &str) {
    for marker in ["panicked", "RUST_BACKTRACE", "Error {", "Some(", "kind: "] {
        assert!(
            !text.contains(marker),
            "debug output ({marker}) in:\n{text}"
        );
    }
}

#[test]
fn broken_inputs_fail_with_their_message() {
    assert!(BROKEN.len() >= 15);
    let state = tempfile::tempdir().expect("tempdir");
    let fixtures = repo_root().join("tests/fixtures/broken");
    let mut covered = std::collections::BTreeSet::new();
    for (fixture, command, expected) in BROKEN {
        let dir = fixtures.join(fixture);
        assert!(dir.is_dir(), "missing fixture {fixture}");
        covered.insert(*fixture);
        let dir = dir.display().to_string();
        let state_dir = state.path().join(fixture).display().to_string();
        let mut args: Vec<&str> = command.split(' ').collect();
        args.extend(["-f", &dir]);
        if *command == "apply" {
            args.extend(["--state", &state_dir]);
        }
        let out = run(repo_root(), &args);
        assert!(
            !out.success(),
            "{fixture} ({command}) must fail:\n{}",
            out.all()
        );
        assert_eq!(out.code, Some(1), "{fixture}: exit code\n{}", out.all());
        assert!(
            out.stderr.contains(expected),
            "{fixture} ({command}): expected {expected:?} in:\n{}",
            out.all()
        );
        assert!(
            out.stderr
                .lines()
                .last()
                .is_some_and(|l| l.starts_with("error: ")),
            "{fixture}: the last line says what failed:\n{}",
            out.all()
        );
        no_debug_dump(&out.all());
        assert!(
            !out.all().contains("test-token"),
            "{fixture}: a secret in the output"
        );
    }
    // Every fixture folder is exercised.
    for entry in std::fs::read_dir(&fixtures).expect("fixtures") {
        let name = entry
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        assert!(
            covered.contains(name.as_str()),
            "fixture {name} has no expectation"
        );
    }
}

#[test]
fn invalid_phones_warn_and_fail_only_with_strict() {
    let dir = repo_root().join("tests/fixtures/broken/bad-phone");
    let dir = dir.display().to_string();
    let out = run(repo_root(), &["validate", "-f", &dir]);
    assert!(out.success(), "{}", out.all());
    assert!(
        out.stderr.contains("warning: ")
            && out.stderr.contains("spec.contacts[1]: phone 138****567"),
        "{}",
        out.all()
    );
    assert!(
        out.stdout.contains("0 error(s), 1 warning(s)"),
        "{}",
        out.all()
    );
    // The full number is never printed.
    assert!(!out.all().contains("1381234567"), "{}", out.all());
}

#[test]
fn all_errors_are_listed_not_just_the_first() {
    let fixtures = repo_root().join("tests/fixtures/broken");
    let a = fixtures.join("bad-enum").display().to_string();
    let b = fixtures.join("wrong-type").display().to_string();
    let out = run(repo_root(), &["validate", "-f", &a, "-f", &b]);
    assert_eq!(out.code, Some(1), "{}", out.all());
    assert!(
        out.stderr.contains("\"Everything\" is not allowed"),
        "{}",
        out.all()
    );
    assert!(
        out.stderr.contains("expected integer, found string"),
        "{}",
        out.all()
    );
}

#[test]
fn the_examples_validate() {
    // Every example of callsync's own objects; examples/chart holds Helm values files (not
    // Kubernetes objects, refused by `validate` as `kubectl apply` refuses them; the chart tests
    // render them) and examples/gitops Flux and Argo CD objects (tests/gitops_examples.rs).
    for path in [
        "examples/longlonglong.yaml",
        "examples/callbot.yaml",
        "examples/nxlink.yaml",
        "examples/quickstart",
    ] {
        let out = run(repo_root(), &["validate", "-f", path]);
        assert!(out.success(), "{path}:\n{}", out.all());
        assert!(out.stdout.contains(" 0 error(s)"), "{}", out.all());
    }
    // The quick start carries two deliberately invalid contacts: warnings, errors with --strict.
    let out = run(
        repo_root(),
        &["validate", "--strict", "-f", "examples/quickstart"],
    );
    assert_eq!(out.code, Some(1), "{}", out.all());
    assert!(out.stdout.contains("2 error(s)"), "{}", out.all());
    assert!(out.stderr.contains("contacts-beijing.yaml: document 1 (ContactList \"spring-beijing\"): spec.contacts[24]: phone"), "{}", out.all());
}

//! The CLI conventions every command shares, on the real binary: `plan --detailed-exitcode`
//! (0 no writes, 2 writes, 1 error: Terraform's rule), `-o json` for validate and apply, shell
//! completion, `--log-level`, `version [-o json]`, and command-line mistakes as one line with exit 1.
mod support;

use std::path::{Path, PathBuf};

use serde_json::Value;
use support::cli::{Output, run};
use support::repo_root;

fn quickstart() -> PathBuf {
    repo_root().join("examples/quickstart")
}

/// A copy of the quick start with `edit` applied to each file's text.
fn quickstart_with(edit: impl Fn(&str, String) -> String) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for entry in std::fs::read_dir(quickstart()).expect("examples/quickstart") {
        let path = entry.expect("entry").path();
        let name = path
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let text = std::fs::read_to_string(&path).expect("read");
        std::fs::write(dir.path().join(&name), edit(&name, text)).expect("write");
    }
    dir
}

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// One `error: ` line on stderr and nothing that looks like a usage dump or a panic.
fn assert_one_error_line(out: &Output, expected: &str) {
    assert_eq!(out.code, Some(1), "{}", out.all());
    let lines: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert_eq!(lines.len(), 1, "one line: {}", out.all());
    assert!(lines[0].starts_with("error: "), "{}", out.all());
    assert!(
        lines[0].contains(expected),
        "expected {expected:?}: {}",
        out.all()
    );
    assert!(!out.stderr.contains("panicked"), "{}", out.all());
}

#[test]
fn plan_detailed_exitcode_is_2_with_writes_0_without_and_1_on_error() {
    let changes = run(
        repo_root(),
        &[
            "plan",
            "-f",
            path(&quickstart()),
            "--simulate",
            "--detailed-exitcode",
        ],
    );
    assert_eq!(changes.code, Some(2), "writes planned: {}", changes.all());
    assert!(changes.stdout.contains("to add"), "{}", changes.all());
    assert!(
        !changes.stderr.contains("error"),
        "exit 2 is no error: {}",
        changes.all()
    );

    // Without the flag, planned writes are success.
    let plain = run(
        repo_root(),
        &["plan", "-f", path(&quickstart()), "--simulate"],
    );
    assert_eq!(plain.code, Some(0), "{}", plain.all());

    // ObserveOnly plans no write: 0 (and says the providers differ).
    let observe = quickstart_with(|name, text| {
        if name == "task.yaml" {
            text.replace("management: Full", "management: ObserveOnly")
        } else {
            text
        }
    });
    let none = run(
        repo_root(),
        &[
            "plan",
            "-f",
            path(observe.path()),
            "--simulate",
            "--detailed-exitcode",
        ],
    );
    assert_eq!(none.code, Some(0), "no writes planned: {}", none.all());
    assert!(none.stdout.contains("No writes planned"), "{}", none.all());

    // The same with -o json.
    let json = run(
        repo_root(),
        &[
            "plan",
            "-f",
            path(&quickstart()),
            "--simulate",
            "--detailed-exitcode",
            "-o",
            "json",
        ],
    );
    assert_eq!(json.code, Some(2), "{}", json.all());
    let document: Value = serde_json::from_str(&json.stdout).expect("plan JSON");
    assert!(
        document["totals"]["toAdd"].as_u64().unwrap_or(0) > 0,
        "{document}"
    );

    // An error is 1, never 2, even with writes planned elsewhere.
    let broken = run(
        repo_root(),
        &[
            "plan",
            "-f",
            path(&repo_root().join("tests/fixtures/broken/missing-provider")),
            "--simulate",
            "--detailed-exitcode",
        ],
    );
    assert_eq!(broken.code, Some(1), "{}", broken.all());
}

/// A CallProvider with spec.suspend: plan and apply send nothing for its tasks and say why.
#[test]
fn a_suspended_call_provider_in_the_files_sends_nothing() {
    let frozen = quickstart_with(|name, text| {
        if name == "provider.yaml" {
            text.replace("  rateLimit:", "  suspend: true\n  rateLimit:")
        } else {
            text
        }
    });
    let plan = run(
        repo_root(),
        &[
            "plan",
            "-f",
            path(frozen.path()),
            "--simulate",
            "--detailed-exitcode",
        ],
    );
    assert_eq!(plan.code, Some(0), "nothing planned: {}", plan.all());
    assert!(
        plan.stdout
            .contains("default/spring-campaign: CallProvider quickstart is suspended; a sync would send nothing"),
        "{}",
        plan.all()
    );
    let apply = run(
        repo_root(),
        &[
            "apply",
            "-f",
            path(frozen.path()),
            "--simulate",
            "-o",
            "json",
        ],
    );
    assert_eq!(apply.code, Some(0), "{}", apply.all());
    let document: Value = serde_json::from_str(&apply.stdout).expect("apply JSON");
    assert_eq!(document["tasks"][0]["outcome"], "Suspended", "{document}");
    assert_eq!(document["totals"]["added"], 0, "{document}");
}

#[test]
fn validate_json_lists_findings_with_where_and_what() {
    let good = run(
        repo_root(),
        &["validate", "-f", path(&quickstart()), "-o", "json"],
    );
    assert_eq!(good.code, Some(0), "{}", good.all());
    let document: Value = serde_json::from_str(&good.stdout).expect("only JSON on stdout");
    assert_eq!(document["kind"], "Validation");
    assert_eq!(document["valid"], true);
    assert_eq!(document["objects"]["callTasks"], 1);
    assert_eq!(document["errors"].as_array().map(Vec::len), Some(0));
    // The quick start has two deliberately invalid phones: warnings, masked.
    let warnings = document["warnings"].as_array().expect("warnings");
    assert_eq!(warnings.len(), 2, "{document}");
    assert_eq!(warnings[0]["path"], "spec.contacts[24]");
    assert!(
        warnings[0]["message"]
            .as_str()
            .unwrap_or("")
            .contains("138****800"),
        "{document}"
    );
    assert_eq!(
        good.stderr, "",
        "JSON mode prints findings in the document only"
    );

    let bad = run(
        repo_root(),
        &[
            "validate",
            "-f",
            path(&repo_root().join("tests/fixtures/broken/missing-provider")),
            "-o",
            "json",
        ],
    );
    assert_eq!(bad.code, Some(1), "{}", bad.all());
    let document: Value = serde_json::from_str(&bad.stdout).expect("JSON although invalid");
    assert_eq!(document["valid"], false);
    let error = &document["errors"][0];
    assert_eq!(error["path"], "spec.providerRef.name", "{document}");
    assert!(
        error["file"].as_str().unwrap_or("").ends_with(".yaml"),
        "{document}"
    );
    assert!(error["document"].as_u64().unwrap_or(0) >= 1, "{document}");
    assert!(
        error["message"]
            .as_str()
            .unwrap_or("")
            .contains("CallProvider \"nope\" not found"),
        "{document}"
    );
}

#[test]
fn apply_json_is_one_document_with_what_the_provider_confirmed() {
    let out = run(
        repo_root(),
        &[
            "apply",
            "-f",
            path(&quickstart()),
            "--simulate",
            "-o",
            "json",
        ],
    );
    assert_eq!(out.code, Some(0), "{}", out.all());
    let document: Value = serde_json::from_str(&out.stdout).expect("only JSON on stdout");
    assert_eq!(document["kind"], "Apply");
    let task = &document["tasks"][0];
    assert_eq!(task["task"], "default/spring-campaign");
    assert_eq!(task["outcome"], "InSync", "{document}");
    let added = task["applied"]["added"].as_u64().expect("added");
    assert!(added > 0, "{document}");
    assert_eq!(
        task["applied"]["confirmed"].as_u64(),
        Some(added),
        "{document}"
    );
    assert_eq!(task["plan"]["toAdd"].as_u64(), Some(added), "{document}");
    assert_eq!(document["totals"]["inSync"], 1);
    assert_eq!(document["totals"]["added"].as_u64(), Some(added));
}

#[test]
fn an_unknown_output_value_is_one_line_and_exit_1() {
    let files = quickstart();
    for command in ["plan", "apply", "validate", "version"] {
        let args: &[&str] = if command == "version" {
            &[command, "-o", "yaml"]
        } else {
            &[command, "-f", path(&files), "-o", "yaml"]
        };
        let out = run(repo_root(), args);
        assert_one_error_line(&out, "invalid value 'yaml' for '--output <OUTPUT>'");
        assert!(
            out.stderr.contains("[possible values: text, json]"),
            "{}",
            out.all()
        );
        assert_eq!(out.stdout, "");
    }
    let shell = run(repo_root(), &["completion", "powershell"]);
    assert_one_error_line(&shell, "invalid value 'powershell' for '<SHELL>'");
}

#[test]
fn completion_scripts_know_every_command_and_flag() {
    let bash = run(repo_root(), &["completion", "bash"]);
    assert_eq!(bash.code, Some(0), "{}", bash.all());
    for word in [
        "sync",
        "suspend",
        "resume",
        "--detailed-exitcode",
        "--log-level",
    ] {
        assert!(bash.stdout.contains(word), "bash script lacks {word}");
    }
    // bash itself loads the script and registers the completion.
    let script =
        std::env::temp_dir().join(format!("callsync-completion-{}.bash", std::process::id()));
    std::fs::write(&script, &bash.stdout).expect("write script");
    let loaded = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!(
            "source {} && complete -p callsync",
            script.display()
        ))
        .output()
        .expect("run bash");
    let _ = std::fs::remove_file(&script);
    assert!(
        loaded.status.success(),
        "{}",
        String::from_utf8_lossy(&loaded.stderr)
    );
    assert!(String::from_utf8_lossy(&loaded.stdout).contains("_callsync"));

    let zsh = run(repo_root(), &["completion", "zsh"]);
    assert_eq!(zsh.code, Some(0));
    assert!(
        zsh.stdout.starts_with("#compdef callsync"),
        "{}",
        zsh.stdout
    );
    assert!(zsh.stdout.contains("--detailed-exitcode"));
    let fish = run(repo_root(), &["completion", "fish"]);
    assert_eq!(fish.code, Some(0));
    assert!(
        fish.stdout.contains("complete -c callsync"),
        "{}",
        fish.stdout
    );
    assert!(fish.stdout.contains("detailed-exitcode"));
}

#[test]
fn log_level_turns_on_the_lines_it_names() {
    let files = quickstart();
    let args = ["plan", "-f", path(&files), "--simulate"];
    let quiet = run(repo_root(), &args);
    assert!(!quiet.stderr.contains("DEBUG"), "{}", quiet.all());
    let mut debug_args = vec!["--log-level", "debug"];
    debug_args.extend(args);
    let debug = run(repo_root(), &debug_args);
    assert_eq!(debug.code, Some(0), "{}", debug.all());
    assert!(debug.stderr.contains("DEBUG"), "{}", debug.all());
    // Stdout stays the plan: logs go to stderr.
    assert_eq!(debug.stdout, quiet.stdout);
    let bad = run(
        repo_root(),
        &["--log-level", "loud", "validate", "-f", path(&quickstart())],
    );
    assert_one_error_line(&bad, "invalid value 'loud' for '--log-level <LEVEL>'");
}

/// The cluster commands find the cluster as kubectl does: `--kubeconfig` or `$KUBECONFIG`, the
/// context's namespace unless `-n`, `--context`; what fails is one line naming where.
#[test]
fn cluster_commands_read_the_kubeconfig_as_kubectl_does() {
    let dir = tempfile::tempdir().expect("tempdir");
    let kubeconfig = dir.path().join("config");
    // Port 1 on loopback: nothing listens, so the connection is refused at once.
    std::fs::write(
        &kubeconfig,
        "apiVersion: v1\nkind: Config\ncurrent-context: ctx1\n\
         clusters:\n- name: c1\n  cluster: {server: \"https://127.0.0.1:1\"}\n\
         users:\n- name: u1\n  user: {token: not-a-real-token}\n\
         contexts:\n- name: ctx1\n  context: {cluster: c1, user: u1, namespace: team-a}\n",
    )
    .expect("write kubeconfig");
    let kc = path(&kubeconfig);
    let out = run(repo_root(), &["sync", "campaign", "--kubeconfig", kc]);
    assert_one_error_line(
        &out,
        "cannot read CallTask team-a/campaign at https://127.0.0.1:1/",
    );
    let out = run(
        repo_root(),
        &[
            "suspend",
            "campaign",
            "--kubeconfig",
            kc,
            "-n",
            "team-b",
            "--wait",
        ],
    );
    assert_one_error_line(&out, "CallTask team-b/campaign at https://127.0.0.1:1/");
    let out = run(
        repo_root(),
        &[
            "resume",
            "campaign",
            "--kubeconfig",
            kc,
            "--context",
            "nope",
        ],
    );
    assert_one_error_line(&out, &format!("cannot read the kubeconfig {kc}"));
    assert!(out.stderr.contains("nope"), "{}", out.all());
    let missing = run(
        repo_root(),
        &["sync", "campaign", "--kubeconfig", "/nonexistent/config"],
    );
    assert_one_error_line(&missing, "cannot read the kubeconfig /nonexistent/config");
}

#[test]
fn version_prints_the_version_commit_and_build_date_as_json_and_text() {
    let out = run(repo_root(), &["version", "-o", "json"]);
    assert_eq!(out.code, Some(0), "{}", out.all());
    let info: Value = serde_json::from_str(&out.stdout).expect("version -o json is JSON");
    assert_eq!(info["version"], env!("CARGO_PKG_VERSION"), "{info}");
    let commit = info["gitCommit"].as_str().expect("gitCommit");
    // build.rs asks git when CALLSYNC_GIT_COMMIT is not set; this checkout has git.
    let head = std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(repo_root())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
    match (std::env::var("CALLSYNC_GIT_COMMIT"), head) {
        (Err(_), Some(head)) => assert_eq!(commit, head, "the commit built is HEAD"),
        _ => assert!(
            commit == "unknown" || commit.chars().all(|c| c.is_ascii_hexdigit()),
            "{commit}"
        ),
    }
    let date = info["buildDate"].as_str().expect("buildDate");
    assert!(
        date.len() == 20 && date.ends_with('Z') && date.as_bytes()[10] == b'T',
        "RFC 3339 UTC: {date}"
    );
    assert!(
        info["platform"]
            .as_str()
            .is_some_and(|p| p.contains("linux")),
        "{info}"
    );

    let text = run(repo_root(), &["version"]);
    assert_eq!(text.code, Some(0), "{}", text.all());
    assert!(
        text.stdout
            .starts_with(&format!("callsync {}\n", env!("CARGO_PKG_VERSION"))),
        "{}",
        text.all()
    );
    assert!(
        text.stdout.contains(commit) && text.stdout.contains(date),
        "{}",
        text.all()
    );
}

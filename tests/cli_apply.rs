//! `callsync plan` and `apply` as a person runs them: the real binary, over real HTTP, against
//! a separate `callsync simulate` process (or `--simulate`), with the simulator's admin API as
//! the judge of what reached the providers.
mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use callsync::cli::files::{self, Diagnostics};
use callsync::cli::simulated::config_for;
use callsync::sync::WireFormat;
use serde_json::Value;
use support::cli::{Output, run, simulator, spawn};
use support::repo_root;

/// The admin token the simulator processes of these tests are configured with.
const ADMIN_TOKEN: &str = "cli-apply-admin-token";

fn get(url: &str) -> Value {
    support::cli::admin_get(url, ADMIN_TOKEN)
}

/// Phones of a simulator task, sorted.
fn sim_phones(base: &str, provider: &str, account: &str, task: &str) -> Vec<String> {
    let contacts = get(&format!(
        "{base}/_sim/accounts/{provider}/{account}/tasks/{task}/contacts"
    ));
    let mut phones: Vec<String> = contacts
        .as_array()
        .expect("contacts array")
        .iter()
        .map(|c| c["phone"].as_str().expect("phone").to_owned())
        .collect();
    phones.sort();
    phones
}

/// Calls of every endpoint that changes a provider task.
fn write_calls(base: &str) -> u64 {
    let counters = get(&format!("{base}/_sim/counters"));
    counters
        .as_object()
        .expect("counters")
        .iter()
        .filter(|(route, _)| {
            (route.starts_with("POST ") && route.ends_with("/number"))
                || [
                    "async_number",
                    "number-batch-delete",
                    "addBatchCall",
                    "importBatchCall",
                    "stopOrder",
                    "call/append",
                    "order/delete",
                    "task_stop",
                    "task_start",
                ]
                .iter()
                .any(|w| route.contains(w))
        })
        .map(|(_, c)| c["calls"].as_u64().unwrap_or(0))
        .sum()
}

/// The resolved tasks of some files, as the binary sees them.
fn resolved(dir: &Path) -> Vec<files::ResolvedTask> {
    let mut diagnostics = Diagnostics::default();
    let bundle = files::load(&[dir.to_path_buf()], &mut diagnostics);
    let tasks = files::resolve(&bundle, &mut diagnostics);
    assert_eq!(diagnostics.error_count(), 0, "{:?}", diagnostics.items);
    tasks
}

/// (provider kind, account id, task id) → the desired phones in the provider's wire format.
fn desired_by_task(
    tasks: &[files::ResolvedTask],
) -> BTreeMap<(String, String, String), Vec<String>> {
    tasks
        .iter()
        .map(|t| {
            let wire = WireFormat::of(&t.provider.spec);
            let desired = callsync::cli::local::desired_set(t);
            let mut phones: Vec<String> = desired
                .keys()
                .iter()
                .map(|k| wire.encode(k.phone).expect("encodable"))
                .collect();
            phones.sort();
            let config = config_for(std::slice::from_ref(t));
            let account = &config.accounts[0];
            (
                (
                    account.provider.as_str().to_owned(),
                    account.id.clone(),
                    t.task.spec.task_id.clone(),
                ),
                phones,
            )
        })
        .collect()
}

fn assert_ok(out: &Output, what: &str) {
    assert!(out.success(), "{what} failed:\n{}", out.all());
    assert!(!out.all().contains("panicked"), "{}", out.all());
}

#[test]
fn the_quick_start_works_in_a_fresh_checkout() {
    // Only the quick-start files, in a folder of their own: nothing else of the repository
    // (no state, no build files) is needed.
    let clone = tempfile::tempdir().expect("tempdir");
    let target = clone.path().join("examples/quickstart");
    std::fs::create_dir_all(&target).expect("mkdir");
    for entry in std::fs::read_dir(repo_root().join("examples/quickstart")).expect("quickstart") {
        let path = entry.expect("entry").path();
        std::fs::copy(&path, target.join(path.file_name().expect("name"))).expect("copy");
    }
    let out = run(
        clone.path(),
        &["apply", "-f", "examples/quickstart", "--simulate"],
    );
    assert_ok(&out, "quick start");
    assert!(
        out.stdout
            .contains("default/spring-campaign → longlonglong task \"10086\""),
        "the plan is shown first:\n{}",
        out.all()
    );
    assert!(out.stdout.contains("  + add      44"), "{}", out.all());
    assert!(
        out.stdout
            .contains("✓ default/spring-campaign: 44 contacts in sync (added 44, removed 0) in "),
        "{}",
        out.all()
    );
    assert!(out.stdout.contains("2 invalid skipped"), "{}", out.all());
    // Not a terminal: plain progress lines instead of a bar.
    assert!(
        out.stderr
            .contains("default/spring-campaign: 44/44 contacts"),
        "{}",
        out.all()
    );
    // --simulate keeps no state on disk.
    assert!(!target.join(".callsync-state").exists());
}

#[test]
fn examples_converge_against_a_simulator_process_and_a_second_apply_writes_nothing() {
    let work = tempfile::tempdir().expect("tempdir");
    let dir = work.path().join("files");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let examples = repo_root().join("examples");
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&examples).expect("examples") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "yaml") {
            names.push(path.file_name().expect("name").to_owned());
            std::fs::copy(&path, dir.join(path.file_name().expect("name"))).expect("copy");
        }
    }
    assert_eq!(names.len(), 3, "one example per provider");
    // Accounts and tasks from the examples' own Secrets and CallTasks.
    let tasks = resolved(&dir);
    assert_eq!(tasks.len(), 3);
    let config = work.path().join("sim.yaml");
    let mut sim_config = config_for(&tasks);
    sim_config.admin_token = Some(ADMIN_TOKEN.into());
    std::fs::write(&config, serde_yaml::to_string(&sim_config).expect("yaml")).expect("write");
    let (_sim, base) = simulator(&config);
    // Point the examples at it, as a user would edit their endpoints.
    for name in &names {
        let path = dir.join(name);
        let text = std::fs::read_to_string(&path).expect("read");
        let text = text
            .replace("https://ai.api.longlonglong.cn", &base)
            .replace("https://nxbot.nxcloud.com", &base)
            .replace("region: IDN", &format!("endpoint: {base}"))
            // The simulator serves plain http, which a CallProvider must allow explicitly.
            .replace(
                "spec:\n  longlonglong:",
                "spec:\n  insecure: true\n  longlonglong:",
            )
            .replace("spec:\n  callbot:", "spec:\n  insecure: true\n  callbot:")
            .replace("spec:\n  nxlink:", "spec:\n  insecure: true\n  nxlink:");
        std::fs::write(&path, text).expect("write");
    }
    let desired = desired_by_task(&tasks);
    let files_arg = dir.display().to_string();
    let state = work.path().join("state").display().to_string();

    // plan: everything to add, nothing written.
    let out = run(
        work.path(),
        &["plan", "-f", &files_arg, "--state", &state, "-o", "json"],
    );
    assert_ok(&out, "plan");
    let plan: Value = serde_json::from_str(&out.stdout).expect("plan JSON");
    assert_eq!(plan["kind"], "Plan");
    let planned = plan["tasks"].as_array().expect("tasks");
    assert_eq!(planned.len(), 3);
    for task in planned {
        let key = (
            task["providerType"].as_str().expect("type").to_owned(),
            task["taskId"].as_str().expect("taskId").to_owned(),
        );
        let want = desired
            .iter()
            .find(|((p, _, t), _)| *p == key.0 && *t == key.1)
            .map(|(_, phones)| phones.len() as u64)
            .expect("task known");
        assert_eq!(task["desired"], want, "{task}");
        assert_eq!(task["toAdd"], want, "{task}");
        assert_eq!(task["toRemove"], 0);
        assert_eq!(task["unchanged"], 0);
        assert_eq!(task["canList"], key.0 != "nxlink", "{task}");
        assert!(task["writeCalls"].as_u64().expect("writeCalls") >= 1);
    }
    assert_eq!(write_calls(&base), 0, "plan makes no write call");
    assert!(!Path::new(&state).exists(), "plan writes no state");

    // apply: the simulator ends up with exactly the desired contacts.
    let out = run(work.path(), &["apply", "-f", &files_arg, "--state", &state]);
    assert_ok(&out, "apply");
    for line in [
        "✓ campaigns/satisfaction-survey: 4 contacts in sync (added 4, removed 0)",
        "✓ campaigns/renewal-reminders: 5 contacts in sync (added 5, removed 0)",
        "✓ campaigns/payment-reminder-jakarta: 3 contacts in sync (added 3, removed 0)",
    ] {
        assert!(
            out.stdout.contains(line),
            "{line:?} missing:\n{}",
            out.all()
        );
    }
    for ((provider, account, task), phones) in &desired {
        assert_eq!(
            &sim_phones(&base, provider, account, task),
            phones,
            "{provider} {task}"
        );
    }
    let writes = write_calls(&base);
    assert!(writes >= 3, "{writes}");
    let audit = get(&format!("{base}/_sim/audit?since=0"));
    let audit_len = audit.as_array().expect("audit").len();

    // A second apply right after: no changes, no write call.
    let out = run(work.path(), &["apply", "-f", &files_arg, "--state", &state]);
    assert_ok(&out, "second apply");
    assert_eq!(
        out.stdout.matches("(no changes)").count(),
        3,
        "{}",
        out.all()
    );
    assert_eq!(write_calls(&base), writes, "a second apply writes nothing");
    let audit = get(&format!("{base}/_sim/audit?since=0"));
    assert_eq!(audit.as_array().expect("audit").len(), audit_len);

    // plan agrees: nothing to do.
    let out = run(
        work.path(),
        &["plan", "-f", &files_arg, "--state", &state, "-o", "json"],
    );
    assert_ok(&out, "plan after apply");
    let plan: Value = serde_json::from_str(&out.stdout).expect("plan JSON");
    assert_eq!(plan["totals"]["toAdd"], 0, "{plan}");
    assert_eq!(plan["totals"]["toRemove"], 0, "{plan}");
    assert_eq!(plan["totals"]["writeCalls"], 0, "{plan}");
    for task in plan["tasks"].as_array().expect("tasks") {
        assert_eq!(task["unchanged"], task["desired"], "{task}");
    }
    let out = run(work.path(), &["plan", "-f", &files_arg, "--state", &state]);
    assert_ok(&out, "text plan");
    assert!(
        out.stdout
            .contains("No changes: the providers match the files."),
        "{}",
        out.all()
    );

    // Drop one of the two longlonglong lists from the selection: 2 of 5 contacts would go,
    // more than maxDeletePercent 20 allows. plan shows the guard; apply blocks the removals,
    // says so, and fails.
    let path = dir.join("longlonglong.yaml");
    let text = std::fs::read_to_string(&path).expect("read");
    let edited = text.replacen(
        "name: renewal-2026-12-shanghai\n  namespace: campaigns\n  labels:\n    campaign: renewal-2026-12",
        "name: renewal-2026-12-shanghai\n  namespace: campaigns\n  labels:\n    campaign: renewal-2027-01",
        1,
    );
    assert_ne!(edited, text, "the example's label moved");
    std::fs::write(&path, edited).expect("write");
    let out = run(
        work.path(),
        &["plan", "-f", &files_arg, "--state", &state, "-o", "json"],
    );
    assert_ok(&out, "plan with the guard");
    let plan: Value = serde_json::from_str(&out.stdout).expect("plan JSON");
    let task = plan["tasks"]
        .as_array()
        .expect("tasks")
        .iter()
        .find(|t| t["name"] == "renewal-reminders")
        .expect("task")
        .clone();
    assert_eq!(task["guard"]["decision"], "tripped", "{task}");
    assert_eq!(task["blockedByGuard"], 2, "{task}");
    assert_eq!(task["guard"]["limit"], 1, "{task}");
    assert_eq!(task["toRemove"], 0, "{task}");
    let out = run(work.path(), &["apply", "-f", &files_arg, "--state", &state]);
    assert_eq!(out.code, Some(1), "{}", out.all());
    assert!(
        out.stdout.contains("! campaigns/renewal-reminders: removals blocked by the deletion guard: the sync would remove 2 contacts, more than maxDeletePercent allows (1)"),
        "{}",
        out.all()
    );
    assert!(
        out.stderr
            .contains("error: 1 of 3 CallTasks did not reach their desired state"),
        "{}",
        out.all()
    );
    assert_eq!(
        write_calls(&base),
        writes,
        "the guard blocked every removal"
    );
    let key = desired
        .keys()
        .find(|(p, _, _)| p == "longlonglong")
        .expect("longlonglong task")
        .clone();
    assert_eq!(sim_phones(&base, &key.0, &key.1, &key.2).len(), 5);
    for secret in [
        "replace-with-your-partner-token",
        "replace-with-secret-key",
        "replace-with-access-secret",
    ] {
        assert!(
            !out.all().contains(secret),
            "a secret in the output:\n{}",
            out.all()
        );
    }
}

fn write_nxlink_files(dir: &Path, base: &str, contacts: usize) {
    let mut text = format!(
        r#"apiVersion: v1
kind: Secret
metadata:
  name: nx
  labels:
    callsync.io/credentials: "true"
stringData:
  accessKey: AK-interrupt
  accessSecret: interrupt-secret
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
  rateLimit:
    requestsPerSecond: 4
    burst: 1
  maxBatchSize:
    add: 5
---
apiVersion: callsync.io/v1alpha1
kind: CallTask
metadata:
  name: slow
spec:
  providerRef:
    name: nx
  taskId: T-1
  contactLists:
    names: [many]
---
apiVersion: callsync.io/v1alpha1
kind: ContactList
metadata:
  name: many
spec:
  contacts:
"#
    );
    for i in 0..contacts {
        text.push_str(&format!(
            "    - {{phone: \"+861390000{i:04}\", name: \"P{i}\"}}\n"
        ));
    }
    std::fs::write(dir.join("objects.yaml"), text).expect("write");
}

#[test]
fn an_interrupted_apply_records_its_last_batch_and_the_next_apply_converges_exactly() {
    const CONTACTS: usize = 100;
    let work = tempfile::tempdir().expect("tempdir");
    let config = work.path().join("sim.yaml");
    std::fs::write(
        &config,
        "adminToken: cli-apply-admin-token\naccounts:\n  - provider: nxlink\n    id: AK-interrupt\n    secret: interrupt-secret\n    tasks: [{id: T-1, state: running}]\n",
    )
    .expect("write");
    let (_sim, base) = simulator(&config);
    let dir = work.path().join("files");
    std::fs::create_dir_all(&dir).expect("mkdir");
    write_nxlink_files(&dir, &base, CONTACTS);
    let files_arg = dir.display().to_string();
    let state = work.path().join("state").display().to_string();

    // 20 batches of 5 at 4 requests a second: about 5 s. Interrupt once some are through.
    let running = spawn(work.path(), &["apply", "-f", &files_arg, "--state", &state]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while sim_phones(&base, "nxlink", "AK-interrupt", "T-1").len() < 10 {
        assert!(Instant::now() < deadline, "apply made no progress");
        std::thread::sleep(Duration::from_millis(50));
    }
    let status = std::process::Command::new("kill")
        .args(["-INT", &running.pid().to_string()])
        .status()
        .expect("kill -INT");
    assert!(status.success());
    let out = running.finish(Duration::from_secs(60));
    assert_eq!(out.code, Some(1), "{}", out.all());
    let added_first = sim_phones(&base, "nxlink", "AK-interrupt", "T-1").len();
    assert!(
        added_first < CONTACTS,
        "interrupted before the end: {added_first}"
    );
    let pending = CONTACTS - added_first;
    assert!(
        out.stderr.contains(&format!(
            "error: interrupted; {pending} contacts pending, run apply again"
        )),
        "the batch in flight was recorded, {pending} left:\n{}",
        out.all()
    );

    let out = run(work.path(), &["apply", "-f", &files_arg, "--state", &state]);
    assert_ok(&out, "apply after the interrupt");
    assert!(
        out.stdout.contains(&format!(
            "✓ default/slow: {CONTACTS} contacts in sync (added {pending}, removed 0)"
        )),
        "{}",
        out.all()
    );
    let expected: Vec<String> = (0..CONTACTS).map(|i| format!("861390000{i:04}")).collect();
    assert_eq!(sim_phones(&base, "nxlink", "AK-interrupt", "T-1"), expected);
    // NXLink cannot list: only the state file knew what the first run added. Every phone was
    // added exactly once, and nothing was refused as a duplicate.
    let audit = get(&format!("{base}/_sim/audit?since=0"));
    let mut adds: BTreeMap<String, usize> = BTreeMap::new();
    for entry in audit.as_array().expect("audit") {
        if entry["operation"] == "add" {
            assert_eq!(entry["outcome"], "applied", "{entry}");
            *adds
                .entry(entry["phone"].as_str().expect("phone").to_owned())
                .or_default() += 1;
        }
    }
    assert_eq!(adds.len(), CONTACTS);
    assert!(adds.values().all(|n| *n == 1), "{adds:?}");
}

/// Posts a signed NXLink request as the provider's console (or another tool) would.
fn nxlink_post(base: &str, path: &str, key: &str, secret: &str, body: &Value) -> Value {
    let handle = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    handle.block_on(async {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let body = serde_json::to_vec(body).expect("body");
        let ts = chrono::Utc::now().timestamp_millis().to_string();
        let sign = callsync::signing::nxlink_sign(key, "nxai", "100", &ts, &body, secret);
        reqwest::Client::new()
            .post(format!("{base}{path}"))
            .header("content-type", "application/json")
            .header("accessKey", key)
            .header("ts", ts)
            .header("bizType", "100")
            .header("action", "nxai")
            .header("sign", sign)
            .body(body)
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .expect("request")
            .json::<Value>()
            .await
            .expect("JSON")
    })
}

fn write_console_files(dir: &Path, base: &str, phones: &[&str]) {
    let mut text = format!(
        r#"apiVersion: v1
kind: Secret
metadata:
  name: nx
  labels:
    callsync.io/credentials: "true"
stringData:
  accessKey: AK-console
  accessSecret: console-secret
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
  name: console
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
"#
    );
    for phone in phones {
        text.push_str(&format!("    - {{phone: \"{phone}\"}}\n"));
    }
    std::fs::write(dir.join("objects.yaml"), text).expect("write");
}

/// The "Provider truth" reproduction: a phone already in an NXLink task under a contactId
/// callsync did not choose (added in the console) is put in a ContactList and applied, then
/// taken out again. NXLink cannot list, so callsync can never learn that contact's id: the
/// second apply must not report it removed ("✓ … removed 1") while the provider still holds it
/// pending. It reports it not removable (ForeignContact), exits non-zero, sends no delete by
/// callsync's own id, and the contact is still pending at the simulator.
#[test]
fn a_console_contact_is_never_reported_removed() {
    let work = tempfile::tempdir().expect("tempdir");
    let config = work.path().join("sim.yaml");
    std::fs::write(
        &config,
        "adminToken: cli-apply-admin-token\naccounts:\n  - provider: nxlink\n    id: AK-console\n    secret: console-secret\n    tasks: [{id: T-1}]\n",
    )
    .expect("write");
    let (_sim, base) = simulator(&config);
    let console = nxlink_post(
        &base,
        "/openapi/aiagent/call/append",
        "AK-console",
        "console-secret",
        &serde_json::json!({"taskId": "T-1", "list": [
            {"contactId": "console-1", "name": "Console", "phoneNumber": "8613900000001"}
        ]}),
    );
    assert_eq!(console["code"], 0, "{console}");
    let dir = work.path().join("files");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let files_arg = dir.display().to_string();
    let state = work.path().join("state").display().to_string();

    write_console_files(&dir, &base, &["+8613900000001", "+8613900000002"]);
    let out = run(work.path(), &["apply", "-f", &files_arg, "--state", &state]);
    assert!(!out.all().contains("panicked"), "{}", out.all());
    assert!(
        !out.stdout.contains("added 2"),
        "the console contact is not callsync's: never counted as added\n{}",
        out.all()
    );
    assert!(
        out.stdout.contains("added 1"),
        "the other phone is added\n{}",
        out.all()
    );

    write_console_files(&dir, &base, &["+8613900000002"]);
    let out = run(work.path(), &["apply", "-f", &files_arg, "--state", &state]);
    assert!(!out.all().contains("panicked"), "{}", out.all());
    assert!(
        !out.stdout.contains('✓'),
        "not in sync: the provider still holds a contact that is no longer wanted\n{}",
        out.all()
    );
    assert!(!out.success(), "non-zero exit\n{}", out.all());
    assert!(
        out.stdout.contains("ForeignContact") && !out.stdout.contains("removed 1"),
        "reported as not removable, never as removed\n{}",
        out.all()
    );
    assert!(
        !out.all().contains("13900000001"),
        "phones are masked\n{}",
        out.all()
    );
    let contacts = get(&format!(
        "{base}/_sim/accounts/nxlink/AK-console/tasks/T-1/contacts"
    ));
    let console_contact = contacts
        .as_array()
        .expect("contacts")
        .iter()
        .find(|c| c["phone"] == "8613900000001")
        .unwrap_or_else(|| panic!("the console contact is still there: {contacts}"));
    assert_eq!(console_contact["remoteId"], "console-1");
    assert_eq!(console_contact["state"], "pending");
    // No delete by callsync's own id was sent for it (it would be answered "not found").
    let audit = get(&format!("{base}/_sim/audit?since=0"));
    let deletes = audit
        .as_array()
        .expect("audit")
        .iter()
        .filter(|e| e["operation"] == "remove")
        .count();
    assert_eq!(deletes, 0, "{audit}");
}

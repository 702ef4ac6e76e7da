//! `callsync doctor` as a person runs it: the real binary over real HTTP against a separate
//! `callsync simulate` process, judged by the simulator's audit log and call counters (doctor
//! must make no write), then its recording replayed by a server that knows nothing but the
//! recorded answers (the contract-fixture path for recordings from real accounts).
mod support;

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use callsync::cli::files::{self, Diagnostics, ResolvedTask};
use callsync::cli::simulated::config_for;
use callsync::contacts::Phone;
use callsync::doctor::RecordedAnswer;
use callsync::simulator::state::NewContact;
use callsync::simulator::{ProviderKind, Simulator, Variant};
use callsync::sync::WireFormat;
use serde_json::Value;
use support::cli::{Output, run, simulator};
use support::repo_root;

/// The simulator's admin API answers only with its per-run token.
const ADMIN_TOKEN: &str = "doctor-admin-token";

fn get(url: &str) -> Value {
    support::cli::admin_get(url, ADMIN_TOKEN)
}

/// Every endpoint the simulator counted a call for, with its calls.
fn calls(base: &str) -> BTreeMap<String, u64> {
    get(&format!("{base}/_sim/counters"))
        .as_object()
        .expect("counters")
        .iter()
        .map(|(route, c)| (route.clone(), c["calls"].as_u64().unwrap_or(0)))
        .collect()
}

fn audit_len(base: &str) -> usize {
    get(&format!("{base}/_sim/audit?since=0"))
        .as_array()
        .expect("audit")
        .len()
}

/// The endpoints doctor may call: reads only.
const READ_ENDPOINTS: &[&str] = &[
    "GET /agent-api/token",
    "GET /agent-api/user/{user_id}/task/{task_id}/number",
    "GET /agent-api/new/user/{user_id}/task/{task_id}/number",
    "POST /callcentre/api/v3/ping",
    "POST /callcentre/api/v3/listOrder",
    "POST /openapi/aiagent/task/list",
    "POST /openapi/aiagent/call/list",
];

/// The three examples (one task per provider) in `dir`, pointed at a simulator seeded from
/// them; returns the simulator process and its URL.
fn examples_against_a_simulator(work: &Path) -> (support::cli::Running, String, PathBuf) {
    let dir = work.join("files");
    let tasks = examples_in(&dir, &["longlonglong.yaml", "callbot.yaml", "nxlink.yaml"]);
    let config = work.join("sim.yaml");
    let mut sim_config = config_for(&tasks);
    sim_config.admin_token = Some(ADMIN_TOKEN.into());
    std::fs::write(&config, serde_yaml::to_string(&sim_config).expect("yaml")).expect("write");
    let (sim, base) = simulator(&config);
    point_examples_at(&dir, &base);
    (sim, base, dir)
}

/// Copies the named examples into `dir` and resolves them.
fn examples_in(dir: &Path, names: &[&str]) -> Vec<ResolvedTask> {
    std::fs::create_dir_all(dir).expect("mkdir");
    for name in names {
        std::fs::copy(repo_root().join("examples").join(name), dir.join(name)).expect("copy");
    }
    let mut diagnostics = Diagnostics::default();
    let bundle = files::load(&[dir.to_path_buf()], &mut diagnostics);
    let tasks = files::resolve(&bundle, &mut diagnostics);
    assert_eq!(diagnostics.error_count(), 0, "{:?}", diagnostics.items);
    tasks
}

/// Points the examples in `dir` at a simulator at `base` (plain http on loopback).
fn point_examples_at(dir: &Path, base: &str) {
    for name in ["longlonglong.yaml", "callbot.yaml", "nxlink.yaml"] {
        let path = dir.join(name);
        if !path.exists() {
            continue;
        }
        let text = std::fs::read_to_string(&path)
            .expect("read")
            .replace("https://ai.api.longlonglong.cn", base)
            .replace("https://nxbot.nxcloud.com", base)
            .replace("region: IDN", &format!("endpoint: {base}"))
            .replace(
                "spec:\n  longlonglong:",
                "spec:\n  insecure: true\n  longlonglong:",
            )
            .replace("spec:\n  callbot:", "spec:\n  insecure: true\n  callbot:")
            .replace("spec:\n  nxlink:", "spec:\n  insecure: true\n  nxlink:");
        std::fs::write(&path, text).expect("write");
    }
}

fn report(out: &Output) -> Value {
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("doctor JSON: {e}\n{}", out.all()))
}

/// `task` → check name → (verdict, detail).
fn checks(report: &Value) -> BTreeMap<String, BTreeMap<String, (String, String)>> {
    report["tasks"]
        .as_array()
        .expect("tasks")
        .iter()
        .map(|t| {
            let checks = t["checks"]
                .as_array()
                .expect("checks")
                .iter()
                .map(|c| {
                    (
                        c["name"].as_str().expect("name").to_owned(),
                        (
                            c["verdict"].as_str().expect("verdict").to_owned(),
                            c["detail"].as_str().expect("detail").to_owned(),
                        ),
                    )
                })
                .collect();
            (t["task"].as_str().expect("task").to_owned(), checks)
        })
        .collect()
}

#[test]
fn doctor_reads_only_and_says_what_holds_for_each_provider() {
    let work = tempfile::tempdir().expect("tempdir");
    let (_sim, base, dir) = examples_against_a_simulator(work.path());
    let files_arg = dir.display().to_string();
    let state = work.path().join("state").display().to_string();
    let out = run(work.path(), &["apply", "-f", &files_arg, "--state", &state]);
    assert!(out.success(), "seeding apply:\n{}", out.all());
    let calls_before = calls(&base);
    let audit_before = audit_len(&base);

    let record = work.path().join("recording");
    let record_arg = record.display().to_string();
    let out = run(
        work.path(),
        &[
            "doctor",
            "-f",
            &files_arg,
            "-o",
            "json",
            "--record",
            &record_arg,
        ],
    );
    assert!(out.success(), "doctor:\n{}", out.all());
    let doc = report(&out);
    assert_eq!(doc["kind"], "DoctorReport");
    assert_eq!(doc["problems"], 0, "{}", out.stdout);
    let by_task = checks(&doc);
    assert_eq!(by_task.len(), 3);
    for (task, checks) in &by_task {
        assert_eq!(checks["credentials"].0, "ok", "{task}: {checks:?}");
        assert_eq!(checks["clock"].0, "ok", "{task}: {checks:?}");
        assert_eq!(checks["task"].0, "ok", "{task}: {checks:?}");
        assert_eq!(checks["taskState"].0, "unchecked", "{task}");
        // The simulator's default reading, seen as callsync's reading.
        for name in ["notFound", "messages", "fields"] {
            assert_eq!(checks[name].0, "confirmed", "{task} {name}: {checks:?}");
        }
    }
    // The providers that list: every contact the apply put there, read back as sent.
    for (task, contacts) in [
        ("campaigns/satisfaction-survey", 4),
        ("campaigns/renewal-reminders", 5),
    ] {
        let checks = by_task
            .get(task)
            .unwrap_or_else(|| panic!("{task}: {by_task:?}"));
        assert_eq!(checks["listing"].0, "ok", "{task}: {checks:?}");
        assert!(
            checks["listing"]
                .1
                .starts_with(&format!("{contacts} contacts in 1 page")),
            "{task}: {checks:?}"
        );
        assert_eq!(checks["phones"].0, "confirmed", "{task}: {checks:?}");
        assert_eq!(checks["overlap"].0, "confirmed", "{task}: {checks:?}");
        assert_eq!(checks["paging"].0, "confirmed", "{task}: {checks:?}");
        assert_eq!(checks["pageSize"].0, "confirmed", "{task}: {checks:?}");
    }
    // NXLink cannot list: said plainly, not counted as a problem.
    let nx = &by_task["campaigns/payment-reminder-jakarta"];
    assert_eq!(nx["listing"].0, "unchecked", "{nx:?}");
    assert!(
        nx["listing"].1.contains("the task counts 3 orders"),
        "{nx:?}"
    );

    // Zero writes: nothing applied, and only read endpoints were called.
    assert_eq!(audit_len(&base), audit_before, "doctor changed nothing");
    let calls_after = calls(&base);
    for (route, after) in &calls_after {
        let before = calls_before.get(route).copied().unwrap_or(0);
        if *after > before {
            assert!(
                READ_ENDPOINTS.contains(&route.as_str()),
                "doctor called {route} ({} times), which is not a read",
                after - before
            );
        }
    }

    // The recording: private, masked, complete.
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
    assert_eq!(mode(&record.join("answers")), 0o700);
    let answers = recorded_answers(&record);
    assert!(answers.len() >= 6, "{} answers", answers.len());
    assert_eq!(mode(&record.join("report.json")), 0o600);
    let everything = recording_text(&record);
    for file in ["longlonglong.yaml", "callbot.yaml", "nxlink.yaml"] {
        let text = std::fs::read_to_string(repo_root().join("examples").join(file)).expect("read");
        for phone in phones_in(&text) {
            assert!(
                !everything.contains(&phone),
                "a full phone (…{}) reached the recording",
                &phone[phone.len() - 2..]
            );
        }
    }
    for value in secret_values(&dir) {
        assert!(
            !everything.contains(&value),
            "a secret reached the recording"
        );
    }
}

#[test]
fn doctor_names_rejected_credentials_and_a_missing_task_and_fails() {
    let work = tempfile::tempdir().expect("tempdir");
    let (_sim, base, dir) = examples_against_a_simulator(work.path());
    let calls_before = calls(&base);
    // A wrong token for longlonglong, a task id that does not exist for Callbot.
    let lll = dir.join("longlonglong.yaml");
    let text = std::fs::read_to_string(&lll).expect("read");
    let token = secret_values_of(&text).into_iter().next().expect("a token");
    std::fs::write(&lll, text.replace(&token, "not-the-token-at-all")).expect("write");
    let cb = dir.join("callbot.yaml");
    let text = std::fs::read_to_string(&cb).expect("read");
    let task_id = task_id_of(&text);
    std::fs::write(
        &cb,
        text.replace(&format!("taskId: {task_id}"), "taskId: no-such-task")
            .replace(&format!("taskId: \"{task_id}\""), "taskId: no-such-task"),
    )
    .expect("write");

    let files_arg = dir.display().to_string();
    let out = run(work.path(), &["doctor", "-f", &files_arg]);
    assert_eq!(out.code, Some(1), "{}", out.all());
    assert!(out.stdout.contains("✗ credentials"), "{}", out.all());
    assert!(
        out.stdout.contains("✗ task") && out.stdout.contains("not found"),
        "{}",
        out.all()
    );
    assert!(
        out.stderr.contains("doctor found 2 problems"),
        "{}",
        out.all()
    );
    assert!(!out.all().contains("not-the-token-at-all"), "{}", out.all());
    let after = calls(&base);
    for (route, n) in &after {
        if *n > calls_before.get(route).copied().unwrap_or(0) {
            assert!(READ_ENDPOINTS.contains(&route.as_str()), "{route}");
        }
    }
}

#[test]
fn a_recording_replays_as_a_contract_fixture() {
    // A fresh recording from the simulator…
    let work = tempfile::tempdir().expect("tempdir");
    let (sim, _base, dir) = examples_against_a_simulator(work.path());
    let files_arg = dir.display().to_string();
    let state = work.path().join("state").display().to_string();
    let out = run(work.path(), &["apply", "-f", &files_arg, "--state", &state]);
    assert!(out.success(), "seeding apply:\n{}", out.all());
    let record = work.path().join("recording");
    let out = run(
        work.path(),
        &[
            "doctor",
            "-f",
            &files_arg,
            "--record",
            &record.display().to_string(),
        ],
    );
    assert!(out.success(), "{}", out.all());
    drop(sim);
    let mut recordings = vec![record];
    // …and every recording committed under tests/fixtures/doctor/ (from real accounts, or the
    // simulator's, made with `callsync doctor --record`).
    let fixtures = repo_root().join("tests/fixtures/doctor");
    if let Ok(entries) = std::fs::read_dir(&fixtures) {
        recordings.extend(
            entries
                .map(|e| e.expect("entry").path())
                .filter(|p| p.is_dir()),
        );
    }
    assert!(recordings.len() >= 2, "at least one committed recording");
    for recording in recordings {
        replay(&recording, work.path());
    }
}

/// Serves a recording's answers (in their order, per path) and runs doctor over them: each check
/// a replay can repeat must come out as recorded.
fn replay(recording: &Path, work: &Path) {
    let answers = recorded_answers(recording);
    let expected: Value = serde_json::from_str(
        &std::fs::read_to_string(recording.join("report.json")).expect("report.json"),
    )
    .expect("report JSON");
    let server = ReplayServer::start(answers);
    let dir = work.join(format!(
        "replay-{}",
        recording.file_name().expect("name").to_string_lossy()
    ));
    std::fs::create_dir_all(&dir).expect("mkdir");
    let input = std::fs::read_to_string(recording.join("input.yaml"))
        .expect("input.yaml")
        .replace("http://replay.invalid", &server.base);
    std::fs::write(dir.join("input.yaml"), input).expect("write");
    let out = run(
        work,
        &["doctor", "-f", &dir.display().to_string(), "-o", "json"],
    );
    let got = checks(&report(&out));
    let want = checks(&expected);
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>(),
        "{}: the same tasks",
        recording.display()
    );
    for (task, checks) in &want {
        for (name, (verdict, detail)) in checks {
            // A replay answers with masked phones and today's clock: those two checks differ
            // from the live run by construction.
            // longlonglong and Callbot refuse a listing of masked phones (fail closed), so
            // listing checks cannot repeat from a masked recording: what a replay proves for
            // them is the credential check and the answers' shape up to the phones. The count
            // is checked against a listing read, so it goes with them.
            let masked_listing = checks.get("listing").is_some_and(|(v, _)| v != "unchecked")
                && matches!(
                    name.as_str(),
                    "listing" | "overlap" | "paging" | "task" | "count"
                );
            if name == "phones" || name == "clock" || masked_listing {
                continue;
            }
            let Some((got_verdict, got_detail)) = got[task].get(name) else {
                panic!(
                    "{}: {task} {name} missing from the replay:\n{}",
                    recording.display(),
                    out.all()
                );
            };
            assert_eq!(
                (got_verdict, got_detail),
                (verdict, detail),
                "{}: {task} {name}",
                recording.display()
            );
        }
    }
}

struct ReplayServer {
    base: String,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Drop for ReplayServer {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

type Queues = Arc<Mutex<BTreeMap<String, VecDeque<RecordedAnswer>>>>;

impl ReplayServer {
    fn start(answers: Vec<RecordedAnswer>) -> Self {
        let mut queues: BTreeMap<String, VecDeque<RecordedAnswer>> = BTreeMap::new();
        for answer in answers {
            queues
                .entry(answer.path.clone())
                .or_default()
                .push_back(answer);
        }
        let queues: Queues = Arc::new(Mutex::new(queues));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind loopback");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let app = axum::Router::new().fallback(answer).with_state(queues);
        runtime.spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            base,
            runtime: Some(runtime),
        }
    }
}

/// The next recorded answer for the path; the last one again when the recording ran out (a
/// repeated read), 404 for a path never recorded.
async fn answer(State(queues): State<Queues>, request: Request) -> Response {
    let path = request.uri().path().to_owned();
    let recorded = {
        let mut queues = queues.lock().expect("queues");
        queues.get_mut(&path).and_then(|q| {
            if q.len() > 1 {
                q.pop_front()
            } else {
                q.front().cloned()
            }
        })
    };
    let Some(recorded) = recorded else {
        return Response::builder()
            .status(404)
            .body(Body::from("not in the recording"))
            .expect("response");
    };
    let body = match &recorded.body {
        Value::String(text)
            if !recorded
                .content_type
                .as_deref()
                .unwrap_or("")
                .contains("json") =>
        {
            text.clone()
        }
        json => json.to_string(),
    };
    let mut response = Response::builder().status(recorded.status);
    if let Some(content_type) = &recorded.content_type {
        response = response.header("content-type", content_type);
    }
    response.body(Body::from(body)).expect("response")
}

fn recorded_answers(recording: &Path) -> Vec<RecordedAnswer> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(recording.join("answers"))
        .expect("answers folder")
        .map(|e| e.expect("entry").path())
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| {
            serde_json::from_str(&std::fs::read_to_string(p).expect("read"))
                .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        })
        .collect()
}

fn recording_text(recording: &Path) -> String {
    let mut text = std::fs::read_to_string(recording.join("report.json")).expect("report");
    text.push_str(&std::fs::read_to_string(recording.join("input.yaml")).expect("input"));
    for entry in std::fs::read_dir(recording.join("answers")).expect("answers") {
        text.push_str(&std::fs::read_to_string(entry.expect("entry").path()).expect("read"));
    }
    text
}

/// The phones of an example file's ContactLists, digits only (`phone: "+86 130…"`).
fn phones_in(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.trim().trim_start_matches("- ").strip_prefix("phone:"))
        .map(|v| v.chars().filter(char::is_ascii_digit).collect::<String>())
        .filter(|digits| digits.len() >= 8)
        // The last eight digits: present in every written form of the number.
        .map(|digits| digits[digits.len() - 8..].to_owned())
        .collect()
}

/// The values under `stringData:` of the Secrets in the files of `dir`.
fn secret_values(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .expect("dir")
        .flat_map(|e| {
            secret_values_of(&std::fs::read_to_string(e.expect("entry").path()).expect("read"))
        })
        .collect()
}

fn secret_values_of(text: &str) -> Vec<String> {
    let mut values = Vec::new();
    for document in text.split("\n---") {
        let Ok(value) = serde_yaml::from_str::<serde_yaml::Value>(document) else {
            continue;
        };
        if value["kind"].as_str() != Some("Secret") {
            continue;
        }
        if let Some(map) = value["stringData"].as_mapping() {
            values.extend(
                map.values()
                    .filter_map(|v| v.as_str())
                    .filter(|v| v.len() >= 6)
                    .map(str::to_owned),
            );
        }
    }
    values
}

fn task_id_of(text: &str) -> String {
    text.lines()
        .find_map(|l| l.trim().strip_prefix("taskId:"))
        .map(|v| v.trim().trim_matches('"').to_owned())
        .expect("a taskId")
}

/// Writes the committed fixture `tests/fixtures/doctor/simulator-examples` (the examples
/// against the simulator). Run it again when callsync's reads change on purpose:
/// `cargo test --test doctor record_the_simulator_fixture -- --ignored`.
#[test]
#[ignore = "rewrites a committed fixture; run by hand"]
fn record_the_simulator_fixture() {
    let work = tempfile::tempdir().expect("tempdir");
    let (_sim, _base, dir) = examples_against_a_simulator(work.path());
    let files_arg = dir.display().to_string();
    let state = work.path().join("state").display().to_string();
    let out = run(work.path(), &["apply", "-f", &files_arg, "--state", &state]);
    assert!(out.success(), "seeding apply:\n{}", out.all());
    let fixture = repo_root().join("tests/fixtures/doctor/simulator-examples");
    let _ = std::fs::remove_dir_all(&fixture);
    let out = run(
        work.path(),
        &[
            "doctor",
            "-f",
            &files_arg,
            "--record",
            &fixture.display().to_string(),
        ],
    );
    assert!(out.success(), "{}", out.all());
}

/// What doctor must say about a variant (`docs/providers/README.md`, "What doctor says about
/// each variant"). No wildcard: a variant added to the enum does not compile here until it is
/// classified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// A read shows it and callsync's reading breaks: a `✗` line naming it.
    Contradicted,
    /// A read shows it and callsync handles it: a `?` line naming it, no `✗` anywhere.
    Seen,
    /// Only a write could show it: a `?` line naming it that says "could not be checked".
    NeedsWrite,
}

fn expected(variant: Variant) -> Expect {
    use Expect::*;
    use Variant::*;
    match variant {
        UnknownFields => Seen,
        LllPageSizeCapped | LllNoPageMeta | LllListPhoneCountryCode | LllEnglishMessages => Seen,
        LllListPhoneMasked => Contradicted,
        LllAsyncLate | LllAsyncNever | LllSubUserIdPerRow | LllSubUserIdTopLevel
        | LllSyncAddCountsOnly => NeedsWrite,
        CallbotPhonePlus
        | CallbotPageSizeCapped
        | CallbotPageSizeMinimum
        | CallbotEnglishMessages
        | CallbotChineseMessages => Seen,
        CallbotPhoneNational | CallbotPhoneMasked | CallbotTotalCountMissing => Contradicted,
        CallbotErrListOmitted | CallbotCountsOnly | CallbotImportAppends | CallbotBatchLimit100 => {
            NeedsWrite
        }
        NxlinkChineseMessages | NxlinkNotFoundAsHttp404 => Seen,
        NxlinkAppendItemResults => NeedsWrite,
    }
}

fn example_file(kind: ProviderKind) -> &'static str {
    match kind {
        ProviderKind::Longlonglong => "longlonglong.yaml",
        ProviderKind::Callbot => "callbot.yaml",
        ProviderKind::Nxlink => "nxlink.yaml",
    }
}

/// Contacts put straight into the simulated task (no write through a provider API): doctor
/// needs listed phones to judge their form. NXLink cannot list: none.
fn seed(sim: &callsync::simulator::RunningSimulator, task: &ResolvedTask, account: &str) {
    let kind = sim_kind(task);
    let phones: &[&str] = match kind {
        ProviderKind::Longlonglong => &["+8613012121211", "+8613800138000", "+861065529988"],
        ProviderKind::Callbot => &["+8613926123456", "+8613719876543", "+85291234567"],
        ProviderKind::Nxlink => &[],
    };
    let wire = WireFormat::of(&task.provider.spec);
    for (i, phone) in phones.iter().enumerate() {
        let phone = Phone::parse(phone, None).expect("a valid phone");
        sim.state()
            .lock()
            .add_contact(
                &(kind, account.to_owned()),
                &task.task.spec.task_id,
                NewContact {
                    phone: wire.encode(phone).expect("the account's format"),
                    remote_id: (kind != ProviderKind::Longlonglong)
                        .then(|| format!("doctor-seed-{i}")),
                    name: format!("Person {i}"),
                    extra: String::new(),
                },
            )
            .expect("seeded");
    }
}

fn sim_kind(task: &ResolvedTask) -> ProviderKind {
    match task.credentials.kind() {
        "longlonglong" => ProviderKind::Longlonglong,
        "callbot" => ProviderKind::Callbot,
        _ => ProviderKind::Nxlink,
    }
}

/// Every line of a report: (verdict, detail).
fn lines(report: &Value) -> Vec<(String, String)> {
    report["tasks"]
        .as_array()
        .expect("tasks")
        .iter()
        .flat_map(|t| t["checks"].as_array().expect("checks").iter())
        .map(|c| {
            (
                c["verdict"].as_str().expect("verdict").to_owned(),
                c["detail"].as_str().expect("detail").to_owned(),
            )
        })
        .collect()
}

#[test]
fn doctor_reports_every_variant_a_read_can_reveal_and_never_writes() {
    let work = tempfile::tempdir().expect("tempdir");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let mut failures = Vec::new();
    for kind in [
        ProviderKind::Longlonglong,
        ProviderKind::Callbot,
        ProviderKind::Nxlink,
    ] {
        let variants = std::iter::once(None).chain(
            Variant::all()
                .iter()
                .copied()
                .filter(|v| v.applies_to(kind))
                .map(Some),
        );
        for variant in variants {
            let label = format!(
                "{kind:?} × {}",
                variant.map_or("(default)".to_owned(), Variant::name)
            );
            let dir = work
                .path()
                .join(label.replace(|c: char| !c.is_ascii_alphanumeric(), "-"));
            let tasks = examples_in(&dir, &[example_file(kind)]);
            let mut config = config_for(&tasks);
            config.admin_token = Some(ADMIN_TOKEN.into());
            for account in &mut config.accounts {
                account.variants.extend(variant);
            }
            let account = config.accounts[0].id.clone();
            let sim = runtime
                .block_on(Simulator::start(config))
                .expect("simulator starts");
            for task in &tasks {
                seed(&sim, task, &account);
            }
            let base = sim.base_url();
            point_examples_at(&dir, &base);
            let audit_before = sim.audit().len();
            let calls_before = calls(&base);

            let out = run(
                work.path(),
                &["doctor", "-f", &dir.display().to_string(), "-o", "json"],
            );
            let doc = report(&out);
            let lines = lines(&doc);

            // Zero writes, reads only, whatever the provider answers.
            assert_eq!(sim.audit().len(), audit_before, "{label}: doctor wrote");
            for (route, after) in calls(&base) {
                let before = calls_before.get(&route).copied().unwrap_or(0);
                assert!(
                    after == before || READ_ENDPOINTS.contains(&route.as_str()),
                    "{label}: doctor called {route}, which is not a read"
                );
            }

            let problems = doc["problems"].as_u64().unwrap_or(u64::MAX);
            let naming = |v: Variant| {
                let name = format!("`{}`", v.name());
                lines
                    .iter()
                    .filter(move |(_, detail)| detail.contains(&name))
                    .cloned()
                    .collect::<Vec<_>>()
            };
            let Some(variant) = variant else {
                // The default: nothing wrong, and no revealable variant named.
                if problems != 0 {
                    failures.push(format!("{label}: {problems} problems\n{}", out.stdout));
                }
                for v in Variant::all().iter().filter(|v| v.applies_to(kind)) {
                    if expected(*v) != Expect::NeedsWrite && !naming(*v).is_empty() {
                        failures.push(format!("{label}: names {} {:?}", v.name(), naming(*v)));
                    }
                }
                continue;
            };
            // No other variant claimed (one is on at a time).
            for other in Variant::all().iter().filter(|v| **v != variant) {
                if expected(*other) != Expect::NeedsWrite && !naming(*other).is_empty() {
                    failures.push(format!(
                        "{label}: names {} {:?}",
                        other.name(),
                        naming(*other)
                    ));
                }
            }
            let named = naming(variant);
            let reported = match expected(variant) {
                Expect::Contradicted => named
                    .iter()
                    .any(|(verdict, _)| verdict == "contradicted" || verdict == "failed"),
                Expect::Seen => {
                    problems == 0
                        && named.iter().any(|(verdict, detail)| {
                            verdict == "unchecked" && !detail.contains("could not be checked")
                        })
                }
                Expect::NeedsWrite => {
                    problems == 0
                        && named.iter().any(|(verdict, detail)| {
                            verdict == "unchecked" && detail.contains("could not be checked")
                        })
                }
            };
            if !reported {
                failures.push(format!(
                    "{label}: expected {:?}, {problems} problems, lines naming it: {named:?}\n{}",
                    expected(variant),
                    out.stdout
                ));
            }
            runtime.block_on(sim.shutdown());
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

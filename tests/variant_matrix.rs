//! The variant matrix: every provider × every simulator variant that concerns it (plus the
//! default, no variant), driven through the sync the controller runs — `callsync apply`'s
//! in-process path (`cli::local::apply`: observe → plan → `sync::execute`, ledger in a state
//! folder) — over real HTTP against the in-process simulator.
//!
//! Each cell runs two scenarios, step by step:
//! - `churn`: create → no change → churn (some contacts out, some in) → removal;
//! - `foreign`: a contact already at the provider under an id callsync did not choose (put
//!   there through the simulator's admin side, as a console add would) is desired → no change →
//!   it is no longer desired.
//!
//! After every step: either exact convergence (the simulator's contacts = the desired set) with
//! a `✓` line, or a stop whose line or error names the cause (never a `✓`, nor the controller's
//! `InSync` for the same numbers, while the provider differs); no phone ever added while
//! present, nor added when not desired (a late batch bringing back a removed contact); no
//! desired contact ever removed. The claims, against the simulator's audit log of the step:
//! `added` and `removed` of the closing line never exceed what was applied, and fall short only
//! by the items the line reports in doubt (so with nothing in doubt they are equal); `N contacts
//! in sync` of a `✓` line is what the provider holds of the desired set. The default (no
//! variant) must converge at every step, except the stops NXLink makes by design around a
//! console contact it cannot list (`default_may_stop`), which must name that contact.
//!
//! New variants in `callsync::simulator::Variant` are picked up with no edit here. The table
//! variant × outcome is printed (`-- --nocapture`) and copied into docs/providers/README.md.
//! The larger run is `#[ignore]`d: `cargo test --all-features --test variant_matrix -- --ignored
//! --nocapture`.
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use callsync::cli::files::{self, Diagnostics, ResolvedTask};
use callsync::cli::local::state::StateStore;
use callsync::cli::local::{self, Applied, TaskRun, outcome_line};
use callsync::contacts::Phone;
use callsync::controller::steps::report::{Phase, SyncClaims, finished_phase};
use callsync::plan::GuardDecision;
use callsync::providers::{ClientSettings, RateLimiters};
use callsync::simulator::audit::{AuditEntry, AuditOp, AuditOutcome};
use callsync::simulator::state::NewContact;
use callsync::simulator::{
    AccountConfig, ProviderKind, RunningSimulator, Simulator, SimulatorConfig, TaskConfig, Variant,
};
use callsync::sync::WireFormat;

const PROVIDERS: [ProviderKind; 3] = [
    ProviderKind::Longlonglong,
    ProviderKind::Callbot,
    ProviderKind::Nxlink,
];
const ACCOUNT: &str = "matrix-account";
const SECRET: &str = "matrix-secret";
const TASK: &str = "matrix-task";
const NAMESPACE: &str = "matrix";

/// Steps known to fail on this branch, with why: (provider, scenario, step), any variant. Each
/// entry is checked strictly: the step must fail (its table entry says `expected failure`), and
/// a step that passes fails the test, so the entry is removed once the fix is merged. Every
/// other step of the same cell is checked as usual. Empty: the NXLink console-contact fix
/// (provider audit N3) is merged, and its stops are judged by [`default_may_stop`].
const EXPECTED_FAILURES: &[(ProviderKind, Scenario, &str)] = &[];

/// The provider of the three that cannot list its contacts: callsync knows only its ledger.
const CANNOT_LIST: ProviderKind = ProviderKind::Nxlink;

/// Whether a stop of a cell without variant is by design rather than a failure to converge:
/// NXLink cannot list, so a console contact (foreign scenario) that is no longer wanted cannot
/// be removed (`ForeignContact`: callsync never learns its id); the stop must name it. (Its
/// create converges: the provider's "already in the task" for a desired phone is in sync,
/// counted already at the provider.) Every other stop of a default cell is a failure.
fn default_may_stop(cell: &Cell, text: &str) -> bool {
    cell.kind == CANNOT_LIST
        && cell.scenario == Scenario::Foreign
        && text.contains("ForeignContact")
}

/// The client's wait for an async add's result: the product default (20 s), except for the
/// two variants whose batches land late or never, which get 2 s — shorter than `lllAsyncLate`'s
/// delay, so that its batches are still queued when the client stops waiting and the next
/// rounds and steps must wait for them rather than send them again.
fn client_settings(variant: Option<Variant>) -> ClientSettings {
    let defaults = ClientSettings::default();
    if matches!(
        variant,
        Some(Variant::LllAsyncNever | Variant::LllAsyncLate)
    ) {
        ClientSettings {
            async_confirm_timeout: std::time::Duration::from_secs(2),
            ..defaults
        }
    } else {
        defaults
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Scenario {
    Churn,
    Foreign,
}

impl Scenario {
    fn name(self) -> &'static str {
        match self {
            Self::Churn => "churn",
            Self::Foreign => "foreign",
        }
    }
}

/// `+86 139 nnnn nnnn`: valid Chinese mobile numbers, one per index.
fn phone(index: usize) -> String {
    format!("+86139{index:08}")
}

/// The foreign contact's index (outside every range the steps use).
const FOREIGN: usize = 99_000;

/// One step: a name and the desired phones (indexes).
struct Step {
    name: &'static str,
    desired: Vec<usize>,
}

fn steps(scenario: Scenario, n: usize) -> Vec<Step> {
    let churn = (n / 4).max(1);
    match scenario {
        Scenario::Churn => vec![
            Step {
                name: "create",
                desired: (0..n).collect(),
            },
            Step {
                name: "no change",
                desired: (0..n).collect(),
            },
            Step {
                name: "churn",
                desired: (churn..n + churn).collect(),
            },
            Step {
                name: "removal",
                desired: (n..n + churn).collect(),
            },
        ],
        Scenario::Foreign => {
            let with_foreign: Vec<usize> = (0..n).chain([FOREIGN]).collect();
            vec![
                Step {
                    name: "create",
                    desired: with_foreign.clone(),
                },
                Step {
                    name: "no change",
                    desired: with_foreign,
                },
                Step {
                    name: "removal",
                    desired: (0..n).collect(),
                },
            ]
        }
    }
}

/// The CallProvider, its Secret, the CallTask and its one ContactList, as a user writes them.
fn files_yaml(kind: ProviderKind, base: &str, desired: &[usize]) -> String {
    let (secret, provider) = match kind {
        ProviderKind::Longlonglong => (
            format!("token: {SECRET}"),
            format!(
                "longlonglong:\n    endpoint: {base}\n    userId: {ACCOUNT}\n    tokenSecretRef:\n      name: creds\n      key: token"
            ),
        ),
        ProviderKind::Callbot => (
            format!("uuid: {ACCOUNT}\n  secretKey: {SECRET}"),
            format!(
                "callbot:\n    endpoint: {base}\n    credentialsSecretRef:\n      name: creds\n    orderCallbackUrl: https://hooks.example.com/order\n    callCallbackUrl: https://hooks.example.com/call"
            ),
        ),
        ProviderKind::Nxlink => (
            format!("accessKey: {ACCOUNT}\n  accessSecret: {SECRET}"),
            format!("nxlink:\n    endpoint: {base}\n    credentialsSecretRef:\n      name: creds"),
        ),
    };
    let mut text = format!(
        r#"apiVersion: v1
kind: Secret
metadata: {{name: creds, namespace: {NAMESPACE}, labels: {{callsync.io/credentials: "true"}}}}
stringData:
  {secret}
---
apiVersion: callsync.io/v1alpha1
kind: CallProvider
metadata: {{name: provider, namespace: {NAMESPACE}}}
spec:
  {provider}
  insecure: true
  rateLimit: {{requestsPerSecond: 1000, burst: 1000}}
---
apiVersion: callsync.io/v1alpha1
kind: CallTask
metadata: {{name: task, namespace: {NAMESPACE}}}
spec:
  providerRef: {{name: provider}}
  taskId: {TASK}
  contactLists: {{names: [contacts]}}
  policy: {{management: Full, maxDeletePercent: 100}}
---
apiVersion: callsync.io/v1alpha1
kind: ContactList
metadata: {{name: contacts, namespace: {NAMESPACE}}}
spec:
  contacts:
"#
    );
    for index in desired {
        let _ = writeln!(
            text,
            "    - {{phone: \"{}\", name: \"P{index}\"}}",
            phone(*index)
        );
    }
    text
}

fn resolve(dir: &Path, kind: ProviderKind, base: &str, desired: &[usize]) -> ResolvedTask {
    std::fs::write(dir.join("objects.yaml"), files_yaml(kind, base, desired)).expect("write");
    let mut diagnostics = Diagnostics::default();
    let bundle = files::load(&[dir.to_path_buf()], &mut diagnostics);
    let mut tasks = files::resolve(&bundle, &mut diagnostics);
    assert_eq!(diagnostics.error_count(), 0, "{:?}", diagnostics.items);
    assert_eq!(tasks.len(), 1);
    tasks.remove(0)
}

/// A phone as the provider's wire carries it.
fn wire_phone(resolved: &ResolvedTask, index: usize) -> String {
    let wire = WireFormat::of(&resolved.provider.spec);
    let parsed = Phone::parse(&phone(index), None).expect("valid phone");
    wire.encode(parsed).expect("encodable")
}

/// How one step ended.
enum StepEnd {
    /// `✓`: the line.
    InSync(String),
    /// A `!` line or a task error: the text naming the cause.
    Stopped(String),
}

impl StepEnd {
    /// The table cell: `✓`, or `stop: <the cause, shortened>`.
    fn cell(&self) -> String {
        match self {
            Self::InSync(_) => "✓".into(),
            Self::Stopped(text) => {
                let cause: String = text
                    .trim_start_matches("! ")
                    .split_once(": ")
                    .map_or(text.as_str(), |(_, rest)| rest)
                    .chars()
                    .take(60)
                    .collect();
                format!("stop: {cause}")
            }
        }
    }
}

/// A cell of the matrix: one provider, one variant (or none), one scenario.
struct Cell {
    kind: ProviderKind,
    variant: Option<Variant>,
    scenario: Scenario,
    contacts: usize,
}

impl Cell {
    fn label(&self) -> String {
        format!(
            "{} × {} × {}",
            self.kind,
            self.variant.map_or("default".into(), Variant::name),
            self.scenario.name()
        )
    }
}

/// What one cell gave: each step's table entry, and the violations found, by step.
struct CellResult {
    steps: Vec<(&'static str, String)>,
    violations: Vec<(&'static str, String)>,
}

/// The first number after `prefix` in `line` (digits with thousands commas).
fn number_after(line: &str, prefix: &str) -> Option<u64> {
    let start = line.find(prefix)? + prefix.len();
    let digits: String = line[start..]
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == ',')
        .filter(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// The audit sequence numbers at which the simulator accepted async batches holding `phone`
/// (longlonglong `async_number`); empty for a provider that applies adds at once.
fn sent_in_steps(sim: &RunningSimulator, phone: &str) -> Vec<u64> {
    sim.state()
        .lock()
        .async_jobs
        .values()
        .filter(|job| job.task_id == TASK && job.rows.iter().any(|r| r == phone))
        .map(|job| job.accepted_after_seq)
        .collect()
}

/// The desired set of the step that was running at audit sequence number `seq`.
fn desired_at(steps: &[(u64, BTreeSet<String>)], seq: u64) -> &BTreeSet<String> {
    let at = steps.partition_point(|(start, _)| *start <= seq).max(1) - 1;
    &steps[at].1
}

/// The audit entries of this cell's task after `since`.
fn audit_since(sim: &RunningSimulator, kind: ProviderKind, since: u64) -> Vec<AuditEntry> {
    sim.audit()
        .into_iter()
        .filter(|e| e.seq > since && e.provider == kind && e.account == ACCOUNT && e.task == TASK)
        .collect()
}

fn is_removal(op: AuditOp) -> bool {
    matches!(op, AuditOp::Remove | AuditOp::ImportReplace)
}

/// The checks of one step; each problem is pushed to `violations` with the step's name.
struct Judge<'a> {
    label: String,
    step: &'static str,
    violations: &'a mut Vec<(&'static str, String)>,
}

impl Judge<'_> {
    fn check(&mut self, ok: bool, what: impl FnOnce() -> String) {
        if !ok {
            self.violations.push((
                self.step,
                format!("{} / {}: {}", self.label, self.step, what()),
            ));
        }
    }
}

async fn run_cell(cell: &Cell, work: &Path) -> CellResult {
    let mut account =
        AccountConfig::new(cell.kind, ACCOUNT, SECRET).with_task(TaskConfig::new(TASK));
    if let Some(variant) = cell.variant {
        account = account.with_variant(variant);
    }
    let sim = Simulator::start(SimulatorConfig {
        accounts: vec![account],
        ..SimulatorConfig::default()
    })
    .await
    .expect("simulator starts");
    let base = sim.base_url();
    let dir = work.join("files");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let store = StateStore::open(&work.join("state"), true).expect("state");
    let limiters = RateLimiters::new();
    let settings = client_settings(cell.variant);
    let stop = Arc::new(AtomicBool::new(false));
    let mut result = CellResult {
        steps: Vec::new(),
        violations: Vec::new(),
    };
    let label = cell.label();

    // What the provider has, by phone, replayed from the audit log: an add of a phone present
    // is a duplicate add.
    let mut present: BTreeSet<String> = BTreeSet::new();
    if cell.scenario == Scenario::Foreign {
        // A console add: the provider's own id (none for longlonglong, which has none).
        let resolved = resolve(&dir, cell.kind, &base, &[FOREIGN]);
        let foreign = wire_phone(&resolved, FOREIGN);
        let remote_id = (cell.kind != ProviderKind::Longlonglong).then(|| "console-0001".into());
        sim.state()
            .lock()
            .add_contact(
                &(cell.kind, ACCOUNT.to_owned()),
                TASK,
                NewContact {
                    phone: foreign.clone(),
                    remote_id,
                    name: "added in the console".into(),
                    extra: String::new(),
                },
            )
            .expect("console add");
        present.insert(foreign);
    }
    let mut since = sim.audit().last().map_or(0, |e| e.seq);
    // Each step's first audit sequence number and desired set: an async batch that lands late
    // is judged by the step that sent it (its phones were desired then), a copy sent again by
    // the step that sent the copy.
    let mut step_desired: Vec<(u64, BTreeSet<String>)> = Vec::new();

    for step in steps(cell.scenario, cell.contacts) {
        let mut judge = Judge {
            label: label.clone(),
            step: step.name,
            violations: &mut result.violations,
        };
        let resolved = resolve(&dir, cell.kind, &base, &step.desired);
        let desired: BTreeSet<String> = step
            .desired
            .iter()
            .map(|i| wire_phone(&resolved, *i))
            .collect();
        step_desired.push((since, desired.clone()));
        let applied: Result<Applied, String> =
            match TaskRun::prepare(&resolved, &store, &limiters, &settings) {
                Ok(mut run) => local::apply(&mut run, &store, &stop, &mut |_| {})
                    .await
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
        let audit = audit_since(&sim, cell.kind, since);
        since = sim.audit().last().map_or(since, |e| e.seq);
        let contacts = sim.contacts(cell.kind, ACCOUNT, TASK);
        let at_provider: Vec<String> = contacts.iter().map(|c| c.phone.clone()).collect();
        let at_provider_set: BTreeSet<String> = at_provider.iter().cloned().collect();

        // Never two copies of a phone; never an add of a phone present; never a desired
        // contact removed.
        judge.check(at_provider.len() == at_provider_set.len(), || {
            format!("the provider holds a phone twice: {at_provider:?}")
        });
        let (mut adds, mut removes) = (0u64, 0u64);
        for entry in &audit {
            if entry.outcome != AuditOutcome::Applied {
                continue;
            }
            let phone = entry.phone.clone().unwrap_or_default();
            if entry.operation == AuditOp::Add {
                adds += 1;
                // An add that lands for a phone no longer desired brings back a contact that
                // was removed (an async batch sent again while the first was still queued).
                // A batch sent while the phone was desired that lands later is the provider's
                // queue, not a resend: the next step removes the contact.
                let sends = sent_in_steps(&sim, &phone);
                let sent_when_desired = !sends.is_empty()
                    && sends
                        .iter()
                        .all(|&seq| desired_at(&step_desired, seq).contains(&phone));
                judge.check(desired.contains(&phone) || sent_when_desired, || {
                    format!(
                        "add of {}, which is not desired",
                        callsync::contacts::mask_phone(&phone)
                    )
                });
                judge.check(!present.contains(&phone), || {
                    format!(
                        "duplicate add of {}",
                        callsync::contacts::mask_phone(&phone)
                    )
                });
                present.insert(phone);
            } else if is_removal(entry.operation) {
                removes += 1;
                judge.check(!desired.contains(&phone), || {
                    format!(
                        "desired contact {} removed",
                        callsync::contacts::mask_phone(&phone)
                    )
                });
                present.remove(&phone);
            }
        }

        let end = match &applied {
            Ok(applied) => {
                let line =
                    outcome_line(&resolved.key(), resolved_desired_len(&resolved), 0, applied);
                // The claim never exceeds what the audit log says was applied; it is lower only
                // by items it reports in doubt (awaiting the provider's confirmation), so a
                // line with nothing in doubt claims exactly what was applied.
                for (what, claimed, done) in [
                    ("added", applied.added, adds),
                    ("removed", applied.removed, removes),
                ] {
                    judge.check(claimed <= done && done - claimed <= applied.unknown, || {
                        format!(
                            "claims {what} {claimed} with {} in doubt, the provider applied {done}",
                            applied.unknown
                        )
                    });
                }
                // "Already at the provider" is never more than the adds it refused.
                let refused_adds = audit
                    .iter()
                    .filter(|e| e.operation == AuditOp::Add && e.outcome == AuditOutcome::Rejected)
                    .count() as u64;
                judge.check(applied.already_present <= refused_adds, || {
                    format!(
                        "claims {} already at the provider, the provider refused {refused_adds} adds",
                        applied.already_present
                    )
                });
                let text = match &line {
                    Ok(text) | Err(text) => text.clone(),
                };
                if text.contains("(no changes)") {
                    judge.check(audit.is_empty(), || {
                        format!("claims no changes, the audit log has {} rows", audit.len())
                    });
                } else {
                    judge.check(number_after(&text, "added ") == Some(applied.added), || {
                        format!("the line {text:?} does not say added {}", applied.added)
                    });
                    judge.check(
                        number_after(&text, "removed ") == Some(applied.removed),
                        || format!("the line {text:?} does not say removed {}", applied.removed),
                    );
                }
                // The controller's Ready for the same numbers (a sync that ran to its end).
                let finished = applied.unknown == 0
                    && !matches!(applied.guard, Some(GuardDecision::Tripped { .. }));
                if finished {
                    let phase = finished_phase(&SyncClaims {
                        desired: resolved_desired_len(&resolved),
                        confirmed: applied.confirmed,
                        not_sendable: applied.not_sendable,
                        refused: applied.failed - applied.not_sendable,
                        // The controller's rule (`keeps_a_callable_contact`), from the plan.
                        not_removable: applied.callable_not_removable,
                        ..SyncClaims::default()
                    });
                    if let Phase::InSync { message, .. } = &phase {
                        judge.check(at_provider_set == desired, || {
                            format!("the controller would report Ready ({message:?}) while the provider differs")
                        });
                    }
                }
                match line {
                    Ok(text) => {
                        let confirmed = at_provider_set.intersection(&desired).count() as u64;
                        judge.check(number_after(&text, ": ") == Some(confirmed), || {
                            format!("the line {text:?} does not say {confirmed} in sync")
                        });
                        StepEnd::InSync(text)
                    }
                    Err(text) => StepEnd::Stopped(text),
                }
            }
            Err(error) => StepEnd::Stopped(error.clone()),
        };
        match &end {
            StepEnd::InSync(text) => judge.check(at_provider_set == desired, || {
                let missing = desired.difference(&at_provider_set).count();
                let extra = at_provider_set.difference(&desired).count();
                format!(
                    "{text:?} while the provider differs from the desired set ({missing} missing, {extra} not desired)"
                )
            }),
            StepEnd::Stopped(text) => {
                judge.check(text.trim_start_matches("! ").len() > 10, || {
                    format!("a stop that names no cause: {text:?}")
                });
                judge.check(cell.variant.is_some() || default_may_stop(cell, text), || {
                    format!("the default must converge, it stopped: {text}")
                });
            }
        }
        result.steps.push((step.name, end.cell()));
    }
    sim.shutdown().await;
    result
}

fn resolved_desired_len(resolved: &ResolvedTask) -> u64 {
    local::desired_set(resolved).len() as u64
}

/// Every cell: each provider with no variant and with each variant that concerns it.
fn cells(contacts: usize) -> Vec<Cell> {
    let mut cells = Vec::new();
    for kind in PROVIDERS {
        let variants = std::iter::once(None).chain(
            Variant::all()
                .iter()
                .filter(|v| v.applies_to(kind))
                .map(|v| Some(*v)),
        );
        for variant in variants {
            for scenario in [Scenario::Churn, Scenario::Foreign] {
                cells.push(Cell {
                    kind,
                    variant,
                    scenario,
                    contacts,
                });
            }
        }
    }
    cells
}

async fn run_matrix(contacts: usize) {
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("variant_matrix");
    std::fs::create_dir_all(&root).expect("mkdir");
    let mut table: BTreeMap<(ProviderKind, String), BTreeMap<Scenario, String>> = BTreeMap::new();
    let mut violations = Vec::new();
    for cell in cells(contacts) {
        // While debugging one cell: `MATRIX_ONLY=lllAsyncLate` (any part of the label).
        if let Ok(only) = std::env::var("MATRIX_ONLY")
            && !cell.label().contains(&only)
        {
            continue;
        }
        let work = tempfile::tempdir_in(&root).expect("tempdir");
        let result = run_cell(&cell, work.path()).await;
        let expected_step = EXPECTED_FAILURES
            .iter()
            .find(|(kind, scenario, _)| *kind == cell.kind && *scenario == cell.scenario)
            .map(|(_, _, step)| *step);
        let (expected, unexpected): (Vec<_>, Vec<_>) = result
            .violations
            .into_iter()
            .partition(|(step, _)| Some(*step) == expected_step);
        violations.extend(unexpected.into_iter().map(|(_, v)| v));
        let mut steps: Vec<String> = Vec::new();
        for (name, entry) in &result.steps {
            if Some(*name) == expected_step {
                if expected.is_empty() {
                    violations.push(format!(
                        "{} / {name}: passes, but is listed in EXPECTED_FAILURES; remove it from that list",
                        cell.label()
                    ));
                    steps.push(format!("{name} {entry}"));
                } else {
                    let why: Vec<String> = expected.iter().map(|(_, v)| v.clone()).collect();
                    println!("expected failure: {}", why.join("; "));
                    steps.push(format!(
                        "{name} **expected failure** (see EXPECTED_FAILURES)"
                    ));
                }
            } else {
                steps.push(format!("{name} {entry}"));
            }
        }
        let outcome = steps.join(", ");
        table
            .entry((
                cell.kind,
                cell.variant.map_or("(default)".into(), Variant::name),
            ))
            .or_default()
            .insert(cell.scenario, outcome);
    }
    println!("\nvariant × outcome ({contacts} contacts a case):\n");
    println!(
        "| provider | variant | churn: create → no change → churn → removal | foreign contact: create → no change → removal |"
    );
    println!("|---|---|---|---|");
    for ((kind, variant), outcomes) in &table {
        let get = |s| outcomes.get(&s).cloned().unwrap_or_default();
        println!(
            "| {kind} | `{variant}` | {} | {} |",
            get(Scenario::Churn),
            get(Scenario::Foreign)
        );
    }
    assert!(
        violations.is_empty(),
        "{} violations:\n{}",
        violations.len(),
        violations.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_provider_and_variant_converges_or_stops_and_claims_only_what_the_provider_applied() {
    run_matrix(20).await;
}

/// The same matrix at a size where batching, windows and listing pages matter.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "minutes; run with -- --ignored --nocapture (docs/providers/README.md)"]
async fn the_variant_matrix_at_two_thousand_contacts() {
    run_matrix(2000).await;
}

/// "Provider truth": contacts the provider refuses are no success, and an apply that sends
/// them again does not claim "no changes". The Callbot task's script needs `city`; one
/// contact has none, so the provider refuses it at every apply.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_contact_the_provider_refuses_is_named_and_never_reported_in_sync() {
    let kind = ProviderKind::Callbot;
    let account = AccountConfig::new(kind, ACCOUNT, SECRET)
        .with_task(TaskConfig::new(TASK).with_variables(&["city"]));
    let sim = Simulator::start(SimulatorConfig {
        accounts: vec![account],
        ..SimulatorConfig::default()
    })
    .await
    .expect("simulator starts");
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("variant_matrix");
    std::fs::create_dir_all(&root).expect("mkdir");
    let work = tempfile::tempdir_in(&root).expect("tempdir");
    let dir = work.path().join("files");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let mut yaml = files_yaml(kind, &sim.base_url(), &[0, 1, 2, 3]);
    for i in 0..3 {
        yaml = yaml.replace(
            &format!("name: \"P{i}\"}}"),
            &format!("name: \"P{i}\", variables: {{city: Beijing}}}}"),
        );
    }
    std::fs::write(dir.join("objects.yaml"), yaml).expect("write");
    let mut diagnostics = Diagnostics::default();
    let bundle = files::load(std::slice::from_ref(&dir), &mut diagnostics);
    let resolved = files::resolve(&bundle, &mut diagnostics).remove(0);
    let store = StateStore::open(&work.path().join("state"), true).expect("state");
    let (limiters, settings) = (RateLimiters::new(), ClientSettings::default());
    let stop = Arc::new(AtomicBool::new(false));

    for (round, added) in [(1, 3), (2, 0)] {
        let mut run = TaskRun::prepare(&resolved, &store, &limiters, &settings).expect("prepare");
        let applied = local::apply(&mut run, &store, &stop, &mut |_| {})
            .await
            .expect("apply");
        let line = outcome_line(&resolved.key(), 4, 0, &applied)
            .expect_err("a refused contact is no success");
        assert!(
            line.starts_with(&format!(
                "! matrix/task: 1 contacts refused by the provider (added {added}, removed 0); fix or remove them in the ContactLists"
            )),
            "apply {round}: {line}"
        );
        assert!(line.contains("86139****0003"), "masked sample: {line}");
        assert!(!line.contains("no changes"), "apply {round}: {line}");
    }
    let applied_adds = audit_since(&sim, kind, 0)
        .iter()
        .filter(|e| e.operation == AuditOp::Add && e.outcome == AuditOutcome::Applied)
        .count();
    assert_eq!(applied_adds, 3);
    assert_eq!(sim.contacts(kind, ACCOUNT, TASK).len(), 3);
}

/// "Provider truth": an ObserveOnly apply wrote nothing and printed `✓` although the provider
/// lacked every desired contact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn observe_only_drift_is_named_and_never_reported_in_sync() {
    let kind = ProviderKind::Longlonglong;
    let account = AccountConfig::new(kind, ACCOUNT, SECRET).with_task(TaskConfig::new(TASK));
    let sim = Simulator::start(SimulatorConfig {
        accounts: vec![account],
        ..SimulatorConfig::default()
    })
    .await
    .expect("simulator starts");
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("variant_matrix");
    std::fs::create_dir_all(&root).expect("mkdir");
    let work = tempfile::tempdir_in(&root).expect("tempdir");
    let dir = work.path().join("files");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let yaml = files_yaml(kind, &sim.base_url(), &[0, 1, 2])
        .replace("management: Full", "management: ObserveOnly");
    std::fs::write(dir.join("objects.yaml"), yaml).expect("write");
    let mut diagnostics = Diagnostics::default();
    let bundle = files::load(std::slice::from_ref(&dir), &mut diagnostics);
    let resolved = files::resolve(&bundle, &mut diagnostics).remove(0);
    let store = StateStore::open(&work.path().join("state"), true).expect("state");
    let (limiters, settings) = (RateLimiters::new(), ClientSettings::default());
    let stop = Arc::new(AtomicBool::new(false));
    let mut run = TaskRun::prepare(&resolved, &store, &limiters, &settings).expect("prepare");
    let applied = local::apply(&mut run, &store, &stop, &mut |_| {})
        .await
        .expect("apply");
    let line = outcome_line(&resolved.key(), 3, 0, &applied).expect_err("drift is no success");
    assert!(
        line.starts_with("! matrix/task: ObserveOnly, nothing written; the provider differs from the files (3 desired contacts missing, 0 not desired)"),
        "{line}"
    );
    assert!(
        audit_since(&sim, kind, 0).is_empty(),
        "ObserveOnly writes nothing"
    );
}

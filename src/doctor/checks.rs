//! The read-only checks of one CallTask's account and remote task. Each check makes only read
//! calls (credential check, listing, task summary) and turns what the provider answered into a
//! verdict; nothing here writes to a provider.
use std::collections::HashSet;

use serde::Serialize;

use super::recorder::{RecordedAnswer, Recorder};
use crate::providers::{AnyProvider, Provider, ProviderError, TaskRef};
use crate::sync::WireFormat;

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Verdict {
    /// Works as callsync needs.
    Ok,
    /// Does not work: callsync cannot sync this task until it is fixed.
    Failed,
    /// An inferred behaviour the answers agree with.
    Confirmed,
    /// An inferred behaviour the answers disagree with: callsync's reading is wrong here.
    Contradicted,
    /// Could not be checked with reads alone.
    Unchecked,
}

impl Verdict {
    /// A problem the user must look at.
    pub fn is_problem(self) -> bool {
        matches!(self, Self::Failed | Self::Contradicted)
    }
}

/// One line of the report.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Check {
    /// A stable name (`credentials`, `clock`, `task`, `listing`, `phones`, `paging`…).
    pub name: &'static str,
    pub verdict: Verdict,
    /// A CamelCase word for conditions and programs (`CredentialsAccepted`,
    /// `CredentialsRejected`, `ClockSkew`…).
    pub reason: &'static str,
    /// What was seen, phones masked.
    pub detail: String,
}

impl Check {
    fn new(name: &'static str, verdict: Verdict, detail: impl Into<String>) -> Self {
        let reason = match verdict {
            Verdict::Ok => "Ok",
            Verdict::Failed => "Failed",
            Verdict::Confirmed => "Confirmed",
            Verdict::Contradicted => "Contradicted",
            Verdict::Unchecked => "Unchecked",
        };
        Self {
            name,
            verdict,
            reason,
            detail: detail.into(),
        }
    }

    fn because(mut self, reason: &'static str) -> Self {
        self.reason = reason;
        self
    }
}

/// The largest clock distance a provider documents, in seconds: NXLink's `ts` may be 60 s off.
/// Callbot's window is not documented (the simulator assumes 60 s); longlonglong signs nothing.
fn documented_window(kind: &str) -> Option<i64> {
    (kind == "nxlink").then_some(60)
}

/// The credential check and the clock, once per account.
pub async fn account_checks(provider: &AnyProvider, recorder: &Recorder) -> Vec<Check> {
    let mark = recorder.len();
    let credentials = match provider.check_credentials().await {
        Ok(()) => Check::new(
            "credentials",
            Verdict::Ok,
            "accepted (signature and credentials)",
        )
        .because("CredentialsAccepted"),
        Err(e) => Check::new("credentials", Verdict::Failed, e.to_string()).because(e.reason()),
    };
    let clock = clock_check(provider.kind(), &recorder.since(mark));
    vec![credentials, clock]
}

/// The largest distance between the provider's clock and ours among `answers`, in seconds.
pub fn max_skew(answers: &[RecordedAnswer]) -> Option<i64> {
    answers
        .iter()
        .filter_map(|a| a.skew_secs)
        .max_by_key(|s| s.abs())
}

fn clock_check(kind: &str, answers: &[RecordedAnswer]) -> Check {
    let Some(skew) = max_skew(answers) else {
        return Check::new(
            "clock",
            Verdict::Unchecked,
            "the provider's answers carry no Date header",
        );
    };
    if kind == "longlonglong" {
        return Check::new(
            "clock",
            Verdict::Ok,
            format!("provider clock {skew:+} s from ours; requests carry no timestamp"),
        );
    }
    match documented_window(kind) {
        // Date has a resolution of one second, and the answer took time to arrive.
        Some(window) if skew.abs() + 2 >= window => Check::new(
            "clock",
            Verdict::Failed,
            format!("provider clock {skew:+} s from ours; signed requests allow ±{window} s"),
        )
        .because("ClockSkew"),
        Some(window) => Check::new(
            "clock",
            Verdict::Ok,
            format!("provider clock {skew:+} s from ours, inside ±{window} s"),
        ),
        None => Check::new(
            "clock",
            Verdict::Ok,
            format!("provider clock {skew:+} s from ours (the allowed distance is not documented)"),
        ),
    }
}

/// The remote task: exists, lists, and pages as callsync assumes.
pub async fn task_checks(
    provider: &AnyProvider,
    task: &TaskRef,
    wire: &WireFormat,
    recorder: &Recorder,
) -> Vec<Check> {
    let mut checks = Vec::new();
    if provider.capabilities().can_list {
        let mark = recorder.len();
        match provider.list(task).await {
            Ok(Some(contacts)) => {
                let answers = recorder.since(mark);
                checks.push(Check::new("task", Verdict::Ok, "found"));
                checks.push(Check::new(
                    "listing",
                    Verdict::Ok,
                    format!(
                        "{} contacts in {} page{}",
                        contacts.len(),
                        answers.len(),
                        if answers.len() == 1 { "" } else { "s" }
                    ),
                ));
                checks.push(phones_check(
                    contacts.iter().map(|c| c.phone.as_str()),
                    wire,
                ));
                checks.push(overlap_check(
                    contacts
                        .iter()
                        .map(|c| c.remote_id.clone().unwrap_or_else(|| c.phone.clone())),
                ));
                checks.extend(paging_checks(provider.kind(), &answers));
            }
            Ok(None) => checks.push(Check::new(
                "listing",
                Verdict::Failed,
                "the client said it can list, then did not",
            )),
            Err(e) => checks.push(task_error(e)),
        }
    } else {
        match provider.drift_hint(task).await {
            Ok(Some(hint)) => {
                checks.push(Check::new("task", Verdict::Ok, "found"));
                checks.push(Check::new(
                    "listing",
                    Verdict::Unchecked,
                    format!(
                        "the provider cannot list contacts: callsync's ledger is the only \
                         record (the task counts {} orders)",
                        hint.total_order_count
                    ),
                ));
            }
            Ok(None) => checks.push(Check::new(
                "task",
                Verdict::Unchecked,
                "the provider gave no task summary",
            )),
            Err(e) => checks.push(task_error(e)),
        }
    }
    checks.push(Check::new(
        "taskState",
        Verdict::Unchecked,
        match provider.kind() {
            "longlonglong" => {
                "whether the task is a running 2.0 task (changes then get 6007) is not readable \
                 through a documented endpoint"
            }
            _ => "no documented read of the task's state",
        },
    ));
    checks
}

fn task_error(e: ProviderError) -> Check {
    if e.reason() == "TaskNotFound" {
        Check::new("task", Verdict::Failed, format!("not found: {e}"))
    } else {
        Check::new("listing", Verdict::Failed, e.to_string())
    }
}

/// Phones echoed in the form callsync sends: otherwise the listing cannot be matched to the
/// desired set (a masked echo such as 138****5678 must never match anything).
fn phones_check<'a>(phones: impl Iterator<Item = &'a str>, wire: &WireFormat) -> Check {
    let (mut total, mut unreadable) = (0usize, 0usize);
    let mut example = None;
    for phone in phones {
        total += 1;
        if wire.decode(phone).is_err() {
            unreadable += 1;
            example.get_or_insert_with(|| crate::providers::sanitize(phone));
        }
    }
    match (total, unreadable) {
        (0, _) => Check::new(
            "phones",
            Verdict::Unchecked,
            "the task is empty: no phone to compare with the configured phoneFormat",
        ),
        (_, 0) => Check::new(
            "phones",
            Verdict::Confirmed,
            format!("all {total} listed phones read back in the configured phoneFormat"),
        ),
        (_, n) => Check::new(
            "phones",
            Verdict::Contradicted,
            format!(
                "{n} of {total} listed phones do not read back in the configured phoneFormat \
                 (e.g. {}); callsync cannot match them",
                example.unwrap_or_default()
            ),
        ),
    }
}

/// The same contact on two pages means the pages overlap (e.g. a page size capped below what
/// was asked while callsync counts pages by its own size).
fn overlap_check(keys: impl Iterator<Item = String>) -> Check {
    let mut seen = HashSet::new();
    let repeated = keys.filter(|k| !seen.insert(k.clone())).count();
    if repeated == 0 {
        Check::new("overlap", Verdict::Confirmed, "no contact listed twice")
    } else {
        Check::new(
            "overlap",
            Verdict::Contradicted,
            format!("{repeated} contacts listed more than once: pages overlap"),
        )
    }
}

/// The paging metadata each listing relies on, read from the raw answers.
fn paging_checks(kind: &str, answers: &[RecordedAnswer]) -> Vec<Check> {
    let (field, pointer): (&str, &[&str]) = match kind {
        "longlonglong" => ("meta.last_page", &["meta", "last_page"]),
        "callbot" => ("totalCount", &["totalCount"]),
        _ => return Vec::new(),
    };
    let Some(first) = answers.first() else {
        return Vec::new();
    };
    let present = pointer
        .iter()
        .try_fold(&first.body, |v, key| v.get(*key))
        .is_some_and(|v| !v.is_null());
    vec![if present {
        Check::new(
            "paging",
            Verdict::Confirmed,
            format!("the listing answers carry {field}"),
        )
    } else {
        Check::new(
            "paging",
            Verdict::Contradicted,
            format!("the listing answers lack {field}, which callsync's paging reads"),
        )
    }]
}

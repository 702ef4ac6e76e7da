//! The read-only checks of one CallTask's account and remote task. Each check makes only read
//! calls (credential check, listing, task summary) and turns what the provider answered into a
//! verdict; nothing here writes to a provider.
use std::collections::HashSet;

use serde::Serialize;

use super::answers::{fields_check, like, messages_check, page_size_check, paging_check};
use super::listed::{Forms, ListedPhones, PhoneForm};
use super::recorder::{RecordedAnswer, Recorder};
use super::unread::write_side_checks;
use crate::providers::{AnyProvider, Provider, ProviderError, TaskRef};
use crate::simulator::Variant;

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
    pub(super) fn new(name: &'static str, verdict: Verdict, detail: impl Into<String>) -> Self {
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

    pub(super) fn because(mut self, reason: &'static str) -> Self {
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

/// A task id no account has: read to see how the provider says "not found".
pub const ABSENT_TASK: &str = "callsync-doctor-no-such-task";

/// The remote task: exists, lists, and pages as callsync assumes; then how the provider answers
/// a read of a task that does not exist; then the inferred behaviours only a write could show.
/// `listed` must observe the answers of `provider` (it sorts the listed phones' forms).
pub async fn task_checks(
    provider: &AnyProvider,
    task: &TaskRef,
    recorder: &Recorder,
    listed: &ListedPhones,
) -> Vec<Check> {
    let kind = provider.kind();
    let mut checks = Vec::new();
    let mark = recorder.len();
    let mut listed_count = None;
    if provider.capabilities().can_list {
        let listing = provider.list(task).await;
        let answers = recorder.since(mark);
        let forms = listed.take();
        let listed_ok = matches!(listing, Ok(Some(_)));
        if let Ok(Some(contacts)) = &listing {
            listed_count = Some(contacts.len() as u64);
        }
        match listing {
            Ok(Some(contacts)) => {
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
                checks.push(overlap_check(
                    contacts
                        .iter()
                        .map(|c| c.remote_id.clone().unwrap_or_else(|| c.phone.clone())),
                ));
            }
            Ok(None) => checks.push(Check::new(
                "listing",
                Verdict::Failed,
                "the client said it can list, then did not",
            )),
            Err(e) => checks.push(task_error(e)),
        }
        // The listing's answers say what they are even when the client refused them; error
        // answers (an unknown task, refused credentials) have no listing to judge.
        let pages: Vec<RecordedAnswer> = answers.into_iter().filter(succeeded).collect();
        if listed_ok || forms.total() > 0 {
            checks.push(phones_check(kind, &forms, listed_ok));
        }
        checks.extend(page_size_check(kind, &pages));
        checks.extend(paging_check(kind, &pages));
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
    let listing_answers = recorder.since(mark);
    if provider.capabilities().can_list {
        // After the listing's answers were taken: a page of one is no page of the listing.
        // Read even when the listing failed, so that a recording's reads come in one order.
        checks.push(count_check(provider.count(task).await, listed_count));
        listed.take();
    }
    let mark = recorder.len();
    let absent = read_absent_task(provider).await;
    let probe_answers = recorder.since(mark);
    listed.take();
    checks.push(not_found_check(kind, &absent, &probe_answers));
    checks.push(messages_check(kind, &listing_answers, &probe_answers));
    let mut all = listing_answers;
    all.extend(probe_answers);
    checks.push(fields_check(kind, &all));
    checks.push(Check::new(
        "taskState",
        Verdict::Unchecked,
        match kind {
            "longlonglong" => {
                "whether the task is a running 2.0 task (changes then get 6007) is not readable \
                 through a documented endpoint"
            }
            _ => "no documented read of the task's state",
        },
    ));
    checks.extend(write_side_checks(kind));
    checks
}

/// The provider's count of the task (what the sync reads between listings, `Provider::count`)
/// against the listing just read.
fn count_check(count: Result<Option<u64>, ProviderError>, listed: Option<u64>) -> Check {
    let Some(listed) = listed else {
        return Check::new(
            "count",
            Verdict::Unchecked,
            match count {
                Ok(Some(count)) => {
                    format!("the task counts {count}; no listing to hold it against")
                }
                Ok(None) => "the provider gives no count of the task".to_owned(),
                Err(e) => format!("the task's count could not be read either ({e})"),
            },
        );
    };
    match count {
        Ok(Some(count)) if count == listed => Check::new(
            "count",
            Verdict::Confirmed,
            format!("the task's count ({count}) is its listing's"),
        ),
        Ok(Some(count)) => Check::new(
            "count",
            Verdict::Unchecked,
            format!(
                "the task's count ({count}) is not its listing's ({listed}): callsync keeps the \
                 difference from each listing and lists again when it moves"
            ),
        ),
        Ok(None) => Check::new(
            "count",
            Verdict::Unchecked,
            "the provider gives no count of the task: a change made in its console is seen at \
             the next listing",
        ),
        Err(e) => Check::new(
            "count",
            Verdict::Unchecked,
            format!(
                "the task's count (a page of one) could not be read ({e}): between listings \
                 callsync plans against its ledger without a count check, so a change made in \
                 the provider's console is seen at the next listing{}",
                like(&[Variant::CallbotPageSizeMinimum])
            ),
        )
        .because("CountUnreadable"),
    }
}

/// An answer whose envelope says success (longlonglong `code` 200, Callbot `retCode` 0,
/// NXLink `code` 0).
fn succeeded(answer: &RecordedAnswer) -> bool {
    (200..300).contains(&answer.status)
        && answer
            .body
            .get("code")
            .or_else(|| answer.body.get("retCode"))
            .and_then(serde_json::Value::as_i64)
            .is_some_and(|code| code == 0 || code == 200)
}

/// Reads [`ABSENT_TASK`] the way each client reads a task: the listing (longlonglong, Callbot)
/// or NXLink's `call/list` (task/list takes no task id).
async fn read_absent_task(provider: &AnyProvider) -> Result<(), ProviderError> {
    let task = TaskRef::new(ABSENT_TASK);
    match provider {
        AnyProvider::Nxlink(client) => client.read_calls(&task).await,
        other => other.list(&task).await.map(|_| ()),
    }
}

/// How a task that does not exist is answered. callsync must see "not found": a listing that
/// came back empty would make a wrong taskId look like an empty task.
fn not_found_check(
    kind: &str,
    outcome: &Result<(), ProviderError>,
    answers: &[RecordedAnswer],
) -> Check {
    let status = answers.last().map_or(0, |a| a.status);
    match outcome {
        Ok(()) => Check::new(
            "notFound",
            Verdict::Contradicted,
            format!(
                "a task that does not exist ({ABSENT_TASK}) reads as an empty task: a wrong \
                 taskId would look like an empty task"
            ),
        )
        .because("AbsentTaskReadsEmpty"),
        Err(e) if e.reason() == "TaskNotFound" && status != 404 => Check::new(
            "notFound",
            Verdict::Confirmed,
            format!("a task that does not exist is answered \"not found\" (HTTP {status})"),
        ),
        Err(e) if kind == "nxlink" && status == 404 => Check::new(
            "notFound",
            Verdict::Unchecked,
            format!(
                "a task that does not exist is answered HTTP 404{}, not code 20000 in an HTTP \
                 200: callsync reads a 404 as a refusal ({}), never as \"gone\", so a removal \
                 the provider answers that way stays in doubt",
                like(&[Variant::NxlinkNotFoundAsHttp404]),
                e.reason()
            ),
        )
        .because("NotFoundAsHttp404"),
        Err(e) if e.reason() == "TaskNotFound" => Check::new(
            "notFound",
            Verdict::Confirmed,
            format!("a task that does not exist is answered \"not found\" (HTTP {status})"),
        ),
        Err(e) => Check::new(
            "notFound",
            Verdict::Unchecked,
            format!("a task that does not exist is answered HTTP {status}: {e}"),
        )
        .because(e.reason()),
    }
}

fn task_error(e: ProviderError) -> Check {
    if e.reason() == "TaskNotFound" {
        Check::new("task", Verdict::Failed, format!("not found: {e}"))
    } else {
        Check::new("listing", Verdict::Failed, e.to_string())
    }
}

/// The simulator's variant that writes listed phones in `form`, for `kind`.
fn phone_variant(kind: &str, form: PhoneForm) -> Option<Variant> {
    match (kind, form) {
        ("longlonglong", PhoneForm::Masked) => Some(Variant::LllListPhoneMasked),
        ("longlonglong", PhoneForm::WithCountryCode) => Some(Variant::LllListPhoneCountryCode),
        ("callbot", PhoneForm::Masked) => Some(Variant::CallbotPhoneMasked),
        ("callbot", PhoneForm::WithPlus) => Some(Variant::CallbotPhonePlus),
        ("callbot", PhoneForm::NotInternational) => Some(Variant::CallbotPhoneNational),
        _ => None,
    }
}

/// Phones listed in the form callsync sends: otherwise the listing can only be matched to the
/// desired set if the client reads the other form back (a `+` dropped, a country code read
/// away), and never when they are masked (`138****5678` must match nothing).
fn phones_check(kind: &str, forms: &Forms, listing_read: bool) -> Check {
    let total = forms.total();
    if total == 0 {
        return Check::new(
            "phones",
            Verdict::Unchecked,
            "the task is empty: no phone to compare with the configured phoneFormat",
        );
    }
    let other: Vec<(PhoneForm, usize)> = forms
        .counts
        .iter()
        .filter(|(form, _)| **form != PhoneForm::AsSent)
        .map(|(form, n)| (*form, *n))
        .collect();
    if other.is_empty() {
        return Check::new(
            "phones",
            Verdict::Confirmed,
            format!("all {total} listed phones read back in the configured phoneFormat"),
        );
    }
    let described: Vec<String> = other
        .iter()
        .map(|(form, n)| {
            format!(
                "{n} of {total} {} (e.g. {})",
                form.describe(),
                forms.examples.get(form).map_or("", String::as_str)
            )
        })
        .collect();
    let variants: Vec<Variant> = other
        .iter()
        .filter_map(|(form, _)| phone_variant(kind, *form))
        .collect();
    let masked = forms.counts.contains_key(&PhoneForm::Masked);
    let text = format!(
        "listed phones not in the configured phoneFormat: {}{}",
        described.join(", "),
        like(&variants)
    );
    if masked || !listing_read {
        Check::new(
            "phones",
            Verdict::Contradicted,
            format!("{text}; callsync cannot match them to contacts"),
        )
        .because("PhonesUnreadable")
    } else {
        Check::new(
            "phones",
            Verdict::Unchecked,
            format!("{text}; callsync reads them back as the numbers it sent"),
        )
        .because("PhoneForm")
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

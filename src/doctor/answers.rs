//! Checks read from the recorded answers themselves (phones already masked): the page size
//! served against the one asked, the paging fields, the language of the messages, fields
//! callsync does not know. Where an answer matches one of the simulator's variants (the other
//! readings of what the docs leave open, `docs/simulator.md` §6a), the line names it, so a
//! real account's report points at the case the tests already cover.
use std::collections::BTreeSet;

use serde_json::Value;

use super::checks::{Check, Verdict};
use super::recorder::RecordedAnswer;
use crate::simulator::Variant;

/// ` (like the simulator's variant `x`)`.
pub fn like(variants: &[Variant]) -> String {
    let names: Vec<String> = variants.iter().map(|v| format!("`{}`", v.name())).collect();
    match names.len() {
        0 => String::new(),
        1 => format!(" (like the simulator's variant {})", names[0]),
        _ => format!(" (like the simulator's variants {})", names.join(", ")),
    }
}

/// The page size a listing asks for, per provider.
fn asked_page_size(kind: &str) -> Option<(u64, &'static [&'static str])> {
    match kind {
        "longlonglong" => Some((
            crate::providers::longlonglong::LIST_PAGE_SIZE as u64,
            &["meta", "per_page"],
        )),
        "callbot" => Some((crate::providers::callbot::LIST_PAGE_SIZE, &["size"])),
        _ => None,
    }
}

fn at<'a>(body: &'a Value, pointer: &[&str]) -> Option<&'a Value> {
    pointer
        .iter()
        .try_fold(body, |v, key| v.get(*key))
        .filter(|v| !v.is_null())
}

/// The listing's rows of one answer (longlonglong `data` or `data.data`, Callbot `orderList`).
fn rows(body: &Value) -> Vec<&Value> {
    [
        body.get("data"),
        body.get("data").and_then(|d| d.get("data")),
        body.get("data").and_then(|d| d.get("list")),
        body.get("orderList"),
        body.get("list"),
    ]
    .into_iter()
    .flatten()
    .filter_map(Value::as_array)
    .flatten()
    .collect()
}

/// The page size the provider served against the one asked: a server may cap it silently.
pub fn page_size_check(kind: &str, listing: &[RecordedAnswer]) -> Option<Check> {
    let (asked, pointer) = asked_page_size(kind)?;
    let variant = match kind {
        "longlonglong" => Variant::LllPageSizeCapped,
        _ => Variant::CallbotPageSizeCapped,
    };
    let served: Vec<u64> = listing
        .iter()
        .filter_map(|a| at(&a.body, pointer).and_then(Value::as_u64))
        .collect();
    // A short page followed by a page with rows is capped too, said or not (a short page
    // followed only by empty ones is the end).
    let pages: Vec<usize> = listing.iter().map(|a| rows(&a.body).len()).collect();
    let short_before_end = pages
        .iter()
        .enumerate()
        .filter(|(i, n)| (**n as u64) < asked && pages[i + 1..].iter().any(|later| *later > 0))
        .map(|(_, n)| *n)
        .max();
    let capped = served
        .iter()
        .copied()
        .filter(|s| *s < asked)
        .min()
        .or(short_before_end.map(|n| n as u64));
    Some(match capped {
        Some(size) => Check::new(
            "pageSize",
            Verdict::Unchecked,
            format!(
                "asked {asked} rows a page, served {size}{}: callsync pages on by what it is \
                 served and ends only at an empty page or the total",
                like(&[variant])
            ),
        )
        .because("PageSizeCapped"),
        None if served.contains(&asked) => Check::new(
            "pageSize",
            Verdict::Confirmed,
            format!("pages of {asked} rows, as asked"),
        ),
        None => Check::new(
            "pageSize",
            Verdict::Unchecked,
            format!(
                "the answers do not say their page size and no page was full: a cap above \
                 the task's size cannot show (asked {asked})"
            ),
        ),
    })
}

/// The paging fields each listing reads.
pub fn paging_check(kind: &str, listing: &[RecordedAnswer]) -> Option<Check> {
    let first = listing.first()?;
    match kind {
        "longlonglong" => {
            let present = at(&first.body, &["meta", "last_page"])
                .or_else(|| at(&first.body, &["data", "last_page"]))
                .is_some();
            Some(if present {
                Check::new(
                    "paging",
                    Verdict::Confirmed,
                    "the listing answers carry meta.last_page",
                )
            } else {
                Check::new(
                    "paging",
                    Verdict::Unchecked,
                    format!(
                        "the listing answers carry no meta (no total, no last_page){}: callsync \
                         reads on to an empty page",
                        like(&[Variant::LllNoPageMeta])
                    ),
                )
                .because("NoPageMeta")
            })
        }
        "callbot" => Some(if at(&first.body, &["totalCount"]).is_some() {
            Check::new(
                "paging",
                Verdict::Confirmed,
                "the listing answers carry totalCount",
            )
        } else {
            Check::new(
                "paging",
                Verdict::Contradicted,
                format!(
                    "the listing answers lack totalCount{}, which callsync's paging reads: \
                     the listing cannot be proven complete",
                    like(&[Variant::CallbotTotalCountMissing])
                ),
            )
            .because("TotalCountMissing")
        }),
        _ => None,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Language {
    Chinese,
    English,
}

impl Language {
    fn of(text: &str) -> Option<Self> {
        if text.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)) {
            Some(Self::Chinese)
        } else if text.chars().any(|c| c.is_ascii_alphabetic()) {
            Some(Self::English)
        } else {
            None
        }
    }

    /// Chinese when any text is, else English when any is.
    fn of_all<'a>(texts: impl Iterator<Item = &'a str>) -> Option<Self> {
        let found: Vec<Self> = texts.filter_map(Self::of).collect();
        if found.contains(&Self::Chinese) {
            Some(Self::Chinese)
        } else {
            found.first().copied()
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Chinese => "Chinese",
            Self::English => "English",
        }
    }
}

fn message_texts(answers: &[RecordedAnswer]) -> Vec<String> {
    answers
        .iter()
        .flat_map(|a| ["message", "retMsg", "msg"].map(|k| a.body.get(k).cloned()))
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect()
}

/// The language of the provider's messages: a success (longlonglong: the rows' `status_str`)
/// and an error (the read of a task that does not exist), against the reading callsync was
/// written for. callsync reads the messages it must tell apart in both languages.
pub fn messages_check(kind: &str, listing: &[RecordedAnswer], probe: &[RecordedAnswer]) -> Check {
    use Language::{Chinese, English};
    let ok_answers: Vec<RecordedAnswer> = listing
        .iter()
        .filter(|a| {
            let code = a.body.get("code").or_else(|| a.body.get("retCode"));
            code.and_then(Value::as_i64)
                .is_some_and(|c| c == 0 || c == 200)
        })
        .cloned()
        .collect();
    let success_texts: Vec<String> = match kind {
        "longlonglong" => ok_answers
            .iter()
            .flat_map(|a| rows(&a.body))
            .filter_map(|r| r.get("status_str").and_then(Value::as_str))
            .map(str::to_owned)
            .collect(),
        _ => message_texts(&ok_answers),
    };
    let error_texts = message_texts(probe);
    let success = Language::of_all(success_texts.iter().map(String::as_str));
    let error = Language::of_all(error_texts.iter().map(String::as_str));
    // callsync's reading (the simulator's default): (success, error).
    let (want_success, want_error) = match kind {
        "longlonglong" => (Chinese, Chinese),
        "callbot" => (English, Chinese),
        _ => (English, English),
    };
    let mut differ = Vec::new();
    let mut variants = Vec::new();
    if let Some(lang) = success.filter(|l| *l != want_success) {
        differ.push(format!("successes in {}", lang.name()));
        variants.push((kind, lang));
    }
    if let Some(lang) = error.filter(|l| *l != want_error) {
        differ.push(format!("errors in {}", lang.name()));
        variants.push((kind, lang));
    }
    let variants: BTreeSet<Variant> = variants
        .into_iter()
        .filter_map(|(kind, lang)| match (kind, lang) {
            ("longlonglong", English) => Some(Variant::LllEnglishMessages),
            ("callbot", English) => Some(Variant::CallbotEnglishMessages),
            ("callbot", Chinese) => Some(Variant::CallbotChineseMessages),
            ("nxlink", Chinese) => Some(Variant::NxlinkChineseMessages),
            _ => None,
        })
        .collect();
    if !differ.is_empty() {
        let variants: Vec<Variant> = variants.into_iter().collect();
        return Check::new(
            "messages",
            Verdict::Unchecked,
            format!(
                "{}{}, where callsync's reading has successes in {} and errors in {}: callsync \
                 reads the messages it must tell apart (duplicate, invalid number, not found) \
                 in both languages",
                differ.join(" and "),
                like(&variants),
                want_success.name(),
                want_error.name()
            ),
        )
        .because("MessageLanguage");
    }
    match (success, error) {
        (None, None) => Check::new(
            "messages",
            Verdict::Unchecked,
            "no message to judge the language by",
        ),
        _ => Check::new(
            "messages",
            Verdict::Confirmed,
            format!(
                "successes in {}, errors in {}, as callsync reads them",
                success.unwrap_or(want_success).name(),
                error.unwrap_or(want_error).name()
            ),
        ),
    }
}

/// The fields callsync knows in the answers doctor reads: what the clients read and what the
/// providers' docs show. Anything else is a newer API version or an undocumented extra.
fn known_fields(kind: &str) -> (&'static [&'static str], &'static [&'static str]) {
    match kind {
        // (envelope and `data`/`meta` objects, rows)
        "longlonglong" => (
            &[
                "code",
                "status",
                "message",
                "data",
                "meta",
                "has_pages",
                "total",
                "last_page",
                "current_page",
                "per_page",
            ],
            &[
                "phone",
                "number",
                "name",
                "extra",
                "status",
                "status_str",
                "created_at",
            ],
        ),
        "callbot" => (
            &[
                "retCode",
                "retMsg",
                "responseID",
                "totalCount",
                "page",
                "size",
                "orderList",
            ],
            &[
                "orderID",
                "userPhone",
                "userName",
                "other",
                "userTaskID",
                "taskID",
                "finish",
                "callStatus",
                "batchID",
            ],
        ),
        _ => (
            &[
                "code",
                "message",
                "traceId",
                "data",
                "list",
                "total",
                "pageNumber",
                "pageSize",
            ],
            &[
                "taskId",
                "userTaskId",
                "taskName",
                "taskStatus",
                "pauseReason",
                "startupType",
                "taskKeep",
                "taskCallbackUrl",
                "statInfo",
                "createTs",
            ],
        ),
    }
}

/// Fields callsync does not know: harmless (the clients ignore them), but a sign of another API
/// version than the one read.
pub fn fields_check(kind: &str, answers: &[RecordedAnswer]) -> Check {
    let (outer, row_fields) = known_fields(kind);
    let mut unknown = BTreeSet::new();
    for answer in answers {
        let Some(envelope) = answer.body.as_object() else {
            continue;
        };
        let mut objects = vec![envelope];
        for key in ["data", "meta"] {
            if let Some(inner) = envelope.get(key).and_then(Value::as_object) {
                objects.push(inner);
            }
        }
        for object in objects {
            unknown.extend(
                object
                    .keys()
                    .filter(|k| !outer.contains(&k.as_str()))
                    .cloned(),
            );
        }
        for row in rows(&answer.body) {
            if let Some(row) = row.as_object() {
                unknown.extend(
                    row.keys()
                        .filter(|k| !row_fields.contains(&k.as_str()))
                        .cloned(),
                );
            }
        }
    }
    if unknown.is_empty() {
        Check::new(
            "fields",
            Verdict::Confirmed,
            "every field of the answers is one callsync knows",
        )
    } else {
        let names: Vec<String> = unknown.into_iter().collect();
        Check::new(
            "fields",
            Verdict::Unchecked,
            format!(
                "the answers carry fields callsync does not know: {}{}; the clients ignore them",
                names.join(", "),
                like(&[Variant::UnknownFields])
            ),
        )
        .because("UnknownFields")
    }
}

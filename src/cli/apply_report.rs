//! What `callsync apply` tells: lines for people (`-o text`, printed as they happen) or one
//! JSON document for programs (`-o json`, printed at the end; schema in docs/cli.md). Every
//! figure is one the provider confirmed, as in the text lines.
use serde::Serialize;

use super::local::{Applied, TaskSummary};
use super::plan::OutputFormat;

/// `--output json` of apply.
#[derive(Serialize, Default)]
#[serde(rename_all = "camelCase")]
struct ApplyDocument {
    api_version: &'static str,
    kind: &'static str,
    tasks: Vec<TaskResult>,
    totals: Totals,
}

#[derive(Serialize, Default)]
#[serde(rename_all = "camelCase")]
struct Totals {
    tasks: usize,
    in_sync: usize,
    not_in_sync: usize,
    suspended: usize,
    added: u64,
    removed: u64,
}

/// One task's result.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TaskResult {
    task: String,
    /// `InSync` (the text line's `✓`), `NotInSync` (`!`, a person must look), `Failed` (`✗`,
    /// the sync could not run), `Suspended` or `Interrupted`.
    outcome: &'static str,
    /// The text line (or error) for this task.
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    plan: Option<TaskSummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    applied: Option<AppliedCounts>,
}

/// What the provider confirmed.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AppliedCounts {
    added: u64,
    removed: u64,
    already_present: u64,
    refused: u64,
    unknown: u64,
    confirmed: u64,
    write_requests: u64,
    /// Refused contacts, phones masked.
    failures: Vec<FailureEntry>,
}

#[derive(Serialize)]
struct FailureEntry {
    phone: String,
    reason: String,
}

impl From<&Applied> for AppliedCounts {
    fn from(applied: &Applied) -> Self {
        Self {
            added: applied.added,
            removed: applied.removed,
            already_present: applied.already_present,
            refused: applied.failed,
            unknown: applied.unknown,
            confirmed: applied.confirmed,
            write_requests: applied.write_requests,
            failures: applied
                .failures
                .iter()
                .map(|f| FailureEntry {
                    phone: f.phone.clone(),
                    reason: f.reason.clone(),
                })
                .collect(),
        }
    }
}

/// Collects (json) or prints (text) the results of one apply.
pub struct ApplyReport {
    format: OutputFormat,
    document: ApplyDocument,
}

impl ApplyReport {
    pub fn new(format: OutputFormat) -> Self {
        Self {
            format,
            document: ApplyDocument {
                api_version: "callsync.io/v1alpha1",
                kind: "Apply",
                ..ApplyDocument::default()
            },
        }
    }

    pub fn is_text(&self) -> bool {
        self.format == OutputFormat::Text
    }

    fn push(&mut self, task: String, outcome: &'static str, message: String) -> &mut TaskResult {
        let totals = &mut self.document.totals;
        totals.tasks += 1;
        match outcome {
            "InSync" => totals.in_sync += 1,
            "Suspended" => totals.suspended += 1,
            _ => totals.not_in_sync += 1,
        }
        self.document.tasks.push(TaskResult {
            task,
            outcome,
            message,
            plan: None,
            applied: None,
        });
        self.document.tasks.last_mut().expect("just pushed")
    }

    /// A task that sends nothing (its own or its CallProvider's `spec.suspend`).
    pub fn suspended(&mut self, task: String, line: String) {
        if self.is_text() {
            println!("{line}");
        }
        self.push(task, "Suspended", line);
    }

    /// A task whose sync could not run or stopped with an error.
    pub fn failed(&mut self, task: String, error: String) {
        if self.is_text() {
            eprintln!("✗ {error}");
        }
        self.push(task, "Failed", error);
    }

    /// A task that ran: its closing line, `Ok` for `✓`, `Err` for `!`.
    pub fn finished(&mut self, task: String, applied: &Applied, line: Result<String, String>) {
        let (outcome, line) = match line {
            Ok(line) => ("InSync", line),
            Err(line) => ("NotInSync", line),
        };
        if self.is_text() {
            println!("{line}");
        }
        self.document.totals.added += applied.added;
        self.document.totals.removed += applied.removed;
        let result = self.push(task, outcome, line);
        result.plan = applied.first_plan.clone();
        result.applied = Some(AppliedCounts::from(applied));
    }

    /// A task stopped by Ctrl-C after the batch in flight.
    pub fn interrupted(&mut self, task: String, applied: &Applied, line: String) {
        if self.is_text() {
            println!("{line}");
        }
        self.document.totals.added += applied.added;
        self.document.totals.removed += applied.removed;
        let result = self.push(task, "Interrupted", line);
        result.plan = applied.first_plan.clone();
        result.applied = Some(AppliedCounts::from(applied));
    }

    /// Prints the JSON document (nothing for text, whose lines are out already).
    pub fn finish(&self) -> Result<(), serde_json::Error> {
        if !self.is_text() {
            println!("{}", serde_json::to_string_pretty(&self.document)?);
        }
        Ok(())
    }
}

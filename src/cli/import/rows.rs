//! Data rows to contacts. The shared CSV reader gives each row as written, or why it is left
//! out; here the phone is parsed by the contacts module, exactly as the controller parses it,
//! and written in its canonical E.164 form, and a repeated number is dropped. Every skipped
//! row is reported with its line, phone masked.
use std::collections::HashMap;
use std::fmt;

use crate::api::Contact;
use crate::contacts::csv::{CsvLineError, CsvRow, LineProblem};
use crate::contacts::{Phone, PhoneError, mask_phone};

/// What [`mask_phone`] makes of a cell without digits.
const NO_DIGITS: &str = "(no digits)";

/// A row that was skipped, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowProblem {
    /// Line on which the row starts.
    pub line: u64,
    /// What is wrong.
    pub problem: Problem,
}

/// What is wrong with a row. Holds masked phones only.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    /// The phone cell is not a valid number.
    Phone {
        /// The cell, masked.
        masked: String,
        /// Why.
        error: PhoneError,
    },
    /// The number appeared on an earlier row, which is kept.
    Duplicate {
        /// The canonical number, masked.
        masked: String,
        /// The row that is kept.
        first_line: u64,
    },
    /// The CSV reader left the row out (empty phone, cell count, size): the same verdict and
    /// words as for a ContactList source.
    Row(LineProblem),
}

/// Groups for the summary line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Category {
    /// Phone not valid.
    InvalidPhone,
    /// Phone cell empty.
    EmptyPhone,
    /// Phone repeated.
    Duplicate,
    /// Shape or size of the row.
    Malformed,
}

impl Category {
    /// `3 duplicates`, `1 invalid phone`.
    pub fn count(self, n: usize) -> String {
        let word = match self {
            Category::InvalidPhone => "invalid phone",
            Category::EmptyPhone => "empty phone",
            Category::Duplicate => "duplicate",
            Category::Malformed => "malformed row",
        };
        format!("{n} {word}{}", if n == 1 { "" } else { "s" })
    }
}

impl Problem {
    /// The summary group.
    pub fn category(&self) -> Category {
        match self {
            Problem::Phone { .. } => Category::InvalidPhone,
            Problem::Row(LineProblem::EmptyPhone) => Category::EmptyPhone,
            Problem::Duplicate { .. } => Category::Duplicate,
            Problem::Row(_) => Category::Malformed,
        }
    }
}

impl fmt::Display for RowProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: ", self.line)?;
        match &self.problem {
            // A cell without digits masks to nothing worth showing.
            Problem::Phone { masked, error } if masked == NO_DIGITS => {
                write!(f, "phone {}", phone_reason(error))
            }
            Problem::Phone { masked, error } => {
                write!(f, "phone {masked} {}", phone_reason(error))
            }
            Problem::Duplicate { masked, first_line } => {
                write!(
                    f,
                    "phone {masked} repeats line {first_line}; the row is skipped"
                )
            }
            Problem::Row(p) => write!(f, "{p}"),
        }
    }
}

/// Words after "phone 138****5678". The inputs in [`PhoneError`] are masked already; these
/// words leave them out so the masked phone is said once.
fn phone_reason(e: &PhoneError) -> String {
    match e {
        PhoneError::NotANumber => "is not a number".into(),
        PhoneError::UnexpectedChar(c) => format!("is not a number (unexpected {c:?})"),
        PhoneError::ScientificNotation { .. } => "lost digits to scientific notation in the \
             spreadsheet; format the column as text and export again"
            .into(),
        PhoneError::NoRegion { .. } => "has no country code".into(),
        PhoneError::UnknownRegion(r) => format!("cannot be read in region {r}"),
        PhoneError::UnknownCountryCode(cc) => format!("has an unknown country code {cc}"),
        PhoneError::TooShort { region, .. } => format!("is too short for region {region}"),
        PhoneError::TooLong { region, .. } => format!("is too long for region {region}"),
        PhoneError::Invalid { region, .. } => {
            format!("is not a valid number for region {region}")
        }
        PhoneError::Extension { .. } => "has an extension or carrier code".into(),
    }
}

/// The outcome of all data rows.
#[derive(Debug, Default)]
pub struct Rows {
    /// Valid contacts with distinct phones, in file order.
    pub contacts: Vec<Contact>,
    /// Skipped rows, in file order.
    pub problems: Vec<RowProblem>,
    /// Data rows read (blank rows not counted).
    pub read: u64,
}

/// Turns the reader's rows into contacts, reading national numbers in `region`.
pub fn collect(rows: impl Iterator<Item = Result<CsvRow, CsvLineError>>, region: &str) -> Rows {
    let mut out = Rows::default();
    let mut first_line: HashMap<u64, u64> = HashMap::new();
    for row in rows {
        out.read += 1;
        let CsvRow { line, mut contact } = match row {
            Ok(r) => r,
            Err(e) => {
                out.problems.push(RowProblem {
                    line: e.line,
                    problem: Problem::Row(e.problem),
                });
                continue;
            }
        };
        let problem = |problem| RowProblem { line, problem };
        let phone = match Phone::parse(&contact.phone, Some(region)) {
            Ok(p) => p,
            Err(error) => {
                out.problems.push(problem(Problem::Phone {
                    masked: mask_phone(&contact.phone),
                    error,
                }));
                continue;
            }
        };
        if let Some(&first) = first_line.get(&phone.as_u64()) {
            out.problems.push(problem(Problem::Duplicate {
                masked: phone.masked(),
                first_line: first,
            }));
            continue;
        }
        first_line.insert(phone.as_u64(), line);
        contact.phone = phone.e164();
        out.contacts.push(contact);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contacts::csv::{Columns, headers, rows};

    fn columns(header: &[&str]) -> Columns {
        let header: Vec<String> = header.iter().map(|s| s.to_string()).collect();
        headers::plan(headers::clean(&header).expect("clean"), &[]).expect("plan")
    }

    /// Rows as the shared reader makes them of these cells.
    fn read(rows_in: &[(u64, &[&str])], columns: &Columns) -> Vec<Result<CsvRow, CsvLineError>> {
        rows_in
            .iter()
            .map(|(line, cells)| (*line, csv::StringRecord::from(cells.to_vec())))
            .filter(|(_, cells)| !rows::is_blank(cells))
            .map(|(line, cells)| rows::row(line, &cells, columns))
            .collect()
    }

    #[test]
    fn valid_invalid_duplicate_and_short_rows() {
        let columns = columns(&["手机号", "姓名", "城市"]);
        let rows = collect(
            read(
                &[
                    (2, &["130 1212 1211", " 张三 ", "北京"]),
                    (3, &["1381234567", "李四", ""]),
                    (4, &["", "王五", "上海"]),
                    (5, &["+86 130-1212-1211", "张三", "北京"]),
                    (6, &["13012121212", "赵六"]),
                    (7, &["", "", ""]),
                    (8, &["13012121212", "赵六", ""]),
                ],
                &columns,
            )
            .into_iter(),
            "CN",
        );
        assert_eq!(rows.read, 6);
        assert_eq!(rows.contacts.len(), 2);
        assert_eq!(rows.contacts[0].phone, "+8613012121211");
        assert_eq!(rows.contacts[0].name.as_deref(), Some("张三"));
        assert_eq!(
            rows.contacts[0].variables.get("城市").map(String::as_str),
            Some("北京")
        );
        assert!(rows.contacts[1].variables.is_empty());
        let lines: Vec<String> = rows.problems.iter().map(ToString::to_string).collect();
        assert_eq!(
            lines,
            vec![
                "line 3: phone 138****567 is too short for region CN",
                "line 4: phone is empty",
                "line 5: phone +86130****1211 repeats line 2; the row is skipped",
                "line 6: expected 3 fields, found 2",
            ]
        );
        let categories: Vec<Category> =
            rows.problems.iter().map(|p| p.problem.category()).collect();
        assert_eq!(
            categories,
            [
                Category::InvalidPhone,
                Category::EmptyPhone,
                Category::Duplicate,
                Category::Malformed
            ]
        );
    }

    #[test]
    fn cells_longer_than_the_schema_allows_are_refused() {
        let columns = columns(&["phone", "name"]);
        let long = "名".repeat(257);
        let ok = "名".repeat(256);
        let rows = collect(
            read(
                &[(2, &["13012121211", &long]), (3, &["13012121212", &ok])],
                &columns,
            )
            .into_iter(),
            "CN",
        );
        assert_eq!(rows.contacts.len(), 1);
        assert_eq!(
            rows.problems[0].to_string(),
            "line 2: name is longer than 256 characters"
        );
    }
}

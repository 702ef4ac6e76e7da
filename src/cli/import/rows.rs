//! Data rows to contacts. The phone is parsed by the contacts module, exactly as the controller
//! parses it, and written in its canonical E.164 form; a row that Kubernetes or the controller
//! would refuse is skipped here and reported with its line, phone masked.
use std::collections::{BTreeMap, HashMap};
use std::fmt;

use crate::api::Contact;
use crate::contacts::{Phone, PhoneError, mask_phone};

use super::headers::{Columns, Field, Role};

/// `maxLength` of name, company and email in the ContactList schema (characters).
const MAX_TEXT: usize = 256;
/// `maxLength` of extra in the ContactList schema.
const MAX_EXTRA: usize = 1024;
/// What [`mask_phone`] makes of a cell without digits.
const NO_DIGITS: &str = "(no digits)";
/// A row bigger than this would crowd a shard towards etcd's object size limit on its own.
pub const MAX_ROW_BYTES: usize = 64 * 1024;

/// One data row as read: where it starts and its cells.
pub struct Record {
    /// Line on which the row starts (1-based, physical lines of the file).
    pub line: u64,
    /// The cells.
    pub cells: csv::StringRecord,
}

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
    /// The phone cell is empty.
    EmptyPhone,
    /// The number appeared on an earlier row, which is kept.
    Duplicate {
        /// The canonical number, masked.
        masked: String,
        /// The row that is kept.
        first_line: u64,
    },
    /// Not as many cells as header columns.
    FieldCount {
        /// Header columns.
        expected: usize,
        /// Cells in the row.
        found: usize,
        /// The row spans several lines: a closing quote is probably missing.
        multiline: bool,
    },
    /// A cell longer than the ContactList schema allows.
    TooLong {
        /// The field.
        field: Field,
        /// Its `maxLength`.
        max: usize,
    },
    /// The row holds more than [`MAX_ROW_BYTES`].
    TooLarge,
    /// The CSV reader could not read the row.
    Unreadable(String),
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
            Problem::EmptyPhone => Category::EmptyPhone,
            Problem::Duplicate { .. } => Category::Duplicate,
            _ => Category::Malformed,
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
            Problem::EmptyPhone => f.write_str("phone is empty"),
            Problem::Duplicate { masked, first_line } => {
                write!(
                    f,
                    "phone {masked} repeats line {first_line}; the row is skipped"
                )
            }
            Problem::FieldCount {
                expected,
                found,
                multiline,
            } => {
                write!(f, "expected {expected} fields, found {found}")?;
                if *multiline {
                    f.write_str(
                        " in a row that spans several lines: a closing quote is probably missing",
                    )?;
                }
                Ok(())
            }
            Problem::TooLong { field, max } => {
                write!(f, "{field} is longer than {max} characters")
            }
            Problem::TooLarge => write!(f, "row is larger than {} KiB", MAX_ROW_BYTES / 1024),
            Problem::Unreadable(why) => write!(f, "cannot read the row: {why}"),
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

/// Turns records into contacts, reading national numbers in `region`.
pub fn collect(
    records: impl Iterator<Item = Result<Record, RowProblem>>,
    columns: &Columns,
    region: &str,
) -> Rows {
    let mut out = Rows::default();
    let mut first_line: HashMap<u64, u64> = HashMap::new();
    let phone_col = columns.column_of(Field::Phone);
    for record in records {
        let record = match record {
            Ok(r) => r,
            Err(problem) => {
                out.read += 1;
                out.problems.push(problem);
                continue;
            }
        };
        if record.cells.iter().all(|c| c.trim().is_empty()) {
            continue; // a blank row, or one of only delimiters
        }
        out.read += 1;
        let problem = |problem| RowProblem {
            line: record.line,
            problem,
        };
        if record.cells.len() != columns.roles.len() {
            out.problems.push(problem(Problem::FieldCount {
                expected: columns.roles.len(),
                found: record.cells.len(),
                multiline: record.cells.iter().any(|c| c.contains('\n')),
            }));
            continue;
        }
        let raw = phone_col
            .and_then(|i| record.cells.get(i))
            .unwrap_or("")
            .trim();
        if raw.is_empty() {
            out.problems.push(problem(Problem::EmptyPhone));
            continue;
        }
        let phone = match Phone::parse(raw, Some(region)) {
            Ok(p) => p,
            Err(error) => {
                out.problems.push(problem(Problem::Phone {
                    masked: mask_phone(raw),
                    error,
                }));
                continue;
            }
        };
        let contact = match build(phone, &record.cells, columns) {
            Ok(c) => c,
            Err(p) => {
                out.problems.push(problem(p));
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
        first_line.insert(phone.as_u64(), record.line);
        out.contacts.push(contact);
    }
    out
}

/// The contact of a row whose phone is valid; cells trimmed, empty cells absent.
fn build(phone: Phone, cells: &csv::StringRecord, columns: &Columns) -> Result<Contact, Problem> {
    if cells.as_slice().len() > MAX_ROW_BYTES {
        return Err(Problem::TooLarge);
    }
    let mut contact = Contact {
        phone: phone.e164(),
        name: None,
        company: None,
        email: None,
        variables: BTreeMap::new(),
        extra: None,
    };
    for (role, cell) in columns.roles.iter().zip(cells.iter()) {
        let value = cell.trim();
        if value.is_empty() {
            continue;
        }
        let checked = |field: Field, max: usize| {
            if value.chars().count() > max {
                Err(Problem::TooLong { field, max })
            } else {
                Ok(Some(value.to_string()))
            }
        };
        match role {
            Role::Field(Field::Phone) | Role::Ignored => {}
            Role::Field(Field::Name) => contact.name = checked(Field::Name, MAX_TEXT)?,
            Role::Field(Field::Company) => contact.company = checked(Field::Company, MAX_TEXT)?,
            Role::Field(Field::Email) => contact.email = checked(Field::Email, MAX_TEXT)?,
            Role::Field(Field::Extra) => contact.extra = checked(Field::Extra, MAX_EXTRA)?,
            Role::Variable(key) => {
                contact.variables.insert(key.clone(), value.to_string());
            }
        }
    }
    Ok(contact)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::import::headers::plan;
    use crate::cli::import::options::ColumnMap;

    fn records(rows: &[(u64, &[&str])]) -> Vec<Result<Record, RowProblem>> {
        rows.iter()
            .map(|(line, cells)| {
                Ok(Record {
                    line: *line,
                    cells: csv::StringRecord::from(cells.to_vec()),
                })
            })
            .collect()
    }

    #[test]
    fn valid_invalid_duplicate_and_short_rows() {
        let header = ["手机号", "姓名", "城市"].map(String::from);
        let columns = plan(&header, &ColumnMap::default()).expect("plan");
        let rows = collect(
            records(&[
                (2, &["130 1212 1211", " 张三 ", "北京"]),
                (3, &["1381234567", "李四", ""]),
                (4, &["", "王五", "上海"]),
                (5, &["+86 130-1212-1211", "张三", "北京"]),
                (6, &["13012121212", "赵六"]),
                (7, &["", "", ""]),
                (8, &["13012121212", "赵六", ""]),
            ])
            .into_iter(),
            &columns,
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
    }

    #[test]
    fn cells_longer_than_the_schema_allows_are_refused() {
        let header = ["phone", "name"].map(String::from);
        let columns = plan(&header, &ColumnMap::default()).expect("plan");
        let long = "名".repeat(257);
        let ok = "名".repeat(256);
        let rows = collect(
            records(&[(2, &["13012121211", &long]), (3, &["13012121212", &ok])]).into_iter(),
            &columns,
            "CN",
        );
        assert_eq!(rows.contacts.len(), 1);
        assert_eq!(
            rows.problems[0].to_string(),
            "line 2: name is longer than 256 characters"
        );
    }
}

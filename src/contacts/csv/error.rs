//! What the CSV reader refuses, for `callsync import`, `callsync validate`/`apply` and the
//! controller alike: one wording wherever the same file is read. Messages say what and where
//! (line, column, header) and hold no cell content: a header that looks like a phone number
//! (a file without a header row) is masked, see [`super::headers::shown`].
use std::fmt;

use thiserror::Error;

use super::headers::Field;

/// The whole file is unusable: nothing of it is read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CsvError {
    /// Bytes that are not text in the (detected or chosen) encoding.
    #[error("CSV line {line}: the bytes are not valid {encoding}")]
    Undecodable {
        /// Encoding name (`UTF-8`, `GB18030`, …).
        encoding: &'static str,
        /// Line of the first bad byte (1-based).
        line: u64,
    },
    /// No row with a non-blank cell.
    #[error("the CSV has no header row")]
    Empty,
    /// No header names the phone column.
    #[error("no phone column among the headers ({seen})")]
    NoPhoneColumn {
        /// The headers, as [`super::headers::seen`] shows them.
        seen: String,
    },
    /// Two headers both name the phone column.
    #[error("both {first:?} and {second:?} look like the phone column")]
    AmbiguousPhone {
        /// The first header (shown).
        first: String,
        /// The second header (shown).
        second: String,
    },
    /// Two header cells name one column (compared without case).
    #[error("the header names {header:?} twice (columns {first} and {second})")]
    DuplicateHeader {
        /// The second header (shown).
        header: String,
        /// Column of the first (1-based).
        first: usize,
        /// Column of the second (1-based).
        second: usize,
    },
    /// A quote that opens a field and is never closed, or that closes a field with text after
    /// it. Read on, such a quote swallows every row up to the next quote as one field, so the
    /// whole file is refused rather than read with its rows missing (a sync would remove them).
    #[error("CSV line {line}, column {column}: {detail}")]
    BrokenQuote {
        /// Line of the opening quote (1-based).
        line: u64,
        /// Column of the opening quote (1-based, in characters).
        column: u64,
        /// What is wrong. Holds no cell content.
        detail: String,
    },
}

/// What is wrong with one data row; the row is left out, the others are read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LineProblem {
    /// The phone cell is empty.
    EmptyPhone,
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
    /// The row holds more than [`super::rows::MAX_ROW_BYTES`].
    TooLarge,
    /// The csv crate could not read the row (the reason holds no cell content).
    Unreadable(String),
}

impl fmt::Display for LineProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LineProblem::EmptyPhone => f.write_str("phone is empty"),
            LineProblem::FieldCount {
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
            LineProblem::TooLong { field, max } => {
                write!(f, "{field} is longer than {max} characters")
            }
            LineProblem::TooLarge => write!(
                f,
                "row is larger than {} KiB",
                super::rows::MAX_ROW_BYTES / 1024
            ),
            LineProblem::Unreadable(why) => write!(f, "cannot read the row: {why}"),
        }
    }
}

/// The csv crate's reason without the cell content it may quote.
pub(super) fn csv_reason(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::Utf8 { .. } => "a cell is not valid UTF-8".into(),
        csv::ErrorKind::UnequalLengths { .. } => {
            "the row has an unexpected number of fields".into()
        }
        _ => "malformed CSV".into(),
    }
}

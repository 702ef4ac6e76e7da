//! Why an import did not happen: one line for a person, saying what and where.
use std::path::PathBuf;

use crate::contacts::csv::{CsvError, Field};

/// An import that could not be done. Holds no phone number and no cell content besides
/// header names.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The shared CSV reader refused the file: its words, and the flag that may help.
    #[error("{}{}", .0, hint(.0))]
    Csv(CsvError),
    #[error("--encoding {0:?} is not an encoding name (try utf-8, gbk, gb18030, utf-16le, big5)")]
    UnknownEncoding(String),
    #[error("--delimiter {0:?} is not one character (use , ; | or tab)")]
    Delimiter(String),
    #[error("--map {field}={column}: no such column among the headers ({seen})")]
    MapColumn {
        field: Field,
        column: String,
        seen: String,
    },
    #[error("--map: {0:?} is not a field; the fields are phone, name, company, email and extra")]
    MapField(String),
    #[error("--map: {0:?} is not field=header")]
    MapSyntax(String),
    #[error("--map names {0} twice")]
    MapTwice(Field),
    #[error("--map puts column {column:?} into both {first} and {second}")]
    MapSameColumn {
        column: String,
        first: Field,
        second: Field,
    },
    #[error("--labels {0:?}: {1}")]
    Label(String, String),
    #[error("--name {0:?} {1} (it names the shards NAME-001, … and is a label value)")]
    Name(String, String),
    #[error(
        "cannot make a ContactList name from the file name {0:?}; pass --name, for example --name customers"
    )]
    NoName(String),
    #[error("--namespace {0:?} {1}")]
    Namespace(String, String),
    #[error("--default-region {0:?} is not an ISO 3166 region code such as CN, HK or ID")]
    Region(String),
    #[error("{invalid} of {read} rows are invalid and --strict is set; nothing was written")]
    Strict { invalid: usize, read: u64 },
    #[error("no valid contacts in {0} rows; nothing was written")]
    NoContacts(u64),
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("--out: {0}")]
    Private(#[from] crate::cli::private_files::PrivateDirError),
    #[error("cannot write to standard output: {0}")]
    Stdout(std::io::Error),
}

impl From<CsvError> for ImportError {
    fn from(e: CsvError) -> Self {
        ImportError::Csv(e)
    }
}

/// What import adds to the reader's message: the flag that fixes it.
fn hint(e: &CsvError) -> &'static str {
    match e {
        CsvError::Undecodable { .. } => {
            "; pass --encoding with the file's encoding (utf-8, gbk, gb18030, utf-16le, big5, …)"
        }
        CsvError::NoPhoneColumn { .. } => "; name it with --map phone=<header>",
        CsvError::AmbiguousPhone { .. } => "; choose one with --map phone=<header>",
        CsvError::Empty | CsvError::DuplicateHeader { .. } | CsvError::BrokenQuote { .. } => "",
    }
}

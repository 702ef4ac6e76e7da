//! `callsync import`: a spreadsheet's CSV export to ContactList YAML shards.
//!
//! ```text
//! bytes ─▶ contacts::csv (decode, dialect, quotes, header) ─▶ --map ─▶ rows ─▶ shard ─▶ render
//! ```
//!
//! The CSV reader is the one ContactList sources use ([`crate::contacts::csv`]); what is
//! import's own is here: the flags, `--map`, parsing phones in `--default-region` and dropping
//! repeats, sharding and the YAML. [`import`] is the pure core: bytes and options in, shards
//! and row reports out, no IO. The `run` module reads the file, prints the reports on stderr
//! and writes the YAML.
mod args;
mod error;
mod flags;
mod options;
mod render;
mod rows;
mod run;
mod shard;

pub use crate::contacts::csv::{Columns, Field, Role};
pub use args::ImportArgs;
pub use error::ImportError;
pub use options::{
    ColumnMap, DEFAULT_SHARD_SIZE, ImportOptions, LIST_LABEL, MAX_SHARD_SIZE, parse_labels,
    parse_map,
};
pub use render::{document, stream};
pub use rows::{Category, Problem, RowProblem};
pub use run::execute;
pub use shard::{MAX_SHARD_BYTES, Shard};

use crate::contacts::csv::{ReadOptions, Sheet, headers};

/// What an import produced.
#[derive(Debug)]
pub struct Imported {
    /// The encoding the file was read in.
    pub encoding: &'static str,
    /// The field delimiter.
    pub delimiter: u8,
    /// Line of the header row.
    pub header_line: u64,
    /// What each column became.
    pub columns: Columns,
    /// Data rows read (blank rows not counted).
    pub rows_read: u64,
    /// The ContactLists, in order.
    pub shards: Vec<Shard>,
    /// Skipped rows, in file order.
    pub problems: Vec<RowProblem>,
}

impl Imported {
    /// Contacts over all shards.
    pub fn contact_count(&self) -> usize {
        self.shards.iter().map(|s| s.contacts.len()).sum()
    }
}

/// Imports CSV `bytes`. Fails only when the file as a whole is unusable (encoding, quotes,
/// header, `--map`); bad rows are reported in [`Imported::problems`] and left out.
pub fn import(bytes: &[u8], opts: &ImportOptions) -> Result<Imported, ImportError> {
    let sheet = Sheet::open(
        bytes,
        ReadOptions {
            encoding: opts.encoding,
            delimiter: opts.delimiter,
        },
    )?;
    let fixed = opts.map.resolve(&sheet.headers)?;
    let columns = headers::plan(sheet.headers.clone(), &fixed)?;
    let read = rows::collect(sheet.rows(&columns), &opts.default_region);
    Ok(Imported {
        encoding: sheet.encoding,
        delimiter: sheet.delimiter,
        header_line: sheet.header_line,
        columns,
        rows_read: read.read,
        shards: shard::split(read.contacts, &opts.name, opts.shard_size),
        problems: read.problems,
    })
}

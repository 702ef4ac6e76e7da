//! `callsync import`: a spreadsheet's CSV export to ContactList YAML shards.
//!
//! ```text
//! bytes ─▶ decode ─▶ dialect ─▶ headers ─▶ rows ─▶ shard ─▶ render
//! ```
//!
//! [`import`] is the pure core: bytes and options in, shards and row reports out, no IO. The
//! `run` module reads the file, prints the reports on stderr and writes the YAML.
mod args;
mod decode;
mod dialect;
mod error;
mod headers;
mod options;
mod render;
mod rows;
mod run;
mod shard;

pub use args::ImportArgs;
pub use error::ImportError;
pub use headers::{Columns, Field, Role};
pub use options::{
    ColumnMap, DEFAULT_SHARD_SIZE, ImportOptions, LIST_LABEL, MAX_SHARD_SIZE, parse_labels,
    parse_map,
};
pub use render::{document, stream};
pub use rows::{Category, Problem, RowProblem};
pub use run::execute;
pub use shard::{MAX_SHARD_BYTES, Shard};

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

/// Imports CSV `bytes`. Fails only when the file as a whole is unusable (encoding, header);
/// bad rows are reported in [`Imported::problems`] and left out.
pub fn import(bytes: &[u8], opts: &ImportOptions) -> Result<Imported, ImportError> {
    let decoded = decode::decode(bytes, opts.encoding)?;
    let dialect = dialect::detect(&decoded.text, opts.delimiter);
    let body = &decoded.text[dialect.skip_bytes..];
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(dialect.delimiter)
        .from_reader(body.as_bytes());
    // Lines from byte offsets: the csv crate's line count is one short after a CRLF.
    let mut lines = LineCounter::new(body, dialect.skip_lines);
    let mut records = reader.records().map(move |r| match r {
        Ok(cells) => Ok(rows::Record {
            line: lines.line_at(cells.position().map_or(0, |p| p.byte())),
            cells,
        }),
        Err(e) => Err(RowProblem {
            line: lines.line_at(e.position().map_or(0, |p| p.byte())),
            problem: Problem::Unreadable(csv_reason(&e)),
        }),
    });
    let (header_line, header) = loop {
        match records.next() {
            None => return Err(ImportError::Empty),
            Some(Ok(r)) if r.cells.iter().all(|c| c.trim().is_empty()) => continue,
            Some(Ok(r)) => {
                break (
                    r.line,
                    r.cells.iter().map(str::to_string).collect::<Vec<_>>(),
                );
            }
            Some(Err(_)) => return Err(ImportError::Empty),
        }
    };
    let columns = headers::plan(&header, &opts.map)?;
    let read = rows::collect(records, &columns, &opts.default_region);
    Ok(Imported {
        encoding: decoded.encoding,
        delimiter: dialect.delimiter,
        header_line,
        columns,
        rows_read: read.read,
        shards: shard::split(read.contacts, &opts.name, opts.shard_size),
        problems: read.problems,
    })
}

/// Line numbers of byte offsets that only grow: counts each newline once.
struct LineCounter<'a> {
    text: &'a [u8],
    offset: usize,
    line: u64,
}

impl<'a> LineCounter<'a> {
    fn new(text: &'a str, lines_before: u64) -> Self {
        LineCounter {
            text: text.as_bytes(),
            offset: 0,
            line: lines_before + 1,
        }
    }

    /// The 1-based line of the record starting at byte `offset` (at or after the previous one
    /// asked). After a CRLF the csv crate puts the start on the LF: records never start with a
    /// line break, so breaks at the start belong to the lines before.
    fn line_at(&mut self, offset: u64) -> u64 {
        let mut to = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(self.text.len());
        while to < self.text.len() && matches!(self.text[to], b'\r' | b'\n') {
            to += 1;
        }
        if to > self.offset {
            let newlines = self.text[self.offset..to]
                .iter()
                .filter(|&&b| b == b'\n')
                .count();
            self.line += newlines as u64;
            self.offset = to;
        }
        self.line
    }
}

/// The csv crate's reason without the cell content it may quote.
fn csv_reason(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::Utf8 { .. } => "a cell is not valid UTF-8".into(),
        csv::ErrorKind::UnequalLengths { .. } => {
            "the row has an unexpected number of fields".into()
        }
        _ => "malformed CSV".into(),
    }
}

//! The pipeline both readers share:
//!
//! ```text
//! bytes ─▶ decode ─▶ dialect ─▶ quotes ─▶ header ─▶ rows
//! ```
//!
//! [`Sheet::open`] does everything up to the header row; [`Sheet::rows`] reads the data rows
//! once the columns are planned (import may fix some with `--map` in between).
use std::borrow::Cow;

use encoding_rs::Encoding;

use super::error::csv_reason;
use super::headers::{self, Columns};
use super::{CsvError, CsvLineError, CsvRow, LineProblem, decode, dialect, quotes, rows};

/// What the caller chose instead of detection (import's `--encoding`, `--delimiter`).
#[derive(Clone, Copy, Debug, Default)]
pub struct ReadOptions {
    /// Encoding for bytes without a byte-order mark.
    pub encoding: Option<&'static Encoding>,
    /// Field delimiter.
    pub delimiter: Option<u8>,
}

/// A file read up to its header row.
#[derive(Debug)]
pub struct Sheet {
    /// The records: the text after a `sep=` line, padding around quoted fields removed.
    body: String,
    /// Lines before `body` (a `sep=` line).
    skip_lines: u64,
    /// Byte offset in `body` where the data rows start.
    data_start: u64,
    /// The encoding the file was read in (`UTF-8`, `GB18030`, …).
    pub encoding: &'static str,
    /// The field delimiter.
    pub delimiter: u8,
    /// Line of the header row (1-based).
    pub header_line: u64,
    /// The header cells, trimmed ([`headers::clean`]).
    pub headers: Vec<String>,
}

impl Sheet {
    /// Decodes `bytes` (byte-order mark, else UTF-8, else GB18030) and reads up to the header.
    pub fn open(bytes: &[u8], opts: ReadOptions) -> Result<Sheet, CsvError> {
        let decoded = decode::decode(bytes, opts.encoding)?;
        Sheet::from_text(decoded.text, decoded.encoding, opts.delimiter)
    }

    /// Reads text that is already decoded (a ConfigMap's `data`), up to the header.
    pub fn open_text(text: &str, delimiter: Option<u8>) -> Result<Sheet, CsvError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        Sheet::from_text(text.to_string(), "UTF-8", delimiter)
    }

    fn from_text(
        text: String,
        encoding: &'static str,
        delimiter: Option<u8>,
    ) -> Result<Sheet, CsvError> {
        let dialect = dialect::detect(&text, delimiter);
        let body = &text[dialect.skip_bytes..];
        // Copied only when padding was removed or a `sep=` line skipped.
        let cleaned = match quotes::check(body, dialect.delimiter, dialect.skip_lines)? {
            Cow::Owned(s) => Some(s),
            Cow::Borrowed(_) => None,
        };
        let body = match cleaned {
            Some(s) => s,
            None if dialect.skip_bytes == 0 => text,
            None => text[dialect.skip_bytes..].to_string(),
        };
        let mut reader = reader(&body, dialect.delimiter);
        let mut lines = LineCounter::new(&body, dialect.skip_lines);
        let mut record = csv::StringRecord::new();
        let (header_line, header) = loop {
            match reader.read_record(&mut record) {
                Ok(false) | Err(_) => return Err(CsvError::Empty),
                Ok(true) if rows::is_blank(&record) => continue,
                Ok(true) => {
                    let start = record.position().map_or(0, |p| p.byte());
                    break (
                        lines.line_at(start),
                        record.iter().map(str::to_string).collect::<Vec<_>>(),
                    );
                }
            }
        };
        let data_start = reader.position().byte();
        let headers = headers::clean(&header)?;
        Ok(Sheet {
            body,
            skip_lines: dialect.skip_lines,
            data_start,
            encoding,
            delimiter: dialect.delimiter,
            header_line,
            headers,
        })
    }

    /// The data rows in file order: contacts as written, or why a row is left out. Blank rows
    /// are skipped.
    pub fn rows<'a>(
        &'a self,
        columns: &'a Columns,
    ) -> impl Iterator<Item = Result<CsvRow, CsvLineError>> + 'a {
        let start = usize::try_from(self.data_start).unwrap_or(self.body.len());
        let data = self.body.get(start..).unwrap_or_default();
        let mut lines = LineCounter::new(&self.body, self.skip_lines);
        let offset = self.data_start;
        reader(data, self.delimiter)
            .into_records()
            .filter_map(move |r| match r {
                Ok(cells) if rows::is_blank(&cells) => None,
                Ok(cells) => {
                    let line = lines.line_at(offset + cells.position().map_or(0, |p| p.byte()));
                    Some(rows::row(line, &cells, columns))
                }
                Err(e) => Some(Err(CsvLineError {
                    line: lines.line_at(offset + e.position().map_or(0, |p| p.byte())),
                    problem: LineProblem::Unreadable(csv_reason(&e)),
                })),
            })
    }
}

fn reader(text: &str, delimiter: u8) -> csv::Reader<&[u8]> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(text.as_bytes())
}

/// Line numbers of byte offsets that only grow: counts each newline once. The csv crate's own
/// line count is one short after a CRLF.
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

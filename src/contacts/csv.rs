//! The CSV text of a ContactList `source`: a header row, then one contact a row.
//!
//! RFC 4180: fields separated by commas, optionally quoted with `"`, a quote inside a quoted
//! field doubled, quoted fields may span lines; CRLF or LF; a UTF-8 byte-order mark (Excel
//! writes one) is skipped. Column names are matched case-insensitively after trimming: `phone`
//! is required, `name`, `company`, `email` and `extra` are the known fields, every other column
//! becomes a script variable under its header name as written. Empty cells are absent values.
use std::collections::BTreeMap;

use thiserror::Error;

use crate::api::Contact;

/// One data row that parsed.
#[derive(Clone, Debug, PartialEq)]
pub struct CsvRow {
    /// Line on which the record starts (1-based; the header is line 1).
    pub line: u64,
    /// The contact as written: the phone is not validated here.
    pub contact: Contact,
}

/// A data row that did not parse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CsvLineError {
    /// Line on which the record starts.
    pub line: u64,
    /// Why. Holds no cell content, so it is safe for status.
    pub reason: String,
}

/// The parsed source: good rows and per-line errors.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CsvData {
    /// Rows in file order.
    pub rows: Vec<CsvRow>,
    /// Rows that could not be read.
    pub errors: Vec<CsvLineError>,
}

/// The whole source is unusable.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CsvError {
    /// No header row.
    #[error("CSV source is empty")]
    Empty,
    /// The header has no `phone` column.
    #[error("CSV header has no `phone` column")]
    NoPhoneColumn,
    /// Two header cells name the same column.
    #[error("CSV header names column {0:?} twice")]
    DuplicateColumn(String),
    /// A quote that opens a field and is never closed, or that closes a field with text after
    /// it. Read on, such a quote swallows every row up to the next quote as one field, so the
    /// whole source is refused rather than read with its rows missing (a sync would remove them).
    #[error("CSV line {line}, column {column}: {detail}")]
    BrokenQuote {
        /// Line of the opening quote (1-based).
        line: u64,
        /// Column of the opening quote (1-based, in characters).
        column: u64,
        /// What is wrong. Holds no cell content, so it is safe for status.
        detail: String,
    },
}

#[derive(Clone, Copy)]
enum Column {
    Phone,
    Name,
    Company,
    Email,
    Extra,
    Variable(usize),
}

/// Parses CSV text into rows and per-line errors.
pub fn parse_csv(text: &str) -> Result<CsvData, CsvError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut records = Records {
        rest: text,
        line: 1,
    };
    let header = loop {
        match records.next() {
            None => return Err(CsvError::Empty),
            Some((_, Ok(fields))) if fields.iter().all(|f| f.trim().is_empty()) => continue,
            Some((_, Ok(fields))) => break fields,
            Some((_, Err(broken))) => return Err(broken),
        }
    };
    let mut seen = std::collections::BTreeSet::new();
    let mut var_names = Vec::new();
    let mut columns = Vec::with_capacity(header.len());
    for h in &header {
        let name = h.trim();
        if !name.is_empty() && !seen.insert(name.to_ascii_lowercase()) {
            return Err(CsvError::DuplicateColumn(name.to_string()));
        }
        columns.push(match name.to_ascii_lowercase().as_str() {
            "phone" => Column::Phone,
            "name" => Column::Name,
            "company" => Column::Company,
            "email" => Column::Email,
            "extra" => Column::Extra,
            _ => {
                var_names.push(name.to_string());
                Column::Variable(var_names.len() - 1)
            }
        });
    }
    if !seen.contains("phone") {
        return Err(CsvError::NoPhoneColumn);
    }
    let mut data = CsvData::default();
    for (line, rec) in records {
        let fields = rec?;
        if fields.len() == 1 && fields[0].trim().is_empty() {
            continue; // blank line
        }
        if fields.len() != columns.len() {
            data.errors.push(CsvLineError {
                line,
                reason: format!("expected {} fields, found {}", columns.len(), fields.len()),
            });
            continue;
        }
        let mut c = Contact {
            phone: String::new(),
            name: None,
            company: None,
            email: None,
            variables: BTreeMap::new(),
            extra: None,
        };
        for (col, value) in columns.iter().zip(fields) {
            let value = value.trim();
            let opt = || (!value.is_empty()).then(|| value.to_string());
            match *col {
                Column::Phone => c.phone = value.to_string(),
                Column::Name => c.name = opt(),
                Column::Company => c.company = opt(),
                Column::Email => c.email = opt(),
                Column::Extra => c.extra = opt(),
                Column::Variable(i) => {
                    if let (Some(v), Some(k)) = (opt(), var_names.get(i)) {
                        c.variables.insert(k.clone(), v);
                    }
                }
            }
        }
        data.rows.push(CsvRow { line, contact: c });
    }
    Ok(data)
}

/// Iterator over records: (starting line, fields or a broken quote).
struct Records<'a> {
    rest: &'a str,
    line: u64,
}

impl Iterator for Records<'_> {
    type Item = (u64, Result<Vec<String>, CsvError>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let start = self.line;
        let mut fields = Vec::new();
        let mut field = String::new();
        let mut chars = self.rest.char_indices().peekable();
        let mut in_quotes = false;
        // Where the quote of the current quoted field opened: (line, column).
        let mut opened = (0u64, 0u64);
        // Whether the current field was quoted and its closing quote has been read: only a
        // separator or the end of the line may follow.
        let mut closed = false;
        let mut closed_at = (0u64, 0u64);
        let mut column = 0u64;
        let mut end = self.rest.len();
        while let Some((i, c)) = chars.next() {
            column += 1;
            match (in_quotes, c) {
                (true, '"') => {
                    if chars.peek().is_some_and(|&(_, n)| n == '"') {
                        field.push('"');
                        chars.next();
                        column += 1;
                    } else {
                        in_quotes = false;
                        closed = true;
                        closed_at = (self.line, column);
                    }
                }
                (true, '\n') => {
                    self.line += 1;
                    column = 0;
                    field.push('\n');
                }
                (true, c) => field.push(c),
                (false, ',') => {
                    fields.push(std::mem::take(&mut field));
                    closed = false;
                }
                (false, '\n') => {
                    end = i + 1;
                    self.line += 1;
                    break;
                }
                (false, '\r') if chars.peek().is_some_and(|&(_, n)| n == '\n') => {}
                // Spaces after a closing quote are as harmless as spaces before an opening one.
                (false, c) if closed && c.is_whitespace() => {}
                (false, _) if closed => {
                    self.rest = "";
                    let (line, column) = opened;
                    return Some((
                        start,
                        Err(CsvError::BrokenQuote {
                            line,
                            column,
                            detail: format!(
                                "the quoted field opened here ends on line {}, column {}, and text follows it: a stray quote? (write a quote inside a quoted field as \"\")",
                                closed_at.0, closed_at.1
                            ),
                        }),
                    ));
                }
                (false, '"') if field.trim().is_empty() => {
                    field.clear();
                    in_quotes = true;
                    opened = (self.line, column);
                }
                (false, c) => field.push(c),
            }
        }
        self.rest = &self.rest[end..];
        if in_quotes {
            self.rest = "";
            let (line, column) = opened;
            return Some((
                start,
                Err(CsvError::BrokenQuote {
                    line,
                    column,
                    detail:
                        "the quoted field opened here is never closed: a stray or missing quote?"
                            .into(),
                }),
            ));
        }
        fields.push(field);
        Some((start, Ok(fields)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_known_columns_variables_and_quotes() {
        let text = "\u{feff}Phone,name,Email,plan,extra\r\n\
                    +8613012121211,\"Li, Wei\",li@example.com,gold,\r\n\
                    13012121212,\"say \"\"hi\"\"\",,,\"multi\nline\"\n\
                    \n\
                    bad,row\n";
        let d = parse_csv(text).expect("test input");
        assert_eq!(d.rows.len(), 2);
        assert_eq!(d.rows[0].line, 2);
        assert_eq!(d.rows[0].contact.name.as_deref(), Some("Li, Wei"));
        assert_eq!(
            d.rows[0].contact.variables.get("plan").map(String::as_str),
            Some("gold")
        );
        assert_eq!(d.rows[0].contact.extra, None);
        assert_eq!(d.rows[1].contact.name.as_deref(), Some("say \"hi\""));
        assert_eq!(d.rows[1].contact.extra.as_deref(), Some("multi\nline"));
        assert_eq!(d.errors.len(), 1);
        assert_eq!(d.errors[0].line, 6);
    }

    #[test]
    fn header_errors() {
        assert_eq!(parse_csv(""), Err(CsvError::Empty));
        assert_eq!(parse_csv("name\nx\n"), Err(CsvError::NoPhoneColumn));
        assert_eq!(
            parse_csv("phone,Phone\n"),
            Err(CsvError::DuplicateColumn("Phone".into()))
        );
    }

    #[test]
    fn an_unterminated_quote_refuses_the_whole_source() {
        let err =
            parse_csv("phone,name\n13900000011,ok\n13900000012,\"Liu\n").expect_err("refused");
        assert_eq!(
            err,
            CsvError::BrokenQuote {
                line: 3,
                column: 13,
                detail: "the quoted field opened here is never closed: a stray or missing quote?"
                    .into()
            }
        );
        assert!(
            err.to_string().starts_with("CSV line 3, column 13: "),
            "{err}"
        );
    }

    /// One stray quote used to swallow every row up to the next quote as one invalid line: 998
    /// rows vanished behind one error, and a sync removed their contacts.
    #[test]
    fn a_stray_quote_before_more_quotes_refuses_the_whole_source() {
        let mut text = String::from("phone,name\n13900000001,\"Wang\n");
        for i in 2..1000 {
            text.push_str(&format!("1390000{i:04},Li\n"));
        }
        text.push_str("13900001000,\"Zhang, San\"\n");
        match parse_csv(&text) {
            Err(CsvError::BrokenQuote {
                line,
                column,
                detail,
            }) => {
                assert_eq!((line, column), (2, 13));
                assert!(detail.contains("ends on line 1001, column 13"), "{detail}");
            }
            other => panic!("the source must be refused: {other:?}"),
        }
        // Quoted fields that close properly, spaces around them and doubled quotes still read.
        let good = "phone,name\n 13900000001 , \"a \"\"b\"\", c\" \r\n\"13900000002\",\"x\ny\"\n";
        let d = parse_csv(good).expect("readable");
        assert_eq!(d.rows.len(), 2, "{d:?}");
        assert_eq!(d.rows[0].contact.name.as_deref(), Some("a \"b\", c"));
        assert!(d.errors.is_empty());
    }

    #[test]
    fn a_broken_quote_in_the_header_is_named() {
        assert!(matches!(
            parse_csv("\"phone,name\n1\n"),
            Err(CsvError::BrokenQuote {
                line: 1,
                column: 1,
                ..
            })
        ));
    }
}

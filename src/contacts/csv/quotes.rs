//! Quotes, checked before the csv crate reads the text. The crate is lenient where a broken file
//! must be refused: a quote never closed makes the rest of the file one field, and text after a
//! closing quote is glued to the field. Read on, one stray quote swallows every row up to the
//! next quote, and a sync removes their contacts; so both refuse the whole file, with the line
//! and column of the opening quote.
//!
//! Spaces around a quoted field (` "Li, Wei" ,`) are what a person meant as the quoted value;
//! the crate would take the quotes literally and split at the comma inside, so they are removed
//! here. Removing spaces keeps every line break, so lines counted afterwards stay right.
use std::borrow::Cow;
use std::ops::Range;

use super::CsvError;

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    /// At the start of a field, only padding read.
    Start,
    /// In a field that did not start with a quote: quotes in it are literal.
    Unquoted,
    /// Inside a quoted field.
    Quoted,
    /// After the closing quote: only padding, a delimiter or a line end may follow.
    Closed,
}

/// Checks the quotes of `text` (records separated by `delimiter`; `lines_before` lines precede
/// it in the file) and returns it without padding around quoted fields.
pub fn check(text: &str, delimiter: u8, lines_before: u64) -> Result<Cow<'_, str>, CsvError> {
    let delimiter = char::from(delimiter);
    let padding = |c: char| c != delimiter && c != '\r' && c != '\n' && c.is_whitespace();
    let mut cut: Vec<Range<usize>> = Vec::new();
    let mut state = State::Start;
    let mut field_start = 0usize;
    let (mut line, mut column) = (lines_before + 1, 0u64);
    let mut opened = (0u64, 0u64);
    let mut closed_at = (0u64, 0u64);
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        column += 1;
        let ends_field = c == delimiter || c == '\n' || c == '\r';
        match state {
            State::Quoted => {
                if c == '"' {
                    if chars.peek().is_some_and(|&(_, n)| n == '"') {
                        chars.next();
                        column += 1;
                    } else {
                        state = State::Closed;
                        closed_at = (line, column);
                    }
                }
            }
            _ if ends_field => {
                state = State::Start;
                field_start = i + c.len_utf8();
            }
            State::Start if c == '"' => {
                if field_start < i {
                    cut.push(field_start..i);
                }
                state = State::Quoted;
                opened = (line, column);
            }
            State::Start if padding(c) => {}
            State::Start | State::Unquoted => state = State::Unquoted,
            State::Closed if padding(c) => cut.push(i..i + c.len_utf8()),
            State::Closed => {
                return Err(CsvError::BrokenQuote {
                    line: opened.0,
                    column: opened.1,
                    detail: format!(
                        "the quoted field opened here ends on line {}, column {}, and text follows it: a stray quote? (write a quote inside a quoted field as \"\")",
                        closed_at.0, closed_at.1
                    ),
                });
            }
        }
        if c == '\n' {
            line += 1;
            column = 0;
        }
    }
    if state == State::Quoted {
        return Err(CsvError::BrokenQuote {
            line: opened.0,
            column: opened.1,
            detail: "the quoted field opened here is never closed: a stray or missing quote?"
                .into(),
        });
    }
    if cut.is_empty() {
        return Ok(Cow::Borrowed(text));
    }
    let mut out = String::with_capacity(text.len());
    let mut from = 0;
    for r in cut {
        out.push_str(&text[from..r.start]);
        from = r.end;
    }
    out.push_str(&text[from..]);
    Ok(Cow::Owned(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_around_quoted_fields_goes_and_other_text_stays() {
        let text = "phone,name\n 1 , \"a \"\"b\"\", c\" \r\n\"2\",\"x\ny\"\n3,Wang \"Boss\" Li\n";
        assert_eq!(
            check(text, b',', 0).expect("fine"),
            "phone,name\n 1 ,\"a \"\"b\"\", c\"\r\n\"2\",\"x\ny\"\n3,Wang \"Boss\" Li\n"
        );
        // A tab is the delimiter of a tab-separated file, not padding.
        assert_eq!(check("a\t\"b\"\t", b'\t', 0).expect("fine"), "a\t\"b\"\t");
        assert!(matches!(check("x,y\n", b',', 0), Ok(Cow::Borrowed(_))));
    }

    #[test]
    fn broken_quotes_are_placed_by_line_and_column() {
        let err = check("phone\n1,\"Liu\n", b',', 1).expect_err("never closed");
        assert!(
            matches!(
                err,
                CsvError::BrokenQuote {
                    line: 3,
                    column: 3,
                    ..
                }
            ),
            "{err}"
        );
        let err = check("p;n\n1;\"a\nb\" c;d\n", b';', 0).expect_err("text after");
        assert_eq!(
            err.to_string(),
            "CSV line 2, column 3: the quoted field opened here ends on line 3, column 2, and text follows it: a stray quote? (write a quote inside a quoted field as \"\")"
        );
    }
}

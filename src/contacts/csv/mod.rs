//! The CSV reader of `callsync import` and of ContactList sources: one reader, so a file that
//! imports is a file a ContactList can hold, read the same way, refused with the same words.
//!
//! - Bytes ([`decode`]): a byte-order mark decides (UTF-8, UTF-16); else valid UTF-8 is UTF-8;
//!   else GB18030 (GBK as a Chinese Windows Excel writes it). Undecodable bytes refuse the file
//!   with their line. Text (a ConfigMap's `data`) is UTF-8 already; a leading BOM is skipped.
//! - Delimiter ([`dialect`]): `sep=;` on the first line, else the most frequent of `,` tab `;`
//!   `|` outside quotes on the header line (comma on a tie).
//! - Quotes (RFC 4180, read by the `csv` crate): fields may be quoted with `"`, a quote inside
//!   doubled, quoted fields may span lines; CRLF or LF. A quote never closed, or text after a
//!   closing quote, refuses the file ([`quotes`]).
//! - Header ([`headers`]): the first non-blank row. `phone` (or `手机号`, `mobile`, `tel`, …)
//!   is required; `name`, `company`, `email`, `extra` and their usual Chinese and English
//!   names are the known fields; every other column becomes a script variable under its
//!   header as written. Two headers equal without case refuse the file.
//! - Rows ([`rows`]): cells trimmed, empty cells absent; blank rows skipped; a row with another
//!   number of cells than the header, an empty phone, or a cell past the ContactList schema's
//!   `maxLength` is left out and reported with its line. The phone is kept as written: the
//!   caller parses it in its default region (Excel's `1.3012121211E+10` and `'13012121211` are
//!   read there, see [`crate::contacts::Phone::parse`]).
//!
//! Line numbers are physical lines of the file (the header is line 1 unless blank lines or a
//! `sep=` line come first). No message holds cell content.
mod decode;
mod dialect;
mod error;
pub mod headers;
mod quotes;
mod reader;
pub mod rows;

pub use error::{CsvError, LineProblem};
pub use headers::{Columns, Field, Role};
pub use reader::{ReadOptions, Sheet};

use crate::api::Contact;

/// One data row that was read.
#[derive(Clone, Debug, PartialEq)]
pub struct CsvRow {
    /// Line on which the record starts (1-based; the header is line 1).
    pub line: u64,
    /// The contact as written: the phone is not validated here.
    pub contact: Contact,
}

/// A data row that was left out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CsvLineError {
    /// Line on which the record starts.
    pub line: u64,
    /// Why. Holds no cell content, so it is safe for status.
    pub problem: LineProblem,
}

impl CsvLineError {
    /// The reason in words, for a status or a warning.
    pub fn reason(&self) -> String {
        self.problem.to_string()
    }
}

/// The parsed source: good rows and per-line errors.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CsvData {
    /// Rows in file order.
    pub rows: Vec<CsvRow>,
    /// Rows that could not be read, in file order.
    pub errors: Vec<CsvLineError>,
}

/// Parses CSV text (a ConfigMap's `data`) into rows and per-line errors.
pub fn parse_csv(text: &str) -> Result<CsvData, CsvError> {
    collect(Sheet::open_text(text, None)?)
}

/// Parses CSV bytes (a Secret's `data`, a ConfigMap's `binaryData`, a file), decoded as
/// `callsync import` decodes them.
pub fn parse_csv_bytes(bytes: &[u8]) -> Result<CsvData, CsvError> {
    collect(Sheet::open(bytes, ReadOptions::default())?)
}

fn collect(sheet: Sheet) -> Result<CsvData, CsvError> {
    let columns = headers::plan(sheet.headers.clone(), &[])?;
    let mut data = CsvData::default();
    for row in sheet.rows(&columns) {
        match row {
            Ok(r) => data.rows.push(r),
            Err(e) => data.errors.push(e),
        }
    }
    Ok(data)
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
        assert_eq!(d.errors[0].reason(), "expected 5 fields, found 2");
    }

    #[test]
    fn header_errors() {
        assert_eq!(parse_csv(""), Err(CsvError::Empty));
        assert_eq!(parse_csv("\n ,, \n"), Err(CsvError::Empty));
        assert_eq!(
            parse_csv("name\nx\n"),
            Err(CsvError::NoPhoneColumn {
                seen: "name".into()
            })
        );
        assert_eq!(
            parse_csv("phone,Phone\n"),
            Err(CsvError::DuplicateHeader {
                header: "Phone".into(),
                first: 1,
                second: 2
            })
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
        assert_eq!(d.rows[1].line, 3);
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

    /// What `callsync import` takes, a ContactList source takes: GBK bytes, semicolons, a
    /// `sep=` line, Chinese headers, a quoted cell over two lines; line numbers count the
    /// `sep=` line and the line break inside the quoted cell.
    #[test]
    fn gbk_semicolons_and_multiline_cells_as_import_reads_them() {
        let text = "sep=;\r\n手机号;姓名;备注\r\n13012121211;张三;\"两行\r\n备注\"\r\n130;李四;\r\n;王五;\r\n'13012121212;赵六;x;y\r\n";
        let (gbk, _, unmappable) = encoding_rs::GBK.encode(text);
        assert!(!unmappable && std::str::from_utf8(&gbk).is_err());
        let d = parse_csv_bytes(&gbk).expect("GBK reads");
        assert_eq!(parse_csv(text).expect("the same as text"), d);
        assert_eq!(d.rows.len(), 2, "{d:?}");
        assert_eq!(d.rows[0].line, 3);
        assert_eq!(d.rows[0].contact.name.as_deref(), Some("张三"));
        assert_eq!(
            d.rows[0].contact.variables.get("备注").map(String::as_str),
            Some("两行\r\n备注")
        );
        assert_eq!(
            (d.rows[1].line, d.rows[1].contact.phone.as_str()),
            (5, "130")
        );
        let errors: Vec<String> = d
            .errors
            .iter()
            .map(|e| format!("line {}: {}", e.line, e.reason()))
            .collect();
        assert_eq!(
            errors,
            [
                "line 6: phone is empty",
                "line 7: expected 3 fields, found 4"
            ]
        );
    }

    #[test]
    fn utf16_tab_text_and_undecodable_bytes() {
        let mut utf16 = vec![0xff, 0xfe];
        for u in "手机\t姓名\n13012121211\t甲\n".encode_utf16() {
            utf16.extend(u.to_le_bytes());
        }
        let d = parse_csv_bytes(&utf16).expect("UTF-16 with a BOM");
        assert_eq!(d.rows[0].contact.name.as_deref(), Some("甲"));
        assert_eq!(
            parse_csv_bytes(b"phone\n13012121211\n\xff\xfe\xff\n")
                .expect_err("neither UTF-8 nor GB18030")
                .to_string(),
            "CSV line 3: the bytes are not valid GB18030"
        );
    }
}

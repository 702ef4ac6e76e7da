//! One data row to a contact as written: cells trimmed, empty cells absent, the phone not yet
//! parsed (a ContactList's `defaultRegion` or import's `--default-region` reads it later). A row
//! that Kubernetes would refuse inline (cells past the schema's `maxLength`) is refused here
//! too, so a source cannot carry what `spec.contacts` may not.
use std::collections::BTreeMap;

use super::headers::{Columns, Field, Role};
use super::{CsvLineError, CsvRow, LineProblem};
use crate::api::Contact;

/// `maxLength` of name, company and email in the ContactList schema (characters).
const MAX_TEXT: usize = 256;
/// `maxLength` of extra in the ContactList schema.
const MAX_EXTRA: usize = 1024;
/// A row bigger than this would crowd a shard towards etcd's object size limit on its own.
pub const MAX_ROW_BYTES: usize = 64 * 1024;

/// Whether a record holds nothing: a blank line, or one of only delimiters.
pub fn is_blank(cells: &csv::StringRecord) -> bool {
    cells.iter().all(|c| c.trim().is_empty())
}

/// The contact of the (non-blank) row on `line`, or why it is left out.
pub fn row(
    line: u64,
    cells: &csv::StringRecord,
    columns: &Columns,
) -> Result<CsvRow, CsvLineError> {
    let refuse = |problem| Err(CsvLineError { line, problem });
    if cells.len() != columns.roles.len() {
        return refuse(LineProblem::FieldCount {
            expected: columns.roles.len(),
            found: cells.len(),
            multiline: cells.iter().any(|c| c.contains('\n')),
        });
    }
    let phone = columns
        .column_of(Field::Phone)
        .and_then(|i| cells.get(i))
        .unwrap_or("")
        .trim();
    if phone.is_empty() {
        return refuse(LineProblem::EmptyPhone);
    }
    if cells.as_slice().len() > MAX_ROW_BYTES {
        return refuse(LineProblem::TooLarge);
    }
    let mut contact = Contact {
        phone: phone.to_string(),
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
                Err(CsvLineError {
                    line,
                    problem: LineProblem::TooLong { field, max },
                })
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
    Ok(CsvRow { line, contact })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contacts::csv::headers::{clean, plan};

    fn columns(headers: &[&str]) -> Columns {
        let h: Vec<String> = headers.iter().map(|s| s.to_string()).collect();
        plan(clean(&h).expect("clean"), &[]).expect("plan")
    }

    fn reason(line: u64, cells: &[&str], columns: &Columns) -> String {
        let cells = csv::StringRecord::from(cells.to_vec());
        let e = row(line, &cells, columns).expect_err("refused");
        format!("line {}: {}", e.line, e.problem)
    }

    #[test]
    fn rows_are_trimmed_and_short_or_empty_ones_refused() {
        let c = columns(&["手机号", "姓名", "城市"]);
        let cells = csv::StringRecord::from(vec![" 130 1212 1211 ", " 张三 ", ""]);
        let r = row(2, &cells, &c).expect("row");
        assert_eq!(r.contact.phone, "130 1212 1211");
        assert_eq!(r.contact.name.as_deref(), Some("张三"));
        assert!(r.contact.variables.is_empty(), "empty cells are absent");
        assert_eq!(
            reason(4, &["", "王五", "上海"], &c),
            "line 4: phone is empty"
        );
        assert_eq!(
            reason(6, &["13012121212", "赵六"], &c),
            "line 6: expected 3 fields, found 2"
        );
        assert_eq!(
            reason(7, &["13012121212", "a\nb"], &c),
            "line 7: expected 3 fields, found 2 in a row that spans several lines: a closing quote is probably missing"
        );
    }

    #[test]
    fn cells_longer_than_the_schema_allows_are_refused() {
        let c = columns(&["phone", "name"]);
        let long = "名".repeat(257);
        let ok = "名".repeat(256);
        assert_eq!(
            reason(2, &["13012121211", &long], &c),
            "line 2: name is longer than 256 characters"
        );
        let cells = csv::StringRecord::from(vec!["13012121212", ok.as_str()]);
        assert!(row(3, &cells, &c).is_ok());
        let huge = "x".repeat(MAX_ROW_BYTES);
        let c = columns(&["phone", "note"]);
        assert_eq!(
            reason(4, &["13012121213", &huge], &c),
            "line 4: row is larger than 64 KiB"
        );
    }
}

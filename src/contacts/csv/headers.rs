//! Which column holds what. Fields are found by common Chinese and English headers (`phone`,
//! `手机号`, `Mobile Number`, …), compared after [`normalize`]; `callsync import --map` may fix
//! some columns first. Every other column becomes a script variable under its header as
//! written; a column without a header is ignored. A ContactList source and an import read the
//! same header the same way.
use std::fmt;

use super::CsvError;
use crate::contacts::mask_phone;

/// A contact field a column can fill.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    /// The phone number (required).
    Phone,
    /// The person's name.
    Name,
    /// The company.
    Company,
    /// The e-mail address.
    Email,
    /// Free-form passthrough (longlonglong `extra`, Callbot `other`).
    Extra,
}

impl Field {
    /// Every field, in output order.
    pub const ALL: [Field; 5] = [
        Field::Phone,
        Field::Name,
        Field::Company,
        Field::Email,
        Field::Extra,
    ];

    /// The field's name in `--map` and in ContactList YAML.
    pub fn name(self) -> &'static str {
        match self {
            Field::Phone => "phone",
            Field::Name => "name",
            Field::Company => "company",
            Field::Email => "email",
            Field::Extra => "extra",
        }
    }

    /// The field called `name` in `--map`.
    pub fn from_name(name: &str) -> Option<Field> {
        Field::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(name))
    }

    /// Headers recognised for this field, in [`normalize`]d form.
    fn aliases(self) -> &'static [&'static str] {
        match self {
            Field::Phone => &[
                "手机号",
                "手机",
                "手机号码",
                "电话",
                "电话号码",
                "联系电话",
                "号码",
                "移动电话",
                "联系方式",
                "客户电话",
                "mobile",
                "mobilephone",
                "mobilenumber",
                "phone",
                "phonenumber",
                "phoneno",
                "tel",
                "telephone",
                "cell",
                "cellphone",
                "msisdn",
            ],
            Field::Name => &[
                "姓名",
                "名字",
                "客户姓名",
                "客户名",
                "联系人",
                "联系人姓名",
                "name",
                "fullname",
                "contactname",
                "customername",
            ],
            Field::Company => &[
                "公司",
                "公司名称",
                "单位",
                "单位名称",
                "企业",
                "企业名称",
                "工作单位",
                "company",
                "companyname",
                "organization",
                "organisation",
            ],
            Field::Email => &[
                "邮箱",
                "电子邮件",
                "电子邮箱",
                "邮件",
                "邮箱地址",
                "email",
                "mail",
                "emailaddress",
            ],
            Field::Extra => &["extra"],
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What one column becomes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Role {
    /// A contact field.
    Field(Field),
    /// A script variable named by the header.
    Variable(String),
    /// A column without a header: its cells are dropped.
    Ignored,
}

/// The plan for every column, and what a person should know about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Columns {
    /// One role a column, in column order.
    pub roles: Vec<Role>,
    /// The headers as written (trimmed), in column order.
    pub headers: Vec<String>,
    /// Remarks for stderr (ignored columns, second candidates left as variables).
    pub notes: Vec<String>,
}

impl Columns {
    /// The column of `field`, if any.
    pub fn column_of(&self, field: Field) -> Option<usize> {
        self.roles.iter().position(|r| *r == Role::Field(field))
    }

    /// `phone ← 手机号, name ← 姓名; variables: 城市, 备注` for the report.
    pub fn describe(&self) -> String {
        let fields: Vec<String> = Field::ALL
            .into_iter()
            .filter_map(|f| {
                let i = self.column_of(f)?;
                Some(format!("{f} ← {}", self.headers[i]))
            })
            .collect();
        let vars: Vec<&str> = self
            .roles
            .iter()
            .filter_map(|r| match r {
                Role::Variable(v) => Some(v.as_str()),
                _ => None,
            })
            .collect();
        let mut out = fields.join(", ");
        if !vars.is_empty() {
            out.push_str("; variables: ");
            out.push_str(&vars.join(", "));
        }
        out
    }
}

/// The header cells trimmed (and without a byte-order mark a decoder left), refused when two
/// name one column. Compared without case: `City` and `city` would be two variables that a
/// provider may take for one.
pub fn clean(header: &[String]) -> Result<Vec<String>, CsvError> {
    let headers: Vec<String> = header
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').trim().to_string())
        .collect();
    for (i, h) in headers.iter().enumerate() {
        let dup = headers[..i]
            .iter()
            .position(|o| !h.is_empty() && o.to_lowercase() == h.to_lowercase());
        if let Some(j) = dup {
            return Err(CsvError::DuplicateHeader {
                header: shown(h),
                first: j + 1,
                second: i + 1,
            });
        }
    }
    Ok(headers)
}

/// Decides the role of every column of `headers` (as [`clean`] returns them). `fixed` are
/// columns chosen beforehand (import's `--map`), by index; they must be distinct.
pub fn plan(headers: Vec<String>, fixed: &[(Field, usize)]) -> Result<Columns, CsvError> {
    let mut roles: Vec<Option<Role>> = vec![None; headers.len()];
    let mut notes = Vec::new();
    for &(field, i) in fixed {
        if let Some(slot) = roles.get_mut(i) {
            *slot = Some(Role::Field(field));
        }
    }
    let normalized: Vec<String> = headers.iter().map(|h| normalize(h)).collect();
    for field in Field::ALL {
        if fixed.iter().any(|(f, _)| *f == field) {
            continue;
        }
        let candidates: Vec<usize> = (0..headers.len())
            .filter(|&i| roles[i].is_none() && field.aliases().contains(&normalized[i].as_str()))
            .collect();
        match (field, candidates.as_slice()) {
            (Field::Phone, []) => {
                return Err(CsvError::NoPhoneColumn {
                    seen: seen(&headers),
                });
            }
            (Field::Phone, [a, b, ..]) => {
                return Err(CsvError::AmbiguousPhone {
                    first: shown(&headers[*a]),
                    second: shown(&headers[*b]),
                });
            }
            (_, []) => {}
            (_, [first, rest @ ..]) => {
                roles[*first] = Some(Role::Field(field));
                for &other in rest {
                    notes.push(format!(
                        "column {:?} also looks like {field}; it is kept as a variable",
                        shown(&headers[other])
                    ));
                }
            }
        }
    }
    let roles = roles
        .into_iter()
        .enumerate()
        .map(|(i, role)| match role {
            Some(r) => r,
            None if headers[i].is_empty() => {
                notes.push(format!(
                    "column {} has no header; its cells are ignored",
                    i + 1
                ));
                Role::Ignored
            }
            None => Role::Variable(headers[i].clone()),
        })
        .collect();
    Ok(Columns {
        roles,
        headers,
        notes,
    })
}

/// The column a person names (import's `--map`): the header as written, else the one header
/// equal after normalisation (`Phone Number` for `phone_number`).
pub fn find_column(headers: &[String], column: &str) -> Option<usize> {
    if let Some(i) = headers.iter().position(|h| h == column.trim()) {
        return Some(i);
    }
    let want = normalize(column);
    let mut hits = headers
        .iter()
        .enumerate()
        .filter(|(_, h)| normalize(h) == want);
    match (hits.next(), hits.next()) {
        (Some((i, _)), None) => Some(i),
        _ => None,
    }
}

/// Headers as a person reads them in an error line: at most 20, each [`shown`].
pub fn seen(headers: &[String]) -> String {
    let shown: Vec<String> = headers
        .iter()
        .take(20)
        .map(|h| {
            if h.is_empty() {
                "(empty)".into()
            } else {
                shown(h)
            }
        })
        .collect();
    let more = headers.len().saturating_sub(shown.len());
    if more > 0 {
        format!("{} and {more} more", shown.join(", "))
    } else {
        shown.join(", ")
    }
}

/// A header fit for an error line or a status: a file without a header row has a phone number
/// where the header should be, so anything with 7 or more digits is masked; control characters
/// are escaped (a status is read on a terminal).
pub fn shown(header: &str) -> String {
    if header.bytes().filter(u8::is_ascii_digit).count() >= 7 {
        return mask_phone(header);
    }
    header
        .chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// Lower case without spaces, `_`, `-`, `*`, colons and bracketed remarks: `手机号（必填）*`
/// → `手机号`, `Phone Number` → `phonenumber`, `E-mail` → `email`.
fn normalize(header: &str) -> String {
    let mut out = String::with_capacity(header.len());
    let mut depth = 0usize;
    for c in header.chars() {
        match c {
            '(' | '（' | '[' | '【' => depth += 1,
            ')' | '）' | ']' | '】' => depth = depth.saturating_sub(1),
            _ if depth > 0 => {}
            c if c.is_whitespace() => {}
            '_' | '-' | '*' | ':' | '：' | '.' => {}
            c => out.extend(c.to_lowercase()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(cells: &[&str]) -> Vec<String> {
        cells.iter().map(|s| s.to_string()).collect()
    }

    fn auto(cells: &[&str]) -> Result<Columns, CsvError> {
        plan(clean(&h(cells))?, &[])
    }

    #[test]
    fn finds_chinese_and_english_headers() {
        let c = auto(&["姓名", "手机号码（必填）", "公司名称", "城市"]).expect("plan");
        assert_eq!(
            c.roles,
            vec![
                Role::Field(Field::Name),
                Role::Field(Field::Phone),
                Role::Field(Field::Company),
                Role::Variable("城市".into())
            ]
        );
        let c = auto(&["Full Name", "Phone Number", "E-mail", "plan"]).expect("plan");
        assert_eq!(c.column_of(Field::Phone), Some(1));
        assert_eq!(c.column_of(Field::Email), Some(2));
        assert_eq!(
            c.describe(),
            "phone ← Phone Number, name ← Full Name, email ← E-mail; variables: plan"
        );
    }

    #[test]
    fn fixed_columns_win_and_other_candidates_become_variables() {
        let headers = clean(&h(&["手机", "备用号码", "", "联系人", "姓名"])).expect("clean");
        let i = find_column(&headers, "备用号码").expect("found");
        let c = plan(headers, &[(Field::Phone, i)]).expect("plan");
        assert_eq!(
            c.roles,
            vec![
                Role::Variable("手机".into()),
                Role::Field(Field::Phone),
                Role::Ignored,
                Role::Field(Field::Name),
                Role::Variable("姓名".into())
            ]
        );
        assert_eq!(c.notes.len(), 2, "{:?}", c.notes);
        assert_eq!(find_column(&h(&["Phone Number"]), "phone_number"), Some(0));
        assert_eq!(find_column(&h(&["tel"]), "tel2"), None);
    }

    #[test]
    fn header_errors() {
        let err = auto(&["名称", "地址"]).expect_err("no phone");
        assert_eq!(
            err.to_string(),
            "no phone column among the headers (名称, 地址)"
        );
        assert!(matches!(
            auto(&["手机", "电话"]),
            Err(CsvError::AmbiguousPhone { .. })
        ));
        assert!(matches!(
            auto(&["phone", "x", "x"]),
            Err(CsvError::DuplicateHeader {
                first: 2,
                second: 3,
                ..
            })
        ));
        // Without case, as the ContactList reader always compared them.
        assert_eq!(
            auto(&["phone", "name", "Phone"])
                .expect_err("dup")
                .to_string(),
            "the header names \"Phone\" twice (columns 1 and 3)"
        );
    }

    /// A file without a header row: its first row is taken for the header, and a phone number
    /// there must not reach a status or a terminal.
    #[test]
    fn headers_in_errors_hold_no_phone_number_and_no_control_characters() {
        let err = auto(&["13012121211", "Wang"]).expect_err("no phone");
        let text = err.to_string();
        assert!(!text.contains("13012121211"), "{text}");
        assert!(text.contains("130****1211"), "{text}");
        let err = auto(&["\u{1b}[0m\0"]).expect_err("no phone");
        assert!(!err.to_string().contains('\u{1b}'), "{err}");
    }
}

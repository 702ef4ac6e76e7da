//! Which column holds what. `--map` names columns by their header; the other fields are found
//! by common Chinese and English headers; every other column becomes a script variable under
//! its header as written.
use std::fmt;

use super::ImportError;
use super::options::ColumnMap;

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

/// Decides the role of every column of `header`.
pub fn plan(header: &[String], map: &ColumnMap) -> Result<Columns, ImportError> {
    let headers: Vec<String> = header
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').trim().to_string())
        .collect();
    for (i, h) in headers.iter().enumerate() {
        if let Some(j) = headers[..i].iter().position(|o| !h.is_empty() && o == h) {
            return Err(ImportError::DuplicateHeader {
                header: h.clone(),
                first: j + 1,
                second: i + 1,
            });
        }
    }
    let mut roles: Vec<Option<Role>> = vec![None; headers.len()];
    let mut notes = Vec::new();
    for (field, column) in &map.0 {
        let i = find_mapped(&headers, column).ok_or_else(|| ImportError::MapColumn {
            field: *field,
            column: column.clone(),
            seen: seen(&headers),
        })?;
        if let Some(Some(Role::Field(other))) = roles.get(i) {
            return Err(ImportError::MapSameColumn {
                column: headers[i].clone(),
                first: *other,
                second: *field,
            });
        }
        roles[i] = Some(Role::Field(*field));
    }
    let normalized: Vec<String> = headers.iter().map(|h| normalize(h)).collect();
    for field in Field::ALL {
        if map.0.iter().any(|(f, _)| *f == field) {
            continue;
        }
        let candidates: Vec<usize> = (0..headers.len())
            .filter(|&i| roles[i].is_none() && field.aliases().contains(&normalized[i].as_str()))
            .collect();
        match (field, candidates.as_slice()) {
            (Field::Phone, []) => {
                return Err(ImportError::NoPhoneColumn {
                    seen: seen(&headers),
                });
            }
            (Field::Phone, [a, b, ..]) => {
                return Err(ImportError::AmbiguousPhone {
                    first: headers[*a].clone(),
                    second: headers[*b].clone(),
                });
            }
            (_, []) => {}
            (_, [first, rest @ ..]) => {
                roles[*first] = Some(Role::Field(field));
                for &other in rest {
                    notes.push(format!(
                        "column {:?} also looks like {field}; it is kept as a variable \
                         (use --map {field}=… to choose)",
                        headers[other]
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

/// The column `--map` names: the header as written, else the one header equal after
/// normalisation (`Phone Number` for `phone_number`).
fn find_mapped(headers: &[String], column: &str) -> Option<usize> {
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

/// Headers as a person reads them in an error line.
fn seen(headers: &[String]) -> String {
    let shown: Vec<String> = headers
        .iter()
        .take(20)
        .map(|h| {
            if h.is_empty() {
                "(empty)".into()
            } else {
                h.clone()
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
    use crate::cli::import::options::parse_map;

    fn h(cells: &[&str]) -> Vec<String> {
        cells.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn finds_chinese_and_english_headers() {
        let c = plan(
            &h(&["姓名", "手机号码（必填）", "公司名称", "城市"]),
            &ColumnMap::default(),
        )
        .expect("plan");
        assert_eq!(
            c.roles,
            vec![
                Role::Field(Field::Name),
                Role::Field(Field::Phone),
                Role::Field(Field::Company),
                Role::Variable("城市".into())
            ]
        );
        let c = plan(
            &h(&["Full Name", "Phone Number", "E-mail", "plan"]),
            &ColumnMap::default(),
        )
        .expect("plan");
        assert_eq!(c.column_of(Field::Phone), Some(1));
        assert_eq!(c.column_of(Field::Email), Some(2));
        assert_eq!(
            c.describe(),
            "phone ← Phone Number, name ← Full Name, email ← E-mail; variables: plan"
        );
    }

    #[test]
    fn map_wins_and_other_candidates_become_variables() {
        let map = parse_map("phone=备用号码").expect("map");
        let c = plan(&h(&["手机", "备用号码", "", "联系人", "姓名"]), &map).expect("plan");
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
    }

    #[test]
    fn header_errors() {
        let none = ColumnMap::default();
        let err = plan(&h(&["名称", "地址"]), &none).expect_err("no phone");
        assert_eq!(
            err.to_string(),
            "no phone column among the headers (名称, 地址); name it with --map phone=<header>"
        );
        assert!(matches!(
            plan(&h(&["手机", "电话"]), &none),
            Err(ImportError::AmbiguousPhone { .. })
        ));
        assert!(matches!(
            plan(&h(&["phone", "x", "x"]), &none),
            Err(ImportError::DuplicateHeader {
                first: 2,
                second: 3,
                ..
            })
        ));
        let map = parse_map("phone=tel2").expect("map");
        assert!(matches!(
            plan(&h(&["tel"]), &map),
            Err(ImportError::MapColumn { .. })
        ));
        let map = parse_map("phone=tel,name=TEL").expect("map");
        assert!(matches!(
            plan(&h(&["tel"]), &map),
            Err(ImportError::MapSameColumn { .. })
        ));
    }
}

//! The settings of one import, checked: names Kubernetes accepts, labels, region, column map.
//! Pure: strings in, typed options or a one-line reason out.
use std::collections::BTreeMap;

use super::ImportError;
use crate::contacts::csv::{Field, headers};

/// The label every shard carries, so that one CallTask selector picks all shards of an import.
pub const LIST_LABEL: &str = "callsync.io/list";
/// The CRD's `maxItems` for `spec.contacts`.
pub const MAX_SHARD_SIZE: usize = crate::api::MAX_INLINE_CONTACTS;
/// Default contacts a shard: room under `maxItems` for people who add contacts by hand later.
pub const DEFAULT_SHARD_SIZE: usize = 4000;

/// Everything the pure import needs besides the bytes.
#[derive(Clone, Debug)]
pub struct ImportOptions {
    /// Base name; shards are `NAME-001`, `NAME-002`, …
    pub name: String,
    /// `metadata.namespace` of every shard, when given.
    pub namespace: Option<String>,
    /// Labels of every shard (includes [`LIST_LABEL`]).
    pub labels: BTreeMap<String, String>,
    /// ISO 3166 region for numbers written without a country code.
    pub default_region: String,
    /// Most contacts a shard.
    pub shard_size: usize,
    /// Columns named by `--map`.
    pub map: ColumnMap,
    /// Forced input encoding; `None` detects UTF-8 (with or without BOM), UTF-16 by BOM, else GB18030.
    pub encoding: Option<&'static encoding_rs::Encoding>,
    /// Forced delimiter; `None` detects it from the header line.
    pub delimiter: Option<u8>,
}

impl ImportOptions {
    /// Options with defaults for `name`: region CN, default shard size, the list label only.
    pub fn new(name: &str) -> Result<Self, ImportError> {
        check_name(name)?;
        let mut labels = BTreeMap::new();
        labels.insert(LIST_LABEL.to_string(), name.to_string());
        Ok(ImportOptions {
            name: name.to_string(),
            namespace: None,
            labels,
            default_region: "CN".into(),
            shard_size: DEFAULT_SHARD_SIZE,
            map: ColumnMap::default(),
            encoding: None,
            delimiter: None,
        })
    }
}

/// `--map field=header,...`: which header holds which contact field.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ColumnMap(pub Vec<(Field, String)>);

impl ColumnMap {
    /// The columns of `headers` (as the reader cleaned them) that the map names, by index.
    pub fn resolve(&self, names: &[String]) -> Result<Vec<(Field, usize)>, ImportError> {
        let mut out: Vec<(Field, usize)> = Vec::with_capacity(self.0.len());
        for (field, column) in &self.0 {
            let i = headers::find_column(names, column).ok_or_else(|| ImportError::MapColumn {
                field: *field,
                column: column.clone(),
                seen: headers::seen(names),
            })?;
            if let Some((other, _)) = out.iter().find(|(_, j)| *j == i) {
                return Err(ImportError::MapSameColumn {
                    column: names[i].clone(),
                    first: *other,
                    second: *field,
                });
            }
            out.push((*field, i));
        }
        Ok(out)
    }
}

/// Parses `phone=手机号,name=姓名`.
pub fn parse_map(text: &str) -> Result<ColumnMap, ImportError> {
    let mut out: Vec<(Field, String)> = Vec::new();
    for item in text.split(',').filter(|s| !s.trim().is_empty()) {
        let (field, column) = item
            .split_once('=')
            .ok_or_else(|| ImportError::MapSyntax(item.trim().to_string()))?;
        let field = Field::from_name(field.trim())
            .ok_or_else(|| ImportError::MapField(field.trim().to_string()))?;
        let column = column.trim();
        if column.is_empty() {
            return Err(ImportError::MapSyntax(item.trim().to_string()));
        }
        if out.iter().any(|(f, _)| *f == field) {
            return Err(ImportError::MapTwice(field));
        }
        out.push((field, column.to_string()));
    }
    Ok(ColumnMap(out))
}

/// Parses `k=v,k2=v2` into labels Kubernetes accepts.
pub fn parse_labels(text: &str) -> Result<BTreeMap<String, String>, ImportError> {
    let mut out = BTreeMap::new();
    for item in text.split(',').filter(|s| !s.trim().is_empty()) {
        let bad = |why: &str| ImportError::Label(item.trim().to_string(), why.to_string());
        let (key, value) = item
            .split_once('=')
            .ok_or_else(|| bad("expected key=value"))?;
        let (key, value) = (key.trim(), value.trim());
        check_label_key(key).map_err(|why| bad(&why))?;
        check_label_value(value).map_err(|why| bad(&why))?;
        out.insert(key.to_string(), value.to_string());
    }
    Ok(out)
}

/// `NAME` must be a DNS-1123 label: it is a label value and the stem of every shard's name.
pub fn check_name(name: &str) -> Result<(), ImportError> {
    dns_label(name).map_err(|why| ImportError::Name(name.to_string(), why))
}

/// `--namespace` must be a DNS-1123 label.
pub fn check_namespace(ns: &str) -> Result<(), ImportError> {
    dns_label(ns).map_err(|why| ImportError::Namespace(ns.to_string(), why))
}

/// The region must be one libphonenumber knows, written as the CRD's pattern wants (`CN`).
pub fn check_region(region: &str) -> Result<(), ImportError> {
    let shaped = region.len() == 2 && region.bytes().all(|b| b.is_ascii_uppercase());
    if shaped && region.parse::<phonenumber::country::Id>().is_ok() {
        Ok(())
    } else {
        Err(ImportError::Region(region.to_string()))
    }
}

/// A name derived from the file name (`客户 list.csv` has none): lower case, `_`/space/`.` → `-`.
pub fn name_from_file_stem(stem: &str) -> Option<String> {
    let name: String = stem
        .trim()
        .chars()
        .map(|c| match c {
            '_' | ' ' | '.' => '-',
            c => c.to_ascii_lowercase(),
        })
        .collect();
    dns_label(&name).is_ok().then_some(name)
}

fn dns_label(s: &str) -> Result<(), String> {
    if s.is_empty() || s.len() > 63 {
        return Err("must be 1 to 63 characters".into());
    }
    if !s
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err("may hold only lower-case letters, digits and '-'".into());
    }
    if s.starts_with('-') || s.ends_with('-') {
        return Err("must start and end with a letter or digit".into());
    }
    Ok(())
}

/// `[prefix/]name`: prefix a DNS-1123 subdomain, name a qualified name.
fn check_label_key(key: &str) -> Result<(), String> {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    if let Some(prefix) = prefix {
        let ok = !prefix.is_empty()
            && prefix.len() <= 253
            && prefix.split('.').all(|part| dns_label(part).is_ok());
        if !ok {
            return Err(format!("key prefix {prefix:?} is not a DNS subdomain"));
        }
    }
    if name.is_empty() {
        return Err("key name is empty".into());
    }
    check_qualified(name).map_err(|why| format!("key {why}"))
}

fn check_label_value(value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Ok(());
    }
    check_qualified(value).map_err(|why| format!("value {why}"))
}

/// At most 63 characters, alphanumeric at both ends, `-`, `_`, `.` inside.
fn check_qualified(s: &str) -> Result<(), String> {
    if s.len() > 63 {
        return Err("is longer than 63 characters".into());
    }
    let inner_ok = s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    let ends_ok = s.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && s.bytes().last().is_some_and(|b| b.is_ascii_alphanumeric());
    if inner_ok && ends_ok {
        Ok(())
    } else {
        Err(
            "must be letters, digits, '-', '_' or '.', starting and ending with a letter or digit"
                .into(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_parses_fields_and_refuses_unknown_ones() {
        let map = parse_map("phone=手机号, name = 姓名").expect("valid map");
        assert_eq!(
            map.0,
            vec![
                (Field::Phone, "手机号".into()),
                (Field::Name, "姓名".into())
            ]
        );
        assert!(matches!(parse_map("mobile=手机"), Err(ImportError::MapField(f)) if f == "mobile"));
        assert!(matches!(parse_map("phone"), Err(ImportError::MapSyntax(_))));
        assert!(matches!(
            parse_map("phone=a,phone=b"),
            Err(ImportError::MapTwice(Field::Phone))
        ));
    }

    #[test]
    fn map_resolves_to_columns() {
        let headers: Vec<String> = ["tel", "Full Name"].map(String::from).to_vec();
        let map = parse_map("phone=tel,name=full_name").expect("map");
        assert_eq!(
            map.resolve(&headers).expect("resolved"),
            vec![(Field::Phone, 0), (Field::Name, 1)]
        );
        let map = parse_map("phone=tel2").expect("map");
        assert!(matches!(
            map.resolve(&headers),
            Err(ImportError::MapColumn { .. })
        ));
        let map = parse_map("phone=tel,name=TEL").expect("map");
        assert!(matches!(
            map.resolve(&headers),
            Err(ImportError::MapSameColumn { .. })
        ));
    }

    #[test]
    fn labels_follow_kubernetes_rules() {
        let l = parse_labels("team=sales,callsync.io/campaign=q3-renewal,empty=").expect("valid");
        assert_eq!(
            l.get("callsync.io/campaign").map(String::as_str),
            Some("q3-renewal")
        );
        assert_eq!(l.get("empty").map(String::as_str), Some(""));
        for bad in [
            "team",
            "Team Name=x",
            "a=b c",
            "-a=b",
            "UPPER.io/x=y",
            "k=-v",
        ] {
            assert!(parse_labels(bad).is_err(), "{bad} accepted");
        }
        assert!(parse_labels(&format!("k={}", "v".repeat(64))).is_err());
    }

    #[test]
    fn names_and_regions() {
        assert!(check_name("customers-q3").is_ok());
        for bad in ["", "Customers", "a_b", "-a", "a-", &"a".repeat(64)] {
            assert!(check_name(bad).is_err(), "{bad:?} accepted");
        }
        assert!(check_region("CN").is_ok() && check_region("ID").is_ok());
        assert!(check_region("cn").is_err() && check_region("XX").is_err());
        assert_eq!(
            name_from_file_stem("Q3_customers").as_deref(),
            Some("q3-customers")
        );
        assert_eq!(name_from_file_stem("客户名单"), None);
    }
}

//! Shards to YAML that `kubectl apply --server-side` takes and a person can read.
//!
//! The emitter is ours, not serde_yaml's, for two reasons. Field order is fixed (apiVersion,
//! kind, metadata, spec; a contact's fields as in the schema), so a re-import of the same file
//! gives the same bytes. And every value from the file is double-quoted: kubectl reads YAML
//! 1.1, where a plain `yes`, `on`, `0123`, `1:20` or `2024-01-01` is a bool, a number or a
//! date, while a YAML 1.2 writer leaves them plain; the schema then refuses the object.
use std::fmt::Write;

use crate::api::{Contact, GROUP, VERSION};

use super::options::ImportOptions;
use super::shard::Shard;

/// The YAML document of shard `index` (0-based) of `total`.
pub fn document(shard: &Shard, index: usize, total: usize, opts: &ImportOptions) -> String {
    let mut out = String::with_capacity(64 + shard.contacts.len() * 96);
    // `writeln!` into a String cannot fail; the results are ignored on purpose.
    let _ = writeln!(
        out,
        "# ContactList {} of {total} written by `callsync import`: {} contacts",
        index + 1,
        shard.contacts.len()
    );
    let _ = writeln!(out, "apiVersion: {GROUP}/{VERSION}");
    out.push_str("kind: ContactList\nmetadata:\n");
    let _ = writeln!(out, "  name: {}", quote(&shard.name));
    if let Some(ns) = &opts.namespace {
        let _ = writeln!(out, "  namespace: {}", quote(ns));
    }
    if !opts.labels.is_empty() {
        out.push_str("  labels:\n");
        for (k, v) in &opts.labels {
            let _ = writeln!(out, "    {}: {}", quote(k), quote(v));
        }
    }
    out.push_str("spec:\n");
    let _ = writeln!(out, "  defaultRegion: {}", quote(&opts.default_region));
    if shard.contacts.is_empty() {
        out.push_str("  contacts: []\n");
    } else {
        out.push_str("  contacts:\n");
        for c in &shard.contacts {
            contact(&mut out, c);
        }
    }
    out
}

/// All documents of a multi-document stream.
pub fn stream(shards: &[Shard], opts: &ImportOptions) -> String {
    let mut out = String::new();
    for (i, shard) in shards.iter().enumerate() {
        out.push_str("---\n");
        out.push_str(&document(shard, i, shards.len(), opts));
    }
    out
}

fn contact(out: &mut String, c: &Contact) {
    let _ = writeln!(out, "    - phone: {}", quote(&c.phone));
    let optional = [
        ("name", &c.name),
        ("company", &c.company),
        ("email", &c.email),
    ];
    for (key, value) in optional {
        if let Some(v) = value {
            let _ = writeln!(out, "      {key}: {}", quote(v));
        }
    }
    if !c.variables.is_empty() {
        out.push_str("      variables:\n");
        for (k, v) in &c.variables {
            let _ = writeln!(out, "        {}: {}", quote(k), quote(v));
        }
    }
    if let Some(v) = &c.extra {
        let _ = writeln!(out, "      extra: {}", quote(v));
    }
}

/// A YAML double-quoted scalar: `"` and `\` escaped, and every character YAML does not allow
/// raw or reads as a line break (controls, NEL, U+2028/2029, BOM, U+FFFE/FFFF) as `\uXXXX`.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if needs_escape(c) => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Outside YAML's printable set, or a line break in YAML 1.1.
fn needs_escape(c: char) -> bool {
    let u = u32::from(c);
    u < 0x20
        || (0x7f..0xa0).contains(&u)
        || u == 0x2028
        || u == 0x2029
        || u == 0xfeff
        || u == 0xfffe
        || u == 0xffff
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ContactList;

    #[test]
    fn quotes_what_yaml_1_1_would_misread() {
        for s in [
            "yes",
            "on",
            "0123",
            "1:20",
            "2024-01-01",
            "~",
            "null",
            "- x",
            "#a",
            "a: b",
        ] {
            let q = quote(s);
            let back: String = serde_yaml::from_str(&q).expect("valid YAML scalar");
            assert_eq!(back, s);
            assert!(q.starts_with('"'));
        }
        let tricky = "line\nbreak\t\"q\" \\ \u{2028}\u{85}\u{7}\u{feff}张三 🙂";
        let back: String = serde_yaml::from_str(&quote(tricky)).expect("valid YAML");
        assert_eq!(back, tricky);
    }

    #[test]
    fn documents_parse_as_contact_lists() {
        let mut opts = ImportOptions::new("q3").expect("name");
        opts.namespace = Some("sales".into());
        let shard = Shard {
            name: "q3-001".into(),
            contacts: vec![Contact {
                phone: "+8613012121211".into(),
                name: Some("张三".into()),
                company: Some("yes".into()),
                email: None,
                variables: [("城市".to_string(), "0755".to_string())].into(),
                extra: Some("on".into()),
            }],
        };
        let text = stream(std::slice::from_ref(&shard), &opts);
        let list: ContactList = serde_yaml::from_str(&text).expect("parses");
        assert_eq!(list.metadata.name.as_deref(), Some("q3-001"));
        assert_eq!(list.metadata.namespace.as_deref(), Some("sales"));
        assert_eq!(list.spec.contacts, shard.contacts);
        assert_eq!(list.spec.default_region.as_deref(), Some("CN"));
        let labels = list.metadata.labels.expect("labels");
        assert_eq!(
            labels.get("callsync.io/list").map(String::as_str),
            Some("q3")
        );
    }
}

//! Contacts to shards. A shard closes at `--shard-size` contacts, or earlier when its contacts
//! would pass [`MAX_SHARD_BYTES`]: etcd refuses objects over 1.5 MiB, and long variables can
//! get there before 5,000 contacts do. Names are `NAME-001`, `NAME-002`, … with one width for
//! all, so they sort in order and a re-import of the same file gives the same names.
use crate::api::Contact;

/// Most bytes of contact data (estimated as JSON) a shard holds.
pub const MAX_SHARD_BYTES: usize = 1024 * 1024;

/// One ContactList to write.
#[derive(Clone, Debug, PartialEq)]
pub struct Shard {
    /// `metadata.name`.
    pub name: String,
    /// Its contacts, in file order.
    pub contacts: Vec<Contact>,
}

/// Splits `contacts` into shards of at most `size` contacts named after `base`.
pub fn split(contacts: Vec<Contact>, base: &str, size: usize) -> Vec<Shard> {
    let size = size.max(1);
    let mut groups: Vec<Vec<Contact>> = Vec::new();
    let mut current: Vec<Contact> = Vec::with_capacity(size.min(contacts.len()));
    let mut bytes = 0;
    for contact in contacts {
        let b = json_bytes(&contact);
        if !current.is_empty() && (current.len() == size || bytes + b > MAX_SHARD_BYTES) {
            groups.push(std::mem::take(&mut current));
            bytes = 0;
        }
        bytes += b;
        current.push(contact);
    }
    if !current.is_empty() {
        groups.push(current);
    }
    let width = groups.len().to_string().len().max(3);
    groups
        .into_iter()
        .enumerate()
        .map(|(i, contacts)| Shard {
            name: format!("{base}-{:0width$}", i + 1),
            contacts,
        })
        .collect()
}

/// About the size of the contact in the stored JSON: values, keys and punctuation.
fn json_bytes(c: &Contact) -> usize {
    let field = |v: &Option<String>, key: usize| v.as_ref().map_or(0, |s| s.len() + key + 6);
    let vars: usize = c.variables.iter().map(|(k, v)| k.len() + v.len() + 6).sum();
    12 + c.phone.len()
        + field(&c.name, 4)
        + field(&c.company, 7)
        + field(&c.email, 5)
        + field(&c.extra, 5)
        + vars
        + 16
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contact(i: usize, note_len: usize) -> Contact {
        Contact {
            phone: format!("+86130{i:08}"),
            name: None,
            company: None,
            email: None,
            variables: [("note".to_string(), "x".repeat(note_len))].into(),
            extra: None,
        }
    }

    #[test]
    fn splits_by_count_and_names_in_order() {
        let shards = split((0..9000).map(|i| contact(i, 1)).collect(), "q3", 4000);
        let sizes: Vec<(String, usize)> = shards
            .iter()
            .map(|s| (s.name.clone(), s.contacts.len()))
            .collect();
        assert_eq!(
            sizes,
            vec![
                ("q3-001".into(), 4000),
                ("q3-002".into(), 4000),
                ("q3-003".into(), 1000)
            ]
        );
        assert_eq!(shards[1].contacts[0].phone, contact(4000, 1).phone);
        assert!(split(Vec::new(), "q3", 4000).is_empty());
    }

    #[test]
    fn splits_by_bytes_and_widens_names() {
        // 1,000 contacts of ~10 KiB: about 100 a shard, far under the count limit.
        let shards = split((0..1000).map(|i| contact(i, 10_000)).collect(), "big", 4000);
        assert!(shards.len() >= 10, "{}", shards.len());
        for s in &shards {
            let bytes: usize = s.contacts.iter().map(json_bytes).sum();
            assert!(bytes <= MAX_SHARD_BYTES, "{} holds {bytes} bytes", s.name);
        }
        let many = split((0..1001).map(|i| contact(i, 1)).collect(), "n", 1);
        assert_eq!(many[0].name, "n-0001");
        assert_eq!(many[1000].name, "n-1001");
    }
}

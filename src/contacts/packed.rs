//! Contact content packed into one byte buffer per parsed list.
//!
//! A [`NormalizedContact`] kept as Rust values costs about 170 bytes (four `Option<String>`s, a
//! `BTreeMap`, one heap block per present field); at a million contacts that is most of a
//! controller's memory, yet the content is read only when an add batch is built. Packed, a
//! contact costs its text plus a few bytes: each present field is a tag byte, a LEB128 length
//! and the UTF-8 text; the phone and the digest stay in the keys.
use std::collections::BTreeMap;

use super::{ContentDigest, NormalizedContact, Phone};

const NAME: u8 = b'n';
const COMPANY: u8 = b'c';
const EMAIL: u8 = b'e';
const EXTRA: u8 = b'x';
const VARIABLE: u8 = b'v';

/// The contents of many contacts, one after the other.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PackedContents {
    bytes: Vec<u8>,
    /// Where each contact's content ends in `bytes` (it starts where the previous one ends).
    ends: Vec<usize>,
}

impl PackedContents {
    pub fn with_capacity(contacts: usize) -> Self {
        PackedContents {
            bytes: Vec::new(),
            ends: Vec::with_capacity(contacts),
        }
    }

    /// Appends the content of `contact` (not its phone or digest).
    pub fn push(&mut self, contact: &NormalizedContact) {
        let fields = [
            (NAME, &contact.name),
            (COMPANY, &contact.company),
            (EMAIL, &contact.email),
            (EXTRA, &contact.extra),
        ];
        for (tag, value) in fields {
            if let Some(value) = value {
                self.put(tag, value);
            }
        }
        for (key, value) in &contact.variables {
            self.put(VARIABLE, key);
            self.put_str(value);
        }
        self.ends.push(self.bytes.len());
    }

    /// Frees the spare capacity once every contact is in.
    pub fn shrink_to_fit(&mut self) {
        self.bytes.shrink_to_fit();
        self.ends.shrink_to_fit();
    }

    fn put(&mut self, tag: u8, text: &str) {
        self.bytes.push(tag);
        self.put_str(text);
    }

    fn put_str(&mut self, text: &str) {
        let mut len = text.len();
        loop {
            let low = (len & 0x7f) as u8;
            len >>= 7;
            if len == 0 {
                self.bytes.push(low);
                break;
            }
            self.bytes.push(low | 0x80);
        }
        self.bytes.extend_from_slice(text.as_bytes());
    }

    /// The contact at `index`, given its phone and digest (which the keys hold).
    pub fn get(
        &self,
        index: usize,
        phone: Phone,
        digest: ContentDigest,
    ) -> Option<NormalizedContact> {
        let end = *self.ends.get(index)?;
        let start = match index {
            0 => 0,
            i => self.ends[i - 1],
        };
        let mut contact = NormalizedContact {
            phone,
            name: None,
            company: None,
            email: None,
            variables: BTreeMap::new(),
            extra: None,
            digest,
        };
        let mut reader = Reader {
            bytes: self.bytes.get(start..end)?,
        };
        while let Some(tag) = reader.byte() {
            let text = reader.text()?;
            match tag {
                NAME => contact.name = Some(text),
                COMPANY => contact.company = Some(text),
                EMAIL => contact.email = Some(text),
                EXTRA => contact.extra = Some(text),
                VARIABLE => {
                    let value = reader.text()?;
                    contact.variables.insert(text, value);
                }
                _ => return None,
            }
        }
        Some(contact)
    }

    /// Heap bytes held (for the memory figures).
    pub fn heap_bytes(&self) -> usize {
        self.bytes.capacity() + self.ends.capacity() * size_of::<usize>()
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
}

impl Reader<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (&first, rest) = self.bytes.split_first()?;
        self.bytes = rest;
        Some(first)
    }

    fn text(&mut self) -> Option<String> {
        let mut len = 0usize;
        let mut shift = 0;
        loop {
            let b = self.byte()?;
            len |= usize::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                break;
            }
            shift += 7;
            if shift >= usize::BITS {
                return None;
            }
        }
        let (text, rest) = self.bytes.split_at_checked(len)?;
        self.bytes = rest;
        String::from_utf8(text.to_vec()).ok()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::api::Contact;

    fn contact(
        name: Option<String>,
        company: Option<String>,
        email: Option<String>,
        extra: Option<String>,
        variables: BTreeMap<String, String>,
    ) -> NormalizedContact {
        let phone = Phone::parse("+8613012121211", None).expect("valid");
        NormalizedContact::new(
            phone,
            &Contact {
                phone: "+8613012121211".into(),
                name,
                company,
                email,
                variables,
                extra,
            },
        )
    }

    /// Every content round-trips exactly, whatever its length (several LEB128 bytes) or text.
    #[test]
    fn packed_contents_read_back_as_they_went_in() {
        let long = "客".repeat(300);
        let many = [
            contact(None, None, None, None, BTreeMap::new()),
            contact(Some("张伟".into()), None, None, None, BTreeMap::new()),
            contact(
                Some(long.clone()),
                Some("华夏银行".into()),
                Some("a@b.c".into()),
                Some(long),
                [
                    ("k".to_string(), String::new()),
                    ("订单".into(), "42".into()),
                ]
                .into(),
            ),
        ];
        let mut packed = PackedContents::with_capacity(many.len());
        for c in &many {
            packed.push(c);
        }
        for (i, c) in many.iter().enumerate() {
            assert_eq!(packed.get(i, c.phone, c.digest).as_ref(), Some(c));
        }
        assert_eq!(packed.get(3, many[0].phone, many[0].digest), None);
    }

    proptest! {
        #[test]
        fn any_content_round_trips(
            name in proptest::option::of(".{0,40}"),
            company in proptest::option::of(".{0,200}"),
            email in proptest::option::of(".{0,20}"),
            extra in proptest::option::of(".{0,300}"),
            variables in proptest::collection::btree_map(".{0,10}", ".{0,150}", 0..4),
        ) {
            let c = contact(name, company, email, extra, variables);
            let mut packed = PackedContents::default();
            packed.push(&c);
            packed.push(&c);
            prop_assert_eq!(packed.get(1, c.phone, c.digest), Some(c));
        }
    }
}

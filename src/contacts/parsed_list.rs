//! One ContactList parsed for the desired set: the per-list half of building it.
//!
//! Everything the merge needs from a list depends on that list alone — its valid entries
//! sorted by phone and deduplicated (first entry wins), its stats and digest, and the content
//! digests of its repeats (for the conflict rule) — so a list is parsed once per version and
//! the desired set is a merge of parsed lists ([`super::DesiredSet::merge`]). Immutable once
//! built: the controller shares one between reconciles and CallTasks.
use sha2::{Digest, Sha256};

use super::desired::{DesiredKey, ListContacts, ListInput, ListStats, feed, record_invalid};
use super::packed::PackedContents;
use super::{NormalizedContact, Phone, mask_phone};
use crate::api::Contact;

/// One list's contribution to the desired set. Serde is for the CLI's parse cache
/// (`cli::files::cache`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ParsedList {
    /// The list's figures for its status (name, count, invalid, duplicates, digest).
    pub stats: ListStats,
    /// The first entry of each phone, sorted by phone.
    keys: Vec<DesiredKey>,
    /// The contents of `keys`, same order, packed: read only when an add batch is built.
    contents: PackedContents,
    /// Later entries of a phone already in `keys`: sorted by phone, then by position in the
    /// list. Only their digests matter (a repeat with other content is a conflict).
    repeats: Vec<DesiredKey>,
}

impl ParsedList {
    /// Parses, normalises, sorts and deduplicates one list. Pure.
    pub fn build(input: &ListInput<'_>) -> ParsedList {
        Self::build_with(input, Phone::parse)
    }

    /// [`ParsedList::build`], also handing `invalid` every entry whose phone is not valid (its
    /// index — position, or CSV line — its phone as written, and why), where the stats keep a
    /// sample: what `callsync validate` warns about, from the same single parse.
    pub fn build_reporting(
        input: &ListInput<'_>,
        invalid: impl FnMut(u64, &str, &super::PhoneError),
    ) -> ParsedList {
        Self::build_inner(input, Phone::parse, invalid)
    }

    /// [`ParsedList::build`] with another phone parser (the benchmarks' old path).
    #[doc(hidden)]
    pub fn build_with(
        input: &ListInput<'_>,
        parse: impl Fn(&str, Option<&str>) -> Result<Phone, super::PhoneError>,
    ) -> ParsedList {
        Self::build_inner(input, parse, |_, _, _| {})
    }

    fn build_inner(
        input: &ListInput<'_>,
        parse: impl Fn(&str, Option<&str>) -> Result<Phone, super::PhoneError>,
        mut invalid: impl FnMut(u64, &str, &super::PhoneError),
    ) -> ParsedList {
        let mut stats = ListStats {
            name: input.name.to_string(),
            count: 0,
            invalid: 0,
            invalid_sample: Vec::new(),
            duplicates: 0,
            digest: String::new(),
        };
        let len = match input.contacts {
            ListContacts::Inline(cs) => cs.len(),
            ListContacts::Csv(d) => d.rows.len(),
        };
        // (phone, position among the valid entries): sorting by both puts each phone's first
        // entry first, as the whole-set builder's (phone, push order) did.
        let mut order: Vec<(u64, u32)> = Vec::with_capacity(len);
        let mut valid: Vec<Option<NormalizedContact>> = Vec::with_capacity(len);
        let mut push = |index: u64, c: &Contact| match parse(&c.phone, input.default_region) {
            Ok(phone) => {
                order.push((
                    phone.as_u64(),
                    u32::try_from(valid.len()).unwrap_or(u32::MAX),
                ));
                valid.push(Some(NormalizedContact::new(phone, c)));
            }
            Err(e) => {
                invalid(index, &c.phone, &e);
                record_invalid(&mut stats, index, mask_phone(&c.phone), e.to_string());
            }
        };
        match input.contacts {
            ListContacts::Inline(cs) => {
                for (i, c) in cs.iter().enumerate() {
                    push(i as u64, c);
                }
            }
            ListContacts::Csv(data) => {
                for row in &data.rows {
                    push(row.line, &row.contact);
                }
                for err in &data.errors {
                    record_invalid(&mut stats, err.line, String::new(), err.reason());
                }
            }
        }
        stats.invalid_sample.sort_by_key(|e| e.index);
        order.sort_unstable();

        let mut keys = Vec::with_capacity(order.len());
        let mut contents = PackedContents::with_capacity(order.len());
        let mut repeats = Vec::new();
        let mut hash = Sha256::new();
        let mut last = None;
        for &(phone, at) in &order {
            let Some(contact) = valid.get_mut(at as usize).and_then(Option::take) else {
                continue;
            };
            let key = DesiredKey {
                phone: contact.phone,
                digest: contact.digest,
            };
            if last == Some(phone) {
                stats.duplicates += 1;
                repeats.push(key);
            } else {
                last = Some(phone);
                stats.count += 1;
                feed(&mut hash, key.phone, key.digest);
                keys.push(key);
                contents.push(&contact);
            }
        }
        stats.digest = hex::encode(&hash.finalize()[..16]);
        contents.shrink_to_fit();
        keys.shrink_to_fit();
        repeats.shrink_to_fit();
        ParsedList {
            stats,
            keys,
            contents,
            repeats,
        }
    }

    /// The list's name (decides conflicts).
    pub fn name(&self) -> &str {
        &self.stats.name
    }

    /// Its distinct phones with the content of their first entry, sorted by phone.
    pub fn keys(&self) -> &[DesiredKey] {
        &self.keys
    }

    /// The contact at `index` of [`ParsedList::keys`], unpacked.
    pub fn contact(&self, index: usize) -> Option<NormalizedContact> {
        let key = self.keys.get(index)?;
        self.contents.get(index, key.phone, key.digest)
    }

    /// Heap bytes held by the keys and contents (for the memory figures).
    pub fn heap_bytes(&self) -> usize {
        (self.keys.capacity() + self.repeats.capacity()) * size_of::<DesiredKey>()
            + self.contents.heap_bytes()
    }

    /// Later entries of phones in [`ParsedList::keys`], sorted by phone then position.
    pub fn repeats(&self) -> &[DesiredKey] {
        &self.repeats
    }
}

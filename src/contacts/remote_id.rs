//! A provider's id for a listed contact, held compactly.
//!
//! A listing of a million contacts holds a million ids while the ledger is settled and the plan
//! is made. Most are ids callsync chose itself (Callbot `orderID`s are UUIDv5, written in the
//! canonical lowercase hyphenated form): those are kept as their 16 bytes instead of a 36-byte
//! string on the heap. Any other id (a console add's, a provider's own scheme) is kept as the
//! text it was listed with. Either way the id reads back, compares and orders exactly as its text
//! does, so nothing that uses it can tell the two apart.
use std::cmp::Ordering;
use std::fmt;

use uuid::Uuid;

/// Length of a hyphenated UUID's text.
const UUID_TEXT_LEN: usize = 36;

/// A listed contact's id at the provider (Callbot `orderID`).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct RemoteId(Repr);

// Equality can stay structural: `Uuid` holds exactly the canonical UUID texts and `Text` never
// does (see `new`), so two ids are equal as values exactly when their texts are.
#[derive(Clone, PartialEq, Eq, Hash)]
enum Repr {
    /// Text that is a UUID in canonical lowercase hyphenated form.
    Uuid(Uuid),
    /// Any other text.
    Text(Box<str>),
}

impl RemoteId {
    /// The id listed as `text`.
    pub fn new(text: &str) -> Self {
        match canonical_uuid(text) {
            Some(uuid) => Self(Repr::Uuid(uuid)),
            None => Self(Repr::Text(text.into())),
        }
    }

    /// The UUID, when the id was listed as one in canonical form.
    pub fn as_uuid(&self) -> Option<Uuid> {
        match &self.0 {
            Repr::Uuid(uuid) => Some(*uuid),
            Repr::Text(_) => None,
        }
    }

    /// Calls `f` with the id's text (formatted on the stack for a UUID).
    pub fn with_str<R>(&self, f: impl FnOnce(&str) -> R) -> R {
        match &self.0 {
            Repr::Uuid(uuid) => f(uuid.hyphenated().encode_lower(&mut [0; UUID_TEXT_LEN])),
            Repr::Text(text) => f(text),
        }
    }
}

/// `text` as a UUID when it is one written exactly as `Uuid`'s lowercase hyphenated form writes
/// it (so that it reads back unchanged).
fn canonical_uuid(text: &str) -> Option<Uuid> {
    if text.len() != UUID_TEXT_LEN {
        return None;
    }
    let uuid = Uuid::try_parse(text).ok()?;
    let written = *uuid.hyphenated().encode_lower(&mut [0; UUID_TEXT_LEN]) == *text;
    written.then_some(uuid)
}

impl Ord for RemoteId {
    fn cmp(&self, other: &Self) -> Ordering {
        match (&self.0, &other.0) {
            // Lowercase hex digits order as the nibbles they stand for, and the hyphens sit at
            // the same places: the bytes order as the texts do.
            (Repr::Uuid(a), Repr::Uuid(b)) => a.cmp(b),
            (Repr::Text(a), Repr::Text(b)) => a.cmp(b),
            _ => self.with_str(|a| other.with_str(|b| a.cmp(b))),
        }
    }
}

impl PartialOrd for RemoteId {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for RemoteId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.with_str(|text| f.write_str(text))
    }
}

impl fmt::Debug for RemoteId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.with_str(|text| fmt::Debug::fmt(text, f))
    }
}

impl From<&str> for RemoteId {
    fn from(text: &str) -> Self {
        Self::new(text)
    }
}

impl From<String> for RemoteId {
    fn from(text: String) -> Self {
        match canonical_uuid(&text) {
            Some(uuid) => Self(Repr::Uuid(uuid)),
            None => Self(Repr::Text(text.into_boxed_str())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0f8e2a3c-5b7d-5e1f-9a2b-3c4d5e6f7a8b";

    #[test]
    fn a_canonical_uuid_is_held_as_one_and_reads_back_unchanged() {
        let id = RemoteId::new(ID);
        assert_eq!(id.as_uuid(), Some(Uuid::parse_str(ID).expect("a UUID")));
        assert_eq!(id.to_string(), ID);
        assert_eq!(format!("{id:?}"), format!("{ID:?}"));
    }

    #[test]
    fn other_uuid_writings_and_other_ids_stay_text() {
        for text in [
            &ID.to_uppercase(),
            &ID.replace('-', ""),
            &format!("{{{ID}}}"),
            &format!("urn:uuid:{ID}"),
            "console-7",
            "",
            "13012121211_x7k2",
        ] {
            let id = RemoteId::from(text.to_string());
            assert_eq!(id.as_uuid(), None, "{text}");
            assert_eq!(id.to_string(), *text);
            assert_ne!(id, RemoteId::new(ID), "{text}");
        }
    }

    #[test]
    fn ids_compare_and_order_as_their_texts() {
        let texts = [
            ID,
            "0f8e2a3c-5b7d-5e1f-9a2b-3c4d5e6f7a8c",
            "ff8e2a3c-5b7d-5e1f-9a2b-3c4d5e6f7a8b",
            "0F8E2A3C-5B7D-5E1F-9A2B-3C4D5E6F7A8B",
            "0f8e2a3c",
            "0f8e2a3c-5b7d-5e1f-9a2b-3c4d5e6f7a8b-x",
            "9",
            "a",
            "console-7",
            "",
        ];
        for a in texts {
            for b in texts {
                let (x, y) = (RemoteId::new(a), RemoteId::new(b));
                assert_eq!(x.cmp(&y), a.cmp(b), "{a} vs {b}");
                assert_eq!(x == y, a == b, "{a} vs {b}");
            }
        }
    }

    #[test]
    fn a_uuid_id_takes_no_more_room_than_a_string_handle() {
        assert!(size_of::<Option<RemoteId>>() <= size_of::<String>());
    }
}

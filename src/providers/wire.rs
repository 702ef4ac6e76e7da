//! Small helpers shared by the three clients: JSON bodies, loose JSON reading, path segments,
//! reading provider messages.
use std::collections::HashMap;

use serde::Serialize;
use serde_json::Value;

use super::{ProviderError, RejectReason, sanitize};

/// Serialises a request body once; these exact bytes are signed and sent.
pub(crate) fn to_json<T: Serialize>(value: &T) -> Result<Vec<u8>, ProviderError> {
    serde_json::to_vec(value)
        .map_err(|e| ProviderError::Config(format!("cannot serialise a request body: {e}")))
}

/// A JSON string or number as a string (providers are loose about ids and phones).
pub(crate) fn value_string(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Percent-encodes one path segment.
pub(crate) fn seg(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Assigns reports keyed by a value that may repeat in a batch (a phone given twice) to item
/// indices: each report takes the latest not yet taken item with that key.
pub(crate) struct KeyIndex<'a> {
    by_key: HashMap<&'a str, Vec<usize>>,
}

impl<'a> KeyIndex<'a> {
    pub(crate) fn new(keys: impl Iterator<Item = &'a str>) -> Self {
        let mut by_key: HashMap<&'a str, Vec<usize>> = HashMap::new();
        for (index, key) in keys.enumerate() {
            by_key.entry(key).or_default().push(index);
        }
        Self { by_key }
    }

    /// The index of the next item with `key`, and whether it was the last one with it.
    pub(crate) fn take(&mut self, key: &str) -> Option<(usize, bool)> {
        let indices = self.by_key.get_mut(key)?;
        let index = indices.pop()?;
        Some((index, indices.is_empty()))
    }
}

/// What a per-item provider message says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ItemMessage {
    /// The caller-chosen id is already used at the provider.
    IdInUse,
    /// The item does not exist (on delete).
    NotFound,
    /// Not deletable in its state.
    NotDeletable,
    /// Refused for a reason.
    Rejected(RejectReason),
}

/// Reads a per-item provider message (Chinese or English). Providers document no per-item
/// codes, so this is the only way to tell the kinds apart; unknown messages are `Other`, with
/// phones masked.
pub(crate) fn classify_item_message(message: &str) -> ItemMessage {
    let lower = message.to_lowercase();
    let mentions_id = lower.contains("orderid")
        || lower.contains("contactid")
        || lower.contains(" id ")
        || lower.starts_with("id ")
        || lower.contains("ids");
    if (lower.contains("already used")
        || lower.contains("already exist")
        || message.contains("已存在")
        || message.contains("重复"))
        && mentions_id
    {
        ItemMessage::IdInUse
    } else if message.contains("不存在")
        || lower.contains("not exist")
        || lower.contains("not found")
        || lower.contains("does not exist")
    {
        ItemMessage::NotFound
    } else if lower.contains("pending")
        || lower.contains("not started")
        || lower.contains("not deletable")
        || lower.contains("cannot be deleted")
        || lower.contains("already dialled")
        || lower.contains("already called")
        || message.contains("待开始")
        || message.contains("已拨打")
        || message.contains("不可删除")
    {
        ItemMessage::NotDeletable
    } else if message.contains("重复") || lower.contains("duplicate") || lower.contains("repeated")
    {
        ItemMessage::Rejected(RejectReason::Duplicate)
    } else if message.contains("号码")
        || message.contains("格式")
        || lower.contains("phone")
        || lower.contains("number")
        || lower.contains("invalid")
    {
        ItemMessage::Rejected(RejectReason::InvalidNumber)
    } else {
        ItemMessage::Rejected(RejectReason::Other(sanitize(message)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_simulator_and_doc_messages() {
        use ItemMessage::*;
        assert_eq!(
            classify_item_message("id already used (ids are globally unique)"),
            IdInUse
        );
        assert_eq!(
            classify_item_message("duplicate phone: already in the task"),
            Rejected(RejectReason::Duplicate)
        );
        assert_eq!(
            classify_item_message("号码格式错误: country code + number, digits only"),
            Rejected(RejectReason::InvalidNumber)
        );
        assert_eq!(classify_item_message("订单不存在"), NotFound);
        assert_eq!(classify_item_message("contact does not exist"), NotFound);
        assert_eq!(
            classify_item_message(
                "only contacts in the Pending / Not Started state can be deleted"
            ),
            NotDeletable
        );
        assert_eq!(
            classify_item_message("phoneNumber must be country code + number, digits only"),
            Rejected(RejectReason::InvalidNumber)
        );
        assert!(matches!(
            classify_item_message("参数丢失: 话术变量 name"),
            Rejected(RejectReason::Other(_))
        ));
    }

    #[test]
    fn key_index_takes_latest_first() {
        let keys = ["a", "b", "a"];
        let mut index = KeyIndex::new(keys.iter().copied());
        assert_eq!(index.take("a"), Some((2, false)));
        assert_eq!(index.take("a"), Some((0, true)));
        assert_eq!(index.take("a"), None);
        assert_eq!(index.take("c"), None);
    }
}

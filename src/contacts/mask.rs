//! The one way a phone number reaches a log, an Event or a status message: masked.
//!
//! The rule keeps the country code (when known), up to three leading and up to four trailing
//! digits of the national number, and always hides at least four digits, so that
//! `+8613012121211` becomes `+86130****1211` and a short Hong Kong number `+85291234567`
//! becomes `+85291****67`. Anything that is not a digit is dropped: a raw, invalid input may
//! hold a name or an e-mail address and must not leak through the mask either.

/// Digits always hidden, whatever the length.
const MIN_HIDDEN: usize = 4;
/// At most this many leading digits are shown.
const MAX_HEAD: usize = 3;
/// At most this many trailing digits are shown.
const MAX_TAIL: usize = 4;

/// Masks a phone number as written by a user, valid or not.
///
/// Full-width digits count as digits. Input without any digit becomes `(no digits)`, so the
/// log line still says what was wrong without repeating the text.
pub fn mask_phone(raw: &str) -> String {
    let mut plus = false;
    let mut digits = String::with_capacity(raw.len());
    for c in raw.chars() {
        match c {
            '0'..='9' => digits.push(c),
            '０'..='９' => digits.push(char::from(b'0' + (c as u32 - '０' as u32) as u8)),
            '+' | '＋' if digits.is_empty() => plus = true,
            _ => {}
        }
    }
    if digits.is_empty() {
        return "(no digits)".to_string();
    }
    let mut out = String::with_capacity(digits.len() + 1);
    if plus {
        out.push('+');
    }
    // Without a parsed country code the whole digit string is treated as one number: the head
    // then shows at most three digits of the country code, never more of the subscriber.
    mask_digits_into(&digits, &mut out);
    out
}

/// Masks `digits` (ASCII digits only) into `out` by the rule above.
pub(crate) fn mask_digits_into(digits: &str, out: &mut String) {
    let n = digits.len();
    let hidden = MIN_HIDDEN.max(n.saturating_sub(MAX_HEAD + MAX_TAIL)).min(n);
    let visible = n - hidden;
    let tail = MAX_TAIL.min(visible.div_ceil(2));
    let head = visible - tail;
    out.push_str(&digits[..head]);
    out.extend(std::iter::repeat_n('*', hidden));
    out.push_str(&digits[n - tail..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_cn_mobile_like_the_docs() {
        let mut s = String::from("+86");
        mask_digits_into("13012121211", &mut s);
        assert_eq!(s, "+86130****1211");
    }

    #[test]
    fn short_numbers_keep_at_least_four_hidden() {
        let mut s = String::new();
        mask_digits_into("91234567", &mut s);
        assert_eq!(s, "91****67");
        let mut s = String::new();
        mask_digits_into("123", &mut s);
        assert_eq!(s, "***");
    }

    #[test]
    fn raw_input_drops_everything_but_digits() {
        assert_eq!(mask_phone("John 130-1212-1211"), "130****1211");
        assert_eq!(mask_phone("not a phone"), "(no digits)");
        assert_eq!(mask_phone("+86 130 1212 1211"), "+861******1211");
        assert_eq!(mask_phone("１３０１２１２１２１１"), "130****1211");
    }

    /// Wire forms as providers write them (the cases of the 5-head rule `providers::error` used
    /// to have): without a parsed country code the head never shows more than three digits.
    #[test]
    fn wire_forms_and_short_or_empty_values() {
        assert_eq!(mask_phone("+8613012121211"), "+861******1211");
        assert_eq!(mask_phone("8613012121211"), "861******1211");
        assert_eq!(mask_phone("13012121211"), "130****1211");
        assert_eq!(mask_phone("12345"), "****5");
        assert_eq!(mask_phone("123"), "***");
        assert_eq!(mask_phone(""), "(no digits)");
    }
}

//! The simulated providers' phone-number rules (simple and strict; see docs/simulator.md) and
//! the masking a provider variant applies to phones in its own answers. The simulator's logs mask
//! with callsync's one rule, [`crate::contacts::mask_phone`], like the rest of the crate.

/// longlonglong: national digits as in its examples (`13012121211`): a Chinese mobile number
/// (11 digits starting with 1) or a landline with its trunk prefix (0 + 9 to 11 digits). No `+`,
/// no country code: `8613012121211` is refused.
pub fn lll_valid(phone: &str) -> bool {
    let digits = phone.bytes().all(|b| b.is_ascii_digit());
    digits
        && ((phone.len() == 11 && phone.starts_with('1'))
            || (phone.starts_with('0') && (10..=12).contains(&phone.len())))
}

/// Callbot `userPhone` and NXLink `phoneNumber`: country code + number, digits only, no `+`,
/// no leading 0, 8 to 15 digits (E.164 without the `+`).
pub fn international_valid(phone: &str) -> bool {
    phone.bytes().all(|b| b.is_ascii_digit())
        && (8..=15).contains(&phone.len())
        && !phone.starts_with('0')
}

/// How a provider that masks phones in its answers writes them (`callbotPhoneMasked`): the first
/// 5 and last 4 characters stay, `86131****0001`; short values are masked whole. This is the
/// provider's behaviour the client must refuse to read as a number, not a mask for our logs, so
/// it keeps the provider's shape rather than callsync's rule.
pub(crate) fn provider_masked(phone: &str) -> String {
    let chars: Vec<char> = phone.chars().collect();
    if chars.len() <= 9 {
        return "****".to_owned();
    }
    let head: String = chars[..5].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}****{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules() {
        assert!(lll_valid("13012121211"));
        assert!(lll_valid("02112345678"));
        assert!(!lll_valid("8613012121211"));
        assert!(!lll_valid("+13012121211"));
        assert!(!lll_valid("1301212121"));
        assert!(international_valid("8613012121211"));
        assert!(!international_valid("+8613012121211"));
        assert!(!international_valid("013012121211"));
        assert!(!international_valid("1234567"));
        assert!(!international_valid("86130 1212 1211"));
    }

    #[test]
    fn provider_masking() {
        assert_eq!(provider_masked("8613131310001"), "86131****0001");
        assert_eq!(provider_masked("8613012121211"), "86130****1211");
        assert_eq!(provider_masked("123"), "****");
    }
}

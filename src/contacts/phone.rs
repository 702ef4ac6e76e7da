//! Canonical phone numbers: parsing, validation and provider wire formats.
//!
//! A [`Phone`] is the E.164 number as an integer (`+8613012121211` is `8613012121211`). Country
//! codes never start with 0, so the integer keeps every digit, including the leading zeros that
//! some national numbers have (Italy). Eight bytes a contact make sets of millions cheap to sort
//! and compare. Validity comes from libphonenumber's metadata (the `phonenumber` crate); the
//! cleaning in front of it is ours, so that every accepted input maps to the number a person
//! meant and every other input is rejected with a reason — never silently mangled.
use std::fmt;

use phonenumber::{Mode, PhoneNumber, country, metadata::DATABASE};
use thiserror::Error;

use super::mask::mask_digits_into;
use crate::api::PhoneFormat;

/// A valid phone number, canonical E.164 digits as an integer.
///
/// `Display` and `Debug` print the masked form; use [`Phone::e164`] or [`Phone::to_wire`] where
/// the full number is needed (provider requests, the ledger) — never in a log.
/// Serde (a bare integer) is for the CLI's parse cache, whose entries only this build wrote.
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct Phone(u64);

/// Why an input is not a phone number. Display is the reason, with the input masked.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PhoneError {
    /// Empty, or no digits at all.
    #[error("not a number")]
    NotANumber,
    /// A character that has no place in a phone number (letters, `#`, `*`, `;`…).
    #[error("not a number: unexpected character {0:?}")]
    UnexpectedChar(char),
    /// A spreadsheet turned the number into scientific notation and dropped digits.
    #[error("spreadsheet scientific notation lost digits ({masked}); format the column as text")]
    ScientificNotation {
        /// The input, masked.
        masked: String,
    },
    /// No `+`/`00` and no default region to read the number in.
    #[error("{masked} has no country code and no defaultRegion is set")]
    NoRegion {
        /// The input, masked.
        masked: String,
    },
    /// The default region is not an ISO 3166 region libphonenumber knows.
    #[error("defaultRegion {0:?} unknown")]
    UnknownRegion(String),
    /// The digits after `+` (or `00`) start with no assigned country code.
    #[error("country code {0} unknown")]
    UnknownCountryCode(String),
    /// Fewer digits than any number of the region has.
    #[error("{masked} too short for {region}")]
    TooShort {
        /// The input, masked.
        masked: String,
        /// Region (`CN`) or `+code` for non-geographic numbers.
        region: String,
    },
    /// More digits than any number of the region has.
    #[error("{masked} too long for {region}")]
    TooLong {
        /// The input, masked.
        masked: String,
        /// Region (`CN`) or `+code`.
        region: String,
    },
    /// A length the region allows, but no number range of the region matches.
    #[error("{masked} is not a valid number for {region}")]
    Invalid {
        /// The input, masked.
        masked: String,
        /// Region (`CN`) or `+code`.
        region: String,
    },
    /// An extension (`ext. 12`) or a carrier code: a calling bot cannot dial it.
    #[error("{masked} has an extension or carrier code")]
    Extension {
        /// The input, masked.
        masked: String,
    },
}

impl PhoneError {
    /// A short, stable category for metrics and Event reasons.
    pub fn category(&self) -> &'static str {
        match self {
            Self::NotANumber | Self::UnexpectedChar(_) => "not_a_number",
            Self::ScientificNotation { .. } => "scientific_notation",
            Self::NoRegion { .. } | Self::UnknownRegion(_) => "region",
            Self::UnknownCountryCode(_) => "country_code",
            Self::TooShort { .. } => "too_short",
            Self::TooLong { .. } => "too_long",
            Self::Invalid { .. } => "invalid",
            Self::Extension { .. } => "extension",
        }
    }
}

/// E.164 allows at most 15 digits; 17 leaves room for a trunk prefix and `00`.
const MAX_INPUT_DIGITS: usize = 17;

/// The input after cleaning: whether it carried an international prefix, and its digits.
struct Cleaned {
    international: bool,
    digits: String,
}

/// Removes what people and spreadsheets put around digits; rejects everything else.
///
/// Accepted: ASCII and full-width digits, a leading `+`/`＋`, `00` as international prefix,
/// spaces, `-`, `.`, `/`, parentheses, a leading `'` (Excel's text marker), a `tel:` scheme, and
/// a trailing `.0` (a float column). Scientific notation is accepted only when the mantissa
/// still holds every digit (`1.3012121211E10`), otherwise rejected.
fn clean(input: &str) -> Result<Cleaned, PhoneError> {
    let mut s = input.trim().trim_start_matches('\'');
    if let Some(rest) = s.strip_prefix("tel:") {
        s = rest;
    }
    let mut digits = String::with_capacity(s.len());
    let mut international = false;
    if let Some(sci) = scientific(s)? {
        return Ok(Cleaned {
            international: false,
            digits: sci,
        });
    }
    let s = s.strip_suffix(".0").unwrap_or(s);
    for c in s.chars() {
        match c {
            '0'..='9' => digits.push(c),
            '０'..='９' => digits.push(char::from(b'0' + (c as u32 - '０' as u32) as u8)),
            '+' | '＋' if digits.is_empty() && !international => international = true,
            ' ' | '\u{a0}' | '\u{3000}' | '-' | '－' | '‐' | '–' | '.' | '/' | '(' | ')' | '（'
            | '）' => {}
            other => return Err(PhoneError::UnexpectedChar(other)),
        }
    }
    if digits.is_empty() {
        return Err(PhoneError::NotANumber);
    }
    if !international && let Some(rest) = digits.strip_prefix("00") {
        digits = rest.to_string();
        international = true;
    }
    if digits.len() > MAX_INPUT_DIGITS {
        return Err(PhoneError::TooLong {
            masked: masked_digits(international, &digits),
            region: "any region".into(),
        });
    }
    Ok(Cleaned {
        international,
        digits,
    })
}

/// `1.3012121211E10` → `13012121211` when no digit was lost; `None` when not scientific.
fn scientific(s: &str) -> Result<Option<String>, PhoneError> {
    let Some(pos) = s.find(['e', 'E']) else {
        return Ok(None);
    };
    let (mantissa, exp) = (&s[..pos], &s[pos + 1..]);
    let exp = exp.strip_prefix('+').unwrap_or(exp);
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let all_digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(int) || !(frac.is_empty() || all_digits(frac)) || !all_digits(exp) {
        return Ok(None); // not a float: let the character check name the culprit
    }
    let exp: usize = exp.parse().map_err(|_| PhoneError::NotANumber)?;
    let frac = frac.trim_end_matches('0');
    if int.len() != 1 || frac.len() != exp {
        // Fewer fraction digits than the exponent: the spreadsheet rounded the number away.
        return Err(PhoneError::ScientificNotation {
            masked: super::mask_phone(mantissa),
        });
    }
    Ok(Some(format!("{int}{frac}")))
}

fn masked_digits(international: bool, digits: &str) -> String {
    let mut out = String::with_capacity(digits.len() + 1);
    if international {
        out.push('+');
    }
    mask_digits_into(digits, &mut out);
    out
}

/// The region (`CN`) of a parsed number, or `+code` for non-geographic ones.
fn region_name(n: &PhoneNumber) -> String {
    match n.country().id() {
        Some(id) => id.as_ref().to_string(),
        None => format!("+{}", n.code().value()),
    }
}

/// The national significant number with its leading zeros.
fn national_digits(n: &PhoneNumber) -> String {
    let nat = n.national();
    let mut s = "0".repeat(usize::from(nat.zeros()));
    s.push_str(&nat.value().to_string());
    s
}

fn parse_region(region: &str) -> Result<country::Id, PhoneError> {
    region
        .parse::<country::Id>()
        .map_err(|_| PhoneError::UnknownRegion(region.to_string()))
}

impl Phone {
    /// Parses a phone number as a person wrote it. Numbers without `+` or `00` are read in
    /// `default_region` (ISO 3166, for example `CN`); see `docs/core.md` for the rules.
    ///
    /// Common valid numbers are accepted by precompiled patterns (`phone_fast`); everything
    /// else, and every rejection, goes through the `phonenumber` crate. Both give the same
    /// verdicts (`tests/phone_fast_path.rs`).
    pub fn parse(input: &str, default_region: Option<&str>) -> Result<Phone, PhoneError> {
        Self::parse_with(input, default_region, true)
    }

    /// [`Phone::parse`] entirely through the `phonenumber` crate, without the fast path: the
    /// reference the fast path is tested against (`tests/phone_fast_path.rs`) and the
    /// benchmarks' "before".
    #[doc(hidden)]
    pub fn parse_libphonenumber(
        input: &str,
        default_region: Option<&str>,
    ) -> Result<Phone, PhoneError> {
        Self::parse_with(input, default_region, false)
    }

    fn parse_with(
        input: &str,
        default_region: Option<&str>,
        fast: bool,
    ) -> Result<Phone, PhoneError> {
        let cleaned = clean(input)?;
        let region = match default_region {
            Some(r) if !cleaned.international => Some(parse_region(r)?),
            _ => None,
        };
        if !cleaned.international && region.is_none() {
            return Err(PhoneError::NoRegion {
                masked: masked_digits(false, &cleaned.digits),
            });
        }
        if fast {
            Self::from_cleaned(&cleaned, region)
        } else {
            Self::from_cleaned_by_crate(&cleaned, region)
        }
    }

    fn from_cleaned(c: &Cleaned, region: Option<country::Id>) -> Result<Phone, PhoneError> {
        let fast = match region {
            _ if c.international => super::phone_fast::international(&c.digits),
            Some(r) => super::phone_fast::national(&c.digits, r.as_ref()),
            None => None,
        };
        match fast {
            Some(e164) => Ok(Phone(e164)),
            None => Self::from_cleaned_by_crate(c, region),
        }
    }

    fn from_cleaned_by_crate(
        c: &Cleaned,
        region: Option<country::Id>,
    ) -> Result<Phone, PhoneError> {
        let masked = || masked_digits(c.international, &c.digits);
        let text = if c.international {
            format!("+{}", c.digits)
        } else {
            c.digits.clone()
        };
        let n = phonenumber::parse(region, &text).map_err(|e| match e {
            phonenumber::ParseError::InvalidCountryCode => UnknownCc::from_digits(&c.digits).into(),
            phonenumber::ParseError::TooShortNsn | phonenumber::ParseError::TooShortAfterIdd => {
                PhoneError::TooShort {
                    masked: masked(),
                    region: region.map_or("any region".into(), |r| r.as_ref().to_string()),
                }
            }
            phonenumber::ParseError::TooLong => PhoneError::TooLong {
                masked: masked(),
                region: region.map_or("any region".into(), |r| r.as_ref().to_string()),
            },
            _ => PhoneError::NotANumber,
        })?;
        if n.extension().is_some() {
            return Err(PhoneError::Extension { masked: masked() });
        }
        let cc = n.code().value().to_string();
        let nat = national_digits(&n);
        // The parser may read digits differently from the writer (strip what it takes for a
        // carrier or trunk code): accept only readings that keep every digit the writer meant.
        let np = region_meta(&n)
            .and_then(|m| m.national_prefix())
            .unwrap_or("");
        let d = c.digits.as_str();
        let faithful = if c.international {
            d.strip_prefix(cc.as_str())
                .is_some_and(|rest| rest == nat || (!np.is_empty() && rest == format!("{np}{nat}")))
        } else {
            d == nat || (!np.is_empty() && d == format!("{np}{nat}")) || d == format!("{cc}{nat}")
        };
        if !faithful || n.carrier().is_some() || !n.is_valid() {
            // Judge the digits as written when the parser read them differently.
            let written = if faithful {
                nat.as_str()
            } else if c.international {
                d.strip_prefix(cc.as_str()).unwrap_or(d)
            } else {
                d.strip_prefix(np).filter(|_| !np.is_empty()).unwrap_or(d)
            };
            return Err(invalid_reason(&n, written, masked()));
        }
        let e164: u64 = format!("{cc}{nat}")
            .parse()
            .map_err(|_| PhoneError::NotANumber)?;
        Ok(Phone(e164))
    }

    /// Reads a number as a provider wrote it in `format`. `default_region` is needed for
    /// [`PhoneFormat::National`], which carries no country code.
    pub fn from_wire(
        s: &str,
        format: PhoneFormat,
        default_region: Option<&str>,
    ) -> Result<Phone, PhoneError> {
        match format {
            // Digits only with a country code: the same as writing them after a `+`.
            PhoneFormat::InternationalDigits => Self::memoized(s, |s| {
                let digits = clean(s)?.digits;
                Self::from_cleaned(
                    &Cleaned {
                        international: true,
                        digits,
                    },
                    None,
                )
            }),
            PhoneFormat::E164 => match s.strip_prefix('+') {
                Some(digits) => Self::memoized(digits, |_| Self::parse(s, None)),
                None => Self::parse(s, None),
            },
            PhoneFormat::National => Self::parse(s, default_region),
        }
    }

    /// `parse(digits)`, skipped for canonical digits found valid before (`valid_memo`): a
    /// listing reads the same numbers at every resync. Only a parse that returns exactly the
    /// digits written is remembered, so a remembered number reads as the parse would read it.
    fn memoized(
        digits: &str,
        parse: impl FnOnce(&str) -> Result<Phone, PhoneError>,
    ) -> Result<Phone, PhoneError> {
        let canonical = super::valid_memo::canonical(digits);
        if let Some(n) = canonical
            && super::valid_memo::contains(n)
        {
            return Ok(Phone(n));
        }
        let phone = parse(digits)?;
        if canonical == Some(phone.0) {
            super::valid_memo::insert(phone.0);
        }
        Ok(phone)
    }

    /// Writes the number as a provider expects it. `National` is libphonenumber's national
    /// format as digits: the trunk prefix stays where a person dials it (`01012345678` for a
    /// Beijing landline, `13012121211` for a mobile).
    pub fn to_wire(self, format: PhoneFormat) -> String {
        match format {
            PhoneFormat::E164 => self.e164(),
            PhoneFormat::InternationalDigits => self.0.to_string(),
            PhoneFormat::National => match self.parsed() {
                Some(n) => n
                    .format()
                    .mode(Mode::National)
                    .to_string()
                    .chars()
                    .filter(char::is_ascii_digit)
                    .collect(),
                // Unreachable for a Phone built by `parse`; the national number is the fallback.
                None => self.national_number(),
            },
        }
    }

    /// The full number, `+8613012121211`. Not for logs: use `Display` / [`Phone::masked`].
    pub fn e164(self) -> String {
        format!("+{}", self.0)
    }

    /// The E.164 digits as an integer.
    pub fn as_u64(self) -> u64 {
        self.0
    }

    /// Rebuilds a Phone from [`Phone::as_u64`] (ledger, codec). Not validated again: only
    /// values that came from `as_u64` belong here.
    pub fn from_u64_unchecked(v: u64) -> Phone {
        Phone(v)
    }

    /// The country calling code (86 for China).
    pub fn country_code(self) -> u16 {
        let digits = self.0.to_string();
        // Country codes are prefix-free, so the first assigned prefix is the code.
        (1..=3)
            .filter_map(|len| digits.get(..len)?.parse::<u16>().ok())
            .find(|cc| DATABASE.region(cc).is_some())
            .unwrap_or(0)
    }

    /// The national significant number, digits.
    pub fn national_number(self) -> String {
        let digits = self.0.to_string();
        let cc_len = self.country_code().to_string().len();
        digits.get(cc_len..).unwrap_or("").to_string()
    }

    /// The log form, `+86130****1211`.
    pub fn masked(self) -> String {
        let cc = self.country_code();
        let mut out = format!("+{cc}");
        mask_digits_into(&self.national_number(), &mut out);
        out
    }

    fn parsed(self) -> Option<PhoneNumber> {
        phonenumber::parse(None, self.e164()).ok()
    }
}

fn region_meta(n: &PhoneNumber) -> Option<&'static phonenumber::Metadata> {
    match n.country().id() {
        Some(id) => DATABASE.by_id(id.as_ref()),
        None => DATABASE
            .by_code(&n.code().value())
            .and_then(|m| m.into_iter().next()),
    }
}

/// Names what is wrong with a number the metadata rejects. "Too short" and "too long" are
/// claimed only when a valid number of some type (mobile, fixed line…) of the region starts
/// with these digits, or these digits start with one; otherwise the range itself is invalid.
fn invalid_reason(n: &PhoneNumber, nat: &str, masked: String) -> PhoneError {
    let region = region_name(n);
    let Some(meta) = region_meta(n) else {
        return PhoneError::Invalid { masked, region };
    };
    let d = meta.descriptors();
    let types = [
        d.mobile(),
        d.fixed_line(),
        d.toll_free(),
        d.premium_rate(),
        d.shared_cost(),
        d.personal_number(),
        d.voip(),
        d.uan(),
    ];
    let general = d.general().possible_length();
    for desc in types.into_iter().flatten() {
        let lengths = match desc.possible_length() {
            [] => general,
            l => l,
        };
        for &len in lengths {
            let len = usize::from(len);
            if len > nat.len()
                && ['0', '5', '9'].iter().any(|&pad| {
                    let mut s = nat.to_string();
                    s.extend(std::iter::repeat_n(pad, len - nat.len()));
                    full_match(desc, &s)
                })
            {
                return PhoneError::TooShort { masked, region };
            }
            if len < nat.len() && nat.get(..len).is_some_and(|p| full_match(desc, p)) {
                return PhoneError::TooLong { masked, region };
            }
        }
    }
    let len = u16::try_from(nat.len()).unwrap_or(u16::MAX);
    match general {
        [min, ..] if len < *min => PhoneError::TooShort { masked, region },
        [.., max] if len > *max => PhoneError::TooLong { masked, region },
        _ => PhoneError::Invalid { masked, region },
    }
}

/// The descriptor's pattern matches all of `s` (its `is_match` anchors only the start).
fn full_match(desc: &phonenumber::metadata::Descriptor, s: &str) -> bool {
    desc.national_number()
        .find(s)
        .is_some_and(|m| m.start() == 0 && m.end() == s.len())
}

/// The unknown-country-code error, naming the code the writer most likely meant.
struct UnknownCc(String);

impl UnknownCc {
    fn from_digits(d: &str) -> Self {
        // No 1-, 2- or 3-digit prefix is assigned (else the parser would have taken it), so the
        // three-digit prefix is what the writer used. Three digits of a number are not personal.
        Self(d.chars().take(3).collect())
    }
}

impl From<UnknownCc> for PhoneError {
    fn from(u: UnknownCc) -> Self {
        PhoneError::UnknownCountryCode(u.0)
    }
}

impl fmt::Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl fmt::Debug for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Phone({})", self.masked())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str, r: Option<&str>) -> Result<String, String> {
        Phone::parse(s, r)
            .map(Phone::e164)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn canonical_forms_agree() {
        let want = Ok("+8613012121211".to_string());
        assert_eq!(p("+8613012121211", None), want);
        assert_eq!(p("13012121211", Some("CN")), want);
        assert_eq!(p("008613012121211", None), want);
        assert_eq!(p("1.3012121211E10", Some("CN")), want);
        assert_eq!(p("＋８６　１３０１２１２１２１１", None), want);
    }

    #[test]
    fn display_and_debug_are_masked() {
        let ph = Phone::parse("+8613012121211", None).expect("test input");
        assert_eq!(ph.to_string(), "+86130****1211");
        assert_eq!(format!("{ph:?}"), "Phone(+86130****1211)");
    }

    #[test]
    fn errors_never_hold_the_full_number() {
        for (s, r) in [
            ("1301212121", Some("CN")),
            ("+8612345678901", None),
            ("13012121211", None),
            ("13012121211 ext 12", Some("CN")),
        ] {
            let e = Phone::parse(s, r).expect_err("should fail").to_string();
            let digits: String = s.chars().filter(char::is_ascii_digit).collect();
            assert!(!e.contains(&digits), "{e} leaks {digits}");
        }
    }

    #[test]
    fn wire_formats_round_trip() {
        for (s, nat) in [
            ("+8613012121211", "13012121211"),
            ("+861012345678", "01012345678"),
            ("+85291234567", "91234567"),
            ("+6281234567890", "081234567890"),
            ("+12025550123", "2025550123"),
        ] {
            let ph = Phone::parse(s, None).expect("test input");
            let region = ph
                .parsed()
                .and_then(|n| n.country().id())
                .expect("test input");
            assert_eq!(ph.to_wire(PhoneFormat::National), nat);
            for f in [
                PhoneFormat::National,
                PhoneFormat::InternationalDigits,
                PhoneFormat::E164,
            ] {
                let wire = ph.to_wire(f);
                assert_eq!(
                    Phone::from_wire(&wire, f, Some(region.as_ref())),
                    Ok(ph),
                    "{f:?}"
                );
            }
        }
    }
}

//! The fast path of phone validation: accepts the common, unambiguous numbers with
//! precompiled regexes, and leaves every other input to the `phonenumber` crate.
//!
//! Why: the crate matches through a shared regex cache that hashes each pattern's source
//! (SipHash) under a mutex on every use and evicts at 100 patterns, so a number costs 9–15 µs.
//! Here each region's patterns are compiled once (on first use of the region) into plain
//! `regex::Regex`es, and a number costs a few anchored matches.
//!
//! Exactness: this path only ever answers "valid, and it is this number"; it answers nothing
//! (`None`) unless the crate's parse-and-validate path provably reads the digits the same
//! way, so every rejection and its reason still come from that path. It follows the crate's
//! `parse` (phonenumber 0.3.10, `parser/mod.rs`, `parser/helper.rs`) step by step and declines
//! wherever that path would transform the digits:
//! - international (`+` or `00`): the country code is the first 1–3 digit prefix the
//!   metadata assigns, as the crate takes it; national (digits in `defaultRegion`): declines if
//!   the region's international prefix (IDD) or its country code starts the digits (the crate
//!   would strip them);
//! - declines for country codes shared by several regions or non-geographic (`+1`, `+7`,
//!   `+44`, `+800`…: the crate picks the region by leading digits or number type), for a
//!   national number starting with `0` (leading zeros are stored apart), or with the national
//!   prefix, or matched at its start by the region's national-prefix-for-parsing pattern (the
//!   crate would strip a trunk or carrier code), and for lengths the crate refuses;
//! - valid, as the crate's `is_valid`: the general pattern matches, and so does the pattern of
//!   some number type (premium rate, toll free, shared cost, VoIP, personal, pager, UAN,
//!   voicemail, fixed line, mobile), each only at a length its descriptor allows. The crate
//!   tests a pattern by `find(s)` starting at 0, which holds exactly when the pattern anchored
//!   at the start matches: that is what is compiled here (with the crate's `ignore_whitespace`).
//!
//! `tests/phone_fast_path.rs` compares this path plus fallback with the crate's path alone
//! over a million generated inputs.
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, OnceLock};

use phonenumber::metadata::{DATABASE, Descriptor, Metadata};
use regex::{Regex, RegexBuilder};

/// The crate's bounds on a national number (`consts::MIN/MAX_LENGTH_FOR_NSN`).
const MIN_NSN: usize = 2;
const MAX_NSN: usize = 17;
/// `NationalNumber::new` refuses values from 2^56.
const MAX_NATIONAL_VALUE: u64 = 1 << 56;

/// What is known of each country calling code 0–999.
enum Code {
    /// No region has it.
    Unassigned,
    /// Assigned, but left to the crate (several regions, or non-geographic).
    Slow,
    /// One geographic region: compiled on first use (`None` if a pattern did not compile).
    Fast(OnceLock<Option<Region>>),
}

static CODES: LazyLock<Vec<Code>> = LazyLock::new(|| {
    (0..1000u16)
        .map(|code| {
            if DATABASE.by_code(&code).is_none() {
                return Code::Unassigned;
            }
            match DATABASE.region(&code).as_deref() {
                Some([region]) if *region != "001" => Code::Fast(OnceLock::new()),
                _ => Code::Slow,
            }
        })
        .collect()
});

/// One region's patterns, compiled.
struct Region {
    id: String,
    code: u16,
    code_digits: String,
    idd: Option<Regex>,
    national_prefix: Option<String>,
    prefix_for_parsing: Option<Regex>,
    /// By national-number length (0..=MAX_NSN): the general pattern and the alternation of the
    /// type patterns allowed at that length; `None` where either is impossible.
    by_length: Vec<Option<(Arc<Regex>, Arc<Regex>)>>,
}

/// `source` as the crate compiles it, anchored at the start. The newline ends a `#` comment
/// the source might hold (whitespace mode) before the closing parenthesis.
fn anchored(source: &str) -> Option<Regex> {
    RegexBuilder::new(&format!("^(?:{source}\n)"))
        .ignore_whitespace(true)
        .size_limit(64 << 20)
        .build()
        .ok()
}

fn allows(desc: &Descriptor, len: usize) -> bool {
    let lengths = desc.possible_length();
    lengths.is_empty() || lengths.iter().any(|&l| usize::from(l) == len)
}

impl Region {
    fn compile(meta: &Metadata) -> Option<Region> {
        let d = meta.descriptors();
        // The crate's `number_type` order; any match means "not Unknown", i.e. valid.
        let types: Vec<&Descriptor> = [
            d.premium_rate(),
            d.toll_free(),
            d.shared_cost(),
            d.voip(),
            d.personal_number(),
            d.pager(),
            d.uan(),
            d.voicemail(),
            d.fixed_line(),
            d.mobile(),
        ]
        .into_iter()
        .flatten()
        .collect();
        let general = Arc::new(anchored(d.general().national_number().as_str())?);
        let mut alternations: HashMap<Vec<usize>, Arc<Regex>> = HashMap::new();
        let mut by_length = Vec::with_capacity(MAX_NSN + 1);
        for len in 0..=MAX_NSN {
            let allowed: Vec<usize> = (0..types.len())
                .filter(|&i| allows(types[i], len))
                .collect();
            if !allows(d.general(), len) || allowed.is_empty() {
                by_length.push(None);
                continue;
            }
            let alternation = match alternations.get(&allowed) {
                Some(re) => re.clone(),
                None => {
                    let source = allowed
                        .iter()
                        .map(|&i| format!("(?:{}\n)", types[i].national_number().as_str()))
                        .collect::<Vec<_>>()
                        .join("|");
                    let re = Arc::new(anchored(&source)?);
                    alternations.insert(allowed, re.clone());
                    re
                }
            };
            by_length.push(Some((general.clone(), alternation)));
        }
        Some(Region {
            id: meta.id().to_string(),
            code: meta.country_code(),
            code_digits: meta.country_code().to_string(),
            idd: match meta.international_prefix() {
                Some(re) => Some(anchored(re.as_str())?),
                None => None,
            },
            national_prefix: meta.national_prefix().map(str::to_string),
            prefix_for_parsing: match meta.national_prefix_for_parsing() {
                Some(re) => Some(anchored(re.as_str())?),
                None => None,
            },
            by_length,
        })
    }

    /// The E.164 value of `national` in this region when the crate would read it unchanged
    /// and find it valid; `None` when not certain.
    fn accept(&self, national: &str) -> Option<u64> {
        let len = national.len();
        if !(MIN_NSN..=MAX_NSN).contains(&len) || national.starts_with('0') {
            return None;
        }
        if self
            .national_prefix
            .as_deref()
            .is_some_and(|np| national.starts_with(np))
            || self
                .prefix_for_parsing
                .as_ref()
                .is_some_and(|re| re.is_match(national))
        {
            return None;
        }
        let (general, types) = self.by_length.get(len)?.as_ref()?;
        if !general.is_match(national) || !types.is_match(national) {
            return None;
        }
        let value: u64 = national.parse().ok()?;
        if value >= MAX_NATIONAL_VALUE {
            return None;
        }
        u64::from(self.code)
            .checked_mul(10u64.checked_pow(u32::try_from(len).ok()?)?)?
            .checked_add(value)
    }
}

fn region_of_code(code: u16) -> Option<&'static Region> {
    match CODES.get(usize::from(code))? {
        Code::Fast(cell) => cell
            .get_or_init(|| {
                let meta = DATABASE.by_code(&code)?.into_iter().next()?;
                Region::compile(meta)
            })
            .as_ref(),
        _ => None,
    }
}

/// The E.164 value of digits written after `+` (or `00`), when certain.
pub(super) fn international(digits: &str) -> Option<u64> {
    if digits.len() <= MIN_NSN || digits.starts_with('0') || !digits.is_ascii() {
        return None;
    }
    // The crate's choice: the first prefix of 1, 2 or 3 digits that is an assigned code.
    let (code, rest) = (1..=3).find_map(|len| {
        let code: u16 = digits.get(..len)?.parse().ok()?;
        match CODES.get(usize::from(code))? {
            Code::Unassigned => None,
            _ => Some((code, &digits[len..])),
        }
    })?;
    region_of_code(code)?.accept(rest)
}

/// The E.164 value of digits written without a country code in `region`, when certain.
pub(super) fn national(digits: &str, region: &str) -> Option<u64> {
    if !digits.is_ascii() {
        return None;
    }
    let meta = DATABASE.by_id(region)?;
    let r = region_of_code(meta.country_code())?;
    if r.id != region
        || digits.starts_with(r.code_digits.as_str())
        || r.idd.as_ref().is_some_and(|re| re.is_match(digits))
    {
        return None;
    }
    r.accept(digits)
}

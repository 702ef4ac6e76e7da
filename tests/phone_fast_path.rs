//! Differential test of phone validation: `Phone::parse` (fast path, falling back to the
//! `phonenumber` crate) against `Phone::parse_libphonenumber` (the crate alone) — the same
//! `Result` for every input, canonical number and error (kind, reason, masked text) alike.
//!
//! Inputs are generated from the metadata's example numbers of several regions (kept, or with
//! digits changed, dropped or added), random CN mobiles and random digit strings, written in
//! every style of `tests/phone_table.rs` (+CC, 00CC, national, with trunk prefix, CC without
//! `+`, spaces, dashes, dots, parentheses, full-width digits, `tel:`, `'`, `.0`, scientific
//! notation, stray letters) and read with the number's region, another region or none.
//!
//! The normal suite checks 2,000 inputs (the crate takes milliseconds a number in a debug
//! build); the full run checks 1,000,000 (release, about 90 s):
//! `cargo test --release --test phone_fast_path -- --ignored`.
//! Mismatches, if any, are written in full to `$CARGO_TARGET_TMPDIR/phone_fast_path_mismatches.txt`.
use std::fmt::Write as _;

use callsync::contacts::{Phone, mask_phone};
use phonenumber::metadata::DATABASE;

const REGIONS: &[&str] = &[
    "CN", "HK", "ID", "US", "GB", "IT", "DE", "IN", "JP", "FR", "SG", "MY", "TW", "RU", "BR", "AU",
    "NZ", "MX", "KR", "VN",
];

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn digit(&mut self) -> char {
        char::from(b'0' + self.below(10) as u8)
    }
    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len())]
    }
}

/// Every example number of the regions, as (region, country code, national digits).
fn examples() -> Vec<(&'static str, String, String)> {
    let mut out = Vec::new();
    for &region in REGIONS {
        let meta = DATABASE.by_id(region).expect("region in metadata");
        let d = meta.descriptors();
        for desc in [
            d.mobile(),
            d.fixed_line(),
            d.toll_free(),
            d.premium_rate(),
            d.shared_cost(),
            d.personal_number(),
            d.voip(),
            d.uan(),
            d.pager(),
            d.voicemail(),
        ]
        .into_iter()
        .flatten()
        {
            if let Some(ex) = desc.example() {
                out.push((region, meta.country_code().to_string(), ex.to_string()));
            }
        }
    }
    out
}

/// One generated input: the text and the region it is read in.
fn input(rng: &mut Rng, examples: &[(&'static str, String, String)]) -> (String, Option<String>) {
    // The number: (its region, country code, national digits).
    let (region, cc, mut nat) = match rng.below(10) {
        0..=4 => {
            let (r, cc, nat) = rng.pick(examples).clone();
            (r, cc, nat)
        }
        5..=7 => {
            let mut nat = String::from("1");
            nat.push(char::from(b'3' + rng.below(7) as u8));
            for _ in 0..9 {
                nat.push(rng.digit());
            }
            ("CN", "86".to_string(), nat)
        }
        _ => {
            let len = 1 + rng.below(16);
            let nat: String = (0..len).map(|_| rng.digit()).collect();
            let cc = (1 + rng.below(999)).to_string();
            (*rng.pick(REGIONS), cc, nat)
        }
    };
    // Change it: replace trailing digits, drop one, add one.
    match rng.below(8) {
        0..=2 if !nat.is_empty() => {
            let k = 1 + rng.below(nat.len().min(6));
            nat.truncate(nat.len() - k);
            for _ in 0..k {
                nat.push(rng.digit());
            }
        }
        3 if !nat.is_empty() => {
            nat.remove(rng.below(nat.len()));
        }
        4 => nat.insert(rng.below(nat.len() + 1), rng.digit()),
        _ => {}
    }
    let grouped = |s: &str, sep: &str| -> String {
        s.as_bytes()
            .chunks(4)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect::<Vec<_>>()
            .join(sep)
    };
    let text = match rng.below(17) {
        0 | 1 => format!("+{cc}{nat}"),
        2 | 3 => nat.clone(),
        4 => format!("0{nat}"),
        5 => format!("00{cc}{nat}"),
        6 => format!("{cc}{nat}"),
        7 => format!("+{cc} {}", grouped(&nat, " ")),
        8 => grouped(&nat, "-"),
        9 => format!("(+{cc}) {}", grouped(&nat, " ")),
        10 => {
            // Scientific notation, every digit kept or some rounded away.
            let all = format!("{cc}{nat}");
            let keep = if rng.below(2) == 0 {
                all.len()
            } else {
                1 + rng.below(all.len())
            };
            format!("{}.{}E+{}", &all[..1], &all[1..keep], all.len() - 1)
        }
        11 => nat
            .chars()
            .map(|c| char::from_u32(c as u32 - '0' as u32 + '０' as u32).unwrap_or(c))
            .collect(),
        12 => format!("tel:+{cc}-{}", grouped(&nat, "-")),
        13 => format!("'{nat}"),
        14 => format!("{nat}.0"),
        15 => grouped(&format!("+{cc}{nat}"), "."),
        _ => {
            let mut s = format!("+{cc}{nat}");
            let at = rng.below(s.len() + 1);
            s.insert(at, *rng.pick(&['x', ' ', '#', '(', 'e']));
            s
        }
    };
    let region = match rng.below(6) {
        0 => None,
        1 => Some((*rng.pick(REGIONS)).to_string()),
        2 if rng.below(10) == 0 => Some("XX".to_string()),
        _ => Some(region.to_string()),
    };
    (text, region)
}

/// Compares both paths on `n` generated inputs; returns (accepted, rejected).
fn compare(n: usize, seed: u64) -> (usize, usize) {
    let examples = examples();
    assert!(examples.len() > 50, "the metadata has example numbers");
    let mut rng = Rng(seed);
    let mut inputs: Vec<(String, Option<String>)> =
        (0..n).map(|_| input(&mut rng, &examples)).collect();
    // By region: the crate's regex cache (100 patterns, least recently used) then stays warm,
    // which matters in debug builds, where each miss recompiles a pattern (milliseconds).
    inputs.sort_unstable_by(|a, b| (&a.1, &a.0).cmp(&(&b.1, &b.0)));
    let (mut ok, mut err) = (0, 0);
    let mut mismatches = String::new();
    let mut count = 0;
    for (text, region) in &inputs {
        let fast = Phone::parse(text, region.as_deref());
        let slow = Phone::parse_libphonenumber(text, region.as_deref());
        match &slow {
            Ok(_) => ok += 1,
            Err(_) => err += 1,
        }
        if fast != slow {
            count += 1;
            let _ = writeln!(
                mismatches,
                "{text:?} in {region:?}: fast {:?}, crate {:?}",
                fast.map(Phone::e164),
                slow.map(Phone::e164)
            );
        }
    }
    if count > 0 {
        let path = format!(
            "{}/phone_fast_path_mismatches.txt",
            env!("CARGO_TARGET_TMPDIR")
        );
        std::fs::write(&path, &mismatches).expect("write mismatches");
        let first = mismatches.lines().next().unwrap_or_default();
        panic!(
            "{count} of {n} inputs differ (all in {path}); first, masked: {}",
            mask_phone(first)
        );
    }
    (ok, err)
}

/// Small, because the crate is slow in a debug build (about 3 ms an input: its patterns are
/// compiled unoptimised and recompiled on each cache miss); the million-input run is below.
#[test]
fn fast_path_agrees_with_the_crate_on_2_000_inputs() {
    let (ok, err) = compare(2_000, 0x5eed);
    assert!(ok > 400 && err > 400, "both verdicts covered: {ok} / {err}");
}

#[test]
#[ignore = "a million inputs: run in release, see the module comment"]
fn fast_path_agrees_with_the_crate_on_1_000_000_inputs() {
    let (ok, err) = compare(1_000_000, 0xdecade);
    println!("1,000,000 inputs: {ok} valid, {err} rejected, no difference");
}

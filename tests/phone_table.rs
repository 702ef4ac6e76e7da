//! Normalization of real-world inputs: what is accepted, what canonical number it becomes,
//! and for what is rejected, which reason. See docs/core.md for the rules.
use callsync::contacts::Phone;

/// `Ok(e164)` or `Err(category)` (see `PhoneError::category`).
type Want = Result<&'static str, &'static str>;

const TABLE: &[(&str, Option<&str>, Want)] = &[
    // China mobiles, every way people write them.
    ("+8613012121211", None, Ok("+8613012121211")),
    ("13012121211", Some("CN"), Ok("+8613012121211")),
    ("8613012121211", Some("CN"), Ok("+8613012121211")),
    ("008613012121211", None, Ok("+8613012121211")),
    ("008613012121211", Some("US"), Ok("+8613012121211")),
    ("+86 130 1212 1211", None, Ok("+8613012121211")),
    ("130-1212-1211", Some("CN"), Ok("+8613012121211")),
    ("(+86) 130 1212 1211", None, Ok("+8613012121211")),
    ("＋８６１３０１２１２１２１１", None, Ok("+8613012121211")),
    ("１３０１２１２１２１１", Some("CN"), Ok("+8613012121211")),
    ("  13012121211  ", Some("CN"), Ok("+8613012121211")),
    ("'13012121211", Some("CN"), Ok("+8613012121211")),
    ("13012121211.0", Some("CN"), Ok("+8613012121211")),
    ("1.3012121211E10", Some("CN"), Ok("+8613012121211")),
    ("1.3012121211e+10", Some("CN"), Ok("+8613012121211")),
    ("tel:+86-130-1212-1211", None, Ok("+8613012121211")),
    ("+8618361201206", None, Ok("+8618361201206")),
    ("19912345678", Some("CN"), Ok("+8619912345678")),
    // China landlines: with and without trunk prefix and country code.
    ("010-12345678", Some("CN"), Ok("+861012345678")),
    ("01012345678", Some("CN"), Ok("+861012345678")),
    ("+86 10 1234 5678", None, Ok("+861012345678")),
    ("+86 010 1234 5678", None, Ok("+861012345678")),
    ("0755-8888 8888", Some("CN"), Ok("+8675588888888")),
    ("+86 21 6888 8888", None, Ok("+862168888888")),
    // Hong Kong.
    ("+852 9123 4567", None, Ok("+85291234567")),
    ("91234567", Some("HK"), Ok("+85291234567")),
    ("00852 2123 4567", None, Ok("+85221234567")),
    // Indonesia.
    ("+62 812-3456-7890", None, Ok("+6281234567890")),
    ("081234567890", Some("ID"), Ok("+6281234567890")),
    ("+62 21 5150 0000", None, Ok("+622151500000")),
    // United States.
    ("+1 202 555 0123", None, Ok("+12025550123")),
    ("(202) 555-0123", Some("US"), Ok("+12025550123")),
    ("202.555.0123", Some("US"), Ok("+12025550123")),
    ("+1 800 555 0199", None, Ok("+18005550199")),
    // Other regions: a number with a country code ignores defaultRegion.
    ("+44 20 7946 0958", Some("CN"), Ok("+442079460958")),
    ("+39 06 1234 5678", None, Ok("+390612345678")),
    // Malformed.
    ("", Some("CN"), Err("not_a_number")),
    ("   ", Some("CN"), Err("not_a_number")),
    ("abc", Some("CN"), Err("not_a_number")),
    ("N/A", Some("CN"), Err("not_a_number")),
    ("130121212x", Some("CN"), Err("not_a_number")),
    ("13012121211 ext 12", Some("CN"), Err("not_a_number")),
    ("13012121211;13012121212", Some("CN"), Err("not_a_number")),
    ("+86+13012121211", None, Err("not_a_number")),
    ("1301212121", Some("CN"), Err("too_short")),
    ("+86130121212", None, Err("too_short")),
    ("130121212111", Some("CN"), Err("too_long")),
    ("12345", Some("CN"), Err("too_short")),
    ("+8612345678901", None, Err("invalid")),
    ("+999123456789", None, Err("country_code")),
    ("13012121211", None, Err("region")),
    ("13012121211", Some("XX"), Err("region")),
    ("8.61301E+12", Some("CN"), Err("scientific_notation")),
    ("1.30121E10", Some("CN"), Err("scientific_notation")),
    ("123456789012345678", None, Err("too_long")),
    ("91234567", Some("CN"), Err("too_short")),
];

#[test]
fn normalization_table() {
    assert!(TABLE.len() >= 40);
    let mut failures = Vec::new();
    for &(input, region, want) in TABLE {
        let got = Phone::parse(input, region);
        let got_cmp: Result<String, &str> = match &got {
            Ok(p) => Ok(p.e164()),
            Err(e) => Err(e.category()),
        };
        let want_cmp = want.map(str::to_string);
        if got_cmp != want_cmp {
            failures.push(format!(
                "{input:?} in {region:?}: want {want_cmp:?}, got {got_cmp:?} ({})",
                got.map(|p| p.to_string()).unwrap_or_else(|e| e.to_string())
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn reasons_are_precise_and_masked() {
    let reason =
        |s: &str, r: Option<&str>| Phone::parse(s, r).expect_err("should fail").to_string();
    assert_eq!(
        reason("1301212121", Some("CN")),
        "130****121 too short for CN"
    );
    assert_eq!(
        reason("abc", Some("CN")),
        "not a number: unexpected character 'a'"
    );
    assert_eq!(reason("+999123456789", None), "country code 999 unknown");
    for &(input, region, want) in TABLE {
        if want.is_err() {
            let msg = reason(input, region);
            let digits: String = input.chars().filter(char::is_ascii_digit).collect();
            assert!(
                digits.len() < 7 || !msg.contains(&digits),
                "{msg} leaks {input}"
            );
        }
    }
}

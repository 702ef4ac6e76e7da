//! The canonical numbers libphonenumber has already found valid, so that reading them again —
//! every resync lists every contact of a task, and the listing is read twice (the client checks
//! each phone, then the sync decodes it) — costs a set lookup instead of a full parse (about
//! 2 µs each; BENCHMARKS.md "Listing cost").
//!
//! Exact: validity is a pure function of the digits (the metadata is compiled in), and only
//! numbers whose canonical E.164 digits are exactly the digits written are kept, so a hit returns
//! what the parse would. Bounded: a shard that reaches its share of [`CAPACITY`] is emptied and
//! refills (about 9 bytes a number; at most ~38 MiB), which costs parses, never a wrong answer.
use std::collections::HashSet;
use std::hash::{BuildHasher, Hasher};
use std::sync::{LazyLock, Mutex};

/// Numbers kept at most, over all shards.
pub const CAPACITY: usize = 1 << 21;
const SHARDS: usize = 16;

type Set = HashSet<u64, U64Hash>;

static MEMO: [Mutex<Option<Set>>; SHARDS] = [const { Mutex::new(None) }; SHARDS];

/// Hashes `u64` keys with one multiplication and a per-process random key: the default SipHash
/// was the largest cost left in a listing once the parses were gone (two set lookups a
/// contact), and these keys need no more than spreading and not being predictable.
#[derive(Clone, Copy)]
pub(crate) struct U64Hash(u64);

static KEY: LazyLock<u64> =
    LazyLock::new(|| std::collections::hash_map::RandomState::new().hash_one(0u64));

impl Default for U64Hash {
    fn default() -> Self {
        U64Hash(*KEY)
    }
}

impl BuildHasher for U64Hash {
    type Hasher = U64Hasher;
    fn build_hasher(&self) -> U64Hasher {
        U64Hasher(self.0)
    }
}

pub(crate) struct U64Hasher(u64);

impl Hasher for U64Hasher {
    fn write(&mut self, bytes: &[u8]) {
        // Only u64 keys are hashed here; any other bytes are folded in one at a time.
        for b in bytes {
            self.write_u64(u64::from(*b));
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0 ^ n)
            .wrapping_mul(0x9e37_79b9_7f4a_7c15)
            .rotate_left(29);
    }
    fn finish(&self) -> u64 {
        // hashbrown takes the top 7 bits as the tag and the low bits as the slot: mix again.
        self.0.wrapping_mul(0xd6e8_feb8_6659_fd93) ^ (self.0 >> 32)
    }
}

fn shard(number: u64) -> &'static Mutex<Option<Set>> {
    // The last digits vary most between the numbers of one task.
    &MEMO[(number % SHARDS as u64) as usize]
}

/// The digits as an integer when they are written canonically: 1 to 15 ASCII digits (E.164's
/// maximum), the first not 0 (no country code starts with 0), nothing else.
pub fn canonical(digits: &str) -> Option<u64> {
    let bytes = digits.as_bytes();
    if bytes.is_empty() || bytes.len() > 15 || bytes[0] == b'0' {
        return None;
    }
    bytes.iter().try_fold(0u64, |n, b| {
        b.is_ascii_digit().then(|| n * 10 + u64::from(b - b'0'))
    })
}

/// Whether `number` was found valid before.
pub fn contains(number: u64) -> bool {
    shard(number)
        .lock()
        .map(|set| set.as_ref().is_some_and(|s| s.contains(&number)))
        .unwrap_or(false)
}

/// Records that `number` (canonical E.164 digits) is valid.
pub fn insert(number: u64) {
    if let Ok(mut guard) = shard(number).lock() {
        let set = guard.get_or_insert_with(Set::default);
        if set.len() >= CAPACITY / SHARDS {
            set.clear();
        }
        set.insert(number);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_digits_are_canonical() {
        assert_eq!(canonical("8613012121211"), Some(8_613_012_121_211));
        for not in [
            "",
            "0861301212121",
            "+8613012121211",
            "86 130",
            "8613012121211999",
            "８６",
        ] {
            assert_eq!(canonical(not), None, "{not:?}");
        }
    }

    #[test]
    fn a_remembered_number_reads_as_the_parse_reads_it() {
        use crate::api::PhoneFormat::{E164, InternationalDigits};
        use crate::contacts::Phone;
        let first = Phone::from_wire("8613012121211", InternationalDigits, None).expect("valid");
        assert!(contains(first.as_u64()));
        assert_eq!(
            Phone::from_wire("8613012121211", InternationalDigits, None),
            Ok(first)
        );
        assert_eq!(Phone::from_wire("+8613012121211", E164, None), Ok(first));
        // Refusals are not remembered: an invalid number is refused every time.
        for _ in 0..2 {
            assert!(Phone::from_wire("8612", InternationalDigits, None).is_err());
            assert!(!contains(8612));
        }
    }
}

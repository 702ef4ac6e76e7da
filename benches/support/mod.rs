//! Deterministic data for the core benchmarks and `examples/plan_1m.rs` (no RNG crate: a
//! fixed xorshift, so every run plans the same sets).
#![allow(dead_code, reason = "each bench uses a different part")]

use callsync::api::Contact;
use callsync::contacts::{ContentDigest, DesiredKey, Phone};
use callsync::ledger::{ItemOutcome, Ledger};
use callsync::plan::ObservedContact;

pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.max(1))
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// `n` distinct valid CN mobile numbers (+86 13x, 150–153, 155–159, 18x), sorted.
pub fn mobiles(n: usize, seed: u64) -> Vec<u64> {
    const PREFIXES: [u64; 28] = [
        130, 131, 132, 133, 134, 135, 136, 137, 138, 139, 150, 151, 152, 153, 155, 156, 157, 158,
        159, 180, 181, 182, 183, 184, 185, 186, 187, 188,
    ];
    let mut rng = Rng::new(seed);
    let mut v: Vec<u64> = (0..n + n / 50 + 16)
        .map(|_| {
            let prefix = PREFIXES[(rng.next() % PREFIXES.len() as u64) as usize];
            8_600_000_000_000 + prefix * 100_000_000 + rng.next() % 100_000_000
        })
        .collect();
    v.sort_unstable();
    v.dedup();
    v.truncate(n);
    v
}

/// A sync with 1% churn: `n` desired; the provider misses 1% of them and holds 1% extra.
pub struct Scenario {
    pub desired: Vec<DesiredKey>,
    /// The provider's phones, in its own (shuffled) order.
    pub remote: Vec<Phone>,
}

pub fn scenario(n: usize) -> Scenario {
    let all = mobiles(n + n / 100, 42);
    let mut rng = Rng::new(7);
    let desired: Vec<DesiredKey> = all[..n]
        .iter()
        .map(|&p| key(Phone::from_u64_unchecked(p)))
        .collect();
    let mut remote: Vec<Phone> = all
        .iter()
        .enumerate()
        .filter(|(i, _)| *i >= n || i % 100 != 0)
        .map(|(_, &p)| Phone::from_u64_unchecked(p))
        .collect();
    for i in (1..remote.len()).rev() {
        remote.swap(i, (rng.next() % (i as u64 + 1)) as usize);
    }
    Scenario { desired, remote }
}

/// The desired key of a phone; the remote side computes the same digest, so content matches.
pub fn key(phone: Phone) -> DesiredKey {
    DesiredKey {
        phone,
        digest: ContentDigest(phone.as_u64().wrapping_mul(0x9e37_79b9_7f4a_7c15)),
    }
}

/// The provider's listing: UUID-length remote ids, no content digests (providers return none).
pub fn listing(s: &Scenario, sorted: bool) -> Vec<ObservedContact> {
    let mut v: Vec<ObservedContact> = s
        .remote
        .iter()
        .map(|&p| ObservedContact {
            phone: p,
            remote_id: Some(format!("{:032x}-0000", p.as_u64()).into()),
            removable: true,
            content_digest: None,
        })
        .collect();
    if sorted {
        v.sort_by_key(|o| o.phone);
    }
    v
}

/// The ledger of a provider that cannot list, holding the remote phones.
pub fn remote_ledger(s: &Scenario) -> Ledger {
    let mut keys: Vec<DesiredKey> = s.remote.iter().map(|&p| key(p)).collect();
    keys.sort_unstable();
    ledger_of(&keys)
}

/// A ledger holding every desired phone, Present (the steady state of a provider that cannot
/// list), built through the real transitions.
pub fn ledger_of(keys: &[DesiredKey]) -> Ledger {
    let mut l = Ledger::new("5f0c9f7e-3f43-4d7c-a6f4-1b2f2d6c9a01");
    for chunk in keys.chunks(1000) {
        let items: Vec<(Phone, ContentDigest)> =
            chunk.iter().map(|k| (k.phone, k.digest)).collect();
        l.record_add_intent(&items);
        for (p, _) in items {
            l.record_add_outcome(p, ItemOutcome::Accepted);
        }
    }
    l
}

/// `lists` ContactLists of `per_list` inline contacts each, written the ways people write
/// phones, with names and a variable; 1% of entries invalid, 1% repeated across lists.
pub fn contact_lists(lists: usize, per_list: usize) -> Vec<(String, Vec<Contact>)> {
    let phones = mobiles(lists * per_list, 99);
    let mut rng = Rng::new(3);
    (0..lists)
        .map(|l| {
            let contacts = (0..per_list)
                .map(|i| {
                    let mut p = phones[l * per_list + i];
                    if i % 100 == 1 && l > 0 {
                        p = phones[(l - 1) * per_list + i + 1]; // also in the previous list
                    }
                    let national = p - 8_600_000_000_000;
                    let phone = match rng.next() % 4 {
                        0 => format!("+{p}"),
                        1 => format!("{national}"),
                        2 => format!(
                            "+86 {} {:04} {:04}",
                            national / 100_000_000,
                            national / 10_000 % 10_000,
                            national % 10_000
                        ),
                        _ => format!(
                            "{}-{:04}-{:04}",
                            national / 100_000_000,
                            national / 10_000 % 10_000,
                            national % 10_000
                        ),
                    };
                    let phone = if i % 100 == 50 {
                        format!("{}", national / 10)
                    } else {
                        phone
                    };
                    let mut variables = std::collections::BTreeMap::new();
                    variables.insert("plan".to_string(), format!("p{}", i % 7));
                    Contact {
                        phone,
                        name: Some(format!("Customer {l}-{i}")),
                        company: (i % 3 == 0).then(|| "Example Ltd".to_string()),
                        email: None,
                        variables,
                        extra: None,
                    }
                })
                .collect();
            (format!("list-{l:04}"), contacts)
        })
        .collect()
}

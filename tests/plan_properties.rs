//! Properties of the planner and the ledger, over random desired sets, listings and ledgers.
use std::collections::{BTreeMap, BTreeSet};

use callsync::api::{ContentChangePolicy, ManagementPolicy};
use callsync::contacts::{ContentDigest, DesiredKey, Phone};
use callsync::ledger::{ItemOutcome, Ledger, Rejection};
use callsync::plan::{
    Capabilities, GuardDecision, Identity, Observed, ObservedContact, Plan, PlanPolicy,
    guard_limit, plan,
};
use proptest::prelude::*;

fn phone(i: u64) -> Phone {
    Phone::from_u64_unchecked(8613000000000 + i)
}

/// Desired keys from (phone index, digest) pairs: the first entry of a phone wins.
fn keys(raw: &[(u64, u64)]) -> Vec<DesiredKey> {
    let mut seen = BTreeMap::new();
    for &(p, d) in raw {
        seen.entry(p).or_insert(d);
    }
    seen.into_iter()
        .map(|(p, d)| DesiredKey {
            phone: phone(p),
            digest: ContentDigest(d),
        })
        .collect()
}

fn observed(raw: &[(u64, Option<u64>, bool)]) -> Vec<ObservedContact> {
    raw.iter()
        .enumerate()
        .map(|(i, &(p, d, removable))| ObservedContact {
            phone: phone(p),
            remote_id: Some(format!("r{i}").into()),
            removable,
            content_digest: d.map(ContentDigest),
        })
        .collect()
}

fn caps(max_add: usize, max_remove: usize, can_list: bool) -> Capabilities {
    Capabilities {
        max_add,
        max_remove,
        can_list,
        identity: Identity::RemoteId,
    }
}

fn policy(management: ManagementPolicy, pct: u32, replace: bool) -> PlanPolicy {
    PlanPolicy {
        management,
        max_delete_percent: pct,
        content_change: if replace {
            ContentChangePolicy::Replace
        } else {
            ContentChangePolicy::Ignore
        },
    }
}

/// A provider that lists: removals first (by remote id), then adds.
fn apply(obs: &mut Vec<ObservedContact>, p: &Plan, round: usize) {
    for item in p.removes.iter().flat_map(|b| &b.items) {
        let pos = obs
            .iter()
            .position(|o| o.remote_id.as_ref().map(ToString::to_string) == item.remote_id)
            .expect("removal of a listed contact");
        assert!(
            obs[pos].removable,
            "planned removal of a non-removable contact"
        );
        obs.remove(pos);
    }
    for item in p.adds.iter().flat_map(|b| &b.items) {
        obs.push(ObservedContact {
            phone: item.phone,
            remote_id: Some(format!("n{round}-{}", item.phone.as_u64()).into()),
            removable: true,
            content_digest: Some(item.digest),
        });
    }
}

fn phones_of(obs: &[ObservedContact]) -> Vec<Phone> {
    let mut v: Vec<Phone> = obs.iter().map(|o| o.phone).collect();
    v.sort();
    v
}

fn desired_strategy() -> impl Strategy<Value = Vec<(u64, u64)>> {
    prop::collection::vec((0u64..60, 0u64..3), 0..50)
}

fn observed_strategy(
    removable_weight: u32,
) -> impl Strategy<Value = Vec<(u64, Option<u64>, bool)>> {
    prop::collection::vec(
        (
            0u64..60,
            prop::option::of(0u64..3),
            prop::bool::weighted(f64::from(removable_weight) / 100.0),
        ),
        0..50,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Full, guard off, everything removable: one plan makes the provider equal the desired
    /// set (phones and, with Replace, contents), and planning again finds nothing to do.
    #[test]
    fn full_plan_converges_in_one_step(
        d in desired_strategy(),
        o in observed_strategy(100),
        replace in any::<bool>(),
        max_add in 1usize..7,
        max_remove in 1usize..7,
    ) {
        let desired = keys(&d);
        let mut obs = observed(&o);
        let pol = policy(ManagementPolicy::Full, 100, replace);
        let c = caps(max_add, max_remove, true);
        let ledger = Ledger::new("uid");
        let p = plan(&desired, &Some(obs.clone()), &ledger, &pol, &c);
        apply(&mut obs, &p, 1);
        let want: Vec<Phone> = desired.iter().map(|k| k.phone).collect();
        prop_assert_eq!(phones_of(&obs), want);
        if replace {
            for o in &obs {
                let k = desired.iter().find(|k| k.phone == o.phone).expect("desired");
                prop_assert!(o.content_digest.is_none() || o.content_digest == Some(k.digest));
            }
        }
        let again = plan(&desired, &Some(obs), &ledger, &pol, &c);
        prop_assert!(again.is_empty(), "second plan not empty: {:?}", again);
    }

    /// With non-removable contacts: the provider ends as desired plus what cannot be removed.
    #[test]
    fn full_plan_leaves_only_not_removable_extras(
        d in desired_strategy(),
        o in observed_strategy(70),
    ) {
        let desired = keys(&d);
        let mut obs = observed(&o);
        let pol = policy(ManagementPolicy::Full, 100, true);
        let c = caps(3, 2, true);
        let ledger = Ledger::new("uid");
        let p = plan(&desired, &Some(obs.clone()), &ledger, &pol, &c);
        apply(&mut obs, &p, 1);
        let desired_phones: BTreeSet<Phone> = desired.iter().map(|k| k.phone).collect();
        let got: BTreeSet<Phone> = obs.iter().map(|o| o.phone).collect();
        prop_assert!(desired_phones.is_subset(&got));
        for o in &obs {
            prop_assert!(desired_phones.contains(&o.phone) || !o.removable);
        }
        let again = plan(&desired, &Some(obs), &ledger, &pol, &c);
        prop_assert!(again.removes.is_empty());
    }

    /// AddOnly never removes; ObserveOnly writes nothing; the guard is never exceeded and,
    /// when tripped, blocks every removal; batches respect the limits and are as few as can be.
    #[test]
    fn policies_guard_and_batches(
        d in desired_strategy(),
        o in observed_strategy(90),
        pct in 0u32..=100,
        replace in any::<bool>(),
        max_add in 1usize..7,
        max_remove in 1usize..7,
    ) {
        let desired = keys(&d);
        let obs: Observed = Some(observed(&o));
        let ledger = Ledger::new("uid");
        let c = caps(max_add, max_remove, true);
        let add_only = plan(&desired, &obs, &ledger, &policy(ManagementPolicy::AddOnly, pct, replace), &c);
        prop_assert!(add_only.removes.is_empty());
        let observe = plan(&desired, &obs, &ledger, &policy(ManagementPolicy::ObserveOnly, pct, replace), &c);
        prop_assert!(observe.is_empty());
        prop_assert!(observe.adds.is_empty() && observe.removes.is_empty());

        let full = plan(&desired, &obs, &ledger, &policy(ManagementPolicy::Full, pct, replace), &c);
        let removes = full.counts.planned_removes;
        let remote = o.len() as u64;
        if pct < 100 {
            prop_assert!(removes <= guard_limit(remote, pct));
        }
        if let GuardDecision::Tripped { .. } = full.guard {
            prop_assert_eq!(removes, 0);
        }
        for b in &full.adds {
            prop_assert!(!b.items.is_empty() && b.items.len() <= max_add);
        }
        for b in &full.removes {
            prop_assert!(!b.items.is_empty() && b.items.len() <= max_remove);
        }
        let adds = full.counts.planned_adds as usize;
        prop_assert_eq!(
            full.write_calls(),
            adds.div_ceil(max_add) + (removes as usize).div_ceil(max_remove)
        );
    }

    /// The plan does not depend on the order of the desired keys or of the listing.
    #[test]
    fn order_independent(
        d in desired_strategy(),
        o in observed_strategy(80),
        seed in any::<u64>(),
        replace in any::<bool>(),
    ) {
        let desired = keys(&d);
        let obs = observed(&o);
        let ledger = Ledger::new("uid");
        let pol = policy(ManagementPolicy::Full, 60, replace);
        let c = caps(4, 3, true);
        let a = plan(&desired, &Some(obs.clone()), &ledger, &pol, &c);
        let mut d2 = desired.clone();
        let mut o2 = obs.clone();
        shuffle(&mut d2, seed);
        shuffle(&mut o2, seed.rotate_left(17));
        let b = plan(&d2, &Some(o2), &ledger, &pol, &c);
        prop_assert_eq!(a, b);
    }

    /// A provider that cannot list: the ledger is the record. Batches whose responses are lost
    /// (the provider committed them) are settled by the next sync: the provider ends with
    /// exactly the desired phones, one contact each, and the ledger agrees.
    #[test]
    fn ledger_mode_converges_despite_lost_responses(
        first in desired_strategy(),
        second in desired_strategy(),
        drops in prop::collection::vec(any::<bool>(), 64),
    ) {
        let c = caps(4, 1, false);
        let pol = policy(ManagementPolicy::Full, 100, true);
        let mut ledger = Ledger::new("uid");
        let mut provider: BTreeMap<String, Phone> = BTreeMap::new();
        for (round, d) in [&first, &second, &second].into_iter().enumerate() {
            let desired = keys(d);
            let p = plan(&desired, &None, &ledger, &pol, &c);
            // Only the middle round loses responses; the last must then converge.
            let lossy = round == 1;
            execute(&p, &mut ledger, &mut provider, |i| lossy && drops[i % drops.len()]);
        }
        let desired = keys(&second);
        let mut got: Vec<Phone> = provider.values().copied().collect();
        got.sort();
        let want: Vec<Phone> = desired.iter().map(|k| k.phone).collect();
        prop_assert_eq!(got, want.clone());
        let in_ledger: Vec<Phone> = ledger.iter().map(|e| e.phone).collect();
        prop_assert_eq!(in_ledger, want);
        let again = plan(&desired, &None, &ledger, &pol, &c);
        prop_assert!(again.is_empty());
    }
}

/// Runs a plan against a provider keyed by remote id, as an executor would: intent, request,
/// outcome; `lost(i)` makes the i-th item's response disappear after the provider committed it.
fn execute(
    p: &Plan,
    ledger: &mut Ledger,
    provider: &mut BTreeMap<String, Phone>,
    lost: impl Fn(usize) -> bool,
) {
    let mut n = 0;
    for batch in &p.removes {
        let phones: Vec<Phone> = batch.items.iter().map(|i| i.phone).collect();
        ledger.record_remove_intent(&phones);
        for item in &batch.items {
            let id = item.remote_id.clone().expect("remote id");
            let outcome = match provider.remove(&id) {
                Some(_) => ItemOutcome::Accepted,
                None => ItemOutcome::Rejected(Rejection::NotFound),
            };
            n += 1;
            let outcome = if lost(n) {
                ItemOutcome::Unknown
            } else {
                outcome
            };
            ledger.record_remove_outcome(item.phone, outcome);
        }
    }
    for batch in &p.adds {
        let items: Vec<(Phone, ContentDigest)> =
            batch.items.iter().map(|i| (i.phone, i.digest)).collect();
        let ids = ledger.record_add_intent(&items);
        for (item, id) in batch.items.iter().zip(ids) {
            // A new id is added; an id already used is callsync's own earlier add (ids are
            // callsync's): either way the contact is there, and the provider says so for it.
            provider.insert(id.to_string(), item.phone);
            let outcome = ItemOutcome::Accepted;
            n += 1;
            let outcome = if lost(n) {
                ItemOutcome::Unknown
            } else {
                outcome
            };
            ledger.record_add_outcome(item.phone, outcome);
        }
    }
}

/// A deterministic Fisher–Yates shuffle (xorshift), so failures reproduce from the seed.
fn shuffle<T>(v: &mut [T], mut seed: u64) {
    for i in (1..v.len()).rev() {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        v.swap(i, (seed % (i as u64 + 1)) as usize);
    }
}

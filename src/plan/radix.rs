//! LSD radix sort of listing projections by phone.
//!
//! A provider lists contacts in its own order. Sorting a million 16-byte projections with a
//! comparison sort costs more than the whole merge; counting passes over 11-bit digits of the
//! offset from the smallest phone cost less (one country's numbers span about 33 bits, so three
//! passes; passes whose digit is the same everywhere are skipped). The sort is stable, which
//! the planner does not rely on: runs of one phone are ordered by content afterwards.

/// What the merge needs of one listed contact, without touching the listing again.
#[derive(Clone, Copy, Default)]
/// 16 bytes: the content digest stays in the listing (providers rarely return one) and is
/// read from there only when `has_digest` is set.
pub(crate) struct Proj {
    pub phone: u64,
    pub idx: u32,
    pub removable: bool,
    pub has_digest: bool,
}

const BITS: u32 = 11;
const BUCKETS: usize = 1 << BITS;

/// Sorts `v` by `phone`.
pub(crate) fn sort_by_phone(v: &mut Vec<Proj>) {
    // Sort by the offset from the smallest phone: numbers of one country span far fewer
    // bits than the number itself, so fewer passes are needed.
    let min = v.iter().map(|p| p.phone).min().unwrap_or(0);
    let range = v.iter().map(|p| p.phone - min).max().unwrap_or(0);
    let digit = |p: &Proj, shift: u32| ((p.phone - min) >> shift) as usize & (BUCKETS - 1);
    let mut buf = vec![Proj::default(); v.len()];
    let mut shift = 0;
    while shift < 64 && (range >> shift) != 0 {
        let mut counts = vec![0usize; BUCKETS];
        for p in v.iter() {
            counts[digit(p, shift)] += 1;
        }
        if counts.contains(&v.len()) {
            shift += BITS;
            continue; // every item has the same digit here
        }
        let mut sum = 0;
        for c in counts.iter_mut() {
            let n = *c;
            *c = sum;
            sum += n;
        }
        for p in v.iter() {
            let b = digit(p, shift);
            buf[counts[b]] = *p;
            counts[b] += 1;
        }
        std::mem::swap(v, &mut buf);
        shift += BITS;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_like_std() {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut v: Vec<Proj> = (0..5000u32)
            .map(|i| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                Proj {
                    phone: 8_613_000_000_000 + x % 1_000_000_000 * (u64::from(i % 3)),
                    idx: i,
                    ..Proj::default()
                }
            })
            .collect();
        let mut want: Vec<(u64, u32)> = v.iter().map(|p| (p.phone, p.idx)).collect();
        want.sort(); // (phone, idx) = stable order by phone
        sort_by_phone(&mut v);
        let got: Vec<(u64, u32)> = v.iter().map(|p| (p.phone, p.idx)).collect();
        assert_eq!(got, want);
    }
}

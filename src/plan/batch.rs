//! Splitting work into provider-sized batches.
//!
//! Every batch is full except the last, so the number of batches is `ceil(items / max)`, the
//! least any split can make.

/// One provider request's worth of items.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Batch<T> {
    /// The items, in phone order.
    pub items: Vec<T>,
}

/// Splits `items` into batches of at most `max` (a `max` of 0 is treated as 1).
pub fn split<T>(items: Vec<T>, max: usize) -> Vec<Batch<T>> {
    let max = max.max(1);
    let mut out = Vec::with_capacity(items.len().div_ceil(max));
    let mut it = items.into_iter();
    loop {
        let items: Vec<T> = it.by_ref().take(max).collect();
        if items.is_empty() {
            return out;
        }
        out.push(Batch { items });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_into_the_fewest_batches() {
        let b = split((0..250).collect::<Vec<_>>(), 100);
        assert_eq!(
            b.iter().map(|b| b.items.len()).collect::<Vec<_>>(),
            [100, 100, 50]
        );
        assert!(split(Vec::<u8>::new(), 100).is_empty());
        assert_eq!(split(vec![1, 2], 0).len(), 2);
    }
}

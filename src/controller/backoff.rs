//! Per-object exponential backoff with a cap, reset on success. kube-runtime has none built in.
//! The delay function is pure: the caller supplies the jitter draw.
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::Duration;

/// Backoff settings.
#[derive(Clone, Copy, Debug)]
pub struct BackoffPolicy {
    /// Delay after the first failure.
    pub base: Duration,
    /// Longest delay.
    pub cap: Duration,
}

impl Default for BackoffPolicy {
    fn default() -> Self {
        Self {
            base: Duration::from_secs(1),
            cap: Duration::from_secs(300),
        }
    }
}

impl BackoffPolicy {
    /// Delay after `failures` consecutive failures (1 = the first): `base · 2^(failures-1)`,
    /// capped, then scaled by `0.5 + jitter/2` with `jitter` in `[0, 1]` ("equal jitter"), so
    /// many objects failing together do not retry in lockstep.
    pub fn delay(&self, failures: u32, jitter: f64) -> Duration {
        let exponent = failures.saturating_sub(1).min(30);
        let raw = self.base.saturating_mul(1u32 << exponent).min(self.cap);
        raw.mul_f64(0.5 + jitter.clamp(0.0, 1.0) / 2.0)
    }
}

/// Consecutive failures per object.
#[derive(Debug)]
pub struct FailureCounts<K> {
    counts: Mutex<HashMap<K, u32>>,
}

impl<K> Default for FailureCounts<K> {
    fn default() -> Self {
        Self {
            counts: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: Eq + Hash + Clone> FailureCounts<K> {
    /// Records a failure and returns how many in a row there have been.
    pub fn record_failure(&self, key: &K) -> u32 {
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let count = counts.entry(key.clone()).or_insert(0);
        *count = count.saturating_add(1);
        *count
    }

    /// Forgets the failures of `key` after a success.
    pub fn reset(&self, key: &K) {
        self.counts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_exponentially_up_to_the_cap() {
        let policy = BackoffPolicy {
            base: Duration::from_secs(1),
            cap: Duration::from_secs(60),
        };
        let full = |n| policy.delay(n, 1.0);
        assert_eq!(full(1), Duration::from_secs(1));
        assert_eq!(full(2), Duration::from_secs(2));
        assert_eq!(full(5), Duration::from_secs(16));
        assert_eq!(full(7), Duration::from_secs(60));
        assert_eq!(full(1000), Duration::from_secs(60));
        assert_eq!(policy.delay(5, 0.0), Duration::from_secs(8));
    }

    #[test]
    fn success_resets_the_count() {
        let counts = FailureCounts::default();
        assert_eq!(counts.record_failure(&"a"), 1);
        assert_eq!(counts.record_failure(&"a"), 2);
        assert_eq!(counts.record_failure(&"b"), 1);
        counts.reset(&"a");
        assert_eq!(counts.record_failure(&"a"), 1);
    }
}

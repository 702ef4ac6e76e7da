//! One token bucket per CallProvider account, shared by every client of that account.
//!
//! Ten CallTasks on one account build ten provider clients; all of them get the same limiter
//! from [`RateLimiters`], so together they never exceed the account's `spec.rateLimit`. Every
//! HTTP attempt (retries, confirmation polls, pause/resume included) takes a token first.
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota};
use tokio::time::Instant;

use crate::api::RateLimit;

/// Requests per second when the CallProvider sets no `rateLimit`: providers publish no limits,
/// so the default is conservative.
pub const DEFAULT_REQUESTS_PER_SECOND: u32 = 5;
/// Burst when the CallProvider sets no `rateLimit`.
pub const DEFAULT_BURST: u32 = 5;

/// A GCRA token bucket: at most `burst + rate × t` requests in any window of length `t`.
///
/// When the provider says it is overloaded (429, "too many requests", "system busy"), the whole
/// account backs off: [`Limiter::back_off`] holds every client of the account until then, not
/// only the request that was refused.
#[derive(Debug)]
pub struct Limiter {
    inner: DefaultDirectRateLimiter,
    requests_per_second: u32,
    burst: u32,
    paused_until: Mutex<Option<Instant>>,
}

impl Limiter {
    /// A bucket of `burst` tokens refilled at `requests_per_second` (both at least 1).
    pub fn new(requests_per_second: u32, burst: u32) -> Self {
        let rate = NonZeroU32::new(requests_per_second).unwrap_or(NonZeroU32::MIN);
        let burst_nz = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
        Self {
            inner: DefaultDirectRateLimiter::direct(Quota::per_second(rate).allow_burst(burst_nz)),
            requests_per_second: rate.get(),
            burst: burst_nz.get(),
            paused_until: Mutex::new(None),
        }
    }

    /// The limiter for a CallProvider's `spec.rateLimit` (defaults when unset).
    pub fn from_spec(limit: Option<&RateLimit>) -> Self {
        let (rate, burst) = effective(limit);
        Self::new(rate, burst)
    }

    /// Waits until a request may be sent (after any account-wide back-off), and takes its
    /// token.
    pub async fn acquire(&self) {
        loop {
            let until = *self
                .paused_until
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            match until {
                Some(until) if until > Instant::now() => tokio::time::sleep_until(until).await,
                _ => break,
            }
        }
        self.inner.until_ready().await;
    }

    /// Holds every request of the account for `wait` (extends, never shortens, a running
    /// back-off).
    pub fn back_off(&self, wait: Duration) {
        let until = Instant::now() + wait;
        let mut paused = self
            .paused_until
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if paused.is_none_or(|current| current < until) {
            *paused = Some(until);
        }
    }

    pub fn requests_per_second(&self) -> u32 {
        self.requests_per_second
    }

    pub fn burst(&self) -> u32 {
        self.burst
    }
}

fn effective(limit: Option<&RateLimit>) -> (u32, u32) {
    match limit {
        Some(l) => (
            u32::try_from(l.requests_per_second).unwrap_or(1).max(1),
            u32::try_from(l.burst).unwrap_or(1).max(1),
        ),
        None => (DEFAULT_REQUESTS_PER_SECOND, DEFAULT_BURST),
    }
}

/// Identifies one CallProvider object: namespace, name and uid (a CallProvider deleted and
/// created again under the same name is another account and gets a fresh bucket).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AccountKey {
    pub namespace: String,
    pub name: String,
    pub uid: String,
}

impl AccountKey {
    pub fn new(
        namespace: impl Into<String>,
        name: impl Into<String>,
        uid: impl Into<String>,
    ) -> Self {
        Self {
            namespace: namespace.into(),
            name: name.into(),
            uid: uid.into(),
        }
    }
}

/// The registry: hands out the same [`Limiter`] for the same account and limit. Cheap to clone
/// (shared inside); the controller keeps one for its lifetime.
#[derive(Debug, Clone, Default)]
pub struct RateLimiters {
    inner: Arc<Mutex<HashMap<AccountKey, Arc<Limiter>>>>,
}

impl RateLimiters {
    pub fn new() -> Self {
        Self::default()
    }

    /// The account's limiter. When `spec.rateLimit` changed since the limiter was made, a new one
    /// replaces it (clients built before keep the old one until they are rebuilt).
    pub fn get(&self, key: &AccountKey, limit: Option<&RateLimit>) -> Arc<Limiter> {
        let (rate, burst) = effective(limit);
        let mut map = self
            .inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(existing) = map.get(key)
            && existing.requests_per_second == rate
            && existing.burst == burst
        {
            return existing.clone();
        }
        let limiter = Arc::new(Limiter::new(rate, burst));
        map.insert(key.clone(), limiter.clone());
        limiter
    }

    /// Forgets an account (its CallProvider was deleted).
    pub fn remove(&self, key: &AccountKey) {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(key);
    }

    /// Accounts with a limiter.
    pub fn len(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_account_same_limiter() {
        let registry = RateLimiters::new();
        let key = AccountKey::new("ns", "acct", "uid-1");
        let limit = RateLimit {
            requests_per_second: 3,
            burst: 2,
        };
        let a = registry.get(&key, Some(&limit));
        let b = registry.get(&key, Some(&limit));
        assert!(Arc::ptr_eq(&a, &b));
        let other = registry.get(&AccountKey::new("ns", "acct", "uid-2"), Some(&limit));
        assert!(!Arc::ptr_eq(&a, &other));
        let changed = registry.get(
            &key,
            Some(&RateLimit {
                requests_per_second: 4,
                burst: 2,
            }),
        );
        assert!(!Arc::ptr_eq(&a, &changed));
        assert_eq!(changed.requests_per_second(), 4);
        assert_eq!(registry.len(), 2);
    }

    #[test]
    fn defaults_when_unset() {
        let l = Limiter::from_spec(None);
        assert_eq!(l.requests_per_second(), DEFAULT_REQUESTS_PER_SECOND);
        assert_eq!(l.burst(), DEFAULT_BURST);
    }

    #[tokio::test]
    async fn back_off_holds_everyone() {
        let l = Limiter::new(1000, 1000);
        l.back_off(Duration::from_millis(120));
        l.back_off(Duration::from_millis(10)); // does not shorten it
        let start = std::time::Instant::now();
        l.acquire().await;
        assert!(start.elapsed() >= Duration::from_millis(110));
    }

    #[tokio::test]
    async fn burst_then_rate() {
        let l = Limiter::new(20, 3);
        let start = std::time::Instant::now();
        for _ in 0..3 {
            l.acquire().await;
        }
        assert!(start.elapsed() < std::time::Duration::from_millis(40));
        for _ in 0..4 {
            l.acquire().await;
        }
        // 4 more at 20/s take at least ~150 ms (the first token is back after 50 ms).
        assert!(start.elapsed() >= std::time::Duration::from_millis(140));
    }
}

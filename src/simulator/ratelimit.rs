//! Per-account token bucket.
//!
//! A dozen lines instead of `governor`: each account has its own quota that the admin API can
//! change at run time, and the bucket lives inside the state lock next to the account, so a
//! keyed limiter with one shared quota would not fit and a map of direct limiters would add
//! six crates for what this does.
use std::time::Instant;

use super::config::RateLimitConfig;

#[derive(Debug, Clone)]
pub struct TokenBucket {
    per_second: f64,
    capacity: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(limit: RateLimitConfig, now: Instant) -> Self {
        let capacity = f64::from(limit.burst.max(1));
        Self {
            per_second: limit.requests_per_second.max(0.0),
            capacity,
            tokens: capacity,
            last: now,
        }
    }

    /// Refills for the time since the last call, then takes a token if there is one.
    pub fn try_take(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = self.last.max(now);
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.capacity);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn burst_then_refill() {
        let now = Instant::now();
        let mut bucket = TokenBucket::new(
            RateLimitConfig {
                requests_per_second: 10.0,
                burst: 3,
            },
            now,
        );
        assert!(bucket.try_take(now));
        assert!(bucket.try_take(now));
        assert!(bucket.try_take(now));
        assert!(!bucket.try_take(now));
        assert!(!bucket.try_take(now + Duration::from_millis(50)));
        assert!(bucket.try_take(now + Duration::from_millis(110)));
        assert!(!bucket.try_take(now + Duration::from_millis(110)));
    }
}

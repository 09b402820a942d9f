//! Token-bucket rate limits: per user for every signed-in request (checked by the
//! [`crate::auth::AuthUser`] extractor), per client IP for sign-up and sign-in. Over the
//! limit answers 429 `rate_limited` with `Retry-After: <seconds>`.
//!
//! Time comes from the server's [`crate::Clock`], so tests with a manual clock are exact.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};

/// A bucket of `burst` tokens refilled at `per_second`; each request takes one.
/// `per_second <= 0` disables the limit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    pub per_second: f64,
    pub burst: u32,
}

impl RateLimit {
    /// No limit at all.
    pub const UNLIMITED: RateLimit = RateLimit {
        per_second: 0.0,
        burst: 0,
    };

    pub fn is_unlimited(&self) -> bool {
        self.per_second <= 0.0 || self.burst == 0
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: DateTime<Utc>,
}

/// The buckets of one kind of key (user ids, or IPs).
#[derive(Debug)]
pub struct RateLimiter {
    limit: RateLimit,
    buckets: Mutex<HashMap<String, Bucket>>,
}

/// Buckets kept before idle (full) ones are forgotten.
const MAX_BUCKETS: usize = 10_000;

impl RateLimiter {
    pub fn new(limit: RateLimit) -> RateLimiter {
        RateLimiter {
            limit,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    pub fn limit(&self) -> RateLimit {
        self.limit
    }

    /// Takes a token for `key` at `now`; `Err(seconds)` says when one will be available.
    pub fn check(&self, key: &str, now: DateTime<Utc>) -> Result<(), u64> {
        if self.limit.is_unlimited() {
            return Ok(());
        }
        let burst = self.limit.burst as f64;
        let rate = self.limit.per_second;
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() >= MAX_BUCKETS && !buckets.contains_key(key) {
            buckets.retain(|_, b| refill(*b, now, rate, burst) < burst);
        }
        let bucket = buckets.entry(key.to_owned()).or_insert(Bucket {
            tokens: burst,
            at: now,
        });
        let tokens = refill(*bucket, now, rate, burst);
        if tokens >= 1.0 {
            *bucket = Bucket {
                tokens: tokens - 1.0,
                at: now,
            };
            Ok(())
        } else {
            *bucket = Bucket { tokens, at: now };
            let wait = (1.0 - tokens) / rate;
            Err((wait.ceil() as u64).max(1))
        }
    }
}

fn refill(b: Bucket, now: DateTime<Utc>, rate: f64, burst: f64) -> f64 {
    // A clock that went backwards refills nothing (and takes nothing away).
    let elapsed = (now - b.at).num_microseconds().unwrap_or(i64::MAX).max(0) as f64 / 1e6;
    (b.tokens + elapsed * rate).min(burst)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_empties_and_refills() {
        let l = RateLimiter::new(RateLimit {
            per_second: 0.5,
            burst: 3,
        });
        let t0 = Utc::now();
        for _ in 0..3 {
            assert_eq!(l.check("a", t0), Ok(()));
        }
        assert_eq!(l.check("a", t0), Err(2), "one token takes 2 s at 0.5/s");
        assert_eq!(l.check("b", t0), Ok(()), "keys are independent");
        let t1 = t0 + chrono::Duration::seconds(2);
        assert_eq!(l.check("a", t1), Ok(()));
        assert!(l.check("a", t1).is_err());
        let later = t0 + chrono::Duration::hours(1);
        for _ in 0..3 {
            assert_eq!(l.check("a", later), Ok(()), "refilled to the burst only");
        }
        assert!(l.check("a", later).is_err());
    }

    #[test]
    fn unlimited_never_refuses() {
        let l = RateLimiter::new(RateLimit::UNLIMITED);
        let now = Utc::now();
        for _ in 0..10_000 {
            assert_eq!(l.check("a", now), Ok(()));
        }
    }
}

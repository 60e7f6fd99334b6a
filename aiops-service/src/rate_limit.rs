//! Token buckets per caller. [`RateLimiter::new`] limits requests per second per token:
//! over the rate is [`ServiceError::Busy`] (429 with `Retry-After`).
//! [`RateLimiter::per_minute`] with [`RateLimiter::allowed`] and [`RateLimiter::take`]
//! limits failed authentications per client address: only failures take from the bucket, and
//! an address whose bucket is empty is refused before its credential is checked. Memory is
//! bounded: at most [`MAX_CALLERS`] buckets, the idle ones dropped first when full.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::error::{Result, ServiceError};

/// Most callers tracked at once.
pub const MAX_CALLERS: usize = 10_000;

/// A token-bucket limiter; a rate of 0 allows everything.
#[derive(Debug)]
pub struct RateLimiter {
    /// Tokens refilled per second.
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, (f64, i64)>>,
}

impl RateLimiter {
    /// `rate` requests per second, bursts up to twice that (at least 1).
    pub fn new(rate: u32) -> Self {
        let rate = f64::from(rate);
        Self::with(rate, (rate * 2.0).max(1.0))
    }

    /// `count` events per minute, all of them possible at once (a burst of `count`).
    pub fn per_minute(count: u32) -> Self {
        Self::with(f64::from(count) / 60.0, f64::from(count).max(1.0))
    }

    fn with(rate: f64, burst: f64) -> Self {
        Self {
            rate,
            burst,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one request of `caller` at `now` (ms).
    pub fn check(&self, caller: &str, now: i64) -> Result<()> {
        self.bucket(caller, now, true)
    }

    /// Whether `caller` has a token left at `now` (ms), without taking it.
    pub fn allowed(&self, caller: &str, now: i64) -> Result<()> {
        self.bucket(caller, now, false)
    }

    /// Takes one token of `caller` at `now` (ms) if one is left (a failure counted).
    pub fn take(&self, caller: &str, now: i64) {
        // An empty bucket stays empty: the error only says so.
        let _ = self.bucket(caller, now, true);
    }

    fn bucket(&self, caller: &str, now: i64, consume: bool) -> Result<()> {
        if self.rate <= 0.0 {
            return Ok(());
        }
        let mut b = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if b.len() >= MAX_CALLERS && !b.contains_key(caller) {
            // Drop the buckets that are full again (idle callers): they hold no state.
            let (rate, burst) = (self.rate, self.burst);
            b.retain(|_, (tokens, at)| *tokens + (now - *at) as f64 / 1e3 * rate < burst);
            if b.len() >= MAX_CALLERS {
                return Err(ServiceError::Busy {
                    what: "rate limiter".into(),
                    retry_after_s: 1,
                });
            }
        }
        let (tokens, at) = b.entry(caller.to_string()).or_insert((self.burst, now));
        *tokens = (*tokens + (now - *at).max(0) as f64 / 1e3 * self.rate).min(self.burst);
        *at = now;
        if *tokens >= 1.0 {
            if consume {
                *tokens -= 1.0;
            }
            Ok(())
        } else {
            let wait = ((1.0 - *tokens) / self.rate).ceil().max(1.0) as u64;
            Err(ServiceError::Busy {
                what: format!("request rate of {caller}"),
                retry_after_s: wait,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bursts_pass_then_the_rate_holds_per_caller() {
        let l = RateLimiter::new(2);
        for _ in 0..4 {
            l.check("a", 0).unwrap();
        }
        let e = l.check("a", 0).unwrap_err();
        assert_eq!(e.status(), 429);
        l.check("b", 0).unwrap();
        // Half a second refills one request at 2/s.
        l.check("a", 500).unwrap();
        assert!(l.check("a", 500).is_err());
        assert!(RateLimiter::new(0).check("a", 0).is_ok());
    }

    #[test]
    fn only_failures_empty_a_per_minute_bucket() {
        let l = RateLimiter::per_minute(3);
        for _ in 0..10 {
            l.allowed("10.0.0.1", 0).unwrap();
        }
        for _ in 0..3 {
            l.take("10.0.0.1", 0);
        }
        let e = l.allowed("10.0.0.1", 0).unwrap_err();
        assert_eq!(e.status(), 429);
        let ServiceError::Busy { retry_after_s, .. } = e else {
            panic!("{e}")
        };
        assert_eq!(
            retry_after_s, 20,
            "one failure comes back every 20 s at 3 a minute"
        );
        l.allowed("10.0.0.2", 0).unwrap();
        assert!(l.allowed("10.0.0.1", 19_000).is_err());
        l.allowed("10.0.0.1", 20_000).unwrap();
        assert!(RateLimiter::per_minute(0).allowed("a", 0).is_ok());
    }
}

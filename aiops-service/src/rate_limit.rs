//! Requests per second per caller (a token bucket per subject): over the rate is
//! [`ServiceError::Busy`] (429 with `Retry-After`). Memory is bounded: at most
//! [`MAX_CALLERS`] buckets, the idle ones dropped first when full.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::error::{Result, ServiceError};

/// Most callers tracked at once.
pub const MAX_CALLERS: usize = 10_000;

/// A token-bucket limiter; `rate` 0 allows everything.
#[derive(Debug)]
pub struct RateLimiter {
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, (f64, i64)>>,
}

impl RateLimiter {
    /// `rate` requests per second, bursts up to twice that (at least 1).
    pub fn new(rate: u32) -> Self {
        let rate = f64::from(rate);
        Self {
            rate,
            burst: (rate * 2.0).max(1.0),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one request of `caller` at `now` (ms).
    pub fn check(&self, caller: &str, now: i64) -> Result<()> {
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
            *tokens -= 1.0;
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
}

//! In-process rate limits: a sliding window of recent events per key (a terminal id), used for
//! the per-terminal sign-in limit and the reconciliation report limit.
//!
//! Deliberately absent: persistence. A restart forgets the windows, which is harmless: the
//! per-operator lockout that actually stops PIN guessing is stored (`sign_in_failures`), and a
//! restart costs an attacker far more time than a window. Time is passed in, never read here.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

/// Keys held at most; beyond it, keys with no recent event are forgotten first. A shop has tens
/// of terminals, so this bound only matters against a flood of made-up keys.
const KEYS_MAX: usize = 10_000;

/// A limit: at most `events_max` events per key within any `window_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub events_max: usize,
    pub window_ms: i64,
}

/// Recent events per key, checked against a [`Limit`] the caller passes (it comes from the
/// central's `Config`, which may differ in tests).
#[derive(Debug, Default)]
pub struct RateLimiter {
    /// Recent event times per key, oldest first; older ones are dropped as they leave a window.
    recent: Mutex<HashMap<String, VecDeque<i64>>>,
}

impl RateLimiter {
    /// `Err(retry_after_ms)` when `key` already had `events_max` events in the window ending
    /// `now`; otherwise nothing is recorded (see [`RateLimiter::record`]).
    pub fn check(&self, limit: Limit, key: &str, now: i64) -> Result<(), i64> {
        let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        let Some(times) = recent.get_mut(key) else {
            return Ok(());
        };
        while times.front().is_some_and(|t| *t <= now - limit.window_ms) {
            times.pop_front();
        }
        if times.len() >= limit.events_max {
            let oldest = times.front().copied().unwrap_or(now);
            return Err((oldest + limit.window_ms - now).max(1));
        }
        Ok(())
    }

    /// Records an event of `key` at `now`.
    pub fn record(&self, limit: Limit, key: &str, now: i64) {
        let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        if recent.len() >= KEYS_MAX && !recent.contains_key(key) {
            let horizon = now - limit.window_ms;
            recent.retain(|_, times| times.back().is_some_and(|t| *t > horizon));
            if recent.len() >= KEYS_MAX {
                return;
            }
        }
        let times = recent.entry(key.to_string()).or_default();
        times.push_back(now);
        while times.len() > limit.events_max {
            times.pop_front();
        }
    }

    /// [`RateLimiter::check`] and, when allowed, [`RateLimiter::record`] in one step.
    pub fn take(&self, limit: Limit, key: &str, now: i64) -> Result<(), i64> {
        self.check(limit, key, now)?;
        self.record(limit, key, now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_allows_its_events_then_refuses_until_the_oldest_leaves() {
        let limiter = RateLimiter::default();
        let l = Limit {
            events_max: 2,
            window_ms: 1_000,
        };
        assert_eq!(limiter.take(l, "t1", 0), Ok(()));
        assert_eq!(limiter.take(l, "t1", 100), Ok(()));
        assert_eq!(limiter.take(l, "t1", 200), Err(800));
        assert_eq!(limiter.take(l, "t2", 200), Ok(()), "keys are separate");
        assert_eq!(limiter.take(l, "t1", 1_000), Ok(()));
        assert_eq!(limiter.check(l, "t1", 1_050), Err(50));
    }

    #[test]
    fn check_alone_records_nothing() {
        let limiter = RateLimiter::default();
        let l = Limit {
            events_max: 1,
            window_ms: 1_000,
        };
        for _ in 0..5 {
            assert_eq!(limiter.check(l, "t1", 0), Ok(()));
        }
        limiter.record(l, "t1", 0);
        assert_eq!(limiter.check(l, "t1", 10), Err(990));
    }
}

//! The outbox relay's retry policy: exponential backoff with full jitter.
//!
//! Pure: the random input is passed in, so a test can pin it and the relay can use any source.

/// The first retry waits up to this long (a brief network blip heals within it).
pub const BACKOFF_MS_BASE: u64 = 200;

/// No retry waits longer than this: a central that comes back is noticed within a minute.
pub const BACKOFF_MS_MAX: u64 = 60_000;

/// The ceiling of the wait after `failures` consecutive failures (1-based), before jitter.
pub fn backoff_ceiling_ms(failures: u32) -> u64 {
    let shift = failures.saturating_sub(1).min(20);
    BACKOFF_MS_BASE
        .saturating_mul(1u64 << shift)
        .min(BACKOFF_MS_MAX)
}

/// "Full jitter" (AWS architecture blog): a uniform wait in `[0, ceiling]`, so terminals that lost
/// the central together do not come back in lock-step. `random` is any uniformly random u64.
pub fn backoff_ms(failures: u32, random: u64) -> u64 {
    if failures == 0 {
        return 0;
    }
    random % (backoff_ceiling_ms(failures) + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceiling_doubles_then_caps() {
        assert_eq!(backoff_ceiling_ms(1), 200);
        assert_eq!(backoff_ceiling_ms(2), 400);
        assert_eq!(backoff_ceiling_ms(9), 51_200);
        assert_eq!(backoff_ceiling_ms(10), BACKOFF_MS_MAX);
        assert_eq!(backoff_ceiling_ms(u32::MAX), BACKOFF_MS_MAX);
    }

    #[test]
    fn jitter_stays_within_ceiling() {
        assert_eq!(backoff_ms(0, 12345), 0);
        for failures in 1..40 {
            for random in [0, 1, 199, 200, u64::MAX, 987_654_321] {
                assert!(backoff_ms(failures, random) <= backoff_ceiling_ms(failures));
            }
        }
        assert_eq!(backoff_ms(1, 200), 200);
        assert_eq!(backoff_ms(1, 201), 0);
    }
}

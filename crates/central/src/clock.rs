//! The server's clock: the one place the central reads the time. Leases are computed with it, so
//! terminals' clocks never decide who holds an order. Deliberately absent: any smoothing of a
//! clock that steps backwards — a claim's holding starts no earlier than the previous one ended
//! (see `Store::claim`), which is the ordering that matters.

use std::time::{SystemTime, UNIX_EPOCH};

use paydesk_core::Timestamp;

/// Now, in milliseconds since the Unix epoch.
pub fn now() -> Timestamp {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    Timestamp::from_unix_ms(ms)
}

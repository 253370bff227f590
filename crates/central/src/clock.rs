//! The server's clock: the one place the central reads the time. Leases are computed with it, so
//! terminals' clocks never decide who holds an order.

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

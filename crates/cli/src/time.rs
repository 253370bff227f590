//! Reading the times people type: RFC 3339 (`2026-11-22T08:00:00Z`, `…+01:00`) or a bare UTC date
//! (`2026-11-22`, meaning its midnight).
//!
//! Deliberately absent: local time zones and relative phrases ("yesterday") — a journal query
//! must mean the same thing on every machine.

use chrono::{DateTime, NaiveDate};
use paydesk_core::Timestamp;

use crate::exit::Failure;

/// Parses `text` given to `flag`; a usage error that shows the accepted forms otherwise.
pub fn parse_time(flag: &str, text: &str) -> Result<Timestamp, Failure> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(Timestamp::from_unix_ms(t.timestamp_millis()));
    }
    if let Ok(day) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        let midnight = day.and_hms_opt(0, 0, 0).expect("midnight exists");
        return Ok(Timestamp::from_unix_ms(
            midnight.and_utc().timestamp_millis(),
        ));
    }
    Err(Failure::usage(format!(
        "{flag} {text:?} is not a time: write RFC 3339 like 2026-11-22T08:00:00Z (or \
         2026-11-22T09:00:00+01:00), or a UTC date like 2026-11-22"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_rfc3339_and_dates() {
        assert_eq!(
            parse_time("--from", "2026-11-22T08:39:18.123Z").unwrap(),
            Timestamp::from_unix_ms(1_795_336_758_123)
        );
        assert_eq!(
            parse_time("--from", "2026-11-22T09:39:18.123+01:00").unwrap(),
            Timestamp::from_unix_ms(1_795_336_758_123)
        );
        assert_eq!(
            parse_time("--from", "1970-01-02").unwrap(),
            Timestamp::from_unix_ms(86_400_000)
        );
        let err = parse_time("--to", "yesterday").unwrap_err();
        assert_eq!(err.code, crate::exit::USAGE);
        assert!(err.error.to_string().contains("RFC 3339"));
    }
}

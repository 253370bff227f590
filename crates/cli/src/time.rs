//! Reading the times people type: RFC 3339 (`2026-11-22T08:00:00Z`, `…+01:00`) or a bare UTC date
//! (`2026-11-22`). A date that starts a range (`--from`) means its midnight; a date that ends one
//! (`--to`) includes that whole day, so `--from 2026-11-30 --to 2026-11-30` is that day. A time
//! that ends a range is exclusive.
//!
//! Deliberately absent: local time zones and relative phrases ("yesterday") — a journal query
//! must mean the same thing on every machine.

use chrono::{DateTime, NaiveDate};
use paydesk_core::Timestamp;

use crate::exit::Failure;

/// Milliseconds in a day.
pub const DAY_MS: i64 = 86_400_000;

/// A time as typed: an instant, or a whole UTC day starting at `Day`'s midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Typed {
    Instant(Timestamp),
    Day(Timestamp),
}

fn parse(flag: &str, text: &str) -> Result<Typed, Failure> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(Typed::Instant(Timestamp::from_unix_ms(
            t.timestamp_millis(),
        )));
    }
    if let Ok(day) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        let midnight = day.and_hms_opt(0, 0, 0).expect("midnight exists");
        return Ok(Typed::Day(Timestamp::from_unix_ms(
            midnight.and_utc().timestamp_millis(),
        )));
    }
    Err(Failure::usage(format!(
        "{flag} {text:?} is not a time: write RFC 3339 like 2026-11-22T08:00:00Z (or \
         2026-11-22T09:00:00+01:00), or a UTC date like 2026-11-22"
    )))
}

/// The start of a range given to `flag` (inclusive): a date means its midnight (UTC).
pub fn parse_time(flag: &str, text: &str) -> Result<Timestamp, Failure> {
    Ok(match parse(flag, text)? {
        Typed::Instant(t) | Typed::Day(t) => t,
    })
}

/// The end of a range given to `flag` (exclusive): a date includes its whole day, so the end is
/// the next midnight (UTC); a time is the first instant not included.
pub fn parse_end(flag: &str, text: &str) -> Result<Timestamp, Failure> {
    Ok(match parse(flag, text)? {
        Typed::Instant(t) => t,
        Typed::Day(t) => t.plus_ms(DAY_MS),
    })
}

/// The midnight (UTC) that starts the day holding `t`.
pub fn day_start(t: Timestamp) -> Timestamp {
    Timestamp::from_unix_ms(t.unix_ms().div_euclid(DAY_MS) * DAY_MS)
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
        assert_eq!(
            parse_end("--to", "1970-01-02").unwrap(),
            Timestamp::from_unix_ms(2 * 86_400_000),
            "a date ends a range at the end of that day"
        );
        assert_eq!(
            parse_end("--to", "1970-01-02T00:00:00Z").unwrap(),
            Timestamp::from_unix_ms(86_400_000),
            "a time ends a range at that instant"
        );
        assert_eq!(
            day_start(Timestamp::from_unix_ms(86_400_000 + 5)),
            Timestamp::from_unix_ms(86_400_000)
        );
        let err = parse_time("--to", "yesterday").unwrap_err();
        assert_eq!(err.code, crate::exit::USAGE);
        assert!(err.error.to_string().contains("RFC 3339"));
    }
}

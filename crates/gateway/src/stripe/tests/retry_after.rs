//! Connector tests for a 429's `Retry-After`, against the scripted server: the wait it asks for is
//! the wait the connector makes (not its own millisecond backoff), and a wait beyond
//! `RETRY_AFTER_MS_MAX` in all is not made: the request ends `Unknown` at once, saying why.
//! Deliberately absent: parsing edge cases (unit tests in `transport.rs`).

use std::time::{Duration, Instant};

use super::*;
use crate::stripe::transport::RETRY_AFTER_MS_MAX;

/// Stripe's 429 with a `Retry-After` header.
fn rate_limited_for(retry_after: &str) -> Act {
    let body = serde_json::json!({ "error": {
        "type": "invalid_request_error", "code": "rate_limit",
        "message": "Too many requests hit the API too quickly."
    }})
    .to_string();
    Act::Raw(
        format!(
            "HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\nRetry-After: {retry_after}\r\nRequest-Id: req_test\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .into_bytes(),
    )
}

/// Confirms against the script; returns the outcome, the detail of an `Unknown`, how long the
/// call took and how many requests the server saw.
async fn confirm_against(acts: Vec<Act>) -> (ChargeOutcome, String, Duration, usize) {
    let server = Scripted::start(acts).await;
    let started = Instant::now();
    let result = gateway(&server.base_url)
        .confirm_intent(&confirm_request())
        .await
        .unwrap();
    let took = started.elapsed();
    let detail = match &result {
        ConfirmResult::Unknown { detail, .. } => detail.clone(),
        _ => String::new(),
    };
    (result.outcome(), detail, took, server.requests().len())
}

#[tokio::test]
async fn a_429_waits_as_long_as_retry_after_asks() {
    // The test config's own backoff is at most 5 ms: a wait of a second is Retry-After's.
    let (outcome, _, took, requests) =
        confirm_against(vec![rate_limited_for("1"), intent_reply("succeeded")]).await;
    assert_eq!(outcome, ChargeOutcome::Succeeded);
    assert_eq!(requests, 2);
    assert!(took >= Duration::from_millis(1_000), "waited only {took:?}");
    assert!(took < Duration::from_millis(1_900), "waited {took:?}");
}

#[tokio::test]
async fn retry_after_zero_and_an_unreadable_value_retry_at_once() {
    let (outcome, _, took, requests) = confirm_against(vec![
        rate_limited_for("0"),
        rate_limited_for("soon"),
        intent_reply("succeeded"),
    ])
    .await;
    assert_eq!(outcome, ChargeOutcome::Succeeded);
    assert_eq!(requests, 3);
    assert!(took < Duration::from_millis(900), "waited {took:?}");
}

#[tokio::test]
async fn a_wait_longer_than_the_bound_is_not_made() {
    let (outcome, detail, took, requests) =
        confirm_against(vec![rate_limited_for("60"), intent_reply("succeeded")]).await;
    assert_eq!(outcome, ChargeOutcome::Unknown);
    assert_eq!(requests, 1, "no retry when the wait is too long");
    assert!(
        took < Duration::from_millis(900),
        "gave up only after {took:?}"
    );
    assert!(
        detail.contains("asked to wait 60 s") && detail.contains("try again later"),
        "{detail}"
    );
}

#[tokio::test]
async fn the_bound_counts_every_wait_of_one_request() {
    // 3 s are waited; the next 3 s would pass the 5 s bound, so the second 429 ends the request.
    assert_eq!(RETRY_AFTER_MS_MAX, 5_000);
    let (outcome, detail, took, requests) = confirm_against(vec![
        rate_limited_for("3"),
        rate_limited_for("3"),
        intent_reply("succeeded"),
    ])
    .await;
    assert_eq!(outcome, ChargeOutcome::Unknown);
    assert_eq!(requests, 2);
    assert!(took >= Duration::from_millis(3_000), "waited only {took:?}");
    assert!(took < Duration::from_millis(3_900), "waited {took:?}");
    assert!(detail.contains("asked to wait 3 s"), "{detail}");
}

#[tokio::test]
async fn an_http_date_is_waited_until() {
    // Two seconds ahead, whole seconds (the header has no fractions): waits between 1 and 2 s.
    let at = std::time::SystemTime::now() + Duration::from_secs(2);
    let date = http_date(at);
    let (outcome, _, took, requests) =
        confirm_against(vec![rate_limited_for(&date), intent_reply("succeeded")]).await;
    assert_eq!(outcome, ChargeOutcome::Succeeded);
    assert_eq!(requests, 2);
    assert!(took >= Duration::from_millis(900), "waited only {took:?}");
    assert!(took < Duration::from_millis(2_900), "waited {took:?}");
}

/// An IMF-fixdate for `at` (whole seconds), for the test only.
fn http_date(at: std::time::SystemTime) -> String {
    let secs = at.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // H. Hinnant's `civil_from_days`.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let weekday = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][days.rem_euclid(7) as usize];
    let months = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{weekday}, {day:02} {} {year} {:02}:{:02}:{:02} GMT",
        months[(month - 1) as usize],
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

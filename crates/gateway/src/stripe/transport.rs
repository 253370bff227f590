//! One Stripe HTTP exchange, classified: an object, a refusal with Stripe's error object, or a
//! failure that is either "never sent" or "may have landed".
//!
//! This is the only place that decides, from a transport error, whether a request can have
//! reached the gateway, and the only place that retries (429 and 409 `idempotency_key_in_use`,
//! under the same idempotency key, bounded). A 429's `Retry-After` is honoured, within
//! [`RETRY_AFTER_MS_MAX`] in all. It knows nothing about what the request meant.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use paydesk_core::IdempotencyKey;
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use reqwest::Method;
use serde_json::Value;

use super::form::Form;
use super::wire::{WireError, WireErrorEnvelope};
use super::{StripeGateway, RESPONSE_BYTES_MAX, STRIPE_VERSION};

/// The most a request waits in all for the `Retry-After`s of its 429s. A gateway that asks for
/// longer gets no retry: the request ends as if its retries had run out (`Unknown`, and recovery
/// asks again later under the same key), since an operator is waiting at the desk.
pub const RETRY_AFTER_MS_MAX: u64 = 5_000;

/// A usable answer from Stripe.
#[derive(Debug)]
pub(crate) enum Reply {
    /// A 2xx answer with a JSON body.
    Object(Value),
    /// A 4xx answer (other than the retried ones) with Stripe's error object. Stripe executed
    /// nothing for it, except where the error object says otherwise (card errors carry the
    /// intent after the failed attempt).
    Refusal {
        status: u16,
        error: WireError,
        request_id: Option<String>,
    },
}

/// No usable answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Failure {
    /// The request provably never reached the gateway (no connection could be made).
    NotSent(String),
    /// The request may have landed: timeout, dropped connection, 5xx, a body that is not a
    /// complete JSON document, or retries that ran out.
    Unknown(String),
}

impl StripeGateway {
    /// Sends one request, retrying only where Stripe asks for it, and classifies the answer.
    pub(crate) async fn send(
        &self,
        method: Method,
        path: &str,
        query: Option<&Form>,
        body: Option<&Form>,
        key: Option<&IdempotencyKey>,
    ) -> Result<Reply, Failure> {
        let mut url = format!("{}{}", self.config.base_url.trim_end_matches('/'), path);
        if let Some(query) = query {
            url.push('?');
            url.push_str(&query.encode());
        }
        let body = body.map(Form::encode);
        let key_text = key.map(IdempotencyKey::as_str).unwrap_or("");
        // Set once a 409 `idempotency_key_in_use` proved that a request with this key is executing
        // at the gateway: from then on, a connection failure can no longer be called "not sent".
        let mut maybe_landed = false;
        let mut retries: u32 = 0;
        // What the gateway's `Retry-After`s have made this request wait so far.
        let mut waited_for_gateway_ms: u64 = 0;
        loop {
            let started = Instant::now();
            let mut request = self
                .http
                .request(method.clone(), &url)
                .header(AUTHORIZATION, self.auth_header.clone())
                .header("Stripe-Version", STRIPE_VERSION);
            if let Some(key) = key {
                request = request.header("Idempotency-Key", key.as_str());
            }
            if let Some(body) = &body {
                request = request
                    .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .body(body.clone());
            }
            tracing::debug!(%method, path, idempotency_key = key_text, retries, "gateway request");
            let response = match request.send().await {
                Ok(response) => response,
                Err(error) => {
                    let detail = self.describe(&error);
                    let failure = if provably_not_sent(&error, maybe_landed) {
                        Failure::NotSent(detail)
                    } else {
                        Failure::Unknown(detail)
                    };
                    tracing::warn!(%method, path, idempotency_key = key_text, ?failure, "gateway request failed");
                    return Err(failure);
                }
            };
            let status = response.status().as_u16();
            let request_id = response
                .headers()
                .get("request-id")
                .and_then(|value| value.to_str().ok())
                .map(str::to_string);
            let retry_after = (status == 429)
                .then(|| retry_after_ms(response.headers(), SystemTime::now()))
                .flatten();
            let bytes = match read_body(response).await {
                Ok(bytes) => bytes,
                Err(error) => {
                    let detail = format!(
                        "HTTP {status}, then the body could not be read: {}",
                        self.scrub(&error)
                    );
                    tracing::warn!(%method, path, idempotency_key = key_text, status, detail, "gateway answer cut short");
                    return Err(Failure::Unknown(detail));
                }
            };
            let elapsed_ms = started.elapsed().as_millis() as u64;
            tracing::info!(%method, path, idempotency_key = key_text, status, request_id, elapsed_ms, "gateway answered");

            if (200..300).contains(&status) {
                return serde_json::from_slice::<Value>(&bytes)
                    .map(Reply::Object)
                    .map_err(|e| {
                        Failure::Unknown(format!("HTTP {status} with a body that is not JSON: {e}"))
                    });
            }
            if status >= 500 {
                // Stripe may or may not have executed the request (and replays this 500 for the
                // same key): only a later lookup can tell.
                return Err(Failure::Unknown(format!("HTTP {status} from the gateway")));
            }
            let error = match serde_json::from_slice::<WireErrorEnvelope>(&bytes) {
                Ok(envelope) => envelope.error,
                Err(_) => {
                    return Err(Failure::Unknown(format!(
                        "HTTP {status} with a body that is not a Stripe error object"
                    )))
                }
            };
            let in_use = status == 409 && error.is_code("idempotency_key_in_use");
            if status == 429 || in_use {
                maybe_landed |= in_use;
                if let Some(asked_ms) = retry_after {
                    if waited_for_gateway_ms.saturating_add(asked_ms) > RETRY_AFTER_MS_MAX {
                        tracing::warn!(%method, path, idempotency_key = key_text, status, retries, asked_ms, waited_for_gateway_ms, "gateway asked to wait longer than the connector waits; giving up");
                        return Err(Failure::Unknown(format!(
                            "HTTP 429 ({}): the gateway asked to wait {} before trying again, \
                             more than the {} s a request waits in all; try again later",
                            error.code.as_deref().unwrap_or("rate limited"),
                            seconds_text(asked_ms),
                            RETRY_AFTER_MS_MAX / 1000
                        )));
                    }
                }
                if retries < self.config.retries_max {
                    retries += 1;
                    let wait_ms = match retry_after {
                        Some(asked_ms) => {
                            waited_for_gateway_ms += asked_ms;
                            asked_ms
                        }
                        None => self.backoff_ms(retries),
                    };
                    tracing::warn!(%method, path, idempotency_key = key_text, status, code = error.code.as_deref(), retries, wait_ms, retry_after_ms = retry_after, "gateway asked to retry; retrying with the same key");
                    tokio::time::sleep(Duration::from_millis(wait_ms)).await;
                    continue;
                }
                return Err(Failure::Unknown(format!(
                    "HTTP {status} ({}) persisted after {retries} retries with the same key",
                    error.code.as_deref().unwrap_or("rate limited")
                )));
            }
            return Ok(Reply::Refusal {
                status,
                error,
                request_id,
            });
        }
    }

    /// "Full jitter" (AWS architecture blog): uniform in `[0, min(base·2^(n-1), max)]`, so several
    /// terminals throttled together do not come back in lock-step.
    fn backoff_ms(&self, retry: u32) -> u64 {
        full_jitter_ms(
            retry,
            self.config.backoff_ms_base,
            self.config.backoff_ms_max,
        )
    }

    /// A transport error with its causes ("error sending request: connection refused"), scrubbed.
    fn describe(&self, error: &reqwest::Error) -> String {
        self.scrub(&error_chain(error))
    }

    /// Removes the API key from any text that is about to leave the connector. Defence in depth:
    /// no message built here contains it, but gateway messages are foreign text.
    pub(crate) fn scrub(&self, text: &str) -> String {
        text.replace(self.key.expose(), "[redacted]")
    }

    /// The `Authorization` header value, marked sensitive so reqwest and hyper never print it.
    pub(crate) fn bearer(key: &str) -> Option<HeaderValue> {
        let mut value = HeaderValue::from_str(&format!("Bearer {key}")).ok()?;
        value.set_sensitive(true);
        Some(value)
    }
}

/// The HTTP client every connector uses: the two timeouts, redirects off (an API answer is never
/// a redirect to follow), Paydesk's user agent.
pub(crate) fn http_client(
    request_timeout_ms: u64,
    connect_timeout_ms: u64,
) -> Result<reqwest::Client, crate::error::GatewayError> {
    reqwest::Client::builder()
        .timeout(Duration::from_millis(request_timeout_ms))
        .connect_timeout(Duration::from_millis(connect_timeout_ms))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("paydesk-gateway/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| crate::error::GatewayError::Config {
            detail: format!("HTTP client: {e}"),
        })
}

/// What a `Retry-After` header asks for, in milliseconds from `now`: delta-seconds (`"2"`) or an
/// IMF-fixdate (`"Sun, 06 Nov 1994 08:49:37 GMT"`, RFC 9110 §5.6.7; a date in the past is 0).
/// `None` when absent or in a form this does not read (the obsolete date formats, fractions,
/// garbage): the caller then falls back to its own backoff.
pub(crate) fn retry_after_ms(headers: &HeaderMap, now: SystemTime) -> Option<u64> {
    let text = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        // Digits only: a value too large for u64 is "very long", which the bound refuses anyway.
        return Some(text.parse::<u64>().unwrap_or(u64::MAX).saturating_mul(1000));
    }
    let at_s = imf_fixdate_unix_s(text)?;
    let now_ms = now.duration_since(UNIX_EPOCH).ok()?.as_millis();
    let at_ms = i128::from(at_s) * 1000;
    Some(u64::try_from((at_ms - now_ms as i128).max(0)).unwrap_or(u64::MAX))
}

/// Seconds since the Unix epoch of an IMF-fixdate, e.g. `Sun, 06 Nov 1994 08:49:37 GMT`.
fn imf_fixdate_unix_s(text: &str) -> Option<i64> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let parts: Vec<&str> = text.split(' ').collect();
    let [weekday, day, month, year, time, "GMT"] = parts.as_slice() else {
        return None;
    };
    if weekday.len() != 4 || !weekday.ends_with(',') || day.len() != 2 || year.len() != 4 {
        return None;
    }
    let number = |s: &str| -> Option<i64> {
        s.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| s.parse().ok())
            .flatten()
    };
    let (day, year) = (number(day)?, number(year)?);
    let month = MONTHS.iter().position(|m| m == month)? as i64 + 1;
    let hms: Vec<i64> = time.split(':').map(number).collect::<Option<_>>()?;
    let [h, m, s] = hms.as_slice() else {
        return None;
    };
    if !(1..=31).contains(&day) || *h > 23 || *m > 59 || *s > 60 {
        return None;
    }
    // Days from the civil date (H. Hinnant's `days_from_civil`), proleptic Gregorian.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + h * 3_600 + m * 60 + s)
}

/// `2 s`, or `1.5 s`, for a wait in milliseconds.
fn seconds_text(ms: u64) -> String {
    let text = format!("{:.1}", ms as f64 / 1000.0);
    format!("{} s", text.strip_suffix(".0").unwrap_or(&text))
}

/// "Full jitter" for the `retry`-th retry (1-based): uniform in `[0, min(base·2^(n-1), max)]`.
/// Shared by every connector.
pub(crate) fn full_jitter_ms(retry: u32, base_ms: u64, max_ms: u64) -> u64 {
    let shift = retry.saturating_sub(1).min(20);
    let ceiling = base_ms.saturating_mul(1u64 << shift).min(max_ms);
    fastrand::u64(0..=ceiling)
}

/// An error with its causes ("error sending request: connection refused"). Not scrubbed: the
/// caller scrubs with its own secret.
pub(crate) fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Whether a failed `send()` provably never reached the gateway: only a failure to connect (or
/// to build the request) qualifies, and only while nothing showed the request may be executing.
/// Every other transport failure (timeout, reset after sending) may have landed. Shared by every
/// connector: this is the one rule for `NotSent` versus `Unknown`.
pub(crate) fn provably_not_sent(error: &reqwest::Error, maybe_landed: bool) -> bool {
    (error.is_connect() || error.is_builder()) && !maybe_landed
}

/// Reads a whole body, refusing more than [`RESPONSE_BYTES_MAX`]. A body cut short (the server
/// closed before `Content-Length` bytes arrived) is an error here.
pub(crate) async fn read_body(mut response: reqwest::Response) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > RESPONSE_BYTES_MAX {
                    return Err(format!("body larger than {RESPONSE_BYTES_MAX} bytes"));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(body),
            Err(error) => return Err(error_chain(&error)),
        }
    }
}

#[cfg(test)]
mod retry_after_tests {
    use super::*;

    fn headers(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_str(value).unwrap());
        headers
    }

    /// 1994-11-06 08:49:37 UTC, the RFC's example date.
    fn rfc_example() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(784_111_777)
    }

    #[test]
    fn delta_seconds_and_dates_are_read() {
        let now = rfc_example();
        assert_eq!(retry_after_ms(&headers("2"), now), Some(2_000));
        assert_eq!(retry_after_ms(&headers(" 0 "), now), Some(0));
        assert_eq!(
            retry_after_ms(&headers("99999999999999999999"), now),
            Some(u64::MAX)
        );
        assert_eq!(
            retry_after_ms(&headers("Sun, 06 Nov 1994 08:49:40 GMT"), now),
            Some(3_000)
        );
        // A date already past asks for no wait at all.
        assert_eq!(
            retry_after_ms(&headers("Sat, 05 Nov 1994 08:49:37 GMT"), now),
            Some(0)
        );
        // Leap day and year boundaries (checked against `date -u -d ... +%s`).
        assert_eq!(
            imf_fixdate_unix_s("Thu, 29 Feb 2024 23:59:59 GMT"),
            Some(1_709_251_199)
        );
        assert_eq!(imf_fixdate_unix_s("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
    }

    #[test]
    fn unreadable_values_fall_back_to_the_backoff() {
        let now = rfc_example();
        assert_eq!(retry_after_ms(&HeaderMap::new(), now), None);
        for value in [
            "",
            "1.5",
            "-1",
            "soon",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
            "Sun, 06 Nov 1994 08:49:37 PST",
            "Sun, 06 Foo 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 25:49:37 GMT",
        ] {
            assert_eq!(retry_after_ms(&headers(value), now), None, "{value:?}");
        }
    }

    #[test]
    fn waits_are_said_in_seconds() {
        assert_eq!(seconds_text(30_000), "30 s");
        assert_eq!(seconds_text(6_500), "6.5 s");
    }
}

//! One Stripe HTTP exchange, classified: an object, a refusal with Stripe's error object, or a
//! failure that is either "never sent" or "may have landed".
//!
//! This is the only place that decides, from a transport error, whether a request can have
//! reached the gateway, and the only place that retries (429 and 409 `idempotency_key_in_use`,
//! under the same idempotency key, bounded). It knows nothing about what the request meant.

use std::time::{Duration, Instant};

use paydesk_core::IdempotencyKey;
use reqwest::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use reqwest::Method;
use serde_json::Value;

use super::form::Form;
use super::wire::{WireError, WireErrorEnvelope};
use super::{StripeGateway, RESPONSE_BYTES_MAX, STRIPE_VERSION};

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
                if retries < self.config.retries_max {
                    retries += 1;
                    let wait_ms = self.backoff_ms(retries);
                    tracing::warn!(%method, path, idempotency_key = key_text, status, code = error.code.as_deref(), retries, wait_ms, "gateway asked to retry; retrying with the same key");
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

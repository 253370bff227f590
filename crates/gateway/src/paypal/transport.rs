//! One PayPal HTTP exchange, classified: an object, a refusal with PayPal's error body, or a
//! failure that is "never sent" or "may have landed"; and the OAuth2 access token it rides on.
//!
//! The transport rules are Stripe's (`stripe::transport`): the same `NotSent` / `Unknown` decision
//! from a transport error, the same bounded body read, the same jittered backoff. What is PayPal's
//! own: the bearer token (fetched with client credentials, cached, refreshed before it expires,
//! fetched again once when PayPal answers 401 `invalid_token`), `PayPal-Request-Id` and
//! `Prefer: return=representation` on every POST, and its error body. Failing to get a token means
//! the request itself was never sent. Deliberately absent: retries of anything but 429 and one 401.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use paydesk_core::IdempotencyKey;
use reqwest::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use reqwest::Method;
use serde_json::Value;

use super::wire::WireError;
use super::PaypalGateway;
use crate::error::GatewayError;
use crate::stripe::transport::{error_chain, full_jitter_ms, provably_not_sent, read_body};

/// PayPal refuses a `PayPal-Request-Id` longer than this.
pub const REQUEST_ID_LEN_MAX: usize = 108;

/// A token is refreshed this long before PayPal said it expires (at most half its lifetime), so
/// a request never leaves with a token that dies on the way.
pub const TOKEN_REFRESH_MARGIN_S: u64 = 300;

/// The cached access token.
pub(crate) struct CachedToken {
    /// `Bearer <token>`, marked sensitive.
    header: HeaderValue,
    /// The token itself, only to scrub it from foreign text.
    raw: String,
    refresh_at: Instant,
}

/// A usable answer from PayPal.
#[derive(Debug)]
pub(crate) enum Reply {
    /// A 2xx answer with a JSON body.
    Object(Value),
    /// A 4xx answer (other than 429 and a first 401) with PayPal's error body: nothing executed.
    Refusal { status: u16, error: WireError },
}

/// No usable answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Failure {
    /// Provably never reached PayPal (no connection; or no token, so nothing was sent).
    NotSent(String),
    /// May have landed: timeout, dropped connection, 5xx, unreadable body, retries ran out.
    Unknown(String),
    /// PayPal refused the client credentials: a configuration problem, nothing executed.
    Refused(GatewayError),
}

impl PaypalGateway {
    /// The current token, fetched when there is none or it is due for refresh.
    async fn token(&self, force: bool) -> Result<HeaderValue, Failure> {
        if !force {
            let cached = self.token.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(t) = cached.as_ref().filter(|t| Instant::now() < t.refresh_at) {
                return Ok(t.header.clone());
            }
        }
        let url = format!(
            "{}/v1/oauth2/token",
            self.config.base_url.trim_end_matches('/')
        );
        let response = self
            .http
            .post(&url)
            .basic_auth(&self.client_id, Some(self.secret.expose()))
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body("grant_type=client_credentials")
            .send()
            .await
            .map_err(|e| {
                Failure::NotSent(format!(
                    "no PayPal access token, so the request was not sent: {}",
                    self.scrub(&error_chain(&e))
                ))
            })?;
        let status = response.status().as_u16();
        let bytes = read_body(response).await.map_err(|e| {
            Failure::NotSent(format!(
                "no PayPal access token (HTTP {status}, body unreadable: {}), so the request was \
                 not sent",
                self.scrub(&e)
            ))
        })?;
        if status == 401 || status == 403 {
            tracing::error!(status, "PayPal refused the client credentials");
            return Err(Failure::Refused(GatewayError::Authentication {
                request_id: None,
            }));
        }
        let body: Value = serde_json::from_slice(&bytes).unwrap_or_default();
        let (Some(raw), Some(expires_in)) =
            (body["access_token"].as_str(), body["expires_in"].as_u64())
        else {
            return Err(Failure::NotSent(format!(
                "PayPal's token endpoint answered HTTP {status} without a token, so the request \
                 was not sent"
            )));
        };
        let mut header = HeaderValue::from_str(&format!("Bearer {raw}")).map_err(|_| {
            Failure::NotSent("PayPal's access token cannot travel in a header".into())
        })?;
        header.set_sensitive(true);
        let margin = TOKEN_REFRESH_MARGIN_S.min(expires_in / 2);
        let refresh_at = Instant::now() + Duration::from_secs(expires_in.saturating_sub(margin));
        tracing::info!(expires_in, "PayPal access token fetched");
        *self.token.lock().unwrap_or_else(|e| e.into_inner()) = Some(CachedToken {
            header: header.clone(),
            raw: raw.to_string(),
            refresh_at,
        });
        Ok(header)
    }

    /// Sends one request and classifies the answer. POSTs carry `PayPal-Request-Id` (the
    /// deterministic key) and `Prefer: return=representation`.
    pub(crate) async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        key: Option<&IdempotencyKey>,
    ) -> Result<Reply, Failure> {
        if let Some(key) = key {
            if key.as_str().len() > REQUEST_ID_LEN_MAX {
                return Err(Failure::Refused(GatewayError::InvalidRequest {
                    status: 0,
                    code: None,
                    param: Some("PayPal-Request-Id".into()),
                    message: format!(
                        "the request id {} is longer than PayPal's {REQUEST_ID_LEN_MAX} \
                         characters; shorten the order id",
                        key.as_str()
                    ),
                }));
            }
        }
        let url = format!("{}{}", self.config.base_url.trim_end_matches('/'), path);
        let key_text = key.map(IdempotencyKey::as_str).unwrap_or("");
        let mut retries: u32 = 0;
        let mut fresh_token = false;
        loop {
            let token = self.token(false).await?;
            let mut request = self
                .http
                .request(method.clone(), &url)
                .header(AUTHORIZATION, token)
                .header("Prefer", "return=representation");
            if let Some(key) = key {
                request = request.header("PayPal-Request-Id", key.as_str());
            }
            if let Some(body) = body {
                request = request
                    .header(CONTENT_TYPE, "application/json")
                    .body(body.to_string());
            }
            let started = Instant::now();
            let response = match request.send().await {
                Ok(response) => response,
                Err(error) => {
                    let detail = self.scrub(&error_chain(&error));
                    let failure = if provably_not_sent(&error, false) {
                        Failure::NotSent(detail)
                    } else {
                        Failure::Unknown(detail)
                    };
                    tracing::warn!(%method, path, request_id = key_text, ?failure, "PayPal request failed");
                    return Err(failure);
                }
            };
            let status = response.status().as_u16();
            let debug_id = response
                .headers()
                .get("paypal-debug-id")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let bytes = read_body(response).await.map_err(|e| {
                Failure::Unknown(format!(
                    "HTTP {status}, then the body could not be read: {}",
                    self.scrub(&e)
                ))
            })?;
            let elapsed_ms = started.elapsed().as_millis() as u64;
            tracing::info!(%method, path, request_id = key_text, status, debug_id = debug_id.as_deref(), elapsed_ms, "PayPal answered");
            if (200..300).contains(&status) {
                return serde_json::from_slice::<Value>(&bytes)
                    .map(Reply::Object)
                    .map_err(|e| {
                        Failure::Unknown(format!("HTTP {status} with a body that is not JSON: {e}"))
                    });
            }
            if status >= 500 {
                return Err(Failure::Unknown(format!("HTTP {status} from PayPal")));
            }
            // 401 and 429 mean "not executed" whatever their body says (a proxy may answer them).
            let parsed = serde_json::from_slice::<WireError>(&bytes).ok();
            if status == 401 {
                // An expired or revoked token: PayPal executed nothing. Fetch a new one, once.
                if !fresh_token {
                    fresh_token = true;
                    self.forget_token();
                    tracing::info!(path, "PayPal refused the access token; fetching a new one");
                    continue;
                }
                return Err(Failure::Refused(GatewayError::Authentication {
                    request_id: debug_id.or_else(|| parsed.and_then(|e| e.debug_id)),
                }));
            }
            if status == 429 {
                if retries < self.config.retries_max {
                    retries += 1;
                    let wait_ms = full_jitter_ms(
                        retries,
                        self.config.backoff_ms_base,
                        self.config.backoff_ms_max,
                    );
                    tracing::warn!(
                        path,
                        request_id = key_text,
                        retries,
                        wait_ms,
                        "PayPal rate limit; retrying with the same request id"
                    );
                    tokio::time::sleep(Duration::from_millis(wait_ms)).await;
                    continue;
                }
                return Err(Failure::Unknown(format!(
                    "HTTP 429 persisted after {retries} retries with the same request id"
                )));
            }
            let Some(error) = parsed else {
                return Err(Failure::Unknown(format!(
                    "HTTP {status} with a body that is not a PayPal error"
                )));
            };
            return Ok(Reply::Refusal { status, error });
        }
    }

    fn forget_token(&self) {
        *self.token.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// Removes the client secret and the access token from text that leaves the connector.
    pub(crate) fn scrub(&self, text: &str) -> String {
        let mut text = text.replace(self.secret.expose(), "[redacted]");
        if let Some(t) = self
            .token
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
        {
            text = text.replace(&t.raw, "[redacted]");
        }
        text
    }
}

/// The token cache's type, for the connector's constructor.
pub(crate) type TokenCache = Mutex<Option<CachedToken>>;

//! Errors of the gateway connectors, in the caller's terms.
//!
//! Only conditions that are not an outcome of the call live here: a bad configuration, a bug
//! (an idempotency key reused with other parameters), an invalid request, and, for read-only
//! calls, "no usable answer". The calls that move money report `NotSent` / `Unknown` as values of
//! their result types instead, so those can never be confused with a decline.
//! No variant ever carries the API key: messages taken from the gateway are scrubbed first.

use paydesk_core::IdempotencyKey;

/// A gateway call that did not produce an outcome.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GatewayError {
    /// HTTP 401: the gateway does not accept the API key. A configuration problem; retrying will
    /// not help. The gateway's own message is dropped on purpose (Stripe echoes part of the key).
    #[error(
        "the gateway refused the API key (HTTP 401): store a valid secret key for this terminal"
    )]
    Authentication { request_id: Option<String> },

    /// HTTP 403: the key is valid but may not do this — Stripe's answer to a restricted key
    /// (`rk_…`) without the permission. Not retryable: the same key is refused again until its
    /// permissions change. Terminals hold restricted keys on purpose; refunds, event lists and
    /// other look-ups belong to the central, which holds the full key.
    #[error(
        "the gateway refused this request to the {key} (HTTP 403, not retryable): {hint}; \
         Stripe said: {message}",
        key = if *.restricted { "restricted API key" } else { "API key" },
        hint = if *.restricted {
            "a terminal's restricted key may only create, confirm, cancel, retrieve and search \
             PaymentIntents; do this from the central (which holds the full key), or grant the \
             key the permission in the Stripe dashboard"
        } else {
            "the key lacks the permission for this endpoint"
        }
    )]
    Permission { restricted: bool, message: String },

    /// HTTP 400 `idempotency_error`: the same key was sent before with other parameters. This is
    /// a bug in the caller (keys are derived from the attempt, so the parameters must match); the
    /// gateway did not execute the request.
    #[error(
        "BUG: idempotency key {key} was already used with different parameters; the gateway did \
         not execute this request: {message}"
    )]
    IdempotencyKeyReused {
        key: IdempotencyKey,
        message: String,
    },

    /// HTTP 404: no such object (a wrong id, or an id from another account or mode).
    #[error("the gateway has no object {id}: {message}")]
    NotFound { id: String, message: String },

    /// The gateway refused the request as invalid and did not execute it.
    #[error("the gateway refused the request (HTTP {status}, {}): {message}", code.as_deref().unwrap_or("no code"))]
    InvalidRequest {
        status: u16,
        code: Option<String>,
        param: Option<String>,
        message: String,
    },

    /// Read-only calls: the request provably never reached the gateway. Safe to try again.
    #[error("the request never reached the gateway: {detail}")]
    NotSent { detail: String },

    /// Read-only calls: no usable answer (timeout, dropped connection, 5xx, malformed body).
    /// Nothing is known from it; safe to try again later.
    #[error("no usable answer from the gateway: {detail}")]
    Unknown { detail: String },

    /// The connector could not be set up (a malformed base URL, a TLS backend failure).
    #[error("the gateway connector is misconfigured: {detail}")]
    Config { detail: String },
}

/// A gateway object that could not be turned into this crate's view of it (a missing field, a
/// status this code does not know, an unsupported currency). Never read as a decline.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unexpected gateway object: {0}")]
pub struct ParseError(pub String);

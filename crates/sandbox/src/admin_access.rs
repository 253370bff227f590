//! Who may use the sandbox's `/admin` routes (faults, clock, webhook target, ledger): they
//! redirect webhooks and break payments on purpose, so another local user must not reach them
//! (security review L11).
//!
//! Three settings: open to connections from this machine only (the default, which the test
//! harnesses rely on), a bearer token (random, made by whoever starts the sandbox; the binary
//! reads it from `PAYDESK_SANDBOX_ADMIN_TOKEN`), or off (the embedded demo stack, which has no
//! use for them). Deliberately absent: any effect on the Stripe `/v1` routes.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::server::Shared;

/// The environment variable the `paydesk-sandbox` binary reads the admin token from.
pub const ADMIN_TOKEN_ENV: &str = "PAYDESK_SANDBOX_ADMIN_TOKEN";

/// Who may call `/admin/*`.
#[derive(Clone, Default)]
pub enum AdminAccess {
    /// Any connection whose peer is a loopback address; refused from elsewhere.
    #[default]
    LoopbackOnly,
    /// Only requests with `Authorization: Bearer <token>` (from any peer).
    Token(String),
    /// Nobody: every admin route answers 404.
    Off,
}

impl std::fmt::Debug for AdminAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AdminAccess::LoopbackOnly => f.write_str("LoopbackOnly"),
            AdminAccess::Token(_) => f.write_str("Token([redacted])"),
            AdminAccess::Off => f.write_str("Off"),
        }
    }
}

/// The peer of the connection a request came on (set by the accept loop).
#[derive(Debug, Clone, Copy)]
pub struct PeerAddr(pub SocketAddr);

/// The middleware in front of every `/admin` route.
pub async fn gate(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let refused = |status: StatusCode, message: &str| {
        (status, Json(json!({ "error": message }))).into_response()
    };
    match &shared.admin {
        AdminAccess::Off => refused(
            StatusCode::NOT_FOUND,
            "the admin routes are off in this sandbox",
        ),
        AdminAccess::LoopbackOnly => {
            let local = request
                .extensions()
                .get::<PeerAddr>()
                .is_some_and(|p| is_loopback_peer(p.0));
            if local {
                next.run(request).await
            } else {
                refused(
                    StatusCode::FORBIDDEN,
                    "the admin routes answer only connections from this machine (or start the \
                     sandbox with an admin token)",
                )
            }
        }
        AdminAccess::Token(token) => {
            let given = request
                .headers()
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .unwrap_or_default();
            if constant_time_eq(given.as_bytes(), token.as_bytes()) {
                next.run(request).await
            } else {
                refused(
                    StatusCode::UNAUTHORIZED,
                    "the admin routes need 'Authorization: Bearer <admin token>' (the token the \
                     sandbox was started with)",
                )
            }
        }
    }
}

fn is_loopback_peer(addr: SocketAddr) -> bool {
    match addr.ip() {
        std::net::IpAddr::V4(v4) => v4.is_loopback(),
        std::net::IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

/// Compares without an early exit, so the time taken does not tell how much of a guess matched.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_whole_and_never_print() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
        assert!(!format!("{:?}", AdminAccess::Token("s3cret".into())).contains("s3cret"));
        assert!(is_loopback_peer("127.0.0.1:1".parse().unwrap()));
        assert!(is_loopback_peer("[::1]:1".parse().unwrap()));
        assert!(!is_loopback_peer("10.0.0.1:1".parse().unwrap()));
    }
}

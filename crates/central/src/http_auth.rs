//! Who is asking, as extractors: a terminal (its bearer token), the admin (the admin token), and
//! a person signed in at a terminal (an operator session in `x-paydesk-session`), with the roles
//! the routes need: [`OperatorSession`], [`ManagerSession`], [`ManagerOrAdmin`].
//!
//! Terminal tokens are cached for at most [`AUTH_CACHE_MS`], so a revocation made elsewhere (the
//! CLI on the same database) takes effect within seconds; a revocation or rotation through this
//! central clears the cache at once. Sessions are never cached: ending one works immediately.
//! Deliberately absent: checking PINs and opening sessions (`crate::sessions`).

use std::collections::HashMap;
use std::sync::{OnceLock, RwLock};
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use paydesk_core::{OperatorId, TerminalId, Timestamp};
use paydesk_protocol::{ErrorCode, Role, SESSION_HEADER};
use ring::signature::Ed25519KeyPair;

use crate::error::CentralError;
use crate::http::AppState;
use crate::http_error::error_response;
use crate::rate_limit::{Limit, RateLimiter};
use crate::store::AuthEvent;
use crate::{auth, clock};

/// Longest a terminal token stays cached, in milliseconds: a request from a revoked terminal is
/// refused at most this long after the revocation, whoever made it.
pub const AUTH_CACHE_MS: u64 = 5_000;
/// Rows of `admin_401` written to the audit per minute at most, so a flood of bad admin tokens
/// cannot flood the database; every refusal is still logged.
const ADMIN_401_AUDIT_PER_MINUTE: usize = 60;
/// Rows of `forbidden` written per terminal per minute at most (a script of a signed-in
/// operator cannot flood the audit); every refusal is still logged.
const FORBIDDEN_AUDIT_PER_MINUTE: usize = 60;

/// The refusals of authentication and authorization, with the codes a client acts on, plus any
/// other error of the central (a database failure while checking).
#[derive(Debug)]
pub enum AuthError {
    Central(CentralError),
    /// The route needs a person signed in and no session was sent.
    SessionRequired,
    /// The session is unknown, ended, idle too long, too old or from another terminal.
    SessionExpired(&'static str),
    /// Too many wrong PINs for this operator.
    Locked {
        until_ms: i64,
        retry_after_ms: i64,
    },
    /// Too many requests of one kind from one caller.
    RateLimited {
        what: &'static str,
        retry_after_ms: i64,
    },
}

impl From<CentralError> for AuthError {
    fn from(e: CentralError) -> AuthError {
        AuthError::Central(e)
    }
}

impl From<sqlx::Error> for AuthError {
    fn from(e: sqlx::Error) -> AuthError {
        AuthError::Central(e.into())
    }
}

/// The time as RFC 3339 (UTC, seconds), for messages people read.
pub fn rfc3339(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days since the epoch (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3_600,
        rem % 3_600 / 60,
        rem % 60
    )
}

fn with_retry_after(mut response: Response, retry_after_ms: i64) -> Response {
    // Whole seconds, rounded up, at least one: a client that waits that long is let in.
    let secs = (retry_after_ms.max(1) + 999) / 1000;
    if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, v);
    }
    response
}

impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        match self {
            AuthError::Central(e) => e.into_response(),
            AuthError::SessionRequired => error_response(
                StatusCode::UNAUTHORIZED,
                ErrorCode::SessionRequired,
                format!(
                    "this needs a person signed in at this terminal: sign in (POST /v1/sessions) \
                     and send the session token in {SESSION_HEADER}"
                ),
            ),
            AuthError::SessionExpired(why) => error_response(
                StatusCode::UNAUTHORIZED,
                ErrorCode::SessionExpired,
                format!("{why}: sign in again"),
            ),
            AuthError::Locked {
                until_ms,
                retry_after_ms,
            } => with_retry_after(
                error_response(
                    StatusCode::TOO_MANY_REQUESTS,
                    ErrorCode::Locked,
                    format!(
                        "too many wrong PINs: sign-in for this operator is locked until {}: \
                         wait or ask a manager",
                        rfc3339(until_ms)
                    ),
                ),
                retry_after_ms,
            ),
            AuthError::RateLimited {
                what,
                retry_after_ms,
            } => with_retry_after(
                error_response(
                    StatusCode::TOO_MANY_REQUESTS,
                    ErrorCode::RateLimited,
                    format!(
                        "too many {what} from this terminal: wait {} s and retry",
                        (retry_after_ms.max(1) + 999) / 1000
                    ),
                ),
                retry_after_ms,
            ),
        }
    }
}

/// A terminal token found valid, cached with when it was checked.
#[derive(Debug, Clone)]
struct CachedTerminal {
    terminal_id: TerminalId,
    token_id: String,
    checked_at: Instant,
}

/// The authentication state a running central keeps in memory: the terminal-token cache, the
/// rate limiters, and the allowance signing key made for this process when none was configured.
/// Lives as long as the server.
#[derive(Debug, Default)]
pub struct AuthState {
    /// Valid terminal tokens by their SHA-256, each trusted for [`AUTH_CACHE_MS`] at most.
    cache: RwLock<HashMap<String, CachedTerminal>>,
    /// Wrong PINs per terminal (sign-in and PIN checks), against `Config::sign_in_failures`.
    pub sign_in_failures: RateLimiter,
    /// Reconciliation reports per terminal, against `Config::reconcile_interval_ms`.
    pub reconciles: RateLimiter,
    /// `admin_401` audit rows written, against [`ADMIN_401_AUDIT_PER_MINUTE`].
    admin_401_audits: RateLimiter,
    /// `forbidden` audit rows written per terminal, against [`FORBIDDEN_AUDIT_PER_MINUTE`].
    forbidden_audits: RateLimiter,
    /// A signing key made in memory on first use when `Config::allowance_key` is `None`.
    ephemeral_key: OnceLock<std::sync::Arc<Ed25519KeyPair>>,
}

impl AuthState {
    /// Forgets every cached terminal token: called after a revocation or rotation.
    pub fn clear_cache(&self) {
        if let Ok(mut cache) = self.cache.write() {
            cache.clear();
        }
    }

    pub(crate) fn ephemeral_key(&self) -> &std::sync::Arc<Ed25519KeyPair> {
        self.ephemeral_key.get_or_init(|| {
            tracing::warn!(
                "no allowance key file: offline allowances are signed with a key made for \
                 this run only; terminals must fetch /v1/allowance-key again after a restart"
            );
            std::sync::Arc::new(crate::allowances::generate_key())
        })
    }
}

fn bearer(parts: &Parts) -> Result<&str, CentralError> {
    let value = parts
        .headers
        .get(header::AUTHORIZATION)
        .ok_or(CentralError::Unauthorized(
            "missing Authorization header: send Authorization: Bearer <token>",
        ))?;
    value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or(CentralError::Unauthorized(
            "malformed Authorization header: send Authorization: Bearer <token>",
        ))
}

/// A request authenticated with a terminal's (unrevoked) token.
#[derive(Debug)]
pub struct TerminalAuth(pub TerminalId);

/// A terminal's identity with its token's public id, for routes that audit it.
#[derive(Debug, Clone)]
pub struct TerminalIdentity {
    pub terminal_id: TerminalId,
    pub token_id: String,
}

async fn terminal_identity(parts: &Parts, state: &AppState) -> Result<TerminalIdentity, AuthError> {
    let hash = auth::token_sha256(bearer(parts)?);
    let ttl = Duration::from_millis(AUTH_CACHE_MS);
    let cached = state
        .terminals
        .cache
        .read()
        .ok()
        .and_then(|c| c.get(&hash).cloned())
        .filter(|c| c.checked_at.elapsed() < ttl);
    if let Some(c) = cached {
        return Ok(TerminalIdentity {
            terminal_id: c.terminal_id,
            token_id: c.token_id,
        });
    }
    match state
        .store
        .terminal_by_token_hash(&hash, clock::now())
        .await?
    {
        Some(found) if found.revoked_at.is_none() => {
            if let Ok(mut cache) = state.terminals.cache.write() {
                // Expired entries go on every fill, so the map holds only live terminals.
                cache.retain(|_, c| c.checked_at.elapsed() < ttl);
                cache.insert(
                    hash,
                    CachedTerminal {
                        terminal_id: found.terminal_id.clone(),
                        token_id: found.token_id.clone(),
                        checked_at: Instant::now(),
                    },
                );
            }
            Ok(TerminalIdentity {
                terminal_id: found.terminal_id,
                token_id: found.token_id,
            })
        }
        Some(_) => Err(CentralError::Unauthorized(
            "this terminal's token was revoked: ask an administrator",
        )
        .into()),
        None => Err(CentralError::Unauthorized(
            "unknown terminal token: ask an administrator to register this terminal",
        )
        .into()),
    }
}

impl FromRequestParts<AppState> for TerminalIdentity {
    type Rejection = AuthError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AuthError> {
        terminal_identity(parts, state).await
    }
}

impl FromRequestParts<AppState> for TerminalAuth {
    type Rejection = AuthError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AuthError> {
        Ok(TerminalAuth(
            terminal_identity(parts, state).await?.terminal_id,
        ))
    }
}

/// A request authenticated with the admin token.
#[derive(Debug)]
pub struct AdminAuth;

fn is_admin(parts: &Parts, state: &AppState) -> Result<bool, CentralError> {
    let token = bearer(parts)?;
    Ok(state
        .config
        .admin_token
        .as_deref()
        .is_some_and(|admin| auth::admin_token_matches(token, admin)))
}

impl FromRequestParts<AppState> for AdminAuth {
    type Rejection = AuthError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AuthError> {
        if matches!(is_admin(parts, state), Ok(true)) {
            return Ok(AdminAuth);
        }
        // Finding L5: refusals on admin routes are visible, never with the token itself.
        let path = parts.uri.path().to_string();
        tracing::warn!(%path, method = %parts.method, "admin route refused: missing or wrong admin token");
        let now = clock::now();
        let limit = Limit {
            events_max: ADMIN_401_AUDIT_PER_MINUTE,
            window_ms: 60_000,
        };
        if state
            .terminals
            .admin_401_audits
            .take(limit, "admin", now.unix_ms())
            .is_ok()
        {
            let event = AuthEvent {
                event: "admin_401",
                ..AuthEvent::default()
            };
            if let Err(e) = state.store.audit_auth(&event, now).await {
                tracing::warn!(error = %e, "could not audit an admin refusal");
            }
        }
        Err(CentralError::Unauthorized("this route needs the admin token").into())
    }
}

/// A request authenticated with either a terminal's token or the admin token (read-only views).
#[derive(Debug)]
pub struct AnyAuth;

impl FromRequestParts<AppState> for AnyAuth {
    type Rejection = AuthError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AuthError> {
        if is_admin(parts, state)? {
            return Ok(AnyAuth);
        }
        terminal_identity(parts, state).await?;
        Ok(AnyAuth)
    }
}

/// A person signed in at the requesting terminal, operator or manager. Checked on every request
/// (never cached): the session must belong to this terminal, not be ended, not be idle longer
/// than `Config::session_idle_ms` and not be older than `Config::session_age_ms_max`. Each use
/// restarts its idle clock.
#[derive(Debug, Clone)]
pub struct OperatorSession {
    pub terminal: TerminalIdentity,
    pub session_id: String,
    pub operator_id: OperatorId,
    /// The operator's role now (a role changed since sign-in counts from the next request).
    pub role: Role,
    pub expires_at: Timestamp,
}

async fn operator_session(parts: &Parts, state: &AppState) -> Result<OperatorSession, AuthError> {
    let terminal = terminal_identity(parts, state).await?;
    let Some(value) = parts.headers.get(SESSION_HEADER) else {
        return Err(AuthError::SessionRequired);
    };
    let token = value
        .to_str()
        .ok()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or(AuthError::SessionExpired("the session header is malformed"))?;
    let row = state
        .store
        .session_by_token_hash(&auth::token_sha256(token))
        .await?
        .ok_or(AuthError::SessionExpired("unknown session"))?;
    let now = clock::now().unix_ms();
    let config = &state.config;
    if row.terminal_id != terminal.terminal_id.as_str() {
        return Err(AuthError::SessionExpired(
            "this session was opened on another terminal",
        ));
    }
    if row.ended_at.is_some() {
        return Err(AuthError::SessionExpired("this session was ended"));
    }
    if now >= row.expires_at || now - row.created_at >= config.session_age_ms_max {
        return Err(AuthError::SessionExpired(
            "this session reached its maximum age",
        ));
    }
    if now - row.last_used_at >= config.session_idle_ms {
        return Err(AuthError::SessionExpired("this session was idle too long"));
    }
    let Some(role) = row.current_role else {
        return Err(AuthError::SessionExpired("this operator no longer exists"));
    };
    if !state
        .store
        .touch_session(&row.session_id, Timestamp::from_unix_ms(now))
        .await?
    {
        return Err(AuthError::SessionExpired("this session was ended"));
    }
    Ok(OperatorSession {
        terminal,
        session_id: row.session_id,
        operator_id: row.operator_id,
        role,
        expires_at: Timestamp::from_unix_ms(row.expires_at),
    })
}

impl FromRequestParts<AppState> for OperatorSession {
    type Rejection = AuthError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AuthError> {
        operator_session(parts, state).await
    }
}

/// A manager signed in at the requesting terminal. An operator's session is refused 403.
#[derive(Debug, Clone)]
pub struct ManagerSession(pub OperatorSession);

/// Lets a manager's session through; an operator's is refused 403 and audited as `forbidden`
/// with the route it asked for (at most [`FORBIDDEN_AUDIT_PER_MINUTE`] rows per terminal; best
/// effort: a failing audit is logged, the refusal stands).
async fn manager_only(
    session: OperatorSession,
    parts: &Parts,
    state: &AppState,
) -> Result<OperatorSession, AuthError> {
    if session.role == Role::Manager {
        return Ok(session);
    }
    let detail = format!("{} {} needs a manager", parts.method, parts.uri.path());
    tracing::warn!(operator = %session.operator_id, terminal = %session.terminal.terminal_id, %detail, "manager route refused to an operator");
    let limit = Limit {
        events_max: FORBIDDEN_AUDIT_PER_MINUTE,
        window_ms: 60_000,
    };
    let now = clock::now().unix_ms();
    let key = session.terminal.terminal_id.as_str();
    if state
        .terminals
        .forbidden_audits
        .take(limit, key, now)
        .is_ok()
    {
        let audited = state
            .store
            .audit_forbidden(
                key,
                session.operator_id.as_str(),
                &session.session_id,
                &detail,
                now,
            )
            .await;
        if let Err(e) = audited {
            tracing::warn!(error = %e, "could not audit a refused manager route");
        }
    }
    Err(CentralError::Forbidden("this needs a manager signed in: ask a manager").into())
}

impl FromRequestParts<AppState> for ManagerSession {
    type Rejection = AuthError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AuthError> {
        let session = operator_session(parts, state).await?;
        Ok(ManagerSession(manager_only(session, parts, state).await?))
    }
}

/// A manager's session or the admin token: the manager views (flags, unresolved,
/// reconciliation). A terminal without a session is refused 401 `session_required`, an
/// operator's session 403 `forbidden`.
#[derive(Debug, Clone)]
pub enum ManagerOrAdmin {
    Manager(OperatorSession),
    Admin,
}

impl FromRequestParts<AppState> for ManagerOrAdmin {
    type Rejection = AuthError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AuthError> {
        if is_admin(parts, state)? {
            return Ok(ManagerOrAdmin::Admin);
        }
        let session = operator_session(parts, state).await?;
        Ok(ManagerOrAdmin::Manager(
            manager_only(session, parts, state).await?,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::rfc3339;

    #[test]
    fn times_read_as_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_795_000_000_123), "2026-11-18T11:06:40Z");
    }
}

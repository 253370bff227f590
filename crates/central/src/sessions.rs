//! Signing in: the PIN check every person-facing route relies on, under a per-operator lockout
//! that backs off and a per-terminal limit on wrong PINs, and the session it opens.
//!
//! The order of the checks is the point: the PIN's shape (not a guess, not counted), then the
//! terminal's recent wrong PINs and the operator's lock (both before any argon2 work, so a
//! locked-out guesser costs nothing), then argon2 against the stored hash — or a dummy hash when
//! the operator does not exist, so timing does not tell which ids exist. Every refusal is
//! audited. Deliberately absent: HTTP routing (`http_sessions`) and SQL (`store::sessions`).

use paydesk_core::{OperatorId, Pin, Timestamp};
use paydesk_protocol::{Role, SessionGrant};

use crate::error::CentralError;
use crate::http::AppState;
use crate::http_auth::{AuthError, OperatorSession, TerminalIdentity};
use crate::rate_limit::Limit;
use crate::store::{AuthEvent, NewSession};
use crate::{auth, clock};

/// How sign-in locks an operator out after wrong PINs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutPolicy {
    /// Wrong PINs in a row that lock the operator.
    pub failures_max: i64,
    /// The first lock, in milliseconds; each further lock without a success between lasts
    /// twice the one before.
    pub lock_ms_first: i64,
    /// The longest lock, in milliseconds.
    pub lock_ms_max: i64,
}

/// Five wrong PINs lock for a minute, then 2, 4, … up to an hour: a person who mistypes loses a
/// minute; a guesser gets about 5 tries an hour, so a 6-digit PIN takes decades.
pub const LOCKOUT_DEFAULT: LockoutPolicy = LockoutPolicy {
    failures_max: 5,
    lock_ms_first: 60_000,
    lock_ms_max: 3_600_000,
};

/// Wrong PINs accepted from one terminal per minute, across all operators, before it is refused
/// 429: spreading guesses over many operator ids gains a guesser nothing.
pub const SIGN_IN_FAILURES_PER_TERMINAL_DEFAULT: Limit = Limit {
    events_max: 20,
    window_ms: 60_000,
};

impl LockoutPolicy {
    /// How long the lock after `locks_before` earlier locks lasts.
    pub fn lock_ms(&self, locks_before: i64) -> i64 {
        let doublings = u32::try_from(locks_before.clamp(0, 40)).unwrap_or(40);
        self.lock_ms_first
            .saturating_mul(1_i64 << doublings)
            .min(self.lock_ms_max)
    }
}

async fn audit(state: &AppState, event: AuthEvent<'_>, now: Timestamp) -> Result<(), AuthError> {
    state.store.audit_auth(&event, now).await?;
    Ok(())
}

impl OperatorSession {
    /// The signed-in person's PIN again, before an action that moves money out or lifts a guard:
    /// [`verify_pin_guarded`] for this session's operator and terminal, audited under its id.
    pub async fn recheck_pin(&self, state: &AppState, pin: &str) -> Result<Role, AuthError> {
        verify_pin_guarded(
            state,
            &self.terminal,
            &self.operator_id,
            pin,
            Some(&self.session_id),
        )
        .await
    }
}

/// Checks `pin` for `operator` at `terminal` under the lockout and the terminal's limit, and
/// returns the operator's role. `session_id` names the session of a re-check, for the audit.
pub async fn verify_pin_guarded(
    state: &AppState,
    terminal: &TerminalIdentity,
    operator: &OperatorId,
    pin: &str,
    session_id: Option<&str>,
) -> Result<Role, AuthError> {
    Pin::parse(pin).map_err(|e| CentralError::Invalid(format!("{e}: type the PIN again")))?;
    let now = clock::now();
    let config = &state.config;
    let event = |event| AuthEvent {
        event,
        terminal_id: Some(terminal.terminal_id.as_str()),
        operator_id: Some(operator.as_str()),
        token_id: Some(terminal.token_id.as_str()),
        session_id,
    };
    let terminal_key = terminal.terminal_id.as_str();
    if let Err(retry_after_ms) =
        state
            .terminals
            .sign_in_failures
            .check(config.sign_in_failures, terminal_key, now.unix_ms())
    {
        audit(state, event("rate_limited"), now).await?;
        return Err(AuthError::RateLimited {
            what: "wrong PINs",
            retry_after_ms,
        });
    }
    let lock = state.store.lock_state(operator.as_str()).await?;
    if let Some(until_ms) = lock.locked_until.filter(|u| *u > now.unix_ms()) {
        audit(state, event("locked"), now).await?;
        return Err(AuthError::Locked {
            until_ms,
            retry_after_ms: until_ms - now.unix_ms(),
        });
    }
    let credentials = state.store.operator_credentials(operator).await?;
    let (hash, role) = match credentials {
        Some((hash, role)) => (Some(hash), Some(role)),
        None => (None, None),
    };
    let typed = pin.to_string();
    let right = tokio::task::spawn_blocking(move || auth::verify_pin(hash.as_deref(), &typed))
        .await
        .map_err(|_| CentralError::Unavailable("the PIN check was interrupted; retry"))?;
    match role.filter(|_| right) {
        Some(role) => {
            if lock != Default::default() {
                state.store.reset_pin_failures(operator.as_str()).await?;
            }
            Ok(role)
        }
        None => {
            state.terminals.sign_in_failures.record(
                config.sign_in_failures,
                terminal_key,
                now.unix_ms(),
            );
            let policy = config.lockout;
            let locked = state
                .store
                .record_pin_failure(operator.as_str(), now, policy.failures_max, |n| {
                    policy.lock_ms(n)
                })
                .await?;
            audit(state, event("pin_wrong"), now).await?;
            match locked {
                Some(until_ms) => {
                    audit(state, event("locked"), now).await?;
                    tracing::warn!(operator = %operator, terminal = %terminal.terminal_id, "operator locked out after wrong PINs");
                    Err(AuthError::Locked {
                        until_ms,
                        retry_after_ms: until_ms - now.unix_ms(),
                    })
                }
                None => Err(CentralError::Unauthorized(
                    "wrong operator or PIN: try again (several wrong PINs in a row lock sign-in \
                     for a while)",
                )
                .into()),
            }
        }
    }
}

/// Signs `operator` in at `terminal`: the PIN under the lockout, then a new session whose token
/// is returned this once and stored only as its SHA-256.
pub async fn sign_in(
    state: &AppState,
    terminal: &TerminalIdentity,
    operator: &OperatorId,
    pin: &str,
) -> Result<SessionGrant, AuthError> {
    let role = verify_pin_guarded(state, terminal, operator, pin, None).await?;
    let now = clock::now();
    let token = auth::new_session_token();
    let session_id = format!("ses_{}", uuid::Uuid::now_v7().simple());
    let expires_at = Timestamp::from_unix_ms(
        now.unix_ms()
            .saturating_add(state.config.session_age_ms_max),
    );
    state
        .store
        .add_session(&NewSession {
            session_id: &session_id,
            token_sha256: &auth::token_sha256(&token),
            terminal_id: &terminal.terminal_id,
            operator_id: operator,
            role,
            now,
            expires_at,
        })
        .await?;
    audit(
        state,
        AuthEvent {
            event: "signed_in",
            terminal_id: Some(terminal.terminal_id.as_str()),
            operator_id: Some(operator.as_str()),
            token_id: Some(terminal.token_id.as_str()),
            session_id: Some(&session_id),
        },
        now,
    )
    .await?;
    tracing::info!(operator = %operator, terminal = %terminal.terminal_id, session = %session_id, "signed in");
    Ok(SessionGrant {
        session_token: token,
        session_id,
        operator_id: operator.clone(),
        role,
        terminal_id: terminal.terminal_id.clone(),
        expires_at,
        idle_ms: state.config.session_idle_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_double_up_to_the_maximum() {
        let p = LOCKOUT_DEFAULT;
        assert_eq!(p.lock_ms(0), 60_000);
        assert_eq!(p.lock_ms(1), 120_000);
        assert_eq!(p.lock_ms(5), 1_920_000);
        assert_eq!(p.lock_ms(6), 3_600_000);
        assert_eq!(p.lock_ms(1_000), 3_600_000);
        assert_eq!(p.lock_ms(-1), 60_000);
    }
}

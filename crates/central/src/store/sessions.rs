//! Operator sessions, the per-operator sign-in lockout and the authentication audit: storing
//! and reading them. A session token is only ever stored as its SHA-256; the lockout state is a
//! row per operator id, so it survives a restart of the central.
//!
//! Deliberately absent: deciding whether a session is still valid, how long a lock lasts and
//! who may do what (`crate::sessions` and `crate::http_auth` decide; this file only stores).

use paydesk_core::{OperatorId, TerminalId, Timestamp};
use paydesk_protocol::Role;
use sqlx::Row;

use super::{corrupt, Store};
use crate::error::CentralResult;

/// A stored session, with the operator's role as it is now (a manager demoted since sign-in is
/// an operator from the next request on; an operator deleted since has no role).
#[derive(Debug, Clone)]
pub struct SessionRow {
    pub session_id: String,
    pub terminal_id: String,
    pub operator_id: OperatorId,
    /// The role the session was opened with.
    pub role: Role,
    /// The operator's role now, `None` when the operator no longer exists.
    pub current_role: Option<Role>,
    pub created_at: i64,
    pub last_used_at: i64,
    pub expires_at: i64,
    pub ended_at: Option<i64>,
}

/// A session to store: the token only as its hash.
#[derive(Debug, Clone)]
pub struct NewSession<'a> {
    pub session_id: &'a str,
    pub token_sha256: &'a str,
    pub terminal_id: &'a TerminalId,
    pub operator_id: &'a OperatorId,
    pub role: Role,
    pub now: Timestamp,
    pub expires_at: Timestamp,
}

/// An operator id's sign-in lockout state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LockState {
    /// Wrong PINs since the last success or the last lock.
    pub failures: i64,
    /// Sign-in is refused before this time (milliseconds since the epoch).
    pub locked_until: Option<i64>,
    /// Locks so far without a success in between; each one lasts twice the one before.
    pub lock_count: i64,
}

/// One row of the authentication audit. Never a PIN or a token: ids only.
#[derive(Debug, Clone, Default)]
pub struct AuthEvent<'a> {
    pub event: &'a str,
    pub terminal_id: Option<&'a str>,
    pub operator_id: Option<&'a str>,
    pub token_id: Option<&'a str>,
    pub session_id: Option<&'a str>,
}

fn role(text: &str) -> CentralResult<Role> {
    Role::parse(text).ok_or_else(|| corrupt(format!("role {text}")))
}

impl Store {
    pub async fn add_session(&self, s: &NewSession<'_>) -> CentralResult<()> {
        sqlx::query(
            "INSERT INTO sessions (session_id, token_sha256, terminal_id, operator_id, role, \
             created_at, last_used_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $6, $7)",
        )
        .bind(s.session_id)
        .bind(s.token_sha256)
        .bind(s.terminal_id.as_str())
        .bind(s.operator_id.as_str())
        .bind(s.role.as_str())
        .bind(s.now.unix_ms())
        .bind(s.expires_at.unix_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The session a token opened, if any.
    pub async fn session_by_token_hash(&self, sha256: &str) -> CentralResult<Option<SessionRow>> {
        let row = sqlx::query(
            "SELECT s.session_id, s.terminal_id, s.operator_id, s.role, o.role AS current_role, \
             s.created_at, s.last_used_at, s.expires_at, s.ended_at \
             FROM sessions s LEFT JOIN operators o ON o.operator_id = s.operator_id \
             WHERE s.token_sha256 = $1",
        )
        .bind(sha256)
        .fetch_optional(&self.pool)
        .await?;
        let Some(r) = row else { return Ok(None) };
        let current: Option<String> = r.try_get("current_role")?;
        Ok(Some(SessionRow {
            session_id: r.try_get("session_id")?,
            terminal_id: r.try_get("terminal_id")?,
            operator_id: OperatorId::new(r.try_get::<String, _>("operator_id")?)
                .map_err(corrupt)?,
            role: role(&r.try_get::<String, _>("role")?)?,
            current_role: current.as_deref().map(role).transpose()?,
            created_at: r.try_get("created_at")?,
            last_used_at: r.try_get("last_used_at")?,
            expires_at: r.try_get("expires_at")?,
            ended_at: r.try_get("ended_at")?,
        }))
    }

    /// Records a use of a live session (its idle clock restarts). False when it ended meanwhile.
    pub async fn touch_session(&self, session_id: &str, now: Timestamp) -> CentralResult<bool> {
        let done = sqlx::query(
            "UPDATE sessions SET last_used_at = $2 WHERE session_id = $1 AND ended_at IS NULL",
        )
        .bind(session_id)
        .bind(now.unix_ms())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Ends one session. False when it had already ended.
    pub async fn end_session(&self, session_id: &str, now: Timestamp) -> CentralResult<bool> {
        let done = sqlx::query(
            "UPDATE sessions SET ended_at = $2 WHERE session_id = $1 AND ended_at IS NULL",
        )
        .bind(session_id)
        .bind(now.unix_ms())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Ends every open session of a terminal (its token was revoked); returns how many.
    pub async fn end_terminal_sessions(
        &self,
        terminal: &TerminalId,
        now: Timestamp,
    ) -> CentralResult<u64> {
        let done = sqlx::query(
            "UPDATE sessions SET ended_at = $2 WHERE terminal_id = $1 AND ended_at IS NULL",
        )
        .bind(terminal.as_str())
        .bind(now.unix_ms())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    /// The lockout state of an operator id (all zero when it never failed).
    pub async fn lock_state(&self, operator: &str) -> CentralResult<LockState> {
        let row = sqlx::query(
            "SELECT failures, locked_until, lock_count FROM sign_in_failures WHERE operator_id = $1",
        )
        .bind(operator)
        .fetch_optional(&self.pool)
        .await?;
        Ok(match row {
            None => LockState::default(),
            Some(r) => LockState {
                failures: r.try_get("failures")?,
                locked_until: r.try_get("locked_until")?,
                lock_count: r.try_get("lock_count")?,
            },
        })
    }

    /// Counts a wrong PIN. When it is the `failures_max`th in a row, the operator is locked for
    /// `lock_ms(lock_count)` and the count starts again; returns the lock's end if this failure
    /// set one. One transaction, so concurrent wrong PINs each count.
    pub async fn record_pin_failure(
        &self,
        operator: &str,
        now: Timestamp,
        failures_max: i64,
        lock_ms: impl Fn(i64) -> i64,
    ) -> CentralResult<Option<i64>> {
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(
            "INSERT INTO sign_in_failures (operator_id, failures, locked_until, lock_count, \
             updated_at) VALUES ($1, 1, NULL, 0, $2) ON CONFLICT (operator_id) DO UPDATE SET \
             failures = sign_in_failures.failures + 1, updated_at = excluded.updated_at \
             RETURNING failures, lock_count",
        )
        .bind(operator)
        .bind(now.unix_ms())
        .fetch_one(&mut *tx)
        .await?;
        let failures: i64 = row.try_get("failures")?;
        let lock_count: i64 = row.try_get("lock_count")?;
        let mut locked_until = None;
        if failures >= failures_max {
            let until = now.unix_ms().saturating_add(lock_ms(lock_count));
            sqlx::query(
                "UPDATE sign_in_failures SET failures = 0, locked_until = $2, \
                 lock_count = lock_count + 1 WHERE operator_id = $1",
            )
            .bind(operator)
            .bind(until)
            .execute(&mut *tx)
            .await?;
            locked_until = Some(until);
        }
        tx.commit().await?;
        Ok(locked_until)
    }

    /// A correct PIN: the failures, the lock and the back-off start again.
    pub async fn reset_pin_failures(&self, operator: &str) -> CentralResult<()> {
        sqlx::query("DELETE FROM sign_in_failures WHERE operator_id = $1")
            .bind(operator)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Appends a row to the authentication audit.
    pub async fn audit_auth(&self, e: &AuthEvent<'_>, now: Timestamp) -> CentralResult<()> {
        sqlx::query(
            "INSERT INTO auth_audit (at, terminal_id, operator_id, event, token_id, session_id) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(now.unix_ms())
        .bind(e.terminal_id)
        .bind(e.operator_id)
        .bind(e.event)
        .bind(e.token_id)
        .bind(e.session_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The operator's PIN hash and role, if the operator exists.
    pub async fn operator_credentials(
        &self,
        operator: &OperatorId,
    ) -> CentralResult<Option<(String, Role)>> {
        let row = sqlx::query("SELECT pin_hash, role FROM operators WHERE operator_id = $1")
            .bind(operator.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            Ok((
                r.try_get::<String, _>("pin_hash")?,
                role(&r.try_get::<String, _>("role")?)?,
            ))
        })
        .transpose()
    }
}

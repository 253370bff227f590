//! Terminals and operators: registering a terminal by its token's hash and public token id,
//! finding it again, revoking and rotating its token, and the operator list (ids and roles only;
//! PIN hashes never leave the central).
//!
//! Deliberately absent: hashing tokens or PINs and deciding who may do what (`crate::auth`); this
//! file only stores and reads what it is given.

use paydesk_core::{OperatorId, TerminalId, Timestamp};
use paydesk_protocol::{OperatorRecord, Role, TerminalRecord};
use sqlx::any::AnyRow;
use sqlx::Row;

use super::{corrupt, row_key, Store};
use crate::error::{CentralError, CentralResult};

impl Store {
    /// Registers a terminal with the SHA-256 of its token and gives the token a new public id,
    /// which it returns. Refuses an id that already exists.
    pub async fn add_terminal(
        &self,
        terminal: &TerminalId,
        token_sha256: &str,
        now: Timestamp,
    ) -> CentralResult<String> {
        let token_id = new_token_id();
        let done = sqlx::query(
            "INSERT INTO terminals (terminal_id, token_sha256, token_id, created_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (terminal_id) DO NOTHING",
        )
        .bind(terminal.as_str())
        .bind(token_sha256)
        .bind(&token_id)
        .bind(now.unix_ms())
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(CentralError::Conflict(format!(
                "terminal {terminal} already exists: choose another id"
            )));
        }
        Ok(token_id)
    }

    /// The terminal a token hash belongs to, revoked or not, and records that it was seen.
    pub async fn terminal_by_token_hash(
        &self,
        sha256: &str,
        now: Timestamp,
    ) -> CentralResult<Option<TerminalToken>> {
        let row = sqlx::query(
            "SELECT terminal_id, token_id, revoked_at FROM terminals WHERE token_sha256 = $1",
        )
        .bind(sha256)
        .fetch_optional(&self.pool)
        .await?;
        let Some(r) = row else { return Ok(None) };
        let id: String = r.try_get("terminal_id")?;
        let found = TerminalToken {
            terminal_id: TerminalId::new(id).map_err(corrupt)?,
            token_id: r
                .try_get::<Option<String>, _>("token_id")?
                .unwrap_or_default(),
            revoked_at: r.try_get("revoked_at")?,
        };
        if found.revoked_at.is_none() {
            sqlx::query("UPDATE terminals SET last_seen_at = $2 WHERE terminal_id = $1")
                .bind(found.terminal_id.as_str())
                .bind(now.unix_ms())
                .execute(&self.pool)
                .await?;
        }
        Ok(Some(found))
    }

    /// Revokes a terminal's token: it stops working (within the auth cache's lifetime in a
    /// running central). Returns the revoked token's id; `None` when the terminal is unknown.
    /// Revoking twice keeps the first time.
    pub async fn revoke_terminal(
        &self,
        terminal: &TerminalId,
        now: Timestamp,
    ) -> CentralResult<Option<String>> {
        sqlx::query(
            "UPDATE terminals SET revoked_at = $2 WHERE terminal_id = $1 AND revoked_at IS NULL",
        )
        .bind(terminal.as_str())
        .bind(now.unix_ms())
        .execute(&self.pool)
        .await?;
        let row = sqlx::query("SELECT token_id FROM terminals WHERE terminal_id = $1")
            .bind(terminal.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            Ok(r.try_get::<Option<String>, _>("token_id")?
                .unwrap_or_default())
        })
        .transpose()
    }

    /// Gives a terminal a new token (its hash; a new public id is made here); the old one stops
    /// working and a revoked terminal is reinstated. Returns the old and the new token id;
    /// `None` when the terminal is unknown.
    pub async fn rotate_terminal(
        &self,
        terminal: &TerminalId,
        token_sha256: &str,
    ) -> CentralResult<Option<(String, String)>> {
        let token_id = new_token_id();
        let mut tx = self.pool.begin().await?;
        let old = sqlx::query(&format!(
            "SELECT token_id FROM terminals WHERE terminal_id = $1{}",
            self.for_update()
        ))
        .bind(terminal.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(old) = old else { return Ok(None) };
        let old: Option<String> = old.try_get("token_id")?;
        sqlx::query(
            "UPDATE terminals SET token_sha256 = $2, token_id = $3, revoked_at = NULL \
             WHERE terminal_id = $1",
        )
        .bind(terminal.as_str())
        .bind(token_sha256)
        .bind(&token_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some((old.unwrap_or_default(), token_id)))
    }

    /// Every terminal, without any secret.
    pub async fn terminals(&self) -> CentralResult<Vec<TerminalRecord>> {
        let rows = sqlx::query(
            "SELECT terminal_id, token_id, created_at, revoked_at, last_seen_at FROM terminals \
             ORDER BY terminal_id",
        )
        .fetch_all(&self.pool)
        .await?;
        let decoded = rows
            .iter()
            .map(|r| {
                let record = (|| -> CentralResult<TerminalRecord> {
                    Ok(TerminalRecord {
                        terminal_id: TerminalId::new(r.try_get::<String, _>("terminal_id")?)
                            .map_err(corrupt)?,
                        token_id: r
                            .try_get::<Option<String>, _>("token_id")?
                            .unwrap_or_default(),
                        created_at: Timestamp::from_unix_ms(r.try_get("created_at")?),
                        revoked_at: r
                            .try_get::<Option<i64>, _>("revoked_at")?
                            .map(Timestamp::from_unix_ms),
                        last_seen_at: r
                            .try_get::<Option<i64>, _>("last_seen_at")?
                            .map(Timestamp::from_unix_ms),
                    })
                })();
                (row_key(r, "terminal_id"), record)
            })
            .collect();
        self.readable("terminals", decoded).await
    }

    /// Adds an operator or replaces their role and PIN hash.
    pub async fn upsert_operator(
        &self,
        operator: &OperatorId,
        role: Role,
        pin_hash: &str,
        now: Timestamp,
    ) -> CentralResult<()> {
        sqlx::query(
            "INSERT INTO operators (operator_id, role, pin_hash, updated_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (operator_id) DO UPDATE SET role = excluded.role, \
             pin_hash = excluded.pin_hash, updated_at = excluded.updated_at",
        )
        .bind(operator.as_str())
        .bind(role.as_str())
        .bind(pin_hash)
        .bind(now.unix_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn operators(&self) -> CentralResult<Vec<OperatorRecord>> {
        let rows = sqlx::query("SELECT operator_id, role FROM operators ORDER BY operator_id")
            .fetch_all(&self.pool)
            .await?;
        let decoded = rows
            .iter()
            .map(|r| (row_key(r, "operator_id"), operator_from_row(r)))
            .collect();
        self.readable("operators", decoded).await
    }

    pub async fn operator_exists(&self, operator: &OperatorId) -> CentralResult<bool> {
        let row = sqlx::query("SELECT 1 AS one FROM operators WHERE operator_id = $1")
            .bind(operator.as_str())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }
}

/// A terminal found by its token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TerminalToken {
    pub terminal_id: TerminalId,
    pub token_id: String,
    /// When the token was revoked; a revoked token authenticates nothing.
    pub revoked_at: Option<i64>,
}

/// A token's public id: `tok_` and 24 hex digits, random (it proves nothing, it names).
fn new_token_id() -> String {
    format!("tok_{}", &uuid::Uuid::new_v4().simple().to_string()[..24])
}

fn operator_from_row(r: &AnyRow) -> CentralResult<OperatorRecord> {
    let role: String = r.try_get("role")?;
    Ok(OperatorRecord {
        operator_id: OperatorId::new(r.try_get::<String, _>("operator_id")?).map_err(corrupt)?,
        role: Role::parse(&role).ok_or_else(|| corrupt(format!("role {role}")))?,
    })
}

//! Terminals and operators: registering a terminal by its token's hash, finding it again, and
//! the operator list with roles and PIN hashes.
//!
//! Deliberately absent: hashing tokens or PINs and deciding who may do what (`crate::auth`); this
//! file only stores and reads what it is given.

use paydesk_core::{OperatorId, TerminalId, Timestamp};
use paydesk_protocol::{OperatorRecord, Role};
use sqlx::any::AnyRow;
use sqlx::Row;

use super::{corrupt, row_key, Store};
use crate::error::{CentralError, CentralResult};

impl Store {
    /// Registers a terminal with the SHA-256 of its token. Refuses an id that already exists.
    pub async fn add_terminal(
        &self,
        terminal: &TerminalId,
        token_sha256: &str,
        now: Timestamp,
    ) -> CentralResult<()> {
        let done = sqlx::query(
            "INSERT INTO terminals (terminal_id, token_sha256, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (terminal_id) DO NOTHING",
        )
        .bind(terminal.as_str())
        .bind(token_sha256)
        .bind(now.unix_ms())
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(CentralError::Conflict(format!(
                "terminal {terminal} already exists: choose another id"
            )));
        }
        Ok(())
    }

    pub async fn terminal_by_token_hash(&self, sha256: &str) -> CentralResult<Option<TerminalId>> {
        let row = sqlx::query("SELECT terminal_id FROM terminals WHERE token_sha256 = $1")
            .bind(sha256)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            let id: String = r.try_get("terminal_id")?;
            TerminalId::new(id).map_err(corrupt)
        })
        .transpose()
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
        let rows =
            sqlx::query("SELECT operator_id, role FROM operators ORDER BY operator_id")
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

fn operator_from_row(r: &AnyRow) -> CentralResult<OperatorRecord> {
    let role: String = r.try_get("role")?;
    Ok(OperatorRecord {
        operator_id: OperatorId::new(r.try_get::<String, _>("operator_id")?).map_err(corrupt)?,
        role: Role::parse(&role).ok_or_else(|| corrupt(format!("role {role}")))?,
    })
}

//! Reversals and their approvals: one row per manager's cancel or refund, keyed by the client's
//! reversal key, and one row per second manager's approval, used at most once.
//!
//! Recording a reversal and using its approval happen in one transaction, so an approval is
//! never spent on a reversal that was not written, nor a reversal written on a spent approval.
//! Deliberately absent: deciding what may be reversed (the route decides from the live gateway)
//! and calling the gateway.

use paydesk_core::{OrderId, Timestamp};
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::Row;

use super::Store;
use crate::error::CentralResult;

const REVERSAL_COLUMNS: &str = "reversal_id, reversal_key, order_id, intent_id, kind, \
    requested_minor, amount_minor, currency, reason, requested_by, approved_by, approval_id, \
    terminal_id, session_id, gateway_key, gateway_id, state, failure, created_at, updated_at";

/// Most reversals listed for one order.
pub const ORDER_REVERSALS_MAX: i64 = 200;

/// One reversal as stored and as the API shows it. Amounts are minor units of `currency`;
/// `requested_minor` is what the manager asked (`None`: the whole paid amount), `amount_minor`
/// what was sent to the gateway. `state` is `pending`, `succeeded` or `failed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReversalRow {
    pub reversal_id: String,
    pub reversal_key: String,
    pub order_id: String,
    pub intent_id: String,
    /// `cancel` (nothing was captured) or `refund`.
    pub kind: String,
    pub requested_minor: Option<i64>,
    pub amount_minor: i64,
    pub currency: String,
    pub reason: String,
    pub requested_by: String,
    pub approved_by: Option<String>,
    pub approval_id: Option<String>,
    pub terminal_id: String,
    pub session_id: String,
    /// The idempotency key sent to the gateway (derived from the reversal key).
    pub gateway_key: String,
    /// The refund id (`re_…`), or the intent id of a cancel, once the gateway answered.
    pub gateway_id: Option<String>,
    pub state: String,
    pub failure: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

fn reversal_from_row(row: &AnyRow) -> CentralResult<ReversalRow> {
    Ok(ReversalRow {
        reversal_id: row.try_get("reversal_id")?,
        reversal_key: row.try_get("reversal_key")?,
        order_id: row.try_get("order_id")?,
        intent_id: row.try_get("intent_id")?,
        kind: row.try_get("kind")?,
        requested_minor: row.try_get("requested_minor")?,
        amount_minor: row.try_get("amount_minor")?,
        currency: row.try_get("currency")?,
        reason: row.try_get("reason")?,
        requested_by: row.try_get("requested_by")?,
        approved_by: row.try_get("approved_by")?,
        approval_id: row.try_get("approval_id")?,
        terminal_id: row.try_get("terminal_id")?,
        session_id: row.try_get("session_id")?,
        gateway_key: row.try_get("gateway_key")?,
        gateway_id: row.try_get("gateway_id")?,
        state: row.try_get("state")?,
        failure: row.try_get("failure")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// A second manager's approval of one action on one order for one amount.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApprovalRow {
    pub approval_id: String,
    pub action: String,
    pub order_id: String,
    pub amount_minor: i64,
    pub currency: String,
    pub approved_by: String,
    pub terminal_id: String,
    pub session_id: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    pub used_by: Option<String>,
}

/// What recording a reversal came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    Written,
    /// Another request recorded the same reversal key first.
    KeyTaken,
    /// The approval was used or expired meanwhile; nothing was written.
    ApprovalGone,
}

impl Store {
    /// The order's open (registered, unsettled) intent, if any.
    pub async fn open_intent_of(&self, order: &OrderId) -> CentralResult<Option<String>> {
        Ok(self.order_row(order).await?.and_then(|r| r.open_intent_id))
    }

    pub async fn reversal_by_key(&self, key: &str) -> CentralResult<Option<ReversalRow>> {
        let sql = format!("SELECT {REVERSAL_COLUMNS} FROM reversals WHERE reversal_key = $1");
        let row = sqlx::query(&sql)
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(reversal_from_row).transpose()
    }

    /// The order's reversals, oldest first.
    pub async fn reversals_of_order(&self, order: &OrderId) -> CentralResult<Vec<ReversalRow>> {
        let sql = format!(
            "SELECT {REVERSAL_COLUMNS} FROM reversals WHERE order_id = $1 \
             ORDER BY created_at, reversal_id LIMIT $2"
        );
        let rows = sqlx::query(&sql)
            .bind(order.as_str())
            .bind(ORDER_REVERSALS_MAX)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(reversal_from_row).collect()
    }

    /// What refunds recorded here took or may still take from `intent` (all but failed ones).
    pub async fn refunds_recorded(&self, intent: &str) -> CentralResult<i64> {
        let row = sqlx::query(
            "SELECT CAST(COALESCE(SUM(amount_minor), 0) AS BIGINT) AS total FROM reversals \
             WHERE intent_id = $1 AND kind = 'refund' AND state <> 'failed'",
        )
        .bind(intent)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get("total")?)
    }

    /// Writes a new reversal (state `pending`) and, when it has one, uses its approval — both or
    /// neither. The approval must be unused and unexpired at `now`.
    pub async fn record_reversal(
        &self,
        r: &ReversalRow,
        now: Timestamp,
    ) -> CentralResult<Recorded> {
        let mut tx = self.pool.begin().await?;
        if let Some(approval) = &r.approval_id {
            let used = sqlx::query(
                "UPDATE approvals SET used_at = $1, used_by = $2 \
                 WHERE approval_id = $3 AND used_at IS NULL AND expires_at > $1",
            )
            .bind(now.unix_ms())
            .bind(&r.reversal_id)
            .bind(approval)
            .execute(&mut *tx)
            .await?;
            if used.rows_affected() != 1 {
                tx.rollback().await?;
                return Ok(Recorded::ApprovalGone);
            }
        }
        let sql = format!(
            "INSERT INTO reversals ({REVERSAL_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, \
             $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20) \
             ON CONFLICT (reversal_key) DO NOTHING"
        );
        let inserted = sqlx::query(&sql)
            .bind(&r.reversal_id)
            .bind(&r.reversal_key)
            .bind(&r.order_id)
            .bind(&r.intent_id)
            .bind(&r.kind)
            .bind(r.requested_minor)
            .bind(r.amount_minor)
            .bind(&r.currency)
            .bind(&r.reason)
            .bind(&r.requested_by)
            .bind(&r.approved_by)
            .bind(&r.approval_id)
            .bind(&r.terminal_id)
            .bind(&r.session_id)
            .bind(&r.gateway_key)
            .bind(&r.gateway_id)
            .bind(&r.state)
            .bind(&r.failure)
            .bind(r.created_at)
            .bind(r.updated_at)
            .execute(&mut *tx)
            .await?;
        if inserted.rows_affected() != 1 {
            tx.rollback().await?;
            return Ok(Recorded::KeyTaken);
        }
        tx.commit().await?;
        Ok(Recorded::Written)
    }

    /// Records the gateway's answer to a pending reversal; a final one is never changed again.
    pub async fn settle_reversal(
        &self,
        reversal_id: &str,
        state: &str,
        gateway_id: Option<&str>,
        failure: Option<&str>,
        now: Timestamp,
    ) -> CentralResult<()> {
        sqlx::query(
            "UPDATE reversals SET state = $1, gateway_id = COALESCE($2, gateway_id), \
             failure = $3, updated_at = $4 WHERE reversal_id = $5 AND state = 'pending'",
        )
        .bind(state)
        .bind(gateway_id)
        .bind(failure)
        .bind(now.unix_ms())
        .bind(reversal_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Reversals still pending, oldest first, for a follow-up at the gateway.
    pub async fn pending_reversals(&self, limit: i64) -> CentralResult<Vec<ReversalRow>> {
        let sql = format!(
            "SELECT {REVERSAL_COLUMNS} FROM reversals WHERE state = 'pending' \
             ORDER BY updated_at, reversal_id LIMIT $1"
        );
        let rows = sqlx::query(&sql).bind(limit).fetch_all(&self.pool).await?;
        rows.iter().map(reversal_from_row).collect()
    }

    pub async fn add_approval(&self, a: &ApprovalRow) -> CentralResult<()> {
        sqlx::query(
            "INSERT INTO approvals (approval_id, action, order_id, amount_minor, currency, \
             approved_by, terminal_id, session_id, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&a.approval_id)
        .bind(&a.action)
        .bind(&a.order_id)
        .bind(a.amount_minor)
        .bind(&a.currency)
        .bind(&a.approved_by)
        .bind(&a.terminal_id)
        .bind(&a.session_id)
        .bind(a.created_at)
        .bind(a.expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn approval(&self, approval_id: &str) -> CentralResult<Option<ApprovalRow>> {
        let row = sqlx::query(
            "SELECT approval_id, action, order_id, amount_minor, currency, approved_by, \
             terminal_id, session_id, created_at, expires_at, used_at, used_by \
             FROM approvals WHERE approval_id = $1",
        )
        .bind(approval_id)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(ApprovalRow {
            approval_id: row.try_get("approval_id")?,
            action: row.try_get("action")?,
            order_id: row.try_get("order_id")?,
            amount_minor: row.try_get("amount_minor")?,
            currency: row.try_get("currency")?,
            approved_by: row.try_get("approved_by")?,
            terminal_id: row.try_get("terminal_id")?,
            session_id: row.try_get("session_id")?,
            created_at: row.try_get("created_at")?,
            expires_at: row.try_get("expires_at")?,
            used_at: row.try_get("used_at")?,
            used_by: row.try_get("used_by")?,
        }))
    }
}

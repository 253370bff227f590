//! The parts of the exception inbox added with the evidence view (issue 11): unknown outcomes
//! (an intent registered with no result past its expected end, seed 002's `expected_end_ts`),
//! acknowledgements (an item closed with a reason and no money effect), and an order's record
//! as the evidence shows it (its decisions and the refunds the gateway reported).
//!
//! Deliberately absent: deciding whether an acknowledgement or any other action is allowed
//! (`crate::resolution_rules`), the gateway, and the clock (the caller passes `now`).

use std::collections::HashSet;

use paydesk_core::Timestamp;
use paydesk_protocol::manager::ExceptionKind;
use sqlx::Row;

use super::resolutions::{insert_resolution, opt, text};
use super::{ExceptionItem, NewResolution, Store, EXCEPTION_ROWS_PER_KIND_MAX};
use crate::error::CentralResult;

/// Decisions read at most for one order's evidence.
pub const ORDER_RESOLUTIONS_MAX: i64 = 200;
/// Refunds read at most for one order's evidence.
pub const ORDER_REFUNDS_MAX: i64 = 200;
/// Item ids per query when looking up acknowledgements: far below the bind limits of SQLite
/// (32,766) and PostgreSQL (65,535).
const ACKNOWLEDGED_CHUNK_ROWS: usize = 500;

/// A decision recorded for an order, as the evidence lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolutionRow {
    pub resolution_id: i64,
    pub action: String,
    pub intent_id: Option<String>,
    pub manager_id: String,
    pub reason: String,
    pub evidence: String,
    pub outcome: String,
    pub at_ms: i64,
}

/// A refund the gateway's webhooks reported for an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundRow {
    pub refund_id: String,
    pub intent_id: String,
    pub amount_minor: i64,
    pub status: String,
    /// Whether a Paydesk reversal names it.
    pub by_paydesk: bool,
    pub received_at_ms: i64,
}

impl Store {
    /// Which of `candidates` a manager acknowledged (they leave the inbox). Asked in chunks of
    /// [`ACKNOWLEDGED_CHUNK_ROWS`] ids, so the work follows the inbox, not every acknowledgement
    /// ever made.
    pub(super) async fn acknowledged_items(
        &self,
        candidates: &[&str],
    ) -> CentralResult<HashSet<String>> {
        let mut out = HashSet::new();
        for chunk in candidates.chunks(ACKNOWLEDGED_CHUNK_ROWS) {
            let marks: Vec<String> = (1..=chunk.len()).map(|n| format!("${n}")).collect();
            let sql = format!(
                "SELECT item_id FROM acknowledgements WHERE item_id IN ({})",
                marks.join(", ")
            );
            let mut query = sqlx::query(&sql);
            for id in chunk {
                query = query.bind(*id);
            }
            for r in query.fetch_all(&self.pool).await? {
                out.insert(text(&r, "item_id")?);
            }
        }
        Ok(out)
    }

    /// Intents registered at the central with no result for longer than a charge takes
    /// (`registered_at + lease_ms`, the expected end), on an order nobody settled since: not
    /// paid, not already in review or unresolved (listed there), not decided by a manager
    /// after the intent was registered.
    pub(super) async fn unknown_outcome_items(
        &self,
        items: &mut Vec<ExceptionItem>,
        now: Timestamp,
        lease_ms: i64,
    ) -> CentralResult<()> {
        let rows = sqlx::query(
            "SELECT i.intent_id, i.order_id, i.terminal_id, i.attempt_number, i.registered_at \
             FROM intents i JOIN orders o ON o.order_id = i.order_id \
             WHERE i.state = 'open' AND i.registered_at <= $1 \
             AND o.status NOT IN ('paid', 'needs_review') \
             AND NOT EXISTS (SELECT 1 FROM unresolved u WHERE u.order_id = i.order_id) \
             AND NOT EXISTS (SELECT 1 FROM results r WHERE r.intent_id = i.intent_id) \
             AND NOT EXISTS (SELECT 1 FROM resolutions d WHERE d.order_id = i.order_id \
              AND d.outcome = 'applied' AND d.action <> 'acknowledge' \
              AND d.at >= i.registered_at) \
             ORDER BY i.registered_at LIMIT $2",
        )
        .bind(now.unix_ms().saturating_sub(lease_ms))
        .bind(EXCEPTION_ROWS_PER_KIND_MAX)
        .fetch_all(&self.pool)
        .await?;
        for r in &rows {
            let intent = text(r, "intent_id")?;
            let terminal = text(r, "terminal_id")?;
            let attempt: i64 = r.try_get("attempt_number")?;
            let registered: i64 = r.try_get("registered_at")?;
            items.push(ExceptionItem {
                kind: ExceptionKind::UnknownOutcome,
                item_id: format!("unknown:{intent}"),
                order_id: Some(text(r, "order_id")?),
                since_ms: registered.saturating_add(lease_ms),
                summary: format!(
                    "attempt {attempt} from terminal {terminal} registered intent {intent} and \
                     sent no result by its expected end: only the gateway can tell whether it \
                     charged"
                ),
                evidence: vec![intent, format!("terminal:{terminal}")],
            });
        }
        Ok(())
    }

    /// The decision that acknowledged `item_id`, if one did.
    pub async fn acknowledgement_of(&self, item_id: &str) -> CentralResult<Option<i64>> {
        let row = sqlx::query("SELECT resolution_id FROM acknowledgements WHERE item_id = $1")
            .bind(item_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(r) => Some(r.try_get("resolution_id")?),
            None => None,
        })
    }

    /// Closes `item` (as the inbox listed it) with the manager's decision `r` (already checked:
    /// the item is open and may be acknowledged): the decision recorded as applied, the item remembered as acknowledged,
    /// a flag or a stale-token refusal marked resolved. Returns the decision's id and whether it
    /// was already acknowledged (then nothing is written and the first decision's id returns).
    pub async fn acknowledge(
        &self,
        item: &paydesk_protocol::manager::ExceptionItem,
        r: &NewResolution<'_>,
        now: Timestamp,
    ) -> CentralResult<(i64, bool)> {
        let mut tx = self.pool.begin().await?;
        let id = insert_resolution(&mut tx, r, "applied", now).await?;
        let done = sqlx::query(
            "INSERT INTO acknowledgements (item_id, kind, order_id, resolution_id, at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (item_id) DO NOTHING",
        )
        .bind(&item.item_id)
        .bind(item.kind.as_str())
        .bind(item.order_id.as_deref())
        .bind(id)
        .bind(now.unix_ms())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            tx.rollback().await?;
            let first = self.acknowledgement_of(&item.item_id).await?.unwrap_or(id);
            return Ok((first, true));
        }
        let table = match item.item_id.split_once(':') {
            Some(("flag", n)) => Some(("flags", "flag_id", n)),
            Some(("stale", n)) => Some(("fencing_refusals", "refusal_id", n)),
            _ => None,
        };
        if let Some((table, column, n)) = table {
            if let Ok(n) = n.parse::<i64>() {
                sqlx::query(&format!(
                    "UPDATE {table} SET resolved_at = $1 WHERE {column} = $2 \
                     AND resolved_at IS NULL"
                ))
                .bind(now.unix_ms())
                .bind(n)
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        Ok((id, false))
    }

    /// The last decision applied to an order with this action, intent and reason: what a
    /// re-sent request finds (`None` when there is none).
    pub async fn applied_resolution(
        &self,
        order_id: &str,
        action: &str,
        intent_id: Option<&str>,
        reason: &str,
    ) -> CentralResult<Option<(i64, String)>> {
        let row = sqlx::query(
            "SELECT resolution_id, evidence, intent_id FROM resolutions WHERE order_id = $1 \
             AND action = $2 AND reason = $3 AND outcome = 'applied' \
             ORDER BY resolution_id DESC LIMIT 1",
        )
        .bind(order_id)
        .bind(action)
        .bind(reason)
        .fetch_optional(&self.pool)
        .await?;
        let Some(r) = row else { return Ok(None) };
        if opt(&r, "intent_id")?.as_deref() != intent_id {
            return Ok(None);
        }
        Ok(Some((r.try_get("resolution_id")?, text(&r, "evidence")?)))
    }

    /// The decisions recorded for an order, oldest first.
    pub async fn resolution_rows(&self, order_id: &str) -> CentralResult<Vec<ResolutionRow>> {
        let rows = sqlx::query(
            "SELECT resolution_id, action, intent_id, manager_id, reason, evidence, outcome, at \
             FROM resolutions WHERE order_id = $1 ORDER BY resolution_id LIMIT $2",
        )
        .bind(order_id)
        .bind(ORDER_RESOLUTIONS_MAX)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ResolutionRow {
                    resolution_id: r.try_get("resolution_id")?,
                    action: text(r, "action")?,
                    intent_id: opt(r, "intent_id")?,
                    manager_id: text(r, "manager_id")?,
                    reason: text(r, "reason")?,
                    evidence: text(r, "evidence")?,
                    outcome: text(r, "outcome")?,
                    at_ms: r.try_get("at")?,
                })
            })
            .collect()
    }

    /// The refunds the gateway's webhooks reported for an order (refund objects, not charge
    /// totals), oldest first, each saying whether a Paydesk reversal made it.
    pub async fn refund_rows(&self, order_id: &str) -> CentralResult<Vec<RefundRow>> {
        let rows = sqlx::query(
            "SELECT f.refund_id, f.intent_id, f.amount_minor, f.status, f.received_at, \
             (SELECT COUNT(*) FROM reversals v WHERE v.gateway_id = f.refund_id) AS ours \
             FROM refunds f WHERE f.order_id = $1 AND f.kind = 'refund' \
             ORDER BY f.received_at LIMIT $2",
        )
        .bind(order_id)
        .bind(ORDER_REFUNDS_MAX)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let ours: i64 = r.try_get("ours")?;
                Ok(RefundRow {
                    refund_id: text(r, "refund_id")?,
                    intent_id: text(r, "intent_id")?,
                    amount_minor: r.try_get("amount_minor")?,
                    status: text(r, "status")?,
                    by_paydesk: ours > 0,
                    received_at_ms: r.try_get("received_at")?,
                })
            })
            .collect()
    }
}

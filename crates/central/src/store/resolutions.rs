//! The exception inbox and a manager's resolutions (issue 11): everything at the central that
//! needs a person, read as one typed list, and the decisions the central applies from the
//! gateway's evidence — an order charged by an intent, or not charged and released (the
//! acknowledgements, unknown outcomes and an order's record for the evidence are in
//! `store::evidence`).
//!
//! Deliberately absent: asking the gateway and deciding which action the evidence allows
//! (`crate::http_inbox`); this file lists what is stored and applies a decision already checked,
//! fenced on the order not being paid meanwhile.

use paydesk_core::Timestamp;
use paydesk_protocol::manager::ExceptionKind;
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use super::claims::{audit, AuditEvent};
use super::Store;
use crate::error::CentralResult;

/// The most rows read per kind of exception: the inbox stays bounded whatever piles up.
pub const EXCEPTION_ROWS_PER_KIND_MAX: i64 = 1_000;

/// One thing at the central that needs a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExceptionItem {
    pub kind: ExceptionKind,
    /// Unique across the inbox (`flag:12`, `order:o-1`, …): the paging key with `since_ms`.
    pub item_id: String,
    pub order_id: Option<String>,
    pub since_ms: i64,
    pub summary: String,
    /// Ids to look at: intents, flags, refunds, reversals, terminals.
    pub evidence: Vec<String>,
}

/// A decision to record, applied or refused.
#[derive(Debug, Clone)]
pub struct NewResolution<'a> {
    pub order_id: &'a str,
    pub action: &'a str,
    pub intent_id: Option<&'a str>,
    /// The attempt a `retry` is of (migration 0017); `None` for every other action.
    pub attempt_id: Option<&'a str>,
    pub manager_id: &'a str,
    pub session_id: &'a str,
    pub terminal_id: &'a str,
    pub reason: &'a str,
    pub evidence: &'a str,
}

pub(super) fn text(r: &AnyRow, col: &str) -> CentralResult<String> {
    Ok(r.try_get::<String, _>(col)?)
}

pub(super) fn opt(r: &AnyRow, col: &str) -> CentralResult<Option<String>> {
    Ok(r.try_get::<Option<String>, _>(col)?)
}

impl Store {
    /// Everything that needs a person at `now`, oldest first (at most
    /// `EXCEPTION_ROWS_PER_KIND_MAX` of each kind), without the items a manager acknowledged.
    /// `lease_ms` is how long a charge is expected to take: an intent registered longer ago
    /// with no outcome is an unknown outcome.
    pub async fn exceptions(
        &self,
        now: Timestamp,
        lease_ms: i64,
    ) -> CentralResult<Vec<ExceptionItem>> {
        let mut items = Vec::new();
        self.review_items(&mut items).await?;
        self.flag_items(&mut items).await?;
        self.stale_token_items(&mut items).await?;
        self.drop_items(&mut items).await?;
        for u in self.unresolved().await? {
            items.push(ExceptionItem {
                kind: ExceptionKind::UnresolvedClaim,
                item_id: format!("unresolved:{}:{}", u.order_id, u.claim_token.get()),
                order_id: Some(u.order_id.to_string()),
                since_ms: u.since.unix_ms(),
                summary: format!("claim held past its lease: {}", u.reason),
                evidence: u.intent_id.iter().map(|i| i.to_string()).collect(),
            });
        }
        self.refund_items(&mut items).await?;
        self.reversal_items(&mut items).await;
        self.outside_refund_items(&mut items).await?;
        self.unknown_outcome_items(&mut items, now, lease_ms)
            .await?;
        let ids: Vec<&str> = items.iter().map(|i| i.item_id.as_str()).collect();
        let acknowledged = self.acknowledged_items(&ids).await?;
        items.retain(|i| !acknowledged.contains(&i.item_id));
        items.sort_by(|a, b| (a.since_ms, &a.item_id).cmp(&(b.since_ms, &b.item_id)));
        Ok(items)
    }

    async fn review_items(&self, items: &mut Vec<ExceptionItem>) -> CentralResult<()> {
        let rows = sqlx::query(
            "SELECT o.order_id, o.updated_at, o.open_intent_id, \
             COALESCE((SELECT f.reason FROM flags f WHERE f.order_id = o.order_id \
              AND f.resolved_at IS NULL ORDER BY f.flag_id DESC LIMIT 1), \
              (SELECT r.reason FROM results r WHERE r.order_id = o.order_id \
              ORDER BY r.received_at DESC LIMIT 1)) AS why, \
             (SELECT COUNT(*) FROM flags f WHERE f.order_id = o.order_id \
              AND f.resolved_at IS NULL) AS open_flags \
             FROM orders o WHERE o.status = 'needs_review' ORDER BY o.updated_at LIMIT $1",
        )
        .bind(EXCEPTION_ROWS_PER_KIND_MAX)
        .fetch_all(&self.pool)
        .await?;
        for r in &rows {
            let order = text(r, "order_id")?;
            let intent = opt(r, "open_intent_id")?;
            let why = opt(r, "why")?.unwrap_or_else(|| "outcome not known yet".into());
            let flags: i64 = r.try_get("open_flags")?;
            let mut summary = match &intent {
                Some(i) => format!("in review, intent {i}: {why}"),
                None => format!("in review: {why}"),
            };
            if flags > 0 {
                summary.push_str(&format!(" ({flags} open flag(s))"));
            }
            items.push(ExceptionItem {
                kind: ExceptionKind::NeedsReview,
                item_id: format!("order:{order}"),
                order_id: Some(order),
                since_ms: r.try_get("updated_at")?,
                summary,
                evidence: intent.into_iter().collect(),
            });
        }
        Ok(())
    }

    async fn flag_items(&self, items: &mut Vec<ExceptionItem>) -> CentralResult<()> {
        let rows = sqlx::query(
            "SELECT flag_id, order_id, source, reason, at FROM flags WHERE resolved_at IS NULL \
             ORDER BY flag_id LIMIT $1",
        )
        .bind(EXCEPTION_ROWS_PER_KIND_MAX)
        .fetch_all(&self.pool)
        .await?;
        for r in &rows {
            let id: i64 = r.try_get("flag_id")?;
            items.push(ExceptionItem {
                kind: ExceptionKind::Flag,
                item_id: format!("flag:{id}"),
                order_id: opt(r, "order_id")?,
                since_ms: r.try_get("at")?,
                summary: format!("{} ({})", text(r, "reason")?, text(r, "source")?),
                evidence: vec![format!("flag:{id}")],
            });
        }
        Ok(())
    }

    async fn stale_token_items(&self, items: &mut Vec<ExceptionItem>) -> CentralResult<()> {
        let rows = sqlx::query(
            "SELECT refusal_id, order_id, operation, presented_token, current_token, \
             terminal_id, at FROM fencing_refusals WHERE resolved_at IS NULL \
             ORDER BY refusal_id DESC LIMIT $1",
        )
        .bind(EXCEPTION_ROWS_PER_KIND_MAX)
        .fetch_all(&self.pool)
        .await?;
        for r in &rows {
            let id: i64 = r.try_get("refusal_id")?;
            let terminal = text(r, "terminal_id")?;
            let presented: i64 = r.try_get("presented_token")?;
            let current: i64 = r.try_get("current_token")?;
            items.push(ExceptionItem {
                kind: ExceptionKind::StaleToken,
                item_id: format!("stale:{id}"),
                order_id: Some(text(r, "order_id")?),
                since_ms: r.try_get("at")?,
                summary: format!(
                    "{} from terminal {terminal} refused: claim token {presented} is stale \
                     (current {current})",
                    text(r, "operation")?
                ),
                evidence: vec![format!("refusal:{id}"), format!("terminal:{terminal}")],
            });
        }
        Ok(())
    }

    async fn drop_items(&self, items: &mut Vec<ExceptionItem>) -> CentralResult<()> {
        let rows = sqlx::query(
            "SELECT terminal_id, window_start, dropped FROM result_drops \
             ORDER BY window_start DESC LIMIT $1",
        )
        .bind(EXCEPTION_ROWS_PER_KIND_MAX)
        .fetch_all(&self.pool)
        .await?;
        for r in &rows {
            let terminal = text(r, "terminal_id")?;
            let start: i64 = r.try_get("window_start")?;
            let dropped: i64 = r.try_get("dropped")?;
            items.push(ExceptionItem {
                kind: ExceptionKind::DroppedResults,
                item_id: format!("drops:{terminal}:{start}"),
                order_id: None,
                since_ms: start,
                summary: format!(
                    "{dropped} suspect result(s) from terminal {terminal} dropped over its \
                     hourly quota"
                ),
                evidence: vec![format!("terminal:{terminal}")],
            });
        }
        Ok(())
    }

    async fn refund_items(&self, items: &mut Vec<ExceptionItem>) -> CentralResult<()> {
        let rows = sqlx::query(
            "SELECT f.refund_id, f.order_id, f.intent_id, f.amount_minor, f.status, \
             f.received_at, o.currency FROM refunds f LEFT JOIN orders o \
             ON o.order_id = f.order_id WHERE f.status IN ('pending', 'requires_action', 'failed') \
             ORDER BY f.received_at LIMIT $1",
        )
        .bind(EXCEPTION_ROWS_PER_KIND_MAX)
        .fetch_all(&self.pool)
        .await?;
        for r in &rows {
            let refund = text(r, "refund_id")?;
            let status = text(r, "status")?;
            let minor: i64 = r.try_get("amount_minor")?;
            let currency = opt(r, "currency")?.unwrap_or_default();
            items.push(ExceptionItem {
                kind: if status == "failed" {
                    ExceptionKind::RefundFailed
                } else {
                    ExceptionKind::RefundPending
                },
                item_id: format!("refund:{refund}"),
                order_id: Some(text(r, "order_id")?),
                since_ms: r.try_get("received_at")?,
                summary: format!(
                    "refund {refund} of {} is {status}",
                    money_words(minor, &currency)
                ),
                evidence: vec![refund, text(r, "intent_id")?],
            });
        }
        Ok(())
    }

    /// Paydesk's own reversals still pending or failed. Tolerant: an older schema without the
    /// reversals table lists none (logged).
    async fn reversal_items(&self, items: &mut Vec<ExceptionItem>) {
        let rows = sqlx::query(
            "SELECT reversal_id, order_id, intent_id, kind, amount_minor, currency, state, \
             failure, updated_at FROM reversals WHERE state IN ('pending', 'failed') \
             ORDER BY updated_at LIMIT $1",
        )
        .bind(EXCEPTION_ROWS_PER_KIND_MAX)
        .fetch_all(&self.pool)
        .await;
        let rows = match rows {
            Ok(rows) => rows,
            Err(e) => {
                tracing::warn!(error = %e, "the inbox could not read reversals");
                return;
            }
        };
        for r in &rows {
            let read = || -> CentralResult<ExceptionItem> {
                let id = text(r, "reversal_id")?;
                let state = text(r, "state")?;
                let minor: i64 = r.try_get("amount_minor")?;
                let failure = opt(r, "failure")?
                    .map(|f| format!(": {f}"))
                    .unwrap_or_default();
                Ok(ExceptionItem {
                    kind: if state == "failed" {
                        ExceptionKind::ReversalFailed
                    } else {
                        ExceptionKind::ReversalPending
                    },
                    item_id: format!("reversal:{id}"),
                    order_id: Some(text(r, "order_id")?),
                    since_ms: r.try_get("updated_at")?,
                    summary: format!(
                        "{} of {} is {state}{failure}",
                        text(r, "kind")?,
                        money_words(minor, &text(r, "currency")?)
                    ),
                    evidence: vec![id, text(r, "intent_id")?],
                })
            };
            match read() {
                Ok(item) => items.push(item),
                Err(e) => tracing::warn!(error = %e, "the inbox skipped an unreadable reversal"),
            }
        }
    }

    /// Refunds the gateway's webhooks reported that no Paydesk reversal names: made in the
    /// gateway's dashboard or by another tool. Without the reversals table every one is listed.
    async fn outside_refund_items(&self, items: &mut Vec<ExceptionItem>) -> CentralResult<()> {
        const BASE: &str = "SELECT f.refund_id, f.kind, f.order_id, f.intent_id, \
             f.amount_minor, f.status, f.received_at, o.currency FROM refunds f LEFT JOIN orders o \
             ON o.order_id = f.order_id WHERE f.status NOT IN ('failed', 'canceled') \
             AND NOT (f.kind = 'charge_total' AND EXISTS (SELECT 1 FROM refunds g \
             WHERE g.kind = 'refund' AND g.charge_id = f.charge_id))";
        const NO_REVERSAL: &str = " AND NOT EXISTS (SELECT 1 FROM reversals v \
             WHERE v.gateway_id = f.refund_id OR (f.kind = 'charge_total' \
             AND v.intent_id = f.intent_id AND v.kind = 'refund' AND v.state <> 'failed'))";
        const ORDER: &str = " ORDER BY f.received_at LIMIT $1";
        let with = format!("{BASE}{NO_REVERSAL}{ORDER}");
        let rows = match sqlx::query(&with)
            .bind(EXCEPTION_ROWS_PER_KIND_MAX)
            .fetch_all(&self.pool)
            .await
        {
            Ok(rows) => rows,
            Err(e) => {
                tracing::warn!(error = %e, "no reversals to compare refunds with: all listed");
                sqlx::query(&format!("{BASE}{ORDER}"))
                    .bind(EXCEPTION_ROWS_PER_KIND_MAX)
                    .fetch_all(&self.pool)
                    .await?
            }
        };
        for r in &rows {
            let refund = text(r, "refund_id")?;
            let minor: i64 = r.try_get("amount_minor")?;
            let currency = opt(r, "currency")?.unwrap_or_default();
            let intent = text(r, "intent_id")?;
            let what = if text(r, "kind")? == "charge_total" {
                "charge refunded"
            } else {
                "refund"
            };
            items.push(ExceptionItem {
                kind: ExceptionKind::OutsideRefund,
                item_id: format!("outside:{refund}"),
                order_id: Some(text(r, "order_id")?),
                since_ms: r.try_get("received_at")?,
                summary: format!(
                    "{what} {refund} of {} on intent {intent} was made outside Paydesk ({})",
                    money_words(minor, &currency),
                    text(r, "status")?
                ),
                evidence: vec![refund, intent],
            });
        }
        Ok(())
    }

    /// Records a decision (applied or refused) on its own; returns its id.
    pub async fn record_resolution(
        &self,
        r: &NewResolution<'_>,
        outcome: &str,
        now: Timestamp,
    ) -> CentralResult<i64> {
        let mut tx = self.pool.begin().await?;
        let id = insert_resolution(&mut tx, r, outcome, now).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Marks the order paid by `intent` on the manager's word backed by the gateway's evidence:
    /// verified by 'manager', claim released, its flags and stale-token refusals resolved, the
    /// decision recorded. `None` when the order was paid meanwhile (nothing written).
    pub async fn resolve_charged(
        &self,
        r: &NewResolution<'_>,
        intent: &str,
        now: Timestamp,
    ) -> CentralResult<Option<i64>> {
        let mut tx = self.pool.begin().await?;
        let held = held(&mut tx, r.order_id).await?;
        let done = sqlx::query(
            "UPDATE orders SET status = 'paid', paid_intent_id = $1, verified_by = 'manager', \
             open_intent_id = NULL, holder_operator = NULL, holder_terminal = NULL, \
             claimed_at = NULL, lease_until = NULL, ended_at = $2, updated_at = $2 \
             WHERE order_id = $3 AND status <> 'paid'",
        )
        .bind(intent)
        .bind(now.unix_ms())
        .bind(r.order_id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            tx.rollback().await?;
            return Ok(None);
        }
        sqlx::query(
            "UPDATE intents SET state = 'succeeded' WHERE intent_id = $1 AND order_id = $2",
        )
        .bind(intent)
        .bind(r.order_id)
        .execute(&mut *tx)
        .await?;
        self.refresh_refunded(&mut tx, r.order_id, now).await?;
        let id = settle(&mut tx, r, held, now).await?;
        tx.commit().await?;
        Ok(Some(id))
    }

    /// Puts the order back to unpaid and releases its claim, after the gateway showed none of
    /// its intents succeeded. Fenced: not paid, and no live lease (a terminal may be charging).
    /// `None` when that no longer holds (nothing written).
    pub async fn resolve_not_charged(
        &self,
        r: &NewResolution<'_>,
        now: Timestamp,
    ) -> CentralResult<Option<i64>> {
        let mut tx = self.pool.begin().await?;
        let held = held(&mut tx, r.order_id).await?;
        let done = sqlx::query(
            "UPDATE orders SET status = 'unpaid', open_intent_id = NULL, holder_operator = NULL, \
             holder_terminal = NULL, claimed_at = NULL, lease_until = NULL, ended_at = $1, \
             updated_at = $1 WHERE order_id = $2 AND status <> 'paid' \
             AND (lease_until IS NULL OR lease_until <= $1)",
        )
        .bind(now.unix_ms())
        .bind(r.order_id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            tx.rollback().await?;
            return Ok(None);
        }
        let id = settle(&mut tx, r, held, now).await?;
        tx.commit().await?;
        Ok(Some(id))
    }

    /// The intents the central knows for an order: registered ones, the open one and the one
    /// that paid it.
    pub async fn order_intents(&self, order_id: &str) -> CentralResult<Vec<String>> {
        let rows = sqlx::query(
            "SELECT intent_id FROM intents WHERE order_id = $1 UNION \
             SELECT open_intent_id FROM orders WHERE order_id = $1 AND open_intent_id IS NOT NULL \
             UNION SELECT paid_intent_id FROM orders WHERE order_id = $1 \
             AND paid_intent_id IS NOT NULL",
        )
        .bind(order_id)
        .fetch_all(&self.pool)
        .await?;
        let mut ids = rows
            .iter()
            .map(|r| text(r, "intent_id"))
            .collect::<CentralResult<Vec<_>>>()?;
        ids.sort();
        ids.dedup();
        Ok(ids)
    }

    /// The decisions recorded for an order, oldest first: (action, outcome, manager, evidence).
    pub async fn resolutions_of(
        &self,
        order_id: &str,
    ) -> CentralResult<Vec<(String, String, String, String)>> {
        let rows = sqlx::query(
            "SELECT action, outcome, manager_id, evidence FROM resolutions WHERE order_id = $1 \
             ORDER BY resolution_id",
        )
        .bind(order_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    text(r, "action")?,
                    text(r, "outcome")?,
                    text(r, "manager_id")?,
                    text(r, "evidence")?,
                ))
            })
            .collect()
    }
}

/// Whether the order is held by a terminal now (read inside the decision's transaction).
async fn held(tx: &mut Transaction<'static, Any>, order_id: &str) -> CentralResult<bool> {
    let row = sqlx::query("SELECT holder_terminal FROM orders WHERE order_id = $1")
        .bind(order_id)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(match row {
        Some(r) => opt(&r, "holder_terminal")?.is_some(),
        None => false,
    })
}

/// After an applied decision: the released holding audited, the order's flags and stale-token
/// refusals resolved, the decision recorded.
async fn settle(
    tx: &mut Transaction<'static, Any>,
    r: &NewResolution<'_>,
    held: bool,
    now: Timestamp,
) -> CentralResult<i64> {
    if held {
        audit(tx, r.order_id, AuditEvent::Released, now).await?;
    }
    for table in ["flags", "fencing_refusals"] {
        sqlx::query(&format!(
            "UPDATE {table} SET resolved_at = $1 WHERE order_id = $2 AND resolved_at IS NULL"
        ))
        .bind(now.unix_ms())
        .bind(r.order_id)
        .execute(&mut **tx)
        .await?;
    }
    insert_resolution(tx, r, "applied", now).await
}

pub(super) async fn insert_resolution(
    tx: &mut Transaction<'static, Any>,
    r: &NewResolution<'_>,
    outcome: &str,
    now: Timestamp,
) -> CentralResult<i64> {
    let row = sqlx::query(
        "INSERT INTO resolutions (order_id, action, intent_id, manager_id, session_id, \
         terminal_id, reason, evidence, outcome, at, attempt_id) VALUES ($1, $2, $3, $4, $5, $6, \
         $7, $8, $9, $10, $11) RETURNING resolution_id",
    )
    .bind(r.order_id)
    .bind(r.action)
    .bind(r.intent_id)
    .bind(r.manager_id)
    .bind(r.session_id)
    .bind(r.terminal_id)
    .bind(r.reason)
    .bind(r.evidence)
    .bind(outcome)
    .bind(now.unix_ms())
    .bind(r.attempt_id)
    .fetch_one(&mut **tx)
    .await?;
    Ok(row.try_get("resolution_id")?)
}

/// An amount as a manager reads it ("49.00 USD"); minor units only for a currency the core does
/// not know (a row written by a gateway in a currency Paydesk never charges).
fn money_words(minor: i64, currency: &str) -> String {
    paydesk_core::Currency::from_code(currency)
        .ok()
        .and_then(|c| paydesk_core::Money::new(minor, c).ok())
        .map_or_else(
            || format!("{minor} {currency} (minor units)"),
            |m| m.to_string(),
        )
}

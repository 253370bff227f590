//! The writes of a results batch, gathered while its items are decided (`inbox.rs`) and then
//! made in a few set-based statements, whatever the batch's size: one INSERT for its results
//! (ignoring any already stored), one for its flags, one UPDATE for its orders, one INSERT for the
//! claim audit of the holdings it ended, one UPDATE for the intents it settled. (Each statement is
//! split only past the backends' bound-parameter limits: 1,000 rows at a time.)
//!
//! The order rows are locked by the batch's transaction and mirrored in memory as each item is
//! decided, so what one statement writes for an order is what the items, one after the other,
//! would have written.
//!
//! Deliberately absent: deciding anything (`inbox_rules::decide`), and the rare per-item writes
//! that later reads of the same batch depend on (`inbox.rs` flushes before those).

use std::collections::BTreeMap;

use paydesk_core::{TerminalId, Timestamp};
use paydesk_protocol::{ItemStatus, OrderStatus, ResultItem};
use sqlx::{Any, Transaction};

use super::super::claims::{audit_insert, AuditEvent};
use super::super::inbox_rules::OrderChange;
use super::super::installments::{count_payment, Payment};
use super::super::{corrupt, OrderRow, Store};
use crate::error::CentralResult;

/// Rows per statement: 16 binds a result row, well under PostgreSQL's 65,535 and SQLite's
/// 32,766 bound parameters.
const ROWS_PER_STATEMENT: usize = 1000;

/// A result to store.
#[derive(Debug)]
struct NewResult {
    item: ResultItem,
    interim: bool,
    terminal: String,
    status: ItemStatus,
    reason: Option<String>,
    suspect: bool,
}

/// What the batch does to one order: its changes composed in the order they were decided.
#[derive(Debug, Default)]
struct OrderWrite {
    /// The last new status.
    status: Option<OrderStatus>,
    /// The last intent that marked it paid.
    paid: Option<String>,
    /// Whether a change cleared or adopted its open intent, and what that left.
    touch_open: bool,
    open: Option<String>,
    /// Whether a change ended the holding (at most one can: the mirror then has no holder).
    release: bool,
    /// The highest attempt number a change raised the sequence to (0: none).
    attempt_seq: i64,
}

/// The pending writes of one batch.
#[derive(Debug, Default)]
pub(in crate::store) struct Writes {
    results: Vec<NewResult>,
    flags: Vec<(Option<String>, String, String)>,
    orders: BTreeMap<String, OrderWrite>,
    /// (intent, order) → the state the last admitted result of it left.
    intents: BTreeMap<(String, String), String>,
    /// (order, success) to count, in the order decided (issue 12, installments).
    payments: Vec<(String, Payment)>,
}

impl Writes {
    /// A result to store as `status`.
    pub(in crate::store) fn result(
        &mut self,
        terminal: &TerminalId,
        item: &ResultItem,
        interim: bool,
        status: ItemStatus,
        reason: Option<String>,
        suspect: bool,
    ) {
        self.results.push(NewResult {
            item: item.clone(),
            interim,
            terminal: terminal.as_str().to_string(),
            status,
            reason,
            suspect,
        });
    }

    /// A flag for a manager, logged now and written with the batch.
    pub(in crate::store) fn flag(&mut self, order_id: Option<&str>, source: &str, reason: &str) {
        tracing::warn!(
            order = order_id.unwrap_or("-"),
            source,
            reason,
            "flagged for review"
        );
        self.flags.push((
            order_id.map(str::to_string),
            source.to_string(),
            reason.to_string(),
        ));
    }

    /// `change` to the order `row` mirrors, already mirrored in `row`; `released`: it ended the
    /// holding the row had before it.
    pub(in crate::store) fn order_change(
        &mut self,
        row: &OrderRow,
        change: &OrderChange,
        released: bool,
    ) {
        if change.new_status.is_none()
            && change.paid_intent_id.is_none()
            && change.payment.is_none()
            && !change.clear_open_intent
            && !released
            && change.adopt_intent.is_none()
            && change.attempt_seq.is_none()
        {
            return;
        }
        let w = self
            .orders
            .entry(row.order.order_id.as_str().to_string())
            .or_default();
        if let Some(status) = change.new_status {
            w.status = Some(status);
        }
        if let Some(paid) = &change.paid_intent_id {
            w.paid = Some(paid.as_str().to_string());
        }
        if change.clear_open_intent || change.adopt_intent.is_some() {
            w.touch_open = true;
            w.open = row.open_intent_id.clone();
        }
        w.release |= released;
        if let Some(seq) = change.attempt_seq {
            w.attempt_seq = w.attempt_seq.max(seq);
        }
        if let Some(payment) = &change.payment {
            self.payments
                .push((row.order.order_id.as_str().to_string(), payment.clone()));
        }
    }

    /// The state an admitted result leaves its registered intent in.
    pub(in crate::store) fn intent_state(&mut self, intent: &str, order: &str, state: &str) {
        self.intents
            .insert((intent.to_string(), order.to_string()), state.to_string());
    }

    /// Writes the pending results and flags, each set in one statement per 1,000 rows. `false`
    /// when some result was already stored (a concurrent batch stored it after this one read the
    /// inbox): the caller rolls back and decides the batch again.
    pub(in crate::store) async fn flush(
        &mut self,
        tx: &mut Transaction<'static, Any>,
        now: Timestamp,
    ) -> CentralResult<bool> {
        for chunk in self.results.chunks(ROWS_PER_STATEMENT) {
            let rows: Vec<String> = (0..chunk.len())
                .map(|r| {
                    let b = r * 16 + 2;
                    format!(
                        "(${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, $1, ${}, ${}, ${}, ${})",
                        b,
                        b + 1,
                        b + 2,
                        b + 3,
                        b + 4,
                        b + 5,
                        b + 6,
                        b + 7,
                        b + 8,
                        b + 9,
                        b + 10,
                        b + 11,
                        b + 12,
                        b + 13,
                        b + 14,
                        b + 15
                    )
                })
                .collect();
            let sql = format!(
                "INSERT INTO results (attempt_id, interim, order_id, attempt_number, claim_token, \
                 terminal_id, outcome, amount_minor, currency, intent_id, offline, occurred_at, \
                 received_at, status, reason, suspect, installment) VALUES {} \
                 ON CONFLICT (attempt_id, interim) DO NOTHING",
                rows.join(", ")
            );
            let mut query = sqlx::query(&sql).bind(now.unix_ms());
            for r in chunk {
                let item = &r.item;
                query = query
                    .bind(item.attempt_id.to_string())
                    .bind(i64::from(r.interim))
                    .bind(item.order_id.as_str().to_string())
                    .bind(i64::from(item.attempt_number.get()))
                    .bind(item.claim_token.get() as i64)
                    .bind(r.terminal.clone())
                    .bind(item.outcome.as_str())
                    .bind(item.amount.minor())
                    .bind(item.amount.currency().code().to_string())
                    .bind(item.intent_id.as_ref().map(|i| i.as_str().to_string()))
                    .bind(i64::from(item.offline))
                    .bind(item.occurred_at.unix_ms())
                    .bind(r.status.as_str())
                    .bind(r.reason.clone())
                    .bind(i64::from(r.suspect))
                    .bind(i64::from(item.installment.get()));
            }
            let done = query.execute(&mut **tx).await?;
            if done.rows_affected() != chunk.len() as u64 {
                return Ok(false);
            }
        }
        self.results.clear();
        for chunk in self.flags.chunks(ROWS_PER_STATEMENT) {
            let rows: Vec<String> = (0..chunk.len())
                .map(|r| format!("(${}, ${}, ${}, $1)", r * 3 + 2, r * 3 + 3, r * 3 + 4))
                .collect();
            let sql = format!(
                "INSERT INTO flags (order_id, source, reason, at) VALUES {}",
                rows.join(", ")
            );
            let mut query = sqlx::query(&sql).bind(now.unix_ms());
            for (order, source, reason) in chunk {
                query = query
                    .bind(order.clone())
                    .bind(source.as_str())
                    .bind(reason.as_str());
            }
            query.execute(&mut **tx).await?;
        }
        self.flags.clear();
        Ok(true)
    }

    /// Writes everything still pending: the results and flags ([`Writes::flush`]; `false` as
    /// there), then the orders in one UPDATE, the claim audit of the holdings the batch ended in
    /// one INSERT, the refunded totals of the orders it marked paid, and the intents' states in
    /// one UPDATE.
    pub(in crate::store) async fn finish(
        mut self,
        store: &Store,
        tx: &mut Transaction<'static, Any>,
        now: Timestamp,
    ) -> CentralResult<bool> {
        if !self.flush(tx, now).await? {
            return Ok(false);
        }
        let orders: Vec<(String, OrderWrite)> = self.orders.into_iter().collect();
        for chunk in orders.chunks(ROWS_PER_STATEMENT) {
            // One row per order: (id, status, paid intent, open touched, open intent, release,
            // attempt number), named column1… by both backends.
            let rows: Vec<String> = (0..chunk.len())
                .map(|r| {
                    let b = r * 7 + 2;
                    format!(
                        "(${}, ${}, ${}, ${}, ${}, ${}, ${})",
                        b,
                        b + 1,
                        b + 2,
                        b + 3,
                        b + 4,
                        b + 5,
                        b + 6
                    )
                })
                .collect();
            let sql = format!(
                "UPDATE orders SET status = COALESCE(v.column2, status), \
                 paid_intent_id = COALESCE(v.column3, paid_intent_id), \
                 verified_by = CASE WHEN v.column3 IS NULL THEN verified_by ELSE 'gateway' END, \
                 open_intent_id = CASE WHEN v.column4 = 1 THEN v.column5 ELSE open_intent_id END, \
                 holder_operator = CASE WHEN v.column6 = 1 THEN NULL ELSE holder_operator END, \
                 holder_terminal = CASE WHEN v.column6 = 1 THEN NULL ELSE holder_terminal END, \
                 claimed_at = CASE WHEN v.column6 = 1 THEN NULL ELSE claimed_at END, \
                 lease_until = CASE WHEN v.column6 = 1 THEN NULL ELSE lease_until END, \
                 ended_at = CASE WHEN v.column6 = 1 THEN $1 ELSE ended_at END, \
                 attempt_seq = CASE WHEN v.column7 > attempt_seq THEN v.column7 ELSE attempt_seq END, \
                 updated_at = $1 \
                 FROM (VALUES {}) AS v WHERE orders.order_id = v.column1",
                rows.join(", ")
            );
            let mut query = sqlx::query(&sql).bind(now.unix_ms());
            for (order_id, w) in chunk {
                query = query
                    .bind(order_id.as_str())
                    .bind(w.status.map(|s| s.as_str().to_string()))
                    .bind(w.paid.clone())
                    .bind(i64::from(w.touch_open))
                    .bind(w.open.clone())
                    .bind(i64::from(w.release))
                    .bind(w.attempt_seq);
            }
            let done = query.execute(&mut **tx).await?;
            if done.rows_affected() != chunk.len() as u64 {
                return Err(corrupt(format!(
                    "a results batch updated {} of its {} locked orders",
                    done.rows_affected(),
                    chunk.len()
                )));
            }
            // The audit row of each holding a result ended, after the UPDATE that ended it.
            let released: Vec<&str> = chunk
                .iter()
                .filter(|(_, w)| w.release)
                .map(|(o, _)| o.as_str())
                .collect();
            if !released.is_empty() {
                let list: Vec<String> = (2..released.len() + 2).map(|i| format!("${i}")).collect();
                let sql = audit_insert(
                    AuditEvent::Result,
                    "orders",
                    &format!(" WHERE h.order_id IN ({})", list.join(", ")),
                    "$1",
                    "NULL",
                );
                let mut query = sqlx::query(&sql).bind(now.unix_ms());
                for order_id in &released {
                    query = query.bind(*order_id);
                }
                let done = query.execute(&mut **tx).await?;
                if done.rows_affected() != released.len() as u64 {
                    return Err(corrupt(format!(
                        "the claim audit rows of {} released orders were not all written",
                        released.len()
                    )));
                }
            }
            for (order_id, _) in chunk.iter().filter(|(_, w)| w.paid.is_some()) {
                store.refresh_refunded(tx, order_id, now).await?;
            }
        }
        // The successes the batch counts, once per intent: few (one per paying result), so
        // one statement pair each.
        for (order_id, payment) in &self.payments {
            count_payment(tx, order_id, payment, "result", now).await?;
        }
        let intents: Vec<((String, String), String)> = self.intents.into_iter().collect();
        for chunk in intents.chunks(ROWS_PER_STATEMENT) {
            let rows: Vec<String> = (0..chunk.len())
                .map(|r| format!("(${}, ${}, ${})", r * 3 + 1, r * 3 + 2, r * 3 + 3))
                .collect();
            let sql = format!(
                "UPDATE intents SET state = v.column3 FROM (VALUES {}) AS v \
                 WHERE intents.intent_id = v.column1 AND intents.order_id = v.column2",
                rows.join(", ")
            );
            let mut query = sqlx::query(&sql);
            for ((intent, order), state) in chunk {
                query = query
                    .bind(intent.as_str())
                    .bind(order.as_str())
                    .bind(state.as_str());
            }
            query.execute(&mut **tx).await?;
        }
        Ok(true)
    }
}

//! The writes of a results batch, gathered while its items are decided (`inbox.rs`) and then
//! made in a few set-based statements, whatever the batch's size: one INSERT for its results
//! (ignoring any already stored), one for its flags, one UPDATE for its orders, one INSERT for the
//! claim audit of the holdings it ended, one UPDATE for the refunded totals of the orders it
//! marked paid, one UPDATE for the intents it settled. Each statement binds its rows as one JSON
//! array (`rowset.rs`), so its text and its cost to prepare do not grow with the batch.
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
use serde::Serialize;
use sqlx::{Any, Transaction};

use super::super::claims::{audit_insert, AuditEvent};
use super::super::inbox_rules::OrderChange;
use super::super::installments::{count_payment, Payment};
use super::super::{corrupt, OrderRow};
use super::rowset::{id_rows, is_postgres, json_rows, to_json, Id, Kind};
use crate::error::CentralResult;

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

    /// Writes the pending results and flags, each set in one statement. `false` when some result
    /// was already stored (a concurrent batch stored it after this one read the inbox): the
    /// caller rolls back and decides the batch again.
    pub(in crate::store) async fn flush(
        &mut self,
        tx: &mut Transaction<'static, Any>,
        now: Timestamp,
    ) -> CentralResult<bool> {
        let postgres = is_postgres(tx);
        if !self.results.is_empty() {
            let rows: Vec<ResultRow<'_>> = self.results.iter().map(ResultRow::new).collect();
            let sql = format!(
                "INSERT INTO results (attempt_id, interim, order_id, attempt_number, claim_token, \
                 terminal_id, outcome, amount_minor, currency, intent_id, offline, occurred_at, \
                 received_at, status, reason, suspect, installment) \
                 SELECT v.attempt_id, v.interim, v.order_id, v.attempt_number, v.claim_token, \
                 v.terminal_id, v.outcome, v.amount_minor, v.currency, v.intent_id, v.offline, \
                 v.occurred_at, $1, v.status, v.reason, v.suspect, v.installment FROM {} \
                 WHERE true ON CONFLICT (attempt_id, interim) DO NOTHING",
                json_rows(postgres, "$2", ResultRow::COLUMNS)
            );
            let done = sqlx::query(&sql)
                .bind(now.unix_ms())
                .bind(to_json(&rows)?)
                .execute(&mut **tx)
                .await?;
            if done.rows_affected() != rows.len() as u64 {
                return Ok(false);
            }
            self.results.clear();
        }
        if !self.flags.is_empty() {
            let rows: Vec<FlagRow<'_>> = self
                .flags
                .iter()
                .map(|(order, source, reason)| FlagRow {
                    order_id: order.as_deref(),
                    source,
                    reason,
                })
                .collect();
            let sql = format!(
                "INSERT INTO flags (order_id, source, reason, at) \
                 SELECT v.order_id, v.source, v.reason, $1 FROM {}",
                json_rows(postgres, "$2", FlagRow::COLUMNS)
            );
            sqlx::query(&sql)
                .bind(now.unix_ms())
                .bind(to_json(&rows)?)
                .execute(&mut **tx)
                .await?;
            self.flags.clear();
        }
        Ok(true)
    }

    /// Writes everything still pending: the results and flags ([`Writes::flush`]; `false` as
    /// there), then the orders in one UPDATE, the claim audit of the holdings the batch ended in
    /// one INSERT, the refunded totals of the orders it marked paid in one UPDATE, and the
    /// intents' states in one UPDATE.
    pub(in crate::store) async fn finish(
        mut self,
        tx: &mut Transaction<'static, Any>,
        now: Timestamp,
    ) -> CentralResult<bool> {
        if !self.flush(tx, now).await? {
            return Ok(false);
        }
        let postgres = is_postgres(tx);
        if !self.orders.is_empty() {
            let rows: Vec<OrderUpdateRow<'_>> = self
                .orders
                .iter()
                .map(|(order_id, w)| OrderUpdateRow {
                    order_id,
                    new_status: w.status.map(|s| s.as_str()),
                    new_paid: w.paid.as_deref(),
                    touch_open: i64::from(w.touch_open),
                    new_open: w.open.as_deref(),
                    release: i64::from(w.release),
                    raise_seq: w.attempt_seq,
                })
                .collect();
            let sql = format!(
                "UPDATE orders SET status = COALESCE(v.new_status, orders.status), \
                 paid_intent_id = COALESCE(v.new_paid, orders.paid_intent_id), \
                 verified_by = CASE WHEN v.new_paid IS NULL THEN orders.verified_by \
                 ELSE 'gateway' END, \
                 open_intent_id = CASE WHEN v.touch_open = 1 THEN v.new_open \
                 ELSE orders.open_intent_id END, \
                 holder_operator = CASE WHEN v.release = 1 THEN NULL ELSE orders.holder_operator END, \
                 holder_terminal = CASE WHEN v.release = 1 THEN NULL ELSE orders.holder_terminal END, \
                 claimed_at = CASE WHEN v.release = 1 THEN NULL ELSE orders.claimed_at END, \
                 lease_until = CASE WHEN v.release = 1 THEN NULL ELSE orders.lease_until END, \
                 ended_at = CASE WHEN v.release = 1 THEN $1 ELSE orders.ended_at END, \
                 attempt_seq = CASE WHEN v.raise_seq > orders.attempt_seq THEN v.raise_seq \
                 ELSE orders.attempt_seq END, \
                 updated_at = $1 \
                 FROM {} WHERE orders.order_id = v.order_id",
                json_rows(postgres, "$2", OrderUpdateRow::COLUMNS)
            );
            let done = sqlx::query(&sql)
                .bind(now.unix_ms())
                .bind(to_json(&rows)?)
                .execute(&mut **tx)
                .await?;
            if done.rows_affected() != rows.len() as u64 {
                return Err(corrupt(format!(
                    "a results batch updated {} of its {} locked orders",
                    done.rows_affected(),
                    rows.len()
                )));
            }
            // The audit row of each holding a result ended, after the UPDATE that ended it.
            let released: Vec<Id<'_>> = rows
                .iter()
                .filter(|r| r.release == 1)
                .map(|r| Id { id: r.order_id })
                .collect();
            if !released.is_empty() {
                let sql = audit_insert(
                    AuditEvent::Result,
                    "orders",
                    &format!(
                        " WHERE h.order_id IN (SELECT v.id FROM {})",
                        id_rows(postgres, "$2")
                    ),
                    "$1",
                    "NULL",
                );
                let done = sqlx::query(&sql)
                    .bind(now.unix_ms())
                    .bind(to_json(&released)?)
                    .execute(&mut **tx)
                    .await?;
                if done.rows_affected() != released.len() as u64 {
                    return Err(corrupt(format!(
                        "the claim audit rows of {} released orders were not all written",
                        released.len()
                    )));
                }
            }
            // The refunded total of each order a success marked paid, from its paying intent's
            // refunds, in one statement (what `refresh_refunded` computes for one order).
            let paid: Vec<Id<'_>> = rows
                .iter()
                .filter(|r| r.new_paid.is_some())
                .map(|r| Id { id: r.order_id })
                .collect();
            if !paid.is_empty() {
                let sql = format!(
                    "UPDATE orders SET refunded_minor = s.refunded, updated_at = $1 FROM \
                     (SELECT t.order_id AS order_id, CASE WHEN t.listed > t.totals THEN t.listed \
                     ELSE t.totals END AS refunded FROM \
                     (SELECT o.order_id AS order_id, \
                     CAST(COALESCE(SUM(CASE WHEN r.kind = 'refund' \
                     AND r.status NOT IN ('failed', 'canceled') THEN r.amount_minor ELSE 0 END), \
                     0) AS BIGINT) AS listed, \
                     CAST(COALESCE(SUM(CASE WHEN r.kind = 'charge_total' THEN r.amount_minor \
                     ELSE 0 END), 0) AS BIGINT) AS totals \
                     FROM orders o LEFT JOIN refunds r ON r.intent_id = o.paid_intent_id \
                     WHERE o.order_id IN (SELECT v.id FROM {}) GROUP BY o.order_id) t) s \
                     WHERE orders.order_id = s.order_id AND orders.refunded_minor <> s.refunded",
                    id_rows(postgres, "$2")
                );
                sqlx::query(&sql)
                    .bind(now.unix_ms())
                    .bind(to_json(&paid)?)
                    .execute(&mut **tx)
                    .await?;
            }
        }
        // The successes the batch counts, once per intent: few (one per paying result), so
        // one statement pair each.
        for (order_id, payment) in &self.payments {
            count_payment(tx, order_id, payment, "result", now).await?;
        }
        if !self.intents.is_empty() {
            let rows: Vec<IntentRow<'_>> = self
                .intents
                .iter()
                .map(|((intent_id, order_id), state)| IntentRow {
                    intent_id,
                    order_id,
                    new_state: state,
                })
                .collect();
            let sql = format!(
                "UPDATE intents SET state = v.new_state FROM {} \
                 WHERE intents.intent_id = v.intent_id AND intents.order_id = v.order_id",
                json_rows(postgres, "$1", IntentRow::COLUMNS)
            );
            sqlx::query(&sql)
                .bind(to_json(&rows)?)
                .execute(&mut **tx)
                .await?;
        }
        Ok(true)
    }
}

/// A result as a row of the INSERT's set.
#[derive(Debug, Serialize)]
struct ResultRow<'a> {
    attempt_id: String,
    interim: i64,
    order_id: &'a str,
    attempt_number: i64,
    claim_token: i64,
    terminal_id: &'a str,
    outcome: &'a str,
    amount_minor: i64,
    currency: String,
    intent_id: Option<&'a str>,
    offline: i64,
    occurred_at: i64,
    status: &'a str,
    reason: Option<&'a str>,
    suspect: i64,
    installment: i64,
}

impl<'a> ResultRow<'a> {
    const COLUMNS: &'static [(&'static str, Kind)] = &[
        ("attempt_id", Kind::Text),
        ("interim", Kind::Int),
        ("order_id", Kind::Text),
        ("attempt_number", Kind::Int),
        ("claim_token", Kind::Int),
        ("terminal_id", Kind::Text),
        ("outcome", Kind::Text),
        ("amount_minor", Kind::Int),
        ("currency", Kind::Text),
        ("intent_id", Kind::Text),
        ("offline", Kind::Int),
        ("occurred_at", Kind::Int),
        ("status", Kind::Text),
        ("reason", Kind::Text),
        ("suspect", Kind::Int),
        ("installment", Kind::Int),
    ];

    fn new(r: &'a NewResult) -> ResultRow<'a> {
        let item = &r.item;
        ResultRow {
            attempt_id: item.attempt_id.to_string(),
            interim: i64::from(r.interim),
            order_id: item.order_id.as_str(),
            attempt_number: i64::from(item.attempt_number.get()),
            claim_token: item.claim_token.get() as i64,
            terminal_id: &r.terminal,
            outcome: item.outcome.as_str(),
            amount_minor: item.amount.minor(),
            currency: item.amount.currency().code().to_string(),
            intent_id: item.intent_id.as_ref().map(|i| i.as_str()),
            offline: i64::from(item.offline),
            occurred_at: item.occurred_at.unix_ms(),
            status: r.status.as_str(),
            reason: r.reason.as_deref(),
            suspect: i64::from(r.suspect),
            installment: i64::from(item.installment.get()),
        }
    }
}

/// A flag as a row of the INSERT's set.
#[derive(Debug, Serialize)]
struct FlagRow<'a> {
    order_id: Option<&'a str>,
    source: &'a str,
    reason: &'a str,
}

impl FlagRow<'_> {
    const COLUMNS: &'static [(&'static str, Kind)] = &[
        ("order_id", Kind::Text),
        ("source", Kind::Text),
        ("reason", Kind::Text),
    ];
}

/// What the batch does to one order, as a row of the UPDATE's set (null or 0: unchanged).
#[derive(Debug, Serialize)]
struct OrderUpdateRow<'a> {
    order_id: &'a str,
    new_status: Option<&'a str>,
    new_paid: Option<&'a str>,
    touch_open: i64,
    new_open: Option<&'a str>,
    release: i64,
    raise_seq: i64,
}

impl OrderUpdateRow<'_> {
    const COLUMNS: &'static [(&'static str, Kind)] = &[
        ("order_id", Kind::Text),
        ("new_status", Kind::Text),
        ("new_paid", Kind::Text),
        ("touch_open", Kind::Int),
        ("new_open", Kind::Text),
        ("release", Kind::Int),
        ("raise_seq", Kind::Int),
    ];
}

/// The state an intent is left in, as a row of the UPDATE's set.
#[derive(Debug, Serialize)]
struct IntentRow<'a> {
    intent_id: &'a str,
    order_id: &'a str,
    new_state: &'a str,
}

impl IntentRow<'_> {
    const COLUMNS: &'static [(&'static str, Kind)] = &[
        ("intent_id", Kind::Text),
        ("order_id", Kind::Text),
        ("new_state", Kind::Text),
    ];
}

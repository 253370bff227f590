//! Installments (issue 12, item 2): counting an order's successes once per gateway intent, the
//! intents already counted for a batch's orders, and the audit of a claim for an amount other
//! than the balance due.
//!
//! Every path that learns of a success (a terminal's result, a webhook, the sweeper) counts it
//! here, so one success is counted once whoever is first: `order_payments` is keyed on the
//! intent. Deliberately absent: deciding whether a success may be counted or what it does to the
//! order's status (the inbox's pure `decide`, the webhook and sweeper rules).

use std::collections::HashSet;

use paydesk_core::{
    ClaimToken, InstallmentNumber, Money, OperatorId, OrderId, TerminalId, Timestamp,
};
use paydesk_protocol::OrderStatus;
use sqlx::{Any, Row, Transaction};

use super::Store;
use crate::error::CentralResult;

/// A claim granted for an amount other than the balance due, as audited.
#[derive(Debug, Clone)]
pub struct OtherAmount<'a> {
    pub order_id: &'a OrderId,
    pub claim_token: ClaimToken,
    pub installment: InstallmentNumber,
    pub amount: Money,
    /// The balance due when the claim was granted.
    pub balance: Money,
    pub reason: &'a str,
    pub operator_id: &'a OperatorId,
    pub terminal_id: &'a TerminalId,
    pub session_id: Option<&'a str>,
    pub at: Timestamp,
}

/// One success to count: the intent that moved the money, what it charged (minor units of the
/// order's currency) and which installment it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Payment {
    pub(super) intent_id: String,
    pub(super) amount_minor: i64,
    pub(super) installment: i64,
}

/// What counting a success did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Counted {
    /// The intent was counted before (by another path): nothing changed.
    Already,
    /// Counted now; the order's successes add up to `paid_minor` of its `amount_minor`.
    Now { paid_minor: i64, amount_minor: i64 },
}

impl Store {
    /// Audits a claim granted for an amount other than the balance due, with its reason.
    pub async fn record_other_amount(&self, e: &OtherAmount<'_>) -> CentralResult<()> {
        sqlx::query(
            "INSERT INTO charge_amount_events (order_id, claim_token, installment, amount_minor, \
             balance_minor, currency, reason, operator_id, terminal_id, session_id, at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(e.order_id.as_str())
        .bind(e.claim_token.get() as i64)
        .bind(i64::from(e.installment.get()))
        .bind(e.amount.minor())
        .bind(e.balance.minor())
        .bind(e.amount.currency().code())
        .bind(e.reason)
        .bind(e.operator_id.as_str())
        .bind(e.terminal_id.as_str())
        .bind(e.session_id)
        .bind(e.at.unix_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The audited claims for other amounts of `order_id`, oldest first: (installment, amount
    /// minor, balance minor, reason, operator).
    pub async fn other_amounts(
        &self,
        order_id: &OrderId,
    ) -> CentralResult<Vec<(i64, i64, i64, String, String)>> {
        let rows = sqlx::query(
            "SELECT installment, amount_minor, balance_minor, reason, operator_id \
             FROM charge_amount_events WHERE order_id = $1 ORDER BY event_id",
        )
        .bind(order_id.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("installment")?,
                    r.try_get("amount_minor")?,
                    r.try_get("balance_minor")?,
                    r.try_get("reason")?,
                    r.try_get("operator_id")?,
                ))
            })
            .collect()
    }

    /// What the open or named intent `intent` was granted to charge when its claim registered
    /// it (minor units), else the order's balance due: what a webhook or the sweeper expects a
    /// success of it to have charged.
    pub(super) async fn expected_minor(
        &self,
        tx: &mut Transaction<'static, Any>,
        order_id: &str,
        intent: &str,
    ) -> CentralResult<Option<i64>> {
        let row = sqlx::query(
            "SELECT COALESCE((SELECT i.amount_minor FROM intents i WHERE i.intent_id = $1 \
             AND i.order_id = $2), o.amount_minor - o.paid_minor) AS expected \
             FROM orders o WHERE o.order_id = $2",
        )
        .bind(intent)
        .bind(order_id)
        .fetch_optional(&mut **tx)
        .await?;
        row.map(|r| r.try_get::<i64, _>("expected"))
            .transpose()
            .map_err(Into::into)
    }

    /// Whether `intent` is counted as a success already.
    pub(super) async fn is_counted(
        &self,
        tx: &mut Transaction<'static, Any>,
        intent: &str,
    ) -> CentralResult<bool> {
        Ok(
            sqlx::query("SELECT 1 AS one FROM order_payments WHERE intent_id = $1")
                .bind(intent)
                .fetch_optional(&mut **tx)
                .await?
                .is_some(),
        )
    }

    /// Counts a verified success found by a webhook or the sweeper (`source`) and sets the
    /// order's status from its total: paid at the amount (by this intent, `verified_by` the
    /// webhook or the gateway), partly paid (unpaid, in the queue with its balance) below it,
    /// held for review with a flag above it (I1: the money is recorded, a manager reverses the
    /// excess). A success counted before is not counted again; the status still follows the
    /// total, so a settlement after a webhook ends the order's review the same way.
    pub(super) async fn settle_success(
        &self,
        tx: &mut Transaction<'static, Any>,
        order_id: &str,
        payment: &Payment,
        source: &str,
        now: Timestamp,
    ) -> CentralResult<Counted> {
        let counted = count_payment(tx, order_id, payment, source, now).await?;
        let (paid_minor, amount_minor) = match counted {
            Counted::Now {
                paid_minor,
                amount_minor,
            } => (paid_minor, amount_minor),
            Counted::Already => {
                let row =
                    sqlx::query("SELECT paid_minor, amount_minor FROM orders WHERE order_id = $1")
                        .bind(order_id)
                        .fetch_one(&mut **tx)
                        .await?;
                (row.try_get("paid_minor")?, row.try_get("amount_minor")?)
            }
        };
        if paid_minor == amount_minor {
            sqlx::query(
                "UPDATE orders SET status = 'paid', \
                 paid_intent_id = COALESCE(paid_intent_id, $1), \
                 verified_by = CASE WHEN status = 'paid' THEN verified_by ELSE $2 END, \
                 updated_at = $3 WHERE order_id = $4",
            )
            .bind(payment.intent_id.as_str())
            .bind(if source == "webhook" {
                "webhook"
            } else {
                "gateway"
            })
            .bind(now.unix_ms())
            .bind(order_id)
            .execute(&mut **tx)
            .await?;
            self.refresh_refunded(tx, order_id, now).await?;
        } else if paid_minor < amount_minor {
            sqlx::query(
                "UPDATE orders SET status = 'unpaid', updated_at = $1 WHERE order_id = $2 \
                 AND status IN ('unpaid', 'failed', 'needs_action', 'needs_review')",
            )
            .bind(now.unix_ms())
            .bind(order_id)
            .execute(&mut **tx)
            .await?;
        } else if counted != Counted::Already {
            let reason = format!(
                "over-charge on order {order_id}: intent {} charged {} minor units \
                 (installment {}), taking its successes to {paid_minor} of {amount_minor}; \
                 the money is recorded: reverse the excess",
                payment.intent_id, payment.amount_minor, payment.installment
            );
            self.flag(tx, Some(order_id), source, &reason, now).await?;
            self.set_status(tx, order_id, OrderStatus::NeedsReview, now)
                .await?;
        }
        Ok(counted)
    }

    /// The intents counted as successes of `orders` so far, inside `tx`.
    pub(super) async fn counted_intents(
        &self,
        tx: &mut Transaction<'static, Any>,
        orders: &[&str],
    ) -> CentralResult<HashSet<String>> {
        let mut counted = HashSet::new();
        for chunk in orders.chunks(500) {
            let placeholders: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "SELECT intent_id FROM order_payments WHERE order_id IN ({})",
                placeholders.join(", ")
            );
            let mut query = sqlx::query(&sql);
            for id in chunk {
                query = query.bind(*id);
            }
            for row in query.fetch_all(&mut **tx).await? {
                counted.insert(row.try_get::<String, _>("intent_id")?);
            }
        }
        Ok(counted)
    }
}

/// Counts `payment` for `order_id` inside `tx`, once per intent: adds its amount to the order's
/// `paid_minor` and one to `payments_counted`. It marks `over_charge` when it takes the order past
/// its amount. Changes no status: the caller decided that (and wrote it, or writes it next).
pub(super) async fn count_payment(
    tx: &mut Transaction<'static, Any>,
    order_id: &str,
    payment: &Payment,
    source: &str,
    now: Timestamp,
) -> CentralResult<Counted> {
    let inserted = sqlx::query(
        "INSERT INTO order_payments (intent_id, order_id, amount_minor, installment, source, \
         over_charge, counted_at) \
         SELECT $1, order_id, $2, $3, $4, \
         CASE WHEN paid_minor + $2 > amount_minor THEN 1 ELSE 0 END, $5 \
         FROM orders WHERE order_id = $6 \
         ON CONFLICT (intent_id) DO NOTHING",
    )
    .bind(payment.intent_id.as_str())
    .bind(payment.amount_minor)
    .bind(payment.installment)
    .bind(source)
    .bind(now.unix_ms())
    .bind(order_id)
    .execute(&mut **tx)
    .await?;
    if inserted.rows_affected() == 0 {
        return Ok(Counted::Already);
    }
    let row = sqlx::query(
        "UPDATE orders SET paid_minor = paid_minor + $1, \
         payments_counted = payments_counted + 1 WHERE order_id = $2 \
         RETURNING paid_minor, amount_minor",
    )
    .bind(payment.amount_minor)
    .bind(order_id)
    .fetch_one(&mut **tx)
    .await?;
    Ok(Counted::Now {
        paid_minor: row.try_get("paid_minor")?,
        amount_minor: row.try_get("amount_minor")?,
    })
}

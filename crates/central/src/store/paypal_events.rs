//! PayPal webhook events: each verified event stored once (deduplicated on PayPal's event id in
//! `paypal_events`) and applied to its order in the same transaction, with Stripe's trust rules.
//!
//! The order is found by the PayPal order a claim registered as its intent (or that paid it);
//! otherwise by the event's `invoice_id`, which proves much less. A completed capture pays an
//! unpaid order the way Stripe's `payment_intent.succeeded` does (`verified_by = 'webhook'`, the
//! PayPal order as the paying intent), and only when it is bound to the order as Stripe's charge
//! is bound to the order's customer, payment method and metadata: the PayPal order is registered
//! for the order by a claim, its `invoice_id` (set by the terminal's connector) is the order, the
//! amount and currency are the order's, and the capture's own status is `COMPLETED`. A capture
//! of another amount or invoice, or a second success, holds the order for review; one no claim
//! registered holds it for review too (the central cannot look a PayPal order up at PayPal to
//! bind it). A denied capture fails the order the way Stripe's `payment_intent.payment_failed`
//! does; a pending one changes nothing (pending is never paid). A refund is recorded like
//! Stripe's refunds and the order's refunded amount recomputed.
//!
//! Deliberately absent: signature checks and JSON parsing (`crate::webhook_paypal`); binding
//! `custom_id` (`attempt|number|terminal`) to the registering attempt.

use paydesk_core::{GatewayIntentId, OrderId, Timestamp};
use paydesk_protocol::OrderStatus;
use sqlx::{Any, Row, Transaction};

use super::{OrderRow, Store, TX_RETRIES_MAX};
use crate::error::CentralResult;
use crate::webhook_paypal::event::{PaypalEffect, PaypalEvent};

impl Store {
    /// Stores a PayPal event once and applies it to its order in the same transaction.
    /// Returns false for a duplicate (nothing changes).
    pub async fn apply_paypal_event(
        &self,
        event: &PaypalEvent,
        payload: &str,
        transmission_id: &str,
        now: Timestamp,
    ) -> CentralResult<bool> {
        let mut attempt = 0;
        loop {
            match self
                .apply_paypal_event_once(event, payload, transmission_id, now)
                .await
            {
                Err(e) if e.is_retryable() && attempt < TX_RETRIES_MAX => attempt += 1,
                other => return other,
            }
        }
    }

    /// The outcome stored for a PayPal event (`applied`, `unmatched`, `ignored`), if stored.
    pub async fn paypal_event_outcome(&self, event_id: &str) -> CentralResult<Option<String>> {
        let row = sqlx::query("SELECT outcome FROM paypal_events WHERE event_id = $1")
            .bind(event_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get("outcome")).transpose()?)
    }

    /// The PayPal events stored about one PayPal order, oldest first: (event type, outcome).
    pub async fn paypal_events_of(
        &self,
        paypal_order_id: &GatewayIntentId,
    ) -> CentralResult<Vec<(String, String)>> {
        let rows = sqlx::query(
            "SELECT event_type, outcome FROM paypal_events WHERE paypal_order_id = $1 \
             ORDER BY received_at, event_id",
        )
        .bind(paypal_order_id.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("event_type")?, r.try_get("outcome")?)))
            .collect()
    }

    async fn apply_paypal_event_once(
        &self,
        event: &PaypalEvent,
        payload: &str,
        transmission_id: &str,
        now: Timestamp,
    ) -> CentralResult<bool> {
        let mut tx = self.pool.begin().await?;
        // The order row is locked before the event is inserted, like the Stripe path.
        let by_intent: Option<String> = match &event.paypal_order_id {
            Some(intent) => sqlx::query(
                "SELECT order_id FROM intents WHERE intent_id = $1 \
                 UNION SELECT order_id FROM orders WHERE paid_intent_id = $1",
            )
            .bind(intent)
            .fetch_optional(&mut *tx)
            .await?
            .map(|r| r.try_get("order_id"))
            .transpose()?,
            None => None,
        };
        let registered = by_intent.is_some();
        let order_id = by_intent.or_else(|| event.invoice_order_id.clone());
        let row = match order_id.as_deref().map(OrderId::new) {
            Some(Ok(id)) => self.order_row_in(&mut tx, &id, true).await?,
            _ => None,
        };
        let outcome = match (&row, &event.effect) {
            (_, PaypalEffect::Ignored) => "ignored",
            (None, _) => "unmatched",
            (Some(_), _) => "applied",
        };
        let inserted = sqlx::query(
            "INSERT INTO paypal_events (event_id, event_type, resource_id, paypal_order_id, \
             order_id, payload, transmission_id, received_at, outcome) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (event_id) DO NOTHING",
        )
        .bind(&event.id)
        .bind(&event.event_type)
        .bind(event.resource_id.clone())
        .bind(event.paypal_order_id.clone())
        .bind(row.as_ref().map(|r| r.order.order_id.as_str().to_string()))
        .bind(payload)
        .bind(transmission_id)
        .bind(now.unix_ms())
        .bind(outcome)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if !inserted {
            tx.rollback().await?;
            return Ok(false);
        }
        match row {
            Some(row) => {
                self.apply_paypal_to_order(&mut tx, &row, event, registered, now)
                    .await?
            }
            None if event.effect != PaypalEffect::Ignored => {
                let reason = format!(
                    "PayPal event {} ({}) matches no order (PayPal order {}, invoice {})",
                    event.id,
                    event.event_type,
                    event.paypal_order_id.as_deref().unwrap_or("-"),
                    event.invoice_order_id.as_deref().unwrap_or("-"),
                );
                self.flag(&mut tx, order_id.as_deref(), "webhook", &reason, now)
                    .await?;
            }
            None => {}
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn apply_paypal_to_order(
        &self,
        tx: &mut Transaction<'static, Any>,
        row: &OrderRow,
        event: &PaypalEvent,
        registered: bool,
        now: Timestamp,
    ) -> CentralResult<()> {
        let order_id = row.order.order_id.as_str();
        let paypal_order = event.paypal_order_id.as_deref().unwrap_or("-");
        let names = format!("PayPal order {paypal_order}, event {}", event.id);
        match &event.effect {
            PaypalEffect::Completed { amount } => {
                let paid_by = row.order.paid_intent_id.as_ref().map(|p| p.as_str());
                let invoice_differs = registered
                    && event
                        .invoice_order_id
                        .as_deref()
                        .is_some_and(|i| i != order_id);
                // An installment's PayPal order captures what its claim was granted (issue
                // 12); one counted already is the same money.
                let expected = self
                    .expected_minor(tx, order_id, paypal_order)
                    .await?
                    .and_then(|m| paydesk_core::Money::new(m, row.order.amount.currency()).ok())
                    .unwrap_or(row.order.amount);
                let counted = self.is_counted(tx, paypal_order).await?;
                let problem = if counted {
                    None
                } else if *amount != expected {
                    Some(format!(
                        "PayPal captured {amount} for order {order_id} of {} ({names})",
                        expected
                    ))
                } else if invoice_differs {
                    Some(format!(
                        "PayPal order {paypal_order} registered for order {order_id} captured \
                         with invoice_id {} ({names})",
                        event.invoice_order_id.as_deref().unwrap_or("-")
                    ))
                } else if row.order.status == OrderStatus::Paid {
                    (paid_by != Some(paypal_order)).then(|| {
                        format!(
                            "second success for order {order_id}: PayPal capture after {} \
                             ({names})",
                            paid_by.unwrap_or("?")
                        )
                    })
                } else {
                    None
                };
                if let Some(reason) = problem {
                    self.flag(tx, Some(order_id), "webhook", &reason, now)
                        .await?;
                    self.set_status(tx, order_id, OrderStatus::NeedsReview, now)
                        .await?;
                } else if row.order.status != OrderStatus::Paid && !counted {
                    self.hold_paypal_success(tx, row, event, *amount, registered, now)
                        .await?;
                }
                if registered {
                    sqlx::query(
                        "UPDATE intents SET state = 'succeeded' WHERE intent_id = $1 \
                         AND order_id = $2",
                    )
                    .bind(paypal_order)
                    .bind(order_id)
                    .execute(&mut **tx)
                    .await?;
                }
            }
            PaypalEffect::Denied if registered => {
                sqlx::query(
                    "UPDATE intents SET state = 'payment_failed' WHERE intent_id = $1 \
                     AND order_id = $2",
                )
                .bind(paypal_order)
                .bind(order_id)
                .execute(&mut **tx)
                .await?;
                // As for Stripe: while someone holds the order, their own result decides it.
                sqlx::query(
                    "UPDATE orders SET status = 'failed', open_intent_id = NULL, updated_at = $1 \
                     WHERE order_id = $2 AND open_intent_id = $3 AND holder_terminal IS NULL \
                     AND status IN ('unpaid', 'needs_action')",
                )
                .bind(now.unix_ms())
                .bind(order_id)
                .bind(paypal_order)
                .execute(&mut **tx)
                .await?;
            }
            // A denial of a PayPal order no claim registered says nothing about this order's
            // own attempts; pending is never paid.
            PaypalEffect::Denied | PaypalEffect::Pending | PaypalEffect::Ignored => {}
            PaypalEffect::Refunded { amount, status } => {
                self.record_paypal_refund(tx, row, event, *amount, status, now)
                    .await?;
            }
        }
        Ok(())
    }

    /// A completed capture of the order's amount on an order not yet paid. It pays the order
    /// (as Stripe's webhook does, whoever holds the order) when the PayPal order is registered
    /// for the order, its `invoice_id` is the order and the capture says `COMPLETED`; otherwise
    /// the order is held for review with the reason.
    async fn hold_paypal_success(
        &self,
        tx: &mut Transaction<'static, Any>,
        row: &OrderRow,
        event: &PaypalEvent,
        amount: paydesk_core::Money,
        registered: bool,
        now: Timestamp,
    ) -> CentralResult<()> {
        let order_id = row.order.order_id.as_str();
        let paypal_order = event.paypal_order_id.as_deref().unwrap_or("-");
        let invoice_is_order = event.invoice_order_id.as_deref() == Some(order_id);
        if registered && invoice_is_order && event.capture_completed {
            let installment: Option<i64> =
                sqlx::query("SELECT installment FROM intents WHERE intent_id = $1")
                    .bind(paypal_order)
                    .fetch_optional(&mut **tx)
                    .await?
                    .map(|r| r.try_get("installment"))
                    .transpose()?
                    .flatten();
            let payment = super::installments::Payment {
                intent_id: paypal_order.to_string(),
                amount_minor: amount.minor(),
                installment: installment.unwrap_or(1),
            };
            self.settle_success(tx, order_id, &payment, "webhook", now)
                .await?;
            return Ok(());
        }
        let why = if !registered {
            ", which no claim registered; the central cannot look PayPal orders up yet, so it \
             does not mark the order paid"
                .to_string()
        } else if !event.capture_completed {
            ", whose capture does not say COMPLETED: not marked paid".to_string()
        } else {
            format!(
                ", whose invoice_id is {}, not the order: not marked paid",
                event.invoice_order_id.as_deref().unwrap_or("absent")
            )
        };
        let reason = format!(
            "PayPal reports a completed capture of {amount} for order {order_id} (PayPal order \
             {paypal_order}, event {}){why}: held for review; the terminal's result or a person \
             settles it",
            event.id,
        );
        let source = if registered { "webhook" } else { "unverified" };
        self.flag(tx, Some(order_id), source, &reason, now).await?;
        sqlx::query(
            "UPDATE orders SET status = 'needs_review', updated_at = $1, \
             open_intent_id = CASE WHEN open_intent_id IS NULL THEN $2 ELSE open_intent_id END \
             WHERE order_id = $3",
        )
        .bind(now.unix_ms())
        .bind(event.paypal_order_id.clone())
        .bind(order_id)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Records a PayPal refund once per refund id against the PayPal order it names, or the
    /// one that paid the order (with "Block accidental payments" on, `invoice_id` allows one
    /// captured PayPal payment per order), then recomputes the order's refunded amount.
    async fn record_paypal_refund(
        &self,
        tx: &mut Transaction<'static, Any>,
        row: &OrderRow,
        event: &PaypalEvent,
        amount: paydesk_core::Money,
        status: &str,
        now: Timestamp,
    ) -> CentralResult<()> {
        let order_id = row.order.order_id.as_str();
        let paid_by = row.order.paid_intent_id.as_ref().map(|p| p.as_str());
        let (Some(refund_id), Some(intent)) = (
            event.resource_id.as_deref(),
            event.paypal_order_id.as_deref().or(paid_by),
        ) else {
            let reason = format!(
                "PayPal refunded {amount} on order {order_id} (event {}), which names no PayPal \
                 order this central knows: check it at PayPal",
                event.id
            );
            return self.flag(tx, Some(order_id), "webhook", &reason, now).await;
        };
        if amount.currency() != row.order.amount.currency() {
            let reason = format!(
                "PayPal refunded {amount} on order {order_id} of {} (event {}): not recorded",
                row.order.amount, event.id
            );
            return self.flag(tx, Some(order_id), "webhook", &reason, now).await;
        }
        sqlx::query(
            "INSERT INTO refunds (refund_id, kind, order_id, intent_id, charge_id, amount_minor, \
             status, event_id, received_at) VALUES ($1, 'refund', $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (refund_id) DO UPDATE SET status = excluded.status",
        )
        .bind(refund_id)
        .bind(order_id)
        .bind(intent)
        .bind(event.capture_id.clone())
        .bind(amount.minor())
        .bind(status)
        .bind(&event.id)
        .bind(now.unix_ms())
        .execute(&mut **tx)
        .await?;
        if paid_by.is_some_and(|p| p != intent) {
            let reason = format!(
                "PayPal refund {refund_id} of {amount} of PayPal order {intent} for order \
                 {order_id}, which {} paid: recorded, not booked as the order's refund",
                paid_by.unwrap_or("?")
            );
            self.flag(tx, Some(order_id), "webhook", &reason, now)
                .await?;
        } else {
            self.refresh_refunded(tx, order_id, now).await?;
        }
        Ok(())
    }
}

//! Gateway webhooks: each verified event stored once (deduplicated on its id) and applied to its
//! order in the same transaction.
//!
//! Deliberately absent: signature checks and parsing the gateway's JSON (`crate::webhook`); this
//! file receives an event already verified and reduced to its effect.

use paydesk_core::{GatewayIntentId, Money, OrderId, Timestamp};
use paydesk_protocol::OrderStatus;
use sqlx::{Any, Row, Transaction};

use super::{OrderRow, Store, TX_RETRIES_MAX};
use crate::error::CentralResult;
use crate::sweeper::{binds_to_order, Verification};
use crate::webhook::{EventEffect, WebhookEvent};

impl Store {
    /// Stores a webhook event once (deduplicated on its id) and applies it to its order in the
    /// same transaction. Returns false for a duplicate.
    ///
    /// `livemode` is the mode of the gateway key this central runs with (`None`: not known, no
    /// check). An event of the other mode is stored as `ignored` and flagged, never applied (M6):
    /// a test-mode intent costs nothing and must not pay a real order.
    pub async fn apply_webhook(
        &self,
        event: &WebhookEvent,
        payload: &str,
        livemode: Option<bool>,
        now: Timestamp,
    ) -> CentralResult<bool> {
        let mut attempt = 0;
        loop {
            match self.apply_webhook_once(event, payload, livemode, now).await {
                Err(e) if e.is_retryable() && attempt < TX_RETRIES_MAX => attempt += 1,
                other => return other,
            }
        }
    }

    async fn apply_webhook_once(
        &self,
        event: &WebhookEvent,
        payload: &str,
        livemode: Option<bool>,
        now: Timestamp,
    ) -> CentralResult<bool> {
        let mut tx = self.pool.begin().await?;
        if let (Some(expected), Some(got)) = (livemode, event.livemode) {
            if expected != got && !matches!(event.effect, EventEffect::Ignored) {
                let inserted = self
                    .store_event(&mut tx, event, payload, "ignored", now)
                    .await?;
                if inserted {
                    let reason = format!(
                        "event {} ({}) is {} but this central runs with a {} key: ignored",
                        event.id,
                        event.event_type,
                        if got { "live" } else { "test mode" },
                        if expected { "live" } else { "test" }
                    );
                    let order = event
                        .metadata_order_id()
                        .filter(|o| OrderId::new(*o).is_ok());
                    self.flag(&mut tx, None, "webhook", &reason, now).await?;
                    tracing::warn!(
                        order = order.unwrap_or("-"),
                        "webhook of the other mode ignored"
                    );
                    tx.commit().await?;
                } else {
                    tx.rollback().await?;
                }
                return Ok(inserted);
            }
        }
        // Find the order before inserting the event so the order row is locked first, like the
        // results inbox does. An intent registered for an order (or that paid it) names it;
        // otherwise the event's metadata does, which proves much less (H4, M6).
        let by_intent: Option<String> = match event.intent_id() {
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
        let order_id = by_intent.or_else(|| event.metadata_order_id().map(str::to_string));
        let row = match order_id.as_deref().map(OrderId::new) {
            Some(Ok(id)) => self.order_row_in(&mut tx, &id, true).await?,
            _ => None,
        };
        let outcome = match (&row, &event.effect) {
            (_, EventEffect::Ignored) => "ignored".to_string(),
            (None, _) => "unmatched".to_string(),
            (Some(_), _) => "applied".to_string(),
        };
        if !self
            .store_event(&mut tx, event, payload, &outcome, now)
            .await?
        {
            tx.rollback().await?;
            return Ok(false);
        }
        if let Some(row) = row {
            self.apply_event_to_order(&mut tx, &row, event, registered, now)
                .await?;
        } else if !matches!(event.effect, EventEffect::Ignored) {
            self.flag(
                &mut tx,
                order_id.as_deref(),
                "webhook",
                &format!("event {} ({}) matches no order", event.id, event.event_type),
                now,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Stores the event once; false if its id was stored before.
    async fn store_event(
        &self,
        tx: &mut Transaction<'static, Any>,
        event: &WebhookEvent,
        payload: &str,
        outcome: &str,
        now: Timestamp,
    ) -> CentralResult<bool> {
        let inserted = sqlx::query(
            "INSERT INTO webhook_events (event_id, event_type, payload, received_at, outcome) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (event_id) DO NOTHING",
        )
        .bind(&event.id)
        .bind(&event.event_type)
        .bind(payload)
        .bind(now.unix_ms())
        .bind(outcome)
        .execute(&mut **tx)
        .await?;
        Ok(inserted.rows_affected() == 1)
    }

    /// `registered`: the event's intent is registered for the order (or paid it); otherwise the
    /// order came from the event's metadata.
    async fn apply_event_to_order(
        &self,
        tx: &mut Transaction<'static, Any>,
        row: &OrderRow,
        event: &WebhookEvent,
        registered: bool,
        now: Timestamp,
    ) -> CentralResult<()> {
        let order_id = row.order.order_id.as_str();
        let intent = event.intent_id().unwrap_or_default().to_string();
        match &event.effect {
            EventEffect::Succeeded { amount } => {
                // An installment's intent charged what its claim was granted (issue 12), not
                // necessarily the order's amount; one counted already is the same money.
                let expected = self
                    .expected_minor(tx, order_id, &intent)
                    .await?
                    .and_then(|m| Money::new(m, row.order.amount.currency()).ok())
                    .unwrap_or(row.order.amount);
                if self.is_counted(tx, &intent).await? {
                } else if *amount != expected {
                    let reason = format!(
                        "gateway charged {amount} for order {order_id} of {} (intent {intent})",
                        expected
                    );
                    self.flag(tx, Some(order_id), "webhook", &reason, now)
                        .await?;
                    self.set_status(tx, order_id, OrderStatus::NeedsReview, now)
                        .await?;
                } else if row.order.status == OrderStatus::Paid {
                    if row.order.paid_intent_id.as_ref().map(|p| p.as_str()) != Some(&intent) {
                        let reason = format!(
                            "second success for order {order_id}: intent {intent} after {}",
                            row.order
                                .paid_intent_id
                                .as_ref()
                                .map(|p| p.as_str())
                                .unwrap_or("?")
                        );
                        self.flag(tx, Some(order_id), "webhook", &reason, now)
                            .await?;
                        self.set_status(tx, order_id, OrderStatus::NeedsReview, now)
                            .await?;
                    }
                } else {
                    self.webhook_success(tx, row, event, &intent, *amount, registered, now)
                        .await?;
                }
                sqlx::query(
                    "UPDATE intents SET state = 'succeeded' WHERE intent_id = $1 AND order_id = $2",
                )
                .bind(&intent)
                .bind(order_id)
                .execute(&mut **tx)
                .await?;
            }
            EventEffect::PaymentFailed => {
                sqlx::query(
                    "UPDATE intents SET state = 'payment_failed' WHERE intent_id = $1 \
                     AND order_id = $2",
                )
                .bind(&intent)
                .bind(order_id)
                .execute(&mut **tx)
                .await?;
                // While someone holds the order, their own result decides it. Otherwise the
                // failure of the open intent is the evidence the order was waiting for.
                sqlx::query(
                    "UPDATE orders SET status = 'failed', open_intent_id = NULL, updated_at = $1 \
                     WHERE order_id = $2 AND open_intent_id = $3 AND holder_terminal IS NULL \
                     AND status IN ('unpaid', 'needs_action')",
                )
                .bind(now.unix_ms())
                .bind(order_id)
                .bind(&intent)
                .execute(&mut **tx)
                .await?;
            }
            EventEffect::Refunded { amount_refunded } => {
                self.record_refunds(tx, row, event, &intent, Some(*amount_refunded), now)
                    .await?;
            }
            EventEffect::Refund => {
                self.record_refunds(tx, row, event, &intent, None, now)
                    .await?;
            }
            EventEffect::Disputed => {
                sqlx::query("UPDATE orders SET disputed = 1, updated_at = $1 WHERE order_id = $2")
                    .bind(now.unix_ms())
                    .bind(order_id)
                    .execute(&mut **tx)
                    .await?;
                let reason = format!("dispute opened on order {order_id} (intent {intent})");
                self.flag(tx, Some(order_id), "webhook", &reason, now)
                    .await?;
            }
            EventEffect::Ignored => {}
        }
        Ok(())
    }

    /// A success of the order's amount for an order not yet paid. It pays the order only when
    /// its intent is registered for the order and charged exactly the order's customer and
    /// payment method with the order's id in its metadata (H4). Any other customer, payment
    /// method or metadata order: held for review and flagged. An intent no claim registered
    /// (the order came from its metadata only): held for review with the intent adopted as the
    /// open one when none is, so the offline attempt's own result (or a person) settles it (M6).
    #[allow(clippy::too_many_arguments)]
    async fn webhook_success(
        &self,
        tx: &mut Transaction<'static, Any>,
        row: &OrderRow,
        event: &WebhookEvent,
        intent: &str,
        amount: Money,
        registered: bool,
        now: Timestamp,
    ) -> CentralResult<()> {
        let order_id = row.order.order_id.as_str();
        let intent_id = GatewayIntentId::new(intent).map_err(super::corrupt)?;
        let binding = binds_to_order(
            &intent_id,
            amount,
            event.customer.as_deref(),
            event.payment_method.as_deref(),
            event.metadata_order_id(),
            crate::sweeper::Expected {
                amount,
                ..(&row.order).into()
            },
        );
        match binding {
            Verification::Verified if registered => {
                let installment: Option<i64> =
                    sqlx::query("SELECT installment FROM intents WHERE intent_id = $1")
                        .bind(intent)
                        .fetch_optional(&mut **tx)
                        .await?
                        .map(|r| r.try_get("installment"))
                        .transpose()?
                        .flatten();
                let payment = super::installments::Payment {
                    intent_id: intent.to_string(),
                    amount_minor: amount.minor(),
                    installment: installment.unwrap_or(1),
                };
                self.settle_success(tx, order_id, &payment, "webhook", now)
                    .await?;
            }
            Verification::Verified => {
                let adopt = row.open_intent_id.is_none();
                let reason = format!(
                    "success of intent {intent} for order {order_id} (event {}), which no claim \
                     registered: held for review{}",
                    event.id,
                    if adopt {
                        "; the terminal's result or a person settles it"
                    } else {
                        ""
                    }
                );
                self.flag(tx, Some(order_id), "unverified", &reason, now)
                    .await?;
                sqlx::query(
                    "UPDATE orders SET status = 'needs_review', updated_at = $1, \
                     open_intent_id = CASE WHEN $2 = 1 THEN $3 ELSE open_intent_id END \
                     WHERE order_id = $4",
                )
                .bind(now.unix_ms())
                .bind(i64::from(adopt))
                .bind(intent)
                .bind(order_id)
                .execute(&mut **tx)
                .await?;
            }
            Verification::Mismatch(why) | Verification::Unverified(why) => {
                let reason = format!("{why} (event {}): not marked paid", event.id);
                self.flag(tx, Some(order_id), "webhook", &reason, now)
                    .await?;
                self.set_status(tx, order_id, OrderStatus::NeedsReview, now)
                    .await?;
            }
        }
        Ok(())
    }

    /// Records each refund an event names (`charge.refunded`'s list, or a refund event's own
    /// object), once per refund id, and the charge's cumulative refunded amount when the event
    /// carries it (never lowered by an older event); then recomputes the order's
    /// refunded amount. A refund of an intent other than the one that paid the order (a
    /// duplicate charge) is recorded and flagged, not booked as the order's refund.
    async fn record_refunds(
        &self,
        tx: &mut Transaction<'static, Any>,
        row: &OrderRow,
        event: &WebhookEvent,
        intent: &str,
        amount_refunded: Option<i64>,
        now: Timestamp,
    ) -> CentralResult<()> {
        let order_id = row.order.order_id.as_str();
        let charge = event.charge_id.as_deref().unwrap_or(intent);
        for refund in &event.refunds {
            sqlx::query(
                "INSERT INTO refunds (refund_id, kind, order_id, intent_id, charge_id, \
                 amount_minor, status, event_id, received_at) \
                 VALUES ($1, 'refund', $2, $3, $4, $5, $6, $7, $8) \
                 ON CONFLICT (refund_id) DO UPDATE SET status = excluded.status",
            )
            .bind(&refund.refund_id)
            .bind(order_id)
            .bind(intent)
            .bind(charge)
            .bind(refund.amount_minor)
            .bind(&refund.status)
            .bind(&event.id)
            .bind(now.unix_ms())
            .execute(&mut **tx)
            .await?;
        }
        if let Some(amount_refunded) = amount_refunded {
            let greater = match self.backend {
                super::Backend::Postgres => "GREATEST",
                super::Backend::Sqlite => "MAX",
            };
            sqlx::query(&format!(
                "INSERT INTO refunds (refund_id, kind, order_id, intent_id, charge_id, amount_minor, \
                 status, event_id, received_at) \
                 VALUES ($1, 'charge_total', $2, $3, $4, $5, 'succeeded', $6, $7) \
                 ON CONFLICT (refund_id) DO UPDATE SET \
                 amount_minor = {greater}(refunds.amount_minor, excluded.amount_minor)"
            ))
            .bind(format!("charge:{charge}"))
            .bind(order_id)
            .bind(intent)
            .bind(charge)
            .bind(amount_refunded)
            .bind(&event.id)
            .bind(now.unix_ms())
            .execute(&mut **tx)
            .await?;
        }
        match row.order.paid_intent_id.as_ref().map(|p| p.as_str()) {
            Some(paid) if paid != intent => {
                let ids: Vec<&str> = event.refunds.iter().map(|r| r.refund_id.as_str()).collect();
                let reason = format!(
                    "refund {} of intent {intent} (charge {charge}, {} refunded) for order \
                     {order_id}, which intent {paid} paid: recorded, not booked as the order's \
                     refund",
                    if ids.is_empty() {
                        "(unlisted)".to_string()
                    } else {
                        ids.join(", ")
                    },
                    amount_refunded
                        .map(|a| a.to_string())
                        .unwrap_or_else(|| "?".to_string())
                );
                self.flag(tx, Some(order_id), "webhook", &reason, now)
                    .await?;
            }
            _ => self.refresh_refunded(tx, order_id, now).await?,
        }
        Ok(())
    }

    /// Sets the order's refunded amount from the refunds recorded for the intent that paid it:
    /// the sum of its distinct refunds, or its charges' cumulative refunded amounts when larger
    /// (an event may list only the first page of refunds, or none). Called whenever a refund is
    /// recorded and whenever an order becomes paid, so the order of events does not matter.
    pub(super) async fn refresh_refunded(
        &self,
        tx: &mut Transaction<'static, Any>,
        order_id: &str,
        now: Timestamp,
    ) -> CentralResult<()> {
        let sums = sqlx::query(
            "SELECT CAST(COALESCE(SUM(CASE WHEN r.kind = 'refund' \
             AND r.status NOT IN ('failed', 'canceled') THEN r.amount_minor ELSE 0 END), 0) \
             AS BIGINT) AS listed, \
             CAST(COALESCE(SUM(CASE WHEN r.kind = 'charge_total' THEN r.amount_minor ELSE 0 END), \
             0) AS BIGINT) AS totals \
             FROM orders o JOIN refunds r ON r.intent_id = o.paid_intent_id \
             WHERE o.order_id = $1",
        )
        .bind(order_id)
        .fetch_one(&mut **tx)
        .await?;
        let listed: i64 = sums.try_get("listed")?;
        let totals: i64 = sums.try_get("totals")?;
        sqlx::query(
            "UPDATE orders SET refunded_minor = $1, updated_at = $2 \
             WHERE order_id = $3 AND refunded_minor <> $1",
        )
        .bind(listed.max(totals))
        .bind(now.unix_ms())
        .bind(order_id)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    pub(super) async fn set_status(
        &self,
        tx: &mut Transaction<'static, Any>,
        order_id: &str,
        status: OrderStatus,
        now: Timestamp,
    ) -> CentralResult<()> {
        sqlx::query("UPDATE orders SET status = $1, updated_at = $2 WHERE order_id = $3")
            .bind(status.as_str())
            .bind(now.unix_ms())
            .bind(order_id)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    pub async fn webhook_event_count(&self) -> CentralResult<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM webhook_events")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("n")?)
    }
}

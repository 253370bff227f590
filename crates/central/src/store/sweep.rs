//! The sweeper's storage: claims whose lease ran out and orders left in review by an unknown
//! outcome, ended or settled from the gateway's evidence, and the list of what could not be.
//!
//! Deliberately absent: asking the gateway and the loop's timing (`crate::sweeper`); this file
//! applies the evidence it is given, fenced on the order not having moved since it was read.

use paydesk_core::{ClaimToken, Currency, GatewayIntentId, Money, OrderId, Timestamp};
use paydesk_protocol::{OrderStatus, UnresolvedItem};
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use super::claims::{audit, AuditEvent};
use super::{claim_token, corrupt, row_key, Store};
use crate::error::CentralResult;
use crate::sweeper::Expected;

/// An expired claim the sweeper must look at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpiredClaim {
    pub order_id: OrderId,
    pub claim_token: ClaimToken,
    pub open_intent_id: Option<GatewayIntentId>,
    pub amount: Money,
    /// The order's customer and payment method: a success pays the order only if its intent
    /// charged exactly these.
    pub customer_id: String,
    pub payment_method_id: String,
}

impl ExpiredClaim {
    /// What the order expects of the intent that pays it.
    pub fn expected(&self) -> Expected<'_> {
        Expected {
            order_id: self.order_id.as_str(),
            amount: self.amount,
            customer_id: &self.customer_id,
            payment_method_id: &self.payment_method_id,
        }
    }
}

/// What the sweeper learned about an expired claim's registered intent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SweepResolution {
    /// No intent was registered: nothing can have been charged.
    NoIntent,
    Succeeded {
        amount: Money,
    },
    Failed,
    Canceled,
    RequiresAction,
    /// The intent succeeded, but not for this order as the central knows it (another customer,
    /// payment method, metadata order or amount): flagged and held for review, never paid.
    Mismatch {
        reason: String,
    },
}

impl SweepResolution {
    fn intent_state(&self) -> &'static str {
        match self {
            SweepResolution::NoIntent => "open",
            SweepResolution::Succeeded { .. } | SweepResolution::Mismatch { .. } => "succeeded",
            SweepResolution::Failed => "payment_failed",
            SweepResolution::Canceled => "canceled",
            SweepResolution::RequiresAction => "requires_action",
        }
    }
}

impl Store {
    /// The payment a verified success of `intent` counts: its amount and the installment its
    /// claim registered it for (the first when none was recorded).
    async fn sweep_payment(
        &self,
        tx: &mut Transaction<'static, Any>,
        intent: &str,
        amount: Money,
    ) -> CentralResult<super::installments::Payment> {
        let installment: Option<i64> =
            sqlx::query("SELECT installment FROM intents WHERE intent_id = $1")
                .bind(intent)
                .fetch_optional(&mut **tx)
                .await?
                .map(|r| r.try_get("installment"))
                .transpose()?
                .flatten();
        Ok(super::installments::Payment {
            intent_id: intent.to_string(),
            amount_minor: amount.minor(),
            installment: installment.unwrap_or(1),
        })
    }

    /// Claims whose lease has run out, oldest first.
    pub async fn expired_claims(
        &self,
        now: Timestamp,
        limit: u32,
    ) -> CentralResult<Vec<ExpiredClaim>> {
        let rows = sqlx::query(
            "SELECT order_id, claim_token, open_intent_id, currency, customer_id, \
             payment_method_id, COALESCE((SELECT i.amount_minor FROM intents i \
             WHERE i.intent_id = orders.open_intent_id), amount_minor - paid_minor) AS expected_minor \
             FROM orders \
             WHERE holder_terminal IS NOT NULL AND lease_until <= $1 ORDER BY lease_until LIMIT $2",
        )
        .bind(now.unix_ms())
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let intent: Option<String> = r.try_get("open_intent_id")?;
                let currency =
                    Currency::from_code(&r.try_get::<String, _>("currency")?).map_err(corrupt)?;
                Ok(ExpiredClaim {
                    order_id: OrderId::new(r.try_get::<String, _>("order_id")?).map_err(corrupt)?,
                    claim_token: claim_token(r.try_get("claim_token")?)?,
                    open_intent_id: intent
                        .map(GatewayIntentId::new)
                        .transpose()
                        .map_err(corrupt)?,
                    amount: Money::new(r.try_get("expected_minor")?, currency).map_err(corrupt)?,
                    customer_id: r.try_get("customer_id")?,
                    payment_method_id: r.try_get("payment_method_id")?,
                })
            })
            .collect()
    }

    /// Ends an expired holding, fenced by its token and by the lease still being expired, and
    /// optionally sets the order's status from the gateway's evidence. Returns false if the
    /// claim changed meanwhile (renewed, taken over or ended by a result).
    pub async fn end_expired_claim(
        &self,
        claim: &ExpiredClaim,
        resolution: SweepResolution,
        now: Timestamp,
    ) -> CentralResult<bool> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "UPDATE orders SET holder_operator = NULL, holder_terminal = NULL, claimed_at = NULL, \
             lease_until = NULL, ended_at = $1, updated_at = $1 \
             WHERE order_id = $2 AND claim_token = $3 AND lease_until <= $1 \
             AND holder_terminal IS NOT NULL \
             AND COALESCE(open_intent_id, '') = $4",
        )
        .bind(now.unix_ms())
        .bind(claim.order_id.as_str())
        .bind(claim.claim_token.get() as i64)
        .bind(
            claim
                .open_intent_id
                .as_ref()
                .map(|i| i.as_str().to_string())
                .unwrap_or_default(),
        )
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        let order_id = claim.order_id.as_str();
        let intent = claim
            .open_intent_id
            .as_ref()
            .map(|i| i.as_str().to_string());
        match &resolution {
            SweepResolution::NoIntent => {}
            SweepResolution::Mismatch { reason } => {
                self.flag(&mut tx, Some(order_id), "sweeper", reason, now)
                    .await?;
                self.set_status(&mut tx, order_id, OrderStatus::NeedsReview, now)
                    .await?;
            }
            SweepResolution::Succeeded { amount } => {
                if let (true, Some(intent)) = (*amount == claim.amount, &intent) {
                    sqlx::query("UPDATE orders SET open_intent_id = NULL WHERE order_id = $1")
                        .bind(order_id)
                        .execute(&mut *tx)
                        .await?;
                    let payment = self.sweep_payment(&mut tx, intent, *amount).await?;
                    self.settle_success(&mut tx, order_id, &payment, "sweeper", now)
                        .await?;
                } else {
                    let reason = format!(
                        "gateway charged {amount} for order {order_id} of {}",
                        claim.amount
                    );
                    self.flag(&mut tx, Some(order_id), "sweeper", &reason, now)
                        .await?;
                    self.set_status(&mut tx, order_id, OrderStatus::NeedsReview, now)
                        .await?;
                }
            }
            SweepResolution::Failed => {
                sqlx::query(
                    "UPDATE orders SET status = 'failed', open_intent_id = NULL \
                     WHERE order_id = $1 AND status <> 'paid'",
                )
                .bind(order_id)
                .execute(&mut *tx)
                .await?;
            }
            SweepResolution::Canceled => {
                sqlx::query("UPDATE orders SET open_intent_id = NULL WHERE order_id = $1")
                    .bind(order_id)
                    .execute(&mut *tx)
                    .await?;
            }
            SweepResolution::RequiresAction => {
                sqlx::query(
                    "UPDATE orders SET status = 'needs_action' WHERE order_id = $1 \
                     AND status <> 'paid'",
                )
                .bind(order_id)
                .execute(&mut *tx)
                .await?;
            }
        }
        if let Some(intent) = &intent {
            sqlx::query("UPDATE intents SET state = $1 WHERE intent_id = $2 AND order_id = $3")
                .bind(resolution.intent_state())
                .bind(intent)
                .bind(order_id)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("DELETE FROM unresolved WHERE order_id = $1")
            .bind(order_id)
            .execute(&mut *tx)
            .await?;
        audit(&mut tx, order_id, AuditEvent::Swept, now).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Orders left in review by an *unknown* outcome (a `needs_review` result naming the open
    /// intent, which for an offline attempt the inbox adopted as the open intent) or by a success
    /// the gateway could not confirm yet (flagged `unverified` only), not held and with no
    /// contradiction flagged: the gateway may since know the answer. An order stays
    /// listed, pass after pass, until the gateway's evidence settles it.
    pub async fn unknown_outcomes(&self, limit: u32) -> CentralResult<Vec<ExpiredClaim>> {
        let rows = sqlx::query(
            "SELECT o.order_id, o.claim_token, o.open_intent_id, o.currency, \
             o.customer_id, o.payment_method_id, COALESCE((SELECT i.amount_minor FROM intents i \
             WHERE i.intent_id = o.open_intent_id), o.amount_minor - o.paid_minor) AS expected_minor \
             FROM orders o WHERE o.status = 'needs_review' AND o.open_intent_id IS NOT NULL \
             AND o.holder_terminal IS NULL \
             AND EXISTS (SELECT 1 FROM results r WHERE r.order_id = o.order_id \
                         AND r.outcome IN ('needs_review', 'succeeded') \
                         AND r.status <> 'rejected' AND r.intent_id = o.open_intent_id) \
             AND NOT EXISTS (SELECT 1 FROM flags f WHERE f.order_id = o.order_id \
                             AND f.source <> 'unverified') \
             ORDER BY o.updated_at LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let intent: Option<String> = r.try_get("open_intent_id")?;
                let currency =
                    Currency::from_code(&r.try_get::<String, _>("currency")?).map_err(corrupt)?;
                Ok(ExpiredClaim {
                    order_id: OrderId::new(r.try_get::<String, _>("order_id")?).map_err(corrupt)?,
                    claim_token: claim_token(r.try_get::<i64, _>("claim_token")?.max(1))?,
                    open_intent_id: intent
                        .map(GatewayIntentId::new)
                        .transpose()
                        .map_err(corrupt)?,
                    amount: Money::new(r.try_get("expected_minor")?, currency).map_err(corrupt)?,
                    customer_id: r.try_get("customer_id")?,
                    payment_method_id: r.try_get("payment_method_id")?,
                })
            })
            .collect()
    }

    /// Settles an unknown outcome from the gateway's evidence, fenced on the order still being
    /// in review on the same open intent. Returns false if it changed meanwhile.
    pub async fn settle_unknown(
        &self,
        order: &ExpiredClaim,
        resolution: SweepResolution,
        now: Timestamp,
    ) -> CentralResult<bool> {
        let Some(intent) = order.open_intent_id.as_ref() else {
            return Ok(false);
        };
        let (status, paid_intent, clear) = match &resolution {
            // Counted, and the status set from the order's total, below (issue 12).
            SweepResolution::Succeeded { amount } if *amount == order.amount => {
                ("needs_review", None::<String>, true)
            }
            SweepResolution::Succeeded { .. } | SweepResolution::NoIntent => return Ok(false),
            SweepResolution::Mismatch { reason } => {
                return self.flag_unknown(order, intent, reason, now).await;
            }
            SweepResolution::Failed => ("failed", None, true),
            SweepResolution::Canceled => ("unpaid", None, true),
            SweepResolution::RequiresAction => ("needs_action", None, false),
        };
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "UPDATE orders SET status = $1, paid_intent_id = COALESCE($2, paid_intent_id), \
             verified_by = CASE WHEN $1 = 'paid' THEN 'gateway' ELSE verified_by END, \
             open_intent_id = CASE WHEN $3 = 1 THEN NULL ELSE open_intent_id END, updated_at = $4 \
             WHERE order_id = $5 AND status = 'needs_review' AND open_intent_id = $6 \
             AND holder_terminal IS NULL",
        )
        .bind(status)
        .bind(paid_intent)
        .bind(i64::from(clear))
        .bind(now.unix_ms())
        .bind(order.order_id.as_str())
        .bind(intent.as_str())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        sqlx::query("UPDATE intents SET state = $1 WHERE intent_id = $2 AND order_id = $3")
            .bind(resolution.intent_state())
            .bind(intent.as_str())
            .bind(order.order_id.as_str())
            .execute(&mut *tx)
            .await?;
        if let SweepResolution::Succeeded { amount } = &resolution {
            let payment = self
                .sweep_payment(&mut tx, intent.as_str(), *amount)
                .await?;
            self.settle_success(&mut tx, order.order_id.as_str(), &payment, "sweeper", now)
                .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Flags an order in review whose open intent succeeded at the gateway for something else
    /// (another customer, payment method, order or amount), fenced like `settle_unknown`; the
    /// flag takes it off the sweeper's list, for a person to decide.
    async fn flag_unknown(
        &self,
        order: &ExpiredClaim,
        intent: &GatewayIntentId,
        reason: &str,
        now: Timestamp,
    ) -> CentralResult<bool> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "UPDATE orders SET updated_at = $1 WHERE order_id = $2 AND status = 'needs_review' \
             AND open_intent_id = $3 AND holder_terminal IS NULL",
        )
        .bind(now.unix_ms())
        .bind(order.order_id.as_str())
        .bind(intent.as_str())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        self.flag(
            &mut tx,
            Some(order.order_id.as_str()),
            "sweeper",
            reason,
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Lists an expired claim the gateway's evidence could not resolve, for managers.
    pub async fn mark_unresolved(
        &self,
        claim: &ExpiredClaim,
        reason: &str,
        now: Timestamp,
    ) -> CentralResult<()> {
        sqlx::query(
            "INSERT INTO unresolved (order_id, claim_token, intent_id, reason, since) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (order_id, claim_token) DO UPDATE SET reason = excluded.reason",
        )
        .bind(claim.order_id.as_str())
        .bind(claim.claim_token.get() as i64)
        .bind(
            claim
                .open_intent_id
                .as_ref()
                .map(|i| i.as_str().to_string()),
        )
        .bind(reason)
        .bind(now.unix_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Unresolved items whose claim is still the order's current one and still held (a late
    /// result or a takeover ends the listing without anyone deleting it).
    pub async fn unresolved(&self) -> CentralResult<Vec<UnresolvedItem>> {
        let rows = sqlx::query(
            "SELECT u.order_id, u.claim_token, u.intent_id, u.reason, u.since FROM unresolved u \
             JOIN orders o ON o.order_id = u.order_id AND o.claim_token = u.claim_token \
             AND o.holder_terminal IS NOT NULL \
             ORDER BY u.since, u.order_id",
        )
        .fetch_all(&self.pool)
        .await?;
        let decoded = rows
            .iter()
            .map(|r| (row_key(r, "order_id"), unresolved_from_row(r)))
            .collect();
        self.readable("unresolved", decoded).await
    }
}

fn unresolved_from_row(r: &AnyRow) -> CentralResult<UnresolvedItem> {
    let intent: Option<String> = r.try_get("intent_id")?;
    Ok(UnresolvedItem {
        order_id: OrderId::new(r.try_get::<String, _>("order_id")?).map_err(corrupt)?,
        claim_token: claim_token(r.try_get("claim_token")?)?,
        intent_id: intent
            .map(GatewayIntentId::new)
            .transpose()
            .map_err(corrupt)?,
        reason: r.try_get("reason")?,
        since: Timestamp::from_unix_ms(r.try_get("since")?),
    })
}

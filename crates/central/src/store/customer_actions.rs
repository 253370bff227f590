//! Orders waiting for their customer (3-D Secure): the payment links operators send and the
//! contacts they record (migration 0016), the queue's view of who waits since when, a link's
//! state when the customer opens it, and the sweeper's settling of a waiting order from the
//! gateway's evidence.
//!
//! A link is live only while all of these hold: it is the newest link sent for its order, its
//! time limit has not passed, and the order still waits (`needs_action`, not held by a claim)
//! on the very intent the link was sent for. So a link expires by itself once the order is paid
//! (by the webhook or the sweeper), once a new charge cancels the intent, or once a newer link
//! replaces it; nothing has to remember to revoke it.
//!
//! Deliberately absent: tokens (only their SHA-256 reaches here), the gateway and HTTP.

use paydesk_core::{GatewayIntentId, Money, OrderId, Timestamp};
use sqlx::any::AnyRow;
use sqlx::Row;

use super::{claim_token, corrupt, Store};
use super::{ExpiredClaim, SweepResolution};
use crate::error::CentralResult;

/// Waiting orders listed or swept at most per request or pass.
pub const WAITING_ROWS_MAX: i64 = 500;

/// One action to record for a waiting order.
#[derive(Debug, Clone)]
pub struct NewCustomerAction<'a> {
    pub action_id: &'a str,
    pub order_id: &'a OrderId,
    pub intent_id: &'a str,
    /// `link_sent` or `contacted`.
    pub kind: &'a str,
    /// For a link: the SHA-256 (hex) of its token and when it stops working.
    pub token_sha256: Option<&'a str>,
    pub expires_at: Option<Timestamp>,
    pub note: &'a str,
    pub operator_id: &'a str,
    pub terminal_id: &'a str,
    pub session_id: &'a str,
    pub at: Timestamp,
}

/// An order waiting for its customer, as the desk's queue shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerWait {
    pub order_id: String,
    pub intent_id: String,
    /// When the order last changed to waiting (its `updated_at` then).
    pub since: i64,
    /// The newest link: when, by whom, until when.
    pub link_sent_at: Option<i64>,
    pub link_sent_by: Option<String>,
    pub link_expires_at: Option<i64>,
    /// The newest contact: when, by whom, and the note.
    pub contacted_at: Option<i64>,
    pub contacted_by: Option<String>,
    pub contact_note: Option<String>,
}

/// Where a link stands when its page is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    Live,
    /// The order is paid: nothing left to do.
    Paid,
    /// A newer link was sent for the same order.
    Replaced,
    /// Its time limit passed.
    TimedOut,
    /// The order no longer waits on this link's intent (a new charge canceled it, it failed).
    NoLongerWaiting,
}

/// A payment link found by its token's SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentLinkRow {
    pub order_id: String,
    pub intent_id: String,
    pub amount: Money,
    pub description: String,
    pub expires_at: i64,
    pub state: LinkState,
}

impl Store {
    /// The order's open intent (registered by a claim, not ended), if any.
    pub async fn open_intent(&self, order: &OrderId) -> CentralResult<Option<String>> {
        let row = sqlx::query("SELECT open_intent_id FROM orders WHERE order_id = $1")
            .bind(order.as_str())
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(r) => r.try_get("open_intent_id")?,
            None => None,
        })
    }

    /// Records an action for an order that still waits on `intent_id` and is not held by a
    /// claim; returns false (nothing written) if it no longer does.
    pub async fn record_customer_action(&self, a: &NewCustomerAction<'_>) -> CentralResult<bool> {
        let done = sqlx::query(
            "INSERT INTO customer_actions (action_id, order_id, intent_id, kind, token_sha256, \
             expires_at, note, operator_id, terminal_id, session_id, at) \
             SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11 \
             WHERE EXISTS (SELECT 1 FROM orders WHERE order_id = $2 AND status = 'needs_action' \
             AND open_intent_id = $3 AND holder_terminal IS NULL)",
        )
        .bind(a.action_id)
        .bind(a.order_id.as_str())
        .bind(a.intent_id)
        .bind(a.kind)
        .bind(a.token_sha256)
        .bind(a.expires_at.map(Timestamp::unix_ms))
        .bind(a.note)
        .bind(a.operator_id)
        .bind(a.terminal_id)
        .bind(a.session_id)
        .bind(a.at.unix_ms())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Every order waiting for its customer, oldest wait first, with its newest link and contact.
    pub async fn customer_waits(&self) -> CentralResult<Vec<CustomerWait>> {
        let rows = sqlx::query(
            "SELECT o.order_id, o.open_intent_id, o.updated_at, \
             l.at AS link_at, l.operator_id AS link_by, l.expires_at AS link_expires, \
             c.at AS contact_at, c.operator_id AS contact_by, c.note AS contact_note \
             FROM orders o \
             LEFT JOIN customer_actions l ON l.action_id = (SELECT x.action_id FROM \
               customer_actions x WHERE x.order_id = o.order_id AND x.intent_id = \
               o.open_intent_id AND x.kind = 'link_sent' ORDER BY x.at DESC, x.action_id DESC \
               LIMIT 1) \
             LEFT JOIN customer_actions c ON c.action_id = (SELECT y.action_id FROM \
               customer_actions y WHERE y.order_id = o.order_id AND y.intent_id = \
               o.open_intent_id AND y.kind = 'contacted' ORDER BY y.at DESC, y.action_id DESC \
               LIMIT 1) \
             WHERE o.status = 'needs_action' AND o.open_intent_id IS NOT NULL \
             ORDER BY o.updated_at, o.order_id LIMIT $1",
        )
        .bind(WAITING_ROWS_MAX)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(wait_from_row).collect()
    }

    /// The link whose token hashes to `token_sha256`, and where it stands at `now`.
    pub async fn payment_link(
        &self,
        token_sha256: &str,
        now: Timestamp,
    ) -> CentralResult<Option<PaymentLinkRow>> {
        let row = sqlx::query(
            "SELECT l.order_id, l.intent_id, l.expires_at, l.at, l.action_id, o.status, \
             o.open_intent_id, o.holder_terminal, o.amount_minor, o.currency, o.description, \
             (SELECT COUNT(*) FROM customer_actions n WHERE n.order_id = l.order_id \
              AND n.kind = 'link_sent' AND (n.at > l.at OR (n.at = l.at \
              AND n.action_id > l.action_id))) AS newer \
             FROM customer_actions l JOIN orders o ON o.order_id = l.order_id \
             WHERE l.token_sha256 = $1 AND l.kind = 'link_sent'",
        )
        .bind(token_sha256)
        .fetch_optional(&self.pool)
        .await?;
        let Some(r) = row else {
            return Ok(None);
        };
        let intent_id: String = r.try_get("intent_id")?;
        let status: String = r.try_get("status")?;
        let open: Option<String> = r.try_get("open_intent_id")?;
        let held: Option<String> = r.try_get("holder_terminal")?;
        let expires_at: i64 = r.try_get::<Option<i64>, _>("expires_at")?.unwrap_or(0);
        let newer: i64 = r.try_get("newer")?;
        let state = if status == "paid" {
            LinkState::Paid
        } else if newer > 0 {
            LinkState::Replaced
        } else if now.unix_ms() >= expires_at {
            LinkState::TimedOut
        } else if status != "needs_action"
            || open.as_deref() != Some(intent_id.as_str())
            || held.is_some()
        {
            LinkState::NoLongerWaiting
        } else {
            LinkState::Live
        };
        let currency = paydesk_core::Currency::from_code(&r.try_get::<String, _>("currency")?)
            .map_err(corrupt)?;
        Ok(Some(PaymentLinkRow {
            order_id: r.try_get("order_id")?,
            intent_id,
            amount: Money::new(r.try_get("amount_minor")?, currency).map_err(corrupt)?,
            description: r.try_get("description")?,
            expires_at,
            state,
        }))
    }

    /// Waiting orders with a link still within its time limit: the sweeper asks the gateway
    /// about their intents on every pass, so a customer's completion pays the order even when
    /// no webhook arrives.
    pub async fn waiting_with_live_links(
        &self,
        now: Timestamp,
        limit: u32,
    ) -> CentralResult<Vec<ExpiredClaim>> {
        let rows = sqlx::query(
            "SELECT o.order_id, o.claim_token, o.open_intent_id, o.amount_minor, o.currency, \
             o.customer_id, o.payment_method_id FROM orders o \
             WHERE o.status = 'needs_action' AND o.open_intent_id IS NOT NULL \
             AND o.holder_terminal IS NULL \
             AND EXISTS (SELECT 1 FROM customer_actions l WHERE l.order_id = o.order_id \
                         AND l.intent_id = o.open_intent_id AND l.kind = 'link_sent' \
                         AND l.expires_at > $1) \
             ORDER BY o.updated_at LIMIT $2",
        )
        .bind(now.unix_ms())
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let currency =
                    paydesk_core::Currency::from_code(&r.try_get::<String, _>("currency")?)
                        .map_err(corrupt)?;
                Ok(ExpiredClaim {
                    order_id: OrderId::new(r.try_get::<String, _>("order_id")?).map_err(corrupt)?,
                    claim_token: claim_token(r.try_get::<i64, _>("claim_token")?.max(1))?,
                    open_intent_id: r
                        .try_get::<Option<String>, _>("open_intent_id")?
                        .map(GatewayIntentId::new)
                        .transpose()
                        .map_err(corrupt)?,
                    amount: Money::new(r.try_get("amount_minor")?, currency).map_err(corrupt)?,
                    customer_id: r.try_get("customer_id")?,
                    payment_method_id: r.try_get("payment_method_id")?,
                })
            })
            .collect()
    }

    /// Settles a waiting order from the gateway's evidence about its open intent, fenced on
    /// the order still waiting on that intent unheld: succeeded for exactly this order → paid
    /// (verified by the gateway), declined → failed, canceled → unpaid. Anything else (still
    /// waiting, a mismatch the webhook path flags) changes nothing here. Returns whether it
    /// changed the order.
    pub async fn settle_waiting(
        &self,
        order: &ExpiredClaim,
        resolution: &SweepResolution,
        now: Timestamp,
    ) -> CentralResult<bool> {
        let Some(intent) = order.open_intent_id.as_ref() else {
            return Ok(false);
        };
        let (status, paid_intent, state) = match resolution {
            SweepResolution::Succeeded { amount } if *amount == order.amount => {
                ("paid", Some(intent.as_str()), "succeeded")
            }
            SweepResolution::Failed => ("failed", None, "payment_failed"),
            SweepResolution::Canceled => ("unpaid", None, "canceled"),
            _ => return Ok(false),
        };
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "UPDATE orders SET status = $1, paid_intent_id = COALESCE($2, paid_intent_id), \
             verified_by = CASE WHEN $1 = 'paid' THEN 'gateway' ELSE verified_by END, \
             open_intent_id = NULL, updated_at = $3 \
             WHERE order_id = $4 AND status = 'needs_action' AND open_intent_id = $5 \
             AND holder_terminal IS NULL",
        )
        .bind(status)
        .bind(paid_intent)
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
            .bind(state)
            .bind(intent.as_str())
            .bind(order.order_id.as_str())
            .execute(&mut *tx)
            .await?;
        if status == "paid" {
            self.refresh_refunded(&mut tx, order.order_id.as_str(), now)
                .await?;
        }
        tx.commit().await?;
        Ok(true)
    }
}

fn wait_from_row(r: &AnyRow) -> CentralResult<CustomerWait> {
    Ok(CustomerWait {
        order_id: r.try_get("order_id")?,
        intent_id: r.try_get("open_intent_id")?,
        since: r.try_get("updated_at")?,
        link_sent_at: r.try_get("link_at")?,
        link_sent_by: r.try_get("link_by")?,
        link_expires_at: r.try_get("link_expires")?,
        contacted_at: r.try_get("contact_at")?,
        contacted_by: r.try_get("contact_by")?,
        contact_note: r.try_get("contact_note")?,
    })
}

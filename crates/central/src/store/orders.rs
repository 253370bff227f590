//! Orders: the idempotent import (each order naming its gateway), the paged queue by status with a search, and an order's detail
//! with every result and intent recorded for it.
//!
//! Deliberately absent: the processing flag (`claims.rs`) and anything that changes an order after
//! import (claims, the results inbox, webhooks and the sweeper do that).

use paydesk_core::{AttemptId, Currency, GatewayIntentId, Money, OrderId, TerminalId, Timestamp};
use paydesk_protocol::{
    ImportOrder, ImportOrdersResponse, IntentRecord, ItemStatus, Order, OrderDetail, OrderStatus,
    PaymentRecord, ResultOutcome,
};
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use super::{
    attempt_number, claim_token, corrupt, order_from_row, row_key, OrderRow, Store, ORDER_COLUMNS,
};
use crate::error::{CentralError, CentralResult};

impl Store {
    /// Imports orders in one transaction, idempotent on the external order id: an order that
    /// exists is never overwritten; if its content differs it is reported as conflicting. Results
    /// the inbox rejected because a new order did not exist yet are applied to it.
    pub async fn import_orders(
        &self,
        orders: &[ImportOrder],
        now: Timestamp,
    ) -> CentralResult<ImportOrdersResponse> {
        let mut tx = self.pool.begin().await?;
        let mut response = ImportOrdersResponse {
            created: 0,
            unchanged: 0,
            conflicting: Vec::new(),
        };
        let mut imported: Vec<&str> = Vec::new();
        for o in orders {
            let done = sqlx::query(
                "INSERT INTO orders (order_id, amount_minor, currency, customer_id, \
                 payment_method_id, description, status, created_at, updated_at, gateway, \
                 customer_name) \
                 VALUES ($1, $2, $3, $4, $5, $6, 'unpaid', $7, $7, $8, $9) \
                 ON CONFLICT (order_id) DO NOTHING",
            )
            .bind(o.order_id.as_str())
            .bind(o.amount.minor())
            .bind(o.amount.currency().code())
            .bind(&o.customer_id)
            .bind(&o.payment_method_id)
            .bind(&o.description)
            .bind(now.unix_ms())
            .bind(o.gateway.as_str())
            .bind(&o.customer_name)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 1 {
                response.created += 1;
                imported.push(o.order_id.as_str());
                continue;
            }
            let existing = self.order_row_in(&mut tx, &o.order_id, false).await?;
            let same = existing.as_ref().is_some_and(|e| {
                e.order.amount == o.amount
                    && e.order.customer_id == o.customer_id
                    && e.order.payment_method_id == o.payment_method_id
                    && e.order.description == o.description
                    && e.order.gateway == o.gateway
                    && e.order.customer_name == o.customer_name
            });
            if same {
                response.unchanged += 1;
                // Results stored as rejected before this central applied them at import (an
                // older version, a restored backup) are applied on a re-import too.
                imported.push(o.order_id.as_str());
            } else {
                response.conflicting.push(o.order_id.clone());
            }
        }
        // Results that arrived before their order (stored as rejected) are applied now, in the
        // same transaction, through the same rules as if they arrived after it.
        imported.sort_unstable();
        imported.dedup();
        let applied = self.apply_rejected_reports(&mut tx, &imported, now).await?;
        if applied > 0 {
            tracing::info!(applied, "results received before their orders were applied");
        }
        tx.commit().await?;
        Ok(response)
    }

    pub(super) async fn order_row_in(
        &self,
        tx: &mut Transaction<'static, Any>,
        order: &OrderId,
        lock: bool,
    ) -> CentralResult<Option<OrderRow>> {
        let sql = format!(
            "SELECT {ORDER_COLUMNS} FROM orders WHERE order_id = $1{}",
            if lock { self.for_update() } else { "" }
        );
        let row = sqlx::query(&sql)
            .bind(order.as_str())
            .fetch_optional(&mut **tx)
            .await?;
        row.as_ref().map(order_from_row).transpose()
    }

    pub(super) async fn order_row(&self, order: &OrderId) -> CentralResult<Option<OrderRow>> {
        let sql = format!("SELECT {ORDER_COLUMNS} FROM orders WHERE order_id = $1");
        let row = sqlx::query(&sql)
            .bind(order.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(order_from_row).transpose()
    }

    /// A page of orders in one status, ordered by order id, optionally filtered by a search text
    /// matched (case-insensitively) against the order id, customer id and description.
    pub async fn list_orders(
        &self,
        status: OrderStatus,
        search: Option<&str>,
        after: Option<&OrderId>,
        limit: u32,
    ) -> CentralResult<Vec<Order>> {
        let pattern = search.filter(|s| !s.is_empty()).map(|s| {
            let escaped = s
                .to_lowercase()
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            format!("%{escaped}%")
        });
        let sql = format!(
            "SELECT {ORDER_COLUMNS} FROM orders WHERE status = $1 AND order_id > $2 \
             AND ($3 = '' OR LOWER(order_id) LIKE $3 ESCAPE '\\' \
                  OR LOWER(customer_id) LIKE $3 ESCAPE '\\' \
                  OR LOWER(description) LIKE $3 ESCAPE '\\') \
             ORDER BY order_id LIMIT $4"
        );
        let rows = sqlx::query(&sql)
            .bind(status.as_str())
            .bind(after.map(|a| a.as_str()).unwrap_or(""))
            .bind(pattern.unwrap_or_default())
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        let decoded = rows
            .iter()
            .map(|r| (row_key(r, "order_id"), order_from_row(r).map(|o| o.order)))
            .collect();
        let mut orders = self.readable("orders", decoded).await?;
        self.attach_saved_methods(&mut orders).await?;
        Ok(orders)
    }

    pub async fn order(&self, order: &OrderId) -> CentralResult<Order> {
        let mut order = self
            .order_row(order)
            .await?
            .map(|r| r.order)
            .ok_or_else(|| CentralError::OrderNotFound(order.clone()))?;
        self.attach_saved_methods(std::slice::from_mut(&mut order))
            .await?;
        Ok(order)
    }

    /// An order with every result and intent recorded for it.
    pub async fn order_detail(&self, order_id: &OrderId) -> CentralResult<OrderDetail> {
        let order = self.order(order_id).await?;
        // The newest results only (by the central's clock): a terminal must not be able to grow
        // one order's page without bound (M4); all stay stored.
        let rows = sqlx::query(
            "SELECT * FROM (SELECT attempt_id, interim, attempt_number, claim_token, terminal_id, \
             outcome, amount_minor, currency, intent_id, offline, occurred_at, received_at, \
             status, reason, installment FROM results WHERE order_id = $1 \
             ORDER BY received_at DESC, attempt_id DESC, interim LIMIT $2) newest \
             ORDER BY occurred_at, attempt_id, interim DESC",
        )
        .bind(order_id.as_str())
        .bind(super::ORDER_RESULTS_MAX)
        .fetch_all(&self.pool)
        .await?;
        let decoded = rows
            .iter()
            .map(|r| (row_key(r, "attempt_id"), payment_record_from_row(r)))
            .collect();
        let results = self.readable("results", decoded).await?;
        let rows = sqlx::query(
            "SELECT intent_id, attempt_number, claim_token, terminal_id, registered_at, state \
             FROM intents WHERE order_id = $1 ORDER BY registered_at, intent_id",
        )
        .bind(order_id.as_str())
        .fetch_all(&self.pool)
        .await?;
        let decoded = rows
            .iter()
            .map(|r| (row_key(r, "intent_id"), intent_record_from_row(r)))
            .collect();
        let intents = self.readable("intents", decoded).await?;
        Ok(OrderDetail {
            order,
            results,
            intents,
        })
    }
}

impl Store {
    /// The PayPal orders registered as intents of PayPal orders in `[from, to)`, oldest first,
    /// at most `limit`: what reconciliation reads one by one at PayPal, which has no search.
    pub async fn paypal_intents_between(
        &self,
        from: Timestamp,
        to: Timestamp,
        limit: u32,
    ) -> CentralResult<Vec<(GatewayIntentId, OrderId)>> {
        let rows = sqlx::query(
            "SELECT i.intent_id, i.order_id FROM intents i \
             JOIN orders o ON o.order_id = i.order_id \
             WHERE o.gateway = 'paypal' AND i.registered_at >= $1 AND i.registered_at < $2 \
             ORDER BY i.registered_at, i.intent_id LIMIT $3",
        )
        .bind(from.unix_ms())
        .bind(to.unix_ms())
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        let decoded = rows
            .iter()
            .map(|r| (row_key(r, "intent_id"), intent_and_order(r)))
            .collect();
        self.readable("intents", decoded).await
    }
}

fn intent_and_order(r: &AnyRow) -> CentralResult<(GatewayIntentId, OrderId)> {
    Ok((
        GatewayIntentId::new(r.try_get::<String, _>("intent_id")?).map_err(corrupt)?,
        OrderId::new(r.try_get::<String, _>("order_id")?).map_err(corrupt)?,
    ))
}

fn intent_record_from_row(r: &AnyRow) -> CentralResult<IntentRecord> {
    Ok(IntentRecord {
        intent_id: GatewayIntentId::new(r.try_get::<String, _>("intent_id")?).map_err(corrupt)?,
        attempt_number: attempt_number(r.try_get("attempt_number")?)?,
        // An offline attempt's intent adopted on an order never claimed carries the order's
        // token 0, which no claim token can be: shown as 1.
        claim_token: claim_token(r.try_get::<i64, _>("claim_token")?.max(1))?,
        terminal_id: TerminalId::new(r.try_get::<String, _>("terminal_id")?).map_err(corrupt)?,
        registered_at: Timestamp::from_unix_ms(r.try_get("registered_at")?),
        state: r.try_get("state")?,
    })
}

fn payment_record_from_row(r: &AnyRow) -> CentralResult<PaymentRecord> {
    let attempt_id: String = r.try_get("attempt_id")?;
    let outcome: String = r.try_get("outcome")?;
    let status: String = r.try_get("status")?;
    let currency = Currency::from_code(&r.try_get::<String, _>("currency")?).map_err(corrupt)?;
    let intent: Option<String> = r.try_get("intent_id")?;
    Ok(PaymentRecord {
        attempt_id: AttemptId::parse(&attempt_id).map_err(corrupt)?,
        attempt_number: attempt_number(r.try_get("attempt_number")?)?,
        claim_token: claim_token(r.try_get("claim_token")?)?,
        terminal_id: TerminalId::new(r.try_get::<String, _>("terminal_id")?).map_err(corrupt)?,
        outcome: ResultOutcome::parse(&outcome)
            .ok_or_else(|| corrupt(format!("outcome {outcome}")))?,
        amount: Money::new(r.try_get("amount_minor")?, currency).map_err(corrupt)?,
        intent_id: intent
            .map(GatewayIntentId::new)
            .transpose()
            .map_err(corrupt)?,
        offline: r.try_get::<i64, _>("offline")? != 0,
        occurred_at: Timestamp::from_unix_ms(r.try_get("occurred_at")?),
        received_at: Timestamp::from_unix_ms(r.try_get("received_at")?),
        status: ItemStatus::parse(&status).ok_or_else(|| corrupt(format!("status {status}")))?,
        reason: r.try_get("reason")?,
        installment: installment(r.try_get("installment")?)?,
    })
}

/// An installment number read back from a column.
pub(super) fn installment(n: i64) -> CentralResult<paydesk_core::InstallmentNumber> {
    u32::try_from(n)
        .ok()
        .and_then(|n| paydesk_core::InstallmentNumber::new(n).ok())
        .ok_or_else(|| corrupt(format!("installment {n}")))
}

//! Reconciliation's storage: the successes the central recorded in a time window, from the results
//! inbox and from paid orders.
//!
//! Deliberately absent: the comparison with the gateway's list (`crate::reconcile`).

use std::collections::HashMap;

use paydesk_core::{Currency, GatewayIntentId, Money, OrderId, Timestamp};
use sqlx::any::AnyRow;
use sqlx::Row;

use super::{corrupt, row_key, Store};
use crate::error::CentralResult;

/// A succeeded payment as the central recorded it, for reconciliation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedSuccess {
    pub order_id: OrderId,
    pub intent_id: Option<GatewayIntentId>,
    pub amount: Money,
}

impl Store {
    /// Successes the central recorded (results inbox and paid orders) in `[from, to)` of the
    /// central's own clock: when a result was received, not the `occurred_at` a terminal claims
    /// (C1). A paid order with no paying intent is listed too (its intent is `None`), so it shows
    /// as recorded but not charged.
    pub async fn recorded_successes(
        &self,
        from: Timestamp,
        to: Timestamp,
    ) -> CentralResult<Vec<RecordedSuccess>> {
        let rows = sqlx::query(
            "SELECT order_id, intent_id, amount_minor, currency FROM results \
             WHERE outcome = 'succeeded' AND status <> 'rejected' \
             AND received_at >= $1 AND received_at < $2 \
             ORDER BY order_id, attempt_id",
        )
        .bind(from.unix_ms())
        .bind(to.unix_ms())
        .fetch_all(&self.pool)
        .await?;
        let mut decoded: Vec<(String, CentralResult<RecordedSuccess>)> = Vec::new();
        let mut seen: HashMap<String, ()> = HashMap::new();
        for r in &rows {
            let intent: Option<String> = r.try_get("intent_id")?;
            if let Some(i) = &intent {
                if seen.insert(i.clone(), ()).is_some() {
                    continue;
                }
            }
            decoded.push((row_key(r, "order_id"), success_from_row(r, intent)));
        }
        let mut out = self.readable("results", decoded).await?;
        // Orders paid through webhooks or the sweeper have no result row; include them too.
        let rows = sqlx::query(
            "SELECT order_id, paid_intent_id, amount_minor, currency FROM orders \
             WHERE status = 'paid' AND updated_at >= $1 AND updated_at < $2",
        )
        .bind(from.unix_ms())
        .bind(to.unix_ms())
        .fetch_all(&self.pool)
        .await?;
        let mut decoded = Vec::new();
        for r in &rows {
            let intent: Option<String> = r.try_get("paid_intent_id")?;
            if let Some(i) = &intent {
                if seen.insert(i.clone(), ()).is_some() {
                    continue;
                }
            }
            decoded.push((row_key(r, "order_id"), success_from_row(r, intent)));
        }
        out.extend(self.readable("orders", decoded).await?);
        Ok(out)
    }
}

fn success_from_row(r: &AnyRow, intent: Option<String>) -> CentralResult<RecordedSuccess> {
    let currency = Currency::from_code(&r.try_get::<String, _>("currency")?).map_err(corrupt)?;
    Ok(RecordedSuccess {
        order_id: OrderId::new(r.try_get::<String, _>("order_id")?).map_err(corrupt)?,
        intent_id: intent
            .map(GatewayIntentId::new)
            .transpose()
            .map_err(corrupt)?,
        amount: Money::new(r.try_get("amount_minor")?, currency).map_err(corrupt)?,
    })
}

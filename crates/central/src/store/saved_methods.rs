//! Saved payment methods as the central last read them from their gateways (issue 12, item 1):
//! one row per payment source, shared by every order that names it, attached to the orders a
//! listing returns.
//!
//! Deliberately absent: talking to the gateway (`crate::saved_methods` reads it and hands the
//! answer here) and any card number (there is no column for one).

use paydesk_core::Timestamp;
use paydesk_protocol::payment_method::{SavedMethod, SavedMethodKind};
use paydesk_protocol::{GatewayName, Order};
use sqlx::any::AnyRow;
use sqlx::Row;

use super::{corrupt, Store};
use crate::error::CentralResult;

const COLUMNS: &str = "gateway, payment_method_id, kind, brand, last4, exp_month, exp_year, \
    email, holder_name, kind_name, read_at, refresh_error, checked_at";

impl Store {
    /// Fills in `saved_method` of each order from the rows read before (none: never read).
    pub async fn attach_saved_methods(&self, orders: &mut [Order]) -> CentralResult<()> {
        let mut sources: Vec<&str> = orders
            .iter()
            .map(|o| o.payment_method_id.as_str())
            .collect();
        sources.sort_unstable();
        sources.dedup();
        if sources.is_empty() {
            return Ok(());
        }
        let placeholders: Vec<String> = (1..=sources.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT {COLUMNS} FROM saved_methods WHERE payment_method_id IN ({})",
            placeholders.join(", ")
        );
        let mut query = sqlx::query(&sql);
        for source in &sources {
            query = query.bind(*source);
        }
        let rows = query.fetch_all(&self.pool).await?;
        let mut found = Vec::with_capacity(rows.len());
        for row in &rows {
            match saved_method_from_row(row) {
                Ok(read) => found.push(read),
                // A row that does not decode is shown as not read, never allowed to take the
                // queue down.
                Err(e) => tracing::warn!(error = %e, "a saved payment method row does not decode"),
            }
        }
        for order in orders.iter_mut() {
            order.saved_method = found
                .iter()
                .find(|(gateway, source, _)| {
                    *gateway == order.gateway && *source == order.payment_method_id
                })
                .map(|(_, _, method)| method.clone());
        }
        Ok(())
    }

    /// Records what reading a payment source at its gateway gave: the details (replacing what
    /// was there), or why it failed (keeping the details read before, if any).
    pub async fn record_saved_method(
        &self,
        gateway: GatewayName,
        source: &str,
        read: Result<SavedMethod, String>,
        now: Timestamp,
    ) -> CentralResult<()> {
        match read {
            Ok(m) => {
                sqlx::query(&format!(
                    "INSERT INTO saved_methods ({COLUMNS}) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, NULL, $11) \
                     ON CONFLICT (gateway, payment_method_id) DO UPDATE SET \
                     kind = excluded.kind, brand = excluded.brand, last4 = excluded.last4, \
                     exp_month = excluded.exp_month, exp_year = excluded.exp_year, \
                     email = excluded.email, holder_name = excluded.holder_name, \
                     kind_name = excluded.kind_name, read_at = excluded.read_at, \
                     refresh_error = NULL, checked_at = excluded.checked_at"
                ))
                .bind(gateway.as_str())
                .bind(source)
                .bind(m.kind.as_str())
                .bind(m.brand)
                .bind(m.last4)
                .bind(m.exp_month.map(i64::from))
                .bind(m.exp_year.map(i64::from))
                .bind(m.email)
                .bind(m.holder_name)
                .bind(m.kind_name)
                .bind(now.unix_ms())
                .execute(&self.pool)
                .await?;
            }
            Err(why) => {
                sqlx::query(&format!(
                    "INSERT INTO saved_methods ({COLUMNS}) \
                     VALUES ($1, $2, 'unread', NULL, NULL, NULL, NULL, NULL, NULL, NULL, $3, $4, $3) \
                     ON CONFLICT (gateway, payment_method_id) DO UPDATE SET \
                     refresh_error = excluded.refresh_error, checked_at = excluded.checked_at"
                ))
                .bind(gateway.as_str())
                .bind(source)
                .bind(now.unix_ms())
                .bind(why)
                .execute(&self.pool)
                .await?;
            }
        }
        Ok(())
    }

    /// Payment sources of orders not yet paid that were never read, at most `limit`: what is
    /// read after an import or a demo seeding.
    pub async fn unread_payment_sources(
        &self,
        limit: u32,
    ) -> CentralResult<Vec<(GatewayName, String)>> {
        let rows = sqlx::query(
            "SELECT DISTINCT o.gateway, o.payment_method_id FROM orders o \
             LEFT JOIN saved_methods s ON s.gateway = o.gateway \
                 AND s.payment_method_id = o.payment_method_id \
             WHERE s.payment_method_id IS NULL AND o.status <> 'paid' \
             ORDER BY o.gateway, o.payment_method_id LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let gateway: String = r.try_get("gateway")?;
                Ok((
                    GatewayName::parse(&gateway)
                        .ok_or_else(|| corrupt(format!("gateway {gateway}")))?,
                    r.try_get("payment_method_id")?,
                ))
            })
            .collect()
    }
}

fn saved_method_from_row(r: &AnyRow) -> CentralResult<(GatewayName, String, SavedMethod)> {
    let gateway: String = r.try_get("gateway")?;
    let kind: String = r.try_get("kind")?;
    let small = |column: &str| -> CentralResult<Option<i64>> { Ok(r.try_get(column)?) };
    let exp_month = small("exp_month")?
        .map(|m| u8::try_from(m).map_err(corrupt))
        .transpose()?;
    let exp_year = small("exp_year")?
        .map(|y| u16::try_from(y).map_err(corrupt))
        .transpose()?;
    let refresh_error: Option<String> = r.try_get("refresh_error")?;
    Ok((
        GatewayName::parse(&gateway).ok_or_else(|| corrupt(format!("gateway {gateway}")))?,
        r.try_get("payment_method_id")?,
        SavedMethod {
            kind: SavedMethodKind::parse(&kind).ok_or_else(|| corrupt(format!("kind {kind}")))?,
            brand: r.try_get("brand")?,
            last4: r.try_get("last4")?,
            exp_month,
            exp_year,
            email: r.try_get("email")?,
            holder_name: r.try_get("holder_name")?,
            kind_name: r.try_get("kind_name")?,
            read_at: Timestamp::from_unix_ms(r.try_get("read_at")?),
            refresh_error,
            checked_at: Timestamp::from_unix_ms(r.try_get("checked_at")?),
        },
    ))
}

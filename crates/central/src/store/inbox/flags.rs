//! Reading what the results inbox holds: the count of stored results and the central's flags,
//! page by page.

use paydesk_core::{OrderId, Timestamp};
use paydesk_protocol::{FlagList, FlagRecord};
use sqlx::any::AnyRow;
use sqlx::Row;

use super::super::{corrupt, row_key, Store};
use super::{FLAG_PAGE_ROWS_DEFAULT, FLAG_PAGE_ROWS_MAX};
use crate::error::CentralResult;

impl Store {
    pub async fn result_count(&self) -> CentralResult<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM results")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("n")?)
    }

    /// One page of flags, newest first: those with an id below `filter.after` (when given),
    /// of `filter.order_id` and `filter.source` (when given), at most `filter.limit`. Paging by
    /// id keeps every flag reachable however many a terminal raises (M4).
    pub async fn flags(&self, filter: &FlagFilter) -> CentralResult<FlagList> {
        let limit = filter.limit.clamp(1, FLAG_PAGE_ROWS_MAX);
        let rows = sqlx::query(
            "SELECT flag_id, order_id, source, reason, at FROM flags \
             WHERE ($1 = 0 OR flag_id < $2) AND ($3 = 0 OR order_id = $4) \
             AND ($5 = 0 OR source = $6) ORDER BY flag_id DESC LIMIT $7",
        )
        .bind(i64::from(filter.after.is_some()))
        .bind(filter.after.unwrap_or(0))
        .bind(i64::from(filter.order_id.is_some()))
        .bind(filter.order_id.clone().unwrap_or_default())
        .bind(i64::from(filter.source.is_some()))
        .bind(filter.source.clone().unwrap_or_default())
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        let last = match rows.last() {
            Some(r) if rows.len() == limit as usize => Some(r.try_get::<i64, _>("flag_id")?),
            _ => None,
        };
        let decoded = rows
            .iter()
            .map(|r| (row_key(r, "order_id"), flag_from_row(r)))
            .collect();
        Ok(FlagList {
            flags: self.readable("flags", decoded).await?,
            next_after: last,
        })
    }
}

/// Which flags a page of `/v1/flags` lists.
#[derive(Debug, Clone)]
pub struct FlagFilter {
    /// Only flags with a smaller id (older): the previous page's `next_after`.
    pub after: Option<i64>,
    pub limit: u32,
    pub order_id: Option<String>,
    pub source: Option<String>,
}

impl Default for FlagFilter {
    fn default() -> FlagFilter {
        FlagFilter {
            after: None,
            limit: FLAG_PAGE_ROWS_DEFAULT,
            order_id: None,
            source: None,
        }
    }
}

fn flag_from_row(r: &AnyRow) -> CentralResult<FlagRecord> {
    let order_id: Option<String> = r.try_get("order_id")?;
    Ok(FlagRecord {
        flag_id: r.try_get("flag_id")?,
        order_id: order_id.map(OrderId::new).transpose().map_err(corrupt)?,
        source: r.try_get("source")?,
        reason: r.try_get("reason")?,
        at: Timestamp::from_unix_ms(r.try_get("at")?),
    })
}

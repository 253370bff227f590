//! The results inbox: a batch of results and the terminal's journal head applied in one
//! transaction, each result effective once (its attempt id is the key), contradictions flagged.
//!
//! Deliberately absent: deciding what a result means for its order; that is the pure `decide` in
//! `inbox_rules.rs`. This file locks, reads and writes.

use std::collections::{HashMap, HashSet};

use paydesk_core::{OrderId, TerminalId, Timestamp};
use paydesk_protocol::{
    FlagRecord, ItemReceipt, ItemStatus, JournalHead, JournalReceipt, ResultBatchResponse,
    ResultItem,
};
use sqlx::{Any, Row, Transaction};

use super::claims::{audit, AuditEvent};
use super::inbox_rules::{decide, Decision, OrderChange};
use super::{corrupt, order_from_row, OrderRow, Store, ORDER_COLUMNS, TX_RETRIES_MAX};
use crate::error::{CentralError, CentralResult};

impl Store {
    /// Applies a batch of results and the terminal's journal head in one transaction.
    ///
    /// Items are processed sorted by (order, attempt), each locking its order row before it
    /// inserts its result, so concurrent batches touching the same orders always take locks in
    /// the same sequence and cannot deadlock. The answer keeps the request's item order.
    pub async fn apply_results(
        &self,
        terminal: &TerminalId,
        head: &JournalHead,
        items: &[ResultItem],
        now: Timestamp,
    ) -> CentralResult<ResultBatchResponse> {
        let mut attempt = 0;
        loop {
            match self.apply_results_once(terminal, head, items, now).await {
                Err(e) if e.is_retryable() && attempt < TX_RETRIES_MAX => attempt += 1,
                other => return other,
            }
        }
    }

    async fn apply_results_once(
        &self,
        terminal: &TerminalId,
        head: &JournalHead,
        items: &[ResultItem],
        now: Timestamp,
    ) -> CentralResult<ResultBatchResponse> {
        let mut order: Vec<usize> = (0..items.len()).collect();
        order.sort_by(|&a, &b| {
            (items[a].order_id.as_str(), items[a].attempt_id)
                .cmp(&(items[b].order_id.as_str(), items[b].attempt_id))
        });
        let mut receipts: Vec<Option<ItemReceipt>> = vec![None; items.len()];
        let mut tx = self.pool.begin().await?;
        // Results already stored are final forever, so one query finds the duplicates of a
        // replayed batch without locking their orders (a replay costs less than a first pass).
        let known = self.known_attempts(&mut tx, items).await?;
        let fresh: Vec<&ResultItem> = items
            .iter()
            .filter(|i| !known.contains(&i.attempt_id.to_string()))
            .collect();
        // Every order the batch touches, locked in one statement in order-id order (concurrent
        // batches therefore cannot deadlock), and kept in memory as the items change them.
        let mut rows = self.lock_orders(&mut tx, &fresh).await?;
        let registered = self.registered_intents(&mut tx, &fresh).await?;
        for i in order {
            let item = &items[i];
            let receipt = if known.contains(&item.attempt_id.to_string()) {
                ItemReceipt {
                    attempt_id: item.attempt_id,
                    status: ItemStatus::Duplicate,
                    reason: None,
                }
            } else {
                let row = rows.get_mut(item.order_id.as_str());
                self.apply_one(&mut tx, terminal, item, row, &registered, now)
                    .await?
            };
            receipts[i] = Some(receipt);
        }
        let journal = self.record_head(&mut tx, terminal, head, now).await?;
        tx.commit().await?;
        Ok(ResultBatchResponse {
            items: receipts.into_iter().flatten().collect(),
            journal,
        })
    }

    /// The attempt ids of `items` already in the inbox.
    async fn known_attempts(
        &self,
        tx: &mut Transaction<'static, Any>,
        items: &[ResultItem],
    ) -> CentralResult<HashSet<String>> {
        let mut known = HashSet::new();
        // Well under both backends' bound-parameter limits.
        for chunk in items.chunks(500) {
            let placeholders: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "SELECT attempt_id FROM results WHERE attempt_id IN ({})",
                placeholders.join(", ")
            );
            let mut query = sqlx::query(&sql);
            for item in chunk {
                query = query.bind(item.attempt_id.to_string());
            }
            for row in query.fetch_all(&mut **tx).await? {
                known.insert(row.try_get::<String, _>("attempt_id")?);
            }
        }
        Ok(known)
    }

    /// Locks and reads the orders of `items`, in order-id order.
    async fn lock_orders(
        &self,
        tx: &mut Transaction<'static, Any>,
        items: &[&ResultItem],
    ) -> CentralResult<HashMap<String, OrderRow>> {
        let mut ids: Vec<&str> = items.iter().map(|i| i.order_id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        let mut rows = HashMap::new();
        // Chunks are taken in sorted order too, so the lock order holds across chunks.
        for chunk in ids.chunks(500) {
            let placeholders: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "SELECT {ORDER_COLUMNS} FROM orders WHERE order_id IN ({}) ORDER BY order_id{}",
                placeholders.join(", "),
                self.for_update()
            );
            let mut query = sqlx::query(&sql);
            for id in chunk {
                query = query.bind(*id);
            }
            for row in query.fetch_all(&mut **tx).await? {
                let row = order_from_row(&row)?;
                rows.insert(row.order.order_id.as_str().to_string(), row);
            }
        }
        Ok(rows)
    }

    /// Which of the intents named by `items` are registered (only those have a state to update).
    async fn registered_intents(
        &self,
        tx: &mut Transaction<'static, Any>,
        items: &[&ResultItem],
    ) -> CentralResult<HashSet<String>> {
        let mut ids: Vec<&str> = items
            .iter()
            .filter_map(|i| i.intent_id.as_ref().map(|i| i.as_str()))
            .collect();
        ids.sort_unstable();
        ids.dedup();
        let mut registered = HashSet::new();
        for chunk in ids.chunks(500) {
            let placeholders: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "SELECT intent_id FROM intents WHERE intent_id IN ({})",
                placeholders.join(", ")
            );
            let mut query = sqlx::query(&sql);
            for id in chunk {
                query = query.bind(*id);
            }
            for row in query.fetch_all(&mut **tx).await? {
                registered.insert(row.try_get::<String, _>("intent_id")?);
            }
        }
        Ok(registered)
    }

    /// Applies one result whose order row (if the order exists) is locked by this transaction
    /// and mirrored in `row`, which is updated to match what was written.
    async fn apply_one(
        &self,
        tx: &mut Transaction<'static, Any>,
        terminal: &TerminalId,
        item: &ResultItem,
        row: Option<&mut OrderRow>,
        registered: &HashSet<String>,
        now: Timestamp,
    ) -> CentralResult<ItemReceipt> {
        // The reason is stored with the result: why it was flagged, or why it was rejected.
        let (status, reason, change) = match &row {
            None => (
                ItemStatus::Rejected,
                Some(format!(
                    "order {} is unknown at the central: import it, then ask a manager to review this result",
                    item.order_id
                )),
                OrderChange::default(),
            ),
            Some(row) => {
                let Decision {
                    status,
                    flag_reason,
                    change,
                } = decide(row, item);
                (status, flag_reason, change)
            }
        };
        let inserted = sqlx::query(
            "INSERT INTO results (attempt_id, order_id, attempt_number, claim_token, terminal_id, \
             outcome, amount_minor, currency, intent_id, offline, occurred_at, received_at, \
             status, reason) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
             ON CONFLICT (attempt_id) DO NOTHING",
        )
        .bind(item.attempt_id.to_string())
        .bind(item.order_id.as_str())
        .bind(i64::from(item.attempt_number.get()))
        .bind(item.claim_token.get() as i64)
        .bind(terminal.as_str())
        .bind(item.outcome.as_str())
        .bind(item.amount.minor())
        .bind(item.amount.currency().code())
        .bind(item.intent_id.as_ref().map(|i| i.as_str().to_string()))
        .bind(i64::from(item.offline))
        .bind(item.occurred_at.unix_ms())
        .bind(now.unix_ms())
        .bind(status.as_str())
        .bind(reason.clone())
        .execute(&mut **tx)
        .await?;
        if inserted.rows_affected() == 0 {
            return Ok(ItemReceipt {
                attempt_id: item.attempt_id,
                status: ItemStatus::Duplicate,
                reason: None,
            });
        }
        if status == ItemStatus::Flagged {
            self.flag(
                tx,
                Some(item.order_id.as_str()),
                "result",
                reason.as_deref().unwrap_or(""),
                now,
            )
            .await?;
        }
        if let Some(row) = row {
            self.apply_change(tx, row, &change, now).await?;
            row.mirror(&change);
            if let Some(intent) = item
                .intent_id
                .as_ref()
                .filter(|i| registered.contains(i.as_str()))
            {
                sqlx::query("UPDATE intents SET state = $1 WHERE intent_id = $2")
                    .bind(item.outcome.as_str())
                    .bind(intent.as_str())
                    .execute(&mut **tx)
                    .await?;
            }
        }
        Ok(ItemReceipt {
            attempt_id: item.attempt_id,
            status,
            reason,
        })
    }

    async fn apply_change(
        &self,
        tx: &mut Transaction<'static, Any>,
        row: &OrderRow,
        change: &OrderChange,
        now: Timestamp,
    ) -> CentralResult<()> {
        let order_id = row.order.order_id.as_str();
        let release = change.release && row.holder_terminal.is_some();
        if change.new_status.is_none() && !change.clear_open_intent && !release {
            return Ok(());
        }
        // One UPDATE for every part of the change. The order row is locked by this transaction
        // (FOR UPDATE on PostgreSQL, the single connection on SQLite), so the token `decide`
        // saw is still the current one.
        sqlx::query(
            "UPDATE orders SET status = COALESCE($1, status), \
             paid_intent_id = COALESCE($2, paid_intent_id), \
             open_intent_id = CASE WHEN $3 = 1 THEN NULL ELSE open_intent_id END, \
             holder_operator = CASE WHEN $4 = 1 THEN NULL ELSE holder_operator END, \
             holder_terminal = CASE WHEN $4 = 1 THEN NULL ELSE holder_terminal END, \
             claimed_at = CASE WHEN $4 = 1 THEN NULL ELSE claimed_at END, \
             lease_until = CASE WHEN $4 = 1 THEN NULL ELSE lease_until END, \
             ended_at = CASE WHEN $4 = 1 THEN $5 ELSE ended_at END, updated_at = $5 \
             WHERE order_id = $6",
        )
        .bind(change.new_status.map(|s| s.as_str().to_string()))
        .bind(
            change
                .paid_intent_id
                .as_ref()
                .map(|p| p.as_str().to_string()),
        )
        .bind(i64::from(change.clear_open_intent))
        .bind(i64::from(release))
        .bind(now.unix_ms())
        .bind(order_id)
        .execute(&mut **tx)
        .await?;
        if release {
            audit(tx, order_id, AuditEvent::Result, now).await?;
        }
        Ok(())
    }

    pub(super) async fn flag(
        &self,
        tx: &mut Transaction<'static, Any>,
        order_id: Option<&str>,
        source: &str,
        reason: &str,
        now: Timestamp,
    ) -> CentralResult<()> {
        sqlx::query("INSERT INTO flags (order_id, source, reason, at) VALUES ($1, $2, $3, $4)")
            .bind(order_id.map(str::to_string))
            .bind(source)
            .bind(reason)
            .bind(now.unix_ms())
            .execute(&mut **tx)
            .await?;
        tracing::warn!(
            order = order_id.unwrap_or("-"),
            source,
            reason,
            "flagged for review"
        );
        Ok(())
    }

    async fn record_head(
        &self,
        tx: &mut Transaction<'static, Any>,
        terminal: &TerminalId,
        head: &JournalHead,
        now: Timestamp,
    ) -> CentralResult<JournalReceipt> {
        let seq = i64::try_from(head.seq)
            .map_err(|_| CentralError::Invalid("journal_head.seq is too large".into()))?;
        let existing: Option<String> =
            sqlx::query("SELECT hash FROM journal_heads WHERE terminal_id = $1 AND seq = $2")
                .bind(terminal.as_str())
                .bind(seq)
                .fetch_optional(&mut **tx)
                .await?
                .map(|r| r.try_get("hash"))
                .transpose()?;
        let problem = match existing {
            Some(hash) if hash == head.hash => None,
            Some(hash) => Some(format!(
                "journal of terminal {terminal} was rewritten: seq {seq} had hash {hash}, now {}",
                head.hash
            )),
            None => {
                let max: Option<i64> = sqlx::query(
                    "SELECT MAX(seq) AS max_seq FROM journal_heads WHERE terminal_id = $1",
                )
                .bind(terminal.as_str())
                .fetch_one(&mut **tx)
                .await?
                .try_get("max_seq")?;
                sqlx::query(
                    "INSERT INTO journal_heads (terminal_id, seq, hash, received_at) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (terminal_id, seq) DO NOTHING",
                )
                .bind(terminal.as_str())
                .bind(seq)
                .bind(&head.hash)
                .bind(now.unix_ms())
                .execute(&mut **tx)
                .await?;
                match max {
                    Some(max) if max > seq => Some(format!(
                        "journal of terminal {terminal} went backwards: seq {seq} after {max}"
                    )),
                    _ => None,
                }
            }
        };
        if let Some(reason) = &problem {
            self.flag(tx, None, "journal", reason, now).await?;
        }
        Ok(JournalReceipt {
            flagged: problem.is_some(),
            reason: problem,
        })
    }

    pub async fn result_count(&self) -> CentralResult<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM results")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("n")?)
    }

    pub async fn flags(&self) -> CentralResult<Vec<FlagRecord>> {
        let rows = sqlx::query(
            "SELECT order_id, source, reason, at FROM flags ORDER BY flag_id DESC LIMIT 1000",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let order_id: Option<String> = r.try_get("order_id")?;
                Ok(FlagRecord {
                    order_id: order_id.map(OrderId::new).transpose().map_err(corrupt)?,
                    source: r.try_get("source")?,
                    reason: r.try_get("reason")?,
                    at: Timestamp::from_unix_ms(r.try_get("at")?),
                })
            })
            .collect()
    }
}

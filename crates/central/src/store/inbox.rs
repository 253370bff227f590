//! The results inbox: a batch of results and the terminal's journal head applied in one
//! transaction, each result effective once (its attempt id is the key), contradictions flagged.
//!
//! Deliberately absent: deciding what a result means for its order; that is the pure `decide` in
//! `inbox_rules.rs`. This file locks, reads and writes.

use std::collections::HashMap;

use paydesk_core::{AttemptId, Currency, GatewayIntentId, Money, OrderId, TerminalId, Timestamp};
use paydesk_protocol::{
    FlagList, FlagRecord, ItemReceipt, ItemStatus, JournalHead, JournalReceipt, OrderStatus,
    ResultBatchResponse, ResultItem, ResultOutcome,
};
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use super::claims::{audit, AuditEvent};
use super::inbox_rules::{decide, Admission, Context, Decision, OrderChange, FLAG_SOURCE_RESULT};
use super::inbox_trust::{refused_batch, Evidence, Refusal, SUSPECT_RESULTS_PER_HOUR_MAX};
use super::{
    attempt_number, claim_token, corrupt, order_from_row, row_key, OrderRow, Store, ORDER_COLUMNS,
    TX_RETRIES_MAX,
};
use crate::error::{CentralError, CentralResult};
use crate::sweeper::{verify_success, IntentLookup, Verification};

/// Results of an order shown in its detail at most (the newest): a terminal must not be able to
/// grow one order's page without bound (M4).
pub const ORDER_RESULTS_MAX: i64 = 200;
/// Flags per page of `/v1/flags` by default and at most.
pub const FLAG_PAGE_ROWS_DEFAULT: u32 = 100;
pub const FLAG_PAGE_ROWS_MAX: u32 = 1000;

/// What one batch knows besides its items: the intents registered for its orders (intent id →
/// (order id, registering terminal)), the gateway's evidence read before the transaction, and the sending terminal's
/// suspect results in the quota window so far (`None` where no quota applies: re-deciding
/// stored reports on import).
pub(super) struct BatchFacts<'a> {
    registered: HashMap<String, (String, String)>,
    evidence: &'a Evidence,
    suspect_recent: Option<i64>,
}

impl Store {
    /// Applies a batch of results and the terminal's journal head in one transaction.
    ///
    /// Items are processed sorted by (order, attempt), each locking its order row before it
    /// inserts its result, so concurrent batches touching the same orders always take locks in
    /// the same sequence and cannot deadlock. The answer keeps the request's item order.
    ///
    /// Successes are checked at the gateway first (`gateway`; none configured means none is
    /// verified, and such orders wait in review), outside the transaction so no row is locked
    /// while the gateway answers.
    ///
    /// A result no honest terminal sends (an online one under a claim never granted to this
    /// terminal, an offline one without the offline claim token, a success naming no intent) is
    /// answered `rejected` and not stored at all; if every item is such, the whole batch is
    /// refused with [`CentralError::Refused`] and nothing is written.
    pub async fn apply_results(
        &self,
        terminal: &TerminalId,
        head: &JournalHead,
        items: &[ResultItem],
        gateway: Option<&dyn IntentLookup>,
        now: Timestamp,
    ) -> CentralResult<ResultBatchResponse> {
        // What no honest terminal sends is not stored at all; a batch of nothing else is refused
        // whole, before anything (the journal head included) is written.
        let refused = self.structural_refusals(terminal, items).await?;
        if !items.is_empty() && refused.iter().all(Option::is_some) {
            return Err(refused_batch(items, &refused));
        }
        let admitted: Vec<ResultItem> = items
            .iter()
            .zip(&refused)
            .filter(|(_, r)| r.is_none())
            .map(|(i, _)| i.clone())
            .collect();
        let evidence = self.gateway_evidence(terminal, &admitted, gateway).await?;
        let mut attempt = 0;
        loop {
            match self
                .apply_results_once(terminal, head, items, &refused, &evidence, now)
                .await
            {
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
        refused: &[Option<Refusal>],
        evidence: &Evidence,
        now: Timestamp,
    ) -> CentralResult<ResultBatchResponse> {
        let mut order: Vec<usize> = (0..items.len()).collect();
        order.sort_by(|&a, &b| {
            // An attempt's interim report before its final one.
            (
                items[a].order_id.as_str(),
                items[a].attempt_id,
                !is_interim(&items[a]),
            )
                .cmp(&(
                    items[b].order_id.as_str(),
                    items[b].attempt_id,
                    !is_interim(&items[b]),
                ))
        });
        let mut receipts: Vec<Option<ItemReceipt>> = vec![None; items.len()];
        let mut tx = self.pool.begin().await?;
        // Reports already applied are final forever, so one query finds the duplicates of a
        // replayed batch without locking their orders (a replay costs less than a first pass).
        // A report stored as rejected (its order was unknown) is decided again.
        let mut stored = self.stored_reports(&mut tx, items).await?;
        let fresh: Vec<&ResultItem> = items
            .iter()
            .zip(refused)
            .filter(|(i, r)| r.is_none() && !is_duplicate(&stored, i))
            .map(|(i, _)| i)
            .collect();
        // Every order the batch touches, locked in one statement in order-id order (concurrent
        // batches therefore cannot deadlock), and kept in memory as the items change them.
        let mut rows = self.lock_orders(&mut tx, &fresh).await?;
        let mut facts = BatchFacts {
            registered: self.registered_intents(&mut tx, &fresh).await?,
            evidence,
            suspect_recent: Some(self.suspect_recent(&mut tx, terminal, now).await?),
        };
        for i in order {
            let item = &items[i];
            let receipt = if let Some(refusal) = &refused[i] {
                // Refused outright: not stored, no flag, no quota, no effect.
                ItemReceipt {
                    attempt_id: item.attempt_id,
                    status: ItemStatus::Rejected,
                    reason: Some(format!("{}: not stored", refusal.reason)),
                }
            } else if is_duplicate(&stored, item) {
                ItemReceipt {
                    attempt_id: item.attempt_id,
                    status: ItemStatus::Duplicate,
                    reason: None,
                }
            } else {
                let row = rows.get_mut(item.order_id.as_str());
                self.apply_one(&mut tx, terminal, item, row, &mut facts, &mut stored, now)
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

    /// What the inbox holds for the attempts of `items`: each report's status.
    async fn stored_reports(
        &self,
        tx: &mut Transaction<'static, Any>,
        items: &[ResultItem],
    ) -> CentralResult<HashMap<String, Stored>> {
        let mut stored: HashMap<String, Stored> = HashMap::new();
        let mut ids: Vec<String> = items.iter().map(|i| i.attempt_id.to_string()).collect();
        ids.sort_unstable();
        ids.dedup();
        // Well under both backends' bound-parameter limits.
        for chunk in ids.chunks(500) {
            let placeholders: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "SELECT attempt_id, interim, status FROM results WHERE attempt_id IN ({})",
                placeholders.join(", ")
            );
            let mut query = sqlx::query(&sql);
            for id in chunk {
                query = query.bind(id.as_str());
            }
            for row in query.fetch_all(&mut **tx).await? {
                let status: String = row.try_get("status")?;
                let status = ItemStatus::parse(&status)
                    .ok_or_else(|| corrupt(format!("result status {status}")))?;
                let entry = stored
                    .entry(row.try_get::<String, _>("attempt_id")?)
                    .or_default();
                if row.try_get::<i64, _>("interim")? != 0 {
                    entry.interim = Some(status);
                } else {
                    entry.last = Some(status);
                }
            }
        }
        Ok(stored)
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

    /// Which of the intents named by `items` are registered, for which order, by which terminal.
    async fn registered_intents(
        &self,
        tx: &mut Transaction<'static, Any>,
        items: &[&ResultItem],
    ) -> CentralResult<HashMap<String, (String, String)>> {
        let mut ids: Vec<&str> = items
            .iter()
            .filter_map(|i| i.intent_id.as_ref().map(|i| i.as_str()))
            .collect();
        ids.sort_unstable();
        ids.dedup();
        let mut registered = HashMap::new();
        for chunk in ids.chunks(500) {
            let placeholders: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "SELECT intent_id, order_id, terminal_id FROM intents WHERE intent_id IN ({})",
                placeholders.join(", ")
            );
            let mut query = sqlx::query(&sql);
            for id in chunk {
                query = query.bind(*id);
            }
            for row in query.fetch_all(&mut **tx).await? {
                registered.insert(
                    row.try_get::<String, _>("intent_id")?,
                    (
                        row.try_get::<String, _>("order_id")?,
                        row.try_get::<String, _>("terminal_id")?,
                    ),
                );
            }
        }
        Ok(registered)
    }

    /// Applies one report whose order row (if the order exists) is locked by this transaction
    /// and mirrored in `row`, which is updated to match what was written; `stored` is what the
    /// inbox holds for its attempt, updated too. A report stored as rejected is decided again
    /// (its stored row is updated only while it is still rejected, so it applies once).
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn apply_one(
        &self,
        tx: &mut Transaction<'static, Any>,
        terminal: &TerminalId,
        item: &ResultItem,
        row: Option<&mut OrderRow>,
        facts: &mut BatchFacts<'_>,
        stored: &mut HashMap<String, Stored>,
        now: Timestamp,
    ) -> CentralResult<ItemReceipt> {
        let interim = is_interim(item);
        let key = item.attempt_id.to_string();
        let before = stored.get(&key).cloned().unwrap_or_default();
        let retry = before.slot(interim) == Some(ItemStatus::Rejected);
        let mut context = Context {
            settles_review: !interim && before.interim.is_some_and(|s| s != ItemStatus::Rejected),
            after_last: interim && before.last.is_some_and(|s| s != ItemStatus::Rejected),
            review_flagged: false,
            admission: Admission::Bound,
            verification: None,
        };
        if row
            .as_ref()
            .is_some_and(|r| r.order.status == OrderStatus::NeedsReview)
        {
            context.review_flagged = sqlx::query(
                "SELECT 1 AS one FROM flags WHERE order_id = $1 AND source <> 'unverified' LIMIT 1",
            )
            .bind(item.order_id.as_str())
            .fetch_optional(&mut **tx)
            .await?
            .is_some();
        }
        // The reason is stored with the result: why it was flagged, or why it was rejected.
        let (status, reason, source, change) = match &row {
            None => (
                ItemStatus::Rejected,
                Some(format!(
                    "order {} is unknown at the central: the result is applied when the order is imported",
                    item.order_id
                )),
                FLAG_SOURCE_RESULT,
                OrderChange::default(),
            ),
            Some(row) => {
                context.admission = self.admission(tx, terminal, item, now).await?;
                context.verification = verification(row, item, facts);
                let Decision {
                    status,
                    flag_reason,
                    flag_source,
                    change,
                } = decide(row, item, &context);
                (status, flag_reason, flag_source, change)
            }
        };
        // Rejected results and contradictions count against the terminal's hourly quota; over
        // it they are counted, not stored (M4). A success awaiting the gateway is not suspect.
        let suspect = status == ItemStatus::Rejected
            || (status == ItemStatus::Flagged && source == FLAG_SOURCE_RESULT);
        if suspect && !retry {
            if let Some(recent) = facts.suspect_recent.as_mut() {
                if *recent >= SUSPECT_RESULTS_PER_HOUR_MAX {
                    self.drop_over_quota(tx, terminal, now).await?;
                    return Ok(ItemReceipt {
                        attempt_id: item.attempt_id,
                        status: ItemStatus::Rejected,
                        reason: Some(format!(
                            "not stored: terminal {terminal} sent more than \
                             {SUSPECT_RESULTS_PER_HOUR_MAX} rejected or flagged results within \
                             an hour; a manager was told"
                        )),
                    });
                }
                *recent += 1;
            }
        }
        let written = if retry {
            sqlx::query(
                "UPDATE results SET status = $1, reason = $2, suspect = $5 \
                 WHERE attempt_id = $3 AND interim = $4 AND status = 'rejected'",
            )
            .bind(status.as_str())
            .bind(reason.clone())
            .bind(&key)
            .bind(i64::from(interim))
            .bind(i64::from(suspect))
            .execute(&mut **tx)
            .await?
        } else {
            sqlx::query(
                "INSERT INTO results (attempt_id, interim, order_id, attempt_number, claim_token, \
                 terminal_id, outcome, amount_minor, currency, intent_id, offline, occurred_at, \
                 received_at, status, reason, suspect) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) \
                 ON CONFLICT (attempt_id, interim) DO NOTHING",
            )
            .bind(&key)
            .bind(i64::from(interim))
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
            .bind(i64::from(suspect))
            .execute(&mut **tx)
            .await?
        };
        if written.rows_affected() == 0 {
            return Ok(ItemReceipt {
                attempt_id: item.attempt_id,
                status: ItemStatus::Duplicate,
                reason: None,
            });
        }
        stored.entry(key).or_default().set(interim, status);
        if status == ItemStatus::Flagged {
            self.flag(
                tx,
                Some(item.order_id.as_str()),
                source,
                reason.as_deref().unwrap_or(""),
                now,
            )
            .await?;
        }
        if let Some(row) = row {
            self.apply_change(tx, terminal, row, item, &change, now)
                .await?;
            row.mirror(&change);
            // Only an admitted result's intent, only if it is this order's, and (unless the
            // result was applied) only the sending terminal's own: a result never rewrites
            // another order's intent, nor another terminal's (C1).
            let admitted = matches!(status, ItemStatus::Applied | ItemStatus::Flagged)
                && matches!(context.admission, Admission::Bound | Admission::Granted);
            if let Some(intent) = item.intent_id.as_ref().filter(|i| {
                admitted
                    && facts.registered.get(i.as_str()).is_some_and(|(order, by)| {
                        order == item.order_id.as_str()
                            && (status == ItemStatus::Applied || by == terminal.as_str())
                    })
            }) {
                sqlx::query("UPDATE intents SET state = $1 WHERE intent_id = $2 AND order_id = $3")
                    .bind(item.outcome.as_str())
                    .bind(intent.as_str())
                    .bind(item.order_id.as_str())
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

    /// Applies, in the transaction that imports them, the reports stored as rejected for orders
    /// that did not exist then: through the same rules, oldest first, each once.
    pub(super) async fn apply_rejected_reports(
        &self,
        tx: &mut Transaction<'static, Any>,
        orders: &[&str],
        now: Timestamp,
    ) -> CentralResult<u32> {
        let mut applied = 0;
        for chunk in orders.chunks(500) {
            let placeholders: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "SELECT attempt_id, interim, order_id, attempt_number, claim_token, terminal_id, \
                 outcome, amount_minor, currency, intent_id, offline, occurred_at \
                 FROM results WHERE status = 'rejected' AND order_id IN ({}) \
                 ORDER BY order_id, occurred_at, attempt_id, interim DESC",
                placeholders.join(", ")
            );
            let mut query = sqlx::query(&sql);
            for id in chunk {
                query = query.bind(*id);
            }
            let mut reports = Vec::new();
            for r in query.fetch_all(&mut **tx).await? {
                let terminal =
                    TerminalId::new(r.try_get::<String, _>("terminal_id")?).map_err(corrupt)?;
                reports.push((terminal, stored_item(&r)?));
            }
            if reports.is_empty() {
                continue;
            }
            let items: Vec<ResultItem> = reports.iter().map(|(_, i)| i.clone()).collect();
            let mut stored = self.stored_reports(tx, &items).await?;
            let refs: Vec<&ResultItem> = items.iter().collect();
            let mut rows = self.lock_orders(tx, &refs).await?;
            let no_evidence = Evidence::new();
            let mut facts = BatchFacts {
                registered: self.registered_intents(tx, &refs).await?,
                evidence: &no_evidence,
                suspect_recent: None,
            };
            for (terminal, item) in &reports {
                let row = rows.get_mut(item.order_id.as_str());
                let receipt = self
                    .apply_one(tx, terminal, item, row, &mut facts, &mut stored, now)
                    .await?;
                if !matches!(receipt.status, ItemStatus::Duplicate | ItemStatus::Rejected) {
                    applied += 1;
                }
            }
        }
        Ok(applied)
    }

    async fn apply_change(
        &self,
        tx: &mut Transaction<'static, Any>,
        terminal: &TerminalId,
        row: &OrderRow,
        item: &ResultItem,
        change: &OrderChange,
        now: Timestamp,
    ) -> CentralResult<()> {
        let order_id = row.order.order_id.as_str();
        let release = change.release && row.holder_terminal.is_some();
        if let Some(intent) = &change.adopt_intent {
            // An intent no claim registered (an offline attempt's) becomes the order's open
            // intent: recorded like a registration, so a later claimant's takeover finds it and
            // may replace it once it is settled.
            sqlx::query(
                "INSERT INTO intents (intent_id, order_id, claim_token, attempt_number, \
                 terminal_id, registered_at, state) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                 ON CONFLICT (intent_id) DO NOTHING",
            )
            .bind(intent.as_str())
            .bind(order_id)
            .bind(row.claim_token)
            .bind(i64::from(item.attempt_number.get()))
            .bind(terminal.as_str())
            .bind(now.unix_ms())
            .bind(item.outcome.as_str())
            .execute(&mut **tx)
            .await?;
        }
        if change.new_status.is_none()
            && !change.clear_open_intent
            && !release
            && change.adopt_intent.is_none()
            && change.attempt_seq.is_none()
        {
            return Ok(());
        }
        // One UPDATE for every part of the change. The order row is locked by this transaction
        // (FOR UPDATE on PostgreSQL, the single connection on SQLite), so the token `decide`
        // saw is still the current one.
        sqlx::query(
            "UPDATE orders SET status = COALESCE($1, status), \
             paid_intent_id = COALESCE($2, paid_intent_id), \
             verified_by = CASE WHEN $2 IS NULL THEN verified_by ELSE 'gateway' END, \
             open_intent_id = CASE WHEN $3 = 1 THEN NULL ELSE COALESCE($7, open_intent_id) END, \
             holder_operator = CASE WHEN $4 = 1 THEN NULL ELSE holder_operator END, \
             holder_terminal = CASE WHEN $4 = 1 THEN NULL ELSE holder_terminal END, \
             claimed_at = CASE WHEN $4 = 1 THEN NULL ELSE claimed_at END, \
             lease_until = CASE WHEN $4 = 1 THEN NULL ELSE lease_until END, \
             ended_at = CASE WHEN $4 = 1 THEN $5 ELSE ended_at END, \
             attempt_seq = CASE WHEN $8 > attempt_seq THEN $8 ELSE attempt_seq END, \
             updated_at = $5 \
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
        .bind(change.adopt_intent.as_ref().map(|i| i.as_str().to_string()))
        .bind(change.attempt_seq.unwrap_or(0))
        .execute(&mut **tx)
        .await?;
        if release {
            audit(tx, order_id, AuditEvent::Result, now).await?;
        }
        if change.paid_intent_id.is_some() {
            self.refresh_refunded(tx, order_id, now).await?;
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

/// What the inbox holds for one attempt: the status of its interim report (`needs_review`) and
/// of its last report (any other outcome), if stored.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Stored {
    pub(super) interim: Option<ItemStatus>,
    pub(super) last: Option<ItemStatus>,
}

impl Stored {
    fn slot(&self, interim: bool) -> Option<ItemStatus> {
        if interim {
            self.interim
        } else {
            self.last
        }
    }

    fn set(&mut self, interim: bool, status: ItemStatus) {
        if interim {
            self.interim = Some(status);
        } else {
            self.last = Some(status);
        }
    }
}

/// An attempt's interim report: it went to review, and its final result may follow.
fn is_interim(item: &ResultItem) -> bool {
    item.outcome == ResultOutcome::NeedsReview
}

/// Whether this report was already applied (a rejected one is decided again).
fn is_duplicate(stored: &HashMap<String, Stored>, item: &ResultItem) -> bool {
    stored
        .get(&item.attempt_id.to_string())
        .and_then(|s| s.slot(is_interim(item)))
        .is_some_and(|s| s != ItemStatus::Rejected)
}

/// A stored report, read back as the item a terminal sent.
fn stored_item(r: &AnyRow) -> CentralResult<ResultItem> {
    let outcome: String = r.try_get("outcome")?;
    let currency = Currency::from_code(&r.try_get::<String, _>("currency")?).map_err(corrupt)?;
    let intent: Option<String> = r.try_get("intent_id")?;
    Ok(ResultItem {
        attempt_id: AttemptId::parse(&r.try_get::<String, _>("attempt_id")?).map_err(corrupt)?,
        order_id: OrderId::new(r.try_get::<String, _>("order_id")?).map_err(corrupt)?,
        attempt_number: attempt_number(r.try_get("attempt_number")?)?,
        claim_token: claim_token(r.try_get("claim_token")?)?,
        outcome: ResultOutcome::parse(&outcome)
            .ok_or_else(|| corrupt(format!("outcome {outcome}")))?,
        amount: Money::new(r.try_get("amount_minor")?, currency).map_err(corrupt)?,
        intent_id: intent
            .map(GatewayIntentId::new)
            .transpose()
            .map_err(corrupt)?,
        offline: r.try_get::<i64, _>("offline")? != 0,
        occurred_at: Timestamp::from_unix_ms(r.try_get("occurred_at")?),
    })
}

/// What the gateway's evidence says about `item`'s success for its order, or `None` for any other
/// outcome or a success naming no intent. An intent registered for another order is a mismatch
/// whatever the gateway says; an online success must name the intent registered for its order
/// (one that is not registered waits for the sweeper's check).
fn verification(row: &OrderRow, item: &ResultItem, facts: &BatchFacts<'_>) -> Option<Verification> {
    if item.outcome != ResultOutcome::Succeeded {
        return None;
    }
    let intent = item.intent_id.as_ref()?;
    let order = row.order.order_id.as_str();
    Some(
        match facts.registered.get(intent.as_str()).map(|(o, _)| o) {
            Some(owner) if owner != order => Verification::Mismatch(format!(
                "intent {intent} is registered for order {owner}, not {order}"
            )),
            None if !item.offline => Verification::Unverified(format!(
                "intent {intent} is not registered for order {order}"
            )),
            _ => match facts.evidence.get(intent.as_str()) {
                Some(evidence) => verify_success(intent, evidence, (&row.order).into()),
                None => Verification::Unverified("it was not read at the gateway".into()),
            },
        },
    )
}

//! The results inbox: a batch of results and the terminal's journal head applied in one
//! transaction, each result effective once (its attempt id is the key), contradictions flagged.
//!
//! Deliberately absent: deciding what a result means for its order; that is the pure `decide` in
//! `inbox_rules.rs`. This file locks, reads and writes.

use std::collections::{HashMap, HashSet};

use paydesk_core::{AttemptId, Currency, GatewayIntentId, Money, OrderId, TerminalId, Timestamp};
use paydesk_protocol::{
    ItemReceipt, ItemStatus, JournalHead, OrderStatus, ResultBatchResponse, ResultItem,
    ResultOutcome,
};
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use super::inbox_rules::{
    decide, Admission, Context, Decision, OrderChange, FLAG_SOURCE_RESULT, FLAG_SOURCE_UNVERIFIED,
};
use super::inbox_trust::{refused_batch, Evidence, Refusal, SUSPECT_RESULTS_PER_HOUR_MAX};
use super::{
    attempt_number, claim_token, corrupt, order_from_row, OrderRow, Store, ORDER_COLUMNS,
    TX_RETRIES_MAX,
};
use crate::error::{CentralError, CentralResult};
use crate::sweeper::{verify_success, IntentLookup, Verification};

mod flags;

pub use flags::FlagFilter;

mod head;
mod rowset;
mod writes;

use writes::Writes;

/// Results of an order shown in its detail at most (the newest): a terminal must not be able to
/// grow one order's page without bound (M4).
pub const ORDER_RESULTS_MAX: i64 = 200;
/// Flags per page of `/v1/flags` by default and at most.
pub const FLAG_PAGE_ROWS_DEFAULT: u32 = 100;
pub const FLAG_PAGE_ROWS_MAX: u32 = 1000;

/// The reports of a batch the inbox applied already, and the claims they prove.
#[derive(Debug, Default)]
struct Applied {
    /// (attempt id, interim).
    reports: HashSet<(String, bool)>,
    /// (order, claim token) of the sending terminal's online ones.
    claims: HashSet<(String, i64)>,
}

/// The answer to a result refused outright: not stored, no flag, no quota, no effect.
fn refused_receipt(item: &ResultItem, refusal: &Refusal) -> ItemReceipt {
    ItemReceipt {
        attempt_id: item.attempt_id,
        status: ItemStatus::Rejected,
        reason: Some(format!("{}: not stored", refusal.reason)),
    }
}

/// What one batch knows besides its items: the intents registered for its orders (intent id →
/// (order id, registering terminal)), the gateway's evidence read before the transaction, and the
/// sending terminal's suspect results in the quota window so far ([`Quota`]).
pub(super) struct BatchFacts<'a> {
    registered: HashMap<String, (String, String)>,
    /// The claims of the batch's orders with online results, as the claim audit shows them
    /// granted: (terminal, order, claim token).
    claimed: HashSet<(String, String, i64)>,
    /// The batch's orders held for review that carry a flag other than `unverified` (one a person
    /// must look at), including those this batch raised so far.
    flagged: HashSet<String>,
    /// The intents counted as successes of the batch's orders (issue 12), kept up to date as
    /// the batch counts more: a success is counted once whoever reports it.
    counted: HashSet<String>,
    evidence: &'a Evidence,
    quota: Quota,
}

/// The sending terminal's suspect results in the quota window (M4), as far as a batch needs it.
#[derive(Debug, Clone, Copy)]
enum Quota {
    /// No quota applies (re-deciding stored reports on import).
    Off,
    /// Not read yet: read when the batch's first suspect result needs it, so a batch with none
    /// (the usual one) costs no count.
    Unread,
    /// The count so far, this batch's suspect results included.
    Counted(i64),
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
        // What the inbox already holds of this batch, read once: a report applied is final
        // forever, so it is a duplicate whatever happens meanwhile.
        let applied = self.applied_reports(terminal, items).await?;
        // What no honest terminal sends is not stored at all; a batch of nothing else is refused
        // whole, before anything (the journal head included) is written.
        let refused = self
            .structural_refusals(terminal, items, &applied.claims)
            .await?;
        if !items.is_empty() && refused.iter().all(Option::is_some) {
            return Err(refused_batch(items, &refused));
        }
        let is_applied = |item: &ResultItem| {
            applied
                .reports
                .contains(&(item.attempt_id.to_string(), is_interim(item)))
        };
        if items
            .iter()
            .zip(&refused)
            .all(|(i, r)| r.is_some() || is_applied(i))
        {
            // A replay: every admitted report is a duplicate. No order is locked or read; only
            // the journal head is recorded.
            let mut tx = self.pool.begin().await?;
            let journal = self.record_head(&mut tx, terminal, head, now).await?;
            tx.commit().await?;
            let items = items
                .iter()
                .zip(&refused)
                .map(|(item, refusal)| match refusal {
                    Some(refusal) => refused_receipt(item, refusal),
                    None => ItemReceipt {
                        attempt_id: item.attempt_id,
                        status: ItemStatus::Duplicate,
                        reason: None,
                    },
                })
                .collect();
            return Ok(ResultBatchResponse { items, journal });
        }
        // The gateway is asked only about reports not applied yet.
        let admitted: Vec<ResultItem> = items
            .iter()
            .zip(&refused)
            .filter(|(i, r)| r.is_none() && !is_applied(i))
            .map(|(i, _)| i.clone())
            .collect();
        let evidence = self.gateway_evidence(terminal, &admitted, gateway).await?;
        let mut attempt = 0;
        loop {
            match self
                .apply_results_once(terminal, head, items, &refused, &evidence, now)
                .await
            {
                Ok(Some(answer)) => return Ok(answer),
                // A concurrent batch stored one of these results after this one read the inbox:
                // rolled back; decided again, it finds that result stored (a duplicate).
                Ok(None) if attempt < TX_RETRIES_MAX => attempt += 1,
                Ok(None) => {
                    return Err(CentralError::Unavailable(
                        "the results inbox is busy with the same results: send them again",
                    ))
                }
                Err(e) if e.is_retryable() && attempt < TX_RETRIES_MAX => attempt += 1,
                Err(e) => return Err(e),
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
    ) -> CentralResult<Option<ResultBatchResponse>> {
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
        // The claims of the online ones were checked against the claim audit before the
        // transaction (`structural_refusals`); the audit's `claimed` rows are never removed, so
        // that check is still true and every online item here is bound to its claim.
        let proven = fresh
            .iter()
            .filter(|i| !i.offline)
            .map(|i| {
                (
                    terminal.as_str().to_string(),
                    i.order_id.as_str().to_string(),
                    i.claim_token.get() as i64,
                )
            })
            .collect();
        let mut facts = self
            .batch_facts(&mut tx, &fresh, &rows, evidence, Some(proven))
            .await?;
        if !fresh.is_empty() {
            facts.quota = Quota::Unread;
        }
        let mut writes = Writes::default();
        for i in order {
            let item = &items[i];
            let receipt = if let Some(refusal) = &refused[i] {
                refused_receipt(item, refusal)
            } else if is_duplicate(&stored, item) {
                ItemReceipt {
                    attempt_id: item.attempt_id,
                    status: ItemStatus::Duplicate,
                    reason: None,
                }
            } else {
                let row = rows.get_mut(item.order_id.as_str());
                match self
                    .apply_one(
                        &mut tx,
                        terminal,
                        item,
                        row,
                        &mut facts,
                        &mut stored,
                        &mut writes,
                        now,
                    )
                    .await?
                {
                    Some(receipt) => receipt,
                    None => return Ok(None),
                }
            };
            receipts[i] = Some(receipt);
        }
        if !writes.finish(&mut tx, now).await? {
            return Ok(None);
        }
        let journal = self.record_head(&mut tx, terminal, head, now).await?;
        tx.commit().await?;
        Ok(Some(ResultBatchResponse {
            items: receipts.into_iter().flatten().collect(),
            journal,
        }))
    }

    /// What a batch knows besides its items, read in its transaction once its orders are locked
    /// (`rows`): the intents registered for them, which claims of them were granted to which
    /// terminal (unless already `claimed`), and which of them carry a flag a person must look at (read once here, then
    /// kept up to date as the batch raises flags). No quota is set.
    pub(super) async fn batch_facts<'a>(
        &self,
        tx: &mut Transaction<'static, Any>,
        items: &[&ResultItem],
        rows: &HashMap<String, OrderRow>,
        evidence: &'a Evidence,
        claimed: Option<HashSet<(String, String, i64)>>,
    ) -> CentralResult<BatchFacts<'a>> {
        let online: Vec<&str> = items
            .iter()
            .filter(|i| !i.offline)
            .map(|i| i.order_id.as_str())
            .collect();
        // Every locked order, not only those in review now: an item may put one in review.
        let mut locked: Vec<&str> = rows.keys().map(String::as_str).collect();
        locked.sort_unstable();
        let mut flagged = HashSet::new();
        for chunk in locked.chunks(500) {
            let placeholders: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "SELECT DISTINCT order_id FROM flags WHERE source <> 'unverified' \
                 AND order_id IN ({})",
                placeholders.join(", ")
            );
            let mut query = sqlx::query(&sql);
            for id in chunk {
                query = query.bind(*id);
            }
            for row in query.fetch_all(&mut **tx).await? {
                flagged.insert(row.try_get::<String, _>("order_id")?);
            }
        }
        Ok(BatchFacts {
            registered: self.registered_intents(tx, items).await?,
            claimed: match claimed {
                Some(claimed) => claimed,
                None => self.granted_claims(tx, &online).await?,
            },
            flagged,
            counted: self.counted_intents(tx, &locked).await?,
            evidence,
            quota: Quota::Off,
        })
    }

    /// The reports of `items` the inbox applied already (stored, not rejected), as (attempt id,
    /// interim), and the claims those of them that `terminal` sent online were made under (which
    /// the claim audit therefore shows granted to it), as (order, claim token); read outside any
    /// transaction, one statement per 500 attempts.
    async fn applied_reports(
        &self,
        terminal: &TerminalId,
        items: &[ResultItem],
    ) -> CentralResult<Applied> {
        let mut applied = Applied::default();
        let mut ids: Vec<String> = items.iter().map(|i| i.attempt_id.to_string()).collect();
        ids.sort_unstable();
        ids.dedup();
        for chunk in ids.chunks(500) {
            let placeholders: Vec<String> = (2..chunk.len() + 2).map(|i| format!("${i}")).collect();
            let sql = format!(
                "SELECT attempt_id, interim, order_id, claim_token, offline, \
                 CASE WHEN terminal_id = $1 THEN 1 ELSE 0 END AS own FROM results \
                 WHERE status <> 'rejected' AND attempt_id IN ({})",
                placeholders.join(", ")
            );
            let mut query = sqlx::query(&sql).bind(terminal.as_str());
            for id in chunk {
                query = query.bind(id.as_str());
            }
            for row in query.fetch_all(&self.pool).await? {
                applied.reports.insert((
                    row.try_get::<String, _>("attempt_id")?,
                    row.try_get::<i64, _>("interim")? != 0,
                ));
                if row.try_get::<i64, _>("own")? == 1 && row.try_get::<i64, _>("offline")? == 0 {
                    applied.claims.insert((
                        row.try_get::<String, _>("order_id")?,
                        row.try_get::<i64, _>("claim_token")?,
                    ));
                }
            }
        }
        Ok(applied)
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

    /// Decides one report whose order row (if the order exists) is locked by this transaction
    /// and mirrored in `row`, which is updated to match what the decision changes; `stored` is
    /// what the inbox holds for its attempt, updated too. What it writes is added to `writes`,
    /// made later in set-based statements; what a later read of this batch depends on is
    /// written first (`writes` is flushed before an offline result's grant is checked, whose caps
    /// count the results stored so far, and before a report stored as rejected is decided
    /// again: its stored row is updated at once, only while it is still rejected, so it applies
    /// once). `None`: a concurrent batch stored one of this batch's results first; the caller
    /// rolls back and starts again.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn apply_one(
        &self,
        tx: &mut Transaction<'static, Any>,
        terminal: &TerminalId,
        item: &ResultItem,
        row: Option<&mut OrderRow>,
        facts: &mut BatchFacts<'_>,
        stored: &mut HashMap<String, Stored>,
        writes: &mut Writes,
        now: Timestamp,
    ) -> CentralResult<Option<ItemReceipt>> {
        let interim = is_interim(item);
        let key = item.attempt_id.to_string();
        let before = stored.get(&key).cloned().unwrap_or_default();
        let retry = before.slot(interim) == Some(ItemStatus::Rejected);
        let mut context = Context {
            settles_review: !interim && before.interim.is_some_and(|s| s != ItemStatus::Rejected),
            after_last: interim && before.last.is_some_and(|s| s != ItemStatus::Rejected),
            review_flagged: row.as_ref().is_some_and(|r| {
                r.order.status == OrderStatus::NeedsReview
                    && facts.flagged.contains(item.order_id.as_str())
            }),
            admission: Admission::Bound,
            verification: None,
            counted: item
                .intent_id
                .as_ref()
                .is_some_and(|i| facts.counted.contains(i.as_str())),
        };
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
                context.admission = if item.offline {
                    if !writes.flush(tx, now).await? {
                        return Ok(None);
                    }
                    self.admission(tx, terminal, item, now).await?
                } else {
                    online_admission(terminal, item, facts)
                };
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
            if matches!(facts.quota, Quota::Unread) {
                // Read before this result is written: only the results stored before the batch
                // and those its retries re-decided (as they now stand) are counted.
                facts.quota = Quota::Counted(self.suspect_recent(tx, terminal, now).await?);
            }
            if let Quota::Counted(recent) = &mut facts.quota {
                if *recent >= SUSPECT_RESULTS_PER_HOUR_MAX {
                    self.drop_over_quota(tx, terminal, now).await?;
                    return Ok(Some(ItemReceipt {
                        attempt_id: item.attempt_id,
                        status: ItemStatus::Rejected,
                        reason: Some(format!(
                            "not stored: terminal {terminal} sent more than \
                             {SUSPECT_RESULTS_PER_HOUR_MAX} rejected or flagged results within \
                             an hour; a manager was told"
                        )),
                    }));
                }
                *recent += 1;
            }
        }
        if retry {
            if !writes.flush(tx, now).await? {
                return Ok(None);
            }
            let written = sqlx::query(
                "UPDATE results SET status = $1, reason = $2, suspect = $5 \
                 WHERE attempt_id = $3 AND interim = $4 AND status = 'rejected'",
            )
            .bind(status.as_str())
            .bind(reason.clone())
            .bind(&key)
            .bind(i64::from(interim))
            .bind(i64::from(suspect))
            .execute(&mut **tx)
            .await?;
            if written.rows_affected() == 0 {
                return Ok(Some(ItemReceipt {
                    attempt_id: item.attempt_id,
                    status: ItemStatus::Duplicate,
                    reason: None,
                }));
            }
        } else {
            writes.result(terminal, item, interim, status, reason.clone(), suspect);
        }
        stored.entry(key).or_default().set(interim, status);
        if status == ItemStatus::Flagged {
            writes.flag(
                Some(item.order_id.as_str()),
                source,
                reason.as_deref().unwrap_or(""),
            );
            if source != FLAG_SOURCE_UNVERIFIED {
                facts.flagged.insert(item.order_id.as_str().to_string());
            }
        }
        if let Some(payment) = &change.payment {
            facts.counted.insert(payment.intent_id.clone());
        }
        if let Some(row) = row {
            if let Some(intent) = &change.adopt_intent {
                // An intent no claim registered (an offline attempt's) becomes the order's open
                // intent: recorded like a registration, so a later claimant's takeover finds it
                // and may replace it once it is settled.
                sqlx::query(
                    "INSERT INTO intents (intent_id, order_id, claim_token, attempt_number, \
                     terminal_id, registered_at, state) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                     ON CONFLICT (intent_id) DO NOTHING",
                )
                .bind(intent.as_str())
                .bind(row.order.order_id.as_str())
                .bind(row.claim_token)
                .bind(i64::from(item.attempt_number.get()))
                .bind(terminal.as_str())
                .bind(now.unix_ms())
                .bind(item.outcome.as_str())
                .execute(&mut **tx)
                .await?;
            }
            let released = change.release && row.holder_terminal.is_some();
            row.mirror(&change);
            writes.order_change(row, &change, released);
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
                writes.intent_state(
                    intent.as_str(),
                    item.order_id.as_str(),
                    item.outcome.as_str(),
                );
            }
        }
        Ok(Some(ItemReceipt {
            attempt_id: item.attempt_id,
            status,
            reason,
        }))
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
                 outcome, amount_minor, currency, intent_id, offline, occurred_at, installment \
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
            let mut facts = self
                .batch_facts(tx, &refs, &rows, &no_evidence, None)
                .await?;
            let mut writes = Writes::default();
            for (terminal, item) in &reports {
                let row = rows.get_mut(item.order_id.as_str());
                let receipt = self
                    .apply_one(
                        tx,
                        terminal,
                        item,
                        row,
                        &mut facts,
                        &mut stored,
                        &mut writes,
                        now,
                    )
                    .await?
                    .ok_or(CentralError::Unavailable(
                        "stored results changed while they were decided again: import again",
                    ))?;
                if !matches!(receipt.status, ItemStatus::Duplicate | ItemStatus::Rejected) {
                    applied += 1;
                }
            }
            if !writes.finish(tx, now).await? {
                return Err(CentralError::Unavailable(
                    "stored results changed while they were decided again: import again",
                ));
            }
        }
        Ok(applied)
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
        installment: super::orders::installment(r.try_get("installment")?)?,
    })
}

/// Whether an online `item` may speak for its order: only under a claim the claim audit shows
/// was granted to `terminal` (read for the whole batch in `facts`).
fn online_admission(terminal: &TerminalId, item: &ResultItem, facts: &BatchFacts<'_>) -> Admission {
    let token = item.claim_token.get();
    let key = (
        terminal.as_str().to_string(),
        item.order_id.as_str().to_string(),
        token as i64,
    );
    if facts.claimed.contains(&key) {
        Admission::Bound
    } else {
        Admission::Unbound(format!(
            "claim token {token} of order {} was never granted to terminal {terminal}: \
             not applied",
            item.order_id
        ))
    }
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
                // An installment's intent charged the result's amount, not the order's (the
                // rules check that amount against the balance due).
                Some(evidence) => verify_success(
                    intent,
                    evidence,
                    crate::sweeper::Expected {
                        amount: item.amount,
                        ..(&row.order).into()
                    },
                ),
                None => Verification::Unverified("it was not read at the gateway".into()),
            },
        },
    )
}

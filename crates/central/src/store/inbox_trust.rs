//! What the results inbox checks before it believes a terminal (issue 10, review C1, H3, M4):
//! that an online result's claim was granted to the terminal that sends it, that an offline
//! result is covered by an offline grant the central issued to it, the gateway's evidence about
//! each success (read before the transaction), and the terminal's hourly quota of suspect results.
//!
//! Before all of that, the structural refusals: results no honest terminal ever sends (the engine
//! claims before it charges online, uses the offline claim token offline, and has an intent for
//! every success). Those are not stored at all.
//!
//! Deliberately absent: what a result then means for its order (`inbox_rules::decide`) and the
//! writes (`inbox.rs`).

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use futures_util::stream::{self, StreamExt};
use paydesk_core::{TerminalId, Timestamp};
use paydesk_protocol::{ResultItem, ResultOutcome};
use sqlx::{Any, Row, Transaction};

use super::inbox_rules::Admission;
use super::Store;
use crate::error::{CentralError, CentralResult};
use crate::sweeper::{IntentEvidence, IntentLookup};

/// The claim token every offline attempt carries (the engine's `OFFLINE_CLAIM_TOKEN`): no central
/// granted it, and it is above any token the central reaches, so it never matches a real claim.
pub const OFFLINE_CLAIM_TOKEN: u64 = i64::MAX as u64;
/// How far an offline result's time may lie outside its grant's window, in milliseconds: the
/// terminal's clock is not the central's. Two minutes covers an unsynchronised shop PC.
const GRANT_SLACK_MS: i64 = 120_000;
/// Gateway reads at once while a batch is verified: a slow gateway must not hold a connection
/// per success, nor be flooded by one terminal.
const LOOKUPS_CONCURRENT_MAX: usize = 4;
/// Gateway reads per batch at most; further successes wait in review for the sweeper, which
/// reads them one pass at a time. Bounds what one request can make the central ask the gateway.
const LOOKUPS_PER_BATCH_MAX: usize = 100;
/// Longest one gateway read may take before the success is left to the sweeper.
const LOOKUP_MS_MAX: u64 = 10_000;
/// Rejected or flagged results one terminal may have stored per hour (M4). A working terminal
/// sends a handful; beyond this they are counted in `result_drops`, not stored, and one flag says
/// so, so a flood cannot bury real contradictions or grow the database without bound.
pub const SUSPECT_RESULTS_PER_HOUR_MAX: i64 = 500;
/// The quota's window, in milliseconds.
pub(super) const QUOTA_WINDOW_MS: i64 = 3_600_000;

/// The gateway's answer for each intent a batch's successes name, by intent id.
pub(super) type Evidence = HashMap<String, Result<IntentEvidence, String>>;

/// Why one result of a batch is refused outright and not stored: `what` is a fixed phrase for
/// the log (no token, no value from the request), `reason` the words for the terminal.
#[derive(Debug, Clone)]
pub(super) struct Refusal {
    pub(super) what: &'static str,
    pub(super) reason: String,
}

/// The error that answers a batch every item of which is refused (`refused` holds one refusal
/// per item, all `Some`): the first one's reason, and that nothing was stored.
pub(super) fn refused_batch(items: &[ResultItem], refused: &[Option<Refusal>]) -> CentralError {
    let first = items
        .iter()
        .zip(refused)
        .enumerate()
        .find_map(|(i, (item, r))| r.as_ref().map(|r| (i, item, r)));
    let Some((i, item, refusal)) = first else {
        return CentralError::Refused("nothing in this batch was stored".into());
    };
    let more = match items.len() {
        1 => String::new(),
        n => format!(" (and the other {} results of the batch likewise)", n - 1),
    };
    CentralError::Refused(format!(
        "results[{i}] (order {}): {}{more}; nothing in this batch was stored: a terminal reports \
         a result only under a claim the central granted it (or, offline, under the offline \
         claim token), and a success names the payment intent it charged",
        item.order_id, refusal.reason
    ))
}

impl Store {
    /// The results of `items` no honest terminal sends, one entry per item (`None`: not
    /// refused): an online result under a claim (order, token) the claim audit shows was never
    /// granted to `terminal` (for an order the central does not know no claim can have been), an
    /// offline result without the offline claim token, a success naming no intent. A granted
    /// claim stays in the audit for good, so what this reads cannot change under the batch.
    ///
    /// `known` holds the claims already proven for this terminal: (order, claim token) of its
    /// online reports the inbox applied (stored and not rejected, so admitted then); the audit
    /// is read only for the others, so a replayed batch costs no read here.
    pub(super) async fn structural_refusals(
        &self,
        terminal: &TerminalId,
        items: &[ResultItem],
        known: &HashSet<(String, i64)>,
    ) -> CentralResult<Vec<Option<Refusal>>> {
        let mut orders: Vec<&str> = items
            .iter()
            .filter(|i| {
                !i.offline
                    && !known
                        .contains(&(i.order_id.as_str().to_string(), i.claim_token.get() as i64))
            })
            .map(|i| i.order_id.as_str())
            .collect();
        orders.sort_unstable();
        orders.dedup();
        let mut claimed: HashSet<(String, i64)> = known.clone();
        for chunk in orders.chunks(500) {
            let placeholders: Vec<String> = (2..chunk.len() + 2).map(|i| format!("${i}")).collect();
            let sql = format!(
                "SELECT DISTINCT order_id, claim_token FROM claim_audit \
                 WHERE terminal_id = $1 AND event = 'claimed' AND order_id IN ({})",
                placeholders.join(", ")
            );
            let mut query = sqlx::query(&sql).bind(terminal.as_str());
            for id in chunk {
                query = query.bind(*id);
            }
            for r in query.fetch_all(&self.pool).await? {
                claimed.insert((r.try_get("order_id")?, r.try_get("claim_token")?));
            }
        }
        let refusals = items
            .iter()
            .map(|item| {
                let token = item.claim_token.get();
                let order = item.order_id.as_str();
                if item.offline && token != OFFLINE_CLAIM_TOKEN {
                    Some(Refusal {
                        what: "an offline result without the offline claim token",
                        reason: format!(
                            "an offline result carries the offline claim token \
                             {OFFLINE_CLAIM_TOKEN}, not {token}"
                        ),
                    })
                } else if !item.offline && !claimed.contains(&(order.to_string(), token as i64)) {
                    Some(Refusal {
                        what: "a result under a claim never granted to this terminal",
                        reason: format!(
                            "claim token {token} of order {order} was never granted to terminal \
                             {terminal}"
                        ),
                    })
                } else if item.outcome == ResultOutcome::Succeeded && item.intent_id.is_none() {
                    Some(Refusal {
                        what: "a success naming no payment intent",
                        reason: format!(
                            "a success for order {order} names no payment intent (intent_id is \
                             null): no charge can stand behind it"
                        ),
                    })
                } else {
                    None
                }
            })
            .collect::<Vec<_>>();
        for (item, refusal) in items.iter().zip(&refusals) {
            if let Some(refusal) = refusal {
                tracing::warn!(
                    terminal = %terminal,
                    order = %item.order_id,
                    attempt = %item.attempt_id,
                    reason = refusal.what,
                    "a result no honest terminal sends was refused and not stored"
                );
            }
        }
        Ok(refusals)
    }

    /// Reads at the gateway, before the batch's transaction, the intents of the successes that
    /// could mark an order paid: from a terminal the claim (or an offline grant) admits, naming
    /// an intent not registered for another order, for an order not already paid by it. Bounded
    /// in number and concurrency; each answer (or why there is none) is keyed by intent id.
    pub(super) async fn gateway_evidence(
        &self,
        terminal: &TerminalId,
        items: &[ResultItem],
        gateway: Option<&dyn IntentLookup>,
    ) -> CentralResult<Evidence> {
        let successes: Vec<&ResultItem> = items
            .iter()
            .filter(|i| i.outcome == ResultOutcome::Succeeded && i.intent_id.is_some())
            .collect();
        if successes.is_empty() {
            return Ok(Evidence::new());
        }
        let orders: Vec<&str> = successes.iter().map(|i| i.order_id.as_str()).collect();
        let mut paid_by: HashMap<String, Option<String>> = HashMap::new();
        let mut claimed: HashSet<(String, i64)> = HashSet::new();
        for chunk in orders.chunks(500) {
            let list = |first: usize| -> String {
                (first..first + chunk.len())
                    .map(|i| format!("${i}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let sql = format!(
                "SELECT order_id, paid_intent_id FROM orders WHERE order_id IN ({})",
                list(1)
            );
            let mut query = sqlx::query(&sql);
            for id in chunk {
                query = query.bind(*id);
            }
            for r in query.fetch_all(&self.pool).await? {
                paid_by.insert(r.try_get("order_id")?, r.try_get("paid_intent_id")?);
            }
            let sql = format!(
                "SELECT DISTINCT order_id, claim_token FROM claim_audit \
                 WHERE terminal_id = $1 AND event = 'claimed' AND order_id IN ({})",
                list(2)
            );
            let mut query = sqlx::query(&sql).bind(terminal.as_str());
            for id in chunk {
                query = query.bind(*id);
            }
            for r in query.fetch_all(&self.pool).await? {
                claimed.insert((r.try_get("order_id")?, r.try_get("claim_token")?));
            }
        }
        let has_grant =
            sqlx::query("SELECT 1 AS one FROM offline_grants WHERE terminal_id = $1 LIMIT 1")
                .bind(terminal.as_str())
                .fetch_optional(&self.pool)
                .await?
                .is_some();
        let mut wanted: Vec<String> = Vec::new();
        for item in successes {
            let intent = item
                .intent_id
                .as_ref()
                .map(|i| i.as_str())
                .unwrap_or_default();
            let Some(paid) = paid_by.get(item.order_id.as_str()) else {
                continue;
            };
            let admitted = if item.offline {
                has_grant
            } else {
                claimed.contains(&(
                    item.order_id.as_str().to_string(),
                    item.claim_token.get() as i64,
                ))
            };
            if admitted && paid.as_deref() != Some(intent) && !wanted.iter().any(|w| w == intent) {
                wanted.push(intent.to_string());
            }
        }
        wanted.truncate(LOOKUPS_PER_BATCH_MAX);
        let Some(gateway) = gateway else {
            return Ok(wanted
                .into_iter()
                .map(|i| (i, Err("no gateway is configured to verify it".to_string())))
                .collect());
        };
        let answers: Vec<(String, Result<IntentEvidence, String>)> = stream::iter(wanted)
            .map(|intent| async move {
                let answer = match paydesk_core::GatewayIntentId::new(intent.as_str()) {
                    Err(e) => Err(e.to_string()),
                    Ok(id) => {
                        match tokio::time::timeout(
                            Duration::from_millis(LOOKUP_MS_MAX),
                            gateway.intent(&id),
                        )
                        .await
                        {
                            Ok(answer) => answer,
                            Err(_) => Err("the gateway did not answer in time".to_string()),
                        }
                    }
                };
                if let Err(e) = &answer {
                    tracing::warn!(intent = %intent, error = %e, "a reported success could not be read at the gateway");
                }
                (intent, answer)
            })
            .buffer_unordered(LOOKUPS_CONCURRENT_MAX)
            .collect()
            .await;
        Ok(answers.into_iter().collect())
    }

    /// The claims of `orders` the claim audit shows granted, as (terminal, order, claim token),
    /// read in `tx` in one statement per 500 orders: what [`Store::admission`] asks of one
    /// online result, for a whole batch.
    pub(super) async fn granted_claims(
        &self,
        tx: &mut Transaction<'static, Any>,
        orders: &[&str],
    ) -> CentralResult<HashSet<(String, String, i64)>> {
        let mut orders = orders.to_vec();
        orders.sort_unstable();
        orders.dedup();
        let mut claimed = HashSet::new();
        for chunk in orders.chunks(500) {
            let placeholders: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "SELECT DISTINCT terminal_id, order_id, claim_token FROM claim_audit \
                 WHERE event = 'claimed' AND order_id IN ({})",
                placeholders.join(", ")
            );
            let mut query = sqlx::query(&sql);
            for id in chunk {
                query = query.bind(*id);
            }
            for r in query.fetch_all(&mut **tx).await? {
                claimed.insert((
                    r.try_get("terminal_id")?,
                    r.try_get("order_id")?,
                    r.try_get("claim_token")?,
                ));
            }
        }
        Ok(claimed)
    }

    /// Whether `item` may speak for its order: an online result only under a claim the claim
    /// audit shows was granted to `terminal`; an offline one only under an offline grant the
    /// central issued to `terminal` whose window holds the result's time, in the grant's currency,
    /// within its per-charge cap and, with this terminal's other offline charges under it, its
    /// per-shift cap.
    pub(super) async fn admission(
        &self,
        tx: &mut Transaction<'static, Any>,
        terminal: &TerminalId,
        item: &ResultItem,
        now: Timestamp,
    ) -> CentralResult<Admission> {
        let token = item.claim_token.get();
        if !item.offline {
            let granted = sqlx::query(
                "SELECT 1 AS one FROM claim_audit WHERE order_id = $1 AND claim_token = $2 \
                 AND terminal_id = $3 AND event = 'claimed' LIMIT 1",
            )
            .bind(item.order_id.as_str())
            .bind(token as i64)
            .bind(terminal.as_str())
            .fetch_optional(&mut **tx)
            .await?
            .is_some();
            return Ok(if granted {
                Admission::Bound
            } else {
                Admission::Unbound(format!(
                    "claim token {token} of order {} was never granted to terminal {terminal}: \
                     not applied",
                    item.order_id
                ))
            });
        }
        if token != OFFLINE_CLAIM_TOKEN {
            return Ok(Admission::Unbound(format!(
                "an offline result carries the offline claim token {OFFLINE_CLAIM_TOKEN}, not \
                 {token}: not applied"
            )));
        }
        let at = item.occurred_at.unix_ms();
        if at > now.unix_ms().saturating_add(GRANT_SLACK_MS) {
            return Ok(Admission::NoGrant(format!(
                "offline result for order {} is dated in the future: not applied",
                item.order_id
            )));
        }
        let grants = sqlx::query(
            "SELECT grant_id, currency, per_charge_minor, per_shift_minor, granted_at, until_at \
             FROM offline_grants WHERE terminal_id = $1 AND granted_at <= $2 AND until_at >= $3 \
             ORDER BY granted_at",
        )
        .bind(terminal.as_str())
        .bind(at.saturating_add(GRANT_SLACK_MS))
        .bind(at.saturating_sub(GRANT_SLACK_MS))
        .fetch_all(&mut **tx)
        .await?;
        let mut why = format!(
            "no offline grant of terminal {terminal} covers this offline result for order {} \
             ({}): not applied",
            item.order_id, item.amount
        );
        let moves_money = matches!(
            item.outcome,
            ResultOutcome::Succeeded | ResultOutcome::NeedsReview
        );
        for grant in grants {
            let grant_id: String = grant.try_get("grant_id")?;
            let currency: String = grant.try_get("currency")?;
            let per_charge: i64 = grant.try_get("per_charge_minor")?;
            let per_shift: i64 = grant.try_get("per_shift_minor")?;
            if currency != item.amount.currency().code() {
                why = format!(
                    "offline result for order {} is in {}, offline grant {grant_id} in \
                     {currency}: not applied",
                    item.order_id,
                    item.amount.currency().code()
                );
                continue;
            }
            if item.amount.minor() > per_charge {
                why = format!(
                    "offline result for order {} of {} is over the per-charge cap of offline \
                     grant {grant_id} ({per_charge} minor units): not applied",
                    item.order_id, item.amount
                );
                continue;
            }
            if !moves_money {
                return Ok(Admission::Granted);
            }
            let so_far = self
                .offline_total(tx, terminal, item, &currency, &grant)
                .await?;
            if so_far.saturating_add(item.amount.minor()) > per_shift {
                why = format!(
                    "offline result for order {} of {} takes terminal {terminal}'s offline \
                     charges under grant {grant_id} to {} minor units, over its per-shift cap of \
                     {per_shift}: not applied",
                    item.order_id,
                    item.amount,
                    so_far.saturating_add(item.amount.minor())
                );
                continue;
            }
            return Ok(Admission::Granted);
        }
        Ok(Admission::NoGrant(why))
    }

    /// What `terminal` charged offline under one grant so far, other than `item`'s attempt: its
    /// stored offline successes and unknown outcomes in the grant's window (an attempt's interim
    /// and final report count once), those refused by the grant rules excluded.
    async fn offline_total(
        &self,
        tx: &mut Transaction<'static, Any>,
        terminal: &TerminalId,
        item: &ResultItem,
        currency: &str,
        grant: &sqlx::any::AnyRow,
    ) -> CentralResult<i64> {
        let granted_at: i64 = grant.try_get("granted_at")?;
        let until_at: i64 = grant.try_get("until_at")?;
        let rows = sqlx::query(
            "SELECT attempt_id, MAX(amount_minor) AS amount FROM results \
             WHERE terminal_id = $1 AND offline = 1 AND suspect = 0 AND status <> 'rejected' \
             AND currency = $2 AND occurred_at >= $3 AND occurred_at <= $4 \
             AND outcome IN ('succeeded', 'needs_review') AND attempt_id <> $5 \
             GROUP BY attempt_id",
        )
        .bind(terminal.as_str())
        .bind(currency)
        .bind(granted_at.saturating_sub(GRANT_SLACK_MS))
        .bind(until_at.saturating_add(GRANT_SLACK_MS))
        .bind(item.attempt_id.to_string())
        .fetch_all(&mut **tx)
        .await?;
        let mut total: i64 = 0;
        for r in rows {
            total = total.saturating_add(r.try_get::<i64, _>("amount")?);
        }
        Ok(total)
    }

    /// How many suspect results (rejected, or flagged as a contradiction) `terminal` had stored
    /// in the quota window before `now`.
    pub(super) async fn suspect_recent(
        &self,
        tx: &mut Transaction<'static, Any>,
        terminal: &TerminalId,
        now: Timestamp,
    ) -> CentralResult<i64> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM results WHERE terminal_id = $1 AND suspect = 1 \
             AND received_at > $2",
        )
        .bind(terminal.as_str())
        .bind(now.unix_ms().saturating_sub(QUOTA_WINDOW_MS))
        .fetch_one(&mut **tx)
        .await?;
        Ok(row.try_get("n")?)
    }

    /// Counts one suspect result `terminal` sent over its quota, not stored; the first of each
    /// window raises one flag that says so.
    pub(super) async fn drop_over_quota(
        &self,
        tx: &mut Transaction<'static, Any>,
        terminal: &TerminalId,
        now: Timestamp,
    ) -> CentralResult<()> {
        let window = now.unix_ms() - now.unix_ms().rem_euclid(QUOTA_WINDOW_MS);
        let first = sqlx::query(
            "INSERT INTO result_drops (terminal_id, window_start, dropped) VALUES ($1, $2, 1) \
             ON CONFLICT (terminal_id, window_start) DO NOTHING",
        )
        .bind(terminal.as_str())
        .bind(window)
        .execute(&mut **tx)
        .await?
        .rows_affected()
            == 1;
        if first {
            let reason = format!(
                "terminal {terminal} sent more than {SUSPECT_RESULTS_PER_HOUR_MAX} rejected or \
                 flagged results within an hour: further ones are counted in result_drops, not \
                 stored"
            );
            self.flag(tx, None, "quota", &reason, now).await?;
        } else {
            sqlx::query(
                "UPDATE result_drops SET dropped = dropped + 1 \
                 WHERE terminal_id = $1 AND window_start = $2",
            )
            .bind(terminal.as_str())
            .bind(window)
            .execute(&mut **tx)
            .await?;
        }
        Ok(())
    }
}

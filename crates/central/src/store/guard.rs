//! The duplicate guard's and the reattempt limits' storage (issue 12, items 3 and 5): the earlier
//! attempt that stands in the way of a claim, a recent payment of the same customer and amount on
//! another order, a card's declines across every operator and terminal, the declines' codes the
//! terminals report, and the guard's audit rows (`claim_guard_events`, migration 13).
//!
//! Deliberately absent: the rules (`paydesk_core::reattempt`) and the wording and HTTP
//! (`crate::claim_guard`).

use paydesk_core::reattempt::{CardNetwork, PastDecline, DAY_MS};
use paydesk_core::{
    AttemptNumber, Currency, GatewayIntentId, Money, OperatorId, OrderId, TerminalId, Timestamp,
};
use paydesk_protocol::guard::{DeclineReport, EarlierAttempt, GuardKind};
use paydesk_protocol::Order;
use sqlx::any::AnyRow;
use sqlx::Row;

use super::{corrupt, Store};
use crate::error::CentralResult;

/// Past declines read per card at most (far above any network's limit).
const DECLINES_READ_MAX: i64 = 500;
/// How far back declines are counted: the longest window of any network's rule.
const DECLINE_LOOKBACK_MS: i64 = 30 * DAY_MS;

/// One guard event to record.
#[derive(Debug, Clone)]
pub struct GuardEvent<'a> {
    pub order_id: &'a OrderId,
    /// `held`, `paid`, `outcome_unknown`, `similar_payment`, `reattempt_limit`, `do_not_retry`.
    pub kind: &'a str,
    /// `refused`, or `confirmed` (a similar payment the operator confirmed is not a duplicate).
    pub outcome: &'a str,
    pub operator_id: &'a OperatorId,
    pub terminal_id: &'a TerminalId,
    pub session_id: Option<&'a str>,
    pub earlier: Option<&'a EarlierAttempt>,
    pub amount: Option<Money>,
    pub detail: &'a str,
    pub at: Timestamp,
}

/// A card as the guard sees it: its declines and its network.
#[derive(Debug, Clone)]
pub struct CardHistory {
    pub network: CardNetwork,
    pub declines: Vec<PastDecline>,
}

/// The SELECT of a result with the operator of the claim it came under.
const RESULT_WITH_OPERATOR: &str = "SELECT r.order_id, r.attempt_number, r.terminal_id, \
     r.occurred_at, r.intent_id, r.amount_minor, r.currency, r.outcome, a.operator_id \
     FROM results r LEFT JOIN claim_audit a ON a.order_id = r.order_id \
     AND a.claim_token = r.claim_token AND a.event = 'claimed'";

fn earlier_from_row(kind: GuardKind, r: &AnyRow) -> CentralResult<EarlierAttempt> {
    let operator: Option<String> = r.try_get("operator_id")?;
    let terminal: String = r.try_get("terminal_id")?;
    let intent: Option<String> = r.try_get("intent_id")?;
    let currency = Currency::from_code(&r.try_get::<String, _>("currency")?).map_err(corrupt)?;
    let attempt: i64 = r.try_get("attempt_number")?;
    Ok(EarlierAttempt {
        kind,
        order_id: OrderId::new(r.try_get::<String, _>("order_id")?).map_err(corrupt)?,
        operator_id: operator
            .filter(|o| !o.is_empty())
            .and_then(|o| OperatorId::new(o).ok()),
        terminal_id: TerminalId::new(terminal).ok(),
        at: Timestamp::from_unix_ms(r.try_get("occurred_at")?),
        attempt_number: u32::try_from(attempt)
            .ok()
            .and_then(|a| AttemptNumber::new(a).ok()),
        intent_id: intent.and_then(|i| GatewayIntentId::new(i).ok()),
        amount: Money::new(r.try_get("amount_minor")?, currency).ok(),
        status: r.try_get("outcome")?,
    })
}

impl Store {
    /// The order as the guard reads it before a claim (`None`: no such order).
    pub async fn guard_order(&self, order_id: &OrderId) -> CentralResult<Option<GuardOrder>> {
        Ok(self.order_row(order_id).await?.map(|r| GuardOrder {
            open_intent_id: r.open_intent_id.clone(),
            attempt_seq: r.attempt_seq,
            lease_until: r.lease_until,
            order: r.order,
        }))
    }

    /// The newest result of `order_id` with one of `outcomes`, with who reported it.
    pub async fn latest_result(
        &self,
        order_id: &OrderId,
        kind: GuardKind,
        outcomes: &[&str],
    ) -> CentralResult<Option<EarlierAttempt>> {
        let list = outcomes
            .iter()
            .map(|o| format!("'{o}'"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "{RESULT_WITH_OPERATOR} WHERE r.order_id = $1 AND r.outcome IN ({list}) \
             ORDER BY r.occurred_at DESC, r.received_at DESC LIMIT 1"
        );
        let row = sqlx::query(&sql)
            .bind(order_id.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| earlier_from_row(kind, &r)).transpose()
    }

    /// A success of the same customer and amount on another order since `since` (the newest),
    /// as the central applied it (a flagged success is a manager's review, not a payment yet).
    pub async fn similar_payment(
        &self,
        order: &Order,
        since: Timestamp,
    ) -> CentralResult<Option<EarlierAttempt>> {
        if order.customer_id.is_empty() {
            return Ok(None);
        }
        let sql = format!(
            "{RESULT_WITH_OPERATOR} JOIN orders o ON o.order_id = r.order_id \
             WHERE o.customer_id = $1 AND r.amount_minor = $2 AND r.currency = $3 \
             AND r.outcome = 'succeeded' AND r.status = 'applied' AND r.order_id <> $4 \
             AND r.occurred_at > $5 ORDER BY r.occurred_at DESC LIMIT 1"
        );
        let currency = order.amount.currency().code().to_string();
        let row = sqlx::query(&sql)
            .bind(order.customer_id.as_str())
            .bind(order.amount.minor())
            .bind(currency)
            .bind(order.order_id.as_str())
            .bind(since.unix_ms())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| earlier_from_row(GuardKind::SimilarPayment, &r))
            .transpose()
    }

    /// The card's declines across every order, operator and terminal: the declined results of
    /// the last 30 days and every reported decline's codes (a do-not-retry code counts forever).
    pub async fn card_history(
        &self,
        payment_method_id: &str,
        now: Timestamp,
    ) -> CentralResult<CardHistory> {
        let since = now.plus_ms(-DECLINE_LOOKBACK_MS).unix_ms();
        let results = sqlx::query(
            "SELECT r.attempt_id, r.occurred_at FROM results r \
             JOIN orders o ON o.order_id = r.order_id \
             WHERE o.payment_method_id = $1 AND r.outcome = 'declined' AND r.occurred_at > $2 \
             ORDER BY r.occurred_at DESC LIMIT $3",
        )
        .bind(payment_method_id)
        .bind(since)
        .bind(DECLINES_READ_MAX)
        .fetch_all(&self.pool)
        .await?;
        let reported = sqlx::query(
            "SELECT attempt_id, occurred_at, decline_code, advice_code, network \
             FROM card_declines WHERE payment_method_id = $1 \
             ORDER BY occurred_at DESC LIMIT $2",
        )
        .bind(payment_method_id)
        .bind(DECLINES_READ_MAX)
        .fetch_all(&self.pool)
        .await?;
        let mut by_attempt: std::collections::BTreeMap<String, PastDecline> = Default::default();
        for r in &results {
            by_attempt.insert(
                r.try_get("attempt_id")?,
                PastDecline {
                    at: Timestamp::from_unix_ms(r.try_get("occurred_at")?),
                    decline_code: None,
                    advice_code: None,
                },
            );
        }
        let mut network = None;
        for r in &reported {
            let brand: String = r.try_get("network")?;
            if network.is_none() && brand != CardNetwork::Unknown.as_str() {
                network = Some(CardNetwork::from_brand(&brand));
            }
            by_attempt.insert(
                r.try_get("attempt_id")?,
                PastDecline {
                    at: Timestamp::from_unix_ms(r.try_get("occurred_at")?),
                    decline_code: r.try_get("decline_code")?,
                    advice_code: r.try_get("advice_code")?,
                },
            );
        }
        Ok(CardHistory {
            network: network.unwrap_or_else(|| network_of_payment_method(payment_method_id)),
            declines: by_attempt.into_values().collect(),
        })
    }

    /// Records a decline's codes once per attempt; `false` when the attempt was reported before.
    pub async fn record_decline(
        &self,
        order: &Order,
        report: &DeclineReport,
        terminal: &TerminalId,
        now: Timestamp,
    ) -> CentralResult<bool> {
        let network = report
            .card_brand
            .as_deref()
            .map(CardNetwork::from_brand)
            .filter(|n| *n != CardNetwork::Unknown)
            .unwrap_or_else(|| network_of_payment_method(&order.payment_method_id));
        let done = sqlx::query(
            "INSERT INTO card_declines (attempt_id, order_id, payment_method_id, network, \
             decline_code, advice_code, intent_id, terminal_id, occurred_at, received_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (attempt_id) DO NOTHING",
        )
        .bind(report.attempt_id.to_string())
        .bind(order.order_id.as_str())
        .bind(order.payment_method_id.as_str())
        .bind(network.as_str())
        .bind(report.decline_code.as_deref())
        .bind(report.advice_code.as_deref())
        .bind(report.intent_id.as_ref().map(|i| i.as_str()))
        .bind(terminal.as_str())
        .bind(report.occurred_at.unix_ms())
        .bind(now.unix_ms())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Writes one guard event (the audit log lists it as `guard_<kind>`).
    pub async fn record_guard_event(&self, e: &GuardEvent<'_>) -> CentralResult<()> {
        sqlx::query(
            "INSERT INTO claim_guard_events (order_id, kind, outcome, operator_id, terminal_id, \
             session_id, earlier_order_id, earlier_intent_id, amount_minor, currency, detail, at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(e.order_id.as_str())
        .bind(e.kind)
        .bind(e.outcome)
        .bind(e.operator_id.as_str())
        .bind(e.terminal_id.as_str())
        .bind(e.session_id)
        .bind(e.earlier.map(|x| x.order_id.as_str().to_string()))
        .bind(
            e.earlier
                .and_then(|x| x.intent_id.as_ref())
                .map(|i| i.as_str().to_string()),
        )
        .bind(e.amount.map(|m| m.minor()))
        .bind(e.amount.map(|m| m.currency().code().to_string()))
        .bind(e.detail)
        .bind(e.at.unix_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The guard events of an order, oldest first, as (kind, outcome, detail) (for tests).
    pub async fn guard_events(
        &self,
        order_id: &OrderId,
    ) -> CentralResult<Vec<(String, String, String)>> {
        let rows = sqlx::query(
            "SELECT kind, outcome, detail FROM claim_guard_events WHERE order_id = $1 \
             ORDER BY event_id",
        )
        .bind(order_id.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("kind")?,
                    r.try_get("outcome")?,
                    r.try_get("detail")?,
                ))
            })
            .collect()
    }
}

/// The order and its flag columns, as the guard reads them.
#[derive(Debug, Clone)]
pub struct GuardOrder {
    pub order: Order,
    pub open_intent_id: Option<String>,
    pub attempt_seq: i64,
    pub lease_until: Option<i64>,
}

/// The network a payment method's id names, when it names one (Stripe's test payment methods
/// `pm_card_visa`, `pm_card_mastercard`, …); otherwise unknown (both networks' limits apply).
pub fn network_of_payment_method(id: &str) -> CardNetwork {
    let id = id.to_ascii_lowercase();
    if id.contains("mastercard") {
        CardNetwork::Mastercard
    } else if id.contains("visa") {
        CardNetwork::Visa
    } else {
        CardNetwork::Unknown
    }
}

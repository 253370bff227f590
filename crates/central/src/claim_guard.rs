//! The guard in front of a claim (issue 12, items 3 and 5), in the caller's words.
//!
//! Before a claim: a card the networks' rules forbid to retry (a do-not-retry decline, or too many
//! declines in the window) is refused with why and from when a retry is allowed; a payment of the
//! same customer and amount on another order within the window is refused as a possible duplicate
//! unless the claim carries `confirm_similar`. After a refused claim: the refusal names the earlier
//! attempt in the way (held, paid, or an outcome not known yet) — who, when, on which terminal,
//! the gateway id. Every time the guard fires it writes `claim_guard_events` (the audit log's
//! `guard_*` kinds); a confirmed similar payment is written too.
//!
//! Deliberately absent: the networks' rules (`paydesk_core::reattempt`) and the SQL
//! (`store::guard`).

use paydesk_core::reattempt::{check_reattempt, ReattemptRefusal, HOUR_MS};
use paydesk_core::{OperatorId, OrderId, TerminalId, Timestamp};
use paydesk_protocol::guard::{EarlierAttempt, GuardKind, ReattemptDetail};
use paydesk_protocol::{ErrorCode, OrderStatus};

use crate::error::{CentralError, CentralResult, GuardRefusal};
use crate::store::{GuardEvent, Store};

/// How far back a payment of the same customer and amount on another order counts as a possible
/// duplicate: a few hours (Clover warns for one hour, Authorize.net blocks for up to eight).
pub const SIMILAR_PAYMENT_WINDOW_MS: i64 = 4 * HOUR_MS;

/// Who asks for the claim.
#[derive(Debug, Clone, Copy)]
pub struct Asker<'a> {
    pub operator_id: &'a OperatorId,
    pub terminal_id: &'a TerminalId,
    pub session_id: Option<&'a str>,
}

/// "attempt 2, gateway id pi_1, 12.50 EUR".
fn facts(e: &EarlierAttempt) -> String {
    let mut facts = Vec::new();
    if let Some(n) = e.attempt_number {
        facts.push(format!("attempt {}", n.get()));
    }
    facts.push(match &e.intent_id {
        Some(i) => format!("gateway id {i}"),
        None => "no gateway id yet".to_string(),
    });
    if let Some(m) = e.amount {
        facts.push(m.to_string());
    }
    facts.join(", ")
}

/// "alice on terminal t1 at 2026-…Z (attempt 2, gateway id pi_1, 12.50 EUR)".
fn who_when(e: &EarlierAttempt) -> String {
    let who = e
        .operator_id
        .as_ref()
        .map_or("an operator the central does not know".to_string(), |o| {
            o.to_string()
        });
    let terminal = e
        .terminal_id
        .as_ref()
        .map_or(String::new(), |t| format!(" on terminal {t}"));
    format!("{who}{terminal} at {} ({})", e.at, facts(e))
}

/// The check before a claim: the card's reattempt limit, then a similar recent payment. `Ok`
/// when the claim may go ahead (an order that is held, paid or unknown is left to the claim,
/// whose refusal [`explain_refusal`] then explains).
pub async fn before_claim(
    store: &Store,
    order_id: &OrderId,
    asker: Asker<'_>,
    confirm_similar: bool,
    now: Timestamp,
) -> CentralResult<()> {
    let Some(row) = store.guard_order(order_id).await? else {
        return Ok(());
    };
    let held = row.order.claim.is_some() && row.lease_until.is_some_and(|l| l > now.unix_ms());
    if held || !row.order.status.is_chargeable() {
        return Ok(());
    }
    let order = &row.order;
    let card = store.card_history(&order.payment_method_id, now).await?;
    if let Err(refusal) = check_reattempt(card.network, &card.declines, now) {
        let message = format!(
            "order {order_id} cannot be charged now: its card ({}) {}",
            order.payment_method_id,
            refusal.message()
        );
        let detail = reattempt_detail(&order.payment_method_id, card.network, &refusal);
        let kind = if detail.reason == "do_not_retry" {
            "do_not_retry"
        } else {
            "reattempt_limit"
        };
        record(
            store,
            order_id,
            kind,
            "refused",
            asker,
            None,
            Some(order.amount),
            &message,
            now,
        )
        .await?;
        return Err(CentralError::Guard(Box::new(GuardRefusal {
            code: ErrorCode::ReattemptRefused,
            message,
            holder: None,
            earlier: None,
            reattempt: Some(detail),
        })));
    }
    let since = now.plus_ms(-SIMILAR_PAYMENT_WINDOW_MS);
    if let Some(earlier) = store.similar_payment(order, since).await? {
        let said = format!(
            "customer {} already paid {} on order {} within the last {} hours: {}",
            order.customer_id,
            order.amount,
            earlier.order_id,
            SIMILAR_PAYMENT_WINDOW_MS / HOUR_MS,
            who_when(&earlier)
        );
        if confirm_similar {
            let detail = format!("charged anyway after confirming: {said}");
            return record(
                store,
                order_id,
                "similar_payment",
                "confirmed",
                asker,
                Some(&earlier),
                Some(order.amount),
                &detail,
                now,
            )
            .await;
        }
        let message = format!(
            "order {order_id} may be a duplicate: {said}. Check with the customer that this is \
             a separate payment; to charge it anyway, confirm it (confirm_similar)"
        );
        record(
            store,
            order_id,
            "similar_payment",
            "refused",
            asker,
            Some(&earlier),
            Some(order.amount),
            &message,
            now,
        )
        .await?;
        return Err(CentralError::Guard(Box::new(GuardRefusal {
            code: ErrorCode::SimilarPayment,
            message,
            holder: None,
            earlier: Some(earlier),
            reattempt: None,
        })));
    }
    Ok(())
}

/// Turns a refused claim (held, paid, outcome unknown) into the guard's refusal naming the earlier
/// attempt, and records it. Any other error is returned as it was.
pub async fn explain_refusal(
    store: &Store,
    order_id: &OrderId,
    asker: Asker<'_>,
    err: CentralError,
    now: Timestamp,
) -> CentralError {
    match explain(store, order_id, asker, &err, now).await {
        Ok(Some(refusal)) => CentralError::Guard(Box::new(refusal)),
        Ok(None) => err,
        Err(e) => e,
    }
}

async fn explain(
    store: &Store,
    order_id: &OrderId,
    asker: Asker<'_>,
    err: &CentralError,
    now: Timestamp,
) -> CentralResult<Option<GuardRefusal>> {
    let (code, holder, earlier, kind, message) = match err {
        CentralError::ClaimHeld { holder, .. } => {
            let row = store.guard_order(order_id).await?;
            let intent = row.as_ref().and_then(|r| r.open_intent_id.clone());
            let attempt = row
                .as_ref()
                .and_then(|r| u32::try_from(r.attempt_seq).ok())
                .and_then(|a| paydesk_core::AttemptNumber::new(a).ok());
            let earlier = EarlierAttempt {
                kind: GuardKind::Held,
                order_id: order_id.clone(),
                operator_id: Some(holder.operator_id.clone()),
                terminal_id: Some(holder.terminal_id.clone()),
                at: holder.since,
                attempt_number: attempt,
                intent_id: intent
                    .as_deref()
                    .and_then(|i| paydesk_core::GatewayIntentId::new(i).ok()),
                amount: row.as_ref().map(|r| r.order.amount),
                status: "held".into(),
            };
            let in_flight = if earlier.intent_id.is_some() {
                "a charge may be in flight; "
            } else {
                ""
            };
            let message = format!(
                "order {order_id} is held by operator {} on terminal {} since {} \
                 ({in_flight}{}; the hold lasts until {}). Pick another order or wait until it \
                 is released",
                holder.operator_id,
                holder.terminal_id,
                holder.since,
                facts(&earlier),
                holder.lease_until
            );
            (
                ErrorCode::ClaimHeld,
                Some(holder.clone()),
                earlier,
                "held",
                message,
            )
        }
        CentralError::NotChargeable { status, .. } => match status {
            OrderStatus::Paid => {
                let earlier = match store
                    .latest_result(order_id, GuardKind::Paid, &["succeeded"])
                    .await?
                {
                    Some(e) => e,
                    None => return Ok(None),
                };
                let message = format!(
                    "order {order_id} is already paid: {} charged it. Do not charge it again; \
                     quote the gateway id to the customer",
                    who_when(&earlier)
                );
                (
                    ErrorCode::OrderNotChargeable,
                    None,
                    earlier,
                    "paid",
                    message,
                )
            }
            OrderStatus::NeedsReview => {
                let Some(earlier) = store
                    .latest_result(order_id, GuardKind::OutcomeUnknown, &["needs_review"])
                    .await?
                else {
                    return Ok(None);
                };
                let message = format!(
                    "order {order_id} has an attempt whose outcome is not known yet: {} tried \
                     it. Money may have moved: check its status at the gateway (or retry that \
                     same attempt) instead of charging again; a manager resolves it",
                    who_when(&earlier)
                );
                (
                    ErrorCode::OrderNotChargeable,
                    None,
                    earlier,
                    "outcome_unknown",
                    message,
                )
            }
            _ => return Ok(None),
        },
        _ => return Ok(None),
    };
    record(
        store,
        order_id,
        kind,
        "refused",
        asker,
        Some(&earlier),
        earlier.amount,
        &message,
        now,
    )
    .await?;
    Ok(Some(GuardRefusal {
        code,
        message,
        holder,
        earlier: Some(earlier),
        reattempt: None,
    }))
}

#[allow(clippy::too_many_arguments)]
async fn record(
    store: &Store,
    order_id: &OrderId,
    kind: &str,
    outcome: &str,
    asker: Asker<'_>,
    earlier: Option<&EarlierAttempt>,
    amount: Option<paydesk_core::Money>,
    detail: &str,
    now: Timestamp,
) -> CentralResult<()> {
    store
        .record_guard_event(&GuardEvent {
            order_id,
            kind,
            outcome,
            operator_id: asker.operator_id,
            terminal_id: asker.terminal_id,
            session_id: asker.session_id,
            earlier,
            amount,
            detail,
            at: now,
        })
        .await
}

/// Longest decline or advice code or brand accepted, in characters.
const CODE_LEN_MAX: usize = 64;

fn check_code(value: &Option<String>, field: &str) -> CentralResult<()> {
    match value {
        Some(v)
            if v.is_empty()
                || v.len() > CODE_LEN_MAX
                || !v
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')) =>
        {
            Err(CentralError::Invalid(format!(
                "{field} must be 1 to {CODE_LEN_MAX} letters, digits, '_', '-' or '.'"
            )))
        }
        _ => Ok(()),
    }
}

/// `POST /v1/orders/{order_id}/decline`: a terminal reports what the gateway said about a
/// declined attempt of the order (decline code, advice code, the card's brand), once per attempt.
/// The answer says whether the card may be retried now, and if not why and from when.
pub async fn report_decline(
    axum::extract::State(state): axum::extract::State<crate::http::AppState>,
    crate::http_auth::TerminalAuth(terminal): crate::http_auth::TerminalAuth,
    path: Result<axum::extract::Path<String>, axum::extract::rejection::PathRejection>,
    crate::http::ApiJson(report): crate::http::ApiJson<paydesk_protocol::guard::DeclineReport>,
) -> Result<axum::Json<paydesk_protocol::guard::DeclineReceipt>, CentralError> {
    let order_id = crate::http_input::order_path(path)?;
    check_code(&report.decline_code, "decline_code")?;
    check_code(&report.advice_code, "advice_code")?;
    check_code(&report.card_brand, "card_brand")?;
    let now = crate::clock::now();
    let Some(row) = state.store.guard_order(&order_id).await? else {
        return Err(CentralError::OrderNotFound(order_id));
    };
    if i64::from(report.attempt_number.get()) > row.attempt_seq {
        return Err(CentralError::Invalid(format!(
            "attempt {} of order {order_id} was never handed out (the last is {})",
            report.attempt_number.get(),
            row.attempt_seq
        )));
    }
    let recorded = state
        .store
        .record_decline(&row.order, &report, &terminal, now)
        .await?;
    let card = state
        .store
        .card_history(&row.order.payment_method_id, now)
        .await?;
    let (retry, message) = match check_reattempt(card.network, &card.declines, now) {
        Ok(()) => (
            None,
            "recorded; this card may be retried within the card networks' limits".to_string(),
        ),
        Err(refusal) => {
            let detail = reattempt_detail(&row.order.payment_method_id, card.network, &refusal);
            (
                Some(detail),
                format!("recorded; this card {}", refusal.message()),
            )
        }
    };
    Ok(axum::Json(paydesk_protocol::guard::DeclineReceipt {
        recorded,
        retry,
        message,
    }))
}

/// The refusal as the wire carries it.
fn reattempt_detail(
    payment_method_id: &str,
    network: paydesk_core::reattempt::CardNetwork,
    refusal: &ReattemptRefusal,
) -> ReattemptDetail {
    let (reason, code, count, limit, window) = match refusal {
        ReattemptRefusal::DoNotRetry { code, .. } => {
            ("do_not_retry", Some(code.clone()), None, None, None)
        }
        ReattemptRefusal::LimitReached {
            limit,
            window_ms,
            declines_in_window,
            ..
        } => (
            "limit_reached",
            None,
            Some(*declines_in_window),
            Some(*limit),
            Some(*window_ms),
        ),
    };
    ReattemptDetail {
        payment_method_id: payment_method_id.to_string(),
        network: network.as_str().to_string(),
        reason: reason.to_string(),
        code,
        declines_in_window: count,
        limit,
        window_ms: window,
        retry_at: refusal.retry_at(),
    }
}

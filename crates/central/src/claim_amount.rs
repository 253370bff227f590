//! The amount a claim asks to charge (issue 12, installments): checked before the claim, and an
//! amount other than the balance due audited with its reason after it is granted.
//!
//! The rule: a claim charges the order's balance due unless it asks for another amount; that
//! amount must be more than zero, in the order's currency and at most the balance due, and it
//! needs the `charge_other_amount` permission and a reason. The claim's conditional UPDATE checks
//! the balance again under the row lock (`Store::claim`), so a success counted in between can
//! never let a grant exceed what is left. Deliberately absent: SQL (the store's) and the claim.

use paydesk_core::{Money, OrderId, Timestamp};
use paydesk_protocol::settings::Action;
use paydesk_protocol::{Claim, ClaimRequest};

use crate::error::CentralError;
use crate::http::AppState;
use crate::http_auth::OperatorSession;
use crate::store::OtherAmount;

/// Longest reason accepted for an amount other than the balance, in characters.
pub const AMOUNT_REASON_CHARS_MAX: usize = 500;

/// What the claim asked for, checked: the minor units to grant (`None`: the balance due) and,
/// for an amount other than the balance, what is audited once the claim is granted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AskedAmount {
    pub minor: Option<i64>,
    pub other: Option<(Money, Money, String)>,
}

/// Checks the amount a claim asks for against the order as it stands, and the permission and
/// reason an amount other than the balance needs. Nothing is written (a refusal of the
/// permission is audited by `http_settings::require`, as for every action).
pub async fn check(
    state: &AppState,
    session: &OperatorSession,
    order_id: &OrderId,
    req: &ClaimRequest,
) -> Result<AskedAmount, CentralError> {
    let Some(amount) = req.amount else {
        return Ok(AskedAmount {
            minor: None,
            other: None,
        });
    };
    if amount.minor() <= 0 {
        return Err(CentralError::InvalidAmount(format!(
            "the amount to charge must be more than zero, got {amount}: leave it out to charge \
             the balance due"
        )));
    }
    let order = state.store.order(order_id).await?;
    if amount.currency() != order.amount.currency() {
        return Err(CentralError::InvalidAmount(format!(
            "order {order_id} is charged in {}; {amount} is another currency: give the amount \
             in {}",
            order.amount.currency().code(),
            order.amount.currency().code()
        )));
    }
    let balance = order.balance_due();
    if balance.minor() == 0 {
        // Nothing left: the claim itself refuses it and says why (paid, in review).
        return Ok(AskedAmount {
            minor: Some(amount.minor()),
            other: None,
        });
    }
    if amount.minor() > balance.minor() {
        return Err(CentralError::InvalidAmount(format!(
            "{amount} is more than the balance due on order {order_id} ({balance}, of {}): \
             charge at most the balance",
            order.amount
        )));
    }
    if amount == balance {
        return Ok(AskedAmount {
            minor: Some(amount.minor()),
            other: None,
        });
    }
    crate::http_settings::require(state, session, Action::ChargeOtherAmount).await?;
    let reason = req.reason.as_deref().map(str::trim).unwrap_or("");
    if reason.is_empty() {
        return Err(CentralError::Invalid(format!(
            "charging {amount} instead of the balance due ({balance}) needs a reason (a \
             deposit, an agreed part-payment): send it in reason"
        )));
    }
    if reason.chars().count() > AMOUNT_REASON_CHARS_MAX {
        return Err(CentralError::Invalid(format!(
            "the reason is longer than {AMOUNT_REASON_CHARS_MAX} characters: shorten it"
        )));
    }
    Ok(AskedAmount {
        minor: Some(amount.minor()),
        other: Some((amount, balance, reason.to_string())),
    })
}

/// Audits a granted claim for an amount other than the balance due, with its reason.
pub async fn record(
    state: &AppState,
    session: &OperatorSession,
    claim: &Claim,
    asked: &AskedAmount,
    now: Timestamp,
) -> Result<(), CentralError> {
    let Some((amount, balance, reason)) = &asked.other else {
        return Ok(());
    };
    state
        .store
        .record_other_amount(&OtherAmount {
            order_id: &claim.order_id,
            claim_token: claim.claim_token,
            installment: claim.installment,
            amount: *amount,
            balance: *balance,
            reason,
            operator_id: &session.operator_id,
            terminal_id: &session.terminal.terminal_id,
            session_id: Some(&session.session_id),
            at: now,
        })
        .await
}

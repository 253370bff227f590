//! The duplicate guard's and the reattempt limit's details on a refused claim: the earlier
//! attempt that stands in the way (who, when, on which terminal, the gateway id), and the card's
//! reattempt count with when a retry becomes allowed. Carried in [`crate::ErrorDetail`] beside
//! the message, which says the same in words.

use paydesk_core::{
    AttemptNumber, GatewayIntentId, Money, OperatorId, OrderId, TerminalId, Timestamp,
};
use serde::{Deserialize, Serialize};

/// Why the guard refused a claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum GuardKind {
    /// Another claim holds the order now.
    Held,
    /// The order is already paid.
    Paid,
    /// An attempt's outcome is not known yet (the order is under review): check it, do not charge.
    OutcomeUnknown,
    /// The same customer paid the same amount on another order recently: a possible duplicate,
    /// allowed only with `confirm_similar`.
    SimilarPayment,
}

impl GuardKind {
    pub fn as_str(self) -> &'static str {
        match self {
            GuardKind::Held => "held",
            GuardKind::Paid => "paid",
            GuardKind::OutcomeUnknown => "outcome_unknown",
            GuardKind::SimilarPayment => "similar_payment",
        }
    }
}

/// The earlier attempt the guard points at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct EarlierAttempt {
    pub kind: GuardKind,
    /// The order of the earlier attempt (another order for `similar_payment`).
    pub order_id: OrderId,
    /// Who tried (`None` when the central does not know, e.g. an attempt imported from outside).
    pub operator_id: Option<OperatorId>,
    pub terminal_id: Option<TerminalId>,
    /// When: the claim's start for `held`, the gateway's time of the result otherwise.
    pub at: Timestamp,
    pub attempt_number: Option<AttemptNumber>,
    /// The gateway's id of the payment, when one is known.
    pub intent_id: Option<GatewayIntentId>,
    pub amount: Option<Money>,
    /// The earlier attempt's state in one word (`held`, `succeeded`, `needs_review`, …).
    pub status: String,
}

/// A card's reattempt count and the rule that refused it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct ReattemptDetail {
    /// The order's saved payment method (the card).
    pub payment_method_id: String,
    /// `visa`, `mastercard` or `unknown` (both networks' limits apply).
    pub network: String,
    /// `do_not_retry` or `limit_reached`.
    pub reason: String,
    /// The decline or advice code that forbids a retry (for `do_not_retry`).
    pub code: Option<String>,
    /// Declines of the card counted in the window (for `limit_reached`).
    pub declines_in_window: Option<u32>,
    pub limit: Option<u32>,
    #[ts(type = "number | null")]
    pub window_ms: Option<i64>,
    /// When a retry becomes allowed; `None`: never.
    pub retry_at: Option<Timestamp>,
}

/// What a terminal learned from the gateway about a declined attempt: the codes and the card's
/// brand. The card is the order's saved payment method (taken from the order, not the body).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeclineReport {
    pub attempt_id: paydesk_core::AttemptId,
    pub attempt_number: AttemptNumber,
    #[serde(default)]
    pub intent_id: Option<GatewayIntentId>,
    #[serde(default)]
    pub decline_code: Option<String>,
    #[serde(default)]
    pub advice_code: Option<String>,
    /// The card's brand as the gateway names it (`visa`, `mastercard`, …).
    #[serde(default)]
    pub card_brand: Option<String>,
    pub occurred_at: Timestamp,
}

/// The answer to a decline report: whether it was new, and whether the card may be retried now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeclineReceipt {
    pub recorded: bool,
    /// Why a retry is refused and until when (`None`: a retry is allowed now).
    pub retry: Option<ReattemptDetail>,
    /// The same in words.
    pub message: String,
}

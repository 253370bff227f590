//! Gateway-neutral requests, views of gateway objects, and the result of every call, with the
//! conversions to the core's outcome enums.
//!
//! The results are richer than the core's enums (they carry the intent as the gateway showed it,
//! and why an answer was ambiguous) so the journal can keep the evidence; `From` gives the core's
//! view. Nothing here performs I/O or knows a wire format.

use std::collections::BTreeMap;

use paydesk_core::{
    AttemptId, AttemptNumber, ChargeOutcome, CreateOutcome, GatewayIntentId, IdempotencyKey,
    IntentStatus, Money, OrderId, TerminalId,
};
use serde::Serialize;

/// The metadata every intent of ours carries, so an intent found at the gateway (by search, in a
/// webhook, in the dashboard) names its order, attempt and terminal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntentMetadata {
    pub order: OrderId,
    pub attempt: AttemptId,
    pub attempt_number: AttemptNumber,
    pub terminal: TerminalId,
}

/// Metadata keys as sent to the gateway. Stable: searches and reconciliation depend on them.
pub(crate) const META_ORDER: &str = "order_id";
pub(crate) const META_ATTEMPT: &str = "attempt_id";
pub(crate) const META_ATTEMPT_NUMBER: &str = "attempt_number";
pub(crate) const META_TERMINAL: &str = "terminal_id";

impl IntentMetadata {
    /// The key/value pairs sent to the gateway.
    pub fn to_pairs(&self) -> Vec<(&'static str, String)> {
        vec![
            (META_ORDER, self.order.to_string()),
            (META_ATTEMPT, self.attempt.to_string()),
            (META_ATTEMPT_NUMBER, self.attempt_number.to_string()),
            (META_TERMINAL, self.terminal.to_string()),
        ]
    }
}

/// Create an intent for a saved payment method *without* moving money.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateIntentRequest {
    pub amount: Money,
    /// The gateway's customer id (Stripe `cus_…`) owning the saved payment method. `None` only
    /// for a payment method that belongs to no customer (Stripe's test tokens such as
    /// `pm_card_visa` in test mode).
    pub customer: Option<String>,
    /// The saved payment method (Stripe `pm_…`).
    pub payment_method: String,
    /// The customer is not present and cannot authenticate. Stripe accepts `off_session` only
    /// together with a confirm, so the Stripe connector sends it on the confirm request
    /// ([`ConfirmRequest::off_session`]) and records it here in the metadata for the dashboard.
    pub off_session: bool,
    pub metadata: IntentMetadata,
    /// `IdempotencyKey::for_create(order, attempt number)`.
    pub key: IdempotencyKey,
}

/// Confirm an existing intent: the one request that can move money.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfirmRequest {
    pub intent: GatewayIntentId,
    /// Post-sale charges are made without the customer: a payment needing 3-D Secure then fails
    /// fast (as `RequiresAction`) instead of waiting for an authentication nobody will do.
    pub off_session: bool,
    /// `IdempotencyKey::for_confirm(intent)`.
    pub key: IdempotencyKey,
}

/// Why a refund is made, as the gateway records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RefundReason {
    Duplicate,
    Fraudulent,
    RequestedByCustomer,
}

impl RefundReason {
    pub fn as_str(self) -> &'static str {
        match self {
            RefundReason::Duplicate => "duplicate",
            RefundReason::Fraudulent => "fraudulent",
            RefundReason::RequestedByCustomer => "requested_by_customer",
        }
    }
}

/// Refund all (`amount: None`) or part of a succeeded intent's payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundRequest {
    pub intent: GatewayIntentId,
    /// `None` refunds whatever is left; `Some` refunds that much (same currency as the intent).
    pub amount: Option<Money>,
    pub reason: Option<RefundReason>,
    /// Extra metadata for the refund object (e.g. the manager who approved it).
    pub metadata: BTreeMap<String, String>,
    /// `IdempotencyKey::for_refund(intent, n)`.
    pub key: IdempotencyKey,
}

/// Find intents by metadata. All pairs must match (AND).
///
/// **A search that finds nothing proves nothing**: the gateway's search index lags writes (Stripe
/// documents up to a minute, more during outages), so a miss must never be read as "no intent
/// exists" and never justify a fresh charge. Only a retrieve by id is evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataQuery {
    pub(crate) pairs: Vec<(String, String)>,
}

impl MetadataQuery {
    /// Intents of one order (all attempts).
    pub fn order(order: &OrderId) -> MetadataQuery {
        MetadataQuery {
            pairs: vec![(META_ORDER.to_string(), order.to_string())],
        }
    }

    /// Intents of one attempt of one order.
    pub fn attempt(order: &OrderId, number: AttemptNumber) -> MetadataQuery {
        let mut query = MetadataQuery::order(order);
        query
            .pairs
            .push((META_ATTEMPT_NUMBER.to_string(), number.to_string()));
        query
    }

    pub fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }
}

/// Which events to list. The gateway returns newest first.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EventQuery {
    /// At most this many (clamped to the gateway's page limit).
    pub limit: u32,
    /// Page on from this event id (the last one of the previous page).
    pub starting_after: Option<String>,
    /// Only events created at or after this Unix time in seconds.
    pub created_gte: Option<i64>,
    /// Only these event types (e.g. `payment_intent.succeeded`); empty means all.
    pub types: Vec<String>,
}

/// The last payment error recorded on an intent (a decline, a failed authentication).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PaymentError {
    pub error_type: Option<String>,
    pub code: Option<String>,
    pub decline_code: Option<String>,
    /// The issuer's advice on a decline (Stripe's `advice_code`: `try_again_later`,
    /// `do_not_try_again`, `confirm_card_data`).
    pub advice_code: Option<String>,
    pub message: Option<String>,
}

impl PaymentError {
    /// The most specific machine-readable reason: the issuer's decline code (with its advice
    /// code, see [`paydesk_core::reattempt::decline_reason`]), then the error code, then the
    /// error type.
    pub fn reason(&self) -> Option<String> {
        self.decline_code
            .as_deref()
            .map(|d| paydesk_core::reattempt::decline_reason(d, self.advice_code.as_deref()))
            .or_else(|| self.code.clone())
            .or_else(|| self.error_type.clone())
    }
}

/// A payment intent as the gateway showed it. Deliberately without the client secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IntentView {
    pub id: GatewayIntentId,
    pub status: IntentStatus,
    /// The gateway's status word as sent (`requires_capture` maps to `Processing`, see parsing).
    pub status_raw: String,
    pub amount: Money,
    /// How much of `amount` the gateway received (0 until it succeeded).
    pub amount_received: Option<i64>,
    pub metadata: BTreeMap<String, String>,
    /// The id of the charge of the latest payment attempt (Stripe `ch_…`).
    pub latest_charge: Option<String>,
    pub customer: Option<String>,
    pub payment_method: Option<String>,
    pub last_payment_error: Option<PaymentError>,
    /// The kind of action the customer must take (`use_stripe_sdk`, `redirect_to_url`).
    pub next_action: Option<String>,
    /// Where the customer goes to act (Stripe `next_action.redirect_to_url.url`): the 3-D Secure
    /// page a payment link leads to. Not a secret, but only for the customer's eyes.
    pub next_action_url: Option<String>,
    pub cancellation_reason: Option<String>,
    /// Unix seconds.
    pub created: i64,
    pub livemode: bool,
}

impl IntentView {
    /// The value of one metadata key.
    pub fn meta(&self, key: &str) -> Option<&str> {
        self.metadata.get(key).map(String::as_str)
    }
}

/// Where a refund stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RefundStatus {
    Pending,
    RequiresAction,
    Succeeded,
    Failed,
    Canceled,
}

/// A refund as the gateway showed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RefundView {
    pub id: String,
    pub status: RefundStatus,
    pub amount: Money,
    pub payment_intent: Option<String>,
    pub charge: Option<String>,
    pub reason: Option<String>,
    pub failure_reason: Option<String>,
    pub metadata: BTreeMap<String, String>,
    pub created: i64,
}

/// A charge (one payment attempt of an intent), for reconciliation and webhooks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChargeView {
    pub id: String,
    pub status: String,
    pub amount: Money,
    pub amount_captured: i64,
    pub amount_refunded: i64,
    pub paid: bool,
    pub refunded: bool,
    pub disputed: bool,
    pub payment_intent: Option<String>,
    pub failure_code: Option<String>,
    pub metadata: BTreeMap<String, String>,
    pub created: i64,
}

/// A dispute (chargeback) against a charge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DisputeView {
    pub id: String,
    pub status: String,
    pub reason: String,
    pub amount: Money,
    pub charge: Option<String>,
    pub payment_intent: Option<String>,
    pub created: i64,
}

/// One gateway event. The object is kept as JSON because events cover every kind of object;
/// the Stripe module parses the kinds this product uses.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventView {
    pub id: String,
    pub event_type: String,
    pub created: i64,
    pub livemode: bool,
    /// The `object` field of the event's object (`payment_intent`, `charge`, `refund`, …).
    pub object_kind: Option<String>,
    pub object_id: Option<String>,
    pub object: serde_json::Value,
    /// The idempotency key of the API request that caused the event, if any.
    pub request_idempotency_key: Option<String>,
}

/// One page of events, newest first.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventPage {
    pub events: Vec<EventView>,
    pub has_more: bool,
}

/// The answer to a create request.
///
/// The variants differ in size; boxing the intent would buy nothing for a value made once per
/// network round trip, and would make every match on it noisier.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreateResult {
    /// The intent exists (a first answer or the replay of one under the same key).
    Created(IntentView),
    /// The gateway refused to create it and created nothing.
    Refused { reason: String, message: String },
    /// The request provably never reached the gateway.
    NotSent { detail: String },
    /// The request may have landed; re-send with the same key to learn what happened.
    Unknown { detail: String },
}

impl From<&CreateResult> for CreateOutcome {
    fn from(result: &CreateResult) -> CreateOutcome {
        match result {
            CreateResult::Created(view) => CreateOutcome::Created {
                intent: view.id.clone(),
            },
            CreateResult::Refused { reason, .. } => CreateOutcome::Refused {
                reason: reason.clone(),
            },
            CreateResult::NotSent { .. } => CreateOutcome::NotSent,
            CreateResult::Unknown { .. } => CreateOutcome::Unknown,
        }
    }
}

impl CreateResult {
    pub fn outcome(&self) -> CreateOutcome {
        self.into()
    }
}

/// The answer to a confirm request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfirmResult {
    /// The payment succeeded (now, or earlier: a replay or an intent found already succeeded).
    Succeeded { intent: IntentView },
    /// The payment was refused (card declined, insufficient funds, …). No money moved.
    Declined {
        reason: String,
        intent: Option<IntentView>,
    },
    /// The customer must authenticate; off-session this ends the attempt. No money moved.
    RequiresAction { intent: Option<IntentView> },
    /// The request provably never reached the gateway (an earlier one still might have).
    NotSent { detail: String },
    /// The request may have landed and the result is not known: recovery re-sends with the same
    /// key or retrieves the intent. `intent` is set when the gateway answered with an intent
    /// that is not settled (`processing`, `canceled`, still `requires_confirmation`).
    Unknown {
        detail: String,
        intent: Option<IntentView>,
    },
}

impl From<&ConfirmResult> for ChargeOutcome {
    fn from(result: &ConfirmResult) -> ChargeOutcome {
        match result {
            ConfirmResult::Succeeded { .. } => ChargeOutcome::Succeeded,
            ConfirmResult::Declined { reason, .. } => ChargeOutcome::Declined {
                reason: reason.clone(),
            },
            ConfirmResult::RequiresAction { .. } => ChargeOutcome::RequiresAction,
            ConfirmResult::NotSent { .. } => ChargeOutcome::NotSent,
            ConfirmResult::Unknown { .. } => ChargeOutcome::Unknown,
        }
    }
}

impl ConfirmResult {
    pub fn outcome(&self) -> ChargeOutcome {
        self.into()
    }

    /// The intent as the gateway last showed it, when it showed one.
    pub fn intent(&self) -> Option<&IntentView> {
        match self {
            ConfirmResult::Succeeded { intent } => Some(intent),
            ConfirmResult::Declined { intent, .. }
            | ConfirmResult::RequiresAction { intent }
            | ConfirmResult::Unknown { intent, .. } => intent.as_ref(),
            ConfirmResult::NotSent { .. } => None,
        }
    }
}

/// The answer to a cancel request. Cancelling is idempotent: an intent already canceled is
/// reported as `Canceled`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CancelResult {
    Canceled(IntentView),
    /// The intent is past cancelling (succeeded, processing): look at its status.
    NotCancelable(IntentView),
    NotSent {
        detail: String,
    },
    Unknown {
        detail: String,
    },
}

/// The answer to a refund request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundResult {
    /// The gateway made a refund object; its status says whether money went back yet.
    Created(RefundView),
    /// The gateway refused (already refunded, amount too large, nothing charged, …).
    Refused {
        reason: String,
        message: String,
    },
    NotSent {
        detail: String,
    },
    /// May have landed: re-send with the same key.
    Unknown {
        detail: String,
    },
}

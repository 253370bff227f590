//! Stripe's JSON objects (PaymentIntent, Refund, Charge, Dispute, Event, the error object) and
//! their conversion into this crate's gateway-neutral views.
//!
//! Parsing is strict where a wrong guess could cost money (status words, amounts, currencies:
//! anything unknown is a [`ParseError`], which callers turn into "unknown", never "declined") and
//! lenient everywhere else (unknown fields are ignored, optional fields may be absent or null).

use std::collections::BTreeMap;

use paydesk_core::{Currency, GatewayIntentId, IntentStatus, Money};
use serde::Deserialize;
use serde_json::Value;

use crate::error::ParseError;
use crate::model::{
    ChargeView, DisputeView, EventView, IntentView, PaymentError, RefundStatus, RefundView,
};

/// Stripe's error object, the `error` member of every non-2xx body.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub(crate) struct WireError {
    #[serde(rename = "type", default)]
    pub error_type: Option<String>,
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub decline_code: Option<String>,
    /// The issuer's advice on a card decline (`try_again_later`, `do_not_try_again`,
    /// `confirm_card_data`).
    #[serde(default)]
    pub advice_code: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub param: Option<String>,
    /// On card errors of PaymentIntent requests: the intent after the failed attempt.
    #[serde(default)]
    pub payment_intent: Option<Value>,
}

impl WireError {
    pub(crate) fn is_code(&self, code: &str) -> bool {
        self.code.as_deref() == Some(code)
    }

    pub(crate) fn is_type(&self, error_type: &str) -> bool {
        self.error_type.as_deref() == Some(error_type)
    }

    /// The decline code (with the advice code, when given), else the error code, else the type:
    /// what a person reads as "why".
    pub(crate) fn reason(&self) -> String {
        self.decline_code
            .as_deref()
            .map(|d| paydesk_core::reattempt::decline_reason(d, self.advice_code.as_deref()))
            .or_else(|| self.code.clone())
            .or_else(|| self.error_type.clone())
            .unwrap_or_else(|| "unspecified".to_string())
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct WireErrorEnvelope {
    pub error: WireError,
}

#[derive(Debug, Deserialize)]
struct WirePaymentIntent {
    id: String,
    #[serde(default)]
    object: Option<String>,
    amount: i64,
    currency: String,
    status: String,
    #[serde(default)]
    amount_received: Option<i64>,
    #[serde(default)]
    metadata: Option<BTreeMap<String, String>>,
    #[serde(default)]
    latest_charge: Option<Value>,
    #[serde(default)]
    customer: Option<Value>,
    #[serde(default)]
    payment_method: Option<Value>,
    #[serde(default)]
    last_payment_error: Option<WireError>,
    #[serde(default)]
    next_action: Option<Value>,
    #[serde(default)]
    cancellation_reason: Option<String>,
    #[serde(default)]
    created: i64,
    #[serde(default)]
    livemode: bool,
}

#[derive(Debug, Deserialize)]
struct WireRefund {
    id: String,
    amount: i64,
    currency: String,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    payment_intent: Option<Value>,
    #[serde(default)]
    charge: Option<Value>,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    failure_reason: Option<String>,
    #[serde(default)]
    metadata: Option<BTreeMap<String, String>>,
    #[serde(default)]
    created: i64,
}

#[derive(Debug, Deserialize)]
struct WireCharge {
    id: String,
    amount: i64,
    currency: String,
    status: String,
    #[serde(default)]
    amount_captured: i64,
    #[serde(default)]
    amount_refunded: i64,
    #[serde(default)]
    paid: bool,
    #[serde(default)]
    refunded: bool,
    #[serde(default)]
    disputed: bool,
    #[serde(default)]
    payment_intent: Option<Value>,
    #[serde(default)]
    failure_code: Option<String>,
    #[serde(default)]
    metadata: Option<BTreeMap<String, String>>,
    #[serde(default)]
    created: i64,
}

#[derive(Debug, Deserialize)]
struct WireDispute {
    id: String,
    amount: i64,
    currency: String,
    status: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    charge: Option<Value>,
    #[serde(default)]
    payment_intent: Option<Value>,
    #[serde(default)]
    created: i64,
}

#[derive(Debug, Deserialize)]
struct WireEventData {
    object: Value,
}

#[derive(Debug, Default, Deserialize)]
struct WireEventRequest {
    #[serde(default)]
    idempotency_key: Option<String>,
}

#[derive(Debug, Deserialize)]
struct WireEvent {
    id: String,
    #[serde(rename = "type")]
    event_type: String,
    #[serde(default)]
    created: i64,
    #[serde(default)]
    livemode: bool,
    data: WireEventData,
    #[serde(default)]
    request: Option<WireEventRequest>,
}

/// A list page (`/v1/events`) or a search page (`/v1/payment_intents/search`).
#[derive(Debug, Deserialize)]
pub(crate) struct WireList {
    pub data: Vec<Value>,
    #[serde(default)]
    pub has_more: bool,
    /// Search pages only: the cursor of the next page.
    #[serde(default)]
    pub next_page: Option<String>,
}

fn money(amount: i64, currency: &str) -> Result<Money, ParseError> {
    let currency = Currency::from_code(currency)
        .map_err(|_| ParseError(format!("unsupported currency {currency:?}")))?;
    Money::new(amount, currency).map_err(|e| ParseError(e.to_string()))
}

/// An id field that is either the id itself or the expanded object carrying it.
fn id_of(field: Option<&Value>) -> Option<String> {
    match field? {
        Value::String(id) => Some(id.clone()),
        Value::Object(object) => object.get("id")?.as_str().map(str::to_string),
        _ => None,
    }
}

fn payment_error(error: &WireError) -> PaymentError {
    PaymentError {
        error_type: error.error_type.clone(),
        code: error.code.clone(),
        decline_code: error.decline_code.clone(),
        advice_code: error.advice_code.clone(),
        message: error.message.clone(),
    }
}

/// Stripe's status word as the core's status. `None` for a word this code does not know.
///
/// `requires_capture` maps to `Processing`: we create intents with automatic capture, so an
/// authorised-but-uncaptured intent is unexpected; it is neither paid nor failed, and
/// `Processing` keeps it in recovery and then in front of a manager rather than guessing.
fn intent_status(status: &str, last_error: Option<&PaymentError>) -> Option<IntentStatus> {
    Some(match status {
        "requires_payment_method" => IntentStatus::RequiresPaymentMethod {
            reason: last_error
                .and_then(PaymentError::reason)
                .unwrap_or_else(|| "requires_payment_method".to_string()),
        },
        "requires_confirmation" => IntentStatus::RequiresConfirmation,
        "requires_action" => IntentStatus::RequiresAction,
        "processing" | "requires_capture" => IntentStatus::Processing,
        "succeeded" => IntentStatus::Succeeded,
        "canceled" => IntentStatus::Canceled,
        _ => return None,
    })
}

/// Parses a PaymentIntent object.
pub fn parse_intent(value: &Value) -> Result<IntentView, ParseError> {
    let wire = WirePaymentIntent::deserialize(value)
        .map_err(|e| ParseError(format!("payment intent: {e}")))?;
    if let Some(object) = &wire.object {
        if object != "payment_intent" {
            return Err(ParseError(format!(
                "expected a payment_intent, got {object:?}"
            )));
        }
    }
    let id = GatewayIntentId::new(wire.id.as_str())
        .map_err(|e| ParseError(format!("payment intent id: {e}")))?;
    let last_payment_error = wire.last_payment_error.as_ref().map(payment_error);
    let status = intent_status(&wire.status, last_payment_error.as_ref())
        .ok_or_else(|| ParseError(format!("unknown payment intent status {:?}", wire.status)))?;
    Ok(IntentView {
        id,
        status,
        status_raw: wire.status,
        amount: money(wire.amount, &wire.currency)?,
        amount_received: wire.amount_received,
        metadata: wire.metadata.unwrap_or_default(),
        latest_charge: id_of(wire.latest_charge.as_ref()),
        customer: id_of(wire.customer.as_ref()),
        payment_method: id_of(wire.payment_method.as_ref()),
        last_payment_error,
        next_action: wire
            .next_action
            .as_ref()
            .and_then(|action| action.get("type"))
            .and_then(Value::as_str)
            .map(str::to_string),
        next_action_url: wire
            .next_action
            .as_ref()
            .and_then(|action| action.pointer("/redirect_to_url/url"))
            .and_then(Value::as_str)
            .map(str::to_string),
        cancellation_reason: wire.cancellation_reason,
        created: wire.created,
        livemode: wire.livemode,
    })
}

/// Parses a Refund object.
pub fn parse_refund(value: &Value) -> Result<RefundView, ParseError> {
    let wire = WireRefund::deserialize(value).map_err(|e| ParseError(format!("refund: {e}")))?;
    let status = match wire.status.as_deref() {
        Some("pending") => RefundStatus::Pending,
        Some("requires_action") => RefundStatus::RequiresAction,
        Some("succeeded") => RefundStatus::Succeeded,
        Some("failed") => RefundStatus::Failed,
        Some("canceled") => RefundStatus::Canceled,
        other => return Err(ParseError(format!("unknown refund status {other:?}"))),
    };
    Ok(RefundView {
        id: wire.id,
        status,
        amount: money(wire.amount, &wire.currency)?,
        payment_intent: id_of(wire.payment_intent.as_ref()),
        charge: id_of(wire.charge.as_ref()),
        reason: wire.reason,
        failure_reason: wire.failure_reason,
        metadata: wire.metadata.unwrap_or_default(),
        created: wire.created,
    })
}

/// Parses a Charge object.
pub fn parse_charge(value: &Value) -> Result<ChargeView, ParseError> {
    let wire = WireCharge::deserialize(value).map_err(|e| ParseError(format!("charge: {e}")))?;
    Ok(ChargeView {
        id: wire.id,
        status: wire.status,
        amount: money(wire.amount, &wire.currency)?,
        amount_captured: wire.amount_captured,
        amount_refunded: wire.amount_refunded,
        paid: wire.paid,
        refunded: wire.refunded,
        disputed: wire.disputed,
        payment_intent: id_of(wire.payment_intent.as_ref()),
        failure_code: wire.failure_code,
        metadata: wire.metadata.unwrap_or_default(),
        created: wire.created,
    })
}

/// Parses a Dispute object.
pub fn parse_dispute(value: &Value) -> Result<DisputeView, ParseError> {
    let wire = WireDispute::deserialize(value).map_err(|e| ParseError(format!("dispute: {e}")))?;
    Ok(DisputeView {
        id: wire.id,
        status: wire.status,
        reason: wire.reason,
        amount: money(wire.amount, &wire.currency)?,
        charge: id_of(wire.charge.as_ref()),
        payment_intent: id_of(wire.payment_intent.as_ref()),
        created: wire.created,
    })
}

/// Parses an Event object; its data object stays JSON (see [`EventView`]).
pub fn parse_event(value: &Value) -> Result<EventView, ParseError> {
    let wire = WireEvent::deserialize(value).map_err(|e| ParseError(format!("event: {e}")))?;
    let object = wire.data.object;
    Ok(EventView {
        id: wire.id,
        event_type: wire.event_type,
        created: wire.created,
        livemode: wire.livemode,
        object_kind: object
            .get("object")
            .and_then(Value::as_str)
            .map(str::to_string),
        object_id: object.get("id").and_then(Value::as_str).map(str::to_string),
        request_idempotency_key: wire.request.unwrap_or_default().idempotency_key,
        object,
    })
}

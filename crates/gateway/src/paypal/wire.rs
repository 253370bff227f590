//! PayPal's JSON (Orders v2 order, capture, refund, error) and its conversion into this crate's
//! gateway-neutral views; amounts as PayPal's decimal strings, converted through the currency's
//! exponent in integers only.
//!
//! The outcome of an order comes from `purchase_units[].payments.captures[].status`, never from the
//! order's own `COMPLETED` (PayPal: a completed order can hold a declined capture). Parsing is
//! strict where a wrong guess could cost money (status words, amounts, currencies: anything
//! unknown is a [`ParseError`], which callers turn into "unknown", never "declined").
//! Deliberately absent: `intent: AUTHORIZE` orders, multi-unit orders, HATEOAS links.

use std::collections::BTreeMap;

use paydesk_core::{Currency, GatewayIntentId, IntentStatus, Money};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::ParseError;
use crate::model::{
    ChargeView, IntentView, PaymentError, RefundStatus, RefundView, META_ATTEMPT,
    META_ATTEMPT_NUMBER, META_ORDER, META_TERMINAL,
};

/// The metadata key under which an order's payment source reference (`card:<vault id>`) is shown.
pub const META_SOURCE: &str = "payment_source";

/// PayPal's error body (`name`, `message`, `details[].issue`, `debug_id`), or OAuth2's
/// (`error`, `error_description`) on 401s.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub(crate) struct WireError {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub debug_id: Option<String>,
    #[serde(default)]
    pub details: Vec<WireDetail>,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub error_description: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub(crate) struct WireDetail {
    #[serde(default)]
    pub issue: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub field: Option<String>,
}

impl WireError {
    /// The first `details[].issue` (`INSTRUMENT_DECLINED`, …).
    pub(crate) fn issue(&self) -> Option<&str> {
        self.details.iter().find_map(|d| d.issue.as_deref())
    }

    pub(crate) fn is_issue(&self, issue: &str) -> bool {
        self.issue() == Some(issue)
    }

    /// The issue, else the error name, else OAuth2's error: what a person reads as "why".
    pub(crate) fn reason(&self) -> String {
        self.issue()
            .or(self.name.as_deref())
            .or(self.error.as_deref())
            .unwrap_or("unspecified")
            .to_string()
    }

    /// PayPal's description of the issue, else its message.
    pub(crate) fn text(&self) -> String {
        let description = self.details.iter().find_map(|d| d.description.clone());
        let text = description
            .or_else(|| self.message.clone())
            .or_else(|| self.error_description.clone())
            .unwrap_or_else(|| "(no message)".into());
        match &self.debug_id {
            Some(debug) => format!("{text} (debug id {debug})"),
            None => text,
        }
    }
}

#[derive(Debug, Deserialize)]
struct WireAmount {
    currency_code: String,
    value: String,
}

#[derive(Debug, Deserialize)]
struct WireStatusDetails {
    #[serde(default)]
    reason: Option<String>,
}

#[derive(Debug, Deserialize)]
struct WireCapture {
    id: String,
    status: String,
    #[serde(default)]
    amount: Option<WireAmount>,
    #[serde(default)]
    status_details: Option<WireStatusDetails>,
}

#[derive(Debug, Default, Deserialize)]
struct WirePayments {
    #[serde(default)]
    captures: Vec<WireCapture>,
}

#[derive(Debug, Deserialize)]
struct WireUnit {
    #[serde(default)]
    reference_id: Option<String>,
    #[serde(default)]
    invoice_id: Option<String>,
    #[serde(default)]
    custom_id: Option<String>,
    amount: WireAmount,
    #[serde(default)]
    payments: Option<WirePayments>,
}

#[derive(Debug, Deserialize)]
struct WireOrder {
    id: String,
    status: String,
    #[serde(default)]
    purchase_units: Vec<WireUnit>,
    #[serde(default)]
    create_time: Option<String>,
}

/// Minor units as PayPal's decimal string: `1234` EUR → `"12.34"`, `500` JPY → `"500"`.
pub fn decimal_value(amount: Money) -> String {
    let exponent = u32::from(amount.currency().exponent());
    let minor = amount.minor();
    if exponent == 0 {
        return minor.to_string();
    }
    let scale = 10i64.pow(exponent);
    format!(
        "{}.{:0width$}",
        minor / scale,
        minor % scale,
        width = exponent as usize
    )
}

/// PayPal's `amount` object for a [`Money`].
pub(crate) fn amount_json(amount: Money) -> Value {
    json!({ "currency_code": amount.currency().code(), "value": decimal_value(amount) })
}

/// PayPal's decimal string back into minor units: digits, at most the currency's exponent of
/// decimals, no sign, no exponent notation.
pub fn parse_decimal(value: &str, currency: &str) -> Result<Money, ParseError> {
    let currency = Currency::from_code(currency)
        .map_err(|e| ParseError(format!("currency {currency:?}: {e}")))?;
    let bad = || ParseError(format!("amount {value:?} is not a {currency} amount"));
    let (whole, fraction) = value.split_once('.').unwrap_or((value, ""));
    let digits = |s: &str| !s.is_empty() && s.len() <= 15 && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || (value.contains('.') && !digits(fraction)) {
        return Err(bad());
    }
    let exponent = usize::from(currency.exponent());
    if fraction.len() > exponent {
        return Err(bad());
    }
    let padded = format!("{fraction:0<exponent$}");
    let fraction_minor = if padded.is_empty() {
        0
    } else {
        padded.parse::<i64>().map_err(|_| bad())?
    };
    let minor = whole
        .parse::<i64>()
        .ok()
        .and_then(|w| w.checked_mul(10i64.pow(currency.exponent().into())))
        .and_then(|w| w.checked_add(fraction_minor))
        .ok_or_else(bad)?;
    Money::new(minor, currency).map_err(|e| ParseError(format!("amount {value:?}: {e}")))
}

/// `2026-11-30T16:48:06Z` (optionally with fractions or an offset) as Unix seconds; 0 when absent
/// or unreadable (a display field, never a decision).
fn unix_seconds(time: Option<&str>) -> i64 {
    let Some(t) = time else { return 0 };
    let num = |range: std::ops::Range<usize>| t.get(range).and_then(|s| s.parse::<i64>().ok());
    let (Some(y), Some(m), Some(d), Some(hh), Some(mm), Some(ss)) = (
        num(0..4),
        num(5..7),
        num(8..10),
        num(11..13),
        num(14..16),
        num(17..19),
    ) else {
        return 0;
    };
    // Howard Hinnant's days-from-civil.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    days * 86_400 + hh * 3600 + mm * 60 + ss
}

/// Capture statuses in which money reached the merchant (later refunds do not undo the payment).
fn is_paid(status: &str) -> bool {
    matches!(status, "COMPLETED" | "PARTIALLY_REFUNDED" | "REFUNDED")
}

/// An Orders v2 order as an [`IntentView`]. `livemode` is the connector's (PayPal's order does not
/// say which environment it lives in).
pub fn parse_order(object: &Value, livemode: bool) -> Result<IntentView, ParseError> {
    let order: WireOrder = serde_json::from_value(object.clone())
        .map_err(|e| ParseError(format!("PayPal order: {e}")))?;
    if !matches!(
        order.status.as_str(),
        "CREATED" | "SAVED" | "APPROVED" | "VOIDED" | "COMPLETED" | "PAYER_ACTION_REQUIRED"
    ) {
        return Err(ParseError(format!(
            "PayPal order {} has the unknown status {:?}",
            order.id, order.status
        )));
    }
    let [unit] = order.purchase_units.as_slice() else {
        return Err(ParseError(format!(
            "PayPal order {} has {} purchase units; Paydesk makes exactly one",
            order.id,
            order.purchase_units.len()
        )));
    };
    let amount = parse_decimal(&unit.amount.value, &unit.amount.currency_code)?;
    let captures = unit
        .payments
        .as_ref()
        .map(|p| p.captures.as_slice())
        .unwrap_or_default();
    for c in captures {
        if !matches!(
            c.status.as_str(),
            "COMPLETED" | "DECLINED" | "PARTIALLY_REFUNDED" | "PENDING" | "REFUNDED" | "FAILED"
        ) {
            return Err(ParseError(format!(
                "capture {} of PayPal order {} has the unknown status {:?}",
                c.id, order.id, c.status
            )));
        }
    }
    let paid: Vec<&WireCapture> = captures.iter().filter(|c| is_paid(&c.status)).collect();
    let mut received = 0i64;
    for c in &paid {
        let a = c
            .amount
            .as_ref()
            .map(|a| parse_decimal(&a.value, &a.currency_code))
            .transpose()?
            .unwrap_or(amount);
        received = received.saturating_add(a.minor());
    }
    let last = captures.last();
    let reason_of = |c: &WireCapture| {
        c.status_details
            .as_ref()
            .and_then(|d| d.reason.clone())
            .unwrap_or_else(|| c.status.clone())
    };
    let mut last_payment_error = None;
    let status = if !paid.is_empty() {
        IntentStatus::Succeeded
    } else if captures.iter().any(|c| c.status == "PENDING") {
        // Pending at PayPal (review, eCheck): never paid until a capture says COMPLETED.
        IntentStatus::Processing
    } else if order.status == "PAYER_ACTION_REQUIRED" {
        IntentStatus::RequiresAction
    } else if let Some(c) = last.filter(|c| matches!(c.status.as_str(), "DECLINED" | "FAILED")) {
        last_payment_error = Some(PaymentError {
            error_type: None,
            code: Some(c.status.clone()),
            decline_code: c.status_details.as_ref().and_then(|d| d.reason.clone()),
            advice_code: None,
            message: None,
        });
        IntentStatus::RequiresPaymentMethod {
            reason: reason_of(c),
        }
    } else {
        match order.status.as_str() {
            "VOIDED" => IntentStatus::Canceled,
            "COMPLETED" => {
                return Err(ParseError(format!(
                    "PayPal order {} is COMPLETED without a capture to judge it by (was \
                     `Prefer: return=representation` dropped?)",
                    order.id
                )))
            }
            _ => IntentStatus::RequiresConfirmation,
        }
    };
    let status_raw = match last {
        Some(c) => format!("order {}, capture {}", order.status, c.status),
        None => format!("order {}", order.status),
    };
    let mut metadata = BTreeMap::new();
    if let Some(invoice) = &unit.invoice_id {
        metadata.insert(META_ORDER.to_string(), invoice.clone());
    }
    if let Some(custom) = &unit.custom_id {
        let mut parts = custom.splitn(3, '|');
        for key in [META_ATTEMPT, META_ATTEMPT_NUMBER, META_TERMINAL] {
            if let Some(v) = parts.next().filter(|v| !v.is_empty()) {
                metadata.insert(key.to_string(), v.to_string());
            }
        }
    }
    if let Some(source) = &unit.reference_id {
        metadata.insert(META_SOURCE.to_string(), source.clone());
    }
    Ok(IntentView {
        id: GatewayIntentId::new(order.id.clone())
            .map_err(|e| ParseError(format!("PayPal order id: {e}")))?,
        status,
        status_raw,
        amount,
        amount_received: Some(received),
        metadata,
        latest_charge: paid.last().copied().or(last).map(|c| c.id.clone()),
        customer: None,
        payment_method: unit.reference_id.clone(),
        last_payment_error,
        next_action: (order.status == "PAYER_ACTION_REQUIRED").then(|| "payer-action".into()),
        next_action_url: None,
        cancellation_reason: None,
        created: unix_seconds(order.create_time.as_deref()),
        livemode,
    })
}

/// The id of the capture that holds the order's money, for a refund (also when it is refunded
/// already: PayPal then says `CAPTURE_FULLY_REFUNDED`, not this code).
pub(crate) fn paid_capture(object: &Value) -> Option<String> {
    object["purchase_units"][0]["payments"]["captures"]
        .as_array()?
        .iter()
        .find(|c| c["status"].as_str().is_some_and(is_paid))
        .and_then(|c| c["id"].as_str().map(str::to_string))
}

/// The order a capture belongs to: `supplementary_data.related_ids.order_id`, else the `up` link.
pub(crate) fn capture_order(capture: &Value) -> Option<String> {
    capture["supplementary_data"]["related_ids"]["order_id"]
        .as_str()
        .map(str::to_string)
        .or_else(|| {
            capture["links"].as_array().and_then(|links| {
                links
                    .iter()
                    .find(|l| l["rel"] == "up")
                    .and_then(|l| l["href"].as_str())
                    .and_then(|h| h.rsplit('/').next())
                    .map(str::to_string)
            })
        })
}

/// A capture (`/v2/payments/captures/{id}`) as a [`ChargeView`]; `refunded_minor` is the sum of
/// the order's completed and pending refunds (the capture object does not carry it).
pub fn parse_capture(capture: &Value, refunded_minor: i64) -> Result<ChargeView, ParseError> {
    let id = capture["id"]
        .as_str()
        .ok_or_else(|| ParseError("PayPal capture without an id".into()))?;
    let status = capture["status"].as_str().unwrap_or_default();
    if !matches!(
        status,
        "COMPLETED" | "DECLINED" | "PARTIALLY_REFUNDED" | "PENDING" | "REFUNDED" | "FAILED"
    ) {
        return Err(ParseError(format!(
            "PayPal capture {id} has the unknown status {status:?}"
        )));
    }
    let amount = parse_decimal(
        capture["amount"]["value"].as_str().unwrap_or_default(),
        capture["amount"]["currency_code"]
            .as_str()
            .unwrap_or_default(),
    )?;
    let paid = is_paid(status);
    Ok(ChargeView {
        id: id.to_string(),
        status: status.to_ascii_lowercase(),
        amount,
        amount_captured: if paid { amount.minor() } else { 0 },
        amount_refunded: refunded_minor,
        paid,
        refunded: status == "REFUNDED",
        disputed: false,
        payment_intent: capture_order(capture),
        failure_code: (!paid && status != "PENDING").then(|| {
            capture["status_details"]["reason"]
                .as_str()
                .unwrap_or(status)
                .to_string()
        }),
        metadata: BTreeMap::new(),
        created: unix_seconds(capture["create_time"].as_str()),
    })
}

/// The minor units refunded (completed or pending) from an order's refunds.
pub(crate) fn refunded_minor(order: &Value) -> Result<i64, ParseError> {
    let mut total = 0i64;
    for r in order["purchase_units"][0]["payments"]["refunds"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        if matches!(r["status"].as_str(), Some("COMPLETED" | "PENDING")) {
            let amount = parse_decimal(
                r["amount"]["value"].as_str().unwrap_or_default(),
                r["amount"]["currency_code"].as_str().unwrap_or_default(),
            )?;
            total = total.saturating_add(amount.minor());
        }
    }
    Ok(total)
}

/// A PayPal refund (`/v2/payments/refunds/{id}` or the answer to a refund) as a [`RefundView`].
pub fn parse_refund(object: &Value) -> Result<RefundView, ParseError> {
    let id = object["id"]
        .as_str()
        .ok_or_else(|| ParseError("PayPal refund without an id".into()))?;
    let status = match object["status"].as_str() {
        Some("COMPLETED") => RefundStatus::Succeeded,
        Some("PENDING") => RefundStatus::Pending,
        Some("FAILED") => RefundStatus::Failed,
        Some("CANCELLED") => RefundStatus::Canceled,
        other => {
            return Err(ParseError(format!(
                "PayPal refund {id} has the unknown status {other:?}"
            )))
        }
    };
    let amount = parse_decimal(
        object["amount"]["value"].as_str().unwrap_or_default(),
        object["amount"]["currency_code"]
            .as_str()
            .unwrap_or_default(),
    )?;
    let related = &object["supplementary_data"]["related_ids"];
    let capture = related["capture_id"]
        .as_str()
        .map(str::to_string)
        .or_else(|| {
            object["links"].as_array().and_then(|links| {
                links
                    .iter()
                    .find(|l| l["rel"] == "up")
                    .and_then(|l| l["href"].as_str())
                    .and_then(|h| h.rsplit('/').next())
                    .map(str::to_string)
            })
        });
    Ok(RefundView {
        id: id.to_string(),
        status,
        amount,
        payment_intent: related["order_id"].as_str().map(str::to_string),
        charge: capture,
        reason: object["note_to_payer"].as_str().map(str::to_string),
        failure_reason: object["status_details"]["reason"]
            .as_str()
            .map(str::to_string),
        metadata: BTreeMap::new(),
        created: unix_seconds(object["create_time"].as_str()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(status: &str, captures: Value) -> Value {
        json!({
            "id": "5O190127TN364715T",
            "status": status,
            "create_time": "2026-11-30T16:48:06Z",
            "purchase_units": [{
                "reference_id": "card:vault_approve",
                "invoice_id": "demo-1001",
                "custom_id": "0192a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b|2|T-1",
                "amount": { "currency_code": "EUR", "value": "129.00" },
                "payments": { "captures": captures },
            }],
        })
    }

    #[test]
    fn money_travels_as_decimal_strings_without_floats() {
        let eur = Currency::from_code("EUR").unwrap();
        assert_eq!(decimal_value(Money::new(12_900, eur).unwrap()), "129.00");
        assert_eq!(decimal_value(Money::new(5, eur).unwrap()), "0.05");
        let jpy = Currency::from_code("JPY").unwrap();
        assert_eq!(decimal_value(Money::new(500, jpy).unwrap()), "500");
        let kwd = Currency::from_code("KWD").unwrap();
        assert_eq!(decimal_value(Money::new(1_234, kwd).unwrap()), "1.234");
        assert_eq!(parse_decimal("129.00", "EUR").unwrap().minor(), 12_900);
        assert_eq!(parse_decimal("129", "EUR").unwrap().minor(), 12_900);
        assert_eq!(parse_decimal("0.5", "EUR").unwrap().minor(), 50);
        for bad in ["1.005", "-1.00", "1e2", "", ".5", "1."] {
            assert!(parse_decimal(bad, "EUR").is_err(), "{bad}");
        }
        assert!(parse_decimal("1.00", "XYZ").is_err());
    }

    #[test]
    fn the_capture_decides_never_the_order() {
        let declined = order(
            "COMPLETED",
            json!([{ "id": "C1", "status": "DECLINED", "status_details": { "reason": "DECLINED_BY_RISK_FRAUD_FILTERS" } }]),
        );
        let view = parse_order(&declined, false).unwrap();
        assert_eq!(
            view.status,
            IntentStatus::RequiresPaymentMethod {
                reason: "DECLINED_BY_RISK_FRAUD_FILTERS".into()
            }
        );
        assert_eq!(view.amount_received, Some(0));

        let paid = order(
            "COMPLETED",
            json!([{ "id": "C2", "status": "COMPLETED", "amount": { "currency_code": "EUR", "value": "129.00" } }]),
        );
        let view = parse_order(&paid, false).unwrap();
        assert_eq!(view.status, IntentStatus::Succeeded);
        assert_eq!(view.amount_received, Some(12_900));
        assert_eq!(view.latest_charge.as_deref(), Some("C2"));
        assert_eq!(view.meta(META_ORDER), Some("demo-1001"));
        assert_eq!(view.meta(META_ATTEMPT_NUMBER), Some("2"));
        assert_eq!(view.meta(META_TERMINAL), Some("T-1"));
        assert_eq!(view.meta(META_SOURCE), Some("card:vault_approve"));
        assert_eq!(view.created, 1_796_057_286);

        let pending = order(
            "COMPLETED",
            json!([{ "id": "C3", "status": "PENDING", "status_details": { "reason": "PENDING_REVIEW" } }]),
        );
        assert_eq!(
            parse_order(&pending, false).unwrap().status,
            IntentStatus::Processing
        );

        let action = order("PAYER_ACTION_REQUIRED", json!([]));
        assert_eq!(
            parse_order(&action, false).unwrap().status,
            IntentStatus::RequiresAction
        );

        let created = order("CREATED", json!([]));
        assert_eq!(
            parse_order(&created, false).unwrap().status,
            IntentStatus::RequiresConfirmation
        );

        // A COMPLETED order with nothing to judge it by, or an unknown word, is never a decline.
        assert!(parse_order(&order("COMPLETED", json!([])), false).is_err());
        assert!(parse_order(
            &order("COMPLETED", json!([{ "id": "C4", "status": "WEIRD" }])),
            false
        )
        .is_err());
        assert!(parse_order(&order("FROZEN", json!([])), false).is_err());
    }

    #[test]
    fn refunds_and_errors_parse() {
        let refund = json!({
            "id": "1JU08902781691411",
            "status": "COMPLETED",
            "amount": { "currency_code": "EUR", "value": "10.00" },
            "links": [{ "href": "https://api-m.paypal.com/v2/payments/captures/2GG279541U471931P", "rel": "up", "method": "GET" }],
        });
        let view = parse_refund(&refund).unwrap();
        assert_eq!(view.status, RefundStatus::Succeeded);
        assert_eq!(view.amount.minor(), 1_000);
        assert_eq!(view.charge.as_deref(), Some("2GG279541U471931P"));

        let error: WireError = serde_json::from_value(json!({
            "name": "UNPROCESSABLE_ENTITY",
            "details": [{ "issue": "INSTRUMENT_DECLINED", "description": "The instrument presented was declined." }],
            "message": "The requested action could not be performed.",
            "debug_id": "90957fca61718",
        }))
        .unwrap();
        assert!(error.is_issue("INSTRUMENT_DECLINED"));
        assert_eq!(error.reason(), "INSTRUMENT_DECLINED");
        assert!(error.text().contains("debug id 90957fca61718"));
    }
}

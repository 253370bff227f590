//! PayPal webhook events reduced to what the central acts on: the capture events and
//! `CHECKOUT.ORDER.COMPLETED`, each naming the PayPal order (the intent id Paydesk registered) and
//! the Paydesk order in `invoice_id`.
//!
//! As the connector does, an order's `COMPLETED` is not trusted: its captures' statuses decide.
//! Deliberately absent: signature checks (`super`), storage and the effect on orders (the store),
//! and events the central does not act on beyond storing them (`Ignored`).

use paydesk_core::{GatewayIntentId, Money, OrderId};
use serde_json::Value;

/// What an event means for the central.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaypalEffect {
    /// A capture completed for this amount (for an order event: the sum of its completed
    /// captures).
    Completed { amount: Money },
    /// The capture was declined or failed.
    Denied,
    /// The capture is pending at PayPal: never paid.
    Pending,
    /// A refund of a capture (`PAYMENT.CAPTURE.REFUNDED`'s resource is the refund).
    Refunded { amount: Money, status: String },
    /// A type the central stores but does not act on.
    Ignored,
}

/// A verified PayPal event, reduced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaypalEvent {
    pub id: String,
    pub event_type: String,
    /// The capture, refund or PayPal order the resource is.
    pub resource_id: Option<String>,
    /// The capture a refund belongs to.
    pub capture_id: Option<String>,
    /// The PayPal order: what a terminal registered as the intent id.
    pub paypal_order_id: Option<String>,
    /// The Paydesk order named in `invoice_id`; proves much less than a registered intent.
    pub invoice_order_id: Option<String>,
    /// The resource says the capture completed: a capture event's own `status` is `COMPLETED`
    /// (an order event's effect already counts only completed captures). A
    /// `PAYMENT.CAPTURE.COMPLETED` whose resource says otherwise never pays an order.
    pub capture_completed: bool,
    pub effect: PaypalEffect,
}

fn clean(s: &&str) -> bool {
    !s.is_empty() && s.len() <= 255 && !s.chars().any(char::is_control)
}

fn text(v: &Value) -> Option<String> {
    v.as_str().filter(clean).map(str::to_string)
}

/// `{"currency_code": "EUR", "value": "12.50"}` as money.
fn money(v: &Value) -> Result<Money, String> {
    let (Some(code), Some(value)) = (v["currency_code"].as_str(), v["value"].as_str()) else {
        return Err("amount has no currency_code or value".into());
    };
    if code.len() != 3 || value.is_empty() || value.len() > 32 {
        return Err("amount is not a currency code and a decimal value".into());
    }
    Money::parse(&format!("{value} {code}")).map_err(|e| format!("amount {value} {code}: {e}"))
}

/// PayPal's refund status in the words the refunds table uses.
fn refund_status(s: Option<&str>) -> &'static str {
    match s {
        Some("COMPLETED") | None => "succeeded",
        Some("PENDING") => "pending",
        Some("CANCELLED") => "canceled",
        _ => "failed",
    }
}

impl PaypalEvent {
    /// Parses a verified payload. Errors say what is missing and are safe to return.
    pub fn parse(payload: &[u8]) -> Result<PaypalEvent, String> {
        let v: Value =
            serde_json::from_slice(payload).map_err(|e| format!("event is not valid JSON: {e}"))?;
        let id = text(&v["id"]).ok_or("event has no usable id")?;
        let event_type = text(&v["event_type"]).ok_or("event has no usable event_type")?;
        let r = &v["resource"];
        if !r.is_object() {
            return Err("event has no resource".into());
        }
        let related = &r["supplementary_data"]["related_ids"];
        let mut event = PaypalEvent {
            id,
            resource_id: text(&r["id"]),
            capture_id: None,
            paypal_order_id: text(&related["order_id"]),
            invoice_order_id: text(&r["invoice_id"]),
            capture_completed: false,
            effect: PaypalEffect::Ignored,
            event_type,
        };
        event.effect = match event.event_type.as_str() {
            "PAYMENT.CAPTURE.COMPLETED" => PaypalEffect::Completed {
                amount: money(&r["amount"])?,
            },
            "PAYMENT.CAPTURE.DENIED" => PaypalEffect::Denied,
            "PAYMENT.CAPTURE.PENDING" => PaypalEffect::Pending,
            "PAYMENT.CAPTURE.REFUNDED" => {
                event.capture_id = text(&related["capture_id"]).or_else(|| up_link(r));
                PaypalEffect::Refunded {
                    amount: money(&r["amount"])?,
                    status: refund_status(r["status"].as_str()).to_string(),
                }
            }
            "CHECKOUT.ORDER.COMPLETED" => {
                event.paypal_order_id = text(&r["id"]);
                event.invoice_order_id = r["purchase_units"][0]["invoice_id"]
                    .as_str()
                    .filter(clean)
                    .map(str::to_string);
                order_effect(r)?
            }
            _ => PaypalEffect::Ignored,
        };
        event.capture_completed = match event.event_type.as_str() {
            "PAYMENT.CAPTURE.COMPLETED" => r["status"].as_str() == Some("COMPLETED"),
            "CHECKOUT.ORDER.COMPLETED" => matches!(event.effect, PaypalEffect::Completed { .. }),
            _ => false,
        };
        // An invoice id the central could not have set is treated as absent (it would be stored
        // as a value no later read can parse).
        event.invoice_order_id = event
            .invoice_order_id
            .filter(|o| OrderId::new(o.as_str()).is_ok());
        if let Some(order) = &event.paypal_order_id {
            GatewayIntentId::new(order.as_str()).map_err(|e| {
                format!(
                    "{} event names a malformed PayPal order: {e}",
                    event.event_type
                )
            })?;
        }
        if event.effect != PaypalEffect::Ignored
            && event.paypal_order_id.is_none()
            && event.invoice_order_id.is_none()
        {
            return Err(format!(
                "{} event names neither a PayPal order nor an invoice_id",
                event.event_type
            ));
        }
        Ok(event)
    }
}

/// The capture a refund's `up` link points at (`…/v2/payments/captures/{id}`).
fn up_link(r: &Value) -> Option<String> {
    r["links"]
        .as_array()?
        .iter()
        .find(|l| l["rel"] == "up")
        .and_then(|l| l["href"].as_str())
        .and_then(|h| h.rsplit('/').next())
        .filter(clean)
        .map(str::to_string)
}

/// An order's effect from its captures, never from the order's own status.
fn order_effect(order: &Value) -> Result<PaypalEffect, String> {
    let captures: Vec<&Value> = order["purchase_units"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|u| u["payments"]["captures"].as_array().into_iter().flatten())
        .collect();
    let status = |c: &&Value| c["status"].as_str().unwrap_or_default().to_string();
    let completed: Vec<&Value> = captures
        .iter()
        .filter(|c| {
            matches!(
                status(c).as_str(),
                "COMPLETED" | "PARTIALLY_REFUNDED" | "REFUNDED"
            )
        })
        .copied()
        .collect();
    if let Some(first) = completed.first() {
        let mut total = money(&first["amount"])?;
        for c in &completed[1..] {
            let more = money(&c["amount"])?;
            total = total
                .checked_add(more)
                .map_err(|e| format!("the order's captures do not add up: {e}"))?;
        }
        return Ok(PaypalEffect::Completed { amount: total });
    }
    Ok(if captures.iter().any(|c| status(c) == "PENDING") {
        PaypalEffect::Pending
    } else if captures
        .iter()
        .any(|c| matches!(status(c).as_str(), "DECLINED" | "FAILED"))
    {
        PaypalEffect::Denied
    } else {
        PaypalEffect::Ignored
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<PaypalEvent, String> {
        PaypalEvent::parse(s.as_bytes())
    }

    #[test]
    fn capture_events_name_the_paypal_order_and_the_invoice() {
        let e = parse(
            r#"{"id":"WH-1","event_type":"PAYMENT.CAPTURE.COMPLETED","resource":{
                "id":"CAP1","status":"COMPLETED","amount":{"currency_code":"EUR","value":"12.50"},
                "invoice_id":"o-1","supplementary_data":{"related_ids":{"order_id":"PPO1"}}}}"#,
        )
        .unwrap();
        assert_eq!(
            (
                e.resource_id.as_deref(),
                e.paypal_order_id.as_deref(),
                e.invoice_order_id.as_deref()
            ),
            (Some("CAP1"), Some("PPO1"), Some("o-1"))
        );
        assert_eq!(
            e.effect,
            PaypalEffect::Completed {
                amount: Money::parse("12.50 EUR").unwrap()
            }
        );
        assert!(e.capture_completed);
        // A capture-completed event whose capture says otherwise is never counted as paid.
        let odd = parse(
            r#"{"id":"WH-9","event_type":"PAYMENT.CAPTURE.COMPLETED","resource":{
                "id":"CAP9","status":"PENDING","amount":{"currency_code":"EUR","value":"12.50"},
                "invoice_id":"o-1","supplementary_data":{"related_ids":{"order_id":"PPO1"}}}}"#,
        )
        .unwrap();
        assert!(!odd.capture_completed);
        let denied = parse(
            r#"{"id":"WH-2","event_type":"PAYMENT.CAPTURE.DENIED","resource":{"id":"CAP2",
                "status":"DECLINED","supplementary_data":{"related_ids":{"order_id":"PPO2"}}}}"#,
        )
        .unwrap();
        assert_eq!(denied.effect, PaypalEffect::Denied);
        let refund = parse(
            r#"{"id":"WH-3","event_type":"PAYMENT.CAPTURE.REFUNDED","resource":{"id":"REF1",
                "status":"COMPLETED","amount":{"currency_code":"JPY","value":"500"},
                "invoice_id":"o-3","links":[{"rel":"up","href":"https://x/v2/payments/captures/CAP3"}]}}"#,
        )
        .unwrap();
        assert_eq!(refund.capture_id.as_deref(), Some("CAP3"));
        assert_eq!(
            refund.effect,
            PaypalEffect::Refunded {
                amount: Money::parse("500 JPY").unwrap(),
                status: "succeeded".into()
            }
        );
    }

    #[test]
    fn an_order_completed_is_judged_by_its_captures() {
        let order = |statuses: &[&str]| {
            let caps: Vec<String> = statuses
                .iter()
                .map(|s| {
                    format!(r#"{{"id":"C","status":"{s}","amount":{{"currency_code":"EUR","value":"5.00"}}}}"#)
                })
                .collect();
            format!(
                r#"{{"id":"WH-4","event_type":"CHECKOUT.ORDER.COMPLETED","resource":{{"id":"PPO4",
                "status":"COMPLETED","purchase_units":[{{"invoice_id":"o-4","payments":{{"captures":[{}]}}}}]}}}}"#,
                caps.join(",")
            )
        };
        let e = parse(&order(&["DECLINED"])).unwrap();
        assert_eq!(e.effect, PaypalEffect::Denied);
        assert_eq!(e.paypal_order_id.as_deref(), Some("PPO4"));
        assert_eq!(e.invoice_order_id.as_deref(), Some("o-4"));
        assert_eq!(
            parse(&order(&["PENDING"])).unwrap().effect,
            PaypalEffect::Pending
        );
        assert_eq!(parse(&order(&[])).unwrap().effect, PaypalEffect::Ignored);
        assert_eq!(
            parse(&order(&["DECLINED", "COMPLETED"])).unwrap().effect,
            PaypalEffect::Completed {
                amount: Money::parse("5.00 EUR").unwrap()
            }
        );
    }

    #[test]
    fn unusable_events_are_refused_in_words() {
        for (body, says) in [
            ("not json", "not valid JSON"),
            (r#"{"event_type":"X","resource":{}}"#, "no usable id"),
            (r#"{"id":"WH","event_type":"X"}"#, "no resource"),
            (
                r#"{"id":"WH","event_type":"PAYMENT.CAPTURE.COMPLETED","resource":{"id":"C"}}"#,
                "no currency_code",
            ),
            (
                r#"{"id":"WH","event_type":"PAYMENT.CAPTURE.DENIED","resource":{"id":"C"}}"#,
                "neither a PayPal order nor an invoice_id",
            ),
            (
                r#"{"id":"WH","event_type":"PAYMENT.CAPTURE.DENIED","resource":{"id":"C",
                "supplementary_data":{"related_ids":{"order_id":"bad id/x"}}}}"#,
                "malformed PayPal order",
            ),
        ] {
            let e = parse(body).unwrap_err();
            assert!(e.contains(says), "{body}: {e}");
        }
        let ignored = parse(r#"{"id":"WH","event_type":"CUSTOMER.DISPUTE.CREATED","resource":{}}"#);
        assert_eq!(ignored.unwrap().effect, PaypalEffect::Ignored);
    }
}

//! Stripe webhooks: verifying the `Stripe-Signature` header and reading the few event types the
//! central acts on.
//!
//! Verification is Stripe's scheme: HMAC-SHA256 over `"{t}.{payload}"` with each configured
//! secret (several during a rotation), compared in constant time against every `v1` value, with
//! a tolerance on the timestamp. Deliberately absent: storage and the effect on orders (the store
//! applies events in the same transaction that stores them) and reading the clock (`now` is passed).

use hmac::{Hmac, Mac};
use paydesk_core::{Currency, GatewayIntentId, Money, OrderId};
use serde_json::Value;
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// How far a signature's timestamp may be from the server's clock, in seconds (Stripe's default).
pub const SIGNATURE_TOLERANCE_S: i64 = 300;
/// Most `v1` values accepted in one header; Stripe sends one per active secret.
const SIGNATURES_MAX: usize = 8;

/// Why a webhook was refused. The messages are safe to return to the sender.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("missing Stripe-Signature header")]
    Missing,
    #[error("malformed Stripe-Signature header: expected t=<unix seconds>,v1=<hex>")]
    Malformed,
    #[error("signature timestamp is outside the {SIGNATURE_TOLERANCE_S} s tolerance")]
    Expired,
    #[error("no signature matches the payload")]
    Mismatch,
}

/// Computes the `v1` signature (lower-case hex) of a payload, as Stripe does.
pub fn sign(secret: &str, timestamp_s: i64, payload: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC accepts keys of any length");
    mac.update(timestamp_s.to_string().as_bytes());
    mac.update(b".");
    mac.update(payload);
    hex::encode(mac.finalize().into_bytes())
}

/// Verifies a `Stripe-Signature` header against the payload with any of `secrets`.
pub fn verify(
    header: Option<&str>,
    payload: &[u8],
    secrets: &[String],
    now_s: i64,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let mut timestamp: Option<i64> = None;
    let mut signatures: Vec<Vec<u8>> = Vec::new();
    for part in header.split(',') {
        let (key, value) = part
            .trim()
            .split_once('=')
            .ok_or(SignatureError::Malformed)?;
        match key {
            "t" => {
                if timestamp.is_some() {
                    return Err(SignatureError::Malformed);
                }
                timestamp = Some(value.parse().map_err(|_| SignatureError::Malformed)?);
            }
            "v1" => {
                if signatures.len() >= SIGNATURES_MAX {
                    return Err(SignatureError::Malformed);
                }
                signatures.push(hex::decode(value).map_err(|_| SignatureError::Malformed)?);
            }
            // Other schemes (v0 is Stripe's test scheme) are ignored, as Stripe's libraries do.
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed);
    }
    // `abs_diff` cannot overflow, whatever the header says (t=-2^63 used to panic here).
    if now_s.abs_diff(timestamp) > SIGNATURE_TOLERANCE_S.unsigned_abs() {
        return Err(SignatureError::Expired);
    }
    let mut matched = false;
    for secret in secrets {
        let expected = hex::decode(sign(secret, timestamp, payload)).expect("we encoded it");
        for given in &signatures {
            // Every comparison runs to the end so timing reveals nothing about which matched.
            matched |= bool::from(expected.ct_eq(given));
        }
    }
    if matched {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// What an event means for the central.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventEffect {
    Succeeded {
        amount: Money,
    },
    PaymentFailed,
    /// `amount_refunded` is the charge's cumulative refunded amount in minor units.
    Refunded {
        amount_refunded: i64,
    },
    /// A refund object on its own (`refund.created`, `refund.updated`, `charge.refund.updated`):
    /// the refund is in [`WebhookEvent::refunds`].
    Refund,
    Disputed,
    /// A type the central stores but does not act on.
    Ignored,
}

/// One refund a `charge.refunded` event lists (the charge's `refunds.data[]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundSeen {
    pub refund_id: String,
    pub amount_minor: i64,
    /// Stripe's refund status (`succeeded`, `pending`, `failed`, `canceled`, …).
    pub status: String,
}

/// A verified event, reduced to what the central needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookEvent {
    pub id: String,
    pub event_type: String,
    pub effect: EventEffect,
    intent_id: Option<String>,
    metadata_order_id: Option<String>,
    /// For `charge.refunded`: the charge, and the refunds it lists (possibly only the first
    /// page: `amount_refunded` stays the cumulative floor).
    pub charge_id: Option<String>,
    pub refunds: Vec<RefundSeen>,
    /// For a payment intent event: the customer and payment method it charged. A success pays
    /// an order only when both are the order's (H4).
    pub customer: Option<String>,
    pub payment_method: Option<String>,
    /// The event's `livemode`, when it says; a central refuses events of the other mode (M6).
    pub livemode: Option<bool>,
}

impl WebhookEvent {
    /// The payment intent the event concerns.
    pub fn intent_id(&self) -> Option<&str> {
        self.intent_id.as_deref()
    }

    /// The order named in the intent's metadata, when the event carries it.
    pub fn metadata_order_id(&self) -> Option<&str> {
        self.metadata_order_id.as_deref()
    }

    /// Parses a verified payload. Errors say what is missing and are safe to return.
    pub fn parse(payload: &[u8]) -> Result<WebhookEvent, String> {
        let v: Value =
            serde_json::from_slice(payload).map_err(|e| format!("event is not valid JSON: {e}"))?;
        // Control characters (a NUL above all) cannot be stored in PostgreSQL text: refused here
        // as bad input rather than failing in the database.
        let clean = |s: &&str| !s.is_empty() && s.len() <= 255 && !s.chars().any(char::is_control);
        let id = v["id"]
            .as_str()
            .filter(clean)
            .ok_or("event has no usable id")?
            .to_string();
        let event_type = v["type"]
            .as_str()
            .filter(clean)
            .ok_or("event has no usable type")?
            .to_string();
        let object = &v["data"]["object"];
        if !object.is_object() {
            return Err("event has no data.object".into());
        }
        let text = |field: &str| object[field].as_str().filter(clean).map(str::to_string);
        // Only an order id the central could have issued: anything else would be stored (on a
        // flag) as a value no later read can parse, so it is treated as absent.
        let metadata_order_id = object["metadata"]["order_id"]
            .as_str()
            .filter(|s| OrderId::new(*s).is_ok())
            .map(str::to_string);
        let mut refunds = Vec::new();
        let (effect, intent_id) = match event_type.as_str() {
            "payment_intent.succeeded" => {
                let minor = object["amount_received"]
                    .as_i64()
                    .or_else(|| object["amount"].as_i64())
                    .ok_or("payment_intent has no amount")?;
                let currency = object["currency"]
                    .as_str()
                    .ok_or("payment_intent has no currency")?;
                let currency = Currency::from_code(currency).map_err(|e| e.to_string())?;
                let amount = Money::new(minor, currency).map_err(|e| e.to_string())?;
                (EventEffect::Succeeded { amount }, text("id"))
            }
            "payment_intent.payment_failed" => (EventEffect::PaymentFailed, text("id")),
            "charge.refunded" => {
                for r in object["refunds"]["data"].as_array().into_iter().flatten() {
                    refunds.push(refund_seen(r)?);
                }
                refunded_effect(object, &text)?
            }
            "refund.created" | "refund.updated" | "charge.refund.updated" => {
                refunds.push(refund_seen(object)?);
                (EventEffect::Refund, text("payment_intent"))
            }
            "charge.dispute.created" => (EventEffect::Disputed, text("payment_intent")),
            _ => (EventEffect::Ignored, None),
        };
        if !matches!(effect, EventEffect::Ignored) && intent_id.is_none() {
            return Err(format!("{event_type} event names no payment intent"));
        }
        // The intent id is stored on the order and read back as a typed id: a malformed one
        // (`pi bad/id`) is refused here rather than poisoning every later read of the order.
        if let Some(intent) = &intent_id {
            GatewayIntentId::new(intent.as_str())
                .map_err(|e| format!("{event_type} event names a malformed intent: {e}"))?;
        }
        // Expanded objects (`{"id": …}`) are read by their id.
        let id_of = |field: &str| {
            object[field]
                .as_str()
                .or_else(|| object[field]["id"].as_str())
                .filter(clean)
                .map(str::to_string)
        };
        let (customer, payment_method) = if event_type.starts_with("payment_intent.") {
            (id_of("customer"), id_of("payment_method"))
        } else {
            (None, None)
        };
        let charge_id = match effect {
            EventEffect::Refunded { .. } => text("id"),
            EventEffect::Refund => text("charge"),
            _ => None,
        };
        Ok(WebhookEvent {
            id,
            event_type,
            effect,
            intent_id,
            metadata_order_id,
            charge_id,
            refunds,
            customer,
            payment_method,
            livemode: v["livemode"].as_bool(),
        })
    }
}

/// A refund object (in a charge's `refunds.data[]`, or an event's own object).
fn refund_seen(r: &Value) -> Result<RefundSeen, String> {
    let clean = |s: &&str| !s.is_empty() && s.len() <= 255 && !s.chars().any(char::is_control);
    let (Some(id), Some(amount)) = (
        r["id"].as_str().filter(clean),
        r["amount"].as_i64().filter(|a| *a >= 0),
    ) else {
        return Err("a refund has no usable id or amount".into());
    };
    Ok(RefundSeen {
        refund_id: id.to_string(),
        amount_minor: amount,
        status: r["status"]
            .as_str()
            .filter(clean)
            .unwrap_or("succeeded")
            .to_string(),
    })
}

/// The effect of a `charge.refunded` event and the intent it names.
fn refunded_effect(
    object: &Value,
    text: &dyn Fn(&str) -> Option<String>,
) -> Result<(EventEffect, Option<String>), String> {
    Ok((
        EventEffect::Refunded {
            amount_refunded: object["amount_refunded"]
                .as_i64()
                .filter(|a| *a >= 0)
                .ok_or("charge has no amount_refunded")?,
        },
        text("payment_intent"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_795_000_000;
    const BODY: &[u8] = br#"{"id":"evt_1","type":"payment_intent.succeeded"}"#;

    fn secrets(s: &[&str]) -> Vec<String> {
        s.iter().map(|s| s.to_string()).collect()
    }

    fn header(secret: &str, t: i64, body: &[u8]) -> String {
        format!("t={t},v1={}", sign(secret, t, body))
    }

    #[test]
    fn valid_signature_verifies() {
        let h = header("whsec_a", NOW, BODY);
        assert_eq!(verify(Some(&h), BODY, &secrets(&["whsec_a"]), NOW), Ok(()));
    }

    #[test]
    fn tampered_body_is_refused() {
        let h = header("whsec_a", NOW, BODY);
        let tampered = br#"{"id":"evt_1","type":"payment_intent.succeedeD"}"#;
        assert_eq!(
            verify(Some(&h), tampered, &secrets(&["whsec_a"]), NOW),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn wrong_secret_is_refused() {
        let h = header("whsec_other", NOW, BODY);
        assert_eq!(
            verify(Some(&h), BODY, &secrets(&["whsec_a"]), NOW),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn timestamps_outside_the_tolerance_are_refused() {
        for t in [
            NOW - SIGNATURE_TOLERANCE_S - 1,
            NOW + SIGNATURE_TOLERANCE_S + 1,
        ] {
            let h = header("whsec_a", t, BODY);
            assert_eq!(
                verify(Some(&h), BODY, &secrets(&["whsec_a"]), NOW),
                Err(SignatureError::Expired)
            );
        }
        let h = header("whsec_a", NOW - SIGNATURE_TOLERANCE_S, BODY);
        assert_eq!(verify(Some(&h), BODY, &secrets(&["whsec_a"]), NOW), Ok(()));
    }

    #[test]
    fn rotated_secrets_and_multiple_v1_values_verify() {
        // Header signed with the old secret only; the server knows old and new.
        let h = header("whsec_old", NOW, BODY);
        assert_eq!(
            verify(Some(&h), BODY, &secrets(&["whsec_new", "whsec_old"]), NOW),
            Ok(())
        );
        // Stripe signs with both during a rotation; the server knows only the new one.
        let h = format!(
            "t={NOW},v1={},v1={}",
            sign("whsec_old", NOW, BODY),
            sign("whsec_new", NOW, BODY)
        );
        assert_eq!(
            verify(Some(&h), BODY, &secrets(&["whsec_new"]), NOW),
            Ok(())
        );
    }

    /// M3: a timestamp of -2^63 is out of tolerance, not an overflow (this runs in debug).
    #[test]
    fn an_extreme_timestamp_is_expired_not_a_panic() {
        let h = "t=-9223372036854775808,v1=00";
        assert_eq!(
            verify(Some(h), BODY, &secrets(&["whsec_a"]), NOW),
            Err(SignatureError::Expired)
        );
        assert_eq!(
            verify(Some(h), BODY, &secrets(&["whsec_a"]), i64::MAX),
            Err(SignatureError::Expired)
        );
    }

    #[test]
    fn malformed_headers_are_refused() {
        let good = sign("whsec_a", NOW, BODY);
        for h in [
            String::new(),
            "garbage".to_string(),
            format!("v1={good}"),
            format!("t={NOW}"),
            format!("t=abc,v1={good}"),
            format!("t={NOW},v1=zz"),
            format!("t={NOW},t={NOW},v1={good}"),
        ] {
            assert_eq!(
                verify(Some(&h), BODY, &secrets(&["whsec_a"]), NOW),
                Err(SignatureError::Malformed),
                "{h:?}"
            );
        }
        assert_eq!(
            verify(None, BODY, &secrets(&["whsec_a"]), NOW),
            Err(SignatureError::Missing)
        );
    }

    #[test]
    fn parses_the_events_the_central_acts_on() {
        let e = WebhookEvent::parse(
            br#"{"id":"evt_9","type":"payment_intent.succeeded","data":{"object":
                {"id":"pi_1","amount":1250,"amount_received":1250,"currency":"eur",
                 "customer":"cus_1","payment_method":{"id":"pm_1"},
                 "metadata":{"order_id":"o-1"}}},"livemode":false}"#,
        )
        .unwrap();
        assert_eq!(e.intent_id(), Some("pi_1"));
        assert_eq!(
            (
                e.customer.as_deref(),
                e.payment_method.as_deref(),
                e.livemode
            ),
            (Some("cus_1"), Some("pm_1"), Some(false))
        );
        assert_eq!(e.metadata_order_id(), Some("o-1"));
        assert_eq!(
            e.effect,
            EventEffect::Succeeded {
                amount: Money::parse("12.50 EUR").unwrap()
            }
        );
        let e = WebhookEvent::parse(
            br#"{"id":"evt_2","type":"charge.refunded","data":{"object":
                {"id":"ch_1","payment_intent":"pi_1","amount_refunded":500}}}"#,
        )
        .unwrap();
        assert_eq!(
            e.effect,
            EventEffect::Refunded {
                amount_refunded: 500
            }
        );
        assert!(WebhookEvent::parse(
            br#"{"id":"evt_3","type":"charge.refunded","data":{"object":{}}}"#
        )
        .is_err());
        let e = WebhookEvent::parse(
            br#"{"id":"evt_5","type":"charge.refunded","data":{"object":
                {"id":"ch_1","payment_intent":"pi_1","amount_refunded":500,"refunds":{"data":[
                 {"id":"re_1","amount":300,"status":"succeeded"},{"id":"re_2","amount":200}]}}}}"#,
        )
        .unwrap();
        assert_eq!(e.charge_id.as_deref(), Some("ch_1"));
        assert_eq!(
            e.refunds
                .iter()
                .map(|r| (r.refund_id.as_str(), r.amount_minor))
                .collect::<Vec<_>>(),
            [("re_1", 300), ("re_2", 200)]
        );
        let e = WebhookEvent::parse(
            br#"{"id":"evt_6","type":"refund.created","data":{"object":
                {"id":"re_3","object":"refund","amount":100,"charge":"ch_1",
                 "payment_intent":"pi_1","status":"succeeded"}}}"#,
        )
        .unwrap();
        assert_eq!(
            (e.effect.clone(), e.intent_id(), e.charge_id.as_deref()),
            (EventEffect::Refund, Some("pi_1"), Some("ch_1"))
        );
        assert_eq!(e.refunds[0].refund_id, "re_3");
        let e = WebhookEvent::parse(
            br#"{"id":"evt_4","type":"customer.created","data":{"object":{"id":"cus_1"}}}"#,
        )
        .unwrap();
        assert_eq!(e.effect, EventEffect::Ignored);
        assert!(WebhookEvent::parse(
            br#"{"id":"evt_\u0000","type":"customer.created","data":{"object":{}}}"#
        )
        .is_err());
    }
}

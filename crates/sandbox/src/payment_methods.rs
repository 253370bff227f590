//! Reading a saved payment method as the gateways describe it: Stripe's
//! `GET /v1/payment_methods/{id}` for its test PaymentMethods and PayPal's
//! `GET /v3/vault/payment-tokens/{id}` for the sandbox's vaulted test sources, with the card's
//! brand, last four digits and expiry (never a number: the sandbox has none to give).
//!
//! A test may change a card's expiry (`POST /admin/payment_methods/{id}` with `exp_month` and
//! `exp_year`), as an issuer's account updater does for a reissued card, so that reading it again
//! shows the new one. Deliberately absent: creating, attaching or detaching payment methods, and
//! persistence of those updates (they live in memory; an admin reset clears them).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::cards;
use crate::error::ApiError;
use crate::paypal::errors::PaypalError;
use crate::paypal::state;
use crate::server::Shared;

/// The expiry every test card has until a test changes it: far enough ahead that no demo or
/// test meets it by accident (Stripe's own test cards take any future date).
pub const TEST_CARD_EXPIRY: (u8, u16) = (12, 2030);

/// Cards whose expiry a test changed, by payment method or vault id.
#[derive(Debug, Default, Clone)]
pub struct CardUpdates(BTreeMap<String, (u8, u16)>);

impl CardUpdates {
    fn expiry(&self, id: &str) -> (u8, u16) {
        self.0.get(id).copied().unwrap_or(TEST_CARD_EXPIRY)
    }
}

/// `GET /v1/payment_methods/{id}`: a card PaymentMethod as Stripe renders it (the fields a
/// client reads; Stripe's test cards carry no billing name).
pub fn stripe_payment_method(id: &str, updates: &CardUpdates) -> Result<Value, ApiError> {
    let card = cards::find(id).ok_or_else(|| ApiError::not_found("PaymentMethod", id, "id"))?;
    let (exp_month, exp_year) = updates.expiry(id);
    Ok(json!({
        "id": card.id,
        "object": "payment_method",
        "type": "card",
        "billing_details": {
            "address": { "city": null, "country": null, "line1": null, "line2": null,
                         "postal_code": null, "state": null },
            "email": null, "name": null, "phone": null
        },
        "card": {
            "brand": card.brand,
            "display_brand": card.brand,
            "last4": card.last4,
            "exp_month": exp_month,
            "exp_year": exp_year,
            "funding": "credit",
            "country": "US"
        },
        "customer": null,
        "livemode": false,
        "metadata": {}
    }))
}

/// A vaulted test source: the card it stands for and the PayPal account it stands for. The
/// sandbox accepts each test vault id as `card` and as `paypal` (`state::VAULT_*`), so its token
/// describes both; PayPal's own tokens have one `payment_source` member, and the connector
/// reads the one the order names.
struct VaultSource {
    id: &'static str,
    /// PayPal's upper-case brand.
    brand: &'static str,
    last_digits: &'static str,
    holder: (&'static str, &'static str),
    email: &'static str,
}

const VAULT_SOURCES: &[VaultSource] = &[
    VaultSource {
        id: state::VAULT_APPROVE,
        brand: "VISA",
        last_digits: "1111",
        holder: ("Ada", "Lovelace"),
        email: "ada.lovelace@example.com",
    },
    VaultSource {
        id: state::VAULT_DECLINE,
        brand: "MASTERCARD",
        last_digits: "5100",
        holder: ("Blaise", "Pascal"),
        email: "blaise.pascal@example.com",
    },
    VaultSource {
        id: state::VAULT_INSTRUMENT_DECLINED,
        brand: "VISA",
        last_digits: "0002",
        holder: ("Carl", "Gauss"),
        email: "carl.gauss@example.com",
    },
    VaultSource {
        id: state::VAULT_EXPIRED,
        brand: "VISA",
        last_digits: "0069",
        holder: ("Dorothy", "Vaughan"),
        email: "dorothy.vaughan@example.com",
    },
    VaultSource {
        id: state::VAULT_PAYER_ACTION,
        brand: "VISA",
        last_digits: "3184",
        holder: ("Emmy", "Noether"),
        email: "emmy.noether@example.com",
    },
    VaultSource {
        id: state::VAULT_PENDING,
        brand: "AMEX",
        last_digits: "8431",
        holder: ("Felix", "Klein"),
        email: "felix.klein@example.com",
    },
];

/// The expired test card's expiry: `vault_card_expired` is refused at capture as expired, so
/// its token says so too.
const VAULT_EXPIRED_EXPIRY: (u8, u16) = (8, 2024);

/// `GET /v3/vault/payment-tokens/{id}` (Payment Method Tokens v3): `payment_source.card` with
/// `brand`, `last_digits`, `expiry` (`YYYY-MM`) and `name`, and `payment_source.paypal` with
/// `email_address` and `name`.
pub fn paypal_payment_token(id: &str, updates: &CardUpdates) -> Result<Value, PaypalError> {
    let source = VAULT_SOURCES
        .iter()
        .find(|s| s.id == id)
        .ok_or_else(|| PaypalError::not_found("payment token", id))?;
    let (month, year) = match updates.0.get(id) {
        Some(updated) => *updated,
        None if id == state::VAULT_EXPIRED => VAULT_EXPIRED_EXPIRY,
        None => TEST_CARD_EXPIRY,
    };
    let (given, surname) = source.holder;
    Ok(json!({
        "id": source.id,
        "customer": { "id": format!("customer_{}", source.id) },
        "payment_source": {
            "card": {
                "name": format!("{given} {surname}"),
                "brand": source.brand,
                "last_digits": source.last_digits,
                "expiry": format!("{year:04}-{month:02}"),
            },
            "paypal": {
                "email_address": source.email,
                "account_id": "SANDBOXPAYER1",
                "name": { "given_name": given, "surname": surname },
            }
        },
        "links": [{
            "href": format!("/v3/vault/payment-tokens/{}", source.id),
            "rel": "self",
            "method": "GET"
        }]
    }))
}

/// The body of `POST /admin/payment_methods/{id}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpiryUpdate {
    pub exp_month: u8,
    pub exp_year: u16,
}

/// `POST /admin/payment_methods/{id}`: gives a test card (Stripe's or a PayPal vault id) a new
/// expiry, as a reissued card would have.
pub async fn update_expiry(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    Json(update): Json<ExpiryUpdate>,
) -> Response {
    let known = cards::find(&id).is_some() || VAULT_SOURCES.iter().any(|s| s.id == id);
    if !known {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": format!("no test payment method {id:?}") })),
        )
            .into_response();
    }
    if !(1..=12).contains(&update.exp_month) || !(2000..=2099).contains(&update.exp_year) {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({ "error": "exp_month is 1 to 12 and exp_year 2000 to 2099" })),
        )
            .into_response();
    }
    shared
        .lock()
        .card_updates
        .0
        .insert(id.clone(), (update.exp_month, update.exp_year));
    Json(json!({ "id": id, "exp_month": update.exp_month, "exp_year": update.exp_year }))
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stripe_test_cards_have_their_real_last_four_and_brand() {
        let none = CardUpdates::default();
        for (id, brand, last4) in [
            ("pm_card_visa", "visa", "4242"),
            ("pm_card_mastercard", "mastercard", "4444"),
            ("pm_card_chargeDeclined", "visa", "0002"),
            ("pm_card_authenticationRequired", "visa", "3184"),
            ("pm_card_amex", "amex", "8431"),
        ] {
            let pm = stripe_payment_method(id, &none).unwrap();
            assert_eq!(pm["card"]["brand"], brand, "{id}");
            assert_eq!(pm["card"]["last4"], last4, "{id}");
            assert_eq!(pm["card"]["exp_month"], 12);
            assert_eq!(pm["card"]["exp_year"], 2030);
        }
        let err = stripe_payment_method("pm_nope", &none).unwrap_err();
        assert_eq!(err.status, StatusCode::NOT_FOUND);
    }

    #[test]
    fn an_updated_expiry_is_what_is_read_next() {
        let mut updates = CardUpdates::default();
        updates.0.insert("pm_card_visa".into(), (8, 2026));
        updates.0.insert(state::VAULT_APPROVE.into(), (3, 2031));
        let pm = stripe_payment_method("pm_card_visa", &updates).unwrap();
        assert_eq!(
            (
                pm["card"]["exp_month"].clone(),
                pm["card"]["exp_year"].clone()
            ),
            (json!(8), json!(2026))
        );
        let token = paypal_payment_token(state::VAULT_APPROVE, &updates).unwrap();
        assert_eq!(token["payment_source"]["card"]["expiry"], "2031-03");
        let expired = paypal_payment_token(state::VAULT_EXPIRED, &CardUpdates::default()).unwrap();
        assert_eq!(expired["payment_source"]["card"]["expiry"], "2024-08");
        assert!(paypal_payment_token("vault_nope", &updates).is_err());
    }
}

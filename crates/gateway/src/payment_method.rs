//! A saved payment method as its gateway describes it — what a person needs to recognise it (a
//! card's brand, last four digits and expiry; a PayPal wallet's e-mail), and never its number —
//! with the two wire formats it is read from: Stripe's PaymentMethod object
//! (`GET /v1/payment_methods/{id}`: `card.brand`, `card.last4`, `card.exp_month`,
//! `card.exp_year`, `billing_details.name`) and PayPal's payment token (Payment Method Tokens v3,
//! `GET /v3/vault/payment-tokens/{id}`: `payment_source.card` with `brand`, `last_digits`,
//! `expiry` as `YYYY-MM` and `name`, or `payment_source.paypal` with `email_address` and `name`).
//!
//! Deliberately absent: I/O (the connectors send the GET) and any judgement of the card (whether
//! it expired is the reader's, against its own clock).

use serde::Serialize;
use serde_json::Value;

use crate::error::ParseError;

/// Longest brand name kept, in characters (`mastercard`, `american_express`, …).
pub const BRAND_LEN_MAX: usize = 32;
/// Longest holder name or e-mail kept, in characters; longer ones are cut, never refused.
pub const HOLDER_LEN_MAX: usize = 128;

/// A saved payment method as its gateway shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PaymentMethodView {
    pub details: PaymentMethodDetails,
    /// The name on the card or the PayPal account, when the gateway has one.
    pub holder_name: Option<String>,
}

/// What kind of method it is, and what identifies it to a person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PaymentMethodDetails {
    Card {
        /// Lower case, as Stripe writes it (`visa`, `mastercard`, `amex`).
        brand: String,
        /// The last four digits (PayPal may give fewer; they are kept as given).
        last4: String,
        exp_month: u8,
        exp_year: u16,
    },
    /// A PayPal account (a vaulted wallet).
    PaypalWallet { email: Option<String> },
    /// A kind this crate does not describe (a bank account, a wallet of another kind): the
    /// gateway's name for it.
    Other { kind: String },
}

fn text(v: &Value) -> Option<String> {
    v.as_str()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.chars()
                .filter(|c| !c.is_control())
                .take(HOLDER_LEN_MAX)
                .collect()
        })
}

fn brand(raw: &Value, what: &str) -> Result<String, ParseError> {
    let brand = raw.as_str().unwrap_or_default().to_ascii_lowercase();
    if brand.is_empty()
        || brand.len() > BRAND_LEN_MAX
        || !brand
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err(ParseError(format!(
            "{what}: card brand {raw} is not a brand name"
        )));
    }
    Ok(brand)
}

fn last_digits(raw: &Value, what: &str) -> Result<String, ParseError> {
    let digits = raw.as_str().unwrap_or_default();
    if !(2..=4).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ParseError(format!(
            "{what}: {raw} is not a card's last digits"
        )));
    }
    Ok(digits.to_string())
}

fn expiry(month: Option<i64>, year: Option<i64>, what: &str) -> Result<(u8, u16), ParseError> {
    match (month, year) {
        (Some(m @ 1..=12), Some(y @ 2000..=2199)) => Ok((m as u8, y as u16)),
        _ => Err(ParseError(format!(
            "{what}: expiry {month:?}/{year:?} is not a month and a year"
        ))),
    }
}

/// Reads Stripe's PaymentMethod object.
pub fn parse_stripe(object: &Value) -> Result<PaymentMethodView, ParseError> {
    let id = object["id"].as_str().unwrap_or("a payment method");
    let what = format!("Stripe payment method {id}");
    let kind = object["type"].as_str().unwrap_or_default();
    let details = if kind == "card" {
        let card = &object["card"];
        let (exp_month, exp_year) =
            expiry(card["exp_month"].as_i64(), card["exp_year"].as_i64(), &what)?;
        PaymentMethodDetails::Card {
            brand: brand(&card["brand"], &what)?,
            last4: last_digits(&card["last4"], &what)?,
            exp_month,
            exp_year,
        }
    } else if kind.is_empty() {
        return Err(ParseError(format!("{what} names no type")));
    } else {
        PaymentMethodDetails::Other {
            kind: kind.chars().take(BRAND_LEN_MAX).collect(),
        }
    };
    Ok(PaymentMethodView {
        details,
        holder_name: text(&object["billing_details"]["name"]),
    })
}

/// Reads PayPal's payment token, taking the member the order's source names (`card` or
/// `paypal`): a token of another kind is an error, never read as that kind.
pub fn parse_paypal(token: &Value, kind: &str) -> Result<PaymentMethodView, ParseError> {
    let id = token["id"].as_str().unwrap_or("a payment token");
    let what = format!("PayPal payment token {id}");
    let source = &token["payment_source"][kind];
    if !source.is_object() {
        let has: Vec<&str> = token["payment_source"]
            .as_object()
            .map(|o| o.keys().map(String::as_str).collect())
            .unwrap_or_default();
        return Err(ParseError(format!(
            "{what} is not a {kind} (its payment source is {})",
            if has.is_empty() {
                "missing".to_string()
            } else {
                has.join(", ")
            }
        )));
    }
    match kind {
        "card" => {
            let raw = source["expiry"].as_str().unwrap_or_default();
            let (year, month) = raw.split_once('-').unwrap_or_default();
            let (exp_month, exp_year) = expiry(month.parse().ok(), year.parse().ok(), &what)?;
            Ok(PaymentMethodView {
                details: PaymentMethodDetails::Card {
                    brand: brand(&source["brand"], &what)?,
                    last4: last_digits(&source["last_digits"], &what)?,
                    exp_month,
                    exp_year,
                },
                holder_name: text(&source["name"]),
            })
        }
        "paypal" => {
            let name = &source["name"];
            let full = [text(&name["given_name"]), text(&name["surname"])]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ");
            Ok(PaymentMethodView {
                details: PaymentMethodDetails::PaypalWallet {
                    email: text(&source["email_address"]),
                },
                holder_name: Some(full).filter(|n| !n.is_empty()),
            })
        }
        other => Ok(PaymentMethodView {
            details: PaymentMethodDetails::Other {
                kind: other.to_string(),
            },
            holder_name: None,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn stripe_card_is_read_from_the_real_shape() {
        let pm = json!({
            "id": "pm_1", "object": "payment_method", "type": "card",
            "billing_details": { "name": "Anna Kovács", "email": null },
            "card": { "brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2028 }
        });
        let view = parse_stripe(&pm).unwrap();
        assert_eq!(
            view.details,
            PaymentMethodDetails::Card {
                brand: "visa".into(),
                last4: "4242".into(),
                exp_month: 12,
                exp_year: 2028
            }
        );
        assert_eq!(view.holder_name.as_deref(), Some("Anna Kovács"));
    }

    #[test]
    fn stripe_answers_that_are_not_a_card_are_said_so() {
        let bank = json!({ "id": "pm_2", "type": "us_bank_account", "billing_details": {} });
        assert_eq!(
            parse_stripe(&bank).unwrap().details,
            PaymentMethodDetails::Other {
                kind: "us_bank_account".into()
            }
        );
        for card in [
            json!({ "brand": "visa", "last4": "42x2", "exp_month": 1, "exp_year": 2030 }),
            json!({ "brand": "visa", "last4": "4242", "exp_month": 13, "exp_year": 2030 }),
            json!({ "brand": "vi sa", "last4": "4242", "exp_month": 1, "exp_year": 2030 }),
            json!({ "brand": "visa", "last4": "4242" }),
        ] {
            let pm = json!({ "id": "pm_3", "type": "card", "card": card });
            assert!(parse_stripe(&pm).is_err(), "{pm}");
        }
    }

    #[test]
    fn paypal_card_and_wallet_are_read_by_the_orders_kind() {
        let token = json!({
            "id": "8kk8451t",
            "payment_source": {
                "card": { "name": "Ada Lovelace", "brand": "VISA", "last_digits": "1111",
                          "expiry": "2027-03" },
            }
        });
        let view = parse_paypal(&token, "card").unwrap();
        assert_eq!(
            view.details,
            PaymentMethodDetails::Card {
                brand: "visa".into(),
                last4: "1111".into(),
                exp_month: 3,
                exp_year: 2027
            }
        );
        let err = parse_paypal(&token, "paypal").unwrap_err();
        assert!(
            err.to_string()
                .contains("is not a paypal (its payment source is card)"),
            "{err}"
        );
        let wallet = json!({
            "id": "5yt9", "payment_source": { "paypal": {
                "email_address": "ada@example.com",
                "name": { "given_name": "Ada", "surname": "Lovelace" } } }
        });
        let view = parse_paypal(&wallet, "paypal").unwrap();
        assert_eq!(
            view.details,
            PaymentMethodDetails::PaypalWallet {
                email: Some("ada@example.com".into())
            }
        );
        assert_eq!(view.holder_name.as_deref(), Some("Ada Lovelace"));
        let bad = json!({ "id": "x", "payment_source": { "card": {
            "brand": "VISA", "last_digits": "1111", "expiry": "03/2027" } } });
        assert!(parse_paypal(&bad, "card").is_err());
    }
}

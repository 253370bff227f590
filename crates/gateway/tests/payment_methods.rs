//! Reading a saved payment method (issue 12, item 1): Stripe's `GET /v1/payment_methods/{id}`
//! and PayPal's `GET /v3/vault/payment-tokens/{id}`, through the connectors and the dispatching
//! gateway, against the sandbox as a real HTTP server: the test cards' real brand and last four,
//! an expiry a test changed read back, an unknown id as `NotFound`, a malformed source refused
//! before anything is sent, and a restricted key refused with Stripe's 403.

use std::sync::Arc;

use paydesk_gateway::{
    ApiKey, DispatchGateway, Gateway, GatewayError, PaymentMethodDetails, PaypalConfig,
    PaypalGateway, StripeConfig, StripeGateway,
};
use serde_json::json;

const KEY: &str = "sk_test_paydesk_payment_methods_key";
const RESTRICTED: &str = "rk_test_paydesk_payment_methods_key";
const CLIENT_ID: &str = "paydesk-pm-client";
const SECRET: &str = "paydesk-pm-secret-value";

struct Env {
    gateway: DispatchGateway,
    base_url: String,
    _sandbox: paydesk_sandbox::SandboxHandle,
}

async fn env() -> Env {
    let handle = paydesk_sandbox::spawn(paydesk_sandbox::SandboxConfig {
        api_key: Some(KEY.into()),
        restricted_keys: vec![RESTRICTED.into()],
        ..paydesk_sandbox::SandboxConfig::default()
    })
    .await
    .unwrap();
    let base_url = handle.base_url.clone();
    let env = Env {
        gateway: DispatchGateway::new(Some(stripe(&base_url, KEY)), Some(paypal(&base_url))),
        base_url,
        _sandbox: handle,
    };
    env.admin(
        "/admin/paypal/settings",
        json!({"client_id": CLIENT_ID, "client_secret": SECRET}),
    )
    .await;
    env
}

fn stripe(base_url: &str, key: &str) -> Arc<dyn Gateway> {
    Arc::new(
        StripeGateway::new(
            ApiKey::new(key).unwrap(),
            StripeConfig::with_base_url(base_url),
        )
        .unwrap(),
    )
}

fn paypal(base_url: &str) -> Arc<dyn Gateway> {
    Arc::new(
        PaypalGateway::new(
            CLIENT_ID,
            ApiKey::new(SECRET).unwrap(),
            PaypalConfig::with_base_url(base_url),
        )
        .unwrap(),
    )
}

impl Env {
    async fn admin(&self, path: &str, body: serde_json::Value) {
        let response = reqwest::Client::new()
            .post(format!("{}{path}", self.base_url))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
    }
}

fn card(brand: &str, last4: &str, exp_month: u8, exp_year: u16) -> PaymentMethodDetails {
    PaymentMethodDetails::Card {
        brand: brand.into(),
        last4: last4.into(),
        exp_month,
        exp_year,
    }
}

#[tokio::test]
async fn stripe_test_cards_read_with_their_real_last_four() {
    let env = env().await;
    for (pm, brand, last4) in [
        ("pm_card_visa", "visa", "4242"),
        ("pm_card_mastercard", "mastercard", "4444"),
        ("pm_card_chargeDeclined", "visa", "0002"),
        ("pm_card_authenticationRequired", "visa", "3184"),
    ] {
        let view = env.gateway.retrieve_payment_method(pm).await.unwrap();
        assert_eq!(view.details, card(brand, last4, 12, 2030), "{pm}");
        assert_eq!(
            view.holder_name, None,
            "Stripe's test cards carry no billing name"
        );
    }
}

#[tokio::test]
async fn a_reissued_cards_new_expiry_is_read_back() {
    let env = env().await;
    env.admin(
        "/admin/payment_methods/pm_card_mastercard",
        json!({"exp_month": 8, "exp_year": 2026}),
    )
    .await;
    let view = env
        .gateway
        .retrieve_payment_method("pm_card_mastercard")
        .await
        .unwrap();
    assert_eq!(view.details, card("mastercard", "4444", 8, 2026));
    env.admin(
        "/admin/payment_methods/vault_approve",
        json!({"exp_month": 3, "exp_year": 2031}),
    )
    .await;
    let view = env
        .gateway
        .retrieve_payment_method("card:vault_approve")
        .await
        .unwrap();
    assert_eq!(view.details, card("visa", "1111", 3, 2031));
}

#[tokio::test]
async fn paypal_cards_and_wallets_read_by_the_sources_kind() {
    let env = env().await;
    let view = env
        .gateway
        .retrieve_payment_method("card:vault_card_expired")
        .await
        .unwrap();
    assert_eq!(view.details, card("visa", "0069", 8, 2024));
    assert_eq!(view.holder_name.as_deref(), Some("Dorothy Vaughan"));
    let view = env
        .gateway
        .retrieve_payment_method("paypal:vault_approve")
        .await
        .unwrap();
    assert_eq!(
        view.details,
        PaymentMethodDetails::PaypalWallet {
            email: Some("ada.lovelace@example.com".into())
        }
    );
    assert_eq!(view.holder_name.as_deref(), Some("Ada Lovelace"));
}

#[tokio::test]
async fn unknown_and_malformed_methods_are_errors_that_say_so() {
    let env = env().await;
    let err = env
        .gateway
        .retrieve_payment_method("pm_card_nope")
        .await
        .unwrap_err();
    assert!(matches!(err, GatewayError::NotFound { .. }), "{err:?}");
    let err = env
        .gateway
        .retrieve_payment_method("card:vault_nope")
        .await
        .unwrap_err();
    assert!(matches!(err, GatewayError::NotFound { .. }), "{err:?}");
    for source in ["pm card/../x", "card:", "paypal:a/b"] {
        let err = env
            .gateway
            .retrieve_payment_method(source)
            .await
            .unwrap_err();
        assert!(
            matches!(err, GatewayError::InvalidRequest { status: 0, .. }),
            "{source}: {err:?}"
        );
    }
    // A terminal's restricted key may not read payment methods: Stripe's 403, not an answer.
    let restricted = stripe(&env.base_url, RESTRICTED);
    let err = restricted
        .retrieve_payment_method("pm_card_visa")
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            GatewayError::Permission {
                restricted: true,
                ..
            }
        ),
        "{err:?}"
    );
}

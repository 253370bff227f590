//! The order in context (issue 12, item 1): an import reads each order's saved payment method at
//! its gateway (the sandbox, through the real Stripe and PayPal connectors) and stores brand,
//! last four and expiry — never a number — with the customer's name; a refresh reads it again
//! (a reissued card's new expiry); bad requests are refused saying why, with nothing stored.

use std::sync::Arc;

use paydesk_central::gateway_lookup::GatewayLookup;
use paydesk_central::sweeper::IntentLookup;
use paydesk_gateway::{
    ApiKey, DispatchGateway, Gateway, PaypalConfig, PaypalGateway, StripeConfig, StripeGateway,
};
use serde_json::{json, Value};

use crate::helpers::*;

const KEY: &str = "sk_test_paydesk_central_saved_methods";
const CLIENT_ID: &str = "paydesk-central-pm-client";
const SECRET: &str = "paydesk-central-pm-secret";

async fn sandbox() -> (paydesk_sandbox::SandboxHandle, Arc<dyn IntentLookup>) {
    let handle = paydesk_sandbox::spawn(paydesk_sandbox::SandboxConfig {
        api_key: Some(KEY.into()),
        ..paydesk_sandbox::SandboxConfig::default()
    })
    .await
    .unwrap();
    let base = handle.base_url.clone();
    let (s, _) = admin(
        &base,
        "/admin/paypal/settings",
        json!({"client_id": CLIENT_ID, "client_secret": SECRET}),
    )
    .await;
    assert_eq!(s, 200);
    let stripe: Arc<dyn Gateway> = Arc::new(
        StripeGateway::new(
            ApiKey::new(KEY).unwrap(),
            StripeConfig::with_base_url(&base),
        )
        .unwrap(),
    );
    let paypal: Arc<dyn Gateway> = Arc::new(
        PaypalGateway::new(
            CLIENT_ID,
            ApiKey::new(SECRET).unwrap(),
            PaypalConfig::with_base_url(&base),
        )
        .unwrap(),
    );
    let lookup = GatewayLookup::new(Arc::new(DispatchGateway::new(Some(stripe), Some(paypal))));
    (handle, Arc::new(lookup))
}

async fn admin(base: &str, path: &str, body: Value) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{base}{path}"))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn order(id: &str, pm: &str, gateway: &str, customer: &str, name: &str) -> Value {
    json!({"order_id": id, "amount": {"minor": 1250, "currency": "EUR"},
           "customer_id": customer, "payment_method_id": pm, "description": "phone order",
           "gateway": gateway, "customer_name": name})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn import_stores_the_card_and_a_refresh_reads_it_again() {
    for db in [Db::Sqlite, Db::Postgres] {
        let (sandbox, lookup) = sandbox().await;
        let app = TestApp::spawn(
            db,
            TestOptions {
                gateway: Some(lookup),
                ..TestOptions::default()
            },
        )
        .await;
        let orders = json!({"orders": [
            order("o-visa", "pm_card_visa", "stripe", "cus_1", "Anna Kovács"),
            order("o-mc", "pm_card_mastercard", "stripe", "cus_2", ""),
            order("o-wallet", "paypal:vault_approve", "paypal", "", "Ada Lovelace"),
            order("o-expired", "card:vault_card_expired", "paypal", "", ""),
            order("o-gone", "pm_card_unknown_here", "stripe", "cus_3", "Gone Card"),
        ]});
        let (s, b) = app.post("/v1/orders/import", ADMIN_TOKEN, orders).await;
        assert_eq!(s, 200, "{b}");

        let visa = &app.order("o-visa").await["order"];
        assert_eq!(visa["customer_name"], "Anna Kovács");
        let m = &visa["saved_method"];
        assert_eq!(
            (
                &m["kind"],
                &m["brand"],
                &m["last4"],
                &m["exp_month"],
                &m["exp_year"]
            ),
            (
                &json!("card"),
                &json!("visa"),
                &json!("4242"),
                &json!(12),
                &json!(2030)
            ),
            "{visa}"
        );
        assert_eq!(m["refresh_error"], Value::Null);
        // The queue carries it too.
        let (s, page) = app.get("/v1/orders?status=unpaid", ADMIN_TOKEN).await;
        assert_eq!(s, 200, "{page}");
        let mc = page["orders"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["order_id"] == "o-mc")
            .unwrap();
        assert_eq!(mc["saved_method"]["last4"], "4444", "{mc}");
        let wallet = &app.order("o-wallet").await["order"]["saved_method"];
        assert_eq!(wallet["kind"], "paypal_wallet");
        assert_eq!(wallet["email"], "ada.lovelace@example.com");
        assert_eq!(wallet["holder_name"], "Ada Lovelace");
        let expired = &app.order("o-expired").await["order"]["saved_method"];
        assert_eq!(
            (&expired["exp_month"], &expired["exp_year"]),
            (&json!(8), &json!(2024))
        );
        assert_eq!(expired["holder_name"], "Dorothy Vaughan");
        // The gateway's "no such payment method" is stored as what it said.
        let gone = &app.order("o-gone").await["order"]["saved_method"];
        assert_eq!(gone["kind"], "unread", "{gone}");
        assert!(
            gone["refresh_error"]
                .as_str()
                .unwrap()
                .contains("no payment method pm_card_unknown_here"),
            "{gone}"
        );

        // The card is reissued: a refresh by a signed-in operator reads the new expiry.
        let (s, _) = admin(
            &sandbox.base_url,
            "/admin/payment_methods/pm_card_mastercard",
            json!({"exp_month": 8, "exp_year": 2026}),
        )
        .await;
        assert_eq!(s, 200);
        app.operators(&["alice"]).await;
        let t1 = app.terminal("t1").await;
        let session = app.session(&t1, "alice").await;
        let (s, refreshed) = app
            .send_as(
                reqwest::Method::POST,
                "/v1/orders/o-mc/payment-method/refresh",
                &t1,
                &session,
                None,
            )
            .await;
        assert_eq!(s, 200, "{refreshed}");
        assert_eq!(refreshed["saved_method"]["exp_month"], 8, "{refreshed}");
        assert_eq!(refreshed["saved_method"]["exp_year"], 2026);
        let stored = &app.order("o-mc").await["order"]["saved_method"];
        assert_eq!(stored["exp_year"], 2026);

        // Bad input: an unknown order, a malformed id, no session. Nothing changes.
        for (path, session, status, code) in [
            (
                "/v1/orders/o-nope/payment-method/refresh",
                Some(session.as_str()),
                404,
                "order_not_found",
            ),
            (
                "/v1/orders/o%20bad/payment-method/refresh",
                Some(session.as_str()),
                400,
                "invalid_request",
            ),
            (
                "/v1/orders/o-mc/payment-method/refresh",
                None,
                401,
                "session_required",
            ),
        ] {
            let (s, b) = match session {
                Some(session) => {
                    app.send_as(reqwest::Method::POST, path, &t1, session, None)
                        .await
                }
                None => app.post(path, &t1, json!({})).await,
            };
            assert_eq!(
                (s, b["error"]["code"].as_str()),
                (status, Some(code)),
                "{path}: {b}"
            );
        }
        assert_eq!(app.order("o-mc").await["order"]["saved_method"], *stored);
        app.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_refresh_with_no_answer_keeps_the_card_read_before() {
    let (sandbox, lookup) = sandbox().await;
    let app = TestApp::spawn(
        Db::Sqlite,
        TestOptions {
            gateway: Some(lookup),
            ..TestOptions::default()
        },
    )
    .await;
    let (s, b) = app
        .post(
            "/v1/orders/import",
            ADMIN_TOKEN,
            json!({"orders": [order("o-1", "pm_card_visa", "stripe", "cus_1", "Anna")]}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    // The gateway answers every read with a 500 now.
    let (s, b) = admin(
        &sandbox.base_url,
        "/admin/faults",
        json!({"spec": "retrieve:http_500:5"}),
    )
    .await;
    assert!(s == 200 || s == 201, "{b}");
    app.operators(&["alice"]).await;
    let t1 = app.terminal("t1").await;
    let session = app.session(&t1, "alice").await;
    let (s, b) = app
        .send_as(
            reqwest::Method::POST,
            "/v1/orders/o-1/payment-method/refresh",
            &t1,
            &session,
            None,
        )
        .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (503, Some("unavailable")),
        "{b}"
    );
    let m = &app.order("o-1").await["order"]["saved_method"];
    assert_eq!(
        (&m["kind"], &m["last4"]),
        (&json!("card"), &json!("4242")),
        "{m}"
    );
    assert!(m["refresh_error"].as_str().is_some(), "{m}");
    app.stop().await;
}

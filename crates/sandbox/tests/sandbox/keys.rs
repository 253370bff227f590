//! Restricted keys as Stripe enforces them (review H4): an `rk_test_` key charges (create,
//! confirm, retrieve, search, cancel) and gets Stripe's 403 for everything else; and who may use
//! the `/admin` routes (review L11).

use paydesk_sandbox::{AdminAccess, SandboxConfig};
use serde_json::{json, Value};

use crate::common::{Sandbox, KEY};

const RK: &str = "rk_test_paydesk_terminal_key";

async fn call(sb: &Sandbox, method: &str, path: &str, form: &str, key: &str) -> (u16, Value) {
    let url = format!("{}{path}", sb.base);
    let request = match method {
        "GET" => sb.client.get(url),
        _ => sb
            .client
            .post(url)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(form.to_string()),
    };
    let response = request.bearer_auth(key).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

fn assert_permission_error(status: u16, body: &Value, permission: &str) {
    assert_eq!(status, 403, "{body}");
    let error = &body["error"];
    assert_eq!(error["type"], "invalid_request_error", "{body}");
    let message = error["message"].as_str().unwrap();
    assert!(
        message.starts_with("The provided key 'rk_test_****_key' does not have the required permissions for this endpoint"),
        "{message}"
    );
    assert!(message.contains(permission), "{message}");
    assert!(!message.contains(RK), "the key is redacted: {message}");
}

#[tokio::test]
async fn a_restricted_key_charges_and_cannot_refund_or_look_around() {
    let sb = Sandbox::start_with(SandboxConfig {
        api_key: Some(KEY.into()),
        restricted_keys: vec![RK.into()],
        search_lag_ms: 0,
        ..SandboxConfig::default()
    })
    .await;
    // A charge and its recovery with the restricted key.
    let (status, created) = call(
        &sb,
        "POST",
        "/v1/payment_intents",
        "amount=1200&currency=eur&payment_method=pm_card_visa&metadata[order_id]=o-1",
        RK,
    )
    .await;
    assert_eq!(status, 200, "{created}");
    let pi = created["id"].as_str().unwrap().to_string();
    let (status, confirmed) = call(
        &sb,
        "POST",
        &format!("/v1/payment_intents/{pi}/confirm"),
        "",
        RK,
    )
    .await;
    assert_eq!(status, 200, "{confirmed}");
    assert_eq!(confirmed["status"], "succeeded");
    let (status, read) = call(&sb, "GET", &format!("/v1/payment_intents/{pi}"), "", RK).await;
    assert_eq!((status, read["status"].clone()), (200, json!("succeeded")));
    let (status, found) = call(
        &sb,
        "GET",
        "/v1/payment_intents/search?query=metadata%5B%27order_id%27%5D%3A%27o-1%27",
        "",
        RK,
    )
    .await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(found["data"][0]["id"], json!(pi));
    let (status, other) = call(
        &sb,
        "POST",
        "/v1/payment_intents",
        "amount=500&currency=eur&payment_method=pm_card_visa",
        RK,
    )
    .await;
    assert_eq!(status, 200);
    let other = other["id"].as_str().unwrap().to_string();
    let (status, canceled) = call(
        &sb,
        "POST",
        &format!("/v1/payment_intents/{other}/cancel"),
        "",
        RK,
    )
    .await;
    assert_eq!(
        (status, canceled["status"].clone()),
        (200, json!("canceled"))
    );

    // Everything else is Stripe's 403, and nothing happens.
    let (status, body) = call(
        &sb,
        "POST",
        "/v1/refunds",
        &format!("payment_intent={pi}"),
        RK,
    )
    .await;
    assert_permission_error(status, &body, "rak_refund_write");
    for (path, permission) in [
        ("/v1/events", "rak_event_read"),
        ("/v1/customers", "rak_customer_read"),
        (
            "/v1/payment_methods?customer=cus_1",
            "rak_payment_method_read",
        ),
        ("/v1/webhook_endpoints", "rak_webhook_read"),
        (
            &format!(
                "/v1/charges/{}",
                confirmed["latest_charge"].as_str().unwrap()
            ),
            "rak_charge_read",
        ),
    ] {
        let (status, body) = call(&sb, "GET", path, "", RK).await;
        assert_permission_error(status, &body, permission);
    }
    let (status, body) = call(
        &sb,
        "POST",
        "/v1/webhook_endpoints",
        "url=https://evil.example",
        RK,
    )
    .await;
    assert_permission_error(status, &body, "rak_webhook_write");
    let ledger = sb.ledger().await;
    let ours = ledger["intents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == json!(pi))
        .unwrap()
        .clone();
    assert_eq!(ours["amount_refunded"], json!(0), "{ours}");

    // The full key refunds the same payment.
    let (status, refund) = call(
        &sb,
        "POST",
        "/v1/refunds",
        &format!("payment_intent={pi}"),
        KEY,
    )
    .await;
    assert_eq!(status, 200, "{refund}");
    // A key the sandbox does not know, restricted or live, is a 401 as before.
    for key in ["rk_test_someone_else", "rk_live_paydesk_terminal_key"] {
        let (status, _) = call(&sb, "GET", &format!("/v1/payment_intents/{pi}"), "", key).await;
        assert_eq!(status, 401, "{key}");
    }
}

async fn admin_status(sb: &Sandbox, token: Option<&str>) -> u16 {
    let mut request = sb.client.get(format!("{}/admin/ledger", sb.base));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn the_admin_routes_need_the_token_or_are_off() {
    let with_token = Sandbox::start_with(SandboxConfig {
        admin: AdminAccess::Token("admin-token-0123456789abcdef".into()),
        ..SandboxConfig::default()
    })
    .await;
    assert_eq!(admin_status(&with_token, None).await, 401);
    assert_eq!(
        admin_status(&with_token, Some("admin-token-wrong")).await,
        401
    );
    assert_eq!(
        admin_status(&with_token, Some("admin-token-0123456789abcdef")).await,
        200
    );
    let faults = with_token
        .client
        .post(format!("{}/admin/faults", with_token.base))
        .json(&json!({"spec": "confirm:http_500:1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        faults.status(),
        401,
        "a fault cannot be armed without the token"
    );

    let off = Sandbox::start_with(SandboxConfig {
        admin: AdminAccess::Off,
        ..SandboxConfig::default()
    })
    .await;
    assert_eq!(admin_status(&off, None).await, 404);

    // The default answers this machine (the harnesses' way); the Stripe routes never change.
    let default = Sandbox::start().await;
    assert_eq!(admin_status(&default, None).await, 200);
    assert_eq!(default.get("/v1/payment_intents/pi_x").await.status, 404);
}

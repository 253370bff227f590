//! Stripe's idempotency rules over HTTP: replay, mismatch, in-flight conflict, stored 500, expiry.

use std::time::Duration;

use crate::common::Sandbox;
use serde_json::json;

const CREATE: &[(&str, &str)] = &[
    ("amount", "1500"),
    ("currency", "eur"),
    ("payment_method", "pm_card_visa"),
    ("metadata[order_id]", "O-1"),
];

#[tokio::test]
async fn create_with_the_same_key_replays_the_first_response() {
    let sb = Sandbox::start().await;
    let first = sb.post("/v1/payment_intents", CREATE, Some("k1")).await;
    let second = sb.post("/v1/payment_intents", CREATE, Some("k1")).await;
    assert_eq!(first.status, 200);
    assert!(!first.replayed());
    assert!(
        second.replayed(),
        "second response carries Idempotent-Replayed"
    );
    assert_eq!(
        first.body, second.body,
        "the stored response is replayed verbatim"
    );
    let ledger = sb.ledger().await;
    assert_eq!(ledger["intents"].as_array().unwrap().len(), 1);
    let k = &ledger["idempotency_keys"][0];
    assert_eq!(
        (
            k["key"].clone(),
            k["requests"].clone(),
            k["replays"].clone(),
            k["executions"].clone()
        ),
        (json!("k1"), json!(2), json!(1), json!(1))
    );
}

#[tokio::test]
async fn same_key_with_other_parameters_is_an_idempotency_error() {
    let sb = Sandbox::start().await;
    assert_eq!(
        sb.post("/v1/payment_intents", CREATE, Some("k1"))
            .await
            .status,
        200
    );
    let mut other = CREATE.to_vec();
    other[0] = ("amount", "1600");
    let r = sb.post("/v1/payment_intents", &other, Some("k1")).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.error()["type"], "idempotency_error");
    // The same key on another endpoint is a different request too.
    let pi = sb.create(100, "pm_card_visa", "O-2").await;
    let r = sb
        .post(
            &format!("/v1/payment_intents/{}/confirm", pi["id"].as_str().unwrap()),
            &[],
            Some("k1"),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.error()["type"], "idempotency_error");
    assert_eq!(sb.ledger().await["intents"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn same_key_while_the_first_is_in_flight_is_409() {
    let sb = Sandbox::start().await;
    sb.fault("create:latency=800:1").await;
    let first = sb.try_post("/v1/payment_intents", CREATE, Some("k1"));
    let second = async {
        tokio::time::sleep(Duration::from_millis(250)).await;
        sb.post("/v1/payment_intents", CREATE, Some("k1")).await
    };
    let (first, second) = tokio::join!(first, second);
    let first = first.unwrap();
    assert_eq!(first.status, 200);
    assert_eq!(second.status, 409);
    assert_eq!(second.error()["code"], "idempotency_key_in_use");
    let third = sb.post("/v1/payment_intents", CREATE, Some("k1")).await;
    assert!(third.replayed());
    assert_eq!(third.body["id"], first.body["id"]);
    assert_eq!(sb.ledger().await["idempotency_keys"][0]["conflicts"], 1);
}

#[tokio::test]
async fn a_stored_500_is_replayed_until_the_key_expires() {
    let sb = Sandbox::start().await;
    sb.fault("create:http_500:1").await;
    let first = sb.post("/v1/payment_intents", CREATE, Some("k1")).await;
    assert_eq!(first.status, 500);
    assert_eq!(first.error()["type"], "api_error");
    let second = sb.post("/v1/payment_intents", CREATE, Some("k1")).await;
    assert_eq!(second.status, 500);
    assert!(second.replayed());
    assert_eq!(first.body, second.body);
    assert!(sb.ledger().await["intents"].as_array().unwrap().is_empty());
    // A new key executes.
    assert_eq!(
        sb.post("/v1/payment_intents", CREATE, Some("k2"))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn keys_expire_after_24_hours_of_sandbox_time() {
    let sb = Sandbox::start().await;
    let first = sb.post("/v1/payment_intents", CREATE, Some("k1")).await;
    sb.advance_clock_ms(23 * 3_600_000).await;
    let within = sb.post("/v1/payment_intents", CREATE, Some("k1")).await;
    assert!(within.replayed());
    assert_eq!(within.body["id"], first.body["id"]);
    sb.advance_clock_ms(3_600_000).await;
    let after = sb.post("/v1/payment_intents", CREATE, Some("k1")).await;
    assert_eq!(after.status, 200);
    assert!(!after.replayed());
    assert_ne!(
        after.body["id"], first.body["id"],
        "an expired key executes again"
    );
    let ledger = sb.ledger().await;
    assert_eq!(ledger["intents"].as_array().unwrap().len(), 2);
    assert_eq!(ledger["idempotency_keys"][0]["executions"], 2);
}

#[tokio::test]
async fn validation_errors_are_not_stored() {
    let sb = Sandbox::start().await;
    let r = sb
        .post("/v1/payment_intents", &[("currency", "eur")], Some("k1"))
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.error()["code"], "parameter_missing");
    assert_eq!(r.error()["param"], "amount");
    // Stripe saves no result for a request that failed validation: the fixed retry runs.
    let r = sb.post("/v1/payment_intents", CREATE, Some("k1")).await;
    assert_eq!(r.status, 200);
    assert!(!r.replayed());
}

#[tokio::test]
async fn declines_are_stored_and_replayed() {
    let sb = Sandbox::start().await;
    let pi = sb.create(700, "pm_card_chargeDeclined", "O-9").await;
    let id = pi["id"].as_str().unwrap();
    let first = sb.confirm(id, "c1").await;
    assert_eq!(first.status, 402);
    let again = sb.confirm(id, "c1").await;
    assert_eq!(again.status, 402);
    assert!(again.replayed());
    assert_eq!(first.body, again.body);
}

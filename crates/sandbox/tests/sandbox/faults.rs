//! Each fault kind, through real connections: what the client sees and what the state became.

use std::time::{Duration, Instant};

use paydesk_sandbox::{FaultRule, SandboxConfig};
use serde_json::json;

use crate::common::Sandbox;

const CREATE: &[(&str, &str)] = &[
    ("amount", "1500"),
    ("currency", "eur"),
    ("payment_method", "pm_card_visa"),
    ("metadata[order_id]", "O-1"),
];

fn intents(ledger: &serde_json::Value) -> usize {
    ledger["intents"].as_array().unwrap().len()
}

#[tokio::test]
async fn latency_delays_the_answer() {
    let sb = Sandbox::start().await;
    sb.fault("create:latency=400:1").await;
    let t = Instant::now();
    assert_eq!(
        sb.post("/v1/payment_intents", CREATE, None).await.status,
        200
    );
    assert!(t.elapsed() >= Duration::from_millis(400));
    let t = Instant::now();
    sb.post("/v1/payment_intents", CREATE, None).await;
    assert!(
        t.elapsed() < Duration::from_millis(400),
        "the rule was used up"
    );
}

#[tokio::test]
async fn http_429_is_not_stored() {
    let sb = Sandbox::start().await;
    sb.fault("create:http_429:1").await;
    let r = sb.post("/v1/payment_intents", CREATE, Some("k1")).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.error()["code"], "rate_limit");
    assert_eq!(intents(&sb.ledger().await), 0);
    let retry = sb.post("/v1/payment_intents", CREATE, Some("k1")).await;
    assert_eq!(retry.status, 200);
    assert!(!retry.replayed());
}

#[tokio::test]
async fn drop_before_execute_changes_nothing() {
    let sb = Sandbox::start().await;
    sb.fault("create:drop_before_execute:1").await;
    let err = sb.try_post("/v1/payment_intents", CREATE, Some("k1")).await;
    assert!(err.is_err(), "the connection is closed without an answer");
    assert_eq!(intents(&sb.ledger().await), 0);
    let retry = sb.post("/v1/payment_intents", CREATE, Some("k1")).await;
    assert_eq!(retry.status, 200);
    assert!(!retry.replayed());
}

#[tokio::test]
async fn drop_after_execute_charges_and_the_retry_replays() {
    let sb = Sandbox::start().await;
    let pi = sb.create(1500, "pm_card_visa", "O-1").await;
    let id = pi["id"].as_str().unwrap();
    sb.fault("confirm:drop_after_execute:1").await;
    let path = format!("/v1/payment_intents/{id}/confirm");
    assert!(sb.try_post(&path, &[], Some("c1")).await.is_err());
    // The charge happened although the client saw only a dropped connection.
    assert_eq!(sb.intent(id).await["status"], "succeeded");
    let retry = sb.post(&path, &[], Some("c1")).await;
    assert_eq!(retry.status, 200);
    assert!(retry.replayed());
    assert_eq!(retry.body["status"], "succeeded");
    assert_eq!(sb.ledger().await["intents"][0]["succeeded_count"], 1);
}

#[tokio::test]
async fn execute_late_runs_after_the_client_gave_up() {
    let sb = Sandbox::start().await;
    let pi = sb.create(1500, "pm_card_visa", "O-1").await;
    let id = pi["id"].as_str().unwrap();
    sb.fault("confirm:execute_late=600:1").await;
    let path = format!("/v1/payment_intents/{id}/confirm");
    let t = Instant::now();
    assert!(sb.try_post(&path, &[], Some("c1")).await.is_err());
    assert!(t.elapsed() < Duration::from_millis(600), "dropped at once");
    assert_eq!(sb.intent(id).await["status"], "requires_confirmation");
    let busy = sb.post(&path, &[], Some("c1")).await;
    assert_eq!(busy.status, 409, "the late request still holds its key");
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert_eq!(sb.intent(id).await["status"], "succeeded");
    let retry = sb.post(&path, &[], Some("c1")).await;
    assert!(retry.replayed());
    assert_eq!(retry.body["status"], "succeeded");
}

#[tokio::test]
async fn http_500_after_execute_hides_a_success() {
    let sb = Sandbox::start().await;
    sb.fault("create:http_500_after_execute:1").await;
    let r = sb.post("/v1/payment_intents", CREATE, Some("k1")).await;
    assert_eq!(r.status, 500);
    assert_eq!(intents(&sb.ledger().await), 1, "the intent exists anyway");
    let again = sb.post("/v1/payment_intents", CREATE, Some("k1")).await;
    assert_eq!(again.status, 500);
    assert!(again.replayed());
}

#[tokio::test]
async fn counts_endpoints_and_any() {
    let sb = Sandbox::start().await;
    sb.admin(
        "/admin/faults",
        json!({ "endpoint": "any", "kind": "http_500", "count": 2 }),
    )
    .await;
    assert_eq!(sb.get("/v1/payment_intents/pi_x").await.status, 500);
    assert_eq!(sb.get("/v1/events").await.status, 500);
    assert_eq!(sb.get("/v1/events").await.status, 200);
    sb.fault("search:http_500:1").await;
    assert_eq!(
        sb.get("/v1/events").await.status,
        200,
        "search faults spare events"
    );
    let q = "/v1/payment_intents/search?query=status%3A%27succeeded%27";
    assert_eq!(sb.get(q).await.status, 500);
    assert_eq!(sb.get(q).await.status, 200);
}

#[tokio::test]
async fn faults_can_be_armed_at_start_listed_and_cleared() {
    let rule: FaultRule = "refund:http_429:3".parse().unwrap();
    let sb = Sandbox::start_with(SandboxConfig {
        faults: vec![rule],
        search_lag_ms: 0,
        ..SandboxConfig::default()
    })
    .await;
    let listed: serde_json::Value = sb
        .client
        .get(format!("{}/admin/faults", sb.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["faults"], json!(["refund:http_429:3"]));
    let bad = sb
        .client
        .post(format!("{}/admin/faults", sb.base))
        .json(&json!({ "spec": "refund:teleport:1" }))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    sb.client
        .delete(format!("{}/admin/faults", sb.base))
        .send()
        .await
        .unwrap();
    assert_eq!(sb.ledger().await["faults"], json!([]));
}

#[tokio::test]
async fn shutdown_stops_the_server() {
    let sb = Sandbox::start().await;
    let base = sb.base.clone();
    let client = sb.client.clone();
    tokio::time::timeout(Duration::from_secs(5), sb.handle.shutdown())
        .await
        .expect("shutdown finishes");
    assert!(client
        .get(format!("{base}/admin/ledger"))
        .send()
        .await
        .is_err());
}

/// The issuer faults (training mode's decline and 3-D Secure rehearsals), armed in-process
/// through the handle's fault plan: the next confirm is answered as for the fault's test card
/// whatever card the intent holds, a replay of its key gives the same answer, and the rule is
/// used up by that one confirm.
#[tokio::test]
async fn issuer_faults_armed_in_process_answer_the_next_confirm_as_their_card_would() {
    let sb = Sandbox::start().await;
    let faults = sb.handle.fault_plan();
    faults.arm("confirm:decline".parse().unwrap());
    assert_eq!(faults.rules().len(), 1);
    let declined = sb.create(1500, "pm_card_visa", "O-decline").await;
    let id = declined["id"].as_str().unwrap();
    let answer = sb.confirm(id, "confirm-decline").await;
    assert_eq!(answer.status, 402, "{:?}", answer.body);
    assert_eq!(answer.error()["decline_code"], "generic_decline");
    assert!(faults.rules().is_empty(), "used up by one confirm");
    let replay = sb.confirm(id, "confirm-decline").await;
    assert_eq!(replay.status, 402);
    assert!(replay.replayed());
    assert_eq!(sb.intent(id).await["status"], "requires_payment_method");

    faults.arm("confirm:authentication_required".parse().unwrap());
    let needs = sb.create(1500, "pm_card_visa", "O-3ds").await;
    let id = needs["id"].as_str().unwrap();
    let on_session = sb
        .post(
            &format!("/v1/payment_intents/{id}/confirm"),
            &[("off_session", "false")],
            Some("confirm-3ds"),
        )
        .await;
    assert_eq!(on_session.status, 200, "{:?}", on_session.body);
    assert_eq!(on_session.body["status"], "requires_action");

    // Disarmed: the next confirm is the card's own (visa succeeds).
    faults.arm("confirm:decline".parse().unwrap());
    faults.clear();
    let fine = sb.create(1500, "pm_card_visa", "O-fine").await;
    let id = fine["id"].as_str().unwrap();
    assert_eq!(sb.confirm(id, "confirm-fine").await.status, 200);
    assert_eq!(sb.intent(id).await["status"], "succeeded");
}

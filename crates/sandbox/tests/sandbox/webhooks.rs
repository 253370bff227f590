//! Signed webhooks received by a real HTTP receiver: signature, retries, duplicates, reordering.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use hmac::{Hmac, Mac};
use paydesk_sandbox::{SandboxConfig, WebhookSettings};
use serde_json::Value;
use sha2::Sha256;
use tokio::sync::mpsc;

use crate::common::Sandbox;

const SECRET: &str = "whsec_test_receiver";

#[derive(Debug)]
struct Delivery {
    signature: String,
    body: String,
}

#[derive(Clone)]
struct Receiver {
    tx: mpsc::UnboundedSender<Delivery>,
    /// Answer 500 to this many requests first.
    fail_first: Arc<AtomicU32>,
}

async fn receive(State(r): State<Receiver>, headers: HeaderMap, body: String) -> StatusCode {
    let signature = headers
        .get("stripe-signature")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    r.tx.send(Delivery { signature, body }).unwrap();
    let left = r.fail_first.load(Ordering::SeqCst);
    if left > 0 {
        r.fail_first.store(left - 1, Ordering::SeqCst);
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    StatusCode::OK
}

/// Starts a receiver; returns its URL and the stream of deliveries.
async fn receiver(fail_first: u32) -> (String, mpsc::UnboundedReceiver<Delivery>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let state = Receiver {
        tx,
        fail_first: Arc::new(AtomicU32::new(fail_first)),
    };
    let app = Router::new()
        .route("/hook", post(receive))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, rx)
}

async fn sandbox(url: &str, duplicate: bool, reorder: bool) -> Sandbox {
    Sandbox::start_with(SandboxConfig {
        search_lag_ms: 0,
        webhook: WebhookSettings {
            url: Some(url.to_string()),
            secret: SECRET.to_string(),
            duplicate,
            reorder,
        },
        ..SandboxConfig::default()
    })
    .await
}

async fn next(rx: &mut mpsc::UnboundedReceiver<Delivery>) -> Delivery {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("a delivery arrives")
        .unwrap()
}

/// Verifies the header independently of the sandbox's own code.
fn verify(d: &Delivery, secret: &str) -> bool {
    let mut t = None;
    let mut v1 = None;
    for part in d.signature.split(',') {
        match part.split_once('=') {
            Some(("t", x)) => t = Some(x.to_string()),
            Some(("v1", x)) => v1 = Some(x.to_string()),
            _ => {}
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else {
        return false;
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    if (now - t.parse::<i64>().unwrap()).abs() > 300 {
        return false;
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.{}", d.body).as_bytes());
    mac.verify_slice(&hex::decode(v1).unwrap()).is_ok()
}

fn event_type(d: &Delivery) -> String {
    let v: Value = serde_json::from_str(&d.body).unwrap();
    v["type"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn events_arrive_signed_with_the_secret() {
    let (url, mut rx) = receiver(0).await;
    let sb = sandbox(&url, false, false).await;
    let pi = sb.create(1200, "pm_card_visa", "O-1").await;
    sb.confirm(pi["id"].as_str().unwrap(), "c1").await;
    let mut types = Vec::new();
    for _ in 0..3 {
        let d = next(&mut rx).await;
        assert!(verify(&d, SECRET), "signature verifies: {}", d.signature);
        assert!(!verify(&d, "whsec_wrong"));
        let tampered = Delivery {
            signature: d.signature.clone(),
            body: d.body.replace("1200", "1300"),
        };
        assert!(!verify(&tampered, SECRET));
        assert!(paydesk_sandbox::verify_webhook(&d.signature, &d.body, SECRET).is_some());
        let event: Value = serde_json::from_str(&d.body).unwrap();
        assert_eq!(event["object"], "event");
        assert_eq!(event["data"]["object"]["metadata"]["order_id"], "O-1");
        types.push(event_type(&d));
    }
    types.sort();
    assert_eq!(
        types,
        [
            "charge.succeeded",
            "payment_intent.created",
            "payment_intent.succeeded"
        ]
    );
    sb.handle.shutdown().await;
}

#[tokio::test]
async fn failed_deliveries_are_retried() {
    let (url, mut rx) = receiver(2).await;
    let sb = sandbox(&url, false, false).await;
    sb.post(
        "/v1/payment_intents",
        &[("amount", "100"), ("currency", "eur")],
        None,
    )
    .await;
    let attempts: Vec<Delivery> = vec![
        next(&mut rx).await,
        next(&mut rx).await,
        next(&mut rx).await,
    ];
    assert!(
        attempts.iter().all(|d| d.body == attempts[0].body),
        "the same event each time"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(rx.try_recv().is_err(), "no more attempts after a 2xx");
    let ledger = sb.ledger().await;
    let statuses: Vec<Value> = ledger["webhook_deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["status"].clone())
        .collect();
    assert_eq!(statuses, [500, 500, 200]);
}

#[tokio::test]
async fn duplicate_mode_delivers_each_event_twice() {
    let (url, mut rx) = receiver(0).await;
    let sb = sandbox(&url, true, false).await;
    sb.post(
        "/v1/payment_intents",
        &[("amount", "100"), ("currency", "eur")],
        None,
    )
    .await;
    let a = next(&mut rx).await;
    let b = next(&mut rx).await;
    assert_eq!(a.body, b.body);
    assert_eq!(event_type(&a), "payment_intent.created");
}

#[tokio::test]
async fn reorder_mode_lets_later_events_overtake() {
    let (url, mut rx) = receiver(0).await;
    let sb = sandbox(&url, false, true).await;
    let pi = sb.create(100, "pm_card_visa", "O-1").await;
    sb.confirm(pi["id"].as_str().unwrap(), "c1").await;
    let first = next(&mut rx).await;
    assert_ne!(
        event_type(&first),
        "payment_intent.created",
        "the first event is held back"
    );
    let rest = [
        event_type(&next(&mut rx).await),
        event_type(&next(&mut rx).await),
    ];
    assert!(rest.contains(&"payment_intent.created".to_string()));
}

#[tokio::test]
async fn webhooks_can_be_configured_at_run_time() {
    let (url, mut rx) = receiver(0).await;
    let sb = Sandbox::start().await;
    sb.post(
        "/v1/payment_intents",
        &[("amount", "100"), ("currency", "eur")],
        None,
    )
    .await;
    sb.admin(
        "/admin/webhooks",
        serde_json::json!({ "url": url, "secret": "whsec_runtime" }),
    )
    .await;
    sb.post(
        "/v1/payment_intents",
        &[("amount", "200"), ("currency", "eur")],
        None,
    )
    .await;
    let d = next(&mut rx).await;
    assert!(verify(&d, "whsec_runtime"));
    let event: Value = serde_json::from_str(&d.body).unwrap();
    assert_eq!(
        event["data"]["object"]["amount"], 200,
        "only events after the change"
    );
    assert_eq!(event["pending_webhooks"], 1);
}

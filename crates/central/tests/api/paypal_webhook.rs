//! `POST /webhooks/paypal` over HTTP: events signed with a test key whose certificate the
//! central is configured with (as an operator configures PayPal's), on both backends — a
//! completed capture of a registered PayPal order, one only the invoice names, a duplicate
//! delivery, an amount that differs, an event that matches no order, and forgeries (tampered
//! body, another webhook id, a bad signature, missing headers, an expired transmission), each
//! refused 400 with nothing written.

use std::sync::Arc;

use base64::Engine;
use paydesk_central::store::FlagFilter;
use paydesk_central::webhook_paypal::{
    signed_message, PaypalVerifier, PaypalWebhookSettings, AUTH_ALGO,
};
use paydesk_central::{Config, RunningCentral};
use paydesk_core::Timestamp;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::PrivatePkcs8KeyDer;
use serde_json::{json, Value};

use crate::helpers::*;

const WEBHOOK_ID: &str = "1JE4291016473214C";
/// A 2048-bit RSA key for this test's certificate (test-only, made with OpenSSL).
const TEST_KEY: &str = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQDTctCDP01lxVvF\nlhRjBwTZhxt3AndMOJF1TA64rhAZrIn8Eyg11KkR3vKI4CYIrxNPutTY1R+Qkuag\n2QtfwTCngN9gSNN550pKdTDvOia2C8gyGhnXzWOP7Q0vOgQVGkR5TbFD/ct3/ZAB\nWOeOUsjgC+e8dENDM24BVHOr9PkPbW4Ed4eJ3kUaazUnW0UYgwY9kn/MYB+/+570\nMK1U4GFUnmi1MVqa55o/l807ywA4rWixrnaFb1rNMsed4sDK/JbAWNlqnHzwZ4Cd\n94Hq8UowwWpw+f8Gp22k94LqykVHPqOSRDTuImmz1nVkw4Vkh2IapEsQldhpsN+n\ncdkoQ51JAgMBAAECggEAEeZqWHIHb1IhzrxBxZBWjMOvQ4fl6YHwbmmd5Wx22HWO\nyNQmV0hFd8nT5lpzXdDUZa9/TUvdfDOzanJ1UAnewI9cWZ5QqMU3uM3q8pWNqWOd\n8v/aqDYu84Qx1YmnxtGOcmZtV0Ao9WN1yWdpUtcXQkA/wehluU6lRV+M20XFv9Rw\nUmrF6XK4vSHqciG+Iysw2zVt33RnZ8ht4Yov9a4DxCbSbGvAMeYIxhDd8fskil++\nBclfLIZ2alKMLBJwgmg3DG2MtSCzsc2bjuUzBAIY5j5cVkqdn74IPj7XghAa/ljz\nqH6UWjSY8wDgHw7BP77EZur2Hj/ULrdA/JxzCvWHsQKBgQDsDmNLu3Q39GPKkx7r\nSdwP0NNESWe4+ToLRZERA0oFQGhg2dkudzWtSYZuCLiU7DmrXs7cPlWd2fuZza5U\nkJKe9RrUpw92eKGh6tlgLIbQuojEk7maZ7BzN/ERfeA+YNFV+otEBGfS9ku8tm1t\nngveSE0Kuk+UkRVMjYlkasz2ewKBgQDlUDEC8r7aZfPfCol9M+ufMlEtoMQJMLUi\nQ8Dy433t+YNug2NnIEUXCe0CyFb2lGv4IZ71XkfuAn2R6hvZFgUgAC/BFlu09Noc\nI3yLQ0F1M3DSr1d35GEbc4cCFl5CCMJ7e+77NndxqPhloIuatJQOW1JnmELUnfCs\n8ocz+6MyCwKBgQCH5/C7VX2gCZC6vOF8TdXpNS2tjyWslbEZdEAFL4Oaam6t9D7a\nRcAduMsw5sx+0VKSm881dp4Md8gn0QehoGsKIcwEyvpYFzPX6UKl4HzuB7delj6x\n6yjn7TlZ/MLypwNfIRS1YGP2Td9lExMFnYzvuWjB2Gqg+rbskECeE+9VqQKBgAjA\nP66SHvBstZrMZyTNB2/i1rA8E18aab8uAL4EKnkbbYWZJAD6fUh8y3uws4jjbx9g\nARXyDCKsG6im23s0WOu4thnTRZqpQW2TeRxDa8sSNHsFz/u2TnJivUM6IUy50tot\nh5g0ouhGf3w5XTqBK6lEmOd1Kw+8G0QuWTSFpNuzAoGAT6iYbqnYzjMhgGODS34z\nq0sy5m7e7w5oLwHV/mTd0EFE6bSdUEUkV8BatAgzOlH5onQcybJkR7qZ8kv/k+Cx\nURYD5cRnkEc3CX17kRjnW76b3OHgakKN6VPPVHlcpGA1zoIBR1u6/VFJTbGJ5IuG\n0+nBvNI9ECMSMKSWtSr6guw=\n-----END PRIVATE KEY-----";

struct Signer {
    key: ring::signature::RsaKeyPair,
}

impl Signer {
    /// The key and a self-signed certificate of it (PEM).
    fn new() -> (Signer, String) {
        let kp = rcgen::KeyPair::from_pem(TEST_KEY).unwrap();
        let cert =
            rcgen::CertificateParams::new(vec!["messageverificationcerts.paypal.com".into()])
                .unwrap()
                .self_signed(&kp)
                .unwrap();
        let der = PrivatePkcs8KeyDer::from_pem_slice(TEST_KEY.as_bytes()).unwrap();
        let key = ring::signature::RsaKeyPair::from_pkcs8(der.secret_pkcs8_der()).unwrap();
        (Signer { key }, cert.pem())
    }

    /// The signature headers for `body`, signed for `webhook_id` at `time`.
    fn headers(&self, body: &str, webhook_id: &str, time: &str) -> Vec<(&'static str, String)> {
        let id = uuid::Uuid::new_v4().to_string();
        let message = signed_message(&id, time, webhook_id, body.as_bytes());
        let mut sig = vec![0; self.key.public().modulus_len()];
        self.key
            .sign(
                &ring::signature::RSA_PKCS1_SHA256,
                &ring::rand::SystemRandom::new(),
                message.as_bytes(),
                &mut sig,
            )
            .unwrap();
        vec![
            ("paypal-transmission-id", id),
            ("paypal-transmission-time", time.to_string()),
            (
                "paypal-transmission-sig",
                base64::engine::general_purpose::STANDARD.encode(sig),
            ),
            ("paypal-auth-algo", AUTH_ALGO.to_string()),
            (
                "paypal-cert-url",
                "https://api.paypal.com/v1/notifications/certs/CERT-test".to_string(),
            ),
        ]
    }
}

fn now_rfc3339() -> String {
    Timestamp::from_unix_ms(paydesk_central::clock::now().unix_ms()).rfc3339()
}

fn capture_event(event_id: &str, paypal_order: &str, invoice: &str, value: &str) -> String {
    json!({
        "id": event_id,
        "event_version": "1.0",
        "create_time": now_rfc3339(),
        "resource_type": "capture",
        "event_type": "PAYMENT.CAPTURE.COMPLETED",
        "resource": {
            "id": format!("CAP-{event_id}"),
            "status": "COMPLETED",
            "amount": { "currency_code": "EUR", "value": value },
            "invoice_id": invoice,
            "supplementary_data": { "related_ids": { "order_id": paypal_order } }
        }
    })
    .to_string()
}

/// A verifier for this test's certificate, for other suites that need the route configured (the
/// fuzz test: its unsigned deliveries must be refused as such, not meet an unconfigured route).
pub(crate) fn test_verifier() -> Arc<PaypalVerifier> {
    let (_, cert_pem) = Signer::new();
    let mut settings = PaypalWebhookSettings::new(WEBHOOK_ID);
    settings.cert_pem = Some(cert_pem.into_bytes());
    Arc::new(PaypalVerifier::new(settings).unwrap())
}

/// The test app's central restarted over the same store with PayPal webhooks on.
async fn with_paypal(app: &mut TestApp, cert_pem: &str) -> RunningCentral {
    app.shutdown_server().await;
    let mut settings = PaypalWebhookSettings::new(WEBHOOK_ID);
    settings.cert_pem = Some(cert_pem.as_bytes().to_vec());
    let config = Config {
        admin_token: Some(ADMIN_TOKEN.to_string()),
        paypal_webhook: Some(Arc::new(PaypalVerifier::new(settings).unwrap())),
        ..Config::default()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let running = paydesk_central::start(app.store.clone(), config, None, listener).unwrap();
    app.base = format!("http://{}", running.addr);
    running
}

async fn deliver(app: &TestApp, body: &str, headers: &[(&str, String)]) -> (u16, Value) {
    let mut req = app
        .client
        .post(app.url("/webhooks/paypal"))
        .header("content-type", "application/json")
        .body(body.to_string());
    for (name, value) in headers {
        req = req.header(*name, value);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn flags(app: &TestApp, order: &str) -> Vec<(String, String)> {
    let list = app
        .store
        .flags(&FlagFilter {
            order_id: Some(order.to_string()),
            ..FlagFilter::default()
        })
        .await
        .unwrap();
    list.flags
        .into_iter()
        .map(|f| (f.source, f.reason))
        .collect()
}

async fn run(app: &mut TestApp) {
    let (signer, cert) = Signer::new();
    let running = with_paypal(app, &cert).await;
    app.orders(&[
        ("o-1", 1250, "EUR"),
        ("o-2", 1250, "EUR"),
        ("o-3", 1250, "EUR"),
    ])
    .await;
    app.operators(&["alice"]).await;
    let t1 = app.terminal("t1").await;
    let (_, claim) = app.claim(&t1, "o-1", "alice").await;
    let reg = json!({"claim_token": claim["claim_token"], "attempt_number": claim["attempt_number"],
                     "intent_id": "PPO1"});
    let (status, body) = app.post("/v1/orders/o-1/intent", &t1, reg).await;
    assert_eq!(status, 200, "{body}");
    let time = now_rfc3339();

    // Forgeries first: each refused 400 naming what is wrong, nothing stored, no order changed.
    let real = capture_event("WH-2", "PPO2", "o-2", "12.50");
    let tampered = real.replace("12.50", "1.00");
    let other_id = signer.headers(&real, "ANOTHER-WEBHOOK", &time);
    let mut bad_sig = signer.headers(&real, WEBHOOK_ID, &time);
    bad_sig[2].1 = base64::engine::general_purpose::STANDARD.encode([7u8; 256]);
    let old =
        Timestamp::from_unix_ms(paydesk_central::clock::now().unix_ms() - 3_600_000).rfc3339();
    let expired = signer.headers(&real, WEBHOOK_ID, &old);
    let mut no_algo = signer.headers(&real, WEBHOOK_ID, &time);
    no_algo.retain(|(n, _)| *n != "paypal-auth-algo");
    for (what, body, headers, says) in [
        (
            "tampered body",
            &tampered,
            signer.headers(&real, WEBHOOK_ID, &time),
            "does not match",
        ),
        ("another webhook id", &real, other_id, "does not match"),
        ("bad signature", &real, bad_sig, "does not match"),
        ("expired", &real, expired, "send it again"),
        ("no algorithm", &real, no_algo, "paypal-auth-algo"),
        ("unsigned", &real, Vec::new(), "paypal-transmission-id"),
    ] {
        let (status, answer) = deliver(app, body, &headers).await;
        assert_eq!(status, 400, "{what}: {answer}");
        assert_eq!(
            answer["error"]["code"], "invalid_signature",
            "{what}: {answer}"
        );
        let message = answer["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(says), "{what}: {answer}");
        assert!(
            !message.contains(WEBHOOK_ID),
            "{what}: the webhook id leaked: {answer}"
        );
    }
    assert_eq!(app.store.paypal_event_outcome("WH-2").await.unwrap(), None);
    assert!(flags(app, "o-2").await.is_empty());
    assert_eq!(app.order("o-2").await["order"]["status"], "unpaid");

    // A capture only the invoice names: held for review, never paid, and said so.
    let (status, answer) = deliver(app, &real, &signer.headers(&real, WEBHOOK_ID, &time)).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer, json!({"received": true, "duplicate": false}));
    let o2 = app.order("o-2").await;
    assert_eq!(o2["order"]["status"], "needs_review", "{o2}");
    let f = flags(app, "o-2").await;
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].0, "unverified");
    assert!(
        f[0].1.contains("no claim registered") && f[0].1.contains("cannot look PayPal orders up"),
        "{f:?}"
    );
    assert_eq!(
        app.store
            .paypal_event_outcome("WH-2")
            .await
            .unwrap()
            .as_deref(),
        Some("applied")
    );

    // The same event again (PayPal retries): accepted as a duplicate, nothing new written.
    let (status, answer) = deliver(app, &real, &signer.headers(&real, WEBHOOK_ID, &time)).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["duplicate"], true);
    assert_eq!(flags(app, "o-2").await.len(), 1);

    // A capture of the registered PayPal order while alice's terminal holds the order pays it,
    // as Stripe's success webhook does (the terminal's later result finds it paid by PPO1).
    let e1 = capture_event("WH-1", "PPO1", "o-1", "12.50");
    let (status, answer) = deliver(app, &e1, &signer.headers(&e1, WEBHOOK_ID, &time)).await;
    assert_eq!(status, 200, "{answer}");
    let o1 = app.order("o-1").await;
    assert_eq!(o1["order"]["status"], "paid", "{o1}");
    assert_eq!(o1["order"]["paid_intent_id"], "PPO1", "{o1}");
    assert_eq!(o1["intents"][0]["state"], "succeeded", "{o1}");
    // No inbox noise for every PayPal payment: the event and the intent's state are the record.
    assert!(flags(app, "o-1").await.is_empty());
    assert_eq!(
        app.store
            .paypal_event_outcome("WH-1")
            .await
            .unwrap()
            .as_deref(),
        Some("applied")
    );

    // Another amount than the order's: review, with both amounts named.
    let e3 = capture_event("WH-3", "PPO3", "o-3", "99.00");
    let (status, answer) = deliver(app, &e3, &signer.headers(&e3, WEBHOOK_ID, &time)).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(app.order("o-3").await["order"]["status"], "needs_review");
    let f = flags(app, "o-3").await;
    assert!(
        f[0].1.contains("99.00 EUR") && f[0].1.contains("12.50 EUR"),
        "{f:?}"
    );

    // No such order: stored as unmatched and flagged.
    let e4 = capture_event("WH-4", "PPO4", "o-404", "12.50");
    let (status, answer) = deliver(app, &e4, &signer.headers(&e4, WEBHOOK_ID, &time)).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        app.store
            .paypal_event_outcome("WH-4")
            .await
            .unwrap()
            .as_deref(),
        Some("unmatched")
    );

    // A verified delivery whose body is no event is refused 400, nothing stored.
    let junk = r#"{"id":"WH-5","event_type":"PAYMENT.CAPTURE.COMPLETED","resource":{"id":"C"}}"#;
    let (status, answer) = deliver(app, junk, &signer.headers(junk, WEBHOOK_ID, &time)).await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(app.store.paypal_event_outcome("WH-5").await.unwrap(), None);
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn signed_paypal_events_apply_once_and_forgeries_write_nothing_sqlite() {
    let mut app = TestApp::spawn(Db::Sqlite, TestOptions::default()).await;
    run(&mut app).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn signed_paypal_events_apply_once_and_forgeries_write_nothing_postgres() {
    let mut app = TestApp::spawn(Db::Postgres, TestOptions::default()).await;
    run(&mut app).await;
    app.stop().await;
}

/// The order's `verified_by` (what marked it paid), read from the store.
async fn verified_by(app: &TestApp, order: &str) -> Option<String> {
    use sqlx::Row;
    sqlx::query("SELECT verified_by FROM orders WHERE order_id = $1")
        .bind(order)
        .fetch_one(app.store.pool())
        .await
        .unwrap()
        .try_get("verified_by")
        .unwrap()
}

/// Issue 13: a signed `PAYMENT.CAPTURE.COMPLETED` alone (no terminal result ever arrives)
/// marks a registered PayPal order's Paydesk order paid, as Stripe's `payment_intent.succeeded`
/// does; a capture of another amount, another currency, another invoice or a capture whose
/// status is not COMPLETED of a registered PayPal order does not, and says why.
async fn run_binding(app: &mut TestApp) {
    let (signer, cert) = Signer::new();
    let running = with_paypal(app, &cert).await;
    let orders = ["b-paid", "b-amount", "b-currency", "b-invoice", "b-status"];
    let rows: Vec<(&str, i64, &str)> = orders.iter().map(|o| (*o, 1250, "EUR")).collect();
    app.orders(&rows).await;
    app.operators(&["alice"]).await;
    let t1 = app.terminal("t1").await;
    for (n, order) in orders.iter().enumerate() {
        let (_, claim) = app.claim(&t1, order, "alice").await;
        let reg = json!({"claim_token": claim["claim_token"],
                         "attempt_number": claim["attempt_number"],
                         "intent_id": format!("PPB{n}")});
        let (status, body) = app
            .post(&format!("/v1/orders/{order}/intent"), &t1, reg)
            .await;
        assert_eq!(status, 200, "{body}");
    }
    let time = now_rfc3339();
    let shared: &TestApp = app;
    let send = |body: String| {
        let headers = signer.headers(&body, WEBHOOK_ID, &time);
        async move { deliver(shared, &body, &headers).await }
    };

    let (status, answer) = send(capture_event("WB-0", "PPB0", "b-paid", "12.50")).await;
    assert_eq!(status, 200, "{answer}");
    let o = app.order("b-paid").await;
    assert_eq!(o["order"]["status"], "paid", "{o}");
    assert_eq!(o["order"]["paid_intent_id"], "PPB0", "{o}");
    assert_eq!(verified_by(app, "b-paid").await.as_deref(), Some("webhook"));
    assert!(flags(app, "b-paid").await.is_empty());

    let amount = capture_event("WB-1", "PPB1", "b-amount", "12.49");
    let currency = capture_event("WB-2", "PPB2", "b-currency", "12.50").replace("EUR", "USD");
    let invoice = capture_event("WB-3", "PPB3", "b-other", "12.50");
    let pending =
        capture_event("WB-4", "PPB4", "b-status", "12.50").replace("\"COMPLETED\"", "\"PENDING\"");
    for (order, body, says) in [
        ("b-amount", amount, "12.49 EUR"),
        ("b-currency", currency, "12.50 USD"),
        ("b-invoice", invoice, "invoice_id b-other"),
        ("b-status", pending, "does not say COMPLETED"),
    ] {
        let (status, answer) = send(body).await;
        assert_eq!(status, 200, "{order}: {answer}");
        let o = app.order(order).await;
        assert_eq!(o["order"]["status"], "needs_review", "{order}: {o}");
        assert!(o["order"]["paid_intent_id"].is_null(), "{order}: {o}");
        assert_eq!(verified_by(app, order).await, None, "{order}");
        let f = flags(app, order).await;
        assert!(f.iter().any(|(_, r)| r.contains(says)), "{order}: {f:?}");
    }
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_signed_paypal_capture_alone_pays_its_registered_order_sqlite() {
    let mut app = TestApp::spawn(Db::Sqlite, TestOptions::default()).await;
    run_binding(&mut app).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_signed_paypal_capture_alone_pays_its_registered_order_postgres() {
    let mut app = TestApp::spawn(Db::Postgres, TestOptions::default()).await;
    run_binding(&mut app).await;
    app.stop().await;
}

/// System level: a capture made at the sandbox's PayPal side reaches the central as a webhook
/// the sandbox signed with its test key, and the central, given that key's certificate and the
/// sandbox's webhook id, verifies it and holds the order for review (no claim registered it).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sandbox_paypal_capture_reaches_the_central_signed_and_verified() {
    use paydesk_sandbox::paypal_webhook::{SANDBOX_CERT_PEM, SANDBOX_WEBHOOK_ID};
    let sandbox = paydesk_sandbox::spawn(paydesk_sandbox::SandboxConfig::default())
        .await
        .unwrap();
    let mut app = TestApp::spawn(Db::Sqlite, TestOptions::default()).await;
    app.shutdown_server().await;
    let mut settings = PaypalWebhookSettings::new(SANDBOX_WEBHOOK_ID);
    settings.cert_pem = Some(SANDBOX_CERT_PEM.as_bytes().to_vec());
    let config = Config {
        admin_token: Some(ADMIN_TOKEN.to_string()),
        paypal_webhook: Some(Arc::new(PaypalVerifier::new(settings).unwrap())),
        ..Config::default()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let running = paydesk_central::start(app.store.clone(), config, None, listener).unwrap();
    app.base = format!("http://{}", running.addr);
    app.orders(&[("o-pp", 1250, "EUR")]).await;

    let http = reqwest::Client::new();
    let sb = |path: &str| format!("{}{path}", sandbox.base_url);
    let set = http
        .post(sb("/admin/paypal/webhooks"))
        .json(&json!({ "url": app.url("/webhooks/paypal") }))
        .send()
        .await
        .unwrap();
    assert_eq!(set.status(), 200);
    let token: Value = http
        .post(sb("/v1/oauth2/token"))
        .basic_auth("paydesk-client", Some("paydesk-secret"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let bearer = token["access_token"].as_str().expect("a token").to_string();
    let created = http
        .post(sb("/v2/checkout/orders"))
        .bearer_auth(&bearer)
        .header("PayPal-Request-Id", "o-pp-1-1")
        .json(&json!({
            "intent": "CAPTURE",
            "purchase_units": [{ "invoice_id": "o-pp",
                                 "amount": { "currency_code": "EUR", "value": "12.50" } }],
            "payment_source": { "card": { "vault_id": "vault_approve" } }
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let order: Value = created.json().await.unwrap();
    let paypal_order = order["id"].as_str().unwrap().to_string();
    assert_eq!(
        order["purchase_units"][0]["payments"]["captures"][0]["status"],
        "COMPLETED"
    );

    // The delivery is asynchronous: wait (bounded) for the central's flag.
    let mut found = Vec::new();
    for _ in 0..100 {
        found = flags(&app, "o-pp").await;
        if !found.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        found.len(),
        1,
        "no verified PayPal webhook reached the central"
    );
    assert!(
        found[0].1.contains(&paypal_order) && found[0].1.contains("cannot look PayPal orders up"),
        "{found:?}"
    );
    assert_eq!(app.order("o-pp").await["order"]["status"], "needs_review");
    let log: Value = http
        .get(sb("/admin/paypal/webhooks"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let deliveries = log["deliveries"].as_array().unwrap();
    assert!(
        deliveries
            .iter()
            .any(|d| d["event_type"] == "PAYMENT.CAPTURE.COMPLETED" && d["status"] == 200),
        "{log}"
    );

    // A refund at the sandbox arrives too (PAYMENT.CAPTURE.REFUNDED), verified and recorded.
    let capture = order["purchase_units"][0]["payments"]["captures"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let refunded = http
        .post(sb(&format!("/v2/payments/captures/{capture}/refund")))
        .bearer_auth(&bearer)
        .header("PayPal-Request-Id", "o-pp-refund-1")
        .json(&json!({ "amount": { "currency_code": "EUR", "value": "2.50" } }))
        .send()
        .await
        .unwrap();
    assert_eq!(refunded.status(), 201);
    let mut refund_event = None;
    for _ in 0..100 {
        let log: Value = http
            .get(sb("/admin/paypal/webhooks"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        refund_event = log["deliveries"].as_array().unwrap().iter().find_map(|d| {
            (d["event_type"] == "PAYMENT.CAPTURE.REFUNDED" && d["status"] == 200)
                .then(|| d["event_id"].as_str().unwrap().to_string())
        });
        if refund_event.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let refund_event = refund_event.expect("the refund's webhook was accepted");
    assert_eq!(
        app.store
            .paypal_event_outcome(&refund_event)
            .await
            .unwrap()
            .as_deref(),
        Some("applied")
    );
    running.shutdown().await;
    app.stop().await;
    sandbox.shutdown().await;
}

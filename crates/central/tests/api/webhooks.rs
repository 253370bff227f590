//! Stripe webhooks over HTTP: signatures, deduplication on the event id, effects on orders.

use paydesk_central::webhook::sign;
use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::*;

pub fn now_s() -> i64 {
    paydesk_central::clock::now().unix_ms() / 1000
}

pub async fn deliver(app: &TestApp, body: &str, signature: Option<String>) -> (u16, Value) {
    let mut req = app
        .client
        .post(app.url("/webhooks/stripe"))
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(s) = signature {
        req = req.header("Stripe-Signature", s);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

pub fn signed(body: &str, secret: &str, t: i64) -> Option<String> {
    Some(format!("t={t},v1={}", sign(secret, t, body.as_bytes())))
}

/// A test-mode success of `intent` for `order`, charging the customer and payment method
/// `TestApp::orders` gives every order.
pub fn succeeded(event: &str, intent: &str, order: &str, minor: i64) -> String {
    json!({"id": event, "type": "payment_intent.succeeded", "livemode": false, "data": {"object": {
        "id": intent, "object": "payment_intent", "amount": minor, "amount_received": minor,
        "currency": "eur", "status": "succeeded", "customer": "cus_test",
        "payment_method": "pm_card_visa", "metadata": {"order_id": order}}}})
    .to_string()
}

/// Claims `order` on `terminal` as alice and registers `intent` for it, as a terminal does
/// before it confirms: the intent a webhook's success may then pay the order with.
pub async fn registered(app: &TestApp, terminal: &str, order: &str, intent: &str) -> (u64, u64) {
    let (s, claim) = app.claim(terminal, order, "alice").await;
    assert_eq!(s, 201, "{claim}");
    let (tok, att) = (
        claim["claim_token"].as_u64().unwrap(),
        claim["attempt_number"].as_u64().unwrap(),
    );
    let (s, b) = app
        .post(
            &format!("/v1/orders/{order}/intent"),
            terminal,
            json!({
        "claim_token": tok, "attempt_number": att, "intent_id": intent}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    (tok, att)
}

both_backends! {
    async fn signed_events_are_stored_once_and_applied(app) {
        app.orders(&[("o-1", 1250, "EUR")]).await;
        app.operators(&["alice"]).await;
        let t1 = app.terminal("t1").await;
        registered(app, &t1, "o-1", "pi_1").await;
        let body = succeeded("evt_1", "pi_1", "o-1", 1250);
        let (s, b) = deliver(app, &body, signed(&body, WEBHOOK_SECRET, now_s())).await;
        assert_eq!(s, 200, "{b}");
        assert_eq!(b["duplicate"], false);
        let o = app.order("o-1").await;
        assert_eq!(o["order"]["status"], "paid");
        assert_eq!(o["order"]["paid_intent_id"], "pi_1");
        let (s, b) = deliver(app, &body, signed(&body, WEBHOOK_SECRET, now_s())).await;
        assert_eq!(s, 200, "{b}");
        assert_eq!(b["duplicate"], true);
        assert_eq!(app.store.webhook_event_count().await.unwrap(), 1);

        let refund = json!({"id": "evt_2", "type": "charge.refunded", "data": {"object": {
            "id": "ch_1", "payment_intent": "pi_1", "amount_refunded": 250}}}).to_string();
        let (s, _) = deliver(app, &refund, signed(&refund, WEBHOOK_SECRET, now_s())).await;
        assert_eq!(s, 200);
        let dispute = json!({"id": "evt_3", "type": "charge.dispute.created", "data": {"object": {
            "id": "dp_1", "charge": "ch_1", "payment_intent": "pi_1"}}}).to_string();
        let (s, _) = deliver(app, &dispute, signed(&dispute, WEBHOOK_SECRET, now_s())).await;
        assert_eq!(s, 200);
        let o = app.order("o-1").await;
        assert_eq!(o["order"]["refunded_minor"], 250);
        assert_eq!(o["order"]["disputed"], true);

        // A second success for the same order from another intent goes to review.
        let other = succeeded("evt_4", "pi_2", "o-1", 1250);
        let (s, _) = deliver(app, &other, signed(&other, WEBHOOK_SECRET, now_s())).await;
        assert_eq!(s, 200);
        assert_eq!(app.order("o-1").await["order"]["status"], "needs_review");
    }
}

both_backends! {
    async fn bad_signatures_are_refused_and_store_nothing(app) {
        app.orders(&[("o-1", 1250, "EUR")]).await;
        let body = succeeded("evt_1", "pi_1", "o-1", 1250);
        let tampered = body.replace("1250", "1");
        let cases = [
            ("tampered body", tampered.clone(), signed(&body, WEBHOOK_SECRET, now_s())),
            ("wrong secret", body.clone(), signed(&body, "whsec_wrong", now_s())),
            ("expired", body.clone(), signed(&body, WEBHOOK_SECRET, now_s() - 301)),
            ("malformed", body.clone(), Some("t=abc,v1=12".to_string())),
            ("missing", body.clone(), None),
        ];
        for (name, payload, sig) in cases {
            let (s, b) = deliver(app, &payload, sig).await;
            assert_eq!(s, 400, "{name}: {b}");
            assert_eq!(b["error"]["code"], "invalid_signature", "{name}");
        }
        assert_eq!(app.store.webhook_event_count().await.unwrap(), 0);
        assert_eq!(app.order("o-1").await["order"]["status"], "unpaid");
        // Correctly signed but unusable: a clear 400, not a 500 from the database.
        let nul = r#"{"id":"evt_\u0000","type":"payment_intent.succeeded","data":{"object":{}}}"#;
        let (s, b) = deliver(app, nul, signed(nul, WEBHOOK_SECRET, now_s())).await;
        assert_eq!(s, 400, "{b}");
        assert_eq!(b["error"]["code"], "invalid_request");
        // Several v1 values (a rotation in progress): accepted when one matches.
        let t = now_s();
        let sig = format!("t={t},v1={},v1={}", sign("whsec_old", t, body.as_bytes()),
                          sign(WEBHOOK_SECRET, t, body.as_bytes()));
        let (s, b) = deliver(app, &body, Some(sig)).await;
        assert_eq!(s, 200, "{b}");
    }
}

both_backends! {
    async fn payment_failed_fails_an_unheld_order_with_that_open_intent(app) {
        app.orders(&[("f-1", 1250, "EUR"), ("f-2", 1250, "EUR")]).await;
        app.operators(&["alice"]).await;
        let t1 = app.terminal("t1").await;
        for order in ["f-1", "f-2"] {
            let (_, claim) = app.claim(&t1, order, "alice").await;
            app.post(&format!("/v1/orders/{order}/intent"), &t1, json!({
                "claim_token": claim["claim_token"], "attempt_number": claim["attempt_number"],
                "intent_id": format!("pi_{order}")})).await;
        }
        // f-1's holder reports requires_action (released, intent still open); f-2 stays held.
        let item = result_item(&attempt_id(), "f-1", 1, 1, "requires_action", 1250, "EUR", Some("pi_f-1"));
        let (s, b) = app.post("/v1/results", &t1, batch(1, vec![item])).await;
        assert_eq!(s, 200, "{b}");
        for order in ["f-1", "f-2"] {
            let body = json!({"id": format!("evt_{order}"), "type": "payment_intent.payment_failed",
                "data": {"object": {"id": format!("pi_{order}"), "metadata": {"order_id": order}}}}).to_string();
            let (s, b) = deliver(app, &body, signed(&body, WEBHOOK_SECRET, now_s())).await;
            assert_eq!(s, 200, "{b}");
        }
        assert_eq!(app.order("f-1").await["order"]["status"], "failed");
        assert_eq!(app.order("f-2").await["order"]["status"], "unpaid", "its holder decides");
    }
}

//! Refunds from Stripe's `charge.refunded` webhooks, counted by refund id: the order's refunded
//! amount is the sum of the distinct refunds of the intent that paid it, whatever order the
//! events arrive in, and a refund of another intent (a duplicate charge) is recorded and flagged
//! but not booked as the order's refund. The events have the shape the sandbox gateway emits
//! (`crates/sandbox/src/store.rs`, `render_charge`).

use paydesk_central::webhook::sign;
use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::*;

fn now_s() -> i64 {
    paydesk_central::clock::now().unix_ms() / 1000
}

async fn deliver(app: &TestApp, body: &Value) {
    let body = body.to_string();
    let t = now_s();
    let resp = app
        .client
        .post(app.url("/webhooks/stripe"))
        .header("content-type", "application/json")
        .header(
            "Stripe-Signature",
            format!("t={t},v1={}", sign(WEBHOOK_SECRET, t, body.as_bytes())),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
}

fn succeeded(event: &str, intent: &str, order: &str, minor: i64) -> Value {
    json!({"id": event, "object": "event", "type": "payment_intent.succeeded",
        "data": {"object": {
        "id": intent, "object": "payment_intent", "amount": minor, "amount_received": minor,
        "currency": "eur", "status": "succeeded", "customer": "cus_test",
        "payment_method": "pm_card_visa", "metadata": {"order_id": order}}}})
}

/// Order o-1 of 12.50 EUR with `intent` registered for it (so its success may pay it).
async fn order_paying_by(app: &TestApp, intent: &str) {
    app.orders(&[("o-1", 1250, "EUR")]).await;
    app.operators(&["alice"]).await;
    let t1 = app.terminal("t1").await;
    crate::webhooks::registered(app, &t1, "o-1", intent).await;
}

/// A `charge.refunded` event of charge `charge` (of `intent`) after `refunds` (id, amount).
fn refunded(
    event: &str,
    charge: &str,
    intent: &str,
    order: &str,
    refunds: &[(&str, i64)],
) -> Value {
    let data: Vec<Value> = refunds
        .iter()
        .map(|(id, amount)| {
            json!({"id": id, "object": "refund", "amount": amount,
            "charge": charge, "currency": "eur", "payment_intent": intent,
            "status": "succeeded"})
        })
        .collect();
    let total: i64 = refunds.iter().map(|(_, a)| a).sum();
    json!({"id": event, "object": "event", "type": "charge.refunded", "data": {"object": {
        "id": charge, "object": "charge", "amount": 1250, "amount_refunded": total,
        "currency": "eur", "payment_intent": intent, "metadata": {"order_id": order},
        "refunded": total == 1250,
        "refunds": {"object": "list", "data": data, "has_more": false,
                    "url": format!("/v1/charges/{charge}/refunds")}}}})
}

fn refunded_minor(o: &Value) -> i64 {
    o["order"]["refunded_minor"].as_i64().unwrap()
}

both_backends! {
    async fn refunds_are_counted_by_refund_id_whatever_order_their_events_arrive_in(app) {
        order_paying_by(app, "pi_1").await;
        deliver(app, &succeeded("evt_paid", "pi_1", "o-1", 1250)).await;
        // Two refunds of the paying charge; the later event arrives first.
        deliver(app, &refunded("evt_r2", "ch_1", "pi_1", "o-1", &[("re_1", 300), ("re_2", 200)]))
            .await;
        assert_eq!(refunded_minor(&app.order("o-1").await), 500);
        deliver(app, &refunded("evt_r1", "ch_1", "pi_1", "o-1", &[("re_1", 300)])).await;
        assert_eq!(refunded_minor(&app.order("o-1").await), 500, "never backwards");
        // A third refund: only the new one is added.
        deliver(app, &refunded("evt_r3", "ch_1", "pi_1", "o-1",
            &[("re_1", 300), ("re_2", 200), ("re_3", 100)])).await;
        let o = app.order("o-1").await;
        assert_eq!(refunded_minor(&o), 600);
        assert_eq!(o["order"]["status"], "paid");
        let (_, flags) = app.get("/v1/flags", ADMIN_TOKEN).await;
        assert_eq!(flags["flags"].as_array().unwrap().len(), 0, "{flags}");
    }
}

both_backends! {
    async fn a_refund_of_a_duplicate_charge_is_flagged_not_booked_as_the_orders_refund(app) {
        order_paying_by(app, "pi_1").await;
        deliver(app, &succeeded("evt_paid", "pi_1", "o-1", 1250)).await;
        // A second charge of the same order, refunded in full.
        deliver(app, &succeeded("evt_dup", "pi_2", "o-1", 1250)).await;
        assert_eq!(app.order("o-1").await["order"]["status"], "needs_review");
        deliver(app, &refunded("evt_r", "ch_2", "pi_2", "o-1", &[("re_dup", 1250)])).await;
        let o = app.order("o-1").await;
        assert_eq!(refunded_minor(&o), 0, "the order's own charge was not refunded: {o}");
        assert_eq!(o["order"]["paid_intent_id"], "pi_1");
        let (_, flags) = app.get("/v1/flags", ADMIN_TOKEN).await;
        let reasons: Vec<&str> = flags["flags"].as_array().unwrap().iter()
            .map(|f| f["reason"].as_str().unwrap()).collect();
        assert!(reasons.iter().any(|r| r.contains("re_dup") && r.contains("pi_2")), "{reasons:?}");
        // The paying charge's own refund is booked.
        deliver(app, &refunded("evt_r1", "ch_1", "pi_1", "o-1", &[("re_1", 250)])).await;
        assert_eq!(refunded_minor(&app.order("o-1").await), 250);
    }
}

both_backends! {
    async fn a_refund_seen_before_the_success_is_booked_when_the_order_is_paid(app) {
        order_paying_by(app, "pi_1").await;
        deliver(app, &refunded("evt_r", "ch_1", "pi_1", "o-1", &[("re_1", 400)])).await;
        deliver(app, &succeeded("evt_paid", "pi_1", "o-1", 1250)).await;
        let o = app.order("o-1").await;
        assert_eq!(o["order"]["status"], "paid");
        assert_eq!(refunded_minor(&o), 400, "{o}");
    }
}

both_backends! {
    async fn refund_events_and_charge_events_naming_the_same_refund_count_it_once(app) {
        order_paying_by(app, "pi_1").await;
        deliver(app, &succeeded("evt_paid", "pi_1", "o-1", 1250)).await;
        let refund = |event: &str, id: &str, amount: i64| json!({"id": event, "object": "event",
            "type": "refund.created", "data": {"object": {"id": id, "object": "refund",
            "amount": amount, "charge": "ch_1", "currency": "eur", "payment_intent": "pi_1",
            "status": "succeeded"}}});
        deliver(app, &refund("evt_a", "re_1", 300)).await;
        assert_eq!(refunded_minor(&app.order("o-1").await), 300);
        deliver(app, &refunded("evt_b", "ch_1", "pi_1", "o-1", &[("re_1", 300)])).await;
        assert_eq!(refunded_minor(&app.order("o-1").await), 300);
        deliver(app, &refund("evt_c", "re_2", 200)).await;
        assert_eq!(refunded_minor(&app.order("o-1").await), 500);
    }
}

both_backends! {
    /// M6: `charge.refunded` events out of order never lower the refunded amount: 500 then an
    /// older event saying 250 leaves 500.
    async fn refunds_are_monotonic_whatever_order_their_events_arrive_in(app) {
        order_paying_by(app, "pi_1").await;
        deliver(app, &succeeded("evt_paid", "pi_1", "o-1", 1250)).await;
        let total = |event: &str, amount: i64| json!({"id": event, "object": "event",
            "type": "charge.refunded", "data": {"object": {"id": "ch_1", "object": "charge",
            "amount": 1250, "amount_refunded": amount, "currency": "eur", "payment_intent": "pi_1",
            "metadata": {"order_id": "o-1"}}}});
        deliver(app, &total("evt_500", 500)).await;
        assert_eq!(refunded_minor(&app.order("o-1").await), 500);
        deliver(app, &total("evt_250", 250)).await;
        assert_eq!(refunded_minor(&app.order("o-1").await), 500, "never backwards");
    }
}

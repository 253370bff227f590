//! The exception inbox (`GET /v1/exceptions`) and guided resolutions
//! (`POST /v1/orders/{order_id}/resolutions`), issue 11: each kind of exception built the way it
//! happens (an unverified success, a second success, a claim held past its lease with an
//! intent, a refund made outside Paydesk), counted and paged; decisions applied only when the
//! test gateway's evidence allows them, refused and recorded otherwise, and the resolved item
//! gone from the inbox. Each test runs on SQLite and PostgreSQL.

use paydesk_central::webhook::sign;
use paydesk_central::IntentEvidence;
use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::*;

async fn deliver(app: &TestApp, body: &Value) {
    let body = body.to_string();
    let t = paydesk_central::clock::now().unix_ms() / 1000;
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

fn succeeded(event: &str, intent: &str, order: &str) -> Value {
    json!({"id": event, "object": "event", "type": "payment_intent.succeeded",
        "data": {"object": {
        "id": intent, "object": "payment_intent", "amount": 1250, "amount_received": 1250,
        "currency": "eur", "status": "succeeded", "customer": "cus_test",
        "payment_method": "pm_card_visa", "metadata": {"order_id": order}}}})
}

fn refunded(event: &str, charge: &str, intent: &str, order: &str, refund: &str) -> Value {
    json!({"id": event, "object": "event", "type": "charge.refunded", "data": {"object": {
        "id": charge, "object": "charge", "amount": 1250, "amount_refunded": 500,
        "currency": "eur", "payment_intent": intent, "metadata": {"order_id": order},
        "refunded": false,
        "refunds": {"object": "list", "has_more": false,
            "url": format!("/v1/charges/{charge}/refunds"),
            "data": [{"id": refund, "object": "refund", "amount": 500, "charge": charge,
                      "currency": "eur", "payment_intent": intent, "status": "succeeded"}]}}}})
}

/// o-1: a success the gateway does not know yet (in review); o-2: paid by pi_1, a second success
/// pi_2 (flag, in review) and a refund of pi_1 made in the dashboard; o-3: a claim with intent
/// pi_x held past its lease that the sweeper could not resolve.
async fn build_exceptions(app: &TestApp) -> String {
    app.orders(&[
        ("o-1", 1250, "EUR"),
        ("o-2", 1250, "EUR"),
        ("o-3", 1250, "EUR"),
    ])
    .await;
    app.operators(&["alice"]).await;
    let t1 = app.terminal("t1").await;
    let (tok, att) = crate::webhooks::registered(app, &t1, "o-1", "pi_u").await;
    let a = attempt_id();
    let (s, resp) = app
        .post(
            "/v1/results",
            &t1,
            batch(
                1,
                vec![result_item(
                    &a,
                    "o-1",
                    att,
                    tok,
                    "succeeded",
                    1250,
                    "EUR",
                    Some("pi_u"),
                )],
            ),
        )
        .await;
    assert_eq!(s, 200, "{resp}");
    assert_eq!(app.order("o-1").await["order"]["status"], "needs_review");

    crate::webhooks::registered(app, &t1, "o-2", "pi_1").await;
    deliver(app, &succeeded("evt_paid", "pi_1", "o-2")).await;
    deliver(app, &succeeded("evt_dup", "pi_2", "o-2")).await;
    deliver(app, &refunded("evt_ref", "ch_1", "pi_1", "o-2", "re_out")).await;

    crate::webhooks::registered(app, &t1, "o-3", "pi_x").await;
    sqlx::query("UPDATE orders SET lease_until = 1 WHERE order_id = 'o-3'")
        .execute(app.store.pool())
        .await
        .unwrap();
    let report = app.sweep().await;
    assert_eq!(report.unresolved, 1, "{report:?}");
    t1
}

fn kinds_of(page: &Value, order: &str) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["order_id"] == order)
        .map(|i| i["kind"].as_str().unwrap().to_string())
        .collect()
}

async fn resolve(
    app: &TestApp,
    terminal: &str,
    session: &str,
    order: &str,
    body: Value,
) -> (u16, Value) {
    app.send_as(
        reqwest::Method::POST,
        &format!("/v1/orders/{order}/resolutions"),
        terminal,
        session,
        Some(body),
    )
    .await
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    sqlx::query_scalar::<_, i64>(sql)
        .fetch_one(app.store.pool())
        .await
        .unwrap()
}

both_backends! {
    async fn the_inbox_lists_each_kind_with_counts_and_pages(app) {
        let t1 = build_exceptions(app).await;
        let (s, page) = app.manager_get("/v1/exceptions?limit=500").await;
        assert_eq!(s, 200, "{page}");
        assert_eq!(kinds_of(&page, "o-1"), ["flag", "needs_review"], "{page}");
        let o2 = kinds_of(&page, "o-2");
        for kind in ["needs_review", "flag", "outside_refund"] {
            assert!(o2.iter().any(|k| k == kind), "o-2 lacks {kind}: {page}");
        }
        assert!(kinds_of(&page, "o-3").iter().any(|k| k == "unresolved_claim"), "{page}");
        let counts = &page["counts"];
        assert_eq!(counts["needs_review"], 2, "{page}");
        assert_eq!(counts["unresolved_claim"], 1, "{page}");
        assert_eq!(counts["outside_refund"], 1, "{page}");
        assert!(counts["flag"].as_u64().unwrap() >= 1, "{page}");
        let total = page["total"].as_u64().unwrap();
        assert_eq!(page["items"].as_array().unwrap().len() as u64, total);
        let item = page["items"].as_array().unwrap().iter()
            .find(|i| i["kind"] == "outside_refund").unwrap();
        assert!(item["summary"].as_str().unwrap().contains("outside Paydesk"), "{item}");
        assert_eq!(item["evidence"], json!(["re_out", "pi_1"]));
        assert!(item["age_ms"].as_i64().unwrap() >= 0 && item["since"].is_string());
        let unresolved = page["items"].as_array().unwrap().iter()
            .find(|i| i["kind"] == "unresolved_claim").unwrap();
        assert_eq!(unresolved["evidence"], json!(["pi_x"]));

        // Paged two at a time: every item once, in the same order.
        let mut seen = Vec::new();
        let mut path = "/v1/exceptions?limit=2".to_string();
        loop {
            let (s, p) = app.manager_get(&path).await;
            assert_eq!(s, 200, "{p}");
            assert_eq!(p["total"].as_u64().unwrap(), total);
            seen.extend(p["items"].as_array().unwrap().iter().map(|i| i["item_id"].clone()));
            match p["next_cursor"].as_str() {
                Some(c) => path = format!("/v1/exceptions?limit=2&cursor={c}"),
                None => break,
            }
        }
        let all: Vec<Value> = page["items"].as_array().unwrap().iter()
            .map(|i| i["item_id"].clone()).collect();
        assert_eq!(seen, all);
        let (s, body) = app.manager_get("/v1/exceptions?limit=0").await;
        assert_eq!(s, 400, "{body}");
        let (s, body) = app.manager_get("/v1/exceptions?cursor=nonsense").await;
        assert_eq!(s, 400, "{body}");

        // An operator is refused; a terminal without a session must sign in; admin reads it.
        let session = app.session(&t1, "alice").await;
        let (s, body) = app.send_as(reqwest::Method::GET, "/v1/exceptions", &t1, &session, None)
            .await;
        assert_eq!(s, 403, "{body}");
        let (s, _) = app.get("/v1/exceptions", &t1).await;
        assert_eq!(s, 401);
        let (s, body) = app.get("/v1/exceptions", ADMIN_TOKEN).await;
        assert_eq!(s, 200);
        assert_eq!(body["total"].as_u64().unwrap(), total);
    }
}

both_backends! {
    async fn decisions_follow_the_gateways_evidence_and_are_recorded(app) {
        build_exceptions(app).await;
        app.managers(&["mia"]).await;
        let tm = app.terminal("tm").await;
        let session = app.session(&tm, "mia").await;
        let pin = app.pin_of("mia");

        // The gateway says pi_u failed: it cannot be marked charged; nothing changes.
        app.book.says("pi_u", IntentEvidence::Declined);
        let (s, body) = resolve(app, &tm, &session, "o-1", json!({"action": "mark_charged",
            "intent_id": "pi_u", "reason": "customer shows a receipt", "pin": pin})).await;
        assert_eq!(s, 409, "{body}");
        let msg = body["message"].as_str().unwrap_or_default().to_string() + &body.to_string();
        assert!(msg.contains("pi_u") && msg.contains("cannot be marked charged"), "{body}");
        assert_eq!(app.order("o-1").await["order"]["status"], "needs_review");
        assert_eq!(count(app, "SELECT COUNT(*) FROM resolutions WHERE order_id = 'o-1' \
            AND outcome = 'refused'").await, 1);

        // Bad input writes nothing and costs no PIN try.
        let (s, body) = resolve(app, &tm, &session, "o-1", json!({"action": "mark_charged",
            "intent_id": "pi_u", "reason": "  ", "pin": pin})).await;
        assert_eq!(s, 400, "{body}");
        let (s, body) = resolve(app, &tm, &session, "o-1", json!({"action": "mark_not_charged",
            "intent_id": "pi_u", "reason": "r", "pin": pin})).await;
        assert_eq!(s, 400, "{body}");

        // A wrong PIN is refused, counted toward the lockout and recorded.
        let wrong_before = count(app, "SELECT COUNT(*) FROM auth_audit WHERE event = 'pin_wrong'")
            .await;
        let (s, body) = resolve(app, &tm, &session, "o-1", json!({"action": "mark_charged",
            "intent_id": "pi_u", "reason": "receipt", "pin": "13572468"})).await;
        assert_eq!(s, 401, "{body}");
        assert_eq!(count(app, "SELECT COUNT(*) FROM auth_audit WHERE event = 'pin_wrong'").await,
            wrong_before + 1);
        assert_eq!(count(app, "SELECT COUNT(*) FROM resolutions WHERE order_id = 'o-1' \
            AND outcome = 'refused'").await, 2);
        assert_eq!(app.order("o-1").await["order"]["status"], "needs_review");

        // The gateway shows pi_u succeeded for o-1: marked charged by the manager.
        app.gateway_paid("pi_u", "o-1").await;
        let (s, body) = resolve(app, &tm, &session, "o-1", json!({"action": "mark_charged",
            "intent_id": "pi_u", "reason": "customer shows a receipt", "pin": pin})).await;
        assert_eq!(s, 200, "{body}");
        assert_eq!(body["order"]["status"], "paid");
        assert_eq!(body["order"]["paid_intent_id"], "pi_u");
        assert_eq!(count(app, "SELECT COUNT(*) FROM orders WHERE order_id = 'o-1' \
            AND verified_by = 'manager'").await, 1);
        assert_eq!(count(app, "SELECT COUNT(*) FROM resolutions WHERE order_id = 'o-1' \
            AND outcome = 'applied' AND action = 'mark_charged' AND intent_id = 'pi_u' \
            AND manager_id = 'mia' AND terminal_id = 'tm' AND reason = 'customer shows a receipt' \
            AND session_id <> ''").await, 1);
        let (s, body) = resolve(app, &tm, &session, "o-1", json!({"action": "mark_charged",
            "intent_id": "pi_u", "reason": "again", "pin": pin})).await;
        assert_eq!(s, 409, "already paid: {body}");

        // The gateway cannot tell about o-3's intent pi_x: 503, nothing written.
        let before = count(app, "SELECT COUNT(*) FROM resolutions").await;
        let (s, body) = resolve(app, &tm, &session, "o-3", json!({"action": "mark_not_charged",
            "reason": "terminal crashed", "pin": pin})).await;
        assert_eq!(s, 503, "{body}");
        assert_eq!(count(app, "SELECT COUNT(*) FROM resolutions").await, before);
        assert!(!app.order("o-3").await["order"]["claim"].is_null());
        // o-3's intent succeeded at the gateway: it cannot be marked not charged.
        app.book.says("pi_x", succeeded_for("o-3", 1250, "EUR"));
        let (s, body) = resolve(app, &tm, &session, "o-3", json!({"action": "mark_not_charged",
            "reason": "terminal crashed", "pin": pin})).await;
        assert_eq!(s, 409, "{body}");
        assert!(body.to_string().contains("pi_x succeeded"), "{body}");
        let o3 = app.order("o-3").await;
        assert!(!o3["order"]["claim"].is_null(), "still held: {o3}");
        // Still processing at the gateway: refused (it may yet charge), and recorded.
        let refused_before = count(app, "SELECT COUNT(*) FROM resolutions").await;
        app.book.says("pi_x", IntentEvidence::Pending { status: "processing".into() });
        let (s, body) = resolve(app, &tm, &session, "o-3", json!({"action": "mark_not_charged",
            "reason": "terminal crashed", "pin": pin})).await;
        assert_eq!(s, 409, "processing may still charge: {body}");
        assert_eq!(count(app, "SELECT COUNT(*) FROM resolutions").await, refused_before + 1);
        // It failed at the gateway: back to unpaid, the claim released.
        app.book.says("pi_x", IntentEvidence::Declined);
        let (s, body) = resolve(app, &tm, &session, "o-3", json!({"action": "mark_not_charged",
            "reason": "terminal crashed, card declined", "pin": pin})).await;
        assert_eq!(s, 200, "{body}");
        assert_eq!(body["order"]["status"], "unpaid");
        assert!(body["order"]["claim"].is_null(), "{body}");
        assert!(body["evidence"].as_str().unwrap().contains("pi_x declined"), "{body}");

        // Cancelling an open intent is not a decision the central makes here.
        let (s, body) = resolve(app, &tm, &session, "o-2", json!({"action": "cancel_open_intent",
            "reason": "r", "pin": pin})).await;
        assert_eq!(s, 400, "{body}");

        // The resolved orders left the inbox; o-2 is still there.
        let (_, page) = app.manager_get("/v1/exceptions").await;
        assert!(kinds_of(&page, "o-1").is_empty(), "{page}");
        assert!(kinds_of(&page, "o-3").is_empty(), "{page}");
        assert!(!kinds_of(&page, "o-2").is_empty(), "{page}");
        assert!(page["counts"].get("unresolved_claim").is_none(), "{page}");

        // An operator's session is refused before anything is read.
        let session_op = app.session(&tm, "alice").await;
        let (s, _) = resolve(app, &tm, &session_op, "o-2", json!({"action": "mark_not_charged",
            "reason": "r", "pin": "123456"})).await;
        assert_eq!(s, 403);
    }
}

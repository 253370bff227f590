//! The duplicate guard that shows the earlier attempt (issue 12, item 3): a claim refused because
//! the order is held, already paid or has an attempt whose outcome is unknown names who tried,
//! when, on which terminal and the gateway id, as fields and in its message; a recent success of
//! the same customer and amount on another order refuses the claim until the operator confirms;
//! every firing is in the audit log as `guard_<kind>`.

use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::*;

/// Claims `order` for `operator` and registers `intent`; returns (token, attempt, claim).
async fn claimed(
    app: &TestApp,
    term: &str,
    order: &str,
    operator: &str,
    intent: &str,
) -> (u64, u64, Value) {
    let (status, claim) = app.claim(term, order, operator).await;
    assert_eq!(status, 201, "{claim}");
    let token = claim["claim_token"].as_u64().unwrap();
    let attempt = claim["attempt_number"].as_u64().unwrap();
    let (status, body) = app
        .post(
            &format!("/v1/orders/{order}/intent"),
            term,
            json!({"claim_token": token, "attempt_number": attempt, "intent_id": intent}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    (token, attempt, claim)
}

fn now_ms() -> i64 {
    paydesk_central::clock::now().unix_ms()
}

/// Reports `outcome` for the claim, dated `occurred_at`.
#[allow(clippy::too_many_arguments)]
async fn report(
    app: &TestApp,
    term: &str,
    seq: u64,
    order: &str,
    (token, attempt): (u64, u64),
    outcome: &str,
    minor: i64,
    intent: &str,
    occurred_at: i64,
) {
    let mut item = result_item(
        &attempt_id(),
        order,
        attempt,
        token,
        outcome,
        minor,
        "EUR",
        Some(intent),
    );
    item["occurred_at"] = json!(occurred_at);
    let (status, body) = app.post("/v1/results", term, batch(seq, vec![item])).await;
    assert_eq!(status, 200, "{body}");
}

/// Claims as `operator` with `confirm_similar`.
async fn claim_confirmed(app: &TestApp, term: &str, order: &str, operator: &str) -> (u16, Value) {
    let session = app.session(term, operator).await;
    app.send_as(
        reqwest::Method::POST,
        &format!("/v1/orders/{order}/claim"),
        term,
        &session,
        Some(json!({ "operator_id": operator, "confirm_similar": true })),
    )
    .await
}

/// The audit log's entries of `kind` for `order`.
async fn audited(app: &TestApp, kind: &str, order: &str) -> Vec<Value> {
    let (status, page) = app
        .manager_get(&format!("/v1/audit?kind={kind}&limit=500"))
        .await;
    assert_eq!(status, 200, "{page}");
    page["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["order_id"] == order)
        .cloned()
        .collect()
}

both_backends! {
    async fn a_held_order_names_the_holder_the_time_the_terminal_and_the_gateway_id(app) {
        app.orders(&[("o-1", 1250, "EUR")]).await;
        app.operators(&["alice", "bob"]).await;
        let t1 = app.terminal("t1").await;
        let t2 = app.terminal("t2").await;
        let (_, _, claim) = claimed(app, &t1, "o-1", "alice", "pi_held").await;
        let (status, body) = app.claim(&t2, "o-1", "bob").await;
        assert_eq!(status, 409, "{body}");
        let e = &body["error"];
        assert_eq!(e["code"], "claim_held");
        assert_eq!(e["holder"]["operator_id"], "alice", "the old field stays");
        let earlier = &e["earlier"];
        assert_eq!(earlier["kind"], "held");
        assert_eq!(earlier["operator_id"], "alice");
        assert_eq!(earlier["terminal_id"], "t1");
        assert_eq!(earlier["at"], claim["claimed_at"]);
        assert_eq!(earlier["attempt_number"], 1);
        assert_eq!(earlier["intent_id"], "pi_held");
        let msg = e["message"].as_str().unwrap();
        for part in ["alice", "t1", "pi_held", "attempt 1", "a charge may be in flight"] {
            assert!(msg.contains(part), "{part} missing in: {msg}");
        }
        let at = paydesk_core::Timestamp::from_unix_ms(claim["claimed_at"].as_i64().unwrap());
        assert!(msg.contains(&at.to_string()), "the time in words: {msg}");

        let rows = audited(app, "guard_held", "o-1").await;
        assert_eq!(rows.len(), 1, "{rows:?}");
        assert_eq!(rows[0]["operator_id"], "bob", "who was refused");
        assert_eq!(rows[0]["terminal_id"], "t2");
        assert_eq!(rows[0]["outcome"], "refused");
        assert!(rows[0]["detail"].as_str().unwrap().contains("pi_held"), "{}", rows[0]);
    }
}

both_backends! {
    async fn a_paid_order_names_who_charged_it_and_the_gateway_id(app) {
        app.orders(&[("o-1", 1250, "EUR")]).await;
        app.operators(&["alice", "bob"]).await;
        let t1 = app.terminal("t1").await;
        let t2 = app.terminal("t2").await;
        let (token, attempt, _) = claimed(app, &t1, "o-1", "alice", "pi_paid").await;
        app.gateway_paid("pi_paid", "o-1").await;
        let at = now_ms() - 60_000;
        report(app, &t1, 1, "o-1", (token, attempt), "succeeded", 1250, "pi_paid", at).await;
        assert_eq!(app.order("o-1").await["order"]["status"], "paid");

        let (status, body) = app.claim(&t2, "o-1", "bob").await;
        assert_eq!(status, 409, "{body}");
        let e = &body["error"];
        assert_eq!(e["code"], "order_not_chargeable");
        let earlier = &e["earlier"];
        assert_eq!(earlier["kind"], "paid");
        assert_eq!(earlier["operator_id"], "alice");
        assert_eq!(earlier["terminal_id"], "t1");
        assert_eq!(earlier["at"], at);
        assert_eq!(earlier["intent_id"], "pi_paid");
        assert_eq!(earlier["amount"], json!({"minor": 1250, "currency": "EUR"}));
        let msg = e["message"].as_str().unwrap();
        for part in ["already paid", "alice", "t1", "pi_paid", "12.50 EUR"] {
            assert!(msg.contains(part), "{part} missing in: {msg}");
        }
        let rows = audited(app, "guard_paid", "o-1").await;
        assert_eq!(rows.len(), 1, "{rows:?}");
        assert_eq!(rows[0]["operator_id"], "bob");
    }
}

both_backends! {
    async fn an_unknown_outcome_says_check_the_attempt_not_charge(app) {
        app.orders(&[("o-1", 1250, "EUR")]).await;
        app.operators(&["alice", "bob"]).await;
        let t1 = app.terminal("t1").await;
        let t2 = app.terminal("t2").await;
        let (token, attempt, _) = claimed(app, &t1, "o-1", "alice", "pi_unknown").await;
        let at = now_ms() - 5_000;
        report(app, &t1, 1, "o-1", (token, attempt), "needs_review", 1250, "pi_unknown", at).await;
        assert_eq!(app.order("o-1").await["order"]["status"], "needs_review");

        let (status, body) = app.claim(&t2, "o-1", "bob").await;
        assert_eq!(status, 409, "{body}");
        let e = &body["error"];
        assert_eq!(e["code"], "order_not_chargeable");
        let earlier = &e["earlier"];
        assert_eq!(earlier["kind"], "outcome_unknown");
        assert_eq!(earlier["operator_id"], "alice");
        assert_eq!(earlier["terminal_id"], "t1");
        assert_eq!(earlier["intent_id"], "pi_unknown");
        assert_eq!(earlier["at"], at);
        let msg = e["message"].as_str().unwrap();
        for part in ["not known", "alice", "t1", "pi_unknown", "check its status"] {
            assert!(msg.contains(part), "{part} missing in: {msg}");
        }
        assert_eq!(audited(app, "guard_outcome_unknown", "o-1").await.len(), 1);
    }
}

both_backends! {
    async fn the_same_customer_and_amount_paid_recently_needs_a_confirmation(app) {
        app.orders(&[("o-1", 1250, "EUR"), ("o-2", 1250, "EUR"), ("o-3", 990, "EUR"),
                     ("o-old", 770, "EUR"), ("o-4", 770, "EUR")]).await;
        app.operators(&["alice", "bob"]).await;
        let t1 = app.terminal("t1").await;
        let t2 = app.terminal("t2").await;
        let (token, attempt, _) = claimed(app, &t1, "o-1", "alice", "pi_first").await;
        app.gateway_paid("pi_first", "o-1").await;
        let at = now_ms() - 30 * 60_000;
        report(app, &t1, 1, "o-1", (token, attempt), "succeeded", 1250, "pi_first", at).await;
        // The same customer and amount paid five hours ago: outside the window.
        let (token, attempt, _) = claimed(app, &t1, "o-old", "alice", "pi_old").await;
        app.gateway_paid("pi_old", "o-old").await;
        let old = now_ms() - 5 * 3_600_000;
        report(app, &t1, 2, "o-old", (token, attempt), "succeeded", 770, "pi_old", old).await;

        let (status, body) = app.claim(&t2, "o-2", "bob").await;
        assert_eq!(status, 409, "{body}");
        let e = &body["error"];
        assert_eq!(e["code"], "similar_payment");
        let earlier = &e["earlier"];
        assert_eq!(earlier["kind"], "similar_payment");
        assert_eq!(earlier["order_id"], "o-1");
        assert_eq!(earlier["operator_id"], "alice");
        assert_eq!(earlier["terminal_id"], "t1");
        assert_eq!(earlier["intent_id"], "pi_first");
        assert_eq!(earlier["at"], at);
        let msg = e["message"].as_str().unwrap();
        for part in ["cus_test", "12.50 EUR", "o-1", "alice", "pi_first", "confirm"] {
            assert!(msg.contains(part), "{part} missing in: {msg}");
        }
        let detail = app.order("o-2").await;
        assert_eq!(detail["order"]["claim"], Value::Null, "nothing was claimed");
        assert_eq!(detail["order"]["attempt_seq"], 0, "no attempt number was used");

        let (status, claim) = claim_confirmed(app, &t2, "o-2", "bob").await;
        assert_eq!(status, 201, "confirmed: {claim}");
        // Another amount, and a payment older than the window: no warning.
        let (status, body) = app.claim(&t2, "o-3", "bob").await;
        assert_eq!(status, 201, "{body}");
        let (status, body) = app.claim(&t2, "o-4", "bob").await;
        assert_eq!(status, 201, "{body}");

        let rows = audited(app, "guard_similar_payment", "o-2").await;
        let outcomes: Vec<&str> = rows.iter().map(|r| r["outcome"].as_str().unwrap()).collect();
        assert_eq!(outcomes, ["done", "refused"], "newest first: {rows:?}");
        assert!(rows[0]["detail"].as_str().unwrap().contains("after confirming"), "{}", rows[0]);
        assert_eq!(rows[0]["operator_id"], "bob");
    }
}

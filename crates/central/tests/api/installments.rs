//! Deposits and balances (issue 12, item 2): an order paid in installments, each its own claim,
//! intent and result; the claim grants at most the balance due; an amount other than the
//! balance needs the permission and a reason (audited); the successes never add up to more than
//! the order's amount without a flag (I1).

use reqwest::Method;
use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::*;

/// A refused amount: (amount asked, reason, status, error code, words of the message).
type BadAmount = (
    Option<(i64, &'static str)>,
    Option<&'static str>,
    u16,
    &'static str,
    &'static str,
);

/// Claims `order` for alice at `term` asking for `amount` (`None`: the balance) with `reason`.
async fn claim_amount(
    app: &TestApp,
    term: &str,
    order: &str,
    amount: Option<(i64, &str)>,
    reason: Option<&str>,
) -> (u16, Value) {
    let session = app.session(term, "alice").await;
    let mut body = json!({ "operator_id": "alice" });
    if let Some((minor, currency)) = amount {
        body["amount"] = json!({ "minor": minor, "currency": currency });
    }
    if let Some(reason) = reason {
        body["reason"] = json!(reason);
    }
    app.send_as(
        Method::POST,
        &format!("/v1/orders/{order}/claim"),
        term,
        &session,
        Some(body),
    )
    .await
}

/// Registers `intent` under `claim`, records at the test gateway that it succeeded for
/// `minor` EUR, and reports the success; returns the item's receipt status.
async fn pay(
    app: &TestApp,
    term: &str,
    order: &str,
    claim: &Value,
    intent: &str,
    minor: i64,
) -> String {
    let token = claim["claim_token"].as_u64().unwrap();
    let attempt = claim["attempt_number"].as_u64().unwrap();
    let (s, b) = app
        .post(
            &format!("/v1/orders/{order}/intent"),
            term,
            json!({"claim_token": token, "attempt_number": attempt, "intent_id": intent}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    app.book.says(intent, succeeded_for(order, minor, "EUR"));
    let mut item = result_item(
        &attempt_id(),
        order,
        attempt,
        token,
        "succeeded",
        minor,
        "EUR",
        Some(intent),
    );
    item["installment"] = claim["installment"].clone();
    let (s, resp) = app
        .post("/v1/results", term, batch(attempt, vec![item]))
        .await;
    assert_eq!(s, 200, "{resp}");
    resp["items"][0]["status"].as_str().unwrap().to_string()
}

both_backends! {
    async fn a_deposit_then_the_balance_pays_the_order_in_two_installments(app) {
        app.orders(&[("o-1", 10_000, "EUR")]).await;
        app.operators(&["alice"]).await;
        let t1 = app.terminal("t1").await;

        // The deposit: another amount than the balance, with a reason.
        let (s, deposit) = claim_amount(app, &t1, "o-1", Some((3_000, "EUR")), Some("deposit agreed by phone")).await;
        assert_eq!(s, 201, "{deposit}");
        assert_eq!(deposit["installment"], 1);
        assert_eq!(deposit["amount"]["minor"], 3_000);
        assert_eq!(deposit["order"]["paid_minor"], 0);
        assert_eq!(pay(app, &t1, "o-1", &deposit, "pi_deposit", 3_000).await, "applied");
        let o = app.order("o-1").await;
        assert_eq!(o["order"]["status"], "unpaid", "partly paid stays in the queue: {o}");
        assert_eq!(o["order"]["paid_minor"], 3_000);
        assert_eq!(o["order"]["claim"], Value::Null, "the deposit's claim is released");
        assert_eq!(o["results"][0]["installment"], 1);
        let audited = app.store.other_amounts(&paydesk_core::OrderId::new("o-1").unwrap()).await.unwrap();
        assert_eq!(audited, vec![(1, 3_000, 10_000, "deposit agreed by phone".to_string(), "alice".to_string())]);

        // The balance: no amount asked, so the balance due, no reason needed.
        let (s, balance) = claim_amount(app, &t1, "o-1", None, None).await;
        assert_eq!(s, 201, "{balance}");
        assert_eq!(balance["installment"], 2);
        assert_eq!(balance["amount"]["minor"], 7_000);
        assert_eq!(balance["order"]["paid_minor"], 3_000);
        assert_ne!(balance["attempt_number"], deposit["attempt_number"], "its own attempt, its own keys");
        assert_eq!(pay(app, &t1, "o-1", &balance, "pi_balance", 7_000).await, "applied");
        let o = app.order("o-1").await;
        assert_eq!(o["order"]["status"], "paid", "{o}");
        assert_eq!(o["order"]["paid_minor"], 10_000);
        assert_eq!(o["order"]["paid_intent_id"], "pi_balance");

        // Nothing is left to charge.
        let (s, b) = claim_amount(app, &t1, "o-1", None, None).await;
        assert_eq!(s, 409, "{b}");
    }
}

both_backends! {
    async fn bad_amounts_are_refused_with_what_to_do_and_nothing_written(app) {
        app.orders(&[("o-1", 10_000, "EUR")]).await;
        app.operators(&["alice"]).await;
        let t1 = app.terminal("t1").await;
        let cases: [BadAmount; 5] = [
            (Some((0, "EUR")), Some("deposit"), 422, "invalid_amount", "more than zero"),
            (Some((-5, "EUR")), Some("deposit"), 400, "invalid_request", "negative"),
            (Some((3_000, "USD")), Some("deposit"), 422, "invalid_amount", "another currency"),
            (Some((10_001, "EUR")), Some("deposit"), 422, "invalid_amount", "more than the balance due"),
            (Some((3_000, "EUR")), None, 400, "invalid_request", "needs a reason"),
        ];
        for (amount, reason, status, code, words) in cases {
            let (s, b) = claim_amount(app, &t1, "o-1", amount, reason).await;
            assert_eq!(s, status, "{amount:?}: {b}");
            assert_eq!(b["error"]["code"], code, "{b}");
            assert!(b["error"]["message"].as_str().unwrap().contains(words), "{b}");
        }
        let o = app.order("o-1").await;
        assert_eq!(o["order"]["claim"], Value::Null, "no claim was taken: {o}");
        assert_eq!(o["order"]["attempt_seq"], 0, "no attempt number was spent");

        // Without the permission, an amount other than the balance is refused; the balance is not.
        let (s, b) = app
            .send(Method::PUT, "/v1/settings/permissions/operator", Some(ADMIN_TOKEN),
                  Some(json!({ "actions": ["charge"] })))
            .await;
        assert_eq!(s, 200, "{b}");
        let (s, b) = claim_amount(app, &t1, "o-1", Some((3_000, "EUR")), Some("deposit")).await;
        assert_eq!(s, 403, "{b}");
        assert!(b["error"]["message"].as_str().unwrap().contains("other than the balance due"), "{b}");
        let (s, b) = claim_amount(app, &t1, "o-1", Some((10_000, "EUR")), None).await;
        assert_eq!(s, 201, "the balance itself needs no permission: {b}");
        assert_eq!(b["amount"]["minor"], 10_000);
    }
}

both_backends! {
    async fn an_offline_success_past_the_balance_is_recorded_and_flagged_as_an_over_charge(app) {
        app.orders(&[("o-1", 10_000, "EUR")]).await;
        app.operators(&["alice"]).await;
        let t1 = app.terminal("t1").await;
        let t2 = app.terminal("t2").await;
        app.grant_now("t2").await;
        let (_, deposit) = claim_amount(app, &t1, "o-1", Some((4_000, "EUR")), Some("deposit")).await;
        assert_eq!(pay(app, &t1, "o-1", &deposit, "pi_deposit", 4_000).await, "applied");
        // Meanwhile a terminal that was offline charged the whole balance as it last saw it
        // (the full amount, installment 1) on an intent of its own.
        app.book.says("pi_offline", succeeded_for("o-1", 10_000, "EUR"));
        let item = offline_now(result_item(&attempt_id(), "o-1", 2, 1, "succeeded", 10_000, "EUR", Some("pi_offline")));
        let (s, resp) = app.post("/v1/results", &t2, batch(1, vec![item])).await;
        assert_eq!(s, 200, "{resp}");
        assert_eq!(resp["items"][0]["status"], "flagged", "{resp}");
        assert!(resp["items"][0]["reason"].as_str().unwrap().contains("over-charge"), "{resp}");
        let o = app.order("o-1").await;
        assert_eq!(o["order"]["status"], "needs_review", "{o}");
        assert_eq!(o["order"]["paid_minor"], 14_000, "the money that moved is counted, never lost");
        let (s, flags) = app.get("/v1/flags", ADMIN_TOKEN).await;
        assert_eq!(s, 200, "{flags}");
        assert!(flags.to_string().contains("over-charge on order o-1"), "{flags}");
    }
}

both_backends! {
    async fn a_partly_paid_order_grants_its_next_claim_only_the_balance(app) {
        app.orders(&[("o-1", 10_000, "EUR")]).await;
        app.operators(&["alice"]).await;
        let t1 = app.terminal("t1").await;
        let (_, deposit) = claim_amount(app, &t1, "o-1", Some((2_500, "EUR")), Some("deposit")).await;
        assert_eq!(pay(app, &t1, "o-1", &deposit, "pi_d", 2_500).await, "applied");
        let o = app.order("o-1").await;
        assert_eq!(o["order"]["paid_minor"], 2_500);
        let (_, balance) = claim_amount(app, &t1, "o-1", None, None).await;
        assert_eq!(balance["amount"]["minor"], 7_500, "{balance}");
        assert_eq!(balance["installment"], 2);
    }
}

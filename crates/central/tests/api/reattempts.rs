//! The card networks' reattempt limits at the central (issue 12, item 5): declines of one card are
//! counted across orders, operators and terminals; a claim beyond Visa's 15 in 30 days or
//! Mastercard's 10 in 24 hours is refused with why and when a retry becomes allowed; a
//! do-not-retry decline code refuses the card for good; each refusal is in the audit log.

use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::*;

fn now_ms() -> i64 {
    paydesk_central::clock::now().unix_ms()
}

/// Imports orders `(id, minor)` in EUR for customer `cus_r` with the card `pm`.
async fn orders_with_card(app: &TestApp, pm: &str, ids: &[(&str, i64)]) {
    let orders: Vec<Value> = ids
        .iter()
        .map(|(id, minor)| {
            json!({"order_id": id, "amount": {"minor": minor, "currency": "EUR"},
                   "customer_id": "cus_r", "payment_method_id": pm})
        })
        .collect();
    let (status, body) = app
        .post(
            "/v1/orders/import",
            ADMIN_TOKEN,
            json!({ "orders": orders }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

/// Claims `order` as `operator` at `term` and reports it declined at `at`; returns the attempt id.
async fn declined(
    app: &TestApp,
    term: &str,
    seq: u64,
    order: &str,
    operator: &str,
    at: i64,
) -> String {
    let (status, claim) = app.claim(term, order, operator).await;
    assert_eq!(status, 201, "claim {order}: {claim}");
    let id = attempt_id();
    let mut item = result_item(
        &id,
        order,
        claim["attempt_number"].as_u64().unwrap(),
        claim["claim_token"].as_u64().unwrap(),
        "declined",
        claim["order"]["amount"]["minor"].as_i64().unwrap(),
        "EUR",
        None,
    );
    item["occurred_at"] = json!(at);
    let (status, body) = app.post("/v1/results", term, batch(seq, vec![item])).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["items"][0]["status"], "applied", "{body}");
    id
}

async fn audited(app: &TestApp, kind: &str) -> Vec<Value> {
    let (status, page) = app
        .manager_get(&format!("/v1/audit?kind={kind}&limit=500"))
        .await;
    assert_eq!(status, 200, "{page}");
    page["entries"].as_array().unwrap().clone()
}

both_backends! {
    async fn visa_allows_fifteen_reattempts_in_thirty_days_across_operators(app) {
        let ids: Vec<String> = (1..=17).map(|i| format!("v-{i:02}")).collect();
        let orders: Vec<(&str, i64)> =
            ids.iter().enumerate().map(|(i, id)| (id.as_str(), 1000 + i as i64)).collect();
        orders_with_card(app, "pm_card_visa_r", &orders).await;
        app.operators(&["alice", "bob"]).await;
        let t1 = app.terminal("t1").await;
        let t2 = app.terminal("t2").await;
        let now = now_ms();
        // 16 declines over the last 16 days, half by alice on t1, half by bob on t2.
        let mut oldest = i64::MAX;
        for (i, id) in ids.iter().take(16).enumerate() {
            let at = now - (16 - i as i64) * 86_400_000 + 60_000;
            oldest = oldest.min(at);
            let (term, who) = if i % 2 == 0 { (&t1, "alice") } else { (&t2, "bob") };
            declined(app, term, i as u64 + 1, id, who, at).await;
        }
        // The 16th claim (15 reattempts) went through above; the 17th is refused.
        let (status, body) = app.claim(&t1, "v-17", "alice").await;
        assert_eq!(status, 409, "{body}");
        let e = &body["error"];
        assert_eq!(e["code"], "reattempt_refused");
        let r = &e["reattempt"];
        assert_eq!(r["payment_method_id"], "pm_card_visa_r");
        assert_eq!(r["network"], "visa");
        assert_eq!(r["reason"], "limit_reached");
        assert_eq!(r["declines_in_window"], 16);
        assert_eq!(r["limit"], 15);
        assert_eq!(r["window_ms"], 30 * 86_400_000i64);
        let retry_at = oldest + 30 * 86_400_000;
        assert_eq!(r["retry_at"], retry_at);
        let msg = e["message"].as_str().unwrap();
        let when = paydesk_core::Timestamp::from_unix_ms(retry_at).to_string();
        for part in ["v-17", "pm_card_visa_r", "16 times", "Visa", "15 reattempts", when.as_str()] {
            assert!(msg.contains(part), "{part} missing in: {msg}");
        }
        assert_eq!(app.order("v-17").await["order"]["attempt_seq"], 0, "no attempt was used");
        // An order already declined is the same card: refused too.
        let (status, body) = app.claim(&t2, "v-01", "bob").await;
        assert_eq!((status, body["error"]["code"].as_str()), (409, Some("reattempt_refused")));

        let rows = audited(app, "guard_reattempt_limit").await;
        assert_eq!(rows.len(), 2, "{rows:?}");
        assert_eq!(rows[1]["order_id"], "v-17");
        assert_eq!(rows[1]["operator_id"], "alice");
        assert_eq!(rows[1]["outcome"], "refused");
    }
}

both_backends! {
    async fn mastercard_allows_ten_in_twenty_four_hours_then_says_when(app) {
        let ids: Vec<String> = (1..=12).map(|i| format!("m-{i:02}")).collect();
        let orders: Vec<(&str, i64)> =
            ids.iter().enumerate().map(|(i, id)| (id.as_str(), 2000 + i as i64)).collect();
        orders_with_card(app, "pm_card_mastercard", &orders).await;
        app.operators(&["alice"]).await;
        let t1 = app.terminal("t1").await;
        let now = now_ms();
        let first = now - 11 * 3_600_000;
        for (i, id) in ids.iter().take(11).enumerate() {
            declined(app, &t1, i as u64 + 1, id, "alice", first + i as i64 * 3_600_000).await;
        }
        let (status, body) = app.claim(&t1, "m-12", "alice").await;
        assert_eq!(status, 409, "{body}");
        let r = &body["error"]["reattempt"];
        assert_eq!(r["network"], "mastercard");
        assert_eq!(r["limit"], 10);
        assert_eq!(r["window_ms"], 86_400_000);
        assert_eq!(r["retry_at"], first + 86_400_000);
        let msg = body["error"]["message"].as_str().unwrap();
        assert!(msg.contains("Mastercard") && msg.contains("24 hours"), "{msg}");
    }
}

both_backends! {
    async fn a_do_not_retry_code_blocks_the_card_for_good(app) {
        orders_with_card(app, "pm_card_x", &[("s-1", 500), ("s-2", 600)]).await;
        app.operators(&["alice"]).await;
        let t1 = app.terminal("t1").await;
        let at = now_ms() - 40 * 86_400_000;
        let attempt = declined(app, &t1, 1, "s-1", "alice", at).await;
        let report = json!({"attempt_id": attempt, "attempt_number": 1, "intent_id": "pi_s1",
            "decline_code": "stolen_card", "card_brand": "visa", "occurred_at": at});
        let (status, receipt) = app.post("/v1/orders/s-1/decline", &t1, report.clone()).await;
        assert_eq!(status, 200, "{receipt}");
        assert_eq!(receipt["recorded"], true);
        assert_eq!(receipt["retry"]["reason"], "do_not_retry");
        assert_eq!(receipt["retry"]["code"], "stolen_card");
        assert_eq!(receipt["retry"]["retry_at"], Value::Null);
        let (status, again) = app.post("/v1/orders/s-1/decline", &t1, report).await;
        assert_eq!((status, again["recorded"].clone()), (200, json!(false)), "{again}");

        // Forty days later still: never.
        let (status, body) = app.claim(&t1, "s-2", "alice").await;
        assert_eq!(status, 409, "{body}");
        let e = &body["error"];
        assert_eq!(e["code"], "reattempt_refused");
        assert_eq!(e["reattempt"]["reason"], "do_not_retry");
        assert_eq!(e["reattempt"]["network"], "visa", "the reported brand");
        assert_eq!(e["reattempt"]["retry_at"], Value::Null);
        let msg = e["message"].as_str().unwrap();
        assert!(msg.contains("stolen_card") && msg.contains("do not retry"), "{msg}");
        assert_eq!(audited(app, "guard_do_not_retry").await.len(), 1);
    }
}

both_backends! {
    async fn a_decline_report_is_checked_before_it_is_stored(app) {
        orders_with_card(app, "pm_card_x", &[("s-1", 500)]).await;
        app.operators(&["alice"]).await;
        let t1 = app.terminal("t1").await;
        let now = now_ms();
        let report = |order_attempt: u64, code: &str| json!({"attempt_id": attempt_id(),
            "attempt_number": order_attempt, "decline_code": code, "occurred_at": now});
        let (status, body) = app.post("/v1/orders/s-1/decline", &t1, report(1, "generic_decline")).await;
        assert_eq!(status, 400, "attempt 1 was never handed out: {body}");
        let (status, _) = app.claim(&t1, "s-1", "alice").await;
        assert_eq!(status, 201);
        let (status, body) = app.post("/v1/orders/s-1/decline", &t1, report(1, "bad code!")).await;
        assert_eq!(status, 400, "{body}");
        let (status, body) = app.post("/v1/orders/nope/decline", &t1, report(1, "generic_decline")).await;
        assert_eq!(status, 404, "{body}");
        let (status, body) = app.post("/v1/orders/s-1/decline", ADMIN_TOKEN, report(1, "generic_decline")).await;
        assert_eq!(status, 401, "only a terminal reports: {body}");
        let (status, body) = app.post("/v1/orders/s-1/decline", &t1, report(1, "insufficient_funds")).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["retry"], Value::Null, "{body}");
    }
}

//! The central believes no terminal's word about money (issue 10): one test per exploit of the
//! security review (`/work/shared/reviews/security.md`) C1, H3 (central side), H4 (webhook and
//! sweeper), M4 and M6. Each would pass on the old central only if the exploit failed there.

use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::*;
use crate::webhooks::{deliver, now_s, registered, signed, succeeded};

fn statuses(resp: &Value) -> Vec<String> {
    resp["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["status"].as_str().unwrap().to_string())
        .collect()
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

/// The state the central holds for a registered intent.
async fn intent_state(app: &TestApp, order: &str, intent: &str) -> String {
    let o = app.order(order).await;
    o["intents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["intent_id"] == intent)
        .unwrap_or_else(|| panic!("{intent} not registered for {order}: {o}"))["state"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The rows of every table a results batch may write (results, flags, quota drops, journal
/// heads, intents, the claim audit) and every order's status, holder and last change: equal
/// before and after a refused batch, or something was written.
async fn written(app: &TestApp) -> Vec<String> {
    use sqlx::Row;
    let mut seen = Vec::new();
    for table in [
        "results",
        "flags",
        "result_drops",
        "journal_heads",
        "intents",
        "claim_audit",
    ] {
        let n: i64 = sqlx::query(&format!("SELECT COUNT(*) AS n FROM {table}"))
            .fetch_one(app.store.pool())
            .await
            .unwrap()
            .try_get("n")
            .unwrap();
        seen.push(format!("{table}: {n}"));
    }
    let orders = sqlx::query(
        "SELECT order_id, status, holder_terminal, updated_at FROM orders ORDER BY order_id",
    )
    .fetch_all(app.store.pool())
    .await
    .unwrap();
    for o in orders {
        seen.push(format!(
            "{} {} {:?} {}",
            o.try_get::<String, _>("order_id").unwrap(),
            o.try_get::<String, _>("status").unwrap(),
            o.try_get::<Option<String>, _>("holder_terminal").unwrap(),
            o.try_get::<i64, _>("updated_at").unwrap()
        ));
    }
    seen
}

/// Posts a batch the central must refuse whole: 403 `forbidden`, nothing written. The message.
async fn refused(app: &TestApp, terminal: &str, body: Value) -> String {
    let before = written(app).await;
    let (s, r) = app.post("/v1/results", terminal, body).await;
    assert_eq!(
        (s, r["error"]["code"].clone()),
        (403, json!("forbidden")),
        "{r}"
    );
    assert_eq!(
        written(app).await,
        before,
        "a refused batch wrote nothing: {r}"
    );
    let message = r["error"]["message"].as_str().unwrap().to_string();
    assert!(
        message.contains("nothing in this batch was stored"),
        "{message}"
    );
    message
}

async fn flags(app: &TestApp, query: &str) -> Value {
    let (s, f) = app.get(&format!("/v1/flags{query}"), ADMIN_TOKEN).await;
    assert_eq!(s, 200, "{f}");
    f
}

fn reasons(flags: &Value) -> Vec<String> {
    flags["flags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["reason"].as_str().unwrap().to_string())
        .collect()
}

// ---- C1: a terminal can mark any order paid with no payment

both_backends! {
    async fn other_terminal_cannot_pay_or_release(app) {
        app.orders(&[("o-1", 1000, "EUR")]).await;
        app.operators(&["alice"]).await;
        let t1 = app.terminal("t1").await;
        let t2 = app.terminal("t2").await;
        let (tok, att) = registered(app, &t1, "o-1", "pi_1").await;
        // Even with real money behind the intent, t2 cannot speak for t1's claim.
        app.gateway_paid("pi_1", "o-1").await;
        // Refused whole (403), nothing stored, not even the journal head.
        let it = result_item(&attempt_id(), "o-1", att, tok, "succeeded", 1000, "EUR",
            Some("pi_1"));
        let message = refused(app, &t2, batch(1, vec![it.clone()])).await;
        assert!(message.contains(&format!(
            "results[0] (order o-1): claim token {tok} of order o-1 was never granted to terminal t2"
        )), "{message}");
        // Called offline, under t1's token: no offline attempt carries a claim token.
        let mut it = it;
        it["attempt_id"] = json!(attempt_id());
        it["offline"] = json!(true);
        let message = refused(app, &t2, batch(1, vec![it])).await;
        assert!(message.contains("offline claim token"), "{message}");
        // A decline under t1's current token: neither fails the order nor ends t1's claim.
        let it = result_item(&attempt_id(), "o-1", att, tok, "declined", 1000, "EUR", Some("pi_1"));
        refused(app, &t2, batch(2, vec![it])).await;
        let o = app.order("o-1").await;
        assert_eq!(o["order"]["status"], "unpaid", "{o}");
        assert_eq!(o["order"]["claim"]["terminal_id"], "t1", "t1 still holds it: {o}");
        assert_eq!(intent_state(app, "o-1", "pi_1").await, "open");
        // The holder's own success, confirmed at the gateway, pays it.
        let it = result_item(&attempt_id(), "o-1", att, tok, "succeeded", 1000, "EUR", Some("pi_1"));
        let (_, r) = app.post("/v1/results", &t1, batch(1, vec![it])).await;
        assert_eq!(statuses(&r), ["applied"], "{r}");
        assert_eq!(app.order("o-1").await["order"]["status"], "paid");
        assert_eq!(verified_by(app, "o-1").await.as_deref(), Some("gateway"));
    }
}

both_backends! {
    /// The review's curl: `offline: true`, `intent_id: null`, `occurred_at: 0`, token 1.
    async fn the_forged_offline_success_pays_nothing(app) {
        app.orders(&[("INV-4711", 129_000, "EUR")]).await;
        let t = app.terminal("t1").await;
        let it = json!({"attempt_id": attempt_id(), "order_id": "INV-4711", "attempt_number": 1,
            "claim_token": 1, "outcome": "succeeded", "amount": {"minor": 129_000, "currency": "EUR"},
            "intent_id": null, "offline": true, "occurred_at": 0});
        // No honest terminal sends it: refused whole (403), nothing written.
        let message = refused(app, &t, batch(1, vec![it])).await;
        assert!(message.starts_with("results[0] (order INV-4711): "), "{message}");
        let o = app.order("INV-4711").await;
        assert_eq!(o["order"]["status"], "unpaid", "{o}");
        assert_eq!(o["results"].as_array().unwrap().len(), 0, "{o}");
        // Under the offline claim token but naming no intent: refused too.
        let mut it = offline_now(result_item(&attempt_id(), "INV-4711", 1, 1, "succeeded", 129_000,
            "EUR", None));
        it["occurred_at"] = json!(0);
        let message = refused(app, &t, batch(2, vec![it.clone()])).await;
        assert!(message.contains("names no payment intent"), "{message}");
        // Naming an intent, with no grant: stored and flagged (money may have moved), not paid.
        it["intent_id"] = json!("pi_forged");
        let (_, r) = app.post("/v1/results", &t, batch(3, vec![it])).await;
        assert_eq!(statuses(&r), ["flagged"], "{r}");
        assert_eq!(app.order("INV-4711").await["order"]["status"], "unpaid");
    }
}

both_backends! {
    /// One honest result and forged ones in a batch: the honest one is applied, each forged
    /// one answered `rejected` and not stored (no result row, no flag, no quota row).
    async fn a_mixed_batch_stores_only_the_honest_results(app) {
        use sqlx::Row;
        app.orders(&[("o-1", 1000, "EUR"), ("o-2", 2000, "EUR")]).await;
        app.operators(&["alice"]).await;
        let t1 = app.terminal("t1").await;
        let (tok, att) = registered(app, &t1, "o-1", "pi_1").await;
        app.gateway_paid("pi_1", "o-1").await;
        let honest = result_item(&attempt_id(), "o-1", att, tok, "succeeded", 1000, "EUR",
            Some("pi_1"));
        // o-2 was never claimed; "ghost" is no order at all; the last is the review's curl.
        let unclaimed = result_item(&attempt_id(), "o-2", 1, 1, "succeeded", 2000, "EUR",
            Some("pi_2"));
        let ghost = result_item(&attempt_id(), "ghost", 1, 1, "declined", 100, "EUR", None);
        let curl = json!({"attempt_id": attempt_id(), "order_id": "o-2", "attempt_number": 1,
            "claim_token": 1, "outcome": "succeeded", "amount": {"minor": 2000, "currency": "EUR"},
            "intent_id": null, "offline": true, "occurred_at": 0});
        let (s, r) = app.post("/v1/results", &t1, batch(1, vec![unclaimed, honest, ghost, curl]))
            .await;
        assert_eq!(s, 200, "{r}");
        assert_eq!(statuses(&r), ["rejected", "applied", "rejected", "rejected"], "{r}");
        assert!(r["items"][0]["reason"].as_str().unwrap()
            .contains("claim token 1 of order o-2 was never granted to terminal t1"), "{r}");
        assert!(r["items"][2]["reason"].as_str().unwrap().contains("order ghost"), "{r}");
        assert!(r["items"][3]["reason"].as_str().unwrap().contains("offline claim token"), "{r}");
        assert_eq!(app.order("o-1").await["order"]["status"], "paid");
        let o = app.order("o-2").await;
        assert_eq!(o["order"]["status"], "unpaid", "{o}");
        assert_eq!(o["results"].as_array().unwrap().len(), 0, "{o}");
        assert_eq!(app.store.result_count().await.unwrap(), 1, "only the honest one is stored");
        let f = flags(app, "").await;
        assert_eq!(f["flags"].as_array().unwrap().len(), 0, "{f}");
        let drops: i64 = sqlx::query("SELECT COUNT(*) AS n FROM result_drops")
            .fetch_one(app.store.pool())
            .await
            .unwrap()
            .try_get("n")
            .unwrap();
        assert_eq!(drops, 0);
    }
}

both_backends! {
    /// A claim-bound result for an order the central does not know: no claim can have been
    /// granted for it, so it is refused, not stored as awaiting the order's import.
    async fn an_online_result_for_an_unknown_order_is_refused(app) {
        let t1 = app.terminal("t1").await;
        let it = result_item(&attempt_id(), "nope", 1, 1, "succeeded", 100, "EUR", Some("pi_1"));
        let message = refused(app, &t1, batch(1, vec![it.clone()])).await;
        assert!(message.contains("claim token 1 of order nope was never granted to terminal t1"),
            "{message}");
        // Every item refused, however many: still nothing written.
        let mut other = it.clone();
        other["attempt_id"] = json!(attempt_id());
        other["order_id"] = json!("nope-2");
        let message = refused(app, &t1, batch(1, vec![it, other])).await;
        assert!(message.contains("and the other 1 results of the batch likewise"), "{message}");
        // Imported later, the order does not pick up anything from them.
        app.orders(&[("nope", 100, "EUR")]).await;
        let o = app.order("nope").await;
        assert_eq!(o["order"]["status"], "unpaid", "{o}");
        assert_eq!(o["results"].as_array().unwrap().len(), 0, "{o}");
    }
}

both_backends! {
    async fn success_without_gateway_evidence_is_review_not_paid(app) {
        app.orders(&[("o-1", 1000, "EUR")]).await;
        app.operators(&["alice"]).await;
        let t1 = app.terminal("t1").await;
        let (tok, att) = registered(app, &t1, "o-1", "pi_1").await;
        // The gateway knows no such success (down, or the terminal lies).
        let it = result_item(&attempt_id(), "o-1", att, tok, "succeeded", 1000, "EUR", Some("pi_1"));
        let (_, r) = app.post("/v1/results", &t1, batch(1, vec![it])).await;
        assert_eq!(statuses(&r), ["flagged"], "{r}");
        let o = app.order("o-1").await;
        assert_eq!(o["order"]["status"], "needs_review", "{o}");
        assert_eq!(o["order"]["paid_intent_id"], Value::Null);
        assert_eq!(o["order"]["claim"], Value::Null, "the holder's attempt is over");
        let (s, claim) = app.claim(&t1, "o-1", "alice").await;
        assert_eq!((s, claim["error"]["code"].clone()), (409, json!("order_not_chargeable")));
        // Until the gateway knows, the sweeper leaves it; then it settles it from the evidence.
        assert_eq!(app.sweep().await.settled_unknown, 0);
        assert_eq!(app.order("o-1").await["order"]["status"], "needs_review");
        app.gateway_paid("pi_1", "o-1").await;
        assert_eq!(app.sweep().await.settled_unknown, 1);
        let o = app.order("o-1").await;
        assert_eq!((o["order"]["status"].clone(), o["order"]["paid_intent_id"].clone()),
            (json!("paid"), json!("pi_1")), "{o}");
        assert_eq!(verified_by(app, "o-1").await.as_deref(), Some("gateway"));
    }
}

both_backends! {
    async fn a_success_the_gateway_contradicts_is_never_paid(app) {
        app.orders(&[("o-1", 1000, "EUR"), ("o-2", 1000, "EUR")]).await;
        app.operators(&["alice"]).await;
        let t1 = app.terminal("t1").await;
        let (tok, att) = registered(app, &t1, "o-1", "pi_1").await;
        // pi_1 succeeded, but for another customer's card.
        let mut evidence = succeeded_for("o-1", 1000, "EUR");
        if let paydesk_central::IntentEvidence::Succeeded { customer, .. } = &mut evidence {
            *customer = Some("cus_someone_else".into());
        }
        app.book.says("pi_1", evidence);
        let it = result_item(&attempt_id(), "o-1", att, tok, "succeeded", 1000, "EUR", Some("pi_1"));
        let (_, r) = app.post("/v1/results", &t1, batch(1, vec![it])).await;
        assert_eq!(statuses(&r), ["flagged"], "{r}");
        assert!(r["items"][0]["reason"].as_str().unwrap().contains("cus_someone_else"), "{r}");
        assert_eq!(app.order("o-1").await["order"]["status"], "needs_review");
        // A success without an intent id, under the sender's own claim, is refused whole.
        let (tok, att) = registered(app, &t1, "o-2", "pi_2").await;
        app.gateway_paid("pi_2", "o-2").await;
        let it = result_item(&attempt_id(), "o-2", att, tok, "succeeded", 1000, "EUR", None);
        let message = refused(app, &t1, batch(2, vec![it])).await;
        assert!(message.contains("results[0] (order o-2): a success for order o-2 names no \
            payment intent"), "{message}");
        let o = app.order("o-2").await;
        assert_eq!(o["order"]["status"], "unpaid", "{o}");
        assert_eq!(o["order"]["claim"]["terminal_id"], "t1", "{o}");
        // The sweeper does not pay o-1 from that evidence either: the contradiction is flagged.
        app.sweep().await;
        assert_eq!(app.order("o-1").await["order"]["status"], "needs_review");
    }
}

both_backends! {
    async fn forged_success_shows_in_reconciliation(app) {
        app.orders(&[("o-1", 1000, "EUR"), ("o-2", 2000, "EUR")]).await;
        app.operators(&["alice"]).await;
        let t1 = app.terminal("t1").await;
        let (tok, att) = registered(app, &t1, "o-1", "pi_1").await;
        // Dated 1970 and naming an intent the gateway never charged: still reported, by when
        // the central received it.
        let mut it = result_item(&attempt_id(), "o-1", att, tok, "succeeded", 1000, "EUR",
            Some("pi_forged"));
        it["occurred_at"] = json!(0);
        app.post("/v1/results", &t1, batch(1, vec![it])).await;
        // An order marked paid with no paying intent (as a forged result used to leave it).
        sqlx::query("UPDATE orders SET status = 'paid', updated_at = $1 WHERE order_id = 'o-2'")
            .bind(paydesk_central::clock::now().unix_ms())
            .execute(app.store.pool())
            .await
            .unwrap();
        let now = paydesk_central::clock::now().unix_ms();
        let (s, report) = app
            .get(&format!("/v1/reconcile?from={}&to={}", now - 60_000, now + 1000), ADMIN_TOKEN)
            .await;
        assert_eq!(s, 200, "{report}");
        let listed: Vec<&str> = report["recorded_not_charged"].as_array().unwrap().iter()
            .map(|e| e["order_id"].as_str().unwrap()).collect();
        assert!(listed.contains(&"o-1") && listed.contains(&"o-2"), "{report}");
    }
}

both_backends! {
    async fn result_cannot_touch_another_orders_intent(app) {
        app.orders(&[("o-1", 1000, "EUR"), ("o-2", 1000, "EUR")]).await;
        app.operators(&["alice"]).await;
        let t1 = app.terminal("t1").await;
        registered(app, &t1, "o-2", "pi_2").await;
        let (tok, att) = registered(app, &t1, "o-1", "pi_1").await;
        app.gateway_paid("pi_2", "o-2").await;
        // t1's result for o-1 names o-2's intent: neither order nor intent changes.
        let it = result_item(&attempt_id(), "o-1", att, tok, "declined", 1000, "EUR", Some("pi_2"));
        app.post("/v1/results", &t1, batch(1, vec![it])).await;
        assert_eq!(intent_state(app, "o-2", "pi_2").await, "open");
        // Nor does a success naming it pay o-1.
        let (tok, att) = registered(app, &t1, "o-1", "pi_3").await;
        let it = result_item(&attempt_id(), "o-1", att, tok, "succeeded", 1000, "EUR", Some("pi_2"));
        let (_, r) = app.post("/v1/results", &t1, batch(2, vec![it])).await;
        assert_eq!(statuses(&r), ["flagged"], "{r}");
        assert!(r["items"][0]["reason"].as_str().unwrap().contains("registered for order o-2"), "{r}");
        assert_ne!(app.order("o-1").await["order"]["status"], "paid");
        assert_eq!(intent_state(app, "o-2", "pi_2").await, "open");
        assert_eq!(app.order("o-2").await["order"]["status"], "unpaid");
    }
}

both_backends! {
    async fn a_stale_token_refusal_does_not_disclose_the_current_token(app) {
        app.orders(&[("o-1", 1000, "EUR")]).await;
        app.operators(&["alice"]).await;
        let t1 = app.terminal("t1").await;
        let (s, c) = app.claim(&t1, "o-1", "alice").await;
        assert_eq!(s, 201, "{c}");
        let first = c["claim_token"].as_u64().unwrap();
        app.post("/v1/orders/o-1/claim/release", &t1, json!({"claim_token": first})).await;
        let (_, c) = app.claim(&t1, "o-1", "alice").await;
        let current = c["claim_token"].as_u64().unwrap();
        assert!(current > first);
        let (s, b) = app.post("/v1/orders/o-1/claim/renew", &t1, json!({"claim_token": first})).await;
        assert_eq!(s, 409, "{b}");
        let message = b["error"]["message"].as_str().unwrap();
        assert!(!message.contains(&format!("is {current}")) && !message.contains("current token"),
            "{message}");
    }
}

// ---- C1/H3: offline results need a grant the central issued, and never undo a holder's claim

both_backends! {
    async fn offline_result_without_a_grant_is_flagged_not_applied(app) {
        app.orders(&[("o-1", 1000, "EUR")]).await;
        let t1 = app.terminal("t1").await;
        app.gateway_paid("pi_off", "o-1").await;
        let it = offline_now(result_item(&attempt_id(), "o-1", 1, 1, "succeeded", 1000, "EUR",
            Some("pi_off")));
        let (_, r) = app.post("/v1/results", &t1, batch(1, vec![it.clone()])).await;
        assert_eq!(statuses(&r), ["flagged"], "{r}");
        assert!(r["items"][0]["reason"].as_str().unwrap().contains("no offline grant"), "{r}");
        assert_eq!(app.order("o-1").await["order"]["status"], "unpaid");
        // A grant to another terminal does not cover it; an expired one of its own neither.
        let now = paydesk_central::clock::now().unix_ms();
        app.offline_grant("t2", "EUR", 100_000, 100_000, now - 3_600_000, now + 3_600_000).await;
        app.offline_grant("t1", "EUR", 100_000, 100_000, now - 7_200_000, now - 3_600_000).await;
        let mut again = it.clone();
        again["attempt_id"] = json!(attempt_id());
        let (_, r) = app.post("/v1/results", &t1, batch(2, vec![again])).await;
        assert_eq!(statuses(&r), ["flagged"], "{r}");
        assert_eq!(app.order("o-1").await["order"]["status"], "unpaid");
        // With the manager's grant in force, the same charge (confirmed at the gateway) pays it.
        app.grant_now("t1").await;
        let mut again = it;
        again["attempt_id"] = json!(attempt_id());
        let (_, r) = app.post("/v1/results", &t1, batch(3, vec![again])).await;
        assert_eq!(statuses(&r), ["applied"], "{r}");
        assert_eq!(app.order("o-1").await["order"]["status"], "paid");
    }
}

both_backends! {
    async fn offline_results_over_the_grant_are_flagged_not_paid(app) {
        app.orders(&[("o-1", 1000, "EUR"), ("o-2", 600, "EUR"), ("o-3", 2000, "EUR"),
            ("o-4", 500, "USD")]).await;
        let t1 = app.terminal("t1").await;
        let now = paydesk_central::clock::now().unix_ms();
        // 10.00 EUR per charge, 15.00 EUR per shift.
        app.offline_grant("t1", "EUR", 1000, 1500, now - 3_600_000, now + 3_600_000).await;
        for (order, intent) in [("o-1", "pi_1"), ("o-2", "pi_2"), ("o-3", "pi_3"), ("o-4", "pi_4")] {
            app.gateway_paid(intent, order).await;
        }
        let off = |order: &str, minor: i64, currency: &str, intent: &str| {
            offline_now(result_item(&attempt_id(), order, 1, 1, "succeeded", minor, currency,
                Some(intent)))
        };
        let (_, r) = app.post("/v1/results", &t1, batch(1, vec![
            off("o-1", 1000, "EUR", "pi_1"),
            off("o-2", 600, "EUR", "pi_2"),
            off("o-3", 2000, "EUR", "pi_3"),
            off("o-4", 500, "USD", "pi_4"),
        ])).await;
        assert_eq!(statuses(&r), ["applied", "flagged", "flagged", "flagged"], "{r}");
        assert!(r["items"][1]["reason"].as_str().unwrap().contains("per-shift"), "{r}");
        assert!(r["items"][2]["reason"].as_str().unwrap().contains("per-charge"), "{r}");
        assert!(r["items"][3]["reason"].as_str().unwrap().contains("USD"), "{r}");
        assert_eq!(app.order("o-1").await["order"]["status"], "paid");
        for order in ["o-2", "o-3", "o-4"] {
            assert_eq!(app.order(order).await["order"]["status"], "unpaid", "{order}");
        }
    }
}

both_backends! {
    async fn offline_decline_never_fails_or_releases_anothers_claim(app) {
        app.orders(&[("o-1", 1000, "EUR")]).await;
        app.operators(&["alice"]).await;
        let t1 = app.terminal("t1").await;
        let t2 = app.terminal("t2").await;
        app.grant_now("t2").await;
        registered(app, &t1, "o-1", "pi_1").await;
        for outcome in ["declined", "canceled", "requires_action"] {
            let it = offline_now(result_item(&attempt_id(), "o-1", 5, 1, outcome, 1000, "EUR",
                Some("pi_1")));
            let (_, r) = app.post("/v1/results", &t2, batch(1, vec![it])).await;
            assert_eq!(statuses(&r), ["flagged"], "{outcome}: {r}");
            let o = app.order("o-1").await;
            assert_eq!(o["order"]["status"], "unpaid", "{outcome}: {o}");
            assert_eq!(o["order"]["claim"]["terminal_id"], "t1", "{outcome}: {o}");
            assert_eq!(intent_state(app, "o-1", "pi_1").await, "open", "{outcome}");
        }
        // The sweeper, once t1's lease runs out, still asks the gateway about t1's intent
        // instead of releasing the claim as if nothing could have been charged.
        let later = paydesk_central::clock::now().plus_ms(61_000);
        let r = paydesk_central::sweeper::sweep_once(&app.store, Some(app.book.as_ref()), later)
            .await
            .unwrap();
        assert_eq!((r.released, r.unresolved), (0, 1), "{r:?}");
    }
}

// ---- H4: webhooks and the sweeper bind an intent to the order's customer

both_backends! {
    async fn webhook_success_with_another_customer_goes_to_review(app) {
        app.orders(&[("o-1", 1250, "EUR"), ("o-2", 1250, "EUR")]).await;
        app.operators(&["alice"]).await;
        let t1 = app.terminal("t1").await;
        registered(app, &t1, "o-1", "pi_1").await;
        // Registered intent, matching amount, customer B's card.
        let body = succeeded("evt_1", "pi_1", "o-1", 1250).replace("cus_test", "cus_b");
        let (s, b) = deliver(app, &body, signed(&body, WEBHOOK_SECRET, now_s())).await;
        assert_eq!(s, 200, "{b}");
        assert_eq!(app.order("o-1").await["order"]["status"], "needs_review");
        let f = flags(app, "?order_id=o-1").await;
        assert!(reasons(&f).iter().any(|r| r.contains("cus_b")), "{f}");
        // Unregistered intent naming o-2 in its metadata, another customer: review, flag.
        let body = succeeded("evt_2", "pi_x", "o-2", 1250).replace("cus_test", "cus_b");
        deliver(app, &body, signed(&body, WEBHOOK_SECRET, now_s())).await;
        assert_eq!(app.order("o-2").await["order"]["status"], "needs_review");
        assert_eq!(flags(app, "?order_id=o-2").await["flags"].as_array().unwrap().len(), 1);
    }
}

both_backends! {
    async fn sweeper_does_not_pay_on_another_orders_metadata(app) {
        app.orders(&[("o-1", 1000, "EUR"), ("o-2", 1000, "EUR")]).await;
        app.operators(&["alice"]).await;
        let t1 = app.terminal("t1").await;
        registered(app, &t1, "o-1", "pi_1").await;
        // pi_1 succeeded at the gateway, for o-2 by its metadata.
        app.book.says("pi_1", succeeded_for("o-2", 1000, "EUR"));
        let later = paydesk_central::clock::now().plus_ms(61_000);
        let r = paydesk_central::sweeper::sweep_once(&app.store, Some(app.book.as_ref()), later)
            .await
            .unwrap();
        assert_eq!(r.resolved, 1, "{r:?}");
        let o = app.order("o-1").await;
        assert_eq!(o["order"]["status"], "needs_review", "{o}");
        assert_eq!(o["order"]["paid_intent_id"], Value::Null);
        let f = flags(app, "?order_id=o-1&source=sweeper").await;
        assert!(reasons(&f).iter().any(|r| r.contains("metadata order o-2")), "{f}");
    }
}

// ---- M4: flag flooding and unbounded growth

both_backends! {
    async fn a_flood_of_flags_cannot_bury_the_webhooks_flag(app) {
        app.orders(&[("o-1", 1250, "EUR"), ("o-9", 1250, "EUR")]).await;
        app.operators(&["alice"]).await;
        let t1 = app.terminal("t1").await;
        let t2 = app.terminal("t2").await;
        registered(app, &t1, "o-1", "pi_1").await;
        // The real contradiction: a success for another customer.
        let body = succeeded("evt_1", "pi_1", "o-1", 1250).replace("cus_test", "cus_b");
        deliver(app, &body, signed(&body, WEBHOOK_SECRET, now_s())).await;
        // t2 floods: 1,200 offline results of the wrong amount (above the order's: an
        // installment may be less) under its grant.
        app.grant_now("t2").await;
        for n in 0..2 {
            let items: Vec<Value> = (0..600)
                .map(|_| offline_now(result_item(&attempt_id(), "o-9", 1, 1, "declined", 1251,
                    "EUR", None)))
                .collect();
            let (s, r) = app.post("/v1/results", &t2, batch(n + 1, items)).await;
            assert_eq!(s, 200, "{r}");
        }
        // At most the hourly quota is stored; the rest counted, and one flag says so.
        assert_eq!(app.store.result_count().await.unwrap(), 500);
        let quota = flags(app, "?source=quota").await;
        assert_eq!(quota["flags"].as_array().unwrap().len(), 1, "{quota}");
        // The webhook's flag is still found: by order, by source, and by paging.
        let f = flags(app, "?order_id=o-1").await;
        assert!(reasons(&f).iter().any(|r| r.contains("cus_b")), "{f}");
        let f = flags(app, "?source=webhook").await;
        assert_eq!(f["flags"].as_array().unwrap().len(), 1, "{f}");
        let mut after = String::new();
        let mut found = false;
        for _ in 0..20 {
            let page = flags(app, &format!("?limit=100{after}")).await;
            found |= reasons(&page).iter().any(|r| r.contains("cus_b"));
            match page["next_after"].as_i64() {
                Some(id) => after = format!("&after={id}"),
                None => break,
            }
        }
        assert!(found, "paging reaches the oldest flag");
        // One order's page stays bounded.
        let o = app.order("o-9").await;
        assert_eq!(o["results"].as_array().unwrap().len(), 200);
        let (s, _) = app.get("/v1/flags?limit=0", ADMIN_TOKEN).await;
        assert_eq!(s, 400);
    }
}

// ---- M6: webhook semantics

both_backends! {
    async fn a_webhook_of_the_other_mode_is_ignored_and_flagged(app) {
        app.book.set_livemode(Some(true));
        app.orders(&[("o-1", 1250, "EUR")]).await;
        app.operators(&["alice"]).await;
        let t1 = app.terminal("t1").await;
        registered(app, &t1, "o-1", "pi_1").await;
        // A free test-mode intent naming a real order on a live central.
        let body = succeeded("evt_1", "pi_1", "o-1", 1250);
        let (s, b) = deliver(app, &body, signed(&body, WEBHOOK_SECRET, now_s())).await;
        assert_eq!(s, 200, "{b}");
        assert_eq!(app.order("o-1").await["order"]["status"], "unpaid");
        assert_eq!(app.store.webhook_event_count().await.unwrap(), 1);
        let f = flags(app, "?source=webhook").await;
        assert!(reasons(&f).iter().any(|r| r.contains("ignored")), "{f}");
        // The same event in live mode pays it.
        let live = succeeded("evt_2", "pi_1", "o-1", 1250).replace("\"livemode\":false", "\"livemode\":true");
        deliver(app, &live, signed(&live, WEBHOOK_SECRET, now_s())).await;
        assert_eq!(app.order("o-1").await["order"]["status"], "paid");
        assert_eq!(verified_by(app, "o-1").await.as_deref(), Some("webhook"));
    }
}

both_backends! {
    async fn an_unregistered_intents_success_is_review_only(app) {
        app.orders(&[("o-1", 1250, "EUR")]).await;
        // Right amount, customer and payment method, but no claim registered pi_x.
        let body = succeeded("evt_1", "pi_x", "o-1", 1250);
        let (s, b) = deliver(app, &body, signed(&body, WEBHOOK_SECRET, now_s())).await;
        assert_eq!(s, 200, "{b}");
        let o = app.order("o-1").await;
        assert_eq!(o["order"]["status"], "needs_review", "{o}");
        assert_eq!(o["order"]["paid_intent_id"], Value::Null);
    }
}

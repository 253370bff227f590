//! The results inbox: exactly-once application, per-item statuses, contradictions flagged,
//! journal heads checked.

use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::*;

/// Claims `order` and registers `intent`; returns (token, attempt).
async fn claimed(app: &TestApp, term: &str, order: &str, intent: Option<&str>) -> (u64, u64) {
    let (status, claim) = app.claim(term, order, "alice").await;
    assert_eq!(status, 201, "{claim}");
    let token = claim["claim_token"].as_u64().unwrap();
    let attempt = claim["attempt_number"].as_u64().unwrap();
    if let Some(intent) = intent {
        let (status, body) = app
            .post(
                &format!("/v1/orders/{order}/intent"),
                term,
                json!({"claim_token": token, "attempt_number": attempt, "intent_id": intent}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }
    (token, attempt)
}

fn statuses(resp: &Value) -> Vec<String> {
    resp["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["status"].as_str().unwrap().to_string())
        .collect()
}

both_backends! {
    async fn results_apply_once_and_release_the_flag(app) {
        app.orders(&[("o-1", 1250, "EUR"), ("o-2", 500, "USD")]).await;
        app.operators(&["alice"]).await;
        let t1 = app.terminal("t1").await;
        let (tok1, att1) = claimed(app, &t1, "o-1", Some("pi_1")).await;
        let (tok2, att2) = claimed(app, &t1, "o-2", Some("pi_2")).await;
        app.gateway_paid("pi_1", "o-1").await;
        let a1 = attempt_id();
        let a2 = attempt_id();
        let b = batch(10, vec![
            result_item(&a1, "o-1", att1, tok1, "succeeded", 1250, "EUR", Some("pi_1")),
            result_item(&a2, "o-2", att2, tok2, "declined", 500, "USD", Some("pi_2")),
        ]);
        let (status, resp) = app.post("/v1/results", &t1, b.clone()).await;
        assert_eq!(status, 200, "{resp}");
        assert_eq!(statuses(&resp), ["applied", "applied"]);
        assert_eq!(resp["journal"]["flagged"], false);
        let o1 = app.order("o-1").await;
        assert_eq!(o1["order"]["status"], "paid");
        assert_eq!(o1["order"]["paid_intent_id"], "pi_1");
        assert_eq!(o1["order"]["claim"], Value::Null, "the flag is released");
        assert_eq!(o1["results"].as_array().unwrap().len(), 1);
        assert_eq!(app.order("o-2").await["order"]["status"], "failed");

        // Replayed as is, and reordered: all duplicates, nothing changes.
        let (_, resp) = app.post("/v1/results", &t1, b.clone()).await;
        assert_eq!(statuses(&resp), ["duplicate", "duplicate"]);
        let mut reordered = b.clone();
        reordered["results"].as_array_mut().unwrap().reverse();
        let (_, resp) = app.post("/v1/results", &t1, reordered).await;
        assert_eq!(statuses(&resp), ["duplicate", "duplicate"]);
        assert_eq!(app.store.result_count().await.unwrap(), 2);
        assert_eq!(app.order("o-2").await["order"]["status"], "failed");
    }
}

both_backends! {
    async fn concurrent_duplicate_batches_have_one_effect(app) {
        let ids: Vec<String> = (0..20).map(|i| format!("o-{i}")).collect();
        let orders: Vec<(&str, i64, &str)> = ids.iter().map(|i| (i.as_str(), 100, "EUR")).collect();
        app.orders(&orders).await;
        app.operators(&["alice"]).await;
        let t1 = app.terminal("t1").await;
        let mut items = Vec::new();
        for id in &ids {
            let (tok, att) = claimed(app, &t1, id, Some(&format!("pi_{id}"))).await;
            app.gateway_paid(&format!("pi_{id}"), id).await;
            items.push(result_item(&attempt_id(), id, att, tok, "succeeded", 100, "EUR", Some(&format!("pi_{id}"))));
        }
        let b = batch(1, items);
        let mut reversed = b.clone();
        reversed["results"].as_array_mut().unwrap().reverse();
        let mut handles = Vec::new();
        for i in 0..8 {
            let body = if i % 2 == 0 { b.clone() } else { reversed.clone() };
            let client = app.client.clone();
            let url = app.url("/v1/results");
            let t = t1.clone();
            handles.push(tokio::spawn(async move {
                let r = client.post(url).bearer_auth(t).json(&body).send().await.unwrap();
                let status = r.status().as_u16();
                (status, r.json::<Value>().await.unwrap())
            }));
        }
        let mut applied = 0;
        for h in handles {
            let (status, resp) = h.await.unwrap();
            assert_eq!(status, 200, "{resp}");
            applied += statuses(&resp).iter().filter(|s| *s == "applied").count();
        }
        assert_eq!(applied, 20, "each result applied exactly once across all deliveries");
        assert_eq!(app.store.result_count().await.unwrap(), 20);
        let (_, page) = app.get("/v1/orders?status=paid&limit=200", &t1).await;
        assert_eq!(page["orders"].as_array().unwrap().len(), 20);
    }
}

both_backends! {
    async fn contradictions_are_stored_and_flagged(app) {
        app.orders(&[("o-1", 1250, "EUR"), ("o-2", 700, "EUR")]).await;
        app.operators(&["alice"]).await;
        let t1 = app.terminal("t1").await;
        let (tok, att) = claimed(app, &t1, "o-1", Some("pi_1")).await;
        app.gateway_paid("pi_1", "o-1").await;
        let first = result_item(&attempt_id(), "o-1", att, tok, "succeeded", 1250, "EUR", Some("pi_1"));
        let (_, resp) = app.post("/v1/results", &t1, batch(1, vec![first])).await;
        assert_eq!(statuses(&resp), ["applied"]);
        // A second success for the same order, from another intent.
        let second = result_item(&attempt_id(), "o-1", att, tok, "succeeded", 1250, "EUR", Some("pi_9"));
        // A success with another amount.
        let (tok2, att2) = claimed(app, &t1, "o-2", Some("pi_2")).await;
        let wrong = result_item(&attempt_id(), "o-2", att2, tok2, "succeeded", 701, "EUR", Some("pi_2"));
        // A claim-bound result for an order the central does not know (so never claimed).
        let unknown = result_item(&attempt_id(), "nope", 1, 1, "declined", 1, "EUR", None);
        let (status, resp) = app.post("/v1/results", &t1, batch(2, vec![second, wrong, unknown])).await;
        assert_eq!(status, 200, "{resp}");
        assert_eq!(statuses(&resp), ["flagged", "flagged", "rejected"]);
        assert!(resp["items"][0]["reason"].as_str().unwrap().contains("second success"));
        assert!(resp["items"][1]["reason"].as_str().unwrap().contains("differs"));
        assert_eq!(app.order("o-1").await["order"]["status"], "needs_review");
        assert_eq!(app.order("o-2").await["order"]["status"], "needs_review");
        // Every result is stored but the one no honest terminal sends (refused, not stored).
        assert_eq!(app.store.result_count().await.unwrap(), 3);
        let (_, flags) = app.get("/v1/flags", ADMIN_TOKEN).await;
        assert_eq!(flags["flags"].as_array().unwrap().len(), 2);
    }
}

both_backends! {
    async fn stale_decline_is_flagged_not_applied(app) {
        app.orders(&[("o-1", 1250, "EUR")]).await;
        app.operators(&["alice"]).await;
        let t1 = app.terminal("t1").await;
        let (tok, att) = claimed(app, &t1, "o-1", None).await;
        app.post("/v1/orders/o-1/claim/release", &t1, json!({"claim_token": tok})).await;
        claimed(app, &t1, "o-1", None).await;
        let stale = result_item(&attempt_id(), "o-1", att, tok, "declined", 1250, "EUR", None);
        let (_, resp) = app.post("/v1/results", &t1, batch(1, vec![stale])).await;
        assert_eq!(statuses(&resp), ["flagged"]);
        let o = app.order("o-1").await;
        assert_eq!(o["order"]["status"], "unpaid");
        assert_eq!(o["order"]["claim"]["terminal_id"], "t1", "the newer claim is untouched");
    }
}

both_backends! {
    async fn journal_heads_going_backwards_or_rewritten_are_flagged(app) {
        let t1 = app.terminal("t1").await;
        let head = |seq: u64, hash: String| json!({"journal_head": {"seq": seq, "hash": hash}, "results": []});
        let (_, r) = app.post("/v1/results", &t1, head(5, head_hash(5))).await;
        assert_eq!(r["journal"]["flagged"], false, "{r}");
        let (_, r) = app.post("/v1/results", &t1, head(9, head_hash(9))).await;
        assert_eq!(r["journal"]["flagged"], false);
        // A replay of an earlier head is fine.
        let (_, r) = app.post("/v1/results", &t1, head(5, head_hash(5))).await;
        assert_eq!(r["journal"]["flagged"], false);
        // The same seq with another hash: rewritten.
        let (_, r) = app.post("/v1/results", &t1, head(9, head_hash(99))).await;
        assert_eq!(r["journal"]["flagged"], true);
        assert!(r["journal"]["reason"].as_str().unwrap().contains("rewritten"));
        // A seq never seen, below the highest: went backwards.
        let (_, r) = app.post("/v1/results", &t1, head(7, head_hash(7))).await;
        assert_eq!(r["journal"]["flagged"], true);
        assert!(r["journal"]["reason"].as_str().unwrap().contains("backwards"));
        // Another terminal has its own history.
        let t2 = app.terminal("t2").await;
        let (_, r) = app.post("/v1/results", &t2, head(1, head_hash(1))).await;
        assert_eq!(r["journal"]["flagged"], false);
    }
}

both_backends! {
    async fn two_successes_for_one_order_in_one_batch_flag_the_second(app) {
        app.orders(&[("o-1", 1250, "EUR")]).await;
        app.operators(&["alice"]).await;
        let t1 = app.terminal("t1").await;
        let (tok, att) = claimed(app, &t1, "o-1", Some("pi_1")).await;
        app.gateway_paid("pi_1", "o-1").await;
        // Attempt ids are UUID v7: the first made sorts first, and the batch is applied in
        // (order, attempt) order whatever order it is sent in.
        let first = attempt_id();
        let second = attempt_id();
        let b = batch(1, vec![
            result_item(&second, "o-1", att, tok, "succeeded", 1250, "EUR", Some("pi_2")),
            result_item(&first, "o-1", att, tok, "succeeded", 1250, "EUR", Some("pi_1")),
        ]);
        let (status, resp) = app.post("/v1/results", &t1, b).await;
        assert_eq!(status, 200, "{resp}");
        assert_eq!(statuses(&resp), ["flagged", "applied"]);
        assert!(resp["items"][0]["reason"].as_str().unwrap().contains("second success"));
        let o = app.order("o-1").await;
        assert_eq!(o["order"]["status"], "needs_review");
        assert_eq!(o["order"]["paid_intent_id"], "pi_1");
        assert_eq!(o["order"]["claim"], Value::Null);
        assert_eq!(o["intents"][0]["state"], "succeeded");
    }
}

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

/// The sources of the flags of `order`, oldest first.
async fn flag_sources(app: &TestApp, order: &str) -> Vec<String> {
    let filter = paydesk_central::store::FlagFilter {
        order_id: Some(order.into()),
        ..Default::default()
    };
    let mut sources: Vec<String> = app
        .store
        .flags(&filter)
        .await
        .unwrap()
        .flags
        .into_iter()
        .map(|f| f.source)
        .collect();
    sources.reverse();
    sources
}

both_backends! {
    // One batch, applied with set-based statements, mixing every kind of result: new ones,
    // one already applied (replayed), one under a stale claim token (fenced), a contradiction,
    // a success the gateway has not confirmed, and one no honest terminal sends. Each keeps its
    // rule; the whole batch again changes nothing and adds no row.
    async fn a_mixed_batch_keeps_every_rule_and_its_replay_changes_nothing(app) {
        let ids = ["o-new", "o-paid", "o-old", "o-fenced", "o-amount", "o-unverified", "o-foreign"];
        let orders: Vec<(&str, i64, &str)> = ids.iter().map(|i| (*i, 1000, "EUR")).collect();
        app.orders(&orders).await;
        app.operators(&["alice"]).await;
        let t1 = app.terminal("t1").await;
        let t2 = app.terminal("t2").await;
        let (tok_new, att_new) = claimed(app, &t1, "o-new", Some("pi_new")).await;
        let (tok_paid, att_paid) = claimed(app, &t1, "o-paid", Some("pi_paid")).await;
        app.gateway_paid("pi_paid", "o-paid").await;
        // Applied in an earlier batch: in this one, a duplicate.
        let (tok_old, att_old) = claimed(app, &t1, "o-old", Some("pi_old")).await;
        let old = result_item(&attempt_id(), "o-old", att_old, tok_old, "declined", 1000, "EUR", Some("pi_old"));
        let (_, resp) = app.post("/v1/results", &t1, batch(1, vec![old.clone()])).await;
        assert_eq!(statuses(&resp), ["applied"]);
        // Fenced: the claim was released and claimed again; the first token is stale.
        let (stale, att_stale) = claimed(app, &t1, "o-fenced", None).await;
        let (status, body) = app
            .post("/v1/orders/o-fenced/claim/release", &t1, json!({"claim_token": stale}))
            .await;
        assert_eq!(status, 200, "{body}");
        let (current, _) = claimed(app, &t1, "o-fenced", None).await;
        assert!(current > stale);
        let (tok_amount, att_amount) = claimed(app, &t1, "o-amount", Some("pi_amount")).await;
        let (tok_unv, att_unv) = claimed(app, &t1, "o-unverified", Some("pi_unv")).await;
        // Claimed by another terminal: t1's word about it is refused, not stored.
        let (tok_foreign, att_foreign) = claimed(app, &t2, "o-foreign", None).await;

        let b = batch(2, vec![
            result_item(&attempt_id(), "o-new", att_new, tok_new, "declined", 1000, "EUR", Some("pi_new")),
            result_item(&attempt_id(), "o-paid", att_paid, tok_paid, "succeeded", 1000, "EUR", Some("pi_paid")),
            old,
            result_item(&attempt_id(), "o-fenced", att_stale, stale, "declined", 1000, "EUR", None),
            // More than the order's amount (an installment may be less, never more).
            result_item(&attempt_id(), "o-amount", att_amount, tok_amount, "succeeded", 1001, "EUR", Some("pi_amount")),
            result_item(&attempt_id(), "o-unverified", att_unv, tok_unv, "succeeded", 1000, "EUR", Some("pi_unv")),
            result_item(&attempt_id(), "o-foreign", att_foreign, tok_foreign, "declined", 1000, "EUR", None),
        ]);
        let rows_before = app.store.result_count().await.unwrap();
        let audit_before = app.store.claim_audit().await.unwrap().len();
        let (status, resp) = app.post("/v1/results", &t1, b.clone()).await;
        assert_eq!(status, 200, "{resp}");
        assert_eq!(
            statuses(&resp),
            ["applied", "applied", "duplicate", "flagged", "flagged", "flagged", "rejected"],
            "{resp}"
        );
        assert!(resp["items"][3]["reason"].as_str().unwrap().contains("stale claim token"), "{resp}");
        assert!(resp["items"][4]["reason"].as_str().unwrap().contains("differs"), "{resp}");
        assert!(resp["items"][6]["reason"].as_str().unwrap().contains("not stored"), "{resp}");
        // Five new rows: not the duplicate, not the refused one.
        assert_eq!(app.store.result_count().await.unwrap(), rows_before + 5);

        let o = app.order("o-new").await;
        assert_eq!(o["order"]["status"], "failed");
        assert_eq!(o["order"]["claim"], Value::Null);
        let o = app.order("o-paid").await;
        assert_eq!(o["order"]["status"], "paid");
        assert_eq!(o["order"]["paid_intent_id"], "pi_paid");
        assert_eq!(o["order"]["claim"], Value::Null);
        assert_eq!(o["intents"][0]["state"], "succeeded");
        // The stale decision leaves the current holder alone.
        let o = app.order("o-fenced").await;
        assert_eq!(o["order"]["status"], "unpaid");
        assert_eq!(o["order"]["claim"]["terminal_id"], "t1", "{o}");
        // A contradiction and an unconfirmed success: in review, not paid, claim ended.
        for order in ["o-amount", "o-unverified"] {
            let o = app.order(order).await;
            assert_eq!(o["order"]["status"], "needs_review", "{o}");
            assert_eq!(o["order"]["paid_intent_id"], Value::Null, "{o}");
            assert_eq!(o["order"]["claim"], Value::Null, "{o}");
        }
        assert_eq!(flag_sources(app, "o-amount").await, ["result"]);
        assert_eq!(flag_sources(app, "o-unverified").await, ["unverified"]);
        assert_eq!(flag_sources(app, "o-fenced").await, ["result"]);
        // Another terminal's holding is untouched.
        let o = app.order("o-foreign").await;
        assert_eq!(o["order"]["claim"]["terminal_id"], "t2", "{o}");
        // One audit row for each holding a result ended: o-new, o-paid, o-amount, o-unverified.
        let audit = app.store.claim_audit().await.unwrap();
        assert_eq!(audit.len() - audit_before, 4);
        let mut ended: Vec<&str> = audit
            .iter()
            .filter(|r| r.event == "result" && r.order_id != "o-old")
            .map(|r| r.order_id.as_str())
            .collect();
        ended.sort_unstable();
        assert_eq!(ended, ["o-amount", "o-new", "o-paid", "o-unverified"]);

        // The whole batch again: duplicates (the refused one refused again), nothing changes.
        let snapshot: Vec<Value> = orders_snapshot(app, &ids).await;
        let (status, resp) = app.post("/v1/results", &t1, b).await;
        assert_eq!(status, 200, "{resp}");
        assert_eq!(
            statuses(&resp),
            ["duplicate", "duplicate", "duplicate", "duplicate", "duplicate", "duplicate", "rejected"],
        );
        assert_eq!(app.store.result_count().await.unwrap(), rows_before + 5);
        assert_eq!(app.store.claim_audit().await.unwrap().len(), audit.len());
        assert_eq!(orders_snapshot(app, &ids).await, snapshot);
    }
}

/// The orders as the central shows them, without their `updated_at`.
async fn orders_snapshot(app: &TestApp, ids: &[&str]) -> Vec<Value> {
    let mut out = Vec::new();
    for id in ids {
        let mut o = app.order(id).await;
        o["order"]["updated_at"] = Value::Null;
        out.push(o);
    }
    out
}

both_backends! {
    // Several results of one order in one batch are decided one after the other against the
    // order as the earlier ones left it, though the order is written once: a contradiction
    // raised earlier in the batch keeps a later success of another attempt from ending the
    // review, even the success of the attempt whose interim report started it.
    async fn a_flag_raised_earlier_in_a_batch_holds_a_later_success_for_review(app) {
        app.orders(&[("o-1", 1000, "EUR"), ("o-2", 1000, "EUR")]).await;
        app.operators(&["alice"]).await;
        let t1 = app.terminal("t1").await;
        let (tok, att) = claimed(app, &t1, "o-1", Some("pi_1")).await;
        app.gateway_paid("pi_1", "o-1").await;
        let first = attempt_id();
        let second = attempt_id();
        assert!(first < second, "UUID v7 ids sort by time");
        let b = batch(1, vec![
            // A success of another amount: flagged, the order to review.
            result_item(&first, "o-1", att, tok, "succeeded", 900, "EUR", Some("pi_1")),
            // The next attempt's interim report, then its verified success.
            result_item(&second, "o-1", att, tok, "needs_review", 1000, "EUR", Some("pi_1")),
            result_item(&second, "o-1", att, tok, "succeeded", 1000, "EUR", Some("pi_1")),
        ]);
        let (status, resp) = app.post("/v1/results", &t1, b).await;
        assert_eq!(status, 200, "{resp}");
        assert_eq!(statuses(&resp), ["flagged", "applied", "flagged"], "{resp}");
        assert!(resp["items"][2]["reason"].as_str().unwrap().contains("held for review"), "{resp}");
        let o = app.order("o-1").await;
        assert_eq!(o["order"]["status"], "needs_review", "{o}");
        assert_eq!(o["order"]["paid_intent_id"], Value::Null, "{o}");

        // Without the contradiction, the same interim report and success settle the review.
        let (tok, att) = claimed(app, &t1, "o-2", Some("pi_2")).await;
        app.gateway_paid("pi_2", "o-2").await;
        let a = attempt_id();
        let b = batch(2, vec![
            result_item(&a, "o-2", att, tok, "succeeded", 1000, "EUR", Some("pi_2")),
            result_item(&a, "o-2", att, tok, "needs_review", 1000, "EUR", Some("pi_2")),
        ]);
        let (_, resp) = app.post("/v1/results", &t1, b).await;
        assert_eq!(statuses(&resp), ["applied", "applied"], "{resp}");
        let o = app.order("o-2").await;
        assert_eq!(o["order"]["status"], "paid", "{o}");
        assert_eq!(o["order"]["paid_intent_id"], "pi_2", "{o}");
        assert_eq!(o["order"]["claim"], Value::Null, "{o}");
    }
}

both_backends! {
    // The set-based statements decide a batch as its items one by one would: a mix of a fresh
    // result, a duplicate, one under a stale claim token, a contradiction, an unconfirmed success
    // and a verified one ends the same (receipts, orders, claims, flags, claim audit) whether it
    // arrives as one batch (side a) or one result per batch (side b).
    async fn a_mixed_batch_ends_as_the_same_results_one_by_one(app) {
        let kinds = ["new", "dup", "fenced", "amount", "unverified", "paid"];
        let ids: Vec<String> = ["a", "b"]
            .iter()
            .flat_map(|side| kinds.iter().map(move |k| format!("{side}-{k}")))
            .collect();
        let orders: Vec<(&str, i64, &str)> = ids.iter().map(|i| (i.as_str(), 1000, "EUR")).collect();
        app.orders(&orders).await;
        app.operators(&["alice"]).await;
        let t1 = app.terminal("t1").await;
        let mut seq = 0;
        let mut items = std::collections::BTreeMap::new();
        for side in ["a", "b"] {
            let id = |k: &str| format!("{side}-{k}");
            let pi = |k: &str| format!("pi_{side}_{k}");
            let (tok, att) = claimed(app, &t1, &id("new"), Some(&pi("new"))).await;
            let new = result_item(&attempt_id(), &id("new"), att, tok, "declined", 1000, "EUR", Some(&pi("new")));
            let (tok, att) = claimed(app, &t1, &id("dup"), None).await;
            let dup = result_item(&attempt_id(), &id("dup"), att, tok, "declined", 1000, "EUR", None);
            seq += 1;
            let (_, resp) = app.post("/v1/results", &t1, batch(seq, vec![dup.clone()])).await;
            assert_eq!(statuses(&resp), ["applied"]);
            let (stale, att) = claimed(app, &t1, &id("fenced"), None).await;
            let (status, body) = app
                .post(&format!("/v1/orders/{}/claim/release", id("fenced")), &t1, json!({"claim_token": stale}))
                .await;
            assert_eq!(status, 200, "{body}");
            claimed(app, &t1, &id("fenced"), None).await;
            let fenced = result_item(&attempt_id(), &id("fenced"), att, stale, "declined", 1000, "EUR", None);
            let (tok, att) = claimed(app, &t1, &id("amount"), Some(&pi("amount"))).await;
            let amount = result_item(&attempt_id(), &id("amount"), att, tok, "succeeded", 1001, "EUR", Some(&pi("amount")));
            let (tok, att) = claimed(app, &t1, &id("unverified"), Some(&pi("unverified"))).await;
            let unverified = result_item(&attempt_id(), &id("unverified"), att, tok, "succeeded", 1000, "EUR", Some(&pi("unverified")));
            let (tok, att) = claimed(app, &t1, &id("paid"), Some(&pi("paid"))).await;
            app.gateway_paid(&pi("paid"), &id("paid")).await;
            let paid = result_item(&attempt_id(), &id("paid"), att, tok, "succeeded", 1000, "EUR", Some(&pi("paid")));
            items.insert(side, vec![new, dup, fenced, amount, unverified, paid]);
        }

        seq += 1;
        let (status, resp) = app.post("/v1/results", &t1, batch(seq, items["a"].clone())).await;
        assert_eq!(status, 200, "{resp}");
        let in_one = statuses(&resp);
        let mut one_by_one = Vec::new();
        for item in items["b"].clone() {
            seq += 1;
            let (status, resp) = app.post("/v1/results", &t1, batch(seq, vec![item])).await;
            assert_eq!(status, 200, "{resp}");
            one_by_one.extend(statuses(&resp));
        }
        assert_eq!(in_one, ["applied", "duplicate", "flagged", "flagged", "flagged", "applied"]);
        assert_eq!(in_one, one_by_one);

        let audit = app.store.claim_audit().await.unwrap();
        let ended = |side: &str| -> Vec<String> {
            // The duplicate's holding ended with its first delivery, before the comparison.
            let mut ended: Vec<String> = audit
                .iter()
                .filter(|r| r.event == "result" && r.order_id.starts_with(side))
                .filter(|r| !r.order_id.ends_with("-dup"))
                .map(|r| r.order_id[2..].to_string())
                .collect();
            ended.sort_unstable();
            ended
        };
        assert_eq!(ended("a-"), ["amount", "new", "paid", "unverified"]);
        assert_eq!(ended("a-"), ended("b-"));
        for kind in kinds {
            let (a, b) = (app.order(&format!("a-{kind}")).await, app.order(&format!("b-{kind}")).await);
            assert_eq!(a["order"]["status"], b["order"]["status"], "{kind}: {a} {b}");
            assert_eq!(a["order"]["paid_intent_id"].is_null(), b["order"]["paid_intent_id"].is_null(), "{kind}");
            assert_eq!(a["order"]["claim"]["terminal_id"], b["order"]["claim"]["terminal_id"], "{kind}");
            assert_eq!(a["order"]["attempt_seq"], b["order"]["attempt_seq"], "{kind}");
            assert_eq!(
                flag_sources(app, &format!("a-{kind}")).await,
                flag_sources(app, &format!("b-{kind}")).await,
                "{kind}"
            );
        }
        assert_eq!(app.order("a-paid").await["order"]["status"], "paid");
        assert_eq!(app.order("a-fenced").await["order"]["claim"]["terminal_id"], "t1");
    }
}

//! Results that arrive before their order, or from an offline attempt: a result the central
//! rejected because the order was unknown is applied once the order appears (never lost as a
//! dead duplicate, and still applied once), and an offline attempt's number is never handed out
//! again to an online claim. Offline results come under a manager's offline grant, and an
//! offline success pays its order only with the gateway's evidence (issue 10).

use serde_json::Value;

use crate::both_backends;
use crate::helpers::*;

const OFFLINE_TOKEN: u64 = OFFLINE_CLAIM_TOKEN;

fn offline(item: Value) -> Value {
    offline_now(item)
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
    async fn a_result_rejected_before_the_order_was_imported_is_applied_when_it_arrives(app) {
        app.operators(&["alice"]).await;
        let t1 = app.terminal("t1").await;
        app.grant_now("t1").await;
        let a = attempt_id();
        let item = offline(result_item(&a, "o-9", 1, OFFLINE_TOKEN, "succeeded", 1250, "EUR",
            Some("pi_9")));
        let (s, resp) = app.post("/v1/results", &t1, batch(1, vec![item.clone()])).await;
        assert_eq!(s, 200, "{resp}");
        assert_eq!(statuses(&resp), ["rejected"]);

        // The order is imported later: the stored success is applied through the same rules.
        // The import reads no gateway: the order waits in review until the sweeper has the
        // gateway's evidence.
        app.orders(&[("o-9", 1250, "EUR")]).await;
        let o = app.order("o-9").await;
        assert_eq!(o["order"]["status"], "needs_review", "{o}");
        assert_eq!(o["results"][0]["status"], "flagged", "{o}");
        app.gateway_paid("pi_9", "o-9").await;
        assert_eq!(app.sweep().await.settled_unknown, 1);
        let o = app.order("o-9").await;
        assert_eq!(o["order"]["status"], "paid", "{o}");
        assert_eq!(o["order"]["paid_intent_id"], "pi_9");

        // Delivered again: applied once only.
        let (_, resp) = app.post("/v1/results", &t1, batch(2, vec![item])).await;
        assert_eq!(statuses(&resp), ["duplicate"]);
        assert_eq!(app.store.result_count().await.unwrap(), 1);
        let (_, claim) = app.claim(&t1, "o-9", "alice").await;
        assert_eq!(claim["error"]["code"], "order_not_chargeable", "{claim}");
    }
}

both_backends! {
    async fn a_rejected_result_delivered_again_once_its_order_exists_is_applied_not_a_duplicate(app) {
        app.operators(&["alice"]).await;
        let t1 = app.terminal("t1").await;
        app.grant_now("t1").await;
        let a = attempt_id();
        let item = offline(result_item(&a, "o-7", 1, OFFLINE_TOKEN, "succeeded", 700, "EUR",
            Some("pi_7")));
        let (_, resp) = app.post("/v1/results", &t1, batch(1, vec![item.clone()])).await;
        assert_eq!(statuses(&resp), ["rejected"]);
        // The order appears without passing through this central's import (a database restored
        // from a backup, or an import by an older central): the re-delivery must decide it now.
        sqlx::query(
            "INSERT INTO orders (order_id, amount_minor, currency, customer_id, \
             payment_method_id, description, status, created_at, updated_at) \
             VALUES ('o-7', 700, 'EUR', 'cus_test', 'pm_card_visa', '', 'unpaid', 1, 1)",
        )
        .execute(app.store.pool())
        .await
        .unwrap();
        app.gateway_paid("pi_7", "o-7").await;
        let (_, resp) = app.post("/v1/results", &t1, batch(2, vec![item.clone()])).await;
        assert_eq!(statuses(&resp), ["applied"], "{resp}");
        let o = app.order("o-7").await;
        assert_eq!(o["order"]["status"], "paid", "{o}");
        assert_eq!(o["results"][0]["status"], "applied");
        // And only once.
        let (_, resp) = app.post("/v1/results", &t1, batch(3, vec![item])).await;
        assert_eq!(statuses(&resp), ["duplicate"]);
        assert_eq!(app.store.result_count().await.unwrap(), 1);
    }
}

both_backends! {
    async fn an_offline_attempt_number_is_never_handed_out_again_online(app) {
        app.orders(&[("o-1", 1250, "EUR")]).await;
        app.operators(&["alice"]).await;
        let t1 = app.terminal("t1").await;
        app.grant_now("t1").await;
        let o = app.order("o-1").await;
        assert_eq!(o["order"]["attempt_seq"], 0, "{o}");
        let (s, claim) = app.claim(&t1, "o-1", "alice").await;
        assert_eq!(s, 201, "{claim}");
        assert_eq!(claim["attempt_number"], 1);
        let tok = claim["claim_token"].as_u64().unwrap();
        let (_, resp) = app.post("/v1/results", &t1, batch(1, vec![
            result_item(&attempt_id(), "o-1", 1, tok, "declined", 1250, "EUR", None),
        ])).await;
        assert_eq!(statuses(&resp), ["applied"]);
        assert_eq!(app.order("o-1").await["order"]["attempt_seq"], 1);
        // The queue carries it too: an offline terminal numbers its attempt from it.
        let (s, page) = app.get("/v1/orders?status=failed", &t1).await;
        assert_eq!(s, 200, "{page}");
        assert_eq!(page["orders"][0]["attempt_seq"], 1, "{page}");

        // Another terminal charged offline as attempt 3 (its cache was newer than ours).
        let (_, resp) = app.post("/v1/results", &t1, batch(2, vec![offline(
            result_item(&attempt_id(), "o-1", 3, OFFLINE_TOKEN, "declined", 1250, "EUR",
                Some("pi_off")),
        )])).await;
        assert_eq!(statuses(&resp), ["applied"], "{resp}");
        assert_eq!(app.order("o-1").await["order"]["attempt_seq"], 3);
        // The next online claim never reuses 2 or 3 (their create keys would collide).
        let (s, claim) = app.claim(&t1, "o-1", "alice").await;
        assert_eq!(s, 201, "{claim}");
        assert_eq!(claim["attempt_number"], 4, "{claim}");
        // A lower number arriving late never lowers it (and, the order being held, the offline
        // decline is recorded without effect).
        let (_, resp) = app.post("/v1/results", &t1, batch(3, vec![offline(
            result_item(&attempt_id(), "o-1", 2, OFFLINE_TOKEN, "declined", 1250, "EUR", None),
        )])).await;
        assert_eq!(statuses(&resp), ["flagged"], "{resp}");
        assert_eq!(app.order("o-1").await["order"]["attempt_seq"], 4);
    }
}

both_backends! {
    async fn an_offline_attempt_number_rejected_before_the_import_is_counted_when_it_arrives(app) {
        app.operators(&["alice"]).await;
        let t1 = app.terminal("t1").await;
        app.grant_now("t1").await;
        let (_, resp) = app.post("/v1/results", &t1, batch(1, vec![offline(
            result_item(&attempt_id(), "o-5", 2, OFFLINE_TOKEN, "declined", 500, "EUR",
                Some("pi_5")),
        )])).await;
        assert_eq!(statuses(&resp), ["rejected"]);
        app.orders(&[("o-5", 500, "EUR")]).await;
        let o = app.order("o-5").await;
        assert_eq!(o["order"]["status"], "failed", "{o}");
        assert_eq!(o["order"]["attempt_seq"], 2);
        let (_, claim) = app.claim(&t1, "o-5", "alice").await;
        assert_eq!(claim["attempt_number"], 3, "{claim}");
    }
}

both_backends! {
    async fn a_result_rejected_before_a_restored_order_is_applied_when_the_order_is_imported_again(app) {
        let t1 = app.terminal("t1").await;
        app.grant_now("t1").await;
        let item = offline(result_item(&attempt_id(), "o-8", 1, OFFLINE_TOKEN, "succeeded", 800,
            "EUR", Some("pi_8")));
        let (_, resp) = app.post("/v1/results", &t1, batch(1, vec![item])).await;
        assert_eq!(statuses(&resp), ["rejected"]);
        // The order came back with a restored backup, not through an import.
        sqlx::query(
            "INSERT INTO orders (order_id, amount_minor, currency, customer_id, \
             payment_method_id, description, status, created_at, updated_at) \
             VALUES ('o-8', 800, 'EUR', 'cus_test', 'pm_card_visa', 'order o-8', 'unpaid', 1, 1)",
        )
        .execute(app.store.pool())
        .await
        .unwrap();
        // Importing the same order again (unchanged) applies what was rejected.
        app.orders(&[("o-8", 800, "EUR")]).await;
        let o = app.order("o-8").await;
        assert_eq!(o["order"]["status"], "needs_review", "{o}");
        assert_eq!(o["results"][0]["status"], "flagged");
        // The sweeper pays it once the gateway confirms the charge.
        app.gateway_paid("pi_8", "o-8").await;
        app.sweep().await;
        assert_eq!(app.order("o-8").await["order"]["status"], "paid");
    }
}

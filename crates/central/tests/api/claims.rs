//! Claims: the processing flag, its fencing token, lease, renewal, release and intents.

use serde_json::json;

use crate::both_backends;

both_backends! {
    async fn claim_commits_holder_token_lease_attempt_and_snapshot(app) {
        app.orders(&[("o-1", 1250, "EUR")]).await;
        app.operators(&["alice", "bob"]).await;
        let t1 = app.terminal("t1").await;
        let t2 = app.terminal("t2").await;
        let (status, claim) = app.claim(&t1, "o-1", "alice").await;
        assert_eq!(status, 201, "{claim}");
        assert_eq!(claim["claim_token"], 1);
        assert_eq!(claim["attempt_number"], 1);
        assert_eq!(claim["terminal_id"], "t1");
        assert_eq!(claim["order"]["amount"], json!({"minor": 1250, "currency": "EUR"}));
        assert_eq!(claim["order"]["status"], "unpaid");
        let lease = claim["lease_until"].as_i64().unwrap() - claim["claimed_at"].as_i64().unwrap();
        assert_eq!(lease, 60_000);

        let (status, body) = app.claim(&t2, "o-1", "bob").await;
        assert_eq!(status, 409, "{body}");
        assert_eq!(body["error"]["code"], "claim_held");
        assert_eq!(body["error"]["holder"]["operator_id"], "alice");
        assert_eq!(body["error"]["holder"]["terminal_id"], "t1");
        assert_eq!(body["error"]["holder"]["since"], claim["claimed_at"]);
        let msg = body["error"]["message"].as_str().unwrap();
        assert!(msg.contains("alice") && msg.contains("t1"), "{msg}");

        // Renew, release, and the next claim grows the token and the attempt number.
        let (status, body) = app.post("/v1/orders/o-1/claim/renew", &t1, json!({"claim_token": 1})).await;
        assert_eq!(status, 200, "{body}");
        let (status, body) = app.post("/v1/orders/o-1/claim/release", &t2, json!({"claim_token": 1})).await;
        assert_eq!(status, 409, "only the holder releases: {body}");
        let (status, body) = app.post("/v1/orders/o-1/claim/release", &t1, json!({"claim_token": 1})).await;
        assert_eq!(status, 200, "{body}");
        let (status, claim) = app.claim(&t2, "o-1", "bob").await;
        assert_eq!(status, 201, "{claim}");
        assert_eq!(claim["claim_token"], 2);
        assert_eq!(claim["attempt_number"], 2);
    }
}

both_backends! {
    async fn stale_token_is_refused_and_recorded(app) {
        app.orders(&[("o-1", 1250, "EUR")]).await;
        app.operators(&["alice"]).await;
        let t1 = app.terminal("t1").await;
        let (_, _) = app.claim(&t1, "o-1", "alice").await;
        app.post("/v1/orders/o-1/claim/release", &t1, json!({"claim_token": 1})).await;
        let (_, claim) = app.claim(&t1, "o-1", "alice").await;
        assert_eq!(claim["claim_token"], 2);
        let before = app.store.fencing_refusal_count().await.unwrap();
        let (status, body) = app.post("/v1/orders/o-1/intent", &t1,
            json!({"claim_token": 1, "attempt_number": 1, "intent_id": "pi_old"})).await;
        assert_eq!(status, 409, "{body}");
        assert_eq!(body["error"]["code"], "stale_claim_token");
        assert_eq!(app.store.fencing_refusal_count().await.unwrap(), before + 1);
        let (status, body) = app.post("/v1/orders/o-1/claim/renew", &t1, json!({"claim_token": 1})).await;
        assert_eq!(status, 409, "{body}");
        assert_eq!(app.store.fencing_refusal_count().await.unwrap(), before + 2);
        let detail = app.order("o-1").await;
        assert_eq!(detail["intents"].as_array().unwrap().len(), 0);
    }
}

both_backends! {
    async fn registered_intent_blocks_release_and_is_found_by_the_next_claimant(app) {
        app.orders(&[("o-1", 1250, "EUR")]).await;
        app.operators(&["alice", "bob"]).await;
        let t1 = app.terminal("t1").await;
        let (_, claim) = app.claim(&t1, "o-1", "alice").await;
        let reg = json!({"claim_token": 1, "attempt_number": claim["attempt_number"], "intent_id": "pi_1"});
        let (status, body) = app.post("/v1/orders/o-1/intent", &t1, reg.clone()).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["newly_registered"], true);
        let (status, body) = app.post("/v1/orders/o-1/intent", &t1, reg).await;
        assert_eq!(status, 200, "a retried registration is a no-op: {body}");
        assert_eq!(body["newly_registered"], false);
        let (status, body) = app.post("/v1/orders/o-1/intent", &t1,
            json!({"claim_token": 1, "attempt_number": 1, "intent_id": "pi_2"})).await;
        assert_eq!(status, 409, "{body}");
        assert_eq!(body["error"]["code"], "other_intent_open");
        let (status, body) = app.post("/v1/orders/o-1/claim/release", &t1, json!({"claim_token": 1})).await;
        assert_eq!(status, 409, "{body}");
        assert_eq!(body["error"]["code"], "charge_may_be_in_flight");
        let detail = app.order("o-1").await;
        assert_eq!(detail["intents"][0]["intent_id"], "pi_1");
        assert_eq!(detail["order"]["claim"]["terminal_id"], "t1");
    }
}

#[tokio::test]
async fn expired_lease_can_be_taken_over_and_the_open_intent_is_handed_on() {
    for db in [Db::Sqlite, Db::Postgres] {
        let app = TestApp::spawn(
            db,
            TestOptions {
                lease_ms: Some(1_000),
                ..Default::default()
            },
        )
        .await;
        app.orders(&[("o-1", 1250, "EUR")]).await;
        app.operators(&["alice", "bob"]).await;
        let t1 = app.terminal("t1").await;
        let t2 = app.terminal("t2").await;
        let (_, claim) = app.claim(&t1, "o-1", "alice").await;
        app.post("/v1/orders/o-1/intent", &t1,
            json!({"claim_token": 1, "attempt_number": claim["attempt_number"], "intent_id": "pi_1"})).await;
        let (status, _) = app.claim(&t2, "o-1", "bob").await;
        assert_eq!(status, 409);
        tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
        let (status, claim) = app.claim(&t2, "o-1", "bob").await;
        assert_eq!(status, 201, "{claim}");
        assert_eq!(claim["claim_token"], 2);
        assert_eq!(claim["open_intent_id"], "pi_1");
        // The old holder is fenced off.
        let (status, body) = app
            .post("/v1/orders/o-1/claim/renew", &t1, json!({"claim_token": 1}))
            .await;
        assert_eq!(status, 409, "{body}");
        assert_eq!(body["error"]["code"], "stale_claim_token");
        app.stop().await;
    }
}

use crate::helpers::{Db, TestApp, TestOptions};

both_backends! {
    /// Regression: on SQLite a release's audit row named nobody (operator and terminal `''`),
    /// while PostgreSQL's named the terminal only. Every row of a holding names its holder, and
    /// both backends write the same rows for the same events.
    async fn release_audit_row_names_the_operator_and_the_terminal(app) {
        app.orders(&[("o-1", 1250, "EUR")]).await;
        app.operators(&["alice"]).await;
        let t1 = app.terminal("t1").await;
        let (status, claim) = app.claim(&t1, "o-1", "alice").await;
        assert_eq!(status, 201, "{claim}");
        let (status, body) = app.post("/v1/orders/o-1/claim/renew", &t1, json!({"claim_token": 1})).await;
        assert_eq!(status, 200, "{body}");
        let (status, body) = app.post("/v1/orders/o-1/claim/release", &t1, json!({"claim_token": 1})).await;
        assert_eq!(status, 200, "{body}");
        // A second holding, ended by its result.
        let (status, claim) = app.claim(&t1, "o-1", "alice").await;
        assert_eq!(status, 201, "{claim}");
        let item = result_item(&attempt_id(), "o-1", 2, 2, "declined", 1250, "EUR", None);
        let (status, body) = app.post("/v1/results", &t1, batch(1, vec![item])).await;
        assert_eq!(status, 200, "{body}");
        let rows: Vec<(i64, String, String, String)> = sqlx::query_as(
            "SELECT claim_token, event, operator_id, terminal_id FROM claim_audit \
             WHERE order_id = 'o-1' ORDER BY audit_id",
        )
        .fetch_all(app.store.pool())
        .await
        .unwrap();
        let expected = [
            (1, "claimed"), (1, "renewed"), (1, "released"), (2, "claimed"), (2, "result"),
        ]
        .map(|(token, event)| (token, event.to_string(), "alice".to_string(), "t1".to_string()));
        assert_eq!(rows, expected);
    }
}

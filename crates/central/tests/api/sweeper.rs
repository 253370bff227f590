//! The sweeper with a fake gateway: expired claims are released only without an intent, and with
//! one only on the gateway's evidence; what stays unknown is listed for managers.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use paydesk_central::sweeper::{sweep_once, GatewayIntent, IntentEvidence, IntentLookup};
use paydesk_core::{GatewayIntentId, Money, Timestamp};
use serde_json::json;

use crate::helpers::*;

#[derive(Debug, Default)]
struct FakeGateway {
    intents: Mutex<HashMap<String, IntentEvidence>>,
}

#[async_trait]
impl IntentLookup for FakeGateway {
    async fn intent(&self, id: &GatewayIntentId) -> Result<IntentEvidence, String> {
        self.intents
            .lock()
            .unwrap()
            .get(id.as_str())
            .cloned()
            .ok_or_else(|| "timeout".to_string())
    }
    async fn intents_between(
        &self,
        _: Timestamp,
        _: Timestamp,
    ) -> Result<Vec<GatewayIntent>, String> {
        Ok(Vec::new())
    }
}

#[tokio::test]
async fn sweeper_resolves_from_evidence_and_never_releases_blindly() {
    for db in [Db::Sqlite, Db::Postgres] {
        let gateway = Arc::new(FakeGateway::default());
        // The default 60 s lease; the sweeper is given a later `now` instead of sleeping, so the
        // test does not depend on how fast a loaded machine runs it.
        let app = TestApp::spawn(db, TestOptions::default()).await;
        let later = || paydesk_central::clock::now().plus_ms(61_000);
        app.orders(&[
            ("none", 100, "EUR"),
            ("paid", 100, "EUR"),
            ("declined", 100, "EUR"),
            ("pending", 100, "EUR"),
            ("dark", 100, "EUR"),
        ])
        .await;
        app.operators(&["alice"]).await;
        let t1 = app.terminal("t1").await;
        for order in ["none", "paid", "declined", "pending", "dark"] {
            let (_, claim) = app.claim(&t1, order, "alice").await;
            if order != "none" {
                let (s, b) = app
                    .post(
                        &format!("/v1/orders/{order}/intent"),
                        &t1,
                        json!({
                    "claim_token": claim["claim_token"], "attempt_number": claim["attempt_number"],
                    "intent_id": format!("pi_{order}")}),
                    )
                    .await;
                assert_eq!(s, 200, "{b}");
            }
        }
        {
            let mut g = gateway.intents.lock().unwrap();
            g.insert("pi_paid".into(), succeeded_for("paid", 100, "EUR"));
            g.insert("pi_declined".into(), IntentEvidence::Declined);
            g.insert(
                "pi_pending".into(),
                IntentEvidence::Pending {
                    status: "requires_confirmation".into(),
                },
            );
            // pi_dark: the gateway does not answer.
        }
        // Before the lease runs out nothing moves.
        let r = sweep_once(
            &app.store,
            Some(gateway.as_ref()),
            paydesk_central::clock::now(),
        )
        .await
        .unwrap();
        assert_eq!((r.released, r.resolved, r.unresolved), (0, 0, 0));
        let r = sweep_once(&app.store, Some(gateway.as_ref()), later())
            .await
            .unwrap();
        assert_eq!((r.released, r.resolved, r.unresolved), (1, 2, 2), "{db:?}");
        let status = |v: serde_json::Value| v["order"]["status"].as_str().unwrap().to_string();
        assert_eq!(
            app.order("none").await["order"]["claim"],
            serde_json::Value::Null
        );
        assert_eq!(status(app.order("paid").await), "paid");
        assert_eq!(status(app.order("declined").await), "failed");
        let pending = app.order("pending").await;
        assert_eq!(status(pending.clone()), "unpaid");
        assert_eq!(
            pending["order"]["claim"]["terminal_id"], "t1",
            "held until there is evidence"
        );
        let (_, list) = app.get("/v1/unresolved", ADMIN_TOKEN).await;
        let orders: Vec<&str> = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["order_id"].as_str().unwrap())
            .collect();
        assert_eq!(orders.len(), 2);
        assert!(orders.contains(&"pending") && orders.contains(&"dark"));
        // Once the gateway answers, the next pass resolves it and the list empties.
        gateway
            .intents
            .lock()
            .unwrap()
            .insert("pi_dark".into(), IntentEvidence::Canceled);
        gateway
            .intents
            .lock()
            .unwrap()
            .insert("pi_pending".into(), IntentEvidence::RequiresAction);
        let r = sweep_once(&app.store, Some(gateway.as_ref()), later())
            .await
            .unwrap();
        assert_eq!(r.resolved, 2);
        assert_eq!(status(app.order("pending").await), "needs_action");
        let (_, list) = app.get("/v1/unresolved", ADMIN_TOKEN).await;
        assert_eq!(list["items"].as_array().unwrap().len(), 0);
        app.stop().await;
    }
}

#[tokio::test]
async fn unknown_outcomes_are_rechecked_until_the_gateway_knows() {
    for db in [Db::Sqlite, Db::Postgres] {
        let gateway = Arc::new(FakeGateway::default());
        let app = TestApp::spawn(db, TestOptions::default()).await;
        app.orders(&[("u-1", 100, "EUR"), ("u-2", 100, "EUR")])
            .await;
        app.operators(&["alice"]).await;
        let t1 = app.terminal("t1").await;
        let mut items = Vec::new();
        for order in ["u-1", "u-2"] {
            let (_, claim) = app.claim(&t1, order, "alice").await;
            let (tok, att) = (
                claim["claim_token"].as_u64().unwrap(),
                claim["attempt_number"].as_u64().unwrap(),
            );
            let intent = format!("pi_{order}");
            app.post(
                &format!("/v1/orders/{order}/intent"),
                &t1,
                json!({"claim_token": tok, "attempt_number": att, "intent_id": intent}),
            )
            .await;
            items.push(result_item(
                &attempt_id(),
                order,
                att,
                tok,
                "needs_review",
                100,
                "EUR",
                Some(&intent),
            ));
        }
        let (s, b) = app.post("/v1/results", &t1, batch(1, items)).await;
        assert_eq!(s, 200, "{b}");
        let status = |v: serde_json::Value| v["order"]["status"].as_str().unwrap().to_string();
        assert_eq!(status(app.order("u-1").await), "needs_review");
        // The gateway does not know yet: nothing changes.
        let r = sweep_once(
            &app.store,
            Some(gateway.as_ref()),
            paydesk_central::clock::now(),
        )
        .await
        .unwrap();
        assert_eq!(r.settled_unknown, 0);
        gateway
            .intents
            .lock()
            .unwrap()
            .insert("pi_u-1".into(), succeeded_for("u-1", 100, "EUR"));
        gateway
            .intents
            .lock()
            .unwrap()
            .insert("pi_u-2".into(), IntentEvidence::Declined);
        let r = sweep_once(
            &app.store,
            Some(gateway.as_ref()),
            paydesk_central::clock::now(),
        )
        .await
        .unwrap();
        assert_eq!(r.settled_unknown, 2, "{db:?}");
        let o1 = app.order("u-1").await;
        assert_eq!(status(o1.clone()), "paid");
        assert_eq!(o1["order"]["paid_intent_id"], "pi_u-1");
        assert_eq!(status(app.order("u-2").await), "failed");
        app.stop().await;
    }
}

#[tokio::test]
async fn reconciliation_report_over_http() {
    #[derive(Debug)]
    struct Listing;
    #[async_trait]
    impl IntentLookup for Listing {
        async fn intent(&self, _: &GatewayIntentId) -> Result<IntentEvidence, String> {
            Err("unused".into())
        }
        async fn intents_between(
            &self,
            _: Timestamp,
            _: Timestamp,
        ) -> Result<Vec<GatewayIntent>, String> {
            let gi = |order: &str, intent: &str, amount: &str| GatewayIntent {
                intent_id: GatewayIntentId::new(intent).unwrap(),
                order_id: Some(order.parse().unwrap()),
                amount: Money::parse(amount).unwrap(),
                succeeded: true,
            };
            Ok(vec![
                gi("r-1", "pi_r1", "1.00 EUR"),
                gi("r-9", "pi_r9", "9.00 EUR"),
            ])
        }
    }
    let app = TestApp::spawn(
        Db::Postgres,
        TestOptions {
            gateway: Some(Arc::new(Listing)),
            ..Default::default()
        },
    )
    .await;
    app.orders(&[("r-1", 100, "EUR"), ("r-2", 200, "EUR")])
        .await;
    app.operators(&["alice"]).await;
    let t1 = app.terminal("t1").await;
    let mut items = Vec::new();
    for (order, intent) in [("r-1", "pi_r1"), ("r-2", "pi_r2")] {
        let (_, claim) = app.claim(&t1, order, "alice").await;
        let (tok, att) = (
            claim["claim_token"].as_u64().unwrap(),
            claim["attempt_number"].as_u64().unwrap(),
        );
        let minor = if order == "r-1" { 100 } else { 200 };
        let mut item = result_item(
            &attempt_id(),
            order,
            att,
            tok,
            "succeeded",
            minor,
            "EUR",
            Some(intent),
        );
        item["occurred_at"] = json!(paydesk_central::clock::now().unix_ms());
        items.push(item);
    }
    app.post("/v1/results", &t1, batch(1, items)).await;
    let now = paydesk_central::clock::now().unix_ms();
    let (s, report) = app
        .get(
            &format!("/v1/reconcile?from={}&to={}", now - 60_000, now + 1000),
            ADMIN_TOKEN,
        )
        .await;
    assert_eq!(s, 200, "{report}");
    assert_eq!(report["charged_not_recorded"][0]["order_id"], "r-9");
    assert_eq!(report["recorded_not_charged"][0]["order_id"], "r-2");
    assert_eq!(report["amount_mismatch"].as_array().unwrap().len(), 0);
    let (s, _) = app
        .get(
            &format!("/v1/reconcile?from={now}&to={}", now - 1),
            ADMIN_TOKEN,
        )
        .await;
    assert_eq!(s, 400);
    app.stop().await;
}

#[tokio::test]
async fn a_late_result_ends_the_unresolved_listing() {
    for db in [Db::Sqlite, Db::Postgres] {
        let gateway = Arc::new(FakeGateway::default());
        let app = TestApp::spawn(db, TestOptions::default()).await;
        app.orders(&[("late", 100, "EUR")]).await;
        app.operators(&["alice"]).await;
        let t1 = app.terminal("t1").await;
        let (_, claim) = app.claim(&t1, "late", "alice").await;
        let (tok, att) = (
            claim["claim_token"].as_u64().unwrap(),
            claim["attempt_number"].as_u64().unwrap(),
        );
        app.post(
            "/v1/orders/late/intent",
            &t1,
            json!({"claim_token": tok, "attempt_number": att, "intent_id": "pi_late"}),
        )
        .await;
        let later = paydesk_central::clock::now().plus_ms(61_000);
        let r = sweep_once(&app.store, Some(gateway.as_ref()), later)
            .await
            .unwrap();
        assert_eq!(r.unresolved, 1);
        let (_, list) = app.get("/v1/unresolved", ADMIN_TOKEN).await;
        assert_eq!(list["items"].as_array().unwrap().len(), 1);
        // The terminal comes back and reports what happened: the listing ends with the claim.
        let item = result_item(
            &attempt_id(),
            "late",
            att,
            tok,
            "declined",
            100,
            "EUR",
            Some("pi_late"),
        );
        let (s, b) = app.post("/v1/results", &t1, batch(1, vec![item])).await;
        assert_eq!(s, 200, "{b}");
        assert_eq!(b["items"][0]["status"], "applied");
        let (_, list) = app.get("/v1/unresolved", ADMIN_TOKEN).await;
        assert_eq!(list["items"].as_array().unwrap().len(), 0, "{db:?}");
        app.stop().await;
    }
}

/// A gateway that answers "succeeded" slowly, so a sweep pass is in flight at shutdown.
#[derive(Debug, Default)]
struct SlowGateway {
    asked: std::sync::atomic::AtomicBool,
}

#[async_trait]
impl IntentLookup for SlowGateway {
    async fn intent(&self, _: &GatewayIntentId) -> Result<IntentEvidence, String> {
        self.asked.store(true, std::sync::atomic::Ordering::SeqCst);
        tokio::time::sleep(std::time::Duration::from_millis(400)).await;
        Ok(succeeded_for("s-1", 100, "EUR"))
    }
    async fn intents_between(
        &self,
        _: Timestamp,
        _: Timestamp,
    ) -> Result<Vec<GatewayIntent>, String> {
        Ok(Vec::new())
    }
}

#[tokio::test]
async fn shutdown_waits_for_the_sweep_pass_in_flight() {
    let gateway = Arc::new(SlowGateway::default());
    let mut app = TestApp::spawn(
        Db::Sqlite,
        TestOptions {
            // Long enough to register the intent before the sweeper may look at the claim.
            lease_ms: Some(300),
            sweep_interval_ms: Some(20),
            gateway: Some(gateway.clone()),
            ..Default::default()
        },
    )
    .await;
    app.orders(&[("s-1", 100, "EUR")]).await;
    app.operators(&["alice"]).await;
    let t1 = app.terminal("t1").await;
    let (_, claim) = app.claim(&t1, "s-1", "alice").await;
    let (s, b) = app
        .post(
            "/v1/orders/s-1/intent",
            &t1,
            json!({"claim_token": claim["claim_token"], "attempt_number": claim["attempt_number"],
                   "intent_id": "pi_s1"}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    // Once the lease has run out a pass asks the slow gateway; stop while it waits for the answer.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !gateway.asked.load(std::sync::atomic::Ordering::SeqCst) {
        assert!(
            std::time::Instant::now() < deadline,
            "the sweeper never asked"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let started = std::time::Instant::now();
    app.shutdown_server().await;
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    // The pass that was asking the gateway finished and committed before shutdown returned.
    let order = app.store.order(&"s-1".parse().unwrap()).await.unwrap();
    assert_eq!(order.status, paydesk_protocol::OrderStatus::Paid);
    app.stop().await;
}

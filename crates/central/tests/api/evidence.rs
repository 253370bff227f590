//! An order's evidence and the decisions it allows (issue 11, items 1 and 2), against the real
//! sandbox gateway: the evidence shows the intent the central registered and one only the
//! gateway's search finds; actions the evidence does not offer are refused (recorded, the order
//! unchanged); `cancel_open_intent` cancels at the sandbox and releases the order once nothing
//! can charge, and a re-sent one answers the first; `acknowledge` closes a stale-token item;
//! an intent with no result past its expected end is an `unknown_outcome`; the evidence is
//! rate-limited per session. Each test runs on SQLite and PostgreSQL in turn against one
//! sandbox.

use std::sync::Arc;

use paydesk_central::gateway_actions::GatewayActor;
use paydesk_central::gateway_lookup::GatewayLookup;
use paydesk_core::{
    AttemptId, AttemptNumber, Currency, GatewayIntentId, IdempotencyKey, IntentStatus, Money,
    OrderId, TerminalId,
};
use paydesk_gateway::{
    ApiKey, CreateIntentRequest, CreateResult, Gateway, IntentMetadata, StripeConfig, StripeGateway,
};
use serde_json::{json, Value};

use crate::helpers::*;

const KEY: &str = "sk_test_paydesk_central_evidence_key";

struct Rig {
    _sandbox: paydesk_sandbox::SandboxHandle,
    gateway: Arc<StripeGateway>,
}

async fn rig() -> Rig {
    let sandbox = paydesk_sandbox::spawn(paydesk_sandbox::SandboxConfig {
        // The search finds an intent as soon as it exists, so the test need not wait.
        search_lag_ms: 0,
        ..Default::default()
    })
    .await
    .unwrap();
    let gateway = Arc::new(
        StripeGateway::new(
            ApiKey::new(KEY).unwrap(),
            StripeConfig::with_base_url(sandbox.base_url.clone()),
        )
        .unwrap(),
    );
    Rig {
        _sandbox: sandbox,
        gateway,
    }
}

async fn app(db: Db, rig: &Rig) -> TestApp {
    TestApp::spawn(
        db,
        TestOptions {
            gateway: Some(Arc::new(GatewayLookup::new(rig.gateway.clone()))),
            gateway_actions: Some(Arc::new(GatewayActor::new(rig.gateway.clone()))),
            ..Default::default()
        },
    )
    .await
}

/// Creates an intent for `order` at the sandbox (not confirmed: nothing charged).
async fn create_intent(rig: &Rig, order: &str, attempt: u32) -> GatewayIntentId {
    let order_id = OrderId::new(order).unwrap();
    let attempt = AttemptNumber::new(attempt).unwrap();
    let created = rig
        .gateway
        .create_intent(&CreateIntentRequest {
            amount: Money::new(1250, Currency::from_code("EUR").unwrap()).unwrap(),
            customer: Some("cus_test".to_string()),
            payment_method: "pm_card_visa".to_string(),
            off_session: true,
            metadata: IntentMetadata {
                order: order_id.clone(),
                attempt: AttemptId::parse(&attempt_id()).unwrap(),
                attempt_number: attempt,
                terminal: TerminalId::new("t1").unwrap(),
            },
            key: IdempotencyKey::for_create(&order_id, attempt),
        })
        .await
        .unwrap();
    let CreateResult::Created(view) = created else {
        panic!("create: {created:?}")
    };
    view.id
}

async fn status_at_sandbox(rig: &Rig, intent: &str) -> IntentStatus {
    rig.gateway
        .retrieve_intent(&GatewayIntentId::new(intent).unwrap())
        .await
        .unwrap()
        .status
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    sqlx::query_scalar::<_, i64>(sql)
        .fetch_one(app.store.pool())
        .await
        .unwrap()
}

/// A manager's desk at terminal `tm`.
struct Desk<'a> {
    app: &'a TestApp,
    token: String,
    session: String,
}

impl<'a> Desk<'a> {
    async fn open(app: &'a TestApp) -> Desk<'a> {
        app.managers(&["mia"]).await;
        let token = app.terminal("tm").await;
        let session = app.session(&token, "mia").await;
        Desk {
            app,
            token,
            session,
        }
    }

    async fn evidence(&self, order: &str) -> (u16, Value) {
        let path = format!("/v1/orders/{order}/evidence");
        self.app
            .send_as(
                reqwest::Method::GET,
                &path,
                &self.token,
                &self.session,
                None,
            )
            .await
    }

    async fn resolve(&self, order: &str, mut body: Value) -> (u16, Value) {
        body["pin"] = json!(self.app.pin_of("mia"));
        let path = format!("/v1/orders/{order}/resolutions");
        self.app
            .send_as(
                reqwest::Method::POST,
                &path,
                &self.token,
                &self.session,
                Some(body),
            )
            .await
    }
}

fn actions(evidence: &Value) -> Vec<String> {
    evidence["allowed_actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            let on = a["intent_id"].as_str().or(a["item_id"].as_str());
            match on {
                Some(on) => format!("{} {on}", a["action"].as_str().unwrap()),
                None => a["action"].as_str().unwrap().to_string(),
            }
        })
        .collect()
}

fn intent<'v>(evidence: &'v Value, id: &str) -> &'v Value {
    evidence["gateway"]["intents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["intent_id"] == id)
        .unwrap_or_else(|| panic!("{id} not in {evidence}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cancel_open_intent_cancels_at_the_sandbox_and_releases_the_order() {
    let rig = rig().await;
    for db in [Db::Sqlite, Db::Postgres] {
        let owned = app(db, &rig).await;
        let app = &owned;
        app.operators(&["alice"]).await;
        let t1 = app.terminal("t1").await;
        let order = format!("e-1-{db:?}");
        app.orders(&[(order.as_str(), 1250, "EUR")]).await;
        // t1 claims and registers pi_a; a second intent pi_b names the order at the gateway
        // but was never registered (a terminal that crashed between create and register).
        let (s, claim) = app.claim(&t1, &order, "alice").await;
        assert_eq!(s, 201, "{claim}");
        let pi_a = create_intent(&rig, &order, 1).await;
        let (s, b) = app
            .post(
                &format!("/v1/orders/{order}/intent"),
                &t1,
                json!({
            "claim_token": claim["claim_token"], "attempt_number": claim["attempt_number"],
            "intent_id": pi_a.as_str()}),
            )
            .await;
        assert_eq!(s, 200, "{b}");
        let pi_b = create_intent(&rig, &order, 9).await;
        let desk = Desk::open(app).await;

        let (s, ev) = desk.evidence(&order).await;
        assert_eq!(s, 200, "{ev}");
        assert_eq!(intent(&ev, pi_a.as_str())["found_by"], "both", "{ev}");
        assert_eq!(intent(&ev, pi_b.as_str())["found_by"], "search", "{ev}");
        let a = intent(&ev, pi_a.as_str());
        assert_eq!(a["status"], "requires_confirmation");
        assert_eq!(a["amount"], json!({"minor": 1250, "currency": "EUR"}));
        assert_eq!(a["amount_received_minor"], 0);
        assert_eq!(a["metadata_order_id"], order.as_str());
        assert_eq!(ev["gateway"]["searched"], true);
        assert_eq!(
            ev["central"]["detail"]["intents"][0]["intent_id"],
            pi_a.as_str()
        );
        // t1's claim is live: it may be confirming pi_a right now, so nothing may be cancelled
        // or released; only a retry on t1 is offered.
        assert_eq!(actions(&ev), ["retry"], "{ev}");
        let before = count(app, "SELECT COUNT(*) FROM resolutions").await;
        let (s, body) = desk
            .resolve(
                &order,
                json!({"action": "cancel_open_intent",
            "intent_id": pi_a.as_str(), "reason": "terminal crashed"}),
            )
            .await;
        assert_eq!(s, 409, "{body}");
        assert!(
            body.to_string().contains("holds the order's claim"),
            "{body}"
        );
        assert_eq!(
            status_at_sandbox(&rig, pi_a.as_str()).await,
            IntentStatus::RequiresConfirmation
        );
        assert_eq!(
            count(app, "SELECT COUNT(*) FROM resolutions").await,
            before + 1
        );
        assert_eq!(
            count(
                app,
                "SELECT COUNT(*) FROM resolutions WHERE outcome = 'applied'"
            )
            .await,
            0
        );

        // The lease runs out: both open intents may be cancelled; release is not offered yet.
        sqlx::query("UPDATE orders SET lease_until = 1 WHERE order_id = $1")
            .bind(&order)
            .execute(app.store.pool())
            .await
            .unwrap();
        let (_, ev) = desk.evidence(&order).await;
        let mut offered = actions(&ev);
        offered.sort();
        let mut expected = vec![
            format!("cancel_open_intent {pi_a}"),
            format!("cancel_open_intent {pi_b}"),
            "retry".to_string(),
        ];
        expected.sort();
        assert_eq!(offered, expected, "{ev}");
        let (s, body) = desk
            .resolve(
                &order,
                json!({"action": "mark_not_charged",
            "reason": "terminal crashed"}),
            )
            .await;
        assert_eq!(s, 409, "{body}");
        assert!(body.to_string().contains("cancel it first"), "{body}");
        let (s, body) = desk
            .resolve(
                &order,
                json!({"action": "mark_charged",
            "intent_id": pi_a.as_str(), "reason": "customer says so"}),
            )
            .await;
        assert_eq!(s, 409, "{body}");
        assert!(
            !app.order(&order).await["order"]["claim"].is_null(),
            "still held"
        );

        // Cancel pi_a: cancelled at the sandbox; pi_b is still open, so the order stays.
        let (s, body) = desk
            .resolve(
                &order,
                json!({"action": "cancel_open_intent",
            "intent_id": pi_a.as_str(), "reason": "terminal crashed"}),
            )
            .await;
        assert_eq!(s, 200, "{body}");
        assert_eq!(body["repeated"], false);
        assert!(
            body["evidence"].as_str().unwrap().contains("stays"),
            "{body}"
        );
        assert_eq!(
            status_at_sandbox(&rig, pi_a.as_str()).await,
            IntentStatus::Canceled
        );
        assert!(!body["order"]["claim"].is_null(), "{body}");
        // Sent again (a lost answer): the first decision, nothing new.
        let (s, again) = desk
            .resolve(
                &order,
                json!({"action": "cancel_open_intent",
            "intent_id": pi_a.as_str(), "reason": "terminal crashed"}),
            )
            .await;
        assert_eq!(s, 200, "{again}");
        assert_eq!(again["repeated"], true);
        assert_eq!(again["resolution_id"], body["resolution_id"]);

        // Cancel pi_b: nothing can charge any more, so the order is released.
        let (s, body) = desk
            .resolve(
                &order,
                json!({"action": "cancel_open_intent",
            "intent_id": pi_b.as_str(), "reason": "stray intent"}),
            )
            .await;
        assert_eq!(s, 200, "{body}");
        assert!(
            body["evidence"].as_str().unwrap().contains("released"),
            "{body}"
        );
        assert_eq!(
            status_at_sandbox(&rig, pi_b.as_str()).await,
            IntentStatus::Canceled
        );
        assert_eq!(body["order"]["status"], "unpaid");
        assert!(body["order"]["claim"].is_null(), "{body}");
        let applied = format!(
            "SELECT COUNT(*) FROM resolutions WHERE order_id = '{order}' \
             AND action = 'cancel_open_intent' AND outcome = 'applied' AND manager_id = 'mia'"
        );
        assert_eq!(count(app, &applied).await, 2);
        // A cancelled intent cannot be cancelled again.
        let (s, body) = desk
            .resolve(
                &order,
                json!({"action": "cancel_open_intent",
            "intent_id": pi_b.as_str(), "reason": "once more"}),
            )
            .await;
        assert_eq!(s, 409, "{body}");
        assert!(body.to_string().contains("already cancelled"), "{body}");

        // An operator may not read the evidence.
        let session = app.session(&t1, "alice").await;
        let (s, _) = app
            .send_as(
                reqwest::Method::GET,
                &format!("/v1/orders/{order}/evidence"),
                &t1,
                &session,
                None,
            )
            .await;
        assert_eq!(s, 403);
        // An unknown order is 404; the 20th lookup of a minute still answers, the next is 429.
        let (s, _) = desk.evidence("no-such-order").await;
        assert_eq!(s, 404);
        let mut last = 200;
        for _ in 0..25 {
            last = desk.evidence(&order).await.0;
            if last != 200 {
                break;
            }
        }
        assert_eq!(last, 429);
        drop(desk);
        owned.stop().await;
    }
}

/// Claims `order` at `t1`, lets the lease run out, claims it again at `t2`: t1's renewal with
/// the old token is refused and becomes a stale-token item. Returns its item id.
async fn stale_token_item(app: &TestApp, order: &str) -> String {
    app.orders(&[(order, 1250, "EUR")]).await;
    app.operators(&["alice", "bob"]).await;
    let t1 = app.terminal("t1").await;
    let t2 = app.terminal("t2").await;
    let (s, first) = app.claim(&t1, order, "alice").await;
    assert_eq!(s, 201, "{first}");
    sqlx::query("UPDATE orders SET lease_until = 1 WHERE order_id = $1")
        .bind(order)
        .execute(app.store.pool())
        .await
        .unwrap();
    let (s, second) = app.claim(&t2, order, "bob").await;
    assert_eq!(s, 201, "{second}");
    let (s, b) = app
        .post(
            &format!("/v1/orders/{order}/claim/renew"),
            &t1,
            json!({"claim_token": first["claim_token"]}),
        )
        .await;
    assert_eq!(s, 409, "{b}");
    let (_, page) = app.manager_get("/v1/exceptions").await;
    let item = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["kind"] == "stale_token" && i["order_id"] == order)
        .unwrap_or_else(|| panic!("no stale token item: {page}"));
    assert_eq!(item["acknowledgeable"], true);
    item["item_id"].as_str().unwrap().to_string()
}

crate::both_backends! {
    async fn acknowledge_closes_an_item_once_and_refuses_what_needs_a_decision(app) {
        let item = stale_token_item(app, "s-1").await;
        let desk = Desk::open(app).await;
        let (s, ev) = desk.evidence("s-1").await;
        assert_eq!(s, 200, "{ev}");
        assert!(actions(&ev).contains(&format!("acknowledge {item}")), "{ev}");

        // Bad input costs nothing: no reason, an intent with acknowledge, no item.
        for body in [json!({"action": "acknowledge", "item_id": item, "reason": " "}),
                     json!({"action": "acknowledge", "item_id": item, "intent_id": "pi_1",
                            "reason": "r"}),
                     json!({"action": "acknowledge", "reason": "r"}),
                     json!({"action": "retry", "reason": "r"})] {
            let (s, b) = desk.resolve("s-1", body).await;
            assert_eq!(s, 400, "{b}");
        }
        assert_eq!(count(app, "SELECT COUNT(*) FROM resolutions").await, 0);

        let (s, body) = desk.resolve("s-1", json!({"action": "acknowledge", "item_id": item,
            "reason": "t1 lost its claim after a network cut; nothing was charged"})).await;
        assert_eq!(s, 200, "{body}");
        assert_eq!(body["repeated"], false);
        assert_eq!(body["item_id"], item.as_str());
        let (_, page) = app.manager_get("/v1/exceptions").await;
        assert!(!page.to_string().contains(&item), "acknowledged, gone: {page}");
        assert_eq!(count(app, "SELECT COUNT(*) FROM fencing_refusals \
            WHERE resolved_at IS NOT NULL").await, 1);
        assert_eq!(count(app, "SELECT COUNT(*) FROM resolutions WHERE action = 'acknowledge' \
            AND outcome = 'applied' AND manager_id = 'mia'").await, 1);
        // Again, by either route: the first decision, nothing new written.
        let (s, again) = desk.resolve("s-1", json!({"action": "acknowledge", "item_id": item,
            "reason": "again"})).await;
        assert_eq!(s, 200, "{again}");
        assert_eq!(again["repeated"], true);
        assert_eq!(again["resolution_id"], body["resolution_id"]);
        let (s, again) = app.send_as(reqwest::Method::POST, "/v1/exceptions/acknowledgements",
            &desk.token, &desk.session, Some(json!({"item_id": item, "reason": "again",
            "pin": app.pin_of("mia")}))).await;
        assert_eq!(s, 200, "{again}");
        assert_eq!(again["repeated"], true);
        assert_eq!(count(app, "SELECT COUNT(*) FROM resolutions WHERE action = 'acknowledge' \
            AND outcome = 'applied'").await, 1);

        // An item that is not open for this order is refused (and recorded).
        let (s, body) = desk.resolve("s-1", json!({"action": "acknowledge",
            "item_id": "order:s-1", "reason": "r"})).await;
        assert_eq!(s, 409, "{body}");
        assert!(body.to_string().contains("not open"), "{body}");
        let (s, body) = app.send_as(reqwest::Method::POST, "/v1/exceptions/acknowledgements",
            &desk.token, &desk.session, Some(json!({"item_id": "flag:424242", "reason": "r",
            "pin": app.pin_of("mia")}))).await;
        assert_eq!(s, 404, "{body}");
        // A wrong PIN is refused and recorded, nothing acknowledged.
        let (s, _) = app.send_as(reqwest::Method::POST, "/v1/exceptions/acknowledgements",
            &desk.token, &desk.session, Some(json!({"item_id": "stale:999", "reason": "r",
            "pin": "99999999"}))).await;
        assert_eq!(s, 401);
    }
}

crate::both_backends! {
    async fn an_intent_without_a_result_past_its_expected_end_is_an_unknown_outcome(app) {
        app.orders(&[("u-1", 1250, "EUR")]).await;
        app.operators(&["alice"]).await;
        let t1 = app.terminal("t1").await;
        let (tok, att) = crate::webhooks::registered(app, &t1, "u-1", "pi_unknown").await;
        let (_, page) = app.manager_get("/v1/exceptions").await;
        assert!(!page.to_string().contains("unknown_outcome"), "not due yet: {page}");
        // The charge was expected to end within a lease (60 s here): move its start back.
        sqlx::query("UPDATE intents SET registered_at = registered_at - 61000 \
                     WHERE intent_id = 'pi_unknown'")
            .execute(app.store.pool())
            .await
            .unwrap();
        let (_, page) = app.manager_get("/v1/exceptions").await;
        let item = page["items"].as_array().unwrap().iter()
            .find(|i| i["kind"] == "unknown_outcome")
            .unwrap_or_else(|| panic!("no unknown outcome: {page}"));
        assert_eq!(item["order_id"], "u-1");
        assert_eq!(item["item_id"], "unknown:pi_unknown");
        assert_eq!(item["acknowledgeable"], false);
        assert_eq!(item["evidence"][0], "pi_unknown");
        assert!(item["summary"].as_str().unwrap().contains("only the gateway can tell"));
        assert_eq!(page["counts"]["unknown_outcome"], 1);
        // Only a decision about the money closes it, never an acknowledgement.
        let desk = Desk::open(app).await;
        let (s, body) = app.send_as(reqwest::Method::POST, "/v1/exceptions/acknowledgements",
            &desk.token, &desk.session, Some(json!({"item_id": "unknown:pi_unknown",
            "reason": "r", "pin": app.pin_of("mia")}))).await;
        assert_eq!(s, 409, "{body}");
        assert!(body.to_string().contains("closed by a decision about the money"), "{body}");
        assert_eq!(count(app, "SELECT COUNT(*) FROM resolutions WHERE outcome = 'refused'")
            .await, 1);
        // A result for the intent settles it.
        let (s, b) = app.post("/v1/results", &t1, batch(1, vec![result_item(&attempt_id(),
            "u-1", att, tok, "declined", 1250, "EUR", Some("pi_unknown"))])).await;
        assert_eq!(s, 200, "{b}");
        let (_, page) = app.manager_get("/v1/exceptions").await;
        assert!(!page.to_string().contains("unknown_outcome"), "settled: {page}");
    }
}

/// "Retry the same attempt" is an audited decision at the central (issue 11, item 2): a manager
/// asks with a reason, the PIN and the attempt; the central records who, when, on which
/// terminal, why, for which order and attempt, once the order's evidence allows a retry, and the
/// audit log shows it. Bad input costs nothing, an order whose evidence does not allow a retry
/// is refused and recorded, a wrong PIN is recorded as refused, and an operator is refused 403.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_retry_is_recorded_as_the_managers_decision_and_an_operator_is_refused() {
    let rig = rig().await;
    for db in [Db::Sqlite, Db::Postgres] {
        let owned = app(db, &rig).await;
        let app = &owned;
        app.operators(&["alice"]).await;
        let t1 = app.terminal("t1").await;
        let order = format!("rt-1-{db:?}");
        let other = format!("rt-2-{db:?}");
        app.orders(&[(order.as_str(), 1250, "EUR"), (other.as_str(), 1250, "EUR")])
            .await;
        // t1 claims and registers an intent it has not confirmed: its outcome is not known.
        let (s, claim) = app.claim(&t1, &order, "alice").await;
        assert_eq!(s, 201, "{claim}");
        let pi = create_intent(&rig, &order, 1).await;
        let (s, b) = app
            .post(
                &format!("/v1/orders/{order}/intent"),
                &t1,
                json!({"claim_token": claim["claim_token"],
                       "attempt_number": claim["attempt_number"], "intent_id": pi.as_str()}),
            )
            .await;
        assert_eq!(s, 200, "{b}");
        let attempt = attempt_id();
        let desk = Desk::open(app).await;
        let (_, ev) = desk.evidence(&order).await;
        assert!(actions(&ev).contains(&"retry".to_string()), "{ev}");

        // Bad input costs nothing: no attempt, not an attempt id, an attempt on another action.
        for body in [
            json!({"action": "retry", "reason": "r"}),
            json!({"action": "retry", "attempt_id": "not-a-uuid", "reason": "r"}),
            json!({"action": "retry", "attempt_id": attempt, "reason": " "}),
            json!({"action": "mark_not_charged", "attempt_id": attempt, "reason": "r"}),
        ] {
            let (s, b) = desk.resolve(&order, body).await;
            assert_eq!(s, 400, "{b}");
        }
        assert_eq!(count(app, "SELECT COUNT(*) FROM resolutions").await, 0);

        // An operator may not decide, whatever the evidence says: 403, nothing recorded.
        let alice = app.session(&t1, "alice").await;
        let (s, b) = app
            .send_as(
                reqwest::Method::POST,
                &format!("/v1/orders/{order}/resolutions"),
                &t1,
                &alice,
                Some(json!({"action": "retry", "attempt_id": attempt,
                            "reason": "I want to try again", "pin": app.pin_of("alice")})),
            )
            .await;
        assert_eq!(s, 403, "{b}");
        assert_eq!(count(app, "SELECT COUNT(*) FROM resolutions").await, 0);

        // A wrong PIN: refused, and recorded as refused.
        let (s, b) = app
            .send_as(
                reqwest::Method::POST,
                &format!("/v1/orders/{order}/resolutions"),
                &desk.token,
                &desk.session,
                Some(json!({"action": "retry", "attempt_id": attempt,
                            "reason": "gateway timed out", "pin": "99999999"})),
            )
            .await;
        assert_eq!(s, 401, "{b}");
        assert_eq!(
            count(
                app,
                "SELECT COUNT(*) FROM resolutions WHERE action = 'retry' \
                        AND outcome = 'refused'"
            )
            .await,
            1
        );

        // The manager's retry: recorded with who, where, why, the order and the attempt.
        let reason = "the gateway timed out; retry with the same keys";
        let (s, body) = desk
            .resolve(
                &order,
                json!({"action": "retry", "attempt_id": attempt, "reason": reason}),
            )
            .await;
        assert_eq!(s, 200, "{body}");
        assert_eq!(body["action"], "retry", "{body}");
        assert_eq!(body["decided_by"], "mia", "{body}");
        assert_eq!(body["repeated"], false, "{body}");
        let evidence = body["evidence"].as_str().unwrap();
        assert!(
            evidence.contains(&format!("attempt {attempt}")),
            "{evidence}"
        );
        assert!(evidence.contains("terminal tm"), "{evidence}");
        let row: (String, String, String, String, String) = sqlx::query_as(
            "SELECT manager_id, terminal_id, reason, order_id, attempt_id FROM resolutions \
             WHERE action = 'retry' AND outcome = 'applied'",
        )
        .fetch_one(app.store.pool())
        .await
        .unwrap();
        assert_eq!(
            row,
            (
                "mia".to_string(),
                "tm".to_string(),
                reason.to_string(),
                order.clone(),
                attempt.clone()
            )
        );
        // Nothing else changed: the order is still held by t1 with its intent open.
        let detail = app.order(&order).await;
        assert_eq!(detail["order"]["status"], "unpaid", "{detail}");
        assert!(!detail["order"]["claim"].is_null(), "{detail}");
        // A second retry is its own decision.
        let (s, again) = desk
            .resolve(
                &order,
                json!({"action": "retry", "attempt_id": attempt, "reason": reason}),
            )
            .await;
        assert_eq!(s, 200, "{again}");
        assert_eq!(again["repeated"], false, "{again}");
        assert_ne!(again["resolution_id"], body["resolution_id"]);

        // The audit log shows it: who, which terminal, the order, the reason and the attempt.
        let (s, page) = app
            .manager_get("/v1/audit?kind=resolution_retry&outcome=done")
            .await;
        assert_eq!(s, 200, "{page}");
        let entries = page["entries"].as_array().unwrap();
        assert_eq!(entries.len(), 2, "{page}");
        let e = &entries[0];
        assert_eq!(e["operator_id"], "mia", "{e}");
        assert_eq!(e["terminal_id"], "tm", "{e}");
        assert_eq!(e["order_id"], order.as_str(), "{e}");
        let detail = e["detail"].as_str().unwrap();
        assert!(detail.contains(reason), "{detail}");
        assert!(detail.contains(&format!("(attempt {attempt})")), "{detail}");

        // An order with no intent at all: nothing to retry; refused and recorded.
        let (s, b) = desk
            .resolve(
                &other,
                json!({"action": "retry", "attempt_id": attempt_id(),
                                    "reason": "retry"}),
            )
            .await;
        assert_eq!(s, 409, "{b}");
        assert!(b.to_string().contains("does not allow a retry"), "{b}");
        assert_eq!(
            count(
                app,
                &format!(
                    "SELECT COUNT(*) FROM resolutions WHERE order_id = '{other}' \
                                 AND outcome = 'refused'"
                )
            )
            .await,
            1
        );
    }
}

/// A result the central refused, archived on the terminal that holds it, is recorded at the
/// central as the manager's decision (who, where, why, the order and the attempt), also for an
/// order the central does not hold; an operator is refused 403 and nothing is recorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn archiving_a_refused_result_is_recorded_and_an_operator_is_refused() {
    let rig = rig().await;
    for db in [Db::Sqlite, Db::Postgres] {
        let owned = app(db, &rig).await;
        let app = &owned;
        app.operators(&["alice"]).await;
        let t1 = app.terminal("t1").await;
        let order = format!("ar-1-{db:?}");
        app.orders(&[(order.as_str(), 1250, "EUR")]).await;
        let attempt = attempt_id();
        let desk = Desk::open(app).await;
        let reason = "the central has this payment from the gateway";

        let alice = app.session(&t1, "alice").await;
        let (s, b) = app
            .send_as(
                reqwest::Method::POST,
                &format!("/v1/orders/{order}/resolutions"),
                &t1,
                &alice,
                Some(json!({"action": "archive_result", "attempt_id": attempt,
                            "reason": reason, "pin": app.pin_of("alice")})),
            )
            .await;
        assert_eq!(s, 403, "{b}");
        let (s, b) = desk
            .resolve(
                &order,
                json!({"action": "archive_result", "reason": reason}),
            )
            .await;
        assert_eq!(s, 400, "no attempt: {b}");
        assert_eq!(count(app, "SELECT COUNT(*) FROM resolutions").await, 0);

        for on in [order.clone(), format!("never-imported-{db:?}")] {
            let (s, body) = desk
                .resolve(
                    &on,
                    json!({"action": "archive_result", "attempt_id": attempt,
                                     "reason": reason}),
                )
                .await;
            assert_eq!(s, 200, "{body}");
            assert_eq!(body["action"], "archive_result", "{body}");
            assert!(
                body["evidence"].as_str().unwrap().contains("terminal tm"),
                "{body}"
            );
        }
        let (s, page) = app
            .manager_get("/v1/audit?kind=resolution_archive_result")
            .await;
        assert_eq!(s, 200, "{page}");
        let entries = page["entries"].as_array().unwrap();
        assert_eq!(entries.len(), 2, "{page}");
        for e in entries {
            assert_eq!(e["operator_id"], "mia", "{e}");
            assert_eq!(e["terminal_id"], "tm", "{e}");
            let detail = e["detail"].as_str().unwrap();
            assert!(detail.contains(reason), "{detail}");
            assert!(detail.contains(&format!("(attempt {attempt})")), "{detail}");
        }
        // The order is untouched.
        assert_eq!(app.order(&order).await["order"]["status"], "unpaid");
    }
}

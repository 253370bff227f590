//! Reversals against the real sandbox gateway (a full `sk_test_` key, which may refund): refunds
//! of paid orders (partial, the rest, whole), a cancel of an intent that captured nothing, replay
//! by reversal key, over-refunds, an operator's session, and four eyes above the threshold with
//! every refusal of an approval (nothing written) and one approval used once; a refund answered
//! `pending` followed to its end. Each test runs on SQLite and PostgreSQL in turn against one
//! sandbox.

use std::sync::Arc;

use paydesk_central::gateway_actions::{GatewayActions, GatewayActor};
use paydesk_central::gateway_lookup::GatewayLookup;
use paydesk_central::sweeper::{sweep_once, IntentLookup};
use paydesk_core::{
    AttemptId, AttemptNumber, GatewayIntentId, IdempotencyKey, IntentStatus, Money, OrderId,
    TerminalId,
};
use paydesk_gateway::{
    ApiKey, ConfirmRequest, CreateIntentRequest, CreateResult, Gateway, IntentMetadata,
    RefundRequest, RefundResult, RefundStatus, StripeConfig, StripeGateway,
};
use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::*;

const KEY: &str = "sk_test_paydesk_central_reversal_key";
/// Approvals of the four-eyes test expire after this long (one case waits it out).
const APPROVAL_TTL_MS: i64 = 3_000;

struct Rig {
    sandbox: paydesk_sandbox::SandboxHandle,
    gateway: Arc<StripeGateway>,
}

async fn rig() -> Rig {
    let sandbox = paydesk_sandbox::spawn(paydesk_sandbox::SandboxConfig::default())
        .await
        .unwrap();
    let gateway = Arc::new(
        StripeGateway::new(
            ApiKey::new(KEY).unwrap(),
            StripeConfig::with_base_url(sandbox.base_url.clone()),
        )
        .unwrap(),
    );
    Rig { sandbox, gateway }
}

async fn app(db: Db, rig: &Rig) -> TestApp {
    TestApp::spawn(
        db,
        TestOptions {
            gateway: Some(Arc::new(GatewayLookup::new(rig.gateway.clone()))),
            gateway_actions: Some(Arc::new(GatewayActor::new(rig.gateway.clone()))),
            approval_ttl_ms: Some(APPROVAL_TTL_MS),
            ..Default::default()
        },
    )
    .await
}

/// Claims `order`, creates and registers its intent at the sandbox and confirms it when
/// `confirm`; then a sweep a minute later settles a confirmed one as paid from the gateway.
async fn charge(app: &TestApp, rig: &Rig, t1: &str, order: &str, minor: i64, confirm: bool) {
    let (s, claim) = app.claim(t1, order, "alice").await;
    assert_eq!(s, 201, "{claim}");
    let attempt = AttemptNumber::new(claim["attempt_number"].as_u64().unwrap() as u32).unwrap();
    let order_id = OrderId::new(order).unwrap();
    let created = rig
        .gateway
        .create_intent(&CreateIntentRequest {
            amount: Money::new(minor, paydesk_core::Currency::from_code("EUR").unwrap()).unwrap(),
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
    let (s, b) = app.post(&format!("/v1/orders/{order}/intent"), t1, json!({
        "claim_token": claim["claim_token"], "attempt_number": attempt.get(), "intent_id": view.id.as_str()})).await;
    assert_eq!(s, 200, "{b}");
    if confirm {
        rig.gateway
            .confirm_intent(&ConfirmRequest {
                intent: view.id.clone(),
                off_session: true,
                key: IdempotencyKey::for_confirm(&view.id),
            })
            .await
            .unwrap();
        let lookup = GatewayLookup::new(rig.gateway.clone());
        let later = paydesk_central::clock::now().plus_ms(61_000);
        sweep_once(&app.store, Some(&lookup as &dyn IntentLookup), later)
            .await
            .unwrap();
        assert_eq!(app.order(order).await["order"]["status"], "paid");
    }
}

/// A manager's session at the terminal `token`.
struct Desk<'a> {
    app: &'a TestApp,
    token: String,
}

impl Desk<'_> {
    async fn reverse(&self, who: &str, order: &str, body: Value) -> (u16, Value) {
        let session = self.app.session(&self.token, who).await;
        let mut body = body;
        body["pin"] = json!(self.app.pin_of(who));
        self.app
            .send_as(
                reqwest::Method::POST,
                &format!("/v1/orders/{order}/reversals"),
                &self.token,
                &session,
                Some(body),
            )
            .await
    }

    async fn approve(&self, who: &str, order: &str, minor: i64) -> String {
        let session = self.app.session(&self.token, who).await;
        let (s, b) = self
            .app
            .send_as(
                reqwest::Method::POST,
                "/v1/approvals",
                &self.token,
                &session,
                Some(json!({ "action": "reversal", "order_id": order,
                    "amount": {"minor": minor, "currency": "EUR"}, "pin": self.app.pin_of(who) })),
            )
            .await;
        assert_eq!(s, 201, "{b}");
        assert_eq!(b["approved_by"], who);
        b["approval_id"].as_str().unwrap().to_string()
    }

    async fn list(&self, order: &str) -> Vec<Value> {
        let session = self.app.session(&self.token, "mia").await;
        let (s, b) = self
            .app
            .send_as(
                reqwest::Method::GET,
                &format!("/v1/orders/{order}/reversals"),
                &self.token,
                &session,
                None,
            )
            .await;
        assert_eq!(s, 200, "{b}");
        b["items"].as_array().unwrap().clone()
    }
}

fn eur(minor: i64) -> Value {
    json!({ "minor": minor, "currency": "EUR" })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn refunds_cancels_replays_and_refusals_at_the_sandbox() {
    let rig = rig().await;
    for db in [Db::Sqlite, Db::Postgres] {
        let owned = app(db, &rig).await;
        let app = &owned;
        let p = format!("{db:?}").to_lowercase();
        let (part, whole, open) = (
            format!("{p}-part"),
            format!("{p}-whole"),
            format!("{p}-open"),
        );
        app.orders(&[
            (&part, 5000, "EUR"),
            (&whole, 4000, "EUR"),
            (&open, 3000, "EUR"),
        ])
        .await;
        app.operators(&["alice"]).await;
        app.managers(&["mia"]).await;
        let t1 = app.terminal("t1").await;
        charge(app, &rig, &t1, &part, 5000, true).await;
        charge(app, &rig, &t1, &whole, 4000, true).await;
        charge(app, &rig, &t1, &open, 3000, false).await;
        let desk = Desk {
            app,
            token: app.terminal("t-desk").await,
        };

        // A partial refund, then its replay: the same reversal, nothing sent twice.
        let ask = json!({ "reversal_key": format!("{p}-k1"), "amount": eur(2000),
                          "reason": "customer returned one item" });
        let (s, first) = desk.reverse("mia", &part, ask.clone()).await;
        assert_eq!(s, 201, "{first}");
        assert_eq!(
            (
                first["kind"].as_str(),
                first["state"].as_str(),
                first["amount_minor"].as_i64()
            ),
            (Some("refund"), Some("succeeded"), Some(2000)),
            "{first}"
        );
        assert!(
            first["gateway_id"].as_str().unwrap().starts_with("re_"),
            "{first}"
        );
        assert_eq!(first["requested_by"], "mia");
        let (s, again) = desk.reverse("mia", &part, ask.clone()).await;
        assert_eq!(s, 200, "{again}");
        assert_eq!(again["reversal_id"], first["reversal_id"]);
        assert_eq!(again["gateway_id"], first["gateway_id"]);
        // The same key for something else is refused.
        let mut other = ask.clone();
        other["amount"] = eur(1000);
        let (s, b) = desk.reverse("mia", &part, other).await;
        assert_eq!(
            (s, b["error"]["code"].as_str()),
            (409, Some("conflict")),
            "{b}"
        );
        // More than is left (30.00) is refused before the gateway; nothing is written.
        let (s, b) = desk
            .reverse(
                "mia",
                &part,
                json!({ "reversal_key": format!("{p}-k2"),
                "amount": eur(3001), "reason": "too much" }),
            )
            .await;
        assert_eq!(s, 409, "{b}");
        assert!(
            b["error"]["message"]
                .as_str()
                .unwrap()
                .contains("30.00 EUR"),
            "{b}"
        );
        assert_eq!(desk.list(&part).await.len(), 1);
        // Without an amount: the rest.
        let (s, rest) = desk
            .reverse(
                "mia",
                &part,
                json!({ "reversal_key": format!("{p}-k3"),
                "reason": "order cancelled by the customer" }),
            )
            .await;
        assert_eq!(s, 201, "{rest}");
        assert_eq!(
            (rest["amount_minor"].as_i64(), rest["state"].as_str()),
            (Some(3000), Some("succeeded"))
        );
        let (s, b) = desk
            .reverse(
                "mia",
                &part,
                json!({ "reversal_key": format!("{p}-k4"), "reason": "again" }),
            )
            .await;
        assert_eq!(s, 409, "nothing is left to refund: {b}");
        assert_eq!(desk.list(&part).await.len(), 2);

        // A whole refund of a paid order.
        let (s, b) = desk
            .reverse(
                "mia",
                &whole,
                json!({ "reversal_key": format!("{p}-k5"), "reason": "duplicate" }),
            )
            .await;
        assert_eq!(s, 201, "{b}");
        assert_eq!(
            (b["kind"].as_str(), b["amount_minor"].as_i64()),
            (Some("refund"), Some(4000))
        );

        // An intent that captured nothing is canceled, and the gateway says so.
        let (s, b) = desk
            .reverse(
                "mia",
                &open,
                json!({ "reversal_key": format!("{p}-k6"), "reason": "customer left" }),
            )
            .await;
        assert_eq!(s, 201, "{b}");
        assert_eq!(
            (b["kind"].as_str(), b["state"].as_str()),
            (Some("cancel"), Some("succeeded")),
            "{b}"
        );
        let intent = GatewayIntentId::new(b["intent_id"].as_str().unwrap()).unwrap();
        let view = rig.gateway.retrieve_intent(&intent).await.unwrap();
        assert_eq!(view.status, IntentStatus::Canceled);

        // An operator may not reverse; bad reasons are refused before anything else.
        let session = app.session(&desk.token, "alice").await;
        let (s, b) = app
            .send_as(reqwest::Method::POST, &format!("/v1/orders/{whole}/reversals"), &desk.token,
                &session, Some(json!({ "reversal_key": format!("{p}-k7"), "reason": "x", "pin": OPERATOR_PIN })))
            .await;
        assert_eq!(s, 403, "{b}");
        for reason in [
            "",
            "   ",
            "two\nlines",
            "hidden \u{202E}text",
            &"x".repeat(501),
        ] {
            let (s, b) = desk
                .reverse(
                    "mia",
                    &whole,
                    json!({ "reversal_key": format!("{p}-k8"), "reason": reason }),
                )
                .await;
            assert_eq!(s, 400, "{reason:?}: {b}");
        }
        assert_eq!(desk.list(&whole).await.len(), 1);
        owned.stop().await;
    }
    rig.sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn above_the_threshold_another_managers_approval_is_used_once() {
    let rig = rig().await;
    for db in [Db::Sqlite, Db::Postgres] {
        let owned = app(db, &rig).await;
        let app = &owned;
        let p = format!("{db:?}").to_lowercase();
        let (big, other) = (format!("{p}-big"), format!("{p}-other"));
        app.orders(&[(&big, 30_000, "EUR"), (&other, 30_000, "EUR")])
            .await;
        app.operators(&["alice"]).await;
        app.managers(&["mia", "max"]).await;
        let t1 = app.terminal("t1").await;
        charge(app, &rig, &t1, &big, 30_000, true).await;
        let desk = Desk {
            app,
            token: app.terminal("t-desk").await,
        };
        let ask = |key: &str, approval: Option<&str>| {
            json!({ "reversal_key": format!("{p}-{key}"), "amount": eur(12_000),
                    "reason": "broken on delivery", "approval_id": approval })
        };
        let refused = |s: u16, b: &Value, words: &str| {
            assert_eq!(s, 403, "{b}");
            let message = b["error"]["message"].as_str().unwrap();
            assert!(message.contains(words), "{words:?} not in {message:?}");
        };

        // 120.00 is above 100.00: no approval, no reversal.
        let (s, b) = desk.reverse("mia", &big, ask("a", None)).await;
        refused(s, &b, "another manager's approval");
        // Each approval that does not fit is refused, naming why.
        let own = desk.approve("mia", &big, 12_000).await;
        let (s, b) = desk.reverse("mia", &big, ask("b", Some(&own))).await;
        refused(s, &b, "another manager must approve it");
        let wrong_amount = desk.approve("max", &big, 11_000).await;
        let (s, b) = desk
            .reverse("mia", &big, ask("c", Some(&wrong_amount)))
            .await;
        refused(s, &b, "ask for an approval of this amount");
        let wrong_order = desk.approve("max", &other, 12_000).await;
        let (s, b) = desk
            .reverse("mia", &big, ask("d", Some(&wrong_order)))
            .await;
        refused(s, &b, "ask for an approval of this order");
        let (s, b) = desk
            .reverse("mia", &big, ask("e", Some("apr_nothing")))
            .await;
        refused(s, &b, "does not exist");
        let stale = desk.approve("max", &big, 12_000).await;
        tokio::time::sleep(std::time::Duration::from_millis(
            APPROVAL_TTL_MS as u64 + 200,
        ))
        .await;
        let (s, b) = desk.reverse("mia", &big, ask("f", Some(&stale))).await;
        refused(s, &b, "expired");
        assert!(
            desk.list(&big).await.is_empty(),
            "refusals write no reversal"
        );

        // Max's approval lets Mia refund 120.00, once.
        let good = desk.approve("max", &big, 12_000).await;
        let (s, b) = desk.reverse("mia", &big, ask("g", Some(&good))).await;
        assert_eq!(s, 201, "{b}");
        assert_eq!(
            (b["state"].as_str(), b["approved_by"].as_str()),
            (Some("succeeded"), Some("max")),
            "{b}"
        );
        let (s, b) = desk.reverse("mia", &big, ask("h", Some(&good))).await;
        refused(s, &b, "already used");
        // A replay of the approved reversal is the same answer, not a second use.
        let (s, again) = desk.reverse("mia", &big, ask("g", Some(&good))).await;
        assert_eq!(s, 200, "{again}");
        assert_eq!(desk.list(&big).await.len(), 1);
        // Below the threshold one manager is enough.
        let (s, b) = desk
            .reverse(
                "mia",
                &big,
                json!({ "reversal_key": format!("{p}-i"), "amount": eur(10_000),
                "reason": "goodwill" }),
            )
            .await;
        assert_eq!(s, 201, "{b}");
        assert_eq!(b["approved_by"], Value::Null);
        // Every refusal and every approval is in the audit, by who asked.
        let count = |who: &'static str, event: &'static str| async move {
            let row = sqlx::query(
                "SELECT COUNT(*) AS n FROM auth_audit WHERE operator_id = $1 AND event = $2",
            )
            .bind(who)
            .bind(event)
            .fetch_one(app.store.pool())
            .await
            .unwrap();
            sqlx::Row::get::<i64, _>(&row, "n")
        };
        assert_eq!(count("mia", "reversal_refused").await, 1);
        assert_eq!(count("mia", "approval_refused").await, 6);
        assert_eq!(count("mia", "approval_granted").await, 1);
        assert_eq!(count("max", "approval_granted").await, 4);
        assert_eq!(count("mia", "reversal_requested").await, 2);
        owned.stop().await;
    }
    rig.sandbox.shutdown().await;
}

both_backends!(
    async fn without_a_gateway_a_reversal_is_503_and_writes_nothing(app) {
        app.orders(&[("n-1", 1000, "EUR")]).await;
        app.managers(&["mia"]).await;
        let token = app.terminal("t-desk").await;
        let session = app.session(&token, "mia").await;
        let (s, b) = app
            .send_as(reqwest::Method::POST, "/v1/orders/n-1/reversals", &token, &session,
                Some(json!({ "reversal_key": "k", "reason": "r", "pin": MANAGER_PIN })))
            .await;
        assert_eq!(s, 503, "{b}");
        assert!(b["error"]["message"].as_str().unwrap().contains("no gateway configured"), "{b}");
        let (s, b) = app
            .send_as(reqwest::Method::GET, "/v1/orders/n-1/reversals", &token, &session, None)
            .await;
        assert_eq!((s, b["items"].as_array().map(Vec::len)), (200, Some(0)), "{b}");
    }
);

/// The real connector, except that a new refund is answered `pending` (as a bank may leave it
/// for days); reading it by id shows the gateway's real state.
#[derive(Debug)]
struct PendingRefunds(GatewayActor);

#[async_trait::async_trait]
impl GatewayActions for PendingRefunds {
    async fn intent(&self, id: &GatewayIntentId) -> Result<paydesk_gateway::IntentView, String> {
        self.0.intent(id).await
    }
    async fn cancel(
        &self,
        id: &GatewayIntentId,
        key: &IdempotencyKey,
    ) -> Result<paydesk_gateway::CancelResult, String> {
        self.0.cancel(id, key).await
    }
    async fn refund(&self, request: &RefundRequest) -> Result<RefundResult, String> {
        Ok(match self.0.refund(request).await? {
            RefundResult::Created(mut view) => {
                view.status = RefundStatus::Pending;
                RefundResult::Created(view)
            }
            other => other,
        })
    }
    async fn refund_view(&self, id: &str) -> Result<paydesk_gateway::RefundView, String> {
        self.0.refund_view(id).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_pending_refund_is_read_again_until_it_ends() {
    let rig = rig().await;
    for db in [Db::Sqlite, Db::Postgres] {
        let actions = PendingRefunds(GatewayActor::new(rig.gateway.clone()));
        let owned = TestApp::spawn(
            db,
            TestOptions {
                gateway: Some(Arc::new(GatewayLookup::new(rig.gateway.clone()))),
                gateway_actions: Some(Arc::new(actions)),
                ..Default::default()
            },
        )
        .await;
        let app = &owned;
        let order = format!("{db:?}-slow").to_lowercase();
        app.orders(&[(&order, 2500, "EUR")]).await;
        app.operators(&["alice"]).await;
        app.managers(&["mia"]).await;
        let t1 = app.terminal("t1").await;
        charge(app, &rig, &t1, &order, 2500, true).await;
        let desk = Desk {
            app,
            token: app.terminal("t-desk").await,
        };
        let (s, b) = desk
            .reverse(
                "mia",
                &order,
                json!({ "reversal_key": "slow-1", "reason": "returned" }),
            )
            .await;
        assert_eq!(s, 201, "{b}");
        assert_eq!(b["state"], "pending", "{b}");
        assert!(b["gateway_id"].as_str().unwrap().starts_with("re_"), "{b}");
        // While pending it still counts against what is left to refund.
        let (s, more) = desk
            .reverse(
                "mia",
                &order,
                json!({ "reversal_key": "slow-2", "amount": eur(1), "reason": "more" }),
            )
            .await;
        assert_eq!(s, 409, "{more}");
        // Reading the order's reversals follows the refund to the gateway's answer.
        let items = desk.list(&order).await;
        assert_eq!(items.len(), 1);
        assert_eq!(items[0]["state"], "succeeded", "{items:?}");
        assert_eq!(items[0]["gateway_id"], b["gateway_id"]);
        owned.stop().await;
    }
    rig.sandbox.shutdown().await;
}

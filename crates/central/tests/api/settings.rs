//! Permissions and limits (issue 11, item 8): the settings' defaults, changes by a manager (PIN
//! again) and by the admin token, each audited as old → new and an unchanged value writing
//! nothing; bad values refused with nothing written; a role that lost an action refused 403 and
//! audited, while a manager can always change the settings back (no lock-out); and at the real
//! sandbox, a person's limits per refund and per day refusing refunds with nothing written, and
//! a changed four-eyes threshold taking effect. Each test runs on SQLite and PostgreSQL.

use std::sync::Arc;

use paydesk_central::gateway_actions::GatewayActor;
use paydesk_central::gateway_lookup::GatewayLookup;
use paydesk_central::sweeper::{sweep_once, IntentLookup};
use paydesk_core::{AttemptId, AttemptNumber, IdempotencyKey, Money, OrderId, TerminalId};
use paydesk_gateway::{
    ApiKey, ConfirmRequest, CreateIntentRequest, CreateResult, Gateway, IntentMetadata,
    StripeConfig, StripeGateway,
};
use reqwest::Method;
use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::*;

const KEY: &str = "sk_test_paydesk_central_settings_key";
const ALL: [&str; 8] = [
    "charge",
    "charge_other_amount",
    "reverse",
    "approve_reversal",
    "resolve",
    "sign_off_day",
    "grant_offline",
    "export_audit",
];

/// A manager's session at one terminal.
struct Desk<'a> {
    app: &'a TestApp,
    token: String,
}

impl<'a> Desk<'a> {
    async fn new(app: &'a TestApp, terminal: &str) -> Desk<'a> {
        Desk {
            app,
            token: app.terminal(terminal).await,
        }
    }

    async fn send(
        &self,
        who: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let session = self.app.session(&self.token, who).await;
        self.app
            .send_as(method, path, &self.token, &session, body)
            .await
    }

    async fn put(&self, who: &str, path: &str, mut body: Value) -> (u16, Value) {
        if body.get("pin").is_none() {
            body["pin"] = json!(self.app.pin_of(who));
        }
        self.send(who, Method::PUT, path, Some(body)).await
    }

    async fn settings(&self, who: &str) -> Value {
        let (s, b) = self.send(who, Method::GET, "/v1/settings", None).await;
        assert_eq!(s, 200, "{b}");
        b
    }
}

/// The `setting_changed` rows of the audit log, newest first: (who, detail).
async fn changes(app: &TestApp) -> Vec<(String, String)> {
    let (s, b) = app
        .get("/v1/audit?kind=setting_changed&limit=500", ADMIN_TOKEN)
        .await;
    assert_eq!(s, 200, "{b}");
    b["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["operator_id"].as_str().unwrap_or("").to_string(),
                e["detail"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn actions(settings: &Value, role: &str) -> Vec<String> {
    settings["permissions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["role"] == role)
        .unwrap()["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect()
}

both_backends! {
    /// Defaults, a manager's and the admin's changes, audit rows, refusals of bad values.
    async fn settings_change_with_the_pin_and_are_audited(app) {
        app.operators(&["otto"]).await;
        app.managers(&["mia"]).await;
        let desk = Desk::new(app, "t-desk").await;

        // Today's behaviour by default.
        let s = desk.settings("mia").await;
        assert_eq!(s["reversal_approval_above_minor"], 10_000);
        assert_eq!(actions(&s, "operator"), vec!["charge", "charge_other_amount"]);
        assert_eq!(actions(&s, "manager"), ALL.to_vec());
        assert_eq!(s["limits"], json!([]));
        assert_eq!(s["updated_at"], Value::Null);

        // Without the PIN, or with a wrong one, nothing changes.
        let path = "/v1/settings/approval-threshold";
        let (st, b) = desk
            .put("mia", path, json!({ "reversal_approval_above_minor": 20_000, "pin": "" }))
            .await;
        assert_eq!(st, 400, "{b}");
        assert!(b["error"]["message"].as_str().unwrap().contains("PIN"), "{b}");
        let (st, b) = desk
            .put("mia", path, json!({ "reversal_approval_above_minor": 20_000, "pin": "99999999" }))
            .await;
        assert!(st == 401 || st == 403, "{st} {b}");
        // Bad values: negative, not a number, an unknown field.
        for bad in [
            json!({ "reversal_approval_above_minor": -1 }),
            json!({ "reversal_approval_above_minor": "lots" }),
            json!({ "reversal_approval_above_minor": 5, "currency": "EUR" }),
        ] {
            let (st, b) = desk.put("mia", path, bad.clone()).await;
            assert_eq!(st, 400, "{bad}: {b}");
        }
        assert_eq!(desk.settings("mia").await["reversal_approval_above_minor"], 10_000);
        assert!(changes(app).await.is_empty());

        // A manager's change, audited with who and old → new.
        let (st, b) = desk
            .put("mia", path, json!({ "reversal_approval_above_minor": 20_000 }))
            .await;
        assert_eq!(st, 200, "{b}");
        assert_eq!(b["reversal_approval_above_minor"], 20_000);
        assert_eq!(b["updated_by"], "mia");
        assert!(b["updated_at"].as_i64().is_some(), "{b}");
        assert_eq!(
            changes(app).await,
            vec![("mia".to_string(), "reversal_approval_above_minor: 10000 → 20000".to_string())]
        );
        // The same value again writes nothing.
        let (st, _) = desk
            .put("mia", path, json!({ "reversal_approval_above_minor": 20_000 }))
            .await;
        assert_eq!(st, 200);
        assert_eq!(changes(app).await.len(), 1);
        // The admin token needs no PIN.
        let (st, b) = app
            .send(Method::PUT, path, Some(ADMIN_TOKEN),
                  Some(json!({ "reversal_approval_above_minor": 15_000 })))
            .await;
        assert_eq!(st, 200, "{b}");
        assert_eq!(b["updated_by"], "admin");
        assert_eq!(changes(app).await[0].1, "reversal_approval_above_minor: 20000 → 15000");

        // An operator cannot be given a manager's action; an unknown role or action is refused.
        let (st, b) = desk
            .put("mia", "/v1/settings/permissions/operator",
                 json!({ "actions": ["charge", "reverse"] }))
            .await;
        assert_eq!(st, 400, "{b}");
        assert!(b["error"]["message"].as_str().unwrap().contains("cancel or refund"), "{b}");
        let (st, b) = desk
            .put("mia", "/v1/settings/permissions/owner", json!({ "actions": [] }))
            .await;
        assert_eq!(st, 400, "{b}");
        let (st, b) = desk
            .put("mia", "/v1/settings/permissions/manager", json!({ "actions": ["fly"] }))
            .await;
        assert_eq!(st, 400, "{b}");
        assert_eq!(changes(app).await.len(), 2);

        // Limits: unknown person, bad currency, zero refused; a good one set and shown.
        for (path, body) in [
            ("/v1/settings/limits/nobody/EUR", json!({ "per_refund_minor": 100 })),
            ("/v1/settings/limits/mia/EURO", json!({ "per_refund_minor": 100 })),
            ("/v1/settings/limits/mia/EUR", json!({ "per_refund_minor": 0 })),
            ("/v1/settings/limits/mia/EUR", json!({ "per_day_minor": -5 })),
        ] {
            let (st, b) = desk.put("mia", path, body).await;
            assert_eq!(st, 400, "{path}: {b}");
        }
        let (st, b) = desk
            .put("mia", "/v1/settings/limits/mia/EUR",
                 json!({ "per_refund_minor": 5_000, "per_day_minor": 8_000 }))
            .await;
        assert_eq!(st, 200, "{b}");
        assert_eq!(
            b["limits"],
            json!([{ "operator_id": "mia", "currency": "EUR", "per_refund_minor": 5000,
                     "per_day_minor": 8000, "refunded_today_minor": 0 }])
        );
        assert_eq!(
            changes(app).await[0].1,
            "refund limits of mia in EUR: per refund none → 5000, per day none → 8000"
        );
        // Both limits left out removes them.
        let (st, b) = desk.put("mia", "/v1/settings/limits/mia/EUR", json!({})).await;
        assert_eq!(st, 200, "{b}");
        assert_eq!(b["limits"], json!([]));
        assert_eq!(changes(app).await.len(), 4);
    }
}

both_backends! {
    /// A role that lost an action is refused and audited; a manager can still edit settings.
    async fn a_withdrawn_action_is_refused_but_settings_stay_editable(app) {
        app.operators(&["otto"]).await;
        app.managers(&["mia"]).await;
        app.orders(&[("w-1", 1000, "EUR")]).await;
        let desk = Desk::new(app, "t-desk").await;

        // Managers lose every action, operators lose charging.
        let (st, b) = desk
            .put("mia", "/v1/settings/permissions/manager", json!({ "actions": [] }))
            .await;
        assert_eq!(st, 200, "{b}");
        assert_eq!(actions(&b, "manager"), Vec::<String>::new());
        let (st, b) = desk
            .put("mia", "/v1/settings/permissions/operator", json!({ "actions": [] }))
            .await;
        assert_eq!(st, 200, "{b}");

        let (st, b) = desk.send("mia", Method::GET, "/v1/audit", None).await;
        assert_eq!(st, 403, "{b}");
        let message = b["error"]["message"].as_str().unwrap();
        assert!(message.contains("read and export the audit log") && message.contains("Settings"),
                "{message}");
        let (st, b) = desk
            .send("mia", Method::POST, "/v1/approvals",
                  Some(json!({ "action": "reversal", "order_id": "w-1",
                               "amount": {"minor": 100, "currency": "EUR"}, "pin": MANAGER_PIN })))
            .await;
        assert_eq!(st, 403, "{b}");
        let (st, b) = desk
            .send("mia", Method::POST, "/v1/day-close/2026-01-15/sign-off",
                  Some(json!({ "pin": MANAGER_PIN })))
            .await;
        assert_eq!(st, 403, "{b}");
        let (st, b) = app.claim(&desk.token, "w-1", "otto").await;
        assert_eq!(st, 403, "{b}");
        assert!(b["error"]["message"].as_str().unwrap().contains("take payments"), "{b}");
        assert_eq!(app.order("w-1").await["order"]["status"], "unpaid");
        // The admin still reads the audit log, which shows the refusals.
        let (s, log) = app.get("/v1/audit?outcome=refused&limit=500", ADMIN_TOKEN).await;
        assert_eq!(s, 200, "{log}");
        let refused: Vec<&str> = log["entries"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["kind"] == "forbidden")
            .map(|e| e["detail"].as_str().unwrap())
            .collect();
        for words in ["manager role may not read and export", "operator role may not take payments",
                      "may not approve", "may not sign off"] {
            assert!(refused.iter().any(|d| d.contains(words)), "{words:?} not in {refused:?}");
        }

        // No lock-out: the manager gives everything back.
        let (st, b) = desk
            .put("mia", "/v1/settings/permissions/manager", json!({ "actions": ALL }))
            .await;
        assert_eq!(st, 200, "{b}");
        let (st, b) = desk.send("mia", Method::GET, "/v1/audit", None).await;
        assert_eq!(st, 200, "{b}");
        // An operator cannot change settings at all.
        let (st, b) = desk
            .put("otto", "/v1/settings/permissions/operator", json!({ "actions": ["charge"] }))
            .await;
        assert_eq!(st, 403, "{b}");
        assert!(actions(&desk.settings("mia").await, "operator").is_empty());
    }
}

struct Rig {
    _sandbox: paydesk_sandbox::SandboxHandle,
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
    Rig {
        _sandbox: sandbox,
        gateway,
    }
}

/// Claims, creates, registers and confirms `order` at the sandbox, then lets a sweep a minute
/// later settle it as paid from the gateway.
async fn charge(app: &TestApp, rig: &Rig, t1: &str, order: &str, minor: i64) {
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
    let (s, b) = app
        .post(
            &format!("/v1/orders/{order}/intent"),
            t1,
            json!({ "claim_token": claim["claim_token"], "attempt_number": attempt.get(),
                    "intent_id": view.id.as_str() }),
        )
        .await;
    assert_eq!(s, 200, "{b}");
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

/// How many reversals the order at `path` has.
async fn count(desk: &Desk<'_>, path: &str) -> usize {
    let (s, b) = desk.send("mia", Method::GET, path, None).await;
    assert_eq!(s, 200, "{b}");
    b["items"].as_array().unwrap().len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn limits_and_the_threshold_apply_to_refunds_at_the_sandbox() {
    let rig = rig().await;
    for db in [Db::Sqlite, Db::Postgres] {
        let owned = TestApp::spawn(
            db,
            TestOptions {
                gateway: Some(Arc::new(GatewayLookup::new(rig.gateway.clone()))),
                gateway_actions: Some(Arc::new(GatewayActor::new(rig.gateway.clone()))),
                ..Default::default()
            },
        )
        .await;
        let app = &owned;
        let p = format!("{db:?}").to_lowercase();
        let order = format!("{p}-lim");
        app.orders(&[(&order, 9_000, "EUR")]).await;
        app.operators(&["alice"]).await;
        app.managers(&["mia", "max"]).await;
        let t1 = app.terminal("t1").await;
        charge(app, &rig, &t1, &order, 9_000).await;
        let desk = Desk::new(app, "t-desk").await;
        let refund = |key: &str, minor: i64| {
            json!({ "reversal_key": format!("{p}-{key}"), "reason": "limits test",
                    "amount": {"minor": minor, "currency": "EUR"}, "pin": MANAGER_PIN })
        };
        let path = format!("/v1/orders/{order}/reversals");
        let (st, b) = desk
            .put(
                "max",
                "/v1/settings/limits/mia/EUR",
                json!({ "per_refund_minor": 3_000, "per_day_minor": 5_000 }),
            )
            .await;
        assert_eq!(st, 200, "{b}");

        // Above the limit per refund: refused, naming the limit and who can raise it.
        let (st, b) = desk
            .send("mia", Method::POST, &path, Some(refund("a", 3_001)))
            .await;
        assert_eq!(st, 403, "{b}");
        let message = b["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("limit per refund of 30.00 EUR")
                || message.contains("limit per refund of"),
            "{message}"
        );
        assert!(
            message.contains("mia") && message.contains("Settings"),
            "{message}"
        );
        assert_eq!(count(&desk, &path).await, 0, "nothing written");
        // Within it: done.
        let (st, b) = desk
            .send("mia", Method::POST, &path, Some(refund("b", 3_000)))
            .await;
        assert_eq!(st, 201, "{b}");
        assert_eq!(b["state"], "succeeded", "{b}");
        // 30.00 today already: 30.01 more is above the 50.00 per day, 20.00 fits.
        let (st, b) = desk
            .send("mia", Method::POST, &path, Some(refund("c", 2_001)))
            .await;
        assert_eq!(st, 403, "{b}");
        assert!(
            b["error"]["message"]
                .as_str()
                .unwrap()
                .contains("limit per day"),
            "{b}"
        );
        assert_eq!(count(&desk, &path).await, 1, "nothing written");
        // Another manager without limits may refund it.
        let (st, b) = desk
            .send("max", Method::POST, &path, Some(refund("d", 2_001)))
            .await;
        assert_eq!(st, 201, "{b}");
        let (st, b) = desk
            .send("mia", Method::POST, &path, Some(refund("e", 2_000)))
            .await;
        assert_eq!(st, 201, "{b}");
        let s = desk.settings("mia").await;
        assert_eq!(s["limits"][0]["refunded_today_minor"], 5_000, "{s}");

        // The threshold, lowered to 10.00, now asks for a second manager for 19.99.
        let (st, b) = app
            .send(
                Method::PUT,
                "/v1/settings/approval-threshold",
                Some(ADMIN_TOKEN),
                Some(json!({ "reversal_approval_above_minor": 1_000 })),
            )
            .await;
        assert_eq!(st, 200, "{b}");
        let (st, b) = desk
            .send("max", Method::POST, &path, Some(refund("f", 1_999)))
            .await;
        assert_eq!(st, 403, "{b}");
        let message = b["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("above 1000 minor units") && message.contains("approval"),
            "{message}"
        );
        assert_eq!(count(&desk, &path).await, 3, "nothing written");

        // Two refunds at once that each fit under the limit per day, but not together: one is
        // refused (max refunded 20.01 today; 30.01 a day; 6.00 + 6.00 is 12.00 more).
        let (st, b) = desk
            .put(
                "mia",
                "/v1/settings/limits/max/EUR",
                json!({ "per_day_minor": 3_001 }),
            )
            .await;
        assert_eq!(st, 200, "{b}");
        let (one, two) = tokio::join!(
            desk.send("max", Method::POST, &path, Some(refund("g", 600))),
            desk.send("max", Method::POST, &path, Some(refund("h", 600))),
        );
        let mut statuses = [one.0, two.0];
        statuses.sort();
        assert_eq!(statuses, [201, 403], "{one:?} {two:?}");
        assert_eq!(count(&desk, &path).await, 4);
        owned.stop().await;
    }
}

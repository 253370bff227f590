//! Who may call what (issue 10, M2): every route of `ROUTES` × every kind of caller, with the
//! status each must get, on both backends. A route added without a row here fails the test.
//!
//! Callers: nobody; a terminal's token without a session; an operator's session; a manager's
//! session (both with their terminal's token); the admin token; a revoked terminal's token.
//! Each row's request is well formed, so the status is the authorization's answer (or, once
//! allowed, the route's own: 409 for a renewal of a claim nobody holds, 400 for an unsigned
//! webhook).

use std::sync::Arc;

use async_trait::async_trait;
use paydesk_central::http::ROUTES;
use paydesk_central::sweeper::{GatewayIntent, IntentEvidence, IntentLookup};
use paydesk_core::{GatewayIntentId, Timestamp};
use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::*;

/// A gateway that lists nothing, so a reconciliation report answers 200.
#[derive(Debug)]
struct EmptyGateway;

#[async_trait]
impl IntentLookup for EmptyGateway {
    async fn intent(&self, _: &GatewayIntentId) -> Result<IntentEvidence, String> {
        Err("unused".into())
    }
    async fn intents_between(
        &self,
        _: Timestamp,
        _: Timestamp,
    ) -> Result<Vec<GatewayIntent>, String> {
        Ok(Vec::new())
    }
}

async fn spawn(db: Db) -> TestApp {
    let options = TestOptions {
        gateway: Some(Arc::new(EmptyGateway)),
        ..Default::default()
    };
    TestApp::spawn(db, options).await
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caller {
    Nobody,
    Terminal,
    Operator,
    Manager,
    Admin,
    Revoked,
}

const CALLERS: [Caller; 6] = [
    Caller::Nobody,
    Caller::Terminal,
    Caller::Operator,
    Caller::Manager,
    Caller::Admin,
    Caller::Revoked,
];

/// (method, route, path, expected status per caller in `CALLERS` order).
type Row = (&'static str, &'static str, &'static str, [u16; 6]);

//                                                         none term  op  mgr admin revoked
const TABLE: &[Row] = &[
    ("get", "/health", "/health", [200, 200, 200, 200, 200, 200]),
    (
        "get",
        "/openapi.json",
        "/openapi.json",
        [200, 200, 200, 200, 200, 200],
    ),
    (
        "post",
        "/v1/admin/terminals",
        "/v1/admin/terminals",
        [401, 401, 401, 401, 201, 401],
    ),
    (
        "get",
        "/v1/admin/terminals",
        "/v1/admin/terminals",
        [401, 401, 401, 401, 200, 401],
    ),
    (
        "post",
        "/v1/admin/terminals/{terminal_id}/revoke",
        "/v1/admin/terminals/t-spare/revoke",
        [401, 401, 401, 401, 204, 401],
    ),
    (
        "post",
        "/v1/admin/terminals/{terminal_id}/rotate",
        "/v1/admin/terminals/t-spare/rotate",
        [401, 401, 401, 401, 200, 401],
    ),
    (
        "post",
        "/v1/admin/operators",
        "/v1/admin/operators",
        [401, 401, 401, 401, 204, 401],
    ),
    (
        "post",
        "/v1/sessions",
        "/v1/sessions",
        [401, 201, 201, 201, 401, 401],
    ),
    (
        "delete",
        "/v1/sessions/current",
        "/v1/sessions/current",
        [401, 401, 204, 204, 401, 401],
    ),
    (
        "post",
        "/v1/sessions/check",
        "/v1/sessions/check",
        [401, 401, 204, 204, 401, 401],
    ),
    (
        "post",
        "/v1/offline-allowances",
        "/v1/offline-allowances",
        [401, 401, 403, 201, 401, 401],
    ),
    (
        "delete",
        "/v1/offline-allowances/{grant_id}",
        "/v1/offline-allowances/grant-none",
        [401, 401, 403, 404, 401, 401],
    ),
    (
        "get",
        "/v1/allowance-key",
        "/v1/allowance-key",
        [401, 200, 200, 200, 401, 401],
    ),
    (
        "post",
        "/v1/orders/import",
        "/v1/orders/import",
        [401, 401, 401, 401, 200, 401],
    ),
    (
        "get",
        "/v1/orders",
        "/v1/orders",
        [401, 200, 200, 200, 200, 401],
    ),
    (
        "get",
        "/v1/orders/{order_id}",
        "/v1/orders/r-1",
        [401, 200, 200, 200, 200, 401],
    ),
    (
        "post",
        "/v1/orders/{order_id}/claim",
        "/v1/orders/{caller}/claim",
        [401, 401, 201, 201, 401, 401],
    ),
    (
        "post",
        "/v1/orders/{order_id}/claim/renew",
        "/v1/orders/r-1/claim/renew",
        [401, 409, 409, 409, 401, 401],
    ),
    (
        "post",
        "/v1/orders/{order_id}/claim/release",
        "/v1/orders/r-1/claim/release",
        [401, 409, 409, 409, 401, 401],
    ),
    (
        "post",
        "/v1/orders/{order_id}/intent",
        "/v1/orders/r-1/intent",
        [401, 409, 409, 409, 401, 401],
    ),
    (
        "post",
        "/v1/orders/{order_id}/decline",
        "/v1/orders/Manager/decline",
        [401, 200, 200, 200, 401, 401],
    ),
    (
        "post",
        "/v1/results",
        "/v1/results",
        [401, 200, 200, 200, 401, 401],
    ),
    (
        "get",
        "/v1/journal-head",
        "/v1/journal-head",
        [401, 200, 200, 200, 401, 401],
    ),
    (
        "get",
        "/v1/operators",
        "/v1/operators",
        [401, 200, 200, 200, 200, 401],
    ),
    (
        "get",
        "/v1/unresolved",
        "/v1/unresolved",
        [401, 401, 403, 200, 200, 401],
    ),
    (
        "get",
        "/v1/flags",
        "/v1/flags",
        [401, 401, 403, 200, 200, 401],
    ),
    (
        "get",
        "/v1/reconcile",
        "/v1/reconcile?from={from}&to={to}",
        [401, 401, 403, 200, 200, 401],
    ),
    (
        "get",
        "/v1/audit",
        "/v1/audit",
        [401, 401, 403, 200, 200, 401],
    ),
    (
        "get",
        "/v1/day-close",
        "/v1/day-close?day=2026-01-15",
        [401, 401, 403, 200, 200, 401],
    ),
    (
        "post",
        "/v1/day-close/{day}/sign-off",
        "/v1/day-close/2026-01-15/sign-off",
        [401, 401, 403, 201, 401, 401],
    ),
    // No gateway actions in this app: a manager's well-formed reversal reaches the 503.
    (
        "post",
        "/v1/orders/{order_id}/reversals",
        "/v1/orders/r-1/reversals",
        [401, 401, 403, 503, 401, 401],
    ),
    (
        "get",
        "/v1/orders/{order_id}/reversals",
        "/v1/orders/r-1/reversals",
        [401, 401, 403, 200, 200, 401],
    ),
    (
        "post",
        "/v1/approvals",
        "/v1/approvals",
        [401, 401, 403, 201, 401, 401],
    ),
    (
        "get",
        "/v1/exceptions",
        "/v1/exceptions",
        [401, 401, 403, 200, 200, 401],
    ),
    (
        "post",
        "/v1/orders/{order_id}/resolutions",
        "/v1/orders/r-1/resolutions",
        [401, 401, 403, 200, 401, 401],
    ),
    (
        "get",
        "/v1/orders/{order_id}/evidence",
        "/v1/orders/r-1/evidence",
        [401, 401, 403, 200, 200, 401],
    ),
    // No item of that id is open: a manager is answered 404 once allowed.
    (
        "post",
        "/v1/exceptions/acknowledgements",
        "/v1/exceptions/acknowledgements",
        [401, 401, 403, 404, 401, 401],
    ),
    (
        "get",
        "/v1/settings",
        "/v1/settings",
        [401, 401, 403, 200, 200, 401],
    ),
    (
        "put",
        "/v1/settings/approval-threshold",
        "/v1/settings/approval-threshold",
        [401, 401, 403, 200, 200, 401],
    ),
    (
        "put",
        "/v1/settings/permissions/{role}",
        "/v1/settings/permissions/manager",
        [401, 401, 403, 200, 200, 401],
    ),
    (
        "put",
        "/v1/settings/limits/{operator_id}/{currency}",
        "/v1/settings/limits/mia/EUR",
        [401, 401, 403, 200, 200, 401],
    ),
    // Reading a saved card moves no money: any signed-in person. The test central has no gateway
    // to read it from, so a person who may ask is told that (503) after the role check.
    (
        "post",
        "/v1/orders/{order_id}/payment-method/refresh",
        "/v1/orders/r-1/payment-method/refresh",
        [401, 401, 503, 503, 401, 401],
    ),
    // Payment links and contacts need a signed-in person; r-1 waits for no customer, so a
    // person who may ask is told so (409) and nothing is written.
    (
        "post",
        "/v1/orders/{order_id}/payment-link",
        "/v1/orders/r-1/payment-link",
        [401, 401, 409, 409, 401, 401],
    ),
    (
        "post",
        "/v1/orders/{order_id}/customer-contacted",
        "/v1/orders/r-1/customer-contacted",
        [401, 401, 409, 409, 401, 401],
    ),
    (
        "get",
        "/v1/customer-waits",
        "/v1/customer-waits",
        [401, 401, 200, 200, 401, 401],
    ),
    // The customer's page: no login, and an unknown token is a plain "not valid" page.
    (
        "get",
        "/pay/{token}",
        "/pay/pdl_unknown",
        [404, 404, 404, 404, 404, 404],
    ),
    (
        "post",
        "/webhooks/stripe",
        "/webhooks/stripe",
        [400, 400, 400, 400, 400, 400],
    ),
    // Signature-authenticated like Stripe's; the test central has no PayPal webhook id, so the
    // route is off for everyone (tests/api/paypal_webhook.rs runs it configured).
    (
        "post",
        "/webhooks/paypal",
        "/webhooks/paypal",
        [503, 503, 503, 503, 503, 503],
    ),
];

/// The body each route is sent with, for a caller.
fn body(route: &str, caller: Caller, n: usize) -> Option<Value> {
    let pin = if caller == Caller::Manager {
        MANAGER_PIN
    } else {
        OPERATOR_PIN
    };
    let who = if caller == Caller::Manager {
        "mia"
    } else {
        "otto"
    };
    Some(match route {
        "/v1/admin/terminals" => json!({ "terminal_id": format!("t-new-{n}") }),
        "/v1/admin/operators" => {
            json!({ "operator_id": format!("op-{n}"), "role": "operator", "pin": "482913" })
        }
        "/v1/sessions" => json!({ "operator_id": who, "pin": pin }),
        "/v1/sessions/check" => json!({ "pin": pin }),
        "/v1/offline-allowances/{grant_id}" => json!({ "pin": pin }),
        "/v1/offline-allowances" => json!({ "pin": pin,
            "per_charge_max": {"minor": 1000, "currency": "EUR"},
            "per_shift_max": {"minor": 5000, "currency": "EUR"},
            "duration_ms": 3_600_000, "cache_age_ms_max": 600_000 }),
        "/v1/orders/import" => json!({ "orders": [{ "order_id": format!("imp-{n}"),
            "amount": {"minor": 100, "currency": "EUR"}, "customer_id": "c", "payment_method_id": "p" }] }),
        "/v1/orders/{order_id}/claim" => json!({ "operator_id": who }),
        "/v1/orders/{order_id}/claim/renew" | "/v1/orders/{order_id}/claim/release" => {
            json!({ "claim_token": 1 })
        }
        "/v1/orders/{order_id}/intent" => {
            json!({ "claim_token": 1, "attempt_number": 1, "intent_id": "pi_roles" })
        }
        // The order the manager's claim row took (attempt 1 was handed out).
        "/v1/orders/{order_id}/decline" => json!({ "attempt_id": attempt_id(),
            "attempt_number": 1, "decline_code": "generic_decline", "occurred_at": 1 }),
        "/v1/results" => batch(n as u64 + 1, Vec::new()),
        "/v1/orders/{order_id}/reversals" => {
            json!({ "reversal_key": format!("roles-{n}"), "reason": "roles", "pin": pin })
        }
        "/v1/approvals" => json!({ "action": "reversal", "order_id": "r-1",
            "amount": {"minor": 100, "currency": "EUR"}, "pin": pin }),
        "/v1/day-close/{day}/sign-off" => json!({ "pin": pin, "note": "roles" }),
        "/v1/orders/{order_id}/resolutions" => {
            json!({ "action": "mark_not_charged", "reason": "roles", "pin": pin })
        }
        "/v1/exceptions/acknowledgements" => {
            json!({ "item_id": "flag:999999", "reason": "roles", "pin": pin })
        }
        "/v1/settings/approval-threshold" => {
            json!({ "reversal_approval_above_minor": 10_000 + n, "pin": pin })
        }
        // The manager keeps every action, so the rows after this one are unchanged.
        "/v1/settings/permissions/{role}" => json!({ "pin": pin, "actions": ["charge",
            "charge_other_amount", "reverse", "approve_reversal", "resolve", "sign_off_day", "grant_offline",
            "export_audit"] }),
        "/v1/settings/limits/{operator_id}/{currency}" => {
            json!({ "per_refund_minor": 1_000_000 + n, "pin": pin })
        }
        "/v1/orders/{order_id}/customer-contacted" => json!({ "note": "roles" }),
        "/webhooks/stripe" => json!({ "id": "evt_roles" }),
        "/webhooks/paypal" => json!({ "id": "WH-roles" }),
        _ => return None,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_route_answers_each_caller_as_its_role_allows() {
    for db in [Db::Sqlite, Db::Postgres] {
        let app = &spawn(db).await;
        // Every route has a row, and every row is a route.
        for (method, route) in ROUTES {
            assert!(
                TABLE.iter().any(|(m, r, _, _)| m == method && r == route),
                "{method} {route} has no row in the role table"
            );
        }
        assert_eq!(TABLE.len(), ROUTES.len());

        app.orders(&[
            ("r-1", 100, "EUR"),
            ("Operator", 100, "EUR"),
            ("Manager", 100, "EUR"),
        ])
        .await;
        app.operators(&["otto"]).await;
        app.managers(&["mia"]).await;
        let terminal = app.terminal("t-roles").await;
        app.terminal("t-spare").await;
        let revoked = app.terminal("t-revoked").await;
        let (s, b) = app
            .post(
                "/v1/admin/terminals/t-revoked/revoke",
                ADMIN_TOKEN,
                json!({}),
            )
            .await;
        assert_eq!(s, 204, "{b}");

        let now = paydesk_central::clock::now().unix_ms();
        let mut wrong = Vec::new();
        for (n, (method, route, path, expected)) in TABLE.iter().enumerate() {
            for (caller, want) in CALLERS.iter().zip(expected) {
                let path = path
                    .replace("{caller}", &format!("{caller:?}"))
                    .replace("{from}", &(now - 3_600_000).to_string())
                    .replace("{to}", &now.to_string());
                let mut req = app.client.request(
                    reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap(),
                    app.url(&path),
                );
                // A fresh session for each request, so signing out in one row ends nothing
                // another row uses.
                let session = match caller {
                    Caller::Operator => Some(app.sign_in(&terminal, "otto", OPERATOR_PIN).await),
                    Caller::Manager => Some(app.sign_in(&terminal, "mia", MANAGER_PIN).await),
                    _ => None,
                };
                if let Some((s, grant)) = &session {
                    assert_eq!(*s, 201, "{grant}");
                    req = req.header(
                        paydesk_protocol::SESSION_HEADER,
                        grant["session_token"].as_str().unwrap(),
                    );
                }
                req = match caller {
                    Caller::Nobody => req,
                    Caller::Terminal | Caller::Operator | Caller::Manager => {
                        req.bearer_auth(&terminal)
                    }
                    Caller::Admin => req.bearer_auth(ADMIN_TOKEN),
                    Caller::Revoked => req.bearer_auth(&revoked),
                };
                if *method != "get" {
                    if let Some(b) = body(route, *caller, n * 10 + *caller as usize) {
                        req = req.json(&b);
                    }
                }
                let resp = req.send().await.unwrap();
                let status = resp.status().as_u16();
                let text = resp.text().await.unwrap();
                if status != *want {
                    wrong.push(format!(
                        "{method} {path} as {caller:?}: {status}, expected {want}: {text}"
                    ));
                }
                if *caller == Caller::Revoked
                    && status == 401
                    && path.starts_with("/v1/orders")
                    && !path.ends_with("/import")
                {
                    assert!(
                        text.contains("revoked"),
                        "a revoked token is told so: {text}"
                    );
                }
            }
        }
        assert!(
            wrong.is_empty(),
            "{db:?}: {} wrong answers:\n{}",
            wrong.len(),
            wrong.join("\n")
        );
    }
}

both_backends! {
    /// The statuses of the table, with the codes a client acts on.
    async fn refusals_carry_the_code_a_client_acts_on(app) {
        app.operators(&["otto"]).await;
        let t1 = app.terminal("t1").await;
        let (s, b) = app.get("/v1/flags", &t1).await;
        assert_eq!((s, b["error"]["code"].as_str()), (401, Some("session_required")), "{b}");
        let otto = app.session(&t1, "otto").await;
        let (s, b) = app.send_as(reqwest::Method::GET, "/v1/flags", &t1, &otto, None).await;
        assert_eq!((s, b["error"]["code"].as_str()), (403, Some("forbidden")), "{b}");
        // The list of operators carries ids and roles only.
        let (s, b) = app.get("/v1/operators", &t1).await;
        assert_eq!(s, 200);
        for op in b["operators"].as_array().unwrap() {
            let mut keys: Vec<&str> = op.as_object().unwrap().keys().map(String::as_str).collect();
            keys.sort();
            assert_eq!(keys, ["operator_id", "role"]);
        }
    }
}

/// A manager's second reconciliation report within the interval is refused 429 with
/// Retry-After; a refused range does not count; the admin token is not limited.
#[tokio::test]
async fn reconcile_is_one_report_per_terminal_per_interval() {
    for db in [Db::Sqlite, Db::Postgres] {
        let app = spawn(db).await;
        let now = paydesk_central::clock::now().unix_ms();
        let good = format!("/v1/reconcile?from={}&to={now}", now - 60_000);
        let (s, b) = app
            .manager_get(&format!("/v1/reconcile?from={now}&to={}", now - 1))
            .await;
        assert_eq!(s, 400, "{b}");
        let (s, b) = app.manager_get(&good).await;
        assert_eq!(s, 200, "{b}");
        let resp = {
            let token = app.terminal("t-other").await;
            app.managers(&["mia"]).await;
            let mia = app.session(&token, "mia").await;
            // Another terminal has its own allowance.
            let (s, b) = app
                .send_as(reqwest::Method::GET, &good, &token, &mia, None)
                .await;
            assert_eq!(s, 200, "{b}");
            app.client
                .get(app.url(&good))
                .bearer_auth(&token)
                .header(paydesk_protocol::SESSION_HEADER, &mia)
                .send()
                .await
                .unwrap()
        };
        assert_eq!(resp.status(), 429);
        let retry: u64 = resp.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=60).contains(&retry), "{retry}");
        let b: Value = resp.json().await.unwrap();
        assert_eq!(b["error"]["code"], "rate_limited");
        let (s, b) = app.manager_get(&good).await;
        assert_eq!(s, 429, "{b}");
        for _ in 0..3 {
            let (s, b) = app.get(&good, ADMIN_TOKEN).await;
            assert_eq!(s, 200, "{b}");
        }
        app.stop().await;
    }
}

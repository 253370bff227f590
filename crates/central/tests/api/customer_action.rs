//! When the customer must act (issue 12, item 6), over HTTP against the sandbox gateway: an order
//! whose 3-D Secure card stopped the charge waits for its customer; an operator or a manager (a
//! terminal without a session may not) sends a payment link or records a contact; the link's page
//! leads to the sandbox's authentication page; completing it pays the order only through the
//! gateway's evidence (the sweeper here), after which the link says plainly that it expired.

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
use serde_json::json;

use crate::both_backends;
use crate::helpers::*;

const KEY: &str = "sk_test_paydesk_central_customer_action_key";
const THREE_DS: &str = "pm_card_authenticationRequired";

/// Charges `order` the way a terminal does (off session) and reports the outcome: its 3-D
/// Secure card leaves it waiting for the customer. Returns the intent id.
async fn charge_needing_action(
    app: &TestApp,
    gateway: &StripeGateway,
    t1: &str,
    order: &str,
) -> String {
    let (s, claim) = app.claim(t1, order, "alice").await;
    assert_eq!(s, 201, "{claim}");
    let attempt = AttemptNumber::new(claim["attempt_number"].as_u64().unwrap() as u32).unwrap();
    let order_id = OrderId::new(order).unwrap();
    let CreateResult::Created(view) = gateway
        .create_intent(&CreateIntentRequest {
            amount: Money::parse("25.00 EUR").unwrap(),
            customer: Some("cus_test".to_string()),
            payment_method: THREE_DS.to_string(),
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
        .unwrap()
    else {
        panic!("create failed")
    };
    let (s, b) = app
        .post(
            &format!("/v1/orders/{order}/intent"),
            t1,
            json!({"claim_token": claim["claim_token"], "attempt_number": attempt.get(),
                   "intent_id": view.id.as_str()}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let confirmed = gateway
        .confirm_intent(&ConfirmRequest {
            intent: view.id.clone(),
            off_session: true,
            key: IdempotencyKey::for_confirm(&view.id),
        })
        .await
        .unwrap();
    assert!(
        format!("{confirmed:?}").contains("RequiresAction"),
        "{confirmed:?}"
    );
    let item = result_item(
        &attempt_id(),
        order,
        u64::from(attempt.get()),
        claim["claim_token"].as_u64().unwrap(),
        "requires_action",
        2500,
        "EUR",
        Some(view.id.as_str()),
    );
    let (s, b) = app.post("/v1/results", t1, batch(1, vec![item])).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(app.order(order).await["order"]["status"], "needs_action");
    view.id.as_str().to_string()
}

async fn import(app: &TestApp, order: &str, pm: &str) {
    let (s, b) = app
        .post(
            "/v1/orders/import",
            ADMIN_TOKEN,
            json!({"orders": [{"order_id": order, "amount": {"minor": 2500, "currency": "EUR"},
                   "customer_id": "cus_test", "payment_method_id": pm,
                   "description": "Balance due"}]}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
}

/// A GET of a page with no token or session at all, as the customer's browser does it.
async fn open(url: &str) -> (u16, String) {
    let r = reqwest::get(url).await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// The `href` of the page's "Continue to your bank" button.
fn continue_href(page: &str) -> String {
    let start = page
        .find("id=\"continue\" href=\"")
        .expect("a continue button")
        + 20;
    let rest = &page[start..];
    rest[..rest.find('"').unwrap()].replace("&amp;", "&")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_payment_link_leads_to_authentication_and_the_gateway_pays_the_order() {
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
    let lookup: Arc<dyn IntentLookup> = Arc::new(GatewayLookup::new(gateway.clone()));
    for db in [Db::Sqlite, Db::Postgres] {
        let app = TestApp::spawn(
            db,
            TestOptions {
                gateway: Some(lookup.clone()),
                gateway_actions: Some(Arc::new(GatewayActor::new(gateway.clone()))),
                ..Default::default()
            },
        )
        .await;
        let order = format!("{db:?}-3ds").to_lowercase();
        let plain = format!("{db:?}-plain").to_lowercase();
        import(&app, &order, THREE_DS).await;
        import(&app, &plain, "pm_card_visa").await;
        app.operators(&["alice"]).await;
        app.managers(&["mia"]).await;
        let t1 = app.terminal("t1").await;
        let alice = app.session(&t1, "alice").await;
        let mia = app.session(&t1, "mia").await;
        let intent = charge_needing_action(&app, &gateway, &t1, &order).await;
        let link_path = format!("/v1/orders/{order}/payment-link");

        // A terminal without an operator signed in may not send a link.
        let (s, b) = app.post(&link_path, &t1, json!({})).await;
        assert_eq!(s, 401, "{b}");
        // An order that does not wait for its customer has nothing to send.
        let (s, b) = app
            .send_as(
                Method::POST,
                &format!("/v1/orders/{plain}/payment-link"),
                &t1,
                &alice,
                None,
            )
            .await;
        assert_eq!(s, 409, "{b}");
        assert!(
            b["error"]["message"]
                .as_str()
                .unwrap()
                .contains("not waiting"),
            "{b}"
        );

        // The operator's link; then the manager's, which replaces it.
        let (s, first) = app
            .send_as(Method::POST, &link_path, &t1, &alice, None)
            .await;
        assert_eq!(s, 200, "{first}");
        assert_eq!(first["intent_id"], intent.as_str());
        assert_eq!(first["sent_by"], "alice");
        let first_url = first["url"].as_str().unwrap().to_string();
        assert!(
            first_url.starts_with(&format!("{}/pay/pl_", app.base)),
            "{first_url}"
        );
        let token = first_url.rsplit('/').next().unwrap();
        assert_eq!(token.len(), 3 + 64, "an unguessable token and nothing else");
        let (s, second) = app.send_as(Method::POST, &link_path, &t1, &mia, None).await;
        assert_eq!(s, 200, "{second}");
        let url = second["url"].as_str().unwrap().to_string();
        let (s, page) = open(&first_url).await;
        assert_eq!(s, 410, "{page}");
        assert!(page.contains("A newer link was sent"), "{page}");
        let (s, page) = open(&format!("{}/pay/pl_{}", app.base, "0".repeat(64))).await;
        assert_eq!(s, 404, "{page}");

        // The contact is recorded with who and when; the waits list shows both.
        let (s, contact) = app
            .send_as(
                Method::POST,
                &format!("/v1/orders/{order}/customer-contacted"),
                &t1,
                &alice,
                Some(json!({"note": "called, will confirm tonight"})),
            )
            .await;
        assert_eq!(s, 200, "{contact}");
        let (s, waits) = app
            .send_as(Method::GET, "/v1/customer-waits", &t1, &alice, None)
            .await;
        assert_eq!(s, 200, "{waits}");
        let wait = &waits["items"][0];
        assert_eq!(wait["order_id"], order.as_str());
        assert_eq!(wait["link_sent_by"], "mia");
        assert_eq!(wait["contacted_by"], "alice");
        assert_eq!(wait["contact_note"], "called, will confirm tonight");
        let (s, _) = app.get("/v1/customer-waits", &t1).await;
        assert_eq!(s, 401);

        // The customer's page leads to the sandbox's authentication page; completing it there
        // pays nothing at the central by itself.
        let (s, page) = open(&url).await;
        assert_eq!(s, 200, "{page}");
        assert!(page.contains("25.00 EUR"), "{page}");
        let bank = continue_href(&page);
        assert!(bank.starts_with(&sandbox.base_url), "{bank}");
        let (s, bank_page) = open(&bank).await;
        assert_eq!(s, 200, "{bank_page}");
        let bank_token = bank.split_once("token=").unwrap().1;
        let r = reqwest::Client::new()
            .post(bank.split_once('?').unwrap().0)
            .form(&[("token", bank_token), ("outcome", "complete")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(app.order(&order).await["order"]["status"], "needs_action");

        // The sweeper asks the gateway: paid, verified by the gateway.
        let report = sweep_once(
            &app.store,
            Some(lookup.as_ref()),
            paydesk_central::clock::now(),
        )
        .await
        .unwrap();
        assert_eq!(report.settled_waiting, 1, "{report:?}");
        let paid = app.order(&order).await;
        assert_eq!(paid["order"]["status"], "paid", "{paid}");
        assert_eq!(paid["order"]["paid_intent_id"], intent.as_str());
        let (s, page) = open(&url).await;
        assert_eq!(s, 410, "{page}");
        assert!(page.contains("The order is paid"), "{page}");
        // Paid: no more links or contacts.
        let (s, _) = app
            .send_as(Method::POST, &link_path, &t1, &alice, None)
            .await;
        assert_eq!(s, 409);

        // Audited, with who.
        let (s, audit) = app.manager_get("/v1/audit?kind=customer_link_sent").await;
        assert_eq!(s, 200, "{audit}");
        let who: Vec<&str> = audit["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["operator_id"].as_str().unwrap_or_default())
            .collect();
        assert_eq!(who.len(), 2, "{audit}");
        assert!(who.contains(&"alice") && who.contains(&"mia"), "{audit}");
        app.stop().await;
    }
}

both_backends! {
    async fn a_link_expires_after_its_time_limit(app) {
        // No gateway: the link cannot be made over HTTP, so the row is written as the handler
        // writes it and the time limit is checked on the store.
        import(app, "exp-1", THREE_DS).await;
        app.operators(&["alice"]).await;
        let t1 = app.terminal("t1").await;
        let (s, claim) = app.claim(&t1, "exp-1", "alice").await;
        assert_eq!(s, 201, "{claim}");
        let (s, b) = app.post("/v1/orders/exp-1/intent", &t1, json!({
            "claim_token": claim["claim_token"], "attempt_number": claim["attempt_number"],
            "intent_id": "pi_expiry"})).await;
        assert_eq!(s, 200, "{b}");
        let item = result_item(&attempt_id(), "exp-1", claim["attempt_number"].as_u64().unwrap(),
            claim["claim_token"].as_u64().unwrap(), "requires_action", 2500, "EUR",
            Some("pi_expiry"));
        let (s, b) = app.post("/v1/results", &t1, batch(1, vec![item])).await;
        assert_eq!(s, 200, "{b}");
        let now = paydesk_central::clock::now();
        let ttl = paydesk_central::http_customer_action::PAYMENT_LINK_TTL_MS;
        let order = OrderId::new("exp-1").unwrap();
        let recorded = app.store.record_customer_action(&paydesk_central::store::NewCustomerAction {
            action_id: "a-1", order_id: &order, intent_id: "pi_expiry", kind: "link_sent",
            token_sha256: Some("sha-1"), expires_at: Some(now.plus_ms(ttl)), note: "",
            operator_id: "alice", terminal_id: "t1", session_id: "s", at: now,
        }).await.unwrap();
        assert!(recorded);
        use paydesk_central::store::LinkState;
        let at = |ms: i64| app.store.payment_link("sha-1", now.plus_ms(ms));
        assert_eq!(at(0).await.unwrap().unwrap().state, LinkState::Live);
        assert_eq!(at(ttl - 1).await.unwrap().unwrap().state, LinkState::Live);
        assert_eq!(at(ttl).await.unwrap().unwrap().state, LinkState::TimedOut);
        // Without a gateway the link cannot be made, and says why.
        let alice = app.session(&t1, "alice").await;
        let (s, b) = app.send_as(Method::POST, "/v1/orders/exp-1/payment-link", &t1, &alice, None).await;
        assert_eq!(s, 503, "{b}");
        // Nor for an intent another order waits on: the store refuses it.
        let other = app.store.record_customer_action(&paydesk_central::store::NewCustomerAction {
            action_id: "a-2", order_id: &order, intent_id: "pi_other", kind: "contacted",
            token_sha256: None, expires_at: None, note: "", operator_id: "alice",
            terminal_id: "t1", session_id: "s", at: now,
        }).await.unwrap();
        assert!(!other);
    }
}

//! The sweeper and reconciliation through the real gateway connector (`paydesk-gateway`'s
//! Stripe connector) against the sandbox gateway: a terminal "crashes" after creating and
//! confirming an intent, and the sweeper settles the order from the gateway's evidence.

use std::sync::Arc;

use paydesk_central::gateway_lookup::GatewayLookup;
use paydesk_central::sweeper::{sweep_once, IntentLookup};
use paydesk_core::{
    AttemptId, AttemptNumber, GatewayIntentId, IdempotencyKey, Money, OrderId, TerminalId,
};
use paydesk_gateway::{
    ApiKey, ConfirmRequest, CreateIntentRequest, CreateResult, Gateway, IntentMetadata,
    StripeConfig, StripeGateway,
};
use serde_json::json;

use crate::helpers::*;

const KEY: &str = "sk_test_paydesk_central_sweeper_key";

/// Claims, creates and registers an intent, and confirms it unless `confirm` is false; then
/// reports nothing, as if the terminal had crashed.
async fn charge_then_crash(
    app: &TestApp,
    gateway: &StripeGateway,
    t1: &str,
    order: &str,
    pm: &str,
    confirm: bool,
) -> String {
    let (_, claim) = app.claim(t1, order, "alice").await;
    let attempt = AttemptNumber::new(claim["attempt_number"].as_u64().unwrap() as u32).unwrap();
    let order_id = OrderId::new(order).unwrap();
    let created = gateway
        .create_intent(&CreateIntentRequest {
            amount: Money::parse("12.50 EUR").unwrap(),
            // The order's customer (`TestApp::orders`): a success pays it only if it matches.
            customer: Some("cus_test".to_string()),
            payment_method: pm.to_string(),
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
        gateway
            .confirm_intent(&ConfirmRequest {
                intent: view.id.clone(),
                off_session: true,
                key: IdempotencyKey::for_confirm(&view.id),
            })
            .await
            .unwrap();
    }
    view.id.as_str().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sweeper_settles_crashed_charges_from_the_sandbox() {
    let sandbox = paydesk_sandbox::spawn(paydesk_sandbox::SandboxConfig::default())
        .await
        .unwrap();
    let gateway = Arc::new(
        StripeGateway::new(
            ApiKey::new(KEY).unwrap(),
            StripeConfig {
                base_url: sandbox.base_url.clone(),
                ..Default::default()
            },
        )
        .unwrap(),
    );
    let lookup: Arc<dyn IntentLookup> = Arc::new(GatewayLookup::new(gateway.clone()));
    for db in [Db::Sqlite, Db::Postgres] {
        let app = TestApp::spawn(
            db,
            TestOptions {
                gateway: Some(lookup.clone()),
                ..Default::default()
            },
        )
        .await;
        let prefix = format!("{db:?}").to_lowercase();
        let ok = format!("{prefix}-ok");
        let declined = format!("{prefix}-declined");
        let pending = format!("{prefix}-pending");
        app.orders(&[
            (&ok, 1250, "EUR"),
            (&declined, 1250, "EUR"),
            (&pending, 1250, "EUR"),
        ])
        .await;
        app.operators(&["alice"]).await;
        let t1 = app.terminal("t1").await;
        let started = paydesk_central::clock::now();
        let ok_intent = charge_then_crash(&app, &gateway, &t1, &ok, "pm_card_visa", true).await;
        charge_then_crash(
            &app,
            &gateway,
            &t1,
            &declined,
            "pm_card_chargeDeclined",
            true,
        )
        .await;
        let pending_intent =
            charge_then_crash(&app, &gateway, &t1, &pending, "pm_card_visa", false).await;
        let report = sweep_once(
            &app.store,
            Some(lookup.as_ref()),
            paydesk_central::clock::now().plus_ms(61_000), // a minute later, without sleeping
        )
        .await
        .unwrap();
        assert_eq!(
            (report.resolved, report.unresolved),
            (2, 1),
            "{db:?}: {report:?}"
        );
        let o = app.order(&ok).await;
        assert_eq!(o["order"]["status"], "paid");
        assert_eq!(o["order"]["paid_intent_id"], ok_intent.as_str());
        assert_eq!(app.order(&declined).await["order"]["status"], "failed");
        let p = app.order(&pending).await;
        assert_eq!(p["order"]["status"], "unpaid");
        assert_eq!(
            p["order"]["claim"]["terminal_id"], "t1",
            "a confirmable intent is never released blindly"
        );
        let (_, list) = app.get("/v1/unresolved", ADMIN_TOKEN).await;
        assert_eq!(list["items"][0]["intent_id"], pending_intent.as_str());
        // The gateway view agrees with the central for this run's orders.
        let intents = lookup
            .intents_between(
                started.plus_ms(-1000),
                paydesk_central::clock::now().plus_ms(1000),
            )
            .await
            .unwrap();
        let ok_id = GatewayIntentId::new(ok_intent.clone()).unwrap();
        let mine: Vec<_> = intents.iter().filter(|i| i.intent_id == ok_id).collect();
        assert_eq!(mine.len(), 1, "{intents:?}");
        assert_eq!(
            mine[0].order_id.as_ref().map(|o| o.as_str()),
            Some(ok.as_str())
        );
        app.stop().await;
    }
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sandbox_webhooks_duplicated_and_reordered_mark_the_order_paid_once() {
    for db in [Db::Sqlite, Db::Postgres] {
        let app = TestApp::spawn(db, TestOptions::default()).await;
        let sandbox = paydesk_sandbox::spawn(paydesk_sandbox::SandboxConfig {
            webhook: paydesk_sandbox::WebhookSettings {
                url: Some(app.url("/webhooks/stripe")),
                secret: WEBHOOK_SECRET.to_string(),
                duplicate: true,
                reorder: true,
            },
            ..Default::default()
        })
        .await
        .unwrap();
        let gateway = StripeGateway::new(
            ApiKey::new(KEY).unwrap(),
            StripeConfig {
                base_url: sandbox.base_url.clone(),
                ..Default::default()
            },
        )
        .unwrap();
        app.orders(&[("wh-1", 1250, "EUR"), ("wh-2", 1250, "EUR")])
            .await;
        app.operators(&["alice"]).await;
        let t1 = app.terminal("t1").await;
        let intent = charge_then_crash(&app, &gateway, &t1, "wh-1", "pm_card_visa", true).await;
        charge_then_crash(&app, &gateway, &t1, "wh-2", "pm_card_chargeDeclined", true).await;
        let mut paid = false;
        for _ in 0..100 {
            if app.order("wh-1").await["order"]["status"] == "paid" {
                paid = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert!(paid, "{db:?}: the webhook marked the order paid");
        let o = app.order("wh-1").await;
        assert_eq!(o["order"]["paid_intent_id"], intent.as_str());
        // The declined order is decided by its holder's result, not by the webhook.
        assert_eq!(app.order("wh-2").await["order"]["status"], "unpaid");
        // Let the duplicate deliveries arrive: each is answered 2xx, stored once (the event id is
        // the primary key), and nothing contradicts the central.
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        let stored = app.store.webhook_event_count().await.unwrap();
        let (_, flags) = app.get("/v1/flags", ADMIN_TOKEN).await;
        assert!(stored >= 2, "{stored}");
        assert_eq!(flags["flags"].as_array().unwrap().len(), 0, "{flags}");
        sandbox.shutdown().await;
        app.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sandbox_refund_webhooks_duplicated_and_reordered_add_up_by_refund_id() {
    use paydesk_gateway::RefundRequest;
    for db in [Db::Sqlite, Db::Postgres] {
        let app = TestApp::spawn(db, TestOptions::default()).await;
        let sandbox = paydesk_sandbox::spawn(paydesk_sandbox::SandboxConfig {
            webhook: paydesk_sandbox::WebhookSettings {
                url: Some(app.url("/webhooks/stripe")),
                secret: WEBHOOK_SECRET.to_string(),
                duplicate: true,
                reorder: true,
            },
            ..Default::default()
        })
        .await
        .unwrap();
        let gateway = StripeGateway::new(
            ApiKey::new(KEY).unwrap(),
            StripeConfig {
                base_url: sandbox.base_url.clone(),
                ..Default::default()
            },
        )
        .unwrap();
        app.orders(&[("rf-1", 1250, "EUR")]).await;
        app.operators(&["alice"]).await;
        let t1 = app.terminal("t1").await;
        let intent = charge_then_crash(&app, &gateway, &t1, "rf-1", "pm_card_visa", true).await;
        let intent = GatewayIntentId::new(intent).unwrap();
        for (n, minor) in [(1, 300), (2, 200)] {
            gateway
                .refund(&RefundRequest {
                    intent: intent.clone(),
                    amount: Some(
                        Money::new(minor, Money::parse("1.00 EUR").unwrap().currency()).unwrap(),
                    ),
                    reason: None,
                    metadata: Default::default(),
                    key: IdempotencyKey::for_refund(&intent, AttemptNumber::new(n).unwrap()),
                })
                .await
                .unwrap();
        }
        let mut seen = 0;
        for _ in 0..100 {
            seen = app.order("rf-1").await["order"]["refunded_minor"]
                .as_i64()
                .unwrap();
            if seen == 500 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert_eq!(seen, 500, "{db:?}");
        // Late, duplicated and reordered deliveries never move it backwards.
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        let o = app.order("rf-1").await;
        assert_eq!(o["order"]["refunded_minor"], 500, "{db:?}: {o}");
        assert_eq!(o["order"]["status"], "paid");
        sandbox.shutdown().await;
        app.stop().await;
    }
}

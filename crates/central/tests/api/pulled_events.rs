//! A refund made in the gateway's dashboard reaches the manager's inbox without any webhook:
//! the sweeper pulls the gateway's refund events and applies them through the webhooks' own
//! path (stored once by event id). Against the real sandbox, on SQLite and PostgreSQL.

use std::collections::BTreeMap;
use std::sync::Arc;

use paydesk_central::gateway_lookup::GatewayLookup;
use paydesk_central::sweeper::sweep_once;
use paydesk_core::{
    AttemptId, AttemptNumber, Currency, IdempotencyKey, Money, OrderId, TerminalId,
};
use paydesk_gateway::{
    ApiKey, ConfirmRequest, ConfirmResult, CreateIntentRequest, CreateResult, Gateway,
    IntentMetadata, RefundRequest, StripeConfig, StripeGateway,
};
use serde_json::json;

use crate::helpers::*;

const KEY: &str = "sk_test_paydesk_central_pulled_events";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_refund_made_at_the_gateway_reaches_the_inbox_with_no_webhook() {
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
    let lookup = GatewayLookup::new(gateway.clone());
    for db in [Db::Sqlite, Db::Postgres] {
        // No webhook secret and no gateway for the server's own sweeper: only the pass below
        // can bring the refund in.
        let app = TestApp::spawn(db, TestOptions::default()).await;
        app.operators(&["alice"]).await;
        let t1 = app.terminal("t1").await;
        let order = format!("pull-1-{db:?}");
        app.orders(&[(order.as_str(), 1250, "EUR")]).await;
        let (s, claim) = app.claim(&t1, &order, "alice").await;
        assert_eq!(s, 201, "{claim}");
        let order_id = OrderId::new(&order).unwrap();
        let number = AttemptNumber::new(1).unwrap();
        let created = gateway
            .create_intent(&CreateIntentRequest {
                amount: Money::new(1250, Currency::from_code("EUR").unwrap()).unwrap(),
                customer: Some("cus_test".to_string()),
                payment_method: "pm_card_visa".to_string(),
                off_session: true,
                metadata: IntentMetadata {
                    order: order_id.clone(),
                    attempt: AttemptId::parse(&attempt_id()).unwrap(),
                    attempt_number: number,
                    terminal: TerminalId::new("t1").unwrap(),
                },
                key: IdempotencyKey::for_create(&order_id, number),
            })
            .await
            .unwrap();
        let CreateResult::Created(view) = created else {
            panic!("create: {created:?}")
        };
        let intent = view.id;
        let (s, b) = app
            .post(
                &format!("/v1/orders/{order}/intent"),
                &t1,
                json!({"claim_token": claim["claim_token"],
                       "attempt_number": claim["attempt_number"], "intent_id": intent.as_str()}),
            )
            .await;
        assert_eq!(s, 200, "{b}");
        let confirmed = gateway
            .confirm_intent(&ConfirmRequest {
                intent: intent.clone(),
                off_session: true,
                key: IdempotencyKey::for_confirm(&intent),
            })
            .await
            .unwrap();
        assert!(
            matches!(confirmed, ConfirmResult::Succeeded { .. }),
            "{confirmed:?}"
        );
        // Someone refunds 5.00 EUR in the gateway's dashboard.
        gateway
            .refund(&RefundRequest {
                intent: intent.clone(),
                amount: Some(Money::new(500, Currency::from_code("EUR").unwrap()).unwrap()),
                reason: None,
                metadata: BTreeMap::new(),
                key: IdempotencyKey::for_refund(&intent, number),
            })
            .await
            .unwrap();
        let outside = |page: &serde_json::Value| {
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|i| i["kind"] == "outside_refund" && i["order_id"] == order.as_str())
                .map(|i| i["summary"].as_str().unwrap_or_default().to_string())
                .collect::<Vec<_>>()
        };
        let (_, before) = app.manager_get("/v1/exceptions?limit=500").await;
        assert!(
            outside(&before).is_empty(),
            "no webhook, no pass yet: {before}"
        );

        let report = sweep_once(&app.store, Some(&lookup), paydesk_central::clock::now())
            .await
            .unwrap();
        assert!(report.refund_events >= 1, "{report:?}");
        let (_, after) = app.manager_get("/v1/exceptions?limit=500").await;
        let found = outside(&after);
        assert_eq!(found.len(), 1, "{after}");
        assert!(found[0].contains("5.00 EUR"), "{found:?}");

        // The next pass finds the same events already stored: nothing new, nothing doubled.
        let again = sweep_once(&app.store, Some(&lookup), paydesk_central::clock::now())
            .await
            .unwrap();
        assert_eq!(again.refund_events, 0, "{again:?}");
        let (_, still) = app.manager_get("/v1/exceptions?limit=500").await;
        assert_eq!(outside(&still).len(), 1, "{still}");
    }
}

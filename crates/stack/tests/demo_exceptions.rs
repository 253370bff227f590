//! The demo gives a manager something to do (issue 11, "Done when"): a fresh stack's exception
//! inbox lists a refund made outside Paydesk (through the sandbox's signed webhooks) and a charge
//! the central could not verify (through the sweeper), the second demo manager can sign in, and a
//! restart over the same data directory adds nothing.

use std::sync::Arc;
use std::time::{Duration, Instant};

use paydesk_core::{GatewayIntentId, IntentStatus};
use paydesk_gateway::{ApiKey, Gateway, StripeConfig, StripeGateway};
use paydesk_protocol::OrderDetail;
use paydesk_stack::{
    start, Stack, StackConfig, DEMO_EXCEPTIONS_FILE, DEMO_GATEWAY_KEY, DEMO_MANAGER,
    DEMO_MANAGER_2, DEMO_MANAGER_2_PIN, DEMO_MANAGER_PIN, OUTSIDE_REFUND_ORDER, UNVERIFIED_ORDER,
};
use paydesk_terminal::{MemorySecretStore, SecretStore, TERMINAL_TOKEN};
use serde_json::{json, Value};

/// A manager's session token at this stack's terminal.
async fn sign_in(stack: &Stack, token: &str, who: &str, pin: &str) -> String {
    let resp = reqwest::Client::new()
        .post(format!("{}/v1/sessions", stack.central_url))
        .bearer_auth(token)
        .json(&json!({ "operator_id": who, "pin": pin }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 201, "sign-in of {who}");
    let body: Value = resp.json().await.unwrap();
    body["session_token"].as_str().unwrap().to_string()
}

/// The inbox's items as (kind, order id), sorted.
async fn inbox(stack: &Stack, token: &str, session: &str) -> Vec<(String, String)> {
    let resp = reqwest::Client::new()
        .get(format!("{}/v1/exceptions?limit=500", stack.central_url))
        .bearer_auth(token)
        .header(paydesk_protocol::SESSION_HEADER, session)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let body: Value = resp.json().await.unwrap();
    let mut items: Vec<(String, String)> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["kind"].as_str().unwrap().to_string(),
                i["order_id"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    items.sort();
    items
}

fn has(items: &[(String, String)], kind: &str, order: &str) -> bool {
    items.iter().any(|(k, o)| k == kind && o == order)
}

async fn detail(stack: &Stack, order: &str) -> OrderDetail {
    stack
        .central_client()
        .unwrap()
        .get_json(&format!("/v1/orders/{order}"))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_demo_has_exceptions_once_and_a_second_manager() {
    let dir = tempfile::tempdir().unwrap();
    let secrets = Arc::new(MemorySecretStore::new());
    let config = StackConfig::new(dir.path(), secrets.clone()).with_demo_exceptions();
    let stack = start(config.clone()).await.unwrap();
    assert!(dir.path().join(DEMO_EXCEPTIONS_FILE).exists());
    let token = secrets.get(TERMINAL_TOKEN).unwrap().unwrap();
    let token = token.expose().to_string();
    let session = sign_in(&stack, &token, DEMO_MANAGER, DEMO_MANAGER_PIN).await;
    // The second manager exists with their PIN.
    sign_in(&stack, &token, DEMO_MANAGER_2, DEMO_MANAGER_2_PIN).await;

    // The webhook arrives within moments; the sweeper passes every five seconds.
    let deadline = Instant::now() + Duration::from_secs(30);
    let items = loop {
        let items = inbox(&stack, &token, &session).await;
        let refund = has(&items, "outside_refund", OUTSIDE_REFUND_ORDER);
        let review = has(&items, "needs_review", UNVERIFIED_ORDER);
        if refund && review {
            break items;
        }
        assert!(
            Instant::now() < deadline,
            "the demo's exceptions did not appear: {items:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    // The operator's queue is the twenty demo orders and the four PayPal ones, as without the
    // exceptions.
    let queue: paydesk_protocol::OrderPage = stack
        .central_client()
        .unwrap()
        .get_json("/v1/orders?status=unpaid")
        .await
        .unwrap();
    assert_eq!(queue.orders.len(), 24, "{queue:?}");
    assert!(queue
        .orders
        .iter()
        .all(|o| o.order_id.as_str() != UNVERIFIED_ORDER
            && o.order_id.as_str() != OUTSIDE_REFUND_ORDER));
    // The operator's happy path is untouched.
    for order in ["demo-1001", "demo-1004"] {
        assert!(
            items.iter().all(|(_, o)| o != order),
            "{order} is in the inbox: {items:?}"
        );
        assert!(detail(&stack, order).await.intents.is_empty());
    }

    // The unverified charge: one intent, succeeded at the gateway for this order and amount on
    // another card than the saved one — what "mark charged" needs.
    let unverified = detail(&stack, UNVERIFIED_ORDER).await;
    assert_eq!(unverified.intents.len(), 1, "{unverified:?}");
    let gateway = StripeGateway::new(
        ApiKey::new(DEMO_GATEWAY_KEY).unwrap(),
        StripeConfig::with_base_url(stack.gateway_url.clone()),
    )
    .unwrap();
    let intent: GatewayIntentId = unverified.intents[0].intent_id.clone();
    let view = gateway.retrieve_intent(&intent).await.unwrap();
    assert_eq!(view.status, IntentStatus::Succeeded, "{view:?}");
    assert_eq!(view.amount, unverified.order.amount);
    assert_eq!(view.meta("order_id"), Some(UNVERIFIED_ORDER));
    assert_eq!(view.payment_method.as_deref(), Some("pm_card_mastercard"));

    // A restart over the same directory adds nothing (after a sweeper pass, so the sweeper's
    // own flag of the unverified charge is there before and after).
    tokio::time::sleep(Duration::from_secs(6)).await;
    let before = inbox(&stack, &token, &session).await;
    stack.shutdown().await;
    let stack = start(config).await.unwrap();
    let session = sign_in(&stack, &token, DEMO_MANAGER, DEMO_MANAGER_PIN).await;
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(inbox(&stack, &token, &session).await, before);
    assert_eq!(detail(&stack, UNVERIFIED_ORDER).await.intents.len(), 1);
    assert_eq!(detail(&stack, OUTSIDE_REFUND_ORDER).await.intents.len(), 0);
    stack.shutdown().await;
}

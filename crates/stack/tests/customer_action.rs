//! When the customer must act, end to end on the embedded stack (issue 12, item 6): the demo
//! order whose card needs 3-D Secure is charged through the engine (off session: no money moves,
//! the order waits for its customer), the operator sends a payment link at the central, the
//! customer opens it, follows it to the sandbox's authentication page and completes it there, and
//! the central learns it the honest way — the sandbox's signed webhook (or the central's sweeper
//! asking the gateway), never the terminal's word. Then: the order is paid by exactly that intent
//! (I1: one success, I2: the central agrees with the gateway, I3: not stuck) and the link says it
//! expired.

use std::sync::Arc;
use std::time::Duration;

use paydesk_core::{AttemptState, OperatorId, OrderId, Pin};
use paydesk_engine::{ChargeRequest, Progress};
use paydesk_protocol::customer::PaymentLink;
use paydesk_protocol::{OrderDetail, OrderStatus};
use paydesk_stack::{
    start, SandboxAdmin, Stack, StackConfig, DEMO_OPERATOR, DEMO_OPERATOR_PIN, JOURNAL_FILE,
};
use paydesk_terminal::MemorySecretStore;
use serde_json::Value;

/// The demo order whose card asks for 3-D Secure.
const ORDER: &str = "demo-1005";
/// How long the webhook (or the sweeper) may take to tell the central.
const PAID_WAIT_MS_MAX: u64 = 30_000;

fn quiet(_: Progress) {}

async fn order(stack: &Stack, id: &str) -> OrderDetail {
    stack
        .central_client()
        .unwrap()
        .get_json(&format!("/v1/orders/{id}"))
        .await
        .unwrap()
}

/// The `href` of the payment page's "Continue to your bank" button.
fn continue_href(page: &str) -> String {
    let start = page
        .find("id=\"continue\" href=\"")
        .expect("a continue button")
        + 20;
    let rest = &page[start..];
    rest[..rest.find('"').unwrap()].replace("&amp;", "&")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_3ds_order_is_paid_through_its_payment_link_and_the_gateways_word() {
    let dir = tempfile::tempdir().unwrap();
    let mut config =
        StackConfig::new(dir.path(), Arc::new(MemorySecretStore::new())).with_demo_exceptions();
    config.sandbox_admin = SandboxAdmin::LoopbackOnly;
    let stack = start(config).await.unwrap();
    let terminal = stack
        .terminal(&dir.path().join(JOURNAL_FILE))
        .await
        .unwrap();
    let operator = OperatorId::new(DEMO_OPERATOR).unwrap();
    terminal
        .sign_in(&operator, Pin::parse(DEMO_OPERATOR_PIN).unwrap())
        .await
        .unwrap();
    let engine = terminal.engine();
    let amount = order(&stack, ORDER).await.order.amount;
    let report = engine
        .charge(
            &ChargeRequest {
                order: OrderId::new(ORDER).unwrap(),
                operator: operator.clone(),
                expected_amount: amount,
            },
            &quiet,
        )
        .await
        .unwrap();
    assert_eq!(report.state(), AttemptState::RequiresAction);
    engine.relay_once().await.unwrap();
    assert_eq!(
        order(&stack, ORDER).await.order.status,
        OrderStatus::NeedsAction
    );

    let link: PaymentLink = terminal
        .central()
        .post_in_session(
            &format!("/v1/orders/{ORDER}/payment-link"),
            &serde_json::json!({}),
        )
        .await
        .unwrap();
    assert!(
        link.url
            .starts_with(&format!("{}/pay/pl_", stack.central_url)),
        "{}",
        link.url
    );

    // The customer: the link's page, the bank's page, "Complete authentication".
    let page = reqwest::get(&link.url).await.unwrap().text().await.unwrap();
    let bank = continue_href(&page);
    assert!(bank.starts_with(&stack.gateway_url), "{bank}");
    let bank_page = reqwest::get(&bank).await.unwrap();
    assert_eq!(bank_page.status(), 200);
    let token = bank.split_once("token=").unwrap().1;
    let done = reqwest::Client::new()
        .post(bank.split_once('?').unwrap().0)
        .form(&[("token", token), ("outcome", "complete")])
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 200);

    // The central hears it from the gateway.
    let deadline = tokio::time::Instant::now() + Duration::from_millis(PAID_WAIT_MS_MAX);
    let paid = loop {
        let detail = order(&stack, ORDER).await;
        if detail.order.status == OrderStatus::Paid {
            break detail;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not paid: {detail:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(
        paid.order.paid_intent_id.as_ref().map(|i| i.as_str()),
        Some(link.intent_id.as_str())
    );
    // I1/I2: exactly one success for the order at the gateway, of the order's amount, the one
    // the central names.
    let ledger: Value = reqwest::get(format!("{}/admin/ledger", stack.gateway_url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let successes: Vec<&Value> = ledger["intents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["metadata"]["order_id"] == ORDER && i["status"] == "succeeded")
        .collect();
    assert_eq!(successes.len(), 1, "{ledger}");
    assert_eq!(successes[0]["id"], link.intent_id.as_str());
    assert_eq!(successes[0]["succeeded_count"], 1);
    assert_eq!(successes[0]["amount"], amount.minor());
    // The link says so plainly now.
    let expired = reqwest::get(&link.url).await.unwrap();
    assert_eq!(expired.status(), 410);
    assert!(expired.text().await.unwrap().contains("The order is paid"));
    stack.shutdown().await;
}

/// Charging the order again while it waits makes no second live payment: the protocol's takeover
/// cancels the waiting intent (journaled first) before it creates the next one, and the link,
/// whose intent is gone, says the payment no longer waits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn charging_again_while_waiting_cancels_the_waiting_payment_and_its_link() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = StackConfig::new(dir.path(), Arc::new(MemorySecretStore::new()));
    config.sandbox_admin = SandboxAdmin::LoopbackOnly;
    let stack = start(config).await.unwrap();
    let terminal = stack
        .terminal(&dir.path().join(JOURNAL_FILE))
        .await
        .unwrap();
    let operator = OperatorId::new(DEMO_OPERATOR).unwrap();
    terminal
        .sign_in(&operator, Pin::parse(DEMO_OPERATOR_PIN).unwrap())
        .await
        .unwrap();
    let engine = terminal.engine();
    let amount = order(&stack, ORDER).await.order.amount;
    let request = ChargeRequest {
        order: OrderId::new(ORDER).unwrap(),
        operator: operator.clone(),
        expected_amount: amount,
    };
    let first = engine.charge(&request, &quiet).await.unwrap();
    assert_eq!(first.state(), AttemptState::RequiresAction);
    engine.relay_once().await.unwrap();
    let link: PaymentLink = terminal
        .central()
        .post_in_session(
            &format!("/v1/orders/{ORDER}/payment-link"),
            &serde_json::json!({}),
        )
        .await
        .unwrap();

    let second = engine.charge(&request, &quiet).await.unwrap();
    assert_eq!(second.state(), AttemptState::RequiresAction);
    engine.relay_once().await.unwrap();
    let ledger: Value = reqwest::get(format!("{}/admin/ledger", stack.gateway_url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let intents: Vec<&Value> = ledger["intents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["metadata"]["order_id"] == ORDER)
        .collect();
    assert_eq!(intents.len(), 2, "{ledger}");
    let waiting = intents
        .iter()
        .find(|i| i["id"] == link.intent_id.as_str())
        .unwrap();
    assert_eq!(waiting["status"], "canceled", "{ledger}");
    assert!(
        intents.iter().all(|i| i["succeeded_count"] == 0),
        "{ledger}"
    );
    let page = reqwest::get(&link.url).await.unwrap();
    assert_eq!(page.status(), 410);
    assert!(page.text().await.unwrap().contains("no longer waiting"));
    stack.shutdown().await;
}

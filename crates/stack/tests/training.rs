//! Training mode's controls over the embedded stack (issue 12, item 9), through the terminal the
//! desktop opens over it: a lost response ends "outcome unknown" and, once disarmed, recovery
//! finds the one payment; a decline and 3-D Secure apply to the charge they were armed for and
//! are used up by it; the central stops (its port refuses, charging is blocked offline by
//! default) and really comes back on the same URL with the same data.

use std::sync::Arc;

use paydesk_core::{AttemptState, Money, OperatorId, OrderId, Pin};
use paydesk_engine::{ChargeRequest, Progress, RelayOutcome};
use paydesk_protocol::{OrderDetail, OrderStatus};
use paydesk_stack::{
    start, GatewayRehearsal, SandboxAdmin, Stack, StackConfig, DEMO_OPERATOR, DEMO_OPERATOR_PIN,
    JOURNAL_FILE,
};
use paydesk_terminal::{MemorySecretStore, Terminal};
use serde_json::Value;

fn quiet(_: Progress) {}

async fn order(stack: &Stack, id: &str) -> OrderDetail {
    stack
        .central_client()
        .unwrap()
        .get_json(&format!("/v1/orders/{id}"))
        .await
        .unwrap()
}

/// The sandbox's ground truth for `order`: its intents (status, successes).
async fn intents_of(stack: &Stack, order: &str) -> Vec<Value> {
    let ledger: Value = reqwest::get(format!("{}/admin/ledger", stack.gateway_url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    ledger["intents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["metadata"]["order_id"] == order)
        .cloned()
        .collect()
}

async fn charge(
    terminal: &Terminal,
    order: &str,
    amount: &str,
) -> Result<paydesk_engine::ChargeReport, paydesk_terminal::ChargeError> {
    terminal
        .charge(
            &ChargeRequest {
                order: OrderId::new(order).unwrap(),
                operator: OperatorId::new(DEMO_OPERATOR).unwrap(),
                expected_amount: Money::parse(amount).unwrap(),
            },
            &quiet,
        )
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rehearsals_apply_to_the_next_charge_and_the_central_comes_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = StackConfig::new(dir.path(), Arc::new(MemorySecretStore::new()));
    // Only so this test can read the sandbox's ledger; training itself needs no admin route.
    config.sandbox_admin = SandboxAdmin::LoopbackOnly;
    let stack = start(config).await.unwrap();
    let training = stack.training();
    let terminal = stack
        .terminal(&dir.path().join(JOURNAL_FILE))
        .await
        .unwrap();
    terminal
        .sign_in(
            &OperatorId::new(DEMO_OPERATOR).unwrap(),
            Pin::parse(DEMO_OPERATOR_PIN).unwrap(),
        )
        .await
        .unwrap();

    // A lost response: charged at the gateway, the answer lost, the outcome unknown.
    training.arm(GatewayRehearsal::LostResponse);
    let report = charge(&terminal, "demo-1002", "45.50 EUR").await.unwrap();
    assert!(report.pending.is_some(), "{report:?}");
    assert_ne!(report.state(), AttemptState::Succeeded);
    let intents = intents_of(&stack, "demo-1002").await;
    assert_eq!(intents.len(), 1, "{intents:?}");
    assert_eq!(
        intents[0]["status"], "succeeded",
        "the customer was charged"
    );
    // The rehearsal ends with the charge: disarmed, "Check status" (a recovery pass) finds it.
    training.disarm();
    assert!(training.armed().is_empty());
    let recovered = terminal.recover(&quiet).await;
    assert!(recovered.errors.is_empty(), "{recovered:?}");
    let attempt = terminal
        .engine()
        .with_journal(move |j| j.attempt(&report.attempt.id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(attempt.state, AttemptState::Succeeded);
    let intents = intents_of(&stack, "demo-1002").await;
    assert_eq!(intents.len(), 1, "no second charge: {intents:?}");
    assert_eq!(intents[0]["succeeded_count"], 1, "charged once");

    // A decline, for the next charge only: a visa that would succeed is declined once…
    training.arm(GatewayRehearsal::Decline);
    let declined = charge(&terminal, "demo-1006", "73.00 EUR").await.unwrap();
    assert_eq!(declined.state(), AttemptState::Declined, "{declined:?}");
    assert!(training.armed().is_empty(), "used up by that charge");
    // …and 3-D Secure likewise: the charge needs the customer.
    training.arm(GatewayRehearsal::ThreeDSecure);
    let needs = charge(&terminal, "demo-1001", "129.00 EUR").await.unwrap();
    assert_eq!(needs.state(), AttemptState::RequiresAction, "{needs:?}");
    assert!(training.armed().is_empty());

    // The central down: its port refuses, the terminal is offline, charging is blocked.
    assert!(training.central_running().await);
    training.stop_central().await;
    training.stop_central().await; // twice is harmless
    assert!(!training.central_running().await);
    assert!(reqwest::get(format!("{}/health", stack.central_url))
        .await
        .is_err());
    assert!(!terminal.central_online().await);
    let blocked = charge(&terminal, "demo-1007", "1500.00 EUR").await;
    let blocked = blocked.expect_err("offline charging is blocked by default");
    assert!(blocked.nothing_charged(), "{blocked}");
    assert!(intents_of(&stack, "demo-1007").await.is_empty());

    // It comes back on the same URL, with the same orders and the same session.
    training.start_central().await.unwrap();
    training.start_central().await.unwrap(); // twice is harmless
    assert!(training.central_running().await);
    assert!(terminal.central_online().await);
    while let RelayOutcome::Sent { .. } = terminal.engine().relay_once().await.unwrap() {}
    assert_eq!(
        order(&stack, "demo-1002").await.order.status,
        OrderStatus::Paid
    );
    let queue = terminal.queue().await.unwrap();
    assert!(!queue.offline);
    assert!(queue
        .orders
        .iter()
        .any(|o| o.order_id.as_str() == "demo-1007"));

    // Shut down with the central stopped: nothing to stop twice, and no restart afterwards.
    training.stop_central().await;
    drop(terminal);
    stack.shutdown().await;
    assert!(training.start_central().await.is_err());
}

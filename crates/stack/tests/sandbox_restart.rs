//! The embedded default survives its own restart in the middle of a charge (issue 15): the
//! sandbox executes the confirm but the terminal never hears the answer, the stack stops with the
//! attempt unresolved, and after a restart over the same data directory recovery asks the
//! sandbox, finds the intent succeeded, and the order ends paid — not in a manager's review.

use std::sync::Arc;

use paydesk_core::{AttemptState, Money, OperatorId, OrderId, Pin};
use paydesk_engine::{ChargeRequest, Progress, RelayOutcome};
use paydesk_protocol::{OrderDetail, OrderStatus};
use paydesk_stack::{
    start, SandboxAdmin, Stack, StackConfig, DEMO_GATEWAY_KEY, DEMO_OPERATOR, DEMO_OPERATOR_PIN,
    JOURNAL_FILE, SANDBOX_STATE_DIR,
};
use paydesk_terminal::{read_stack_file, MemorySecretStore};
use serde_json::{json, Value};

fn quiet(_: Progress) {}

async fn order(stack: &Stack, id: &str) -> OrderDetail {
    stack
        .central_client()
        .unwrap()
        .get_json(&format!("/v1/orders/{id}"))
        .await
        .unwrap()
}

async fn admin(stack: &Stack, path: &str, body: Option<Value>) -> Value {
    let client = reqwest::Client::new();
    let url = format!("{}{path}", stack.gateway_url);
    let request = match body {
        Some(body) => client.post(url).json(&body),
        None => client.get(url),
    };
    let response = request.send().await.unwrap();
    assert!(
        response.status().is_success(),
        "{path}: {}",
        response.status()
    );
    response.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_in_the_middle_of_a_charge_ends_with_the_order_paid_not_in_review() {
    let dir = tempfile::tempdir().unwrap();
    let secrets = Arc::new(MemorySecretStore::new());
    let mut config = StackConfig::new(dir.path(), secrets);
    config.sandbox_admin = SandboxAdmin::LoopbackOnly;
    let journal = dir.path().join(JOURNAL_FILE);
    let order_id = OrderId::new("demo-1001").unwrap();
    let operator = OperatorId::new(DEMO_OPERATOR).unwrap();

    let stack = start(config.clone()).await.unwrap();
    let terminal = stack.terminal(&journal).await.unwrap();
    terminal
        .sign_in(&operator, Pin::parse(DEMO_OPERATOR_PIN).unwrap())
        .await
        .unwrap();
    // The sandbox charges the card but every answer about it is lost on the way back, as when
    // the stack is stopped while the confirm is being answered.
    admin(
        &stack,
        "/admin/faults",
        Some(json!({ "specs": [
            "confirm:drop_after_execute:50",
            "retrieve:drop_before_execute:50",
            "search:drop_before_execute:50",
        ]})),
    )
    .await;
    let report = terminal
        .engine()
        .charge(
            &ChargeRequest {
                order: order_id.clone(),
                operator: operator.clone(),
                expected_amount: Money::parse("129.00 EUR").unwrap(),
            },
            &quiet,
        )
        .await
        .unwrap();
    assert!(
        !report.state().is_terminal(),
        "the terminal cannot know the outcome: {report:?}"
    );
    assert!(report.pending.is_some(), "{report:?}");
    let attempt_id = report.attempt.id;
    let ledger = admin(&stack, "/admin/ledger", None).await;
    let intents = ledger["intents"].as_array().unwrap();
    assert_eq!(intents.len(), 1, "{ledger}");
    assert_eq!(intents[0]["status"], "succeeded", "the gateway did charge");
    let intent_id = intents[0]["id"].as_str().unwrap().to_string();
    let held = order(&stack, "demo-1001").await.order;
    assert_eq!(held.status, OrderStatus::Unpaid);
    assert!(
        held.claim.is_some(),
        "the interrupted charge holds the order"
    );

    // The stack stops (Ctrl-C on `paydesk stack`) with the attempt open; the faults were only
    // configuration of that run and are gone with it.
    drop(terminal);
    stack.shutdown().await;
    let state = std::fs::read_to_string(
        dir.path()
            .join(SANDBOX_STATE_DIR)
            .join(paydesk_sandbox::persist::STATE_FILE),
    )
    .unwrap();
    assert!(state.contains(&intent_id));
    assert!(
        !state.contains(DEMO_GATEWAY_KEY),
        "no key in the sandbox's state"
    );

    let again = start(config).await.unwrap();
    // Whatever port the sandbox got this time, stack.json names it: nothing kept the old one.
    assert_eq!(
        read_stack_file(dir.path()).unwrap().gateway_url,
        again.gateway_url
    );
    let terminal = again.terminal(&journal).await.unwrap();
    let engine = terminal.engine();
    let recovered = engine.recover(&quiet).await;
    assert!(recovered.errors.is_empty(), "{recovered:?}");
    assert_eq!(recovered.needs_review, 0, "{recovered:?}");
    assert_eq!(recovered.finished, 1, "{recovered:?}");
    let attempt = engine
        .with_journal(move |j| j.attempt(&attempt_id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(attempt.state, AttemptState::Succeeded);
    assert!(matches!(
        engine.relay_once().await.unwrap(),
        RelayOutcome::Sent { delivered: 1, .. }
    ));
    let detail = order(&again, "demo-1001").await;
    assert_eq!(detail.order.status, OrderStatus::Paid, "{detail:?}");
    assert_eq!(
        detail.order.paid_intent_id.as_ref().map(|i| i.as_str()),
        Some(intent_id.as_str())
    );
    // One intent, charged once: recovery found the first one instead of charging again.
    let ledger = admin(&again, "/admin/ledger", None).await;
    let intents = ledger["intents"].as_array().unwrap();
    assert_eq!(intents.len(), 1, "{ledger}");
    assert_eq!(intents[0]["id"], intent_id.as_str());
    assert_eq!(intents[0]["succeeded_count"], 1);
    drop(terminal);
    again.shutdown().await;
}

//! The embedded stack end to end: start on a fresh data directory, charge a demo order through
//! the engine it builds (the demo operator signed in), restart over the same directory (same
//! terminal, same orders, old 4-digit demo PINs replaced), and the secret-store rules (a lost
//! token means a new terminal; a live key is never replaced).

use std::sync::Arc;

use paydesk_core::{AttemptState, Money, OperatorId, OrderId, Pin};
use paydesk_engine::{ChargeRequest, Progress, RelayOutcome};
use paydesk_protocol::{OrderDetail, OrderPage, OrderStatus};
use paydesk_stack::{
    start, StackConfig, StackError, DEMO_GATEWAY_KEY, DEMO_OPERATOR, DEMO_OPERATOR_PIN,
    JOURNAL_FILE,
};
use paydesk_terminal::{
    read_stack_file, MemorySecretStore, Secret, SecretStore, GATEWAY_API_KEY, TERMINAL_TOKEN,
};

fn quiet(_: Progress) {}

async fn order(stack: &paydesk_stack::Stack, id: &str) -> OrderDetail {
    stack
        .central_client()
        .unwrap()
        .get_json(&format!("/v1/orders/{id}"))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_stack_charges_and_a_restart_keeps_terminal_and_orders() {
    let dir = tempfile::tempdir().unwrap();
    let secrets = Arc::new(MemorySecretStore::new());
    let config = StackConfig::new(dir.path(), secrets.clone());

    let stack = start(config.clone()).await.unwrap();
    assert!(stack.newly_provisioned);
    assert!(stack.central_url.starts_with("http://127.0.0.1:"));
    assert!(stack.gateway_url.starts_with("http://127.0.0.1:"));
    assert_eq!(
        secrets.get(GATEWAY_API_KEY).unwrap().unwrap().expose(),
        DEMO_GATEWAY_KEY
    );
    assert!(secrets.get(TERMINAL_TOKEN).unwrap().is_some());
    let described = read_stack_file(dir.path()).unwrap();
    assert_eq!(described.central_url, stack.central_url);
    assert_eq!(described.terminal_id, stack.terminal);
    // Nothing secret lands in the data directory.
    let token = secrets.get(TERMINAL_TOKEN).unwrap().unwrap();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains(token.expose()));
        assert!(!text.contains(DEMO_GATEWAY_KEY));
    }

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
    let report = engine
        .charge(
            &ChargeRequest {
                order: OrderId::new("demo-1001").unwrap(),
                operator: OperatorId::new(DEMO_OPERATOR).unwrap(),
                expected_amount: Money::parse("129.00 EUR").unwrap(),
            },
            &quiet,
        )
        .await
        .unwrap();
    assert_eq!(report.state(), AttemptState::Succeeded);
    assert!(matches!(
        engine.relay_once().await.unwrap(),
        RelayOutcome::Sent { delivered: 1, .. }
    ));
    assert_eq!(
        order(&stack, "demo-1001").await.order.status,
        OrderStatus::Paid
    );
    let terminal_id = stack.terminal.clone();
    let allowance_key: paydesk_protocol::AllowanceKey = stack
        .central_client()
        .unwrap()
        .get_json("/v1/allowance-key")
        .await
        .unwrap();
    drop(terminal);
    // A data directory from before the PIN minimums: the demo operator's PIN was 1234.
    let old = paydesk_central::auth::hash_pin("1234").unwrap();
    stack
        .central_store()
        .upsert_operator(
            &operator,
            paydesk_protocol::Role::Operator,
            &old,
            paydesk_engine::Clock::now(&paydesk_engine::SystemClock),
        )
        .await
        .unwrap();
    stack.shutdown().await;
    assert!(
        read_stack_file(dir.path()).is_none(),
        "stack.json is removed"
    );

    let again = start(config).await.unwrap();
    assert_eq!(again.terminal, terminal_id);
    assert!(!again.newly_provisioned);
    assert_eq!(
        order(&again, "demo-1001").await.order.status,
        OrderStatus::Paid
    );
    let queue: OrderPage = again
        .central_client()
        .unwrap()
        .get_json("/v1/orders?limit=200")
        .await
        .unwrap();
    // The nineteen demo orders still unpaid and the four PayPal ones.
    assert_eq!(queue.orders.len(), 23, "seeding again adds nothing");
    // The allowance a terminal pinned is still the central's after the restart.
    let key_again: paydesk_protocol::AllowanceKey = again
        .central_client()
        .unwrap()
        .get_json("/v1/allowance-key")
        .await
        .unwrap();
    assert_eq!(key_again, allowance_key);
    // The journal of the first run is still there and still intact.
    let terminal = again
        .terminal(&dir.path().join(JOURNAL_FILE))
        .await
        .unwrap();
    let verify = terminal.journal_health().await.unwrap().verify;
    assert!(verify.is_intact());
    // The restart gave the demo operator the demo PIN again.
    let signed = terminal
        .sign_in(&operator, Pin::parse(DEMO_OPERATOR_PIN).unwrap())
        .await
        .unwrap();
    assert!(!signed.offline);
    drop(terminal);
    again.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_missing_from_the_store_means_a_new_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let secrets = Arc::new(MemorySecretStore::new());
    let first = start(StackConfig::new(dir.path(), secrets.clone()))
        .await
        .unwrap();
    let old = first.terminal.clone();
    first.shutdown().await;

    assert!(secrets.delete(TERMINAL_TOKEN).unwrap());
    let second = start(StackConfig::new(dir.path(), secrets.clone()))
        .await
        .unwrap();
    assert_ne!(second.terminal, old);
    assert!(second.newly_provisioned);
    assert!(secrets.get(TERMINAL_TOKEN).unwrap().is_some());
    second.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_gateway_key_is_never_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let secrets = Arc::new(MemorySecretStore::new());
    let live = Secret::new("sk_live_do_not_touch").unwrap();
    secrets.set(GATEWAY_API_KEY, &live).unwrap();
    let err = start(StackConfig::new(dir.path(), secrets.clone()))
        .await
        .unwrap_err();
    assert!(matches!(err, StackError::LiveGatewayKey), "{err}");
    assert!(!err.to_string().contains("do_not_touch"));
    assert_eq!(secrets.get(GATEWAY_API_KEY).unwrap(), Some(live));
}

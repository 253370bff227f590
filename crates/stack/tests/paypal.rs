//! PayPal orders through the embedded stack (issue 13): the terminal charges each order through
//! its own gateway (the PayPal demo orders through the sandbox's PayPal side, a Stripe order
//! through its Stripe side, one engine), and the central believes a PayPal success only after
//! reading the PayPal order at PayPal itself (the results' verification asks the order's own
//! gateway), so the order is paid, not held for review; a declined capture and a payer action
//! end as they do for Stripe; the sandbox's signed PayPal webhooks reach the central and verify;
//! and reconciliation finds the PayPal capture by the PayPal order registered for it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use paydesk_core::{AttemptState, Money, OperatorId, OrderId, Pin, Timestamp};
use paydesk_engine::{ChargeRequest, Progress};
use paydesk_protocol::{GatewayName, OrderDetail, OrderStatus, ReconcileReport};
use paydesk_stack::{
    start, Stack, StackConfig, DEMO_MANAGER, DEMO_MANAGER_PIN, DEMO_OPERATOR, DEMO_OPERATOR_PIN,
    JOURNAL_FILE,
};
use paydesk_terminal::{MemorySecretStore, SecretStore, TERMINAL_TOKEN};
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paypal_orders_are_charged_verified_and_reconciled_through_paypal() {
    let dir = tempfile::tempdir().unwrap();
    let secrets = Arc::new(MemorySecretStore::new());
    let stack = start(StackConfig::new(dir.path(), secrets.clone()))
        .await
        .unwrap();
    let started = Timestamp::from_unix_ms(
        i64::try_from(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis(),
        )
        .unwrap()
            - 1_000,
    );

    // The demo's PayPal orders name their gateway and a vaulted PayPal source.
    let wallet = order(&stack, "demo-4001").await.order;
    assert_eq!(wallet.gateway, GatewayName::Paypal);
    assert_eq!(wallet.payment_method_id, "paypal:vault_approve");
    assert_eq!(
        order(&stack, "demo-1001").await.order.gateway,
        GatewayName::Stripe
    );

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
    let charge = |id: &'static str, amount: &'static str| {
        let operator = operator.clone();
        async move {
            engine
                .charge(
                    &ChargeRequest {
                        order: OrderId::new(id).unwrap(),
                        operator,
                        expected_amount: Money::parse(amount).unwrap(),
                    },
                    &quiet,
                )
                .await
                .unwrap()
        }
    };

    // A PayPal wallet and a Stripe card, one after the other on one engine.
    let paid = charge("demo-4001", "59.00 EUR").await;
    assert_eq!(paid.state(), AttemptState::Succeeded, "{paid:?}");
    let paypal_order = paid.attempt.intent_id.clone().unwrap();
    assert!(
        paypal_order
            .as_str()
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()),
        "a PayPal order id, not a Stripe intent: {paypal_order}"
    );
    let stripe = charge("demo-1001", "129.00 EUR").await;
    assert_eq!(stripe.state(), AttemptState::Succeeded);
    assert!(stripe
        .attempt
        .intent_id
        .as_ref()
        .unwrap()
        .as_str()
        .starts_with("pi_"));
    // A card at PayPal that PayPal declines, and a wallet that needs the payer.
    let declined = charge("demo-4003", "18.50 EUR").await;
    assert_eq!(declined.state(), AttemptState::Declined, "{declined:?}");
    assert_eq!(
        declined.attempt.reason.as_deref(),
        Some("INSTRUMENT_DECLINED")
    );
    let action = charge("demo-4004", "99.00 USD").await;
    assert_eq!(action.state(), AttemptState::RequiresAction, "{action:?}");

    // The results reach the central, which reads the PayPal order at PayPal before it believes
    // the success: paid, by that PayPal order.
    let drained = terminal
        .drain(paydesk_terminal::DrainWait::DueOnly)
        .await
        .unwrap();
    assert!(drained.delivered >= 4, "{drained:?}");
    let detail = order(&stack, "demo-4001").await;
    assert_eq!(detail.order.status, OrderStatus::Paid, "{detail:?}");
    assert_eq!(detail.order.paid_intent_id.as_ref(), Some(&paypal_order));
    assert_eq!(
        order(&stack, "demo-4003").await.order.status,
        OrderStatus::Failed
    );
    assert_eq!(
        order(&stack, "demo-4004").await.order.status,
        OrderStatus::NeedsAction
    );

    // A manager's reconciliation finds the PayPal capture (PayPal has no search: the central
    // reads the PayPal orders registered in the period) and the Stripe one; nothing is off.
    let token = secrets.get(TERMINAL_TOKEN).unwrap().unwrap();
    let session = sign_in(&stack, token.expose(), DEMO_MANAGER, DEMO_MANAGER_PIN).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    let report = loop {
        let now = Timestamp::from_unix_ms(started.unix_ms() + 3_600_000);
        let resp = reqwest::Client::new()
            .get(format!(
                "{}/v1/reconcile?from={}&to={}",
                stack.central_url,
                started.unix_ms(),
                now.unix_ms()
            ))
            .bearer_auth(token.expose())
            .header(paydesk_protocol::SESSION_HEADER, &session)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let body: Value = resp.json().await.unwrap();
        if status == 200 {
            break serde_json::from_value::<ReconcileReport>(body).unwrap();
        }
        assert!(Instant::now() < deadline, "reconcile: {status} {body}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert!(report.recorded_not_charged.is_empty(), "{report:?}");
    assert!(report.charged_not_recorded.is_empty(), "{report:?}");
    assert!(report.amount_mismatch.is_empty(), "{report:?}");

    // The sandbox's signed PayPal webhook for the capture reached the central and verified:
    // stored once, applied to the order (which stays paid, by the same PayPal order).
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let events = stack
            .central_store()
            .paypal_events_of(&paypal_order)
            .await
            .unwrap();
        if events.iter().any(|(_, outcome)| outcome == "applied") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no verified PayPal webhook: {events:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let detail = order(&stack, "demo-4001").await;
    assert_eq!(detail.order.status, OrderStatus::Paid, "{detail:?}");

    drop(terminal);
    stack.shutdown().await;
}

/// A person's session token at this stack's terminal.
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

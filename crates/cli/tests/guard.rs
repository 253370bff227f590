//! The duplicate guard through the real `paydesk` binary (issue 12, item 3): a second order of
//! the same customer and amount, charged minutes after the first, stops with exit 4 and the
//! central's words — which order, who, on which terminal, the gateway id — and nothing is charged;
//! the same charge with `--confirm-similar` (the operator checked with the customer) goes through.

mod common;

use paydesk_engine::{Clock, SystemClock};
use paydesk_protocol::{ImportOrder, OrderStatus};
use paydesk_stack::{DEMO_OPERATOR, DEMO_OPERATOR_PIN};
use serde_json::json;

use common::{Desk, CONFLICT, SUCCESS};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_order_of_the_same_customer_and_amount_stops_and_names_the_first() {
    let desk = Desk::start().await;
    let orders: Vec<ImportOrder> = ["g-1", "g-2"]
        .into_iter()
        .map(|id| {
            serde_json::from_value(json!({"order_id": id,
                "amount": {"minor": 4321, "currency": "EUR"}, "customer_id": "cus_guard",
                "payment_method_id": "pm_card_visa", "description": "guard test"}))
            .unwrap()
        })
        .collect();
    desk.stack
        .central_store()
        .import_orders(&orders, SystemClock.now())
        .await
        .unwrap();
    let charge_with = |order: &str, extra: &[&str]| {
        let mut args = vec![
            "charge",
            order,
            "--operator",
            DEMO_OPERATOR,
            "--amount",
            "43.21 EUR",
            "--pin-stdin",
        ];
        args.extend_from_slice(extra);
        desk.run(&args, DEMO_OPERATOR_PIN)
    };
    let charge = |order: &str| charge_with(order, &[]);
    let first = charge("g-1");
    assert_eq!(first.code, Some(SUCCESS), "{first:?}");
    let paid = desk
        .stack
        .central_store()
        .order(&paydesk_core::OrderId::new("g-1").unwrap())
        .await
        .unwrap();
    assert_eq!(paid.status, OrderStatus::Paid);
    let intent = paid.paid_intent_id.expect("the first order's intent");

    let second = charge("g-2");
    assert_eq!(second.code, Some(CONFLICT), "{second:?}");
    for part in [
        "may be a duplicate",
        "g-1",
        "cus_guard",
        "43.21 EUR",
        DEMO_OPERATOR,
        intent.as_str(),
        "--confirm-similar",
    ] {
        assert!(second.stderr.contains(part), "{part} missing: {second:?}");
    }
    let g2 = desk
        .stack
        .central_store()
        .order(&paydesk_core::OrderId::new("g-2").unwrap())
        .await
        .unwrap();
    assert_eq!(g2.status, OrderStatus::Unpaid, "nothing was charged");
    assert_eq!(g2.attempt_seq, 0, "no attempt was claimed");

    // The operator checked with the customer: a separate payment, charged once confirmed.
    let confirmed = charge_with("g-2", &["--confirm-similar"]);
    assert_eq!(confirmed.code, Some(SUCCESS), "{confirmed:?}");
    let g2 = desk
        .stack
        .central_store()
        .order(&paydesk_core::OrderId::new("g-2").unwrap())
        .await
        .unwrap();
    assert_eq!(g2.status, OrderStatus::Paid);
    assert_ne!(g2.paid_intent_id.as_ref(), Some(&intent), "its own payment");
}

//! Deposits and balances under contention (issue 12, item 2): on each of six orders a deposit
//! is taken, then two operators on two terminals (real `paydesk` processes against a real
//! central and the sandbox) charge the balance at the same moment. The one live claim per
//! order serializes them: one gets the balance, the other is refused (held, or nothing left),
//! and the sandbox's ledger never shows more succeeded on an order than its amount (I1 with
//! installments); the central counts deposit + balance and marks each order paid.

use std::collections::HashMap;

use crate::harness::{exit, Env, EnvOptions, OrderSpec, Terminal, COMMAND_TIMEOUT};

const ORDERS: usize = 6;
const ORDER_MINOR: i64 = 10_000;
const DEPOSIT: &str = "30.00 EUR";
const DEPOSIT_MINOR: i64 = 3_000;

fn args_of(order: &OrderSpec, extra: &[&str]) -> Vec<String> {
    let mut args = Terminal::charge_args(order);
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

#[test]
fn two_operators_racing_over_the_balance_after_a_deposit_never_charge_more_than_the_order() {
    let env = Env::start(EnvOptions::default());
    let t1 = env.terminal("inst-1");
    let t2 = env.terminal("inst-2");
    let orders: Vec<OrderSpec> = (0..ORDERS)
        .map(|i| OrderSpec::new(format!("inst-{i:02}"), ORDER_MINOR, "pm_card_visa"))
        .collect();
    env.add_orders(&orders);

    for order in &orders {
        let args = args_of(order, &["--charge-amount", DEPOSIT, "--reason", "deposit"]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let run = t1.run(&args).expect_code(exit::SUCCESS);
        let doc = run.json();
        assert_eq!(doc["outcome"], "succeeded", "{doc}");
        assert_eq!(doc["attempt"]["amount"]["minor"], DEPOSIT_MINOR, "{doc}");
        assert_eq!(doc["attempt"]["installment"], 1, "{doc}");
    }
    t1.sync().expect_code(exit::SUCCESS);
    for order in &orders {
        let central = env.order(&order.id);
        assert_eq!(central["order"]["paid_minor"], DEPOSIT_MINOR, "{central}");
        assert_eq!(
            central["order"]["status"], "unpaid",
            "partly paid: {central}"
        );
    }

    // The race: both terminals charge each order's balance at once.
    let mut outcomes: HashMap<String, Vec<Option<i32>>> = HashMap::new();
    for order in &orders {
        let args = args_of(order, &[]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let a = t1.spawn(&args, None);
        let b = t2.spawn(&args, None);
        let (a, b) = (a.wait(COMMAND_TIMEOUT), b.wait(COMMAND_TIMEOUT));
        outcomes
            .entry(order.id.clone())
            .or_default()
            .extend([a.code(), b.code()]);
    }
    t1.sync().expect_code(exit::SUCCESS);
    t2.sync().expect_code(exit::SUCCESS);

    let ledger = env.ledger();
    for order in &orders {
        let succeeded: i64 = ledger["intents"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["metadata"]["order_id"] == order.id.as_str())
            .filter(|i| i["status"] == "succeeded")
            .map(|i| i["amount"].as_i64().unwrap())
            .sum();
        assert!(
            succeeded <= ORDER_MINOR,
            "I1: order {} charged {succeeded} of {ORDER_MINOR} ({:?})",
            order.id,
            outcomes[&order.id]
        );
        assert_eq!(
            succeeded, ORDER_MINOR,
            "order {}: deposit and balance both charged ({:?})",
            order.id, outcomes[&order.id]
        );
        let central = env.order(&order.id);
        assert_eq!(central["order"]["status"], "paid", "{central}");
        assert_eq!(central["order"]["paid_minor"], ORDER_MINOR, "{central}");
        let mut installments: Vec<i64> = central["results"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["outcome"] == "succeeded")
            .map(|r| r["installment"].as_i64().unwrap())
            .collect();
        installments.sort_unstable();
        assert_eq!(
            installments,
            [1, 2],
            "the deposit, then the balance: {central}"
        );
        let wins = outcomes[&order.id]
            .iter()
            .filter(|c| **c == Some(exit::SUCCESS))
            .count();
        assert_eq!(
            wins, 1,
            "exactly one operator charged the balance: {:?}",
            outcomes[&order.id]
        );
    }
}

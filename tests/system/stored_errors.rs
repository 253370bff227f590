//! A stored error never strands a charge, and an outage does not send work to a manager: the
//! sandbox stores a 500 under the idempotency key and replays it for 24 hours, as Stripe does, so
//! re-sending the same key can never settle the charge; the gateway being unreachable (connection
//! refused: provably nothing sent) must not count against an attempt. Real processes; the
//! sandbox's ledger is the judge.

use std::net::TcpListener;

use crate::harness::{exit, Env, EnvOptions, OrderSpec, Terminal};
use crate::invariants::{assert_clean, check_order, Expect, Truth};

/// Recovery passes a test allows for an attempt to settle once the gateway shows the way.
const RECOVERIES_MAX: usize = 8;

/// Recovers until the order's attempt rests or the passes run out; returns its journal state.
fn recover_until_settled(terminal: &Terminal, order: &str) -> String {
    let mut state = String::new();
    for _ in 0..RECOVERIES_MAX {
        terminal.recover();
        state = terminal
            .attempts()
            .iter()
            .find(|a| a["order"] == order)
            .map(|a| a["state"].as_str().unwrap_or("?").to_string())
            .unwrap_or_default();
        if matches!(state.as_str(), "succeeded" | "declined" | "canceled") {
            break;
        }
    }
    state
}

fn stored_500_case(fault: &str, id: &str) {
    let env = Env::start(EnvOptions::default());
    let terminal = env.terminal(&format!("stored-{id}"));
    let order = OrderSpec::new(id, 4_200, "pm_card_visa");
    env.add_orders(std::slice::from_ref(&order));
    env.faults(&[fault]);

    let first = terminal.charge(&order);
    assert!(
        matches!(first.code(), Some(exit::SUCCESS | exit::PENDING)),
        "{first:?}"
    );
    let state = recover_until_settled(&terminal, &order.id);
    assert_eq!(
        state, "succeeded",
        "a charge the gateway never executed must be completed, not sent to a manager"
    );
    terminal.sync();
    let truth = Truth::gather(&env, &[&terminal]);
    let bad = check_order(
        &truth,
        &env.order(&order.id),
        &order,
        Expect::Status("paid"),
    );
    assert_clean(fault, &bad);
}

#[test]
fn a_stored_500_on_the_confirm_does_not_strand_the_charge() {
    stored_500_case("confirm:http_500:1", "o-stored-confirm");
}

#[test]
fn a_stored_500_on_the_create_does_not_strand_the_charge() {
    stored_500_case("create:http_500:1", "o-stored-create");
}

#[test]
fn a_gateway_that_cannot_be_reached_never_sends_an_attempt_to_a_manager() {
    let env = Env::start(EnvOptions::default());
    let terminal = env.terminal("gateway-down");
    let order = OrderSpec::new("o-gateway-down", 3_100, "pm_card_visa");
    env.add_orders(std::slice::from_ref(&order));

    // A port nobody listens on: every gateway request is refused before it is sent.
    let closed = TcpListener::bind("127.0.0.1:0").expect("a free port");
    let closed_url = format!("http://{}", closed.local_addr().expect("its address"));
    drop(closed);
    let with_gateway_down = |args: &[&str]| {
        let mut all = vec!["--gateway", closed_url.as_str()];
        all.extend_from_slice(args);
        terminal.run(&all)
    };
    let args = Terminal::charge_args(&order);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let charged = with_gateway_down(&args);
    assert_eq!(charged.code(), Some(exit::PENDING), "{charged:?}");
    for _ in 0..20 {
        with_gateway_down(&["--json", "recover"]);
    }
    let attempt = terminal
        .attempts()
        .into_iter()
        .find(|a| a["order"] == order.id.as_str())
        .expect("the attempt is journaled");
    assert_ne!(
        attempt["state"], "needs_review",
        "an outage where nothing was sent must not go to a manager: {attempt}"
    );
    assert_eq!(
        env.ledger()["intents"].as_array().map_or(0, Vec::len),
        0,
        "nothing reached the gateway"
    );

    // The gateway answers again: the same attempt completes, once.
    let state = recover_until_settled(&terminal, &order.id);
    assert_eq!(state, "succeeded");
    terminal.sync();
    let truth = Truth::gather(&env, &[&terminal]);
    let bad = check_order(
        &truth,
        &env.order(&order.id),
        &order,
        Expect::Status("paid"),
    );
    assert_clean("gateway down, then back", &bad);
}

//! The crash matrix with offline allowed: a `paydesk charge` that goes ahead offline (the central
//! killed, a manager's allowance in force, the queue cached) is aborted at every crash point the
//! offline path passes; then the central comes back, `paydesk recover` and `paydesk sync` run over
//! the same journal, and I1–I7 are checked for the order: paid exactly once, nothing stuck, the
//! result applied once. A second terminal then tries the order online and must not charge it.

use crate::harness::{exit, Env, EnvOptions, OrderSpec, Terminal};
use crate::invariants::{assert_clean, check_order, Expect, Truth};

/// The crash points an offline charge passes (no claim before it; the relay and recovery run
/// later, online).
const OFFLINE_CRASH_POINTS: [&str; 7] = [
    "after_intent_commit",
    "after_create_before_journal",
    "after_register",
    "after_confirm_sent",
    "before_confirm_request",
    "after_confirm_before_result",
    "after_result",
];

fn allow_offline(terminal: &Terminal) {
    terminal.allow_offline("100.00 EUR", "1000.00 EUR", 60);
}

#[test]
fn offline_crash_matrix_every_point_recovers_to_one_charge() {
    let mut env = Env::start(EnvOptions::default());
    let terminal = env.terminal("offline-matrix");
    let other = env.terminal("online-after-matrix");
    let orders: Vec<OrderSpec> = OFFLINE_CRASH_POINTS
        .iter()
        .enumerate()
        .map(|(i, point)| {
            OrderSpec::new(
                format!("om-{point}"),
                1_000 + i as i64 * 113,
                "pm_card_visa",
            )
        })
        .collect();
    env.add_orders(&orders);
    allow_offline(&terminal);

    let mut red = Vec::new();
    for (point, order) in OFFLINE_CRASH_POINTS.iter().zip(&orders) {
        env.kill_central();
        let args = Terminal::charge_args(order);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let crashed = terminal.run_crashing(&args, point);
        if crashed.code().is_some() {
            red.push(format!(
                "{point}: the charge did not stop there: {crashed:?}"
            ));
        }
        env.start_central();
        terminal.recover();
        terminal.sync();
        // Another terminal, online now, must find the order paid (or held), not charge it.
        let second = other.charge(order);
        if second.code() == Some(exit::SUCCESS) {
            red.push(format!("{point}: charged again online: {second:?}"));
        }
        let truth = Truth::gather(&env, &[&terminal, &other]);
        let violations = check_order(&truth, &env.order(&order.id), order, Expect::Status("paid"));
        if violations.is_empty() {
            eprintln!("ok   offline × {point}");
        } else {
            eprintln!("RED  offline × {point}");
            red.push(format!("{point}:\n    {}", violations.join("\n    ")));
        }
    }
    assert_clean("offline crash matrix", &red);
}

//! Regression: a takeover of an order whose previous holder registered an intent and died before
//! confirming it. The central refused the new holder's intent (the old one was still the order's
//! open intent), so the order stayed unpaid and every later takeover failed the same way.

use crate::crash_matrix::charge_when_free;
use crate::harness::{exit, Env, EnvOptions, OrderSpec, Terminal};
use crate::invariants::{assert_clean, check_order, Expect, Truth};

#[test]
fn takeover_after_the_holder_died_with_a_registered_intent_charges_the_order_once() {
    let env = Env::start(EnvOptions {
        lease_ms: 1_500,
        ..EnvOptions::default()
    });
    let first = env.terminal("takeover-1");
    let second = env.terminal("takeover-2");
    let order = OrderSpec::new("t-1", 3_300, "pm_card_visa");
    env.add_orders(std::slice::from_ref(&order));
    let args = Terminal::charge_args(&order);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let crashed = first.run_crashing(&args, "after_register");
    assert!(
        crashed.code().is_none(),
        "the first charge must die: {crashed:?}"
    );

    // The lease runs out; the second terminal takes the order over, settles the registered
    // intent (it was never confirmed: canceled) and charges with its own.
    let taken = charge_when_free(&second, &order);
    assert_eq!(taken.code(), Some(exit::SUCCESS), "{taken:?}");
    // The first terminal restarts: its intent was canceled, so its recovery cannot charge.
    first.recover();
    first.sync();
    second.sync();
    let truth = Truth::gather(&env, &[&first, &second]);
    assert_clean(
        "takeover",
        &check_order(
            &truth,
            &env.order(&order.id),
            &order,
            Expect::Status("paid"),
        ),
    );
}

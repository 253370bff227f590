//! The central down for a while: with the default (block) offline policy a charge is refused with
//! exit 5 before anything reaches the gateway, results already committed wait in the outbox
//! (`paydesk sync` says the central is unreachable), and once the central is back on the same
//! database `paydesk sync` drains them, each applied exactly once. A central that dies between a
//! charge's create and its registration leaves the intent unconfirmed until it is back.
//!
//! The central is killed with SIGKILL (no graceful shutdown) and restarted on the same port.
//! With a manager's offline allowance (`paydesk offline allow`), charges within its caps go ahead
//! offline, marked so, and reach the central once it is back.

use crate::crash_matrix::sync_again_changes_nothing;
use crate::harness::{exit, Env, EnvOptions, OrderSpec, Terminal, MANAGER, OPERATOR, OPERATOR_PIN};
use crate::invariants::{assert_clean, check_order, Expect, Truth};

#[test]
fn results_wait_in_the_outbox_while_the_central_is_down_and_apply_once_when_it_returns() {
    let mut env = Env::start(EnvOptions::default());
    let terminal = env.terminal("offline");
    let orders: Vec<OrderSpec> = (1..=4)
        .map(|i| OrderSpec::new(format!("c-down-{i}"), 2_000 + i, "pm_card_visa"))
        .collect();
    env.add_orders(&orders);

    // Online: one charge delivered at once, one whose process dies right after committing its
    // result (so the result is only in the outbox).
    terminal.charge(&orders[0]).expect_code(exit::SUCCESS);
    let args = Terminal::charge_args(&orders[1]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let crashed = terminal.run_crashing(&args, "after_result");
    assert!(crashed.code().is_none(), "{crashed:?}");
    assert_eq!(env.order(&orders[1].id)["order"]["status"], "unpaid");

    env.kill_central();
    let ledger_before = env.ledger();

    // Block policy: refused with exit 5, and the gateway saw nothing.
    let refused = terminal.charge(&orders[2]);
    assert_eq!(refused.code(), Some(exit::UNREACHABLE), "{refused:?}");
    assert_eq!(
        env.ledger()["intents"],
        ledger_before["intents"],
        "nothing may reach the gateway while the central is down"
    );
    assert_eq!(
        env.ledger()["idempotency_keys"],
        ledger_before["idempotency_keys"]
    );

    // The committed result waits: sync says unreachable and keeps it.
    let waiting = terminal.sync();
    assert_eq!(waiting.code(), Some(exit::UNREACHABLE), "{waiting:?}");
    let report = &waiting.json()["sync"];
    assert_eq!(report["waiting"], 1, "{waiting:?}");
    assert!(report["unreachable"].is_string(), "{waiting:?}");

    // Back on the same database: the outbox drains, once.
    env.start_central();
    let drained = terminal.sync();
    assert_eq!(drained.code(), Some(exit::SUCCESS), "{drained:?}");
    assert_eq!(drained.json()["sync"]["delivered"], 1, "{drained:?}");
    assert_eq!(drained.json()["sync"]["waiting"], 0, "{drained:?}");

    // The refused order is chargeable again, and the queue shows only what is still unpaid.
    terminal.charge(&orders[2]).expect_code(exit::SUCCESS);
    let queue = terminal
        .run(&["--json", "queue"])
        .expect_code(exit::SUCCESS);
    let listed = queue.stdout.clone();
    for (i, order) in orders.iter().enumerate() {
        assert_eq!(
            listed.contains(&format!("\"{}\"", order.id)),
            i == 3,
            "the queue lists exactly the unpaid order: {listed}"
        );
    }

    let mut bad = Vec::new();
    for order in &orders {
        bad.extend(sync_again_changes_nothing(&env, &terminal, &order.id));
    }
    let truth = Truth::gather(&env, &[&terminal]);
    for (i, order) in orders.iter().enumerate() {
        let expect = if i == 3 {
            Expect::SettledOrUntouched
        } else {
            Expect::Status("paid")
        };
        bad.extend(check_order(&truth, &env.order(&order.id), order, expect));
    }
    assert_clean("central down and back", &bad);
    assert_eq!(
        env.db.count("SELECT count(*) FROM results"),
        3,
        "three results, each stored once"
    );
}

#[test]
fn central_dying_between_create_and_register_leaves_nothing_confirmed_until_it_returns() {
    let mut env = Env::start(EnvOptions::default());
    let terminal = env.terminal("mid-charge");
    let order = OrderSpec::new("c-mid-charge", 7_700, "pm_card_visa");
    env.add_orders(std::slice::from_ref(&order));
    // The create is held at the gateway long enough to take the central down meanwhile.
    env.faults(&["create:latency=2000:1"]);
    let args = Terminal::charge_args(&order);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let charging = terminal.spawn(&args, None);

    // Ready when the gateway has the create in hand (its key is in the ledger).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while Truth::gather(&env, &[]).create_keys(&order.id).is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the create never reached the gateway"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    env.kill_central();

    let pending = charging.wait(crate::harness::COMMAND_TIMEOUT);
    assert_eq!(pending.code(), Some(exit::PENDING), "{pending:?}");
    assert_eq!(pending.json()["attempt"]["state"], "created", "{pending:?}");
    let intents = Truth::gather(&env, &[]).intents(&order.id).len();
    assert_eq!(intents, 1);
    assert_eq!(
        env.ledger()["intents"][0]["status"],
        "requires_confirmation",
        "nothing is confirmed while the intent is not registered"
    );

    // Recovery while the central is still down confirms nothing either.
    let still = terminal.recover();
    assert_eq!(still.code(), Some(exit::PENDING), "{still:?}");
    assert_eq!(
        env.ledger()["intents"][0]["status"],
        "requires_confirmation"
    );

    env.start_central();
    terminal.recover().expect_code(exit::SUCCESS);
    terminal.sync().expect_code(exit::SUCCESS);
    let mut bad = sync_again_changes_nothing(&env, &terminal, &order.id);
    let truth = Truth::gather(&env, &[&terminal]);
    bad.extend(check_order(
        &truth,
        &env.order(&order.id),
        &order,
        Expect::Status("paid"),
    ));
    assert_clean("central died mid-charge", &bad);
}

#[test]
fn offline_allowed_by_a_manager_charges_within_the_caps_and_syncs_once_when_the_central_returns() {
    let mut env = Env::start(EnvOptions::default());
    let terminal = env.terminal("offline-allowed");
    let orders = [
        OrderSpec::new("c-offline-1", 3_000, "pm_card_visa"),
        OrderSpec::new("c-offline-2", 3_000, "pm_card_visa"),
        OrderSpec::new("c-offline-3", 9_000, "pm_card_visa"),
    ];
    env.add_orders(&orders);

    // The queue is cached while the central is up; an operator (not a manager) and a wrong PIN
    // cannot allow offline work; the manager can, with an allowance the central signs.
    terminal
        .run(&["--json", "queue"])
        .expect_code(exit::SUCCESS);
    let wrong = terminal.allow_offline_as(MANAGER, "11111111", "50.00 EUR", "50.00 EUR", 60);
    assert_eq!(wrong.code(), Some(exit::REFUSED), "{wrong:?}");
    let operator = terminal.allow_offline_as(OPERATOR, OPERATOR_PIN, "50.00 EUR", "50.00 EUR", 60);
    assert_eq!(operator.code(), Some(exit::REFUSED), "{operator:?}");
    terminal.allow_offline("50.00 EUR", "50.00 EUR", 60);

    env.kill_central();
    // Within the caps: charged offline and marked so.
    let first = terminal.charge(&orders[0]);
    assert_eq!(first.code(), Some(exit::SUCCESS), "{first:?}");
    assert_eq!(first.json()["attempt"]["offline"], true, "{first:?}");
    // Above the per-charge cap, and above the per-shift cap: refused, nothing sent.
    let ledger_before = env.ledger();
    let too_big = terminal.charge(&orders[2]);
    assert_eq!(too_big.code(), Some(exit::UNREACHABLE), "{too_big:?}");
    let over_shift = terminal.charge(&orders[1]);
    assert_eq!(over_shift.code(), Some(exit::UNREACHABLE), "{over_shift:?}");
    assert_eq!(env.ledger()["intents"], ledger_before["intents"]);

    // The central returns: the offline result is applied once and the order is paid.
    env.start_central();
    let drained = terminal.sync();
    assert_eq!(drained.code(), Some(exit::SUCCESS), "{drained:?}");
    let mut bad = sync_again_changes_nothing(&env, &terminal, &orders[0].id);
    let truth = Truth::gather(&env, &[&terminal]);
    bad.extend(check_order(
        &truth,
        &env.order(&orders[0].id),
        &orders[0],
        Expect::Status("paid"),
    ));
    for order in &orders[1..] {
        bad.extend(check_order(
            &truth,
            &env.order(&order.id),
            order,
            Expect::SettledOrUntouched,
        ));
    }
    assert_clean("offline allowed", &bad);

    // A manager's allowance can be withdrawn.
    terminal
        .run(&["offline", "block"])
        .expect_code(exit::SUCCESS);
    let shown = terminal
        .run(&["--json", "offline", "show"])
        .expect_code(exit::SUCCESS);
    assert_eq!(shown.json()["mode"], "block", "{shown:?}");
}

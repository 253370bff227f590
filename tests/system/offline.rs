//! Offline never double-charges: with a manager's offline allowance on, no interleaving of
//! online and offline attempts of one order — on one terminal or two, offline first or online
//! first, synced at once or not at all — gives the order two gateway successes. Each test is one
//! interleaving the protocol review found, named after what broke; the sandbox's ledger is the
//! judge.
//!
//! The central is killed with SIGKILL and restarted on the same database; the gateway stays up
//! (offline means the central is unreachable, not the gateway).

use std::net::TcpListener;

use serde_json::Value;

use crate::harness::{exit, Env, EnvOptions, OrderSpec, Terminal};
use crate::invariants::{assert_clean, check_order, Expect, Truth};

/// An environment with one order (every environment has a manager who can allow offline work).
fn env_with_order(id: &str) -> (Env, OrderSpec) {
    let env = Env::start(EnvOptions::default());
    let order = OrderSpec::new(id, 2_500, "pm_card_visa");
    env.add_orders(std::slice::from_ref(&order));
    (env, order)
}

/// Caches the queue on `terminal` and has the manager allow offline charging there.
fn cache_and_allow(terminal: &Terminal) {
    terminal.allow_offline("100.00 EUR", "500.00 EUR", 60);
}

/// The ledger's succeeded intents of `order`.
fn successes(env: &Env, order: &str) -> usize {
    env.ledger()["intents"]
        .as_array()
        .map(|intents| {
            intents
                .iter()
                .filter(|i| i["metadata"]["order_id"] == order && i["status"] == "succeeded")
                .count()
        })
        .unwrap_or(0)
}

fn offline_flag(run: &crate::harness::Run) -> Value {
    run.json()["attempt"]["offline"].clone()
}

#[test]
fn an_order_charged_online_is_not_charged_again_offline_on_the_same_terminal() {
    let (mut env, order) = env_with_order("o-same-terminal");
    let terminal = env.terminal("offline-same");
    cache_and_allow(&terminal);
    terminal.charge(&order).expect_code(exit::SUCCESS);

    env.kill_central();
    let again = terminal.charge(&order);
    assert_ne!(again.code(), Some(exit::SUCCESS), "{again:?}");
    assert_eq!(again.code(), Some(exit::CONFLICT), "{again:?}");
    assert!(again.stderr.contains("already paid: attempt"), "{again:?}");
    assert_eq!(successes(&env, &order.id), 1);
}

#[test]
fn an_order_charged_online_elsewhere_is_not_charged_offline_from_a_stale_cache() {
    let (mut env, order) = env_with_order("o-stale-cache");
    let offline = env.terminal("offline-stale");
    let online = env.terminal("online-fresh");
    cache_and_allow(&offline);
    online.charge(&order).expect_code(exit::SUCCESS);
    // Past the sandbox's search lag, so the gateway's own records can speak.
    std::thread::sleep(std::time::Duration::from_millis(2_500));

    env.kill_central();
    let ledger_before = env.ledger();
    let refused = offline.charge(&order);
    assert_eq!(refused.code(), Some(exit::UNREACHABLE), "{refused:?}");
    assert!(
        refused.stderr.contains("the gateway shows payment"),
        "{refused:?}"
    );
    assert_eq!(
        env.ledger()["intents"],
        ledger_before["intents"],
        "the refusal comes before anything is created"
    );
    assert_eq!(successes(&env, &order.id), 1);
}

#[test]
fn an_offline_success_not_yet_synced_is_not_charged_again_online_by_another_terminal() {
    let (mut env, order) = env_with_order("o-unsynced");
    let offline = env.terminal("offline-unsynced");
    let online = env.terminal("online-after");
    cache_and_allow(&offline);

    env.kill_central();
    let first = offline.charge(&order);
    assert_eq!(first.code(), Some(exit::SUCCESS), "{first:?}");
    assert_eq!(offline_flag(&first), true, "{first:?}");
    // The offline terminal goes away without syncing; the central comes back.
    env.start_central();
    let second = online.charge(&order);
    assert_ne!(second.code(), Some(exit::SUCCESS), "{second:?}");
    assert_eq!(successes(&env, &order.id), 1);

    // When the offline terminal syncs at last, the order is paid once.
    offline.sync().expect_code(exit::SUCCESS);
    online.recover();
    let truth = Truth::gather(&env, &[&offline, &online]);
    let bad = check_order(
        &truth,
        &env.order(&order.id),
        &order,
        Expect::SettledOrUntouched,
    );
    assert_clean("offline success, then online", &bad);
}

#[test]
fn an_unfinished_offline_attempt_claims_and_registers_before_it_confirms_once_the_central_is_back()
{
    let (mut env, order) = env_with_order("o-resumed");
    let terminal = env.terminal("offline-resumed");
    cache_and_allow(&terminal);

    env.kill_central();
    let args = Terminal::charge_args(&order);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let crashed = terminal.run_crashing(&args, "after_create_before_journal");
    assert!(crashed.code().is_none(), "{crashed:?}");

    env.start_central();
    let recovered = terminal.recover();
    assert_eq!(recovered.code(), Some(exit::SUCCESS), "{recovered:?}");
    assert_eq!(successes(&env, &order.id), 1);
    // The central saw the intent registered under a claim before it was confirmed.
    let detail = env.order(&order.id);
    let registered = detail["intents"].as_array().cloned().unwrap_or_default();
    assert_eq!(registered.len(), 1, "{detail}");
    assert_eq!(detail["order"]["status"], "paid", "{detail}");
}

#[test]
fn an_unfinished_offline_attempt_is_canceled_when_another_terminal_charged_the_order_meanwhile() {
    let (mut env, order) = env_with_order("o-overtaken");
    let offline = env.terminal("offline-overtaken");
    let online = env.terminal("online-first");
    cache_and_allow(&offline);

    env.kill_central();
    let args = Terminal::charge_args(&order);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let crashed = offline.run_crashing(&args, "after_intent_commit");
    assert!(crashed.code().is_none(), "{crashed:?}");

    env.start_central();
    online.charge(&order).expect_code(exit::SUCCESS);
    offline.recover();
    assert_eq!(successes(&env, &order.id), 1);
    let truth = Truth::gather(&env, &[&offline, &online]);
    let bad = check_order(
        &truth,
        &env.order(&order.id),
        &order,
        Expect::Status("paid"),
    );
    assert_clean("offline attempt overtaken online", &bad);
}

#[test]
fn a_central_that_accepts_the_connection_but_does_not_answer_is_not_offline() {
    let (env, order) = env_with_order("o-slow-central");
    let terminal = env.terminal("offline-slow");
    cache_and_allow(&terminal);

    // A central that accepts connections and never answers: the claim may have been committed,
    // so the charge must stop rather than go offline.
    let silent = TcpListener::bind("127.0.0.1:0").expect("binding a silent listener");
    let silent_url = format!("http://{}", silent.local_addr().expect("its address"));
    let args = Terminal::charge_args(&order);
    let mut args: Vec<&str> = args.iter().map(String::as_str).collect();
    args.splice(0..0, ["--central", silent_url.as_str()]);
    let ledger_before = env.ledger();
    let stopped = terminal.run(&args);
    assert_ne!(stopped.code(), Some(exit::SUCCESS), "{stopped:?}");
    assert!(stopped.stderr.contains("did not answer"), "{stopped:?}");
    assert_eq!(env.ledger()["intents"], ledger_before["intents"]);
    assert!(terminal.attempts().is_empty(), "nothing journaled");
    drop(silent);
}

//! Gateway faults around a real charge: the response lost after the charge executed, a late
//! execution, a 500 after executing then a retry, a storm of 429s, and idempotency keys the
//! gateway forgot (its clock jumped 25 h) while a crashed attempt waited for recovery — before
//! the confirm left, and after it executed.
//!
//! Each test has its own central + sandbox (sandbox faults are global to it), charges one order
//! through the fault, lets `paydesk recover` finish whatever the charge left open, syncs, and
//! checks I1–I7 plus the exact number of executions per idempotency key in the sandbox's ledger.
//! Deliberately absent: crashes at every point (that is the crash matrix).

use std::time::Instant;

use crate::crash_matrix::sync_again_changes_nothing;
use crate::harness::{exit, Env, EnvOptions, OrderSpec, Run, Terminal};
use crate::invariants::{assert_clean, check_order, Expect, Truth};

/// Recovery passes a test waits through before calling the attempt stuck. Each pass itself waits
/// out the engine's backoff, so this bounds a fault test to well under a minute.
const RECOVER_PASSES_MAX: u32 = 8;

/// One environment with one terminal and one order charged with `payment_method`.
struct Case {
    env: Env,
    terminal: Terminal,
    order: OrderSpec,
}

impl Case {
    fn start(order_id: &str) -> Case {
        let env = Env::start(EnvOptions::default());
        let terminal = env.terminal("faults");
        let order = OrderSpec::new(order_id, 4_200, "pm_card_visa");
        env.add_orders(std::slice::from_ref(&order));
        Case {
            env,
            terminal,
            order,
        }
    }

    /// Recovers until nothing is open (bounded), then syncs; returns the passes it took.
    fn settle(&self) -> u32 {
        for pass in 1..=RECOVER_PASSES_MAX {
            let run = self.terminal.recover();
            match run.code() {
                Some(exit::SUCCESS) => {
                    self.terminal.sync().expect_code(exit::SUCCESS);
                    return pass;
                }
                Some(exit::PENDING) => continue,
                _ => panic!("recover failed: {run:?}"),
            }
        }
        panic!(
            "the attempt for {} was still open after {RECOVER_PASSES_MAX} recovery passes",
            self.order.id
        );
    }

    /// I1–I7 for the order, which must end paid, and a second sync that changes nothing.
    fn check_paid(&self) -> Truth {
        let mut bad = sync_again_changes_nothing(&self.env, &self.terminal, &self.order.id);
        let truth = Truth::gather(&self.env, &[&self.terminal]);
        bad.extend(check_order(
            &truth,
            &self.env.order(&self.order.id),
            &self.order,
            Expect::Status("paid"),
        ));
        assert_clean(&self.order.id, &bad);
        truth
    }

    /// The ledger's execution count of the confirm key of the order's (single) intent.
    fn confirm_executions(&self, truth: &Truth) -> i64 {
        let intents = truth.intents(&self.order.id);
        assert_eq!(
            intents.len(),
            1,
            "one intent for {}: {intents:?}",
            self.order.id
        );
        let key = format!("paydesk:confirm:{}", intents[0]["id"].as_str().unwrap());
        truth
            .key(&key)
            .unwrap_or_else(|| panic!("the ledger has no confirm key {key}"))["executions"]
            .as_i64()
            .unwrap()
    }
}

/// The charge may end succeeded or pending (recovery continues) — never declined or failed,
/// because nothing here was refused.
fn assert_not_called_failed(run: &Run) {
    assert!(
        matches!(run.code(), Some(exit::SUCCESS) | Some(exit::PENDING)),
        "an ambiguous answer must never end as refused or failed: {run:?}"
    );
    if run.code() == Some(exit::PENDING) {
        assert!(run.json()["pending"].is_string(), "{run:?}");
    }
}

#[test]
fn lost_confirm_response_is_settled_by_lookup_with_one_execution() {
    let case = Case::start("f-lost-response");
    case.env.faults(&["confirm:drop_after_execute:1"]);
    let charged = case.terminal.charge(&case.order);
    assert_not_called_failed(&charged);
    case.settle();
    let truth = case.check_paid();
    assert_eq!(case.confirm_executions(&truth), 1);
}

#[test]
fn late_confirm_execution_is_waited_for_and_not_repeated() {
    let case = Case::start("f-late");
    case.env.faults(&["confirm:execute_late=1500"]);
    let charged = case.terminal.charge(&case.order);
    assert_not_called_failed(&charged);
    case.settle();
    let truth = case.check_paid();
    assert_eq!(case.confirm_executions(&truth), 1);
}

#[test]
fn http_500_after_execute_then_retry_charges_once() {
    let case = Case::start("f-500");
    case.env.faults(&["confirm:http_500_after_execute:1"]);
    let charged = case.terminal.charge(&case.order);
    assert_not_called_failed(&charged);
    case.settle();
    let truth = case.check_paid();
    assert_eq!(case.confirm_executions(&truth), 1);
}

#[test]
fn storm_of_429s_is_ridden_out_with_the_same_keys() {
    let case = Case::start("f-429");
    case.env.faults(&["any:http_429:6"]);
    let started = Instant::now();
    let charged = case.terminal.charge(&case.order);
    assert_not_called_failed(&charged);
    case.settle();
    let truth = case.check_paid();
    assert_eq!(case.confirm_executions(&truth), 1);
    let creates = truth.create_keys(&case.order.id);
    assert_eq!(creates.len(), 1, "one create key: {creates:?}");
    assert_eq!(creates[0]["executions"], 1, "{creates:?}");
    eprintln!(
        "429 storm ridden out in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn keys_expired_by_a_gateway_clock_jump_after_a_crash_settle_with_one_execution() {
    let case = Case::start("f-expired-keys");
    let args = Terminal::charge_args(&case.order);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let crashed = case.terminal.run_crashing(&args, "after_confirm_sent");
    assert!(
        crashed.code().is_none() && crashed.stderr.contains("crash point after_confirm_sent"),
        "{crashed:?}"
    );
    // 25 h on the gateway: every key it saw (the create's) is pruned.
    case.env.advance_gateway_clock_ms(25 * 60 * 60 * 1000);
    case.settle();
    let truth = case.check_paid();
    assert_eq!(case.confirm_executions(&truth), 1);
    let creates = truth.create_keys(&case.order.id);
    assert_eq!(creates.len(), 1, "{creates:?}");
    assert_eq!(
        creates[0]["executions"], 1,
        "the create was not sent again: {creates:?}"
    );
    let (_, attempt) = truth.attempts(&case.order.id)[0];
    let shown = case.terminal.show(attempt["id"].as_str().unwrap());
    // The terminal's own clock did not move, so it re-sends with the same key (its window is
    // still open in its eyes); the gateway, which forgot the key, executes that confirm — the
    // first and only one, since the crash came before the first confirm left.
    let kinds: Vec<&str> = shown["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap_or("?"))
        .collect();
    assert_eq!(
        kinds.iter().filter(|k| **k == "confirm_answered").count(),
        1,
        "{kinds:?}"
    );
}

#[test]
fn keys_expired_after_the_confirm_executed_settle_paid_without_a_second_charge() {
    let case = Case::start("f-expired-after-confirm");
    let args = Terminal::charge_args(&case.order);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    // The confirm executed at the gateway; the process died before journaling the answer.
    let crashed = case
        .terminal
        .run_crashing(&args, "after_confirm_before_result");
    assert!(
        crashed.code().is_none()
            && crashed
                .stderr
                .contains("crash point after_confirm_before_result"),
        "{crashed:?}"
    );
    case.env.advance_gateway_clock_ms(25 * 60 * 60 * 1000);
    case.settle();
    let truth = case.check_paid();
    // The terminal's clock says its key is still remembered, so it re-sends the confirm; the
    // gateway forgot the key and runs it again, refusing it on a succeeded intent; the connector
    // then retrieves the intent, whose status settles the attempt. Two executions, one charge.
    assert_eq!(case.confirm_executions(&truth), 2);
    let intents = truth.intents(&case.order.id);
    assert_eq!(intents[0]["charges"], 1, "one charge: {intents:?}");
    assert_eq!(intents[0]["succeeded_count"], 1, "{intents:?}");
}

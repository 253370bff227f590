//! The crash matrix: every named crash point × every gateway outcome. A `paydesk charge` child is
//! started with `PAYDESK_CRASH_AT=<point>` and must really abort there (SIGABRT and the point's
//! message); then `paydesk recover` and `paydesk sync` run over the same journal, and I1–I7 are
//! checked for that order against the sandbox ledger, the central and the journal (I8: the
//! journal verifies at the end). PayPal orders (a wallet that approves, a card that declines,
//! vaulted at the sandbox's PayPal side) go through the same matrix, each recovering to exactly
//! one completed capture, or none (issue 13, item 5).
//!
//! One central + sandbox per outcome, one order per crash point, cases in sequence; every red
//! case is collected so one run shows all of them. Deliberately absent: fault injection at the
//! gateway (see `faults.rs`) — here the only fault is the crash.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::harness::{exit, Env, EnvOptions, OrderSpec, Terminal};
use crate::invariants::{check_order, Expect, Truth};

/// Every crash point of the engine (`crates/engine/src/crash.rs`), in protocol order.
pub const CRASH_POINTS: [&str; 10] = [
    "after_claim",
    "after_intent_commit",
    "after_create_before_journal",
    "after_register",
    "after_confirm_sent",
    "before_confirm_request",
    "after_confirm_before_result",
    "after_result",
    "mid_relay",
    "mid_recovery",
];

/// The lease of the matrix's central: short, so the order abandoned at `after_claim` (nothing
/// journaled, nothing to recover) can be charged again within the test.
const MATRIX_LEASE_MS: i64 = 1_500;

/// SIGABRT: what `std::process::abort` ends the process with.
const SIGABRT: i32 = 6;

/// A gateway outcome, chosen by the order's saved payment method.
#[derive(Debug, Clone, Copy)]
pub struct Outcome {
    pub name: &'static str,
    pub payment_method: &'static str,
    /// The central's status once the result is applied.
    pub order_status: &'static str,
}

pub const SUCCEEDS: Outcome = Outcome {
    name: "visa",
    payment_method: "pm_card_visa",
    order_status: "paid",
};
pub const DECLINED: Outcome = Outcome {
    name: "declined",
    payment_method: "pm_card_chargeDeclined",
    order_status: "failed",
};
pub const REQUIRES_ACTION: Outcome = Outcome {
    name: "auth",
    payment_method: "pm_card_authenticationRequired",
    order_status: "needs_action",
};

/// A PayPal wallet vaulted at PayPal whose capture completes (the sandbox's `vault_approve`).
pub const PAYPAL_SUCCEEDS: Outcome = Outcome {
    name: "paypal-wallet",
    payment_method: "paypal:vault_approve",
    order_status: "paid",
};
/// A card vaulted at PayPal whose capture is `DECLINED` (the sandbox's `vault_decline`).
pub const PAYPAL_DECLINED: Outcome = Outcome {
    name: "paypal-card-declined",
    payment_method: "card:vault_decline",
    order_status: "failed",
};

#[test]
fn crash_matrix_card_succeeds() {
    crash_matrix(SUCCEEDS);
}

#[test]
fn crash_matrix_card_declined() {
    crash_matrix(DECLINED);
}

#[test]
fn crash_matrix_card_requires_action() {
    crash_matrix(REQUIRES_ACTION);
}

/// Issue 13, item 5: a PayPal order survives a crash at every point with exactly one capture.
#[test]
fn crash_matrix_paypal_wallet_succeeds() {
    crash_matrix(PAYPAL_SUCCEEDS);
}

/// Issue 13, item 5: a declined PayPal capture, crashed at every point, ends failed with none.
#[test]
fn crash_matrix_paypal_card_declined() {
    crash_matrix(PAYPAL_DECLINED);
}

/// A PayPal source (`paypal:…`, `card:…`) is charged through PayPal, not Stripe.
fn is_paypal(outcome: Outcome) -> bool {
    outcome.payment_method.contains(':')
}

fn crash_matrix(outcome: Outcome) {
    let started = Instant::now();
    let env = Env::start(EnvOptions {
        lease_ms: MATRIX_LEASE_MS,
        ..EnvOptions::default()
    });
    let terminal = env.terminal(&format!("matrix-{}", outcome.name));
    let orders: Vec<OrderSpec> = CRASH_POINTS
        .iter()
        .enumerate()
        .map(|(i, point)| {
            OrderSpec::new(
                format!("m-{}-{point}", outcome.name),
                1_000 + i as i64 * 111,
                outcome.payment_method,
            )
        })
        .collect();
    env.add_orders(&orders);

    let mut red = Vec::new();
    for (point, order) in CRASH_POINTS.iter().zip(&orders) {
        let violations = crash_case(&env, &terminal, point, order, outcome);
        if violations.is_empty() {
            eprintln!("ok   {point} × {}", outcome.name);
        } else {
            eprintln!("RED  {point} × {}", outcome.name);
            red.push(format!(
                "{point} × {}:\n    {}",
                outcome.name,
                violations.join("\n    ")
            ));
        }
    }
    let verify = terminal.run(&["journal", "verify"]);
    if verify.code() != Some(exit::SUCCESS) {
        red.push(format!("I8 the journal does not verify: {verify:?}"));
    }
    eprintln!(
        "crash matrix × {}: {} cases in {:.1} s",
        outcome.name,
        CRASH_POINTS.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(
        red.is_empty(),
        "{} of {} crash cases went red:\n{}",
        red.len(),
        CRASH_POINTS.len(),
        red.join("\n")
    );
}

/// Checks that `run` died at `point` (abort, not an exit code) and says what is wrong if not.
fn aborted_at(run: &crate::harness::Run, point: &str) -> Option<String> {
    let message = format!("crash point {point} reached");
    if run.code().is_none() && run.signal() == Some(SIGABRT) && run.stderr.contains(&message) {
        None
    } else {
        Some(format!("the child did not abort at {point}: {run:?}"))
    }
}

/// One case: crash at `point`, restart (recover, sync), check. Returns the violations.
fn crash_case(
    env: &Env,
    terminal: &Terminal,
    point: &str,
    order: &OrderSpec,
    outcome: Outcome,
) -> Vec<String> {
    let mut bad = Vec::new();
    let args = Terminal::charge_args(order);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    if point == "mid_recovery" {
        // Only recovery passes this point: leave an attempt open (crash after confirm-sent),
        // then crash the recovery that finishes it, before it syncs.
        let first = terminal.run_crashing(&args, "after_confirm_sent");
        bad.extend(aborted_at(&first, "after_confirm_sent"));
        let recovering = terminal.run_crashing(&["--json", "recover"], point);
        bad.extend(aborted_at(&recovering, point));
    } else {
        let crashed = terminal.run_crashing(&args, point);
        bad.extend(aborted_at(&crashed, point));
    }

    // The restart: recovery over the same journal, then the outbox.
    let recovered = terminal.recover();
    if recovered.code() != Some(exit::SUCCESS) {
        bad.push(format!("recover did not finish cleanly: {recovered:?}"));
    }
    let synced = terminal.sync();
    if synced.code() != Some(exit::SUCCESS) {
        bad.push(format!("sync failed: {synced:?}"));
    }

    if point == "after_claim" {
        // Nothing was journaled, so nothing is recovered: the claim simply runs out. Prove the
        // order is not stuck by charging it again once the lease has passed, and that the
        // abandoned claim's token is fenced off (I5).
        let again = charge_when_free(terminal, order);
        let want = match outcome.order_status {
            "paid" => exit::SUCCESS,
            _ => exit::REFUSED,
        };
        if again.code() != Some(want) {
            bad.push(format!("the charge after the lease ran out: {again:?}"));
        }
        bad.extend(stale_token_is_refused(env, terminal, &order.id, 1, 1));
    }

    bad.extend(sync_again_changes_nothing(env, terminal, &order.id));
    let truth = Truth::gather(env, &[terminal]);
    if is_paypal(outcome) {
        bad.extend(paypal_captures(
            &truth,
            &env.order(&order.id),
            order,
            outcome,
        ));
    }
    bad.extend(check_order(
        &truth,
        &env.order(&order.id),
        order,
        Expect::Status(outcome.order_status),
    ));
    bad
}

/// Charges `order`, retrying while another claim (ours, abandoned) still holds it; bounded by
/// the lease plus a margin.
pub fn charge_when_free(terminal: &Terminal, order: &OrderSpec) -> crate::harness::Run {
    let deadline = Instant::now() + Duration::from_millis(MATRIX_LEASE_MS as u64 + 10_000);
    loop {
        let run = terminal.charge(order);
        if run.code() != Some(exit::CONFLICT) || Instant::now() >= deadline {
            return run;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// I5: a decision under an old claim token is refused by the central.
pub fn stale_token_is_refused(
    env: &Env,
    terminal: &Terminal,
    order: &str,
    stale_token: u64,
    stale_attempt: u64,
) -> Vec<String> {
    let (status, body) = env.central_request(
        reqwest::Method::POST,
        &format!("/v1/orders/{order}/intent"),
        &terminal.token,
        Some(json!({
            "claim_token": stale_token,
            "attempt_number": stale_attempt,
            "intent_id": "pi_stale_probe",
        })),
    );
    let code = body["error"]["code"].as_str().or(body["code"].as_str());
    if status == 409 && code == Some("stale_claim_token") {
        Vec::new()
    } else {
        vec![format!(
            "I5 registering under the stale token {stale_token} of {order} was answered {status} {body}"
        )]
    }
}

/// I6: delivering again applies nothing — `paydesk sync` finds nothing to deliver and the
/// central's results inbox does not grow.
pub fn sync_again_changes_nothing(env: &Env, terminal: &Terminal, order: &str) -> Vec<String> {
    let mut bad = Vec::new();
    let count = |env: &Env| {
        env.db.count(&format!(
            "SELECT count(*) FROM results WHERE order_id = '{order}'"
        ))
    };
    let before = count(env);
    let again = terminal.sync();
    if again.code() != Some(exit::SUCCESS) || again.json()["sync"]["delivered"] != 0 {
        bad.push(format!("I6 a second sync delivered again: {again:?}"));
    }
    let after = count(env);
    if before != after {
        bad.push(format!(
            "I6 the results of {order} went from {before} to {after} rows on a second sync"
        ));
    }
    bad
}

/// A PayPal order went through PayPal only, and recovered to exactly one completed capture (the
/// one the central's order is paid by) when it approves, or to none when it declines.
fn paypal_captures(
    truth: &Truth,
    central: &serde_json::Value,
    order: &OrderSpec,
    outcome: Outcome,
) -> Vec<String> {
    let intents = truth.intents(&order.id);
    let mut bad = Vec::new();
    if intents.is_empty() {
        bad.push(format!("{} has no PayPal order in the ledger", order.id));
    }
    if let Some(other) = intents.iter().find(|i| i["gateway"] != "paypal") {
        bad.push(format!("{} went to another gateway: {other}", order.id));
    }
    let captured: Vec<&&serde_json::Value> = intents
        .iter()
        .filter(|i| i["status"] == "succeeded")
        .collect();
    // Completed captures over all of the order's PayPal orders (a PayPal order may hold several).
    let captures: i64 = intents
        .iter()
        .map(|i| i["succeeded_count"].as_i64().unwrap_or(0))
        .sum();
    let want = i64::from(outcome.order_status == "paid");
    if captures != want || captured.len() as i64 != want {
        bad.push(format!(
            "{} has {captures} completed PayPal captures, not {want}: {intents:?}",
            order.id
        ));
    }
    if let Some(capture) = captured.first() {
        let paid_by = &central["order"]["paid_intent_id"];
        if capture["id"] != *paid_by {
            bad.push(format!(
                "{} is paid by {paid_by} at the central, captured as {} at PayPal",
                order.id, capture["id"]
            ));
        }
    }
    bad
}

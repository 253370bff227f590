//! The invariants I1–I7 of BRIEF.md, checked per order against ground truth: the sandbox's ledger
//! (what the gateway really did, Stripe's and PayPal's: each PayPal order is read as an intent
//! — paid when a capture holds money, its attempt from `custom_id`, its order from `invoice_id` —
//! and each `PayPal-Request-Id` as an idempotency key, so I1–I7 hold for PayPal orders by the
//! same checks), the central's view of the order (`GET /v1/orders/{id}`) and
//! every terminal's own journal (`paydesk journal list --json`).
//!
//! Each check returns the violations as sentences starting with the invariant's name, so a
//! matrix can collect them for every case and report all red cases at once. Deliberately absent:
//! any driving of the system (the tests do that) and any trust in what the product says about
//! itself beyond its journal and the central's records.

use serde_json::{json, Value};

use crate::harness::{Env, OrderSpec, Terminal};

/// Order states the central may end in once every fault has healed (I4).
pub const SETTLED: [&str; 4] = ["paid", "failed", "needs_action", "needs_review"];
/// Journal states from which no automatic step follows.
const JOURNAL_RESTING: [&str; 5] = [
    "succeeded",
    "declined",
    "requires_action",
    "canceled",
    "needs_review",
];

/// Everything the checks read, gathered once.
pub struct Truth {
    pub ledger: Value,
    /// (terminal id, its journal's attempts).
    pub journals: Vec<(String, Vec<Value>)>,
}

impl Truth {
    pub fn gather(env: &Env, terminals: &[&Terminal]) -> Truth {
        Truth {
            ledger: with_paypal(env.ledger()),
            journals: terminals
                .iter()
                .map(|t| (t.id.clone(), t.attempts()))
                .collect(),
        }
    }

    /// The ledger's intents whose metadata names `order`.
    pub fn intents(&self, order: &str) -> Vec<&Value> {
        self.ledger["intents"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter(|i| i["metadata"]["order_id"] == order)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Every journal attempt for `order`, with the terminal it lives on.
    pub fn attempts(&self, order: &str) -> Vec<(&str, &Value)> {
        self.journals
            .iter()
            .flat_map(|(t, attempts)| {
                attempts
                    .iter()
                    .filter(move |a| a["order"] == order)
                    .map(move |a| (t.as_str(), a))
            })
            .collect()
    }

    /// Idempotency keys the gateway saw on creates for `order`.
    pub fn create_keys(&self, order: &str) -> Vec<&Value> {
        let needle = format!(":create:{order}:");
        self.ledger["idempotency_keys"]
            .as_array()
            .map(|keys| {
                keys.iter()
                    .filter(|k| {
                        (k["first_request"] == "POST /v1/payment_intents"
                            || k["first_request"] == PAYPAL_CREATE)
                            && k["key"].as_str().is_some_and(|key| key.contains(&needle))
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The usage records of `key` and of its numbered successors (`{key}:{k}`).
    pub fn keys_of(&self, key: &str) -> Vec<&Value> {
        let numbered = format!("{key}:");
        self.ledger["idempotency_keys"]
            .as_array()
            .map(|keys| {
                keys.iter()
                    .filter(|k| {
                        k["key"]
                            .as_str()
                            .is_some_and(|s| s == key || s.starts_with(&numbered))
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The usage record of one idempotency key.
    pub fn key(&self, key: &str) -> Option<&Value> {
        self.ledger["idempotency_keys"]
            .as_array()
            .and_then(|keys| keys.iter().find(|k| k["key"] == key))
    }
}

/// The sandbox's PayPal ledger in the shapes the checks read Stripe's in: each PayPal order as an
/// intent (succeeded when a capture holds money, `succeeded_count` its captures that do), each
/// `PayPal-Request-Id` as an idempotency key (a create's first request named as PayPal's).
fn with_paypal(mut ledger: Value) -> Value {
    let paypal = ledger["paypal"].clone();
    let mut intents = ledger["intents"].as_array().cloned().unwrap_or_default();
    for o in paypal["orders"].as_array().into_iter().flatten() {
        let paid = o["captures"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|c| {
                matches!(
                    c["status"].as_str(),
                    Some("COMPLETED" | "PARTIALLY_REFUNDED" | "REFUNDED")
                )
            })
            .count();
        let mut custom = o["custom_id"].as_str().unwrap_or("").splitn(3, '|');
        let status = if paid > 0 {
            "succeeded".to_string()
        } else {
            o["status"].as_str().unwrap_or("?").to_ascii_lowercase()
        };
        intents.push(json!({
            "id": o["id"], "status": status, "succeeded_count": paid,
            "amount": o["amount_minor"], "currency": o["currency"],
            "metadata": {
                "order_id": o["invoice_id"], "attempt_id": custom.next(),
                "attempt_number": custom.next(), "terminal_id": custom.next(),
            },
            "gateway": "paypal",
        }));
    }
    let mut keys = ledger["idempotency_keys"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for (key, usage) in paypal["request_ids"].as_object().into_iter().flatten() {
        let first = if key.contains(":create:") {
            PAYPAL_CREATE
        } else {
            "POST /v2/paypal"
        };
        keys.push(json!({ "key": key, "first_request": first, "executions": usage["executions"] }));
    }
    ledger["intents"] = Value::Array(intents);
    ledger["idempotency_keys"] = Value::Array(keys);
    ledger
}

/// How a PayPal create's request id is named among the keys.
const PAYPAL_CREATE: &str = "POST /v2/checkout/orders";

/// What the order must end as, when the test knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// This central status (paid, failed, needs_action, needs_review).
    Status(&'static str),
    /// Settled, or unpaid with no claim held and no success at the gateway (an order nobody
    /// finished charging, e.g. killed before anything was journaled, whose lease ran out).
    SettledOrUntouched,
}

/// Checks I1–I7 for one order; `central` is its `GET /v1/orders/{id}` body.
pub fn check_order(
    truth: &Truth,
    central: &Value,
    order: &OrderSpec,
    expect: Expect,
) -> Vec<String> {
    let mut bad = Vec::new();
    let id = order.id.as_str();
    let intents = truth.intents(id);
    let attempts = truth.attempts(id);
    let status = central["order"]["status"].as_str().unwrap_or("?");
    let results = central["results"].as_array().cloned().unwrap_or_default();
    let successes: Vec<&&Value> = intents
        .iter()
        .filter(|i| i["status"] == "succeeded")
        .collect();

    // I1 (with installments, issue 12): per order the succeeded total never exceeds the order's
    // amount, per installment at most one success (the central's applied successes name
    // distinct installments), and never two intents for one (order, attempt number): a second
    // one means a key was not reused. An order charged in full at once has one success.
    let succeeded_total: i64 = successes
        .iter()
        .map(|i| i["amount"].as_i64().unwrap_or(i64::MAX / 4))
        .sum();
    if succeeded_total > order.minor {
        bad.push(format!(
            "I1 double charge: {} succeeded intents for {id} add up to {succeeded_total}, more \
             than its {}",
            successes.len(),
            order.minor
        ));
    }
    let mut installments: Vec<i64> = results
        .iter()
        .filter(|r| r["outcome"] == "succeeded" && r["status"] == "applied")
        .map(|r| r["installment"].as_i64().unwrap_or(1))
        .collect();
    installments.sort_unstable();
    if installments.windows(2).any(|w| w[0] == w[1]) {
        bad.push(format!(
            "I1 two applied successes for one installment of {id}: {installments:?}"
        ));
    }
    for i in &intents {
        if i["succeeded_count"].as_i64().unwrap_or(0) > 1 {
            bad.push(format!(
                "I1 intent {} succeeded {} times",
                i["id"], i["succeeded_count"]
            ));
        }
        if i["amount"].as_i64().unwrap_or(i64::MAX) > order.minor
            || i["currency"]
                .as_str()
                .map(str::to_ascii_uppercase)
                .as_deref()
                != Some(order.currency)
        {
            bad.push(format!(
                "I1 intent {} is for {} {} but the order is {} {}",
                i["id"], i["amount"], i["currency"], order.minor, order.currency
            ));
        }
    }
    let mut numbers: Vec<&str> = intents
        .iter()
        .filter_map(|i| i["metadata"]["attempt_number"].as_str())
        .collect();
    numbers.sort_unstable();
    for pair in numbers.windows(2) {
        if pair[0] == pair[1] {
            bad.push(format!(
                "I1 two gateway intents for {id} attempt #{}: the create was not de-duplicated",
                pair[0]
            ));
        }
    }

    // I2: every success is a succeeded attempt in a journal and a succeeded result at the central.
    for s in &successes {
        let intent = &s["id"];
        if !attempts
            .iter()
            .any(|(_, a)| a["intent_id"] == *intent && a["state"] == "succeeded")
        {
            bad.push(format!(
                "I2 gateway success {intent} of {id} is not a succeeded attempt in any journal"
            ));
        }
        if !results
            .iter()
            .any(|r| r["intent_id"] == *intent && r["outcome"] == "succeeded")
        {
            bad.push(format!(
                "I2 gateway success {intent} of {id} never reached the central"
            ));
        }
    }

    // I3: paid at the central only with a matching success at the gateway.
    if status == "paid" {
        let paid = &central["order"]["paid_intent_id"];
        if !successes.iter().any(|s| s["id"] == *paid) {
            bad.push(format!(
                "I3 {id} is paid at the central through {paid}, which is no success at the gateway"
            ));
        }
    }
    for r in results.iter().filter(|r| r["outcome"] == "succeeded") {
        if !successes.iter().any(|s| s["id"] == r["intent_id"]) {
            bad.push(format!(
                "I3 the central holds a success of {id} through {} the gateway does not know",
                r["intent_id"]
            ));
        }
    }

    // I4: nothing stuck — the order settled and every journal attempt rests.
    let claimed = !central["order"]["claim"].is_null();
    let settled = SETTLED.contains(&status);
    match expect {
        Expect::Status(want) if status != want => bad.push(format!(
            "I4 {id} is {status} at the central, expected {want}"
        )),
        Expect::SettledOrUntouched
            if !settled && (status != "unpaid" || claimed || !successes.is_empty()) =>
        {
            bad.push(format!(
                "I4 {id} is stuck: {status}, claim {}, {} gateway successes",
                central["order"]["claim"],
                successes.len()
            ))
        }
        _ => {}
    }
    for (t, a) in &attempts {
        let state = a["state"].as_str().unwrap_or("?");
        if !JOURNAL_RESTING.contains(&state) {
            bad.push(format!(
                "I4 attempt {} of {id} on {t} is stuck in {state}",
                a["id"]
            ));
        }
    }

    // I5: whatever the central registered was registered under the claim the attempt held.
    for reg in central["intents"].as_array().into_iter().flatten() {
        let owner = intents
            .iter()
            .find(|i| i["id"] == reg["intent_id"])
            .and_then(|i| {
                attempts
                    .iter()
                    .find(|(_, a)| a["id"] == i["metadata"]["attempt_id"])
            });
        match owner {
            Some((_, a))
                if a["claim_token"] == reg["claim_token"]
                    && a["number"] == reg["attempt_number"] => {}
            _ => bad.push(format!(
                "I5 the central registered {} for {id} under token {} / attempt {} that no \
                 journal attempt with that intent held",
                reg["intent_id"], reg["claim_token"], reg["attempt_number"]
            )),
        }
    }

    // I6: one stored result per attempt, each for an attempt a journal holds in that outcome.
    let mut seen = std::collections::HashSet::new();
    for r in &results {
        let attempt = r["attempt_id"].as_str().unwrap_or("?");
        if !seen.insert(attempt.to_string()) {
            bad.push(format!(
                "I6 the central stored attempt {attempt} of {id} twice"
            ));
        }
        match attempts.iter().find(|(_, a)| a["id"] == attempt) {
            Some((_, a)) if a["state"] == r["outcome"] => {}
            Some((t, a)) => bad.push(format!(
                "I6 result {attempt} of {id} says {} but the journal on {t} says {}",
                r["outcome"], a["state"]
            )),
            None => bad.push(format!(
                "I6 result {attempt} of {id} belongs to no journal attempt"
            )),
        }
    }
    for (t, a) in &attempts {
        let state = a["state"].as_str().unwrap_or("?");
        let reported = results.iter().any(|r| r["attempt_id"] == a["id"]);
        if state != "needs_review" && JOURNAL_RESTING.contains(&state) && !reported {
            bad.push(format!(
                "I6 the {state} attempt {} of {id} on {t} never reached the central",
                a["id"]
            ));
        }
    }

    // I7: nothing reached the gateway that a journal does not know — each intent belongs to a
    // journaled attempt that knows it by id, and each create key is a journaled attempt's key.
    for i in &intents {
        let known = attempts
            .iter()
            .any(|(_, a)| a["id"] == i["metadata"]["attempt_id"] && a["intent_id"] == i["id"]);
        if !known {
            bad.push(format!(
                "I7 gateway intent {} ({}) of {id} is known to no journal attempt",
                i["id"], i["status"]
            ));
        }
    }
    // The other direction keeps every check above honest: each intent a journal names exists
    // at the gateway, for this order and attempt.
    for (t, a) in &attempts {
        if let Some(intent) = a["intent_id"].as_str() {
            let found = intents
                .iter()
                .any(|i| i["id"] == intent && i["metadata"]["attempt_id"] == a["id"]);
            if !found {
                bad.push(format!(
                    "ground truth: attempt {} of {id} on {t} names intent {intent}, which the \
                     gateway does not hold for that attempt",
                    a["id"]
                ));
            }
        }
    }
    for i in &intents {
        // The intent's confirm keys: the first, and the numbered ones taken after a lookup showed
        // it still confirmable (`paydesk:confirm:{intent}:{k}`).
        let key = format!("paydesk:confirm:{}", i["id"].as_str().unwrap_or("?"));
        let executed = truth
            .keys_of(&key)
            .iter()
            .any(|k| k["executions"].as_i64().unwrap_or(0) > 0);
        let journaled = attempts
            .iter()
            .any(|(_, a)| a["intent_id"] == i["id"] && !a["confirm_sent_at"].is_null());
        if executed && !journaled {
            bad.push(format!(
                "I7 intent {} of {id} was confirmed but no journal recorded the confirm as sent",
                i["id"]
            ));
        }
    }
    for k in truth.create_keys(id) {
        // An attempt's create keys: its first, and the numbered ones it took after the gateway
        // showed no intent for it (`{create_key}:{k}` with k up to its `create_retry`).
        let owned = |a: &Value| {
            let first = a["create_key"].as_str().unwrap_or("?");
            let key = k["key"].as_str().unwrap_or("");
            key == first
                || key
                    .strip_prefix(first)
                    .and_then(|rest| rest.strip_prefix(':'))
                    .and_then(|n| n.parse::<u64>().ok())
                    .is_some_and(|n| n <= a["create_retry"].as_u64().unwrap_or(0))
        };
        if !attempts.iter().any(|(_, a)| owned(a)) {
            bad.push(format!(
                "I7 create key {} reached the gateway but no journal holds it",
                k["key"]
            ));
        }
        if k["executions"].as_i64().unwrap_or(0) > 1 {
            bad.push(format!(
                "I7 create key {} executed {} times",
                k["key"], k["executions"]
            ));
        }
    }
    bad
}

/// Panics with every violation, one per line.
pub fn assert_clean(what: &str, violations: &[String]) {
    assert!(
        violations.is_empty(),
        "{what}: {} invariant violation(s):\n  {}",
        violations.len(),
        violations.join("\n  ")
    );
}

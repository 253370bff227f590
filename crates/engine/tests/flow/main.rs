//! The engine's charge flow, recovery and relay against the real sandbox gateway (a real HTTP
//! server speaking Stripe's wire format) and a real journal file, with an in-memory double of the
//! central (`mem_central.rs`; the real central and the cross-process crash matrix are the system
//! tests' job). The relay tests run on a `ManualClock` with seeded jitter, so they never sleep.
//!
//! Every test checks the sandbox's ledger — the gateway's ground truth — for "at most one success
//! per order" and "every success is in the journal".

mod durable_first;
mod mem_central;
mod stored_errors;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use paydesk_core::{
    AttemptEvent, AttemptState, CreateOutcome, CustomerId, Money, NewAttempt, OperatorId, OrderId,
    RegisterOutcome, TerminalId, Timestamp,
};
use paydesk_engine::{
    new_attempt_id, CachedOrder, Central, ChargeRequest, ClaimRequest, Clock, Engine, EngineConfig,
    EngineError, ManualClock, OfflineAllowance, OfflinePolicy, OfflineRefusal, OrderStatus,
    Progress, RelayOutcome, SystemClock,
};
use paydesk_gateway::{
    ApiKey, ConfirmRequest, CreateIntentRequest, Gateway, IntentMetadata, StripeConfig,
    StripeGateway,
};
use paydesk_journal::{AttemptFilter, Journal};
use serde_json::Value;

use mem_central::MemCentral;

// ---- harness --------------------------------------------------------------------------------

const API_KEY: &str = "sk_test_paydesk_engine";

/// Seeds the relay's backoff jitter in the tests that drive it: any fixed value makes every retry
/// time the same on every run.
const JITTER_SEED: u64 = 0x5eed_7e57;

/// Where a [`ManualClock`] starts: an arbitrary fixed instant (2024-01-01T00:00:00Z), so the
/// tests that run on it never depend on the time of day.
const MANUAL_CLOCK_START_MS: i64 = 1_704_067_200_000;

struct Harness {
    sandbox: paydesk_sandbox::SandboxHandle,
    http: reqwest::Client,
    gateway: Arc<dyn Gateway>,
    central: Arc<MemCentral>,
    dir: tempfile::TempDir,
}

impl Harness {
    async fn new(orders: &[(&str, &str, &str)]) -> Harness {
        let sandbox = paydesk_sandbox::spawn(paydesk_sandbox::SandboxConfig::default())
            .await
            .unwrap();
        let config = StripeConfig {
            request_timeout_ms: 3_000,
            backoff_ms_base: 5,
            backoff_ms_max: 20,
            ..StripeConfig::with_base_url(sandbox.base_url.clone())
        };
        let gateway = Arc::new(StripeGateway::new(ApiKey::new(API_KEY).unwrap(), config).unwrap());
        Harness {
            sandbox,
            http: reqwest::Client::new(),
            gateway,
            central: MemCentral::with_orders(orders),
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn journal_path(&self) -> std::path::PathBuf {
        self.dir.path().join("journal.sqlite")
    }

    /// An engine over this harness's journal file (open it again to simulate a restart).
    fn engine(&self) -> Engine {
        let mut config = EngineConfig::new(TerminalId::new("till-1").unwrap());
        config.ambiguous_backoff_ms_base = 5;
        Engine::new(
            Journal::open(&self.journal_path()).unwrap(),
            Arc::clone(&self.gateway),
            Arc::clone(&self.central) as Arc<dyn Central>,
            Arc::new(SystemClock),
            config,
        )
    }

    /// [`Harness::engine`] on a clock that moves only when the test moves it, with seeded relay
    /// jitter: the relay tests step through backoff by advancing `clock`, never by sleeping.
    fn engine_on(&self, clock: Arc<ManualClock>) -> Engine {
        let mut config = EngineConfig::new(TerminalId::new("till-1").unwrap());
        config.ambiguous_backoff_ms_base = 5;
        config.jitter_seed = Some(JITTER_SEED);
        Engine::new(
            Journal::open(&self.journal_path()).unwrap(),
            Arc::clone(&self.gateway),
            Arc::clone(&self.central) as Arc<dyn Central>,
            clock,
            config,
        )
    }

    async fn fault(&self, spec: &str) {
        let r = self
            .http
            .post(format!("{}/admin/faults", self.sandbox.base_url))
            .json(&serde_json::json!({ "spec": spec }))
            .send()
            .await
            .unwrap();
        assert!(
            r.status().is_success(),
            "{spec}: {}",
            r.text().await.unwrap()
        );
    }

    async fn ledger(&self) -> Value {
        self.http
            .get(format!("{}/admin/ledger", self.sandbox.base_url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Ground truth: per order, the ids of intents that succeeded at the gateway.
    async fn successes(&self) -> HashMap<String, Vec<String>> {
        let ledger = self.ledger().await;
        let mut out: HashMap<String, Vec<String>> = HashMap::new();
        for intent in ledger["intents"].as_array().unwrap() {
            if intent["status"] == "succeeded" {
                let order = intent["metadata"]["order_id"].as_str().unwrap().to_string();
                out.entry(order)
                    .or_default()
                    .push(intent["id"].as_str().unwrap().to_string());
            }
        }
        out
    }

    async fn intents_of(&self, order: &str) -> usize {
        let ledger = self.ledger().await;
        ledger["intents"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["metadata"]["order_id"] == order)
            .count()
    }

    /// I1 and I2 against the ledger: at most one success per order (every order here is charged
    /// in full at once, one installment, so that is I1's "per installment at most one success,
    /// never more than the amount"), and each success is a succeeded attempt in the journal with
    /// that intent id.
    async fn check_invariants(&self, engine: &Engine) {
        let attempts = engine.attempts(AttemptFilter::default()).await.unwrap();
        for (order, intents) in self.successes().await {
            assert_eq!(
                intents.len(),
                1,
                "order {order} succeeded {intents:?} times"
            );
            let journaled = attempts.iter().any(|a| {
                a.state == AttemptState::Succeeded
                    && a.intent_id.as_ref().map(|i| i.as_str()) == Some(intents[0].as_str())
            });
            assert!(
                journaled,
                "success {} of {order} is not in the journal",
                intents[0]
            );
        }
    }
}

fn request(order: &str, amount: &str) -> ChargeRequest {
    ChargeRequest {
        order: OrderId::new(order).unwrap(),
        operator: OperatorId::new("op-anna").unwrap(),
        expected_amount: Money::parse(amount).unwrap(),
    }
}

fn quiet(_: Progress) {}

fn manual_clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(Timestamp::from_unix_ms(
        MANUAL_CLOCK_START_MS,
    )))
}

/// Moves `clock` to `at` (the relay's next try time), so the batch waiting for it is due.
fn advance_to(clock: &ManualClock, at: Timestamp) {
    clock.advance_ms(at.millis_since(clock.now()).max(0));
}

// ---- tests ----------------------------------------------------------------------------------

#[tokio::test]
async fn a_charge_succeeds_once_and_its_result_reaches_the_central_once() {
    let h = Harness::new(&[("ORD-1", "12.34 EUR", "pm_card_visa")]).await;
    let engine = h.engine();
    let seen = Mutex::new(Vec::new());
    let report = engine
        .charge(&request("ORD-1", "12.34 EUR"), &|p| {
            seen.lock().unwrap().push(p)
        })
        .await
        .unwrap();
    assert_eq!(report.state(), AttemptState::Succeeded);
    assert!(report.pending.is_none());
    let steps: Vec<String> = seen
        .lock()
        .unwrap()
        .iter()
        .filter_map(|p| match p {
            Progress::Step { state, .. } => Some(state.to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(
        steps,
        [
            "intent",
            "created",
            "registered",
            "confirm_sent",
            "succeeded"
        ]
    );
    h.check_invariants(&engine).await;
    assert_eq!(h.successes().await["ORD-1"].len(), 1);

    assert_eq!(
        engine.relay_once().await.unwrap(),
        RelayOutcome::Sent {
            delivered: 1,
            parked: 0
        }
    );
    assert_eq!(engine.relay_once().await.unwrap(), RelayOutcome::Empty);
    assert_eq!(h.central.status("ORD-1"), OrderStatus::Paid);
    assert_eq!(h.central.results(), 1);
}

#[tokio::test]
async fn declines_and_authentication_end_the_attempt_without_money() {
    let h = Harness::new(&[
        (
            "ORD-D",
            "5.00 EUR",
            "pm_card_chargeDeclinedInsufficientFunds",
        ),
        ("ORD-A", "7.00 EUR", "pm_card_authenticationRequired"),
    ])
    .await;
    let engine = h.engine();
    let d = engine
        .charge(&request("ORD-D", "5.00 EUR"), &quiet)
        .await
        .unwrap();
    assert_eq!(d.state(), AttemptState::Declined);
    // The decline code and the issuer's advice (the sandbox passes Stripe's advice_code on).
    assert_eq!(
        d.attempt.reason.as_deref(),
        Some("insufficient_funds advice:try_again_later")
    );
    let a = engine
        .charge(&request("ORD-A", "7.00 EUR"), &quiet)
        .await
        .unwrap();
    assert_eq!(a.state(), AttemptState::RequiresAction);
    assert!(h.successes().await.is_empty());
    engine.relay_once().await.unwrap();
    assert_eq!(h.central.status("ORD-D"), OrderStatus::Failed);
    assert_eq!(h.central.status("ORD-A"), OrderStatus::NeedsAction);
}

#[tokio::test]
async fn a_second_operator_is_told_who_holds_the_order() {
    let h = Harness::new(&[("ORD-H", "9.99 USD", "pm_card_visa")]).await;
    h.central
        .claim(&ClaimRequest {
            order: OrderId::new("ORD-H").unwrap(),
            operator: OperatorId::new("op-bela").unwrap(),
            terminal: TerminalId::new("till-2").unwrap(),
        })
        .await
        .unwrap();
    let engine = h.engine();
    let err = engine
        .charge(&request("ORD-H", "9.99 USD"), &quiet)
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("op-bela") && text.contains("till-2"),
        "{text}"
    );
    assert!(engine
        .attempts(AttemptFilter::default())
        .await
        .unwrap()
        .is_empty());
    assert_eq!(h.intents_of("ORD-H").await, 0);
}

#[tokio::test]
async fn a_changed_amount_stops_before_anything_is_journaled_and_frees_the_order() {
    let h = Harness::new(&[("ORD-C", "20.00 EUR", "pm_card_visa")]).await;
    let engine = h.engine();
    let err = engine
        .charge(&request("ORD-C", "10.00 EUR"), &quiet)
        .await
        .unwrap_err();
    assert!(matches!(err, EngineError::AmountChanged { .. }), "{err}");
    assert!(engine
        .attempts(AttemptFilter::default())
        .await
        .unwrap()
        .is_empty());
    assert_eq!(h.intents_of("ORD-C").await, 0);
    // The claim was released: charging with the right amount works at once.
    let ok = engine
        .charge(&request("ORD-C", "20.00 EUR"), &quiet)
        .await
        .unwrap();
    assert_eq!(ok.state(), AttemptState::Succeeded);
}

#[tokio::test]
async fn a_lost_confirm_response_is_settled_by_evidence_not_by_a_second_charge() {
    let h = Harness::new(&[("ORD-L", "30.00 EUR", "pm_card_visa")]).await;
    h.fault("confirm:drop_after_execute:1").await;
    let engine = h.engine();
    let report = engine
        .charge(&request("ORD-L", "30.00 EUR"), &quiet)
        .await
        .unwrap();
    assert_eq!(report.state(), AttemptState::Succeeded);
    assert!(report.attempt.unknown_checks >= 1, "{:?}", report.attempt);
    h.check_invariants(&engine).await;
    assert_eq!(h.intents_of("ORD-L").await, 1);
}

#[tokio::test]
async fn a_lost_create_response_finds_the_same_intent_again() {
    let h = Harness::new(&[("ORD-K", "4.00 GBP", "pm_card_visa")]).await;
    h.fault("create:drop_after_execute:1").await;
    let engine = h.engine();
    let report = engine
        .charge(&request("ORD-K", "4.00 GBP"), &quiet)
        .await
        .unwrap();
    assert_eq!(report.state(), AttemptState::Succeeded);
    assert_eq!(
        h.intents_of("ORD-K").await,
        1,
        "the re-sent create made a second intent"
    );
    h.check_invariants(&engine).await;
}

#[tokio::test]
async fn a_persistent_gateway_failure_leaves_the_attempt_pending_never_failed() {
    let h = Harness::new(&[("ORD-5", "1.00 EUR", "pm_card_visa")]).await;
    h.fault("confirm:http_500_after_execute:1").await;
    h.fault("retrieve:http_500:20").await;
    let engine = h.engine();
    let report = engine
        .charge(&request("ORD-5", "1.00 EUR"), &quiet)
        .await
        .unwrap();
    assert!(
        matches!(report.state(), AttemptState::Unknown),
        "{:?}",
        report.attempt
    );
    assert!(report
        .pending
        .unwrap()
        .contains("do not charge the order again"));
    // Nothing went to the outbox: an unknown is not a result.
    assert_eq!(engine.relay_once().await.unwrap(), RelayOutcome::Empty);

    // The gateway heals; recovery settles it from the evidence (the charge did happen).
    let reset = h
        .http
        .delete(format!("{}/admin/faults", h.sandbox.base_url))
        .send()
        .await
        .unwrap();
    assert!(reset.status().is_success());
    let recovered = engine.recover(&quiet).await;
    assert_eq!(recovered.finished, 1, "{recovered:?}");
    h.check_invariants(&engine).await;
    assert_eq!(h.successes().await["ORD-5"].len(), 1);
}

#[tokio::test]
async fn central_down_before_register_then_restart_and_recover() {
    let h = Harness::new(&[("ORD-R", "15.00 EUR", "pm_card_visa")]).await;
    {
        let engine = h.engine();
        // The central answers the claim, then goes away before the registration.
        let claim_then_down = async {
            let report = engine
                .charge(&request("ORD-R", "15.00 EUR"), &|p| {
                    if matches!(
                        p,
                        Progress::Step {
                            state: AttemptState::Intent,
                            ..
                        }
                    ) {
                        h.central.set_down(true);
                    }
                })
                .await
                .unwrap();
            assert_eq!(report.state(), AttemptState::Created);
            assert!(report.pending.unwrap().contains("nothing was charged"));
        };
        claim_then_down.await;
        assert!(h.successes().await.is_empty());
        // The engine (and its journal lock) is dropped here: a restart.
    }
    h.central.set_down(false);
    let engine = h.engine();
    let report = engine.recover(&quiet).await;
    assert_eq!(report.finished, 1, "{report:?}");
    h.check_invariants(&engine).await;
    assert_eq!(h.successes().await["ORD-R"].len(), 1);
}

/// Puts an attempt in `confirm_sent` as a process would leave it when it died right after the
/// durable confirm-sent, optionally after the confirm reached the gateway.
async fn crashed_after_confirm_sent(
    h: &Harness,
    order: &str,
    confirm_reached_gateway: bool,
    age_ms: i64,
) {
    let claim = h
        .central
        .claim(&ClaimRequest {
            order: OrderId::new(order).unwrap(),
            operator: OperatorId::new("op-anna").unwrap(),
            terminal: TerminalId::new("till-1").unwrap(),
        })
        .await
        .unwrap();
    let mut journal = Journal::open(&h.journal_path()).unwrap();
    let now = SystemClock.now().plus_ms(-age_ms);
    let new = NewAttempt {
        id: new_attempt_id(now),
        order: claim.order.id.clone(),
        number: claim.attempt_number,
        installment: paydesk_core::InstallmentNumber::FIRST,
        claim_token: claim.token,
        amount: claim.order.amount,
        customer: None::<CustomerId>,
        payment_method: claim.order.payment_method.clone(),
        operator: OperatorId::new("op-anna").unwrap(),
        terminal: TerminalId::new("till-1").unwrap(),
        offline: false,
    };
    let (attempt, _) = journal.begin_attempt(new, now).unwrap();
    let created = h
        .gateway
        .create_intent(&CreateIntentRequest {
            amount: attempt.amount,
            customer: None,
            payment_method: attempt.payment_method.to_string(),
            off_session: true,
            metadata: IntentMetadata {
                order: attempt.order.clone(),
                attempt: attempt.id,
                attempt_number: attempt.number,
                terminal: attempt.terminal.clone(),
            },
            key: attempt.create_key.clone(),
        })
        .await
        .unwrap();
    let intent = match created.outcome() {
        CreateOutcome::Created { intent } => intent,
        other => panic!("{other:?}"),
    };
    journal
        .apply(
            &attempt.id,
            &AttemptEvent::CreateAnswered(CreateOutcome::Created {
                intent: intent.clone(),
            }),
            now,
        )
        .unwrap();
    h.central
        .register_intent(&attempt.order, attempt.claim_token, attempt.number, &intent)
        .await
        .unwrap();
    journal
        .apply(
            &attempt.id,
            &AttemptEvent::RegisterAnswered(RegisterOutcome::Accepted),
            now,
        )
        .unwrap();
    let (confirm_sent, _) = journal
        .apply(&attempt.id, &AttemptEvent::ConfirmBegun, now)
        .unwrap();
    if confirm_reached_gateway {
        h.gateway
            .confirm_intent(&ConfirmRequest {
                intent: intent.clone(),
                off_session: true,
                key: confirm_sent.confirm_key().unwrap(),
            })
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn recovery_after_a_crash_after_confirm_sent_charges_at_most_once() {
    // A recent crash re-sends the confirm with its own key; one older than the key window's
    // safe part (18 h) looks the intent up instead. Either way: exactly one execution.
    const HOUR_MS: i64 = 3_600_000;
    for (order, reached, age_ms) in [
        ("ORD-X1", true, 0),
        ("ORD-X2", false, 0),
        ("ORD-X3", true, 19 * HOUR_MS),
        ("ORD-X4", false, 19 * HOUR_MS),
    ] {
        let h = Harness::new(&[(order, "8.00 EUR", "pm_card_visa")]).await;
        crashed_after_confirm_sent(&h, order, reached, age_ms).await;
        let engine = h.engine();
        let report = engine.recover(&quiet).await;
        assert_eq!(report.finished, 1, "{order}: {report:?}");
        h.check_invariants(&engine).await;
        assert_eq!(h.successes().await[order].len(), 1, "{order}");
        // The re-sent confirm carried the same key: the gateway replayed, it did not re-execute.
        let ledger = h.ledger().await;
        let confirm_key = ledger["idempotency_keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["key"].as_str().unwrap().starts_with("paydesk:confirm:"))
            .unwrap()
            .clone();
        assert_eq!(confirm_key["executions"], 1, "{order}: {confirm_key}");
        engine.relay_once().await.unwrap();
        assert_eq!(h.central.status(order), OrderStatus::Paid);
    }
}

#[tokio::test]
async fn the_relay_backs_off_while_the_central_is_down_and_delivers_once_when_back() {
    let h = Harness::new(&[
        ("ORD-O1", "1.00 EUR", "pm_card_visa"),
        ("ORD-O2", "2.00 EUR", "pm_card_chargeDeclined"),
    ])
    .await;
    let clock = manual_clock();
    let engine = h.engine_on(Arc::clone(&clock));
    for (order, amount) in [("ORD-O1", "1.00 EUR"), ("ORD-O2", "2.00 EUR")] {
        engine
            .charge(&request(order, amount), &quiet)
            .await
            .unwrap();
    }
    h.central.set_down(true);
    let next_try_at = match engine.relay_once().await.unwrap() {
        RelayOutcome::Retried {
            failures,
            next_try_at,
            ..
        } => {
            assert_eq!(failures, 1);
            next_try_at
        }
        other => panic!("{other:?}"),
    };
    // Not due again until its backoff passes; a due message comes back with its failure count.
    h.central.set_down(false);
    advance_to(&clock, next_try_at);
    let outcome = engine.relay_once().await.unwrap();
    assert_eq!(
        outcome,
        RelayOutcome::Sent {
            delivered: 2,
            parked: 0
        }
    );
    assert_eq!(h.central.results(), 2);
    assert_eq!(h.central.status("ORD-O1"), OrderStatus::Paid);
    assert_eq!(h.central.status("ORD-O2"), OrderStatus::Failed);
}

// ---- offline --------------------------------------------------------------------------------

/// The order as a freshly cached queue shows it: nobody has claimed it yet.
fn snapshot(h: &Harness, order: &str) -> CachedOrder {
    CachedOrder {
        order: h.central.order(order),
        attempt_seq: 0,
        fetched_at: SystemClock.now(),
    }
}

/// A manager's allowance granted a second before `now`, for an hour.
fn allowance(per_charge: &str, per_shift: &str, now: Timestamp) -> OfflinePolicy {
    OfflinePolicy::Allow(OfflineAllowance {
        per_charge_max: Money::parse(per_charge).unwrap(),
        per_shift_max: Money::parse(per_shift).unwrap(),
        granted_at: now.plus_ms(-1_000),
        until: now.plus_ms(3_600_000),
        approved_by: OperatorId::new("mgr-bo").unwrap(),
        // These tests mix a manual clock with caches stamped by the system clock: the cache's
        // age is not what they test.
        cache_age_ms_max: 365 * 24 * 3_600_000,
        grant_id: "grant-test-1".into(),
        signature: "5e".repeat(64),
    })
}

#[tokio::test]
async fn offline_is_blocked_by_default_and_nothing_reaches_the_gateway() {
    let h = Harness::new(&[("ORD-F1", "3.00 EUR", "pm_card_visa")]).await;
    let engine = h.engine();
    h.central.set_down(true);
    let cached = snapshot(&h, "ORD-F1");
    let err = engine
        .charge_with_cache(&request("ORD-F1", "3.00 EUR"), Some(&cached), &quiet)
        .await
        .unwrap_err();
    assert!(matches!(err, EngineError::Offline { .. }), "{err}");
    assert!(err.to_string().contains("blocked"), "{err}");
    assert_eq!(h.intents_of("ORD-F1").await, 0);
    assert!(engine
        .attempts(AttemptFilter::default())
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn offline_allowed_within_limits_charges_marks_and_syncs_later() {
    let h = Harness::new(&[
        ("ORD-F2", "30.00 EUR", "pm_card_visa"),
        ("ORD-F3", "30.00 EUR", "pm_card_visa"),
        ("ORD-F4", "60.00 EUR", "pm_card_visa"),
    ])
    .await;
    let clock = manual_clock();
    let engine = h.engine_on(Arc::clone(&clock));
    engine.set_offline_policy(allowance("50.00 EUR", "50.00 EUR", clock.now()));
    h.central.set_down(true);

    let seen = Mutex::new(Vec::new());
    let report = engine
        .charge_with_cache(
            &request("ORD-F2", "30.00 EUR"),
            Some(&snapshot(&h, "ORD-F2")),
            &|p| seen.lock().unwrap().push(p),
        )
        .await
        .unwrap();
    assert_eq!(report.state(), AttemptState::Succeeded);
    assert!(report.attempt.offline);
    assert!(seen.lock().unwrap().iter().any(
        |p| matches!(p, Progress::Offline { approved_by, .. } if approved_by.as_str() == "mgr-bo")
    ));
    // Its chained "begun" record names the signed grant that allowed it.
    let id = report.attempt.id;
    let begun = engine
        .with_journal(move |j| j.timeline(&id))
        .await
        .unwrap()
        .remove(0);
    let grant = &begun.detail[paydesk_core::OFFLINE_GRANT_KEY];
    assert_eq!(begun.kind, "begun");
    assert_eq!(grant["grant_id"], "grant-test-1");
    assert_eq!(grant["signature"], "5e".repeat(64));
    assert_eq!(grant["approved_by"], "mgr-bo");
    assert_eq!(grant["terminal_id"], report.attempt.terminal.as_str());

    // Per charge and per shift limits.
    let over_charge = engine
        .charge_with_cache(
            &request("ORD-F4", "60.00 EUR"),
            Some(&snapshot(&h, "ORD-F4")),
            &quiet,
        )
        .await
        .unwrap_err();
    assert!(
        over_charge.to_string().contains("per charge"),
        "{over_charge}"
    );
    let over_shift = engine
        .charge_with_cache(
            &request("ORD-F3", "30.00 EUR"),
            Some(&snapshot(&h, "ORD-F3")),
            &quiet,
        )
        .await
        .unwrap_err();
    assert!(over_shift.to_string().contains("shift"), "{over_shift}");
    assert_eq!(
        h.intents_of("ORD-F3").await + h.intents_of("ORD-F4").await,
        0
    );

    // The central comes back: the offline result is applied once and the order is paid.
    let next_try_at = match engine.relay_once().await.unwrap() {
        RelayOutcome::Retried { next_try_at, .. } => next_try_at,
        other => panic!("{other:?}"),
    };
    h.central.set_down(false);
    advance_to(&clock, next_try_at);
    assert!(matches!(
        engine.relay_once().await.unwrap(),
        RelayOutcome::Sent { delivered: 1, .. }
    ));
    assert_eq!(h.central.status("ORD-F2"), OrderStatus::Paid);
    h.check_invariants(&engine).await;
}

#[tokio::test]
async fn an_offline_intent_whose_operator_is_not_signed_in_when_the_central_returns_is_canceled() {
    let h = Harness::new(&[("ORD-F9", "30.00 EUR", "pm_card_visa")]).await;
    let clock = manual_clock();
    let engine = h.engine_on(Arc::clone(&clock));
    engine.set_offline_policy(allowance("50.00 EUR", "50.00 EUR", clock.now()));
    // The claim finds the central down, so the charge goes offline; when the offline intent is
    // registered the central answers again, but refuses the claim: nobody is signed in for it.
    h.central.claims_down(1);
    h.central.require_sessions(true);
    let report = engine
        .charge_with_cache(
            &request("ORD-F9", "30.00 EUR"),
            Some(&snapshot(&h, "ORD-F9")),
            &quiet,
        )
        .await
        .unwrap();
    assert_eq!(report.state(), AttemptState::Canceled, "{report:?}");
    let ledger = h.ledger().await;
    let statuses: Vec<&str> = ledger["intents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["metadata"]["order_id"] == "ORD-F9")
        .map(|i| i["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        ["canceled"],
        "never confirmed, canceled: {ledger}"
    );
    assert_eq!(h.central.status("ORD-F9"), OrderStatus::Unpaid);
    let attempts = engine.attempts(AttemptFilter::default()).await.unwrap();
    assert!(
        attempts.iter().all(|a| a.state == AttemptState::Canceled),
        "nothing left waiting: {attempts:?}"
    );
    h.check_invariants(&engine).await;
}

#[tokio::test]
async fn offline_refuses_a_cached_queue_older_than_the_allowance_accepts() {
    let h = Harness::new(&[("ORD-F6", "3.00 EUR", "pm_card_visa")]).await;
    let engine = h.engine();
    let now = SystemClock.now();
    let mut policy = allowance("50.00 EUR", "50.00 EUR", now);
    if let OfflinePolicy::Allow(a) = &mut policy {
        a.cache_age_ms_max = 60_000;
    }
    engine.set_offline_policy(policy);
    h.central.set_down(true);
    let mut cached = snapshot(&h, "ORD-F6");
    cached.fetched_at = now.plus_ms(-120_000);
    let err = engine
        .charge_with_cache(&request("ORD-F6", "3.00 EUR"), Some(&cached), &quiet)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            EngineError::Offline {
                refusal: OfflineRefusal::StaleCache { .. },
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(h.intents_of("ORD-F6").await, 0);
}

#[tokio::test]
async fn two_terminals_offline_on_one_order_charge_it_at_most_once() {
    let h = Harness::new(&[("ORD-F5", "10.00 EUR", "pm_card_visa")]).await;
    h.central.set_down(true);
    let cached = snapshot(&h, "ORD-F5");
    let other_dir = tempfile::tempdir().unwrap();
    let engines = [
        h.engine(),
        Engine::new(
            Journal::open(&other_dir.path().join("journal.sqlite")).unwrap(),
            Arc::clone(&h.gateway),
            Arc::clone(&h.central) as Arc<dyn Central>,
            Arc::new(SystemClock),
            EngineConfig::new(TerminalId::new("till-2").unwrap()),
        ),
    ];
    let mut states = Vec::new();
    for engine in &engines {
        engine.set_offline_policy(allowance("50.00 EUR", "100.00 EUR", SystemClock.now()));
        let report = engine
            .charge_with_cache(&request("ORD-F5", "10.00 EUR"), Some(&cached), &quiet)
            .await
            .unwrap();
        states.push(report.state());
    }
    // Same order, same offline attempt number, same create key: the second terminal's create
    // (other metadata under the same key) is refused by the gateway and goes to a manager.
    assert_eq!(
        states,
        vec![AttemptState::Succeeded, AttemptState::NeedsReview]
    );
    assert_eq!(h.successes().await["ORD-F5"].len(), 1);
}

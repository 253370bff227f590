//! Issue 9 against the sandbox: a 500 the gateway stores under a key and replays (as Stripe does)
//! never strands a charge, an outage never sends work to a manager, an escalation reaches the
//! central, and a takeover journals its cancel before sending it. Deliberately absent: the
//! central's sweep (the central's tests) and real processes (the system tests).

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use paydesk_core::{
    AttemptState, CreateOutcome, GatewayIntentId, IdempotencyKey, OperatorId, OrderId, TerminalId,
    Timestamp,
};
use paydesk_engine::{
    new_attempt_id, Central, ClaimRequest, Clock, Engine, EngineConfig, OrderStatus, Progress,
    RelayOutcome, SystemClock,
};
use paydesk_gateway::{
    ApiKey, CancelResult, ConfirmRequest, ConfirmResult, CreateIntentRequest, CreateResult,
    EventPage, EventQuery, Gateway, GatewayError, IntentMetadata, IntentView, MetadataQuery,
    RefundRequest, RefundResult, StripeConfig, StripeGateway,
};
use paydesk_journal::{AttemptFilter, Journal};
use serde_json::Value;

use super::{crashed_after_confirm_sent, manual_clock, quiet, request, Harness};

/// Recovery passes a test allows before it expects the attempt settled.
const RECOVERY_PASSES_MAX: usize = 8;

/// The sandbox's record of one idempotency key, if it saw it.
async fn key_usage(h: &Harness, key: &str) -> Option<Value> {
    let ledger = h.ledger().await;
    ledger["idempotency_keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["key"] == key)
        .cloned()
}

/// Runs recovery until the only attempt is final (or the passes run out); returns its state.
async fn recover_until_final(engine: &Engine) -> AttemptState {
    for _ in 0..RECOVERY_PASSES_MAX {
        let attempts = engine.attempts(AttemptFilter::default()).await.unwrap();
        if attempts.iter().all(|a| a.state.is_terminal()) {
            break;
        }
        engine.recover(&quiet).await;
    }
    let attempts = engine.attempts(AttemptFilter::default()).await.unwrap();
    assert_eq!(attempts.len(), 1, "{attempts:?}");
    attempts[0].state
}

#[tokio::test]
async fn a_stored_500_on_the_confirm_is_confirmed_again_with_a_fresh_numbered_key() {
    // One stored 500 settles within the charge or recovery; three keep the interactive run
    // pending (each numbered key in turn gets one), and recovery completes it.
    for (order, stored_500s) in [("ORD-S1", 1), ("ORD-S3", 3)] {
        let h = Harness::new(&[(order, "6.00 EUR", "pm_card_visa")]).await;
        h.fault(&format!("confirm:http_500:{stored_500s}")).await;
        let engine = h.engine();
        let report = engine
            .charge(&request(order, "6.00 EUR"), &quiet)
            .await
            .unwrap();
        if stored_500s == 3 {
            assert_eq!(report.state(), AttemptState::Unknown, "{report:?}");
            assert!(report.pending.is_some());
        }
        assert_eq!(recover_until_final(&engine).await, AttemptState::Succeeded);
        h.check_invariants(&engine).await;
        assert_eq!(h.successes().await[order].len(), 1);
        let attempt = &engine.attempts(AttemptFilter::default()).await.unwrap()[0];
        let intent = attempt.intent_id.clone().unwrap();
        assert_eq!(attempt.confirm_retry, stored_500s);
        // Each spent key (its 500 stored) was sent once and never again once the gateway showed
        // the intent still confirmable; the last numbered key made the payment.
        for k in 0..stored_500s {
            let spent = IdempotencyKey::for_confirm_retry(&intent, k);
            let usage = key_usage(&h, spent.as_str()).await.unwrap();
            assert_eq!(usage["requests"], 1, "{usage}");
        }
        let used = key_usage(&h, &format!("paydesk:confirm:{intent}:{stored_500s}"))
            .await
            .unwrap();
        assert_eq!(
            (&used["executions"], &used["replays"]),
            (&1.into(), &0.into()),
            "{used}"
        );
        engine.relay_once().await.unwrap();
        assert_eq!(h.central.status(order), OrderStatus::Paid);
    }
}

#[tokio::test]
async fn a_stored_500_on_the_create_searches_then_creates_with_a_fresh_numbered_key() {
    let h = Harness::new(&[("ORD-SC", "7.00 EUR", "pm_card_visa")]).await;
    h.fault("create:http_500:1").await;
    let engine = h.engine();
    engine
        .charge(&request("ORD-SC", "7.00 EUR"), &quiet)
        .await
        .unwrap();
    assert_eq!(recover_until_final(&engine).await, AttemptState::Succeeded);
    h.check_invariants(&engine).await;
    assert_eq!(h.successes().await["ORD-SC"].len(), 1);
    assert_eq!(
        h.intents_of("ORD-SC").await,
        1,
        "the stored 500 created nothing"
    );
    let attempt = &engine.attempts(AttemptFilter::default()).await.unwrap()[0];
    assert_eq!(attempt.create_retry, 1);
    // The original key was re-sent once (its stored 500 replayed), then searched for.
    let spent = key_usage(&h, attempt.create_key.as_str()).await.unwrap();
    assert_eq!(
        (&spent["requests"], &spent["replays"]),
        (&2.into(), &1.into()),
        "{spent}"
    );
    let fresh = key_usage(&h, &format!("{}:1", attempt.create_key))
        .await
        .unwrap();
    assert_eq!(fresh["executions"], 1, "{fresh}");
}

#[tokio::test]
async fn a_create_that_executed_behind_a_stored_500_still_charges_at_most_once() {
    // The search lags (2 s in the sandbox), so the intent the spent key made is not found and
    // a second one is created: it is never confirmed, so no money moves through it.
    let h = Harness::new(&[("ORD-SE", "8.00 EUR", "pm_card_visa")]).await;
    h.fault("create:http_500_after_execute:1").await;
    let engine = h.engine();
    engine
        .charge(&request("ORD-SE", "8.00 EUR"), &quiet)
        .await
        .unwrap();
    assert_eq!(recover_until_final(&engine).await, AttemptState::Succeeded);
    h.check_invariants(&engine).await;
    assert_eq!(h.successes().await["ORD-SE"].len(), 1);
    assert!(h.intents_of("ORD-SE").await <= 2);
}

/// A gateway connector whose port nothing listens on: every request is provably not sent.
async fn unreachable_gateway() -> Arc<dyn Gateway> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let config = StripeConfig {
        request_timeout_ms: 1_000,
        backoff_ms_base: 1,
        backoff_ms_max: 2,
        ..StripeConfig::with_base_url(format!("http://127.0.0.1:{port}"))
    };
    Arc::new(StripeGateway::new(ApiKey::new("sk_test_paydesk_engine").unwrap(), config).unwrap())
}

fn engine_with_gateway(h: &Harness, gateway: Arc<dyn Gateway>) -> Engine {
    let mut config = EngineConfig::new(TerminalId::new("till-1").unwrap());
    config.ambiguous_backoff_ms_base = 1;
    Engine::new(
        Journal::open(&h.journal_path()).unwrap(),
        gateway,
        Arc::clone(&h.central) as Arc<dyn Central>,
        Arc::new(SystemClock),
        config,
    )
}

/// The sandbox's connector, writing each cancel it sends into a log shared with the test (which
/// writes each journal step there too), so their order can be checked.
#[derive(Debug)]
struct CancelLog {
    inner: Arc<dyn Gateway>,
    log: Arc<Mutex<Vec<String>>>,
}

#[async_trait]
impl Gateway for CancelLog {
    fn name(&self) -> &'static str {
        self.inner.name()
    }
    async fn create_intent(&self, r: &CreateIntentRequest) -> Result<CreateResult, GatewayError> {
        self.inner.create_intent(r).await
    }
    async fn confirm_intent(&self, r: &ConfirmRequest) -> Result<ConfirmResult, GatewayError> {
        self.inner.confirm_intent(r).await
    }
    async fn retrieve_intent(&self, i: &GatewayIntentId) -> Result<IntentView, GatewayError> {
        self.inner.retrieve_intent(i).await
    }
    async fn cancel_intent(
        &self,
        i: &GatewayIntentId,
        k: &IdempotencyKey,
    ) -> Result<CancelResult, GatewayError> {
        self.log.lock().unwrap().push(format!("gateway cancel {i}"));
        self.inner.cancel_intent(i, k).await
    }
    async fn search_intents(&self, q: &MetadataQuery) -> Result<Vec<IntentView>, GatewayError> {
        self.inner.search_intents(q).await
    }
    async fn refund(&self, r: &RefundRequest) -> Result<RefundResult, GatewayError> {
        self.inner.refund(r).await
    }
    async fn list_events(&self, q: &EventQuery) -> Result<EventPage, GatewayError> {
        self.inner.list_events(q).await
    }
}

/// Another terminal claimed `order`, created and registered an intent (and confirmed it, if
/// `confirm`), then vanished; its lease ran out. Returns that intent.
async fn open_intent_of_a_vanished_holder(
    h: &Harness,
    order: &str,
    confirm: bool,
) -> GatewayIntentId {
    let claim = h
        .central
        .claim(&ClaimRequest {
            order: OrderId::new(order).unwrap(),
            operator: OperatorId::new("op-bela").unwrap(),
            terminal: TerminalId::new("till-9").unwrap(),
        })
        .await
        .unwrap();
    let created = h
        .gateway
        .create_intent(&CreateIntentRequest {
            amount: claim.order.amount,
            customer: None,
            payment_method: claim.order.payment_method.to_string(),
            off_session: true,
            metadata: IntentMetadata {
                order: claim.order.id.clone(),
                attempt: new_attempt_id(SystemClock.now()),
                attempt_number: claim.attempt_number,
                terminal: TerminalId::new("till-9").unwrap(),
            },
            key: IdempotencyKey::for_create(&claim.order.id, claim.attempt_number),
        })
        .await
        .unwrap();
    let CreateOutcome::Created { intent } = created.outcome() else {
        panic!("{created:?}");
    };
    h.central
        .register_intent(&claim.order.id, claim.token, claim.attempt_number, &intent)
        .await
        .unwrap();
    if confirm {
        h.gateway
            .confirm_intent(&ConfirmRequest {
                intent: intent.clone(),
                off_session: true,
                key: IdempotencyKey::for_confirm(&intent),
            })
            .await
            .unwrap();
    }
    h.central.expire_hold(order);
    intent
}

#[tokio::test]
async fn a_gateway_outage_never_sends_an_attempt_to_a_manager() {
    let h = Harness::new(&[
        ("ORD-U1", "2.00 EUR", "pm_card_visa"),
        ("ORD-U2", "3.00 EUR", "pm_card_visa"),
    ])
    .await;
    // ORD-U2 died right after its durable confirm-sent; then the gateway became unreachable.
    crashed_after_confirm_sent(&h, "ORD-U2", false, 0).await;
    let engine = engine_with_gateway(&h, unreachable_gateway().await);
    let report = engine
        .charge(&request("ORD-U1", "2.00 EUR"), &quiet)
        .await
        .unwrap();
    assert_eq!(report.state(), AttemptState::Intent);
    assert!(report.pending.unwrap().contains("nothing was charged"));
    for _ in 0..30 {
        let pass = engine.recover(&quiet).await;
        assert_eq!(pass.needs_review, 0, "{pass:?}");
    }
    let attempts = engine.attempts(AttemptFilter::default()).await.unwrap();
    let states: Vec<_> = attempts
        .iter()
        .map(|a| (a.state, a.unknown_checks))
        .collect();
    assert_eq!(attempts.len(), 2);
    assert!(
        states.contains(&(AttemptState::Intent, 0))
            && states.contains(&(AttemptState::ConfirmSent, 0)),
        "still open, nothing counted: {states:?}"
    );
    assert_eq!(engine.relay_once().await.unwrap(), RelayOutcome::Empty);

    // The gateway is back: the same journal settles both, once each.
    drop(engine);
    let engine = h.engine();
    let pass = engine.recover(&quiet).await;
    assert_eq!(pass.finished, 2, "{pass:?}");
    h.check_invariants(&engine).await;
}

#[tokio::test]
async fn an_escalation_after_the_time_bound_reaches_the_central_and_evidence_settles_it() {
    let h = Harness::new(&[("ORD-E", "4.00 EUR", "pm_card_visa")]).await;
    h.fault("confirm:http_500_after_execute:1").await;
    h.fault("retrieve:http_500:50").await;
    let clock = manual_clock();
    let engine = h.engine_on(Arc::clone(&clock));
    let report = engine
        .charge(&request("ORD-E", "4.00 EUR"), &quiet)
        .await
        .unwrap();
    assert_eq!(report.state(), AttemptState::Unknown);
    // Lookups keep failing: many passes within the day change nothing.
    for _ in 0..10 {
        assert_eq!(engine.recover(&quiet).await.needs_review, 0);
    }
    clock.advance_ms(paydesk_core::RecoveryPolicy::STRIPE.review_after_ms());
    let pass = engine.recover(&quiet).await;
    assert_eq!(pass.needs_review, 1, "{pass:?}");
    let attempt = engine.attempts(AttemptFilter::default()).await.unwrap()[0].clone();
    assert_eq!(attempt.state, AttemptState::NeedsReview);

    // The review is a result for the central, naming the intent: the order shows held.
    let due = engine
        .with_journal(|j| j.outbox_due(Timestamp::from_unix_ms(i64::MAX / 2), 10))
        .await
        .unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].payload["state"], "needs_review");
    assert_eq!(
        due[0].payload["intent_id"],
        attempt.intent_id.as_ref().unwrap().as_str()
    );
    assert!(matches!(
        engine.relay_once().await.unwrap(),
        RelayOutcome::Sent { delivered: 1, .. }
    ));
    assert_eq!(h.central.status("ORD-E"), OrderStatus::NeedsReview);

    // The gateway heals: recovery keeps asking about the intent under review, and the evidence
    // (the charge did happen) settles it without a manager; the final result is due again.
    let reset = h
        .http
        .delete(format!("{}/admin/faults", h.sandbox.base_url))
        .send()
        .await
        .unwrap();
    assert!(reset.status().is_success());
    let pass = engine.recover(&quiet).await;
    assert_eq!(pass.finished, 1, "{pass:?}");
    let settled = engine.attempts(AttemptFilter::default()).await.unwrap()[0].clone();
    assert_eq!(settled.state, AttemptState::Succeeded);
    assert!(matches!(
        engine.relay_once().await.unwrap(),
        RelayOutcome::Sent { delivered: 1, .. }
    ));
    h.check_invariants(&engine).await;
    assert!(engine
        .with_journal(|j| j.verify())
        .await
        .unwrap()
        .broken
        .is_none());
}

#[tokio::test]
async fn a_takeover_journals_its_cancel_first_and_releases_the_claim_when_it_stops() {
    let h = Harness::new(&[
        ("ORD-T1", "5.00 EUR", "pm_card_visa"),
        ("ORD-T2", "5.00 EUR", "pm_card_visa"),
        ("ORD-T3", "5.00 EUR", "pm_card_visa"),
    ])
    .await;
    // A previous holder (another terminal) created and registered an intent for each order,
    // then vanished; ORD-T2's previous intent was even confirmed.
    let mut previous = Vec::new();
    for (order, confirm) in [("ORD-T1", false), ("ORD-T2", true), ("ORD-T3", false)] {
        previous.push(open_intent_of_a_vanished_holder(&h, order, confirm).await);
    }
    let log = Arc::new(Mutex::new(Vec::new()));
    let gateway = Arc::new(CancelLog {
        inner: Arc::clone(&h.gateway),
        log: Arc::clone(&log),
    });
    let engine = engine_with_gateway(&h, gateway);
    let record = |p: Progress| {
        if let Progress::Step { event, state, .. } = p {
            log.lock()
                .unwrap()
                .push(format!("journal {event} -> {state}"));
        }
    };

    // ORD-T1: the previous intent is canceled after a journal record names it, then the charge
    // goes ahead with a new intent.
    let report = engine
        .charge(&request("ORD-T1", "5.00 EUR"), &record)
        .await
        .unwrap();
    assert_eq!(report.state(), AttemptState::Succeeded);
    assert_eq!(
        log.lock().unwrap()[..3],
        [
            "journal begun -> intent".to_string(),
            "journal takeover_cancel -> intent".to_string(),
            format!("gateway cancel {}", previous[0]),
        ]
    );
    let timeline = engine
        .with_journal({
            let id = report.attempt.id;
            move |j| j.timeline(&id)
        })
        .await
        .unwrap();
    assert_eq!(timeline[1].kind, "takeover_cancel");
    assert!(
        timeline[1]
            .detail
            .to_string()
            .contains(previous[0].as_str()),
        "the manager can see which intent was canceled: {}",
        timeline[1].detail
    );
    let ledger = h.ledger().await;
    let canceled = ledger["intents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == previous[0].as_str())
        .unwrap()
        .clone();
    assert_eq!(canceled["status"], "canceled", "{canceled}");

    // ORD-T2: the previous intent succeeded: the charge stops, nothing is journaled or sent,
    // and the claim is given back. (The real central refuses that release while the previous
    // intent is registered, and keeps the flag until its sweep settles that intent from the
    // gateway; this double frees it.)
    log.lock().unwrap().clear();
    let err = engine
        .charge(&request("ORD-T2", "5.00 EUR"), &record)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            paydesk_engine::EngineError::PreviousIntentCharged { .. }
        ),
        "{err}"
    );
    assert_eq!(h.central.release_requests("ORD-T2"), 1);
    assert!(!h.central.is_held("ORD-T2"), "the claim was released");
    assert!(log.lock().unwrap().is_empty(), "{:?}", log.lock().unwrap());
    assert_eq!(h.successes().await["ORD-T2"].len(), 1);

    // ORD-T3: the cancel fails: the new attempt, which sent nothing, is withdrawn with the
    // reason, its result waits in the outbox for the central, and the claim is given back.
    h.fault("cancel:http_500:1").await;
    log.lock().unwrap().clear();
    let err = engine
        .charge(&request("ORD-T3", "5.00 EUR"), &record)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("could not be canceled"), "{err}");
    assert_eq!(
        *log.lock().unwrap(),
        [
            "journal begun -> intent".to_string(),
            "journal takeover_cancel -> intent".to_string(),
            format!("gateway cancel {}", previous[2]),
            "journal withdrawn -> canceled".to_string(),
        ]
    );
    assert_eq!(h.central.release_requests("ORD-T3"), 1);
    assert!(!h.central.is_held("ORD-T3"), "the claim was released");
    let due = engine
        .with_journal(|j| j.outbox_due(Timestamp::from_unix_ms(i64::MAX / 2), 10))
        .await
        .unwrap();
    assert!(
        due.iter()
            .any(|m| m.payload["order"] == "ORD-T3" && m.payload["state"] == "canceled"),
        "{due:?}"
    );
    assert_eq!(h.intents_of("ORD-T3").await, 1, "nothing new was created");
    // At most one success per order (ORD-T2's is the vanished holder's, not in this journal).
    for (order, intents) in h.successes().await {
        assert_eq!(intents.len(), 1, "{order}: {intents:?}");
    }
    assert!(engine
        .with_journal(|j| j.verify())
        .await
        .unwrap()
        .broken
        .is_none());
}

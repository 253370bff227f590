//! Recovery and the relay refuse a journal that fails verification (issue 9, finding 3; I8): an
//! edited attempt row, an edited event or an edited outbox payload, and neither `recover` nor
//! `relay_once` sends anything — no confirm reaches the sandbox gateway (its ledger is unchanged)
//! and no result reaches the central (a counting double) — and both say the journal failed
//! verification. A control run on the untouched journal shows that the same set-up does send.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use paydesk_core::{
    AttemptEvent, AttemptId, AttemptNumber, ChargeOutcome, ClaimToken, CreateOutcome, Currency,
    GatewayIntentId, Money, NewAttempt, OperatorId, OrderId, PaymentMethodId, RegisterOutcome,
    TerminalId, Timestamp,
};
use paydesk_engine::{
    new_attempt_id, Central, CentralError, Claim, ClaimRequest, Clock, DeliveryStatus, Engine,
    EngineConfig, EngineError, RelayOutcome, SystemClock,
};
use paydesk_gateway::{
    ApiKey, CreateIntentRequest, Gateway, IntentMetadata, StripeConfig, StripeGateway,
};
use paydesk_journal::{Journal, ResultMessage};
use serde_json::Value;

const API_KEY: &str = "sk_test_paydesk_integrity";

/// A central that only counts: every call is a request this test says must not happen on a
/// broken journal (the control run needs `deliver` to answer).
#[derive(Debug, Default)]
struct CountingCentral {
    calls: AtomicUsize,
}

#[async_trait]
impl Central for CountingCentral {
    async fn claim(&self, _: &ClaimRequest) -> Result<Claim, CentralError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Err(CentralError::Invalid("not in this test".into()))
    }

    async fn register_intent(
        &self,
        _: &OrderId,
        _: ClaimToken,
        _: AttemptNumber,
        _: &GatewayIntentId,
    ) -> Result<(), CentralError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    async fn release(&self, _: &OrderId, _: ClaimToken) -> Result<(), CentralError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    async fn deliver(
        &self,
        results: &[ResultMessage],
        _: (i64, String),
    ) -> Result<Vec<DeliveryStatus>, CentralError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Ok(results.iter().map(|_| DeliveryStatus::Applied).collect())
    }
}

struct Setup {
    sandbox: paydesk_sandbox::SandboxHandle,
    gateway: Arc<dyn Gateway>,
    central: Arc<CountingCentral>,
    dir: tempfile::TempDir,
    /// Registered with a real intent at the sandbox: recovery would confirm it.
    registered: AttemptId,
    /// Declined, its result due in the outbox: the relay would deliver it.
    declined: AttemptId,
}

impl Setup {
    async fn new() -> Setup {
        let sandbox = paydesk_sandbox::spawn(paydesk_sandbox::SandboxConfig::default())
            .await
            .unwrap();
        let config = StripeConfig {
            request_timeout_ms: 3_000,
            backoff_ms_base: 5,
            backoff_ms_max: 20,
            ..StripeConfig::with_base_url(sandbox.base_url.clone())
        };
        let gateway: Arc<dyn Gateway> =
            Arc::new(StripeGateway::new(ApiKey::new(API_KEY).unwrap(), config).unwrap());
        let dir = tempfile::tempdir().unwrap();
        let mut journal = Journal::open(&dir.path().join("journal.sqlite")).unwrap();
        let now = SystemClock.now();

        let (a, _) = journal
            .begin_attempt(new_attempt("ORD-1", now), now)
            .unwrap();
        let created = gateway
            .create_intent(&CreateIntentRequest {
                amount: a.amount,
                customer: None,
                payment_method: a.payment_method.to_string(),
                off_session: true,
                metadata: IntentMetadata {
                    order: a.order.clone(),
                    attempt: a.id,
                    attempt_number: a.number,
                    terminal: a.terminal.clone(),
                },
                key: a.create_key.clone(),
            })
            .await
            .unwrap();
        journal
            .apply(&a.id, &AttemptEvent::CreateAnswered(created.outcome()), now)
            .unwrap();
        journal
            .apply(
                &a.id,
                &AttemptEvent::RegisterAnswered(RegisterOutcome::Accepted),
                now,
            )
            .unwrap();

        let (b, _) = journal
            .begin_attempt(new_attempt("ORD-2", now), now)
            .unwrap();
        let events = [
            AttemptEvent::CreateAnswered(CreateOutcome::Created {
                intent: GatewayIntentId::new("pi_declined_elsewhere").unwrap(),
            }),
            AttemptEvent::RegisterAnswered(RegisterOutcome::Accepted),
            AttemptEvent::ConfirmBegun,
            AttemptEvent::ConfirmAnswered(ChargeOutcome::Declined {
                reason: "do_not_honor".into(),
            }),
        ];
        for event in &events {
            journal.apply(&b.id, event, now).unwrap();
        }
        assert!(journal.verify().unwrap().is_intact());
        Setup {
            sandbox,
            gateway,
            central: Arc::new(CountingCentral::default()),
            dir,
            registered: a.id,
            declined: b.id,
        }
    }

    fn path(&self) -> std::path::PathBuf {
        self.dir.path().join("journal.sqlite")
    }

    fn engine(&self) -> Engine {
        let mut config = EngineConfig::new(TerminalId::new("till-1").unwrap());
        config.ambiguous_backoff_ms_base = 5;
        Engine::new(
            Journal::open(&self.path()).unwrap(),
            Arc::clone(&self.gateway),
            Arc::clone(&self.central) as Arc<dyn Central>,
            Arc::new(SystemClock),
            config,
        )
    }

    /// What the gateway has seen: its intents and every idempotency key used.
    async fn gateway_view(&self) -> (Value, Value) {
        let ledger: Value = reqwest::get(format!("{}/admin/ledger", self.sandbox.base_url))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        (
            ledger["intents"].clone(),
            ledger["idempotency_keys"].clone(),
        )
    }

    /// Edits the closed journal with plain SQLite, as someone with a sqlite3 shell would.
    fn tamper(&self, sql: &str) {
        let raw = rusqlite::Connection::open(self.path()).unwrap();
        raw.execute_batch(sql).unwrap();
    }
}

fn new_attempt(order: &str, now: Timestamp) -> NewAttempt {
    NewAttempt {
        id: new_attempt_id(now),
        order: OrderId::new(order).unwrap(),
        number: AttemptNumber::new(1).unwrap(),
        installment: paydesk_core::InstallmentNumber::FIRST,
        claim_token: ClaimToken::new(1).unwrap(),
        amount: Money::new(4_200, Currency::from_code("EUR").unwrap()).unwrap(),
        customer: None,
        payment_method: PaymentMethodId::new("pm_card_visa").unwrap(),
        operator: OperatorId::new("op-anna").unwrap(),
        terminal: TerminalId::new("till-1").unwrap(),
        offline: false,
    }
}

/// Runs recovery and one relay step on the tampered journal and checks that nothing was sent
/// and that both refused, saying why.
async fn assert_refused(s: &Setup, what: &str) {
    let before = s.gateway_view().await;
    let engine = s.engine();
    let quiet = |_| {};
    let report = engine.recover(&quiet).await;
    let relayed = engine.relay_once().await;
    assert_eq!(
        s.gateway_view().await,
        before,
        "{what}: a gateway request was sent"
    );
    assert_eq!(
        s.central.calls.load(Ordering::SeqCst),
        0,
        "{what}: the central was called"
    );
    assert_eq!(report.examined, 0, "{what}: {report:?}");
    assert!(
        report.errors.len() == 1 && report.errors[0].contains("failed verification"),
        "{what}: {report:?}"
    );
    match relayed {
        Err(EngineError::JournalBroken { message }) => {
            assert!(!message.is_empty(), "{what}")
        }
        other => panic!("{what}: the relay did not refuse: {other:?}"),
    }
    match engine.recover_checked(&quiet).await {
        Err(e @ EngineError::JournalBroken { .. }) => {
            assert!(e.to_string().contains("failed verification"), "{e}");
            assert!(e.nothing_charged());
        }
        other => panic!("{what}: recovery did not refuse: {other:?}"),
    }
    assert_eq!(
        s.gateway_view().await,
        before,
        "{what}: a gateway request was sent"
    );
}

#[tokio::test]
async fn an_edited_attempt_row_stops_recovery_and_the_relay() {
    let s = Setup::new().await;
    s.tamper(&format!(
        "UPDATE attempts SET offline = 1 WHERE id = '{}'",
        s.registered
    ));
    assert_refused(&s, "offline flag").await;
}

#[tokio::test]
async fn an_edited_event_stops_recovery_and_the_relay() {
    let s = Setup::new().await;
    s.tamper(
        "DROP TRIGGER events_no_update; \
         UPDATE events SET at = at + 1 WHERE seq = 1;",
    );
    assert_refused(&s, "event").await;
}

#[tokio::test]
async fn an_edited_outbox_payload_stops_recovery_and_the_relay() {
    let s = Setup::new().await;
    s.tamper(&format!(
        "UPDATE outbox SET payload = json_set(payload, '$.state', 'succeeded') \
         WHERE attempt_id = '{}'",
        s.declined
    ));
    assert_refused(&s, "outbox payload").await;
}

/// A row edited while the engine runs (after a verification it may reuse) is still caught
/// before the request that acts on it.
#[tokio::test]
async fn an_edit_after_a_verification_is_caught_before_the_next_request() {
    let s = Setup::new().await;
    let engine = s.engine();
    engine.check_journal().await.unwrap();
    let before = s.gateway_view().await;
    // The engine holds the journal's writer lock, not SQLite's: another client can still write.
    s.tamper(&format!(
        "UPDATE attempts SET intent_id = 'pi_other' WHERE id = '{}'",
        s.registered
    ));
    s.tamper(&format!(
        "UPDATE outbox SET payload = json_set(payload, '$.offline', json('true')) \
         WHERE attempt_id = '{}'",
        s.declined
    ));
    let quiet = |_| {};
    assert!(matches!(
        engine.recover_checked(&quiet).await,
        Err(EngineError::JournalBroken { .. })
    ));
    assert!(matches!(
        engine.relay_once().await,
        Err(EngineError::JournalBroken { .. })
    ));
    assert_eq!(s.gateway_view().await, before);
    assert_eq!(s.central.calls.load(Ordering::SeqCst), 0);
}

/// The control: on the untouched journal the same set-up confirms and delivers.
#[tokio::test]
async fn the_untouched_journal_is_recovered_and_relayed() {
    let s = Setup::new().await;
    let before = s.gateway_view().await;
    let engine = s.engine();
    let report = engine.recover(&|_| {}).await;
    assert_eq!(report.finished, 1, "{report:?}");
    assert_ne!(
        s.gateway_view().await,
        before,
        "recovery confirmed the intent"
    );
    let relayed = engine.relay_once().await.unwrap();
    assert!(
        matches!(relayed, RelayOutcome::Sent { delivered: 2, .. }),
        "{relayed:?}"
    );
    assert!(s.central.calls.load(Ordering::SeqCst) >= 1);
    let journal_ok = engine.with_journal(|j| j.verify()).await.unwrap();
    assert!(journal_ok.is_intact(), "{journal_ok:?}");
    let _ = s.declined;
}

//! Issue 14, item 2: three durable commits per charge ("begun"; "created" + "registered" +
//! "confirm sent" together; the result), and still no gateway request without its committed
//! record (I7). A gateway wrapper reads the journal through a second, read-only connection at the
//! moment of every request — it sees committed transactions only — and checks that the record
//! the request was decided from is there; a central wrapper does the same at the registration.
//! A panic inside the registration stands in for a crash in the window the merged commit opens.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use paydesk_core::{
    Attempt, AttemptNumber, AttemptState, ClaimToken, GatewayIntentId, IdempotencyKey, OrderId,
    TerminalId,
};
use paydesk_engine::{
    Central, CentralError, Claim, ClaimRequest, DeliveryStatus, Engine, EngineConfig,
    OrderSnapshot, SystemClock,
};
use paydesk_gateway::{
    CancelResult, ConfirmRequest, ConfirmResult, CreateIntentRequest, CreateResult, EventPage,
    EventQuery, Gateway, GatewayError, IntentView, MetadataQuery, RefundRequest, RefundResult,
};
use paydesk_journal::{AttemptFilter, Journal, JournalReader, ResultMessage};

use super::{quiet, request, Harness};

/// What a probe saw: one line per request, and every violation of "durable first".
#[derive(Debug, Default)]
struct Seen {
    requests: Vec<String>,
    violations: Vec<String>,
}

/// The attempts as committed in the journal at `path` (a fresh read-only connection).
fn committed(path: &std::path::Path) -> Vec<Attempt> {
    let reader = JournalReader::open(path).unwrap();
    reader
        .snapshot(|j| j.attempts(&AttemptFilter::default()))
        .unwrap()
}

/// The sandbox connector, checking the committed journal before each request it forwards.
#[derive(Debug)]
struct DurableProbe {
    inner: Arc<dyn Gateway>,
    journal: std::path::PathBuf,
    seen: Arc<Mutex<Seen>>,
}

impl DurableProbe {
    fn note(&self, request: String, violation: Option<String>) {
        let mut seen = self.seen.lock().unwrap();
        if let Some(v) = violation {
            seen.violations.push(format!("{request}: {v}"));
        }
        seen.requests.push(request);
    }
}

#[async_trait]
impl Gateway for DurableProbe {
    fn name(&self) -> &'static str {
        self.inner.name()
    }
    async fn create_intent(&self, r: &CreateIntentRequest) -> Result<CreateResult, GatewayError> {
        let attempts = committed(&self.journal);
        let mine = attempts.iter().find(|a| a.id == r.metadata.attempt);
        let violation = match mine {
            None => Some("no committed attempt".to_string()),
            Some(a) if a.state != AttemptState::Intent => {
                Some(format!("the committed attempt is {}", a.state))
            }
            Some(a) if a.current_create_key() != r.key => Some(format!(
                "the committed create key is {}",
                a.current_create_key()
            )),
            Some(_) => None,
        };
        self.note(format!("create {}", r.key), violation);
        self.inner.create_intent(r).await
    }
    async fn confirm_intent(&self, r: &ConfirmRequest) -> Result<ConfirmResult, GatewayError> {
        let attempts = committed(&self.journal);
        let mine = attempts
            .iter()
            .find(|a| a.intent_id.as_ref() == Some(&r.intent));
        let violation = match mine {
            None => Some("no committed attempt names the intent".to_string()),
            Some(a) if !matches!(a.state, AttemptState::ConfirmSent | AttemptState::Unknown) => {
                Some(format!("the committed attempt is {}", a.state))
            }
            Some(a) if a.confirm_sent_at.is_none() || a.confirm_key() != Some(r.key.clone()) => {
                Some(format!(
                    "the committed confirm key is {:?}",
                    a.confirm_key()
                ))
            }
            Some(_) => None,
        };
        self.note(format!("confirm {}", r.key), violation);
        self.inner.confirm_intent(r).await
    }
    async fn retrieve_intent(&self, i: &GatewayIntentId) -> Result<IntentView, GatewayError> {
        let known = committed(&self.journal)
            .iter()
            .any(|a| a.intent_id.as_ref() == Some(i));
        self.note(
            format!("retrieve {i}"),
            (!known).then(|| "no committed attempt names the intent".into()),
        );
        self.inner.retrieve_intent(i).await
    }
    async fn cancel_intent(
        &self,
        i: &GatewayIntentId,
        k: &IdempotencyKey,
    ) -> Result<CancelResult, GatewayError> {
        let known = committed(&self.journal)
            .iter()
            .any(|a| a.intent_id.as_ref() == Some(i));
        self.note(
            format!("cancel {i}"),
            (!known).then(|| "no committed attempt names the intent".into()),
        );
        self.inner.cancel_intent(i, k).await
    }
    async fn search_intents(&self, q: &MetadataQuery) -> Result<Vec<IntentView>, GatewayError> {
        self.note("search".into(), None);
        self.inner.search_intents(q).await
    }
    async fn refund(&self, r: &RefundRequest) -> Result<RefundResult, GatewayError> {
        self.inner.refund(r).await
    }
    async fn list_events(&self, q: &EventQuery) -> Result<EventPage, GatewayError> {
        self.inner.list_events(q).await
    }
}

/// The in-memory central, noting the committed state of the attempt at each registration, and
/// able to "crash" (panic) right after a registration it accepted.
#[derive(Debug)]
struct RegisterProbe {
    inner: Arc<dyn Central>,
    journal: std::path::PathBuf,
    /// The committed state of the order's attempt at each registration.
    states: Mutex<Vec<AttemptState>>,
    crash_after_register: std::sync::atomic::AtomicBool,
}

#[async_trait]
impl Central for RegisterProbe {
    async fn claim(&self, request: &ClaimRequest) -> Result<Claim, CentralError> {
        self.inner.claim(request).await
    }
    async fn register_intent(
        &self,
        order: &OrderId,
        token: ClaimToken,
        attempt_number: AttemptNumber,
        intent: &GatewayIntentId,
    ) -> Result<(), CentralError> {
        let state = committed(&self.journal)
            .into_iter()
            .find(|a| &a.order == order && a.number == attempt_number)
            .map(|a| a.state);
        self.states.lock().unwrap().extend(state);
        let answer = self
            .inner
            .register_intent(order, token, attempt_number, intent)
            .await;
        if answer.is_ok()
            && self
                .crash_after_register
                .swap(false, std::sync::atomic::Ordering::SeqCst)
        {
            panic!("simulated crash: the central registered the intent, nothing is committed");
        }
        answer
    }
    async fn release(&self, order: &OrderId, token: ClaimToken) -> Result<(), CentralError> {
        self.inner.release(order, token).await
    }
    async fn deliver(
        &self,
        results: &[ResultMessage],
        journal_head: (i64, String),
    ) -> Result<Vec<DeliveryStatus>, CentralError> {
        self.inner.deliver(results, journal_head).await
    }
    async fn peek_order(&self, order: &OrderId) -> Result<Option<OrderSnapshot>, CentralError> {
        self.inner.peek_order(order).await
    }
}

struct Probed {
    seen: Arc<Mutex<Seen>>,
    central: Arc<RegisterProbe>,
}

fn probed(h: &Harness) -> Probed {
    // The journal exists before the probes read it (the engine creates it on open).
    drop(Journal::open(&h.journal_path()).unwrap());
    Probed {
        seen: Arc::new(Mutex::new(Seen::default())),
        central: Arc::new(RegisterProbe {
            inner: Arc::clone(&h.central) as Arc<dyn Central>,
            journal: h.journal_path(),
            states: Mutex::new(Vec::new()),
            crash_after_register: std::sync::atomic::AtomicBool::new(false),
        }),
    }
}

fn probed_engine(h: &Harness, p: &Probed) -> Engine {
    let mut config = EngineConfig::new(TerminalId::new("till-1").unwrap());
    config.ambiguous_backoff_ms_base = 1;
    Engine::new(
        Journal::open(&h.journal_path()).unwrap(),
        Arc::new(DurableProbe {
            inner: Arc::clone(&h.gateway),
            journal: h.journal_path(),
            seen: Arc::clone(&p.seen),
        }),
        Arc::clone(&p.central) as Arc<dyn Central>,
        Arc::new(SystemClock),
        config,
    )
}

fn assert_durable_first(p: &Probed, what: &str) {
    let seen = p.seen.lock().unwrap();
    assert!(
        seen.violations.is_empty(),
        "{what}: requests before their durable record: {:#?}\nall requests: {:#?}",
        seen.violations,
        seen.requests
    );
}

#[tokio::test]
async fn one_commit_between_create_and_confirm_and_every_request_follows_its_record() {
    // A success, a decline, a lost confirm answer and a lost create answer: the confirm finds
    // "created", "registered" and "confirm sent" committed; the registration finds none of them.
    for (order, pm, fault) in [
        ("ORD-D1", "pm_card_visa", None),
        ("ORD-D2", "pm_card_chargeDeclined", None),
        (
            "ORD-D3",
            "pm_card_visa",
            Some("confirm:drop_after_execute:1"),
        ),
        (
            "ORD-D4",
            "pm_card_visa",
            Some("create:drop_after_execute:1"),
        ),
    ] {
        let h = Harness::new(&[(order, "9.00 EUR", pm)]).await;
        if let Some(fault) = fault {
            h.fault(fault).await;
        }
        let p = probed(&h);
        let engine = probed_engine(&h, &p);
        let report = engine.charge(&request(order, "9.00 EUR"), &quiet).await;
        let report = report.unwrap();
        assert!(report.state().is_terminal(), "{order}: {report:?}");
        assert_durable_first(&p, order);
        // At the registration the create's answer is not committed yet: the merged commit.
        assert_eq!(
            *p.central.states.lock().unwrap(),
            [AttemptState::Intent],
            "{order}"
        );
        // Each step is still its own chained event: the history reads as before.
        let id = report.attempt.id;
        let events = engine.with_journal(move |j| j.timeline(&id)).await.unwrap();
        let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
        assert!(
            kinds.starts_with(&["begun"])
                && kinds
                    .windows(3)
                    .any(|w| w == ["create_answered", "register_answered", "confirm_begun"]),
            "{order}: {kinds:?}"
        );
        h.check_invariants(&engine).await;
    }
}

#[tokio::test]
async fn a_crash_after_the_registration_before_the_merged_commit_recovers_to_one_charge() {
    let h = Harness::new(&[("ORD-D5", "7.00 EUR", "pm_card_visa")]).await;
    let p = probed(&h);
    p.central
        .crash_after_register
        .store(true, std::sync::atomic::Ordering::SeqCst);
    {
        let engine = probed_engine(&h, &p);
        let run = tokio::spawn(async move {
            engine
                .charge(&request("ORD-D5", "7.00 EUR"), &quiet)
                .await
                .map(|r| r.state())
        });
        let crashed = run.await;
        assert!(crashed.is_err(), "the charge must die: {crashed:?}");
    }
    // The create's answer and the registration died with the process: the durable record is the
    // attempt as begun, and the gateway holds an unconfirmed intent.
    let left = committed(&h.journal_path());
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0].state, AttemptState::Intent, "{left:?}");
    assert!(left[0].intent_id.is_none(), "{left:?}");
    assert!(h.successes().await.is_empty());

    // Restart: recovery re-sends the create (the gateway replays the same intent), registers
    // it again (a no-op under the same token) and confirms it, once.
    let engine = probed_engine(&h, &p);
    let recovered = engine.recover(&quiet).await;
    assert_eq!(recovered.finished, 1, "{recovered:?}");
    assert_durable_first(&p, "recovery");
    assert_eq!(h.intents_of("ORD-D5").await, 1, "one intent, not two");
    assert_eq!(h.successes().await["ORD-D5"].len(), 1);
    let ledger = h.ledger().await;
    let create = ledger["idempotency_keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| {
            k["key"]
                .as_str()
                .unwrap()
                .starts_with("paydesk:create:ORD-D5")
        })
        .cloned()
        .unwrap();
    assert_eq!(create["executions"], 1, "{create}");
    h.check_invariants(&engine).await;
}

#[tokio::test]
async fn separate_commits_still_commit_each_step_before_the_next_request() {
    // The benchmark's baseline: the registration finds "created" committed.
    let h = Harness::new(&[("ORD-D6", "5.00 EUR", "pm_card_visa")]).await;
    let p = probed(&h);
    let mut config = EngineConfig::new(TerminalId::new("till-1").unwrap());
    config.separate_commits = true;
    let engine = Engine::new(
        Journal::open(&h.journal_path()).unwrap(),
        Arc::new(DurableProbe {
            inner: Arc::clone(&h.gateway),
            journal: h.journal_path(),
            seen: Arc::clone(&p.seen),
        }),
        Arc::clone(&p.central) as Arc<dyn Central>,
        Arc::new(SystemClock),
        config,
    );
    let report = engine
        .charge(&request("ORD-D6", "5.00 EUR"), &quiet)
        .await
        .unwrap();
    assert_eq!(report.state(), AttemptState::Succeeded);
    assert_durable_first(&p, "separate commits");
    assert_eq!(*p.central.states.lock().unwrap(), [AttemptState::Created]);
}

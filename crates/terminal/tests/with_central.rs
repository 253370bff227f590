//! The engine and the terminal's HTTP client against the real central server over HTTP (embedded
//! default: SQLite in a temporary file, with the sandbox as its gateway for evidence) and the
//! sandbox gateway: the charge in an operator's session, the claim conflict as an operator sees
//! it, the fencing of a stale claim, and exactly-once delivery of results.

use std::sync::Arc;

use paydesk_central::{auth, gateway_lookup::GatewayLookup, store::Store, Config};
use paydesk_core::{AttemptState, GatewayIntentId, Money, OperatorId, OrderId, Pin, TerminalId};
use paydesk_engine::{
    Central, CentralError, ChargeRequest, ClaimOptions, ClaimRequest, DeliveryStatus, Engine,
    EngineConfig, EngineError, Progress, RelayOutcome, SystemClock,
};
use paydesk_gateway::{ApiKey, Gateway, StripeConfig, StripeGateway};
use paydesk_journal::{Journal, ResultMessage};
use paydesk_protocol::{ImportOrder, OrderDetail, OrderStatus, Role};
use paydesk_terminal::{HttpCentral, SessionToken, TerminalToken};

/// The PIN of both test operators.
const PIN: &str = "246813";
/// Terminal i is worked by operator i.
const OPERATORS: [&str; 2] = ["op-anna", "op-bela"];

struct Stack {
    central: paydesk_central::RunningCentral,
    sandbox: paydesk_sandbox::SandboxHandle,
    gateway: Arc<dyn Gateway>,
    tokens: Vec<(TerminalId, String)>,
    /// One client per terminal, its operator signed in.
    clients: Vec<Arc<HttpCentral>>,
    dir: tempfile::TempDir,
}

impl Stack {
    async fn start(lease_ms: i64) -> Stack {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("central.sqlite");
        let store = Store::open(db.to_str().unwrap()).await.unwrap();
        store.migrate().await.unwrap();
        let now = paydesk_engine::Clock::now(&SystemClock);
        let mut tokens = Vec::new();
        for t in ["till-1", "till-2"] {
            let terminal = TerminalId::new(t).unwrap();
            let token = auth::new_token();
            store
                .add_terminal(&terminal, &auth::token_sha256(&token), now)
                .await
                .unwrap();
            tokens.push((terminal, token));
        }
        for op in OPERATORS {
            store
                .upsert_operator(
                    &OperatorId::new(op).unwrap(),
                    Role::Operator,
                    &auth::hash_pin(PIN).unwrap(),
                    now,
                )
                .await
                .unwrap();
        }
        let orders: Vec<ImportOrder> = [
            ("ORD-1", "12.34 EUR", "pm_card_visa", "cus_same"),
            ("ORD-2", "5.00 EUR", "pm_card_chargeDeclined", ""),
            ("ORD-3", "1200 JPY", "pm_card_visa", ""),
            // The same customer and amount as ORD-1: the duplicate guard's "similar payment".
            ("ORD-4", "12.34 EUR", "pm_card_visa", "cus_same"),
            // A do-not-retry decline (issue 12, item 5): its code is reported to the central.
            ("ORD-5", "7.00 EUR", "pm_card_chargeDeclinedStolenCard", ""),
        ]
        .into_iter()
        .map(|(id, amount, pm, customer)| ImportOrder {
            order_id: OrderId::new(id).unwrap(),
            amount: Money::parse(amount).unwrap(),
            customer_id: customer.into(),
            payment_method_id: pm.into(),
            description: format!("test order {id}"),
            gateway: paydesk_protocol::GatewayName::Stripe,
            customer_name: String::new(),
        })
        .collect();
        store.import_orders(&orders, now).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let config = Config {
            lease_ms,
            ..Config::default()
        };
        let sandbox = paydesk_sandbox::spawn(paydesk_sandbox::SandboxConfig::default())
            .await
            .unwrap();
        let gateway: Arc<dyn Gateway> = Arc::new(
            StripeGateway::new(
                ApiKey::new("sk_test_paydesk").unwrap(),
                StripeConfig::with_base_url(sandbox.base_url.clone()),
            )
            .unwrap(),
        );
        // The central checks successes at the same sandbox before it marks an order paid.
        let lookup = Arc::new(GatewayLookup::new(Arc::clone(&gateway)));
        let central = paydesk_central::start(store, config, Some(lookup), listener).unwrap();
        let mut clients = Vec::new();
        for ((_, token), operator) in tokens.iter().zip(OPERATORS) {
            let client = HttpCentral::new(
                &format!("http://{}", central.addr),
                TerminalToken::new(token.clone()),
            )
            .unwrap();
            let session = client
                .open_session(
                    &OperatorId::new(operator).unwrap(),
                    &Pin::parse(PIN).unwrap(),
                )
                .await
                .unwrap();
            client.set_session(Some(SessionToken::new(session.session_token)));
            clients.push(Arc::new(client));
        }
        Stack {
            central,
            sandbox,
            gateway,
            tokens,
            clients,
            dir,
        }
    }

    fn client(&self, terminal: usize) -> Arc<HttpCentral> {
        Arc::clone(&self.clients[terminal])
    }

    fn engine(&self, terminal: usize) -> Engine {
        let mut config = EngineConfig::new(self.tokens[terminal].0.clone());
        config.ambiguous_backoff_ms_base = 5;
        let path = self.dir.path().join(format!("journal-{terminal}.sqlite"));
        Engine::new(
            Journal::open(&path).unwrap(),
            Arc::clone(&self.gateway),
            self.client(terminal),
            Arc::new(SystemClock),
            config,
        )
    }

    async fn order(&self, id: &str) -> OrderDetail {
        self.client(0)
            .get_json(&format!("/v1/orders/{id}"))
            .await
            .unwrap()
    }
}

fn charge(order: &str, operator: &str, amount: &str) -> ChargeRequest {
    ChargeRequest {
        order: OrderId::new(order).unwrap(),
        operator: OperatorId::new(operator).unwrap(),
        expected_amount: Money::parse(amount).unwrap(),
    }
}

fn quiet(_: Progress) {}

#[tokio::test]
async fn charges_sync_to_the_central_exactly_once() {
    let stack = Stack::start(60_000).await;
    let engine = stack.engine(0);
    let paid = engine
        .charge(&charge("ORD-1", "op-anna", "12.34 EUR"), &quiet)
        .await
        .unwrap();
    assert_eq!(paid.state(), AttemptState::Succeeded);
    let declined = engine
        .charge(&charge("ORD-2", "op-anna", "5.00 EUR"), &quiet)
        .await
        .unwrap();
    assert_eq!(declined.state(), AttemptState::Declined);

    // While the results are in the outbox the central still shows the claims.
    assert_eq!(stack.order("ORD-1").await.order.status, OrderStatus::Unpaid);
    assert_eq!(
        engine.relay_once().await.unwrap(),
        RelayOutcome::Sent {
            delivered: 2,
            parked: 0
        }
    );
    let one = stack.order("ORD-1").await;
    assert_eq!(one.order.status, OrderStatus::Paid);
    assert_eq!(one.results.len(), 1);
    assert_eq!(
        one.order
            .paid_intent_id
            .as_ref()
            .map(GatewayIntentId::as_str),
        paid.attempt.intent_id.as_ref().map(GatewayIntentId::as_str)
    );
    assert_eq!(stack.order("ORD-2").await.order.status, OrderStatus::Failed);
    // The card networks' reattempt limits (issue 12, item 5): a plain decline counts from its
    // result alone; no report is sent for it (one request per decline slowed a drain tenfold).
    let now = || paydesk_engine::Clock::now(&SystemClock);
    let card = stack
        .central
        .store
        .card_history("pm_card_chargeDeclined", now())
        .await
        .unwrap();
    assert_eq!(card.declines.len(), 1, "{:?}", card.declines);
    assert_eq!(card.declines[0].decline_code, None);
    // A do-not-retry decline's code is reported after its result, and stops the card for good.
    let stolen = engine
        .charge(&charge("ORD-5", "op-anna", "7.00 EUR"), &quiet)
        .await
        .unwrap();
    assert_eq!(stolen.state(), AttemptState::Declined);
    engine.relay_once().await.unwrap();
    let card = stack
        .central
        .store
        .card_history("pm_card_chargeDeclinedStolenCard", now())
        .await
        .unwrap();
    assert_eq!(card.declines.len(), 1, "{:?}", card.declines);
    assert_eq!(
        card.declines[0].decline_code.as_deref(),
        Some("stolen_card")
    );

    // A paid order cannot be claimed again: the operator gets a sentence, nothing is journaled.
    let again = engine
        .charge(&charge("ORD-1", "op-anna", "12.34 EUR"), &quiet)
        .await
        .unwrap_err();
    assert!(again.to_string().contains("paid"), "{again}");

    // Delivering the same results again (a relay that died before marking them delivered)
    // changes nothing: every one is a duplicate of what the central applied.
    let attempts = engine
        .attempts(paydesk_journal::AttemptFilter::default())
        .await
        .unwrap();
    let again: Vec<ResultMessage> = attempts
        .iter()
        .map(|a| ResultMessage {
            attempt_id: a.id,
            order: a.order.clone(),
            number: a.number,
            installment: a.installment,
            claim_token: a.claim_token,
            state: a.state,
            amount: a.amount,
            intent_id: a.intent_id.clone(),
            operator: a.operator.clone(),
            terminal: a.terminal.clone(),
            offline: a.offline,
            reason: a.reason.clone(),
            decided_at: a.updated_at,
            event_seq: 1,
            event_hash: "0".repeat(64),
        })
        .collect();
    let head = engine.with_journal(|j| j.head()).await.unwrap();
    let statuses = stack.client(0).deliver(&again, head).await.unwrap();
    assert_eq!(statuses, vec![DeliveryStatus::Duplicate; 3]);
    assert_eq!(stack.order("ORD-1").await.results.len(), 1);
}

/// The duplicate guard's similar payment (issue 12, item 3): once ORD-1 is paid, ORD-4 of the
/// same customer and amount is refused with `similar_payment` naming ORD-1, nothing is journaled;
/// the same charge with `confirm_similar` (the operator's "Charge anyway") goes through.
#[tokio::test]
async fn a_similar_payment_is_charged_only_once_confirmed() {
    let stack = Stack::start(60_000).await;
    let engine = stack.engine(0);
    let paid = engine
        .charge(&charge("ORD-1", "op-anna", "12.34 EUR"), &quiet)
        .await
        .unwrap();
    assert_eq!(paid.state(), AttemptState::Succeeded);
    engine.relay_once().await.unwrap();
    assert_eq!(stack.order("ORD-1").await.order.status, OrderStatus::Paid);

    let refused = engine
        .charge(&charge("ORD-4", "op-anna", "12.34 EUR"), &quiet)
        .await
        .unwrap_err();
    match &refused {
        EngineError::Central(CentralError::Refused { code, message }) => {
            assert_eq!(*code, paydesk_protocol::ErrorCode::SimilarPayment);
            assert!(message.contains("ORD-1"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    let attempts = engine
        .attempts(paydesk_journal::AttemptFilter::default())
        .await
        .unwrap();
    assert_eq!(attempts.len(), 1, "the refused charge journaled nothing");

    let confirmed = engine
        .charge_with_options(
            &charge("ORD-4", "op-anna", "12.34 EUR"),
            None,
            ClaimOptions {
                confirm_similar: true,
                ..ClaimOptions::default()
            },
            &quiet,
        )
        .await
        .unwrap();
    assert_eq!(confirmed.state(), AttemptState::Succeeded);
}

#[tokio::test]
async fn a_second_terminal_sees_who_holds_the_order() {
    let stack = Stack::start(60_000).await;
    let first = stack.client(0);
    first
        .claim(&ClaimRequest {
            order: OrderId::new("ORD-3").unwrap(),
            operator: OperatorId::new("op-anna").unwrap(),
            terminal: TerminalId::new("till-1").unwrap(),
        })
        .await
        .unwrap();
    let err = stack
        .engine(1)
        .charge(&charge("ORD-3", "op-bela", "1200 JPY"), &quiet)
        .await
        .unwrap_err();
    match &err {
        EngineError::Central(CentralError::HeldBy {
            operator, terminal, ..
        }) => {
            assert_eq!(operator.as_str(), "op-anna");
            assert_eq!(terminal.as_str(), "till-1");
        }
        other => panic!("{other}"),
    }
    assert!(err.to_string().contains("op-anna"), "{err}");
}

#[tokio::test]
async fn a_stale_claim_cannot_register_an_intent() {
    let stack = Stack::start(100).await;
    let request = |operator: &str, terminal: &str| ClaimRequest {
        order: OrderId::new("ORD-3").unwrap(),
        operator: OperatorId::new(operator).unwrap(),
        terminal: TerminalId::new(terminal).unwrap(),
    };
    let old = stack
        .client(0)
        .claim(&request("op-anna", "till-1"))
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    let new = stack
        .client(1)
        .claim(&request("op-bela", "till-2"))
        .await
        .unwrap();
    assert!(new.token > old.token, "fencing tokens grow");
    let intent = GatewayIntentId::new("pi_from_the_old_holder").unwrap();
    let refused = stack
        .client(0)
        .register_intent(&old.order.id, old.token, old.attempt_number, &intent)
        .await;
    assert_eq!(refused, Err(CentralError::StaleClaim));
}

#[tokio::test]
async fn a_wrong_token_and_an_unknown_order_are_clear_errors() {
    let stack = Stack::start(60_000).await;
    let intruder = HttpCentral::new(
        &format!("http://{}", stack.central.addr),
        TerminalToken::new("not-a-token"),
    )
    .unwrap();
    let request = ClaimRequest {
        order: OrderId::new("ORD-1").unwrap(),
        operator: OperatorId::new("op-anna").unwrap(),
        terminal: TerminalId::new("till-1").unwrap(),
    };
    // No valid terminal token: refused whatever the session.
    assert_eq!(
        intruder.claim(&request).await.unwrap_err(),
        CentralError::Unauthorized
    );
    intruder.set_session(Some(SessionToken::new("pds_not_a_session")));
    assert_eq!(
        intruder.claim(&request).await.unwrap_err(),
        CentralError::Unauthorized
    );
    // A real terminal with no session, or with one that is not one.
    let forged = HttpCentral::new(
        &format!("http://{}", stack.central.addr),
        TerminalToken::new(stack.tokens[0].1.clone()),
    )
    .unwrap();
    assert_eq!(
        forged.claim(&request).await.unwrap_err(),
        CentralError::SessionRequired
    );
    forged.set_session(Some(SessionToken::new("pds_not_a_session")));
    let expired = forged.claim(&request).await.unwrap_err();
    assert!(
        matches!(
            expired,
            CentralError::SessionExpired
                | CentralError::SessionRequired
                | CentralError::Unauthorized
        ),
        "{expired:?}"
    );
    // Operator op-bela's session cannot claim for op-anna: the operator comes from the session.
    let as_other = stack
        .client(1)
        .claim(&ClaimRequest {
            order: OrderId::new("ORD-2").unwrap(),
            operator: OperatorId::new("op-anna").unwrap(),
            terminal: TerminalId::new("till-2").unwrap(),
        })
        .await
        .unwrap_err();
    assert!(
        matches!(as_other, CentralError::Forbidden(_)),
        "{as_other:?}"
    );
    let unknown = stack
        .client(0)
        .claim(&ClaimRequest {
            order: OrderId::new("ORD-404").unwrap(),
            ..request
        })
        .await
        .unwrap_err();
    assert_eq!(
        unknown,
        CentralError::UnknownOrder(OrderId::new("ORD-404").unwrap())
    );
    assert!(!format!("{intruder:?}").contains("not-a-token"));
    let _ = &stack.sandbox;
}

/// A batch the central refuses whole (403: every result is one no honest terminal sends, here a
/// journal relayed with another till's token, so its claim was never granted to the sender) is
/// parked for a person, kept in the journal, and not retried; the central stored nothing.
#[tokio::test]
async fn a_batch_the_central_refuses_whole_is_parked_not_retried() {
    let stack = Stack::start(60_000).await;
    let path = stack.dir.path().join("journal-0.sqlite");
    {
        let engine = stack.engine(0);
        let paid = engine
            .charge(&charge("ORD-1", "op-anna", "12.34 EUR"), &quiet)
            .await
            .unwrap();
        assert_eq!(paid.state(), AttemptState::Succeeded);
    }
    // Till-1's journal, relayed with till-2's credentials.
    let mut config = EngineConfig::new(stack.tokens[0].0.clone());
    config.ambiguous_backoff_ms_base = 5;
    let engine = Engine::new(
        Journal::open(&path).unwrap(),
        Arc::clone(&stack.gateway),
        stack.client(1),
        Arc::new(SystemClock),
        config,
    );
    assert_eq!(
        engine.relay_once().await.unwrap(),
        RelayOutcome::Sent {
            delivered: 0,
            parked: 1
        }
    );
    let parked = engine
        .outbox_list(paydesk_journal::OutboxListing::Parked, 10)
        .await
        .unwrap();
    assert_eq!(parked.len(), 1, "{parked:?}");
    let reason = parked[0].parked_reason.clone().unwrap_or_default();
    assert!(
        reason.contains("never granted to terminal till-2"),
        "{reason}"
    );
    // Parked, so never due again: the relay does not hammer the central with it.
    assert_eq!(engine.relay_once().await.unwrap(), RelayOutcome::Empty);
    // The central stored nothing and till-1 still holds its claim.
    let one = stack.order("ORD-1").await;
    assert_eq!(one.order.status, OrderStatus::Unpaid);
    assert!(one.results.is_empty(), "{:?}", one.results);
    assert_eq!(
        one.order.claim.as_ref().map(|c| c.terminal_id.as_str()),
        Some("till-1")
    );
}

//! The gateway contract: the behaviours of the gateway the charge protocol relies on, checked
//! through the Stripe connector against the local sandbox (always; the CI path) and against
//! Stripe's test mode (when `STRIPE_TEST_SECRET_KEY` is set).
//!
//! Every behaviour is one function taking an [`Env`] (a base URL and a key, as a connector), so
//! the two targets run exactly the same checks. Checks that need fault injection or the ledger
//! exist only for the sandbox and say so. Nothing here inspects the sandbox's internals except
//! through its admin HTTP API.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use paydesk_core::{
    AttemptId, AttemptNumber, ChargeOutcome, CreateOutcome, Currency, GatewayIntentId,
    IdempotencyKey, IntentStatus, Money, OrderId, TerminalId,
};
use paydesk_gateway::{
    ApiKey, CancelResult, ConfirmRequest, ConfirmResult, CreateIntentRequest, CreateResult,
    EventQuery, Gateway, GatewayError, IntentMetadata, MetadataQuery, RefundReason, RefundRequest,
    RefundResult, RefundStatus, StripeConfig, StripeGateway,
};

/// The sandbox only accepts this key, so a wrong key can be tested.
const SANDBOX_KEY: &str = "sk_test_paydesk_contract_suite_key";

/// Search lag in the sandbox for these tests: long enough that an immediate search misses, short
/// enough to wait out.
const SANDBOX_SEARCH_LAG_MS: u64 = 400;

/// How long to wait for a search to catch up before giving up (Stripe documents "under a minute").
const SEARCH_CATCH_UP_MS_MAX: u64 = 90_000;

/// One target: a connector, the raw base URL and key (for a second connector with other knobs),
/// and whether it is the sandbox (fault injection and ledger available).
struct Env {
    gateway: Arc<dyn Gateway>,
    base_url: String,
    key: String,
    sandbox: bool,
    /// Stripe test mode has no customers of ours; the sandbox accepts any id.
    customer: Option<String>,
}

impl Env {
    fn connector(&self, config: StripeConfig) -> StripeGateway {
        StripeGateway::new(ApiKey::new(self.key.clone()).unwrap(), config).unwrap()
    }

    /// A fresh order id, unique across runs (Stripe remembers keys for 24 hours).
    fn order(&self, label: &str) -> OrderId {
        let unique = uuid::Uuid::now_v7().simple().to_string();
        OrderId::new(format!("ct-{label}-{}", &unique[..24])).unwrap()
    }

    fn create(&self, order: &OrderId, minor: i64, payment_method: &str) -> CreateIntentRequest {
        let number = AttemptNumber::new(1).unwrap();
        CreateIntentRequest {
            amount: Money::new(minor, Currency::from_code("EUR").unwrap()).unwrap(),
            customer: self.customer.clone(),
            payment_method: payment_method.to_string(),
            off_session: true,
            metadata: IntentMetadata {
                order: order.clone(),
                attempt: AttemptId::from_uuid(uuid::Uuid::now_v7()).unwrap(),
                attempt_number: number,
                terminal: TerminalId::new("T-contract").unwrap(),
            },
            key: IdempotencyKey::for_create(order, number),
        }
    }

    async fn created(&self, request: &CreateIntentRequest) -> GatewayIntentId {
        match self.gateway.create_intent(request).await.unwrap() {
            CreateResult::Created(view) => view.id,
            other => panic!("create: {other:?}"),
        }
    }

    async fn confirm(&self, intent: &GatewayIntentId) -> ConfirmResult {
        self.gateway
            .confirm_intent(&confirm_request(intent))
            .await
            .unwrap()
    }

    /// POST an admin request to the sandbox.
    async fn admin(&self, path: &str, body: serde_json::Value) -> serde_json::Value {
        assert!(self.sandbox, "admin endpoints exist only in the sandbox");
        let response = reqwest::Client::new()
            .post(format!("{}{path}", self.base_url))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
        response.json().await.unwrap()
    }

    async fn ledger(&self) -> serde_json::Value {
        reqwest::get(format!("{}/admin/ledger", self.base_url))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Succeeded intents of one order, as the sandbox's ground truth has them.
    async fn ledger_succeeded(&self, order: &OrderId) -> usize {
        let ledger = self.ledger().await;
        ledger["intents"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["metadata"]["order_id"] == order.as_str() && i["status"] == "succeeded")
            .count()
    }
}

fn confirm_request(intent: &GatewayIntentId) -> ConfirmRequest {
    ConfirmRequest {
        intent: intent.clone(),
        off_session: true,
        key: IdempotencyKey::for_confirm(intent),
    }
}

fn refund_request(intent: &GatewayIntentId, n: u32, minor: Option<i64>) -> RefundRequest {
    RefundRequest {
        intent: intent.clone(),
        amount: minor.map(|m| Money::new(m, Currency::from_code("EUR").unwrap()).unwrap()),
        reason: Some(RefundReason::RequestedByCustomer),
        metadata: BTreeMap::from([("approved_by".to_string(), "mgr-contract".to_string())]),
        key: IdempotencyKey::for_refund(intent, AttemptNumber::new(n).unwrap()),
    }
}

// ---------------------------------------------------------------------------------------------
// The behaviours.
// ---------------------------------------------------------------------------------------------

/// The same create, sent twice under one key, makes one intent.
async fn idempotent_create(env: &Env) {
    let order = env.order("idem");
    let request = env.create(&order, 1500, "pm_card_visa");
    let first = env.created(&request).await;
    let second = env.created(&request).await;
    assert_eq!(first, second, "same key, same intent");
    let view = env.gateway.retrieve_intent(&first).await.unwrap();
    assert_eq!(view.status, IntentStatus::RequiresConfirmation);
    assert_eq!(view.amount.minor(), 1500);
    assert_eq!(view.meta("order_id"), Some(order.as_str()));
    assert_eq!(view.meta("attempt_number"), Some("1"));
    assert_eq!(view.meta("terminal_id"), Some("T-contract"));
}

/// A confirm re-sent with its key replays the first answer: one charge, the same charge id.
async fn replay(env: &Env) {
    let order = env.order("replay");
    let intent = env.created(&env.create(&order, 2100, "pm_card_visa")).await;
    let first = env.confirm(&intent).await;
    assert_eq!(first.outcome(), ChargeOutcome::Succeeded, "{first:?}");
    let again = env.confirm(&intent).await;
    assert_eq!(again.outcome(), ChargeOutcome::Succeeded, "{again:?}");
    let charge = first.intent().and_then(|i| i.latest_charge.clone());
    assert!(charge.is_some());
    assert_eq!(charge, again.intent().and_then(|i| i.latest_charge.clone()));
    let view = env.gateway.retrieve_intent(&intent).await.unwrap();
    assert_eq!(view.status, IntentStatus::Succeeded);
    assert_eq!(view.amount_received, Some(2100));
    // A confirm under another key finds the intent already succeeded: still Succeeded.
    let other_key = ConfirmRequest {
        key: IdempotencyKey::for_confirm(&GatewayIntentId::new(format!("{intent}-x")).unwrap()),
        ..confirm_request(&intent)
    };
    let late = env.gateway.confirm_intent(&other_key).await.unwrap();
    assert_eq!(late.outcome(), ChargeOutcome::Succeeded, "{late:?}");
    if env.sandbox {
        assert_eq!(env.ledger_succeeded(&order).await, 1);
    }
}

/// The same key with other parameters is a bug, reported as its own error; nothing executes.
async fn param_mismatch(env: &Env) {
    let order = env.order("mismatch");
    let request = env.create(&order, 1000, "pm_card_visa");
    let intent = env.created(&request).await;
    let changed = CreateIntentRequest {
        amount: Money::new(2000, Currency::from_code("EUR").unwrap()).unwrap(),
        ..request
    };
    let error = env.gateway.create_intent(&changed).await.unwrap_err();
    assert!(
        matches!(&error, GatewayError::IdempotencyKeyReused { key, .. } if *key == changed.key),
        "{error:?}"
    );
    let view = env.gateway.retrieve_intent(&intent).await.unwrap();
    assert_eq!(view.amount.minor(), 1000, "the first request stands");
}

/// Two requests with one key at the same time: the second is told the key is in flight, the
/// connector retries under the same key, and both end with the same intent.
async fn in_flight_conflict(env: &Env) {
    let order = env.order("inflight");
    let request = env.create(&order, 1200, "pm_card_visa");
    if env.sandbox {
        // Hold the first create for a while so the second surely overlaps it.
        env.admin(
            "/admin/faults",
            serde_json::json!({"spec": "create:latency=600:1"}),
        )
        .await;
    }
    let patient = Arc::new(env.connector(StripeConfig {
        retries_max: 8,
        backoff_ms_base: 100,
        backoff_ms_max: 400,
        ..StripeConfig::with_base_url(&env.base_url)
    }));
    let (a, b) = {
        let (first, second) = (patient.clone(), patient.clone());
        let (r1, r2) = (request.clone(), request.clone());
        let one = tokio::spawn(async move { first.create_intent(&r1).await });
        tokio::time::sleep(Duration::from_millis(100)).await;
        let two = tokio::spawn(async move { second.create_intent(&r2).await });
        (one.await.unwrap().unwrap(), two.await.unwrap().unwrap())
    };
    assert_eq!(a.outcome(), b.outcome(), "{a:?} / {b:?}");
    assert!(matches!(a.outcome(), CreateOutcome::Created { .. }));

    if env.sandbox {
        // Without retries the conflict surfaces as Unknown: the other request may land.
        let order = env.order("inflight-noretry");
        let request = env.create(&order, 1200, "pm_card_visa");
        env.admin(
            "/admin/faults",
            serde_json::json!({"spec": "create:latency=600:1"}),
        )
        .await;
        let impatient = env.connector(StripeConfig {
            retries_max: 0,
            ..StripeConfig::with_base_url(&env.base_url)
        });
        let first = env.gateway.clone();
        let r1 = request.clone();
        let one = tokio::spawn(async move { first.create_intent(&r1).await });
        tokio::time::sleep(Duration::from_millis(100)).await;
        let two = impatient.create_intent(&request).await.unwrap();
        assert_eq!(two.outcome(), CreateOutcome::Unknown, "{two:?}");
        let one = one.await.unwrap().unwrap();
        assert!(matches!(one.outcome(), CreateOutcome::Created { .. }));
    }
}

/// Stripe's test cards decline with their documented codes; the intent records the reason.
async fn decline_codes(env: &Env) {
    for (payment_method, reason) in [
        ("pm_card_chargeDeclined", "generic_decline"),
        (
            "pm_card_chargeDeclinedInsufficientFunds",
            "insufficient_funds",
        ),
        ("pm_card_chargeDeclinedExpiredCard", "expired_card"),
    ] {
        let order = env.order("decline");
        let intent = env.created(&env.create(&order, 900, payment_method)).await;
        let result = env.confirm(&intent).await;
        // The reason is the decline code, then the issuer's advice code when one is given
        // (`insufficient_funds advice:try_again_later`).
        let code = |r: &str| r.split_whitespace().next().map(str::to_string);
        let ChargeOutcome::Declined { reason: declined } = result.outcome() else {
            panic!("{payment_method}: {result:?}");
        };
        assert_eq!(code(&declined).as_deref(), Some(reason), "{payment_method}");
        let view = env.gateway.retrieve_intent(&intent).await.unwrap();
        let IntentStatus::RequiresPaymentMethod { reason: kept } = &view.status else {
            panic!("{payment_method}: {view:?}");
        };
        assert_eq!(kept, &declined, "{payment_method}");
        // Re-sending the confirm replays the decline; it never turns into something else.
        let again = env.confirm(&intent).await;
        assert_eq!(again.outcome(), result.outcome(), "{payment_method}");
    }
}

/// A card that needs 3-D Secure: off-session the confirm fails as "requires action"; no money.
async fn requires_action(env: &Env) {
    let order = env.order("3ds");
    let intent = env
        .created(&env.create(&order, 800, "pm_card_authenticationRequired"))
        .await;
    let result = env.confirm(&intent).await;
    assert_eq!(
        result.outcome(),
        ChargeOutcome::RequiresAction,
        "{result:?}"
    );
    let view = env.gateway.retrieve_intent(&intent).await.unwrap();
    assert_ne!(view.status, IntentStatus::Succeeded);

    // Stripe's recovery (a payment link): the same intent confirmed again on session, with the
    // payment method and a return url, waits for the customer with a page to send them to.
    let key = IdempotencyKey::from_stored(&format!(
        "{}:link-contract",
        IdempotencyKey::for_confirm(&intent).as_str()
    ))
    .unwrap();
    let waiting = env
        .gateway
        .confirm_on_session(
            &intent,
            "pm_card_authenticationRequired",
            "https://example.com/pay/back",
            &key,
        )
        .await
        .unwrap();
    assert_eq!(waiting.status, IntentStatus::RequiresAction, "{waiting:?}");
    assert_eq!(waiting.next_action.as_deref(), Some("redirect_to_url"));
    assert!(waiting.next_action_url.is_some(), "{waiting:?}");

    // On-session the intent itself waits for the customer.
    let order = env.order("3ds-on");
    let intent = env
        .created(&env.create(&order, 800, "pm_card_authenticationRequired"))
        .await;
    let on_session = ConfirmRequest {
        off_session: false,
        ..confirm_request(&intent)
    };
    let result = env.gateway.confirm_intent(&on_session).await.unwrap();
    assert_eq!(
        result.outcome(),
        ChargeOutcome::RequiresAction,
        "{result:?}"
    );
    assert_eq!(
        env.gateway.retrieve_intent(&intent).await.unwrap().status,
        IntentStatus::RequiresAction
    );
}

/// Cancel is idempotent, a canceled intent cannot be charged, and a succeeded one cannot be
/// canceled.
async fn cancel(env: &Env) {
    let order = env.order("cancel");
    let intent = env.created(&env.create(&order, 700, "pm_card_visa")).await;
    let key = IdempotencyKey::for_cancel(&intent);
    let first = env.gateway.cancel_intent(&intent, &key).await.unwrap();
    assert!(matches!(first, CancelResult::Canceled(_)), "{first:?}");
    let replayed = env.gateway.cancel_intent(&intent, &key).await.unwrap();
    assert!(
        matches!(replayed, CancelResult::Canceled(_)),
        "{replayed:?}"
    );
    // Another key reaches the gateway afresh: "unexpected state", settled by a retrieve.
    let other = IdempotencyKey::for_cancel(&GatewayIntentId::new(format!("{intent}-x")).unwrap());
    let again = env.gateway.cancel_intent(&intent, &other).await.unwrap();
    assert!(matches!(again, CancelResult::Canceled(_)), "{again:?}");
    let confirm = env.confirm(&intent).await;
    assert_eq!(confirm.outcome(), ChargeOutcome::Unknown, "{confirm:?}");
    assert_eq!(
        confirm.intent().map(|i| i.status.clone()),
        Some(IntentStatus::Canceled),
        "the unknown carries the evidence"
    );

    let order = env.order("cancel-late");
    let paid = env.created(&env.create(&order, 700, "pm_card_visa")).await;
    assert_eq!(env.confirm(&paid).await.outcome(), ChargeOutcome::Succeeded);
    let late = env
        .gateway
        .cancel_intent(&paid, &IdempotencyKey::for_cancel(&paid))
        .await
        .unwrap();
    assert!(
        matches!(&late, CancelResult::NotCancelable(v) if v.status == IntentStatus::Succeeded),
        "{late:?}"
    );
}

/// Partial then full refunds; a refund re-sent with its key is the same refund; nothing is
/// refunded twice.
async fn refund(env: &Env) {
    let order = env.order("refund");
    let intent = env.created(&env.create(&order, 5000, "pm_card_visa")).await;
    assert_eq!(
        env.confirm(&intent).await.outcome(),
        ChargeOutcome::Succeeded
    );

    let partial = env
        .gateway
        .refund(&refund_request(&intent, 1, Some(1200)))
        .await
        .unwrap();
    let RefundResult::Created(first) = &partial else {
        panic!("{partial:?}")
    };
    assert_eq!(first.amount.minor(), 1200);
    assert!(matches!(
        first.status,
        RefundStatus::Succeeded | RefundStatus::Pending
    ));
    let replay = env
        .gateway
        .refund(&refund_request(&intent, 1, Some(1200)))
        .await
        .unwrap();
    assert!(
        matches!(&replay, RefundResult::Created(r) if r.id == first.id),
        "{replay:?}"
    );
    let rest = env
        .gateway
        .refund(&refund_request(&intent, 2, None))
        .await
        .unwrap();
    assert!(
        matches!(&rest, RefundResult::Created(r) if r.amount.minor() == 3800),
        "{rest:?}"
    );
    let more = env
        .gateway
        .refund(&refund_request(&intent, 3, Some(100)))
        .await
        .unwrap();
    assert!(matches!(more, RefundResult::Refused { .. }), "{more:?}");
}

/// A search right after a create may miss the intent: the miss proves nothing, the retrieve by id
/// finds it, and the search catches up later.
async fn search_miss_proves_nothing(env: &Env) {
    let order = env.order("search");
    let intent = env.created(&env.create(&order, 600, "pm_card_visa")).await;
    let immediately = env
        .gateway
        .search_intents(&MetadataQuery::order(&order))
        .await
        .unwrap();
    if env.sandbox {
        assert!(
            immediately.is_empty(),
            "the sandbox lags on purpose: {immediately:?}"
        );
    }
    let by_id = env.gateway.retrieve_intent(&intent).await.unwrap();
    assert_eq!(by_id.meta("order_id"), Some(order.as_str()));

    let started = Instant::now();
    loop {
        let found = env
            .gateway
            .search_intents(&MetadataQuery::attempt(
                &order,
                AttemptNumber::new(1).unwrap(),
            ))
            .await
            .unwrap();
        if found.iter().any(|view| view.id == intent) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_millis(SEARCH_CATCH_UP_MS_MAX),
            "search never caught up"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let other = env.order("search-none");
    assert!(env
        .gateway
        .search_intents(&MetadataQuery::order(&other))
        .await
        .unwrap()
        .is_empty());
}

/// Recent events include our intent's success.
async fn events(env: &Env) {
    let order = env.order("events");
    let intent = env.created(&env.create(&order, 650, "pm_card_visa")).await;
    assert_eq!(
        env.confirm(&intent).await.outcome(),
        ChargeOutcome::Succeeded
    );
    let page = env
        .gateway
        .list_events(&EventQuery {
            limit: 100,
            ..EventQuery::default()
        })
        .await
        .unwrap();
    assert!(
        page.events
            .iter()
            .any(|e| e.event_type == "payment_intent.succeeded"
                && e.object_id.as_deref() == Some(intent.as_str())),
        "{:?}",
        page.events
            .iter()
            .map(|e| &e.event_type)
            .collect::<Vec<_>>()
    );
}

/// A wrong key is a configuration error that never shows the key.
async fn bad_key(env: &Env) {
    let wrong = "sk_test_definitelyNotTheRightKey0000";
    let gateway = StripeGateway::new(
        ApiKey::new(wrong).unwrap(),
        StripeConfig::with_base_url(&env.base_url),
    )
    .unwrap();
    let order = env.order("badkey");
    let error = gateway
        .create_intent(&env.create(&order, 100, "pm_card_visa"))
        .await
        .unwrap_err();
    assert!(
        matches!(error, GatewayError::Authentication { .. }),
        "{error:?}"
    );
    for text in [
        format!("{error}"),
        format!("{error:?}"),
        format!("{gateway:?}"),
    ] {
        assert!(!text.contains("definitelyNotTheRightKey"), "{text}");
    }
}

/// Sandbox only: the connector against injected faults, checked with the ledger.
async fn faults(env: &Env) {
    if !env.sandbox {
        return;
    }
    // Charge, then drop the response: Unknown; the same key then replays the success.
    let order = env.order("drop");
    let intent = env.created(&env.create(&order, 1000, "pm_card_visa")).await;
    env.admin(
        "/admin/faults",
        serde_json::json!({"spec": "confirm:drop_after_execute:1"}),
    )
    .await;
    let dropped = env.confirm(&intent).await;
    assert_eq!(dropped.outcome(), ChargeOutcome::Unknown, "{dropped:?}");
    assert_eq!(
        env.confirm(&intent).await.outcome(),
        ChargeOutcome::Succeeded
    );
    assert_eq!(env.ledger_succeeded(&order).await, 1);

    // A 500 is Unknown, and the gateway replays it for the same key (Stripe's rule).
    let order = env.order("500");
    let intent = env.created(&env.create(&order, 1000, "pm_card_visa")).await;
    env.admin(
        "/admin/faults",
        serde_json::json!({"spec": "confirm:http_500:1"}),
    )
    .await;
    assert_eq!(env.confirm(&intent).await.outcome(), ChargeOutcome::Unknown);
    assert_eq!(env.confirm(&intent).await.outcome(), ChargeOutcome::Unknown);
    assert_eq!(
        env.gateway.retrieve_intent(&intent).await.unwrap().status,
        IntentStatus::RequiresConfirmation,
        "nothing was charged"
    );

    // Executed, then answered 500: Unknown, and the lookup shows the money moved.
    let order = env.order("500-after");
    let intent = env.created(&env.create(&order, 1000, "pm_card_visa")).await;
    env.admin(
        "/admin/faults",
        serde_json::json!({"spec": "confirm:http_500_after_execute:1"}),
    )
    .await;
    assert_eq!(env.confirm(&intent).await.outcome(), ChargeOutcome::Unknown);
    assert_eq!(
        env.gateway.retrieve_intent(&intent).await.unwrap().status,
        IntentStatus::Succeeded
    );

    // Rate limited twice: retried under the same key, one charge.
    let order = env.order("429");
    let intent = env.created(&env.create(&order, 1000, "pm_card_visa")).await;
    env.admin(
        "/admin/faults",
        serde_json::json!({"spec": "confirm:http_429:2"}),
    )
    .await;
    assert_eq!(
        env.confirm(&intent).await.outcome(),
        ChargeOutcome::Succeeded
    );
    assert_eq!(env.ledger_succeeded(&order).await, 1);

    // Dropped before executing: the connector cannot tell, so Unknown, and nothing moved.
    let order = env.order("drop-before");
    env.admin(
        "/admin/faults",
        serde_json::json!({"spec": "create:drop_before_execute:1"}),
    )
    .await;
    let request = env.create(&order, 1000, "pm_card_visa");
    let lost = env.gateway.create_intent(&request).await.unwrap();
    assert_eq!(lost.outcome(), CreateOutcome::Unknown, "{lost:?}");
    env.created(&request).await;

    // Slower than the connector's deadline: Unknown, never Declined.
    let order = env.order("slow");
    let intent = env.created(&env.create(&order, 1000, "pm_card_visa")).await;
    env.admin(
        "/admin/faults",
        serde_json::json!({"spec": "confirm:latency=1500:1"}),
    )
    .await;
    let hasty = env.connector(StripeConfig {
        request_timeout_ms: 300,
        ..StripeConfig::with_base_url(&env.base_url)
    });
    let slow = hasty
        .confirm_intent(&confirm_request(&intent))
        .await
        .unwrap();
    assert_eq!(slow.outcome(), ChargeOutcome::Unknown, "{slow:?}");
}

// ---------------------------------------------------------------------------------------------
// The targets.
// ---------------------------------------------------------------------------------------------

async fn sandbox_env() -> (Env, paydesk_sandbox::SandboxHandle) {
    let handle = paydesk_sandbox::spawn(paydesk_sandbox::SandboxConfig {
        api_key: Some(SANDBOX_KEY.to_string()),
        search_lag_ms: SANDBOX_SEARCH_LAG_MS,
        ..paydesk_sandbox::SandboxConfig::default()
    })
    .await
    .unwrap();
    let gateway = StripeGateway::new(
        ApiKey::new(SANDBOX_KEY).unwrap(),
        StripeConfig::with_base_url(&handle.base_url),
    )
    .unwrap();
    let env = Env {
        gateway: Arc::new(gateway),
        base_url: handle.base_url.clone(),
        key: SANDBOX_KEY.to_string(),
        sandbox: true,
        customer: Some("cus_contract".to_string()),
    };
    (env, handle)
}

fn stripe_env() -> Option<Env> {
    let Ok(key) = std::env::var("STRIPE_TEST_SECRET_KEY") else {
        eprintln!(
            "skipped: set STRIPE_TEST_SECRET_KEY to run the contract against Stripe test mode"
        );
        return None;
    };
    let key = ApiKey::new(key.trim()).expect("STRIPE_TEST_SECRET_KEY is not a usable key");
    assert!(
        key.is_test_mode(),
        "STRIPE_TEST_SECRET_KEY must be a test-mode key"
    );
    let config = StripeConfig::default();
    let base_url = config.base_url.clone();
    Some(Env {
        gateway: Arc::new(StripeGateway::new(key, config).unwrap()),
        base_url,
        key: std::env::var("STRIPE_TEST_SECRET_KEY")
            .unwrap()
            .trim()
            .to_string(),
        sandbox: false,
        customer: None,
    })
}

/// One test per behaviour and target, so a failure names both.
macro_rules! contract {
    ($($behaviour:ident),* $(,)?) => {
        mod sandbox {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $behaviour() {
                    let (env, handle) = super::sandbox_env().await;
                    super::$behaviour(&env).await;
                    handle.shutdown().await;
                }
            )*
        }
        mod stripe_test_mode {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $behaviour() {
                    let Some(env) = super::stripe_env() else { return };
                    super::$behaviour(&env).await;
                }
            )*
        }
    };
}

contract!(
    idempotent_create,
    replay,
    param_mismatch,
    in_flight_conflict,
    decline_codes,
    requires_action,
    cancel,
    refund,
    search_miss_proves_nothing,
    events,
    bad_key,
    faults,
);

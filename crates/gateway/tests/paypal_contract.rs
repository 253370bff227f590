//! The PayPal contract: the behaviours of PayPal's Orders v2 the charge protocol relies on,
//! checked through the PayPal connector against the local sandbox (always) and against PayPal's
//! own sandbox when `PAYPAL_CLIENT_ID` and `PAYPAL_CLIENT_SECRET` are set.
//!
//! Against the local sandbox: success, the capture that is declined inside a `COMPLETED` order,
//! `INSTRUMENT_DECLINED`, payer action, pending, a lost capture answer replayed under the same
//! `PayPal-Request-Id` (one capture), a 500 after the capture (the order read by id is the truth),
//! a request id reused with another body (a bug), `DUPLICATE_INVOICE_ID` proven by re-sending an
//! attempt after the request-id window, token refresh before expiry and after a 401, refused
//! credentials, `PayPal-Mock-Response`, cancel and search. Against PayPal's sandbox only what
//! needs no vaulted source of ours: token, create (`CREATED`), the create replayed under its
//! request id, a mismatch, lookups, cancel; plus a capture when `PAYPAL_VAULT_ID` names one.
//! Nothing here inspects the local sandbox except through its admin HTTP API.

use std::sync::Arc;
use std::time::Duration;

use paydesk_core::{
    AttemptId, AttemptNumber, ChargeOutcome, CreateOutcome, Currency, GatewayIntentId,
    IdempotencyKey, IntentStatus, Money, OrderId, TerminalId,
};
use paydesk_gateway::paypal::{META_SOURCE, PAYPAL_SANDBOX_API_BASE};
use paydesk_gateway::{
    ApiKey, CancelResult, ConfirmRequest, ConfirmResult, CreateIntentRequest, CreateResult,
    Gateway, GatewayError, IntentMetadata, MetadataQuery, PaypalConfig, PaypalGateway,
    RefundRequest, RefundResult, RefundStatus,
};
use serde_json::{json, Value};

const CLIENT_ID: &str = "paydesk-contract-client";
const SECRET: &str = "paydesk-contract-secret-value";

struct Env {
    gateway: PaypalGateway,
    base_url: String,
    _sandbox: paydesk_sandbox::SandboxHandle,
}

async fn sandbox() -> Env {
    let handle = paydesk_sandbox::spawn(paydesk_sandbox::SandboxConfig::default())
        .await
        .unwrap();
    let base_url = handle.base_url.clone();
    let env = Env {
        gateway: connector(&base_url, SECRET),
        base_url,
        _sandbox: handle,
    };
    env.admin(
        "/admin/paypal/settings",
        json!({"client_id": CLIENT_ID, "client_secret": SECRET}),
    )
    .await;
    env
}

fn connector(base_url: &str, secret: &str) -> PaypalGateway {
    PaypalGateway::new(
        CLIENT_ID,
        ApiKey::new(secret).unwrap(),
        PaypalConfig {
            backoff_ms_base: 10,
            backoff_ms_max: 20,
            ..PaypalConfig::with_base_url(base_url)
        },
    )
    .unwrap()
}

impl Env {
    async fn admin(&self, path: &str, body: Value) -> Value {
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

    async fn ledger(&self) -> Value {
        reqwest::get(format!("{}/admin/paypal/ledger", self.base_url))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

fn order_id(label: &str) -> OrderId {
    let unique = uuid::Uuid::now_v7().simple().to_string();
    OrderId::new(format!("pp-{label}-{}", &unique[..20])).unwrap()
}

fn create_request(order: &OrderId, number: u32, minor: i64, source: &str) -> CreateIntentRequest {
    let number = AttemptNumber::new(number).unwrap();
    CreateIntentRequest {
        amount: Money::new(minor, Currency::from_code("EUR").unwrap()).unwrap(),
        customer: None,
        payment_method: source.to_string(),
        off_session: true,
        metadata: IntentMetadata {
            order: order.clone(),
            attempt: AttemptId::from_uuid(uuid::Uuid::now_v7()).unwrap(),
            attempt_number: number,
            terminal: TerminalId::new("T-paypal").unwrap(),
        },
        key: IdempotencyKey::for_create(order, number),
    }
}

fn confirm_request(intent: &GatewayIntentId) -> ConfirmRequest {
    ConfirmRequest {
        intent: intent.clone(),
        off_session: true,
        key: IdempotencyKey::for_confirm(intent),
    }
}

async fn created(gateway: &PaypalGateway, request: &CreateIntentRequest) -> GatewayIntentId {
    match gateway.create_intent(request).await.unwrap() {
        CreateResult::Created(view) => {
            assert_eq!(view.status, IntentStatus::RequiresConfirmation, "{view:?}");
            view.id
        }
        other => panic!("create: {other:?}"),
    }
}

/// Creates an order charged to `source` and confirms it once.
async fn charge(env: &Env, label: &str, source: &str) -> (GatewayIntentId, ConfirmResult) {
    let order = order_id(label);
    let intent = created(&env.gateway, &create_request(&order, 1, 12_900, source)).await;
    let result = env
        .gateway
        .confirm_intent(&confirm_request(&intent))
        .await
        .unwrap();
    (intent, result)
}

fn captures(ledger: &Value, intent: &GatewayIntentId) -> Vec<Value> {
    ledger["orders"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["id"] == intent.as_str())
        .map(|o| o["captures"].as_array().unwrap().clone())
        .unwrap_or_default()
}

#[tokio::test]
async fn a_vaulted_card_is_charged_read_back_and_refunded() {
    let env = sandbox().await;
    let order = order_id("ok");
    let request = create_request(&order, 1, 12_900, "card:vault_approve");
    let intent = created(&env.gateway, &request).await;
    // Creating moved no money.
    assert!(captures(&env.ledger().await, &intent).is_empty());
    let view = env.gateway.retrieve_intent(&intent).await.unwrap();
    assert_eq!(view.meta("order_id"), Some(order.as_str()));
    assert_eq!(view.meta("attempt_number"), Some("1"));
    assert_eq!(view.meta("terminal_id"), Some("T-paypal"));
    assert_eq!(view.meta(META_SOURCE), Some("card:vault_approve"));
    assert_eq!(view.amount.minor(), 12_900);

    let result = env
        .gateway
        .confirm_intent(&confirm_request(&intent))
        .await
        .unwrap();
    let ConfirmResult::Succeeded { intent: view } = &result else {
        panic!("{result:?}")
    };
    assert_eq!(view.amount_received, Some(12_900));
    assert_eq!(
        env.gateway.retrieve_intent(&intent).await.unwrap().status,
        IntentStatus::Succeeded
    );
    // A PayPal wallet source is charged the same way.
    let (_, wallet) = charge(&env, "wallet", "paypal:vault_approve").await;
    assert_eq!(wallet.outcome(), ChargeOutcome::Succeeded, "{wallet:?}");

    let refund = |amount: Option<i64>, n: u32| RefundRequest {
        intent: intent.clone(),
        amount: amount.map(|m| Money::new(m, Currency::from_code("EUR").unwrap()).unwrap()),
        reason: None,
        metadata: Default::default(),
        key: IdempotencyKey::for_refund(&intent, AttemptNumber::new(n).unwrap()),
    };
    let RefundResult::Created(first) = env.gateway.refund(&refund(Some(1_000), 1)).await.unwrap()
    else {
        panic!("partial refund refused")
    };
    assert_eq!(
        (first.status, first.amount.minor()),
        (RefundStatus::Succeeded, 1_000)
    );
    let read = env.gateway.retrieve_refund(&first.id).await.unwrap();
    assert_eq!(read.amount.minor(), 1_000);
    // The capture (the order's latest charge) shows what is refunded of it, for the evidence.
    let capture = view
        .latest_charge
        .clone()
        .expect("a paid order names its capture");
    let charge = env.gateway.retrieve_charge(&capture).await.unwrap();
    assert_eq!(
        (charge.paid, charge.amount_captured, charge.amount_refunded),
        (true, 12_900, 1_000)
    );
    assert_eq!(charge.payment_intent.as_deref(), Some(intent.as_str()));
    // Re-sending the same refund replays it; the rest is refunded once; nothing is left after.
    let RefundResult::Created(again) = env.gateway.refund(&refund(Some(1_000), 1)).await.unwrap()
    else {
        panic!("replayed refund refused")
    };
    assert_eq!(again.id, first.id);
    let RefundResult::Created(rest) = env.gateway.refund(&refund(None, 2)).await.unwrap() else {
        panic!("refund of the rest refused")
    };
    assert_eq!(rest.amount.minor(), 11_900);
    let over = env.gateway.refund(&refund(Some(100), 3)).await.unwrap();
    assert!(
        matches!(&over, RefundResult::Refused { reason, .. } if reason == "CAPTURE_FULLY_REFUNDED"),
        "{over:?}"
    );
    let charge = env.gateway.retrieve_charge(&capture).await.unwrap();
    assert_eq!((charge.refunded, charge.amount_refunded), (true, 12_900));
    // Still paid: a refund does not turn the payment into a decline.
    assert_eq!(
        env.gateway.retrieve_intent(&intent).await.unwrap().status,
        IntentStatus::Succeeded
    );
}

#[tokio::test]
async fn declines_payer_action_and_pending_are_told_apart() {
    let env = sandbox().await;
    // The order is COMPLETED, its capture DECLINED: a decline, never a payment.
    let (intent, result) = charge(&env, "decline", "card:vault_decline").await;
    match &result {
        ConfirmResult::Declined {
            reason,
            intent: Some(view),
        } => {
            assert_eq!(reason, "DECLINED");
            assert!(
                view.status_raw.contains("order COMPLETED"),
                "{}",
                view.status_raw
            );
            assert_eq!(view.amount_received, Some(0));
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        env.gateway.retrieve_intent(&intent).await.unwrap().status,
        IntentStatus::RequiresPaymentMethod { .. }
    ));

    let (_, result) = charge(&env, "refused", "card:vault_instrument_declined").await;
    assert!(
        matches!(&result, ConfirmResult::Declined { reason, .. } if reason == "INSTRUMENT_DECLINED"),
        "{result:?}"
    );
    let (_, result) = charge(&env, "expired", "card:vault_card_expired").await;
    assert!(
        matches!(&result, ConfirmResult::Declined { reason, .. } if reason == "CARD_EXPIRED"),
        "{result:?}"
    );

    let (intent, result) = charge(&env, "3ds", "card:vault_payer_action").await;
    assert_eq!(
        result.outcome(),
        ChargeOutcome::RequiresAction,
        "{result:?}"
    );
    let view = env.gateway.retrieve_intent(&intent).await.unwrap();
    assert_eq!(view.status, IntentStatus::RequiresAction);
    assert_eq!(view.next_action.as_deref(), Some("payer-action"));

    // PENDING is pending at PayPal: not paid, not declined; the order says so.
    let (_, result) = charge(&env, "pending", "card:vault_pending").await;
    match &result {
        ConfirmResult::Unknown {
            intent: Some(view), ..
        } => {
            assert_eq!(view.status, IntentStatus::Processing);
            assert_eq!(view.amount_received, Some(0));
        }
        other => panic!("{other:?}"),
    }

    // A fourth capture of an order after three declines is refused by PayPal's attempt limit.
    let order = order_id("limit");
    let intent = created(
        &env.gateway,
        &create_request(&order, 1, 500, "card:vault_instrument_declined"),
    )
    .await;
    for retry in 0..3 {
        let request = ConfirmRequest {
            key: IdempotencyKey::for_confirm_retry(&intent, retry),
            ..confirm_request(&intent)
        };
        let result = env.gateway.confirm_intent(&request).await.unwrap();
        assert_eq!(
            result.outcome(),
            ChargeOutcome::Declined {
                reason: "INSTRUMENT_DECLINED".into()
            }
        );
    }
    let request = ConfirmRequest {
        key: IdempotencyKey::for_confirm_retry(&intent, 3),
        ..confirm_request(&intent)
    };
    let result = env.gateway.confirm_intent(&request).await.unwrap();
    assert_eq!(
        result.outcome(),
        ChargeOutcome::Declined {
            reason: "MAX_NUMBER_OF_PAYMENT_ATTEMPTS_EXCEEDED".into()
        }
    );
}

#[tokio::test]
async fn a_lost_capture_answer_is_replayed_under_the_same_request_id() {
    let env = sandbox().await;
    let order = order_id("lost");
    let intent = created(
        &env.gateway,
        &create_request(&order, 1, 12_900, "card:vault_approve"),
    )
    .await;
    env.admin(
        "/admin/faults",
        json!({"spec": "confirm:drop_after_execute:1"}),
    )
    .await;
    let lost = env
        .gateway
        .confirm_intent(&confirm_request(&intent))
        .await
        .unwrap();
    assert!(
        matches!(lost, ConfirmResult::Unknown { intent: None, .. }),
        "{lost:?}"
    );
    let again = env
        .gateway
        .confirm_intent(&confirm_request(&intent))
        .await
        .unwrap();
    assert_eq!(again.outcome(), ChargeOutcome::Succeeded, "{again:?}");
    let ledger = env.ledger().await;
    assert_eq!(captures(&ledger, &intent).len(), 1, "{ledger}");
    let key = IdempotencyKey::for_confirm(&intent);
    assert_eq!(
        ledger["request_ids"][key.as_str()]["executions"],
        1,
        "{ledger}"
    );
    assert_eq!(
        ledger["request_ids"][key.as_str()]["replays"],
        1,
        "{ledger}"
    );

    // A 500 after the capture ran: the answer is Unknown; the order read by id is the truth.
    let order = order_id("500");
    let intent = created(
        &env.gateway,
        &create_request(&order, 1, 700, "card:vault_approve"),
    )
    .await;
    env.admin(
        "/admin/faults",
        json!({"spec": "confirm:http_500_after_execute:1"}),
    )
    .await;
    let failed = env
        .gateway
        .confirm_intent(&confirm_request(&intent))
        .await
        .unwrap();
    assert_eq!(failed.outcome(), ChargeOutcome::Unknown, "{failed:?}");
    assert_eq!(
        env.gateway.retrieve_intent(&intent).await.unwrap().status,
        IntentStatus::Succeeded
    );
    // A re-confirm under a newer request id meets ORDER_ALREADY_CAPTURED and reads the order:
    // succeeded, and still one capture.
    let retry = ConfirmRequest {
        key: IdempotencyKey::for_confirm_retry(&intent, 1),
        ..confirm_request(&intent)
    };
    let replay = env.gateway.confirm_intent(&retry).await.unwrap();
    assert_eq!(replay.outcome(), ChargeOutcome::Succeeded, "{replay:?}");
    assert_eq!(captures(&env.ledger().await, &intent).len(), 1);

    // A create whose answer was lost is replayed: the same order, not a second one.
    let order = order_id("lost-create");
    let request = create_request(&order, 1, 700, "card:vault_approve");
    env.admin(
        "/admin/faults",
        json!({"spec": "create:drop_after_execute:1"}),
    )
    .await;
    let lost = env.gateway.create_intent(&request).await.unwrap();
    assert_eq!(lost.outcome(), CreateOutcome::Unknown, "{lost:?}");
    let first = created(&env.gateway, &request).await;
    assert_eq!(created(&env.gateway, &request).await, first);
    let orders_of = |ledger: &Value| {
        ledger["orders"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|o| o["invoice_id"] == order.as_str())
            .count()
    };
    assert_eq!(orders_of(&env.ledger().await), 1);

    // The same request id with another body is a bug, reported as such; nothing is created.
    let mut other = request.clone();
    other.amount = Money::new(701, Currency::from_code("EUR").unwrap()).unwrap();
    let err = env.gateway.create_intent(&other).await.unwrap_err();
    assert!(
        matches!(err, GatewayError::IdempotencyKeyReused { .. }),
        "{err:?}"
    );
    assert_eq!(orders_of(&env.ledger().await), 1);
}

#[tokio::test]
async fn duplicate_invoice_id_stops_an_attempt_replayed_after_the_request_id_window() {
    let env = sandbox().await;
    env.admin(
        "/admin/paypal/settings",
        json!({"request_id_window_ms": 2_000}),
    )
    .await;
    let order = order_id("invoice");
    let request = create_request(&order, 1, 12_900, "card:vault_approve");
    let first = created(&env.gateway, &request).await;
    let paid = env
        .gateway
        .confirm_intent(&confirm_request(&first))
        .await
        .unwrap();
    assert_eq!(paid.outcome(), ChargeOutcome::Succeeded);
    // Within the window the create replays the first order.
    assert_eq!(created(&env.gateway, &request).await, first);

    // Past the window PayPal has forgotten the request id: the same attempt, re-sent by a
    // terminal that never heard the answers, makes a second order with the same invoice_id…
    env.admin("/admin/clock", json!({"advance_ms": 2_001}))
        .await;
    let second = created(&env.gateway, &request).await;
    assert_ne!(second, first, "the request id should have expired");
    // …whose capture PayPal refuses: the order is paid already.
    let refused = env
        .gateway
        .confirm_intent(&confirm_request(&second))
        .await
        .unwrap();
    assert_eq!(
        refused.outcome(),
        ChargeOutcome::Declined {
            reason: "DUPLICATE_INVOICE_ID".into()
        },
        "{refused:?}"
    );
    // And the first capture re-sent past the window does not capture again either.
    let again = env
        .gateway
        .confirm_intent(&confirm_request(&first))
        .await
        .unwrap();
    assert_eq!(again.outcome(), ChargeOutcome::Succeeded, "{again:?}");
    let ledger = env.ledger().await;
    assert_eq!(
        ledger["captures_per_invoice"][order.as_str()],
        1,
        "{ledger}"
    );
    assert!(captures(&ledger, &second).is_empty());
}

#[tokio::test]
async fn the_token_is_refreshed_before_it_expires_and_after_a_401() {
    let env = sandbox().await;
    env.admin("/admin/paypal/settings", json!({"token_ttl_s": 2}))
        .await;
    let order = order_id("token");
    let intent = created(
        &env.gateway,
        &create_request(&order, 1, 100, "card:vault_approve"),
    )
    .await;
    env.gateway.retrieve_intent(&intent).await.unwrap();
    assert_eq!(
        env.ledger().await["tokens_issued"],
        1,
        "one token serves many calls"
    );
    // Refreshed at half its two-second life, before PayPal would refuse it.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    env.gateway.retrieve_intent(&intent).await.unwrap();
    assert_eq!(env.ledger().await["tokens_issued"], 2);
    // PayPal forgets the token (a 401): fetched again once, and the call goes through.
    env.admin("/admin/paypal/revoke_tokens", json!({})).await;
    env.gateway.retrieve_intent(&intent).await.unwrap();
    assert_eq!(env.ledger().await["tokens_issued"], 3);

    // Wrong credentials: an Authentication error that never shows the secret; nothing created.
    let wrong = connector(&env.base_url, "not-the-secret-XYZ");
    let err = wrong
        .create_intent(&create_request(
            &order_id("badkey"),
            1,
            100,
            "card:vault_approve",
        ))
        .await
        .unwrap_err();
    assert!(
        matches!(err, GatewayError::Authentication { .. }),
        "{err:?}"
    );
    assert!(!format!("{err} {err:?} {wrong:?}").contains("XYZ"));
    assert!(!format!("{:?}", env.gateway).contains(SECRET));
}

#[tokio::test]
async fn mock_responses_cancel_search_and_an_unreachable_gateway() {
    let env = sandbox().await;
    // PayPal-Mock-Response, sent by hand (the connector never sends it).
    let token: Value = reqwest::Client::new()
        .post(format!("{}/v1/oauth2/token", env.base_url))
        .basic_auth(CLIENT_ID, Some(SECRET))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let order = order_id("mock");
    let intent = created(
        &env.gateway,
        &create_request(&order, 1, 100, "card:vault_approve"),
    )
    .await;
    let mocked = reqwest::Client::new()
        .post(format!(
            "{}/v2/checkout/orders/{intent}/capture",
            env.base_url
        ))
        .bearer_auth(token["access_token"].as_str().unwrap())
        .header(
            "PayPal-Mock-Response",
            r#"{"mock_application_codes":"INSTRUMENT_DECLINED"}"#,
        )
        .json(&json!({"payment_source": {"card": {"vault_id": "vault_approve"}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(mocked.status().as_u16(), 422);
    let body: Value = mocked.json().await.unwrap();
    assert_eq!(body["details"][0]["issue"], "INSTRUMENT_DECLINED");
    assert!(
        captures(&env.ledger().await, &intent).is_empty(),
        "a mock executes nothing"
    );

    // PayPal's single-step charge (create with a vaulted source) needs a PayPal-Request-Id, and
    // captures at once; the invoice guard applies to it too.
    let single = |request_id: Option<&str>, invoice: &str| {
        let mut post = reqwest::Client::new()
            .post(format!("{}/v2/checkout/orders", env.base_url))
            .bearer_auth(token["access_token"].as_str().unwrap())
            .json(&json!({
                "intent": "CAPTURE",
                "purchase_units": [{ "invoice_id": invoice, "amount": { "currency_code": "EUR", "value": "5.00" } }],
                "payment_source": { "card": { "vault_id": "vault_approve" } },
            }));
        if let Some(id) = request_id {
            post = post.header("PayPal-Request-Id", id);
        }
        post.send()
    };
    let invoice = order_id("single");
    let refused = single(None, invoice.as_str()).await.unwrap();
    assert_eq!(refused.status().as_u16(), 400);
    let paid = single(Some("single-1"), invoice.as_str()).await.unwrap();
    assert_eq!(paid.status().as_u16(), 201);
    let paid: Value = paid.json().await.unwrap();
    assert_eq!(
        paid["purchase_units"][0]["payments"]["captures"][0]["status"],
        "COMPLETED"
    );
    let twice = single(Some("single-2"), invoice.as_str()).await.unwrap();
    assert_eq!(twice.status().as_u16(), 422);
    let twice: Value = twice.json().await.unwrap();
    assert_eq!(twice["details"][0]["issue"], "DUPLICATE_INVOICE_ID");

    // Cancel: an uncaptured order is never captured; a captured one cannot be cancelled.
    let cancel = env
        .gateway
        .cancel_intent(&intent, &IdempotencyKey::for_cancel(&intent))
        .await
        .unwrap();
    match &cancel {
        CancelResult::Canceled(view) => assert!(view.cancellation_reason.is_some()),
        other => panic!("{other:?}"),
    }
    let (paid, _) = charge(&env, "paid", "card:vault_approve").await;
    let cancel = env
        .gateway
        .cancel_intent(&paid, &IdempotencyKey::for_cancel(&paid))
        .await
        .unwrap();
    assert!(
        matches!(cancel, CancelResult::NotCancelable(_)),
        "{cancel:?}"
    );
    // PayPal's rate limit is waited out under the same request id: one capture.
    let order = order_id("429");
    let limited = created(
        &env.gateway,
        &create_request(&order, 1, 300, "card:vault_approve"),
    )
    .await;
    env.admin("/admin/faults", json!({"spec": "confirm:http_429:2"}))
        .await;
    let result = env
        .gateway
        .confirm_intent(&confirm_request(&limited))
        .await
        .unwrap();
    assert_eq!(result.outcome(), ChargeOutcome::Succeeded, "{result:?}");
    assert_eq!(captures(&env.ledger().await, &limited).len(), 1);
    // No search at PayPal: an empty list, which proves nothing.
    assert!(env
        .gateway
        .search_intents(&MetadataQuery::order(&order))
        .await
        .unwrap()
        .is_empty());
    // A bad source is refused before anything is sent.
    let err = env
        .gateway
        .create_intent(&create_request(&order_id("bad"), 1, 100, "iban:DE00"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, GatewayError::InvalidRequest { .. }),
        "{err:?}"
    );

    // Nobody listening: provably not sent.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let offline = connector(&format!("http://127.0.0.1:{closed}"), SECRET);
    let result = offline
        .create_intent(&create_request(
            &order_id("off"),
            1,
            100,
            "card:vault_approve",
        ))
        .await
        .unwrap();
    assert_eq!(result.outcome(), CreateOutcome::NotSent, "{result:?}");
    let result = offline
        .confirm_intent(&confirm_request(&intent))
        .await
        .unwrap();
    assert_eq!(result.outcome(), ChargeOutcome::NotSent, "{result:?}");
}

/// PayPal's own sandbox, when credentials are given. Only what needs no vaulted source of ours,
/// plus one capture when `PAYPAL_VAULT_ID` (`card:<id>` or `paypal:<id>`) names a saved source.
#[tokio::test]
async fn against_paypal_sandbox_when_credentials_are_set() {
    let (Ok(client), Ok(secret)) = (
        std::env::var("PAYPAL_CLIENT_ID"),
        std::env::var("PAYPAL_CLIENT_SECRET"),
    ) else {
        eprintln!(
            "skipped: set PAYPAL_CLIENT_ID and PAYPAL_CLIENT_SECRET (a PayPal sandbox REST app) \
             to run the PayPal contract against api-m.sandbox.paypal.com"
        );
        return;
    };
    let gateway = Arc::new(
        PaypalGateway::new(
            client.trim(),
            ApiKey::new(secret.trim()).expect("PAYPAL_CLIENT_SECRET is not usable"),
            PaypalConfig::with_base_url(PAYPAL_SANDBOX_API_BASE),
        )
        .unwrap(),
    );
    let source = std::env::var("PAYPAL_VAULT_ID").unwrap_or_else(|_| "card:unused".into());
    let order = order_id("live");
    let request = create_request(&order, 1, 1_000, &source);
    let intent = created(&gateway, &request).await;
    assert_eq!(
        created(&gateway, &request).await,
        intent,
        "same request id, same order"
    );
    let mut other = request.clone();
    other.amount = Money::new(1_001, Currency::from_code("EUR").unwrap()).unwrap();
    match gateway.create_intent(&other).await {
        Err(GatewayError::IdempotencyKeyReused { .. }) => {}
        other => eprintln!("note: PayPal answered a reused request id with {other:?}"),
    }
    let view = gateway.retrieve_intent(&intent).await.unwrap();
    assert_eq!(view.status, IntentStatus::RequiresConfirmation);
    assert_eq!(view.meta("order_id"), Some(order.as_str()));
    assert!(gateway
        .search_intents(&MetadataQuery::order(&order))
        .await
        .unwrap()
        .is_empty());
    if std::env::var("PAYPAL_VAULT_ID").is_ok() {
        let result = gateway
            .confirm_intent(&confirm_request(&intent))
            .await
            .unwrap();
        eprintln!("capture with PAYPAL_VAULT_ID: {:?}", result.outcome());
        assert_ne!(result.outcome(), ChargeOutcome::NotSent);
    } else {
        eprintln!("capture skipped: set PAYPAL_VAULT_ID=card:<vault id> to charge a saved source");
        let cancel = gateway
            .cancel_intent(&intent, &IdempotencyKey::for_cancel(&intent))
            .await
            .unwrap();
        assert!(matches!(cancel, CancelResult::Canceled(_)), "{cancel:?}");
    }
}

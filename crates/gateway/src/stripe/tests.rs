//! Connector tests against a tiny scripted HTTP server on 127.0.0.1:0: the outcome of every
//! class of answer (and non-answer), the exact request on the wire, fixture parsing, and that the
//! API key never shows up in a result, an error or a log line.
//!
//! The server is raw tokio on purpose: it must be able to misbehave in ways a real HTTP server
//! library would not (a body shorter than its Content-Length, a close without a response).

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

use paydesk_core::{
    AttemptId, AttemptNumber, ChargeOutcome, CreateOutcome, Currency, GatewayIntentId,
    IdempotencyKey, IntentStatus, Money, OrderId, TerminalId,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::*;
use crate::model::{IntentMetadata, RefundReason, RefundStatus};

/// The key every test uses; no output may contain its secret part.
const SECRET_KEY: &str = "sk_test_51UnitTestSecretValueMustNotLeak";
const SECRET_PART: &str = "UnitTestSecretValueMustNotLeak";

/// One request as the scripted server received it.
#[derive(Debug, Clone)]
struct Captured {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl Captured {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn form(&self) -> Vec<(String, String)> {
        decode_form(&self.body)
    }

    fn query(&self) -> Vec<(String, String)> {
        decode_form(self.target.split_once('?').map(|(_, q)| q).unwrap_or(""))
    }
}

/// What the server does with one connection, after reading the request.
#[derive(Debug, Clone)]
enum Act {
    /// Write these bytes, then close.
    Raw(Vec<u8>),
    /// Close without a response (as if the gateway crashed after receiving the request).
    Close,
    /// Never answer (keep the connection open).
    Hang,
}

fn reply(status: u16, body: &str) -> Act {
    Act::Raw(
        format!(
            "HTTP/1.1 {status} Scripted\r\nContent-Type: application/json\r\nRequest-Id: req_test\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .into_bytes(),
    )
}

/// Claims a longer body than it sends, then closes.
fn truncated(body: &str) -> Act {
    Act::Raw(
        format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len() + 100
        )
        .into_bytes(),
    )
}

fn error(status: u16, error: serde_json::Value) -> Act {
    reply(status, &serde_json::json!({ "error": error }).to_string())
}

fn intent(status: &str) -> serde_json::Value {
    serde_json::json!({
        "id": "pi_123",
        "object": "payment_intent",
        "amount": 1234,
        "amount_received": if status == "succeeded" { 1234 } else { 0 },
        "currency": "eur",
        "status": status,
        "customer": "cus_1",
        "payment_method": "pm_card_visa",
        "latest_charge": if status == "succeeded" { serde_json::json!("ch_1") } else { serde_json::Value::Null },
        "metadata": {"order_id": "ORD-1", "attempt_number": "1"},
        "client_secret": "pi_123_secret_abc",
        "created": 1_700_000_000,
        "livemode": false
    })
}

fn intent_reply(status: &str) -> Act {
    reply(200, &intent(status).to_string())
}

fn declined_intent(decline_code: &str) -> serde_json::Value {
    let mut object = intent("requires_payment_method");
    object["last_payment_error"] = serde_json::json!({
        "type": "card_error", "code": "card_declined", "decline_code": decline_code,
        "message": "Your card was declined."
    });
    object
}

/// A scripted server: one act per connection, in order. When the script is used up it stops
/// listening, so a further connection is refused.
struct Scripted {
    base_url: String,
    requests: Arc<Mutex<Vec<Captured>>>,
}

impl Scripted {
    async fn start(acts: Vec<Act>) -> Scripted {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let log = requests.clone();
        let mut acts: VecDeque<Act> = acts.into();
        tokio::spawn(async move {
            while let Some(act) = acts.pop_front() {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let log = log.clone();
                tokio::spawn(async move { serve_one(stream, act, log).await });
            }
        });
        Scripted { base_url, requests }
    }

    fn requests(&self) -> Vec<Captured> {
        self.requests.lock().unwrap().clone()
    }
}

async fn serve_one(mut stream: TcpStream, act: Act, log: Arc<Mutex<Vec<Captured>>>) {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or("").split(' ');
    let method = first.next().unwrap_or("").to_string();
    let target = first.next().unwrap_or("").to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    while buffer.len() < head_end + length {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
        }
    }
    let body = String::from_utf8_lossy(&buffer[head_end..]).to_string();
    log.lock().unwrap().push(Captured {
        method,
        target,
        headers,
        body,
    });
    match act {
        Act::Raw(bytes) => {
            let _ = stream.write_all(&bytes).await;
            let _ = stream.flush().await;
        }
        Act::Close => {}
        Act::Hang => tokio::time::sleep(std::time::Duration::from_secs(60)).await,
    }
}

/// Decodes `a=b&c%5B0%5D=d` (brackets literal or escaped, `+` or `%20` for spaces).
fn decode_form(text: &str) -> Vec<(String, String)> {
    fn decode(part: &str) -> String {
        let bytes = part.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'+' => out.push(b' '),
                b'%' if i + 2 < bytes.len() => {
                    let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
                    out.push(u8::from_str_radix(hex, 16).unwrap());
                    i += 2;
                }
                other => out.push(other),
            }
            i += 1;
        }
        String::from_utf8(out).unwrap()
    }
    text.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn fast_config(base_url: &str) -> StripeConfig {
    StripeConfig {
        base_url: base_url.to_string(),
        request_timeout_ms: 400,
        connect_timeout_ms: 300,
        retries_max: 3,
        backoff_ms_base: 1,
        backoff_ms_max: 5,
    }
}

fn gateway(base_url: &str) -> StripeGateway {
    StripeGateway::new(ApiKey::new(SECRET_KEY).unwrap(), fast_config(base_url)).unwrap()
}

fn order() -> OrderId {
    OrderId::new("ORD-1").unwrap()
}

fn one() -> AttemptNumber {
    AttemptNumber::new(1).unwrap()
}

fn pi() -> GatewayIntentId {
    GatewayIntentId::new("pi_123").unwrap()
}

fn create_request() -> CreateIntentRequest {
    CreateIntentRequest {
        amount: Money::new(1234, Currency::from_code("EUR").unwrap()).unwrap(),
        customer: Some("cus_1".into()),
        payment_method: "pm_card_visa".into(),
        off_session: true,
        metadata: IntentMetadata {
            order: order(),
            attempt: AttemptId::parse("01932c4e-7b7a-7cc3-9a7e-2b6f3a5d4e10").unwrap(),
            attempt_number: one(),
            terminal: TerminalId::new("T-1").unwrap(),
        },
        key: IdempotencyKey::for_create(&order(), one()),
    }
}

fn confirm_request() -> ConfirmRequest {
    ConfirmRequest {
        intent: pi(),
        off_session: true,
        key: IdempotencyKey::for_confirm(&pi()),
    }
}

/// A port nothing listens on.
async fn closed_port_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    url
}

/// Asserts the secret part of the key appears nowhere in `text`.
fn assert_no_secret(text: &str) {
    assert!(!text.contains(SECRET_PART), "secret leaked in: {text}");
}

fn assert_no_secret_in<T: std::fmt::Debug>(value: &T) {
    assert_no_secret(&format!("{value:?}"));
    assert_no_secret(&format!("{value:#?}"));
}

fn assert_error_clean(error: &GatewayError) {
    assert_no_secret(&format!("{error}"));
    assert_no_secret_in(error);
}

#[tokio::test]
async fn create_sends_stripe_wire_format() {
    let server = Scripted::start(vec![intent_reply("requires_confirmation")]).await;
    // Held the way the engine holds it: behind the object-safe trait.
    let gateway: Arc<dyn Gateway> = Arc::new(gateway(&server.base_url));
    assert_eq!(gateway.name(), "stripe");
    let result = gateway.create_intent(&create_request()).await.unwrap();
    let CreateResult::Created(view) = &result else {
        panic!("{result:?}")
    };
    assert_eq!(view.id.as_str(), "pi_123");
    assert_eq!(view.status, IntentStatus::RequiresConfirmation);
    assert_eq!(view.amount.to_string(), "12.34 EUR");
    assert_eq!(
        result.outcome(),
        CreateOutcome::Created { intent: pi() },
        "conversion to the core's outcome"
    );

    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.target, "/v1/payment_intents");
    assert_eq!(
        request.header("authorization"),
        Some(format!("Bearer {SECRET_KEY}").as_str())
    );
    assert_eq!(
        request.header("idempotency-key"),
        Some("paydesk:create:ORD-1:1")
    );
    assert_eq!(request.header("stripe-version"), Some(STRIPE_VERSION));
    assert_eq!(
        request.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert!(
        request.body.contains("metadata[order_id]=ORD-1"),
        "literal bracket notation: {}",
        request.body
    );
    let form: BTreeMap<String, String> = request.form().into_iter().collect();
    let expected = [
        ("amount", "1234"),
        ("currency", "eur"),
        ("customer", "cus_1"),
        ("payment_method", "pm_card_visa"),
        ("confirm", "false"),
        ("payment_method_types[0]", "card"),
        ("metadata[order_id]", "ORD-1"),
        (
            "metadata[attempt_id]",
            "01932c4e-7b7a-7cc3-9a7e-2b6f3a5d4e10",
        ),
        ("metadata[attempt_number]", "1"),
        ("metadata[terminal_id]", "T-1"),
        ("metadata[off_session]", "true"),
    ];
    for (key, value) in expected {
        assert_eq!(form.get(key).map(String::as_str), Some(value), "{key}");
    }
    assert_eq!(form.len(), expected.len(), "no other fields: {form:?}");
}

#[tokio::test]
async fn confirm_sends_its_own_key_and_off_session() {
    let server = Scripted::start(vec![intent_reply("succeeded")]).await;
    let result = gateway(&server.base_url)
        .confirm_intent(&confirm_request())
        .await
        .unwrap();
    assert_eq!(result.outcome(), ChargeOutcome::Succeeded);
    assert_eq!(
        result.intent().unwrap().latest_charge.as_deref(),
        Some("ch_1")
    );
    let request = &server.requests()[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.target, "/v1/payment_intents/pi_123/confirm");
    assert_eq!(
        request.header("idempotency-key"),
        Some("paydesk:confirm:pi_123")
    );
    assert_eq!(request.body, "off_session=true");
}

/// Runs one confirm against a script and checks the outcome and how many requests were made.
async fn check_confirm(name: &str, acts: Vec<Act>, expected: ChargeOutcome, requests: usize) {
    let server = Scripted::start(acts).await;
    let result = gateway(&server.base_url)
        .confirm_intent(&confirm_request())
        .await
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(result.outcome(), expected, "{name}: {result:?}");
    assert_eq!(server.requests().len(), requests, "{name}: request count");
    assert_no_secret_in(&result);
    let keys: Vec<_> = server
        .requests()
        .iter()
        .filter(|r| r.method == "POST")
        .map(|r| r.header("idempotency-key").unwrap_or("").to_string())
        .collect();
    assert!(
        keys.iter().all(|k| k == "paydesk:confirm:pi_123"),
        "{name}: every retry carries the same key: {keys:?}"
    );
}

fn declined(reason: &str) -> ChargeOutcome {
    ChargeOutcome::Declined {
        reason: reason.into(),
    }
}

#[tokio::test]
async fn confirm_outcome_for_every_answer_class() {
    use ChargeOutcome::{RequiresAction, Succeeded, Unknown};
    let card_error = |code: &str, decline: Option<&str>| {
        error(
            402,
            serde_json::json!({
                "type": "card_error", "code": code, "decline_code": decline,
                "message": "Your card was declined.",
                "payment_intent": declined_intent(decline.unwrap_or(code)),
            }),
        )
    };
    let in_use = || {
        error(
            409,
            serde_json::json!({"type": "invalid_request_error", "code": "idempotency_key_in_use",
                "message": "There is currently another in-progress request using this Idempotent Key"}),
        )
    };
    let rate_limited = || {
        error(
            429,
            serde_json::json!({"type": "invalid_request_error", "code": "rate_limit", "message": "Too many requests"}),
        )
    };
    let unexpected_state = || {
        error(
            400,
            serde_json::json!({"type": "invalid_request_error", "code": "payment_intent_unexpected_state",
                "message": "You cannot confirm this PaymentIntent because it has a status of succeeded."}),
        )
    };
    let cases: Vec<(&str, Vec<Act>, ChargeOutcome, usize)> = vec![
        (
            "200 succeeded",
            vec![intent_reply("succeeded")],
            Succeeded,
            1,
        ),
        (
            "200 requires_action",
            vec![intent_reply("requires_action")],
            RequiresAction,
            1,
        ),
        (
            "200 requires_payment_method",
            vec![reply(
                200,
                &declined_intent("insufficient_funds").to_string(),
            )],
            declined("insufficient_funds"),
            1,
        ),
        (
            "200 processing",
            vec![intent_reply("processing")],
            Unknown,
            1,
        ),
        ("200 canceled", vec![intent_reply("canceled")], Unknown, 1),
        (
            "200 requires_confirmation",
            vec![intent_reply("requires_confirmation")],
            Unknown,
            1,
        ),
        (
            "200 unknown status",
            vec![intent_reply("teleported")],
            Unknown,
            1,
        ),
        (
            "200 not JSON",
            vec![reply(200, "<html>oops</html>")],
            Unknown,
            1,
        ),
        (
            "200 JSON but not an intent",
            vec![reply(200, r#"{"object":"list"}"#)],
            Unknown,
            1,
        ),
        (
            "200 truncated body",
            vec![truncated(&intent("succeeded").to_string())],
            Unknown,
            1,
        ),
        (
            "402 decline_code",
            vec![card_error("card_declined", Some("insufficient_funds"))],
            declined("insufficient_funds"),
            1,
        ),
        (
            "402 code only",
            vec![card_error("expired_card", None)],
            declined("expired_card"),
            1,
        ),
        (
            "402 authentication_required",
            vec![card_error(
                "authentication_required",
                Some("authentication_required"),
            )],
            RequiresAction,
            1,
        ),
        (
            "402 that is not a card error",
            vec![error(
                402,
                serde_json::json!({"type": "invalid_request_error", "message": "?"}),
            )],
            Unknown,
            1,
        ),
        (
            "500",
            vec![error(500, serde_json::json!({"type": "api_error"}))],
            Unknown,
            1,
        ),
        (
            "503 not JSON",
            vec![reply(503, "Service Unavailable")],
            Unknown,
            1,
        ),
        ("400 not JSON", vec![reply(400, "bad")], Unknown, 1),
        (
            "429 then 200",
            vec![rate_limited(), intent_reply("succeeded")],
            Succeeded,
            2,
        ),
        (
            "409 in use then 200",
            vec![in_use(), intent_reply("succeeded")],
            Succeeded,
            2,
        ),
        (
            "429 persists",
            vec![
                rate_limited(),
                rate_limited(),
                rate_limited(),
                rate_limited(),
            ],
            Unknown,
            4,
        ),
        (
            "409 in use persists",
            vec![in_use(), in_use(), in_use(), in_use()],
            Unknown,
            4,
        ),
        // The second connection is refused (script used up): after a 409 proved a request with
        // this key is executing, that is not "not sent".
        ("409 in use then unreachable", vec![in_use()], Unknown, 1),
        (
            "429 then unreachable",
            vec![rate_limited()],
            ChargeOutcome::NotSent,
            1,
        ),
        (
            "400 unexpected state, intent succeeded",
            vec![unexpected_state(), intent_reply("succeeded")],
            Succeeded,
            2,
        ),
        (
            "400 unexpected state, intent declined earlier",
            vec![
                unexpected_state(),
                reply(200, &declined_intent("do_not_honor").to_string()),
            ],
            declined("do_not_honor"),
            2,
        ),
        (
            "400 unexpected state, intent processing",
            vec![unexpected_state(), intent_reply("processing")],
            Unknown,
            2,
        ),
        (
            "400 unexpected state, retrieve fails",
            vec![unexpected_state(), Act::Close],
            Unknown,
            2,
        ),
        (
            "connection closed after the request",
            vec![Act::Close],
            Unknown,
            1,
        ),
        ("never answers", vec![Act::Hang], Unknown, 1),
    ];
    for (name, acts, expected, requests) in cases {
        check_confirm(name, acts, expected, requests).await;
    }
}

#[tokio::test]
async fn unexpected_state_retrieves_the_intent_by_id() {
    let server = Scripted::start(vec![
        error(
            400,
            serde_json::json!({"type": "invalid_request_error", "code": "payment_intent_unexpected_state"}),
        ),
        intent_reply("succeeded"),
    ])
    .await;
    let result = gateway(&server.base_url)
        .confirm_intent(&confirm_request())
        .await
        .unwrap();
    assert_eq!(result.outcome(), ChargeOutcome::Succeeded);
    let retrieve = &server.requests()[1];
    assert_eq!(retrieve.method, "GET");
    assert_eq!(retrieve.target, "/v1/payment_intents/pi_123");
    assert_eq!(retrieve.header("idempotency-key"), None);
    assert_eq!(retrieve.header("stripe-version"), Some(STRIPE_VERSION));
}

#[tokio::test]
async fn create_outcome_for_every_answer_class() {
    let cases: Vec<(&str, Vec<Act>, CreateOutcome)> = vec![
        (
            "400 no such payment method",
            vec![error(
                400,
                serde_json::json!({"type": "invalid_request_error", "code": "resource_missing",
                    "param": "payment_method", "message": "No such PaymentMethod: 'pm_x'"}),
            )],
            CreateOutcome::Refused {
                reason: "resource_missing".into(),
            },
        ),
        ("500", vec![reply(500, "{}")], CreateOutcome::Unknown),
        (
            "200 not JSON",
            vec![reply(200, "not json")],
            CreateOutcome::Unknown,
        ),
        (
            "closed after request",
            vec![Act::Close],
            CreateOutcome::Unknown,
        ),
        ("never answers", vec![Act::Hang], CreateOutcome::Unknown),
        (
            "409 in use then 200",
            vec![
                error(409, serde_json::json!({"code": "idempotency_key_in_use"})),
                intent_reply("requires_confirmation"),
            ],
            CreateOutcome::Created { intent: pi() },
        ),
    ];
    for (name, acts, expected) in cases {
        let server = Scripted::start(acts).await;
        let result = gateway(&server.base_url)
            .create_intent(&create_request())
            .await
            .unwrap();
        assert_eq!(result.outcome(), expected, "{name}: {result:?}");
    }
}

#[tokio::test]
async fn unreachable_gateway_is_not_sent() {
    let closed = closed_port_url().await;
    for base in [closed.as_str(), "http://paydesk-no-such-host.invalid"] {
        let gateway = gateway(base);
        let create = gateway.create_intent(&create_request()).await.unwrap();
        assert_eq!(
            create.outcome(),
            CreateOutcome::NotSent,
            "{base}: {create:?}"
        );
        let confirm = gateway.confirm_intent(&confirm_request()).await.unwrap();
        assert_eq!(confirm.outcome(), ChargeOutcome::NotSent, "{base}");
        let cancel = gateway
            .cancel_intent(&pi(), &IdempotencyKey::for_cancel(&pi()))
            .await
            .unwrap();
        assert!(matches!(cancel, CancelResult::NotSent { .. }), "{cancel:?}");
        let refund = gateway.refund(&refund_request(None)).await.unwrap();
        assert!(matches!(refund, RefundResult::NotSent { .. }), "{refund:?}");
        let retrieve = gateway.retrieve_intent(&pi()).await.unwrap_err();
        assert!(
            matches!(retrieve, GatewayError::NotSent { .. }),
            "{retrieve:?}"
        );
        assert_error_clean(&retrieve);
    }
}

#[tokio::test]
async fn idempotency_error_is_a_loud_distinct_bug() {
    let logs = LogCapture::install();
    let body = serde_json::json!({"type": "idempotency_error",
        "message": "Keys for idempotent requests can only be used with the same parameters they were first used with."});
    let server = Scripted::start(vec![error(400, body.clone()), error(400, body)]).await;
    let gateway = gateway(&server.base_url);
    let err = gateway.create_intent(&create_request()).await.unwrap_err();
    assert!(
        matches!(&err, GatewayError::IdempotencyKeyReused { key, .. } if key.as_str() == "paydesk:create:ORD-1:1"),
        "{err:?}"
    );
    assert!(err.to_string().starts_with("BUG"));
    let err = gateway
        .confirm_intent(&confirm_request())
        .await
        .unwrap_err();
    assert!(
        matches!(err, GatewayError::IdempotencyKeyReused { .. }),
        "{err:?}"
    );
    let text = logs.text();
    assert!(
        text.contains("ERROR") && text.contains("idempotency key reused"),
        "{text}"
    );
}

#[tokio::test]
async fn bad_api_key_is_a_configuration_error_without_the_key() {
    // Stripe echoes (part of) the key in its 401 message; this server echoes all of it.
    let server = Scripted::start(vec![error(
        401,
        serde_json::json!({"type": "invalid_request_error",
            "message": format!("Invalid API Key provided: {SECRET_KEY}")}),
    )])
    .await;
    let err = gateway(&server.base_url)
        .confirm_intent(&confirm_request())
        .await
        .unwrap_err();
    assert!(
        matches!(err, GatewayError::Authentication { .. }),
        "{err:?}"
    );
    assert_error_clean(&err);
}

fn refund_request(amount: Option<i64>) -> RefundRequest {
    RefundRequest {
        intent: pi(),
        amount: amount.map(|minor| Money::new(minor, Currency::from_code("EUR").unwrap()).unwrap()),
        reason: Some(RefundReason::RequestedByCustomer),
        metadata: BTreeMap::from([("approved_by".to_string(), "mgr-1".to_string())]),
        key: IdempotencyKey::for_refund(&pi(), one()),
    }
}

fn refund_object(amount: i64, status: &str) -> String {
    serde_json::json!({"id": "re_1", "object": "refund", "amount": amount, "currency": "eur",
        "status": status, "payment_intent": "pi_123", "charge": "ch_1", "metadata": {}, "created": 1})
    .to_string()
}

#[tokio::test]
async fn refunds_full_and_partial() {
    let server = Scripted::start(vec![
        reply(200, &refund_object(1234, "succeeded")),
        reply(200, &refund_object(200, "pending")),
        error(
            400,
            serde_json::json!({"type": "invalid_request_error", "code": "charge_already_refunded",
                "message": "Charge ch_1 has already been refunded."}),
        ),
        reply(502, ""),
    ])
    .await;
    let gateway = gateway(&server.base_url);
    let full = gateway.refund(&refund_request(None)).await.unwrap();
    assert!(
        matches!(&full, RefundResult::Created(r) if r.status == RefundStatus::Succeeded && r.amount.minor() == 1234),
        "{full:?}"
    );
    let partial = gateway.refund(&refund_request(Some(200))).await.unwrap();
    assert!(
        matches!(&partial, RefundResult::Created(r) if r.status == RefundStatus::Pending),
        "{partial:?}"
    );
    let again = gateway.refund(&refund_request(None)).await.unwrap();
    assert!(
        matches!(&again, RefundResult::Refused { reason, .. } if reason == "charge_already_refunded"),
        "{again:?}"
    );
    let unknown = gateway.refund(&refund_request(None)).await.unwrap();
    assert!(
        matches!(unknown, RefundResult::Unknown { .. }),
        "{unknown:?}"
    );

    let requests = server.requests();
    assert_eq!(requests[0].target, "/v1/refunds");
    assert_eq!(
        requests[0].header("idempotency-key"),
        Some("paydesk:refund:pi_123:1")
    );
    let full_form: BTreeMap<_, _> = requests[0].form().into_iter().collect();
    assert_eq!(
        full_form.get("payment_intent").map(String::as_str),
        Some("pi_123")
    );
    assert_eq!(
        full_form.get("amount"),
        None,
        "a full refund names no amount"
    );
    assert_eq!(
        full_form.get("reason").map(String::as_str),
        Some("requested_by_customer")
    );
    assert_eq!(
        full_form.get("metadata[approved_by]").map(String::as_str),
        Some("mgr-1")
    );
    let partial_form: BTreeMap<_, _> = requests[1].form().into_iter().collect();
    assert_eq!(partial_form.get("amount").map(String::as_str), Some("200"));
}

#[tokio::test]
async fn cancel_is_idempotent() {
    let unexpected = || {
        error(
            400,
            serde_json::json!({"type": "invalid_request_error", "code": "payment_intent_unexpected_state"}),
        )
    };
    let server = Scripted::start(vec![
        intent_reply("canceled"),
        unexpected(),
        intent_reply("canceled"),
        unexpected(),
        intent_reply("succeeded"),
    ])
    .await;
    let gateway = gateway(&server.base_url);
    let key = IdempotencyKey::for_cancel(&pi());
    let first = gateway.cancel_intent(&pi(), &key).await.unwrap();
    assert!(matches!(first, CancelResult::Canceled(_)), "{first:?}");
    let again = gateway.cancel_intent(&pi(), &key).await.unwrap();
    assert!(matches!(again, CancelResult::Canceled(_)), "{again:?}");
    let too_late = gateway.cancel_intent(&pi(), &key).await.unwrap();
    assert!(
        matches!(&too_late, CancelResult::NotCancelable(v) if v.status == IntentStatus::Succeeded),
        "{too_late:?}"
    );
    let request = &server.requests()[0];
    assert_eq!(request.target, "/v1/payment_intents/pi_123/cancel");
    assert_eq!(
        request.header("idempotency-key"),
        Some("paydesk:cancel:pi_123")
    );
    assert_eq!(request.body, "cancellation_reason=abandoned");
}

#[tokio::test]
async fn search_builds_a_metadata_query_and_a_miss_is_just_empty() {
    let page = |data: Vec<serde_json::Value>| {
        reply(
            200,
            &serde_json::json!({"object": "search_result", "data": data, "has_more": false,
                "next_page": null, "url": "/v1/payment_intents/search"})
            .to_string(),
        )
    };
    let server = Scripted::start(vec![page(vec![intent("succeeded")]), page(vec![])]).await;
    let gateway = gateway(&server.base_url);
    let found = gateway
        .search_intents(&MetadataQuery::attempt(&order(), one()))
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].meta("order_id"), Some("ORD-1"));
    let miss = gateway
        .search_intents(&MetadataQuery::order(&OrderId::new("ORD-404").unwrap()))
        .await
        .unwrap();
    assert!(miss.is_empty());

    let request = &server.requests()[0];
    assert_eq!(request.method, "GET");
    assert!(request.target.starts_with("/v1/payment_intents/search?"));
    let query: BTreeMap<_, _> = request.query().into_iter().collect();
    assert_eq!(
        query.get("query").map(String::as_str),
        Some("metadata['order_id']:'ORD-1' AND metadata['attempt_number']:'1'")
    );
    assert_eq!(query.get("limit").map(String::as_str), Some("100"));
}

#[tokio::test]
async fn list_events_parses_a_page() {
    let fixtures = fixtures();
    let mut succeeded = fixtures["event"].clone();
    succeeded["type"] = "payment_intent.succeeded".into();
    succeeded["data"]["object"] = intent("succeeded");
    succeeded["request"] =
        serde_json::json!({"id": "req_1", "idempotency_key": "paydesk:confirm:pi_123"});
    let body = serde_json::json!({"object": "list", "data": [succeeded, fixtures["event"]],
        "has_more": true, "url": "/v1/events"});
    let server = Scripted::start(vec![reply(200, &body.to_string())]).await;
    let page = gateway(&server.base_url)
        .list_events(&EventQuery {
            limit: 2,
            starting_after: Some("evt_0".into()),
            created_gte: Some(1_700_000_000),
            types: vec!["payment_intent.succeeded".into()],
        })
        .await
        .unwrap();
    assert!(page.has_more);
    assert_eq!(page.events.len(), 2);
    let first = &page.events[0];
    assert_eq!(first.object_kind.as_deref(), Some("payment_intent"));
    assert_eq!(
        first.request_idempotency_key.as_deref(),
        Some("paydesk:confirm:pi_123")
    );
    assert_eq!(
        parse_intent(&first.object).unwrap().status,
        IntentStatus::Succeeded
    );
    let query: BTreeMap<_, _> = server.requests()[0].query().into_iter().collect();
    assert_eq!(query.get("limit").map(String::as_str), Some("2"));
    assert_eq!(
        query.get("starting_after").map(String::as_str),
        Some("evt_0")
    );
    assert_eq!(
        query.get("created[gte]").map(String::as_str),
        Some("1700000000")
    );
    assert_eq!(
        query.get("types[0]").map(String::as_str),
        Some("payment_intent.succeeded")
    );
}

fn fixtures() -> serde_json::Value {
    let all: serde_json::Value =
        serde_json::from_str(include_str!("../../tests/fixtures/stripe_fixtures.json")).unwrap();
    all["resources"].clone()
}

#[test]
fn parses_stripe_fixtures() {
    let fixtures = fixtures();
    let intent = parse_intent(&fixtures["payment_intent"]).unwrap();
    assert_eq!(intent.id.as_str(), "pi_1PgafyB7WZ01zgkWSjxsAJo3");
    assert_eq!(intent.amount.to_string(), "10.99 USD");
    assert_eq!(
        intent.status,
        IntentStatus::RequiresPaymentMethod {
            reason: "idempotency_error".into()
        }
    );
    assert_eq!(intent.next_action.as_deref(), Some("type"));
    assert!(
        !format!("{intent:?}").contains("secret"),
        "the client secret is not kept"
    );

    let refund = parse_refund(&fixtures["refund"]).unwrap();
    assert_eq!(refund.id, "re_1Pgc72B7WZ01zgkWqPvrRrPE");
    assert_eq!(refund.status, RefundStatus::Succeeded);
    assert_eq!(refund.amount.minor(), 100);
    assert_eq!(
        refund.charge.as_deref(),
        Some("ch_1PgafuB7WZ01zgkWXYmPNZs8")
    );

    let event = parse_event(&fixtures["event"]).unwrap();
    assert_eq!(event.id, "evt_1Pgc76B7WZ01zgkWwyRHS12y");
    assert_eq!(event.event_type, "plan.created");
    assert_eq!(event.object_kind.as_deref(), Some("plan"));
    assert_eq!(event.request_idempotency_key, None);

    let charge = parse_charge(&fixtures["charge"]).unwrap();
    assert_eq!(charge.id, "ch_1PgafuB7WZ01zgkWXYmPNZs8");
    assert_eq!(charge.status, "succeeded");
    assert!(charge.paid);
    assert_eq!(charge.amount.to_string(), "1.00 USD");

    let dispute = parse_dispute(&fixtures["dispute"]).unwrap();
    assert_eq!(dispute.id, "dp_1Pgc71B7WZ01zgkWMevJiAUx");
    assert_eq!(dispute.status, "warning_needs_response");
    assert_eq!(
        dispute.charge.as_deref(),
        Some("ch_1PgafuB7WZ01zgkWXYmPNZs8")
    );
}

#[test]
fn unknown_statuses_and_currencies_are_parse_errors_not_declines() {
    let mut object = intent("teleported");
    assert!(parse_intent(&object).is_err());
    object["status"] = "succeeded".into();
    object["currency"] = "xyz".into();
    assert!(parse_intent(&object).is_err());
    object["currency"] = "eur".into();
    assert!(parse_intent(&object).is_ok());
    object["amount"] = (-5).into();
    assert!(parse_intent(&object).is_err());
}

#[tokio::test]
async fn the_key_never_leaks_into_errors_results_or_logs() {
    let logs = LogCapture::install();
    let gateway_at = |url: &str| gateway(url);
    let server = Scripted::start(vec![
        error(
            401,
            serde_json::json!({"message": format!("Invalid API Key provided: {SECRET_KEY}")}),
        ),
        error(
            403,
            serde_json::json!({"type": "invalid_request_error",
                "message": format!("The provided key '{SECRET_KEY}' does not have access")}),
        ),
        error(
            400,
            serde_json::json!({"type": "idempotency_error", "message": format!("key {SECRET_KEY}")}),
        ),
        error(
            404,
            serde_json::json!({"type": "invalid_request_error", "code": "resource_missing",
                "message": format!("No such payment_intent (key {SECRET_KEY})")}),
        ),
        error(
            400,
            serde_json::json!({"type": "invalid_request_error", "code": "parameter_unknown",
                "message": format!("Received unknown parameter {SECRET_KEY}")}),
        ),
        reply(200, "not json"),
        Act::Close,
    ])
    .await;
    let gateway = gateway_at(&server.base_url);
    assert_no_secret_in(&gateway);
    let mut errors = vec![
        gateway.retrieve_intent(&pi()).await.unwrap_err(),
        gateway.retrieve_intent(&pi()).await.unwrap_err(),
        gateway.create_intent(&create_request()).await.unwrap_err(),
        gateway.retrieve_intent(&pi()).await.unwrap_err(),
        gateway.retrieve_intent(&pi()).await.unwrap_err(),
        gateway.retrieve_intent(&pi()).await.unwrap_err(),
        gateway.retrieve_intent(&pi()).await.unwrap_err(),
    ];
    let closed = gateway_at(&closed_port_url().await);
    errors.push(closed.retrieve_intent(&pi()).await.unwrap_err());
    errors.push(
        StripeGateway::new(ApiKey::new(SECRET_KEY).unwrap(), fast_config("::not a url"))
            .unwrap_err(),
    );
    let kinds: Vec<&str> = errors
        .iter()
        .map(|e| match e {
            GatewayError::Authentication { .. } => "authentication",
            GatewayError::Permission { .. } => "permission",
            GatewayError::IdempotencyKeyReused { .. } => "idempotency",
            GatewayError::NotFound { .. } => "not_found",
            GatewayError::InvalidRequest { .. } => "invalid",
            GatewayError::NotSent { .. } => "not_sent",
            GatewayError::Unknown { .. } => "unknown",
            GatewayError::Config { .. } => "config",
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "authentication",
            "permission",
            "idempotency",
            "not_found",
            "invalid",
            "unknown",
            "unknown",
            "not_sent",
            "config"
        ],
        "every variant is exercised"
    );
    for error in &errors {
        assert_error_clean(error);
    }
    // Results carrying transport details.
    let hang = Scripted::start(vec![Act::Hang]).await;
    let result = gateway_at(&hang.base_url)
        .confirm_intent(&confirm_request())
        .await
        .unwrap();
    assert_no_secret_in(&result);
    let text = logs.text();
    assert!(
        text.contains("gateway answered"),
        "logs were captured: {text}"
    );
    assert_no_secret(&text);
}

/// Captures this thread's tracing output (the tests run on a current-thread runtime).
struct LogCapture {
    buffer: Arc<Mutex<Vec<u8>>>,
    _guard: tracing::subscriber::DefaultGuard,
}

#[derive(Clone)]
struct BufferWriter(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for BufferWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl LogCapture {
    fn install() -> LogCapture {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let writer = BufferWriter(buffer.clone());
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        LogCapture {
            buffer,
            _guard: tracing::subscriber::set_default(subscriber),
        }
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.buffer.lock().unwrap()).to_string()
    }
}

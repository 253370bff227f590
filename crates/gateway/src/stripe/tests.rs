//! The Stripe connector's tests and their harness: a tiny scripted HTTP server on 127.0.0.1:0,
//! canned Stripe answers, and the checks that the API key never shows up. The tests themselves
//! are in `tests/charge.rs` (create and confirm: the exact request on the wire, the outcome of
//! every class of answer and non-answer) and `tests/refunds_and_reads.rs` (refunds, cancel,
//! search, events, fixture parsing, and the key-leak sweep over results, errors and logs).
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

mod charge;
mod keys;
mod refunds_and_reads;
mod retry_after;

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
        allow_custom_host: false,
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

fn refund_request(amount: Option<i64>) -> RefundRequest {
    RefundRequest {
        intent: pi(),
        amount: amount.map(|minor| Money::new(minor, Currency::from_code("EUR").unwrap()).unwrap()),
        reason: Some(RefundReason::RequestedByCustomer),
        metadata: BTreeMap::from([("approved_by".to_string(), "mgr-1".to_string())]),
        key: IdempotencyKey::for_refund(&pi(), one()),
    }
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

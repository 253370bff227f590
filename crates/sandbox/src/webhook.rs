//! Signed webhook delivery: Stripe's `Stripe-Signature` scheme and a background dispatcher that
//! POSTs each event to the configured URL, retries with backoff, and on request duplicates or
//! reorders deliveries.
//!
//! The dispatcher owns no state of the API: it receives finished event objects over a channel and
//! stops when the sandbox shuts down, abandoning deliveries still waiting for a retry.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use serde::Serialize;
use serde_json::Value;
use sha2::Sha256;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

/// Attempts per delivery before giving up. Stripe retries for three days; a test double that
/// did so would outlive the test, so a handful of fast attempts shows the retry behaviour.
pub const WEBHOOK_ATTEMPTS_MAX: u32 = 6;
/// First retry delay; doubled on each retry up to `WEBHOOK_BACKOFF_MS_MAX`.
pub const WEBHOOK_BACKOFF_MS_INITIAL: u64 = 100;
pub const WEBHOOK_BACKOFF_MS_MAX: u64 = 3_000;
/// How long a receiver may take to answer one delivery.
pub const WEBHOOK_TIMEOUT_MS: u64 = 5_000;
/// In reorder mode every other event is held back this long, so the next one overtakes it.
pub const WEBHOOK_REORDER_DELAY_MS: u64 = 400;
/// Delivery log entries kept for the ledger; older entries are dropped first.
pub const WEBHOOK_LOG_ENTRIES_MAX: usize = 10_000;

/// Where and how events are delivered. Changeable at run time through the admin API.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct WebhookSettings {
    /// The receiver; `None` disables delivery (events are still recorded for `GET /v1/events`).
    pub url: Option<String>,
    /// The endpoint secret (`whsec_...`) the signature is computed with.
    pub secret: String,
    /// Deliver every event twice (at-least-once delivery made visible).
    pub duplicate: bool,
    /// Hold back every other event so deliveries arrive out of order.
    pub reorder: bool,
}

/// The secret used when none is configured.
pub const DEFAULT_WEBHOOK_SECRET: &str = "whsec_paydesk_sandbox";

impl Default for WebhookSettings {
    fn default() -> Self {
        WebhookSettings {
            url: None,
            secret: DEFAULT_WEBHOOK_SECRET.to_string(),
            duplicate: false,
            reorder: false,
        }
    }
}

/// One delivery attempt, for the ledger.
#[derive(Debug, Clone, Serialize)]
pub struct DeliveryRecord {
    pub event_id: String,
    pub event_type: String,
    /// 1-based attempt number within this copy of the delivery.
    pub attempt: u32,
    /// The receiver's HTTP status, or `None` if the request itself failed.
    pub status: Option<u16>,
    pub error: Option<String>,
    pub at_unix_ms: i64,
}

/// The `Stripe-Signature` header value: `t=<unix seconds>,v1=<hex HMAC-SHA256("t.payload")>`.
pub fn sign(secret: &str, timestamp: i64, payload: &str) -> String {
    format!(
        "t={timestamp},v1={}",
        signature_hex(secret, timestamp, payload)
    )
}

fn signature_hex(secret: &str, timestamp: i64, payload: &str) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC accepts keys of any size");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(payload.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Checks a `Stripe-Signature` header the way Stripe's libraries do (any `v1` may match). The
/// timestamp tolerance is the caller's business; the parsed timestamp is returned for it.
pub fn verify(header: &str, payload: &str, secret: &str) -> Option<i64> {
    let mut timestamp = None;
    let mut candidates = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", sig)) => candidates.push(sig.to_string()),
            _ => {}
        }
    }
    let t = timestamp?;
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC accepts keys of any size");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(payload.as_bytes());
    candidates
        .iter()
        .filter_map(|c| hex::decode(c).ok())
        .any(|sig| mac.clone().verify_slice(&sig).is_ok())
        .then_some(t)
}

fn wall_unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Runs until `shutdown` turns true: takes events from `events` and delivers them.
pub async fn dispatch(
    mut events: mpsc::UnboundedReceiver<Value>,
    settings: Arc<Mutex<WebhookSettings>>,
    log: Arc<Mutex<Vec<DeliveryRecord>>>,
    mut shutdown: watch::Receiver<bool>,
) {
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_millis(WEBHOOK_TIMEOUT_MS))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "cannot build the webhook HTTP client; webhooks are off");
            return;
        }
    };
    let mut in_flight = JoinSet::new();
    let mut sequence: u64 = 0;
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            Some(_) = in_flight.join_next(), if !in_flight.is_empty() => {}
            event = events.recv() => {
                let Some(event) = event else { break };
                let current = settings.lock().expect("webhook settings lock").clone();
                let Some(url) = current.url.clone() else { continue };
                sequence += 1;
                let hold_back_ms = if current.reorder && sequence % 2 == 1 {
                    WEBHOOK_REORDER_DELAY_MS
                } else {
                    0
                };
                let copies = if current.duplicate { 2 } else { 1 };
                for _ in 0..copies {
                    in_flight.spawn(deliver(
                        client.clone(),
                        url.clone(),
                        current.secret.clone(),
                        event.clone(),
                        hold_back_ms,
                        log.clone(),
                    ));
                }
            }
        }
    }
    // Shutdown: pending retries are abandoned, as a stopped Stripe account would abandon them.
    in_flight.abort_all();
    while in_flight.join_next().await.is_some() {}
}

async fn deliver(
    client: reqwest::Client,
    url: String,
    secret: String,
    event: Value,
    hold_back_ms: u64,
    log: Arc<Mutex<Vec<DeliveryRecord>>>,
) {
    if hold_back_ms > 0 {
        tokio::time::sleep(Duration::from_millis(hold_back_ms)).await;
    }
    let payload = event.to_string();
    let event_id = event["id"].as_str().unwrap_or_default().to_string();
    let event_type = event["type"].as_str().unwrap_or_default().to_string();
    let mut backoff_ms = WEBHOOK_BACKOFF_MS_INITIAL;
    for attempt in 1..=WEBHOOK_ATTEMPTS_MAX {
        // The signature uses the real wall clock, not the sandbox's jumped clock: the receiver
        // checks the timestamp against its own clock, as it would with Stripe.
        let header = sign(&secret, wall_unix_ms() / 1000, &payload);
        let result = client
            .post(&url)
            .header("Content-Type", "application/json; charset=utf-8")
            .header("Stripe-Signature", header)
            .body(payload.clone())
            .send()
            .await;
        let (status, error) = match &result {
            Ok(r) => (Some(r.status().as_u16()), None),
            Err(e) => (None, Some(e.to_string())),
        };
        {
            let mut log = log.lock().expect("webhook log lock");
            if log.len() >= WEBHOOK_LOG_ENTRIES_MAX {
                log.remove(0);
            }
            log.push(DeliveryRecord {
                event_id: event_id.clone(),
                event_type: event_type.clone(),
                attempt,
                status,
                error,
                at_unix_ms: wall_unix_ms(),
            });
        }
        if matches!(result, Ok(ref r) if r.status().is_success()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(backoff_ms)).await;
        backoff_ms = (backoff_ms * 2).min(WEBHOOK_BACKOFF_MS_MAX);
    }
    tracing::warn!(%event_id, %url, "webhook delivery abandoned after {WEBHOOK_ATTEMPTS_MAX} attempts");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_and_verifies() {
        let header = sign("whsec_x", 1_700_000_000, "{\"a\":1}");
        assert!(header.starts_with("t=1700000000,v1="));
        assert_eq!(verify(&header, "{\"a\":1}", "whsec_x"), Some(1_700_000_000));
        assert_eq!(verify(&header, "{\"a\":2}", "whsec_x"), None);
        assert_eq!(verify(&header, "{\"a\":1}", "whsec_y"), None);
    }
}

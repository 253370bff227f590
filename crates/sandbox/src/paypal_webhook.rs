//! Signed PayPal webhooks from the sandbox: each capture and refund the PayPal side makes is
//! announced once as PayPal would (`PAYMENT.CAPTURE.COMPLETED` / `DENIED` / `PENDING`,
//! `PAYMENT.CAPTURE.REFUNDED`), signed as PayPal signs (RSA-SHA256 over
//! `transmission_id|transmission_time|webhook_id|crc32(body)`) with the sandbox's own test key,
//! whose certificate is served at `/v1/notifications/certs/CERT-paydesk-sandbox` (the
//! `PAYPAL-CERT-URL`) and exported as [`SANDBOX_CERT_PEM`] for a central's certificate file.
//!
//! Delivery: `POST /admin/paypal/webhooks {"url", "webhook_id"}` turns it on (off by default);
//! each event is POSTed with a few retries and backoff, every attempt kept for
//! `GET /admin/paypal/webhooks`. Deliberately absent: PayPal's 3-day retry schedule, the order
//! and dispute event types, duplicate/reorder modes (Stripe's side has them), and persistence.
//! The key is a test key, public in this file: it proves the scheme, never PayPal's trust.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::mpsc;

use crate::server::Shared;

/// The webhook id deliveries are signed for unless another is set.
pub const SANDBOX_WEBHOOK_ID: &str = "WH-PAYDESK-SANDBOX";
/// Where the certificate is served (the path of `PAYPAL-CERT-URL`).
pub const CERT_PATH: &str = "/v1/notifications/certs/CERT-paydesk-sandbox";
/// The sandbox's signing certificate (self-signed, test only).
pub const SANDBOX_CERT_PEM: &str = "-----BEGIN CERTIFICATE-----\nMIIDVzCCAj+gAwIBAgIUCdEwhJeq82Y7jEuj11zGpGbVAX0wDQYJKoZIhvcNAQEL\nBQAwOzE5MDcGA1UEAwwwbWVzc2FnZXZlcmlmaWNhdGlvbmNlcnRzLnNhbmRib3gu\ncGF5ZGVzay5pbnZhbGlkMB4XDTI2MTEzMDE3MTYwNloXDTQ2MTEyNTE3MTYwNlow\nOzE5MDcGA1UEAwwwbWVzc2FnZXZlcmlmaWNhdGlvbmNlcnRzLnNhbmRib3gucGF5\nZGVzay5pbnZhbGlkMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAtnTa\nKij6v1IF0TaYn7t2kdMYQqOzahl9TuIAb7XgGhLn7mbHSGG6HGfFmlWrotqBf2xA\n94Vv6elzy9FzVMY3Zzj0s6glksmwDiZbDxSiRs8kH8R8v7B+D/4pNsf2X0mZM1ii\nFlJNivoCHA0jLO5B1eJMtrJVMQ96DSsBCfM9uhB1XKEuA0Qx4BUBc5J6p/g0XhjH\nXEM3uWpyliAaSXxEas7mTiS89Zk16FD2WVVX/tIbwCp3wT2Pb5S92zR8tpIWOXc9\n9tAgXdalbCXMFpWRrjSQkdbRIji+G2Oo9PVNFn77fJic1UlKEABPGMrdFG7yGUYm\nZUwsKXyXXV+rcn3f+wIDAQABo1MwUTAdBgNVHQ4EFgQUccG8gJATSovtTtyXxrCX\n6QMMaYUwHwYDVR0jBBgwFoAUccG8gJATSovtTtyXxrCX6QMMaYUwDwYDVR0TAQH/\nBAUwAwEB/zANBgkqhkiG9w0BAQsFAAOCAQEAsGQ0kbY/2p5+qNuMAcdgxwBfy36C\ncd0JT8wpWzybMab8JuczyCxPSyaWMwHopylcdGa7IhXucPlmhdECa2RJf1ddoDly\numpXZm/ZDWPNkP0QX1D7TjuG2qb/ugDd6zJTJ+xjloDKlbf+jugjRmsmGb6VRMc1\nJ8lGzDA2/iptlhYGL7O+dJcPtigkqPMWtnWBVlsCMqK+if2g/BWQhrx+Y/Y/21x1\nu9mGY8R8IeMM05+0We38+oPLIeISoOCNFleRUrFqLN8DhGQHJcRW50mvAS2EcSnj\n0y2V6W4o7tjb3b0otItNyRhz1wTt2ooEntI/KQJiQFtMENiKi1yG7T24wQ==\n-----END CERTIFICATE-----";
/// The sandbox's signing key (PKCS#8, test only: it is public here).
const SANDBOX_KEY_PEM: &str = "-----BEGIN PRIVATE KEY-----\nMIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQC2dNoqKPq/UgXR\nNpifu3aR0xhCo7NqGX1O4gBvteAaEufuZsdIYbocZ8WaVaui2oF/bED3hW/p6XPL\n0XNUxjdnOPSzqCWSybAOJlsPFKJGzyQfxHy/sH4P/ik2x/ZfSZkzWKIWUk2K+gIc\nDSMs7kHV4ky2slUxD3oNKwEJ8z26EHVcoS4DRDHgFQFzknqn+DReGMdcQze5anKW\nIBpJfERqzuZOJLz1mTXoUPZZVVf+0hvAKnfBPY9vlL3bNHy2khY5dz320CBd1qVs\nJcwWlZGuNJCR1tEiOL4bY6j09U0Wfvt8mJzVSUoQAE8Yyt0UbvIZRiZlTCwpfJdd\nX6tyfd/7AgMBAAECggEAB6xEc1ka1J+sJGZFNTA49HIxHH2m4vOIBSCb3DM9yTyy\n23V1JhmaA22u39hHeEAstE+cMAkIBzPz8PfVOIa5N9mPDNypi9jN0xRJvbRWKLUp\nOsz/KVzCOjAPWN2VkIrXTowzYpUJJQA44bYdR4Yo2SugTXuw+ZRebgGrBiCZEXFj\nQEoMUQ0GTQ0lKcFfjT59lIEGzDH0ate2WQQ/gJRf4Dbuoii27AADp3djhIQYNa3N\nq6MUWAM2e1hcof7PhsCa91viMJlCfwtv1e/gehyxpPXYXdxrtKRW3Qbc0igTuXKZ\namEhncKzE+qmROBqRYslyPMI9A4lZZyFC1DDfk/d/QKBgQD7OEF7sxrWnGtPPrwA\nCA5sIiWYzCfXevBCecRyyXlTqLGSJ0pwf6C7b0WR1xE6OWL1jvwjzgvP+6SCX5B+\nshO209JHIQoLp98R56d0c5hm3ZEzzeW8LBXLREKuzDLLRsIyKX4CgcJcCrmpwOQx\nQgSsN9buTVhXj24x5eC4pMr1BQKBgQC57aLNYVw7D9JhjdxhNZcrwIpc0LI/xKO9\n9+GDGsbbgTsKaYNITWKc0RjHsc2bwvyo+03ml/GVpLqFMPXFgs/hejeZ+JHNiBUQ\nNBNRxTeYQcZTCNI8xzGaf0iku6IIoOsfpiUn+ku9c22r/2979ALpWgM02tRDjSCB\nS+C2sE2Q/wKBgQDIYRzKQBgeKnHlqZJnLAXk9m+qqtz0oRjWzS2GqXFe62WHwFM9\n3G8mUiDZrQQOvwtR9pTjMkx1vrB/VR56ECxtXhORrKbImUPykiYdWr6q/fv9qDOg\nnkFb+rx9lF7HiU8Il9Psx/dxVxS0dCkPqSr0+y0ysvrODJfGsSdH4BoKyQKBgHyg\nXiUeoqzwMQu1BEignGD2YYhPV3vI+hzHAAFaPHs8B3A2Q4p+XKBSxDJu6ywCKku2\nj4QGyyeMUH4g0E0BHwi7XHO3mzvSgJPo5B5GfLpxNFfKLOoSdxxhPzc0kisIejIv\nsu42JvipW5UT1g2XBTCXZljSab+R5HzmeIzcZlHPAoGBAOxsYf0odRLuOVd7sDra\nd88GaY/AppZ3YTBdZnWf4R1Sok6EAbM4X6uC7O9kRaf0hGL2av4WepeaRRy7KErq\n/9dPCqfstz17C1wRzS0K9ZUZS180iVFLsdzDtk0GXsqHz9ylgwHH4C0YNl630J5Z\nGQbrtX9aCo6yao3h3yCAxiEj\n-----END PRIVATE KEY-----";
/// Attempts per delivery, first retry after `BACKOFF_MS_INITIAL`, doubled each time.
const ATTEMPTS_MAX: u32 = 6;
const BACKOFF_MS_INITIAL: u64 = 100;
/// Delivery records kept; older ones are dropped first.
const LOG_ENTRIES_MAX: usize = 10_000;

#[derive(Debug, Clone)]
struct Settings {
    url: Option<String>,
    webhook_id: String,
}

/// One delivery attempt, for `GET /admin/paypal/webhooks`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Delivery {
    pub event_id: String,
    pub event_type: String,
    pub attempt: u32,
    pub status: Option<u16>,
    pub at_unix_ms: i64,
}

/// The sender: settings, what was announced, and the queue to the delivery task.
pub struct PaypalWebhooks {
    settings: Mutex<Settings>,
    /// `capture:<id>:<status>` and `refund:<id>` already announced (reads return the same
    /// objects again).
    announced: Mutex<HashSet<String>>,
    /// Each announced capture's `invoice_id`: PayPal's refund resource carries the capture's.
    invoices: Mutex<HashMap<String, String>>,
    log: Arc<Mutex<Vec<Delivery>>>,
    tx: mpsc::UnboundedSender<Value>,
    cert_url: String,
}

impl std::fmt::Debug for PaypalWebhooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PaypalWebhooks")
            .field("cert_url", &self.cert_url)
            .finish_non_exhaustive()
    }
}

/// The PayPal side's settings at start, for a host whose admin routes are off (the embedded
/// stack): the only client pair the token endpoint accepts (`None`: any non-empty pair), and the
/// URL signed webhooks go to (`None`: none are sent until `/admin/paypal/webhooks` sets one).
#[derive(Debug, Clone, Default)]
pub struct PaypalStart {
    pub credentials: Option<(String, String)>,
    pub webhook_url: Option<String>,
}

impl PaypalWebhooks {
    /// Where signed webhooks go (`None`: nowhere), as `/admin/paypal/webhooks` sets it.
    pub fn set_url(&self, url: Option<String>) {
        if let Ok(mut s) = self.settings.lock() {
            s.url = url;
        }
    }

    /// Starts the delivery task on the current runtime; `base_url` is the sandbox's own, for
    /// `PAYPAL-CERT-URL`. The task ends when the sandbox's shutdown fires.
    pub fn start(
        base_url: &str,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> Arc<PaypalWebhooks> {
        let (tx, mut rx) = mpsc::unbounded_channel::<Value>();
        let hooks = Arc::new(PaypalWebhooks {
            settings: Mutex::new(Settings {
                url: None,
                webhook_id: SANDBOX_WEBHOOK_ID.into(),
            }),
            announced: Mutex::new(HashSet::new()),
            invoices: Mutex::new(HashMap::new()),
            log: Arc::new(Mutex::new(Vec::new())),
            tx,
            cert_url: format!("{base_url}{CERT_PATH}"),
        });
        let weak = Arc::downgrade(&hooks);
        tokio::spawn(async move {
            let client = reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .unwrap_or_default();
            loop {
                tokio::select! {
                    _ = shutdown.changed() => break,
                    event = rx.recv() => {
                        let (Some(event), Some(hooks)) = (event, weak.upgrade()) else { break };
                        let settings = hooks.settings.lock().expect("paypal webhook settings").clone();
                        let Some(url) = settings.url else { continue };
                        let client = client.clone();
                        let cert_url = hooks.cert_url.clone();
                        let log = hooks.log.clone();
                        tokio::spawn(deliver(client, url, settings.webhook_id, cert_url, event, log));
                    }
                }
            }
        });
        hooks
    }

    /// Looks at a successful PayPal answer (an order or a refund) and queues an event for each
    /// capture or refund not announced before.
    pub fn observe(&self, body: &Value) {
        let mut events = Vec::new();
        let mut announced = self.announced.lock().expect("announced events");
        if let Some(units) = body["purchase_units"].as_array() {
            let order_id = body["id"].as_str().unwrap_or_default();
            for capture in units
                .iter()
                .flat_map(|u| u["payments"]["captures"].as_array().into_iter().flatten())
            {
                let status = capture["status"].as_str().unwrap_or_default();
                let event_type = match status {
                    "COMPLETED" => "PAYMENT.CAPTURE.COMPLETED",
                    "DECLINED" | "FAILED" => "PAYMENT.CAPTURE.DENIED",
                    "PENDING" => "PAYMENT.CAPTURE.PENDING",
                    _ => continue,
                };
                let id = capture["id"].as_str().unwrap_or_default();
                if !announced.insert(format!("capture:{id}:{status}")) {
                    continue;
                }
                if let Some(invoice) = capture["invoice_id"].as_str() {
                    if let Ok(mut invoices) = self.invoices.lock() {
                        invoices.insert(id.to_string(), invoice.to_string());
                    }
                }
                let mut resource = capture.clone();
                resource["supplementary_data"] = json!({ "related_ids": { "order_id": order_id } });
                events.push(event(event_type, "capture", resource));
            }
        } else if body["supplementary_data"]["related_ids"]["capture_id"].is_string() {
            let id = body["id"].as_str().unwrap_or_default();
            if announced.insert(format!("refund:{id}")) {
                let mut resource = body.clone();
                let capture = body["supplementary_data"]["related_ids"]["capture_id"]
                    .as_str()
                    .unwrap_or_default();
                let invoice = self
                    .invoices
                    .lock()
                    .ok()
                    .and_then(|i| i.get(capture).cloned());
                if let (None, Some(invoice)) = (resource.get("invoice_id"), invoice) {
                    resource["invoice_id"] = json!(invoice);
                }
                events.push(event("PAYMENT.CAPTURE.REFUNDED", "refund", resource));
            }
        }
        drop(announced);
        for e in events {
            let _ = self.tx.send(e);
        }
    }
}

fn wall_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// `2026-11-30T17:00:00Z` for Unix seconds.
fn rfc3339(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn event(event_type: &str, resource_type: &str, resource: Value) -> Value {
    json!({
        "id": format!("WH-{}", uuid::Uuid::new_v4().simple().to_string().to_uppercase()),
        "event_version": "1.0",
        "create_time": rfc3339(wall_ms() / 1000),
        "resource_type": resource_type,
        "event_type": event_type,
        "summary": format!("{event_type} (Paydesk sandbox)"),
        "resource": resource,
    })
}

/// The signature headers PayPal sends, for `body` signed for `webhook_id` now.
pub fn sign(body: &[u8], webhook_id: &str, cert_url: &str) -> Vec<(&'static str, String)> {
    let transmission_id = uuid::Uuid::new_v4().to_string();
    let time = rfc3339(wall_ms() / 1000);
    let message = format!(
        "{transmission_id}|{time}|{webhook_id}|{}",
        crc32fast::hash(body)
    );
    let der: String = SANDBOX_KEY_PEM
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(der)
        .expect("the test key is base64");
    let key = ring::signature::RsaKeyPair::from_pkcs8(&der).expect("the test key is PKCS#8 RSA");
    let mut sig = vec![0; key.public().modulus_len()];
    key.sign(
        &ring::signature::RSA_PKCS1_SHA256,
        &ring::rand::SystemRandom::new(),
        message.as_bytes(),
        &mut sig,
    )
    .expect("RSA signing");
    vec![
        ("paypal-transmission-id", transmission_id),
        ("paypal-transmission-time", time),
        (
            "paypal-transmission-sig",
            base64::engine::general_purpose::STANDARD.encode(sig),
        ),
        ("paypal-auth-algo", "SHA256withRSA".to_string()),
        ("paypal-cert-url", cert_url.to_string()),
    ]
}

async fn deliver(
    client: reqwest::Client,
    url: String,
    webhook_id: String,
    cert_url: String,
    event: Value,
    log: Arc<Mutex<Vec<Delivery>>>,
) {
    let body = event.to_string();
    let mut backoff = BACKOFF_MS_INITIAL;
    for attempt in 1..=ATTEMPTS_MAX {
        // Signed afresh per attempt, as PayPal does (a new transmission).
        let mut request = client
            .post(&url)
            .header(header::CONTENT_TYPE, "application/json")
            .body(body.clone());
        for (name, value) in sign(body.as_bytes(), &webhook_id, &cert_url) {
            request = request.header(name, value);
        }
        let status = request.send().await.ok().map(|r| r.status().as_u16());
        if let Ok(mut log) = log.lock() {
            if log.len() >= LOG_ENTRIES_MAX {
                log.remove(0);
            }
            log.push(Delivery {
                event_id: event["id"].as_str().unwrap_or_default().to_string(),
                event_type: event["event_type"].as_str().unwrap_or_default().to_string(),
                attempt,
                status,
                at_unix_ms: wall_ms(),
            });
        }
        if status.is_some_and(|s| (200..300).contains(&s)) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(backoff)).await;
        backoff = (backoff * 2).min(3_000);
    }
}

async fn certificate() -> Response {
    (
        [(header::CONTENT_TYPE, "application/x-pem-file")],
        SANDBOX_CERT_PEM,
    )
        .into_response()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SettingsRequest {
    /// The receiver (`null` turns delivery off).
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    webhook_id: Option<String>,
}

fn view(shared: &Shared) -> Value {
    let hooks = &shared.paypal_webhooks;
    let s = hooks
        .settings
        .lock()
        .map(|s| s.clone())
        .unwrap_or(Settings {
            url: None,
            webhook_id: String::new(),
        });
    let log = hooks.log.lock().map(|l| l.clone()).unwrap_or_default();
    json!({ "url": s.url, "webhook_id": s.webhook_id, "cert_url": hooks.cert_url, "deliveries": log })
}

async fn get_settings(State(shared): State<Arc<Shared>>) -> Response {
    Json(view(&shared)).into_response()
}

async fn set_settings(
    State(shared): State<Arc<Shared>>,
    Json(req): Json<SettingsRequest>,
) -> Response {
    if req
        .webhook_id
        .as_deref()
        .is_some_and(|w| w.trim().is_empty() || w.contains('|'))
    {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({ "error": "webhook_id must be non-empty and without '|'" })),
        )
            .into_response();
    }
    if let Ok(mut s) = shared.paypal_webhooks.settings.lock() {
        s.url = req.url;
        if let Some(id) = req.webhook_id {
            s.webhook_id = id;
        }
    }
    Json(view(&shared)).into_response()
}

/// The certificate (public) and the admin settings (behind the admin gate).
pub fn router(shared: Arc<Shared>) -> Router<Arc<Shared>> {
    let admin = Router::new()
        .route(
            "/admin/paypal/webhooks",
            get(get_settings).post(set_settings),
        )
        .route_layer(axum::middleware::from_fn_with_state(
            shared,
            crate::admin_access::gate,
        ));
    Router::new()
        .route(CERT_PATH, get(certificate))
        .merge(admin)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_796_058_002), "2026-11-30T17:00:02Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn signatures_verify_with_the_served_certificate() {
        let body = br#"{"id":"WH-1"}"#;
        let headers = sign(body, "WH-ID", "http://x/cert");
        let get = |n: &str| {
            headers
                .iter()
                .find(|(k, _)| *k == n)
                .map(|(_, v)| v.clone())
                .unwrap()
        };
        let message = format!(
            "{}|{}|WH-ID|{}",
            get("paypal-transmission-id"),
            get("paypal-transmission-time"),
            crc32fast::hash(body)
        );
        // The public key from the certificate's DER, checked with ring as a receiver would.
        let der: String = SANDBOX_CERT_PEM
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(der)
            .unwrap();
        let sig = base64::engine::general_purpose::STANDARD
            .decode(get("paypal-transmission-sig"))
            .unwrap();
        let der_key: String = SANDBOX_KEY_PEM
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect();
        let key = ring::signature::RsaKeyPair::from_pkcs8(
            &base64::engine::general_purpose::STANDARD
                .decode(der_key)
                .unwrap(),
        )
        .unwrap();
        let public = ring::signature::UnparsedPublicKey::new(
            &ring::signature::RSA_PKCS1_2048_8192_SHA256,
            key.public().as_ref().to_vec(),
        );
        assert!(public.verify(message.as_bytes(), &sig).is_ok());
        assert!(public.verify(b"other", &sig).is_err());
        // The certificate carries that same public key.
        let modulus_start = key.public().as_ref();
        assert!(der
            .windows(64)
            .any(|w| w == &modulus_start[modulus_start.len() - 64..]));
    }
}

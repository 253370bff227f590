//! Test harness: a sandbox on a free port and a thin reqwest client for the `/v1` and `/admin`
//! APIs. Helpers return status, headers and JSON so each test asserts on the wire, not on types.

#![allow(dead_code)]

use std::time::Duration;

use paydesk_sandbox::{SandboxConfig, SandboxHandle};
use reqwest::header::HeaderMap;
use serde_json::{json, Value};

pub const KEY: &str = "sk_test_paydesk_tests";

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Resp {
    pub fn replayed(&self) -> bool {
        self.headers
            .get("idempotent-replayed")
            .is_some_and(|v| v == "true")
    }

    pub fn error(&self) -> &Value {
        &self.body["error"]
    }
}

#[derive(Debug)]
pub struct Sandbox {
    pub handle: SandboxHandle,
    pub base: String,
    pub client: reqwest::Client,
}

impl Sandbox {
    /// A sandbox with no search lag unless the test asks for one.
    pub async fn start() -> Sandbox {
        Sandbox::start_with(SandboxConfig {
            search_lag_ms: 0,
            ..SandboxConfig::default()
        })
        .await
    }

    pub async fn start_with(config: SandboxConfig) -> Sandbox {
        let handle = paydesk_sandbox::spawn(config)
            .await
            .expect("sandbox starts");
        let client = reqwest::Client::builder()
            // A fresh connection per request, so a connection dropped by a fault never
            // poisons the next request of the test.
            .pool_max_idle_per_host(0)
            .timeout(Duration::from_secs(20))
            .build()
            .unwrap();
        Sandbox {
            base: handle.base_url.clone(),
            handle,
            client,
        }
    }

    pub async fn try_post(
        &self,
        path: &str,
        form: &[(&str, &str)],
        key: Option<&str>,
    ) -> reqwest::Result<Resp> {
        let body = form
            .iter()
            .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
            .collect::<Vec<_>>()
            .join("&");
        let mut req = self
            .client
            .post(format!("{}{path}", self.base))
            .bearer_auth(KEY)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body);
        if let Some(k) = key {
            req = req.header("Idempotency-Key", k);
        }
        into_resp(req.send().await?).await
    }

    pub async fn post(&self, path: &str, form: &[(&str, &str)], key: Option<&str>) -> Resp {
        self.try_post(path, form, key)
            .await
            .expect("request answered")
    }

    pub async fn get(&self, path_and_query: &str) -> Resp {
        let r = self
            .client
            .get(format!("{}{path_and_query}", self.base))
            .bearer_auth(KEY)
            .send()
            .await
            .expect("request answered");
        into_resp(r).await.unwrap()
    }

    pub async fn admin(&self, path: &str, body: Value) -> Value {
        let r = self
            .client
            .post(format!("{}{path}", self.base))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(
            r.status().is_success(),
            "admin {path} failed: {}",
            r.status()
        );
        r.json().await.unwrap()
    }

    pub async fn fault(&self, spec: &str) {
        self.admin("/admin/faults", json!({ "spec": spec })).await;
    }

    pub async fn advance_clock_ms(&self, ms: i64) {
        self.admin("/admin/clock", json!({ "advance_ms": ms }))
            .await;
    }

    pub async fn ledger(&self) -> Value {
        self.client
            .get(format!("{}/admin/ledger", self.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Creates an intent for `order` with `pm`, unconfirmed; returns the intent.
    pub async fn create(&self, amount: i64, pm: &str, order: &str) -> Value {
        let amount = amount.to_string();
        let r = self
            .post(
                "/v1/payment_intents",
                &[
                    ("amount", &amount),
                    ("currency", "eur"),
                    ("payment_method", pm),
                    ("metadata[order_id]", order),
                ],
                Some(&format!("create-{order}")),
            )
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        r.body
    }

    pub async fn confirm(&self, id: &str, key: &str) -> Resp {
        self.post(&format!("/v1/payment_intents/{id}/confirm"), &[], Some(key))
            .await
    }

    pub async fn intent(&self, id: &str) -> Value {
        let r = self.get(&format!("/v1/payment_intents/{id}")).await;
        assert_eq!(r.status, 200);
        r.body
    }
}

async fn into_resp(r: reqwest::Response) -> reqwest::Result<Resp> {
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let body = r.json().await?;
    Ok(Resp {
        status,
        headers,
        body,
    })
}

/// Percent-encodes a form component (brackets included, as Stripe's libraries do).
pub fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

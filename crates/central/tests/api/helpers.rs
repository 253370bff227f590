//! The test harness: a central on 127.0.0.1:0 over a fresh database per test (a temp SQLite file,
//! or a new PostgreSQL database dropped afterwards), an HTTP client and shortcuts for set-up.
//!
//! PostgreSQL is not optional: if it cannot be reached the PostgreSQL variant of every test fails
//! (the URL comes from `PAYDESK_TEST_PG`, default `postgres://postgres@127.0.0.1:5432/test`).

use std::sync::Arc;

use paydesk_central::http::Config;
use paydesk_central::store::Store;
use paydesk_central::sweeper::IntentLookup;
use paydesk_central::RunningCentral;
use paydesk_testkit::PgDatabase;
use serde_json::{json, Value};

pub const ADMIN_TOKEN: &str = "admin-secret-for-tests";
pub const WEBHOOK_SECRET: &str = "whsec_test_current";

/// Runs a test body once against SQLite and once against PostgreSQL.
#[macro_export]
macro_rules! both_backends {
    ($(#[$meta:meta])* async fn $name:ident($app:ident) $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[allow(unused_imports)]
            use $crate::helpers::*;

            async fn run($app: &TestApp) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            $(#[$meta])*
            async fn sqlite() {
                let app = TestApp::spawn(Db::Sqlite, TestOptions::default()).await;
                run(&app).await;
                app.stop().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            $(#[$meta])*
            async fn postgres() {
                let app = TestApp::spawn(Db::Postgres, TestOptions::default()).await;
                run(&app).await;
                app.stop().await;
            }
        }
    };
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

#[derive(Debug, Default)]
pub struct TestOptions {
    pub lease_ms: Option<i64>,
    /// Defaults to an hour, so tests drive the sweeper themselves.
    pub sweep_interval_ms: Option<u64>,
    pub gateway: Option<Arc<dyn IntentLookup>>,
    pub header_read_timeout_ms: Option<u64>,
    pub idle_timeout_ms: Option<u64>,
    pub connections_max: Option<usize>,
}

/// A running central with its database and an HTTP client.
#[derive(Debug)]
pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub store: Store,
    running: Option<RunningCentral>,
    _pg: Option<PgDatabase>,
    _dir: Option<tempfile::TempDir>,
}

impl TestApp {
    pub async fn spawn(db: Db, options: TestOptions) -> TestApp {
        let (db_arg, pg, dir) = match db {
            Db::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let path = dir.path().join("central.db");
                (path.display().to_string(), None, Some(dir))
            }
            Db::Postgres => {
                let pg = PgDatabase::create("paydesk_t").await;
                (pg.url().to_string(), Some(pg), None)
            }
        };
        let store = Store::open(&db_arg).await.expect("open the store");
        let config = Config {
            lease_ms: options.lease_ms.unwrap_or(60_000),
            admin_token: Some(ADMIN_TOKEN.to_string()),
            webhook_secrets: vec![WEBHOOK_SECRET.to_string()],
            sweep_interval_ms: options.sweep_interval_ms.unwrap_or(3_600_000),
            header_read_timeout_ms: options
                .header_read_timeout_ms
                .unwrap_or(paydesk_central::http::HEADER_READ_TIMEOUT_MS_DEFAULT),
            idle_timeout_ms: options
                .idle_timeout_ms
                .unwrap_or(paydesk_central::http::IDLE_TIMEOUT_MS_DEFAULT),
            connections_max: options
                .connections_max
                .unwrap_or(paydesk_central::http::CONNECTIONS_MAX_DEFAULT),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let running = paydesk_central::start(store.clone(), config, options.gateway, listener)
            .expect("start");
        TestApp {
            base: format!("http://{}", running.addr),
            client: reqwest::Client::new(),
            store,
            running: Some(running),
            _pg: pg,
            _dir: dir,
        }
    }

    /// Stops the server and the sweeper (waiting for both) but keeps the store open.
    pub async fn shutdown_server(&mut self) {
        if let Some(r) = self.running.take() {
            r.shutdown().await;
        }
    }

    pub async fn stop(mut self) {
        if let Some(r) = self.running.take() {
            r.shutdown().await;
        }
        self.store.close().await;
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Sends JSON with a bearer token and returns (status, body as JSON or Null).
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self.client.request(method, self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        let value = serde_json::from_str(&text).unwrap_or(Value::Null);
        (status, value)
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> (u16, Value) {
        self.send(reqwest::Method::POST, path, Some(token), Some(body))
            .await
    }

    pub async fn get(&self, path: &str, token: &str) -> (u16, Value) {
        self.send(reqwest::Method::GET, path, Some(token), None)
            .await
    }

    /// Registers a terminal through the admin API and returns its token.
    pub async fn terminal(&self, id: &str) -> String {
        let (status, body) = self
            .post(
                "/v1/admin/terminals",
                ADMIN_TOKEN,
                json!({ "terminal_id": id }),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        body["token"].as_str().expect("token").to_string()
    }

    /// Adds operators directly in the store with a placeholder hash (argon2 is slow in debug
    /// builds; one test hashes a real PIN through the API).
    pub async fn operators(&self, ids: &[&str]) {
        for id in ids {
            self.store
                .upsert_operator(
                    &id.parse().unwrap(),
                    paydesk_protocol::Role::Operator,
                    "$argon2id$placeholder",
                    paydesk_central::clock::now(),
                )
                .await
                .unwrap();
        }
    }

    /// Imports orders `(id, minor, currency)` through the admin API.
    pub async fn orders(&self, orders: &[(&str, i64, &str)]) {
        let orders: Vec<Value> = orders
            .iter()
            .map(|(id, minor, cur)| {
                json!({"order_id": id, "amount": {"minor": minor, "currency": cur},
                       "customer_id": "cus_test", "payment_method_id": "pm_card_visa",
                       "description": format!("order {id}")})
            })
            .collect();
        let (status, body) = self
            .post(
                "/v1/orders/import",
                ADMIN_TOKEN,
                json!({ "orders": orders }),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }

    pub async fn claim(&self, token: &str, order: &str, operator: &str) -> (u16, Value) {
        self.post(
            &format!("/v1/orders/{order}/claim"),
            token,
            json!({ "operator_id": operator }),
        )
        .await
    }

    pub async fn order(&self, order: &str) -> Value {
        let (status, body) = self.get(&format!("/v1/orders/{order}"), ADMIN_TOKEN).await;
        assert_eq!(status, 200, "{body}");
        body
    }
}

/// A fresh UUID v7 attempt id as text.
pub fn attempt_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// A 64-hex-digit journal hash derived from a number.
pub fn head_hash(n: u64) -> String {
    format!("{n:064x}")
}

/// One result item.
#[allow(clippy::too_many_arguments)]
pub fn result_item(
    attempt_id: &str,
    order: &str,
    attempt: u64,
    token: u64,
    outcome: &str,
    minor: i64,
    currency: &str,
    intent: Option<&str>,
) -> Value {
    json!({
        "attempt_id": attempt_id, "order_id": order, "attempt_number": attempt,
        "claim_token": token, "outcome": outcome,
        "amount": {"minor": minor, "currency": currency},
        "intent_id": intent, "offline": false, "occurred_at": 1_795_000_000_000i64
    })
}

/// A batch with a journal head.
pub fn batch(seq: u64, items: Vec<Value>) -> Value {
    json!({ "journal_head": { "seq": seq, "hash": head_hash(seq) }, "results": items })
}

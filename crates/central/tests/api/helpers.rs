//! The test harness: a central on 127.0.0.1:0 over a fresh database per test (a temp SQLite file,
//! or a new PostgreSQL database dropped afterwards), an HTTP client and shortcuts for set-up,
//! including people: operators and managers with known PINs, and their sessions, opened through
//! the real sign-in route and cached per (terminal token, operator).
//!
//! PostgreSQL is not optional: if it cannot be reached the PostgreSQL variant of every test fails
//! (the URL comes from `PAYDESK_TEST_PG`, default `postgres://postgres@127.0.0.1:5432/test`).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock};

use paydesk_central::http::Config;
use paydesk_central::store::Store;
use paydesk_central::sweeper::IntentLookup;
use paydesk_central::RunningCentral;
use paydesk_testkit::PgDatabase;
use serde_json::{json, Value};

pub const ADMIN_TOKEN: &str = "admin-secret-for-tests";
pub const WEBHOOK_SECRET: &str = "whsec_test_current";
/// The PIN of every operator `TestApp::operators` adds.
pub const OPERATOR_PIN: &str = "135790";
/// The PIN of every manager `TestApp::managers` adds.
pub const MANAGER_PIN: &str = "24681357";
/// The terminal and manager `TestApp::manager_get` uses.
pub const MANAGER_TERMINAL: &str = "t-manager";
pub const MANAGER_ID: &str = "test-manager";

/// A PIN's argon2id hash made cheaply (8 KiB, one pass; argon2 is slow in a debug build), once
/// per PIN per process. The central verifies it with the parameters the hash names, through the
/// same code as a production hash.
pub fn cheap_pin_hash(pin: &str) -> String {
    static HASHES: OnceLock<Mutex<HashMap<String, String>>> = OnceLock::new();
    let hashes = HASHES.get_or_init(Default::default);
    if let Some(h) = hashes.lock().unwrap().get(pin) {
        return h.clone();
    }
    let argon2 = argon2::Argon2::new(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        argon2::Params::new(8, 1, 1, None).unwrap(),
    );
    let hash = paydesk_central::auth::hash_pin_with(pin, &argon2).unwrap();
    hashes.lock().unwrap().insert(pin.to_string(), hash.clone());
    hash
}

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
    pub lockout: Option<paydesk_central::sessions::LockoutPolicy>,
    pub sign_in_failures: Option<paydesk_central::rate_limit::Limit>,
    pub session_idle_ms: Option<i64>,
    pub session_age_ms_max: Option<i64>,
    pub reconcile_interval_ms: Option<i64>,
    /// The database to use instead of a fresh one (a restart over the same data).
    pub db_arg: Option<String>,
    /// The gateway reversals go to (none: reversals answer 503).
    pub gateway_actions: Option<Arc<dyn paydesk_central::gateway_actions::GatewayActions>>,
    pub approval_ttl_ms: Option<i64>,
    /// PayPal webhooks on (none: `/webhooks/paypal` answers 503 "not configured").
    pub paypal_webhook: Option<Arc<paydesk_central::webhook_paypal::PaypalVerifier>>,
}

/// A running central with its database and an HTTP client.
#[derive(Debug)]
pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub store: Store,
    /// The gateway the central verifies successes with, unless the test passed its own.
    pub book: Arc<GatewayBook>,
    running: Option<RunningCentral>,
    /// The `--db` argument of this central: another `TestApp` given it (`TestOptions::db_arg`)
    /// is a restart over the same data.
    pub db_arg: String,
    /// Ids `managers` added, so `session` signs them in with the manager PIN.
    managers: Mutex<HashSet<String>>,
    /// Session tokens by (terminal token, operator), opened on first use.
    sessions: Mutex<HashMap<(String, String), String>>,
    /// The terminal token of `manager_get`, registered on first use.
    manager_terminal: tokio::sync::OnceCell<String>,
    _pg: Option<PgDatabase>,
    _dir: Option<tempfile::TempDir>,
}

impl TestApp {
    pub async fn spawn(db: Db, options: TestOptions) -> TestApp {
        let (db_arg, pg, dir) = match (db, options.db_arg.clone()) {
            (_, Some(db_arg)) => (db_arg, None, None),
            (Db::Sqlite, None) => {
                let dir = tempfile::tempdir().expect("temp dir");
                let path = dir.path().join("central.db");
                (path.display().to_string(), None, Some(dir))
            }
            (Db::Postgres, None) => {
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
            lockout: options
                .lockout
                .unwrap_or(paydesk_central::sessions::LOCKOUT_DEFAULT),
            sign_in_failures: options
                .sign_in_failures
                .unwrap_or(paydesk_central::sessions::SIGN_IN_FAILURES_PER_TERMINAL_DEFAULT),
            session_idle_ms: options
                .session_idle_ms
                .unwrap_or(paydesk_protocol::SESSION_IDLE_MS),
            session_age_ms_max: options
                .session_age_ms_max
                .unwrap_or(paydesk_protocol::SESSION_AGE_MS_MAX),
            reconcile_interval_ms: options
                .reconcile_interval_ms
                .unwrap_or(paydesk_central::http::RECONCILE_INTERVAL_MS_DEFAULT),
            gateway_actions: options.gateway_actions.clone(),
            paypal_webhook: options.paypal_webhook.clone(),
            approval_ttl_ms: options
                .approval_ttl_ms
                .unwrap_or(paydesk_central::http::APPROVAL_TTL_MS_DEFAULT),
            ..Config::default()
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let book = Arc::new(GatewayBook::default());
        let gateway = options
            .gateway
            .or_else(|| Some(book.clone() as Arc<dyn IntentLookup>));
        let running =
            paydesk_central::start(store.clone(), config, gateway, listener).expect("start");
        TestApp {
            base: format!("http://{}", running.addr),
            client: reqwest::Client::new(),
            store,
            book,
            running: Some(running),
            db_arg,
            managers: Mutex::default(),
            sessions: Mutex::default(),
            manager_terminal: tokio::sync::OnceCell::new(),
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

    /// Adds operators directly in the store, each with the PIN [`OPERATOR_PIN`] (a cheap hash:
    /// see [`cheap_pin_hash`]; one test hashes a real PIN through the API).
    pub async fn operators(&self, ids: &[&str]) {
        for id in ids {
            self.store
                .upsert_operator(
                    &id.parse().unwrap(),
                    paydesk_protocol::Role::Operator,
                    &cheap_pin_hash(OPERATOR_PIN),
                    paydesk_central::clock::now(),
                )
                .await
                .unwrap();
        }
    }

    /// Adds managers directly in the store, each with the PIN [`MANAGER_PIN`].
    pub async fn managers(&self, ids: &[&str]) {
        for id in ids {
            self.store
                .upsert_operator(
                    &id.parse().unwrap(),
                    paydesk_protocol::Role::Manager,
                    &cheap_pin_hash(MANAGER_PIN),
                    paydesk_central::clock::now(),
                )
                .await
                .unwrap();
            self.managers.lock().unwrap().insert(id.to_string());
        }
    }

    /// The PIN the harness gave `operator` (a manager's if `managers` added them).
    pub fn pin_of(&self, operator: &str) -> &'static str {
        if self.managers.lock().unwrap().contains(operator) {
            MANAGER_PIN
        } else {
            OPERATOR_PIN
        }
    }

    /// Signs `operator` in at the terminal with `token` through `POST /v1/sessions`; returns
    /// (status, body).
    pub async fn sign_in(&self, token: &str, operator: &str, pin: &str) -> (u16, Value) {
        self.post(
            "/v1/sessions",
            token,
            json!({ "operator_id": operator, "pin": pin }),
        )
        .await
    }

    /// A session of `operator` at the terminal with `token`: the cached one, or a new sign-in
    /// with the harness's PIN. Err((status, body)) when the sign-in is refused.
    pub async fn try_session(&self, token: &str, operator: &str) -> Result<String, (u16, Value)> {
        let key = (token.to_string(), operator.to_string());
        if let Some(s) = self.sessions.lock().unwrap().get(&key) {
            return Ok(s.clone());
        }
        let (status, body) = self.sign_in(token, operator, self.pin_of(operator)).await;
        if status != 201 {
            return Err((status, body));
        }
        let session = body["session_token"]
            .as_str()
            .expect("session_token")
            .to_string();
        self.sessions.lock().unwrap().insert(key, session.clone());
        Ok(session)
    }

    /// [`TestApp::try_session`] that must succeed.
    pub async fn session(&self, token: &str, operator: &str) -> String {
        match self.try_session(token, operator).await {
            Ok(s) => s,
            Err((status, body)) => panic!("sign-in of {operator} refused: {status} {body}"),
        }
    }

    /// Sends a request with a terminal token and an operator session; returns (status, body).
    pub async fn send_as(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        session: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self
            .client
            .request(method, self.url(path))
            .bearer_auth(token)
            .header(paydesk_protocol::SESSION_HEADER, session);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// A GET of a manager view (`/v1/flags`, `/v1/unresolved`, `/v1/reconcile`) as a manager
    /// signed in at the terminal [`MANAGER_TERMINAL`] (both made on first use).
    pub async fn manager_get(&self, path: &str) -> (u16, Value) {
        let token = self
            .manager_terminal
            .get_or_init(|| async {
                self.managers(&[MANAGER_ID]).await;
                self.terminal(MANAGER_TERMINAL).await
            })
            .await
            .clone();
        let session = self.session(&token, MANAGER_ID).await;
        self.send_as(reqwest::Method::GET, path, &token, &session, None)
            .await
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

    /// Claims `order` for `operator` at the terminal with `token`, signed in as that operator
    /// (the session is opened on first use and reused). A refused sign-in is returned as is.
    pub async fn claim(&self, token: &str, order: &str, operator: &str) -> (u16, Value) {
        let session = match self.try_session(token, operator).await {
            Ok(s) => s,
            Err(refused) => return refused,
        };
        self.send_as(
            reqwest::Method::POST,
            &format!("/v1/orders/{order}/claim"),
            token,
            &session,
            Some(json!({ "operator_id": operator })),
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

// ---- results (engineer B)

/// The gateway as the test central reads it: each intent answers what the test recorded, an
/// unknown one "not found" (no evidence).
#[derive(Debug, Default)]
pub struct GatewayBook {
    intents: std::sync::Mutex<std::collections::HashMap<String, paydesk_central::IntentEvidence>>,
    livemode: std::sync::Mutex<Option<bool>>,
}

#[async_trait::async_trait]
impl IntentLookup for GatewayBook {
    async fn intent(
        &self,
        intent_id: &paydesk_core::GatewayIntentId,
    ) -> Result<paydesk_central::IntentEvidence, String> {
        self.intents
            .lock()
            .unwrap()
            .get(intent_id.as_str())
            .cloned()
            .ok_or_else(|| format!("no such intent: {intent_id}"))
    }

    fn livemode(&self) -> Option<bool> {
        *self.livemode.lock().unwrap()
    }

    async fn intents_between(
        &self,
        _from: paydesk_core::Timestamp,
        _to: paydesk_core::Timestamp,
    ) -> Result<Vec<paydesk_central::sweeper::GatewayIntent>, String> {
        Ok(Vec::new())
    }
}

impl GatewayBook {
    /// Records what the gateway says about `intent`.
    pub fn says(&self, intent: &str, evidence: paydesk_central::IntentEvidence) {
        self.intents
            .lock()
            .unwrap()
            .insert(intent.to_string(), evidence);
    }

    /// The mode of the central's gateway key (`None`: not known).
    pub fn set_livemode(&self, livemode: Option<bool>) {
        *self.livemode.lock().unwrap() = livemode;
    }
}

/// A success at the gateway of `minor` `currency` with `TestApp::orders`' customer and payment
/// method and `order` in the metadata.
pub fn succeeded_for(order: &str, minor: i64, currency: &str) -> paydesk_central::IntentEvidence {
    paydesk_central::IntentEvidence::Succeeded {
        amount: paydesk_core::Money::new(
            minor,
            paydesk_core::Currency::from_code(currency).unwrap(),
        )
        .unwrap(),
        customer: Some("cus_test".into()),
        payment_method: Some("pm_card_visa".into()),
        order_id: Some(order.into()),
    }
}

impl TestApp {
    /// Records at the test gateway that `intent` succeeded for `order` exactly as imported by
    /// `TestApp::orders` (its amount, customer, payment method and id): the evidence that lets
    /// the central mark the order paid.
    pub async fn gateway_paid(&self, intent: &str, order: &str) {
        let o = self.order(order).await;
        let minor = o["order"]["amount"]["minor"].as_i64().unwrap();
        let currency = o["order"]["amount"]["currency"]
            .as_str()
            .unwrap()
            .to_string();
        self.book
            .says(intent, succeeded_for(order, minor, &currency));
    }

    /// Grants `terminal` offline charging directly in the store (as `POST /v1/offline-allowances`
    /// records it), from `granted_at` to `until_at` (ms), with caps in minor units of `currency`.
    pub async fn offline_grant(
        &self,
        terminal: &str,
        currency: &str,
        per_charge_minor: i64,
        per_shift_minor: i64,
        granted_at: i64,
        until_at: i64,
    ) {
        sqlx::query(
            "INSERT INTO offline_grants (grant_id, terminal_id, approved_by, currency, \
             per_charge_minor, per_shift_minor, cache_age_ms_max, granted_at, until_at, \
             session_id, signature) VALUES ($1, $2, 'demo-manager', $3, $4, $5, 3600000, $6, \
             $7, 'ses_test', 'sig_test')",
        )
        .bind(uuid::Uuid::new_v4().to_string())
        .bind(terminal)
        .bind(currency)
        .bind(per_charge_minor)
        .bind(per_shift_minor)
        .bind(granted_at)
        .bind(until_at)
        .execute(self.store.pool())
        .await
        .unwrap();
    }
}

/// The claim token offline attempts carry (the engine's `OFFLINE_CLAIM_TOKEN`).
pub const OFFLINE_CLAIM_TOKEN: u64 = i64::MAX as u64;

/// `item` as an offline attempt reports it: offline, under the offline claim token, now.
pub fn offline_now(mut item: Value) -> Value {
    item["offline"] = json!(true);
    item["claim_token"] = json!(OFFLINE_CLAIM_TOKEN);
    item["occurred_at"] = json!(paydesk_central::clock::now().unix_ms());
    item
}

impl TestApp {
    /// A manager's offline grant to terminal `terminal` (its id) for this hour: EUR, 1,000.00
    /// per charge and per shift.
    pub async fn grant_now(&self, terminal: &str) {
        let now = paydesk_central::clock::now().unix_ms();
        self.offline_grant(
            terminal,
            "EUR",
            100_000,
            100_000,
            now - 3_600_000,
            now + 3_600_000,
        )
        .await;
    }

    /// Runs one sweeper pass against the test gateway now.
    pub async fn sweep(&self) -> paydesk_central::sweeper::SweepReport {
        paydesk_central::sweeper::sweep_once(
            &self.store,
            Some(self.book.as_ref()),
            paydesk_central::clock::now(),
        )
        .await
        .unwrap()
    }
}

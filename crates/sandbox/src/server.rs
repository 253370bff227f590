//! The HTTP face of the sandbox: Stripe's `/v1` routes, the `/admin` routes, and the accept loop.
//!
//! Every `/v1` request goes through one pipeline: route → authenticate → parse → take faults →
//! idempotency → execute (in a task of its own, so a client that hangs up cannot stop an
//! operation half way) → store under the key → respond, or drop the connection when a fault says
//! so. The accept loop is hand-written over hyper because "execute, then close the connection
//! without answering" needs control over the connection that `axum::serve` does not give.

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, Request, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch, Notify};
use tokio::task::JoinSet;
use tower::ServiceExt;

use crate::admin_access::{AdminAccess, PeerAddr};
use crate::error::ApiError;
use crate::faults::{Endpoint, FaultKind, FaultPlan, FaultRule};
use crate::idempotency::{Begin, IdempotencyStore, StoredResponse, IDEMPOTENCY_KEY_LEN_MAX};
use crate::keys::{redact, unrouted_permission, KeyKind, Keys};
use crate::persist::StateFile;
use crate::store::{new_id, RequestContext, Store, API_VERSION};
use crate::webhook::{DeliveryRecord, WebhookSettings};
use crate::{form, params};

/// How long open connections get to finish their current request at shutdown.
pub const SHUTDOWN_GRACE_MS: u64 = 2_000;
/// The largest request body read; Stripe's requests are small, and a bound stops a runaway client.
pub const REQUEST_BODY_BYTES_MAX: usize = 256 * 1024;
/// The largest clock jump one admin call may make (ten years): enough for any expiry test.
pub const CLOCK_ADVANCE_MS_MAX: i64 = 10 * 365 * 24 * 60 * 60 * 1000;

/// Everything that changes while the sandbox runs, behind one lock so that each operation (and
/// its idempotency record) is atomic. The lock is never held across an `.await`.
#[derive(Debug, Default)]
pub struct World {
    pub store: Store,
    pub idempotency: IdempotencyStore,
    pub faults: FaultPlan,
    /// Added to the wall clock to give the sandbox's clock; only ever grows (admin jumps).
    pub clock_offset_ms: i64,
    /// How long a new intent stays invisible to search.
    pub search_lag_ms: i64,
    pub paypal: crate::paypal::state::PaypalState,
    /// `/v1` requests per key and endpoint (`calls.rs`).
    pub calls: crate::calls::CallCounts,
    /// Test cards given a new expiry by a test (`payment_methods.rs`).
    pub card_updates: crate::payment_methods::CardUpdates,
}

/// State shared by every request handler and the webhook dispatcher, for the server's lifetime.
#[derive(Debug)]
pub struct Shared {
    pub world: Mutex<World>,
    /// The secret and restricted keys accepted.
    pub keys: Keys,
    /// Who may use the `/admin` routes.
    pub admin: AdminAccess,
    /// Read by the dispatcher for every event, so admin changes apply to the next delivery.
    pub webhook: Arc<Mutex<WebhookSettings>>,
    /// Events for the dispatcher; sending fails only after shutdown, which is harmless.
    pub webhook_tx: mpsc::UnboundedSender<Value>,
    /// Every delivery attempt, for the ledger.
    pub deliveries: Arc<Mutex<Vec<DeliveryRecord>>>,
    /// Signed PayPal webhooks (`paypal_webhook.rs`).
    pub paypal_webhooks: Arc<crate::paypal_webhook::PaypalWebhooks>,
    /// Where the state is saved, if anywhere (see `persist.rs`).
    pub state: Option<Arc<StateFile>>,
    /// How many changes the state has seen (counted under the world lock): what `save` writes.
    pub changes: AtomicU64,
}

impl Shared {
    pub fn lock(&self) -> MutexGuard<'_, World> {
        // A panic while holding the lock is a sandbox bug; keep serving what state there is.
        self.world.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The kind of the request's key, or Stripe's 401.
    fn authorize(&self, headers: &HeaderMap) -> Result<(KeyKind, String), ApiError> {
        let Some(value) = headers.get(header::AUTHORIZATION) else {
            return Err(ApiError::unauthorized(
                "You did not provide an API key. You need to provide your API key in the \
                 Authorization header, using Bearer auth (e.g. 'Authorization: Bearer \
                 YOUR_SECRET_KEY').",
            ));
        };
        let key = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .unwrap_or_default();
        match self.keys.classify(key) {
            Some(kind) => Ok((kind, redact(key))),
            None => Err(ApiError::unauthorized(format!(
                "Invalid API Key provided: {}",
                redact(key)
            ))),
        }
    }
}

pub fn wall_unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl World {
    pub fn now_ms(&self) -> i64 {
        wall_unix_ms().saturating_add(self.clock_offset_ms)
    }
}

/// Closes the request's connection without a response. One per connection.
#[derive(Debug, Clone)]
pub struct ConnKill(Arc<Notify>);

impl ConnKill {
    /// Asks the connection task to drop the connection, then waits for that to cancel us.
    pub(crate) async fn drop_connection(&self) -> Response {
        self.0.notify_one();
        std::future::pending::<()>().await;
        unreachable!("the connection task drops this future")
    }
}

/// The `/v1` operations.
#[derive(Debug, Clone)]
enum Op {
    CreateIntent,
    ConfirmIntent(String),
    CancelIntent(String),
    RetrieveIntent(String),
    SearchIntents,
    CreateRefund,
    RetrieveRefund(String),
    RetrieveCharge(String),
    RetrievePaymentMethod(String),
    ListEvents,
    RetrieveEvent(String),
}

fn route(method: &Method, path: &str) -> Option<(Op, Endpoint)> {
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
    let id = |s: &str| s.to_string();
    Some(match (method.as_str(), segments.as_slice()) {
        ("POST", ["v1", "payment_intents"]) => (Op::CreateIntent, Endpoint::Create),
        ("GET", ["v1", "payment_intents", "search"]) => (Op::SearchIntents, Endpoint::Search),
        ("GET", ["v1", "payment_intents", pi]) => (Op::RetrieveIntent(id(pi)), Endpoint::Retrieve),
        ("POST", ["v1", "payment_intents", pi, "confirm"]) => {
            (Op::ConfirmIntent(id(pi)), Endpoint::Confirm)
        }
        ("POST", ["v1", "payment_intents", pi, "cancel"]) => {
            (Op::CancelIntent(id(pi)), Endpoint::Cancel)
        }
        ("POST", ["v1", "refunds"]) => (Op::CreateRefund, Endpoint::Refund),
        ("GET", ["v1", "refunds", re]) => (Op::RetrieveRefund(id(re)), Endpoint::Retrieve),
        ("GET", ["v1", "charges", ch]) => (Op::RetrieveCharge(id(ch)), Endpoint::Retrieve),
        ("GET", ["v1", "payment_methods", pm]) => {
            (Op::RetrievePaymentMethod(id(pm)), Endpoint::Retrieve)
        }
        ("GET", ["v1", "events"]) => (Op::ListEvents, Endpoint::Events),
        ("GET", ["v1", "events", evt]) => (Op::RetrieveEvent(id(evt)), Endpoint::Events),
        _ => return None,
    })
}

/// The permission a restricted key lacks for `op`, or `None` when PaymentIntents: Write covers
/// it (see `keys.rs`).
fn restricted_permission(op: &Op) -> Option<&'static str> {
    match op {
        Op::CreateIntent
        | Op::ConfirmIntent(_)
        | Op::CancelIntent(_)
        | Op::RetrieveIntent(_)
        | Op::SearchIntents => None,
        Op::CreateRefund => Some("rak_refund_write"),
        Op::RetrieveRefund(_) => Some("rak_refund_read"),
        Op::RetrieveCharge(_) => Some("rak_charge_read"),
        Op::RetrievePaymentMethod(_) => Some("rak_payment_method_read"),
        Op::ListEvents | Op::RetrieveEvent(_) => Some("rak_event_read"),
    }
}

/// The result of running an operation.
enum Exec {
    /// It ran (successfully or not): the answer is stored under the idempotency key.
    Ran(StatusCode, Value),
    /// Refused before running (bad parameters): nothing is stored, a retry runs afresh.
    Invalid(ApiError),
}

fn execute(world: &mut World, op: &Op, p: &Map<String, Value>, ctx: &RequestContext) -> Exec {
    let now = world.now_ms();
    let lag = world.search_lag_ms;
    let store = &mut world.store;
    macro_rules! parse {
        ($t:ty) => {
            match <$t>::parse(p) {
                Ok(parsed) => parsed,
                Err(e) => return Exec::Invalid(e),
            }
        };
    }
    let result = match op {
        Op::CreateIntent => store.create_intent(parse!(params::CreateIntent), now, ctx),
        Op::ConfirmIntent(id) => store.confirm_intent(id, parse!(params::ConfirmIntent), now, ctx),
        Op::CancelIntent(id) => store.cancel_intent(id, parse!(params::CancelIntent), now, ctx),
        Op::RetrieveIntent(id) => store.retrieve_intent(id),
        Op::SearchIntents => store.search_intents(parse!(params::Search), now, lag),
        Op::CreateRefund => store.create_refund(parse!(params::CreateRefund), now, ctx),
        Op::RetrieveRefund(id) => store.retrieve_refund(id),
        Op::RetrieveCharge(id) => store.retrieve_charge(id),
        Op::RetrievePaymentMethod(id) => {
            crate::payment_methods::stripe_payment_method(id, &world.card_updates)
        }
        Op::ListEvents => store.list_events(parse!(params::ListEvents)),
        Op::RetrieveEvent(id) => store.retrieve_event(id),
    };
    match result {
        Ok(v) => Exec::Ran(StatusCode::OK, v),
        Err(e) => Exec::Ran(e.status, e.body()),
    }
}

fn api_response(
    status: StatusCode,
    body: &Value,
    request_id: &str,
    idempotency_key: Option<&str>,
    replayed: bool,
) -> Response {
    let mut response = (status, Json(body.clone())).into_response();
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert("request-id", v);
    }
    h.insert("stripe-version", HeaderValue::from_static(API_VERSION));
    if let Some(k) = idempotency_key.and_then(|k| HeaderValue::from_str(k).ok()) {
        h.insert("idempotency-key", k);
    }
    if replayed {
        h.insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    // Stripe's hint to clients: retry 409 and 429, and a 500 that was not stored.
    if status == StatusCode::CONFLICT || status == StatusCode::TOO_MANY_REQUESTS {
        h.insert("stripe-should-retry", HeaderValue::from_static("true"));
    }
    response
}

fn error_response(e: &ApiError, request_id: &str) -> Response {
    api_response(e.status, &e.body(), request_id, None, false)
}

/// The fallback handler: every request that is not an admin route.
async fn api(
    State(shared): State<Arc<Shared>>,
    Extension(kill): Extension<ConnKill>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request_id = new_id("req");
    let path = uri.path().to_string();
    let routed = route(&method, &path);
    let (kind, redacted) = match shared.authorize(&headers) {
        Ok(authorized) => authorized,
        // An unknown URL is a 404 whoever asks (as at Stripe); a known one needs a key first.
        Err(e) if routed.is_some() => return error_response(&e, &request_id),
        Err(_) => {
            return error_response(
                &ApiError::unrecognized_url(method.as_str(), &path),
                &request_id,
            )
        }
    };
    if let Some((_, endpoint)) = &routed {
        shared.lock().calls.record(&redacted, *endpoint);
    }
    // A restricted key may only do what a charge needs (PaymentIntents); anything else is
    // Stripe's 403, before any parameter is looked at or any fault is taken.
    if kind == KeyKind::Restricted {
        let needed = match &routed {
            Some((op, _)) => restricted_permission(op),
            None => unrouted_permission(method.as_str(), &path),
        };
        if let Some(permission) = needed {
            return error_response(&ApiError::permission(&redacted, permission), &request_id);
        }
    }
    let Some((op, endpoint)) = routed else {
        return error_response(
            &ApiError::unrecognized_url(method.as_str(), &path),
            &request_id,
        );
    };
    let is_post = method == Method::POST;
    let raw: &[u8] = if is_post {
        &body
    } else {
        uri.query().unwrap_or("").as_bytes()
    };
    let params = match form::parse(raw) {
        Ok(p) => p,
        Err(e) => {
            return error_response(
                &ApiError::invalid("parameter_invalid_string", "body", e.to_string()),
                &request_id,
            )
        }
    };
    // Stripe honours idempotency keys on POST only; on GET they are meaningless.
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .filter(|k| is_post && !k.is_empty())
        .map(str::to_string);
    if let Some(k) = &key {
        if k.len() > IDEMPOTENCY_KEY_LEN_MAX {
            return error_response(
                &ApiError::invalid(
                    "parameter_invalid_string",
                    "Idempotency-Key",
                    format!(
                        "Idempotency keys can be at most {IDEMPOTENCY_KEY_LEN_MAX} characters."
                    ),
                ),
                &request_id,
            );
        }
    }
    let ctx = RequestContext {
        request_id: Some(request_id.clone()),
        idempotency_key: key.clone(),
    };

    let applied = shared.lock().faults.take_for(endpoint, Some(kind));
    let latency = Duration::from_millis(applied.latency_ms);
    match applied.action {
        // A rate limiter and a lost connection act before the request reaches the API.
        Some(FaultKind::Http429) => {
            tokio::time::sleep(latency).await;
            return error_response(&ApiError::rate_limited(), &request_id);
        }
        Some(FaultKind::DropBeforeExecute) => {
            tokio::time::sleep(latency).await;
            return kill.drop_connection().await;
        }
        _ => {}
    }

    if let Some(k) = &key {
        let fingerprint = format!("{method} {path} {}", Value::Object(params.clone()));
        let begin = {
            let mut w = shared.lock();
            let now = w.now_ms();
            w.idempotency
                .begin(k, &format!("{method} {path}"), &fingerprint, now)
        };
        let answer = match begin {
            Begin::Fresh => None,
            Begin::Replay(stored) => Some((
                StatusCode::from_u16(stored.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                stored.body,
                true,
            )),
            Begin::Mismatch => {
                let e = ApiError::idempotency_mismatch(k);
                Some((e.status, e.body(), false))
            }
            Begin::InUse => {
                let e = ApiError::idempotency_in_use(k);
                Some((e.status, e.body(), false))
            }
        };
        if let Some((status, body, replayed)) = answer {
            // A replayed answer whose change could not be saved yet is saved before it is sent.
            if replayed && shared.save().await.is_err() {
                return error_response(&ApiError::internal(), &request_id);
            }
            // Nothing executes here, so only the connection-level faults apply.
            tokio::time::sleep(latency).await;
            if applied.action == Some(FaultKind::DropAfterExecute) {
                return kill.drop_connection().await;
            }
            return api_response(status, &body, &request_id, Some(k), replayed);
        }
    }

    // An issuer fault: this confirm runs as if it named the fault's test card, whatever card the
    // intent holds (the key's fingerprint, taken above, is the request's own).
    let mut params = params;
    if let (Op::ConfirmIntent(_), Some(card)) = (&op, applied.action.and_then(|a| a.issuer_card()))
    {
        params.insert("payment_method".into(), Value::String(card.into()));
    }
    let late_ms = match applied.action {
        Some(FaultKind::ExecuteLateMs(ms)) => ms,
        _ => 0,
    };
    let job_shared = shared.clone();
    let job_key = key.clone();
    let action = applied.action;
    // The operation runs in its own task: once accepted, it completes and its answer is stored
    // under the key (and saved) even if the client has gone, as on a real server.
    let job = tokio::spawn(async move {
        tokio::time::sleep(latency + Duration::from_millis(late_ms)).await;
        let (status, body, events) = {
            let mut w = job_shared.lock();
            let exec = if action == Some(FaultKind::Http500) {
                Exec::Ran(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    ApiError::internal().body(),
                )
            } else {
                execute(&mut w, &op, &params, &ctx)
            };
            let (status, body) = match exec {
                Exec::Ran(_, _) if action == Some(FaultKind::Http500AfterExecute) => (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    ApiError::internal().body(),
                ),
                Exec::Ran(status, body) => {
                    if let Some(k) = &job_key {
                        w.idempotency.finish(
                            k,
                            StoredResponse {
                                status: status.as_u16(),
                                body: body.clone(),
                            },
                        );
                    }
                    (status, body)
                }
                Exec::Invalid(e) => {
                    if let Some(k) = &job_key {
                        w.idempotency.release(k);
                    }
                    (e.status, e.body())
                }
            };
            if action == Some(FaultKind::Http500AfterExecute) {
                if let Some(k) = &job_key {
                    w.idempotency.finish(
                        k,
                        StoredResponse {
                            status: status.as_u16(),
                            body: body.clone(),
                        },
                    );
                }
            }
            if is_post {
                job_shared.changed();
            }
            (status, body, w.store.drain_undelivered())
        };
        // Saved before anyone hears of it: the answer below, a replay, a webhook.
        let (status, body) = match job_shared.save().await {
            Ok(()) => (status, body),
            Err(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                ApiError::internal().body(),
            ),
        };
        for event in events {
            // Fails only once the dispatcher has stopped at shutdown; the event stays listed.
            let _ = job_shared.webhook_tx.send(event);
        }
        (status, body)
    });

    if late_ms > 0 {
        return kill.drop_connection().await;
    }
    let (status, body) = match job.await {
        Ok(answer) => answer,
        Err(e) => {
            tracing::error!(error = %e, "operation task failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                ApiError::internal().body(),
            )
        }
    };
    if action == Some(FaultKind::DropAfterExecute) {
        return kill.drop_connection().await;
    }
    api_response(status, &body, &request_id, key.as_deref(), false)
}

/// An admin error: plain JSON, not Stripe's shape, since only tests and scripts call these.
fn admin_error(message: impl Into<String>) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({ "error": message.into() })),
    )
        .into_response()
}

async fn ledger(State(shared): State<Arc<Shared>>) -> Response {
    let w = shared.lock();
    let keys: Vec<Value> = w
        .idempotency
        .usage()
        .iter()
        .map(|(key, usage)| {
            let mut v = serde_json::to_value(usage).unwrap_or_default();
            v["key"] = json!(key);
            v["stored"] = json!(w.idempotency.is_stored(key));
            v
        })
        .collect();
    let deliveries = shared
        .deliveries
        .lock()
        .map(|d| d.clone())
        .unwrap_or_default();
    Json(json!({
        "now_ms": w.now_ms(),
        "clock_offset_ms": w.clock_offset_ms,
        "search_lag_ms": w.search_lag_ms,
        "intents": w.store.ledger_intents(),
        "idempotency_keys": keys,
        "faults": w.faults.rules().iter().map(ToString::to_string).collect::<Vec<_>>(),
        "webhook_deliveries": deliveries,
        "paypal": crate::paypal::ledger_of(&w),
    }))
    .into_response()
}

async fn reset(State(shared): State<Arc<Shared>>) -> Response {
    {
        let mut w = shared.lock();
        let webhooks_enabled = w.store.webhooks_enabled;
        let public_url = std::mem::take(&mut w.store.public_url);
        let lag = w.search_lag_ms;
        *w = World {
            search_lag_ms: lag,
            ..World::default()
        };
        w.store.webhooks_enabled = webhooks_enabled;
        w.store.public_url = public_url;
        shared.changed();
    }
    if let Err(e) = shared.save().await {
        return admin_error(e);
    }
    if let Ok(mut d) = shared.deliveries.lock() {
        d.clear();
    }
    Json(json!({ "reset": true })).into_response()
}

/// `POST /admin/faults` accepts `{"spec": "confirm:drop_after_execute:1"}`,
/// `{"specs": [...]}` or `{"endpoint": "confirm", "kind": "latency", "ms": 500, "count": 2}`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum FaultRequest {
    Spec {
        spec: String,
    },
    Specs {
        specs: Vec<String>,
    },
    Structured {
        endpoint: String,
        kind: String,
        ms: Option<u64>,
        count: Option<u32>,
    },
}

fn fault_list(w: &World) -> Value {
    json!({ "faults": w.faults.rules().iter().map(ToString::to_string).collect::<Vec<_>>() })
}

async fn add_faults(State(shared): State<Arc<Shared>>, Json(req): Json<FaultRequest>) -> Response {
    let specs = match req {
        FaultRequest::Spec { spec } => vec![spec],
        FaultRequest::Specs { specs } => specs,
        FaultRequest::Structured {
            endpoint,
            kind,
            ms,
            count,
        } => {
            let kind = match ms {
                Some(ms) => format!("{kind}={ms}"),
                None => kind,
            };
            vec![format!("{endpoint}:{kind}:{}", count.unwrap_or(1))]
        }
    };
    let mut rules = Vec::new();
    for spec in specs {
        match spec.parse::<FaultRule>() {
            Ok(rule) => rules.push(rule),
            Err(e) => return admin_error(e),
        }
    }
    let mut w = shared.lock();
    for rule in rules {
        w.faults.add(rule);
    }
    Json(fault_list(&w)).into_response()
}

async fn list_faults(State(shared): State<Arc<Shared>>) -> Response {
    Json(fault_list(&shared.lock())).into_response()
}

async fn clear_faults(State(shared): State<Arc<Shared>>) -> Response {
    let mut w = shared.lock();
    w.faults.clear();
    Json(fault_list(&w)).into_response()
}

#[derive(Debug, Deserialize)]
struct ClockRequest {
    advance_ms: i64,
}

fn clock_state(w: &World) -> Value {
    json!({ "now_ms": w.now_ms(), "offset_ms": w.clock_offset_ms })
}

async fn get_clock(State(shared): State<Arc<Shared>>) -> Response {
    Json(clock_state(&shared.lock())).into_response()
}

async fn advance_clock(
    State(shared): State<Arc<Shared>>,
    Json(req): Json<ClockRequest>,
) -> Response {
    // The clock only moves forward: idempotency expiry and search lag assume time never rewinds.
    if !(0..=CLOCK_ADVANCE_MS_MAX).contains(&req.advance_ms) {
        return admin_error(format!(
            "advance_ms must be between 0 and {CLOCK_ADVANCE_MS_MAX}"
        ));
    }
    let answer = {
        let mut w = shared.lock();
        w.clock_offset_ms = w.clock_offset_ms.saturating_add(req.advance_ms);
        shared.changed();
        clock_state(&w)
    };
    if let Err(e) = shared.save().await {
        return admin_error(e);
    }
    Json(answer).into_response()
}

#[derive(Debug, Deserialize)]
struct SearchLagRequest {
    lag_ms: u64,
}

async fn get_search_lag(State(shared): State<Arc<Shared>>) -> Response {
    Json(json!({ "lag_ms": shared.lock().search_lag_ms })).into_response()
}

async fn set_search_lag(
    State(shared): State<Arc<Shared>>,
    Json(req): Json<SearchLagRequest>,
) -> Response {
    let lag = i64::try_from(req.lag_ms).unwrap_or(i64::MAX);
    shared.lock().search_lag_ms = lag;
    Json(json!({ "lag_ms": lag })).into_response()
}

/// `POST /admin/webhooks`: every field optional; absent fields keep their value.
#[derive(Debug, Deserialize)]
struct WebhookRequest {
    #[serde(default, with = "double_option")]
    url: Option<Option<String>>,
    secret: Option<String>,
    duplicate: Option<bool>,
    reorder: Option<bool>,
}

/// Distinguishes `"url": null` (turn delivery off) from a missing `url` (leave it).
mod double_option {
    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Option<String>>, D::Error> {
        Ok(Some(Option::deserialize(d)?))
    }
}

fn webhook_view(s: &WebhookSettings) -> Value {
    // The secret is not echoed back: the caller set it and knows it.
    json!({ "url": s.url, "duplicate": s.duplicate, "reorder": s.reorder })
}

async fn get_webhooks(State(shared): State<Arc<Shared>>) -> Response {
    let s = shared.webhook.lock().map(|s| s.clone()).unwrap_or_default();
    Json(webhook_view(&s)).into_response()
}

async fn set_webhooks(
    State(shared): State<Arc<Shared>>,
    Json(req): Json<WebhookRequest>,
) -> Response {
    let updated = {
        let Ok(mut s) = shared.webhook.lock() else {
            return admin_error("webhook settings are unavailable");
        };
        if let Some(url) = req.url {
            s.url = url;
        }
        if let Some(secret) = req.secret {
            s.secret = secret;
        }
        if let Some(d) = req.duplicate {
            s.duplicate = d;
        }
        if let Some(r) = req.reorder {
            s.reorder = r;
        }
        s.clone()
    };
    shared.lock().store.webhooks_enabled = updated.url.is_some();
    Json(webhook_view(&updated)).into_response()
}

async fn authenticate_intent(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
) -> Response {
    let (result, events) = {
        let mut w = shared.lock();
        let now = w.now_ms();
        let result = w.store.complete_authentication(&id, now);
        shared.changed();
        (result, w.store.drain_undelivered())
    };
    if let Err(e) = shared.save().await {
        return admin_error(e);
    }
    for event in events {
        let _ = shared.webhook_tx.send(event);
    }
    match result {
        Ok(v) => Json(v).into_response(),
        Err(e) => (e.status, Json(e.body())).into_response(),
    }
}

/// The router: admin routes by name, everything else through the Stripe pipeline.
pub fn router(shared: Arc<Shared>) -> Router {
    let admin = Router::new()
        .route("/admin/ledger", get(ledger))
        .route("/admin/reset", post(reset))
        .route(
            "/admin/faults",
            get(list_faults).post(add_faults).delete(clear_faults),
        )
        .route("/admin/clock", get(get_clock).post(advance_clock))
        .route(
            "/admin/search_lag",
            get(get_search_lag).post(set_search_lag),
        )
        .route("/admin/webhooks", get(get_webhooks).post(set_webhooks))
        .route(
            "/admin/calls",
            get(crate::calls::get_calls).delete(crate::calls::clear_calls),
        )
        .route(
            "/admin/payment_intents/{id}/authenticate",
            post(authenticate_intent),
        )
        .route(
            "/admin/payment_methods/{id}",
            post(crate::payment_methods::update_expiry),
        )
        .route_layer(axum::middleware::from_fn_with_state(
            shared.clone(),
            crate::admin_access::gate,
        ));
    admin
        .merge(crate::paypal::router(shared.clone()))
        .merge(crate::paypal_webhook::router(shared.clone()))
        .merge(crate::authenticate::router(shared.clone()))
        .fallback(api)
        .layer(axum::extract::DefaultBodyLimit::max(REQUEST_BODY_BYTES_MAX))
        .with_state(shared)
}

/// Accepts connections until `shutdown` fires, then lets open connections finish for
/// `SHUTDOWN_GRACE_MS` and closes the rest.
pub async fn serve(listener: TcpListener, router: Router, mut shutdown: watch::Receiver<bool>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        // Usually EMFILE: back off briefly instead of spinning.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                connections.spawn(serve_connection(stream, peer, router.clone(), shutdown.clone()));
            }
        }
    }
    drop(listener);
    let drained = tokio::time::timeout(Duration::from_millis(SHUTDOWN_GRACE_MS), async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        connections.abort_all();
        while connections.join_next().await.is_some() {}
    }
}

async fn serve_connection(
    stream: tokio::net::TcpStream,
    peer: std::net::SocketAddr,
    router: Router,
    mut shutdown: watch::Receiver<bool>,
) {
    {
        let kill = ConnKill(Arc::new(Notify::new()));
        let request_kill = kill.clone();
        let service = router.map_request(move |mut req: Request<hyper::body::Incoming>| {
            req.extensions_mut().insert(request_kill.clone());
            req.extensions_mut().insert(PeerAddr(peer));
            req.map(Body::new)
        });
        let conn = hyper::server::conn::http1::Builder::new()
            .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
        tokio::pin!(conn);
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
            }
            // Dropping `conn` closes the socket with no response written: the injected fault.
            _ = kill.0.notified() => {}
            _ = shutdown.changed() => {
                conn.as_mut().graceful_shutdown();
                let _ = conn.as_mut().await;
            }
        }
    }
}

//! The sandbox speaks PayPal too: OAuth2 client credentials, Orders v2 (create, get, capture with
//! a vaulted source), refunds, `PayPal-Request-Id`, the `invoice_id` guard and
//! `PayPal-Mock-Response`, on PayPal's own paths beside Stripe's `/v1` routes.
//!
//! Every PayPal request goes through the same steps as a Stripe one: authenticate (bearer token
//! from `/v1/oauth2/token`) → mock response → take faults (the shared fault plan: order create is
//! `create`, capture is `confirm`, refund is `refund`, reads are `retrieve`) → request id →
//! execute in a task of its own → store the answer under the request id → respond, or drop the
//! connection when a fault says so. The ledger is `GET /admin/paypal/ledger` (also under `paypal`
//! in `/admin/ledger`). Signed webhooks are sent by `crate::paypal_webhook` from each executed
//! answer. Deliberately absent: `intent: AUTHORIZE`, payer approval in a browser, Transaction
//! Search, and persistence (PayPal state is in memory only; an admin reset
//! clears it with the rest).

pub mod errors;
pub mod state;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use base64::Engine;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::faults::{Endpoint, FaultKind};
use crate::server::{ConnKill, Shared};
use crate::store::new_id;
use errors::PaypalError;
use state::{Begin, REQUEST_ID_LEN_MAX};

/// The PayPal operations.
#[derive(Debug, Clone)]
enum Op {
    CreateOrder,
    GetOrder(String),
    Capture(String),
    Refund(String),
    GetRefund(String),
    GetCapture(String),
    GetPaymentToken(String),
}

impl Op {
    fn endpoint(&self) -> Endpoint {
        match self {
            Op::CreateOrder => Endpoint::Create,
            Op::Capture(_) => Endpoint::Confirm,
            Op::Refund(_) => Endpoint::Refund,
            Op::GetOrder(_) | Op::GetRefund(_) | Op::GetCapture(_) | Op::GetPaymentToken(_) => {
                Endpoint::Retrieve
            }
        }
    }

    fn is_post(&self) -> bool {
        matches!(self, Op::CreateOrder | Op::Capture(_) | Op::Refund(_))
    }
}

fn respond(status: u16, body: &Value, request_id: Option<&str>) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (status, Json(body.clone())).into_response();
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&new_id("dbg")) {
        h.insert("paypal-debug-id", v);
    }
    if let Some(v) = request_id.and_then(|r| HeaderValue::from_str(r).ok()) {
        h.insert("paypal-request-id", v);
    }
    response
}

fn error(e: &PaypalError) -> Response {
    respond(e.status.as_u16(), &e.body(), None)
}

fn execute(
    w: &mut crate::server::World,
    op: &Op,
    body: &Value,
) -> Result<(u16, Value), PaypalError> {
    let now = w.now_ms();
    let pp = &mut w.paypal;
    match op {
        Op::CreateOrder => pp.create_order(body, now),
        Op::GetOrder(id) => pp.get_order(id).map(|v| (200, v)),
        Op::Capture(id) => pp.capture(id, body, now),
        Op::Refund(id) => pp.refund(id, body, now).map(|v| (201, v)),
        Op::GetRefund(id) => pp.get_refund(id).map(|v| (200, v)),
        Op::GetCapture(id) => pp.get_capture(id).map(|v| (200, v)),
        Op::GetPaymentToken(id) => {
            crate::payment_methods::paypal_payment_token(id, &w.card_updates).map(|v| (200, v))
        }
    }
}

/// The pipeline every PayPal API request goes through.
async fn pipeline(
    shared: Arc<Shared>,
    kill: ConnKill,
    op: Op,
    headers: HeaderMap,
    raw: Bytes,
) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default()
        .trim()
        .to_string();
    {
        let mut w = shared.lock();
        let now = w.now_ms();
        if let Err(e) = w.paypal.check_token(&token, now) {
            return error(&e);
        }
    }
    let body: Value = if op.is_post() && !raw.is_empty() {
        match serde_json::from_slice(&raw) {
            Ok(v @ Value::Object(_)) => v,
            _ => {
                return error(&PaypalError::invalid(
                    "/",
                    "MALFORMED_REQUEST_JSON",
                    "The request JSON is not well formed.",
                ))
            }
        }
    } else {
        json!({})
    };
    if let Some(mock) = headers.get("paypal-mock-response") {
        let code = mock
            .to_str()
            .ok()
            .and_then(|m| serde_json::from_str::<Value>(m).ok())
            .and_then(|m| m["mock_application_codes"].as_str().map(str::to_string))
            .unwrap_or_default();
        return error(&PaypalError::mock(&code).unwrap_or_else(|| {
            PaypalError::invalid(
                "PayPal-Mock-Response",
                "INVALID_PARAMETER_VALUE",
                format!("The sandbox does not simulate mock_application_codes {code:?}."),
            )
        }));
    }
    let request_id = headers
        .get("paypal-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|r| op.is_post() && !r.is_empty())
        .map(str::to_string);
    if let Some(r) = &request_id {
        if r.len() > REQUEST_ID_LEN_MAX {
            return error(&PaypalError::invalid(
                "PayPal-Request-Id",
                "INVALID_STRING_LENGTH",
                format!("PayPal-Request-Id can be at most {REQUEST_ID_LEN_MAX} characters."),
            ));
        }
    } else if matches!(op, Op::CreateOrder) && body.get("payment_source").is_some() {
        return error(&PaypalError::invalid(
            "PayPal-Request-Id",
            "PAYPAL_REQUEST_ID_REQUIRED",
            "A PayPal-Request-Id is required for a single-step create order with a payment source.",
        ));
    }

    let applied = shared.lock().faults.take(op.endpoint());
    let latency = Duration::from_millis(applied.latency_ms);
    match applied.action {
        Some(FaultKind::Http429) => {
            tokio::time::sleep(latency).await;
            return error(&PaypalError::rate_limited());
        }
        Some(FaultKind::DropBeforeExecute) => {
            tokio::time::sleep(latency).await;
            return kill.drop_connection().await;
        }
        _ => {}
    }

    if let Some(r) = &request_id {
        let fingerprint = format!("{op:?} {body}");
        let begin = {
            let mut w = shared.lock();
            let now = w.now_ms();
            w.paypal.begin(r, &fingerprint, now)
        };
        let answer = match begin {
            Begin::Fresh => None,
            Begin::Replay(status, body) => Some((status, body)),
            Begin::Mismatch => {
                let e = PaypalError::unprocessable(
                    "PAYPAL_REQUEST_ID_PREVIOUSLY_USED",
                    "The PayPal-Request-Id has already been used for another request.",
                );
                Some((e.status.as_u16(), e.body()))
            }
            Begin::InUse => {
                let e = PaypalError::unprocessable(
                    "DUPLICATE_REQUEST_ID",
                    "The value of PayPal-Request-Id header has already been used; the first \
                     request is still being processed.",
                );
                Some((e.status.as_u16(), e.body()))
            }
        };
        if let Some((status, body)) = answer {
            tokio::time::sleep(latency).await;
            if applied.action == Some(FaultKind::DropAfterExecute) {
                return kill.drop_connection().await;
            }
            return respond(status, &body, Some(r));
        }
    }

    let late_ms = match applied.action {
        Some(FaultKind::ExecuteLateMs(ms)) => ms,
        _ => 0,
    };
    let action = applied.action;
    let job_shared = shared.clone();
    let job_id = request_id.clone();
    // Once accepted the operation completes and its answer is stored, even if the client left.
    let job = tokio::spawn(async move {
        tokio::time::sleep(latency + Duration::from_millis(late_ms)).await;
        let mut w = job_shared.lock();
        let (status, body) = if action == Some(FaultKind::Http500) {
            (500, PaypalError::internal().body())
        } else {
            match execute(&mut w, &op, &body) {
                Ok(answer) => answer,
                // Refused as malformed: nothing ran, nothing is stored, a retry runs afresh.
                Err(e) if e.status == StatusCode::BAD_REQUEST => {
                    if let Some(r) = &job_id {
                        w.paypal.release(r);
                    }
                    return (400, e.body());
                }
                Err(e) => (e.status.as_u16(), e.body()),
            }
        };
        // Executed: PayPal announces its captures and refunds even if the answer is lost.
        if (200..300).contains(&status) {
            job_shared.paypal_webhooks.observe(&body);
        }
        let (status, body) = if action == Some(FaultKind::Http500AfterExecute) {
            (500, PaypalError::internal().body())
        } else {
            (status, body)
        };
        if let Some(r) = &job_id {
            w.paypal.finish(r, status, &body);
        }
        (status, body)
    });
    if late_ms > 0 {
        return kill.drop_connection().await;
    }
    let (status, body) = match job.await {
        Ok(answer) => answer,
        Err(e) => {
            tracing::error!(error = %e, "PayPal operation task failed");
            (500, PaypalError::internal().body())
        }
    };
    if action == Some(FaultKind::DropAfterExecute) {
        return kill.drop_connection().await;
    }
    respond(status, &body, request_id.as_deref())
}

async fn create_order(
    State(shared): State<Arc<Shared>>,
    Extension(kill): Extension<ConnKill>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    pipeline(shared, kill, Op::CreateOrder, headers, body).await
}

async fn get_order(
    State(shared): State<Arc<Shared>>,
    Extension(kill): Extension<ConnKill>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    pipeline(shared, kill, Op::GetOrder(id), headers, Bytes::new()).await
}

async fn capture(
    State(shared): State<Arc<Shared>>,
    Extension(kill): Extension<ConnKill>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    pipeline(shared, kill, Op::Capture(id), headers, body).await
}

async fn refund(
    State(shared): State<Arc<Shared>>,
    Extension(kill): Extension<ConnKill>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    pipeline(shared, kill, Op::Refund(id), headers, body).await
}

async fn get_capture(
    State(shared): State<Arc<Shared>>,
    Extension(kill): Extension<ConnKill>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    pipeline(shared, kill, Op::GetCapture(id), headers, Bytes::new()).await
}

async fn get_refund(
    State(shared): State<Arc<Shared>>,
    Extension(kill): Extension<ConnKill>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    pipeline(shared, kill, Op::GetRefund(id), headers, Bytes::new()).await
}

async fn get_payment_token(
    State(shared): State<Arc<Shared>>,
    Extension(kill): Extension<ConnKill>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    pipeline(shared, kill, Op::GetPaymentToken(id), headers, Bytes::new()).await
}

/// `POST /v1/oauth2/token`: HTTP Basic `client_id:secret`, body `grant_type=client_credentials`.
async fn token(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let grant = form_urlencoded::parse(&body)
        .find(|(k, _)| k == "grant_type")
        .map(|(_, v)| v.into_owned());
    if grant.as_deref() != Some("client_credentials") {
        return respond(
            400,
            &json!({ "error": "unsupported_grant_type", "error_description": "Grant Type is NULL or not client_credentials" }),
            None,
        );
    }
    let (client, secret) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| {
            base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .ok()
        })
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| {
            s.split_once(':')
                .map(|(a, b)| (a.to_string(), b.to_string()))
        })
        .unwrap_or_default();
    let mut w = shared.lock();
    let now = w.now_ms();
    match w.paypal.issue_token(&client, &secret, now) {
        Ok(v) => respond(200, &v, None),
        Err(e) => error(&e),
    }
}

async fn ledger(State(shared): State<Arc<Shared>>) -> Response {
    Json(shared.lock().paypal.ledger()).into_response()
}

/// `POST /admin/paypal/settings`: every field optional.
#[derive(Debug, Deserialize)]
struct SettingsRequest {
    request_id_window_ms: Option<i64>,
    token_ttl_s: Option<i64>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

async fn settings(State(shared): State<Arc<Shared>>, Json(req): Json<SettingsRequest>) -> Response {
    let bad = |m: &str| (StatusCode::BAD_REQUEST, Json(json!({ "error": m }))).into_response();
    let mut w = shared.lock();
    let s = &mut w.paypal.settings;
    if let Some(ms) = req.request_id_window_ms {
        if ms < 0 {
            return bad("request_id_window_ms must be 0 or more");
        }
        s.request_id_window_ms = ms;
    }
    if let Some(ttl) = req.token_ttl_s {
        if ttl < 1 {
            return bad("token_ttl_s must be at least 1");
        }
        s.token_ttl_s = ttl;
    }
    match (req.client_id, req.client_secret) {
        (Some(id), Some(secret)) => s.credentials = Some((id, secret)),
        (None, None) => {}
        _ => return bad("give client_id and client_secret together"),
    }
    Json(json!(s)).into_response()
}

async fn revoke_tokens(State(shared): State<Arc<Shared>>) -> Response {
    shared.lock().paypal.revoke_tokens();
    Json(json!({ "revoked": true })).into_response()
}

/// The PayPal routes, merged into the sandbox's router (`server::router`).
pub fn router(shared: Arc<Shared>) -> Router<Arc<Shared>> {
    let admin = Router::new()
        .route("/admin/paypal/ledger", get(ledger))
        .route("/admin/paypal/settings", post(settings))
        .route("/admin/paypal/revoke_tokens", post(revoke_tokens))
        .route_layer(axum::middleware::from_fn_with_state(
            shared.clone(),
            crate::admin_access::gate,
        ));
    Router::new()
        .route("/v1/oauth2/token", post(token))
        .route("/v2/checkout/orders", post(create_order))
        .route("/v2/checkout/orders/{id}", get(get_order))
        .route("/v2/checkout/orders/{id}/capture", post(capture))
        .route("/v2/payments/captures/{id}/refund", post(refund))
        .route("/v2/payments/refunds/{id}", get(get_refund))
        .route("/v2/payments/captures/{id}", get(get_capture))
        .route("/v3/vault/payment-tokens/{id}", get(get_payment_token))
        .merge(admin)
}

/// The `paypal` member of `/admin/ledger`.
pub fn ledger_of(w: &crate::server::World) -> Value {
    w.paypal.ledger()
}

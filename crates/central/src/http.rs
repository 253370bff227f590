//! The HTTP API: routes, the roles each route needs (extractors from `http_auth`) and input
//! checks; errors map to a status and a JSON body in `http_error`.
//!
//! Every handler parses and checks its whole input before it writes anything, so a bad request
//! never causes a partial write. Deliberately absent: SQL (the store owns it) and business rules
//! about orders and claims (the store and the pure `decide` own those); internal error messages
//! never reach a client, only logs.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use paydesk_core::{OrderId, Timestamp};
use paydesk_protocol::{
    ClaimTokenRequest, CreateOperatorRequest, CreateTerminalRequest, CreateTerminalResponse,
    ErrorCode, FlagList, Health, OperatorList, OrderPage, OrderStatus, RegisterIntentRequest,
    RegisterIntentResponse, ReleaseResponse, RenewResponse, ResultBatch, UnresolvedList,
    PAGE_ROWS_MAX, RESULT_BATCH_ROWS_MAX,
};
use serde::Deserialize;

use crate::error::CentralError;
use crate::http_auth::{AdminAuth, AnyAuth, AuthError, AuthState, ManagerOrAdmin, TerminalAuth};
use crate::http_error::error_response;
pub use crate::http_input::ApiJson;
use crate::http_input::{
    bytes_rejection, check_claim_token, is_json_content_type, media_type, order_path,
};
use crate::http_sessions as people;
use crate::rate_limit::Limit;
use crate::sessions::{LockoutPolicy, LOCKOUT_DEFAULT, SIGN_IN_FAILURES_PER_TERMINAL_DEFAULT};
use crate::store::Store;
use crate::sweeper::IntentLookup;
use crate::{auth, clock, import, openapi, reconcile, webhook};

/// Largest request body, in bytes: a full result batch (1,000 rows of ~400 bytes) or an import
/// of 5,000 orders fits; anything bigger is refused before it is read into memory.
pub const BODY_BYTES_MAX: usize = 2 * 1024 * 1024;
/// Longest a request may run, in milliseconds: beyond the pool's acquire timeout (10 s) plus a
/// slow transaction, so only a stuck request reaches it.
const REQUEST_MS_MAX: u64 = 30_000;
/// Default page of the unpaid queue.
const PAGE_ROWS_DEFAULT: u32 = 50;
/// Longest search text accepted, in characters.
const SEARCH_LEN_MAX: usize = 100;
/// Widest reconciliation range, in milliseconds (31 days), to bound the gateway listing.
const RECONCILE_RANGE_MS_MAX: i64 = 31 * 24 * 3_600_000;

/// Settings of a running central.
#[derive(Debug, Clone)]
pub struct Config {
    /// Length of a claim's lease, in milliseconds, from the central's clock.
    pub lease_ms: i64,
    /// The set-up token; admin routes answer 401 to everyone when it is `None`.
    pub admin_token: Option<String>,
    /// Webhook signing secrets; several during a rotation. Empty disables the webhook route.
    pub webhook_secrets: Vec<String>,
    /// Verifies PayPal's webhooks (webhook id, certificate); `None` disables the PayPal route.
    pub paypal_webhook: Option<Arc<crate::webhook_paypal::PaypalVerifier>>,
    /// Pause between sweeper passes, in milliseconds.
    pub sweep_interval_ms: u64,
    /// Longest a client may take to send a request's headers, in milliseconds; also how long a
    /// kept-alive connection may wait for its next request (hyper starts the same timer then).
    pub header_read_timeout_ms: u64,
    /// Longest a connection may go without a byte read or written, in milliseconds.
    pub idle_timeout_ms: u64,
    /// Most connections served at once; further clients wait in the listen backlog.
    pub connections_max: usize,
    /// The Ed25519 key that signs offline allowances. `None` makes one in memory for this run
    /// (the embedded stack, tests); a served central loads or creates a key file instead.
    pub allowance_key: Option<Arc<ring::signature::Ed25519KeyPair>>,
    /// How wrong PINs lock an operator out.
    pub lockout: LockoutPolicy,
    /// Wrong PINs accepted per terminal within a window, across operators.
    pub sign_in_failures: Limit,
    /// A session ends after this long without a request, in milliseconds.
    pub session_idle_ms: i64,
    /// A session ends this long after sign-in, in milliseconds.
    pub session_age_ms_max: i64,
    /// Shortest pause between two reconciliation reports of one terminal, in milliseconds (each
    /// costs up to 100 gateway calls, and the gateway's rate limit is shared with charging).
    pub reconcile_interval_ms: i64,
    /// The gateway the central reverses payments at (`None`: reversals answer 503).
    pub gateway_actions: Option<Arc<dyn crate::gateway_actions::GatewayActions>>,
    /// A reversal of more than this many minor units (in any currency) needs a second
    /// manager's approval.
    pub reversal_approval_above_minor: i64,
    /// How long an approval may be used after it was made, in milliseconds.
    pub approval_ttl_ms: i64,
}

/// Claim lease used when none is configured: long enough for a slow gateway round trip and a
/// confirm, short enough that a crashed terminal's orders come back within a couple of minutes.
pub const LEASE_MS_DEFAULT: i64 = 120_000;
/// Sweeper pause used when none is configured.
pub const SWEEP_INTERVAL_MS_DEFAULT: u64 = 5_000;
/// Header-read timeout: a real client sends its headers in one packet, well under a second even
/// on a poor shop network; 10 s leaves room for that and still frees a slot held by a client that
/// sends nothing, a bare `\r\n\r\n` or half a header line (which held a connection forever).
pub const HEADER_READ_TIMEOUT_MS_DEFAULT: u64 = 10_000;
/// Idle timeout: twice the longest a request may run (30 s), so a slow but working request is
/// never cut, while a client that stops reading a response or sending a body is let go.
pub const IDLE_TIMEOUT_MS_DEFAULT: u64 = 60_000;
/// Connection cap: a shop has tens of terminals, each with a few pooled connections, so 512 is
/// ample; it stays far below the usual 1,024 file-descriptor limit, which 1,100 half-open
/// connections used to exhaust (locking every client out). Beyond it, clients wait in the
/// kernel's listen backlog, which costs the server no descriptor.
pub const CONNECTIONS_MAX_DEFAULT: usize = 512;
/// One reconciliation report per terminal per minute: a manager re-reading a report waits a
/// minute; a looping terminal cannot use up the gateway's rate limit (finding M2).
pub const RECONCILE_INTERVAL_MS_DEFAULT: i64 = 60_000;
/// Four eyes above 100.00 (10,000 minor units, whatever the currency): a routine refund needs
/// one manager, a large one two.
pub const REVERSAL_APPROVAL_ABOVE_MINOR_DEFAULT: i64 = 10_000;
/// An approval is used within ten minutes: long enough to walk to the other desk.
pub const APPROVAL_TTL_MS_DEFAULT: i64 = 600_000;

impl Default for Config {
    fn default() -> Config {
        Config {
            lease_ms: LEASE_MS_DEFAULT,
            admin_token: None,
            webhook_secrets: Vec::new(),
            paypal_webhook: None,
            sweep_interval_ms: SWEEP_INTERVAL_MS_DEFAULT,
            header_read_timeout_ms: HEADER_READ_TIMEOUT_MS_DEFAULT,
            idle_timeout_ms: IDLE_TIMEOUT_MS_DEFAULT,
            connections_max: CONNECTIONS_MAX_DEFAULT,
            allowance_key: None,
            lockout: LOCKOUT_DEFAULT,
            sign_in_failures: SIGN_IN_FAILURES_PER_TERMINAL_DEFAULT,
            session_idle_ms: paydesk_protocol::SESSION_IDLE_MS,
            session_age_ms_max: paydesk_protocol::SESSION_AGE_MS_MAX,
            reconcile_interval_ms: RECONCILE_INTERVAL_MS_DEFAULT,
            gateway_actions: None,
            reversal_approval_above_minor: REVERSAL_APPROVAL_ABOVE_MINOR_DEFAULT,
            approval_ttl_ms: APPROVAL_TTL_MS_DEFAULT,
        }
    }
}

/// What every handler shares; cloned per request (all fields are shared handles).
#[derive(Debug, Clone)]
pub struct AppState {
    pub store: Store,
    pub config: Arc<Config>,
    pub gateway: Option<Arc<dyn IntentLookup>>,
    /// Authentication state in memory: the terminal-token cache (entries live at most
    /// `http_auth::AUTH_CACHE_MS`, and revoking or rotating clears it), the rate limiters and
    /// the run's allowance key when none is configured.
    pub terminals: Arc<AuthState>,
}

/// Every route of the API, as (method, path) — the OpenAPI document is checked against it.
pub const ROUTES: &[(&str, &str)] = &[
    ("get", "/health"),
    ("get", "/openapi.json"),
    ("post", "/v1/admin/terminals"),
    ("get", "/v1/admin/terminals"),
    ("post", "/v1/admin/terminals/{terminal_id}/revoke"),
    ("post", "/v1/admin/terminals/{terminal_id}/rotate"),
    ("post", "/v1/admin/operators"),
    ("post", "/v1/sessions"),
    ("delete", "/v1/sessions/current"),
    ("post", "/v1/sessions/check"),
    ("post", "/v1/offline-allowances"),
    ("delete", "/v1/offline-allowances/{grant_id}"),
    ("get", "/v1/allowance-key"),
    ("post", "/v1/orders/import"),
    ("get", "/v1/orders"),
    ("get", "/v1/orders/{order_id}"),
    ("post", "/v1/orders/{order_id}/claim"),
    ("post", "/v1/orders/{order_id}/claim/renew"),
    ("post", "/v1/orders/{order_id}/claim/release"),
    ("post", "/v1/orders/{order_id}/intent"),
    ("post", "/v1/orders/{order_id}/decline"),
    ("post", "/v1/orders/{order_id}/payment-method/refresh"),
    ("post", "/v1/results"),
    ("get", "/v1/journal-head"),
    ("get", "/v1/operators"),
    ("get", "/v1/unresolved"),
    ("get", "/v1/flags"),
    ("get", "/v1/reconcile"),
    ("get", "/v1/audit"),
    ("get", "/v1/day-close"),
    ("post", "/v1/day-close/{day}/sign-off"),
    ("post", "/v1/orders/{order_id}/reversals"),
    ("get", "/v1/orders/{order_id}/reversals"),
    ("post", "/v1/approvals"),
    ("get", "/v1/exceptions"),
    ("post", "/v1/exceptions/acknowledgements"),
    ("get", "/v1/orders/{order_id}/evidence"),
    ("post", "/v1/orders/{order_id}/resolutions"),
    ("get", "/v1/settings"),
    ("put", "/v1/settings/approval-threshold"),
    ("put", "/v1/settings/permissions/{role}"),
    ("put", "/v1/settings/limits/{operator_id}/{currency}"),
    ("post", "/v1/orders/{order_id}/payment-link"),
    ("post", "/v1/orders/{order_id}/customer-contacted"),
    ("get", "/v1/customer-waits"),
    ("get", "/pay/{token}"),
    ("post", "/webhooks/stripe"),
    ("post", "/webhooks/paypal"),
];

/// Builds the router.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/openapi.json", get(openapi_json))
        .route(
            "/v1/admin/terminals",
            post(create_terminal).get(people::list_terminals),
        )
        .route(
            "/v1/admin/terminals/{terminal_id}/revoke",
            post(people::revoke_terminal),
        )
        .route(
            "/v1/admin/terminals/{terminal_id}/rotate",
            post(people::rotate_terminal),
        )
        .route("/v1/admin/operators", post(create_operator))
        .route("/v1/sessions", post(people::sign_in))
        .route("/v1/sessions/current", delete(people::sign_out))
        .route("/v1/sessions/check", post(people::check_pin))
        .route("/v1/offline-allowances", post(people::issue_allowance))
        .route(
            "/v1/offline-allowances/{grant_id}",
            delete(crate::http_allowance_withdraw::withdraw_allowance),
        )
        .route("/v1/allowance-key", get(people::allowance_public_key))
        .route("/v1/orders/import", post(import_orders))
        .route("/v1/orders", get(list_orders))
        .route("/v1/orders/{order_id}", get(get_order))
        .route(
            "/v1/orders/{order_id}/reversals",
            post(crate::http_reversals::create_reversal).get(crate::http_reversals::list_reversals),
        )
        .route(
            "/v1/approvals",
            post(crate::http_reversals::create_approval),
        )
        .route("/v1/exceptions", get(crate::http_inbox::list_exceptions))
        .route(
            "/v1/exceptions/acknowledgements",
            post(crate::http_inbox::acknowledge),
        )
        .route(
            "/v1/orders/{order_id}/evidence",
            get(crate::http_evidence::order_evidence),
        )
        .route(
            "/v1/orders/{order_id}/resolutions",
            post(crate::http_inbox::resolve),
        )
        .route(
            "/v1/orders/{order_id}/claim",
            post(crate::http_claim::claim),
        )
        .route(
            "/v1/orders/{order_id}/payment-method/refresh",
            post(crate::saved_methods::refresh),
        )
        .route("/v1/orders/{order_id}/claim/renew", post(renew))
        .route("/v1/orders/{order_id}/claim/release", post(release))
        .route("/v1/orders/{order_id}/intent", post(register_intent))
        .route(
            "/v1/orders/{order_id}/decline",
            post(crate::claim_guard::report_decline),
        )
        .route("/v1/results", post(post_results))
        .route(
            "/v1/journal-head",
            get(crate::http_journal_head::journal_head),
        )
        .route("/v1/operators", get(list_operators))
        .route("/v1/unresolved", get(list_unresolved))
        .route("/v1/flags", get(list_flags))
        .route("/v1/reconcile", get(reconcile_report))
        .route("/v1/audit", get(crate::http_audit::audit_log))
        .route("/v1/day-close", get(crate::http_audit::day_close))
        .route(
            "/v1/day-close/{day}/sign-off",
            post(crate::http_audit::sign_off),
        )
        .route("/v1/settings", get(crate::http_settings::get_settings))
        .route(
            "/v1/settings/approval-threshold",
            put(crate::http_settings::put_threshold),
        )
        .route(
            "/v1/settings/permissions/{role}",
            put(crate::http_settings::put_permissions),
        )
        .route(
            "/v1/settings/limits/{operator_id}/{currency}",
            put(crate::http_settings::put_limit),
        )
        .route(
            "/v1/orders/{order_id}/payment-link",
            post(crate::http_customer_action::send_payment_link),
        )
        .route(
            "/v1/orders/{order_id}/customer-contacted",
            post(crate::http_customer_action::mark_contacted),
        )
        .route(
            "/v1/customer-waits",
            get(crate::http_customer_action::customer_waits),
        )
        .route("/pay/{token}", get(crate::http_customer_action::pay_page))
        .route("/webhooks/stripe", post(stripe_webhook))
        .route("/webhooks/paypal", post(crate::http_paypal::paypal_webhook))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(BODY_BYTES_MAX))
        .layer(middleware::from_fn(log_request))
        .layer(middleware::from_fn(json_errors))
        .layer(middleware::from_fn(catch_panics))
        .with_state(state)
}

/// A handler that panics is answered with the JSON 500 instead of a connection closed with no
/// reply (what hyper does when the task serving the request unwinds). The panic is still a bug:
/// it is logged, and an open transaction of the request is rolled back as its future is dropped.
pub async fn catch_panics(req: Request, next: Next) -> Response {
    use futures_util::FutureExt as _;
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    match std::panic::AssertUnwindSafe(next.run(req))
        .catch_unwind()
        .await
    {
        Ok(response) => response,
        Err(_) => {
            tracing::error!(%method, %path, "a handler panicked");
            error_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                ErrorCode::Internal,
                "the central failed on this request; re-read what it concerns before retrying, \
                 or tell an administrator"
                    .into(),
            )
        }
    }
}

/// Every refusal the router makes is in the JSON error shape, even one no handler wrote (an
/// axum rejection or default answer in plain text or with no body): a client can always parse
/// `{"error": {"code", "message"}}`. Requests hyper refuses before the router sees them (an
/// unparseable request line or header) cannot be reached here: see the crate README.
async fn json_errors(req: Request, next: Next) -> Response {
    let response = next.run(req).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    // The customer's payment-link page answers people in HTML, its refusals included.
    let is_page = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if is_json || is_page {
        return response;
    }
    let code = match status {
        StatusCode::NOT_FOUND => ErrorCode::NotFound,
        StatusCode::METHOD_NOT_ALLOWED => ErrorCode::MethodNotAllowed,
        StatusCode::UNAUTHORIZED => ErrorCode::Unauthorized,
        StatusCode::FORBIDDEN => ErrorCode::Forbidden,
        StatusCode::CONFLICT => ErrorCode::Conflict,
        StatusCode::PAYLOAD_TOO_LARGE => ErrorCode::BodyTooLarge,
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ErrorCode::UnsupportedMediaType,
        StatusCode::REQUEST_TIMEOUT | StatusCode::GATEWAY_TIMEOUT => ErrorCode::Timeout,
        StatusCode::SERVICE_UNAVAILABLE => ErrorCode::Unavailable,
        s if s.is_server_error() => ErrorCode::Internal,
        _ => ErrorCode::InvalidRequest,
    };
    let message = format!(
        "the request was refused ({}): see /openapi.json for the API",
        status.canonical_reason().unwrap_or("error")
    );
    let mut json = error_response(status, code, message);
    // Keep headers such as Allow or Retry-After; the body and its length are replaced.
    for (name, value) in response.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            json.headers_mut().append(name.clone(), value.clone());
        }
    }
    json
}

type ApiResult<T> = Result<T, CentralError>;

async fn not_found() -> CentralError {
    CentralError::NotFound("no such route: see /openapi.json for the API".into())
}

async fn method_not_allowed() -> Response {
    error_response(
        StatusCode::METHOD_NOT_ALLOWED,
        ErrorCode::MethodNotAllowed,
        "this route does not accept that method: see /openapi.json".into(),
    )
}

/// Logs method, path, status and duration, and bounds the duration: a request still running
/// after [`REQUEST_MS_MAX`] is dropped, which rolls back its open transaction, and answered 503.
/// Never logs headers or bodies (tokens and PINs live there).
async fn log_request(req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let started = Instant::now();
    let response = match tokio::time::timeout(
        std::time::Duration::from_millis(REQUEST_MS_MAX),
        next.run(req),
    )
    .await
    {
        Ok(response) => response,
        Err(_) => error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Timeout,
            "the central took too long; nothing was changed, retry".into(),
        ),
    };
    let status = response.status().as_u16();
    let elapsed_ms = started.elapsed().as_millis() as u64;
    if status >= 500 {
        tracing::warn!(%method, %path, status, elapsed_ms, "request");
    } else {
        tracing::debug!(%method, %path, status, elapsed_ms, "request");
    }
    response
}

// ------------------------------------------------------------------ handlers

async fn health(State(state): State<AppState>) -> Response {
    match state.store.ping().await {
        Ok(()) => Json(Health {
            status: "ok".into(),
            database: state.store.backend().name().into(),
        })
        .into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "health check failed");
            error_response(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::DatabaseUnavailable,
                "the database does not answer".into(),
            )
        }
    }
}

async fn openapi_json() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        openapi::document_text(),
    )
        .into_response()
}

async fn create_terminal(
    State(state): State<AppState>,
    _admin: AdminAuth,
    ApiJson(req): ApiJson<CreateTerminalRequest>,
) -> ApiResult<(StatusCode, Json<CreateTerminalResponse>)> {
    let token = auth::new_token();
    let token_id = state
        .store
        .add_terminal(&req.terminal_id, &auth::token_sha256(&token), clock::now())
        .await?;
    tracing::info!(terminal = %req.terminal_id, token_id = %token_id, "terminal registered");
    Ok((
        StatusCode::CREATED,
        Json(CreateTerminalResponse {
            terminal_id: req.terminal_id,
            token,
        }),
    ))
}

async fn create_operator(
    State(state): State<AppState>,
    _admin: AdminAuth,
    ApiJson(req): ApiJson<CreateOperatorRequest>,
) -> ApiResult<StatusCode> {
    auth::check_pin_policy(&req.pin, req.role).map_err(CentralError::Invalid)?;
    let pin = req.pin;
    let hash = tokio::task::spawn_blocking(move || auth::hash_pin(&pin))
        .await
        .map_err(|_| CentralError::Unavailable("PIN hashing was interrupted; retry"))?
        .map_err(CentralError::Invalid)?;
    state
        .store
        .upsert_operator(&req.operator_id, req.role, &hash, clock::now())
        .await?;
    tracing::info!(operator = %req.operator_id, role = req.role.as_str(), "operator saved");
    Ok(StatusCode::NO_CONTENT)
}

async fn import_orders(
    State(state): State<AppState>,
    _admin: AdminAuth,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> ApiResult<Response> {
    let body = body.map_err(bytes_rejection)?;
    let orders = if is_json_content_type(&headers) {
        import::from_json(&body)
    } else if media_type(&headers) == "text/csv" {
        import::from_csv(&body)
    } else {
        return Err(CentralError::UnsupportedMediaType(
            "send orders as application/json or text/csv".into(),
        ));
    }
    .map_err(CentralError::Invalid)?;
    let now = clock::now();
    let response = state.store.import_orders(&orders, now).await?;
    // The new orders' payment methods as their gateways describe them, within a time budget;
    // any left are read when someone refreshes them.
    if let Some(lookup) = &state.gateway {
        let budget =
            std::time::Duration::from_millis(crate::saved_methods::READ_AFTER_IMPORT_MS_MAX);
        crate::saved_methods::read_unread(&state.store, lookup.as_ref(), now, budget).await;
    }
    Ok(Json(response).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    status: Option<String>,
    q: Option<String>,
    after: Option<String>,
    limit: Option<u32>,
}

async fn list_orders(
    State(state): State<AppState>,
    _auth: AnyAuth,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> ApiResult<Json<OrderPage>> {
    let Query(query) = query.map_err(|e| CentralError::Invalid(e.body_text()))?;
    let status = match query.status.as_deref() {
        None => OrderStatus::Unpaid,
        Some(s) => OrderStatus::parse(s).ok_or_else(|| {
            CentralError::Invalid(format!(
                "unknown status {s:?}: use unpaid, paid, failed, needs_action or needs_review"
            ))
        })?,
    };
    let limit = query.limit.unwrap_or(PAGE_ROWS_DEFAULT);
    if limit == 0 || limit > PAGE_ROWS_MAX {
        return Err(CentralError::Invalid(format!(
            "limit must be 1 to {PAGE_ROWS_MAX}"
        )));
    }
    if query
        .q
        .as_ref()
        .is_some_and(|q| q.chars().count() > SEARCH_LEN_MAX)
    {
        return Err(CentralError::Invalid(format!(
            "search text is longer than {SEARCH_LEN_MAX} characters"
        )));
    }
    if query
        .q
        .as_ref()
        .is_some_and(|q| q.chars().any(char::is_control))
    {
        return Err(CentralError::Invalid(
            "search text contains a control character (such as NUL): send plain text".into(),
        ));
    }
    let after = query
        .after
        .map(OrderId::new)
        .transpose()
        .map_err(|e| CentralError::Invalid(format!("bad `after`: {e}")))?;
    let orders = state
        .store
        .list_orders(status, query.q.as_deref(), after.as_ref(), limit)
        .await?;
    let next_after = if orders.len() == limit as usize {
        orders.last().map(|o| o.order_id.clone())
    } else {
        None
    };
    Ok(Json(OrderPage { orders, next_after }))
}

async fn get_order(
    State(state): State<AppState>,
    _auth: AnyAuth,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<Response> {
    let order_id = order_path(path)?;
    Ok(Json(state.store.order_detail(&order_id).await?).into_response())
}

async fn renew(
    State(state): State<AppState>,
    TerminalAuth(terminal): TerminalAuth,
    path: Result<Path<String>, PathRejection>,
    ApiJson(req): ApiJson<ClaimTokenRequest>,
) -> ApiResult<Json<RenewResponse>> {
    let order_id = order_path(path)?;
    check_claim_token(req.claim_token, "claim_token")?;
    let lease_until = state
        .store
        .renew(
            &order_id,
            req.claim_token,
            &terminal,
            clock::now(),
            state.config.lease_ms,
        )
        .await?;
    Ok(Json(RenewResponse {
        claim_token: req.claim_token,
        lease_until,
    }))
}

async fn release(
    State(state): State<AppState>,
    TerminalAuth(terminal): TerminalAuth,
    path: Result<Path<String>, PathRejection>,
    ApiJson(req): ApiJson<ClaimTokenRequest>,
) -> ApiResult<Json<ReleaseResponse>> {
    let order_id = order_path(path)?;
    check_claim_token(req.claim_token, "claim_token")?;
    state
        .store
        .release(&order_id, req.claim_token, &terminal, clock::now())
        .await?;
    Ok(Json(ReleaseResponse { released: true }))
}

async fn register_intent(
    State(state): State<AppState>,
    TerminalAuth(terminal): TerminalAuth,
    path: Result<Path<String>, PathRejection>,
    ApiJson(req): ApiJson<RegisterIntentRequest>,
) -> ApiResult<Json<RegisterIntentResponse>> {
    let order_id = order_path(path)?;
    check_claim_token(req.claim_token, "claim_token")?;
    let newly_registered = state
        .store
        .register_intent(
            &order_id,
            req.claim_token,
            req.attempt_number,
            &req.intent_id,
            &terminal,
            clock::now(),
        )
        .await?;
    Ok(Json(RegisterIntentResponse {
        intent_id: req.intent_id,
        newly_registered,
    }))
}

async fn post_results(
    State(state): State<AppState>,
    TerminalAuth(terminal): TerminalAuth,
    ApiJson(batch): ApiJson<ResultBatch>,
) -> ApiResult<Response> {
    if batch.results.len() > RESULT_BATCH_ROWS_MAX {
        return Err(CentralError::Invalid(format!(
            "{} results in one batch; the limit is {RESULT_BATCH_ROWS_MAX}",
            batch.results.len()
        )));
    }
    let hash = &batch.journal_head.hash;
    if hash.len() != 64 || !hash.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f')) {
        return Err(CentralError::Invalid(
            "journal_head.hash must be 64 lower-case hex digits (a SHA-256)".into(),
        ));
    }
    for (i, item) in batch.results.iter().enumerate() {
        check_claim_token(item.claim_token, &format!("results[{i}].claim_token"))?;
    }
    if i64::try_from(batch.journal_head.seq).is_err() {
        return Err(CentralError::Invalid(
            "journal_head.seq is too large".into(),
        ));
    }
    let response = state
        .store
        .apply_results(
            &terminal,
            &batch.journal_head,
            &batch.results,
            state.gateway.as_deref(),
            clock::now(),
        )
        .await?;
    Ok(Json(response).into_response())
}

async fn list_operators(
    State(state): State<AppState>,
    _auth: AnyAuth,
) -> ApiResult<Json<OperatorList>> {
    Ok(Json(OperatorList {
        operators: state.store.operators().await?,
    }))
}

async fn list_unresolved(
    State(state): State<AppState>,
    _auth: ManagerOrAdmin,
) -> ApiResult<Json<UnresolvedList>> {
    Ok(Json(UnresolvedList {
        items: state.store.unresolved().await?,
    }))
}

async fn list_flags(
    State(state): State<AppState>,
    _auth: ManagerOrAdmin,
    query: Result<Query<FlagQuery>, QueryRejection>,
) -> ApiResult<Json<FlagList>> {
    let Query(query) = query.map_err(|e| CentralError::Invalid(e.body_text()))?;
    let limit = query.limit.unwrap_or(crate::store::FLAG_PAGE_ROWS_DEFAULT);
    if !(1..=crate::store::FLAG_PAGE_ROWS_MAX).contains(&limit) {
        return Err(CentralError::Invalid(format!(
            "limit must be between 1 and {}",
            crate::store::FLAG_PAGE_ROWS_MAX
        )));
    }
    if let Some(order) = &query.order_id {
        OrderId::new(order.as_str())
            .map_err(|e| CentralError::Invalid(format!("order_id: {e}")))?;
    }
    if query
        .source
        .as_ref()
        .is_some_and(|s| s.is_empty() || s.len() > 32 || !s.chars().all(|c| c.is_ascii_lowercase()))
    {
        return Err(CentralError::Invalid(
            "source must be a flag source such as result, webhook, sweeper, journal".into(),
        ));
    }
    let filter = crate::store::FlagFilter {
        after: query.after,
        limit,
        order_id: query.order_id,
        source: query.source,
    };
    Ok(Json(state.store.flags(&filter).await?))
}

/// `/v1/flags` query: a page of flags, newest first.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FlagQuery {
    /// The previous page's `next_after`.
    after: Option<i64>,
    limit: Option<u32>,
    order_id: Option<String>,
    source: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RangeQuery {
    from: i64,
    to: i64,
}

/// A manager's or the admin's reconciliation report. A terminal gets one per
/// `Config::reconcile_interval_ms` (a refused range does not count); the admin token is not
/// limited: it is one person's set-up secret, not a fleet of terminals.
async fn reconcile_report(
    State(state): State<AppState>,
    caller: ManagerOrAdmin,
    query: Result<Query<RangeQuery>, QueryRejection>,
) -> Result<Response, AuthError> {
    let Query(range) = query.map_err(|e| CentralError::Invalid(e.body_text()))?;
    let width = range.to.checked_sub(range.from);
    if range.to <= range.from || width.is_none_or(|w| w > RECONCILE_RANGE_MS_MAX) {
        return Err(CentralError::Invalid(format!(
            "`from` must be before `to` (milliseconds since the epoch), at most {RECONCILE_RANGE_MS_MAX} ms apart"
        ))
        .into());
    }
    let gateway = state.gateway.as_ref().ok_or(CentralError::Unavailable(
        "no gateway is configured for reconciliation",
    ))?;
    if let ManagerOrAdmin::Manager(session) = &caller {
        let limit = Limit {
            events_max: 1,
            window_ms: state.config.reconcile_interval_ms,
        };
        let key = session.terminal.terminal_id.as_str();
        if let Err(retry_after_ms) =
            state
                .terminals
                .reconciles
                .take(limit, key, clock::now().unix_ms())
        {
            return Err(AuthError::RateLimited {
                what: "reconciliation reports",
                retry_after_ms,
            });
        }
    }
    let (from, to) = (
        Timestamp::from_unix_ms(range.from),
        Timestamp::from_unix_ms(range.to),
    );
    let recorded = state.store.recorded_successes(from, to).await?;
    let intents = gateway.intents_between(from, to).await.map_err(|e| {
        tracing::warn!(error = %e, "reconciliation could not list gateway intents");
        CentralError::Unavailable("the gateway could not be read; retry later")
    })?;
    Ok(Json(reconcile::reconcile(from, to, &recorded, &intents)).into_response())
}

async fn stripe_webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> ApiResult<Response> {
    let body = body.map_err(bytes_rejection)?;
    if state.config.webhook_secrets.is_empty() {
        return Err(CentralError::Unavailable(
            "webhooks are not configured on this central",
        ));
    }
    let now = clock::now();
    let signature = headers
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok());
    if let Err(e) = webhook::verify(
        signature,
        &body,
        &state.config.webhook_secrets,
        now.unix_ms() / 1000,
    ) {
        tracing::warn!(error = %e, "webhook refused");
        return Ok(error_response(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidSignature,
            e.to_string(),
        ));
    }
    let event = webhook::WebhookEvent::parse(&body).map_err(CentralError::Invalid)?;
    let payload = String::from_utf8_lossy(&body);
    let livemode = state.gateway.as_ref().and_then(|g| g.livemode());
    let stored = state
        .store
        .apply_webhook(&event, &payload, livemode, now)
        .await?;
    tracing::info!(event = %event.id, kind = %event.event_type, duplicate = !stored, "webhook");
    Ok(Json(serde_json::json!({ "received": true, "duplicate": !stored })).into_response())
}

//! A manager's reversals: cancel an intent that captured nothing, or refund all or part of a paid
//! one, with a second manager's approval above the reversal threshold (four eyes).
//!
//! `POST /v1/orders/{order_id}/reversals` reads the LIVE intent at the gateway and picks: a
//! cancel when the intent has not succeeded, otherwise a refund of at most what was paid less
//! what was refunded (the larger of the gateway's webhooks and the refunds recorded here). The
//! client's `reversal_key` makes it idempotent: the same key with the same order, amount and
//! reason answers the same reversal (re-sending a pending one to the gateway under the same
//! gateway key); with anything different it is refused 409. Above
//! [`Config::reversal_approval_above_minor`](crate::http::Config) the request needs an approval
//! another manager made with `POST /v1/approvals` for this action, order and amount, unused and
//! unexpired; the approval is spent in the same transaction that records the reversal. Every
//! refusal after the session check is audited (`auth_audit`, ids only).
//!
//! A reversal whose gateway call was never sent or may have landed stays `pending` and is re-sent
//! under the same gateway key on a replay or a `GET` of the order's reversals; a refund the
//! gateway answered `pending` is read again by its id then (a re-send would only replay the
//! first answer), until it succeeded or failed.
//!
//! Deliberately absent: SQL (`store::reversals`), the gateway connector (`gateway_actions`) and
//! changing the order's status (refunds reach it through the gateway's webhooks).

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use paydesk_core::{GatewayIntentId, IdempotencyKey, IntentStatus, Money, OrderId, Timestamp};
use paydesk_gateway::{CancelResult, RefundRequest, RefundResult, RefundStatus, RefundView};
use serde::{Deserialize, Serialize};

use crate::clock;
use crate::error::CentralError;
use crate::gateway_actions::GatewayActions;
use crate::http::{ApiJson, AppState};
use crate::http_auth::{AuthError, ManagerOrAdmin, ManagerSession, OperatorSession};
use crate::http_input::order_path;
use crate::store::{ApprovalRow, AuthEvent, Recorded, ReversalRow};

type AuthResult<T> = Result<T, AuthError>;

/// Longest reason, in characters.
pub const REASON_LEN_MAX: usize = 500;
/// Longest reversal key, in characters.
pub const REVERSAL_KEY_LEN_MAX: usize = 64;
/// The one action an approval can be for, so far.
pub const ACTION_REVERSAL: &str = "reversal";
/// Pending reversals re-sent to the gateway per list request.
const PENDING_FOLLOW_UP_MAX: usize = 10;

/// `POST /v1/orders/{order_id}/reversals`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReversalRequest {
    pub reversal_key: String,
    /// `None`: the whole amount still paid (or the whole intent, for a cancel).
    #[serde(default)]
    pub amount: Option<Money>,
    pub reason: String,
    pub pin: String,
    #[serde(default)]
    pub approval_id: Option<String>,
}

/// `POST /v1/approvals`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalRequest {
    pub action: String,
    pub order_id: String,
    pub amount: Money,
    pub pin: String,
}

/// The answer to `POST /v1/approvals`.
#[derive(Debug, Clone, Serialize)]
pub struct Approval {
    pub approval_id: String,
    pub action: String,
    pub order_id: String,
    pub amount: Money,
    pub approved_by: String,
    pub expires_at: i64,
}

/// `GET /v1/orders/{order_id}/reversals`.
#[derive(Debug, Clone, Serialize)]
pub struct ReversalList {
    pub items: Vec<ReversalRow>,
}

/// The text of a reason, checked: present, at most [`REASON_LEN_MAX`] characters, nothing that
/// hides or reorders text.
pub fn check_reason(reason: &str) -> Result<String, String> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err("reason is required: say why in a few words".into());
    }
    if reason.chars().count() > REASON_LEN_MAX {
        return Err(format!("reason is longer than {REASON_LEN_MAX} characters"));
    }
    if reason.chars().any(char::is_control) {
        return Err("reason contains control characters (new lines, tabs): one line".into());
    }
    if reason.chars().any(crate::import::is_invisible_format) {
        return Err("reason contains a bidirectional or zero-width character: remove it".into());
    }
    Ok(reason.to_string())
}

fn check_key(key: &str) -> Result<(), String> {
    let ok = (1..=REVERSAL_KEY_LEN_MAX).contains(&key.len())
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "reversal_key must be 1 to {REVERSAL_KEY_LEN_MAX} of A-Z a-z 0-9 - _ . : (a UUID \
             is fine)"
        ))
    }
}

fn invalid(message: String) -> AuthError {
    CentralError::Invalid(message).into()
}

fn actions(state: &AppState) -> AuthResult<&dyn GatewayActions> {
    state.config.gateway_actions.as_deref().ok_or_else(|| {
        CentralError::Unavailable(
            "no gateway configured at the central: reversals need one (--gateway-url)",
        )
        .into()
    })
}

async fn audit(state: &AppState, s: &OperatorSession, event: &str) -> AuthResult<()> {
    let e = AuthEvent {
        event,
        terminal_id: Some(s.terminal.terminal_id.as_str()),
        operator_id: Some(s.operator_id.as_str()),
        token_id: Some(s.terminal.token_id.as_str()),
        session_id: Some(&s.session_id),
    };
    state.store.audit_auth(&e, clock::now()).await?;
    Ok(())
}

/// Audits a refusal under `event` and returns it.
async fn refuse(state: &AppState, s: &OperatorSession, event: &str, e: AuthError) -> AuthError {
    if let Err(audit_error) = audit(state, s, event).await {
        return audit_error;
    }
    e
}

/// The same reversal asked again: the same order, amount and reason.
fn same_request(row: &ReversalRow, order: &OrderId, req: &ReversalRequest, reason: &str) -> bool {
    row.order_id == order.as_str()
        && row.requested_minor == req.amount.map(|a| a.minor())
        && req
            .amount
            .is_none_or(|a| a.currency().code() == row.currency)
        && row.reason == reason
}

/// (state, refund id, failure) of a refund as the gateway shows it.
fn refund_state(view: &RefundView) -> (&'static str, Option<String>, Option<String>) {
    let state = match view.status {
        RefundStatus::Succeeded => "succeeded",
        RefundStatus::Pending | RefundStatus::RequiresAction => "pending",
        RefundStatus::Failed | RefundStatus::Canceled => "failed",
    };
    (state, Some(view.id.clone()), view.failure_reason.clone())
}

/// Sends a pending reversal to the gateway under its key and records the answer.
async fn drive(state: &AppState, row: &ReversalRow) -> AuthResult<ReversalRow> {
    let gateway = actions(state)?;
    let intent = GatewayIntentId::new(row.intent_id.clone())
        .map_err(|e| CentralError::Corrupt(e.to_string()))?;
    let key = IdempotencyKey::from_stored(&row.gateway_key)
        .map_err(|e| CentralError::Corrupt(e.to_string()))?;
    // (state, gateway id, failure); `None` leaves it pending (may have landed, or never sent).
    let answer: Option<(&str, Option<String>, Option<String>)> = if row.kind == "cancel" {
        match gateway.cancel(&intent, &key).await {
            Ok(CancelResult::Canceled(view)) => {
                Some(("succeeded", Some(view.id.as_str().to_string()), None))
            }
            Ok(CancelResult::NotCancelable(view)) => Some((
                "failed",
                None,
                Some(format!(
                    "the intent is {} now and cannot be canceled: reverse it again to refund",
                    view.status_raw
                )),
            )),
            Ok(CancelResult::NotSent { .. } | CancelResult::Unknown { .. }) => None,
            Err(e) => Some(("failed", None, Some(format!("the gateway refused: {e}")))),
        }
    } else if let Some(refund_id) = &row.gateway_id {
        match gateway.refund_view(refund_id).await {
            Ok(view) => Some(refund_state(&view)),
            Err(e) => {
                tracing::warn!(refund = %refund_id, error = %e, "pending refund: read failed");
                None
            }
        }
    } else {
        let currency = paydesk_core::Currency::from_code(&row.currency)
            .map_err(|e| CentralError::Corrupt(e.to_string()))?;
        let amount = Money::new(row.amount_minor, currency)
            .map_err(|e| CentralError::Corrupt(e.to_string()))?;
        let request = RefundRequest {
            intent: intent.clone(),
            amount: Some(amount),
            reason: Some(paydesk_gateway::RefundReason::RequestedByCustomer),
            metadata: [
                ("order_id".to_string(), row.order_id.clone()),
                ("reversal_id".to_string(), row.reversal_id.clone()),
                ("requested_by".to_string(), row.requested_by.clone()),
            ]
            .into_iter()
            .chain(
                row.approved_by
                    .clone()
                    .map(|a| ("approved_by".to_string(), a)),
            )
            .collect(),
            key,
        };
        match gateway.refund(&request).await {
            Ok(RefundResult::Created(view)) => Some(refund_state(&view)),
            Ok(RefundResult::Refused { message, .. }) => Some((
                "failed",
                None,
                Some(format!("the gateway refused: {message}")),
            )),
            Ok(RefundResult::NotSent { .. } | RefundResult::Unknown { .. }) => None,
            Err(e) => Some(("failed", None, Some(format!("the gateway refused: {e}")))),
        }
    };
    if let Some((to, gateway_id, failure)) = &answer {
        if *to != "pending" || gateway_id.is_some() {
            state
                .store
                .settle_reversal(
                    &row.reversal_id,
                    to,
                    gateway_id.as_deref(),
                    failure.as_deref(),
                    clock::now(),
                )
                .await?;
        }
    }
    let now = state.store.reversal_by_key(&row.reversal_key).await?;
    now.ok_or_else(|| CentralError::Corrupt("a reversal just written is gone".into()).into())
}

/// Checks an approval for this reversal; the message says which rule it broke.
fn check_approval(
    approval: Option<&ApprovalRow>,
    id: &str,
    order: &OrderId,
    amount: Money,
    requester: &str,
    now: Timestamp,
) -> Result<(), String> {
    let Some(a) = approval else {
        return Err(format!(
            "approval {id} does not exist: ask another manager for one"
        ));
    };
    if a.action != ACTION_REVERSAL {
        return Err(format!("approval {id} is for {}, not a reversal", a.action));
    }
    if a.order_id != order.as_str() {
        return Err(format!(
            "approval {id} is for order {}, not {order}: ask for an approval of this order",
            a.order_id
        ));
    }
    if a.amount_minor != amount.minor() || a.currency != amount.currency().code() {
        return Err(format!(
            "approval {id} is for {} minor units of {}, not {amount}: ask for an approval of \
             this amount",
            a.amount_minor, a.currency
        ));
    }
    if a.approved_by == requester {
        return Err(format!(
            "approval {id} was made by {requester}, who asks for the reversal: another manager \
             must approve it"
        ));
    }
    if a.used_at.is_some() {
        return Err(format!(
            "approval {id} was already used: each approval is used once"
        ));
    }
    if a.expires_at <= now.unix_ms() {
        return Err(format!("approval {id} expired: ask for a new one"));
    }
    Ok(())
}

pub(crate) async fn create_reversal(
    State(state): State<AppState>,
    ManagerSession(session): ManagerSession,
    path: Result<Path<String>, PathRejection>,
    ApiJson(req): ApiJson<ReversalRequest>,
) -> AuthResult<(StatusCode, Json<ReversalRow>)> {
    // The input first: a mistyped request costs no PIN try and writes nothing.
    let order_id = order_path(path)?;
    check_key(&req.reversal_key).map_err(invalid)?;
    let reason = check_reason(&req.reason).map_err(invalid)?;
    if req.amount.is_some_and(|a| a.minor() <= 0) {
        return Err(invalid("amount must be more than zero".into()));
    }
    if let Some(id) = &req.approval_id {
        check_key(id).map_err(|_| invalid("approval_id is not an approval id".into()))?;
    }
    crate::http_settings::require(
        &state,
        &session,
        paydesk_protocol::settings::Action::Reverse,
    )
    .await?;
    session.recheck_pin(&state, &req.pin).await?;
    let order = state.store.order(&order_id).await?;
    if let Some(row) = state.store.reversal_by_key(&req.reversal_key).await? {
        if !same_request(&row, &order_id, &req, &reason) {
            let e = CentralError::Conflict(format!(
                "reversal_key {} was used for another reversal (order {}, other amount or \
                 reason): choose a new key for a new reversal",
                req.reversal_key, row.order_id
            ));
            return Err(refuse(&state, &session, "reversal_refused", e.into()).await);
        }
        let row = if row.state == "pending" {
            drive(&state, &row).await?
        } else {
            row
        };
        return Ok((StatusCode::OK, Json(row)));
    }
    let gateway = actions(&state)?;
    let intent_id = match (
        &order.paid_intent_id,
        state.store.open_intent_of(&order_id).await?,
    ) {
        (Some(paid), _) => paid.clone(),
        (None, Some(open)) => {
            GatewayIntentId::new(open).map_err(|e| CentralError::Corrupt(e.to_string()))?
        }
        (None, None) => {
            let e = CentralError::Conflict(format!(
                "order {order_id} has no payment at the gateway to reverse"
            ));
            return Err(refuse(&state, &session, "reversal_refused", e.into()).await);
        }
    };
    let view = gateway.intent(&intent_id).await.map_err(|e| {
        tracing::warn!(intent = %intent_id, error = %e, "reversal: intent read failed");
        CentralError::Unavailable(
            "the gateway could not be read: nothing was changed, send the same request again",
        )
    })?;
    let (kind, amount) = match view.status {
        IntentStatus::Succeeded => {
            let paid = view.amount_received.unwrap_or(view.amount.minor());
            let taken = order
                .refunded_minor
                .max(state.store.refunds_recorded(intent_id.as_str()).await?);
            let left = paid.saturating_sub(taken);
            let currency = view.amount.currency();
            let amount = match req.amount {
                Some(a) if a.currency() != currency => {
                    return Err(invalid(format!(
                        "the payment is in {}, not {}",
                        currency.code(),
                        a.currency().code()
                    )));
                }
                Some(a) => a,
                None => Money::new(left.max(0), currency)
                    .map_err(|e| CentralError::Corrupt(e.to_string()))?,
            };
            if left <= 0 || amount.minor() > left {
                let left = Money::new(left.max(0), currency)
                    .map_err(|e| CentralError::Corrupt(e.to_string()))?;
                let e = CentralError::Conflict(format!(
                    "at most {left} of order {order_id} can still be refunded, not {amount}"
                ));
                return Err(refuse(&state, &session, "reversal_refused", e.into()).await);
            }
            ("refund", amount)
        }
        IntentStatus::Canceled => {
            let e = CentralError::Conflict(format!(
                "the payment of order {order_id} is already canceled: nothing to reverse"
            ));
            return Err(refuse(&state, &session, "reversal_refused", e.into()).await);
        }
        _ => {
            if req.amount.is_some_and(|a| a != view.amount) {
                return Err(invalid(format!(
                    "nothing was captured, so the whole {} is canceled: leave out the amount",
                    view.amount
                )));
            }
            ("cancel", view.amount)
        }
    };
    let now = clock::now();
    let requester = session.operator_id.as_str().to_string();
    // The person's own refund limits first (settings), then the four-eyes threshold. One
    // refund per person at a time from here until it is recorded, so two at once cannot both
    // fit under the limit per day.
    let _one_at_a_time =
        crate::http_settings::one_refund_at_a_time(&state.store, &requester).await?;
    if kind == "refund" {
        if let Some(message) =
            crate::http_settings::check_refund_limits(&state, &requester, amount, now).await?
        {
            let e = CentralError::Refused(message);
            return Err(refuse(&state, &session, "reversal_refused", e.into()).await);
        }
    }
    let threshold = crate::http_settings::approval_threshold(&state).await?;
    let needs_approval = amount.minor() > threshold;
    let mut approved_by = None;
    match (&req.approval_id, needs_approval) {
        (None, true) => {
            let e = CentralError::Refused(format!(
                "a reversal of {amount} is above {} minor units and needs another manager's \
                 approval: ask them to run `paydesk approve {order_id} --amount \"{amount}\"` and \
                 pass its id as approval_id",
                threshold
            ));
            return Err(refuse(&state, &session, "reversal_refused", e.into()).await);
        }
        (None, false) => {}
        (Some(id), _) => {
            let approval = state.store.approval(id).await?;
            if let Err(message) =
                check_approval(approval.as_ref(), id, &order_id, amount, &requester, now)
            {
                let e = CentralError::Refused(message);
                return Err(refuse(&state, &session, "approval_refused", e.into()).await);
            }
            approved_by = approval.map(|a| a.approved_by);
        }
    }
    let gateway_key = format!("paydesk:{kind}:{intent_id}:{}", req.reversal_key);
    let row = ReversalRow {
        reversal_id: format!("rev_{}", uuid::Uuid::now_v7().simple()),
        reversal_key: req.reversal_key.clone(),
        order_id: order_id.as_str().to_string(),
        intent_id: intent_id.as_str().to_string(),
        kind: kind.to_string(),
        requested_minor: req.amount.map(|a| a.minor()),
        amount_minor: amount.minor(),
        currency: amount.currency().code().to_string(),
        reason,
        requested_by: requester,
        approved_by,
        approval_id: req.approval_id.clone(),
        terminal_id: session.terminal.terminal_id.as_str().to_string(),
        session_id: session.session_id.clone(),
        gateway_key,
        gateway_id: None,
        state: "pending".into(),
        failure: None,
        created_at: now.unix_ms(),
        updated_at: now.unix_ms(),
    };
    match state.store.record_reversal(&row, now).await? {
        Recorded::Written => {}
        Recorded::ApprovalGone => {
            let e = CentralError::Refused(format!(
                "approval {} was used or expired meanwhile: ask for a new one",
                req.approval_id.as_deref().unwrap_or("")
            ));
            return Err(refuse(&state, &session, "approval_refused", e.into()).await);
        }
        Recorded::KeyTaken => {
            let e = CentralError::Conflict(format!(
                "reversal_key {} was just used by another request: read \
                 GET /v1/orders/{order_id}/reversals",
                row.reversal_key
            ));
            return Err(e.into());
        }
    }
    audit(&state, &session, "reversal_requested").await?;
    tracing::info!(reversal = %row.reversal_id, order = %order_id, kind, amount = %amount, manager = %row.requested_by, approver = ?row.approved_by, "reversal requested");
    let row = drive(&state, &row).await?;
    Ok((StatusCode::CREATED, Json(row)))
}

pub(crate) async fn list_reversals(
    State(state): State<AppState>,
    _who: ManagerOrAdmin,
    path: Result<Path<String>, PathRejection>,
) -> AuthResult<Json<ReversalList>> {
    let order_id = order_path(path)?;
    state.store.order(&order_id).await?;
    let mut items = state.store.reversals_of_order(&order_id).await?;
    // Pending ones are followed up at the gateway (under their own keys) while being read.
    if state.config.gateway_actions.is_some() {
        for item in items
            .iter_mut()
            .filter(|r| r.state == "pending")
            .take(PENDING_FOLLOW_UP_MAX)
        {
            *item = drive(&state, item).await?;
        }
    }
    Ok(Json(ReversalList { items }))
}

pub(crate) async fn create_approval(
    State(state): State<AppState>,
    ManagerSession(session): ManagerSession,
    ApiJson(req): ApiJson<ApprovalRequest>,
) -> AuthResult<(StatusCode, Json<Approval>)> {
    if req.action != ACTION_REVERSAL {
        return Err(invalid(format!(
            "action {:?} cannot be approved: the only action is \"{ACTION_REVERSAL}\"",
            req.action
        )));
    }
    let order_id =
        OrderId::new(req.order_id.clone()).map_err(|e| invalid(format!("bad order_id: {e}")))?;
    if req.amount.minor() <= 0 {
        return Err(invalid("amount must be more than zero".into()));
    }
    crate::http_settings::require(
        &state,
        &session,
        paydesk_protocol::settings::Action::ApproveReversal,
    )
    .await?;
    session.recheck_pin(&state, &req.pin).await?;
    state.store.order(&order_id).await?;
    let now = clock::now();
    let row = ApprovalRow {
        approval_id: format!("apr_{}", uuid::Uuid::new_v4().simple()),
        action: req.action.clone(),
        order_id: order_id.as_str().to_string(),
        amount_minor: req.amount.minor(),
        currency: req.amount.currency().code().to_string(),
        approved_by: session.operator_id.as_str().to_string(),
        terminal_id: session.terminal.terminal_id.as_str().to_string(),
        session_id: session.session_id.clone(),
        created_at: now.unix_ms(),
        expires_at: now.unix_ms().saturating_add(state.config.approval_ttl_ms),
        used_at: None,
        used_by: None,
    };
    state.store.add_approval(&row).await?;
    audit(&state, &session, "approval_granted").await?;
    tracing::info!(approval = %row.approval_id, order = %order_id, amount = %req.amount, manager = %row.approved_by, "reversal approved");
    Ok((
        StatusCode::CREATED,
        Json(Approval {
            approval_id: row.approval_id,
            action: row.action,
            order_id: row.order_id,
            amount: req.amount,
            approved_by: row.approved_by,
            expires_at: row.expires_at,
        }),
    ))
}

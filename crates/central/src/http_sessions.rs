//! The routes of who is asking: signing in and out, re-checking a PIN, a manager's signed
//! offline allowance and its public key, and the admin's terminal-token management (list,
//! revoke, rotate).
//!
//! Deliberately absent: the checks themselves (`sessions`, `http_auth`, `allowances`) and SQL.

use std::sync::Arc;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use paydesk_core::TerminalId;
use paydesk_protocol::{
    AllowanceKey, AllowanceRequest, PinCheckRequest, RotateTerminalResponse, SessionGrant,
    SignInRequest, SignedAllowance, TerminalList,
};
use ring::signature::Ed25519KeyPair;

use crate::error::CentralError;
use crate::http::{ApiJson, AppState};
use crate::http_auth::{AdminAuth, AuthError, ManagerSession, OperatorSession, TerminalIdentity};
use crate::store::AuthEvent;
use crate::{allowances, auth, clock, sessions};

type AuthResult<T> = Result<T, AuthError>;

/// The key that signs offline allowances: the configured one, or one made for this run.
fn allowance_key(state: &AppState) -> &Arc<Ed25519KeyPair> {
    match &state.config.allowance_key {
        Some(key) => key,
        None => state.terminals.ephemeral_key(),
    }
}

pub(crate) async fn sign_in(
    State(state): State<AppState>,
    terminal: TerminalIdentity,
    ApiJson(req): ApiJson<SignInRequest>,
) -> AuthResult<(StatusCode, Json<SessionGrant>)> {
    let grant = sessions::sign_in(&state, &terminal, &req.operator_id, &req.pin).await?;
    Ok((StatusCode::CREATED, Json(grant)))
}

pub(crate) async fn sign_out(
    State(state): State<AppState>,
    session: OperatorSession,
) -> AuthResult<StatusCode> {
    let now = clock::now();
    state.store.end_session(&session.session_id, now).await?;
    state
        .store
        .audit_auth(
            &AuthEvent {
                event: "signed_out",
                terminal_id: Some(session.terminal.terminal_id.as_str()),
                operator_id: Some(session.operator_id.as_str()),
                token_id: Some(session.terminal.token_id.as_str()),
                session_id: Some(&session.session_id),
            },
            now,
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(crate) async fn check_pin(
    State(state): State<AppState>,
    session: OperatorSession,
    ApiJson(req): ApiJson<PinCheckRequest>,
) -> AuthResult<StatusCode> {
    session.recheck_pin(&state, &req.pin).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(crate) async fn issue_allowance(
    State(state): State<AppState>,
    ManagerSession(session): ManagerSession,
    ApiJson(req): ApiJson<AllowanceRequest>,
) -> AuthResult<(StatusCode, Json<SignedAllowance>)> {
    // The caps first: a mistyped cap costs the manager no PIN try and writes nothing.
    allowances::check_request(&req).map_err(CentralError::Invalid)?;
    crate::http_settings::require(
        &state,
        &session,
        paydesk_protocol::settings::Action::GrantOffline,
    )
    .await?;
    session.recheck_pin(&state, &req.pin).await?;
    let now = clock::now();
    let signed = allowances::grant(
        allowance_key(&state),
        &req,
        &session.terminal.terminal_id,
        &session.operator_id,
        now,
    );
    state
        .store
        .add_offline_grant(&signed, &session.session_id)
        .await?;
    state
        .store
        .audit_auth(
            &AuthEvent {
                event: "allowance_granted",
                terminal_id: Some(session.terminal.terminal_id.as_str()),
                operator_id: Some(session.operator_id.as_str()),
                token_id: Some(session.terminal.token_id.as_str()),
                session_id: Some(&session.session_id),
            },
            now,
        )
        .await?;
    tracing::info!(grant = %signed.grant.grant_id, terminal = %signed.grant.terminal_id, manager = %signed.grant.approved_by, "offline allowance granted");
    Ok((StatusCode::CREATED, Json(signed)))
}

pub(crate) async fn allowance_public_key(
    State(state): State<AppState>,
    _terminal: TerminalIdentity,
) -> Json<AllowanceKey> {
    Json(AllowanceKey {
        public_key: allowances::public_key_hex(allowance_key(&state)),
    })
}

pub(crate) async fn list_terminals(
    State(state): State<AppState>,
    _admin: AdminAuth,
) -> AuthResult<Json<TerminalList>> {
    Ok(Json(TerminalList {
        terminals: state.store.terminals().await?,
    }))
}

fn terminal_path(path: Result<Path<String>, PathRejection>) -> Result<TerminalId, CentralError> {
    let Path(raw) = path.map_err(|e| CentralError::Invalid(e.body_text()))?;
    TerminalId::new(raw)
        .map_err(|e| CentralError::Invalid(format!("bad terminal id in the path: {e}")))
}

fn unknown_terminal(id: &TerminalId) -> AuthError {
    CentralError::NotFound(format!(
        "terminal {id} is not registered: see GET /v1/admin/terminals"
    ))
    .into()
}

pub(crate) async fn revoke_terminal(
    State(state): State<AppState>,
    _admin: AdminAuth,
    path: Result<Path<String>, PathRejection>,
) -> AuthResult<StatusCode> {
    let id = terminal_path(path)?;
    let now = clock::now();
    let token_id = state
        .store
        .revoke_terminal(&id, now)
        .await?
        .ok_or_else(|| unknown_terminal(&id))?;
    state.terminals.clear_cache();
    let ended = state.store.end_terminal_sessions(&id, now).await?;
    state
        .store
        .audit_auth(
            &AuthEvent {
                event: "token_revoked",
                terminal_id: Some(id.as_str()),
                token_id: Some(&token_id),
                ..AuthEvent::default()
            },
            now,
        )
        .await?;
    tracing::warn!(terminal = %id, token_id = %token_id, sessions_ended = ended, "terminal token revoked");
    Ok(StatusCode::NO_CONTENT)
}

pub(crate) async fn rotate_terminal(
    State(state): State<AppState>,
    _admin: AdminAuth,
    path: Result<Path<String>, PathRejection>,
) -> AuthResult<Json<RotateTerminalResponse>> {
    let id = terminal_path(path)?;
    let now = clock::now();
    let token = auth::new_token();
    let (old_id, token_id) = state
        .store
        .rotate_terminal(&id, &auth::token_sha256(&token))
        .await?
        .ok_or_else(|| unknown_terminal(&id))?;
    state.terminals.clear_cache();
    // Sessions opened under the old token end with it: whoever held that token signs in anew.
    state.store.end_terminal_sessions(&id, now).await?;
    for (event, token_id) in [("token_revoked", &old_id), ("token_rotated", &token_id)] {
        state
            .store
            .audit_auth(
                &AuthEvent {
                    event,
                    terminal_id: Some(id.as_str()),
                    token_id: Some(token_id),
                    ..AuthEvent::default()
                },
                now,
            )
            .await?;
    }
    tracing::warn!(terminal = %id, old_token_id = %old_id, token_id = %token_id, "terminal token rotated");
    Ok(Json(RotateTerminalResponse {
        terminal_id: id,
        token_id,
        token,
    }))
}

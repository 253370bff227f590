//! `DELETE /v1/offline-allowances/{grant_id}`: a manager (session, the grant-offline permission,
//! the PIN again) withdraws an offline allowance at once. The grant's window is closed at the
//! central, so an offline result dated after the withdrawal is not applied even if a terminal
//! still holds the signed grant; the terminal that asked deletes its copy too. Audited as
//! `allowance_withdrawn`.
//!
//! Deliberately absent: signing anything (a withdrawal needs no signature: the central is the
//! one that checks offline results) and reopening a grant (a new one is granted instead).

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::Json;
use serde::{Deserialize, Serialize};

use crate::clock;
use crate::error::CentralError;
use crate::http::{ApiJson, AppState};
use crate::http_auth::{AuthError, ManagerSession};
use crate::store::{AuthEvent, Withdrawal};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct WithdrawRequest {
    pin: String,
}

#[derive(Debug, Serialize)]
pub(crate) struct WithdrawnAllowance {
    grant_id: String,
    terminal_id: String,
    /// When the grant ends now, milliseconds since the Unix epoch (UTC).
    until: i64,
    /// False when the grant had already ended (nothing changed).
    withdrawn: bool,
}

pub(crate) async fn withdraw_allowance(
    State(state): State<AppState>,
    ManagerSession(session): ManagerSession,
    grant_id: Result<Path<String>, PathRejection>,
    ApiJson(req): ApiJson<WithdrawRequest>,
) -> Result<Json<WithdrawnAllowance>, AuthError> {
    let Path(grant_id) = grant_id.map_err(|e| CentralError::Invalid(e.body_text()))?;
    if grant_id.is_empty()
        || grant_id.len() > 100
        || !grant_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-".contains(c))
    {
        return Err(CentralError::Invalid(format!(
            "grant id {grant_id:?} is not a grant id: use the grant_id of the signed allowance"
        ))
        .into());
    }
    crate::http_settings::require(
        &state,
        &session,
        paydesk_protocol::settings::Action::GrantOffline,
    )
    .await?;
    session.recheck_pin(&state, &req.pin).await?;
    let now = clock::now();
    let (terminal_id, until, withdrawn) = match state
        .store
        .withdraw_offline_grant(&grant_id, now.unix_ms())
        .await?
    {
        Withdrawal::Ended {
            terminal_id,
            until_at,
        } => (terminal_id, until_at, true),
        Withdrawal::AlreadyEnded {
            terminal_id,
            until_at,
        } => (terminal_id, until_at, false),
        Withdrawal::NotFound => {
            return Err(CentralError::NotFound(format!(
                "no offline allowance {grant_id}: check the grant id"
            ))
            .into())
        }
    };
    if withdrawn {
        state
            .store
            .audit_auth(
                &AuthEvent {
                    event: "allowance_withdrawn",
                    terminal_id: Some(&terminal_id),
                    operator_id: Some(session.operator_id.as_str()),
                    token_id: Some(session.terminal.token_id.as_str()),
                    session_id: Some(&session.session_id),
                },
                now,
            )
            .await?;
        tracing::info!(grant = %grant_id, terminal = %terminal_id, manager = %session.operator_id, "offline allowance withdrawn");
    }
    Ok(Json(WithdrawnAllowance {
        grant_id,
        terminal_id,
        until,
        withdrawn,
    }))
}

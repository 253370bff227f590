//! `POST /v1/orders/{order_id}/claim`: the per-order processing flag, taken by the operator
//! signed in, after the duplicate guard and the check of the amount asked for (issue 12). Moved
//! out of `http.rs` to keep it under the size limit; deliberately absent: SQL and the rules
//! (the store, `claim_guard`, `claim_amount`).

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use paydesk_protocol::settings::Action::Charge;
use paydesk_protocol::ClaimRequest;

use crate::clock;
use crate::error::CentralError;
use crate::http::{ApiJson, AppState};
use crate::http_auth::OperatorSession;
use crate::http_input::order_path;

/// A claim is made by the person signed in: the operator comes from the session, and a body
/// naming anyone else is refused with nothing written (finding H1). The body keeps its
/// `operator_id` so a terminal states whom it means.
pub(crate) async fn claim(
    State(state): State<AppState>,
    session: OperatorSession,
    path: Result<Path<String>, PathRejection>,
    ApiJson(req): ApiJson<ClaimRequest>,
) -> Result<Response, CentralError> {
    let order_id = order_path(path)?;
    if req.operator_id != session.operator_id {
        return Err(CentralError::Forbidden(
            "operator_id is not the operator signed in on this session: sign in as that \
             operator to claim for them",
        ));
    }
    crate::http_settings::require(&state, &session, Charge).await?;
    // The guard (issue 12): the card's reattempt limit and a similar recent payment first; a
    // refused claim then names the earlier attempt in its way. Each firing is audited.
    let asker = crate::claim_guard::Asker {
        operator_id: &session.operator_id,
        terminal_id: &session.terminal.terminal_id,
        session_id: Some(&session.session_id),
    };
    let now = clock::now();
    crate::claim_guard::before_claim(&state.store, &order_id, asker, req.confirm_similar, now)
        .await?;
    let asked = crate::claim_amount::check(&state, &session, &order_id, &req).await?;
    let claim = match state
        .store
        .claim_amount(
            &order_id,
            &session.operator_id,
            &session.terminal.terminal_id,
            Some(&session.session_id),
            now,
            state.config.lease_ms,
            asked.minor,
        )
        .await
    {
        Ok(claim) => claim,
        Err(e) => {
            return Err(
                crate::claim_guard::explain_refusal(&state.store, &order_id, asker, e, now).await,
            )
        }
    };
    crate::claim_amount::record(&state, &session, &claim, &asked, now).await?;
    Ok((StatusCode::CREATED, Json(claim)).into_response())
}

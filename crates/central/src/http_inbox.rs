//! The manager's exception inbox and guided resolutions (issue 11):
//! `GET /v1/exceptions` lists everything at the central that needs a person, counted per kind
//! for a badge and paged; `POST /v1/orders/{order_id}/resolutions` applies a manager's decision
//! only when the gateway's evidence, read by the central itself, allows it.
//!
//! Deliberately absent: cancelling an open intent (a gateway action: the reversals of
//! `crate::http_reversals` cancel what was not captured) and the terminal's own exceptions
//! (the `paydesk inbox` command adds them).

use std::collections::BTreeMap;

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::Json;
use paydesk_core::GatewayIntentId;
use paydesk_protocol::OrderStatus;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::clock;
use crate::error::CentralError;
use crate::http::{ApiJson, AppState};
use crate::http_auth::{rfc3339, AuthError, ManagerOrAdmin, ManagerSession};
use crate::http_input::order_path;
use crate::store::{ExceptionItem, NewResolution};
use crate::sweeper::{verify_success, Expected, IntentEvidence, Verification};

type AuthResult<T> = Result<T, AuthError>;

/// Items per page unless `limit` says otherwise, and the most `limit` may ask for.
pub const EXCEPTION_PAGE_DEFAULT: usize = 100;
pub const EXCEPTION_PAGE_MAX: usize = 500;
/// The longest reason a decision takes, in characters.
pub const RESOLUTION_REASON_MAX: usize = 500;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ExceptionQuery {
    cursor: Option<String>,
    limit: Option<usize>,
}

fn item_json(item: &ExceptionItem, now_ms: i64) -> Value {
    json!({
        "kind": item.kind, "item_id": item.item_id, "order_id": item.order_id,
        "since": rfc3339(item.since_ms), "since_ms": item.since_ms,
        "age_ms": (now_ms - item.since_ms).max(0), "summary": item.summary,
        "evidence": item.evidence,
    })
}

fn cursor_of(item: &ExceptionItem) -> String {
    format!("{}~{}", item.since_ms, item.item_id)
}

pub(crate) async fn list_exceptions(
    State(state): State<AppState>,
    _who: ManagerOrAdmin,
    query: Result<Query<ExceptionQuery>, QueryRejection>,
) -> AuthResult<Json<Value>> {
    let Query(q) = query.map_err(|e| {
        CentralError::Invalid(format!(
            "{}: the query takes cursor and limit (1 to {EXCEPTION_PAGE_MAX})",
            e.body_text()
        ))
    })?;
    let limit = q.limit.unwrap_or(EXCEPTION_PAGE_DEFAULT);
    if limit == 0 || limit > EXCEPTION_PAGE_MAX {
        return Err(
            CentralError::Invalid(format!("limit must be 1 to {EXCEPTION_PAGE_MAX}")).into(),
        );
    }
    let after = match &q.cursor {
        None => None,
        Some(c) => {
            let parsed = c
                .split_once('~')
                .and_then(|(ms, id)| Some((ms.parse::<i64>().ok()?, id.to_string())));
            Some(parsed.ok_or_else(|| {
                CentralError::Invalid(
                    "cursor is not one this endpoint gave: pass next_cursor as it came".into(),
                )
            })?)
        }
    };
    let items = state.store.exceptions().await?;
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for item in &items {
        *counts.entry(item.kind).or_default() += 1;
    }
    let rest: Vec<&ExceptionItem> = items
        .iter()
        .filter(|i| match &after {
            None => true,
            Some((ms, id)) => (i.since_ms, &i.item_id) > (*ms, id),
        })
        .collect();
    let now = clock::now().unix_ms();
    let page: Vec<Value> = rest.iter().take(limit).map(|i| item_json(i, now)).collect();
    let next = (rest.len() > limit).then(|| cursor_of(rest[limit - 1]));
    Ok(Json(json!({
        "total": items.len(), "counts": counts, "items": page, "next_cursor": next,
    })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ResolutionRequest {
    action: String,
    #[serde(default)]
    intent_id: Option<String>,
    reason: String,
    pin: String,
}

fn invalid(message: String) -> AuthError {
    CentralError::Invalid(message).into()
}

fn check_reason(reason: &str) -> Result<&str, String> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err("reason is required: say in a few words why you decide this".into());
    }
    if reason.chars().count() > RESOLUTION_REASON_MAX {
        return Err(format!(
            "reason is longer than {RESOLUTION_REASON_MAX} characters"
        ));
    }
    if reason.chars().any(char::is_control) {
        return Err("reason contains control characters (new lines, tabs): one line".into());
    }
    Ok(reason)
}

/// A decision the evidence does not allow: recorded as refused, answered 409.
async fn refuse(state: &AppState, r: &NewResolution<'_>, message: String) -> AuthError {
    let r = NewResolution {
        evidence: &message,
        ..r.clone()
    };
    if let Err(e) = state
        .store
        .record_resolution(&r, "refused", clock::now())
        .await
    {
        return e.into();
    }
    CentralError::Conflict(message).into()
}

pub(crate) async fn resolve(
    State(state): State<AppState>,
    ManagerSession(session): ManagerSession,
    path: Result<Path<String>, PathRejection>,
    ApiJson(req): ApiJson<ResolutionRequest>,
) -> AuthResult<Json<Value>> {
    // The input first: a mistyped request costs no PIN try and writes nothing.
    let order_id = order_path(path)?;
    let reason = check_reason(&req.reason).map_err(invalid)?;
    let intent = match (req.action.as_str(), &req.intent_id) {
        ("mark_charged", Some(i)) => {
            Some(GatewayIntentId::new(i.clone()).map_err(|e| invalid(format!("intent_id: {e}")))?)
        }
        ("mark_charged", None) => {
            return Err(invalid(
                "mark_charged needs intent_id: the gateway intent that charged this order".into(),
            ))
        }
        ("mark_not_charged", None) => None,
        ("mark_not_charged", Some(_)) => {
            return Err(invalid(
                "mark_not_charged takes no intent_id: the central checks every intent of the \
                 order"
                    .into(),
            ))
        }
        ("cancel_open_intent", _) => {
            return Err(invalid(
                "cancel_open_intent is not done here: cancel an uncaptured intent with a \
                 reversal (POST /v1/orders/{order_id}/reversals), then mark the order not charged"
                    .into(),
            ))
        }
        (other, _) => {
            return Err(invalid(format!(
                "action {other:?} is not one of mark_charged, mark_not_charged"
            )))
        }
    };
    let record = |evidence: &'static str| NewResolution {
        order_id: order_id.as_str(),
        action: req.action.as_str(),
        intent_id: intent.as_ref().map(|i| i.as_str()),
        manager_id: session.operator_id.as_str(),
        session_id: &session.session_id,
        terminal_id: session.terminal.terminal_id.as_str(),
        reason,
        evidence,
    };
    crate::http_settings::require(
        &state,
        &session,
        paydesk_protocol::settings::Action::Resolve,
    )
    .await?;
    if let Err(e) = session.recheck_pin(&state, &req.pin).await {
        state
            .store
            .record_resolution(
                &record("the manager's PIN was refused"),
                "refused",
                clock::now(),
            )
            .await?;
        return Err(e);
    }
    let gateway = state.gateway.clone().ok_or(CentralError::Unavailable(
        "no gateway configured at the central: a decision needs its evidence (--gateway-url)",
    ))?;
    let order = state.store.order(&order_id).await?;
    let base = record("");
    let applied = match &intent {
        Some(intent) => {
            if order.status == OrderStatus::Paid {
                let by = order
                    .paid_intent_id
                    .as_ref()
                    .map_or("another intent".to_string(), |i| format!("intent {i}"));
                let m = format!("order {order_id} is already paid by {by}: nothing to mark");
                return Err(refuse(&state, &base, m).await);
            }
            let evidence = gateway.intent(intent).await;
            if let Err(e) = &evidence {
                tracing::warn!(intent = %intent, error = %e, "resolution: gateway not readable");
                return Err(CentralError::Unavailable(
                    "the gateway could not be read: nothing was decided; try again",
                )
                .into());
            }
            match verify_success(intent, &evidence, Expected::from(&order)) {
                Verification::Verified => {}
                Verification::Unverified(why) | Verification::Mismatch(why) => {
                    let m = format!("{why}: it cannot be marked charged");
                    return Err(refuse(&state, &base, m).await);
                }
            }
            let evidence = format!("intent {intent} succeeded at the gateway for this order");
            let r = NewResolution {
                evidence: &evidence,
                ..base.clone()
            };
            state
                .store
                .resolve_charged(&r, intent.as_str(), clock::now())
                .await?
                .map(|id| (id, evidence.clone()))
        }
        None => {
            if order.status == OrderStatus::Paid {
                let m = format!(
                    "order {order_id} is paid: it cannot be marked not charged (reverse it \
                     instead)"
                );
                return Err(refuse(&state, &base, m).await);
            }
            let mut seen = Vec::new();
            for id in state.store.order_intents(order_id.as_str()).await? {
                let Ok(gid) = GatewayIntentId::new(id.clone()) else {
                    continue;
                };
                let status = match gateway.intent(&gid).await {
                    Err(e) => {
                        tracing::warn!(intent = %id, error = %e, "resolution: gateway not readable");
                        return Err(CentralError::Unavailable(
                            "the gateway could not be read for every intent of the order: \
                             nothing was decided; try again",
                        )
                        .into());
                    }
                    Ok(IntentEvidence::Succeeded { .. }) => {
                        let m = format!(
                            "intent {id} succeeded at the gateway: the order cannot be marked \
                             not charged (mark it charged by {id}, or reverse it)"
                        );
                        return Err(refuse(&state, &base, m).await);
                    }
                    Ok(IntentEvidence::Pending { status }) => {
                        let m = format!(
                            "intent {id} is still {status} at the gateway and may yet charge: \
                             cancel it first"
                        );
                        return Err(refuse(&state, &base, m).await);
                    }
                    Ok(IntentEvidence::RequiresAction) => {
                        let m = format!(
                            "intent {id} requires the customer's action at the gateway and may \
                             yet charge: cancel it first"
                        );
                        return Err(refuse(&state, &base, m).await);
                    }
                    Ok(IntentEvidence::Declined) => "declined",
                    Ok(IntentEvidence::Canceled) => "canceled",
                };
                seen.push(format!("{id} {status}"));
            }
            let evidence = if seen.is_empty() {
                "no intent registered for this order".to_string()
            } else {
                format!("no intent succeeded at the gateway: {}", seen.join(", "))
            };
            let r = NewResolution {
                evidence: &evidence,
                ..base.clone()
            };
            state
                .store
                .resolve_not_charged(&r, clock::now())
                .await?
                .map(|id| (id, evidence.clone()))
        }
    };
    let Some((resolution_id, evidence)) = applied else {
        let m = format!(
            "order {order_id} changed meanwhile (paid, or a terminal holds a live claim): look \
             at it again"
        );
        return Err(refuse(&state, &base, m).await);
    };
    let order = state.store.order(&order_id).await?;
    Ok(Json(json!({
        "resolution_id": resolution_id, "order_id": order_id, "action": req.action,
        "intent_id": intent.as_ref().map(|i| i.as_str()), "outcome": "applied",
        "evidence": evidence, "decided_by": session.operator_id, "order": order,
    })))
}

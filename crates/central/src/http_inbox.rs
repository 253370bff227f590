//! The manager's exception inbox and guided resolutions (issue 11):
//! `GET /v1/exceptions` lists everything at the central that needs a person, counted per kind
//! for a badge and paged; `POST /v1/orders/{order_id}/resolutions` applies a manager's decision
//! — mark charged, mark not charged, cancel an open intent, acknowledge an item — only when the
//! order's evidence, gathered again by the central itself (`http_evidence::gather`), offers it
//! (`resolution_rules`); `POST /v1/exceptions/acknowledgements` closes an item that names no
//! order. Each decision takes a reason and the PIN again, is recorded (applied or refused), and
//! a re-sent one answers the first decision again (`repeated`).
//!
//! A `retry` is recorded here (PIN, role, and the evidence allowing it, like any decision) and
//! carried out by the terminal holding the attempt, with its keys. Deliberately absent: the
//! retry itself, reversals (`crate::http_reversals`) and the terminal's own exceptions (the `paydesk inbox`
//! command adds them).

use std::collections::BTreeMap;

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::Json;
use paydesk_core::{AttemptId, GatewayIntentId, IdempotencyKey, OrderId};
use paydesk_gateway::CancelResult;
use paydesk_protocol::manager::{
    AcknowledgeRequest, ExceptionItem as ItemWire, ExceptionList, ResolutionAction,
    ResolutionOutcome, ResolutionRequest,
};
use paydesk_protocol::OrderStatus;
use serde::Deserialize;

use crate::clock;
use crate::error::CentralError;
use crate::http::{ApiJson, AppState};
use crate::http_auth::{rfc3339, AuthError, ManagerOrAdmin, ManagerSession, OperatorSession};
use crate::http_evidence::gather;
use crate::http_input::order_path;
use crate::resolution_rules::{offers, refusal, Facts};
use crate::store::{ExceptionItem, NewResolution};
use crate::sweeper::{verify_success, Expected, Verification};

type AuthResult<T> = Result<T, AuthError>;

/// Items per page unless `limit` says otherwise, and the most `limit` may ask for.
pub const EXCEPTION_PAGE_DEFAULT: usize = 100;
pub const EXCEPTION_PAGE_MAX: usize = 500;
/// The longest reason a decision takes, in characters.
pub const RESOLUTION_REASON_MAX: usize = 500;
/// The longest inbox item id accepted (ids are a kind and a gateway or row id: ~60 characters).
const ITEM_ID_LEN_MAX: usize = 200;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ExceptionQuery {
    cursor: Option<String>,
    limit: Option<usize>,
}

/// An inbox item as the wire shows it at `now_ms`.
pub(crate) fn item_of(item: &ExceptionItem, now_ms: i64) -> ItemWire {
    ItemWire {
        kind: item.kind,
        item_id: item.item_id.clone(),
        order_id: item.order_id.clone(),
        since: rfc3339(item.since_ms),
        since_ms: item.since_ms,
        age_ms: (now_ms - item.since_ms).max(0),
        summary: item.summary.clone(),
        evidence: item.evidence.clone(),
        acknowledgeable: item.kind.is_acknowledgeable(),
        gateway: None,
    }
}

fn cursor_of(item: &ExceptionItem) -> String {
    format!("{}~{}", item.since_ms, item.item_id)
}

pub(crate) async fn list_exceptions(
    State(state): State<AppState>,
    _who: ManagerOrAdmin,
    query: Result<Query<ExceptionQuery>, QueryRejection>,
) -> AuthResult<Json<ExceptionList>> {
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
    let now = clock::now();
    let items = state.store.exceptions(now, state.config.lease_ms).await?;
    let mut counts: BTreeMap<String, u32> = BTreeMap::new();
    for item in &items {
        *counts.entry(item.kind.as_str().to_string()).or_default() += 1;
    }
    let rest: Vec<&ExceptionItem> = items
        .iter()
        .filter(|i| match &after {
            None => true,
            Some((ms, id)) => (i.since_ms, &i.item_id) > (*ms, id),
        })
        .collect();
    let now = now.unix_ms();
    let mut page: Vec<ItemWire> = rest.iter().take(limit).map(|i| item_of(i, now)).collect();
    // Which gateway each payment went through (issue 13, item 4).
    let orders: Vec<String> = page.iter().filter_map(|i| i.order_id.clone()).collect();
    let gateways = state.store.order_gateways(&orders).await?;
    for item in &mut page {
        item.gateway = item
            .order_id
            .as_ref()
            .and_then(|o| gateways.get(o))
            .and_then(|g| paydesk_protocol::GatewayName::parse(g));
    }
    let next = (rest.len() > limit).then(|| cursor_of(rest[limit - 1]));
    Ok(Json(ExceptionList {
        total: u32::try_from(items.len()).unwrap_or(u32::MAX),
        counts,
        items: page,
        next_cursor: next,
    }))
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

/// A decision as the request names it, checked before anything is read or any PIN try is spent.
struct Decision {
    action: ResolutionAction,
    intent: Option<GatewayIntentId>,
    item_id: Option<String>,
    /// The attempt a `retry` is of.
    attempt: Option<AttemptId>,
}

fn parse_decision(req: &ResolutionRequest) -> Result<Decision, String> {
    let intent = req
        .intent_id
        .as_ref()
        .map(|i| GatewayIntentId::new(i.clone()).map_err(|e| format!("intent_id: {e}")))
        .transpose()?;
    let item_id = req.item_id.clone();
    let attempt = req
        .attempt_id
        .as_deref()
        .map(|a| {
            AttemptId::parse(a)
                .map_err(|_| format!("attempt_id {a:?} is not an attempt id (a UUID)"))
        })
        .transpose()?;
    let (action, wants_intent, wants_item) = match req.action.as_str() {
        "mark_charged" => (ResolutionAction::MarkCharged, true, false),
        "mark_not_charged" => (ResolutionAction::MarkNotCharged, false, false),
        "cancel_open_intent" => (ResolutionAction::CancelOpenIntent, true, false),
        "acknowledge" => (ResolutionAction::Acknowledge, false, true),
        "retry" => (ResolutionAction::Retry, false, false),
        "archive_result" => (ResolutionAction::ArchiveResult, false, false),
        "reverse" => {
            return Err(
                "reverse with POST /v1/orders/{order_id}/reversals: it takes its own \
                        reversal key and, above the threshold, another manager's approval"
                    .into(),
            )
        }
        other => {
            return Err(format!(
                "action {other:?} is not one of mark_charged, mark_not_charged, \
                 cancel_open_intent, acknowledge, retry, archive_result"
            ))
        }
    };
    let name = action.as_str();
    match (wants_intent, &intent) {
        (true, None) if action == ResolutionAction::MarkCharged => {
            return Err(
                "mark_charged needs intent_id: the gateway intent that charged this order".into(),
            )
        }
        (true, None) => {
            return Err(format!(
                "{name} needs intent_id: the open intent to cancel at the gateway"
            ))
        }
        (false, Some(_)) if action == ResolutionAction::MarkNotCharged => {
            return Err(
                "mark_not_charged takes no intent_id: the central checks every intent \
                        of the order"
                    .into(),
            )
        }
        (false, Some(_)) => return Err(format!("{name} takes no intent_id")),
        _ => {}
    }
    match (wants_item, &item_id) {
        (true, None) => {
            return Err("acknowledge needs item_id: the inbox item to close".into());
        }
        (true, Some(i)) if i.is_empty() || i.chars().count() > ITEM_ID_LEN_MAX => {
            return Err(format!(
                "item_id must be 1 to {ITEM_ID_LEN_MAX} characters: pass it as the inbox gave it"
            ));
        }
        (false, Some(_)) => return Err(format!("{name} takes no item_id")),
        _ => {}
    }
    let on_attempt = matches!(
        action,
        ResolutionAction::Retry | ResolutionAction::ArchiveResult
    );
    match (on_attempt, &attempt) {
        (true, None) if action == ResolutionAction::Retry => {
            return Err(
                "retry needs attempt_id: the attempt the terminal holding it retries with its \
                 own keys"
                    .into(),
            )
        }
        (true, None) => {
            return Err(
                "archive_result needs attempt_id: the attempt whose refused result the \
                 terminal archives"
                    .into(),
            )
        }
        (false, Some(_)) => return Err(format!("{name} takes no attempt_id")),
        _ => {}
    }
    Ok(Decision {
        action,
        intent,
        item_id,
        attempt,
    })
}

/// The recorded decision, for a refusal or an applied one.
fn record<'a>(
    session: &'a OperatorSession,
    order_id: &'a str,
    action: &'a str,
    intent: Option<&'a str>,
    reason: &'a str,
    evidence: &'a str,
) -> NewResolution<'a> {
    NewResolution {
        order_id,
        action,
        intent_id: intent,
        attempt_id: None,
        manager_id: session.operator_id.as_str(),
        session_id: &session.session_id,
        terminal_id: session.terminal.terminal_id.as_str(),
        reason,
        evidence,
    }
}

#[allow(clippy::too_many_arguments)]
async fn outcome(
    state: &AppState,
    session: &OperatorSession,
    order_id: Option<&OrderId>,
    d: &Decision,
    resolution_id: i64,
    evidence: String,
    repeated: bool,
) -> AuthResult<Json<ResolutionOutcome>> {
    let order = match order_id {
        Some(o) => Some(state.store.order(o).await?),
        None => None,
    };
    Ok(Json(ResolutionOutcome {
        resolution_id,
        order_id: order_id.map(|o| o.to_string()),
        action: d.action,
        intent_id: d.intent.as_ref().map(|i| i.to_string()),
        item_id: d.item_id.clone(),
        outcome: "applied".into(),
        evidence,
        decided_by: session.operator_id.to_string(),
        repeated,
        order,
    }))
}

fn gateway_unreadable() -> AuthError {
    CentralError::Unavailable(
        "the gateway could not be read for every intent of the order: nothing was decided; try \
         again",
    )
    .into()
}

pub(crate) async fn resolve(
    State(state): State<AppState>,
    ManagerSession(session): ManagerSession,
    path: Result<Path<String>, PathRejection>,
    ApiJson(req): ApiJson<ResolutionRequest>,
) -> AuthResult<Json<ResolutionOutcome>> {
    // The input first: a mistyped request costs no PIN try and writes nothing.
    let order_id = order_path(path)?;
    let reason = check_reason(&req.reason).map_err(invalid)?;
    let d = parse_decision(&req).map_err(invalid)?;
    let intent = d.intent.as_ref().map(|i| i.as_str());
    let action = d.action.as_str();
    let attempt = d.attempt.map(|a| a.to_string());
    let mut base = record(&session, order_id.as_str(), action, intent, reason, "");
    base.attempt_id = attempt.as_deref();
    crate::http_settings::require(
        &state,
        &session,
        paydesk_protocol::settings::Action::Resolve,
    )
    .await?;
    if let Err(e) = session.recheck_pin(&state, &req.pin).await {
        let r = NewResolution {
            evidence: "the manager's PIN was refused",
            ..base.clone()
        };
        state
            .store
            .record_resolution(&r, "refused", clock::now())
            .await?;
        return Err(e);
    }
    // A re-sent decision finds the first one and changes nothing. (Not a retry: a manager may
    // retry an attempt again, and each is its own decision.)
    let again = match d.action {
        ResolutionAction::Retry | ResolutionAction::ArchiveResult => None,
        _ => repeated(&state, &order_id, &d, reason).await?,
    };
    if let Some((id, evidence)) = again {
        return outcome(&state, &session, Some(&order_id), &d, id, evidence, true).await;
    }
    if d.action == ResolutionAction::ArchiveResult {
        return archive_result(&state, &session, &order_id, &d, &base).await;
    }
    if d.action != ResolutionAction::Acknowledge
        && state.gateway.is_none()
        && state.config.gateway_actions.is_none()
    {
        return Err(CentralError::Unavailable(
            "no gateway configured at the central: a decision needs its evidence (--gateway-url)",
        )
        .into());
    }
    let evidence = gather(&state, &order_id).await?;
    let now_ms = clock::now().unix_ms();
    let facts = Facts {
        order: &evidence.central.detail.order,
        now_ms,
        gateway: &evidence.gateway,
        items: &evidence.exceptions,
    };
    let item = d.item_id.as_deref();
    if !offers(&evidence.allowed_actions, d.action, intent, item) {
        if d.action != ResolutionAction::Acknowledge && !evidence.gateway.unreadable.is_empty() {
            return Err(gateway_unreadable());
        }
        return Err(refuse(&state, &base, refusal(&facts, d.action, intent, item)).await);
    }
    let order = &evidence.central.detail.order;
    let applied = match d.action {
        ResolutionAction::MarkCharged => {
            let gid = d
                .intent
                .as_ref()
                .expect("parse_decision: mark_charged has an intent");
            // The read-only lookup also checks the customer and payment method it charged.
            if let Some(lookup) = state.gateway.as_deref() {
                let read = lookup.intent(gid).await;
                if read.is_err() {
                    return Err(gateway_unreadable());
                }
                match verify_success(gid, &read, Expected::from(order)) {
                    Verification::Verified => {}
                    Verification::Unverified(why) | Verification::Mismatch(why) => {
                        let m = format!("{why}: it cannot be marked charged");
                        return Err(refuse(&state, &base, m).await);
                    }
                }
            }
            let evidence = format!("intent {gid} succeeded at the gateway for this order");
            let r = NewResolution {
                evidence: &evidence,
                ..base.clone()
            };
            state
                .store
                .resolve_charged(&r, gid.as_str(), clock::now())
                .await?
                .map(|id| (id, evidence.clone()))
        }
        ResolutionAction::MarkNotCharged => {
            let seen: Vec<String> = evidence
                .gateway
                .intents
                .iter()
                .map(|i| {
                    let word = if i.declined { "declined" } else { &i.status };
                    format!("{} {word}", i.intent_id)
                })
                .collect();
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
        ResolutionAction::CancelOpenIntent => {
            let gid = d
                .intent
                .as_ref()
                .expect("parse_decision: cancel has an intent");
            Some(cancel_open_intent(&state, &order_id, gid, &base).await?)
        }
        ResolutionAction::Acknowledge => {
            let item = evidence
                .exceptions
                .iter()
                .find(|i| Some(i.item_id.as_str()) == d.item_id.as_deref())
                .expect("offers: an acknowledged item is open");
            let text = format!("acknowledged {}: {}", item.item_id, item.summary);
            let r = NewResolution {
                evidence: &text,
                ..base.clone()
            };
            let (id, again) = state.store.acknowledge(item, &r, clock::now()).await?;
            return outcome(&state, &session, Some(&order_id), &d, id, text, again).await;
        }
        ResolutionAction::Retry => {
            // Nothing changes here: the terminal holding the attempt re-sends it under its own
            // keys once this is recorded, so it cannot charge twice.
            let attempt = d.attempt.expect("parse_decision: retry has an attempt");
            let seen: Vec<String> = evidence
                .gateway
                .intents
                .iter()
                .map(|i| {
                    let word = if i.declined { "declined" } else { &i.status };
                    format!("{} {word}", i.intent_id)
                })
                .collect();
            let text = format!(
                "terminal {} retries attempt {attempt} with its own keys; no intent succeeded \
                 or is in flight at the gateway: {}",
                session.terminal.terminal_id,
                seen.join(", ")
            );
            let r = NewResolution {
                evidence: &text,
                ..base.clone()
            };
            let id = state
                .store
                .record_resolution(&r, "applied", clock::now())
                .await?;
            Some((id, text))
        }
        ResolutionAction::Reverse | ResolutionAction::ArchiveResult => {
            unreachable!("parse_decision refuses reverse; archive_result returned above")
        }
    };
    let Some((resolution_id, evidence)) = applied else {
        let m = format!(
            "order {order_id} changed meanwhile (paid, or a terminal holds a live claim): look \
             at it again"
        );
        return Err(refuse(&state, &base, m).await);
    };
    outcome(
        &state,
        &session,
        Some(&order_id),
        &d,
        resolution_id,
        evidence,
        false,
    )
    .await
}

/// Records that the terminal archives its result of the decision's attempt, which the central
/// refused: no evidence to weigh and nothing to change here (the terminal keeps the result in its
/// journal and stops sending it), so it needs no gateway, and the order may be one the central
/// does not hold (a result can be refused for that very reason).
async fn archive_result(
    state: &AppState,
    session: &OperatorSession,
    order_id: &OrderId,
    d: &Decision,
    base: &NewResolution<'_>,
) -> AuthResult<Json<ResolutionOutcome>> {
    let attempt = d
        .attempt
        .expect("parse_decision: archive_result has an attempt");
    let text = format!(
        "terminal {} archives its result of attempt {attempt}, which the central refused: kept \
         in its journal, no longer sent",
        session.terminal.terminal_id
    );
    let r = NewResolution {
        evidence: &text,
        ..base.clone()
    };
    let resolution_id = state
        .store
        .record_resolution(&r, "applied", clock::now())
        .await?;
    let order = match state.store.order(order_id).await {
        Ok(order) => Some(order),
        Err(CentralError::OrderNotFound(_)) => None,
        Err(e) => return Err(e.into()),
    };
    Ok(Json(ResolutionOutcome {
        resolution_id,
        order_id: Some(order_id.to_string()),
        action: d.action,
        intent_id: None,
        item_id: None,
        outcome: "applied".into(),
        evidence: text,
        decided_by: session.operator_id.to_string(),
        repeated: false,
        order,
    }))
}

/// The first decision, when this request repeats one already applied (same action, intent and
/// reason) and the order still shows it.
async fn repeated(
    state: &AppState,
    order_id: &OrderId,
    d: &Decision,
    reason: &str,
) -> AuthResult<Option<(i64, String)>> {
    if let Some(item) = &d.item_id {
        return Ok(state
            .store
            .acknowledgement_of(item)
            .await?
            .map(|id| (id, format!("{item} was already acknowledged"))));
    }
    let intent = d.intent.as_ref().map(|i| i.as_str());
    let Some(first) = state
        .store
        .applied_resolution(order_id.as_str(), d.action.as_str(), intent, reason)
        .await?
    else {
        return Ok(None);
    };
    let order = state.store.order(order_id).await?;
    let still = match d.action {
        ResolutionAction::MarkCharged => {
            order.paid_intent_id.as_ref().map(|i| i.as_str()) == intent
        }
        ResolutionAction::MarkNotCharged => order.status != OrderStatus::Paid,
        _ => true,
    };
    Ok(still.then_some(first))
}

/// Cancels `intent` at the gateway under its cancel key (the one any cancel of it uses, so a
/// re-sent or concurrent cancel lands once), then releases the order when the evidence, read
/// again, allows marking it not charged. Returns the decision's id and its evidence.
async fn cancel_open_intent(
    state: &AppState,
    order_id: &OrderId,
    intent: &GatewayIntentId,
    base: &NewResolution<'_>,
) -> AuthResult<(i64, String)> {
    let actions = state
        .config
        .gateway_actions
        .as_deref()
        .ok_or(CentralError::Unavailable(
            "the central may only read this gateway: cancelling needs the full key (--gateway-url \
         with a key that may write)",
        ))?;
    match actions
        .cancel(intent, &IdempotencyKey::for_cancel(intent))
        .await
    {
        Ok(CancelResult::Canceled(_)) => {}
        Ok(CancelResult::NotCancelable(view)) => {
            let m = format!(
                "the gateway refused to cancel {intent}: it is {} now; look at the evidence again",
                view.status_raw
            );
            return Err(refuse(state, base, m).await);
        }
        Ok(CancelResult::NotSent { detail }) | Err(detail) => {
            tracing::warn!(intent = %intent, %detail, "resolution: cancel not sent");
            return Err(CentralError::Unavailable(
                "the cancel did not reach the gateway: nothing changed; try again",
            )
            .into());
        }
        Ok(CancelResult::Unknown { detail }) => {
            tracing::warn!(intent = %intent, %detail, "resolution: cancel answer lost");
            return Err(CentralError::Unavailable(
                "the gateway's answer to the cancel was lost: try again (the same key makes it \
                 safe)",
            )
            .into());
        }
    }
    let cancelled = format!("intent {intent} cancelled at the gateway");
    let after = gather(state, order_id).await?;
    if offers(
        &after.allowed_actions,
        ResolutionAction::MarkNotCharged,
        None,
        None,
    ) {
        let evidence = format!("{cancelled}; no intent of the order can charge: released");
        let r = NewResolution {
            evidence: &evidence,
            ..base.clone()
        };
        if let Some(id) = state.store.resolve_not_charged(&r, clock::now()).await? {
            return Ok((id, evidence));
        }
    }
    let evidence = format!("{cancelled}; the order stays as it is (another intent or a claim)");
    let r = NewResolution {
        evidence: &evidence,
        ..base.clone()
    };
    let id = state
        .store
        .record_resolution(&r, "applied", clock::now())
        .await?;
    Ok((id, evidence))
}

/// `POST /v1/exceptions/acknowledgements`: closes an open item that may be acknowledged, also
/// one that names no order (recorded with order id `''`).
pub(crate) async fn acknowledge(
    State(state): State<AppState>,
    ManagerSession(session): ManagerSession,
    ApiJson(req): ApiJson<AcknowledgeRequest>,
) -> AuthResult<Json<ResolutionOutcome>> {
    let reason = check_reason(&req.reason).map_err(invalid)?;
    if req.item_id.is_empty() || req.item_id.chars().count() > ITEM_ID_LEN_MAX {
        return Err(invalid(format!(
            "item_id must be 1 to {ITEM_ID_LEN_MAX} characters: pass it as the inbox gave it"
        )));
    }
    let d = Decision {
        action: ResolutionAction::Acknowledge,
        intent: None,
        item_id: Some(req.item_id.clone()),
        attempt: None,
    };
    let now = clock::now();
    let items = state.store.exceptions(now, state.config.lease_ms).await?;
    let open = items.iter().find(|i| i.item_id == req.item_id);
    let order_id = open.and_then(|i| i.order_id.clone()).unwrap_or_default();
    let base = record(&session, &order_id, "acknowledge", None, reason, "");
    crate::http_settings::require(
        &state,
        &session,
        paydesk_protocol::settings::Action::Resolve,
    )
    .await?;
    if let Err(e) = session.recheck_pin(&state, &req.pin).await {
        let r = NewResolution {
            evidence: "the manager's PIN was refused",
            ..base.clone()
        };
        state.store.record_resolution(&r, "refused", now).await?;
        return Err(e);
    }
    let order = open
        .and_then(|i| i.order_id.as_deref())
        .and_then(|o| OrderId::new(o).ok());
    if let Some(id) = state.store.acknowledgement_of(&req.item_id).await? {
        let text = format!("{} was already acknowledged", req.item_id);
        return outcome(&state, &session, order.as_ref(), &d, id, text, true).await;
    }
    let Some(open) = open else {
        return Err(CentralError::NotFound(format!(
            "item {} is not open in the inbox: refresh the inbox and pick it again",
            req.item_id
        ))
        .into());
    };
    if !open.kind.is_acknowledgeable() {
        let m = format!(
            "a {} item is closed by a decision about the money, not acknowledged",
            open.kind.as_str()
        );
        return Err(refuse(&state, &base, m).await);
    }
    let wire = item_of(open, now.unix_ms());
    let text = format!("acknowledged {}: {}", open.item_id, open.summary);
    let r = NewResolution {
        evidence: &text,
        ..base.clone()
    };
    let (id, again) = state.store.acknowledge(&wire, &r, clock::now()).await?;
    outcome(&state, &session, order.as_ref(), &d, id, text, again).await
}

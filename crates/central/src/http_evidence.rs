//! An order's evidence (issue 11, guided resolution): `GET /v1/orders/{order_id}/evidence`
//! puts the central's record (the order, its results and registered intents, decisions,
//! reversals, refunds) beside a live gateway lookup of every intent the central knows for the
//! order plus any the gateway's search finds by `metadata['order_id']`, with the order's open
//! inbox items and the actions this evidence allows (`resolution_rules`). The resolution route
//! gathers the same evidence again before it acts ([`gather`]).
//!
//! Each lookup costs the gateway one search and one read per intent, and the gateway's rate
//! limit is shared with charging: at most [`EVIDENCE_LOOKUPS_PER_MINUTE`] per manager session.
//! Deliberately absent: deciding (`resolution_rules`) and anything that changes state.

use std::collections::BTreeMap;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::Json;
use paydesk_core::{GatewayIntentId, IntentStatus, OrderId};
use paydesk_gateway::IntentView;
use paydesk_protocol::manager::{
    CentralRecord, ExceptionItem, FoundBy, GatewayEvidence, GatewayIntentEvidence, OrderEvidence,
    RefundRecord, ResolutionRecord, ReversalRecord,
};

use crate::clock;
use crate::http::AppState;
use crate::http_auth::{rfc3339, AuthError, ManagerOrAdmin};
use crate::http_inbox::item_of;
use crate::http_input::order_path;
use crate::rate_limit::Limit;
use crate::resolution_rules::{allowed_actions, Facts};
use crate::sweeper::IntentEvidence;

/// Evidence lookups per manager session per minute: a manager opens an order, looks again after
/// a cancel or a call to the customer; 20 a minute is far above that, and at most about 100
/// gateway calls a minute for orders of a few intents — a small share of a gateway's limit
/// (Stripe allows 100 reads a second in live mode).
pub const EVIDENCE_LOOKUPS_PER_MINUTE: usize = 20;
const EVIDENCE_LIMIT: Limit = Limit {
    events_max: EVIDENCE_LOOKUPS_PER_MINUTE,
    window_ms: 60_000,
};

/// Everything the evidence holds, gathered at `now`.
pub(crate) async fn gather(
    state: &AppState,
    order_id: &OrderId,
) -> Result<OrderEvidence, AuthError> {
    let detail = state.store.order_detail(order_id).await?;
    let now = clock::now();
    let known = state.store.order_intents(order_id.as_str()).await?;
    let reversals = state.store.reversals_of_order(order_id).await?;
    let refunds = state.store.refund_rows(order_id.as_str()).await?;
    let mut refund_ids: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in &refunds {
        refund_ids
            .entry(r.intent_id.clone())
            .or_default()
            .push(r.refund_id.clone());
    }
    for v in reversals.iter().filter(|v| v.kind == "refund") {
        if let Some(id) = &v.gateway_id {
            let ids = refund_ids.entry(v.intent_id.clone()).or_default();
            if !ids.contains(id) {
                ids.push(id.clone());
            }
        }
    }
    let gateway = lookup(state, order_id, &known, &refund_ids).await;
    let items: Vec<ExceptionItem> = state
        .store
        .exceptions(now, state.config.lease_ms)
        .await?
        .iter()
        .filter(|i| i.order_id.as_deref() == Some(order_id.as_str()))
        .map(|i| item_of(i, now.unix_ms()))
        .collect();
    let allowed = allowed_actions(&Facts {
        order: &detail.order,
        now_ms: now.unix_ms(),
        gateway: &gateway,
        items: &items,
    });
    let resolutions = state
        .store
        .resolution_rows(order_id.as_str())
        .await?
        .into_iter()
        .map(|r| ResolutionRecord {
            resolution_id: r.resolution_id,
            action: r.action,
            intent_id: r.intent_id,
            manager_id: r.manager_id,
            reason: r.reason,
            evidence: r.evidence,
            outcome: r.outcome,
            at: rfc3339(r.at_ms),
        })
        .collect();
    let currency = detail.order.amount.currency();
    let reversals = reversals
        .into_iter()
        .filter_map(|v| {
            let amount = paydesk_core::Money::new(
                v.amount_minor,
                paydesk_core::Currency::from_code(&v.currency).unwrap_or(currency),
            )
            .ok()?;
            Some(ReversalRecord {
                reversal_id: v.reversal_id,
                intent_id: v.intent_id,
                kind: v.kind,
                amount,
                state: v.state,
                failure: v.failure,
                requested_by: v.requested_by,
                approved_by: v.approved_by,
                gateway_id: v.gateway_id,
                updated_at: rfc3339(v.updated_at),
            })
        })
        .collect();
    let refunds = refunds
        .into_iter()
        .map(|r| RefundRecord {
            refund_id: r.refund_id,
            intent_id: r.intent_id,
            amount_minor: r.amount_minor,
            status: r.status,
            by_paydesk: r.by_paydesk,
            received_at: rfc3339(r.received_at_ms),
        })
        .collect();
    Ok(OrderEvidence {
        order_id: order_id.to_string(),
        looked_up_at: rfc3339(now.unix_ms()),
        central: CentralRecord {
            detail,
            resolutions,
            reversals,
            refunds,
        },
        gateway,
        exceptions: items,
        allowed_actions: allowed,
    })
}

/// An intent as the gateway crate's connector shows it.
fn from_view(
    view: &IntentView,
    found_by: FoundBy,
    refunds: &BTreeMap<String, Vec<String>>,
) -> GatewayIntentEvidence {
    let declined = matches!(view.status, IntentStatus::RequiresPaymentMethod { .. })
        && view.last_payment_error.is_some();
    GatewayIntentEvidence {
        intent_id: view.id.to_string(),
        found_by,
        status: view.status_raw.clone(),
        declined,
        decline_reason: view.last_payment_error.as_ref().and_then(|e| e.reason()),
        amount: Some(view.amount),
        amount_received_minor: view.amount_received.unwrap_or(0),
        amount_refunded_minor: None,
        refunds: refunds.get(view.id.as_str()).cloned().unwrap_or_default(),
        metadata_order_id: view.meta("order_id").map(str::to_string),
        metadata_attempt_id: view.meta("attempt_id").map(str::to_string),
        metadata_terminal_id: view.meta("terminal_id").map(str::to_string),
        customer: view.customer.clone(),
        payment_method: view.payment_method.clone(),
        latest_charge: view.latest_charge.clone(),
        cancellation_reason: view.cancellation_reason.clone(),
        created: view.created,
    }
}

/// An intent as the read-only lookup shows it (a central whose gateway may only be read): the
/// status, and the amount only of a success.
fn from_lookup(
    id: &str,
    evidence: &IntentEvidence,
    refunds: &BTreeMap<String, Vec<String>>,
) -> GatewayIntentEvidence {
    let (status, declined, amount, order, customer, payment_method) = match evidence {
        IntentEvidence::Succeeded {
            amount,
            order_id,
            customer,
            payment_method,
        } => (
            "succeeded".to_string(),
            false,
            Some(*amount),
            order_id.clone(),
            customer.clone(),
            payment_method.clone(),
        ),
        IntentEvidence::Declined => (
            "requires_payment_method".into(),
            true,
            None,
            None,
            None,
            None,
        ),
        IntentEvidence::Canceled => ("canceled".into(), false, None, None, None, None),
        IntentEvidence::RequiresAction => ("requires_action".into(), false, None, None, None, None),
        IntentEvidence::Pending { status } => (status.clone(), false, None, None, None, None),
    };
    GatewayIntentEvidence {
        intent_id: id.to_string(),
        found_by: FoundBy::Central,
        amount_received_minor: amount.map_or(0, |a| a.minor()),
        status,
        declined,
        decline_reason: None,
        amount,
        amount_refunded_minor: None,
        refunds: refunds.get(id).cloned().unwrap_or_default(),
        metadata_order_id: order,
        metadata_attempt_id: None,
        metadata_terminal_id: None,
        customer,
        payment_method,
        latest_charge: None,
        cancellation_reason: None,
        created: 0,
    }
}

/// Reads every intent the central knows for the order, then searches the gateway for others.
async fn lookup(
    state: &AppState,
    order_id: &OrderId,
    known: &[String],
    refunds: &BTreeMap<String, Vec<String>>,
) -> GatewayEvidence {
    let mut out = GatewayEvidence {
        intents: Vec::new(),
        unreadable: Vec::new(),
        searched: false,
        notes: Vec::new(),
    };
    let ids: Vec<(String, Option<GatewayIntentId>)> = known
        .iter()
        .map(|id| (id.clone(), GatewayIntentId::new(id.clone()).ok()))
        .collect();
    if let Some(actions) = state.config.gateway_actions.as_deref() {
        for (id, gid) in &ids {
            let read = match gid {
                Some(gid) => actions.intent(gid).await,
                None => Err(format!("{id} is not an intent id")),
            };
            match read {
                Ok(view) => out
                    .intents
                    .push(from_view(&view, FoundBy::Central, refunds)),
                Err(e) => {
                    tracing::warn!(intent = %id, error = %e, "evidence: intent not readable");
                    out.unreadable.push(id.clone());
                }
            }
        }
        match actions.search_order(order_id).await {
            Ok(found) => {
                out.searched = true;
                for view in found {
                    if view.meta("order_id") != Some(order_id.as_str()) {
                        continue;
                    }
                    match out
                        .intents
                        .iter_mut()
                        .find(|i| i.intent_id == view.id.as_str())
                    {
                        Some(i) => i.found_by = FoundBy::Both,
                        None if !out.unreadable.iter().any(|u| u == view.id.as_str()) => {
                            out.intents.push(from_view(&view, FoundBy::Search, refunds))
                        }
                        None => {}
                    }
                }
                out.notes.push(
                    "The gateway was also searched for intents naming this order; its search \
                     lags by up to a minute, so a very recent intent may be missing from it."
                        .into(),
                );
            }
            Err(e) => {
                tracing::warn!(order = %order_id, error = %e, "evidence: search failed");
                out.notes.push(
                    "The gateway's search for other intents of this order failed: only the \
                     intents the central knows are shown. Look again in a minute."
                        .into(),
                );
            }
        }
        // How much of each success was refunded, by Paydesk or in the gateway's dashboard.
        for i in out.intents.iter_mut().filter(|i| i.status == "succeeded") {
            let Some(charge) = i.latest_charge.clone() else {
                continue;
            };
            match actions.charge(&charge).await {
                Ok(c) => i.amount_refunded_minor = Some(c.amount_refunded),
                Err(e) => {
                    tracing::warn!(charge = %charge, error = %e, "evidence: charge not readable");
                    out.notes.push(format!(
                        "How much of {} was refunded could not be read from the gateway.",
                        i.intent_id
                    ));
                }
            }
        }
    } else if let Some(lookup) = state.gateway.as_deref() {
        for (id, gid) in &ids {
            let read = match gid {
                Some(gid) => lookup.intent(gid).await,
                None => Err(format!("{id} is not an intent id")),
            };
            match read {
                Ok(e) => out.intents.push(from_lookup(id, &e, refunds)),
                Err(e) => {
                    tracing::warn!(intent = %id, error = %e, "evidence: intent not readable");
                    out.unreadable.push(id.clone());
                }
            }
        }
        out.notes.push(
            "The central reads this gateway without search: only the intents it knows are \
             shown."
                .into(),
        );
    } else {
        out.unreadable = known.to_vec();
        out.notes.push(
            "No gateway is configured at the central (--gateway-url): nothing could be looked \
             up, so no decision can be made."
                .into(),
        );
    }
    out
}

/// `GET /v1/orders/{order_id}/evidence`.
pub(crate) async fn order_evidence(
    State(state): State<AppState>,
    who: ManagerOrAdmin,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<OrderEvidence>, AuthError> {
    let order_id = order_path(path)?;
    let key = match &who {
        ManagerOrAdmin::Manager(session) => format!("evidence:{}", session.session_id),
        ManagerOrAdmin::Admin => "evidence:admin".to_string(),
    };
    if let Err(retry_after_ms) =
        state
            .terminals
            .reconciles
            .take(EVIDENCE_LIMIT, &key, clock::now().unix_ms())
    {
        return Err(AuthError::RateLimited {
            what: "evidence lookups",
            retry_after_ms,
        });
    }
    Ok(Json(gather(&state, &order_id).await?))
}

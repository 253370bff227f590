//! Reading orders' saved payment methods at their gateways (issue 12, item 1): after an import
//! (and the embedded demo's seeding) the sources never read are read, within a time budget, and
//! `POST /v1/orders/{order_id}/payment-method/refresh` reads one order's again on demand — an
//! operator on the phone with a customer whose card was reissued.
//!
//! What is stored is what the gateway said: brand, last digits, expiry, a wallet's e-mail, the
//! holder's name, or why it could not be read. Deliberately absent: any card number, and any
//! judgement of expiry (the reader's clock decides that).

use std::time::{Duration, Instant};

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::Json;
use paydesk_core::Timestamp;
use paydesk_gateway::{GatewayError, PaymentMethodDetails, PaymentMethodView};
use paydesk_protocol::payment_method::{SavedMethod, SavedMethodKind};
use paydesk_protocol::{GatewayName, Order};

use crate::error::CentralError;
use crate::http::AppState;
use crate::http_auth::OperatorSession;
use crate::store::Store;
use crate::sweeper::IntentLookup;

/// How long an import waits for the gateway to describe its orders' payment methods: enough for
/// a few dozen reads at a real gateway's ~200 ms, and an import never hangs on a slow gateway.
/// Sources not read by then stay "not read yet" until someone refreshes them.
pub const READ_AFTER_IMPORT_MS_MAX: u64 = 10_000;
/// Most sources read after one import (each is one gateway request; the gateway's rate limit is
/// shared with charging).
pub const READS_AFTER_IMPORT_MAX: u32 = 200;

/// The gateway's view turned into what the central stores.
fn saved(view: PaymentMethodView, now: Timestamp) -> SavedMethod {
    let mut m = SavedMethod {
        kind: SavedMethodKind::Other,
        brand: None,
        last4: None,
        exp_month: None,
        exp_year: None,
        email: None,
        holder_name: view.holder_name,
        kind_name: None,
        read_at: now,
        refresh_error: None,
        checked_at: now,
    };
    match view.details {
        PaymentMethodDetails::Card {
            brand,
            last4,
            exp_month,
            exp_year,
        } => {
            m.kind = SavedMethodKind::Card;
            m.brand = Some(brand);
            m.last4 = Some(last4);
            m.exp_month = Some(exp_month);
            m.exp_year = Some(exp_year);
        }
        PaymentMethodDetails::PaypalWallet { email } => {
            m.kind = SavedMethodKind::PaypalWallet;
            m.email = email;
        }
        PaymentMethodDetails::Other { kind } => m.kind_name = Some(kind),
    }
    m
}

/// Whether a failed read was the gateway's answer (the method is gone, the key may not read it)
/// rather than no answer at all.
fn is_answer(e: &GatewayError) -> bool {
    matches!(
        e,
        GatewayError::NotFound { .. }
            | GatewayError::InvalidRequest { .. }
            | GatewayError::Permission { .. }
            | GatewayError::Authentication { .. }
    )
}

/// Reads one source and records the outcome. `Err` only when the gateway gave no answer (it is
/// recorded as the refresh error all the same, keeping the details read before).
pub async fn read_one(
    store: &Store,
    lookup: &dyn IntentLookup,
    gateway: GatewayName,
    source: &str,
    now: Timestamp,
) -> Result<(), CentralError> {
    match lookup.payment_method(source).await {
        Ok(view) => {
            store
                .record_saved_method(gateway, source, Ok(saved(view, now)), now)
                .await
        }
        Err(e) => {
            let answered = is_answer(&e);
            tracing::warn!(%gateway, source, error = %e, "reading a saved payment method failed");
            let why = match &e {
                GatewayError::NotFound { .. } => {
                    format!("the {gateway} gateway has no payment method {source}")
                }
                other => other.to_string(),
            };
            store
                .record_saved_method(gateway, source, Err(why), now)
                .await?;
            if answered {
                Ok(())
            } else if matches!(e, GatewayError::Config { .. }) {
                Err(CentralError::Unavailable(
                    "this central cannot read payment methods at that gateway (not configured)",
                ))
            } else {
                Err(CentralError::Unavailable(
                    "the gateway did not answer; try refreshing the card again shortly",
                ))
            }
        }
    }
}

/// Reads the sources of unpaid orders never read before, for at most `budget`: what follows an
/// import or the demo's seeding. Returns how many were read (successfully or with the gateway's
/// refusal recorded). A failure is logged, never fails the import.
pub async fn read_unread(
    store: &Store,
    lookup: &dyn IntentLookup,
    now: Timestamp,
    budget: Duration,
) -> u32 {
    let started = Instant::now();
    let sources = match store.unread_payment_sources(READS_AFTER_IMPORT_MAX).await {
        Ok(sources) => sources,
        Err(e) => {
            tracing::warn!(error = %e, "could not list the payment methods to read");
            return 0;
        }
    };
    let mut read = 0;
    for (gateway, source) in sources {
        if started.elapsed() >= budget {
            tracing::info!(
                read,
                "payment methods left to read later (time budget spent)"
            );
            break;
        }
        let left = budget.saturating_sub(started.elapsed());
        match tokio::time::timeout(left, read_one(store, lookup, gateway, &source, now)).await {
            Ok(Ok(())) => read += 1,
            Ok(Err(e)) => tracing::info!(error = %e, %source, "payment method not read"),
            Err(_) => break,
        }
    }
    read
}

/// `POST /v1/orders/{order_id}/payment-method/refresh`: reads the order's saved payment method
/// at its gateway again and answers the order with it. Any signed-in person (operator or
/// manager): reading it moves no money. The gateway's refusal (the method is gone) is an answer,
/// stored and shown; no answer at all is 503 with the details read before kept.
pub async fn refresh(
    State(state): State<AppState>,
    _session: OperatorSession,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<Order>, CentralError> {
    let order_id = crate::http_input::order_path(path)?;
    let order = state.store.order(&order_id).await?;
    let lookup = state.gateway.as_ref().ok_or(CentralError::Unavailable(
        "no gateway is configured at this central to read payment methods",
    ))?;
    read_one(
        &state.store,
        lookup.as_ref(),
        order.gateway,
        &order.payment_method_id,
        crate::clock::now(),
    )
    .await?;
    Ok(Json(state.store.order(&order_id).await?))
}

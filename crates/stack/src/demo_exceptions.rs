//! The demo's exceptions, so a manager signing in to a fresh demo has something to do (issue 11,
//! "Done when"): made through the real parts, once per data directory.
//!
//! - **A refund made outside Paydesk** (order `demo-2008`): the order is charged and then fully
//!   refunded directly at the sandbox with the central's full key, as a gateway dashboard would;
//!   the sandbox's signed webhooks tell the central, whose inbox lists it as `outside_refund`.
//! - **A charge the central cannot verify** (order `demo-1008`): a terminal claimed the order,
//!   registered an intent, charged the customer's *other* card (`pm_card_mastercard`, not the
//!   saved visa) and stopped before reporting — as a terminal that crashed two minutes ago
//!   leaves it (the claim and the registration are dated one lease back). The sweeper finds the
//!   expired claim, the gateway shows a success that does not match the order's saved card, and
//!   the order goes to review with a flag: only a person can decide, and the guided resolution
//!   offers "mark charged by" that intent (the gateway shows it succeeded for this order and
//!   amount).
//!
//! Seeded once: a marker file in the data directory records that it was done, so a restart, or
//! a data directory from before this existed and already in use, adds nothing. The gateway
//! calls carry fixed idempotency keys and the claim is skipped when the order already has an
//! intent, so a start that stopped half-way adds nothing twice either. Deliberately absent: the
//! terminal's own exceptions (the parked outbox message is `demo_parked`'s, made in the journal
//! the stack is given) and any write into the central's tables other than through its store's
//! claim and intent registration, which a terminal's requests make too.

use std::path::Path;

use paydesk_central::sweeper::{sweep_once, IntentLookup};
use paydesk_central::Store;
use paydesk_core::{
    AttemptId, Currency, IdempotencyKey, Money, OperatorId, OrderId, TerminalId, Timestamp,
};
use paydesk_gateway::{
    ConfirmRequest, ConfirmResult, CreateIntentRequest, CreateResult, Gateway, IntentMetadata,
    RefundReason, RefundRequest, RefundResult,
};

/// The marker file: present once the exceptions were seeded in this data directory.
pub const SEEDED_FILE: &str = "demo-exceptions.done";
/// The order refunded outside Paydesk.
pub const OUTSIDE_REFUND_ORDER: &str = "demo-2008";
/// The order charged on another card by a terminal that never reported.
pub const UNVERIFIED_ORDER: &str = "demo-1008";
/// The card the unverified charge used instead of the order's saved `pm_card_visa`.
const OTHER_CARD: &str = "pm_card_mastercard";
/// Fixed attempt ids (version 7 UUIDs), so a replayed create sends the same parameters.
const OUTSIDE_ATTEMPT: &str = "01900000-0000-7000-8000-000000002008";
const UNVERIFIED_ATTEMPT: &str = "01900000-0000-7000-8000-000000001008";

/// How long a start waits for the sandbox's webhooks to reach the central (they take
/// milliseconds on loopback).
const WEBHOOK_WAIT_MS: u64 = 5_000;

/// Seeds the exceptions unless the marker says they were; `gateway` holds the central's full
/// key (it may refund), `lookup` is the sweeper's view of the same gateway. Before it returns,
/// one sweeper pass has looked at the expired claim and the central has the outside charge's
/// webhook, so the queue a start shows no longer lists either order. Writes the marker when
/// both are in place.
#[allow(clippy::too_many_arguments)]
pub async fn seed(
    data_dir: &Path,
    store: &Store,
    gateway: &dyn Gateway,
    lookup: &dyn IntentLookup,
    terminal: &TerminalId,
    operator: &str,
    lease_ms: i64,
    now: Timestamp,
) -> Result<(), String> {
    let marker = data_dir.join(SEEDED_FILE);
    if marker.exists() {
        return Ok(());
    }
    store
        .import_orders(&paydesk_central::demo::exception_orders(), now)
        .await
        .map_err(|e| format!("importing the exception orders: {e}"))?;
    outside_refund(gateway, terminal).await?;
    unverified_charge(store, gateway, terminal, operator, lease_ms, now).await?;
    // The sweeper's own pass, now rather than in a few seconds.
    sweep_once(store, Some(lookup), now)
        .await
        .map_err(|e| format!("the sweeper's pass: {e}"))?;
    let outside = order(OUTSIDE_REFUND_ORDER);
    let waited = std::time::Instant::now();
    while store
        .order(&outside)
        .await
        .map_err(|e| e.to_string())?
        .status
        == paydesk_protocol::OrderStatus::Unpaid
    {
        if waited.elapsed().as_millis() > u128::from(WEBHOOK_WAIT_MS) {
            return Err(format!(
                "the sandbox's webhooks about {outside} did not reach the central within \
                 {WEBHOOK_WAIT_MS} ms"
            ));
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    std::fs::write(&marker, b"the demo's exceptions were seeded\n")
        .map_err(|e| format!("writing {}: {e}", marker.display()))?;
    tracing::info!(
        outside_refund = OUTSIDE_REFUND_ORDER,
        unverified = UNVERIFIED_ORDER,
        "demo exceptions seeded"
    );
    Ok(())
}

fn order(id: &str) -> OrderId {
    OrderId::new(id).expect("demo order ids are valid")
}

/// The demo order's amount, customer and saved card, from the demo data.
fn demo_order(id: &str) -> Result<paydesk_protocol::ImportOrder, String> {
    paydesk_central::demo::exception_orders()
        .into_iter()
        .find(|o| o.order_id.as_str() == id)
        .ok_or_else(|| format!("the demo data has no order {id}"))
}

/// Creates (or, under the same key, finds) and confirms an intent; its id once it succeeded.
async fn charge(
    gateway: &dyn Gateway,
    order_id: &OrderId,
    amount: Money,
    customer: &str,
    card: &str,
    metadata: IntentMetadata,
) -> Result<paydesk_core::GatewayIntentId, String> {
    let key = IdempotencyKey::for_create(order_id, metadata.attempt_number);
    let created = gateway
        .create_intent(&CreateIntentRequest {
            amount,
            customer: Some(customer.to_string()),
            payment_method: card.to_string(),
            off_session: true,
            metadata,
            key,
        })
        .await
        .map_err(|e| format!("creating the intent of {order_id}: {e}"))?;
    let CreateResult::Created(view) = created else {
        return Err(format!(
            "creating the intent of {order_id}: the sandbox answered {created:?}"
        ));
    };
    let confirmed = gateway
        .confirm_intent(&ConfirmRequest {
            intent: view.id.clone(),
            off_session: true,
            key: IdempotencyKey::for_confirm(&view.id),
        })
        .await
        .map_err(|e| format!("confirming the intent of {order_id}: {e}"))?;
    match confirmed {
        ConfirmResult::Succeeded { .. } => Ok(view.id),
        other => Err(format!(
            "confirming the intent of {order_id}: the sandbox answered {other:?}"
        )),
    }
}

async fn outside_refund(gateway: &dyn Gateway, terminal: &TerminalId) -> Result<(), String> {
    let o = demo_order(OUTSIDE_REFUND_ORDER)?;
    let attempt_number = paydesk_core::AttemptNumber::new(1).expect("1 is an attempt number");
    let intent = charge(
        gateway,
        &o.order_id,
        o.amount,
        &o.customer_id,
        &o.payment_method_id,
        IntentMetadata {
            order: o.order_id.clone(),
            attempt: AttemptId::parse(OUTSIDE_ATTEMPT).expect("a v7 UUID"),
            attempt_number,
            terminal: terminal.clone(),
        },
    )
    .await?;
    let refunded = gateway
        .refund(&RefundRequest {
            intent: intent.clone(),
            amount: None,
            reason: Some(RefundReason::RequestedByCustomer),
            // What a person typing in the dashboard's refund form would add.
            metadata: [
                ("order_id".to_string(), o.order_id.to_string()),
                (
                    "note".to_string(),
                    "refunded in the gateway's dashboard (Paydesk demo)".to_string(),
                ),
            ]
            .into_iter()
            .collect(),
            key: IdempotencyKey::for_refund(&intent, attempt_number),
        })
        .await
        .map_err(|e| format!("refunding {intent}: {e}"))?;
    match refunded {
        RefundResult::Created(_) => Ok(()),
        other => Err(format!(
            "refunding {intent}: the sandbox answered {other:?}"
        )),
    }
}

async fn unverified_charge(
    store: &Store,
    gateway: &dyn Gateway,
    terminal: &TerminalId,
    operator: &str,
    lease_ms: i64,
    now: Timestamp,
) -> Result<(), String> {
    let o = demo_order(UNVERIFIED_ORDER)?;
    let order_id = order(UNVERIFIED_ORDER);
    let detail = store
        .order_detail(&order_id)
        .await
        .map_err(|e| e.to_string())?;
    if !detail.intents.is_empty() || detail.order.status != paydesk_protocol::OrderStatus::Unpaid {
        // Charged or claimed since (by a person, or by a start that stopped half-way).
        return Ok(());
    }
    // As a terminal that started two minutes ago and crashed: its lease has run out.
    let then = Timestamp::from_unix_ms(now.unix_ms() - lease_ms - 1_000);
    let operator = OperatorId::new(operator).map_err(|e| e.to_string())?;
    let claim = store
        .claim(&order_id, &operator, terminal, None, then, lease_ms)
        .await
        .map_err(|e| format!("claiming {order_id}: {e}"))?;
    let currency: Currency = o.amount.currency();
    let amount = Money::new(o.amount.minor(), currency).map_err(|e| e.to_string())?;
    let metadata = IntentMetadata {
        order: order_id.clone(),
        attempt: AttemptId::parse(UNVERIFIED_ATTEMPT).expect("a v7 UUID"),
        attempt_number: claim.attempt_number,
        terminal: terminal.clone(),
    };
    // Registered before the confirm, as a terminal does.
    let key = IdempotencyKey::for_create(&order_id, claim.attempt_number);
    let created = gateway
        .create_intent(&CreateIntentRequest {
            amount,
            customer: Some(o.customer_id.clone()),
            payment_method: OTHER_CARD.to_string(),
            off_session: true,
            metadata: metadata.clone(),
            key,
        })
        .await
        .map_err(|e| format!("creating the intent of {order_id}: {e}"))?;
    let CreateResult::Created(view) = created else {
        return Err(format!(
            "creating the intent of {order_id}: the sandbox answered {created:?}"
        ));
    };
    store
        .register_intent(
            &order_id,
            claim.claim_token,
            claim.attempt_number,
            &view.id,
            terminal,
            then,
        )
        .await
        .map_err(|e| format!("registering {} for {order_id}: {e}", view.id))?;
    charge(
        gateway,
        &order_id,
        amount,
        &o.customer_id,
        OTHER_CARD,
        metadata,
    )
    .await?;
    Ok(())
}

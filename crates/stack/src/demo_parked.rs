//! The demo's parked outbox message (issue 11, "Done when"), made the way one really parks: a
//! till charges an order online under its terminal id, loses its token before the result is
//! relayed, and is registered again under a new id (what `provision_terminal` does when the
//! secret store lost the token). Its journal still holds the result, and when the till relays it
//! under the new id the central refuses it — the claim was granted to the old id — so the relay
//! parks it for a manager. The order itself is paid at the central by the gateway's signed
//! webhook, as any charge whose result has not arrived yet.
//!
//! Here the old till is a real terminal (`paydesk_terminal::Terminal`) over the stack's real
//! central and sandbox, with a terminal id and token of its own that are dropped afterwards; it
//! writes into the journal the desktop opens next and relays nothing. The refusal happens later,
//! in the desktop's own relay. Deliberately absent: any row written by hand, in the journal or at
//! the central.

use std::path::Path;
use std::time::Duration;

use paydesk_central::{auth, Store};
use paydesk_core::{
    AttemptState, Currency, Money, OperatorId, OrderId, Pin, TerminalId, Timestamp,
};
use paydesk_engine::ChargeRequest;
use paydesk_protocol::{ImportOrder, OrderStatus};
use paydesk_terminal::{Connection, Secret, Terminal};

/// The order the till charged under its old terminal id.
pub const PARKED_ORDER: &str = "demo-3008";
/// The old till's caches while it charges (removed afterwards): kept apart from the desktop's.
const OLD_TILL_DIR: &str = "demo-old-till";
/// How long a start waits for the gateway's webhook to mark the order paid (milliseconds on
/// loopback).
const WEBHOOK_WAIT_MS: u64 = 5_000;

/// The order: a phone order in JPY on the customer's saved test card.
fn parked_order() -> ImportOrder {
    ImportOrder {
        order_id: OrderId::new(PARKED_ORDER).expect("the demo order id is valid"),
        amount: Money::new(6_500, Currency::from_code("JPY").expect("JPY is known"))
            .expect("a valid amount"),
        customer_id: "cus_demo_yuki".into(),
        payment_method_id: "pm_card_visa".into(),
        description: "Phone order: rice cooker".into(),
        gateway: paydesk_protocol::GatewayName::Stripe,
        customer_name: String::new(),
    }
}

/// Where the old till reaches the stack: everything of a [`Connection`] but its own id, token
/// and directory.
pub(crate) struct OldTill<'a> {
    pub central_url: &'a str,
    pub gateway_url: &'a str,
    pub gateway_key: &'a Secret,
    pub paypal: &'a paydesk_terminal::PaypalAccess,
}

/// Charges [`PARKED_ORDER`] as `operator` on a till registered now under a fresh terminal id,
/// writing into `journal` without relaying, then waits until the central has the payment from
/// the gateway's webhook. Does nothing when the order was charged or claimed since (a person, or
/// a start that stopped half-way).
pub(crate) async fn seed(
    store: &Store,
    till: OldTill<'_>,
    data_dir: &Path,
    journal: &Path,
    operator: (&str, &str),
    now: Timestamp,
) -> Result<(), String> {
    let order = OrderId::new(PARKED_ORDER).expect("the demo order id is valid");
    // Imported only by the demo that charges it (idempotent on the order id), so every other
    // stack's queue is as before.
    store
        .import_orders(&[parked_order()], now)
        .await
        .map_err(|e| format!("importing {order}: {e}"))?;
    let detail = store
        .order_detail(&order)
        .await
        .map_err(|e| format!("reading {order}: {e}"))?;
    if !detail.intents.is_empty() || detail.order.status != OrderStatus::Unpaid {
        return Ok(());
    }
    // The till as it was before its token was lost: a terminal id and a token of its own.
    let old_id = TerminalId::new(format!("desk-{:08x}", fastrand::u32(..)))
        .expect("generated terminal ids are valid");
    let token = auth::new_token();
    store
        .add_terminal(&old_id, &auth::token_sha256(&token), now)
        .await
        .map_err(|e| format!("registering the old till {old_id}: {e}"))?;
    let dir = data_dir.join(OLD_TILL_DIR);
    let charged = charge_once(&till, &old_id, token, &dir, journal, &order, operator).await;
    // The old till's caches go with it (its journal is the desktop's and stays).
    let _ = std::fs::remove_dir_all(&dir);
    charged?;
    let waited = std::time::Instant::now();
    while store.order(&order).await.map_err(|e| e.to_string())?.status != OrderStatus::Paid {
        if waited.elapsed().as_millis() > u128::from(WEBHOOK_WAIT_MS) {
            return Err(format!(
                "the sandbox's webhook about {order} did not mark it paid within \
                 {WEBHOOK_WAIT_MS} ms"
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tracing::info!(order = PARKED_ORDER, old_terminal = %old_id, "demo result of a re-registered till seeded");
    Ok(())
}

/// Opens the old till over `journal`, signs `operator` in, charges `order` and signs out; the
/// journal is closed again when this returns.
async fn charge_once(
    till: &OldTill<'_>,
    old_id: &TerminalId,
    token: String,
    dir: &Path,
    journal: &Path,
    order: &OrderId,
    operator: (&str, &str),
) -> Result<(), String> {
    let terminal = Terminal::open(Connection {
        central_url: till.central_url.to_string(),
        gateway_url: till.gateway_url.to_string(),
        terminal: old_id.clone(),
        terminal_token: Secret::new(token).map_err(|e| e.to_string())?,
        gateway_key: till.gateway_key.clone(),
        data_dir: dir.to_path_buf(),
        journal: journal.to_path_buf(),
        paypal: Some(till.paypal.clone()),
    })
    .await
    .map_err(|e| format!("opening the old till over {}: {e}", journal.display()))?;
    let who = OperatorId::new(operator.0).map_err(|e| e.to_string())?;
    let pin = Pin::parse(operator.1).map_err(|e| e.to_string())?;
    terminal
        .sign_in(&who, pin)
        .await
        .map_err(|e| format!("signing {who} in on the old till: {e}"))?;
    let amount = parked_order().amount;
    let charged = terminal
        .charge(
            &ChargeRequest {
                order: order.clone(),
                operator: who,
                expected_amount: amount,
            },
            &|_| {},
        )
        .await;
    terminal.sign_out().await;
    let report = charged.map_err(|e| format!("charging {order} on the old till: {e}"))?;
    if report.state() != AttemptState::Succeeded {
        return Err(format!(
            "charging {order} on the old till ended {}",
            report.state().as_str()
        ));
    }
    Ok(())
}

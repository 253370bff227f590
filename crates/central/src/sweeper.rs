//! The sweeper: ends claims whose lease ran out, never blindly.
//!
//! A claim with no registered intent cannot have charged anything, so it is released. A claim
//! with a registered intent is resolved only from the gateway's evidence about *that* intent
//! (succeeded → paid, failed → failed, canceled → released, requires action → needs action);
//! anything else stays held and is listed for managers, and is re-checked on every pass. Orders
//! left in review by an unknown outcome (a terminal's `needs_review` result naming its intent; an
//! offline attempt's intent is adopted as the order's open intent for this) are re-checked the
//! same way on every pass: succeeded → paid, declined → failed, canceled → unpaid, requires
//! action → needs action, still confirmable or unreadable → left in review. Orders waiting for
//! their customer with a payment link still in its time limit are asked about on every pass as
//! well: the customer's completion pays the order even when no webhook arrives.
//!
//! Several centrals may run on one PostgreSQL database, each with its sweeper: a pass runs only
//! under the database's sweep lock (`Store::try_sweep_lock`, a PostgreSQL advisory lock held for
//! the pass), so one central sweeps at a time and the others skip that tick. Every step of a pass
//! is fenced on its own as well (a claim ends only if its token and lease are still the ones
//! read), so the lock saves the gateway from duplicate look-ups and the listings from duplicate
//! rows; it is not what keeps the orders right. A central that dies mid-pass loses its connection
//! and PostgreSQL ends the lock with it.
//! Deliberately absent: creating, confirming or cancelling intents — the sweeper only reads the
//! gateway; charging is the desktop's job.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use paydesk_core::{GatewayIntentId, Money, OrderId, Timestamp};
use paydesk_protocol::Order;
use tokio::sync::watch;

use crate::error::CentralResult;
use crate::store::{ExpiredClaim, Store, SweepResolution};

/// Most expired claims looked at in one pass; the rest wait for the next pass.
pub const SWEEP_ROWS_MAX: u32 = 100;

/// What the gateway says about one intent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IntentEvidence {
    Succeeded {
        amount: Money,
        /// The customer the intent charged (Stripe `cus_…`), as the gateway reports it.
        customer: Option<String>,
        /// The payment method it charged (Stripe `pm_…`).
        payment_method: Option<String>,
        /// The order its metadata names (`metadata.order_id`), as the gateway reports it.
        order_id: Option<String>,
    },
    /// The payment failed (Stripe: `requires_payment_method` after a confirm).
    Declined,
    Canceled,
    RequiresAction,
    /// Not final yet (`requires_confirmation`, `processing`): the holder may still confirm it.
    Pending {
        status: String,
    },
}

impl IntentEvidence {
    /// A success of `amount` that names exactly `order`'s customer, payment method and id: the
    /// evidence an order is paid by.
    pub fn succeeded_for(order: &Order, amount: Money) -> IntentEvidence {
        IntentEvidence::Succeeded {
            amount,
            customer: Some(order.customer_id.clone()),
            payment_method: Some(order.payment_method_id.clone()),
            order_id: Some(order.order_id.to_string()),
        }
    }
}

/// What the gateway's evidence says about a success reported for an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verification {
    /// The intent succeeded at the gateway for exactly this order: its amount and currency, its
    /// customer, its payment method and its metadata order id.
    Verified,
    /// No evidence yet: the gateway is not configured or could not be read, or the intent is not
    /// final there. The success may well be real: the order waits in review for the sweeper.
    Unverified(String),
    /// The gateway contradicts the report: another status, amount, customer, payment method or
    /// order. Never paid; a person looks at it.
    Mismatch(String),
}

/// What an order expects of the intent that pays it.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    pub order_id: &'a str,
    pub amount: Money,
    pub customer_id: &'a str,
    pub payment_method_id: &'a str,
}

impl<'a> From<&'a Order> for Expected<'a> {
    fn from(order: &'a Order) -> Expected<'a> {
        Expected {
            order_id: order.order_id.as_str(),
            amount: order.amount,
            customer_id: &order.customer_id,
            payment_method_id: &order.payment_method_id,
        }
    }
}

/// Compares the gateway's answer about `intent` with the order a success was reported for.
/// Pure, so the webhook, the inbox and the sweeper apply one rule.
pub fn verify_success(
    intent: &GatewayIntentId,
    evidence: &Result<IntentEvidence, String>,
    order: Expected<'_>,
) -> Verification {
    let (amount, customer, payment_method, meta_order) = match evidence {
        Err(e) => {
            return Verification::Unverified(format!(
                "intent {intent} could not be read from the gateway ({e})"
            ))
        }
        Ok(IntentEvidence::Pending { status }) => {
            return Verification::Unverified(format!("intent {intent} is {status} at the gateway"))
        }
        Ok(IntentEvidence::Succeeded {
            amount,
            customer,
            payment_method,
            order_id,
        }) => (amount, customer, payment_method, order_id),
        Ok(other) => {
            return Verification::Mismatch(format!(
                "intent {intent} did not succeed at the gateway ({other:?})"
            ))
        }
    };
    binds_to_order(
        intent,
        *amount,
        customer.as_deref(),
        payment_method.as_deref(),
        meta_order.as_deref(),
        order,
    )
}

/// Whether a succeeded intent's amount, customer, payment method and metadata order id are
/// exactly the order's: `Verified`, or a `Mismatch` that says which differs.
pub fn binds_to_order(
    intent: &GatewayIntentId,
    amount: Money,
    customer: Option<&str>,
    payment_method: Option<&str>,
    meta_order: Option<&str>,
    order: Expected<'_>,
) -> Verification {
    let mut differs = Vec::new();
    if amount != order.amount {
        differs.push(format!("amount {amount}, the order's {}", order.amount));
    }
    // An order with no customer (a payment method that belongs to none, such as Stripe's test
    // tokens) expects an intent with none.
    let expected_customer = Some(order.customer_id).filter(|c| !c.is_empty());
    if customer.filter(|c| !c.is_empty()) != expected_customer {
        differs.push(format!(
            "customer {}, the order's {}",
            customer.unwrap_or("(none)"),
            order.customer_id
        ));
    }
    if payment_method != Some(order.payment_method_id) {
        differs.push(format!(
            "payment method {}, the order's {}",
            payment_method.unwrap_or("(none)"),
            order.payment_method_id
        ));
    }
    if meta_order != Some(order.order_id) {
        differs.push(format!(
            "metadata order {}, not {}",
            meta_order.unwrap_or("(none)"),
            order.order_id
        ));
    }
    if differs.is_empty() {
        Verification::Verified
    } else {
        Verification::Mismatch(format!(
            "intent {intent} at the gateway does not match order {}: {}",
            order.order_id,
            differs.join("; ")
        ))
    }
}

/// A gateway intent as listed for reconciliation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayIntent {
    pub intent_id: GatewayIntentId,
    /// From the intent's metadata.
    pub order_id: Option<OrderId>,
    pub amount: Money,
    pub succeeded: bool,
}

/// The gateway as the central needs it: read-only. A trait object so tests can pass a fake and
/// the binary an adapter over the gateway crate's connector.
#[async_trait]
pub trait IntentLookup: Send + Sync + fmt::Debug {
    /// Reads one intent by id. `Err` means no evidence (network, 5xx); the message is for logs.
    async fn intent(&self, intent_id: &GatewayIntentId) -> Result<IntentEvidence, String>;

    /// Whether the gateway's key is a live one (`Some(true)`), a test one (`Some(false)`), or
    /// unknown. Webhook events of the other mode are refused (M6).
    fn livemode(&self) -> Option<bool> {
        None
    }

    /// Lists intents created in `[from, to)`.
    async fn intents_between(
        &self,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<GatewayIntent>, String>;

    /// The gateway's newest refund events (`refund.created`, `refund.updated`,
    /// `charge.refunded`, `charge.refund.updated`), oldest first, each as the JSON document a
    /// webhook would have delivered: how a refund made in the gateway's dashboard reaches the
    /// inbox when its webhook was never configured or never arrived. A lookup that cannot list
    /// events answers none.
    async fn refund_events(&self) -> Result<Vec<String>, String> {
        Ok(Vec::new())
    }

    /// Reads a saved payment method by the source an order names (issue 12, item 1): brand,
    /// last digits and expiry, never a number. A lookup that cannot says so (`Config`).
    async fn payment_method(
        &self,
        source: &str,
    ) -> Result<paydesk_gateway::PaymentMethodView, paydesk_gateway::GatewayError> {
        Err(paydesk_gateway::GatewayError::Config {
            detail: format!("this gateway lookup cannot read payment method {source}"),
        })
    }
}

/// What one pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SweepReport {
    /// Claims without an intent, released.
    pub released: u32,
    /// Claims with an intent, ended from the gateway's evidence.
    pub resolved: u32,
    /// Claims with an intent left held and listed for managers.
    pub unresolved: u32,
    /// Unknown outcomes (`needs_review` results) settled from the gateway's evidence.
    pub settled_unknown: u32,
    /// Orders waiting for their customer (a payment link sent) settled from the gateway's
    /// evidence: the customer completed 3-D Secure and no webhook told us yet.
    pub settled_waiting: u32,
    /// Refund events pulled from the gateway that no webhook had delivered.
    pub refund_events: u32,
    /// Another central held the sweep lock (PostgreSQL): this pass did nothing.
    pub skipped: bool,
}

/// What the sweeper makes of the gateway's answer about `claim`'s open intent: a resolution, or
/// (`Err`) why the claim stays unresolved. A success counts only when it is for exactly this
/// order (amount, customer, payment method, metadata order id); any other success is a
/// contradiction for a person (H4).
fn resolve(
    claim: &ExpiredClaim,
    intent: &GatewayIntentId,
    evidence: Result<IntentEvidence, String>,
) -> Result<SweepResolution, String> {
    match &evidence {
        Ok(IntentEvidence::Succeeded { amount, .. }) => {
            Ok(match verify_success(intent, &evidence, claim.expected()) {
                Verification::Verified => SweepResolution::Succeeded { amount: *amount },
                Verification::Mismatch(reason) | Verification::Unverified(reason) => {
                    SweepResolution::Mismatch { reason }
                }
            })
        }
        Ok(IntentEvidence::Declined) => Ok(SweepResolution::Failed),
        Ok(IntentEvidence::Canceled) => Ok(SweepResolution::Canceled),
        Ok(IntentEvidence::RequiresAction) => Ok(SweepResolution::RequiresAction),
        Ok(IntentEvidence::Pending { status }) => Err(format!(
            "intent {intent} is {status}: its holder may still confirm it; ask the operator or \
             cancel it at the gateway"
        )),
        Err(e) => {
            tracing::warn!(order = %claim.order_id, intent = %intent, error = %e, "sweeper could not read the intent");
            Err(format!(
                "intent {intent} could not be read from the gateway; will retry"
            ))
        }
    }
}

/// One pass over the expired claims, if no other central is sweeping the same database now
/// (otherwise a report with `skipped` and nothing done).
pub async fn sweep_once(
    store: &Store,
    gateway: Option<&dyn IntentLookup>,
    now: Timestamp,
) -> CentralResult<SweepReport> {
    let Some(pass) = store.try_sweep_lock().await? else {
        tracing::debug!("another central is sweeping; this pass is skipped");
        return Ok(SweepReport {
            skipped: true,
            ..SweepReport::default()
        });
    };
    let report = sweep_pass(store, gateway, now).await;
    pass.release().await;
    report
}

/// The pass itself, under the sweep lock.
async fn sweep_pass(
    store: &Store,
    gateway: Option<&dyn IntentLookup>,
    now: Timestamp,
) -> CentralResult<SweepReport> {
    let mut report = SweepReport::default();
    for claim in store.expired_claims(now, SWEEP_ROWS_MAX).await? {
        let Some(intent) = claim.open_intent_id.clone() else {
            if store
                .end_expired_claim(&claim, SweepResolution::NoIntent, now)
                .await?
            {
                report.released += 1;
            }
            continue;
        };
        let evidence = match gateway {
            None => Err("no gateway is configured for the sweeper".to_string()),
            Some(g) => g.intent(&intent).await,
        };
        let resolution = match resolve(&claim, &intent, evidence) {
            Ok(resolution) => resolution,
            Err(reason) => {
                store.mark_unresolved(&claim, &reason, now).await?;
                report.unresolved += 1;
                continue;
            }
        };
        tracing::info!(order = %claim.order_id, intent = %intent, ?resolution, "sweeper resolving an expired claim");
        if store.end_expired_claim(&claim, resolution, now).await? {
            report.resolved += 1;
        }
    }
    // Unknown outcomes reported by terminals, and successes not yet verified at the gateway:
    // re-checked on every pass until the gateway knows.
    if let Some(gateway) = gateway {
        for order in store.unknown_outcomes(SWEEP_ROWS_MAX).await? {
            let Some(intent) = order.open_intent_id.clone() else {
                continue;
            };
            let Ok(resolution) = resolve(&order, &intent, gateway.intent(&intent).await) else {
                continue;
            };
            tracing::info!(order = %order.order_id, intent = %intent, ?resolution, "sweeper settling an unknown outcome");
            if store.settle_unknown(&order, resolution, now).await? {
                report.settled_unknown += 1;
            }
        }
        // Orders whose customer was sent a payment link: the customer may have completed it.
        for order in store.waiting_with_live_links(now, SWEEP_ROWS_MAX).await? {
            let Some(intent) = order.open_intent_id.clone() else {
                continue;
            };
            let Ok(resolution) = resolve(&order, &intent, gateway.intent(&intent).await) else {
                continue;
            };
            if store.settle_waiting(&order, &resolution, now).await? {
                tracing::info!(order = %order.order_id, intent = %intent, ?resolution, "sweeper settled an order waiting for its customer");
                report.settled_waiting += 1;
            }
        }
        report.refund_events = pull_refund_events(store, gateway, now).await;
    }
    Ok(report)
}

/// Pulls the gateway's newest refund events and applies each through the webhooks' own path
/// (stored once by event id, so an event a webhook already delivered changes nothing): a
/// refund made outside Paydesk reaches the inbox even with no webhook. The gateway's answer
/// over its authenticated API is the same evidence a signed webhook carries. Returns how many
/// were new; a failure is logged and retried on the next pass.
async fn pull_refund_events(store: &Store, gateway: &dyn IntentLookup, now: Timestamp) -> u32 {
    let events = match gateway.refund_events().await {
        Ok(events) => events,
        Err(e) => {
            tracing::warn!(error = %e, "listing the gateway's refund events failed; next pass retries");
            return 0;
        }
    };
    let mut new = 0;
    for payload in events {
        let event = match crate::webhook::WebhookEvent::parse(payload.as_bytes()) {
            Ok(event) => event,
            Err(e) => {
                tracing::warn!(error = %e, "a refund event from the gateway could not be read");
                continue;
            }
        };
        match store
            .apply_webhook(&event, &payload, gateway.livemode(), now)
            .await
        {
            Ok(true) => new += 1,
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(event = %event.id, error = %e, "applying a pulled refund event failed")
            }
        }
    }
    new
}

/// Runs passes every `interval_ms` until `shutdown` turns true; the pass in progress finishes.
pub async fn run(
    store: Store,
    gateway: Option<Arc<dyn IntentLookup>>,
    interval_ms: u64,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut ticker = tokio::time::interval(Duration::from_millis(interval_ms));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = shutdown.changed() => break,
        }
        if *shutdown.borrow() {
            break;
        }
        match sweep_once(&store, gateway.as_deref(), crate::clock::now()).await {
            Ok(r) if r.skipped => {}
            Ok(r) if r != SweepReport::default() => tracing::info!(?r, "sweep pass"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "sweep pass failed; will retry"),
        }
    }
    tracing::info!("sweeper stopped");
}

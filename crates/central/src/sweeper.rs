//! The sweeper: ends claims whose lease ran out, never blindly.
//!
//! A claim with no registered intent cannot have charged anything, so it is released. A claim
//! with a registered intent is resolved only from the gateway's evidence about *that* intent
//! (succeeded → paid, failed → failed, canceled → released, requires action → needs action);
//! anything else stays held and is listed for managers, and is re-checked on every pass. Orders
//! left in review by an unknown outcome (a terminal's `needs_review` result naming its intent; an
//! offline attempt's intent is adopted as the order's open intent for this) are re-checked the
//! same way on every pass: succeeded → paid, declined → failed, canceled → unpaid, requires
//! action → needs action, still confirmable or unreadable → left in review.
//! Deliberately absent: creating, confirming or cancelling intents — the sweeper only reads the
//! gateway; charging is the desktop's job.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use paydesk_core::{GatewayIntentId, Money, OrderId, Timestamp};
use tokio::sync::watch;

use crate::error::CentralResult;
use crate::store::{Store, SweepResolution};

/// Most expired claims looked at in one pass; the rest wait for the next pass.
pub const SWEEP_ROWS_MAX: u32 = 100;

/// What the gateway says about one intent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IntentEvidence {
    Succeeded {
        amount: Money,
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

    /// Lists intents created in `[from, to)`.
    async fn intents_between(
        &self,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<GatewayIntent>, String>;
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
}

/// One pass over the expired claims.
pub async fn sweep_once(
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
        let resolution = match evidence {
            Ok(IntentEvidence::Succeeded { amount }) => SweepResolution::Succeeded { amount },
            Ok(IntentEvidence::Declined) => SweepResolution::Failed,
            Ok(IntentEvidence::Canceled) => SweepResolution::Canceled,
            Ok(IntentEvidence::RequiresAction) => SweepResolution::RequiresAction,
            Ok(IntentEvidence::Pending { status }) => {
                let reason = format!(
                    "intent {intent} is {status}: its holder may still confirm it; ask the \
                     operator or cancel it at the gateway"
                );
                store.mark_unresolved(&claim, &reason, now).await?;
                report.unresolved += 1;
                continue;
            }
            Err(e) => {
                tracing::warn!(order = %claim.order_id, intent = %intent, error = %e, "sweeper could not read the intent");
                let reason =
                    format!("intent {intent} could not be read from the gateway; will retry");
                store.mark_unresolved(&claim, &reason, now).await?;
                report.unresolved += 1;
                continue;
            }
        };
        if store.end_expired_claim(&claim, resolution, now).await? {
            tracing::info!(order = %claim.order_id, intent = %intent, ?resolution, "sweeper resolved an expired claim");
            report.resolved += 1;
        }
    }
    // Unknown outcomes reported by terminals: re-checked on every pass until the gateway knows.
    if let Some(gateway) = gateway {
        for order in store.unknown_outcomes(SWEEP_ROWS_MAX).await? {
            let Some(intent) = order.open_intent_id.clone() else {
                continue;
            };
            let resolution = match gateway.intent(&intent).await {
                Ok(IntentEvidence::Succeeded { amount }) => SweepResolution::Succeeded { amount },
                Ok(IntentEvidence::Declined) => SweepResolution::Failed,
                Ok(IntentEvidence::Canceled) => SweepResolution::Canceled,
                Ok(IntentEvidence::RequiresAction) => SweepResolution::RequiresAction,
                Ok(IntentEvidence::Pending { .. }) | Err(_) => continue,
            };
            if store.settle_unknown(&order, resolution, now).await? {
                tracing::info!(order = %order.order_id, intent = %intent, ?resolution, "sweeper settled an unknown outcome");
                report.settled_unknown += 1;
            }
        }
    }
    Ok(report)
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
            Ok(r) if r != SweepReport::default() => tracing::info!(?r, "sweep pass"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "sweep pass failed; will retry"),
        }
    }
    tracing::info!("sweeper stopped");
}

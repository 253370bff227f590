//! The sweeper's and reconciliation's view of a real gateway: an adapter from the gateway crate's
//! connector (`paydesk_gateway::Gateway`) to the read-only [`IntentLookup`].
//!
//! Each order's intent is read at the order's own gateway: give it a
//! `paydesk_gateway::DispatchGateway` (Stripe and PayPal), which sends a read by id to the gateway
//! that made the id, so the sweeper, the results inbox's verification ("trust nobody's word") and
//! the evidence read a PayPal order by the PayPal order id stored for it. PayPal has no search and
//! no event list, so reconciliation adds PayPal's successes by reading, one by one, the PayPal
//! orders registered at this central in the period ([`GatewayLookup::with_paypal_orders`]).
//!
//! Deliberately absent: any call that changes state at the gateway.

use std::sync::Arc;

use async_trait::async_trait;
use paydesk_core::{Currency, GatewayIntentId, IntentStatus, Money, OrderId, Timestamp};
use paydesk_gateway::{EventQuery, Gateway};

use crate::store::Store;
use crate::sweeper::{GatewayIntent, IntentEvidence, IntentLookup};

/// Events read per page when listing successes for reconciliation.
const EVENT_PAGE_ROWS: u32 = 100;
/// Pages read at most for one report (10,000 successes), so a report always ends.
const EVENT_PAGES_MAX: u32 = 100;
/// PayPal orders read at most for one report, so a report always ends.
const PAYPAL_ORDERS_MAX: u32 = 2_000;

/// The events that say money went back to a customer: what the sweeper pulls so that a refund
/// made in the gateway's dashboard reaches the inbox without a webhook.
const REFUND_EVENT_TYPES: [&str; 4] = [
    "refund.created",
    "refund.updated",
    "charge.refunded",
    "charge.refund.updated",
];

/// A gateway connector seen through [`IntentLookup`].
#[derive(Debug, Clone)]
pub struct GatewayLookup {
    gateway: Arc<dyn Gateway>,
    /// Whether the key is a live one; `None` when the caller did not say (no webhook mode check).
    livemode: Option<bool>,
    /// Where the PayPal orders registered in a period are found, for reconciliation.
    paypal_orders: Option<Store>,
}

impl GatewayLookup {
    pub fn new(gateway: Arc<dyn Gateway>) -> GatewayLookup {
        GatewayLookup {
            gateway,
            livemode: None,
            paypal_orders: None,
        }
    }

    /// The mode of the key the gateway is read with (`!ApiKey::is_test_mode()`): webhook events
    /// of the other mode are then refused.
    pub fn with_livemode(mut self, livemode: bool) -> GatewayLookup {
        self.livemode = Some(livemode);
        self
    }

    /// Reconciliation also reads the PayPal orders registered at this central in the period
    /// (the gateway must then reach PayPal: a `DispatchGateway` with PayPal).
    pub fn with_paypal_orders(mut self, store: Store) -> GatewayLookup {
        self.paypal_orders = Some(store);
        self
    }

    /// PayPal's successes among the PayPal orders registered in `[from, to)`, each read at PayPal
    /// by its id. A PayPal order that cannot be read makes the report fail (it would otherwise
    /// show as "recorded, not charged").
    async fn paypal_between(
        &self,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<GatewayIntent>, String> {
        let Some(store) = &self.paypal_orders else {
            return Ok(Vec::new());
        };
        let registered = store
            .paypal_intents_between(from, to, PAYPAL_ORDERS_MAX)
            .await
            .map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        for (intent_id, order_id) in registered {
            let view = self
                .gateway
                .retrieve_intent(&intent_id)
                .await
                .map_err(|e| format!("PayPal order {intent_id}: {e}"))?;
            if view.status != IntentStatus::Succeeded {
                continue;
            }
            let minor = view.amount_received.unwrap_or(view.amount.minor());
            let amount = Money::new(minor, view.amount.currency()).map_err(|e| e.to_string())?;
            out.push(GatewayIntent {
                order_id: view
                    .meta("order_id")
                    .and_then(|o| OrderId::new(o).ok())
                    .or(Some(order_id)),
                intent_id,
                amount,
                succeeded: true,
            });
        }
        Ok(out)
    }
}

#[async_trait]
impl IntentLookup for GatewayLookup {
    async fn payment_method(
        &self,
        source: &str,
    ) -> Result<paydesk_gateway::PaymentMethodView, paydesk_gateway::GatewayError> {
        self.gateway.retrieve_payment_method(source).await
    }

    async fn intent(&self, intent_id: &GatewayIntentId) -> Result<IntentEvidence, String> {
        let view = self
            .gateway
            .retrieve_intent(intent_id)
            .await
            .map_err(|e| e.to_string())?;
        Ok(match view.status {
            IntentStatus::Succeeded => {
                let minor = view.amount_received.unwrap_or(view.amount.minor());
                let amount =
                    Money::new(minor, view.amount.currency()).map_err(|e| e.to_string())?;
                IntentEvidence::Succeeded {
                    amount,
                    customer: view.customer.clone(),
                    payment_method: view.payment_method.clone(),
                    order_id: view.meta("order_id").map(str::to_string),
                }
            }
            // Before a confirm this status only means "no payment method yet"; after a failed
            // confirm it carries the payment error, which is the evidence of a decline.
            IntentStatus::RequiresPaymentMethod { .. } if view.last_payment_error.is_some() => {
                IntentEvidence::Declined
            }
            IntentStatus::RequiresAction => IntentEvidence::RequiresAction,
            IntentStatus::Canceled => IntentEvidence::Canceled,
            _ => IntentEvidence::Pending {
                status: view.status_raw.clone(),
            },
        })
    }

    fn livemode(&self) -> Option<bool> {
        self.livemode
    }

    async fn refund_events(&self) -> Result<Vec<String>, String> {
        let page = self
            .gateway
            .list_events(&EventQuery {
                limit: EVENT_PAGE_ROWS,
                starting_after: None,
                created_gte: None,
                types: REFUND_EVENT_TYPES.iter().map(|t| t.to_string()).collect(),
            })
            .await
            .map_err(|e| e.to_string())?;
        // Newest first from the gateway; applied oldest first, as they happened.
        Ok(page
            .events
            .iter()
            .rev()
            // The type filter is a request, not a guarantee (the sandbox ignores it).
            .filter(|e| REFUND_EVENT_TYPES.contains(&e.event_type.as_str()))
            .map(|e| {
                serde_json::json!({
                    "id": e.id, "object": "event", "type": e.event_type,
                    "created": e.created, "livemode": e.livemode,
                    "data": { "object": e.object },
                })
                .to_string()
            })
            .collect())
    }

    async fn intents_between(
        &self,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<GatewayIntent>, String> {
        let mut out = self.paypal_between(from, to).await?;
        let mut starting_after = None;
        for _ in 0..EVENT_PAGES_MAX {
            let page = self
                .gateway
                .list_events(&EventQuery {
                    limit: EVENT_PAGE_ROWS,
                    starting_after: starting_after.clone(),
                    // Filtered here instead: events come newest first, so paging stops at the
                    // first page that reaches back before `from` (and the sandbox gateway does
                    // not implement `created[gte]`).
                    created_gte: None,
                    types: vec!["payment_intent.succeeded".to_string()],
                })
                .await
                .map_err(|e| e.to_string())?;
            for event in &page.events {
                let created_ms = event.created.saturating_mul(1000);
                // The type filter is a request, not a guarantee (the sandbox ignores it).
                if event.event_type != "payment_intent.succeeded"
                    || created_ms >= to.unix_ms()
                    || created_ms < from.unix_ms().saturating_sub(999)
                {
                    continue;
                }
                let o = &event.object;
                let (Some(id), Some(minor), Some(currency)) = (
                    o["id"].as_str(),
                    o["amount_received"].as_i64().or(o["amount"].as_i64()),
                    o["currency"].as_str(),
                ) else {
                    continue;
                };
                let (Ok(intent_id), Ok(currency)) =
                    (GatewayIntentId::new(id), Currency::from_code(currency))
                else {
                    continue;
                };
                let Ok(amount) = Money::new(minor, currency) else {
                    continue;
                };
                if out.iter().any(|g: &GatewayIntent| g.intent_id == intent_id) {
                    continue;
                }
                out.push(GatewayIntent {
                    intent_id,
                    order_id: o["metadata"]["order_id"]
                        .as_str()
                        .and_then(|s| OrderId::new(s).ok()),
                    amount,
                    succeeded: true,
                });
            }
            match page.events.last() {
                Some(last)
                    if page.has_more && last.created.saturating_mul(1000) >= from.unix_ms() =>
                {
                    starting_after = Some(last.id.clone())
                }
                _ => break,
            }
        }
        Ok(out)
    }
}

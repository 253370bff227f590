//! The gateway calls that change state which the central itself makes: a manager's reversal
//! (cancel an uncaptured intent, refund a paid one) and a resolution's cancel of an open intent —
//! the [`GatewayActions`] trait and its adapter over the gateway crate's connector
//! (`paydesk_gateway::Gateway`) — with the reads they decide on (an intent, a refund, the
//! intents the gateway's search finds for an order).
//!
//! Deliberately absent: deciding whether a reversal or a cancel is allowed (the routes
//! `http_reversals` and `http_inbox` do, from the live intents this trait reads) and charging.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use paydesk_core::{GatewayIntentId, OrderId};
use paydesk_gateway::{
    CancelResult, ChargeView, Gateway, IntentView, MetadataQuery, RefundRequest, RefundResult,
    RefundView,
};

/// What a reversal needs from the gateway: the live intent, a cancel and a refund. Every call
/// that changes state carries the caller's idempotency key, so a re-sent one lands once.
#[async_trait]
pub trait GatewayActions: Send + Sync + fmt::Debug {
    /// The intent as the gateway shows it now.
    async fn intent(&self, intent_id: &GatewayIntentId) -> Result<IntentView, String>;
    /// Cancels an intent that captured nothing.
    async fn cancel(
        &self,
        intent_id: &GatewayIntentId,
        key: &paydesk_core::IdempotencyKey,
    ) -> Result<CancelResult, String>;
    /// Refunds all or part of a succeeded intent.
    async fn refund(&self, request: &RefundRequest) -> Result<RefundResult, String>;
    /// A refund as the gateway shows it now (to follow a `pending` one to its end).
    async fn refund_view(&self, refund_id: &str) -> Result<RefundView, String>;
    /// The intents the gateway's search finds with `metadata['order_id']` = `order`. A search
    /// lags writes: finding nothing proves nothing. Gateways without a search say so.
    async fn search_order(&self, order: &OrderId) -> Result<Vec<IntentView>, String> {
        Err(format!(
            "this gateway cannot search intents of order {order}"
        ))
    }
    /// A charge as the gateway shows it now (how much of it was refunded, by anyone).
    async fn charge(&self, charge_id: &str) -> Result<ChargeView, String> {
        Err(format!("this gateway cannot read charge {charge_id}"))
    }
    /// The customer back on session for an intent that needs authentication (a payment
    /// link): see `Gateway::confirm_on_session`. No money moves until the customer acts.
    async fn confirm_on_session(
        &self,
        intent_id: &GatewayIntentId,
        payment_method: &str,
        return_url: &str,
        key: &paydesk_core::IdempotencyKey,
    ) -> Result<IntentView, String> {
        let _ = (payment_method, return_url, key);
        Err(format!(
            "this gateway cannot bring the customer back for intent {intent_id}"
        ))
    }
}

/// A gateway connector seen through [`GatewayActions`].
#[derive(Debug, Clone)]
pub struct GatewayActor {
    gateway: Arc<dyn Gateway>,
}

impl GatewayActor {
    pub fn new(gateway: Arc<dyn Gateway>) -> GatewayActor {
        GatewayActor { gateway }
    }
}

#[async_trait]
impl GatewayActions for GatewayActor {
    async fn confirm_on_session(
        &self,
        intent_id: &GatewayIntentId,
        payment_method: &str,
        return_url: &str,
        key: &paydesk_core::IdempotencyKey,
    ) -> Result<IntentView, String> {
        self.gateway
            .confirm_on_session(intent_id, payment_method, return_url, key)
            .await
            .map_err(|e| e.to_string())
    }

    async fn intent(&self, intent_id: &GatewayIntentId) -> Result<IntentView, String> {
        self.gateway
            .retrieve_intent(intent_id)
            .await
            .map_err(|e| e.to_string())
    }

    async fn cancel(
        &self,
        intent_id: &GatewayIntentId,
        key: &paydesk_core::IdempotencyKey,
    ) -> Result<CancelResult, String> {
        self.gateway
            .cancel_intent(intent_id, key)
            .await
            .map_err(|e| e.to_string())
    }

    async fn refund(&self, request: &RefundRequest) -> Result<RefundResult, String> {
        self.gateway
            .refund(request)
            .await
            .map_err(|e| e.to_string())
    }

    async fn refund_view(&self, refund_id: &str) -> Result<RefundView, String> {
        self.gateway
            .retrieve_refund(refund_id)
            .await
            .map_err(|e| e.to_string())
    }

    async fn search_order(&self, order: &OrderId) -> Result<Vec<IntentView>, String> {
        self.gateway
            .search_intents(&MetadataQuery::order(order))
            .await
            .map_err(|e| e.to_string())
    }

    async fn charge(&self, charge_id: &str) -> Result<ChargeView, String> {
        self.gateway
            .retrieve_charge(charge_id)
            .await
            .map_err(|e| e.to_string())
    }
}

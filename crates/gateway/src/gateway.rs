//! The one trait every gateway connector implements: exactly the calls the charge protocol,
//! recovery, refunds and reconciliation need, and no more.
//!
//! It says nothing about HTTP or a wire format; implementations own those.

use async_trait::async_trait;
use paydesk_core::{GatewayIntentId, IdempotencyKey};

use crate::error::GatewayError;
use crate::model::{
    CancelResult, ChargeView, ConfirmRequest, ConfirmResult, CreateIntentRequest, CreateResult,
    EventPage, EventQuery, IntentView, MetadataQuery, RefundRequest, RefundResult, RefundView,
};
use crate::payment_method::PaymentMethodView;

/// A payment gateway. Object-safe (`Arc<dyn Gateway>`) so the engine can hold Stripe, PayPal or a
/// test double behind one type.
///
/// The calls that change state (`create_intent`, `confirm_intent`, `cancel_intent`, `refund`)
/// report "never sent" and "may have landed" as values of their result types; their `Err` is only
/// for conditions in which the gateway executed nothing (bad key, a reused idempotency key, an
/// invalid request). Every one of them carries an idempotency key and may be re-sent with it.
#[async_trait]
pub trait Gateway: Send + Sync + std::fmt::Debug {
    /// A short stable name for logs and the journal (`"stripe"`).
    fn name(&self) -> &'static str;

    /// Creates an intent without moving money.
    async fn create_intent(
        &self,
        request: &CreateIntentRequest,
    ) -> Result<CreateResult, GatewayError>;

    /// Confirms an intent: the one call that can move money.
    async fn confirm_intent(&self, request: &ConfirmRequest)
        -> Result<ConfirmResult, GatewayError>;

    /// Reads an intent by id: the evidence recovery relies on.
    async fn retrieve_intent(&self, intent: &GatewayIntentId) -> Result<IntentView, GatewayError>;

    /// Cancels an intent that will not be confirmed. Idempotent.
    async fn cancel_intent(
        &self,
        intent: &GatewayIntentId,
        key: &IdempotencyKey,
    ) -> Result<CancelResult, GatewayError>;

    /// Brings the customer back on session for an intent that an off-session confirm left
    /// needing authentication (Stripe's recovery for `authentication_required`): confirms it
    /// again with its payment method and a `return_url`, so it waits in `requires_action` with
    /// a page for the customer (`IntentView::next_action_url`). No money moves until the
    /// customer completes that page. A gateway without it says so.
    async fn confirm_on_session(
        &self,
        intent: &GatewayIntentId,
        payment_method: &str,
        return_url: &str,
        key: &IdempotencyKey,
    ) -> Result<IntentView, GatewayError> {
        let _ = (payment_method, return_url, key);
        Err(GatewayError::Config {
            detail: format!("this gateway cannot bring the customer back for intent {intent}"),
        })
    }

    /// Finds intents by metadata. **An empty list proves nothing** (search lags writes): never
    /// treat it as "no intent exists".
    async fn search_intents(&self, query: &MetadataQuery) -> Result<Vec<IntentView>, GatewayError>;

    /// Refunds all or part of a succeeded intent's payment.
    async fn refund(&self, request: &RefundRequest) -> Result<RefundResult, GatewayError>;

    /// Reads a refund by id: how a `pending` refund is followed to its end (re-sending it under
    /// its key only replays the first answer). Connectors without it say so.
    async fn retrieve_refund(&self, refund_id: &str) -> Result<RefundView, GatewayError> {
        Err(GatewayError::Config {
            detail: format!("{} cannot read refund {refund_id} by id", self.name()),
        })
    }

    /// Reads a charge by id (an intent's `latest_charge`): how much of it was refunded, by
    /// Paydesk or anyone else. Connectors without it say so.
    async fn retrieve_charge(&self, charge_id: &str) -> Result<ChargeView, GatewayError> {
        Err(GatewayError::Config {
            detail: format!("{} cannot read charge {charge_id} by id", self.name()),
        })
    }

    /// Reads a saved payment method by the source an order names (a Stripe `pm_…`, a PayPal
    /// `card:<vault id>` or `paypal:<vault id>`): its brand, last digits and expiry, never its
    /// number. Read-only. Connectors without it say so.
    async fn retrieve_payment_method(
        &self,
        source: &str,
    ) -> Result<PaymentMethodView, GatewayError> {
        Err(GatewayError::Config {
            detail: format!("{} cannot read payment method {source}", self.name()),
        })
    }

    /// Lists recent events, newest first (for reconciliation when webhooks were missed).
    async fn list_events(&self, query: &EventQuery) -> Result<EventPage, GatewayError>;
}

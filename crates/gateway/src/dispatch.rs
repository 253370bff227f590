//! A gateway per order: one [`Gateway`] that sends each call to the connector of the order it is
//! about, so the engine, the terminal and the central hold one `Arc<dyn Gateway>` and charge,
//! recover and look up Stripe and PayPal orders alike (issue 13, item 4).
//!
//! # How a call finds its gateway
//!
//! The order names its gateway at the central, and the import checks that its payment source is
//! written in that gateway's syntax (`paydesk_protocol::GatewayName::of_payment_source`): a PayPal
//! source is `card:<vault id>` or `paypal:<vault id>`, a Stripe one (`pm_…`) never has such a
//! prefix. So:
//!
//! - **create** goes by the request's payment source;
//! - every call **by id** (confirm, retrieve, cancel, refund, a refund or a charge by id) goes by
//!   the id's shape: PayPal's order, capture and refund ids are upper-case letters and digits
//!   (`5O190127TN364715T`), Stripe's always carry a lower-case prefix and an underscore (`pi_…`,
//!   `ch_…`, `re_…`). The two never overlap, so no call can reach the other gateway.
//! - **search** asks every configured gateway and joins the answers (PayPal has no search and
//!   answers none, which proves nothing, as the trait says of every search);
//! - **events** are Stripe's (PayPal lists none; its webhooks go to the central).
//!
//! A call for a gateway that is not configured is a `Config` error naming it: nothing is sent.
//!
//! Deliberately absent: any decision about what to do with an answer (the core's), and any
//! fallback from one gateway to the other.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use paydesk_core::{GatewayIntentId, IdempotencyKey};

use crate::error::GatewayError;
use crate::gateway::Gateway;
use crate::model::{
    CancelResult, ChargeView, ConfirmRequest, ConfirmResult, CreateIntentRequest, CreateResult,
    EventPage, EventQuery, IntentView, MetadataQuery, RefundRequest, RefundResult, RefundView,
};
use crate::payment_method::PaymentMethodView;

/// Which connector a call belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Stripe,
    Paypal,
}

impl Route {
    pub fn as_str(self) -> &'static str {
        match self {
            Route::Stripe => "stripe",
            Route::Paypal => "paypal",
        }
    }

    /// The gateway a payment source is written for: `card:…` / `paypal:…` are PayPal's vaulted
    /// sources, anything else is a Stripe payment method.
    pub fn of_source(source: &str) -> Route {
        match source.split_once(':') {
            Some(("card" | "paypal", _)) => Route::Paypal,
            _ => Route::Stripe,
        }
    }

    /// The gateway an object id (intent, charge or capture, refund) was made by: PayPal's ids are
    /// upper-case letters and digits only; Stripe's are not.
    pub fn of_id(id: &str) -> Route {
        if !id.is_empty()
            && id
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        {
            Route::Paypal
        } else {
            Route::Stripe
        }
    }
}

/// Stripe and PayPal behind one [`Gateway`]; either may be absent.
#[derive(Clone, Default)]
pub struct DispatchGateway {
    stripe: Option<Arc<dyn Gateway>>,
    paypal: Option<Arc<dyn Gateway>>,
}

impl fmt::Debug for DispatchGateway {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DispatchGateway")
            .field("stripe", &self.stripe)
            .field("paypal", &self.paypal)
            .finish()
    }
}

impl DispatchGateway {
    pub fn new(stripe: Option<Arc<dyn Gateway>>, paypal: Option<Arc<dyn Gateway>>) -> Self {
        DispatchGateway { stripe, paypal }
    }

    pub fn has(&self, route: Route) -> bool {
        self.slot(route).is_some()
    }

    fn slot(&self, route: Route) -> Option<&Arc<dyn Gateway>> {
        match route {
            Route::Stripe => self.stripe.as_ref(),
            Route::Paypal => self.paypal.as_ref(),
        }
    }

    /// The connector for `route`, or a `Config` error saying which is missing and for what.
    pub fn connector(&self, route: Route, what: &str) -> Result<&Arc<dyn Gateway>, GatewayError> {
        self.slot(route).ok_or_else(|| GatewayError::Config {
            detail: format!(
                "{what} belongs to {}, and this terminal or central has no {} gateway \
                 configured: nothing was sent",
                route.as_str(),
                route.as_str()
            ),
        })
    }

    fn by_id(&self, id: &str) -> Result<&Arc<dyn Gateway>, GatewayError> {
        self.connector(Route::of_id(id), id)
    }
}

#[async_trait]
impl Gateway for DispatchGateway {
    fn name(&self) -> &'static str {
        match (&self.stripe, &self.paypal) {
            (Some(_), Some(_)) => "stripe+paypal",
            (Some(s), None) => s.name(),
            (None, Some(p)) => p.name(),
            (None, None) => "none",
        }
    }

    async fn create_intent(
        &self,
        request: &CreateIntentRequest,
    ) -> Result<CreateResult, GatewayError> {
        let route = Route::of_source(&request.payment_method);
        let what = format!("order {}", request.metadata.order);
        self.connector(route, &what)?.create_intent(request).await
    }

    async fn confirm_intent(
        &self,
        request: &ConfirmRequest,
    ) -> Result<ConfirmResult, GatewayError> {
        self.by_id(request.intent.as_str())?
            .confirm_intent(request)
            .await
    }

    async fn retrieve_intent(&self, intent: &GatewayIntentId) -> Result<IntentView, GatewayError> {
        self.by_id(intent.as_str())?.retrieve_intent(intent).await
    }

    async fn cancel_intent(
        &self,
        intent: &GatewayIntentId,
        key: &IdempotencyKey,
    ) -> Result<CancelResult, GatewayError> {
        self.by_id(intent.as_str())?
            .cancel_intent(intent, key)
            .await
    }

    async fn confirm_on_session(
        &self,
        intent: &GatewayIntentId,
        payment_method: &str,
        return_url: &str,
        key: &IdempotencyKey,
    ) -> Result<IntentView, GatewayError> {
        self.by_id(intent.as_str())?
            .confirm_on_session(intent, payment_method, return_url, key)
            .await
    }

    async fn search_intents(&self, query: &MetadataQuery) -> Result<Vec<IntentView>, GatewayError> {
        let mut found = Vec::new();
        let mut asked = false;
        for gateway in [&self.stripe, &self.paypal].into_iter().flatten() {
            asked = true;
            found.extend(gateway.search_intents(query).await?);
        }
        if !asked {
            return Err(GatewayError::Config {
                detail: "no gateway is configured to search".into(),
            });
        }
        Ok(found)
    }

    async fn refund(&self, request: &RefundRequest) -> Result<RefundResult, GatewayError> {
        self.by_id(request.intent.as_str())?.refund(request).await
    }

    async fn retrieve_refund(&self, refund_id: &str) -> Result<RefundView, GatewayError> {
        self.by_id(refund_id)?.retrieve_refund(refund_id).await
    }

    async fn retrieve_charge(&self, charge_id: &str) -> Result<ChargeView, GatewayError> {
        self.by_id(charge_id)?.retrieve_charge(charge_id).await
    }

    async fn retrieve_payment_method(
        &self,
        source: &str,
    ) -> Result<PaymentMethodView, GatewayError> {
        let what = format!("payment method {source}");
        self.connector(Route::of_source(source), &what)?
            .retrieve_payment_method(source)
            .await
    }

    async fn list_events(&self, query: &EventQuery) -> Result<EventPage, GatewayError> {
        match (&self.stripe, &self.paypal) {
            (Some(stripe), _) => stripe.list_events(query).await,
            (None, Some(paypal)) => paypal.list_events(query).await,
            (None, None) => Err(GatewayError::Config {
                detail: "no gateway is configured to list events".into(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Route;

    #[test]
    fn sources_and_ids_route_to_their_own_gateway() {
        for source in ["card:vault_approve", "paypal:vault_approve"] {
            assert_eq!(Route::of_source(source), Route::Paypal, "{source}");
        }
        for source in ["pm_card_visa", "pm_1Nx", "cards:x", "card"] {
            assert_eq!(Route::of_source(source), Route::Stripe, "{source}");
        }
        for id in ["5O190127TN364715T", "7D2B2C0A5E1F43A9B", "3C6790F1"] {
            assert_eq!(Route::of_id(id), Route::Paypal, "{id}");
        }
        for id in ["pi_3Nx", "ch_1", "re_9", "py_2", "", "PI_1"] {
            assert_eq!(Route::of_id(id), Route::Stripe, "{id}");
        }
    }
}

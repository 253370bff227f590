//! 3-D Secure at the sandbox: the customer's page completes or fails authentication of an intent
//! waiting in `requires_action`, as Stripe's test page does; and what that page needs to know.

use serde_json::{json, Value};

use super::{RequestContext, Status, Store};
use crate::error::ApiError;

impl Store {
    /// The token in the 3-D Secure page's url of an intent waiting in `requires_action`, if it
    /// waits for one (what `authenticate.rs` checks a visitor's token against).
    pub fn authentication_token(&self, id: &str) -> Option<String> {
        let intent = self.intents.get(id)?;
        if intent.status != Status::RequiresAction {
            return None;
        }
        let url = intent
            .next_action
            .as_ref()?
            .pointer("/redirect_to_url/url")?;
        let (_, token) = url.as_str()?.split_once("?token=")?;
        Some(token.to_string())
    }

    /// An intent's status word, amount and currency, for the 3-D Secure page.
    pub fn intent_summary(&self, id: &str) -> Option<(&'static str, i64, String)> {
        let i = self.intents.get(id)?;
        Some((i.status.as_str(), i.amount, i.currency.clone()))
    }

    /// The customer fails 3-D Secure (the test page's "Fail"): like Stripe, the intent goes
    /// back to `requires_payment_method` with `payment_intent_authentication_failure`.
    pub fn fail_authentication(&mut self, id: &str, now_ms: i64) -> Result<Value, ApiError> {
        let intent = self.intent(id)?;
        if intent.status != Status::RequiresAction {
            return Err(ApiError::unexpected_state(
                self.render_intent(intent),
                format!(
                    "Only a PaymentIntent in requires_action can fail authentication; this one \
                     is {}.",
                    intent.status.as_str()
                ),
            ));
        }
        let intent = self.intents.get_mut(id).expect("looked up above");
        intent.status = Status::RequiresPaymentMethod;
        intent.next_action = None;
        intent.payment_method = None;
        intent.last_payment_error = Some(json!({
            "type": "invalid_request_error",
            "code": "payment_intent_authentication_failure",
            "message": "The provided PaymentMethod has failed authentication. You can provide \
                        payment_method_data or a new PaymentMethod to attempt to fulfill this \
                        PaymentIntent again.",
        }));
        let rendered = self.render_intent(&self.intents[id]);
        let ctx = RequestContext::default();
        self.emit(
            "payment_intent.payment_failed",
            rendered.clone(),
            now_ms,
            &ctx,
        );
        Ok(rendered)
    }

    /// Admin: the customer completes 3-D Secure for an intent in `requires_action`.
    pub fn complete_authentication(&mut self, id: &str, now_ms: i64) -> Result<Value, ApiError> {
        let intent = self.intent(id)?;
        if intent.status != Status::RequiresAction {
            return Err(ApiError::unexpected_state(
                self.render_intent(intent),
                format!(
                    "Only a PaymentIntent in requires_action can be authenticated; this one is {}.",
                    intent.status.as_str()
                ),
            ));
        }
        let pm = intent.payment_method.clone().unwrap_or_default();
        let charge = self.new_charge(id, &pm, true, None, None, now_ms);
        let intent = self.intents.get_mut(id).expect("looked up above");
        intent.status = Status::Succeeded;
        intent.next_action = None;
        intent.latest_charge = Some(charge.clone());
        intent.succeeded_charge = Some(charge.clone());
        intent.succeeded_count += 1;
        let ctx = RequestContext::default();
        let rendered_charge = self.render_charge(&self.charges[&charge]);
        self.emit("charge.succeeded", rendered_charge, now_ms, &ctx);
        let rendered = self.render_intent(&self.intents[id]);
        self.emit("payment_intent.succeeded", rendered.clone(), now_ms, &ctx);
        Ok(rendered)
    }
}

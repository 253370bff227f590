//! The sandbox's account state — PaymentIntents, charges, refunds, events — and the operations
//! on it, rendered as Stripe objects.
//!
//! Operations are synchronous and take the sandbox-clock time as an argument; the server holds
//! one lock around each, so every operation is atomic. No HTTP, no faults, no idempotency here.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::cards::{self, CardBehavior};
use crate::error::ApiError;
use crate::params;
use crate::search::{self, Clause};

mod authentication;

/// The API version stamped on events, the one the fixtures were taken from.
pub const API_VERSION: &str = "2024-06-20";

/// Who made the request that caused an event (Stripe's `event.request`).
#[derive(Debug, Clone, Default)]
pub struct RequestContext {
    pub request_id: Option<String>,
    pub idempotency_key: Option<String>,
}

/// A PaymentIntent's lifecycle states (the subset reachable with automatic capture).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    RequiresPaymentMethod,
    RequiresConfirmation,
    RequiresAction,
    Processing,
    Succeeded,
    Canceled,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::RequiresPaymentMethod => "requires_payment_method",
            Status::RequiresConfirmation => "requires_confirmation",
            Status::RequiresAction => "requires_action",
            Status::Processing => "processing",
            Status::Succeeded => "succeeded",
            Status::Canceled => "canceled",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Intent {
    id: String,
    amount: i64,
    currency: String,
    customer: Option<String>,
    payment_method: Option<String>,
    description: Option<String>,
    metadata: BTreeMap<String, String>,
    status: Status,
    off_session: bool,
    created_ms: i64,
    canceled_at_ms: Option<i64>,
    cancellation_reason: Option<String>,
    last_payment_error: Option<Value>,
    next_action: Option<Value>,
    latest_charge: Option<String>,
    /// The one succeeded charge, which refunds apply to.
    succeeded_charge: Option<String>,
    /// How many times this intent reached `succeeded`: the ledger's evidence that it is ≤ 1.
    succeeded_count: u32,
    client_secret: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Charge {
    id: String,
    payment_intent: String,
    amount: i64,
    amount_refunded: i64,
    currency: String,
    customer: Option<String>,
    description: Option<String>,
    payment_method: String,
    metadata: BTreeMap<String, String>,
    succeeded: bool,
    failure_code: Option<String>,
    failure_message: Option<String>,
    created_ms: i64,
    refunds: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Refund {
    id: String,
    amount: i64,
    charge: String,
    payment_intent: String,
    currency: String,
    customer: Option<String>,
    payment_method: String,
    reason: Option<String>,
    metadata: BTreeMap<String, String>,
    created_ms: i64,
}

/// The whole simulated account (saved in the state file, see `persist.rs`).
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Store {
    intents: HashMap<String, Intent>,
    /// Intent ids in creation order (search and the ledger list newest first from here).
    intent_order: Vec<String>,
    charges: HashMap<String, Charge>,
    refunds: HashMap<String, Refund>,
    /// Every event, oldest first.
    events: Vec<Value>,
    /// Events created since the server last drained them for webhook delivery.
    #[serde(skip)]
    undelivered: Vec<Value>,
    /// Whether events count a pending webhook (a URL is configured): configuration, not state.
    #[serde(skip)]
    pub webhooks_enabled: bool,
    /// `http://host:port` this sandbox answers on, prefixed to the 3-D Secure page's path in a
    /// rendered `next_action`: configuration, not state.
    #[serde(skip)]
    pub public_url: String,
}

/// A fresh Stripe-looking id: the prefix and 24 random alphanumerics.
pub fn new_id(prefix: &str) -> String {
    let hex = uuid::Uuid::new_v4().simple().to_string();
    format!("{prefix}_{}", &hex[..24])
}

fn secs(ms: i64) -> i64 {
    ms.div_euclid(1000)
}

impl Store {
    /// Takes the events not yet handed to the webhook dispatcher.
    pub fn drain_undelivered(&mut self) -> Vec<Value> {
        std::mem::take(&mut self.undelivered)
    }

    fn emit(&mut self, kind: &str, object: Value, now_ms: i64, ctx: &RequestContext) {
        let event = json!({
            "id": new_id("evt"),
            "object": "event",
            "api_version": API_VERSION,
            "created": secs(now_ms),
            "data": { "object": object },
            "livemode": false,
            "pending_webhooks": u32::from(self.webhooks_enabled),
            "request": {
                "id": ctx.request_id,
                "idempotency_key": ctx.idempotency_key,
            },
            "type": kind,
        });
        self.events.push(event.clone());
        self.undelivered.push(event);
    }

    fn intent(&self, id: &str) -> Result<&Intent, ApiError> {
        self.intents
            .get(id)
            .ok_or_else(|| ApiError::not_found("payment_intent", id, "intent"))
    }

    fn render_intent(&self, i: &Intent) -> Value {
        json!({
            "id": i.id,
            "object": "payment_intent",
            "amount": i.amount,
            "amount_capturable": 0,
            "amount_details": { "tip": {} },
            "amount_received": if i.status == Status::Succeeded { i.amount } else { 0 },
            "application": null,
            "application_fee_amount": null,
            "automatic_payment_methods": null,
            "canceled_at": i.canceled_at_ms.map(secs),
            "cancellation_reason": i.cancellation_reason,
            "capture_method": "automatic",
            "client_secret": i.client_secret,
            "confirmation_method": "automatic",
            "created": secs(i.created_ms),
            "currency": i.currency,
            "customer": i.customer,
            "customer_account": null,
            "description": i.description,
            "excluded_payment_method_types": null,
            "last_payment_error": i.last_payment_error,
            "latest_charge": i.latest_charge,
            "livemode": false,
            "managed_payments": null,
            "metadata": i.metadata,
            "next_action": self.render_next_action(i.next_action.as_ref()),
            "on_behalf_of": null,
            "payment_method": i.payment_method,
            "payment_method_configuration_details": null,
            "payment_method_options": { "card": { "request_three_d_secure": "automatic" } },
            "payment_method_types": ["card"],
            "processing": null,
            "receipt_email": null,
            "review": null,
            "setup_future_usage": null,
            "shipping": null,
            "source": null,
            "statement_descriptor": null,
            "statement_descriptor_suffix": null,
            "status": i.status.as_str(),
            "transfer_data": null,
            "transfer_group": null,
        })
    }

    fn render_charge(&self, c: &Charge) -> Value {
        let card = cards::find(&c.payment_method);
        let refunds: Vec<Value> = c
            .refunds
            .iter()
            .filter_map(|r| self.refunds.get(r))
            .map(render_refund)
            .collect();
        json!({
            "id": c.id,
            "object": "charge",
            "amount": c.amount,
            "amount_captured": if c.succeeded { c.amount } else { 0 },
            "amount_refunded": c.amount_refunded,
            "application": null,
            "application_fee": null,
            "application_fee_amount": null,
            "balance_transaction": if c.succeeded { Value::from(format!("txn_{}", &c.id[3..])) } else { Value::Null },
            "billing_details": {
                "address": {
                    "city": null, "country": null, "line1": null, "line2": null,
                    "postal_code": null, "state": null
                },
                "email": null, "name": null, "phone": null, "tax_id": null
            },
            "calculated_statement_descriptor": "PAYDESK SANDBOX",
            "captured": c.succeeded,
            "created": secs(c.created_ms),
            "currency": c.currency,
            "customer": c.customer,
            "description": c.description,
            "disputed": false,
            "failure_balance_transaction": null,
            "failure_code": c.failure_code,
            "failure_message": c.failure_message,
            "fraud_details": {},
            "livemode": false,
            "metadata": c.metadata,
            "on_behalf_of": null,
            "outcome": {
                "network_status": if c.succeeded { "approved_by_network" } else { "declined_by_network" },
                "reason": c.failure_code,
                "risk_level": "normal",
                "seller_message": if c.succeeded { "Payment complete." } else { "The bank did not return any further details with this decline." },
                "type": if c.succeeded { "authorized" } else { "issuer_declined" },
            },
            "paid": c.succeeded,
            "payment_intent": c.payment_intent,
            "payment_method": c.payment_method,
            "payment_method_details": {
                "card": {
                    "brand": card.map(|c| c.brand),
                    "last4": card.map(|c| c.last4),
                    "exp_month": 12,
                    "exp_year": 2034,
                    "country": "US",
                    "funding": "credit",
                    "network": card.map(|c| c.brand),
                },
                "type": "card"
            },
            "receipt_email": null,
            "receipt_number": null,
            "receipt_url": null,
            "refunded": c.succeeded && c.amount_refunded == c.amount,
            "refunds": {
                "object": "list",
                "data": refunds,
                "has_more": false,
                "url": format!("/v1/charges/{}/refunds", c.id),
            },
            "review": null,
            "shipping": null,
            "source_transfer": null,
            "statement_descriptor": null,
            "statement_descriptor_suffix": null,
            "status": if c.succeeded { "succeeded" } else { "failed" },
            "transfer_data": null,
            "transfer_group": null,
        })
    }

    /// `POST /v1/payment_intents`
    pub fn create_intent(
        &mut self,
        p: params::CreateIntent,
        now_ms: i64,
        ctx: &RequestContext,
    ) -> Result<Value, ApiError> {
        let id = new_id("pi");
        let intent = Intent {
            client_secret: format!("{id}_secret_{}", &new_id("s")[2..]),
            id: id.clone(),
            amount: p.amount,
            currency: p.currency,
            customer: p.customer,
            status: if p.payment_method.is_some() {
                Status::RequiresConfirmation
            } else {
                Status::RequiresPaymentMethod
            },
            payment_method: p.payment_method,
            description: p.description,
            metadata: p.metadata,
            off_session: p.off_session,
            created_ms: now_ms,
            canceled_at_ms: None,
            cancellation_reason: None,
            last_payment_error: None,
            next_action: None,
            latest_charge: None,
            succeeded_charge: None,
            succeeded_count: 0,
        };
        let rendered = self.render_intent(&intent);
        self.intents.insert(id.clone(), intent);
        self.intent_order.push(id.clone());
        self.emit("payment_intent.created", rendered.clone(), now_ms, ctx);
        if p.confirm {
            return self.confirm_intent(
                &id,
                params::ConfirmIntent {
                    payment_method: None,
                    off_session: None,
                },
                now_ms,
                ctx,
            );
        }
        Ok(rendered)
    }

    /// `POST /v1/payment_intents/{id}/confirm`
    pub fn confirm_intent(
        &mut self,
        id: &str,
        p: params::ConfirmIntent,
        now_ms: i64,
        ctx: &RequestContext,
    ) -> Result<Value, ApiError> {
        let intent = self.intent(id)?.clone();
        if matches!(
            intent.status,
            Status::Succeeded | Status::Canceled | Status::Processing
        ) {
            return Err(ApiError::unexpected_state(
                self.render_intent(&intent),
                format!(
                    "You cannot confirm this PaymentIntent because it has a status of {}. Only a \
                     PaymentIntent with one of the following statuses may be confirmed: \
                     requires_confirmation, requires_action, requires_payment_method.",
                    intent.status.as_str()
                ),
            ));
        }
        let Some(pm) = p.payment_method.or(intent.payment_method.clone()) else {
            return Err(ApiError::invalid(
                "payment_intent_unexpected_state",
                "payment_method",
                "You cannot confirm this PaymentIntent because it's missing a payment method. \
                 To confirm it, pass payment_method.",
            ));
        };
        let off_session = p.off_session.unwrap_or(intent.off_session);
        let card = cards::find(&pm).expect("payment methods are validated when parsed");
        let behavior = match card.behavior {
            CardBehavior::AuthenticationRequired if off_session => cards::AUTHENTICATION_REQUIRED,
            b => b,
        };
        let intent = self.intents.get_mut(id).expect("looked up above");
        intent.payment_method = Some(pm.clone());
        intent.off_session = off_session;
        match behavior {
            CardBehavior::Succeed => {
                let charge = self.new_charge(id, &pm, true, None, None, now_ms);
                let intent = self.intents.get_mut(id).expect("looked up above");
                intent.status = Status::Succeeded;
                intent.last_payment_error = None;
                intent.next_action = None;
                intent.latest_charge = Some(charge.clone());
                intent.succeeded_charge = Some(charge.clone());
                intent.succeeded_count += 1;
                let rendered_charge = self.render_charge(&self.charges[&charge]);
                self.emit("charge.succeeded", rendered_charge, now_ms, ctx);
                let rendered = self.render_intent(&self.intents[id]);
                self.emit("payment_intent.succeeded", rendered.clone(), now_ms, ctx);
                Ok(rendered)
            }
            CardBehavior::AuthenticationRequired => {
                intent.status = Status::RequiresAction;
                intent.last_payment_error = None;
                // Stripe's shape for a redirect: the customer is sent to `url`, a page of this
                // sandbox (`authenticate.rs`), which completes or fails the authentication. The
                // stored url is a path with a fresh unguessable token; rendering prefixes the
                // sandbox's own address, so a restart on another port still gives a working url.
                intent.next_action = Some(json!({
                    "type": "redirect_to_url",
                    "redirect_to_url": {
                        "url": format!(
                            "/3ds/authenticate/{id}?token={}",
                            &new_id("tds")[4..]
                        ),
                        "return_url": null,
                    }
                }));
                let rendered = self.render_intent(&self.intents[id]);
                self.emit(
                    "payment_intent.requires_action",
                    rendered.clone(),
                    now_ms,
                    ctx,
                );
                Ok(rendered)
            }
            CardBehavior::Decline {
                code,
                decline_code,
                message,
            } => {
                let charge = self.new_charge(id, &pm, false, Some(code), Some(message), now_ms);
                let pm_object = json!({
                    "id": pm,
                    "object": "payment_method",
                    "type": "card",
                    "card": { "brand": card.brand, "last4": card.last4 },
                });
                let error = ApiError::card(
                    code,
                    decline_code,
                    message,
                    Value::Null,
                    Some(charge.clone()),
                );
                let intent = self.intents.get_mut(id).expect("looked up above");
                // Stripe detaches the failed method: the intent waits for a new one.
                intent.status = Status::RequiresPaymentMethod;
                intent.payment_method = None;
                intent.next_action = None;
                intent.latest_charge = Some(charge.clone());
                intent.last_payment_error = Some(error.as_last_payment_error(pm_object));
                let rendered_charge = self.render_charge(&self.charges[&charge]);
                self.emit("charge.failed", rendered_charge, now_ms, ctx);
                let rendered = self.render_intent(&self.intents[id]);
                self.emit(
                    "payment_intent.payment_failed",
                    rendered.clone(),
                    now_ms,
                    ctx,
                );
                Err(ApiError::card(
                    code,
                    decline_code,
                    message,
                    rendered,
                    Some(charge),
                ))
            }
        }
    }

    fn new_charge(
        &mut self,
        intent_id: &str,
        pm: &str,
        succeeded: bool,
        failure_code: Option<&'static str>,
        failure_message: Option<&'static str>,
        now_ms: i64,
    ) -> String {
        let i = &self.intents[intent_id];
        let charge = Charge {
            id: new_id("ch"),
            payment_intent: intent_id.to_string(),
            amount: i.amount,
            amount_refunded: 0,
            currency: i.currency.clone(),
            customer: i.customer.clone(),
            description: i.description.clone(),
            payment_method: pm.to_string(),
            metadata: i.metadata.clone(),
            succeeded,
            failure_code: failure_code.map(str::to_string),
            failure_message: failure_message.map(str::to_string),
            created_ms: now_ms,
            refunds: Vec::new(),
        };
        let id = charge.id.clone();
        self.charges.insert(id.clone(), charge);
        id
    }

    /// A stored `next_action` as Stripe shows it: a redirect's relative url made absolute.
    fn render_next_action(&self, action: Option<&Value>) -> Value {
        let Some(action) = action else {
            return Value::Null;
        };
        let mut action = action.clone();
        if let Some(url) = action.pointer_mut("/redirect_to_url/url") {
            if let Some(path) = url.as_str().filter(|u| u.starts_with('/')) {
                *url = Value::String(format!("{}{path}", self.public_url));
            }
        }
        action
    }

    /// `POST /v1/payment_intents/{id}/cancel`
    pub fn cancel_intent(
        &mut self,
        id: &str,
        p: params::CancelIntent,
        now_ms: i64,
        ctx: &RequestContext,
    ) -> Result<Value, ApiError> {
        let intent = self.intent(id)?;
        if matches!(intent.status, Status::Succeeded | Status::Canceled) {
            return Err(ApiError::unexpected_state(
                self.render_intent(intent),
                format!(
                    "You cannot cancel this PaymentIntent because it has a status of {}. Only a \
                     PaymentIntent with one of the following statuses may be canceled: \
                     requires_payment_method, requires_capture, requires_confirmation, \
                     requires_action, processing.",
                    intent.status.as_str()
                ),
            ));
        }
        let intent = self.intents.get_mut(id).expect("looked up above");
        intent.status = Status::Canceled;
        intent.canceled_at_ms = Some(now_ms);
        intent.cancellation_reason = p.cancellation_reason;
        intent.next_action = None;
        let rendered = self.render_intent(&self.intents[id]);
        self.emit("payment_intent.canceled", rendered.clone(), now_ms, ctx);
        Ok(rendered)
    }

    /// `GET /v1/payment_intents/{id}`
    pub fn retrieve_intent(&self, id: &str) -> Result<Value, ApiError> {
        Ok(self.render_intent(self.intent(id)?))
    }

    /// `GET /v1/charges/{id}`
    pub fn retrieve_charge(&self, id: &str) -> Result<Value, ApiError> {
        let c = self
            .charges
            .get(id)
            .ok_or_else(|| ApiError::not_found("charge", id, "id"))?;
        Ok(self.render_charge(c))
    }

    /// `GET /v1/payment_intents/search`. An intent is invisible until `created + lag_ms`, like
    /// Stripe's search index, which trails writes (Stripe documents up to a minute).
    pub fn search_intents(
        &self,
        p: params::Search,
        now_ms: i64,
        lag_ms: i64,
    ) -> Result<Value, ApiError> {
        let clauses = search::parse(&p.query).map_err(|msg| {
            ApiError::invalid(
                "parameter_invalid_string",
                "query",
                format!("Invalid query: {msg}"),
            )
        })?;
        let offset: usize = match &p.page {
            None => 0,
            Some(page) => page
                .strip_prefix("page_")
                .and_then(|n| n.parse().ok())
                .ok_or_else(|| {
                    ApiError::invalid("parameter_invalid_string", "page", "Invalid page token.")
                })?,
        };
        let matching: Vec<&Intent> = self
            .intent_order
            .iter()
            .rev()
            .map(|id| &self.intents[id])
            .filter(|i| i.created_ms.saturating_add(lag_ms) <= now_ms)
            .filter(|i| clauses.iter().all(|c| matches_clause(i, c)))
            .collect();
        let page: Vec<Value> = matching
            .iter()
            .skip(offset)
            .take(p.limit)
            .map(|i| self.render_intent(i))
            .collect();
        let has_more = matching.len() > offset + page.len();
        Ok(json!({
            "object": "search_result",
            "data": page,
            "has_more": has_more,
            "next_page": if has_more { Value::from(format!("page_{}", offset + p.limit)) } else { Value::Null },
            "url": "/v1/payment_intents/search",
        }))
    }

    /// `POST /v1/refunds`
    pub fn create_refund(
        &mut self,
        p: params::CreateRefund,
        now_ms: i64,
        ctx: &RequestContext,
    ) -> Result<Value, ApiError> {
        let charge_id = match (&p.payment_intent, &p.charge) {
            (Some(pi), _) => {
                let intent = self
                    .intents
                    .get(pi)
                    .ok_or_else(|| ApiError::not_found("payment_intent", pi, "payment_intent"))?;
                intent.succeeded_charge.clone().ok_or_else(|| {
                    ApiError::invalid(
                        "charge_not_refundable",
                        "payment_intent",
                        format!(
                            "This PaymentIntent ({pi}) does not have a successful charge to refund."
                        ),
                    )
                })?
            }
            (None, Some(ch)) => match self.charges.get(ch) {
                Some(c) if c.succeeded => ch.clone(),
                Some(_) => {
                    return Err(ApiError::invalid(
                        "charge_not_refundable",
                        "charge",
                        format!("Charge {ch} has not succeeded and cannot be refunded."),
                    ))
                }
                None => return Err(ApiError::not_found("charge", ch, "charge")),
            },
            (None, None) => unreachable!("params::CreateRefund requires one of them"),
        };
        let charge = &self.charges[&charge_id];
        let remaining = charge.amount - charge.amount_refunded;
        if remaining == 0 {
            return Err(ApiError::invalid(
                "charge_already_refunded",
                "charge",
                format!("Charge {charge_id} has already been refunded."),
            ));
        }
        let amount = p.amount.unwrap_or(remaining);
        if amount > remaining {
            return Err(ApiError::invalid(
                "amount_too_large",
                "amount",
                format!(
                    "Refund amount ({amount} {cur}) is greater than unrefunded amount on charge \
                     ({remaining} {cur})",
                    cur = charge.currency
                ),
            ));
        }
        let refund = Refund {
            id: new_id("re"),
            amount,
            charge: charge_id.clone(),
            payment_intent: charge.payment_intent.clone(),
            currency: charge.currency.clone(),
            customer: charge.customer.clone(),
            payment_method: charge.payment_method.clone(),
            reason: p.reason,
            metadata: p.metadata,
            created_ms: now_ms,
        };
        let refund_id = refund.id.clone();
        let rendered = render_refund(&refund);
        self.refunds.insert(refund_id.clone(), refund);
        let charge = self.charges.get_mut(&charge_id).expect("looked up above");
        charge.amount_refunded += amount;
        charge.refunds.push(refund_id);
        self.emit("refund.created", rendered.clone(), now_ms, ctx);
        let rendered_charge = self.render_charge(&self.charges[&charge_id]);
        self.emit("charge.refunded", rendered_charge, now_ms, ctx);
        Ok(rendered)
    }

    /// `GET /v1/refunds/{id}`
    pub fn retrieve_refund(&self, id: &str) -> Result<Value, ApiError> {
        self.refunds
            .get(id)
            .map(render_refund)
            .ok_or_else(|| ApiError::not_found("refund", id, "id"))
    }

    /// `GET /v1/events`: newest first.
    pub fn list_events(&self, p: params::ListEvents) -> Result<Value, ApiError> {
        let newest_first = self
            .events
            .iter()
            .rev()
            .filter(|e| p.event_type.as_deref().is_none_or(|t| e["type"] == t))
            .filter(|e| p.types.is_empty() || p.types.iter().any(|t| e["type"] == t.as_str()))
            .filter(|e| e["created"].as_i64().is_some_and(|c| p.created.contains(c)));
        let after: Vec<&Value> = match &p.starting_after {
            None => newest_first.collect(),
            Some(cursor) => {
                if !self.events.iter().any(|e| e["id"] == cursor.as_str()) {
                    return Err(ApiError::not_found("event", cursor, "starting_after"));
                }
                newest_first
                    .skip_while(|e| e["id"] != cursor.as_str())
                    .skip(1)
                    .collect()
            }
        };
        let page: Vec<Value> = after.iter().take(p.limit).map(|e| (*e).clone()).collect();
        Ok(json!({
            "object": "list",
            "data": page,
            "has_more": after.len() > p.limit,
            "url": "/v1/events",
        }))
    }

    /// `GET /v1/events/{id}`
    pub fn retrieve_event(&self, id: &str) -> Result<Value, ApiError> {
        self.events
            .iter()
            .find(|e| e["id"] == id)
            .cloned()
            .ok_or_else(|| ApiError::not_found("event", id, "id"))
    }

    /// Ground truth for system tests: every intent, newest last.
    pub fn ledger_intents(&self) -> Vec<Value> {
        self.intent_order
            .iter()
            .map(|id| {
                let i = &self.intents[id];
                let refunds: Vec<Value> = i
                    .succeeded_charge
                    .as_ref()
                    .map(|c| {
                        self.charges[c]
                            .refunds
                            .iter()
                            .map(|r| {
                                let r = &self.refunds[r];
                                json!({"id": r.id, "amount": r.amount, "created_ms": r.created_ms})
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let amount_refunded = i
                    .succeeded_charge
                    .as_ref()
                    .map(|c| self.charges[c].amount_refunded)
                    .unwrap_or(0);
                json!({
                    "id": i.id,
                    "status": i.status.as_str(),
                    "amount": i.amount,
                    "currency": i.currency,
                    "metadata": i.metadata,
                    "created_ms": i.created_ms,
                    "succeeded_count": i.succeeded_count,
                    "charges": self.charges.values().filter(|c| c.payment_intent == i.id).count(),
                    "amount_refunded": amount_refunded,
                    "refunds": refunds,
                })
            })
            .collect()
    }
}

fn matches_clause(i: &Intent, c: &Clause) -> bool {
    match c {
        Clause::Metadata { key, value } => i.metadata.get(key) == Some(value),
        Clause::Status(s) => i.status.as_str() == s,
        Clause::Currency(cur) => &i.currency == cur,
        Clause::Customer(cus) => i.customer.as_ref() == Some(cus),
        Clause::Amount(a) => i.amount == *a,
    }
}

fn render_refund(r: &Refund) -> Value {
    json!({
        "id": r.id,
        "object": "refund",
        "amount": r.amount,
        "balance_transaction": format!("txn_{}", &r.id[3..]),
        "charge": r.charge,
        "created": secs(r.created_ms),
        "currency": r.currency,
        "customer": r.customer,
        "customer_account": null,
        "destination_details": { "card": { "type": "refund" }, "type": "card" },
        "metadata": r.metadata,
        "payment_intent": r.payment_intent,
        "payment_method": r.payment_method,
        "reason": r.reason,
        "receipt_number": null,
        "source_transfer_reversal": null,
        "status": "succeeded",
        "transfer_reversal": null,
    })
}

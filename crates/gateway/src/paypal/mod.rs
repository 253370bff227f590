//! The PayPal connector: Orders v2 behind the same [`Gateway`] trait and the same explicit
//! outcomes as Stripe, so the engine charges a vaulted PayPal source exactly as a Stripe one.
//!
//! # How the two-step trait maps onto PayPal
//!
//! PayPal documents the merchant-initiated charge of a vaulted source as *one* step (create the
//! order with `payment_source.*.vault_id`, and it is captured at once). The trait needs two: a
//! create that moves no money (its id is registered at the central before anything can be
//! charged) and a confirm that is the only call that can. So:
//!
//! - **create** = `POST /v2/checkout/orders`, `intent: CAPTURE`, **without** a payment source:
//!   the order is `CREATED` and nothing can move. The purchase unit carries
//!   `invoice_id` = the Paydesk order id, `custom_id` = `attempt id|attempt number|terminal`, and
//!   `reference_id` = the payment source reference (`card:<vault id>` or `paypal:<vault id>`), so
//!   the confirm (which is given only the order id) and every later lookup can read them back.
//! - **confirm** = read the order, then `POST /v2/checkout/orders/{id}/capture` with
//!   `payment_source.card.vault_id` plus the card `stored_credential` (`payment_initiator`
//!   MERCHANT, `payment_type` UNSCHEDULED, `usage` SUBSEQUENT), or `payment_source.paypal.vault_id`
//!   plus the wallet's (`payment_initiator` MERCHANT, `usage_pattern` UNSCHEDULED_POSTPAID,
//!   `usage` SUBSEQUENT; the wallet schema has no `payment_type`). PayPal's capture reference:
//!   "the buyer must first approve the order or a valid payment_source must be provided in the
//!   request". A failed read before the capture means no capture was sent: `NotSent`.
//!
//! `invoice_id` is the order, **not** the attempt: a second attempt after an unknown outcome must
//! hit PayPal's permanent guard (`DUPLICATE_INVOICE_ID`, with "Block accidental payments" on) if
//! the first one was captured after all. Paydesk has one installment per order today; when
//! installments arrive, the installment number belongs in `invoice_id` too.
//!
//! # Outcomes
//!
//! From `purchase_units[].payments.captures[].status`, never the order's `COMPLETED`: COMPLETED
//! (or later refunded) → succeeded; PENDING → processing (pending at PayPal, never paid; the
//! confirm is `Unknown` with the order); DECLINED / FAILED → declined; order
//! `PAYER_ACTION_REQUIRED` → requires action. Errors: `INSTRUMENT_DECLINED`, `CARD_EXPIRED`,
//! `TRANSACTION_REFUSED`, `MAX_NUMBER_OF_PAYMENT_ATTEMPTS_EXCEEDED` and `DUPLICATE_INVOICE_ID`
//! (this capture moved nothing; the order was already paid through another PayPal order) →
//! declined with the issue as reason; `PAYER_ACTION_REQUIRED` → requires action;
//! `ORDER_ALREADY_CAPTURED` → the order is read and judged; `PAYPAL_REQUEST_ID_PREVIOUSLY_USED` →
//! [`GatewayError::IdempotencyKeyReused`] (a bug); `DUPLICATE_REQUEST_ID` → unknown (the first
//! request may still be running). `PayPal-Request-Id` is the same deterministic
//! [`IdempotencyKey`] Stripe gets; PayPal keeps it 6 hours (72 on request), after which only
//! `invoice_id` stands between a stale retry and a second payment.
//!
//! # What PayPal does not have
//!
//! - **Cancel**: there is no void for a `CAPTURE` order. Cancelling means Paydesk never captures
//!   it: an uncaptured order is reported `Canceled` (status word kept, reason saying so) and
//!   expires at PayPal; should a stale confirm capture it anyway, `invoice_id` stops a second
//!   payment of the order. A captured order is `NotCancelable`.
//! - **Search**: Orders v2 has no search or list. [`Gateway::search_intents`] returns an empty
//!   list, which the trait already says proves nothing; recovery reads orders by the stored id.
//! - **Events**: [`Gateway::list_events`] is a `Config` error; reconciliation reads each order.
//!
//! Deliberately absent: `intent: AUTHORIZE`, `previous_network_transaction_reference` (not stored
//! by Paydesk), refund metadata (PayPal refunds carry none), webhooks (the central's, later).

mod transport;
mod wire;

use std::fmt;

use async_trait::async_trait;
use paydesk_core::{GatewayIntentId, IdempotencyKey, IntentStatus};
use reqwest::Method;
use serde_json::{json, Value};

use crate::error::GatewayError;
use crate::gateway::Gateway;
use crate::model::{
    CancelResult, ChargeView, ConfirmRequest, ConfirmResult, CreateIntentRequest, CreateResult,
    EventPage, EventQuery, IntentView, MetadataQuery, RefundRequest, RefundResult, RefundView,
};
use crate::payment_method::PaymentMethodView;
use crate::secret::ApiKey;
use transport::{Failure, Reply, TokenCache};
use wire::{amount_json, paid_capture, WireError};

pub use transport::{REQUEST_ID_LEN_MAX, TOKEN_REFRESH_MARGIN_S};
pub use wire::{decimal_value, parse_decimal, parse_order, parse_refund, META_SOURCE};

/// PayPal's live REST API.
pub const PAYPAL_API_BASE: &str = "https://api-m.paypal.com";
/// PayPal's sandbox REST API.
pub const PAYPAL_SANDBOX_API_BASE: &str = "https://api-m.sandbox.paypal.com";

/// How the PayPal connector reaches PayPal. The timeouts and retry bounds are Stripe's, for the
/// same reasons (see [`crate::stripe`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaypalConfig {
    /// `https://api-m.paypal.com`, `https://api-m.sandbox.paypal.com`, or the local sandbox.
    pub base_url: String,
    pub request_timeout_ms: u64,
    pub connect_timeout_ms: u64,
    pub retries_max: u32,
    pub backoff_ms_base: u64,
    pub backoff_ms_max: u64,
    /// Lets the credentials go to an HTTPS host other than PayPal's two API hosts.
    pub allow_custom_host: bool,
}

impl Default for PaypalConfig {
    fn default() -> PaypalConfig {
        PaypalConfig {
            base_url: PAYPAL_API_BASE.to_string(),
            request_timeout_ms: crate::stripe::REQUEST_TIMEOUT_MS,
            connect_timeout_ms: crate::stripe::CONNECT_TIMEOUT_MS,
            retries_max: crate::stripe::RETRIES_MAX,
            backoff_ms_base: crate::stripe::BACKOFF_MS_BASE,
            backoff_ms_max: crate::stripe::BACKOFF_MS_MAX,
            allow_custom_host: crate::url_policy::custom_gateway_allowed_by_env(),
        }
    }
}

impl PaypalConfig {
    pub fn with_base_url(base_url: impl Into<String>) -> PaypalConfig {
        PaypalConfig {
            base_url: base_url.into(),
            ..PaypalConfig::default()
        }
    }
}

/// The PayPal connector. Cheap to share: hold it as `Arc<dyn Gateway>`.
pub struct PaypalGateway {
    http: reqwest::Client,
    client_id: String,
    /// The client secret; sent only in the token request's Basic auth header.
    secret: ApiKey,
    config: PaypalConfig,
    token: TokenCache,
}

impl fmt::Debug for PaypalGateway {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PaypalGateway")
            .field("base_url", &self.config.base_url)
            .field("client_id", &self.client_id)
            .field("secret", &self.secret)
            .finish_non_exhaustive()
    }
}

/// An order id as PayPal makes them (`^[A-Z0-9]+$`, at most 36), checked before it goes in a path.
fn order_path(intent: &GatewayIntentId, suffix: &str) -> Result<String, GatewayError> {
    let id = intent.as_str();
    if id.len() > 36
        || !id
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    {
        return Err(GatewayError::InvalidRequest {
            status: 0,
            code: None,
            param: Some("intent".into()),
            message: format!("{id:?} is not a PayPal order id"),
        });
    }
    Ok(format!("/v2/checkout/orders/{id}{suffix}"))
}

/// `card:<vault id>`, `paypal:<vault id>` or a bare vault id (a card): (kind, vault id).
fn payment_source(reference: &str) -> Result<(&'static str, &str), GatewayError> {
    let (kind, vault) = match reference.split_once(':') {
        Some(("card", v)) => ("card", v),
        Some(("paypal", v)) => ("paypal", v),
        Some(_) => ("", ""),
        None => ("card", reference),
    };
    if kind.is_empty()
        || vault.is_empty()
        || vault.len() > 255
        || !vault
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(GatewayError::InvalidRequest {
            status: 0,
            code: None,
            param: Some("payment_method".into()),
            message: format!(
                "{reference:?} is not a PayPal payment source: write card:<vault id> or \
                 paypal:<vault id> (the vault id PayPal returned when the method was saved)"
            ),
        });
    }
    Ok((kind, vault))
}

impl PaypalGateway {
    /// A connector for the REST app `client_id` with its secret. Checks the base URL before
    /// anything is sent: plain HTTP only to this machine, HTTPS only to PayPal's API hosts unless
    /// [`PaypalConfig::allow_custom_host`].
    pub fn new(
        client_id: impl Into<String>,
        secret: ApiKey,
        config: PaypalConfig,
    ) -> Result<PaypalGateway, GatewayError> {
        let client_id = client_id.into();
        if client_id.is_empty() || client_id.chars().any(|c| c.is_whitespace() || c == ':') {
            return Err(GatewayError::Config {
                detail: "the PayPal client id is empty or has spaces or a colon: copy it again \
                         from the REST app in PayPal's developer dashboard"
                    .into(),
            });
        }
        let url = crate::url_policy::check_transport_url(&config.base_url).map_err(|detail| {
            GatewayError::Config {
                detail: format!("base URL: {detail}"),
            }
        })?;
        let paypal_host = matches!(
            url.host_str(),
            Some(
                "api-m.paypal.com"
                    | "api-m.sandbox.paypal.com"
                    | "api.paypal.com"
                    | "api.sandbox.paypal.com"
            )
        );
        if url.scheme() == "https" && !paypal_host && !config.allow_custom_host {
            return Err(GatewayError::Config {
                detail: format!(
                    "base URL {:?} is not PayPal's API: use {PAYPAL_API_BASE} or \
                     {PAYPAL_SANDBOX_API_BASE}, or set {}=1 to allow another HTTPS host",
                    config.base_url,
                    crate::url_policy::ALLOW_CUSTOM_GATEWAY_ENV
                ),
            });
        }
        let http = crate::stripe::transport::http_client(
            config.request_timeout_ms,
            config.connect_timeout_ms,
        )?;
        Ok(PaypalGateway {
            http,
            client_id,
            secret,
            config,
            token: TokenCache::default(),
        })
    }

    pub fn config(&self) -> &PaypalConfig {
        &self.config
    }

    fn livemode(&self) -> bool {
        self.config.base_url.contains("api-m.paypal.com")
            || self.config.base_url.contains("api.paypal.com")
    }

    fn parse(&self, object: &Value) -> Result<IntentView, crate::error::ParseError> {
        wire::parse_order(object, self.livemode())
    }

    fn read_failure(failure: Failure) -> GatewayError {
        match failure {
            Failure::NotSent(detail) => GatewayError::NotSent { detail },
            Failure::Unknown(detail) => GatewayError::Unknown { detail },
            Failure::Refused(e) => e,
        }
    }

    /// Refusals every call treats alike: a reused request id (a bug), a 403, a 404, a 400.
    fn refusal_error(
        &self,
        status: u16,
        error: &WireError,
        id: &str,
        key: Option<&IdempotencyKey>,
    ) -> Option<GatewayError> {
        if error.is_issue("PAYPAL_REQUEST_ID_PREVIOUSLY_USED") {
            if let Some(key) = key {
                tracing::error!(
                    request_id = key.as_str(),
                    "BUG: PayPal-Request-Id reused with a different request"
                );
                return Some(GatewayError::IdempotencyKeyReused {
                    key: key.clone(),
                    message: self.scrub(&error.text()),
                });
            }
        }
        match status {
            404 => Some(GatewayError::NotFound {
                id: id.to_string(),
                message: self.scrub(&error.text()),
            }),
            400 | 403 => Some(GatewayError::InvalidRequest {
                status,
                code: Some(error.reason()),
                param: error.details.iter().find_map(|d| d.field.clone()),
                message: self.scrub(&error.text()),
            }),
            _ => None,
        }
    }

    /// What a capture achieved, judged from the order PayPal showed afterwards.
    fn confirm_from_order(view: IntentView, context: &str) -> ConfirmResult {
        match &view.status {
            IntentStatus::Succeeded => ConfirmResult::Succeeded { intent: view },
            IntentStatus::RequiresAction => ConfirmResult::RequiresAction { intent: Some(view) },
            IntentStatus::RequiresPaymentMethod { reason } => ConfirmResult::Declined {
                reason: reason.clone(),
                intent: Some(view),
            },
            IntentStatus::Processing
            | IntentStatus::Canceled
            | IntentStatus::RequiresConfirmation => ConfirmResult::Unknown {
                detail: format!("{context}: the PayPal {}", view.status_raw),
                intent: Some(view),
            },
        }
    }

    /// A GET whose answer is an object, or the error in the caller's terms.
    async fn read(&self, path: &str, id: &str) -> Result<Value, GatewayError> {
        match self.send(Method::GET, path, None, None).await {
            Err(failure) => Err(PaypalGateway::read_failure(failure)),
            Ok(Reply::Object(object)) => Ok(object),
            Ok(Reply::Refusal { status, error }) => Err(self
                .refusal_error(status, &error, id, None)
                .unwrap_or_else(|| GatewayError::Unknown {
                    detail: format!("{path} answered HTTP {status} ({})", error.reason()),
                })),
        }
    }

    /// Reads the order once more after `ORDER_ALREADY_CAPTURED`: its captures are the answer.
    async fn judge_after(&self, intent: &GatewayIntentId, context: &str) -> ConfirmResult {
        match self.retrieve_intent(intent).await {
            Ok(view) => PaypalGateway::confirm_from_order(view, context),
            Err(e) => ConfirmResult::Unknown {
                detail: format!("{context}, and reading the order failed: {e}"),
                intent: None,
            },
        }
    }
}

#[async_trait]
impl Gateway for PaypalGateway {
    fn name(&self) -> &'static str {
        "paypal"
    }

    async fn create_intent(
        &self,
        request: &CreateIntentRequest,
    ) -> Result<CreateResult, GatewayError> {
        let (kind, vault) = payment_source(&request.payment_method)?;
        let m = &request.metadata;
        let body = json!({
            "intent": "CAPTURE",
            "purchase_units": [{
                "reference_id": format!("{kind}:{vault}"),
                "invoice_id": m.order.as_str(),
                "custom_id": format!("{}|{}|{}", m.attempt, m.attempt_number, m.terminal),
                "amount": amount_json(request.amount),
            }],
        });
        match self
            .send(
                Method::POST,
                "/v2/checkout/orders",
                Some(&body),
                Some(&request.key),
            )
            .await
        {
            Err(Failure::NotSent(detail)) => Ok(CreateResult::NotSent { detail }),
            Err(Failure::Unknown(detail)) => Ok(CreateResult::Unknown { detail }),
            Err(Failure::Refused(e)) => Err(e),
            Ok(Reply::Object(object)) => Ok(match self.parse(&object) {
                Ok(view) => CreateResult::Created(view),
                Err(e) => CreateResult::Unknown {
                    detail: format!("create answered with {e}"),
                },
            }),
            Ok(Reply::Refusal { status, error }) => {
                if error.is_issue("DUPLICATE_REQUEST_ID") {
                    return Ok(CreateResult::Unknown {
                        detail: "PayPal is still processing the first create with this request id"
                            .into(),
                    });
                }
                if status == 422 && !error.is_issue("PAYPAL_REQUEST_ID_PREVIOUSLY_USED") {
                    return Ok(CreateResult::Refused {
                        reason: error.reason(),
                        message: self.scrub(&error.text()),
                    });
                }
                if let Some(e) =
                    self.refusal_error(status, &error, "/v2/checkout/orders", Some(&request.key))
                {
                    return Err(e);
                }
                Ok(CreateResult::Unknown {
                    detail: format!("create answered HTTP {status} ({})", error.reason()),
                })
            }
        }
    }

    async fn confirm_intent(
        &self,
        request: &ConfirmRequest,
    ) -> Result<ConfirmResult, GatewayError> {
        let path = order_path(&request.intent, "/capture")?;
        // The order holds the payment source; reading it also shows a capture made earlier.
        let view = match self.retrieve_intent(&request.intent).await {
            Ok(view) => view,
            Err(e @ (GatewayError::NotSent { .. } | GatewayError::Unknown { .. })) => {
                return Ok(ConfirmResult::NotSent {
                    detail: format!(
                        "the order could not be read before capturing, so no capture was sent: {e}"
                    ),
                })
            }
            Err(e) => return Err(e),
        };
        // No short cut when the order is already captured: the capture is re-sent under its
        // request id (PayPal replays the first answer) or a newer one (ORDER_ALREADY_CAPTURED,
        // then the order is judged), so PayPal, not this code, says what happened.
        let reference = view.payment_method.clone().unwrap_or_default();
        let (kind, vault) = payment_source(&reference).map_err(|_| GatewayError::InvalidRequest {
            status: 0,
            code: None,
            param: Some("intent".into()),
            message: format!(
                "PayPal order {} names no payment source Paydesk can charge (reference_id {reference:?}): it was not created by Paydesk",
                request.intent
            ),
        })?;
        let stored_credential = if kind == "paypal" {
            json!({
                "payment_initiator": "MERCHANT",
                "usage_pattern": "UNSCHEDULED_POSTPAID",
                "usage": "SUBSEQUENT",
            })
        } else {
            json!({
                "payment_initiator": "MERCHANT",
                "payment_type": "UNSCHEDULED",
                "usage": "SUBSEQUENT",
            })
        };
        let body = json!({
            "payment_source": { kind: { "vault_id": vault, "stored_credential": stored_credential } },
        });
        let (status, error) = match self
            .send(Method::POST, &path, Some(&body), Some(&request.key))
            .await
        {
            Err(Failure::NotSent(detail)) => return Ok(ConfirmResult::NotSent { detail }),
            Err(Failure::Unknown(detail)) => {
                return Ok(ConfirmResult::Unknown {
                    detail,
                    intent: None,
                })
            }
            Err(Failure::Refused(e)) => return Err(e),
            Ok(Reply::Object(object)) => {
                return Ok(match self.parse(&object) {
                    Ok(view) => PaypalGateway::confirm_from_order(view, "after capture"),
                    Err(e) => ConfirmResult::Unknown {
                        detail: format!("capture answered with {e}"),
                        intent: None,
                    },
                })
            }
            Ok(Reply::Refusal { status, error }) => (status, error),
        };
        let reason = error.reason();
        match reason.as_str() {
            "ORDER_ALREADY_CAPTURED" => {
                tracing::info!(
                    intent = request.intent.as_str(),
                    "capture refused as already captured; reading the order"
                );
                return Ok(self
                    .judge_after(&request.intent, "capture refused as ORDER_ALREADY_CAPTURED")
                    .await);
            }
            "PAYER_ACTION_REQUIRED" => return Ok(ConfirmResult::RequiresAction { intent: None }),
            "DUPLICATE_REQUEST_ID" => {
                return Ok(ConfirmResult::Unknown {
                    detail: "PayPal is still processing the first capture with this request id"
                        .into(),
                    intent: None,
                })
            }
            _ => {}
        }
        if let Some(e) =
            self.refusal_error(status, &error, request.intent.as_str(), Some(&request.key))
        {
            return Err(e);
        }
        if status == 422 {
            // A business refusal of the capture: nothing was captured by it. The issue says why
            // (INSTRUMENT_DECLINED, CARD_EXPIRED, DUPLICATE_INVOICE_ID, …).
            return Ok(ConfirmResult::Declined {
                reason,
                intent: None,
            });
        }
        Ok(ConfirmResult::Unknown {
            detail: format!("capture answered HTTP {status} ({reason})"),
            intent: None,
        })
    }

    async fn retrieve_intent(&self, intent: &GatewayIntentId) -> Result<IntentView, GatewayError> {
        let path = order_path(intent, "")?;
        match self.send(Method::GET, &path, None, None).await {
            Err(failure) => Err(PaypalGateway::read_failure(failure)),
            Ok(Reply::Object(object)) => self.parse(&object).map_err(|e| GatewayError::Unknown {
                detail: e.to_string(),
            }),
            Ok(Reply::Refusal { status, error }) => Err(self
                .refusal_error(status, &error, intent.as_str(), None)
                .unwrap_or_else(|| GatewayError::Unknown {
                    detail: format!(
                        "reading the order answered HTTP {status} ({})",
                        error.reason()
                    ),
                })),
        }
    }

    async fn cancel_intent(
        &self,
        intent: &GatewayIntentId,
        _key: &IdempotencyKey,
    ) -> Result<CancelResult, GatewayError> {
        // No request can cancel a CAPTURE order: read it and say what it is.
        let mut view = match self.retrieve_intent(intent).await {
            Ok(view) => view,
            Err(GatewayError::NotSent { detail }) => return Ok(CancelResult::NotSent { detail }),
            Err(GatewayError::Unknown { detail }) => return Ok(CancelResult::Unknown { detail }),
            Err(e) => return Err(e),
        };
        Ok(match view.status {
            IntentStatus::Succeeded | IntentStatus::Processing => CancelResult::NotCancelable(view),
            _ => {
                view.status = IntentStatus::Canceled;
                view.cancellation_reason = Some(
                    "never captured: PayPal has no void for CAPTURE orders, so Paydesk will not \
                     capture it and it expires at PayPal; invoice_id blocks a second payment"
                        .into(),
                );
                CancelResult::Canceled(view)
            }
        })
    }

    async fn search_intents(&self, query: &MetadataQuery) -> Result<Vec<IntentView>, GatewayError> {
        // Orders v2 has no search or list; the trait says an empty answer proves nothing.
        tracing::debug!(pairs = ?query.pairs(), "PayPal has no order search; answering with an empty list");
        Ok(Vec::new())
    }

    async fn refund(&self, request: &RefundRequest) -> Result<RefundResult, GatewayError> {
        let path = order_path(&request.intent, "")?;
        let order = match self.send(Method::GET, &path, None, None).await {
            Ok(Reply::Object(object)) => object,
            Err(Failure::Refused(e)) => return Err(e),
            Err(Failure::NotSent(d) | Failure::Unknown(d)) => {
                return Ok(RefundResult::NotSent {
                    detail: format!("the order could not be read, so no refund was sent: {d}"),
                })
            }
            Ok(Reply::Refusal { status, error }) => {
                return Err(self
                    .refusal_error(status, &error, request.intent.as_str(), None)
                    .unwrap_or_else(|| GatewayError::Unknown {
                        detail: format!("reading the order answered HTTP {status}"),
                    }))
            }
        };
        let Some(capture) = paid_capture(&order) else {
            return Ok(RefundResult::Refused {
                reason: "NOT_CAPTURED".into(),
                message: format!(
                    "PayPal order {} holds no completed capture to refund",
                    request.intent
                ),
            });
        };
        let mut body = json!({});
        if let Some(amount) = request.amount {
            body["amount"] = amount_json(amount);
        }
        if let Some(reason) = request.reason {
            body["note_to_payer"] = json!(reason.as_str().replace('_', " "));
        }
        let path = format!("/v2/payments/captures/{capture}/refund");
        match self
            .send(Method::POST, &path, Some(&body), Some(&request.key))
            .await
        {
            Err(Failure::NotSent(detail)) => Ok(RefundResult::NotSent { detail }),
            Err(Failure::Unknown(detail)) => Ok(RefundResult::Unknown { detail }),
            Err(Failure::Refused(e)) => Err(e),
            Ok(Reply::Object(object)) => Ok(match wire::parse_refund(&object) {
                Ok(mut view) => {
                    view.payment_intent
                        .get_or_insert_with(|| request.intent.to_string());
                    view.charge.get_or_insert(capture);
                    view.metadata = request.metadata.clone();
                    RefundResult::Created(view)
                }
                Err(e) => RefundResult::Unknown {
                    detail: format!("refund answered with {e}"),
                },
            }),
            Ok(Reply::Refusal { status, error }) => {
                if error.is_issue("DUPLICATE_REQUEST_ID") {
                    return Ok(RefundResult::Unknown {
                        detail: "PayPal is still processing the first refund with this request id"
                            .into(),
                    });
                }
                if status == 422 && !error.is_issue("PAYPAL_REQUEST_ID_PREVIOUSLY_USED") {
                    return Ok(RefundResult::Refused {
                        reason: error.reason(),
                        message: self.scrub(&error.text()),
                    });
                }
                if let Some(e) = self.refusal_error(status, &error, &capture, Some(&request.key)) {
                    return Err(e);
                }
                Ok(RefundResult::Unknown {
                    detail: format!("refund answered HTTP {status} ({})", error.reason()),
                })
            }
        }
    }

    async fn retrieve_refund(&self, refund_id: &str) -> Result<RefundView, GatewayError> {
        if refund_id.is_empty()
            || refund_id.len() > 36
            || !refund_id.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            return Err(GatewayError::InvalidRequest {
                status: 0,
                code: None,
                param: Some("refund".into()),
                message: format!("{refund_id:?} is not a PayPal refund id"),
            });
        }
        let path = format!("/v2/payments/refunds/{refund_id}");
        match self.send(Method::GET, &path, None, None).await {
            Err(failure) => Err(PaypalGateway::read_failure(failure)),
            Ok(Reply::Object(object)) => {
                wire::parse_refund(&object).map_err(|e| GatewayError::Unknown {
                    detail: e.to_string(),
                })
            }
            Ok(Reply::Refusal { status, error }) => Err(self
                .refusal_error(status, &error, refund_id, None)
                .unwrap_or_else(|| GatewayError::Unknown {
                    detail: format!("reading the refund answered HTTP {status}"),
                })),
        }
    }

    async fn retrieve_charge(&self, charge_id: &str) -> Result<ChargeView, GatewayError> {
        // A PayPal "charge" is a capture (an order's `latest_charge`); what was refunded of it is
        // read from its order's refunds.
        if charge_id.is_empty()
            || charge_id.len() > 36
            || !charge_id.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            return Err(GatewayError::InvalidRequest {
                status: 0,
                code: None,
                param: Some("charge".into()),
                message: format!("{charge_id:?} is not a PayPal capture id"),
            });
        }
        let capture = self
            .read(&format!("/v2/payments/captures/{charge_id}"), charge_id)
            .await?;
        let unknown = |e: crate::error::ParseError| GatewayError::Unknown {
            detail: e.to_string(),
        };
        let order = wire::capture_order(&capture).ok_or_else(|| GatewayError::Unknown {
            detail: format!("PayPal capture {charge_id} names no order"),
        })?;
        let order = GatewayIntentId::new(order).map_err(|e| GatewayError::Unknown {
            detail: format!("PayPal capture {charge_id}: {e}"),
        })?;
        let order = self.read(&order_path(&order, "")?, order.as_str()).await?;
        let refunded = wire::refunded_minor(&order).map_err(unknown)?;
        wire::parse_capture(&capture, refunded).map_err(unknown)
    }

    async fn retrieve_payment_method(
        &self,
        source: &str,
    ) -> Result<PaymentMethodView, GatewayError> {
        // The order's source names the kind (`card:` or `paypal:`) and the vault id, which is
        // the payment token's id.
        let (kind, vault) = match source.split_once(':') {
            Some((kind @ ("card" | "paypal"), vault))
                if !vault.is_empty()
                    && vault.len() <= 36
                    && vault
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') =>
            {
                (kind, vault)
            }
            _ => {
                return Err(GatewayError::InvalidRequest {
                    status: 0,
                    code: None,
                    param: Some("payment_source".into()),
                    message: format!(
                        "{source:?} is not a PayPal source: card:<vault id> or paypal:<vault id>"
                    ),
                })
            }
        };
        let token = self
            .read(&format!("/v3/vault/payment-tokens/{vault}"), vault)
            .await?;
        crate::payment_method::parse_paypal(&token, kind).map_err(|e| GatewayError::Unknown {
            detail: e.to_string(),
        })
    }

    async fn list_events(&self, _query: &EventQuery) -> Result<EventPage, GatewayError> {
        Err(GatewayError::Config {
            detail: "the PayPal connector does not list events: reconciliation reads each PayPal \
                     order by its id, and PayPal's webhooks go to the central"
                .into(),
        })
    }
}

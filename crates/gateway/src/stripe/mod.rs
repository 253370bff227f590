//! The Stripe connector: PaymentIntents, Refunds, Events and Search over Stripe's real wire format,
//! and the mapping of every answer to an explicit outcome.
//!
//! The base URL is configurable, so the same code talks to `https://api.stripe.com` and to the
//! local sandbox gateway. It keeps no state between calls apart from the HTTP connection pool:
//! every decision about what to do next belongs to the engine.

mod form;
pub(crate) mod transport;
mod wire;

#[cfg(test)]
mod tests;

use std::fmt;

use async_trait::async_trait;
use paydesk_core::{GatewayIntentId, IdempotencyKey, IntentStatus};
use reqwest::header::HeaderValue;
use reqwest::Method;

use crate::error::GatewayError;
use crate::gateway::Gateway;
use crate::model::{
    CancelResult, ChargeView, ConfirmRequest, ConfirmResult, CreateIntentRequest, CreateResult,
    EventPage, EventQuery, IntentView, MetadataQuery, RefundRequest, RefundResult, RefundView,
};
use crate::payment_method::PaymentMethodView;
use crate::secret::ApiKey;
use form::Form;
use transport::{Failure, Reply};
use wire::{WireError, WireList};

pub use wire::{parse_charge, parse_dispute, parse_event, parse_intent, parse_refund};

/// Stripe's production API.
pub const STRIPE_API_BASE: &str = "https://api.stripe.com";

/// The API version every request pins, so a change of the account's default version in the
/// dashboard can never change the shape of the objects this code parses.
pub const STRIPE_VERSION: &str = "2024-06-20";

/// The whole exchange (connect, send, wait, read) must finish within this. Stripe answers a card
/// confirm in well under 5 s; its own libraries wait up to 80 s, but an operator should not stare
/// at a spinner that long. A request cut off here is reported `Unknown` and recovery asks again
/// with the same key, so a short deadline costs a lookup, never a double charge.
pub const REQUEST_TIMEOUT_MS: u64 = 30_000;

/// Connecting (TCP and TLS) must finish within this. Nothing has been sent while connecting, so a
/// failure here is a provable `NotSent`; a healthy connection to Stripe takes under a second, and
/// failing fast lets the operator see "gateway unreachable" at once.
pub const CONNECT_TIMEOUT_MS: u64 = 5_000;

/// How many times a request is re-sent (same key) after a 429 or a 409 `idempotency_key_in_use`
/// before the connector gives up with `Unknown`. Small on purpose: an operator is waiting, and
/// recovery will ask again later anyway.
pub const RETRIES_MAX: u32 = 3;

/// The first backoff ceiling; doubled per retry. 250 ms covers a brief concurrent request.
pub const BACKOFF_MS_BASE: u64 = 250;

/// The largest backoff ceiling, so the worst case of all retries stays a few seconds.
pub const BACKOFF_MS_MAX: u64 = 2_000;

/// A Stripe object is a few kilobytes; a list page of 100 is well under this. A larger body is
/// not something this code asked for and is refused rather than buffered.
pub const RESPONSE_BYTES_MAX: usize = 4 * 1024 * 1024;

/// Stripe's page size limit for lists and searches.
pub const PAGE_LIMIT_MAX: u32 = 100;

/// A metadata search follows at most this many pages. One order has a handful of attempts; more
/// than 500 matches means the query is wrong, and the caller gets what was read.
pub const SEARCH_PAGES_MAX: u32 = 5;

/// How the Stripe connector reaches the gateway. Tests shorten the timeouts and backoffs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StripeConfig {
    /// `https://api.stripe.com`, or the sandbox's `http://127.0.0.1:port`. No trailing path.
    pub base_url: String,
    pub request_timeout_ms: u64,
    pub connect_timeout_ms: u64,
    pub retries_max: u32,
    pub backoff_ms_base: u64,
    pub backoff_ms_max: u64,
    /// Lets a live key go to an HTTPS host other than `api.stripe.com` (never over plain HTTP).
    /// The default is [`ALLOW_CUSTOM_GATEWAY_ENV`](crate::url_policy::ALLOW_CUSTOM_GATEWAY_ENV)
    /// `=1` in the environment: an operator's explicit choice, not a code path's.
    pub allow_custom_host: bool,
}

impl Default for StripeConfig {
    fn default() -> StripeConfig {
        StripeConfig {
            base_url: STRIPE_API_BASE.to_string(),
            request_timeout_ms: REQUEST_TIMEOUT_MS,
            connect_timeout_ms: CONNECT_TIMEOUT_MS,
            retries_max: RETRIES_MAX,
            backoff_ms_base: BACKOFF_MS_BASE,
            backoff_ms_max: BACKOFF_MS_MAX,
            allow_custom_host: crate::url_policy::custom_gateway_allowed_by_env(),
        }
    }
}

impl StripeConfig {
    /// The default configuration against another base URL (the sandbox).
    pub fn with_base_url(base_url: impl Into<String>) -> StripeConfig {
        StripeConfig {
            base_url: base_url.into(),
            ..StripeConfig::default()
        }
    }
}

/// The Stripe connector. Cheap to share: hold it as `Arc<dyn Gateway>`.
pub struct StripeGateway {
    /// The connection pool; redirects are off (an API answer is never a redirect to follow).
    http: reqwest::Client,
    /// Kept only to scrub foreign text; the request header below is what is sent.
    key: ApiKey,
    /// `Bearer <key>`, marked sensitive so no HTTP library prints it.
    auth_header: HeaderValue,
    config: StripeConfig,
}

impl fmt::Debug for StripeGateway {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StripeGateway")
            .field("base_url", &self.config.base_url)
            .field("stripe_version", &STRIPE_VERSION)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

/// `invalid_request_error` code for a request that does not fit the intent's current status.
const UNEXPECTED_STATE: &str = "payment_intent_unexpected_state";

impl StripeGateway {
    pub fn new(key: ApiKey, config: StripeConfig) -> Result<StripeGateway, GatewayError> {
        let auth_header = StripeGateway::bearer(key.expose()).ok_or(GatewayError::Config {
            detail: "the API key cannot be sent in an HTTP header".into(),
        })?;
        // Before anything is sent: plain HTTP only to this machine, and a live key only over
        // HTTPS to Stripe (or an explicitly allowed host). Review M1.
        crate::url_policy::check_gateway_url(
            &config.base_url,
            key.is_test_mode(),
            config.allow_custom_host,
        )
        .map_err(|detail| GatewayError::Config {
            detail: format!("base URL: {detail}"),
        })?;
        let http = transport::http_client(config.request_timeout_ms, config.connect_timeout_ms)?;
        Ok(StripeGateway {
            http,
            key,
            auth_header,
            config,
        })
    }

    pub fn config(&self) -> &StripeConfig {
        &self.config
    }

    /// The refusals every call treats alike: a bad key, a missing permission, a reused
    /// idempotency key. `Ok(())` means "not one of those".
    fn common_refusal(
        &self,
        status: u16,
        error: &WireError,
        request_id: Option<&str>,
        key: Option<&IdempotencyKey>,
    ) -> Result<(), GatewayError> {
        if status == 401 {
            tracing::error!(request_id, "the gateway refused the API key (HTTP 401)");
            return Err(GatewayError::Authentication {
                request_id: request_id.map(str::to_string),
            });
        }
        if status == 403 {
            // Stripe's answer to a restricted key without the permission. Not retryable: the
            // same key will be refused again until someone changes its permissions.
            tracing::error!(
                request_id,
                "the gateway refused the request to this key (HTTP 403)"
            );
            return Err(GatewayError::Permission {
                restricted: self.key.is_restricted(),
                message: self.message(error),
            });
        }
        if error.is_type("idempotency_error") || error.is_code("idempotency_error") {
            let message = self.message(error);
            if let Some(key) = key {
                // A deterministic key reused with other parameters means the attempt record and
                // the request disagree: a bug that must be seen, not retried.
                tracing::error!(
                    idempotency_key = key.as_str(),
                    status,
                    request_id,
                    message,
                    "BUG: idempotency key reused with different parameters"
                );
                return Err(GatewayError::IdempotencyKeyReused {
                    key: key.clone(),
                    message,
                });
            }
        }
        Ok(())
    }

    fn message(&self, error: &WireError) -> String {
        self.scrub(error.message.as_deref().unwrap_or("(no message)"))
    }

    fn invalid(&self, status: u16, error: &WireError) -> GatewayError {
        GatewayError::InvalidRequest {
            status,
            code: error.code.clone(),
            param: error.param.clone(),
            message: self.message(error),
        }
    }

    fn not_found(&self, id: &str, error: &WireError) -> GatewayError {
        GatewayError::NotFound {
            id: id.to_string(),
            message: self.message(error),
        }
    }

    /// Turns a read's failure into an error (for reads "never sent" and "no answer" only mean
    /// "ask again").
    fn read_failure(failure: Failure) -> GatewayError {
        match failure {
            Failure::NotSent(detail) => GatewayError::NotSent { detail },
            Failure::Unknown(detail) => GatewayError::Unknown { detail },
        }
    }

    /// What a confirm achieved, judged from the intent the gateway showed afterwards.
    fn confirm_from_intent(intent: IntentView, context: &str) -> ConfirmResult {
        match &intent.status {
            IntentStatus::Succeeded => ConfirmResult::Succeeded { intent },
            IntentStatus::RequiresAction => ConfirmResult::RequiresAction {
                intent: Some(intent),
            },
            IntentStatus::RequiresPaymentMethod { reason } => ConfirmResult::Declined {
                reason: reason.clone(),
                intent: Some(intent),
            },
            IntentStatus::Processing
            | IntentStatus::Canceled
            | IntentStatus::RequiresConfirmation => ConfirmResult::Unknown {
                detail: format!("{context}: the intent is {}", intent.status_raw),
                intent: Some(intent),
            },
        }
    }
}

/// `/v1/payment_intents/{id}{suffix}`. Ids are validated tokens; a dot-only id would be read as a
/// path step, so it is refused.
fn intent_path(intent: &GatewayIntentId, suffix: &str) -> Result<String, GatewayError> {
    let id = intent.as_str();
    if id.chars().all(|c| c == '.') {
        return Err(GatewayError::InvalidRequest {
            status: 0,
            code: None,
            param: Some("intent".into()),
            message: format!("{id:?} is not a payment intent id"),
        });
    }
    Ok(format!("/v1/payment_intents/{id}{suffix}"))
}

/// A Stripe search query literal: single quotes, with `\` and `'` escaped.
fn search_literal(value: &str) -> String {
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"))
}

#[async_trait]
impl Gateway for StripeGateway {
    fn name(&self) -> &'static str {
        "stripe"
    }

    async fn create_intent(
        &self,
        request: &CreateIntentRequest,
    ) -> Result<CreateResult, GatewayError> {
        let mut metadata = request.metadata.to_pairs();
        metadata.push(("off_session", request.off_session.to_string()));
        // `confirm=false` and an explicit card-only method list: the intent must not move money
        // yet, and automatic payment methods would demand a `return_url` for redirect-based
        // methods that an off-session charge cannot use.
        let mut form = Form::new()
            .field("amount", request.amount.minor().to_string())
            .field(
                "currency",
                request.amount.currency().code().to_ascii_lowercase(),
            );
        if let Some(customer) = &request.customer {
            form = form.field("customer", customer.as_str());
        }
        let form = form
            .field("payment_method", request.payment_method.as_str())
            .field("confirm", "false")
            .list("payment_method_types", ["card"])
            .nested("metadata", metadata);
        let reply = self
            .send(
                Method::POST,
                "/v1/payment_intents",
                None,
                Some(&form),
                Some(&request.key),
            )
            .await;
        match reply {
            Err(Failure::NotSent(detail)) => Ok(CreateResult::NotSent { detail }),
            Err(Failure::Unknown(detail)) => Ok(CreateResult::Unknown { detail }),
            Ok(Reply::Object(object)) => Ok(match parse_intent(&object) {
                Ok(intent) => CreateResult::Created(intent),
                Err(e) => CreateResult::Unknown {
                    detail: format!("create answered with {e}"),
                },
            }),
            Ok(Reply::Refusal {
                status,
                error,
                request_id,
            }) => {
                self.common_refusal(status, &error, request_id.as_deref(), Some(&request.key))?;
                match status {
                    // Stripe validated and refused: nothing was created.
                    400 | 402 => Ok(CreateResult::Refused {
                        reason: error.reason(),
                        message: self.message(&error),
                    }),
                    // 404 on the collection URL means the base URL is not a Stripe API.
                    404 => Err(self.invalid(status, &error)),
                    _ => Ok(CreateResult::Unknown {
                        detail: format!("create answered HTTP {status} ({})", error.reason()),
                    }),
                }
            }
        }
    }

    async fn confirm_intent(
        &self,
        request: &ConfirmRequest,
    ) -> Result<ConfirmResult, GatewayError> {
        let path = intent_path(&request.intent, "/confirm")?;
        let mut form = Form::new();
        if request.off_session {
            form = form.field("off_session", "true");
        }
        let reply = self
            .send(Method::POST, &path, None, Some(&form), Some(&request.key))
            .await;
        let (status, error, request_id) = match reply {
            Err(Failure::NotSent(detail)) => return Ok(ConfirmResult::NotSent { detail }),
            Err(Failure::Unknown(detail)) => {
                return Ok(ConfirmResult::Unknown {
                    detail,
                    intent: None,
                })
            }
            Ok(Reply::Object(object)) => {
                return Ok(match parse_intent(&object) {
                    Ok(intent) => StripeGateway::confirm_from_intent(intent, "after confirm"),
                    Err(e) => ConfirmResult::Unknown {
                        detail: format!("confirm answered with {e}"),
                        intent: None,
                    },
                })
            }
            Ok(Reply::Refusal {
                status,
                error,
                request_id,
            }) => (status, error, request_id),
        };
        self.common_refusal(status, &error, request_id.as_deref(), Some(&request.key))?;
        if status == 402 && error.is_type("card_error") {
            // The error carries the intent after the failed attempt; trust it over the code only
            // where it says something stronger than "declined".
            let intent = error
                .payment_intent
                .as_ref()
                .and_then(|object| parse_intent(object).ok());
            if let Some(intent) = &intent {
                if matches!(
                    intent.status,
                    IntentStatus::Succeeded | IntentStatus::Processing
                ) {
                    return Ok(StripeGateway::confirm_from_intent(
                        intent.clone(),
                        "card error",
                    ));
                }
            }
            // Off-session, a card that needs 3-D Secure fails with `authentication_required`:
            // the customer must act, which is not the same as a decline.
            if error.is_code("authentication_required")
                || error.decline_code.as_deref() == Some("authentication_required")
            {
                return Ok(ConfirmResult::RequiresAction { intent });
            }
            return Ok(ConfirmResult::Declined {
                reason: error.reason(),
                intent,
            });
        }
        if status == 400 && error.is_code(UNEXPECTED_STATE) {
            // The intent is already past this confirm (often: our own earlier confirm succeeded
            // under another key, or another terminal's). Its real status is the answer.
            tracing::info!(
                intent = request.intent.as_str(),
                "confirm refused as unexpected state; retrieving the intent"
            );
            return Ok(match self.retrieve_intent(&request.intent).await {
                Ok(intent) => StripeGateway::confirm_from_intent(intent, "confirm refused"),
                Err(e) => ConfirmResult::Unknown {
                    detail: format!(
                        "confirm refused as {UNEXPECTED_STATE}, and the retrieve failed: {e}"
                    ),
                    intent: None,
                },
            });
        }
        match status {
            404 => Err(self.not_found(request.intent.as_str(), &error)),
            400 => Err(self.invalid(status, &error)),
            _ => Ok(ConfirmResult::Unknown {
                detail: format!("confirm answered HTTP {status} ({})", error.reason()),
                intent: None,
            }),
        }
    }

    async fn retrieve_intent(&self, intent: &GatewayIntentId) -> Result<IntentView, GatewayError> {
        let path = intent_path(intent, "")?;
        match self.send(Method::GET, &path, None, None, None).await {
            Err(failure) => Err(StripeGateway::read_failure(failure)),
            Ok(Reply::Object(object)) => parse_intent(&object).map_err(|e| GatewayError::Unknown {
                detail: e.to_string(),
            }),
            Ok(Reply::Refusal {
                status,
                error,
                request_id,
            }) => {
                self.common_refusal(status, &error, request_id.as_deref(), None)?;
                if status == 404 || error.is_code("resource_missing") {
                    Err(self.not_found(intent.as_str(), &error))
                } else {
                    Err(self.invalid(status, &error))
                }
            }
        }
    }

    async fn retrieve_refund(&self, refund_id: &str) -> Result<RefundView, GatewayError> {
        if refund_id.is_empty()
            || refund_id.len() > 255
            || !refund_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(GatewayError::InvalidRequest {
                status: 0,
                code: None,
                param: Some("refund".into()),
                message: format!("{refund_id:?} is not a refund id"),
            });
        }
        let path = format!("/v1/refunds/{refund_id}");
        match self.send(Method::GET, &path, None, None, None).await {
            Err(failure) => Err(StripeGateway::read_failure(failure)),
            Ok(Reply::Object(object)) => parse_refund(&object).map_err(|e| GatewayError::Unknown {
                detail: e.to_string(),
            }),
            Ok(Reply::Refusal {
                status,
                error,
                request_id,
            }) => {
                self.common_refusal(status, &error, request_id.as_deref(), None)?;
                if status == 404 || error.is_code("resource_missing") {
                    Err(self.not_found(refund_id, &error))
                } else {
                    Err(self.invalid(status, &error))
                }
            }
        }
    }

    async fn retrieve_charge(&self, charge_id: &str) -> Result<ChargeView, GatewayError> {
        if charge_id.is_empty()
            || charge_id.len() > 255
            || !charge_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(GatewayError::InvalidRequest {
                status: 0,
                code: None,
                param: Some("charge".into()),
                message: format!("{charge_id:?} is not a charge id"),
            });
        }
        let path = format!("/v1/charges/{charge_id}");
        match self.send(Method::GET, &path, None, None, None).await {
            Err(failure) => Err(StripeGateway::read_failure(failure)),
            Ok(Reply::Object(object)) => parse_charge(&object).map_err(|e| GatewayError::Unknown {
                detail: e.to_string(),
            }),
            Ok(Reply::Refusal {
                status,
                error,
                request_id,
            }) => {
                self.common_refusal(status, &error, request_id.as_deref(), None)?;
                if status == 404 || error.is_code("resource_missing") {
                    Err(self.not_found(charge_id, &error))
                } else {
                    Err(self.invalid(status, &error))
                }
            }
        }
    }

    async fn retrieve_payment_method(
        &self,
        source: &str,
    ) -> Result<PaymentMethodView, GatewayError> {
        if source.is_empty()
            || source.len() > 255
            || !source
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(GatewayError::InvalidRequest {
                status: 0,
                code: None,
                param: Some("payment_method".into()),
                message: format!("{source:?} is not a Stripe payment method id"),
            });
        }
        let path = format!("/v1/payment_methods/{source}");
        match self.send(Method::GET, &path, None, None, None).await {
            Err(failure) => Err(StripeGateway::read_failure(failure)),
            Ok(Reply::Object(object)) => {
                crate::payment_method::parse_stripe(&object).map_err(|e| GatewayError::Unknown {
                    detail: e.to_string(),
                })
            }
            Ok(Reply::Refusal {
                status,
                error,
                request_id,
            }) => {
                self.common_refusal(status, &error, request_id.as_deref(), None)?;
                if status == 404 || error.is_code("resource_missing") {
                    Err(self.not_found(source, &error))
                } else {
                    Err(self.invalid(status, &error))
                }
            }
        }
    }

    async fn confirm_on_session(
        &self,
        intent: &GatewayIntentId,
        payment_method: &str,
        return_url: &str,
        key: &IdempotencyKey,
    ) -> Result<IntentView, GatewayError> {
        let path = intent_path(intent, "/confirm")?;
        // `off_session=false`: the intent was created off session, and the customer is here now.
        let form = Form::new()
            .field("payment_method", payment_method)
            .field("off_session", "false")
            .field("return_url", return_url);
        match self
            .send(Method::POST, &path, None, Some(&form), Some(key))
            .await
        {
            Err(Failure::NotSent(detail) | Failure::Unknown(detail)) => {
                Err(GatewayError::Config { detail })
            }
            Ok(Reply::Object(object)) => parse_intent(&object).map_err(|e| GatewayError::Config {
                detail: format!("confirm answered with {e}"),
            }),
            Ok(Reply::Refusal {
                status,
                error,
                request_id,
            }) => {
                self.common_refusal(status, &error, request_id.as_deref(), Some(key))?;
                Err(self.invalid(status, &error))
            }
        }
    }

    async fn cancel_intent(
        &self,
        intent: &GatewayIntentId,
        key: &IdempotencyKey,
    ) -> Result<CancelResult, GatewayError> {
        let path = intent_path(intent, "/cancel")?;
        let form = Form::new().field("cancellation_reason", "abandoned");
        let classify = |view: IntentView| {
            if view.status == IntentStatus::Canceled {
                CancelResult::Canceled(view)
            } else {
                CancelResult::NotCancelable(view)
            }
        };
        match self
            .send(Method::POST, &path, None, Some(&form), Some(key))
            .await
        {
            Err(Failure::NotSent(detail)) => Ok(CancelResult::NotSent { detail }),
            Err(Failure::Unknown(detail)) => Ok(CancelResult::Unknown { detail }),
            Ok(Reply::Object(object)) => Ok(match parse_intent(&object) {
                Ok(view) => classify(view),
                Err(e) => CancelResult::Unknown {
                    detail: format!("cancel answered with {e}"),
                },
            }),
            Ok(Reply::Refusal {
                status,
                error,
                request_id,
            }) => {
                self.common_refusal(status, &error, request_id.as_deref(), Some(key))?;
                if status == 400 && error.is_code(UNEXPECTED_STATE) {
                    // Already canceled (idempotent success) or past cancelling: the intent says.
                    return Ok(match self.retrieve_intent(intent).await {
                        Ok(view) => classify(view),
                        Err(e) => CancelResult::Unknown {
                            detail: format!("cancel refused, and the retrieve failed: {e}"),
                        },
                    });
                }
                match status {
                    404 => Err(self.not_found(intent.as_str(), &error)),
                    400 => Err(self.invalid(status, &error)),
                    _ => Ok(CancelResult::Unknown {
                        detail: format!("cancel answered HTTP {status} ({})", error.reason()),
                    }),
                }
            }
        }
    }

    async fn search_intents(&self, query: &MetadataQuery) -> Result<Vec<IntentView>, GatewayError> {
        let text = query
            .pairs()
            .iter()
            .map(|(key, value)| {
                format!(
                    "metadata[{}]:{}",
                    search_literal(key),
                    search_literal(value)
                )
            })
            .collect::<Vec<_>>()
            .join(" AND ");
        let mut found = Vec::new();
        let mut page: Option<String> = None;
        for _ in 0..SEARCH_PAGES_MAX {
            let mut params = Form::new()
                .field("query", text.as_str())
                .field("limit", PAGE_LIMIT_MAX.to_string());
            if let Some(cursor) = &page {
                params = params.field("page", cursor.as_str());
            }
            let list = self
                .read_list("/v1/payment_intents/search", &params)
                .await?;
            for object in &list.data {
                found.push(parse_intent(object).map_err(|e| GatewayError::Unknown {
                    detail: format!("search result: {e}"),
                })?);
            }
            match (list.has_more, list.next_page) {
                (true, Some(next)) => page = Some(next),
                _ => return Ok(found),
            }
        }
        tracing::warn!(query = text, pages = SEARCH_PAGES_MAX, "search truncated");
        Ok(found)
    }

    async fn refund(&self, request: &RefundRequest) -> Result<RefundResult, GatewayError> {
        let mut form = Form::new().field("payment_intent", request.intent.as_str());
        if let Some(amount) = request.amount {
            form = form.field("amount", amount.minor().to_string());
        }
        if let Some(reason) = request.reason {
            form = form.field("reason", reason.as_str());
        }
        let form = form.nested(
            "metadata",
            request
                .metadata
                .iter()
                .map(|(key, value)| (key.as_str(), value.clone())),
        );
        match self
            .send(
                Method::POST,
                "/v1/refunds",
                None,
                Some(&form),
                Some(&request.key),
            )
            .await
        {
            Err(Failure::NotSent(detail)) => Ok(RefundResult::NotSent { detail }),
            Err(Failure::Unknown(detail)) => Ok(RefundResult::Unknown { detail }),
            Ok(Reply::Object(object)) => Ok(match parse_refund(&object) {
                Ok(refund) => RefundResult::Created(refund),
                Err(e) => RefundResult::Unknown {
                    detail: format!("refund answered with {e}"),
                },
            }),
            Ok(Reply::Refusal {
                status,
                error,
                request_id,
            }) => {
                self.common_refusal(status, &error, request_id.as_deref(), Some(&request.key))?;
                match status {
                    400 | 402 => Ok(RefundResult::Refused {
                        reason: error.reason(),
                        message: self.message(&error),
                    }),
                    404 => Err(self.not_found(request.intent.as_str(), &error)),
                    _ => Ok(RefundResult::Unknown {
                        detail: format!("refund answered HTTP {status} ({})", error.reason()),
                    }),
                }
            }
        }
    }

    async fn list_events(&self, query: &EventQuery) -> Result<EventPage, GatewayError> {
        let mut params =
            Form::new().field("limit", query.limit.clamp(1, PAGE_LIMIT_MAX).to_string());
        if let Some(after) = &query.starting_after {
            params = params.field("starting_after", after.as_str());
        }
        if let Some(created) = query.created_gte {
            params = params.field("created[gte]", created.to_string());
        }
        params = params.list("types", query.types.iter().map(String::as_str));
        let list = self.read_list("/v1/events", &params).await?;
        let events = list
            .data
            .iter()
            .map(parse_event)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| GatewayError::Unknown {
                detail: e.to_string(),
            })?;
        Ok(EventPage {
            events,
            has_more: list.has_more,
        })
    }
}

impl StripeGateway {
    /// A GET of a list or search page.
    async fn read_list(&self, path: &str, params: &Form) -> Result<WireList, GatewayError> {
        match self.send(Method::GET, path, Some(params), None, None).await {
            Err(failure) => Err(StripeGateway::read_failure(failure)),
            Ok(Reply::Object(object)) => {
                serde_json::from_value::<WireList>(object).map_err(|e| GatewayError::Unknown {
                    detail: format!("{path} answered with an unexpected list: {e}"),
                })
            }
            Ok(Reply::Refusal {
                status,
                error,
                request_id,
            }) => {
                self.common_refusal(status, &error, request_id.as_deref(), None)?;
                Err(self.invalid(status, &error))
            }
        }
    }
}

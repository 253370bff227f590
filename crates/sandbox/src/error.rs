//! Stripe's error object and status codes: the one place where a failure becomes an HTTP answer.
//!
//! Every error the sandbox returns on `/v1` has Stripe's shape,
//! `{"error": {"type", "code", "decline_code", "message", "param", "payment_intent"?}}`, so that a
//! client written against Stripe parses it unchanged. This module does not decide *when* to fail.

use axum::http::StatusCode;
use serde_json::{json, Map, Value};

/// The account id the sandbox names in messages that Stripe gives an account in.
pub const SANDBOX_ACCOUNT: &str = "acct_paydesk_sandbox";

/// Stripe's error `type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorType {
    ApiError,
    CardError,
    IdempotencyError,
    InvalidRequestError,
}

impl ErrorType {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorType::ApiError => "api_error",
            ErrorType::CardError => "card_error",
            ErrorType::IdempotencyError => "idempotency_error",
            ErrorType::InvalidRequestError => "invalid_request_error",
        }
    }
}

/// A Stripe API error ready to be sent.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub kind: ErrorType,
    pub code: Option<&'static str>,
    /// The issuer's decline code; its advice code (Stripe's `advice_code`) follows from it.
    pub decline_code: Option<&'static str>,
    pub message: String,
    pub param: Option<String>,
    /// The PaymentIntent as it stands after the failed operation (declines, unexpected states).
    /// Boxed to keep `Result<_, ApiError>` small on the hot, successful path.
    pub payment_intent: Option<Box<Value>>,
    /// The failed charge's id on a decline, as Stripe reports it.
    pub charge: Option<String>,
}

impl ApiError {
    fn new(status: StatusCode, kind: ErrorType, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            kind,
            code: None,
            decline_code: None,
            message: message.into(),
            param: None,
            payment_intent: None,
            charge: None,
        }
    }

    pub fn invalid(code: &'static str, param: &str, message: impl Into<String>) -> ApiError {
        let mut e = ApiError::new(
            StatusCode::BAD_REQUEST,
            ErrorType::InvalidRequestError,
            message,
        );
        e.code = Some(code);
        e.param = Some(param.to_string());
        e
    }

    pub fn missing(param: &str) -> ApiError {
        ApiError::invalid(
            "parameter_missing",
            param,
            format!("Missing required param: {param}."),
        )
    }

    pub fn unknown_param(param: &str) -> ApiError {
        ApiError::invalid(
            "parameter_unknown",
            param,
            format!("Received unknown parameter: {param}"),
        )
    }

    pub fn not_found(object: &str, id: &str, param: &str) -> ApiError {
        let mut e = ApiError::invalid(
            "resource_missing",
            param,
            format!("No such {object}: '{id}'"),
        );
        e.status = StatusCode::NOT_FOUND;
        e
    }

    pub fn unrecognized_url(method: &str, path: &str) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorType::InvalidRequestError,
            format!("Unrecognized request URL ({method}: {path})."),
        )
    }

    pub fn unexpected_state(intent: Value, message: String) -> ApiError {
        let mut e = ApiError::new(
            StatusCode::BAD_REQUEST,
            ErrorType::InvalidRequestError,
            message,
        );
        e.code = Some("payment_intent_unexpected_state");
        e.payment_intent = Some(Box::new(intent));
        e
    }

    /// Stripe's answer to a restricted key (`rk_…`) without the permission an endpoint needs:
    /// HTTP 403, `invalid_request_error`, the key shown redacted and the permission named.
    pub fn permission(redacted_key: &str, permission: &str) -> ApiError {
        ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorType::InvalidRequestError,
            format!(
                "The provided key '{redacted_key}' does not have the required permissions for \
                 this endpoint on account '{SANDBOX_ACCOUNT}'. Having the '{permission}' \
                 permission would allow this request to continue."
            ),
        )
    }

    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            ErrorType::InvalidRequestError,
            message,
        )
    }

    pub fn card(
        code: &'static str,
        decline_code: &'static str,
        message: &str,
        intent: Value,
        charge: Option<String>,
    ) -> ApiError {
        let mut e = ApiError::new(StatusCode::PAYMENT_REQUIRED, ErrorType::CardError, message);
        e.code = Some(code);
        e.decline_code = Some(decline_code);
        e.payment_intent = Some(Box::new(intent));
        e.charge = charge;
        e
    }

    pub fn idempotency_mismatch(key: &str) -> ApiError {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            ErrorType::IdempotencyError,
            format!(
                "Keys for idempotent requests can only be used with the same parameters they were \
                 first used with. Try using a key other than '{key}' if you meant to execute a \
                 different request."
            ),
        )
    }

    pub fn idempotency_in_use(key: &str) -> ApiError {
        let mut e = ApiError::new(
            StatusCode::CONFLICT,
            ErrorType::InvalidRequestError,
            format!(
                "There is currently another in-progress request using this Idempotent Key \
                 (probably a retry): '{key}'. Please try again later."
            ),
        );
        e.code = Some("idempotency_key_in_use");
        e
    }

    pub fn rate_limited() -> ApiError {
        let mut e = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            ErrorType::InvalidRequestError,
            "Request rate limit exceeded. Learn more about rate limits here \
             https://stripe.com/docs/rate-limits.",
        );
        e.code = Some("rate_limit");
        e
    }

    pub fn internal() -> ApiError {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorType::ApiError,
            "An unknown error occurred (injected by the sandbox's fault plan).",
        )
    }

    /// The `last_payment_error` a declined intent carries: the error without the intent itself.
    pub fn as_last_payment_error(&self, payment_method: Value) -> Value {
        let mut v = self.fields();
        v.insert("payment_method".into(), payment_method);
        Value::Object(v)
    }

    fn fields(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("type".into(), json!(self.kind.as_str()));
        m.insert("message".into(), json!(self.message));
        if let Some(code) = self.code {
            m.insert("code".into(), json!(code));
            m.insert(
                "doc_url".into(),
                json!(format!(
                    "https://stripe.com/docs/error-codes/{}",
                    code.replace('_', "-")
                )),
            );
        }
        if let Some(d) = self.decline_code {
            m.insert("decline_code".into(), json!(d));
        }
        if let Some(a) = self.decline_code.and_then(advice_for) {
            m.insert("advice_code".into(), json!(a));
        }
        if let Some(p) = &self.param {
            m.insert("param".into(), json!(p));
        }
        if let Some(c) = &self.charge {
            m.insert("charge".into(), json!(c));
        }
        m
    }

    /// The response body: `{"error": {...}}`.
    pub fn body(&self) -> Value {
        let mut m = self.fields();
        if let Some(pi) = &self.payment_intent {
            m.insert("payment_intent".into(), (**pi).clone());
        }
        json!({ "error": m })
    }
}

/// The advice an issuer gives with a decline code, as Stripe passes it on in `advice_code`: a
/// lost or stolen card is never to be tried again, missing funds may be later, and wrong card
/// data needs the customer to confirm it. Other declines carry no advice.
fn advice_for(decline_code: &str) -> Option<&'static str> {
    match decline_code {
        "stolen_card" | "lost_card" | "pickup_card" => Some("do_not_try_again"),
        "insufficient_funds" => Some("try_again_later"),
        "incorrect_cvc" | "expired_card" => Some("confirm_card_data"),
        _ => None,
    }
}

//! PayPal's error bodies and amounts as the sandbox sends and reads them.
//!
//! Every non-2xx answer on the PayPal paths has PayPal's shape,
//! `{"name", "message", "debug_id", "details": [{"issue", "description", "field"?}]}`, except the
//! OAuth2 token endpoint and a refused bearer token, which answer with OAuth2's
//! `{"error", "error_description"}` as PayPal does. Deliberately absent: PayPal's HATEOAS
//! `links` on errors (no client of ours follows them).

use axum::http::StatusCode;
use paydesk_core::Currency;
use serde_json::{json, Value};

use crate::store::new_id;

/// A PayPal API error ready to be sent.
#[derive(Debug, Clone)]
pub struct PaypalError {
    pub status: StatusCode,
    /// `INVALID_REQUEST`, `UNPROCESSABLE_ENTITY`, `RESOURCE_NOT_FOUND`, …
    pub name: &'static str,
    pub message: String,
    /// The first `details[].issue` (`INSTRUMENT_DECLINED`, `DUPLICATE_INVOICE_ID`, …).
    pub issue: Option<String>,
    pub description: Option<String>,
    pub field: Option<String>,
    /// OAuth2-shaped body instead (`invalid_client`, `invalid_token`).
    pub oauth: bool,
}

impl PaypalError {
    fn new(status: StatusCode, name: &'static str, message: &str) -> PaypalError {
        PaypalError {
            status,
            name,
            message: message.to_string(),
            issue: None,
            description: None,
            field: None,
            oauth: false,
        }
    }

    fn with_issue(mut self, issue: &str, description: impl Into<String>) -> PaypalError {
        self.issue = Some(issue.to_string());
        self.description = Some(description.into());
        self
    }

    /// 400: the request does not follow the schema (a missing field, a bad amount).
    pub fn invalid(field: &str, issue: &str, description: impl Into<String>) -> PaypalError {
        let mut e = PaypalError::new(
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
            "Request is not well-formed, syntactically incorrect, or violates schema.",
        )
        .with_issue(issue, description);
        e.field = Some(field.to_string());
        e
    }

    /// 422: well-formed, refused by a business rule (a decline, a duplicate invoice, …).
    pub fn unprocessable(issue: &str, description: impl Into<String>) -> PaypalError {
        PaypalError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "UNPROCESSABLE_ENTITY",
            "The requested action could not be performed, semantically incorrect, or failed \
             business validation.",
        )
        .with_issue(issue, description)
    }

    pub fn not_found(what: &str, id: &str) -> PaypalError {
        PaypalError::new(
            StatusCode::NOT_FOUND,
            "RESOURCE_NOT_FOUND",
            "The specified resource does not exist.",
        )
        .with_issue(
            "INVALID_RESOURCE_ID",
            format!("Specified resource ID {id} ({what}) does not exist."),
        )
    }

    pub fn rate_limited() -> PaypalError {
        PaypalError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "RATE_LIMIT_REACHED",
            "Too many requests. Blocked due to rate limiting.",
        )
    }

    pub fn internal() -> PaypalError {
        PaypalError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL_SERVER_ERROR",
            "An internal server error has occurred.",
        )
    }

    /// OAuth2 refusals: `invalid_client` at the token endpoint, `invalid_token` elsewhere.
    pub fn oauth(error: &'static str, description: &str) -> PaypalError {
        let mut e = PaypalError::new(StatusCode::UNAUTHORIZED, error, description);
        e.oauth = true;
        e
    }

    /// The error a `PayPal-Mock-Response` code stands for, or `None` for a code the sandbox does
    /// not simulate.
    pub fn mock(code: &str) -> Option<PaypalError> {
        Some(match code {
            "INTERNAL_SERVER_ERROR" => PaypalError::internal(),
            "RATE_LIMIT_REACHED" => PaypalError::rate_limited(),
            "PERMISSION_DENIED" | "NOT_AUTHORIZED" => PaypalError::new(
                StatusCode::FORBIDDEN,
                "NOT_AUTHORIZED",
                "Authorization failed due to insufficient permissions.",
            )
            .with_issue(
                code,
                "You do not have permission to access or perform operations.",
            ),
            "INSTRUMENT_DECLINED"
            | "CARD_EXPIRED"
            | "TRANSACTION_REFUSED"
            | "DUPLICATE_INVOICE_ID"
            | "ORDER_ALREADY_CAPTURED"
            | "PAYER_ACTION_REQUIRED"
            | "MAX_NUMBER_OF_PAYMENT_ATTEMPTS_EXCEEDED"
            | "DUPLICATE_REQUEST_ID"
            | "PAYPAL_REQUEST_ID_PREVIOUSLY_USED"
            | "CAPTURE_FULLY_REFUNDED"
            | "REFUND_AMOUNT_EXCEEDED" => PaypalError::unprocessable(
                code,
                format!("Simulated {code} (PayPal-Mock-Response)."),
            ),
            _ => return None,
        })
    }

    pub fn body(&self) -> Value {
        if self.oauth {
            return json!({ "error": self.name, "error_description": self.message });
        }
        let mut detail = json!({});
        if let Some(issue) = &self.issue {
            detail["issue"] = json!(issue);
        }
        if let Some(description) = &self.description {
            detail["description"] = json!(description);
        }
        if let Some(field) = &self.field {
            detail["field"] = json!(field);
            detail["location"] = json!("body");
        }
        json!({
            "name": self.name,
            "message": self.message,
            "debug_id": new_id("dbg"),
            "details": if self.issue.is_some() { json!([detail]) } else { json!([]) },
        })
    }
}

/// Parses PayPal's amount (`{"currency_code": "EUR", "value": "12.34"}`) into minor units of a
/// known currency; more decimals than the currency has is PayPal's `DECIMAL_PRECISION`.
pub fn parse_amount(amount: &Value, field: &str) -> Result<(Currency, i64), PaypalError> {
    let code = amount["currency_code"].as_str().ok_or_else(|| {
        PaypalError::invalid(
            &format!("{field}/currency_code"),
            "MISSING_REQUIRED_PARAMETER",
            "currency_code is required.",
        )
    })?;
    let currency = Currency::from_code(code).map_err(|_| {
        PaypalError::invalid(
            &format!("{field}/currency_code"),
            "CURRENCY_NOT_SUPPORTED",
            format!("Currency code {code} is not supported."),
        )
    })?;
    let value = amount["value"].as_str().ok_or_else(|| {
        PaypalError::invalid(
            &format!("{field}/value"),
            "MISSING_REQUIRED_PARAMETER",
            "value is required and must be a string.",
        )
    })?;
    let bad = |issue: &str| {
        PaypalError::invalid(
            &format!("{field}/value"),
            issue,
            format!("{value:?} is not a valid amount for {code}."),
        )
    };
    let (whole, fraction) = value.split_once('.').unwrap_or((value, ""));
    let digits = |s: &str| !s.is_empty() && s.len() <= 12 && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || (value.contains('.') && !digits(fraction)) {
        return Err(bad("INVALID_PARAMETER_SYNTAX"));
    }
    let exponent = usize::from(currency.exponent());
    if fraction.len() > exponent {
        return Err(bad("DECIMAL_PRECISION"));
    }
    let scale = 10i64.pow(currency.exponent().into());
    let padded = format!("{fraction:0<exponent$}");
    let minor = whole
        .parse::<i64>()
        .ok()
        .and_then(|w| w.checked_mul(scale))
        .and_then(|w| w.checked_add(padded.parse::<i64>().unwrap_or(0)))
        .ok_or_else(|| bad("INVALID_PARAMETER_VALUE"))?;
    if minor <= 0 {
        return Err(bad("CANNOT_BE_ZERO_OR_NEGATIVE"));
    }
    Ok((currency, minor))
}

/// Minor units as PayPal's decimal string (`1234` EUR → `"12.34"`, `500` JPY → `"500"`).
pub fn format_amount(currency: Currency, minor: i64) -> Value {
    let exponent = u32::from(currency.exponent());
    let value = if exponent == 0 {
        minor.to_string()
    } else {
        let scale = 10i64.pow(exponent);
        format!(
            "{}.{:0width$}",
            minor / scale,
            minor % scale,
            width = exponent as usize
        )
    };
    json!({ "currency_code": currency.code(), "value": value })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_round_trip_without_floats() {
        let eur = Currency::from_code("EUR").unwrap();
        let (c, minor) =
            parse_amount(&json!({"currency_code": "EUR", "value": "12.34"}), "a").unwrap();
        assert_eq!((c, minor), (eur, 1234));
        assert_eq!(
            parse_amount(&json!({"currency_code": "EUR", "value": "7"}), "a")
                .unwrap()
                .1,
            700
        );
        assert_eq!(format_amount(eur, 1205)["value"], "12.05");
        let jpy = Currency::from_code("JPY").unwrap();
        assert_eq!(format_amount(jpy, 500)["value"], "500");
        for bad in ["12.345", "-1", "1e3", "", "0.00", "12.", ".5"] {
            let e = parse_amount(&json!({"currency_code": "EUR", "value": bad}), "a");
            assert!(e.is_err(), "{bad} should be refused");
        }
        assert!(parse_amount(&json!({"currency_code": "JPY", "value": "5.0"}), "a").is_err());
    }
}

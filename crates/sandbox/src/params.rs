//! Typed request parameters, parsed from the form tree with Stripe's validation errors.
//!
//! Everything here is checked before an operation starts, so a refusal from this module is
//! never stored under an idempotency key (Stripe saves no result for a request that failed
//! validation). It reads no state: checks that need the store belong to the operations.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::cards;
use crate::error::ApiError;

/// Stripe's largest amount for most currencies: eight digits of minor units.
pub const AMOUNT_MINOR_MAX: i64 = 99_999_999;
/// Stripe's metadata limits: 50 keys, keys up to 40 characters, values up to 500.
pub const METADATA_KEYS_MAX: usize = 50;
pub const METADATA_KEY_LEN_MAX: usize = 40;
pub const METADATA_VALUE_LEN_MAX: usize = 500;
/// Stripe's list and search pages hold 1..=100 objects, 10 by default.
pub const PAGE_LIMIT_MAX: usize = 100;
pub const PAGE_LIMIT_DEFAULT: usize = 10;

/// `POST /v1/payment_intents`
#[derive(Debug, Clone)]
pub struct CreateIntent {
    pub amount: i64,
    /// Lower-case ISO 4217, as Stripe returns it.
    pub currency: String,
    pub customer: Option<String>,
    pub payment_method: Option<String>,
    pub confirm: bool,
    pub off_session: bool,
    pub description: Option<String>,
    pub metadata: BTreeMap<String, String>,
}

/// `POST /v1/payment_intents/{id}/confirm`
#[derive(Debug, Clone)]
pub struct ConfirmIntent {
    pub payment_method: Option<String>,
    pub off_session: Option<bool>,
}

/// `POST /v1/payment_intents/{id}/cancel`
#[derive(Debug, Clone)]
pub struct CancelIntent {
    pub cancellation_reason: Option<String>,
}

/// `POST /v1/refunds`
#[derive(Debug, Clone)]
pub struct CreateRefund {
    pub payment_intent: Option<String>,
    pub charge: Option<String>,
    pub amount: Option<i64>,
    pub reason: Option<String>,
    pub metadata: BTreeMap<String, String>,
}

/// `GET /v1/payment_intents/search`
#[derive(Debug, Clone)]
pub struct Search {
    pub query: String,
    pub limit: usize,
    pub page: Option<String>,
}

/// `GET /v1/events`
#[derive(Debug, Clone)]
pub struct ListEvents {
    pub limit: usize,
    pub starting_after: Option<String>,
    pub event_type: Option<String>,
    /// `types[]`: any of these event types (empty: all).
    pub types: Vec<String>,
    /// `created` (exact, Unix seconds) or `created[gt|gte|lt|lte]`.
    pub created: CreatedRange,
}

/// Stripe's range filter on `created`, in Unix seconds; every bound is optional.
#[derive(Debug, Clone, Default)]
pub struct CreatedRange {
    pub gt: Option<i64>,
    pub gte: Option<i64>,
    pub lt: Option<i64>,
    pub lte: Option<i64>,
}

impl CreatedRange {
    pub fn contains(&self, created: i64) -> bool {
        self.gt.is_none_or(|b| created > b)
            && self.gte.is_none_or(|b| created >= b)
            && self.lt.is_none_or(|b| created < b)
            && self.lte.is_none_or(|b| created <= b)
    }

    fn parse(p: &Map<String, Value>) -> Result<CreatedRange, ApiError> {
        match p.get("created") {
            None => Ok(CreatedRange::default()),
            Some(Value::String(_)) => {
                let exact = integer(p, "created")?;
                Ok(CreatedRange {
                    gte: exact,
                    lte: exact,
                    ..CreatedRange::default()
                })
            }
            Some(Value::Object(bounds)) => {
                check_known(bounds, &["gt", "gte", "lt", "lte"])
                    .map_err(|_| ApiError::unknown_param("created[…]"))?;
                let bound = |name: &str| {
                    integer(bounds, name).map_err(|_| {
                        ApiError::invalid(
                            "parameter_invalid_integer",
                            &format!("created[{name}]"),
                            format!("Invalid integer: created[{name}] must be Unix seconds."),
                        )
                    })
                };
                Ok(CreatedRange {
                    gt: bound("gt")?,
                    gte: bound("gte")?,
                    lt: bound("lt")?,
                    lte: bound("lte")?,
                })
            }
            Some(_) => Err(ApiError::invalid(
                "parameter_invalid_integer",
                "created",
                "Invalid created: give Unix seconds, or created[gte]=… and friends.",
            )),
        }
    }
}

fn string_list(p: &Map<String, Value>, name: &str) -> Result<Vec<String>, ApiError> {
    match p.get(name) {
        None => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| match v {
                Value::String(s) => Ok(s.clone()),
                _ => Err(ApiError::invalid(
                    "parameter_invalid_string",
                    name,
                    format!("Invalid array: {name} must be a list of strings."),
                )),
            })
            .collect(),
        Some(_) => Err(ApiError::invalid(
            "parameter_invalid_array",
            name,
            format!("Invalid array: send {name} as {name}[]=a&{name}[]=b."),
        )),
    }
}

/// Parameters a client may send that the sandbox accepts and ignores, because they do not change
/// what it simulates (`expand` in particular: the sandbox never expands).
const IGNORED: &[&str] = &["expand", "return_url", "use_stripe_sdk", "mandate_data"];

fn check_known(p: &Map<String, Value>, known: &[&str]) -> Result<(), ApiError> {
    for name in p.keys() {
        if !known.contains(&name.as_str()) && !IGNORED.contains(&name.as_str()) {
            return Err(ApiError::unknown_param(name));
        }
    }
    Ok(())
}

fn string(p: &Map<String, Value>, name: &str) -> Result<Option<String>, ApiError> {
    match p.get(name) {
        None => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ApiError::invalid(
            "parameter_invalid_string",
            name,
            format!("Invalid string: {name} must be a string, not an object or array."),
        )),
    }
}

fn integer(p: &Map<String, Value>, name: &str) -> Result<Option<i64>, ApiError> {
    let Some(s) = string(p, name)? else {
        return Ok(None);
    };
    // Stripe takes integers only: "10.00" is refused, never rounded.
    s.parse::<i64>().map(Some).map_err(|_| {
        ApiError::invalid(
            "parameter_invalid_integer",
            name,
            format!("Invalid integer: {s}"),
        )
    })
}

fn boolean(p: &Map<String, Value>, name: &str) -> Result<Option<bool>, ApiError> {
    match string(p, name)?.as_deref() {
        None => Ok(None),
        Some("true") => Ok(Some(true)),
        Some("false") => Ok(Some(false)),
        Some(other) => Err(ApiError::invalid(
            "parameter_invalid_boolean",
            name,
            format!("Invalid boolean: {other}"),
        )),
    }
}

fn amount(p: &Map<String, Value>, name: &str) -> Result<Option<i64>, ApiError> {
    let Some(a) = integer(p, name)? else {
        return Ok(None);
    };
    if a < 1 {
        return Err(ApiError::invalid(
            "parameter_invalid_integer",
            name,
            "This value must be greater than or equal to 1.",
        ));
    }
    if a > AMOUNT_MINOR_MAX {
        return Err(ApiError::invalid(
            "amount_too_large",
            name,
            format!("Amount must be no more than {AMOUNT_MINOR_MAX} minor units."),
        ));
    }
    Ok(Some(a))
}

fn metadata(p: &Map<String, Value>) -> Result<BTreeMap<String, String>, ApiError> {
    let mut out = BTreeMap::new();
    match p.get("metadata") {
        None => {}
        // `metadata=` (empty) is how Stripe clients unset all metadata.
        Some(Value::String(s)) if s.is_empty() => {}
        Some(Value::Object(m)) => {
            if m.len() > METADATA_KEYS_MAX {
                return Err(ApiError::invalid(
                    "parameter_invalid_string",
                    "metadata",
                    format!("Metadata can have at most {METADATA_KEYS_MAX} keys."),
                ));
            }
            for (k, v) in m {
                let param = format!("metadata[{k}]");
                let Value::String(v) = v else {
                    return Err(ApiError::invalid(
                        "parameter_invalid_string",
                        &param,
                        "Metadata values must be strings.",
                    ));
                };
                if k.chars().count() > METADATA_KEY_LEN_MAX {
                    return Err(ApiError::invalid(
                        "parameter_invalid_string",
                        &param,
                        format!("Metadata keys can be at most {METADATA_KEY_LEN_MAX} characters."),
                    ));
                }
                if v.chars().count() > METADATA_VALUE_LEN_MAX {
                    return Err(ApiError::invalid(
                        "parameter_invalid_string",
                        &param,
                        format!(
                            "Metadata values can be at most {METADATA_VALUE_LEN_MAX} characters."
                        ),
                    ));
                }
                out.insert(k.clone(), v.clone());
            }
        }
        Some(_) => {
            return Err(ApiError::invalid(
                "parameter_invalid_string",
                "metadata",
                "Invalid metadata: must be an object, e.g. metadata[key]=value.",
            ))
        }
    }
    Ok(out)
}

fn payment_method(p: &Map<String, Value>) -> Result<Option<String>, ApiError> {
    let Some(pm) = string(p, "payment_method")? else {
        return Ok(None);
    };
    if cards::find(&pm).is_none() {
        return Err(ApiError::not_found("PaymentMethod", &pm, "payment_method").with_status_400());
    }
    Ok(Some(pm))
}

/// `off_session` is a boolean on confirm, and also accepts `one_off` / `recurring` on create.
fn off_session(p: &Map<String, Value>) -> Result<Option<bool>, ApiError> {
    match string(p, "off_session")?.as_deref() {
        Some("one_off") | Some("recurring") => Ok(Some(true)),
        _ => boolean(p, "off_session"),
    }
}

impl CreateIntent {
    pub fn parse(p: &Map<String, Value>) -> Result<CreateIntent, ApiError> {
        check_known(
            p,
            &[
                "amount",
                "currency",
                "customer",
                "payment_method",
                "confirm",
                "off_session",
                "description",
                "metadata",
                "capture_method",
                "confirmation_method",
                "payment_method_types",
                "automatic_payment_methods",
                "statement_descriptor",
                "statement_descriptor_suffix",
                "receipt_email",
                "setup_future_usage",
                "error_on_requires_action",
            ],
        )?;
        let amount = amount(p, "amount")?.ok_or_else(|| ApiError::missing("amount"))?;
        let currency = string(p, "currency")?.ok_or_else(|| ApiError::missing("currency"))?;
        let currency = paydesk_core::Currency::from_code(&currency)
            .map_err(|_| {
                ApiError::invalid(
                    "parameter_invalid_string",
                    "currency",
                    format!("Invalid currency: {}.", currency.to_ascii_lowercase()),
                )
            })?
            .code()
            .to_ascii_lowercase();
        match string(p, "capture_method")?.as_deref() {
            None | Some("automatic") | Some("automatic_async") => {}
            Some(other) => {
                return Err(ApiError::invalid(
                    "parameter_invalid_string",
                    "capture_method",
                    format!("The sandbox supports only automatic capture, not {other:?}."),
                ))
            }
        }
        Ok(CreateIntent {
            amount,
            currency,
            customer: string(p, "customer")?,
            payment_method: payment_method(p)?,
            confirm: boolean(p, "confirm")?.unwrap_or(false),
            off_session: off_session(p)?.unwrap_or(false),
            description: string(p, "description")?,
            metadata: metadata(p)?,
        })
    }
}

impl ConfirmIntent {
    pub fn parse(p: &Map<String, Value>) -> Result<ConfirmIntent, ApiError> {
        check_known(
            p,
            &[
                "payment_method",
                "off_session",
                "payment_method_types",
                "error_on_requires_action",
                "receipt_email",
                "setup_future_usage",
            ],
        )?;
        Ok(ConfirmIntent {
            payment_method: payment_method(p)?,
            off_session: off_session(p)?,
        })
    }
}

/// Stripe's accepted cancellation reasons.
const CANCELLATION_REASONS: &[&str] = &[
    "duplicate",
    "fraudulent",
    "requested_by_customer",
    "abandoned",
];

impl CancelIntent {
    pub fn parse(p: &Map<String, Value>) -> Result<CancelIntent, ApiError> {
        check_known(p, &["cancellation_reason"])?;
        let reason = string(p, "cancellation_reason")?;
        if let Some(r) = &reason {
            if !CANCELLATION_REASONS.contains(&r.as_str()) {
                return Err(ApiError::invalid(
                    "parameter_invalid_string",
                    "cancellation_reason",
                    format!("Invalid cancellation_reason: must be one of {CANCELLATION_REASONS:?}"),
                ));
            }
        }
        Ok(CancelIntent {
            cancellation_reason: reason,
        })
    }
}

/// Stripe's accepted refund reasons.
const REFUND_REASONS: &[&str] = &["duplicate", "fraudulent", "requested_by_customer"];

impl CreateRefund {
    pub fn parse(p: &Map<String, Value>) -> Result<CreateRefund, ApiError> {
        check_known(
            p,
            &["payment_intent", "charge", "amount", "reason", "metadata"],
        )?;
        let payment_intent = string(p, "payment_intent")?;
        let charge = string(p, "charge")?;
        if payment_intent.is_none() && charge.is_none() {
            return Err(ApiError::invalid(
                "parameter_missing",
                "payment_intent",
                "One of the following params should be provided for this request: \
                 payment_intent or charge.",
            ));
        }
        let reason = string(p, "reason")?;
        if let Some(r) = &reason {
            if !REFUND_REASONS.contains(&r.as_str()) {
                return Err(ApiError::invalid(
                    "parameter_invalid_string",
                    "reason",
                    format!("Invalid reason: must be one of {REFUND_REASONS:?}"),
                ));
            }
        }
        Ok(CreateRefund {
            payment_intent,
            charge,
            amount: amount(p, "amount")?,
            reason,
            metadata: metadata(p)?,
        })
    }
}

fn limit(p: &Map<String, Value>) -> Result<usize, ApiError> {
    match integer(p, "limit")? {
        None => Ok(PAGE_LIMIT_DEFAULT),
        Some(l) if (1..=PAGE_LIMIT_MAX as i64).contains(&l) => Ok(l as usize),
        Some(_) => Err(ApiError::invalid(
            "parameter_invalid_integer",
            "limit",
            format!("This value must be between 1 and {PAGE_LIMIT_MAX}."),
        )),
    }
}

impl Search {
    pub fn parse(p: &Map<String, Value>) -> Result<Search, ApiError> {
        check_known(p, &["query", "limit", "page"])?;
        Ok(Search {
            query: string(p, "query")?.ok_or_else(|| ApiError::missing("query"))?,
            limit: limit(p)?,
            page: string(p, "page")?,
        })
    }
}

impl ListEvents {
    pub fn parse(p: &Map<String, Value>) -> Result<ListEvents, ApiError> {
        check_known(
            p,
            &[
                "limit",
                "starting_after",
                "ending_before",
                "type",
                "types",
                "created",
            ],
        )?;
        Ok(ListEvents {
            limit: limit(p)?,
            starting_after: string(p, "starting_after")?,
            event_type: string(p, "type")?,
            types: string_list(p, "types")?,
            created: CreatedRange::parse(p)?,
        })
    }
}

impl ApiError {
    /// An unknown object named in the body is a 400 on Stripe (the URL itself was found).
    fn with_status_400(mut self) -> ApiError {
        self.status = axum::http::StatusCode::BAD_REQUEST;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::form;

    fn create(body: &str) -> Result<CreateIntent, ApiError> {
        CreateIntent::parse(&form::parse(body.as_bytes()).unwrap())
    }

    #[test]
    fn create_validation() {
        let ok = create("amount=1099&currency=EUR&metadata[order_id]=O-1&confirm=true").unwrap();
        assert_eq!(
            (ok.amount, ok.currency.as_str(), ok.confirm),
            (1099, "eur", true)
        );
        let cases: &[(&str, &str, &str)] = &[
            ("currency=eur", "parameter_missing", "amount"),
            ("amount=10", "parameter_missing", "currency"),
            (
                "amount=-5&currency=eur",
                "parameter_invalid_integer",
                "amount",
            ),
            (
                "amount=10.5&currency=eur",
                "parameter_invalid_integer",
                "amount",
            ),
            (
                "amount=10&currency=xyz",
                "parameter_invalid_string",
                "currency",
            ),
            (
                "amount=10&currency=eur&confirm=yes",
                "parameter_invalid_boolean",
                "confirm",
            ),
            (
                "amount=10&currency=eur&payment_method=pm_nope",
                "resource_missing",
                "payment_method",
            ),
            (
                "amount=10&currency=eur&bogus=1",
                "parameter_unknown",
                "bogus",
            ),
        ];
        for (body, code, param) in cases {
            let e = create(body).unwrap_err();
            assert_eq!(e.code, Some(*code), "{body}");
            assert_eq!(e.param.as_deref(), Some(*param), "{body}");
            assert_eq!(e.status.as_u16(), 400, "{body}");
        }
    }
}

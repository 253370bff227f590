//! The sandbox's PayPal account: OAuth2 tokens, Orders v2 orders with their captures, refunds, the
//! `PayPal-Request-Id` records and the `invoice_id` guard, and the operations on them rendered as
//! PayPal's JSON.
//!
//! Operations are synchronous and take the sandbox-clock time; the server holds the world lock
//! around each. Deliberately absent: `intent: AUTHORIZE`, order PATCH, payer approval through a
//! browser, webhooks and persistence across restarts (PayPal state lives in memory only).

use std::collections::{BTreeMap, HashMap};

use paydesk_core::Currency;
use serde::Serialize;
use serde_json::{json, Value};

use super::errors::{format_amount, parse_amount, PaypalError};

/// PayPal keeps a `PayPal-Request-Id` for 6 hours by default.
pub const REQUEST_ID_WINDOW_MS_DEFAULT: i64 = 6 * 60 * 60 * 1000;
/// PayPal's access tokens live about 9 hours (`expires_in: 32400`).
pub const TOKEN_TTL_S_DEFAULT: i64 = 32_400;
/// PayPal refuses `PayPal-Request-Id` values longer than this.
pub const REQUEST_ID_LEN_MAX: usize = 108;
/// Declined captures one order accepts before `MAX_NUMBER_OF_PAYMENT_ATTEMPTS_EXCEEDED`.
pub const DECLINED_CAPTURES_MAX: u32 = 3;

/// The vaulted test sources (`payment_source.card.vault_id` / `payment_source.paypal.vault_id`)
/// and what a capture with them does. Any other vault id is `INVALID_RESOURCE_ID` (404).
pub const VAULT_APPROVE: &str = "vault_approve";
/// Capture `DECLINED` inside an order that is `COMPLETED` (PayPal's "don't trust the order").
pub const VAULT_DECLINE: &str = "vault_decline";
/// 422 `INSTRUMENT_DECLINED`; the order stays capturable.
pub const VAULT_INSTRUMENT_DECLINED: &str = "vault_instrument_declined";
/// 422 `CARD_EXPIRED`.
pub const VAULT_EXPIRED: &str = "vault_card_expired";
/// The order goes to `PAYER_ACTION_REQUIRED` (3-D Secure the customer must complete).
pub const VAULT_PAYER_ACTION: &str = "vault_payer_action";
/// Capture `PENDING` (`PENDING_REVIEW`): no money yet.
pub const VAULT_PENDING: &str = "vault_pending";

/// Settings the admin API may change (see the README).
#[derive(Debug, Clone, Serialize)]
pub struct Settings {
    pub request_id_window_ms: i64,
    pub token_ttl_s: i64,
    /// When set, the only client id and secret the token endpoint accepts.
    #[serde(skip)]
    pub credentials: Option<(String, String)>,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            request_id_window_ms: REQUEST_ID_WINDOW_MS_DEFAULT,
            token_ttl_s: TOKEN_TTL_S_DEFAULT,
            credentials: None,
        }
    }
}

#[derive(Debug, Clone)]
struct Capture {
    id: String,
    status: &'static str,
    reason: Option<&'static str>,
    amount_minor: i64,
    refunded_minor: i64,
    source_kind: String,
    created_ms: i64,
}

#[derive(Debug, Clone)]
struct Order {
    id: String,
    status: &'static str,
    currency: Currency,
    amount_minor: i64,
    reference_id: Option<String>,
    invoice_id: Option<String>,
    custom_id: Option<String>,
    captures: Vec<Capture>,
    declined: u32,
    created_ms: i64,
    updated_ms: i64,
}

#[derive(Debug, Clone)]
struct Refund {
    id: String,
    capture: String,
    order: String,
    currency: Currency,
    amount_minor: i64,
    created_ms: i64,
}

/// One `PayPal-Request-Id`: what it was first sent with, and the stored answer once there is one.
#[derive(Debug, Clone)]
struct RequestRecord {
    fingerprint: String,
    first_ms: i64,
    answer: Option<(u16, Value)>,
}

/// How one request id was used: the ledger's ground truth.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RequestIdUsage {
    pub requests: u64,
    pub executions: u64,
    pub replays: u64,
    pub mismatches: u64,
    pub conflicts: u64,
}

/// What to do with a request that carries a `PayPal-Request-Id`.
#[derive(Debug)]
pub enum Begin {
    Fresh,
    Replay(u16, Value),
    /// Same id, other request: `PAYPAL_REQUEST_ID_PREVIOUSLY_USED`.
    Mismatch,
    /// Same id while the first is executing: `DUPLICATE_REQUEST_ID`.
    InUse,
}

/// The PayPal half of the sandbox's world.
#[derive(Debug, Default)]
pub struct PaypalState {
    pub settings: Settings,
    /// Access token → expiry (sandbox-clock ms).
    tokens: HashMap<String, i64>,
    pub tokens_issued: u64,
    orders: BTreeMap<String, Order>,
    /// Capture id → order id.
    captures: HashMap<String, String>,
    refunds: BTreeMap<String, Refund>,
    requests: HashMap<String, RequestRecord>,
    usage: BTreeMap<String, RequestIdUsage>,
}

/// PayPal-looking ids: 17 upper-case alphanumerics.
fn paypal_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..17].to_ascii_uppercase()
}

fn rfc3339(ms: i64) -> String {
    // Seconds since the epoch as a civil date (UTC); enough for display and ordering.
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Howard Hinnant's days-to-civil algorithm.
fn civil(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

impl PaypalState {
    // ---- OAuth2 -------------------------------------------------------------------------------

    /// Issues a token for a client id and secret (any non-empty pair unless credentials are set).
    pub fn issue_token(
        &mut self,
        client: &str,
        secret: &str,
        now_ms: i64,
    ) -> Result<Value, PaypalError> {
        let accepted = match &self.settings.credentials {
            Some((id, s)) => id == client && s == secret,
            None => !client.is_empty() && !secret.is_empty(),
        };
        if !accepted {
            return Err(PaypalError::oauth(
                "invalid_client",
                "Client Authentication failed",
            ));
        }
        let token = format!("A21AA{}", uuid::Uuid::new_v4().simple());
        let ttl = self.settings.token_ttl_s;
        self.tokens.insert(token.clone(), now_ms + ttl * 1000);
        self.tokens_issued += 1;
        Ok(json!({
            "scope": "https://uri.paypal.com/services/payments/payment https://uri.paypal.com/services/payments/refund",
            "access_token": token,
            "token_type": "Bearer",
            "app_id": "APP-PAYDESK-SANDBOX",
            "expires_in": ttl,
            "nonce": format!("{}-paydesk", rfc3339(now_ms)),
        }))
    }

    /// Checks a bearer token; expired and unknown tokens are PayPal's 401 `invalid_token`.
    pub fn check_token(&mut self, token: &str, now_ms: i64) -> Result<(), PaypalError> {
        self.tokens.retain(|_, expires| *expires > now_ms);
        if self.tokens.contains_key(token) {
            Ok(())
        } else {
            Err(PaypalError::oauth(
                "invalid_token",
                "Access Token not found in cache",
            ))
        }
    }

    /// Forgets every token (admin: "PayPal rotated its keys"), so the next call gets a 401.
    pub fn revoke_tokens(&mut self) {
        self.tokens.clear();
    }

    // ---- PayPal-Request-Id --------------------------------------------------------------------

    pub fn begin(&mut self, id: &str, fingerprint: &str, now_ms: i64) -> Begin {
        let window = self.settings.request_id_window_ms;
        self.requests
            .retain(|_, r| r.answer.is_none() || now_ms.saturating_sub(r.first_ms) < window);
        let usage = self.usage.entry(id.to_string()).or_default();
        usage.requests += 1;
        match self.requests.get(id) {
            None => {
                usage.executions += 1;
                self.requests.insert(
                    id.to_string(),
                    RequestRecord {
                        fingerprint: fingerprint.to_string(),
                        first_ms: now_ms,
                        answer: None,
                    },
                );
                Begin::Fresh
            }
            Some(r) if r.fingerprint != fingerprint => {
                usage.mismatches += 1;
                Begin::Mismatch
            }
            Some(RequestRecord { answer: None, .. }) => {
                usage.conflicts += 1;
                Begin::InUse
            }
            Some(RequestRecord {
                answer: Some((status, body)),
                ..
            }) => {
                usage.replays += 1;
                Begin::Replay(*status, body.clone())
            }
        }
    }

    pub fn finish(&mut self, id: &str, status: u16, body: &Value) {
        if let Some(r) = self.requests.get_mut(id) {
            r.answer = Some((status, body.clone()));
        }
    }

    /// Forgets an id whose request never executed (refused as malformed, dropped before).
    pub fn release(&mut self, id: &str) {
        if self.requests.get(id).is_some_and(|r| r.answer.is_none()) {
            self.requests.remove(id);
        }
    }

    // ---- Orders -------------------------------------------------------------------------------

    fn render(&self, o: &Order) -> Value {
        let captures: Vec<Value> = o
            .captures
            .iter()
            .map(|c| {
                let mut v = json!({
                    "id": c.id,
                    "status": c.status,
                    "amount": format_amount(o.currency, c.amount_minor),
                    "final_capture": true,
                    "create_time": rfc3339(c.created_ms),
                    "update_time": rfc3339(c.created_ms),
                });
                if let Some(reason) = c.reason {
                    v["status_details"] = json!({ "reason": reason });
                }
                if let Some(invoice) = &o.invoice_id {
                    v["invoice_id"] = json!(invoice);
                }
                if let Some(custom) = &o.custom_id {
                    v["custom_id"] = json!(custom);
                }
                v
            })
            .collect();
        let mut unit = json!({ "amount": format_amount(o.currency, o.amount_minor) });
        for (k, v) in [
            ("reference_id", &o.reference_id),
            ("invoice_id", &o.invoice_id),
            ("custom_id", &o.custom_id),
        ] {
            if let Some(v) = v {
                unit[k] = json!(v);
            }
        }
        if !captures.is_empty() {
            let refunds: Vec<Value> = self
                .refunds
                .values()
                .filter(|r| r.order == o.id)
                .map(render_refund)
                .collect();
            unit["payments"] = json!({ "captures": captures });
            if !refunds.is_empty() {
                unit["payments"]["refunds"] = json!(refunds);
            }
        }
        let mut order = json!({
            "id": o.id,
            "intent": "CAPTURE",
            "status": o.status,
            "purchase_units": [unit],
            "create_time": rfc3339(o.created_ms),
            "update_time": rfc3339(o.updated_ms),
            "links": [{ "href": format!("/v2/checkout/orders/{}", o.id), "rel": "self", "method": "GET" }],
        });
        if let Some(kind) = o.captures.last().map(|c| c.source_kind.clone()) {
            order["payment_source"] = json!({ kind: {} });
        }
        if o.status == "PAYER_ACTION_REQUIRED" {
            if let Some(links) = order["links"].as_array_mut() {
                links.push(json!({
                    "href": format!("https://sandbox.paydesk.invalid/checkoutnow?token={}", o.id),
                    "rel": "payer-action",
                    "method": "GET",
                }));
            }
        }
        order
    }

    /// `POST /v2/checkout/orders`. With a `payment_source` carrying a vault id it is PayPal's
    /// single-step charge (created and captured at once); without, the order is `CREATED`.
    pub fn create_order(&mut self, body: &Value, now_ms: i64) -> Result<(u16, Value), PaypalError> {
        match body["intent"].as_str() {
            Some("CAPTURE") => {}
            Some(other) => {
                return Err(PaypalError::unprocessable(
                    "UNSUPPORTED_INTENT",
                    format!("The sandbox supports intent CAPTURE only, not {other}."),
                ))
            }
            None => {
                return Err(PaypalError::invalid(
                    "/intent",
                    "MISSING_REQUIRED_PARAMETER",
                    "intent is required.",
                ))
            }
        }
        let units = body["purchase_units"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if units.len() != 1 {
            return Err(PaypalError::invalid(
                "/purchase_units",
                "INVALID_ARRAY_LENGTH",
                "The sandbox takes exactly one purchase unit.",
            ));
        }
        let unit = &units[0];
        let (currency, amount_minor) = parse_amount(&unit["amount"], "/purchase_units/0/amount")?;
        let text = |k: &str| -> Result<Option<String>, PaypalError> {
            match &unit[k] {
                Value::Null => Ok(None),
                Value::String(s) if !s.is_empty() && s.len() <= 127 => Ok(Some(s.clone())),
                _ => Err(PaypalError::invalid(
                    &format!("/purchase_units/0/{k}"),
                    "INVALID_STRING_LENGTH",
                    format!("{k} must be a string of 1 to 127 characters."),
                )),
            }
        };
        let order = Order {
            id: paypal_id(),
            status: "CREATED",
            currency,
            amount_minor,
            reference_id: text("reference_id")?,
            invoice_id: text("invoice_id")?,
            custom_id: text("custom_id")?,
            captures: Vec::new(),
            declined: 0,
            created_ms: now_ms,
            updated_ms: now_ms,
        };
        let id = order.id.clone();
        if body.get("payment_source").is_some() {
            // Single step: validate the source before anything exists, then capture.
            source(&body["payment_source"])?;
            self.orders.insert(id.clone(), order);
            return match self.capture(
                &id,
                &json!({ "payment_source": body["payment_source"] }),
                now_ms,
            ) {
                Ok((_, v)) => Ok((201, v)),
                Err(e) => {
                    // A refused single-step charge leaves no order behind.
                    self.orders.remove(&id);
                    Err(e)
                }
            };
        }
        let rendered = self.render(&order);
        self.orders.insert(id, order);
        Ok((201, rendered))
    }

    pub fn get_order(&self, id: &str) -> Result<Value, PaypalError> {
        self.orders
            .get(id)
            .map(|o| self.render(o))
            .ok_or_else(|| PaypalError::not_found("order", id))
    }

    /// `POST /v2/checkout/orders/{id}/capture` with a vaulted `payment_source`.
    pub fn capture(
        &mut self,
        id: &str,
        body: &Value,
        now_ms: i64,
    ) -> Result<(u16, Value), PaypalError> {
        let order = self
            .orders
            .get(id)
            .ok_or_else(|| PaypalError::not_found("order", id))?
            .clone();
        if order.captures.iter().any(|c| {
            matches!(
                c.status,
                "COMPLETED" | "PENDING" | "PARTIALLY_REFUNDED" | "REFUNDED"
            )
        }) {
            return Err(PaypalError::unprocessable(
                "ORDER_ALREADY_CAPTURED",
                "Order already captured. If 'intent=CAPTURE' only one capture per order is allowed.",
            ));
        }
        if order.declined >= DECLINED_CAPTURES_MAX {
            return Err(PaypalError::unprocessable(
                "MAX_NUMBER_OF_PAYMENT_ATTEMPTS_EXCEEDED",
                "You have exceeded the maximum number of payment attempts.",
            ));
        }
        let (kind, vault_id) = source(&body["payment_source"])?;
        if let Some(invoice) = &order.invoice_id {
            let taken = self.orders.values().any(|o| {
                o.id != order.id
                    && o.invoice_id.as_deref() == Some(invoice)
                    && o.captures
                        .iter()
                        .any(|c| c.status != "DECLINED" && c.status != "FAILED")
            });
            if taken {
                return Err(PaypalError::unprocessable(
                    "DUPLICATE_INVOICE_ID",
                    "Duplicate Invoice ID detected. To avoid a potential duplicate transaction \
                     your account setting requires that Invoice Id be unique for each transaction.",
                ));
            }
        }
        let (status, reason): (&'static str, Option<&'static str>) = match vault_id.as_str() {
            VAULT_APPROVE => ("COMPLETED", None),
            VAULT_DECLINE => ("DECLINED", None),
            VAULT_PENDING => ("PENDING", Some("PENDING_REVIEW")),
            VAULT_INSTRUMENT_DECLINED => {
                self.bump_declined(id, now_ms);
                return Err(PaypalError::unprocessable(
                    "INSTRUMENT_DECLINED",
                    "The instrument presented was either declined by the processor or bank, or \
                     it can't be used for this payment.",
                ));
            }
            VAULT_EXPIRED => {
                self.bump_declined(id, now_ms);
                return Err(PaypalError::unprocessable(
                    "CARD_EXPIRED",
                    "The card is expired.",
                ));
            }
            VAULT_PAYER_ACTION => {
                let o = self.orders.get_mut(id).expect("checked above");
                o.status = "PAYER_ACTION_REQUIRED";
                o.updated_ms = now_ms;
                let o = o.clone();
                return Ok((200, self.render(&o)));
            }
            other => return Err(PaypalError::not_found("vault token", other)),
        };
        let capture = Capture {
            id: paypal_id(),
            status,
            reason,
            amount_minor: order.amount_minor,
            refunded_minor: 0,
            source_kind: kind,
            created_ms: now_ms,
        };
        self.captures.insert(capture.id.clone(), id.to_string());
        let o = self.orders.get_mut(id).expect("checked above");
        if status == "DECLINED" {
            o.declined += 1;
        }
        // PayPal: the order is COMPLETED even when its capture was declined.
        o.status = "COMPLETED";
        o.updated_ms = now_ms;
        o.captures.push(capture);
        let o = o.clone();
        Ok((201, self.render(&o)))
    }

    fn bump_declined(&mut self, id: &str, now_ms: i64) {
        if let Some(o) = self.orders.get_mut(id) {
            o.declined += 1;
            o.updated_ms = now_ms;
        }
    }

    // ---- Refunds ------------------------------------------------------------------------------

    pub fn refund(
        &mut self,
        capture_id: &str,
        body: &Value,
        now_ms: i64,
    ) -> Result<Value, PaypalError> {
        let order_id = self
            .captures
            .get(capture_id)
            .cloned()
            .ok_or_else(|| PaypalError::not_found("capture", capture_id))?;
        let order = self
            .orders
            .get_mut(&order_id)
            .expect("captures point at orders");
        let currency = order.currency;
        let capture = order
            .captures
            .iter_mut()
            .find(|c| c.id == capture_id)
            .expect("captures point at orders");
        if !matches!(capture.status, "COMPLETED" | "PARTIALLY_REFUNDED") {
            let issue = if capture.status == "REFUNDED" {
                "CAPTURE_FULLY_REFUNDED"
            } else {
                "REFUND_NOT_ALLOWED"
            };
            return Err(PaypalError::unprocessable(
                issue,
                format!("A capture that is {} cannot be refunded.", capture.status),
            ));
        }
        let left = capture.amount_minor - capture.refunded_minor;
        let amount = match body.get("amount") {
            None | Some(Value::Null) => left,
            Some(a) => {
                let (c, minor) = parse_amount(a, "/amount")?;
                if c != currency {
                    return Err(PaypalError::unprocessable(
                        "REFUND_CURRENCY_MISMATCH",
                        "Refund must be in the same currency as the capture.",
                    ));
                }
                minor
            }
        };
        if amount > left {
            return Err(PaypalError::unprocessable(
                "REFUND_AMOUNT_EXCEEDED",
                "The refund amount must be less than or equal to the capture amount that has \
                 not yet been refunded.",
            ));
        }
        capture.refunded_minor += amount;
        capture.status = if capture.refunded_minor == capture.amount_minor {
            "REFUNDED"
        } else {
            "PARTIALLY_REFUNDED"
        };
        order.updated_ms = now_ms;
        let refund = Refund {
            id: paypal_id(),
            capture: capture_id.to_string(),
            order: order_id,
            currency,
            amount_minor: amount,
            created_ms: now_ms,
        };
        let rendered = render_refund(&refund);
        self.refunds.insert(refund.id.clone(), refund);
        Ok(rendered)
    }

    /// `GET /v2/payments/captures/{id}`: the capture with its order in `related_ids`.
    pub fn get_capture(&self, id: &str) -> Result<Value, PaypalError> {
        let not_found = || PaypalError::not_found("capture", id);
        let order = self
            .captures
            .get(id)
            .and_then(|o| self.orders.get(o))
            .ok_or_else(not_found)?;
        let c = order
            .captures
            .iter()
            .find(|c| c.id == id)
            .ok_or_else(not_found)?;
        let mut v = json!({
            "id": c.id,
            "status": c.status,
            "amount": format_amount(order.currency, c.amount_minor),
            "final_capture": true,
            "create_time": rfc3339(c.created_ms),
            "update_time": rfc3339(order.updated_ms),
            "supplementary_data": { "related_ids": { "order_id": order.id } },
            "links": [
                { "href": format!("/v2/payments/captures/{}", c.id), "rel": "self", "method": "GET" },
                { "href": format!("/v2/checkout/orders/{}", order.id), "rel": "up", "method": "GET" },
            ],
        });
        if let Some(reason) = c.reason {
            v["status_details"] = json!({ "reason": reason });
        }
        for (k, val) in [
            ("invoice_id", &order.invoice_id),
            ("custom_id", &order.custom_id),
        ] {
            if let Some(val) = val {
                v[k] = json!(val);
            }
        }
        Ok(v)
    }

    pub fn get_refund(&self, id: &str) -> Result<Value, PaypalError> {
        self.refunds
            .get(id)
            .map(render_refund)
            .ok_or_else(|| PaypalError::not_found("refund", id))
    }

    // ---- Ledger -------------------------------------------------------------------------------

    /// Ground truth for tests: every order with its captures, the captured amount per
    /// `invoice_id` (must never exceed one payment), tokens issued and request-id usage.
    pub fn ledger(&self) -> Value {
        let mut per_invoice: BTreeMap<String, u32> = BTreeMap::new();
        let orders: Vec<Value> = self
            .orders
            .values()
            .map(|o| {
                let captured = o
                    .captures
                    .iter()
                    .filter(|c| c.status != "DECLINED" && c.status != "FAILED")
                    .count() as u32;
                if let Some(inv) = &o.invoice_id {
                    *per_invoice.entry(inv.clone()).or_default() += captured;
                }
                json!({
                    "id": o.id,
                    "status": o.status,
                    "invoice_id": o.invoice_id,
                    "custom_id": o.custom_id,
                    "reference_id": o.reference_id,
                    "amount_minor": o.amount_minor,
                    "currency": o.currency.code(),
                    "captures": o.captures.iter().map(|c| json!({
                        "id": c.id, "status": c.status, "amount_minor": c.amount_minor,
                        "refunded_minor": c.refunded_minor,
                    })).collect::<Vec<_>>(),
                    "declined_attempts": o.declined,
                })
            })
            .collect();
        json!({
            "settings": self.settings,
            "tokens_issued": self.tokens_issued,
            "orders": orders,
            "captures_per_invoice": per_invoice,
            "request_ids": self.usage,
        })
    }
}

/// `payment_source.card.vault_id` or `payment_source.paypal.vault_id`: (kind, vault id).
fn source(source: &Value) -> Result<(String, String), PaypalError> {
    for kind in ["card", "paypal"] {
        if let Some(vault) = source[kind]["vault_id"].as_str() {
            if vault.is_empty()
                || vault.len() > 255
                || !vault
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            {
                return Err(PaypalError::invalid(
                    &format!("/payment_source/{kind}/vault_id"),
                    "INVALID_PARAMETER_SYNTAX",
                    "vault_id must match ^[0-9a-zA-Z_-]+$.",
                ));
            }
            check_stored_credential(kind, &source[kind]["stored_credential"])?;
            return Ok((kind.to_string(), vault.to_string()));
        }
    }
    Err(PaypalError::invalid(
        "/payment_source",
        "MISSING_REQUIRED_PARAMETER",
        "The sandbox charges vaulted sources only: payment_source.card.vault_id or \
         payment_source.paypal.vault_id is required.",
    ))
}

/// `stored_credential`, when given, in the shape PayPal documents for the source: the card's
/// (`payment_initiator`, `payment_type`, `usage`, `previous_network_transaction_reference`) or
/// the wallet's (`payment_initiator`, `usage_pattern`, `charge_pattern`, `usage`).
fn check_stored_credential(kind: &str, credential: &Value) -> Result<(), PaypalError> {
    let Some(fields) = credential.as_object() else {
        return match credential {
            Value::Null => Ok(()),
            _ => Err(PaypalError::invalid(
                &format!("/payment_source/{kind}/stored_credential"),
                "INVALID_PARAMETER_SYNTAX",
                "stored_credential must be an object.",
            )),
        };
    };
    let allowed: &[&str] = if kind == "card" {
        &[
            "payment_initiator",
            "payment_type",
            "usage",
            "previous_network_transaction_reference",
        ]
    } else {
        &[
            "payment_initiator",
            "usage_pattern",
            "charge_pattern",
            "usage",
        ]
    };
    if let Some(unknown) = fields.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(PaypalError::invalid(
            &format!("/payment_source/{kind}/stored_credential/{unknown}"),
            "INVALID_PARAMETER",
            format!("{unknown} is not a field of a {kind} stored_credential."),
        ));
    }
    match fields.get("payment_initiator").and_then(Value::as_str) {
        Some("MERCHANT" | "CUSTOMER") => Ok(()),
        _ => Err(PaypalError::invalid(
            &format!("/payment_source/{kind}/stored_credential/payment_initiator"),
            "MISSING_REQUIRED_PARAMETER",
            "payment_initiator (CUSTOMER or MERCHANT) is required.",
        )),
    }
}

fn render_refund(r: &Refund) -> Value {
    json!({
        "id": r.id,
        "status": "COMPLETED",
        "amount": format_amount(r.currency, r.amount_minor),
        "create_time": rfc3339(r.created_ms),
        "update_time": rfc3339(r.created_ms),
        "links": [
            { "href": format!("/v2/payments/refunds/{}", r.id), "rel": "self", "method": "GET" },
            { "href": format!("/v2/payments/captures/{}", r.capture), "rel": "up", "method": "GET" },
        ],
        "supplementary_data": { "related_ids": { "order_id": r.order, "capture_id": r.capture } },
    })
}

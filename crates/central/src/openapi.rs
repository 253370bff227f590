//! The OpenAPI 3.1 document of the whole API, written out by hand next to the routes.
//!
//! Hand-written rather than derived so the protocol crate stays free of a documentation
//! dependency; tests keep it honest: every route in [`crate::http::ROUTES`] must appear with its
//! method, every schema's properties must match what the protocol types serialize, and the
//! checked-in `crates/central/openapi.json` must equal what the server serves. Deliberately
//! absent: examples and prose beyond one line per operation.

use serde_json::{json, Map, Value};

mod customer;
mod journal;
mod manager;
mod saved_methods;
mod settings;

/// A JSON object schema. Requests refuse unknown fields, so theirs say so.
fn object(required: &[&str], properties: Value, closed: bool) -> Value {
    let mut schema = json!({ "type": "object", "required": required, "properties": properties });
    if closed {
        schema["additionalProperties"] = json!(false);
    }
    schema
}

fn reference(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn nullable(schema: Value) -> Value {
    json!({ "oneOf": [schema, { "type": "null" }] })
}

fn array(items: Value) -> Value {
    json!({ "type": "array", "items": items })
}

fn string() -> Value {
    json!({ "type": "string" })
}

fn id(description: &str) -> Value {
    json!({ "type": "string", "pattern": "^[A-Za-z0-9._:-]{1,64}$", "description": description })
}

fn int64() -> Value {
    json!({ "type": "integer", "format": "int64" })
}

fn timestamp() -> Value {
    json!({ "type": "integer", "format": "int64", "description": "milliseconds since the Unix epoch (UTC)" })
}

fn pin() -> Value {
    json!({ "type": "string", "pattern": "^[0-9]{4,12}$" })
}

fn positive() -> Value {
    json!({ "type": "integer", "minimum": 1 })
}

fn schemas() -> Value {
    let intent =
        json!({ "type": "string", "maxLength": 128, "description": "gateway intent id (pi_…)" });
    let mut all = json!({
        "Error": object(&["error"], json!({ "error": reference("ErrorDetail") }), false),
        "ErrorDetail": object(&["code", "message"], json!({
            "code": string(), "message": string(), "holder": reference("ClaimHolder"),
            "earlier": reference("EarlierAttempt"), "reattempt": reference("ReattemptDetail") }), false),
        "GuardKind": { "type": "string", "enum": ["held", "paid", "outcome_unknown", "similar_payment"] },
        "EarlierAttempt": object(&["kind", "order_id", "operator_id", "terminal_id", "at",
                                   "attempt_number", "intent_id", "amount", "status"], json!({
            "kind": reference("GuardKind"), "order_id": id("order"),
            "operator_id": nullable(id("operator")), "terminal_id": nullable(id("terminal")),
            "at": timestamp(), "attempt_number": nullable(positive()),
            "intent_id": nullable(intent.clone()), "amount": nullable(reference("Money")),
            "status": string() }), false),
        "ReattemptDetail": object(&["payment_method_id", "network", "reason", "code",
                                    "declines_in_window", "limit", "window_ms", "retry_at"], json!({
            "payment_method_id": string(),
            "network": { "type": "string", "enum": ["visa", "mastercard", "unknown"] },
            "reason": { "type": "string", "enum": ["do_not_retry", "limit_reached"] },
            "code": nullable(string()), "declines_in_window": nullable(int64()),
            "limit": nullable(int64()), "window_ms": nullable(int64()),
            "retry_at": nullable(timestamp()) }), false),
        "DeclineReport": object(&["attempt_id", "attempt_number", "occurred_at"], json!({
            "attempt_id": { "type": "string", "format": "uuid" }, "attempt_number": positive(),
            "intent_id": nullable(intent.clone()),
            "decline_code": nullable(json!({ "type": "string", "pattern": "^[A-Za-z0-9_.-]{1,64}$" })),
            "advice_code": nullable(json!({ "type": "string", "pattern": "^[A-Za-z0-9_.-]{1,64}$" })),
            "card_brand": nullable(json!({ "type": "string", "pattern": "^[A-Za-z0-9_.-]{1,64}$" })),
            "occurred_at": timestamp() }), true),
        "DeclineReceipt": object(&["recorded", "retry", "message"], json!({
            "recorded": { "type": "boolean" }, "retry": nullable(reference("ReattemptDetail")),
            "message": string() }), false),
        "Money": object(&["minor", "currency"], json!({
            "minor": { "type": "integer", "format": "int64", "minimum": 0,
                       "maximum": paydesk_core::money::AMOUNT_MINOR_MAX,
                       "description": "integer minor units (cents; yen for JPY)" },
            "currency": { "type": "string", "pattern": "^[A-Z]{3}$", "description": "ISO 4217 code" } }), true),
        "OrderStatus": { "type": "string", "enum": ["unpaid", "paid", "failed", "needs_action", "needs_review"] },
        "ResultOutcome": { "type": "string", "enum": ["succeeded", "declined", "requires_action", "canceled", "needs_review"] },
        "ItemStatus": { "type": "string", "enum": ["applied", "duplicate", "rejected", "flagged"] },
        "Role": { "type": "string", "enum": ["operator", "manager"] },
        "GatewayName": { "type": "string", "enum": ["stripe", "paypal"],
                         "description": "the gateway that charges an order (stripe when absent on import)" },
        "ClaimHolder": object(&["operator_id", "terminal_id", "since", "lease_until"], json!({
            "operator_id": id("operator"), "terminal_id": id("terminal"),
            "since": timestamp(), "lease_until": timestamp() }), false),
        "ImportOrder": object(&["order_id", "amount", "customer_id", "payment_method_id"], json!({
            "order_id": id("external order id"), "amount": reference("Money"),
            "customer_id": string(), "payment_method_id": string(),
            "description": { "type": "string", "maxLength": paydesk_protocol::DESCRIPTION_LEN_MAX },
            "gateway": reference("GatewayName") }), true),
        "ImportOrdersRequest": object(&["orders"], json!({
            "orders": array(reference("ImportOrder")) }), true),
        "ImportOrdersResponse": object(&["created", "unchanged", "conflicting"], json!({
            "created": int64(), "unchanged": int64(), "conflicting": array(id("order")) }), false),
        "Order": object(&["order_id", "amount", "customer_id", "payment_method_id", "description",
                          "status", "claim", "paid_intent_id", "refunded_minor", "disputed",
                          "created_at", "updated_at", "attempt_seq", "gateway"], json!({
            "order_id": id("order"), "amount": reference("Money"), "customer_id": string(),
            "payment_method_id": string(), "description": string(), "status": reference("OrderStatus"),
            "claim": nullable(reference("ClaimHolder")), "paid_intent_id": nullable(intent.clone()),
            "refunded_minor": int64(), "disputed": { "type": "boolean" },
            "created_at": timestamp(), "updated_at": timestamp(),
            "attempt_seq": { "type": "integer", "format": "int64", "minimum": 0 },
            "gateway": reference("GatewayName"),
            "paid_minor": { "type": "integer", "format": "int64", "minimum": 0, "description": "what the order's counted successes add up to (installments); the balance due is amount.minor - paid_minor; 0 < paid_minor < amount: partly paid, still in the queue" } }), false),
        "OrderPage": object(&["orders", "next_after"], json!({
            "orders": array(reference("Order")), "next_after": nullable(id("order")) }), false),
        "PaymentRecord": object(&["attempt_id", "attempt_number", "claim_token", "terminal_id", "outcome",
                                  "amount", "intent_id", "offline", "occurred_at", "received_at",
                                  "status", "reason"], json!({
            "attempt_id": { "type": "string", "format": "uuid" }, "attempt_number": positive(),
            "claim_token": positive(), "terminal_id": id("terminal"), "outcome": reference("ResultOutcome"),
            "amount": reference("Money"), "intent_id": nullable(intent.clone()), "offline": { "type": "boolean" },
            "occurred_at": timestamp(), "received_at": timestamp(), "status": reference("ItemStatus"),
            "reason": nullable(string()),
            "installment": { "type": "integer", "minimum": 1, "description": "which payment of the order (1 before installments)" } }), false),
        "IntentRecord": object(&["intent_id", "attempt_number", "claim_token", "terminal_id",
                                 "registered_at", "state"], json!({
            "intent_id": intent.clone(), "attempt_number": positive(), "claim_token": positive(),
            "terminal_id": id("terminal"), "registered_at": timestamp(), "state": string() }), false),
        "OrderDetail": object(&["order", "results", "intents"], json!({
            "order": reference("Order"), "results": array(reference("PaymentRecord")),
            "intents": array(reference("IntentRecord")) }), false),
        "ClaimRequest": object(&["operator_id"], json!({ "operator_id": id("operator"),
            "confirm_similar": { "type": "boolean", "description": "the operator confirmed this is not a duplicate of a recent payment of the same customer and amount (answer to similar_payment)" },
            "amount": { "allOf": [reference("Money")], "description": "what this payment charges; absent: the balance due. Another amount needs the charge_other_amount permission and a reason; 422 invalid_amount when zero, in another currency or above the balance due" },
            "reason": { "type": "string", "maxLength": 500, "description": "why an amount other than the balance due is charged (audited)" } }), true),
        "OrderSnapshot": object(&["amount", "status", "customer_id", "payment_method_id"], json!({
            "amount": reference("Money"), "status": reference("OrderStatus"),
            "customer_id": string(), "payment_method_id": string(),
            "paid_minor": { "type": "integer", "format": "int64", "minimum": 0 } }), false),
        "Claim": object(&["order_id", "claim_token", "attempt_number", "operator_id", "terminal_id",
                          "claimed_at", "lease_until", "order", "open_intent_id"], json!({
            "order_id": id("order"), "claim_token": positive(), "attempt_number": positive(),
            "operator_id": id("operator"), "terminal_id": id("terminal"), "claimed_at": timestamp(),
            "lease_until": timestamp(), "order": reference("OrderSnapshot"),
            "open_intent_id": nullable(intent.clone()),
            "installment": { "type": "integer", "minimum": 1, "description": "which payment of the order this claim's attempt is: one more than the successes counted" },
            "amount": { "allOf": [reference("Money")], "description": "what the central granted this attempt to charge: the amount asked for, or the balance due" } }), false),
        "ClaimTokenRequest": object(&["claim_token"], json!({ "claim_token": positive() }), true),
        "RenewResponse": object(&["claim_token", "lease_until"], json!({
            "claim_token": positive(), "lease_until": timestamp() }), false),
        "ReleaseResponse": object(&["released"], json!({ "released": { "type": "boolean" } }), false),
        "RegisterIntentRequest": object(&["claim_token", "attempt_number", "intent_id"], json!({
            "claim_token": positive(), "attempt_number": positive(), "intent_id": intent.clone() }), true),
        "RegisterIntentResponse": object(&["intent_id", "newly_registered"], json!({
            "intent_id": intent.clone(), "newly_registered": { "type": "boolean" } }), false),
        "ResultItem": object(&["attempt_id", "order_id", "attempt_number", "claim_token", "outcome",
                               "amount", "intent_id", "offline", "occurred_at"], json!({
            "attempt_id": { "type": "string", "format": "uuid", "description": "UUID v7" },
            "order_id": id("order"), "attempt_number": positive(), "claim_token": positive(),
            "outcome": reference("ResultOutcome"), "amount": reference("Money"),
            "intent_id": nullable(intent.clone()), "offline": { "type": "boolean" },
            "occurred_at": timestamp(),
            "installment": { "type": "integer", "minimum": 1, "description": "which payment of the order (absent: the first)" } }), true),
        "JournalHead": object(&["seq", "hash"], json!({
            "seq": { "type": "integer", "minimum": 0 },
            "hash": { "type": "string", "pattern": "^[0-9a-f]{64}$" } }), true),
        "ResultBatch": object(&["journal_head", "results"], json!({
            "journal_head": reference("JournalHead"),
            "results": { "type": "array", "items": reference("ResultItem"),
                         "maxItems": paydesk_protocol::RESULT_BATCH_ROWS_MAX } }), true),
        "ItemReceipt": object(&["attempt_id", "status", "reason"], json!({
            "attempt_id": { "type": "string", "format": "uuid" }, "status": reference("ItemStatus"),
            "reason": nullable(string()) }), false),
        "JournalReceipt": object(&["flagged", "reason"], json!({
            "flagged": { "type": "boolean" }, "reason": nullable(string()) }), false),
        "ResultBatchResponse": object(&["items", "journal"], json!({
            "items": array(reference("ItemReceipt")), "journal": reference("JournalReceipt") }), false),
        "OperatorRecord": object(&["operator_id", "role"], json!({
            "operator_id": id("operator"), "role": reference("Role") }), false),
        "OperatorList": object(&["operators"], json!({ "operators": array(reference("OperatorRecord")) }), false),
        "CreateTerminalRequest": object(&["terminal_id"], json!({ "terminal_id": id("terminal") }), true),
        "CreateTerminalResponse": object(&["terminal_id", "token"], json!({
            "terminal_id": id("terminal"), "token": { "type": "string", "description": "shown once" } }), false),
        "CreateOperatorRequest": object(&["operator_id", "role", "pin"], json!({
            "operator_id": id("operator"), "role": reference("Role"),
            "pin": { "type": "string", "pattern": "^[0-9]{6,12}$",
                     "description": "at least 6 digits for an operator, 8 for a manager" } }), true),
        "Health": object(&["status", "database"], json!({ "status": string(), "database": string() }), false),
        "UnresolvedItem": object(&["order_id", "claim_token", "intent_id", "reason", "since"], json!({
            "order_id": id("order"), "claim_token": positive(), "intent_id": nullable(intent.clone()),
            "reason": string(), "since": timestamp() }), false),
        "UnresolvedList": object(&["items"], json!({ "items": array(reference("UnresolvedItem")) }), false),
        "FlagRecord": object(&["order_id", "source", "reason", "at"], json!({
            "flag_id": { "type": "integer", "format": "int64", "description": "newest first; pages by it" },
            "order_id": nullable(id("order")), "source": string(), "reason": string(), "at": timestamp() }), false),
        "FlagList": object(&["flags"], json!({ "flags": array(reference("FlagRecord")),
            "next_after": nullable(json!({ "type": "integer", "format": "int64",
                "description": "pass as `after` for the next (older) page; null on the last" })) }), false),
        "ReconcileEntry": object(&["order_id", "intent_id", "detail"], json!({
            "order_id": nullable(id("order")), "intent_id": nullable(intent), "detail": string() }), false),
        "ReconcileReport": object(&["from", "to", "charged_not_recorded", "recorded_not_charged",
                                    "amount_mismatch", "multiple_successes"], json!({
            "from": timestamp(), "to": timestamp(),
            "charged_not_recorded": array(reference("ReconcileEntry")),
            "recorded_not_charged": array(reference("ReconcileEntry")),
            "amount_mismatch": array(reference("ReconcileEntry")),
            "multiple_successes": array(reference("ReconcileEntry")) }), false),
        "AuditEntry": object(&["at", "at_ms", "kind", "outcome", "operator_id", "terminal_id",
                               "approver", "order_id", "amount_minor", "currency", "detail", "source"], json!({
            "at": { "type": "string", "description": "RFC 3339, UTC" }, "at_ms": timestamp(),
            "kind": { "type": "string", "description": "pin_wrong, locked, forbidden, signed_in, claim_claimed, stale_token, result_succeeded, allowance_granted, day_signed_off, ..." },
            "outcome": { "type": "string", "enum": ["done", "refused"] },
            "operator_id": nullable(string()), "terminal_id": nullable(string()),
            "approver": nullable(string()), "order_id": nullable(string()),
            "amount_minor": nullable(int64()), "currency": nullable(string()),
            "detail": string(), "source": string() }), false),
        "AuditPage": object(&["entries", "next_cursor"], json!({
            "entries": array(reference("AuditEntry")),
            "next_cursor": nullable(json!({ "type": "string",
                "description": "pass as `cursor` for the next (older) page; null on the last" })) }), false),
        "DayCloseTotal": object(&["operator_id", "terminal_id", "currency", "outcome", "count", "sum_minor"], json!({
            "operator_id": nullable(string()), "terminal_id": string(), "currency": string(),
            "outcome": { "type": "string", "description": "the result's outcome, or refused" },
            "count": int64(), "sum_minor": int64() }), false),
        "DayCloseDifference": object(&["kind", "order_id", "intent_id", "detail"], json!({
            "kind": { "type": "string", "enum": ["gateway_success_not_paid", "paid_without_gateway_success",
                                                  "amount_differs", "multiple_successes"] },
            "order_id": nullable(string()), "intent_id": nullable(string()), "detail": string(),
            "gateway": nullable(json!({ "type": "string", "enum": ["stripe", "paypal"],
                "description": "the gateway the order names; null when the central does not hold the order" })) }), false),
        "DayCloseGatewayTotal": object(&["gateway", "currency", "outcome", "count", "sum_minor"], json!({
            "gateway": { "type": "string", "enum": ["stripe", "paypal", "unknown"] }, "currency": string(),
            "outcome": { "type": "string", "description": "the result's outcome, or refused" },
            "count": int64(), "sum_minor": int64() }), false),
        "DaySignOff": object(&["day", "signed_by", "terminal_id", "signed_at", "totals_digest", "note"], json!({
            "day": string(), "signed_by": string(), "terminal_id": string(),
            "signed_at": { "type": "string", "description": "RFC 3339, UTC" },
            "totals_digest": string(), "note": nullable(string()) }), false),
        "DayCloseReport": object(&["day", "timezone", "from", "to", "operator", "totals", "totals_digest",
                                   "gateway_checked", "differences", "sign_off"], json!({
            "day": string(), "timezone": { "type": "string", "enum": ["UTC"] },
            "from": string(), "to": string(), "operator": nullable(string()),
            "totals": array(reference("DayCloseTotal")), "totals_digest": string(),
            "gateway_totals": array(reference("DayCloseGatewayTotal")),
            "gateway_checked": { "type": "boolean" },
            "differences": array(reference("DayCloseDifference")),
            "sign_off": nullable(reference("DaySignOff")) }), false),
        "DaySignOffRequest": object(&["pin"], json!({
            "pin": pin(), "note": nullable(json!({ "type": "string", "maxLength": 500 })) }), true),
        "SignInRequest": object(&["operator_id", "pin"], json!({
            "operator_id": id("operator"), "pin": pin() }), true),
        "SessionGrant": object(&["session_token", "session_id", "operator_id", "role", "terminal_id",
                                 "expires_at", "idle_ms"], json!({
            "session_token": { "type": "string", "description": "pds_…; send it in x-paydesk-session; shown once" },
            "session_id": string(), "operator_id": id("operator"), "role": reference("Role"),
            "terminal_id": id("terminal"), "expires_at": timestamp(), "idle_ms": int64() }), false),
        "PinCheckRequest": object(&["pin"], json!({ "pin": pin() }), true),
        "AllowanceRequest": object(&["pin", "per_charge_max", "per_shift_max", "duration_ms",
                                     "cache_age_ms_max"], json!({
            "pin": pin(), "per_charge_max": reference("Money"), "per_shift_max": reference("Money"),
            "duration_ms": { "type": "integer", "minimum": 1, "maximum": paydesk_protocol::OFFLINE_ALLOWANCE_MS_MAX },
            "cache_age_ms_max": { "type": "integer", "minimum": 1, "maximum": paydesk_protocol::OFFLINE_ALLOWANCE_MS_MAX } }), true),
        "AllowanceGrant": object(&["grant_id", "terminal_id", "approved_by", "per_charge_max",
                                   "per_shift_max", "cache_age_ms_max", "granted_at", "until"], json!({
            "grant_id": string(), "terminal_id": id("terminal"), "approved_by": id("manager"),
            "per_charge_max": reference("Money"), "per_shift_max": reference("Money"),
            "cache_age_ms_max": int64(), "granted_at": timestamp(), "until": timestamp() }), true),
        "SignedAllowance": object(&["grant", "signature"], json!({
            "grant": reference("AllowanceGrant"),
            "signature": { "type": "string", "pattern": "^[0-9a-f]{128}$",
                           "description": "Ed25519 over \"paydesk-offline-allowance-v1\\n\" + the grant's JSON" } }), true),
        "AllowanceKey": object(&["public_key"], json!({
            "public_key": { "type": "string", "pattern": "^[0-9a-f]{64}$", "description": "Ed25519, hex" } }), false),
        "TerminalRecord": object(&["terminal_id", "token_id", "created_at", "revoked_at", "last_seen_at"], json!({
            "terminal_id": id("terminal"), "token_id": string(), "created_at": timestamp(),
            "revoked_at": nullable(timestamp()), "last_seen_at": nullable(timestamp()) }), false),
        "TerminalList": object(&["terminals"], json!({ "terminals": array(reference("TerminalRecord")) }), false),
        "RotateTerminalResponse": object(&["terminal_id", "token_id", "token"], json!({
            "terminal_id": id("terminal"), "token_id": string(),
            "token": { "type": "string", "description": "the new token, shown once" } }), false),
        "ReversalRequest": object(&["reversal_key", "reason", "pin"], json!({
            "reversal_key": { "type": "string", "pattern": "^[A-Za-z0-9._:-]{1,64}$",
                              "description": "client-chosen idempotency key (a UUID)" },
            "amount": nullable(reference("Money")),
            "reason": { "type": "string", "minLength": 1, "maxLength": 500 },
            "pin": pin(),
            "approval_id": nullable(string()) }), true),
        "Reversal": object(&["reversal_id", "reversal_key", "order_id", "intent_id", "kind",
                             "requested_minor", "amount_minor", "currency", "reason",
                             "requested_by", "approved_by", "approval_id", "terminal_id",
                             "session_id", "gateway_key", "gateway_id", "state", "failure",
                             "created_at", "updated_at"], json!({
            "reversal_id": string(), "reversal_key": string(), "order_id": id("order"),
            "intent_id": string(), "kind": { "type": "string", "enum": ["cancel", "refund"] },
            "requested_minor": nullable(int64()), "amount_minor": int64(),
            "currency": string(), "reason": string(), "requested_by": id("manager"),
            "approved_by": nullable(id("manager")), "approval_id": nullable(string()),
            "terminal_id": id("terminal"), "session_id": string(), "gateway_key": string(),
            "gateway_id": nullable(string()),
            "state": { "type": "string", "enum": ["pending", "succeeded", "failed"] },
            "failure": nullable(string()), "created_at": timestamp(), "updated_at": timestamp() }), false),
        "ReversalList": object(&["items"], json!({ "items": array(reference("Reversal")) }), false),
        "ApprovalRequest": object(&["action", "order_id", "amount", "pin"], json!({
            "action": { "type": "string", "enum": ["reversal"] }, "order_id": id("order"),
            "amount": reference("Money"), "pin": pin() }), true),
        "Approval": object(&["approval_id", "action", "order_id", "amount", "approved_by",
                             "expires_at"], json!({
            "approval_id": string(), "action": string(), "order_id": id("order"),
            "amount": reference("Money"), "approved_by": id("manager"), "expires_at": timestamp() }), false),
        "WebhookAck": object(&["received", "duplicate"], json!({
            "received": { "type": "boolean" }, "duplicate": { "type": "boolean" } }), false),
    });
    all.as_object_mut()
        .expect("an object")
        .extend(settings::schemas());
    all.as_object_mut()
        .expect("an object")
        .extend(customer::schemas());
    all.as_object_mut()
        .expect("an object")
        .extend(manager::schemas());
    all.as_object_mut()
        .expect("an object")
        .extend(journal::schemas());
    all.as_object_mut()
        .expect("an object")
        .extend(saved_methods::schemas());
    saved_methods::extend(&mut all);
    all
}

/// One operation: summary, security, request body schema, success status and schema, and the
/// error statuses it may answer.
struct Op {
    method: &'static str,
    path: &'static str,
    summary: &'static str,
    security: &'static [&'static str],
    request: Option<&'static str>,
    success: (&'static str, Option<&'static str>),
    errors: &'static [&'static str],
    parameters: Value,
}

fn terminal_id_param() -> Value {
    json!([{ "name": "terminal_id", "in": "path", "required": true, "schema": id("terminal") }])
}

fn order_id_param() -> Value {
    json!([{ "name": "order_id", "in": "path", "required": true, "schema": id("order") }])
}

fn operations() -> Vec<Op> {
    const T: &[&str] = &["terminal"];
    const A: &[&str] = &["admin"];
    const TA: &[&str] = &["terminal", "admin"];
    // A person signed in at a terminal: the terminal's token and the session, both.
    const S: &[&str] = &["terminal+session"];
    // A manager's session (the role is checked, an operator's session is 403) or the admin token.
    const MA: &[&str] = &["terminal+session", "admin"];
    let none = json!([]);
    vec![
        Op {
            method: "get",
            path: "/health",
            summary: "Liveness and database reachability",
            security: &[],
            request: None,
            success: ("200", Some("Health")),
            errors: &["503"],
            parameters: none.clone(),
        },
        Op {
            method: "get",
            path: "/openapi.json",
            summary: "This document",
            security: &[],
            request: None,
            success: ("200", None),
            errors: &[],
            parameters: none.clone(),
        },
        Op {
            method: "post",
            path: "/v1/admin/terminals",
            summary: "Register a terminal; the answer carries its token, shown once",
            security: A,
            request: Some("CreateTerminalRequest"),
            success: ("201", Some("CreateTerminalResponse")),
            errors: &["400", "401", "409", "413", "415"],
            parameters: none.clone(),
        },
        Op {
            method: "get",
            path: "/v1/admin/terminals",
            summary: "Every terminal with its token id, revocation and last use; no secrets",
            security: A,
            request: None,
            success: ("200", Some("TerminalList")),
            errors: &["401"],
            parameters: none.clone(),
        },
        Op {
            method: "post",
            path: "/v1/admin/terminals/{terminal_id}/revoke",
            summary: "Revoke a terminal's token (refused within seconds everywhere) and end its sessions",
            security: A,
            request: None,
            success: ("204", None),
            errors: &["400", "401", "404"],
            parameters: terminal_id_param(),
        },
        Op {
            method: "post",
            path: "/v1/admin/terminals/{terminal_id}/rotate",
            summary: "Give a terminal a new token (shown once); the old one stops working and its sessions end",
            security: A,
            request: None,
            success: ("200", Some("RotateTerminalResponse")),
            errors: &["400", "401", "404"],
            parameters: terminal_id_param(),
        },
        Op {
            method: "post",
            path: "/v1/sessions",
            summary: "Sign a person in at this terminal with their PIN (5 wrong PINs lock the operator, backing off; 429 locked or rate_limited with Retry-After)",
            security: T,
            request: Some("SignInRequest"),
            success: ("201", Some("SessionGrant")),
            errors: &["400", "401", "413", "415", "429"],
            parameters: none.clone(),
        },
        Op {
            method: "delete",
            path: "/v1/sessions/current",
            summary: "Sign out: end the session sent in x-paydesk-session",
            security: S,
            request: None,
            success: ("204", None),
            errors: &["401"],
            parameters: none.clone(),
        },
        Op {
            method: "post",
            path: "/v1/sessions/check",
            summary: "Check the signed-in person's PIN again (counts toward the lockout)",
            security: S,
            request: Some("PinCheckRequest"),
            success: ("204", None),
            errors: &["400", "401", "413", "415", "429"],
            parameters: none.clone(),
        },
        Op {
            method: "post",
            path: "/v1/offline-allowances",
            summary: "A manager (session and PIN again) allows this terminal to charge offline within caps until a time; signed with Ed25519",
            security: S,
            request: Some("AllowanceRequest"),
            success: ("201", Some("SignedAllowance")),
            errors: &["400", "401", "403", "413", "415", "429"],
            parameters: none.clone(),
        },
        Op {
            method: "get",
            path: "/v1/allowance-key",
            summary: "The public key that signs offline allowances, for the terminal to pin",
            security: T,
            request: None,
            success: ("200", Some("AllowanceKey")),
            errors: &["401"],
            parameters: none.clone(),
        },
        Op {
            method: "post",
            path: "/v1/admin/operators",
            summary: "Add or replace an operator or manager (PIN hashed with argon2id)",
            security: A,
            request: Some("CreateOperatorRequest"),
            success: ("204", None),
            errors: &["400", "401", "413", "415"],
            parameters: none.clone(),
        },
        Op {
            method: "post",
            path: "/v1/orders/import",
            summary: "Import orders (application/json or text/csv), idempotent on the order id; results rejected earlier because an imported order did not exist are applied to it",
            security: A,
            request: Some("ImportOrdersRequest"),
            success: ("200", Some("ImportOrdersResponse")),
            errors: &["400", "401", "413", "415"],
            parameters: none.clone(),
        },
        Op {
            method: "get",
            path: "/v1/orders",
            summary: "A page of orders in one status (default unpaid), with search",
            security: TA,
            request: None,
            success: ("200", Some("OrderPage")),
            errors: &["400", "401"],
            parameters: json!([
                 { "name": "status", "in": "query", "schema": reference("OrderStatus") },
                 { "name": "q", "in": "query", "schema": { "type": "string", "maxLength": 100 } },
                 { "name": "after", "in": "query", "schema": id("order id of the previous page's last order") },
                 { "name": "limit", "in": "query", "schema": { "type": "integer", "minimum": 1, "maximum": paydesk_protocol::PAGE_ROWS_MAX } }]),
        },
        Op {
            method: "get",
            path: "/v1/orders/{order_id}",
            summary: "One order with its results and intents",
            security: TA,
            request: None,
            success: ("200", Some("OrderDetail")),
            errors: &["400", "401", "404"],
            parameters: order_id_param(),
        },
        Op {
            method: "post",
            path: "/v1/orders/{order_id}/claim",
            summary: "Claim the order's processing flag for the person signed in (their session; a body naming anyone else is 403; 409 claim_held names the holder; a refusal for a held, paid or unknown order names the earlier attempt in error.earlier; 409 similar_payment for a recent payment of the same customer and amount unless confirm_similar; 409 reattempt_refused when the card networks' retry rules forbid the card now; installments: the claim grants `amount` (default: the balance due) only up to the balance due, 422 invalid_amount otherwise, and another amount than the balance needs the charge_other_amount permission (403) and a reason (400))",
            security: S,
            request: Some("ClaimRequest"),
            success: ("201", Some("Claim")),
            errors: &["400", "401", "403", "404", "409", "413", "415", "422"],
            parameters: order_id_param(),
        },
        Op {
            method: "post",
            path: "/v1/orders/{order_id}/claim/renew",
            summary: "Extend the lease of a claim this terminal holds",
            security: T,
            request: Some("ClaimTokenRequest"),
            success: ("200", Some("RenewResponse")),
            errors: &["400", "401", "404", "409"],
            parameters: order_id_param(),
        },
        Op {
            method: "post",
            path: "/v1/orders/{order_id}/claim/release",
            summary: "Release a claim before any intent was registered",
            security: T,
            request: Some("ClaimTokenRequest"),
            success: ("200", Some("ReleaseResponse")),
            errors: &["400", "401", "404", "409"],
            parameters: order_id_param(),
        },
        Op {
            method: "post",
            path: "/v1/orders/{order_id}/intent",
            summary: "Register the gateway intent of the claim's attempt, fenced by the token",
            security: T,
            request: Some("RegisterIntentRequest"),
            success: ("200", Some("RegisterIntentResponse")),
            errors: &["400", "401", "404", "409"],
            parameters: order_id_param(),
        },
        Op {
            method: "post",
            path: "/v1/orders/{order_id}/decline",
            summary: "Report a declined attempt's decline and advice codes and the card's brand (once per attempt); the answer says whether the card may be retried and when",
            security: T,
            request: Some("DeclineReport"),
            success: ("200", Some("DeclineReceipt")),
            errors: &["400", "401", "404", "413", "415"],
            parameters: order_id_param(),
        },
        Op {
            method: "post",
            path: "/v1/results",
            summary: "Deliver a batch of results; each is applied exactly once (an attempt's interim needs_review and its final result are two results; a rejected one is decided again when delivered again). A result no honest terminal sends (under a claim never granted to this terminal, offline without the offline claim token, a success naming no intent) is rejected and not stored; a batch of nothing else is 403 forbidden, nothing written",
            security: T,
            request: Some("ResultBatch"),
            success: ("200", Some("ResultBatchResponse")),
            errors: &["400", "401", "403", "413", "415"],
            parameters: none.clone(),
        },
        Op {
            method: "get",
            path: "/v1/operators",
            summary: "Operators and their roles (ids and roles only)",
            security: TA,
            request: None,
            success: ("200", Some("OperatorList")),
            errors: &["401"],
            parameters: none.clone(),
        },
        Op {
            method: "get",
            path: "/v1/unresolved",
            summary: "Expired claims the sweeper could not resolve (manager or admin)",
            security: MA,
            request: None,
            success: ("200", Some("UnresolvedList")),
            errors: &["401", "403"],
            parameters: none.clone(),
        },
        Op {
            method: "get",
            path: "/v1/flags",
            summary: "Contradictions kept for a manager (results, webhooks, journal heads); manager or admin",
            security: MA,
            request: None,
            success: ("200", Some("FlagList")),
            errors: &["400", "401", "403"],
            parameters: json!([
                 { "name": "after", "in": "query", "schema": int64() },
                 { "name": "limit", "in": "query", "schema": { "type": "integer", "minimum": 1 } },
                 { "name": "order_id", "in": "query", "schema": id("order") },
                 { "name": "source", "in": "query", "schema": string() }]),
        },
        Op {
            method: "get",
            path: "/v1/reconcile",
            summary: "Central records matched against the gateway for a time range (manager or admin; one report per terminal per minute)",
            security: MA,
            request: None,
            success: ("200", Some("ReconcileReport")),
            errors: &["400", "401", "403", "429", "503"],
            parameters: json!([
                 { "name": "from", "in": "query", "required": true, "schema": timestamp() },
                 { "name": "to", "in": "query", "required": true, "schema": timestamp() }]),
        },
        Op {
            method: "get",
            path: "/v1/audit",
            summary: "The audit log, newest first (manager or admin): sign-ins, wrong PINs, lockouts, refusals, claims, stale tokens, results, grants, sign-offs; CSV with Accept: text/csv or format=csv (next page cursor in x-paydesk-next-cursor)",
            security: MA,
            request: None,
            success: ("200", Some("AuditPage")),
            errors: &["400", "401", "403"],
            parameters: json!([
                 { "name": "from", "in": "query", "required": false, "schema": timestamp() },
                 { "name": "to", "in": "query", "required": false, "schema": timestamp() },
                 { "name": "terminal", "in": "query", "required": false, "schema": string() },
                 { "name": "operator", "in": "query", "required": false, "schema": string() },
                 { "name": "kind", "in": "query", "required": false, "schema": string() },
                 { "name": "outcome", "in": "query", "required": false, "schema": { "type": "string", "enum": ["done", "refused"] } },
                 { "name": "cursor", "in": "query", "required": false, "schema": string() },
                 { "name": "limit", "in": "query", "required": false, "schema": { "type": "integer", "minimum": 1, "maximum": 500 } },
                 { "name": "format", "in": "query", "required": false, "schema": { "type": "string", "enum": ["json", "csv"] } }]),
        },
        Op {
            method: "get",
            path: "/v1/day-close",
            summary: "A UTC day's totals per operator, terminal, currency and outcome, the differences with the gateway's intents of the day, and the sign-off (manager or admin; one report per terminal per minute)",
            security: MA,
            request: None,
            success: ("200", Some("DayCloseReport")),
            errors: &["400", "401", "403", "429", "503"],
            parameters: json!([
                 { "name": "day", "in": "query", "required": true, "schema": { "type": "string", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$", "description": "UTC day" } },
                 { "name": "operator", "in": "query", "required": false, "schema": string() }]),
        },
        Op {
            method: "post",
            path: "/v1/day-close/{day}/sign-off",
            summary: "A manager (session and PIN again) signs off a UTC day with the digest of its totals; once per day (409 after)",
            security: S,
            request: Some("DaySignOffRequest"),
            success: ("201", Some("DaySignOff")),
            errors: &["400", "401", "403", "409", "413", "415", "429"],
            parameters: json!([
                 { "name": "day", "in": "path", "required": true, "schema": { "type": "string", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$", "description": "UTC day" } }]),
        },
        Op {
            method: "post",
            path: "/v1/orders/{order_id}/reversals",
            summary: "A manager (session and PIN again) cancels the uncaptured intent or refunds all or part of the paid one, read live at the gateway; idempotent per reversal_key; above the threshold an approval of another manager",
            security: S,
            request: Some("ReversalRequest"),
            success: ("201", Some("Reversal")),
            errors: &["400", "401", "403", "404", "409", "413", "415", "429", "503"],
            parameters: order_id_param(),
        },
        Op {
            method: "get",
            path: "/v1/orders/{order_id}/reversals",
            summary: "The order's reversals (manager or admin); pending ones are re-sent to the gateway under their keys",
            security: MA,
            request: None,
            success: ("200", Some("ReversalList")),
            errors: &["400", "401", "403", "404"],
            parameters: order_id_param(),
        },
        Op {
            method: "post",
            path: "/v1/approvals",
            summary: "A second manager (session and PIN again) approves one reversal of one order for one amount: single use, expires",
            security: S,
            request: Some("ApprovalRequest"),
            success: ("201", Some("Approval")),
            errors: &["400", "401", "403", "404", "413", "415", "429"],
            parameters: none.clone(),
        },
        Op {
            method: "post",
            path: "/webhooks/stripe",
            summary: "Stripe webhook, verified with Stripe-Signature and stored once per event id",
            security: &[],
            request: None,
            success: ("200", Some("WebhookAck")),
            errors: &["400", "413", "503"],
            parameters: json!([{ "name": "Stripe-Signature", "in": "header", "required": true, "schema": string() }]),
        },
        Op {
            method: "post",
            path: "/webhooks/paypal",
            summary: "PayPal webhook, verified offline (RSA-SHA256 over transmission id, time, webhook id and the body's CRC-32, with the configured or PayPal-hosted certificate) and stored once per event id",
            security: &[],
            request: None,
            success: ("200", Some("WebhookAck")),
            errors: &["400", "413", "503"],
            parameters: json!([
                { "name": "PAYPAL-TRANSMISSION-ID", "in": "header", "required": true, "schema": string() },
                { "name": "PAYPAL-TRANSMISSION-TIME", "in": "header", "required": true, "schema": string() },
                { "name": "PAYPAL-TRANSMISSION-SIG", "in": "header", "required": true, "schema": string() },
                { "name": "PAYPAL-AUTH-ALGO", "in": "header", "required": true, "schema": string() },
                { "name": "PAYPAL-CERT-URL", "in": "header", "required": false, "schema": string() }
            ]),
        },
    ]
    .into_iter()
    .chain(settings::operations())
    .chain(customer::operations())
    .chain(manager::operations())
    .chain(journal::operations())
    .chain(saved_methods::operations())
    .collect()
}

fn status_text(status: &str) -> &'static str {
    match status {
        "200" => "OK",
        "201" => "Created",
        "204" => "No content",
        "400" => "The request is invalid; the error says what to change",
        "401" => "Missing or wrong token, or no valid session (session_required, session_expired)",
        "403" => "Authenticated, but this role may not do this",
        "429" => "Too many attempts (locked, rate_limited); see Retry-After",
        "404" => "No such order",
        "409" => "Conflict with the order's state or claim (claim_held, stale_claim_token, …)",
        "413" => "Body too large",
        "422" => "The amount cannot be charged (invalid_amount: zero, another currency, above the balance due)",
        "415" => "Wrong content type",
        "503" => "Unavailable; retry later",
        _ => "Response",
    }
}

/// The document as a JSON value.
pub fn document() -> Value {
    let mut paths = Map::new();
    for op in operations() {
        let mut responses = Map::new();
        let (status, schema) = op.success;
        let mut ok = json!({ "description": status_text(status) });
        if let Some(schema) = schema {
            ok["content"] = json!({ "application/json": { "schema": reference(schema) } });
        } else if op.path == "/openapi.json" {
            ok["content"] = json!({ "application/json": { "schema": { "type": "object" } } });
        }
        responses.insert(status.to_string(), ok);
        for e in op.errors {
            responses.insert(
                e.to_string(),
                json!({ "description": status_text(e),
                        "content": { "application/json": { "schema": reference("Error") } } }),
            );
        }
        let mut operation = json!({
            "summary": op.summary,
            "operationId": format!("{} {}", op.method, op.path),
            "responses": responses,
            "security": op.security.iter().map(|s| {
                let mut requirement = Map::new();
                for scheme in s.split('+') {
                    requirement.insert(scheme.to_string(), json!([]));
                }
                Value::Object(requirement)
            }).collect::<Vec<_>>(),
        });
        if op.parameters.as_array().is_some_and(|p| !p.is_empty()) {
            operation["parameters"] = op.parameters.clone();
        }
        if let Some(request) = op.request {
            let mut content = json!({ "application/json": { "schema": reference(request) } });
            if op.path == "/v1/orders/import" {
                content["text/csv"] = json!({ "schema": { "type": "string",
                    "description": "header: order_id,amount_minor,currency,customer_id,payment_method_id,description[,gateway[,customer_name]]" } });
            }
            operation["requestBody"] = json!({ "required": true, "content": content });
        }
        let entry = paths
            .entry(op.path.to_string())
            .or_insert_with(|| json!({}));
        entry[op.method] = operation;
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Paydesk central",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Orders, processing flags (claims with fencing tokens), exactly-once results, webhooks. Errors are {\"error\": {\"code\", \"message\"}}."
        },
        "paths": paths,
        "components": {
            "schemas": schemas(),
            "securitySchemes": {
                "terminal": { "type": "http", "scheme": "bearer", "description": "a terminal's token" },
                "admin": { "type": "http", "scheme": "bearer", "description": "the admin token (PAYDESK_ADMIN_TOKEN)" },
                "session": { "type": "apiKey", "in": "header", "name": "x-paydesk-session", "description": "a person's session at the terminal (POST /v1/sessions), with the terminal's token" }
            }
        }
    })
}

/// The document as pretty JSON text with a final newline, exactly as served and checked in.
pub fn document_text() -> String {
    let mut text = serde_json::to_string_pretty(&document()).expect("a JSON value serializes");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_documented_and_nothing_else() {
        let doc = document();
        let paths = doc["paths"].as_object().unwrap();
        let mut documented = 0;
        for (method, path) in crate::http::ROUTES {
            assert!(
                paths.get(*path).and_then(|p| p.get(*method)).is_some(),
                "{method} {path} is missing from the OpenAPI document"
            );
        }
        for item in paths.values() {
            documented += item.as_object().unwrap().len();
        }
        assert_eq!(documented, crate::http::ROUTES.len());
    }

    #[test]
    fn every_reference_resolves() {
        let text = document_text();
        let doc = document();
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        for part in text.split("#/components/schemas/").skip(1) {
            let name: String = part.chars().take_while(|c| c.is_alphanumeric()).collect();
            assert!(schemas.contains_key(&name), "unresolved $ref {name}");
        }
    }
}

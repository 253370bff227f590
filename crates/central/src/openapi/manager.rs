//! The OpenAPI part of the manager's desk at the central (issue 11): the exception inbox, an
//! order's evidence, resolutions and acknowledgements — schemas and operations added to the
//! document `crate::openapi` builds (kept apart so the main document stays under the file-size
//! limit).
//!
//! Deliberately absent: anything the shared document already says (Money, Order, OrderDetail,
//! the error shape), which these schemas reference.

use serde_json::{json, Map, Value};

use super::{array, id, int64, nullable, object, pin, reference, string, timestamp, Op};

/// The manager's schemas, by name.
pub(super) fn schemas() -> Map<String, Value> {
    let text = |d: &str| json!({ "type": "string", "description": d });
    let boolean = || json!({ "type": "boolean" });
    let actions = json!({ "type": "string", "enum": ["mark_charged", "mark_not_charged",
        "cancel_open_intent", "retry", "reverse", "acknowledge", "archive_result"] });
    let schemas = json!({
        "ExceptionItem": object(&["kind", "item_id", "order_id", "since", "since_ms", "age_ms",
                                  "summary", "evidence", "acknowledgeable"], json!({
            "kind": { "type": "string", "enum": ["needs_review", "flag", "stale_token",
                "dropped_results", "unresolved_claim", "unknown_outcome", "refund_pending",
                "refund_failed", "reversal_pending", "reversal_failed", "outside_refund"] },
            "item_id": string(), "order_id": nullable(string()),
            "since": text("RFC 3339, UTC"), "since_ms": timestamp(),
            "age_ms": int64(), "summary": string(), "evidence": array(string()),
            "acknowledgeable": boolean(),
            "gateway": nullable(reference("GatewayName")) }), false),
        "ExceptionPage": object(&["total", "counts", "items", "next_cursor"], json!({
            "total": int64(),
            "counts": { "type": "object", "additionalProperties": int64(),
                        "description": "items per kind, over the whole inbox (for a badge)" },
            "items": array(reference("ExceptionItem")),
            "next_cursor": nullable(text("pass as `cursor` for the next page; null on the last"))
        }), false),
        "ResolutionRequest": object(&["action", "reason", "pin"], json!({
            "action": { "type": "string", "enum": ["mark_charged", "mark_not_charged",
                "cancel_open_intent", "acknowledge", "retry", "archive_result"] },
            "intent_id": nullable(text("mark_charged: the intent that charged the order; \
                cancel_open_intent: the intent to cancel")),
            "item_id": nullable(text("acknowledge: the inbox item to close")),
            "attempt_id": nullable(text("retry: the attempt the terminal holding it retries \
                with its own keys; archive_result: the attempt whose refused result it \
                archives")),
            "reason": { "type": "string", "minLength": 1, "maxLength": 500 },
            "pin": pin() }), true),
        "AcknowledgeRequest": object(&["item_id", "reason", "pin"], json!({
            "item_id": text("the inbox item to close"),
            "reason": { "type": "string", "minLength": 1, "maxLength": 500 },
            "pin": pin() }), true),
        "Resolution": object(&["resolution_id", "order_id", "action", "intent_id", "item_id",
                               "outcome", "evidence", "decided_by", "repeated", "order"], json!({
            "resolution_id": int64(), "order_id": nullable(id("order")), "action": actions,
            "intent_id": nullable(string()), "item_id": nullable(string()),
            "outcome": { "type": "string", "enum": ["applied"] },
            "evidence": string(), "decided_by": id("manager"),
            "repeated": { "type": "boolean",
                          "description": "a re-sent decision: the first one, nothing new done" },
            "order": nullable(reference("Order")) }), false),
        "AllowedAction": object(&["action", "intent_id", "item_id", "via", "label"], json!({
            "action": actions, "intent_id": nullable(string()), "item_id": nullable(string()),
            "via": { "type": "string", "enum": ["resolution", "reversal", "terminal"] },
            "label": string() }), false),
        "ResolutionRecord": object(&["resolution_id", "action", "intent_id", "manager_id",
                                     "reason", "evidence", "outcome", "at"], json!({
            "resolution_id": int64(), "action": string(), "intent_id": nullable(string()),
            "manager_id": string(), "reason": string(), "evidence": string(),
            "outcome": { "type": "string", "enum": ["applied", "refused"] },
            "at": text("RFC 3339, UTC") }), false),
        "ReversalRecord": object(&["reversal_id", "intent_id", "kind", "amount", "state",
                                   "failure", "requested_by", "approved_by", "gateway_id",
                                   "updated_at"], json!({
            "reversal_id": string(), "intent_id": string(),
            "kind": { "type": "string", "enum": ["cancel", "refund"] },
            "amount": reference("Money"), "state": string(), "failure": nullable(string()),
            "requested_by": string(), "approved_by": nullable(string()),
            "gateway_id": nullable(string()), "updated_at": text("RFC 3339, UTC") }), false),
        "RefundRecord": object(&["refund_id", "intent_id", "amount_minor", "status",
                                 "by_paydesk", "received_at"], json!({
            "refund_id": string(), "intent_id": string(), "amount_minor": int64(),
            "status": string(), "by_paydesk": boolean(),
            "received_at": text("RFC 3339, UTC") }), false),
        "CentralRecord": object(&["detail", "resolutions", "reversals", "refunds"], json!({
            "detail": reference("OrderDetail"),
            "resolutions": array(reference("ResolutionRecord")),
            "reversals": array(reference("ReversalRecord")),
            "refunds": array(reference("RefundRecord")) }), false),
        "GatewayIntentEvidence": object(&["intent_id", "found_by", "status", "declined",
            "decline_reason", "amount", "amount_received_minor", "amount_refunded_minor",
            "refunds", "metadata_order_id", "metadata_attempt_id", "metadata_terminal_id",
            "latest_charge", "cancellation_reason", "created"], json!({
            "intent_id": string(),
            "found_by": { "type": "string", "enum": ["central", "search", "both"] },
            "status": text("the gateway's status word"), "declined": boolean(),
            "decline_reason": nullable(string()), "amount": nullable(reference("Money")),
            "amount_received_minor": int64(), "amount_refunded_minor": nullable(int64()),
            "refunds": array(string()), "metadata_order_id": nullable(string()),
            "metadata_attempt_id": nullable(string()),
            "metadata_terminal_id": nullable(string()), "latest_charge": nullable(string()),
            "cancellation_reason": nullable(string()),
            "created": { "type": "integer", "description": "Unix seconds" } }), false),
        "GatewayEvidence": object(&["intents", "unreadable", "searched", "notes"], json!({
            "intents": array(reference("GatewayIntentEvidence")),
            "unreadable": array(string()), "searched": boolean(),
            "notes": array(string()) }), false),
        "OrderEvidence": object(&["order_id", "looked_up_at", "central", "gateway",
                                  "exceptions", "allowed_actions"], json!({
            "order_id": id("order"), "looked_up_at": text("RFC 3339, UTC"),
            "central": reference("CentralRecord"), "gateway": reference("GatewayEvidence"),
            "exceptions": array(reference("ExceptionItem")),
            "allowed_actions": array(reference("AllowedAction")) }), false),
    });
    match schemas {
        Value::Object(map) => map,
        _ => unreachable!("json! of an object"),
    }
}

/// The manager's operations.
pub(super) fn operations() -> Vec<Op> {
    // A person signed in at a terminal: the terminal's token and the session, both.
    const S: &[&str] = &["terminal+session"];
    // A manager's session (the role is checked, an operator's session is 403) or the admin token.
    const MA: &[&str] = &["terminal+session", "admin"];
    let order_id =
        || json!([{ "name": "order_id", "in": "path", "required": true, "schema": id("order") }]);
    vec![
        Op {
            method: "get",
            path: "/v1/exceptions",
            summary: "The exception inbox (manager or admin): orders in review, flags, stale tokens, dropped results, claims held past their lease, intents with no result past their expected end, refunds and reversals pending or failed, refunds made outside Paydesk; oldest first, counted per kind; acknowledged items left out",
            security: MA,
            request: None,
            success: ("200", Some("ExceptionPage")),
            errors: &["400", "401", "403"],
            parameters: json!([
                 { "name": "cursor", "in": "query", "required": false, "schema": string() },
                 { "name": "limit", "in": "query", "required": false, "schema": { "type": "integer", "minimum": 1, "maximum": 500 } }]),
        },
        Op {
            method: "get",
            path: "/v1/orders/{order_id}/evidence",
            summary: "An order's evidence (manager or admin): the central's record beside a live gateway lookup of its known intents and those the gateway's search finds by metadata order_id, its open inbox items, and the actions this evidence allows; 20 lookups a minute per session",
            security: MA,
            request: None,
            success: ("200", Some("OrderEvidence")),
            errors: &["400", "401", "403", "404", "429"],
            parameters: order_id(),
        },
        Op {
            method: "post",
            path: "/v1/orders/{order_id}/resolutions",
            summary: "A manager (session and PIN again, a reason) decides an order, only as its evidence allows: mark_charged by an intent, mark_not_charged (back to unpaid, claim released), cancel_open_intent at the gateway (then released when nothing else can charge), acknowledge an item; retry an attempt and archive a refused result are recorded here and carried out by the terminal holding the attempt (retry only when the evidence allows it); refusals are recorded; a re-sent decision answers the first (not a retry or an archive, each its own decision)",
            security: S,
            request: Some("ResolutionRequest"),
            success: ("200", Some("Resolution")),
            errors: &["400", "401", "403", "404", "409", "413", "415", "429", "503"],
            parameters: order_id(),
        },
        Op {
            method: "post",
            path: "/v1/exceptions/acknowledgements",
            summary: "A manager (session and PIN again, a reason) closes an inbox item with no money effect (a flag, stale token, dropped results, failed refund or reversal, refund made outside Paydesk), also one that names no order",
            security: S,
            request: Some("AcknowledgeRequest"),
            success: ("200", Some("Resolution")),
            errors: &["400", "401", "403", "404", "409", "413", "415", "429"],
            parameters: json!([]),
        },
    ]
}

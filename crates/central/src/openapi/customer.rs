//! The OpenAPI part of "when the customer must act" (issue 12, item 6): payment links, recorded
//! contacts, the list of orders waiting for their customer, and the customer's page. Kept apart
//! so the main document stays under the file-size limit. Deliberately absent: anything else.

use serde_json::{json, Map, Value};

use super::{array, id, nullable, object, order_id_param, reference, string, timestamp, Op};

pub(super) fn schemas() -> Map<String, Value> {
    let schemas = json!({
        "PaymentLink": object(&["order_id", "intent_id", "url", "sent_by", "created_at",
                                "expires_at"], json!({
            "order_id": id("order"), "intent_id": id("gateway intent"),
            "url": { "type": "string", "description":
                "{central}/pay/{token}; shown once, only the token's SHA-256 is kept" },
            "sent_by": id("operator"), "created_at": timestamp(), "expires_at": timestamp() }),
            false),
        "ContactRequest": object(&[], json!({
            "note": { "type": "string", "maxLength": 500, "description": "one line, optional" } }),
            true),
        "ContactRecord": object(&["order_id", "intent_id", "contacted_by", "contacted_at", "note"],
            json!({ "order_id": id("order"), "intent_id": id("gateway intent"),
                    "contacted_by": id("operator"), "contacted_at": timestamp(),
                    "note": string() }), false),
        "CustomerWait": object(&["order_id", "intent_id", "since", "link_sent_at", "link_sent_by",
                                 "link_expires_at", "contacted_at", "contacted_by",
                                 "contact_note"], json!({
            "order_id": id("order"), "intent_id": id("gateway intent"), "since": timestamp(),
            "link_sent_at": nullable(timestamp()), "link_sent_by": nullable(string()),
            "link_expires_at": nullable(timestamp()), "contacted_at": nullable(timestamp()),
            "contacted_by": nullable(string()), "contact_note": nullable(string()) }), false),
        "CustomerWaitList": object(&["items"], json!({
            "items": array(reference("CustomerWait")) }), false),
    });
    match schemas {
        Value::Object(map) => map,
        _ => unreachable!("a JSON object literal"),
    }
}

pub(super) fn operations() -> Vec<Op> {
    // An operator's or a manager's session at a terminal.
    const TS: &[&str] = &["terminal+session"];
    vec![
        Op {
            method: "post",
            path: "/v1/orders/{order_id}/payment-link",
            summary: "Sends a payment link for an order waiting for its customer (3-D Secure): the central reads the order's open intent at the gateway (confirming it again on session when an off-session confirm left it needing authentication, no money moves) and answers a link to the customer's page. A newer link replaces the older; a link expires when the order is paid, stops waiting on that intent, or after 24 hours",
            security: TS,
            request: None,
            success: ("200", Some("PaymentLink")),
            errors: &["401", "404", "409", "503"],
            parameters: order_id_param(),
        },
        Op {
            method: "post",
            path: "/v1/orders/{order_id}/customer-contacted",
            summary: "Records that the customer of an order waiting for them was contacted: who, when, an optional note (audited as customer_contacted)",
            security: TS,
            request: Some("ContactRequest"),
            success: ("200", Some("ContactRecord")),
            errors: &["400", "401", "404", "409", "413", "415"],
            parameters: order_id_param(),
        },
        Op {
            method: "get",
            path: "/v1/customer-waits",
            summary: "The orders waiting for their customer, oldest first, each with its newest link and contact",
            security: TS,
            request: None,
            success: ("200", Some("CustomerWaitList")),
            errors: &["401"],
            parameters: json!([]),
        },
        Op {
            method: "get",
            path: "/pay/{token}",
            summary: "The customer's payment-link page (HTML, no authentication: the token is the key). A live link leads to the gateway's authentication page; an unknown one answers 404 and an expired one 410, each a page saying why in plain words",
            security: &[],
            request: None,
            success: ("200", None),
            errors: &[],
            parameters: json!([{ "name": "token", "in": "path", "required": true,
                                 "schema": { "type": "string", "pattern": "^pl_[0-9a-f]{64}$" } }]),
        },
    ]
}

//! The OpenAPI part of the order in context (issue 12, item 1): an order's customer name and
//! saved payment method (brand, last four, expiry — never a number) as the central last read it
//! from the gateway, and `POST /v1/orders/{order_id}/payment-method/refresh`. Kept apart so the
//! main document stays under the file-size limit. Deliberately absent: anything else.

use serde_json::{json, Map, Value};

use super::{nullable, object, order_id_param, reference, string, timestamp, Op};

pub(super) fn schemas() -> Map<String, Value> {
    let text = |max: usize| json!({ "type": ["string", "null"], "maxLength": max });
    let schemas = json!({
        "SavedMethodKind": { "type": "string", "enum": ["card", "paypal_wallet", "other", "unread"],
                             "description": "unread: never read successfully (refresh_error says why)" },
        "SavedMethod": object(&["kind", "brand", "last4", "exp_month", "exp_year", "email",
                                "holder_name", "kind_name", "read_at", "refresh_error", "checked_at"], json!({
            "kind": reference("SavedMethodKind"),
            "brand": nullable(json!({ "type": "string", "pattern": "^[a-z0-9_]{1,32}$" })),
            "last4": nullable(json!({ "type": "string", "pattern": "^[0-9]{2,4}$" })),
            "exp_month": nullable(json!({ "type": "integer", "minimum": 1, "maximum": 12 })),
            "exp_year": nullable(json!({ "type": "integer", "minimum": 2000, "maximum": 2199 })),
            "email": text(128), "holder_name": text(128), "kind_name": text(32),
            "read_at": timestamp(), "refresh_error": nullable(string()), "checked_at": timestamp() }), false),
    });
    match schemas {
        Value::Object(map) => map,
        _ => unreachable!("a JSON object literal"),
    }
}

/// Adds the customer's name to `ImportOrder` and `Order`, and the saved method to `Order`.
pub(super) fn extend(all: &mut Value) {
    let name = json!({ "type": "string", "maxLength": paydesk_protocol::CUSTOMER_NAME_LEN_MAX });
    all["ImportOrder"]["properties"]["customer_name"] = name.clone();
    all["Order"]["properties"]["customer_name"] = name;
    all["Order"]["properties"]["saved_method"] = nullable(reference("SavedMethod"));
}

pub(super) fn operations() -> Vec<Op> {
    vec![Op {
        method: "post",
        path: "/v1/orders/{order_id}/payment-method/refresh",
        summary: "Read the order's saved payment method at its gateway again (brand, last four, expiry, a wallet's e-mail, the holder's name; never a number) and answer the order with it; any signed-in person. The gateway's refusal (the method is gone) is stored and shown in refresh_error; no answer from the gateway is 503 with the details read before kept",
        security: &["terminal+session"],
        request: None,
        success: ("200", Some("Order")),
        errors: &["400", "401", "404", "503"],
        parameters: order_id_param(),
    }]
}

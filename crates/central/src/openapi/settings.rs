//! The OpenAPI part of permissions and limits (issue 11, item 8): `GET /v1/settings` and the
//! three `PUT /v1/settings/…` routes, with their schemas. Kept apart so the main document stays
//! under the file-size limit. Deliberately absent: anything not about settings.

use serde_json::{json, Map, Value};

use super::{array, id, int64, nullable, object, reference, timestamp, Op};

fn limit() -> Value {
    nullable(json!({ "type": "integer", "format": "int64", "minimum": 1,
                     "maximum": paydesk_core::money::AMOUNT_MINOR_MAX,
                     "description": "minor units; null: no limit" }))
}

fn optional_pin() -> Value {
    json!({ "type": "string", "pattern": "^[0-9]{4,12}$",
            "description": "the manager's PIN again; leave out with the admin token" })
}

pub(super) fn schemas() -> Map<String, Value> {
    let action = json!({ "type": "string", "enum": ["charge", "charge_other_amount", "reverse", "approve_reversal",
        "resolve", "sign_off_day", "grant_offline", "export_audit"] });
    let schemas = json!({
        "Action": action,
        "RolePermissions": object(&["role", "actions"], json!({
            "role": reference("Role"), "actions": array(reference("Action")) }), false),
        "UserLimit": object(&["operator_id", "currency", "per_refund_minor", "per_day_minor",
                              "refunded_today_minor"], json!({
            "operator_id": id("operator"),
            "currency": { "type": "string", "pattern": "^[A-Z]{3}$" },
            "per_refund_minor": limit(), "per_day_minor": limit(),
            "refunded_today_minor": int64() }), false),
        "Settings": object(&["reversal_approval_above_minor", "permissions", "limits",
                             "updated_at", "updated_by"], json!({
            "reversal_approval_above_minor": { "type": "integer", "format": "int64", "minimum": 0,
                "description": "a reversal above this many minor units needs a second manager" },
            "permissions": array(reference("RolePermissions")),
            "limits": array(reference("UserLimit")),
            "updated_at": nullable(timestamp()),
            "updated_by": nullable(json!({ "type": "string",
                "description": "a manager, or admin for the admin token" })) }), false),
        "ThresholdUpdate": object(&["reversal_approval_above_minor"], json!({
            "reversal_approval_above_minor": { "type": "integer", "format": "int64",
                "minimum": 0, "maximum": paydesk_core::money::AMOUNT_MINOR_MAX },
            "pin": optional_pin() }), true),
        "PermissionsUpdate": object(&["actions"], json!({
            "actions": array(reference("Action")), "pin": optional_pin() }), true),
        "LimitUpdate": object(&[], json!({
            "per_refund_minor": limit(), "per_day_minor": limit(), "pin": optional_pin() }), true),
    });
    match schemas {
        Value::Object(map) => map,
        _ => unreachable!("a JSON object literal"),
    }
}

pub(super) fn operations() -> Vec<Op> {
    // A manager's session (PIN again for changes) or the admin token.
    const MA: &[&str] = &["terminal+session", "admin"];
    let changes = &["400", "401", "403", "413", "415", "429"];
    vec![
        Op {
            method: "get",
            path: "/v1/settings",
            summary: "Permissions and limits (manager or admin): the actions each role may take, each person's refund limits per currency with today's refunds, and the four-eyes threshold",
            security: MA,
            request: None,
            success: ("200", Some("Settings")),
            errors: &["401", "403"],
            parameters: json!([]),
        },
        Op {
            method: "put",
            path: "/v1/settings/approval-threshold",
            summary: "Sets the four-eyes threshold of reversals (admin, or a manager with the PIN again); audited as old → new",
            security: MA,
            request: Some("ThresholdUpdate"),
            success: ("200", Some("Settings")),
            errors: changes,
            parameters: json!([]),
        },
        Op {
            method: "put",
            path: "/v1/settings/permissions/{role}",
            summary: "Sets the whole set of actions a role may take (admin, or a manager with the PIN again); an operator can only hold charge; editing settings is never an action, so managers cannot lock themselves out; audited",
            security: MA,
            request: Some("PermissionsUpdate"),
            success: ("200", Some("Settings")),
            errors: changes,
            parameters: json!([{ "name": "role", "in": "path", "required": true,
                                 "schema": reference("Role") }]),
        },
        Op {
            method: "put",
            path: "/v1/settings/limits/{operator_id}/{currency}",
            summary: "Sets one person's refund limits in one currency, per refund and per UTC day (both null removes them; admin, or a manager with the PIN again); enforced on reversals; audited",
            security: MA,
            request: Some("LimitUpdate"),
            success: ("200", Some("Settings")),
            errors: changes,
            parameters: json!([
                { "name": "operator_id", "in": "path", "required": true, "schema": id("operator") },
                { "name": "currency", "in": "path", "required": true,
                  "schema": { "type": "string", "pattern": "^[A-Z]{3}$" } }]),
        },
    ]
}

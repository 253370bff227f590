//! The OpenAPI part of the manager's report extras (issue 11): `GET /v1/journal-head`, the newest
//! journal head this terminal reported (item 5), and `DELETE /v1/offline-allowances/{grant_id}`,
//! withdrawing an offline allowance (item 7). Kept apart so the main document stays under the
//! file-size limit. Deliberately absent: anything else.

use serde_json::{json, Map, Value};

use super::{id, int64, nullable, object, pin, string, timestamp, Op};

pub(super) fn schemas() -> Map<String, Value> {
    let schemas = json!({
        "JournalHeadReceipt": object(&["seq", "hash", "received_at"], json!({
            "seq": nullable(int64()),
            "hash": nullable(json!({ "type": "string", "pattern": "^[0-9a-f]{64}$",
                                     "description": "SHA-256 of the event at seq, hex" })),
            "received_at": nullable(timestamp()) }), false),
        "WithdrawRequest": object(&["pin"], json!({ "pin": pin() }), true),
        "WithdrawnAllowance": object(&["grant_id", "terminal_id", "until", "withdrawn"], json!({
            "grant_id": string(), "terminal_id": id("terminal"), "until": timestamp(),
            "withdrawn": { "type": "boolean",
                           "description": "false when the grant had already ended" } }), false),
    });
    match schemas {
        Value::Object(map) => map,
        _ => unreachable!("a JSON object literal"),
    }
}

pub(super) fn operations() -> Vec<Op> {
    vec![Op {
        method: "get",
        path: "/v1/journal-head",
        summary: "The newest journal head (seq, hash, when received) this terminal reported with its results, for the terminal to compare with its own journal; all null before its first delivery",
        security: &["terminal"],
        request: None,
        success: ("200", Some("JournalHeadReceipt")),
        errors: &["401"],
        parameters: json!([]),
    }, Op {
        method: "delete",
        path: "/v1/offline-allowances/{grant_id}",
        summary: "A manager (session, the grant_offline permission, the PIN again) withdraws an offline allowance at once: its window closes at the central, so no offline result dated later is applied; audited as allowance_withdrawn; a grant already ended answers withdrawn false",
        security: &["terminal+session"],
        request: Some("WithdrawRequest"),
        success: ("200", Some("WithdrawnAllowance")),
        errors: &["400", "401", "403", "404", "413", "415", "429"],
        parameters: json!([{ "name": "grant_id", "in": "path", "required": true, "schema": string() }]),
    }]
}

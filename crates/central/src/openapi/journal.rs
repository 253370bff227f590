//! The OpenAPI part of the journal-head receipt (issue 11, item 5): `GET /v1/journal-head`, the
//! newest journal head this terminal reported. Kept apart so the main document stays under the
//! file-size limit. Deliberately absent: anything else.

use serde_json::{json, Map, Value};

use super::{int64, nullable, object, timestamp, Op};

pub(super) fn schemas() -> Map<String, Value> {
    let schemas = json!({
        "JournalHeadReceipt": object(&["seq", "hash", "received_at"], json!({
            "seq": nullable(int64()),
            "hash": nullable(json!({ "type": "string", "pattern": "^[0-9a-f]{64}$",
                                     "description": "SHA-256 of the event at seq, hex" })),
            "received_at": nullable(timestamp()) }), false),
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
    }]
}

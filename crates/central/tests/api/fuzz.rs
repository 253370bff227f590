//! A seeded fuzz test of every route (issue 16): generated bodies and queries — random JSON of
//! random shapes, valid bodies with one part replaced by a wrong type, numbers around 2^63,
//! control, NUL and bidi strings, arrays for objects, empty and non-JSON bodies, odd content
//! types — each with a valid and an invalid token. Checked for every answer:
//! - the status is never 5xx;
//! - a non-2xx body is the JSON error shape `{"error": {"code", "message"}}` (except the
//!   customer's payment-link page, `/pay/{token}`, which is HTML for a person);
//! - a 4xx changes no table (row counts of every table before and after; a stale-token 409 may
//!   add its one refusal record, and an authentication refusal its audit row and its count
//!   toward the lockout, which is what they are for);
//! - every listing (and the seeded orders' detail) still answers 200, checked every
//!   `CHECK_EVERY` requests and at the end.
//!
//! `PAYDESK_FUZZ_SEED` replays a run (the seed is printed); `PAYDESK_FUZZ_REQUESTS` changes its
//! size (default `REQUESTS_DEFAULT` per backend, a few seconds); `PAYDESK_FUZZ_VERBOSE=1` prints
//! every request and its answer.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use paydesk_central::http::ROUTES;
use paydesk_central::sweeper::{GatewayIntent, IntentEvidence, IntentLookup};
use paydesk_central::webhook::sign;
use paydesk_core::{GatewayIntentId, Timestamp};
use serde_json::{json, Map, Value};
use sqlx::Row;

use crate::helpers::*;

const SEED_DEFAULT: u64 = 0x1616_2026;
const REQUESTS_DEFAULT: usize = 400;
const CHECK_EVERY: usize = 25;
const ORDERS: &[&str] = &["fz-1", "fz-2", "fz-3"];

/// A gateway that lists nothing, so `/v1/reconcile` answers 200.
#[derive(Debug)]
struct QuietGateway;

#[async_trait]
impl IntentLookup for QuietGateway {
    async fn intent(&self, _: &GatewayIntentId) -> Result<IntentEvidence, String> {
        Err("the fuzz gateway knows no intents".into())
    }
    async fn intents_between(
        &self,
        _: Timestamp,
        _: Timestamp,
    ) -> Result<Vec<GatewayIntent>, String> {
        Ok(Vec::new())
    }
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

// ------------------------------------------------------------------ generators

const NUMBERS: &[&str] = &[
    "0",
    "1",
    "-1",
    "2",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775808",
    "-9223372036854775809",
    "18446744073709551615",
    "18446744073709551616",
    "4294967296",
    "1e308",
    "-0.5",
    "1.5",
    "99999999999999999999999999",
];

/// Strings a client might send, none made only of digits (a valid PIN would make the server
/// hash it with argon2, slow in a debug build).
fn gen_string(rng: &mut fastrand::Rng) -> String {
    const FIXED: &[&str] = &[
        "",
        " ",
        ".",
        "..",
        "a/b",
        "pi bad/id",
        "bad order id!",
        "x\u{0}y",
        "\u{7}\u{1b}[31m",
        "\u{202e}evil\u{202c}",
        "\u{2066}iso\u{2069}",
        "line\nbreak",
        "tab\there",
        "é€𝄞",
        "\u{feff}bom",
        "null",
        "true",
        "{}",
        "pi_fuzz",
        "alice",
        "fz-1",
        "EUR",
        "eur",
        "operator",
        "manager",
        "succeeded",
        "needs_review",
    ];
    match rng.u8(0..4) {
        0 => {
            let len = rng.usize(1..40);
            (0..len)
                .map(|_| match rng.u8(0..6) {
                    0 => char::from_u32(rng.u32(0..0x20)).unwrap_or('?'),
                    1 => ['\u{202e}', '\u{200f}', '\u{2067}', '\u{0}', '\u{ffff}'][rng.usize(0..5)],
                    _ => rng.alphanumeric(),
                })
                .chain(std::iter::once('z'))
                .collect()
        }
        1 => "A".repeat(rng.usize(100..5_000)),
        _ => FIXED[rng.usize(0..FIXED.len())].to_string(),
    }
}

fn gen_number(rng: &mut fastrand::Rng) -> Value {
    let text = NUMBERS[rng.usize(0..NUMBERS.len())];
    serde_json::from_str(text).unwrap_or(Value::Null)
}

const KEYS: &[&str] = &[
    "operator_id",
    "claim_token",
    "attempt_number",
    "intent_id",
    "terminal_id",
    "pin",
    "role",
    "orders",
    "order_id",
    "amount",
    "minor",
    "currency",
    "journal_head",
    "results",
    "seq",
    "hash",
    "outcome",
    "id",
    "type",
    "data",
    "object",
    "metadata",
    "unknown_field",
];

fn gen_value(rng: &mut fastrand::Rng, depth: u32) -> Value {
    let top = if depth >= 4 { 4 } else { 7 };
    match rng.u8(0..top) {
        0 => Value::Null,
        1 => Value::Bool(rng.bool()),
        2 => gen_number(rng),
        3 => Value::String(gen_string(rng)),
        4 | 5 => {
            let n = rng.usize(0..5);
            let mut map = Map::new();
            for _ in 0..n {
                map.insert(
                    KEYS[rng.usize(0..KEYS.len())].to_string(),
                    gen_value(rng, depth + 1),
                );
            }
            Value::Object(map)
        }
        _ => Value::Array(
            (0..rng.usize(0..4))
                .map(|_| gen_value(rng, depth + 1))
                .collect(),
        ),
    }
}

/// Replaces, removes or adds one part of `v`, somewhere inside it.
fn mutate(rng: &mut fastrand::Rng, v: &mut Value) {
    match v {
        Value::Object(map) if !map.is_empty() && rng.u8(0..3) > 0 => {
            let keys: Vec<String> = map.keys().cloned().collect();
            let key = &keys[rng.usize(0..keys.len())];
            match rng.u8(0..6) {
                0 => {
                    map.remove(key);
                }
                1 => {
                    map.insert("unknown_field".into(), gen_value(rng, 2));
                }
                2 | 3 => {
                    map.insert(key.clone(), gen_value(rng, 2));
                }
                _ => mutate(rng, map.get_mut(key).expect("the key is there")),
            }
        }
        Value::Array(items) if !items.is_empty() && rng.bool() => {
            let i = rng.usize(0..items.len());
            mutate(rng, &mut items[i]);
        }
        other => {
            *other = match rng.u8(0..4) {
                0 => Value::Array(vec![other.take()]),
                _ => gen_value(rng, 2),
            }
        }
    }
}

/// Paths (JSON pointers) to every leaf of `v`.
fn leaves(v: &Value, at: String, out: &mut Vec<String>) {
    match v {
        Value::Object(map) if !map.is_empty() => {
            for (k, child) in map {
                leaves(child, format!("{at}/{k}"), out);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for (i, child) in items.iter().enumerate() {
                leaves(child, format!("{at}/{i}"), out);
            }
        }
        _ => out.push(at),
    }
}

/// Values that got past the parser and broke something behind it in earlier fuzzing: numbers
/// of 2^63 and beyond, ids the store cannot read back, control and bidi characters.
const HOSTILE_NUMBERS: &[&str] = &[
    "9223372036854775807",
    "9223372036854775808",
    "18446744073709551615",
    "-9223372036854775808",
    "0",
];
const HOSTILE_STRINGS: &[&str] = &[
    "pi bad/id",
    "bad order id!",
    "..",
    ".",
    "x\u{0}y",
    "\u{202e}evil",
    "",
    "a/b",
    "EURO",
];

/// Fields whose value the server stores, compares or computes with.
const SENSITIVE: &[&str] = &[
    "claim_token",
    "intent_id",
    "order_id",
    "operator_id",
    "terminal_id",
    "payment_intent",
    "minor",
    "currency",
    "seq",
    "attempt_number",
    "description",
    "amount",
    "amount_refunded",
];

/// Replaces one leaf of `v` with a value of the same kind, mostly: extreme numbers for numbers,
/// odd strings for strings; so the body gets past the parser to the checks behind it.
fn mutate_leaf(rng: &mut fastrand::Rng, v: &mut Value) {
    let mut paths = Vec::new();
    leaves(v, String::new(), &mut paths);
    // Half the time, a field the server stores or computes with (ids, tokens, amounts).
    let sensitive: Vec<&String> = paths
        .iter()
        .filter(|p| {
            let key = p.rsplit('/').next().unwrap_or("");
            SENSITIVE.contains(&key) || p.ends_with("/object/id")
        })
        .collect();
    let path = if !sensitive.is_empty() && rng.bool() {
        sensitive[rng.usize(0..sensitive.len())]
    } else {
        &paths[rng.usize(0..paths.len())]
    };
    let Some(leaf) = v.pointer_mut(path) else {
        return;
    };
    *leaf = match (&*leaf, rng.u8(0..10)) {
        (Value::Number(_), 0..=4) => {
            serde_json::from_str(HOSTILE_NUMBERS[rng.usize(0..HOSTILE_NUMBERS.len())])
                .unwrap_or(Value::Null)
        }
        (Value::Number(_), 5..=7) => gen_number(rng),
        (Value::String(_), 0..=4) => {
            Value::String(HOSTILE_STRINGS[rng.usize(0..HOSTILE_STRINGS.len())].to_string())
        }
        (Value::String(_), 5..=7) => Value::String(gen_string(rng)),
        _ => gen_value(rng, 3),
    };
}

fn raw_body(rng: &mut fastrand::Rng) -> Vec<u8> {
    match rng.u8(0..10) {
        0 => Vec::new(),
        1 => b"{".to_vec(),
        2 => b"not json at all".to_vec(),
        3 => vec![0xff, 0xfe, 0x00, 0x7b, 0x7d],
        4 => format!("{}{}", "[".repeat(5_000), "]".repeat(5_000)).into_bytes(),
        5 => b"{\"operator_id\": \"alice\", \"operator_id\": \"bob\"}".to_vec(),
        6 => b"{\"claim_token\": 1e999}".to_vec(),
        7 => b"\"\\ud800\"".to_vec(),
        8 => b"order_id,amount\nfz-9,1.00 EUR\n".to_vec(),
        _ => b"[\"alice\"]".to_vec(),
    }
}

/// One generated request.
#[derive(Debug, Clone)]
struct Req {
    method: reqwest::Method,
    path: String,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
}

impl Req {
    fn describe(&self) -> String {
        let mut s = format!("{} {}", self.method, self.path);
        if !self.query.is_empty() {
            let _ = write!(s, " query={:?}", self.query);
        }
        for (k, v) in &self.headers {
            let v: String = v.chars().take(80).collect();
            let _ = write!(s, " [{k}: {v}]");
        }
        if let Some(b) = &self.body {
            let text = String::from_utf8_lossy(b);
            let shown: String = text.chars().take(300).collect();
            let _ = write!(s, " body({} bytes)={shown:?}", b.len());
        }
        s
    }
}

struct Fuzzer<'a> {
    app: &'a TestApp,
    rng: fastrand::Rng,
    terminal: String,
    /// The token of the live claim on `fz-1`.
    claim_token: u64,
    /// Alice's session at `terminal`.
    session: String,
    /// A manager's session at `terminal`.
    manager_session: String,
    /// Sessions for sign-out requests to end, so the two above stay open; once they are used
    /// up, sign-outs name an ended session (a 401).
    spare_sessions: Vec<String>,
}

impl Fuzzer<'_> {
    fn order_id(&mut self) -> String {
        if self.rng.u8(0..10) < 7 {
            ORDERS[self.rng.usize(0..ORDERS.len())].to_string()
        } else {
            const ODD: &[&str] = &[
                "nope",
                "..",
                ".",
                "%2e%2e",
                "a%00b",
                "%E2%80%AE",
                "%FF",
                "a%2Fb",
                "%20",
            ];
            let pick = self.rng.usize(0..=ODD.len());
            ODD.get(pick)
                .map(|s| s.to_string())
                .unwrap_or_else(|| "o".repeat(300))
        }
    }

    /// A terminal id for the admin's revoke and rotate: never the fuzzer's own terminal.
    fn terminal_id(&mut self) -> String {
        const IDS: &[&str] = &["fz-spare", "nope", "..", "%20", "a%00b"];
        IDS[self.rng.usize(0..IDS.len())].to_string()
    }

    /// The session header a valid request to `route` sends, if the route takes one.
    fn session_header(&mut self, route: &str, admin: bool) -> Option<String> {
        match route {
            _ if admin => None,
            "/v1/orders/{order_id}/claim" | "/v1/sessions/check" => Some(self.session.clone()),
            "/v1/sessions/current" => Some(
                self.spare_sessions
                    .pop()
                    .unwrap_or_else(|| "pds_ended".to_string()),
            ),
            "/v1/offline-allowances" => Some(self.manager_session.clone()),
            "/v1/flags" | "/v1/unresolved" | "/v1/reconcile" => {
                if self.rng.u8(0..4) == 0 {
                    Some(self.session.clone())
                } else {
                    Some(self.manager_session.clone())
                }
            }
            _ => None,
        }
    }

    fn token_header(&mut self, route: &str, valid: bool) -> Option<String> {
        if valid {
            let admin_only = route.starts_with("/v1/admin") || route == "/v1/orders/import";
            let terminal_only = route.contains("/claim")
                || route.ends_with("/intent")
                || route == "/v1/results"
                || route.starts_with("/v1/sessions")
                || route == "/v1/offline-allowances"
                || route == "/v1/allowance-key";
            let admin = admin_only || (!terminal_only && self.rng.bool());
            let token = if admin { ADMIN_TOKEN } else { &self.terminal };
            return Some(format!("Bearer {token}"));
        }
        match self.rng.u8(0..6) {
            0 => None,
            1 => Some("Bearer not-a-token".into()),
            2 => Some(format!("Basic {ADMIN_TOKEN}")),
            3 => Some("Bearer ".into()),
            4 => Some(format!("Bearer {}", "t".repeat(4_000))),
            _ => Some(format!("bearer {}", self.terminal)),
        }
    }

    fn template(&mut self, route: &str) -> Value {
        let t = self.claim_token;
        let id = format!("fz-new-{}", self.rng.u32(..));
        match route {
            "/v1/admin/terminals" => json!({ "terminal_id": id }),
            "/v1/admin/operators" => {
                json!({ "operator_id": id, "role": "operator", "pin": "12ab" })
            }
            "/v1/orders/import" => json!({ "orders": [{
                "order_id": id, "amount": {"minor": 1234, "currency": "EUR"},
                "customer_id": "cus_fz", "payment_method_id": "pm_card_visa",
                "description": "fuzz order"}] }),
            "/v1/orders/{order_id}/claim" => json!({ "operator_id": "alice" }),
            "/v1/sessions" => {
                let who = ["alice", "bob", "nobody"][self.rng.usize(0..3)];
                json!({ "operator_id": who, "pin": OPERATOR_PIN })
            }
            "/v1/sessions/check" => json!({ "pin": OPERATOR_PIN }),
            "/v1/offline-allowances" => json!({ "pin": MANAGER_PIN,
                "per_charge_max": {"minor": 1000, "currency": "EUR"},
                "per_shift_max": {"minor": 5000, "currency": "EUR"},
                "duration_ms": 3_600_000, "cache_age_ms_max": 600_000 }),
            "/v1/orders/{order_id}/claim/renew" | "/v1/orders/{order_id}/claim/release" => {
                json!({ "claim_token": t })
            }
            "/v1/orders/{order_id}/intent" => {
                json!({ "claim_token": t, "attempt_number": 1, "intent_id": "pi_fz_1" })
            }
            "/v1/results" => batch(
                u64::from(self.rng.u32(1..1_000)),
                vec![result_item(
                    &attempt_id(),
                    "fz-1",
                    1,
                    t,
                    "declined",
                    1000,
                    "EUR",
                    Some("pi_fz_1"),
                )],
            ),
            "/webhooks/stripe" => match self.rng.u8(0..3) {
                0 => json!({"id": format!("evt_{id}"),
                    "type": "payment_intent.payment_failed", "data": {"object": {
                    "id": "pi_fz_2", "object": "payment_intent", "amount": 1000,
                    "currency": "eur", "status": "requires_payment_method",
                    "metadata": {"order_id": "fz-2"}}}}),
                1 => json!({"id": format!("evt_{id}"),
                    "type": "payment_intent.succeeded", "data": {"object": {
                    "id": "pi_fz_3", "object": "payment_intent", "amount": 1000,
                    "amount_received": 1000, "currency": "eur", "status": "succeeded",
                    "metadata": {"order_id": "fz-3"}}}}),
                _ => json!({"id": format!("evt_{id}"), "type": "charge.refunded",
                    "data": {"object": {"id": "ch_fz", "payment_intent": "pi_fz_3",
                    "amount_refunded": 100}}}),
            },
            _ => json!({}),
        }
    }

    fn query(&mut self, route: &str) -> Vec<(String, String)> {
        let mut q = Vec::new();
        let pick = |rng: &mut fastrand::Rng, good: &[&str]| -> String {
            if rng.bool() {
                good[rng.usize(0..good.len())].to_string()
            } else if rng.bool() {
                NUMBERS[rng.usize(0..NUMBERS.len())].to_string()
            } else {
                gen_string(rng)
            }
        };
        match route {
            "/v1/orders" => {
                if self.rng.bool() {
                    let s = pick(
                        &mut self.rng,
                        &["unpaid", "paid", "failed", "needs_action", "needs_review"],
                    );
                    q.push(("status".into(), s));
                }
                if self.rng.bool() {
                    q.push(("q".into(), pick(&mut self.rng, &["fz", "fuzz", "%"])));
                }
                if self.rng.bool() {
                    q.push(("limit".into(), pick(&mut self.rng, &["1", "50", "0"])));
                }
                if self.rng.u8(0..4) == 0 {
                    q.push(("after".into(), pick(&mut self.rng, &["fz-1", ""])));
                }
            }
            "/v1/reconcile" => {
                let now = paydesk_central::clock::now().unix_ms();
                let (from, to) = (now - 86_400_000, now);
                let from = pick(
                    &mut self.rng,
                    &[&from.to_string(), "0", "-1", "-9223372036854775808"],
                );
                let to = pick(
                    &mut self.rng,
                    &[&to.to_string(), "1", "9223372036854775807"],
                );
                if self.rng.u8(0..8) > 0 {
                    q.push(("from".into(), from));
                }
                if self.rng.u8(0..8) > 0 {
                    q.push(("to".into(), to));
                }
            }
            _ => {}
        }
        if self.rng.u8(0..8) == 0 {
            q.push((gen_string(&mut self.rng), gen_string(&mut self.rng)));
        }
        q
    }

    fn generate(&mut self) -> (Req, bool) {
        let (method, route) = ROUTES[self.rng.usize(0..ROUTES.len())];
        let path = if route.contains("{order_id}") {
            let id = self.order_id();
            route.replace("{order_id}", &id)
        } else if route.contains("{terminal_id}") {
            let id = self.terminal_id();
            route.replace("{terminal_id}", &id)
        } else {
            route.to_string()
        };
        let valid = self.rng.u8(0..10) < 7;
        let mut headers = Vec::new();
        if let Some(auth) = self.token_header(route, valid) {
            if route != "/webhooks/stripe" {
                let admin = auth.ends_with(ADMIN_TOKEN);
                headers.push(("authorization".to_string(), auth));
                let session = if valid {
                    self.session_header(route, admin)
                } else {
                    self.rng.bool().then(|| "pds_not-a-session".to_string())
                };
                if let Some(session) = session {
                    headers.push((paydesk_protocol::SESSION_HEADER.to_string(), session));
                }
            }
        }
        let method = match method {
            "get" => reqwest::Method::GET,
            "delete" => reqwest::Method::DELETE,
            _ => reqwest::Method::POST,
        };
        if method != reqwest::Method::POST {
            let query = self.query(route);
            let req = Req {
                method,
                path,
                query,
                headers,
                body: None,
            };
            return (req, valid);
        }
        let body = match self.rng.u8(0..20) {
            0..=2 => serde_json::to_vec(&self.template(route)).expect("JSON"),
            3..=10 => {
                let mut v = self.template(route);
                mutate_leaf(&mut self.rng, &mut v);
                serde_json::to_vec(&v).expect("JSON")
            }
            11..=13 => {
                let mut v = self.template(route);
                mutate(&mut self.rng, &mut v);
                serde_json::to_vec(&v).expect("JSON")
            }
            14..=16 => serde_json::to_vec(&gen_value(&mut self.rng, 0)).expect("JSON"),
            _ => raw_body(&mut self.rng),
        };
        let content_type = match self.rng.u8(0..16) {
            0 => None,
            1 => Some("text/plain"),
            2 => Some("application/jsonx"),
            3 => Some("text/csv"),
            _ => Some("application/json"),
        };
        if let Some(ct) = content_type {
            headers.push(("content-type".into(), ct.into()));
        }
        if route == "/webhooks/stripe" {
            let now_s = paydesk_central::clock::now().unix_ms() / 1000;
            let signature = if valid {
                Some(format!(
                    "t={now_s},v1={}",
                    sign(WEBHOOK_SECRET, now_s, &body)
                ))
            } else {
                match self.rng.u8(0..5) {
                    0 => None,
                    1 => Some("t=-9223372036854775808,v1=00".to_string()),
                    2 => Some(format!("t={now_s},v1=00")),
                    3 => Some("garbage".to_string()),
                    _ => Some(format!("t=9223372036854775807,v1={}", "a".repeat(64))),
                }
            };
            if let Some(s) = signature {
                headers.push(("stripe-signature".into(), s));
            }
        }
        let req = Req {
            method,
            path,
            query: Vec::new(),
            headers,
            body: Some(body),
        };
        (req, valid)
    }
}

// ------------------------------------------------------------------ checks

async fn send(app: &TestApp, req: &Req) -> Result<(u16, String), String> {
    let mut b = app
        .client
        .request(req.method.clone(), app.url(&req.path))
        .query(&req.query);
    for (k, v) in &req.headers {
        b = b.header(k, v);
    }
    if let Some(body) = &req.body {
        b = b.body(body.clone());
    }
    let resp = b.send().await.map_err(|e| format!("no answer: {e}"))?;
    let status = resp.status().as_u16();
    let text = resp
        .text()
        .await
        .map_err(|e| format!("body unreadable: {e}"))?;
    Ok((status, text))
}

fn is_error_shape(body: &str) -> bool {
    serde_json::from_str::<Value>(body)
        .is_ok_and(|v| v["error"]["code"].is_string() && v["error"]["message"].is_string())
}

async fn tables(app: &TestApp) -> Vec<String> {
    let sql = match app.store.backend() {
        paydesk_central::Backend::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'table' \
             AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_sqlx%' ORDER BY name"
        }
        paydesk_central::Backend::Postgres => {
            "SELECT table_name::text AS name FROM information_schema.tables \
             WHERE table_schema = 'public' AND table_type = 'BASE TABLE' \
             AND table_name NOT LIKE '_sqlx%' ORDER BY table_name"
        }
    };
    sqlx::query(sql)
        .fetch_all(app.store.pool())
        .await
        .expect("list the tables")
        .iter()
        .map(|r| r.get::<String, _>("name"))
        .collect()
}

async fn row_counts(app: &TestApp, tables: &[String]) -> Vec<i64> {
    let select: Vec<String> = tables
        .iter()
        .map(|t| format!("(SELECT COUNT(*) FROM {t})"))
        .collect();
    let row = sqlx::query(&format!("SELECT {}", select.join(", ")))
        .fetch_one(app.store.pool())
        .await
        .expect("count rows");
    (0..tables.len()).map(|i| row.get::<i64, _>(i)).collect()
}

/// Every listing and the seeded orders' detail answer 200; the failures otherwise.
async fn listings(app: &TestApp) -> Vec<String> {
    let now = paydesk_central::clock::now().unix_ms();
    let mut paths: Vec<String> = ["unpaid", "paid", "failed", "needs_action", "needs_review"]
        .iter()
        .map(|s| format!("/v1/orders?status={s}"))
        .collect();
    paths.push("/v1/flags".into());
    paths.push("/v1/unresolved".into());
    paths.push(format!("/v1/reconcile?from={}&to={now}", now - 86_400_000));
    paths.extend(ORDERS.iter().map(|o| format!("/v1/orders/{o}")));
    let mut failures = Vec::new();
    for p in paths {
        let (status, body) = app.get(&p, ADMIN_TOKEN).await;
        if status != 200 {
            failures.push(format!("listing GET {p} answered {status}: {body}"));
        }
    }
    failures
}

async fn fuzz_every_route(db: Db) {
    let seed = env_or("PAYDESK_FUZZ_SEED", SEED_DEFAULT);
    let requests = env_or("PAYDESK_FUZZ_REQUESTS", REQUESTS_DEFAULT);
    let verbose = std::env::var_os("PAYDESK_FUZZ_VERBOSE").is_some();
    println!(
        "fuzz ({db:?}): seed {seed} (PAYDESK_FUZZ_SEED={seed} replays it), {requests} requests"
    );
    let app = TestApp::spawn(
        db,
        TestOptions {
            gateway: Some(Arc::new(QuietGateway)),
            paypal_webhook: Some(crate::paypal_webhook::test_verifier()),
            ..Default::default()
        },
    )
    .await;
    let orders: Vec<(&str, i64, &str)> = ORDERS.iter().map(|o| (*o, 1000, "EUR")).collect();
    app.orders(&orders).await;
    app.operators(&["alice", "bob"]).await;
    app.managers(&["fz-manager"]).await;
    let terminal = app.terminal("fz-terminal").await;
    app.terminal("fz-spare").await;
    let session = app.session(&terminal, "alice").await;
    let manager_session = app.session(&terminal, "fz-manager").await;
    let mut spare_sessions = Vec::new();
    for _ in 0..5 {
        let (status, grant) = app.sign_in(&terminal, "bob", OPERATOR_PIN).await;
        assert_eq!(status, 201, "{grant}");
        spare_sessions.push(grant["session_token"].as_str().unwrap().to_string());
    }
    let (status, claim) = app.claim(&terminal, "fz-1", "alice").await;
    assert_eq!(status, 201, "{claim}");
    let claim_token = claim["claim_token"].as_u64().expect("claim token");
    let tables = tables(&app).await;
    assert!(tables.len() >= 5, "tables: {tables:?}");

    let mut fuzzer = Fuzzer {
        app: &app,
        rng: fastrand::Rng::with_seed(seed),
        terminal,
        claim_token,
        session,
        manager_session,
        spare_sessions,
    };
    let started = Instant::now();
    let mut failures: Vec<String> = Vec::new();
    let mut since_check: Vec<String> = Vec::new();
    let mut poisoned = false;
    let mut statuses: std::collections::BTreeMap<(String, u16), u32> = Default::default();
    for i in 0..requests {
        let (req, valid) = fuzzer.generate();
        let shown = format!(
            "#{i} ({}) {}",
            if valid { "valid token" } else { "bad token" },
            req.describe()
        );
        let before = row_counts(fuzzer.app, &tables).await;
        let answer = send(fuzzer.app, &req).await;
        let after = row_counts(fuzzer.app, &tables).await;
        since_check.push(shown.clone());
        let (status, body) = match answer {
            Ok(a) => a,
            Err(e) => {
                failures.push(format!("{shown}\n    -> {e}"));
                continue;
            }
        };
        let route = req.path.split('/').take(4).collect::<Vec<_>>().join("/");
        *statuses.entry((route, status)).or_default() += 1;
        let body_shown: String = body.chars().take(300).collect();
        if verbose {
            println!("{shown}\n    -> {status} {body_shown}");
        }
        if status >= 500 {
            failures.push(format!("{shown}\n    -> {status} {body_shown}"));
        }
        // The customer's payment-link page is HTML for a person, not the API's JSON.
        let customer_page = req.path.starts_with("/pay/");
        if !(200..300).contains(&status) && !customer_page && !is_error_shape(&body) {
            failures.push(format!(
                "{shown}\n    -> {status} not the JSON error shape: {body_shown:?}"
            ));
        }
        if (400..500).contains(&status) && before != after {
            // A stale refusal is recorded; but a token of 2^63 or more cannot be compared with
            // a stored one at all (it used to wrap to a negative number and be "stale").
            let wraps = req
                .body
                .as_deref()
                .and_then(|b| serde_json::from_slice::<Value>(b).ok())
                .and_then(|v| v.get("claim_token").and_then(Value::as_u64))
                .is_some_and(|t| i64::try_from(t).is_err());
            let stale = status == 409 && body.contains("\"stale_claim_token\"") && !wraps;
            let changed: Vec<String> = tables
                .iter()
                .zip(before.iter().zip(&after))
                .filter(|(_, (b, a))| b != a)
                .map(|(t, (b, a))| format!("{t} {b}->{a}"))
                .collect();
            let only_refusal = changed.len() == 1 && changed[0].starts_with("fencing_refusals ");
            // An authentication refusal is audited, and a wrong PIN counts toward the lockout;
            // a role's refusal (403) is audited as `forbidden`.
            let only_auth_records = changed
                .iter()
                .all(|c| c.starts_with("auth_audit ") || c.starts_with("sign_in_failures "));
            let only_audit = changed.iter().all(|c| c.starts_with("auth_audit "));
            let allowed = (stale && only_refusal)
                || (matches!(status, 401 | 429) && only_auth_records)
                || (status == 403 && only_audit);
            if !allowed {
                failures.push(format!(
                    "{shown}\n    -> {status} but changed {}: {body_shown}",
                    changed.join(", ")
                ));
            }
        }
        if !poisoned && ((i + 1) % CHECK_EVERY == 0 || i + 1 == requests) {
            let broken = listings(fuzzer.app).await;
            if !broken.is_empty() {
                poisoned = true;
                failures.push(format!(
                    "after one of these requests:\n      {}\n    -> {}",
                    since_check.join("\n      "),
                    broken.join("\n    -> ")
                ));
            }
            since_check.clear();
        }
    }
    let elapsed = started.elapsed();
    println!(
        "fuzz ({db:?}): {requests} requests in {:.1} s, {} failures",
        elapsed.as_secs_f64(),
        failures.len()
    );
    println!("fuzz ({db:?}): answers by route and status: {statuses:?}");
    app.stop().await;
    assert!(
        failures.is_empty(),
        "fuzz ({db:?}, PAYDESK_FUZZ_SEED={seed}): {} failures:\n{}",
        failures.len(),
        failures
            .iter()
            .take(40)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_route_survives_generated_input_sqlite() {
    fuzz_every_route(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_route_survives_generated_input_postgres() {
    fuzz_every_route(Db::Postgres).await;
}

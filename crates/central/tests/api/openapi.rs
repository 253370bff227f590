//! The OpenAPI document: served equals checked in, every route is really routed, and real
//! responses match their schemas (keys, required fields, enums, nullability).

use serde_json::{json, Value};

use crate::helpers::*;

/// Checks `value` against `schema` (the subset of JSON Schema the document uses).
fn check(doc: &Value, schema: &Value, value: &Value, at: &str) {
    if let Some(r) = schema["$ref"].as_str() {
        let name = r.trim_start_matches("#/components/schemas/");
        return check(doc, &doc["components"]["schemas"][name], value, at);
    }
    if let Some(options) = schema["oneOf"].as_array() {
        if value.is_null() && options.iter().any(|o| o["type"] == "null") {
            return;
        }
        return check(doc, &options[0], value, at);
    }
    if let Some(allowed) = schema["enum"].as_array() {
        assert!(allowed.contains(value), "{at}: {value} not in {allowed:?}");
    }
    match schema["type"].as_str() {
        Some("object") => {
            let obj = value
                .as_object()
                .unwrap_or_else(|| panic!("{at}: expected an object, got {value}"));
            let props = schema["properties"].as_object().unwrap();
            for key in obj.keys() {
                assert!(
                    props.contains_key(key),
                    "{at}: field {key} is not in the schema"
                );
            }
            for req in schema["required"].as_array().unwrap() {
                assert!(
                    obj.contains_key(req.as_str().unwrap()),
                    "{at}: required {req} is missing"
                );
            }
            for (key, v) in obj {
                check(doc, &props[key], v, &format!("{at}.{key}"));
            }
        }
        Some("array") => {
            for (i, v) in value
                .as_array()
                .unwrap_or_else(|| panic!("{at}: expected an array"))
                .iter()
                .enumerate()
            {
                check(doc, &schema["items"], v, &format!("{at}[{i}]"));
            }
        }
        Some("string") => assert!(value.is_string(), "{at}: expected a string, got {value}"),
        Some("integer") => assert!(
            value.is_i64() || value.is_u64(),
            "{at}: expected an integer, got {value}"
        ),
        Some("boolean") => assert!(value.is_boolean(), "{at}: expected a boolean, got {value}"),
        _ => {}
    }
}

fn response_schema(doc: &Value, method: &str, path: &str, status: &str) -> Value {
    doc["paths"][path][method]["responses"][status]["content"]["application/json"]["schema"].clone()
}

#[tokio::test]
async fn served_document_equals_the_checked_in_one_and_routes_exist() {
    let app = TestApp::spawn(Db::Sqlite, TestOptions::default()).await;
    let served = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json");
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(path, &served).unwrap();
    }
    let checked_in = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        served == checked_in,
        "crates/central/openapi.json differs from the served document; run \
         UPDATE_OPENAPI=1 cargo test -p paydesk-central --test api openapi and commit it"
    );
    for (method, path) in paydesk_central::http::ROUTES {
        let path = path.replace("{order_id}", "x");
        let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let (status, body) = app.send(method, &path, None, None).await;
        assert!(
            !(status == 404 && body["error"]["code"] == "not_found"),
            "{path} is documented but not routed"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn real_responses_match_their_schemas() {
    let app = TestApp::spawn(Db::Sqlite, TestOptions::default()).await;
    let doc: Value = serde_json::from_str(&paydesk_central::openapi::document_text()).unwrap();
    app.orders(&[("o-1", 1250, "EUR")]).await;
    app.operators(&["alice"]).await;
    let t1 = app.terminal("t1").await;
    let t2 = app.terminal("t2").await;
    let (_, claim) = app.claim(&t1, "o-1", "alice").await;
    check(
        &doc,
        &response_schema(&doc, "post", "/v1/orders/{order_id}/claim", "201"),
        &claim,
        "claim",
    );
    let (_, held) = app.claim(&t2, "o-1", "alice").await;
    check(
        &doc,
        &response_schema(&doc, "post", "/v1/orders/{order_id}/claim", "409"),
        &held,
        "held",
    );
    let (_, reg) = app
        .post(
            "/v1/orders/o-1/intent",
            &t1,
            json!({"claim_token": 1, "attempt_number": 1, "intent_id": "pi_1"}),
        )
        .await;
    check(
        &doc,
        &response_schema(&doc, "post", "/v1/orders/{order_id}/intent", "200"),
        &reg,
        "intent",
    );
    let (_, renew) = app
        .post("/v1/orders/o-1/claim/renew", &t1, json!({"claim_token": 1}))
        .await;
    check(
        &doc,
        &response_schema(&doc, "post", "/v1/orders/{order_id}/claim/renew", "200"),
        &renew,
        "renew",
    );
    let item = result_item(
        &attempt_id(),
        "o-1",
        1,
        1,
        "succeeded",
        1250,
        "EUR",
        Some("pi_1"),
    );
    let (_, results) = app.post("/v1/results", &t1, batch(1, vec![item])).await;
    check(
        &doc,
        &response_schema(&doc, "post", "/v1/results", "200"),
        &results,
        "results",
    );
    let (_, detail) = app.get("/v1/orders/o-1", &t1).await;
    check(
        &doc,
        &response_schema(&doc, "get", "/v1/orders/{order_id}", "200"),
        &detail,
        "detail",
    );
    // Whatever the result made of the order (paid once the gateway confirms it), its page.
    let status = detail["order"]["status"].as_str().unwrap().to_string();
    let (_, page) = app.get(&format!("/v1/orders?status={status}"), &t1).await;
    assert_eq!(page["orders"].as_array().unwrap().len(), 1, "{page}");
    check(
        &doc,
        &response_schema(&doc, "get", "/v1/orders", "200"),
        &page,
        "page",
    );
    for (path, name) in [("/v1/operators", "operators"), ("/health", "health")] {
        let (_, body) = app.get(path, &t1).await;
        check(
            &doc,
            &response_schema(&doc, "get", path, "200"),
            &body,
            name,
        );
    }
    for (path, name) in [("/v1/flags", "flags"), ("/v1/unresolved", "unresolved")] {
        let (status, body) = app.manager_get(path).await;
        assert_eq!(status, 200, "{body}");
        check(
            &doc,
            &response_schema(&doc, "get", path, "200"),
            &body,
            name,
        );
    }
    // Who is asking: a sign-in, a manager's allowance and its key, the admin's terminals.
    let (status, grant) = app.sign_in(&t2, "alice", OPERATOR_PIN).await;
    assert_eq!(status, 201, "{grant}");
    check(
        &doc,
        &response_schema(&doc, "post", "/v1/sessions", "201"),
        &grant,
        "grant",
    );
    let (status, wrong) = app.sign_in(&t2, "alice", "000000").await;
    assert_eq!(status, 401, "{wrong}");
    check(
        &doc,
        &response_schema(&doc, "post", "/v1/sessions", "401"),
        &wrong,
        "wrong pin",
    );
    let (manager_token, manager) = (app.terminal("t-mgr").await, "boss");
    app.managers(&[manager]).await;
    let session = app.session(&manager_token, manager).await;
    let (status, allowance) = app
        .send_as(
            reqwest::Method::POST,
            "/v1/offline-allowances",
            &manager_token,
            &session,
            Some(
                json!({"pin": MANAGER_PIN, "per_charge_max": {"minor": 1000, "currency": "EUR"},
                "per_shift_max": {"minor": 5000, "currency": "EUR"}, "duration_ms": 3_600_000,
                "cache_age_ms_max": 600_000}),
            ),
        )
        .await;
    assert_eq!(status, 201, "{allowance}");
    check(
        &doc,
        &response_schema(&doc, "post", "/v1/offline-allowances", "201"),
        &allowance,
        "allowance",
    );
    let (_, key) = app.get("/v1/allowance-key", &t1).await;
    check(
        &doc,
        &response_schema(&doc, "get", "/v1/allowance-key", "200"),
        &key,
        "key",
    );
    let (_, list) = app.get("/v1/admin/terminals", ADMIN_TOKEN).await;
    check(
        &doc,
        &response_schema(&doc, "get", "/v1/admin/terminals", "200"),
        &list,
        "terminals",
    );
    let (status, rotated) = app
        .post("/v1/admin/terminals/t2/rotate", ADMIN_TOKEN, json!({}))
        .await;
    assert_eq!(status, 200, "{rotated}");
    check(
        &doc,
        &response_schema(
            &doc,
            "post",
            "/v1/admin/terminals/{terminal_id}/rotate",
            "200",
        ),
        &rotated,
        "rotated",
    );
    app.stop().await;
}

//! Bad input: every refusal is a clear 4xx with a JSON error, never a 500, never a partial write.

use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::*;

async fn raw(
    app: &TestApp,
    path: &str,
    token: Option<&str>,
    content_type: &str,
    body: Vec<u8>,
) -> (u16, Value) {
    raw_as(app, path, token, None, content_type, body).await
}

/// [`raw`] with an operator session too.
async fn raw_as(
    app: &TestApp,
    path: &str,
    token: Option<&str>,
    session: Option<&str>,
    content_type: &str,
    body: Vec<u8>,
) -> (u16, Value) {
    let mut req = app
        .client
        .post(app.url(path))
        .header("content-type", content_type)
        .body(body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(s) = session {
        req = req.header(paydesk_protocol::SESSION_HEADER, s);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

fn assert_error(status: u16, body: &Value, expected: u16, code: &str) {
    assert_eq!(status, expected, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(
        !body["error"]["message"].as_str().unwrap_or("").is_empty(),
        "{body}"
    );
}

both_backends! {
    async fn malformed_and_hostile_bodies_get_clear_4xx(app) {
        app.orders(&[("o-1", 100, "EUR")]).await;
        app.operators(&["alice"]).await;
        let t1 = app.terminal("t1").await;
        let s1 = app.session(&t1, "alice").await;
        let claim = |path: &'static str, body: Value| {
            let (t1, s1) = (t1.clone(), s1.clone());
            async move { app.send_as(reqwest::Method::POST, path, &t1, &s1, Some(body)).await }
        };
        let (s, b) = raw_as(app, "/v1/orders/o-1/claim", Some(&t1), Some(&s1), "application/json", b"{not json".to_vec()).await;
        assert_error(s, &b, 400, "invalid_request");
        let (s, b) = claim("/v1/orders/o-1/claim", json!({"operator_id": "alice", "extra": 1})).await;
        assert_error(s, &b, 400, "invalid_request");
        assert!(b["error"]["message"].as_str().unwrap().contains("unknown field"), "{b}");
        let (s, b) = raw_as(app, "/v1/orders/o-1/claim", Some(&t1), Some(&s1), "text/plain", b"{}".to_vec()).await;
        assert_error(s, &b, 415, "unsupported_media_type");
        // Someone other than the person signed in: refused, nothing written.
        let (s, b) = claim("/v1/orders/o-1/claim", json!({"operator_id": "nobody"})).await;
        assert_error(s, &b, 403, "forbidden");
        assert!(app.order("o-1").await["order"]["claim"].is_null());
        let (s, b) = claim("/v1/orders/o%20x/claim", json!({"operator_id": "alice"})).await;
        assert_error(s, &b, 400, "invalid_request");
        let (s, b) = claim("/v1/orders/missing/claim", json!({"operator_id": "alice"})).await;
        assert_error(s, &b, 404, "order_not_found");

        // Amounts: negative, overflowing, unknown currency; none of them writes anything.
        for amount in [r#"{"minor": -1, "currency": "EUR"}"#,
                       r#"{"minor": 99999999999999999999, "currency": "EUR"}"#,
                       r#"{"minor": 1000000000000, "currency": "EUR"}"#,
                       r#"{"minor": 1e3, "currency": "EUR"}"#,
                       r#"{"minor": 100, "currency": "XXX"}"#] {
            let body = format!(r#"{{"orders": [
                {{"order_id": "ok-1", "amount": {{"minor": 5, "currency": "EUR"}}, "customer_id": "c", "payment_method_id": "p"}},
                {{"order_id": "bad", "amount": {amount}, "customer_id": "c", "payment_method_id": "p"}}]}}"#);
            let (s, b) = raw(app, "/v1/orders/import", Some(ADMIN_TOKEN), "application/json", body.into_bytes()).await;
            assert_error(s, &b, 400, "invalid_request");
            let (s, _) = app.get("/v1/orders/ok-1", ADMIN_TOKEN).await;
            assert_eq!(s, 404, "no partial import");
        }
        let mut item = result_item(&attempt_id(), "o-1", 1, 1, "succeeded", 100, "EUR", None);
        item["amount"]["minor"] = json!(-5);
        let (s, b) = app.post("/v1/results", &t1, batch(1, vec![item])).await;
        assert_error(s, &b, 400, "invalid_request");
        let (s, b) = app.post("/v1/results", &t1, json!({"journal_head": {"seq": 1, "hash": "xyz"}, "results": []})).await;
        assert_error(s, &b, 400, "invalid_request");
        let item = result_item("not-a-uuid", "o-1", 1, 1, "succeeded", 100, "EUR", None);
        let (s, b) = app.post("/v1/results", &t1, batch(1, vec![item])).await;
        assert_error(s, &b, 400, "invalid_request");
        assert_eq!(app.store.result_count().await.unwrap(), 0);

        // Too big.
        let big = vec![b' '; paydesk_central::http::BODY_BYTES_MAX + 10];
        let (s, b) = raw(app, "/v1/results", Some(&t1), "application/json", big).await;
        assert_error(s, &b, 413, "body_too_large");

        // Queries.
        let (s, b) = app.get("/v1/orders?limit=100000", &t1).await;
        assert_error(s, &b, 400, "invalid_request");
        let (s, b) = app.get("/v1/orders?bogus=1", &t1).await;
        assert_error(s, &b, 400, "invalid_request");
        let (s, b) = app.get("/v1/nowhere", &t1).await;
        assert_error(s, &b, 404, "not_found");
    }
}

both_backends! {
    async fn wrong_or_missing_tokens_are_401(app) {
        let t1 = app.terminal("t1").await;
        let (s, b) = app.send(reqwest::Method::GET, "/v1/orders", None, None).await;
        assert_error(s, &b, 401, "unauthorized");
        let (s, b) = app.get("/v1/orders", "pdt_wrong").await;
        assert_error(s, &b, 401, "unauthorized");
        let (s, b) = app.post("/v1/admin/terminals", &t1, json!({"terminal_id": "t9"})).await;
        assert_error(s, &b, 401, "unauthorized");
        let (s, b) = app.post("/v1/admin/terminals", ADMIN_TOKEN, json!({"terminal_id": "t1"})).await;
        assert_error(s, &b, 409, "conflict");
        // The admin token is not a terminal: it cannot claim.
        let (s, b) = app.post("/v1/orders/o/claim", ADMIN_TOKEN, json!({"operator_id": "a"})).await;
        assert_error(s, &b, 401, "unauthorized");
        let (s, b) = app.send(reqwest::Method::GET, "/health", None, None).await;
        assert_eq!(s, 200, "{b}");
        assert_eq!(b["status"], "ok");
    }
}

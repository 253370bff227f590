//! Offline allowances (issue 10, H3 at the central): a manager signed in, with the PIN again,
//! gets a grant for their terminal signed with the central's Ed25519 key, which verifies with
//! the public key `GET /v1/allowance-key` gives; it is stored in `offline_grants`. An operator
//! is refused, a wrong PIN is refused and counted, bad caps are refused with nothing written.

use ring::signature::{UnparsedPublicKey, ED25519};
use serde_json::{json, Value};
use sqlx::Row;

use crate::both_backends;
use crate::helpers::*;

fn request(pin: &str) -> Value {
    json!({ "pin": pin,
        "per_charge_max": {"minor": 5000, "currency": "EUR"},
        "per_shift_max": {"minor": 20000, "currency": "EUR"},
        "duration_ms": 3_600_000, "cache_age_ms_max": 600_000 })
}

async fn grants(app: &TestApp) -> i64 {
    sqlx::query("SELECT COUNT(*) AS n FROM offline_grants")
        .fetch_one(app.store.pool())
        .await
        .unwrap()
        .get("n")
}

async fn failures(app: &TestApp, operator: &str) -> i64 {
    sqlx::query("SELECT failures FROM sign_in_failures WHERE operator_id = $1")
        .bind(operator)
        .fetch_optional(app.store.pool())
        .await
        .unwrap()
        .map_or(0, |r| r.get("failures"))
}

async fn allow(app: &TestApp, token: &str, session: &str, body: Value) -> (u16, Value) {
    app.send_as(
        reqwest::Method::POST,
        "/v1/offline-allowances",
        token,
        session,
        Some(body),
    )
    .await
}

both_backends! {
    async fn a_managers_grant_is_signed_bound_to_the_terminal_and_stored(app) {
        app.managers(&["mia"]).await;
        let t1 = app.terminal("t1").await;
        let mia = app.session(&t1, "mia").await;
        let (s, signed) = allow(app, &t1, &mia, request(MANAGER_PIN)).await;
        assert_eq!(s, 201, "{signed}");
        let grant: paydesk_protocol::AllowanceGrant =
            serde_json::from_value(signed["grant"].clone()).unwrap();
        assert_eq!(grant.terminal_id.as_str(), "t1");
        assert_eq!(grant.approved_by.as_str(), "mia");
        assert_eq!(grant.until.unix_ms() - grant.granted_at.unix_ms(), 3_600_000);
        assert_eq!(grant.per_charge_max.minor(), 5000);

        let (s, key) = app.get("/v1/allowance-key", &t1).await;
        assert_eq!(s, 200, "{key}");
        let public = hex::decode(key["public_key"].as_str().unwrap()).unwrap();
        let signature = hex::decode(signed["signature"].as_str().unwrap()).unwrap();
        let verifier = UnparsedPublicKey::new(&ED25519, &public);
        assert!(verifier.verify(&grant.signing_bytes(), &signature).is_ok());
        let mut forged = grant.clone();
        forged.per_shift_max = paydesk_core::Money::parse("2000.00 EUR").unwrap();
        assert!(verifier.verify(&forged.signing_bytes(), &signature).is_err());

        let row = sqlx::query("SELECT * FROM offline_grants")
            .fetch_one(app.store.pool())
            .await
            .unwrap();
        assert_eq!(row.get::<String, _>("grant_id"), grant.grant_id);
        assert_eq!(row.get::<String, _>("terminal_id"), "t1");
        assert_eq!(row.get::<String, _>("approved_by"), "mia");
        assert_eq!(row.get::<String, _>("currency"), "EUR");
        assert_eq!(row.get::<i64, _>("per_charge_minor"), 5000);
        assert_eq!(row.get::<i64, _>("per_shift_minor"), 20000);
        assert_eq!(row.get::<i64, _>("cache_age_ms_max"), 600_000);
        assert_eq!(row.get::<i64, _>("until_at"), grant.until.unix_ms());
        assert_eq!(row.get::<String, _>("signature"), signed["signature"].as_str().unwrap());
        assert!(row.get::<String, _>("session_id").starts_with("ses_"));
    }
}

both_backends! {
    async fn an_operator_cannot_grant_and_a_wrong_pin_is_refused_and_counted(app) {
        app.operators(&["otto"]).await;
        app.managers(&["mia"]).await;
        let t1 = app.terminal("t1").await;
        let otto = app.session(&t1, "otto").await;
        let (s, b) = allow(app, &t1, &otto, request(OPERATOR_PIN)).await;
        assert_eq!(s, 403, "{b}");
        assert_eq!(b["error"]["code"], "forbidden");
        let (s, b) = app.post("/v1/offline-allowances", &t1, request(MANAGER_PIN)).await;
        assert_eq!(s, 401, "{b}");
        assert_eq!(b["error"]["code"], "session_required");
        let mia = app.session(&t1, "mia").await;
        let (s, b) = allow(app, &t1, &mia, request("00000000")).await;
        assert_eq!(s, 401, "{b}");
        assert_eq!(failures(app, "mia").await, 1, "a wrong PIN counts toward the lockout");
        assert_eq!(grants(app).await, 0);
    }
}

both_backends! {
    async fn bad_caps_are_refused_before_the_pin_and_write_nothing(app) {
        app.managers(&["mia"]).await;
        let t1 = app.terminal("t1").await;
        let mia = app.session(&t1, "mia").await;
        let cases: [(&str, Value); 6] = [
            ("per_charge_max", json!({"minor": 30000, "currency": "EUR"})),
            ("per_shift_max", json!({"minor": 20000, "currency": "USD"})),
            ("per_charge_max", json!({"minor": 0, "currency": "EUR"})),
            ("duration_ms", json!(0)),
            ("duration_ms", json!(paydesk_protocol::OFFLINE_ALLOWANCE_MS_MAX + 1)),
            ("cache_age_ms_max", json!(0)),
        ];
        for (field, value) in cases {
            let mut body = request("00000000");
            body[field] = value.clone();
            let (s, b) = allow(app, &t1, &mia, body).await;
            assert_eq!(s, 400, "{field} = {value}: {b}");
            assert_eq!(b["error"]["code"], "invalid_request");
        }
        assert_eq!(grants(app).await, 0);
        assert_eq!(failures(app, "mia").await, 0, "a refused request costs no PIN try");
    }
}

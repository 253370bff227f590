//! Terminal tokens revoked and rotated (issue 10, H5): a revoked token is refused within the
//! auth cache's lifetime while the central runs (at once when revoked through this central),
//! rotation invalidates the old token and issues a new one, and a revocation ends the
//! terminal's sessions. Both backends.

use std::time::{Duration, Instant};

use serde_json::json;
use sqlx::Row;

use crate::both_backends;
use crate::helpers::*;

async fn auth_events(app: &TestApp) -> Vec<(String, Option<String>)> {
    sqlx::query("SELECT event, token_id FROM auth_audit ORDER BY id")
        .fetch_all(app.store.pool())
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get("event"), r.get("token_id")))
        .collect()
}

both_backends! {
    async fn a_revoked_token_is_refused_at_once_and_its_sessions_end(app) {
        app.orders(&[("o-1", 100, "EUR")]).await;
        app.operators(&["alice"]).await;
        let t1 = app.terminal("t1").await;
        let session = app.session(&t1, "alice").await;
        let (s, _) = app.get("/v1/orders", &t1).await;
        assert_eq!(s, 200, "the token works and is cached");
        let (s, list) = app.get("/v1/admin/terminals", ADMIN_TOKEN).await;
        assert_eq!(s, 200);
        let token_id = list["terminals"][0]["token_id"].as_str().unwrap().to_string();
        assert!(token_id.starts_with("tok_"), "{list}");
        assert!(!list.to_string().contains(&t1), "no token in the listing");
        assert!(list["terminals"][0]["last_seen_at"].is_i64(), "{list}");

        let (s, b) = app.post("/v1/admin/terminals/t1/revoke", ADMIN_TOKEN, json!({})).await;
        assert_eq!(s, 204, "{b}");
        let (s, b) = app.get("/v1/orders", &t1).await;
        assert_eq!(s, 401, "refused at once, cache or not: {b}");
        assert_eq!(b["error"]["code"], "unauthorized");
        assert!(b["error"]["message"].as_str().unwrap().contains("revoked: ask an administrator"), "{b}");
        let ended: i64 = sqlx::query("SELECT COUNT(*) AS n FROM sessions WHERE ended_at IS NOT NULL")
            .fetch_one(app.store.pool())
            .await
            .unwrap()
            .get("n");
        assert_eq!(ended, 1, "the terminal's session ended with its token");
        let (s, list) = app.get("/v1/admin/terminals", ADMIN_TOKEN).await;
        assert_eq!(s, 200);
        assert!(list["terminals"][0]["revoked_at"].is_i64(), "{list}");
        assert!(auth_events(app).await.contains(&("token_revoked".to_string(), Some(token_id))));

        // Rotating gives the terminal a working token again; the old session stays ended.
        let (s, rotated) = app.post("/v1/admin/terminals/t1/rotate", ADMIN_TOKEN, json!({})).await;
        assert_eq!(s, 200, "{rotated}");
        let new_token = rotated["token"].as_str().unwrap();
        let (s, b) = app.send_as(reqwest::Method::POST, "/v1/orders/o-1/claim", new_token, &session,
            Some(json!({"operator_id": "alice"}))).await;
        assert_eq!(s, 401, "{b}");
        assert_eq!(b["error"]["code"], "session_expired");
        let (s, b) = app.post("/v1/admin/terminals/nobody/revoke", ADMIN_TOKEN, json!({})).await;
        assert_eq!(s, 404, "{b}");
    }
}

both_backends! {
    async fn a_rotated_token_replaces_the_old_one(app) {
        let t1 = app.terminal("t1").await;
        let (s, _) = app.get("/v1/orders", &t1).await;
        assert_eq!(s, 200);
        let (_, before) = app.get("/v1/admin/terminals", ADMIN_TOKEN).await;
        let (s, rotated) = app.post("/v1/admin/terminals/t1/rotate", ADMIN_TOKEN, json!({})).await;
        assert_eq!(s, 200, "{rotated}");
        assert_eq!(rotated["terminal_id"], "t1");
        let new_token = rotated["token"].as_str().unwrap();
        assert!(new_token.starts_with("pdt_") && new_token != t1);
        assert_ne!(rotated["token_id"], before["terminals"][0]["token_id"]);
        let (s, b) = app.get("/v1/orders", &t1).await;
        assert_eq!(s, 401, "the old token stops at once: {b}");
        let (s, b) = app.get("/v1/orders", new_token).await;
        assert_eq!(s, 200, "{b}");
        let (_, after) = app.get("/v1/admin/terminals", ADMIN_TOKEN).await;
        assert_eq!(after["terminals"][0]["token_id"], rotated["token_id"]);
        assert!(after["terminals"][0]["revoked_at"].is_null());
        let events: Vec<String> = auth_events(app).await.into_iter().map(|(e, _)| e).collect();
        assert_eq!(events, ["token_revoked", "token_rotated"]);
        // Not an admin: refused, audited, and the token is not in the audit.
        let (s, _) = app.post("/v1/admin/terminals/t1/rotate", new_token, json!({})).await;
        assert_eq!(s, 401);
        assert_eq!(auth_events(app).await.last().unwrap().0, "admin_401");
    }
}

both_backends! {
    /// A revocation made elsewhere (the CLI on the same database, here the store directly)
    /// reaches a running central within the auth cache's lifetime, without a restart.
    async fn a_token_revoked_behind_the_centrals_back_stops_within_seconds(app) {
        let t1 = app.terminal("t1").await;
        let (s, _) = app.get("/v1/orders", &t1).await;
        assert_eq!(s, 200, "cached now");
        let revoked_at = Instant::now();
        app.store
            .revoke_terminal(&"t1".parse().unwrap(), paydesk_central::clock::now())
            .await
            .unwrap()
            .expect("t1 exists");
        loop {
            let (s, _) = app.get("/v1/orders", &t1).await;
            if s == 401 {
                break;
            }
            assert_eq!(s, 200);
            assert!(
                revoked_at.elapsed()
                    < Duration::from_millis(paydesk_central::http_auth::AUTH_CACHE_MS + 1_000),
                "still accepted {:?} after the revocation",
                revoked_at.elapsed()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

//! Sessions (issue 10, H1, H2, M7, L1): signing in checks the PIN at the central under a lockout
//! that backs off and survives a restart; a session is bound to its terminal and ends when idle,
//! at its maximum age or on sign-out; a claim needs one and is made for its operator only.

use std::time::Duration;

use paydesk_central::rate_limit::Limit;
use paydesk_central::sessions::LockoutPolicy;
use serde_json::{json, Value};
use sqlx::Row;

use crate::both_backends;
use crate::helpers::*;

fn sha256_hex(text: &str) -> String {
    paydesk_central::auth::token_sha256(text)
}

async fn audit_events(app: &TestApp) -> Vec<String> {
    sqlx::query("SELECT event FROM auth_audit ORDER BY id")
        .fetch_all(app.store.pool())
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<String, _>("event"))
        .collect()
}

async fn claim_audit_rows(app: &TestApp) -> i64 {
    sqlx::query("SELECT COUNT(*) AS n FROM claim_audit")
        .fetch_one(app.store.pool())
        .await
        .unwrap()
        .get("n")
}

async fn claim_with(
    app: &TestApp,
    token: &str,
    session: &str,
    order: &str,
    who: &str,
) -> (u16, Value) {
    app.send_as(
        reqwest::Method::POST,
        &format!("/v1/orders/{order}/claim"),
        token,
        session,
        Some(json!({ "operator_id": who })),
    )
    .await
}

both_backends! {
    async fn sign_in_opens_a_session_stored_only_as_a_hash(app) {
        app.operators(&["alice"]).await;
        let t1 = app.terminal("t1").await;
        let (status, grant) = app.sign_in(&t1, "alice", OPERATOR_PIN).await;
        assert_eq!(status, 201, "{grant}");
        let token = grant["session_token"].as_str().unwrap();
        assert!(token.starts_with("pds_") && token.len() == 4 + 64, "{token}");
        assert_eq!(grant["operator_id"], "alice");
        assert_eq!(grant["role"], "operator");
        assert_eq!(grant["terminal_id"], "t1");
        assert_eq!(grant["idle_ms"], paydesk_protocol::SESSION_IDLE_MS);
        let row = sqlx::query("SELECT session_id, token_sha256, expires_at, created_at FROM sessions")
            .fetch_one(app.store.pool())
            .await
            .unwrap();
        assert_eq!(row.get::<String, _>("token_sha256"), sha256_hex(token));
        assert_eq!(row.get::<String, _>("session_id"), grant["session_id"].as_str().unwrap());
        let age = row.get::<i64, _>("expires_at") - row.get::<i64, _>("created_at");
        assert_eq!(age, paydesk_protocol::SESSION_AGE_MS_MAX);
        // The token itself is nowhere in the database.
        let hits: i64 = sqlx::query(
            "SELECT COUNT(*) AS n FROM sessions WHERE token_sha256 = $1 OR session_id = $1",
        )
        .bind(token)
        .fetch_one(app.store.pool())
        .await
        .unwrap()
        .get("n");
        assert_eq!(hits, 0);
        assert_eq!(audit_events(app).await, ["signed_in"]);
    }
}

both_backends! {
    async fn a_wrong_pin_and_an_unknown_operator_answer_alike_and_are_audited(app) {
        app.operators(&["alice"]).await;
        let t1 = app.terminal("t1").await;
        let (s_wrong, wrong) = app.sign_in(&t1, "alice", "000000").await;
        let (s_unknown, unknown) = app.sign_in(&t1, "mallory", OPERATOR_PIN).await;
        assert_eq!((s_wrong, s_unknown), (401, 401), "{wrong} {unknown}");
        assert_eq!(wrong, unknown, "the answer does not tell which ids exist");
        // A malformed PIN is not a guess: a 400, not counted.
        let (s, b) = app.sign_in(&t1, "alice", "12ab").await;
        assert_eq!(s, 400, "{b}");
        assert_eq!(audit_events(app).await, ["pin_wrong", "pin_wrong"]);
        let failures: i64 = sqlx::query("SELECT failures FROM sign_in_failures WHERE operator_id = 'alice'")
            .fetch_one(app.store.pool())
            .await
            .unwrap()
            .get("failures");
        assert_eq!(failures, 1);
        // A success resets the count.
        let (s, b) = app.sign_in(&t1, "alice", OPERATOR_PIN).await;
        assert_eq!(s, 201, "{b}");
        let left: i64 = sqlx::query("SELECT COUNT(*) AS n FROM sign_in_failures WHERE operator_id = 'alice'")
            .fetch_one(app.store.pool())
            .await
            .unwrap()
            .get("n");
        assert_eq!(left, 0);
    }
}

/// Five wrong PINs lock the operator (even the right PIN is refused, 429 `locked` with the time
/// and Retry-After); the next lock lasts twice as long; the lock survives a restart of the
/// central; after it a success signs in and resets everything.
#[tokio::test]
async fn lockout_backs_off_and_survives_a_restart() {
    for db in [Db::Sqlite, Db::Postgres] {
        let lockout = LockoutPolicy {
            failures_max: 5,
            lock_ms_first: 1_500,
            lock_ms_max: 60_000,
        };
        let options = || TestOptions {
            lockout: Some(lockout),
            ..Default::default()
        };
        let mut app = TestApp::spawn(db, options()).await;
        app.operators(&["alice"]).await;
        let t1 = app.terminal("t1").await;
        for i in 1..=4 {
            let (s, b) = app.sign_in(&t1, "alice", "000000").await;
            assert_eq!(s, 401, "wrong PIN {i}: {b}");
        }
        let (s, b) = app.sign_in(&t1, "alice", "000000").await;
        assert_eq!(s, 429, "the fifth wrong PIN locks: {b}");
        assert_eq!(b["error"]["code"], "locked");
        let (s, b) = app.sign_in(&t1, "alice", OPERATOR_PIN).await;
        assert_eq!(s, 429, "locked: even the right PIN is refused: {b}");
        let message = b["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("locked until 20") && message.contains("ask a manager"),
            "{message}"
        );
        let resp = app
            .client
            .post(app.url("/v1/sessions"))
            .bearer_auth(&t1)
            .json(&json!({"operator_id": "alice", "pin": OPERATOR_PIN}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 429);
        let retry: u64 = resp.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(
            (1..=2).contains(&retry),
            "whole seconds left of a 1.5 s lock: {retry}"
        );

        // The second lock lasts twice the first.
        tokio::time::sleep(Duration::from_millis(1_550)).await;
        for _ in 1..=5 {
            app.sign_in(&t1, "alice", "000000").await;
        }
        let row = sqlx::query("SELECT locked_until, updated_at, lock_count FROM sign_in_failures")
            .fetch_one(app.store.pool())
            .await
            .unwrap();
        assert_eq!(row.get::<i64, _>("lock_count"), 2);
        assert_eq!(
            row.get::<i64, _>("locked_until") - row.get::<i64, _>("updated_at"),
            3_000
        );

        // A restart over the same database: still locked.
        app.shutdown_server().await;
        let restarted = TestApp::spawn(
            db,
            TestOptions {
                db_arg: Some(app.db_arg.clone()),
                ..options()
            },
        )
        .await;
        let (s, b) = restarted.sign_in(&t1, "alice", OPERATOR_PIN).await;
        assert_eq!(s, 429, "the lock survives a restart: {b}");
        tokio::time::sleep(Duration::from_millis(3_050)).await;
        let (s, b) = restarted.sign_in(&t1, "alice", OPERATOR_PIN).await;
        assert_eq!(s, 201, "after the lock: {b}");
        let rows: i64 = sqlx::query("SELECT COUNT(*) AS n FROM sign_in_failures")
            .fetch_one(restarted.store.pool())
            .await
            .unwrap()
            .get("n");
        assert_eq!(rows, 0, "a success resets the back-off");
        let events = audit_events(&restarted).await;
        assert_eq!(events.iter().filter(|e| *e == "pin_wrong").count(), 10);
        assert!(
            events.iter().filter(|e| *e == "locked").count() >= 4,
            "{events:?}"
        );
        restarted.stop().await;
        app.stop().await;
    }
}

/// Wrong PINs from one terminal are limited across operators: spreading guesses over many ids
/// gains nothing.
#[tokio::test]
async fn wrong_pins_from_one_terminal_are_rate_limited_across_operators() {
    for db in [Db::Sqlite, Db::Postgres] {
        let app = TestApp::spawn(
            db,
            TestOptions {
                sign_in_failures: Some(Limit {
                    events_max: 3,
                    window_ms: 60_000,
                }),
                ..Default::default()
            },
        )
        .await;
        app.operators(&["alice", "bob", "carol", "dave"]).await;
        let t1 = app.terminal("t1").await;
        let t2 = app.terminal("t2").await;
        for who in ["alice", "bob", "carol"] {
            let (s, b) = app.sign_in(&t1, who, "000000").await;
            assert_eq!(s, 401, "{b}");
        }
        let (s, b) = app.sign_in(&t1, "dave", OPERATOR_PIN).await;
        assert_eq!(s, 429, "{b}");
        assert_eq!(b["error"]["code"], "rate_limited");
        assert!(audit_events(&app)
            .await
            .contains(&"rate_limited".to_string()));
        // Another terminal is not affected.
        let (s, b) = app.sign_in(&t2, "dave", OPERATOR_PIN).await;
        assert_eq!(s, 201, "{b}");
        app.stop().await;
    }
}

/// Sessions end after the idle time and at their maximum age, whatever their use.
#[tokio::test]
async fn sessions_end_when_idle_and_at_their_maximum_age() {
    for db in [Db::Sqlite, Db::Postgres] {
        for (idle, age, label) in [(1_000, 60_000, "idle"), (60_000, 1_500, "maximum age")] {
            let app = TestApp::spawn(
                db,
                TestOptions {
                    session_idle_ms: Some(idle),
                    session_age_ms_max: Some(age),
                    ..Default::default()
                },
            )
            .await;
            app.orders(&[("o-1", 100, "EUR")]).await;
            app.operators(&["alice"]).await;
            let t1 = app.terminal("t1").await;
            let session = app.session(&t1, "alice").await;
            let check = |pin: &'static str| {
                let (t1, session) = (t1.clone(), session.clone());
                let app = &app;
                async move {
                    app.send_as(
                        reqwest::Method::POST,
                        "/v1/sessions/check",
                        &t1,
                        &session,
                        Some(json!({ "pin": pin })),
                    )
                    .await
                }
            };
            // Used every 300 ms: alive while idle is the limit, not when age is.
            for _ in 0..3 {
                tokio::time::sleep(Duration::from_millis(300)).await;
                let (s, b) = check(OPERATOR_PIN).await;
                if label == "idle" {
                    assert_eq!(s, 204, "{label}: a session in use stays open: {b}");
                }
            }
            tokio::time::sleep(Duration::from_millis(1_200)).await;
            let (s, b) = claim_with(&app, &t1, &session, "o-1", "alice").await;
            assert_eq!(s, 401, "{label}: {b}");
            assert_eq!(b["error"]["code"], "session_expired");
            assert!(
                b["error"]["message"].as_str().unwrap().contains(label),
                "{b}"
            );
            assert_eq!(claim_audit_rows(&app).await, 0);
            app.stop().await;
        }
    }
}

both_backends! {
    async fn a_session_works_only_on_its_own_terminal(app) {
        app.orders(&[("o-1", 100, "EUR")]).await;
        app.operators(&["alice"]).await;
        let t1 = app.terminal("t1").await;
        let t2 = app.terminal("t2").await;
        let session = app.session(&t1, "alice").await;
        let (s, b) = claim_with(app, &t2, &session, "o-1", "alice").await;
        assert_eq!(s, 401, "{b}");
        assert_eq!(b["error"]["code"], "session_expired");
        assert!(b["error"]["message"].as_str().unwrap().contains("another terminal"), "{b}");
        let (s, b) = claim_with(app, &t1, "pds_made-up", "o-1", "alice").await;
        assert_eq!(s, 401, "{b}");
        assert_eq!(claim_audit_rows(app).await, 0);
        let (s, b) = claim_with(app, &t1, &session, "o-1", "alice").await;
        assert_eq!(s, 201, "{b}");
    }
}

both_backends! {
    /// Finding H1 on old main: a terminal claimed for any operator it named, no PIN at all.
    async fn a_claim_without_a_session_is_401_and_writes_nothing(app) {
        app.orders(&[("o-1", 100, "EUR")]).await;
        app.operators(&["alice"]).await;
        let t1 = app.terminal("t1").await;
        let (s, b) = app.post("/v1/orders/o-1/claim", &t1, json!({"operator_id": "alice"})).await;
        assert_eq!(s, 401, "{b}");
        assert_eq!(b["error"]["code"], "session_required");
        assert!(app.order("o-1").await["order"]["claim"].is_null());
        assert_eq!(claim_audit_rows(app).await, 0);
    }
}

both_backends! {
    /// Finding H1: alice's session cannot claim for bob (a manager, say); refused 403 and
    /// nothing is written. Her own claim records her session.
    async fn a_claim_for_another_operator_is_403_and_writes_nothing(app) {
        app.orders(&[("o-1", 100, "EUR")]).await;
        app.operators(&["alice"]).await;
        app.managers(&["bob"]).await;
        let t1 = app.terminal("t1").await;
        let alice = app.session(&t1, "alice").await;
        let (s, b) = claim_with(app, &t1, &alice, "o-1", "bob").await;
        assert_eq!(s, 403, "{b}");
        assert_eq!(b["error"]["code"], "forbidden");
        let detail = app.order("o-1").await;
        assert!(detail["order"]["claim"].is_null(), "{detail}");
        assert_eq!(detail["order"]["attempt_seq"], 0);
        assert_eq!(claim_audit_rows(app).await, 0);

        let (s, claim) = claim_with(app, &t1, &alice, "o-1", "alice").await;
        assert_eq!(s, 201, "{claim}");
        assert_eq!(claim["operator_id"], "alice");
        let session_id: Option<String> =
            sqlx::query("SELECT session_id FROM claim_audit WHERE event = 'claimed'")
                .fetch_one(app.store.pool())
                .await
                .unwrap()
                .get("session_id");
        let expected: String = sqlx::query("SELECT session_id FROM sessions WHERE token_sha256 = $1")
            .bind(sha256_hex(&alice))
            .fetch_one(app.store.pool())
            .await
            .unwrap()
            .get("session_id");
        assert_eq!(session_id, Some(expected));
    }
}

both_backends! {
    async fn signing_out_ends_the_session_at_once(app) {
        app.orders(&[("o-1", 100, "EUR")]).await;
        app.operators(&["alice"]).await;
        let t1 = app.terminal("t1").await;
        let session = app.session(&t1, "alice").await;
        let (s, b) = app.send_as(reqwest::Method::DELETE, "/v1/sessions/current", &t1, &session, None).await;
        assert_eq!(s, 204, "{b}");
        let (s, b) = claim_with(app, &t1, &session, "o-1", "alice").await;
        assert_eq!(s, 401, "{b}");
        assert_eq!(b["error"]["code"], "session_expired");
        let (s, _) = app.send_as(reqwest::Method::DELETE, "/v1/sessions/current", &t1, &session, None).await;
        assert_eq!(s, 401, "an ended session cannot sign out again");
        assert_eq!(audit_events(app).await, ["signed_in", "signed_out"]);
    }
}

both_backends! {
    async fn a_pin_check_needs_the_signed_in_persons_pin_and_counts_toward_the_lockout(app) {
        app.operators(&["alice"]).await;
        let t1 = app.terminal("t1").await;
        let session = app.session(&t1, "alice").await;
        let check = |pin: &'static str| {
            let (t1, session) = (t1.clone(), session.clone());
            async move {
                app.send_as(reqwest::Method::POST, "/v1/sessions/check", &t1, &session,
                    Some(json!({ "pin": pin }))).await
            }
        };
        let (s, b) = check(OPERATOR_PIN).await;
        assert_eq!(s, 204, "{b}");
        let (s, b) = check("000000").await;
        assert_eq!(s, 401, "{b}");
        let failures: i64 = sqlx::query("SELECT failures FROM sign_in_failures WHERE operator_id = 'alice'")
            .fetch_one(app.store.pool())
            .await
            .unwrap()
            .get("failures");
        assert_eq!(failures, 1);
        let (s, b) = app.post("/v1/sessions/check", &t1, json!({"pin": OPERATOR_PIN})).await;
        assert_eq!(s, 401, "{b}");
        assert_eq!(b["error"]["code"], "session_required");
    }
}

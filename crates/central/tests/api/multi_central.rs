//! Several centrals on one PostgreSQL database (issue 14, item 3): what must happen one at a
//! time across processes does, through PostgreSQL advisory locks. Two sweepers started together
//! make one pass between them (the other skips, and the gateway is asked once per intent); a
//! sweep lock held by a central that is gone no longer stops anyone; a person's refund turn at
//! one central makes the same person's turn at another wait. Each "central" here is a `Store` of
//! its own (its own pool, so its own PostgreSQL sessions), as a second process would have.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use paydesk_central::sweeper::{sweep_once, GatewayIntent, IntentEvidence, IntentLookup};
use paydesk_central::Store;
use paydesk_core::{GatewayIntentId, Timestamp};
use serde_json::json;

use crate::helpers::*;

/// A gateway that takes its time over every look-up and counts them; every intent is still
/// confirmable, so each pass asks again.
#[derive(Debug, Default)]
struct SlowGateway {
    lookups: AtomicUsize,
}

#[async_trait]
impl IntentLookup for SlowGateway {
    async fn intent(&self, _: &GatewayIntentId) -> Result<IntentEvidence, String> {
        self.lookups.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(40)).await;
        Ok(IntentEvidence::Pending {
            status: "requires_confirmation".into(),
        })
    }
    async fn intents_between(
        &self,
        _: Timestamp,
        _: Timestamp,
    ) -> Result<Vec<GatewayIntent>, String> {
        Ok(Vec::new())
    }
}

/// `n` orders claimed with an intent registered, so each expired claim needs a look-up.
async fn claims_with_intents(app: &TestApp, n: usize) {
    let orders: Vec<(String, i64, &str)> =
        (0..n).map(|i| (format!("multi-{i}"), 100, "EUR")).collect();
    let refs: Vec<(&str, i64, &str)> = orders
        .iter()
        .map(|(id, minor, cur)| (id.as_str(), *minor, *cur))
        .collect();
    app.orders(&refs).await;
    app.operators(&["alice"]).await;
    let t1 = app.terminal("t1").await;
    for (order, _, _) in &orders {
        let (s, claim) = app.claim(&t1, order, "alice").await;
        assert_eq!(s, 201, "{claim}");
        let (s, b) = app
            .post(
                &format!("/v1/orders/{order}/intent"),
                &t1,
                json!({"claim_token": claim["claim_token"],
                       "attempt_number": claim["attempt_number"],
                       "intent_id": format!("pi_{order}")}),
            )
            .await;
        assert_eq!(s, 200, "{b}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_sweepers_on_one_database_make_one_pass_between_them() {
    let app = TestApp::spawn(Db::Postgres, TestOptions::default()).await;
    claims_with_intents(&app, 10).await;
    // A second central: its own pool on the same database.
    let other = Store::open(&app.db_arg).await.unwrap();
    let gateway = Arc::new(SlowGateway::default());
    let later = paydesk_central::clock::now().plus_ms(61_000);
    let (a, b) = tokio::join!(
        sweep_once(&app.store, Some(gateway.as_ref()), later),
        sweep_once(&other, Some(gateway.as_ref()), later)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert!(
        a.skipped != b.skipped,
        "exactly one central sweeps, the other skips: {a:?} / {b:?}"
    );
    assert_eq!(a.unresolved + b.unresolved, 10, "{a:?} / {b:?}");
    assert_eq!(
        gateway.lookups.load(Ordering::SeqCst),
        10,
        "the gateway is asked once per intent, not once per central"
    );
    let (_, list) = app.get("/v1/unresolved", ADMIN_TOKEN).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 10, "{list}");

    // The lock is per pass: once it is released the other central sweeps.
    let again = sweep_once(&other, Some(gateway.as_ref()), later)
        .await
        .unwrap();
    assert!(!again.skipped, "{again:?}");
    other.close().await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sweep_lock_ends_with_the_central_that_held_it() {
    let app = TestApp::spawn(Db::Postgres, TestOptions::default()).await;
    let other = Store::open(&app.db_arg).await.unwrap();
    let gateway = SlowGateway::default();
    let now = paydesk_central::clock::now();
    // The other central is mid-pass (once the app's own first pass, made as it starts, is over):
    // this one skips.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let held = loop {
        if let Some(held) = other.try_sweep_lock().await.unwrap() {
            break held;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the lock is never free"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(held.is_shared());
    let skipped = sweep_once(&app.store, Some(&gateway), now).await.unwrap();
    assert!(skipped.skipped, "{skipped:?}");
    // The other central dies mid-pass: its session ends (terminated here, as a killed process's
    // connection is), and PostgreSQL ends its lock with it.
    sqlx::query(
        "SELECT count(*) AS n FROM (SELECT pg_terminate_backend(pid) FROM pg_locks \
         WHERE locktype = 'advisory' AND classid = 1346652977 AND objid = 1 \
         AND database = (SELECT oid FROM pg_database WHERE datname = current_database())) AS t",
    )
    .fetch_one(app.store.pool())
    .await
    .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let r = sweep_once(&app.store, Some(&gateway), now).await.unwrap();
        if !r.skipped {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the lock outlived its central"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Its guard finds the connection gone and closes it instead of returning it.
    drop(held);
    other.close().await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_persons_refund_turn_is_shared_by_every_central() {
    let app = TestApp::spawn(Db::Postgres, TestOptions::default()).await;
    let other = Store::open(&app.db_arg).await.unwrap();
    let turn = app.store.person_refund_lock("manager-1").await.unwrap();
    assert!(turn.is_shared());
    // Someone else refunds at the other central at once.
    let elsewhere = other.person_refund_lock("manager-2").await.unwrap();
    drop(elsewhere);
    // The same person at the other central waits for the first turn to end.
    let waiting = {
        let other = other.clone();
        tokio::spawn(async move { other.person_refund_lock("manager-1").await.map(|_| ()) })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !waiting.is_finished(),
        "two refund turns of one person at once"
    );
    drop(turn);
    tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("the turn passes once the first ends")
        .unwrap()
        .unwrap();
    other.close().await;
    app.stop().await;
}

//! Contention: many clients claiming a few hot orders. Never two holders at once (checked from
//! the server's own claim audit), no deadlock, no 5xx.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::*;

/// Concurrent clients and hot orders, as the issue asks.
const CLIENTS: usize = 50;
const HOT_ORDERS: usize = 10;
/// How long the clients hammer, in milliseconds.
const RUN_MS: u64 = 3_000;

async fn hammer(db: Db) {
    // A short lease so expiry-based takeovers happen too, not only releases.
    let app = TestApp::spawn(
        db,
        TestOptions {
            lease_ms: Some(150),
            ..Default::default()
        },
    )
    .await;
    let orders: Vec<String> = (0..HOT_ORDERS).map(|i| format!("hot-{i}")).collect();
    let rows: Vec<(&str, i64, &str)> = orders.iter().map(|o| (o.as_str(), 100, "EUR")).collect();
    app.orders(&rows).await;
    app.operators(&["alice"]).await;
    // Alice is signed in at five terminals; every claim goes through her session there.
    let mut tokens = Vec::new();
    for i in 0..5 {
        let token = app.terminal(&format!("t{i}")).await;
        let session = app.session(&token, "alice").await;
        tokens.push((token, session));
    }
    let deadline = Instant::now() + Duration::from_millis(RUN_MS);
    let mut handles = Vec::new();
    for c in 0..CLIENTS {
        let client = app.client.clone();
        let base = app.base.clone();
        let (token, session) = tokens[c % tokens.len()].clone();
        let orders = orders.clone();
        handles.push(tokio::spawn(async move {
            let mut counts: BTreeMap<u16, u32> = BTreeMap::new();
            let mut i = c;
            while Instant::now() < deadline {
                let order = &orders[i % orders.len()];
                i += 7;
                let r = client
                    .post(format!("{base}/v1/orders/{order}/claim"))
                    .bearer_auth(&token)
                    .header(paydesk_protocol::SESSION_HEADER, &session)
                    .json(&json!({"operator_id": "alice"}))
                    .send()
                    .await
                    .unwrap();
                let status = r.status().as_u16();
                *counts.entry(status).or_default() += 1;
                if status == 201 {
                    let claim: serde_json::Value = r.json().await.unwrap();
                    // Half the holders release, the rest let the lease run out. A release may come after
                    // the lease ran out and someone else took over: 409, as it should.
                    if i % 2 == 0 {
                        let r = client
                            .post(format!("{base}/v1/orders/{order}/claim/release"))
                            .bearer_auth(&token)
                            .json(&json!({"claim_token": claim["claim_token"]}))
                            .send()
                            .await
                            .unwrap();
                        *counts.entry(r.status().as_u16() + 1000).or_default() += 1;
                    }
                }
            }
            counts
        }));
    }
    let mut totals: BTreeMap<u16, u32> = BTreeMap::new();
    for h in handles {
        let counts = tokio::time::timeout(Duration::from_secs(60), h)
            .await
            .expect("no deadlock: every client finishes")
            .unwrap();
        for (k, v) in counts {
            *totals.entry(k).or_default() += v;
        }
    }
    assert!(totals.keys().all(|s| *s % 1000 < 500), "no 5xx: {totals:?}");
    assert!(
        totals.get(&201).copied().unwrap_or(0) > HOT_ORDERS as u32,
        "{totals:?}"
    );
    assert!(
        totals.keys().all(|s| matches!(s, 201 | 409 | 1200 | 1409)),
        "{totals:?}"
    );

    // Holdings from the audit: per order, ordered by token, each must start no earlier than the
    // previous one ended (its release, or the end of its last lease).
    let audit = app.store.claim_audit().await.unwrap();
    let mut holdings: BTreeMap<(String, i64), (i64, i64)> = BTreeMap::new();
    for row in &audit {
        let key = (row.order_id.clone(), row.claim_token);
        match row.event.as_str() {
            "claimed" => {
                holdings.insert(key, (row.at, row.lease_until.unwrap()));
            }
            "renewed" => holdings.get_mut(&key).unwrap().1 = row.lease_until.unwrap(),
            _ => {
                let h = holdings.get_mut(&key).expect("an end follows a claim");
                h.1 = h.1.min(row.at);
            }
        }
    }
    let mut checked = 0;
    let mut previous: Option<(&String, i64, i64)> = None;
    for ((order, token), (start, end)) in &holdings {
        if let Some((p_order, p_token, p_end)) = previous {
            if p_order == order {
                assert_eq!(
                    *token,
                    p_token + 1,
                    "tokens grow by one per claim of {order}"
                );
                assert!(*start >= p_end, "{order}: token {token} began at {start} before token {p_token} ended at {p_end}");
                checked += 1;
            }
        }
        previous = Some((order, *token, *end));
    }
    assert!(checked > 0);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn contention_never_two_holders_sqlite() {
    hammer(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn contention_never_two_holders_postgres() {
    hammer(Db::Postgres).await;
}

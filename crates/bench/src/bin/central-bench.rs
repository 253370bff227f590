//! `central-bench`: figures for the central on PostgreSQL, printed, not asserted.
//!
//! 1. Claims: N clients, each on its own order, claim and release over HTTP for D seconds
//!    (claims/s, p50/p99 of the claim request), beside a baseline in the same invocation: the
//!    same conditional claim UPDATE (and release UPDATE) issued directly by N connections.
//! 2. Results ingest: R results in batches of B over HTTP (rows/s), then the same batches again
//!    (all duplicates): replay time, and the row count before and after.
//!
//! It creates a fresh database and drops it at the end. Deliberately absent: pass/fail
//! thresholds (figures depend on the machine) and SQLite (the issue asks for PostgreSQL).

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::bail;
use clap::Parser;
use paydesk_bench::PG_URL_DEFAULT;
use paydesk_central::http::Config;
use paydesk_central::{auth, clock, Store};
use paydesk_core::{Currency, Money, OperatorId, OrderId, TerminalId};
use paydesk_protocol::{ImportOrder, Role};
use paydesk_testkit::PgDatabase;
use serde_json::json;
use sqlx::postgres::PgPoolOptions;

/// The benchmark operator's PIN (six digits, the operators' minimum).
const BENCH_PIN: &str = "246813";

#[derive(Debug, Parser)]
#[command(
    name = "central-bench",
    about = "Benchmark the central's claims and results ingest on PostgreSQL"
)]
struct Args {
    /// A PostgreSQL URL the bench may create and drop a database from.
    #[arg(long, default_value = PG_URL_DEFAULT)]
    pg: String,
    /// Concurrent clients (and raw connections for the baseline).
    #[arg(long, default_value_t = 50)]
    clients: usize,
    /// Seconds each claim phase runs.
    #[arg(long, default_value_t = 30)]
    seconds: u64,
    /// Results to ingest.
    #[arg(long, default_value_t = 10_000)]
    results: usize,
    /// Results per batch.
    #[arg(long, default_value_t = 500)]
    batch: usize,
}

/// Latency percentiles of a sorted list of microseconds.
fn percentile(sorted_us: &[u64], p: f64) -> f64 {
    if sorted_us.is_empty() {
        return 0.0;
    }
    let i = ((sorted_us.len() as f64 - 1.0) * p).round() as usize;
    sorted_us[i] as f64 / 1000.0
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.clients == 0 || args.batch == 0 || args.seconds == 0 {
        bail!("--clients, --batch and --seconds must be positive");
    }
    let db = PgDatabase::try_create(&args.pg, "paydesk_bench").await?;
    let outcome = run(&args, db.url()).await;
    db.drop_now().await?;
    outcome
}

async fn run(args: &Args, url: &str) -> anyhow::Result<()> {
    let store = Store::open(url).await?;
    let eur = Currency::from_code("EUR")?;
    let order = |id: String| -> anyhow::Result<ImportOrder> {
        Ok(ImportOrder {
            order_id: OrderId::new(id)?,
            amount: Money::new(1000, eur)?,
            customer_id: "cus_bench".into(),
            payment_method_id: "pm_card_visa".into(),
            description: String::new(),
            gateway: paydesk_protocol::GatewayName::Stripe,
        })
    };
    let mut orders = Vec::new();
    for i in 0..args.clients {
        orders.push(order(format!("claim-{i}"))?);
        orders.push(order(format!("raw-{i}"))?);
    }
    for i in 0..args.results {
        orders.push(order(format!("ingest-{i}"))?);
    }
    for chunk in orders.chunks(paydesk_protocol::IMPORT_ORDERS_MAX) {
        store.import_orders(chunk, clock::now()).await?;
    }
    let token = auth::new_token();
    store
        .add_terminal(
            &TerminalId::new("bench")?,
            &auth::token_sha256(&token),
            clock::now(),
        )
        .await?;
    store
        .upsert_operator(
            &OperatorId::new("bench-op")?,
            Role::Operator,
            &auth::hash_pin(BENCH_PIN).map_err(anyhow::Error::msg)?,
            clock::now(),
        )
        .await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let running = paydesk_central::start(store.clone(), Config::default(), None, listener)?;
    let base = format!("http://{}", running.addr);
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.clients)
        .build()?;
    let duration = Duration::from_secs(args.seconds);
    // A claim is made by a person signed in: one session, sent with every claim.
    let grant: serde_json::Value = client
        .post(format!("{base}/v1/sessions"))
        .bearer_auth(&token)
        .json(&json!({"operator_id": "bench-op", "pin": BENCH_PIN}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let session = grant["session_token"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("sign-in answered no session token"))?
        .to_string();

    println!(
        "central-bench: PostgreSQL, {} clients, {} s per claim phase, {} results in batches of {}",
        args.clients, args.seconds, args.results, args.batch
    );

    // Claims over HTTP.
    let deadline = Instant::now() + duration;
    let mut tasks = Vec::new();
    for i in 0..args.clients {
        let client = client.clone();
        let base = base.clone();
        let token = token.clone();
        let session = session.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0u64;
            while Instant::now() < deadline {
                let started = Instant::now();
                let r = client
                    .post(format!("{base}/v1/orders/claim-{i}/claim"))
                    .bearer_auth(&token)
                    .header(paydesk_protocol::SESSION_HEADER, &session)
                    .json(&json!({"operator_id": "bench-op"}))
                    .send()
                    .await;
                let claim: serde_json::Value = match r {
                    Ok(r) if r.status().as_u16() == 201 => r.json().await.unwrap_or_default(),
                    _ => {
                        errors += 1;
                        continue;
                    }
                };
                latencies.push(started.elapsed().as_micros() as u64);
                let r = client
                    .post(format!("{base}/v1/orders/claim-{i}/claim/release"))
                    .bearer_auth(&token)
                    .json(&json!({"claim_token": claim["claim_token"]}))
                    .send()
                    .await;
                if !matches!(r, Ok(ref r) if r.status().is_success()) {
                    errors += 1;
                }
            }
            (latencies, errors)
        }));
    }
    let started = Instant::now();
    let mut latencies = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await?;
        latencies.extend(l);
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort_unstable();
    let http_rate = latencies.len() as f64 / elapsed;
    println!(
        "claims via HTTP : {:>8} claims in {elapsed:.1} s = {http_rate:>8.0} claims/s  p50 {:.2} ms  p99 {:.2} ms  (each followed by a release; {errors} errors)",
        latencies.len(),
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99),
    );

    // Baseline: the same conditional UPDATEs straight to PostgreSQL.
    let pool = PgPoolOptions::new()
        .max_connections(args.clients as u32)
        .connect(url)
        .await?;
    let pool = Arc::new(pool);
    let deadline = Instant::now() + duration;
    let mut tasks = Vec::new();
    for i in 0..args.clients {
        let pool = pool.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let order = format!("raw-{i}");
            while Instant::now() < deadline {
                let now = clock::now().unix_ms();
                let started = Instant::now();
                let claimed = sqlx::query(
                    "UPDATE orders SET claim_token = claim_token + 1, attempt_seq = attempt_seq + 1, \
                     holder_operator = $1, holder_terminal = $2, claimed_at = $3, lease_until = $4, \
                     updated_at = $3 WHERE order_id = $5 AND status IN ('unpaid', 'failed', 'needs_action') \
                     AND (holder_terminal IS NULL OR lease_until <= $3) RETURNING claim_token",
                )
                .bind("bench-op")
                .bind("bench")
                .bind(now)
                .bind(now + 120_000)
                .bind(&order)
                .fetch_optional(&*pool)
                .await;
                let Ok(Some(_)) = claimed else { continue };
                latencies.push(started.elapsed().as_micros() as u64);
                let _ = sqlx::query(
                    "UPDATE orders SET holder_operator = NULL, holder_terminal = NULL, \
                     claimed_at = NULL, lease_until = NULL WHERE order_id = $1",
                )
                .bind(&order)
                .execute(&*pool)
                .await;
            }
            latencies
        }));
    }
    let started = Instant::now();
    let mut raw = Vec::new();
    for t in tasks {
        raw.extend(t.await?);
    }
    let elapsed = started.elapsed().as_secs_f64();
    raw.sort_unstable();
    let raw_rate = raw.len() as f64 / elapsed;
    println!(
        "claims raw SQL  : {:>8} claims in {elapsed:.1} s = {raw_rate:>8.0} claims/s  p50 {:.2} ms  p99 {:.2} ms  (each followed by a release UPDATE)",
        raw.len(),
        percentile(&raw, 0.50),
        percentile(&raw, 0.99),
    );
    println!(
        "HTTP / raw      : {:.2} (the issue aims for at least 0.25)",
        http_rate / raw_rate.max(1.0)
    );
    pool.close().await;

    // Results ingest.
    let items: Vec<serde_json::Value> = (0..args.results)
        .map(|i| {
            json!({
                "attempt_id": uuid::Uuid::now_v7().to_string(), "order_id": format!("ingest-{i}"),
                "attempt_number": 1, "claim_token": 1, "outcome": "succeeded",
                "amount": {"minor": 1000, "currency": "EUR"}, "intent_id": format!("pi_bench_{i}"),
                "offline": true, "occurred_at": clock::now().unix_ms()
            })
        })
        .collect();
    let batches: Vec<serde_json::Value> = items
        .chunks(args.batch)
        .enumerate()
        .map(|(n, chunk)| {
            json!({"journal_head": {"seq": n + 1, "hash": format!("{:064x}", n + 1)}, "results": chunk})
        })
        .collect();
    let mut passes = Vec::new();
    for pass in ["first pass", "replay"] {
        let started = Instant::now();
        let mut statuses = std::collections::BTreeMap::<String, usize>::new();
        for b in &batches {
            let r = client
                .post(format!("{base}/v1/results"))
                .bearer_auth(&token)
                .json(b)
                .send()
                .await?;
            if !r.status().is_success() {
                bail!("results batch answered {}", r.status());
            }
            let body: serde_json::Value = r.json().await?;
            for item in body["items"].as_array().into_iter().flatten() {
                *statuses
                    .entry(item["status"].as_str().unwrap_or("?").to_string())
                    .or_default() += 1;
            }
        }
        let elapsed = started.elapsed().as_secs_f64();
        let rows = store.result_count().await?;
        println!(
            "results {pass:<8}: {} results in {elapsed:.2} s = {:>8.0} rows/s  statuses {statuses:?}  rows stored {rows}",
            args.results,
            args.results as f64 / elapsed
        );
        passes.push((elapsed, rows));
    }
    println!(
        "replay / first  : {:.2} of the time, rows added by the replay: {}",
        passes[1].0 / passes[0].0,
        passes[1].1 - passes[0].1
    );
    running.shutdown().await;
    store.close().await;
    Ok(())
}

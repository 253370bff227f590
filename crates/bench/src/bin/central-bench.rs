//! `central-bench`: figures for the central on PostgreSQL, printed, not asserted.
//!
//! 1. Claims: N clients, each on its own order, claim and release over HTTP for D seconds
//!    (claims/s, p50/p99 of the claim request), beside a baseline in the same invocation: the
//!    same conditional claim UPDATE (and release UPDATE) issued directly by N connections.
//! 2. Results ingest: R online results (declines, each under a claim the central granted the
//!    bench terminal) in batches of B over HTTP (results/s), beside a baseline in the same
//!    invocation: the same batches' rows written by raw SQL (one INSERT and one UPDATE per batch),
//!    and the ratio; then the same batches again (all duplicates): the replay's time as a fraction
//!    of the first pass, and the rows it added.
//!
//! `--mode claims|ingest` runs one part only.
//!
//! It creates a fresh database and drops it at the end. Deliberately absent: pass/fail
//! thresholds (figures depend on the machine) and SQLite (the issue asks for PostgreSQL).

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::bail;
use clap::Parser;
use paydesk_bench::PG_URL_DEFAULT;
use paydesk_central::http::Config;
use paydesk_central::Store as CentralStore;
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
    /// Which part to run.
    #[arg(long, value_enum, default_value_t = Mode::All)]
    mode: Mode,
}

/// The parts of the bench.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Mode {
    All,
    Claims,
    Ingest,
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
            customer_name: String::new(),
        })
    };
    let mut orders = Vec::new();
    for i in 0..args.clients {
        orders.push(order(format!("claim-{i}"))?);
        orders.push(order(format!("raw-{i}"))?);
    }
    for i in 0..args.results {
        orders.push(order(format!("ingest-{i}"))?);
        orders.push(order(format!("raw-ingest-{i}"))?);
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

    if args.mode != Mode::Ingest {
        claims(args, &client, &base, &token, &session, url).await?;
    }

    if args.mode != Mode::Claims {
        ingest(args, &store, &client, &base, &token, url).await?;
    }
    running.shutdown().await;
    store.close().await;
    Ok(())
}

/// Claims over HTTP for `--seconds`, beside the same conditional UPDATEs straight to PostgreSQL.
async fn claims(
    args: &Args,
    client: &reqwest::Client,
    base: &str,
    token: &str,
    session: &str,
    url: &str,
) -> anyhow::Result<()> {
    let duration = Duration::from_secs(args.seconds);
    // Claims over HTTP.
    let deadline = Instant::now() + duration;
    let mut tasks = Vec::new();
    for i in 0..args.clients {
        let client = client.clone();
        let base = base.to_string();
        let token = token.to_string();
        let session = session.to_string();
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
    Ok(())
}

/// Lease of the ingest's claims: none expires while the bench runs.
const INGEST_LEASE_MS: i64 = 24 * 3_600_000;

/// Claims each of `orders` for the bench terminal at the store, 8 at a time, as the terminal did
/// before it charged: (claim token, attempt number) per order, in the same order.
async fn claim_all(store: &CentralStore, orders: &[String]) -> anyhow::Result<Vec<(u64, u32)>> {
    const WORKERS: usize = 8;
    let mut tasks = Vec::new();
    for w in 0..WORKERS {
        let store = store.clone();
        let orders = orders.to_vec();
        tasks.push(tokio::spawn(async move {
            let terminal = TerminalId::new("bench")?;
            let operator = OperatorId::new("bench-op")?;
            let mut out = Vec::new();
            for i in (w..orders.len()).step_by(WORKERS) {
                let claim = store
                    .claim(
                        &OrderId::new(orders[i].clone())?,
                        &operator,
                        &terminal,
                        None,
                        clock::now(),
                        INGEST_LEASE_MS,
                    )
                    .await?;
                out.push((i, claim.claim_token.get(), claim.attempt_number.get()));
            }
            Ok::<_, anyhow::Error>(out)
        }));
    }
    let mut claims = vec![(0, 0); orders.len()];
    for t in tasks {
        for (i, token, attempt) in t.await?? {
            claims[i] = (token, attempt);
        }
    }
    Ok(claims)
}

/// Results ingest: `--results` online declines, each under a claim the central granted the bench
/// terminal (so each is applied: the order fails, its claim ends and is audited), in batches of
/// `--batch` over HTTP; then the same batches again (a replay: all duplicates). Beside it, the
/// baseline: the same batches' rows written by raw SQL on orders of their own, one INSERT of the
/// results and one UPDATE of the orders per batch in one transaction, with no rule checked.
async fn ingest(
    args: &Args,
    store: &CentralStore,
    client: &reqwest::Client,
    base: &str,
    token: &str,
    url: &str,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let orders: Vec<String> = (0..args.results).map(|i| format!("ingest-{i}")).collect();
    let claims = claim_all(store, &orders).await?;
    println!(
        "claimed {} orders for the ingest in {:.1} s",
        orders.len(),
        started.elapsed().as_secs_f64()
    );
    let occurred_at = clock::now().unix_ms();
    let items: Vec<serde_json::Value> = orders
        .iter()
        .zip(&claims)
        .map(|(order, (token, attempt))| {
            json!({
                "attempt_id": uuid::Uuid::now_v7().to_string(), "order_id": order,
                "attempt_number": attempt, "claim_token": token, "outcome": "declined",
                "amount": {"minor": 1000, "currency": "EUR"}, "intent_id": null,
                "offline": false, "occurred_at": occurred_at
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
        let before = store.result_count().await?;
        let started = Instant::now();
        let mut statuses = std::collections::BTreeMap::<String, usize>::new();
        for b in &batches {
            let r = client
                .post(format!("{base}/v1/results"))
                .bearer_auth(token)
                .json(b)
                .send()
                .await?;
            if !r.status().is_success() {
                bail!("results batch answered {}: {}", r.status(), r.text().await?);
            }
            let body: serde_json::Value = r.json().await?;
            for item in body["items"].as_array().into_iter().flatten() {
                *statuses
                    .entry(item["status"].as_str().unwrap_or("?").to_string())
                    .or_default() += 1;
            }
        }
        let elapsed = started.elapsed().as_secs_f64();
        let added = store.result_count().await? - before;
        println!(
            "results {pass:<10}: {} results in {elapsed:.3} s = {:>8.0} results/s  statuses {statuses:?}  rows added {added}",
            args.results,
            args.results as f64 / elapsed
        );
        passes.push((elapsed, added));
    }

    // Baseline: the same rows, raw SQL, no rules, no HTTP.
    let raw_orders: Vec<String> = (0..args.results)
        .map(|i| format!("raw-ingest-{i}"))
        .collect();
    let raw_claims = claim_all(store, &raw_orders).await?;
    let pool = PgPoolOptions::new().max_connections(1).connect(url).await?;
    let started = Instant::now();
    let mut rows_written = 0u64;
    let rows: Vec<(&String, &(u64, u32))> = raw_orders.iter().zip(&raw_claims).collect();
    for chunk in rows.chunks(args.batch) {
        let now = clock::now().unix_ms();
        let mut tx = pool.begin().await?;
        let values: Vec<String> = (0..chunk.len())
            .map(|r| {
                let b = r * 5 + 2;
                format!(
                    "(${b}, 0, ${}, ${}, ${}, 'bench', 'declined', 1000, 'EUR', NULL, 0, ${}, $1, 'applied', NULL, 0)",
                    b + 1,
                    b + 2,
                    b + 3,
                    b + 4
                )
            })
            .collect();
        let sql = format!(
            "INSERT INTO results (attempt_id, interim, order_id, attempt_number, claim_token, \
             terminal_id, outcome, amount_minor, currency, intent_id, offline, occurred_at, \
             received_at, status, reason, suspect) VALUES {} \
             ON CONFLICT (attempt_id, interim) DO NOTHING",
            values.join(", ")
        );
        let mut query = sqlx::query(&sql).bind(now);
        for (order, (token, attempt)) in chunk {
            query = query
                .bind(uuid::Uuid::now_v7().to_string())
                .bind(order.as_str())
                .bind(i64::from(*attempt))
                .bind(*token as i64)
                .bind(occurred_at);
        }
        rows_written += query.execute(&mut *tx).await?.rows_affected();
        let list: Vec<String> = (0..chunk.len()).map(|r| format!("(${})", r + 2)).collect();
        let sql = format!(
            "UPDATE orders SET status = 'failed', holder_operator = NULL, holder_terminal = NULL, \
             claimed_at = NULL, lease_until = NULL, ended_at = $1, updated_at = $1 \
             FROM (VALUES {}) AS v WHERE orders.order_id = v.column1",
            list.join(", ")
        );
        let mut query = sqlx::query(&sql).bind(now);
        for (order, _) in chunk {
            query = query.bind(order.as_str());
        }
        query.execute(&mut *tx).await?;
        tx.commit().await?;
    }
    let raw_elapsed = started.elapsed().as_secs_f64();
    pool.close().await;
    let raw_rate = args.results as f64 / raw_elapsed;
    let rate = args.results as f64 / passes[0].0;
    println!(
        "results raw SQL   : {} results in {raw_elapsed:.3} s = {raw_rate:>8.0} results/s  (one INSERT + one UPDATE per batch of {}; {rows_written} rows)",
        args.results, args.batch
    );
    println!(
        "set-based / raw   : {:.2}   target at least 20,000 results/s: {} ({rate:.0})",
        rate / raw_rate.max(1.0),
        if rate >= 20_000.0 { "met" } else { "MISSED" }
    );
    println!(
        "replay / first    : {:.3} of the time (target at most 0.1: {}), rows added by the replay: {}",
        passes[1].0 / passes[0].0,
        if passes[1].0 / passes[0].0 <= 0.1 { "met" } else { "MISSED" },
        passes[1].1
    );
    Ok(())
}

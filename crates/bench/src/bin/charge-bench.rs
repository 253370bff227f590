//! Charge overhead: the full Paydesk flow (claim at the central, five durable journal steps,
//! register, create and confirm at the gateway) against a bare create + confirm to the same
//! sandbox, interleaved one for one in the same run, at each gateway latency asked for.
//!
//! Prints p50/p99 of both, the p50 added by Paydesk and the ratio; then the gateway calls per
//! successful charge of each, as the sandbox counted them (`/admin/calls`, per API key: the full
//! flow and the baseline use different keys), against the target of at most 2. The central runs on a fresh
//! PostgreSQL database (a separate process), so `strace -f -c -e trace=fsync,fdatasync` on this
//! process counts the journal's durable writes alone (see scripts/bench.sh).

use std::time::{Duration, Instant};

use anyhow::bail;
use clap::Parser;
use paydesk_bench::{ms, percentile, PG_URL_DEFAULT};
use paydesk_core::{
    AttemptNumber, AttemptState, GatewayIntentId, IdempotencyKey, Money, OrderId, TerminalId,
};
use paydesk_engine::{ChargeRequest, RelayOutcome};
use paydesk_gateway::{
    ApiKey, ConfirmRequest, ConfirmResult, CreateIntentRequest, CreateResult, IntentMetadata,
    StripeConfig, StripeGateway,
};
use paydesk_testkit::PgDatabase;

#[derive(Parser, Debug)]
#[command(about = "Charge overhead: full flow vs a bare gateway create + confirm")]
struct Args {
    /// PostgreSQL server for the central (a fresh database is created and dropped).
    #[arg(long, default_value = PG_URL_DEFAULT)]
    pg: String,
    /// Gateway latencies to measure at, in milliseconds, comma-separated.
    #[arg(long, default_value = "0,300", value_delimiter = ',')]
    latency_ms: Vec<u64>,
    /// Charges per mode at 0 ms latency.
    #[arg(long, default_value_t = 200)]
    charges: usize,
    /// Charges per mode at a latency above 0 (each costs two round trips of that latency).
    #[arg(long, default_value_t = 20)]
    slow_charges: usize,
}

/// Warm-up pairs per latency, not counted (connection pools, SQLite page cache, JIT-free but
/// first-touch costs).
const WARMUP_PAIRS: usize = 3;

/// The full flow's key is `paydesk_bench::gateway`'s; the baseline's is this one, so the sandbox
/// counts the two apart.
const BARE_KEY: &str = "sk_test_paydesk_bare";

/// Issue 14's target: at most this many gateway calls per successful charge.
const CALLS_PER_CHARGE_MAX: f64 = 2.0;

/// One latency's gateway calls, as the sandbox counted them.
struct Calls {
    latency: u64,
    charges: usize,
    full: serde_json::Value,
    bare: serde_json::Value,
}

fn count_for(args: &Args, latency: u64) -> usize {
    if latency == 0 {
        args.charges
    } else {
        args.slow_charges
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.charges == 0 || args.slow_charges == 0 || args.latency_ms.is_empty() {
        bail!("--charges, --slow-charges and --latency-ms must be positive");
    }
    let db = PgDatabase::try_create(&args.pg, "paydesk_bench").await?;
    let outcome = run(&args, db.url()).await;
    db.drop_now().await?;
    outcome
}

async fn run(args: &Args, db_url: &str) -> anyhow::Result<()> {
    let amount = Money::parse("10.00 EUR")?;
    let mut orders = Vec::new();
    for &latency in &args.latency_ms {
        for i in 0..count_for(args, latency) + WARMUP_PAIRS {
            orders.push((format!("bench-{latency}-{i}"), amount, "pm_card_visa"));
        }
    }
    let central = paydesk_bench::prepare_central(db_url, &orders).await?;
    let running = paydesk_bench::serve(&central).await?;
    let central_url = format!("http://{}", running.addr);
    let sandbox = paydesk_sandbox::spawn(paydesk_sandbox::SandboxConfig::default()).await?;
    let gateway = paydesk_bench::gateway(&sandbox.base_url)?;
    let bare_gateway = StripeGateway::new(
        ApiKey::new(BARE_KEY)?,
        StripeConfig::with_base_url(&sandbox.base_url),
    )?;
    let dir = tempfile::tempdir()?;
    let engine = paydesk_bench::signed_in_engine(
        &dir.path().join("journal.sqlite"),
        &central_url,
        &central,
        gateway.clone(),
        paydesk_engine::OUTBOX_BATCH_ROWS_MAX,
    )
    .await?;
    let admin = reqwest::Client::new();

    println!(
        "charge overhead: full Paydesk flow vs bare create + confirm, same sandbox, interleaved"
    );
    println!(
        "{:>10} {:>6} {:>10} {:>10} {:>10} {:>10} {:>12} {:>8}",
        "latency", "n", "bare p50", "bare p99", "full p50", "full p99", "added p50", "ratio"
    );
    let calls_url = format!("{}/admin/calls", sandbox.base_url);
    let mut calls = Vec::new();
    for &latency in &args.latency_ms {
        admin.delete(&calls_url).send().await?.error_for_status()?;
        let faults = format!("{}/admin/faults", sandbox.base_url);
        admin.delete(&faults).send().await?.error_for_status()?;
        if latency > 0 {
            let specs: Vec<String> = ["create", "confirm"]
                .iter()
                .map(|e| format!("{e}:latency={latency}:1000000"))
                .collect();
            admin
                .post(&faults)
                .json(&serde_json::json!({ "specs": specs }))
                .send()
                .await?
                .error_for_status()?;
        }
        let n = count_for(args, latency);
        let mut bare = Vec::with_capacity(n);
        let mut full = Vec::with_capacity(n);
        for i in 0..n + WARMUP_PAIRS {
            let started = Instant::now();
            bare_charge(&bare_gateway, &format!("{latency}-{i}"), amount).await?;
            let bare_took = started.elapsed();

            let order = OrderId::new(format!("bench-{latency}-{i}"))?;
            let started = Instant::now();
            let report = engine
                .charge(
                    &ChargeRequest {
                        order,
                        operator: central.operator.clone(),
                        expected_amount: amount,
                    },
                    &|_| {},
                )
                .await
                // The engine's error in full: some of its variants say little in Display alone.
                .map_err(|e| anyhow::anyhow!("full charge: {e} ({e:?})"))?;
            let full_took = started.elapsed();
            if report.state() != AttemptState::Succeeded {
                bail!("a bench charge ended {:?}", report.attempt);
            }
            if i >= WARMUP_PAIRS {
                bare.push(bare_took);
                full.push(full_took);
            }
        }
        let (b50, b99) = (percentile(&mut bare, 50), percentile(&mut bare, 99));
        let (f50, f99) = (percentile(&mut full, 50), percentile(&mut full, 99));
        println!(
            "{:>8}ms {:>6} {:>10} {:>10} {:>10} {:>10} {:>10}ms {:>7.3}x",
            latency,
            n,
            ms(b50),
            ms(b99),
            ms(f50),
            ms(f99),
            ms(f50.saturating_sub(b50)),
            f50.as_secs_f64() / b50.as_secs_f64().max(1e-9)
        );
        // Every charge of the block succeeded (warm-up included), or the bench stopped above.
        let counted: serde_json::Value = admin
            .get(&calls_url)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        calls.push(Calls {
            latency,
            charges: n + WARMUP_PAIRS,
            full: calls_of(&counted, "sk_test_paydesk_bench"),
            bare: calls_of(&counted, BARE_KEY),
        });
    }
    print_calls(&calls);
    // Deliver the results so the run leaves a consistent central behind.
    while let RelayOutcome::Sent { .. } = engine.relay_once().await? {}
    running.shutdown().await;
    sandbox.shutdown().await;
    Ok(())
}

/// The rows of one key in `/admin/calls`: `{"total": n, "create": n, …}`.
fn calls_of(counted: &serde_json::Value, key: &str) -> serde_json::Value {
    let redacted = paydesk_sandbox::keys::redact(key);
    let mut mine = serde_json::Map::new();
    let mut total = 0;
    for row in counted["calls"].as_array().into_iter().flatten() {
        if row["key"] == redacted.as_str() {
            let n = row["calls"].as_u64().unwrap_or(0);
            total += n;
            mine.insert(
                row["endpoint"].as_str().unwrap_or("?").to_string(),
                n.into(),
            );
        }
    }
    mine.insert("total".into(), total.into());
    serde_json::Value::Object(mine)
}

fn print_calls(calls: &[Calls]) {
    println!();
    println!("gateway calls per successful charge, counted at the sandbox (target: at most {CALLS_PER_CHARGE_MAX:.0})");
    println!(
        "{:>10} {:>8} {:>10} {:>10} {:>10}  full by endpoint",
        "latency", "charges", "bare", "full", "verdict"
    );
    for c in calls {
        let per =
            |v: &serde_json::Value| v["total"].as_u64().unwrap_or(0) as f64 / c.charges as f64;
        let full = per(&c.full);
        let endpoints: Vec<String> = c
            .full
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(k, _)| k.as_str() != "total")
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        println!(
            "{:>8}ms {:>8} {:>10.2} {:>10.2} {:>10}  {}",
            c.latency,
            c.charges,
            per(&c.bare),
            full,
            if full <= CALLS_PER_CHARGE_MAX {
                "met"
            } else {
                "MISSED"
            },
            endpoints.join(", ")
        );
    }
}

/// The baseline: what any integration must do at minimum — create and confirm, nothing durable.
async fn bare_charge(
    gateway: &dyn paydesk_gateway::Gateway,
    tag: &str,
    amount: Money,
) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let order = OrderId::new(format!("bare-{tag}"))?;
    let number = AttemptNumber::new(1)?;
    let created = gateway
        .create_intent(&CreateIntentRequest {
            amount,
            customer: None,
            payment_method: "pm_card_visa".into(),
            off_session: true,
            metadata: IntentMetadata {
                order: order.clone(),
                attempt: paydesk_engine::new_attempt_id(paydesk_core::Timestamp::from_unix_ms(
                    1_795_000_000_000,
                )),
                attempt_number: number,
                terminal: TerminalId::new("bench-bare")?,
            },
            key: IdempotencyKey::for_create(&order, number),
        })
        .await?;
    let intent: GatewayIntentId = match created {
        CreateResult::Created(view) => view.id,
        other => bail!("bare create: {other:?}"),
    };
    let confirmed = gateway
        .confirm_intent(&ConfirmRequest {
            key: IdempotencyKey::for_confirm(&intent),
            intent,
            off_session: true,
        })
        .await?;
    if !matches!(confirmed, ConfirmResult::Succeeded { .. }) {
        bail!("bare confirm: {confirmed:?}");
    }
    Ok(started.elapsed())
}

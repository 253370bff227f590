//! Charge overhead: the full Paydesk flow (claim at the central, five durable journal steps,
//! register, create and confirm at the gateway) against a bare create + confirm to the same
//! sandbox, interleaved one for one in the same run, at each gateway latency asked for.
//!
//! Prints p50/p99 of both, the p50 added by Paydesk and the ratio. The central runs on a fresh
//! PostgreSQL database (a separate process), so `strace -f -c -e trace=fsync,fdatasync` on this
//! process counts the journal's durable writes alone (see scripts/bench.sh).

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Parser;
use paydesk_bench::{ms, percentile, PG_URL_DEFAULT};
use paydesk_core::{
    AttemptNumber, AttemptState, GatewayIntentId, IdempotencyKey, Money, OrderId, TerminalId,
};
use paydesk_engine::{ChargeRequest, RelayOutcome};
use paydesk_gateway::{
    ConfirmRequest, ConfirmResult, CreateIntentRequest, CreateResult, IntentMetadata,
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
    let dir = tempfile::tempdir()?;
    let engine = paydesk_bench::engine(
        &dir.path().join("journal.sqlite"),
        &central_url,
        &central,
        gateway.clone(),
        paydesk_engine::OUTBOX_BATCH_ROWS_MAX,
    )?;
    let admin = reqwest::Client::new();

    println!(
        "charge overhead: full Paydesk flow vs bare create + confirm, same sandbox, interleaved"
    );
    println!(
        "{:>10} {:>6} {:>10} {:>10} {:>10} {:>10} {:>12} {:>8}",
        "latency", "n", "bare p50", "bare p99", "full p50", "full p99", "added p50", "ratio"
    );
    for &latency in &args.latency_ms {
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
            bare_charge(gateway.as_ref(), &format!("{latency}-{i}"), amount).await?;
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
                .context("full charge")?;
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
    }
    // Deliver the results so the run leaves a consistent central behind.
    while let RelayOutcome::Sent { .. } = engine.relay_once().await? {}
    running.shutdown().await;
    sandbox.shutdown().await;
    Ok(())
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

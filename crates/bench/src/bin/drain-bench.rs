//! Outbox drain: N results are queued in the journal while the central is down; then it comes
//! back, and the relay delivers them. Timed until every result is applied at the central, in
//! batches of 500 (the relay sends up to two at once when more are due), beside the same drain
//! in batches of one, in the same run, against the same central (PostgreSQL). The target:
//! 10,000 results in at most 1 s.
//!
//! The results are real: each order is claimed at the central, and each attempt is journaled and
//! ended by the core's state machine (declined at create, so no gateway is needed), exactly as the
//! engine would leave them after a day of offline work.

use std::time::Instant;

use anyhow::{bail, ensure};
use clap::Parser;
use paydesk_bench::PG_URL_DEFAULT;
use paydesk_central::clock;
use paydesk_core::{AttemptEvent, CreateOutcome, Money, NewAttempt, OrderId, PaymentMethodId};
use paydesk_engine::{Engine, RelayOutcome};
use paydesk_testkit::PgDatabase;

#[derive(Parser, Debug)]
#[command(about = "Outbox drain: batches of 500 vs batches of one")]
struct Args {
    #[arg(long, default_value = PG_URL_DEFAULT)]
    pg: String,
    /// Results queued for the batched drain.
    #[arg(long, default_value_t = 10_000)]
    results: usize,
    /// Results queued for the drain in batches of one.
    #[arg(long, default_value_t = 10_000)]
    single_results: usize,
}

/// Long enough that no claim expires while the journals are filled.
const BENCH_LEASE_MS: i64 = 24 * 3_600_000;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.results == 0 || args.single_results == 0 {
        bail!("--results and --single-results must be positive");
    }
    let db = PgDatabase::try_create(&args.pg, "paydesk_bench").await?;
    let outcome = run(&args, db.url()).await;
    db.drop_now().await?;
    outcome
}

async fn run(args: &Args, db_url: &str) -> anyhow::Result<()> {
    let amount = Money::parse("1.00 EUR")?;
    let runs = [
        ("batched", args.results, 500usize),
        ("single", args.single_results, 1),
    ];
    let mut orders = Vec::new();
    for (name, n, _) in runs {
        for i in 0..n {
            orders.push((format!("drain-{name}-{i}"), amount, "pm_card_visa"));
        }
    }
    let central = paydesk_bench::prepare_central(db_url, &orders).await?;
    // The port is known before the central serves, so the terminals are configured against a
    // central that is down while their journals fill.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let central_url = format!("http://{}", listener.local_addr()?);
    let gateway = paydesk_bench::gateway("http://127.0.0.1:9")?;
    let dir = tempfile::tempdir()?;

    let mut engines = Vec::new();
    for (name, n, batch) in runs {
        let engine = paydesk_bench::engine(
            &dir.path().join(format!("journal-{name}.sqlite")),
            &central_url,
            &central,
            gateway.clone(),
            batch,
        )?;
        let started = Instant::now();
        queue_results(&engine, &central, name, n, amount).await?;
        println!(
            "queued {n} results for the {name} drain in {:.1} s (central down)",
            started.elapsed().as_secs_f64()
        );
        engines.push((name, n, batch, engine));
    }

    let running = paydesk_central::start(
        central.store.clone(),
        paydesk_central::Config::default(),
        None,
        listener,
    )?;
    println!("central is back at {central_url}");
    println!(
        "{:>8} {:>8} {:>7} {:>10} {:>12}",
        "drain", "results", "batch", "seconds", "results/s"
    );
    let mut seconds = Vec::new();
    for (name, n, batch, engine) in &engines {
        let before = central.store.result_count().await?;
        let started = Instant::now();
        loop {
            match engine.relay_once().await? {
                RelayOutcome::Sent { parked, .. } => {
                    ensure!(parked == 0, "the central rejected results")
                }
                RelayOutcome::Empty => break,
                RelayOutcome::Retried { error, .. } => bail!("delivery failed: {error}"),
            }
        }
        let took = started.elapsed().as_secs_f64();
        let applied = central.store.result_count().await? - before;
        ensure!(applied == *n as i64, "{applied} of {n} results applied");
        println!(
            "{name:>8} {n:>8} {batch:>7} {took:>10.2} {:>12.0}",
            *n as f64 / took
        );
        seconds.push((*n as f64) / took);
        if *name == "batched" {
            println!(
                "{:>8} drain of {n} results in {took:.2} s: target at most 1 s per 10,000 ({:.2} s scaled): {}",
                "",
                took * 10_000.0 / *n as f64,
                if took * 10_000.0 / *n as f64 <= 1.0 { "met" } else { "MISSED" }
            );
        }
    }
    println!(
        "batched drain is {:.1}x faster per result than batches of one",
        seconds[0] / seconds[1]
    );
    running.shutdown().await;
    Ok(())
}

/// Claims each order at the central's store (as the terminal did before it went offline) and
/// journals an attempt that ends declined, which puts its result in the outbox.
async fn queue_results(
    engine: &Engine,
    central: &paydesk_bench::Central,
    name: &str,
    n: usize,
    amount: Money,
) -> anyhow::Result<()> {
    for i in 0..n {
        let order = OrderId::new(format!("drain-{name}-{i}"))?;
        let claim = central
            .store
            .claim(
                &order,
                &central.operator,
                &central.terminal,
                None,
                clock::now(),
                BENCH_LEASE_MS,
            )
            .await?;
        let now = clock::now();
        let new = NewAttempt {
            id: paydesk_engine::new_attempt_id(now),
            order,
            number: claim.attempt_number,
            installment: paydesk_core::InstallmentNumber::FIRST,
            claim_token: claim.claim_token,
            amount,
            customer: None,
            payment_method: PaymentMethodId::new("pm_card_visa")?,
            operator: central.operator.clone(),
            terminal: central.terminal.clone(),
            offline: false,
        };
        engine
            .with_journal(move |j| {
                let (attempt, _) = j.begin_attempt(new, now)?;
                let refused = AttemptEvent::CreateAnswered(CreateOutcome::Refused {
                    reason: "bench".into(),
                });
                j.apply(&attempt.id, &refused, now)?;
                Ok(())
            })
            .await?;
    }
    Ok(())
}

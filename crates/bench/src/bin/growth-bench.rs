//! `growth-bench`: memory growth of the engine and its embedded stack (issue 14, item 5), printed,
//! not asserted. One process holds what the desktop's embedded stack holds: the central on SQLite
//! (its embedded default), the sandbox gateway, and an engine with its journal. Its memory (RSS
//! and PSS from `/proc/self/smaps_rollup`) is read after a warm-up (the baseline), after 1,000
//! charges (each relayed to the central), and after a drain of 10,000 results queued while the
//! relay was idle; each figure is printed beside the baseline and as growth from it.
//!
//! Deliberately absent: the webview. Driving the desktop's UI through 1,000 charges is what the
//! end-to-end tests do at a few charges; here the engine is driven directly, so the figures are
//! the Rust side's (the WebKit processes' idle memory is `scripts/bench-footprint.sh`'s).

use std::time::Instant;

use anyhow::{bail, ensure};
use clap::Parser;
use paydesk_central::clock;
use paydesk_core::{
    AttemptEvent, AttemptState, CreateOutcome, InstallmentNumber, Money, NewAttempt, OrderId,
    PaymentMethodId,
};
use paydesk_engine::{ChargeRequest, Engine, RelayOutcome};

#[derive(Parser, Debug)]
#[command(
    about = "Memory growth of the engine + embedded stack: 1,000 charges, a 10,000-result drain"
)]
struct Args {
    /// Charges after the warm-up.
    #[arg(long, default_value_t = 1_000)]
    charges: usize,
    /// Results queued, then drained.
    #[arg(long, default_value_t = 10_000)]
    results: usize,
}

/// Long enough that no claim expires while the journal is filled.
const BENCH_LEASE_MS: i64 = 24 * 3_600_000;
/// Charges before the baseline is read: connection pools, prepared statements and caches are
/// filled by then, so growth is what more work adds.
const WARMUP_CHARGES: usize = 20;

/// This process's resident and proportional set sizes, in KiB.
fn memory_kib() -> anyhow::Result<(u64, u64)> {
    let text = std::fs::read_to_string("/proc/self/smaps_rollup")?;
    let field = |name: &str| -> anyhow::Result<u64> {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| anyhow::anyhow!("no {name} in /proc/self/smaps_rollup"))
    };
    Ok((field("Rss:")?, field("Pss:")?))
}

/// `/proc/loadavg`'s three load averages.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.charges == 0 || args.results == 0 {
        bail!("--charges and --results must be positive");
    }
    let dir = tempfile::tempdir()?;
    let amount = Money::parse("10.00 EUR")?;
    let mut orders = Vec::new();
    for i in 0..WARMUP_CHARGES + args.charges {
        orders.push((format!("growth-charge-{i}"), amount, "pm_card_visa"));
    }
    for i in 0..args.results {
        orders.push((
            format!("growth-drain-{i}"),
            amount,
            "pm_card_chargeDeclined",
        ));
    }
    let db = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("central.sqlite").display()
    );
    let central = paydesk_bench::prepare_central(&db, &orders).await?;
    let running = paydesk_bench::serve(&central).await?;
    let central_url = format!("http://{}", running.addr);
    let sandbox = paydesk_sandbox::spawn(paydesk_sandbox::SandboxConfig::default()).await?;
    let gateway = paydesk_bench::gateway(&sandbox.base_url)?;
    let engine = paydesk_bench::signed_in_engine(
        &dir.path().join("journal.sqlite"),
        &central_url,
        &central,
        gateway,
        paydesk_engine::OUTBOX_BATCH_ROWS_MAX,
    )
    .await?;
    println!(
        "growth-bench: engine + embedded stack in one process (central on SQLite, sandbox, \
         journal); load average (1, 5, 15 min) {}",
        load_average()
    );

    charge(&engine, &central, amount, 0..WARMUP_CHARGES).await?;
    let baseline = memory_kib()?;
    let row = |what: &str, (rss, pss): (u64, u64)| {
        println!(
            "{what:<34} RSS {:>8.1} MiB ({:+8.1} MiB, {:.2}x)  PSS {:>8.1} MiB ({:+8.1} MiB, {:.2}x)",
            rss as f64 / 1024.0,
            (rss as f64 - baseline.0 as f64) / 1024.0,
            rss as f64 / baseline.0 as f64,
            pss as f64 / 1024.0,
            (pss as f64 - baseline.1 as f64) / 1024.0,
            pss as f64 / baseline.1 as f64,
        );
    };
    row(
        &format!("baseline (after {WARMUP_CHARGES} charges)"),
        baseline,
    );

    let started = Instant::now();
    charge(
        &engine,
        &central,
        amount,
        WARMUP_CHARGES..WARMUP_CHARGES + args.charges,
    )
    .await?;
    let took = started.elapsed().as_secs_f64();
    row(
        &format!("after {} charges ({took:.0} s)", args.charges),
        memory_kib()?,
    );

    let started = Instant::now();
    queue_results(&engine, &central, args.results, amount).await?;
    let queued = started.elapsed().as_secs_f64();
    row(
        &format!("{} results queued ({queued:.0} s)", args.results),
        memory_kib()?,
    );
    let started = Instant::now();
    let drained = drain(&engine).await?;
    let took = started.elapsed().as_secs_f64();
    ensure!(
        drained == args.results,
        "{drained} of {} results drained",
        args.results
    );
    row(&format!("after draining them ({took:.1} s)"), memory_kib()?);
    println!("load average at the end (1, 5, 15 min): {}", load_average());
    running.shutdown().await;
    sandbox.shutdown().await;
    Ok(())
}

/// Charges the orders `growth-charge-{i}` for `range` through the engine, each relayed to the
/// central before the next (as the desktop's relay does while online).
async fn charge(
    engine: &Engine,
    central: &paydesk_bench::Central,
    amount: Money,
    range: std::ops::Range<usize>,
) -> anyhow::Result<()> {
    for i in range {
        let report = engine
            .charge(
                &ChargeRequest {
                    order: OrderId::new(format!("growth-charge-{i}"))?,
                    operator: central.operator.clone(),
                    expected_amount: amount,
                },
                &|_| {},
            )
            .await
            .map_err(|e| anyhow::anyhow!("charge: {e} ({e:?})"))?;
        if report.state() != AttemptState::Succeeded {
            bail!("a bench charge ended {:?}", report.attempt);
        }
        drain(engine).await?;
    }
    Ok(())
}

/// Relays until the outbox is empty; how many results were delivered.
async fn drain(engine: &Engine) -> anyhow::Result<usize> {
    let mut delivered = 0;
    loop {
        match engine.relay_once().await? {
            RelayOutcome::Sent {
                delivered: d,
                parked,
            } => {
                ensure!(parked == 0, "the central rejected results");
                delivered += d;
            }
            RelayOutcome::Empty => return Ok(delivered),
            RelayOutcome::Retried { error, .. } => bail!("delivery failed: {error}"),
        }
    }
}

/// Claims each `growth-drain-{i}` order at the central's store (as the terminal did before it
/// went offline) and journals an attempt that ends declined at create (no gateway call), which
/// puts its result in the outbox; the relay is not run. (Charging them through the engine would
/// meet the claim guard's limit on one card's declines.)
async fn queue_results(
    engine: &Engine,
    central: &paydesk_bench::Central,
    n: usize,
    amount: Money,
) -> anyhow::Result<()> {
    for i in 0..n {
        let order = OrderId::new(format!("growth-drain-{i}"))?;
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
            installment: InstallmentNumber::FIRST,
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

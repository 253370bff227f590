//! Charge overhead: the full Paydesk flow (claim at the central, three durable journal commits,
//! register, create and confirm at the gateway) against a bare create + confirm to the same
//! sandbox, interleaved one for one in the same run, at each gateway latency asked for.
//!
//! Prints p50/p99 of both, the p50 added by Paydesk and the ratio; then the gateway calls per
//! successful charge of each, as the sandbox counted them (`/admin/calls`, per API key: the full
//! flow and the baseline use different keys), against the target of at most 2. The central runs on a fresh
//! PostgreSQL database (a separate process), so `strace -f -c -e trace=fsync,fdatasync` attached
//! to this process counts the journal's durable writes alone: the bench attaches it to its own
//! threads around a block of charges of the flow as it is (the create's answer, the registration
//! and the confirm's begin in one commit) and around a block of the flow as it was (one commit per
//! step, `EngineConfig::separate_commits`), each on its own journal, and prints fsyncs per charge
//! of both beside issue 14's figure and the target of 3 (issue 14, item 2). Timing blocks run
//! without strace: a traced thread stops at every system call.

use std::io::BufRead as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::bail;
use clap::Parser;
use paydesk_bench::{ms, percentile, PG_URL_DEFAULT};
use paydesk_core::{
    AttemptNumber, AttemptState, GatewayIntentId, IdempotencyKey, Money, OrderId, TerminalId,
};
use paydesk_engine::{ChargeRequest, Engine, EngineConfig, RelayOutcome, SystemClock};
use paydesk_gateway::{
    ApiKey, ConfirmRequest, ConfirmResult, CreateIntentRequest, CreateResult, IntentMetadata,
    StripeConfig, StripeGateway,
};
use paydesk_journal::Journal;
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
    /// Charges per flow (as it is, as it was) counted under strace, at 0 ms; 0 skips the count.
    #[arg(long, default_value_t = 50)]
    fsync_charges: usize,
}

/// Warm-up pairs per latency, not counted (connection pools, SQLite page cache, JIT-free but
/// first-touch costs).
const WARMUP_PAIRS: usize = 3;

/// The full flow's key is `paydesk_bench::gateway`'s; the baseline's is this one, so the sandbox
/// counts the two apart.
const BARE_KEY: &str = "sk_test_paydesk_bare";

/// Issue 14's target: at most this many gateway calls per successful charge.
const CALLS_PER_CHARGE_MAX: f64 = 2.0;

/// Issue 14's target: at most this many fsyncs per charge (one commit before each of the two
/// gateway requests, one for the result).
const FSYNCS_PER_CHARGE_MAX: f64 = 3.0;

/// Issue 14's figure for the flow before item 2 (one commit per step), measured then.
const FSYNCS_PER_CHARGE_ISSUE_14: f64 = 5.18;

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
    for flow in FsyncFlow::ALL {
        for i in 0..args.fsync_charges + WARMUP_PAIRS {
            orders.push((flow.order(i), amount, "pm_card_visa"));
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
        "load average at the start (1, 5, 15 min): {}",
        load_average()
    );
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
    if args.fsync_charges > 0 {
        admin
            .delete(format!("{}/admin/faults", sandbox.base_url))
            .send()
            .await?
            .error_for_status()?;
        // The flow as it was: the same central session, its own journal.
        let mut config = EngineConfig::new(central.terminal.clone());
        config.separate_commits = true;
        let before = Engine::new(
            Journal::open(&dir.path().join("journal-separate.sqlite"))?,
            gateway.clone(),
            Arc::clone(engine.central()),
            Arc::new(SystemClock),
            config,
        );
        let mut counted = Vec::new();
        for flow in FsyncFlow::ALL {
            let engine = match flow {
                FsyncFlow::Separate => &before,
                FsyncFlow::Merged => &engine,
            };
            counted.push(count_fsyncs(engine, &central, flow, args.fsync_charges, amount).await?);
        }
        print_fsyncs(&counted);
        while let RelayOutcome::Sent { .. } = before.relay_once().await? {}
    }
    println!();
    println!("load average at the end (1, 5, 15 min): {}", load_average());
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

/// The two flows whose fsyncs are counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FsyncFlow {
    /// One durable commit per step (before issue 14, item 2): five per charge.
    Separate,
    /// The create's answer, the registration and the confirm's begin in one commit.
    Merged,
}

impl FsyncFlow {
    const ALL: [FsyncFlow; 2] = [FsyncFlow::Separate, FsyncFlow::Merged];

    fn order(self, i: usize) -> String {
        match self {
            FsyncFlow::Separate => format!("fsync-separate-{i}"),
            FsyncFlow::Merged => format!("fsync-merged-{i}"),
        }
    }

    fn label(self) -> &'static str {
        match self {
            FsyncFlow::Separate => "one commit per step (before)",
            FsyncFlow::Merged => "merged commits (now)",
        }
    }
}

/// One flow's count.
struct Fsyncs {
    flow: FsyncFlow,
    charges: usize,
    calls: u64,
    /// The median charge while traced (strace slows every system call it stops at).
    p50: Duration,
}

/// `strace -f -c -e trace=fsync,fdatasync` attached to every thread of this process (and
/// following the threads they start) until [`Strace::stop`].
struct Strace {
    child: std::process::Child,
    summary: std::path::PathBuf,
}

impl Strace {
    fn attach(summary: &std::path::Path) -> anyhow::Result<Strace> {
        let mut command = std::process::Command::new("strace");
        command.args(["-f", "-c", "-e", "trace=fsync,fdatasync", "-o"]);
        command.arg(summary);
        // With -f, strace attaches every thread of the process (and follows those it starts).
        let threads = std::fs::read_dir("/proc/self/task")?.count();
        command.args(["-p", &std::process::id().to_string()]);
        let mut child = command
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .map_err(|e| {
                anyhow::anyhow!("cannot start strace ({e}): install it (apt-get install strace)")
            })?;
        // strace says "Process N attached" once per thread; wait for all of them (or 5 s), and
        // keep draining its stderr so it never blocks on a full pipe.
        let stderr = child.stderr.take().expect("piped");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                if line.contains("attached") {
                    let _ = tx.send(());
                }
            }
        });
        let mut attached = 0;
        while attached < threads {
            match rx.recv_timeout(Duration::from_secs(5)) {
                Ok(()) => attached += 1,
                Err(_) if attached > 0 => break,
                Err(_) => bail!("strace attached to no thread of this process"),
            }
        }
        Ok(Strace {
            child,
            summary: summary.to_path_buf(),
        })
    }

    /// Detaches (SIGINT) and returns the fsync + fdatasync calls counted.
    fn stop(mut self) -> anyhow::Result<u64> {
        let status = std::process::Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()?;
        if !status.success() {
            bail!("could not stop strace");
        }
        self.child.wait()?;
        let text = std::fs::read_to_string(&self.summary)?;
        // Rows: "% time  seconds  usecs/call  calls  [errors]  syscall".
        Ok(text
            .lines()
            .filter_map(|line| {
                let cols: Vec<&str> = line.split_whitespace().collect();
                match cols.last() {
                    Some(&"fsync") | Some(&"fdatasync") => cols.get(3)?.parse::<u64>().ok(),
                    _ => None,
                }
            })
            .sum())
    }
}

/// Charges `n` orders of `flow` (after the warm-up) under strace; counts their fsyncs.
async fn count_fsyncs(
    engine: &Engine,
    central: &paydesk_bench::Central,
    flow: FsyncFlow,
    n: usize,
    amount: Money,
) -> anyhow::Result<Fsyncs> {
    let charge = |i: usize| {
        let order = OrderId::new(flow.order(i));
        async move {
            let report = engine
                .charge(
                    &ChargeRequest {
                        order: order?,
                        operator: central.operator.clone(),
                        expected_amount: amount,
                    },
                    &|_| {},
                )
                .await
                .map_err(|e| anyhow::anyhow!("{} charge: {e} ({e:?})", flow.label()))?;
            if report.state() != AttemptState::Succeeded {
                bail!("a bench charge ended {:?}", report.attempt);
            }
            anyhow::Ok(())
        }
    };
    for i in 0..WARMUP_PAIRS {
        charge(i).await?;
    }
    let summary = tempfile::NamedTempFile::new()?;
    let strace = Strace::attach(summary.path())?;
    let mut took = Vec::with_capacity(n);
    for i in WARMUP_PAIRS..WARMUP_PAIRS + n {
        let started = Instant::now();
        let charged = charge(i).await;
        took.push(started.elapsed());
        if let Err(e) = charged {
            strace.stop()?;
            return Err(e);
        }
    }
    let calls = strace.stop()?;
    Ok(Fsyncs {
        flow,
        charges: n,
        calls,
        p50: percentile(&mut took, 50),
    })
}

fn print_fsyncs(counted: &[Fsyncs]) {
    println!();
    println!(
        "fsync + fdatasync per charge (strace -f -c -e trace=fsync,fdatasync attached to this \
         process; target: at most {FSYNCS_PER_CHARGE_MAX:.0})"
    );
    println!(
        "{:<30} {:>8} {:>8} {:>11} {:>8} {:>14}",
        "flow", "charges", "fsyncs", "per charge", "verdict", "p50 traced"
    );
    let per = |f: &Fsyncs| f.calls as f64 / f.charges as f64;
    for f in counted {
        println!(
            "{:<30} {:>8} {:>8} {:>11.2} {:>8} {:>12}ms",
            f.flow.label(),
            f.charges,
            f.calls,
            per(f),
            if per(f) <= FSYNCS_PER_CHARGE_MAX {
                "met"
            } else {
                "MISSED"
            },
            ms(f.p50)
        );
    }
    let before = counted.iter().find(|f| f.flow == FsyncFlow::Separate);
    let now = counted.iter().find(|f| f.flow == FsyncFlow::Merged);
    if let (Some(before), Some(now)) = (before, now) {
        println!(
            "now / before (same run): {:.3}; issue 14's figure before: {FSYNCS_PER_CHARGE_ISSUE_14:.2} \
             per charge, now {:.2}",
            per(now) / per(before).max(1e-9),
            per(now)
        );
    }
}

/// `/proc/loadavg`'s three load averages.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

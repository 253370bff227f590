//! `claims-bench`: claims per second through one central process against two, on one PostgreSQL
//! database (issue 14, item 3). Printed, not asserted.
//!
//! N clients, each on an order of its own, claim and release over HTTP for D seconds per phase
//! (the load `central-bench` puts on one central, so its figure is comparable). The phases run in
//! the order 1 central, 2 centrals, 1 central again: the baseline is the mean of the two
//! single-central phases (so a machine warming up or slowing down shows as a gap between them),
//! and the ratio is the two-central rate over that baseline. With two centrals the clients
//! alternate between them. The centrals are real `paydesk-central serve` processes (the binary
//! beside this one: `cargo build --release -p paydesk-central -p paydesk-bench`), started over a
//! fresh database that is dropped at the end; the machine's load average is printed with the
//! figures. Deliberately absent: pass/fail thresholds (the figures depend on the machine: on one
//! host the centrals, PostgreSQL and the clients share the same cores).

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use clap::Parser;
use paydesk_bench::{percentile, PG_URL_DEFAULT};
use paydesk_central::{auth, clock, Store};
use paydesk_core::{Currency, Money, OperatorId, OrderId, TerminalId};
use paydesk_protocol::{ImportOrder, Role};
use paydesk_testkit::PgDatabase;
use serde_json::json;

/// The benchmark operator's PIN (six digits, the operators' minimum).
const BENCH_PIN: &str = "246813";
/// The admin token the centrals start with (nothing here uses it; the central requires one).
const ADMIN_TOKEN: &str = "claims-bench-admin-token-0123456789abcdef";

#[derive(Debug, Parser)]
#[command(
    name = "claims-bench",
    about = "Claims per second through one central process against two on one PostgreSQL"
)]
struct Args {
    /// A PostgreSQL URL the bench may create and drop a database from.
    #[arg(long, default_value = PG_URL_DEFAULT)]
    pg: String,
    /// Concurrent clients, each claiming and releasing an order of its own.
    #[arg(long, default_value_t = 50)]
    clients: usize,
    /// Seconds each phase runs.
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// The central's binary [default: `paydesk-central` beside this bench].
    #[arg(long)]
    central_bin: Option<PathBuf>,
}

/// A central process, killed when dropped.
struct CentralProcess {
    child: Child,
    url: String,
}

impl Drop for CentralProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts a central on `db_url`; `key_file` is the allowance key every central of a site shares
/// (kept in the bench's temporary directory, never in the working directory).
fn start_central(bin: &Path, db_url: &str, key_file: &Path) -> anyhow::Result<CentralProcess> {
    let mut child = Command::new(bin)
        .env_remove("RUST_LOG")
        .env("PAYDESK_ADMIN_TOKEN", ADMIN_TOKEN)
        .args(["--db", db_url, "serve", "--listen", "127.0.0.1:0"])
        .arg("--allowance-key-file")
        .arg(key_file)
        .args(["--sweep-interval-ms", "3600000"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    let stdout = child.stdout.take().context("the central's stdout")?;
    let mut process = CentralProcess {
        child,
        url: String::new(),
    };
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        if let Some(Ok(first)) = lines.next() {
            let _ = tx.send(first);
        }
        for _ in lines {}
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(30))
        .context("the central printed no address within 30 s")?;
    process.url = format!("http://{}", addr.trim());
    Ok(process)
}

/// One phase's figures.
struct Phase {
    claims: usize,
    errors: u64,
    rate: f64,
    p50: Duration,
    p99: Duration,
}

/// `clients` tasks claim and release their own orders for `duration`, client `i` through
/// `urls[i % urls.len()]`.
async fn phase(
    urls: &[String],
    clients: usize,
    duration: Duration,
    token: &str,
    session: &str,
) -> anyhow::Result<Phase> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(clients)
        .build()?;
    let deadline = Instant::now() + duration;
    let mut tasks = Vec::new();
    for i in 0..clients {
        let client = client.clone();
        let base = urls[i % urls.len()].clone();
        let token = token.to_string();
        let session = session.to_string();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0u64;
            while Instant::now() < deadline {
                let started = Instant::now();
                let r = client
                    .post(format!("{base}/v1/orders/claims-{i}/claim"))
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
                latencies.push(started.elapsed());
                let r = client
                    .post(format!("{base}/v1/orders/claims-{i}/claim/release"))
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
    let claims = latencies.len();
    Ok(Phase {
        claims,
        errors,
        rate: claims as f64 / elapsed,
        p50: percentile(&mut latencies, 50),
        p99: percentile(&mut latencies, 99),
    })
}

fn print_phase(what: &str, p: &Phase) {
    println!(
        "{what:<22}: {:>8} claims = {:>8.0} claims/s  p50 {} ms  p99 {} ms  ({} errors)",
        p.claims,
        p.rate,
        paydesk_bench::ms(p.p50),
        paydesk_bench::ms(p.p99),
        p.errors
    );
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.clients < 2 || args.seconds == 0 {
        bail!("--clients must be at least 2 and --seconds positive");
    }
    let bin = match &args.central_bin {
        Some(bin) => bin.clone(),
        None => std::env::current_exe()?
            .parent()
            .context("the bench's directory")?
            .join("paydesk-central"),
    };
    if !bin.is_file() {
        bail!(
            "{} is missing: build it with `cargo build --release -p paydesk-central -p \
             paydesk-bench`, or pass --central-bin",
            bin.display()
        );
    }
    let db = PgDatabase::try_create(&args.pg, "paydesk_claims_bench").await?;
    let outcome = run(&args, &bin, db.url()).await;
    db.drop_now().await?;
    outcome
}

async fn run(args: &Args, bin: &Path, url: &str) -> anyhow::Result<()> {
    let store = Store::open(url).await?;
    let eur = Currency::from_code("EUR")?;
    let orders = (0..args.clients)
        .map(|i| {
            Ok(ImportOrder {
                order_id: OrderId::new(format!("claims-{i}"))?,
                amount: Money::new(1000, eur)?,
                customer_id: "cus_bench".into(),
                payment_method_id: "pm_card_visa".into(),
                description: String::new(),
                gateway: paydesk_protocol::GatewayName::Stripe,
                customer_name: String::new(),
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
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
    store.close().await;

    let dir = tempfile::tempdir()?;
    let key_file = dir.path().join("allowance.key");
    let first = start_central(bin, url, &key_file)?;
    let second = start_central(bin, url, &key_file)?;
    // One person signed in at the first central; the session is a database row, so the second
    // central accepts it too (as it would behind a load balancer).
    let grant: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/v1/sessions", first.url))
        .bearer_auth(&token)
        .json(&json!({"operator_id": "bench-op", "pin": BENCH_PIN}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let session = grant["session_token"]
        .as_str()
        .context("sign-in answered no session token")?
        .to_string();

    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "claims-bench: PostgreSQL, {} clients (each claim followed by a release), {} s per phase, \
         {cores} cores, load average before: {}",
        args.clients,
        args.seconds,
        load_average()
    );
    let duration = Duration::from_secs(args.seconds);
    let one = [first.url.clone()];
    let two = [first.url.clone(), second.url.clone()];
    let single_a = phase(&one, args.clients, duration, &token, &session).await?;
    print_phase("1 central", &single_a);
    let double = phase(&two, args.clients, duration, &token, &session).await?;
    print_phase("2 centrals", &double);
    let single_b = phase(&one, args.clients, duration, &token, &session).await?;
    print_phase("1 central (again)", &single_b);
    let baseline = (single_a.rate + single_b.rate) / 2.0;
    println!(
        "baseline (mean of the 1-central phases): {baseline:.0} claims/s; 2 centrals: {:.0} \
         claims/s; ratio 2/1 = {:.2}",
        double.rate,
        if baseline > 0.0 {
            double.rate / baseline
        } else {
            0.0
        }
    );
    println!("load average after: {}", load_average());
    drop(second);
    drop(first);
    Ok(())
}

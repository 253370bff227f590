//! `paydesk-sandbox`: runs the sandbox gateway until Ctrl-C or SIGTERM.
//!
//! The first line on stdout is always `paydesk-sandbox listening on http://ADDR`, so scripts and
//! tests can start it with `--port 0` and read the address back. Logs go to stderr. The admin
//! routes need the token in `PAYDESK_SANDBOX_ADMIN_TOKEN` when it is set, else they answer
//! connections from this machine only.

use std::io::Write;
use std::net::IpAddr;

use anyhow::Context;
use clap::Parser;
use paydesk_sandbox::{
    AdminAccess, FaultRule, SandboxConfig, WebhookSettings, ADMIN_TOKEN_ENV, SEARCH_LAG_MS_DEFAULT,
};

/// A local HTTP server that behaves like Stripe's API where it matters (PaymentIntents,
/// idempotency, test cards, search lag, signed webhooks), with fault injection.
#[derive(Debug, Parser)]
#[command(name = "paydesk-sandbox", version)]
struct Args {
    /// Address to listen on. Loopback by default: the sandbox has no real security.
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
    /// Port to listen on; 0 picks a free one (printed on the first line of stdout).
    #[arg(long, default_value_t = 12111)]
    port: u16,
    /// The only secret key accepted (must start with sk_test_); default: any sk_test_ key.
    #[arg(long, env = "PAYDESK_SANDBOX_API_KEY")]
    api_key: Option<String>,
    /// A restricted key (rk_test_...) accepted with PaymentIntents permissions only (what a
    /// terminal needs); repeatable. Default: any rk_test_ key when --api-key is not given.
    #[arg(
        long = "restricted-key",
        env = "PAYDESK_SANDBOX_RESTRICTED_KEYS",
        value_delimiter = ','
    )]
    restricted_keys: Vec<String>,
    /// Where to POST signed webhook events.
    #[arg(long)]
    webhook_url: Option<String>,
    /// The webhook endpoint secret used for Stripe-Signature.
    #[arg(long, env = "PAYDESK_SANDBOX_WEBHOOK_SECRET", default_value = paydesk_sandbox::webhook::DEFAULT_WEBHOOK_SECRET)]
    webhook_secret: String,
    /// Deliver every webhook twice.
    #[arg(long)]
    webhook_duplicate: bool,
    /// Hold back every other webhook so deliveries arrive out of order.
    #[arg(long)]
    webhook_reorder: bool,
    /// How long a new PaymentIntent stays invisible to search, in milliseconds.
    #[arg(long, default_value_t = SEARCH_LAG_MS_DEFAULT)]
    search_lag_ms: u64,
    /// A fault to arm at start, ENDPOINT:KIND[:COUNT], repeatable. Endpoints: create, confirm,
    /// retrieve, cancel, search, refund, events, any. Kinds: latency=MS, http_500,
    /// http_500_after_execute, http_429, drop_before_execute, drop_after_execute,
    /// execute_late=MS. Example: --fault confirm:drop_after_execute:1
    #[arg(long = "fault", value_parser = parse_fault)]
    faults: Vec<FaultRule>,
    /// Keep the state (intents, refunds, events, idempotency keys and their answers) in
    /// DIR/sandbox-state.json across restarts; created if missing. Default: in memory only.
    #[arg(long, value_name = "DIR")]
    state_dir: Option<std::path::PathBuf>,
}

fn parse_fault(s: &str) -> Result<FaultRule, String> {
    s.parse()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "paydesk_sandbox=info".into()),
        )
        .init();
    let args = Args::parse();
    if let Some(key) = &args.api_key {
        anyhow::ensure!(
            key.starts_with("sk_test_"),
            "--api-key must start with sk_test_"
        );
    }
    for key in &args.restricted_keys {
        anyhow::ensure!(
            key.starts_with("rk_test_"),
            "--restricted-key must start with rk_test_"
        );
    }
    // The admin routes (faults, clock, webhook target) need this token when it is set; without
    // it they answer connections from this machine only.
    let admin = match std::env::var(ADMIN_TOKEN_ENV) {
        Ok(token) if !token.trim().is_empty() => AdminAccess::Token(token.trim().to_string()),
        _ => AdminAccess::LoopbackOnly,
    };
    let handle = paydesk_sandbox::spawn(SandboxConfig {
        paypal: Default::default(),
        host: args.host,
        port: args.port,
        api_key: args.api_key,
        restricted_keys: args.restricted_keys,
        admin,
        webhook: WebhookSettings {
            url: args.webhook_url,
            secret: args.webhook_secret,
            duplicate: args.webhook_duplicate,
            reorder: args.webhook_reorder,
        },
        search_lag_ms: args.search_lag_ms,
        faults: args.faults,
        state_dir: args.state_dir,
    })
    .await?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "paydesk-sandbox listening on {}", handle.base_url)
            .and_then(|()| out.flush())
            .context("cannot write the listening address to stdout")?;
    }
    wait_for_signal().await?;
    tracing::info!("shutting down");
    handle.shutdown().await;
    Ok(())
}

async fn wait_for_signal() -> anyhow::Result<()> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("cannot listen for SIGTERM")?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r.context("cannot listen for Ctrl-C")?,
        _ = term.recv() => {}
    }
    Ok(())
}

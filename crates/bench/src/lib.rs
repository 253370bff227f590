//! Shared set-up for the benchmarks: the central and the sandbox in this process (on a fresh
//! PostgreSQL database from `paydesk-testkit`), a provisioned terminal, and percentile arithmetic.
//!
//! Deliberately absent: assertions. Benchmarks print figures and ratios; tests assert behaviour.

use std::sync::Arc;
use std::time::Duration;

use paydesk_central::{auth, clock, store::Store, Config, RunningCentral};
use paydesk_core::{Money, OperatorId, OrderId, TerminalId};
use paydesk_engine::{Engine, EngineConfig, SystemClock};
use paydesk_gateway::{ApiKey, Gateway, StripeConfig, StripeGateway};
use paydesk_journal::Journal;
use paydesk_protocol::{ImportOrder, Role};
use paydesk_terminal::{HttpCentral, SessionToken, TerminalToken};

/// PostgreSQL as these machines run it; override with `--pg`. Each run works in a database of its
/// own, made and dropped by `paydesk_testkit::PgDatabase`.
pub const PG_URL_DEFAULT: &str = paydesk_testkit::PG_ADMIN_URL_DEFAULT;

/// The bench operator's PIN (six digits: what the central's sign-in accepts).
pub const OPERATOR_PIN: &str = "246813";

/// The central (not yet serving), with a terminal, an operator and `orders` imported.
pub struct Central {
    /// The central's database, shared with the server once it serves.
    pub store: Store,
    pub terminal: TerminalId,
    pub operator: OperatorId,
    /// The terminal's bearer token (never printed: see the `Debug` below).
    pub token: String,
}

impl std::fmt::Debug for Central {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Central")
            .field("terminal", &self.terminal)
            .field("operator", &self.operator)
            .finish_non_exhaustive()
    }
}

pub async fn prepare_central(
    db_url: &str,
    orders: &[(String, Money, &str)],
) -> anyhow::Result<Central> {
    let store = Store::open(db_url).await?;
    store.migrate().await?;
    let terminal = TerminalId::new("bench-till")?;
    let operator = OperatorId::new("bench-op")?;
    let token = auth::new_token();
    store
        .add_terminal(&terminal, &auth::token_sha256(&token), clock::now())
        .await?;
    store
        .upsert_operator(
            &operator,
            Role::Operator,
            &auth::hash_pin(OPERATOR_PIN).map_err(anyhow::Error::msg)?,
            clock::now(),
        )
        .await?;
    let imports: Vec<ImportOrder> = orders
        .iter()
        .map(|(id, amount, pm)| {
            Ok(ImportOrder {
                order_id: OrderId::new(id.as_str())?,
                amount: *amount,
                customer_id: String::new(),
                payment_method_id: (*pm).to_string(),
                description: String::new(),
                gateway: paydesk_protocol::GatewayName::Stripe,
                customer_name: String::new(),
            })
        })
        .collect::<anyhow::Result<_>>()?;
    for chunk in imports.chunks(paydesk_protocol::IMPORT_ORDERS_MAX) {
        store.import_orders(chunk, clock::now()).await?;
    }
    Ok(Central {
        store,
        terminal,
        operator,
        token,
    })
}

/// Starts serving `central` on a free loopback port.
pub async fn serve(central: &Central) -> anyhow::Result<RunningCentral> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    Ok(paydesk_central::start(
        central.store.clone(),
        Config::default(),
        None,
        listener,
    )?)
}

/// The Stripe connector pointed at a sandbox.
pub fn gateway(sandbox_url: &str) -> anyhow::Result<Arc<dyn Gateway>> {
    Ok(Arc::new(StripeGateway::new(
        ApiKey::new("sk_test_paydesk_bench")?,
        StripeConfig::with_base_url(sandbox_url),
    )?))
}

/// An engine for the bench terminal with its journal at `journal`.
pub fn engine(
    journal: &std::path::Path,
    central_url: &str,
    central: &Central,
    gateway: Arc<dyn Gateway>,
    outbox_batch_rows: usize,
) -> anyhow::Result<Engine> {
    let mut config = EngineConfig::new(central.terminal.clone());
    config.outbox_batch_rows = outbox_batch_rows;
    Ok(Engine::new(
        Journal::open(journal)?,
        gateway,
        Arc::new(HttpCentral::new(
            central_url,
            TerminalToken::new(central.token.clone()),
        )?),
        Arc::new(SystemClock),
        config,
    ))
}

/// An engine as [`engine`] makes it, with the bench operator signed in at the central: a claim is
/// made by a person with a session.
pub async fn signed_in_engine(
    journal: &std::path::Path,
    central_url: &str,
    central: &Central,
    gateway: Arc<dyn Gateway>,
    outbox_batch_rows: usize,
) -> anyhow::Result<Engine> {
    let mut config = EngineConfig::new(central.terminal.clone());
    config.outbox_batch_rows = outbox_batch_rows;
    let http = HttpCentral::new(central_url, TerminalToken::new(central.token.clone()))?;
    let pin = paydesk_core::Pin::parse(OPERATOR_PIN).map_err(anyhow::Error::msg)?;
    let grant = http
        .open_session(&central.operator, &pin)
        .await
        .map_err(|e| anyhow::anyhow!("the bench operator cannot sign in: {e}"))?;
    http.set_session(Some(SessionToken::new(grant.session_token)));
    Ok(Engine::new(
        Journal::open(journal)?,
        gateway,
        Arc::new(http),
        Arc::new(SystemClock),
        config,
    ))
}

/// The `p`-th percentile (0..=100) of `samples`, nearest-rank.
pub fn percentile(samples: &mut [Duration], p: u32) -> Duration {
    if samples.is_empty() {
        return Duration::ZERO;
    }
    samples.sort_unstable();
    let rank = ((p as usize * samples.len()).div_ceil(100)).clamp(1, samples.len());
    samples[rank - 1]
}

/// Milliseconds with two decimals, for the tables.
pub fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

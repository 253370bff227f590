//! Paydesk's sandbox gateway: a local HTTP server that behaves like Stripe's API where it matters
//! to the charge protocol — stateful PaymentIntents, Stripe's idempotency rules, test payment
//! methods, search with lag, signed webhooks — plus fault injection and a ground-truth ledger.
//!
//! It is a test double and a demo gateway, not a Stripe emulator: no capture, customers,
//! payment method objects, disputes or pagination beyond what the client needs. See README.md
//! for the HTTP API, the admin API and the fault syntax.

// Stripe objects are large `json!` literals; the macro needs more than the default depth.
#![recursion_limit = "256"]

pub mod admin_access;
pub mod authenticate;
pub mod calls;
pub mod cards;
pub mod error;
pub mod faults;
pub mod form;
pub mod idempotency;
pub mod keys;
pub mod params;
pub mod payment_methods;
pub mod paypal;
pub mod paypal_webhook;
pub mod persist;
pub mod search;
pub mod server;
pub mod store;
pub mod webhook;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

pub use admin_access::{AdminAccess, ADMIN_TOKEN_ENV};
pub use faults::{Endpoint, FaultKind, FaultRule};
pub use keys::{KeyKind, Keys};
pub use webhook::{sign as sign_webhook, verify as verify_webhook, WebhookSettings};

/// The default search lag: long enough that a client which trusts an empty search right after a
/// create is caught, short enough for tests that wait it out.
pub const SEARCH_LAG_MS_DEFAULT: u64 = 2_000;

/// How to start a sandbox.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// Address to listen on; loopback by default, since the sandbox has no real security.
    pub host: IpAddr,
    /// Port; 0 picks a free one (read it back from `SandboxHandle::base_url`).
    pub port: u16,
    /// If set, the only secret key accepted; otherwise any `sk_test_...` key is.
    pub api_key: Option<String>,
    /// Restricted keys (`rk_test_...`) accepted, with PaymentIntents permissions only. Empty:
    /// any `rk_test_` key when `api_key` is `None`, none when it is set.
    pub restricted_keys: Vec<String>,
    /// Who may use `/admin/*`: by default connections from this machine only.
    pub admin: AdminAccess,
    /// Webhook delivery; `url: None` disables it.
    pub webhook: WebhookSettings,
    /// How long a new PaymentIntent stays invisible to search.
    pub search_lag_ms: u64,
    /// Faults armed at start.
    pub faults: Vec<FaultRule>,
    /// Where the state (intents, charges, refunds, events, idempotency keys and their answers,
    /// the clock offset) is kept across restarts, in `persist::STATE_FILE`; created if missing
    /// (0700). `None`: in memory only, gone when the sandbox stops.
    pub state_dir: Option<PathBuf>,
    /// The PayPal side's start settings (issue 13): the one client pair its token endpoint
    /// accepts, and where its signed webhooks go, for a host whose admin routes are off.
    pub paypal: paypal_webhook::PaypalStart,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 0,
            api_key: None,
            restricted_keys: Vec::new(),
            admin: AdminAccess::default(),
            webhook: WebhookSettings::default(),
            search_lag_ms: SEARCH_LAG_MS_DEFAULT,
            faults: Vec::new(),
            state_dir: None,
            paypal: paypal_webhook::PaypalStart::default(),
        }
    }
}

/// A running sandbox. Call `shutdown` to stop it and wait; dropping it also stops it.
#[derive(Debug)]
pub struct SandboxHandle {
    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub base_url: String,
    pub addr: SocketAddr,
    shutdown_tx: watch::Sender<bool>,
    server_task: JoinHandle<()>,
    webhook_task: JoinHandle<()>,
    state: Option<Arc<persist::StateFile>>,
    /// The running server's state, for the in-process fault plan ([`SandboxHandle::fault_plan`]).
    shared: Arc<server::Shared>,
}

impl SandboxHandle {
    /// The fault plan of this running sandbox, to arm and disarm faults in-process.
    pub fn fault_plan(&self) -> FaultControl {
        FaultControl {
            shared: Arc::clone(&self.shared),
        }
    }

    /// Stops accepting, lets open requests finish (bounded), stops webhook delivery, and waits.
    /// Then the state file (if any) is closed: an operation whose client was cut off by the
    /// shutdown and that is still running writes nothing, as if the process had exited.
    pub async fn shutdown(self) {
        let _ = self.shutdown_tx.send(true);
        let _ = self.server_task.await;
        let _ = self.webhook_task.await;
        if let Some(state) = &self.state {
            state.close();
        }
    }
}

/// The fault plan of a running sandbox, armed in this process as `/admin/faults` arms it over
/// HTTP: a host that embeds the sandbox (the desktop's training mode) needs no admin route open
/// to anyone. Cheap to clone; it outlives nothing (after shutdown it changes a plan nobody reads).
#[derive(Debug, Clone)]
pub struct FaultControl {
    shared: Arc<server::Shared>,
}

impl FaultControl {
    /// Arms a fault, after those already armed.
    pub fn arm(&self, rule: FaultRule) {
        self.shared.lock().faults.add(rule);
    }

    /// Disarms every fault still armed.
    pub fn clear(&self) {
        self.shared.lock().faults.clear();
    }

    /// The faults still armed, in the order they were added (each with its remaining count).
    pub fn rules(&self) -> Vec<FaultRule> {
        self.shared.lock().faults.rules().to_vec()
    }
}

/// Binds the listener and starts the server and the webhook dispatcher on the current runtime.
pub async fn spawn(config: SandboxConfig) -> anyhow::Result<SandboxHandle> {
    let (state, saved) = match &config.state_dir {
        Some(dir) => {
            let (state, saved) = persist::StateFile::open(dir).map_err(anyhow::Error::msg)?;
            (Some(Arc::new(state)), saved)
        }
        None => (None, None),
    };
    let listener = TcpListener::bind((config.host, config.port))
        .await
        .with_context(|| format!("cannot listen on {}:{}", config.host, config.port))?;
    let addr = listener
        .local_addr()
        .context("listener has no local address")?;
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let (webhook_tx, webhook_rx) = mpsc::unbounded_channel();
    let mut world = server::World {
        search_lag_ms: i64::try_from(config.search_lag_ms).unwrap_or(i64::MAX),
        ..server::World::default()
    };
    world.store.webhooks_enabled = config.webhook.url.is_some();
    if let Some(saved) = saved {
        world.restore(saved);
    }
    world.store.public_url = format!("http://{addr}");
    for rule in config.faults {
        world.faults.add(rule);
    }
    if let Some(pair) = config.paypal.credentials.clone() {
        world.paypal.settings.credentials = Some(pair);
    }
    let state_file = state.clone();
    let shared = Arc::new(server::Shared {
        world: Mutex::new(world),
        keys: Keys {
            secret: config.api_key,
            restricted: config.restricted_keys,
        },
        admin: config.admin,
        webhook: Arc::new(Mutex::new(config.webhook)),
        webhook_tx,
        deliveries: Arc::new(Mutex::new(Vec::new())),
        paypal_webhooks: {
            let hooks = paypal_webhook::PaypalWebhooks::start(
                &format!("http://{addr}"),
                shutdown_rx.clone(),
            );
            hooks.set_url(config.paypal.webhook_url.clone());
            hooks
        },
        state,
        changes: AtomicU64::new(0),
    });
    let webhook_task = tokio::spawn(webhook::dispatch(
        webhook_rx,
        shared.webhook.clone(),
        shared.deliveries.clone(),
        shutdown_rx.clone(),
    ));
    let server_task = tokio::spawn(server::serve(
        listener,
        server::router(shared.clone()),
        shutdown_rx,
    ));
    Ok(SandboxHandle {
        base_url: format!("http://{addr}"),
        addr,
        shutdown_tx,
        server_task,
        webhook_task,
        state: state_file,
        shared,
    })
}

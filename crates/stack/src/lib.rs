//! Paydesk's embedded default: on a machine with nothing else installed, the central server on a
//! SQLite file and the sandbox gateway, both in this process on loopback, seeded with the demo
//! orders and operators, with this terminal provisioned (its token in the OS keyring).
//!
//! The desktop app and the `paydesk stack` command start the same set through [`start`]; a
//! terminal then opens over it through [`Stack::connection`] and `paydesk_terminal::Terminal`.
//! Deliberately absent: charging and every other terminal service (`paydesk-terminal`), a
//! window, and any plaintext secret on disk — the data directory holds the central's database, the
//! sandbox's state (`sandbox/`, so a restart forgets no charge), the terminal's id and the URLs of
//! a running stack, never a token or a key.
//!
//! Keys by need (review H4): the terminal's gateway key in the secret store is a *restricted*
//! test key ([`DEMO_GATEWAY_KEY`], PaymentIntents only); the central gets a full `sk_test_` key of
//! its own, new at every start and held in memory only, for the sweeper, reconciliation and
//! refunds. The data directory is 0700 and the central's database 0600 from the first byte
//! (review M5); the sandbox's admin routes are off unless [`StackConfig::sandbox_admin`] says
//! otherwise (review L11).

mod demo_exceptions;
mod demo_parked;
mod files;
mod training;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use paydesk_central::{auth, demo, gateway_lookup::GatewayLookup, Store};
use paydesk_core::{OperatorId, TerminalId, Timestamp};
use paydesk_engine::{Clock, SystemClock};
use paydesk_gateway::{
    ApiKey, DispatchGateway, Gateway, PaypalConfig, PaypalGateway, StripeConfig, StripeGateway,
};
use paydesk_protocol::Role;
use paydesk_terminal::{
    Connection, HttpCentral, OpenError, PaypalAccess, Secret, SecretError, SecretStore, StackFile,
    Terminal, GATEWAY_API_KEY, TERMINAL_TOKEN,
};

/// Waits for Ctrl-C or SIGTERM: the same wait the central's own server uses, for `paydesk stack`.
pub use paydesk_central::server::shutdown_signal;
/// The terminal's journal file name in the data directory (the terminal crate's default).
pub use paydesk_terminal::JOURNAL_FILE;

/// The terminal's key for the sandbox: a fixed *restricted* test key (the sandbox moves no real
/// money, and this key may only create, confirm, cancel, retrieve and search PaymentIntents),
/// kept in the secret store like a real key so the engine reads it the same way.
pub const DEMO_GATEWAY_KEY: &str = "rk_test_paydesk_demo";
/// The client id of the sandbox's PayPal REST app (not a secret). Its secret is random at every
/// start and held in memory only; the sandbox's token endpoint accepts only that pair.
pub const DEMO_PAYPAL_CLIENT_ID: &str = "paydesk-demo-paypal";
/// Who may use the embedded sandbox's `/admin` routes (faults, clock, webhook target).
pub use paydesk_sandbox::AdminAccess as SandboxAdmin;
/// The demo operator and their PIN (printed by the front ends: it is demo data, not a secret).
pub const DEMO_OPERATOR: &str = "demo-operator";
pub const DEMO_OPERATOR_PIN: &str = "123456";
/// The demo manager and their PIN.
pub const DEMO_MANAGER: &str = "demo-manager";
pub const DEMO_MANAGER_PIN: &str = "87654321";
/// A second demo manager, to approve a large refund the first one asks for (four eyes).
pub const DEMO_MANAGER_2: &str = "demo-manager-2";
pub const DEMO_MANAGER_2_PIN: &str = "24681357";
pub use demo_exceptions::{
    OUTSIDE_REFUND_ORDER, SEEDED_FILE as DEMO_EXCEPTIONS_FILE, UNVERIFIED_ORDER,
};
pub use demo_parked::PARKED_ORDER;
pub use training::{GatewayRehearsal, TrainingControls};

/// The central's database file in the data directory.
pub const CENTRAL_DB_FILE: &str = "central.sqlite";
/// The embedded central's offline-allowance signing key (Ed25519, PKCS#8, mode 0600).
pub const ALLOWANCE_SIGNING_KEY_FILE: &str = "central-allowance.key";
/// The sandbox's state directory in the data directory: its intents, refunds and idempotency
/// keys outlive a restart of the stack, as a real gateway's would (issue 15).
pub const SANDBOX_STATE_DIR: &str = "sandbox";
/// The terminal id of this installation (not a secret), kept across restarts.
const TERMINAL_FILE: &str = "terminal.json";
/// Provisioned terminal ids are this prefix and eight random hex digits.
const TERMINAL_PREFIX: &str = "desk-";
/// A random terminal id that is already taken is drawn again at most this often (2^32 ids: a
/// second collision means something else is wrong).
const TERMINAL_ID_TRIES_MAX: u32 = 3;

/// Why the stack could not start or an engine could not be built. Messages never carry secrets.
#[derive(Debug, thiserror::Error)]
pub enum StackError {
    #[error("the data directory {path}: {detail}")]
    DataDir { path: PathBuf, detail: String },
    #[error("{0}")]
    Secrets(#[from] SecretError),
    #[error(
        "the secret store holds a live gateway key: the embedded stack uses the sandbox's test key \
         and will not replace a live one; use another keyring service for the demo"
    )]
    LiveGatewayKey,
    #[error("the embedded central: {0}")]
    Central(String),
    #[error("the sandbox gateway: {0}")]
    Sandbox(String),
    #[error("the gateway configuration: {0}")]
    Gateway(String),
}

/// How to start the embedded stack.
#[derive(Debug, Clone)]
pub struct StackConfig {
    /// Holds the central's database, the terminal id and `stack.json`; created if missing.
    pub data_dir: PathBuf,
    /// Where the terminal token and the gateway key go (the OS keyring in the product).
    pub secrets: Arc<dyn SecretStore>,
    /// Loopback ports; 0 picks free ones (read the URLs back from the [`Stack`]).
    pub central_port: u16,
    pub gateway_port: u16,
    /// The central's claim lease.
    pub lease_ms: i64,
    /// The sandbox's `/admin` routes: off by default (the demo has no use for them, and another
    /// local user could otherwise redirect webhooks or inject faults); tests that drive faults
    /// set [`SandboxAdmin::LoopbackOnly`] or a token.
    pub sandbox_admin: SandboxAdmin,
    /// To try offline work: the central runs, but `stack.json` names it unreachable
    /// ([`paydesk_terminal::STOPPED_STACK_URL`]), so terminals take their offline paths while the
    /// sandbox still charges. Off by default.
    pub central_down: bool,
    /// The demo a person starts (the desktop app, `paydesk stack`): the sandbox sends its signed
    /// webhooks to the central, and a fresh data directory is seeded once with exceptions for a
    /// manager (`demo_exceptions`: a refund made outside Paydesk, a charge the central could not
    /// verify). Off by default, so tests see only what they do themselves.
    pub demo_exceptions: bool,
    /// The journal of the terminal that opens over this stack next (the desktop's). With
    /// [`StackConfig::demo_exceptions`], the demo also leaves a result in it that this till made
    /// under the terminal id it had before its token was lost (`demo_parked`): the central
    /// refuses it when the terminal relays it, and it parks for a manager. `None`: no such seed.
    pub journal: Option<PathBuf>,
}

impl StackConfig {
    pub fn new(data_dir: impl Into<PathBuf>, secrets: Arc<dyn SecretStore>) -> StackConfig {
        StackConfig {
            data_dir: data_dir.into(),
            secrets,
            central_port: 0,
            gateway_port: 0,
            lease_ms: paydesk_central::http::LEASE_MS_DEFAULT,
            sandbox_admin: SandboxAdmin::Off,
            central_down: false,
            demo_exceptions: false,
            journal: None,
        }
    }

    /// The same, with the demo's webhooks and exceptions on (see [`StackConfig::demo_exceptions`]).
    pub fn with_demo_exceptions(mut self) -> StackConfig {
        self.demo_exceptions = true;
        self
    }
}

/// A running embedded stack. Call [`Stack::shutdown`] to stop both servers and wait for them.
#[derive(Debug)]
pub struct Stack {
    /// `http://127.0.0.1:PORT` of the central.
    pub central_url: String,
    /// `http://127.0.0.1:PORT` of the sandbox gateway.
    pub gateway_url: String,
    /// This terminal, registered at the central; its token is in the secret store.
    pub terminal: TerminalId,
    /// True when this start registered a new terminal (first start, or the token was gone).
    pub newly_provisioned: bool,
    pub data_dir: PathBuf,
    /// Read from the secret store at start; lives only in memory.
    terminal_token: Secret,
    gateway_key: Secret,
    /// PayPal on the same sandbox (issue 13): its orders are charged through it.
    paypal: PaypalAccess,
    /// The central's store, open for the life of the stack (closed at shutdown).
    store: Store,
    /// The running central, which training may stop and start again (`training.rs`).
    central: Arc<tokio::sync::Mutex<training::CentralSlot>>,
    sandbox: paydesk_sandbox::SandboxHandle,
    /// Held locked while this stack runs: readers believe `stack.json` only while it is.
    _lock: std::fs::File,
}

/// Starts the central (SQLite in `data_dir`) and the sandbox on loopback, seeds the demo data
/// (idempotent), and provisions this terminal unless the secret store still holds a token the
/// central knows. Restarting over the same data directory reuses the database and the terminal.
pub async fn start(config: StackConfig) -> Result<Stack, StackError> {
    let data_dir = config.data_dir.clone();
    let data_dir_error = |detail: String| StackError::DataDir {
        path: data_dir.clone(),
        detail,
    };
    paydesk_terminal::private_dir(&data_dir).map_err(|e| data_dir_error(e.to_string()))?;
    let lock = files::lock_stack(&data_dir).map_err(data_dir_error)?;
    let gateway_key = ensure_demo_gateway_key(Arc::clone(&config.secrets)).await?;
    // The central's own full key: random, in memory only, never in the secret store.
    let central_key = format!(
        "sk_test_paydesk_{}",
        auth::new_token()
            .split_once('_')
            .map_or("", |(_, random)| random)
    );

    let db = data_dir.join(CENTRAL_DB_FILE);
    paydesk_terminal::private_file(&db).map_err(|e| data_dir_error(e.to_string()))?;
    let db = db.to_str().ok_or_else(|| StackError::DataDir {
        path: data_dir.clone(),
        detail: "the path is not valid UTF-8".into(),
    })?;
    let store = Store::open(db).await.map_err(central_error)?;
    let now = SystemClock.now();
    seed_demo(&store, now).await?;
    let (terminal, terminal_token, newly_provisioned) =
        provision_terminal(&store, Arc::clone(&config.secrets), &data_dir, now).await?;

    let listener = tokio::net::TcpListener::bind(("127.0.0.1", config.central_port))
        .await
        .map_err(|e| {
            StackError::Central(format!("listening on port {}: {e}", config.central_port))
        })?;
    let central_addr = listener
        .local_addr()
        .map_err(|e| StackError::Central(format!("the central's address: {e}")))?;
    // The sandbox signs its webhooks with a secret new at every start, held in memory only, and
    // sends them to the central: refunds made outside Paydesk reach the inbox at once.
    let webhook_secret = format!(
        "whsec_{}",
        auth::new_token()
            .split_once('_')
            .map_or("", |(_, random)| random)
    );
    // The sandbox's PayPal side: one REST app whose secret is new at every start; its signed
    // webhooks go to the central, which verifies them with the sandbox's certificate.
    let paypal_secret = format!(
        "ppsec_{}",
        auth::new_token()
            .split_once('_')
            .map_or("", |(_, random)| random)
    );
    let sandbox = paydesk_sandbox::spawn(paydesk_sandbox::SandboxConfig {
        paypal: paydesk_sandbox::paypal_webhook::PaypalStart {
            credentials: Some((DEMO_PAYPAL_CLIENT_ID.to_string(), paypal_secret.clone())),
            webhook_url: Some(format!("http://{central_addr}/webhooks/paypal")),
        },
        port: config.gateway_port,
        api_key: Some(central_key.clone()),
        restricted_keys: vec![DEMO_GATEWAY_KEY.to_string()],
        admin: config.sandbox_admin.clone(),
        state_dir: Some(data_dir.join(SANDBOX_STATE_DIR)),
        webhook: paydesk_sandbox::WebhookSettings {
            url: config
                .demo_exceptions
                .then(|| format!("http://{central_addr}/webhooks/stripe")),
            secret: webhook_secret.clone(),
            ..paydesk_sandbox::WebhookSettings::default()
        },
        ..paydesk_sandbox::SandboxConfig::default()
    })
    .await
    .map_err(|e| StackError::Sandbox(format!("{e:#}")))?;
    // The central's sweeper asks the same sandbox about stale claims, with the full key; each
    // order's intent goes to its own gateway (Stripe's or PayPal's side of the sandbox).
    let paypal = PaypalAccess {
        base_url: sandbox.base_url.clone(),
        client_id: DEMO_PAYPAL_CLIENT_ID.to_string(),
        secret: Secret::new(paypal_secret.clone()).map_err(StackError::from)?,
    };
    let stripe: Arc<dyn Gateway> = Arc::new(
        StripeGateway::new(
            ApiKey::new(central_key).map_err(|e| StackError::Gateway(e.to_string()))?,
            StripeConfig::with_base_url(sandbox.base_url.clone()),
        )
        .map_err(|e| StackError::Gateway(e.to_string()))?,
    );
    let paypal_gateway: Arc<dyn Gateway> = Arc::new(
        PaypalGateway::new(
            DEMO_PAYPAL_CLIENT_ID,
            ApiKey::new(paypal_secret).map_err(|e| StackError::Gateway(e.to_string()))?,
            PaypalConfig::with_base_url(sandbox.base_url.clone()),
        )
        .map_err(|e| StackError::Gateway(e.to_string()))?,
    );
    let lookup_gateway: Arc<dyn Gateway> =
        Arc::new(DispatchGateway::new(Some(stripe), Some(paypal_gateway)));
    let paypal_webhook = paydesk_central::webhook_paypal::PaypalVerifier::new({
        let mut settings = paydesk_central::webhook_paypal::PaypalWebhookSettings::new(
            paydesk_sandbox::paypal_webhook::SANDBOX_WEBHOOK_ID,
        );
        settings.cert_pem = Some(
            paydesk_sandbox::paypal_webhook::SANDBOX_CERT_PEM
                .as_bytes()
                .to_vec(),
        );
        settings
    })
    .map_err(StackError::Central)?;
    // The key that signs offline allowances lives as long as the data directory, so the key a
    // terminal pinned still verifies after a restart.
    let allowance_key =
        paydesk_central::allowances::load_or_create_key(&data_dir.join(ALLOWANCE_SIGNING_KEY_FILE))
            .map_err(StackError::Central)?;
    // Reconciliation lists PayPal's successes by the PayPal orders registered here (PayPal
    // has no search).
    let store_for_lookup = store.clone();
    // Kept to start the central again after training stopped it (`training.rs`).
    let central_config = paydesk_central::Config {
        lease_ms: config.lease_ms,
        webhook_secrets: if config.demo_exceptions {
            vec![webhook_secret]
        } else {
            Vec::new()
        },
        allowance_key: Some(Arc::new(allowance_key)),
        paypal_webhook: Some(Arc::new(paypal_webhook)),
        // Managers' reversals go to the same sandbox with the same key.
        gateway_actions: Some(Arc::new(
            paydesk_central::gateway_actions::GatewayActor::new(lookup_gateway.clone()),
        )),
        ..paydesk_central::Config::default()
    };
    // The sandbox is test mode: webhook events of live mode are refused.
    let central_lookup: Arc<dyn paydesk_central::IntentLookup> = Arc::new(
        GatewayLookup::new(lookup_gateway.clone())
            .with_livemode(false)
            .with_paypal_orders(store_for_lookup),
    );
    let central = paydesk_central::start(
        store,
        central_config.clone(),
        Some(central_lookup.clone()),
        listener,
    )
    .map_err(|e| StackError::Central(e.to_string()))?;

    // The demo orders' saved payment methods as the sandbox describes them (issue 12, item 1),
    // as an import through the central's API reads them; any not read show "not read yet".
    paydesk_central::saved_methods::read_unread(
        &central.store,
        central_lookup.as_ref(),
        now,
        std::time::Duration::from_millis(paydesk_central::saved_methods::READ_AFTER_IMPORT_MS_MAX),
    )
    .await;

    // Something for a manager to do in a fresh demo; a failure here leaves a working stack.
    let sweeper_view = GatewayLookup::new(lookup_gateway.clone()).with_livemode(false);
    let seeded = if !config.demo_exceptions {
        Ok(())
    } else {
        demo_exceptions::seed(
            &data_dir,
            &central.store,
            lookup_gateway.as_ref(),
            &sweeper_view,
            &terminal,
            DEMO_OPERATOR,
            config.lease_ms,
            now,
        )
        .await
    };
    // The parked result needs the terminal's journal, which opens only after this returns.
    let seeded = match (&seeded, config.demo_exceptions, &config.journal) {
        (Ok(()), true, Some(journal)) => {
            demo_parked::seed(
                &central.store,
                demo_parked::OldTill {
                    central_url: &format!("http://{}", central.addr),
                    gateway_url: &sandbox.base_url,
                    gateway_key: &gateway_key,
                    paypal: &paypal,
                },
                &data_dir,
                journal,
                (DEMO_OPERATOR, DEMO_OPERATOR_PIN),
                SystemClock.now(),
            )
            .await
        }
        _ => seeded,
    };
    if let Err(e) = seeded {
        tracing::warn!(error = %e, "the demo's exceptions could not be seeded; the demo works without them");
    }
    let stack = Stack {
        central_url: format!("http://{}", central.addr),
        gateway_url: sandbox.base_url.clone(),
        terminal,
        newly_provisioned,
        data_dir,
        terminal_token,
        gateway_key,
        paypal,
        store: central.store.clone(),
        central: Arc::new(tokio::sync::Mutex::new(training::CentralSlot {
            store: central.store.clone(),
            config: central_config,
            lookup: Some(central_lookup),
            addr: central.addr,
            closed: false,
            running: Some(central),
        })),
        sandbox,
        _lock: lock,
    };
    files::write_stack_file(
        &stack.data_dir,
        &StackFile {
            central_url: if config.central_down {
                paydesk_terminal::STOPPED_STACK_URL.to_string()
            } else {
                stack.central_url.clone()
            },
            gateway_url: stack.gateway_url.clone(),
            terminal_id: stack.terminal.clone(),
        },
    )
    .map_err(|detail| StackError::DataDir {
        path: stack.data_dir.clone(),
        detail,
    })?;
    tracing::info!(central = %stack.central_url, gateway = %stack.gateway_url, terminal = %stack.terminal, "embedded stack running");
    Ok(stack)
}

impl Stack {
    /// How this terminal reaches this stack, with its journal at `journal` and its caches in the
    /// stack's data directory.
    pub fn connection(&self, journal: &Path) -> Connection {
        Connection {
            central_url: self.central_url.clone(),
            gateway_url: self.gateway_url.clone(),
            terminal: self.terminal.clone(),
            terminal_token: self.terminal_token.clone(),
            gateway_key: self.gateway_key.clone(),
            data_dir: self.data_dir.clone(),
            journal: journal.to_path_buf(),
            paypal: Some(self.paypal.clone()),
        }
    }

    /// This terminal against this stack (opens, and locks, `journal`).
    pub async fn terminal(&self, journal: &Path) -> Result<Terminal, OpenError> {
        Terminal::open(self.connection(journal)).await
    }

    /// An HTTP client of the central with this terminal's token (the queue, the operators).
    pub fn central_client(&self) -> Result<HttpCentral, OpenError> {
        paydesk_terminal::central_client(&self.central_url, &self.terminal_token)
    }

    /// The central's store, for tools and tests that set up data directly.
    pub fn central_store(&self) -> &Store {
        &self.store
    }

    /// Training mode's controls: the sandbox's faults armed in this process, and the central
    /// stopped and started again (see [`TrainingControls`]).
    pub fn training(&self) -> TrainingControls {
        TrainingControls {
            faults: self.sandbox.fault_plan(),
            central: Arc::clone(&self.central),
        }
    }

    /// Stops the central (in-flight requests and the current sweep finish) and the sandbox, waits
    /// for both, and removes `stack.json` so nobody is pointed at the stopped servers.
    pub async fn shutdown(self) {
        files::remove_stack_file(&self.data_dir, &self.central_url);
        let store = self.store.clone();
        let central = {
            let mut slot = self.central.lock().await;
            slot.closed = true;
            slot.running.take()
        };
        // Training may have it stopped: then there is nothing to stop.
        if let Some(central) = central {
            central.shutdown().await;
        }
        self.sandbox.shutdown().await;
        store.close().await;
        tracing::info!("embedded stack stopped");
    }
}

fn central_error(e: paydesk_central::CentralError) -> StackError {
    StackError::Central(e.to_string())
}

/// Runs a secret-store call on a blocking thread: the keyring talks D-Bus synchronously.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, SecretError> + Send + 'static,
) -> Result<T, StackError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| {
            StackError::Secrets(SecretError::Keyring {
                detail: format!("the secret-store task failed: {e}"),
            })
        })?
        .map_err(StackError::from)
}

/// Puts the terminal's restricted test key into the store unless it is there (replacing the full
/// `sk_test_` demo key of older versions); refuses to replace a live key.
async fn ensure_demo_gateway_key(secrets: Arc<dyn SecretStore>) -> Result<Secret, StackError> {
    let demo = Secret::new(DEMO_GATEWAY_KEY).expect("the demo key is a valid secret");
    let stored = {
        let secrets = Arc::clone(&secrets);
        blocking(move || secrets.get(GATEWAY_API_KEY)).await?
    };
    match stored {
        Some(key) if key == demo => return Ok(demo),
        Some(key) if !ApiKey::new(key.expose()).is_ok_and(|k| k.is_test_mode()) => {
            return Err(StackError::LiveGatewayKey)
        }
        // Missing, or another test key: the sandbox accepts only the demo key from a terminal.
        _ => {}
    }
    let value = demo.clone();
    blocking(move || secrets.set(GATEWAY_API_KEY, &value)).await?;
    Ok(demo)
}

/// Imports the demo orders (idempotent on the order id) and adds the demo operator and manager
/// if they are missing, or gives them the demo PIN again when theirs is another (a data directory
/// from before the PIN minimums rose still holds the old 4-digit demo PINs).
async fn seed_demo(store: &Store, now: Timestamp) -> Result<(), StackError> {
    store
        .import_orders(&demo::demo_orders(), now)
        .await
        .map_err(central_error)?;
    // PayPal orders too: this stack's sandbox speaks PayPal and its terminal reaches it.
    store
        .import_orders(&demo::paypal_demo_orders(), now)
        .await
        .map_err(central_error)?;
    for (id, pin, role) in [
        (DEMO_OPERATOR, DEMO_OPERATOR_PIN, Role::Operator),
        (DEMO_MANAGER, DEMO_MANAGER_PIN, Role::Manager),
        (DEMO_MANAGER_2, DEMO_MANAGER_2_PIN, Role::Manager),
    ] {
        let id = OperatorId::new(id).expect("demo operator ids are valid");
        if let Some((hash, _)) = store
            .operator_credentials(&id)
            .await
            .map_err(central_error)?
        {
            let current = tokio::task::spawn_blocking(move || auth::verify_pin(Some(&hash), pin))
                .await
                .map_err(|e| StackError::Central(format!("checking a demo PIN: {e}")))?;
            if current {
                continue;
            }
        }
        let hash = tokio::task::spawn_blocking(move || auth::hash_pin(pin))
            .await
            .map_err(|e| StackError::Central(format!("hashing a demo PIN: {e}")))?
            .map_err(StackError::Central)?;
        store
            .upsert_operator(&id, role, &hash, now)
            .await
            .map_err(central_error)?;
    }
    Ok(())
}

/// The shape of the tokens the central issues: `pdt_` and 64 lower-case hex digits.
fn is_terminal_token(token: &str) -> bool {
    token.strip_prefix("pdt_").is_some_and(|hex| {
        hex.len() == 64
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// Reuses the terminal of the last start when the secret store still holds a token the central
/// knows for it; otherwise registers a new terminal id and stores its token (the store's own
/// token when the central has never seen it and it has the central's format: a headless stack's
/// `PAYDESK_TERMINAL_TOKEN`).
async fn provision_terminal(
    store: &Store,
    secrets: Arc<dyn SecretStore>,
    data_dir: &Path,
    now: Timestamp,
) -> Result<(TerminalId, Secret, bool), StackError> {
    let known = files::read_terminal_file(&data_dir.join(TERMINAL_FILE));
    let token = {
        let secrets = Arc::clone(&secrets);
        blocking(move || secrets.get(TERMINAL_TOKEN)).await?
    };
    // A token in the store that the central has never seen, in the central's own format: one a
    // headless stack was given (`PAYDESK_TERMINAL_TOKEN`), registered below for a new terminal.
    let mut given = None;
    if let Some(token) = &token {
        let registered = store
            .terminal_by_token_hash(&auth::token_sha256(token.expose()), now)
            .await
            .map_err(central_error)?;
        match (&known, &registered) {
            (Some(terminal), Some(r)) if &r.terminal_id == terminal && r.revoked_at.is_none() => {
                return Ok((terminal.clone(), token.clone(), false));
            }
            (_, None) if is_terminal_token(token.expose()) => given = Some(token.clone()),
            _ => {}
        }
    }
    // A terminal's token cannot be re-issued (the central has no such route), so a lost token
    // means a new terminal id; the old one simply stays unused.
    let mut tries = 0;
    let (terminal, token) = loop {
        tries += 1;
        let candidate = TerminalId::new(format!("{TERMINAL_PREFIX}{:08x}", fastrand::u32(..)))
            .expect("generated terminal ids are valid");
        let token = match &given {
            Some(given) => given.expose().to_string(),
            None => auth::new_token(),
        };
        match store
            .add_terminal(&candidate, &auth::token_sha256(&token), now)
            .await
        {
            Ok(_token_id) => {
                let secret = Secret::new(token).expect("central tokens are valid secrets");
                let value = secret.clone();
                blocking(move || secrets.set(TERMINAL_TOKEN, &value)).await?;
                break (candidate, secret);
            }
            Err(paydesk_central::CentralError::Conflict(_)) if tries < TERMINAL_ID_TRIES_MAX => {}
            Err(e) => return Err(central_error(e)),
        }
    };
    files::write_terminal_file(&data_dir.join(TERMINAL_FILE), &terminal).map_err(|detail| {
        StackError::DataDir {
            path: data_dir.to_path_buf(),
            detail,
        }
    })?;
    // The one log line about the token: where it went, never what it is.
    tracing::info!(terminal = %terminal, entry = TERMINAL_TOKEN, "terminal provisioned; its token is in the secret store");
    Ok((terminal, token, true))
}

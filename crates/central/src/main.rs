//! The `paydesk-central` command line: serve the API, and the set-up commands (create the
//! database, add a terminal or an operator, list, revoke or rotate terminal tokens, import
//! orders, seed the demo data).
//!
//! Secrets never come from arguments (visible in `ps`): the admin token, webhook secrets and the
//! gateway key are read from environment variables, a PIN from stdin. Deliberately absent: any
//! logic of its own — each command is a thin call into the library.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand, ValueEnum};
use paydesk_central::gateway_lookup::GatewayLookup;
use paydesk_central::http::{Config, LEASE_MS_DEFAULT, SWEEP_INTERVAL_MS_DEFAULT};
use paydesk_central::sweeper::IntentLookup;
use paydesk_central::{auth, clock, demo, import, Store};
use paydesk_core::{OperatorId, TerminalId};
use paydesk_protocol::{ImportOrdersResponse, Role};

/// Environment variable holding the admin token for set-up over HTTP.
const ADMIN_TOKEN_ENV: &str = "PAYDESK_ADMIN_TOKEN";
/// Environment variable holding the webhook signing secrets, comma-separated (newest first).
const WEBHOOK_SECRETS_ENV: &str = "PAYDESK_WEBHOOK_SECRETS";
/// Environment variable holding the gateway's secret key (for the sweeper and reconciliation).
const GATEWAY_KEY_ENV: &str = "PAYDESK_GATEWAY_KEY";
const PAYPAL_CLIENT_ID_ENV: &str = "PAYDESK_PAYPAL_CLIENT_ID";
const PAYPAL_SECRET_ENV: &str = "PAYDESK_PAYPAL_SECRET";
/// Shortest sweeper pause accepted, in milliseconds: 0 made the sweeper's timer panic (finding
/// L12), and anything much shorter only burns database time.
const SWEEP_INTERVAL_MS_MIN: u64 = 100;

#[derive(Debug, Parser)]
#[command(name = "paydesk-central", version, about = "Paydesk's central server")]
struct Cli {
    /// The database: a SQLite file path (created on first start) or a postgres:// URL.
    #[arg(
        long,
        global = true,
        env = "PAYDESK_CENTRAL_DB",
        default_value = "paydesk-central.db"
    )]
    db: String,
    #[command(subcommand)]
    command: Command,
}

// Parsed once per process: the size of `Serve` (its flags, PayPal's among them) costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the HTTP API; prints the bound address as the first line on stdout.
    Serve {
        #[arg(long, default_value = "127.0.0.1:8787")]
        listen: String,
        /// Claim lease in milliseconds.
        #[arg(long, default_value_t = LEASE_MS_DEFAULT)]
        lease_ms: i64,
        /// Pause between sweeper passes in milliseconds.
        #[arg(long, default_value_t = SWEEP_INTERVAL_MS_DEFAULT)]
        sweep_interval_ms: u64,
        /// Base URL of the Stripe-compatible gateway the sweeper asks (key from PAYDESK_GATEWAY_KEY).
        #[arg(long)]
        gateway_url: Option<String>,
        /// Serve HTTPS with this PEM certificate chain (needs --tls-key).
        #[arg(long, requires = "tls_key", value_name = "FILE")]
        tls_cert: Option<PathBuf>,
        /// The PEM private key of --tls-cert.
        #[arg(long, requires = "tls_cert", value_name = "FILE")]
        tls_key: Option<PathBuf>,
        /// Serve plain HTTP on an address other than loopback (behind a TLS-terminating proxy
        /// on the same host or network segment only): tokens and PINs would otherwise cross
        /// the network in clear.
        #[arg(long, conflicts_with = "tls_cert")]
        insecure_http: bool,
        /// The Ed25519 key (PKCS#8) that signs offline allowances; made (mode 0600) when the
        /// file does not exist. Back it up: terminals pin its public key. Default:
        /// `paydesk-allowance.key` next to a SQLite database, else in the working directory.
        #[arg(long, env = "PAYDESK_ALLOWANCE_KEY_FILE", value_name = "FILE")]
        allowance_key_file: Option<PathBuf>,
        #[command(flatten)]
        paypal: PaypalArgs,
    },
    /// Create the database (or bring its schema up to date) and exit.
    InitDb,
    /// Register a terminal and print its bearer token (shown this once).
    AddTerminal { terminal_id: String },
    /// Add an operator or a manager, reading the PIN from stdin.
    AddOperator {
        operator_id: String,
        #[arg(long, value_enum)]
        role: RoleArg,
        /// Read the PIN from standard input (the only way; it never goes on the command line).
        #[arg(long, required = true)]
        pin_stdin: bool,
    },
    /// List the terminals: token ids, when each was revoked and last seen (no secrets).
    ListTerminals,
    /// Revoke a terminal's token and end its sessions; a running central refuses it within
    /// seconds.
    RevokeTerminal { terminal_id: String },
    /// Give a terminal a new token (printed once); the old one stops working.
    RotateTerminal { terminal_id: String },
    /// Import orders from a .json or .csv file (idempotent on the order id).
    ImportOrders { file: PathBuf },
    /// Import the demo data set (twenty unpaid orders in EUR, USD and JPY).
    SeedDemo,
}

/// PayPal webhooks (`POST /webhooks/paypal`), verified offline; off without a webhook id.
#[derive(Debug, clap::Args)]
struct PaypalArgs {
    /// The webhook id PayPal shows for this central's webhook (the simulator's is WEBHOOK_ID).
    #[arg(long, env = "PAYDESK_PAYPAL_WEBHOOK_ID", value_name = "ID")]
    paypal_webhook_id: Option<String>,
    /// Verify with this PEM certificate instead of fetching the one PAYPAL-CERT-URL names.
    #[arg(
        long,
        env = "PAYDESK_PAYPAL_CERT_FILE",
        value_name = "FILE",
        requires = "paypal_webhook_id"
    )]
    paypal_cert_file: Option<PathBuf>,
    /// A further host PAYPAL-CERT-URL may name (https only), besides PayPal's four API hosts.
    #[arg(long, value_name = "HOST", requires = "paypal_webhook_id")]
    paypal_cert_host: Vec<String>,
    /// How far PAYPAL-TRANSMISSION-TIME may be from this server's clock, in seconds.
    #[arg(long, default_value_t = paydesk_central::webhook_paypal::TRANSMISSION_TOLERANCE_S_DEFAULT)]
    paypal_tolerance_s: i64,
    /// PayPal's REST API (https://api-m.paypal.com, its sandbox, or the local sandbox): the
    /// sweeper, the results' verification, reconciliation and reversals then read and refund
    /// PayPal orders there (the client id and secret in PAYDESK_PAYPAL_CLIENT_ID and
    /// PAYDESK_PAYPAL_SECRET). Needs --gateway-url too.
    #[arg(
        long,
        env = "PAYDESK_PAYPAL_URL",
        value_name = "URL",
        requires = "gateway_url"
    )]
    paypal_url: Option<String>,
}

impl PaypalArgs {
    /// The PayPal connector, or `None` without --paypal-url; errors name what to fix.
    fn gateway(&self) -> anyhow::Result<Option<Arc<dyn paydesk_gateway::Gateway>>> {
        let Some(url) = &self.paypal_url else {
            return Ok(None);
        };
        let client_id = std::env::var(PAYPAL_CLIENT_ID_ENV).with_context(|| {
            format!("--paypal-url needs the client id in {PAYPAL_CLIENT_ID_ENV}")
        })?;
        let secret = std::env::var(PAYPAL_SECRET_ENV).with_context(|| {
            format!("--paypal-url needs the client secret in {PAYPAL_SECRET_ENV}")
        })?;
        let secret = paydesk_gateway::ApiKey::new(secret).context("the PayPal client secret")?;
        let paypal = paydesk_gateway::PaypalGateway::new(
            client_id,
            secret,
            paydesk_gateway::PaypalConfig::with_base_url(url.clone()),
        )
        .context("PayPal configuration")?;
        Ok(Some(Arc::new(paypal)))
    }

    /// The verifier, or `None` when no webhook id is configured; errors name the flag to fix.
    fn verifier(
        self,
    ) -> anyhow::Result<Option<Arc<paydesk_central::webhook_paypal::PaypalVerifier>>> {
        use paydesk_central::webhook_paypal::{PaypalVerifier, PaypalWebhookSettings};
        let Some(id) = self.paypal_webhook_id else {
            return Ok(None);
        };
        let mut settings = PaypalWebhookSettings::new(id);
        settings.tolerance_s = self.paypal_tolerance_s;
        settings.cert_hosts.extend(self.paypal_cert_host);
        if let Some(file) = &self.paypal_cert_file {
            let pem = std::fs::read(file)
                .with_context(|| format!("--paypal-cert-file: cannot read {}", file.display()))?;
            settings.cert_pem = Some(pem);
        }
        let verifier = PaypalVerifier::new(settings)
            .map_err(anyhow::Error::msg)
            .context("PayPal webhooks (--paypal-webhook-id, --paypal-cert-file)")?;
        Ok(Some(Arc::new(verifier)))
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum RoleArg {
    Operator,
    Manager,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .init();
    let cli = Cli::parse();
    private_sqlite_file(&cli.db)
        .with_context(|| format!("preparing the database file {}", redact(&cli.db)))?;
    let store = Store::open(&cli.db)
        .await
        .with_context(|| format!("opening the database {}", redact(&cli.db)))?;
    let result = run(cli.command, &cli.db, &store).await;
    store.close().await;
    result
}

async fn run(command: Command, db: &str, store: &Store) -> anyhow::Result<()> {
    match command {
        Command::Serve {
            listen,
            lease_ms,
            sweep_interval_ms,
            gateway_url,
            tls_cert,
            tls_key,
            insecure_http,
            allowance_key_file,
            paypal,
        } => {
            let paypal_gateway = paypal.gateway()?;
            let paypal_webhook = paypal.verifier()?;
            let transport = match (tls_cert, tls_key) {
                (Some(cert), Some(key)) => Transport::Tls { cert, key },
                _ if insecure_http => Transport::InsecureHttp,
                _ => Transport::LoopbackHttp,
            };
            if sweep_interval_ms < SWEEP_INTERVAL_MS_MIN {
                bail!("--sweep-interval-ms must be at least {SWEEP_INTERVAL_MS_MIN}");
            }
            let key_file = allowance_key_file.unwrap_or_else(|| default_allowance_key_file(db));
            let key = paydesk_central::allowances::load_or_create_key(&key_file)
                .map_err(anyhow::Error::msg)
                .context("the offline-allowance signing key (--allowance-key-file)")?;
            serve(
                store,
                &listen,
                lease_ms,
                sweep_interval_ms,
                gateway_url,
                transport,
                Arc::new(key),
                (paypal_webhook, paypal_gateway),
            )
            .await
        }
        Command::InitDb => {
            println!("database ready ({})", store.backend().name());
            Ok(())
        }
        Command::AddTerminal { terminal_id } => {
            let id = TerminalId::new(terminal_id).context("terminal id")?;
            let token = auth::new_token();
            let token_id = store
                .add_terminal(&id, &auth::token_sha256(&token), clock::now())
                .await?;
            println!("{token}");
            eprintln!(
                "terminal {id} registered (token id {token_id}); the token above is shown only \
                 this once"
            );
            Ok(())
        }
        Command::ListTerminals => {
            for t in store.terminals().await? {
                let revoked = t
                    .revoked_at
                    .map_or("-".to_string(), |at| at.unix_ms().to_string());
                let seen = t
                    .last_seen_at
                    .map_or("-".to_string(), |at| at.unix_ms().to_string());
                println!(
                    "{} {} created={} revoked={revoked} last_seen={seen}",
                    t.terminal_id,
                    t.token_id,
                    t.created_at.unix_ms()
                );
            }
            Ok(())
        }
        Command::RevokeTerminal { terminal_id } => {
            let id = TerminalId::new(terminal_id).context("terminal id")?;
            let now = clock::now();
            let Some(token_id) = store.revoke_terminal(&id, now).await? else {
                bail!("terminal {id} is not registered: see list-terminals");
            };
            let ended = store.end_terminal_sessions(&id, now).await?;
            audit_token(store, "token_revoked", &id, &token_id).await?;
            println!(
                "terminal {id} revoked (token id {token_id}); {ended} session(s) ended; a \
                 running central refuses it within {} s",
                paydesk_central::http_auth::AUTH_CACHE_MS / 1000
            );
            Ok(())
        }
        Command::RotateTerminal { terminal_id } => {
            let id = TerminalId::new(terminal_id).context("terminal id")?;
            let token = auth::new_token();
            let Some((old_id, token_id)) = store
                .rotate_terminal(&id, &auth::token_sha256(&token))
                .await?
            else {
                bail!("terminal {id} is not registered: see list-terminals");
            };
            store.end_terminal_sessions(&id, clock::now()).await?;
            audit_token(store, "token_revoked", &id, &old_id).await?;
            audit_token(store, "token_rotated", &id, &token_id).await?;
            println!("{token}");
            eprintln!(
                "terminal {id} has a new token (token id {token_id}, shown only this once); \
                 the old one ({old_id}) stops working within a few seconds"
            );
            Ok(())
        }
        Command::AddOperator {
            operator_id, role, ..
        } => {
            let id = OperatorId::new(operator_id).context("operator id")?;
            let mut pin = String::new();
            std::io::stdin()
                .read_to_string(&mut pin)
                .context("reading the PIN from stdin")?;
            let pin = pin.trim().to_string();
            let role = match role {
                RoleArg::Operator => Role::Operator,
                RoleArg::Manager => Role::Manager,
            };
            auth::check_pin_policy(&pin, role).map_err(anyhow::Error::msg)?;
            let hash = tokio::task::spawn_blocking(move || auth::hash_pin(&pin))
                .await?
                .map_err(anyhow::Error::msg)?;
            store
                .upsert_operator(&id, role, &hash, clock::now())
                .await?;
            println!("{} {id} saved", role.as_str());
            Ok(())
        }
        Command::ImportOrders { file } => {
            let bytes =
                std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let name = file.to_string_lossy().to_ascii_lowercase();
            let orders = if name.ends_with(".json") {
                import::from_json(&bytes)
            } else if name.ends_with(".csv") {
                import::from_csv(&bytes)
            } else {
                bail!("{}: the file must end in .json or .csv", file.display());
            }
            .map_err(anyhow::Error::msg)
            .with_context(|| format!("reading orders from {}", file.display()))?;
            print_import(&store.import_orders(&orders, clock::now()).await?);
            Ok(())
        }
        Command::SeedDemo => {
            print_import(
                &store
                    .import_orders(&demo::demo_orders(), clock::now())
                    .await?,
            );
            Ok(())
        }
    }
}

/// Where the allowance key lives unless `--allowance-key-file` says: next to a SQLite database
/// file (backed up with it), else in the working directory.
fn default_allowance_key_file(db: &str) -> PathBuf {
    const NAME: &str = "paydesk-allowance.key";
    let (_, backend) = paydesk_central::store::database_url(db);
    if backend == paydesk_central::Backend::Sqlite && !db.starts_with("sqlite:") {
        if let Some(dir) = std::path::Path::new(db).parent() {
            return dir.join(NAME);
        }
    }
    PathBuf::from(NAME)
}

/// Records a token event of the CLI in the authentication audit.
async fn audit_token(
    store: &Store,
    event: &str,
    terminal: &TerminalId,
    token_id: &str,
) -> anyhow::Result<()> {
    let row = paydesk_central::store::AuthEvent {
        event,
        terminal_id: Some(terminal.as_str()),
        token_id: Some(token_id),
        ..Default::default()
    };
    store.audit_auth(&row, clock::now()).await?;
    Ok(())
}

fn print_import(r: &ImportOrdersResponse) {
    println!(
        "created {}, unchanged {}, conflicting {}",
        r.created,
        r.unchanged,
        r.conflicting.len()
    );
    for id in &r.conflicting {
        println!("conflicting: {id} exists with other content and was left as it was");
    }
}

/// Creates a SQLite database file (a plain path, not a URL) readable by its owner only before
/// SQLite opens it (a missing folder is left for SQLite to report); an existing file that others may read is
/// tightened to 0600 with its `-wal`/`-shm` (SQLite gives those the database file's mode). It
/// holds PIN hashes, token hashes and customer data (review M5). PostgreSQL URLs are left alone.
fn private_sqlite_file(db: &str) -> std::io::Result<()> {
    if db.contains("://") || db.starts_with("sqlite:") {
        return Ok(());
    }
    let path = std::path::Path::new(db);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
        {
            Ok(_) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            // No such folder: opening the database says so, in its words.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        }
        for suffix in ["", "-wal", "-shm"] {
            let file = std::path::PathBuf::from(format!("{db}{suffix}"));
            if let Ok(meta) = std::fs::metadata(&file) {
                if meta.is_file() && meta.permissions().mode() & 0o077 != 0 {
                    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))?;
                }
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Hides a password in a database URL before it is logged or printed.
fn redact(db: &str) -> String {
    match (db.find("://"), db.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &db[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &db[..scheme + 3], &db[at..]),
                None => db.to_string(),
            }
        }
        _ => db.to_string(),
    }
}

/// How `serve` talks to its clients.
#[derive(Debug)]
enum Transport {
    /// HTTPS with this certificate chain and key.
    Tls { cert: PathBuf, key: PathBuf },
    /// Plain HTTP, refused unless the address is loopback.
    LoopbackHttp,
    /// Plain HTTP on any address (`--insecure-http`).
    InsecureHttp,
}

// The PayPal verifier made the eighth argument.
#[allow(clippy::too_many_arguments)]
async fn serve(
    store: &Store,
    listen: &str,
    lease_ms: i64,
    sweep_interval_ms: u64,
    gateway_url: Option<String>,
    transport: Transport,
    allowance_key: Arc<ring::signature::Ed25519KeyPair>,
    (paypal_webhook, paypal_gateway): (
        Option<Arc<paydesk_central::webhook_paypal::PaypalVerifier>>,
        Option<Arc<dyn paydesk_gateway::Gateway>>,
    ),
) -> anyhow::Result<()> {
    // The certificate is read before anything else, so a bad file stops the start at once.
    let tls = match &transport {
        Transport::Tls { cert, key } => {
            Some(paydesk_central::server::load_tls(cert, key).map_err(anyhow::Error::msg)?)
        }
        _ => None,
    };
    if lease_ms <= 0 {
        bail!("--lease-ms must be positive");
    }
    let mut config = Config {
        lease_ms,
        admin_token: std::env::var(ADMIN_TOKEN_ENV)
            .ok()
            .filter(|t| !t.is_empty()),
        webhook_secrets: std::env::var(WEBHOOK_SECRETS_ENV)
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
        sweep_interval_ms,
        allowance_key: Some(allowance_key),
        paypal_webhook,
        ..Config::default()
    };
    match config
        .admin_token
        .as_deref()
        .map(auth::admin_token_weakness)
    {
        None => {
            tracing::warn!("{ADMIN_TOKEN_ENV} is not set: the admin routes refuse every request")
        }
        Some(Some(weakness)) => bail!("{ADMIN_TOKEN_ENV}: {weakness}"),
        Some(None) => {}
    }
    let gateway: Option<Arc<dyn IntentLookup>> = match gateway_url {
        None => {
            tracing::warn!("no --gateway-url: expired claims with an intent stay unresolved");
            None
        }
        Some(url) => {
            let key = std::env::var(GATEWAY_KEY_ENV)
                .with_context(|| format!("--gateway-url needs the key in {GATEWAY_KEY_ENV}"))?;
            let key = paydesk_gateway::ApiKey::new(key).context("gateway key")?;
            // Webhook events of the other mode (test vs live) are refused (M6).
            let livemode = !key.is_test_mode();
            let stripe = paydesk_gateway::StripeGateway::new(
                key,
                paydesk_gateway::StripeConfig {
                    base_url: url,
                    ..Default::default()
                },
            )
            .context("gateway configuration")?;
            // Each order's intent goes to its own gateway: Stripe's, or PayPal's when configured.
            let with_paypal = paypal_gateway.is_some();
            let gateway: Arc<dyn paydesk_gateway::Gateway> = Arc::new(
                paydesk_gateway::DispatchGateway::new(Some(Arc::new(stripe)), paypal_gateway),
            );
            // Managers' reversals (cancel, refund) go through the same connectors and keys.
            config.gateway_actions = Some(Arc::new(
                paydesk_central::gateway_actions::GatewayActor::new(gateway.clone()),
            ));
            let lookup = GatewayLookup::new(gateway).with_livemode(livemode);
            Some(Arc::new(if with_paypal {
                lookup.with_paypal_orders(store.clone())
            } else {
                lookup
            }))
        }
    };
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding {listen}"))?;
    let bound = listener.local_addr()?;
    if matches!(transport, Transport::LoopbackHttp)
        && !paydesk_gateway::url_policy::is_loopback_ip(bound.ip())
    {
        bail!(
            "refusing to serve plain HTTP on {bound}: terminal tokens, PINs and session tokens \
             would cross the network unencrypted. Serve HTTPS with --tls-cert FILE --tls-key FILE, \
             listen on 127.0.0.1 behind a TLS proxy, or pass --insecure-http if a proxy on this \
             network segment terminates TLS"
        );
    }
    let scheme = if tls.is_some() { "https" } else { "http" };
    let running =
        paydesk_central::server::start_with_tls(store.clone(), config, gateway, listener, tls)?;
    // The first stdout line is the address, for scripts and tests that bind port 0.
    let mut stdout = std::io::stdout();
    writeln!(stdout, "{}", running.addr)?;
    stdout.flush()?;
    tracing::info!(addr = %running.addr, scheme, database = store.backend().name(), "central serving");
    paydesk_central::server::shutdown_signal().await;
    tracing::info!("shutting down");
    running.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{default_allowance_key_file, redact};

    #[test]
    fn the_allowance_key_defaults_to_the_databases_directory() {
        assert_eq!(
            default_allowance_key_file("/var/lib/paydesk/central.db"),
            std::path::PathBuf::from("/var/lib/paydesk/paydesk-allowance.key")
        );
        assert_eq!(
            default_allowance_key_file("central.db"),
            std::path::PathBuf::from("paydesk-allowance.key")
        );
        assert_eq!(
            default_allowance_key_file("postgres://u@h/db"),
            std::path::PathBuf::from("paydesk-allowance.key")
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_sqlite_file_is_private_from_the_start_and_an_old_one_is_tightened() {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let dir = tempfile::tempdir().unwrap();
        let fresh = dir.path().join("central.db");
        super::private_sqlite_file(fresh.to_str().unwrap()).unwrap();
        assert_eq!(mode(&fresh), 0o600);
        let nowhere = dir.path().join("missing/central.db");
        super::private_sqlite_file(nowhere.to_str().unwrap()).unwrap();
        assert!(!nowhere.parent().unwrap().exists(), "no folder is made");
        let old = dir.path().join("old.db");
        std::fs::write(&old, b"x").unwrap();
        std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o644)).unwrap();
        super::private_sqlite_file(old.to_str().unwrap()).unwrap();
        assert_eq!(mode(&old), 0o600);
        super::private_sqlite_file("postgres://u@h/db").unwrap();
    }

    #[test]
    fn passwords_in_database_urls_are_hidden() {
        assert_eq!(
            redact("postgres://app:s3cret@db:5432/paydesk"),
            "postgres://app:***@db:5432/paydesk"
        );
        assert_eq!(redact("postgres://app@db/x"), "postgres://app@db/x");
        assert_eq!(redact("/var/lib/central.db"), "/var/lib/central.db");
    }
}

//! Opening a terminal: from resolved settings (URLs, the terminal id, its two secrets, the data
//! directory and the journal) to the central's HTTP client, the gateway connectors and an engine
//! over the journal — the one place both front ends wire them. The engine gets one gateway that
//! sends each order's calls to that order's own gateway (`paydesk_gateway::DispatchGateway`):
//! Stripe always, PayPal when the terminal has PayPal access.
//!
//! Deliberately absent: where the settings come from (`settings.rs`, or a running embedded stack)
//! and any policy of its own.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use paydesk_core::TerminalId;
use paydesk_engine::{Engine, EngineConfig, SystemClock};
use paydesk_gateway::{
    ApiKey, DispatchGateway, Gateway, PaypalConfig, PaypalGateway, StripeConfig, StripeGateway,
};
use paydesk_journal::{Journal, JournalError};

use crate::central_http::{HttpCentral, TerminalToken};
use crate::secrets::Secret;
use crate::settings::{SecretKind, SecretLoadError, SettingsError, TerminalSettings};

/// Everything a terminal needs, resolved and checked.
#[derive(Debug, Clone)]
pub struct Connection {
    /// The central's base URL.
    pub central_url: String,
    /// The gateway's base URL (`https://api.stripe.com` or the sandbox).
    pub gateway_url: String,
    pub terminal: TerminalId,
    pub terminal_token: Secret,
    pub gateway_key: Secret,
    /// Caches and the offline allowance live here; created if missing.
    pub data_dir: PathBuf,
    /// The journal file; opened (and locked for this process) by [`crate::Terminal::open`].
    pub journal: PathBuf,
    /// PayPal, for orders whose gateway is PayPal; `None`: this terminal charges Stripe orders
    /// only (a PayPal order's charge then stops before anything is sent, saying so).
    pub paypal: Option<PaypalAccess>,
}

/// How a terminal reaches PayPal: the REST API's base URL and the app's client credentials.
#[derive(Debug, Clone)]
pub struct PaypalAccess {
    /// `https://api-m.paypal.com`, `https://api-m.sandbox.paypal.com`, or the local sandbox.
    pub base_url: String,
    pub client_id: String,
    pub secret: Secret,
}

/// PayPal access: the URL and client id from these variables, the client secret from
/// [`PAYPAL_SECRET_ENV`] or else the OS keyring (`paydesk provision paypal-secret`); all, or none
/// (no PayPal).
pub const PAYPAL_URL_ENV: &str = "PAYDESK_PAYPAL_URL";
pub const PAYPAL_CLIENT_ID_ENV: &str = "PAYDESK_PAYPAL_CLIENT_ID";
pub const PAYPAL_SECRET_ENV: &str = "PAYDESK_PAYPAL_SECRET";

impl TerminalSettings {
    /// PayPal access from [`PAYPAL_URL_ENV`] and [`PAYPAL_CLIENT_ID_ENV`], see
    /// [`TerminalSettings::paypal_access_with`].
    pub async fn paypal_access(&self) -> Result<Option<PaypalAccess>, ConnectError> {
        let read = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        self.paypal_access_with(read(PAYPAL_URL_ENV), read(PAYPAL_CLIENT_ID_ENV))
            .await
    }

    /// PayPal access for this URL and client id, with the client secret from its override
    /// ([`PAYPAL_SECRET_ENV`]) or else the secret store (the OS keyring). `Ok(None)` when none of
    /// the three is given (the keyring is then not asked); an error naming what is missing when
    /// only some are.
    pub async fn paypal_access_with(
        &self,
        base_url: Option<String>,
        client_id: Option<String>,
    ) -> Result<Option<PaypalAccess>, ConnectError> {
        match (base_url, client_id) {
            (None, None) if self.paypal_secret_override.is_none() => Ok(None),
            (Some(base_url), Some(client_id)) => Ok(Some(PaypalAccess {
                base_url,
                client_id,
                secret: self.secret(SecretKind::PaypalSecret).await?,
            })),
            _ => Err(ConnectError::Settings(SettingsError(format!(
                "PayPal needs {PAYPAL_URL_ENV} and {PAYPAL_CLIENT_ID_ENV}, with the client \
                 secret in the OS keyring (`paydesk provision paypal-secret`) or \
                 {PAYPAL_SECRET_ENV}; or none of them"
            )))),
        }
    }
}

/// Why the settings did not resolve to a [`Connection`].
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("{0}")]
    Settings(#[from] SettingsError),
    #[error("{0}")]
    Secret(#[from] SecretLoadError),
}

/// Why a terminal could not be opened. Messages never carry a secret.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("the data directory {path}: {detail}")]
    DataDir { path: PathBuf, detail: String },
    /// The gateway key or URL is not usable (nothing was sent).
    #[error("the gateway configuration: {0}")]
    Gateway(String),
    /// The central's URL is not usable.
    #[error("the central's configuration: {0}")]
    Central(String),
    #[error("{0}")]
    Journal(#[from] JournalError),
    #[error("internal error: {0}")]
    Internal(String),
}

/// The default data directory's name under the OS's per-user data folder.
const DATA_DIR_NAME: &str = "paydesk";

/// The folder an earlier desktop kept its data in by default (Tauri's app data folder, named
/// after the app's identifier), under the same OS data folder.
const FORMER_DESKTOP_DATA_DIR_NAME: &str = "com.paydesk.desktop";

impl TerminalSettings {
    /// The default data directory of both front ends, the command line and the desktop, so they
    /// share one journal, caches and embedded stack: `paydesk` under the OS's per-user data folder
    /// (`$XDG_DATA_HOME/paydesk`, i.e. `~/.local/share/paydesk`, on Linux;
    /// `~/Library/Application Support/paydesk` on macOS; `%APPDATA%\paydesk` on Windows).
    /// `None` when the OS names no such folder (no home directory); `PAYDESK_DATA_DIR` and
    /// `--data-dir` override it.
    pub fn default_data_dir() -> Option<PathBuf> {
        dirs::data_dir().map(|d| d.join(DATA_DIR_NAME))
    }

    /// The folder an earlier desktop used by default (`com.paydesk.desktop` under the same OS data
    /// folder), when it holds a journal and the shared default does not: its data is not moved
    /// (a journal is evidence, and it may be open), so the front end says where it is instead.
    pub fn former_desktop_data_dir() -> Option<PathBuf> {
        let base = dirs::data_dir()?;
        let former = base.join(FORMER_DESKTOP_DATA_DIR_NAME);
        let journal = |dir: &Path| dir.join(crate::settings::JOURNAL_FILE).is_file();
        (journal(&former) && !journal(&base.join(DATA_DIR_NAME))).then_some(former)
    }

    /// Resolves every setting against a running stack's `stack.json` in the data directory (if
    /// any), and reads the two secrets. `default_data_dir` is the front end's default place.
    pub async fn connect(
        &self,
        default_data_dir: Option<PathBuf>,
    ) -> Result<Connection, ConnectError> {
        let data_dir = self.data_dir_or(default_data_dir)?;
        let stack = crate::settings::read_stack_file(&data_dir);
        let connection = Connection {
            central_url: self.require_central_url(stack.as_ref())?,
            gateway_url: self.gateway_url(stack.as_ref())?,
            terminal: self.terminal(stack.as_ref())?,
            terminal_token: self.secret(SecretKind::TerminalToken).await?,
            gateway_key: self.secret(SecretKind::GatewayKey).await?,
            journal: self.journal_path(&data_dir),
            data_dir,
            paypal: self.paypal_access().await?,
        };
        // The stack's sandbox is a test gateway: a live key never goes there (review L6).
        let live = !ApiKey::new(connection.gateway_key.expose()).is_ok_and(|k| k.is_test_mode());
        if live && self.gateway_url.is_none() && stack.is_some() {
            return Err(ConnectError::Settings(SettingsError(format!(
                "the gateway key is a live key, and the only gateway configured is the embedded \
                 stack's sandbox: set {} to the real gateway (https://api.stripe.com), or use a \
                 test key with the stack",
                crate::settings::GATEWAY_URL_ENV
            ))));
        }
        Ok(connection)
    }
}

/// The central's HTTP client with this terminal's token.
pub fn central_client(central_url: &str, token: &Secret) -> Result<HttpCentral, OpenError> {
    HttpCentral::new(central_url, TerminalToken::new(token.expose()))
        .map_err(|e| OpenError::Central(e.to_string()))
}

/// Creates the data directory and the journal's folder (0700), and the journal file (0600)
/// before SQLite opens it, so neither is ever readable by another local user (review M5).
pub(crate) fn create_dirs(data_dir: &Path, journal: &Path) -> Result<(), OpenError> {
    let dirs = [Some(data_dir), journal.parent()];
    for dir in dirs.into_iter().flatten() {
        crate::private_fs::private_dir(dir).map_err(|e| OpenError::DataDir {
            path: dir.to_path_buf(),
            detail: e.to_string(),
        })?;
    }
    crate::private_fs::private_file(journal).map_err(|e| OpenError::DataDir {
        path: journal.to_path_buf(),
        detail: e.to_string(),
    })
}

/// Opens the journal and wires the engine over `central` (a clone of the terminal's client, so
/// the engine claims in the session the terminal opened). Blocks briefly (SQLite, an integrity
/// check, a file lock): call it from a blocking thread.
pub(crate) fn build_engine(
    connection: &Connection,
    central: HttpCentral,
) -> Result<Engine, OpenError> {
    let gateway = gateway(connection)?;
    let journal = Journal::open(&connection.journal)?;
    Ok(Engine::new(
        journal,
        gateway,
        Arc::new(central),
        Arc::new(SystemClock),
        EngineConfig::new(connection.terminal.clone()),
    ))
}

/// The terminal's gateway: Stripe, and PayPal when configured, behind one dispatching gateway so
/// each order is charged, recovered and looked up through its own gateway.
pub fn gateway(connection: &Connection) -> Result<Arc<dyn Gateway>, OpenError> {
    let key = ApiKey::new(connection.gateway_key.expose())
        .map_err(|e| OpenError::Gateway(e.to_string()))?;
    let stripe = StripeGateway::new(
        key,
        StripeConfig::with_base_url(connection.gateway_url.clone()),
    )
    .map_err(|e| OpenError::Gateway(e.to_string()))?;
    let paypal = match &connection.paypal {
        None => None,
        Some(access) => {
            let secret = ApiKey::new(access.secret.expose())
                .map_err(|e| OpenError::Gateway(format!("PayPal client secret: {e}")))?;
            let paypal = PaypalGateway::new(
                access.client_id.clone(),
                secret,
                PaypalConfig::with_base_url(access.base_url.clone()),
            )
            .map_err(|e| OpenError::Gateway(format!("PayPal: {e}")))?;
            Some(Arc::new(paypal) as Arc<dyn Gateway>)
        }
    };
    Ok(Arc::new(DispatchGateway::new(
        Some(Arc::new(stripe)),
        paypal,
    )))
}

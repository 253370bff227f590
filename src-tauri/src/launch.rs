//! Where the app's engine comes from: the embedded default (central on SQLite + sandbox gateway,
//! started in this process) unless `PAYDESK_CENTRAL_URL` names a central to connect to.
//!
//! Reads the environment once, at start-up, into a [`Launch`]; [`start`] turns it into a running
//! engine. Deliberately absent: any charging or policy, and any secret in a file — secrets come
//! from the OS keyring (or, for automation against an external central only, from
//! `PAYDESK_TERMINAL_TOKEN` / `PAYDESK_GATEWAY_KEY`, as the command line reads them).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use paydesk_core::TerminalId;
use paydesk_engine::{
    Engine, HttpCentral, KeyringSecretStore, Secret, SecretStore, GATEWAY_API_KEY,
    KEYRING_SERVICE_DEFAULT, TERMINAL_TOKEN,
};
use paydesk_stack::{EngineSettings, Stack, StackConfig, JOURNAL_FILE};

use crate::error::{secret_error, stack_error, UiError, UiErrorKind};

/// The data directory (journal, caches, the embedded central's database); default: the app's
/// data directory (`~/.local/share/com.paydesk.desktop` on Linux).
pub const DATA_DIR_ENV: &str = "PAYDESK_DATA_DIR";
/// The journal file; default: `journal.sqlite` in the data directory.
pub const JOURNAL_ENV: &str = "PAYDESK_JOURNAL";
/// An external central server; unset means "start the embedded default".
pub const CENTRAL_URL_ENV: &str = "PAYDESK_CENTRAL_URL";
/// The gateway for an external central; default: the real Stripe API.
pub const GATEWAY_URL_ENV: &str = "PAYDESK_GATEWAY_URL";
/// This terminal's id at an external central (the embedded default provisions its own).
pub const TERMINAL_ENV: &str = "PAYDESK_TERMINAL";
/// The keyring service the secrets live under (the command line's option of the same name).
pub const KEYRING_SERVICE_ENV: &str = "PAYDESK_KEYRING_SERVICE";
/// Automation-only overrides of the keyring, for an external central (as the command line).
pub const TERMINAL_TOKEN_ENV: &str = "PAYDESK_TERMINAL_TOKEN";
pub const GATEWAY_KEY_ENV: &str = "PAYDESK_GATEWAY_KEY";
/// The gateway used with an external central when none is configured.
const GATEWAY_URL_DEFAULT: &str = "https://api.stripe.com";

/// Which central the app runs against.
#[derive(Debug, Clone)]
pub enum Target {
    /// Start the central on SQLite and the sandbox gateway in this process.
    Embedded,
    /// Connect to a running central (and a real or sandbox gateway).
    External {
        central_url: String,
        gateway_url: String,
        terminal: Option<String>,
    },
}

/// Everything start-up needs, read once from the environment (or built by a test).
#[derive(Debug, Clone)]
pub struct Launch {
    /// `None` until the app's data directory is known (filled in from Tauri's path resolver).
    pub data_dir: Option<PathBuf>,
    /// `None`: `journal.sqlite` in the data directory.
    pub journal: Option<PathBuf>,
    pub target: Target,
    /// Where the terminal token and gateway key live: the OS keyring in the product; tests pass
    /// an in-memory store (or one that fails) to exercise the same code without a keyring.
    pub secrets: Arc<dyn SecretStore>,
    /// Environment overrides of the secrets (external central only).
    pub terminal_token_override: Option<String>,
    pub gateway_key_override: Option<String>,
}

impl Launch {
    /// The product's configuration: environment variables, the OS keyring.
    pub fn from_env() -> Launch {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let service = var(KEYRING_SERVICE_ENV).unwrap_or_else(|| KEYRING_SERVICE_DEFAULT.into());
        let target = match var(CENTRAL_URL_ENV) {
            None => Target::Embedded,
            Some(central_url) => Target::External {
                central_url,
                gateway_url: var(GATEWAY_URL_ENV).unwrap_or_else(|| GATEWAY_URL_DEFAULT.into()),
                terminal: var(TERMINAL_ENV),
            },
        };
        Launch {
            data_dir: var(DATA_DIR_ENV).map(PathBuf::from),
            journal: var(JOURNAL_ENV).map(PathBuf::from),
            target,
            secrets: Arc::new(KeyringSecretStore::new(service)),
            terminal_token_override: var(TERMINAL_TOKEN_ENV),
            gateway_key_override: var(GATEWAY_KEY_ENV),
        }
    }

    /// The embedded default over `data_dir` with `secrets` (tests).
    pub fn embedded(data_dir: PathBuf, secrets: Arc<dyn SecretStore>) -> Launch {
        Launch {
            data_dir: Some(data_dir),
            journal: None,
            target: Target::Embedded,
            secrets,
            terminal_token_override: None,
            gateway_key_override: None,
        }
    }

    pub fn journal_path(&self, data_dir: &Path) -> PathBuf {
        self.journal
            .clone()
            .unwrap_or_else(|| data_dir.join(JOURNAL_FILE))
    }
}

/// What start-up produced: the engine, the central's client for the queue and sign-in, and the
/// embedded stack when there is one (stopped at shutdown).
#[derive(Debug)]
pub struct Started {
    pub engine: Engine,
    pub central: HttpCentral,
    pub central_url: String,
    pub terminal: TerminalId,
    pub data_dir: PathBuf,
    pub journal: PathBuf,
    pub stack: Option<Stack>,
}

/// Starts the embedded stack (or resolves the external central's settings) and builds the
/// engine. On failure after the stack started, the stack is stopped again before returning.
pub async fn start(launch: Launch, data_dir: PathBuf) -> Result<Started, UiError> {
    let journal = launch.journal_path(&data_dir);
    std::fs::create_dir_all(&data_dir).map_err(|e| {
        stack_error(
            &journal,
            &paydesk_stack::StackError::DataDir {
                path: data_dir.clone(),
                detail: e.to_string(),
            },
        )
    })?;
    if let Some(dir) = journal.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| {
            stack_error(
                &journal,
                &paydesk_stack::StackError::DataDir {
                    path: dir.to_path_buf(),
                    detail: e.to_string(),
                },
            )
        })?;
    }
    let (settings, stack) = match &launch.target {
        Target::Embedded => {
            let stack = paydesk_stack::start(StackConfig::new(&data_dir, launch.secrets.clone()))
                .await
                .map_err(|e| stack_error(&journal, &e))?;
            (stack.engine_settings(&journal), Some(stack))
        }
        Target::External {
            central_url,
            gateway_url,
            terminal,
        } => {
            let terminal = terminal
                .as_deref()
                .ok_or_else(|| {
                    UiError::new(
                        UiErrorKind::StartupFailed,
                        format!("{CENTRAL_URL_ENV} is set, but not this terminal's id."),
                        format!(
                            "Set {TERMINAL_ENV} to the id the central registered for this \
                             terminal, or unset {CENTRAL_URL_ENV} to run the embedded demo, then \
                             restart Paydesk."
                        ),
                    )
                })
                .and_then(|id| {
                    TerminalId::new(id).map_err(|_| {
                        UiError::new(
                            UiErrorKind::StartupFailed,
                            format!("{TERMINAL_ENV} is not a terminal id."),
                            format!("Fix {TERMINAL_ENV}, then restart Paydesk."),
                        )
                    })
                })?;
            let terminal_token = secret(
                &launch,
                TERMINAL_TOKEN,
                launch.terminal_token_override.clone(),
            )
            .await?;
            let gateway_key = secret(
                &launch,
                GATEWAY_API_KEY,
                launch.gateway_key_override.clone(),
            )
            .await?;
            let settings = EngineSettings {
                central_url: central_url.clone(),
                gateway_url: gateway_url.clone(),
                terminal,
                terminal_token,
                gateway_key,
                journal: journal.clone(),
            };
            (settings, None)
        }
    };
    match build(settings, &journal).await {
        Ok((engine, central, central_url, terminal)) => Ok(Started {
            engine,
            central,
            central_url,
            terminal,
            data_dir,
            journal,
            stack,
        }),
        Err(e) => {
            if let Some(stack) = stack {
                stack.shutdown().await;
            }
            Err(e)
        }
    }
}

/// Opens the journal and wires the engine (on a blocking thread: SQLite), and the central's
/// client for the front end's own reads.
async fn build(
    settings: EngineSettings,
    journal: &Path,
) -> Result<(Engine, HttpCentral, String, TerminalId), UiError> {
    let central = paydesk_stack::central_client(&settings.central_url, &settings.terminal_token)
        .map_err(|e| stack_error(journal, &e))?;
    let central_url = settings.central_url.clone();
    let terminal = settings.terminal.clone();
    let engine =
        tauri::async_runtime::spawn_blocking(move || paydesk_stack::build_engine(settings))
            .await
            .map_err(|e| UiError::internal(&format!("the engine set-up task failed: {e}")))?
            .map_err(|e| stack_error(journal, &e))?;
    Ok((engine, central, central_url, terminal))
}

/// A secret from its environment override, else from the keyring (on a blocking thread: the
/// keyring speaks D-Bus synchronously).
async fn secret(
    launch: &Launch,
    name: &'static str,
    env_override: Option<String>,
) -> Result<Secret, UiError> {
    if let Some(value) = env_override {
        return Secret::new(value).map_err(|e| secret_error(&e));
    }
    let store = launch.secrets.clone();
    let found = tauri::async_runtime::spawn_blocking(move || store.get(name))
        .await
        .map_err(|e| UiError::internal(&format!("the keyring task failed: {e}")))?;
    match found {
        Ok(Some(secret)) => Ok(secret),
        Ok(None) => Err(UiError::new(
            UiErrorKind::StartupFailed,
            format!("This terminal has no {name} in the OS keyring."),
            format!(
                "Store it with `paydesk provision {}` (it reads the value from stdin), then \
                 restart Paydesk.",
                if name == TERMINAL_TOKEN {
                    "terminal-token"
                } else {
                    "gateway-key"
                }
            ),
        )),
        Err(e) => Err(secret_error(&e)),
    }
}

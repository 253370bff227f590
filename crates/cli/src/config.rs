//! Where the command line's settings come from: flags, then environment variables (clap reads
//! both), then the `stack.json` of a running embedded stack in the data directory, then defaults.
//! Secrets come from the OS keyring, or — for automation only — from `PAYDESK_TERMINAL_TOKEN` /
//! `PAYDESK_GATEWAY_KEY`.
//!
//! Deliberately absent: any secret on the command line (visible in `ps`) or in a file; a missing
//! setting is a usage error that says how to supply it, never a guess.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use paydesk_core::TerminalId;
use paydesk_engine::{
    Engine, HttpCentral, KeyringSecretStore, Secret, SecretError, SecretStore, GATEWAY_API_KEY,
    TERMINAL_TOKEN,
};
use paydesk_journal::{Journal, JournalError};
use paydesk_stack::{EngineSettings, StackError, StackFile, JOURNAL_FILE};

use crate::exit::{Failure, JOURNAL_BROKEN, OTHER};

/// The gateway used when none is configured: the real Stripe API.
pub const GATEWAY_URL_DEFAULT: &str = "https://api.stripe.com";
/// Environment override of the terminal token, for scripts and tests (the keyring is the norm).
pub const TERMINAL_TOKEN_ENV: &str = "PAYDESK_TERMINAL_TOKEN";
/// Environment override of the gateway key, for scripts and tests.
pub const GATEWAY_KEY_ENV: &str = "PAYDESK_GATEWAY_KEY";
/// The data directory under the user's data directory (`~/.local/share/paydesk` on Linux).
const DATA_DIR_NAME: &str = "paydesk";

/// The global options as given (flags or environment), resolved on demand.
#[derive(Debug, Clone)]
pub struct Settings {
    pub json: bool,
    pub data_dir: Option<PathBuf>,
    pub central: Option<String>,
    pub gateway: Option<String>,
    pub journal: Option<PathBuf>,
    pub terminal: Option<String>,
    pub keyring_service: String,
}

/// One of the two secrets, with where it comes from and how to provide it.
#[derive(Debug, Clone, Copy)]
pub enum SecretKind {
    TerminalToken,
    GatewayKey,
}

impl SecretKind {
    pub fn entry(self) -> &'static str {
        match self {
            SecretKind::TerminalToken => TERMINAL_TOKEN,
            SecretKind::GatewayKey => GATEWAY_API_KEY,
        }
    }

    pub fn env(self) -> &'static str {
        match self {
            SecretKind::TerminalToken => TERMINAL_TOKEN_ENV,
            SecretKind::GatewayKey => GATEWAY_KEY_ENV,
        }
    }

    pub fn what(self) -> &'static str {
        match self {
            SecretKind::TerminalToken => "terminal token",
            SecretKind::GatewayKey => "gateway key",
        }
    }

    /// The `paydesk provision` argument that stores it.
    pub fn provision_arg(self) -> &'static str {
        match self {
            SecretKind::TerminalToken => "terminal-token",
            SecretKind::GatewayKey => "gateway-key",
        }
    }
}

impl Settings {
    pub fn data_dir(&self) -> Result<PathBuf, Failure> {
        match &self.data_dir {
            Some(dir) => Ok(dir.clone()),
            None => dirs::data_dir()
                .map(|d| d.join(DATA_DIR_NAME))
                .ok_or_else(|| {
                    Failure::usage("no data directory: pass --data-dir DIR or set PAYDESK_DATA_DIR")
                }),
        }
    }

    pub fn journal_path(&self) -> Result<PathBuf, Failure> {
        match &self.journal {
            Some(path) => Ok(path.clone()),
            None => Ok(self.data_dir()?.join(JOURNAL_FILE)),
        }
    }

    /// The running embedded stack's description, if there is one in the data directory.
    fn stack_file(&self) -> Option<StackFile> {
        self.data_dir()
            .ok()
            .and_then(|dir| paydesk_stack::read_stack_file(&dir))
    }

    pub fn central_url(&self) -> Result<String, Failure> {
        let url = match (&self.central, self.stack_file()) {
            (Some(url), _) => url.clone(),
            (None, Some(stack)) => stack.central_url,
            (None, None) => {
                return Err(Failure::usage(
                    "no central server configured: pass --central URL or set \
                     PAYDESK_CENTRAL_URL (or start the embedded one with `paydesk stack`)",
                ))
            }
        };
        check_url("--central", &url)?;
        Ok(url)
    }

    pub fn gateway_url(&self) -> Result<String, Failure> {
        let url = match (&self.gateway, self.stack_file()) {
            (Some(url), _) => url.clone(),
            (None, Some(stack)) => stack.gateway_url,
            (None, None) => GATEWAY_URL_DEFAULT.to_string(),
        };
        check_url("--gateway", &url)?;
        Ok(url)
    }

    pub fn terminal(&self) -> Result<TerminalId, Failure> {
        match (&self.terminal, self.stack_file()) {
            (Some(id), _) => TerminalId::new(id.as_str()).map_err(|e| {
                Failure::usage(format!("--terminal: {e} (the id the central registered)"))
            }),
            (None, Some(stack)) => Ok(stack.terminal_id),
            (None, None) => Err(Failure::usage(
                "no terminal id configured: pass --terminal ID or set PAYDESK_TERMINAL",
            )),
        }
    }

    pub fn keyring(&self) -> Arc<dyn SecretStore> {
        Arc::new(KeyringSecretStore::new(self.keyring_service.clone()))
    }

    /// The secret from its environment override, else from the keyring.
    pub async fn secret(&self, kind: SecretKind) -> Result<Secret, Failure> {
        if let Some(value) = std::env::var(kind.env()).ok().filter(|v| !v.is_empty()) {
            return Secret::new(value).map_err(|e| Failure::usage(format!("{}: {e}", kind.env())));
        }
        let store = self.keyring();
        let found = tokio::task::spawn_blocking(move || store.get(kind.entry()))
            .await
            .context("the keyring task failed")?;
        match found {
            Ok(Some(secret)) => Ok(secret),
            Ok(None) => Err(Failure::usage(format!(
                "no {what} in the OS keyring: store it with `paydesk provision {arg}` (reads it \
                 from stdin), or set {env} for automation",
                what = kind.what(),
                arg = kind.provision_arg(),
                env = kind.env()
            ))),
            Err(e @ SecretError::Unavailable { .. }) => Err(Failure::new(
                OTHER,
                anyhow::anyhow!(
                    "{e}; for automation without a keyring set {env}",
                    env = kind.env()
                ),
            )),
            Err(e) => Err(Failure::new(OTHER, e)),
        }
    }

    /// Everything the engine needs, resolved and checked.
    pub async fn engine_settings(&self) -> Result<EngineSettings, Failure> {
        Ok(EngineSettings {
            central_url: self.central_url()?,
            gateway_url: self.gateway_url()?,
            terminal: self.terminal()?,
            terminal_token: self.secret(SecretKind::TerminalToken).await?,
            gateway_key: self.secret(SecretKind::GatewayKey).await?,
            journal: self.journal_path()?,
        })
    }

    /// Builds the engine (opens and locks the journal).
    pub async fn engine(&self) -> Result<Engine, Failure> {
        let settings = self.engine_settings().await?;
        if let Some(dir) = settings.journal.parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating {}", dir.display()))?;
            }
        }
        tokio::task::spawn_blocking(move || paydesk_stack::build_engine(settings))
            .await
            .context("the engine set-up task failed")?
            .map_err(stack_failure)
    }

    /// The central's client with this terminal's token (queue, operators).
    pub async fn central_client(&self) -> Result<HttpCentral, Failure> {
        let url = self.central_url()?;
        let token = self.secret(SecretKind::TerminalToken).await?;
        paydesk_stack::central_client(&url, &token).map_err(stack_failure)
    }

    /// Opens the journal alone (the journal commands need no central, gateway or secret).
    pub fn open_journal(&self) -> Result<Journal, Failure> {
        let path = self.journal_path()?;
        if !path.exists() {
            return Err(Failure::usage(format!(
                "there is no journal at {}: pass --journal PATH or set PAYDESK_JOURNAL",
                path.display()
            )));
        }
        Journal::open(&path).map_err(journal_failure)
    }
}

fn check_url(flag: &str, url: &str) -> Result<(), Failure> {
    if url.starts_with("http://") || url.starts_with("https://") {
        Ok(())
    } else {
        Err(Failure::usage(format!(
            "{flag} {url:?} is not a URL: write it as http://host:port or https://host"
        )))
    }
}

/// A journal that is damaged or not a journal is the "broken journal" exit; others are errors.
pub fn journal_failure(e: JournalError) -> Failure {
    let code = match e {
        JournalError::Corrupt { .. } | JournalError::NotAJournal { .. } => JOURNAL_BROKEN,
        _ => OTHER,
    };
    Failure::new(code, e)
}

fn stack_failure(e: StackError) -> Failure {
    match e {
        StackError::Journal(e) => journal_failure(e),
        StackError::Gateway(_) => {
            Failure::usage(format!("{e} (check {GATEWAY_KEY_ENV} or the keyring)"))
        }
        other => Failure::new(OTHER, other),
    }
}

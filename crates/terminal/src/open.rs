//! Building an [`Engine`] from URLs, a terminal id, its secrets and a journal path: the one place
//! the desktop app and the command line wire the engine to the real central (HTTP) and the real
//! gateway (the Stripe connector, against Stripe or the sandbox).
//!
//! Deliberately absent: where the settings come from (flags, the keyring, a running stack — the
//! caller decides) and any policy of its own.

use std::path::PathBuf;
use std::sync::Arc;

use paydesk_core::TerminalId;
use paydesk_engine::{Engine, EngineConfig, HttpCentral, Secret, SystemClock, TerminalToken};
use paydesk_gateway::{ApiKey, StripeConfig, StripeGateway};
use paydesk_journal::Journal;

use crate::StackError;

/// Everything an engine for one terminal needs.
#[derive(Debug, Clone)]
pub struct EngineSettings {
    /// The central's base URL.
    pub central_url: String,
    /// The gateway's base URL (`https://api.stripe.com` or the sandbox).
    pub gateway_url: String,
    pub terminal: TerminalId,
    pub terminal_token: Secret,
    pub gateway_key: Secret,
    /// The journal file; opened (and locked for this process) by [`build_engine`].
    pub journal: PathBuf,
}

/// Opens the journal and wires the engine. Opening the journal blocks briefly (SQLite, an
/// integrity check, a file lock): call it from a blocking context or at start-up.
pub fn build_engine(settings: EngineSettings) -> Result<Engine, StackError> {
    let key = ApiKey::new(settings.gateway_key.expose())
        .map_err(|e| StackError::Gateway(e.to_string()))?;
    let gateway = StripeGateway::new(key, StripeConfig::with_base_url(settings.gateway_url))
        .map_err(|e| StackError::Gateway(e.to_string()))?;
    let central = central_client(&settings.central_url, &settings.terminal_token)?;
    let journal = Journal::open(&settings.journal)?;
    Ok(Engine::new(
        journal,
        Arc::new(gateway),
        Arc::new(central),
        Arc::new(SystemClock),
        EngineConfig::new(settings.terminal),
    ))
}

/// The central's HTTP client with this terminal's token.
pub fn central_client(central_url: &str, token: &Secret) -> Result<HttpCentral, StackError> {
    HttpCentral::new(central_url, TerminalToken::new(token.expose()))
        .map_err(|e| StackError::Central(e.to_string()))
}

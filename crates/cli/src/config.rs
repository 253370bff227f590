//! The command line's settings: clap fills the terminal's settings from flags and the same
//! environment variables the desktop reads (their names are `paydesk-terminal`'s), and this file
//! maps what the terminal crate resolves into exit codes. The data directory defaults to
//! `~/.local/share/paydesk`. When the embedded stack of the data directory is stopped, its central
//! is "unreachable" (`paydesk_terminal::STOPPED_STACK_URL`): the commands take their offline paths.
//!
//! Deliberately absent: any rule of its own about where a setting comes from (the terminal
//! crate's `TerminalSettings`), and any secret on the command line (visible in `ps`) or in a file.

use std::path::PathBuf;

use paydesk_journal::{JournalError, JournalReader};
use paydesk_terminal::{
    ConnectError, HttpCentral, OpenError, SecretError, SecretLoadError, SettingsError, Terminal,
    TerminalSettings, GATEWAY_KEY_ENV,
};

use crate::exit::{Failure, JOURNAL_BROKEN, OTHER};

/// The global options: output format and the terminal's settings.
#[derive(Debug, Clone)]
pub struct Settings {
    pub json: bool,
    pub terminal: TerminalSettings,
}

impl Settings {
    /// The desktop's default too (one journal for both): `~/.local/share/paydesk` on Linux.
    fn default_data_dir() -> Option<PathBuf> {
        TerminalSettings::default_data_dir()
    }

    pub fn data_dir(&self) -> Result<PathBuf, Failure> {
        self.terminal
            .data_dir_or(Self::default_data_dir())
            .map_err(settings_failure)
    }

    /// The data directory, created 0700 if needed (an existing one is tightened to 0700): the
    /// offline caches live there, and nobody else may read them (review M5).
    pub fn cache_dir(&self) -> Result<PathBuf, Failure> {
        let dir = self.data_dir()?;
        paydesk_terminal::private_dir(&dir)
            .map_err(|e| Failure::new(OTHER, anyhow::anyhow!("creating {}: {e}", dir.display())))?;
        Ok(dir)
    }

    pub fn journal_path(&self) -> Result<PathBuf, Failure> {
        Ok(self.terminal.journal_path(&self.data_dir()?))
    }

    /// Opens this terminal: resolves the settings, reads the secrets, opens and locks the journal.
    pub async fn open(&self) -> Result<Terminal, Failure> {
        let connection = self
            .resolved()?
            .connect(Self::default_data_dir())
            .await
            .map_err(|e| self.missing_data_dir(connect_failure(e)))?;
        Terminal::open(connection).await.map_err(open_failure)
    }

    /// The central's client with this terminal's token (queue, sign-in, offline allowance): these
    /// commands need no journal, so they work while another process holds it.
    pub async fn central_client(&self) -> Result<HttpCentral, Failure> {
        let data_dir = self.data_dir()?;
        let terminal = self.resolved()?;
        let stack = paydesk_terminal::read_stack_file(&data_dir);
        let url = terminal
            .require_central_url(stack.as_ref())
            .map_err(|e| self.missing_data_dir(settings_failure(e)))?;
        let token = terminal
            .secret(paydesk_terminal::SecretKind::TerminalToken)
            .await
            .map_err(secret_failure)?;
        paydesk_terminal::central_client(&url, &token).map_err(open_failure)
    }

    /// This terminal's id (the flag, the environment, or the running stack's).
    pub fn terminal_id(&self) -> Result<paydesk_core::TerminalId, Failure> {
        let data_dir = self.data_dir()?;
        let stack = paydesk_terminal::read_stack_file(&data_dir);
        self.resolved()?
            .terminal(stack.as_ref())
            .map_err(|e| self.missing_data_dir(settings_failure(e)))
    }

    /// The terminal's settings, over the embedded stack of the data directory when it is stopped
    /// (its central unreachable without a connection: the commands answer offline).
    fn resolved(&self) -> Result<TerminalSettings, Failure> {
        let data_dir = self.data_dir()?;
        Ok(self
            .terminal
            .over_stopped_stack(&data_dir)
            .unwrap_or_else(|| self.terminal.clone()))
    }

    /// Why the central could not be reached, in words: a stopped embedded stack says so (the
    /// transport's own detail names the placeholder URL, which means nothing to a person).
    pub fn unreachable_detail(&self, detail: String) -> String {
        if self.stack_stopped() {
            return "the embedded stack is stopped; `paydesk stack` starts it again".into();
        }
        let down = self.data_dir().ok().and_then(|dir| {
            let stack = paydesk_terminal::read_stack_file(&dir)?;
            let url = self.terminal.central_url(Some(&stack)).ok()??;
            Some(url == paydesk_terminal::STOPPED_STACK_URL)
        });
        if down == Some(true) {
            return "the embedded stack runs with --central-down; restart it without to bring the \
                    central back"
                .into();
        }
        detail
    }

    /// True when the central is the embedded stack of the data directory and it is stopped.
    pub fn stack_stopped(&self) -> bool {
        self.data_dir()
            .is_ok_and(|dir| self.terminal.over_stopped_stack(&dir).is_some())
    }

    /// A data directory that does not exist explains a missing setting better than the setting.
    fn missing_data_dir(&self, failure: Failure) -> Failure {
        match self.data_dir() {
            Ok(dir) if !dir.exists() => Failure::usage(format!(
                "the data directory {} does not exist: pass the --data-dir of your `paydesk \
                 stack` (or set {}), start the embedded stack there with `paydesk stack`, or \
                 name a central with --central URL ({})",
                dir.display(),
                paydesk_terminal::DATA_DIR_ENV,
                paydesk_terminal::CENTRAL_URL_ENV
            )),
            _ => failure,
        }
    }

    /// Opens the journal alone and read-only (the journal commands need no central, gateway or
    /// secret, and no writer lock: they read while the desktop or another `paydesk` charges).
    pub fn open_journal(&self) -> Result<JournalReader, Failure> {
        let path = self.journal_path()?;
        JournalReader::open(&path).map_err(|e| match e {
            JournalError::Missing { .. } => Failure::usage(format!(
                "there is no journal at {} yet: the first charge on this terminal creates it; to \
                 read another journal pass --journal PATH or --data-dir DIR (or set {} or {})",
                path.display(),
                paydesk_terminal::JOURNAL_ENV,
                paydesk_terminal::DATA_DIR_ENV
            )),
            e => journal_failure(e),
        })
    }
}

fn settings_failure(e: SettingsError) -> Failure {
    Failure::usage(e)
}

/// A missing secret or a bad override is a usage error; a keyring that is not there says how to
/// run without one.
pub fn secret_failure(e: SecretLoadError) -> Failure {
    match e {
        SecretLoadError::Keyring {
            kind,
            error: error @ SecretError::Unavailable { .. },
        } => Failure::new(
            OTHER,
            anyhow::anyhow!(
                "{error}; for automation without a keyring set {env}",
                env = kind.env()
            ),
        ),
        SecretLoadError::Keyring { error, .. } => Failure::new(OTHER, error),
        other => Failure::usage(other),
    }
}

fn connect_failure(e: ConnectError) -> Failure {
    match e {
        ConnectError::Settings(e) => settings_failure(e),
        ConnectError::Secret(e) => secret_failure(e),
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

fn open_failure(e: OpenError) -> Failure {
    match e {
        OpenError::Journal(e) => journal_failure(e),
        OpenError::Gateway(_) => {
            Failure::usage(format!("{e} (check {GATEWAY_KEY_ENV} or the keyring)"))
        }
        OpenError::Central(_) => Failure::usage(e),
        other => Failure::new(OTHER, other),
    }
}

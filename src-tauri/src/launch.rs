//! Where the app's terminal comes from: the embedded default (central on SQLite + sandbox gateway,
//! started in this process) unless `PAYDESK_CENTRAL_URL` names a central to connect to.
//!
//! The settings are the terminal crate's (`TerminalSettings::from_env`: the same variables as the
//! command line); [`start`] turns them into an open `Terminal`. Deliberately absent: any charging
//! or policy, and any secret in a file — secrets come from the OS keyring (or, for automation
//! against an external central only, from `PAYDESK_TERMINAL_TOKEN` / `PAYDESK_GATEWAY_KEY`).
//!
//! The embedded sandbox's `/admin` routes (faults, clock) stay off, except when
//! `PAYDESK_SANDBOX_ADMIN_TOKEN` holds a token of at least [`SANDBOX_ADMIN_TOKEN_LEN_MIN`]
//! characters: then they answer only requests bearing it (the end-to-end tests arm a gateway fault
//! this way; the sandbox's URL is in the data directory's `stack.json`). Never on by default.

use std::path::PathBuf;
use std::sync::Arc;

use paydesk_stack::{SandboxAdmin, Stack, StackConfig};
use paydesk_terminal::{SecretStore, Terminal, TerminalSettings};

use crate::error::{connect_error, log_detail, open_error, stack_error, UiError};

/// The variable that opens the embedded sandbox's `/admin` routes to a bearer token (the sandbox
/// binary reads the same name).
pub const SANDBOX_ADMIN_TOKEN_ENV: &str = "PAYDESK_SANDBOX_ADMIN_TOKEN";
/// A shorter token is ignored (and said so in the log): the routes break payments on purpose.
pub const SANDBOX_ADMIN_TOKEN_LEN_MIN: usize = 32;

/// Everything start-up needs, read once from the environment (or built by a test).
#[derive(Debug, Clone)]
pub struct Launch {
    /// No central URL means "start the embedded default"; the secret store is the OS keyring in
    /// the product, and an in-memory store (or one that fails) in tests.
    pub settings: TerminalSettings,
}

impl Launch {
    /// The product's configuration: environment variables, the OS keyring.
    pub fn from_env() -> Launch {
        Launch {
            settings: TerminalSettings::from_env(),
        }
    }

    /// The embedded default over `data_dir` with `secrets` (tests).
    pub fn embedded(data_dir: PathBuf, secrets: Arc<dyn SecretStore>) -> Launch {
        let mut settings = TerminalSettings::new(paydesk_terminal::KEYRING_SERVICE_DEFAULT);
        settings.data_dir = Some(data_dir);
        settings.secrets = secrets;
        Launch { settings }
    }

    /// True when no central is named: the app starts its own.
    pub fn is_embedded(&self) -> bool {
        self.settings.central_url.is_none()
    }
}

/// The sandbox's admin access for the value of [`SANDBOX_ADMIN_TOKEN_ENV`]: a long enough token
/// opens the routes to that token, anything else leaves them off.
pub fn sandbox_admin(token: Option<String>) -> SandboxAdmin {
    match token.map(|t| t.trim().to_string()) {
        None => SandboxAdmin::Off,
        Some(t) if t.is_empty() => SandboxAdmin::Off,
        Some(t) if t.chars().count() < SANDBOX_ADMIN_TOKEN_LEN_MIN => {
            log_detail(
                "sandbox admin",
                &format!(
                    "{SANDBOX_ADMIN_TOKEN_ENV} is shorter than {SANDBOX_ADMIN_TOKEN_LEN_MIN} \
                     characters and is ignored: the sandbox's admin routes stay off"
                ),
            );
            SandboxAdmin::Off
        }
        Some(t) => {
            log_detail(
                "sandbox admin",
                "the embedded sandbox's admin routes answer the token given in the environment",
            );
            SandboxAdmin::Token(t)
        }
    }
}

/// What start-up produced: the open terminal, and the embedded stack when there is one (stopped
/// at shutdown).
#[derive(Debug)]
pub struct Started {
    pub terminal: Terminal,
    pub stack: Option<Stack>,
}

/// Starts the embedded stack (or resolves the external central's settings and secrets) and opens
/// the terminal. On failure after the stack started, the stack is stopped again before returning.
pub async fn start(launch: Launch, data_dir: PathBuf) -> Result<Started, UiError> {
    let settings = &launch.settings;
    let journal = settings.journal_path(&data_dir);
    let (connection, stack) = if launch.is_embedded() {
        paydesk_terminal::private_dir(&data_dir).map_err(|e| {
            stack_error(&paydesk_stack::StackError::DataDir {
                path: data_dir.clone(),
                detail: e.to_string(),
            })
        })?;
        // The demo a person starts: a fresh one has exceptions for a manager to resolve.
        let mut config =
            StackConfig::new(&data_dir, settings.secrets.clone()).with_demo_exceptions();
        // ...and a result in this journal that the central refuses, parked for a manager.
        config.journal = Some(journal.clone());
        config.sandbox_admin = sandbox_admin(std::env::var(SANDBOX_ADMIN_TOKEN_ENV).ok());
        let stack = paydesk_stack::start(config)
            .await
            .map_err(|e| stack_error(&e))?;
        (stack.connection(&journal), Some(stack))
    } else {
        let connection = settings
            .connect(Some(data_dir))
            .await
            .map_err(|e| connect_error(&e))?;
        (connection, None)
    };
    match Terminal::open(connection).await {
        Ok(terminal) => Ok(Started { terminal, stack }),
        Err(e) => {
            if let Some(stack) = stack {
                stack.shutdown().await;
            }
            Err(open_error(&journal, &e))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sandbox_admin_routes_open_only_to_a_long_enough_token() {
        assert!(matches!(sandbox_admin(None), SandboxAdmin::Off));
        assert!(matches!(
            sandbox_admin(Some("  ".into())),
            SandboxAdmin::Off
        ));
        assert!(matches!(
            sandbox_admin(Some("short-token".into())),
            SandboxAdmin::Off
        ));
        let long = "t".repeat(SANDBOX_ADMIN_TOKEN_LEN_MIN);
        assert!(matches!(sandbox_admin(Some(long.clone())), SandboxAdmin::Token(t) if t == long));
    }
}

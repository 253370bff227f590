//! Setting a terminal up: `stack` (run the embedded default until Ctrl-C) and `provision` (store
//! a secret read from stdin in the OS keyring).
//!
//! Deliberately absent: printing a secret. `stack` says where the terminal token went, never what
//! it is; `provision` reads the value from stdin and confirms only the entry it wrote.

use std::io::{Read as _, Write as _};

use anyhow::Context as _;
use std::sync::Arc;

use paydesk_stack::{
    StackConfig, StackError, DEMO_MANAGER, DEMO_MANAGER_PIN, DEMO_OPERATOR, DEMO_OPERATOR_PIN,
};
use paydesk_terminal::{MemorySecretStore, SecretError, SecretKind, SecretStore};

use crate::config::{secret_failure, Settings};
use crate::exit::{CmdResult, Failure, OTHER, SUCCESS};
use crate::output;

/// Where the stack keeps the terminal's secrets: the OS keyring; with the automation overrides
/// (`PAYDESK_TERMINAL_TOKEN`, `PAYDESK_GATEWAY_KEY`) set, memory seeded from them, so a headless
/// stack and the commands run with the same variables agree (the stack registers a given token
/// the central does not know yet as its terminal's).
async fn stack_secrets(settings: &Settings) -> Result<Arc<dyn SecretStore>, Failure> {
    let t = &settings.terminal;
    if t.terminal_token_override.is_none() && t.gateway_key_override.is_none() {
        return Ok(t.secrets.clone());
    }
    let memory = MemorySecretStore::new();
    for kind in [
        SecretKind::TerminalToken,
        SecretKind::GatewayKey,
        SecretKind::PaypalSecret,
    ] {
        let given = match kind {
            SecretKind::TerminalToken => &t.terminal_token_override,
            SecretKind::GatewayKey => &t.gateway_key_override,
            SecretKind::PaypalSecret => &t.paypal_secret_override,
        };
        // The other secret, when not given, comes from the keyring if there is one.
        let value = match given {
            Some(_) => Some(t.secret(kind).await.map_err(secret_failure)?),
            None => {
                let store = t.secrets.clone();
                tokio::task::spawn_blocking(move || store.get(kind.entry()))
                    .await
                    .ok()
                    .and_then(Result::ok)
                    .flatten()
            }
        };
        if let Some(value) = value {
            memory
                .set(kind.entry(), &value)
                .map_err(|e| Failure::new(OTHER, anyhow::anyhow!("{e}")))?;
        }
    }
    Ok(Arc::new(memory))
}

pub async fn stack(
    settings: &Settings,
    central_port: u16,
    gateway_port: u16,
    central_down: bool,
) -> CmdResult {
    let data_dir = settings.data_dir()?;
    let secrets = stack_secrets(settings).await?;
    // The demo a person starts: a fresh one has exceptions for a manager to resolve.
    let mut config = StackConfig::new(&data_dir, secrets.clone()).with_demo_exceptions();
    config.central_port = central_port;
    config.gateway_port = gateway_port;
    config.central_down = central_down;
    // The error's own words only: its source repeats them (the keyring's message twice).
    let stack = paydesk_stack::start(config).await.map_err(|e| {
        let hint = match &e {
            StackError::Secrets(SecretError::Unavailable { .. }) => format!(
                "; for a headless stack set {} to a token of your choice (`pdt_` and 64 hex \
                 digits, e.g. pdt_$(openssl rand -hex 32)) and give the other commands the same",
                paydesk_terminal::TERMINAL_TOKEN_ENV
            ),
            _ => String::new(),
        };
        Failure::new(
            OTHER,
            anyhow::anyhow!("starting the embedded stack: {e}{hint}"),
        )
    })?;
    // A given token the stack could not use (revoked, not the central's format, another
    // terminal's) was replaced in memory only: the other commands, with the variable, would be
    // refused. Say so now rather than run a stack nobody can reach.
    if let Some(given) = &settings.terminal.terminal_token_override {
        let kept = secrets.get(paydesk_terminal::TERMINAL_TOKEN).ok().flatten();
        if kept.as_ref().map(|k| k.expose()) != Some(given.as_str()) {
            stack.shutdown().await;
            return Err(Failure::usage(format!(
                "{env} is not a token this stack can use (revoked, already another terminal's, \
                 or not `pdt_` and 64 lower-case hex digits): set a new one, e.g. \
                 {env}=pdt_$(openssl rand -hex 32)",
                env = paydesk_terminal::TERMINAL_TOKEN_ENV
            )));
        }
    }
    // The URLs come first on stdout, for scripts and tests that bind port 0.
    if settings.json {
        output::json(&serde_json::json!({
            "central_url": if central_down { None } else { Some(&stack.central_url) },
            "gateway_url": stack.gateway_url,
            "terminal_id": stack.terminal,
            "data_dir": stack.data_dir,
            "keyring_service": settings.terminal.keyring_service,
            "operator": { "id": DEMO_OPERATOR, "pin": DEMO_OPERATOR_PIN },
            "manager": { "id": DEMO_MANAGER, "pin": DEMO_MANAGER_PIN },
        }));
    } else {
        if central_down {
            out!(
                "central down (--central-down): terminals see it unreachable and work offline; \
                 restart without --central-down to bring it back"
            );
        } else {
            out!("central {}", stack.central_url);
        }
        out!("gateway {}", stack.gateway_url);
        out!("terminal {}", stack.terminal);
        out!("data-dir {}", stack.data_dir.display());
        out!("demo operator {DEMO_OPERATOR} PIN {DEMO_OPERATOR_PIN}");
        out!("demo manager {DEMO_MANAGER} PIN {DEMO_MANAGER_PIN}");
        let t = &settings.terminal;
        if t.terminal_token_override.is_some() || t.gateway_key_override.is_some() {
            out!(
                "the secrets come from {} / {} (not the keyring); other paydesk commands with the \
                 same variables and --data-dir find this stack; Ctrl-C stops it",
                paydesk_terminal::TERMINAL_TOKEN_ENV,
                paydesk_terminal::GATEWAY_KEY_ENV
            );
        } else {
            out!(
                "the terminal token and the sandbox key are in the OS keyring (service {}); other \
                 paydesk commands with the same --data-dir find this stack; Ctrl-C stops it",
                t.keyring_service
            );
        }
    }
    // Best effort: a reader that went away (`paydesk stack | head -1`) does not stop the stack.
    let _ = std::io::stdout().flush();
    paydesk_stack::shutdown_signal().await;
    eprintln!("paydesk: stopping the embedded stack");
    stack.shutdown().await;
    Ok(SUCCESS)
}

pub async fn provision(settings: &Settings, kind: SecretKind) -> CmdResult {
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .context("reading the secret from stdin")?;
    let secret = kind.parse(&text).map_err(|e| {
        Failure::usage(format!(
            "the {} on stdin: {e}; e.g. `printf '%s' \"$TOKEN\" | paydesk provision {}`",
            kind.what(),
            kind.provision_arg()
        ))
    })?;
    let store = settings.terminal.secrets.clone();
    let value = secret.clone();
    tokio::task::spawn_blocking(move || store.set(kind.entry(), &value))
        .await
        .context("the keyring task failed")?
        .with_context(|| format!("storing the {} in the OS keyring", kind.what()))?;
    if settings.json {
        output::json(&serde_json::json!({
            "stored": kind.entry(),
            "keyring_service": settings.terminal.keyring_service,
        }));
    } else {
        out!(
            "stored the {} in the OS keyring (service {}, entry {})",
            kind.what(),
            settings.terminal.keyring_service,
            kind.entry()
        );
    }
    Ok(SUCCESS)
}

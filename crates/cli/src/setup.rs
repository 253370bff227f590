//! Setting a terminal up: `stack` (run the embedded default until Ctrl-C) and `provision` (store
//! a secret read from stdin in the OS keyring).
//!
//! Deliberately absent: printing a secret. `stack` says where the terminal token went, never what
//! it is; `provision` reads the value from stdin and confirms only the entry it wrote.

use std::io::{Read as _, Write as _};

use anyhow::Context as _;
use paydesk_stack::{
    StackConfig, DEMO_MANAGER, DEMO_MANAGER_PIN, DEMO_OPERATOR, DEMO_OPERATOR_PIN,
};
use paydesk_terminal::SecretKind;

use crate::config::Settings;
use crate::exit::{CmdResult, Failure, SUCCESS};
use crate::output;

pub async fn stack(settings: &Settings, central_port: u16, gateway_port: u16) -> CmdResult {
    let data_dir = settings.data_dir()?;
    let mut config = StackConfig::new(&data_dir, settings.terminal.secrets.clone());
    config.central_port = central_port;
    config.gateway_port = gateway_port;
    let stack = paydesk_stack::start(config)
        .await
        .context("starting the embedded stack")?;
    // The URLs come first on stdout, for scripts and tests that bind port 0.
    if settings.json {
        output::json(&serde_json::json!({
            "central_url": stack.central_url,
            "gateway_url": stack.gateway_url,
            "terminal_id": stack.terminal,
            "data_dir": stack.data_dir,
            "keyring_service": settings.terminal.keyring_service,
            "operator": { "id": DEMO_OPERATOR, "pin": DEMO_OPERATOR_PIN },
            "manager": { "id": DEMO_MANAGER, "pin": DEMO_MANAGER_PIN },
        }));
    } else {
        out!("central {}", stack.central_url);
        out!("gateway {}", stack.gateway_url);
        out!("terminal {}", stack.terminal);
        out!("data-dir {}", stack.data_dir.display());
        out!("demo operator {DEMO_OPERATOR} PIN {DEMO_OPERATOR_PIN}");
        out!("demo manager {DEMO_MANAGER} PIN {DEMO_MANAGER_PIN}");
        out!(
            "the terminal token and the sandbox key are in the OS keyring (service {}); other \
             paydesk commands with the same --data-dir find this stack; Ctrl-C stops it",
            settings.terminal.keyring_service
        );
    }
    std::io::stdout().flush().context("writing to stdout")?;
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

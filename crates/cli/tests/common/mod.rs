//! The shared harness of the `paydesk` CLI's test binaries: the documented exit codes, `Run`
//! (exit code + stdout + stderr, with a `Debug` that prints all three), `paydesk()` (the real
//! binary with none of the developer's `PAYDESK_*` settings), `run_with_stdin` / `run_no_stdin`,
//! and `Desk`: an embedded stack (central on SQLite + sandbox gateway, secrets in a
//! `MemorySecretStore`) with a CLI data directory beside it and `run(args, pin)` against it.
//! Each test binary uses part of it, hence `dead_code` is allowed here.
#![allow(dead_code)]

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;

use paydesk_stack::{Stack, StackConfig};
use paydesk_terminal::{MemorySecretStore, SecretStore, GATEWAY_API_KEY, TERMINAL_TOKEN};
use serde_json::Value;

/// Exit codes, as documented in `paydesk --help`.
pub const SUCCESS: i32 = 0;
pub const OTHER: i32 = 1;
pub const REFUSED: i32 = 2;
pub const PENDING: i32 = 3;
pub const CONFLICT: i32 = 4;
pub const UNREACHABLE: i32 = 5;
pub const USAGE: i32 = 64;

/// What one `paydesk` process did.
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

impl Run {
    pub fn from_output(out: Output) -> Run {
        Run {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Stdout (trimmed) as one JSON document.
    pub fn json(&self) -> Value {
        serde_json::from_str(self.stdout.trim())
            .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}): {self:?}"))
    }
}

/// A `paydesk` command with none of the developer's `PAYDESK_*` settings (and a keyring service
/// no test uses).
pub fn paydesk() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_paydesk"));
    for (name, _) in std::env::vars() {
        if name.starts_with("PAYDESK_") {
            cmd.env_remove(name);
        }
    }
    cmd.env("PAYDESK_KEYRING_SERVICE", "paydesk-cli-test-unused");
    cmd
}

/// Runs `cmd ARGS` with `stdin` written to its standard input (exactly as given).
pub fn run_with_stdin(mut cmd: Command, args: &[&str], stdin: &str) -> Run {
    cmd.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("the paydesk binary starts");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    Run::from_output(child.wait_with_output().unwrap())
}

/// Runs `cmd ARGS` with no standard input.
pub fn run_no_stdin(mut cmd: Command, args: &[&str]) -> Run {
    let out = cmd
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("the paydesk binary runs");
    Run::from_output(out)
}

/// An embedded stack in a temporary directory (`stack/`), with the CLI's data directory beside
/// it (`cli/`) and the terminal token and gateway key the stack made.
pub struct Desk {
    pub stack: Stack,
    pub cli_dir: PathBuf,
    pub token: String,
    pub gateway_key: String,
    _dir: tempfile::TempDir,
}

impl Desk {
    pub async fn start() -> Desk {
        Desk::start_with(|_| {}).await
    }

    /// Like `start`, with `configure` applied to the stack's config first.
    pub async fn start_with(configure: impl FnOnce(&mut StackConfig)) -> Desk {
        let dir = tempfile::tempdir().unwrap();
        let secrets = Arc::new(MemorySecretStore::new());
        let mut config = StackConfig::new(dir.path().join("stack"), secrets.clone());
        configure(&mut config);
        let stack = paydesk_stack::start(config).await.unwrap();
        let token = secrets.get(TERMINAL_TOKEN).unwrap().unwrap();
        let key = secrets.get(GATEWAY_API_KEY).unwrap().unwrap();
        let cli_dir = dir.path().join("cli");
        std::fs::create_dir_all(&cli_dir).unwrap();
        Desk {
            stack,
            cli_dir,
            token: token.expose().to_string(),
            gateway_key: key.expose().to_string(),
            _dir: dir,
        }
    }

    /// `paydesk` pointed at this stack: its URLs, terminal and secrets, the CLI data directory.
    pub fn command(&self) -> Command {
        let mut cmd = paydesk();
        cmd.env("PAYDESK_DATA_DIR", &self.cli_dir)
            .env("PAYDESK_CENTRAL_URL", &self.stack.central_url)
            .env("PAYDESK_GATEWAY_URL", &self.stack.gateway_url)
            .env("PAYDESK_TERMINAL", self.stack.terminal.as_str())
            .env("PAYDESK_TERMINAL_TOKEN", &self.token)
            .env("PAYDESK_GATEWAY_KEY", &self.gateway_key);
        cmd
    }

    /// `paydesk ARGS` against this stack, with `PIN` and a newline on stdin.
    pub fn run(&self, args: &[&str], pin: &str) -> Run {
        run_with_stdin(self.command(), args, &format!("{pin}\n"))
    }

    /// `paydesk ARGS` against this stack, with no standard input.
    pub fn run_without_stdin(&self, args: &[&str]) -> Run {
        run_no_stdin(self.command(), args)
    }
}

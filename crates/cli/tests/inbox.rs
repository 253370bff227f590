//! `paydesk inbox` and `paydesk resolve`, the real binary against an embedded stack (the central
//! on SQLite with the sandbox gateway): the manager's inbox as JSON with the central's counts and
//! this terminal's own items; a paid order cannot be marked charged again (exit 4); an unpaid
//! order with no intent is marked not charged; an operator is refused; the PIN only on stdin.

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::sync::Arc;

use paydesk_stack::{
    Stack, StackConfig, DEMO_MANAGER, DEMO_MANAGER_PIN, DEMO_OPERATOR, DEMO_OPERATOR_PIN,
};
use paydesk_terminal::{MemorySecretStore, SecretStore, GATEWAY_API_KEY, TERMINAL_TOKEN};
use serde_json::Value;

const SUCCESS: i32 = 0;
const REFUSED: i32 = 2;
const CONFLICT: i32 = 4;
const USAGE: i32 = 64;

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
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

struct Desk {
    stack: Stack,
    cli_dir: std::path::PathBuf,
    token: String,
    gateway_key: String,
    _dir: tempfile::TempDir,
}

impl Desk {
    async fn start() -> Desk {
        let dir = tempfile::tempdir().unwrap();
        let secrets = Arc::new(MemorySecretStore::new());
        let stack =
            paydesk_stack::start(StackConfig::new(dir.path().join("stack"), secrets.clone()))
                .await
                .unwrap();
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

    fn run(&self, args: &[&str], pin: &str) -> Run {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_paydesk"));
        for (name, _) in std::env::vars() {
            if name.starts_with("PAYDESK_") {
                cmd.env_remove(name);
            }
        }
        cmd.env("PAYDESK_KEYRING_SERVICE", "paydesk-cli-test-unused")
            .env("PAYDESK_DATA_DIR", &self.cli_dir)
            .env("PAYDESK_CENTRAL_URL", &self.stack.central_url)
            .env("PAYDESK_GATEWAY_URL", &self.stack.gateway_url)
            .env("PAYDESK_TERMINAL", self.stack.terminal.as_str())
            .env("PAYDESK_TERMINAL_TOKEN", &self.token)
            .env("PAYDESK_GATEWAY_KEY", &self.gateway_key)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("the paydesk binary starts");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(format!("{pin}\n").as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        Run {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manager_reads_the_inbox_and_resolves_only_what_the_evidence_allows() {
    let desk = Desk::start().await;
    let charge = desk.run(
        &[
            "charge",
            "demo-1001",
            "--operator",
            DEMO_OPERATOR,
            "--amount",
            "129.00 EUR",
            "--pin-stdin",
        ],
        DEMO_OPERATOR_PIN,
    );
    assert_eq!(charge.code, Some(SUCCESS), "{charge:?}");

    let inbox = desk.run(
        &["--json", "inbox", "--manager", DEMO_MANAGER, "--pin-stdin"],
        DEMO_MANAGER_PIN,
    );
    assert_eq!(inbox.code, Some(SUCCESS), "{inbox:?}");
    let doc: Value = serde_json::from_str(&inbox.stdout).expect("one JSON document");
    assert!(doc["central"]["counts"].is_object(), "{doc}");
    assert!(doc["central"]["items"].is_array(), "{doc}");
    assert!(doc["terminal"]["items"].is_array(), "{doc}");
    let human = desk.run(
        &["inbox", "--manager", DEMO_MANAGER, "--pin-stdin"],
        DEMO_MANAGER_PIN,
    );
    assert_eq!(human.code, Some(SUCCESS), "{human:?}");
    assert!(!inbox.stdout.contains(DEMO_MANAGER_PIN) && !human.stderr.contains(DEMO_MANAGER_PIN));

    // demo-1001 is paid: marking it charged again is refused by the central (exit 4).
    let order = desk
        .stack
        .central_store()
        .order(&"demo-1001".parse().unwrap())
        .await
        .unwrap();
    let intent = order.paid_intent_id.expect("paid by an intent").to_string();
    let again = desk.run(
        &[
            "resolve",
            "demo-1001",
            "--action",
            "mark-charged",
            "--intent",
            &intent,
            "--reason",
            "double check",
            "--manager",
            DEMO_MANAGER,
            "--pin-stdin",
        ],
        DEMO_MANAGER_PIN,
    );
    assert_eq!(again.code, Some(CONFLICT), "{again:?}");
    assert!(again.stderr.contains("already paid"), "{again:?}");

    // demo-1002 has no intent: the central finds nothing charged and releases it.
    let released = desk.run(
        &[
            "resolve",
            "demo-1002",
            "--action",
            "mark-not-charged",
            "--reason",
            "customer left before paying",
            "--manager",
            DEMO_MANAGER,
            "--pin-stdin",
        ],
        DEMO_MANAGER_PIN,
    );
    assert_eq!(released.code, Some(SUCCESS), "{released:?}");
    assert!(released.stdout.contains("now unpaid"), "{released:?}");

    // An operator is refused; no --pin-stdin, or a bad action, is a usage error.
    let operator = desk.run(
        &["inbox", "--manager", DEMO_OPERATOR, "--pin-stdin"],
        DEMO_OPERATOR_PIN,
    );
    assert_eq!(operator.code, Some(REFUSED), "{operator:?}");
    let no_pin = desk.run(&["inbox", "--manager", DEMO_MANAGER], DEMO_MANAGER_PIN);
    assert_eq!(no_pin.code, Some(USAGE), "{no_pin:?}");
    let bad = desk.run(
        &[
            "resolve",
            "demo-1002",
            "--action",
            "refund",
            "--reason",
            "x",
            "--manager",
            DEMO_MANAGER,
            "--pin-stdin",
        ],
        DEMO_MANAGER_PIN,
    );
    assert_eq!(bad.code, Some(USAGE), "{bad:?}");
    desk.stack.shutdown().await;
}

//! `paydesk reverse` and `paydesk approve`, the real binary against an embedded stack (the
//! central on SQLite with the sandbox gateway): a refund below the threshold by one manager, a
//! larger one refused without an approval and with the manager's own, done with a second
//! manager's approval; an operator refused; the PIN only on stdin.

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::sync::Arc;

use paydesk_engine::{Clock as _, SystemClock};
use paydesk_stack::{
    Stack, StackConfig, DEMO_MANAGER, DEMO_MANAGER_PIN, DEMO_OPERATOR, DEMO_OPERATOR_PIN,
};
use paydesk_terminal::{MemorySecretStore, SecretStore, GATEWAY_API_KEY, TERMINAL_TOKEN};
use serde_json::Value;

const SUCCESS: i32 = 0;
const REFUSED: i32 = 2;
const USAGE: i32 = 64;
const SECOND_MANAGER: &str = "second-manager";
const SECOND_MANAGER_PIN: &str = "13572468";

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
        stack
            .central_store()
            .upsert_operator(
                &SECOND_MANAGER.parse().unwrap(),
                paydesk_protocol::Role::Manager,
                &paydesk_central::auth::hash_pin(SECOND_MANAGER_PIN).unwrap(),
                SystemClock.now(),
            )
            .await
            .unwrap();
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

    fn reverse(&self, who: &str, pin: &str, extra: &[&str]) -> Run {
        let mut args = vec![
            "reverse",
            "demo-1001",
            "--manager",
            who,
            "--reason",
            "espresso machine returned",
            "--pin-stdin",
        ];
        args.extend_from_slice(extra);
        self.run(&args, pin)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manager_refunds_and_a_second_approves_above_the_threshold() {
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

    // 20.00 is below the threshold: one manager.
    let small = desk.reverse(DEMO_MANAGER, DEMO_MANAGER_PIN, &["--amount", "20.00 EUR"]);
    assert_eq!(small.code, Some(SUCCESS), "{small:?}");
    assert!(
        small
            .stdout
            .contains("refund of 20.00 EUR for order demo-1001: succeeded"),
        "{small:?}"
    );
    // No --pin-stdin, an operator: refused before anything is sent.
    let no_pin = desk.run(
        &[
            "reverse",
            "demo-1001",
            "--manager",
            DEMO_MANAGER,
            "--reason",
            "x",
        ],
        DEMO_MANAGER_PIN,
    );
    assert_eq!(no_pin.code, Some(USAGE), "{no_pin:?}");
    let operator = desk.reverse(DEMO_OPERATOR, DEMO_OPERATOR_PIN, &[]);
    assert_eq!(operator.code, Some(REFUSED), "{operator:?}");

    // The rest (109.00) is above 100.00: refused without an approval, and with one's own.
    let alone = desk.reverse(DEMO_MANAGER, DEMO_MANAGER_PIN, &["--json"]);
    assert_eq!(alone.code, Some(REFUSED), "{alone:?}");
    assert!(alone.stdout.contains("approval"), "{alone:?}");
    let approve = |who: &str, pin: &str| {
        desk.run(
            &[
                "approve",
                "demo-1001",
                "--manager",
                who,
                "--amount",
                "109.00 EUR",
                "--pin-stdin",
            ],
            pin,
        )
    };
    let own = approve(DEMO_MANAGER, DEMO_MANAGER_PIN);
    assert_eq!(own.code, Some(SUCCESS), "{own:?}");
    let own_id = own.stdout.trim().to_string();
    assert!(own_id.starts_with("apr_"), "{own:?}");
    let selfish = desk.reverse(DEMO_MANAGER, DEMO_MANAGER_PIN, &["--approval", &own_id]);
    assert_eq!(selfish.code, Some(REFUSED), "{selfish:?}");
    assert!(
        selfish.stderr.contains("another manager must approve"),
        "{selfish:?}"
    );

    let second = approve(SECOND_MANAGER, SECOND_MANAGER_PIN);
    assert_eq!(second.code, Some(SUCCESS), "{second:?}");
    let id = second.stdout.trim().to_string();
    let done = desk.reverse(
        DEMO_MANAGER,
        DEMO_MANAGER_PIN,
        &["--json", "--approval", &id],
    );
    assert_eq!(done.code, Some(SUCCESS), "{done:?}");
    let doc: Value = serde_json::from_str(done.stdout.trim()).unwrap();
    assert_eq!(doc["reversal"]["amount_minor"], 10_900, "{done:?}");
    assert_eq!(doc["reversal"]["approved_by"], SECOND_MANAGER);
    assert_eq!(doc["reversal"]["state"], "succeeded");
    desk.stack.shutdown().await;
}

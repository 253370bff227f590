//! The command line as a newcomer meets it with the embedded default and no flags (issue 15):
//! offline work once the stack stops (exit 5, the cached queue, the offline sign-in) and charging
//! offline under a manager's allowance while `paydesk stack --central-down` keeps the sandbox;
//! a wrong amount stopped before the claim; declined and 3-D Secure orders kept in the queue with
//! their state and a next step; one stack per data directory; a headless `paydesk stack` that
//! honours the automation variables; and the small messages.
//!
//! The commands find the stack through its data directory only (`stack.json`, `terminal.json`),
//! as the READMEs tell a newcomer; secrets reach them through `PAYDESK_TERMINAL_TOKEN` /
//! `PAYDESK_GATEWAY_KEY`.

mod common;

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;

use paydesk_protocol::OrderDetail;
use paydesk_stack::{
    Stack, StackConfig, DEMO_GATEWAY_KEY, DEMO_MANAGER, DEMO_MANAGER_PIN, DEMO_OPERATOR,
    DEMO_OPERATOR_PIN,
};
use paydesk_terminal::{MemorySecretStore, SecretStore, TERMINAL_TOKEN};

use common::{run_with_stdin, Run, REFUSED, SUCCESS, UNREACHABLE, USAGE};

/// `paydesk` with nothing configured but the data directory and the two secrets.
fn paydesk(data_dir: &Path, token: &str) -> Command {
    let mut cmd = common::paydesk();
    cmd.env("PAYDESK_DATA_DIR", data_dir)
        .env("PAYDESK_TERMINAL_TOKEN", token)
        .env("PAYDESK_GATEWAY_KEY", DEMO_GATEWAY_KEY);
    cmd
}

/// `cmd ARGS`, with `stdin` (if any) on its standard input, which is closed either way.
fn run(cmd: Command, args: &[&str], stdin: Option<&str>) -> Run {
    run_with_stdin(cmd, args, stdin.unwrap_or(""))
}

/// The embedded default over `dir`, as `paydesk stack` starts it (`central_down` as its flag).
async fn start_stack(dir: &Path, secrets: &Arc<MemorySecretStore>, central_down: bool) -> Stack {
    let mut config = StackConfig::new(dir, secrets.clone());
    config.central_down = central_down;
    paydesk_stack::start(config).await.unwrap()
}

struct Demo {
    dir: PathBuf,
    secrets: Arc<MemorySecretStore>,
    token: String,
    _tmp: tempfile::TempDir,
}

impl Demo {
    async fn start() -> (Demo, Stack) {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("paydesk");
        let secrets = Arc::new(MemorySecretStore::new());
        let stack = start_stack(&dir, &secrets, false).await;
        let token = secrets.get(TERMINAL_TOKEN).unwrap().unwrap();
        let demo = Demo {
            dir,
            secrets,
            token: token.expose().to_string(),
            _tmp: tmp,
        };
        (demo, stack)
    }

    fn run(&self, args: &[&str], stdin: Option<&str>) -> Run {
        run(paydesk(&self.dir, &self.token), args, stdin)
    }

    fn charge(&self, order: &str, amount: &str) -> Run {
        self.run(
            &[
                "charge",
                order,
                "--operator",
                DEMO_OPERATOR,
                "--amount",
                amount,
                "--pin-stdin",
            ],
            Some(&format!("{DEMO_OPERATOR_PIN}\n")),
        )
    }

    fn sign_in(&self) -> Run {
        self.run(
            &["sign-in", "--operator", DEMO_OPERATOR],
            Some(&format!("{DEMO_OPERATOR_PIN}\n")),
        )
    }

    fn allow_offline(&self) -> Run {
        self.run(
            &[
                "offline",
                "allow",
                "--manager",
                DEMO_MANAGER,
                "--per-charge",
                "200.00 EUR",
                "--per-shift",
                "500.00 EUR",
            ],
            Some(&format!("{DEMO_MANAGER_PIN}\n")),
        )
    }
}

async fn order(stack: &Stack, id: &str) -> OrderDetail {
    stack
        .central_client()
        .unwrap()
        .get_json(&format!("/v1/orders/{id}"))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_can_be_tried_with_the_embedded_default() {
    let (demo, stack) = Demo::start().await;
    // While the stack runs: the queue is cached, the operator signs in online (their offline
    // verifier), and a manager grants the offline allowance (signed by the central).
    let queue = demo.run(&["queue"], None);
    assert_eq!(queue.code, Some(SUCCESS), "{queue:?}");
    assert!(queue.stdout.contains("demo-1002"), "{queue:?}");
    assert_eq!(demo.sign_in().code, Some(SUCCESS));
    let allowed = demo.allow_offline();
    assert_eq!(allowed.code, Some(SUCCESS), "{allowed:?}");
    assert!(
        allowed.stdout.contains("allowed by demo-manager"),
        "{allowed:?}"
    );
    stack.shutdown().await;

    // Stopped: the central is unreachable, never "not configured".
    let queue = demo.run(&["queue"], None);
    assert_eq!(queue.code, Some(UNREACHABLE), "{queue:?}");
    assert!(
        queue.stdout.contains("demo-1002"),
        "the cached queue: {queue:?}"
    );
    assert!(
        queue.stderr.contains("the embedded stack is stopped"),
        "{queue:?}"
    );
    let signed = demo.sign_in();
    assert_eq!(
        signed.code,
        Some(SUCCESS),
        "{signed:?} {:?}",
        std::fs::read_to_string(demo.dir.join("sign-in-verifiers.json"))
    );
    assert!(signed.stdout.contains("offline"), "{signed:?}");
    let manager = demo.allow_offline();
    assert_eq!(manager.code, Some(UNREACHABLE), "{manager:?}");
    assert!(manager.stderr.contains("not managers"), "{manager:?}");
    assert!(
        manager.stderr.contains("the embedded stack is stopped"),
        "{manager:?}"
    );
    // Its sandbox stopped too: nothing can be charged, and the message says how to try it.
    let stopped = demo.charge("demo-1006", "73.00 EUR");
    assert_eq!(stopped.code, Some(UNREACHABLE), "{stopped:?}");
    assert!(
        stopped.stderr.contains("paydesk stack --central-down")
            && stopped.stderr.contains("nothing was charged"),
        "{stopped:?}"
    );
    for out in [&queue, &signed, &manager, &stopped] {
        assert!(
            !out.stderr.contains("no central server configured"),
            "{out:?}"
        );
    }

    // The sandbox back, the central still down: the operator charges offline.
    let down = start_stack(&demo.dir, &demo.secrets, true).await;
    let queue = demo.run(&["queue"], None);
    assert_eq!(queue.code, Some(UNREACHABLE), "{queue:?}");
    // The allowance is in EUR: an order in another currency is refused offline, with the rule.
    let usd = demo.charge("demo-2001", "34.50 USD");
    assert_eq!(usd.code, Some(UNREACHABLE), "{usd:?}");
    assert!(usd.stderr.contains("allowed in EUR only"), "{usd:?}");
    let paid = demo.charge("demo-1002", "45.50 EUR");
    assert_eq!(paid.code, Some(SUCCESS), "{paid:?}");
    assert!(paid.stdout.contains("offline"), "{paid:?}");
    assert!(paid.stdout.contains("succeeded"), "{paid:?}");
    // Its journal record names the signed grant that allowed it.
    let list = demo.run(&["--json", "journal", "list"], None);
    let list: serde_json::Value = serde_json::from_str(&list.stdout).expect("JSON");
    let id = list["attempts"][0]["id"].as_str().unwrap().to_string();
    let shown = demo.run(&["journal", "show", &id], None);
    assert_eq!(shown.code, Some(SUCCESS), "{shown:?}");
    assert!(
        shown
            .stdout
            .contains("allowed offline by demo-manager under grant ")
            && shown
                .stdout
                .contains("(200.00 EUR per charge, 500.00 EUR per shift, until "),
        "{shown:?}"
    );
    // The central never heard of it yet: the result waits in the journal.
    assert_eq!(order(&down, "demo-1002").await.order.attempt_seq, 0);
    let sync = demo.run(&["sync"], None);
    assert_eq!(sync.code, Some(UNREACHABLE), "{sync:?}");
    assert!(sync.stdout.contains("runs with --central-down"), "{sync:?}");
    down.shutdown().await;

    // The central back: the waiting result is delivered.
    let back = start_stack(&demo.dir, &demo.secrets, false).await;
    let sync = demo.run(&["sync"], None);
    assert_eq!(sync.code, Some(SUCCESS), "{sync:?}");
    assert!(sync.stdout.contains("1 delivered"), "{sync:?}");
    // The sandbox kept the intent across the restarts: the central verified the offline success.
    let paid = order(&back, "demo-1002").await.order;
    assert_eq!(paid.status, paydesk_protocol::OrderStatus::Paid, "{paid:?}");
    back.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_amount_is_refused_before_the_order_is_claimed() {
    let (demo, stack) = Demo::start().await;
    let wrong = demo.charge("demo-1002", "12.34 EUR");
    assert_eq!(wrong.code, Some(USAGE), "{wrong:?}");
    assert!(
        wrong
            .stderr
            .contains("order demo-1002 is 45.50 EUR, not the 12.34 EUR you typed"),
        "{wrong:?}"
    );
    assert!(!wrong.stdout.contains("claimed"), "{wrong:?}");
    let currency = demo.charge("demo-1002", "45.50 USD");
    assert_eq!(currency.code, Some(USAGE), "{currency:?}");
    assert!(
        currency.stderr.contains("the currency differs"),
        "{currency:?}"
    );
    let detail = order(&stack, "demo-1002").await;
    assert_eq!(detail.order.attempt_seq, 0, "no attempt number was taken");
    assert!(detail.order.claim.is_none());
    let right = demo.charge("demo-1002", "45.50 EUR");
    assert_eq!(right.code, Some(SUCCESS), "{right:?}");
    assert!(right.stdout.contains("attempt #1"), "{right:?}");
    stack.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn declined_and_3ds_orders_stay_in_the_queue_with_their_state_and_a_next_step() {
    let (demo, stack) = Demo::start().await;
    let declined = demo.charge("demo-1004", "19.99 EUR");
    assert_eq!(declined.code, Some(REFUSED), "{declined:?}");
    assert!(declined.stdout.contains("next: "), "{declined:?}");
    assert!(declined.stdout.contains("another card"), "{declined:?}");
    let action = demo.charge("demo-1005", "250.00 EUR");
    assert_eq!(action.code, Some(REFUSED), "{action:?}");
    assert!(action.stdout.contains("3-D Secure"), "{action:?}");

    let queue = demo.run(&["queue"], None);
    assert_eq!(queue.code, Some(SUCCESS), "{queue:?}");
    let line = |id: &str| {
        queue
            .stdout
            .lines()
            .find(|l| l.starts_with(id))
            .unwrap_or_else(|| panic!("{id} is in the queue: {queue:?}"))
            .to_string()
    };
    assert!(line("demo-1001").contains("unpaid"), "{queue:?}");
    assert!(line("demo-1004").contains("failed"), "{queue:?}");
    assert!(line("demo-1005").contains("needs_action"), "{queue:?}");
    // Still chargeable, as the queue says: a new attempt is taken.
    let again = demo.charge("demo-1004", "19.99 EUR");
    assert!(again.stdout.contains("attempt #2"), "{again:?}");
    stack.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_stack_on_the_same_data_directory_is_refused() {
    let (demo, stack) = Demo::start().await;
    let second = run(paydesk(&demo.dir, &demo.token), &["stack"], None);
    assert_eq!(second.code, Some(1), "{second:?}");
    assert!(
        second.stderr.contains("another embedded stack is running"),
        "{second:?}"
    );
    // The first stack is untouched: the commands still find it.
    assert_eq!(demo.run(&["queue"], None).code, Some(SUCCESS));
    stack.shutdown().await;
}

/// `paydesk stack` as a child process, with its first stdout lines read.
struct StackChild {
    child: std::process::Child,
    lines: Vec<String>,
    /// Kept open: the stack's stdout stays readable for as long as it runs.
    _stdout: BufReader<std::process::ChildStdout>,
}

impl StackChild {
    fn start(mut cmd: Command) -> StackChild {
        cmd.arg("stack")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let mut reader = BufReader::new(child.stdout.take().unwrap());
        let mut lines = Vec::new();
        for _ in 0..6 {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap() == 0 {
                break;
            }
            lines.push(line.trim_end().to_string());
        }
        StackChild {
            child,
            lines,
            _stdout: reader,
        }
    }
}

impl Drop for StackChild {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// No Secret Service for the child: no D-Bus session bus to find one on.
fn without_keyring(cmd: &mut Command) {
    cmd.env_remove("DBUS_SESSION_BUS_ADDRESS").env(
        "DBUS_SESSION_BUS_ADDRESS",
        "unix:path=/nonexistent/paydesk-test-bus",
    );
}

#[test]
fn a_headless_stack_honours_the_automation_variables_and_says_a_missing_keyring_once() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("paydesk");
    let token = format!("pdt_{}", "ab".repeat(32));
    let mut cmd = paydesk(&dir, &token);
    without_keyring(&mut cmd);
    let stack = StackChild::start(cmd);
    assert!(
        stack
            .lines
            .first()
            .is_some_and(|l| l.starts_with("central http://127.0.0.1:")),
        "{:?}",
        stack.lines
    );
    // The commands with the same variables reach it: the stack registered the given token.
    let mut queue = paydesk(&dir, &token);
    without_keyring(&mut queue);
    let queue = run(queue, &["queue"], None);
    assert_eq!(queue.code, Some(SUCCESS), "{queue:?}");
    assert!(queue.stdout.contains("demo-1001"), "{queue:?}");
    drop(stack);

    // A token the stack cannot register is refused at once, not replaced behind the scenes.
    let mut weak = paydesk(&tmp.path().join("weak"), "not-a-central-token");
    without_keyring(&mut weak);
    let weak = run(weak, &["stack"], None);
    assert_eq!(weak.code, Some(USAGE), "{weak:?}");
    assert!(weak.stderr.contains("pdt_"), "{weak:?}");

    // Without the variables and without a keyring: one clear error, said once.
    let mut bare = paydesk(&tmp.path().join("other"), &token);
    bare.env_remove("PAYDESK_TERMINAL_TOKEN")
        .env_remove("PAYDESK_GATEWAY_KEY");
    without_keyring(&mut bare);
    let failed = run(bare, &["stack"], None);
    assert_eq!(failed.code, Some(1), "{failed:?}");
    assert_eq!(
        failed.stderr.matches("no Secret Service").count(),
        1,
        "{failed:?}"
    );
    assert!(
        failed.stderr.contains("PAYDESK_TERMINAL_TOKEN"),
        "{failed:?}"
    );
}

#[test]
fn small_messages_say_what_is_wrong() {
    let tmp = tempfile::tempdir().unwrap();
    let token = format!("pdt_{}", "cd".repeat(32));
    let missing = tmp.path().join("nonexistent");
    let queue = run(paydesk(&missing, &token), &["queue"], None);
    assert_eq!(queue.code, Some(USAGE), "{queue:?}");
    assert!(queue.stderr.contains("does not exist"), "{queue:?}");

    let dir = tmp.path().join("d");
    let allow = |hours: &str, per_shift: &str| {
        run(
            paydesk(&dir, &token),
            &[
                "offline",
                "allow",
                "--manager",
                DEMO_MANAGER,
                "--per-charge",
                "50.00 EUR",
                "--per-shift",
                per_shift,
                "--hours",
                hours,
            ],
            Some("87654321\n"),
        )
    };
    let zero = allow("0", "300.00 EUR");
    assert_eq!(zero.code, Some(USAGE), "{zero:?}");
    assert!(zero.stderr.contains("between 1 and 12 hours"), "{zero:?}");
    let mixed = allow("4", "300.00 USD");
    assert_eq!(mixed.code, Some(USAGE), "{mixed:?}");
    assert!(mixed.stderr.contains("one currency"), "{mixed:?}");
    let decimal = allow("4", "300.0 EUR");
    assert!(decimal.stderr.contains("has 1 decimal but"), "{decimal:?}");

    let help = run(paydesk(&dir, &token), &["--help"], None);
    let show = help
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("show "))
        .unwrap_or_default();
    assert!(show.contains("attempt"), "show has a description: {help:?}");
}

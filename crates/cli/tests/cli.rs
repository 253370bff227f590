//! The real `paydesk` binary as a child process against an embedded stack (the central on SQLite
//! and the sandbox gateway, in this test process): charge outcomes and exit codes, `--json`,
//! the claim conflict, journal verification before and after tampering, the CSV export, bad
//! input, offline answers, and a crash at a named point finished by `paydesk recover`.
//!
//! Secrets reach the child through `PAYDESK_TERMINAL_TOKEN` / `PAYDESK_GATEWAY_KEY` (the keyring
//! path is tested in `keyring.rs`, under a real Secret Service).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use paydesk_central::auth;
use paydesk_core::{OperatorId, OrderId, TerminalId};
use paydesk_engine::{Central, ClaimRequest, Clock, SystemClock};
use paydesk_protocol::{OrderDetail, OrderStatus};
use paydesk_stack::{Stack, StackConfig, DEMO_MANAGER, DEMO_OPERATOR, DEMO_OPERATOR_PIN};
use paydesk_terminal::{
    HttpCentral, MemorySecretStore, SecretStore, SessionToken, TerminalToken, GATEWAY_API_KEY,
    TERMINAL_TOKEN,
};
use serde_json::Value;

use common::{run_with_stdin, Run, CONFLICT, PENDING, REFUSED, SUCCESS, UNREACHABLE, USAGE};

/// Exit code of a broken journal, as documented in `paydesk --help`.
const JOURNAL_BROKEN: i32 = 6;

struct Harness {
    stack: Option<Stack>,
    /// The stack's data directory and secrets, kept for a restart over the same files.
    stack_dir: PathBuf,
    secrets: Arc<MemorySecretStore>,
    /// The CLI's data directory (journal, caches); the stack has its own beside it.
    cli_dir: PathBuf,
    central_url: String,
    gateway_url: String,
    terminal: TerminalId,
    token: String,
    gateway_key: String,
    _dir: tempfile::TempDir,
}

impl Harness {
    async fn start() -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let secrets = Arc::new(MemorySecretStore::new());
        let stack_dir = dir.path().join("stack");
        let stack = paydesk_stack::start(stack_config(&stack_dir, secrets.clone()))
            .await
            .unwrap();
        let token = secrets.get(TERMINAL_TOKEN).unwrap().unwrap();
        let key = secrets.get(GATEWAY_API_KEY).unwrap().unwrap();
        let cli_dir = dir.path().join("cli");
        std::fs::create_dir_all(&cli_dir).unwrap();
        Harness {
            central_url: stack.central_url.clone(),
            gateway_url: stack.gateway_url.clone(),
            terminal: stack.terminal.clone(),
            token: token.expose().to_string(),
            gateway_key: key.expose().to_string(),
            stack: Some(stack),
            stack_dir,
            secrets,
            cli_dir,
            _dir: dir,
        }
    }

    fn stack(&self) -> &Stack {
        self.stack.as_ref().expect("the stack is running")
    }

    fn journal(&self) -> PathBuf {
        self.cli_dir.join("journal.sqlite")
    }

    /// `paydesk` configured for this stack through the environment only.
    fn command(&self) -> Command {
        let mut cmd = common::paydesk();
        cmd.env("PAYDESK_DATA_DIR", &self.cli_dir)
            .env("PAYDESK_CENTRAL_URL", &self.central_url)
            .env("PAYDESK_GATEWAY_URL", &self.gateway_url)
            .env("PAYDESK_TERMINAL", self.terminal.as_str())
            .env("PAYDESK_TERMINAL_TOKEN", &self.token)
            .env("PAYDESK_GATEWAY_KEY", &self.gateway_key);
        cmd
    }

    fn run(&self, args: &[&str]) -> Run {
        run(self.command(), args, None)
    }

    /// `paydesk charge` as the demo operator, signed in with the PIN on stdin.
    fn charge(&self, order: &str, amount: &str) -> Run {
        run(
            self.command(),
            &charge_args(order, amount),
            Some(&pin_line()),
        )
    }

    async fn order(&self, id: &str) -> OrderDetail {
        self.stack()
            .central_client()
            .unwrap()
            .get_json(&format!("/v1/orders/{id}"))
            .await
            .unwrap()
    }

    /// Starts the stack again over the same files and on the same ports, so the CLI's
    /// configuration still points at it (the sandbox keeps its state in the data directory).
    async fn restart(&mut self) {
        let port = |url: &str| url.rsplit(':').next().unwrap().parse::<u16>().unwrap();
        let mut config = stack_config(&self.stack_dir, self.secrets.clone());
        config.central_port = port(&self.central_url);
        config.gateway_port = port(&self.gateway_url);
        let stack = paydesk_stack::start(config).await.unwrap();
        assert_eq!(stack.terminal, self.terminal);
        self.stack = Some(stack);
    }

    async fn shutdown(&mut self) {
        if let Some(stack) = self.stack.take() {
            stack.shutdown().await;
        }
    }
}

/// The embedded stack, with the sandbox's `/admin` routes open to this machine: the tests read
/// the gateway's ledger and arm its faults there.
fn stack_config(dir: &Path, secrets: Arc<MemorySecretStore>) -> StackConfig {
    let mut config = StackConfig::new(dir, secrets);
    config.sandbox_admin = paydesk_stack::SandboxAdmin::LoopbackOnly;
    config
}

/// The demo operator's PIN as `--pin-stdin` reads it.
fn pin_line() -> String {
    format!("{DEMO_OPERATOR_PIN}\n")
}

fn charge_args<'a>(order: &'a str, amount: &'a str) -> Vec<&'a str> {
    vec![
        "charge",
        order,
        "--operator",
        DEMO_OPERATOR,
        "--amount",
        amount,
        "--pin-stdin",
    ]
}

/// `cmd ARGS`, with `stdin` (if any) on its standard input, which is closed either way.
fn run(cmd: Command, args: &[&str], stdin: Option<&str>) -> Run {
    run_with_stdin(cmd, args, stdin.unwrap_or(""))
}

/// Succeeded intents the sandbox (the gateway's ground truth) holds for `order`.
async fn ledger_successes(gateway_url: &str, order: &str) -> usize {
    let ledger: Value = reqwest::get(format!("{gateway_url}/admin/ledger"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    ledger["intents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["metadata"]["order_id"] == order && i["status"] == "succeeded")
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn charges_exit_with_their_outcome_and_reach_the_central() {
    let h = Harness::start().await;
    let paid = h.charge("demo-1001", "129.00 EUR");
    assert_eq!(paid.code, Some(SUCCESS), "{paid:?}");
    assert!(paid.stdout.contains("claimed demo-1001"), "{paid:?}");
    assert!(
        paid.stdout
            .contains("succeeded: order demo-1001, 129.00 EUR"),
        "{paid:?}"
    );
    assert!(paid.stdout.contains("1 delivered"), "{paid:?}");
    assert_eq!(h.order("demo-1001").await.order.status, OrderStatus::Paid);

    let declined = h.charge("demo-1004", "19.99 EUR");
    assert_eq!(declined.code, Some(REFUSED), "{declined:?}");
    assert!(
        declined.stdout.contains("declined: order demo-1004"),
        "{declined:?}"
    );
    assert_eq!(h.order("demo-1004").await.order.status, OrderStatus::Failed);

    let again = h.charge("demo-1001", "129.00 EUR");
    assert_eq!(again.code, Some(CONFLICT), "a paid order: {again:?}");
    assert!(again.stderr.contains("paid"), "{again:?}");
    assert_eq!(ledger_successes(&h.gateway_url, "demo-1001").await, 1);

    // No secret in any file the stack or the binary wrote (journal, caches, central database).
    for dir in [&h.cli_dir, &h.stack_dir] {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let bytes = std::fs::read(&path).unwrap_or_default();
            let text = String::from_utf8_lossy(&bytes);
            assert!(!text.contains(&h.token), "{}", path.display());
            assert!(!text.contains(&h.gateway_key), "{}", path.display());
        }
    }
    // No secret in anything the binary printed.
    for run in [&paid, &declined, &again] {
        for text in [&run.stdout, &run.stderr] {
            assert!(!text.contains(&h.token));
            assert!(!text.contains(&h.gateway_key));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_output_parses_everywhere() {
    let h = Harness::start().await;
    let mut args = vec!["--json"];
    args.extend(charge_args("demo-2001", "34.50 USD"));
    let charge = run(h.command(), &args, Some(&pin_line()));
    assert_eq!(charge.code, Some(SUCCESS), "{charge:?}");
    let doc = charge.json();
    assert_eq!(doc["outcome"], "succeeded");
    assert_eq!(doc["exit_code"], 0);
    assert_eq!(doc["amount"], "34.50 USD");
    assert_eq!(doc["sync"]["delivered"], 1);
    let attempt_id = doc["attempt"]["id"].as_str().unwrap().to_string();
    // Progress went to stderr as JSON lines.
    for line in charge.stderr.lines().filter(|l| l.starts_with('{')) {
        serde_json::from_str::<Value>(line).unwrap();
    }

    let list = h.run(&["--json", "journal", "list"]);
    assert_eq!(list.code, Some(SUCCESS), "{list:?}");
    assert_eq!(list.json()["attempts"].as_array().unwrap().len(), 1);

    let show = h.run(&["--json", "show", &attempt_id]);
    assert_eq!(show.code, Some(SUCCESS), "{show:?}");
    let shown = show.json();
    assert_eq!(shown["attempt"]["state"], "succeeded");
    assert!(shown["timeline"].as_array().unwrap().len() >= 5);
    let human = h.run(&["journal", "show", &attempt_id]);
    assert!(human.stdout.contains("timeline:"), "{human:?}");
    assert!(human.stdout.contains("the card was charged"), "{human:?}");

    let queue = h.run(&["--json", "queue"]);
    assert_eq!(queue.code, Some(SUCCESS), "{queue:?}");
    let orders = queue.json()["orders"].as_array().unwrap().len();
    assert_eq!(
        orders, 23,
        "twenty demo orders, one paid, and the embedded stack's four PayPal ones"
    );

    let verify = h.run(&["--json", "journal", "verify"]);
    assert_eq!(verify.json()["intact"], true, "{verify:?}");
    let totals = h.run(&["--json", "journal", "totals"]);
    assert_eq!(totals.code, Some(SUCCESS), "{totals:?}");
    assert_eq!(totals.json()["totals"][0]["succeeded"], 1, "{totals:?}");
    // The same day by gateway: the one charge went through Stripe.
    let by_gateway = &totals.json()["by_gateway"];
    assert_eq!(by_gateway.as_array().map(Vec::len), Some(1), "{totals:?}");
    assert_eq!(by_gateway[0]["gateway"], "stripe", "{totals:?}");
    assert_eq!(by_gateway[0]["succeeded"], 1, "{totals:?}");
    let sync = h.run(&["--json", "sync"]);
    assert_eq!(sync.json()["sync"]["waiting"], 0, "{sync:?}");
    let recover = h.run(&["--json", "recover"]);
    assert_eq!(recover.json()["report"]["examined"], 0, "{recover:?}");

    let usage = h.run(&[
        "--json",
        "charge",
        "demo-2001",
        "--operator",
        "x",
        "--amount",
        "12",
    ]);
    assert_eq!(usage.code, Some(USAGE), "{usage:?}");
    assert_eq!(usage.json()["exit_code"], USAGE);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_held_by_another_terminal_exits_4_and_names_the_holder() {
    let h = Harness::start().await;
    // A second terminal, registered at the central, claims the order first.
    let other = TerminalId::new("till-other").unwrap();
    let other_token = auth::new_token();
    h.stack()
        .central_store()
        .add_terminal(&other, &auth::token_sha256(&other_token), SystemClock.now())
        .await
        .unwrap();
    let client = HttpCentral::new(&h.central_url, TerminalToken::new(other_token)).unwrap();
    let manager = OperatorId::new(DEMO_MANAGER).unwrap();
    let session = client
        .open_session(
            &manager,
            &paydesk_core::Pin::parse(paydesk_stack::DEMO_MANAGER_PIN).unwrap(),
        )
        .await
        .unwrap();
    client.set_session(Some(SessionToken::new(session.session_token)));
    client
        .claim(&ClaimRequest {
            order: OrderId::new("demo-1002").unwrap(),
            operator: manager.clone(),
            terminal: other.clone(),
        })
        .await
        .unwrap();

    let held = h.charge("demo-1002", "45.50 EUR");
    assert_eq!(held.code, Some(CONFLICT), "{held:?}");
    assert!(held.stderr.contains("demo-manager"), "{held:?}");
    assert!(held.stderr.contains("till-other"), "{held:?}");

    let changed = h.charge("demo-1003", "890.01 EUR");
    assert_eq!(changed.code, Some(USAGE), "{changed:?}");
    assert!(
        changed.stderr.contains("is 890.00 EUR, not the"),
        "{changed:?}"
    );

    let unknown = h.charge("demo-9999", "1.00 EUR");
    assert_eq!(unknown.code, Some(CONFLICT), "{unknown:?}");
}

/// Drops the append-only triggers and edits an event, as an attacker with the file would.
fn tamper(journal: &Path) {
    let raw = rusqlite::Connection::open(journal).unwrap();
    raw.execute_batch(
        "DROP TRIGGER events_no_update; DROP TRIGGER events_no_delete; \
         DROP TRIGGER attempts_no_delete; DROP TRIGGER outbox_no_delete; \
         UPDATE events SET detail = '{\"outcome\":\"edited\"}' WHERE seq = 2;",
    )
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn journal_verify_passes_intact_and_catches_tampering() {
    let h = Harness::start().await;
    assert_eq!(h.charge("demo-1001", "129.00 EUR").code, Some(SUCCESS));
    let intact = h.run(&["journal", "verify"]);
    assert_eq!(intact.code, Some(SUCCESS), "{intact:?}");
    assert!(
        intact
            .stdout
            .contains("journal intact: 5 events, 1 attempts"),
        "{intact:?}"
    );

    tamper(&h.journal());
    let broken = h.run(&["journal", "verify"]);
    assert_eq!(broken.code, Some(JOURNAL_BROKEN), "{broken:?}");
    assert!(broken.stdout.contains("journal BROKEN"), "{broken:?}");
    assert!(broken.stdout.contains("event 2"), "{broken:?}");
    let json = h.run(&["--json", "journal", "verify"]);
    assert_eq!(json.code, Some(JOURNAL_BROKEN));
    assert_eq!(json.json()["intact"], false);
    assert_eq!(json.json()["report"]["broken"]["seq"], 2);

    // A broken journal stops charging (I8): nothing is claimed or sent.
    let refused = h.charge("demo-1002", "45.50 EUR");
    assert_eq!(refused.code, Some(JOURNAL_BROKEN), "{refused:?}");
    assert_eq!(h.order("demo-1002").await.order.claim, None);
    // Nor do recovery and sync act on it (issue 9): exit 6, saying why.
    for args in [&["recover"][..], &["sync"][..]] {
        let stopped = h.run(args);
        assert_eq!(stopped.code, Some(JOURNAL_BROKEN), "{args:?}: {stopped:?}");
        assert!(
            stopped.stderr.contains("failed verification"),
            "{stopped:?}"
        );
    }
}

/// A result for an order the central does not know: `paydesk sync` gets it parked.
async fn parked_result(h: &Harness) -> i64 {
    use paydesk_core::{
        AttemptEvent, AttemptNumber, ChargeOutcome, ClaimToken, CreateOutcome, GatewayIntentId,
        Money, NewAttempt, PaymentMethodId, RegisterOutcome,
    };
    let mut journal = paydesk_journal::Journal::open(&h.journal()).unwrap();
    let now = SystemClock.now();
    let (attempt, _) = journal
        .begin_attempt(
            NewAttempt {
                id: paydesk_engine::new_attempt_id(now),
                order: OrderId::new("ghost-1").unwrap(),
                number: AttemptNumber::new(1).unwrap(),
                installment: paydesk_core::InstallmentNumber::FIRST,
                claim_token: ClaimToken::new(1).unwrap(),
                amount: Money::parse("10.00 EUR").unwrap(),
                customer: None,
                payment_method: PaymentMethodId::new("pm_card_visa").unwrap(),
                operator: OperatorId::new(DEMO_OPERATOR).unwrap(),
                terminal: h.terminal.clone(),
                offline: false,
            },
            now,
        )
        .unwrap();
    for event in [
        AttemptEvent::CreateAnswered(CreateOutcome::Created {
            intent: GatewayIntentId::new("pi_ghost").unwrap(),
        }),
        AttemptEvent::RegisterAnswered(RegisterOutcome::Accepted),
        AttemptEvent::ConfirmBegun,
        AttemptEvent::ConfirmAnswered(ChargeOutcome::Declined {
            reason: "do_not_honor".into(),
        }),
    ] {
        journal.apply(&attempt.id, &event, now).unwrap();
    }
    drop(journal);
    let sync = h.run(&["sync"]);
    assert_eq!(sync.code, Some(SUCCESS), "{sync:?}");
    assert!(sync.stdout.contains("1 parked"), "{sync:?}");
    let listed = h.run(&["--json", "outbox", "list", "--parked"]);
    assert_eq!(listed.code, Some(SUCCESS), "{listed:?}");
    let messages = listed.json()["messages"].as_array().unwrap().clone();
    assert_eq!(messages.len(), 1, "{listed:?}");
    messages[0]["id"].as_i64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manager_retries_or_archives_a_parked_result() {
    use paydesk_stack::{DEMO_MANAGER, DEMO_MANAGER_PIN, DEMO_OPERATOR_PIN};
    let h = Harness::start().await;
    let id = parked_result(&h).await;
    let id_arg = id.to_string();
    let human = h.run(&["outbox", "list"]);
    assert!(
        human.stdout.contains("PARKED: rejected by the central"),
        "{human:?}"
    );

    // A manager's action: an operator, a wrong PIN or no PIN is refused and changes nothing.
    let retry = |who: &str, pin: &str| {
        run(
            h.command(),
            &["outbox", "retry", &id_arg, "--manager", who],
            Some(pin),
        )
    };
    assert_eq!(retry(DEMO_OPERATOR, DEMO_OPERATOR_PIN).code, Some(REFUSED));
    assert_eq!(retry(DEMO_MANAGER, "00000000").code, Some(REFUSED));
    assert_eq!(retry(DEMO_MANAGER, "").code, Some(USAGE));
    let still = h.run(&["--json", "outbox", "list", "--parked"]);
    assert_eq!(still.json()["messages"].as_array().unwrap().len(), 1);

    let retried = retry(DEMO_MANAGER, DEMO_MANAGER_PIN);
    assert_eq!(retried.code, Some(SUCCESS), "{retried:?}");
    assert!(retried.stdout.contains("sent again"), "{retried:?}");
    let waiting = h.run(&["--json", "outbox", "list"]);
    let message = &waiting.json()["messages"][0];
    assert_eq!(message["id"], id);
    assert_eq!(message["parked_reason"], Value::Null, "{waiting:?}");

    // The central still does not know the order: the next sync parks it again.
    assert!(h.run(&["sync"]).stdout.contains("1 parked"));
    let archive = |reason: &str| {
        let args = [
            "outbox",
            "archive",
            &id_arg,
            "--manager",
            DEMO_MANAGER,
            "--reason",
            reason,
        ];
        run(h.command(), &args, Some(DEMO_MANAGER_PIN))
    };
    assert_eq!(archive(" ").code, Some(USAGE));
    let archived = archive("test order, never imported");
    assert_eq!(archived.code, Some(SUCCESS), "{archived:?}");
    let parked = h.run(&["--json", "outbox", "list", "--parked"]);
    assert_eq!(parked.json()["messages"].as_array().unwrap().len(), 0);
    let all = h.run(&["--json", "outbox", "list", "--all"]);
    let kept = &all.json()["messages"][0];
    assert_eq!(kept["archived_by"], DEMO_MANAGER);
    assert_eq!(kept["archive_reason"], "test order, never imported");
    // Archived for good: a retry is refused (exit 4), and the journal still verifies.
    assert_eq!(retry(DEMO_MANAGER, DEMO_MANAGER_PIN).code, Some(CONFLICT));
    assert_eq!(h.run(&["journal", "verify"]).code, Some(SUCCESS));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_csv_export_has_every_attempt_with_its_evidence() {
    let h = Harness::start().await;
    assert_eq!(h.charge("demo-1001", "129.00 EUR").code, Some(SUCCESS));
    assert_eq!(h.charge("demo-3003", "9900 JPY").code, Some(REFUSED));
    let file = h.cli_dir.join("attempts.csv");
    let export = h.run(&["journal", "export", "--csv", file.to_str().unwrap()]);
    assert_eq!(export.code, Some(SUCCESS), "{export:?}");
    assert!(
        export.stdout.contains("exported 2 attempt(s)"),
        "{export:?}"
    );

    let text = std::fs::read_to_string(&file).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap(),
        "attempt_id,order_id,attempt_number,operator_id,terminal_id,amount,amount_minor,\
         currency,state,intent_id,claim_token,created_at,updated_at,reason,offline"
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 2);
    let paid = &rows[0];
    assert_eq!(paid[1], "demo-1001");
    assert_eq!(paid[2], "1");
    assert_eq!(paid[3], DEMO_OPERATOR);
    assert_eq!(paid[4], h.terminal.as_str());
    assert_eq!((paid[5], paid[6], paid[7]), ("129.00", "12900", "EUR"));
    assert_eq!(paid[8], "succeeded");
    assert!(paid[9].starts_with("pi_"), "{paid:?}");
    assert!(paid[11].ends_with('Z') && paid[12].ends_with('Z'));
    assert_eq!(paid[14], "false");
    let declined = &rows[1];
    assert_eq!(declined[1], "demo-3003");
    assert_eq!(
        (declined[5], declined[6], declined[7]),
        ("9900", "9900", "JPY")
    );
    assert_eq!(declined[8], "declined");
    assert_eq!(declined[13], "generic_decline");
    // The journal's attempt ids are the export's.
    let list = h.run(&["--json", "journal", "list"]).json();
    for attempt in list["attempts"].as_array().unwrap() {
        assert!(text.contains(attempt["id"].as_str().unwrap()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_and_missing_configuration_exit_64_with_a_next_step() {
    let h = Harness::start().await;
    let cases: &[(&[&str], &str)] = &[
        (
            &[
                "charge",
                "bad id!",
                "--operator",
                DEMO_OPERATOR,
                "--amount",
                "1.00 EUR",
            ],
            "order",
        ),
        (
            &[
                "charge",
                "demo-1001",
                "--operator",
                DEMO_OPERATOR,
                "--amount",
                "129,00 EUR",
            ],
            "--amount",
        ),
        (
            &[
                "charge",
                "demo-1001",
                "--operator",
                DEMO_OPERATOR,
                "--amount",
                "129.0 EUR",
            ],
            "--amount",
        ),
        (
            &[
                "charge",
                "demo-1001",
                "--operator",
                "",
                "--amount",
                "129.00 EUR",
            ],
            "--operator",
        ),
        (
            &["charge", "demo-1001", "--amount", "129.00 EUR"],
            "--operator",
        ),
        // No charge without a signed-in operator: the PIN comes on stdin, never as an argument.
        (
            &[
                "charge",
                "demo-1001",
                "--operator",
                DEMO_OPERATOR,
                "--amount",
                "129.00 EUR",
            ],
            "--pin-stdin",
        ),
        (&["show", "not-a-uuid"], "journal list"),
        (&["journal", "list", "--state", "paid"], "--state"),
        (&["journal", "list", "--from", "yesterday"], "RFC 3339"),
        (
            &[
                "journal",
                "totals",
                "--from",
                "2026-11-22",
                "--to",
                "2026-11-20",
            ],
            "before",
        ),
        (&["frobnicate"], "frobnicate"),
        (&[], "Usage"),
    ];
    for (args, says) in cases {
        let run = h.run(args);
        assert_eq!(run.code, Some(USAGE), "{args:?}: {run:?}");
        assert!(
            run.stderr.contains(says),
            "{args:?} should mention {says}: {run:?}"
        );
    }

    // No central configured at all: the message says how to configure one.
    let mut bare = common::paydesk();
    bare.env("PAYDESK_DATA_DIR", h.cli_dir.join("empty"));
    let run = run_cmd(bare, &["queue"]);
    assert_eq!(run.code, Some(USAGE), "{run:?}");
    assert!(run.stderr.contains("PAYDESK_CENTRAL_URL"), "{run:?}");

    // No token anywhere: without a keyring it says so, with one it says how to provision; both
    // name the automation override.
    let mut tokenless = h.command();
    tokenless.env_remove("PAYDESK_TERMINAL_TOKEN");
    let run = run_cmd(tokenless, &["queue"]);
    assert!(matches!(run.code, Some(1) | Some(USAGE)), "{run:?}");
    assert!(run.stderr.contains("PAYDESK_TERMINAL_TOKEN"), "{run:?}");

    // A journal command with no journal yet.
    let run = h.run(&["journal", "verify"]);
    assert_eq!(run.code, Some(USAGE), "{run:?}");
    assert!(run.stderr.contains("no journal"), "{run:?}");
}

fn run_cmd(cmd: Command, args: &[&str]) -> Run {
    run(cmd, args, None)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_after_confirm_sent_is_finished_by_recover_with_one_charge() {
    let h = Harness::start().await;
    let mut crashing = h.command();
    crashing.env("PAYDESK_CRASH_AT", "after_confirm_sent");
    let crashed = run(
        crashing,
        &charge_args("demo-2002", "120.00 USD"),
        Some(&pin_line()),
    );
    assert_eq!(
        crashed.code, None,
        "the child aborts (killed by SIGABRT): {crashed:?}"
    );
    assert!(
        crashed.stderr.contains("crash point after_confirm_sent"),
        "{crashed:?}"
    );
    assert_eq!(ledger_successes(&h.gateway_url, "demo-2002").await, 0);

    let pending = h
        .run(&["--json", "journal", "list", "--order", "demo-2002"])
        .json();
    assert_eq!(pending["attempts"][0]["state"], "confirm_sent");

    let recovered = h.run(&["recover"]);
    assert_eq!(recovered.code, Some(SUCCESS), "{recovered:?}");
    assert!(
        recovered.stdout.contains("1 examined, 1 finished"),
        "{recovered:?}"
    );
    let done = h
        .run(&["--json", "journal", "list", "--order", "demo-2002"])
        .json();
    assert_eq!(done["attempts"].as_array().unwrap().len(), 1);
    assert_eq!(done["attempts"][0]["state"], "succeeded");
    assert_eq!(ledger_successes(&h.gateway_url, "demo-2002").await, 1);
    assert_eq!(h.order("demo-2002").await.order.status, OrderStatus::Paid);

    // A second pass has nothing left to do and charges nothing.
    let again = h.run(&["recover"]);
    assert!(again.stdout.contains("0 examined"), "{again:?}");
    assert_eq!(ledger_successes(&h.gateway_url, "demo-2002").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_and_queue_work_offline_from_their_caches() {
    let mut h = Harness::start().await;
    let ok = run(
        h.command(),
        &["sign-in", "--operator", DEMO_OPERATOR],
        Some(&pin_line()),
    );
    assert_eq!(ok.code, Some(SUCCESS), "{ok:?}");
    assert!(
        ok.stdout.contains("signed in: demo-operator (operator)"),
        "{ok:?}"
    );
    let wrong = run(
        h.command(),
        &["sign-in", "--operator", DEMO_OPERATOR],
        Some("654321\n"),
    );
    assert_eq!(wrong.code, Some(REFUSED), "{wrong:?}");
    let unknown = run(
        h.command(),
        &["sign-in", "--operator", "nobody"],
        Some(&pin_line()),
    );
    assert_eq!(unknown.code, Some(REFUSED), "{unknown:?}");
    assert_eq!(wrong.stdout, unknown.stdout, "no hint which ids exist");
    // The manager signs in online only: no offline verifier is kept for them.
    let (sign_in_mgr, mgr_pin) = (
        ["sign-in", "--operator", DEMO_MANAGER],
        format!("{}\n", paydesk_stack::DEMO_MANAGER_PIN),
    );
    let mgr = run(h.command(), &sign_in_mgr, Some(&mgr_pin));
    assert_eq!(mgr.code, Some(SUCCESS), "{mgr:?}");
    let badpin = run(
        h.command(),
        &["sign-in", "--operator", DEMO_OPERATOR],
        Some("12\n"),
    );
    assert_eq!(badpin.code, Some(USAGE), "{badpin:?}");
    assert_eq!(h.run(&["queue"]).code, Some(SUCCESS));

    h.shutdown().await;
    let offline = run(
        h.command(),
        &["sign-in", "--operator", DEMO_OPERATOR],
        Some(&pin_line()),
    );
    assert_eq!(offline.code, Some(SUCCESS), "{offline:?}");
    assert!(offline.stdout.contains("offline"), "{offline:?}");
    // Never a manager offline.
    let mgr = run(h.command(), &sign_in_mgr, Some(&mgr_pin));
    assert_eq!(mgr.code, Some(UNREACHABLE), "{mgr:?}");
    assert!(mgr.stderr.contains("not managers"), "{mgr:?}");
    let queue = h.run(&["--json", "queue"]);
    assert_eq!(queue.code, Some(UNREACHABLE), "{queue:?}");
    assert_eq!(queue.json()["offline"], true);
    // The twenty demo orders and the embedded stack's four PayPal ones.
    assert_eq!(queue.json()["orders"].as_array().unwrap().len(), 24);
    let charge = h.charge("demo-1001", "129.00 EUR");
    assert_eq!(charge.code, Some(UNREACHABLE), "{charge:?}");
    assert!(charge.stderr.contains("nothing was charged"), "{charge:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_wait_in_the_journal_while_the_central_is_down_and_sync_delivers_them() {
    let mut h = Harness::start().await;
    // The result is committed, then the process dies before the relay runs.
    let mut crashing = h.command();
    crashing.env("PAYDESK_CRASH_AT", "after_result");
    let crashed = run(
        crashing,
        &charge_args("demo-1006", "73.00 EUR"),
        Some(&pin_line()),
    );
    assert_eq!(crashed.code, None, "{crashed:?}");
    assert_eq!(h.order("demo-1006").await.order.status, OrderStatus::Unpaid);

    h.shutdown().await;
    for _ in 0..2 {
        let down = h.run(&["--json", "sync"]);
        assert_eq!(down.code, Some(UNREACHABLE), "{down:?}");
        let report = &down.json()["sync"];
        assert_eq!(report["waiting"], 1, "{down:?}");
        assert!(report["unreachable"].is_string(), "{down:?}");
    }

    h.restart().await;
    let back = h.run(&["sync"]);
    assert_eq!(back.code, Some(SUCCESS), "{back:?}");
    assert!(
        back.stdout.contains("1 delivered, 0 parked, 0 waiting"),
        "{back:?}"
    );
    let detail = h.order("demo-1006").await;
    // The restarted sandbox still knows the intent (its state is in the stack's data directory,
    // issue 15), so the central verifies the success at the gateway and the order is paid.
    assert_eq!(detail.order.status, OrderStatus::Paid);
    assert_eq!(detail.results.len(), 1);
    let again = h.run(&["sync"]);
    assert!(
        again.stdout.contains("0 delivered, 0 parked, 0 waiting"),
        "{again:?}"
    );
}

async fn add_fault(gateway_url: &str, spec: &str) {
    let response = reqwest::Client::new()
        .post(format!("{gateway_url}/admin/faults"))
        .json(&serde_json::json!({ "spec": spec }))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{spec}: {response:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_outcome_exits_3_and_recover_settles_it_without_a_second_charge() {
    let h = Harness::start().await;
    // The confirm executes, then the gateway answers 500 (replayed for the same key), and the
    // lookups fail too: the outcome stays unknown for this run.
    add_fault(&h.gateway_url, "confirm:http_500_after_execute:1").await;
    add_fault(&h.gateway_url, "retrieve:http_500:20").await;
    let unknown = h.charge("demo-1007", "1500.00 EUR");
    assert_eq!(unknown.code, Some(PENDING), "{unknown:?}");
    assert!(unknown.stdout.contains("do not charge"), "{unknown:?}");
    assert_eq!(
        ledger_successes(&h.gateway_url, "demo-1007").await,
        1,
        "it did go through"
    );

    // The gateway answers again: one recovery pass learns the truth from it.
    let cleared = reqwest::Client::new()
        .delete(format!("{}/admin/faults", h.gateway_url))
        .send()
        .await
        .unwrap();
    assert!(cleared.status().is_success());
    let recovered = h.run(&["recover"]);
    assert_eq!(recovered.code, Some(SUCCESS), "{recovered:?}");
    let list = h
        .run(&["--json", "journal", "list", "--order", "demo-1007"])
        .json();
    assert_eq!(list["attempts"].as_array().unwrap().len(), 1);
    assert_eq!(list["attempts"][0]["state"], "succeeded");
    assert_eq!(ledger_successes(&h.gateway_url, "demo-1007").await, 1);
    assert_eq!(h.order("demo-1007").await.order.status, OrderStatus::Paid);
}

//! What `paydesk` prints, as an operator or a script meets it (issue 15, points 7–9): no log
//! lines or colours in piped output (logs go to `paydesk.log`, or to stderr with `-v`), a
//! "still waiting" line while the gateway is slow, the journal in words, totals whose columns
//! add up over whole days, the CSV on stdout or a plain refusal, and `--json` documents that are
//! one document with `exit_code` and RFC 3339 times — usage errors included.
//!
//! The real binary as a child process against the embedded stack in this test process; secrets
//! through `PAYDESK_TERMINAL_TOKEN` / `PAYDESK_GATEWAY_KEY`.

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

use paydesk_stack::{Stack, StackConfig, DEMO_OPERATOR, DEMO_OPERATOR_PIN};
use paydesk_terminal::{MemorySecretStore, SecretStore, GATEWAY_API_KEY, TERMINAL_TOKEN};
use serde_json::Value;

use common::{run_with_stdin, Run, REFUSED, SUCCESS, UNREACHABLE, USAGE};

struct Harness {
    stack: Option<Stack>,
    cli_dir: PathBuf,
    central_url: String,
    gateway_url: String,
    terminal: String,
    token: String,
    gateway_key: String,
    _dir: tempfile::TempDir,
}

impl Harness {
    async fn start() -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let secrets = Arc::new(MemorySecretStore::new());
        let mut config = StackConfig::new(dir.path().join("stack"), secrets.clone());
        config.sandbox_admin = paydesk_stack::SandboxAdmin::LoopbackOnly;
        let stack = paydesk_stack::start(config).await.unwrap();
        let token = secrets.get(TERMINAL_TOKEN).unwrap().unwrap();
        let key = secrets.get(GATEWAY_API_KEY).unwrap().unwrap();
        let cli_dir = dir.path().join("cli");
        std::fs::create_dir_all(&cli_dir).unwrap();
        Harness {
            central_url: stack.central_url.clone(),
            gateway_url: stack.gateway_url.clone(),
            terminal: stack.terminal.to_string(),
            token: token.expose().to_string(),
            gateway_key: key.expose().to_string(),
            stack: Some(stack),
            cli_dir,
            _dir: dir,
        }
    }

    fn command(&self) -> Command {
        let mut cmd = common::paydesk();
        cmd.env_remove("RUST_LOG")
            .env("PAYDESK_DATA_DIR", &self.cli_dir)
            .env("PAYDESK_CENTRAL_URL", &self.central_url)
            .env("PAYDESK_GATEWAY_URL", &self.gateway_url)
            .env("PAYDESK_TERMINAL", &self.terminal)
            .env("PAYDESK_TERMINAL_TOKEN", &self.token)
            .env("PAYDESK_GATEWAY_KEY", &self.gateway_key);
        cmd
    }

    fn run(&self, args: &[&str]) -> Run {
        run(self.command(), args, None)
    }

    fn charge(&self, extra: &[&str], order: &str, amount: &str) -> Run {
        let mut args = extra.to_vec();
        args.extend([
            "charge",
            order,
            "--operator",
            DEMO_OPERATOR,
            "--amount",
            amount,
            "--pin-stdin",
        ]);
        run(
            self.command(),
            &args,
            Some(&format!("{DEMO_OPERATOR_PIN}\n")),
        )
    }

    async fn add_fault(&self, spec: &str) {
        let response = reqwest::Client::new()
            .post(format!("{}/admin/faults", self.gateway_url))
            .json(&serde_json::json!({ "spec": spec }))
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "{spec}: {response:?}");
    }

    async fn stop_stack(&mut self) {
        if let Some(stack) = self.stack.take() {
            stack.shutdown().await;
        }
    }
}

/// `cmd ARGS`, with `stdin` (if any) on its standard input, which is closed either way.
fn run(cmd: Command, args: &[&str], stdin: Option<&str>) -> Run {
    run_with_stdin(cmd, args, stdin.unwrap_or(""))
}

/// Output an operator reads: no escape codes, no log records, no Rust debug forms.
fn assert_plain(run: &Run) {
    for (name, text) in [("stdout", &run.stdout), ("stderr", &run.stderr)] {
        assert!(!text.contains('\u{1b}'), "ANSI escape on {name}: {run:?}");
        for leak in [" WARN ", " INFO ", "Some(", "os error"] {
            assert!(!text.contains(leak), "{leak:?} on {name}: {run:?}");
        }
    }
}

fn is_rfc3339(value: &Value) -> bool {
    value
        .as_str()
        .is_some_and(|t| chrono::DateTime::parse_from_rfc3339(t).is_ok())
}

/// The UTC day `days_ago` days before now, `YYYY-MM-DD`.
fn utc_day(days_ago: i64) -> String {
    let now = paydesk_engine::Clock::now(&paydesk_engine::SystemClock);
    now.plus_ms(-days_ago * 86_400_000).utc_day()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_go_to_a_private_file_not_the_operators_terminal_and_to_stderr_at_v() {
    let mut h = Harness::start().await;
    // A gateway that asks once to retry later makes the gateway client log a warning.
    h.add_fault("confirm:http_429:1").await;
    let paid = h.charge(&[], "demo-1001", "129.00 EUR");
    assert_eq!(paid.code, Some(SUCCESS), "{paid:?}");
    assert_plain(&paid);
    let log = h.cli_dir.join("paydesk.log");
    let logged = std::fs::read_to_string(&log).expect("the warning went to paydesk.log");
    assert!(logged.contains("WARN"), "{logged}");
    assert!(
        !logged.contains('\u{1b}'),
        "no colours in the log file: {logged}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&log).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the log is the operator's alone");
    }

    // With -v the same kind of record comes on stderr, still without colours in a pipe.
    h.add_fault("confirm:http_429:1").await;
    let verbose = h.charge(&["-v"], "demo-1002", "45.50 EUR");
    assert_eq!(verbose.code, Some(SUCCESS), "{verbose:?}");
    assert!(verbose.stderr.contains("WARN"), "{verbose:?}");
    assert!(!verbose.stderr.contains('\u{1b}'), "{verbose:?}");
    assert!(!verbose.stdout.contains("WARN"), "{verbose:?}");

    // The central gone: the operator reads words, not log records or OS error numbers.
    h.stop_stack().await;
    let queue = h.run(&["queue"]);
    assert_eq!(queue.code, Some(UNREACHABLE), "{queue:?}");
    assert_plain(&queue);
    let charge = h.charge(&[], "demo-1003", "890.00 EUR");
    assert_eq!(charge.code, Some(UNREACHABLE), "{charge:?}");
    assert_plain(&charge);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_gateway_is_announced_and_steps_read_in_the_operators_words() {
    let h = Harness::start().await;
    h.add_fault("confirm:latency=6500:1").await;
    let paid = h.charge(&[], "demo-1001", "129.00 EUR");
    assert_eq!(paid.code, Some(SUCCESS), "{paid:?}");
    assert_plain(&paid);
    assert!(
        paid.stderr.contains("still waiting for the gateway (5 s)"),
        "{paid:?}"
    );
    assert!(paid.stdout.contains("charging the card"), "{paid:?}");
    assert!(
        !paid.stdout.contains("register_answered") && !paid.stdout.contains("->"),
        "no engine event names in the progress: {paid:?}"
    );
    // With --json the notice is a JSON line on stderr, and stdout stays one document.
    h.add_fault("confirm:latency=6500:1").await;
    let scripted = h.charge(&["--json"], "demo-1002", "45.50 EUR");
    assert_eq!(scripted.code, Some(SUCCESS), "{scripted:?}");
    assert_eq!(scripted.json()["outcome"], "succeeded");
    let notice = scripted
        .stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| !v["still_waiting"].is_null())
        .unwrap_or_else(|| panic!("a still_waiting line: {scripted:?}"));
    assert_eq!(notice["still_waiting"]["for"], "the gateway", "{notice}");
    assert_eq!(notice["still_waiting"]["seconds"], 5, "{notice}");

    let id = h
        .run(&["--json", "journal", "list", "--order", "demo-1001"])
        .json()["attempts"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let shown = h.run(&["journal", "show", &id]);
    assert_eq!(shown.code, Some(SUCCESS), "{shown:?}");
    assert!(shown.stdout.contains("the card was charged"), "{shown:?}");
    assert!(shown.stdout.contains("the central registered the payment"));
    assert!(
        !shown.stdout.contains('{') && !shown.stdout.contains("effects"),
        "no JSON in the human timeline: {shown:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_documents_carry_exit_code_and_rfc3339_times_usage_errors_included() {
    let h = Harness::start().await;
    let paid = h.charge(&["--json"], "demo-1001", "129.00 EUR");
    assert_eq!(paid.code, Some(SUCCESS), "{paid:?}");
    let doc = paid.json();
    assert_eq!(doc["exit_code"], 0);
    assert!(is_rfc3339(&doc["attempt"]["created_at"]), "{doc}");
    assert!(is_rfc3339(&doc["attempt"]["confirm_sent_at"]), "{doc}");
    let id = doc["attempt"]["id"].as_str().unwrap().to_string();

    let list = h.run(&["--json", "journal", "list"]).json();
    assert_eq!(list["exit_code"], 0, "{list}");
    assert!(is_rfc3339(&list["attempts"][0]["updated_at"]), "{list}");
    let shown = h.run(&["--json", "journal", "show", &id]).json();
    assert_eq!(shown["exit_code"], 0, "{shown}");
    for event in shown["timeline"].as_array().unwrap() {
        assert!(is_rfc3339(&event["at"]), "{event}");
    }
    let totals = h.run(&["--json", "journal", "totals"]).json();
    assert_eq!(totals["exit_code"], 0, "{totals}");
    assert!(
        is_rfc3339(&totals["from"]) && is_rfc3339(&totals["to"]),
        "{totals}"
    );
    for args in [
        &["--json", "journal", "verify"][..],
        &["--json", "offline", "show"],
        &["--json", "queue"],
        &["--json", "sync"],
    ] {
        let run = h.run(args);
        assert_eq!(run.code, Some(SUCCESS), "{args:?}: {run:?}");
        assert_eq!(run.json()["exit_code"], 0, "{args:?}: {run:?}");
    }

    // Usage errors found by the argument parser are one JSON document too.
    for args in [
        &["--json", "charge", "demo-1001"][..],
        &["--json", "frobnicate"],
        &["journal", "totals", "--json", "--from"],
    ] {
        let usage = h.run(args);
        assert_eq!(usage.code, Some(USAGE), "{args:?}: {usage:?}");
        let doc = usage.json();
        assert_eq!(doc["exit_code"], USAGE, "{doc}");
        assert_eq!(doc["error"]["kind"], "usage", "{doc}");
        assert!(
            doc["error"]["message"].as_str().unwrap().len() > 10,
            "{doc}"
        );
    }
    // And errors a command finds.
    let bad_day = h.run(&["--json", "journal", "totals", "--from", "yesterday"]);
    assert_eq!(bad_day.code, Some(USAGE), "{bad_day:?}");
    assert_eq!(bad_day.json()["exit_code"], USAGE);
    assert!(bad_day.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("RFC 3339"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn totals_cover_whole_days_and_their_columns_add_up() {
    let h = Harness::start().await;
    assert_eq!(h.charge(&[], "demo-1001", "129.00 EUR").code, Some(SUCCESS));
    let declined = h.charge(&[], "demo-1004", "19.99 EUR");
    assert_eq!(declined.code, Some(REFUSED), "{declined:?}");
    let three_d = h.charge(&["--json"], "demo-1005", "250.00 EUR");
    assert_eq!(three_d.code, Some(REFUSED), "{three_d:?}");
    assert_eq!(three_d.json()["outcome"], "requires_action", "{three_d:?}");

    let day = utc_day(0);
    // A date given to --to includes that day.
    let same_day = h.run(&["--json", "journal", "totals", "--from", &day, "--to", &day]);
    assert_eq!(same_day.code, Some(SUCCESS), "{same_day:?}");
    let doc = same_day.json();
    let row = &doc["totals"][0];
    assert_eq!(row["attempts"], 3, "{doc}");
    assert_eq!(row["requires_action"], 1, "{doc}");
    let parts: i64 = [
        "succeeded",
        "declined",
        "requires_action",
        "canceled",
        "unresolved",
    ]
    .iter()
    .map(|k| row[k].as_i64().unwrap())
    .sum();
    assert_eq!(parts, 3, "the columns add up to the attempts: {doc}");

    // --to alone is that day, not "before --from".
    let to_only = h.run(&["--json", "journal", "totals", "--to", &day]);
    assert_eq!(to_only.code, Some(SUCCESS), "{to_only:?}");
    assert_eq!(to_only.json()["totals"][0]["attempts"], 3);
    let yesterday = utc_day(1);
    let earlier = h.run(&["journal", "totals", "--to", &yesterday]);
    assert_eq!(earlier.code, Some(SUCCESS), "{earlier:?}");
    assert!(earlier.stdout.contains("no attempts from"), "{earlier:?}");

    let human = h.run(&["journal", "totals", "--from", &day, "--to", &day]);
    assert!(human.stdout.contains("requires action"), "{human:?}");
    assert!(human.stdout.contains("(not included)"), "{human:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_csv_goes_to_stdout_with_a_dash_and_a_bad_path_is_refused_plainly() {
    let h = Harness::start().await;
    assert_eq!(h.charge(&[], "demo-1001", "129.00 EUR").code, Some(SUCCESS));
    let to_stdout = h.run(&["journal", "export", "--csv", "-"]);
    assert_eq!(to_stdout.code, Some(SUCCESS), "{to_stdout:?}");
    assert!(
        to_stdout.stdout.starts_with("attempt_id,order_id,"),
        "{to_stdout:?}"
    );
    assert!(to_stdout.stdout.contains("demo-1001"), "{to_stdout:?}");
    assert!(!h.cli_dir.join("-").exists(), "no file named '-'");
    assert!(
        !std::env::current_dir().unwrap().join("-").exists(),
        "no file named '-'"
    );

    let missing = h.run(&["journal", "export", "--csv", "/nonexistent/dir/out.csv"]);
    assert_eq!(missing.code, Some(USAGE), "{missing:?}");
    assert!(
        missing
            .stderr
            .contains("/nonexistent/dir/out.csv: its directory does not exist"),
        "{missing:?}"
    );
    assert_plain(&missing);
    let as_json = h.run(&[
        "--json",
        "journal",
        "export",
        "--csv",
        "/nonexistent/dir/out.csv",
    ]);
    assert_eq!(as_json.code, Some(USAGE), "{as_json:?}");
    assert_eq!(as_json.json()["exit_code"], USAGE);
}

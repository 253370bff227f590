//! Reading the journal beside the process that charges from it (issue 15): the real `paydesk`
//! binary charges (and holds the journal's writer lock) while other `paydesk` processes list,
//! show, verify, total and export that journal; a second writer is refused and told who holds the
//! lock. And the default data directory: the command line finds the journal in the one default
//! folder the desktop uses too.
//!
//! The stack (central on SQLite + sandbox gateway) runs in this test process; the sandbox's
//! `latency` fault holds the charge at the gateway's confirm long enough to read beside it.

mod common;

use std::io::Write as _;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::Duration;

use paydesk_stack::{DEMO_OPERATOR, DEMO_OPERATOR_PIN};
use serde_json::Value;

use common::{paydesk, run_no_stdin as run, Desk as Harness, OTHER, SUCCESS, USAGE};

/// How long the sandbox holds the confirm: ample time for the reads below, far below the
/// connector's 30 s request timeout.
const CONFIRM_LATENCY_MS: u64 = 8_000;

/// The embedded stack with the sandbox's admin routes open on loopback (to arm faults).
async fn start_harness() -> Harness {
    Harness::start_with(|config| {
        config.sandbox_admin = paydesk_stack::SandboxAdmin::LoopbackOnly;
    })
    .await
}

impl Harness {
    /// `paydesk charge` as the demo operator, started and left running.
    fn start_charge(&self, order: &str, amount: &str) -> Child {
        let mut child = self
            .command()
            .args([
                "charge",
                order,
                "--operator",
                DEMO_OPERATOR,
                "--amount",
                amount,
                "--pin-stdin",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the paydesk binary starts");
        let mut stdin = child.stdin.take().unwrap();
        stdin
            .write_all(format!("{DEMO_OPERATOR_PIN}\n").as_bytes())
            .unwrap();
        child
    }

    async fn add_fault(&self, spec: &str) {
        let response = reqwest::Client::new()
            .post(format!("{}/admin/faults", self.stack.gateway_url))
            .json(&serde_json::json!({ "spec": spec }))
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "{spec}: {response:?}");
    }
}

/// The attempts of `order` as `paydesk --json journal list` shows them; the listing must succeed.
fn listed(h: &Harness, order: &str) -> Vec<Value> {
    let list = h.run_without_stdin(&["--json", "journal", "list", "--order", order]);
    assert_eq!(list.code, Some(SUCCESS), "journal list: {list:?}");
    list.json()["attempts"].as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_journal_is_read_from_other_processes_while_a_charge_runs() {
    let h = start_harness().await;
    h.add_fault(&format!("confirm:latency={CONFIRM_LATENCY_MS}:1"))
        .await;
    let mut charge = h.start_charge("demo-1001", "129.00 EUR");

    // Read while the charge runs, until its confirm is on its way to the gateway (recorded in the
    // journal before it is sent): once the charge has created the journal, every listing
    // succeeds, before and after the attempt begins.
    let mut reads = 0;
    let mut journal_seen = false;
    let attempt = loop {
        reads += 1;
        assert!(reads < 200, "the charge never reached confirm_sent");
        let list = h.run_without_stdin(&["--json", "journal", "list", "--order", "demo-1001"]);
        if !journal_seen && list.code == Some(USAGE) && list.stderr.contains("no journal at") {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        }
        journal_seen = true;
        assert_eq!(list.code, Some(SUCCESS), "journal list: {list:?}");
        let attempts = list.json()["attempts"].as_array().unwrap().clone();
        if let Some(a) = attempts.iter().find(|a| a["state"] == "confirm_sent") {
            break a.clone();
        }
        assert!(
            charge.try_wait().unwrap().is_none(),
            "the charge ended before its confirm was seen: {attempts:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let id = attempt["id"].as_str().unwrap().to_string();

    // The charge holds the journal's writer lock and waits at the gateway. Every read command
    // works beside it.
    let show = h.run_without_stdin(&["--json", "journal", "show", &id]);
    assert_eq!(show.code, Some(SUCCESS), "{show:?}");
    assert_eq!(show.json()["attempt"]["state"], "confirm_sent");
    let show_top = h.run_without_stdin(&["show", &id]);
    assert_eq!(show_top.code, Some(SUCCESS), "{show_top:?}");
    let verify = h.run_without_stdin(&["--json", "journal", "verify"]);
    assert_eq!(verify.code, Some(SUCCESS), "{verify:?}");
    assert_eq!(verify.json()["intact"], true, "{verify:?}");
    let totals = h.run_without_stdin(&["journal", "totals"]);
    assert_eq!(totals.code, Some(SUCCESS), "{totals:?}");
    let outbox = h.run_without_stdin(&["outbox", "list"]);
    assert_eq!(outbox.code, Some(SUCCESS), "{outbox:?}");
    let csv = h.cli_dir.join("during.csv");
    let export = h.run_without_stdin(&["journal", "export", "--csv", csv.to_str().unwrap()]);
    assert_eq!(export.code, Some(SUCCESS), "{export:?}");
    assert!(std::fs::read_to_string(&csv).unwrap().contains(&id));

    // A second writer is refused, and told which process charges.
    let recover = h.run_without_stdin(&["recover"]);
    assert_eq!(recover.code, Some(OTHER), "{recover:?}");
    assert!(
        recover.stderr.contains("already open for charging")
            && recover
                .stderr
                .contains(&format!("process {} (paydesk)", charge.id())),
        "{recover:?}"
    );
    assert!(
        charge.try_wait().unwrap().is_none(),
        "every read above ran while the charge was still running"
    );

    // The charge finishes undisturbed, and the next read sees its result.
    let out = charge.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(SUCCESS),
        "charge: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let after = listed(&h, "demo-1001");
    assert_eq!(after.len(), 1, "{after:?}");
    assert_eq!(after[0]["state"], "succeeded");
    assert_eq!(after[0]["id"], id.as_str());
}

/// With no `PAYDESK_DATA_DIR`, the command line reads the journal in the OS data folder +
/// `paydesk` — the desktop's default too — and says where it looked when there is none yet.
#[test]
fn the_default_data_directory_is_the_os_data_folder_plus_paydesk() {
    let home = tempfile::tempdir().unwrap();
    let data = home.path().join("data");
    let default_command = || {
        let mut cmd = paydesk();
        cmd.env("HOME", home.path()).env("XDG_DATA_HOME", &data);
        cmd
    };
    let expected = data.join("paydesk").join("journal.sqlite");

    let missing = run(default_command(), &["journal", "list"]);
    assert_eq!(missing.code, Some(USAGE), "{missing:?}");
    assert!(
        missing
            .stderr
            .contains(&format!("no journal at {}", expected.display())),
        "{missing:?}"
    );
    assert!(!expected.exists(), "reading never creates the journal");

    create_journal(&expected);
    let list = run(default_command(), &["--json", "journal", "list"]);
    assert_eq!(list.code, Some(SUCCESS), "{list:?}");
    assert_eq!(list.json()["attempts"], serde_json::json!([]));
    // The same lookup the desktop makes.
    assert_eq!(
        paydesk_terminal::TerminalSettings::default_data_dir().map(|d| d.ends_with("paydesk")),
        Some(true)
    );
}

/// An empty journal, as the first charge leaves it (created by the writer, closed again).
fn create_journal(path: &Path) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    drop(paydesk_journal::Journal::open(path).unwrap());
}

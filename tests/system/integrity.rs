//! A tampered journal stops recovery and sync (issue 9, finding 3; I8): a terminal dies after
//! registering its intent (recovery would confirm it), someone edits the journal with a SQLite
//! client, and `paydesk recover` and `paydesk sync` exit 6 ("journal broken") without sending
//! anything — the gateway's ledger and the order at the central are exactly as before.

use std::path::Path;

use serde_json::Value;

use crate::harness::{Env, EnvOptions, OrderSpec, Run, Terminal};

/// `paydesk`'s exit code for a journal that failed verification.
const JOURNAL_BROKEN: i32 = 6;

/// Runs `sql` on the closed journal file, as someone with a sqlite3 shell would.
fn edit_journal(journal: &Path, sql: &str) {
    use sqlx::Connection as _;
    let url = format!("sqlite://{}", journal.display());
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
        .block_on(async {
            let mut conn = sqlx::SqliteConnection::connect(&url)
                .await
                .expect("the journal opens in plain SQLite");
            let done = sqlx::query(sql)
                .execute(&mut conn)
                .await
                .expect("the edit runs");
            assert_eq!(done.rows_affected(), 1, "{sql}");
            conn.close().await.expect("the journal closes");
        });
}

/// What the gateway has seen of `order`: its intents, and every idempotency key used.
fn gateway_view(env: &Env, order: &str) -> (Vec<Value>, Value) {
    let ledger = env.ledger();
    let intents = ledger["intents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["metadata"]["order_id"] == order)
        .cloned()
        .collect();
    (intents, ledger["idempotency_keys"].clone())
}

fn stopped_and_said_why(run: &Run, what: &str) {
    assert_eq!(run.code(), Some(JOURNAL_BROKEN), "{what}: {run:?}");
    assert!(
        format!("{run:?}").contains("failed verification"),
        "{what}: {run:?}"
    );
}

#[test]
fn recover_and_sync_on_a_tampered_journal_exit_6_and_send_nothing() {
    let env = Env::start(EnvOptions::default());
    let terminal = env.terminal("integrity-1");
    let order = OrderSpec::new("int-1", 2_500, "pm_card_visa");
    env.add_orders(std::slice::from_ref(&order));
    let args = Terminal::charge_args(&order);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let crashed = terminal.run_crashing(&args, "after_register");
    assert!(crashed.code().is_none(), "the charge must die: {crashed:?}");
    let attempt = terminal.attempts()[0]["id"].as_str().unwrap().to_string();

    // The intent was registered and never confirmed; someone flips the attempt to "offline",
    // which would let recovery confirm it without the central's fenced registration.
    edit_journal(
        &terminal.data_dir.join("journal.sqlite"),
        &format!("UPDATE attempts SET offline = 1 WHERE id = '{attempt}'"),
    );
    let before = gateway_view(&env, &order.id);
    assert_eq!(before.0.len(), 1, "one intent, created: {before:?}");
    assert_eq!(before.0[0]["status"], "requires_confirmation", "{before:?}");
    let order_before = env.order(&order.id);

    let recovered = terminal.recover();
    stopped_and_said_why(&recovered, "recover");
    let synced = terminal.sync();
    stopped_and_said_why(&synced, "sync");
    let verified = terminal.run(&["--json", "journal", "verify"]);
    assert_eq!(verified.code(), Some(JOURNAL_BROKEN), "{verified:?}");
    assert_eq!(
        verified.json()["report"]["broken"]["attempt_id"],
        attempt.as_str(),
        "{verified:?}"
    );

    assert_eq!(
        gateway_view(&env, &order.id),
        before,
        "nothing reached the gateway"
    );
    assert_eq!(
        env.order(&order.id),
        order_before,
        "nothing reached the central"
    );
}

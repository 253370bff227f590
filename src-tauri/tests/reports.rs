//! The manager's report commands (issue 11, items 4–7) through Tauri's mock runtime, against the
//! real embedded default (central on SQLite + sandbox gateway on loopback) in a temp directory:
//! the day close beside the journal and its sign-off with the PIN, the audit log, the journal
//! review's search and its CSV export written by the shell, the outbox, and granting and
//! withdrawing the offline allowance, and the settings (threshold, limits) with the PIN again. An
//! operator is refused each manager command.
//!
//! Deliberately absent: the real webview and the save dialog (tests/e2e_reports.rs).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use paydesk_desktop::{configure_with, Launch};
use paydesk_terminal::MemorySecretStore;
use serde_json::{json, Value};
use tauri::test::{get_ipc_response, mock_builder, mock_context, noop_assets, MockRuntime};
use tauri::webview::InvokeRequest;
use tauri::{App, Manager, WebviewWindow, WebviewWindowBuilder};

/// Start-up of the embedded default on a busy machine (argon2 hashes two demo PINs).
const READY_MS_MAX: u64 = 60_000;

fn mock_app(dir: &Path) -> (App<MockRuntime>, WebviewWindow<MockRuntime>) {
    let launch = Launch::embedded(dir.to_path_buf(), Arc::new(MemorySecretStore::new()));
    let mut app = configure_with(mock_builder(), launch)
        .build(mock_context(noop_assets()))
        .unwrap();
    #[allow(deprecated)]
    app.run_iteration(|_, _| {});
    let window = app.get_webview_window("main").unwrap_or_else(|| {
        WebviewWindowBuilder::new(&app, "main", Default::default())
            .build()
            .unwrap()
    });
    (app, window)
}

/// Sends `cmd` with `args` as the page would; `Err` carries the rejected call's JSON.
fn invoke(window: &WebviewWindow<MockRuntime>, cmd: &str, args: Value) -> Result<Value, Value> {
    let request = InvokeRequest {
        cmd: cmd.into(),
        callback: tauri::ipc::CallbackFn(0),
        error: tauri::ipc::CallbackFn(1),
        url: "tauri://localhost".parse().unwrap(),
        body: tauri::ipc::InvokeBody::Json(args),
        headers: Default::default(),
        invoke_key: tauri::test::INVOKE_KEY.to_string(),
    };
    get_ipc_response(window, request).map(|body| body.deserialize::<Value>().unwrap())
}

fn ok(window: &WebviewWindow<MockRuntime>, cmd: &str, args: Value) -> Value {
    invoke(window, cmd, args).unwrap_or_else(|e| panic!("{cmd} failed: {e}"))
}

fn refused(window: &WebviewWindow<MockRuntime>, cmd: &str, args: Value) -> Value {
    let e = invoke(window, cmd, args).expect_err(cmd);
    assert!(
        !e["message"].as_str().unwrap_or_default().is_empty()
            && !e["next_step"].as_str().unwrap_or_default().is_empty(),
        "{cmd}: every error says what happened and what to do: {e}"
    );
    e
}

fn wait_until_ready(window: &WebviewWindow<MockRuntime>) -> Value {
    let deadline = Instant::now() + Duration::from_millis(READY_MS_MAX);
    loop {
        let status = ok(window, "status", json!({}));
        if status["phase"] == "ready" {
            return status;
        }
        assert!(Instant::now() < deadline, "not ready: {status}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn sign_in(window: &WebviewWindow<MockRuntime>, who: &str, pin: &str) {
    ok(window, "sign_in", json!({"operator": who, "pin": pin}));
}

/// Charges `order` at the amount the queue shows.
fn charge(window: &WebviewWindow<MockRuntime>, order: &str) -> Value {
    let queue = ok(window, "queue", json!({}));
    let amount = queue["orders"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["order_id"] == order)
        .unwrap_or_else(|| panic!("{order} not in the queue: {queue}"))["amount"]
        .clone();
    ok(
        window,
        "charge",
        json!({"orderId": order, "expectedAmount": amount}),
    )
}

#[test]
fn a_manager_closes_the_day_reviews_exports_and_manages_the_outbox_and_offline_allowance() {
    let dir = tempfile::tempdir().unwrap();
    let exports = tempfile::tempdir().unwrap();
    let (_app, window) = mock_app(dir.path());
    let status = wait_until_ready(&window);
    let terminal = status["terminal"].as_str().unwrap().to_string();

    // An operator charges two orders (one paid, one declined) and the results reach the central.
    sign_in(&window, "demo-operator", "123456");
    let paid = charge(&window, "demo-1001");
    assert_eq!(paid["attempt"]["state"], "succeeded", "{paid}");
    let declined = charge(&window, "demo-1004");
    assert_eq!(declined["attempt"]["state"], "declined", "{declined}");
    let synced = ok(&window, "sync_now", json!({}));
    assert_eq!(synced["waiting"], 0, "{synced}");

    // The operator may review the journal but none of the manager's commands.
    let review = ok(&window, "journal_review", json!({}));
    // The two, and the demo's result of this till under its old terminal id (parked).
    assert_eq!(review["matched"], 3, "{review}");
    let csv_path = exports.path().join("journal.csv");
    let path = csv_path.to_str().unwrap();
    for (cmd, args) in [
        ("day_close", json!({"day": "2026-11-30"})),
        ("audit", json!({})),
        ("outbox", json!({})),
        ("withdraw_offline", json!({"pin": "123456"})),
        ("export_journal", json!({"path": path})),
    ] {
        let e = refused(&window, cmd, args);
        assert_eq!(e["kind"], "not_signed_in", "{cmd}: {e}");
        assert!(e["message"].as_str().unwrap().contains("manager"), "{e}");
    }
    assert!(!csv_path.exists(), "nothing written for an operator");

    sign_in(&window, "demo-manager", "87654321");

    // Journal review: search by order and gateway id, amount range, bad input.
    let by_order = ok(
        &window,
        "journal_review",
        json!({"search": {"text": "demo-1001"}}),
    );
    assert_eq!(by_order["matched"], 1, "{by_order}");
    let intent = by_order["attempts"][0]["intent_id"]
        .as_str()
        .unwrap()
        .to_string();
    let by_intent = ok(
        &window,
        "journal_review",
        json!({"search": {"text": intent}}),
    );
    assert_eq!(by_intent["attempts"][0]["order"], "demo-1001");
    let dear = ok(
        &window,
        "journal_review",
        json!({"search": {"amount_min": "129.00", "amount_max": "129"}}),
    );
    assert_eq!(dear["matched"], 1, "129.00 EUR only: {dear}");
    let by_state = ok(
        &window,
        "journal_review",
        json!({"search": {"filter": {"state": "declined"}}}),
    );
    assert_eq!(by_state["attempts"][0]["order"], "demo-1004");
    let e = refused(
        &window,
        "journal_review",
        json!({"search": {"amount_min": "12,50"}}),
    );
    assert_eq!(e["kind"], "bad_input", "{e}");

    // The central's receipt: it holds this journal's head, and the hash there matches.
    let receipt = ok(&window, "journal_receipt", json!({}));
    assert_eq!(receipt["state"], "matches", "{receipt}");
    assert_eq!(receipt["seq"], receipt["local_seq"], "{receipt}");
    let status = ok(&window, "status", json!({}));
    assert_eq!(
        receipt["seq"], status["journal"]["events_checked"],
        "{receipt} {status}"
    );

    // The export: the shell writes every match to the chosen path, spreadsheet-safe.
    let e = refused(&window, "export_journal", json!({"path": "relative.csv"}));
    assert_eq!(e["kind"], "bad_input", "{e}");
    let e = refused(
        &window,
        "export_journal",
        json!({"path": exports.path().join("missing/x.csv").to_str().unwrap()}),
    );
    assert_eq!(e["kind"], "bad_input", "{e}");
    let written = ok(&window, "export_journal", json!({"path": path}));
    // The two, and the demo's parked result of this till under its old terminal id.
    assert_eq!(written["rows"], 3, "{written}");
    let text = std::fs::read_to_string(&csv_path).unwrap();
    let mut lines = text.lines();
    assert!(lines.next().unwrap().starts_with("attempt_id,order_id,"));
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 3, "{text}");
    assert!(
        rows.iter()
            .any(|r| r.contains(",demo-1001,") && r.contains(",129.00,12900,EUR,succeeded,")),
        "{text}"
    );

    // The day close: the central's totals, this terminal's journal beside them, all agreeing.
    // A day that is not a date is refused before the central is asked.
    let e = refused(&window, "day_close", json!({"day": "2026-02-30"}));
    assert_eq!(e["kind"], "bad_input", "{e}");
    let close = ok(&window, "day_close", json!({"day": utc_today()}));
    assert_eq!(close["terminal_id"], terminal, "{close}");
    // In JPY the journal holds the demo's result the central refused (parked): a difference.
    let all: Vec<&Value> = close["comparison"].as_array().unwrap().iter().collect();
    let jpy: Vec<&&Value> = all.iter().filter(|c| c["currency"] == "JPY").collect();
    assert_eq!(jpy.len(), 1, "{close}");
    assert_eq!(jpy[0]["differs"], true, "{close}");
    assert_eq!(jpy[0]["journal"]["succeeded"], 1, "{close}");
    assert_eq!(jpy[0]["central"]["succeeded"], 0, "{close}");
    let mine: Vec<&Value> = all.into_iter().filter(|c| c["currency"] == "EUR").collect();
    assert_eq!(mine.len(), 1, "{close}");
    assert_eq!(mine[0]["operator_id"], "demo-operator");
    assert_eq!(
        mine[0]["journal"],
        json!({"succeeded": 1, "succeeded_minor": 12900, "declined": 1})
    );
    assert_eq!(mine[0]["differs"], false, "{close}");
    assert_eq!(
        close["exponents"],
        json!([{"currency": "EUR", "exponent": 2}, {"currency": "JPY", "exponent": 0}])
    );
    assert_eq!(close["central"]["sign_off"], Value::Null);

    // Signing off takes the PIN again: a wrong one changes nothing.
    let e = refused(
        &window,
        "sign_off_day",
        json!({"day": utc_today(), "pin": "11112222", "note": null}),
    );
    assert_eq!(e["kind"], "sign_in_refused", "{e}");
    let signed = ok(
        &window,
        "sign_off_day",
        json!({"day": utc_today(), "pin": "87654321", "note": "checked by hand"}),
    );
    assert_eq!(signed["signed_by"], "demo-manager", "{signed}");
    assert_eq!(signed["note"], "checked by hand");
    let e = refused(
        &window,
        "sign_off_day",
        json!({"day": utc_today(), "pin": "87654321", "note": null}),
    );
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("already signed off"),
        "{e}"
    );

    let day_csv = exports.path().join("day.csv");
    let written = ok(
        &window,
        "export_day_close",
        json!({"close": close, "path": day_csv.to_str().unwrap()}),
    );
    let text = std::fs::read_to_string(&day_csv).unwrap();
    assert_eq!(written["rows"], text.lines().count() - 1);
    assert!(
        text.starts_with("section,operator_id,terminal_id,"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "journal,demo-operator,{terminal},EUR,succeeded,1,12900,,"
        )),
        "{text}"
    );

    // The audit log shows the sign-off and the wrong PIN, and exports them.
    let audit = ok(
        &window,
        "audit",
        json!({"query": {"kind": "day_signed_off"}}),
    );
    let entries = audit["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{audit}");
    assert_eq!(entries[0]["operator_id"], "demo-manager");
    assert_eq!(entries[0]["terminal_id"], terminal.as_str());
    let wrong = ok(&window, "audit", json!({"query": {"outcome": "refused"}}));
    assert!(
        wrong["entries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "pin_wrong"),
        "{wrong}"
    );
    let e = refused(&window, "audit", json!({"query": {"operator": "a&b=c"}}));
    assert_eq!(e["kind"], "bad_input", "{e}");
    let audit_csv = exports.path().join("audit.csv");
    let written = ok(
        &window,
        "export_audit",
        json!({"query": {}, "path": audit_csv.to_str().unwrap()}),
    );
    assert!(written["rows"].as_u64().unwrap() >= 3, "{written}");
    let text = std::fs::read_to_string(&audit_csv).unwrap();
    assert!(text.starts_with("at,kind,outcome,operator_id,"), "{text}");
    assert!(
        text.contains(",day_signed_off,done,demo-manager,"),
        "{text}"
    );

    // The outbox: nothing waits after the sync; the demo's result that the central refused
    // under the till's old terminal id waits for a manager.
    let outbox = ok(&window, "outbox", json!({}));
    assert_eq!(outbox["depth"], 0, "{outbox}");
    let messages = outbox["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 1, "{outbox}");
    assert_eq!(messages[0]["order"], "demo-3008", "{outbox}");
    assert!(
        messages[0]["parked_reason"]
            .as_str()
            .is_some_and(|r| r.contains("never granted")),
        "{outbox}"
    );
    let e = refused(
        &window,
        "outbox_archive",
        json!({"id": 1, "pin": "87654321", "reason": " "}),
    );
    assert_eq!(e["kind"], "bad_input", "{e}");

    // Offline: blocked, granted (PIN again, signed by the central), withdrawn.
    assert_eq!(
        ok(&window, "offline_allowance", json!({}))["allowance"],
        Value::Null
    );
    let request = |pin: &str, per_charge: &str| {
        json!({"request": {"pin": pin, "currency": "EUR", "per_charge_max": per_charge,
            "per_shift_max": "500.00", "duration_ms": 3_600_000}})
    };
    let e = refused(&window, "grant_offline", request("87654321", "fifty"));
    assert_eq!(e["kind"], "bad_input", "{e}");
    let granted = ok(&window, "grant_offline", request("87654321", "50.00"));
    let allowance = &granted["allowance"];
    assert_eq!(allowance["approved_by"], "demo-manager", "{granted}");
    assert_eq!(
        allowance["per_charge_max"],
        json!({"minor": 5000, "currency": "EUR"})
    );
    assert_eq!(ok(&window, "offline_allowance", json!({})), granted);
    let e = refused(&window, "withdraw_offline", json!({"pin": "11112222"}));
    assert_eq!(e["kind"], "sign_in_refused", "{e}");
    assert_eq!(
        ok(&window, "offline_allowance", json!({})),
        granted,
        "a wrong PIN changes nothing"
    );
    let withdrawn = ok(&window, "withdraw_offline", json!({"pin": "87654321"}));
    assert_eq!(withdrawn["allowance"], Value::Null);
    // The central closed the grant and audited it.
    let audit = ok(
        &window,
        "audit",
        json!({"query": {"kind": "allowance_withdrawn"}}),
    );
    assert_eq!(
        audit["entries"][0]["operator_id"], "demo-manager",
        "{audit}"
    );

    // Settings: read, a change refused without the right PIN or with a bad amount, then saved.
    let settings = ok(&window, "settings", json!({}));
    assert!(
        settings["settings"]["reversal_approval_above_minor"].is_number(),
        "{settings}"
    );
    let words: Vec<&str> = settings["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["words"].as_str())
        .collect();
    assert!(
        words.contains(&"cancel or refund payments")
            && words.contains(&"charge an amount other than the balance due"),
        "{settings}"
    );
    let e = refused(
        &window,
        "set_approval_threshold",
        json!({"amount": "200.00", "currency": "EUR", "pin": "11112222"}),
    );
    assert_eq!(e["kind"], "sign_in_refused", "{e}");
    let limit = |per_refund: &str| {
        json!({"operator": "demo-operator", "currency": "EUR", "perRefund": per_refund,
            "perDay": "", "pin": "87654321"})
    };
    let e = refused(&window, "set_limit", limit("12,50"));
    assert_eq!(e["kind"], "bad_input", "{e}");
    let saved = ok(&window, "set_limit", limit("25.00"));
    let limits = saved["settings"]["limits"].as_array().unwrap();
    assert_eq!(limits.len(), 1, "{saved}");
    assert_eq!(limits[0]["per_refund_minor"], 2500);
    assert_eq!(limits[0]["per_day_minor"], Value::Null);
    assert_eq!(
        saved["exponents"],
        json!([{"currency": "EUR", "exponent": 2}])
    );
    let saved = ok(
        &window,
        "set_approval_threshold",
        json!({"amount": "200", "currency": "EUR", "pin": "87654321"}),
    );
    assert_eq!(saved["settings"]["reversal_approval_above_minor"], 20000);
    assert_eq!(saved["settings"]["updated_by"], "demo-manager");
}

/// Today's UTC day, as the central closes it.
fn utc_today() -> String {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    paydesk_core::Timestamp::from_unix_ms(ms).utc_day()
}

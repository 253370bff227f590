//! The shell's commands through Tauri's mock runtime: the same `configure` as the real app, a real
//! journal in a temp directory, and IPC requests as the webview would send them. No display needed.
//!
//! What these tests deliberately do not cover: the real webview and the built UI (that is
//! tests/e2e_desktop.rs in the system tests).

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use paydesk_core::{
    AttemptId, AttemptNumber, ClaimToken, Currency, Money, NewAttempt, OperatorId, OrderId,
    PaymentMethodId, TerminalId, Timestamp,
};
use paydesk_desktop::{configure, JOURNAL_ENV};
use paydesk_journal::Journal;
use serde_json::Value;
use tauri::test::{get_ipc_response, mock_builder, mock_context, noop_assets, MockRuntime};
use tauri::webview::InvokeRequest;
use tauri::{App, Manager, WebviewWindow, WebviewWindowBuilder};

/// The journal path reaches the app through the environment, which is shared by every test
/// thread: each app is built (and reads the variable) while holding this lock.
static ENV_LOCK: Mutex<()> = Mutex::new(());

/// 2026-11-22T08:39:18.123Z.
const SEEDED_AT: Timestamp = Timestamp::from_unix_ms(1_795_336_758_123);

/// A journal with one attempt of 12.34 EUR for order ord-1001, as the charge flow begins it.
fn seed_one_attempt(dir: &Path) -> (PathBuf, AttemptId) {
    let path = dir.join("journal.sqlite");
    let mut journal = Journal::open(&path).unwrap();
    let id = AttemptId::from_uuid(uuid::Uuid::now_v7()).unwrap();
    let new = NewAttempt {
        id,
        order: OrderId::new("ord-1001").unwrap(),
        number: AttemptNumber::new(1).unwrap(),
        claim_token: ClaimToken::new(1).unwrap(),
        amount: Money::new(1234, Currency::from_code("EUR").unwrap()).unwrap(),
        customer: None,
        payment_method: PaymentMethodId::new("pm_card_visa").unwrap(),
        operator: OperatorId::new("op-anna").unwrap(),
        terminal: TerminalId::new("till-1").unwrap(),
        offline: false,
    };
    journal.begin_attempt(new, SEEDED_AT).unwrap();
    // Dropping the journal releases its single-writer lock for the app under test.
    drop(journal);
    (path, id)
}

/// Builds the app with `build` pointed at `journal`, and its main window.
fn app_with<F>(journal: &Path, build: F) -> (App<MockRuntime>, WebviewWindow<MockRuntime>)
where
    F: FnOnce(tauri::Builder<MockRuntime>) -> App<MockRuntime>,
{
    let _env = ENV_LOCK
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    std::env::set_var(JOURNAL_ENV, journal);
    let mut app = build(configure(mock_builder()));
    // The setup hook (which opens the journal) runs when the event loop starts; the mock runtime
    // has no loop, and one iteration is the only way in. Deprecated for busy-looping real apps,
    // which is not how it is used here.
    #[allow(deprecated)]
    app.run_iteration(|_, _| {});
    std::env::remove_var(JOURNAL_ENV);
    // The real context creates the main window from tauri.conf.json; the mock context has none.
    let window = app.get_webview_window("main").unwrap_or_else(|| {
        WebviewWindowBuilder::new(&app, "main", Default::default())
            .build()
            .unwrap()
    });
    (app, window)
}

fn mock_app(journal: &Path) -> (App<MockRuntime>, WebviewWindow<MockRuntime>) {
    app_with(journal, |b| b.build(mock_context(noop_assets())).unwrap())
}

/// Sends `cmd` as the page would and returns the answer as JSON (`Err` for a rejected call).
fn invoke(window: &WebviewWindow<MockRuntime>, cmd: &str) -> Result<Value, Value> {
    let request = InvokeRequest {
        cmd: cmd.into(),
        callback: tauri::ipc::CallbackFn(0),
        error: tauri::ipc::CallbackFn(1),
        url: "tauri://localhost".parse().unwrap(),
        body: tauri::ipc::InvokeBody::default(),
        headers: Default::default(),
        invoke_key: tauri::test::INVOKE_KEY.to_string(),
    };
    get_ipc_response(window, request).map(|body| body.deserialize::<Value>().unwrap())
}

#[test]
fn list_attempts_returns_the_seeded_attempt() {
    let dir = tempfile::tempdir().unwrap();
    let (path, id) = seed_one_attempt(dir.path());
    let (_app, window) = mock_app(&path);

    let attempts = invoke(&window, "list_attempts").unwrap();
    let attempts = attempts.as_array().unwrap();
    assert_eq!(attempts.len(), 1, "{attempts:?}");
    let a = &attempts[0];
    assert_eq!(a["id"], id.to_string());
    assert_eq!(a["order"], "ord-1001");
    assert_eq!(a["number"], 1);
    assert_eq!(
        a["amount"],
        serde_json::json!({"minor": 1234, "currency": "EUR"})
    );
    assert_eq!(a["amount_exponent"], 2);
    assert_eq!(a["state"], "intent");
    assert_eq!(a["operator"], "op-anna");
    assert_eq!(a["terminal"], "till-1");
    assert_eq!(a["updated_at"], SEEDED_AT.unix_ms());
}

#[test]
fn a_new_journal_lists_no_attempts_and_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let (_app, window) = mock_app(&dir.path().join("fresh.sqlite"));

    assert_eq!(
        invoke(&window, "list_attempts").unwrap(),
        serde_json::json!([])
    );
    let status = invoke(&window, "journal_status").unwrap();
    assert_eq!(status["verified"], true);
    assert_eq!(status["events_checked"], 0);
    assert_eq!(status["outbox_depth"], 0);
}

#[test]
fn journal_status_verifies_the_seeded_chain() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = seed_one_attempt(dir.path());
    let (_app, window) = mock_app(&path);

    let status = invoke(&window, "journal_status").unwrap();
    assert_eq!(status["verified"], true, "{status}");
    assert_eq!(status["broken_at_seq"], Value::Null);
    assert_eq!(status["events_checked"], 1);
    // A begun attempt has no result yet, so nothing waits for the central.
    assert_eq!(status["outbox_depth"], 0);
    assert_eq!(status["path"], path.display().to_string());
}

#[test]
fn a_locked_journal_keeps_the_window_says_what_to_do_and_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = seed_one_attempt(dir.path());
    // Another "Paydesk" holds the journal while this one starts.
    let holder = Journal::open(&path).unwrap();
    let (_app, window) = mock_app(&path);

    for cmd in ["list_attempts", "journal_status"] {
        let error = invoke(&window, cmd).unwrap_err();
        assert_eq!(error["kind"], "journal_locked", "{cmd}: {error}");
        assert!(error["next_step"]
            .as_str()
            .unwrap()
            .contains("Close the other Paydesk"));
        // The journal's internal wording (the lock holder's note, SQLite) stays in the log.
        let shown = error.to_string();
        assert!(
            !shown.contains("holder") && !shown.contains(".lock"),
            "{shown}"
        );
    }

    // The person closes the other Paydesk and presses Try again: the journal opens now.
    drop(holder);
    let attempts = invoke(&window, "list_attempts").unwrap();
    assert_eq!(attempts.as_array().unwrap().len(), 1, "{attempts}");
}

#[test]
fn the_capability_grants_the_commands_to_the_main_window_only() {
    let dir = tempfile::tempdir().unwrap();
    // The app's real context: its tauri.conf.json, capabilities and command permissions.
    let (app, main) = app_with(&dir.path().join("acl.sqlite"), |b| {
        b.build(tauri::generate_context!()).unwrap()
    });
    assert!(invoke(&main, "list_attempts").is_ok());
    assert!(invoke(&main, "journal_status").is_ok());

    let other = WebviewWindowBuilder::new(&app, "other", Default::default())
        .build()
        .unwrap();
    let refused = invoke(&other, "list_attempts").unwrap_err();
    assert!(refused.to_string().contains("not allowed"), "{refused}");
}

//! The shell's commands through Tauri's mock runtime: the same `configure_with` as the real app,
//! the real embedded default (central on SQLite + sandbox gateway, in this process on loopback) in
//! a temp directory, and IPC requests as the webview would send them. No display and no keyring
//! needed: the tests pass an in-memory secret store where the app passes the OS keyring.
//!
//! What these tests deliberately do not cover: the real webview, the built UI and the OS keyring
//! (that is tests/e2e_desktop.rs in the system tests).

use std::path::Path;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use paydesk_desktop::{configure_with, Desk, Launch, CHARGE_PROGRESS_EVENT};
use paydesk_terminal::{MemorySecretStore, Secret, SecretError, SecretStore, TerminalSettings};
use serde_json::{json, Value};
use tauri::test::{get_ipc_response, mock_builder, mock_context, noop_assets, MockRuntime};
use tauri::webview::InvokeRequest;
use tauri::{App, Listener, Manager, WebviewWindow, WebviewWindowBuilder};

/// Start-up of the embedded default on a busy machine (argon2 hashes two demo PINs).
const READY_MS_MAX: u64 = 60_000;

/// A keyring that is not there: what a machine without a Secret Service gives.
#[derive(Debug)]
struct NoKeyring;

impl SecretStore for NoKeyring {
    fn get(&self, _name: &str) -> Result<Option<Secret>, SecretError> {
        Err(SecretError::Unavailable {
            detail: "no D-Bus session in this test".into(),
        })
    }
    fn set(&self, _name: &str, _value: &Secret) -> Result<(), SecretError> {
        Err(SecretError::Unavailable {
            detail: "no D-Bus session in this test".into(),
        })
    }
    fn delete(&self, _name: &str) -> Result<bool, SecretError> {
        Err(SecretError::Unavailable {
            detail: "no D-Bus session in this test".into(),
        })
    }
}

/// Builds the app with `build` over `launch`, runs its setup hook, and returns its main window.
fn app_with<F>(launch: Launch, build: F) -> (App<MockRuntime>, WebviewWindow<MockRuntime>)
where
    F: FnOnce(tauri::Builder<MockRuntime>) -> App<MockRuntime>,
{
    let mut app = build(configure_with(mock_builder(), launch));
    // The setup hook (which starts the desk) runs when the event loop starts; the mock runtime
    // has no loop, and one iteration is the only way in.
    #[allow(deprecated)]
    app.run_iteration(|_, _| {});
    // The real context creates the main window from tauri.conf.json; the mock context has none.
    let window = app.get_webview_window("main").unwrap_or_else(|| {
        WebviewWindowBuilder::new(&app, "main", Default::default())
            .build()
            .unwrap()
    });
    (app, window)
}

fn mock_app(launch: Launch) -> (App<MockRuntime>, WebviewWindow<MockRuntime>) {
    app_with(launch, |b| b.build(mock_context(noop_assets())).unwrap())
}

fn embedded(dir: &Path) -> Launch {
    Launch::embedded(dir.to_path_buf(), Arc::new(MemorySecretStore::new()))
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

/// Polls `status` until start-up is over; returns the ready status.
fn wait_until_ready(window: &WebviewWindow<MockRuntime>) -> Value {
    let deadline = Instant::now() + Duration::from_millis(READY_MS_MAX);
    loop {
        let status = invoke(window, "status", json!({})).unwrap_or_else(|e| {
            panic!("start-up failed: {e}");
        });
        match status["phase"].as_str() {
            Some("ready") => return status,
            Some("starting") => {
                assert!(status["startup_ms_max"].as_u64().unwrap() > 0, "{status}");
            }
            other => panic!("unexpected phase {other:?}: {status}"),
        }
        assert!(
            Instant::now() < deadline,
            "not ready after {READY_MS_MAX} ms"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn order<'a>(queue: &'a Value, id: &str) -> &'a Value {
    queue["orders"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["order_id"] == id)
        .unwrap_or_else(|| panic!("{id} is not in the queue: {queue}"))
}

#[test]
fn the_embedded_default_signs_in_charges_and_journals() {
    let dir = tempfile::tempdir().unwrap();
    let (app, window) = mock_app(embedded(dir.path()));
    let progress = {
        let (tx, rx) = mpsc::channel::<Value>();
        app.listen_any(CHARGE_PROGRESS_EVENT, move |event| {
            let _ = tx.send(serde_json::from_str(event.payload()).unwrap());
        });
        rx
    };

    let status = wait_until_ready(&window);
    assert_eq!(status["embedded"], true, "{status}");
    assert_eq!(status["online"], true, "{status}");
    assert_eq!(status["session"], Value::Null);
    assert_eq!(status["journal"]["verified"], true);
    assert!(status["terminal"].as_str().unwrap().starts_with("desk-"));
    // The first recovery pass ran at start-up.
    assert_eq!(status["last_recovery"]["examined"], 0, "{status}");
    assert!(dir.path().join("stack.json").is_file());

    // Nothing but the status before someone signs in.
    for (cmd, args) in [
        ("queue", json!({})),
        ("attempts", json!({})),
        ("recover_now", json!({})),
        ("sync_now", json!({})),
    ] {
        let refused = invoke(&window, cmd, args).unwrap_err();
        assert_eq!(refused["kind"], "not_signed_in", "{cmd}: {refused}");
        assert!(!refused["next_step"].as_str().unwrap().is_empty());
    }

    // A wrong PIN and an unknown operator get the same answer.
    for (operator, pin) in [("demo-operator", "000000"), ("nobody", "123456")] {
        let refused = invoke(
            &window,
            "sign_in",
            json!({"operator": operator, "pin": pin}),
        )
        .unwrap_err();
        assert_eq!(refused["kind"], "sign_in_refused", "{refused}");
        assert_eq!(refused["message"], "Unknown operator or wrong PIN.");
    }
    let bad = invoke(
        &window,
        "sign_in",
        json!({"operator": "demo-operator", "pin": "12a4"}),
    )
    .unwrap_err();
    assert_eq!(bad["kind"], "bad_input", "{bad}");

    let session = invoke(
        &window,
        "sign_in",
        json!({"operator": "demo-operator", "pin": "123456"}),
    )
    .unwrap();
    assert_eq!(session["operator"], "demo-operator");
    assert_eq!(session["role"], "operator");
    assert_eq!(session["offline"], false);

    let queue = invoke(&window, "queue", json!({})).unwrap();
    assert_eq!(queue["offline"], false, "{queue}");
    let visa = order(&queue, "demo-1001").clone();
    assert_eq!(
        visa["amount"],
        json!({"minor": 12900, "currency": "EUR"}),
        "{visa}"
    );
    assert_eq!(visa["amount_exponent"], 2);
    let declined = order(&queue, "demo-1004").clone();

    // A changed amount stops the charge before anything is sent.
    let changed = invoke(
        &window,
        "charge",
        json!({"orderId": "demo-1001", "expectedAmount": {"minor": 1, "currency": "EUR"}}),
    )
    .unwrap_err();
    assert_eq!(changed["kind"], "amount_changed", "{changed}");

    let paid = invoke(
        &window,
        "charge",
        json!({"orderId": "demo-1001", "expectedAmount": visa["amount"]}),
    )
    .unwrap();
    assert_eq!(paid["attempt"]["state"], "succeeded", "{paid}");
    assert_eq!(paid["attempt"]["operator"], "demo-operator");
    assert_eq!(paid["pending"], Value::Null);
    let events: Vec<Value> = progress.try_iter().collect();
    assert_eq!(events[0]["order"], "demo-1001", "{events:?}");
    assert_eq!(events[0]["progress"]["kind"], "claimed", "{events:?}");
    let states: Vec<&str> = events
        .iter()
        .filter_map(|e| e["progress"]["state"].as_str())
        .collect();
    assert_eq!(
        states,
        [
            "intent",
            "created",
            "registered",
            "confirm_sent",
            "succeeded"
        ],
        "{events:?}"
    );

    let refused = invoke(
        &window,
        "charge",
        json!({"orderId": "demo-1004", "expectedAmount": declined["amount"]}),
    )
    .unwrap();
    assert_eq!(refused["attempt"]["state"], "declined", "{refused}");
    assert_eq!(refused["attempt"]["reason"], "generic_decline", "{refused}");

    let attempts = invoke(&window, "attempts", json!({})).unwrap();
    let attempts = attempts.as_array().unwrap();
    // The two, and (oldest) the demo's result of this till under its old terminal id, which the
    // central refuses and the relay parks for a manager.
    assert_eq!(attempts.len(), 3, "{attempts:?}");
    assert_eq!(attempts[0]["order"], "demo-1004");
    assert_eq!(attempts[1]["order"], "demo-1001");
    assert_eq!(attempts[2]["order"], "demo-3008");
    assert_ne!(
        attempts[2]["terminal"], attempts[0]["terminal"],
        "{attempts:?}"
    );
    let only_paid = invoke(
        &window,
        "attempts",
        json!({"filter": {"state": "succeeded"}}),
    )
    .unwrap();
    assert_eq!(only_paid.as_array().unwrap().len(), 2, "{only_paid}");

    let timeline = invoke(
        &window,
        "attempt_timeline",
        json!({"id": attempts[1]["id"]}),
    )
    .unwrap();
    assert_eq!(timeline["attempt"]["state"], "succeeded");
    let kinds: Vec<&str> = timeline["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.first(), Some(&"begun"), "{kinds:?}");
    assert_eq!(kinds.last(), Some(&"confirm_answered"), "{kinds:?}");
    let unknown = invoke(&window, "attempt_timeline", json!({"id": "nope"})).unwrap_err();
    assert_eq!(unknown["kind"], "bad_input");

    // The results reach the central (the background relay, or this sync): the outbox drains and
    // both orders leave the unpaid queue.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let sync = invoke(&window, "sync_now", json!({})).unwrap();
        assert_eq!(sync["unreachable"], false, "{sync}");
        let status = invoke(&window, "status", json!({})).unwrap();
        if status["journal"]["outbox_depth"] == 0 {
            assert_eq!(status["journal"]["verified"], true);
            assert_eq!(status["session"]["operator"], "demo-operator");
            assert_eq!(status["unresolved"], 0);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the outbox did not drain: {status}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let queue = invoke(&window, "queue", json!({})).unwrap();
    for gone in ["demo-1001", "demo-1004"] {
        assert!(
            !queue["orders"]
                .as_array()
                .unwrap()
                .iter()
                .any(|o| o["order_id"] == gone),
            "{gone} is still unpaid: {queue}"
        );
    }

    let recovery = invoke(&window, "recover_now", json!({})).unwrap();
    assert_eq!(recovery["examined"], 0, "{recovery}");

    invoke(&window, "sign_out", json!({})).unwrap();
    assert_eq!(
        invoke(&window, "queue", json!({})).unwrap_err()["kind"],
        "not_signed_in"
    );
    // Managers sign in at the same screen; the status bar says who it is.
    let manager = invoke(
        &window,
        "sign_in",
        json!({"operator": "demo-manager", "pin": "87654321"}),
    )
    .unwrap();
    assert_eq!(manager["role"], "manager");
    let status = invoke(&window, "status", json!({})).unwrap();
    assert_eq!(status["session"]["operator"], "demo-manager");

    // Closing the app stops the loops and the embedded servers, and waits for them.
    let desk = app.state::<Desk>().inner().clone();
    tauri::async_runtime::block_on(desk.shutdown());
    assert!(
        !dir.path().join("stack.json").exists(),
        "the stopped stack is still advertised"
    );
    assert_eq!(
        invoke(&window, "status", json!({})).unwrap_err()["kind"],
        "startup_failed"
    );
}

#[test]
fn without_a_keyring_the_app_says_so_and_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let (_app, window) = mock_app(Launch::embedded(
        dir.path().to_path_buf(),
        Arc::new(NoKeyring),
    ));
    let deadline = Instant::now() + Duration::from_millis(READY_MS_MAX);
    let error = loop {
        match invoke(&window, "status", json!({})) {
            Err(error) => break error,
            Ok(status) => {
                assert_eq!(status["phase"], "starting", "{status}");
                assert!(Instant::now() < deadline, "still starting");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    };
    assert_eq!(error["kind"], "keyring_unavailable", "{error}");
    assert!(
        error["next_step"]
            .as_str()
            .unwrap()
            .contains("restart Paydesk"),
        "{error}"
    );
    // The keyring's own detail stays in the log.
    assert!(!error.to_string().contains("D-Bus session"), "{error}");
    let refused = invoke(
        &window,
        "sign_in",
        json!({"operator": "demo-operator", "pin": "123456"}),
    )
    .unwrap_err();
    assert_eq!(refused["kind"], "keyring_unavailable");
}

#[test]
fn the_capability_grants_the_commands_to_the_main_window_only() {
    let dir = tempfile::tempdir().unwrap();
    // The app's real context: its tauri.conf.json, capabilities and command permissions.
    let (app, main) = app_with(
        Launch::embedded(dir.path().to_path_buf(), Arc::new(NoKeyring)),
        |b| b.build(tauri::generate_context!()).unwrap(),
    );
    // Allowed: the answer is the desk's (starting, or the keyring's error), not the ACL's.
    match invoke(&main, "status", json!({})) {
        Ok(status) => assert_eq!(status["phase"], "starting", "{status}"),
        Err(error) => assert_eq!(error["kind"], "keyring_unavailable", "{error}"),
    }
    let other = WebviewWindowBuilder::new(&app, "other", Default::default())
        .build()
        .unwrap();
    let refused = invoke(&other, "status", json!({})).unwrap_err();
    assert!(refused.to_string().contains("not allowed"), "{refused}");
    // The old journal-only commands are gone.
    let gone = invoke(&main, "list_attempts", json!({})).unwrap_err();
    assert!(gone.to_string().contains("not"), "{gone}");
}

#[test]
fn an_external_central_that_does_not_answer_shows_offline_and_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    // Nothing listens on the discard port; the secrets come from the automation overrides.
    let mut settings = TerminalSettings::new("paydesk-test");
    settings.data_dir = Some(dir.path().to_path_buf());
    settings.central_url = Some("http://127.0.0.1:9".into());
    settings.gateway_url = Some("http://127.0.0.1:9".into());
    settings.terminal = Some("till-1".into());
    settings.secrets = Arc::new(NoKeyring);
    settings.terminal_token_override = Some("pdt_test_token".into());
    settings.gateway_key_override = Some("sk_test_unused".into());
    let launch = Launch { settings };
    let (_app, window) = mock_app(launch);
    let status = wait_until_ready(&window);
    assert_eq!(status["online"], false, "{status}");
    assert_eq!(status["embedded"], false);
    assert_eq!(status["terminal"], "till-1");
    assert_eq!(status["journal"]["verified"], true);

    // Never signed in here while the central answered: no cached operator list to check against.
    let refused = invoke(
        &window,
        "sign_in",
        json!({"operator": "demo-operator", "pin": "123456"}),
    )
    .unwrap_err();
    assert_eq!(refused["kind"], "central_unreachable", "{refused}");
    assert!(
        refused["next_step"].as_str().unwrap().contains("reachable"),
        "{refused}"
    );
}

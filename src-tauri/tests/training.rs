//! Training mode's commands (issue 12, item 9) through Tauri's mock runtime against the real
//! embedded default: off at start and offered; a rehearsal is refused while training is off; a
//! lost response ends the next charge "outcome unknown" and "Check status" (a recovery pass) then
//! finds it paid, with nothing left armed; a decline applies to the next charge only; the central
//! down takes the desk offline and training off brings the central back.
//!
//! Deliberately absent: the webview (tests/e2e_training.rs in the system tests) and what the
//! sandbox does with each fault (its own tests, and the stack's `tests/training.rs`).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use paydesk_desktop::{configure_with, Launch};
use paydesk_terminal::MemorySecretStore;
use serde_json::{json, Value};
use tauri::test::{get_ipc_response, mock_builder, mock_context, noop_assets, MockRuntime};
use tauri::webview::InvokeRequest;
use tauri::{App, Manager, WebviewWindow, WebviewWindowBuilder};

/// Start-up of the embedded default on a busy machine (argon2 hashes the demo PINs).
const READY_MS_MAX: u64 = 60_000;

fn mock_app(dir: &Path) -> (App<MockRuntime>, WebviewWindow<MockRuntime>) {
    let launch = Launch::embedded(dir.to_path_buf(), Arc::new(MemorySecretStore::new()));
    let mut app = configure_with(mock_builder(), launch)
        .build(mock_context(noop_assets()))
        .unwrap();
    // The setup hook (which starts the desk) runs when the event loop starts; one iteration.
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

fn status(window: &WebviewWindow<MockRuntime>) -> Value {
    let deadline = Instant::now() + Duration::from_millis(READY_MS_MAX);
    loop {
        let status = invoke(window, "status", json!({})).expect("start-up failed");
        if status["phase"] == "ready" {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "not ready after {READY_MS_MAX} ms"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn charge(window: &WebviewWindow<MockRuntime>, order: &str, minor: i64) -> Value {
    invoke(
        window,
        "charge",
        json!({"orderId": order, "expectedAmount": {"minor": minor, "currency": "EUR"}}),
    )
    .unwrap_or_else(|e| panic!("charging {order}: {e}"))
}

#[test]
fn rehearsals_arm_the_next_charge_only_and_training_off_brings_the_central_back() {
    let dir = tempfile::tempdir().unwrap();
    let (_app, window) = mock_app(dir.path());
    let ready = status(&window);
    assert_eq!(
        ready["training"],
        json!({"available": true, "on": false, "armed": null, "central_down": false})
    );
    invoke(
        &window,
        "sign_in",
        json!({"operator": "demo-operator", "pin": "123456"}),
    )
    .unwrap();
    let refused = invoke(&window, "rehearse", json!({"rehearsal": "decline"})).unwrap_err();
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains("Training is off"),
        "{refused}"
    );

    let on = invoke(&window, "set_training", json!({"on": true})).unwrap();
    assert_eq!(on["on"], true);

    // A lost response: the next charge ends unknown; the check finds it paid.
    let armed = invoke(&window, "rehearse", json!({"rehearsal": "lost_response"})).unwrap();
    assert_eq!(armed["armed"], "lost_response");
    let lost = charge(&window, "demo-1002", 4_550);
    assert!(lost["pending"].is_string(), "{lost}");
    assert_ne!(lost["attempt"]["state"], "succeeded", "{lost}");
    assert_eq!(
        status(&window)["training"]["armed"],
        Value::Null,
        "for that charge only"
    );
    invoke(&window, "recover_now", json!({})).unwrap();
    let attempt = lost["attempt"]["id"].as_str().unwrap();
    let timeline = invoke(&window, "attempt_timeline", json!({"id": attempt})).unwrap();
    assert_eq!(timeline["attempt"]["state"], "succeeded", "{timeline}");

    // A decline for the next charge only: the one after it succeeds.
    invoke(&window, "rehearse", json!({"rehearsal": "decline"})).unwrap();
    let declined = charge(&window, "demo-1006", 7_300);
    assert_eq!(declined["attempt"]["state"], "declined", "{declined}");
    let paid = charge(&window, "demo-1001", 12_900);
    assert_eq!(paid["attempt"]["state"], "succeeded", "{paid}");

    // The central down: offline now; training off brings it back.
    let down = invoke(&window, "rehearse", json!({"rehearsal": "central_down"})).unwrap();
    assert_eq!(down["central_down"], true);
    let offline = status(&window);
    assert_eq!(offline["online"], false, "{offline}");
    assert_eq!(offline["training"]["on"], true);
    let off = invoke(&window, "set_training", json!({"on": false})).unwrap();
    assert_eq!(
        off,
        json!({"available": true, "on": false, "armed": null, "central_down": false})
    );
    let back = status(&window);
    assert_eq!(back["online"], true, "the central is back: {back}");
    assert!(invoke(&window, "queue", json!({})).unwrap()["offline"] == false);
}

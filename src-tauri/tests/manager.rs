//! The manager's commands (issue 11, items 1 to 3) through Tauri's mock runtime against the real
//! embedded default (central on SQLite + sandbox gateway, in this process on loopback): an
//! operator is refused; a manager reads the inbox, an order's evidence (this terminal's journal,
//! the central's record, the gateway now), is refused a decision with a wrong PIN or no reason,
//! refunds below the four-eyes threshold at once, and above it the request waits on the desk: the
//! requester's own approval is refused by the central (its words shown), a second manager's is
//! taken, and the requester sends it.
//!
//! Deliberately absent: the webview and the OS keyring (tests/e2e_manager.rs in the system
//! tests), and the central's own rules (its API tests).

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
const OPERATOR: (&str, &str) = ("demo-operator", "123456");
const MANAGER: (&str, &str) = ("demo-manager", "87654321");
const MANAGER_2: (&str, &str) = ("demo-manager-2", "24681357");

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

fn wait_until_ready(window: &WebviewWindow<MockRuntime>) {
    let deadline = Instant::now() + Duration::from_millis(READY_MS_MAX);
    loop {
        let status = invoke(window, "status", json!({})).expect("start-up failed");
        if status["phase"] == "ready" {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "not ready after {READY_MS_MAX} ms"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn sign_in(window: &WebviewWindow<MockRuntime>, (who, pin): (&str, &str)) {
    invoke(window, "sign_out", json!({})).unwrap();
    let session = invoke(window, "sign_in", json!({"operator": who, "pin": pin}))
        .unwrap_or_else(|e| panic!("{who} cannot sign in: {e}"));
    assert_eq!(session["operator"], who);
}

#[test]
fn a_manager_reads_the_inbox_decides_and_reverses_with_four_eyes() {
    let dir = tempfile::tempdir().unwrap();
    let (app, window) = mock_app(dir.path());
    wait_until_ready(&window);

    // An operator pays demo-1001 (129.00 EUR) and may not open the manager's desk.
    sign_in(&window, OPERATOR);
    let amount = json!({"minor": 12900, "currency": "EUR"});
    let paid = invoke(
        &window,
        "charge",
        json!({"orderId": "demo-1001", "expectedAmount": amount}),
    )
    .unwrap();
    assert_eq!(paid["attempt"]["state"], "succeeded", "{paid}");
    let refused = invoke(&window, "manager_inbox", json!({})).unwrap_err();
    assert_eq!(refused["kind"], "not_signed_in", "{refused}");
    assert_eq!(refused["message"], "Only a manager can do this.");
    let refused = invoke(
        &window,
        "request_reversal",
        json!({"orderId": "demo-1001", "amount": null, "reason": "x", "pin": "123456"}),
    )
    .unwrap_err();
    assert_eq!(refused["message"], "Only a manager can do this.");

    // The manager's inbox: one list, every item with its kind, age and where it was found.
    sign_in(&window, MANAGER);
    let inbox = invoke(&window, "manager_inbox", json!({})).unwrap();
    assert_eq!(inbox["central_problem"], Value::Null, "{inbox}");
    let items = inbox["items"].as_array().unwrap();
    assert!(
        inbox["total"].as_u64().unwrap() >= items.len() as u64,
        "{inbox}"
    );
    let mut since = 0;
    for item in items {
        assert!(
            item["kind"].as_str().is_some_and(|k| !k.is_empty()),
            "{item}"
        );
        assert!(matches!(
            item["source"].as_str(),
            Some("central" | "terminal")
        ));
        let at = item["since_ms"].as_i64().unwrap();
        assert!(at >= since, "oldest first: {inbox}");
        since = at;
    }

    // The evidence of the paid order: this terminal's attempt with its history, the central's
    // record (paid) and the gateway's intent (succeeded), and a reversal among the actions.
    let evidence = invoke(&window, "order_evidence", json!({"orderId": "demo-1001"})).unwrap();
    let journal = evidence["journal"].as_array().unwrap();
    assert_eq!(journal.len(), 1, "{evidence}");
    assert_eq!(journal[0]["attempt"]["state"], "succeeded");
    assert!(
        journal[0]["events"].as_array().unwrap().len() >= 5,
        "{evidence}"
    );
    let ev = &evidence["evidence"];
    assert_eq!(
        ev["central"]["detail"]["order"]["status"], "paid",
        "{evidence}"
    );
    let intents = ev["gateway"]["intents"].as_array().unwrap();
    assert!(
        intents.iter().any(|i| i["status"] == "succeeded"),
        "{evidence}"
    );
    let actions: Vec<&str> = ev["allowed_actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["action"].as_str())
        .collect();
    assert!(actions.contains(&"reverse"), "{actions:?}");
    assert!(!actions.contains(&"mark_not_charged"), "{actions:?}");

    // A decision needs a reason and the right PIN; neither refusal changes anything.
    let decision = |reason: &str, pin: &str| {
        json!({"orderId": "demo-1001", "decision": {
            "action": "mark_not_charged", "reason": reason, "pin": pin}})
    };
    let no_reason = invoke(&window, "resolve_order", decision("  ", MANAGER.1)).unwrap_err();
    assert_eq!(no_reason["kind"], "bad_input", "{no_reason}");
    assert!(no_reason["message"].as_str().unwrap().contains("reason"));
    let wrong_pin = invoke(&window, "resolve_order", decision("test", "00000000")).unwrap_err();
    assert_eq!(wrong_pin["kind"], "sign_in_refused", "{wrong_pin}");
    let not_allowed =
        invoke(&window, "resolve_order", decision("it was not", MANAGER.1)).unwrap_err();
    assert_eq!(not_allowed["kind"], "central_refused", "{not_allowed}");
    assert!(
        not_allowed["message"]
            .as_str()
            .unwrap()
            .starts_with("The central refused: "),
        "{not_allowed}"
    );

    // 10.00 EUR back: below the threshold, refunded at once.
    let small = invoke(
        &window,
        "request_reversal",
        json!({"orderId": "demo-1001", "amount": {"minor": 1000, "currency": "EUR"},
            "reason": "scratched box", "pin": MANAGER.1}),
    )
    .unwrap();
    assert_eq!(small["request"]["state"], "sent", "{small}");
    assert_eq!(small["request"]["result"]["kind"], "refund", "{small}");
    assert!(
        small["message"]
            .as_str()
            .unwrap()
            .starts_with("A refund of 10.00 EUR"),
        "{small}"
    );

    // The rest (119.00 EUR) is above the 100.00 threshold: it waits for a second manager.
    let big = invoke(
        &window,
        "request_reversal",
        json!({"orderId": "demo-1001", "amount": null, "reason": "returned", "pin": MANAGER.1}),
    );
    let big = big.unwrap_or_else(|e| panic!("{e}"));
    // "Everything still paid" becomes the amount the central named, which the approval binds.
    assert_eq!(big["request"]["state"], "waiting_for_approval", "{big}");
    assert_eq!(
        big["request"]["amount"],
        json!({"minor": 11900, "currency": "EUR"}),
        "{big}"
    );
    assert!(big["message"].as_str().unwrap().contains("second manager"));
    let key = big["request"]["reversal_key"].as_str().unwrap().to_string();
    let requests = invoke(&window, "reversal_requests", json!({})).unwrap();
    assert_eq!(
        requests[0]["reversal_key"],
        key.as_str(),
        "newest first: {requests}"
    );

    // The requester approving their own request: the central refuses, in its words, and the
    // request waits again.
    let own = invoke(
        &window,
        "approve_reversal",
        json!({"reversalKey": key, "pin": MANAGER.1}),
    )
    .unwrap_err();
    assert_eq!(own["kind"], "central_refused", "{own}");
    let requests = invoke(&window, "reversal_requests", json!({})).unwrap();
    assert_eq!(requests[0]["state"], "waiting_for_approval", "{requests}");
    assert!(requests[0]["problem"].as_str().is_some(), "{requests}");

    // A second manager approves; only the requester may send.
    sign_in(&window, MANAGER_2);
    let approved = invoke(
        &window,
        "approve_reversal",
        json!({"reversalKey": key, "pin": MANAGER_2.1}),
    )
    .unwrap();
    assert_eq!(approved["request"]["state"], "approved", "{approved}");
    assert_eq!(approved["request"]["approved_by"], MANAGER_2.0);
    let not_theirs = invoke(
        &window,
        "send_reversal",
        json!({"reversalKey": key, "pin": MANAGER_2.1}),
    )
    .unwrap_err();
    assert_eq!(not_theirs["kind"], "bad_input", "{not_theirs}");

    sign_in(&window, MANAGER);
    let sent = invoke(
        &window,
        "send_reversal",
        json!({"reversalKey": key, "pin": MANAGER.1}),
    )
    .unwrap();
    assert_eq!(sent["request"]["state"], "sent", "{sent}");
    assert_eq!(sent["request"]["result"]["approved_by"], MANAGER_2.0);
    assert_eq!(sent["request"]["result"]["amount_minor"], 11900);
    assert!(
        sent["message"]
            .as_str()
            .unwrap()
            .contains("Approved by demo-manager-2"),
        "{sent}"
    );

    let desk = app.state::<paydesk_desktop::Desk>().inner().clone();
    tauri::async_runtime::block_on(desk.shutdown());
}

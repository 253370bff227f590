//! Issue 15: the embedded default survives its own restart in the middle of a charge. The real
//! `paydesk` binary charges through an embedded stack (in this test process, its sandbox's admin
//! routes open to arm faults), found the way a newcomer's shell finds it: `stack.json` in the
//! shared data directory. The sandbox charges the card but every answer is lost, so `paydesk
//! charge` exits 3 with the order held; the stack stops and starts again (ports picked afresh)
//! over the same data directory; `paydesk recover` then finds the charge at the gateway, and the
//! order ends paid — not in a manager's review, as it did when the sandbox forgot its intents.

mod common;

use std::path::Path;
use std::sync::Arc;

use paydesk_protocol::{OrderDetail, OrderStatus};
use paydesk_stack::{Stack, StackConfig, DEMO_OPERATOR, DEMO_OPERATOR_PIN};
use paydesk_terminal::{MemorySecretStore, SecretStore, GATEWAY_API_KEY, TERMINAL_TOKEN};
use serde_json::{json, Value};

use common::{run_with_stdin, Run, PENDING, SUCCESS};

/// `paydesk ARGS` over `data_dir` (where the stack's `stack.json` is), secrets from the
/// environment, nothing else from the developer's environment.
fn paydesk(data_dir: &Path, secrets: &MemorySecretStore, args: &[&str], stdin: &str) -> Run {
    let token = secrets.get(TERMINAL_TOKEN).unwrap().unwrap();
    let key = secrets.get(GATEWAY_API_KEY).unwrap().unwrap();
    let mut cmd = common::paydesk();
    cmd.env("PAYDESK_DATA_DIR", data_dir)
        .env("PAYDESK_TERMINAL_TOKEN", token.expose())
        .env("PAYDESK_GATEWAY_KEY", key.expose());
    run_with_stdin(cmd, args, stdin)
}

async fn admin(stack: &Stack, path: &str, body: Option<Value>) -> Value {
    let client = reqwest::Client::new();
    let url = format!("{}{path}", stack.gateway_url);
    let request = match body {
        Some(body) => client.post(url).json(&body),
        None => client.get(url),
    };
    let response = request.send().await.unwrap();
    assert!(response.status().is_success(), "{path}");
    response.json().await.unwrap()
}

/// The sandbox's intents for `order` (its ground truth), as (id, status, succeeded_count).
async fn intents_for(stack: &Stack, order: &str) -> Vec<(String, String, u64)> {
    admin(stack, "/admin/ledger", None).await["intents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["metadata"]["order_id"] == order)
        .map(|i| {
            (
                i["id"].as_str().unwrap().to_string(),
                i["status"].as_str().unwrap().to_string(),
                i["succeeded_count"].as_u64().unwrap(),
            )
        })
        .collect()
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
async fn a_charge_cut_off_by_a_stack_restart_is_finished_by_recover_and_the_order_is_paid() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("paydesk");
    let secrets = Arc::new(MemorySecretStore::new());
    let mut config = StackConfig::new(&data_dir, secrets.clone());
    config.sandbox_admin = paydesk_stack::SandboxAdmin::LoopbackOnly;
    let stack = paydesk_stack::start(config.clone()).await.unwrap();

    // The card is charged, but no answer about it reaches the terminal.
    admin(
        &stack,
        "/admin/faults",
        Some(json!({ "specs": [
            "confirm:drop_after_execute:50",
            "retrieve:drop_before_execute:50",
            "search:drop_before_execute:50",
        ]})),
    )
    .await;
    let charge = paydesk(
        &data_dir,
        &secrets,
        &[
            "charge",
            "demo-1001",
            "--operator",
            DEMO_OPERATOR,
            "--amount",
            "129.00 EUR",
            "--pin-stdin",
        ],
        &format!("{DEMO_OPERATOR_PIN}\n"),
    );
    assert_eq!(charge.code, Some(PENDING), "{charge:?}");
    let charged = intents_for(&stack, "demo-1001").await;
    assert_eq!(charged.len(), 1, "{charged:?}");
    assert_eq!(charged[0].1, "succeeded");
    let held = order(&stack, "demo-1001").await.order;
    assert_eq!(held.status, OrderStatus::Unpaid);
    assert!(held.claim.is_some(), "the cut-off charge holds the order");

    // Ctrl-C on `paydesk stack`, and start it again over the same data directory.
    // Its ports are picked afresh (0); the binary finds them in the new stack.json.
    stack.shutdown().await;
    let stack = paydesk_stack::start(config).await.unwrap();

    let recovered = paydesk(&data_dir, &secrets, &["recover"], "");
    assert_eq!(recovered.code, Some(SUCCESS), "{recovered:?}");
    assert!(
        recovered.stdout.contains("1 examined, 1 finished"),
        "{recovered:?}"
    );
    assert!(
        !recovered.stdout.contains("review"),
        "nothing goes to review: {recovered:?}"
    );
    let listed = paydesk(
        &data_dir,
        &secrets,
        &["--json", "journal", "list", "--order", "demo-1001"],
        "",
    );
    let listed: Value = serde_json::from_str(listed.stdout.trim()).expect("one JSON document");
    assert_eq!(listed["attempts"].as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed["attempts"][0]["state"], "succeeded", "{listed}");
    let paid = order(&stack, "demo-1001").await.order;
    assert_eq!(paid.status, OrderStatus::Paid, "{paid:?}");
    assert_eq!(
        paid.paid_intent_id.as_ref().map(|i| i.as_str().to_string()),
        Some(charged[0].0.clone())
    );
    // The gateway charged once: recovery found the first intent instead of charging again.
    let after = intents_for(&stack, "demo-1001").await;
    assert_eq!(after.len(), 1, "{after:?}");
    assert_eq!((after[0].1.as_str(), after[0].2), ("succeeded", 1));
    stack.shutdown().await;
}

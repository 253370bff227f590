//! The state directory: what a client was told survives a restart of the sandbox — intents,
//! refunds, events, idempotency keys with their stored answers — and the file is private.

use std::path::Path;

use crate::common::Sandbox;
use paydesk_sandbox::persist::STATE_FILE;
use paydesk_sandbox::SandboxConfig;
use serde_json::Value;

const CREATE: &[(&str, &str)] = &[
    ("amount", "4550"),
    ("currency", "eur"),
    ("payment_method", "pm_card_visa"),
    ("metadata[order_id]", "O-42"),
    ("metadata[attempt]", "1"),
];

async fn start_on(dir: &Path) -> Sandbox {
    Sandbox::start_with(SandboxConfig {
        search_lag_ms: 0,
        state_dir: Some(dir.to_path_buf()),
        ..SandboxConfig::default()
    })
    .await
}

fn saved(dir: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(dir.join(STATE_FILE)).unwrap()).unwrap()
}

#[tokio::test]
async fn intents_and_idempotency_keys_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let state_dir = dir.path().join("sandbox");
    let sb = start_on(&state_dir).await;
    let created = sb
        .post("/v1/payment_intents", CREATE, Some("create-1"))
        .await;
    assert_eq!(created.status, 200, "{:?}", created.body);
    let id = created.body["id"].as_str().unwrap().to_string();
    let confirmed = sb.confirm(&id, "confirm-1").await;
    assert_eq!(confirmed.status, 200, "{:?}", confirmed.body);
    assert_eq!(confirmed.body["status"], "succeeded");
    // Saved before the answer was sent: the file already holds the succeeded intent.
    assert_eq!(
        saved(&state_dir)["store"]["intents"][&id]["status"],
        "succeeded"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&state_dir.join(STATE_FILE)), 0o600);
        assert_eq!(mode(&state_dir), 0o700);
    }
    let refund = sb
        .post(
            "/v1/refunds",
            &[("payment_intent", id.as_str()), ("amount", "550")],
            Some("refund-1"),
        )
        .await;
    assert_eq!(refund.status, 200, "{:?}", refund.body);
    let events_before = sb.get("/v1/events?limit=100").await.body;
    sb.handle.shutdown().await;

    let sb = start_on(&state_dir).await;
    // The intent is the one the client was told about: status, amount, metadata, charge.
    let intent = sb.intent(&id).await;
    assert_eq!(intent, confirmed.body);
    assert_eq!(intent["status"], "succeeded");
    assert_eq!(intent["amount"], 4550);
    assert_eq!(intent["metadata"]["order_id"], "O-42");
    assert_eq!(intent["metadata"]["attempt"], "1");
    let charge = sb
        .get(&format!(
            "/v1/charges/{}",
            intent["latest_charge"].as_str().unwrap()
        ))
        .await;
    assert_eq!(charge.status, 200);
    assert_eq!(charge.body["amount_refunded"], 550);
    let refund_again = sb
        .get(&format!(
            "/v1/refunds/{}",
            refund.body["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(refund_again.body, refund.body);
    assert_eq!(sb.get("/v1/events?limit=100").await.body, events_before);

    // The same key and parameters replay the stored answers verbatim, as before the restart.
    let replay = sb.confirm(&id, "confirm-1").await;
    assert!(replay.replayed());
    assert_eq!((replay.status, &replay.body), (200, &confirmed.body));
    let replay = sb
        .post("/v1/payment_intents", CREATE, Some("create-1"))
        .await;
    assert!(replay.replayed());
    assert_eq!(replay.body, created.body);
    // The same key with other parameters is still an idempotency error.
    let mut other = CREATE.to_vec();
    other[0] = ("amount", "4551");
    let mismatch = sb
        .post("/v1/payment_intents", &other, Some("create-1"))
        .await;
    assert_eq!(mismatch.status, 400);
    assert_eq!(mismatch.error()["type"], "idempotency_error");
    // Nothing ran twice: one intent, one success.
    let ledger = sb.ledger().await;
    let intents = ledger["intents"].as_array().unwrap();
    assert_eq!(intents.len(), 1);
    assert_eq!(intents[0]["succeeded_count"], 1);
    // A fresh key still creates a new intent after the restart.
    assert_eq!(
        sb.post("/v1/payment_intents", CREATE, Some("create-2"))
            .await
            .status,
        200
    );
    sb.handle.shutdown().await;
}

#[tokio::test]
async fn a_confirm_executed_while_its_connection_dropped_is_known_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let sb = start_on(dir.path()).await;
    let pi = sb.create(1200, "pm_card_visa", "O-7").await;
    let id = pi["id"].as_str().unwrap();
    sb.fault("confirm:drop_after_execute:1").await;
    let dropped = sb
        .try_post(
            &format!("/v1/payment_intents/{id}/confirm"),
            &[],
            Some("confirm-7"),
        )
        .await;
    assert!(dropped.is_err(), "the fault drops the connection");
    sb.handle.shutdown().await;

    let sb = start_on(dir.path()).await;
    assert_eq!(sb.intent(id).await["status"], "succeeded");
    let retry = sb.confirm(id, "confirm-7").await;
    assert!(retry.replayed(), "the retry is answered from the saved key");
    assert_eq!(retry.body["status"], "succeeded");
    sb.handle.shutdown().await;
}

#[tokio::test]
async fn without_a_state_directory_a_restart_forgets_everything() {
    let sb = Sandbox::start().await;
    let pi = sb.create(100, "pm_card_visa", "O-1").await;
    sb.handle.shutdown().await;
    let sb = Sandbox::start().await;
    let r = sb
        .get(&format!(
            "/v1/payment_intents/{}",
            pi["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(r.status, 404);
    sb.handle.shutdown().await;
}

#[tokio::test]
async fn a_damaged_state_file_is_refused_with_its_path_not_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(STATE_FILE);
    std::fs::write(&file, b"{ not json").unwrap();
    let err = paydesk_sandbox::spawn(SandboxConfig {
        state_dir: Some(dir.path().to_path_buf()),
        ..SandboxConfig::default()
    })
    .await
    .unwrap_err()
    .to_string();
    assert!(err.contains(&file.display().to_string()), "{err}");
    assert!(err.contains("move it away"), "{err}");
    assert_eq!(std::fs::read(&file).unwrap(), b"{ not json");
}

#[tokio::test]
async fn an_operation_still_running_after_shutdown_writes_nothing_and_its_key_runs_afresh() {
    let dir = tempfile::tempdir().unwrap();
    let sb = start_on(dir.path()).await;
    let pi = sb.create(900, "pm_card_visa", "O-9").await;
    let id = pi["id"].as_str().unwrap().to_string();
    // The connection closes at once; the confirm runs 300 ms later, after the shutdown.
    sb.fault("confirm:execute_late=300:1").await;
    let cut = sb
        .try_post(
            &format!("/v1/payment_intents/{id}/confirm"),
            &[],
            Some("confirm-9"),
        )
        .await;
    assert!(cut.is_err());
    sb.handle.shutdown().await;
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    assert_eq!(
        saved(dir.path())["store"]["intents"][&id]["status"],
        "requires_confirmation",
        "a stopped sandbox writes nothing"
    );

    let sb = start_on(dir.path()).await;
    assert_eq!(sb.intent(&id).await["status"], "requires_confirmation");
    let retry = sb.confirm(&id, "confirm-9").await;
    assert!(!retry.replayed(), "no answer was ever given under the key");
    assert_eq!(retry.body["status"], "succeeded");
    sb.handle.shutdown().await;
}

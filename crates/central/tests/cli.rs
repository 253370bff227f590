//! The `paydesk-central` binary end to end on a SQLite file: set-up commands, `serve` printing
//! its address first, and a graceful stop on SIGTERM.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_paydesk-central"));
    c.env_remove("PAYDESK_CENTRAL_DB").env("RUST_LOG", "warn");
    c
}

fn run_ok(args: &[&str], db: &str) -> String {
    let out = bin().arg("--db").arg(db).args(args).output().expect("run");
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test]
async fn set_up_then_serve_then_stop_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("sub").join("central.db");
    std::fs::create_dir_all(db.parent().unwrap()).unwrap();
    let db = db.display().to_string();
    assert!(run_ok(&["init-db"], &db).contains("sqlite"));
    assert!(run_ok(&["seed-demo"], &db).contains("created 20"));
    assert!(run_ok(&["seed-demo"], &db).contains("created 0, unchanged 20"));
    let token = run_ok(&["add-terminal", "desk-1"], &db).trim().to_string();
    assert!(token.starts_with("pdt_"), "{token}");
    let csv = dir.path().join("orders.csv");
    std::fs::write(
        &csv,
        "order_id,amount_minor,currency,customer_id,payment_method_id,description\n\
         cli-1,500,EUR,cus_1,pm_card_visa,From the CLI\n",
    )
    .unwrap();
    assert!(run_ok(&["import-orders", csv.to_str().unwrap()], &db).contains("created 1"));

    let mut child = bin()
        .args([
            "--db",
            &db,
            "add-operator",
            "alice",
            "--role",
            "manager",
            "--pin-stdin",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"2468\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());

    let mut server = bin()
        .args(["--db", &db, "serve", "--listen", "127.0.0.1:0"])
        .env("PAYDESK_ADMIN_TOKEN", "adm")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let addr = first.trim().to_string();
    assert!(
        addr.starts_with("127.0.0.1:") && !addr.ends_with(":0"),
        "{addr}"
    );
    let client = reqwest::Client::new();
    let health: serde_json::Value = client
        .get(format!("http://{addr}/health"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["database"], "sqlite");
    let page: serde_json::Value = client
        .get(format!("http://{addr}/v1/orders?limit=100"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page["orders"].as_array().unwrap().len(), 21);
    let ops: serde_json::Value = client
        .get(format!("http://{addr}/v1/operators"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ops["operators"][0]["role"], "manager");

    let status = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = server.wait().unwrap();
    assert!(exit.success(), "a graceful stop exits 0: {exit:?}");
}

#[test]
fn bad_arguments_fail_with_a_message() {
    let out = bin()
        .args(["--db", "/nonexistent-dir/x/central.db", "init-db"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("opening the database"));
    let out = bin()
        .args(["add-operator", "bob", "--role", "boss", "--pin-stdin"])
        .output()
        .unwrap();
    assert!(!out.status.success());
}

#[tokio::test]
async fn logs_carry_no_secrets_even_at_debug() {
    use std::io::Read;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("central.db").display().to_string();
    run_ok(&["seed-demo"], &db);
    let token = run_ok(&["add-terminal", "desk-1"], &db).trim().to_string();
    let admin = "adm-secret-token-0123456789";
    let webhook_secret = "whsec_log_test_secret_0123456789";
    let mut server = bin()
        .args(["--db", &db, "serve", "--listen", "127.0.0.1:0"])
        .env("RUST_LOG", "debug")
        .env("PAYDESK_ADMIN_TOKEN", admin)
        .env("PAYDESK_WEBHOOK_SECRETS", webhook_secret)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let base = format!("http://{}", first.trim());
    let client = reqwest::Client::new();
    let pin = "97531";
    let r = client
        .post(format!("{base}/v1/admin/operators"))
        .bearer_auth(admin)
        .json(&serde_json::json!({"operator_id": "op", "role": "operator", "pin": pin}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let r = client
        .post(format!("{base}/v1/orders/demo-1001/claim"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"operator_id": "op"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = client
        .get(format!("{base}/v1/orders"))
        .bearer_auth("pdt_wrong_token_should_not_be_logged")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    let mut logs = String::new();
    server
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut logs)
        .unwrap();
    assert!(server.wait().unwrap().success());
    assert!(
        logs.contains("central serving"),
        "the logs were captured: {logs}"
    );
    for secret in [
        token.as_str(),
        admin,
        webhook_secret,
        "pdt_wrong_token_should_not_be_logged",
    ] {
        assert!(!logs.contains(secret), "a secret reached the logs");
    }
    // The bare digits could occur in a timestamp; the body field cannot, unless bodies are logged.
    assert!(!logs.contains(&format!("\"pin\":\"{pin}\"")));
}

//! The `paydesk-central` binary end to end on a SQLite file: set-up commands, `serve` printing
//! its address first, a graceful stop on SIGTERM, the start-up checks (admin token strength, the
//! sweep interval, the allowance key file) and terminal tokens revoked and rotated from the CLI
//! while a central runs.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_paydesk-central"));
    c.env_remove("PAYDESK_CENTRAL_DB").env("RUST_LOG", "warn");
    c
}

/// An admin token strong enough for `serve` (32 characters or more).
const ADMIN: &str = "adm-secret-token-0123456789abcdefghij";

/// `serve` on port 0 over `db`, its allowance key in `dir`; returns the child and its address.
fn serve(db: &str, dir: &std::path::Path, envs: &[(&str, &str)]) -> (std::process::Child, String) {
    let key = dir.join("allowance.key");
    let mut cmd = bin();
    cmd.args(["--db", db, "serve", "--listen", "127.0.0.1:0"])
        .arg("--allowance-key-file")
        .arg(&key)
        .env("PAYDESK_ADMIN_TOKEN", ADMIN)
        .stdout(Stdio::piped());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let mut server = cmd.spawn().unwrap();
    let mut first = String::new();
    BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    (server, first.trim().to_string())
}

fn stop(mut server: std::process::Child) {
    Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(server.wait().unwrap().success());
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
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"24681357\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    // A manager PIN of fewer than 8 digits is refused, saying so.
    let mut child = bin()
        .args([
            "--db",
            &db,
            "add-operator",
            "bob",
            "--role",
            "manager",
            "--pin-stdin",
        ])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"2468\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least 8 digits"));

    let mut server = bin()
        .args(["--db", &db, "serve", "--listen", "127.0.0.1:0"])
        .arg("--allowance-key-file")
        .arg(dir.path().join("allowance.key"))
        .env("PAYDESK_ADMIN_TOKEN", ADMIN)
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
    let admin = ADMIN;
    let webhook_secret = "whsec_log_test_secret_0123456789";
    let mut server = bin()
        .args(["--db", &db, "serve", "--listen", "127.0.0.1:0"])
        .arg("--allowance-key-file")
        .arg(dir.path().join("allowance.key"))
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
    let pin = "975310";
    let r = client
        .post(format!("{base}/v1/admin/operators"))
        .bearer_auth(admin)
        .json(&serde_json::json!({"operator_id": "op", "role": "operator", "pin": pin}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let grant: serde_json::Value = client
        .post(format!("{base}/v1/sessions"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"operator_id": "op", "pin": pin}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let session = grant["session_token"].as_str().unwrap().to_string();
    let r = client
        .post(format!("{base}/v1/orders/demo-1001/claim"))
        .bearer_auth(&token)
        .header("x-paydesk-session", &session)
        .json(&serde_json::json!({"operator_id": "op"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = client
        .post(format!("{base}/v1/sessions"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"operator_id": "op", "pin": "864209"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let wrong_admin = "wrong-admin-token-should-not-be-logged";
    let r = client
        .get(format!("{base}/v1/admin/terminals"))
        .bearer_auth(wrong_admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
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
    assert!(
        logs.contains("admin route refused"),
        "a refused admin request is logged (finding L5): {logs}"
    );
    for secret in [
        token.as_str(),
        admin,
        webhook_secret,
        "pdt_wrong_token_should_not_be_logged",
        session.as_str(),
        wrong_admin,
        "864209",
    ] {
        assert!(!logs.contains(secret), "a secret reached the logs");
    }
    // The bare digits could occur in a timestamp; the body field cannot, unless bodies are logged.
    assert!(!logs.contains(&format!("\"pin\":\"{pin}\"")));
}

#[test]
fn a_weak_admin_token_and_a_zero_sweep_interval_stop_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("central.db").display().to_string();
    let key = dir.path().join("allowance.key");
    let out = bin()
        .args(["--db", &db, "serve", "--listen", "127.0.0.1:0"])
        .arg("--allowance-key-file")
        .arg(&key)
        .env("PAYDESK_ADMIN_TOKEN", "admin")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("at least 32"), "{stderr}");
    assert!(
        !stderr.contains("\"admin\""),
        "the token itself is not echoed: {stderr}"
    );
    let out = bin()
        .args([
            "--db",
            &db,
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--sweep-interval-ms",
            "0",
        ])
        .arg("--allowance-key-file")
        .arg(&key)
        .env("PAYDESK_ADMIN_TOKEN", ADMIN)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--sweep-interval-ms must be at least 100")
    );
}

#[tokio::test]
async fn the_allowance_key_file_is_made_private_once_and_kept_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("central.db").display().to_string();
    let token = run_ok(&["add-terminal", "desk-1"], &db).trim().to_string();
    let client = reqwest::Client::new();
    let mut keys = Vec::new();
    for _ in 0..2 {
        let (server, addr) = serve(&db, dir.path(), &[]);
        let key: serde_json::Value = client
            .get(format!("http://{addr}/v1/allowance-key"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        keys.push(key["public_key"].as_str().unwrap().to_string());
        stop(server);
    }
    assert_eq!(keys[0].len(), 64);
    assert_eq!(keys[0], keys[1], "the same key after a restart");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("allowance.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[tokio::test]
async fn terminals_revoked_and_rotated_from_the_cli_stop_working_while_the_central_runs() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("central.db").display().to_string();
    let t1 = run_ok(&["add-terminal", "desk-1"], &db).trim().to_string();
    let t2 = run_ok(&["add-terminal", "desk-2"], &db).trim().to_string();
    let (server, addr) = serve(&db, dir.path(), &[]);
    let client = reqwest::Client::new();
    let status = |token: String| {
        let (client, addr) = (client.clone(), addr.clone());
        async move {
            client
                .get(format!("http://{addr}/v1/orders"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    // Both tokens work, and are now in the running central's cache.
    assert_eq!(status(t1.clone()).await, 200);
    assert_eq!(status(t2.clone()).await, 200);
    let listed = run_ok(&["list-terminals"], &db);
    assert!(
        listed.contains("desk-1 tok_") && listed.contains("revoked=-"),
        "{listed}"
    );
    assert!(!listed.contains(&t1), "no token in the listing");

    let out = run_ok(&["revoke-terminal", "desk-1"], &db);
    assert!(out.contains("desk-1 revoked"), "{out}");
    let new_t2 = run_ok(&["rotate-terminal", "desk-2"], &db)
        .trim()
        .to_string();
    assert!(new_t2.starts_with("pdt_") && new_t2 != t2);
    let started = std::time::Instant::now();
    while status(t1.clone()).await != 401 || status(t2.clone()).await != 401 {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(7),
            "the running central still accepts a revoked or rotated token"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(status(new_t2).await, 200);
    assert!(
        run_ok(&["list-terminals"], &db).contains("revoked=1"),
        "revoked at a time"
    );
    let out = bin()
        .args(["--db", &db, "revoke-terminal", "nobody"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not registered"));
    stop(server);
}

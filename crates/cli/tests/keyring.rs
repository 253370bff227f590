//! `paydesk` with its secrets in a real OS keyring (the freedesktop Secret Service): `paydesk
//! stack` provisions the terminal into the keyring, other commands find the stack and read the
//! token from the keyring with no environment override, a restart reuses the terminal, and
//! `provision` stores a secret read from stdin without ever printing it.
//!
//! Needs a Secret Service. Without one (plain `cargo test`) each test prints "skipped: no Secret
//! Service"; with `PAYDESK_REQUIRE_KEYRING=1` a missing service fails them. The test script runs:
//! `HOME=$(mktemp -d) dbus-run-session -- sh -c 'printf pw | gnome-keyring-daemon --unlock
//! --components=secrets >/dev/null; PAYDESK_REQUIRE_KEYRING=1 cargo test -p paydesk-cli --test
//! keyring -- --test-threads=1'`.

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use paydesk_terminal::{KeyringSecretStore, SecretError, SecretStore, TERMINAL_TOKEN};

const REQUIRE_KEYRING_ENV: &str = "PAYDESK_REQUIRE_KEYRING";

/// A keyring service of this test run's own, or `None` (skip) when no Secret Service runs.
fn keyring_service(test: &str) -> Option<String> {
    let required = std::env::var(REQUIRE_KEYRING_ENV).as_deref() == Ok("1");
    let service = format!("paydesk-cli-test-{test}-{}", std::process::id());
    match KeyringSecretStore::new(service.clone()).probe() {
        Ok(()) => Some(service),
        Err(SecretError::Unavailable { detail }) if !required => {
            println!("skipped: no Secret Service ({detail})");
            None
        }
        Err(e) => panic!("the OS keyring is required ({REQUIRE_KEYRING_ENV}=1): {e}"),
    }
}

fn paydesk(data_dir: &Path, service: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_paydesk"));
    for (name, _) in std::env::vars() {
        if name.starts_with("PAYDESK_") {
            cmd.env_remove(name);
        }
    }
    cmd.env("PAYDESK_DATA_DIR", data_dir)
        .env("PAYDESK_KEYRING_SERVICE", service);
    cmd
}

/// Starts `paydesk stack` and returns it with its first stdout lines (URLs, terminal).
fn start_stack(data_dir: &Path, service: &str) -> (Child, Vec<String>) {
    let mut child = paydesk(data_dir, service)
        .arg("stack")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut lines = Vec::new();
    while lines.len() < 3 {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap() == 0 {
            panic!("paydesk stack ended early: {lines:?}, {:?}", child.wait());
        }
        lines.push(line.trim().to_string());
    }
    // Keep draining stdout so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in reader.lines() {});
    (child, lines)
}

/// Ctrl-C for the stack (SIGINT through kill(1): the workspace forbids unsafe code).
fn stop(mut child: Child) {
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    assert_eq!(exit.code(), Some(0), "paydesk stack stops cleanly");
}

fn value<'a>(lines: &'a [String], key: &str) -> &'a str {
    lines
        .iter()
        .find_map(|l| l.strip_prefix(&format!("{key} ")))
        .unwrap_or_else(|| panic!("no {key} line in {lines:?}"))
}

#[test]
fn the_stack_provisions_into_the_keyring_and_commands_read_it() {
    let Some(service) = keyring_service("stack") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (stack, lines) = start_stack(dir.path(), &service);
    assert!(value(&lines, "central").starts_with("http://127.0.0.1:"));
    assert!(value(&lines, "gateway").starts_with("http://127.0.0.1:"));
    let terminal = value(&lines, "terminal").to_string();
    let token = KeyringSecretStore::new(service.clone())
        .get(TERMINAL_TOKEN)
        .unwrap()
        .expect("the stack stored the terminal token in the keyring");

    // No URL, terminal or secret in the environment: the stack file and the keyring supply them.
    let queue = paydesk(dir.path(), &service).arg("queue").output().unwrap();
    assert_eq!(queue.status.code(), Some(0), "{queue:?}");
    assert!(String::from_utf8_lossy(&queue.stdout).contains("demo-1001"));
    let mut charging = paydesk(dir.path(), &service)
        .args(["charge", "demo-1001", "--operator", "demo-operator"])
        .args(["--amount", "129.00 EUR", "--pin-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    charging
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{}\n", paydesk_stack::DEMO_OPERATOR_PIN).as_bytes())
        .unwrap();
    let charge = charging.wait_with_output().unwrap();
    assert_eq!(charge.status.code(), Some(0), "{charge:?}");
    for text in [&charge.stdout, &charge.stderr, &queue.stdout, &queue.stderr] {
        assert!(!String::from_utf8_lossy(text).contains(token.expose()));
    }
    stop(stack);

    // A restart over the same data directory reuses the terminal whose token is in the keyring.
    let (stack, lines) = start_stack(dir.path(), &service);
    assert_eq!(value(&lines, "terminal"), terminal);
    stop(stack);
    cleanup(&service);
}

#[test]
fn provision_stores_a_secret_from_stdin_without_printing_it() {
    let Some(service) = keyring_service("provision") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let secret = "pdt_provisioned_by_the_test_0123456789";
    let mut child = paydesk(dir.path(), &service)
        .args(["provision", "terminal-token"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{secret}\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains(secret));
    assert!(!String::from_utf8_lossy(&out.stderr).contains(secret));
    let stored = KeyringSecretStore::new(service.clone())
        .get(TERMINAL_TOKEN)
        .unwrap()
        .unwrap();
    assert_eq!(stored.expose(), secret);

    // An empty secret is bad input.
    let empty = paydesk(dir.path(), &service)
        .args(["provision", "gateway-key"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(empty.status.code(), Some(64), "{empty:?}");
    cleanup(&service);
}

fn cleanup(service: &str) {
    let store = KeyringSecretStore::new(service);
    for name in [TERMINAL_TOKEN, paydesk_terminal::GATEWAY_API_KEY] {
        let _ = store.delete(name);
    }
}

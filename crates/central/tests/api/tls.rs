//! HTTPS at the central (issue 10, item 7; review M1): a certificate for 127.0.0.1 and localhost
//! made here with rcgen, the central serving with it, and real round trips — `/health` and an
//! authenticated call — from a client that trusts that certificate. A client that does not trust
//! it, and a plain-HTTP request to the TLS port, get nothing; the server keeps serving after both.

use std::time::Duration;

use paydesk_central::http::Config;
use paydesk_central::server::{load_tls, start_with_tls};
use paydesk_central::store::Store;
use paydesk_testkit::PgDatabase;

use crate::helpers::Db;

/// Long enough for the admin-token strength rule, and used only here.
const ADMIN: &str = "tls-test-admin-token-0123456789abcdef0123456789";

struct Certificate {
    _dir: tempfile::TempDir,
    cert_file: std::path::PathBuf,
    key_file: std::path::PathBuf,
    cert_pem: String,
}

fn certificate() -> Certificate {
    let made = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()])
        .expect("a self-signed certificate");
    let dir = tempfile::tempdir().unwrap();
    let cert_file = dir.path().join("central.pem");
    let key_file = dir.path().join("central.key");
    let cert_pem = made.cert.pem();
    std::fs::write(&cert_file, &cert_pem).unwrap();
    std::fs::write(&key_file, made.key_pair.serialize_pem()).unwrap();
    Certificate {
        _dir: dir,
        cert_file,
        key_file,
        cert_pem,
    }
}

fn trusting(cert_pem: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert_pem.as_bytes()).unwrap())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

async fn https_round_trip(db: Db) {
    let cert = certificate();
    let (db_arg, _pg, _dir) = match db {
        Db::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("central.db").display().to_string();
            (path, None, Some(dir))
        }
        Db::Postgres => {
            let pg = PgDatabase::create("paydesk_t").await;
            (pg.url().to_string(), Some(pg), None)
        }
    };
    let store = Store::open(&db_arg).await.unwrap();
    let tls = load_tls(&cert.cert_file, &cert.key_file).expect("the certificate loads");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let config = Config {
        admin_token: Some(ADMIN.to_string()),
        ..Config::default()
    };
    let running = start_with_tls(store.clone(), config, None, listener, Some(tls)).unwrap();
    let port = running.addr.port();
    let client = trusting(&cert.cert_pem);

    for host in ["127.0.0.1", "localhost"] {
        let health = client
            .get(format!("https://{host}:{port}/health"))
            .send()
            .await
            .unwrap_or_else(|e| panic!("HTTPS to {host}: {e}"));
        assert_eq!(health.status(), 200, "{host}");
    }
    // An authenticated call over TLS: refused without the token, answered with it.
    let orders = format!("https://127.0.0.1:{port}/v1/orders");
    let anonymous = client.get(&orders).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    let admin = client.get(&orders).bearer_auth(ADMIN).send().await.unwrap();
    assert_eq!(admin.status(), 200, "{:?}", admin.text().await);

    // Plain HTTP to the TLS port gets no HTTP answer.
    let plain = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
        .get(format!("http://127.0.0.1:{port}/health"))
        .send()
        .await;
    assert!(
        plain.as_ref().map_or(true, |r| !r.status().is_success()),
        "plain HTTP was answered: {plain:?}"
    );
    // A client that does not trust the certificate refuses the connection.
    let untrusting = reqwest::Client::new()
        .get(format!("https://127.0.0.1:{port}/health"))
        .send()
        .await;
    assert!(untrusting.is_err(), "{untrusting:?}");
    // Failed handshakes only dropped their own connections.
    let again = trusting(&cert.cert_pem)
        .get(format!("https://127.0.0.1:{port}/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 200);

    running.shutdown().await;
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn https_round_trip_sqlite() {
    https_round_trip(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn https_round_trip_postgres() {
    https_round_trip(Db::Postgres).await;
}

#[test]
fn bad_certificate_files_are_refused_with_the_file_named() {
    let cert = certificate();
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "not a certificate").unwrap();
    let missing = dir.path().join("missing.pem");

    let err = load_tls(&garbage, &cert.key_file).err().unwrap();
    assert!(
        err.contains("garbage.pem") && err.contains("no certificate"),
        "{err}"
    );
    let err = load_tls(&missing, &cert.key_file).err().unwrap();
    assert!(err.contains("missing.pem"), "{err}");
    let err = load_tls(&cert.cert_file, &garbage).err().unwrap();
    assert!(err.contains("garbage.pem"), "{err}");
    // A key that is not the certificate's.
    let other = certificate();
    let err = load_tls(&cert.cert_file, &other.key_file).err().unwrap();
    assert!(err.contains("do not make a usable pair"), "{err}");
    assert!(
        !err.contains("PRIVATE KEY-----\n"),
        "no key material: {err}"
    );
}

/// `paydesk-central serve` with `--db` in `dir` and the given arguments, as a child process.
fn serve_command(dir: &std::path::Path, args: &[&str]) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_paydesk-central"));
    command
        .env_remove("PAYDESK_CENTRAL_DB")
        .env("PAYDESK_ADMIN_TOKEN", ADMIN)
        .env("RUST_LOG", "warn")
        .args([
            "--db",
            &dir.join("central.db").display().to_string(),
            "serve",
        ])
        .args(args)
        .stdin(std::process::Stdio::null());
    command
}

#[test]
fn serve_refuses_plain_http_beyond_loopback_and_wants_both_tls_files() {
    let dir = tempfile::tempdir().unwrap();
    let refused = serve_command(dir.path(), &["--listen", "0.0.0.0:0"])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("refusing to serve plain HTTP"), "{stderr}");
    assert!(
        stderr.contains("--tls-cert") && stderr.contains("--insecure-http"),
        "{stderr}"
    );

    let cert = certificate();
    let half = serve_command(
        dir.path(),
        &[
            "--listen",
            "127.0.0.1:0",
            "--tls-cert",
            &cert.cert_file.display().to_string(),
        ],
    )
    .output()
    .unwrap();
    assert!(!half.status.success());
    let stderr = String::from_utf8_lossy(&half.stderr);
    assert!(stderr.contains("--tls-key"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_with_tls_flags_answers_https() {
    use std::io::BufRead;

    let dir = tempfile::tempdir().unwrap();
    let cert = certificate();
    let mut child = serve_command(
        dir.path(),
        &[
            "--listen",
            "127.0.0.1:0",
            "--tls-cert",
            &cert.cert_file.display().to_string(),
            "--tls-key",
            &cert.key_file.display().to_string(),
        ],
    )
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::null())
    .spawn()
    .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr: std::net::SocketAddr = line.trim().parse().unwrap_or_else(|_| {
        let _ = child.kill();
        panic!("no address on the first line: {line:?}")
    });
    let health = trusting(&cert.cert_pem)
        .get(format!("https://localhost:{}/health", addr.port()))
        .send()
        .await;
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(health.unwrap().status(), 200);
}

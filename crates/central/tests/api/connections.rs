//! Slow, idle and malformed clients at the connection level (issue 16, findings 5 and 7): raw TCP
//! sockets, because an HTTP client library would never send half a header line.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{Db, TestApp, TestOptions};

async fn connect(app: &TestApp) -> TcpStream {
    let addr = app.base.trim_start_matches("http://");
    TcpStream::connect(addr).await.expect("connect")
}

/// Reads until the server closes the connection (EOF or reset); returns what it sent and how
/// long that took, or None if it was still open after `within`.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> Option<(Vec<u8>, Duration)> {
    let started = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = within.checked_sub(started.elapsed())?;
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some((got, started.elapsed())),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
}

/// Reads one HTTP/1.1 response with a Content-Length (all the central sends); None if nothing
/// complete arrived within `within`.
async fn response_within(stream: &mut TcpStream, within: Duration) -> Option<(u16, String)> {
    let started = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&got[..end]).to_string();
            let len: usize = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse().ok())?
                })
                .unwrap_or(0);
            if got.len() >= end + 4 + len {
                let status = head.split(' ').nth(1)?.parse().ok()?;
                let body = String::from_utf8_lossy(&got[end + 4..end + 4 + len]).to_string();
                return Some((status, body));
            }
        }
        let left = within.checked_sub(started.elapsed())?;
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => got.extend_from_slice(&buf[..n]),
            _ => return None,
        }
    }
}

const HEALTH: &[u8] = b"GET /health HTTP/1.1\r\nHost: central\r\n\r\n";

async fn header_timeout_closes_slow_clients(db: Db) {
    let app = TestApp::spawn(
        db,
        TestOptions {
            header_read_timeout_ms: Some(1_000),
            ..Default::default()
        },
    )
    .await;
    let mut silent = connect(&app).await;
    let mut blank = connect(&app).await;
    blank.write_all(b"\r\n\r\n").await.unwrap();
    let mut partial = connect(&app).await;
    partial
        .write_all(b"GET /health HTTP/1.1\r\nHost: central\r\nX-Slow: aaa")
        .await
        .unwrap();
    // A kept-alive connection waiting for its next request is let go the same way.
    let mut kept = connect(&app).await;
    kept.write_all(HEALTH).await.unwrap();
    let (status, _) = response_within(&mut kept, Duration::from_secs(5))
        .await
        .expect("health answers");
    assert_eq!(status, 200);
    for (name, stream) in [
        ("silent", &mut silent),
        ("blank lines", &mut blank),
        ("partial header", &mut partial),
        ("kept alive", &mut kept),
    ] {
        let (_, after) = closed_within(stream, Duration::from_secs(4))
            .await
            .unwrap_or_else(|| panic!("{name}: still open 4 s after connecting"));
        assert!(
            after < Duration::from_secs(4),
            "{name}: closed after {after:?}"
        );
    }
    // The server still serves everyone else.
    let mut fresh = connect(&app).await;
    fresh.write_all(HEALTH).await.unwrap();
    let answer = response_within(&mut fresh, Duration::from_secs(5)).await;
    assert_eq!(answer.map(|a| a.0), Some(200));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn header_timeout_closes_slow_clients_sqlite() {
    header_timeout_closes_slow_clients(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn header_timeout_closes_slow_clients_postgres() {
    header_timeout_closes_slow_clients(Db::Postgres).await;
}

async fn idle_timeout_closes_a_stalled_body(db: Db) {
    let app = TestApp::spawn(
        db,
        TestOptions {
            idle_timeout_ms: Some(1_000),
            ..Default::default()
        },
    )
    .await;
    let mut stalled = connect(&app).await;
    stalled
        .write_all(
            // The webhook route reads its body before anything else, so the server waits on it.
            b"POST /webhooks/stripe HTTP/1.1\r\nHost: central\r\nContent-Type: application/json\r\n\
              Content-Length: 100\r\n\r\n{\"id\": \"evt",
        )
        .await
        .unwrap();
    // Without an idle timeout only the 30 s request bound would end it.
    let closed = closed_within(&mut stalled, Duration::from_secs(5)).await;
    assert!(closed.is_some(), "a stalled body held the connection 5 s");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn idle_timeout_closes_a_stalled_body_sqlite() {
    idle_timeout_closes_a_stalled_body(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn idle_timeout_closes_a_stalled_body_postgres() {
    idle_timeout_closes_a_stalled_body(Db::Postgres).await;
}

async fn connections_beyond_the_cap_wait(db: Db) {
    let app = TestApp::spawn(
        db,
        TestOptions {
            connections_max: Some(4),
            ..Default::default()
        },
    )
    .await;
    // An existing client with a kept-alive connection.
    let mut existing = connect(&app).await;
    existing.write_all(HEALTH).await.unwrap();
    let first = response_within(&mut existing, Duration::from_secs(5)).await;
    assert_eq!(first.map(|a| a.0), Some(200));
    // Three half-open connections fill the other slots.
    let mut holders = Vec::new();
    for _ in 0..3 {
        let mut s = connect(&app).await;
        s.write_all(b"GET /health HTTP/1.1\r\nHost: cen")
            .await
            .unwrap();
        holders.push(s);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    // A new client beyond the cap is not served while the slots are taken...
    let mut waiting = connect(&app).await;
    waiting.write_all(HEALTH).await.unwrap();
    assert_eq!(
        response_within(&mut waiting, Duration::from_millis(700)).await,
        None,
        "a fifth connection was served beyond a cap of 4"
    );
    // ...but the existing client still is.
    existing.write_all(HEALTH).await.unwrap();
    let again = response_within(&mut existing, Duration::from_secs(5)).await;
    assert_eq!(again.map(|a| a.0), Some(200));
    // Once a slot frees, the waiting client is served.
    drop(holders.pop());
    let served = response_within(&mut waiting, Duration::from_secs(5)).await;
    assert_eq!(served.map(|a| a.0), Some(200));
    drop(holders);
    drop(existing);
    drop(waiting);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn connections_beyond_the_cap_wait_sqlite() {
    connections_beyond_the_cap_wait(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn connections_beyond_the_cap_wait_postgres() {
    connections_beyond_the_cap_wait(Db::Postgres).await;
}

/// Requests the router sees, however odd, are refused in the JSON error shape.
async fn odd_requests_get_json_errors(db: Db) {
    let app = TestApp::spawn(db, TestOptions::default()).await;
    let cases: &[&[u8]] = &[
        b"BREW /health HTTP/1.1\r\nHost: c\r\n\r\n",
        b"DELETE /v1/orders HTTP/1.1\r\nHost: c\r\n\r\n",
        b"GET /nope/../.. HTTP/1.1\r\nHost: c\r\n\r\n",
        b"OPTIONS * HTTP/1.1\r\nHost: c\r\n\r\n",
        b"GET http://elsewhere/v1/nothing HTTP/1.1\r\nHost: c\r\n\r\n",
        b"GET /v1/orders/%ZZ HTTP/1.1\r\nHost: c\r\nAuthorization: Bearer x\r\n\r\n",
        b"GET /v1/orders?limit=%FF HTTP/1.1\r\nHost: c\r\nAuthorization: Bearer x\r\n\r\n",
        b"GET /v1/flags HTTP/1.1\r\nHost: c\r\nAuthorization: \xff\xfe\r\n\r\n",
        b"POST /v1/results HTTP/1.1\r\nHost: c\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n\r\n",
        b"POST /v1/orders/import HTTP/1.1\r\nHost: c\r\nContent-Length: 1\r\n\r\n{",
        b"GET /health HTTP/1.0\r\n\r\n",
        b"PATCH /webhooks/stripe HTTP/1.1\r\nHost: c\r\n\r\n",
    ];
    for raw in cases {
        let shown = String::from_utf8_lossy(raw);
        let mut s = connect(&app).await;
        s.write_all(raw).await.unwrap();
        let (status, body) = response_within(&mut s, Duration::from_secs(5))
            .await
            .unwrap_or_else(|| panic!("no answer to {shown:?}"));
        if status == 200 {
            continue;
        }
        assert!((400..500).contains(&status), "{shown:?}: {status} {body}");
        let json: serde_json::Value = serde_json::from_str(&body)
            .unwrap_or_else(|_| panic!("{shown:?}: {status} with a non-JSON body {body:?}"));
        assert!(
            json["error"]["code"].is_string() && json["error"]["message"].is_string(),
            "{shown:?}: {json}"
        );
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn odd_requests_get_json_errors_sqlite() {
    odd_requests_get_json_errors(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn odd_requests_get_json_errors_postgres() {
    odd_requests_get_json_errors(Db::Postgres).await;
}

/// What hyper refuses before the router (an unparseable request line or header) still closes
/// the connection with a bare status and no body; the README lists these. The test pins that
/// they are refused as 4xx/5xx and never crash or hang the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn requests_hyper_refuses_are_answered_and_closed() {
    let app = TestApp::spawn(Db::Sqlite, TestOptions::default()).await;
    let cases: &[&[u8]] = &[
        b"GET /he alth HTTP/1.1\r\nHost: c\r\n\r\n",
        b"GET /health HTTP/9.9\r\nHost: c\r\n\r\n",
        b"\x00\x01\x02 garbage\r\n\r\n",
        b"GET /health HTTP/1.1\r\nBad Header: x\r\n\r\n",
        b"POST /v1/results HTTP/1.1\r\nHost: c\r\nContent-Length: x\r\n\r\n",
        b"GET /\x7f HTTP/1.1\r\nHost: c\r\n\r\n",
    ];
    for raw in cases {
        let shown = String::from_utf8_lossy(raw);
        let mut s = connect(&app).await;
        s.write_all(raw).await.unwrap();
        let (got, _) = closed_within(&mut s, Duration::from_secs(5))
            .await
            .unwrap_or_else(|| panic!("{shown:?}: the connection was held open"));
        let head = String::from_utf8_lossy(&got);
        let status: u16 = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        assert!(
            got.is_empty() || (400..=505).contains(&status),
            "{shown:?}: {head}"
        );
    }
    let (status, _) = app.get("/health", "").await;
    assert_eq!(status, 200);
    app.stop().await;
}

/// A handler that panics gets the JSON 500, not a connection closed without a reply (what a
/// debug build's arithmetic overflow used to produce).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_handler_is_answered_with_the_json_500() {
    use axum::routing::get;
    async fn boom() -> &'static str {
        panic!("deliberate panic in a test handler")
    }
    let app = axum::Router::new()
        .route("/boom", get(boom))
        .layer(axum::middleware::from_fn(
            paydesk_central::http::catch_panics,
        ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let resp = reqwest::get(format!("http://{addr}/boom"))
        .await
        .expect("a reply");
    assert_eq!(resp.status().as_u16(), 500);
    let body: serde_json::Value = resp.json().await.expect("a JSON body");
    assert_eq!(body["error"]["code"], "internal", "{body}");
    server.abort();
}

/// Shutdown is not held up by clients that send nothing, half a request or keep a connection
/// open: it finishes well within the header timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn shutdown_is_not_held_by_idle_or_slow_connections() {
    let mut app = TestApp::spawn(Db::Sqlite, TestOptions::default()).await;
    let _silent = connect(&app).await;
    let mut partial = connect(&app).await;
    partial
        .write_all(b"GET /health HTTP/1.1\r\nHost: cen")
        .await
        .unwrap();
    let mut kept = connect(&app).await;
    kept.write_all(HEALTH).await.unwrap();
    let answer = response_within(&mut kept, Duration::from_secs(5)).await;
    assert_eq!(answer.map(|a| a.0), Some(200));
    let started = Instant::now();
    app.shutdown_server().await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "shutdown took {:?}",
        started.elapsed()
    );
    app.stop().await;
}

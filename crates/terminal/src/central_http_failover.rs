//! Unit tests of [`HttpCentral`]'s failover between several centrals: a central that cannot be
//! connected to is skipped, a lost answer is sent on only when the request is idempotent (never a
//! claim), and "unreachable" means every central refused the connection.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use paydesk_core::{OperatorId, OrderId};
use paydesk_engine::{Central as _, CentralError, ClaimRequest};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use super::{HttpCentral, SessionToken, TerminalToken};

fn client(url: &str) -> HttpCentral {
    HttpCentral::new(url, TerminalToken::new("pdt_test")).unwrap()
}

/// A server that answers every request with `head` and `{}`, counting the requests.
async fn counting(head: &'static str) -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&hits);
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let counter = Arc::clone(&counter);
            tokio::spawn(async move {
                let mut request = [0u8; 8192];
                let _ = socket.read(&mut request).await;
                counter.fetch_add(1, Ordering::SeqCst);
                let answer = format!(
                    "{head}\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\
                     connection: close\r\n\r\n{{}}"
                );
                let _ = socket.write_all(answer.as_bytes()).await;
            });
        }
    });
    (format!("http://{addr}"), hits)
}

/// A loopback port nothing listens on.
fn dead_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    format!("http://{}", listener.local_addr().unwrap())
}

#[tokio::test]
async fn a_central_that_cannot_be_connected_to_is_skipped_and_the_next_one_kept() {
    let (live, hits) = counting("HTTP/1.1 200 OK").await;
    let dead = dead_url();
    let central = client(&format!("{dead},{live}"));
    let _: serde_json::Value = central.get_json("/v1/orders").await.unwrap();
    assert_eq!(central.active_url(), live);
    // A claim is sent on when the first central was never reached, too.
    central.set_session(Some(SessionToken::new("pds_test")));
    let _: serde_json::Value = central
        .post_in_session("/v1/orders/o-1/claim", &serde_json::json!({}))
        .await
        .unwrap();
    assert_eq!(hits.load(Ordering::SeqCst), 2);
    // Every central down: unreachable (the offline policy decides).
    let down = client(&format!("{dead},{}", dead_url()));
    match down.get_json::<serde_json::Value>("/v1/orders").await {
        Err(CentralError::Unreachable { .. }) => {}
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_lost_answer_is_sent_to_the_next_central_only_when_sending_twice_is_safe() {
    let (failing, failing_hits) = counting("HTTP/1.1 500 Internal Server Error").await;
    let (live, live_hits) = counting("HTTP/1.1 200 OK").await;
    let central = client(&format!("{failing},{live}"));
    // A read is idempotent: answered by the second central.
    let _: serde_json::Value = central.get_json("/v1/orders").await.unwrap();
    assert_eq!(
        (
            failing_hits.load(Ordering::SeqCst),
            live_hits.load(Ordering::SeqCst)
        ),
        (1, 1)
    );
    assert_eq!(central.active_url(), live);

    // A claim is not: the first central may have granted it. It stays "no answer", and the
    // second central never sees it; the next request starts there.
    let claiming = client(&format!("{failing},{live}"));
    claiming.set_session(Some(SessionToken::new("pds_test")));
    let claim = ClaimRequest {
        order: OrderId::new("o-1").unwrap(),
        operator: OperatorId::new("alice").unwrap(),
        terminal: paydesk_core::TerminalId::new("t1").unwrap(),
    };
    match claiming.claim(&claim).await {
        Err(CentralError::NoAnswer { .. }) => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(failing_hits.load(Ordering::SeqCst), 2);
    assert_eq!(live_hits.load(Ordering::SeqCst), 1, "no second claim");
    assert_eq!(claiming.active_url(), live);

    // A connected central that gives no answer means "not offline", whatever the others do.
    let mixed = client(&format!("{failing},{}", dead_url()));
    match mixed.get_json::<serde_json::Value>("/v1/orders").await {
        Err(CentralError::NoAnswer { .. }) => {}
        other => panic!("{other:?}"),
    }
}

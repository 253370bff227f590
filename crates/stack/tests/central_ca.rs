//! `PAYDESK_CENTRAL_CA` end to end (review M1): a central serving HTTPS with a certificate of its
//! own (made here with rcgen), and the terminal's client, which refuses it until the certificate
//! is named in `PAYDESK_CENTRAL_CA` and then talks to it with its token. One test in this binary:
//! it sets a process environment variable.

use std::time::Duration;

use paydesk_central::server::{load_tls, start_with_tls};
use paydesk_central::{auth, Config, Store};
use paydesk_core::TerminalId;
use paydesk_protocol::OrderPage;
use paydesk_terminal::{HttpCentral, TerminalToken, CENTRAL_CA_ENV};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_terminal_trusts_a_self_signed_central_named_in_central_ca() {
    let dir = tempfile::tempdir().unwrap();
    let made =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
    let cert = dir.path().join("central.pem");
    let key = dir.path().join("central.key");
    std::fs::write(&cert, made.cert.pem()).unwrap();
    std::fs::write(&key, made.key_pair.serialize_pem()).unwrap();

    let store = Store::open(&dir.path().join("central.sqlite").display().to_string())
        .await
        .unwrap();
    let token = auth::new_token();
    let now = paydesk_central::clock::now();
    store
        .add_terminal(
            &TerminalId::new("desk-ca").unwrap(),
            &auth::token_sha256(&token),
            now,
        )
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let central = start_with_tls(
        store.clone(),
        Config::default(),
        None,
        listener,
        Some(load_tls(&cert, &key).unwrap()),
    )
    .unwrap();
    let url = format!("https://localhost:{}", central.addr.port());

    // Without the CA the certificate is not trusted: nothing is sent.
    std::env::remove_var(CENTRAL_CA_ENV);
    let untrusting = HttpCentral::new(&url, TerminalToken::new(token.clone())).unwrap();
    let refused = tokio::time::timeout(
        Duration::from_secs(10),
        untrusting.get_json::<OrderPage>("/v1/orders"),
    )
    .await
    .unwrap();
    assert!(refused.is_err(), "{refused:?}");

    std::env::set_var(CENTRAL_CA_ENV, &cert);
    let trusting = HttpCentral::new(&url, TerminalToken::new(token)).unwrap();
    std::env::remove_var(CENTRAL_CA_ENV);
    let page: OrderPage = trusting.get_json("/v1/orders").await.unwrap();
    assert!(page.orders.is_empty());

    central.shutdown().await;
    store.close().await;
}

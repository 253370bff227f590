//! The terminal's offline copies: the queue and the operator list are cached while the central
//! answers, and used — marked offline — when it does not; PINs are checked against either with
//! one answer for an unknown operator and a wrong PIN.

use std::sync::Arc;

use paydesk_core::{OperatorId, Pin, Timestamp};
use paydesk_engine::{Clock as _, SystemClock};
use paydesk_protocol::Role;
use paydesk_stack::{
    start, StackConfig, DEMO_MANAGER, DEMO_MANAGER_PIN, DEMO_OPERATOR, DEMO_OPERATOR_PIN,
};
use paydesk_terminal::{
    check_pin, fetch_queue, MemorySecretStore, QueueError, SignInError, OPERATORS_CACHE_FILE,
    QUEUE_CACHE_FILE,
};

fn pin(s: &str) -> Pin {
    Pin::parse(s).unwrap()
}

fn id(s: &str) -> OperatorId {
    OperatorId::new(s).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_queue_and_sign_in_keep_working_from_the_cache_while_the_central_is_down() {
    let dir = tempfile::tempdir().unwrap();
    let stack = start(StackConfig::new(
        dir.path(),
        Arc::new(MemorySecretStore::new()),
    ))
    .await
    .unwrap();
    let client = stack.central_client().unwrap();
    let data = dir.path();

    // Online: fresh answers, cached on the side.
    let fetched_at = SystemClock.now();
    let queue = fetch_queue(&client, data, fetched_at).await.unwrap();
    assert!(!queue.offline && queue.cached_at.is_none());
    assert!(queue
        .orders
        .iter()
        .any(|o| o.order_id.as_str() == "demo-1001"));
    assert!(data.join(QUEUE_CACHE_FILE).is_file());

    let now = SystemClock.now();
    let operator = check_pin(
        &client,
        data,
        &id(DEMO_OPERATOR),
        pin(DEMO_OPERATOR_PIN),
        now,
    )
    .await
    .unwrap();
    assert_eq!((operator.role, operator.offline), (Role::Operator, false));
    let manager = check_pin(&client, data, &id(DEMO_MANAGER), pin(DEMO_MANAGER_PIN), now)
        .await
        .unwrap();
    assert_eq!(manager.role, Role::Manager);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(data.join(OPERATORS_CACHE_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the PIN hashes are for this user only");
    }
    for (who, typed) in [(DEMO_OPERATOR, "0000"), ("nobody", DEMO_OPERATOR_PIN)] {
        let refused = check_pin(&client, data, &id(who), pin(typed), now).await;
        assert!(matches!(refused, Err(SignInError::Refused)), "{refused:?}");
    }
    // A malformed PIN never reaches the check: it is not a `Pin`.
    let bad = Pin::parse("12a4");
    assert!(bad.is_err(), "{bad:?}");

    // The central goes away: the cached copies, marked offline.
    stack.shutdown().await;
    let later = Timestamp::from_unix_ms(fetched_at.unix_ms() + 60_000);
    let cached = fetch_queue(&client, data, later).await.unwrap();
    assert!(cached.offline);
    assert_eq!(cached.cached_at, Some(fetched_at));
    assert_eq!(cached.orders, queue.orders);
    let offline = check_pin(
        &client,
        data,
        &id(DEMO_OPERATOR),
        pin(DEMO_OPERATOR_PIN),
        later,
    )
    .await
    .unwrap();
    assert!(offline.offline);
    let refused = check_pin(&client, data, &id(DEMO_OPERATOR), pin("0000"), later).await;
    assert!(matches!(refused, Err(SignInError::Refused)), "{refused:?}");

    // A terminal that never saw the central has nothing to fall back on, and says so.
    let empty = tempfile::tempdir().unwrap();
    let no_queue = fetch_queue(&client, empty.path(), later).await;
    assert!(
        matches!(no_queue, Err(QueueError::UnreachableNoCache { .. })),
        "{no_queue:?}"
    );
    let no_operators = check_pin(
        &client,
        empty.path(),
        &id(DEMO_OPERATOR),
        pin(DEMO_OPERATOR_PIN),
        later,
    )
    .await;
    assert!(
        matches!(no_operators, Err(SignInError::UnreachableNoCache { .. })),
        "{no_operators:?}"
    );
}

//! The terminal's offline copy of the queue: cached while the central answers, and used —
//! marked offline — when it does not; a terminal that never saw the central says so.

use std::sync::Arc;

use paydesk_core::Timestamp;
use paydesk_engine::{Clock as _, SystemClock};
use paydesk_stack::{start, StackConfig};
use paydesk_terminal::{fetch_queue, MemorySecretStore, QueueError, QUEUE_CACHE_FILE};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_queue_keeps_working_from_the_cache_while_the_central_is_down() {
    let dir = tempfile::tempdir().unwrap();
    let stack = start(StackConfig::new(
        dir.path(),
        Arc::new(MemorySecretStore::new()),
    ))
    .await
    .unwrap();
    let client = stack.central_client().unwrap();
    let data = dir.path();

    // Online: fresh answers, cached on the side, for this user only.
    let fetched_at = SystemClock.now();
    let queue = fetch_queue(&client, data, fetched_at).await.unwrap();
    assert!(!queue.offline && queue.cached_at.is_none());
    assert!(queue
        .orders
        .iter()
        .any(|o| o.order_id.as_str() == "demo-1001"));
    assert!(data.join(QUEUE_CACHE_FILE).is_file());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(data.join(QUEUE_CACHE_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // The central goes away: the cached copy, marked offline.
    stack.shutdown().await;
    let later = Timestamp::from_unix_ms(fetched_at.unix_ms() + 60_000);
    let cached = fetch_queue(&client, data, later).await.unwrap();
    assert!(cached.offline);
    assert_eq!(cached.cached_at, Some(fetched_at));
    assert_eq!(cached.orders, queue.orders);

    // A terminal that never saw the central has nothing to fall back on, and says so.
    let empty = tempfile::tempdir().unwrap();
    let no_queue = fetch_queue(&client, empty.path(), later).await;
    assert!(
        matches!(no_queue, Err(QueueError::UnreachableNoCache { .. })),
        "{no_queue:?}"
    );
}

//! The outbox lifecycle: due → failed (not due until next_try_at) → delivered (never due again,
//! never deleted); parked messages are never due and never deleted.

use paydesk_journal::{JournalError, OutboxStats};

use crate::*;

/// A journal with `n` finished attempts, hence `n` outbox messages created at T0+10.., +20.., …
fn with_results(n: u64) -> Fixture {
    let mut f = fixture();
    for i in 0..n {
        let at = T0 + 10 * i as i64;
        let events: Vec<_> = to_confirm_sent(&format!("pi_{i}"))
            .into_iter()
            .chain([succeeded()])
            .collect();
        run(
            &mut f.journal,
            new_attempt(&format!("order-{i}"), "alice", 100, "EUR", at, i),
            at,
            &events,
        );
    }
    f
}

fn due_ids(f: &Fixture, now: i64) -> Vec<i64> {
    f.journal
        .outbox_due(ts(now), 100)
        .unwrap()
        .into_iter()
        .map(|m| m.id)
        .collect()
}

#[test]
fn due_then_failed_then_delivered() {
    let mut f = with_results(3);
    let now = T0 + 1_000;
    let due = f.journal.outbox_due(ts(now), 100).unwrap();
    assert_eq!(due.len(), 3);
    assert!(due.windows(2).all(|w| w[0].id < w[1].id), "oldest first");
    assert!(due
        .iter()
        .all(|m| m.failures == 0 && m.delivered_at.is_none()));
    let ids: Vec<i64> = due.iter().map(|m| m.id).collect();

    // The first two fail: not due again until their next try.
    f.journal.outbox_failed(&ids[..2], ts(now + 5_000)).unwrap();
    assert_eq!(due_ids(&f, now), [ids[2]]);
    assert_eq!(due_ids(&f, now + 4_999), [ids[2]]);
    let again = f.journal.outbox_due(ts(now + 5_000), 100).unwrap();
    assert_eq!(again.iter().map(|m| m.id).collect::<Vec<_>>(), ids);
    assert_eq!(again[0].failures, 1);
    assert_eq!(again[0].next_try_at, ts(now + 5_000));

    // Delivered: never due again, still counted nowhere, still in the file.
    f.journal.outbox_delivered(&ids, ts(now + 6_000)).unwrap();
    assert!(due_ids(&f, now + 1_000_000).is_empty());
    assert_eq!(
        f.journal.outbox_stats(ts(now)).unwrap(),
        OutboxStats {
            depth: 0,
            parked: 0,
            oldest_age_ms: None
        }
    );
    // A late failure report cannot undo a delivery, and a repeated delivery keeps the first time.
    f.journal.outbox_failed(&ids[..1], ts(now + 7_000)).unwrap();
    f.journal
        .outbox_delivered(&ids[..1], ts(now + 8_000))
        .unwrap();
    drop(f.journal);
    let raw = raw(&f.path);
    let rows: Vec<(i64, Option<i64>, i64)> = raw
        .prepare("SELECT id, delivered_at, failures FROM outbox ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        rows,
        [
            (ids[0], Some(now + 6_000), 1),
            (ids[1], Some(now + 6_000), 1),
            (ids[2], Some(now + 6_000), 0)
        ]
    );
    let err = raw.execute("DELETE FROM outbox", []).unwrap_err();
    assert!(err.to_string().contains("never deleted"), "{err}");
}

#[test]
fn parked_messages_are_never_due_and_never_deleted() {
    let mut f = with_results(2);
    let ids = due_ids(&f, T0 + 100);
    f.journal
        .outbox_park(ids[0], "central rejects the payload: schema mismatch")
        .unwrap();
    assert_eq!(due_ids(&f, T0 + 100), [ids[1]]);
    f.journal.outbox_failed(&ids[..1], ts(T0 + 200)).unwrap();
    assert_eq!(
        due_ids(&f, T0 + 10_000_000),
        [ids[1]],
        "a parked message never comes back"
    );
    let stats = f.journal.outbox_stats(ts(T0 + 1_000)).unwrap();
    assert_eq!((stats.depth, stats.parked), (1, 1));

    let err = f.journal.outbox_park(ids[1], "   ").unwrap_err();
    assert!(matches!(err, JournalError::InvalidArgument(_)), "{err}");
    drop(f.journal);
    let count: i64 = raw(&f.path)
        .query_row("SELECT count(*) FROM outbox", [], |r| r.get(0))
        .unwrap();
    assert_eq!(count, 2);
}

#[test]
fn stats_show_depth_and_the_age_of_the_oldest_waiting_message() {
    let mut f = with_results(3);
    let first_created = f.journal.outbox_due(ts(T0 + 100), 1).unwrap()[0].created_at;
    let stats = f.journal.outbox_stats(ts(T0 + 60_000)).unwrap();
    assert_eq!(stats.depth, 3);
    assert_eq!(
        stats.oldest_age_ms,
        Some(T0 + 60_000 - first_created.unix_ms())
    );
    // A clock set back never shows a negative age.
    assert_eq!(
        f.journal.outbox_stats(ts(0)).unwrap().oldest_age_ms,
        Some(0)
    );
    let ids = due_ids(&f, T0 + 100);
    f.journal.outbox_delivered(&ids[..1], ts(T0 + 200)).unwrap();
    let stats = f.journal.outbox_stats(ts(T0 + 60_000)).unwrap();
    assert_eq!(stats.depth, 2);
    assert!(stats.oldest_age_ms.unwrap() < T0 + 60_000 - first_created.unix_ms());
}

#[test]
fn due_respects_the_limit() {
    let f = with_results(4);
    assert_eq!(f.journal.outbox_due(ts(T0 + 100), 2).unwrap().len(), 2);
    assert!(f.journal.outbox_due(ts(T0 + 100), 0).unwrap().is_empty());
    // Not yet due before the message was written.
    assert!(f.journal.outbox_due(ts(T0 - 1), 10).unwrap().is_empty());
}

#[test]
fn an_unknown_id_fails_the_whole_batch() {
    let mut f = with_results(2);
    let ids = due_ids(&f, T0 + 100);
    let err = f
        .journal
        .outbox_delivered(&[ids[0], 999], ts(T0 + 200))
        .unwrap_err();
    assert!(matches!(err, JournalError::NotFound { .. }), "{err}");
    assert_eq!(
        due_ids(&f, T0 + 100),
        ids,
        "the known id was not marked either"
    );
    let err = f
        .journal
        .outbox_failed(&[ids[0], 999], ts(T0 + 200))
        .unwrap_err();
    assert!(matches!(err, JournalError::NotFound { .. }), "{err}");
    assert_eq!(
        f.journal.outbox_due(ts(T0 + 100), 10).unwrap()[0].failures,
        0
    );
    let err = f.journal.outbox_park(999, "why").unwrap_err();
    assert!(matches!(err, JournalError::NotFound { .. }), "{err}");
    let too_many = vec![ids[0]; paydesk_journal::OUTBOX_BATCH_ROWS_MAX + 1];
    let err = f.journal.outbox_delivered(&too_many, ts(T0)).unwrap_err();
    assert!(matches!(err, JournalError::InvalidArgument(_)), "{err}");
}

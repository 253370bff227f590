//! A manager's way back for a parked result (issue 9, finding 5): retry puts it back to waiting,
//! due now; archive keeps it for good with a reason, no longer counted as parked. Both are
//! chained events naming the manager; neither works on a message that is not parked.

use paydesk_core::OperatorId;
use paydesk_journal::{
    JournalError, OutboxListing, OUTBOX_ARCHIVED_KIND, OUTBOX_RETRIED_KIND, ROW_DIGEST_KEY,
};

use crate::*;

/// Two finished attempts with their results parked by the relay.
fn parked_pair() -> (Fixture, Vec<i64>) {
    let mut f = fixture();
    for i in 0..2u64 {
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
    let ids: Vec<i64> = f
        .journal
        .outbox_due(ts(T0 + 100), 10)
        .unwrap()
        .into_iter()
        .map(|m| m.id)
        .collect();
    for id in &ids {
        f.journal
            .outbox_park(*id, "rejected by the central: unknown order")
            .unwrap();
    }
    assert_eq!(f.journal.outbox_stats(ts(T0 + 100)).unwrap().parked, 2);
    (f, ids)
}

fn manager() -> OperatorId {
    OperatorId::new("mgr-maria").unwrap()
}

#[test]
fn a_retried_message_waits_again_due_now_and_the_history_says_who() {
    let (mut f, ids) = parked_pair();
    let now = T0 + 5_000;
    let message = f.journal.outbox_retry(ids[0], &manager(), ts(now)).unwrap();
    assert_eq!(message.parked_reason, None);
    assert_eq!(message.next_try_at, ts(now));
    assert_eq!(message.failures, 0);

    let due: Vec<i64> = f
        .journal
        .outbox_due(ts(now), 10)
        .unwrap()
        .iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(due, [ids[0]]);
    let stats = f.journal.outbox_stats(ts(now)).unwrap();
    assert_eq!((stats.depth, stats.parked), (1, 1));

    let timeline = f.journal.timeline(&message.attempt_id).unwrap();
    let last = timeline.last().unwrap();
    assert_eq!(last.kind, OUTBOX_RETRIED_KIND);
    assert_eq!(last.from_state, Some(last.to_state));
    assert_eq!(last.detail["by"], "mgr-maria");
    assert_eq!(last.detail["outbox_id"], ids[0]);
    assert_eq!(
        last.detail["parked_reason"],
        "rejected by the central: unknown order"
    );
    assert!(last.detail[ROW_DIGEST_KEY].is_string());
    assert!(f.journal.verify().unwrap().is_intact());

    // Not parked any more: a second retry, or an archive, is refused and writes nothing.
    let head = f.journal.head().unwrap();
    let err = f
        .journal
        .outbox_retry(ids[0], &manager(), ts(now + 1))
        .unwrap_err();
    assert!(matches!(err, JournalError::InvalidArgument(_)), "{err}");
    assert!(err.to_string().contains("not parked"), "{err}");
    let err = f
        .journal
        .outbox_archive(ids[0], &manager(), "duplicate", ts(now + 1))
        .unwrap_err();
    assert!(matches!(err, JournalError::InvalidArgument(_)), "{err}");
    assert_eq!(f.journal.head().unwrap(), head);

    // Delivered after the retry: never due again, and a retry is refused.
    f.journal.outbox_delivered(&[ids[0]], ts(now + 2)).unwrap();
    let err = f
        .journal
        .outbox_retry(ids[0], &manager(), ts(now + 3))
        .unwrap_err();
    assert!(err.to_string().contains("already has it"), "{err}");
}

#[test]
fn an_archived_message_is_kept_with_its_reason_and_no_longer_counted() {
    let (mut f, ids) = parked_pair();
    let now = T0 + 7_000;
    let err = f
        .journal
        .outbox_archive(ids[1], &manager(), "   ", ts(now))
        .unwrap_err();
    assert!(matches!(err, JournalError::InvalidArgument(_)), "{err}");

    let message = f
        .journal
        .outbox_archive(
            ids[1],
            &manager(),
            "order cancelled by the customer; refunded by hand",
            ts(now),
        )
        .unwrap();
    assert_eq!(message.archived_at, Some(ts(now)));
    assert_eq!(message.archived_by, Some(manager()));
    assert_eq!(
        message.archive_reason.as_deref(),
        Some("order cancelled by the customer; refunded by hand")
    );
    // Kept: the park reason and the payload are still there.
    assert!(message.parked_reason.is_some());
    assert_eq!(message.payload["state"], "succeeded");

    let stats = f.journal.outbox_stats(ts(now)).unwrap();
    assert_eq!((stats.depth, stats.parked), (0, 1));
    assert!(f
        .journal
        .outbox_due(ts(now + 1_000_000), 10)
        .unwrap()
        .is_empty());
    let parked: Vec<i64> = f
        .journal
        .outbox_list(OutboxListing::Parked, 100)
        .unwrap()
        .iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(parked, [ids[0]]);
    let all = f.journal.outbox_list(OutboxListing::All, 100).unwrap();
    assert_eq!(all.len(), 2);
    assert!(all
        .iter()
        .any(|m| m.id == ids[1] && m.archived_at.is_some()));

    let last = f
        .journal
        .timeline(&message.attempt_id)
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(last.kind, OUTBOX_ARCHIVED_KIND);
    assert_eq!(last.detail["by"], "mgr-maria");
    assert_eq!(
        last.detail["reason"],
        "order cancelled by the customer; refunded by hand"
    );
    assert!(f.journal.verify().unwrap().is_intact());

    // Archived for good: neither a retry nor a second archive.
    for err in [
        f.journal
            .outbox_retry(ids[1], &manager(), ts(now + 1))
            .unwrap_err(),
        f.journal
            .outbox_archive(ids[1], &manager(), "again", ts(now + 1))
            .unwrap_err(),
    ] {
        assert!(err.to_string().contains("archived"), "{err}");
    }

    // An archive marked by hand, with no manager's event behind it, is reported.
    let path = f.path.clone();
    drop(f.journal);
    let raw = raw(&path);
    raw.execute(
        "UPDATE outbox SET archived_at = 1, archived_by = 'nobody', archive_reason = 'x' \
         WHERE id = ?1",
        [ids[0]],
    )
    .unwrap();
    drop(raw);
    let broken = paydesk_journal::Journal::open(&path)
        .unwrap()
        .verify()
        .unwrap()
        .broken
        .unwrap();
    assert_eq!(
        broken.kind,
        paydesk_journal::BreakKind::OutboxTampered,
        "{broken:?}"
    );
    assert!(broken.message.contains("archived"), "{broken:?}");
}

#[test]
fn a_waiting_or_unknown_message_cannot_be_retried_or_archived() {
    let mut f = fixture();
    let events: Vec<_> = to_confirm_sent("pi_w")
        .into_iter()
        .chain([succeeded()])
        .collect();
    run(
        &mut f.journal,
        new_attempt("order-w", "alice", 100, "EUR", T0, 9),
        T0,
        &events,
    );
    let id = f.journal.outbox_due(ts(T0 + 10), 1).unwrap()[0].id;
    let err = f
        .journal
        .outbox_archive(id, &manager(), "no", ts(T0 + 20))
        .unwrap_err();
    assert!(err.to_string().contains("not parked"), "{err}");
    let err = f
        .journal
        .outbox_retry(id + 100, &manager(), ts(T0 + 20))
        .unwrap_err();
    assert!(matches!(err, JournalError::NotFound { .. }), "{err}");
}

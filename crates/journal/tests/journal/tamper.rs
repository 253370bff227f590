//! Tamper evidence: the file is edited with plain SQLite (triggers dropped where they stand in
//! the way) and `verify` must name the first broken link.

use paydesk_core::record::EventRecord;
use paydesk_core::AttemptState;
use paydesk_journal::{BreakKind, BrokenLink, Journal, JournalError};

use crate::*;

/// Three attempts (two finished, one in flight): 12 events. Returns the path and the folder.
fn journal_on_disk() -> (tempfile::TempDir, std::path::PathBuf) {
    let mut f = fixture();
    let ok: Vec<_> = to_confirm_sent("pi_a")
        .into_iter()
        .chain([succeeded()])
        .collect();
    let no: Vec<_> = to_confirm_sent("pi_b")
        .into_iter()
        .chain([declined("do_not_honor")])
        .collect();
    run(
        &mut f.journal,
        new_attempt("order-1", "alice", 100, "EUR", T0, 1),
        T0,
        &ok,
    );
    run(
        &mut f.journal,
        new_attempt("order-2", "bob", 200, "EUR", T0 + 100, 2),
        T0 + 100,
        &no,
    );
    run(
        &mut f.journal,
        new_attempt("order-3", "bob", 300, "EUR", T0 + 200, 3),
        T0 + 200,
        &[created("pi_c")],
    );
    let report = f.journal.verify().unwrap();
    assert!(report.is_intact(), "{report:?}");
    assert_eq!((report.events, report.attempts), (12, 3));
    assert_eq!(
        report.head.as_deref(),
        Some(f.journal.head().unwrap().1.as_str())
    );
    (f.dir, f.path)
}

/// Applies `sql` to the closed journal with the append-only triggers out of the way, then
/// reopens it and returns what `verify` reports.
fn tamper(path: &std::path::Path, sql: &str) -> Option<BrokenLink> {
    let raw = raw(path);
    raw.execute_batch(
        "DROP TRIGGER events_no_update; DROP TRIGGER events_no_delete; \
         DROP TRIGGER attempts_no_delete; DROP TRIGGER outbox_no_delete;",
    )
    .unwrap();
    raw.execute_batch(sql).unwrap();
    drop(raw);
    Journal::open(path).unwrap().verify().unwrap().broken
}

#[test]
fn the_triggers_refuse_to_change_or_delete_history() {
    let (_dir, path) = journal_on_disk();
    let raw = raw(&path);
    let err = raw
        .execute("UPDATE events SET detail = '{}' WHERE seq = 3", [])
        .unwrap_err();
    assert!(err.to_string().contains("append-only"), "{err}");
    let err = raw
        .execute("DELETE FROM events WHERE seq = 12", [])
        .unwrap_err();
    assert!(err.to_string().contains("append-only"), "{err}");
    let err = raw.execute("DELETE FROM attempts", []).unwrap_err();
    assert!(err.to_string().contains("never deleted"), "{err}");
}

#[test]
fn an_edited_event_detail_is_named() {
    let (_dir, path) = journal_on_disk();
    let broken = tamper(
        &path,
        r#"UPDATE events SET detail = '{"forged":true}' WHERE seq = 7"#,
    )
    .unwrap();
    assert_eq!(
        (broken.kind, broken.seq),
        (BreakKind::HashMismatch, Some(7)),
        "{broken:?}"
    );
    assert!(broken.message.contains("event 7"), "{}", broken.message);
}

#[test]
fn an_edited_event_time_is_named() {
    let (_dir, path) = journal_on_disk();
    let broken = tamper(&path, "UPDATE events SET at = at + 1 WHERE seq = 2").unwrap();
    assert_eq!(
        (broken.kind, broken.seq),
        (BreakKind::HashMismatch, Some(2))
    );
}

#[test]
fn a_deleted_event_is_named() {
    let (_dir, path) = journal_on_disk();
    let broken = tamper(&path, "DELETE FROM events WHERE seq = 4").unwrap();
    assert_eq!(
        (broken.kind, broken.seq),
        (BreakKind::Gap, Some(4)),
        "{broken:?}"
    );
}

#[test]
fn a_deleted_last_event_shows_as_a_state_mismatch() {
    let (_dir, path) = journal_on_disk();
    // The tail of the chain has no successor to break; the attempt row still tells.
    let broken = tamper(&path, "DELETE FROM events WHERE seq = 12").unwrap();
    assert_eq!(broken.kind, BreakKind::StateMismatch, "{broken:?}");
}

#[test]
fn a_rewritten_event_with_a_recomputed_hash_breaks_the_next_link() {
    let (_dir, path) = journal_on_disk();
    let raw = raw(&path);
    let (record, prev): (EventRecord, String) = raw
        .query_row(
            "SELECT seq, attempt_id, at, kind, from_state, to_state, detail, prev_hash \
             FROM events WHERE seq = 5",
            [],
            |r| {
                Ok((
                    EventRecord {
                        seq: r.get(0)?,
                        attempt_id: r.get(1)?,
                        at: ts(r.get(2)?),
                        kind: r.get(3)?,
                        from_state: r.get(4)?,
                        to_state: r.get(5)?,
                        detail: r.get(6)?,
                    },
                    r.get(7)?,
                ))
            },
        )
        .unwrap();
    drop(raw);
    let mut forged = record.clone();
    forged.detail = r#"{"event":{"event":"confirm_answered","kind":"declined"}}"#.into();
    let mut prev_bytes = [0u8; 32];
    hex::decode_to_slice(&prev, &mut prev_bytes).unwrap();
    let hash = hex::encode(forged.chain_hash(&prev_bytes));
    let broken = tamper(
        &path,
        &format!(
            "UPDATE events SET detail = '{}', hash = '{hash}' WHERE seq = 5",
            forged.detail
        ),
    )
    .unwrap();
    assert_eq!(
        (broken.kind, broken.seq),
        (BreakKind::PrevMismatch, Some(6)),
        "{broken:?}"
    );
}

#[test]
fn an_altered_attempt_state_is_named() {
    let (_dir, path) = journal_on_disk();
    let id = attempt_id(T0 + 200, 3).to_string();
    let broken = tamper(
        &path,
        &format!("UPDATE attempts SET state = 'registered' WHERE id = '{id}'"),
    )
    .unwrap();
    assert_eq!(broken.kind, BreakKind::StateMismatch, "{broken:?}");
    assert_eq!(broken.attempt_id.as_deref(), Some(id.as_str()));
    assert_eq!(broken.seq, Some(12));
}

#[test]
fn a_record_that_fails_its_check_is_corrupt_on_read() {
    let (_dir, path) = journal_on_disk();
    let id = attempt_id(T0, 1);
    let broken = tamper(
        &path,
        &format!("UPDATE attempts SET confirm_sent_at = NULL WHERE id = '{id}'"),
    )
    .unwrap();
    assert_eq!(broken.kind, BreakKind::BadAttempt, "{broken:?}");
    assert!(
        broken.message.contains("confirm_sent_at"),
        "{}",
        broken.message
    );
    let journal = Journal::open(&path).unwrap();
    let err = journal.attempt(&id).unwrap_err();
    assert!(matches!(err, JournalError::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains(&id.to_string()), "{err}");
}

#[test]
fn a_removed_result_or_a_forged_one_is_named() {
    let (_dir, path) = journal_on_disk();
    let id = attempt_id(T0 + 100, 2).to_string();
    let broken = tamper(
        &path,
        &format!("DELETE FROM outbox WHERE attempt_id = '{id}'"),
    )
    .unwrap();
    assert_eq!(broken.kind, BreakKind::ResultMismatch, "{broken:?}");
    assert_eq!(broken.attempt_id.as_deref(), Some(id.as_str()));

    let (_dir, path) = journal_on_disk();
    let id = attempt_id(T0 + 200, 3).to_string();
    let broken = tamper(
        &path,
        &format!("INSERT INTO outbox (attempt_id, payload, created_at, next_try_at) VALUES ('{id}', '{{}}', 0, 0)"),
    )
    .unwrap();
    assert_eq!(broken.kind, BreakKind::ResultMismatch, "{broken:?}");
}

#[test]
fn a_deleted_attempt_leaves_orphan_events() {
    let (_dir, path) = journal_on_disk();
    let id = attempt_id(T0 + 200, 3).to_string();
    let broken = tamper(
        &path,
        &format!("PRAGMA foreign_keys = OFF; DELETE FROM attempts WHERE id = '{id}'"),
    )
    .unwrap();
    assert_eq!(
        (broken.kind, broken.seq),
        (BreakKind::OrphanEvent, Some(11)),
        "{broken:?}"
    );
}

#[test]
fn an_intact_journal_reopens_and_still_verifies() {
    // Sanity: an intact journal after reopen keeps verifying and its attempts read back.
    let (_dir, path) = journal_on_disk();
    let journal = Journal::open(&path).unwrap();
    assert!(journal.verify().unwrap().is_intact());
    assert_eq!(
        journal.attempt(&attempt_id(T0, 1)).unwrap().unwrap().state,
        AttemptState::Succeeded
    );
}

#[test]
fn a_dropped_guard_trigger_is_named_even_when_nothing_else_changed() {
    let (_dir, path) = journal_on_disk();
    let broken = tamper(&path, "SELECT 1").unwrap();
    assert_eq!(broken.kind, BreakKind::MissingGuard, "{broken:?}");
    assert!(
        broken.message.contains("events_no_update"),
        "{}",
        broken.message
    );
}

/// An offline attempt's "begun" event names the signed grant that allowed it; raising a cap or
/// swapping the grant id or signature in that record breaks the chain at that event.
#[test]
fn an_edited_offline_grant_is_named() {
    let mut f = fixture();
    let mut new = new_attempt("order-9", "alice", 900, "EUR", T0, 9);
    new.offline = true;
    let id = run(&mut f.journal, new, T0, &[created("pi_9")]);
    let begun = f.journal.timeline(&id).unwrap().remove(0);
    assert_eq!(begun.kind, "begun");
    let grant = &begun.detail[paydesk_core::OFFLINE_GRANT_KEY];
    assert_eq!(grant["grant_id"], "grant-7f3a");
    assert_eq!(grant["signature"], offline_grant().signature);
    assert_eq!(grant["approved_by"], "mgr-bo");
    let seq = begun.seq;
    let stored = begun.detail.to_string();
    drop(f.journal);
    for (from, to) in [
        ("grant-7f3a", "grant-0000"),
        ("\"minor\":5000}", "\"minor\":500000}"),
        ("c0ffeec0ffee", "c0ffeec0ffef"),
    ] {
        assert!(stored.contains(from), "{from} in {stored}");
        let copy = tempfile::tempdir().unwrap();
        let path = copy.path().join("journal.sqlite");
        std::fs::copy(&f.path, &path).unwrap();
        let broken = tamper(
            &path,
            &format!(
                "UPDATE events SET detail = replace(detail, '{from}', '{to}') WHERE seq = {seq}"
            ),
        )
        .unwrap();
        assert_eq!(
            (broken.kind, broken.seq),
            (BreakKind::HashMismatch, Some(seq)),
            "{from} -> {to}: {broken:?}"
        );
    }
}

#[test]
fn an_offline_attempt_cannot_begin_without_its_grant() {
    let mut f = fixture();
    let mut new = new_attempt("order-9", "alice", 900, "EUR", T0, 9);
    new.offline = true;
    let err = f.journal.begin_attempt(new.clone(), ts(T0)).unwrap_err();
    assert!(matches!(err, JournalError::InvalidRecord { .. }), "{err}");
    assert!(err.to_string().contains("grant"), "{err}");
    // A grant for another terminal, or a grant on an online attempt: refused too.
    let mut elsewhere = offline_grant();
    elsewhere.terminal_id = paydesk_core::TerminalId::new("till-2").unwrap();
    let err = f
        .journal
        .begin_offline_attempt(new.clone(), &elsewhere, ts(T0))
        .unwrap_err();
    assert!(err.to_string().contains("till-2"), "{err}");
    let mut online = new;
    online.offline = false;
    assert!(f
        .journal
        .begin_offline_attempt(online, &offline_grant(), ts(T0))
        .is_err());
    assert_eq!(f.journal.head().unwrap().0, 0, "nothing was written");
}

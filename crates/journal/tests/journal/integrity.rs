//! Integrity of what recovery and the relay act on (issue 9, finding 3): an `attempts` row or an
//! outbox payload edited with plain SQLite on a closed journal is reported by `verify`, naming
//! the attempt, and by the targeted checks run before acting on it. None of these edits needs a
//! trigger out of the way: the journal itself updates both tables.

use paydesk_core::record::EventRecord;
use paydesk_core::{AttemptId, AttemptState};
use paydesk_journal::{BreakKind, BrokenLink, Journal, OUTBOX_DIGEST_KEY, ROW_DIGEST_KEY};

use crate::*;

/// Attempts in the states recovery and the relay act on: `registered` (recovery confirms it),
/// `confirm_sent` (recovery looks it up), and a declined one with its result in the outbox.
struct OnDisk {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
    registered: AttemptId,
    confirm_sent: AttemptId,
    declined: AttemptId,
}

fn on_disk() -> OnDisk {
    let mut f = fixture();
    let registered = run(
        &mut f.journal,
        new_attempt("order-1", "alice", 100, "EUR", T0, 1),
        T0,
        &[created("pi_1"), super::registered()],
    );
    let confirm_sent = run(
        &mut f.journal,
        new_attempt("order-2", "alice", 200, "EUR", T0 + 100, 2),
        T0 + 100,
        &to_confirm_sent("pi_2"),
    );
    let declined = run(
        &mut f.journal,
        new_attempt("order-3", "bob", 300, "EUR", T0 + 200, 3),
        T0 + 200,
        &to_confirm_sent("pi_3")
            .into_iter()
            .chain([super::declined("do_not_honor")])
            .collect::<Vec<_>>(),
    );
    assert!(f.journal.verify().unwrap().is_intact());
    OnDisk {
        _dir: f.dir,
        path: f.path,
        registered,
        confirm_sent,
        declined,
    }
}

/// Runs `sql` on the closed journal with plain SQLite, reopens it, and returns what `verify`
/// reports.
fn edit(path: &std::path::Path, sql: &str) -> Option<BrokenLink> {
    let raw = raw(path);
    let changed = raw.execute(sql, []).unwrap();
    assert_eq!(changed, 1, "{sql}");
    drop(raw);
    Journal::open(path).unwrap().verify().unwrap().broken
}

fn assert_names(broken: Option<BrokenLink>, kind: BreakKind, attempt: &AttemptId) {
    let broken = broken.expect("verify must report the edit");
    assert_eq!(broken.kind, kind, "{broken:?}");
    assert_eq!(
        broken.attempt_id.as_deref(),
        Some(attempt.to_string().as_str()),
        "{broken:?}"
    );
    assert!(
        broken.message.contains(&attempt.to_string()),
        "{}",
        broken.message
    );
}

#[test]
fn an_attempt_turned_offline_is_reported() {
    let d = on_disk();
    let id = d.registered;
    let broken = edit(
        &d.path,
        &format!("UPDATE attempts SET offline = 1 WHERE id = '{id}'"),
    );
    assert_names(broken, BreakKind::AttemptTampered, &id);
}

#[test]
fn an_attempt_pointed_at_another_intent_is_reported() {
    let d = on_disk();
    let id = d.registered;
    let broken = edit(
        &d.path,
        &format!("UPDATE attempts SET intent_id = 'pi_other' WHERE id = '{id}'"),
    );
    assert_names(broken, BreakKind::AttemptTampered, &id);
}

#[test]
fn an_attempt_with_another_amount_is_reported() {
    let d = on_disk();
    let id = d.registered;
    let broken = edit(
        &d.path,
        &format!("UPDATE attempts SET amount_minor = 100000 WHERE id = '{id}'"),
    );
    assert_names(broken, BreakKind::AttemptTampered, &id);
}

#[test]
fn an_attempt_with_another_confirm_time_is_reported() {
    let d = on_disk();
    let id = d.confirm_sent;
    let broken = edit(
        &d.path,
        &format!(
            "UPDATE attempts SET confirm_sent_at = confirm_sent_at - 86400000 WHERE id = '{id}'"
        ),
    );
    assert_names(broken, BreakKind::AttemptTampered, &id);
}

#[test]
fn an_edited_outbox_payload_is_reported() {
    let d = on_disk();
    let id = d.declined;
    let broken = edit(
        &d.path,
        &format!(
            "UPDATE outbox SET payload = json_set(payload, '$.state', 'succeeded', \
             '$.offline', json('true')) WHERE attempt_id = '{id}'"
        ),
    );
    assert_names(broken, BreakKind::OutboxTampered, &id);
}

#[test]
fn the_targeted_checks_see_the_rows_they_are_asked_about() {
    let d = on_disk();
    let raw = raw(&d.path);
    raw.execute(
        &format!(
            "UPDATE attempts SET offline = 1 WHERE id = '{}'",
            d.registered
        ),
        [],
    )
    .unwrap();
    raw.execute(
        &format!(
            "UPDATE outbox SET payload = json_set(payload, '$.amount.minor', 1) \
             WHERE attempt_id = '{}'",
            d.declined
        ),
        [],
    )
    .unwrap();
    drop(raw);
    let mut journal = Journal::open(&d.path).unwrap();
    assert!(journal.check_attempt(&d.confirm_sent).unwrap().is_none());
    let link = journal.check_attempt(&d.registered).unwrap().unwrap();
    assert_eq!(link.kind, BreakKind::AttemptTampered);
    let ids: Vec<i64> = journal
        .outbox_due(ts(T0 + 1_000), 10)
        .unwrap()
        .into_iter()
        .map(|m| m.id)
        .collect();
    let link = journal.check_outbox(&ids).unwrap().unwrap();
    assert_eq!(link.kind, BreakKind::OutboxTampered);

    // A step never seals an edited row: `apply` refuses, and nothing is written.
    let head = journal.head().unwrap();
    let err = journal
        .apply(
            &d.registered,
            &paydesk_core::AttemptEvent::ConfirmBegun,
            ts(T0 + 2_000),
        )
        .unwrap_err();
    assert!(err.to_string().contains("changed outside Paydesk"), "{err}");
    assert_eq!(journal.head().unwrap(), head);
}

#[test]
fn every_event_seals_the_row_and_a_result_seals_its_payload() {
    let d = on_disk();
    let journal = Journal::open(&d.path).unwrap();
    let events = journal.timeline(&d.declined).unwrap();
    assert!(events
        .iter()
        .all(|e| e.detail[ROW_DIGEST_KEY].as_str().map(str::len) == Some(64)));
    let with_payload: Vec<_> = events
        .iter()
        .filter(|e| e.detail.get(OUTBOX_DIGEST_KEY).is_some())
        .collect();
    assert_eq!(with_payload.len(), 1);
    assert_eq!(with_payload[0].to_state, AttemptState::Declined);
}

/// A journal written before the digests (schema version 2) opens, is sealed by the migration
/// (one `sealed` event per attempt), verifies, and from then on an edit is reported.
#[test]
fn a_journal_from_before_the_digests_is_sealed_at_the_upgrade() {
    let d = on_disk();
    downgrade_to_version_2(&d.path);
    {
        let journal = Journal::open(&d.path).unwrap();
        let report = journal.verify().unwrap();
        assert!(report.is_intact(), "{report:?}");
        let events = journal.timeline(&d.registered).unwrap();
        let last = events.last().unwrap();
        assert_eq!(last.kind, paydesk_journal::SEALED_KIND);
        assert_eq!(last.from_state, Some(AttemptState::Registered));
        assert_eq!(last.to_state, AttemptState::Registered);
        assert!(journal
            .timeline(&d.declined)
            .unwrap()
            .last()
            .unwrap()
            .detail[OUTBOX_DIGEST_KEY]
            .is_string());
        assert_eq!(report.events, 3 + 4 + 5 + 3);
    }
    let broken = edit(
        &d.path,
        &format!(
            "UPDATE attempts SET intent_id = 'pi_other' WHERE id = '{}'",
            d.registered
        ),
    );
    assert_names(broken, BreakKind::AttemptTampered, &d.registered);
}

/// Rewrites the file as the previous build wrote it: event details without digests (the chain
/// re-hashed from the genesis), no archive columns, `user_version` 2.
fn downgrade_to_version_2(path: &std::path::Path) {
    let raw = raw(path);
    raw.execute_batch(
        "DROP TRIGGER events_no_update; \
         ALTER TABLE outbox DROP COLUMN archived_at; \
         ALTER TABLE outbox DROP COLUMN archived_by; \
         ALTER TABLE outbox DROP COLUMN archive_reason; \
         ALTER TABLE attempts DROP COLUMN installment;",
    )
    .unwrap();
    let rows: Vec<(EventRecord, String)> = raw
        .prepare(
            "SELECT seq, attempt_id, at, kind, from_state, to_state, detail FROM events \
             ORDER BY seq",
        )
        .unwrap()
        .query_map([], |r| {
            Ok((
                EventRecord {
                    seq: r.get(0)?,
                    attempt_id: r.get(1)?,
                    at: ts(r.get(2)?),
                    kind: r.get(3)?,
                    from_state: r.get(4)?,
                    to_state: r.get(5)?,
                    detail: String::new(),
                },
                r.get(6)?,
            ))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut prev = paydesk_core::record::GENESIS_HASH;
    for (mut record, detail) in rows {
        let mut detail: serde_json::Value = serde_json::from_str(&detail).unwrap();
        let map = detail.as_object_mut().unwrap();
        map.remove(ROW_DIGEST_KEY);
        map.remove(OUTBOX_DIGEST_KEY);
        record.detail = detail.to_string();
        let hash = record.chain_hash(&prev);
        raw.execute(
            "UPDATE events SET detail = ?2, prev_hash = ?3, hash = ?4 WHERE seq = ?1",
            rusqlite::params![
                record.seq,
                record.detail,
                hex::encode(prev),
                hex::encode(hash)
            ],
        )
        .unwrap();
        prev = hash;
    }
    // The payloads name their events' new hashes, as the old build wrote them.
    raw.execute_batch(
        "UPDATE outbox SET payload = json_set(payload, '$.event_hash', \
           (SELECT hash FROM events WHERE seq = json_extract(outbox.payload, '$.event_seq'))); \
         CREATE TRIGGER events_no_update BEFORE UPDATE ON events BEGIN \
           SELECT RAISE(ABORT, 'journal events are append-only: an event cannot be changed'); \
         END; \
         PRAGMA user_version = 2;",
    )
    .unwrap();
}

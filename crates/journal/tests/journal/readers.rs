//! Readers beside the writer (issue 15): a `JournalReader` opens and reads while the writer holds
//! the lock, even in the middle of a write transaction; it sees exactly what was committed; it
//! never blocks the writer, never changes the file, and refuses files it cannot read as they are.

use std::fs;
use std::sync::{Arc, Mutex};

use paydesk_core::AttemptState;
use paydesk_journal::{
    AttemptFilter, Journal, JournalError, JournalReader, OutboxListing, SCHEMA_VERSION,
};

use crate::*;

fn states(reader: &JournalReader) -> Vec<AttemptState> {
    reader
        .attempts(&AttemptFilter::default())
        .unwrap()
        .iter()
        .map(|a| a.state)
        .collect()
}

#[test]
fn a_reader_reads_committed_rows_while_the_writer_holds_the_lock() {
    let mut f = fixture();
    // The writer holds the lock: a second writer is refused, a reader is not.
    assert!(matches!(
        Journal::open(&f.path).unwrap_err(),
        JournalError::Locked { .. }
    ));
    let reader = JournalReader::open(&f.path).unwrap();
    assert!(states(&reader).is_empty());

    let id = run(
        &mut f.journal,
        new_attempt("order-1", "alice", 4550, "EUR", T0, 1),
        T0,
        &to_confirm_sent("pi_1"),
    );
    // The same open reader sees each commit of the writer, without reopening.
    assert_eq!(states(&reader), [AttemptState::ConfirmSent]);
    f.journal.apply(&id, &succeeded(), ts(T0 + 10)).unwrap();
    assert_eq!(states(&reader), [AttemptState::Succeeded]);
    assert_eq!(reader.timeline(&id).unwrap().len(), 5);
    assert_eq!(
        reader
            .outbox_list(OutboxListing::Undelivered, 10)
            .unwrap()
            .len(),
        1
    );
    assert_eq!(reader.head().unwrap(), f.journal.head().unwrap());
    let report = reader.verify().unwrap();
    assert!(report.is_intact(), "{report:?}");
    assert_eq!((report.events, report.attempts), (5, 1));
    let totals = reader.totals(ts(T0 - DAY_MS), ts(T0 + DAY_MS)).unwrap();
    assert_eq!(totals.len(), 1);
    assert_eq!(totals[0].succeeded, 1);
    // Still only one writer: the reader took no lock, and the writer still holds its own.
    assert!(matches!(
        Journal::open(&f.path).unwrap_err(),
        JournalError::Locked { .. }
    ));
}

/// A reader opened in the middle of a write transaction (the writer stopped just before its
/// commit) opens and reads at once, and sees the journal as it was before that transaction.
#[test]
fn a_reader_does_not_wait_for_an_open_write_and_never_sees_it_half_done() {
    let mut f = fixture();
    run(
        &mut f.journal,
        new_attempt("order-1", "alice", 100, "EUR", T0, 1),
        T0,
        &[],
    );
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let (path, log) = (f.path.clone(), seen.clone());
    f.journal.set_crash_hook(Some(Box::new(move |point| {
        // The writer waits in this hook, on this thread: a reader that needed the writer to
        // finish would fail here (busy) instead of reading.
        let reader = JournalReader::open(&path).unwrap();
        let attempts = reader.attempts(&AttemptFilter::default()).unwrap();
        let states: Vec<&str> = attempts.iter().map(|a| a.state.as_str()).collect();
        log.lock()
            .unwrap()
            .push(format!("{point:?}: {}", states.join(",")));
    })));
    let id = new_attempt("order-2", "bob", 200, "EUR", T0 + 5, 2);
    f.journal.begin_attempt(id, ts(T0 + 5)).unwrap();
    assert_eq!(
        *seen.lock().unwrap(),
        [
            "AfterStateWrite: intent",
            "BeforeCommit: intent",
            "AfterCommit: intent,intent",
        ]
    );
}

/// Reading a closed journal changes nothing in it, and a writer opens and writes while a reader
/// stays open.
#[test]
fn a_reader_changes_nothing_and_never_blocks_the_writer() {
    let mut f = fixture();
    run(
        &mut f.journal,
        new_attempt("order-1", "alice", 100, "EUR", T0, 1),
        T0,
        &to_confirm_sent("pi_1"),
    );
    drop(f.journal);
    let bytes = fs::read(&f.path).unwrap();

    let reader = JournalReader::open(&f.path).unwrap();
    assert_eq!(states(&reader), [AttemptState::ConfirmSent]);
    assert!(reader.verify().unwrap().is_intact());
    assert_eq!(fs::read(&f.path).unwrap(), bytes, "reading wrote nothing");

    let mut writer = Journal::open(&f.path).unwrap();
    let id = reader.attempts(&AttemptFilter::default()).unwrap()[0].id;
    writer.apply(&id, &succeeded(), ts(T0 + 10)).unwrap();
    assert_eq!(states(&reader), [AttemptState::Succeeded]);
    drop(reader);
    drop(writer);
    assert!(JournalReader::open(&f.path)
        .unwrap()
        .verify()
        .unwrap()
        .is_intact());
}

#[test]
fn a_missing_or_uninitialised_journal_is_said_plainly_and_not_created() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.sqlite");
    let err = JournalReader::open(&path).unwrap_err();
    assert!(matches!(err, JournalError::Missing { .. }), "{err}");
    assert!(err.to_string().contains("no journal at"), "{err}");
    assert!(!path.exists(), "reading never creates the journal");
    assert!(fs::read_dir(dir.path()).unwrap().next().is_none());

    // An empty file (a writer that created it and has not initialised it yet).
    fs::write(&path, b"").unwrap();
    let err = JournalReader::open(&path).unwrap_err();
    assert!(matches!(err, JournalError::Missing { .. }), "{err}");
    assert_eq!(fs::read(&path).unwrap(), b"");

    let err = JournalReader::open(dir.path()).unwrap_err();
    assert!(matches!(err, JournalError::NotAJournal { .. }), "{err}");
}

#[test]
fn files_this_build_cannot_read_as_they_are_are_refused_untouched() {
    let f = fixture();
    let path = f.path.clone();
    drop(f.journal);
    let set_version = |v: i64| {
        let raw = raw(&path);
        raw.pragma_update(None, "journal_mode", "DELETE").unwrap();
        raw.pragma_update(None, "user_version", v).unwrap();
    };

    set_version(SCHEMA_VERSION - 1);
    let bytes = fs::read(&path).unwrap();
    let err = JournalReader::open(&path).unwrap_err();
    match &err {
        JournalError::OlderSchema {
            found, supported, ..
        } => assert_eq!((*found, *supported), (SCHEMA_VERSION - 1, SCHEMA_VERSION)),
        other => panic!("expected OlderSchema, got {other}"),
    }
    assert!(err.to_string().contains("bring it up to date"), "{err}");
    assert_eq!(fs::read(&path).unwrap(), bytes, "not migrated by a reader");

    set_version(SCHEMA_VERSION + 1);
    let err = JournalReader::open(&path).unwrap_err();
    assert!(matches!(err, JournalError::NewerSchema { .. }), "{err}");

    let foreign = f.dir.path().join("other.sqlite");
    raw(&foreign)
        .execute_batch("CREATE TABLE customers (id INTEGER PRIMARY KEY);")
        .unwrap();
    let err = JournalReader::open(&foreign).unwrap_err();
    assert!(matches!(err, JournalError::NotAJournal { .. }), "{err}");

    let garbage = f.dir.path().join("garbage.sqlite");
    fs::write(&garbage, vec![0x5a; 8192]).unwrap();
    let err = JournalReader::open(&garbage).unwrap_err();
    assert!(matches!(err, JournalError::Corrupt { .. }), "{err}");
}

/// A reader racing the writer that creates and migrates a new journal sees it missing or whole:
/// never "not a journal" (a version and a schema from different commits), never "older".
#[test]
fn a_reader_racing_the_creation_of_the_journal_sees_it_missing_or_whole() {
    use std::sync::atomic::{AtomicBool, Ordering};

    let (mut missing, mut whole) = (0, 0);
    for round in 0..50u64 {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.sqlite");
        let stop = Arc::new(AtomicBool::new(false));
        let reader = {
            let (path, stop) = (path.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut seen = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    seen.push(JournalReader::open(&path).and_then(|r| r.head()));
                }
                seen
            })
        };
        // As the terminal does: the file is created (empty, private) before SQLite opens it.
        fs::write(&path, b"").unwrap();
        std::thread::sleep(std::time::Duration::from_millis(round % 3));
        let writer = Journal::open(&path).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(3));
        stop.store(true, Ordering::Relaxed);
        for result in reader.join().unwrap() {
            match result {
                Ok(head) => {
                    assert_eq!(head.0, 0);
                    whole += 1;
                }
                Err(JournalError::Missing { .. }) => missing += 1,
                Err(e) => panic!("round {round}: {e}"),
            }
        }
        drop(writer);
    }
    assert!(
        missing > 0 && whole > 0,
        "the race was run: {missing} / {whole}"
    );
}

/// Inside `snapshot`, every read sees one commit: the writer's step committed between two reads
/// is not seen until the snapshot ends (so `verify`, which runs in one, never reads an attempt
/// row and its outbox payload from different commits).
#[test]
fn reads_in_one_snapshot_do_not_straddle_a_commit() {
    let mut f = fixture();
    let id = run(
        &mut f.journal,
        new_attempt("order-1", "alice", 100, "EUR", T0, 1),
        T0,
        &to_confirm_sent("pi_1"),
    );
    let reader = JournalReader::open(&f.path).unwrap();
    let (before, during) = reader
        .snapshot(|j| {
            let before = j.attempt(&id)?.unwrap().state;
            f.journal.apply(&id, &succeeded(), ts(T0 + 10)).unwrap();
            let during = (j.attempt(&id)?.unwrap().state, j.timeline(&id)?.len());
            Ok((before, during))
        })
        .unwrap();
    assert_eq!(before, AttemptState::ConfirmSent);
    assert_eq!(
        during,
        (AttemptState::ConfirmSent, 4),
        "the commit is not seen inside"
    );
    assert_eq!(
        reader.attempt(&id).unwrap().unwrap().state,
        AttemptState::Succeeded,
        "and is seen once the snapshot ends"
    );
    let report = reader.verify().unwrap();
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(report.events, 5);
}

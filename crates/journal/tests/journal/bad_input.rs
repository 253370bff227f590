//! Bad files and hostile environments: garbage, a damaged page, a newer schema, a foreign
//! database, read-only files and folders, a full disk, a second writer. Each is a clear error,
//! and nothing is half-written.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use paydesk_core::AttemptState;
use paydesk_journal::{Journal, JournalError, SCHEMA_VERSION};

use crate::*;

/// Deterministic noise (a linear congruential generator), so a failure reproduces.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed;
    (0..len)
        .map(|_| {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (x >> 56) as u8
        })
        .collect()
}

/// A closed journal with `n` finished attempts (WAL checkpointed into the file on close).
fn closed_journal(n: u64) -> (tempfile::TempDir, PathBuf) {
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
    drop(f.journal);
    assert!(
        !wal_path(&f.path).exists(),
        "closing checkpoints and removes the WAL"
    );
    (f.dir, f.path)
}

fn wal_path(path: &Path) -> PathBuf {
    PathBuf::from(format!("{}-wal", path.display()))
}

#[test]
fn garbage_bytes_are_refused_as_corrupt_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.sqlite");
    let bytes = noise(64 * 1024, 1);
    fs::write(&path, &bytes).unwrap();
    let err = Journal::open(&path).unwrap_err();
    assert!(matches!(err, JournalError::Corrupt { .. }), "{err}");
    let message = err.to_string();
    assert!(
        message.contains("journal.sqlite") && message.contains("stop charging"),
        "{message}"
    );
    assert_eq!(fs::read(&path).unwrap(), bytes);
}

#[test]
fn a_damaged_page_is_found_by_quick_check() {
    let (_dir, path) = closed_journal(40);
    let (root, page_size): (i64, i64) = {
        let raw = raw(&path);
        (
            raw.query_row(
                "SELECT rootpage FROM sqlite_schema WHERE name = 'events'",
                [],
                |r| r.get(0),
            )
            .unwrap(),
            raw.query_row("PRAGMA page_size", [], |r| r.get(0)).unwrap(),
        )
    };
    let mut bytes = fs::read(&path).unwrap();
    let start = ((root - 1) * page_size) as usize;
    bytes[start..start + page_size as usize].copy_from_slice(&noise(page_size as usize, 2));
    fs::write(&path, &bytes).unwrap();

    let err = Journal::open(&path).unwrap_err();
    assert!(matches!(err, JournalError::Corrupt { .. }), "{err}");
    assert_eq!(
        fs::read(&path).unwrap(),
        bytes,
        "a damaged file is not modified"
    );
}

#[test]
fn a_journal_from_a_newer_schema_is_refused_and_not_modified() {
    let (_dir, path) = closed_journal(2);
    {
        let raw = raw(&path);
        raw.pragma_update(None, "journal_mode", "DELETE").unwrap();
        raw.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
    }
    let bytes = fs::read(&path).unwrap();
    let err = Journal::open(&path).unwrap_err();
    match &err {
        JournalError::NewerSchema {
            found, supported, ..
        } => {
            assert_eq!((*found, *supported), (SCHEMA_VERSION + 1, SCHEMA_VERSION));
        }
        other => panic!("expected NewerSchema, got {other}"),
    }
    assert!(err.to_string().contains("update Paydesk"), "{err}");
    assert_eq!(fs::read(&path).unwrap(), bytes);
    assert!(!wal_path(&path).exists(), "not even switched to WAL");
}

#[test]
fn a_foreign_database_is_not_a_journal() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("other.sqlite");
    raw(&path)
        .execute_batch("CREATE TABLE customers (id INTEGER PRIMARY KEY);")
        .unwrap();
    let err = Journal::open(&path).unwrap_err();
    assert!(matches!(err, JournalError::NotAJournal { .. }), "{err}");

    let path = dir.path().join("versioned.sqlite");
    raw(&path).pragma_update(None, "user_version", 3).unwrap();
    let err = Journal::open(&path).unwrap_err();
    assert!(matches!(err, JournalError::NotAJournal { .. }), "{err}");
}

#[test]
fn a_second_open_is_locked_until_the_first_is_dropped() {
    let f = fixture();
    let err = Journal::open(&f.path).unwrap_err();
    assert!(matches!(err, JournalError::Locked { .. }), "{err}");
    let message = err.to_string();
    assert!(message.contains(&f.path.display().to_string()), "{message}");
    assert!(
        message.contains(&format!("process {}", std::process::id())),
        "{message}"
    );
    drop(f.journal);
    let journal = Journal::open(&f.path).unwrap();
    assert!(journal.verify().unwrap().is_intact());
}

#[test]
fn a_missing_folder_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let err = Journal::open(&dir.path().join("no/such/folder/journal.sqlite")).unwrap_err();
    assert!(matches!(err, JournalError::CannotOpen { .. }), "{err}");
}

/// Makes a file or folder unwritable for this process and undoes it on drop. Root ignores
/// permission bits, so it falls back to the immutable attribute; if neither works here the test
/// is skipped (with a note), never passed vacuously.
struct Unwritable(PathBuf);

impl Unwritable {
    fn new(path: &Path) -> Option<Unwritable> {
        let guard = Unwritable(path.to_path_buf());
        set_mode(path, if path.is_dir() { 0o555 } else { 0o444 });
        if writable(path) {
            let _ = Command::new("chattr").arg("+i").arg(path).status();
        }
        if writable(path) {
            eprintln!(
                "SKIPPED: cannot make {} unwritable on this machine",
                path.display()
            );
            return None;
        }
        Some(guard)
    }
}

impl Drop for Unwritable {
    fn drop(&mut self) {
        let _ = Command::new("chattr").arg("-i").arg(&self.0).status();
        set_mode(&self.0, if self.0.is_dir() { 0o755 } else { 0o644 });
    }
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

fn writable(path: &Path) -> bool {
    if path.is_dir() {
        let probe = path.join(".probe");
        let ok = fs::File::create(&probe).is_ok();
        let _ = fs::remove_file(probe);
        ok
    } else {
        fs::OpenOptions::new().append(true).open(path).is_ok()
    }
}

#[test]
fn a_read_only_file_is_refused_at_open() {
    let (_dir, path) = closed_journal(1);
    let before = fs::read(&path).unwrap();
    let Some(_guard) = Unwritable::new(&path) else {
        return;
    };
    let err = Journal::open(&path).unwrap_err();
    assert!(matches!(err, JournalError::ReadOnly { .. }), "{err}");
    assert!(err.to_string().contains("writable"), "{err}");
    assert_eq!(fs::read(&path).unwrap(), before);
}

#[test]
fn a_read_only_folder_is_refused_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let Some(_guard) = Unwritable::new(dir.path()) else {
        return;
    };
    let err = Journal::open(&dir.path().join("journal.sqlite")).unwrap_err();
    assert!(matches!(err, JournalError::ReadOnly { .. }), "{err}");
}

#[test]
fn an_existing_journal_in_a_read_only_folder_is_refused_at_open() {
    let (dir, path) = closed_journal(1);
    let Some(_guard) = Unwritable::new(dir.path()) else {
        return;
    };
    let err = Journal::open(&path).unwrap_err();
    // The lock file is there from before; SQLite then cannot create its WAL files.
    assert!(matches!(err, JournalError::CannotOpen { .. }), "{err}");
    assert!(err.to_string().contains("writable"), "{err}");
}

/// Fills the journal until the disk (or the size cap) is full; returns the error and the head
/// before the failed write.
fn fill(journal: &mut Journal, first: u64) -> (JournalError, (i64, String), u64) {
    for i in first..first + 100_000 {
        let head = journal.head().unwrap();
        let at = T0 + i as i64;
        match journal.begin_attempt(
            new_attempt(&format!("fill-{i}"), "alice", 1, "EUR", at, i),
            ts(at),
        ) {
            Ok(_) => {}
            Err(e) => return (e, head, i),
        }
    }
    panic!("the journal never filled up");
}

#[test]
fn a_full_disk_is_a_clear_error_and_writes_nothing() {
    let mut f = fixture();
    let id = run(
        &mut f.journal,
        new_attempt("order-1", "alice", 100, "EUR", T0, 0),
        T0,
        &to_confirm_sent("pi_1"),
    );
    f.journal.cap_size_for_tests(0).unwrap();
    let (err, head, failed) = fill(&mut f.journal, 1);
    assert!(matches!(err, JournalError::DiskFull { .. }), "{err}");
    assert!(err.to_string().contains("nothing was written"), "{err}");
    assert_eq!(f.journal.head().unwrap(), head);
    assert_eq!(
        f.journal
            .attempt(&attempt_id(T0 + failed as i64, failed))
            .unwrap(),
        None
    );

    // Whatever the terminal step does on a full disk, it is all or nothing.
    match f.journal.apply(&id, &succeeded(), ts(T0 + 999)) {
        Ok(_) => assert_eq!(f.journal.outbox_stats(ts(T0)).unwrap().depth, 1),
        Err(e) => {
            assert!(matches!(e, JournalError::DiskFull { .. }), "{e}");
            assert_eq!(
                f.journal.attempt(&id).unwrap().unwrap().state,
                AttemptState::ConfirmSent
            );
            assert_eq!(f.journal.outbox_stats(ts(T0)).unwrap().depth, 0);
        }
    }
    assert!(f.journal.verify().unwrap().is_intact());

    // With space again (the cap ends with the connection), writing resumes.
    drop(f.journal);
    let mut journal = Journal::open(&f.path).unwrap();
    journal
        .begin_attempt(new_attempt("after", "alice", 1, "EUR", T0, 999_999), ts(T0))
        .unwrap();
    assert!(journal.verify().unwrap().is_intact());
}

/// A tiny tmpfs mounted for one test, unmounted on drop.
struct TinyDisk(PathBuf);

impl TinyDisk {
    fn mount(at: &Path, size: &str) -> Option<TinyDisk> {
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !ok {
            eprintln!("SKIPPED: cannot mount a tmpfs here (needs root)");
            return None;
        }
        Some(TinyDisk(at.to_path_buf()))
    }
}

impl Drop for TinyDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_really_full_disk_is_a_clear_error_and_the_journal_survives() {
    let dir = tempfile::tempdir().unwrap();
    let Some(_disk) = TinyDisk::mount(dir.path(), "512k") else {
        return;
    };
    let path = dir.path().join("journal.sqlite");
    let mut journal = Journal::open(&path).unwrap();
    let (err, head, _) = fill(&mut journal, 0);
    assert!(matches!(err, JournalError::DiskFull { .. }), "{err}");
    assert_eq!(journal.head().unwrap(), head);
    drop(journal);
    let journal = Journal::open(&path).unwrap();
    assert_eq!(journal.head().unwrap(), head);
    assert!(journal.verify().unwrap().is_intact());
}

//! The journal opened for reading only: a manager's review (list, show, export, totals, verify,
//! the outbox list) beside the one process that charges from the same file.
//!
//! SQLite's WAL lets any number of readers run beside one writer, each reading the last committed
//! state; so a reader takes no writer lock, opens the file with `SQLITE_OPEN_READ_ONLY` (and
//! `query_only` on top), runs no migration and sets no persistent pragma. What it checks is what
//! the writer checks before trusting a file — ours, intact (`quick_check`), of a known schema —
//! except that it needs exactly this build's schema: it cannot bring an older file up to date.
//!
//! Deliberately absent: any way to write. [`JournalReader`] derefs to [`Journal`] so the same
//! query code serves both, but only as `&Journal`, and every write takes `&mut Journal`.

use std::ops::Deref;
use std::path::Path;

use rusqlite::{Connection, OpenFlags};

use crate::error::db;
use crate::{schema, Journal, JournalError, VerifyReport};

/// A journal opened read-only, without the writer's lock. Reads see every transaction committed
/// before each statement starts (a charge in flight shows its last durable step).
#[derive(Debug)]
pub struct JournalReader {
    journal: Journal,
}

impl JournalReader {
    /// Opens the journal at `path` for reading. Never creates, migrates or locks it; works while
    /// another process holds the writer lock and charges.
    ///
    /// Errors: [`JournalError::Missing`] when there is no journal there yet (nothing charged on
    /// this terminal); `NotAJournal`, `Corrupt`, `NewerSchema` or `OlderSchema` for a file this
    /// build cannot read as it is.
    pub fn open(path: &Path) -> Result<JournalReader, JournalError> {
        match std::fs::metadata(path) {
            Ok(meta) if meta.is_file() => {}
            Ok(_) => {
                return Err(JournalError::NotAJournal {
                    path: path.to_path_buf(),
                    detail: "it is a folder, not a file".into(),
                })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(JournalError::Missing {
                    path: path.to_path_buf(),
                })
            }
            Err(e) => {
                return Err(JournalError::Io {
                    path: path.to_path_buf(),
                    context: "looking for the journal",
                    source: e,
                })
            }
        }
        // Read-only: SQLite refuses every write on this connection. In WAL mode it still maps the
        // writer's `-shm` index (creating it if no writer has yet), which is how it sees the
        // writer's commits without waiting for a checkpoint.
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(db(path, "opening"))?;
        schema::prepare_read(&conn, path)?;
        Ok(JournalReader {
            journal: Journal {
                conn,
                path: path.to_path_buf(),
                lock: None,
                crash_hook: None,
            },
        })
    }
}

impl JournalReader {
    /// Runs `read` in one read transaction: every query in it sees the journal as of one commit,
    /// whatever the writer commits meanwhile (without it, each statement sees the latest commit,
    /// so two related reads could straddle a step of a charge in flight).
    pub fn snapshot<T>(
        &self,
        read: impl FnOnce(&Journal) -> Result<T, JournalError>,
    ) -> Result<T, JournalError> {
        let path = &self.journal.path;
        let tx = self
            .journal
            .conn
            .unchecked_transaction()
            .map_err(db(path, "starting a read transaction"))?;
        let out = read(&self.journal)?;
        // Nothing was written; ending the transaction only releases the snapshot.
        tx.rollback()
            .map_err(db(path, "ending a read transaction"))?;
        Ok(out)
    }

    /// [`Journal::verify`] in one snapshot: its checks span many statements, and a charge
    /// committing between two of them (an attempt row and its outbox payload moving on) must not
    /// read as a broken journal.
    pub fn verify(&self) -> Result<VerifyReport, JournalError> {
        self.snapshot(Journal::verify)
    }
}

impl Deref for JournalReader {
    type Target = Journal;

    fn deref(&self) -> &Journal {
        &self.journal
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The connection itself refuses writes (not only the type): a bug that reached it through
    /// some `&self` path would still write nothing.
    #[test]
    fn the_connection_refuses_every_write() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.sqlite");
        let writer = Journal::open(&path).unwrap();
        let reader = JournalReader::open(&path).unwrap();
        assert!(reader
            .conn
            .is_readonly(rusqlite::DatabaseName::Main)
            .unwrap());
        for sql in [
            "CREATE TABLE x (a INTEGER)",
            "UPDATE outbox SET failures = 1",
            "PRAGMA user_version = 99",
        ] {
            let err = reader.conn.execute_batch(sql).unwrap_err();
            let code = err.sqlite_error_code();
            assert!(
                matches!(code, Some(rusqlite::ErrorCode::ReadOnly)),
                "{sql}: {err} ({code:?})"
            );
        }
        let version: i64 = writer
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(version, crate::SCHEMA_VERSION);
        assert!(reader.lock.is_none(), "a reader holds no writer lock");
    }
}

//! The journal's error type, and the one place where SQLite's error codes are translated into
//! what went wrong in the caller's terms and what to do about it.
//!
//! Deliberately absent: any mapping to HTTP or to the UI; the shell does that once, at its edge.

use std::io;
use std::path::{Path, PathBuf};

use paydesk_core::attempt::Refused;
use rusqlite::ErrorCode;

/// Everything that can go wrong with a journal. Every message says what was wrong and what to do;
/// none of them means that part of a change was written (every write is one transaction).
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error(
        "journal {path} is damaged ({detail}); stop charging, keep the file untouched for \
         inspection, and restore it from a backup or have a manager reconcile it with the gateway"
    )]
    Corrupt { path: PathBuf, detail: String },

    #[error("{path} is not a Paydesk journal ({detail}); choose another file for the journal")]
    NotAJournal { path: PathBuf, detail: String },

    #[error(
        "journal {path} was written by a newer Paydesk (schema version {found}; this build \
         knows up to {supported}); it was not modified: update Paydesk to open it"
    )]
    NewerSchema {
        path: PathBuf,
        found: i64,
        supported: i64,
    },

    #[error(
        "journal {path} was written by an older Paydesk (schema version {found}; this build \
         reads version {supported}); it was not modified: open it once for charging (the desktop \
         or `paydesk recover`) to bring it up to date, then read it again"
    )]
    OlderSchema {
        path: PathBuf,
        found: i64,
        supported: i64,
    },

    #[error(
        "there is no journal at {path} yet: the first charge on this terminal creates it (check \
         the data directory or journal path if you expected one there)"
    )]
    Missing { path: PathBuf },

    #[error(
        "journal {path} is already open for charging in another Paydesk window or process \
         ({holder}); one program at a time charges from a journal: close it there, or wait for \
         it to exit, then try again (reading the journal works meanwhile)"
    )]
    Locked { path: PathBuf, holder: String },

    #[error(
        "journal {path} cannot be written ({detail}); make the file and its folder writable, or \
         choose a writable location"
    )]
    ReadOnly { path: PathBuf, detail: String },

    #[error(
        "cannot open or create the journal files for {path} ({detail}); make sure the folder \
         exists and is writable"
    )]
    CannotOpen { path: PathBuf, detail: String },

    #[error(
        "the disk holding journal {path} is full; nothing was written: free some space, then \
         retry the same step"
    )]
    DiskFull { path: PathBuf },

    #[error(
        "{0}; nothing was written: reload the attempt and decide again from its current state"
    )]
    Refused(#[from] Refused),

    #[error("{what} is not in the journal")]
    NotFound { what: String },

    #[error("attempt {id} is already in the journal; nothing was written: an attempt begins once")]
    Duplicate { id: String },

    #[error(
        "refusing to write attempt {id}: {problem}; nothing was written. This is a bug: report it \
         with the journal file"
    )]
    InvalidRecord { id: String, problem: String },

    #[error("invalid request to the journal: {0}")]
    InvalidArgument(String),

    #[error("journal {path}: {context}: {source}")]
    Io {
        path: PathBuf,
        context: &'static str,
        #[source]
        source: io::Error,
    },

    #[error(
        "journal {path}: unexpected database error while {context}: {source}; nothing was \
         written: retry, and report it if it happens again"
    )]
    Sqlite {
        path: PathBuf,
        context: &'static str,
        #[source]
        source: rusqlite::Error,
    },
}

impl JournalError {
    /// A stable, machine-readable name for the kind of error (for the UI and for logs).
    pub fn code(&self) -> &'static str {
        match self {
            JournalError::Corrupt { .. } => "corrupt",
            JournalError::NotAJournal { .. } => "not_a_journal",
            JournalError::NewerSchema { .. } => "newer_schema",
            JournalError::OlderSchema { .. } => "older_schema",
            JournalError::Missing { .. } => "missing",
            JournalError::Locked { .. } => "locked",
            JournalError::ReadOnly { .. } => "read_only",
            JournalError::CannotOpen { .. } => "cannot_open",
            JournalError::DiskFull { .. } => "disk_full",
            JournalError::Refused(_) => "refused",
            JournalError::NotFound { .. } => "not_found",
            JournalError::Duplicate { .. } => "duplicate",
            JournalError::InvalidRecord { .. } => "invalid_record",
            JournalError::InvalidArgument(_) => "invalid_argument",
            JournalError::Io { .. } => "io",
            JournalError::Sqlite { .. } => "database",
        }
    }

    /// Translates a SQLite error met while `context` into the caller's terms.
    pub(crate) fn from_sqlite(path: &Path, context: &'static str, e: rusqlite::Error) -> Self {
        let path = path.to_path_buf();
        match e.sqlite_error_code() {
            Some(ErrorCode::DiskFull) => JournalError::DiskFull { path },
            Some(ErrorCode::ReadOnly) => JournalError::ReadOnly {
                path,
                detail: e.to_string(),
            },
            Some(ErrorCode::DatabaseCorrupt) | Some(ErrorCode::NotADatabase) => {
                JournalError::Corrupt {
                    path,
                    detail: e.to_string(),
                }
            }
            Some(ErrorCode::CannotOpen) | Some(ErrorCode::PermissionDenied) => {
                JournalError::CannotOpen {
                    path,
                    detail: e.to_string(),
                }
            }
            // We hold the single-writer lock, so only a foreign program (a sqlite3 shell, a
            // backup tool) can hold SQLite's own locks long enough to get here.
            Some(ErrorCode::DatabaseBusy) | Some(ErrorCode::DatabaseLocked) => {
                JournalError::Locked {
                    path,
                    holder: format!("another program holds the database lock: {e}"),
                }
            }
            _ => JournalError::Sqlite {
                path,
                context,
                source: e,
            },
        }
    }
}

/// Shorthand for `map_err` at every SQLite call: `.map_err(db(path, "reading attempts"))`.
pub(crate) fn db<'a>(
    path: &'a Path,
    context: &'static str,
) -> impl FnOnce(rusqlite::Error) -> JournalError + 'a {
    move |e| JournalError::from_sqlite(path, context, e)
}

/// A row that cannot be turned back into a valid record: the file was damaged or edited.
pub(crate) fn corrupt(path: &Path, detail: impl Into<String>) -> JournalError {
    JournalError::Corrupt {
        path: path.to_path_buf(),
        detail: detail.into(),
    }
}

//! The desk: the shell's window-free side. It owns the journal for the life of the process and
//! answers the UI's questions about it.
//!
//! Nothing here knows about Tauri: the commands in `lib.rs` adapt these methods, and tests call
//! them directly. It deliberately does not charge, recover or sync anything yet — that is the
//! engine's job, and the engine will live in its own crate.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use paydesk_core::{Attempt, Timestamp};
use paydesk_journal::{AttemptFilter, BreakKind, Journal, JournalError};
use serde::Serialize;

use crate::error::{log_detail, UiError, UiErrorKind};

/// The app's handle on its journal; cheap to clone (every clone shares one journal).
#[derive(Debug, Clone)]
pub struct Desk {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// The journal file, shown to people so they know which file a message is about; `None` when
    /// not even the app data directory could be found.
    path: Option<PathBuf>,
    /// Opened at start-up and kept until the process exits: the journal's file lock is what stops
    /// a second Paydesk from writing the same file. `Err` keeps why the last open failed, so the
    /// app shows it instead of crashing; the next command tries to open it again (after the
    /// person did what the message said, e.g. closed the other Paydesk).
    journal: Mutex<Result<Journal, OpenFailure>>,
}

/// Why the journal is not available, already phrased for people.
#[derive(Debug, Clone)]
pub struct OpenFailure {
    error: UiError,
}

impl OpenFailure {
    pub fn no_data_dir(detail: String) -> OpenFailure {
        log_detail("no app data directory", &detail);
        OpenFailure {
            error: UiError::new(
                UiErrorKind::JournalUnavailable,
                "Paydesk could not find a folder for its journal on this computer.",
                format!(
                    "Set {} to the journal file's path and restart Paydesk.",
                    crate::JOURNAL_ENV
                ),
            ),
        }
    }

    pub fn create_dir(dir: &Path, error: std::io::Error) -> OpenFailure {
        log_detail(&format!("creating {}", dir.display()), &error.to_string());
        OpenFailure {
            error: UiError::new(
                UiErrorKind::JournalUnavailable,
                format!(
                    "Paydesk could not create its data folder {}.",
                    dir.display()
                ),
                "Check that the folder can be written by your user account, then restart Paydesk.",
            ),
        }
    }

    fn open(path: &Path, error: &JournalError) -> OpenFailure {
        log_detail(&format!("opening {}", path.display()), &error.to_string());
        OpenFailure {
            error: journal_error_for_people(path, error),
        }
    }
}

/// The UI's wording for a journal error. The journal's own messages are precise but carry SQLite
/// and file-system details, so they go to the log; people get one sentence per kind of trouble and
/// what to do next.
fn journal_error_for_people(path: &Path, error: &JournalError) -> UiError {
    let path = path.display();
    match error {
        JournalError::Locked { .. } => UiError::new(
            UiErrorKind::JournalLocked,
            format!("The journal {path} is in use by another Paydesk window or process."),
            "Close the other Paydesk, then press Try again.",
        ),
        JournalError::ReadOnly { .. } | JournalError::CannotOpen { .. } => UiError::new(
            UiErrorKind::JournalUnavailable,
            format!("Paydesk cannot write its journal {path}."),
            "Make sure the file and its folder are writable by your user account, then press Try \
             again.",
        ),
        JournalError::DiskFull { .. } => UiError::new(
            UiErrorKind::JournalUnavailable,
            format!("The disk holding the journal {path} is full."),
            "Free some disk space, then press Try again. Nothing was lost.",
        ),
        JournalError::NewerSchema { .. } => UiError::new(
            UiErrorKind::JournalUnavailable,
            format!("The journal {path} was written by a newer version of Paydesk."),
            "Update Paydesk on this computer; the journal was not changed.",
        ),
        JournalError::Corrupt { .. } | JournalError::NotAJournal { .. } => UiError::new(
            UiErrorKind::JournalDamaged,
            format!("The journal {path} is damaged or is not a Paydesk journal."),
            "Stop charging on this terminal and call your manager. Do not delete or move the file: \
             it is the record of every charge.",
        ),
        _ => UiError::new(
            UiErrorKind::JournalRead,
            format!("Paydesk could not read its journal {path}."),
            "Try again. If it keeps failing, restart Paydesk and tell your manager.",
        ),
    }
}

/// One attempt as the UI shows it: the journal's record plus what the UI needs to display the
/// amount without knowing currencies itself.
#[derive(Debug, Clone, Serialize)]
pub struct AttemptView {
    #[serde(flatten)]
    pub attempt: Attempt,
    /// Digits after the decimal point of the amount's currency (2 for EUR, 0 for JPY). Sent so
    /// the UI formats minor units with the core's currency table instead of keeping its own.
    pub amount_exponent: u8,
}

impl From<Attempt> for AttemptView {
    fn from(attempt: Attempt) -> Self {
        let amount_exponent = attempt.amount.currency().exponent();
        AttemptView {
            attempt,
            amount_exponent,
        }
    }
}

/// The journal's health as the UI shows it in its status line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JournalStatus {
    /// The journal file.
    pub path: String,
    /// True when the hash chain and every attempt's history verify.
    pub verified: bool,
    /// Where verification found the first problem: the event's sequence number, when there is one.
    pub broken_at_seq: Option<i64>,
    /// What kind of damage it is (`BreakKind` in snake_case), for the manager's screen.
    pub broken_kind: Option<BreakKind>,
    /// Events checked by the verification.
    pub events_checked: i64,
    /// Results waiting in the outbox for the central.
    pub outbox_depth: i64,
    /// Results set aside for a person (never delivered automatically).
    pub outbox_parked: i64,
    /// Age of the oldest waiting result, in milliseconds.
    pub outbox_oldest_age_ms: Option<i64>,
}

impl Desk {
    /// Opens the journal at `path`. A failure is kept, not returned: see [`Inner::journal`].
    pub fn open(path: PathBuf) -> Desk {
        let journal = Journal::open(&path).map_err(|e| OpenFailure::open(&path, &e));
        Desk {
            inner: Arc::new(Inner {
                path: Some(path),
                journal: Mutex::new(journal),
            }),
        }
    }

    /// A desk without a journal, for when not even its path could be worked out.
    pub fn unavailable(failure: OpenFailure) -> Desk {
        Desk {
            inner: Arc::new(Inner {
                path: None,
                journal: Mutex::new(Err(failure)),
            }),
        }
    }

    /// Runs `work` on a blocking thread: journal calls wait on the disk and must not hold up an
    /// async worker (or, worse, the main thread that draws the window).
    pub async fn run_blocking<T, F>(self, work: F) -> Result<T, UiError>
    where
        T: Send + 'static,
        F: FnOnce(&Desk) -> Result<T, UiError> + Send + 'static,
    {
        tauri::async_runtime::spawn_blocking(move || work(&self))
            .await
            .unwrap_or_else(|e| Err(UiError::internal(&format!("journal worker failed: {e}"))))
    }

    /// Every attempt, newest first.
    pub fn list_attempts(&self) -> Result<Vec<AttemptView>, UiError> {
        let attempts = self.with_journal(|j| j.attempts(&AttemptFilter::default()))?;
        Ok(attempts.into_iter().map(AttemptView::from).collect())
    }

    /// Verifies the hash chain and reads the outbox's depth at `now`.
    pub fn status(&self, now: Timestamp) -> Result<JournalStatus, UiError> {
        let (report, outbox) = self.with_journal(|j| Ok((j.verify()?, j.outbox_stats(now)?)))?;
        Ok(JournalStatus {
            path: self.path_text(),
            verified: report.is_intact(),
            broken_at_seq: report.broken.as_ref().and_then(|b| b.seq),
            broken_kind: report.broken.as_ref().map(|b| b.kind),
            events_checked: report.events,
            outbox_depth: outbox.depth,
            outbox_parked: outbox.parked,
            outbox_oldest_age_ms: outbox.oldest_age_ms,
        })
    }

    fn path_text(&self) -> String {
        self.inner
            .path
            .as_deref()
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    }

    /// Runs one journal operation under the lock, opening the journal first if the last attempt
    /// failed, and turns every failure into a [`UiError`].
    fn with_journal<T>(
        &self,
        work: impl FnOnce(&mut Journal) -> Result<T, JournalError>,
    ) -> Result<T, UiError> {
        // A poisoned lock means an earlier journal call panicked half-way; the journal's own
        // transactions keep the file consistent, but this process should not trust its state.
        let mut slot = self
            .inner
            .journal
            .lock()
            .map_err(|_| UiError::internal("journal lock poisoned"))?;
        if slot.is_err() {
            if let Some(path) = &self.inner.path {
                *slot = Journal::open(path).map_err(|e| OpenFailure::open(path, &e));
            }
        }
        let journal = match &mut *slot {
            Ok(journal) => journal,
            Err(failure) => return Err(failure.error.clone()),
        };
        work(journal).map_err(|e| {
            log_detail("journal read", &e.to_string());
            journal_error_for_people(journal.path(), &e)
        })
    }
}

/// The shell's clock reading; the journal and the core take time as an argument.
pub fn now() -> Timestamp {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    Timestamp::from_unix_ms(ms)
}

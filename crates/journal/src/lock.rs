//! The single-writer lock: an advisory `flock(2)` on a sidecar file `<journal>.lock`.
//!
//! Why not SQLite's own `PRAGMA locking_mode=EXCLUSIVE`: in WAL mode that lock is taken lazily,
//! at the first read or write, so a second `open` would "succeed" and fail later with
//! `SQLITE_BUSY` in the middle of a charge; it would also shut out read-only tools (backups, a
//! sqlite3 shell used by support). A `flock` on a sidecar file is checked at `open`, before the
//! database is touched (so it also guards the migrations), conflicts between two opens in the
//! *same* process as well as across processes (each `open` is its own open file description), and
//! is released by the kernel when the holder exits or is killed, so a crash never leaves a stale
//! lock behind. SQLite's own POSIX (`fcntl`) locks are independent of `flock` on Linux and keep
//! working underneath for readers.
//!
//! Deliberately absent: deleting the lock file on release. Unlinking it would let a second
//! process lock a fresh inode while a third still holds the old one.

use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use fs4::{FileExt, TryLockError};

use crate::error::JournalError;

/// `EROFS` on Linux and macOS: the file system is mounted read-only. (`io::ErrorKind::
/// ReadOnlyFilesystem` is newer than the workspace's minimum Rust version.)
const EROFS: i32 = 30;

/// How much of a lock file's "who holds me" note is shown in an error; the note is ours and short,
/// the cap only guards against a lock file that something else filled.
const HOLDER_NOTE_BYTES_MAX: u64 = 200;

/// Holds the lock for as long as it lives; dropping it closes the file and releases the lock.
#[derive(Debug)]
pub(crate) struct WriterLock {
    /// The open lock file; the `flock` belongs to this open file description.
    _file: File,
    /// Where the lock file is, for diagnostics.
    pub(crate) path: PathBuf,
}

/// The sidecar lock file of a journal.
pub(crate) fn lock_path(journal: &Path) -> PathBuf {
    let mut name = OsString::from(journal.as_os_str());
    name.push(".lock");
    PathBuf::from(name)
}

/// Takes the exclusive lock of `journal`, or says clearly who has it.
pub(crate) fn acquire(journal: &Path) -> Result<WriterLock, JournalError> {
    let path = lock_path(journal);
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| open_error(journal, &path, e))?;
    match FileExt::try_lock(&file) {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            return Err(JournalError::Locked {
                path: journal.to_path_buf(),
                holder: holder_note(&mut file, &path),
            })
        }
        Err(TryLockError::Error(e)) => {
            return Err(JournalError::Io {
                path: journal.to_path_buf(),
                context: "taking the single-writer lock",
                source: e,
            })
        }
    }
    // A note for the error message of whoever comes second. Best effort: the lock itself is the
    // flock, not this text, so a failure to write it is not a reason to refuse the open.
    let _ = file
        .set_len(0)
        .and_then(|()| file.seek(SeekFrom::Start(0)))
        .and_then(|_| writeln!(file, "process {} ({})", std::process::id(), program_name()));
    Ok(WriterLock { _file: file, path })
}

/// The running program's file name ("paydesk", "paydesk-desktop"), for the holder note: says
/// which front end charges, never its arguments.
fn program_name() -> String {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "unknown program".into())
}

fn holder_note(file: &mut File, path: &Path) -> String {
    let mut note = String::new();
    let _ = file.take(HOLDER_NOTE_BYTES_MAX).read_to_string(&mut note);
    let note = note.trim();
    if note.is_empty() {
        format!("lock file {}", path.display())
    } else {
        format!("held by {note}, lock file {}", path.display())
    }
}

fn open_error(journal: &Path, lock: &Path, e: io::Error) -> JournalError {
    if e.kind() == io::ErrorKind::PermissionDenied || e.raw_os_error() == Some(EROFS) {
        JournalError::ReadOnly {
            path: journal.to_path_buf(),
            detail: format!("cannot create the lock file {}: {e}", lock.display()),
        }
    } else if e.kind() == io::ErrorKind::NotFound {
        JournalError::CannotOpen {
            path: journal.to_path_buf(),
            detail: format!("the folder does not exist: {e}"),
        }
    } else {
        JournalError::Io {
            path: journal.to_path_buf(),
            context: "creating the lock file",
            source: e,
        }
    }
}

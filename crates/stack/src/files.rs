//! The stack's small files in the data directory: `terminal.json` (this installation's terminal
//! id, kept across restarts), `stack.json` (the URLs of the running stack, so a terminal finds
//! it without flags; its type and reader are the terminal crate's, which reads it) and
//! `stack.lock`, which a running stack holds locked for its whole life so that a `stack.json` left
//! behind by a crashed stack is never believed (review L6).
//!
//! Deliberately absent: secrets. Neither JSON file ever holds a token or a key; both are plain
//! JSON a person may read, written 0600 like everything in the data directory.

use std::fs::File;
use std::io::Write as _;
use std::path::Path;

use paydesk_core::TerminalId;
use paydesk_terminal::{read_stack_file, StackFile, STACK_FILE, STACK_LOCK_FILE};
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize)]
struct TerminalFile {
    terminal_id: TerminalId,
}

/// Takes the exclusive lock on `stack.lock` (created 0600), held until the returned file is
/// dropped: the sign that this stack is alive. Fails when another stack runs over `data_dir`.
pub(crate) fn lock_stack(data_dir: &Path) -> Result<File, String> {
    let path = data_dir.join(STACK_LOCK_FILE);
    let mut options = std::fs::OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let file = options
        .open(&path)
        .map_err(|e| format!("creating {}: {e}", path.display()))?;
    // Fully qualified: the standard library's newer inherent `try_lock` would win.
    match fs4::FileExt::try_lock(&file) {
        Ok(()) => Ok(file),
        Err(fs4::TryLockError::WouldBlock) => Err(format!(
            "another embedded stack is running over this data directory (it holds {}): stop it \
             first, or give this one another data directory",
            path.display()
        )),
        Err(fs4::TryLockError::Error(e)) => Err(format!("locking {}: {e}", path.display())),
    }
}

pub(crate) fn write_stack_file(data_dir: &Path, file: &StackFile) -> Result<(), String> {
    write_json(&data_dir.join(STACK_FILE), file)
}

/// Removes `stack.json` if it still describes the stack at `central_url` (a newer stack over the
/// same directory keeps its own).
pub(crate) fn remove_stack_file(data_dir: &Path, central_url: &str) {
    if read_stack_file(data_dir).is_some_and(|f| f.central_url == central_url) {
        let _ = std::fs::remove_file(data_dir.join(STACK_FILE));
    }
}

pub(crate) fn read_terminal_file(path: &Path) -> Option<TerminalId> {
    let bytes = std::fs::read(path).ok()?;
    serde_json::from_slice::<TerminalFile>(&bytes)
        .ok()
        .map(|f| f.terminal_id)
}

pub(crate) fn write_terminal_file(path: &Path, terminal: &TerminalId) -> Result<(), String> {
    write_json(
        path,
        &TerminalFile {
            terminal_id: terminal.clone(),
        },
    )
}

/// Writes through a fresh temporary file (mode 0600 from creation, `create_new` so a planted file
/// or symlink there is not followed) and a rename, so a reader never sees half a file.
fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), String> {
    let text = serde_json::to_vec_pretty(value).map_err(|e| e.to_string())?;
    let tmp = path.with_extension("json.tmp");
    // A temporary file left by a crash is ours to replace (never followed: removed, not opened).
    let _ = std::fs::remove_file(&tmp);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    options
        .open(&tmp)
        .and_then(|mut f| f.write_all(&text))
        .map_err(|e| format!("writing {}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| format!("writing {}: {e}", path.display()))
}

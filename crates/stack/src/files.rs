//! The stack's small files in the data directory: `terminal.json` (this installation's terminal
//! id, kept across restarts) and `stack.json` (the URLs of the running stack, so a terminal finds
//! it without flags; its type and reader are the terminal crate's, which reads it).
//!
//! Deliberately absent: secrets. Neither file ever holds a token or a key; both are plain JSON a
//! person may read.

use std::path::Path;

use paydesk_core::TerminalId;
use paydesk_terminal::{read_stack_file, StackFile, STACK_FILE};
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize)]
struct TerminalFile {
    terminal_id: TerminalId,
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

/// Writes through a temporary file and a rename, so a reader never sees half a file.
fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), String> {
    let text = serde_json::to_vec_pretty(value).map_err(|e| e.to_string())?;
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, text).map_err(|e| format!("writing {}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| format!("writing {}: {e}", path.display()))
}

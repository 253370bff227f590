//! Paydesk's desktop shell: wires the journal into Tauri and exposes it to the web UI as commands.
//!
//! Each `#[tauri::command]` is a one-line adapter over a [`desk::Desk`] method that runs without a
//! window (and is tested without one). This file deliberately holds no business logic, no SQL and
//! no formatting: only the wiring that `main` and the mock-runtime tests share through
//! [`configure`].

pub mod desk;
pub mod error;

use std::path::PathBuf;

use tauri::{Manager, Runtime, State};

pub use desk::{AttemptView, Desk, JournalStatus};
pub use error::UiError;

/// The environment variable that points the app at a journal file (tests, demos, a second
/// terminal on one machine). Without it the journal lives in the app's data directory.
pub const JOURNAL_ENV: &str = "PAYDESK_JOURNAL";

/// The journal's file name inside the app data directory.
const JOURNAL_FILE_NAME: &str = "journal.sqlite";

/// Everything the app needs besides its context: the start-up hook that opens the journal and the
/// commands. `main` and the tests both build their app through this function.
pub fn configure<R: Runtime>(builder: tauri::Builder<R>) -> tauri::Builder<R> {
    builder
        .setup(|app| {
            // A journal that fails to open must not stop the window from showing: the desk keeps
            // the failure and every command answers with it, so the UI can say what to do.
            let desk = match journal_path(app.handle()) {
                Ok(path) => Desk::open(path),
                Err(failure) => Desk::unavailable(failure),
            };
            app.manage(desk);
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![list_attempts, journal_status])
}

/// Builds and runs the real app. Panics only if the window system itself cannot start, which
/// leaves nothing to show an error in.
pub fn run() {
    configure(tauri::Builder::default())
        .run(tauri::generate_context!())
        .expect("the Tauri runtime failed to start");
}

/// `PAYDESK_JOURNAL` if set, else `<app data dir>/journal.sqlite` (the directory is created).
fn journal_path<R: Runtime>(app: &tauri::AppHandle<R>) -> Result<PathBuf, desk::OpenFailure> {
    if let Some(path) = std::env::var_os(JOURNAL_ENV).filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(path));
    }
    let dir = app
        .path()
        .app_data_dir()
        .map_err(|e| desk::OpenFailure::no_data_dir(e.to_string()))?;
    std::fs::create_dir_all(&dir).map_err(|e| desk::OpenFailure::create_dir(&dir, e))?;
    Ok(dir.join(JOURNAL_FILE_NAME))
}

// The commands are async so that they run on the async runtime's threads, not the main (UI)
// thread; the journal work inside goes to a blocking thread because SQLite waits on fsync.

/// Every attempt in the journal, newest first (an empty list for a new journal).
#[tauri::command]
async fn list_attempts(desk: State<'_, Desk>) -> Result<Vec<AttemptView>, UiError> {
    desk.inner()
        .clone()
        .run_blocking(|d| d.list_attempts())
        .await
}

/// Whether the journal's hash chain verifies, and how much is waiting in the outbox.
#[tauri::command]
async fn journal_status(desk: State<'_, Desk>) -> Result<JournalStatus, UiError> {
    desk.inner()
        .clone()
        .run_blocking(|d| d.status(desk::now()))
        .await
}

//! The one error type that crosses from the shell to the web UI.
//!
//! It carries a stable `kind` the UI can branch on, a sentence for people, and the next step to
//! take. Internal details (SQLite messages, file system errors, panics) are logged on the shell's
//! side and never copied into it: the UI is not a debugging console, and those texts can carry
//! paths or data that do not belong on an operator's screen.

use serde::Serialize;

/// What kind of failure the UI is looking at; serialized in snake_case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UiErrorKind {
    /// The journal could not be opened at start-up; nothing can be read or charged.
    JournalUnavailable,
    /// Another Paydesk process holds the journal.
    JournalLocked,
    /// The journal is damaged, tampered with or not a journal: charging must stop.
    JournalDamaged,
    /// Reading the journal failed after it was opened.
    JournalRead,
    /// A bug in the shell (a panicked worker, a poisoned lock).
    Internal,
}

/// An error as the UI receives it: `{"kind": …, "message": …, "next_step": …}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{message} {next_step}")]
pub struct UiError {
    pub kind: UiErrorKind,
    /// What went wrong, in the operator's terms.
    pub message: String,
    /// What the person in front of the screen should do now.
    pub next_step: String,
}

impl UiError {
    pub fn new(
        kind: UiErrorKind,
        message: impl Into<String>,
        next_step: impl Into<String>,
    ) -> Self {
        UiError {
            kind,
            message: message.into(),
            next_step: next_step.into(),
        }
    }

    /// A bug on our side: the detail goes to the log, the UI gets a generic sentence.
    pub fn internal(detail: &str) -> Self {
        log_detail("internal error", detail);
        UiError::new(
            UiErrorKind::Internal,
            "Paydesk hit an internal error.",
            "Restart Paydesk. If it happens again, report it to support with the time it happened.",
        )
    }
}

/// Where internal details go instead of the UI. Standard error for now; the app's log file later.
pub fn log_detail(context: &str, detail: &str) {
    eprintln!("paydesk-desktop: {context}: {detail}");
}

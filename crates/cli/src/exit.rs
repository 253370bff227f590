//! Exit codes and the one error type of the command line: an `anyhow` error with the code the
//! process exits with, so every command decides its code where it knows what went wrong.
//!
//! Deliberately absent: printing (main prints a failure once, in the chosen output format).

use std::fmt;

/// The charge succeeded; or the command did what it was asked.
pub const SUCCESS: u8 = 0;
/// Anything not covered below (a journal that cannot be opened, a gateway refusing our key, …).
pub const OTHER: u8 = 1;
/// The gateway said no: declined, the customer must authenticate, or the attempt was canceled
/// (sign-in: unknown operator or wrong PIN).
pub const REFUSED: u8 = 2;
/// The outcome is not known yet (or waits for a manager); recovery continues — never charge again.
pub const PENDING: u8 = 3;
/// The order cannot be charged now: held by someone else, not chargeable, amount changed, unknown
/// to the central, or already charged by an earlier attempt.
pub const CONFLICT: u8 = 4;
/// The central server could not be reached (offline).
pub const UNREACHABLE: u8 = 5;
/// The journal failed verification (tampered or damaged).
pub const JOURNAL_BROKEN: u8 = 6;
/// Bad input or missing configuration (sysexits' EX_USAGE).
pub const USAGE: u8 = 64;

/// The code's name in a `--json` error document (`{"error": {"kind": …}}`): what a script
/// branches on besides the number.
pub fn name(code: u8) -> &'static str {
    match code {
        SUCCESS => "success",
        REFUSED => "refused",
        PENDING => "pending",
        CONFLICT => "conflict",
        UNREACHABLE => "unreachable",
        JOURNAL_BROKEN => "journal_broken",
        USAGE => "usage",
        _ => "other",
    }
}

/// A command that did not succeed, and the code to exit with.
pub struct Failure {
    pub code: u8,
    pub error: anyhow::Error,
}

impl Failure {
    pub fn new(code: u8, error: impl Into<anyhow::Error>) -> Failure {
        Failure {
            code,
            error: error.into(),
        }
    }

    /// Bad input or missing configuration: `message` says what to do.
    pub fn usage(message: impl fmt::Display) -> Failure {
        Failure::new(USAGE, anyhow::anyhow!("{message}"))
    }
}

impl From<anyhow::Error> for Failure {
    fn from(error: anyhow::Error) -> Failure {
        Failure { code: OTHER, error }
    }
}

impl fmt::Debug for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "exit {}: {:#}", self.code, self.error)
    }
}

/// What a command returns: the exit code of a completed command, or a failure.
pub type CmdResult = Result<u8, Failure>;

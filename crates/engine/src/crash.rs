//! Named crash points of the charge flow, for the crash tests: a process started with
//! `PAYDESK_CRASH_AT=<name>` aborts (no unwinding, no destructors, like a power cut as far as the
//! process is concerned) the first time it reaches that point.
//!
//! Deliberately absent from normal runs: with the variable unset, a crash point is one relaxed
//! read of a value computed once.

use std::sync::OnceLock;

use paydesk_core::{Attempt, AttemptState};

/// The environment variable that names the crash point.
pub const CRASH_AT_ENV: &str = "PAYDESK_CRASH_AT";

/// Every place the flow can be stopped, in protocol order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrashPoint {
    AfterClaim,
    AfterIntentCommit,
    AfterCreateBeforeJournal,
    /// The central accepted the intent's registration; nothing of it (nor, online, of the create's
    /// answer) is committed yet.
    AfterRegister,
    /// The commit of "confirm sent" (online: with "created" and "registered"), before the
    /// confirm leaves.
    AfterConfirmSent,
    BeforeConfirmRequest,
    AfterConfirmBeforeResult,
    AfterResult,
    MidRelay,
    MidRecovery,
}

impl CrashPoint {
    pub const ALL: [CrashPoint; 10] = [
        CrashPoint::AfterClaim,
        CrashPoint::AfterIntentCommit,
        CrashPoint::AfterCreateBeforeJournal,
        CrashPoint::AfterRegister,
        CrashPoint::AfterConfirmSent,
        CrashPoint::BeforeConfirmRequest,
        CrashPoint::AfterConfirmBeforeResult,
        CrashPoint::AfterResult,
        CrashPoint::MidRelay,
        CrashPoint::MidRecovery,
    ];

    pub fn name(self) -> &'static str {
        match self {
            CrashPoint::AfterClaim => "after_claim",
            CrashPoint::AfterIntentCommit => "after_intent_commit",
            CrashPoint::AfterCreateBeforeJournal => "after_create_before_journal",
            CrashPoint::AfterRegister => "after_register",
            CrashPoint::AfterConfirmSent => "after_confirm_sent",
            CrashPoint::BeforeConfirmRequest => "before_confirm_request",
            CrashPoint::AfterConfirmBeforeResult => "after_confirm_before_result",
            CrashPoint::AfterResult => "after_result",
            CrashPoint::MidRelay => "mid_relay",
            CrashPoint::MidRecovery => "mid_recovery",
        }
    }

    pub fn parse(name: &str) -> Option<CrashPoint> {
        CrashPoint::ALL.into_iter().find(|p| p.name() == name)
    }

    /// The crash point just after a commit that left `attempt` in its state. (`AfterRegister` is
    /// not one: since the create's answer, the registration and the confirm's begin are committed
    /// together, it is the moment the central has accepted the intent and the journal has not
    /// yet recorded it — the window that merged commit opens.)
    pub(crate) fn after_step(attempt: &Attempt) -> Option<CrashPoint> {
        match attempt.state {
            AttemptState::ConfirmSent => Some(CrashPoint::AfterConfirmSent),
            s if s.is_terminal() => Some(CrashPoint::AfterResult),
            _ => None,
        }
    }
}

fn armed() -> Option<CrashPoint> {
    static ARMED: OnceLock<Option<CrashPoint>> = OnceLock::new();
    *ARMED.get_or_init(|| {
        std::env::var(CRASH_AT_ENV)
            .ok()
            .and_then(|name| CrashPoint::parse(&name))
    })
}

/// Aborts the process if `point` is the armed crash point.
pub(crate) fn crash_point(point: impl Into<Option<CrashPoint>>) {
    if let (Some(point), Some(armed)) = (point.into(), armed()) {
        if point == armed {
            eprintln!("paydesk: crash point {} reached, aborting", point.name());
            std::process::abort();
        }
    }
}

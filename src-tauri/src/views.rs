//! The shapes the web UI receives from the desk's commands: the signed-in session, the queue,
//! attempts and their timelines, a charge's result, the status bar and a sync's summary.
//!
//! Deliberately absent: behaviour. These are plain data; the desk fills them in.

use paydesk_core::{Attempt, OperatorId, TerminalId, Timestamp};
use paydesk_engine::RecoveryReport;
use paydesk_journal::{BreakKind, StoredEvent};
use paydesk_protocol::{Order, Role};
use serde::Serialize;

/// Who is signed in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Session {
    pub operator: OperatorId,
    pub role: Role,
    /// Checked against the cached operator list because the central was unreachable.
    pub offline: bool,
    pub signed_in_at: Timestamp,
}

/// One attempt as the UI shows it: the journal's record plus the amount's currency exponent, so
/// the UI formats minor units with the core's currency table instead of keeping its own.
#[derive(Debug, Clone, Serialize)]
pub struct AttemptView {
    #[serde(flatten)]
    pub attempt: Attempt,
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

/// An order of the queue, with its amount's exponent.
#[derive(Debug, Clone, Serialize)]
pub struct OrderView {
    #[serde(flatten)]
    pub order: Order,
    pub amount_exponent: u8,
}

/// The queue as the UI shows it.
#[derive(Debug, Clone, Serialize)]
pub struct QueueView {
    pub orders: Vec<OrderView>,
    /// The central was unreachable: these are the orders as cached at `cached_at`.
    pub offline: bool,
    pub cached_at: Option<Timestamp>,
}

/// An attempt and its history, oldest event first.
#[derive(Debug, Clone, Serialize)]
pub struct TimelineView {
    pub attempt: AttemptView,
    pub events: Vec<StoredEvent>,
}

/// Where a charge run left the attempt; `pending` says why it is not final, when it is not.
#[derive(Debug, Clone, Serialize)]
pub struct ChargeView {
    pub attempt: AttemptView,
    pub pending: Option<String>,
}

/// The journal's health.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JournalStatus {
    pub path: String,
    /// True when the hash chain and every attempt's history verify.
    pub verified: bool,
    pub broken_at_seq: Option<i64>,
    pub broken_kind: Option<BreakKind>,
    pub events_checked: i64,
    /// Results waiting in the outbox for the central.
    pub outbox_depth: i64,
    /// Results set aside for a person (never delivered automatically).
    pub outbox_parked: i64,
    /// Age of the oldest waiting result, in milliseconds.
    pub outbox_oldest_age_ms: Option<i64>,
}

/// The last recovery pass, summarized.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecoverySummary {
    pub at: Timestamp,
    #[serde(flatten)]
    pub report: RecoveryReport,
}

/// What the status bar shows. `phase` is "starting" (with how long so far and the bound) or
/// "ready" (with the rest); a failed start-up is an error instead.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum StatusView {
    Starting {
        elapsed_ms: i64,
        startup_ms_max: u64,
    },
    Ready(Box<ReadyStatus>),
}

#[derive(Debug, Clone, Serialize)]
pub struct ReadyStatus {
    /// The central answered its health check just now.
    pub online: bool,
    /// The embedded demo central and sandbox gateway (not a real one).
    pub embedded: bool,
    pub central_url: String,
    pub terminal: TerminalId,
    pub session: Option<Session>,
    pub journal: JournalStatus,
    /// Attempts not in a final state (recovery works on them; some may wait for a manager).
    pub unresolved: usize,
    pub last_recovery: Option<RecoverySummary>,
}

/// What `sync_now` did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SyncView {
    pub delivered: usize,
    pub parked: usize,
    /// Results still waiting after the run (not due yet, or the central is down).
    pub waiting: i64,
    /// Set when the central could not be reached.
    pub unreachable: bool,
}

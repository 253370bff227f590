//! The shapes the web UI receives from the desk's commands: the signed-in session, the queue,
//! attempts and their timelines, a charge's result, the status bar and a sync's summary.
//!
//! Each derives `ts_rs::TS` beside `Serialize`: the UI's TypeScript types in
//! `ui/src/lib/bindings/` are generated from these and checked by `tests/bindings.rs`. 64-bit
//! integers are `number` in TypeScript (`#[ts(type = "number")]`), because that is what JSON
//! gives the UI; every one of them (times, durations, counts) stays far below 2^53.
//!
//! Deliberately absent: behaviour. These are plain data; the desk fills them in.

use paydesk_core::{Attempt, OperatorId, TerminalId, Timestamp};
use paydesk_engine::RecoveryReport;
use paydesk_journal::{BreakKind, StoredEvent};
use paydesk_protocol::{Order, Role};
use serde::Serialize;
use ts_rs::TS;

/// Who is signed in. The session token stays in the terminal's memory; the UI never sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct Session {
    pub operator: OperatorId,
    pub role: Role,
    /// Signed in against this terminal's own verifier because the central was unreachable: no
    /// session at the central, so charges can only go offline.
    pub offline: bool,
    pub signed_in_at: Timestamp,
    /// The session's hard end; it ends earlier after `idle_ms` without a charge.
    pub expires_at: Timestamp,
    #[ts(type = "number")]
    pub idle_ms: i64,
}

impl From<paydesk_terminal::SignedIn> for Session {
    fn from(signed: paydesk_terminal::SignedIn) -> Session {
        Session {
            operator: signed.operator,
            role: signed.role,
            offline: signed.offline,
            signed_in_at: signed.signed_in_at,
            expires_at: signed.expires_at,
            idle_ms: signed.idle_ms,
        }
    }
}

/// One attempt as the UI shows it: the journal's record plus the amount's currency exponent, so
/// the UI formats minor units with the core's currency table instead of keeping its own.
#[derive(Debug, Clone, Serialize, TS)]
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

/// An order of the queue, with its amount's exponent and whether a terminal may charge it.
#[derive(Debug, Clone, Serialize, TS)]
pub struct OrderView {
    #[serde(flatten)]
    pub order: Order,
    pub amount_exponent: u8,
    /// The order's status allows a charge ([`paydesk_protocol::OrderStatus::is_chargeable`]), so
    /// the UI does not keep its own copy of the rule. Whether someone holds it is `claim`.
    pub chargeable: bool,
}

impl From<Order> for OrderView {
    fn from(order: Order) -> Self {
        OrderView {
            amount_exponent: order.amount.currency().exponent(),
            chargeable: order.status.is_chargeable(),
            order,
        }
    }
}

/// The queue as the UI shows it.
#[derive(Debug, Clone, Serialize, TS)]
pub struct QueueView {
    pub orders: Vec<OrderView>,
    /// The central was unreachable: these are the orders as cached at `cached_at`.
    pub offline: bool,
    pub cached_at: Option<Timestamp>,
}

/// An attempt and its history, oldest event first.
#[derive(Debug, Clone, Serialize, TS)]
pub struct TimelineView {
    pub attempt: AttemptView,
    pub events: Vec<StoredEvent>,
}

/// Where a charge run left the attempt; `pending` says why it is not final, when it is not.
#[derive(Debug, Clone, Serialize, TS)]
pub struct ChargeView {
    pub attempt: AttemptView,
    pub pending: Option<String>,
}

/// The journal's health.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct JournalStatus {
    pub path: String,
    /// True when the hash chain and every attempt's history verify.
    pub verified: bool,
    #[ts(type = "number | null")]
    pub broken_at_seq: Option<i64>,
    pub broken_kind: Option<BreakKind>,
    #[ts(type = "number")]
    pub events_checked: i64,
    /// Results waiting in the outbox for the central.
    #[ts(type = "number")]
    pub outbox_depth: i64,
    /// Results set aside for a person (never delivered automatically).
    #[ts(type = "number")]
    pub outbox_parked: i64,
    /// Age of the oldest waiting result, in milliseconds.
    #[ts(type = "number | null")]
    pub outbox_oldest_age_ms: Option<i64>,
}

/// The last recovery pass, summarized.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct RecoverySummary {
    pub at: Timestamp,
    #[serde(flatten)]
    pub report: RecoveryReport,
}

/// What the status bar shows. `phase` is "starting" (with how long so far and the bound) or
/// "ready" (with the rest); a failed start-up is an error instead.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum StatusView {
    Starting {
        #[ts(type = "number")]
        elapsed_ms: i64,
        #[ts(type = "number")]
        startup_ms_max: u64,
    },
    Ready(Box<ReadyStatus>),
}

#[derive(Debug, Clone, Serialize, TS)]
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
    /// Training mode in the demo: the UI shows its banner on every screen while it is on.
    pub training: crate::training::TrainingView,
}

/// What `sync_now` did.
#[derive(Debug, Clone, Default, Serialize, TS)]
pub struct SyncView {
    pub delivered: usize,
    pub parked: usize,
    /// Results still waiting after the run (not due yet, or the central is down).
    #[ts(type = "number")]
    pub waiting: i64,
    /// Set when the central could not be reached.
    pub unreachable: bool,
}

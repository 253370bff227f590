//! The values the journal hands out: query filters, stored events, totals, outbox messages and
//! the verification report. All of them serialize, because the UI shows them as they are.
//!
//! Deliberately absent: behaviour. These are plain data; the queries live in `lib.rs`.

use paydesk_core::{
    AttemptId, AttemptNumber, AttemptState, ClaimToken, Currency, GatewayIntentId,
    InstallmentNumber, Money, OperatorId, OrderId, TerminalId, Timestamp,
};
use serde::{Deserialize, Serialize};

/// Which attempts [`crate::Journal::attempts`] returns. Every field narrows the result; the
/// default returns the newest attempts of all kinds. `from` is inclusive and `to` exclusive, both
/// compared with the attempt's `created_at`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
// A missing field and `null` both mean "any" when deserializing, so the UI may leave fields out.
#[ts(optional_fields)]
pub struct AttemptFilter {
    pub state: Option<AttemptState>,
    pub operator: Option<OperatorId>,
    pub order: Option<OrderId>,
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
    /// At most this many (newest first); `None` means [`crate::ATTEMPT_ROWS_DEFAULT`], and any
    /// value is capped at [`crate::ATTEMPT_ROWS_MAX`].
    pub limit: Option<u32>,
}

/// One event of an attempt's history, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, ts_rs::TS)]
pub struct StoredEvent {
    /// Position in the whole journal's hash chain, from 1.
    #[ts(type = "number")]
    pub seq: i64,
    pub attempt_id: AttemptId,
    pub at: Timestamp,
    /// The event's kind: "begun" for the first record, else `AttemptEvent::kind`.
    pub kind: String,
    /// `None` for the first record of an attempt.
    pub from_state: Option<AttemptState>,
    pub to_state: AttemptState,
    /// The event and the effects it produced, as JSON.
    #[ts(type = "unknown")]
    pub detail: serde_json::Value,
    /// This event's chain hash, hex.
    pub hash: String,
}

/// One operator's attempts on one UTC day in one currency, counted by the day they were begun.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OperatorDayTotal {
    pub operator: OperatorId,
    /// `YYYY-MM-DD`, UTC ([`Timestamp::utc_day`]).
    pub day: String,
    pub currency: Currency,
    /// Every attempt begun that day, whatever became of it.
    pub attempts: i64,
    pub succeeded: i64,
    pub succeeded_sum: Money,
    pub declined: i64,
    /// Not terminal yet, including those that need a manager.
    pub unresolved: i64,
}

/// The outbox at a glance (the UI always shows depth and age).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct OutboxStats {
    /// Messages waiting for delivery (not delivered, not parked).
    pub depth: i64,
    /// Messages set aside for a person (not delivered, not archived by a manager).
    pub parked: i64,
    /// Age of the oldest waiting message; `None` when nothing waits.
    pub oldest_age_ms: Option<i64>,
}

/// One result message for the central, as stored in the outbox.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutboxMessage {
    pub id: i64,
    pub attempt_id: AttemptId,
    /// A [`ResultMessage`] as JSON.
    pub payload: serde_json::Value,
    pub created_at: Timestamp,
    pub delivered_at: Option<Timestamp>,
    /// How many deliveries failed so far (for the backoff policy).
    pub failures: u32,
    pub next_try_at: Timestamp,
    /// Why it was set aside; a parked message is never due.
    pub parked_reason: Option<String>,
    /// When a manager archived it (kept for good, no longer counted as parked), who, and why.
    pub archived_at: Option<Timestamp>,
    pub archived_by: Option<OperatorId>,
    pub archive_reason: Option<String>,
}

/// The payload of an outbox message: an attempt's final result, written in the same transaction
/// as the state it reports. The event's seq and hash let the central tie it to the journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResultMessage {
    pub attempt_id: AttemptId,
    pub order: OrderId,
    pub number: AttemptNumber,
    /// Which payment of the order (absent from payloads written before installments: the first).
    #[serde(default = "InstallmentNumber::first")]
    pub installment: InstallmentNumber,
    pub claim_token: ClaimToken,
    /// The terminal state (succeeded, declined, requires_action or canceled), or needs_review
    /// when the attempt went to a manager (a final state replaces it later).
    pub state: AttemptState,
    pub amount: Money,
    pub intent_id: Option<GatewayIntentId>,
    pub operator: OperatorId,
    pub terminal: TerminalId,
    pub offline: bool,
    pub reason: Option<String>,
    pub decided_at: Timestamp,
    pub event_seq: i64,
    pub event_hash: String,
}

/// What [`crate::Journal::verify`] found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    /// Events in the journal.
    pub events: i64,
    /// Attempts in the journal.
    pub attempts: i64,
    /// The verified chain head (hex); `None` for an empty journal or a broken chain.
    pub head: Option<String>,
    /// The first problem found; `None` means the journal is intact.
    pub broken: Option<BrokenLink>,
}

impl VerifyReport {
    pub fn is_intact(&self) -> bool {
        self.broken.is_none()
    }
}

/// The first place where the journal stops agreeing with itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BrokenLink {
    pub kind: BreakKind,
    /// The event where the chain breaks (or the attempt's last event), when there is one.
    pub seq: Option<i64>,
    pub attempt_id: Option<String>,
    /// A sentence for the manager.
    pub message: String,
}

/// Kinds of damage `verify` recognises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum BreakKind {
    /// An event's content no longer matches its stored hash (it was edited).
    HashMismatch,
    /// An event's stored predecessor hash is not the previous event's hash (rewritten chain).
    PrevMismatch,
    /// A sequence number is missing (an event was deleted) or out of order.
    Gap,
    /// A stored hash is not 64 hex digits.
    BadHash,
    /// An event's `from_state` is not the `to_state` of its attempt's previous event.
    StateDiscontinuity,
    /// An event names an attempt that is not in the journal.
    OrphanEvent,
    /// An attempt row cannot be read back or fails `Attempt::check`.
    BadAttempt,
    /// An attempt has no events at all.
    MissingHistory,
    /// An attempt's state is not the `to_state` of its last event.
    StateMismatch,
    /// A terminal attempt without its outbox result, or a result for an attempt not terminal.
    ResultMismatch,
    /// An append-only trigger was dropped from the file.
    MissingGuard,
    /// An attempt row no longer matches the digest its last event carries (a field recovery
    /// acts on was edited: intent, amount, offline flag, times, claim token, …).
    AttemptTampered,
    /// An outbox payload no longer matches the digest of the event that wrote it, or names an
    /// event that is not its attempt's.
    OutboxTampered,
}

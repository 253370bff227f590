//! The shapes the manager's report screens receive (D2 of issue 11): the audit log, the journal
//! review, an export's result, the outbox and the offline allowance. The day close's shapes are the
//! terminal's own (`paydesk_terminal::day_close`), shared with the command line.
//!
//! Each derives `ts_rs::TS` beside `Serialize` (checked by `tests/bindings.rs`, like `views.rs`).
//! Deliberately absent: behaviour. These are plain data; `reports.rs` fills them in.

use paydesk_core::{AttemptId, AttemptState, Money, OperatorId, OrderId, Timestamp};
use paydesk_engine::{OfflineAllowance, OfflinePolicy};
use paydesk_journal::{OutboxMessage, ResultMessage};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::views::AttemptView;

/// Which audit entries to read (every field narrows; all empty: the newest entries).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(optional_fields)]
pub struct AuditQuery {
    #[ts(optional, type = "number")]
    pub from_ms: Option<i64>,
    #[ts(optional, type = "number")]
    pub to_ms: Option<i64>,
    pub operator: Option<String>,
    pub terminal: Option<String>,
    pub kind: Option<String>,
    /// `done` or `refused`.
    pub outcome: Option<String>,
    /// The `next_cursor` of the page before, to read further back.
    pub cursor: Option<String>,
}

/// One audit entry: who did what, when, on which terminal, who approved it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct AuditEntryView {
    /// RFC 3339.
    pub at: String,
    #[ts(type = "number")]
    pub at_ms: i64,
    pub kind: String,
    /// `done` or `refused`.
    pub outcome: String,
    pub operator_id: Option<String>,
    pub terminal_id: Option<String>,
    pub approver: Option<String>,
    pub order_id: Option<String>,
    #[ts(type = "number | null")]
    pub amount_minor: Option<i64>,
    pub currency: Option<String>,
    /// The amount's currency exponent when there is an amount (the UI formats with it).
    pub amount_exponent: Option<u8>,
    pub detail: String,
}

/// A page of the audit log, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct AuditPage {
    pub entries: Vec<AuditEntryView>,
    /// Set when older entries remain: pass it back as `cursor`.
    pub next_cursor: Option<String>,
}

/// The attempts a journal review matched, newest first.
#[derive(Debug, Clone, Serialize, TS)]
pub struct JournalReviewView {
    pub attempts: Vec<AttemptView>,
    /// How many attempts matched in all (more than `attempts` holds when `truncated`).
    pub matched: usize,
    /// Only the newest matches are listed; the export writes every one.
    pub truncated: bool,
}

/// What an export wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct ExportView {
    pub path: String,
    /// Data rows written (the header line not counted).
    pub rows: usize,
}

/// One outbox message as the outbox screen shows it.
#[derive(Debug, Clone, Serialize, TS)]
pub struct OutboxMessageView {
    #[ts(type = "number")]
    pub id: i64,
    pub attempt_id: AttemptId,
    pub order: Option<OrderId>,
    pub amount: Option<Money>,
    pub amount_exponent: Option<u8>,
    pub state: Option<AttemptState>,
    pub operator: Option<OperatorId>,
    pub created_at: Timestamp,
    pub failures: u32,
    pub next_try_at: Timestamp,
    /// Set when the central rejected it: it waits for a manager.
    pub parked_reason: Option<String>,
}

impl From<OutboxMessage> for OutboxMessageView {
    fn from(m: OutboxMessage) -> Self {
        let result: Option<ResultMessage> = serde_json::from_value(m.payload).ok();
        OutboxMessageView {
            id: m.id,
            attempt_id: m.attempt_id,
            order: result.as_ref().map(|r| r.order.clone()),
            amount_exponent: result.as_ref().map(|r| r.amount.currency().exponent()),
            amount: result.as_ref().map(|r| r.amount),
            state: result.as_ref().map(|r| r.state),
            operator: result.map(|r| r.operator),
            created_at: m.created_at,
            failures: m.failures,
            next_try_at: m.next_try_at,
            parked_reason: m.parked_reason,
        }
    }
}

/// The outbox: how many results wait and how old the oldest is, and each waiting or parked one.
#[derive(Debug, Clone, Serialize, TS)]
pub struct OutboxView {
    #[ts(type = "number")]
    pub depth: i64,
    #[ts(type = "number")]
    pub parked: i64,
    #[ts(type = "number | null")]
    pub oldest_age_ms: Option<i64>,
    /// Waiting and parked messages, oldest first.
    pub messages: Vec<OutboxMessageView>,
}

/// The signed offline allowance in force on this terminal, if any.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct AllowanceView {
    pub grant_id: String,
    pub approved_by: OperatorId,
    pub per_charge_max: Money,
    pub per_shift_max: Money,
    pub amount_exponent: u8,
    pub granted_at: Timestamp,
    pub until: Timestamp,
    #[ts(type = "number")]
    pub cache_age_ms_max: i64,
}

impl From<OfflineAllowance> for AllowanceView {
    fn from(a: OfflineAllowance) -> Self {
        AllowanceView {
            grant_id: a.grant_id,
            approved_by: a.approved_by,
            amount_exponent: a.per_charge_max.currency().exponent(),
            per_charge_max: a.per_charge_max,
            per_shift_max: a.per_shift_max,
            granted_at: a.granted_at,
            until: a.until,
            cache_age_ms_max: a.cache_age_ms_max,
        }
    }
}

/// Whether this terminal may charge while the central is unreachable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct OfflineView {
    /// `None`: offline charging is blocked (no allowance, or it lapsed or does not verify).
    pub allowance: Option<AllowanceView>,
}

impl From<OfflinePolicy> for OfflineView {
    fn from(policy: OfflinePolicy) -> Self {
        OfflineView {
            allowance: match policy {
                OfflinePolicy::Block => None,
                OfflinePolicy::Allow(a) => Some(a.into()),
            },
        }
    }
}

/// What the manager asks for when allowing offline charging: amounts as typed ("50.00") in
/// `currency`, parsed by the core's money rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct GrantOfflineRequest {
    pub pin: String,
    pub currency: String,
    pub per_charge_max: String,
    pub per_shift_max: String,
    #[ts(type = "number")]
    pub duration_ms: i64,
}

/// The central's receipt for this terminal's journal: the newest head it received with a result,
/// compared with this journal's own event at that position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ReceiptView {
    /// The central holds this journal's chain up to `seq` and the hash there matches;
    /// `local_seq` is this journal's head now (later steps are not delivered yet).
    Matches {
        #[ts(type = "number")]
        seq: i64,
        received_at: Timestamp,
        #[ts(type = "number")]
        local_seq: i64,
    },
    /// The event at `seq` here is not the one the central received: the journal was rewritten.
    Differs {
        #[ts(type = "number")]
        seq: i64,
        received_at: Timestamp,
    },
    /// The central received step `seq`, which this journal does not have (it was replaced or
    /// cut short).
    Missing {
        #[ts(type = "number")]
        seq: i64,
        received_at: Timestamp,
        #[ts(type = "number")]
        local_seq: i64,
    },
    /// This terminal never delivered a result, so the central holds no head yet.
    NoneYet,
    /// The central could not be asked now.
    Unavailable { message: String },
}

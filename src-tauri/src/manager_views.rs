//! The shapes the manager's screens receive (issue 11, items 1 to 3): the exception inbox (the
//! central's items beside this terminal's own), an order's evidence in three columns (this
//! terminal's journal, the central's record, the live gateway lookup) with the actions it allows,
//! the answer to a decision, and the reversal requests kept on this desk until a second manager
//! approved them and the requester sent them.
//!
//! Each derives `ts_rs::TS`; the UI's TypeScript is generated into `ui/src/lib/bindings/` and
//! checked by `tests/bindings.rs`. Deliberately absent: behaviour (the desk's `manager.rs` fills
//! these in) and wording beyond what the central already says in sentences.

use paydesk_core::Money;
use paydesk_protocol::manager::{OrderEvidence, ResolutionOutcome};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::views::TimelineView;

pub use paydesk_terminal::inbox::{InboxItem, InboxSource};

/// The exception inbox: one list, oldest first.
#[derive(Debug, Clone, Serialize, TS)]
pub struct InboxView {
    pub items: Vec<InboxItem>,
    /// Every open item: the central's whole inbox plus this terminal's own.
    #[ts(type = "number")]
    pub total: u64,
    /// The central holds more items than this list shows (its page cap).
    pub more_at_central: bool,
    /// Why the central's items are missing (this terminal's own are still listed), in words.
    pub central_problem: Option<String>,
    /// When the list was read (Unix milliseconds), for the items' ages.
    #[ts(type = "number")]
    pub read_at_ms: i64,
}

/// Everything about one order for a decision, in three columns.
#[derive(Debug, Clone, Serialize, TS)]
pub struct EvidenceView {
    pub order_id: String,
    /// This terminal's attempts for the order with their histories, oldest first (empty when
    /// this terminal never charged it).
    pub journal: Vec<TimelineView>,
    /// The central's record and the live gateway lookup, with the actions they allow; `None`
    /// when the central could not answer (then `central_problem` says why and nothing is
    /// offered).
    pub evidence: Option<OrderEvidence>,
    pub central_problem: Option<String>,
}

/// The answer to a manager's decision, in words.
#[derive(Debug, Clone, Serialize, TS)]
pub struct DecisionView {
    /// One or two plain sentences: what was done and where the order stands now.
    pub message: String,
    /// The central's record of an applied decision (`None` for a retry on this terminal).
    pub outcome: Option<ResolutionOutcome>,
}

/// A reversal asked for on this desk. Kept in the data directory (no secret in it) until it is
/// sent: one above the four-eyes threshold waits there for a second manager's approval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ReversalRequestView {
    /// The reversal's idempotency key at the central (also this request's id here).
    pub reversal_key: String,
    pub order_id: String,
    /// `None`: everything still paid (or the whole payment, for a cancel).
    pub amount: Option<Money>,
    pub reason: String,
    pub requested_by: String,
    /// Unix milliseconds.
    #[ts(type = "number")]
    pub requested_at_ms: i64,
    /// `waiting_for_approval`, `approved` (a second manager approved; the requester sends it)
    /// or `sent` (the central answered; see `result`). `problem` keeps the central's last
    /// refusal.
    pub state: String,
    pub approval_id: Option<String>,
    pub approved_by: Option<String>,
    /// When the approval expires (Unix milliseconds).
    #[ts(type = "number | null")]
    pub approval_expires_at_ms: Option<i64>,
    /// The central's reversal once sent: `cancel` or `refund`, its amount and state.
    pub result: Option<ReversalResult>,
    /// The central's last refusal, in its words.
    pub problem: Option<String>,
}

/// A reversal as the central recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ReversalResult {
    pub reversal_id: String,
    /// `cancel` (nothing was captured) or `refund`.
    pub kind: String,
    #[ts(type = "number")]
    pub amount_minor: i64,
    pub currency: String,
    /// `pending`, `succeeded` or `failed`.
    pub state: String,
    pub failure: Option<String>,
    pub approved_by: Option<String>,
}

/// The answer to asking for, approving or sending a reversal.
#[derive(Debug, Clone, Serialize, TS)]
pub struct ReversalView {
    /// One or two plain sentences: cancel or refund, waiting for approval, or what went wrong.
    pub message: String,
    pub request: ReversalRequestView,
}

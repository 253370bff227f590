//! The manager's desk on the wire (issue 11): the exception inbox (`GET /v1/exceptions`), an
//! order's evidence side by side with a live gateway lookup (`GET /v1/orders/{order_id}/evidence`)
//! and a manager's decision (`POST /v1/orders/{order_id}/resolutions`, and
//! `POST /v1/exceptions/acknowledgements` for an item that names no order).
//!
//! Field names are the ones the `paydesk` command line already reads. Deliberately absent: which
//! action the evidence allows (the central's `resolution_rules` decides it and sends the answer
//! in [`OrderEvidence::allowed_actions`]) and any validation beyond the types.

use std::collections::BTreeMap;

use paydesk_core::Money;
use serde::{Deserialize, Serialize};

use crate::{Order, OrderDetail};

/// What kind of thing needs a person. `snake_case` on the wire.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ts_rs::TS,
)]
#[serde(rename_all = "snake_case")]
pub enum ExceptionKind {
    /// An order the central put in review (a contradiction, a late or unverified result).
    NeedsReview,
    /// A flag raised by the central: a second success, a contradiction, a dispute.
    Flag,
    /// A terminal wrote with a claim token that was no longer current.
    StaleToken,
    /// Suspect results a terminal sent over its hourly quota, dropped unread.
    DroppedResults,
    /// A claim held past its lease with no final result.
    UnresolvedClaim,
    /// An intent registered at the central with no result past its expected end (the intent's
    /// registration plus the lease): the outcome is not known and only the gateway can tell.
    UnknownOutcome,
    /// A refund the gateway reported as pending (or needing action).
    RefundPending,
    /// A refund the gateway reported as failed.
    RefundFailed,
    /// A Paydesk reversal still waiting for the gateway's final answer.
    ReversalPending,
    /// A Paydesk reversal the gateway refused or failed.
    ReversalFailed,
    /// A refund made outside Paydesk (in the gateway's dashboard or another tool).
    OutsideRefund,
}

impl ExceptionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ExceptionKind::NeedsReview => "needs_review",
            ExceptionKind::Flag => "flag",
            ExceptionKind::StaleToken => "stale_token",
            ExceptionKind::DroppedResults => "dropped_results",
            ExceptionKind::UnresolvedClaim => "unresolved_claim",
            ExceptionKind::UnknownOutcome => "unknown_outcome",
            ExceptionKind::RefundPending => "refund_pending",
            ExceptionKind::RefundFailed => "refund_failed",
            ExceptionKind::ReversalPending => "reversal_pending",
            ExceptionKind::ReversalFailed => "reversal_failed",
            ExceptionKind::OutsideRefund => "outside_refund",
        }
    }

    /// Whether a manager may close an item of this kind with `acknowledge` (a reason, no money
    /// effect). Items that stand for money whose fate is open (an order in review, a claim or an
    /// outcome not known, a refund or reversal still pending) are closed by a decision instead.
    pub fn is_acknowledgeable(self) -> bool {
        matches!(
            self,
            ExceptionKind::Flag
                | ExceptionKind::StaleToken
                | ExceptionKind::DroppedResults
                | ExceptionKind::RefundFailed
                | ExceptionKind::ReversalFailed
                | ExceptionKind::OutsideRefund
        )
    }
}

/// One item of the exception inbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct ExceptionItem {
    pub kind: ExceptionKind,
    /// Unique across the inbox (`flag:12`, `order:o-1`, …); what `acknowledge` names.
    pub item_id: String,
    pub order_id: Option<String>,
    /// When it started needing a person (RFC 3339, UTC).
    pub since: String,
    #[ts(type = "number")]
    pub since_ms: i64,
    /// How long it has waited, in milliseconds, at the time of the answer.
    #[ts(type = "number")]
    pub age_ms: i64,
    /// One plain sentence.
    pub summary: String,
    /// Ids to look at: intents, flags, refunds, reversals, terminals.
    pub evidence: Vec<String>,
    /// Whether `acknowledge` may close it ([`ExceptionKind::is_acknowledgeable`]).
    #[serde(default)]
    pub acknowledgeable: bool,
    /// The gateway the order goes through, when the item names an order the central holds
    /// (absent from a central older than gateways per order).
    #[serde(default)]
    pub gateway: Option<crate::GatewayName>,
}

/// `GET /v1/exceptions`: a page of the inbox, oldest first, with counts of the whole inbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct ExceptionList {
    /// Items in the whole inbox (every page).
    pub total: u32,
    /// Items per kind in the whole inbox (for a badge).
    pub counts: BTreeMap<String, u32>,
    pub items: Vec<ExceptionItem>,
    /// Pass as `cursor` for the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// A manager's decision about an order (or, for `acknowledge`, an inbox item).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum ResolutionAction {
    /// The order was charged by this intent: mark it paid.
    MarkCharged,
    /// No intent charged: put the order back to unpaid and release it.
    MarkNotCharged,
    /// Cancel an intent that has not captured (and cannot capture while cancelled) at the
    /// gateway, then release the order when nothing else is open.
    CancelOpenIntent,
    /// Retry the same attempt with the same idempotency keys: done on the terminal that holds
    /// the attempt, never at the central, which checks the PIN and records the decision first.
    Retry,
    /// Cancel or refund a succeeded intent: `POST /v1/orders/{order_id}/reversals`.
    Reverse,
    /// Close an inbox item with a reason, no money effect.
    Acknowledge,
    /// Archive a result the central refused: the terminal holding it keeps it in its journal and
    /// stops sending it. Recorded at the central, carried out on the terminal; no money effect.
    ArchiveResult,
}

impl ResolutionAction {
    pub fn as_str(self) -> &'static str {
        match self {
            ResolutionAction::MarkCharged => "mark_charged",
            ResolutionAction::MarkNotCharged => "mark_not_charged",
            ResolutionAction::CancelOpenIntent => "cancel_open_intent",
            ResolutionAction::Retry => "retry",
            ResolutionAction::Reverse => "reverse",
            ResolutionAction::Acknowledge => "acknowledge",
            ResolutionAction::ArchiveResult => "archive_result",
        }
    }

    /// Where the action is carried out.
    pub fn via(self) -> ActionRoute {
        match self {
            ResolutionAction::Retry | ResolutionAction::ArchiveResult => ActionRoute::Terminal,
            ResolutionAction::Reverse => ActionRoute::Reversal,
            _ => ActionRoute::Resolution,
        }
    }
}

/// Where an allowed action is carried out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum ActionRoute {
    /// `POST /v1/orders/{order_id}/resolutions` (or `/v1/exceptions/acknowledgements`).
    Resolution,
    /// `POST /v1/orders/{order_id}/reversals` (with its own key, reason, PIN, approval).
    Reversal,
    /// On the terminal that holds the attempt (its journal and keys).
    Terminal,
}

/// One action the evidence allows, with what it acts on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct AllowedAction {
    pub action: ResolutionAction,
    /// The intent it acts on (`mark_charged`, `cancel_open_intent`, `reverse`).
    pub intent_id: Option<String>,
    /// The inbox item it closes (`acknowledge`).
    pub item_id: Option<String>,
    /// Where it is carried out.
    pub via: ActionRoute,
    /// One plain sentence for the manager: what it does and why the evidence allows it.
    pub label: String,
}

/// `POST /v1/orders/{order_id}/resolutions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(deny_unknown_fields)]
pub struct ResolutionRequest {
    /// `mark_charged`, `mark_not_charged`, `cancel_open_intent`, `acknowledge`, or `retry` and
    /// `archive_result` (the central records the decision and the terminal holding the attempt
    /// carries it out); `reverse` is refused here: see [`ResolutionAction::via`].
    pub action: String,
    /// Needed by `mark_charged` and `cancel_open_intent`.
    #[serde(default)]
    pub intent_id: Option<String>,
    /// Needed by `acknowledge`: the inbox item's `item_id`.
    #[serde(default)]
    pub item_id: Option<String>,
    /// Needed by `retry` (the attempt the terminal retries with its own keys) and
    /// `archive_result` (the attempt whose refused result the terminal archives).
    #[serde(default)]
    pub attempt_id: Option<String>,
    pub reason: String,
    pub pin: String,
}

/// `POST /v1/exceptions/acknowledgements`: closes any acknowledgeable item, also one that names
/// no order (dropped results).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(deny_unknown_fields)]
pub struct AcknowledgeRequest {
    pub item_id: String,
    pub reason: String,
    pub pin: String,
}

/// The answer to an applied decision (also to a retry of one already applied).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct ResolutionOutcome {
    #[ts(type = "number")]
    pub resolution_id: i64,
    pub order_id: Option<String>,
    pub action: ResolutionAction,
    pub intent_id: Option<String>,
    pub item_id: Option<String>,
    /// Always `applied` (a refusal is an error answer).
    pub outcome: String,
    /// What the central saw that backs the decision.
    pub evidence: String,
    pub decided_by: String,
    /// True when this repeats a decision already applied (a retried request): nothing new was
    /// done.
    #[serde(default)]
    pub repeated: bool,
    /// The order after the decision.
    pub order: Option<Order>,
}

/// A decision recorded at the central, applied or refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct ResolutionRecord {
    #[ts(type = "number")]
    pub resolution_id: i64,
    pub action: String,
    pub intent_id: Option<String>,
    pub manager_id: String,
    pub reason: String,
    pub evidence: String,
    /// `applied` or `refused`.
    pub outcome: String,
    /// RFC 3339, UTC.
    pub at: String,
}

/// A Paydesk reversal of the order, as the central records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct ReversalRecord {
    pub reversal_id: String,
    pub intent_id: String,
    /// `cancel` or `refund`.
    pub kind: String,
    pub amount: Money,
    /// `pending`, `succeeded`, `failed`, …
    pub state: String,
    pub failure: Option<String>,
    pub requested_by: String,
    pub approved_by: Option<String>,
    /// The refund id (`re_…`), or the intent id of a cancel.
    pub gateway_id: Option<String>,
    /// RFC 3339, UTC.
    pub updated_at: String,
}

/// A refund the gateway's webhooks reported for the order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct RefundRecord {
    pub refund_id: String,
    pub intent_id: String,
    #[ts(type = "number")]
    pub amount_minor: i64,
    pub status: String,
    /// Whether a Paydesk reversal made it (`false`: made outside Paydesk).
    pub by_paydesk: bool,
    /// RFC 3339, UTC.
    pub received_at: String,
}

/// Everything the central has recorded about an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct CentralRecord {
    /// The order, its results (attempt rows) and its registered intents.
    pub detail: OrderDetail,
    pub resolutions: Vec<ResolutionRecord>,
    pub reversals: Vec<ReversalRecord>,
    pub refunds: Vec<RefundRecord>,
}

/// How the central came to look an intent up at the gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum FoundBy {
    /// The central knows it (registered, open or paying intent).
    Central,
    /// Only the gateway's search by `metadata['order_id']` found it.
    Search,
    /// Both.
    Both,
}

/// One intent as the gateway shows it now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct GatewayIntentEvidence {
    pub intent_id: String,
    pub found_by: FoundBy,
    /// The gateway's status word (`succeeded`, `processing`, `requires_capture`,
    /// `requires_payment_method`, `requires_confirmation`, `requires_action`, `canceled`).
    pub status: String,
    /// Whether the intent carries a payment error (a decline, a failed authentication).
    pub declined: bool,
    /// The payment error's most specific reason, when there is one.
    pub decline_reason: Option<String>,
    /// The intent's amount (`None` when read through a lookup that reports only the amount of
    /// a success, i.e. a central configured with a read-only gateway).
    pub amount: Option<Money>,
    /// What the gateway received, in minor units of `amount`'s currency (0 until it succeeded).
    #[ts(type = "number")]
    pub amount_received_minor: i64,
    /// Refunded so far on its charge, in minor units, as the gateway says (`None`: not read).
    #[ts(type = "number | null")]
    pub amount_refunded_minor: Option<i64>,
    /// Refund ids the central knows for this intent (its reversals and the gateway's webhooks).
    pub refunds: Vec<String>,
    /// The intent's own metadata: the order, attempt and terminal it was made for.
    pub metadata_order_id: Option<String>,
    pub metadata_attempt_id: Option<String>,
    pub metadata_terminal_id: Option<String>,
    /// The customer and the payment method the intent charged (Stripe `cus_…`, `pm_…`): a success
    /// on another card or customer is not this order's charge.
    pub customer: Option<String>,
    pub payment_method: Option<String>,
    pub latest_charge: Option<String>,
    pub cancellation_reason: Option<String>,
    /// Unix seconds.
    #[ts(type = "number")]
    pub created: i64,
}

/// The live lookup at the gateway.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct GatewayEvidence {
    pub intents: Vec<GatewayIntentEvidence>,
    /// Intents the central knows that the gateway could not be read for: while any is listed,
    /// no action that depends on every intent is offered.
    pub unreadable: Vec<String>,
    /// Whether the search by `metadata['order_id']` ran. A search that finds nothing proves
    /// nothing (the gateway's index lags writes by up to a minute).
    pub searched: bool,
    /// Plain sentences about the lookup itself (a failed search, a missing gateway).
    pub notes: Vec<String>,
}

/// `GET /v1/orders/{order_id}/evidence`: the central's record and the gateway's live view side
/// by side, the order's open inbox items, and the actions this evidence allows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct OrderEvidence {
    pub order_id: String,
    /// When the gateway was read (RFC 3339, UTC).
    pub looked_up_at: String,
    pub central: CentralRecord,
    pub gateway: GatewayEvidence,
    pub exceptions: Vec<ExceptionItem>,
    pub allowed_actions: Vec<AllowedAction>,
}

//! The charge flow's vocabulary: what the engine is configured with, what a charge asks for, the
//! progress and reports it gives back, and its errors (with the checks that raise the order's).

use paydesk_core::{
    Attempt, AttemptId, AttemptState, GatewayIntentId, Money, OperatorId, OrderId, RecoveryPolicy,
    TerminalId,
};
use paydesk_gateway::GatewayError;
use paydesk_journal::JournalError;
use serde::Serialize;

use crate::central::{is_chargeable, CentralError, OrderSnapshot};
use crate::offline::OfflineRefusal;

use super::AMBIGUOUS_BACKOFF_MS_BASE;

/// What the engine needs to know about this installation.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    pub terminal: TerminalId,
    pub recovery: RecoveryPolicy,
    /// Base pause after an ambiguous answer (tests set it to a few milliseconds).
    pub ambiguous_backoff_ms_base: u64,
    /// Results per delivery to the central (at most `OUTBOX_BATCH_ROWS_MAX`; the drain benchmark
    /// compares against 1).
    pub outbox_batch_rows: usize,
    /// Seeds the relay's backoff jitter; `None` (the product) seeds it from entropy. Tests set it
    /// so a retry time is the same on every run.
    pub jitter_seed: Option<u64>,
    /// One durable commit per step, as before issue 14: "created", "registered" and "confirm
    /// sent" each committed on its own. `false` (the product) commits the create's answer, the
    /// registration and the confirm's begin together, right before the confirm is sent (three
    /// commits per charge instead of five). Only the charge benchmark sets it, as its baseline.
    pub separate_commits: bool,
}

impl EngineConfig {
    pub fn new(terminal: TerminalId) -> EngineConfig {
        EngineConfig {
            terminal,
            recovery: RecoveryPolicy::STRIPE,
            ambiguous_backoff_ms_base: AMBIGUOUS_BACKOFF_MS_BASE,
            outbox_batch_rows: paydesk_journal::OUTBOX_BATCH_ROWS_MAX,
            jitter_seed: None,
            separate_commits: false,
        }
    }
}

/// A charge as the operator asked for it: the amount is what the operator saw, so a change at
/// the central in between stops the charge instead of charging a different amount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChargeRequest {
    pub order: OrderId,
    pub operator: OperatorId,
    pub expected_amount: Money,
}

/// Progress of a charge, for the UI. One value per durable step, plus waits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Progress {
    Claimed {
        order: OrderId,
        attempt_number: u32,
    },
    /// A step was committed to the journal.
    Step {
        attempt_id: AttemptId,
        event: String,
        state: AttemptState,
    },
    /// The central is unreachable and the charge goes ahead under a manager's allowance.
    Offline {
        order: OrderId,
        approved_by: OperatorId,
    },
    /// An ambiguous answer; the engine waits and asks again.
    Waiting {
        attempt_id: AttemptId,
        what: String,
        #[ts(type = "number")]
        delay_ms: u64,
    },
}

/// Where an attempt stands when a run of the driver returns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChargeReport {
    pub attempt: Attempt,
    /// Set when the run stopped before a final state: why, and that recovery continues.
    pub pending: Option<String>,
}

impl ChargeReport {
    pub fn state(&self) -> AttemptState {
        self.attempt.state
    }
}

/// Why a charge did not start or could not continue.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("{0}")]
    Central(#[from] CentralError),
    #[error("order {order} is {status} at the central and cannot be charged")]
    NotChargeable { order: OrderId, status: String },
    /// The order's amount at the central (`current`) is not the one the operator expects.
    #[error("{}", amount_mismatch(order, expected, current))]
    AmountChanged {
        order: OrderId,
        expected: Money,
        current: Money,
    },
    /// The central is unreachable and the offline policy does not allow this charge: `refusal`
    /// names the rule, `detail` why the central could not be reached.
    #[error("the central server is unreachable ({detail}); {refusal}")]
    Offline {
        refusal: OfflineRefusal,
        detail: String,
    },
    /// This terminal's journal holds a succeeded attempt for the order.
    #[error(
        "order {order} is already paid: attempt {attempt} on this terminal charged it; do not \
         charge it again"
    )]
    ChargedHere { order: OrderId, attempt: AttemptId },
    /// This terminal's journal holds an attempt for the order that is not finished: recovery (or
    /// a manager) settles it first.
    #[error(
        "order {order} has an unfinished attempt on this terminal ({attempt}, {state}): it must \
         be settled first — run recovery, or ask a manager if it waits for review"
    )]
    OpenHere {
        order: OrderId,
        attempt: AttemptId,
        state: AttemptState,
    },
    #[error(
        "order {order} was already charged through intent {intent} by a previous attempt: the \
         central will mark it paid once that result is reconciled; do not charge it again"
    )]
    PreviousIntentCharged {
        order: OrderId,
        intent: GatewayIntentId,
    },
    /// The gateway refused our configuration (bad key, bad request): nothing was executed.
    #[error("{0}")]
    Gateway(#[from] GatewayError),
    #[error("{0}")]
    Journal(#[from] JournalError),
    /// The journal failed verification (I8): recovery, the relay and charging act on nothing in
    /// it until a manager reconciles it. `message` names the first problem.
    #[error(
        "the journal failed verification ({message}): recovery, sync and charging stop until a \
         manager reconciles it"
    )]
    JournalBroken { message: String },
    #[error("internal error: {0}")]
    Internal(String),
}

/// "order X is 45.50 EUR, not the 12.34 EUR you typed", with what to do; a different currency
/// is named as such.
pub(super) fn amount_mismatch(order: &OrderId, expected: &Money, current: &Money) -> String {
    let what = if expected.currency() != current.currency() {
        "the currency differs"
    } else {
        "the amount differs"
    };
    format!(
        "order {order} is {current}, not the {expected} you typed ({what}): check the amount with \
         the customer, then charge it as {current}; nothing was charged"
    )
}

/// Stops a charge of an order that is not chargeable or not the amount the operator expects.
pub(super) fn check_order(
    order: &OrderSnapshot,
    request: &ChargeRequest,
) -> Result<(), EngineError> {
    if !is_chargeable(order.status) {
        return Err(EngineError::NotChargeable {
            order: order.id.clone(),
            status: order.status.as_str().replace('_', " "),
        });
    }
    if order.amount != request.expected_amount {
        return Err(EngineError::AmountChanged {
            order: order.id.clone(),
            expected: request.expected_amount,
            current: order.amount,
        });
    }
    Ok(())
}

impl EngineError {
    /// True when this error proves that nothing was charged by the request that returned it: it
    /// stopped before any gateway request (claim refused, order changed, offline refused), or the
    /// gateway refused the request itself. A journal or internal error may come after a request
    /// was sent, so it proves nothing — recovery finishes that attempt.
    pub fn nothing_charged(&self) -> bool {
        match self {
            EngineError::Central(_)
            | EngineError::ChargedHere { .. }
            | EngineError::OpenHere { .. }
            | EngineError::NotChargeable { .. }
            | EngineError::AmountChanged { .. }
            | EngineError::Offline { .. }
            | EngineError::PreviousIntentCharged { .. }
            | EngineError::Gateway(_)
            | EngineError::JournalBroken { .. } => true,
            EngineError::Journal(_) | EngineError::Internal(_) => false,
        }
    }
}

/// Summary of one recovery pass.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct RecoveryReport {
    /// Attempts looked at.
    pub examined: usize,
    /// Reached a final state in this pass.
    pub finished: usize,
    /// Went to a manager's queue in this pass.
    pub needs_review: usize,
    /// Still open (waiting for the central or the gateway); the next pass continues.
    pub still_open: usize,
    /// Attempts whose run failed with an error (kept open; the message says why).
    pub errors: Vec<String>,
}

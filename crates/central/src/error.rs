//! The central's one error type, in the caller's terms: what was refused and why.
//!
//! It deliberately knows nothing about HTTP; the `IntoResponse` impl in `http` maps it to status
//! codes and JSON bodies in one place, and that mapping is the only place that decides what a
//! client may read.

use paydesk_core::{ClaimToken, OrderId};
use paydesk_protocol::guard::{EarlierAttempt, ReattemptDetail};
use paydesk_protocol::{ClaimHolder, ErrorCode, OrderStatus};

#[derive(Debug, thiserror::Error)]
pub enum CentralError {
    /// The database failed; the detail is for logs only.
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A stored row no longer parses: a bug or a manual edit, never the client's fault.
    #[error("stored row is invalid: {0}")]
    Corrupt(String),
    #[error("order {0} not found")]
    OrderNotFound(OrderId),
    #[error("order {order_id} is held by operator {} on terminal {} since {}", holder.operator_id, holder.terminal_id, holder.since)]
    ClaimHeld {
        order_id: OrderId,
        holder: ClaimHolder,
    },
    /// The duplicate guard or the card networks' reattempt rules refused a claim: the refusal
    /// carries the earlier attempt or the card's count, and a message that says it all.
    #[error("{}", .0.message)]
    Guard(Box<GuardRefusal>),
    #[error("order {order_id} is {} and cannot be charged", status.as_str())]
    NotChargeable {
        order_id: OrderId,
        status: OrderStatus,
    },
    /// A decision carried a claim token older than the order's current one (invariant I5).
    #[error(
        "claim token {presented} for order {order_id} is stale: the order was claimed again since; claim it anew"
    )]
    StaleToken {
        order_id: OrderId,
        presented: ClaimToken,
        current: u64,
    },
    #[error("order {order_id} is not held by this terminal under token {token}")]
    NotHolder {
        order_id: OrderId,
        token: ClaimToken,
    },
    /// Release refused: an intent is registered, so a charge may have been sent.
    #[error("order {order_id} has registered intent {intent_id}: a charge may have been sent")]
    ChargeMayBeInFlight {
        order_id: OrderId,
        intent_id: String,
    },
    #[error("order {order_id} already has another open intent {intent_id}")]
    OtherIntentOpen {
        order_id: OrderId,
        intent_id: String,
    },
    #[error("attempt number {presented} does not match the claim's attempt {expected}")]
    WrongAttempt { presented: u32, expected: i64 },
    /// The request itself is wrong; the message is safe to show to the client.
    #[error("{0}")]
    Invalid(String),
    /// The amount asked for cannot be charged (zero, another currency, above the balance due);
    /// the message says which and is safe to show.
    #[error("{0}")]
    InvalidAmount(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Unauthorized(&'static str),
    #[error("{0}")]
    Forbidden(&'static str),
    /// Refused outright for what the request itself says (a results batch every item of which
    /// no honest terminal sends): 403 with a message naming why; nothing was written.
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    Unavailable(&'static str),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    NotFound(String),
}

/// A claim refused by the guard, as the error answer carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuardRefusal {
    pub code: ErrorCode,
    pub message: String,
    pub holder: Option<ClaimHolder>,
    pub earlier: Option<EarlierAttempt>,
    pub reattempt: Option<ReattemptDetail>,
}

impl CentralError {
    /// True for the PostgreSQL errors a transaction may simply be retried after (deadlock detected,
    /// serialization failure); SQLite's single connection never produces them.
    pub fn is_retryable(&self) -> bool {
        match self {
            CentralError::Db(sqlx::Error::Database(e)) => {
                matches!(e.code().as_deref(), Some("40P01") | Some("40001"))
            }
            _ => false,
        }
    }
}

pub type CentralResult<T> = Result<T, CentralError>;

//! Paydesk's pure core: money, identifiers, the attempt state machine of the charge protocol,
//! recovery decisions, the journal record format, the outbox retry policy and spreadsheet-safe
//! CSV cells.
//!
//! Deliberately absent: I/O of any kind, clock reads and randomness. Time, ids and random numbers
//! come in as arguments, so every function here is deterministic and exhaustively testable.

pub mod attempt;
pub mod csv;
pub mod grant;
pub mod ids;
pub mod money;
pub mod pin;
pub mod reattempt;
pub mod record;
pub mod retry;
pub mod time;

pub use attempt::{
    next_action, step, Action, Attempt, AttemptEvent, AttemptState, ChargeOutcome, CreateOutcome,
    Effect, IntentStatus, NewAttempt, RecoveryPolicy, RegisterOutcome, Resolution,
};
pub use grant::{OfflineGrant, OFFLINE_GRANT_KEY};
pub use ids::{
    AttemptId, AttemptNumber, ClaimToken, CustomerId, GatewayIntentId, IdError, IdempotencyKey,
    InstallmentNumber, OperatorId, OrderId, PaymentMethodId, TerminalId,
};
pub use money::{Currency, Money, MoneyError};
pub use pin::{Pin, PinError, PIN_DIGITS_MAX, PIN_DIGITS_MIN};
pub use time::Timestamp;

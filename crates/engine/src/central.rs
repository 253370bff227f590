//! The engine's narrow view of the central server: claim an order, register an intent against the
//! claim, release a claim that never sent anything, and deliver results.
//!
//! A trait, so the engine runs against the real HTTP client in the product and the system tests,
//! and against an in-memory double in the engine's own unit tests. One `Central` may stand for
//! several central processes on one database (the HTTP client fails over between them); what
//! each method may do about a lost answer is said on the method, and the engine relies on it. Deliberately absent: HTTP, the
//! wire format, authentication (the client implementation owns those).

use std::fmt::Debug;

use async_trait::async_trait;
use paydesk_core::{
    AttemptNumber, ClaimToken, CustomerId, GatewayIntentId, InstallmentNumber, Money, OperatorId,
    OrderId, PaymentMethodId, TerminalId, Timestamp,
};
use paydesk_journal::ResultMessage;
use serde::Serialize;

/// Where an order stands at the central, and the central's error codes (the central's own types).
pub use paydesk_protocol::{ErrorCode, OrderStatus};

/// The orders the central lets a terminal claim ([`OrderStatus::is_chargeable`], the one copy of
/// the rule, which the desktop's queue also shows).
pub fn is_chargeable(status: OrderStatus) -> bool {
    status.is_chargeable()
}

/// The order as the central sees it at the moment of the claim (a fresh re-read).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrderSnapshot {
    pub id: OrderId,
    pub amount: Money,
    pub status: OrderStatus,
    pub customer: Option<CustomerId>,
    pub payment_method: PaymentMethodId,
    /// What the order's counted successes add up to (installments): the balance due is
    /// `amount` less this.
    pub paid_minor: i64,
}

/// A granted processing flag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Claim {
    /// The fencing token: every later decision about this order carries it.
    pub token: ClaimToken,
    /// The number this attempt gets (the create idempotency key derives from it).
    pub attempt_number: AttemptNumber,
    /// Computed with the central's clock.
    pub lease_expires_at: Timestamp,
    pub order: OrderSnapshot,
    /// An intent a previous holder registered and nobody resolved: it must be settled before
    /// another intent is created for the order.
    pub open_intent: Option<GatewayIntentId>,
    /// Which payment of the order this attempt is (issue 12, installments).
    pub installment: InstallmentNumber,
    /// What the central granted this attempt to charge: the amount asked for, or the balance.
    pub amount: Money,
}

/// Who asks for the claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimRequest {
    pub order: OrderId,
    pub operator: OperatorId,
    pub terminal: TerminalId,
}

/// What the operator confirmed for one claim.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClaimOptions {
    /// The operator saw the central's `similar_payment` warning (the same customer paid the
    /// same amount on another order recently) and confirmed this is not a duplicate.
    pub confirm_similar: bool,
    /// What this payment charges (issue 12, installments); `None`: the balance due. Another
    /// amount than the balance needs the permission and `reason` at the central.
    pub amount: Option<Money>,
    /// Why an amount other than the balance due is charged (audited at the central).
    pub reason: Option<String>,
}

/// How the central answered a delivered result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Applied now.
    Applied,
    /// Applied before (the attempt id was seen): the effect happened exactly once.
    Duplicate,
    /// Stored and flagged for a person (contradicts what the central knows); counts as delivered.
    Flagged { reason: String },
    /// Refused; the message is parked locally for a person, never deleted.
    Rejected { reason: String },
}

/// Why the central did not do what was asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CentralError {
    /// No connection could be made (network down, central down): the offline policy applies.
    #[error("the central server is unreachable: {detail}")]
    Unreachable { detail: String },
    /// A connection was made but no usable answer came (a timeout, a 5xx, a cut-off body): the
    /// central may have done what was asked (committed a claim, say), so this is not "offline" —
    /// a charge stops here and nothing is sent to the gateway.
    #[error("the central server did not answer in time: {detail}")]
    NoAnswer { detail: String },
    /// Another operator holds the order's processing flag.
    #[error("order is being charged by {operator} on terminal {terminal} since {since}")]
    HeldBy {
        operator: OperatorId,
        terminal: TerminalId,
        since: Timestamp,
    },
    /// The claim token is no longer the current one: someone else took the order over.
    #[error("the claim is stale: the order was taken over")]
    StaleClaim,
    /// The order is paid, under review, or otherwise not chargeable now (the central's words).
    #[error("{0}")]
    NotChargeable(String),
    #[error("order {0} is not known to the central")]
    UnknownOrder(OrderId),
    /// This terminal's token was refused.
    #[error("the central refused this terminal's credentials: re-provision the terminal")]
    Unauthorized,
    /// The request needs a signed-in person and none was sent: sign in first.
    #[error("nobody is signed in for this request: sign in first")]
    SessionRequired,
    /// The person's session ended (idle, past its maximum age, or signed out): sign in again.
    #[error("your session has ended (idle too long or past its maximum age): sign in again")]
    SessionExpired,
    /// Too many wrong PINs: sign-in is locked (the central's words say until when).
    #[error("{0}")]
    Locked(String),
    /// Too many requests of this kind from this terminal: wait and retry.
    #[error("too many requests: {0}")]
    RateLimited(String),
    /// The signed-in person may not do this (an operator asking for a manager's action, or a
    /// session that does not match the request).
    #[error("not allowed: {0}")]
    Forbidden(String),
    /// Any other refusal: the central's machine code and its message.
    #[error("the central refused the request: {message}")]
    Refused { code: ErrorCode, message: String },
    /// This terminal cannot talk to the central as configured, or could not use its answer (a
    /// bad URL, an answer that breaks the protocol): nothing was decided at the central.
    #[error("this terminal could not use the central: {0}")]
    Invalid(String),
}

/// The central server, as the engine needs it.
#[async_trait]
pub trait Central: Send + Sync + Debug {
    /// The order's amount and status as the central has them now, read without claiming, so a
    /// charge that would stop (wrong amount, not chargeable) stops before it takes a claim and an
    /// attempt number. `Ok(None)`: this central cannot say (the claim still checks).
    async fn peek_order(&self, _order: &OrderId) -> Result<Option<OrderSnapshot>, CentralError> {
        Ok(None)
    }

    /// Claims the order's processing flag and re-reads the order. Never sent again elsewhere once
    /// a central was reached: a lost answer is `NoAnswer` (the claim may stand; it runs out with
    /// its lease), never a second claim that would take the order over from this attempt.
    async fn claim(&self, request: &ClaimRequest) -> Result<Claim, CentralError>;

    /// [`Central::claim`] with what the operator confirmed. A central without the duplicate
    /// guard (the test doubles) has nothing to confirm: the default claims as usual.
    async fn claim_with(
        &self,
        request: &ClaimRequest,
        _options: ClaimOptions,
    ) -> Result<Claim, CentralError> {
        self.claim(request).await
    }

    /// Registers the gateway intent of this attempt against the claim (fenced by the token). A
    /// repeat under the same token is a no-op, so a lost answer may be retried at another central.
    async fn register_intent(
        &self,
        order: &OrderId,
        token: ClaimToken,
        attempt_number: AttemptNumber,
        intent: &GatewayIntentId,
    ) -> Result<(), CentralError>;

    /// Gives the flag back: only valid before a charge could have been sent.
    async fn release(&self, order: &OrderId, token: ClaimToken) -> Result<(), CentralError>;

    /// Delivers a batch of results with the journal's head `(seq, hash)`; one status per
    /// message, in order. The central applies each attempt once, so a batch whose answer was lost
    /// may be delivered again, at any central: the repeat answers `Duplicate`.
    async fn deliver(
        &self,
        results: &[ResultMessage],
        journal_head: (i64, String),
    ) -> Result<Vec<DeliveryStatus>, CentralError>;
}

//! The central server's wire protocol: every request and response body that crosses between a
//! desktop terminal (or an admin tool) and the central, as serde types built on core's newtypes.
//!
//! Requests refuse unknown fields so a typo or a client from another version fails loudly instead
//! of being half-understood. Deliberately absent: HTTP routing, storage and any validation beyond
//! what the types themselves enforce (the central owns the rest, e.g. whether an order exists).

use paydesk_core::{
    AttemptId, AttemptNumber, ClaimToken, GatewayIntentId, InstallmentNumber, Money, OperatorId,
    OrderId, TerminalId, Timestamp,
};
use serde::{Deserialize, Serialize};

pub mod customer;
pub mod guard;
pub mod manager;
pub mod payment_method;
pub mod session;
pub mod settings;
pub use session::*;

/// Longest free-text field accepted on an order (description), in characters.
pub const DESCRIPTION_LEN_MAX: usize = 500;
/// Longest customer name accepted on an order, in characters.
pub const CUSTOMER_NAME_LEN_MAX: usize = 200;
/// Longest customer or payment-method id accepted, in characters (Stripe ids are ~30).
pub const REFERENCE_LEN_MAX: usize = 128;
/// Most orders accepted in one import request; bigger files are split by the client.
pub const IMPORT_ORDERS_MAX: usize = 5_000;
/// Most results accepted in one batch; the desktop's relay sends at most this many.
pub const RESULT_BATCH_ROWS_MAX: usize = 1_000;
/// Largest page of the unpaid queue.
pub const PAGE_ROWS_MAX: u32 = 200;

/// The body of every error answer: `{"error": {"code", "message"}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// What went wrong, in a stable machine code and a sentence for people that says what to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    pub code: ErrorCode,
    pub message: String,
    /// Present on `claim_held`: who holds the order now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holder: Option<ClaimHolder>,
    /// Present when the duplicate guard refused a claim: the earlier attempt in the way.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub earlier: Option<guard::EarlierAttempt>,
    /// Present on `reattempt_refused`: the card's count and when a retry becomes allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reattempt: Option<guard::ReattemptDetail>,
}

/// The machine code of an error answer: one enum for the central that sends it and the clients
/// that branch on it, so neither side matches on message text. Serialized in snake_case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Another terminal holds the order (`holder` says who).
    ClaimHeld,
    /// The claim token is older than the order's current one (fencing, I5).
    StaleClaimToken,
    /// The caller does not hold the claim it names.
    NotClaimHolder,
    /// The holder may have sent a charge: report its result instead of releasing.
    ChargeMayBeInFlight,
    /// Another intent is registered for the order and not settled.
    OtherIntentOpen,
    /// The attempt number is not the claim's.
    WrongAttemptNumber,
    /// The amount asked for cannot be charged: zero or less, another currency than the order's,
    /// or more than its balance due (the message says which, and the balance).
    InvalidAmount,
    /// The order is paid or otherwise not chargeable now.
    OrderNotChargeable,
    /// The same customer paid the same amount on another order recently (`earlier` names it):
    /// claim again with `confirm_similar` once the operator confirmed it is not a duplicate.
    SimilarPayment,
    /// The card networks' rules forbid another attempt on this card now (`reattempt` says why
    /// and when a retry becomes allowed).
    ReattemptRefused,
    /// No such order.
    OrderNotFound,
    /// No such route or object.
    NotFound,
    /// The request is malformed or a value is out of range.
    InvalidRequest,
    /// The request conflicts with what is stored (for example an id that is taken).
    Conflict,
    /// No valid token.
    Unauthorized,
    /// A valid token that may not do this.
    Forbidden,
    /// A dependency (the gateway, the database) is unavailable.
    Unavailable,
    /// The database pool is exhausted.
    Busy,
    /// The request took too long and was rolled back.
    Timeout,
    /// The health check could not reach the database.
    DatabaseUnavailable,
    /// The body is over the size limit.
    BodyTooLarge,
    /// The body is not JSON (or the content type says so).
    UnsupportedMediaType,
    /// The route does not take that method.
    MethodNotAllowed,
    /// A webhook whose signature does not verify.
    InvalidSignature,
    /// The route needs an operator session (`X-Paydesk-Session`) and none was sent.
    SessionRequired,
    /// The session expired (idle or past its maximum age) or was ended: sign in again.
    SessionExpired,
    /// Too many wrong PINs: sign-in for this operator is locked until the time in the message.
    Locked,
    /// Too many requests of this kind: wait (see `Retry-After`) and retry.
    RateLimited,
    /// A bug or a fault inside the central; the detail is in its log.
    Internal,
    /// A code this client does not know (a newer central): treated as a refusal.
    #[serde(other)]
    Unknown,
}

impl ErrorCode {
    /// The code as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::ClaimHeld => "claim_held",
            ErrorCode::StaleClaimToken => "stale_claim_token",
            ErrorCode::NotClaimHolder => "not_claim_holder",
            ErrorCode::ChargeMayBeInFlight => "charge_may_be_in_flight",
            ErrorCode::OtherIntentOpen => "other_intent_open",
            ErrorCode::WrongAttemptNumber => "wrong_attempt_number",
            ErrorCode::InvalidAmount => "invalid_amount",
            ErrorCode::OrderNotChargeable => "order_not_chargeable",
            ErrorCode::SimilarPayment => "similar_payment",
            ErrorCode::ReattemptRefused => "reattempt_refused",
            ErrorCode::OrderNotFound => "order_not_found",
            ErrorCode::NotFound => "not_found",
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::Conflict => "conflict",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::Busy => "busy",
            ErrorCode::Timeout => "timeout",
            ErrorCode::DatabaseUnavailable => "database_unavailable",
            ErrorCode::BodyTooLarge => "body_too_large",
            ErrorCode::UnsupportedMediaType => "unsupported_media_type",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::InvalidSignature => "invalid_signature",
            ErrorCode::SessionRequired => "session_required",
            ErrorCode::SessionExpired => "session_expired",
            ErrorCode::Locked => "locked",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::Internal => "internal",
            ErrorCode::Unknown => "unknown",
        }
    }
}

/// The payment gateway that charges an order, named on the order at import (issue 13). A
/// Stripe order's payment source is a saved payment method (`pm_…`); a PayPal order's is a
/// vaulted source written `card:<vault id>` or `paypal:<vault id>` (a PayPal wallet). Older
/// clients and files that name none mean Stripe.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    ts_rs::TS,
)]
#[serde(rename_all = "snake_case")]
pub enum GatewayName {
    #[default]
    Stripe,
    Paypal,
}

impl GatewayName {
    pub const ALL: [GatewayName; 2] = [GatewayName::Stripe, GatewayName::Paypal];

    pub fn as_str(self) -> &'static str {
        match self {
            GatewayName::Stripe => "stripe",
            GatewayName::Paypal => "paypal",
        }
    }

    pub fn parse(s: &str) -> Option<GatewayName> {
        Some(match s {
            "stripe" => GatewayName::Stripe,
            "paypal" => GatewayName::Paypal,
            _ => return None,
        })
    }

    /// The gateway whose syntax a payment source is written in: `card:…` and `paypal:…` are
    /// PayPal's vaulted sources, anything else is a Stripe payment method.
    pub fn of_payment_source(source: &str) -> GatewayName {
        match source.split_once(':') {
            Some(("card" | "paypal", _)) => GatewayName::Paypal,
            _ => GatewayName::Stripe,
        }
    }
}

impl std::fmt::Display for GatewayName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where an order stands at the central.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    Unpaid,
    Paid,
    Failed,
    NeedsAction,
    NeedsReview,
}

impl OrderStatus {
    /// Every status, for code that must enumerate them (an SQL list derived from a rule here).
    pub const ALL: [OrderStatus; 5] = [
        OrderStatus::Unpaid,
        OrderStatus::Paid,
        OrderStatus::Failed,
        OrderStatus::NeedsAction,
        OrderStatus::NeedsReview,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Unpaid => "unpaid",
            OrderStatus::Paid => "paid",
            OrderStatus::Failed => "failed",
            OrderStatus::NeedsAction => "needs_action",
            OrderStatus::NeedsReview => "needs_review",
        }
    }

    pub fn parse(s: &str) -> Option<OrderStatus> {
        Some(match s {
            "unpaid" => OrderStatus::Unpaid,
            "paid" => OrderStatus::Paid,
            "failed" => OrderStatus::Failed,
            "needs_action" => OrderStatus::NeedsAction,
            "needs_review" => OrderStatus::NeedsReview,
            _ => return None,
        })
    }

    /// Whether a terminal may claim the order: unpaid, or its last attempt was declined or needed
    /// the customer's action (a new attempt may follow once the customer has been in touch).
    /// Paid orders and orders under review are not. The one copy of the rule: the central's claim
    /// SQL is built from it, the engine checks it before a claim, and the UI's queue offers
    /// "Charge" by it.
    pub fn is_chargeable(self) -> bool {
        matches!(
            self,
            OrderStatus::Unpaid | OrderStatus::Failed | OrderStatus::NeedsAction
        )
    }
}

/// An order to import. Idempotent on `order_id`: importing the same order again changes nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportOrder {
    pub order_id: OrderId,
    pub amount: Money,
    pub customer_id: String,
    pub payment_method_id: String,
    #[serde(default)]
    pub description: String,
    /// The gateway that charges it (Stripe when absent).
    #[serde(default)]
    pub gateway: GatewayName,
    /// The customer's name as the merchant's records have it (issue 12, item 1); empty when
    /// not known (the gateway's holder name is shown instead).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub customer_name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportOrdersRequest {
    pub orders: Vec<ImportOrder>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportOrdersResponse {
    /// Orders that did not exist before.
    pub created: u32,
    /// Orders that existed with exactly the same content.
    pub unchanged: u32,
    /// Orders that existed with different content: left as they were, listed for a person.
    pub conflicting: Vec<OrderId>,
}

/// Who holds an order's processing flag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct ClaimHolder {
    pub operator_id: OperatorId,
    pub terminal_id: TerminalId,
    pub since: Timestamp,
    pub lease_until: Timestamp,
}

/// An order as the central knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct Order {
    pub order_id: OrderId,
    pub amount: Money,
    pub customer_id: String,
    pub payment_method_id: String,
    pub description: String,
    pub status: OrderStatus,
    /// The current holder, if a claim's lease has not run out or a charge may be in flight.
    pub claim: Option<ClaimHolder>,
    /// The gateway intent whose success paid the order.
    pub paid_intent_id: Option<GatewayIntentId>,
    /// Sum refunded according to the gateway's webhooks, in minor units.
    #[ts(type = "number")]
    pub refunded_minor: i64,
    pub disputed: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// The last attempt number handed out for this order (0: never claimed). A terminal that
    /// charges the order offline takes the next one, so its create key is the one the next online
    /// attempt would use, and the gateway refuses the second of the two.
    #[serde(default)]
    pub attempt_seq: u32,
    /// The gateway that charges it; `payment_method_id` is written in its syntax.
    #[serde(default)]
    pub gateway: GatewayName,
    /// What its counted successes add up to, in minor units of `amount`'s currency (issue 12,
    /// installments). 0 < paid < amount: the order is partly paid and stays in the queue with
    /// its balance due; it is paid once the balance reaches 0.
    #[serde(default)]
    #[ts(type = "number")]
    pub paid_minor: i64,
    /// The customer's name as imported; empty when the import named none.
    #[serde(default)]
    pub customer_name: String,
    /// The saved payment method as the central last read it from the gateway (issue 12, item
    /// 1); `None` when it was never looked up.
    #[serde(default)]
    pub saved_method: Option<payment_method::SavedMethod>,
}

impl Order {
    /// What is left to charge: the amount less the successes counted (never below zero).
    pub fn balance_due(&self) -> Money {
        balance_due(self.amount, self.paid_minor)
    }
}

/// `amount` less `paid_minor` of its currency, never below zero (an over-charge is a flag for a
/// manager, not a negative balance).
pub fn balance_due(amount: Money, paid_minor: i64) -> Money {
    let left = amount.minor().saturating_sub(paid_minor).max(0);
    Money::new(left, amount.currency()).unwrap_or(amount)
}

/// A page of orders; pass `next_after` as `after` to get the next page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderPage {
    pub orders: Vec<Order>,
    pub next_after: Option<OrderId>,
}

/// One result received for an order, as stored in the results inbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct PaymentRecord {
    pub attempt_id: AttemptId,
    pub attempt_number: AttemptNumber,
    pub claim_token: ClaimToken,
    pub terminal_id: TerminalId,
    pub outcome: ResultOutcome,
    pub amount: Money,
    pub intent_id: Option<GatewayIntentId>,
    pub offline: bool,
    pub occurred_at: Timestamp,
    pub received_at: Timestamp,
    pub status: ItemStatus,
    pub reason: Option<String>,
    /// Which payment of the order the attempt was (1 for results sent before installments).
    #[serde(default = "InstallmentNumber::first")]
    pub installment: InstallmentNumber,
}

/// A gateway intent registered against a claim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct IntentRecord {
    pub intent_id: GatewayIntentId,
    pub attempt_number: AttemptNumber,
    pub claim_token: ClaimToken,
    pub terminal_id: TerminalId,
    pub registered_at: Timestamp,
    pub state: String,
}

/// An order with its payment history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct OrderDetail {
    pub order: Order,
    pub results: Vec<PaymentRecord>,
    pub intents: Vec<IntentRecord>,
}

/// Claim an order for charging. The terminal is the one the bearer token names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimRequest {
    pub operator_id: OperatorId,
    /// The operator confirmed that this is not a duplicate of a recent payment by the same
    /// customer of the same amount (answer to `similar_payment`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub confirm_similar: bool,
    /// What this payment should charge (issue 12, installments); absent: the balance due. An
    /// amount other than the balance needs the `charge_other_amount` permission and a `reason`
    /// (audited). Refused with `invalid_amount` when zero, in another currency or above the
    /// balance due.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<Money>,
    /// Why an amount other than the balance due is charged (a deposit, an agreed part-payment).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The order as it stands at the moment of the claim: the desktop stops if it is already paid
/// or its amount is not what the operator expected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderSnapshot {
    pub amount: Money,
    pub status: OrderStatus,
    pub customer_id: String,
    pub payment_method_id: String,
    /// The successes counted so far, in minor units: the balance due is `amount` less this.
    #[serde(default)]
    pub paid_minor: i64,
}

/// A committed processing flag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claim {
    pub order_id: OrderId,
    pub claim_token: ClaimToken,
    pub attempt_number: AttemptNumber,
    pub operator_id: OperatorId,
    pub terminal_id: TerminalId,
    pub claimed_at: Timestamp,
    /// Computed with the central's clock; renew before it passes.
    pub lease_until: Timestamp,
    pub order: OrderSnapshot,
    /// An intent a previous holder registered and nobody resolved: look at it before creating
    /// another (succeeded → report paid; confirmable → confirm it; otherwise cancel it).
    pub open_intent_id: Option<GatewayIntentId>,
    /// Which payment of the order this claim's attempt is: one more than the successes counted.
    #[serde(default = "InstallmentNumber::first")]
    pub installment: InstallmentNumber,
    /// What the central granted this attempt to charge: the amount asked for, or the balance due
    /// (absent from centrals before installments: the order's amount).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<Money>,
}

/// Renew or release a claim; fenced by its token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimTokenRequest {
    pub claim_token: ClaimToken,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RenewResponse {
    pub claim_token: ClaimToken,
    pub lease_until: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseResponse {
    pub released: bool,
}

/// Register the gateway intent created for a claim's attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterIntentRequest {
    pub claim_token: ClaimToken,
    pub attempt_number: AttemptNumber,
    pub intent_id: GatewayIntentId,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterIntentResponse {
    pub intent_id: GatewayIntentId,
    /// False when the same intent had already been registered (a retried request).
    pub newly_registered: bool,
}

/// What a charge attempt ended with, as the desktop reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum ResultOutcome {
    Succeeded,
    Declined,
    RequiresAction,
    Canceled,
    NeedsReview,
}

impl ResultOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            ResultOutcome::Succeeded => "succeeded",
            ResultOutcome::Declined => "declined",
            ResultOutcome::RequiresAction => "requires_action",
            ResultOutcome::Canceled => "canceled",
            ResultOutcome::NeedsReview => "needs_review",
        }
    }

    pub fn parse(s: &str) -> Option<ResultOutcome> {
        Some(match s {
            "succeeded" => ResultOutcome::Succeeded,
            "declined" => ResultOutcome::Declined,
            "requires_action" => ResultOutcome::RequiresAction,
            "canceled" => ResultOutcome::Canceled,
            "needs_review" => ResultOutcome::NeedsReview,
            _ => return None,
        })
    }
}

/// One attempt's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResultItem {
    pub attempt_id: AttemptId,
    pub order_id: OrderId,
    pub attempt_number: AttemptNumber,
    pub claim_token: ClaimToken,
    pub outcome: ResultOutcome,
    pub amount: Money,
    pub intent_id: Option<GatewayIntentId>,
    pub offline: bool,
    pub occurred_at: Timestamp,
    /// Which payment of the order the attempt is (absent before installments: the first).
    #[serde(default = "InstallmentNumber::first")]
    pub installment: InstallmentNumber,
}

/// The head of the terminal's journal hash chain at the time of the sync.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JournalHead {
    pub seq: u64,
    /// Lower-case hex SHA-256 of the head record.
    pub hash: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResultBatch {
    pub journal_head: JournalHead,
    pub results: Vec<ResultItem>,
}

/// What the central did with one result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum ItemStatus {
    /// Stored and applied to the order.
    Applied,
    /// Already stored by an earlier delivery; nothing changed.
    Duplicate,
    /// Stored but not applied; `reason` says why (e.g. unknown order).
    Rejected,
    /// Stored and flagged for a manager because it contradicts what the central knows.
    Flagged,
}

impl ItemStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ItemStatus::Applied => "applied",
            ItemStatus::Duplicate => "duplicate",
            ItemStatus::Rejected => "rejected",
            ItemStatus::Flagged => "flagged",
        }
    }

    pub fn parse(s: &str) -> Option<ItemStatus> {
        Some(match s {
            "applied" => ItemStatus::Applied,
            "duplicate" => ItemStatus::Duplicate,
            "rejected" => ItemStatus::Rejected,
            "flagged" => ItemStatus::Flagged,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemReceipt {
    pub attempt_id: AttemptId,
    pub status: ItemStatus,
    pub reason: Option<String>,
}

/// Whether the reported journal head is consistent with the heads reported before.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalReceipt {
    pub flagged: bool,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResultBatchResponse {
    pub items: Vec<ItemReceipt>,
    pub journal: JournalReceipt,
}

/// A person's role at the terminals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Operator,
    Manager,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Operator => "operator",
            Role::Manager => "manager",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "operator" => Some(Role::Operator),
            "manager" => Some(Role::Manager),
            _ => None,
        }
    }
}

/// An operator or manager as a terminal may see them: who and what role, never a PIN hash
/// (the central alone checks PINs; see [`session`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperatorRecord {
    pub operator_id: OperatorId,
    pub role: Role,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperatorList {
    pub operators: Vec<OperatorRecord>,
}

/// Admin: register a terminal. The answer carries its bearer token, shown this once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateTerminalRequest {
    pub terminal_id: TerminalId,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateTerminalResponse {
    pub terminal_id: TerminalId,
    pub token: String,
}

/// Admin: add or replace an operator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateOperatorRequest {
    pub operator_id: OperatorId,
    pub role: Role,
    pub pin: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    pub status: String,
    pub database: String,
}

/// A stale claim the sweeper could not resolve from the gateway's evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnresolvedItem {
    pub order_id: OrderId,
    pub claim_token: ClaimToken,
    pub intent_id: Option<GatewayIntentId>,
    pub reason: String,
    pub since: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnresolvedList {
    pub items: Vec<UnresolvedItem>,
}

/// A result or webhook that contradicted the central, kept for a manager.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlagRecord {
    /// The flag's id: flags are listed newest (highest id) first, and paged by it.
    #[serde(default)]
    pub flag_id: i64,
    pub order_id: Option<OrderId>,
    pub source: String,
    pub reason: String,
    pub at: Timestamp,
}

/// A page of `/v1/flags` (`?after=&limit=&order_id=&source=`), newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlagList {
    pub flags: Vec<FlagRecord>,
    /// Pass as `after` for the next (older) page; `None` on the last page.
    #[serde(default)]
    pub next_after: Option<i64>,
}

/// One line of a reconciliation report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReconcileEntry {
    pub order_id: Option<OrderId>,
    pub intent_id: Option<GatewayIntentId>,
    pub detail: String,
}

/// Central records matched against the gateway's intents for a time range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReconcileReport {
    pub from: Timestamp,
    pub to: Timestamp,
    pub charged_not_recorded: Vec<ReconcileEntry>,
    pub recorded_not_charged: Vec<ReconcileEntry>,
    pub amount_mismatch: Vec<ReconcileEntry>,
    pub multiple_successes: Vec<ReconcileEntry>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_unpaid_declined_and_needs_action_orders_are_chargeable() {
        let chargeable: Vec<&str> = [
            OrderStatus::Unpaid,
            OrderStatus::Paid,
            OrderStatus::Failed,
            OrderStatus::NeedsAction,
            OrderStatus::NeedsReview,
        ]
        .into_iter()
        .filter(|s| s.is_chargeable())
        .map(OrderStatus::as_str)
        .collect();
        assert_eq!(chargeable, ["unpaid", "failed", "needs_action"]);
    }

    #[test]
    fn requests_refuse_unknown_fields() {
        let err = serde_json::from_str::<ClaimRequest>(r#"{"operator_id":"op1","x":1}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown field"), "{err}");
    }

    #[test]
    fn result_item_refuses_negative_amounts_and_unknown_currencies() {
        let base = |amount: &str| {
            format!(
                r#"{{"attempt_id":"0190a5d4-7e1c-7c3e-8d2a-1b2c3d4e5f60","order_id":"o1",
                "attempt_number":1,"claim_token":1,"outcome":"succeeded","amount":{amount},
                "intent_id":null,"offline":false,"occurred_at":1}}"#
            )
        };
        assert!(
            serde_json::from_str::<ResultItem>(&base(r#"{"minor":100,"currency":"EUR"}"#)).is_ok()
        );
        assert!(
            serde_json::from_str::<ResultItem>(&base(r#"{"minor":-1,"currency":"EUR"}"#)).is_err()
        );
        assert!(
            serde_json::from_str::<ResultItem>(&base(r#"{"minor":1,"currency":"XXX"}"#)).is_err()
        );
        assert!(serde_json::from_str::<ResultItem>(&base(
            r#"{"minor":99999999999999999999,"currency":"EUR"}"#
        ))
        .is_err());
    }

    #[test]
    fn error_codes_serialize_as_their_wire_names_and_unknown_ones_are_kept_apart() {
        use ErrorCode as C;
        let all = [
            C::ClaimHeld,
            C::StaleClaimToken,
            C::NotClaimHolder,
            C::ChargeMayBeInFlight,
            C::OtherIntentOpen,
            C::WrongAttemptNumber,
            C::OrderNotChargeable,
            C::SimilarPayment,
            C::ReattemptRefused,
            C::OrderNotFound,
            C::NotFound,
            C::InvalidRequest,
            C::Conflict,
            C::Unauthorized,
            C::Forbidden,
            C::Unavailable,
            C::Busy,
            C::Timeout,
            C::DatabaseUnavailable,
            C::BodyTooLarge,
            C::UnsupportedMediaType,
            C::MethodNotAllowed,
            C::InvalidSignature,
            C::SessionRequired,
            C::SessionExpired,
            C::Locked,
            C::RateLimited,
            C::Internal,
        ];
        for code in all {
            let wire = serde_json::to_string(&code).unwrap();
            assert_eq!(wire, format!("\"{}\"", code.as_str()));
            assert_eq!(serde_json::from_str::<ErrorCode>(&wire).unwrap(), code);
        }
        assert_eq!(
            serde_json::from_str::<ErrorCode>("\"a_code_from_a_newer_central\"").unwrap(),
            C::Unknown
        );
    }

    #[test]
    fn status_names_round_trip() {
        for s in [
            OrderStatus::Unpaid,
            OrderStatus::Paid,
            OrderStatus::Failed,
            OrderStatus::NeedsAction,
            OrderStatus::NeedsReview,
        ] {
            assert_eq!(OrderStatus::parse(s.as_str()), Some(s));
            assert_eq!(
                serde_json::to_string(&s).unwrap(),
                format!("\"{}\"", s.as_str())
            );
        }
    }
}

//! Conversions between attempt records and table rows, with the record checked at both ends.
//!
//! Deliberately absent: any SQL beyond the column lists and the single-row statements, so the
//! mapping of every field lives in one place.

use paydesk_core::{
    Attempt, AttemptId, AttemptNumber, AttemptState, ClaimToken, Currency, CustomerId,
    GatewayIntentId, IdempotencyKey, InstallmentNumber, Money, OperatorId, OrderId,
    PaymentMethodId, TerminalId, Timestamp,
};
use rusqlite::{named_params, Row, Transaction};

use crate::error::JournalError;

/// The columns of `attempts`, in the order [`attempt_from_row`] reads them.
pub(crate) const ATTEMPT_COLUMNS: &str = "id, order_id, number, claim_token, amount_minor, \
    currency, operator_id, terminal_id, offline, state, create_key, intent_id, created_at, \
    updated_at, confirm_sent_at, unknown_checks, reason, customer_id, payment_method, \
    create_retry, confirm_retry, installment";

/// Number of columns in [`ATTEMPT_COLUMNS`], for queries that select more after them.
pub(crate) const ATTEMPT_COLUMN_COUNT: usize = 22;

/// The check before a write: a record that fails it is never stored.
pub(crate) fn check_before_write(attempt: &Attempt) -> Result<(), JournalError> {
    attempt
        .check()
        .map_err(|problem| JournalError::InvalidRecord {
            id: attempt.id.to_string(),
            problem,
        })?;
    claim_token_sql(attempt)?;
    Ok(())
}

fn claim_token_sql(attempt: &Attempt) -> Result<i64, JournalError> {
    i64::try_from(attempt.claim_token.get()).map_err(|_| JournalError::InvalidRecord {
        id: attempt.id.to_string(),
        problem: format!(
            "claim token {} does not fit a 64-bit signed integer",
            attempt.claim_token
        ),
    })
}

/// Inserts a new attempt row (the caller has checked it).
pub(crate) fn insert_attempt(tx: &Transaction<'_>, a: &Attempt) -> rusqlite::Result<usize> {
    tx.execute(
        &format!(
            "INSERT INTO attempts ({ATTEMPT_COLUMNS}) VALUES (:id, :order_id, :number, \
             :claim_token, :amount_minor, :currency, :operator_id, :terminal_id, :offline, \
             :state, :create_key, :intent_id, :created_at, :updated_at, :confirm_sent_at, \
             :unknown_checks, :reason, :customer_id, :payment_method, :create_retry, \
             :confirm_retry, :installment)"
        ),
        named_params! {
            ":id": a.id.to_string(),
            ":order_id": a.order.as_str(),
            ":number": a.number.get(),
            // Range-checked by `check_before_write`; -1 would fail the CHECK constraint anyway.
            ":claim_token": claim_token_sql(a).unwrap_or(-1),
            ":amount_minor": a.amount.minor(),
            ":currency": a.amount.currency().code(),
            ":operator_id": a.operator.as_str(),
            ":terminal_id": a.terminal.as_str(),
            ":offline": a.offline,
            ":state": a.state.as_str(),
            ":create_key": a.create_key.as_str(),
            ":intent_id": a.intent_id.as_ref().map(|i| i.as_str()),
            ":created_at": a.created_at.unix_ms(),
            ":updated_at": a.updated_at.unix_ms(),
            ":confirm_sent_at": a.confirm_sent_at.map(Timestamp::unix_ms),
            ":unknown_checks": a.unknown_checks,
            ":reason": a.reason.as_deref(),
            ":customer_id": a.customer.as_ref().map(|c| c.as_str()),
            ":payment_method": a.payment_method.as_str(),
            ":create_retry": a.create_retry,
            ":confirm_retry": a.confirm_retry,
            ":installment": a.installment.get(),
        },
    )
}

/// Writes the mutable fields of `next`, only if the row is still in state `from` (a conditional
/// update: the step was decided from that state). Returns the rows changed (1, or 0 if the row
/// moved meanwhile, which the single-writer lock makes impossible short of tampering).
pub(crate) fn update_attempt(
    tx: &Transaction<'_>,
    from: AttemptState,
    next: &Attempt,
) -> rusqlite::Result<usize> {
    tx.execute(
        "UPDATE attempts SET offline = :offline, state = :state, intent_id = :intent_id, \
         claim_token = :claim_token, \
         updated_at = :updated_at, confirm_sent_at = :confirm_sent_at, \
         unknown_checks = :unknown_checks, reason = :reason, \
         create_retry = :create_retry, confirm_retry = :confirm_retry \
         WHERE id = :id AND state = :from",
        named_params! {
            ":id": next.id.to_string(),
            ":from": from.as_str(),
            ":offline": next.offline,
            // Checked by `check_before_write` before every update.
            ":claim_token": claim_token_sql(next).unwrap_or(-1),
            ":state": next.state.as_str(),
            ":intent_id": next.intent_id.as_ref().map(|i| i.as_str()),
            ":updated_at": next.updated_at.unix_ms(),
            ":confirm_sent_at": next.confirm_sent_at.map(Timestamp::unix_ms),
            ":unknown_checks": next.unknown_checks,
            ":reason": next.reason.as_deref(),
            ":create_retry": next.create_retry,
            ":confirm_retry": next.confirm_retry,
        },
    )
}

/// The fields a step may never change: everything that names the charge.
pub(crate) fn immutable_fields_differ(before: &Attempt, after: &Attempt) -> Option<&'static str> {
    let intent_changed = before.intent_id.is_some() && before.intent_id != after.intent_id;
    [
        (before.id != after.id, "id"),
        (before.order != after.order, "order"),
        (before.number != after.number, "attempt number"),
        (before.installment != after.installment, "installment"),
        // An offline attempt takes the token of the claim it registers under once the central
        // answers again (`RegisterOutcome::Claimed`), in that one step and no other.
        (
            before.claim_token != after.claim_token
                && !(before.offline
                    && before.state == AttemptState::Created
                    && after.state == AttemptState::Registered),
            "claim token",
        ),
        (before.amount != after.amount, "amount"),
        (before.customer != after.customer, "customer"),
        (
            before.payment_method != after.payment_method,
            "payment method",
        ),
        (before.operator != after.operator, "operator"),
        (before.terminal != after.terminal, "terminal"),
        (before.create_key != after.create_key, "create key"),
        (before.created_at != after.created_at, "created_at"),
        (intent_changed, "gateway intent id"),
        (
            after.state.rank() < before.state.rank(),
            "state (it moved backwards)",
        ),
        (
            after.create_retry < before.create_retry,
            "create key number (it moved backwards)",
        ),
        (
            after.confirm_retry < before.confirm_retry,
            "confirm key number (it moved backwards)",
        ),
    ]
    .into_iter()
    .find_map(|(differs, name)| differs.then_some(name))
}

/// Reads an attempt back from a row selected with [`ATTEMPT_COLUMNS`] first, and checks it: the
/// check after the read. The error is a sentence naming the attempt and the bad column.
pub(crate) fn attempt_from_row(row: &Row<'_>) -> Result<Attempt, String> {
    let raw_id: String = row.get(0).map_err(|e| format!("attempt id column: {e}"))?;
    let bad = |column: &str, e: &dyn std::fmt::Display| format!("attempt {raw_id}: {column}: {e}");
    macro_rules! col {
        ($i:expr, $name:literal) => {
            row.get($i).map_err(|e| bad($name, &e))?
        };
    }
    let id = AttemptId::parse(&raw_id).map_err(|e| bad("id", &e))?;
    let order: String = col!(1, "order_id");
    let number: i64 = col!(2, "number");
    let claim_token: i64 = col!(3, "claim_token");
    let amount_minor: i64 = col!(4, "amount_minor");
    let currency: String = col!(5, "currency");
    let operator: String = col!(6, "operator_id");
    let terminal: String = col!(7, "terminal_id");
    let offline: bool = col!(8, "offline");
    let state: String = col!(9, "state");
    let create_key: String = col!(10, "create_key");
    let intent_id: Option<String> = col!(11, "intent_id");
    let created_at: i64 = col!(12, "created_at");
    let updated_at: i64 = col!(13, "updated_at");
    let confirm_sent_at: Option<i64> = col!(14, "confirm_sent_at");
    let unknown_checks: i64 = col!(15, "unknown_checks");
    let reason: Option<String> = col!(16, "reason");
    let customer: Option<String> = col!(17, "customer_id");
    let payment_method: String = col!(18, "payment_method");
    let create_retry: i64 = col!(19, "create_retry");
    let confirm_retry: i64 = col!(20, "confirm_retry");
    let installment: i64 = col!(21, "installment");

    let currency = Currency::from_code(&currency).map_err(|e| bad("currency", &e))?;
    let attempt = Attempt {
        id,
        order: OrderId::new(order).map_err(|e| bad("order_id", &e))?,
        number: u32::try_from(number)
            .map_err(|e| bad("number", &e))
            .and_then(|n| AttemptNumber::new(n).map_err(|e| bad("number", &e)))?,
        installment: u32::try_from(installment)
            .map_err(|e| bad("installment", &e))
            .and_then(|n| InstallmentNumber::new(n).map_err(|e| bad("installment", &e)))?,
        claim_token: u64::try_from(claim_token)
            .map_err(|e| bad("claim_token", &e))
            .and_then(|t| ClaimToken::new(t).map_err(|e| bad("claim_token", &e)))?,
        amount: Money::new(amount_minor, currency).map_err(|e| bad("amount_minor", &e))?,
        customer: customer
            .map(CustomerId::new)
            .transpose()
            .map_err(|e| bad("customer_id", &e))?,
        payment_method: PaymentMethodId::new(payment_method)
            .map_err(|e| bad("payment_method", &e))?,
        operator: OperatorId::new(operator).map_err(|e| bad("operator_id", &e))?,
        terminal: TerminalId::new(terminal).map_err(|e| bad("terminal_id", &e))?,
        offline,
        state: AttemptState::parse(&state)
            .ok_or_else(|| bad("state", &format!("unknown state {state:?}")))?,
        create_key: IdempotencyKey::from_stored(&create_key).map_err(|e| bad("create_key", &e))?,
        intent_id: intent_id
            .map(GatewayIntentId::new)
            .transpose()
            .map_err(|e| bad("intent_id", &e))?,
        created_at: Timestamp::from_unix_ms(created_at),
        updated_at: Timestamp::from_unix_ms(updated_at),
        confirm_sent_at: confirm_sent_at.map(Timestamp::from_unix_ms),
        unknown_checks: u32::try_from(unknown_checks).map_err(|e| bad("unknown_checks", &e))?,
        create_retry: u32::try_from(create_retry).map_err(|e| bad("create_retry", &e))?,
        confirm_retry: u32::try_from(confirm_retry).map_err(|e| bad("confirm_retry", &e))?,
        reason,
    };
    attempt
        .check()
        .map_err(|problem| format!("attempt {raw_id} fails its consistency check: {problem}"))?;
    Ok(attempt)
}

//! The journal's integration tests: one test binary (so the crash tests can re-run it as a child
//! process), one module per concern. The helpers build attempts and drive them through the core.

mod api;
mod bad_input;
mod crash;
mod integrity;
mod outbox;
mod parked;
mod readers;
mod receipts;
mod tamper;

use std::path::{Path, PathBuf};

use paydesk_core::{
    AttemptEvent, AttemptId, AttemptNumber, ChargeOutcome, ClaimToken, CreateOutcome, Currency,
    CustomerId, GatewayIntentId, Money, NewAttempt, OfflineGrant, OperatorId, OrderId,
    PaymentMethodId, RegisterOutcome, TerminalId, Timestamp,
};
use paydesk_journal::Journal;
use tempfile::TempDir;

/// 2026-11-22T08:39:18.123Z: an ordinary working morning.
pub const T0: i64 = 1_795_336_758_123;
pub const DAY_MS: i64 = 86_400_000;

pub fn ts(ms: i64) -> Timestamp {
    Timestamp::from_unix_ms(ms)
}

/// A deterministic UUID v7 attempt id: its time part is `ms`, its random part `n`.
pub fn attempt_id(ms: i64, n: u64) -> AttemptId {
    let mut random = [0u8; 10];
    random[2..].copy_from_slice(&n.to_be_bytes());
    let uuid = uuid::Builder::from_unix_timestamp_millis(ms as u64, &random).into_uuid();
    AttemptId::from_uuid(uuid).unwrap()
}

/// A new attempt for `order`, by `operator`, for `minor` units of `currency`, begun at `at_ms`.
pub fn new_attempt(
    order: &str,
    operator: &str,
    minor: i64,
    currency: &str,
    at_ms: i64,
    n: u64,
) -> NewAttempt {
    NewAttempt {
        id: attempt_id(at_ms, n),
        order: OrderId::new(order).unwrap(),
        number: AttemptNumber::new(1).unwrap(),
        installment: paydesk_core::InstallmentNumber::FIRST,
        claim_token: ClaimToken::new(7).unwrap(),
        amount: Money::new(minor, Currency::from_code(currency).unwrap()).unwrap(),
        customer: Some(CustomerId::new("cus_test").unwrap()),
        payment_method: PaymentMethodId::new("pm_card_visa").unwrap(),
        operator: OperatorId::new(operator).unwrap(),
        terminal: TerminalId::new("till-1").unwrap(),
        offline: false,
    }
}

/// A fresh journal in its own temporary folder.
#[derive(Debug)]
pub struct Fixture {
    pub dir: TempDir,
    pub path: PathBuf,
    pub journal: Journal,
}

pub fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.sqlite");
    let journal = Journal::open(&path).unwrap();
    Fixture { dir, path, journal }
}

pub fn created(intent: &str) -> AttemptEvent {
    AttemptEvent::CreateAnswered(CreateOutcome::Created {
        intent: GatewayIntentId::new(intent).unwrap(),
    })
}

pub fn registered() -> AttemptEvent {
    AttemptEvent::RegisterAnswered(RegisterOutcome::Accepted)
}

pub fn succeeded() -> AttemptEvent {
    AttemptEvent::ConfirmAnswered(ChargeOutcome::Succeeded)
}

pub fn declined(reason: &str) -> AttemptEvent {
    AttemptEvent::ConfirmAnswered(ChargeOutcome::Declined {
        reason: reason.into(),
    })
}

/// The events that take a fresh attempt to `confirm_sent` (the last step before a result).
pub fn to_confirm_sent(intent: &str) -> Vec<AttemptEvent> {
    vec![created(intent), registered(), AttemptEvent::ConfirmBegun]
}

/// The signed grant an offline attempt on till-1 records (the signature is not checked here).
pub fn offline_grant() -> OfflineGrant {
    OfflineGrant {
        grant_id: "grant-7f3a".into(),
        terminal_id: TerminalId::new("till-1").unwrap(),
        approved_by: OperatorId::new("mgr-bo").unwrap(),
        per_charge_max: Money::parse("50.00 EUR").unwrap(),
        per_shift_max: Money::parse("300.00 EUR").unwrap(),
        cache_age_ms_max: 3_600_000,
        granted_at: ts(T0 - 60_000),
        until: ts(T0 + 3_600_000),
        signature: "c0ffee".repeat(21) + "00",
    }
}

/// Begins an attempt (an offline one under [`offline_grant`]) and applies `events` one
/// millisecond apart; returns its id.
pub fn run(
    journal: &mut Journal,
    new: NewAttempt,
    at_ms: i64,
    events: &[AttemptEvent],
) -> AttemptId {
    let id = new.id;
    if new.offline {
        journal
            .begin_offline_attempt(new, &offline_grant(), ts(at_ms))
            .unwrap();
    } else {
        journal.begin_attempt(new, ts(at_ms)).unwrap();
    }
    for (i, event) in events.iter().enumerate() {
        journal.apply(&id, event, ts(at_ms + 1 + i as i64)).unwrap();
    }
    id
}

/// Opens the journal file with plain SQLite, as a tamperer (or a support engineer) would.
pub fn raw(path: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(path).unwrap()
}

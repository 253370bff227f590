//! The journal's event record format and its hash chain.
//!
//! Each event carries the SHA-256 of the previous event's hash and its own canonical encoding, so
//! rewriting, removing or reordering any event breaks every link after it. The canonical encoding
//! is hand-written (length-prefixed fields in a fixed order) rather than derived from a serializer,
//! so a library upgrade can never silently change what was hashed.
//!
//! The chain covers events; an attempt's current row and its outbox payload are covered through
//! digests: every event's detail carries the [`attempt_digest`] of the attempt row as it stands
//! after that step (and a step that enqueues a result, the digest of the outbox payload), so an
//! edit of a row that recovery or the relay acts on no longer matches its last chained event.
//!
//! Pure: the journal crate stores these records; this module only encodes and hashes them.

use sha2::{Digest, Sha256};

use crate::attempt::Attempt;
use crate::time::Timestamp;

/// The hash that precedes the first event of a journal.
pub const GENESIS_HASH: [u8; 32] = [0; 32];

/// Version of the canonical encoding, hashed into every record so a format change is explicit.
pub const RECORD_FORMAT_VERSION: u8 = 1;

/// One event as the journal stores it and the hash chain covers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRecord {
    /// Position in the journal, from 1, without gaps.
    pub seq: i64,
    /// The attempt this event belongs to (hyphenated UUID).
    pub attempt_id: String,
    pub at: Timestamp,
    /// [`crate::attempt::AttemptEvent::kind`], or "begun" for an attempt's first record.
    pub kind: String,
    /// The state before the event ("" for the first record of an attempt).
    pub from_state: String,
    pub to_state: String,
    /// The event's details as JSON (outcome, reason, evidence); never a secret.
    pub detail: String,
}

impl EventRecord {
    /// The canonical bytes that are hashed.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(128 + self.detail.len());
        out.push(RECORD_FORMAT_VERSION);
        out.extend_from_slice(&self.seq.to_be_bytes());
        out.extend_from_slice(&self.at.unix_ms().to_be_bytes());
        for field in [
            &self.attempt_id,
            &self.kind,
            &self.from_state,
            &self.to_state,
            &self.detail,
        ] {
            out.extend_from_slice(&(field.len() as u64).to_be_bytes());
            out.extend_from_slice(field.as_bytes());
        }
        out
    }

    /// This record's link in the chain: SHA-256(previous hash ‖ canonical bytes).
    pub fn chain_hash(&self, prev: &[u8; 32]) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(prev);
        h.update(self.canonical_bytes());
        h.finalize().into()
    }
}

/// Version of the attempt digest's canonical encoding, hashed first.
pub const ATTEMPT_DIGEST_VERSION: u8 = 1;

/// The SHA-256 of an attempt's canonical encoding: every field, in a fixed order, each as
/// length-prefixed text with a presence tag for optional ones. The destructuring below names
/// every field without `..`, so a field added to [`Attempt`] fails to compile here until it is
/// covered: a new field that recovery acts on can never be left out of the digest by accident.
pub fn attempt_digest(attempt: &Attempt) -> [u8; 32] {
    let Attempt {
        id,
        order,
        number,
        installment,
        claim_token,
        amount,
        customer,
        payment_method,
        operator,
        terminal,
        offline,
        state,
        create_key,
        intent_id,
        created_at,
        updated_at,
        confirm_sent_at,
        unknown_checks,
        create_retry,
        confirm_retry,
        reason,
    } = attempt;
    let mut out = Vec::with_capacity(512);
    out.push(ATTEMPT_DIGEST_VERSION);
    let mut text = |value: Option<String>| match value {
        None => out.push(0),
        Some(v) => {
            out.push(1);
            out.extend_from_slice(&(v.len() as u64).to_be_bytes());
            out.extend_from_slice(v.as_bytes());
        }
    };
    text(Some(id.to_string()));
    text(Some(order.to_string()));
    text(Some(number.to_string()));
    text(Some(claim_token.to_string()));
    text(Some(amount.minor().to_string()));
    text(Some(amount.currency().code().to_string()));
    text(customer.as_ref().map(ToString::to_string));
    text(Some(payment_method.to_string()));
    text(Some(operator.to_string()));
    text(Some(terminal.to_string()));
    text(Some(offline.to_string()));
    text(Some(state.as_str().to_string()));
    text(Some(create_key.to_string()));
    text(intent_id.as_ref().map(ToString::to_string));
    text(Some(created_at.unix_ms().to_string()));
    text(Some(updated_at.unix_ms().to_string()));
    text(confirm_sent_at.map(|t| t.unix_ms().to_string()));
    text(Some(unknown_checks.to_string()));
    text(Some(create_retry.to_string()));
    text(Some(confirm_retry.to_string()));
    text(reason.clone());
    // Added with installments: appended only when it is not the first, so every attempt
    // journaled before installments (all of them the first) keeps the digest its events carry.
    // Still unambiguous: `reason` ends self-delimited, so an appended field always changes the
    // bytes, and a first installment never appends one.
    if !installment.is_first() {
        text(Some(installment.to_string()));
    }
    Sha256::digest(&out).into()
}

/// SHA-256 of `bytes`: the journal digests its outbox payloads' canonical JSON with it, so every
/// digest tied to the chain is computed here.
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// Where a chain stopped verifying.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainBreak {
    /// The record's stored hash does not match its contents and predecessor.
    HashMismatch { seq: i64 },
    /// The record's stored predecessor hash is not the previous record's hash.
    PrevMismatch { seq: i64 },
    /// A sequence number is missing or out of order.
    Gap { expected: i64, found: i64 },
}

/// Verifies a chain of `(record, stored_prev_hash, stored_hash)` in seq order, starting from
/// `start_prev` (the genesis hash, or a checkpoint). Returns the head hash or the first break.
pub fn verify_chain<'a>(
    start_seq: i64,
    start_prev: [u8; 32],
    records: impl IntoIterator<Item = (&'a EventRecord, [u8; 32], [u8; 32])>,
) -> Result<[u8; 32], ChainBreak> {
    let mut prev = start_prev;
    for (expected_seq, (record, stored_prev, stored_hash)) in (start_seq..).zip(records) {
        if record.seq != expected_seq {
            return Err(ChainBreak::Gap {
                expected: expected_seq,
                found: record.seq,
            });
        }
        if stored_prev != prev {
            return Err(ChainBreak::PrevMismatch { seq: record.seq });
        }
        if record.chain_hash(&prev) != stored_hash {
            return Err(ChainBreak::HashMismatch { seq: record.seq });
        }
        prev = stored_hash;
    }
    Ok(prev)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(seq: i64, detail: &str) -> EventRecord {
        EventRecord {
            seq,
            attempt_id: "01932c4e-7b7a-7cc3-9a7e-2b6f3a5d4e10".into(),
            at: Timestamp::from_unix_ms(1_000 + seq),
            kind: "begun".into(),
            from_state: String::new(),
            to_state: "intent".into(),
            detail: detail.into(),
        }
    }

    fn chain(records: &[EventRecord]) -> Vec<(EventRecord, [u8; 32], [u8; 32])> {
        let mut prev = GENESIS_HASH;
        records
            .iter()
            .map(|r| {
                let h = r.chain_hash(&prev);
                let row = (r.clone(), prev, h);
                prev = h;
                row
            })
            .collect()
    }

    fn verify(rows: &[(EventRecord, [u8; 32], [u8; 32])]) -> Result<[u8; 32], ChainBreak> {
        verify_chain(1, GENESIS_HASH, rows.iter().map(|(r, p, h)| (r, *p, *h)))
    }

    #[test]
    fn intact_chain_verifies_and_any_change_breaks_it() {
        let rows = chain(&[rec(1, "{}"), rec(2, "{\"a\":1}"), rec(3, "{}")]);
        assert_eq!(verify(&rows).unwrap(), rows[2].2);

        let mut tampered = rows.clone();
        tampered[1].0.detail = "{\"a\":2}".into();
        assert_eq!(verify(&tampered), Err(ChainBreak::HashMismatch { seq: 2 }));

        let mut removed = rows.clone();
        removed.remove(1);
        assert_eq!(
            verify(&removed),
            Err(ChainBreak::Gap {
                expected: 2,
                found: 3
            })
        );

        // A consistent rewrite from record 2 on still breaks the link from record 1.
        let mut rewritten = rows.clone();
        rewritten[1].0.detail = "{\"forged\":1}".into();
        rewritten[1].2 = rewritten[1].0.chain_hash(&rewritten[1].1);
        assert_eq!(verify(&rewritten), Err(ChainBreak::PrevMismatch { seq: 3 }));
    }

    fn attempt() -> Attempt {
        use crate::{
            AttemptId, AttemptNumber, ClaimToken, Currency, Money, NewAttempt, OperatorId, OrderId,
            PaymentMethodId, TerminalId,
        };
        let new = NewAttempt {
            id: AttemptId::parse("01932c4e-7b7a-7cc3-9a7e-2b6f3a5d4e10").unwrap(),
            order: OrderId::new("order-1").unwrap(),
            number: AttemptNumber::new(1).unwrap(),
            installment: crate::InstallmentNumber::FIRST,
            claim_token: ClaimToken::new(7).unwrap(),
            amount: Money::new(1_250, Currency::from_code("EUR").unwrap()).unwrap(),
            customer: None,
            payment_method: PaymentMethodId::new("pm_card_visa").unwrap(),
            operator: OperatorId::new("alice").unwrap(),
            terminal: TerminalId::new("till-1").unwrap(),
            offline: false,
        };
        Attempt::begin(new, Timestamp::from_unix_ms(1_000)).0
    }

    #[test]
    fn every_field_that_recovery_acts_on_changes_the_attempt_digest() {
        let base = attempt();
        let digest = attempt_digest(&base);
        assert_eq!(digest, attempt_digest(&base.clone()), "deterministic");
        type Edit = Box<dyn Fn(&mut Attempt)>;
        let edits: Vec<(&str, Edit)> = vec![
            ("offline", Box::new(|a| a.offline = true)),
            (
                "installment",
                Box::new(|a| a.installment = crate::InstallmentNumber::new(2).unwrap()),
            ),
            (
                "amount",
                Box::new(|a| a.amount = crate::Money::new(1_251, a.amount.currency()).unwrap()),
            ),
            (
                "intent",
                Box::new(|a| a.intent_id = Some(crate::GatewayIntentId::new("pi_other").unwrap())),
            ),
            (
                "confirm_sent_at",
                Box::new(|a| a.confirm_sent_at = Some(Timestamp::from_unix_ms(5))),
            ),
            (
                "created_at",
                Box::new(|a| a.created_at = Timestamp::from_unix_ms(999)),
            ),
            ("unknown_checks", Box::new(|a| a.unknown_checks = 3)),
            ("create_retry", Box::new(|a| a.create_retry = 1)),
            ("confirm_retry", Box::new(|a| a.confirm_retry = 1)),
            ("reason", Box::new(|a| a.reason = Some(String::new()))),
            (
                "claim_token",
                Box::new(|a| a.claim_token = crate::ClaimToken::new(8).unwrap()),
            ),
        ];
        for (name, edit) in edits {
            let mut changed = base.clone();
            edit(&mut changed);
            assert_ne!(attempt_digest(&changed), digest, "{name}");
        }
        // None and an empty string are different values.
        let mut empty = base.clone();
        empty.reason = Some(String::new());
        assert_ne!(attempt_digest(&empty), attempt_digest(&base));
    }

    #[test]
    fn field_boundaries_are_unambiguous() {
        let mut a = rec(1, "");
        a.kind = "ab".into();
        a.from_state = "c".into();
        let mut b = rec(1, "");
        b.kind = "a".into();
        b.from_state = "bc".into();
        assert_ne!(a.canonical_bytes(), b.canonical_bytes());
    }
}

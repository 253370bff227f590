//! The journal's event record format and its hash chain.
//!
//! Each event carries the SHA-256 of the previous event's hash and its own canonical encoding, so
//! rewriting, removing or reordering any event breaks every link after it. The canonical encoding
//! is hand-written (length-prefixed fields in a fixed order) rather than derived from a serializer,
//! so a library upgrade can never silently change what was hashed.
//!
//! Pure: the journal crate stores these records; this module only encodes and hashes them.

use sha2::{Digest, Sha256};

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

//! Verification of a journal file: the hash chain from the genesis hash to the head (through the
//! core's `verify_chain`), the continuity of each attempt's states, the agreement of every attempt
//! row with its history and its outbox result, and the presence of the append-only guards.
//!
//! Deliberately absent: repair. Verification only reports the first problem it finds; a damaged
//! journal is for a person to look at, and nothing here writes to the file.

use paydesk_core::record::{verify_chain, ChainBreak, EventRecord, GENESIS_HASH};
use paydesk_core::Timestamp;
use rusqlite::OptionalExtension;

use crate::error::db;
use crate::integrity::{outbox_link, row_link, OutboxRow};
use crate::rows::{attempt_from_row, ATTEMPT_COLUMNS, ATTEMPT_COLUMN_COUNT};
use crate::{schema, BreakKind, BrokenLink, Journal, JournalError, VerifyReport};

/// Events held in memory at once while verifying: bounds memory on journals of any length.
const VERIFY_BATCH_ROWS: usize = 4_096;

impl Journal {
    /// Walks the whole hash chain with `paydesk_core::record::verify_chain`, then checks that
    /// every attempt row is readable, has a history, agrees with the `to_state` of its last event,
    /// and has an outbox result exactly when it is terminal. Reports the first problem.
    ///
    /// What it cannot see on its own: the removal of the newest events together with their
    /// attempts. Compare [`Journal::head`] with a copy kept elsewhere (the central) for that.
    pub fn verify(&self) -> Result<VerifyReport, JournalError> {
        let path = &self.path;
        let counts = |sql: &str| -> Result<i64, JournalError> {
            self.conn
                .query_row(sql, [], |r| r.get(0))
                .map_err(db(path, "verifying"))
        };
        let events = counts("SELECT count(*) FROM events")?;
        let attempts = counts("SELECT count(*) FROM attempts")?;
        let (head, chain_break) = self.verify_chain()?;
        let broken = match chain_break {
            Some(link) => Some(link),
            None => match self.verify_attempts()? {
                Some(link) => Some(link),
                None => match self.verify_outbox()? {
                    Some(link) => Some(link),
                    None => self.verify_guards()?,
                },
            },
        };
        Ok(VerifyReport {
            events,
            attempts,
            head: if broken.is_none() { head } else { None },
            broken,
        })
    }

    /// The chain part of `verify`: returns the head hash (hex) and the first break, if any.
    fn verify_chain(&self) -> Result<(Option<String>, Option<BrokenLink>), JournalError> {
        let path = &self.path;
        let mut stmt = self
            .conn
            .prepare(
                "SELECT seq, attempt_id, at, kind, from_state, to_state, detail, prev_hash, hash \
                 FROM events ORDER BY seq",
            )
            .map_err(db(path, "verifying"))?;
        let mut rows = stmt.query([]).map_err(db(path, "verifying"))?;

        let mut next_seq = 1;
        let mut prev = GENESIS_HASH;
        let mut batch: Vec<(EventRecord, [u8; 32], [u8; 32])> = Vec::new();
        // The last to_state of each attempt seen so far, for the continuity check.
        let mut last_state = std::collections::HashMap::<String, String>::new();
        let mut first_discontinuity: Option<BrokenLink> = None;

        // Verifies and empties the batch; returns the break as a link.
        let flush = |batch: &mut Vec<(EventRecord, [u8; 32], [u8; 32])>,
                     next_seq: &mut i64,
                     prev: &mut [u8; 32]|
         -> Option<BrokenLink> {
            let result = verify_chain(*next_seq, *prev, batch.iter().map(|(r, p, h)| (r, *p, *h)));
            let out = match result {
                Ok(head) => {
                    *next_seq += batch.len() as i64;
                    *prev = head;
                    None
                }
                Err(b) => Some(chain_link(b, batch)),
            };
            batch.clear();
            out
        };

        while let Some(row) = rows.next().map_err(db(path, "verifying"))? {
            let read = || -> rusqlite::Result<(EventRecord, String, String)> {
                Ok((
                    EventRecord {
                        seq: row.get(0)?,
                        attempt_id: row.get(1)?,
                        at: Timestamp::from_unix_ms(row.get(2)?),
                        kind: row.get(3)?,
                        from_state: row.get(4)?,
                        to_state: row.get(5)?,
                        detail: row.get(6)?,
                    },
                    row.get(7)?,
                    row.get(8)?,
                ))
            };
            let (record, prev_hex, hash_hex) = read().map_err(db(path, "verifying"))?;
            let (Some(stored_prev), Some(stored_hash)) =
                (decode_hash(&prev_hex), decode_hash(&hash_hex))
            else {
                let seq = record.seq;
                return Ok((
                    None,
                    Some(
                        flush(&mut batch, &mut next_seq, &mut prev).unwrap_or(BrokenLink {
                            kind: BreakKind::BadHash,
                            seq: Some(seq),
                            attempt_id: Some(record.attempt_id),
                            message: format!("event {seq}: a stored hash is not 64 hex digits"),
                        }),
                    ),
                ));
            };
            let expected_from = last_state
                .insert(record.attempt_id.clone(), record.to_state.clone())
                .unwrap_or_default();
            if first_discontinuity.is_none() && record.from_state != expected_from {
                first_discontinuity = Some(BrokenLink {
                    kind: BreakKind::StateDiscontinuity,
                    seq: Some(record.seq),
                    attempt_id: Some(record.attempt_id.clone()),
                    message: format!(
                        "event {} of attempt {} starts from state {:?} but the attempt's \
                         previous event ended in {:?}",
                        record.seq, record.attempt_id, record.from_state, expected_from
                    ),
                });
            }
            batch.push((record, stored_prev, stored_hash));
            if batch.len() >= VERIFY_BATCH_ROWS {
                if let Some(link) = flush(&mut batch, &mut next_seq, &mut prev) {
                    return Ok((None, Some(link)));
                }
            }
        }
        if let Some(link) = flush(&mut batch, &mut next_seq, &mut prev) {
            return Ok((None, Some(link)));
        }
        let head = (next_seq > 1).then(|| hex::encode(prev));
        Ok((head, first_discontinuity))
    }

    /// The last part of `verify`: the append-only triggers are still in place. Their absence is
    /// not damage in itself, but nobody but a person with a SQLite shell removes them.
    fn verify_guards(&self) -> Result<Option<BrokenLink>, JournalError> {
        let mut stmt = self
            .conn
            .prepare("SELECT 1 FROM sqlite_schema WHERE type = 'trigger' AND name = ?1")
            .map_err(db(&self.path, "verifying"))?;
        for name in schema::GUARD_TRIGGERS {
            let present = stmt.exists([name]).map_err(db(&self.path, "verifying"))?;
            if !present {
                return Ok(Some(BrokenLink {
                    kind: BreakKind::MissingGuard,
                    seq: None,
                    attempt_id: None,
                    message: format!(
                        "the append-only guard {name} was removed from the file: someone edited \
                         it with another SQLite client"
                    ),
                }));
            }
        }
        Ok(None)
    }

    /// The attempt part of `verify`: the first attempt row that disagrees with the history.
    fn verify_attempts(&self) -> Result<Option<BrokenLink>, JournalError> {
        let path = &self.path;
        let orphan: Option<(i64, String)> = self
            .conn
            .query_row(
                "SELECT e.seq, e.attempt_id FROM events e \
                 LEFT JOIN attempts a ON a.id = e.attempt_id \
                 WHERE a.id IS NULL ORDER BY e.seq LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(db(path, "verifying"))?;
        if let Some((seq, attempt_id)) = orphan {
            return Ok(Some(BrokenLink {
                kind: BreakKind::OrphanEvent,
                seq: Some(seq),
                message: format!("event {seq} belongs to attempt {attempt_id}, which is missing"),
                attempt_id: Some(attempt_id),
            }));
        }

        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT {ATTEMPT_COLUMNS},
                   (SELECT seq FROM events e WHERE e.attempt_id = a.id
                     ORDER BY seq DESC LIMIT 1),
                   (SELECT to_state FROM events e WHERE e.attempt_id = a.id
                     ORDER BY seq DESC LIMIT 1),
                   EXISTS (SELECT 1 FROM outbox o WHERE o.attempt_id = a.id),
                   (SELECT detail FROM events e WHERE e.attempt_id = a.id
                     ORDER BY seq DESC LIMIT 1)
                 FROM attempts a ORDER BY a.created_at, a.id"
            ))
            .map_err(db(path, "verifying"))?;
        let mut rows = stmt.query([]).map_err(db(path, "verifying"))?;
        while let Some(row) = rows.next().map_err(db(path, "verifying"))? {
            let n = ATTEMPT_COLUMN_COUNT;
            let raw_id: String = row.get(0).map_err(db(path, "verifying"))?;
            let last: (Option<i64>, Option<String>, bool) =
                (|| Ok::<_, rusqlite::Error>((row.get(n)?, row.get(n + 1)?, row.get(n + 2)?)))()
                    .map_err(db(path, "verifying"))?;
            let link = |kind, seq, message| BrokenLink {
                kind,
                seq,
                attempt_id: Some(raw_id.clone()),
                message,
            };
            let attempt = match attempt_from_row(row) {
                Ok(a) => a,
                Err(problem) => return Ok(Some(link(BreakKind::BadAttempt, last.0, problem))),
            };
            let (last_seq, last_state, has_result) = last;
            let last_detail: Option<String> = row.get(n + 3).map_err(db(path, "verifying"))?;
            let Some(last_state) = last_state else {
                return Ok(Some(link(
                    BreakKind::MissingHistory,
                    None,
                    format!("attempt {raw_id} has no events"),
                )));
            };
            if last_state != attempt.state.as_str() {
                return Ok(Some(link(
                    BreakKind::StateMismatch,
                    last_seq,
                    format!(
                        "attempt {raw_id} is in state {} but its last event (seq {}) ended in {}",
                        attempt.state,
                        last_seq.unwrap_or_default(),
                        last_state
                    ),
                )));
            }
            // Every terminal state is reached by a step that enqueues the result, in the same
            // transaction: one without the other means a partial write or an edit. An attempt
            // under review has its `needs_review` message (none if it went to review before
            // issue 9's journals reported it).
            let result_ok = if attempt.state == paydesk_core::AttemptState::NeedsReview {
                true
            } else {
                attempt.state.is_terminal() == has_result
            };
            if !result_ok {
                return Ok(Some(link(
                    BreakKind::ResultMismatch,
                    last_seq,
                    format!(
                        "attempt {raw_id} is in state {} but {}",
                        attempt.state,
                        if has_result {
                            "already has a result in the outbox"
                        } else {
                            "has no result in the outbox"
                        }
                    ),
                )));
            }
            // Every field recovery and the relay act on is sealed by the last event's digest.
            if let Some(link) = row_link(&attempt, last_seq, last_detail.as_deref()) {
                return Ok(Some(link));
            }
        }
        Ok(None)
    }

    /// The outbox part of `verify`: every payload matches the digest the chain holds for it.
    fn verify_outbox(&self) -> Result<Option<BrokenLink>, JournalError> {
        let path = &self.path;
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, attempt_id, payload, archived_at IS NOT NULL FROM outbox ORDER BY id",
            )
            .map_err(db(path, "verifying"))?;
        let mut rows = stmt.query([]).map_err(db(path, "verifying"))?;
        while let Some(row) = rows.next().map_err(db(path, "verifying"))? {
            let row = OutboxRow {
                id: row.get(0).map_err(db(path, "verifying"))?,
                attempt_id: row.get(1).map_err(db(path, "verifying"))?,
                payload: row.get(2).map_err(db(path, "verifying"))?,
                archived: row.get(3).map_err(db(path, "verifying"))?,
            };
            if let Some(link) = outbox_link(&self.conn, path, &row)? {
                return Ok(Some(link));
            }
        }
        Ok(None)
    }
}

/// The 32 bytes of a stored hash, or `None` if it is not 64 hex digits.
pub(crate) fn decode_hash(hex_text: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(hex_text, &mut out).ok()?;
    Some(out)
}

/// Turns the core's chain break into a report entry naming the event.
fn chain_link(b: ChainBreak, batch: &[(EventRecord, [u8; 32], [u8; 32])]) -> BrokenLink {
    let attempt_of = |seq: i64| {
        batch
            .iter()
            .find(|(r, _, _)| r.seq == seq)
            .map(|(r, _, _)| r.attempt_id.clone())
    };
    match b {
        ChainBreak::HashMismatch { seq } => BrokenLink {
            kind: BreakKind::HashMismatch,
            seq: Some(seq),
            attempt_id: attempt_of(seq),
            message: format!("event {seq} was changed after it was written: its hash no longer matches"),
        },
        ChainBreak::PrevMismatch { seq } => BrokenLink {
            kind: BreakKind::PrevMismatch,
            seq: Some(seq),
            attempt_id: attempt_of(seq),
            message: format!(
                "event {seq} does not follow the event before it: the chain was rewritten up to here"
            ),
        },
        ChainBreak::Gap { expected, found } => BrokenLink {
            kind: BreakKind::Gap,
            seq: Some(expected),
            attempt_id: attempt_of(found),
            message: format!("event {expected} is missing (the next one is {found}): it was deleted"),
        },
    }
}

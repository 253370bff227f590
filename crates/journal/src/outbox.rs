//! The outbox: each terminal result waits here, written in the same transaction as the step that
//! reached it, until the central acknowledges it. Due messages are read in the order they were
//! written; deliveries, failures (with the next try time) and parking are recorded.
//!
//! Deliberately absent: the retry policy and the delivery itself (the engine's relay computes
//! `next_try_at` with the core's backoff and talks to the central), and deletion — a delivered or
//! parked message stays as the record of what happened.

use std::path::Path;

use paydesk_core::{Attempt, Timestamp};
use rusqlite::{params, OptionalExtension, Transaction, TransactionBehavior};

use crate::error::db;
use crate::{
    Journal, JournalError, OutboxMessage, OutboxStats, ResultMessage, OUTBOX_BATCH_ROWS_MAX,
    PARK_REASON_CHARS_MAX,
};

impl Journal {
    /// Outbox health: waiting messages, parked ones, and the age of the oldest waiting one.
    pub fn outbox_stats(&self, now: Timestamp) -> Result<OutboxStats, JournalError> {
        let (depth, parked, oldest): (i64, i64, Option<i64>) = self
            .conn
            .query_row(
                "SELECT
                   (SELECT count(*) FROM outbox
                     WHERE delivered_at IS NULL AND parked_reason IS NULL),
                   (SELECT count(*) FROM outbox
                     WHERE delivered_at IS NULL AND parked_reason IS NOT NULL
                       AND archived_at IS NULL),
                   (SELECT min(created_at) FROM outbox
                     WHERE delivered_at IS NULL AND parked_reason IS NULL)",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .map_err(db(&self.path, "reading outbox statistics"))?;
        Ok(OutboxStats {
            depth,
            parked,
            // A clock set back must not show a negative age.
            oldest_age_ms: oldest.map(|t| now.millis_since(Timestamp::from_unix_ms(t)).max(0)),
        })
    }

    /// Messages due for delivery at `now` (not delivered, not parked, `next_try_at <= now`), in
    /// the order they were written; at most `limit`, capped at [`OUTBOX_BATCH_ROWS_MAX`].
    pub fn outbox_due(
        &self,
        now: Timestamp,
        limit: usize,
    ) -> Result<Vec<OutboxMessage>, JournalError> {
        let limit = limit.min(OUTBOX_BATCH_ROWS_MAX) as i64;
        self.query_messages(
            "WHERE delivered_at IS NULL AND parked_reason IS NULL AND next_try_at <= ?1 \
             ORDER BY id LIMIT ?2",
            params![now.unix_ms(), limit],
        )
    }

    /// Marks messages delivered at `now`. They stay in the outbox as the record of delivery; a
    /// message already marked keeps its first delivery time. An unknown id fails the whole call.
    pub fn outbox_delivered(&mut self, ids: &[i64], now: Timestamp) -> Result<(), JournalError> {
        check_batch(ids)?;
        let path = &self.path;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db(path, "starting a transaction"))?;
        for &id in ids {
            let changed = tx
                .execute(
                    "UPDATE outbox SET delivered_at = coalesce(delivered_at, ?2) WHERE id = ?1",
                    params![id, now.unix_ms()],
                )
                .map_err(db(path, "marking outbox messages delivered"))?;
            if changed == 0 {
                return Err(outbox_not_found(id));
            }
        }
        tx.commit().map_err(db(path, "committing"))
    }

    /// Records a failed delivery of each message and when to try it next. Messages delivered
    /// meanwhile are left alone (a late failure report cannot undo a delivery). An unknown id
    /// fails the whole call.
    pub fn outbox_failed(
        &mut self,
        ids: &[i64],
        next_try_at: Timestamp,
    ) -> Result<(), JournalError> {
        check_batch(ids)?;
        let path = &self.path;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db(path, "starting a transaction"))?;
        for &id in ids {
            let changed = tx
                .execute(
                    "UPDATE outbox SET failures = failures + 1, next_try_at = ?2 \
                     WHERE id = ?1 AND delivered_at IS NULL",
                    params![id, next_try_at.unix_ms()],
                )
                .map_err(db(path, "recording a failed delivery"))?;
            if changed == 0 && !outbox_exists(&tx, path, id)? {
                return Err(outbox_not_found(id));
            }
        }
        tx.commit().map_err(db(path, "committing"))
    }

    /// Sets a message aside for a person: it is never due again and never deleted.
    pub fn outbox_park(&mut self, id: i64, reason: &str) -> Result<(), JournalError> {
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(JournalError::InvalidArgument(
                "parking an outbox message needs a reason for the person who will look at it"
                    .into(),
            ));
        }
        let reason: String = reason.chars().take(PARK_REASON_CHARS_MAX).collect();
        let changed = self
            .conn
            .execute(
                "UPDATE outbox SET parked_reason = ?2 WHERE id = ?1",
                params![id, reason],
            )
            .map_err(db(&self.path, "parking an outbox message"))?;
        if changed == 0 {
            return Err(outbox_not_found(id));
        }
        Ok(())
    }
}

/// The attempt's result message, for the event `event_seq` (its `event_hash` is filled in once
/// that event is written).
pub(crate) fn result_message(attempt: &Attempt, event_seq: i64) -> ResultMessage {
    ResultMessage {
        attempt_id: attempt.id,
        order: attempt.order.clone(),
        number: attempt.number,
        installment: attempt.installment,
        claim_token: attempt.claim_token,
        state: attempt.state,
        amount: attempt.amount,
        intent_id: attempt.intent_id.clone(),
        operator: attempt.operator.clone(),
        terminal: attempt.terminal.clone(),
        offline: attempt.offline,
        reason: attempt.reason.clone(),
        decided_at: attempt.updated_at,
        event_seq,
        event_hash: String::new(),
    }
}

/// Writes the attempt's result message, due at once.
pub(crate) fn enqueue_result(
    tx: &Transaction<'_>,
    path: &Path,
    message: &ResultMessage,
    now: Timestamp,
) -> Result<(), JournalError> {
    let attempt_id = message.attempt_id;
    let payload = serde_json::to_string(message).expect("a result message always serializes");
    // One message per attempt. An attempt that went to a manager's review reported that
    // (`needs_review`); when it later reaches a final state, its message is replaced by the
    // final result and is due again, delivered or not. Any other second result is a bug, and
    // the transaction fails (no row changed).
    let changed = tx
        .execute(
            "INSERT INTO outbox (attempt_id, payload, created_at, next_try_at) \
             VALUES (?1, ?2, ?3, ?3) \
             ON CONFLICT (attempt_id) DO UPDATE SET payload = excluded.payload, \
               created_at = excluded.created_at, next_try_at = excluded.next_try_at, \
               delivered_at = NULL, failures = 0, parked_reason = NULL \
             WHERE json_extract(outbox.payload, '$.state') = 'needs_review' \
               AND json_extract(excluded.payload, '$.state') <> 'needs_review'",
            params![attempt_id.to_string(), payload, now.unix_ms()],
        )
        .map_err(db(path, "writing the result to the outbox"))?;
    if changed != 1 {
        return Err(JournalError::InvalidRecord {
            id: attempt_id.to_string(),
            problem: "the attempt already has a final result in the outbox".into(),
        });
    }
    Ok(())
}

fn outbox_exists(tx: &Transaction<'_>, path: &Path, id: i64) -> Result<bool, JournalError> {
    tx.query_row("SELECT 1 FROM outbox WHERE id = ?1", [id], |_| Ok(()))
        .optional()
        .map(|found| found.is_some())
        .map_err(db(path, "reading the outbox"))
}

fn check_batch(ids: &[i64]) -> Result<(), JournalError> {
    if ids.len() > OUTBOX_BATCH_ROWS_MAX {
        return Err(JournalError::InvalidArgument(format!(
            "{} outbox ids in one call; send at most {OUTBOX_BATCH_ROWS_MAX}",
            ids.len()
        )));
    }
    Ok(())
}

fn outbox_not_found(id: i64) -> JournalError {
    JournalError::NotFound {
        what: format!("outbox message {id}"),
    }
}

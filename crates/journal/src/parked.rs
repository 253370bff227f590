//! A manager's way back for a parked result (finding 5 of the protocol review): the relay parks a
//! message the central rejected; a manager can send it again (`outbox_retry`: back to waiting,
//! due now) or archive it with a reason (`outbox_archive`: kept for good, no longer counted as
//! parked). Each is recorded as a chained event of the message's attempt, naming the manager, so
//! the history says who brought a result back or set it aside, and why. Also the outbox listing.
//!
//! Deliberately absent: checking the manager's role or PIN (the front end's, before it calls),
//! and deletion (an archived message stays).

use paydesk_core::{AttemptId, OperatorId, Timestamp};
use rusqlite::{params, Params, TransactionBehavior};

use crate::error::{corrupt, db};
use crate::integrity::{check_loaded, ROW_DIGEST_KEY};
use crate::{
    append_event, load_attempt, not_found, Journal, JournalError, OutboxMessage,
    PARK_REASON_CHARS_MAX,
};

/// The kind of the event recorded when a manager sends a parked result again.
pub const OUTBOX_RETRIED_KIND: &str = "outbox_retried";
/// The kind of the event recorded when a manager archives a parked result.
pub const OUTBOX_ARCHIVED_KIND: &str = "outbox_archived";

/// The most messages one listing returns.
pub const OUTBOX_LIST_ROWS_MAX: u32 = 1_000;

const MESSAGE_COLUMNS: &str = "id, attempt_id, payload, created_at, delivered_at, failures, \
     next_try_at, parked_reason, archived_at, archived_by, archive_reason";

/// Which messages [`Journal::outbox_list`] returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutboxListing {
    /// Not delivered and not archived: waiting or parked.
    Undelivered,
    /// Parked and not archived: what needs a manager.
    Parked,
    /// Every message, delivered and archived ones too.
    All,
}

impl Journal {
    /// Outbox messages, oldest first, at most `limit` (capped at [`OUTBOX_LIST_ROWS_MAX`]).
    pub fn outbox_list(
        &self,
        which: OutboxListing,
        limit: u32,
    ) -> Result<Vec<OutboxMessage>, JournalError> {
        let filter = match which {
            OutboxListing::Undelivered => "WHERE delivered_at IS NULL AND archived_at IS NULL",
            OutboxListing::Parked => {
                "WHERE delivered_at IS NULL AND archived_at IS NULL AND parked_reason IS NOT NULL"
            }
            OutboxListing::All => "",
        };
        self.query_messages(
            &format!("{filter} ORDER BY id LIMIT ?1"),
            params![i64::from(limit.min(OUTBOX_LIST_ROWS_MAX))],
        )
    }

    /// One outbox message by id.
    pub fn outbox_message(&self, id: i64) -> Result<OutboxMessage, JournalError> {
        self.query_messages("WHERE id = ?1", params![id])?
            .pop()
            .ok_or_else(|| JournalError::NotFound {
                what: format!("outbox message {id}"),
            })
    }

    /// Sends a parked message again: it waits once more, due at `now`, with its failure count
    /// reset; the park reason it had is kept in the chained `outbox_retried` event, with the
    /// manager who asked. Refused for a message that is not parked, delivered or archived.
    pub fn outbox_retry(
        &mut self,
        id: i64,
        manager: &OperatorId,
        now: Timestamp,
    ) -> Result<OutboxMessage, JournalError> {
        let message = self.outbox_message(id)?;
        let parked = parked_reason(&message, "sent again")?;
        self.record_manager_action(&message, OUTBOX_RETRIED_KIND, now, |tx, path| {
            tx.execute(
                "UPDATE outbox SET parked_reason = NULL, next_try_at = ?2, failures = 0 \
                 WHERE id = ?1 AND delivered_at IS NULL AND archived_at IS NULL \
                   AND parked_reason IS NOT NULL",
                params![id, now.unix_ms()],
            )
            .map_err(db(path, "sending an outbox message again"))?;
            Ok(serde_json::json!({
                "outbox_id": id,
                "by": manager,
                "parked_reason": parked,
            }))
        })?;
        self.outbox_message(id)
    }

    /// Archives a parked message for good with `reason`: kept (never deleted), never due, no
    /// longer counted as parked; when, who and why are on the row and in the chained
    /// `outbox_archived` event. Refused for a message that is not parked, delivered or archived.
    pub fn outbox_archive(
        &mut self,
        id: i64,
        manager: &OperatorId,
        reason: &str,
        now: Timestamp,
    ) -> Result<OutboxMessage, JournalError> {
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(JournalError::InvalidArgument(
                "archiving an outbox message needs a reason (why its result need not reach the \
                 central)"
                    .into(),
            ));
        }
        let reason: String = reason.chars().take(PARK_REASON_CHARS_MAX).collect();
        let message = self.outbox_message(id)?;
        let parked = parked_reason(&message, "archived")?;
        self.record_manager_action(&message, OUTBOX_ARCHIVED_KIND, now, |tx, path| {
            tx.execute(
                "UPDATE outbox SET archived_at = ?2, archived_by = ?3, archive_reason = ?4 \
                 WHERE id = ?1 AND delivered_at IS NULL AND archived_at IS NULL \
                   AND parked_reason IS NOT NULL",
                params![id, now.unix_ms(), manager.as_str(), reason],
            )
            .map_err(db(path, "archiving an outbox message"))?;
            Ok(serde_json::json!({
                "outbox_id": id,
                "by": manager,
                "reason": reason,
                "parked_reason": parked,
            }))
        })?;
        self.outbox_message(id)
    }

    /// Runs `change` and appends its chained event to the message's attempt, in one transaction.
    /// The attempt row is checked against its last event first: a manager's action never seals
    /// an edited row.
    fn record_manager_action(
        &mut self,
        message: &OutboxMessage,
        kind: &str,
        now: Timestamp,
        change: impl FnOnce(
            &rusqlite::Transaction<'_>,
            &std::path::Path,
        ) -> Result<serde_json::Value, JournalError>,
    ) -> Result<(), JournalError> {
        let path = self.path.clone();
        let path = path.as_path();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db(path, "starting a transaction"))?;
        let id: &AttemptId = &message.attempt_id;
        let attempt = load_attempt(&tx, path, id)?.ok_or_else(|| not_found(id))?;
        if let Some(link) = check_loaded(&tx, path, &attempt)? {
            return Err(corrupt(path, link.message));
        }
        let mut detail = change(&tx, path)?;
        detail[ROW_DIGEST_KEY] = hex::encode(paydesk_core::record::attempt_digest(&attempt)).into();
        append_event(
            &tx,
            path,
            id,
            now,
            kind,
            Some(attempt.state),
            attempt.state,
            &detail,
        )?;
        tx.commit().map_err(db(path, "committing"))
    }

    /// Reads outbox messages: `tail` is the SQL after `FROM outbox`.
    pub(crate) fn query_messages(
        &self,
        tail: &str,
        params: impl Params,
    ) -> Result<Vec<OutboxMessage>, JournalError> {
        let path = &self.path;
        let mut stmt = self
            .conn
            .prepare_cached(&format!("SELECT {MESSAGE_COLUMNS} FROM outbox {tail}"))
            .map_err(db(path, "reading the outbox"))?;
        let mut rows = stmt.query(params).map_err(db(path, "reading the outbox"))?;
        let mut out = Vec::new();
        while let Some(r) = rows.next().map_err(db(path, "reading the outbox"))? {
            let read = || -> rusqlite::Result<_> {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, Option<i64>>(4)?,
                    r.get::<_, i64>(5)?,
                    r.get::<_, i64>(6)?,
                    r.get::<_, Option<String>>(7)?,
                    (
                        r.get::<_, Option<i64>>(8)?,
                        r.get::<_, Option<String>>(9)?,
                        r.get::<_, Option<String>>(10)?,
                    ),
                ))
            };
            let (id, attempt_id, payload, created, delivered, failures, next_try, parked, arch) =
                read().map_err(db(path, "reading the outbox"))?;
            let bad = |what: &str| corrupt(path, format!("outbox message {id}: {what}"));
            out.push(OutboxMessage {
                id,
                attempt_id: AttemptId::parse(&attempt_id).map_err(|e| bad(&e.to_string()))?,
                payload: serde_json::from_str(&payload)
                    .map_err(|e| bad(&format!("unreadable payload: {e}")))?,
                created_at: Timestamp::from_unix_ms(created),
                delivered_at: delivered.map(Timestamp::from_unix_ms),
                failures: u32::try_from(failures).map_err(|_| bad("failure count out of range"))?,
                next_try_at: Timestamp::from_unix_ms(next_try),
                parked_reason: parked,
                archived_at: arch.0.map(Timestamp::from_unix_ms),
                archived_by: arch
                    .1
                    .map(|m| OperatorId::new(&m))
                    .transpose()
                    .map_err(|e| bad(&format!("archived by: {e}")))?,
                archive_reason: arch.2,
            });
        }
        Ok(out)
    }
}

/// The park reason of a message a manager may act on, or why it may not.
fn parked_reason(message: &OutboxMessage, action: &str) -> Result<String, JournalError> {
    let refuse = |why: &str| {
        Err(JournalError::InvalidArgument(format!(
            "outbox message {} cannot be {action}: {why}",
            message.id
        )))
    };
    if message.delivered_at.is_some() {
        return refuse("the central already has it");
    }
    if message.archived_at.is_some() {
        return refuse("it was archived");
    }
    match &message.parked_reason {
        Some(reason) => Ok(reason.clone()),
        None => refuse("it is not parked (it waits for delivery)"),
    }
}

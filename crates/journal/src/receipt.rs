//! Recording that a receipt was given to the customer (issue 12, item 7): after a success the
//! desk offers the reference (the gateway id and Paydesk's attempt) to copy or print, and each
//! copy or print is a chained `receipt_given` event of the attempt, naming the operator and how.
//! The attempt's state does not change (the event goes from its state to the same state), so
//! recovery, the outbox and `verify` treat it like the manager's outbox events.
//!
//! Deliberately absent: the receipt's text (the front end renders it) and any check of who may
//! give one (the front end's signed-in operator).

use paydesk_core::{AttemptId, AttemptState, OperatorId, Timestamp};
use rusqlite::TransactionBehavior;

use crate::error::{corrupt, db};
use crate::integrity::{check_loaded, ROW_DIGEST_KEY};
use crate::{append_event, load_attempt, not_found, Journal, JournalError, StoredEvent};

/// The kind of the event recorded when a receipt was copied or printed.
pub const RECEIPT_GIVEN_KIND: &str = "receipt_given";

/// How the receipt reached the customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReceiptHow {
    /// Copied to the clipboard (read out on the phone, pasted into an e-mail).
    Copied,
    /// Sent to the printer.
    Printed,
}

impl ReceiptHow {
    pub fn as_str(self) -> &'static str {
        match self {
            ReceiptHow::Copied => "copied",
            ReceiptHow::Printed => "printed",
        }
    }

    pub fn parse(s: &str) -> Option<ReceiptHow> {
        Some(match s {
            "copied" => ReceiptHow::Copied,
            "printed" => ReceiptHow::Printed,
            _ => return None,
        })
    }
}

impl Journal {
    /// Appends a `receipt_given` event to a succeeded attempt: who gave it and how. Refused for
    /// an attempt that did not succeed (there is no payment to give a receipt for). Returns the
    /// event as stored.
    pub fn record_receipt(
        &mut self,
        id: &AttemptId,
        how: ReceiptHow,
        operator: &OperatorId,
        now: Timestamp,
    ) -> Result<StoredEvent, JournalError> {
        let path = self.path.clone();
        let path = path.as_path();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db(path, "starting a transaction"))?;
        let attempt = load_attempt(&tx, path, id)?.ok_or_else(|| not_found(id))?;
        if attempt.state != AttemptState::Succeeded {
            return Err(JournalError::InvalidArgument(format!(
                "attempt {id} is {}, not succeeded: a receipt is given only for a payment that \
                 succeeded",
                attempt.state.as_str()
            )));
        }
        if let Some(link) = check_loaded(&tx, path, &attempt)? {
            return Err(corrupt(path, link.message));
        }
        let mut detail = serde_json::json!({
            "how": how.as_str(),
            "by": operator,
            "intent_id": attempt.intent_id.as_ref().map(|i| i.as_str()),
        });
        detail[ROW_DIGEST_KEY] = hex::encode(paydesk_core::record::attempt_digest(&attempt)).into();
        let (seq, _) = append_event(
            &tx,
            path,
            id,
            now,
            RECEIPT_GIVEN_KIND,
            Some(attempt.state),
            attempt.state,
            &detail,
        )?;
        tx.commit().map_err(db(path, "committing"))?;
        self.timeline(id)?
            .into_iter()
            .find(|e| e.seq == seq)
            .ok_or_else(|| not_found(id))
    }
}

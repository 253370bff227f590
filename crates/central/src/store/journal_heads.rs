//! The journal heads terminals reported with their results (`POST /v1/results` stores each one in
//! `journal_heads`), read back: the newest head of one terminal, which its desktop shows beside
//! its own integrity check as the central's receipt.
//!
//! Deliberately absent: storing heads and flagging a rewritten or backwards journal (the results
//! inbox does both, in the same transaction as the results).

use sqlx::Row;

use super::Store;
use crate::error::CentralResult;

/// The newest journal head the central holds for a terminal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredJournalHead {
    pub seq: i64,
    /// Lower-case hex SHA-256 of the event at `seq`.
    pub hash: String,
    /// When the central received it (ms).
    pub received_at: i64,
}

impl Store {
    /// The highest-numbered head `terminal` reported, if it ever reported one.
    pub async fn last_journal_head(
        &self,
        terminal: &str,
    ) -> CentralResult<Option<StoredJournalHead>> {
        let row = sqlx::query(
            "SELECT seq, hash, received_at FROM journal_heads WHERE terminal_id = $1 \
             ORDER BY seq DESC LIMIT 1",
        )
        .bind(terminal)
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| {
            Ok(StoredJournalHead {
                seq: r.try_get("seq")?,
                hash: r.try_get("hash")?,
                received_at: r.try_get("received_at")?,
            })
        })
        .transpose()
    }
}

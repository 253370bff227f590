//! The terminal's journal head, recorded with each results batch: a head seen before with another
//! hash (a rewritten journal) or one below the highest seen (a journal gone backwards) is flagged.
//!
//! On PostgreSQL the look-ups and the insert are one statement (one round trip per batch);
//! SQLite, which has no data-modifying CTE, runs them one after the other. Deliberately absent:
//! the results themselves (`inbox.rs`).

use paydesk_core::{TerminalId, Timestamp};
use paydesk_protocol::{JournalHead, JournalReceipt};
use sqlx::{Any, Row, Transaction};

use super::super::Store;
use super::rowset::is_postgres;
use crate::error::{CentralError, CentralResult};

impl Store {
    pub(in crate::store) async fn record_head(
        &self,
        tx: &mut Transaction<'static, Any>,
        terminal: &TerminalId,
        head: &JournalHead,
        now: Timestamp,
    ) -> CentralResult<JournalReceipt> {
        let seq = i64::try_from(head.seq)
            .map_err(|_| CentralError::Invalid("journal_head.seq is too large".into()))?;
        // (the hash stored for this seq, the highest seq stored before this one was inserted)
        let (existing, max): (Option<String>, Option<i64>) = if is_postgres(tx) {
            // One snapshot for the three parts: the insert happens only when the seq is new,
            // and the highest seq is read as it stood before it (as the SQLite path does).
            let row = sqlx::query(
                "WITH prior AS (SELECT hash FROM journal_heads WHERE terminal_id = $1 AND seq = $2), \
                 top AS (SELECT MAX(seq) AS max_seq FROM journal_heads WHERE terminal_id = $1), \
                 ins AS (INSERT INTO journal_heads (terminal_id, seq, hash, received_at) \
                 SELECT $1, $2, $3, $4 WHERE NOT EXISTS (SELECT 1 FROM prior) \
                 ON CONFLICT (terminal_id, seq) DO NOTHING) \
                 SELECT (SELECT hash FROM prior) AS hash, (SELECT max_seq FROM top) AS max_seq",
            )
            .bind(terminal.as_str())
            .bind(seq)
            .bind(&head.hash)
            .bind(now.unix_ms())
            .fetch_one(&mut **tx)
            .await?;
            (row.try_get("hash")?, row.try_get("max_seq")?)
        } else {
            let existing: Option<String> =
                sqlx::query("SELECT hash FROM journal_heads WHERE terminal_id = $1 AND seq = $2")
                    .bind(terminal.as_str())
                    .bind(seq)
                    .fetch_optional(&mut **tx)
                    .await?
                    .map(|r| r.try_get("hash"))
                    .transpose()?;
            let mut max = None;
            if existing.is_none() {
                max = sqlx::query(
                    "SELECT MAX(seq) AS max_seq FROM journal_heads WHERE terminal_id = $1",
                )
                .bind(terminal.as_str())
                .fetch_one(&mut **tx)
                .await?
                .try_get("max_seq")?;
                sqlx::query(
                    "INSERT INTO journal_heads (terminal_id, seq, hash, received_at) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (terminal_id, seq) DO NOTHING",
                )
                .bind(terminal.as_str())
                .bind(seq)
                .bind(&head.hash)
                .bind(now.unix_ms())
                .execute(&mut **tx)
                .await?;
            }
            (existing, max)
        };
        let problem = match existing {
            Some(hash) if hash == head.hash => None,
            Some(hash) => Some(format!(
                "journal of terminal {terminal} was rewritten: seq {seq} had hash {hash}, now {}",
                head.hash
            )),
            None => match max {
                Some(max) if max > seq => Some(format!(
                    "journal of terminal {terminal} went backwards: seq {seq} after {max}"
                )),
                _ => None,
            },
        };
        if let Some(reason) = &problem {
            self.flag(tx, None, "journal", reason, now).await?;
        }
        Ok(JournalReceipt {
            flagged: problem.is_some(),
            reason: problem,
        })
    }
}

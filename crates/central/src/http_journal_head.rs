//! `GET /v1/journal-head`: the newest journal head this terminal reported with its results, as
//! the central stored it — the receipt a terminal shows beside its own integrity check, so a
//! manager sees that the central holds the same chain (issue 11, item 5).
//!
//! Deliberately absent: another terminal's head (a terminal reads only its own) and any judgement
//! (the terminal compares the hash with its own event at that position).

use axum::extract::State;
use axum::Json;
use serde::Serialize;

use crate::error::CentralError;
use crate::http::AppState;
use crate::http_auth::TerminalAuth;

/// The answer: all three `null` when this terminal never delivered a result.
#[derive(Debug, Serialize)]
pub(crate) struct JournalHeadReceipt {
    seq: Option<i64>,
    hash: Option<String>,
    /// When the central received it, milliseconds since the Unix epoch (UTC).
    received_at: Option<i64>,
}

pub(crate) async fn journal_head(
    State(state): State<AppState>,
    TerminalAuth(terminal): TerminalAuth,
) -> Result<Json<JournalHeadReceipt>, CentralError> {
    let head = state.store.last_journal_head(terminal.as_str()).await?;
    Ok(Json(match head {
        Some(h) => JournalHeadReceipt {
            seq: Some(h.seq),
            hash: Some(h.hash),
            received_at: Some(h.received_at),
        },
        None => JournalHeadReceipt {
            seq: None,
            hash: None,
            received_at: None,
        },
    }))
}

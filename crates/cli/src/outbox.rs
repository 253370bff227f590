//! `paydesk outbox`: the results waiting for the central, and a manager's way back for one the
//! central rejected (parked): `list`, `retry ID` (back to waiting, due now; `paydesk sync` or the
//! background relay sends it) and `archive ID --reason TEXT` (kept for good, no longer parked).
//! Retry and archive are a manager's actions: `--manager ID` with the PIN on stdin, which the
//! central checks (the manager signs in there for this one action, online only); the journal
//! records who did it, and why, as a chained event.
//!
//! `list` opens the journal read-only, so it works while another process charges from it; retry
//! and archive write, so they take the journal's writer lock.
//!
//! Deliberately absent: deleting anything, and deciding whether a result is right (the central
//! applies a re-delivered result once the order exists).

use clap::Subcommand;
use paydesk_core::{OperatorId, Pin};
use paydesk_journal::{OutboxListing, OutboxMessage, OUTBOX_LIST_ROWS_MAX};
use paydesk_terminal::ManagerActionError;

use crate::central::{read_pin, sign_in_failure};

use crate::charge::engine_failure;
use crate::config::{journal_failure, Settings};
use crate::exit::{CmdResult, Failure, CONFLICT, REFUSED, SUCCESS};
use crate::output;

#[derive(Debug, Subcommand)]
pub enum OutboxCommand {
    /// List the results not delivered yet (waiting and parked), oldest first.
    List {
        /// Only the parked ones (rejected by the central, waiting for a manager).
        #[arg(long, conflicts_with = "all")]
        parked: bool,
        /// Every result, delivered and archived ones too.
        #[arg(long)]
        all: bool,
        /// At most this many.
        #[arg(long, default_value_t = OUTBOX_LIST_ROWS_MAX)]
        limit: u32,
    },
    /// Send a parked result again (the manager's PIN is read from stdin).
    Retry {
        /// The outbox message id (`paydesk outbox list`).
        id: i64,
        /// The manager who decides it.
        #[arg(long)]
        manager: String,
    },
    /// Archive a parked result for good, with a reason (the manager's PIN is read from stdin).
    Archive {
        /// The outbox message id (`paydesk outbox list`).
        id: i64,
        /// The manager who decides it.
        #[arg(long)]
        manager: String,
        /// Why this result need not reach the central.
        #[arg(long)]
        reason: String,
    },
}

pub async fn run(settings: &Settings, command: OutboxCommand) -> CmdResult {
    match command {
        OutboxCommand::List { parked, all, limit } => list(settings, parked, all, limit),
        OutboxCommand::Retry { id, manager } => {
            let (manager, pin) = manager_and_pin(&manager)?;
            let terminal = settings.open().await?;
            let message = terminal
                .outbox_retry(&manager, pin, id)
                .await
                .map_err(manager_failure)?;
            print_done(settings, "sent again: due now", &message);
            Ok(SUCCESS)
        }
        OutboxCommand::Archive {
            id,
            manager,
            reason,
        } => {
            let (manager, pin) = manager_and_pin(&manager)?;
            if reason.trim().is_empty() {
                return Err(Failure::usage("--reason: say why this result is archived"));
            }
            let terminal = settings.open().await?;
            let message = terminal
                .outbox_archive(&manager, pin, id, &reason)
                .await
                .map_err(manager_failure)?;
            print_done(settings, "archived", &message);
            Ok(SUCCESS)
        }
    }
}

fn list(settings: &Settings, parked: bool, all: bool, limit: u32) -> CmdResult {
    let which = match (parked, all) {
        (true, _) => OutboxListing::Parked,
        (_, true) => OutboxListing::All,
        _ => OutboxListing::Undelivered,
    };
    let journal = settings.open_journal()?;
    let messages = journal.outbox_list(which, limit).map_err(journal_failure)?;
    if settings.json {
        output::json(&serde_json::json!({ "messages": messages, "exit_code": SUCCESS }));
        return Ok(SUCCESS);
    }
    if messages.is_empty() {
        out!("the outbox holds nothing of that kind");
        return Ok(SUCCESS);
    }
    out!(
        "{:>6}  {:<36}  {:<16} {:<15} {:<10} status",
        "id",
        "attempt",
        "order",
        "result",
        "failures"
    );
    for m in &messages {
        out!(
            "{:>6}  {:<36}  {:<16} {:<15} {:<10} {}",
            m.id,
            m.attempt_id.to_string(),
            m.payload["order"].as_str().unwrap_or("?"),
            m.payload["state"].as_str().unwrap_or("?"),
            m.failures,
            status(m)
        );
    }
    Ok(SUCCESS)
}

/// Where a message stands, in words.
fn status(m: &OutboxMessage) -> String {
    match (
        &m.delivered_at,
        &m.archived_at,
        &m.parked_reason,
        &m.archived_by,
    ) {
        (Some(at), _, _, _) => format!("delivered at {at}"),
        (None, Some(at), _, by) => format!(
            "archived at {at} by {}: {}",
            by.as_ref().map(OperatorId::as_str).unwrap_or("?"),
            m.archive_reason.as_deref().unwrap_or("")
        ),
        (None, None, Some(reason), _) => format!("PARKED: {reason}"),
        (None, None, None, _) => format!("waiting, next try at {}", m.next_try_at),
    }
}

fn print_done(settings: &Settings, what: &str, message: &OutboxMessage) {
    if settings.json {
        output::json(&serde_json::json!({ "message": message, "exit_code": SUCCESS }));
    } else {
        out!("outbox message {} {what} ({})", message.id, status(message));
    }
}

/// The manager's id from the flag and the PIN from stdin (one line; never an argument).
fn manager_and_pin(manager: &str) -> Result<(OperatorId, Pin), Failure> {
    let manager =
        OperatorId::new(manager).map_err(|e| Failure::usage(format!("--manager: {e}")))?;
    let pin = read_pin("paydesk outbox retry ID --manager ID")?;
    Ok((manager, pin))
}

fn manager_failure(e: ManagerActionError) -> Failure {
    match e {
        ManagerActionError::SignIn(e) => sign_in_failure(e),
        e @ ManagerActionError::NotManager(_) => Failure::new(REFUSED, anyhow::anyhow!("{e}")),
        ManagerActionError::Engine(paydesk_engine::EngineError::Journal(
            e @ paydesk_journal::JournalError::InvalidArgument(_),
        )) => Failure::new(CONFLICT, anyhow::anyhow!("{e}")),
        ManagerActionError::Engine(paydesk_engine::EngineError::Journal(
            e @ paydesk_journal::JournalError::NotFound { .. },
        )) => Failure::usage(e),
        ManagerActionError::Engine(e) => engine_failure(e),
    }
}

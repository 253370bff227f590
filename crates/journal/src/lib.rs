//! Paydesk's local journal: the SQLite store of charge attempts (their current state), their
//! append-only, hash-chained event history, and the outbox of results for the central, each state
//! change written together with its event and its result message in one durable transaction.
//!
//! This is the only crate on the terminal side that opens SQLite (the central's store opens its
//! own). This file holds the journal itself and its writes (`begin_attempt`, `apply`, the event
//! chain, the crash hooks); reads live in `query.rs`, the outbox in `outbox.rs`, integrity checks
//! in `verify.rs`. Deliberately absent: deciding anything. Every state change is computed by
//! `paydesk_core::step`; the journal loads, calls the core, checks the record at both ends and
//! persists. It never reads the clock (times come in as arguments) and never talks to the network.

mod error;
mod integrity;
mod lock;
mod outbox;
mod parked;
mod query;
mod reader;
mod receipt;
mod rows;
mod schema;
mod types;
mod verify;

use std::fmt;
use std::path::{Path, PathBuf};

use paydesk_core::record::{EventRecord, GENESIS_HASH};
use paydesk_core::{
    step, Attempt, AttemptEvent, AttemptId, AttemptState, Effect, NewAttempt, OfflineGrant,
    Timestamp, OFFLINE_GRANT_KEY,
};
use rusqlite::{
    named_params, Connection, OpenFlags, OptionalExtension, Transaction, TransactionBehavior,
};

pub use error::JournalError;
pub use integrity::{outbox_digest, OUTBOX_DIGEST_KEY, ROW_DIGEST_KEY, SEALED_KIND};
pub use parked::{OutboxListing, OUTBOX_ARCHIVED_KIND, OUTBOX_LIST_ROWS_MAX, OUTBOX_RETRIED_KIND};
pub use reader::JournalReader;
pub use receipt::{ReceiptHow, RECEIPT_GIVEN_KIND};
pub use schema::SCHEMA_VERSION;
pub use types::{
    AttemptFilter, BreakKind, BrokenLink, OperatorDayTotal, OutboxMessage, OutboxStats,
    ResultMessage, StoredEvent, VerifyReport,
};

use error::{corrupt, db};
use outbox::{enqueue_result, result_message};
use rows::{
    attempt_from_row, check_before_write, immutable_fields_differ, insert_attempt, update_attempt,
    ATTEMPT_COLUMNS,
};
use verify::decode_hash;

/// Attempts listed when a filter gives no limit: a screenful of history with room to scroll.
pub const ATTEMPT_ROWS_DEFAULT: u32 = 500;

/// The most attempts one query returns, whatever the filter asks: keeps a careless filter from
/// loading years of history into the UI at once (narrow it by date instead).
pub const ATTEMPT_ROWS_MAX: u32 = 10_000;

/// The most outbox messages handled in one call: one relay batch to the central. Large enough that
/// a week of offline work drains in seconds, small enough that one request stays well under the
/// central's body limit (~1 KiB per result).
pub const OUTBOX_BATCH_ROWS_MAX: usize = 500;

/// The largest event detail stored (JSON bytes). Details hold outcomes, reasons and a manager's
/// evidence note; 16 KiB is far above any of those and keeps one event from bloating the chain.
pub const DETAIL_BYTES_MAX: usize = 16 * 1024;

/// The longest reason kept when a message is parked; longer ones are cut (the reason is a note
/// for a person, the full story is in the logs).
pub const PARK_REASON_CHARS_MAX: usize = 1_000;

/// The kind of the first event of every attempt.
pub const BEGUN_KIND: &str = "begun";

/// Points inside a write transaction where a test can stop the process (crash tests only; the
/// hook is never set in production).
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrashPoint {
    /// The attempt row is written, its event is not.
    AfterStateWrite,
    /// Everything is written, the transaction is not committed.
    BeforeCommit,
    /// The transaction is committed, the caller has not been told.
    AfterCommit,
}

type CrashHook = Box<dyn FnMut(CrashPoint) + Send>;

/// One open journal file, and its single writer. Lives as long as the application keeps the
/// journal open (normally the whole session); dropping it closes the database, then releases the
/// lock. (A [`JournalReader`] wraps one opened read-only, without the lock: it reads beside the
/// writer and can only reach the `&self` methods, which never write.)
pub struct Journal {
    /// The only connection to the file. Reads and writes go through it; writes take `&mut self`,
    /// so a write transaction never interleaves with a read of the same journal. Declared before
    /// `lock` so it is dropped (and the WAL checkpointed) before the lock is released.
    conn: Connection,
    /// The journal file's path as given to `open`, named in every error message.
    path: PathBuf,
    /// The exclusive `flock` on `<path>.lock`, held from `open` until drop: one writer per file.
    /// `None` only inside a [`JournalReader`], whose connection is read-only.
    lock: Option<lock::WriterLock>,
    /// Test-only: called at each [`CrashPoint`] of a write so a crash test can abort the process
    /// there. `None` in production.
    crash_hook: Option<CrashHook>,
}

impl fmt::Debug for Journal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Journal")
            .field("path", &self.path)
            .field("lock", &self.lock.as_ref().map(|l| &l.path))
            .field("crash_hook", &self.crash_hook.is_some())
            .finish_non_exhaustive()
    }
}

impl Journal {
    /// Opens (or creates) the journal at `path`: takes the single-writer lock, refuses a damaged,
    /// foreign or newer file without modifying it, runs `PRAGMA quick_check`, and applies the
    /// missing migrations.
    pub fn open(path: &Path) -> Result<Journal, JournalError> {
        let lock = lock::acquire(path)?;
        // No URI interpretation of the path, no SQLite-level mutex (the connection is owned by
        // one `Journal`, used from one thread at a time).
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let mut conn = Connection::open_with_flags(path, flags).map_err(db(path, "opening"))?;
        // SQLite silently opens a write-protected file read-only; say so now rather than at the
        // first charge.
        if conn
            .is_readonly(rusqlite::DatabaseName::Main)
            .map_err(db(path, "opening"))?
        {
            return Err(JournalError::ReadOnly {
                path: path.to_path_buf(),
                detail: "the file is write-protected".into(),
            });
        }
        schema::prepare(&mut conn, path)?;
        Ok(Journal {
            conn,
            path: path.to_path_buf(),
            lock: Some(lock),
            crash_hook: None,
        })
    }

    /// The journal file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Starts an attempt: `Attempt::begin`, persisted with its "begun" event before returning,
    /// so nothing can reach the gateway before this record is durable.
    ///
    /// An offline attempt is refused here: it must name the grant that allowed it
    /// ([`Journal::begin_offline_attempt`]).
    pub fn begin_attempt(
        &mut self,
        new: NewAttempt,
        now: Timestamp,
    ) -> Result<(Attempt, Vec<Effect>), JournalError> {
        if new.offline {
            return Err(JournalError::InvalidRecord {
                id: new.id.to_string(),
                problem: "an offline attempt must name the signed grant that allowed it".into(),
            });
        }
        self.begin(new, None, now)
    }

    /// Starts an offline attempt like [`Journal::begin_attempt`], recording in its "begun" event
    /// (under [`OFFLINE_GRANT_KEY`]) the central's signed grant that allowed it, so the chain
    /// itself proves which grant allowed each offline charge. The grant must be for this
    /// attempt's terminal; the caller has checked its signature and window.
    pub fn begin_offline_attempt(
        &mut self,
        new: NewAttempt,
        grant: &OfflineGrant,
        now: Timestamp,
    ) -> Result<(Attempt, Vec<Effect>), JournalError> {
        let problem = if !new.offline {
            Some("only an offline attempt names an offline grant".to_string())
        } else if grant.terminal_id != new.terminal {
            Some(format!(
                "the offline grant {} is for terminal {}, not {}",
                grant.grant_id, grant.terminal_id, new.terminal
            ))
        } else {
            None
        };
        if let Some(problem) = problem {
            return Err(JournalError::InvalidRecord {
                id: new.id.to_string(),
                problem,
            });
        }
        self.begin(new, Some(grant), now)
    }

    fn begin(
        &mut self,
        new: NewAttempt,
        grant: Option<&OfflineGrant>,
        now: Timestamp,
    ) -> Result<(Attempt, Vec<Effect>), JournalError> {
        let (attempt, effects) = Attempt::begin(new, now);
        check_before_write(&attempt)?;
        let detail = serde_json::json!({
            "order": attempt.order,
            "number": attempt.number,
            "claim_token": attempt.claim_token,
            "amount": attempt.amount,
            "customer": attempt.customer,
            "payment_method": attempt.payment_method,
            "operator": attempt.operator,
            "terminal": attempt.terminal,
            "offline": attempt.offline,
            "create_key": attempt.create_key,
            "effects": effects,
        });
        let mut detail = detail;
        if let Some(grant) = grant {
            detail[OFFLINE_GRANT_KEY] =
                serde_json::to_value(grant).expect("an offline grant serializes");
        }
        let path = &self.path;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db(path, "starting a transaction"))?;
        insert_attempt(&tx, &attempt).map_err(|e| {
            if is_uniqueness_violation(&e) {
                JournalError::Duplicate {
                    id: format!(
                        "{} (or attempt {} of order {})",
                        attempt.id, attempt.number, attempt.order
                    ),
                }
            } else {
                JournalError::from_sqlite(path, "writing a new attempt", e)
            }
        })?;
        fire(&mut self.crash_hook, CrashPoint::AfterStateWrite);
        detail[integrity::ROW_DIGEST_KEY] = row_digest(&tx, path, &attempt.id)?.into();
        append_event(
            &tx,
            path,
            &attempt.id,
            now,
            BEGUN_KIND,
            None,
            attempt.state,
            &detail,
        )?;
        commit(tx, path, &mut self.crash_hook)?;
        Ok((attempt, effects))
    }

    /// Applies one event: loads the attempt, runs `paydesk_core::step`, and persists the new
    /// state, its event and (when the effects include `EnqueueResult`) its outbox message in one
    /// transaction. A refused event writes nothing.
    pub fn apply(
        &mut self,
        id: &AttemptId,
        event: &AttemptEvent,
        now: Timestamp,
    ) -> Result<(Attempt, Vec<Effect>), JournalError> {
        let mut steps = self.apply_all(id, std::slice::from_ref(&(event.clone(), now)))?;
        Ok(steps.pop().expect("one event gives one step"))
    }

    /// Applies several events of one attempt in order, in ONE transaction (one durable commit):
    /// each is stepped, checked and chained exactly as [`Journal::apply`] would (its own event
    /// row, its own row digest, its own outbox message), and either all of them are committed or
    /// none is. Returns the attempt and effects after each event, in order.
    ///
    /// The engine uses it to commit the answers it gathered while no gateway request was due
    /// (the create's answer, the central's registration and the confirm's begin) together, right
    /// before the confirm is sent. An empty list writes nothing and is refused.
    pub fn apply_all(
        &mut self,
        id: &AttemptId,
        events: &[(AttemptEvent, Timestamp)],
    ) -> Result<Vec<(Attempt, Vec<Effect>)>, JournalError> {
        if events.is_empty() {
            return Err(JournalError::InvalidArgument(format!(
                "no events to apply to attempt {id}"
            )));
        }
        let path = &self.path;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db(path, "starting a transaction"))?;
        let mut steps = Vec::with_capacity(events.len());
        for (event, now) in events {
            steps.push(apply_in(&tx, path, &mut self.crash_hook, id, event, *now)?);
        }
        commit(tx, path, &mut self.crash_hook)?;
        Ok(steps)
    }

    /// The last event's seq and hash (hex); `(0, "000…")` for an empty journal.
    pub fn head(&self) -> Result<(i64, String), JournalError> {
        head_in(&self.conn, &self.path)
    }

    /// Test-only: sets the hook called at each [`CrashPoint`] of `begin_attempt` and `apply`.
    #[doc(hidden)]
    pub fn set_crash_hook(&mut self, hook: Option<Box<dyn FnMut(CrashPoint) + Send>>) {
        self.crash_hook = hook;
    }

    /// Test-only: caps the file at its current size plus `extra_pages`, so the next writes fail
    /// as on a full disk (`SQLITE_FULL`). Returns the cap in pages.
    #[doc(hidden)]
    pub fn cap_size_for_tests(&mut self, extra_pages: u32) -> Result<i64, JournalError> {
        let path = &self.path;
        let pages: i64 = self
            .conn
            .pragma_query_value(None, "page_count", |r| r.get(0))
            .map_err(db(path, "reading the page count"))?;
        self.conn
            .pragma_update_and_check(
                None,
                "max_page_count",
                pages + i64::from(extra_pages),
                |r| r.get(0),
            )
            .map_err(db(path, "capping the page count"))
    }
}

/// One event of [`Journal::apply_all`], inside its transaction: load, check the row against its
/// chain, step, check, write the row, chain the event and enqueue the result message.
fn apply_in(
    tx: &Transaction<'_>,
    path: &Path,
    hook: &mut Option<CrashHook>,
    id: &AttemptId,
    event: &AttemptEvent,
    now: Timestamp,
) -> Result<(Attempt, Vec<Effect>), JournalError> {
    let current = load_attempt(tx, path, id)?.ok_or_else(|| not_found(id))?;
    // A row edited outside Paydesk is never stepped on: the new event would seal the edit.
    if let Some(link) = integrity::check_loaded(tx, path, &current)? {
        return Err(corrupt(path, link.message));
    }
    let (next, effects) = step(&current, event, now)?;
    if let Some(field) = immutable_fields_differ(&current, &next) {
        return Err(JournalError::InvalidRecord {
            id: id.to_string(),
            problem: format!("the step from {} changed its {field}", current.state),
        });
    }
    check_before_write(&next)?;
    // Every accepted step is persisted: the core's effects always start with `Persist`, and a
    // step that changed nothing but a counter is still history worth keeping.
    debug_assert_eq!(effects.first(), Some(&Effect::Persist));
    let mut detail = serde_json::json!({ "event": event, "effects": effects });

    let changed =
        update_attempt(tx, current.state, &next).map_err(db(path, "updating an attempt"))?;
    if changed != 1 {
        return Err(corrupt(
            path,
            format!("attempt {id} changed underneath its single writer"),
        ));
    }
    fire(hook, CrashPoint::AfterStateWrite);
    // The event seals the row as written and, for a result, the payload it enqueues (whose
    // `event_hash` is this event's own, blanked in the digest).
    detail[integrity::ROW_DIGEST_KEY] = row_digest(tx, path, id)?.into();
    let message = if effects.contains(&Effect::EnqueueResult) {
        let message = result_message(&next, head_in(tx, path)?.0 + 1);
        let value = serde_json::to_value(&message).expect("a result message serializes");
        detail[integrity::OUTBOX_DIGEST_KEY] = hex::encode(integrity::outbox_digest(&value)).into();
        Some(message)
    } else {
        None
    };
    let (seq, hash) = append_event(
        tx,
        path,
        id,
        now,
        event.kind(),
        Some(current.state),
        next.state,
        &detail,
    )?;
    if let Some(mut message) = message {
        debug_assert_eq!(message.event_seq, seq);
        message.event_hash = hash;
        enqueue_result(tx, path, &message, now)?;
    }
    Ok((next, effects))
}

/// True for a primary-key or unique-index violation (not for a failed CHECK, which is a bug).
fn is_uniqueness_violation(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::SqliteFailure(f, _)
            if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
                || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
    )
}

/// Calls the crash hook, if a test set one.
fn fire(hook: &mut Option<CrashHook>, point: CrashPoint) {
    if let Some(hook) = hook {
        hook(point);
    }
}

/// Commits a write transaction, with the crash points either side of the commit.
fn commit(
    tx: Transaction<'_>,
    path: &Path,
    hook: &mut Option<CrashHook>,
) -> Result<(), JournalError> {
    fire(hook, CrashPoint::BeforeCommit);
    tx.commit().map_err(db(path, "committing"))?;
    fire(hook, CrashPoint::AfterCommit);
    Ok(())
}

/// The digest (hex) of the attempt row as stored now, read back inside the write transaction so
/// it is exactly what `verify` will read.
fn row_digest(conn: &Connection, path: &Path, id: &AttemptId) -> Result<String, JournalError> {
    let stored = load_attempt(conn, path, id)?.ok_or_else(|| not_found(id))?;
    Ok(hex::encode(paydesk_core::record::attempt_digest(&stored)))
}

pub(crate) fn load_attempt(
    conn: &Connection,
    path: &Path,
    id: &AttemptId,
) -> Result<Option<Attempt>, JournalError> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {ATTEMPT_COLUMNS} FROM attempts WHERE id = ?1"
        ))
        .map_err(db(path, "reading an attempt"))?;
    stmt.query_row([id.to_string()], |r| Ok(attempt_from_row(r)))
        .optional()
        .map_err(db(path, "reading an attempt"))?
        .transpose()
        .map_err(|detail| corrupt(path, detail))
}

fn head_in(conn: &Connection, path: &Path) -> Result<(i64, String), JournalError> {
    conn.query_row(
        "SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .optional()
    .map_err(db(path, "reading the chain head"))
    .map(|head| head.unwrap_or_else(|| (0, hex::encode(GENESIS_HASH))))
}

/// Appends the next event of the chain; returns its seq and hash (hex).
#[allow(clippy::too_many_arguments)]
pub(crate) fn append_event(
    tx: &Transaction<'_>,
    path: &Path,
    attempt_id: &AttemptId,
    at: Timestamp,
    kind: &str,
    from_state: Option<AttemptState>,
    to_state: AttemptState,
    detail: &serde_json::Value,
) -> Result<(i64, String), JournalError> {
    let detail = detail.to_string();
    if detail.len() > DETAIL_BYTES_MAX {
        return Err(JournalError::InvalidArgument(format!(
            "the event's detail is {} bytes, more than the {DETAIL_BYTES_MAX} a journal event \
             holds: shorten the evidence or reason",
            detail.len()
        )));
    }
    let (head_seq, head_hex) = head_in(tx, path)?;
    let prev = decode_hash(&head_hex)
        .ok_or_else(|| corrupt(path, format!("event {head_seq} has a malformed hash")))?;
    let record = EventRecord {
        seq: head_seq + 1,
        attempt_id: attempt_id.to_string(),
        at,
        kind: kind.to_string(),
        from_state: from_state
            .map(AttemptState::as_str)
            .unwrap_or("")
            .to_string(),
        to_state: to_state.as_str().to_string(),
        detail,
    };
    let hash = hex::encode(record.chain_hash(&prev));
    tx.execute(
        "INSERT INTO events (seq, attempt_id, at, kind, from_state, to_state, detail, \
         prev_hash, hash) VALUES (:seq, :attempt_id, :at, :kind, :from_state, :to_state, \
         :detail, :prev_hash, :hash)",
        named_params! {
            ":seq": record.seq,
            ":attempt_id": record.attempt_id,
            ":at": record.at.unix_ms(),
            ":kind": record.kind,
            ":from_state": record.from_state,
            ":to_state": record.to_state,
            ":detail": record.detail,
            ":prev_hash": head_hex,
            ":hash": hash,
        },
    )
    .map_err(db(path, "appending an event"))?;
    Ok((record.seq, hash))
}

pub(crate) fn not_found(id: &AttemptId) -> JournalError {
    JournalError::NotFound {
        what: format!("attempt {id}"),
    }
}

#[cfg(test)]
mod tests {
    use rusqlite::types::Value;

    use super::*;

    /// The shell keeps the journal in shared state behind a mutex, so it must be `Send`.
    #[test]
    fn a_journal_can_move_between_threads() {
        fn assert_send<T: Send>() {}
        assert_send::<Journal>();
    }

    /// The durability settings are per connection: check them on the live one.
    #[test]
    fn the_connection_is_wal_with_full_sync_and_foreign_keys() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::open(&dir.path().join("j.sqlite")).unwrap();
        let pragma = |name: &str| -> String {
            journal
                .conn
                .pragma_query_value(None, name, |r| r.get::<_, Value>(0))
                .map(|v| match v {
                    Value::Integer(i) => i.to_string(),
                    Value::Text(t) => t,
                    other => format!("{other:?}"),
                })
                .unwrap()
        };
        assert_eq!(pragma("journal_mode"), "wal");
        assert_eq!(pragma("synchronous"), "2");
        assert_eq!(pragma("foreign_keys"), "1");
        assert_eq!(pragma("application_id"), schema::APPLICATION_ID.to_string());
        assert_eq!(pragma("user_version"), SCHEMA_VERSION.to_string());
    }
}

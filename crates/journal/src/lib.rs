//! Paydesk's local journal: the SQLite store of charge attempts (their current state), their
//! append-only, hash-chained event history, and the outbox of results for the central, each state
//! change written together with its event and its result message in one durable transaction.
//!
//! This is the only crate that opens SQLite. Deliberately absent: deciding anything. Every state
//! change is computed by `paydesk_core::step`; the journal loads, calls the core, checks the record
//! at both ends and persists. It never reads the clock (times come in as arguments) and never
//! talks to the network.

mod error;
mod lock;
mod rows;
mod schema;
mod types;

use std::fmt;
use std::path::{Path, PathBuf};

use paydesk_core::record::{verify_chain, ChainBreak, EventRecord, GENESIS_HASH};
use paydesk_core::{
    step, Attempt, AttemptEvent, AttemptId, AttemptState, Currency, Effect, Money, NewAttempt,
    OperatorId, Timestamp,
};
use rusqlite::types::Value;
use rusqlite::{
    named_params, params, params_from_iter, Connection, OpenFlags, OptionalExtension, Transaction,
    TransactionBehavior,
};

pub use error::JournalError;
pub use schema::SCHEMA_VERSION;
pub use types::{
    AttemptFilter, BreakKind, BrokenLink, OperatorDayTotal, OutboxMessage, OutboxStats,
    ResultMessage, StoredEvent, VerifyReport,
};

use error::{corrupt, db};
use rows::{
    attempt_from_row, check_before_write, immutable_fields_differ, insert_attempt, update_attempt,
    ATTEMPT_COLUMNS, ATTEMPT_COLUMN_COUNT,
};

/// Attempts listed when a filter gives no limit: a screenful of history with room to scroll.
pub const ATTEMPT_ROWS_DEFAULT: u32 = 500;

/// The most attempts one query returns, whatever the filter asks: keeps a careless filter from
/// loading years of history into the UI at once (narrow it by date instead).
pub const ATTEMPT_ROWS_MAX: u32 = 10_000;

/// The most outbox messages handled in one call: one relay batch to the central.
pub const OUTBOX_BATCH_ROWS_MAX: usize = 500;

/// The largest event detail stored (JSON bytes). Details hold outcomes, reasons and a manager's
/// evidence note; 16 KiB is far above any of those and keeps one event from bloating the chain.
pub const DETAIL_BYTES_MAX: usize = 16 * 1024;

/// The longest reason kept when a message is parked; longer ones are cut (the reason is a note
/// for a person, the full story is in the logs).
pub const PARK_REASON_CHARS_MAX: usize = 1_000;

/// Events held in memory at once while verifying: bounds memory on journals of any length.
const VERIFY_BATCH_ROWS: usize = 4_096;

/// Milliseconds in a UTC day, for grouping totals by day.
const MS_PER_DAY: i64 = 86_400_000;

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
/// lock.
pub struct Journal {
    /// The only connection to the file. Reads and writes go through it; writes take `&mut self`,
    /// so a write transaction never interleaves with a read of the same journal. Declared before
    /// `lock` so it is dropped (and the WAL checkpointed) before the lock is released.
    conn: Connection,
    /// The journal file's path as given to `open`, named in every error message.
    path: PathBuf,
    /// The exclusive `flock` on `<path>.lock`, held from `open` until drop: one writer per file.
    lock: lock::WriterLock,
    /// Test-only: called at each [`CrashPoint`] of a write so a crash test can abort the process
    /// there. `None` in production.
    crash_hook: Option<CrashHook>,
}

impl fmt::Debug for Journal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Journal")
            .field("path", &self.path)
            .field("lock", &self.lock.path)
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
            lock,
            crash_hook: None,
        })
    }

    /// The journal file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Starts an attempt: `Attempt::begin`, persisted with its "begun" event before returning,
    /// so nothing can reach the gateway before this record is durable.
    pub fn begin_attempt(
        &mut self,
        new: NewAttempt,
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
        let path = &self.path;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db(path, "starting a transaction"))?;
        let current = load_attempt(&tx, path, id)?.ok_or_else(|| not_found(id))?;
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
        let detail = serde_json::json!({ "event": event, "effects": effects });

        let changed =
            update_attempt(&tx, current.state, &next).map_err(db(path, "updating an attempt"))?;
        if changed != 1 {
            return Err(corrupt(
                path,
                format!("attempt {id} changed underneath its single writer"),
            ));
        }
        fire(&mut self.crash_hook, CrashPoint::AfterStateWrite);
        let (seq, hash) = append_event(
            &tx,
            path,
            id,
            now,
            event.kind(),
            Some(current.state),
            next.state,
            &detail,
        )?;
        if effects.contains(&Effect::EnqueueResult) {
            enqueue_result(&tx, path, &next, now, seq, hash)?;
        }
        commit(tx, path, &mut self.crash_hook)?;
        Ok((next, effects))
    }

    /// One attempt as stored, or `None`.
    pub fn attempt(&self, id: &AttemptId) -> Result<Option<Attempt>, JournalError> {
        load_attempt(&self.conn, &self.path, id)
    }

    /// Attempts matching `filter`, newest first.
    pub fn attempts(&self, filter: &AttemptFilter) -> Result<Vec<Attempt>, JournalError> {
        let mut clauses = Vec::new();
        let mut values = Vec::new();
        if let Some(state) = filter.state {
            clauses.push("state = ?");
            values.push(Value::Text(state.as_str().into()));
        }
        if let Some(operator) = &filter.operator {
            clauses.push("operator_id = ?");
            values.push(Value::Text(operator.as_str().into()));
        }
        if let Some(order) = &filter.order {
            clauses.push("order_id = ?");
            values.push(Value::Text(order.as_str().into()));
        }
        if let Some(from) = filter.from {
            clauses.push("created_at >= ?");
            values.push(Value::Integer(from.unix_ms()));
        }
        if let Some(to) = filter.to {
            clauses.push("created_at < ?");
            values.push(Value::Integer(to.unix_ms()));
        }
        let limit = filter
            .limit
            .unwrap_or(ATTEMPT_ROWS_DEFAULT)
            .min(ATTEMPT_ROWS_MAX);
        values.push(Value::Integer(limit.into()));
        let where_sql = if clauses.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", clauses.join(" AND "))
        };
        self.query_attempts(
            &format!("{where_sql} ORDER BY created_at DESC, id DESC LIMIT ?"),
            values,
        )
    }

    /// An attempt's history, oldest first.
    pub fn timeline(&self, id: &AttemptId) -> Result<Vec<StoredEvent>, JournalError> {
        let path = &self.path;
        if self.attempt(id)?.is_none() {
            return Err(not_found(id));
        }
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT seq, at, kind, from_state, to_state, detail, hash FROM events \
                 WHERE attempt_id = ?1 ORDER BY seq",
            )
            .map_err(db(path, "reading a timeline"))?;
        let rows = stmt
            .query_map([id.to_string()], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, String>(6)?,
                ))
            })
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(db(path, "reading a timeline"))?;
        rows.into_iter()
            .map(|(seq, at, kind, from, to, detail, hash)| {
                let state = |s: &str| {
                    AttemptState::parse(s).ok_or_else(|| {
                        corrupt(path, format!("event {seq} names an unknown state {s:?}"))
                    })
                };
                Ok(StoredEvent {
                    seq,
                    attempt_id: *id,
                    at: Timestamp::from_unix_ms(at),
                    kind,
                    from_state: if from.is_empty() {
                        None
                    } else {
                        Some(state(&from)?)
                    },
                    to_state: state(&to)?,
                    detail: serde_json::from_str(&detail).map_err(|e| {
                        corrupt(path, format!("event {seq} has unreadable detail: {e}"))
                    })?,
                    hash,
                })
            })
            .collect()
    }

    /// Per operator, per UTC day and per currency: how many attempts were begun in `[from, to)`,
    /// how many succeeded and for how much, how many were declined and how many are unresolved.
    /// An attempt counts on the day it was begun, so a closed day's totals only change when its
    /// unresolved attempts are settled.
    pub fn totals(
        &self,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<OperatorDayTotal>, JournalError> {
        let path = &self.path;
        if to < from {
            return Err(JournalError::InvalidArgument(format!(
                "totals from {from} to {to}: the end is before the start"
            )));
        }
        let unresolved = sql_state_list(|s| !s.is_terminal());
        // The day start is floor(created_at / day), written so it is also right before 1970.
        let sql = format!(
            "SELECT operator_id,
                    created_at - ((created_at % {MS_PER_DAY}) + {MS_PER_DAY}) % {MS_PER_DAY} AS day,
                    currency,
                    count(*),
                    sum(state = 'succeeded'),
                    sum(CASE WHEN state = 'succeeded' THEN amount_minor ELSE 0 END),
                    sum(state = 'declined'),
                    sum(state IN ({unresolved}))
             FROM attempts
             WHERE created_at >= ?1 AND created_at < ?2
             GROUP BY operator_id, day, currency
             ORDER BY day, operator_id, currency"
        );
        let mut stmt = self
            .conn
            .prepare_cached(&sql)
            .map_err(db(path, "computing totals"))?;
        type Row = (String, i64, String, i64, i64, i64, i64, i64);
        let rows: Vec<Row> = stmt
            .query_map(params![from.unix_ms(), to.unix_ms()], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                ))
            })
            .and_then(|rows| rows.collect())
            .map_err(db(path, "computing totals"))?;
        rows.into_iter()
            .map(
                |(operator, day, currency, attempts, succeeded, sum, declined, unresolved)| {
                    let currency = Currency::from_code(&currency)
                        .map_err(|e| corrupt(path, format!("an attempt's currency: {e}")))?;
                    let operator = OperatorId::new(operator)
                        .map_err(|e| corrupt(path, format!("an attempt's operator: {e}")))?;
                    let succeeded_sum = Money::new(sum, currency).map_err(|e| {
                        JournalError::InvalidArgument(format!(
                            "the day's succeeded sum for {operator} cannot be shown as one \
                             amount: {e}"
                        ))
                    })?;
                    Ok(OperatorDayTotal {
                        operator,
                        day: Timestamp::from_unix_ms(day).utc_day(),
                        currency,
                        attempts,
                        succeeded,
                        succeeded_sum,
                        declined,
                        unresolved,
                    })
                },
            )
            .collect()
    }

    /// Every attempt that is not finished, including those waiting for a manager, oldest first
    /// (the order recovery works them in). Not capped: each one is a charge that may need
    /// finishing, and hiding any of them is worse than a long list.
    pub fn unresolved(&self) -> Result<Vec<Attempt>, JournalError> {
        let states = sql_state_list(|s| !s.is_terminal());
        self.query_attempts(
            &format!("WHERE state IN ({states}) ORDER BY created_at, id"),
            Vec::new(),
        )
    }

    /// Outbox health: waiting messages, parked ones, and the age of the oldest waiting one.
    pub fn outbox_stats(&self, now: Timestamp) -> Result<OutboxStats, JournalError> {
        let (depth, parked, oldest): (i64, i64, Option<i64>) = self
            .conn
            .query_row(
                "SELECT
                   (SELECT count(*) FROM outbox
                     WHERE delivered_at IS NULL AND parked_reason IS NULL),
                   (SELECT count(*) FROM outbox
                     WHERE delivered_at IS NULL AND parked_reason IS NOT NULL),
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
        let path = &self.path;
        let limit = limit.min(OUTBOX_BATCH_ROWS_MAX) as i64;
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, attempt_id, payload, created_at, delivered_at, failures, \
                 next_try_at, parked_reason FROM outbox \
                 WHERE delivered_at IS NULL AND parked_reason IS NULL AND next_try_at <= ?1 \
                 ORDER BY id LIMIT ?2",
            )
            .map_err(db(path, "reading the outbox"))?;
        type Row = (
            i64,
            String,
            String,
            i64,
            Option<i64>,
            i64,
            i64,
            Option<String>,
        );
        let rows: Vec<Row> = stmt
            .query_map(params![now.unix_ms(), limit], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                ))
            })
            .and_then(|rows| rows.collect())
            .map_err(db(path, "reading the outbox"))?;
        rows.into_iter()
            .map(
                |(id, attempt_id, payload, created, delivered, failures, next_try, parked)| {
                    let bad = |what: &str| corrupt(path, format!("outbox message {id}: {what}"));
                    Ok(OutboxMessage {
                        id,
                        attempt_id: AttemptId::parse(&attempt_id)
                            .map_err(|e| bad(&e.to_string()))?,
                        payload: serde_json::from_str(&payload)
                            .map_err(|e| bad(&format!("unreadable payload: {e}")))?,
                        created_at: Timestamp::from_unix_ms(created),
                        delivered_at: delivered.map(Timestamp::from_unix_ms),
                        failures: u32::try_from(failures)
                            .map_err(|_| bad("failure count out of range"))?,
                        next_try_at: Timestamp::from_unix_ms(next_try),
                        parked_reason: parked,
                    })
                },
            )
            .collect()
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
                None => self.verify_guards()?,
            },
        };
        Ok(VerifyReport {
            events,
            attempts,
            head: if broken.is_none() { head } else { None },
            broken,
        })
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

    fn query_attempts(
        &self,
        tail_sql: &str,
        values: Vec<Value>,
    ) -> Result<Vec<Attempt>, JournalError> {
        let path = &self.path;
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {ATTEMPT_COLUMNS} FROM attempts {tail_sql}"
            ))
            .map_err(db(path, "reading attempts"))?;
        let rows = stmt
            .query_map(params_from_iter(values), |r| Ok(attempt_from_row(r)))
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(db(path, "reading attempts"))?;
        rows.into_iter()
            .map(|r| r.map_err(|detail| corrupt(path, detail)))
            .collect()
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
                   EXISTS (SELECT 1 FROM outbox o WHERE o.attempt_id = a.id)
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
            // transaction: one without the other means a partial write or an edit.
            if attempt.state.is_terminal() != has_result {
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
        }
        Ok(None)
    }
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

fn load_attempt(
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
fn append_event(
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

/// Writes the attempt's result message, due at once.
fn enqueue_result(
    tx: &Transaction<'_>,
    path: &Path,
    attempt: &Attempt,
    now: Timestamp,
    event_seq: i64,
    event_hash: String,
) -> Result<(), JournalError> {
    let message = ResultMessage {
        attempt_id: attempt.id,
        order: attempt.order.clone(),
        number: attempt.number,
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
        event_hash,
    };
    let payload = serde_json::to_string(&message).expect("a result message always serializes");
    tx.execute(
        "INSERT INTO outbox (attempt_id, payload, created_at, next_try_at) \
         VALUES (?1, ?2, ?3, ?3)",
        params![attempt.id.to_string(), payload, now.unix_ms()],
    )
    .map_err(db(path, "writing the result to the outbox"))?;
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

fn not_found(id: &AttemptId) -> JournalError {
    JournalError::NotFound {
        what: format!("attempt {id}"),
    }
}

fn outbox_not_found(id: i64) -> JournalError {
    JournalError::NotFound {
        what: format!("outbox message {id}"),
    }
}

/// `'a', 'b', …` for the states that satisfy `keep` (names are fixed identifiers, not input).
fn sql_state_list(keep: impl Fn(AttemptState) -> bool) -> String {
    AttemptState::ALL
        .into_iter()
        .filter(|s| keep(*s))
        .map(|s| format!("'{}'", s.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

fn decode_hash(hex_text: &str) -> Option<[u8; 32]> {
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

#[cfg(test)]
mod tests {
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

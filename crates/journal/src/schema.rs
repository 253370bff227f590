//! The journal's SQL schema, its versioned migrations, and the checks and settings applied at
//! `open` before anything is written.
//!
//! Deliberately absent: down-migrations. A journal is evidence; it only ever moves forward, and a
//! file from a newer build is refused without being touched.

use std::path::Path;

use rusqlite::Connection;

use crate::error::{corrupt, db, JournalError};

/// `PRAGMA application_id` of every Paydesk journal ("PYDJ"), so a stray SQLite file is
/// recognised as not ours before any migration touches it.
pub(crate) const APPLICATION_ID: i64 = 0x5059_444A;

/// The migrations, in order; `PRAGMA user_version` is the number applied so far. Never edit a
/// released entry: add a new one.
const MIGRATIONS: &[&str] = &[MIGRATION_1, MIGRATION_2, MIGRATION_3, MIGRATION_4];

/// The version whose migration also seals every existing attempt with a chained event carrying
/// the digests of its row and outbox payload (`integrity::seal_existing`, in the same
/// transaction): from then on every attempt's last event carries them.
const SEALED_FROM_VERSION: i64 = 3;

/// The schema version this build writes and understands.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// The triggers that keep history append-only; `verify` reports any that went missing.
pub(crate) const GUARD_TRIGGERS: [&str; 4] = [
    "events_no_update",
    "events_no_delete",
    "attempts_no_delete",
    "outbox_no_delete",
];

/// How long a statement waits for a lock held by a foreign reader (a backup, a sqlite3 shell)
/// before failing: long enough to ride out a checkpoint, short enough that the UI never hangs.
const BUSY_TIMEOUT_MS: u64 = 2_000;

/// How often, and how far apart, a reader reads an older schema version again before calling the
/// file older: 20 × 50 ms rides out a writer's migrations (each commits in milliseconds) and keeps
/// a truly old file's refusal to about a second.
const MIGRATION_WAIT_TRIES: u32 = 20;
const MIGRATION_WAIT_STEP_MS: u64 = 50;

/// `PRAGMA synchronous` reads back as a number; FULL is 2.
const SYNCHRONOUS_FULL: i64 = 2;

/// How many problems `PRAGMA quick_check` lists before stopping; the first one is enough to
/// refuse the file, a few more help support.
const QUICK_CHECK_ERRORS_MAX: u32 = 10;

/// Version 1: attempts (current state), events (append-only, hash-chained history) and the
/// outbox. STRICT tables so a wrongly typed value is an error instead of a silent conversion.
const MIGRATION_1: &str = r#"
CREATE TABLE attempts (
    id              TEXT    PRIMARY KEY NOT NULL,
    order_id        TEXT    NOT NULL,
    number          INTEGER NOT NULL CHECK (number >= 1),
    claim_token     INTEGER NOT NULL CHECK (claim_token >= 1),
    amount_minor    INTEGER NOT NULL CHECK (amount_minor >= 0),
    currency        TEXT    NOT NULL CHECK (length(currency) = 3),
    operator_id     TEXT    NOT NULL,
    terminal_id     TEXT    NOT NULL,
    offline         INTEGER NOT NULL CHECK (offline IN (0, 1)),
    state           TEXT    NOT NULL CHECK (state IN ('intent', 'created', 'registered',
                        'confirm_sent', 'unknown', 'needs_review', 'succeeded', 'declined',
                        'requires_action', 'canceled')),
    create_key      TEXT    NOT NULL,
    intent_id       TEXT,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL CHECK (updated_at >= created_at),
    confirm_sent_at INTEGER,
    unknown_checks  INTEGER NOT NULL CHECK (unknown_checks >= 0),
    reason          TEXT,
    -- The saved payment method (a gateway reference, never card data) and its customer: a
    -- create re-sent after a crash must carry exactly the parameters of the first one.
    customer_id     TEXT,
    payment_method  TEXT    NOT NULL CHECK (length(payment_method) >= 1)
) STRICT;
-- The create key is derived from (order, attempt number): two attempts sharing them would share
-- a gateway intent, which the protocol never allows.
CREATE UNIQUE INDEX attempts_order_number ON attempts (order_id, number);
CREATE INDEX attempts_created ON attempts (created_at);
CREATE INDEX attempts_state ON attempts (state, created_at);
CREATE INDEX attempts_operator ON attempts (operator_id, created_at);

CREATE TABLE events (
    seq        INTEGER PRIMARY KEY NOT NULL CHECK (seq >= 1),
    attempt_id TEXT    NOT NULL REFERENCES attempts (id),
    at         INTEGER NOT NULL,
    kind       TEXT    NOT NULL,
    from_state TEXT    NOT NULL,
    to_state   TEXT    NOT NULL,
    detail     TEXT    NOT NULL CHECK (json_valid(detail)),
    prev_hash  TEXT    NOT NULL CHECK (length(prev_hash) = 64),
    hash       TEXT    NOT NULL CHECK (length(hash) = 64)
) STRICT;
CREATE INDEX events_attempt ON events (attempt_id, seq);

-- History is append-only, also for anyone who opens the file with another SQLite client: the
-- hash chain detects a change after the fact, these triggers refuse it in the first place.
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN
    SELECT RAISE(ABORT, 'journal events are append-only: an event cannot be changed');
END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN
    SELECT RAISE(ABORT, 'journal events are append-only: an event cannot be deleted');
END;
CREATE TRIGGER attempts_no_delete BEFORE DELETE ON attempts
BEGIN
    SELECT RAISE(ABORT, 'journal attempts are never deleted');
END;

CREATE TABLE outbox (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    -- One result per attempt: the central deduplicates on the attempt id anyway, and a second
    -- result for the same attempt would be a bug worth failing the transaction for.
    attempt_id    TEXT    NOT NULL UNIQUE REFERENCES attempts (id),
    payload       TEXT    NOT NULL CHECK (json_valid(payload)),
    created_at    INTEGER NOT NULL,
    delivered_at  INTEGER,
    failures      INTEGER NOT NULL DEFAULT 0 CHECK (failures >= 0),
    next_try_at   INTEGER NOT NULL,
    parked_reason TEXT
) STRICT;
CREATE INDEX outbox_due ON outbox (next_try_at) WHERE delivered_at IS NULL AND parked_reason IS NULL;
CREATE TRIGGER outbox_no_delete BEFORE DELETE ON outbox
BEGIN
    SELECT RAISE(ABORT, 'outbox messages are marked delivered, never deleted');
END;
"#;

/// Version 2: the numbers of the create and confirm keys in use (issue 9). A key the gateway
/// answered with a stored error is spent; the attempt moves to a fresh numbered key only on
/// gateway evidence, and the number is durable before the request that carries it. 0 is the
/// original key, so rows written before this version keep their meaning.
const MIGRATION_2: &str = r#"
ALTER TABLE attempts ADD COLUMN create_retry INTEGER NOT NULL DEFAULT 0 CHECK (create_retry >= 0);
ALTER TABLE attempts ADD COLUMN confirm_retry INTEGER NOT NULL DEFAULT 0 CHECK (confirm_retry >= 0);
"#;

/// Version 3 (issue 9): integrity of what recovery and the relay act on — event details carry
/// digests of the attempt row and the outbox payload (no column: the detail is already in the
/// chain; existing attempts are sealed by the migration, see [`SEALED_FROM_VERSION`]); and a
/// manager's archive of a parked result, kept for good (who, when, why; also a chained event).
const MIGRATION_3: &str = r#"
ALTER TABLE outbox ADD COLUMN archived_at INTEGER;
ALTER TABLE outbox ADD COLUMN archived_by TEXT;
ALTER TABLE outbox ADD COLUMN archive_reason TEXT;
"#;

/// Version 4 (issue 12, installments): which payment of its order an attempt is. Every attempt
/// written before was its order's only payment, so 1 is their true value; the attempt digest
/// leaves a first installment out, so their chained digests still match.
const MIGRATION_4: &str = r#"
ALTER TABLE attempts ADD COLUMN installment INTEGER NOT NULL DEFAULT 1 CHECK (installment >= 1);
"#;

/// Checks an opened file and brings it to [`SCHEMA_VERSION`]. Nothing is written before the
/// file is known to be ours, intact and not newer than this build.
pub(crate) fn prepare(conn: &mut Connection, path: &Path) -> Result<(), JournalError> {
    conn.busy_timeout(std::time::Duration::from_millis(BUSY_TIMEOUT_MS))
        .map_err(db(path, "setting the busy timeout"))?;
    let version = identify(conn, path)?;

    quick_check(conn, path)?;

    // WAL: readers never block the writer and a commit is one append + fsync of the WAL.
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
        .map_err(db(path, "switching to WAL mode"))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(JournalError::CannotOpen {
            path: path.to_path_buf(),
            detail: format!("the file system does not support WAL mode (got {mode:?})"),
        });
    }
    // FULL: in WAL mode the WAL is fsynced at every commit, so a commit survives power loss
    // (NORMAL would only survive a crash of the process).
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(db(path, "setting synchronous=FULL"))?;
    conn.pragma_update(None, "foreign_keys", true)
        .map_err(db(path, "enabling foreign keys"))?;
    // Cheap extra checks on every page read, so damage is noticed early.
    conn.pragma_update(None, "cell_size_check", true)
        .map_err(db(path, "enabling cell size checks"))?;
    let (sync, fk): (i64, i64) = (
        conn.pragma_query_value(None, "synchronous", |r| r.get(0))
            .map_err(db(path, "reading synchronous"))?,
        conn.pragma_query_value(None, "foreign_keys", |r| r.get(0))
            .map_err(db(path, "reading foreign_keys"))?,
    );
    if (sync, fk) != (SYNCHRONOUS_FULL, 1) {
        return Err(JournalError::CannotOpen {
            path: path.to_path_buf(),
            detail: format!(
                "SQLite did not accept synchronous=FULL and foreign_keys=ON (got {sync} and {fk})"
            ),
        });
    }

    migrate(conn, path, version)
}

/// Checks a file opened read-only for reading: ours, intact, and at exactly this build's schema
/// (the queries name this version's columns). Writes nothing, migrates nothing, and sets only
/// this connection's own settings (`query_only` as a second guard behind the read-only open).
///
/// A writer may be creating or migrating the file at this very moment: the header is read in one
/// snapshot (a version and a schema from the same commit), and a version below this build's is
/// read again for a short while — migrations commit one version at a time, within milliseconds —
/// before the file is called older.
pub(crate) fn prepare_read(conn: &Connection, path: &Path) -> Result<(), JournalError> {
    conn.busy_timeout(std::time::Duration::from_millis(BUSY_TIMEOUT_MS))
        .map_err(db(path, "setting the busy timeout"))?;
    conn.pragma_update(None, "query_only", true)
        .map_err(db(path, "making the connection read-only"))?;
    conn.pragma_update(None, "cell_size_check", true)
        .map_err(db(path, "enabling cell size checks"))?;
    let mut tries = 0;
    loop {
        let version = {
            let snapshot = conn
                .unchecked_transaction()
                .map_err(db(path, "reading the schema version"))?;
            identify(&snapshot, path)?
        };
        match version {
            // A file the writer created but has not initialised yet (or an empty file).
            0 => {
                return Err(JournalError::Missing {
                    path: path.to_path_buf(),
                })
            }
            version if version < SCHEMA_VERSION && tries < MIGRATION_WAIT_TRIES => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(MIGRATION_WAIT_STEP_MS));
            }
            version if version < SCHEMA_VERSION => {
                return Err(JournalError::OlderSchema {
                    path: path.to_path_buf(),
                    found: version,
                    supported: SCHEMA_VERSION,
                })
            }
            _ => return quick_check(conn, path),
        }
    }
}

/// Reads the header and tells a journal (its schema version, 0 for a new empty file) from a
/// damaged, foreign or newer file, without writing anything.
fn identify(conn: &Connection, path: &Path) -> Result<i64, JournalError> {
    // The first read of the header: garbage fails here with "file is not a database".
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(db(path, "reading the schema version"))?;
    let app_id: i64 = conn
        .pragma_query_value(None, "application_id", |r| r.get(0))
        .map_err(db(path, "reading the application id"))?;
    let objects: i64 = conn
        .query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))
        .map_err(db(path, "reading the schema"))?;

    if version == 0 && (objects > 0 || app_id != 0) {
        return Err(JournalError::NotAJournal {
            path: path.to_path_buf(),
            detail: format!("a SQLite database with {objects} objects but no journal schema"),
        });
    }
    if version != 0 && app_id != APPLICATION_ID {
        return Err(JournalError::NotAJournal {
            path: path.to_path_buf(),
            detail: format!("application id {app_id:#x}, schema version {version}"),
        });
    }
    if version > SCHEMA_VERSION {
        return Err(JournalError::NewerSchema {
            path: path.to_path_buf(),
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    if version < 0 {
        return Err(corrupt(path, format!("negative schema version {version}")));
    }
    Ok(version)
}

/// Refuses a file whose pages or b-trees are damaged.
fn quick_check(conn: &Connection, path: &Path) -> Result<(), JournalError> {
    let mut stmt = conn
        .prepare(&format!("PRAGMA quick_check({QUICK_CHECK_ERRORS_MAX})"))
        .map_err(db(path, "running quick_check"))?;
    let problems: Vec<String> = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .and_then(|rows| rows.collect())
        .map_err(db(path, "running quick_check"))?;
    if problems.len() == 1 && problems[0] == "ok" {
        Ok(())
    } else {
        Err(corrupt(
            path,
            format!("quick_check found: {}", problems.join("; ")),
        ))
    }
}

/// Applies the missing migrations, each in its own transaction together with its version bump.
fn migrate(conn: &mut Connection, path: &Path, from: i64) -> Result<(), JournalError> {
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(from as usize) {
        let version = index as i64 + 1;
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(db(path, "starting a migration"))?;
        tx.execute_batch(sql)
            .map_err(db(path, "migrating the schema"))?;
        if version == SEALED_FROM_VERSION {
            crate::integrity::seal_existing(&tx, path)?;
        }
        tx.pragma_update(None, "application_id", APPLICATION_ID)
            .map_err(db(path, "migrating the schema"))?;
        tx.pragma_update(None, "user_version", version)
            .map_err(db(path, "migrating the schema"))?;
        tx.commit().map_err(db(path, "committing a migration"))?;
    }
    Ok(())
}

//! Locks shared by every central process on one PostgreSQL database, for the few things that
//! must happen one at a time across all of them: the sweeper's pass, and one person's refund
//! from its limit check until it is recorded.
//!
//! They are PostgreSQL advisory locks held by a connection of the pool for as long as the
//! [`SharedLock`] lives. A central that dies holding one loses its connection, and PostgreSQL
//! ends the lock with it, so a killed central never leaves a pass or a person locked. On SQLite
//! (the embedded default, one central by construction) there is nothing to share and the locks
//! are no-ops; callers keep their in-process guards there. Deliberately absent: any table — the
//! lock lives only as long as the session that holds it, which is exactly what is wanted.

use sqlx::pool::PoolConnection;
use sqlx::{Any, Row};

use super::{Backend, Store};
use crate::error::CentralResult;

/// The first key of every advisory lock Paydesk takes ("PDK1"), so they never meet another
/// application's on a shared server. The second key says what is locked.
const LOCK_SPACE: i32 = 0x5044_4b31;
/// The sweeper's pass: one central sweeps at a time.
const SWEEP_PASS: i32 = 1;
/// The space of per-person refund locks: the second key is `hashtext(operator)` (two people whose
/// ids share a hash merely wait for each other).
const REFUND_SPACE: i32 = 0x5044_4b32;

/// A held advisory lock; dropping it releases it (on a task, the connection then returning to
/// the pool). Outside a runtime, or if the release fails, the connection is closed instead, which
/// ends the lock just the same.
#[derive(Debug)]
pub struct SharedLock {
    held: Option<Held>,
    /// This process's turn (the sweeper: two passes of one central wait for each other rather
    /// than one skipping), released after the shared lock.
    _turn: Option<tokio::sync::OwnedMutexGuard<()>>,
}

#[derive(Debug)]
struct Held {
    conn: PoolConnection<Any>,
    /// The statement that releases this lock (constants only: nothing from a request).
    unlock: String,
    operator: Option<String>,
}

impl SharedLock {
    /// A lock with nothing behind it (SQLite: a single central).
    fn local() -> SharedLock {
        SharedLock {
            held: None,
            _turn: None,
        }
    }

    /// True when the lock is a PostgreSQL lock shared by every central.
    pub fn is_shared(&self) -> bool {
        self.held.is_some()
    }
}

impl SharedLock {
    /// Releases the lock now, so a next pass in this process finds it free (a drop releases it
    /// a moment later, on a task).
    pub async fn release(mut self) {
        if let Some(held) = self.held.take() {
            held.release().await;
        }
        self._turn.take();
    }
}

impl Held {
    async fn release(self) {
        let Held {
            mut conn,
            unlock,
            operator,
        } = self;
        let mut query = sqlx::query(&unlock);
        if let Some(operator) = &operator {
            query = query.bind(operator.as_str());
        }
        let released = query
            .fetch_one(&mut *conn)
            .await
            .and_then(|row| row.try_get::<i64, _>("released"));
        if !matches!(released, Ok(1)) {
            tracing::warn!(
                ?released,
                "an advisory lock was not released; closing its connection"
            );
            drop(conn.detach());
        }
    }
}

impl Drop for SharedLock {
    fn drop(&mut self) {
        let Some(held) = self.held.take() else {
            return;
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(held.release());
            }
            Err(_) => drop(held.conn.detach()),
        }
    }
}

impl Store {
    /// The sweeper's lock for one pass, if no other central holds it now (`None`: another central
    /// is sweeping; this pass is skipped). Always granted on SQLite.
    pub async fn try_sweep_lock(&self) -> CentralResult<Option<SharedLock>> {
        // A pass of this very central waits for the one in progress; another central's is met
        // at the database.
        let turn = std::sync::Arc::clone(&self.sweep_turn).lock_owned().await;
        if self.backend == Backend::Sqlite {
            return Ok(Some(SharedLock {
                held: None,
                _turn: Some(turn),
            }));
        }
        let mut conn = self.pool.acquire().await?;
        let got: i64 = sqlx::query(&format!(
            "SELECT CASE WHEN pg_try_advisory_lock({LOCK_SPACE}, {SWEEP_PASS}) \
             THEN 1::bigint ELSE 0::bigint END AS got"
        ))
        .fetch_one(&mut *conn)
        .await?
        .try_get("got")?;
        if got != 1 {
            return Ok(None);
        }
        Ok(Some(SharedLock {
            held: Some(Held {
                conn,
                unlock: format!(
                    "SELECT CASE WHEN pg_advisory_unlock({LOCK_SPACE}, {SWEEP_PASS}) \
                     THEN 1::bigint ELSE 0::bigint END AS released"
                ),
                operator: None,
            }),
            _turn: Some(turn),
        }))
    }

    /// Waits until no other central is between a refund's limit check and its record for
    /// `operator`, and holds that place (a no-op on SQLite, where the caller's in-process lock
    /// is the whole story).
    pub async fn person_refund_lock(&self, operator: &str) -> CentralResult<SharedLock> {
        if self.backend == Backend::Sqlite {
            return Ok(SharedLock::local());
        }
        let mut conn = self.pool.acquire().await?;
        // pg_advisory_lock returns void, which the Any driver cannot read: count it instead.
        sqlx::query(&format!(
            "SELECT count(*) AS n FROM \
             (SELECT pg_advisory_lock({REFUND_SPACE}, hashtext($1))) AS l"
        ))
        .bind(operator)
        .fetch_one(&mut *conn)
        .await?;
        Ok(SharedLock {
            held: Some(Held {
                conn,
                unlock: format!(
                    "SELECT CASE WHEN pg_advisory_unlock({REFUND_SPACE}, hashtext($1)) \
                     THEN 1::bigint ELSE 0::bigint END AS released"
                ),
                operator: Some(operator.to_string()),
            }),
            _turn: None,
        })
    }
}

//! Storage: the one interface over PostgreSQL (production) and SQLite (the embedded default).
//! This file opens the pool, runs the migrations and parses order rows. The rooms are submodules,
//! each an `impl Store` block of its own: `people` (terminals, operators), `orders`, `claims` (the
//! processing flag and its audit), `inbox` (results) with its pure rules in `inbox_rules`,
//! `webhooks`, `sweep` and `reconcile`.
//!
//! Both backends run the same SQL through sqlx's `Any` driver with runtime binds (`$1`, which
//! SQLite also understands), every integer a 64-bit column and every time milliseconds since the
//! epoch, so there is one implementation to test twice. The few differences are explicit and
//! local: `FOR UPDATE` and single-statement CTEs on PostgreSQL, `MAX` for `GREATEST` and one
//! connection on SQLite. Every state change is a conditional
//! `UPDATE … WHERE …` or an `INSERT … ON CONFLICT DO NOTHING` whose rows-affected count decides
//! the answer. Deliberately absent: HTTP, authentication decisions and reading the clock (the
//! caller passes `now`).

use std::str::FromStr;
use std::time::Duration;

use paydesk_core::{
    AttemptNumber, ClaimToken, Currency, GatewayIntentId, Money, OperatorId, OrderId, TerminalId,
    Timestamp,
};
use paydesk_protocol::{ClaimHolder, GatewayName, Order, OrderStatus};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row};

use crate::error::{CentralError, CentralResult};

mod audit;
mod claims;
mod customer_actions;
mod evidence;
mod grants;
mod guard;
mod inbox;
mod inbox_rules;
mod inbox_trust;
mod installments;
mod journal_heads;
mod locks;
mod orders;
mod paypal_events;
mod people;
mod reconcile;
mod resolutions;
mod reversals;
mod saved_methods;
mod sessions;
mod settings;
mod sweep;
mod webhooks;

pub use audit::{AuditCursor, AuditEntry, AuditFilter, DayResult, DaySignOff, AUDIT_PAGE_ROWS_MAX};
pub use claims::AuditRow;
pub use customer_actions::{CustomerWait, LinkState, NewCustomerAction, PaymentLinkRow};
pub use evidence::{RefundRow, ResolutionRow};
pub use grants::Withdrawal;
pub use guard::{network_of_payment_method, CardHistory, GuardEvent, GuardOrder};
pub use inbox::{FlagFilter, FLAG_PAGE_ROWS_DEFAULT, FLAG_PAGE_ROWS_MAX, ORDER_RESULTS_MAX};
pub use installments::OtherAmount;
pub use locks::SharedLock;
pub use people::TerminalToken;
pub use reconcile::RecordedSuccess;
pub use resolutions::{ExceptionItem, NewResolution, EXCEPTION_ROWS_PER_KIND_MAX};
pub use reversals::{ApprovalRow, Recorded, ReversalRow, ORDER_REVERSALS_MAX};
pub use sessions::{AuthEvent, LockState, NewSession, SessionRow};
pub use settings::{LimitRow, SettingChange, SETTING_APPROVAL_THRESHOLD};
pub use sweep::{ExpiredClaim, SweepResolution};

/// Connections to PostgreSQL. Enough for the 50-client benchmark to keep the server busy without
/// exceeding PostgreSQL's default `max_connections` of 100 when tests run in parallel.
const PG_CONNECTIONS_MAX: u32 = 16;
/// SQLite allows one writer; a single connection serialises writers in the pool's queue instead
/// of failing them with `SQLITE_BUSY` when a read transaction upgrades to a write.
const SQLITE_CONNECTIONS_MAX: u32 = 1;
/// How long a request waits for a pooled connection before it is answered 503.
const POOL_ACQUIRE_TIMEOUT_MS: u64 = 10_000;
/// Times a PostgreSQL transaction is retried after a deadlock or serialization failure.
const TX_RETRIES_MAX: u32 = 5;

/// The versioned migrations of each backend, embedded in the binary: (version, description,
/// PostgreSQL SQL, SQLite SQL). A new version appends a row and two files; applied versions are
/// never edited (sqlx refuses a changed checksum).
const MIGRATIONS: &[(i64, &str, &str, &str)] = &[
    (
        1,
        "initial",
        include_str!("../../migrations/postgres/0001_initial.sql"),
        include_str!("../../migrations/sqlite/0001_initial.sql"),
    ),
    (
        2,
        "holding end",
        include_str!("../../migrations/postgres/0002_holding_end.sql"),
        include_str!("../../migrations/sqlite/0002_holding_end.sql"),
    ),
    (
        3,
        "reports and refunds",
        include_str!("../../migrations/postgres/0003_reports_and_refunds.sql"),
        include_str!("../../migrations/sqlite/0003_reports_and_refunds.sql"),
    ),
    (
        4,
        "sessions",
        include_str!("../../migrations/postgres/0004_sessions.sql"),
        include_str!("../../migrations/sqlite/0004_sessions.sql"),
    ),
    (
        5,
        "verified results",
        include_str!("../../migrations/postgres/0005_verified_results.sql"),
        include_str!("../../migrations/sqlite/0005_verified_results.sql"),
    ),
    (
        6,
        "reversals",
        include_str!("../../migrations/postgres/0006_reversals.sql"),
        include_str!("../../migrations/sqlite/0006_reversals.sql"),
    ),
    (
        7,
        "resolutions",
        include_str!("../../migrations/postgres/0007_resolutions.sql"),
        include_str!("../../migrations/sqlite/0007_resolutions.sql"),
    ),
    (
        8,
        "audit and day close",
        include_str!("../../migrations/postgres/0008_audit_day_close.sql"),
        include_str!("../../migrations/sqlite/0008_audit_day_close.sql"),
    ),
    (
        9,
        "acknowledgements",
        include_str!("../../migrations/postgres/0009_acknowledgements.sql"),
        include_str!("../../migrations/sqlite/0009_acknowledgements.sql"),
    ),
    (
        10,
        "settings",
        include_str!("../../migrations/postgres/0010_settings.sql"),
        include_str!("../../migrations/sqlite/0010_settings.sql"),
    ),
    (
        11,
        "paypal events",
        include_str!("../../migrations/postgres/0011_paypal_events.sql"),
        include_str!("../../migrations/sqlite/0011_paypal_events.sql"),
    ),
    (
        12,
        "order gateway",
        include_str!("../../migrations/postgres/0012_order_gateway.sql"),
        include_str!("../../migrations/sqlite/0012_order_gateway.sql"),
    ),
    (
        13,
        "claim guard",
        include_str!("../../migrations/postgres/0013_claim_guard.sql"),
        include_str!("../../migrations/sqlite/0013_claim_guard.sql"),
    ),
    (
        14,
        "installments",
        include_str!("../../migrations/postgres/0014_installments.sql"),
        include_str!("../../migrations/sqlite/0014_installments.sql"),
    ),
    (
        15,
        "saved methods",
        include_str!("../../migrations/postgres/0015_saved_methods.sql"),
        include_str!("../../migrations/sqlite/0015_saved_methods.sql"),
    ),
    (
        16,
        "customer actions",
        include_str!("../../migrations/postgres/0016_customer_actions.sql"),
        include_str!("../../migrations/sqlite/0016_customer_actions.sql"),
    ),
    (
        17,
        "resolution attempt",
        include_str!("../../migrations/postgres/0017_resolution_attempt.sql"),
        include_str!("../../migrations/sqlite/0017_resolution_attempt.sql"),
    ),
];

fn migrator(backend: Backend) -> sqlx::migrate::Migrator {
    use sqlx::migrate::{Migration, MigrationType, Migrator};
    let migrations: Vec<Migration> = MIGRATIONS
        .iter()
        .map(|(version, description, pg, lite)| {
            let sql = match backend {
                Backend::Postgres => *pg,
                Backend::Sqlite => *lite,
            };
            Migration::new(
                *version,
                (*description).into(),
                MigrationType::Simple,
                sql.into(),
                false,
            )
        })
        .collect();
    Migrator {
        migrations: migrations.into(),
        ..Migrator::DEFAULT
    }
}

/// Which database is behind the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Postgres => "postgres",
            Backend::Sqlite => "sqlite",
        }
    }
}

/// The store: a connection pool and the backend it talks to. Cheap to clone (the pool is shared).
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// This process's sweeper passes over this store wait for each other (`locks.rs`); the
    /// database's advisory lock is what other centrals meet.
    sweep_turn: std::sync::Arc<tokio::sync::Mutex<()>>,
}

/// Turns the `--db` argument into a connection URL: a `postgres://` URL as is, anything else a
/// SQLite file path created on first start.
pub fn database_url(db: &str) -> (String, Backend) {
    if db.starts_with("postgres://") || db.starts_with("postgresql://") {
        (db.to_string(), Backend::Postgres)
    } else if db.starts_with("sqlite:") {
        (db.to_string(), Backend::Sqlite)
    } else {
        (format!("sqlite://{db}?mode=rwc"), Backend::Sqlite)
    }
}

fn corrupt(what: impl std::fmt::Display) -> CentralError {
    CentralError::Corrupt(what.to_string())
}

fn to_u64(v: i64, what: &str) -> CentralResult<u64> {
    u64::try_from(v).map_err(|_| corrupt(format!("{what} {v} is negative")))
}

const ORDER_COLUMNS: &str = "order_id, amount_minor, currency, customer_id, payment_method_id, \
    description, status, created_at, updated_at, claim_token, attempt_seq, holder_operator, \
    holder_terminal, claimed_at, lease_until, open_intent_id, paid_intent_id, refunded_minor, disputed, \
    gateway, paid_minor, customer_name";

/// An order row with its flag columns, parsed.
#[derive(Debug, Clone)]
struct OrderRow {
    order: Order,
    claim_token: i64,
    attempt_seq: i64,
    holder_terminal: Option<String>,
    lease_until: Option<i64>,
    open_intent_id: Option<String>,
}

fn order_from_row(row: &AnyRow) -> CentralResult<OrderRow> {
    let order_id: String = row.try_get("order_id")?;
    let currency: String = row.try_get("currency")?;
    let currency = Currency::from_code(&currency).map_err(corrupt)?;
    let amount = Money::new(row.try_get("amount_minor")?, currency).map_err(corrupt)?;
    let status: String = row.try_get("status")?;
    let holder_operator: Option<String> = row.try_get("holder_operator")?;
    let holder_terminal: Option<String> = row.try_get("holder_terminal")?;
    let claimed_at: Option<i64> = row.try_get("claimed_at")?;
    let lease_until: Option<i64> = row.try_get("lease_until")?;
    let claim = match (&holder_operator, &holder_terminal, claimed_at, lease_until) {
        (Some(op), Some(term), Some(since), Some(lease)) => Some(ClaimHolder {
            operator_id: OperatorId::new(op.clone()).map_err(corrupt)?,
            terminal_id: TerminalId::new(term.clone()).map_err(corrupt)?,
            since: Timestamp::from_unix_ms(since),
            lease_until: Timestamp::from_unix_ms(lease),
        }),
        _ => None,
    };
    let paid_intent_id: Option<String> = row.try_get("paid_intent_id")?;
    let gateway: String = row.try_get("gateway")?;
    let order = Order {
        order_id: OrderId::new(order_id).map_err(corrupt)?,
        amount,
        customer_id: row.try_get("customer_id")?,
        payment_method_id: row.try_get("payment_method_id")?,
        description: row.try_get("description")?,
        status: OrderStatus::parse(&status).ok_or_else(|| corrupt(format!("status {status}")))?,
        claim,
        paid_intent_id: paid_intent_id
            .map(GatewayIntentId::new)
            .transpose()
            .map_err(corrupt)?,
        refunded_minor: row.try_get("refunded_minor")?,
        disputed: row.try_get::<i64, _>("disputed")? != 0,
        created_at: Timestamp::from_unix_ms(row.try_get("created_at")?),
        updated_at: Timestamp::from_unix_ms(row.try_get("updated_at")?),
        attempt_seq: u32::try_from(row.try_get::<i64, _>("attempt_seq")?).map_err(corrupt)?,
        gateway: GatewayName::parse(&gateway)
            .ok_or_else(|| corrupt(format!("gateway {gateway}")))?,
        paid_minor: row.try_get("paid_minor")?,
        customer_name: row.try_get("customer_name")?,
        // Attached by the listings that show it (`saved_methods.rs`).
        saved_method: None,
    };
    Ok(OrderRow {
        order,
        claim_token: row.try_get("claim_token")?,
        attempt_seq: row.try_get("attempt_seq")?,
        holder_terminal,
        lease_until,
        open_intent_id: row.try_get("open_intent_id")?,
    })
}

impl Store {
    /// Connects and brings the schema up to date (creating a SQLite file if needed).
    pub async fn open(db: &str) -> CentralResult<Store> {
        sqlx::any::install_default_drivers();
        let (url, backend) = database_url(db);
        let options = AnyConnectOptions::from_str(&url)?;
        let max = match backend {
            Backend::Postgres => PG_CONNECTIONS_MAX,
            Backend::Sqlite => SQLITE_CONNECTIONS_MAX,
        };
        let pool = AnyPoolOptions::new()
            .max_connections(max)
            .acquire_timeout(Duration::from_millis(POOL_ACQUIRE_TIMEOUT_MS))
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // Per connection, so a reconnect keeps them: WAL lets readers in other
                        // processes (backups, the CLI) proceed during writes; FULL makes every
                        // commit durable, like the desktop journal; foreign keys are off by
                        // default in SQLite.
                        use sqlx::Executor;
                        conn.execute("PRAGMA journal_mode = WAL").await?;
                        conn.execute("PRAGMA synchronous = FULL").await?;
                        conn.execute("PRAGMA foreign_keys = ON").await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await?;
        let store = Store {
            pool,
            backend,
            sweep_turn: Default::default(),
        };
        store.migrate().await?;
        Ok(store)
    }

    /// Applies the migrations this binary carries that the database has not seen.
    pub async fn migrate(&self) -> CentralResult<()> {
        migrator(self.backend).run(&self.pool).await?;
        Ok(())
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Closes the pool, waiting for connections to be returned.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    pub async fn ping(&self) -> CentralResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Keeps the rows of a listing that decode and leaves out the ones that do not: each of those
    /// is logged and flagged for review (once per row), so one bad stored value can never take
    /// down a whole listing. Any other error (the database failing) still fails the read.
    pub(super) async fn readable<T>(
        &self,
        table: &str,
        decoded: Vec<(String, CentralResult<T>)>,
    ) -> CentralResult<Vec<T>> {
        let mut out = Vec::with_capacity(decoded.len());
        for (key, row) in decoded {
            match row {
                Ok(v) => out.push(v),
                Err(e) if is_unreadable(&e) => self.flag_unreadable(table, &key, &e).await,
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// Flags a stored row that does not decode. Best effort: a failure is only logged, since
    /// the read that found the row must still answer.
    async fn flag_unreadable(&self, table: &str, key: &str, error: &CentralError) {
        // The key came from the database, so it can be stored again; control characters are
        // replaced anyway so the reason stays printable.
        let key: String = key
            .chars()
            .take(80)
            .map(|c| if c.is_control() { '?' } else { c })
            .collect();
        let reason = format!("unreadable {table} row {key:?} skipped in listings: repair it");
        tracing::error!(table, key = %key, %error, "stored row does not decode; skipped");
        let result = async {
            let known = sqlx::query("SELECT 1 AS one FROM flags WHERE reason = $1")
                .bind(&reason)
                .fetch_optional(&self.pool)
                .await?;
            if known.is_none() {
                sqlx::query(
                    "INSERT INTO flags (order_id, source, reason, at) VALUES ($1, $2, $3, $4)",
                )
                .bind(None::<String>)
                .bind("storage")
                .bind(&reason)
                .bind(crate::clock::now().unix_ms())
                .execute(&self.pool)
                .await?;
            }
            Ok::<(), sqlx::Error>(())
        }
        .await;
        if let Err(e) = result {
            tracing::warn!(error = %e, "could not flag an unreadable row");
        }
    }

    /// `FOR UPDATE` on PostgreSQL, nothing on SQLite (whose single connection already excludes
    /// every other writer).
    fn for_update(&self) -> &'static str {
        match self.backend {
            Backend::Postgres => " FOR UPDATE",
            Backend::Sqlite => "",
        }
    }
}

/// A row's key column as text, for naming an unreadable row (`?` if even that does not read).
fn row_key(r: &AnyRow, column: &str) -> String {
    r.try_get::<String, _>(column)
        .unwrap_or_else(|_| "?".to_string())
}

/// A stored value that does not parse (as opposed to the database failing).
fn is_unreadable(e: &CentralError) -> bool {
    matches!(
        e,
        CentralError::Corrupt(_)
            | CentralError::Db(sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_))
    )
}

fn claim_token(v: i64) -> CentralResult<ClaimToken> {
    ClaimToken::new(to_u64(v, "claim token")?).map_err(corrupt)
}

fn attempt_number(v: i64) -> CentralResult<AttemptNumber> {
    let v = u32::try_from(v).map_err(|_| corrupt(format!("attempt number {v}")))?;
    AttemptNumber::new(v).map_err(corrupt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_arguments() {
        assert_eq!(database_url("postgres://u@h/db").1, Backend::Postgres);
        assert_eq!(database_url("sqlite://x.db").1, Backend::Sqlite);
        assert_eq!(
            database_url("/var/lib/central.db"),
            (
                "sqlite:///var/lib/central.db?mode=rwc".to_string(),
                Backend::Sqlite
            )
        );
    }
}

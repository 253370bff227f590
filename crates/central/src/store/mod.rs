//! Storage: the one interface over PostgreSQL (production) and SQLite (the embedded default).
//!
//! Both backends run the same SQL through sqlx's `Any` driver with runtime binds (`$1`, which
//! SQLite also understands), every integer a 64-bit column and every time milliseconds since the
//! epoch, so there is one implementation to test twice. The few differences are explicit and
//! local: `FOR UPDATE` and single-statement CTEs on PostgreSQL, `MAX` for `GREATEST` and one
//! connection on SQLite. Every state change is a conditional
//! `UPDATE … WHERE …` or an `INSERT … ON CONFLICT DO NOTHING` whose rows-affected count decides
//! the answer. Deliberately absent: HTTP, authentication decisions and reading the clock (the
//! caller passes `now`).

use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

use paydesk_core::{
    AttemptId, AttemptNumber, ClaimToken, Currency, GatewayIntentId, Money, OperatorId, OrderId,
    TerminalId, Timestamp,
};
use paydesk_protocol::{
    Claim, ClaimHolder, FlagRecord, ImportOrder, ImportOrdersResponse, IntentRecord, ItemReceipt,
    ItemStatus, JournalHead, JournalReceipt, OperatorRecord, Order, OrderDetail, OrderSnapshot,
    OrderStatus, PaymentRecord, ResultBatchResponse, ResultItem, ResultOutcome, Role,
    UnresolvedItem,
};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions, AnyRow};
use sqlx::{Any, AnyPool, Row, Transaction};

use crate::error::{CentralError, CentralResult};

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
        include_str!("../migrations/postgres/0001_initial.sql"),
        include_str!("../migrations/sqlite/0001_initial.sql"),
    ),
    (
        2,
        "holding end",
        include_str!("../migrations/postgres/0002_holding_end.sql"),
        include_str!("../migrations/sqlite/0002_holding_end.sql"),
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
}

/// A row of the claim audit, for checking that holdings never overlap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRow {
    pub order_id: String,
    pub claim_token: i64,
    pub event: String,
    pub at: i64,
    pub lease_until: Option<i64>,
}

/// An expired claim the sweeper must look at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpiredClaim {
    pub order_id: OrderId,
    pub claim_token: ClaimToken,
    pub open_intent_id: Option<GatewayIntentId>,
    pub amount: Money,
}

/// A succeeded payment as the central recorded it, for reconciliation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedSuccess {
    pub order_id: OrderId,
    pub intent_id: Option<GatewayIntentId>,
    pub amount: Money,
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
    holder_terminal, claimed_at, lease_until, open_intent_id, paid_intent_id, refunded_minor, disputed";

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

impl OrderRow {
    /// Mirrors in memory what `Store::apply_change` wrote, so a later result of the same batch
    /// for the same order is decided against the order as it now stands.
    fn mirror(&mut self, change: &OrderChange) {
        if let Some(status) = change.new_status {
            self.order.status = status;
        }
        if let Some(paid) = change
            .paid_intent_id
            .as_ref()
            .and_then(|p| GatewayIntentId::new(p.clone()).ok())
        {
            self.order.paid_intent_id = Some(paid);
        }
        if change.clear_open_intent {
            self.open_intent_id = None;
        }
        if change.release && self.holder_terminal.is_some() {
            self.holder_terminal = None;
            self.lease_until = None;
            self.order.claim = None;
        }
    }
}

/// What applying one result does to its order.
#[derive(Debug, Default)]
struct OrderChange {
    new_status: Option<OrderStatus>,
    paid_intent_id: Option<String>,
    /// Release the flag (only ever when the result carries the current token).
    release: bool,
    clear_open_intent: bool,
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
        let store = Store { pool, backend };
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

    /// `FOR UPDATE` on PostgreSQL, nothing on SQLite (whose single connection already excludes
    /// every other writer).
    fn for_update(&self) -> &'static str {
        match self.backend {
            Backend::Postgres => " FOR UPDATE",
            Backend::Sqlite => "",
        }
    }

    // ---------------------------------------------------------------- terminals and operators

    /// Registers a terminal with the SHA-256 of its token. Refuses an id that already exists.
    pub async fn add_terminal(
        &self,
        terminal: &TerminalId,
        token_sha256: &str,
        now: Timestamp,
    ) -> CentralResult<()> {
        let done = sqlx::query(
            "INSERT INTO terminals (terminal_id, token_sha256, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (terminal_id) DO NOTHING",
        )
        .bind(terminal.as_str())
        .bind(token_sha256)
        .bind(now.unix_ms())
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(CentralError::Conflict(format!(
                "terminal {terminal} already exists: choose another id"
            )));
        }
        Ok(())
    }

    pub async fn terminal_by_token_hash(&self, sha256: &str) -> CentralResult<Option<TerminalId>> {
        let row = sqlx::query("SELECT terminal_id FROM terminals WHERE token_sha256 = $1")
            .bind(sha256)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            let id: String = r.try_get("terminal_id")?;
            TerminalId::new(id).map_err(corrupt)
        })
        .transpose()
    }

    /// Adds an operator or replaces their role and PIN hash.
    pub async fn upsert_operator(
        &self,
        operator: &OperatorId,
        role: Role,
        pin_hash: &str,
        now: Timestamp,
    ) -> CentralResult<()> {
        sqlx::query(
            "INSERT INTO operators (operator_id, role, pin_hash, updated_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (operator_id) DO UPDATE SET role = excluded.role, \
             pin_hash = excluded.pin_hash, updated_at = excluded.updated_at",
        )
        .bind(operator.as_str())
        .bind(role.as_str())
        .bind(pin_hash)
        .bind(now.unix_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn operators(&self) -> CentralResult<Vec<OperatorRecord>> {
        let rows =
            sqlx::query("SELECT operator_id, role, pin_hash FROM operators ORDER BY operator_id")
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|r| {
                let role: String = r.try_get("role")?;
                Ok(OperatorRecord {
                    operator_id: OperatorId::new(r.try_get::<String, _>("operator_id")?)
                        .map_err(corrupt)?,
                    role: Role::parse(&role).ok_or_else(|| corrupt(format!("role {role}")))?,
                    pin_hash: r.try_get("pin_hash")?,
                })
            })
            .collect()
    }

    pub async fn operator_exists(&self, operator: &OperatorId) -> CentralResult<bool> {
        let row = sqlx::query("SELECT 1 AS one FROM operators WHERE operator_id = $1")
            .bind(operator.as_str())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }

    // ---------------------------------------------------------------- orders

    /// Imports orders in one transaction, idempotent on the external order id: an order that
    /// exists is never overwritten; if its content differs it is reported as conflicting.
    pub async fn import_orders(
        &self,
        orders: &[ImportOrder],
        now: Timestamp,
    ) -> CentralResult<ImportOrdersResponse> {
        let mut tx = self.pool.begin().await?;
        let mut response = ImportOrdersResponse {
            created: 0,
            unchanged: 0,
            conflicting: Vec::new(),
        };
        for o in orders {
            let done = sqlx::query(
                "INSERT INTO orders (order_id, amount_minor, currency, customer_id, \
                 payment_method_id, description, status, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, 'unpaid', $7, $7) \
                 ON CONFLICT (order_id) DO NOTHING",
            )
            .bind(o.order_id.as_str())
            .bind(o.amount.minor())
            .bind(o.amount.currency().code())
            .bind(&o.customer_id)
            .bind(&o.payment_method_id)
            .bind(&o.description)
            .bind(now.unix_ms())
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 1 {
                response.created += 1;
                continue;
            }
            let existing = self.order_row_in(&mut tx, &o.order_id, false).await?;
            let same = existing.as_ref().is_some_and(|e| {
                e.order.amount == o.amount
                    && e.order.customer_id == o.customer_id
                    && e.order.payment_method_id == o.payment_method_id
                    && e.order.description == o.description
            });
            if same {
                response.unchanged += 1;
            } else {
                response.conflicting.push(o.order_id.clone());
            }
        }
        tx.commit().await?;
        Ok(response)
    }

    async fn order_row_in(
        &self,
        tx: &mut Transaction<'static, Any>,
        order: &OrderId,
        lock: bool,
    ) -> CentralResult<Option<OrderRow>> {
        let sql = format!(
            "SELECT {ORDER_COLUMNS} FROM orders WHERE order_id = $1{}",
            if lock { self.for_update() } else { "" }
        );
        let row = sqlx::query(&sql)
            .bind(order.as_str())
            .fetch_optional(&mut **tx)
            .await?;
        row.as_ref().map(order_from_row).transpose()
    }

    async fn order_row(&self, order: &OrderId) -> CentralResult<Option<OrderRow>> {
        let sql = format!("SELECT {ORDER_COLUMNS} FROM orders WHERE order_id = $1");
        let row = sqlx::query(&sql)
            .bind(order.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(order_from_row).transpose()
    }

    /// A page of orders in one status, ordered by order id, optionally filtered by a search text
    /// matched (case-insensitively) against the order id, customer id and description.
    pub async fn list_orders(
        &self,
        status: OrderStatus,
        search: Option<&str>,
        after: Option<&OrderId>,
        limit: u32,
    ) -> CentralResult<Vec<Order>> {
        let pattern = search.filter(|s| !s.is_empty()).map(|s| {
            let escaped = s
                .to_lowercase()
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            format!("%{escaped}%")
        });
        let sql = format!(
            "SELECT {ORDER_COLUMNS} FROM orders WHERE status = $1 AND order_id > $2 \
             AND ($3 = '' OR LOWER(order_id) LIKE $3 ESCAPE '\\' \
                  OR LOWER(customer_id) LIKE $3 ESCAPE '\\' \
                  OR LOWER(description) LIKE $3 ESCAPE '\\') \
             ORDER BY order_id LIMIT $4"
        );
        let rows = sqlx::query(&sql)
            .bind(status.as_str())
            .bind(after.map(|a| a.as_str()).unwrap_or(""))
            .bind(pattern.unwrap_or_default())
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| order_from_row(r).map(|o| o.order))
            .collect()
    }

    pub async fn order(&self, order: &OrderId) -> CentralResult<Order> {
        self.order_row(order)
            .await?
            .map(|r| r.order)
            .ok_or_else(|| CentralError::OrderNotFound(order.clone()))
    }

    /// An order with every result and intent recorded for it.
    pub async fn order_detail(&self, order_id: &OrderId) -> CentralResult<OrderDetail> {
        let order = self.order(order_id).await?;
        let rows = sqlx::query(
            "SELECT attempt_id, attempt_number, claim_token, terminal_id, outcome, amount_minor, \
             currency, intent_id, offline, occurred_at, received_at, status, reason \
             FROM results WHERE order_id = $1 ORDER BY occurred_at, attempt_id",
        )
        .bind(order_id.as_str())
        .fetch_all(&self.pool)
        .await?;
        let results = rows
            .iter()
            .map(payment_record_from_row)
            .collect::<CentralResult<Vec<_>>>()?;
        let rows = sqlx::query(
            "SELECT intent_id, attempt_number, claim_token, terminal_id, registered_at, state \
             FROM intents WHERE order_id = $1 ORDER BY registered_at, intent_id",
        )
        .bind(order_id.as_str())
        .fetch_all(&self.pool)
        .await?;
        let intents = rows
            .iter()
            .map(|r| {
                Ok(IntentRecord {
                    intent_id: GatewayIntentId::new(r.try_get::<String, _>("intent_id")?)
                        .map_err(corrupt)?,
                    attempt_number: attempt_number(r.try_get("attempt_number")?)?,
                    claim_token: claim_token(r.try_get("claim_token")?)?,
                    terminal_id: TerminalId::new(r.try_get::<String, _>("terminal_id")?)
                        .map_err(corrupt)?,
                    registered_at: Timestamp::from_unix_ms(r.try_get("registered_at")?),
                    state: r.try_get("state")?,
                })
            })
            .collect::<CentralResult<Vec<_>>>()?;
        Ok(OrderDetail {
            order,
            results,
            intents,
        })
    }

    // ---------------------------------------------------------------- claims

    /// Claims an order: one conditional UPDATE that succeeds only if nobody holds a live lease
    /// and the order can still be charged. It grows the fencing token and the attempt number.
    ///
    /// `now` was read before the row lock was ours, so it may predate the end of the holding
    /// this claim follows; the holding therefore starts at the later of `now` and `ended_at`, and
    /// the audit never shows two holders at once. On PostgreSQL the UPDATE and its audit row are
    /// one statement (a data-modifying CTE): one round trip per claim.
    pub async fn claim(
        &self,
        order_id: &OrderId,
        operator: &OperatorId,
        terminal: &TerminalId,
        now: Timestamp,
        lease_ms: i64,
    ) -> CentralResult<Claim> {
        const UPDATE: &str = "UPDATE orders SET claim_token = claim_token + 1, \
             attempt_seq = attempt_seq + 1, holder_operator = $1, holder_terminal = $2, \
             claimed_at = {later}($3, ended_at), lease_until = {later}($3, ended_at) + $4, \
             updated_at = $3 \
             WHERE order_id = $5 AND status IN ('unpaid', 'failed', 'needs_action') \
             AND (holder_terminal IS NULL OR lease_until <= $3) \
             AND EXISTS (SELECT 1 FROM operators WHERE operator_id = $1) \
             RETURNING order_id, claim_token, attempt_seq, amount_minor, currency, status, \
             customer_id, payment_method_id, open_intent_id, claimed_at, lease_until";
        let bind = |sql: &'static str| {
            sqlx::query(sql)
                .bind(operator.as_str())
                .bind(terminal.as_str())
                .bind(now.unix_ms())
                .bind(lease_ms)
                .bind(order_id.as_str())
        };
        let row = match self.backend {
            Backend::Postgres => {
                static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
                let sql = SQL.get_or_init(|| {
                    format!(
                        "WITH c AS ({}), a AS (INSERT INTO claim_audit (order_id, claim_token, \
                         event, operator_id, terminal_id, at, lease_until) SELECT order_id, \
                         claim_token, 'claimed', $1, $2, claimed_at, lease_until FROM c) \
                         SELECT * FROM c",
                        UPDATE.replace("{later}", "GREATEST")
                    )
                });
                bind(sql).fetch_optional(&self.pool).await?
            }
            Backend::Sqlite => {
                static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
                let sql = SQL.get_or_init(|| UPDATE.replace("{later}", "MAX"));
                let mut tx = self.pool.begin().await?;
                let row = bind(sql).fetch_optional(&mut *tx).await?;
                if let Some(row) = &row {
                    let token: i64 = row.try_get("claim_token")?;
                    let claimed_at = Timestamp::from_unix_ms(row.try_get("claimed_at")?);
                    let lease_until = Timestamp::from_unix_ms(row.try_get("lease_until")?);
                    self.audit(
                        &mut tx,
                        order_id,
                        token,
                        "claimed",
                        operator,
                        terminal,
                        claimed_at,
                        Some(lease_until),
                    )
                    .await?;
                }
                tx.commit().await?;
                row
            }
        };
        let Some(row) = row else {
            return Err(self.why_not_claimable(order_id, operator, now).await);
        };
        let currency =
            Currency::from_code(&row.try_get::<String, _>("currency")?).map_err(corrupt)?;
        let status: String = row.try_get("status")?;
        let open_intent_id: Option<String> = row.try_get("open_intent_id")?;
        Ok(Claim {
            order_id: order_id.clone(),
            claim_token: claim_token(row.try_get("claim_token")?)?,
            attempt_number: attempt_number(row.try_get("attempt_seq")?)?,
            operator_id: operator.clone(),
            terminal_id: terminal.clone(),
            claimed_at: Timestamp::from_unix_ms(row.try_get("claimed_at")?),
            lease_until: Timestamp::from_unix_ms(row.try_get("lease_until")?),
            order: OrderSnapshot {
                amount: Money::new(row.try_get("amount_minor")?, currency).map_err(corrupt)?,
                status: OrderStatus::parse(&status)
                    .ok_or_else(|| corrupt(format!("status {status}")))?,
                customer_id: row.try_get("customer_id")?,
                payment_method_id: row.try_get("payment_method_id")?,
            },
            open_intent_id: open_intent_id
                .map(GatewayIntentId::new)
                .transpose()
                .map_err(corrupt)?,
        })
    }

    async fn why_not_claimable(
        &self,
        order_id: &OrderId,
        operator: &OperatorId,
        now: Timestamp,
    ) -> CentralError {
        match self.operator_exists(operator).await {
            Err(e) => return e,
            Ok(false) => {
                return CentralError::Invalid(format!(
                    "operator {operator} is unknown: ask an administrator to add them"
                ))
            }
            Ok(true) => {}
        }
        match self.order_row(order_id).await {
            Err(e) => e,
            Ok(None) => CentralError::OrderNotFound(order_id.clone()),
            Ok(Some(row)) => match row.order.claim {
                Some(holder) if row.lease_until.is_some_and(|l| l > now.unix_ms()) => {
                    CentralError::ClaimHeld {
                        order_id: order_id.clone(),
                        holder,
                    }
                }
                _ if !matches!(
                    row.order.status,
                    OrderStatus::Unpaid | OrderStatus::Failed | OrderStatus::NeedsAction
                ) =>
                {
                    CentralError::NotChargeable {
                        order_id: order_id.clone(),
                        status: row.order.status,
                    }
                }
                // The holder let go between our UPDATE and this read: the client may retry.
                _ => CentralError::Conflict(format!(
                    "order {order_id} changed hands while claiming: try the claim again"
                )),
            },
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn audit(
        &self,
        tx: &mut Transaction<'static, Any>,
        order_id: &OrderId,
        token: i64,
        event: &str,
        operator: &OperatorId,
        terminal: &TerminalId,
        at: Timestamp,
        lease_until: Option<Timestamp>,
    ) -> CentralResult<()> {
        sqlx::query(
            "INSERT INTO claim_audit (order_id, claim_token, event, operator_id, terminal_id, at, \
             lease_until) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(order_id.as_str())
        .bind(token)
        .bind(event)
        .bind(operator.as_str())
        .bind(terminal.as_str())
        .bind(at.unix_ms())
        .bind(lease_until.map(|l| l.unix_ms()))
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Writes an audit row for the end of a holding, reading the holder from the order row.
    async fn audit_end(
        &self,
        tx: &mut Transaction<'static, Any>,
        order_id: &str,
        token: i64,
        event: &str,
        at: Timestamp,
    ) -> CentralResult<()> {
        sqlx::query(
            "INSERT INTO claim_audit (order_id, claim_token, event, operator_id, terminal_id, at, \
             lease_until) VALUES ($1, $2, $3, '', '', $4, NULL)",
        )
        .bind(order_id)
        .bind(token)
        .bind(event)
        .bind(at.unix_ms())
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Records a decision refused for a stale token, in its own transaction so the record stays
    /// even though the request fails.
    async fn record_refusal(
        &self,
        order_id: &OrderId,
        operation: &str,
        presented: ClaimToken,
        current: i64,
        terminal: &TerminalId,
        now: Timestamp,
    ) -> CentralResult<()> {
        sqlx::query(
            "INSERT INTO fencing_refusals (order_id, operation, presented_token, current_token, \
             terminal_id, at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(order_id.as_str())
        .bind(operation)
        .bind(presented.get() as i64)
        .bind(current)
        .bind(terminal.as_str())
        .bind(now.unix_ms())
        .execute(&self.pool)
        .await?;
        tracing::warn!(order = %order_id, operation, presented = presented.get(), current, terminal = %terminal, "refused a stale claim token");
        Ok(())
    }

    /// Explains why a fenced operation matched no row, recording stale-token refusals.
    async fn why_fenced(
        &self,
        order_id: &OrderId,
        operation: &str,
        token: ClaimToken,
        terminal: &TerminalId,
        now: Timestamp,
    ) -> CentralError {
        let row = match self.order_row(order_id).await {
            Err(e) => return e,
            Ok(None) => return CentralError::OrderNotFound(order_id.clone()),
            Ok(Some(row)) => row,
        };
        if (token.get() as i64) < row.claim_token {
            if let Err(e) = self
                .record_refusal(order_id, operation, token, row.claim_token, terminal, now)
                .await
            {
                return e;
            }
            return CentralError::StaleToken {
                order_id: order_id.clone(),
                presented: token,
                current: row.claim_token as u64,
            };
        }
        if row.holder_terminal.as_deref() != Some(terminal.as_str())
            || token.get() as i64 != row.claim_token
        {
            return CentralError::NotHolder {
                order_id: order_id.clone(),
                token,
            };
        }
        if let Some(intent_id) = row.open_intent_id {
            return CentralError::ChargeMayBeInFlight {
                order_id: order_id.clone(),
                intent_id,
            };
        }
        CentralError::Conflict(format!(
            "order {order_id} changed while the request ran: read it again"
        ))
    }

    /// Extends the lease of a claim still held under `token` by this terminal.
    pub async fn renew(
        &self,
        order_id: &OrderId,
        token: ClaimToken,
        terminal: &TerminalId,
        now: Timestamp,
        lease_ms: i64,
    ) -> CentralResult<Timestamp> {
        let lease_until = now.plus_ms(lease_ms);
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "UPDATE orders SET lease_until = $1, updated_at = $2 \
             WHERE order_id = $3 AND claim_token = $4 AND holder_terminal = $5",
        )
        .bind(lease_until.unix_ms())
        .bind(now.unix_ms())
        .bind(order_id.as_str())
        .bind(token.get() as i64)
        .bind(terminal.as_str())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            tx.rollback().await?;
            return Err(self
                .why_fenced(order_id, "renew", token, terminal, now)
                .await);
        }
        sqlx::query(
            "INSERT INTO claim_audit (order_id, claim_token, event, operator_id, terminal_id, at, \
             lease_until) VALUES ($1, $2, 'renewed', '', $3, $4, $5)",
        )
        .bind(order_id.as_str())
        .bind(token.get() as i64)
        .bind(terminal.as_str())
        .bind(now.unix_ms())
        .bind(lease_until.unix_ms())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(lease_until)
    }

    /// Releases a claim: only its holder, only under the current token, and only while no intent
    /// is registered (after that a charge may have been sent and only a result may end it).
    /// On PostgreSQL the UPDATE and its audit row are one statement.
    pub async fn release(
        &self,
        order_id: &OrderId,
        token: ClaimToken,
        terminal: &TerminalId,
        now: Timestamp,
    ) -> CentralResult<()> {
        const UPDATE: &str = "UPDATE orders SET holder_operator = NULL, holder_terminal = NULL, \
             claimed_at = NULL, lease_until = NULL, ended_at = $1, updated_at = $1 \
             WHERE order_id = $2 AND claim_token = $3 AND holder_terminal = $4 \
             AND open_intent_id IS NULL";
        let bind = |sql: &'static str| {
            sqlx::query(sql)
                .bind(now.unix_ms())
                .bind(order_id.as_str())
                .bind(token.get() as i64)
                .bind(terminal.as_str())
        };
        let released = match self.backend {
            Backend::Postgres => {
                static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
                let sql = SQL.get_or_init(|| {
                    format!(
                        "WITH r AS ({UPDATE} RETURNING order_id, claim_token) \
                         INSERT INTO claim_audit (order_id, claim_token, event, operator_id, \
                         terminal_id, at, lease_until) SELECT order_id, claim_token, 'released', \
                         '', $4, $1, NULL FROM r"
                    )
                });
                bind(sql).execute(&self.pool).await?.rows_affected() == 1
            }
            Backend::Sqlite => {
                let mut tx = self.pool.begin().await?;
                let done = bind(UPDATE).execute(&mut *tx).await?.rows_affected() == 1;
                if done {
                    self.audit_end(
                        &mut tx,
                        order_id.as_str(),
                        token.get() as i64,
                        "released",
                        now,
                    )
                    .await?;
                }
                tx.commit().await?;
                done
            }
        };
        if !released {
            return Err(self
                .why_fenced(order_id, "release", token, terminal, now)
                .await);
        }
        Ok(())
    }

    /// Registers the gateway intent of the claim's attempt, fenced by the token. Re-registering
    /// the same intent is a no-op (a retried request).
    pub async fn register_intent(
        &self,
        order_id: &OrderId,
        token: ClaimToken,
        attempt: AttemptNumber,
        intent_id: &GatewayIntentId,
        terminal: &TerminalId,
        now: Timestamp,
    ) -> CentralResult<bool> {
        let mut tx = self.pool.begin().await?;
        // The intent this registration may replace: one a previous holder registered under an
        // older token and never resolved. The claim answer named it to this holder, whose engine
        // settles it at the gateway (cancels it, or stops if it succeeded) before creating its own;
        // without this, a takeover could never register and the order would stay stuck.
        let previous: Option<String> =
            sqlx::query("SELECT open_intent_id FROM orders WHERE order_id = $1")
                .bind(order_id.as_str())
                .fetch_optional(&mut *tx)
                .await?
                .map(|r| r.try_get("open_intent_id"))
                .transpose()?
                .flatten();
        let done = sqlx::query(
            "UPDATE orders SET open_intent_id = $1, updated_at = $2 \
             WHERE order_id = $3 AND claim_token = $4 AND holder_terminal = $5 \
             AND attempt_seq = $6 AND (open_intent_id IS NULL OR open_intent_id = $1 \
             OR open_intent_id IN (SELECT intent_id FROM intents \
             WHERE order_id = $3 AND claim_token < $4))",
        )
        .bind(intent_id.as_str())
        .bind(now.unix_ms())
        .bind(order_id.as_str())
        .bind(token.get() as i64)
        .bind(terminal.as_str())
        .bind(i64::from(attempt.get()))
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            tx.rollback().await?;
            let err = self
                .why_fenced(order_id, "register_intent", token, terminal, now)
                .await;
            if let CentralError::ChargeMayBeInFlight {
                order_id,
                intent_id,
            } = err
            {
                return Err(CentralError::OtherIntentOpen {
                    order_id,
                    intent_id,
                });
            }
            if let CentralError::Conflict(_) = err {
                let row = self.order_row(order_id).await?;
                return Err(CentralError::WrongAttempt {
                    presented: attempt.get(),
                    expected: row.map(|r| r.attempt_seq).unwrap_or_default(),
                });
            }
            return Err(err);
        }
        if let Some(previous) = previous.filter(|p| p != intent_id.as_str()) {
            // Kept for the sweeper and reconciliation, no longer the order's open intent.
            sqlx::query(
                "UPDATE intents SET state = 'superseded' WHERE intent_id = $1 AND state = 'open'",
            )
            .bind(previous)
            .execute(&mut *tx)
            .await?;
        }
        let inserted = sqlx::query(
            "INSERT INTO intents (intent_id, order_id, claim_token, attempt_number, terminal_id, \
             registered_at, state) VALUES ($1, $2, $3, $4, $5, $6, 'open') \
             ON CONFLICT (intent_id) DO NOTHING",
        )
        .bind(intent_id.as_str())
        .bind(order_id.as_str())
        .bind(token.get() as i64)
        .bind(i64::from(attempt.get()))
        .bind(terminal.as_str())
        .bind(now.unix_ms())
        .execute(&mut *tx)
        .await?;
        if inserted.rows_affected() == 0 {
            let owner: Option<String> =
                sqlx::query("SELECT order_id FROM intents WHERE intent_id = $1")
                    .bind(intent_id.as_str())
                    .fetch_optional(&mut *tx)
                    .await?
                    .map(|r| r.try_get("order_id"))
                    .transpose()?;
            if owner.as_deref() != Some(order_id.as_str()) {
                tx.rollback().await?;
                return Err(CentralError::Conflict(format!(
                    "intent {intent_id} is registered for another order"
                )));
            }
        }
        tx.commit().await?;
        Ok(inserted.rows_affected() == 1)
    }

    /// The claim audit, ordered by order, token and time (for tests and managers).
    pub async fn claim_audit(&self) -> CentralResult<Vec<AuditRow>> {
        let rows = sqlx::query(
            "SELECT order_id, claim_token, event, at, lease_until FROM claim_audit \
             ORDER BY order_id, claim_token, audit_id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(AuditRow {
                    order_id: r.try_get("order_id")?,
                    claim_token: r.try_get("claim_token")?,
                    event: r.try_get("event")?,
                    at: r.try_get("at")?,
                    lease_until: r.try_get("lease_until")?,
                })
            })
            .collect()
    }

    /// How many decisions were refused for stale tokens (for tests and managers).
    pub async fn fencing_refusal_count(&self) -> CentralResult<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM fencing_refusals")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("n")?)
    }

    // ---------------------------------------------------------------- results inbox

    /// Applies a batch of results and the terminal's journal head in one transaction.
    ///
    /// Items are processed sorted by (order, attempt), each locking its order row before it
    /// inserts its result, so concurrent batches touching the same orders always take locks in
    /// the same sequence and cannot deadlock. The answer keeps the request's item order.
    pub async fn apply_results(
        &self,
        terminal: &TerminalId,
        head: &JournalHead,
        items: &[ResultItem],
        now: Timestamp,
    ) -> CentralResult<ResultBatchResponse> {
        let mut attempt = 0;
        loop {
            match self.apply_results_once(terminal, head, items, now).await {
                Err(e) if e.is_retryable() && attempt < TX_RETRIES_MAX => attempt += 1,
                other => return other,
            }
        }
    }

    async fn apply_results_once(
        &self,
        terminal: &TerminalId,
        head: &JournalHead,
        items: &[ResultItem],
        now: Timestamp,
    ) -> CentralResult<ResultBatchResponse> {
        let mut order: Vec<usize> = (0..items.len()).collect();
        order.sort_by(|&a, &b| {
            (items[a].order_id.as_str(), items[a].attempt_id)
                .cmp(&(items[b].order_id.as_str(), items[b].attempt_id))
        });
        let mut receipts: Vec<Option<ItemReceipt>> = vec![None; items.len()];
        let mut tx = self.pool.begin().await?;
        // Results already stored are final forever, so one query finds the duplicates of a
        // replayed batch without locking their orders (a replay costs less than a first pass).
        let known = self.known_attempts(&mut tx, items).await?;
        let fresh: Vec<&ResultItem> = items
            .iter()
            .filter(|i| !known.contains(&i.attempt_id.to_string()))
            .collect();
        // Every order the batch touches, locked in one statement in order-id order (concurrent
        // batches therefore cannot deadlock), and kept in memory as the items change them.
        let mut rows = self.lock_orders(&mut tx, &fresh).await?;
        let registered = self.registered_intents(&mut tx, &fresh).await?;
        for i in order {
            let item = &items[i];
            let receipt = if known.contains(&item.attempt_id.to_string()) {
                ItemReceipt {
                    attempt_id: item.attempt_id,
                    status: ItemStatus::Duplicate,
                    reason: None,
                }
            } else {
                let row = rows.get_mut(item.order_id.as_str());
                self.apply_one(&mut tx, terminal, item, row, &registered, now)
                    .await?
            };
            receipts[i] = Some(receipt);
        }
        let journal = self.record_head(&mut tx, terminal, head, now).await?;
        tx.commit().await?;
        Ok(ResultBatchResponse {
            items: receipts.into_iter().flatten().collect(),
            journal,
        })
    }

    /// The attempt ids of `items` already in the inbox.
    async fn known_attempts(
        &self,
        tx: &mut Transaction<'static, Any>,
        items: &[ResultItem],
    ) -> CentralResult<std::collections::HashSet<String>> {
        let mut known = std::collections::HashSet::new();
        // Well under both backends' bound-parameter limits.
        for chunk in items.chunks(500) {
            let placeholders: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "SELECT attempt_id FROM results WHERE attempt_id IN ({})",
                placeholders.join(", ")
            );
            let mut query = sqlx::query(&sql);
            for item in chunk {
                query = query.bind(item.attempt_id.to_string());
            }
            for row in query.fetch_all(&mut **tx).await? {
                known.insert(row.try_get::<String, _>("attempt_id")?);
            }
        }
        Ok(known)
    }

    /// Locks and reads the orders of `items`, in order-id order.
    async fn lock_orders(
        &self,
        tx: &mut Transaction<'static, Any>,
        items: &[&ResultItem],
    ) -> CentralResult<HashMap<String, OrderRow>> {
        let mut ids: Vec<&str> = items.iter().map(|i| i.order_id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        let mut rows = HashMap::new();
        // Chunks are taken in sorted order too, so the lock order holds across chunks.
        for chunk in ids.chunks(500) {
            let placeholders: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "SELECT {ORDER_COLUMNS} FROM orders WHERE order_id IN ({}) ORDER BY order_id{}",
                placeholders.join(", "),
                self.for_update()
            );
            let mut query = sqlx::query(&sql);
            for id in chunk {
                query = query.bind(*id);
            }
            for row in query.fetch_all(&mut **tx).await? {
                let row = order_from_row(&row)?;
                rows.insert(row.order.order_id.as_str().to_string(), row);
            }
        }
        Ok(rows)
    }

    /// Which of the intents named by `items` are registered (only those have a state to update).
    async fn registered_intents(
        &self,
        tx: &mut Transaction<'static, Any>,
        items: &[&ResultItem],
    ) -> CentralResult<std::collections::HashSet<String>> {
        let mut ids: Vec<&str> = items
            .iter()
            .filter_map(|i| i.intent_id.as_ref().map(|i| i.as_str()))
            .collect();
        ids.sort_unstable();
        ids.dedup();
        let mut registered = std::collections::HashSet::new();
        for chunk in ids.chunks(500) {
            let placeholders: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "SELECT intent_id FROM intents WHERE intent_id IN ({})",
                placeholders.join(", ")
            );
            let mut query = sqlx::query(&sql);
            for id in chunk {
                query = query.bind(*id);
            }
            for row in query.fetch_all(&mut **tx).await? {
                registered.insert(row.try_get::<String, _>("intent_id")?);
            }
        }
        Ok(registered)
    }

    /// Applies one result whose order row (if the order exists) is locked by this transaction
    /// and mirrored in `row`, which is updated to match what was written.
    async fn apply_one(
        &self,
        tx: &mut Transaction<'static, Any>,
        terminal: &TerminalId,
        item: &ResultItem,
        row: Option<&mut OrderRow>,
        registered: &std::collections::HashSet<String>,
        now: Timestamp,
    ) -> CentralResult<ItemReceipt> {
        let (status, reason, change) = match &row {
            None => (
                ItemStatus::Rejected,
                Some(format!(
                    "order {} is unknown at the central: import it, then ask a manager to review this result",
                    item.order_id
                )),
                OrderChange::default(),
            ),
            Some(row) => decide(row, item),
        };
        let inserted = sqlx::query(
            "INSERT INTO results (attempt_id, order_id, attempt_number, claim_token, terminal_id, \
             outcome, amount_minor, currency, intent_id, offline, occurred_at, received_at, \
             status, reason) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
             ON CONFLICT (attempt_id) DO NOTHING",
        )
        .bind(item.attempt_id.to_string())
        .bind(item.order_id.as_str())
        .bind(i64::from(item.attempt_number.get()))
        .bind(item.claim_token.get() as i64)
        .bind(terminal.as_str())
        .bind(item.outcome.as_str())
        .bind(item.amount.minor())
        .bind(item.amount.currency().code())
        .bind(item.intent_id.as_ref().map(|i| i.as_str().to_string()))
        .bind(i64::from(item.offline))
        .bind(item.occurred_at.unix_ms())
        .bind(now.unix_ms())
        .bind(status.as_str())
        .bind(reason.clone())
        .execute(&mut **tx)
        .await?;
        if inserted.rows_affected() == 0 {
            return Ok(ItemReceipt {
                attempt_id: item.attempt_id,
                status: ItemStatus::Duplicate,
                reason: None,
            });
        }
        if status == ItemStatus::Flagged {
            self.flag(
                tx,
                Some(item.order_id.as_str()),
                "result",
                reason.as_deref().unwrap_or(""),
                now,
            )
            .await?;
        }
        if let Some(row) = row {
            self.apply_change(tx, row, &change, now).await?;
            row.mirror(&change);
            if let Some(intent) = item
                .intent_id
                .as_ref()
                .filter(|i| registered.contains(i.as_str()))
            {
                sqlx::query("UPDATE intents SET state = $1 WHERE intent_id = $2")
                    .bind(item.outcome.as_str())
                    .bind(intent.as_str())
                    .execute(&mut **tx)
                    .await?;
            }
        }
        Ok(ItemReceipt {
            attempt_id: item.attempt_id,
            status,
            reason,
        })
    }

    async fn apply_change(
        &self,
        tx: &mut Transaction<'static, Any>,
        row: &OrderRow,
        change: &OrderChange,
        now: Timestamp,
    ) -> CentralResult<()> {
        let order_id = row.order.order_id.as_str();
        let release = change.release && row.holder_terminal.is_some();
        if change.new_status.is_none() && !change.clear_open_intent && !release {
            return Ok(());
        }
        // One UPDATE for every part of the change. The order row is locked by this transaction
        // (FOR UPDATE on PostgreSQL, the single connection on SQLite), so the token `decide`
        // saw is still the current one.
        sqlx::query(
            "UPDATE orders SET status = COALESCE($1, status), \
             paid_intent_id = COALESCE($2, paid_intent_id), \
             open_intent_id = CASE WHEN $3 = 1 THEN NULL ELSE open_intent_id END, \
             holder_operator = CASE WHEN $4 = 1 THEN NULL ELSE holder_operator END, \
             holder_terminal = CASE WHEN $4 = 1 THEN NULL ELSE holder_terminal END, \
             claimed_at = CASE WHEN $4 = 1 THEN NULL ELSE claimed_at END, \
             lease_until = CASE WHEN $4 = 1 THEN NULL ELSE lease_until END, \
             ended_at = CASE WHEN $4 = 1 THEN $5 ELSE ended_at END, updated_at = $5 \
             WHERE order_id = $6",
        )
        .bind(change.new_status.map(|s| s.as_str().to_string()))
        .bind(change.paid_intent_id.clone())
        .bind(i64::from(change.clear_open_intent))
        .bind(i64::from(release))
        .bind(now.unix_ms())
        .bind(order_id)
        .execute(&mut **tx)
        .await?;
        if release {
            self.audit_end(tx, order_id, row.claim_token, "result", now)
                .await?;
        }
        Ok(())
    }

    async fn flag(
        &self,
        tx: &mut Transaction<'static, Any>,
        order_id: Option<&str>,
        source: &str,
        reason: &str,
        now: Timestamp,
    ) -> CentralResult<()> {
        sqlx::query("INSERT INTO flags (order_id, source, reason, at) VALUES ($1, $2, $3, $4)")
            .bind(order_id.map(str::to_string))
            .bind(source)
            .bind(reason)
            .bind(now.unix_ms())
            .execute(&mut **tx)
            .await?;
        tracing::warn!(
            order = order_id.unwrap_or("-"),
            source,
            reason,
            "flagged for review"
        );
        Ok(())
    }

    async fn record_head(
        &self,
        tx: &mut Transaction<'static, Any>,
        terminal: &TerminalId,
        head: &JournalHead,
        now: Timestamp,
    ) -> CentralResult<JournalReceipt> {
        let seq = i64::try_from(head.seq)
            .map_err(|_| CentralError::Invalid("journal_head.seq is too large".into()))?;
        let existing: Option<String> =
            sqlx::query("SELECT hash FROM journal_heads WHERE terminal_id = $1 AND seq = $2")
                .bind(terminal.as_str())
                .bind(seq)
                .fetch_optional(&mut **tx)
                .await?
                .map(|r| r.try_get("hash"))
                .transpose()?;
        let problem = match existing {
            Some(hash) if hash == head.hash => None,
            Some(hash) => Some(format!(
                "journal of terminal {terminal} was rewritten: seq {seq} had hash {hash}, now {}",
                head.hash
            )),
            None => {
                let max: Option<i64> = sqlx::query(
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
                match max {
                    Some(max) if max > seq => Some(format!(
                        "journal of terminal {terminal} went backwards: seq {seq} after {max}"
                    )),
                    _ => None,
                }
            }
        };
        if let Some(reason) = &problem {
            self.flag(tx, None, "journal", reason, now).await?;
        }
        Ok(JournalReceipt {
            flagged: problem.is_some(),
            reason: problem,
        })
    }

    pub async fn result_count(&self) -> CentralResult<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM results")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("n")?)
    }

    pub async fn flags(&self) -> CentralResult<Vec<FlagRecord>> {
        let rows = sqlx::query(
            "SELECT order_id, source, reason, at FROM flags ORDER BY flag_id DESC LIMIT 1000",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let order_id: Option<String> = r.try_get("order_id")?;
                Ok(FlagRecord {
                    order_id: order_id.map(OrderId::new).transpose().map_err(corrupt)?,
                    source: r.try_get("source")?,
                    reason: r.try_get("reason")?,
                    at: Timestamp::from_unix_ms(r.try_get("at")?),
                })
            })
            .collect()
    }

    // ---------------------------------------------------------------- webhooks

    /// Stores a webhook event once (deduplicated on its id) and applies it to its order in the
    /// same transaction. Returns false for a duplicate.
    pub async fn apply_webhook(
        &self,
        event: &crate::webhook::WebhookEvent,
        payload: &str,
        now: Timestamp,
    ) -> CentralResult<bool> {
        let mut attempt = 0;
        loop {
            match self.apply_webhook_once(event, payload, now).await {
                Err(e) if e.is_retryable() && attempt < TX_RETRIES_MAX => attempt += 1,
                other => return other,
            }
        }
    }

    async fn apply_webhook_once(
        &self,
        event: &crate::webhook::WebhookEvent,
        payload: &str,
        now: Timestamp,
    ) -> CentralResult<bool> {
        use crate::webhook::EventEffect;
        let mut tx = self.pool.begin().await?;
        // Find the order before inserting the event so the order row is locked first, like the
        // results inbox does.
        let order_id = match event.intent_id() {
            Some(intent) => {
                let by_intent: Option<String> = sqlx::query(
                    "SELECT order_id FROM intents WHERE intent_id = $1 \
                     UNION SELECT order_id FROM orders WHERE paid_intent_id = $1",
                )
                .bind(intent)
                .fetch_optional(&mut *tx)
                .await?
                .map(|r| r.try_get("order_id"))
                .transpose()?;
                by_intent.or_else(|| event.metadata_order_id().map(str::to_string))
            }
            None => event.metadata_order_id().map(str::to_string),
        };
        let row = match order_id.as_deref().map(OrderId::new) {
            Some(Ok(id)) => self.order_row_in(&mut tx, &id, true).await?,
            _ => None,
        };
        let outcome = match (&row, &event.effect) {
            (_, EventEffect::Ignored) => "ignored".to_string(),
            (None, _) => "unmatched".to_string(),
            (Some(_), _) => "applied".to_string(),
        };
        let inserted = sqlx::query(
            "INSERT INTO webhook_events (event_id, event_type, payload, received_at, outcome) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (event_id) DO NOTHING",
        )
        .bind(&event.id)
        .bind(&event.event_type)
        .bind(payload)
        .bind(now.unix_ms())
        .bind(&outcome)
        .execute(&mut *tx)
        .await?;
        if inserted.rows_affected() == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        if let Some(row) = row {
            self.apply_event_to_order(&mut tx, &row, event, now).await?;
        } else if !matches!(event.effect, EventEffect::Ignored) {
            self.flag(
                &mut tx,
                order_id.as_deref(),
                "webhook",
                &format!("event {} ({}) matches no order", event.id, event.event_type),
                now,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn apply_event_to_order(
        &self,
        tx: &mut Transaction<'static, Any>,
        row: &OrderRow,
        event: &crate::webhook::WebhookEvent,
        now: Timestamp,
    ) -> CentralResult<()> {
        use crate::webhook::EventEffect;
        let order_id = row.order.order_id.as_str();
        let intent = event.intent_id().unwrap_or_default().to_string();
        match &event.effect {
            EventEffect::Succeeded { amount } => {
                if *amount != row.order.amount {
                    let reason = format!(
                        "gateway charged {amount} for order {order_id} of {} (intent {intent})",
                        row.order.amount
                    );
                    self.flag(tx, Some(order_id), "webhook", &reason, now)
                        .await?;
                    self.set_status(tx, order_id, OrderStatus::NeedsReview, now)
                        .await?;
                } else if row.order.status == OrderStatus::Paid {
                    if row.order.paid_intent_id.as_ref().map(|p| p.as_str()) != Some(&intent) {
                        let reason = format!(
                            "second success for order {order_id}: intent {intent} after {}",
                            row.order
                                .paid_intent_id
                                .as_ref()
                                .map(|p| p.as_str())
                                .unwrap_or("?")
                        );
                        self.flag(tx, Some(order_id), "webhook", &reason, now)
                            .await?;
                        self.set_status(tx, order_id, OrderStatus::NeedsReview, now)
                            .await?;
                    }
                } else {
                    sqlx::query(
                        "UPDATE orders SET status = 'paid', paid_intent_id = $1, updated_at = $2 \
                         WHERE order_id = $3",
                    )
                    .bind(&intent)
                    .bind(now.unix_ms())
                    .bind(order_id)
                    .execute(&mut **tx)
                    .await?;
                }
                sqlx::query("UPDATE intents SET state = 'succeeded' WHERE intent_id = $1")
                    .bind(&intent)
                    .execute(&mut **tx)
                    .await?;
            }
            EventEffect::PaymentFailed => {
                sqlx::query("UPDATE intents SET state = 'payment_failed' WHERE intent_id = $1")
                    .bind(&intent)
                    .execute(&mut **tx)
                    .await?;
                // While someone holds the order, their own result decides it. Otherwise the
                // failure of the open intent is the evidence the order was waiting for.
                sqlx::query(
                    "UPDATE orders SET status = 'failed', open_intent_id = NULL, updated_at = $1 \
                     WHERE order_id = $2 AND open_intent_id = $3 AND holder_terminal IS NULL \
                     AND status IN ('unpaid', 'needs_action')",
                )
                .bind(now.unix_ms())
                .bind(order_id)
                .bind(&intent)
                .execute(&mut **tx)
                .await?;
            }
            EventEffect::Refunded { amount_refunded } => {
                sqlx::query(
                    "UPDATE orders SET refunded_minor = $1, updated_at = $2 WHERE order_id = $3",
                )
                .bind(*amount_refunded)
                .bind(now.unix_ms())
                .bind(order_id)
                .execute(&mut **tx)
                .await?;
            }
            EventEffect::Disputed => {
                sqlx::query("UPDATE orders SET disputed = 1, updated_at = $1 WHERE order_id = $2")
                    .bind(now.unix_ms())
                    .bind(order_id)
                    .execute(&mut **tx)
                    .await?;
                let reason = format!("dispute opened on order {order_id} (intent {intent})");
                self.flag(tx, Some(order_id), "webhook", &reason, now)
                    .await?;
            }
            EventEffect::Ignored => {}
        }
        Ok(())
    }

    async fn set_status(
        &self,
        tx: &mut Transaction<'static, Any>,
        order_id: &str,
        status: OrderStatus,
        now: Timestamp,
    ) -> CentralResult<()> {
        sqlx::query("UPDATE orders SET status = $1, updated_at = $2 WHERE order_id = $3")
            .bind(status.as_str())
            .bind(now.unix_ms())
            .bind(order_id)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    pub async fn webhook_event_count(&self) -> CentralResult<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM webhook_events")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("n")?)
    }

    // ---------------------------------------------------------------- sweeper

    /// Claims whose lease has run out, oldest first.
    pub async fn expired_claims(
        &self,
        now: Timestamp,
        limit: u32,
    ) -> CentralResult<Vec<ExpiredClaim>> {
        let rows = sqlx::query(
            "SELECT order_id, claim_token, open_intent_id, amount_minor, currency FROM orders \
             WHERE holder_terminal IS NOT NULL AND lease_until <= $1 ORDER BY lease_until LIMIT $2",
        )
        .bind(now.unix_ms())
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let intent: Option<String> = r.try_get("open_intent_id")?;
                let currency =
                    Currency::from_code(&r.try_get::<String, _>("currency")?).map_err(corrupt)?;
                Ok(ExpiredClaim {
                    order_id: OrderId::new(r.try_get::<String, _>("order_id")?).map_err(corrupt)?,
                    claim_token: claim_token(r.try_get("claim_token")?)?,
                    open_intent_id: intent
                        .map(GatewayIntentId::new)
                        .transpose()
                        .map_err(corrupt)?,
                    amount: Money::new(r.try_get("amount_minor")?, currency).map_err(corrupt)?,
                })
            })
            .collect()
    }

    /// Ends an expired holding, fenced by its token and by the lease still being expired, and
    /// optionally sets the order's status from the gateway's evidence. Returns false if the
    /// claim changed meanwhile (renewed, taken over or ended by a result).
    pub async fn end_expired_claim(
        &self,
        claim: &ExpiredClaim,
        resolution: SweepResolution,
        now: Timestamp,
    ) -> CentralResult<bool> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "UPDATE orders SET holder_operator = NULL, holder_terminal = NULL, claimed_at = NULL, \
             lease_until = NULL, ended_at = $1, updated_at = $1 \
             WHERE order_id = $2 AND claim_token = $3 AND lease_until <= $1 \
             AND holder_terminal IS NOT NULL \
             AND COALESCE(open_intent_id, '') = $4",
        )
        .bind(now.unix_ms())
        .bind(claim.order_id.as_str())
        .bind(claim.claim_token.get() as i64)
        .bind(
            claim
                .open_intent_id
                .as_ref()
                .map(|i| i.as_str().to_string())
                .unwrap_or_default(),
        )
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        let order_id = claim.order_id.as_str();
        let intent = claim
            .open_intent_id
            .as_ref()
            .map(|i| i.as_str().to_string());
        match resolution {
            SweepResolution::NoIntent => {}
            SweepResolution::Succeeded { amount } => {
                if amount == claim.amount {
                    sqlx::query(
                        "UPDATE orders SET status = 'paid', paid_intent_id = $1, \
                         open_intent_id = NULL WHERE order_id = $2 AND status <> 'paid'",
                    )
                    .bind(intent.clone())
                    .bind(order_id)
                    .execute(&mut *tx)
                    .await?;
                } else {
                    let reason = format!(
                        "gateway charged {amount} for order {order_id} of {}",
                        claim.amount
                    );
                    self.flag(&mut tx, Some(order_id), "sweeper", &reason, now)
                        .await?;
                    self.set_status(&mut tx, order_id, OrderStatus::NeedsReview, now)
                        .await?;
                }
            }
            SweepResolution::Failed => {
                sqlx::query(
                    "UPDATE orders SET status = 'failed', open_intent_id = NULL \
                     WHERE order_id = $1 AND status <> 'paid'",
                )
                .bind(order_id)
                .execute(&mut *tx)
                .await?;
            }
            SweepResolution::Canceled => {
                sqlx::query("UPDATE orders SET open_intent_id = NULL WHERE order_id = $1")
                    .bind(order_id)
                    .execute(&mut *tx)
                    .await?;
            }
            SweepResolution::RequiresAction => {
                sqlx::query(
                    "UPDATE orders SET status = 'needs_action' WHERE order_id = $1 \
                     AND status <> 'paid'",
                )
                .bind(order_id)
                .execute(&mut *tx)
                .await?;
            }
        }
        if let Some(intent) = &intent {
            sqlx::query("UPDATE intents SET state = $1 WHERE intent_id = $2")
                .bind(resolution.intent_state())
                .bind(intent)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("DELETE FROM unresolved WHERE order_id = $1")
            .bind(order_id)
            .execute(&mut *tx)
            .await?;
        self.audit_end(
            &mut tx,
            order_id,
            claim.claim_token.get() as i64,
            "swept",
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Orders left in review by an *unknown* outcome (a `needs_review` result naming the open
    /// intent), not held and with no contradiction flagged: the gateway may since know the answer.
    pub async fn unknown_outcomes(&self, limit: u32) -> CentralResult<Vec<ExpiredClaim>> {
        let rows = sqlx::query(
            "SELECT o.order_id, o.claim_token, o.open_intent_id, o.amount_minor, o.currency \
             FROM orders o WHERE o.status = 'needs_review' AND o.open_intent_id IS NOT NULL \
             AND o.holder_terminal IS NULL \
             AND EXISTS (SELECT 1 FROM results r WHERE r.order_id = o.order_id \
                         AND r.outcome = 'needs_review' AND r.intent_id = o.open_intent_id) \
             AND NOT EXISTS (SELECT 1 FROM flags f WHERE f.order_id = o.order_id) \
             ORDER BY o.updated_at LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let intent: Option<String> = r.try_get("open_intent_id")?;
                let currency =
                    Currency::from_code(&r.try_get::<String, _>("currency")?).map_err(corrupt)?;
                Ok(ExpiredClaim {
                    order_id: OrderId::new(r.try_get::<String, _>("order_id")?).map_err(corrupt)?,
                    claim_token: claim_token(r.try_get::<i64, _>("claim_token")?.max(1))?,
                    open_intent_id: intent
                        .map(GatewayIntentId::new)
                        .transpose()
                        .map_err(corrupt)?,
                    amount: Money::new(r.try_get("amount_minor")?, currency).map_err(corrupt)?,
                })
            })
            .collect()
    }

    /// Settles an unknown outcome from the gateway's evidence, fenced on the order still being
    /// in review on the same open intent. Returns false if it changed meanwhile.
    pub async fn settle_unknown(
        &self,
        order: &ExpiredClaim,
        resolution: SweepResolution,
        now: Timestamp,
    ) -> CentralResult<bool> {
        let Some(intent) = order.open_intent_id.as_ref() else {
            return Ok(false);
        };
        let (status, paid_intent, clear) = match resolution {
            SweepResolution::Succeeded { amount } if amount == order.amount => {
                ("paid", Some(intent.as_str().to_string()), true)
            }
            SweepResolution::Succeeded { .. } => return Ok(false),
            SweepResolution::Failed => ("failed", None, true),
            SweepResolution::Canceled => ("unpaid", None, true),
            SweepResolution::RequiresAction => ("needs_action", None, false),
            SweepResolution::NoIntent => return Ok(false),
        };
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "UPDATE orders SET status = $1, paid_intent_id = COALESCE($2, paid_intent_id), \
             open_intent_id = CASE WHEN $3 = 1 THEN NULL ELSE open_intent_id END, updated_at = $4 \
             WHERE order_id = $5 AND status = 'needs_review' AND open_intent_id = $6 \
             AND holder_terminal IS NULL",
        )
        .bind(status)
        .bind(paid_intent)
        .bind(i64::from(clear))
        .bind(now.unix_ms())
        .bind(order.order_id.as_str())
        .bind(intent.as_str())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        sqlx::query("UPDATE intents SET state = $1 WHERE intent_id = $2")
            .bind(resolution.intent_state())
            .bind(intent.as_str())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Lists an expired claim the gateway's evidence could not resolve, for managers.
    pub async fn mark_unresolved(
        &self,
        claim: &ExpiredClaim,
        reason: &str,
        now: Timestamp,
    ) -> CentralResult<()> {
        sqlx::query(
            "INSERT INTO unresolved (order_id, claim_token, intent_id, reason, since) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (order_id, claim_token) DO UPDATE SET reason = excluded.reason",
        )
        .bind(claim.order_id.as_str())
        .bind(claim.claim_token.get() as i64)
        .bind(
            claim
                .open_intent_id
                .as_ref()
                .map(|i| i.as_str().to_string()),
        )
        .bind(reason)
        .bind(now.unix_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Unresolved items whose claim is still the order's current one and still held (a late
    /// result or a takeover ends the listing without anyone deleting it).
    pub async fn unresolved(&self) -> CentralResult<Vec<UnresolvedItem>> {
        let rows = sqlx::query(
            "SELECT u.order_id, u.claim_token, u.intent_id, u.reason, u.since FROM unresolved u \
             JOIN orders o ON o.order_id = u.order_id AND o.claim_token = u.claim_token \
             AND o.holder_terminal IS NOT NULL \
             ORDER BY u.since, u.order_id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let intent: Option<String> = r.try_get("intent_id")?;
                Ok(UnresolvedItem {
                    order_id: OrderId::new(r.try_get::<String, _>("order_id")?).map_err(corrupt)?,
                    claim_token: claim_token(r.try_get("claim_token")?)?,
                    intent_id: intent
                        .map(GatewayIntentId::new)
                        .transpose()
                        .map_err(corrupt)?,
                    reason: r.try_get("reason")?,
                    since: Timestamp::from_unix_ms(r.try_get("since")?),
                })
            })
            .collect()
    }

    // ---------------------------------------------------------------- reconciliation

    /// Successes the central recorded (results inbox and paid orders) in `[from, to)`.
    pub async fn recorded_successes(
        &self,
        from: Timestamp,
        to: Timestamp,
    ) -> CentralResult<Vec<RecordedSuccess>> {
        let rows = sqlx::query(
            "SELECT order_id, intent_id, amount_minor, currency FROM results \
             WHERE outcome = 'succeeded' AND occurred_at >= $1 AND occurred_at < $2 \
             ORDER BY order_id, attempt_id",
        )
        .bind(from.unix_ms())
        .bind(to.unix_ms())
        .fetch_all(&self.pool)
        .await?;
        let mut out: Vec<RecordedSuccess> = Vec::new();
        let mut seen: HashMap<String, ()> = HashMap::new();
        for r in &rows {
            let intent: Option<String> = r.try_get("intent_id")?;
            if let Some(i) = &intent {
                if seen.insert(i.clone(), ()).is_some() {
                    continue;
                }
            }
            let currency =
                Currency::from_code(&r.try_get::<String, _>("currency")?).map_err(corrupt)?;
            out.push(RecordedSuccess {
                order_id: OrderId::new(r.try_get::<String, _>("order_id")?).map_err(corrupt)?,
                intent_id: intent
                    .map(GatewayIntentId::new)
                    .transpose()
                    .map_err(corrupt)?,
                amount: Money::new(r.try_get("amount_minor")?, currency).map_err(corrupt)?,
            });
        }
        // Orders paid through webhooks or the sweeper have no result row; include them too.
        let rows = sqlx::query(
            "SELECT order_id, paid_intent_id, amount_minor, currency FROM orders \
             WHERE status = 'paid' AND paid_intent_id IS NOT NULL \
             AND updated_at >= $1 AND updated_at < $2",
        )
        .bind(from.unix_ms())
        .bind(to.unix_ms())
        .fetch_all(&self.pool)
        .await?;
        for r in &rows {
            let intent: String = r.try_get("paid_intent_id")?;
            if seen.insert(intent.clone(), ()).is_some() {
                continue;
            }
            let currency =
                Currency::from_code(&r.try_get::<String, _>("currency")?).map_err(corrupt)?;
            out.push(RecordedSuccess {
                order_id: OrderId::new(r.try_get::<String, _>("order_id")?).map_err(corrupt)?,
                intent_id: Some(GatewayIntentId::new(intent).map_err(corrupt)?),
                amount: Money::new(r.try_get("amount_minor")?, currency).map_err(corrupt)?,
            });
        }
        Ok(out)
    }
}

/// What the sweeper learned about an expired claim's registered intent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SweepResolution {
    /// No intent was registered: nothing can have been charged.
    NoIntent,
    Succeeded {
        amount: Money,
    },
    Failed,
    Canceled,
    RequiresAction,
}

impl SweepResolution {
    fn intent_state(self) -> &'static str {
        match self {
            SweepResolution::NoIntent => "open",
            SweepResolution::Succeeded { .. } => "succeeded",
            SweepResolution::Failed => "payment_failed",
            SweepResolution::Canceled => "canceled",
            SweepResolution::RequiresAction => "requires_action",
        }
    }
}

fn claim_token(v: i64) -> CentralResult<ClaimToken> {
    ClaimToken::new(to_u64(v, "claim token")?).map_err(corrupt)
}

fn attempt_number(v: i64) -> CentralResult<AttemptNumber> {
    let v = u32::try_from(v).map_err(|_| corrupt(format!("attempt number {v}")))?;
    AttemptNumber::new(v).map_err(corrupt)
}

fn payment_record_from_row(r: &AnyRow) -> CentralResult<PaymentRecord> {
    let attempt_id: String = r.try_get("attempt_id")?;
    let outcome: String = r.try_get("outcome")?;
    let status: String = r.try_get("status")?;
    let currency = Currency::from_code(&r.try_get::<String, _>("currency")?).map_err(corrupt)?;
    let intent: Option<String> = r.try_get("intent_id")?;
    Ok(PaymentRecord {
        attempt_id: AttemptId::parse(&attempt_id).map_err(corrupt)?,
        attempt_number: attempt_number(r.try_get("attempt_number")?)?,
        claim_token: claim_token(r.try_get("claim_token")?)?,
        terminal_id: TerminalId::new(r.try_get::<String, _>("terminal_id")?).map_err(corrupt)?,
        outcome: ResultOutcome::parse(&outcome)
            .ok_or_else(|| corrupt(format!("outcome {outcome}")))?,
        amount: Money::new(r.try_get("amount_minor")?, currency).map_err(corrupt)?,
        intent_id: intent
            .map(GatewayIntentId::new)
            .transpose()
            .map_err(corrupt)?,
        offline: r.try_get::<i64, _>("offline")? != 0,
        occurred_at: Timestamp::from_unix_ms(r.try_get("occurred_at")?),
        received_at: Timestamp::from_unix_ms(r.try_get("received_at")?),
        status: ItemStatus::parse(&status).ok_or_else(|| corrupt(format!("status {status}")))?,
        reason: r.try_get("reason")?,
    })
}

/// Decides what one result means for its order: the pure part of the results inbox.
///
/// A success is a fact about money that moved, so it is never refused: if it contradicts the
/// central (other amount, a second success) the order goes to review and the result is flagged.
/// Any other outcome is a decision, accepted only under the order's current claim token (I5).
fn decide(row: &OrderRow, item: &ResultItem) -> (ItemStatus, Option<String>, OrderChange) {
    let order = &row.order;
    let current = item.claim_token.get() as i64 == row.claim_token;
    let holds = current && row.holder_terminal.is_some();
    let intent = item.intent_id.as_ref().map(|i| i.as_str().to_string());
    let closes_open_intent = intent.is_some() && intent == row.open_intent_id;
    if item.amount != order.amount {
        let reason = format!(
            "result amount {} differs from the order's {}",
            item.amount, order.amount
        );
        let change = if item.outcome == ResultOutcome::Succeeded {
            OrderChange {
                new_status: Some(OrderStatus::NeedsReview),
                release: holds,
                ..OrderChange::default()
            }
        } else {
            OrderChange::default()
        };
        return (ItemStatus::Flagged, Some(reason), change);
    }
    match item.outcome {
        ResultOutcome::Succeeded => {
            if order.status == OrderStatus::Paid {
                let same = intent.is_some()
                    && order
                        .paid_intent_id
                        .as_ref()
                        .map(|p| p.as_str().to_string())
                        == intent;
                if same {
                    // Already recorded from the webhook or the sweeper: the same charge.
                    return (
                        ItemStatus::Applied,
                        None,
                        OrderChange {
                            release: holds,
                            clear_open_intent: closes_open_intent,
                            ..OrderChange::default()
                        },
                    );
                }
                let reason = format!(
                    "second success for order {}: intent {} after {}",
                    order.order_id,
                    intent.as_deref().unwrap_or("(none)"),
                    order
                        .paid_intent_id
                        .as_ref()
                        .map(|p| p.as_str())
                        .unwrap_or("(none)")
                );
                return (
                    ItemStatus::Flagged,
                    Some(reason),
                    OrderChange {
                        new_status: Some(OrderStatus::NeedsReview),
                        release: holds,
                        ..OrderChange::default()
                    },
                );
            }
            let change = OrderChange {
                new_status: Some(OrderStatus::Paid),
                paid_intent_id: intent.clone(),
                release: holds,
                clear_open_intent: holds || closes_open_intent,
            };
            if current || item.offline {
                (ItemStatus::Applied, None, change)
            } else {
                let reason = format!(
                    "success reported under stale claim token {} (current {}); the order is \
                     marked paid because the charge happened",
                    item.claim_token, row.claim_token
                );
                (ItemStatus::Flagged, Some(reason), change)
            }
        }
        _ if !current && !item.offline => {
            let reason = format!(
                "{} reported under stale claim token {} (current {}): not applied",
                item.outcome.as_str(),
                item.claim_token,
                row.claim_token
            );
            (ItemStatus::Flagged, Some(reason), OrderChange::default())
        }
        _ if order.status == OrderStatus::Paid => {
            // A late non-success for an order already paid is history, not a status change.
            (
                ItemStatus::Applied,
                None,
                OrderChange {
                    release: holds,
                    clear_open_intent: closes_open_intent,
                    ..OrderChange::default()
                },
            )
        }
        ResultOutcome::Declined => (
            ItemStatus::Applied,
            None,
            OrderChange {
                new_status: Some(OrderStatus::Failed),
                release: holds,
                clear_open_intent: closes_open_intent || holds,
                ..OrderChange::default()
            },
        ),
        ResultOutcome::Canceled => (
            ItemStatus::Applied,
            None,
            OrderChange {
                release: holds,
                clear_open_intent: closes_open_intent || holds,
                ..OrderChange::default()
            },
        ),
        // The intent stays open: the customer may still complete it, so a later claimant must
        // look at it before creating another.
        ResultOutcome::RequiresAction => (
            ItemStatus::Applied,
            None,
            OrderChange {
                new_status: Some(OrderStatus::NeedsAction),
                release: holds,
                ..OrderChange::default()
            },
        ),
        ResultOutcome::NeedsReview => (
            ItemStatus::Applied,
            None,
            OrderChange {
                new_status: Some(OrderStatus::NeedsReview),
                release: holds,
                ..OrderChange::default()
            },
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An order of 10.00 EUR with current token 2, held or not, in `status`, paid by `paid`.
    fn row(status: OrderStatus, held: bool, paid: Option<&str>, open: Option<&str>) -> OrderRow {
        OrderRow {
            order: Order {
                order_id: OrderId::new("o").unwrap(),
                amount: Money::parse("10.00 EUR").unwrap(),
                customer_id: "c".into(),
                payment_method_id: "p".into(),
                description: String::new(),
                status,
                claim: None,
                paid_intent_id: paid.map(|p| GatewayIntentId::new(p).unwrap()),
                refunded_minor: 0,
                disputed: false,
                created_at: Timestamp::from_unix_ms(0),
                updated_at: Timestamp::from_unix_ms(0),
            },
            claim_token: 2,
            attempt_seq: 2,
            holder_terminal: held.then(|| "t".to_string()),
            lease_until: held.then_some(1),
            open_intent_id: open.map(str::to_string),
        }
    }

    fn item(outcome: ResultOutcome, token: u64, amount: &str, intent: Option<&str>) -> ResultItem {
        ResultItem {
            attempt_id: AttemptId::parse("0190a5d4-7e1c-7c3e-8d2a-1b2c3d4e5f60").unwrap(),
            order_id: OrderId::new("o").unwrap(),
            attempt_number: AttemptNumber::new(2).unwrap(),
            claim_token: ClaimToken::new(token).unwrap(),
            outcome,
            amount: Money::parse(amount).unwrap(),
            intent_id: intent.map(|i| GatewayIntentId::new(i).unwrap()),
            offline: false,
            occurred_at: Timestamp::from_unix_ms(0),
        }
    }

    /// (status, new order status, release) for one case.
    fn check(row: OrderRow, item: ResultItem) -> (ItemStatus, Option<OrderStatus>, bool) {
        let (status, _, change) = decide(&row, &item);
        (status, change.new_status, change.release)
    }

    #[test]
    fn decide_table() {
        use ItemStatus::{Applied, Flagged};
        use OrderStatus::*;
        use ResultOutcome as R;
        let open = Some("pi_1");
        let cases = [
            // Current holder reports: applied, order moves, flag released.
            (
                row(Unpaid, true, None, open),
                item(R::Succeeded, 2, "10.00 EUR", open),
                (Applied, Some(Paid), true),
            ),
            (
                row(Unpaid, true, None, open),
                item(R::Declined, 2, "10.00 EUR", open),
                (Applied, Some(Failed), true),
            ),
            (
                row(Unpaid, true, None, open),
                item(R::RequiresAction, 2, "10.00 EUR", open),
                (Applied, Some(NeedsAction), true),
            ),
            (
                row(Unpaid, true, None, open),
                item(R::Canceled, 2, "10.00 EUR", open),
                (Applied, None, true),
            ),
            (
                row(Unpaid, true, None, open),
                item(R::NeedsReview, 2, "10.00 EUR", open),
                (Applied, Some(NeedsReview), true),
            ),
            // A stale success still marks the order paid (the money moved) but is flagged and
            // leaves the newer holder alone; a stale decision is flagged and not applied.
            (
                row(Unpaid, true, None, None),
                item(R::Succeeded, 1, "10.00 EUR", Some("pi_0")),
                (Flagged, Some(Paid), false),
            ),
            (
                row(Unpaid, true, None, None),
                item(R::Declined, 1, "10.00 EUR", None),
                (Flagged, None, false),
            ),
            // Contradictions: another amount, a second success.
            (
                row(Unpaid, true, None, open),
                item(R::Succeeded, 2, "10.01 EUR", open),
                (Flagged, Some(NeedsReview), true),
            ),
            (
                row(Unpaid, true, None, open),
                item(R::Declined, 2, "10.01 EUR", open),
                (Flagged, None, false),
            ),
            (
                row(Paid, false, Some("pi_1"), None),
                item(R::Succeeded, 2, "10.00 EUR", Some("pi_2")),
                (Flagged, Some(NeedsReview), false),
            ),
            // The same success seen first by a webhook: nothing more to do.
            (
                row(Paid, true, Some("pi_1"), open),
                item(R::Succeeded, 2, "10.00 EUR", open),
                (Applied, None, true),
            ),
            // A late decline for a paid order is history only.
            (
                row(Paid, false, Some("pi_1"), None),
                item(R::Declined, 2, "10.00 EUR", Some("pi_0")),
                (Applied, None, false),
            ),
        ];
        for (i, (row, item, expected)) in cases.into_iter().enumerate() {
            assert_eq!(check(row, item), expected, "case {i}");
        }
    }

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

//! Claims: the per-order processing flag. Claiming, renewing and releasing it, fenced intent
//! registration, the refusals of stale tokens, and the claim audit every holding writes.
//!
//! Deliberately absent: ending a holding by a result (`inbox.rs`) or by the sweeper (`sweep.rs`);
//! both write their audit row through the one INSERT here.

use paydesk_core::{
    AttemptNumber, ClaimToken, Currency, GatewayIntentId, InstallmentNumber, Money, OperatorId,
    OrderId, TerminalId, Timestamp,
};
use paydesk_protocol::{Claim, OrderSnapshot, OrderStatus};
use sqlx::{Any, Row, Transaction};

use super::{attempt_number, claim_token, corrupt, Backend, Store};
use crate::error::{CentralError, CentralResult};

/// A row of the claim audit, for checking that holdings never overlap and who held each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRow {
    pub order_id: String,
    pub claim_token: i64,
    pub event: String,
    /// The holding's operator and terminal: the same on every row of one holding.
    pub operator_id: String,
    pub terminal_id: String,
    pub at: i64,
    pub lease_until: Option<i64>,
}

/// What happened to a holding (an order's claim under one token), as the audit's `event` column
/// names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum AuditEvent {
    /// The holding began. Its row records the holder that every later row of it repeats.
    Claimed,
    Renewed,
    /// Its holder let go before registering an intent.
    Released,
    /// A result under its token ended it.
    Result,
    /// The sweeper ended it after its lease ran out.
    Swept,
}

impl AuditEvent {
    fn as_str(self) -> &'static str {
        match self {
            AuditEvent::Claimed => "claimed",
            AuditEvent::Renewed => "renewed",
            AuditEvent::Released => "released",
            AuditEvent::Result => "result",
            AuditEvent::Swept => "swept",
        }
    }
}

/// The one INSERT into the claim audit, for every writer on both backends: alone in a
/// transaction (`audit`) or inside PostgreSQL's single-statement claim and release.
///
/// `holdings` names a relation with the order row's columns (the `orders` table, or an UPDATE's
/// `RETURNING`), aliased `h` and narrowed by `filter`; `at` is the SQL for the event's time. A
/// claim takes its holder and lease from the row it just wrote. Every later event names the holder
/// the holding's `claimed` row recorded (an ended holding is no longer on the order row), so all
/// rows of a holding name the same operator and terminal, whichever backend wrote them. Were that
/// row ever missing, the event is still recorded, naming nobody, rather than lost.
///
/// `session` is the SQL for the session the event was made in (`NULL` unless a person's session
/// made it: only a claim is).
pub(super) fn audit_insert(
    event: AuditEvent,
    holdings: &str,
    filter: &str,
    at: &str,
    session: &str,
) -> String {
    let (holder, join) = match event {
        AuditEvent::Claimed => ("h.holder_operator, h.holder_terminal", ""),
        _ => (
            "COALESCE(a.operator_id, ''), COALESCE(a.terminal_id, '')",
            " LEFT JOIN claim_audit a ON a.order_id = h.order_id \
             AND a.claim_token = h.claim_token AND a.event = 'claimed'",
        ),
    };
    let lease_until = match event {
        AuditEvent::Claimed | AuditEvent::Renewed => "h.lease_until",
        AuditEvent::Released | AuditEvent::Result | AuditEvent::Swept => "NULL",
    };
    format!(
        "INSERT INTO claim_audit (order_id, claim_token, event, operator_id, terminal_id, at, \
         lease_until, session_id) SELECT h.order_id, h.claim_token, '{}', {holder}, {at}, \
         {lease_until}, {session} FROM {holdings} h{join}{filter}",
        event.as_str()
    )
}

/// Writes the audit row of `event` for the current holding of `order_id`, inside `tx` and after
/// the statement that changed the order row.
pub(super) async fn audit(
    tx: &mut Transaction<'static, Any>,
    order_id: &str,
    event: AuditEvent,
    at: Timestamp,
) -> CentralResult<()> {
    let sql = audit_insert(event, "orders", " WHERE h.order_id = $1", "$2", "NULL");
    let done = sqlx::query(&sql)
        .bind(order_id)
        .bind(at.unix_ms())
        .execute(&mut **tx)
        .await?;
    if done.rows_affected() != 1 {
        return Err(corrupt(format!(
            "order {order_id}: the claim audit row for {} was not written",
            event.as_str()
        )));
    }
    Ok(())
}

/// The statuses a claim accepts, as an SQL list (`'unpaid', 'failed', …`), built from the one
/// rule, [`OrderStatus::is_chargeable`].
fn chargeable_sql() -> String {
    OrderStatus::ALL
        .into_iter()
        .filter(|s| s.is_chargeable())
        .map(|s| format!("'{}'", s.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Store {
    /// Claims an order: one conditional UPDATE that succeeds only if nobody holds a live lease
    /// and the order can still be charged. It grows the fencing token and the attempt number.
    ///
    /// `now` was read before the row lock was ours, so it may predate the end of the holding
    /// this claim follows; the holding therefore starts at the later of `now` and `ended_at`, and
    /// the audit never shows two holders at once. On PostgreSQL the UPDATE and its audit row are
    /// one statement (a data-modifying CTE): one round trip per claim. The audit row records
    /// `session_id`, the operator session the claim was made in (`None` for a tool working on
    /// the store directly, such as a benchmark).
    ///
    /// Installments (issue 12): the claim grants `amount_minor` (the order's currency; `None`:
    /// the balance due) only while it is at most the balance due, in the same conditional
    /// UPDATE, and records the grant and the installment (one more than the successes counted)
    /// on the order row. One live claim per order therefore serializes the installments: the
    /// next claim is granted only after this one's result was counted. The caller checked the
    /// amount's sign, currency and permission before.
    pub async fn claim(
        &self,
        order_id: &OrderId,
        operator: &OperatorId,
        terminal: &TerminalId,
        session_id: Option<&str>,
        now: Timestamp,
        lease_ms: i64,
    ) -> CentralResult<Claim> {
        self.claim_amount(
            order_id, operator, terminal, session_id, now, lease_ms, None,
        )
        .await
    }

    /// [`Store::claim`] for `amount_minor` of the order's currency (`None`: the balance due).
    #[allow(clippy::too_many_arguments)]
    pub async fn claim_amount(
        &self,
        order_id: &OrderId,
        operator: &OperatorId,
        terminal: &TerminalId,
        session_id: Option<&str>,
        now: Timestamp,
        lease_ms: i64,
        amount_minor: Option<i64>,
    ) -> CentralResult<Claim> {
        const UPDATE: &str = "UPDATE orders SET claim_token = claim_token + 1, \
             attempt_seq = attempt_seq + 1, holder_operator = $1, holder_terminal = $2, \
             claimed_at = {later}($3, ended_at), lease_until = {later}($3, ended_at) + $4, \
             claim_amount_minor = COALESCE(CAST($6 AS BIGINT), amount_minor - paid_minor), \
             claim_installment = payments_counted + 1, \
             updated_at = $3 \
             WHERE order_id = $5 AND status IN ({chargeable}) \
             AND paid_minor < amount_minor \
             AND COALESCE(CAST($6 AS BIGINT), 1) <= amount_minor - paid_minor \
             AND (holder_terminal IS NULL OR lease_until <= $3) \
             AND EXISTS (SELECT 1 FROM operators WHERE operator_id = $1) \
             RETURNING order_id, claim_token, attempt_seq, amount_minor, currency, status, \
             customer_id, payment_method_id, open_intent_id, claimed_at, lease_until, \
             holder_operator, holder_terminal, paid_minor, claim_amount_minor, \
             claim_installment";
        let bind = |sql: &'static str| {
            sqlx::query(sql)
                .bind(operator.as_str())
                .bind(terminal.as_str())
                .bind(now.unix_ms())
                .bind(lease_ms)
                .bind(order_id.as_str())
                .bind(amount_minor)
                .bind(session_id)
        };
        let row = match self.backend {
            Backend::Postgres => {
                static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
                let sql = SQL.get_or_init(|| {
                    format!(
                        "WITH c AS ({}), audited AS ({}) SELECT * FROM c",
                        UPDATE
                            .replace("{later}", "GREATEST")
                            .replace("{chargeable}", &chargeable_sql()),
                        audit_insert(AuditEvent::Claimed, "c", "", "h.claimed_at", "$7")
                    )
                });
                bind(sql).fetch_optional(&self.pool).await?
            }
            Backend::Sqlite => {
                static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
                let sql = SQL.get_or_init(|| {
                    UPDATE
                        .replace("{later}", "MAX")
                        .replace("{chargeable}", &chargeable_sql())
                });
                let mut tx = self.pool.begin().await?;
                // SQLite counts `$7` even where the statement does not use it: bind without it.
                let row = sqlx::query(sql)
                    .bind(operator.as_str())
                    .bind(terminal.as_str())
                    .bind(now.unix_ms())
                    .bind(lease_ms)
                    .bind(order_id.as_str())
                    .bind(amount_minor)
                    .fetch_optional(&mut *tx)
                    .await?;
                if let Some(row) = &row {
                    let claimed_at = Timestamp::from_unix_ms(row.try_get("claimed_at")?);
                    let sql = audit_insert(
                        AuditEvent::Claimed,
                        "orders",
                        " WHERE h.order_id = $1",
                        "$2",
                        "$3",
                    );
                    let done = sqlx::query(&sql)
                        .bind(order_id.as_str())
                        .bind(claimed_at.unix_ms())
                        .bind(session_id)
                        .execute(&mut *tx)
                        .await?;
                    if done.rows_affected() != 1 {
                        return Err(corrupt(format!(
                            "order {order_id}: the claim audit row was not written"
                        )));
                    }
                }
                tx.commit().await?;
                row
            }
        };
        let Some(row) = row else {
            return Err(self
                .why_not_claimable(order_id, operator, now, amount_minor)
                .await);
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
                paid_minor: row.try_get("paid_minor")?,
            },
            open_intent_id: open_intent_id
                .map(GatewayIntentId::new)
                .transpose()
                .map_err(corrupt)?,
            installment: u32::try_from(row.try_get::<i64, _>("claim_installment")?)
                .ok()
                .and_then(|n| InstallmentNumber::new(n).ok())
                .ok_or_else(|| corrupt("claim installment out of range"))?,
            amount: Some(
                Money::new(row.try_get("claim_amount_minor")?, currency).map_err(corrupt)?,
            ),
        })
    }

    async fn why_not_claimable(
        &self,
        order_id: &OrderId,
        operator: &OperatorId,
        now: Timestamp,
        amount_minor: Option<i64>,
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
                _ if !row.order.status.is_chargeable() => CentralError::NotChargeable {
                    order_id: order_id.clone(),
                    status: row.order.status,
                },
                // Counted successes reached the amount while the status still says otherwise
                // (an offline over-charge on its way to review): nothing is left to charge.
                _ if row.order.balance_due().minor() <= 0 => CentralError::NotChargeable {
                    order_id: order_id.clone(),
                    status: OrderStatus::Paid,
                },
                _ if amount_minor.is_some_and(|a| a > row.order.balance_due().minor()) => {
                    CentralError::InvalidAmount(format!(
                        "{} is more than the balance due on order {order_id} ({}, of {}): \
                         charge at most the balance",
                        Money::new(amount_minor.unwrap_or(0), row.order.amount.currency())
                            .map(|m| m.to_string())
                            .unwrap_or_default(),
                        row.order.balance_due(),
                        row.order.amount
                    ))
                }
                // The holder let go between our UPDATE and this read: the client may retry.
                _ => CentralError::Conflict(format!(
                    "order {order_id} changed hands while claiming: try the claim again"
                )),
            },
        }
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
        audit(&mut tx, order_id.as_str(), AuditEvent::Renewed, now).await?;
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
                        "WITH r AS ({UPDATE} RETURNING order_id, claim_token) {}",
                        audit_insert(AuditEvent::Released, "r", "", "$1", "NULL")
                    )
                });
                bind(sql).execute(&self.pool).await?.rows_affected() == 1
            }
            Backend::Sqlite => {
                let mut tx = self.pool.begin().await?;
                let done = bind(UPDATE).execute(&mut *tx).await?.rows_affected() == 1;
                if done {
                    audit(&mut tx, order_id.as_str(), AuditEvent::Released, now).await?;
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
             registered_at, state, amount_minor, installment) \
             SELECT $1, $2, $3, $4, $5, $6, 'open', claim_amount_minor, claim_installment \
             FROM orders WHERE order_id = $2 \
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
            "SELECT order_id, claim_token, event, operator_id, terminal_id, at, lease_until \
             FROM claim_audit ORDER BY order_id, claim_token, audit_id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(AuditRow {
                    order_id: r.try_get("order_id")?,
                    claim_token: r.try_get("claim_token")?,
                    event: r.try_get("event")?,
                    operator_id: r.try_get("operator_id")?,
                    terminal_id: r.try_get("terminal_id")?,
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
}

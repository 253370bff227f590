//! The journal's read side for people and for the engine's decisions: one attempt, filtered lists
//! of attempts, an attempt's timeline, per-day totals, the unresolved attempts recovery works
//! through, and the offline shift total the offline policy checks.
//!
//! Deliberately absent: writes (`lib.rs` and `outbox.rs`), integrity checks (`verify.rs`), and any
//! decision on what the numbers mean (the engine and the core decide; these only read).

use paydesk_core::{
    Attempt, AttemptId, AttemptState, Currency, Money, OperatorId, OrderId, Timestamp,
};
use rusqlite::types::Value;
use rusqlite::{params, params_from_iter};

use crate::error::{corrupt, db};
use crate::rows::{attempt_from_row, ATTEMPT_COLUMNS};
use crate::{
    load_attempt, not_found, AttemptFilter, Journal, JournalError, OperatorDayTotal, StoredEvent,
    ATTEMPT_ROWS_DEFAULT, ATTEMPT_ROWS_MAX,
};

/// Milliseconds in a UTC day, for grouping totals by day.
const MS_PER_DAY: i64 = 86_400_000;

impl Journal {
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

    /// The chain hash (hex) of the event at `seq`, or `None` when the journal has no such event:
    /// what a terminal compares with the head the central holds as its receipt.
    pub fn event_hash(&self, seq: i64) -> Result<Option<String>, JournalError> {
        use rusqlite::OptionalExtension as _;
        self.conn
            .query_row("SELECT hash FROM events WHERE seq = ?1", [seq], |r| {
                r.get(0)
            })
            .optional()
            .map_err(db(&self.path, "reading an event's hash"))
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

    /// The money this terminal's offline attempts begun since `since` may have moved, in
    /// `currency`: the sum of their amounts, leaving out attempts that provably moved none
    /// (declined, canceled, waiting for the customer's action). The offline policy checks a
    /// shift's allowance against it. Counts among the newest [`ATTEMPT_ROWS_MAX`] attempts begun
    /// since `since`; a sum that would overflow stops growing instead of failing.
    pub fn offline_total_since(
        &self,
        since: Timestamp,
        currency: Currency,
    ) -> Result<Money, JournalError> {
        let mut total = Money::zero(currency);
        for a in self.attempts(&AttemptFilter {
            from: Some(since),
            limit: Some(ATTEMPT_ROWS_MAX),
            ..AttemptFilter::default()
        })? {
            let moved_no_money = matches!(
                a.state,
                AttemptState::Declined | AttemptState::Canceled | AttemptState::RequiresAction
            );
            if a.offline && !moved_no_money && a.amount.currency() == currency {
                total = total.checked_add(a.amount).unwrap_or(total);
            }
        }
        Ok(total)
    }

    /// How many offline attempts of `order` this journal holds (among its newest
    /// [`ATTEMPT_ROWS_MAX`] attempts): the next offline attempt's number follows from it.
    pub fn offline_attempts_of(&self, order: &OrderId) -> Result<usize, JournalError> {
        Ok(self
            .attempts(&AttemptFilter {
                order: Some(order.clone()),
                limit: Some(ATTEMPT_ROWS_MAX),
                ..AttemptFilter::default()
            })?
            .iter()
            .filter(|a| a.offline)
            .count())
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

//! The audit log's and the day close's storage: one time-ordered view over what the central
//! records (authentication events, claims, stale-token refusals, results, offline grants,
//! day sign-offs), the day's results per operator, and the day's sign-off.
//!
//! Deliberately absent: matching against the gateway and rendering (`crate::http_audit`).

use sqlx::any::AnyRow;
use sqlx::Row;

use super::Store;
use crate::error::CentralResult;

/// Entries of one audit page at most.
pub const AUDIT_PAGE_ROWS_MAX: i64 = 500;

/// The filters of an audit listing; times are milliseconds, `[from, to)`.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub from: Option<i64>,
    pub to: Option<i64>,
    pub terminal: Option<String>,
    /// Matches the person who acted or the one who approved.
    pub operator: Option<String>,
    pub kind: Option<String>,
    pub outcome: Option<String>,
    /// Entries strictly after this position in the listing (newest first).
    pub after: Option<AuditCursor>,
    pub limit: i64,
}

/// A position in the listing: (time, source, row id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditCursor {
    pub at: i64,
    pub source: String,
    pub row_id: String,
}

/// One entry of the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub at: i64,
    pub source: String,
    pub row_id: String,
    pub kind: String,
    /// `done` or `refused`.
    pub outcome: String,
    pub operator_id: Option<String>,
    pub terminal_id: Option<String>,
    pub approver: Option<String>,
    pub order_id: Option<String>,
    pub amount_minor: Option<i64>,
    pub currency: Option<String>,
    pub detail: String,
}

/// Every source of the audit view, as one SELECT each with the same columns. The rows another
/// table holds in full (grants, reversals, approvals) are not repeated from `auth_audit`; its
/// refusals (`…_refused`, before any row was written) are kept.
fn audit_sources() -> Vec<&'static str> {
    let mut v = vec![
        "SELECT a.at AS at, 'auth' AS src, CAST(a.id AS TEXT) AS rid, a.event AS kind, \
         CASE WHEN a.event IN ('pin_wrong', 'locked', 'rate_limited', 'admin_401', 'forbidden') \
         OR a.event LIKE '%refused' THEN 'refused' ELSE 'done' END AS outcome, a.operator_id AS operator_id, \
         a.terminal_id AS terminal_id, CAST(NULL AS TEXT) AS approver, \
         CAST(NULL AS TEXT) AS order_id, CAST(NULL AS BIGINT) AS amount_minor, \
         CAST(NULL AS TEXT) AS currency, COALESCE(a.detail, '') AS detail \
         FROM auth_audit a WHERE a.event NOT IN ('allowance_granted', 'reversal_requested', \
         'approval_granted')",
        "SELECT c.at, 'claim', CAST(c.audit_id AS TEXT), 'claim_' || c.event, 'done', \
         c.operator_id, c.terminal_id, CAST(NULL AS TEXT), c.order_id, CAST(NULL AS BIGINT), \
         CAST(NULL AS TEXT), 'claim token ' || CAST(c.claim_token AS TEXT) \
         FROM claim_audit c WHERE c.event <> 'renewed'",
        "SELECT f.at, 'fencing', CAST(f.refusal_id AS TEXT), 'stale_token', 'refused', \
         CAST(NULL AS TEXT), f.terminal_id, CAST(NULL AS TEXT), f.order_id, \
         CAST(NULL AS BIGINT), CAST(NULL AS TEXT), \
         f.operation || ' with claim token ' || CAST(f.presented_token AS TEXT) || \
         ' (current ' || CAST(f.current_token AS TEXT) || ')' \
         FROM fencing_refusals f",
        "SELECT r.received_at, 'result', r.attempt_id || '/' || CAST(r.interim AS TEXT), \
         'result_' || r.outcome, \
         CASE WHEN r.status IN ('rejected', 'flagged') THEN 'refused' ELSE 'done' END, \
         (SELECT MIN(c.operator_id) FROM claim_audit c WHERE c.order_id = r.order_id \
          AND c.claim_token = r.claim_token AND c.terminal_id = r.terminal_id \
          AND c.event = 'claimed'), \
         r.terminal_id, CAST(NULL AS TEXT), r.order_id, r.amount_minor, \
         r.currency, r.status || COALESCE(': ' || r.reason, '') \
         FROM results r",
        "SELECT g.granted_at, 'grant', g.grant_id, 'allowance_granted', 'done', g.approved_by, \
         g.terminal_id, g.approved_by, CAST(NULL AS TEXT), g.per_shift_minor, g.currency, \
         'offline allowance until ' || CAST(g.until_at AS TEXT) || ' ms, per charge ' || \
         CAST(g.per_charge_minor AS TEXT) \
         FROM offline_grants g",
        "SELECT d.signed_at, 'day_close', d.day, 'day_signed_off', 'done', d.signed_by, \
         d.terminal_id, d.signed_by, CAST(NULL AS TEXT), CAST(NULL AS BIGINT), \
         CAST(NULL AS TEXT), 'day ' || d.day || ' totals ' || d.totals_digest \
         FROM day_close_signoffs d",
    ];
    v.extend(later_sources());
    v
}

/// The manager's desk of issue 11 in the audit view: reversals and approvals (migration 0006)
/// and resolutions (migration 0007), one SELECT per table with the columns of
/// [`audit_sources`] (at, src, rid, kind, outcome, operator_id, terminal_id, approver, order_id,
/// amount_minor, currency, detail). A table added later joins here.
fn later_sources() -> Vec<&'static str> {
    vec![
        "SELECT v.created_at, 'reversal', v.reversal_id, 'reversal_' || v.kind, \
         CASE WHEN v.state = 'failed' THEN 'refused' ELSE 'done' END, v.requested_by, \
         v.terminal_id, v.approved_by, v.order_id, v.amount_minor, v.currency, \
         v.state || ': ' || v.reason || COALESCE(' (' || v.failure || ')', '') \
         FROM reversals v",
        "SELECT p.created_at, 'approval', p.approval_id, 'approval_granted', 'done', \
         p.approved_by, p.terminal_id, p.approved_by, p.order_id, p.amount_minor, p.currency, \
         'approves a ' || p.action || COALESCE(', used by ' || p.used_by, ', unused') \
         FROM approvals p",
        "SELECT z.at, 'resolution', CAST(z.resolution_id AS TEXT), 'resolution_' || z.action, \
         CASE WHEN z.outcome = 'refused' THEN 'refused' ELSE 'done' END, z.manager_id, \
         z.terminal_id, CAST(NULL AS TEXT), z.order_id, CAST(NULL AS BIGINT), \
         CAST(NULL AS TEXT), z.outcome || ': ' || z.reason || COALESCE(' (intent ' || \
         z.intent_id || ')', '') || COALESCE(' (attempt ' || z.attempt_id || ')', '') \
         FROM resolutions z",
        // The duplicate guard and the reattempt limits (migration 0013): every refusal, and a
        // similar payment charged after the operator confirmed it.
        "SELECT g.at, 'guard', CAST(g.event_id AS TEXT), 'guard_' || g.kind, \
         CASE WHEN g.outcome = 'refused' THEN 'refused' ELSE 'done' END, g.operator_id, \
         g.terminal_id, CAST(NULL AS TEXT), g.order_id, g.amount_minor, g.currency, g.detail \
         FROM claim_guard_events g",
        // Orders waiting for their customer (migration 0016): links sent, contacts recorded.
        "SELECT k.at, 'customer', k.action_id, 'customer_' || k.kind, 'done', k.operator_id, \
         k.terminal_id, CAST(NULL AS TEXT), k.order_id, CAST(NULL AS BIGINT), \
         CAST(NULL AS TEXT), 'intent ' || k.intent_id || CASE WHEN k.note = '' THEN '' \
         ELSE ': ' || k.note END \
         FROM customer_actions k",
    ]
}

fn entry(r: &AnyRow) -> CentralResult<AuditEntry> {
    Ok(AuditEntry {
        at: r.try_get("at")?,
        source: r.try_get("src")?,
        row_id: r.try_get("rid")?,
        kind: r.try_get("kind")?,
        outcome: r.try_get("outcome")?,
        operator_id: r.try_get("operator_id")?,
        terminal_id: r.try_get("terminal_id")?,
        approver: r.try_get("approver")?,
        order_id: r.try_get("order_id")?,
        amount_minor: r.try_get("amount_minor")?,
        currency: r.try_get("currency")?,
        detail: r.try_get("detail")?,
    })
}

/// A day's result or paid order as the day close counts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayResult {
    pub order_id: String,
    /// The operator who held the claim the result came under (`None` when unknown).
    pub operator_id: Option<String>,
    pub terminal_id: String,
    pub outcome: String,
    pub status: String,
    pub amount_minor: i64,
    pub currency: String,
    pub intent_id: Option<String>,
    /// The gateway the order names (`stripe` or `paypal`); `None` for an order the central no
    /// longer holds.
    pub gateway: Option<String>,
}

/// A recorded sign-off of a day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaySignOff {
    pub day: String,
    pub signed_by: String,
    pub terminal_id: String,
    pub session_id: String,
    pub signed_at: i64,
    pub totals_digest: String,
    pub note: Option<String>,
}

impl Store {
    /// One page of the audit log, newest first, `limit` + 1 rows at most (the extra one tells
    /// the caller another page follows).
    pub async fn audit_entries(&self, f: &AuditFilter) -> CentralResult<Vec<AuditEntry>> {
        let union = audit_sources().join(" UNION ALL ");
        let mut sql = format!("SELECT * FROM ({union}) u WHERE 1 = 1");
        let mut n = 0;
        let mut p = || {
            n += 1;
            format!("${n}")
        };
        if f.from.is_some() {
            sql += &format!(" AND u.at >= {}", p());
        }
        if f.to.is_some() {
            sql += &format!(" AND u.at < {}", p());
        }
        if f.terminal.is_some() {
            sql += &format!(" AND u.terminal_id = {}", p());
        }
        if f.operator.is_some() {
            let (a, b) = (p(), p());
            sql += &format!(" AND (u.operator_id = {a} OR u.approver = {b})");
        }
        if f.kind.is_some() {
            sql += &format!(" AND u.kind = {}", p());
        }
        if f.outcome.is_some() {
            sql += &format!(" AND u.outcome = {}", p());
        }
        if f.after.is_some() {
            let (a1, a2, s1, s2, r) = (p(), p(), p(), p(), p());
            sql += &format!(
                " AND (u.at < {a1} OR (u.at = {a2} AND (u.src < {s1} OR (u.src = {s2} \
                 AND u.rid < {r}))))"
            );
        }
        sql += &format!(" ORDER BY u.at DESC, u.src DESC, u.rid DESC LIMIT {}", p());
        let mut q = sqlx::query(&sql);
        if let Some(v) = f.from {
            q = q.bind(v);
        }
        if let Some(v) = f.to {
            q = q.bind(v);
        }
        if let Some(v) = &f.terminal {
            q = q.bind(v.clone());
        }
        if let Some(v) = &f.operator {
            q = q.bind(v.clone()).bind(v.clone());
        }
        if let Some(v) = &f.kind {
            q = q.bind(v.clone());
        }
        if let Some(v) = &f.outcome {
            q = q.bind(v.clone());
        }
        if let Some(c) = &f.after {
            q = q
                .bind(c.at)
                .bind(c.at)
                .bind(c.source.clone())
                .bind(c.source.clone())
                .bind(c.row_id.clone());
        }
        let rows = q.bind(f.limit + 1).fetch_all(&self.pool).await?;
        rows.iter().map(entry).collect()
    }

    /// Appends a `forbidden` row: a signed-in person asked for something their role may not.
    pub async fn audit_forbidden(
        &self,
        terminal_id: &str,
        operator_id: &str,
        session_id: &str,
        detail: &str,
        at: i64,
    ) -> CentralResult<()> {
        sqlx::query(
            "INSERT INTO auth_audit (at, terminal_id, operator_id, event, session_id, detail) \
             VALUES ($1, $2, $3, 'forbidden', $4, $5)",
        )
        .bind(at)
        .bind(terminal_id)
        .bind(operator_id)
        .bind(session_id)
        .bind(detail)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The final results received in `[from, to)` (rejected ones included, with their status),
    /// each with the operator who claimed the order under that claim token.
    pub async fn day_results(&self, from: i64, to: i64) -> CentralResult<Vec<DayResult>> {
        let rows = sqlx::query(
            "SELECT r.order_id, r.terminal_id, r.outcome, r.status, r.amount_minor, r.currency, \
             r.intent_id, (SELECT MIN(c.operator_id) FROM claim_audit c \
             WHERE c.order_id = r.order_id AND c.claim_token = r.claim_token \
             AND c.event = 'claimed') AS operator_id, \
             (SELECT o.gateway FROM orders o WHERE o.order_id = r.order_id) AS gateway \
             FROM results r WHERE r.interim = 0 AND r.received_at >= $1 AND r.received_at < $2 \
             ORDER BY r.received_at, r.attempt_id",
        )
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(DayResult {
                    order_id: r.try_get("order_id")?,
                    operator_id: r.try_get("operator_id")?,
                    terminal_id: r.try_get("terminal_id")?,
                    outcome: r.try_get("outcome")?,
                    status: r.try_get("status")?,
                    amount_minor: r.try_get("amount_minor")?,
                    currency: r.try_get("currency")?,
                    intent_id: r.try_get("intent_id")?,
                    gateway: r.try_get("gateway")?,
                })
            })
            .collect()
    }

    /// The gateway each of `orders` names, by order id (an order the central does not hold is
    /// left out).
    pub async fn order_gateways(
        &self,
        orders: &[String],
    ) -> CentralResult<std::collections::BTreeMap<String, String>> {
        let mut out = std::collections::BTreeMap::new();
        for chunk in orders.chunks(200) {
            let marks: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "SELECT order_id, gateway FROM orders WHERE order_id IN ({})",
                marks.join(", ")
            );
            let mut q = sqlx::query(&sql);
            for o in chunk {
                q = q.bind(o.clone());
            }
            for r in q.fetch_all(&self.pool).await? {
                out.insert(r.try_get("order_id")?, r.try_get("gateway")?);
            }
        }
        Ok(out)
    }

    /// The paying intent and amount of each order paid now, by order id (for the gateway match).
    pub async fn paid_orders_among(
        &self,
        orders: &[String],
    ) -> CentralResult<Vec<(String, Option<String>, i64, String)>> {
        let mut out = Vec::new();
        for chunk in orders.chunks(200) {
            let marks: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "SELECT order_id, paid_intent_id, amount_minor, currency FROM orders \
                 WHERE status = 'paid' AND order_id IN ({})",
                marks.join(", ")
            );
            let mut q = sqlx::query(&sql);
            for o in chunk {
                q = q.bind(o.clone());
            }
            for r in q.fetch_all(&self.pool).await? {
                out.push((
                    r.try_get("order_id")?,
                    r.try_get("paid_intent_id")?,
                    r.try_get("amount_minor")?,
                    r.try_get("currency")?,
                ));
            }
        }
        Ok(out)
    }

    /// Records the sign-off of a day; `false` when the day was signed off already.
    pub async fn sign_off_day(&self, s: &DaySignOff) -> CentralResult<bool> {
        let done = sqlx::query(
            "INSERT INTO day_close_signoffs (day, signed_by, terminal_id, session_id, signed_at, \
             totals_digest, note) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (day) DO NOTHING",
        )
        .bind(&s.day)
        .bind(&s.signed_by)
        .bind(&s.terminal_id)
        .bind(&s.session_id)
        .bind(s.signed_at)
        .bind(&s.totals_digest)
        .bind(s.note.clone())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The sign-off of a day, if any.
    pub async fn day_sign_off(&self, day: &str) -> CentralResult<Option<DaySignOff>> {
        let row = sqlx::query(
            "SELECT day, signed_by, terminal_id, session_id, signed_at, totals_digest, note \
             FROM day_close_signoffs WHERE day = $1",
        )
        .bind(day)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(DaySignOff {
                day: r.try_get("day")?,
                signed_by: r.try_get("signed_by")?,
                terminal_id: r.try_get("terminal_id")?,
                session_id: r.try_get("session_id")?,
                signed_at: r.try_get("signed_at")?,
                totals_digest: r.try_get("totals_digest")?,
                note: r.try_get("note")?,
            })
        })
        .transpose()
    }
}

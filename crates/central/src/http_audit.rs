//! The manager's audit log (`GET /v1/audit`, JSON or CSV) and the day close
//! (`GET /v1/day-close`, `POST /v1/day-close/{day}/sign-off`).
//!
//! Days are UTC calendar days (`YYYY-MM-DD`), counted by when the central received a result;
//! `shift=HH:MM-HH:MM` narrows a report to one shift of the day (the sign-off is of a whole day).
//! Deliberately absent: the terminal's journal side of the day close (the CLI adds it).

use std::collections::BTreeMap;

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use paydesk_core::csv::csv_cell;
use paydesk_core::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::error::CentralError;
use crate::http::AppState;
use crate::http_auth::{rfc3339, AuthError, ManagerOrAdmin, ManagerSession};
use crate::http_input::ApiJson;
use crate::rate_limit::Limit;
use crate::store::{AuditCursor, AuditEntry, AuditFilter, DaySignOff, AUDIT_PAGE_ROWS_MAX};
use crate::{auth, clock, reconcile};

const DAY_MS: i64 = 86_400_000;
/// Entries of an audit page when the caller does not say.
const AUDIT_PAGE_ROWS_DEFAULT: i64 = 100;
/// Longest sign-off note, in characters.
const NOTE_CHARS_MAX: usize = 500;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AuditQuery {
    from: Option<i64>,
    to: Option<i64>,
    terminal: Option<String>,
    operator: Option<String>,
    kind: Option<String>,
    outcome: Option<String>,
    cursor: Option<String>,
    limit: Option<i64>,
    format: Option<String>,
}

fn entry_json(e: &AuditEntry) -> serde_json::Value {
    json!({
        "at": rfc3339(e.at),
        "at_ms": e.at,
        "kind": e.kind,
        "outcome": e.outcome,
        "operator_id": e.operator_id,
        "terminal_id": e.terminal_id,
        "approver": e.approver,
        "order_id": e.order_id,
        "amount_minor": e.amount_minor,
        "currency": e.currency,
        "detail": e.detail,
        "source": e.source,
    })
}

fn csv(entries: &[AuditEntry]) -> String {
    let mut out = String::from(
        "at,kind,outcome,operator_id,terminal_id,approver,order_id,amount_minor,currency,detail\n",
    );
    for e in entries {
        let cells = [
            rfc3339(e.at),
            e.kind.clone(),
            e.outcome.clone(),
            e.operator_id.clone().unwrap_or_default(),
            e.terminal_id.clone().unwrap_or_default(),
            e.approver.clone().unwrap_or_default(),
            e.order_id.clone().unwrap_or_default(),
            e.amount_minor.map(|a| a.to_string()).unwrap_or_default(),
            e.currency.clone().unwrap_or_default(),
            e.detail.clone(),
        ];
        let row: Vec<String> = cells.iter().map(|c| csv_cell(c)).collect();
        out += &row.join(",");
        out.push('\n');
    }
    out
}

fn cursor(s: &str) -> Result<AuditCursor, CentralError> {
    let bad = || {
        CentralError::Invalid(
            "`cursor` is not one this central gave: pass next_cursor from the last page".into(),
        )
    };
    let mut parts = s.splitn(3, '.');
    let at = parts.next().and_then(|a| a.parse().ok()).ok_or_else(bad)?;
    let source = parts.next().ok_or_else(bad)?.to_string();
    let row_id = parts.next().ok_or_else(bad)?.to_string();
    Ok(AuditCursor { at, source, row_id })
}

/// The audit log, newest first, one page at a time; CSV with `Accept: text/csv` or `format=csv`.
pub(crate) async fn audit_log(
    State(state): State<AppState>,
    caller: ManagerOrAdmin,
    headers: HeaderMap,
    query: Result<Query<AuditQuery>, QueryRejection>,
) -> Result<Response, AuthError> {
    if let ManagerOrAdmin::Manager(session) = &caller {
        crate::http_settings::require(
            &state,
            session,
            paydesk_protocol::settings::Action::ExportAudit,
        )
        .await?;
    }
    let Query(q) = query.map_err(|e| CentralError::Invalid(e.body_text()))?;
    let limit = q.limit.unwrap_or(AUDIT_PAGE_ROWS_DEFAULT);
    if !(1..=AUDIT_PAGE_ROWS_MAX).contains(&limit) {
        return Err(
            CentralError::Invalid(format!("`limit` must be 1 to {AUDIT_PAGE_ROWS_MAX}")).into(),
        );
    }
    if let (Some(f), Some(t)) = (q.from, q.to) {
        if t <= f {
            return Err(CentralError::Invalid(
                "`from` must be before `to` (milliseconds since the epoch)".into(),
            )
            .into());
        }
    }
    if let Some(o) = q
        .outcome
        .as_deref()
        .filter(|o| !["done", "refused"].contains(o))
    {
        return Err(
            CentralError::Invalid(format!("`outcome` {o:?} is not done or refused")).into(),
        );
    }
    let as_csv = match q.format.as_deref() {
        Some("csv") => true,
        Some("json") => false,
        Some(other) => {
            return Err(
                CentralError::Invalid(format!("`format` {other:?} is not csv or json")).into(),
            )
        }
        None => headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("text/csv")),
    };
    let filter = AuditFilter {
        from: q.from,
        to: q.to,
        terminal: q.terminal,
        operator: q.operator,
        kind: q.kind,
        outcome: q.outcome,
        after: q.cursor.as_deref().map(cursor).transpose()?,
        limit,
    };
    let mut entries = state.store.audit_entries(&filter).await?;
    let more = entries.len() as i64 > limit;
    entries.truncate(limit as usize);
    let next = entries
        .last()
        .filter(|_| more)
        .map(|e| format!("{}.{}.{}", e.at, e.source, e.row_id));
    if as_csv {
        let mut response = (
            [(header::CONTENT_TYPE, "text/csv; charset=utf-8")],
            csv(&entries),
        )
            .into_response();
        if let Some(n) = next.as_deref().and_then(|n| n.parse().ok()) {
            response.headers_mut().insert("x-paydesk-next-cursor", n);
        }
        return Ok(response);
    }
    let list: Vec<_> = entries.iter().map(entry_json).collect();
    Ok(Json(json!({ "entries": list, "next_cursor": next })).into_response())
}

/// Milliseconds of the start of a UTC day `YYYY-MM-DD`.
pub fn day_start_ms(day: &str) -> Option<i64> {
    let b = day.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let y: i64 = day[0..4].parse().ok()?;
    let m: i64 = day[5..7].parse().ok()?;
    let d: i64 = day[8..10].parse().ok()?;
    if !(1..=12).contains(&m) || d < 1 {
        return None;
    }
    // Days from the civil date (Howard Hinnant's algorithm).
    let yy = if m <= 2 { y - 1 } else { y };
    let era = yy.div_euclid(400);
    let yoe = yy - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let ms = days * DAY_MS;
    // A day that does not exist (31 April) reads back as another date.
    (rfc3339(ms).get(0..10) == Some(day)).then_some(ms)
}

fn parse_day(day: &str) -> Result<i64, CentralError> {
    day_start_ms(day).ok_or_else(|| {
        CentralError::Invalid(format!("day {day:?} is not a date: write YYYY-MM-DD (UTC)"))
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DayQuery {
    day: String,
    operator: Option<String>,
    /// One shift of the day, `HH:MM-HH:MM` in UTC (the end not included; `24:00` ends at
    /// midnight); the whole day when absent.
    shift: Option<String>,
}

/// The part of the day `shift` (`HH:MM-HH:MM`, UTC) covers, as milliseconds after midnight.
fn parse_shift(shift: &str) -> Result<(i64, i64), CentralError> {
    let wrong = || {
        CentralError::Invalid(format!(
            "shift {shift:?} is not a part of the day: write HH:MM-HH:MM (UTC), the start before \
             the end, e.g. 06:00-14:00 or 22:00-24:00"
        ))
    };
    let time = |t: &str| -> Result<i64, CentralError> {
        let b = t.as_bytes();
        if b.len() != 5
            || b[2] != b':'
            || !t[..2]
                .bytes()
                .chain(t[3..].bytes())
                .all(|c| c.is_ascii_digit())
        {
            return Err(wrong());
        }
        let (h, m): (i64, i64) = (
            t[..2].parse().map_err(|_| wrong())?,
            t[3..].parse().map_err(|_| wrong())?,
        );
        if m > 59 || h > 24 || (h == 24 && m != 0) {
            return Err(wrong());
        }
        Ok((h * 60 + m) * 60_000)
    };
    let (start, end) = shift.split_once('-').ok_or_else(wrong)?;
    let (start, end) = (time(start.trim())?, time(end.trim())?);
    if start >= end {
        return Err(wrong());
    }
    Ok((start, end))
}

#[derive(Debug, Serialize, Clone, PartialEq, Eq)]
struct TotalRow {
    operator_id: Option<String>,
    /// The terminal the results came from (a terminal compares its journal with its rows).
    terminal_id: String,
    currency: String,
    /// The result's outcome, or `refused` for a result the central rejected.
    outcome: String,
    count: u64,
    sum_minor: i64,
}

/// One (gateway, currency, outcome) of the day: which gateway the orders went through.
#[derive(Debug, Serialize, Clone, PartialEq, Eq)]
struct GatewayTotalRow {
    /// The gateway the order names (`stripe` or `paypal`), or `unknown` for an order the
    /// central no longer holds.
    gateway: String,
    currency: String,
    /// The result's outcome, or `refused` for a result the central rejected.
    outcome: String,
    count: u64,
    sum_minor: i64,
}

/// The day's totals: per operator, terminal, currency and outcome (what the digest covers, as
/// before gateways were counted), and per gateway, currency and outcome.
struct DayTotals {
    rows: Vec<TotalRow>,
    digest: String,
    by_gateway: Vec<GatewayTotalRow>,
}

/// The totals of the results received in `[from, to)` (a day, or one shift of it), and the
/// digest of the per-operator rows.
async fn day_totals(
    state: &AppState,
    from: i64,
    to: i64,
    operator: Option<&str>,
) -> Result<DayTotals, CentralError> {
    let results = state.store.day_results(from, to).await?;
    type Key = (Option<String>, String, String, String);
    let mut totals: BTreeMap<Key, (u64, i64)> = BTreeMap::new();
    let mut by_gateway: BTreeMap<(String, String, String), (u64, i64)> = BTreeMap::new();
    for r in results
        .iter()
        .filter(|r| operator.is_none_or(|o| r.operator_id.as_deref() == Some(o)))
    {
        let outcome = if r.status == "rejected" {
            "refused".to_string()
        } else {
            r.outcome.clone()
        };
        let g = by_gateway
            .entry((
                r.gateway.clone().unwrap_or_else(|| "unknown".into()),
                r.currency.clone(),
                outcome.clone(),
            ))
            .or_default();
        g.0 += 1;
        g.1 += r.amount_minor;
        let t = totals
            .entry((
                r.operator_id.clone(),
                r.terminal_id.clone(),
                r.currency.clone(),
                outcome,
            ))
            .or_default();
        t.0 += 1;
        t.1 += r.amount_minor;
    }
    let rows: Vec<TotalRow> = totals
        .into_iter()
        .map(
            |((operator_id, terminal_id, currency, outcome), (count, sum_minor))| TotalRow {
                operator_id,
                terminal_id,
                currency,
                outcome,
                count,
                sum_minor,
            },
        )
        .collect();
    let canonical = serde_json::to_string(&rows).unwrap_or_default();
    let by_gateway = by_gateway
        .into_iter()
        .map(
            |((gateway, currency, outcome), (count, sum_minor))| GatewayTotalRow {
                gateway,
                currency,
                outcome,
                count,
                sum_minor,
            },
        )
        .collect();
    Ok(DayTotals {
        rows,
        digest: auth::token_sha256(&canonical),
        by_gateway,
    })
}

fn sign_off_json(s: &DaySignOff) -> serde_json::Value {
    json!({
        "day": s.day,
        "signed_by": s.signed_by,
        "terminal_id": s.terminal_id,
        "signed_at": rfc3339(s.signed_at),
        "totals_digest": s.totals_digest,
        "note": s.note,
    })
}

/// The day close: the central's totals for a UTC day, the differences with the gateway's
/// intents of that day (rate-limited per terminal like reconciliation), and the sign-off.
pub(crate) async fn day_close(
    State(state): State<AppState>,
    caller: ManagerOrAdmin,
    query: Result<Query<DayQuery>, QueryRejection>,
) -> Result<Response, AuthError> {
    let Query(q) = query.map_err(|e| CentralError::Invalid(e.body_text()))?;
    let day = parse_day(&q.day)?;
    let (from, to) = match q.shift.as_deref().map(parse_shift).transpose()? {
        Some((start, end)) => (day + start, day + end),
        None => (day, day + DAY_MS),
    };
    if let ManagerOrAdmin::Manager(session) = &caller {
        let limit = Limit {
            events_max: 1,
            window_ms: state.config.reconcile_interval_ms,
        };
        let key = format!("day-close {}", session.terminal.terminal_id);
        if let Err(retry_after_ms) =
            state
                .terminals
                .reconciles
                .take(limit, &key, clock::now().unix_ms())
        {
            return Err(AuthError::RateLimited {
                what: "day close reports",
                retry_after_ms,
            });
        }
    }
    let DayTotals {
        rows: totals,
        digest,
        by_gateway,
    } = day_totals(&state, from, to, q.operator.as_deref()).await?;
    let (start, end) = (Timestamp::from_unix_ms(from), Timestamp::from_unix_ms(to));
    let mut differences = Vec::new();
    let gateway_checked = match &state.gateway {
        Some(gateway) => {
            let recorded = state.store.recorded_successes(start, end).await?;
            let intents = gateway.intents_between(start, end).await.map_err(|e| {
                tracing::warn!(error = %e, "day close could not list gateway intents");
                CentralError::Unavailable("the gateway could not be read; retry later")
            })?;
            let report = reconcile::reconcile(start, end, &recorded, &intents);
            let known: Vec<String> = [
                &report.charged_not_recorded,
                &report.recorded_not_charged,
                &report.amount_mismatch,
                &report.multiple_successes,
            ]
            .into_iter()
            .flatten()
            .filter_map(|e| e.order_id.as_ref().map(|o| o.to_string()))
            .collect();
            let gateways = state.store.order_gateways(&known).await?;
            for (kind, list) in [
                ("gateway_success_not_paid", &report.charged_not_recorded),
                ("paid_without_gateway_success", &report.recorded_not_charged),
                ("amount_differs", &report.amount_mismatch),
                ("multiple_successes", &report.multiple_successes),
            ] {
                for e in list {
                    let gateway = e
                        .order_id
                        .as_ref()
                        .and_then(|o| gateways.get(&o.to_string()));
                    let mut kind = kind;
                    let mut detail = e.detail.clone();
                    if kind == "gateway_success_not_paid" {
                        if let Some(refunded) = refunded_outside(&state, e).await? {
                            kind = "gateway_success_refunded_outside";
                            detail = format!("{detail}; {refunded}");
                        }
                    }
                    differences.push(json!({
                        "kind": kind,
                        "order_id": e.order_id,
                        "gateway": gateway,
                        "intent_id": e.intent_id,
                        "detail": detail,
                    }));
                }
            }
            true
        }
        None => false,
    };
    let sign_off = state.store.day_sign_off(&q.day).await?;
    Ok(Json(json!({
        "day": q.day,
        "timezone": "UTC",
        "from": rfc3339(from),
        "to": rfc3339(to),
        "shift": q.shift.map(|s| s.trim().to_string()),
        "operator": q.operator,
        "totals": totals,
        "totals_digest": digest,
        "gateway_totals": by_gateway,
        "gateway_checked": gateway_checked,
        "differences": differences,
        "sign_off": sign_off.as_ref().map(sign_off_json),
    }))
    .into_response())
}

/// For a charge the central has no record of: the refunds of it made outside Paydesk that the
/// gateway's webhooks reported (a refund in the gateway's dashboard), in words, or `None`. Such a
/// charge is not money the customer still misses, and the day close says so instead of listing
/// it only as charged.
async fn refunded_outside(
    state: &AppState,
    e: &paydesk_protocol::ReconcileEntry,
) -> Result<Option<String>, AuthError> {
    let (Some(order), Some(intent)) = (&e.order_id, &e.intent_id) else {
        return Ok(None);
    };
    let refunds: Vec<_> = state
        .store
        .refund_rows(order.as_str())
        .await?
        .into_iter()
        .filter(|r| {
            r.intent_id == intent.as_str()
                && !r.by_paydesk
                && !matches!(r.status.as_str(), "failed" | "canceled")
        })
        .collect();
    if refunds.is_empty() {
        return Ok(None);
    }
    let minor: i64 = refunds.iter().map(|r| r.amount_minor).sum();
    let currency = state.store.order(order).await?.amount.currency();
    let amount = paydesk_core::Money::new(minor, currency)
        .map(|m| m.to_string())
        .unwrap_or_else(|_| format!("{minor} minor units"));
    let ids: Vec<&str> = refunds.iter().map(|r| r.refund_id.as_str()).collect();
    Ok(Some(format!(
        "{amount} of it was refunded outside Paydesk ({})",
        ids.join(", ")
    )))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SignOffRequest {
    pin: String,
    note: Option<String>,
}

/// A manager signs off a UTC day, PIN again: once per day (a second sign-off is 409).
pub(crate) async fn sign_off(
    State(state): State<AppState>,
    ManagerSession(session): ManagerSession,
    day: Result<Path<String>, PathRejection>,
    ApiJson(req): ApiJson<SignOffRequest>,
) -> Result<Response, AuthError> {
    let Path(day) = day.map_err(|e| CentralError::Invalid(e.body_text()))?;
    let from = parse_day(&day)?;
    if from > clock::now().unix_ms() {
        return Err(CentralError::Invalid(format!(
            "day {day} has not begun: sign off today or an earlier day"
        ))
        .into());
    }
    let note = req
        .note
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty());
    if note
        .as_ref()
        .is_some_and(|n| n.chars().count() > NOTE_CHARS_MAX || n.chars().any(char::is_control))
    {
        return Err(CentralError::Invalid(format!(
            "the note must be one line of at most {NOTE_CHARS_MAX} characters"
        ))
        .into());
    }
    crate::http_settings::require(
        &state,
        &session,
        paydesk_protocol::settings::Action::SignOffDay,
    )
    .await?;
    session.recheck_pin(&state, &req.pin).await?;
    let digest = day_totals(&state, from, from + DAY_MS, None).await?.digest;
    let record = DaySignOff {
        day: day.clone(),
        signed_by: session.operator_id.to_string(),
        terminal_id: session.terminal.terminal_id.to_string(),
        session_id: session.session_id.clone(),
        signed_at: clock::now().unix_ms(),
        totals_digest: digest,
        note,
    };
    if !state.store.sign_off_day(&record).await? {
        let by = state
            .store
            .day_sign_off(&day)
            .await?
            .map(|s| format!(" by {} at {}", s.signed_by, rfc3339(s.signed_at)))
            .unwrap_or_default();
        return Err(CentralError::Conflict(format!("day {day} was signed off already{by}")).into());
    }
    tracing::info!(%day, manager = %session.operator_id, "day signed off");
    Ok((StatusCode::CREATED, Json(sign_off_json(&record))).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_parse_as_utc_midnight() {
        assert_eq!(day_start_ms("1970-01-01"), Some(0));
        assert_eq!(day_start_ms("2000-02-29"), Some(951_782_400_000));
        assert_eq!(day_start_ms("2001-02-29"), None);
        assert_eq!(day_start_ms("2026-4-01"), None);
    }

    #[test]
    fn cells_never_start_a_formula() {
        assert_eq!(csv_cell("=1+1"), "'=1+1");
        assert_eq!(csv_cell("-2"), "'-2");
        assert_eq!(csv_cell("@x"), "'@x");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("ok"), "ok");
    }
}

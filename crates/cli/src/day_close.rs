//! `paydesk day-close` and `paydesk day-close sign-off`: a manager reads the central's close of a
//! UTC day (totals per operator, terminal, currency and outcome; differences with the gateway)
//! with this terminal's journal totals for the same day beside its rows, differences flagged;
//! and signs the day off (PIN again). `paydesk audit` reads the central's audit log.
//!
//! The journal side is the journal's own totals (as `paydesk journal totals` counts them: by the
//! day an attempt began), the central's by the day it received the result: an attempt still in
//! the outbox, or delivered after midnight, shows as a difference until it arrives.
//! Deliberately absent: PINs anywhere but in memory, and any fixing (a manager decides).

use std::io::Write as _;
use std::path::Path;

use paydesk_core::csv::csv_row;
use paydesk_core::Timestamp;
use paydesk_engine::{Clock as _, SystemClock};
use paydesk_journal::OperatorDayTotal;
use paydesk_terminal::day_close::{day_start, CentralDayClose, DayClose, DAY_MS};
use serde_json::{json, Value};

use crate::config::{journal_failure, Settings};
use crate::exit::{CmdResult, Failure, CONFLICT, OTHER, SUCCESS};
use crate::output;
use crate::reverse::as_manager;
use crate::time::parse_time;

fn text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Writes `rows` as CSV to `file` (`-`: stdout).
fn write_csv(file: &Path, header: &str, rows: &[Vec<String>]) -> Result<(), Failure> {
    let mut out = String::from(header);
    out.push('\n');
    for r in rows {
        out += &csv_row(r);
        out.push('\n');
    }
    write_text(file, &out)
}

/// Writes `out` to `file` (`-`: stdout).
fn write_text(file: &Path, out: &str) -> Result<(), Failure> {
    if file == Path::new("-") {
        let _ = std::io::stdout().write_all(out.as_bytes());
        return Ok(());
    }
    std::fs::write(file, out).map_err(|e| {
        Failure::new(
            OTHER,
            anyhow::anyhow!("could not write {}: {e}", file.display()),
        )
    })
}

/// The start of the UTC day `YYYY-MM-DD` given to `--day`.
fn day_arg(day: &str) -> Result<Timestamp, Failure> {
    day_start(day).map_err(|e| Failure::usage(format!("--day {e}")))
}

/// This terminal's journal totals for the UTC day starting at `from`.
fn journal_totals(settings: &Settings, from: Timestamp) -> Result<Vec<OperatorDayTotal>, String> {
    let journal = settings.open_journal().map_err(|e| e.error.to_string())?;
    journal
        .snapshot(|j| j.totals(from, from.plus_ms(DAY_MS)))
        .map_err(|e| journal_failure(e).error.to_string())
}

/// `paydesk day-close [--day D] --manager M --pin-stdin [--csv FILE|-]`.
pub async fn report(
    settings: &Settings,
    day: Option<&str>,
    manager: Option<&str>,
    pin_stdin: bool,
    csv: Option<&Path>,
) -> CmdResult {
    let manager = manager.ok_or_else(|| Failure::usage("--manager is required"))?;
    let day = day
        .map(str::to_string)
        .unwrap_or_else(|| SystemClock.now().utc_day());
    let from = day_arg(&day)?;
    let terminal_id = settings.terminal_id()?;
    let terminal = terminal_id.to_string();
    let example = format!("paydesk day-close --day {day} --manager ID --pin-stdin");
    let path = format!("/v1/day-close?day={day}");
    let report = as_manager(
        settings,
        manager,
        pin_stdin,
        &example,
        async |client, _pin| client.get_json_in_session::<Value>(&path).await,
    )
    .await?;
    // The journal may be absent on a manager's own terminal: the central's part still stands.
    let central: CentralDayClose = serde_json::from_value(report.clone()).map_err(|e| {
        Failure::new(
            OTHER,
            anyhow::anyhow!("the central's day close could not be read: {e}"),
        )
    })?;
    let close = DayClose::new(central, &terminal_id, journal_totals(settings, from));
    let comparison = &close.comparison;
    let journal: Result<(), &String> = close.journal_error.as_ref().map_or(Ok(()), Err);
    let differences = &close.central.differences;
    let code = if close.agrees() { SUCCESS } else { CONFLICT };
    if let Some(file) = csv {
        write_text(file, &close.csv())?;
        if file == Path::new("-") {
            return Ok(code);
        }
    }
    if settings.json {
        output::json(&json!({
            "central": report,
            "terminal_id": terminal,
            "journal_vs_central": comparison,
            "journal_error": close.journal_error,
            "exit_code": code,
        }));
        return Ok(code);
    }
    out!("day close {day} (UTC; results counted by when the central received them)");
    out!("operator        terminal        currency  outcome          count        amount");
    for t in report["totals"].as_array().into_iter().flatten() {
        out!(
            "{:<14}  {:<14}  {:<8}  {:<15}  {:>5}  {:>12}",
            text(&t["operator_id"]),
            text(&t["terminal_id"]),
            text(&t["currency"]),
            text(&t["outcome"]),
            text(&t["count"]),
            text(&t["sum_minor"]),
        );
    }
    let by_gateway = &close.central.gateway_totals;
    if !by_gateway.is_empty() {
        out!("by gateway:");
        out!("gateway         currency  outcome          count        amount");
        for g in by_gateway {
            out!(
                "{:<14}  {:<8}  {:<15}  {:>5}  {:>12}",
                g.gateway,
                g.currency,
                g.outcome,
                g.count,
                g.sum_minor,
            );
        }
    }
    if report["gateway_checked"] == false {
        out!("the gateway was not checked: no gateway is configured at the central");
    } else if differences.is_empty() {
        out!("the gateway agrees: no differences");
    } else {
        out!("differences with the gateway ({}):", differences.len());
        for d in differences {
            out!(
                "  {} order {}{}: {}",
                d.kind,
                d.order_id.as_deref().unwrap_or("-"),
                d.gateway
                    .as_deref()
                    .map(|g| format!(" ({g})"))
                    .unwrap_or_default(),
                d.detail
            );
        }
    }
    match &journal {
        Err(e) => out!("this terminal's journal was not read: {e}"),
        Ok(_) if comparison.is_empty() => {
            out!("this terminal ({terminal}): no attempts in its journal or at the central")
        }
        Ok(_) => {
            out!("this terminal ({terminal}), journal vs central (succeeded, amount, declined):");
            for c in comparison {
                out!(
                    "  {:<14}  {:<8}  journal {} / {} / {}   central {} / {} / {}{}",
                    c.operator_id,
                    c.currency,
                    c.journal.succeeded,
                    c.journal.succeeded_minor,
                    c.journal.declined,
                    c.central.succeeded,
                    c.central.succeeded_minor,
                    c.central.declined,
                    if c.differs {
                        "   DIFFERS (an undelivered or late result?)"
                    } else {
                        ""
                    },
                );
            }
        }
    }
    match report["sign_off"].as_object() {
        Some(s) => out!(
            "signed off by {} at {} (totals {})",
            text(&s["signed_by"]),
            text(&s["signed_at"]),
            text(&s["totals_digest"])
        ),
        None => {
            out!("not signed off: paydesk day-close sign-off --day {day} --manager ID --pin-stdin")
        }
    }
    Ok(code)
}

/// `paydesk day-close sign-off --day D --manager M --pin-stdin [--note TEXT]`.
pub async fn sign_off(
    settings: &Settings,
    day: &str,
    manager: &str,
    pin_stdin: bool,
    note: Option<&str>,
) -> CmdResult {
    day_arg(day)?;
    let example = format!("paydesk day-close sign-off --day {day} --manager ID --pin-stdin");
    let path = format!("/v1/day-close/{day}/sign-off");
    let signed = as_manager(
        settings,
        manager,
        pin_stdin,
        &example,
        async |client, pin| {
            let body = json!({ "pin": pin.expose(), "note": note });
            client.post_in_session::<_, Value>(&path, &body).await
        },
    )
    .await?;
    if settings.json {
        output::json(&json!({ "sign_off": signed, "exit_code": SUCCESS }));
    } else {
        out!(
            "day {day} signed off by {} at {} (totals {})",
            text(&signed["signed_by"]),
            text(&signed["signed_at"]),
            text(&signed["totals_digest"])
        );
    }
    Ok(SUCCESS)
}

/// The filters of `paydesk audit`.
#[derive(Debug, Default)]
pub struct AuditArgs<'a> {
    pub from: Option<&'a str>,
    pub to: Option<&'a str>,
    pub operator: Option<&'a str>,
    pub kind: Option<&'a str>,
    pub manager: &'a str,
    pub pin_stdin: bool,
    pub csv: Option<&'a Path>,
}

/// Entries one `paydesk audit` reads at most (pages of the central's largest size).
const AUDIT_ENTRIES_MAX: usize = 5_000;

/// `paydesk audit [--from --to --operator --kind] --manager M --pin-stdin [--csv FILE|-]`:
/// newest first.
pub async fn audit(settings: &Settings, args: AuditArgs<'_>) -> CmdResult {
    let mut query = vec!["limit=500".to_string()];
    if let Some(f) = args.from {
        query.push(format!("from={}", parse_time("--from", f)?.unix_ms()));
    }
    if let Some(t) = args.to {
        query.push(format!(
            "to={}",
            crate::time::parse_end("--to", t)?.unix_ms()
        ));
    }
    for (name, value) in [("operator", args.operator), ("kind", args.kind)] {
        if let Some(v) = value {
            if !v
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._:-".contains(c))
            {
                return Err(Failure::usage(format!(
                    "--{name} {v:?}: letters, digits and . _ : - only"
                )));
            }
            query.push(format!("{name}={v}"));
        }
    }
    let base = format!("/v1/audit?{}", query.join("&"));
    let example = "paydesk audit --manager ID --pin-stdin";
    let entries = as_manager(
        settings,
        args.manager,
        args.pin_stdin,
        example,
        async |client, _pin| {
            let mut all: Vec<Value> = Vec::new();
            let mut path = base.clone();
            loop {
                let page: Value = client.get_json_in_session(&path).await?;
                all.extend(page["entries"].as_array().cloned().unwrap_or_default());
                match page["next_cursor"].as_str() {
                    Some(c) if all.len() < AUDIT_ENTRIES_MAX => {
                        path = format!("{base}&cursor={c}");
                    }
                    _ => break,
                }
            }
            Ok(Value::Array(all))
        },
    )
    .await?;
    let entries = entries.as_array().cloned().unwrap_or_default();
    if let Some(file) = args.csv {
        let fields = [
            "at",
            "kind",
            "outcome",
            "operator_id",
            "terminal_id",
            "approver",
            "order_id",
            "amount_minor",
            "currency",
            "detail",
        ];
        let rows: Vec<Vec<String>> = entries
            .iter()
            .map(|e| fields.iter().map(|f| text(&e[*f])).collect())
            .collect();
        write_csv(file, &fields.join(","), &rows)?;
        if file == Path::new("-") {
            return Ok(SUCCESS);
        }
    }
    if settings.json {
        output::json(&json!({ "entries": entries, "exit_code": SUCCESS }));
    } else if entries.is_empty() {
        out!("no audit entries match");
    } else {
        for e in &entries {
            let who = match (e["operator_id"].as_str(), e["approver"].as_str()) {
                (Some(o), Some(a)) if o != a => format!("{o} (approved by {a})"),
                (Some(o), _) => o.to_string(),
                (None, _) => "-".into(),
            };
            out!(
                "{}  {:<18}  {:<7}  {:<14}  {:<12}  {}{}",
                text(&e["at"]),
                text(&e["kind"]),
                text(&e["outcome"]),
                who,
                text(&e["terminal_id"]),
                e["order_id"]
                    .as_str()
                    .map(|o| format!("order {o}: "))
                    .unwrap_or_default(),
                text(&e["detail"]),
            );
        }
    }
    Ok(SUCCESS)
}

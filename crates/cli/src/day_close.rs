//! `paydesk day-close` and `paydesk day-close sign-off`: a manager reads the central's close of a
//! UTC day (totals per operator, terminal, currency and outcome; differences with the gateway)
//! with this terminal's journal totals for the same day beside its rows, differences flagged;
//! and signs the day off (PIN again). `paydesk audit` reads the central's audit log.
//!
//! The journal side is the journal's own totals (as `paydesk journal totals` counts them: by the
//! day an attempt began), the central's by the day it received the result: an attempt still in
//! the outbox, or delivered after midnight, shows as a difference until it arrives.
//! Deliberately absent: PINs anywhere but in memory, and any fixing (a manager decides).

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::Path;

use paydesk_engine::{Clock as _, SystemClock};
use serde_json::{json, Value};

use crate::config::{journal_failure, Settings};
use crate::exit::{CmdResult, Failure, CONFLICT, OTHER, SUCCESS};
use crate::output;
use crate::reverse::as_manager;
use crate::time::{parse_time, DAY_MS};

/// A CSV cell a spreadsheet never runs as a formula (as the central's audit export does).
fn cell(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

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
        let cells: Vec<String> = r.iter().map(|c| cell(c)).collect();
        out += &cells.join(",");
        out.push('\n');
    }
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

/// The start of the UTC day `YYYY-MM-DD` given to `--day`, in milliseconds.
fn day_arg(day: &str) -> Result<i64, Failure> {
    if day.len() != 10 {
        return Err(Failure::usage(format!(
            "--day {day:?}: write a UTC date, YYYY-MM-DD"
        )));
    }
    Ok(parse_time("--day", day)?.unix_ms())
}

/// One (operator, currency) of this terminal: succeeded count, succeeded sum, declined count.
type Counts = BTreeMap<(String, String), (i64, i64, i64)>;

/// This terminal's journal totals for the UTC day starting at `from_ms`.
fn journal_counts(settings: &Settings, from_ms: i64) -> Result<Counts, Failure> {
    let journal = settings.open_journal()?;
    let from = paydesk_core::Timestamp::from_unix_ms(from_ms);
    let to = from.plus_ms(DAY_MS);
    let totals = journal
        .snapshot(|j| j.totals(from, to))
        .map_err(journal_failure)?;
    let mut counts = Counts::new();
    for t in totals {
        let c = counts
            .entry((t.operator.to_string(), t.currency.code().to_string()))
            .or_default();
        c.0 += t.succeeded;
        c.1 += t.succeeded_sum.minor();
        c.2 += t.declined;
    }
    Ok(counts)
}

/// The central's rows of `terminal`, counted like the journal's.
fn central_counts(report: &Value, terminal: &str) -> Counts {
    let mut counts = Counts::new();
    for t in report["totals"].as_array().into_iter().flatten() {
        if t["terminal_id"] != terminal {
            continue;
        }
        let key = (text(&t["operator_id"]), text(&t["currency"]));
        let c = counts.entry(key).or_default();
        let (n, sum) = (
            t["count"].as_i64().unwrap_or(0),
            t["sum_minor"].as_i64().unwrap_or(0),
        );
        match t["outcome"].as_str() {
            Some("succeeded") => {
                c.0 += n;
                c.1 += sum;
            }
            Some("declined") => c.2 += n,
            _ => {}
        }
    }
    counts
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
    let terminal = settings.terminal_id()?.to_string();
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
    let journal = journal_counts(settings, from);
    let central = central_counts(&report, &terminal);
    let mut comparison = Vec::new();
    let mut mismatches = 0;
    if let Ok(journal) = &journal {
        let keys: std::collections::BTreeSet<_> = journal.keys().chain(central.keys()).collect();
        for key in keys {
            let j = journal.get(key).copied().unwrap_or_default();
            let c = central.get(key).copied().unwrap_or_default();
            let differs = j != c;
            mismatches += usize::from(differs);
            comparison.push(json!({
                "operator_id": key.0, "currency": key.1,
                "journal": { "succeeded": j.0, "succeeded_minor": j.1, "declined": j.2 },
                "central": { "succeeded": c.0, "succeeded_minor": c.1, "declined": c.2 },
                "differs": differs,
            }));
        }
    }
    let differences = report["differences"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let code = if differences.is_empty() && mismatches == 0 {
        SUCCESS
    } else {
        CONFLICT
    };
    if let Some(file) = csv {
        let mut rows = Vec::new();
        for t in report["totals"].as_array().into_iter().flatten() {
            rows.push(vec![
                "central".into(),
                text(&t["operator_id"]),
                text(&t["terminal_id"]),
                text(&t["currency"]),
                text(&t["outcome"]),
                text(&t["count"]),
                text(&t["sum_minor"]),
                String::new(),
                String::new(),
            ]);
        }
        for c in &comparison {
            for (outcome, count, sum) in [
                ("succeeded", "succeeded", Some("succeeded_minor")),
                ("declined", "declined", None),
            ] {
                rows.push(vec![
                    "journal".into(),
                    text(&c["operator_id"]),
                    terminal.clone(),
                    text(&c["currency"]),
                    outcome.into(),
                    text(&c["journal"][count]),
                    sum.map(|s| text(&c["journal"][s])).unwrap_or_default(),
                    String::new(),
                    if c["differs"] == true {
                        "differs from the central".into()
                    } else {
                        String::new()
                    },
                ]);
            }
        }
        for d in &differences {
            rows.push(vec![
                "gateway".into(),
                String::new(),
                String::new(),
                String::new(),
                text(&d["kind"]),
                String::new(),
                String::new(),
                text(&d["order_id"]),
                text(&d["detail"]),
            ]);
        }
        write_csv(
            file,
            "section,operator_id,terminal_id,currency,outcome,count,amount_minor,order_id,detail",
            &rows,
        )?;
        if file == Path::new("-") {
            return Ok(code);
        }
    }
    if settings.json {
        output::json(&json!({
            "central": report,
            "terminal_id": terminal,
            "journal_vs_central": comparison,
            "journal_error": journal.as_ref().err().map(|e| e.error.to_string()),
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
    if report["gateway_checked"] == false {
        out!("the gateway was not checked: no gateway is configured at the central");
    } else if differences.is_empty() {
        out!("the gateway agrees: no differences");
    } else {
        out!("differences with the gateway ({}):", differences.len());
        for d in &differences {
            out!(
                "  {} order {}: {}",
                text(&d["kind"]),
                text(&d["order_id"]),
                text(&d["detail"])
            );
        }
    }
    match &journal {
        Err(e) => out!("this terminal's journal was not read: {}", e.error),
        Ok(_) if comparison.is_empty() => {
            out!("this terminal ({terminal}): no attempts in its journal or at the central")
        }
        Ok(_) => {
            out!("this terminal ({terminal}), journal vs central (succeeded, amount, declined):");
            for c in &comparison {
                out!(
                    "  {:<14}  {:<8}  journal {} / {} / {}   central {} / {} / {}{}",
                    text(&c["operator_id"]),
                    text(&c["currency"]),
                    c["journal"]["succeeded"],
                    c["journal"]["succeeded_minor"],
                    c["journal"]["declined"],
                    c["central"]["succeeded"],
                    c["central"]["succeeded_minor"],
                    c["central"]["declined"],
                    if c["differs"] == true {
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

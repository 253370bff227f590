//! The manager's commands over the local journal: list, show, export CSV, verify, totals. They
//! open the journal file alone — no central, gateway or secret is needed to review the work.
//!
//! Deliberately absent: any write. Reviewing never changes the journal (resolving an attempt is
//! the desktop's manager screen).

use std::collections::HashSet;
use std::path::Path;

use anyhow::Context as _;
use paydesk_core::{Attempt, AttemptId, AttemptState, OperatorId, OrderId, Timestamp};
use paydesk_journal::{AttemptFilter, Journal, ATTEMPT_ROWS_MAX};
use serde::Serialize;

use crate::config::{journal_failure, Settings};
use crate::exit::{CmdResult, Failure, JOURNAL_BROKEN, OTHER, SUCCESS};
use crate::output;
use crate::time::parse_time;

/// Milliseconds in a day, for the default totals range (today, UTC).
const DAY_MS: i64 = 86_400_000;

/// The filters of `journal list`, as typed.
#[derive(Debug, Default)]
pub struct ListArgs {
    pub state: Option<String>,
    pub operator: Option<String>,
    pub order: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub limit: Option<u32>,
}

fn parse_filter(args: &ListArgs) -> Result<AttemptFilter, Failure> {
    let state = args
        .state
        .as_deref()
        .map(|s| {
            AttemptState::parse(s).ok_or_else(|| {
                let known: Vec<&str> = AttemptState::ALL.iter().map(|s| s.as_str()).collect();
                Failure::usage(format!("--state {s:?}: use one of {}", known.join(", ")))
            })
        })
        .transpose()?;
    let operator = args
        .operator
        .as_deref()
        .map(|o| OperatorId::new(o).map_err(|e| Failure::usage(format!("--operator: {e}"))))
        .transpose()?;
    let order = args
        .order
        .as_deref()
        .map(|o| OrderId::new(o).map_err(|e| Failure::usage(format!("--order: {e}"))))
        .transpose()?;
    let from = args
        .from
        .as_deref()
        .map(|t| parse_time("--from", t))
        .transpose()?;
    let to = args
        .to
        .as_deref()
        .map(|t| parse_time("--to", t))
        .transpose()?;
    if let (Some(from), Some(to)) = (from, to) {
        if to < from {
            return Err(Failure::usage("--to is before --from"));
        }
    }
    Ok(AttemptFilter {
        state,
        operator,
        order,
        from,
        to,
        limit: args.limit,
    })
}

pub fn list(settings: &Settings, args: &ListArgs) -> CmdResult {
    let filter = parse_filter(args)?;
    let journal = settings.open_journal()?;
    let attempts = journal.attempts(&filter).map_err(journal_failure)?;
    if settings.json {
        output::json(&serde_json::json!({ "attempts": attempts }));
    } else if attempts.is_empty() {
        out!("no attempts match");
    } else {
        out!("{}", output::ATTEMPT_HEADER);
        for a in &attempts {
            out!("{}", output::attempt_row(a));
        }
    }
    Ok(SUCCESS)
}

pub fn show(settings: &Settings, id: &str) -> CmdResult {
    let id = AttemptId::parse(id).map_err(|e| {
        Failure::usage(format!(
            "{e}: pass the attempt id that `paydesk journal list` shows"
        ))
    })?;
    let journal = settings.open_journal()?;
    let attempt = journal
        .attempt(&id)
        .map_err(journal_failure)?
        .ok_or_else(|| {
            Failure::new(
                OTHER,
                anyhow::anyhow!(
                    "attempt {id} is not in the journal {}",
                    journal.path().display()
                ),
            )
        })?;
    let timeline = journal.timeline(&id).map_err(journal_failure)?;
    if settings.json {
        output::json(&serde_json::json!({ "attempt": attempt, "timeline": timeline }));
    } else {
        out_raw!("{}", output::attempt_detail(&attempt, &timeline));
    }
    Ok(SUCCESS)
}

/// Every attempt in the journal, oldest first. The journal caps one query, so this pages
/// backwards by creation time; attempts sharing the boundary millisecond are read twice and
/// de-duplicated by id.
fn all_attempts(journal: &Journal) -> Result<Vec<Attempt>, Failure> {
    let mut seen = HashSet::new();
    let mut all = Vec::new();
    let mut to: Option<Timestamp> = None;
    loop {
        let page = journal
            .attempts(&AttemptFilter {
                to,
                limit: Some(ATTEMPT_ROWS_MAX),
                ..AttemptFilter::default()
            })
            .map_err(journal_failure)?;
        let full = page.len() >= ATTEMPT_ROWS_MAX as usize;
        let oldest = page.iter().map(|a| a.created_at).min();
        let mut new = 0;
        for a in page {
            if seen.insert(a.id) {
                new += 1;
                all.push(a);
            }
        }
        match oldest {
            // A full page that added nothing new is a millisecond holding more attempts than
            // one query returns; stop rather than loop (cannot happen at human charge rates).
            Some(oldest) if full && new > 0 => to = Some(oldest.plus_ms(1)),
            _ => break,
        }
    }
    all.sort_by_key(|a| (a.created_at, a.id));
    Ok(all)
}

/// The CSV columns, in order.
const CSV_HEADER: [&str; 15] = [
    "attempt_id",
    "order_id",
    "attempt_number",
    "operator_id",
    "terminal_id",
    "amount",
    "amount_minor",
    "currency",
    "state",
    "intent_id",
    "claim_token",
    "created_at",
    "updated_at",
    "reason",
    "offline",
];

/// A cell as a spreadsheet may safely open it: one starting with `=`, `+`, `-`, `@`, a tab or a
/// carriage return would be read as a formula (the reason is gateway or decline text, not ours),
/// so it gets a leading `'`.
fn csv_cell(text: &str) -> std::borrow::Cow<'_, str> {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        std::borrow::Cow::Owned(format!("'{text}"))
    } else {
        std::borrow::Cow::Borrowed(text)
    }
}

pub fn export_csv(settings: &Settings, file: &Path) -> CmdResult {
    let journal = settings.open_journal()?;
    let attempts = all_attempts(&journal)?;
    let mut writer =
        csv::Writer::from_path(file).with_context(|| format!("creating {}", file.display()))?;
    writer
        .write_record(CSV_HEADER)
        .with_context(|| format!("writing {}", file.display()))?;
    for a in &attempts {
        let record = [
            a.id.to_string(),
            a.order.to_string(),
            a.number.get().to_string(),
            a.operator.to_string(),
            a.terminal.to_string(),
            output::decimal(&a.amount),
            a.amount.minor().to_string(),
            a.amount.currency().code().to_string(),
            a.state.as_str().to_string(),
            a.intent_id
                .as_ref()
                .map(|i| i.to_string())
                .unwrap_or_default(),
            a.claim_token.to_string(),
            a.created_at.rfc3339(),
            a.updated_at.rfc3339(),
            a.reason.clone().unwrap_or_default(),
            a.offline.to_string(),
        ];
        writer
            .write_record(record.iter().map(|cell| csv_cell(cell).into_owned()))
            .with_context(|| format!("writing {}", file.display()))?;
    }
    writer
        .flush()
        .with_context(|| format!("writing {}", file.display()))?;
    if settings.json {
        output::json(&serde_json::json!({ "exported": attempts.len(), "file": file }));
    } else {
        out!(
            "exported {} attempt(s) to {}",
            attempts.len(),
            file.display()
        );
    }
    Ok(SUCCESS)
}

pub fn verify(settings: &Settings) -> CmdResult {
    let journal = settings.open_journal()?;
    let report = journal.verify().map_err(journal_failure)?;
    let code = if report.is_intact() {
        SUCCESS
    } else {
        JOURNAL_BROKEN
    };
    if settings.json {
        output::json(&serde_json::json!({
            "intact": report.is_intact(),
            "report": report,
            "exit_code": code,
        }));
    } else {
        match &report.broken {
            None => out!(
                "journal intact: {} events, {} attempts, head {}",
                report.events,
                report.attempts,
                report.head.as_deref().unwrap_or("(empty)")
            ),
            Some(link) => {
                out!(
                    "journal BROKEN: {} (kind {}, event {}, attempt {})",
                    link.message,
                    serde_json::to_value(link.kind)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default(),
                    link.seq.map(|s| s.to_string()).unwrap_or("-".into()),
                    link.attempt_id.as_deref().unwrap_or("-"),
                );
                out!(
                    "charging stops on this terminal until a manager reconciles the journal with \
                     the central and the gateway"
                );
            }
        }
    }
    Ok(code)
}

#[derive(Serialize)]
struct TotalsOutput<'a> {
    from: Timestamp,
    to: Timestamp,
    totals: &'a [paydesk_journal::OperatorDayTotal],
}

pub fn totals(
    settings: &Settings,
    from: Option<&str>,
    to: Option<&str>,
    now: Timestamp,
) -> CmdResult {
    let today = Timestamp::from_unix_ms(now.unix_ms().div_euclid(DAY_MS) * DAY_MS);
    let from = match from {
        Some(t) => parse_time("--from", t)?,
        None => today,
    };
    let to = match to {
        Some(t) => parse_time("--to", t)?,
        None => today.plus_ms(DAY_MS),
    };
    if to < from {
        return Err(Failure::usage("--to is before --from"));
    }
    let journal = settings.open_journal()?;
    let totals = journal.totals(from, to).map_err(journal_failure)?;
    if settings.json {
        output::json(&TotalsOutput {
            from,
            to,
            totals: &totals,
        });
    } else if totals.is_empty() {
        out!("no attempts from {from} to {to}");
    } else {
        out!("day         operator        currency  attempts  succeeded        amount  declined  unresolved");
        for t in &totals {
            out!(
                "{day}  {operator:<14}  {currency:<8}  {attempts:>8}  {succeeded:>9}  {sum:>12}  {declined:>8}  {unresolved:>10}",
                day = t.day,
                operator = t.operator.as_str(),
                currency = t.currency.code(),
                attempts = t.attempts,
                succeeded = t.succeeded,
                sum = output::decimal(&t.succeeded_sum),
                declined = t.declined,
                unresolved = t.unresolved,
            );
        }
    }
    Ok(SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::csv_cell;

    #[test]
    fn cells_a_spreadsheet_would_run_as_formulas_are_quoted() {
        for (cell, exported) in [
            ("=1+1", "'=1+1"),
            ("+SUM(A1)", "'+SUM(A1)"),
            ("-2+3", "'-2+3"),
            ("@cmd", "'@cmd"),
            ("\tx", "'\tx"),
            ("\rx", "'\rx"),
            ("generic_decline", "generic_decline"),
            ("129.00", "129.00"),
            ("", ""),
        ] {
            assert_eq!(csv_cell(cell), exported, "{cell:?}");
        }
    }
}

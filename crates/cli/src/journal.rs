//! The manager's commands over the local journal: list, show, export CSV, verify, totals. They
//! open the journal file alone — no central, gateway or secret is needed to review the work — and
//! read-only, without the writer's lock (`Settings::open_journal`), so they work while the desktop
//! or another `paydesk` charges from it. A command that reads more than once reads in one snapshot
//! (`JournalReader::snapshot`), so its parts agree even while a charge commits its steps.
//!
//! Deliberately absent: any write. Reviewing never changes the journal (resolving an attempt is
//! the desktop's manager screen).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use paydesk_core::csv::formula_guard;
use paydesk_core::{Attempt, AttemptId, AttemptState, Money, OperatorId, OrderId, Timestamp};
use paydesk_gateway::Route;
use paydesk_journal::{AttemptFilter, Journal, OperatorDayTotal};
use paydesk_terminal::export::{attempt_record, JOURNAL_CSV_HEADER as CSV_HEADER};
use serde::Serialize;

use crate::config::{journal_failure, Settings};
use crate::exit::{CmdResult, Failure, JOURNAL_BROKEN, OTHER, SUCCESS};
use crate::output;
use crate::time::{day_start, parse_end, parse_time, DAY_MS};

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
        .map(|t| parse_end("--to", t))
        .transpose()?;
    if let (Some(from), Some(to)) = (from, to) {
        check_range(from, to)?;
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
    let (attempt, timeline) = journal
        .snapshot(|j| match j.attempt(&id)? {
            Some(attempt) => Ok(Some((attempt, j.timeline(&id)?))),
            None => Ok(None),
        })
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
    if settings.json {
        output::json(&serde_json::json!({ "attempt": attempt, "timeline": timeline }));
    } else {
        out_raw!("{}", output::attempt_detail(&attempt, &timeline));
    }
    Ok(SUCCESS)
}

/// Every attempt `filter` matches, oldest first (the terminal's paging reader).
fn all_attempts(journal: &Journal, filter: &AttemptFilter) -> Result<Vec<Attempt>, Failure> {
    paydesk_terminal::export::all_attempts(journal, filter).map_err(journal_failure)
}

/// `io::Error` in plain words, without the OS's error number.
fn plain_io(e: &std::io::Error) -> String {
    use std::io::ErrorKind;
    match e.kind() {
        ErrorKind::NotFound => "its directory does not exist".into(),
        ErrorKind::PermissionDenied => "permission denied".into(),
        ErrorKind::IsADirectory => "it is a directory".into(),
        ErrorKind::ReadOnlyFilesystem => "the file system is read-only".into(),
        ErrorKind::StorageFull => "the disk is full".into(),
        _ => {
            let text = e.to_string();
            match text.find(" (os error") {
                Some(at) => text[..at].to_string(),
                None => text,
            }
        }
    }
}

/// `paydesk journal export --csv FILE` (`-`: stdout). A file that cannot be created is bad
/// input (exit 64) with a plain reason; a write that fails half-way is an error (exit 1).
pub fn export_csv(settings: &Settings, file: &Path) -> CmdResult {
    let to_stdout = file.as_os_str() == "-";
    if to_stdout && settings.json {
        return Err(Failure::usage(
            "--csv - writes the CSV to stdout, where --json's document would go: pass a file \
             name with --json, or leave --json out",
        ));
    }
    let journal = settings.open_journal()?;
    let attempts = journal
        .snapshot(|j| Ok(all_attempts(j, &AttemptFilter::default())))
        .map_err(journal_failure)??;
    let sink: Box<dyn Write> = if to_stdout {
        Box::new(std::io::stdout().lock())
    } else {
        let created = std::fs::File::create(file).map_err(|e| {
            Failure::usage(format!(
                "cannot write the CSV to {}: {}; pass a file in an existing directory you may \
                 write to, or `--csv -` for stdout",
                file.display(),
                plain_io(&e)
            ))
        })?;
        Box::new(created)
    };
    let where_to = if to_stdout {
        "stdout".to_string()
    } else {
        file.display().to_string()
    };
    let write_failed = |e: csv::Error| {
        let reason = match e.kind() {
            csv::ErrorKind::Io(io) => plain_io(io),
            _ => e.to_string(),
        };
        Failure::new(
            OTHER,
            anyhow::anyhow!("writing the CSV to {where_to} failed: {reason}"),
        )
    };
    let mut writer = csv::Writer::from_writer(sink);
    writer.write_record(CSV_HEADER).map_err(write_failed)?;
    for a in &attempts {
        let record = attempt_record(a);
        writer
            .write_record(record.iter().map(|cell| formula_guard(cell).into_owned()))
            .map_err(write_failed)?;
    }
    writer
        .flush()
        .map_err(|e| write_failed(csv::Error::from(e)))?;
    if settings.json {
        output::json(&serde_json::json!({ "exported": attempts.len(), "file": file }));
    } else if to_stdout {
        // stdout is the CSV; the count goes beside it.
        eprintln!("exported {} attempt(s) to stdout", attempts.len());
    } else {
        out!("exported {} attempt(s) to {where_to}", attempts.len());
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

/// A range must not end before it starts; the message shows both ends as they were understood.
fn check_range(from: Timestamp, to: Timestamp) -> Result<(), Failure> {
    if to < from {
        return Err(Failure::usage(format!(
            "--to is before --from: the range runs from {from} up to {to} (a date given to --to \
             includes that whole day)"
        )));
    }
    Ok(())
}

/// The range of `journal totals`, from what was typed and `now`: today (UTC) by default; a date
/// given to `--to` includes that day; `--to` alone starts at the beginning of its day, `--from`
/// alone ends at the end of today (or of its own day, if later).
pub fn totals_range(
    from: Option<&str>,
    to: Option<&str>,
    now: Timestamp,
) -> Result<(Timestamp, Timestamp), Failure> {
    let today = day_start(now);
    let from = from.map(|t| parse_time("--from", t)).transpose()?;
    let to = to.map(|t| parse_end("--to", t)).transpose()?;
    let (from, to) = match (from, to) {
        (Some(from), Some(to)) => (from, to),
        // The last instant in the range decides its day (`--to 2026-11-29` is that whole day).
        (None, Some(to)) => (day_start(to.plus_ms(-1)), to),
        (Some(from), None) => (from, today.max(day_start(from)).plus_ms(DAY_MS)),
        (None, None) => (today, today.plus_ms(DAY_MS)),
    };
    check_range(from, to)?;
    Ok((from, to))
}

/// One row of `journal totals`: the journal's counts, with the attempts the journal's totals
/// leave out (requires action, canceled) counted here so the columns add up to `attempts`.
#[derive(Serialize)]
struct TotalsRow<'a> {
    #[serde(flatten)]
    total: &'a OperatorDayTotal,
    requires_action: i64,
    canceled: i64,
}

#[derive(Serialize)]
struct TotalsOutput<'a> {
    from: Timestamp,
    to: Timestamp,
    totals: &'a [TotalsRow<'a>],
    by_gateway: &'a [GatewayTotal],
}

/// One row of `journal totals`' table by gateway: the attempts begun in the range through one
/// gateway in one currency. The gateway is read from each attempt's journaled payment source
/// (PayPal's vaulted sources are `card:…` / `paypal:…`), as the desktop's journal shows it.
#[derive(Debug, Serialize, PartialEq, Eq)]
struct GatewayTotal {
    gateway: &'static str,
    currency: String,
    attempts: i64,
    succeeded: i64,
    succeeded_sum: Money,
    declined: i64,
}

/// The totals by gateway and currency of `attempts`, in gateway then currency order.
fn gateway_totals(attempts: &[Attempt]) -> Result<Vec<GatewayTotal>, Failure> {
    let mut rows: BTreeMap<(&'static str, String), GatewayTotal> = BTreeMap::new();
    for a in attempts {
        let gateway = Route::of_source(a.payment_method.as_str()).as_str();
        let currency = a.amount.currency();
        let row = rows
            .entry((gateway, currency.code().to_string()))
            .or_insert_with(|| GatewayTotal {
                gateway,
                currency: currency.code().to_string(),
                attempts: 0,
                succeeded: 0,
                succeeded_sum: Money::zero(currency),
                declined: 0,
            });
        row.attempts += 1;
        match a.state {
            AttemptState::Succeeded => {
                row.succeeded += 1;
                row.succeeded_sum = row.succeeded_sum.checked_add(a.amount).map_err(|e| {
                    Failure::new(
                        OTHER,
                        anyhow::anyhow!(
                            "the succeeded sum through {gateway} cannot be shown as one amount: {e}"
                        ),
                    )
                })?;
            }
            AttemptState::Declined => row.declined += 1,
            _ => {}
        }
    }
    Ok(rows.into_values().collect())
}

/// How many attempts in `[from, to)` ended in `state`, per (operator, day, currency).
fn count_by_day(
    journal: &Journal,
    state: AttemptState,
    from: Timestamp,
    to: Timestamp,
) -> Result<BTreeMap<(String, String, String), i64>, Failure> {
    let filter = AttemptFilter {
        state: Some(state),
        from: Some(from),
        to: Some(to),
        ..AttemptFilter::default()
    };
    let mut counts = BTreeMap::new();
    for a in all_attempts(journal, &filter)? {
        let key = (
            a.operator.to_string(),
            a.created_at.utc_day(),
            a.amount.currency().code().to_string(),
        );
        *counts.entry(key).or_insert(0) += 1;
    }
    Ok(counts)
}

pub fn totals(
    settings: &Settings,
    from: Option<&str>,
    to: Option<&str>,
    now: Timestamp,
) -> CmdResult {
    let (from, to) = totals_range(from, to, now)?;
    let journal = settings.open_journal()?;
    let range = AttemptFilter {
        from: Some(from),
        to: Some(to),
        ..AttemptFilter::default()
    };
    let (totals, requires_action, canceled, by_gateway) = journal
        .snapshot(|j| {
            Ok(j.totals(from, to)
                .map_err(journal_failure)
                .and_then(|totals| {
                    Ok((
                        totals,
                        count_by_day(j, AttemptState::RequiresAction, from, to)?,
                        count_by_day(j, AttemptState::Canceled, from, to)?,
                        gateway_totals(&all_attempts(j, &range)?)?,
                    ))
                }))
        })
        .map_err(journal_failure)??;
    let rows: Vec<TotalsRow> = totals
        .iter()
        .map(|t| {
            let key = (
                t.operator.to_string(),
                t.day.clone(),
                t.currency.code().to_string(),
            );
            TotalsRow {
                total: t,
                requires_action: requires_action.get(&key).copied().unwrap_or(0),
                canceled: canceled.get(&key).copied().unwrap_or(0),
            }
        })
        .collect();
    if settings.json {
        output::json(&TotalsOutput {
            from,
            to,
            totals: &rows,
            by_gateway: &by_gateway,
        });
    } else if rows.is_empty() {
        out!("no attempts from {from} up to {to} (not included)");
    } else {
        out!("attempts from {from} up to {to} (not included), by the day they began (UTC)");
        out!(
            "day         operator        currency  attempts  succeeded        amount  declined  \
             requires action  canceled  unresolved"
        );
        for r in &rows {
            let t = r.total;
            out!(
                "{day}  {operator:<14}  {currency:<8}  {attempts:>8}  {succeeded:>9}  {sum:>12}  {declined:>8}  {requires_action:>15}  {canceled:>8}  {unresolved:>10}",
                day = t.day,
                operator = t.operator.as_str(),
                currency = t.currency.code(),
                attempts = t.attempts,
                succeeded = t.succeeded,
                sum = output::decimal(&t.succeeded_sum),
                declined = t.declined,
                requires_action = r.requires_action,
                canceled = r.canceled,
                unresolved = t.unresolved,
            );
        }
        out!("");
        out!("by gateway");
        out!("gateway  currency  attempts  succeeded        amount  declined");
        for g in &by_gateway {
            out!(
                "{gateway:<7}  {currency:<8}  {attempts:>8}  {succeeded:>9}  {sum:>12}  {declined:>8}",
                gateway = g.gateway,
                currency = g.currency,
                attempts = g.attempts,
                succeeded = g.succeeded,
                sum = output::decimal(&g.succeeded_sum),
                declined = g.declined,
            );
        }
    }
    Ok(SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::{gateway_totals, totals_range, GatewayTotal};
    use paydesk_core::{
        Attempt, AttemptNumber, AttemptState, ClaimToken, Currency, Money, NewAttempt, OperatorId,
        OrderId, PaymentMethodId, TerminalId, Timestamp,
    };

    /// An attempt of `minor` EUR through `source`, ended in `state`.
    fn attempt(n: u8, source: &str, minor: i64, state: AttemptState) -> Attempt {
        let eur = Currency::from_code("EUR").unwrap();
        let (mut a, _) = Attempt::begin(
            NewAttempt {
                id: paydesk_core::AttemptId::parse(&format!(
                    "01932c4e-7b7a-7cc3-9a7e-2b6f3a5d4e{n:02}"
                ))
                .unwrap(),
                order: OrderId::new(format!("o-{n}")).unwrap(),
                number: AttemptNumber::new(1).unwrap(),
                installment: paydesk_core::InstallmentNumber::FIRST,
                claim_token: ClaimToken::new(1).unwrap(),
                amount: Money::new(minor, eur).unwrap(),
                customer: None,
                payment_method: PaymentMethodId::new(source).unwrap(),
                operator: OperatorId::new("op").unwrap(),
                terminal: TerminalId::new("t1").unwrap(),
                offline: false,
            },
            Timestamp::from_unix_ms(0),
        );
        a.state = state;
        a
    }

    #[test]
    fn totals_by_gateway_read_the_gateway_from_each_payment_source() {
        let eur = Currency::from_code("EUR").unwrap();
        let attempts = [
            attempt(1, "pm_card_visa", 1_000, AttemptState::Succeeded),
            attempt(2, "paypal:vault_approve", 2_500, AttemptState::Succeeded),
            attempt(3, "card:vault_decline", 700, AttemptState::Declined),
            attempt(4, "card:vault_approve", 300, AttemptState::Succeeded),
            attempt(5, "pm_card_visa", 900, AttemptState::Unknown),
        ];
        let rows = gateway_totals(&attempts).map_err(|e| e.error).unwrap();
        assert_eq!(
            rows,
            vec![
                GatewayTotal {
                    gateway: "paypal",
                    currency: "EUR".into(),
                    attempts: 3,
                    succeeded: 2,
                    succeeded_sum: Money::new(2_800, eur).unwrap(),
                    declined: 1,
                },
                GatewayTotal {
                    gateway: "stripe",
                    currency: "EUR".into(),
                    attempts: 2,
                    succeeded: 1,
                    succeeded_sum: Money::new(1_000, eur).unwrap(),
                    declined: 0,
                },
            ]
        );
    }

    fn t(text: &str) -> Timestamp {
        crate::time::parse_time("t", text).unwrap()
    }

    #[test]
    fn a_totals_range_includes_the_day_given_to_to() {
        let now = t("2026-11-30T15:00:00Z");
        let range = |from, to| totals_range(from, to, now).map_err(|e| e.error.to_string());
        let day = |d: &str| (t(d), t(d).plus_ms(86_400_000));
        assert_eq!(range(None, None), Ok(day("2026-11-30")));
        assert_eq!(
            range(Some("2026-11-30"), Some("2026-11-30")),
            Ok(day("2026-11-30"))
        );
        assert_eq!(range(None, Some("2026-11-29")), Ok(day("2026-11-29")));
        assert_eq!(
            range(None, Some("2026-11-29T12:00:00Z")),
            Ok((t("2026-11-29"), t("2026-11-29T12:00:00Z")))
        );
        assert_eq!(
            range(Some("2026-11-28"), None),
            Ok((t("2026-11-28"), t("2026-12-01")))
        );
        let backwards = range(Some("2026-11-30"), Some("2026-11-28")).unwrap_err();
        assert!(
            backwards.contains("from 2026-11-30T00:00:00.000Z up to 2026-11-29T00:00:00.000Z"),
            "{backwards}"
        );
    }
}

//! The day close as a terminal shows it, written once for the command line and the desktop: the
//! central's close of a UTC day (`GET /v1/day-close`: totals per operator, terminal, currency and
//! outcome; the differences with the gateway; the sign-off) read into types, this terminal's
//! journal totals for the same day set beside the central's rows for this terminal, and the CSV
//! both front ends export.
//!
//! The journal counts an attempt on the day it began, the central a result on the day it
//! received it: an attempt still in the outbox, or delivered after midnight, shows as a
//! difference until it arrives (the wording of each front end says so).
//! Deliberately absent: HTTP and files (the caller fetches and writes), PINs, and any fixing of a
//! difference (a manager decides, in the inbox).

use std::collections::{BTreeMap, BTreeSet};

use paydesk_core::csv::csv_row;
use paydesk_core::{Currency, TerminalId, Timestamp};
use paydesk_journal::OperatorDayTotal;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// One UTC day, in milliseconds.
pub const DAY_MS: i64 = 86_400_000;

/// The central's close of a day, as `GET /v1/day-close` answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct CentralDayClose {
    /// `YYYY-MM-DD` (UTC).
    pub day: String,
    /// The shift of the day the report covers (`HH:MM-HH:MM`, UTC, the end not included), or
    /// `None` for the whole day.
    #[serde(default)]
    pub shift: Option<String>,
    /// The central's totals of every terminal, by when it received each result.
    pub totals: Vec<CentralTotal>,
    /// The digest a sign-off records: the totals as the manager saw them.
    pub totals_digest: String,
    /// The same results per gateway, currency and outcome (empty from a central older than
    /// gateways per order).
    #[serde(default)]
    pub gateway_totals: Vec<GatewayTotal>,
    /// False when the central has no gateway to compare with (then `differences` is empty).
    pub gateway_checked: bool,
    pub differences: Vec<DayDifference>,
    pub sign_off: Option<DaySignOff>,
}

/// One (operator, terminal, currency, outcome) of the central's day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct CentralTotal {
    pub operator_id: Option<String>,
    pub terminal_id: String,
    pub currency: String,
    /// The result's outcome, or `refused` for a result the central rejected.
    pub outcome: String,
    #[ts(type = "number")]
    pub count: u64,
    #[ts(type = "number")]
    pub sum_minor: i64,
}

/// One (gateway, currency, outcome) of the central's day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct GatewayTotal {
    /// `stripe`, `paypal`, or `unknown` for an order the central no longer holds.
    pub gateway: String,
    pub currency: String,
    /// The result's outcome, or `refused` for a result the central rejected.
    pub outcome: String,
    #[ts(type = "number")]
    pub count: u64,
    #[ts(type = "number")]
    pub sum_minor: i64,
}

/// A difference between the central's records and the gateway's intents of the day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct DayDifference {
    /// `gateway_success_not_paid`, `paid_without_gateway_success`, `amount_differs` or
    /// `multiple_successes`.
    pub kind: String,
    pub order_id: Option<String>,
    pub intent_id: Option<String>,
    pub detail: String,
    /// The gateway the order names, when the central holds the order.
    #[serde(default)]
    pub gateway: Option<String>,
}

/// A recorded sign-off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct DaySignOff {
    pub day: String,
    pub signed_by: String,
    pub terminal_id: String,
    /// RFC 3339.
    pub signed_at: String,
    pub totals_digest: String,
    pub note: Option<String>,
}

/// One operator's day in one currency, counted the same way on both sides.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct DayCounts {
    #[ts(type = "number")]
    pub succeeded: i64,
    #[ts(type = "number")]
    pub succeeded_minor: i64,
    #[ts(type = "number")]
    pub declined: i64,
}

/// This terminal's journal beside the central's rows for this terminal, per operator and
/// currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct JournalComparison {
    pub operator_id: String,
    pub currency: String,
    pub journal: DayCounts,
    pub central: DayCounts,
    pub differs: bool,
}

/// The day close of one terminal: the central's day and this terminal's journal beside it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct DayClose {
    pub central: CentralDayClose,
    pub terminal_id: String,
    /// Empty when the journal could not be read (`journal_error` says why).
    pub comparison: Vec<JournalComparison>,
    pub journal_error: Option<String>,
    /// Each currency's exponent (digits after the point), so the UI formats minor units with the
    /// core's currency table instead of keeping its own.
    pub exponents: Vec<CurrencyExponent>,
}

/// A currency's exponent (digits after the point), e.g. EUR 2, JPY 0.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct CurrencyExponent {
    pub currency: String,
    pub exponent: u8,
}

impl DayClose {
    /// `central` with `journal` (this terminal's totals for the day, or why they could not be
    /// read) compared against the central's rows of `terminal`.
    pub fn new(
        central: CentralDayClose,
        terminal: &TerminalId,
        journal: Result<Vec<OperatorDayTotal>, String>,
    ) -> DayClose {
        let (comparison, journal_error) = match journal {
            Ok(totals) => (compare(&central, terminal, &totals), None),
            Err(e) => (Vec::new(), Some(e)),
        };
        let currencies: BTreeSet<Currency> = central
            .totals
            .iter()
            .map(|t| t.currency.as_str())
            .chain(comparison.iter().map(|c| c.currency.as_str()))
            .filter_map(|code| Currency::from_code(code).ok())
            .collect();
        let exponents = currencies
            .into_iter()
            .map(|c| CurrencyExponent {
                currency: c.code().to_string(),
                exponent: c.exponent(),
            })
            .collect();
        DayClose {
            central,
            terminal_id: terminal.to_string(),
            comparison,
            journal_error,
            exponents,
        }
    }

    /// Rows where the journal and the central disagree.
    pub fn mismatches(&self) -> usize {
        self.comparison.iter().filter(|c| c.differs).count()
    }

    /// True when nothing differs: not with the gateway, not between journal and central.
    pub fn agrees(&self) -> bool {
        self.central.differences.is_empty() && self.mismatches() == 0
    }

    /// The day close as CSV (header line first): the central's totals, this terminal's journal
    /// rows (flagged where they differ), and the gateway's differences. Every cell is
    /// spreadsheet-safe.
    pub fn csv(&self) -> String {
        let mut out = String::from(DAY_CLOSE_CSV_HEADER);
        out.push('\n');
        let mut line = |cells: [&str; 9]| {
            out.push_str(&csv_row(&cells));
            out.push('\n');
        };
        for t in &self.central.totals {
            line([
                "central",
                t.operator_id.as_deref().unwrap_or_default(),
                &t.terminal_id,
                &t.currency,
                &t.outcome,
                &t.count.to_string(),
                &t.sum_minor.to_string(),
                "",
                "",
            ]);
        }
        for g in &self.central.gateway_totals {
            let gateway = format!("gateway {}", g.gateway);
            line([
                "central_gateway",
                "",
                "",
                &g.currency,
                &g.outcome,
                &g.count.to_string(),
                &g.sum_minor.to_string(),
                "",
                &gateway,
            ]);
        }
        for c in &self.comparison {
            let note = if c.differs {
                "differs from the central"
            } else {
                ""
            };
            line([
                "journal",
                &c.operator_id,
                &self.terminal_id,
                &c.currency,
                "succeeded",
                &c.journal.succeeded.to_string(),
                &c.journal.succeeded_minor.to_string(),
                "",
                note,
            ]);
            line([
                "journal",
                &c.operator_id,
                &self.terminal_id,
                &c.currency,
                "declined",
                &c.journal.declined.to_string(),
                "",
                "",
                note,
            ]);
        }
        for d in &self.central.differences {
            let detail = match &d.gateway {
                Some(g) => format!("{} (the order goes through {g})", d.detail),
                None => d.detail.clone(),
            };
            line([
                "gateway",
                "",
                "",
                "",
                &d.kind,
                "",
                "",
                d.order_id.as_deref().unwrap_or_default(),
                &detail,
            ]);
        }
        if let Some(s) = &self.central.sign_off {
            let signed = format!("signed off by {} at {}", s.signed_by, s.signed_at);
            line([
                "sign_off",
                &s.signed_by,
                &s.terminal_id,
                "",
                "",
                "",
                "",
                "",
                &signed,
            ]);
        }
        out
    }
}

/// The columns of [`DayClose::csv`].
pub const DAY_CLOSE_CSV_HEADER: &str =
    "section,operator_id,terminal_id,currency,outcome,count,amount_minor,order_id,detail";

/// Per (operator, currency): the journal's counts beside the central's rows for `terminal`, one
/// row for every key either side has, sorted.
pub fn compare(
    central: &CentralDayClose,
    terminal: &TerminalId,
    journal: &[OperatorDayTotal],
) -> Vec<JournalComparison> {
    type Key = (String, String);
    let mut ours: BTreeMap<Key, DayCounts> = BTreeMap::new();
    for t in journal {
        let c = ours
            .entry((t.operator.to_string(), t.currency.code().to_string()))
            .or_default();
        c.succeeded += t.succeeded;
        c.succeeded_minor += t.succeeded_sum.minor();
        c.declined += t.declined;
    }
    let mut theirs: BTreeMap<Key, DayCounts> = BTreeMap::new();
    for t in central
        .totals
        .iter()
        .filter(|t| t.terminal_id == terminal.as_str())
    {
        let key = (
            t.operator_id.clone().unwrap_or_default(),
            t.currency.clone(),
        );
        let c = theirs.entry(key).or_default();
        let count = i64::try_from(t.count).unwrap_or(i64::MAX);
        match t.outcome.as_str() {
            "succeeded" => {
                c.succeeded += count;
                c.succeeded_minor += t.sum_minor;
            }
            "declined" => c.declined += count,
            _ => {}
        }
    }
    let keys: BTreeSet<&Key> = ours.keys().chain(theirs.keys()).collect();
    keys.into_iter()
        .map(|key| {
            let journal = ours.get(key).copied().unwrap_or_default();
            let central = theirs.get(key).copied().unwrap_or_default();
            JournalComparison {
                operator_id: key.0.clone(),
                currency: key.1.clone(),
                journal,
                central,
                differs: journal != central,
            }
        })
        .collect()
}

/// The part of a day `shift` (`HH:MM-HH:MM`, UTC, the end not included; `24:00` is midnight at
/// its end) covers, as milliseconds after the day's start, or what is wrong with it. The central
/// reads `GET /v1/day-close?shift=` the same way.
pub fn shift_window(shift: &str) -> Result<(i64, i64), String> {
    let wrong = || {
        format!(
            "{shift:?} is not a part of the day: write it as HH:MM-HH:MM (UTC), the start before \
             the end, e.g. 06:00-14:00 or 22:00-24:00"
        )
    };
    let time = |t: &str| -> Result<i64, String> {
        let b = t.as_bytes();
        if b.len() != 5 || b[2] != b':' || !b[..2].iter().chain(&b[3..]).all(u8::is_ascii_digit) {
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

/// The start of the UTC day `YYYY-MM-DD`, or what is wrong with `day`.
pub fn day_start(day: &str) -> Result<Timestamp, String> {
    let wrong = || format!("{day:?} is not a date: write it as YYYY-MM-DD (UTC), e.g. 2026-11-30");
    let b = day.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return Err(wrong());
    }
    let number = |range: std::ops::Range<usize>| -> Result<i64, String> {
        let part = &day[range];
        if !part.bytes().all(|c| c.is_ascii_digit()) {
            return Err(wrong());
        }
        part.parse().map_err(|_| wrong())
    };
    let (y, m, d) = (number(0..4)?, number(5..7)?, number(8..10)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return Err(wrong());
    }
    // Days from the civil date (Howard Hinnant's algorithm), as the central counts them.
    let yy = if m <= 2 { y - 1 } else { y };
    let era = yy.div_euclid(400);
    let yoe = yy - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let start = Timestamp::from_unix_ms((era * 146_097 + doe - 719_468) * DAY_MS);
    // A day that does not exist (31 April) reads back as another date.
    if start.utc_day() != day {
        return Err(wrong());
    }
    Ok(start)
}

#[cfg(test)]
mod tests {
    use super::*;
    use paydesk_core::{Money, OperatorId};

    fn total(terminal: &str, operator: &str, outcome: &str, count: u64, sum: i64) -> CentralTotal {
        CentralTotal {
            operator_id: Some(operator.into()),
            terminal_id: terminal.into(),
            currency: "EUR".into(),
            outcome: outcome.into(),
            count,
            sum_minor: sum,
        }
    }

    fn central(totals: Vec<CentralTotal>) -> CentralDayClose {
        CentralDayClose {
            shift: None,
            day: "2026-11-30".into(),
            totals,
            totals_digest: "d".into(),
            gateway_totals: Vec::new(),
            gateway_checked: true,
            differences: Vec::new(),
            sign_off: None,
        }
    }

    fn journal(operator: &str, succeeded: i64, sum: i64, declined: i64) -> OperatorDayTotal {
        let eur = Currency::from_code("EUR").unwrap();
        OperatorDayTotal {
            operator: OperatorId::new(operator).unwrap(),
            day: "2026-11-30".into(),
            currency: eur,
            attempts: succeeded + declined,
            succeeded,
            succeeded_sum: Money::new(sum, eur).unwrap(),
            declined,
            unresolved: 0,
        }
    }

    #[test]
    fn the_journal_is_compared_with_this_terminals_rows_only() {
        let here = TerminalId::new("t-1").unwrap();
        let day = central(vec![
            total("t-1", "ann", "succeeded", 2, 3000),
            total("t-1", "ann", "declined", 1, 500),
            total("t-2", "ann", "succeeded", 5, 9999),
            total("t-1", "bob", "succeeded", 1, 100),
        ]);
        let close = DayClose::new(
            day,
            &here,
            Ok(vec![journal("ann", 2, 3000, 1), journal("cid", 1, 70, 0)]),
        );
        let rows: Vec<_> = close
            .comparison
            .iter()
            .map(|c| (c.operator_id.as_str(), c.differs))
            .collect();
        assert_eq!(rows, [("ann", false), ("bob", true), ("cid", true)]);
        assert_eq!(close.mismatches(), 2);
        assert!(!close.agrees());
        assert_eq!(
            close.exponents,
            [CurrencyExponent {
                currency: "EUR".into(),
                exponent: 2
            }]
        );
        assert_eq!(close.comparison[1].journal, DayCounts::default());
        assert_eq!(close.comparison[1].central.succeeded_minor, 100);
    }

    #[test]
    fn the_csv_lists_every_section_and_is_spreadsheet_safe() {
        let here = TerminalId::new("t-1").unwrap();
        let mut day = central(vec![total("t-1", "ann", "succeeded", 1, 1000)]);
        day.differences.push(DayDifference {
            kind: "gateway_success_not_paid".into(),
            order_id: Some("ord-1".into()),
            intent_id: Some("pi_1".into()),
            detail: "=cmd|' /C calc'!A0, charged".into(),
            gateway: None,
        });
        day.differences.push(DayDifference {
            kind: "amount_differs".into(),
            order_id: Some("ord-2".into()),
            intent_id: Some("PP-2".into()),
            detail: "charged 5.00 EUR".into(),
            gateway: Some("paypal".into()),
        });
        day.gateway_totals.push(GatewayTotal {
            gateway: "paypal".into(),
            currency: "EUR".into(),
            outcome: "succeeded".into(),
            count: 1,
            sum_minor: 1000,
        });
        let close = DayClose::new(day, &here, Ok(vec![journal("ann", 1, 1000, 0)]));
        assert!(close.comparison.iter().all(|c| !c.differs));
        let csv = close.csv();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines[0], DAY_CLOSE_CSV_HEADER);
        assert_eq!(lines[1], "central,ann,t-1,EUR,succeeded,1,1000,,");
        assert_eq!(
            lines[2],
            "central_gateway,,,EUR,succeeded,1,1000,,gateway paypal"
        );
        assert_eq!(lines[3], "journal,ann,t-1,EUR,succeeded,1,1000,,");
        assert_eq!(
            lines[5],
            "gateway,,,,gateway_success_not_paid,,,ord-1,\"'=cmd|' /C calc'!A0, charged\""
        );
        assert_eq!(
            lines[6],
            "gateway,,,,amount_differs,,,ord-2,charged 5.00 EUR (the order goes through paypal)"
        );
    }

    #[test]
    fn a_report_from_a_central_without_gateways_still_reads() {
        let old = r#"{"day":"2026-11-30","totals":[],"totals_digest":"d","gateway_checked":false,
            "differences":[{"kind":"amount_differs","order_id":"o","intent_id":null,"detail":"x"}],
            "sign_off":null}"#;
        let day: CentralDayClose = serde_json::from_str(old).unwrap();
        assert!(day.gateway_totals.is_empty());
        assert_eq!(day.differences[0].gateway, None);
    }

    #[test]
    fn a_journal_that_cannot_be_read_leaves_the_centrals_part() {
        let here = TerminalId::new("t-1").unwrap();
        let close = DayClose::new(central(vec![]), &here, Err("locked".into()));
        assert!(close.comparison.is_empty());
        assert_eq!(close.journal_error.as_deref(), Some("locked"));
    }

    #[test]
    fn a_shift_is_a_part_of_the_day() {
        assert_eq!(shift_window("06:00-14:00"), Ok((21_600_000, 50_400_000)));
        assert_eq!(shift_window("22:00-24:00"), Ok((79_200_000, DAY_MS)));
        for bad in [
            "14:00-06:00",
            "06:00",
            "6:00-14:00",
            "06:00-24:01",
            "06:60-07:00",
            "a",
        ] {
            assert!(shift_window(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn days_are_utc_dates_that_exist() {
        assert_eq!(day_start("1970-01-02").unwrap().unix_ms(), DAY_MS);
        assert_eq!(day_start("2000-02-29").unwrap().unix_ms(), 951_782_400_000);
        for bad in [
            "2001-02-29",
            "2026-04-31",
            "2026-4-01",
            "2026-13-01",
            "+026-01-01",
            "",
        ] {
            assert!(day_start(bad).is_err(), "{bad}");
        }
    }
}

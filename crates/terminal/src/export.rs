//! Reading the journal for a person, written once for the command line and the desktop: every
//! attempt a filter matches (the journal caps one query, so this pages), the review's search and
//! amount range on top of the journal's own filters, and the attempts as spreadsheet-safe CSV.
//!
//! Deliberately absent: files and dialogs (each front end writes where its person chose), and
//! card data (the journal holds none, so there is no last-4 to search).

use std::collections::HashSet;

use paydesk_core::csv::csv_row;
use paydesk_core::{Attempt, Timestamp};
use paydesk_journal::{AttemptFilter, Journal, JournalError, ATTEMPT_ROWS_MAX};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// Attempts a review shows at most (newest first); an export writes every match.
pub const REVIEW_ROWS_MAX: usize = 1_000;
/// Longest search text, in characters (an id is far shorter).
pub const SEARCH_CHARS_MAX: usize = 200;

/// What a journal review asks for: the journal's filters, an amount range as decimals ("12.50",
/// compared in each attempt's own currency), and a text found in the order, customer, payment
/// method, gateway intent, attempt id or reason.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(optional_fields)]
pub struct JournalSearch {
    #[serde(default)]
    pub filter: AttemptFilter,
    pub amount_min: Option<String>,
    pub amount_max: Option<String>,
    pub text: Option<String>,
}

/// A decimal amount as typed ("12", "12.5", "0.500"): its digits without the point, and how many
/// of them follow the point. `None` for anything else.
fn decimal(text: &str) -> Option<(i128, u32)> {
    let text = text.trim();
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !digits(whole) || !digits(fraction) || whole.len() + fraction.len() > 18
    {
        return None;
    }
    let mantissa = format!("{whole}{fraction}").parse().ok()?;
    Some((mantissa, fraction.len() as u32))
}

/// How `attempt`'s amount compares with a decimal `(mantissa, scale)` in its own currency.
fn compare_amount(attempt: &Attempt, (mantissa, scale): (i128, u32)) -> std::cmp::Ordering {
    let exponent = u32::from(attempt.amount.currency().exponent());
    let ours = i128::from(attempt.amount.minor()) * 10_i128.pow(scale);
    let theirs = mantissa * 10_i128.pow(exponent);
    ours.cmp(&theirs)
}

/// The non-empty text of an optional field.
fn given(field: &Option<String>) -> Option<&str> {
    field.as_deref().map(str::trim).filter(|t| !t.is_empty())
}

impl JournalSearch {
    /// What is wrong with the search, in words a person can act on.
    pub fn check(&self) -> Result<(), String> {
        let mut bounds = [None, None];
        for (slot, (name, field)) in bounds.iter_mut().zip([
            ("smallest amount", &self.amount_min),
            ("largest amount", &self.amount_max),
        ]) {
            if let Some(text) = given(field) {
                *slot = Some(decimal(text).ok_or_else(|| {
                    format!("the {name} {text:?} is not an amount: type digits, such as 12.50")
                })?);
            }
        }
        if let [Some((min, min_scale)), Some((max, max_scale))] = bounds {
            if min * 10_i128.pow(max_scale) > max * 10_i128.pow(min_scale) {
                return Err("the smallest amount is larger than the largest: swap them".into());
            }
        }
        if let (Some(from), Some(to)) = (self.filter.from, self.filter.to) {
            if from >= to {
                return Err(
                    "the date range ends before it begins: pick an end after the start".into(),
                );
            }
        }
        if self
            .text
            .as_ref()
            .is_some_and(|t| t.chars().count() > SEARCH_CHARS_MAX)
        {
            return Err(format!(
                "the search text is longer than {SEARCH_CHARS_MAX} characters: shorten it"
            ));
        }
        Ok(())
    }

    /// True when `attempt` is within the amount range and holds the search text (the journal's
    /// own filters were applied by its query).
    pub fn matches(&self, attempt: &Attempt) -> bool {
        use std::cmp::Ordering::{Greater, Less};
        let bound = |field: &Option<String>| given(field).and_then(decimal);
        if bound(&self.amount_min).is_some_and(|min| compare_amount(attempt, min) == Less)
            || bound(&self.amount_max).is_some_and(|max| compare_amount(attempt, max) == Greater)
        {
            return false;
        }
        let Some(text) = given(&self.text).map(str::to_lowercase) else {
            return true;
        };
        let fields = [
            Some(attempt.order.to_string()),
            attempt.customer.as_ref().map(|c| c.to_string()),
            Some(attempt.payment_method.to_string()),
            attempt.intent_id.as_ref().map(|i| i.to_string()),
            Some(attempt.id.to_string()),
            attempt.reason.clone(),
        ];
        fields
            .into_iter()
            .flatten()
            .any(|f| f.to_lowercase().contains(&text))
    }
}

/// Every attempt `filter` matches (its `limit` ignored), oldest first. The journal caps one
/// query, so this pages backwards by creation time; attempts sharing the boundary millisecond are
/// read twice and de-duplicated by id.
pub fn all_attempts(
    journal: &Journal,
    filter: &AttemptFilter,
) -> Result<Vec<Attempt>, JournalError> {
    let mut seen = HashSet::new();
    let mut all = Vec::new();
    let mut to: Option<Timestamp> = filter.to;
    loop {
        let page = journal.attempts(&AttemptFilter {
            to,
            limit: Some(ATTEMPT_ROWS_MAX),
            ..filter.clone()
        })?;
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

/// Every attempt `search` matches, oldest first.
pub fn search_all(journal: &Journal, search: &JournalSearch) -> Result<Vec<Attempt>, JournalError> {
    let mut all = all_attempts(journal, &search.filter)?;
    all.retain(|a| search.matches(a));
    Ok(all)
}

/// The columns of the journal's CSV, in order.
pub const JOURNAL_CSV_HEADER: [&str; 15] = [
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

/// One attempt's cells, in [`JOURNAL_CSV_HEADER`]'s order, not yet made spreadsheet-safe.
pub fn attempt_record(a: &Attempt) -> [String; 15] {
    let amount = a.amount.to_string();
    [
        a.id.to_string(),
        a.order.to_string(),
        a.number.get().to_string(),
        a.operator.to_string(),
        a.terminal.to_string(),
        // "129.00" of "129.00 EUR".
        amount
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_string(),
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
    ]
}

/// `attempts` as CSV, header first, every cell spreadsheet-safe.
pub fn attempts_csv(attempts: &[Attempt]) -> String {
    let mut out = csv_row(&JOURNAL_CSV_HEADER);
    out.push('\n');
    for a in attempts {
        out.push_str(&csv_row(&attempt_record(a)));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_are_digits_with_at_most_one_point() {
        assert_eq!(decimal("12"), Some((12, 0)));
        assert_eq!(decimal(" 12.50 "), Some((1250, 2)));
        assert_eq!(decimal("0.5"), Some((5, 1)));
        for bad in ["", ".5", "1,5", "-1", "1.2.3", "12 EUR", "1e3"] {
            assert_eq!(decimal(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_range_that_is_upside_down_or_not_a_number_is_refused() {
        let search = |min: &str, max: &str| JournalSearch {
            amount_min: Some(min.into()),
            amount_max: Some(max.into()),
            ..JournalSearch::default()
        };
        assert!(search("10", "10.00").check().is_ok());
        assert!(search("", "5").check().is_ok());
        assert!(search("10.01", "10").check().unwrap_err().contains("swap"));
        assert!(search("ten", "")
            .check()
            .unwrap_err()
            .contains("\"ten\" is not an amount"));
    }
}

//! The manager's report screens on the desk (issue 11, items 4–7): the day close beside this
//! terminal's journal with its sign-off, the audit log, the journal review, the outbox with its
//! parked results, and the signed offline allowance; and the CSV exports, which the shell writes
//! to the path the person chose in the OS save dialog (the UI only ever holds the path).
//!
//! Each method is one call into the terminal (or the central in the signed-in manager's session)
//! plus the wording of what went wrong. The central checks the session and the role of every
//! manager route and takes the PIN again for actions; the shell checks the role too, so an
//! operator gets a plain sentence instead of a refusal. Deliberately absent: the comparison and
//! the CSV layout (`paydesk_terminal::day_close` and `export`, shared with the command line), and
//! any state of its own.

use std::path::PathBuf;

use paydesk_core::csv::csv_row;
use paydesk_core::{Currency, Money, Pin, Timestamp};
use paydesk_engine::CentralError;
use paydesk_journal::{OutboxListing, OUTBOX_LIST_ROWS_MAX};
use paydesk_protocol::Role;
use paydesk_terminal::day_close::{
    day_start, shift_window, CentralDayClose, DayClose, DaySignOff, DAY_MS,
};
use paydesk_terminal::export::{attempts_csv, search_all, JournalSearch, REVIEW_ROWS_MAX};
use paydesk_terminal::{GrantError, ManagerActionError, Terminal};
use serde::Deserialize;
use serde_json::json;

use crate::desk::Desk;
use crate::error::{central_error, engine_error, log_detail, sign_in_error, UiError, UiErrorKind};
use crate::report_views::{
    AuditEntryView, AuditPage, AuditQuery, ExportView, GrantOfflineRequest, JournalReviewView,
    OfflineView, OutboxMessageView, OutboxView, ReceiptView,
};
use crate::views::AttemptView;

/// Entries one audit page asks the central for (its largest page is 500).
const AUDIT_PAGE_ROWS: u32 = 200;
/// Entries an audit export reads at most (pages of the central's largest size); the file says
/// when it stopped there.
const AUDIT_EXPORT_ROWS_MAX: usize = 20_000;
/// Longest reason for archiving a parked result, in characters.
const ARCHIVE_REASON_CHARS_MAX: usize = 500;

/// The signed-in manager's terminal, or a sentence saying why there is none.
pub(crate) fn manager(desk: &Desk) -> Result<std::sync::Arc<crate::desk::Running>, UiError> {
    let (running, session) = desk.signed_in()?;
    if session.role != Role::Manager || session.offline {
        return Err(UiError::new(
            UiErrorKind::NotSignedIn,
            "Only a manager signed in online may open this screen.",
            "Ask a manager to sign in on this terminal.",
        ));
    }
    Ok(running)
}

/// A PIN as typed, or what is wrong with it.
pub(crate) fn pin(text: &str) -> Result<Pin, UiError> {
    Pin::parse(text).map_err(|e| {
        UiError::bad_input(
            format!("That is not a PIN: {e}."),
            "Type your PIN again (digits only).",
        )
    })
}

/// The central's refusal of a manager's request, in a manager's words. `with_pin`: the request
/// carried the PIN again, so an "unauthorized" answer means the PIN was wrong.
pub(crate) fn manager_error(error: &CentralError, with_pin: bool) -> UiError {
    match error {
        CentralError::Unauthorized if with_pin => UiError::new(
            UiErrorKind::SignInRefused,
            "That PIN is not right; nothing was changed.",
            "Type your PIN again. Several wrong PINs in a row lock sign-in for a while.",
        ),
        CentralError::RateLimited(message) => {
            log_detail("central rate limit", message);
            UiError::new(
                UiErrorKind::CentralRefused,
                "The central was asked too often from this terminal in a short time (it \
                 prepares a day close at most once a minute).",
                "Wait a minute, then try again.",
            )
        }
        CentralError::Refused { message, .. } | CentralError::Invalid(message) => {
            log_detail("central refused a manager request", message);
            UiError::new(
                UiErrorKind::CentralRefused,
                format!("The central refused: {}", sentence(message)),
                "Correct what it names and try again; if it does not make sense, reload the \
                 screen.",
            )
        }
        CentralError::Forbidden(message) => {
            log_detail("central forbade", message);
            UiError::new(
                UiErrorKind::NotSignedIn,
                "The central says the person signed in here may not do this.",
                "Sign in as a manager and try again.",
            )
        }
        CentralError::Unreachable { detail } | CentralError::NoAnswer { detail } => {
            log_detail("central unreachable", detail);
            UiError::new(
                UiErrorKind::CentralUnreachable,
                "The central server cannot be reached, so nothing was read or changed there.",
                "Check the network, then try again.",
            )
        }
        other => central_error(other),
    }
}

/// `text` as one sentence with a full stop.
fn sentence(text: &str) -> String {
    let text = text.trim().trim_end_matches('.');
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => format!("{}{}.", first.to_uppercase(), chars.as_str()),
        None => String::new(),
    }
}

/// Writes `contents` to `path` whole or not at all: a sibling temporary file, synced, then
/// renamed over the target. The path comes from the OS save dialog.
pub fn write_export(path: &str, contents: &str) -> Result<PathBuf, UiError> {
    let target = PathBuf::from(path.trim());
    let bad = |why: &str| {
        UiError::bad_input(
            format!("Paydesk cannot save the file there: {why}."),
            "Choose another folder or name in the save dialog and export again.",
        )
    };
    if !target.is_absolute() {
        return Err(bad("the path is not a full path"));
    }
    let parent = target
        .parent()
        .filter(|p| p.is_dir())
        .ok_or_else(|| bad("its folder does not exist"))?;
    if target.is_dir() {
        return Err(bad("it is a folder"));
    }
    let name = target
        .file_name()
        .ok_or_else(|| bad("it has no file name"))?;
    let temporary = parent.join(format!(".{}.paydesk-tmp", name.to_string_lossy()));
    let written = (|| {
        use std::io::Write as _;
        let mut file = std::fs::File::create(&temporary)?;
        file.write_all(contents.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&temporary, &target)
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&temporary);
        log_detail("export", &format!("{}: {e}", target.display()));
        return Err(match e.kind() {
            std::io::ErrorKind::PermissionDenied => bad("you may not write in that folder"),
            std::io::ErrorKind::StorageFull => bad("the disk is full"),
            _ => bad("the file could not be written"),
        });
    }
    Ok(target)
}

fn export_view(path: PathBuf, rows: usize) -> ExportView {
    ExportView {
        path: path.display().to_string(),
        rows,
    }
}

/// The central's answer of `GET /v1/audit`.
#[derive(Debug, Deserialize)]
struct AuditAnswer {
    entries: Vec<AuditEntryView>,
    next_cursor: Option<serde_json::Value>,
}

/// The central's answer of `GET /v1/journal-head`.
#[derive(Debug, Deserialize)]
struct CentralHead {
    seq: Option<i64>,
    hash: Option<String>,
    received_at: Option<i64>,
}

/// A filter value the central accepts in a query string (ids and kinds), or what is wrong.
fn query_word(name: &str, value: &Option<String>) -> Result<Option<String>, UiError> {
    let Some(v) = value.as_deref().map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    if v.len() > 100
        || !v
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._:-".contains(c))
    {
        return Err(UiError::bad_input(
            format!("The {name} filter may hold letters, digits and . _ : - only."),
            format!("Correct the {name} filter, or clear it."),
        ));
    }
    Ok(Some(v.to_string()))
}

impl AuditQuery {
    /// The query string for `GET /v1/audit` (without `cursor`).
    fn to_query(&self, limit: u32) -> Result<String, UiError> {
        let mut parts = vec![format!("limit={limit}")];
        if let (Some(from), Some(to)) = (self.from_ms, self.to_ms) {
            if from >= to {
                return Err(UiError::bad_input(
                    "The date range ends before it begins.",
                    "Pick an end after the start.",
                ));
            }
        }
        if let Some(from) = self.from_ms {
            parts.push(format!("from={from}"));
        }
        if let Some(to) = self.to_ms {
            parts.push(format!("to={to}"));
        }
        for (name, key, value) in [
            ("operator", "operator", &self.operator),
            ("terminal", "terminal", &self.terminal),
            ("kind", "kind", &self.kind),
            ("outcome", "outcome", &self.outcome),
        ] {
            if let Some(v) = query_word(name, value)? {
                parts.push(format!("{key}={v}"));
            }
        }
        Ok(parts.join("&"))
    }
}

fn audit_page(answer: AuditAnswer) -> AuditPage {
    let entries = answer
        .entries
        .into_iter()
        .map(|mut e| {
            e.amount_exponent = e
                .currency
                .as_deref()
                .and_then(|c| Currency::from_code(c).ok())
                .map(|c| c.exponent());
            e
        })
        .collect();
    let next_cursor = match answer.next_cursor {
        Some(serde_json::Value::String(s)) => Some(s),
        Some(serde_json::Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    AuditPage {
        entries,
        next_cursor,
    }
}

/// The columns of the audit export.
const AUDIT_CSV_HEADER: [&str; 10] = [
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

fn audit_csv(entries: &[AuditEntryView], cut_short: bool) -> String {
    let mut out = csv_row(&AUDIT_CSV_HEADER);
    out.push('\n');
    let opt = |o: &Option<String>| o.clone().unwrap_or_default();
    for e in entries {
        let row = [
            e.at.clone(),
            e.kind.clone(),
            e.outcome.clone(),
            opt(&e.operator_id),
            opt(&e.terminal_id),
            opt(&e.approver),
            opt(&e.order_id),
            e.amount_minor.map(|m| m.to_string()).unwrap_or_default(),
            opt(&e.currency),
            e.detail.clone(),
        ];
        out.push_str(&csv_row(&row));
        out.push('\n');
    }
    if cut_short {
        out.push_str(&csv_row(&[
            "",
            "export_stopped",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            &format!("only the newest {AUDIT_EXPORT_ROWS_MAX} entries: narrow the dates"),
        ]));
        out.push('\n');
    }
    out
}

fn outbox_error(terminal: &Terminal, error: &ManagerActionError) -> UiError {
    match error {
        ManagerActionError::SignIn(e) => sign_in_error(e),
        ManagerActionError::NotManager(who) => UiError::new(
            UiErrorKind::NotSignedIn,
            format!("{who} is not a manager."),
            "Ask a manager to sign in and do this.",
        ),
        ManagerActionError::Engine(e) => engine_error(terminal.journal_path(), e),
    }
}

fn grant_error(error: &GrantError) -> UiError {
    match error {
        GrantError::SignIn(e) => sign_in_error(e),
        GrantError::NotSignedIn | GrantError::NotManager(_) => UiError::new(
            UiErrorKind::NotSignedIn,
            "Only a manager signed in online may allow offline charging.",
            "Ask a manager to sign in on this terminal.",
        ),
        GrantError::Invalid(message) => UiError::bad_input(
            sentence(message),
            "Correct the amounts or the duration and try again.",
        ),
        GrantError::Central(e) => manager_error(e, true),
        GrantError::Untrusted(detail) | GrantError::Save(detail) => {
            log_detail("offline allowance", detail);
            UiError::new(
                UiErrorKind::CentralRefused,
                "The offline allowance could not be saved on this terminal, so offline charging \
                 stays blocked.",
                "Try again. If it keeps failing, tell your administrator: the central's signing \
                 key may have changed.",
            )
        }
    }
}

impl Desk {
    /// The day close of the UTC day `day` (`YYYY-MM-DD`), or of one shift of it (`HH:MM-HH:MM`,
    /// UTC): the central's totals and differences with the gateway, and this terminal's journal
    /// beside its rows, over the same hours.
    pub async fn day_close(&self, day: &str, shift: Option<&str>) -> Result<DayClose, UiError> {
        let running = manager(self)?;
        let day_from = day_start(day.trim())
            .map_err(|e| UiError::bad_input(format!("The day {}", sentence(&e)), "Pick a day."))?;
        let shift = shift.map(str::trim).filter(|s| !s.is_empty());
        let (start, end) = match shift {
            Some(s) => shift_window(s).map_err(|e| {
                UiError::bad_input(
                    format!("The shift {}", sentence(&e)),
                    "Give its start and end, e.g. 06:00 to 14:00, or show the whole day.",
                )
            })?,
            None => (0, DAY_MS),
        };
        let from = day_from.plus_ms(start);
        let terminal = &running.terminal;
        let mut path = format!("/v1/day-close?day={}", day_from.utc_day());
        if shift.is_some() {
            let hhmm = |ms: i64| format!("{:02}:{:02}", ms / 3_600_000, ms / 60_000 % 60);
            path.push_str(&format!("&shift={}-{}", hhmm(start), hhmm(end)));
        }
        let central: CentralDayClose = terminal
            .central()
            .get_json_in_session(&path)
            .await
            .map_err(|e| manager_error(&e, false))?;
        let journal = terminal
            .engine()
            .with_journal(move |j| j.totals(from, from.plus_ms(end - start)))
            .await
            .map_err(|e| engine_error(terminal.journal_path(), &e).message);
        Ok(DayClose::new(central, terminal.terminal_id(), journal))
    }

    /// Signs the day off at the central with the manager's PIN (once per day).
    pub async fn sign_off_day(
        &self,
        day: &str,
        pin_text: &str,
        note: Option<String>,
    ) -> Result<DaySignOff, UiError> {
        let running = manager(self)?;
        let from = day_start(day.trim())
            .map_err(|e| UiError::bad_input(format!("The day {}", sentence(&e)), "Pick a day."))?;
        let pin = pin(pin_text)?;
        let path = format!("/v1/day-close/{}/sign-off", from.utc_day());
        let body = json!({ "pin": pin.expose(), "note": note.filter(|n| !n.trim().is_empty()) });
        running
            .terminal
            .central()
            .post_in_session(&path, &body)
            .await
            .map_err(|e| match e {
                CentralError::Refused {
                    code: paydesk_protocol::ErrorCode::Conflict,
                    ..
                } => UiError::new(
                    UiErrorKind::CentralRefused,
                    format!("The day {} is already signed off.", from.utc_day()),
                    "Reload the day close to see who signed it off and when.",
                ),
                e => manager_error(&e, true),
            })
    }

    /// Writes the day close the manager is looking at as CSV to `path`.
    pub async fn export_day_close(
        &self,
        close: DayClose,
        path: &str,
    ) -> Result<ExportView, UiError> {
        manager(self)?;
        let csv = close.csv();
        let rows = csv.lines().count().saturating_sub(1);
        Ok(export_view(write_export(path, &csv)?, rows))
    }

    /// One page of the central's audit log, newest first.
    pub async fn audit(&self, query: AuditQuery) -> Result<AuditPage, UiError> {
        let running = manager(self)?;
        let mut path = format!("/v1/audit?{}", query.to_query(AUDIT_PAGE_ROWS)?);
        if let Some(cursor) = query_word("cursor", &query.cursor)? {
            path = format!("{path}&cursor={cursor}");
        }
        let answer: AuditAnswer = running
            .terminal
            .central()
            .get_json_in_session(&path)
            .await
            .map_err(|e| manager_error(&e, false))?;
        Ok(audit_page(answer))
    }

    /// Every audit entry `query` matches (up to [`AUDIT_EXPORT_ROWS_MAX`]) as CSV to `path`.
    pub async fn export_audit(&self, query: AuditQuery, path: &str) -> Result<ExportView, UiError> {
        let running = manager(self)?;
        let base = format!("/v1/audit?{}", query.to_query(500)?);
        let mut entries = Vec::new();
        let mut next = base.clone();
        let cut_short = loop {
            let answer: AuditAnswer = running
                .terminal
                .central()
                .get_json_in_session(&next)
                .await
                .map_err(|e| manager_error(&e, false))?;
            let page = audit_page(answer);
            entries.extend(page.entries);
            match page.next_cursor {
                Some(_) if entries.len() >= AUDIT_EXPORT_ROWS_MAX => break true,
                Some(cursor) => next = format!("{base}&cursor={cursor}"),
                None => break false,
            }
        };
        let csv = audit_csv(&entries, cut_short);
        Ok(export_view(write_export(path, &csv)?, entries.len()))
    }

    /// The attempts of this terminal's journal that `search` matches, newest first (at most
    /// [`REVIEW_ROWS_MAX`]). Operators see their journal too; only the export is a manager's.
    pub async fn journal_review(
        &self,
        search: JournalSearch,
    ) -> Result<JournalReviewView, UiError> {
        let (running, _) = self.signed_in()?;
        search.check().map_err(|e| {
            UiError::bad_input(sentence(&e), "Correct the filter and search again.")
        })?;
        let terminal = &running.terminal;
        let mut all = terminal
            .engine()
            .with_journal(move |j| search_all(j, &search))
            .await
            .map_err(|e| engine_error(terminal.journal_path(), &e))?;
        let matched = all.len();
        all.reverse();
        all.truncate(REVIEW_ROWS_MAX);
        Ok(JournalReviewView {
            attempts: all.into_iter().map(AttemptView::from).collect(),
            matched,
            truncated: matched > REVIEW_ROWS_MAX,
        })
    }

    /// The central's receipt for this journal (`GET /v1/journal-head`) beside this journal's own
    /// event at the same position.
    pub async fn journal_receipt(&self) -> Result<ReceiptView, UiError> {
        let (running, _) = self.signed_in()?;
        let terminal = &running.terminal;
        let head: CentralHead = match terminal.central().get_json("/v1/journal-head").await {
            Ok(head) => head,
            Err(e) => {
                log_detail("journal receipt", &e.to_string());
                let why = match e {
                    CentralError::Unreachable { .. } | CentralError::NoAnswer { .. } => {
                        "the central cannot be reached now"
                    }
                    _ => "the central refused the request",
                };
                return Ok(ReceiptView::Unavailable {
                    message: format!("The central's receipt could not be read: {why}."),
                });
            }
        };
        let (Some(seq), Some(hash), Some(received)) = (head.seq, head.hash, head.received_at)
        else {
            return Ok(ReceiptView::NoneYet);
        };
        let received_at = Timestamp::from_unix_ms(received);
        let (local, (local_seq, _)) = terminal
            .engine()
            .with_journal(move |j| Ok((j.event_hash(seq)?, j.head()?)))
            .await
            .map_err(|e| engine_error(terminal.journal_path(), &e))?;
        Ok(match local {
            Some(ours) if ours == hash => ReceiptView::Matches {
                seq,
                received_at,
                local_seq,
            },
            Some(_) => ReceiptView::Differs { seq, received_at },
            None => ReceiptView::Missing {
                seq,
                received_at,
                local_seq,
            },
        })
    }

    /// Every attempt `search` matches, oldest first, as CSV to `path`.
    pub async fn export_journal(
        &self,
        search: JournalSearch,
        path: &str,
    ) -> Result<ExportView, UiError> {
        let running = manager(self)?;
        search.check().map_err(|e| {
            UiError::bad_input(sentence(&e), "Correct the filter and export again.")
        })?;
        let terminal = &running.terminal;
        let all = terminal
            .engine()
            .with_journal(move |j| search_all(j, &search))
            .await
            .map_err(|e| engine_error(terminal.journal_path(), &e))?;
        Ok(export_view(
            write_export(path, &attempts_csv(&all))?,
            all.len(),
        ))
    }

    /// The outbox: depth, age, and the waiting and parked results.
    pub async fn outbox(&self) -> Result<OutboxView, UiError> {
        let running = manager(self)?;
        outbox_view(&running.terminal).await
    }

    /// Sends a parked result again (the manager's PIN, checked at the central).
    pub async fn outbox_retry(&self, id: i64, pin_text: &str) -> Result<OutboxView, UiError> {
        let (running, session) = self.signed_in()?;
        let terminal = &running.terminal;
        terminal
            .outbox_retry(&session.operator, pin(pin_text)?, id)
            .await
            .map_err(|e| outbox_error(terminal, &e))?;
        outbox_view(terminal).await
    }

    /// Archives a parked result with a reason: recorded first at the central as the manager's
    /// decision (session, role and PIN checked there, kept in its audit log), then archived in
    /// this terminal's journal (the PIN checked again, the event chained).
    pub async fn outbox_archive(
        &self,
        id: i64,
        pin_text: &str,
        reason: &str,
    ) -> Result<OutboxView, UiError> {
        let running = manager(self)?;
        let (_, session) = self.signed_in()?;
        let reason = reason.trim();
        if reason.is_empty() || reason.chars().count() > ARCHIVE_REASON_CHARS_MAX {
            return Err(UiError::bad_input(
                format!("Archiving needs a reason of 1 to {ARCHIVE_REASON_CHARS_MAX} characters."),
                "Write why this result will not be sent (for example: settled with the \
                 gateway by hand).",
            ));
        }
        let pin_checked = pin(pin_text)?;
        let terminal = &running.terminal;
        let parked = terminal
            .engine()
            .outbox_list(OutboxListing::Parked, OUTBOX_LIST_ROWS_MAX)
            .await
            .map_err(|e| engine_error(terminal.journal_path(), &e))?
            .into_iter()
            .find(|m| m.id == id)
            .ok_or_else(|| {
                UiError::bad_input(
                    "That result is not waiting for a manager any more (sent, or archived).",
                    "Reload the outbox.",
                )
            })?;
        let order = parked.payload["order"].as_str().unwrap_or_default();
        let body = json!({
            "action": "archive_result", "attempt_id": parked.attempt_id.to_string(),
            "reason": reason, "pin": pin_checked.expose(),
        });
        terminal
            .central()
            .post_in_session::<_, serde_json::Value>(
                &format!("/v1/orders/{order}/resolutions"),
                &body,
            )
            .await
            .map_err(|e| manager_error(&e, true))?;
        terminal
            .outbox_archive(&session.operator, pin(pin_text)?, id, reason)
            .await
            .map_err(|e| outbox_error(terminal, &e))?;
        outbox_view(terminal).await
    }

    /// The offline allowance in force on this terminal.
    pub async fn offline(&self) -> Result<OfflineView, UiError> {
        let (running, _) = self.signed_in()?;
        Ok(running.terminal.offline_policy().into())
    }

    /// A manager allows offline charging here: PIN again, the central signs the grant.
    pub async fn grant_offline(
        &self,
        request: GrantOfflineRequest,
    ) -> Result<OfflineView, UiError> {
        let running = manager(self)?;
        let currency = Currency::from_code(&request.currency).map_err(|_| {
            UiError::bad_input(
                format!("{:?} is not a currency code.", request.currency),
                "Type a three-letter code such as EUR.",
            )
        })?;
        let money = |text: &str, what: &str| {
            Money::parse(&format!("{} {}", text.trim(), currency.code()))
                .ok()
                .filter(|m| m.minor() > 0)
                .ok_or_else(|| {
                    UiError::bad_input(
                        format!(
                            "The {what} {:?} is not an amount in {} above zero.",
                            text.trim(),
                            currency.code()
                        ),
                        format!("Type the {what} with digits, such as 50.00."),
                    )
                })
        };
        let per_charge = money(&request.per_charge_max, "largest single charge")?;
        let per_shift = money(&request.per_shift_max, "total for the shift")?;
        let terminal = &running.terminal;
        terminal
            .grant_offline(
                pin(&request.pin)?,
                per_charge,
                per_shift,
                request.duration_ms,
                paydesk_engine::CACHE_AGE_MS_MAX_DEFAULT,
            )
            .await
            .map_err(|e| grant_error(&e))?;
        Ok(terminal.offline_policy().into())
    }

    /// Withdraws the offline allowance at once: the central closes the grant's window (PIN
    /// again), then this terminal deletes its copy (back to blocked). While the central cannot be
    /// reached, this terminal still stops at once and says that the central was not told.
    pub async fn withdraw_offline(&self, pin_text: &str) -> Result<OfflineView, UiError> {
        let running = manager(self)?;
        let pin = pin(pin_text)?;
        let terminal = &running.terminal;
        let block_here = || {
            paydesk_terminal::block_offline(terminal.data_dir()).map_err(|detail| {
                log_detail("withdrawing the offline allowance", &detail);
                UiError::new(
                    UiErrorKind::JournalRead,
                    "The offline allowance could not be removed from this terminal.",
                    "Make sure Paydesk's data folder is writable, then try again.",
                )
            })
        };
        let allowance = match terminal.offline_policy() {
            paydesk_engine::OfflinePolicy::Allow(a) => a,
            // Nothing in force here: nothing for the central to close.
            paydesk_engine::OfflinePolicy::Block => {
                block_here()?;
                return Ok(terminal.offline_policy().into());
            }
        };
        let path = format!("/v1/offline-allowances/{}", allowance.grant_id);
        let body = json!({ "pin": pin.expose() });
        match terminal
            .central()
            .delete_in_session::<_, serde_json::Value>(&path, &body)
            .await
        {
            Ok(_) => {
                block_here()?;
                Ok(terminal.offline_policy().into())
            }
            Err(CentralError::Unreachable { detail } | CentralError::NoAnswer { detail }) => {
                log_detail("withdrawing the offline allowance at the central", &detail);
                block_here()?;
                Err(UiError::new(
                    UiErrorKind::CentralUnreachable,
                    "Offline charging is withdrawn on this terminal, but the central could not be \
                     reached to close the allowance there.",
                    format!(
                        "Nothing more is needed here. At the central the allowance still ends \
                         by itself at {}.",
                        allowance.until
                    ),
                ))
            }
            Err(e) => Err(manager_error(&e, true)),
        }
    }
}

async fn outbox_view(terminal: &Terminal) -> Result<OutboxView, UiError> {
    let now: Timestamp = terminal.now();
    let (stats, messages) = terminal
        .engine()
        .with_journal(move |j| {
            Ok((
                j.outbox_stats(now)?,
                j.outbox_list(OutboxListing::Undelivered, OUTBOX_LIST_ROWS_MAX)?,
            ))
        })
        .await
        .map_err(|e| engine_error(terminal.journal_path(), &e))?;
    Ok(OutboxView {
        depth: stats.depth,
        parked: stats.parked,
        oldest_age_ms: stats.oldest_age_ms,
        messages: messages.into_iter().map(OutboxMessageView::from).collect(),
    })
}

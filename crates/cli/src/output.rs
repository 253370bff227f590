//! Printing: one JSON document per command with `--json` (times in RFC 3339, `exit_code` always
//! there, errors included), readable lines otherwise, the human forms of attempts and events
//! shared by several commands, and the progress of a running charge with a "still waiting" line
//! while the gateway or the central is slow.
//!
//! Deliberately absent: secrets. Nothing printed here can hold a token or a key — attempts,
//! events and reports carry none.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use paydesk_core::{Attempt, Money, Timestamp};
use paydesk_engine::Progress;
use paydesk_journal::StoredEvent;
use serde::Serialize;
use serde_json::Value;

use crate::exit::Failure;
use crate::words;

/// The command's JSON document, held until the command's exit code is known so the document
/// always carries it (`finish`). A command writes at most one.
static DOCUMENT: Mutex<Option<Value>> = Mutex::new(None);

/// Set for a command that runs until stopped (`stack`): its document is printed at once, with
/// exit code 0 ("it is up"), because scripts wait for it.
static IMMEDIATE: AtomicBool = AtomicBool::new(false);

/// Prints JSON documents as soon as they are written (for `stack`, which runs until Ctrl-C).
pub fn print_immediately() {
    IMMEDIATE.store(true, Ordering::SeqCst);
}

/// Sets `value` as the command's JSON document; `finish` prints it with the exit code.
pub fn json<T: Serialize>(value: &T) {
    stop_waiting();
    let mut doc = match serde_json::to_value(value) {
        Ok(Value::Object(map)) => Value::Object(map),
        // A bare value (an enum's string) still goes out as one object with an exit code.
        Ok(other) => serde_json::json!({ "value": other }),
        // Our own types always serialize; say so loudly rather than print nothing.
        Err(e) => {
            eprintln!("paydesk: could not write JSON output: {e}");
            return;
        }
    };
    times_to_rfc3339(&mut doc);
    if IMMEDIATE.load(Ordering::SeqCst) {
        doc["exit_code"] = 0.into();
        print_document(&doc);
    } else {
        *DOCUMENT.lock().unwrap_or_else(|e| e.into_inner()) = Some(doc);
    }
}

/// Prints the command's document (if it wrote one) with `code` as its `exit_code`: the code the
/// process exits with, whatever the command put there.
pub fn finish(code: u8) {
    stop_waiting();
    if let Some(mut doc) = DOCUMENT.lock().unwrap_or_else(|e| e.into_inner()).take() {
        doc["exit_code"] = code.into();
        print_document(&doc);
    }
}

/// The one document of a command that failed: `{"error": {"kind", "message"}, "exit_code"}`.
/// Whatever the command wrote before it failed is dropped, so stdout stays one document.
pub fn error(failure: &Failure) {
    error_message(failure.code, &format!("{:#}", failure.error));
}

/// [`error`] for a message and code (command-line usage errors, found before any command runs).
pub fn error_message(code: u8, message: &str) {
    stop_waiting();
    DOCUMENT.lock().unwrap_or_else(|e| e.into_inner()).take();
    print_document(&serde_json::json!({
        "error": { "kind": crate::exit::name(code), "message": message },
        "exit_code": code,
    }));
}

fn print_document(doc: &Value) {
    match serde_json::to_string(doc) {
        Ok(text) => out!("{text}"),
        Err(e) => eprintln!("paydesk: could not write JSON output: {e}"),
    }
}

/// True for a key whose integer value is a [`Timestamp`] (epoch milliseconds) in the types the
/// command line prints: `at`, `since`, `until`, `from`, `to`, `…_at`, `…_until`. Durations end
/// in `_ms` and counts have other names; both stay numbers.
fn is_time_key(key: &str) -> bool {
    matches!(key, "at" | "since" | "until" | "from" | "to")
        || key.ends_with("_at")
        || key.ends_with("_until")
}

/// Rewrites every timestamp in `value` as RFC 3339 (`2026-11-22T08:39:18.123Z`), the form the
/// human output and the `--from`/`--to` flags use. `Timestamp` serializes as epoch
/// milliseconds for the desktop and the wire; the command line's documents are for people's
/// scripts, which should not have to know that.
pub fn times_to_rfc3339(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                match v.as_i64() {
                    Some(ms) if is_time_key(key) => {
                        *v = Value::String(Timestamp::from_unix_ms(ms).rfc3339())
                    }
                    _ => times_to_rfc3339(v),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(times_to_rfc3339),
        _ => {}
    }
}

/// "129.00" of "129.00 EUR": the decimal amount without the currency.
pub fn decimal(amount: &Money) -> String {
    amount
        .to_string()
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

/// One line per attempt, for lists.
pub fn attempt_row(a: &Attempt) -> String {
    format!(
        "{created}  {id}  {order:<14} #{number:<2} {operator:<14} {amount:>14}  {state:<15} {intent}",
        created = a.created_at,
        id = a.id,
        order = a.order.as_str(),
        number = a.number.get(),
        operator = a.operator.as_str(),
        amount = a.amount.to_string(),
        state = a.state.as_str(),
        intent = a.intent_id.as_ref().map(|i| i.as_str()).unwrap_or("-"),
    )
}

pub const ATTEMPT_HEADER: &str = "created                   attempt                               order          #   operator               amount  state           intent";

/// An attempt and its history, for `show`: each event in words, never its stored JSON (that is
/// in `--json`).
pub fn attempt_detail(a: &Attempt, timeline: &[StoredEvent]) -> String {
    let mut out = format!(
        "attempt {id}\n  order      {order} (attempt #{number})\n  state      {state} ({words})\n  amount     {amount}\n  operator   {operator}\n  terminal   {terminal}\n  intent     {intent}\n  claim      token {token}\n  create key {key}\n  created    {created}\n  updated    {updated}\n  offline    {offline}\n",
        id = a.id,
        order = a.order.as_str(),
        number = a.number.get(),
        state = a.state.as_str(),
        words = words::state(a.state),
        amount = a.amount,
        operator = a.operator.as_str(),
        terminal = a.terminal.as_str(),
        intent = a.intent_id.as_ref().map(|i| i.as_str()).unwrap_or("-"),
        token = a.claim_token,
        key = a.create_key.as_str(),
        created = a.created_at,
        updated = a.updated_at,
        offline = if a.offline { "yes" } else { "no" },
    );
    if let Some(reason) = &a.reason {
        out.push_str(&format!("  reason     {reason}\n"));
    }
    out.push_str("timeline:\n");
    for e in timeline {
        out.push_str(&format!(
            "  #{seq:<5} {at}  {state:<13} {what}\n",
            seq = e.seq,
            at = e.at,
            state = e.to_state.as_str(),
            what = words::event(e),
        ));
    }
    out
}

/// Who a running charge waits for after `progress`; `None` once nothing more happens.
fn next_wait(progress: &Progress) -> Option<&'static str> {
    match progress {
        Progress::Step { state, .. } => words::waiting_for(*state),
        _ => Some("the gateway"),
    }
}

/// How long a charge may be silent before the person is told it still waits, and how often
/// after that: long enough that a normal charge (well under a second) never shows it, short
/// enough that nobody wonders whether the command hung.
const STILL_WAITING_EVERY: Duration = Duration::from_secs(5);

/// What a running charge waits for, and since when (`None` when nothing runs).
struct Waiting {
    what: &'static str,
    /// `--json`: the notice is a JSON line (`{"still_waiting": {"for", "seconds"}}`).
    json: bool,
    since: Instant,
    /// The last "still waiting" line, so one comes every `STILL_WAITING_EVERY`.
    told: Instant,
}

static WAITING: Mutex<Option<Waiting>> = Mutex::new(None);

/// Starts the one background thread that prints "still waiting for the gateway (5 s)…" on
/// stderr while a charge step waits. A thread rather than a task: it must speak while the
/// runtime's tasks are busy waiting for the very answer that is slow.
fn start_ticker() {
    static TICKER: OnceLock<()> = OnceLock::new();
    TICKER.get_or_init(|| {
        let spawned = std::thread::Builder::new()
            .name("paydesk-still-waiting".into())
            .spawn(|| loop {
                std::thread::sleep(Duration::from_millis(250));
                let mut waiting = WAITING.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(w) = waiting.as_mut() {
                    if w.told.elapsed() >= STILL_WAITING_EVERY {
                        w.told = Instant::now();
                        let seconds = w.since.elapsed().as_secs();
                        if w.json {
                            let notice = serde_json::json!({
                                "still_waiting": { "for": w.what, "seconds": seconds }
                            });
                            eprintln!("{notice}");
                        } else {
                            eprintln!("still waiting for {} ({seconds} s)…", w.what);
                        }
                    }
                }
            });
        if let Err(e) = spawned {
            eprintln!("paydesk: progress notices are off ({e})");
        }
    });
}

fn wait_for(json: bool, what: Option<&'static str>) {
    let now = Instant::now();
    *WAITING.lock().unwrap_or_else(|e| e.into_inner()) = what.map(|what| Waiting {
        what,
        json,
        since: now,
        told: now,
    });
}

/// Stops the "still waiting" lines (the charge finished or the command is printing its result).
pub fn stop_waiting() {
    wait_for(false, None);
}

/// Shows one step of a running charge or recovery: with `--json` as a JSON line on stderr
/// (stdout stays one document), otherwise in the operator's words on stdout; while the next
/// step is slow, "still waiting for …" comes on stderr every few seconds (a JSON line with
/// `--json`).
pub fn progress(json: bool, progress: &Progress) {
    start_ticker();
    if json {
        if let Ok(mut value) = serde_json::to_value(progress) {
            times_to_rfc3339(&mut value);
            eprintln!("{value}");
        }
    } else {
        match progress {
            Progress::Claimed {
                order,
                attempt_number,
            } => out!("claimed {order} (attempt #{attempt_number})"),
            Progress::Step { event, state, .. } => out!("  {}", words::step(event, *state)),
            Progress::Waiting { delay_ms, .. } => out!(
                "  no clear answer yet; asking the gateway again in {:.1} s",
                *delay_ms as f64 / 1000.0
            ),
            Progress::Offline { order, approved_by } => out!(
                "the central is unreachable: charging {order} offline under the allowance of \
                 {approved_by}"
            ),
        }
    }
    wait_for(json, next_wait(progress));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_become_rfc3339_and_durations_stay_numbers() {
        let mut doc = serde_json::json!({
            "attempt": { "created_at": 1_795_336_758_123_i64, "confirm_sent_at": null },
            "timeline": [{ "at": 0, "seq": 3 }],
            "allowance": { "until": 86_400_000, "cache_age_ms_max": 3_600_000 },
            "oldest_age_ms": 5,
            "from": 0,
            "exit_code": 0,
        });
        times_to_rfc3339(&mut doc);
        assert_eq!(doc["attempt"]["created_at"], "2026-11-22T08:39:18.123Z");
        assert!(doc["attempt"]["confirm_sent_at"].is_null());
        assert_eq!(doc["timeline"][0]["at"], "1970-01-01T00:00:00.000Z");
        assert_eq!(doc["timeline"][0]["seq"], 3);
        assert_eq!(doc["allowance"]["until"], "1970-01-02T00:00:00.000Z");
        assert_eq!(doc["allowance"]["cache_age_ms_max"], 3_600_000);
        assert_eq!(doc["oldest_age_ms"], 5);
        assert_eq!(doc["from"], "1970-01-01T00:00:00.000Z");
        assert_eq!(doc["exit_code"], 0);
    }
}

//! Printing: one JSON document per command with `--json`, readable lines otherwise, and the
//! human forms of attempts and events shared by several commands.
//!
//! Deliberately absent: secrets. Nothing printed here can hold a token or a key — attempts,
//! events and reports carry none.

use paydesk_core::{Attempt, Money};
use paydesk_journal::StoredEvent;
use serde::Serialize;

/// Prints `value` as one line of JSON on stdout.
pub fn json<T: Serialize>(value: &T) {
    match serde_json::to_string(value) {
        Ok(text) => out!("{text}"),
        // Our own types always serialize; say so loudly rather than print nothing.
        Err(e) => eprintln!("paydesk: could not write JSON output: {e}"),
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

/// An attempt and its history, for `show`.
pub fn attempt_detail(a: &Attempt, timeline: &[StoredEvent]) -> String {
    let mut out = format!(
        "attempt {id}\n  order      {order} (attempt #{number})\n  state      {state}\n  amount     {amount}\n  operator   {operator}\n  terminal   {terminal}\n  intent     {intent}\n  claim      token {token}\n  create key {key}\n  created    {created}\n  updated    {updated}\n  offline    {offline}\n",
        id = a.id,
        order = a.order.as_str(),
        number = a.number.get(),
        state = a.state.as_str(),
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
        let from = e.from_state.map(|s| s.as_str()).unwrap_or("-");
        let detail = if e.detail.is_null() {
            String::new()
        } else {
            format!("  {}", e.detail)
        };
        out.push_str(&format!(
            "  #{seq:<5} {at}  {kind:<20} {from} -> {to}{detail}\n",
            seq = e.seq,
            at = e.at,
            kind = e.kind,
            to = e.to_state.as_str(),
        ));
    }
    out
}

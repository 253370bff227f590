//! `paydesk inbox` and `paydesk resolve`: a manager's exception inbox — the central's (orders
//! in review, flags, stale tokens, claims held past their lease, refunds pending, failed or
//! made outside Paydesk) beside this terminal's own (attempts in review or of unknown outcome,
//! parked outbox messages) — and a decision on one order, which the central applies only when
//! the gateway's evidence allows it. Each signs the manager in (PIN on stdin), sends the PIN
//! again with a decision, and signs out.
//!
//! Deliberately absent: any gateway call (the central makes them), and writing the journal
//! (it is read read-only, beside a charging process).

use paydesk_core::{AttemptState, OrderId};
use paydesk_journal::{JournalError, JournalReader, OutboxListing};
use serde_json::{json, Value};

use crate::config::{journal_failure, Settings};
use crate::exit::{CmdResult, Failure, SUCCESS};
use crate::output;
use crate::reverse::as_manager;

/// The most central items one `paydesk inbox` shows (the central's page cap).
const CENTRAL_ITEMS_MAX: u32 = 500;
/// The most parked outbox messages listed.
const PARKED_MAX: u32 = 500;

/// This terminal's own exceptions from its journal, as inbox items.
fn local_items(settings: &Settings) -> Result<Vec<Value>, Failure> {
    let journal = match JournalReader::open(&settings.journal_path()?) {
        Ok(journal) => journal,
        // No charge on this terminal yet: nothing of its own to look at.
        Err(JournalError::Missing { .. }) => return Ok(Vec::new()),
        Err(e) => return Err(journal_failure(e)),
    };
    let mut items = Vec::new();
    for a in journal.unresolved().map_err(journal_failure)? {
        if !matches!(a.state, AttemptState::Unknown | AttemptState::NeedsReview) {
            continue;
        }
        let intent = a.intent_id.as_ref().map(|i| i.to_string());
        let evidence: Vec<String> = std::iter::once(a.id.to_string())
            .chain(intent.clone())
            .collect();
        items.push(json!({
            "kind": format!("attempt_{}", a.state.as_str()),
            "order_id": a.order.as_str(), "since_ms": a.updated_at.unix_ms(),
            "summary": format!("attempt {} of {} is {} on this terminal{}", a.number.get(),
                a.amount, a.state.as_str(),
                intent.as_ref().map(|i| format!(" (intent {i})")).unwrap_or_default()),
            "evidence": evidence,
        }));
    }
    for m in journal
        .outbox_list(OutboxListing::Parked, PARKED_MAX)
        .map_err(journal_failure)?
    {
        items.push(json!({
            "kind": "parked_message",
            "order_id": m.payload["order"].as_str(), "since_ms": m.created_at.unix_ms(),
            "summary": format!("outbox message {} parked: {}", m.id,
                m.parked_reason.as_deref().unwrap_or("?")),
            "evidence": [format!("outbox:{}", m.id), m.attempt_id.to_string()],
        }));
    }
    Ok(items)
}

/// `paydesk inbox --manager M --pin-stdin [--json]`.
pub async fn inbox(settings: &Settings, manager: &str, pin_stdin: bool) -> CmdResult {
    let local = local_items(settings)?;
    let example = "paydesk inbox --manager ID --pin-stdin";
    let central = as_manager(
        settings,
        manager,
        pin_stdin,
        example,
        async |client, _pin| {
            client
                .get_json_in_session::<Value>(&format!("/v1/exceptions?limit={CENTRAL_ITEMS_MAX}"))
                .await
        },
    )
    .await?;
    let items = central["items"].as_array().cloned().unwrap_or_default();
    let total = central["total"].as_u64().unwrap_or(items.len() as u64) + local.len() as u64;
    if settings.json {
        let mut doc = json!({
            "central": central, "terminal": { "items": local }, "total": total,
            "exit_code": SUCCESS,
        });
        output::times_to_rfc3339(&mut doc);
        output::json(&doc);
        return Ok(SUCCESS);
    }
    if total == 0 {
        out!("nothing needs a manager: the inbox is empty");
        return Ok(SUCCESS);
    }
    let counts = central["counts"]
        .as_object()
        .map(|c| {
            c.iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default();
    out!("{total} item(s) need a manager. At the central: {counts}");
    for i in &items {
        out!(
            "  [{}] {} — {} (since {})",
            i["kind"].as_str().unwrap_or("?"),
            i["order_id"].as_str().unwrap_or("-"),
            i["summary"].as_str().unwrap_or(""),
            i["since"].as_str().unwrap_or("?"),
        );
    }
    if central["next_cursor"].is_string() {
        out!("  … more at the central than shown here");
    }
    if !local.is_empty() {
        out!("On this terminal:");
        for i in &local {
            out!(
                "  [{}] {} — {}",
                i["kind"].as_str().unwrap_or("?"),
                i["order_id"].as_str().unwrap_or("-"),
                i["summary"].as_str().unwrap_or(""),
            );
        }
    }
    Ok(SUCCESS)
}

/// `paydesk resolve ORDER --action mark-charged --intent pi_… | --action mark-not-charged
/// --reason TEXT --manager M --pin-stdin`.
pub async fn resolve(
    settings: &Settings,
    order: &str,
    action: &str,
    intent: Option<&str>,
    reason: &str,
    manager: &str,
    pin_stdin: bool,
) -> CmdResult {
    let order = OrderId::new(order).map_err(|e| Failure::usage(format!("ORDER: {e}")))?;
    let action = match (action, intent) {
        ("mark-charged", Some(_)) => "mark_charged",
        ("mark-charged", None) => {
            return Err(Failure::usage(
                "--action mark-charged needs --intent pi_…: the intent that charged the order",
            ))
        }
        ("mark-not-charged", None) => "mark_not_charged",
        ("mark-not-charged", Some(_)) => {
            return Err(Failure::usage(
                "--action mark-not-charged takes no --intent: the central checks every intent",
            ))
        }
        (other, _) => {
            return Err(Failure::usage(format!(
                "--action {other}: choose mark-charged or mark-not-charged"
            )))
        }
    };
    if reason.trim().is_empty() {
        return Err(Failure::usage(
            "--reason is required: say why in a few words",
        ));
    }
    let example = format!(
        "paydesk resolve {order} --action {} --reason TEXT --manager ID --pin-stdin",
        action.replace('_', "-")
    );
    let answer = as_manager(
        settings,
        manager,
        pin_stdin,
        &example,
        async |client, pin| {
            let body = json!({
                "action": action, "intent_id": intent, "reason": reason, "pin": pin.expose(),
            });
            client
                .post_in_session::<_, Value>(&format!("/v1/orders/{order}/resolutions"), &body)
                .await
        },
    )
    .await?;
    if settings.json {
        let mut doc = json!({ "resolution": answer, "exit_code": SUCCESS });
        output::times_to_rfc3339(&mut doc);
        output::json(&doc);
    } else {
        out!(
            "order {order}: {} — now {} ({})",
            action.replace('_', " "),
            answer["order"]["status"].as_str().unwrap_or("?"),
            answer["evidence"].as_str().unwrap_or(""),
        );
    }
    Ok(SUCCESS)
}

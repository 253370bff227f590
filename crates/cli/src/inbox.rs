//! `paydesk inbox` and `paydesk resolve`: a manager's exception inbox — the central's (orders
//! in review, flags, stale tokens, claims held past their lease, intents with no result past
//! their expected end, refunds pending, failed or made outside Paydesk) beside this terminal's
//! own (attempts in review or of unknown outcome, parked outbox messages) — and a decision on
//! one order (mark charged, mark not charged, cancel an open intent, acknowledge an item),
//! which the central applies only when the gateway's evidence allows it. Each signs the manager
//! in (PIN on stdin), sends the PIN again with a decision, and signs out.
//!
//! Deliberately absent: any gateway call (the central makes them), and writing the journal
//! (it is read read-only, beside a charging process).

use paydesk_core::OrderId;
use paydesk_journal::{JournalError, JournalReader};
use serde_json::{json, Value};

use crate::config::{journal_failure, Settings};
use crate::exit::{CmdResult, Failure, SUCCESS};
use crate::output;
use crate::reverse::as_manager;

/// This terminal's own exceptions from its journal, read read-only (the shared inbox logic of
/// `paydesk_terminal::inbox`), as JSON for the output.
fn local_items(settings: &Settings) -> Result<Vec<Value>, Failure> {
    let journal = match JournalReader::open(&settings.journal_path()?) {
        Ok(journal) => journal,
        // No charge on this terminal yet: nothing of its own to look at.
        Err(JournalError::Missing { .. }) => return Ok(Vec::new()),
        Err(e) => return Err(journal_failure(e)),
    };
    let items = paydesk_terminal::inbox::local_items(&journal).map_err(journal_failure)?;
    Ok(items
        .into_iter()
        .map(|i| {
            json!({
                "kind": i.kind, "item_id": i.item_id, "order_id": i.order_id,
                "since_ms": i.since_ms, "summary": i.summary, "evidence": i.evidence,
            })
        })
        .collect())
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
                .get_json_in_session::<Value>(&paydesk_terminal::inbox::exceptions_path())
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
        // What `paydesk resolve … --action acknowledge --item ID` needs.
        if i["acknowledgeable"] == true {
            out!(
                "      may be acknowledged as item {}",
                i["item_id"].as_str().unwrap_or("?")
            );
        }
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

/// What `paydesk resolve` was asked to decide.
pub struct ResolveArgs<'a> {
    pub order: &'a str,
    /// `mark-charged`, `mark-not-charged`, `cancel-open-intent` or `acknowledge`.
    pub action: &'a str,
    pub intent: Option<&'a str>,
    pub item: Option<&'a str>,
    pub reason: &'a str,
}

/// `paydesk resolve ORDER --action mark-charged --intent pi_… | mark-not-charged |
/// cancel-open-intent --intent pi_… | acknowledge --item ID --reason TEXT --manager M
/// --pin-stdin`.
pub async fn resolve(
    settings: &Settings,
    args: &ResolveArgs<'_>,
    manager: &str,
    pin_stdin: bool,
) -> CmdResult {
    let ResolveArgs {
        order,
        action,
        intent,
        item,
        reason,
    } = *args;
    let order = OrderId::new(order).map_err(|e| Failure::usage(format!("ORDER: {e}")))?;
    let action =
        match (action, intent, item) {
            ("mark-charged", Some(_), None) => "mark_charged",
            ("mark-charged", None, _) => {
                return Err(Failure::usage(
                    "--action mark-charged needs --intent pi_…: the intent that charged the order",
                ))
            }
            ("mark-not-charged", None, None) => "mark_not_charged",
            ("mark-not-charged", Some(_), _) => {
                return Err(Failure::usage(
                    "--action mark-not-charged takes no --intent: the central checks every intent",
                ))
            }
            ("cancel-open-intent", Some(_), None) => "cancel_open_intent",
            ("cancel-open-intent", None, _) => {
                return Err(Failure::usage(
                    "--action cancel-open-intent needs --intent pi_…: the open intent to cancel \
                 (`paydesk evidence ORDER` lists them)",
                ))
            }
            ("acknowledge", None, Some(_)) => "acknowledge",
            ("acknowledge", _, None) => return Err(Failure::usage(
                "--action acknowledge needs --item ID: the inbox item to close (`paydesk inbox` \
                 lists them)",
            )),
            ("acknowledge", Some(_), _) => {
                return Err(Failure::usage("--action acknowledge takes no --intent"))
            }
            (a @ ("mark-charged" | "mark-not-charged" | "cancel-open-intent"), _, Some(_)) => {
                return Err(Failure::usage(format!(
                    "--action {a} takes no --item: --item is for acknowledge"
                )))
            }
            (other, _, _) => {
                return Err(Failure::usage(format!(
                "--action {other}: choose mark-charged, mark-not-charged, cancel-open-intent or \
                 acknowledge"
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
                "action": action, "intent_id": intent, "item_id": item, "reason": reason,
                "pin": pin.expose(),
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
        if answer["repeated"] == true {
            out!("  this decision was already made earlier: nothing new was done");
        }
    }
    Ok(SUCCESS)
}

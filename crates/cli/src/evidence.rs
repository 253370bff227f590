//! `paydesk evidence ORDER --manager M --pin-stdin [--json]`: an order's evidence as the central
//! gathers it (`GET /v1/orders/{order_id}/evidence`) — its record (results, registered intents,
//! decisions, reversals, refunds) beside the gateway looked up now, the order's open inbox items,
//! and the decisions this evidence allows, each with the `paydesk` command that makes it.
//!
//! Deliberately absent: any gateway call (the central makes them) and deciding what is allowed
//! (the central's rules; this only prints them).

use paydesk_core::OrderId;
use paydesk_protocol::manager::{ActionRoute, AllowedAction, OrderEvidence, ResolutionAction};
use serde_json::{json, Value};

use crate::config::Settings;
use crate::exit::{CmdResult, Failure, SUCCESS};
use crate::output;
use crate::reverse::as_manager;

/// The command a manager runs for an allowed action, as one line.
fn command_for(order: &OrderId, a: &AllowedAction) -> String {
    let tail = "--reason TEXT --manager ID --pin-stdin";
    let intent = a.intent_id.as_deref().unwrap_or("?");
    match (a.via, a.action) {
        (ActionRoute::Terminal, _) => {
            "retry it on the terminal that holds the attempt (its desk's Retry)".into()
        }
        (ActionRoute::Reversal, _) => {
            format!("paydesk reverse {order} --reason TEXT --manager ID --pin-stdin")
        }
        (_, ResolutionAction::Acknowledge) => format!(
            "paydesk resolve {order} --action acknowledge --item {} {tail}",
            a.item_id.as_deref().unwrap_or("?")
        ),
        (_, ResolutionAction::MarkNotCharged) => {
            format!("paydesk resolve {order} --action mark-not-charged {tail}")
        }
        (_, action) => format!(
            "paydesk resolve {order} --action {} --intent {intent} {tail}",
            action.as_str().replace('_', "-")
        ),
    }
}

fn print(order: &OrderId, e: &OrderEvidence) {
    let o = &e.central.detail.order;
    out!(
        "order {order}: {} — {} (gateway read at {})",
        o.amount,
        o.status.as_str(),
        e.looked_up_at
    );
    if let Some(paid) = &o.paid_intent_id {
        out!("  paid by {paid}");
    }
    if let Some(c) = &o.claim {
        out!(
            "  held by {} on terminal {} until {}",
            c.operator_id,
            c.terminal_id,
            c.lease_until
        );
    }
    out!("At the central:");
    for r in &e.central.detail.results {
        out!(
            "  result: attempt {} from {} — {}{} ({})",
            r.attempt_number,
            r.terminal_id,
            serde_json::to_value(r.outcome)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            r.intent_id
                .as_ref()
                .map(|i| format!(", intent {i}"))
                .unwrap_or_default(),
            serde_json::to_value(r.status)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
        );
    }
    for i in &e.central.detail.intents {
        out!(
            "  intent {} registered by {} for attempt {} ({})",
            i.intent_id,
            i.terminal_id,
            i.attempt_number,
            i.state
        );
    }
    for d in &e.central.resolutions {
        out!(
            "  decision {} {}by {} — {}: {} ({})",
            d.action,
            d.intent_id
                .as_ref()
                .map(|i| format!("{i} "))
                .unwrap_or_default(),
            d.manager_id,
            d.outcome,
            d.reason,
            d.evidence
        );
    }
    for v in &e.central.reversals {
        out!(
            "  reversal {} of {} on {}: {}",
            v.kind,
            v.amount,
            v.intent_id,
            v.state
        );
    }
    for r in &e.central.refunds {
        out!(
            "  refund {} of {} minor units on {}: {}{}",
            r.refund_id,
            r.amount_minor,
            r.intent_id,
            r.status,
            if r.by_paydesk {
                ""
            } else {
                " (made outside Paydesk)"
            }
        );
    }
    out!("At the gateway now:");
    if e.gateway.intents.is_empty() && e.gateway.unreadable.is_empty() {
        out!("  no intent for this order");
    }
    for i in &e.gateway.intents {
        let amount = i
            .amount
            .map(|a| a.to_string())
            .unwrap_or_else(|| "amount not shown".into());
        out!(
            "  {}: {}{} — {amount}, {} minor units received{}{}",
            i.intent_id,
            i.status,
            if i.declined { " (declined)" } else { "" },
            i.amount_received_minor,
            if i.refunds.is_empty() {
                String::new()
            } else {
                format!(", refunds {}", i.refunds.join(" "))
            },
            match i.found_by {
                paydesk_protocol::manager::FoundBy::Search => ", found only by the search",
                _ => "",
            }
        );
    }
    for id in &e.gateway.unreadable {
        out!("  {id}: could not be read — look again in a minute");
    }
    for n in &e.gateway.notes {
        out!("  ({n})");
    }
    if !e.exceptions.is_empty() {
        out!("In the inbox:");
        for i in &e.exceptions {
            out!("  [{}] {} — {}", i.kind.as_str(), i.item_id, i.summary);
        }
    }
    if e.allowed_actions.is_empty() {
        out!("This evidence allows no decision now: look again later.");
        return;
    }
    out!("This evidence allows:");
    for a in &e.allowed_actions {
        out!("  {}", a.label);
        out!("    {}", command_for(order, a));
    }
}

/// `paydesk evidence ORDER --manager M --pin-stdin`.
pub async fn evidence(
    settings: &Settings,
    order: &str,
    manager: &str,
    pin_stdin: bool,
) -> CmdResult {
    let order = OrderId::new(order).map_err(|e| Failure::usage(format!("ORDER: {e}")))?;
    let example = format!("paydesk evidence {order} --manager ID --pin-stdin");
    let answer = as_manager(
        settings,
        manager,
        pin_stdin,
        &example,
        async |client, _pin| {
            client
                .get_json_in_session::<Value>(&format!("/v1/orders/{order}/evidence"))
                .await
        },
    )
    .await?;
    if settings.json {
        let mut doc = json!({ "evidence": answer, "exit_code": SUCCESS });
        output::times_to_rfc3339(&mut doc);
        output::json(&doc);
        return Ok(SUCCESS);
    }
    let evidence: OrderEvidence = serde_json::from_value(answer).map_err(|e| {
        Failure::new(
            crate::exit::OTHER,
            anyhow::anyhow!("the central's evidence is not in the expected shape ({e}): is the central the same version as this paydesk?"),
        )
    })?;
    print(&order, &evidence);
    Ok(SUCCESS)
}

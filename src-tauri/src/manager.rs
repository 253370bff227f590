//! The manager's desk in the shell (issue 11, items 1 and 2): the exception inbox (the central's
//! `GET /v1/exceptions` beside this terminal's own items from its journal), an order's evidence
//! (this terminal's journal timeline, `GET /v1/orders/{id}/evidence`: the central's record and the
//! live gateway lookup with the actions they allow) and a decision on it — sent to the central
//! with a reason and the manager's PIN; "retry the same attempt" is recorded there the same way,
//! then carried out here by a recovery pass. Reversals are in `manager_reversals.rs`.
//!
//! Each method is one call into the terminal or the central in the signed-in manager's session;
//! the central checks the session, the role and the PIN again for every action. Deliberately
//! absent: deciding what the evidence allows (the central's answer says, and it refuses anything
//! else), and wording beyond the error mapping at the end.

use std::sync::Arc;

use paydesk_core::{AttemptId, AttemptState, OrderId, Pin};
use paydesk_engine::CentralError;
use paydesk_journal::AttemptFilter;
use paydesk_protocol::manager::{ExceptionList, OrderEvidence, ResolutionOutcome};
use paydesk_protocol::Role;
use paydesk_terminal::inbox::{exceptions_path, InboxItem};
use serde_json::json;

use crate::desk::{Desk, Running};
use crate::error::{engine_error, log_detail, UiError, UiErrorKind};
use crate::manager_views::{DecisionView, EvidenceView, InboxView};
use crate::views::{Session, TimelineView};

/// The most attempts of one order read from this terminal's journal for the evidence.
const ORDER_ATTEMPTS_MAX: u32 = 50;

impl Desk {
    /// The running terminal and the signed-in manager; refused for an operator and for a
    /// manager signed in offline (every manager action is decided at the central).
    pub(crate) fn manager(&self) -> Result<(Arc<Running>, Session), UiError> {
        let (running, session) = self.signed_in()?;
        if session.role != Role::Manager {
            return Err(UiError::new(
                UiErrorKind::NotSignedIn,
                "Only a manager can do this.",
                "Ask a manager to sign in on this terminal.",
            ));
        }
        if session.offline {
            return Err(UiError::new(
                UiErrorKind::CentralUnreachable,
                "You are signed in offline, and a manager's decision needs the central server.",
                "Sign out and sign in again once the central server can be reached.",
            ));
        }
        Ok((running, session))
    }

    /// The exception inbox: the central's items and this terminal's own, oldest first. When the
    /// central cannot answer, this terminal's items are still listed and `central_problem` says
    /// why the others are missing.
    pub async fn manager_inbox(&self) -> Result<InboxView, UiError> {
        let (running, _) = self.manager()?;
        let terminal = &running.terminal;
        let local = terminal
            .local_inbox()
            .await
            .map_err(|e| engine_error(terminal.journal_path(), &e))?;
        let central = terminal
            .central()
            .get_json_in_session::<ExceptionList>(&exceptions_path())
            .await;
        let (mut items, central_total, more, problem): (Vec<InboxItem>, u64, bool, _) =
            match central {
                Ok(list) => (
                    list.items.into_iter().map(InboxItem::from).collect(),
                    u64::from(list.total),
                    list.next_cursor.is_some(),
                    None,
                ),
                Err(e) => {
                    let ui = manager_error(&e, "nothing was changed");
                    if ui.kind == UiErrorKind::NotSignedIn {
                        return Err(ui);
                    }
                    (
                        Vec::new(),
                        0,
                        false,
                        Some(format!(
                            "The central server's items are not shown: {} {}",
                            ui.message, ui.next_step
                        )),
                    )
                }
            };
        let total = central_total + local.len() as u64;
        items.extend(local);
        items.sort_by(|a, b| (a.since_ms, &a.item_id).cmp(&(b.since_ms, &b.item_id)));
        Ok(InboxView {
            items,
            total,
            more_at_central: more,
            central_problem: problem,
            read_at_ms: terminal.now().unix_ms(),
        })
    }

    /// An order's evidence in three columns: this terminal's attempts for it with their
    /// histories, and the central's record beside the live gateway lookup, with the actions the
    /// evidence allows.
    pub async fn order_evidence(&self, order: &str) -> Result<EvidenceView, UiError> {
        let (running, _) = self.manager()?;
        let order = order_id(order)?;
        let terminal = &running.terminal;
        let attempts = terminal
            .attempts(AttemptFilter {
                order: Some(order.clone()),
                limit: Some(ORDER_ATTEMPTS_MAX),
                ..AttemptFilter::default()
            })
            .await
            .map_err(|e| engine_error(terminal.journal_path(), &e))?;
        let mut journal = Vec::new();
        // Newest first from the journal; the column reads oldest first.
        for attempt in attempts.into_iter().rev() {
            let events = terminal
                .attempt_timeline(attempt.id)
                .await
                .map_err(|e| engine_error(terminal.journal_path(), &e))?
                .map(|(_, events)| events)
                .unwrap_or_default();
            journal.push(TimelineView {
                attempt: attempt.into(),
                events,
            });
        }
        let path = format!("/v1/orders/{order}/evidence");
        let (evidence, central_problem) = match terminal
            .central()
            .get_json_in_session::<OrderEvidence>(&path)
            .await
        {
            Ok(evidence) => (Some(evidence), None),
            Err(e) => {
                let ui = manager_error(&e, "nothing was changed");
                if ui.kind == UiErrorKind::NotSignedIn {
                    return Err(ui);
                }
                (None, Some(format!("{} {}", ui.message, ui.next_step)))
            }
        };
        Ok(EvidenceView {
            order_id: order.as_str().to_string(),
            journal,
            evidence,
            central_problem,
        })
    }

    /// A decision on `order` at the central (`mark_charged` with `intent_id`,
    /// `mark_not_charged`, `cancel_open_intent` with `intent_id`, `acknowledge` with `item_id`;
    /// an empty `order` acknowledges an item that names none), with a reason and the manager's
    /// PIN. The central applies it only when the evidence it
    /// reads itself allows it.
    pub async fn resolve_order(
        &self,
        order: &str,
        decision: Decision,
    ) -> Result<DecisionView, UiError> {
        let (running, _) = self.manager()?;
        let reason = reason(&decision.reason)?;
        let pin = pin(&decision.pin)?;
        let action = decision.action.as_str();
        if order.trim().is_empty() {
            // An item that names no order (results dropped over a terminal's quota) can only
            // be acknowledged, through the inbox's own route.
            let Some(item_id) = decision
                .item_id
                .as_deref()
                .filter(|_| action == "acknowledge")
            else {
                return Err(UiError::bad_input(
                    "This item names no order, so only \"acknowledge\" applies to it.",
                    "Choose acknowledge, say why, and type your PIN.",
                ));
            };
            let body = json!({ "item_id": item_id, "reason": reason, "pin": pin.expose() });
            let outcome: ResolutionOutcome = running
                .terminal
                .central()
                .post_in_session("/v1/exceptions/acknowledgements", &body)
                .await
                .map_err(|e| manager_error(&e, "nothing was acknowledged"))?;
            return Ok(DecisionView {
                message: decision_words(&outcome),
                outcome: Some(outcome),
            });
        }
        let order = order_id(order)?;
        if !matches!(
            action,
            "mark_charged" | "mark_not_charged" | "cancel_open_intent" | "acknowledge"
        ) {
            return Err(UiError::bad_input(
                format!("\"{action}\" is not a decision the central takes."),
                "Pick one of the actions shown for this order.",
            ));
        }
        let body = json!({
            "action": action, "intent_id": decision.intent_id, "item_id": decision.item_id,
            "reason": reason, "pin": pin.expose(),
        });
        let outcome: ResolutionOutcome = running
            .terminal
            .central()
            .post_in_session(&format!("/v1/orders/{order}/resolutions"), &body)
            .await
            .map_err(|e| manager_error(&e, "nothing was decided"))?;
        Ok(DecisionView {
            message: decision_words(&outcome),
            outcome: Some(outcome),
        })
    }

    /// "Retry the same attempt": recorded at the central first as the manager's decision (PIN,
    /// role, reason, and the order's evidence allowing a retry, checked there), then one recovery
    /// pass runs here, which drives this terminal's unfinished attempts (this one among them)
    /// with their own idempotency keys. Says where the attempt stands afterwards.
    pub async fn retry_attempt(
        &self,
        attempt: &str,
        reason_text: &str,
        pin_text: &str,
    ) -> Result<DecisionView, UiError> {
        let (running, _) = self.manager()?;
        let id = AttemptId::parse(attempt).map_err(|_| {
            UiError::bad_input(
                "That is not an attempt id.",
                "Pick the item from the inbox.",
            )
        })?;
        let reason = reason(reason_text)?;
        let pin = pin(pin_text)?;
        let terminal = &running.terminal;
        // Only the terminal holding the attempt can retry it with its keys: asked before the
        // PIN is spent.
        let Some((held, _)) = terminal
            .attempt_timeline(id)
            .await
            .map_err(|e| engine_error(terminal.journal_path(), &e))?
        else {
            return Err(UiError::bad_input(
                "This attempt is not in this terminal's journal: it can only be retried on the \
                 terminal that made it.",
                "Retry it there, or decide from the gateway's evidence here.",
            ));
        };
        let body = json!({
            "action": "retry", "attempt_id": id.to_string(), "reason": reason,
            "pin": pin.expose(),
        });
        let decided: ResolutionOutcome = terminal
            .central()
            .post_in_session(&format!("/v1/orders/{}/resolutions", held.order), &body)
            .await
            .map_err(|e| manager_error(&e, "nothing was retried"))?;
        let report = terminal.recover(&|_| {}).await;
        for error in &report.errors {
            log_detail("recovery", error);
        }
        let state = terminal
            .attempt_timeline(id)
            .await
            .map_err(|e| engine_error(terminal.journal_path(), &e))?
            .map(|(attempt, _)| attempt.state);
        let message = match state {
            None => "This attempt is not in this terminal's journal: it can only be retried on \
                     the terminal that made it."
                .to_string(),
            Some(AttemptState::Succeeded) => {
                "Retried: the gateway says the payment succeeded. The order is paid.".into()
            }
            Some(AttemptState::Declined) => {
                "Retried: the gateway says the payment was declined. No money moved.".into()
            }
            Some(AttemptState::Canceled) => {
                "Retried: the payment was canceled at the gateway. No money moved.".into()
            }
            Some(AttemptState::Unknown) => {
                "Retried, but the gateway still gives no answer for this attempt. Paydesk keeps \
                 asking every 30 seconds; look again later or decide from the gateway's evidence."
                    .into()
            }
            Some(other) => format!(
                "Retried: the attempt is now \"{}\". Reload the evidence to decide what is next.",
                other.as_str().replace('_', " ")
            ),
        };
        Ok(DecisionView {
            message,
            outcome: Some(decided),
        })
    }
}

/// A decision as the UI sends it.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Decision {
    pub action: String,
    #[serde(default)]
    pub intent_id: Option<String>,
    #[serde(default)]
    pub item_id: Option<String>,
    pub reason: String,
    pub pin: String,
}

pub(crate) fn order_id(order: &str) -> Result<OrderId, UiError> {
    OrderId::new(order.trim()).map_err(|_| {
        UiError::bad_input(
            "That is not an order id.",
            "Pick the order from the inbox or the journal.",
        )
    })
}

pub(crate) fn reason(text: &str) -> Result<String, UiError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(UiError::bad_input(
            "A reason is required.",
            "Say in a few words why you decide this; it is kept in the audit log.",
        ));
    }
    Ok(text.to_string())
}

pub(crate) fn pin(text: &str) -> Result<Pin, UiError> {
    Pin::parse(text).map_err(|e| {
        UiError::bad_input(
            format!("That is not a PIN: {e}."),
            "Type your PIN again (digits only).",
        )
    })
}

/// An applied decision in words.
fn decision_words(outcome: &ResolutionOutcome) -> String {
    let order = outcome.order_id.as_deref().unwrap_or("the item");
    let done = match outcome.action.as_str() {
        "mark_charged" => format!(
            "Order {order} is marked paid by {}.",
            outcome.intent_id.as_deref().unwrap_or("the intent")
        ),
        "mark_not_charged" => {
            format!("Order {order} is marked not charged and is back in the queue.")
        }
        "cancel_open_intent" => format!(
            "The open payment {} of order {order} is canceled at the gateway.",
            outcome.intent_id.as_deref().unwrap_or("")
        ),
        "acknowledge" => "The item is acknowledged and leaves the inbox.".to_string(),
        other => format!("Done: {}.", other.replace('_', " ")),
    };
    let repeated = if outcome.repeated {
        " (This decision had already been taken; nothing new was done.)"
    } else {
        ""
    };
    format!(
        "{done} The central's evidence: {}.{repeated}",
        outcome.evidence
    )
}

/// A refusal or failure of a manager's call to the central, in words. `nothing` says what did
/// not happen ("nothing was decided").
pub(crate) fn manager_error(error: &CentralError, nothing: &str) -> UiError {
    let said = |message: &str| {
        let text = message.trim().trim_end_matches('.');
        let mut chars = text.chars();
        match chars.next() {
            Some(first) => format!("{}{}.", first.to_uppercase(), chars.as_str()),
            None => String::new(),
        }
    };
    match error {
        CentralError::Unreachable { detail } | CentralError::NoAnswer { detail } => {
            log_detail("central unreachable (manager)", detail);
            UiError::new(
                UiErrorKind::CentralUnreachable,
                format!("The central server cannot be reached, so {nothing}."),
                "Check the network, then try again.",
            )
        }
        CentralError::SessionRequired | CentralError::SessionExpired => UiError::new(
            UiErrorKind::NotSignedIn,
            format!("Your session has ended, so {nothing}."),
            "Sign in again with your manager id and PIN.",
        ),
        CentralError::Unauthorized => UiError::new(
            UiErrorKind::SignInRefused,
            format!("The central refused the PIN, so {nothing}."),
            "Type your PIN again. Several wrong PINs in a row lock sign-in for a while.",
        ),
        CentralError::Locked(message) => UiError::new(
            UiErrorKind::SignInLocked,
            said(message),
            "Wait until then, or ask another manager.",
        ),
        CentralError::RateLimited(message) => {
            log_detail("central rate limit (manager)", message);
            UiError::new(
                UiErrorKind::SignInLocked,
                "Too many requests from this terminal in a short time.",
                "Wait a minute, then try again.",
            )
        }
        CentralError::Forbidden(message) if message.contains("another manager") => UiError::new(
            UiErrorKind::CentralRefused,
            format!("The central refused: {}", said(message)),
            "Ask another manager to sign in on this desk and approve it.",
        ),
        CentralError::Forbidden(message) => UiError::new(
            UiErrorKind::CentralRefused,
            format!("The central refused: {}", said(message)),
            "Ask a manager who may do this, or change the permission in Settings.",
        ),
        CentralError::Refused { message, .. } | CentralError::NotChargeable(message) => {
            UiError::new(
                UiErrorKind::CentralRefused,
                format!("The central refused: {}", said(message)),
                format!("{} Reload the evidence and decide again.", said(nothing)),
            )
        }
        CentralError::UnknownOrder(order) => UiError::new(
            UiErrorKind::BadInput,
            format!("The central does not know order {order}."),
            "Check the order id.",
        ),
        other => {
            log_detail("manager call", &other.to_string());
            UiError::new(
                UiErrorKind::CentralRefused,
                format!("The central server could not do this, so {nothing}."),
                "Try again. If it keeps happening, report it to support with the time.",
            )
        }
    }
}

//! Reversals from the manager's desk (issue 11, item 3): ask for one (`POST
//! /v1/orders/{id}/reversals`: the central reads the live intent and cancels what captured
//! nothing, otherwise refunds all or part), and above the four-eyes threshold keep the request on
//! this desk until a second manager approves it here (`POST /v1/approvals`) and the requester
//! sends it with the approval.
//!
//! The central binds an approval to the action, order and amount, spends it once, lets it
//! expire, and refuses one made by the requester; this file only carries the request between the
//! two managers. Requests live in `reversal_requests.json` in the data directory (order, amount,
//! reason, who, the reversal key and approval id: no secret). Deliberately absent: any check the
//! central makes (the desk shows the central's refusal in its words).

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use paydesk_core::Money;
use serde_json::{json, Value};

use crate::desk::Desk;
use crate::error::{log_detail, UiError, UiErrorKind};
use crate::manager::{manager_error, order_id, pin, reason};
use crate::manager_views::{ReversalRequestView, ReversalResult, ReversalView};

/// The file the requests are kept in, in the data directory.
pub const REVERSAL_REQUESTS_FILE: &str = "reversal_requests.json";
/// The most requests kept (the oldest sent ones go first).
const REQUESTS_MAX: usize = 200;

/// One read-modify-write of the file at a time.
static FILE_LOCK: Mutex<()> = Mutex::new(());

fn file(data_dir: &Path) -> PathBuf {
    data_dir.join(REVERSAL_REQUESTS_FILE)
}

fn load(data_dir: &Path) -> Vec<ReversalRequestView> {
    match std::fs::read(file(data_dir)) {
        Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            log_detail("reversal requests unreadable", &e.to_string());
            Vec::new()
        }),
        Err(_) => Vec::new(),
    }
}

fn save(data_dir: &Path, requests: &[ReversalRequestView]) -> Result<(), UiError> {
    let path = file(data_dir);
    let tmp = path.with_extension("json.tmp");
    let bytes = serde_json::to_vec_pretty(requests)
        .map_err(|e| UiError::internal(&format!("reversal requests: {e}")))?;
    std::fs::write(&tmp, bytes)
        .and_then(|()| std::fs::rename(&tmp, &path))
        .map_err(|e| {
            log_detail("reversal requests not saved", &e.to_string());
            UiError::new(
                UiErrorKind::JournalRead,
                "Paydesk could not save the reversal request on this computer.",
                format!(
                    "Check that the data folder {} is writable, then try again.",
                    data_dir.display()
                ),
            )
        })
}

/// Replaces (or adds) `request` in the file.
fn store(data_dir: &Path, request: &ReversalRequestView) -> Result<(), UiError> {
    let _guard = FILE_LOCK.lock().unwrap_or_else(|p| p.into_inner());
    let mut requests = load(data_dir);
    requests.retain(|r| r.reversal_key != request.reversal_key);
    requests.push(request.clone());
    while requests.len() > REQUESTS_MAX {
        let oldest_done = requests.iter().position(|r| r.state == "sent");
        requests.remove(oldest_done.unwrap_or(0));
    }
    save(data_dir, &requests)
}

fn result_of(row: &Value) -> Option<ReversalResult> {
    Some(ReversalResult {
        reversal_id: row["reversal_id"].as_str()?.to_string(),
        kind: row["kind"].as_str()?.to_string(),
        amount_minor: row["amount_minor"].as_i64()?,
        currency: row["currency"].as_str()?.to_string(),
        state: row["state"].as_str()?.to_string(),
        failure: row["failure"].as_str().map(str::to_string),
        approved_by: row["approved_by"].as_str().map(str::to_string),
    })
}

/// The central's reversal in words.
fn result_words(r: &ReversalResult, exponent: u8) -> String {
    let amount = format_minor(r.amount_minor, exponent, &r.currency);
    let what = if r.kind == "cancel" {
        format!("Nothing had been captured, so the payment of {amount} is canceled")
    } else {
        format!("A refund of {amount}")
    };
    let state = match r.state.as_str() {
        "succeeded" if r.kind == "cancel" => " at the gateway.".to_string(),
        "succeeded" => " went through at the gateway.".to_string(),
        "pending" => " is sent; the gateway has not finished it yet. Paydesk follows it up \
                      (it shows in the inbox until it is final)."
            .to_string(),
        _ => format!(
            " failed: {}. Look at the order's evidence, then try again.",
            r.failure.as_deref().unwrap_or("the gateway gave no reason")
        ),
    };
    let approved = r
        .approved_by
        .as_deref()
        .map(|a| format!(" Approved by {a}."))
        .unwrap_or_default();
    format!("{what}{state}{approved}")
}

fn format_minor(minor: i64, exponent: u8, currency: &str) -> String {
    if exponent == 0 {
        return format!("{minor} {currency}");
    }
    let scale = 10_i64.pow(u32::from(exponent));
    format!(
        "{}.{:0width$} {currency}",
        minor / scale,
        minor % scale,
        width = usize::from(exponent)
    )
}

fn exponent_of(currency: &str) -> u8 {
    paydesk_core::Currency::from_code(currency)
        .map(|c| c.exponent())
        .unwrap_or(2)
}

/// The amount in the central's "a reversal of 129.00 EUR is above …" refusal.
fn amount_named(message: &str) -> Option<Money> {
    let rest = message.split("reversal of ").nth(1)?;
    let amount = rest.split(" is above").next()?;
    Money::parse(amount.trim()).ok()
}

/// Whether the central's refusal says the reversal needs a second manager's approval.
fn needs_approval(error: &UiError) -> bool {
    error.kind == UiErrorKind::CentralRefused && error.message.contains("needs another manager")
}

impl Desk {
    /// Asks the central for a reversal of `order` (`amount` `None`: everything still paid). At
    /// or below the threshold the central cancels or refunds at once; above it the request
    /// waits on this desk for a second manager's approval.
    pub async fn request_reversal(
        &self,
        order: &str,
        amount: Option<Money>,
        reason_text: &str,
        pin_text: &str,
    ) -> Result<ReversalView, UiError> {
        let (running, session) = self.manager()?;
        let order = order_id(order)?;
        let reason = reason(reason_text)?;
        let pin = pin(pin_text)?;
        if amount.is_some_and(|a| a.minor() <= 0) {
            return Err(UiError::bad_input(
                "The amount must be more than zero.",
                "Type the amount to give back, or leave it empty for everything still paid.",
            ));
        }
        let terminal = &running.terminal;
        let now = terminal.now().unix_ms();
        let mut request = ReversalRequestView {
            reversal_key: format!("{}-{now}", terminal.terminal_id()),
            order_id: order.as_str().to_string(),
            amount,
            reason,
            requested_by: session.operator.as_str().to_string(),
            requested_at_ms: now,
            state: "sending".into(),
            approval_id: None,
            approved_by: None,
            approval_expires_at_ms: None,
            result: None,
            problem: None,
        };
        self.send(&running.terminal, &mut request, pin.expose())
            .await
    }

    /// The reversal requests kept on this desk, newest first.
    pub async fn reversal_requests(&self) -> Result<Vec<ReversalRequestView>, UiError> {
        let (running, _) = self.manager()?;
        let mut requests = load(running.terminal.data_dir());
        requests.reverse();
        Ok(requests)
    }

    /// A second manager approves a waiting request with their PIN. When the signed-in manager
    /// is the requester, the approval is made and the reversal sent at once, so the central
    /// gives its answer to a self-approval (a refusal) in its own words.
    pub async fn approve_reversal(
        &self,
        reversal_key: &str,
        pin_text: &str,
    ) -> Result<ReversalView, UiError> {
        let (running, session) = self.manager()?;
        let pin = pin(pin_text)?;
        let terminal = &running.terminal;
        let mut request = find(terminal.data_dir(), reversal_key)?;
        let amount = match (request.state.as_str(), request.amount) {
            ("waiting_for_approval", Some(amount)) => amount,
            ("waiting_for_approval", None) => {
                return Err(UiError::bad_input(
                    "This request has no amount to approve.",
                    "Ask for the reversal again with the amount typed in.",
                ))
            }
            _ => {
                return Err(UiError::bad_input(
                    "This request is not waiting for an approval.",
                    "Reload the reversals.",
                ))
            }
        };
        let body = json!({
            "action": "reversal", "order_id": request.order_id, "amount": amount,
            "pin": pin.expose(),
        });
        let approval: Value = terminal
            .central()
            .post_in_session("/v1/approvals", &body)
            .await
            .map_err(|e| manager_error(&e, "nothing was approved"))?;
        request.approval_id = approval["approval_id"].as_str().map(str::to_string);
        request.approved_by = approval["approved_by"].as_str().map(str::to_string);
        request.approval_expires_at_ms = approval["expires_at"].as_i64();
        request.state = "approved".into();
        request.problem = None;
        store(terminal.data_dir(), &request)?;
        if request.requested_by == session.operator.as_str() {
            return self.send(terminal, &mut request, pin.expose()).await;
        }
        Ok(ReversalView {
            message: format!(
                "Approved. {} can now send the reversal from this screen with their PIN \
                 (the approval is for this order and amount only, used once, and expires).",
                request.requested_by
            ),
            request,
        })
    }

    /// The requester sends an approved request (with the approval), or sends again one that
    /// could not be sent; the same reversal key makes a repeat safe.
    pub async fn send_reversal(
        &self,
        reversal_key: &str,
        pin_text: &str,
    ) -> Result<ReversalView, UiError> {
        let (running, session) = self.manager()?;
        let pin = pin(pin_text)?;
        let terminal = &running.terminal;
        let mut request = find(terminal.data_dir(), reversal_key)?;
        if request.requested_by != session.operator.as_str() {
            return Err(UiError::bad_input(
                format!(
                    "Only {} can send this reversal: the central takes it in the requester's \
                     session.",
                    request.requested_by
                ),
                format!("Ask {} to sign in and send it.", request.requested_by),
            ));
        }
        self.send(terminal, &mut request, pin.expose()).await
    }

    /// Posts the request to the central and records the answer on this desk.
    async fn send(
        &self,
        terminal: &paydesk_terminal::Terminal,
        request: &mut ReversalRequestView,
        pin: &str,
    ) -> Result<ReversalView, UiError> {
        let body = json!({
            "reversal_key": request.reversal_key, "amount": request.amount,
            "reason": request.reason, "pin": pin, "approval_id": request.approval_id,
        });
        let path = format!("/v1/orders/{}/reversals", request.order_id);
        let answer = terminal
            .central()
            .post_in_session::<_, Value>(&path, &body)
            .await;
        match answer {
            Ok(row) => {
                let result = result_of(&row).ok_or_else(|| {
                    UiError::internal(&format!("the central's reversal is unreadable: {row}"))
                })?;
                let message = result_words(&result, exponent_of(&result.currency));
                request.state = "sent".into();
                request.result = Some(result);
                request.problem = None;
                store(terminal.data_dir(), request)?;
                Ok(ReversalView {
                    message,
                    request: request.clone(),
                })
            }
            Err(e) => {
                let error = manager_error(&e, "nothing was reversed");
                if needs_approval(&error) && request.approval_id.is_none() {
                    // An approval binds an amount: "everything still paid" becomes the amount
                    // the central named.
                    if request.amount.is_none() {
                        request.amount = amount_named(&error.message);
                    }
                    request.state = "waiting_for_approval".into();
                    request.problem = None;
                    store(terminal.data_dir(), request)?;
                    return Ok(ReversalView {
                        message: "This amount is above the limit one manager may reverse \
                                  alone, so it is waiting for a second manager's approval. \
                                  Another manager signs in on this desk, opens Reversals and \
                                  approves it with their PIN; then you send it."
                            .into(),
                        request: request.clone(),
                    });
                }
                if request.state != "sending" {
                    // A kept request: remember the central's refusal beside it. An approval the
                    // central refused (the requester's own, used, expired) is dropped, so the
                    // request waits for another manager's approval again.
                    request.problem = Some(format!("{} {}", error.message, error.next_step));
                    if request.approval_id.is_some() && error.kind == UiErrorKind::CentralRefused {
                        request.state = "waiting_for_approval".into();
                        request.approval_id = None;
                        request.approved_by = None;
                        request.approval_expires_at_ms = None;
                    }
                    store(terminal.data_dir(), request)?;
                }
                Err(error)
            }
        }
    }
}

fn find(data_dir: &Path, reversal_key: &str) -> Result<ReversalRequestView, UiError> {
    load(data_dir)
        .into_iter()
        .find(|r| r.reversal_key == reversal_key)
        .ok_or_else(|| {
            UiError::bad_input(
                "This reversal request is not kept on this desk.",
                "Reload the reversals.",
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_amount_the_central_named_is_read_back() {
        let m = "The central refused: A reversal of 129.00 EUR is above 10000 minor units and \
                 needs another manager's approval.";
        let amount = amount_named(m).unwrap();
        assert_eq!((amount.minor(), amount.currency().code()), (12900, "EUR"));
        assert_eq!(amount_named("something else"), None);
    }

    #[test]
    fn amounts_read_in_their_currency() {
        assert_eq!(format_minor(12900, 2, "EUR"), "129.00 EUR");
        assert_eq!(format_minor(5, 2, "EUR"), "0.05 EUR");
        assert_eq!(format_minor(500, 0, "JPY"), "500 JPY");
    }

    #[test]
    fn a_cancel_and_a_pending_refund_are_told_apart() {
        let mut r = ReversalResult {
            reversal_id: "rev_1".into(),
            kind: "cancel".into(),
            amount_minor: 1999,
            currency: "EUR".into(),
            state: "succeeded".into(),
            failure: None,
            approved_by: None,
        };
        assert!(result_words(&r, 2).starts_with("Nothing had been captured"));
        r.kind = "refund".into();
        r.state = "pending".into();
        r.approved_by = Some("demo-manager-2".into());
        let words = result_words(&r, 2);
        assert!(
            words.contains("not finished") && words.contains("demo-manager-2"),
            "{words}"
        );
    }
}

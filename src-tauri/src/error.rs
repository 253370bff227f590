//! The one error type that crosses from the shell to the web UI, and the one mapping of every
//! engine, stack, journal and keyring error into it.
//!
//! It carries a stable `kind` the UI can branch on, a sentence for people, and the next step to
//! take. Internal details (SQLite messages, HTTP errors, file system errors, panics) are logged on
//! the shell's side and never copied into it: the UI is not a debugging console, and those texts
//! can carry paths or data that do not belong on an operator's screen.

use std::path::Path;

use paydesk_core::{OperatorId, TerminalId, Timestamp};
use paydesk_engine::{CentralError, EngineError, OfflineRefusal};
use paydesk_journal::JournalError;
use paydesk_protocol::ErrorCode;
use paydesk_stack::StackError;
use paydesk_terminal::{
    ChargeError, ConnectError, OpenError, QueueError, SecretError, SecretLoadError, SignInError,
};
use serde::Serialize;

/// What kind of failure the UI is looking at; serialized in snake_case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum UiErrorKind {
    /// The app is still starting its engine (and the embedded central and gateway).
    Starting,
    /// Start-up failed; nothing can be read or charged until the cause is fixed.
    StartupFailed,
    /// The OS keyring (Secret Service) is not running or refused.
    KeyringUnavailable,
    /// The journal could not be opened.
    JournalUnavailable,
    /// Another Paydesk process holds the journal.
    JournalLocked,
    /// The journal is damaged, tampered with or not a journal: charging must stop.
    JournalDamaged,
    /// Reading or writing the journal failed after it was opened.
    JournalRead,
    /// Nobody is signed in, or the signed-in person may not do this.
    NotSignedIn,
    /// Unknown operator or wrong PIN (one kind for both, so it reveals neither).
    SignInRefused,
    /// Too many wrong PINs (or sign-in attempts from this terminal): sign-in waits until a time.
    SignInLocked,
    /// What was typed is not valid (a PIN with letters, an empty order id).
    BadInput,
    /// The central server cannot be reached.
    CentralUnreachable,
    /// The central is unreachable and the offline policy does not allow this charge.
    OfflineBlocked,
    /// The central refused this terminal's token.
    TerminalNotAuthorized,
    /// Another operator holds the order.
    HeldBy,
    /// The order is paid, or otherwise not chargeable now.
    NotChargeable,
    /// The order's amount changed since the queue was read.
    AmountChanged,
    /// A previous attempt already charged this order.
    AlreadyCharged,
    /// The gateway refused our configuration (nothing was charged).
    Gateway,
    /// The same customer paid the same amount on another order recently (the message names it):
    /// nothing was charged; the operator may charge anyway once sure it is not a duplicate.
    SimilarPayment,
    /// The card networks' reattempt limits forbid another attempt on this card now.
    ReattemptRefused,
    /// The central refused a request for another reason.
    CentralRefused,
    /// A bug in the shell (a panicked worker, a poisoned lock).
    Internal,
}

/// Who holds an order, for the UI's "held by X on terminal Y since Z".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct HeldBy {
    pub operator: OperatorId,
    pub terminal: TerminalId,
    pub since: Timestamp,
}

/// An error as the UI receives it: `{"kind": …, "message": …, "next_step": …}` (+ `held_by`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error, ts_rs::TS)]
#[error("{message} {next_step}")]
pub struct UiError {
    pub kind: UiErrorKind,
    /// What went wrong, in the operator's terms.
    pub message: String,
    /// What the person in front of the screen should do now.
    pub next_step: String,
    /// Set for [`UiErrorKind::HeldBy`].
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub held_by: Option<HeldBy>,
    /// Set for [`UiErrorKind::OfflineBlocked`]: which rule of the offline policy refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub offline_refusal: Option<Box<OfflineRefusal>>,
}

impl UiError {
    pub fn new(
        kind: UiErrorKind,
        message: impl Into<String>,
        next_step: impl Into<String>,
    ) -> Self {
        UiError {
            kind,
            message: message.into(),
            next_step: next_step.into(),
            held_by: None,
            offline_refusal: None,
        }
    }

    /// A bug on our side: the detail goes to the log, the UI gets a generic sentence.
    pub fn internal(detail: &str) -> Self {
        log_detail("internal error", detail);
        UiError::new(
            UiErrorKind::Internal,
            "Paydesk hit an internal error.",
            "Restart Paydesk. If it happens again, report it to support with the time it happened.",
        )
    }

    pub fn starting() -> Self {
        UiError::new(
            UiErrorKind::Starting,
            "Paydesk is still starting.",
            "Wait a few seconds; the screen updates by itself.",
        )
    }

    pub fn not_signed_in() -> Self {
        UiError::new(
            UiErrorKind::NotSignedIn,
            "Nobody is signed in on this terminal.",
            "Sign in with your operator id and PIN.",
        )
    }

    pub fn bad_input(message: impl Into<String>, next_step: impl Into<String>) -> Self {
        UiError::new(UiErrorKind::BadInput, message, next_step)
    }
}

/// Where internal details go instead of the UI: standard error (the app's log).
pub fn log_detail(context: &str, detail: &str) {
    eprintln!("paydesk-desktop: {context}: {detail}");
}

/// The UI's wording for a journal error. The journal's own messages are precise but carry SQLite
/// and file-system details, so they go to the log; people get one sentence per kind of trouble and
/// what to do next.
pub fn journal_error(path: &Path, error: &JournalError) -> UiError {
    log_detail("journal", &error.to_string());
    let path = path.display();
    match error {
        JournalError::Locked { .. } => UiError::new(
            UiErrorKind::JournalLocked,
            format!("The journal {path} is in use by another Paydesk window or process."),
            "Close the other Paydesk, then restart this one.",
        ),
        JournalError::ReadOnly { .. } | JournalError::CannotOpen { .. } => UiError::new(
            UiErrorKind::JournalUnavailable,
            format!("Paydesk cannot write its journal {path}."),
            "Make sure the file and its folder are writable by your user account, then restart \
             Paydesk.",
        ),
        JournalError::DiskFull { .. } => UiError::new(
            UiErrorKind::JournalUnavailable,
            format!("The disk holding the journal {path} is full."),
            "Free some disk space, then try again. Nothing was lost.",
        ),
        JournalError::NewerSchema { .. } => UiError::new(
            UiErrorKind::JournalUnavailable,
            format!("The journal {path} was written by a newer version of Paydesk."),
            "Update Paydesk on this computer; the journal was not changed.",
        ),
        JournalError::Corrupt { .. } | JournalError::NotAJournal { .. } => UiError::new(
            UiErrorKind::JournalDamaged,
            format!("The journal {path} is damaged or is not a Paydesk journal."),
            "Stop charging on this terminal and call your manager. Do not delete or move the file: \
             it is the record of every charge.",
        ),
        _ => UiError::new(
            UiErrorKind::JournalRead,
            format!("Paydesk could not read or write its journal {path}."),
            "Try again. If it keeps failing, restart Paydesk and tell your manager.",
        ),
    }
}

/// The keyring's errors, with what to do about them.
pub fn secret_error(error: &SecretError) -> UiError {
    log_detail("keyring", &error.to_string());
    match error {
        SecretError::Unavailable { .. } => UiError::new(
            UiErrorKind::KeyringUnavailable,
            "Paydesk keeps its terminal token and gateway key in the OS keyring, and no keyring is \
             running on this computer.",
            "Sign in to a desktop session with a keyring (GNOME Keyring or KWallet) and unlock it, \
             then restart Paydesk.",
        ),
        SecretError::Keyring { .. } => UiError::new(
            UiErrorKind::KeyringUnavailable,
            "The OS keyring refused to give Paydesk its secrets (it may be locked).",
            "Unlock your keyring (it usually unlocks with your login password), then restart \
             Paydesk.",
        ),
        _ => UiError::new(
            UiErrorKind::KeyringUnavailable,
            "A Paydesk entry in the OS keyring cannot be used.",
            "Ask your administrator to provision this terminal again (`paydesk provision`), then \
             restart Paydesk.",
        ),
    }
}

/// Start-up failures of the embedded stack.
pub fn stack_error(error: &StackError) -> UiError {
    match error {
        StackError::Secrets(e) => secret_error(e),
        StackError::DataDir { path, .. } => {
            log_detail("data directory", &error.to_string());
            UiError::new(
                UiErrorKind::StartupFailed,
                format!("Paydesk could not use its data folder {}.", path.display()),
                "Check that the folder can be written by your user account, then restart Paydesk.",
            )
        }
        StackError::LiveGatewayKey => UiError::new(
            UiErrorKind::StartupFailed,
            "The OS keyring holds a live gateway key, and the demo set-up only runs with the \
             sandbox's test key.",
            "Set PAYDESK_KEYRING_SERVICE to another name for the demo, or configure the real \
             central with PAYDESK_CENTRAL_URL, then restart Paydesk.",
        ),
        other => {
            log_detail("start-up", &other.to_string());
            UiError::new(
                UiErrorKind::StartupFailed,
                "Paydesk could not start its central server and payment gateway connection.",
                "Restart Paydesk. If it happens again, report it to support with the time it \
                 happened.",
            )
        }
    }
}

/// The central's errors, from the operator's side of the screen.
pub fn central_error(error: &CentralError) -> UiError {
    match error {
        CentralError::Unreachable { detail } => {
            log_detail("central unreachable", detail);
            UiError::new(
                UiErrorKind::CentralUnreachable,
                "The central server cannot be reached, so nothing was charged.",
                "Check the network, then try again. Paydesk keeps retrying on its own.",
            )
        }
        CentralError::NoAnswer { detail } => {
            log_detail("central did not answer", detail);
            UiError::new(
                UiErrorKind::CentralUnreachable,
                "The central server did not answer in time, so nothing was charged.",
                "Try again in a moment. If it keeps happening, tell your manager: the central \
                 may be overloaded.",
            )
        }
        CentralError::HeldBy {
            operator,
            terminal,
            since,
        } => UiError {
            held_by: Some(HeldBy {
                operator: operator.clone(),
                terminal: terminal.clone(),
                since: *since,
            }),
            ..UiError::new(
                UiErrorKind::HeldBy,
                format!(
                    "This order is being charged by {operator} on terminal {terminal} since \
                     {since}."
                ),
                "Leave it to them and pick another order. Do not charge it here.",
            )
        },
        CentralError::StaleClaim => UiError::new(
            UiErrorKind::HeldBy,
            "Another terminal took this order over.",
            "Reload the queue and pick another order.",
        ),
        CentralError::UnknownOrder(order) => UiError::new(
            UiErrorKind::NotChargeable,
            format!("The central does not know order {order}."),
            "Reload the queue; the order may have been removed.",
        ),
        CentralError::Unauthorized => UiError::new(
            UiErrorKind::TerminalNotAuthorized,
            "The central refused this terminal's credentials.",
            "Ask your administrator to provision this terminal again, then restart Paydesk.",
        ),
        CentralError::NotChargeable(message) => {
            log_detail("not chargeable", message);
            UiError::new(
                UiErrorKind::NotChargeable,
                "This order cannot be charged now (it may already be paid or be under review).",
                "Reload the queue to see where it stands.",
            )
        }
        CentralError::SessionRequired | CentralError::SessionExpired => UiError::new(
            UiErrorKind::NotSignedIn,
            "Your session has ended (15 minutes without a charge, or the end of its shift), so \
             nothing was charged.",
            "Sign in again with your operator id and PIN.",
        ),
        CentralError::Locked(message) => UiError::new(
            UiErrorKind::SignInLocked,
            sentence(message),
            "Wait until then, or ask a manager. Each further lock lasts longer.",
        ),
        CentralError::RateLimited(message) => {
            log_detail("central rate limit", message);
            UiError::new(
                UiErrorKind::SignInLocked,
                "Too many attempts from this terminal in a short time.",
                "Wait a minute, then try again.",
            )
        }
        CentralError::Forbidden(message) => {
            log_detail("central forbade", message);
            UiError::new(
                UiErrorKind::NotSignedIn,
                "You may not do this with the session you are signed in with.",
                "Sign in as the person who should do it (a manager for manager actions).",
            )
        }
        CentralError::Refused {
            code: ErrorCode::SimilarPayment,
            message,
        } => UiError::new(
            UiErrorKind::SimilarPayment,
            similar_payment_words(message),
            "Nothing was charged. Check with the customer that this is a separate payment; if it \
             is, choose Charge anyway.",
        ),
        CentralError::Refused {
            code: ErrorCode::ReattemptRefused,
            message,
        } => UiError::new(
            UiErrorKind::ReattemptRefused,
            sentence(message),
            "Nothing was charged. Do not try this card again now: ask the customer for another \
             payment method.",
        ),
        CentralError::Refused { code, message } => {
            log_detail(&format!("central refused ({})", code.as_str()), message);
            UiError::new(
                UiErrorKind::CentralRefused,
                "The central server refused the request.",
                "Reload the queue and try again. If it keeps happening, tell your manager.",
            )
        }
        CentralError::Invalid(message) => {
            log_detail("central unusable", message);
            UiError::new(
                UiErrorKind::CentralRefused,
                "The central server refused the request.",
                "Reload the queue and try again. If it keeps happening, tell your manager.",
            )
        }
    }
}

/// The central is unreachable and the offline policy refused this charge: which rule, in words.
fn offline_refusal(refusal: &OfflineRefusal) -> UiError {
    let (why, next_step) = match refusal {
        OfflineRefusal::NotAllowed => (
            "offline charging is not allowed on this terminal".to_string(),
            "Wait until the status bar says Online, then charge again; or ask a manager to allow \
             offline charging."
                .to_string(),
        ),
        OfflineRefusal::Expired { approved_by, until } => (
            format!("the offline allowance approved by {approved_by} ended at {until}"),
            "Wait until the status bar says Online, or ask a manager to renew the allowance."
                .to_string(),
        ),
        OfflineRefusal::WrongCurrency { allowed } => (
            format!("offline charging is allowed in {allowed} only"),
            "Wait until the status bar says Online, then charge again.".to_string(),
        ),
        OfflineRefusal::PerChargeCap {
            amount,
            per_charge_max,
        } => (
            format!("{amount} is above the offline limit of {per_charge_max} per charge"),
            "Wait until the status bar says Online, then charge again.".to_string(),
        ),
        OfflineRefusal::ShiftCap {
            so_far,
            per_shift_max,
            ..
        } => (
            format!(
                "this shift's offline charges ({so_far}) would pass the shift limit of \
                 {per_shift_max}"
            ),
            "Wait until the status bar says Online, or ask a manager for a new allowance."
                .to_string(),
        ),
        OfflineRefusal::StaleCache {
            fetched_at,
            age_ms_max,
        } => (
            format!(
                "the queue saved on this terminal is from {fetched_at}, older than the {} minutes \
                 the offline allowance accepts",
                age_ms_max / 60_000
            ),
            "Wait until the status bar says Online, then charge again: someone may have charged \
             this order since."
                .to_string(),
        ),
        OfflineRefusal::GatewayShowsCharge { intent, status } => (
            format!("the payment gateway shows payment {intent} of this order as {status}"),
            "Do not charge it again: it is paid or being paid. Wait until the status bar says \
             Online to see where it stands."
                .to_string(),
        ),
        OfflineRefusal::GatewayNotAsked { detail } => {
            log_detail("offline gateway check", detail);
            (
                "the payment gateway could not be asked whether this order was charged already"
                    .to_string(),
                "Wait until the status bar says Online, then charge again.".to_string(),
            )
        }
        OfflineRefusal::NotCached => (
            "this order is not in the queue saved on this terminal, so its amount cannot be \
             checked"
                .to_string(),
            "Wait until the status bar says Online, then charge again.".to_string(),
        ),
    };
    UiError {
        offline_refusal: Some(Box::new(refusal.clone())),
        ..UiError::new(
            UiErrorKind::OfflineBlocked,
            format!("The central server is unreachable and {why}, so nothing was charged."),
            next_step,
        )
    }
}

/// A charge that did not run: a broken journal, or the engine's reason.
pub fn charge_error(journal: &Path, error: &ChargeError) -> UiError {
    match error {
        ChargeError::JournalBroken { message } => {
            log_detail("journal verification", message);
            UiError::new(
                UiErrorKind::JournalDamaged,
                "This terminal's journal failed its integrity check, so charging has stopped.",
                "Call your manager: the journal must be reconciled before anyone charges here.",
            )
        }
        ChargeError::NotSignedIn => UiError::new(
            UiErrorKind::NotSignedIn,
            "Your session has ended (15 minutes without a charge, or the end of its shift), so \
             nothing was charged.",
            "Sign in again with your operator id and PIN.",
        ),
        ChargeError::OtherOperator { signed_in, .. } => UiError::new(
            UiErrorKind::NotSignedIn,
            format!("{signed_in} is signed in on this terminal, so nothing was charged."),
            "Sign out and sign in as yourself to charge.",
        ),
        ChargeError::Engine(e) => engine_error(journal, e),
    }
}

/// Settings or secrets that did not resolve for an external central.
pub fn connect_error(error: &ConnectError) -> UiError {
    match error {
        ConnectError::Settings(e) => UiError::new(
            UiErrorKind::StartupFailed,
            format!("Paydesk's settings are incomplete: {e}."),
            "Fix the setting, or unset PAYDESK_CENTRAL_URL to run the embedded demo, then \
             restart Paydesk.",
        ),
        ConnectError::Secret(SecretLoadError::Missing(kind)) => UiError::new(
            UiErrorKind::StartupFailed,
            format!("This terminal has no {} in the OS keyring.", kind.what()),
            format!(
                "Store it with `paydesk provision {}` (it reads the value from stdin), then \
                 restart Paydesk.",
                kind.provision_arg()
            ),
        ),
        ConnectError::Secret(SecretLoadError::Keyring { error, .. }) => secret_error(error),
        ConnectError::Secret(e @ SecretLoadError::BadOverride { .. }) => UiError::new(
            UiErrorKind::StartupFailed,
            format!("A secret in the environment cannot be used: {e}."),
            "Fix the variable, then restart Paydesk.",
        ),
    }
}

/// The terminal could not be opened over its connection.
pub fn open_error(journal: &Path, error: &OpenError) -> UiError {
    match error {
        OpenError::Journal(e) => journal_error(journal, e),
        OpenError::DataDir { path, .. } => {
            log_detail("data directory", &error.to_string());
            UiError::new(
                UiErrorKind::StartupFailed,
                format!("Paydesk could not use its data folder {}.", path.display()),
                "Check that the folder can be written by your user account, then restart Paydesk.",
            )
        }
        OpenError::Internal(detail) => UiError::internal(detail),
        other => {
            log_detail("start-up", &other.to_string());
            UiError::new(
                UiErrorKind::StartupFailed,
                "Paydesk could not start its connection to the central server and the payment \
                 gateway.",
                "Check PAYDESK_CENTRAL_URL, PAYDESK_GATEWAY_URL and the gateway key, then restart \
                 Paydesk.",
            )
        }
    }
}

/// A charge that did not start or could not continue.
pub fn engine_error(journal: &Path, error: &EngineError) -> UiError {
    match error {
        EngineError::Central(e) => central_error(e),
        EngineError::NotChargeable { order, status } => UiError::new(
            UiErrorKind::NotChargeable,
            format!("Order {order} is {status} at the central and cannot be charged."),
            "Reload the queue to see where it stands.",
        ),
        EngineError::AmountChanged {
            order,
            expected,
            current,
        } => UiError::new(
            UiErrorKind::AmountChanged,
            format!("The amount of order {order} changed from {expected} to {current}."),
            "Nothing was charged. Reload the queue and check the new amount with the customer \
             before charging.",
        ),
        EngineError::Offline { refusal, detail } => {
            log_detail("offline", detail);
            offline_refusal(refusal)
        }
        EngineError::ChargedHere { order, .. } => UiError::new(
            UiErrorKind::AlreadyCharged,
            format!("Order {order} was already charged on this terminal."),
            "Do not charge it again: the journal shows the payment, and the central marks the \
             order paid once the result reaches it.",
        ),
        EngineError::OpenHere { order, state, .. } => UiError::new(
            UiErrorKind::NotChargeable,
            format!("Order {order} has an unfinished attempt on this terminal ({state})."),
            "Do not charge it again now: Paydesk settles that attempt first (or a manager does, if \
             it waits for review). Look it up in the journal.",
        ),
        EngineError::PreviousIntentCharged { order, .. } => UiError::new(
            UiErrorKind::AlreadyCharged,
            format!("Order {order} was already charged by a previous attempt."),
            "Do not charge it again: the central marks it paid once that result is reconciled.",
        ),
        EngineError::Gateway(e) => {
            log_detail("gateway", &e.to_string());
            UiError::new(
                UiErrorKind::Gateway,
                "The payment gateway refused this terminal's request; nothing was charged.",
                "Tell your manager: the gateway key or configuration needs checking.",
            )
        }
        EngineError::Journal(e) => journal_error(journal, e),
        EngineError::JournalBroken { message } => {
            log_detail("journal verification", message);
            UiError::new(
                UiErrorKind::JournalDamaged,
                "This terminal's journal failed its integrity check, so recovery, sync and \
                 charging have stopped: nothing was sent.",
                "Call your manager: the journal must be reconciled before this terminal charges \
                 or syncs again.",
            )
        }
        EngineError::Internal(detail) => UiError::internal(detail),
    }
}

pub fn queue_error(error: &QueueError) -> UiError {
    match error {
        QueueError::UnreachableNoCache { detail } => {
            log_detail("queue", detail);
            UiError::new(
                UiErrorKind::CentralUnreachable,
                "The central server cannot be reached, and this terminal has no saved copy of \
                 the queue yet.",
                "Check the network; the queue loads as soon as the central answers.",
            )
        }
        QueueError::Central(e) => central_error(e),
    }
}

pub fn sign_in_error(error: &SignInError) -> UiError {
    match error {
        SignInError::Refused => UiError::new(
            UiErrorKind::SignInRefused,
            "Unknown operator or wrong PIN.",
            "Check your operator id and type your PIN again.",
        ),
        SignInError::Locked(message) => UiError::new(
            UiErrorKind::SignInLocked,
            sentence(message),
            "Wait until then, or ask a manager. Each further lock lasts longer.",
        ),
        SignInError::RateLimited(message) => {
            log_detail("sign-in rate limit", message);
            UiError::new(
                UiErrorKind::SignInLocked,
                "Too many sign-in attempts from this terminal in a short time.",
                "Wait a minute, then try again.",
            )
        }
        SignInError::UnreachableNoCache { detail } => {
            log_detail("sign-in", detail);
            UiError::new(
                UiErrorKind::CentralUnreachable,
                "The central server cannot be reached, and you have not signed in online on this \
                 terminal in the last 12 hours (managers sign in online only).",
                "Sign in once while the central is reachable; for 12 hours after that, an operator \
                 can also sign in here while it is down.",
            )
        }
        SignInError::Central(e) => central_error(e),
        SignInError::Internal(detail) => UiError::internal(detail),
    }
}

/// A message from the terminal or the central as a sentence: capital first letter, one full stop.
/// The central's `similar_payment` message (which names the earlier order, who charged it,
/// when and its gateway id) without its closing advice to the API client, which the UI gives in
/// its own words.
fn similar_payment_words(message: &str) -> String {
    let words = match message.find(". Check with the customer") {
        Some(end) => &message[..end],
        None => message,
    };
    sentence(words)
}

fn sentence(text: &str) -> String {
    let text = text.trim().trim_end_matches('.');
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => format!("{}{}.", first.to_uppercase(), chars.as_str()),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_similar_payment_names_the_earlier_order_and_offers_to_charge_anyway() {
        let refused = CentralError::Refused {
            code: ErrorCode::SimilarPayment,
            message: "order ORD-4 may be a duplicate: customer cus_same already paid 12.34 EUR \
                      on order ORD-1 within the last 4 hours: op-anna on terminal till-1 at \
                      2026-11-30T21:07:39.303Z (attempt 1, gateway id pi_1, 12.34 EUR). Check \
                      with the customer that this is a separate payment; to charge it anyway, \
                      confirm it (confirm_similar)"
                .into(),
        };
        let ui = central_error(&refused);
        assert_eq!(ui.kind, UiErrorKind::SimilarPayment);
        assert!(
            ui.message.starts_with("Order ORD-4 may be a duplicate"),
            "{}",
            ui.message
        );
        assert!(ui.message.contains("on order ORD-1"), "{}", ui.message);
        assert!(ui.message.contains("gateway id pi_1"), "{}", ui.message);
        assert!(!ui.message.contains("confirm_similar"), "{}", ui.message);
        assert!(ui.next_step.contains("Charge anyway"), "{}", ui.next_step);
    }

    #[test]
    fn a_reattempt_refusal_keeps_the_central_words() {
        let refused = CentralError::Refused {
            code: ErrorCode::ReattemptRefused,
            message: "the card pm_1 was declined with do_not_honor".into(),
        };
        let ui = central_error(&refused);
        assert_eq!(ui.kind, UiErrorKind::ReattemptRefused);
        assert_eq!(ui.message, "The card pm_1 was declined with do_not_honor.");
    }
}

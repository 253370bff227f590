//! The commands that move money or results: `charge` (the operator signs in first, PIN on
//! stdin, and out after), `recover` and `sync`, each a thin run of the engine with progress on
//! the terminal and an exit code that says what happened.
//!
//! Deliberately absent: any decision about the charge (the engine and the core own the protocol);
//! this file only maps outcomes to words and exit codes.

use paydesk_core::{AttemptState, Money, OperatorId, OrderId};
use paydesk_engine::{
    CentralError, ChargeReport, ChargeRequest, ClaimOptions, EngineError, Progress, RecoveryReport,
};
use paydesk_terminal::{ChargeError, DrainReport, DrainWait, SignInError, Terminal};
use serde::Serialize;

use crate::central::{read_pin, sign_in_failure, sign_in_failure_in};
use crate::config::Settings;
use crate::exit::{
    CmdResult, Failure, CONFLICT, JOURNAL_BROKEN, OTHER, PENDING, REFUSED, SUCCESS, UNREACHABLE,
    USAGE,
};
use crate::output;

/// Tells the person at the terminal that a sync waits for results' retry times.
fn retry_notice(wait_ms: u64, depth: i64) {
    eprintln!(
        "waiting {:.1} s for the retry time of {depth} result(s)",
        wait_ms as f64 / 1000.0
    );
}

fn sync_line(settings: &Settings, report: &DrainReport) -> String {
    let mut line = format!(
        "sync: {} delivered, {} parked, {} waiting",
        report.delivered, report.parked, report.waiting
    );
    if report.parked_total > 0 {
        line.push_str(&format!(
            " ({} parked in total: a manager must look at them)",
            report.parked_total
        ));
    }
    if let Some(why) = &report.unreachable {
        let why = settings.unreachable_detail(why.clone());
        line.push_str(&format!(
            "\nthe central is unreachable ({why}): results stay in the journal; run `paydesk sync` \
             when it is back"
        ));
    }
    line
}

/// The exit code of a charge error, and its message.
pub fn engine_failure(e: EngineError) -> Failure {
    let code = match &e {
        EngineError::Central(CentralError::Unreachable { .. } | CentralError::NoAnswer { .. })
        | EngineError::Offline { .. } => UNREACHABLE,
        EngineError::Central(
            CentralError::HeldBy { .. }
            | CentralError::StaleClaim
            | CentralError::UnknownOrder(_)
            | CentralError::NotChargeable(_),
        )
        // The duplicate guard's warning and the card networks' reattempt limits (issue 12): the
        // central's message says why and what to do; nothing was claimed or charged.
        | EngineError::Central(CentralError::Refused {
            code:
                paydesk_protocol::ErrorCode::SimilarPayment
                | paydesk_protocol::ErrorCode::ReattemptRefused,
            ..
        })
        | EngineError::NotChargeable { .. }
        | EngineError::ChargedHere { .. }
        | EngineError::OpenHere { .. }
        | EngineError::PreviousIntentCharged { .. } => CONFLICT,
        // The amount typed is not the order's: the operator's input, like any bad input.
        EngineError::AmountChanged { .. } => USAGE,
        EngineError::JournalBroken { .. }
        | EngineError::Journal(paydesk_journal::JournalError::Corrupt { .. }) => JOURNAL_BROKEN,
        _ => OTHER,
    };
    let hint = if code == UNREACHABLE && e.nothing_charged() {
        "; nothing was charged"
    } else if let EngineError::Central(CentralError::Refused {
        code: paydesk_protocol::ErrorCode::SimilarPayment,
        ..
    }) = &e
    {
        "; nothing was charged. If the customer confirms it is a separate payment, run the same \
         charge again with --confirm-similar"
    } else {
        ""
    };
    Failure::new(code, anyhow::anyhow!("{e}{hint}"))
}

fn charge_failure(e: ChargeError) -> Failure {
    match e {
        ChargeError::JournalBroken { .. } => Failure::new(
            JOURNAL_BROKEN,
            anyhow::anyhow!("{e} — see `paydesk journal verify`"),
        ),
        ChargeError::NotSignedIn | ChargeError::OtherOperator { .. } => {
            Failure::new(REFUSED, anyhow::anyhow!("{e}"))
        }
        ChargeError::Engine(e) => engine_failure(e),
    }
}

/// What the operator does next after a decline or a required action, from the gateway's reason
/// (Stripe's decline codes; the order stays in the queue and can be charged again).
pub fn next_step(state: AttemptState, reason: &str) -> Option<&'static str> {
    let code = reason.split([':', ' ', ',']).next().unwrap_or(reason);
    Some(match (state, code) {
        (AttemptState::RequiresAction, _) | (_, "authentication_required") => {
            "the bank wants the customer to confirm (3-D Secure), which a terminal cannot do: ask              the customer to confirm it or to pay another way; the order stays in the queue"
        }
        (AttemptState::Declined, "insufficient_funds") => {
            "the card has not enough funds: ask the customer for another card, or to top it up,              then charge again"
        }
        (AttemptState::Declined, "expired_card") => {
            "the card on file has expired: ask the customer for a new card, then charge again"
        }
        (AttemptState::Declined, "incorrect_cvc" | "incorrect_number" | "invalid_expiry_year") => {
            "the card details on file are wrong: ask the customer to update their card"
        }
        (AttemptState::Declined, "lost_card" | "stolen_card" | "pickup_card" | "fraudulent") => {
            "the bank refused this card for security reasons: do not retry it; ask the customer              for another way to pay, and tell a manager"
        }
        (AttemptState::Declined, "card_velocity_exceeded" | "withdrawal_count_limit_exceeded") => {
            "the card's limit is reached: ask the customer for another card, or try again later"
        }
        (AttemptState::Declined, "processing_error" | "try_again_later" | "issuer_not_available") => {
            "the bank could not process it just now: try again in a few minutes"
        }
        (AttemptState::Declined, _) => {
            "the bank declined without saying why: ask the customer to call their bank or to use              another card; the order stays in the queue"
        }
        _ => return None,
    })
}

/// The exit code of an attempt's state after a run.
fn state_code(report: &ChargeReport) -> u8 {
    match report.state() {
        AttemptState::Succeeded => SUCCESS,
        AttemptState::Declined | AttemptState::RequiresAction | AttemptState::Canceled => REFUSED,
        _ => PENDING,
    }
}

fn print_progress(json: bool, progress: &Progress) {
    output::progress(json, progress);
}

#[derive(Serialize)]
struct ChargeOutput<'a> {
    outcome: &'a str,
    exit_code: u8,
    attempt: &'a paydesk_core::Attempt,
    amount: String,
    pending: Option<&'a str>,
    sync: Option<&'a DrainReport>,
}

/// The amount `--charge-amount` asks this payment to charge, checked against the order's
/// `--amount` before anything is sent (issue 12, installments): more than zero, the order's
/// currency, not above the order. Above the balance due is the central's to say (it knows the
/// payments counted). `None`: the balance due.
pub fn installment_options(
    order_amount: &str,
    charge_amount: Option<String>,
    reason: Option<String>,
) -> Result<(Option<Money>, Option<String>), Failure> {
    let Some(text) = charge_amount else {
        return Ok((None, reason));
    };
    let amount = Money::parse(&text).map_err(|e| {
        Failure::usage(format!(
            "--charge-amount: {e} (what this payment charges, e.g. \"30.00 EUR\")"
        ))
    })?;
    if amount.minor() == 0 {
        return Err(Failure::usage(
            "--charge-amount must be more than zero: leave it out to charge the balance due",
        ));
    }
    if let Ok(order) = Money::parse(order_amount) {
        if order.currency() != amount.currency() {
            return Err(Failure::usage(format!(
                "--charge-amount {amount} is not in the order's currency ({}): give it in {}",
                order.currency().code(),
                order.currency().code()
            )));
        }
        if amount.minor() > order.minor() {
            return Err(Failure::usage(format!(
                "--charge-amount {amount} is more than the order ({order}): charge at most its \
                 balance due"
            )));
        }
    }
    Ok((Some(amount), reason))
}

pub async fn charge(
    settings: &Settings,
    order: &str,
    operator: &str,
    amount: &str,
    pin_stdin: bool,
    options: ClaimOptions,
) -> CmdResult {
    let order = OrderId::new(order)
        .map_err(|e| Failure::usage(format!("order: {e} (the order id as the queue shows it)")))?;
    let operator =
        OperatorId::new(operator).map_err(|e| Failure::usage(format!("--operator: {e}")))?;
    let expected_amount = Money::parse(amount)
        .map_err(|e| Failure::usage(format!("--amount: {e} (the amount as the queue shows it)")))?;
    if !pin_stdin {
        return Err(Failure::usage(
            "nothing is charged without a signed-in operator: pass --pin-stdin and the \
             operator's PIN on stdin, e.g. `printf '%s\\n' \"$PIN\" | paydesk charge ORDER \
             --operator ID --amount AMOUNT --pin-stdin`",
        ));
    }
    let pin = read_pin("paydesk charge ORDER --operator ID --amount AMOUNT --pin-stdin")?;
    let terminal = settings.open().await?;
    let signed = terminal
        .sign_in(&operator, pin)
        .await
        .map_err(|e| sign_in_failure_in(settings, e))?;
    if signed.offline {
        eprintln!(
            "paydesk: the central is unreachable; {operator} signed in with this terminal's \
             offline verifier"
        );
    }
    let result = charge_signed_in(
        settings,
        &terminal,
        operator,
        order,
        expected_amount,
        options,
    )
    .await;
    terminal.sign_out().await;
    result
}

/// The charge itself, for the operator signed in at `terminal`.
async fn charge_signed_in(
    settings: &Settings,
    terminal: &Terminal,
    operator: OperatorId,
    order: OrderId,
    expected_amount: Money,
    options: ClaimOptions,
) -> CmdResult {
    let open = terminal.unresolved().await.map_err(engine_failure)?;
    if !open.is_empty() {
        eprintln!(
            "note: {} unfinished attempt(s) in the journal: run `paydesk recover`",
            open.len()
        );
    }

    let json = settings.json;
    let request = ChargeRequest {
        order,
        operator,
        expected_amount,
    };
    let report = terminal
        .charge_with_options(&request, options, &move |p| print_progress(json, &p))
        .await
        .map_err(|e| match e {
            ChargeError::Engine(EngineError::Offline { refusal, detail }) => {
                let mut failure = charge_failure(ChargeError::Engine(EngineError::Offline {
                    refusal,
                    detail: settings.unreachable_detail(detail),
                }));
                if settings.stack_stopped() {
                    // The stopped stack's sandbox is stopped too: no gateway to charge through.
                    failure.error = failure.error.context(
                        "the embedded stack is stopped, its sandbox gateway too; to charge \
                         offline with it, run `paydesk stack --central-down`",
                    );
                }
                failure
            }
            other => charge_failure(other),
        })?;
    let code = state_code(&report);
    // The result is in the outbox; hand it to the central now so the order's flag is released.
    // Failing here changes nothing about the charge: the result waits in the journal.
    let sync = match terminal.drain(DrainWait::DueOnly).await {
        Ok(sync) => Some(sync),
        Err(e) => {
            eprintln!("paydesk: the result could not be synced now ({e}); run `paydesk sync`");
            None
        }
    };
    let attempt = &report.attempt;
    if json {
        output::json(&ChargeOutput {
            outcome: attempt.state.as_str(),
            exit_code: code,
            attempt,
            amount: attempt.amount.to_string(),
            pending: report.pending.as_deref(),
            sync: sync.as_ref(),
        });
    } else {
        let intent = attempt
            .intent_id
            .as_ref()
            .map(|i| i.as_str())
            .unwrap_or("-");
        out!(
            "{state}: order {order}, {amount} (attempt {id}, intent {intent})",
            state = attempt.state.as_str(),
            order = attempt.order,
            amount = attempt.amount,
            id = attempt.id,
        );
        if let Some(reason) = &attempt.reason {
            out!("reason: {reason}");
        }
        if let Some(next) = next_step(attempt.state, attempt.reason.as_deref().unwrap_or("")) {
            out!("next: {next}");
        }
        if let Some(pending) = &report.pending {
            out!("not finished: {pending}");
        } else if code == PENDING {
            out!(
                "not finished: the outcome is not known yet; recovery continues — do not charge \
                 this order again"
            );
        }
        if let Some(sync) = &sync {
            out!("{}", sync_line(settings, sync));
        }
    }
    Ok(code)
}

#[derive(Serialize)]
struct RecoverOutput<'a> {
    report: &'a RecoveryReport,
    awaiting_manager: usize,
    sync: Option<&'a DrainReport>,
    exit_code: u8,
}

pub async fn recover(settings: &Settings, operator: Option<&str>) -> CmdResult {
    let operator = operator
        .map(|o| OperatorId::new(o).map_err(|e| Failure::usage(format!("--operator: {e}"))))
        .transpose()?;
    let pin = match &operator {
        Some(_) => Some(read_pin("paydesk recover --operator ID --pin-stdin")?),
        None => None,
    };
    let terminal = settings.open().await?;
    if let (Some(operator), Some(pin)) = (&operator, pin) {
        match terminal.sign_in(operator, pin).await {
            Ok(_) => {}
            // Recovery needs no one while the central is down: go on without a session.
            Err(e @ SignInError::UnreachableNoCache { .. }) => {
                eprintln!("paydesk: recovering without a session: {e}")
            }
            Err(e) => return Err(sign_in_failure(e)),
        }
    }
    let json = settings.json;
    // A journal that fails verification: no attempt is driven and nothing is synced (exit 6).
    let report = terminal
        .recover_checked(&move |p| print_progress(json, &p))
        .await;
    terminal.sign_out().await;
    let report = report.map_err(engine_failure)?;
    let awaiting_manager = terminal
        .unresolved()
        .await
        .map_err(engine_failure)?
        .iter()
        .filter(|a| a.state == AttemptState::NeedsReview)
        .count();
    let sync = terminal.drain(DrainWait::DueOnly).await.ok();
    let code = if report.still_open == 0 && report.needs_review == 0 && report.errors.is_empty() {
        SUCCESS
    } else {
        PENDING
    };
    if json {
        output::json(&RecoverOutput {
            report: &report,
            awaiting_manager,
            sync: sync.as_ref(),
            exit_code: code,
        });
    } else {
        out!(
            "recovery: {} examined, {} finished, {} to a manager, {} still open",
            report.examined,
            report.finished,
            report.needs_review,
            report.still_open
        );
        for error in &report.errors {
            out!("  error: {error}");
        }
        if awaiting_manager > 0 {
            out!("{awaiting_manager} attempt(s) wait for a manager's review");
        }
        if let Some(sync) = &sync {
            out!("{}", sync_line(settings, sync));
        }
    }
    Ok(code)
}

pub async fn sync(settings: &Settings) -> CmdResult {
    let terminal: Terminal = settings.open().await?;
    let report = terminal
        .drain(DrainWait::ForRetries(&retry_notice))
        .await
        .map_err(engine_failure)?;
    let code = if report.unreachable.is_some() {
        UNREACHABLE
    } else {
        SUCCESS
    };
    if settings.json {
        output::json(&serde_json::json!({ "sync": report, "exit_code": code }));
    } else {
        out!("{}", sync_line(settings, &report));
    }
    Ok(code)
}

#[cfg(test)]
mod installment_tests {
    use super::installment_options;

    #[test]
    fn a_charge_amount_is_checked_before_anything_is_sent() {
        let ok = installment_options(
            "100.00 EUR",
            Some("30.00 EUR".into()),
            Some("deposit".into()),
        )
        .unwrap();
        assert_eq!(ok.0.unwrap().minor(), 3_000);
        assert_eq!(ok.1.as_deref(), Some("deposit"));
        assert_eq!(
            installment_options("100.00 EUR", None, None).unwrap(),
            (None, None)
        );
        for (bad, words) in [
            ("0.00 EUR", "more than zero"),
            ("30.00 USD", "not in the order's currency"),
            ("100.01 EUR", "more than the order"),
            ("thirty", "--charge-amount"),
        ] {
            let err = installment_options("100.00 EUR", Some(bad.into()), None).unwrap_err();
            assert!(format!("{err:?}").contains(words), "{bad}: {err:?}");
        }
    }
}

//! The commands that move money or results: `charge`, `recover` and `sync`, each a thin run of
//! the engine with progress on the terminal and an exit code that says what happened.
//!
//! Deliberately absent: any decision about the charge (the engine and the core own the protocol);
//! this file only maps outcomes to words and exit codes.

use std::time::Duration;

use anyhow::Context as _;
use paydesk_core::retry::BACKOFF_MS_MAX;
use paydesk_core::{AttemptState, Money, OperatorId, OrderId, Timestamp};
use paydesk_engine::{
    CentralError, ChargeReport, ChargeRequest, Clock as _, Engine, EngineError, Progress,
    RecoveryReport, RelayOutcome, SystemClock,
};
use serde::Serialize;

use crate::config::Settings;
use crate::exit::{
    CmdResult, Failure, CONFLICT, JOURNAL_BROKEN, OTHER, PENDING, REFUSED, SUCCESS, UNREACHABLE,
};
use crate::output;

/// The most relay rounds one `sync` runs: each delivers up to a full batch, so this drains far
/// more than a week of offline work; a bound so a misbehaving central cannot keep us forever.
const SYNC_ROUNDS_MAX: u32 = 1_000;

/// What a sync did.
#[derive(Debug, Default, Serialize)]
pub struct SyncReport {
    /// Results the central acknowledged in this run.
    pub delivered: usize,
    /// Results the central rejected in this run (set aside for a person, never deleted).
    pub parked: usize,
    /// Results still waiting after the run.
    pub waiting: i64,
    /// All parked results in the journal.
    pub parked_total: i64,
    /// Why the run stopped early: the central could not be reached.
    pub unreachable: Option<String>,
}

/// Delivers results until the outbox is empty or the central is unreachable. With
/// `wait_for_retry`, results whose retry time (from an earlier failed run) has not come yet are
/// waited for (at most the relay's longest backoff); without it, only due results go.
pub async fn sync_outbox(engine: &Engine, wait_for_retry: bool) -> Result<SyncReport, EngineError> {
    let mut report = SyncReport::default();
    for _ in 0..SYNC_ROUNDS_MAX {
        match engine.relay_once().await? {
            RelayOutcome::Sent { delivered, parked } => {
                report.delivered += delivered;
                report.parked += parked;
            }
            RelayOutcome::Retried { error, .. } => {
                report.unreachable = Some(error);
                break;
            }
            RelayOutcome::Empty => {
                let now = engine.clock().now();
                let stats = engine.with_journal(move |j| j.outbox_stats(now)).await?;
                if stats.depth == 0 || !wait_for_retry {
                    break;
                }
                // Waiting messages that are not due: an earlier run failed and set their retry
                // time. Look at the earliest without changing anything, and wait for it.
                let later = Timestamp::from_unix_ms(i64::MAX);
                let next = engine
                    .with_journal(move |j| j.outbox_due(later, 1))
                    .await?
                    .first()
                    .map(|m| m.next_try_at);
                let Some(next) = next else { break };
                let wait_ms = next
                    .millis_since(engine.clock().now())
                    .clamp(0, BACKOFF_MS_MAX as i64) as u64;
                eprintln!(
                    "waiting {:.1} s for the retry time of {} result(s)",
                    wait_ms as f64 / 1000.0,
                    stats.depth
                );
                tokio::time::sleep(Duration::from_millis(wait_ms)).await;
            }
        }
    }
    let now = engine.clock().now();
    let stats = engine.with_journal(move |j| j.outbox_stats(now)).await?;
    report.waiting = stats.depth;
    report.parked_total = stats.parked;
    Ok(report)
}

fn sync_line(report: &SyncReport) -> String {
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
        line.push_str(&format!(
            "\nthe central is unreachable ({why}): results stay in the journal; run `paydesk sync` \
             when it is back"
        ));
    }
    line
}

/// Stops charging on a journal that fails verification (invariant I8).
async fn refuse_broken_journal(engine: &Engine) -> Result<(), Failure> {
    let report = engine
        .with_journal(|j| j.verify())
        .await
        .context("verifying the journal")?;
    match report.broken {
        None => Ok(()),
        Some(link) => Err(Failure::new(
            JOURNAL_BROKEN,
            anyhow::anyhow!(
                "the journal failed verification ({}): charging stops until a manager reconciles \
                 it — see `paydesk journal verify`",
                link.message
            ),
        )),
    }
}

/// The exit code of a charge error, and its message.
pub fn engine_failure(e: EngineError) -> Failure {
    let message = e.to_string();
    let code = match &e {
        EngineError::Central(CentralError::Unreachable { .. }) | EngineError::Offline { .. } => {
            UNREACHABLE
        }
        EngineError::Central(
            CentralError::HeldBy { .. }
            | CentralError::StaleClaim
            | CentralError::UnknownOrder(_)
            | CentralError::NotChargeable(_),
        )
        | EngineError::NotChargeable { .. }
        | EngineError::AmountChanged { .. }
        | EngineError::PreviousIntentCharged { .. } => CONFLICT,
        _ => OTHER,
    };
    let hint = if code == UNREACHABLE {
        "; nothing was charged"
    } else {
        ""
    };
    Failure::new(code, anyhow::anyhow!("{message}{hint}"))
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
    if json {
        // Progress goes to stderr so stdout stays one JSON document.
        if let Ok(text) = serde_json::to_string(progress) {
            eprintln!("{text}");
        }
        return;
    }
    match progress {
        Progress::Claimed {
            order,
            attempt_number,
        } => out!("claimed {order} (attempt #{attempt_number})"),
        Progress::Step {
            attempt_id,
            event,
            state,
        } => out!("  {event:<20} -> {state}   ({attempt_id})"),
        Progress::Waiting { what, delay_ms, .. } => {
            out!("  waiting {delay_ms} ms: {what}")
        }
        // Kinds the engine adds later are shown by their JSON form until they get words here.
        #[allow(unreachable_patterns)]
        other => {
            let text = serde_json::to_value(other)
                .map(|v| v.to_string())
                .unwrap_or_default();
            out!("  {text}")
        }
    }
}

#[derive(Serialize)]
struct ChargeOutput<'a> {
    outcome: &'a str,
    exit_code: u8,
    attempt: &'a paydesk_core::Attempt,
    amount: String,
    pending: Option<&'a str>,
    sync: Option<&'a SyncReport>,
}

pub async fn charge(settings: &Settings, order: &str, operator: &str, amount: &str) -> CmdResult {
    let order = OrderId::new(order)
        .map_err(|e| Failure::usage(format!("order: {e} (the order id as the queue shows it)")))?;
    let operator =
        OperatorId::new(operator).map_err(|e| Failure::usage(format!("--operator: {e}")))?;
    let expected_amount = Money::parse(amount)
        .map_err(|e| Failure::usage(format!("--amount: {e} (the amount as the queue shows it)")))?;
    let engine = settings.engine().await?;
    refuse_broken_journal(&engine).await?;
    let open = engine
        .with_journal(|j| j.unresolved())
        .await
        .map_err(engine_failure)?;
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
    // While the central is unreachable, the manager's allowance (if any) and the cached queue
    // let the engine decide whether this charge may go ahead offline.
    let data_dir = settings.data_dir()?;
    engine.set_offline_policy(paydesk_stack::offline_policy(&data_dir, SystemClock.now()));
    let cached = paydesk_stack::cached_order(&data_dir, &request.order);
    let report = engine
        .charge_with_cache(&request, cached.as_ref(), &move |p| {
            print_progress(json, &p)
        })
        .await
        .map_err(engine_failure)?;
    let code = state_code(&report);
    // The result is in the outbox; hand it to the central now so the order's flag is released.
    // Failing here changes nothing about the charge: the result waits in the journal.
    let sync = match sync_outbox(&engine, false).await {
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
        if let Some(pending) = &report.pending {
            out!("not finished: {pending}");
        } else if code == PENDING {
            out!(
                "not finished: the outcome is not known yet; recovery continues — do not charge \
                 this order again"
            );
        }
        if let Some(sync) = &sync {
            out!("{}", sync_line(sync));
        }
    }
    Ok(code)
}

#[derive(Serialize)]
struct RecoverOutput<'a> {
    report: &'a RecoveryReport,
    awaiting_manager: usize,
    sync: Option<&'a SyncReport>,
    exit_code: u8,
}

pub async fn recover(settings: &Settings) -> CmdResult {
    let engine = settings.engine().await?;
    let json = settings.json;
    let report = engine.recover(&move |p| print_progress(json, &p)).await;
    let awaiting_manager = engine
        .with_journal(|j| j.unresolved())
        .await
        .map_err(engine_failure)?
        .iter()
        .filter(|a| a.state == AttemptState::NeedsReview)
        .count();
    let sync = sync_outbox(&engine, false).await.ok();
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
            out!("{}", sync_line(sync));
        }
    }
    Ok(code)
}

pub async fn sync(settings: &Settings) -> CmdResult {
    let engine = settings.engine().await?;
    let report = sync_outbox(&engine, true).await.map_err(engine_failure)?;
    let code = if report.unreachable.is_some() {
        UNREACHABLE
    } else {
        SUCCESS
    };
    if settings.json {
        output::json(&serde_json::json!({ "sync": report, "exit_code": code }));
    } else {
        out!("{}", sync_line(&report));
    }
    Ok(code)
}

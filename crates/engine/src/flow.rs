//! The charge flow and recovery: one driver loop that finishes an attempt from its last durable
//! state, used both for a fresh charge and for recovery after a crash.
//!
//! The loop asks the core what to do next (`next_action`, or the hint in the effects of the last
//! step), performs exactly that one request, and hands the answer back to the journal, which runs
//! the core's `step` and commits the result before the loop looks again. So every request the
//! engine sends is decided from a record that is already durable (I7), and a crash anywhere leaves
//! a record from which the same loop carries on.
//!
//! Deliberately absent: HTTP details (the gateway and central implementations), SQL (the journal),
//! and decisions (the core).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use paydesk_core::{
    next_action, Action, Attempt, AttemptEvent, AttemptState, Effect, GatewayIntentId,
    IdempotencyKey, IntentStatus, Money, NewAttempt, OrderId, RegisterOutcome, Timestamp,
};
use paydesk_gateway::{
    CancelResult, ConfirmRequest, ConfirmResult, CreateIntentRequest, Gateway, GatewayError,
    IntentMetadata, MetadataQuery,
};
use paydesk_journal::{AttemptFilter, Journal, JournalError};

use crate::central::{Central, CentralError, ClaimOptions, ClaimRequest};
use crate::clock::{Clock, Jitter};
use crate::crash::{crash_point, CrashPoint};
use crate::ids::new_attempt_id;
use crate::offline::{CachedOrder, OfflinePolicy};
use crate::offline_charge::{charged_here, charged_here_uncounted};

/// How many ambiguous answers (timeouts, 5xx, "not sent") one interactive run waits through
/// before it hands the attempt to background recovery and tells the operator so. Small: the
/// operator is watching, and recovery continues with longer pauses.
pub const INTERACTIVE_AMBIGUOUS_MAX: u32 = 3;

/// The pause before retrying after an ambiguous answer, doubled each time within one run.
pub const AMBIGUOUS_BACKOFF_MS_BASE: u64 = 500;

/// The most actions one run of the driver performs: a normal charge needs five; the rest is
/// headroom for retries. A bound, so a bug can never spin forever against the gateway.
const DRIVER_ACTIONS_MAX: u32 = 40;

/// The gateway metadata key naming the attempt that made an intent (the gateway crate's
/// `IntentMetadata` writes it): a search keeps only this attempt's own intents.
const INTENT_META_ATTEMPT: &str = "attempt_id";

mod terms;

use terms::check_order;
pub use terms::{ChargeReport, ChargeRequest, EngineConfig, EngineError, Progress, RecoveryReport};

/// Drives the charge protocol. Cheap to share: everything inside is behind `Arc`.
#[derive(Debug, Clone)]
pub struct Engine {
    /// This terminal's journal; the engine is its only writer for the life of the process.
    journal: Arc<Mutex<Journal>>,
    pub(crate) gateway: Arc<dyn Gateway>,
    pub(crate) central: Arc<dyn Central>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) config: EngineConfig,
    /// Woken after every commit that enqueued a result, so the relay needs no polling delay.
    outbox_wake: Arc<tokio::sync::Notify>,
    /// What a charge may do while the central is unreachable; set by a manager, for the life
    /// of the process (it starts blocked).
    pub(crate) offline_policy: Arc<Mutex<OfflinePolicy>>,
    /// Open intents of previous holders that a claim found still confirmable, by order: set by
    /// `settle_open_intent`, taken by the first run of the driver over that order's new attempt,
    /// which journals the cancel (`TakeoverCancel`) before sending it. For the life of the
    /// process; a stale entry only means the next charge of that order cancels it again.
    pub(crate) takeovers: Arc<Mutex<HashMap<OrderId, GatewayIntentId>>>,
    /// The relay's source of backoff jitter, seeded from `config.jitter_seed`; shared by clones.
    jitter: Arc<Jitter>,
    /// The last full verification of the journal (`relay.rs`, `check_journal`); shared by clones.
    pub(crate) verified: Arc<Mutex<Option<crate::relay::Verified>>>,
}

pub(crate) type ProgressSink<'a> = &'a (dyn Fn(Progress) + Send + Sync);

impl Engine {
    pub fn new(
        journal: Journal,
        gateway: Arc<dyn Gateway>,
        central: Arc<dyn Central>,
        clock: Arc<dyn Clock>,
        config: EngineConfig,
    ) -> Engine {
        Engine {
            journal: Arc::new(Mutex::new(journal)),
            gateway,
            central,
            clock,
            jitter: Arc::new(Jitter::new(config.jitter_seed)),
            config,
            outbox_wake: Arc::new(tokio::sync::Notify::new()),
            offline_policy: Arc::new(Mutex::new(OfflinePolicy::Block)),
            takeovers: Arc::new(Mutex::new(HashMap::new())),
            verified: Arc::new(Mutex::new(None)),
        }
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    pub fn central(&self) -> &Arc<dyn Central> {
        &self.central
    }

    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    pub fn outbox_wake(&self) -> &Arc<tokio::sync::Notify> {
        &self.outbox_wake
    }

    pub(crate) fn jitter(&self) -> &Jitter {
        &self.jitter
    }

    /// Runs `f` on the journal on a blocking thread (SQLite commits fsync).
    pub async fn with_journal<R, F>(&self, f: F) -> Result<R, EngineError>
    where
        F: FnOnce(&mut Journal) -> Result<R, JournalError> + Send + 'static,
        R: Send + 'static,
    {
        let journal = Arc::clone(&self.journal);
        tokio::task::spawn_blocking(move || {
            let mut guard = journal
                .lock()
                .map_err(|_| EngineError::Internal("the journal lock was poisoned".into()))?;
            f(&mut guard).map_err(EngineError::from)
        })
        .await
        .map_err(|e| EngineError::Internal(format!("journal task failed: {e}")))?
    }

    /// Charges one order: claim, durable intent, create, register, durable confirm-sent,
    /// confirm, result + outbox. Returns the attempt as it stands; a run that could not settle
    /// the outcome says so in `pending` and leaves the rest to recovery (never to a retry by
    /// the operator: the next charge of this order would find the claim still held).
    pub async fn charge(
        &self,
        request: &ChargeRequest,
        progress: ProgressSink<'_>,
    ) -> Result<ChargeReport, EngineError> {
        self.charge_with_cache(request, None, progress).await
    }

    /// [`Engine::charge`], with the order as the front end last saw it in its cached queue: used
    /// only if the central is unreachable and the offline policy allows the charge.
    pub async fn charge_with_cache(
        &self,
        request: &ChargeRequest,
        cached: Option<&CachedOrder>,
        progress: ProgressSink<'_>,
    ) -> Result<ChargeReport, EngineError> {
        self.charge_with_options(request, cached, ClaimOptions::default(), progress)
            .await
    }

    /// [`Engine::charge_with_cache`], with what the operator confirmed for the claim (for
    /// instance that a similar recent payment is not a duplicate).
    pub async fn charge_with_options(
        &self,
        request: &ChargeRequest,
        cached: Option<&CachedOrder>,
        options: ClaimOptions,
        progress: ProgressSink<'_>,
    ) -> Result<ChargeReport, EngineError> {
        let here = self
            .refuse_if_open_here(&request.order, request.expected_amount.minor())
            .await?;
        let asked = options.amount;
        // Read first, claim after: a wrong amount or a paid order stops here without taking the
        // claim (and an attempt number). The claim re-reads the order, for a change in between.
        match self.central.peek_order(&request.order).await {
            Ok(Some(order)) => check_order(&order, request)?,
            Err(CentralError::Unreachable { detail }) => {
                refuse_charged_here(request, &here)?;
                refuse_part_payment(request, asked)?;
                return self
                    .charge_offline(request, cached, &here, &detail, progress)
                    .await;
            }
            // No answer in time: the claim would wait as long again, and stop the same way.
            Err(e @ (CentralError::UnknownOrder(_) | CentralError::NoAnswer { .. })) => {
                return Err(e.into())
            }
            // Anything else: the claim answers for itself.
            Ok(None) | Err(_) => {}
        }
        let claimed = self
            .central
            .claim_with(
                &ClaimRequest {
                    order: request.order.clone(),
                    operator: request.operator.clone(),
                    terminal: self.config.terminal.clone(),
                },
                options,
            )
            .await;
        let claim = match claimed {
            Ok(claim) => claim,
            // Only a central that cannot be connected to is offline: one that did not answer
            // in time may have granted the claim, and the charge stops (nothing was sent).
            Err(CentralError::Unreachable { detail }) => {
                refuse_charged_here(request, &here)?;
                refuse_part_payment(request, asked)?;
                return self
                    .charge_offline(request, cached, &here, &detail, progress)
                    .await;
            }
            Err(e) => return Err(e.into()),
        };
        crash_point(CrashPoint::AfterClaim);
        progress(Progress::Claimed {
            order: request.order.clone(),
            attempt_number: claim.attempt_number.get(),
        });
        let order = &claim.order;
        if let Err(stop) = check_order(order, request) {
            // Nothing was journaled or sent: giving the flag back is safe.
            if let Err(e) = self.central.release(&order.id, claim.token).await {
                tracing::warn!(order = %order.id, error = %e, "could not release a claim; its lease will expire");
            }
            return Err(stop);
        }
        if let Some(done) = charged_here_uncounted(&here, claim.installment) {
            // This terminal's earlier payment has not reached the central's count yet.
            if let Err(e) = self.central.release(&order.id, claim.token).await {
                tracing::warn!(order = %order.id, error = %e, "could not release a claim; its lease will expire");
            }
            return Err(EngineError::ChargedHere {
                order: order.id.clone(),
                attempt: done.id,
            });
        }

        if let Some(open) = &claim.open_intent {
            self.settle_open_intent(&claim, open).await?;
        }

        let now = self.clock.now();
        let new = NewAttempt {
            id: new_attempt_id(now),
            order: order.id.clone(),
            number: claim.attempt_number,
            installment: claim.installment,
            claim_token: claim.token,
            // The installment's amount the central granted (the balance due by default).
            amount: claim.amount,
            customer: order.customer.clone(),
            payment_method: order.payment_method.clone(),
            operator: request.operator.clone(),
            terminal: self.config.terminal.clone(),
            offline: false,
        };
        let (attempt, effects) = self
            .with_journal(move |j| j.begin_attempt(new, now))
            .await?;
        crash_point(CrashPoint::AfterIntentCommit);
        progress(Progress::Step {
            attempt_id: attempt.id,
            event: "begun".into(),
            state: attempt.state,
        });
        self.drive(attempt, &effects, INTERACTIVE_AMBIGUOUS_MAX, progress)
            .await
    }

    /// Finishes every open attempt of this journal from its last durable state. Run at start-up
    /// and periodically. On a journal that fails verification it does nothing and says so in
    /// `errors` ([`Engine::recover_checked`] returns that as an error).
    pub async fn recover(&self, progress: ProgressSink<'_>) -> RecoveryReport {
        match self.recover_checked(progress).await {
            Ok(report) => report,
            Err(e) => RecoveryReport {
                errors: vec![e.to_string()],
                ..RecoveryReport::default()
            },
        }
    }

    /// [`Engine::recover`], refusing a journal that fails verification with
    /// [`EngineError::JournalBroken`] before any request: the whole journal (a verification
    /// reused while its head is unchanged, see `check_journal`), then each open attempt's row
    /// against its last chained event right before that attempt is driven.
    pub async fn recover_checked(
        &self,
        progress: ProgressSink<'_>,
    ) -> Result<RecoveryReport, EngineError> {
        self.check_journal().await?;
        let mut report = RecoveryReport::default();
        let open = match self.with_journal(|j| j.unresolved()).await {
            Ok(open) => open,
            Err(e) => {
                report.errors.push(format!("reading open attempts: {e}"));
                return Ok(report);
            }
        };
        for attempt in open {
            if attempt.state != AttemptState::NeedsReview || attempt.intent_id.is_some() {
                self.check_attempt(attempt.id).await?;
            }
            // An attempt under review that names an intent is looked up: gateway evidence of a
            // final status settles it without a manager. One that does not stays, uncounted.
            if attempt.state == AttemptState::NeedsReview {
                if attempt.intent_id.is_none() {
                    continue;
                }
                let id = attempt.id;
                match self.drive(attempt, &[], 1, progress).await {
                    Ok(r) if r.attempt.state.is_terminal() => {
                        report.examined += 1;
                        report.finished += 1;
                    }
                    Ok(_) => {}
                    Err(e) => report
                        .errors
                        .push(format!("attempt {id} (under review): {e}")),
                }
                continue;
            }
            report.examined += 1;
            let id = attempt.id;
            match self.drive(attempt, &[], 1, progress).await {
                Ok(r) if r.attempt.state == AttemptState::NeedsReview => report.needs_review += 1,
                Ok(r) if r.attempt.state.is_terminal() => report.finished += 1,
                Ok(_) => report.still_open += 1,
                Err(e) => {
                    report.still_open += 1;
                    report.errors.push(format!("attempt {id}: {e}"));
                }
            }
            crash_point(CrashPoint::MidRecovery);
        }
        Ok(report)
    }

    /// Attempts of this journal (for the UI and the command line).
    pub async fn attempts(&self, filter: AttemptFilter) -> Result<Vec<Attempt>, EngineError> {
        self.with_journal(move |j| j.attempts(&filter)).await
    }

    /// The driver loop. `effects` are those of the step that produced `attempt` (they may name
    /// the next request); `ambiguous_max` bounds how many ambiguous answers this run waits through.
    pub(crate) async fn drive(
        &self,
        mut attempt: Attempt,
        effects: &[Effect],
        ambiguous_max: u32,
        progress: ProgressSink<'_>,
    ) -> Result<ChargeReport, EngineError> {
        // A fresh attempt of a takeover cancels the previous holder's intent before its create.
        let fresh = attempt.state == AttemptState::Intent
            && effects
                .iter()
                .any(|e| matches!(e, Effect::SendCreate { .. }))
            && attempt.unknown_checks == 0
            && attempt.create_retry == 0;
        let previous = if fresh {
            self.takeovers
                .lock()
                .ok()
                .and_then(|mut t| t.remove(&attempt.order))
        } else {
            None
        };
        if let Some(previous) = previous {
            attempt = self
                .cancel_previous_intent(attempt, previous, progress)
                .await?;
        }
        let mut hint = self.handle_effects(&attempt, effects, progress).await;
        let mut ambiguous = 0u32;
        // Answers stepped in memory and not yet committed (see `holds`): committed together, in
        // one transaction, before the next gateway request and before this run returns.
        let mut held: Vec<(AttemptEvent, Timestamp)> = Vec::new();
        for _ in 0..DRIVER_ACTIONS_MAX {
            let now = self.clock.now();
            let action = hint
                .take()
                .unwrap_or_else(|| next_action(&attempt, now, &self.config.recovery));
            // Durability first (I7): every gateway request, and any central request that is not
            // a plain re-send, follows the committed record it was decided from.
            if !held.is_empty() && !may_precede_commit(&attempt, &action) {
                attempt = self.commit_held(&attempt, &mut held, progress).await?;
            }
            let performed = match self.perform(&attempt, action).await {
                Ok(performed) => performed,
                Err(e) => {
                    self.commit_held(&attempt, &mut held, progress).await?;
                    return Err(e);
                }
            };
            let event = match performed {
                Performed::Event(event) => event,
                Performed::Done => {
                    let attempt = self.commit_held(&attempt, &mut held, progress).await?;
                    return Ok(ChargeReport {
                        attempt,
                        pending: None,
                    });
                }
                Performed::Pending(why) => {
                    let attempt = self.commit_held(&attempt, &mut held, progress).await?;
                    return Ok(pending(attempt, why));
                }
            };
            if matches!(
                event,
                AttemptEvent::RegisterAnswered(
                    RegisterOutcome::Accepted
                        | RegisterOutcome::AcceptedOffline
                        | RegisterOutcome::Claimed { .. }
                )
            ) {
                crash_point(CrashPoint::AfterRegister);
            }
            let id = attempt.id;
            let now = self.clock.now();
            // An attempt under review is only looked up: an answer that does not settle it (the
            // core refuses it) is not journaled, and the attempt stays with the manager.
            if attempt.state == AttemptState::NeedsReview
                && paydesk_core::step(&attempt, &event, now).is_err()
            {
                let attempt = self.commit_held(&attempt, &mut held, progress).await?;
                return Ok(ChargeReport {
                    attempt,
                    pending: None,
                });
            }
            let before = attempt.clone();
            let (next, effects) = match paydesk_core::step(&attempt, &event, now) {
                Ok((next, effects)) if self.holds(&next, &effects) => {
                    held.push((event.clone(), now));
                    (next, effects)
                }
                // Committed now, with whatever is held, in one transaction. A step the core
                // refuses is applied alone, after the held ones, so the journal refuses it as
                // it always did and the held answers are kept.
                stepped => {
                    if stepped.is_err() {
                        attempt = self.commit_held(&attempt, &mut held, progress).await?;
                    }
                    let before_this = held.len();
                    held.push((event.clone(), now));
                    let (next, effects) = self
                        .commit_steps(&attempt, &mut held, before_this, progress)
                        .await?;
                    crash_point(CrashPoint::after_step(&next));
                    if effects.contains(&Effect::EnqueueResult) {
                        self.outbox_wake.notify_one();
                    }
                    (next, effects)
                }
            };
            // An ambiguous answer, or one that changed nothing (a request that never left): wait
            // before asking again.
            let was_ambiguous = next.unknown_checks > before.unknown_checks
                || (next.state == before.state
                    && next.create_retry == before.create_retry
                    && next.confirm_retry == before.confirm_retry);
            attempt = next;
            hint = self.handle_effects(&attempt, &effects, progress).await;
            // An answer that named the next request (a lookup showing the confirm never ran, a
            // search that found nothing) is evidence, not ambiguity: carry on at once. This
            // run's count of ambiguous answers still bounds it.
            if was_ambiguous && hint.is_none() && !attempt.state.is_terminal() {
                attempt = self.commit_held(&attempt, &mut held, progress).await?;
                ambiguous += 1;
                if ambiguous >= ambiguous_max {
                    let why = format!("the gateway's answer is not known yet ({})", event.kind());
                    return Ok(pending(attempt, why));
                }
                let delay_ms = self.config.ambiguous_backoff_ms_base << (ambiguous - 1).min(6);
                progress(Progress::Waiting {
                    attempt_id: id,
                    what: event.kind().into(),
                    delay_ms,
                });
                tokio::time::sleep(Duration::from_millis(delay_ms)).await;
            }
        }
        self.commit_held(&attempt, &mut held, progress).await?;
        Err(EngineError::Internal(format!(
            "attempt {} did not settle within {DRIVER_ACTIONS_MAX} actions",
            attempt.id
        )))
    }

    /// Whether the step that gave `next` and `effects` may stay uncommitted for now: only the
    /// answers that lead to no gateway request of their own — the create's answer (its next
    /// request is the registration at the central) and the registration's (its next step is
    /// the confirm's begin, no request at all). They are committed with the confirm's begin, in
    /// one transaction, before the confirm is sent; a crash before that commit leaves the
    /// attempt where the last commit left it, and recovery re-sends the create with the same
    /// key (the gateway replays the same intent) and registers it again (a no-op at the central
    /// for the same intent and token). Never a result, a review flag or a cancel.
    fn holds(&self, next: &Attempt, effects: &[Effect]) -> bool {
        !self.config.separate_commits
            && matches!(next.state, AttemptState::Created | AttemptState::Registered)
            && effects
                .iter()
                .all(|e| matches!(e, Effect::Persist | Effect::Register { .. }))
    }

    /// Commits the held answers, if any, and returns the attempt as committed.
    async fn commit_held(
        &self,
        attempt: &Attempt,
        held: &mut Vec<(AttemptEvent, Timestamp)>,
        progress: ProgressSink<'_>,
    ) -> Result<Attempt, EngineError> {
        if held.is_empty() {
            return Ok(attempt.clone());
        }
        let all = held.len();
        let (committed, _) = self.commit_steps(attempt, held, all, progress).await?;
        crash_point(CrashPoint::after_step(&committed));
        Ok(committed)
    }

    /// Commits `held` (not empty) in one journal transaction, reports each step, and returns the
    /// attempt and effects of the last. The journal steps each event again from the stored row:
    /// the record after the first `stepped` events must be `attempt`, as stepped in memory; one
    /// that differs is a bug, and stops the run before any further request.
    async fn commit_steps(
        &self,
        attempt: &Attempt,
        held: &mut Vec<(AttemptEvent, Timestamp)>,
        stepped: usize,
        progress: ProgressSink<'_>,
    ) -> Result<(Attempt, Vec<Effect>), EngineError> {
        let id = attempt.id;
        let events = std::mem::take(held);
        let kinds: Vec<&'static str> = events.iter().map(|(e, _)| e.kind()).collect();
        let steps = self
            .with_journal(move |j| j.apply_all(&id, &events))
            .await?;
        if stepped > 0 && steps.get(stepped - 1).map(|s| &s.0) != Some(attempt) {
            return Err(EngineError::Internal(format!(
                "attempt {id}: the journal's record of the held steps differs from the engine's"
            )));
        }
        for ((step, _), kind) in steps.iter().zip(kinds) {
            progress(Progress::Step {
                attempt_id: id,
                event: kind.into(),
                state: step.state,
            });
        }
        Ok(steps.into_iter().last().expect("at least one step"))
    }

    /// Performs the side effects that are not the next request (best-effort cancels, review
    /// flags) and returns the next request the step named, if any.
    async fn handle_effects(
        &self,
        attempt: &Attempt,
        effects: &[Effect],
        _progress: ProgressSink<'_>,
    ) -> Option<Action> {
        let mut next = None;
        for effect in effects {
            match effect {
                Effect::Persist | Effect::EnqueueResult => {}
                Effect::SendCreate { key } => {
                    next = Some(Action::ResendCreate { key: key.clone() })
                }
                Effect::Register { intent } => {
                    next = Some(Action::Register {
                        intent: intent.clone(),
                    })
                }
                Effect::SendConfirm { intent, key } => {
                    next = Some(Action::ResendConfirm {
                        intent: intent.clone(),
                        key: key.clone(),
                    })
                }
                Effect::Retrieve { intent } => {
                    next = Some(Action::Retrieve {
                        intent: intent.clone(),
                    })
                }
                Effect::Search => next = Some(Action::Search),
                Effect::Cancel { intent, key } => {
                    // No money can move either way: an intent we will never confirm. Failure is
                    // logged, not retried; reconciliation lists leftover intents.
                    match self.gateway.cancel_intent(intent, key).await {
                        Ok(CancelResult::Canceled(_)) => {}
                        Ok(other) => {
                            tracing::warn!(attempt = %attempt.id, intent = %intent, result = ?other, "cancel of a fenced-out intent did not complete")
                        }
                        Err(e) => {
                            tracing::warn!(attempt = %attempt.id, intent = %intent, error = %e, "cancel of a fenced-out intent failed")
                        }
                    }
                }
                Effect::FlagForReview => {
                    tracing::warn!(attempt = %attempt.id, reason = ?attempt.reason, "attempt needs a manager's review");
                }
            }
        }
        next
    }

    /// Performs one action and turns the answer into the event to journal.
    async fn perform(&self, attempt: &Attempt, action: Action) -> Result<Performed, EngineError> {
        Ok(match action {
            Action::Nothing => Performed::Done,
            Action::Apply(event) => Performed::Event(event),
            Action::ResendCreate { key } => {
                let request = self.create_request(attempt, key);
                match self.gateway.create_intent(&request).await {
                    Ok(result) => {
                        crash_point(CrashPoint::AfterCreateBeforeJournal);
                        Performed::Event(AttemptEvent::CreateAnswered(result.outcome()))
                    }
                    Err(GatewayError::IdempotencyKeyReused { .. }) => {
                        Performed::Event(AttemptEvent::Escalated {
                            reason: "the gateway saw this attempt's create key with other \
                                     parameters; check the intent in the gateway's dashboard"
                                .into(),
                        })
                    }
                    Err(GatewayError::InvalidRequest { code, message, .. }) => Performed::Event(
                        AttemptEvent::CreateAnswered(paydesk_core::CreateOutcome::Refused {
                            reason: code.unwrap_or(message),
                        }),
                    ),
                    Err(e) => return Err(e.into()),
                }
            }
            Action::Register { intent } if attempt.offline => {
                self.register_offline(attempt, &intent).await?
            }
            Action::Register { intent } => {
                match self
                    .central
                    .register_intent(&attempt.order, attempt.claim_token, attempt.number, &intent)
                    .await
                {
                    Ok(()) => {
                        Performed::Event(AttemptEvent::RegisterAnswered(RegisterOutcome::Accepted))
                    }
                    Err(CentralError::StaleClaim) => Performed::Event(
                        AttemptEvent::RegisterAnswered(RegisterOutcome::StaleClaim),
                    ),
                    Err(
                        CentralError::Unreachable { detail } | CentralError::NoAnswer { detail },
                    ) => Performed::Pending(format!(
                        "the central server is unreachable ({detail}); the intent is created but \
                         not confirmed, and will be registered and confirmed when the central is \
                         back"
                    )),
                    Err(e) => return Err(e.into()),
                }
            }
            Action::ResendConfirm { intent, key } => {
                let request = ConfirmRequest {
                    intent,
                    off_session: true,
                    key,
                };
                crash_point(CrashPoint::BeforeConfirmRequest);
                match self.gateway.confirm_intent(&request).await {
                    // The confirm did not settle it, but the gateway showed the intent in a
                    // final state (canceled by a takeover, say): that is evidence, not ambiguity.
                    Ok(ConfirmResult::Unknown {
                        intent: Some(view), ..
                    }) if matches!(
                        view.status,
                        IntentStatus::Canceled
                            | IntentStatus::Succeeded
                            | IntentStatus::RequiresPaymentMethod { .. }
                            | IntentStatus::RequiresAction
                    ) =>
                    {
                        crash_point(CrashPoint::AfterConfirmBeforeResult);
                        Performed::Event(AttemptEvent::Retrieved(view.status))
                    }
                    Ok(result) => {
                        crash_point(CrashPoint::AfterConfirmBeforeResult);
                        Performed::Event(AttemptEvent::ConfirmAnswered(result.outcome()))
                    }
                    Err(GatewayError::IdempotencyKeyReused { .. }) => {
                        Performed::Event(AttemptEvent::Escalated {
                            reason: "the gateway saw this intent's confirm key with other \
                                     parameters; check the intent in the gateway's dashboard"
                                .into(),
                        })
                    }
                    // Nothing executed, and the gateway refuses our own intent: a person must
                    // look (a wrong account or mode, an intent deleted by hand).
                    Err(e @ GatewayError::InvalidRequest { .. })
                    | Err(e @ GatewayError::NotFound { .. }) => {
                        Performed::Event(AttemptEvent::Escalated {
                            reason: format!(
                                "the gateway refused to confirm this attempt's intent: {e}"
                            ),
                        })
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            Action::Search => {
                let query = MetadataQuery::attempt(&attempt.order, attempt.number);
                match self.gateway.search_intents(&query).await {
                    Ok(found) => {
                        // Only an intent this very attempt made (its id is in the metadata):
                        // another terminal's offline attempt may share the order and number.
                        // One that is not canceled is preferred when the old key and a new one
                        // both made one; the other is never confirmed.
                        let attempt_id = attempt.id.to_string();
                        let ours: Vec<_> = found
                            .into_iter()
                            .filter(|i| i.meta(INTENT_META_ATTEMPT) == Some(attempt_id.as_str()))
                            .collect();
                        let found = ours
                            .iter()
                            .find(|i| i.status != IntentStatus::Canceled)
                            .or(ours.first())
                            .map(|i| i.id.clone());
                        Performed::Event(AttemptEvent::CreateSearched { found })
                    }
                    // A search that could not be made tells nothing and is not journaled.
                    Err(e @ GatewayError::NotSent { .. })
                    | Err(e @ GatewayError::Unknown { .. }) => Performed::Pending(format!(
                        "the gateway could not be searched for this attempt's intent ({e})"
                    )),
                    Err(e) => return Err(e.into()),
                }
            }
            Action::Retrieve { intent } => match self.gateway.retrieve_intent(&intent).await {
                Ok(view) => Performed::Event(AttemptEvent::Retrieved(view.status)),
                // A lookup that failed tells nothing and is not journaled as an answer: the
                // attempt stays as it is until the gateway can be asked.
                Err(e @ GatewayError::NotSent { .. }) | Err(e @ GatewayError::Unknown { .. }) => {
                    Performed::Pending(format!(
                        "the gateway could not be asked about the payment ({e})"
                    ))
                }
                Err(e @ GatewayError::NotFound { .. }) => {
                    Performed::Event(AttemptEvent::Escalated {
                        reason: format!("the gateway does not know this attempt's intent: {e}"),
                    })
                }
                Err(e) => return Err(e.into()),
            },
        })
    }

    fn create_request(&self, attempt: &Attempt, key: IdempotencyKey) -> CreateIntentRequest {
        CreateIntentRequest {
            amount: attempt.amount,
            customer: attempt.customer.as_ref().map(|c| c.to_string()),
            payment_method: attempt.payment_method.to_string(),
            off_session: true,
            metadata: IntentMetadata {
                order: attempt.order.clone(),
                attempt: attempt.id,
                attempt_number: attempt.number,
                terminal: attempt.terminal.clone(),
            },
            key,
        }
    }
}

/// Whether `action` may be performed while answers are held uncommitted: a step with no
/// request, or the registration of an online attempt's intent at the central (a re-send of it
/// after a crash is a no-op there). Every gateway request, and an offline attempt's registration
/// (it claims the order, which a re-send would not repeat harmlessly), comes after the commit.
fn may_precede_commit(attempt: &Attempt, action: &Action) -> bool {
    match action {
        Action::Apply(_) => true,
        Action::Register { .. } => !attempt.offline,
        Action::Nothing
        | Action::ResendCreate { .. }
        | Action::ResendConfirm { .. }
        | Action::Search
        | Action::Retrieve { .. } => false,
    }
}

/// A report for a run that stops before a final state, saying what happens next.
/// Offline no installment is granted: any success of this terminal refuses (a partly paid
/// order's balance is charged online only).
fn refuse_charged_here(request: &ChargeRequest, here: &[Attempt]) -> Result<(), EngineError> {
    match charged_here(here) {
        Some(done) => Err(EngineError::ChargedHere {
            order: request.order.clone(),
            attempt: done.id,
        }),
        None => Ok(()),
    }
}

/// Offline an order is charged in full only: a part-payment (a deposit) is granted by the
/// central against the balance it counted, so asking for one while it is unreachable refuses
/// rather than charging the whole amount.
fn refuse_part_payment(request: &ChargeRequest, asked: Option<Money>) -> Result<(), EngineError> {
    match asked {
        Some(amount) if amount != request.expected_amount => Err(EngineError::NotChargeable {
            order: request.order.clone(),
            status: format!(
                "asked for {amount} of {} (a part-payment is charged online only)",
                request.expected_amount
            ),
        }),
        _ => Ok(()),
    }
}

fn pending(attempt: Attempt, why: String) -> ChargeReport {
    let next = if attempt.state.may_have_charged() {
        "the payment may have gone through: recovery will settle it from the gateway's \
         records — do not charge the order again"
    } else {
        "nothing was charged; recovery continues this attempt"
    };
    ChargeReport {
        pending: Some(format!("{why}; {next}")),
        attempt,
    }
}

/// The result of performing one action.
pub(crate) enum Performed {
    /// An answer to journal.
    Event(AttemptEvent),
    /// Nothing to do (final, or waiting for a manager).
    Done,
    /// Cannot continue now (the central is unreachable); recovery continues later.
    Pending(String),
}

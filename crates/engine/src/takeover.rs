//! The takeover of an order whose previous holder registered an intent and never reported a
//! result: that intent is looked up, and either stops the charge (it is charged, or about to be)
//! or is canceled, journaled on the new attempt before the cancel is sent (I7). A takeover that
//! stops gives its claim back.
//!
//! Deliberately absent: the charge flow around it (`flow.rs`) and the decisions (the core's
//! `TakeoverCancel` and `Withdrawn` steps).

use paydesk_core::{
    Attempt, AttemptEvent, ClaimToken, Effect, GatewayIntentId, IdempotencyKey, IntentStatus,
    OrderId,
};
use paydesk_gateway::CancelResult;

use crate::central::Claim;
use crate::flow::{Engine, EngineError, Progress, ProgressSink};

impl Engine {
    /// A takeover: the previous holder registered `open` and never reported a result. Nothing
    /// new is confirmed until that intent provably cannot move money. A succeeded or processing
    /// intent stops the charge (the order is paid, or about to be) and gives the claim back:
    /// nothing was journaled or sent under it. Any other is canceled, but only once the new
    /// attempt's journal names it (I7): the cancel is left to the first run of the driver over
    /// the new attempt ([`Engine::cancel_previous_intent`]).
    pub(crate) async fn settle_open_intent(
        &self,
        claim: &Claim,
        open: &GatewayIntentId,
    ) -> Result<(), EngineError> {
        let view = match self.gateway.retrieve_intent(open).await {
            Ok(view) => view,
            Err(e) => {
                self.release_claim(&claim.order.id, claim.token).await;
                return Err(e.into());
            }
        };
        match view.status {
            IntentStatus::Succeeded | IntentStatus::Processing => {
                self.release_claim(&claim.order.id, claim.token).await;
                Err(EngineError::PreviousIntentCharged {
                    order: claim.order.id.clone(),
                    intent: open.clone(),
                })
            }
            IntentStatus::Canceled => Ok(()),
            _ => {
                if let Ok(mut takeovers) = self.takeovers.lock() {
                    takeovers.insert(claim.order.id.clone(), open.clone());
                }
                Ok(())
            }
        }
    }

    /// The takeover's cancel of the previous holder's intent, for a new attempt that has sent
    /// nothing yet: journaled first (`TakeoverCancel` names the intent in this attempt's
    /// timeline), then sent. If the intent turns out charged, or cannot be canceled, the new
    /// attempt is withdrawn (it sent nothing) and the claim given back.
    ///
    /// A crash between the attempt's first record and this one leaves a record that recovery
    /// drives without the cancel; the previous holder's intent then stays registered at the
    /// central, whose sweep settles it from the gateway. Closing that window needs the previous
    /// intent in the attempt's first record (a change to how a charge begins).
    pub(crate) async fn cancel_previous_intent(
        &self,
        attempt: Attempt,
        previous: GatewayIntentId,
        progress: ProgressSink<'_>,
    ) -> Result<Attempt, EngineError> {
        let (attempt, effects) = self
            .apply_here(
                &attempt,
                AttemptEvent::TakeoverCancel {
                    previous: previous.clone(),
                },
                progress,
            )
            .await?;
        let key = effects
            .iter()
            .find_map(|e| match e {
                Effect::Cancel { key, .. } => Some(key.clone()),
                _ => None,
            })
            .unwrap_or_else(|| IdempotencyKey::for_cancel(&previous));
        let (stop, reason) = match self.gateway.cancel_intent(&previous, &key).await {
            Ok(CancelResult::Canceled(_)) => return Ok(attempt),
            Ok(CancelResult::NotCancelable(view))
                if matches!(
                    view.status,
                    IntentStatus::Succeeded | IntentStatus::Processing
                ) =>
            {
                (
                    EngineError::PreviousIntentCharged {
                        order: attempt.order.clone(),
                        intent: previous.clone(),
                    },
                    format!(
                        "takeover stopped: the previous holder's intent {previous} is {} at the \
                         gateway; this attempt sent nothing",
                        view.status_raw
                    ),
                )
            }
            other => (
                EngineError::Internal(format!(
                    "the previous attempt's intent {previous} could not be canceled ({other:?}); \
                     try again in a moment"
                )),
                format!(
                    "takeover stopped: the previous holder's intent {previous} could not be \
                     canceled; this attempt sent nothing"
                ),
            ),
        };
        self.apply_here(&attempt, AttemptEvent::Withdrawn { reason }, progress)
            .await?;
        self.release_claim(&attempt.order, attempt.claim_token)
            .await;
        Err(stop)
    }

    /// Journals one event decided here (not an answer to a request of the loop), and reports it.
    async fn apply_here(
        &self,
        attempt: &Attempt,
        event: AttemptEvent,
        progress: ProgressSink<'_>,
    ) -> Result<(Attempt, Vec<Effect>), EngineError> {
        let id = attempt.id;
        let now = self.clock.now();
        let kind = event.kind();
        let (next, effects) = self
            .with_journal(move |j| j.apply(&id, &event, now))
            .await?;
        progress(Progress::Step {
            attempt_id: id,
            event: kind.into(),
            state: next.state,
        });
        if effects.contains(&Effect::EnqueueResult) {
            self.outbox_wake().notify_one();
        }
        Ok((next, effects))
    }

    /// Gives a claim back when this terminal sent nothing under it; a failure only means the
    /// lease runs out. The central refuses it while the previous holder's intent is still
    /// registered: the flag then stays until the central's sweep of expired claims settles that
    /// intent from the gateway (a succeeded one marks the order paid).
    async fn release_claim(&self, order: &OrderId, token: ClaimToken) {
        if let Err(e) = self.central.release(order, token).await {
            tracing::warn!(order = %order, error = %e, "could not release a claim; its lease will expire");
        }
    }
}

//! Charging while the central is unreachable, and finishing such a charge once it answers again:
//! the checks before an offline attempt begins (this terminal's journal, the cached queue's age,
//! the manager's allowance, the gateway's own records), its number (the order's next, so online
//! and offline attempts share create keys), and its registration (a claim with its own number
//! once the central is back, or the allowance checked again while it is not).
//!
//! Deliberately absent: the driver loop (`flow.rs`) and the policy's rules (`offline.rs`).

use paydesk_core::{
    Attempt, AttemptState, GatewayIntentId, InstallmentNumber, IntentStatus, NewAttempt, OrderId,
    RegisterOutcome,
};
use paydesk_gateway::MetadataQuery;
use paydesk_journal::AttemptFilter;

use crate::central::{is_chargeable, CentralError, ClaimRequest};
use crate::crash::{crash_point, CrashPoint};
use crate::flow::{
    ChargeReport, ChargeRequest, Engine, EngineError, Performed, Progress, ProgressSink,
    INTERACTIVE_AMBIGUOUS_MAX,
};
use crate::ids::new_attempt_id;
use crate::offline::{
    offline_attempt_number, offline_claim_token, CachedOrder, OfflinePolicy, OfflineRefusal,
};
use paydesk_core::AttemptEvent;

/// A success of this terminal among `here` that the central has not counted yet, judged by the
/// installment it granted: it hands out installment n + 1 only once it counted n payments, so a
/// success here of installment `granted` or later is not among them. Charging on would stack a
/// payment on one the central does not know of; the result must reach it first.
pub(crate) fn charged_here_uncounted(
    here: &[Attempt],
    granted: InstallmentNumber,
) -> Option<&Attempt> {
    here.iter()
        .find(|a| a.state == AttemptState::Succeeded && a.installment >= granted)
}

/// Any success of this terminal among `here` (offline, where no installment is granted).
pub(crate) fn charged_here(here: &[Attempt]) -> Option<&Attempt> {
    here.iter().find(|a| a.state == AttemptState::Succeeded)
}

impl Engine {
    /// This terminal's attempts of `order`, unless one of them is unfinished (the order may be
    /// being paid by this very terminal) or their successes already add up to `order_minor` (it
    /// is paid here): then the charge must not start. A success of an earlier installment (a
    /// deposit) does not refuse by itself: [`charged_here_uncounted`] checks the claim's
    /// installment against it once the central granted one.
    pub(crate) async fn refuse_if_open_here(
        &self,
        order: &OrderId,
        order_minor: i64,
    ) -> Result<Vec<Attempt>, EngineError> {
        let order_id = order.clone();
        let attempts = self
            .with_journal(move |j| {
                j.attempts(&AttemptFilter {
                    order: Some(order_id),
                    limit: Some(paydesk_journal::ATTEMPT_ROWS_MAX),
                    ..AttemptFilter::default()
                })
            })
            .await?;
        if let Some(open) = attempts.iter().find(|a| !a.state.is_terminal()) {
            return Err(EngineError::OpenHere {
                order: order.clone(),
                attempt: open.id,
                state: open.state,
            });
        }
        let mut succeeded = attempts
            .iter()
            .filter(|a| a.state == AttemptState::Succeeded);
        let paid_here: i64 = succeeded.clone().map(|a| a.amount.minor()).sum();
        if let Some(done) = succeeded.next_back() {
            if paid_here >= order_minor {
                return Err(EngineError::ChargedHere {
                    order: order.clone(),
                    attempt: done.id,
                });
            }
        }
        Ok(attempts)
    }

    /// The gateway's word on whether `order` is charged or being charged: an intent of the order
    /// that succeeded, is processing, or could still be confirmed refuses an offline charge. A
    /// search that finds nothing proves little (search lags, keys expire), which is why the
    /// offline attempt's create key is also the one the next online attempt would use.
    async fn gateway_shows_no_charge(&self, order: &OrderId) -> Result<(), OfflineRefusal> {
        let intents = self
            .gateway
            .search_intents(&MetadataQuery::order(order))
            .await
            .map_err(|e| OfflineRefusal::GatewayNotAsked {
                detail: e.to_string(),
            })?;
        match intents.iter().find(|i| {
            matches!(
                i.status,
                IntentStatus::Succeeded
                    | IntentStatus::Processing
                    | IntentStatus::RequiresConfirmation
                    | IntentStatus::RequiresAction
            )
        }) {
            Some(intent) => Err(OfflineRefusal::GatewayShowsCharge {
                intent: intent.id.clone(),
                status: intent.status_raw.clone(),
            }),
            None => Ok(()),
        }
    }

    /// The central is unreachable: charge under the manager's offline allowance, or refuse.
    /// `here` is this terminal's (finished, unsuccessful) attempts of the order.
    pub(crate) async fn charge_offline(
        &self,
        request: &ChargeRequest,
        cached: Option<&CachedOrder>,
        here: &[Attempt],
        detail: &str,
        progress: ProgressSink<'_>,
    ) -> Result<ChargeReport, EngineError> {
        let refuse = |refusal: OfflineRefusal| EngineError::Offline {
            refusal,
            detail: detail.to_string(),
        };
        let policy = self.offline_policy();
        let allowance = match &policy {
            OfflinePolicy::Block => return Err(refuse(OfflineRefusal::NotAllowed)),
            OfflinePolicy::Allow(a) => a.clone(),
        };
        let cached = match cached {
            Some(cached) if cached.order.id == request.order => cached.clone(),
            _ => return Err(refuse(OfflineRefusal::NotCached)),
        };
        let order = cached.order.clone();
        if !is_chargeable(order.status) {
            return Err(EngineError::NotChargeable {
                order: order.id,
                status: order.status.as_str().replace('_', " "),
            });
        }
        if order.amount != request.expected_amount {
            return Err(EngineError::AmountChanged {
                order: order.id,
                expected: request.expected_amount,
                current: order.amount,
            });
        }
        if order.paid_minor > 0 {
            // Installments are granted by the central against the balance it counted: a partly
            // paid order's balance is charged online only, so an offline charge can never
            // stack on a payment this terminal has not seen.
            return Err(EngineError::NotChargeable {
                order: order.id,
                status: "partly paid (its balance is charged online only)".into(),
            });
        }
        let now = self.clock.now();
        if now.millis_since(cached.fetched_at) > allowance.cache_age_ms_max {
            return Err(refuse(OfflineRefusal::StaleCache {
                fetched_at: cached.fetched_at,
                age_ms_max: allowance.cache_age_ms_max,
            }));
        }
        let since = allowance.granted_at;
        let currency = allowance.per_charge_max.currency();
        let shift_so_far = self
            .with_journal(move |j| j.offline_total_since(since, currency))
            .await?;
        policy
            .check(order.amount, shift_so_far, now)
            .map_err(refuse)?;
        self.gateway_shows_no_charge(&order.id)
            .await
            .map_err(refuse)?;
        progress(Progress::Offline {
            order: order.id.clone(),
            approved_by: allowance.approved_by.clone(),
        });
        let new = NewAttempt {
            id: new_attempt_id(now),
            order: order.id.clone(),
            number: offline_attempt_number(cached.attempt_seq, here.iter().map(|a| a.number)),
            installment: paydesk_core::InstallmentNumber::FIRST,
            claim_token: offline_claim_token(),
            amount: order.amount,
            customer: order.customer.clone(),
            payment_method: order.payment_method.clone(),
            operator: request.operator.clone(),
            terminal: self.config.terminal.clone(),
            offline: true,
        };
        // The begun event names the signed grant that allowed this charge.
        let grant = allowance.grant_record(&self.config.terminal);
        let (attempt, effects) = self
            .with_journal(move |j| j.begin_offline_attempt(new, &grant, now))
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

    /// The offline policy in force.
    pub fn offline_policy(&self) -> OfflinePolicy {
        self.offline_policy
            .lock()
            .map(|p| p.clone())
            .unwrap_or_default()
    }

    /// Sets the offline policy (a manager's decision, made in the front end).
    pub fn set_offline_policy(&self, policy: OfflinePolicy) {
        if let Ok(mut p) = self.offline_policy.lock() {
            *p = policy;
        }
    }

    /// An offline attempt's intent exists and is not confirmed. If the central answers now, the
    /// attempt claims the order and registers like an online one before anything is confirmed:
    /// the claim must come with the attempt's own number (nobody claimed the order since this
    /// terminal last saw it), and the order must still be chargeable at the same amount with no
    /// other intent open — otherwise (also when the attempt's operator is not signed in to claim
    /// for) the intent is canceled unconfirmed. If the central is still
    /// unreachable, the manager's allowance is checked again (it may have lapsed, or been
    /// withdrawn, since the attempt began); only then does the attempt go ahead offline.
    pub(crate) async fn register_offline(
        &self,
        attempt: &Attempt,
        intent: &GatewayIntentId,
    ) -> Result<Performed, EngineError> {
        let pending = |detail: &str| {
            Performed::Pending(format!(
                "the central server did not answer ({detail}); the offline intent is created but \
                 not confirmed, and is registered and confirmed once it answers"
            ))
        };
        let claimed = self
            .central
            .claim(&ClaimRequest {
                order: attempt.order.clone(),
                operator: attempt.operator.clone(),
                terminal: self.config.terminal.clone(),
            })
            .await;
        let outcome = match claimed {
            Ok(claim) => {
                let fits = claim.attempt_number == attempt.number
                    && is_chargeable(claim.order.status)
                    && claim.order.amount == attempt.amount
                    && claim.open_intent.is_none();
                if fits {
                    match self
                        .central
                        .register_intent(&attempt.order, claim.token, attempt.number, intent)
                        .await
                    {
                        Ok(()) => RegisterOutcome::Claimed { token: claim.token },
                        Err(CentralError::StaleClaim) => RegisterOutcome::StaleClaim,
                        Err(
                            CentralError::Unreachable { detail }
                            | CentralError::NoAnswer { detail },
                        ) => return Ok(pending(&detail)),
                        Err(e) => return Err(e.into()),
                    }
                } else {
                    tracing::warn!(attempt = %attempt.id, order = %attempt.order, "the order moved on at the central while this attempt was offline; its intent is canceled unconfirmed");
                    // Nothing was sent under this claim: giving it back is safe.
                    if let Err(e) = self.central.release(&attempt.order, claim.token).await {
                        tracing::warn!(order = %attempt.order, error = %e, "could not release a claim; its lease will expire");
                    }
                    RegisterOutcome::StaleClaim
                }
            }
            Err(CentralError::Unreachable { .. }) => {
                match self.allowance_still_covers(attempt).await? {
                    Ok(()) => RegisterOutcome::AcceptedOffline,
                    Err(refusal) => {
                        tracing::warn!(attempt = %attempt.id, %refusal, "the offline allowance no longer covers this attempt; its intent is canceled unconfirmed");
                        RegisterOutcome::StaleClaim
                    }
                }
            }
            Err(CentralError::NoAnswer { detail }) => return Ok(pending(&detail)),
            // Someone else holds the order, or it is paid, or gone: ours must not be confirmed.
            Err(
                CentralError::HeldBy { .. }
                | CentralError::StaleClaim
                | CentralError::NotChargeable(_)
                | CentralError::UnknownOrder(_),
            ) => RegisterOutcome::StaleClaim,
            // The central is back but the attempt's operator is not signed in (nobody is, or
            // someone else is): it cannot claim for them, and an unconfirmed intent must not wait
            // for a person who may never come back. Nothing was confirmed, so cancelling it ends
            // the attempt with no money moved and the order back in the queue.
            Err(
                CentralError::SessionRequired
                | CentralError::SessionExpired
                | CentralError::Forbidden(_),
            ) => {
                tracing::warn!(attempt = %attempt.id, order = %attempt.order, operator = %attempt.operator, "the central is back but the offline attempt's operator is not signed in; its intent is canceled unconfirmed");
                RegisterOutcome::StaleClaim
            }
            Err(e) => return Err(e.into()),
        };
        Ok(Performed::Event(AttemptEvent::RegisterAnswered(outcome)))
    }

    /// Whether the offline allowance in force still covers `attempt` (counted once in the
    /// shift's total).
    async fn allowance_still_covers(
        &self,
        attempt: &Attempt,
    ) -> Result<Result<(), OfflineRefusal>, EngineError> {
        let policy = self.offline_policy();
        let OfflinePolicy::Allow(allowance) = &policy else {
            return Ok(Err(OfflineRefusal::NotAllowed));
        };
        let since = allowance.granted_at;
        let currency = allowance.per_charge_max.currency();
        let total = self
            .with_journal(move |j| j.offline_total_since(since, currency))
            .await?;
        // The total counts this attempt itself when it began under this allowance.
        let others = if attempt.created_at >= since && attempt.amount.currency() == currency {
            total.checked_sub(attempt.amount).unwrap_or(total)
        } else {
            total
        };
        Ok(policy
            .check(attempt.amount, others, self.clock.now())
            .map(|_| ()))
    }
}

#[cfg(test)]
mod tests {
    use paydesk_core::{
        Attempt, AttemptNumber, AttemptState, ClaimToken, InstallmentNumber, Money, NewAttempt,
        OperatorId, OrderId, PaymentMethodId, TerminalId, Timestamp,
    };

    use super::{charged_here, charged_here_uncounted};
    use crate::ids::new_attempt_id;

    fn attempt(number: u32, installment: u32, minor: &str, state: AttemptState) -> Attempt {
        let now = Timestamp::from_unix_ms(1_000 + i64::from(number));
        let (mut attempt, _) = Attempt::begin(
            NewAttempt {
                id: new_attempt_id(now),
                order: OrderId::new("ORD-1").unwrap(),
                number: AttemptNumber::new(number).unwrap(),
                installment: InstallmentNumber::new(installment).unwrap(),
                claim_token: ClaimToken::new(u64::from(number)).unwrap(),
                amount: Money::parse(minor).unwrap(),
                customer: None,
                payment_method: PaymentMethodId::new("pm_card_visa").unwrap(),
                operator: OperatorId::new("op-1").unwrap(),
                terminal: TerminalId::new("t-1").unwrap(),
                offline: false,
            },
            now,
        );
        attempt.state = state;
        attempt
    }

    #[test]
    fn a_deposit_here_refuses_only_until_the_central_counted_it() {
        let here = [
            attempt(1, 1, "5.00 EUR", AttemptState::Declined),
            attempt(2, 1, "30.00 EUR", AttemptState::Succeeded),
        ];
        let first = InstallmentNumber::FIRST;
        let second = InstallmentNumber::new(2).unwrap();
        // The central grants the first installment again: it has not counted the deposit.
        assert_eq!(
            charged_here_uncounted(&here, first).map(|a| a.number),
            Some(here[1].number)
        );
        // It grants the second: the deposit was counted, the balance may be charged.
        assert!(charged_here_uncounted(&here, second).is_none());
        // Offline there is no grant: any success here refuses.
        assert!(charged_here(&here).is_some());
        assert!(charged_here(&here[..1]).is_none());
        assert!(charged_here_uncounted(&here[..1], first).is_none());
    }
}

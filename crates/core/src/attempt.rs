//! The attempt state machine of the charge protocol, and the recovery decision for every state.
//!
//! Pure: `step(attempt, event, now)` returns the next attempt and the effects a driver must perform
//! *in order*; `next_action(attempt, now, policy)` says what to do from the last durable state. Time
//! comes in as an argument. Nothing here performs I/O.
//!
//! The two rules the whole design hangs on:
//! - every gateway request is preceded by a durable journal record ([`Effect::Persist`] comes
//!   before any gateway effect, or the record already on disk names the request);
//! - an outcome that is not known is never turned into "failed" or into a second charge: it is
//!   re-sent with the same idempotency key, fetched by id, or handed to a person. A *new* key is
//!   taken only after the gateway showed the old one cannot have done anything (the gateway
//!   replays a stored error under a key for its whole window, so that key is spent).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ids::{
    AttemptId, AttemptNumber, ClaimToken, CustomerId, GatewayIntentId, IdempotencyKey,
    InstallmentNumber, OperatorId, OrderId, PaymentMethodId, TerminalId,
};
use crate::money::Money;
use crate::time::Timestamp;

/// Where an attempt stands. The order of the variants is the order of progress; a state never
/// moves to one of lower [`AttemptState::rank`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum AttemptState {
    /// The attempt is journaled; a create request may be in flight. No money can have moved.
    Intent,
    /// The gateway intent exists (its id is journaled) but is not registered at the central.
    Created,
    /// The intent is registered at the central against the claim token (or, offline, allowed by
    /// the manager's policy). Nothing has been confirmed yet.
    Registered,
    /// A confirm request may have been sent: money may have moved.
    ConfirmSent,
    /// An answer was ambiguous (timeout, dropped connection, 5xx, `processing`): money may have
    /// moved and we do not know yet.
    Unknown,
    /// Automatic recovery gave up deciding; a manager must resolve it with gateway evidence.
    NeedsReview,
    /// The gateway reports the payment succeeded.
    Succeeded,
    /// The gateway refused the payment (or refused to create the intent). No money moved.
    Declined,
    /// The customer must authenticate (3-D Secure); off-session this ends the attempt.
    RequiresAction,
    /// The attempt ended without any money moving (intent canceled, never created, or fenced out).
    Canceled,
}

impl AttemptState {
    pub const ALL: [AttemptState; 10] = [
        AttemptState::Intent,
        AttemptState::Created,
        AttemptState::Registered,
        AttemptState::ConfirmSent,
        AttemptState::Unknown,
        AttemptState::NeedsReview,
        AttemptState::Succeeded,
        AttemptState::Declined,
        AttemptState::RequiresAction,
        AttemptState::Canceled,
    ];

    /// Progress rank: terminal states share the top rank.
    pub fn rank(self) -> u8 {
        match self {
            AttemptState::Intent => 0,
            AttemptState::Created => 1,
            AttemptState::Registered => 2,
            AttemptState::ConfirmSent => 3,
            AttemptState::Unknown => 4,
            AttemptState::NeedsReview => 5,
            AttemptState::Succeeded
            | AttemptState::Declined
            | AttemptState::RequiresAction
            | AttemptState::Canceled => 6,
        }
    }

    /// No automatic step follows a terminal state.
    pub fn is_terminal(self) -> bool {
        self.rank() == 6
    }

    /// True from the moment a confirm may have reached the gateway: money may have moved.
    pub fn may_have_charged(self) -> bool {
        matches!(
            self,
            AttemptState::ConfirmSent
                | AttemptState::Unknown
                | AttemptState::NeedsReview
                | AttemptState::Succeeded
        )
    }

    /// The stable name stored in the journal and shown to people.
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptState::Intent => "intent",
            AttemptState::Created => "created",
            AttemptState::Registered => "registered",
            AttemptState::ConfirmSent => "confirm_sent",
            AttemptState::Unknown => "unknown",
            AttemptState::NeedsReview => "needs_review",
            AttemptState::Succeeded => "succeeded",
            AttemptState::Declined => "declined",
            AttemptState::RequiresAction => "requires_action",
            AttemptState::Canceled => "canceled",
        }
    }

    pub fn parse(s: &str) -> Option<AttemptState> {
        AttemptState::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

impl fmt::Display for AttemptState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Everything the journal knows about one attempt. Built once by [`Attempt::begin`]; changed only
/// by [`step`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct Attempt {
    pub id: AttemptId,
    pub order: OrderId,
    pub number: AttemptNumber,
    /// Which payment of the order this attempt is (1: the first, a deposit or the whole amount;
    /// 2: the one after the first success, …). Not part of any key (see [`InstallmentNumber`]).
    /// Records written before installments read as the first.
    #[serde(default = "InstallmentNumber::first")]
    pub installment: InstallmentNumber,
    /// The fencing token of the claim under which this attempt runs.
    pub claim_token: ClaimToken,
    /// What this attempt charges: the installment's amount (the order's balance due, or less).
    pub amount: Money,
    /// The customer owning the saved payment method, when the gateway needs one.
    pub customer: Option<CustomerId>,
    /// The saved payment method charged. Journaled so that a re-sent create after a crash carries
    /// exactly the parameters of the first one (the gateway refuses a key reused with others).
    pub payment_method: PaymentMethodId,
    pub operator: OperatorId,
    pub terminal: TerminalId,
    /// Charged while the central was unreachable, under the manager's offline policy.
    pub offline: bool,
    pub state: AttemptState,
    pub create_key: IdempotencyKey,
    /// Set once the gateway answered the create; never changes afterwards.
    pub intent_id: Option<GatewayIntentId>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// When the first confirm was journaled as sent; the confirm key's window counts from here.
    pub confirm_sent_at: Option<Timestamp>,
    /// How many ambiguous answers (timeouts, 5xx, `processing`) this attempt has had. A request
    /// that provably never left (`NotSent`) is not counted: an outage proves nothing about money.
    pub unknown_checks: u32,
    /// The number of the create key in use (0: `create_key` itself). Moves on only once a search
    /// by this attempt's metadata found no intent after the create answered ambiguously twice
    /// under the key in use. Durable before the create it names is sent (I7).
    pub create_retry: u32,
    /// The number of the confirm key in use (0: the intent's own confirm key). Moves on only once
    /// a lookup showed the intent still `requires_confirmation`. Durable before the confirm it
    /// names is sent (I7).
    pub confirm_retry: u32,
    /// The gateway's reason for a decline, or why the attempt was canceled or needs review.
    pub reason: Option<String>,
}

/// What the caller supplies to start an attempt (after the central granted the claim).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAttempt {
    pub id: AttemptId,
    pub order: OrderId,
    pub number: AttemptNumber,
    pub installment: InstallmentNumber,
    pub claim_token: ClaimToken,
    pub amount: Money,
    pub customer: Option<CustomerId>,
    pub payment_method: PaymentMethodId,
    pub operator: OperatorId,
    pub terminal: TerminalId,
    pub offline: bool,
}

impl Attempt {
    /// The first durable record of an attempt, and the effects that follow: persist it, then (and
    /// only then) ask the gateway to create the intent.
    pub fn begin(new: NewAttempt, now: Timestamp) -> (Attempt, Vec<Effect>) {
        let create_key = IdempotencyKey::for_create(&new.order, new.number);
        let attempt = Attempt {
            id: new.id,
            order: new.order,
            number: new.number,
            installment: new.installment,
            claim_token: new.claim_token,
            amount: new.amount,
            customer: new.customer,
            payment_method: new.payment_method,
            operator: new.operator,
            terminal: new.terminal,
            offline: new.offline,
            state: AttemptState::Intent,
            create_key: create_key.clone(),
            intent_id: None,
            created_at: now,
            updated_at: now,
            confirm_sent_at: None,
            unknown_checks: 0,
            create_retry: 0,
            confirm_retry: 0,
            reason: None,
        };
        (
            attempt,
            vec![Effect::Persist, Effect::SendCreate { key: create_key }],
        )
    }

    /// The confirm key in use for this attempt's intent, once the intent exists.
    pub fn confirm_key(&self) -> Option<IdempotencyKey> {
        self.intent_id
            .as_ref()
            .map(|intent| IdempotencyKey::for_confirm_retry(intent, self.confirm_retry))
    }

    /// The create key in use: `create_key` until a search showed no intent exists for it.
    pub fn current_create_key(&self) -> IdempotencyKey {
        IdempotencyKey::for_create_retry(&self.order, self.number, self.create_retry)
    }

    /// True when the create has answered ambiguously [`CREATE_UNKNOWNS_PER_KEY`] times under the
    /// key in use: re-sending that key again would only replay the same stored answer, so the
    /// next step is a search by this attempt's metadata.
    pub fn create_search_due(&self) -> bool {
        self.state == AttemptState::Intent
            && self.unknown_checks >= CREATE_UNKNOWNS_PER_KEY.saturating_mul(self.create_retry + 1)
    }

    /// Internal consistency of a record: checked before writing and after reading back.
    pub fn check(&self) -> Result<(), String> {
        let s = self.state;
        if s.rank() >= AttemptState::Created.rank()
            && self.intent_id.is_none()
            && !matches!(
                s,
                AttemptState::Declined | AttemptState::Canceled | AttemptState::NeedsReview
            )
        {
            return Err(format!("state {s} without a gateway intent id"));
        }
        if s.may_have_charged() && s != AttemptState::NeedsReview && self.confirm_sent_at.is_none()
        {
            return Err(format!("state {s} without confirm_sent_at"));
        }
        if self.updated_at < self.created_at {
            return Err("updated_at is before created_at".into());
        }
        if self.create_key != IdempotencyKey::for_create(&self.order, self.number) {
            return Err("create key does not match order and attempt number".into());
        }
        if self.confirm_retry > 0 && self.confirm_sent_at.is_none() {
            return Err("a numbered confirm key without confirm_sent_at".into());
        }
        Ok(())
    }
}

/// What the gateway said to a create request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CreateOutcome {
    /// The intent exists (requires confirmation).
    Created { intent: GatewayIntentId },
    /// The gateway refused to create it (bad payment method, amount out of range, …).
    Refused { reason: String },
    /// The request provably never reached the gateway.
    NotSent,
    /// The request may have landed; the same key will tell.
    Unknown,
}

/// What the gateway said to a confirm request (or what a retrieve found).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ChargeOutcome {
    Succeeded,
    Declined {
        reason: String,
    },
    RequiresAction,
    /// The request provably never reached the gateway (an earlier one still might have).
    NotSent,
    /// The request may have landed and we do not know what it did.
    Unknown,
}

/// The status of an intent as a retrieve by id reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum IntentStatus {
    RequiresConfirmation,
    /// After a confirm: the last payment attempt failed with this reason.
    RequiresPaymentMethod {
        reason: String,
    },
    RequiresAction,
    Processing,
    Succeeded,
    Canceled,
}

/// What the central said to the registration of an intent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RegisterOutcome {
    Accepted,
    /// Accepted without the central, under the manager's offline policy (the engine decides).
    AcceptedOffline,
    /// An offline attempt found the central reachable again, claimed the order under the
    /// attempt's own number and registered its intent under that claim's `token`: from here on
    /// the attempt holds that claim like an online one.
    Claimed {
        token: ClaimToken,
    },
    /// The claim token is stale: someone else holds the order now.
    StaleClaim,
}

/// How a manager resolved an attempt that needed review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Resolution {
    Succeeded,
    Declined,
    Canceled,
}

/// Something that happened to an attempt; the journal stores each one with the state it led to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum AttemptEvent {
    CreateAnswered(CreateOutcome),
    RegisterAnswered(RegisterOutcome),
    /// The driver is about to confirm: this event's record is the durable confirm-sent.
    ConfirmBegun,
    ConfirmAnswered(ChargeOutcome),
    Retrieved(IntentStatus),
    /// The create key's window passed with the create still unanswered: no intent of ours can
    /// have been confirmed, so the attempt ends with no money moved.
    CreateAbandoned,
    /// A search by this attempt's metadata, made after its create answered ambiguously under the
    /// key in use: `found` is this attempt's intent if the gateway shows one.
    CreateSearched {
        found: Option<GatewayIntentId>,
    },
    /// A takeover: before this attempt creates anything, the intent the previous holder of the
    /// order registered is canceled. This record is durable before the cancel is sent (I7) and
    /// names the intent for the manager's timeline.
    TakeoverCancel {
        previous: GatewayIntentId,
    },
    /// The attempt ends before its create was ever answered, for the reason given (a takeover
    /// found the previous intent charged, or could not cancel it). No confirm was ever sent for
    /// this attempt, so no money can have moved through it.
    Withdrawn {
        reason: String,
    },
    /// Automatic recovery gives up; the reason and evidence go to a manager.
    Escalated {
        reason: String,
    },
    /// A manager's decision, with the evidence they looked at.
    Resolved {
        resolution: Resolution,
        evidence: String,
        by: OperatorId,
    },
}

impl AttemptEvent {
    /// The stable name stored in the journal.
    pub fn kind(&self) -> &'static str {
        match self {
            AttemptEvent::CreateAnswered(_) => "create_answered",
            AttemptEvent::RegisterAnswered(_) => "register_answered",
            AttemptEvent::ConfirmBegun => "confirm_begun",
            AttemptEvent::ConfirmAnswered(_) => "confirm_answered",
            AttemptEvent::Retrieved(_) => "retrieved",
            AttemptEvent::CreateAbandoned => "create_abandoned",
            AttemptEvent::CreateSearched { .. } => "create_searched",
            AttemptEvent::TakeoverCancel { .. } => "takeover_cancel",
            AttemptEvent::Withdrawn { .. } => "withdrawn",
            AttemptEvent::Escalated { .. } => "escalated",
            AttemptEvent::Resolved { .. } => "resolved",
        }
    }
}

/// A side effect for the driver, performed in the order given. `Persist` is a durable journal
/// commit of the new attempt record and the event; `EnqueueResult` joins that same transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "effect", rename_all = "snake_case")]
pub enum Effect {
    Persist,
    /// An outbox message with the attempt's result, in the same transaction as `Persist`: its
    /// final state, or `needs_review` when it goes to a manager (a later final state replaces a
    /// review message in the journal's outbox).
    EnqueueResult,
    SendCreate {
        key: IdempotencyKey,
    },
    Register {
        intent: GatewayIntentId,
    },
    SendConfirm {
        intent: GatewayIntentId,
        key: IdempotencyKey,
    },
    Retrieve {
        intent: GatewayIntentId,
    },
    /// Search the gateway by this attempt's metadata for the intent an ambiguous create may
    /// have made.
    Search,
    /// Best effort: an intent we will never confirm. No money can move either way.
    Cancel {
        intent: GatewayIntentId,
        key: IdempotencyKey,
    },
    /// Nothing more is automatic: show it to a manager.
    FlagForReview,
}

impl Effect {
    /// True for effects that send a request to the gateway.
    pub fn is_gateway_call(&self) -> bool {
        matches!(
            self,
            Effect::SendCreate { .. }
                | Effect::SendConfirm { .. }
                | Effect::Retrieve { .. }
                | Effect::Search
                | Effect::Cancel { .. }
        )
    }
}

/// Why an event was refused in a state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("event {event} is not allowed in state {state}")]
pub struct Refused {
    pub state: AttemptState,
    pub event: &'static str,
}

/// How many ambiguous create answers one create key gets before the attempt searches for its
/// intent: the first answer may be a lost response (a re-send with the same key replays the
/// stored result), a second one under the same key is most likely a stored error being replayed.
/// Searching only then keeps the gateway's search lag from causing needless second intents.
pub const CREATE_UNKNOWNS_PER_KEY: u32 = 2;

/// The next attempt record and the effects to perform, in order.
pub type Step = (Attempt, Vec<Effect>);

/// Applies one event. A refused event leaves the attempt as it was.
pub fn step(attempt: &Attempt, event: &AttemptEvent, now: Timestamp) -> Result<Step, Refused> {
    use AttemptEvent as E;
    use AttemptState as S;
    let refused = || Refused {
        state: attempt.state,
        event: event.kind(),
    };
    let mut next = attempt.clone();
    next.updated_at = now.max(attempt.updated_at);
    let finish = |mut next: Attempt, state: S, reason: Option<String>| -> Step {
        next.state = state;
        next.reason = reason;
        (next, vec![Effect::Persist, Effect::EnqueueResult])
    };

    let out = match (attempt.state, event) {
        (S::Intent, E::CreateAnswered(outcome)) => match outcome {
            CreateOutcome::Created { intent } => {
                next.state = S::Created;
                next.intent_id = Some(intent.clone());
                (
                    next,
                    vec![
                        Effect::Persist,
                        Effect::Register {
                            intent: intent.clone(),
                        },
                    ],
                )
            }
            CreateOutcome::Refused { reason } => finish(next, S::Declined, Some(reason.clone())),
            // Nothing known changed: the same key will be re-sent by recovery.
            CreateOutcome::NotSent => (next, vec![Effect::Persist]),
            // The same key is re-sent once (a lost response is replayed); after the second
            // ambiguous answer under it, look for the intent instead.
            CreateOutcome::Unknown => {
                next.unknown_checks += 1;
                if next.create_search_due() {
                    (next, vec![Effect::Persist, Effect::Search])
                } else {
                    (next, vec![Effect::Persist])
                }
            }
        },
        (S::Intent, E::CreateSearched { found }) => {
            if !attempt.create_search_due() {
                return Err(refused());
            }
            match found {
                // The ambiguous create did make the intent: carry on with it.
                Some(intent) => {
                    next.state = S::Created;
                    next.intent_id = Some(intent.clone());
                    (
                        next,
                        vec![
                            Effect::Persist,
                            Effect::Register {
                                intent: intent.clone(),
                            },
                        ],
                    )
                }
                // No intent is visible: the key in use is spent (its stored error is replayed for
                // the gateway's whole window), so the next create carries a fresh numbered key.
                // This is safe even if the search lags and an intent of the old key does exist:
                // creating moves no money, only a confirm does, and this attempt confirms only
                // the one intent it journals. The other stays unconfirmed and is never charged.
                None => {
                    next.create_retry += 1;
                    let key = next.current_create_key();
                    (next, vec![Effect::Persist, Effect::SendCreate { key }])
                }
            }
        }
        (S::Intent, E::CreateAbandoned) => finish(
            next,
            S::Canceled,
            Some("create never answered within the idempotency window; no charge was sent".into()),
        ),
        // Only before anything of this attempt was sent: no ambiguous answer, no new key yet.
        (S::Intent, E::TakeoverCancel { previous })
            if attempt.unknown_checks == 0 && attempt.create_retry == 0 =>
        {
            (
                next,
                vec![
                    Effect::Persist,
                    Effect::Cancel {
                        key: IdempotencyKey::for_cancel(previous),
                        intent: previous.clone(),
                    },
                ],
            )
        }
        (S::Intent, E::Withdrawn { reason }) => finish(next, S::Canceled, Some(reason.clone())),
        (S::Created, E::RegisterAnswered(outcome)) => {
            let intent = attempt.intent_id.clone().ok_or_else(refused)?;
            match outcome {
                RegisterOutcome::Accepted | RegisterOutcome::AcceptedOffline => {
                    next.state = S::Registered;
                    next.offline |= *outcome == RegisterOutcome::AcceptedOffline;
                    (next, vec![Effect::Persist])
                }
                // Only an attempt that began offline has no claim of its own to register under.
                RegisterOutcome::Claimed { token } if attempt.offline => {
                    next.state = S::Registered;
                    next.claim_token = *token;
                    (next, vec![Effect::Persist])
                }
                RegisterOutcome::Claimed { .. } => return Err(refused()),
                RegisterOutcome::StaleClaim => {
                    let (next, mut effects) = finish(
                        next,
                        S::Canceled,
                        Some("claim taken over by another terminal before confirm".into()),
                    );
                    effects.push(Effect::Cancel {
                        key: IdempotencyKey::for_cancel(&intent),
                        intent,
                    });
                    (next, effects)
                }
            }
        }
        (S::Registered, E::ConfirmBegun) => {
            let intent = attempt.intent_id.clone().ok_or_else(refused)?;
            next.state = S::ConfirmSent;
            next.confirm_sent_at = Some(now);
            (
                next,
                vec![
                    Effect::Persist,
                    Effect::SendConfirm {
                        key: IdempotencyKey::for_confirm(&intent),
                        intent,
                    },
                ],
            )
        }
        (S::ConfirmSent | S::Unknown, E::ConfirmAnswered(outcome)) => match outcome {
            ChargeOutcome::Succeeded => finish(next, S::Succeeded, None),
            ChargeOutcome::Declined { reason } => finish(next, S::Declined, Some(reason.clone())),
            ChargeOutcome::RequiresAction => finish(next, S::RequiresAction, None),
            // A request that never left proves nothing about an earlier one: stay where we are,
            // and do not count it (an outage is not an ambiguity).
            ChargeOutcome::NotSent => (next, vec![Effect::Persist]),
            ChargeOutcome::Unknown => {
                next.unknown_checks += 1;
                next.state = S::Unknown;
                (next, vec![Effect::Persist])
            }
        },
        (S::ConfirmSent | S::Unknown, E::Retrieved(status)) => {
            let intent = attempt.intent_id.clone().ok_or_else(refused)?;
            match status {
                IntentStatus::Succeeded => finish(next, S::Succeeded, None),
                IntentStatus::RequiresPaymentMethod { reason } => {
                    finish(next, S::Declined, Some(reason.clone()))
                }
                IntentStatus::RequiresAction => finish(next, S::RequiresAction, None),
                IntentStatus::Canceled => finish(
                    next,
                    S::Canceled,
                    Some("the gateway reports the intent canceled".into()),
                ),
                IntentStatus::Processing => {
                    next.unknown_checks += 1;
                    next.state = S::Unknown;
                    (next, vec![Effect::Persist])
                }
                // No confirm executed. Confirm the same intent again, with a fresh numbered key:
                // the key in use may hold a stored error the gateway replays for its whole window.
                // Safe because an intent succeeds at most once, whatever key the confirm carries.
                // The number is in this record, durable before the confirm is sent (I7).
                IntentStatus::RequiresConfirmation => {
                    next.confirm_retry += 1;
                    let key = IdempotencyKey::for_confirm_retry(&intent, next.confirm_retry);
                    (
                        next,
                        vec![Effect::Persist, Effect::SendConfirm { intent, key }],
                    )
                }
            }
        }
        // Recovery keeps looking at an intent under review: gateway evidence of a final status
        // settles it without a manager. A success needs a confirm that was sent (I3); anything
        // else (still confirmable, processing) is left to the manager and not journaled.
        (S::NeedsReview, E::Retrieved(status)) => match status {
            IntentStatus::Succeeded if attempt.confirm_sent_at.is_some() => {
                finish(next, S::Succeeded, None)
            }
            IntentStatus::RequiresPaymentMethod { reason } if attempt.confirm_sent_at.is_some() => {
                finish(next, S::Declined, Some(reason.clone()))
            }
            IntentStatus::RequiresAction if attempt.confirm_sent_at.is_some() => {
                finish(next, S::RequiresAction, None)
            }
            IntentStatus::Canceled if attempt.intent_id.is_some() => finish(
                next,
                S::Canceled,
                Some("the gateway reports the intent canceled".into()),
            ),
            _ => return Err(refused()),
        },
        // The central hears of it too (the result message says `needs_review` and names the
        // intent), so the order shows held for review and its sweep can settle it.
        (
            S::Intent | S::Created | S::Registered | S::ConfirmSent | S::Unknown,
            E::Escalated { reason },
        ) => {
            next.state = S::NeedsReview;
            next.reason = Some(reason.clone());
            (
                next,
                vec![
                    Effect::Persist,
                    Effect::EnqueueResult,
                    Effect::FlagForReview,
                ],
            )
        }
        (
            S::NeedsReview,
            E::Resolved {
                resolution,
                evidence,
                ..
            },
        ) => {
            // No phantom (I3): a manager can only call it paid if a confirm may have been sent.
            if *resolution == Resolution::Succeeded && attempt.confirm_sent_at.is_none() {
                return Err(refused());
            }
            let state = match resolution {
                Resolution::Succeeded => S::Succeeded,
                Resolution::Declined => S::Declined,
                Resolution::Canceled => S::Canceled,
            };
            finish(
                next,
                state,
                Some(format!("resolved by a manager: {evidence}")),
            )
        }
        _ => return Err(refused()),
    };
    debug_assert!(
        out.0.state.rank() >= attempt.state.rank(),
        "state moved backwards"
    );
    Ok(out)
}

/// The knobs of recovery, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecoveryPolicy {
    /// How long the gateway remembers an idempotency key (Stripe: 24 hours).
    pub key_window_ms: i64,
    /// Stop re-sending with the same key this long before the window closes, so a re-send can
    /// never arrive after the key was pruned and be executed as a fresh request.
    pub key_window_margin_ms: i64,
}

impl RecoveryPolicy {
    /// Stripe's 24-hour key window, and a 6-hour margin: after 18 hours recovery only looks up.
    pub const STRIPE: RecoveryPolicy = RecoveryPolicy {
        key_window_ms: 24 * 60 * 60 * 1000,
        key_window_margin_ms: 6 * 60 * 60 * 1000,
    };

    fn key_still_remembered(&self, since: Timestamp, now: Timestamp) -> bool {
        now.millis_since(since) < self.key_window_ms - self.key_window_margin_ms
    }

    /// How long after its first confirm an attempt whose outcome the gateway answered but did not
    /// settle may stay with automatic recovery before it goes to a manager: the gateway's key
    /// window (Stripe: 24 hours). By then every key has long stopped being re-sent, and a day of
    /// lookups did not settle it. Time, not a count of checks, so frequent recovery passes do
    /// not shorten it; and an outage (nothing answered) never starts it.
    pub fn review_after_ms(&self) -> i64 {
        self.key_window_ms
    }
}

/// What recovery does next for an attempt, given only its last durable record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Terminal, or waiting for a manager: nothing automatic.
    Nothing,
    /// Re-send the create with the attempt's own key.
    ResendCreate { key: IdempotencyKey },
    /// Apply this event directly (no gateway call needed to decide).
    Apply(AttemptEvent),
    /// Register the existing intent at the central, fenced by the attempt's claim token.
    Register { intent: GatewayIntentId },
    /// Re-send the confirm with the same key, while the gateway still remembers it.
    ResendConfirm {
        intent: GatewayIntentId,
        key: IdempotencyKey,
    },
    /// Look the intent up by id (after the key window, or when re-sending is not enough).
    Retrieve { intent: GatewayIntentId },
    /// Search by this attempt's metadata for the intent an ambiguous create may have made.
    Search,
}

/// The recovery decision for every state. Never produces a fresh charge: every gateway action
/// reuses the attempt's own intent or its create key in use (a new numbered key is only ever
/// taken by a step, on gateway evidence).
pub fn next_action(attempt: &Attempt, now: Timestamp, policy: &RecoveryPolicy) -> Action {
    use AttemptState as S;
    match (attempt.state, &attempt.intent_id) {
        (S::Intent, _) => {
            if policy.key_still_remembered(attempt.created_at, now) {
                if attempt.create_search_due() {
                    Action::Search
                } else {
                    Action::ResendCreate {
                        key: attempt.current_create_key(),
                    }
                }
            } else {
                // Without the intent id we cannot confirm anything, and no confirm was ever sent
                // for this attempt: ending it is safe.
                Action::Apply(AttemptEvent::CreateAbandoned)
            }
        }
        (S::Created, Some(intent)) => Action::Register {
            intent: intent.clone(),
        },
        (S::Registered, Some(_)) => Action::Apply(AttemptEvent::ConfirmBegun),
        (S::ConfirmSent | S::Unknown, Some(intent)) => {
            let since = attempt.confirm_sent_at.unwrap_or(attempt.created_at);
            // Escalation is bounded in time, and only once the gateway has answered without
            // settling it (an ambiguous answer, or a lookup showing the confirm never ran): a
            // request that never left, or a lookup that failed, journals nothing that starts it.
            let answered = attempt.unknown_checks > 0 || attempt.confirm_retry > 0;
            if answered && now.millis_since(since) >= policy.review_after_ms() {
                Action::Apply(AttemptEvent::Escalated {
                    reason: format!(
                        "the gateway has not settled the payment {} hours after the confirm; \
                         look the intent up at the gateway",
                        policy.review_after_ms() / 3_600_000
                    ),
                })
            } else if attempt.state == S::ConfirmSent && policy.key_still_remembered(since, now) {
                Action::ResendConfirm {
                    intent: intent.clone(),
                    key: IdempotencyKey::for_confirm_retry(intent, attempt.confirm_retry),
                }
            } else {
                Action::Retrieve {
                    intent: intent.clone(),
                }
            }
        }
        (S::Created | S::Registered | S::ConfirmSent | S::Unknown, None) => {
            Action::Apply(AttemptEvent::Escalated {
                reason: format!(
                    "journal record in state {} has no gateway intent id",
                    attempt.state
                ),
            })
        }
        // Evidence may still settle it without a manager (see `step`); a lookup that does not
        // settle it is not journaled.
        (S::NeedsReview, Some(intent)) => Action::Retrieve {
            intent: intent.clone(),
        },
        (S::NeedsReview, None) => Action::Nothing,
        (S::Succeeded | S::Declined | S::RequiresAction | S::Canceled, _) => Action::Nothing,
    }
}

//! Table-driven tests of every transition of the attempt state machine (allowed and refused), the
//! recovery decision for every state, and property tests over random event sequences.
//!
//! Each table case is one line: a sequence of events and the expected trace, one transition per
//! line, written `from --event--> to [effects]` or `from --event--> REFUSED`.

use paydesk_core::*;
use proptest::prelude::*;

const T0: i64 = 1_795_000_000_000;
const HOUR_MS: i64 = 3_600_000;

fn new_attempt() -> NewAttempt {
    NewAttempt {
        id: AttemptId::parse("01932c4e-7b7a-7cc3-9a7e-2b6f3a5d4e10").unwrap(),
        order: OrderId::new("ORD-1").unwrap(),
        number: AttemptNumber::new(1).unwrap(),
        installment: paydesk_core::InstallmentNumber::FIRST,
        claim_token: ClaimToken::new(7).unwrap(),
        amount: Money::parse("12.34 EUR").unwrap(),
        customer: None,
        payment_method: PaymentMethodId::new("pm_card_visa").unwrap(),
        operator: OperatorId::new("op-anna").unwrap(),
        terminal: TerminalId::new("term-1").unwrap(),
        offline: false,
    }
}

fn pi() -> GatewayIntentId {
    GatewayIntentId::new("pi_1").unwrap()
}

fn created() -> AttemptEvent {
    AttemptEvent::CreateAnswered(CreateOutcome::Created { intent: pi() })
}
fn create(o: CreateOutcome) -> AttemptEvent {
    AttemptEvent::CreateAnswered(o)
}
fn register(o: RegisterOutcome) -> AttemptEvent {
    AttemptEvent::RegisterAnswered(o)
}
fn confirm(o: ChargeOutcome) -> AttemptEvent {
    AttemptEvent::ConfirmAnswered(o)
}
fn retrieved(s: IntentStatus) -> AttemptEvent {
    AttemptEvent::Retrieved(s)
}
fn declined() -> ChargeOutcome {
    ChargeOutcome::Declined {
        reason: "card_declined".into(),
    }
}
fn resolved(r: Resolution) -> AttemptEvent {
    AttemptEvent::Resolved {
        resolution: r,
        evidence: "pi_1 succeeded in the dashboard".into(),
        by: OperatorId::new("mgr-bo").unwrap(),
    }
}
fn escalated() -> AttemptEvent {
    AttemptEvent::Escalated {
        reason: "operator asked".into(),
    }
}

fn effect_name(e: &Effect) -> &'static str {
    match e {
        Effect::Persist => "persist",
        Effect::EnqueueResult => "enqueue",
        Effect::SendCreate { .. } => "create",
        Effect::Register { .. } => "register",
        Effect::SendConfirm { .. } => "confirm",
        Effect::Retrieve { .. } => "retrieve",
        Effect::Search => "search",
        Effect::Cancel { .. } => "cancel",
        Effect::FlagForReview => "review",
    }
}

/// Runs `events` from a fresh attempt (refused events leave it unchanged) and renders the trace.
fn trace(events: &[AttemptEvent]) -> String {
    let (mut attempt, _) = Attempt::begin(new_attempt(), Timestamp::from_unix_ms(T0));
    let mut out = String::new();
    for (i, event) in events.iter().enumerate() {
        let now = Timestamp::from_unix_ms(T0 + 1000 * (i as i64 + 1));
        let from = attempt.state;
        match step(&attempt, event, now) {
            Ok((next, effects)) => {
                let names: Vec<_> = effects.iter().map(effect_name).collect();
                out += &format!(
                    "{from} --{}--> {} [{}]\n",
                    event.kind(),
                    next.state,
                    names.join(", ")
                );
                next.check().unwrap_or_else(|e| panic!("{e}: {next:?}"));
                attempt = next;
            }
            Err(_) => out += &format!("{from} --{}--> REFUSED\n", event.kind()),
        }
    }
    out
}

fn check(events: &[AttemptEvent], expected: &str) {
    let actual = trace(events);
    let expected: String = expected
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(actual, expected, "\nactual trace:\n{actual}");
}

#[test]
fn begin_persists_before_the_create_request() {
    let (attempt, effects) = Attempt::begin(new_attempt(), Timestamp::from_unix_ms(T0));
    assert_eq!(attempt.state, AttemptState::Intent);
    assert_eq!(
        effects,
        vec![
            Effect::Persist,
            Effect::SendCreate {
                key: IdempotencyKey::for_create(&attempt.order, attempt.number)
            }
        ]
    );
    attempt.check().unwrap();
}

#[test]
fn happy_path() {
    check(
        &[
            created(),
            register(RegisterOutcome::Accepted),
            AttemptEvent::ConfirmBegun,
            confirm(ChargeOutcome::Succeeded),
        ],
        "intent --create_answered--> created [persist, register]
         created --register_answered--> registered [persist]
         registered --confirm_begun--> confirm_sent [persist, confirm]
         confirm_sent --confirm_answered--> succeeded [persist, enqueue]",
    );
}

#[test]
fn confirm_outcomes() {
    let prefix = || {
        vec![
            created(),
            register(RegisterOutcome::Accepted),
            AttemptEvent::ConfirmBegun,
        ]
    };
    let head = "intent --create_answered--> created [persist, register]
                created --register_answered--> registered [persist]
                registered --confirm_begun--> confirm_sent [persist, confirm]";
    for (outcome, tail) in [
        (
            declined(),
            "confirm_sent --confirm_answered--> declined [persist, enqueue]",
        ),
        (
            ChargeOutcome::RequiresAction,
            "confirm_sent --confirm_answered--> requires_action [persist, enqueue]",
        ),
        (
            ChargeOutcome::Unknown,
            "confirm_sent --confirm_answered--> unknown [persist]",
        ),
        (
            ChargeOutcome::NotSent,
            "confirm_sent --confirm_answered--> confirm_sent [persist]",
        ),
    ] {
        let mut events = prefix();
        events.push(confirm(outcome));
        check(&events, &format!("{head}\n{tail}"));
    }
}

#[test]
fn create_outcomes() {
    check(
        &[create(CreateOutcome::Refused {
            reason: "resource_missing".into(),
        })],
        "intent --create_answered--> declined [persist, enqueue]",
    );
    check(
        &[
            create(CreateOutcome::Unknown),
            create(CreateOutcome::NotSent),
            created(),
        ],
        "intent --create_answered--> intent [persist]
         intent --create_answered--> intent [persist]
         intent --create_answered--> created [persist, register]",
    );
    check(
        &[AttemptEvent::CreateAbandoned],
        "intent --create_abandoned--> canceled [persist, enqueue]",
    );
}

#[test]
fn register_outcomes() {
    check(
        &[created(), register(RegisterOutcome::StaleClaim)],
        "intent --create_answered--> created [persist, register]
         created --register_answered--> canceled [persist, enqueue, cancel]",
    );
    let (a, _) = Attempt::begin(new_attempt(), Timestamp::from_unix_ms(T0));
    let (a, _) = step(&a, &created(), Timestamp::from_unix_ms(T0 + 1)).unwrap();
    let (a, _) = step(
        &a,
        &register(RegisterOutcome::AcceptedOffline),
        Timestamp::from_unix_ms(T0 + 2),
    )
    .unwrap();
    assert_eq!(a.state, AttemptState::Registered);
    assert!(a.offline, "an offline registration marks the attempt");
}

#[test]
fn unknown_is_resolved_only_by_gateway_evidence() {
    let prefix = vec![
        created(),
        register(RegisterOutcome::Accepted),
        AttemptEvent::ConfirmBegun,
        confirm(ChargeOutcome::Unknown),
    ];
    let head = "intent --create_answered--> created [persist, register]
                created --register_answered--> registered [persist]
                registered --confirm_begun--> confirm_sent [persist, confirm]
                confirm_sent --confirm_answered--> unknown [persist]";
    for (status, tail) in [
        (
            IntentStatus::Succeeded,
            "unknown --retrieved--> succeeded [persist, enqueue]",
        ),
        (
            IntentStatus::RequiresPaymentMethod {
                reason: "insufficient_funds".into(),
            },
            "unknown --retrieved--> declined [persist, enqueue]",
        ),
        (
            IntentStatus::RequiresAction,
            "unknown --retrieved--> requires_action [persist, enqueue]",
        ),
        (
            IntentStatus::Canceled,
            "unknown --retrieved--> canceled [persist, enqueue]",
        ),
        (
            IntentStatus::Processing,
            "unknown --retrieved--> unknown [persist]",
        ),
        // The confirm never executed: confirm the same intent again, after persisting the count.
        (
            IntentStatus::RequiresConfirmation,
            "unknown --retrieved--> unknown [persist, confirm]",
        ),
    ] {
        let mut events = prefix.clone();
        events.push(retrieved(status));
        check(&events, &format!("{head}\n{tail}"));
    }
}

/// Issue 9 changed this: escalation is bounded in time (the gateway's key window, counted from
/// the first confirm), no longer by a count of checks, so frequent recovery passes cannot send
/// an attempt to a manager in minutes.
#[test]
fn an_unknown_that_stays_unknown_goes_to_review_then_a_manager_resolves_it() {
    let mut events = vec![
        created(),
        register(RegisterOutcome::Accepted),
        AttemptEvent::ConfirmBegun,
    ];
    for _ in 0..50 {
        events.push(confirm(ChargeOutcome::Unknown));
    }
    let t = trace(&events);
    assert!(
        t.lines().last().unwrap() == "unknown --confirm_answered--> unknown [persist]",
        "fifty ambiguous answers are not a reason for a manager: {t}"
    );
    let mut a = run(&events);
    let policy = RecoveryPolicy::STRIPE;
    let since = a.confirm_sent_at.unwrap();
    let escalate = match next_action(&a, since.plus_ms(policy.review_after_ms()), &policy) {
        Action::Apply(e @ AttemptEvent::Escalated { .. }) => e,
        other => panic!("{other:?}"),
    };
    let at = since.plus_ms(policy.review_after_ms());
    let (next, effects) = step(&a, &escalate, at).unwrap();
    assert_eq!(next.state, AttemptState::NeedsReview);
    assert_eq!(
        effects,
        vec![
            Effect::Persist,
            Effect::EnqueueResult,
            Effect::FlagForReview
        ],
        "the central hears of the review"
    );
    a = next;
    assert!(
        step(&a, &confirm(ChargeOutcome::Succeeded), at).is_err(),
        "once under review, only a manager or a lookup decides"
    );
    let (done, effects) = step(&a, &resolved(Resolution::Succeeded), at).unwrap();
    assert_eq!(done.state, AttemptState::Succeeded);
    assert_eq!(effects, vec![Effect::Persist, Effect::EnqueueResult]);
}

/// Runs `events` from a fresh attempt; every one must be accepted.
fn run(events: &[AttemptEvent]) -> Attempt {
    let (mut a, _) = Attempt::begin(new_attempt(), Timestamp::from_unix_ms(T0));
    for (i, e) in events.iter().enumerate() {
        let now = Timestamp::from_unix_ms(T0 + 1000 * (i as i64 + 1));
        a = step(&a, e, now).unwrap_or_else(|r| panic!("{r}")).0;
    }
    a
}

#[test]
fn refused_transitions() {
    check(
        &[
            AttemptEvent::ConfirmBegun,
            confirm(ChargeOutcome::Succeeded),
            register(RegisterOutcome::Accepted),
            retrieved(IntentStatus::Succeeded),
            resolved(Resolution::Succeeded),
        ],
        "intent --confirm_begun--> REFUSED
         intent --confirm_answered--> REFUSED
         intent --register_answered--> REFUSED
         intent --retrieved--> REFUSED
         intent --resolved--> REFUSED",
    );
    // A confirm answer before the durable confirm-sent is refused: it cannot have happened.
    check(
        &[
            created(),
            register(RegisterOutcome::Accepted),
            confirm(ChargeOutcome::Succeeded),
            created(),
            AttemptEvent::CreateAbandoned,
        ],
        "intent --create_answered--> created [persist, register]
         created --register_answered--> registered [persist]
         registered --confirm_answered--> REFUSED
         registered --create_answered--> REFUSED
         registered --create_abandoned--> REFUSED",
    );
    // After a terminal state nothing moves.
    check(
        &[
            created(),
            register(RegisterOutcome::Accepted),
            AttemptEvent::ConfirmBegun,
            confirm(declined()),
            confirm(ChargeOutcome::Succeeded),
            retrieved(IntentStatus::Succeeded),
            escalated(),
            resolved(Resolution::Succeeded),
            AttemptEvent::ConfirmBegun,
        ],
        "intent --create_answered--> created [persist, register]
         created --register_answered--> registered [persist]
         registered --confirm_begun--> confirm_sent [persist, confirm]
         confirm_sent --confirm_answered--> declined [persist, enqueue]
         declined --confirm_answered--> REFUSED
         declined --retrieved--> REFUSED
         declined --escalated--> REFUSED
         declined --resolved--> REFUSED
         declined --confirm_begun--> REFUSED",
    );
}

#[test]
fn a_manager_cannot_mark_paid_what_was_never_confirmed() {
    check(
        &[
            created(),
            escalated(),
            resolved(Resolution::Succeeded),
            resolved(Resolution::Canceled),
        ],
        "intent --create_answered--> created [persist, register]
         created --escalated--> needs_review [persist, enqueue, review]
         needs_review --resolved--> REFUSED
         needs_review --resolved--> canceled [persist, enqueue]",
    );
}

#[test]
fn escalation_from_every_open_state() {
    check(
        &[escalated()],
        "intent --escalated--> needs_review [persist, enqueue, review]",
    );
    check(
        &[created(), escalated()],
        "intent --create_answered--> created [persist, register]
         created --escalated--> needs_review [persist, enqueue, review]",
    );
    check(
        &[
            created(),
            register(RegisterOutcome::Accepted),
            AttemptEvent::ConfirmBegun,
            escalated(),
            resolved(Resolution::Declined),
        ],
        "intent --create_answered--> created [persist, register]
         created --register_answered--> registered [persist]
         registered --confirm_begun--> confirm_sent [persist, confirm]
         confirm_sent --escalated--> needs_review [persist, enqueue, review]
         needs_review --resolved--> declined [persist, enqueue]",
    );
}

// ---------------------------------------------------------------------------------------------
// Recovery decisions.

/// Drives the attempt to `state` along the normal path.
fn attempt_in(state: AttemptState) -> Attempt {
    let path: Vec<AttemptEvent> = match state {
        AttemptState::Intent => vec![],
        AttemptState::Created => vec![created()],
        AttemptState::Registered => vec![created(), register(RegisterOutcome::Accepted)],
        AttemptState::ConfirmSent => vec![
            created(),
            register(RegisterOutcome::Accepted),
            AttemptEvent::ConfirmBegun,
        ],
        AttemptState::Unknown => vec![
            created(),
            register(RegisterOutcome::Accepted),
            AttemptEvent::ConfirmBegun,
            confirm(ChargeOutcome::Unknown),
        ],
        AttemptState::NeedsReview => vec![escalated()],
        AttemptState::Succeeded => vec![
            created(),
            register(RegisterOutcome::Accepted),
            AttemptEvent::ConfirmBegun,
            confirm(ChargeOutcome::Succeeded),
        ],
        AttemptState::Declined => vec![create(CreateOutcome::Refused { reason: "x".into() })],
        AttemptState::RequiresAction => vec![
            created(),
            register(RegisterOutcome::Accepted),
            AttemptEvent::ConfirmBegun,
            confirm(ChargeOutcome::RequiresAction),
        ],
        AttemptState::Canceled => vec![AttemptEvent::CreateAbandoned],
    };
    let (mut a, _) = Attempt::begin(new_attempt(), Timestamp::from_unix_ms(T0));
    for e in &path {
        a = step(&a, e, Timestamp::from_unix_ms(T0)).unwrap().0;
    }
    assert_eq!(a.state, state);
    a
}

fn action_name(a: &Action) -> String {
    match a {
        Action::Nothing => "nothing".into(),
        Action::ResendCreate { .. } => "resend_create".into(),
        Action::Apply(e) => format!("apply {}", e.kind()),
        Action::Register { .. } => "register".into(),
        Action::ResendConfirm { .. } => "resend_confirm".into(),
        Action::Retrieve { .. } => "retrieve".into(),
        Action::Search => "search".into(),
    }
}

#[test]
fn recovery_decision_for_every_state() {
    let policy = RecoveryPolicy::STRIPE;
    let soon = Timestamp::from_unix_ms(T0 + HOUR_MS);
    let late = Timestamp::from_unix_ms(T0 + 19 * HOUR_MS);
    let mut table = String::new();
    for state in AttemptState::ALL {
        let a = attempt_in(state);
        table += &format!(
            "{state}: {} / {}\n",
            action_name(&next_action(&a, soon, &policy)),
            action_name(&next_action(&a, late, &policy))
        );
    }
    assert_eq!(
        table,
        "intent: resend_create / apply create_abandoned
created: register / register
registered: apply confirm_begun / apply confirm_begun
confirm_sent: resend_confirm / retrieve
unknown: retrieve / retrieve
needs_review: nothing / nothing
succeeded: nothing / nothing
declined: nothing / nothing
requires_action: nothing / nothing
canceled: nothing / nothing
"
    );
}

#[test]
fn recovery_reuses_the_attempts_own_keys() {
    let policy = RecoveryPolicy::STRIPE;
    let now = Timestamp::from_unix_ms(T0 + 1);
    let a = attempt_in(AttemptState::Intent);
    assert_eq!(
        next_action(&a, now, &policy),
        Action::ResendCreate {
            key: IdempotencyKey::for_create(&a.order, a.number)
        }
    );
    let a = attempt_in(AttemptState::ConfirmSent);
    assert_eq!(
        next_action(&a, now, &policy),
        Action::ResendConfirm {
            intent: pi(),
            key: IdempotencyKey::for_confirm(&pi())
        }
    );
}

#[test]
fn a_record_without_its_intent_id_goes_to_review() {
    let mut a = attempt_in(AttemptState::ConfirmSent);
    a.intent_id = None;
    assert!(a.check().is_err(), "the record check catches it first");
    let action = next_action(&a, Timestamp::from_unix_ms(T0), &RecoveryPolicy::STRIPE);
    assert!(matches!(
        action,
        Action::Apply(AttemptEvent::Escalated { .. })
    ));
}

// ---------------------------------------------------------------------------------------------
// Issue 9: stored errors, outages, review, takeover (in `state_machine/issue9.rs`).

#[path = "state_machine/issue9.rs"]
mod issue9;

fn searched(found: Option<GatewayIntentId>) -> AttemptEvent {
    AttemptEvent::CreateSearched { found }
}

// ---------------------------------------------------------------------------------------------
// Properties over random event sequences.

fn any_event() -> impl Strategy<Value = AttemptEvent> {
    let reason = prop_oneof![Just("card_declined".to_string()), Just("x".to_string())];
    prop_oneof![
        Just(created()),
        reason
            .clone()
            .prop_map(|reason| create(CreateOutcome::Refused { reason })),
        Just(create(CreateOutcome::NotSent)),
        Just(create(CreateOutcome::Unknown)),
        Just(register(RegisterOutcome::Accepted)),
        Just(register(RegisterOutcome::AcceptedOffline)),
        Just(register(RegisterOutcome::StaleClaim)),
        Just(AttemptEvent::ConfirmBegun),
        Just(confirm(ChargeOutcome::Succeeded)),
        Just(confirm(declined())),
        Just(confirm(ChargeOutcome::RequiresAction)),
        Just(confirm(ChargeOutcome::NotSent)),
        Just(confirm(ChargeOutcome::Unknown)),
        Just(retrieved(IntentStatus::Succeeded)),
        Just(retrieved(IntentStatus::RequiresConfirmation)),
        reason.prop_map(|reason| retrieved(IntentStatus::RequiresPaymentMethod { reason })),
        Just(retrieved(IntentStatus::RequiresAction)),
        Just(retrieved(IntentStatus::Processing)),
        Just(retrieved(IntentStatus::Canceled)),
        Just(AttemptEvent::CreateAbandoned),
        Just(escalated()),
        Just(searched(None)),
        Just(searched(Some(pi()))),
        Just(AttemptEvent::TakeoverCancel {
            previous: GatewayIntentId::new("pi_prev").unwrap()
        }),
        Just(AttemptEvent::Withdrawn {
            reason: "takeover stopped".into()
        }),
        Just(resolved(Resolution::Succeeded)),
        Just(resolved(Resolution::Declined)),
        Just(resolved(Resolution::Canceled)),
    ]
}

/// Is `event` gateway (or manager) evidence that the payment did not go through?
fn evidence_of_no_charge(event: &AttemptEvent) -> bool {
    matches!(
        event,
        AttemptEvent::ConfirmAnswered(ChargeOutcome::Declined { .. })
            | AttemptEvent::ConfirmAnswered(ChargeOutcome::RequiresAction)
            | AttemptEvent::Retrieved(IntentStatus::RequiresPaymentMethod { .. })
            | AttemptEvent::Retrieved(IntentStatus::RequiresAction)
            | AttemptEvent::Retrieved(IntentStatus::Canceled)
            | AttemptEvent::Resolved { .. }
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    /// A state never moves backwards; refused events change nothing; every written record passes
    /// its own check.
    #[test]
    fn never_backwards(events in proptest::collection::vec(any_event(), 0..40)) {
        let (mut a, _) = Attempt::begin(new_attempt(), Timestamp::from_unix_ms(T0));
        for (i, e) in events.iter().enumerate() {
            if let Ok((next, _)) = step(&a, e, Timestamp::from_unix_ms(T0 + i as i64)) {
                prop_assert!(next.state.rank() >= a.state.rank(), "{:?} -> {:?}", a.state, next.state);
                prop_assert!(next.updated_at >= a.updated_at);
                prop_assert!(next.create_retry >= a.create_retry && next.confirm_retry >= a.confirm_retry, "a key number never goes back");
                let not_sent = matches!(e, AttemptEvent::CreateAnswered(CreateOutcome::NotSent) | AttemptEvent::ConfirmAnswered(ChargeOutcome::NotSent));
                if not_sent {
                    prop_assert_eq!(next.unknown_checks, a.unknown_checks, "a request never sent is not counted");
                }
                prop_assert!(next.check().is_ok(), "{:?}", next.check());
                if a.intent_id.is_some() {
                    prop_assert_eq!(&next.intent_id, &a.intent_id, "the intent id never changes");
                }
                a = next;
            }
        }
    }

    /// Every gateway request is preceded by a durable record: `Persist` comes first in the same
    /// list. A confirm is only ever sent from a durable confirm-sent (or unknown) record, with the
    /// key that record names. A step emits a create only after a search found nothing, with the
    /// fresh numbered key its record names; otherwise only `Attempt::begin` and recovery's
    /// re-send do.
    #[test]
    fn durable_before_any_gateway_request(events in proptest::collection::vec(any_event(), 0..40)) {
        let (mut a, _) = Attempt::begin(new_attempt(), Timestamp::from_unix_ms(T0));
        for (i, e) in events.iter().enumerate() {
            if let Ok((next, effects)) = step(&a, e, Timestamp::from_unix_ms(T0 + i as i64)) {
                for (pos, effect) in effects.iter().enumerate() {
                    if effect.is_gateway_call() {
                        prop_assert!(effects[..pos].contains(&Effect::Persist), "{effects:?}");
                    }
                    if let Effect::SendCreate { key } = effect {
                        prop_assert_eq!(e, &searched(None), "a step emitted a create request");
                        prop_assert_eq!(next.create_retry, a.create_retry + 1);
                        prop_assert_eq!(key, &next.current_create_key());
                        prop_assert!(key != &a.current_create_key(), "the spent key is not re-used");
                    }
                    if let Effect::SendConfirm { intent, key } = effect {
                        prop_assert!(matches!(next.state, AttemptState::ConfirmSent | AttemptState::Unknown));
                        prop_assert!(next.confirm_sent_at.is_some());
                        prop_assert_eq!(Some(intent), next.intent_id.as_ref());
                        prop_assert_eq!(Some(key.clone()), next.confirm_key());
                    }
                }
                a = next;
            }
        }
    }

    /// Every accepted step starts with `Persist`; every step into a terminal state, or into a
    /// manager's review, enqueues the result exactly once (the journal keeps one outbox message
    /// per attempt: a final result replaces a review one).
    #[test]
    fn terminal_steps_enqueue_exactly_once(events in proptest::collection::vec(any_event(), 0..40)) {
        let (mut a, _) = Attempt::begin(new_attempt(), Timestamp::from_unix_ms(T0));
        for (i, e) in events.iter().enumerate() {
            if let Ok((next, effects)) = step(&a, e, Timestamp::from_unix_ms(T0 + i as i64)) {
                prop_assert_eq!(effects.first(), Some(&Effect::Persist));
                let enqueues = effects.iter().filter(|x| **x == Effect::EnqueueResult).count();
                let into_review = next.state == AttemptState::NeedsReview && a.state != AttemptState::NeedsReview;
                let expected = usize::from(next.state.is_terminal() || into_review);
                prop_assert_eq!(enqueues, expected, "{:?} -> {:?}: {:?}", a.state, next.state, effects);
                a = next;
            }
        }
    }

    /// Once money may have moved, the attempt reaches declined, canceled or requires-action only on
    /// gateway or manager evidence: an unknown never becomes "failed".
    #[test]
    fn unknown_never_becomes_failed(events in proptest::collection::vec(any_event(), 0..40)) {
        let (mut a, _) = Attempt::begin(new_attempt(), Timestamp::from_unix_ms(T0));
        for (i, e) in events.iter().enumerate() {
            if let Ok((next, _)) = step(&a, e, Timestamp::from_unix_ms(T0 + i as i64)) {
                if a.state.may_have_charged() && next.state.is_terminal() && next.state != AttemptState::Succeeded {
                    prop_assert!(evidence_of_no_charge(e), "{:?} --{:?}--> {:?}", a.state, e, next.state);
                }
                a = next;
            }
        }
    }

    /// Nothing stuck (I4 in the core): driving recovery with any gateway answers, one action per
    /// recovery pass, reaches a terminal state or a manager's queue within the time bound (the
    /// key window) plus a few actions. Answers that never arrive (an outage) are not events.
    #[test]
    fn recovery_always_terminates(
        answers in proptest::collection::vec(any_event(), 120),
        hours in 0i64..30,
        pass_minutes in 5i64..60,
    ) {
        // The desktop runs a recovery pass every 30 s; longer random intervals test the same
        // time rules in fewer steps.
        let pass_ms = pass_minutes * 60_000;
        let policy = RecoveryPolicy::STRIPE;
        let (mut a, _) = Attempt::begin(new_attempt(), Timestamp::from_unix_ms(T0));
        // Each request kind has at least three possible answers among the 24 event shapes, so 120
        // random answers hold one of each kind except with negligible probability; the cycle
        // reuses them.
        prop_assume!(answers.iter().any(|e| matches!(e, AttemptEvent::CreateAnswered(_))));
        prop_assume!(answers.iter().any(|e| matches!(e, AttemptEvent::RegisterAnswered(_))));
        prop_assume!(answers.iter().any(|e| matches!(e, AttemptEvent::ConfirmAnswered(_))));
        prop_assume!(answers.iter().any(|e| matches!(e, AttemptEvent::Retrieved(_))));
        prop_assume!(answers.iter().any(|e| matches!(e, AttemptEvent::CreateSearched { .. })));
        // The answers are used in a cycle, each request taking the next one of its kind.
        let mut at = 0usize;
        let mut answer = |kind: fn(&AttemptEvent) -> bool| loop {
            let e = &answers[at % answers.len()];
            at += 1;
            if kind(e) {
                return e.clone();
            }
        };
        let mut steps = 0;
        let steps_max = policy.review_after_ms() / pass_ms + 10;
        loop {
            if a.state == AttemptState::NeedsReview {
                break;
            }
            let now = Timestamp::from_unix_ms(T0 + hours * HOUR_MS + steps * pass_ms);
            let event = match next_action(&a, now, &policy) {
                Action::Nothing => break,
                Action::Apply(e) => e,
                // Any answer of the right kind for the request that was made.
                Action::ResendCreate { .. } => answer(|e| matches!(e, AttemptEvent::CreateAnswered(_))),
                Action::Register { .. } => answer(|e| matches!(e, AttemptEvent::RegisterAnswered(_))),
                Action::ResendConfirm { .. } => answer(|e| matches!(e, AttemptEvent::ConfirmAnswered(_))),
                Action::Retrieve { .. } => answer(|e| matches!(e, AttemptEvent::Retrieved(_))),
                Action::Search => answer(|e| matches!(e, AttemptEvent::CreateSearched { .. })),
            };
            a = step(&a, &event, now).expect("recovery only proposes allowed events").0;
            steps += 1;
            prop_assert!(steps <= steps_max, "stuck in {:?}", a.state);
        }
        prop_assert!(a.state.is_terminal() || a.state == AttemptState::NeedsReview);
    }
}

//! Issue 9's transitions: a fresh numbered key only on gateway evidence (a lookup showing the
//! intent still confirmable, a search finding no intent), requests never sent not counted,
//! escalation bounded in time, evidence settling a review, and the takeover's journaled cancel.
//! Deliberately absent: the properties (in `state_machine.rs`, which they share helpers with).

use super::*;

const TO_CONFIRM_SENT: &str = "intent --create_answered--> created [persist, register]
     created --register_answered--> registered [persist]
     registered --confirm_begun--> confirm_sent [persist, confirm]";

#[test]
fn a_confirmable_intent_is_confirmed_again_with_a_fresh_numbered_key() {
    let mut events = vec![
        created(),
        register(RegisterOutcome::Accepted),
        AttemptEvent::ConfirmBegun,
        confirm(ChargeOutcome::Unknown),
        retrieved(IntentStatus::RequiresConfirmation),
    ];
    check(
        &events,
        &format!(
            "{TO_CONFIRM_SENT}
             confirm_sent --confirm_answered--> unknown [persist]
             unknown --retrieved--> unknown [persist, confirm]"
        ),
    );
    let a = run(&events);
    assert_eq!(a.confirm_retry, 1);
    assert_eq!(
        a.confirm_key().unwrap().as_str(),
        "paydesk:confirm:pi_1:1",
        "the key the step sent is the record's key in use"
    );
    // Each lookup that shows it still confirmable takes the next number; the step names it.
    events.push(confirm(ChargeOutcome::Unknown));
    events.push(retrieved(IntentStatus::RequiresConfirmation));
    let a2 = run(&events[..events.len() - 1]);
    let (b, effects) = step(
        &a2,
        &retrieved(IntentStatus::RequiresConfirmation),
        Timestamp::from_unix_ms(T0 + 10_000),
    )
    .unwrap();
    assert_eq!(b.confirm_retry, 2);
    assert_eq!(
        effects,
        vec![
            Effect::Persist,
            Effect::SendConfirm {
                intent: pi(),
                key: IdempotencyKey::for_confirm_retry(&pi(), 2)
            }
        ]
    );
    // A lookup in confirm_sent (after a crash, past the re-send window) does the same, and a
    // restart re-sends the numbered key the record names, not the spent one.
    let mut c = attempt_in(AttemptState::ConfirmSent);
    c = step(
        &c,
        &retrieved(IntentStatus::RequiresConfirmation),
        Timestamp::from_unix_ms(T0 + 1),
    )
    .unwrap()
    .0;
    assert_eq!(c.state, AttemptState::ConfirmSent);
    assert_eq!(
        next_action(&c, Timestamp::from_unix_ms(T0 + 2), &RecoveryPolicy::STRIPE),
        Action::ResendConfirm {
            intent: pi(),
            key: IdempotencyKey::for_confirm_retry(&pi(), 1)
        }
    );
}

#[test]
fn a_create_with_a_stored_error_searches_then_takes_a_fresh_numbered_key() {
    check(
        &[
            create(CreateOutcome::Unknown),
            searched(None),
            create(CreateOutcome::Unknown),
            searched(None),
            create(CreateOutcome::Unknown),
            create(CreateOutcome::Unknown),
            searched(Some(pi())),
        ],
        "intent --create_answered--> intent [persist]
         intent --create_searched--> REFUSED
         intent --create_answered--> intent [persist, search]
         intent --create_searched--> intent [persist, create]
         intent --create_answered--> intent [persist]
         intent --create_answered--> intent [persist, search]
         intent --create_searched--> created [persist, register]",
    );
    let policy = RecoveryPolicy::STRIPE;
    let now = Timestamp::from_unix_ms(T0 + HOUR_MS);
    let once = run(&[create(CreateOutcome::Unknown)]);
    assert!(
        matches!(next_action(&once, now, &policy), Action::ResendCreate { key } if key == once.create_key),
        "one ambiguous answer: re-send the same key (a lost response is replayed)"
    );
    let twice = run(&[
        create(CreateOutcome::Unknown),
        create(CreateOutcome::Unknown),
    ]);
    assert_eq!(next_action(&twice, now, &policy), Action::Search);
    let (fresh, effects) = step(&twice, &searched(None), now).unwrap();
    let key = IdempotencyKey::for_create_retry(&fresh.order, fresh.number, 1);
    assert_eq!(fresh.create_retry, 1);
    assert_eq!(
        fresh.create_key, twice.create_key,
        "the journaled key stays"
    );
    assert_eq!(
        effects,
        vec![Effect::Persist, Effect::SendCreate { key: key.clone() }]
    );
    // A crash before the fresh create was answered: recovery re-sends that same numbered key.
    assert_eq!(
        next_action(&fresh, now, &policy),
        Action::ResendCreate { key }
    );
    // Past the key window the attempt ends as before, whatever the key number.
    assert_eq!(
        next_action(&fresh, Timestamp::from_unix_ms(T0 + 19 * HOUR_MS), &policy),
        Action::Apply(AttemptEvent::CreateAbandoned)
    );
}

#[test]
fn a_request_never_sent_does_not_count_and_an_outage_never_escalates() {
    let policy = RecoveryPolicy::STRIPE;
    let mut events = vec![create(CreateOutcome::NotSent); 30];
    let a = run(&events);
    assert_eq!(a.unknown_checks, 0);
    assert!(matches!(
        next_action(&a, Timestamp::from_unix_ms(T0 + HOUR_MS), &policy),
        Action::ResendCreate { .. }
    ));
    events = vec![
        created(),
        register(RegisterOutcome::Accepted),
        AttemptEvent::ConfirmBegun,
    ];
    events.extend(vec![confirm(ChargeOutcome::NotSent); 30]);
    let a = run(&events);
    assert_eq!((a.state, a.unknown_checks), (AttemptState::ConfirmSent, 0));
    // Days later, still only "not sent": look it up, never hand it to a manager.
    for hours in [1, 19, 30, 24 * 7] {
        let action = next_action(&a, Timestamp::from_unix_ms(T0 + hours * HOUR_MS), &policy);
        assert!(
            matches!(
                action,
                Action::ResendConfirm { .. } | Action::Retrieve { .. }
            ),
            "{hours} h: {action:?}"
        );
    }
}

#[test]
fn escalation_comes_only_after_the_time_bound() {
    let policy = RecoveryPolicy::STRIPE;
    let a = attempt_in(AttemptState::Unknown);
    let since = a.confirm_sent_at.unwrap();
    assert_eq!(policy.review_after_ms(), policy.key_window_ms);
    for (after_ms, escalates) in [
        (0, false),
        (HOUR_MS, false),
        (policy.review_after_ms() - 1, false),
        (policy.review_after_ms(), true),
        (3 * policy.review_after_ms(), true),
    ] {
        let action = next_action(&a, since.plus_ms(after_ms), &policy);
        assert_eq!(
            matches!(action, Action::Apply(AttemptEvent::Escalated { .. })),
            escalates,
            "{after_ms} ms after the confirm: {action:?}"
        );
    }
}

#[test]
fn evidence_settles_an_attempt_under_review_without_a_manager() {
    let mut events = vec![
        created(),
        register(RegisterOutcome::Accepted),
        AttemptEvent::ConfirmBegun,
        confirm(ChargeOutcome::Unknown),
        escalated(),
    ];
    let review = run(&events);
    assert_eq!(
        next_action(
            &review,
            Timestamp::from_unix_ms(T0),
            &RecoveryPolicy::STRIPE
        ),
        Action::Retrieve { intent: pi() }
    );
    for (status, tail) in [
        (
            IntentStatus::Succeeded,
            "needs_review --retrieved--> succeeded [persist, enqueue]",
        ),
        (
            IntentStatus::Canceled,
            "needs_review --retrieved--> canceled [persist, enqueue]",
        ),
        (
            IntentStatus::RequiresPaymentMethod { reason: "x".into() },
            "needs_review --retrieved--> declined [persist, enqueue]",
        ),
        (
            IntentStatus::RequiresConfirmation,
            "needs_review --retrieved--> REFUSED",
        ),
        (
            IntentStatus::Processing,
            "needs_review --retrieved--> REFUSED",
        ),
    ] {
        let mut all = events.clone();
        all.push(retrieved(status));
        check(
            &all,
            &format!(
                "{TO_CONFIRM_SENT}
                 confirm_sent --confirm_answered--> unknown [persist]
                 unknown --escalated--> needs_review [persist, enqueue, review]
                 {tail}"
            ),
        );
    }
    // Never confirmed: a success is not believed (no phantom, I3); no intent: nothing to ask.
    events = vec![created(), escalated(), retrieved(IntentStatus::Succeeded)];
    check(
        &events,
        "intent --create_answered--> created [persist, register]
         created --escalated--> needs_review [persist, enqueue, review]
         needs_review --retrieved--> REFUSED",
    );
    assert_eq!(
        next_action(
            &attempt_in(AttemptState::NeedsReview),
            Timestamp::from_unix_ms(T0),
            &RecoveryPolicy::STRIPE
        ),
        Action::Nothing
    );
}

#[test]
fn a_takeover_journals_its_cancel_before_sending_it() {
    let previous = GatewayIntentId::new("pi_prev").unwrap();
    let cancel = AttemptEvent::TakeoverCancel {
        previous: previous.clone(),
    };
    let (a, _) = Attempt::begin(new_attempt(), Timestamp::from_unix_ms(T0));
    let (b, effects) = step(&a, &cancel, Timestamp::from_unix_ms(T0 + 1)).unwrap();
    assert_eq!(b.state, AttemptState::Intent);
    assert_eq!(
        effects,
        vec![
            Effect::Persist,
            Effect::Cancel {
                intent: previous.clone(),
                key: IdempotencyKey::for_cancel(&previous)
            }
        ]
    );
    let withdrawn = AttemptEvent::Withdrawn {
        reason: "the previous intent succeeded".into(),
    };
    check(
        &[cancel.clone(), withdrawn.clone(), cancel.clone()],
        "intent --takeover_cancel--> intent [persist, cancel]
         intent --withdrawn--> canceled [persist, enqueue]
         canceled --takeover_cancel--> REFUSED",
    );
    // Only before anything of this attempt went out; never once money may have moved.
    check(
        &[create(CreateOutcome::Unknown), cancel],
        "intent --create_answered--> intent [persist]
         intent --takeover_cancel--> REFUSED",
    );
    check(
        &[
            created(),
            register(RegisterOutcome::Accepted),
            AttemptEvent::ConfirmBegun,
            withdrawn,
        ],
        &format!("{TO_CONFIRM_SENT}\nconfirm_sent --withdrawn--> REFUSED"),
    );
}

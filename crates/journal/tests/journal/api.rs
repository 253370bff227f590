//! The attempt API: begin, apply, read back, filters, totals, unresolved, and the rule that a
//! state change, its event and its result message are written together or not at all.

use paydesk_core::{
    AttemptEvent, AttemptState, ChargeOutcome, CreateOutcome, Effect, GatewayIntentId, OperatorId,
    OrderId, Resolution,
};
use paydesk_journal::{AttemptFilter, Journal, JournalError, ResultMessage, SCHEMA_VERSION};

use crate::*;

#[test]
fn a_new_journal_is_empty_verified_and_at_the_genesis_head() {
    let f = fixture();
    assert_eq!(f.journal.head().unwrap(), (0, "0".repeat(64)));
    let report = f.journal.verify().unwrap();
    assert!(report.is_intact(), "{report:?}");
    assert_eq!((report.events, report.attempts, report.head), (0, 0, None));
    drop(f.journal);

    let raw = raw(&f.path);
    let mode: String = raw
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    let version: i64 = raw
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    assert_eq!(version, SCHEMA_VERSION);
}

#[test]
fn begin_attempt_is_durable_before_it_returns() {
    let mut f = fixture();
    let new = new_attempt("order-1", "alice", 1234, "EUR", T0, 1);
    let id = new.id;
    let (attempt, effects) = f.journal.begin_attempt(new, ts(T0)).unwrap();
    assert_eq!(attempt.state, AttemptState::Intent);
    assert_eq!(effects[0], Effect::Persist);
    assert!(matches!(effects[1], Effect::SendCreate { .. }));

    // Read back through a fresh open: the record is on disk, not only in this connection.
    drop(f.journal);
    let journal = Journal::open(&f.path).unwrap();
    assert_eq!(journal.attempt(&id).unwrap(), Some(attempt));
    let timeline = journal.timeline(&id).unwrap();
    assert_eq!(timeline.len(), 1);
    assert_eq!(timeline[0].kind, "begun");
    assert_eq!(timeline[0].from_state, None);
    assert_eq!(timeline[0].to_state, AttemptState::Intent);
    assert_eq!(timeline[0].detail["order"], "order-1");
    assert_eq!(journal.head().unwrap(), (1, timeline[0].hash.clone()));
}

#[test]
fn the_same_attempt_cannot_begin_twice() {
    let mut f = fixture();
    let new = new_attempt("order-1", "alice", 1234, "EUR", T0, 1);
    f.journal.begin_attempt(new.clone(), ts(T0)).unwrap();
    let head = f.journal.head().unwrap();
    let err = f
        .journal
        .begin_attempt(new.clone(), ts(T0 + 5))
        .unwrap_err();
    assert!(matches!(err, JournalError::Duplicate { .. }), "{err}");

    // Another id with the same order and attempt number would share the create key.
    let mut same_number = new_attempt("order-1", "bob", 1234, "EUR", T0, 2);
    same_number.number = new.number;
    let err = f
        .journal
        .begin_attempt(same_number, ts(T0 + 6))
        .unwrap_err();
    assert!(matches!(err, JournalError::Duplicate { .. }), "{err}");
    assert_eq!(f.journal.head().unwrap(), head, "nothing was written");
}

#[test]
fn a_charge_runs_to_success_with_one_event_per_step_and_one_result() {
    let mut f = fixture();
    let new = new_attempt("order-1", "alice", 1234, "EUR", T0, 1);
    let id = new.id;
    f.journal.begin_attempt(new, ts(T0)).unwrap();

    let steps = [
        (created("pi_1"), AttemptState::Created),
        (registered(), AttemptState::Registered),
        (AttemptEvent::ConfirmBegun, AttemptState::ConfirmSent),
        (succeeded(), AttemptState::Succeeded),
    ];
    for (i, (event, expected)) in steps.iter().enumerate() {
        let (attempt, effects) = f
            .journal
            .apply(&id, event, ts(T0 + 10 * (i as i64 + 1)))
            .unwrap();
        assert_eq!(attempt.state, *expected);
        assert_eq!(f.journal.attempt(&id).unwrap().unwrap(), attempt);
        let terminal = *expected == AttemptState::Succeeded;
        assert_eq!(effects.contains(&Effect::EnqueueResult), terminal);
        // The outbox holds the result exactly from the moment the terminal state is written.
        assert_eq!(
            f.journal.outbox_stats(ts(T0 + 100)).unwrap().depth,
            i64::from(terminal)
        );
    }

    let timeline = f.journal.timeline(&id).unwrap();
    let kinds: Vec<_> = timeline.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "begun",
            "create_answered",
            "register_answered",
            "confirm_begun",
            "confirm_answered"
        ]
    );
    for pair in timeline.windows(2) {
        assert_eq!(pair[1].from_state, Some(pair[0].to_state));
        assert_eq!(pair[1].seq, pair[0].seq + 1);
    }
    assert_eq!(timeline[3].detail["event"]["event"], "confirm_begun");

    let due = f.journal.outbox_due(ts(T0 + 100), 10).unwrap();
    assert_eq!(due.len(), 1);
    let message: ResultMessage = serde_json::from_value(due[0].payload.clone()).unwrap();
    assert_eq!(message.attempt_id, id);
    assert_eq!(message.state, AttemptState::Succeeded);
    assert_eq!(message.amount.minor(), 1234);
    assert_eq!(message.intent_id.as_ref().map(|i| i.as_str()), Some("pi_1"));
    assert_eq!(
        (message.event_seq, &message.event_hash),
        (5, &timeline[4].hash)
    );

    let report = f.journal.verify().unwrap();
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(report.head, Some(timeline[4].hash.clone()));
}

#[test]
fn a_refused_event_writes_nothing() {
    let mut f = fixture();
    let id = run(
        &mut f.journal,
        new_attempt("order-1", "alice", 500, "EUR", T0, 1),
        T0,
        &[],
    );
    let before = (f.journal.head().unwrap(), f.journal.attempt(&id).unwrap());

    let err = f.journal.apply(&id, &succeeded(), ts(T0 + 10)).unwrap_err();
    match &err {
        JournalError::Refused(r) => {
            assert_eq!(r.state, AttemptState::Intent);
            assert_eq!(r.event, "confirm_answered");
        }
        other => panic!("expected Refused, got {other}"),
    }
    assert!(err.to_string().contains("nothing was written"), "{err}");
    assert_eq!(
        (f.journal.head().unwrap(), f.journal.attempt(&id).unwrap()),
        before
    );
}

#[test]
fn an_unknown_attempt_is_not_found() {
    let mut f = fixture();
    let id = attempt_id(T0, 99);
    assert_eq!(f.journal.attempt(&id).unwrap(), None);
    let err = f.journal.apply(&id, &registered(), ts(T0)).unwrap_err();
    assert!(matches!(err, JournalError::NotFound { .. }), "{err}");
    let err = f.journal.timeline(&id).unwrap_err();
    assert!(matches!(err, JournalError::NotFound { .. }), "{err}");
}

#[test]
fn a_create_refused_by_the_gateway_ends_declined_with_a_result() {
    let mut f = fixture();
    let refused = AttemptEvent::CreateAnswered(CreateOutcome::Refused {
        reason: "card_declined".into(),
    });
    let id = run(
        &mut f.journal,
        new_attempt("order-1", "alice", 500, "EUR", T0, 1),
        T0,
        &[refused],
    );
    let attempt = f.journal.attempt(&id).unwrap().unwrap();
    assert_eq!(attempt.state, AttemptState::Declined);
    assert_eq!(attempt.reason.as_deref(), Some("card_declined"));
    assert_eq!(f.journal.outbox_stats(ts(T0)).unwrap().depth, 1);
    assert!(f.journal.verify().unwrap().is_intact());
}

#[test]
fn an_oversized_detail_is_refused_and_nothing_is_written() {
    let mut f = fixture();
    let escalate = AttemptEvent::Escalated {
        reason: "gateway unreachable".into(),
    };
    let id = run(
        &mut f.journal,
        new_attempt("order-1", "alice", 500, "EUR", T0, 1),
        T0,
        &[escalate],
    );
    let before = f.journal.head().unwrap();
    let resolve = AttemptEvent::Resolved {
        resolution: Resolution::Declined,
        evidence: "x".repeat(paydesk_journal::DETAIL_BYTES_MAX + 1),
        by: OperatorId::new("manager-1").unwrap(),
    };
    let err = f.journal.apply(&id, &resolve, ts(T0 + 50)).unwrap_err();
    assert!(matches!(err, JournalError::InvalidArgument(_)), "{err}");
    assert_eq!(f.journal.head().unwrap(), before);
    assert_eq!(
        f.journal.attempt(&id).unwrap().unwrap().state,
        AttemptState::NeedsReview
    );
    // Issue 9: the escalation enqueued a `needs_review` result; the refused step added nothing.
    assert_eq!(f.journal.outbox_stats(ts(T0)).unwrap().depth, 1);
    assert!(f.journal.verify().unwrap().is_intact());
}

/// Five attempts over two days, two operators, two orders and three outcomes.
fn populated() -> (Fixture, Vec<paydesk_core::AttemptId>) {
    let mut f = fixture();
    let ok = to_confirm_sent("pi_a")
        .into_iter()
        .chain([succeeded()])
        .collect::<Vec<_>>();
    let no = to_confirm_sent("pi_b")
        .into_iter()
        .chain([declined("insufficient_funds")])
        .collect::<Vec<_>>();
    let ids = vec![
        run(
            &mut f.journal,
            new_attempt("order-1", "alice", 1000, "EUR", T0, 1),
            T0,
            &ok,
        ),
        run(
            &mut f.journal,
            new_attempt("order-2", "alice", 250, "EUR", T0 + 1_000, 2),
            T0 + 1_000,
            &no,
        ),
        run(
            &mut f.journal,
            new_attempt("order-3", "bob", 700, "EUR", T0 + 2_000, 3),
            T0 + 2_000,
            &[created("pi_c")],
        ),
        run(
            &mut f.journal,
            new_attempt("order-4", "alice", 300, "JPY", T0 + DAY_MS, 4),
            T0 + DAY_MS,
            &ok,
        ),
        run(
            &mut f.journal,
            new_attempt("order-5", "alice", 2000, "EUR", T0 + DAY_MS + 1, 5),
            T0 + DAY_MS + 1,
            &ok,
        ),
    ];
    (f, ids)
}

#[test]
fn filters_narrow_the_list_and_the_newest_comes_first() {
    let (f, ids) = populated();
    let list = |filter: AttemptFilter| -> Vec<_> {
        f.journal
            .attempts(&filter)
            .unwrap()
            .into_iter()
            .map(|a| a.id)
            .collect()
    };
    assert_eq!(
        list(AttemptFilter::default()),
        [ids[4], ids[3], ids[2], ids[1], ids[0]]
    );
    assert_eq!(
        list(AttemptFilter {
            state: Some(AttemptState::Succeeded),
            ..Default::default()
        }),
        [ids[4], ids[3], ids[0]]
    );
    assert_eq!(
        list(AttemptFilter {
            operator: Some(OperatorId::new("bob").unwrap()),
            ..Default::default()
        }),
        [ids[2]]
    );
    assert_eq!(
        list(AttemptFilter {
            order: Some(OrderId::new("order-2").unwrap()),
            ..Default::default()
        }),
        [ids[1]]
    );
    // `from` is inclusive, `to` exclusive.
    assert_eq!(
        list(AttemptFilter {
            from: Some(ts(T0 + 1_000)),
            to: Some(ts(T0 + DAY_MS)),
            ..Default::default()
        }),
        [ids[2], ids[1]]
    );
    assert_eq!(
        list(AttemptFilter {
            operator: Some(OperatorId::new("alice").unwrap()),
            state: Some(AttemptState::Succeeded),
            limit: Some(2),
            ..Default::default()
        }),
        [ids[4], ids[3]]
    );
    assert!(list(AttemptFilter {
        limit: Some(0),
        ..Default::default()
    })
    .is_empty());
}

#[test]
fn totals_count_per_operator_day_and_currency() {
    let (f, _) = populated();
    let totals = f
        .journal
        .totals(ts(T0 - DAY_MS), ts(T0 + 2 * DAY_MS))
        .unwrap();
    let rows: Vec<_> = totals
        .iter()
        .map(|t| {
            (
                t.operator.as_str(),
                t.day.as_str(),
                t.currency.code(),
                t.attempts,
                t.succeeded,
                t.succeeded_sum.minor(),
                t.declined,
                t.unresolved,
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("alice", "2026-11-22", "EUR", 2, 1, 1000, 1, 0),
            ("bob", "2026-11-22", "EUR", 1, 0, 0, 0, 1),
            ("alice", "2026-11-23", "EUR", 1, 1, 2000, 0, 0),
            ("alice", "2026-11-23", "JPY", 1, 1, 300, 0, 0),
        ]
    );
    assert_eq!(totals[3].succeeded_sum.currency().code(), "JPY");

    // The range is half-open and applies to the day the attempt began.
    let first_day = f.journal.totals(ts(T0), ts(T0 + DAY_MS)).unwrap();
    assert_eq!(first_day.len(), 2);
    assert!(f
        .journal
        .totals(ts(T0 + 10 * DAY_MS), ts(T0 + 11 * DAY_MS))
        .unwrap()
        .is_empty());
    let err = f.journal.totals(ts(T0), ts(T0 - 1)).unwrap_err();
    assert!(matches!(err, JournalError::InvalidArgument(_)), "{err}");
}

#[test]
fn unresolved_lists_unfinished_and_review_attempts_oldest_first() {
    let (mut f, ids) = populated();
    let escalate = AttemptEvent::Escalated {
        reason: "no answer".into(),
    };
    let review = run(
        &mut f.journal,
        new_attempt("order-6", "bob", 10, "EUR", T0 + 3_000, 6),
        T0 + 3_000,
        &[escalate],
    );
    let unknown = run(
        &mut f.journal,
        new_attempt("order-7", "bob", 10, "EUR", T0 + 4_000, 7),
        T0 + 4_000,
        &[
            created("pi_7"),
            registered(),
            AttemptEvent::ConfirmBegun,
            AttemptEvent::ConfirmAnswered(ChargeOutcome::Unknown),
        ],
    );
    let unresolved: Vec<_> = f
        .journal
        .unresolved()
        .unwrap()
        .into_iter()
        .map(|a| (a.id, a.state))
        .collect();
    assert_eq!(
        unresolved,
        [
            (ids[2], AttemptState::Created),
            (review, AttemptState::NeedsReview),
            (unknown, AttemptState::Unknown),
        ]
    );

    // A manager resolves the review: it leaves the list and its result replaces the review's
    // `needs_review` message in the outbox (issue 9: the escalation enqueued one).
    let resolve = AttemptEvent::Resolved {
        resolution: Resolution::Declined,
        evidence: "gateway dashboard shows no charge".into(),
        by: OperatorId::new("manager-1").unwrap(),
    };
    let depth = f.journal.outbox_stats(ts(T0)).unwrap().depth;
    f.journal.apply(&review, &resolve, ts(T0 + 9_000)).unwrap();
    assert_eq!(f.journal.unresolved().unwrap().len(), 2);
    assert_eq!(f.journal.outbox_stats(ts(T0)).unwrap().depth, depth);
    let due = f.journal.outbox_due(ts(T0 + 9_000), 100).unwrap();
    let message = due.iter().find(|m| m.attempt_id == review).unwrap();
    assert_eq!(message.payload["state"], "declined");
    assert!(f.journal.verify().unwrap().is_intact());
}

/// The offline policy's shift total: offline attempts begun since the allowance, in its currency,
/// that may have moved money (succeeded or not yet settled); declined ones and online ones do not
/// count.
#[test]
fn the_offline_total_counts_offline_attempts_that_may_have_moved_money() {
    let mut f = fixture();
    let offline = |order: &str, number: u32, minor: i64, currency: &str, at_ms: i64, n: u64| {
        let mut new = new_attempt(order, "anna", minor, currency, at_ms, n);
        new.number = AttemptNumber::new(number).unwrap();
        new.offline = true;
        new
    };
    let mut success = to_confirm_sent("pi_1");
    success.push(succeeded());
    let mut decline = to_confirm_sent("pi_3");
    decline.push(declined("card_declined"));
    let j = &mut f.journal;
    run(
        j,
        offline("order-a", 1, 900, "EUR", T0 - 1_000, 1),
        T0 - 1_000,
        &success,
    );
    run(j, offline("order-a", 2, 1_000, "EUR", T0, 2), T0, &success);
    run(
        j,
        offline("order-b", 1, 500, "EUR", T0 + 100, 3),
        T0 + 100,
        &to_confirm_sent("pi_2"),
    );
    run(
        j,
        offline("order-c", 1, 700, "EUR", T0 + 200, 4),
        T0 + 200,
        &decline,
    );
    run(
        j,
        offline("order-d", 1, 300, "JPY", T0 + 300, 5),
        T0 + 300,
        &success,
    );
    let mut online = new_attempt("order-a", "anna", 2_000, "EUR", T0 + 400, 6);
    online.number = AttemptNumber::new(3).unwrap();
    run(j, online, T0 + 400, &success);

    let eur = Currency::from_code("EUR").unwrap();
    assert_eq!(
        f.journal.offline_total_since(ts(T0), eur).unwrap(),
        Money::new(1_500, eur).unwrap()
    );
    assert_eq!(
        f.journal.offline_total_since(ts(T0 + 10_000), eur).unwrap(),
        Money::zero(eur)
    );
    let order_a = OrderId::new("order-a").unwrap();
    assert_eq!(f.journal.offline_attempts_of(&order_a).unwrap(), 2);
    let order_e = OrderId::new("order-e").unwrap();
    assert_eq!(f.journal.offline_attempts_of(&order_e).unwrap(), 0);
}

#[test]
fn an_intent_id_that_is_already_set_survives_every_later_step() {
    let mut f = fixture();
    let id = run(
        &mut f.journal,
        new_attempt("order-1", "alice", 500, "EUR", T0, 1),
        T0,
        &to_confirm_sent("pi_1"),
    );
    let (attempt, _) = f
        .journal
        .apply(
            &id,
            &AttemptEvent::Retrieved(paydesk_core::IntentStatus::Processing),
            ts(T0 + 9),
        )
        .unwrap();
    assert_eq!(
        attempt.intent_id,
        Some(GatewayIntentId::new("pi_1").unwrap())
    );
    assert_eq!(attempt.unknown_checks, 1);
    assert_eq!(f.journal.attempt(&id).unwrap().unwrap(), attempt);
}

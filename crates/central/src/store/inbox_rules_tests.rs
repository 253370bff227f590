//! Table tests of the results inbox's pure rules (`inbox_rules.rs`): trust, review holds,
//! installments.

use paydesk_core::{AttemptId, AttemptNumber, ClaimToken, Money, OrderId, Timestamp};
use paydesk_protocol::Order;

use super::*;

/// A result admitted (bound to its claim) whose success, if any, the gateway confirmed: the
/// rules below the trust checks.
impl Default for Context {
    fn default() -> Context {
        Context {
            settles_review: false,
            after_last: false,
            review_flagged: false,
            admission: Admission::Bound,
            verification: Some(Verification::Verified),
            counted: false,
        }
    }
}

/// An order of 10.00 EUR with current token 2, held or not, in `status`, paid by `paid`.
fn row(status: OrderStatus, held: bool, paid: Option<&str>, open: Option<&str>) -> OrderRow {
    OrderRow {
        order: Order {
            order_id: OrderId::new("o").unwrap(),
            amount: Money::parse("10.00 EUR").unwrap(),
            customer_id: "c".into(),
            payment_method_id: "p".into(),
            description: String::new(),
            status,
            claim: None,
            paid_intent_id: paid.map(|p| GatewayIntentId::new(p).unwrap()),
            refunded_minor: 0,
            disputed: false,
            created_at: Timestamp::from_unix_ms(0),
            updated_at: Timestamp::from_unix_ms(0),
            attempt_seq: 2,
            gateway: paydesk_protocol::GatewayName::Stripe,
            customer_name: String::new(),
            saved_method: None,
            paid_minor: 0,
        },
        claim_token: 2,
        attempt_seq: 2,
        holder_terminal: held.then(|| "t".to_string()),
        lease_until: held.then_some(1),
        open_intent_id: open.map(str::to_string),
    }
}

fn item(outcome: ResultOutcome, token: u64, amount: &str, intent: Option<&str>) -> ResultItem {
    ResultItem {
        attempt_id: AttemptId::parse("0190a5d4-7e1c-7c3e-8d2a-1b2c3d4e5f60").unwrap(),
        order_id: OrderId::new("o").unwrap(),
        attempt_number: AttemptNumber::new(2).unwrap(),
        claim_token: ClaimToken::new(token).unwrap(),
        outcome,
        amount: Money::parse(amount).unwrap(),
        intent_id: intent.map(|i| GatewayIntentId::new(i).unwrap()),
        offline: false,
        occurred_at: Timestamp::from_unix_ms(0),
        installment: paydesk_core::InstallmentNumber::FIRST,
    }
}

/// (status, new order status, release) for one case.
fn check(row: OrderRow, item: ResultItem) -> (ItemStatus, Option<OrderStatus>, bool) {
    check_in(row, item, Context::default())
}

fn check_in(
    row: OrderRow,
    item: ResultItem,
    context: Context,
) -> (ItemStatus, Option<OrderStatus>, bool) {
    let decision = decide(&row, &item, &context);
    (
        decision.status,
        decision.change.new_status,
        decision.change.release,
    )
}

#[test]
fn decide_table() {
    use ItemStatus::{Applied, Flagged};
    use OrderStatus::*;
    use ResultOutcome as R;
    let open = Some("pi_1");
    let cases = [
        // Current holder reports: applied, order moves, flag released.
        (
            row(Unpaid, true, None, open),
            item(R::Succeeded, 2, "10.00 EUR", open),
            (Applied, Some(Paid), true),
        ),
        (
            row(Unpaid, true, None, open),
            item(R::Declined, 2, "10.00 EUR", open),
            (Applied, Some(Failed), true),
        ),
        (
            row(Unpaid, true, None, open),
            item(R::RequiresAction, 2, "10.00 EUR", open),
            (Applied, Some(NeedsAction), true),
        ),
        (
            row(Unpaid, true, None, open),
            item(R::Canceled, 2, "10.00 EUR", open),
            (Applied, None, true),
        ),
        (
            row(Unpaid, true, None, open),
            item(R::NeedsReview, 2, "10.00 EUR", open),
            (Applied, Some(NeedsReview), true),
        ),
        // A stale success still marks the order paid (the money moved) but is flagged and
        // leaves the newer holder alone; a stale decision is flagged and not applied.
        (
            row(Unpaid, true, None, None),
            item(R::Succeeded, 1, "10.00 EUR", Some("pi_0")),
            (Flagged, Some(Paid), false),
        ),
        (
            row(Unpaid, true, None, None),
            item(R::Declined, 1, "10.00 EUR", None),
            (Flagged, None, false),
        ),
        // Contradictions: another amount, a second success.
        (
            row(Unpaid, true, None, open),
            item(R::Succeeded, 2, "10.01 EUR", open),
            (Flagged, Some(NeedsReview), true),
        ),
        (
            row(Unpaid, true, None, open),
            item(R::Declined, 2, "10.01 EUR", open),
            (Flagged, None, false),
        ),
        (
            row(Paid, false, Some("pi_1"), None),
            item(R::Succeeded, 2, "10.00 EUR", Some("pi_2")),
            (Flagged, Some(NeedsReview), false),
        ),
        // The same success seen first by a webhook: nothing more to do.
        (
            row(Paid, true, Some("pi_1"), open),
            item(R::Succeeded, 2, "10.00 EUR", open),
            (Applied, None, true),
        ),
        // A late decline for a paid order is history only.
        (
            row(Paid, false, Some("pi_1"), None),
            item(R::Declined, 2, "10.00 EUR", Some("pi_0")),
            (Applied, None, false),
        ),
    ];
    for (i, (row, item, expected)) in cases.into_iter().enumerate() {
        assert_eq!(check(row, item), expected, "case {i}");
    }
}

fn offline(mut item: ResultItem) -> ResultItem {
    item.offline = true;
    item.claim_token = ClaimToken::new(i64::MAX as u64).unwrap();
    item
}

/// A review hold is left only by a success that settles it; a later non-success, or an
/// offline result, never clears it (finding 8).
#[test]
fn review_holds_table() {
    use ItemStatus::{Applied, Flagged};
    use OrderStatus::*;
    use ResultOutcome as R;
    let open = Some("pi_1");
    let settles = Context {
        settles_review: true,
        ..Context::default()
    };
    let flagged = Context {
        settles_review: true,
        review_flagged: true,
        ..Context::default()
    };
    let cases = [
        // The holder's own non-success (current token) leaves the hold, ends its claim.
        (
            row(NeedsReview, true, None, open),
            item(R::Declined, 2, "10.00 EUR", Some("pi_2")),
            Context::default(),
            (Applied, None, true),
        ),
        (
            row(NeedsReview, true, None, open),
            item(R::Canceled, 2, "10.00 EUR", Some("pi_2")),
            Context::default(),
            (Applied, None, true),
        ),
        (
            row(NeedsReview, true, None, open),
            item(R::RequiresAction, 2, "10.00 EUR", Some("pi_2")),
            Context::default(),
            (Applied, None, true),
        ),
        // Its own attempt's final result settles the hold it started (gateway evidence)...
        (
            row(NeedsReview, false, None, open),
            item(R::Declined, 2, "10.00 EUR", open),
            settles.clone(),
            (Applied, Some(Failed), false),
        ),
        (
            row(NeedsReview, false, None, None),
            item(R::Canceled, 2, "10.00 EUR", None),
            settles.clone(),
            (Applied, Some(Unpaid), false),
        ),
        (
            row(NeedsReview, false, None, open),
            offline(item(R::RequiresAction, 1, "10.00 EUR", open)),
            settles.clone(),
            (Applied, Some(NeedsAction), false),
        ),
        // ...unless something else holds the order: a flag, or another open intent.
        (
            row(NeedsReview, false, None, open),
            item(R::Declined, 2, "10.00 EUR", open),
            flagged.clone(),
            (Applied, None, false),
        ),
        (
            row(NeedsReview, false, None, open),
            item(R::Declined, 2, "10.00 EUR", Some("pi_2")),
            settles.clone(),
            (Applied, None, false),
        ),
        // Offline non-successes are history.
        (
            row(NeedsReview, false, Some("pi_0"), None),
            offline(item(R::Declined, 1, "10.00 EUR", Some("pi_3"))),
            Context::default(),
            (Applied, None, false),
        ),
        (
            row(NeedsReview, false, Some("pi_0"), None),
            offline(item(R::Canceled, 1, "10.00 EUR", Some("pi_3"))),
            Context::default(),
            (Applied, None, false),
        ),
        (
            row(NeedsReview, false, Some("pi_0"), None),
            offline(item(R::RequiresAction, 1, "10.00 EUR", None)),
            Context::default(),
            (Applied, None, false),
        ),
        // An offline success of another intent is recorded and flagged; the hold stays.
        (
            row(NeedsReview, false, Some("pi_0"), None),
            offline(item(R::Succeeded, 1, "10.00 EUR", Some("pi_3"))),
            Context::default(),
            (Flagged, None, false),
        ),
        // The same charge that paid it: nothing to do.
        (
            row(NeedsReview, false, Some("pi_0"), None),
            offline(item(R::Succeeded, 1, "10.00 EUR", Some("pi_0"))),
            Context::default(),
            (Applied, None, false),
        ),
        // A success that settles the review: the open intent's, or its own attempt's.
        (
            row(NeedsReview, false, None, open),
            item(R::Succeeded, 2, "10.00 EUR", open),
            Context::default(),
            (Applied, Some(Paid), false),
        ),
        (
            row(NeedsReview, false, None, open),
            offline(item(R::Succeeded, 1, "10.00 EUR", open)),
            Context::default(),
            (Applied, Some(Paid), false),
        ),
        (
            row(NeedsReview, false, None, None),
            item(R::Succeeded, 2, "10.00 EUR", Some("pi_5")),
            settles.clone(),
            (Applied, Some(Paid), false),
        ),
        // A flagged order stays for a person even when the success is its own attempt's.
        (
            row(NeedsReview, false, None, open),
            item(R::Succeeded, 2, "10.00 EUR", open),
            flagged.clone(),
            (Flagged, None, false),
        ),
        // An interim report after its attempt's final result is history.
        (
            row(Failed, false, None, None),
            item(R::NeedsReview, 2, "10.00 EUR", open),
            Context {
                after_last: true,
                ..Context::default()
            },
            (Applied, None, false),
        ),
    ];
    for (i, (row, item, context, expected)) in cases.into_iter().enumerate() {
        assert_eq!(check_in(row, item, context), expected, "case {i}");
    }
}

/// What the central no longer takes on a terminal's word (C1, H3): the claim must be this
/// terminal's, an offline result needs a grant, a success needs the gateway's evidence.
#[test]
fn trust_table() {
    use ItemStatus::{Applied, Flagged, Rejected};
    use OrderStatus::*;
    use ResultOutcome as R;
    let open = Some("pi_1");
    let with = |admission: Admission, verification: Option<Verification>| Context {
        admission,
        verification,
        ..Context::default()
    };
    let verified = || with(Admission::Bound, Some(Verification::Verified));
    let granted = || with(Admission::Granted, Some(Verification::Verified));
    let cases = [
        // A claim never granted to this terminal: stored as rejected, nothing changes.
        (
            row(Unpaid, true, None, open),
            item(R::Succeeded, 2, "10.00 EUR", open),
            with(
                Admission::Unbound("not granted".into()),
                Some(Verification::Verified),
            ),
            (Rejected, None, false),
        ),
        (
            row(Unpaid, true, None, open),
            item(R::Declined, 2, "10.00 EUR", open),
            with(Admission::Unbound("not granted".into()), None),
            (Rejected, None, false),
        ),
        // An offline result no grant covers: flagged, never paid, nothing released.
        (
            row(Unpaid, false, None, None),
            offline(item(R::Succeeded, 1, "10.00 EUR", Some("pi_7"))),
            with(
                Admission::NoGrant("no grant".into()),
                Some(Verification::Verified),
            ),
            (Flagged, None, false),
        ),
        // Offline declined under another holder: not applied, no release.
        (
            row(Unpaid, true, None, open),
            offline(item(R::Declined, 1, "10.00 EUR", open)),
            granted(),
            (Flagged, None, false),
        ),
        (
            row(Unpaid, true, None, open),
            offline(item(R::Canceled, 1, "10.00 EUR", open)),
            granted(),
            (Flagged, None, false),
        ),
        // Its unknown outcome holds the order for review (no further charge), no release.
        (
            row(Unpaid, true, None, open),
            offline(item(R::NeedsReview, 1, "10.00 EUR", Some("pi_7"))),
            granted(),
            (Applied, Some(NeedsReview), false),
        ),
        // A granted offline success the gateway confirms pays the order, and leaves the
        // holder's claim alone.
        (
            row(Unpaid, true, None, open),
            offline(item(R::Succeeded, 1, "10.00 EUR", Some("pi_7"))),
            granted(),
            (Applied, Some(Paid), false),
        ),
        // No evidence: held for review, the holder's own claim ends.
        (
            row(Unpaid, true, None, open),
            item(R::Succeeded, 2, "10.00 EUR", open),
            with(
                Admission::Bound,
                Some(Verification::Unverified("down".into())),
            ),
            (Flagged, Some(NeedsReview), true),
        ),
        // The gateway contradicts it (another customer, order or payment method).
        (
            row(Unpaid, true, None, open),
            item(R::Succeeded, 2, "10.00 EUR", open),
            with(
                Admission::Bound,
                Some(Verification::Mismatch("customer".into())),
            ),
            (Flagged, Some(NeedsReview), true),
        ),
        // A success naming no intent is never paid.
        (
            row(Unpaid, true, None, open),
            item(R::Succeeded, 2, "10.00 EUR", None),
            verified(),
            (Flagged, Some(NeedsReview), true),
        ),
    ];
    for (i, (row, item, context, expected)) in cases.into_iter().enumerate() {
        assert_eq!(check_in(row, item, context), expected, "case {i}");
    }
}

#[test]
fn an_unverified_success_adopts_its_intent_for_the_sweeper() {
    let context = Context {
        verification: Some(Verification::Unverified("gateway down".into())),
        ..Context::default()
    };
    let d = decide(
        &row(OrderStatus::Unpaid, false, None, None),
        &offline(item(ResultOutcome::Succeeded, 1, "10.00 EUR", Some("pi_7"))),
        &context,
    );
    assert_eq!(d.flag_source, FLAG_SOURCE_UNVERIFIED);
    assert_eq!(d.change.paid_intent_id, None);
    assert_eq!(
        d.change.adopt_intent.as_ref().map(|i| i.as_str()),
        Some("pi_7")
    );
    // With another intent open, the sweeper cannot settle it: a contradiction for a person.
    let d = decide(
        &row(OrderStatus::Unpaid, false, None, Some("pi_1")),
        &offline(item(ResultOutcome::Succeeded, 1, "10.00 EUR", Some("pi_7"))),
        &context,
    );
    assert_eq!(d.flag_source, FLAG_SOURCE_RESULT);
    assert_eq!(d.change.adopt_intent, None);
    assert_eq!(d.change.new_status, Some(OrderStatus::NeedsReview));
}

#[test]
fn an_offline_needs_review_adopts_its_intent_and_numbers_are_raised() {
    let item = offline(item(
        ResultOutcome::NeedsReview,
        1,
        "10.00 EUR",
        Some("pi_9"),
    ));
    let mut item = item;
    item.attempt_number = AttemptNumber::new(5).unwrap();
    let d = decide(
        &row(OrderStatus::Unpaid, false, None, None),
        &item,
        &Context::default(),
    );
    assert_eq!(d.change.new_status, Some(OrderStatus::NeedsReview));
    assert_eq!(
        d.change.adopt_intent.as_ref().map(|i| i.as_str()),
        Some("pi_9")
    );
    assert_eq!(d.change.attempt_seq, Some(5));
    // Another intent is already open: it is not replaced; a lower number is not raised.
    item.attempt_number = AttemptNumber::new(1).unwrap();
    let d = decide(
        &row(OrderStatus::Unpaid, false, None, Some("pi_1")),
        &item,
        &Context::default(),
    );
    assert_eq!(d.change.adopt_intent, None);
    assert_eq!(d.change.attempt_seq, None);
}

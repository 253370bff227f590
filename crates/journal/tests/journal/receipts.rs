//! A receipt given to the customer (issue 12, item 7): each copy or print of a succeeded
//! attempt's receipt is a chained `receipt_given` event naming the operator and how; the state
//! does not move, the chain still verifies, and an attempt that did not succeed has no receipt.

use paydesk_core::{AttemptState, OperatorId};
use paydesk_journal::{JournalError, ReceiptHow, RECEIPT_GIVEN_KIND, ROW_DIGEST_KEY};

use crate::*;

#[test]
fn copies_and_prints_are_chained_events_and_the_journal_still_verifies() {
    let mut f = fixture();
    let events: Vec<_> = to_confirm_sent("pi_receipt")
        .into_iter()
        .chain([succeeded()])
        .collect();
    let id = run(
        &mut f.journal,
        new_attempt("order-r", "alice", 4_550, "EUR", T0, 1),
        T0,
        &events,
    );
    let alice = OperatorId::new("alice").unwrap();
    let copied = f
        .journal
        .record_receipt(&id, ReceiptHow::Copied, &alice, ts(T0 + 100))
        .unwrap();
    let printed = f
        .journal
        .record_receipt(&id, ReceiptHow::Printed, &alice, ts(T0 + 200))
        .unwrap();
    assert_eq!(copied.kind, RECEIPT_GIVEN_KIND);
    assert_eq!(printed.seq, copied.seq + 1);
    let detail = &printed.detail;
    assert_eq!(detail["how"], "printed");
    assert_eq!(detail["by"], "alice");
    assert_eq!(detail["intent_id"], "pi_receipt");
    assert!(detail[ROW_DIGEST_KEY].is_string());
    assert_eq!(printed.from_state, Some(AttemptState::Succeeded));
    assert_eq!(printed.to_state, AttemptState::Succeeded);

    let timeline = f.journal.timeline(&id).unwrap();
    let kinds: Vec<&str> = timeline.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        &kinds[kinds.len() - 2..],
        [RECEIPT_GIVEN_KIND, RECEIPT_GIVEN_KIND]
    );
    assert_eq!(
        f.journal.attempt(&id).unwrap().unwrap().state,
        AttemptState::Succeeded
    );
    let report = f.journal.verify().unwrap();
    assert!(report.broken.is_none(), "{report:?}");
    // The journal reopens and verifies with the new kind in it.
    drop(f.journal);
    let reopened = paydesk_journal::Journal::open(&f.path).unwrap();
    assert!(reopened.verify().unwrap().broken.is_none());
}

#[test]
fn an_attempt_that_did_not_succeed_has_no_receipt() {
    let mut f = fixture();
    let events: Vec<_> = to_confirm_sent("pi_declined")
        .into_iter()
        .chain([declined("card_declined")])
        .collect();
    let id = run(
        &mut f.journal,
        new_attempt("order-d", "alice", 100, "EUR", T0, 2),
        T0,
        &events,
    );
    let before = f.journal.timeline(&id).unwrap().len();
    let err = f
        .journal
        .record_receipt(
            &id,
            ReceiptHow::Copied,
            &OperatorId::new("alice").unwrap(),
            ts(T0 + 50),
        )
        .unwrap_err();
    assert!(
        matches!(err, JournalError::InvalidArgument(ref m) if m.contains("not succeeded")),
        "{err}"
    );
    assert_eq!(
        f.journal.timeline(&id).unwrap().len(),
        before,
        "nothing written"
    );
    let unknown = attempt_id(T0, 99);
    let err = f
        .journal
        .record_receipt(
            &unknown,
            ReceiptHow::Printed,
            &OperatorId::new("alice").unwrap(),
            ts(T0),
        )
        .unwrap_err();
    assert!(matches!(err, JournalError::NotFound { .. }), "{err}");
}

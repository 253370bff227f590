//! `paydesk inbox` and `paydesk resolve`, the real binary against an embedded stack (the central
//! on SQLite with the sandbox gateway): the manager's inbox as JSON with the central's counts and
//! this terminal's own items; a paid order cannot be marked charged again (exit 4); an unpaid
//! order with no intent is marked not charged; an operator is refused; the PIN only on stdin.

mod common;

use paydesk_stack::{DEMO_MANAGER, DEMO_MANAGER_PIN, DEMO_OPERATOR, DEMO_OPERATOR_PIN};
use serde_json::Value;

use common::{Desk, CONFLICT, REFUSED, SUCCESS, USAGE};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manager_reads_the_inbox_and_resolves_only_what_the_evidence_allows() {
    let desk = Desk::start().await;
    let charge = desk.run(
        &[
            "charge",
            "demo-1001",
            "--operator",
            DEMO_OPERATOR,
            "--amount",
            "129.00 EUR",
            "--pin-stdin",
        ],
        DEMO_OPERATOR_PIN,
    );
    assert_eq!(charge.code, Some(SUCCESS), "{charge:?}");

    let inbox = desk.run(
        &["--json", "inbox", "--manager", DEMO_MANAGER, "--pin-stdin"],
        DEMO_MANAGER_PIN,
    );
    assert_eq!(inbox.code, Some(SUCCESS), "{inbox:?}");
    let doc: Value = serde_json::from_str(&inbox.stdout).expect("one JSON document");
    assert!(doc["central"]["counts"].is_object(), "{doc}");
    assert!(doc["central"]["items"].is_array(), "{doc}");
    assert!(doc["terminal"]["items"].is_array(), "{doc}");
    let human = desk.run(
        &["inbox", "--manager", DEMO_MANAGER, "--pin-stdin"],
        DEMO_MANAGER_PIN,
    );
    assert_eq!(human.code, Some(SUCCESS), "{human:?}");
    assert!(!inbox.stdout.contains(DEMO_MANAGER_PIN) && !human.stderr.contains(DEMO_MANAGER_PIN));

    // demo-1001 is paid: marking it charged again is refused by the central (exit 4).
    let order = desk
        .stack
        .central_store()
        .order(&"demo-1001".parse().unwrap())
        .await
        .unwrap();
    let intent = order.paid_intent_id.expect("paid by an intent").to_string();
    let again = desk.run(
        &[
            "resolve",
            "demo-1001",
            "--action",
            "mark-charged",
            "--intent",
            &intent,
            "--reason",
            "double check",
            "--manager",
            DEMO_MANAGER,
            "--pin-stdin",
        ],
        DEMO_MANAGER_PIN,
    );
    assert_eq!(again.code, Some(CONFLICT), "{again:?}");
    assert!(again.stderr.contains("already paid"), "{again:?}");

    // demo-1002 has no intent: the central finds nothing charged and releases it.
    let released = desk.run(
        &[
            "resolve",
            "demo-1002",
            "--action",
            "mark-not-charged",
            "--reason",
            "customer left before paying",
            "--manager",
            DEMO_MANAGER,
            "--pin-stdin",
        ],
        DEMO_MANAGER_PIN,
    );
    assert_eq!(released.code, Some(SUCCESS), "{released:?}");
    assert!(released.stdout.contains("now unpaid"), "{released:?}");

    // An operator is refused; no --pin-stdin, or a bad action, is a usage error.
    let operator = desk.run(
        &["inbox", "--manager", DEMO_OPERATOR, "--pin-stdin"],
        DEMO_OPERATOR_PIN,
    );
    assert_eq!(operator.code, Some(REFUSED), "{operator:?}");
    let no_pin = desk.run(&["inbox", "--manager", DEMO_MANAGER], DEMO_MANAGER_PIN);
    assert_eq!(no_pin.code, Some(USAGE), "{no_pin:?}");
    let bad = desk.run(
        &[
            "resolve",
            "demo-1002",
            "--action",
            "refund",
            "--reason",
            "x",
            "--manager",
            DEMO_MANAGER,
            "--pin-stdin",
        ],
        DEMO_MANAGER_PIN,
    );
    assert_eq!(bad.code, Some(USAGE), "{bad:?}");
    desk.stack.shutdown().await;
}

//! `paydesk send-link` and `paydesk mark-contacted` (issue 12, item 6), the real binary against an
//! embedded stack: the 3-D Secure demo order charged from the command line waits for its
//! customer; an operator sends a payment link (printed once) and records a contact; an order that
//! does not wait is refused by the central (exit 4), and a missing `--pin-stdin` is a usage error.

mod common;

use paydesk_stack::{DEMO_OPERATOR, DEMO_OPERATOR_PIN};

use common::{Desk, CONFLICT, SUCCESS, USAGE};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_sends_a_payment_link_and_records_a_contact() {
    let desk = Desk::start().await;
    let charge = desk.run(
        &[
            "charge",
            "demo-1005",
            "--operator",
            DEMO_OPERATOR,
            "--amount",
            "250.00 EUR",
            "--pin-stdin",
        ],
        DEMO_OPERATOR_PIN,
    );
    assert!(
        charge.stdout.contains("customer") || charge.stderr.contains("customer"),
        "{charge:?}"
    );
    let order = desk
        .stack
        .central_store()
        .order(&"demo-1005".parse().unwrap())
        .await
        .unwrap();
    assert_eq!(order.status.as_str(), "needs_action", "{order:?}");

    let missing_pin =
        desk.run_without_stdin(&["send-link", "demo-1005", "--operator", DEMO_OPERATOR]);
    assert_eq!(missing_pin.code, Some(USAGE), "{missing_pin:?}");

    let link = desk.run(
        &[
            "send-link",
            "demo-1005",
            "--operator",
            DEMO_OPERATOR,
            "--pin-stdin",
        ],
        DEMO_OPERATOR_PIN,
    );
    assert_eq!(link.code, Some(SUCCESS), "{link:?}");
    assert!(link.stdout.contains("/pay/pl_"), "{}", link.stdout);

    let contacted = desk.run(
        &[
            "mark-contacted",
            "demo-1005",
            "--operator",
            DEMO_OPERATOR,
            "--note",
            "called, will confirm tonight",
            "--pin-stdin",
        ],
        DEMO_OPERATOR_PIN,
    );
    assert_eq!(contacted.code, Some(SUCCESS), "{contacted:?}");
    assert!(
        contacted
            .stdout
            .contains(&format!("customer contacted by {DEMO_OPERATOR}")),
        "{}",
        contacted.stdout
    );

    // An order that does not wait for its customer: the central refuses, nothing is sent.
    let refused = desk.run(
        &[
            "send-link",
            "demo-1001",
            "--operator",
            DEMO_OPERATOR,
            "--pin-stdin",
        ],
        DEMO_OPERATOR_PIN,
    );
    assert_eq!(refused.code, Some(CONFLICT), "{refused:?}");
    assert!(
        refused.stderr.contains("not waiting for its customer"),
        "{refused:?}"
    );
}

//! The order in context from the command line (issue 12, item 1), the real binary against an
//! embedded stack: `paydesk queue` shows each order's customer and card as the central read them
//! from the sandbox at seeding, and `paydesk refresh-card` reads one again and prints it; an
//! unknown order is refused and a missing `--pin-stdin` is a usage error.

mod common;

use paydesk_stack::{DEMO_OPERATOR, DEMO_OPERATOR_PIN};

use common::{Desk, SUCCESS, USAGE};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_queue_names_customer_and_card_and_refresh_card_reads_it_again() {
    let desk = Desk::start().await;
    let queue = desk.run_without_stdin(&["queue"]);
    assert_eq!(queue.code, Some(SUCCESS), "{queue:?}");
    let anna = queue
        .stdout
        .lines()
        .find(|l| l.starts_with("demo-1001"))
        .unwrap_or_else(|| panic!("no demo-1001 in {}", queue.stdout));
    assert!(anna.contains("Anna Kovács"), "{anna}");
    assert!(anna.contains("visa •••• 4242 exp 12/30 (stripe)"), "{anna}");

    let refreshed = desk.run(
        &[
            "refresh-card",
            "demo-1003",
            "--operator",
            DEMO_OPERATOR,
            "--pin-stdin",
        ],
        DEMO_OPERATOR_PIN,
    );
    assert_eq!(refreshed.code, Some(SUCCESS), "{refreshed:?}");
    assert!(
        refreshed.stdout.contains("Chen Wei"),
        "{}",
        refreshed.stdout
    );
    assert!(
        refreshed
            .stdout
            .contains("mastercard •••• 4444 exp 12/30 (stripe)"),
        "{}",
        refreshed.stdout
    );

    let unknown = desk.run(
        &[
            "refresh-card",
            "demo-9999",
            "--operator",
            DEMO_OPERATOR,
            "--pin-stdin",
        ],
        DEMO_OPERATOR_PIN,
    );
    assert_ne!(unknown.code, Some(SUCCESS), "{unknown:?}");
    assert!(
        unknown.stderr.contains("demo-9999"),
        "the refusal names the order: {unknown:?}"
    );
    let missing_pin =
        desk.run_without_stdin(&["refresh-card", "demo-1001", "--operator", DEMO_OPERATOR]);
    assert_eq!(missing_pin.code, Some(USAGE), "{missing_pin:?}");
}

//! `paydesk reverse` and `paydesk approve`, the real binary against an embedded stack (the
//! central on SQLite with the sandbox gateway): a refund below the threshold by one manager, a
//! larger one refused without an approval and with the manager's own, done with a second
//! manager's approval; an operator refused; the PIN only on stdin.

mod common;

use paydesk_engine::{Clock as _, SystemClock};
use paydesk_stack::{DEMO_MANAGER, DEMO_MANAGER_PIN, DEMO_OPERATOR, DEMO_OPERATOR_PIN};
use serde_json::Value;

use common::{Desk, Run, REFUSED, SUCCESS, USAGE};

const SECOND_MANAGER: &str = "second-manager";
const SECOND_MANAGER_PIN: &str = "13572468";

/// The demo stack with a second manager (to approve another manager's refund).
async fn start_desk() -> Desk {
    let desk = Desk::start().await;
    desk.stack
        .central_store()
        .upsert_operator(
            &SECOND_MANAGER.parse().unwrap(),
            paydesk_protocol::Role::Manager,
            &paydesk_central::auth::hash_pin(SECOND_MANAGER_PIN).unwrap(),
            SystemClock.now(),
        )
        .await
        .unwrap();
    desk
}

impl Desk {
    fn reverse(&self, who: &str, pin: &str, extra: &[&str]) -> Run {
        let mut args = vec![
            "reverse",
            "demo-1001",
            "--manager",
            who,
            "--reason",
            "espresso machine returned",
            "--pin-stdin",
        ];
        args.extend_from_slice(extra);
        self.run(&args, pin)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manager_refunds_and_a_second_approves_above_the_threshold() {
    let desk = start_desk().await;
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

    // 20.00 is below the threshold: one manager.
    let small = desk.reverse(DEMO_MANAGER, DEMO_MANAGER_PIN, &["--amount", "20.00 EUR"]);
    assert_eq!(small.code, Some(SUCCESS), "{small:?}");
    assert!(
        small
            .stdout
            .contains("refund of 20.00 EUR for order demo-1001: succeeded"),
        "{small:?}"
    );
    // No --pin-stdin, an operator: refused before anything is sent.
    let no_pin = desk.run(
        &[
            "reverse",
            "demo-1001",
            "--manager",
            DEMO_MANAGER,
            "--reason",
            "x",
        ],
        DEMO_MANAGER_PIN,
    );
    assert_eq!(no_pin.code, Some(USAGE), "{no_pin:?}");
    let operator = desk.reverse(DEMO_OPERATOR, DEMO_OPERATOR_PIN, &[]);
    assert_eq!(operator.code, Some(REFUSED), "{operator:?}");

    // The rest (109.00) is above 100.00: refused without an approval, and with one's own.
    let alone = desk.reverse(DEMO_MANAGER, DEMO_MANAGER_PIN, &["--json"]);
    assert_eq!(alone.code, Some(REFUSED), "{alone:?}");
    assert!(alone.stdout.contains("approval"), "{alone:?}");
    let approve = |who: &str, pin: &str| {
        desk.run(
            &[
                "approve",
                "demo-1001",
                "--manager",
                who,
                "--amount",
                "109.00 EUR",
                "--pin-stdin",
            ],
            pin,
        )
    };
    let own = approve(DEMO_MANAGER, DEMO_MANAGER_PIN);
    assert_eq!(own.code, Some(SUCCESS), "{own:?}");
    let own_id = own.stdout.trim().to_string();
    assert!(own_id.starts_with("apr_"), "{own:?}");
    let selfish = desk.reverse(DEMO_MANAGER, DEMO_MANAGER_PIN, &["--approval", &own_id]);
    assert_eq!(selfish.code, Some(REFUSED), "{selfish:?}");
    assert!(
        selfish.stderr.contains("another manager must approve"),
        "{selfish:?}"
    );

    let second = approve(SECOND_MANAGER, SECOND_MANAGER_PIN);
    assert_eq!(second.code, Some(SUCCESS), "{second:?}");
    let id = second.stdout.trim().to_string();
    let done = desk.reverse(
        DEMO_MANAGER,
        DEMO_MANAGER_PIN,
        &["--json", "--approval", &id],
    );
    assert_eq!(done.code, Some(SUCCESS), "{done:?}");
    let doc: Value = serde_json::from_str(done.stdout.trim()).unwrap();
    assert_eq!(doc["reversal"]["amount_minor"], 10_900, "{done:?}");
    assert_eq!(doc["reversal"]["approved_by"], SECOND_MANAGER);
    assert_eq!(doc["reversal"]["state"], "succeeded");
    desk.stack.shutdown().await;
}

//! `paydesk settings show|set`, the real binary against an embedded stack: a manager reads the
//! defaults, lowers the four-eyes threshold and sets a refund limit that the central then
//! enforces on `paydesk reverse`; an operator is refused; bad input is a usage error; the PIN
//! only on stdin.

mod common;

use paydesk_stack::{DEMO_MANAGER, DEMO_MANAGER_PIN, DEMO_OPERATOR, DEMO_OPERATOR_PIN};

use common::{Desk, REFUSED, SUCCESS, USAGE};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manager_reads_and_changes_settings_and_the_central_enforces_them() {
    let desk = Desk::start().await;
    let m = DEMO_MANAGER;
    let show = desk.run(
        &["settings", "show", "--manager", m, "--pin-stdin"],
        DEMO_MANAGER_PIN,
    );
    assert_eq!(show.code, Some(SUCCESS), "{show:?}");
    assert!(
        show.stdout
            .contains("Reversals above 10000 minor units need a second manager's approval.")
            && show
                .stdout
                .contains("The operator role may: take payments; charge an amount other than the balance due.")
            && show.stdout.contains("Nobody has a refund limit."),
        "{show:?}"
    );

    let set = desk.run(
        &[
            "settings",
            "set",
            "threshold",
            "5000",
            "--manager",
            m,
            "--pin-stdin",
        ],
        DEMO_MANAGER_PIN,
    );
    assert_eq!(set.code, Some(SUCCESS), "{set:?}");
    assert!(
        set.stdout.contains("Reversals above 5000 minor units"),
        "{set:?}"
    );
    let limit = desk.run(
        &[
            "--json",
            "settings",
            "set",
            "limit",
            m,
            "eur",
            "--per-refund",
            "50.00",
            "--manager",
            m,
            "--pin-stdin",
        ],
        DEMO_MANAGER_PIN,
    );
    assert_eq!(limit.code, Some(SUCCESS), "{limit:?}");
    let doc = limit.json();
    assert_eq!(
        doc["settings"]["limits"][0]["per_refund_minor"], 5000,
        "{doc}"
    );
    assert_eq!(
        doc["settings"]["limits"][0]["per_day_minor"],
        serde_json::Value::Null
    );
    assert_eq!(doc["settings"]["updated_by"], m);

    // The central enforces the limit on a refund of a charged order; nothing is refunded.
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
    let refund = desk.run(
        &[
            "reverse",
            "demo-1001",
            "--manager",
            m,
            "--reason",
            "too much",
            "--amount",
            "60.00 EUR",
            "--pin-stdin",
        ],
        DEMO_MANAGER_PIN,
    );
    assert_eq!(refund.code, Some(REFUSED), "{refund:?}");
    assert!(
        refund.stderr.contains("limit per refund") && refund.stderr.contains("Settings"),
        "{refund:?}"
    );

    // Refusals and usage errors.
    let operator = desk.run(
        &[
            "settings",
            "show",
            "--manager",
            DEMO_OPERATOR,
            "--pin-stdin",
        ],
        DEMO_OPERATOR_PIN,
    );
    assert_eq!(operator.code, Some(REFUSED), "{operator:?}");
    for args in [
        &[
            "settings",
            "set",
            "permissions",
            "operator",
            "charge,reverse",
            "--manager",
            m,
            "--pin-stdin",
        ][..],
        &[
            "settings",
            "set",
            "permissions",
            "manager",
            "charge,fly",
            "--manager",
            m,
            "--pin-stdin",
        ][..],
        &[
            "settings",
            "set",
            "limit",
            m,
            "EUR",
            "--per-day",
            "ten",
            "--manager",
            m,
            "--pin-stdin",
        ][..],
        &["settings", "set", "threshold", "100", "--manager", m][..],
        &["settings", "set", "threshold", "100", "--pin-stdin"][..],
    ] {
        let run = desk.run(args, DEMO_MANAGER_PIN);
        assert_eq!(run.code, Some(USAGE), "{args:?}: {run:?}");
    }
    let after = desk.run(
        &["--json", "settings", "show", "--manager", m, "--pin-stdin"],
        DEMO_MANAGER_PIN,
    );
    let doc = after.json();
    assert_eq!(
        doc["settings"]["reversal_approval_above_minor"], 5000,
        "{doc}"
    );
    assert_eq!(
        doc["settings"]["permissions"][0]["actions"],
        serde_json::json!(["charge", "charge_other_amount"])
    );
    desk.stack.shutdown().await;
}

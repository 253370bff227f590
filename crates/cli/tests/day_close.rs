//! `paydesk day-close`, `paydesk day-close sign-off` and `paydesk audit`, the real binary against
//! an embedded stack (the central on SQLite with the sandbox gateway): after a charge the report
//! shows the central's totals with this terminal's journal beside them, in agreement; the day is
//! signed off once (a second is exit 4, an operator is refused); the audit lists the sign-off and
//! exports CSV.

mod common;

use paydesk_stack::{DEMO_MANAGER, DEMO_MANAGER_PIN, DEMO_OPERATOR, DEMO_OPERATOR_PIN};
use serde_json::Value;

use common::{Desk, Run, CONFLICT, REFUSED, SUCCESS};

fn json(run: &Run) -> Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {run:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manager_closes_the_day_signs_it_off_once_and_reads_the_audit() {
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
    let day = paydesk_core::Timestamp::from_unix_ms(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64,
    )
    .utc_day();

    let report = desk.run(
        &[
            "day-close",
            "--day",
            &day,
            "--manager",
            DEMO_MANAGER,
            "--pin-stdin",
            "--json",
        ],
        DEMO_MANAGER_PIN,
    );
    let doc = json(&report);
    let central = &doc["central"];
    assert_eq!(central["timezone"], "UTC", "{report:?}");
    let terminal = desk.stack.terminal.as_str();
    let paid: Vec<&Value> = central["totals"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["terminal_id"] == terminal && t["outcome"] == "succeeded")
        .collect();
    assert_eq!(paid.len(), 1, "{report:?}");
    assert_eq!(
        (&paid[0]["count"], &paid[0]["sum_minor"]),
        (&Value::from(1), &Value::from(12900))
    );
    let by_gateway = |gateway: &str| -> (Value, Value) {
        let row = central["gateway_totals"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["gateway"] == gateway && g["outcome"] == "succeeded")
            .unwrap_or_else(|| panic!("no {gateway} row: {report:?}"));
        (row["count"].clone(), row["sum_minor"].clone())
    };
    // The totals per gateway (issue 13, item 4): the demo order goes through Stripe.
    assert_eq!(by_gateway("stripe"), (Value::from(1), Value::from(12900)));
    let mine: Vec<&Value> = doc["journal_vs_central"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["operator_id"] == DEMO_OPERATOR)
        .collect();
    assert_eq!(mine.len(), 1, "{report:?}");
    assert_eq!(mine[0]["journal"]["succeeded_minor"], 12900, "{report:?}");
    assert_eq!(mine[0]["differs"], false, "{report:?}");
    let expected = if central["differences"].as_array().unwrap().is_empty() {
        SUCCESS
    } else {
        CONFLICT
    };
    assert_eq!(report.code, Some(expected), "{report:?}");

    let sign_off = |who: &str, pin: &str| {
        desk.run(
            &[
                "day-close",
                "sign-off",
                "--day",
                &day,
                "--manager",
                who,
                "--note",
                "till counted",
                "--pin-stdin",
            ],
            pin,
        )
    };
    let operator = sign_off(DEMO_OPERATOR, DEMO_OPERATOR_PIN);
    assert_eq!(operator.code, Some(REFUSED), "{operator:?}");
    let first = sign_off(DEMO_MANAGER, DEMO_MANAGER_PIN);
    assert_eq!(first.code, Some(SUCCESS), "{first:?}");
    assert!(
        first
            .stdout
            .contains(&format!("day {day} signed off by {DEMO_MANAGER}")),
        "{first:?}"
    );
    let second = sign_off(DEMO_MANAGER, DEMO_MANAGER_PIN);
    assert_eq!(second.code, Some(CONFLICT), "{second:?}");
    assert!(second.stderr.contains("signed off already"), "{second:?}");

    let audit = desk.run(
        &[
            "audit",
            "--kind",
            "day_signed_off",
            "--manager",
            DEMO_MANAGER,
            "--pin-stdin",
            "--json",
        ],
        DEMO_MANAGER_PIN,
    );
    assert_eq!(audit.code, Some(SUCCESS), "{audit:?}");
    let entries = json(&audit)["entries"].as_array().unwrap().clone();
    assert_eq!(entries.len(), 1, "{audit:?}");
    assert_eq!(entries[0]["operator_id"], DEMO_MANAGER);
    assert_eq!(entries[0]["terminal_id"], terminal);
    let csv = desk.run(
        &[
            "audit",
            "--operator",
            DEMO_OPERATOR,
            "--manager",
            DEMO_MANAGER,
            "--pin-stdin",
            "--csv",
            "-",
        ],
        DEMO_MANAGER_PIN,
    );
    assert_eq!(csv.code, Some(SUCCESS), "{csv:?}");
    let mut lines = csv.stdout.lines();
    assert_eq!(lines.next(), Some("at,kind,outcome,operator_id,terminal_id,approver,order_id,amount_minor,currency,detail"));
    assert!(csv.stdout.contains(",signed_in,done,"), "{csv:?}");
    assert!(csv.stdout.contains(",claim_claimed,done,"), "{csv:?}");
}

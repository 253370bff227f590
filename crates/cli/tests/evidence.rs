//! `paydesk evidence` and the new `paydesk resolve` actions, the real binary against an
//! embedded stack (the central on SQLite with the sandbox gateway): a paid order's evidence
//! names its intent as the gateway shows it and offers a reversal with the command to run, in
//! words and as JSON; `cancel-open-intent` and `acknowledge` check their arguments before any
//! PIN is read, and a decision the evidence does not offer is refused by the central (exit 4).

mod common;

use paydesk_stack::{DEMO_MANAGER, DEMO_MANAGER_PIN, DEMO_OPERATOR, DEMO_OPERATOR_PIN};
use serde_json::Value;

use common::{Desk, CONFLICT, REFUSED, SUCCESS, USAGE};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manager_reads_an_orders_evidence_and_its_allowed_decisions() {
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
    let order = desk
        .stack
        .central_store()
        .order(&"demo-1001".parse().unwrap())
        .await
        .unwrap();
    let intent = order.paid_intent_id.expect("paid by an intent").to_string();

    let human = desk.run(
        &[
            "evidence",
            "demo-1001",
            "--manager",
            DEMO_MANAGER,
            "--pin-stdin",
        ],
        DEMO_MANAGER_PIN,
    );
    assert_eq!(human.code, Some(SUCCESS), "{human:?}");
    for words in [
        "paid by",
        "At the gateway now:",
        &format!("{intent}: succeeded"),
        "This evidence allows:",
        "paydesk reverse demo-1001",
    ] {
        assert!(
            human.stdout.contains(words),
            "{words:?} missing: {}",
            human.stdout
        );
    }
    assert!(
        !human.stdout.contains("mark-not-charged"),
        "{}",
        human.stdout
    );
    assert!(!human.stdout.contains(DEMO_MANAGER_PIN) && !human.stderr.contains(DEMO_MANAGER_PIN));

    let json = desk.run(
        &[
            "--json",
            "evidence",
            "demo-1001",
            "--manager",
            DEMO_MANAGER,
            "--pin-stdin",
        ],
        DEMO_MANAGER_PIN,
    );
    assert_eq!(json.code, Some(SUCCESS), "{json:?}");
    let doc: Value = serde_json::from_str(&json.stdout).expect("one JSON document");
    let evidence = &doc["evidence"];
    assert_eq!(
        evidence["central"]["detail"]["order"]["status"], "paid",
        "{doc}"
    );
    let actions: Vec<&str> = evidence["allowed_actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["reverse"], "{doc}");
    let paid = &evidence["gateway"]["intents"][0];
    assert_eq!(paid["amount_received_minor"], 12900, "{doc}");
    assert_eq!(
        paid["amount_refunded_minor"], 0,
        "read from the charge: {doc}"
    );

    // After a refund of 20.00, the gateway's charge says so, and 109.00 is left to reverse.
    let refund = desk.run(
        &[
            "reverse",
            "demo-1001",
            "--manager",
            DEMO_MANAGER,
            "--reason",
            "returned a part",
            "--amount",
            "20.00 EUR",
            "--pin-stdin",
        ],
        DEMO_MANAGER_PIN,
    );
    assert_eq!(refund.code, Some(SUCCESS), "{refund:?}");
    let json = desk.run(
        &[
            "--json",
            "evidence",
            "demo-1001",
            "--manager",
            DEMO_MANAGER,
            "--pin-stdin",
        ],
        DEMO_MANAGER_PIN,
    );
    let doc: Value = serde_json::from_str(&json.stdout).expect("one JSON document");
    let paid = &doc["evidence"]["gateway"]["intents"][0];
    assert_eq!(paid["amount_refunded_minor"], 2000, "{doc}");
    assert_eq!(paid["refunds"].as_array().map(Vec::len), Some(1), "{doc}");
    assert_eq!(
        doc["evidence"]["central"]["reversals"][0]["state"], "succeeded",
        "{doc}"
    );
    let label = doc["evidence"]["allowed_actions"][0]["label"]
        .as_str()
        .unwrap();
    assert!(label.contains("109.00 EUR not refunded yet"), "{label}");

    // Arguments are checked before the PIN is read.
    for args in [
        &[
            "resolve",
            "demo-1001",
            "--action",
            "cancel-open-intent",
            "--reason",
            "x",
        ][..],
        &[
            "resolve",
            "demo-1001",
            "--action",
            "acknowledge",
            "--reason",
            "x",
        ][..],
        &[
            "resolve",
            "demo-1001",
            "--action",
            "acknowledge",
            "--item",
            "flag:1",
            "--intent",
            &intent,
            "--reason",
            "x",
        ][..],
        &[
            "resolve",
            "demo-1001",
            "--action",
            "mark-not-charged",
            "--item",
            "flag:1",
            "--reason",
            "x",
        ][..],
    ] {
        let mut args = args.to_vec();
        args.extend(["--manager", DEMO_MANAGER, "--pin-stdin"]);
        let run = desk.run(&args, DEMO_MANAGER_PIN);
        assert_eq!(run.code, Some(USAGE), "{args:?}: {run:?}");
    }
    // The paid intent cannot be cancelled, and no such item is open: refused by the central.
    let cancel = desk.run(
        &[
            "resolve",
            "demo-1001",
            "--action",
            "cancel-open-intent",
            "--intent",
            &intent,
            "--reason",
            "x",
            "--manager",
            DEMO_MANAGER,
            "--pin-stdin",
        ],
        DEMO_MANAGER_PIN,
    );
    assert_eq!(cancel.code, Some(CONFLICT), "{cancel:?}");
    assert!(cancel.stderr.contains("reverse it instead"), "{cancel:?}");
    let ack = desk.run(
        &[
            "resolve",
            "demo-1001",
            "--action",
            "acknowledge",
            "--item",
            "flag:424242",
            "--reason",
            "x",
            "--manager",
            DEMO_MANAGER,
            "--pin-stdin",
        ],
        DEMO_MANAGER_PIN,
    );
    assert_eq!(ack.code, Some(CONFLICT), "{ack:?}");
    // An operator may not read the evidence.
    let operator = desk.run(
        &[
            "evidence",
            "demo-1001",
            "--manager",
            DEMO_OPERATOR,
            "--pin-stdin",
        ],
        DEMO_OPERATOR_PIN,
    );
    assert_eq!(operator.code, Some(REFUSED), "{operator:?}");
    desk.stack.shutdown().await;
}
